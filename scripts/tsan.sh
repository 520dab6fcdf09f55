#!/usr/bin/env bash
# ThreadSanitizer on the allocation hooks: memslim._core built with -fsanitize=thread, and the
# stress program tests/stress/hooks_stress.py (eight threads allocating with and without the
# GIL while tracking starts and stops, censuses run and children are forked) run against it. A
# data race in memslim's code ends the run with status 66. Called by scripts/test.sh (so by CI).
#
# The interpreter is not instrumented: TSan's runtime is preloaded into it, which also sees the
# GIL (a pthread mutex and condition); its own accesses are not checked, memslim's are.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CYCLES=${MEMSLIM_TSAN_CYCLES:-30}
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%T)"; }

step "memslim._core with ThreadSanitizer, into a private directory"
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
"$PYTHON" -m pip install -q --no-deps --target "$site" . \
  -C cmake.define.MEMSLIM_SANITIZE=thread -C cmake.build-type=RelWithDebInfo \
  -C install.strip=false

step "hooks_stress.py ($CYCLES cycles) under ThreadSanitizer"
# The interpreter itself, not a version manager's shim (a shell script: TSan in the shell).
interpreter=$("$PYTHON" -c 'import sys; print(sys.executable)')
MEMSLIM_SANITIZED=1 LD_PRELOAD="$(gcc -print-file-name=libtsan.so)" \
  TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 \
  PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" \
  "$interpreter" tests/stress/hooks_stress.py "$CYCLES"
