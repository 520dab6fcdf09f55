"""Standard library only: 200k records as dicts, a JSON round trip, a CSV round trip in a
temporary directory, and aggregation with Counter and defaultdict."""

import csv
import json
import os
import random
import tempfile
from collections import Counter, defaultdict

RECORDS = 200_000
SEED = 20251129
FIELDS = ["id", "user", "country", "event", "amount", "tags", "ok"]
COUNTRIES = ["FR", "NO", "PE", "IN", "JP", "AT", "IE", "CH", "BR", "CA"]
EVENTS = ["view", "click", "cart", "buy", "refund"]


def make_records(rng: random.Random) -> list[dict]:
    return [
        {
            "id": i,
            "user": f"user{rng.randrange(25_000):05d}",
            "country": rng.choice(COUNTRIES),
            "event": rng.choice(EVENTS),
            "amount": round(rng.uniform(0.5, 500.0), 2),
            "tags": ";".join(rng.sample(["a", "b", "c", "d", "e", "f"], rng.randrange(1, 4))),
            "ok": rng.random() < 0.97,
        }
        for i in range(RECORDS)
    ]


def main() -> None:
    rng = random.Random(SEED)
    records = make_records(rng)

    text = json.dumps(records)
    records = json.loads(text)

    with tempfile.TemporaryDirectory(prefix="memslim-bench-") as tmp:
        path = os.path.join(tmp, "events.csv")
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(records)
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))

    events = Counter(row["event"] for row in rows)
    tags = Counter(tag for row in rows for tag in row["tags"].split(";"))
    revenue: defaultdict[str, float] = defaultdict(float)
    per_user: defaultdict[str, list[float]] = defaultdict(list)
    for row in rows:
        amount = float(row["amount"])
        if row["event"] == "buy" and row["ok"] == "True":
            revenue[row["country"]] += amount
        per_user[row["user"]].append(amount)
    busiest = max(per_user.items(), key=lambda kv: (len(kv[1]), kv[0]))

    print(
        f"json_csv records={len(rows)} json_mb={len(text) / 1e6:.1f} buys={events['buy']} "
        f"tag_a={tags['a']} top_country={max(revenue, key=revenue.get)} "
        f"revenue={sum(revenue.values()):.2f} users={len(per_user)} busiest={busiest[0]}"
    )


if __name__ == "__main__":
    main()
