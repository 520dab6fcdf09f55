#!/usr/bin/env bash
# The README's picture of the HTML report: examples/inventory.py under `memslim run --html`,
# rendered by headless Chromium (Debian: apt-get install chromium) into docs/html-report.png.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$PYTHON" -m memslim run --html "$out/report.html" examples/inventory.py >/dev/null 2>&1
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1250 \
  --user-data-dir="$out/profile" --screenshot="$out/report.png" "file://$out/report.html" \
  >/dev/null 2>&1
mkdir -p docs
cp "$out/report.png" docs/html-report.png
echo "docs/html-report.png"
