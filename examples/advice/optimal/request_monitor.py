"""Latency monitor, already lean: a rolling window over a stream of 1,500,000 request latencies
kept in a deque, the per-second alert level in array.array. memslim should report no finding."""

import array
import random
from collections import deque


def latencies(count, seed=53):
    """Request latencies in milliseconds, as the load balancer reports them."""
    rng = random.Random(seed)
    for number in range(count):
        slow = 400.0 if number % 250_000 < 5_000 else 0.0  # a brief incident now and then
        yield 20.0 + rng.random() * 60.0 + slow


def monitor(samples, window_size=2_000, per_second=1_000):
    window = deque()
    window_total = 0.0
    per_second_mean = array.array("d")
    alerts = 0
    for number, latency in enumerate(samples, 1):
        window.append(latency)
        window_total += latency
        if len(window) > window_size:
            window_total -= window.popleft()
        if number % per_second == 0:
            mean = window_total / len(window)
            per_second_mean.append(mean)
            alerts += mean > 100.0
    return per_second_mean, alerts


def main():
    per_second_mean, alerts = monitor(latencies(1_500_000))
    worst = max(per_second_mean)
    print(f"{len(per_second_mean)} seconds monitored, {alerts} alerts, worst mean {worst:.2f} ms")


if __name__ == "__main__":
    main()
