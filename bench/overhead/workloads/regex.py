"""Workload: regex. Patterns are compiled, then matched and substituted over generated text.

Text of about 300 KB is generated from a seeded ``random.Random`` (words, numbers, dates,
e-mail-like tokens). Each round clears the ``re`` cache and compiles a set of patterns, then
runs ``findall``, ``finditer`` (with groups) and ``sub`` (with a string and a function
replacement) over the text. The scale is ``BENCH_SCALE`` (default 1.0).
"""

import os
import random
import re

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = max(1, int(25 * SCALE))

PATTERNS = [
    r"\b[a-z]{5,}\b",
    r"\d{4}-\d{2}-\d{2}",
    r"(\w+)@(\w+)\.(org|com|net)",
    r"\b(\d+)\s+(apples|pears|plums)\b",
    r"[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*",
]


def make_text(rng):
    words = ["alpha", "beta", "Gamma", "delta", "Epsilon", "zeta", "eta", "theta", "iota"]
    fruit = ["apples", "pears", "plums"]
    parts = []
    for i in range(40_000):
        kind = rng.randrange(5)
        if kind == 0:
            parts.append(rng.choice(words))
        elif kind == 1:
            parts.append(f"{rng.randrange(100)} {rng.choice(fruit)}")
        elif kind == 2:
            parts.append(f"20{rng.randrange(10, 30)}-{rng.randrange(1, 13):02d}-{i % 28 + 1:02d}")
        elif kind == 3:
            parts.append(f"{rng.choice(words).lower()}{i}@host{i % 7}.org")
        else:
            parts.append(rng.choice(words) + "," if i % 3 else rng.choice(words) + ".")
    return " ".join(parts)


def main():
    text = make_text(random.Random(42))
    total = 0
    for _ in range(ROUNDS):
        re.purge()
        compiled = [re.compile(p) for p in PATTERNS]
        total += len(compiled[0].findall(text))
        total += sum(1 for m in compiled[2].finditer(text) if m.group(3) == "org")
        total += len(compiled[1].sub("<date>", text))
        total += len(compiled[3].sub(lambda m: f"{int(m.group(1)) * 2} {m.group(2)}", text))
        total += len(compiled[4].findall(text))
    print(total)


if __name__ == "__main__":
    main()
