"""Eight threading.Thread workers, each building and dropping dicts, lists and strings.

With ``--sequential`` the same eight workers run one after another in the main thread: the
same work and allocations, without threads (the single-thread baseline of issue 11's threads
target, bench/real/threads_ratio.py)."""

import sys
import threading

WORKERS = 8
ROUNDS = 200
BATCH = 1_000


def worker(index: int, results: list[int]) -> None:
    total = 0
    keep: list[dict] = []
    for round_ in range(ROUNDS):
        batch = [
            {"worker": index, "n": i, "name": f"w{index}-r{round_}-{i}", "tags": [i, i * 2]}
            for i in range(BATCH)
        ]
        text = ",".join(item["name"] for item in batch)
        total += len(text) + sum(len(item["tags"]) for item in batch)
        keep.append(batch[round_ % BATCH])
        if len(keep) > 20:
            keep = keep[-10:]
    results[index] = total + len(keep)


def main() -> None:
    results = [0] * WORKERS
    if "--sequential" in sys.argv[1:]:
        for i in range(WORKERS):
            worker(i, results)
        print(f"threads8 workers={WORKERS} total={sum(results)}")
        return
    threads = [
        threading.Thread(target=worker, args=(i, results), name=f"worker-{i}")
        for i in range(WORKERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"threads8 workers={WORKERS} total={sum(results)}")


if __name__ == "__main__":
    main()
