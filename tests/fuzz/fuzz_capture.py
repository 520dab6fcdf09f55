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
import struct
import sys
import zlib

import atheris

with atheris.instrument_imports():
    from memslim import capture
    from memslim.report.terminal import report_console


def wrap(payload: bytes) -> bytes:
    header = struct.pack(
        "<8sIIQII", capture.MAGIC, capture.VERSION, 0, len(payload),
        zlib.crc32(payload), 0,
    )  # fmt: skip
    return header + payload


def test_one(data: bytes) -> None:
    if not data:
        return
    body = wrap(data[1:]) if data[0] & 1 else data[1:]
    try:
        found = capture.decode(body)
    except capture.CaptureError as e:
        assert "\n" not in str(e), repr(e)
        return
    console = report_console(io.StringIO())
    # A valid file with odd contents: `memslim report` says so in one line.
    odd = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)
    with contextlib.suppress(*odd):
        capture.print_capture(found, top=5, console=console)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
