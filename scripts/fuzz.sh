#!/usr/bin/env bash
# Fuzzing of every file reader memslim has, each for a bounded time (MEMSLIM_FUZZ_SECONDS,
# default 60) from seeds made by tests/fuzz/make_seeds.py: the saved heap snapshot's
# (engine/snapshot_file, tests/fuzz/fuzz_snapshot.cpp) with libFuzzer, built with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer; the capture file's (memslim/capture.py,
# tests/fuzz/fuzz_capture.py) with Atheris, libFuzzer for Python, from a capture of a small
# run. A crash, a sanitizer error, an exception or a broken property fails the run; the input
# that did it is left in build/fuzz/. Needs memslim installed. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SECONDS_TO_RUN=${MEMSLIM_FUZZ_SECONDS:-60}
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%T)"; }

step "clang (Debian's), for libFuzzer"
if ! command -v clang++ >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq clang >/dev/null
  else
    echo "scripts/fuzz.sh: clang is missing; install it with: sudo apt-get install clang" >&2
    exit 1
  fi
fi

step "fuzz_snapshot: build"
out=build/fuzz
rm -rf "$out"
mkdir -p "$out/corpus"
"$PYTHON" tests/fuzz/make_seeds.py "$out/seeds"
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I src/_core tests/fuzz/fuzz_snapshot.cpp src/_core/engine/snapshot_file.cpp \
  -o "$out/fuzz_snapshot"

step "fuzz_snapshot: ${SECONDS_TO_RUN} s"
"$out/fuzz_snapshot" -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=1024 -malloc_limit_mb=512 \
  -artifact_prefix="$out/" -print_final_stats=1 "$out/corpus" "$out/seeds" 2>&1 | tail -n 12

step "fuzz_capture (Atheris): ${SECONDS_TO_RUN} s"
"$PYTHON" -m pip install -q --root-user-action=ignore atheris
printf 'class P:\n    def __init__(self, i):\n        self.i = i\nkept = [P(i) for i in range(50_000)]\n' \
  >"$out/seed_job.py"
"$PYTHON" -m memslim run -o "$out/seed.capture" "$out/seed_job.py" 2>/dev/null
"$PYTHON" tests/fuzz/make_seeds.py "$out/capture-seeds" --capture "$out/seed.capture"
mkdir -p "$out/capture-corpus"
"$PYTHON" tests/fuzz/fuzz_capture.py -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 \
  -artifact_prefix="$out/" -print_final_stats=1 "$out/capture-corpus" "$out/capture-seeds" \
  2>&1 | tail -n 8
