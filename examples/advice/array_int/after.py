"""Click-stream sessions: loads a month of event times in milliseconds, keeps them, splits
them into sessions.

before.py: finding `array` on the list comprehension in load_event_times, a list of 1,200,000
ints (epoch milliseconds, far outside the small-int cache) alive at the peak. after.py:
array.array("q") built from the same values at that line.
"""

import array
import random


def event_offsets(count, seed=29):
    """Milliseconds since the start of the month at which each event arrived."""
    rng = random.Random(seed)
    elapsed = 0
    for _ in range(count):
        if rng.getrandbits(10) == 0:
            elapsed += 1_800_000 + rng.getrandbits(22)  # the user came back later
        else:
            elapsed += 50 + rng.getrandbits(11)
        yield elapsed


def load_event_times(month_start_ms, count):
    times = array.array("q", (month_start_ms + offset for offset in event_offsets(count)))
    return times


def sessions(times, idle_ms=30 * 60 * 1000):
    count = 1
    previous = times[0]
    for now in times:
        if now - previous > idle_ms:
            count += 1
        previous = now
    return count


def main():
    times = load_event_times(1_704_067_200_000, 1_200_000)
    span_hours = (times[-1] - times[0]) / 3_600_000
    print(f"{len(times)} events over {span_hours:.2f} h in {sessions(times)} sessions")


if __name__ == "__main__":
    main()
