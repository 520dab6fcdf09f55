"""Loyalty statement run: prices a stream of purchases, looking up each customer's profile
through a hand-written memo cache.

before.py: finding `growth` on the module-level dict _memo: customer_profile stores every
customer it has seen, so it only grows (200,500 entries at the end). after.py: the function
decorated with functools.lru_cache(maxsize=1024) and the hand-written cache removed.
"""

import random

TIERS = ("basic", "silver", "gold", "platinum")
_memo = {}


def customer_profile(customer_id):
    if customer_id in _memo:
        return _memo[customer_id]
    # Stands in for a query to the customer database.
    tier = TIERS[customer_id % 4]
    discount = (customer_id % 4) * 2.5 + (customer_id * 2_654_435_761 >> 7) % 5 / 10
    profile = (customer_id, f"C{customer_id:08d}", tier, discount)
    _memo[customer_id] = profile
    return profile


def purchases(count, seed=43):
    """(customer id, amount in cents): a few regulars buy often, most customers once."""
    rng = random.Random(seed)
    for number in range(count):
        regular = number % 5 == 0
        customer_id = 10_000_000 + rng.randrange(500) if regular else 20_000_000 + number
        yield customer_id, rng.randrange(100, 250_000)


def statement_total(count):
    total_cents = 0
    by_tier = dict.fromkeys(TIERS, 0)
    for customer_id, amount in purchases(count):
        _customer_id, _code, tier, discount = customer_profile(customer_id)
        total_cents += round(amount * (100 - discount) / 100)
        by_tier[tier] += 1
    return total_cents, by_tier


def main():
    total_cents, by_tier = statement_total(250_000)
    tiers = ", ".join(f"{tier} {count}" for tier, count in by_tier.items())
    print(f"250000 purchases, charged {total_cents / 100:,.2f} ({tiers})")


if __name__ == "__main__":
    main()
