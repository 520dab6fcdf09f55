"""What a fork costs the process that forks: the fault it takes on the first write to each of
its pages afterwards, while the child lives (the page is copied) and after it has ended (the
page is only made writable again). A census child is such a fork (docs/design.md, "Censuses in
a forked child").

Usage: python3 bench/census/fork_cost.py [MiB]   (default 256)
"""

from __future__ import annotations

import mmap
import os
import statistics
import sys
import time

PAGE = mmap.PAGESIZE


def _touch(memory: mmap.mmap, size: int) -> float:
    began = time.perf_counter()
    for offset in range(0, size, PAGE):
        memory[offset] = 2
    return time.perf_counter() - began


def main() -> None:
    size = int(sys.argv[1] if len(sys.argv) > 1 else 256) << 20
    pages = size // PAGE
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    _touch(memory, size)  # every page resident and writable
    results: dict[str, list[float]] = {"no fork": [], "child alive": [], "child ended": []}
    forks: list[float] = []
    for _ in range(5):
        results["no fork"].append(_touch(memory, size))
        for case in ("child alive", "child ended"):
            began = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                if case == "child alive":
                    time.sleep(60)  # killed below
                os._exit(0)
            forks.append(time.perf_counter() - began)
            if case == "child ended":
                os.waitpid(pid, 0)
            results[case].append(_touch(memory, size))
            if case == "child alive":
                os.kill(pid, 9)
                os.waitpid(pid, 0)
    print(f"{size >> 20} MiB, {pages} pages of {PAGE} bytes; medians of 5")
    print(f"fork(): {statistics.median(forks) * 1e3:.1f} ms")
    base = statistics.median(results["no fork"])
    for case, times in results.items():
        median = statistics.median(times)
        extra = (median - base) / pages * 1e6
        print(
            f"write one byte per page, {case:11}: {median * 1e3:6.0f} ms ({extra:+.2f} µs a page)"
        )


if __name__ == "__main__":
    main()
