#!/usr/bin/env python3
"""Regenerates the demo data in samples/ (deterministic: same bytes each run).

- access.log.gz: a web server access log (combined format, a few days), with
  a realistic mix of clients: a handful of noisy scanners, many one-off
  visitors, private and loopback addresses, IPv6 clients, X-Forwarded-For.
- cti-data.jsonl: CTI answers for the public addresses of that log, one JSON
  object a line, in the shape of the API's answers (the two real answers
  from tests/fixtures plus synthetic ones), and cache-export records for the
  addresses CrowdSec "does not know" (status not_found).
"""

import gzip
import ipaddress
import json
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from fake_cti import synthetic_answer  # noqa: E402

rng = random.Random(20261204)


def public_v4():
    while True:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if ip.is_global and not ip.is_multicast:
            return str(ip)


def public_v6():
    while True:
        ip = ipaddress.IPv6Address((0x2a01 << 112) | (rng.getrandbits(64) << 32)
                                   | rng.getrandbits(16))
        if ip.is_global:
            return ip.compressed


PATHS = ["/", "/index.html", "/login", "/wp-login.php", "/xmlrpc.php", "/.env",
         "/api/v1/items?page=2", "/static/app.js", "/static/style.css",
         "/cgi-bin/luci/;stok=/locale", "/admin/config.php", "/robots.txt",
         "/search?q=blue+shoes", "/.git/config", "/favicon.ico"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0",
          "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/1.1",
          "Mozilla/5.0 zgrab/0.x", "masscan/1.3"]


def main():
    fixtures = {"185.7.214.104": ROOT / "tests/fixtures/185.7.214.104.json",
                "1.1.1.1": ROOT / "tests/fixtures/1.1.1.1-older-schema.json"}
    scanners = list(fixtures) + [public_v4() for _ in range(8)]
    visitors = [public_v4() for _ in range(120)] + [public_v6() for _ in range(12)]
    private = ["10.0.3.17", "192.168.1.20", "127.0.0.1", "172.16.5.4", "100.64.2.9"]

    lines = []
    t = 1764806400  # 2025-12-04T00:00:00Z
    for _ in range(3000):
        t += rng.randint(1, 90)
        r = rng.random()
        if r < 0.45:
            ip = rng.choice(scanners[:4]) if rng.random() < 0.6 else rng.choice(scanners)
        elif r < 0.9:
            ip = rng.choice(visitors)
        else:
            ip = rng.choice(private)
        path = rng.choice(PATHS)
        status = rng.choice([200, 200, 200, 301, 404, 404, 403, 500])
        size = rng.randint(0, 50000)
        agent = rng.choice(AGENTS)
        stamp = __import__("time").strftime("%d/%b/%Y:%H:%M:%S +0000",
                                            __import__("time").gmtime(t))
        line = f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "-" "{agent}"'
        if ip in private and rng.random() < 0.5:
            # A reverse proxy: the client is in X-Forwarded-For.
            line += f' xff="{rng.choice(visitors)}, {ip}"'
        lines.append(line + "\n")

    with open(HERE / "access.log.gz", "wb") as raw:
        with gzip.GzipFile(filename="access.log", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write("".join(lines).encode())

    seen = []
    for line in lines:
        for token in line.replace(",", " ").replace('"', " ").split():
            try:
                ip = ipaddress.ip_address(token)
            except ValueError:
                continue
            if ip.is_global and str(ip) not in seen:
                seen.append(str(ip))
    with open(HERE / "cti-data.jsonl", "w") as out:
        for i, ip in enumerate(seen):
            if ip in fixtures:
                obj = json.loads(fixtures[ip].read_text())
            elif i % 7 == 3:
                obj = {"ip": ip, "status": "not_found"}
            else:
                obj = synthetic_answer(ip)
            out.write(json.dumps(obj, separators=(",", ":")) + "\n")
    print(f"{len(lines)} lines, {len(seen)} public IPs")


if __name__ == "__main__":
    main()
