#!/usr/bin/env bash
# The engine's C++ tests (the snapshot reader's fuzzer among them) and the Python test suite
# against an AddressSanitizer + UndefinedBehaviorSanitizer build of memslim._core: an
# out-of-bounds read, a use after free or undefined behaviour in the hooks, the censuses or the
# readers stops the test that caused it. Called by scripts/test.sh (so by CI), on 3.11.
#
# The interpreter is not instrumented: the sanitizers' runtimes are preloaded into it
# (LD_PRELOAD), the sanitized module goes first on PYTHONPATH, and leak detection is off (the
# interpreter keeps what it allocated until exit).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SANITIZE=address,undefined
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%T)"; }

step "C++ engine tests, sanitized ($SANITIZE)"
cmake -S . -B build/cpp-sanitized -DMEMSLIM_BUILD_TESTS=ON -DMEMSLIM_SANITIZE="$SANITIZE" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/cpp-sanitized -j 2
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/cpp-sanitized --output-on-failure

step "memslim._core, sanitized, into a private directory"
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
"$PYTHON" -m pip install -q --no-deps --target "$site" . \
  -C cmake.define.MEMSLIM_SANITIZE="$SANITIZE" -C cmake.build-type=RelWithDebInfo \
  -C install.strip=false

# Left out here: the tests of --patch and --verify, whose subject is Python (a diff, the runs
# it orchestrates) and whose memslim runs are of programs like the advice pairs'. The advice
# pairs stop after before.py's run, and every test where its outside truth begins
# (tests/conftest.outside_truth): the unsanitized runs do the rest. This keeps CI in its limit.
LEFT_OUT=(--ignore=tests/integration/test_patch.py --ignore=tests/integration/test_verify.py)

step "Python tests against the sanitized module"
runtimes="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
# The suite's subprocesses (memslim run, plain python, the compiler of the test extension)
# inherit all of it: each one's own errors end it with status 99, which its test reports. A
# request the allocator cannot meet returns NULL, as without ASan (a failed realloc is tested).
MEMSLIM_SANITIZED=1 LD_PRELOAD="$runtimes" \
  ASAN_OPTIONS=detect_leaks=0:exitcode=99:abort_on_error=0:allocator_may_return_null=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=99 \
  PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" \
  "$PYTHON" -m pytest -q -p no:cacheprovider -x "$@" "${LEFT_OUT[@]}"
