"""Access log audit: parses web server log lines into records, keeps them, reports the error
rate per host.

before.py: finding `intern` on the return line of parse_line, 300,000 records whose host, method
and status fields are separate str objects with only a few distinct values, alive at the peak.
after.py: those fields wrapped in sys.intern at that line.
"""

import random
import re
import sys

LOG_LINE = re.compile(
    r'(?P<host>\S+) - - \[(?P<time>[^]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1" '
    r"(?P<status>\d{3}) (?P<size>\d+)"
)
METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
PATHS = ("/api/users", "/api/orders", "/api/cart", "/static/app.js", "/login", "/health")
STATUSES = (200, 200, 200, 200, 201, 204, 304, 404, 500, 503)


def log_lines(count, seed=31):
    """Lines in the common log format, as the web servers write them."""
    rng = random.Random(seed)
    requests = [f'"{method} {path} HTTP/1.1"' for method in METHODS for path in PATHS]
    for number in range(count):
        if number % 600 == 0:
            when = f"[01/Jan/2024:{number // 36_000 % 24:02d}:{number // 600 % 60:02d}:00 +0000]"
        host = f"web-{rng.randrange(12):02d}"
        status = rng.choice(STATUSES)
        yield f"{host} - - {when} {rng.choice(requests)} {status} {rng.randrange(200, 90_000)}"


def parse_line(line):
    m = LOG_LINE.match(line)
    return int(m["size"]), sys.intern(m["host"]), sys.intern(m["method"]), sys.intern(m["status"])


def error_rates(records):
    requests = {}
    errors = {}
    for _size, host, _method, status in records:
        requests[host] = requests.get(host, 0) + 1
        if status.startswith("5"):
            errors[host] = errors.get(host, 0) + 1
    return {host: errors.get(host, 0) / requests[host] for host in requests}


def main():
    records = [parse_line(line) for line in log_lines(300_000)]
    rates = error_rates(records)
    worst = max(rates, key=rates.__getitem__)
    posts = sum(1 for record in records if record[2] == "POST")
    sent = sum(record[0] for record in records)
    print(
        f"{len(records)} requests, {posts} POST, {sent:,} bytes sent, {len(rates)} hosts, "
        f"worst {worst} at {rates[worst]:.3%} errors"
    )


if __name__ == "__main__":
    main()
