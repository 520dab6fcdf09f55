"""CDN bandwidth bill: streams a day's response sizes from the edge logs and totals the bits
sent, without keeping the log.

before.py: finding `generator` on the list comprehension passed to sum in bandwidth_bits, a
transient list of 2,000,000 ints that is most of the peak. after.py: a generator expression at
that line.
"""

import random


def response_sizes(count, seed=37):
    """Response sizes in bytes, one per request, as the log reader yields them."""
    rng = random.Random(seed)
    for _ in range(count):
        size = 512 + rng.getrandbits(16)
        if size & 1023 == 0:
            size *= 64  # a video segment
        yield size


def bandwidth_bits(sizes, header_bytes=320):
    return sum((size + header_bytes) * 8 for size in sizes)


def main():
    requests = 2_000_000
    bits = bandwidth_bits(response_sizes(requests))
    print(f"{requests} requests, {bits / 8e9:.3f} GB sent, {bits / 86_400e6:.3f} Mbit/s average")


if __name__ == "__main__":
    main()
