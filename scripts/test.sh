#!/usr/bin/env bash
# Installs what the tests need and runs every test: the C++ engine's GoogleTest suite (CTest),
# then the Python package with pytest, on CPython 3.11 and on any 3.12/3.13 pyenv provides,
# both again against an AddressSanitizer + UndefinedBehaviorSanitizer build (sanitize.sh), the
# hooks' stress program against a ThreadSanitizer build (tsan.sh), and libFuzzer on the file
# readers (fuzz.sh; clang comes from Debian, installed like GoogleTest). Chromium (Debian's)
# renders the HTML report in a headless browser test.
# CI (.ci/run) calls exactly this; with CI set, C++ warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
WERROR=OFF
if [ -n "${CI:-}" ]; then WERROR=ON; fi

step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%T)"; }

step "GoogleTest (Debian's libgtest-dev)"
if [ ! -f /usr/include/gtest/gtest.h ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq libgtest-dev >/dev/null
  else
    echo "scripts/test.sh: GoogleTest is missing; install it with: sudo apt-get install libgtest-dev" >&2
    exit 1
  fi
fi

step "Chromium (Debian's), for the HTML report's browser test"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    # Where it cannot be installed, that test says so and is skipped.
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || echo "scripts/test.sh: chromium could not be installed: the browser test will be skipped"
  else
    echo "scripts/test.sh: no chromium (sudo apt-get install chromium): the browser test will be skipped"
  fi
fi

step "C++ engine tests (CTest)"
cmake -S . -B build/cpp-tests -DMEMSLIM_BUILD_TESTS=ON -DMEMSLIM_WERROR="$WERROR" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cpp-tests -j 2
ctest --test-dir build/cpp-tests --output-on-failure

step "Install memslim with its test extras ($("$PYTHON" --version))"
"$PYTHON" -m pip install -q ".[test]" -C cmake.define.MEMSLIM_WERROR="$WERROR"

step "Lint (ruff)"
"$PYTHON" -m ruff check .
"$PYTHON" -m ruff format --check .

# PyArrow beside the test environment, not in it: with PyArrow installed pandas 3 keeps every
# string column in Arrow, and the pandas tests compare with tracemalloc, which does not see
# Arrow's pool. Only the Arrow-string test puts it on its path (MEMSLIM_TEST_PYARROW).
pyarrow_beside() {
  local dir
  dir="$PWD/build/pyarrow-$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages"
  if [ ! -d "$dir/pyarrow" ]; then
    "$1" -m pip install -q --no-deps --target "$dir" "pyarrow>=15" >&2 \
      || echo "scripts/test.sh: PyArrow could not be installed: its test will be skipped" >&2
  fi
  echo "$dir"
}

# pandas 2 beside it too (its text columns are `object`: the `arrow-strings` advice's case), for
# that test only (MEMSLIM_TEST_PANDAS2); NumPy and dateutil are the test environment's. Both in
# a directory named site-packages: memslim tells a library's files from the program's so.
pandas2_beside() {
  local dir
  dir="$PWD/build/pandas2-$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages"
  if [ ! -d "$dir/pandas" ]; then
    "$1" -m pip install -q --no-deps --target "$dir" "pandas>=2.2,<3" pytz >&2 \
      || echo "scripts/test.sh: pandas 2 could not be installed: its test will be skipped" >&2
  fi
  echo "$dir"
}

# Two pytest workers (pytest-xdist, a test extra): most tests wait on a program they run, and
# CI's time limit covers four runs of the suite (3.11, sanitized, 3.12, 3.13). pytest-benchmark,
# where installed, refuses xdist: it is not used here.
PYTEST_WORKERS=(-n 2 -p no:benchmark)

step "Python tests (pytest)"
MEMSLIM_TEST_PYARROW=$(pyarrow_beside "$PYTHON") MEMSLIM_TEST_PANDAS2=$(pandas2_beside "$PYTHON") \
  "$PYTHON" -m pytest "${PYTEST_WORKERS[@]}"

step "Sanitized build: C++ tests and the Python suite under ASan + UBSan"
bash scripts/sanitize.sh "${PYTEST_WORKERS[@]}"

step "ThreadSanitizer: the hooks under stress"
bash scripts/tsan.sh

step "libFuzzer: the file readers"
bash scripts/fuzz.sh

# Other CPython versions, where this machine has them (pyenv).
for minor in 3.12 3.13; do
  other=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$minor".*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$other" ]; then
    step "CPython $minor: not installed here, skipped"
    continue
  fi
  step "Python tests on $("$other" --version)"
  "$other" -m pip install -q ".[test]" -C cmake.define.MEMSLIM_WERROR="$WERROR"
  MEMSLIM_TEST_PYARROW=$(pyarrow_beside "$other") MEMSLIM_TEST_PANDAS2=$(pandas2_beside "$other") \
    "$other" -m pytest -p no:cacheprovider "${PYTEST_WORKERS[@]}"
done

step "Every test passed"
