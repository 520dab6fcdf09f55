"""Stress of the allocation hooks: eight threads allocate and free — Python objects with the
GIL, and the raw domain without it (zlib compresses with the GIL released, its buffers from
PyMem_RawMalloc) — while the main thread starts and stops tracking, takes censuses in process
and in forked children, and forks children of its own.

Run by tests/unit/test_hooks_stress.py on the normal build (no crash, no hang, exact totals
after each cycle), and by scripts/tsan.sh against a ThreadSanitizer build of memslim._core,
where a data race in the hooks ends the process with TSan's exit status.

Usage: hooks_stress.py [CYCLES]. Prints "stress ok CYCLES" on success.
"""

import os
import sys
import threading
import zlib

from memslim import _core, _native

CYCLES = int(sys.argv[1]) if len(sys.argv) > 1 else 20
THREADS = 8
stop = threading.Event()
# Cleared while the main thread waits for a census child: memslim runs those at the lowest
# priority (SCHED_BATCH, nice 19), below the workers, which took both cores meanwhile. A child
# that got a few percent of a core made a cycle take minutes under ASan (a CI run timed out
# after 600 s; two runs at once, 38 in 40), where memslim itself never waits for a walking child
# while the program runs.
running = threading.Event()
running.set()
errors: list[BaseException] = []


def worker(index: int) -> None:
    payload = bytes(range(256)) * 256  # 64 KiB
    try:
        while not stop.is_set():
            running.wait()
            batch = [{"i": i, "s": f"{index}-{i}"} for i in range(200)]
            text = ",".join(item["s"] for item in batch)
            packed = zlib.compress(payload + text.encode(), 1)  # GIL released inside
            assert zlib.decompress(packed).startswith(payload[:16])
            del batch, text, packed
    except BaseException as e:  # reported by the main thread
        errors.append(e)


def census() -> None:
    _core.heap_snapshot(3)


def fork_and_wait(census_child: bool) -> None:
    pid = _core.census_fork() if census_child else os.fork()
    if pid == 0:
        code = 0
        try:
            if census_child:
                _core.heap_snapshot(3)
            else:
                kept = [str(i) for i in range(1000)]
                code = 0 if len(kept) == 1000 else 1
        finally:
            os._exit(code)
    if census_child:
        running.clear()  # the fork was made while they ran
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        running.set()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"hooks_stress: a child failed: status {status}")


def main() -> int:
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    try:
        for cycle in range(CYCLES):
            _core.set_census(census, 0.05, 1 << 20)
            _core.start_tracking("sample" if cycle % 4 == 3 else "exact")
            _native.start(native=cycle % 2 == 0)
            held = [str(i) * 3 for i in range(20_000)]  # passes census margins
            fork_and_wait(census_child=cycle % 2 == 1)
            if cycle % 3 == 0:
                census()
            _core.set_census(None)
            _native.stop()
            _core.stop_tracking()
            del held
            if errors:
                raise errors[0]
    finally:
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    print(f"stress ok {CYCLES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
