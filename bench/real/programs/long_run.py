"""A simulated service loop, about 60 s under plain Python on a 2-core machine.

Each request arrives as JSON text, is parsed, and updates a Session object (recent events,
spending, tags) held in a bounded LRU cache keyed by user. Most requests come from a small set
of returning users, the rest from users never seen before: the cache grows for the first 40%
of the run, then evicts its least recently used sessions. Forty times per run a report
aggregates over the cache.

The work is a fixed number of requests, the same under every tool (no wall-clock checks):
MEMSLIM_BENCH_LONG_SECONDS (default 60) times REQUESTS_PER_SECOND, a rate measured under plain
python3 on the reference machine (2 cores, Python 3.11). The cache's capacity scales with the
number of requests, so shorter runs have the same shape.
"""

import json
import os
import random
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

# Calibrated: 3.84M requests took 60-69 s under plain python3 on the reference machine (2 cores,
# one of them often busy with other work).
REQUESTS_PER_SECOND = 64_000
RETURNING_USERS = 5_000
NEW_USER_SHARE = 0.1
FILL_SHARE = 0.4  # the cache is full after this share of the requests
REPORTS = 40  # over the run, each aggregating over the whole cache
SEED = 20251129
KINDS = ["search", "view", "cart", "checkout", "profile", "logout"]


@dataclass(slots=True)
class Event:
    kind: str
    path: str
    millis: int


@dataclass
class Session:
    user: str
    country: str
    events: list[Event] = field(default_factory=list)
    spent: float = 0.0
    tags: set[str] = field(default_factory=set)

    def apply(self, request: dict) -> None:
        self.events.append(Event(request["kind"], request["path"], request["millis"]))
        if len(self.events) > 12:
            del self.events[:4]
        self.spent += request.get("amount", 0.0)
        self.tags.update(request["tags"])


def make_request(rng: random.Random, n: int) -> str:
    if rng.random() < NEW_USER_SHARE:
        user = RETURNING_USERS + n  # a user seen for the first time
    else:
        user = int(rng.paretovariate(1.2) * 100) % RETURNING_USERS  # a few come back often
    kind = rng.choice(KINDS)
    request = {
        "id": n,
        "user": f"u{user:08d}",
        "country": ["FR", "NO", "PE", "IN", "JP", "BR"][user % 6],
        "kind": kind,
        "path": f"/{kind}/{rng.randrange(5_000)}",
        "millis": rng.randrange(1, 900),
        "tags": rng.sample(["new", "ad", "mobile", "beta", "promo", "eu"], 2),
    }
    if kind == "checkout":
        request["amount"] = round(rng.uniform(5, 400), 2)
    return json.dumps(request)


def report(cache: OrderedDict[str, Session]) -> tuple[int, float]:
    kinds = Counter(e.kind for s in cache.values() for e in s.events)
    spent = sum(s.spent for s in cache.values())
    return sum(kinds.values()), spent


def main() -> None:
    seconds = float(os.environ.get("MEMSLIM_BENCH_LONG_SECONDS", "60"))
    requests = max(1, round(REQUESTS_PER_SECOND * seconds))
    capacity = RETURNING_USERS + round(requests * FILL_SHARE * NEW_USER_SHARE)
    report_every = max(1, requests // REPORTS)
    rng = random.Random(SEED)
    cache: OrderedDict[str, Session] = OrderedDict()
    evicted = reports = 0
    events_seen = 0
    spent = 0.0
    for n in range(requests):
        request = json.loads(make_request(rng, n))
        session = cache.get(request["user"])
        if session is None:
            session = Session(request["user"], request["country"])
            cache[session.user] = session
            if len(cache) > capacity:
                cache.popitem(last=False)
                evicted += 1
        else:
            cache.move_to_end(session.user)
        session.apply(request)
        if (n + 1) % report_every == 0:
            events_seen, spent = report(cache)
            reports += 1
    print(
        f"long_run requests={requests} cached={len(cache)} evicted={evicted} "
        f"reports={reports} events={events_seen} spent={spent:.2f}"
    )


if __name__ == "__main__":
    main()
