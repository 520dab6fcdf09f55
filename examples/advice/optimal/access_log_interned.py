"""Access log audit, already lean: records are tuples whose repeated fields are interned.
memslim should report no finding."""

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


def log_lines(count, seed=47):
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
    host, method, path = sys.intern(m["host"]), sys.intern(m["method"]), sys.intern(m["path"])
    return int(m["size"]), host, method, path, sys.intern(m["status"])


def main():
    records = [parse_line(line) for line in log_lines(300_000)]
    errors = {}
    for _size, host, _method, _path, status in records:
        if status.startswith("5"):
            errors[host] = errors.get(host, 0) + 1
    worst = max(errors, key=errors.__getitem__)
    api_bytes = sum(size for size, _host, _method, path, _status in records if "/api/" in path)
    print(f"{len(records)} requests, {api_bytes:,} API bytes, worst host {worst}")


if __name__ == "__main__":
    main()
