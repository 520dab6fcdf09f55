"""Workload: json round trips. A mid-size document is dumped to a string and loaded back.

The document (about 2,000 records of nested dicts, lists, strings, ints and floats; about
0.5 MB of JSON) is built once from a seeded ``random.Random``; then each round does
``json.dumps`` and ``json.loads`` and checks the result. The scale is ``BENCH_SCALE``
(default 1.0).
"""

import json
import os
import random

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = max(1, int(100 * SCALE))


def make_document(rng):
    records = []
    for i in range(2_000):
        records.append(
            {
                "id": i,
                "name": f"user{i:05d}",
                "email": f"user{i}@example.org",
                "active": rng.random() < 0.5,
                "score": round(rng.uniform(0, 100), 3),
                "tags": [f"t{rng.randrange(50)}" for _ in range(5)],
                "address": {"street": f"{rng.randrange(999)} Main St", "zip": f"{i:05d}"},
                "history": [rng.randrange(10_000) for _ in range(8)],
            }
        )
    return {"version": 1, "records": records}


def main():
    doc = make_document(random.Random(1234))
    size = 0
    for _ in range(ROUNDS):
        text = json.dumps(doc)
        back = json.loads(text)
        assert back["records"][-1]["id"] == 1_999
        size += len(text)
    print(size)


if __name__ == "__main__":
    main()
