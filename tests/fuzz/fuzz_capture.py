"""Atheris fuzz target for the capture reader (memslim/capture.py), run by scripts/fuzz.sh.

As in fuzz_snapshot.cpp, the first byte of an input picks what the rest is: even, a whole file;
odd, an uncompressed payload wrapped in a valid header and checksum (so that mutations reach
the JSON and the report behind it). Whatever the bytes, decode() either returns a capture whose
report renders (the terminal report of ``memslim report``, into a buffer) or raises
CaptureError with one line. Anything else is a bug.

Usage: fuzz_capture.py [libFuzzer flags] CORPUS_DIR [SEED_DIR]
"""

import contextlib
import io
import sys

import atheris

with atheris.instrument_imports():
    from memslim import capture
    from memslim.report.terminal import report_console


def test_one(data: bytes) -> None:
    if not data:
        return
    body = capture.frame(data[1:], 0) if data[0] & 1 else data[1:]
    try:
        found = capture.decode(body)
    except capture.CaptureError as e:
        assert "\n" not in str(e), repr(e)
        return
    console = report_console(io.StringIO())
    with contextlib.suppress(*capture.ODD_CONTENTS):
        capture.print_capture(found, top=5, console=console)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
