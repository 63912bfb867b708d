#!/usr/bin/env python3
"""Generate a realistic web access log (Apache/nginx "combined" format).

Python 3 standard library only. Deterministic for a given --seed.

    python3 gen_log.py --mb 500 -o access.log --ips-out ips.txt
    python3 gen_log.py --mb 2000 | cti-enrich ...      # streamed, no disk

The client address of a line is drawn from a pool of --ips public IPv4
addresses, --ipv6 public IPv6 addresses and --private private ones (10/8,
172.16/12, 192.168/16, loopback).  70% of the draws follow a Zipf law over the
public pool (a few heavy hitters, as in real logs), 25% are uniform over it
(so that every pool address does appear in a few-MB log), 5% are private.
User agents carry dotted version numbers ("Chrome/120.0.0.0") that an IPv4
regex matches but a strict address finder must not.

--ips-out writes the public pool (canonical text, one a line), which is what a
warm cache must hold for every public address of the log to be a hit.
"""

import argparse
import bisect
import ipaddress
import itertools
import random
import sys
import time

METHODS = ["GET"] * 90 + ["POST"] * 8 + ["HEAD", "PUT"]
STATUSES = ["200"] * 80 + ["304"] * 6 + ["404"] * 8 + ["301", "302", "403", "500",
                                                      "502", "401"]
PATHS = [
    "/", "/index.html", "/favicon.ico", "/robots.txt", "/sitemap.xml",
    "/wp-login.php", "/wp-admin/admin-ajax.php", "/xmlrpc.php", "/.env",
    "/api/v1/users/{n}", "/api/v1/orders/{n}?expand=items", "/api/v2/search?q=shoes&page={n}",
    "/static/js/app.{n}.js", "/static/css/main.{n}.css", "/images/products/{n}.jpg",
    "/blog/2024/03/how-to-tune-nginx-for-high-traffic", "/blog/page/{n}",
    "/cgi-bin/luci/;stok=/locale", "/login?next=%2Faccount%2Fsettings",
    "/account/settings", "/cart/add?id={n}&qty=1", "/checkout/step/{n}",
    "/assets/fonts/inter-var.woff2", "/healthz", "/metrics",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/products/category/electronics?sort=price_asc&page={n}",
    "/download/release-2.{n}.tar.gz", "/.git/config", "/shell?cd+/tmp",
]
REFERERS = [
    "-", "-", "-", "https://www.google.com/", "https://www.bing.com/search?q=shop",
    "https://example.com/", "https://example.com/blog/page/2",
    "https://duckduckgo.com/", "https://t.co/xYz12AbC", "android-app://com.google.android.gm/",
]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.97",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/1.1",
    "Wget/1.21.4", "zgrab/0.x", "Mozilla/5.0 zgrab/0.x",
    "Apache-HttpClient/4.5.13 (Java/11.0.21)",
]
PRIVATE_SPACES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
# First hextets of public IPv6 allocations (RIPE, ARIN, APNIC, LACNIC).
V6_PREFIXES = [0x2a00, 0x2a01, 0x2a02, 0x2a03, 0x2a05, 0x2a0e, 0x2600, 0x2601,
               0x2602, 0x2604, 0x2605, 0x2607, 0x2400, 0x2401, 0x2402, 0x2404,
               0x2800, 0x2803]

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
          "Nov", "Dec"]


def _public_v4(rng):
    while True:
        a = ipaddress.IPv4Address(rng.getrandbits(32))
        # is_global excludes private, loopback, link-local, CGNAT, documentation,
        # benchmarking, reserved; multicast is "global" to Python, not to us.
        if a.is_global and not a.is_multicast:
            return str(a)


def _public_v6(rng):
    while True:
        hi = rng.choice(V6_PREFIXES)
        words = [hi] + [rng.getrandbits(16) for _ in range(3)]
        # Interface ids: some short (::1, ::25), most random.
        if rng.random() < 0.3:
            words += [0, 0, 0, rng.randint(1, 0x200)]
        else:
            words += [rng.getrandbits(16) for _ in range(4)]
        a = ipaddress.IPv6Address(int("".join("%04x" % w for w in words), 16))
        if a.is_global:
            return str(a)  # canonical (compressed, lower case)


def _private(rng):
    if rng.random() < 0.1:
        return "127.0.0.1"
    net = ipaddress.ip_network(rng.choice(PRIVATE_SPACES))
    return str(net[rng.randrange(1, net.num_addresses - 1)])


def make_pool(seed, n_v4, n_v6, n_priv):
    """(public addresses, private addresses), deterministic for seed."""
    rng = random.Random("pool-%d" % seed)
    public, seen = [], set()
    while len(public) < n_v4:
        ip = _public_v4(rng)
        if ip not in seen:
            seen.add(ip)
            public.append(ip)
    while len(public) < n_v4 + n_v6:
        ip = _public_v6(rng)
        if ip not in seen:
            seen.add(ip)
            public.append(ip)
    rng.shuffle(public)  # IPv6 addresses get ranks all over the Zipf law
    private = sorted({_private(rng) for _ in range(n_priv)})
    return public, private


def generate(out, limit_bytes, seed, public, private, zipf_s=1.0, batch=4096):
    """Write lines to the binary stream out until limit_bytes (0: forever)."""
    rng = random.Random("lines-%d" % seed)
    n = len(public)
    cum = list(itertools.accumulate(1.0 / (r + 1) ** zipf_s for r in range(n)))
    total = cum[-1]
    t = int(time.mktime((2024, 3, 1, 0, 0, 0, 0, 0, 0)))
    written = 0
    stamp_cache = {}
    while not limit_bytes or written < limit_bytes:
        parts = []
        for _ in range(batch):
            r = rng.random()
            if r < 0.70:
                ip = public[bisect.bisect_left(cum, rng.random() * total)]
            elif r < 0.95:
                ip = public[rng.randrange(n)]
            else:
                ip = rng.choice(private)
            if rng.random() < 0.02:
                t += 1
            ts = stamp_cache.get(t)
            if ts is None:
                tm = time.gmtime(t)
                ts = "%02d/%s/%d:%02d:%02d:%02d +0000" % (
                    tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year, tm.tm_hour,
                    tm.tm_min, tm.tm_sec)
                stamp_cache = {t: ts}
            path = rng.choice(PATHS)
            if "{n}" in path:
                path = path.replace("{n}", str(rng.randint(1, 99999)))
            status = rng.choice(STATUSES)
            size = "-" if status == "304" else str(rng.randint(120, 250000))
            parts.append('%s - - [%s] "%s %s HTTP/1.1" %s %s "%s" "%s"\n' % (
                ip, ts, rng.choice(METHODS), path, status, size,
                rng.choice(REFERERS), rng.choice(AGENTS)))
        data = "".join(parts).encode("ascii")
        if limit_bytes and written + len(data) > limit_bytes:
            cut = data.rfind(b"\n", 0, limit_bytes - written) + 1
            data = data[:cut] if cut > 0 else data[:0]
            if not data:
                break
        try:
            out.write(data)
        except BrokenPipeError:
            break
        written += len(data)
    try:
        out.flush()
    except BrokenPipeError:
        pass
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=500,
                    help="size in MB (10^6 bytes); 0 = endless [500]")
    ap.add_argument("--ips", type=int, default=20000, help="public IPv4 pool [20000]")
    ap.add_argument("--ipv6", type=int, default=1000, help="public IPv6 pool [1000]")
    ap.add_argument("--private", type=int, default=500, help="private pool [500]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent [1.0]")
    ap.add_argument("-o", "--output", default="-", help="output file [stdout]")
    ap.add_argument("--ips-out", help="write the public pool here, one a line")
    ap.add_argument("--no-log", action="store_true", help="only write --ips-out")
    a = ap.parse_args(argv)

    public, private = make_pool(a.seed, a.ips, a.ipv6, a.private)
    if a.ips_out:
        with open(a.ips_out, "w") as f:
            f.write("".join(ip + "\n" for ip in public))
    if a.no_log:
        return 0
    limit = int(a.mb * 1e6)
    if a.output == "-":
        generate(sys.stdout.buffer, limit, a.seed, public, private, a.zipf)
    else:
        with open(a.output, "wb", buffering=1 << 20) as f:
            generate(f, limit, a.seed, public, private, a.zipf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
