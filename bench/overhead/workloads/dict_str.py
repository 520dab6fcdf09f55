"""Workload: dict/str churn. Dicts of formatted strings are built and discarded.

Each round builds a dict of 2,000 f-string keys mapping to f-string values, derives a second
dict from it (upper-cased values, joined keys), and drops both. The scale is ``BENCH_SCALE``
(default 1.0).
"""

import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = max(1, int(500 * SCALE))


def main():
    checksum = 0
    for r in range(ROUNDS):
        d = {f"key-{r}-{i}": f"value {i * r:08d} / {i / 7:.3f}" for i in range(2_000)}
        e = {k + "|" + v[:6]: v.upper() for k, v in d.items() if not k.endswith("7")}
        checksum += len(d) + len(e) + len(",".join(list(e.values())[:50]))
    print(checksum)


if __name__ == "__main__":
    main()
