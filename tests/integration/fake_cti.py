#!/usr/bin/env python3
"""A fake CrowdSec CTI API for the integration tests of cti-enrich.

Python 3 standard library only.  Runnable as a script::

    python3 fake_cti.py [--host 127.0.0.1] [--port 0] [--key test-key]
                        [--premium] [--fixtures DIR] [--delay-ms N]

It prints ``PORT <n>`` as its first stdout line, then serves until SIGTERM or
SIGINT.  It is also importable (``synthetic_answer``, ``parse_behaviour``,
``make_server``).

API endpoints (all need the header ``x-api-key: <key>``, else 403):

* ``GET /v2/smoke/<ip>``          one CTI object (IPv4 or IPv6, raw or %-encoded)
* ``GET /v2/smoke?ips=a,b,c``     batch, premium only; commas raw or ``%2C``

Each lookup gets a *behaviour* (see ``BEHAVIOURS``): a per-IP rule if one is set
(the n-th lookup of that IP, 0-based, gets ``rules[ip][min(n, len - 1)]``), else
the global pattern if set (``pattern[k % len]`` where k is the 0-based number of
this authorised smoke call, single or batch), else ``"ok"``.  "ok" serves
``<fixtures>/<ip>.json`` (or ``<fixtures>/<ip>-*.json``) byte for byte, else a
control-supplied answer, else ``synthetic_answer(ip)``.

Control endpoints (no auth, JSON in and out):

* ``GET  /_stats``    counters (see ``State.stats``)
* ``POST /_control``  merge configuration (see ``State.apply_control``)
* ``POST /_reset``    clear the counters and restore the start-up configuration;
                      body ``{"keep_config": true}`` clears the counters only.
"""

import argparse
import collections
import datetime
import hashlib
import ipaddress
import itertools
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["BEHAVIOURS", "parse_behaviour", "synthetic_answer", "State",
           "FakeCTIServer", "make_server", "main"]

# --------------------------------------------------------------------------
# Behaviours
# --------------------------------------------------------------------------

#: Every behaviour name, with what it does.  "name:N" forms take an integer.
BEHAVIOURS = {
    "ok": "200 with the fixture / configured answer / synthetic answer",
    "nulls": "200 with the synthetic answer, every scalar but 'ip' set to null",
    "minimal": "200 with {\"ip\": ip} only (every other key missing)",
    "not_found": "404 {\"message\": \"IP address information not found\"}",
    "bad_request": "400 {\"message\": \"Invalid IP address\"}",
    "forbidden": "403 {\"message\": \"Forbidden\"}",
    "limit": "429 {\"message\": \"Limit Exceeded\"} (quota spent)",
    "throttle": "429 {\"message\": \"Too Many Requests\"} (burst throttle)",
    "throttle_ra:N": "throttle plus the header 'Retry-After: N'",
    "errorNNN": "status NNN (400-599) with an HTML body, e.g. error503",
    "html200": "200 with an HTML page, Content-Type text/html",
    "garbage200": "200 application/json with the answer truncated in half",
    "empty200": "200 application/json with an empty body",
    "huge": "200 with a ~10 MiB JSON object (one 10 MiB string member)",
    "hang": "read the request, never answer (up to 60 s or client close)",
    "close_mid_body": "full Content-Length, half the body, then close",
    "drip": "headers, then the body one byte per second",
    "drip:MS": "drip with one byte every MS milliseconds",
    "reset": "no answer; close with SO_LINGER {1,0} (TCP RST)",
}

# Behaviours that, inside a batch call, stay per item (the item is included, or
# for not_found, left out).  Any other behaviour of any listed IP applies to the
# whole batch call (the first one in request order wins).
_ITEM_OK = ("ok", "nulls", "minimal")
_ITEM_LEVEL = _ITEM_OK + ("not_found",)

_SIMPLE = {"ok", "nulls", "minimal", "not_found", "bad_request", "forbidden",
           "limit", "throttle", "html200", "garbage200", "empty200", "huge",
           "hang", "close_mid_body", "drip", "reset"}

HUGE_STRING_LEN = 10 * 1024 * 1024
HANG_MAX_SECONDS = 60.0
MAX_BATCH = 100


def parse_behaviour(text):
    """Validate a behaviour string; return (name, int argument or None).

    Raises ValueError for anything unknown, so a typo in a test's rules is
    reported by /_control instead of silently acting as something else.
    """
    if not isinstance(text, str):
        raise ValueError("behaviour must be a string: %r" % (text,))
    if text in _SIMPLE:
        return text, None
    m = re.fullmatch(r"error([45]\d\d)", text)
    if m:
        return "error", int(m.group(1))
    m = re.fullmatch(r"(throttle_ra|drip):(\d+)", text)
    if m:
        return m.group(1), int(m.group(2))
    raise ValueError("unknown behaviour %r (known: %s)"
                     % (text, ", ".join(sorted(BEHAVIOURS))))


# --------------------------------------------------------------------------
# Synthetic answers
# --------------------------------------------------------------------------

_REPUTATIONS = ("malicious", "suspicious", "known", "safe", "benign")
_CONFIDENCES = ("high", "medium", "low")
_NOISE = ("none", "low", "medium", "high")
# Some AS names hold spaces, a comma, double quotes or non-ASCII on purpose so
# that every output format's quoting gets exercised.
_AS_NAMES = ("AS-CHOOPA", "AS-HETZNER", "AS-OVH", "AS-LINODE",
             "Example Hosting Ltd", "Chang Way Technologies Co. Limited",
             "DigitalOcean, LLC", 'Acme "Cloud" Services',
             "Société Réseaux Ouverts SAS", "Tiny ISP Inc.")
_COUNTRIES = ("US", "DE", "FR", "NL", "RU", "CN", "GB", "BR", "IN", "SG",
              "JP", "CA")
_BEHAVIOUR_LIST = (
    ("http:scan", "HTTP Scan", "IP has been reported for performing actions "
     "related to HTTP vulnerability scanning and discovery."),
    ("http:exploit", "HTTP Exploit", "IP has been reported for attempting to "
     "exploit a vulnerability in a web application."),
    ("http:bruteforce", "HTTP Bruteforce", "IP has been reported for "
     "performing a HTTP brute force attack."),
    ("ssh:bruteforce", "SSH Bruteforce", "IP has been reported for performing "
     "brute force on ssh services."),
    ("tcp:scan", "TCP Scan", "IP has been reported for performing TCP port "
     "scanning."),
    ("generic:exploit", "Exploitation attempt", "IP has been reported trying "
     "to exploit known vulnerability/CVE on unspecified protocols."),
)
_CLASSIFICATIONS = (
    ("community-blocklist", "CrowdSec Community Blocklist",
     "IP belongs to the CrowdSec Community Blocklist"),
    ("proxy:vpn", "VPN", "IP exposes a VPN service or is being flagged as one."),
    ("profile:likely_botnet", "Likely Botnet",
     "IP appears to be a part of a botnet."),
)
_SCENARIOS = (
    ("crowdsecurity/http-probing", "HTTP Probing",
     "Detect site scanning/probing from a single ip"),
    ("crowdsecurity/ssh-bf", "SSH Bruteforce", "Detect ssh brute force"),
    ("crowdsecurity/http-cve-2021-41773", "CVE-2021-41773", "cve-2021-41773"),
    ("crowdsecurity/http-bad-user-agent", "Known Bad User-Agent",
     "Detect bad user-agents"),
)
_MITRE = (
    ("T1190", "Exploit Public-Facing Application",
     "Adversaries may attempt to exploit a weakness in an Internet-facing host."),
    ("T1110", "Brute Force",
     "Adversaries may use brute force techniques to gain access to accounts."),
    ("T1595", "Active Scanning",
     "Adversaries may execute active reconnaissance scans."),
)
_CVES = ("CVE-2021-41773", "CVE-2018-20062", "CVE-2023-22515", "CVE-2017-9841")


def _ip_range(ip):
    """The /24 (IPv4) or /64 (IPv6) around ip, or None if ip is not an IP."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network("%s/%d" % (addr, prefix), strict=False))


def synthetic_answer(ip):
    """A deterministic, realistic CTI object for ip (seeded by sha256(ip))."""
    rng = random.Random(int.from_bytes(
        hashlib.sha256(ip.encode("utf-8")).digest(), "big"))

    def pick(items, lo, hi):
        return rng.sample(items, rng.randint(lo, hi))

    def entry(item, refs=True):
        d = {"name": item[0], "label": item[1], "description": item[2]}
        if refs:
            d["references"] = []
        return d

    def score():
        return {k: rng.randint(0, 5)
                for k in ("aggressiveness", "threat", "trust", "anomaly",
                          "total")}

    noise_score = rng.randint(0, 10)
    full_age = rng.randint(1, 900)
    days_age = rng.randint(1, full_age)
    last_seen = (datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
                 + datetime.timedelta(hours=rng.randint(0, 24 * 365)))
    first_seen = last_seen - datetime.timedelta(days=full_age)
    rng_range = _ip_range(ip)
    is_v4 = rng_range is not None and ":" not in rng_range
    countries = rng.sample(_COUNTRIES, rng.randint(2, 4))
    shares = sorted((rng.randint(1, 60) for _ in countries), reverse=True)
    return {
        "ip": ip,
        "reputation": rng.choice(_REPUTATIONS),
        "confidence": rng.choice(_CONFIDENCES),
        "ip_range": rng_range,
        "ip_range_score": rng.randint(0, 5),
        "ip_range_24": rng_range if is_v4 else None,
        "ip_range_24_reputation": rng.choice(_REPUTATIONS) if is_v4 else None,
        "ip_range_24_score": rng.randint(0, 5) if is_v4 else None,
        "background_noise": _NOISE[min(noise_score // 3, 3)],
        "background_noise_score": noise_score,
        "as_name": rng.choice(_AS_NAMES),
        "as_num": rng.randint(1000, 400000),
        "location": {
            "country": countries[0],
            "city": None,
            "latitude": round(rng.uniform(-60, 70), 4),
            "longitude": round(rng.uniform(-180, 180), 4),
        },
        "reverse_dns": (None if rng.random() < 0.5 else
                        "host-%d.example.net" % rng.randint(1, 9999)),
        "behaviors": [entry(b) for b in pick(_BEHAVIOUR_LIST, 1, 3)],
        "history": {
            "first_seen": first_seen.isoformat(),
            "last_seen": last_seen.isoformat(),
            "full_age": full_age,
            "days_age": days_age,
        },
        "classifications": {
            "false_positives": [],
            "classifications": [entry(c, refs=False)
                                for c in pick(_CLASSIFICATIONS, 0, 2)],
        },
        "attack_details": [entry(s) for s in pick(_SCENARIOS, 1, 3)],
        "target_countries": dict(zip(countries, shares)),
        "mitre_techniques": [entry(m) for m in pick(_MITRE, 0, 2)],
        "cves": pick(_CVES, 0, 2),
        "scores": {k: score()
                   for k in ("overall", "last_day", "last_week", "last_month")},
        "references": [],
    }


def _nullify(value, keep_ip=True):
    """value with every scalar replaced by None (the 'ip' key is kept)."""
    if isinstance(value, dict):
        return {k: (v if keep_ip and k == "ip" else _nullify(v, False))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_nullify(v, False) for v in value]
    return None


# --------------------------------------------------------------------------
# Shared state
# --------------------------------------------------------------------------

class State:
    """Configuration and counters, shared by all handler threads (locked)."""

    def __init__(self, key="test-key", premium=False, fixtures=None,
                 delay_ms=0):
        self.lock = threading.Lock()
        self.fixtures = Path(fixtures) if fixtures else None
        self._startup = {"key": key, "premium": bool(premium),
                         "delay_ms": int(delay_ms)}
        self._conn_ids = itertools.count(1)
        self._restore_config()
        self._clear_stats()

    # -- configuration -----------------------------------------------------

    def _restore_config(self):
        self.key = self._startup["key"]
        self.premium = self._startup["premium"]
        self.delay_ms = self._startup["delay_ms"]
        self.rules = {}          # ip -> [behaviour, ...]
        self.pattern = None      # [behaviour, ...] or None
        self.ip_delay_ms = {}    # ip -> ms
        self.answers = {}        # ip -> bytes served for "ok"

    def config(self):
        return {"key": self.key, "premium": self.premium,
                "delay_ms": self.delay_ms, "rules": self.rules,
                "pattern": self.pattern, "ip_delay_ms": self.ip_delay_ms,
                "answers": sorted(self.answers)}

    def apply_control(self, body):
        """Merge a /_control JSON object into the configuration.

        Keys (all optional):
          rules        {ip: [behaviour, ...] | behaviour | null}  merged per IP;
                       null removes the IP's rule
          pattern      [behaviour, ...] | null
          delay_ms     int, global delay before answering each /v2 request
          ip_delay_ms  {ip: ms}, merged; added to delay_ms (max over a batch)
          answers      {ip: object | string | null}: what "ok" serves for ip
                       instead of the fixture / synthetic answer (a string is
                       served raw); null removes
          premium      bool
          key          str
        Raises ValueError (reported as 400) on any invalid value; nothing is
        applied then.
        """
        if not isinstance(body, dict):
            raise ValueError("control body must be a JSON object")
        unknown = set(body) - {"rules", "pattern", "delay_ms", "ip_delay_ms",
                               "answers", "premium", "key"}
        if unknown:
            raise ValueError("unknown control keys: %s" % sorted(unknown))
        rules = {}
        for ip, seq in (body.get("rules") or {}).items():
            if seq is not None:
                seq = [seq] if isinstance(seq, str) else list(seq)
                if not seq:
                    raise ValueError("empty rule list for %s" % ip)
                for b in seq:
                    parse_behaviour(b)
            rules[ip] = seq
        pattern = body.get("pattern")
        if pattern is not None:
            pattern = [pattern] if isinstance(pattern, str) else list(pattern)
            if not pattern:
                raise ValueError("empty pattern (use null to clear it)")
            for b in pattern:
                parse_behaviour(b)
        answers = {}
        for ip, ans in (body.get("answers") or {}).items():
            if ans is None or isinstance(ans, str):
                answers[ip] = None if ans is None else ans.encode("utf-8")
            else:
                answers[ip] = json.dumps(ans).encode("utf-8")
        ip_delay = {ip: int(ms) for ip, ms in
                    (body.get("ip_delay_ms") or {}).items()}
        with self.lock:
            for ip, seq in rules.items():
                if seq is None:
                    self.rules.pop(ip, None)
                else:
                    self.rules[ip] = seq
            if "pattern" in body:
                self.pattern = pattern
            for ip, ans in answers.items():
                if ans is None:
                    self.answers.pop(ip, None)
                else:
                    self.answers[ip] = ans
            self.ip_delay_ms.update(ip_delay)
            if "delay_ms" in body:
                self.delay_ms = int(body["delay_ms"])
            if "premium" in body:
                self.premium = bool(body["premium"])
            if "key" in body:
                self.key = str(body["key"])
            return self.config()

    # -- counters ----------------------------------------------------------

    def _clear_stats(self):
        self.total = 0            # HTTP requests to /v2/*
        self.lookups = 0          # IPs looked up (single + batch items)
        self.smoke_calls = 0      # authorised smoke calls (pattern index)
        self.per_ip = collections.Counter()
        self.batch_calls = 0
        self.per_conn = {}        # connection id -> /v2 requests
        self.in_flight = 0
        self.in_flight_max = 0
        self.paths = collections.deque(maxlen=1000)
        self.user_agents = set()
        self.keys_seen_ok = 0
        self.keys_seen_bad = 0
        self.statuses = collections.Counter()

    def reset(self, keep_config=False):
        with self.lock:
            self._clear_stats()
            if not keep_config:
                self._restore_config()

    def new_connection_id(self):
        with self.lock:
            return next(self._conn_ids)

    def stats(self):
        with self.lock:
            return {
                "total": self.total,
                "lookups": self.lookups,
                "per_ip": dict(self.per_ip),
                "batch_calls": self.batch_calls,
                "connections": len(self.per_conn),
                "requests_per_connection": list(self.per_conn.values()),
                "in_flight": self.in_flight,
                "in_flight_max": self.in_flight_max,
                "paths": list(self.paths),
                "user_agents": sorted(self.user_agents),
                "keys_seen_ok": self.keys_seen_ok,
                "keys_seen_bad": self.keys_seen_bad,
                "statuses": dict(self.statuses),
                "config": self.config(),
            }

    def begin_request(self, conn_id, path, user_agent, api_key):
        """Count one /v2 request; return True if its key is accepted."""
        with self.lock:
            self.total += 1
            self.per_conn[conn_id] = self.per_conn.get(conn_id, 0) + 1
            self.in_flight += 1
            self.in_flight_max = max(self.in_flight_max, self.in_flight)
            self.paths.append(path)
            if user_agent is not None:
                self.user_agents.add(user_agent)
            ok = api_key is not None and api_key == self.key
            if ok:
                self.keys_seen_ok += 1
            else:
                self.keys_seen_bad += 1
            return ok

    def end_request(self, outcome):
        with self.lock:
            self.in_flight -= 1
            self.statuses[str(outcome)] += 1

    def count_ip(self, ip):
        """Count a lookup of ip; return how many came before (0-based n)."""
        with self.lock:
            n = self.per_ip[ip]
            self.per_ip[ip] += 1
            self.lookups += 1
            return n

    def choose(self, ips_with_n):
        """Pick the behaviour of each (ip, n) of one authorised smoke call."""
        with self.lock:
            k = self.smoke_calls
            self.smoke_calls += 1
            chosen = []
            for ip, n in ips_with_n:
                seq = self.rules.get(ip)
                if seq:
                    chosen.append(seq[min(n, len(seq) - 1)])
                elif self.pattern:
                    chosen.append(self.pattern[k % len(self.pattern)])
                else:
                    chosen.append("ok")
            return chosen

    def delay_for(self, ips):
        with self.lock:
            extra = max((self.ip_delay_ms.get(ip, 0) for ip in ips), default=0)
            return (self.delay_ms + extra) / 1000.0

    # -- answers -----------------------------------------------------------

    def answer_bytes(self, ip):
        """The body "ok" serves for ip: configured, fixture, else synthetic."""
        with self.lock:
            configured = self.answers.get(ip)
        if configured is not None:
            return configured
        if self.fixtures is not None and "/" not in ip and ip not in ("", ".", ".."):
            exact = self.fixtures / (ip + ".json")
            candidates = [exact] if exact.is_file() else sorted(
                self.fixtures.glob(_glob_escape(ip) + "-*.json"))
            for path in candidates:
                try:
                    return path.read_bytes()
                except OSError:
                    pass
        return json.dumps(synthetic_answer(ip), indent=2).encode("utf-8")


def _glob_escape(text):
    return re.sub(r"([*?\[])", r"[\1]", text)


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

_JSON = "application/json"
_MSG_FORBIDDEN = {"message": "Forbidden"}


def _json_body(obj):
    return json.dumps(obj).encode("utf-8")


def _html_page(status, title):
    return ("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
            "<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n" % (status, title, status, title)
            ).encode("ascii")


class Handler(BaseHTTPRequestHandler):
    """One instance per TCP connection; handles its keep-alive requests."""

    protocol_version = "HTTP/1.1"
    server_version = "fake-cti/1.0"
    timeout = 120  # idle keep-alive connections are dropped after this
    # Headers and body go out in two send() calls; with Nagle's algorithm a
    # kept-alive connection would hold the body until the client's delayed
    # ACK (~40 ms), which no real front end adds.
    disable_nagle_algorithm = True

    # -- plumbing ----------------------------------------------------------

    def setup(self):
        super().setup()
        self.conn_id = self.server.state.new_connection_id()

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            # The client went away (BrokenPipe, ConnectionReset...): not news.
            self.close_connection = True

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass  # quiet

    def send(self, status, body, content_type=_JSON, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_json_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        return json.loads(raw.decode("utf-8")) if raw.strip() else {}

    # -- routing -----------------------------------------------------------

    def do_GET(self):
        split = urllib.parse.urlsplit(self.path)
        if split.path == "/_stats":
            self.send(200, _json_body(self.server.state.stats()))
        elif split.path.startswith("/v2/") or split.path == "/v2":
            self.handle_api(split)
        else:
            self.send(404, _json_body({"message": "Not Found"}))

    def do_POST(self):
        state = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self.read_json_body()
            if path == "/_control":
                self.send(200, _json_body(state.apply_control(body)))
            elif path == "/_reset":
                state.reset(keep_config=bool(
                    isinstance(body, dict) and body.get("keep_config")))
                self.send(200, _json_body({"reset": True}))
            elif path.startswith("/v2"):
                self.send(405, _json_body({"message": "Method Not Allowed"}))
            else:
                self.send(404, _json_body({"message": "Not Found"}))
        except (ValueError, TypeError) as exc:
            self.send(400, _json_body({"message": str(exc)}))

    # -- the API -----------------------------------------------------------

    def handle_api(self, split):
        state = self.server.state
        authorised = state.begin_request(
            self.conn_id, self.path, self.headers.get("User-Agent"),
            self.headers.get("x-api-key"))
        self.stats_settled = False
        outcome = "error"
        try:
            outcome = self.serve_api(split, authorised)
        finally:
            self.settle_stats(outcome)

    def settle_stats(self, outcome):
        """End the request in the stats (once).  Called just before the
        client can see the end of the answer, so that a client that reads
        /_stats right after its answer always finds it counted."""
        if not self.stats_settled:
            self.stats_settled = True
            self.server.state.end_request(outcome)

    def serve_api(self, split, authorised):
        """Answer one /v2 request; return its outcome label for the stats."""
        state = self.server.state
        path = urllib.parse.unquote(split.path)
        single = path.startswith("/v2/smoke/")
        ip = path[len("/v2/smoke/"):] if single else None
        if single:
            # Single lookups are counted per IP even when the key is refused.
            n = state.count_ip(ip)
        if not authorised:
            return self.reply(403, _json_body(_MSG_FORBIDDEN), [ip] if ip else [])
        if single:
            if not _valid_ip(ip):
                return self.reply(400, _json_body(
                    {"message": "Invalid IP address"}), [ip])
            behaviour = state.choose([(ip, n)])[0]
            return self.perform(behaviour, [ip], single=True)
        if path.rstrip("/") == "/v2/smoke":
            return self.serve_batch(split.query)
        return self.reply(404, _json_body({"message": "Not Found"}), [])

    def serve_batch(self, query):
        state = self.server.state
        with state.lock:
            premium = state.premium
        if not premium:
            return self.reply(403, _json_body(_MSG_FORBIDDEN), [])
        values = urllib.parse.parse_qs(query).get("ips")
        ips = [p.strip() for v in (values or []) for p in v.split(",")]
        ips = [p for p in ips if p]
        if not ips:
            return self.reply(400, _json_body(
                {"message": "missing 'ips' parameter"}), [])
        if len(ips) > MAX_BATCH:
            return self.reply(400, _json_body(
                {"message": "too many IPs (max %d)" % MAX_BATCH}), [])
        bad = [p for p in ips if not _valid_ip(p)]
        if bad:
            return self.reply(400, _json_body(
                {"message": "Invalid IP address: %s" % bad[0]}), [])
        with state.lock:
            state.batch_calls += 1
        behaviours = state.choose([(ip, state.count_ip(ip)) for ip in ips])
        return self.perform_batch(ips, behaviours)

    def perform_batch(self, ips, behaviours):
        unique = list(dict.fromkeys(ips))
        per_ip = dict(zip(ips, behaviours))  # later duplicates win; rare
        fault = next((b for b in behaviours
                      if parse_behaviour(b)[0] not in _ITEM_LEVEL), None)
        items = []
        for ip in unique:
            name = parse_behaviour(per_ip[ip])[0]
            if fault is None and name == "not_found":
                continue
            items.append(json.loads(self.ok_body(ip, name if name in _ITEM_OK
                                                 else "ok")))
        answer = {"total": len(unique), "not_found": len(unique) - len(items),
                  "items": items}
        body = json.dumps(answer).encode("utf-8")
        return self.perform(fault or "ok", ips, single=False, ok_body=body)

    def ok_body(self, ip, name):
        """The 200 body of an ok-like behaviour for a single IP."""
        state = self.server.state
        if name == "minimal":
            return _json_body({"ip": ip})
        if name == "nulls":
            return _json_body(_nullify(synthetic_answer(ip)))
        return state.answer_bytes(ip)

    def reply(self, status, body, ips, content_type=_JSON, headers=()):
        """Wait for the configured delay, then send a complete response."""
        self.sleep_delay(ips)
        self.settle_stats(status)
        self.send(status, body, content_type, headers)
        return status

    def sleep_delay(self, ips):
        delay = self.server.state.delay_for(ips)
        if delay > 0:
            time.sleep(delay)

    def perform(self, behaviour, ips, single, ok_body=None):
        """Carry out one behaviour; return the outcome label."""
        name, arg = parse_behaviour(behaviour)
        ip = ips[0]
        if ok_body is None and single:
            ok_body = self.ok_body(ip, name if name in _ITEM_OK else "ok")

        if name in _ITEM_OK:
            return self.reply(200, ok_body, ips)
        if name == "not_found":
            return self.reply(404, _json_body(
                {"message": "IP address information not found"}), ips)
        if name == "bad_request":
            return self.reply(400, _json_body(
                {"message": "Invalid IP address"}), ips)
        if name == "forbidden":
            return self.reply(403, _json_body(_MSG_FORBIDDEN), ips)
        if name == "limit":
            return self.reply(429, _json_body({"message": "Limit Exceeded"}), ips)
        if name in ("throttle", "throttle_ra"):
            headers = [("Retry-After", str(arg))] if arg is not None else []
            return self.reply(429, _json_body(
                {"message": "Too Many Requests"}), ips, headers=headers)
        if name == "error":
            title = {500: "Internal Server Error", 502: "Bad Gateway",
                     503: "Service Temporarily Unavailable",
                     504: "Gateway Time-out"}.get(arg, "Error")
            return self.reply(arg, _html_page(arg, title), ips,
                              content_type="text/html")
        if name == "html200":
            return self.reply(200, _html_page(200, "Welcome to nginx!"), ips,
                              content_type="text/html")
        if name == "garbage200":
            return self.reply(200, ok_body[:len(ok_body) // 2], ips)
        if name == "empty200":
            return self.reply(200, b"", ips)
        if name == "huge":
            body = (b'{"ip": ' + json.dumps(ip).encode("utf-8")
                    + b', "padding": "' + b"x" * HUGE_STRING_LEN + b'"}')
            return self.reply(200, body, ips)

        # Faults that do not produce a complete answer.
        self.sleep_delay(ips)
        self.close_connection = True
        if name == "hang":
            self.hang()
            return "hang"
        if name == "reset":
            self.settle_stats("reset")
            self.reset_connection()
            return "reset"
        self.send_head_only(200, len(ok_body))
        if name == "close_mid_body":
            self.wfile.write(ok_body[:len(ok_body) // 2])
            return "close_mid_body"
        if name == "drip":
            interval = (arg if arg is not None else 1000) / 1000.0
            for i in range(len(ok_body)):
                if i:
                    time.sleep(interval)
                if i == len(ok_body) - 1:
                    self.settle_stats("drip")
                self.wfile.write(ok_body[i:i + 1])  # unbuffered: sent now
            return "drip"
        raise AssertionError("unhandled behaviour %r" % behaviour)

    def send_head_only(self, status, length):
        self.send_response(status)
        self.send_header("Content-Type", _JSON)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def hang(self):
        """Say nothing until the client closes or HANG_MAX_SECONDS pass."""
        conn = self.connection
        deadline = time.monotonic() + HANG_MAX_SECONDS
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                readable, _, _ = select.select([conn], [], [], min(left, 0.5))
                if readable and not conn.recv(65536):
                    return  # EOF: the client went away
        except (OSError, ValueError):
            return

    def reset_connection(self):
        """Abort the connection so that the client sees ECONNRESET."""
        conn = self.connection
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        # rfile holds a reference on the socket (makefile): drop it first so
        # that close() really closes, sending an RST instead of a FIN.
        self.rfile.close()
        conn.close()


def _valid_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


class FakeCTIServer(ThreadingHTTPServer):
    """The HTTP server; `state` holds the configuration and counters."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, state):
        self.state = state
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # client disconnects are expected; keep stderr clean
        super().handle_error(request, client_address)


def default_fixtures_dir():
    """<CTI_SOURCE_DIR or the source tree holding this file>/tests/fixtures."""
    root = os.environ.get("CTI_SOURCE_DIR")
    root = Path(root) if root else Path(__file__).resolve().parents[2]
    return root / "tests" / "fixtures"


def make_server(host="127.0.0.1", port=0, key="test-key", premium=False,
                fixtures=None, delay_ms=0):
    """Create (not start) a server; call serve_forever() on it."""
    state = State(key=key, premium=premium,
                  fixtures=fixtures if fixtures else default_fixtures_dir(),
                  delay_ms=delay_ms)
    return FakeCTIServer((host, port), state)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="test-key")
    parser.add_argument("--premium", action="store_true")
    parser.add_argument("--fixtures", default=None,
                        help="fixture directory (default: tests/fixtures)")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args(argv)

    server = make_server(args.host, args.port, args.key, args.premium,
                         args.fixtures, args.delay_ms)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
