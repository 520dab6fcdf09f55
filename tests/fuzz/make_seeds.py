"""Seed inputs for the fuzz targets, as a whole file (first byte 0) and as a payload (first
byte 1): for fuzz_snapshot.cpp a small valid snapshot in the format of
src/_core/engine/snapshot_file.h; with --capture CAPTURE_FILE, for fuzz_capture.py, that
capture (written by `memslim run -o`).
Usage: make_seeds.py DIR [--capture CAPTURE_FILE]"""

import struct
import sys
import zlib
from pathlib import Path

NO_TYPE = 0xFFFFFFFF


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def payload() -> bytes:
    names = [b"list", b"str", b"app.Order"]
    node_type = [NO_TYPE, 0, 1, 2, 1]
    node_size = [0, 88, 53, 72, 60]
    edge_begin = [0, 1, 4, 4, 5, 5]
    edge_target = [1, 2, 3, 4, 4]
    out = struct.pack("<Q", len(names))
    for name in names:
        out += struct.pack("<I", len(name)) + name
    out += struct.pack("<Q", len(node_type))
    out += struct.pack(f"<{len(node_type)}I", *node_type)
    out += struct.pack(f"<{len(node_size)}Q", *node_size)
    out += struct.pack(f"<{len(edge_begin)}I", *edge_begin)
    out += struct.pack("<Q", len(edge_target))
    out += struct.pack(f"<{len(edge_target)}I", *edge_target)
    return out


def main() -> None:
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    if len(sys.argv) == 4 and sys.argv[2] == "--capture":
        data = Path(sys.argv[3]).read_bytes()
        (folder / "file").write_bytes(b"\0" + data)
        # The payload uncompressed (the header is 32 bytes; captures are compressed).
        (folder / "payload").write_bytes(b"\1" + zlib.decompress(data[32:]))
        return
    body = payload()
    header = b"MSLMHEAP" + struct.pack("<IIQQ", 1, 0, len(body), fnv1a64(body))
    (folder / "file").write_bytes(b"\0" + header + body)
    (folder / "payload").write_bytes(b"\1" + body)


if __name__ == "__main__":
    main()
