#!/usr/bin/env python3
"""Tests of the fake CTI server (fake_cti.py) and of harness.py themselves.

They need no cti-enrich binary: they talk to the server with http.client.
"""

import contextlib
import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAKE_CTI_SCRIPT, FakeCTI, base_env, enrich_env,  # noqa: E402
                     fixtures_dir, run_enrich, synthetic_answer, unused_port,
                     wait_until, write_gzip, TempDir)

KEY = "test-key"
IP = "185.7.214.104"          # has a fixture
SYN = "203.0.113.9"           # no fixture: synthetic answer


class ServerTestCase(unittest.TestCase):
    """One fake server for the whole class, reset before each test."""

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeCTI(key=KEY).start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.reset()

    def connect(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.fake.port,
                                          timeout=timeout)

    def get(self, path, key=KEY, conn=None, headers=None, timeout=10):
        """GET path; return (status, response headers, body bytes)."""
        own = conn is None
        conn = conn or self.connect(timeout)
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["x-api-key"] = key
        try:
            conn.request("GET", path, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            if own:
                conn.close()

    def get_json(self, path, **kw):
        status, _, body = self.get(path, **kw)
        return status, json.loads(body)

    def send_raw(self, path, timeout=10):
        """Open a connection, send the request; return (conn, response)."""
        conn = self.connect(timeout)
        conn.request("GET", path, headers={"x-api-key": KEY})
        return conn, conn.getresponse()


class AnswerTest(ServerTestCase):

    def test_fixture_is_served_byte_exact(self):
        for ip, name in ((IP, IP + ".json"),
                         ("1.1.1.1", "1.1.1.1-older-schema.json")):
            with self.subTest(ip=ip):
                status, headers, body = self.get("/v2/smoke/" + ip)
                self.assertEqual(status, 200)
                self.assertEqual(headers["Content-Type"], "application/json")
                self.assertEqual(body, (fixtures_dir() / name).read_bytes())

    def test_synthetic_answer_is_deterministic(self):
        _, first = self.get_json("/v2/smoke/" + SYN)
        _, again = self.get_json("/v2/smoke/" + SYN)
        self.assertEqual(first, again)
        self.assertEqual(first, synthetic_answer(SYN))
        self.assertNotEqual(synthetic_answer("198.51.100.1"), first)
        for key in ("ip", "reputation", "confidence", "ip_range",
                    "background_noise", "as_name", "as_num", "location",
                    "behaviors", "history", "classifications",
                    "attack_details", "target_countries", "mitre_techniques",
                    "cves", "scores", "references"):
            self.assertIn(key, first)
        self.assertEqual(first["ip"], SYN)
        self.assertEqual(first["ip_range"], "203.0.113.0/24")
        self.assertEqual(set(first["scores"]),
                         {"overall", "last_day", "last_week", "last_month"})
        names = {synthetic_answer("192.0.2.%d" % i)["as_name"]
                 for i in range(60)}
        self.assertTrue(any(" " in n for n in names), names)

    def test_ipv6_raw_and_percent_encoded(self):
        for path in ("/v2/smoke/2a01:4f8::1", "/v2/smoke/2a01%3A4f8%3A%3A1"):
            with self.subTest(path=path):
                status, answer = self.get_json(path)
                self.assertEqual(status, 200)
                self.assertEqual(answer["ip"], "2a01:4f8::1")
                self.assertEqual(answer["ip_range"], "2a01:4f8::/64")
        self.assertEqual(self.fake.requests_for("2a01:4f8::1"), 2)

    def test_invalid_ip_is_400(self):
        status, answer = self.get_json("/v2/smoke/std::string")
        self.assertEqual(status, 400)
        self.assertIn("message", answer)

    def test_auth(self):
        for key in (None, "wrong"):
            with self.subTest(key=key):
                self.assertEqual(self.get_json("/v2/smoke/" + SYN, key=key),
                                 (403, {"message": "Forbidden"}))
        status, _, _ = self.get("/v2/smoke/" + SYN, key=None,
                                headers={"X-API-KEY": KEY})
        self.assertEqual(status, 200)
        stats = self.fake.stats()
        self.assertEqual(stats["total"], 3)
        self.assertEqual(stats["keys_seen_ok"], 1)
        self.assertEqual(stats["keys_seen_bad"], 2)


class BehaviourTest(ServerTestCase):

    def behave(self, behaviour, ip=SYN):
        self.fake.control(rules={ip: [behaviour]})
        return self.get("/v2/smoke/" + ip)

    def test_json_error_behaviours(self):
        cases = {
            "not_found": (404, "IP address information not found"),
            "forbidden": (403, "Forbidden"),
            "limit": (429, "Limit Exceeded"),
            "throttle": (429, "Too Many Requests"),
            "bad_request": (400, "Invalid IP address"),
        }
        for behaviour, (status, message) in cases.items():
            with self.subTest(behaviour=behaviour):
                got, headers, body = self.behave(behaviour)
                self.assertEqual(got, status)
                self.assertEqual(json.loads(body), {"message": message})
                self.assertIsNone(headers["Retry-After"])

    def test_throttle_with_retry_after(self):
        status, headers, body = self.behave("throttle_ra:7")
        self.assertEqual(status, 429)
        self.assertEqual(headers["Retry-After"], "7")
        self.assertEqual(json.loads(body), {"message": "Too Many Requests"})

    def test_html_and_broken_bodies(self):
        for code in (500, 502, 503):
            with self.subTest(code=code):
                status, headers, body = self.behave("error%d" % code)
                self.assertEqual(status, code)
                self.assertEqual(headers["Content-Type"], "text/html")
                self.assertIn(b"<html>", body)
        status, headers, body = self.behave("html200")
        self.assertEqual((status, headers["Content-Type"]), (200, "text/html"))
        self.assertIn(b"<html>", body)
        status, _, body = self.behave("garbage200")
        self.assertEqual(status, 200)
        self.assertTrue(body.startswith(b"{"))
        with self.assertRaises(ValueError):
            json.loads(body)
        self.assertEqual(self.behave("empty200")[::2], (200, b""))

    def test_nulls_and_minimal(self):
        status, _, body = self.behave("nulls")
        answer = json.loads(body)
        self.assertEqual((status, answer["ip"]), (200, SYN))
        self.assertIsNone(answer["as_num"])
        self.assertIsNone(answer["scores"]["overall"]["total"])
        self.assertEqual(json.loads(self.behave("minimal")[2]), {"ip": SYN})

    def test_huge(self):
        status, headers, body = self.behave("huge")
        self.assertEqual(status, 200)
        self.assertGreater(len(body), 10 * 1024 * 1024)
        self.assertEqual(int(headers["Content-Length"]), len(body))
        self.assertEqual(json.loads(body)["ip"], SYN)

    def test_close_mid_body(self):
        self.fake.control(rules={SYN: ["close_mid_body"]})
        conn, resp = self.send_raw("/v2/smoke/" + SYN)
        with contextlib.closing(conn):
            self.assertEqual(resp.status, 200)
            with self.assertRaises(http.client.IncompleteRead) as cm:
                resp.read()
            self.assertGreater(len(cm.exception.partial), 0)

    def test_reset(self):
        self.fake.control(rules={SYN: ["reset"]})
        with self.assertRaises(ConnectionResetError):
            self.send_raw("/v2/smoke/" + SYN)

    def test_hang_does_not_block_others(self):
        self.fake.control(rules={SYN: ["hang"]})
        conn = self.connect(timeout=1)
        conn.request("GET", "/v2/smoke/" + SYN, headers={"x-api-key": KEY})
        # While the first request hangs, another connection is served.
        self.assertEqual(self.get("/v2/smoke/" + IP)[0], 200)
        start = time.monotonic()
        timed_out = False
        try:
            conn.getresponse()
        except socket.timeout:
            timed_out = True
        self.assertTrue(timed_out)
        self.assertGreaterEqual(time.monotonic() - start, 0.5)
        # http.client keeps the socket referenced after a timeout: shut it
        # down explicitly so that the server sees the client leave.
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        # The server notices the client going away and ends the request.
        self.assertTrue(wait_until(
            lambda: self.fake.stats()["in_flight"] == 0, timeout=5))

    def test_drip(self):
        self.fake.control(rules={SYN: ["drip"]})
        conn, resp = self.send_raw("/v2/smoke/" + SYN)
        with contextlib.closing(conn):
            self.assertEqual(resp.status, 200)
            start = time.monotonic()
            self.assertEqual(resp.read(2), b"{\n")
            self.assertGreaterEqual(time.monotonic() - start, 0.9)

    def test_drip_with_interval(self):
        self.fake.control(answers={SYN: {"ip": SYN}}, rules={SYN: "drip:20"})
        start = time.monotonic()
        status, _, body = self.get("/v2/smoke/" + SYN)
        self.assertEqual((status, json.loads(body)), (200, {"ip": SYN}))
        self.assertGreaterEqual(time.monotonic() - start, 0.2)

    def test_rules_sequence_sticks_at_last(self):
        self.fake.control(rules={SYN: ["throttle", "limit", "ok"]})
        statuses = [self.get("/v2/smoke/" + SYN)[0] for _ in range(5)]
        self.assertEqual(statuses, [429, 429, 200, 200, 200])
        self.assertEqual(self.get("/v2/smoke/" + IP)[0], 200)  # no rule

    def test_pattern_cycles_and_rules_win(self):
        self.fake.control(pattern=["ok", "throttle", "error503"],
                          rules={IP: ["not_found"]})
        statuses = [self.get("/v2/smoke/198.51.100.%d" % i)[0]
                    for i in range(7)]
        self.assertEqual(statuses, [200, 429, 503, 200, 429, 503, 200])
        self.assertEqual(self.get("/v2/smoke/" + IP)[0], 404)
        self.fake.control(pattern=None)
        self.assertEqual(self.get("/v2/smoke/198.51.100.1")[0], 200)

    def test_delays(self):
        self.fake.control(ip_delay_ms={SYN: 300})
        start = time.monotonic()
        self.get("/v2/smoke/" + IP)
        self.assertLess(time.monotonic() - start, 0.25)
        self.get("/v2/smoke/" + SYN)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)


class BatchTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.fake.control(premium=True)

    def test_raw_and_encoded_commas(self):
        self.fake.control(rules={"198.51.100.2": ["not_found"]})
        ips = [IP, "198.51.100.2", "2a01:4f8::1"]
        for sep in (",", "%2C", "%2c"):
            with self.subTest(sep=sep):
                status, answer = self.get_json("/v2/smoke?ips=" + sep.join(ips))
                self.assertEqual(status, 200)
                self.assertEqual((answer["total"], answer["not_found"]), (3, 1))
                self.assertEqual([i["ip"] for i in answer["items"]],
                                 [IP, "2a01:4f8::1"])
                self.assertEqual(answer["items"][1],
                                 synthetic_answer("2a01:4f8::1"))
        stats = self.fake.stats()
        self.assertEqual(stats["batch_calls"], 3)
        self.assertEqual(stats["total"], 3)
        self.assertEqual(stats["lookups"], 9)
        self.assertEqual(stats["per_ip"]["198.51.100.2"], 3)

    def test_fault_of_one_ip_applies_to_whole_call(self):
        self.fake.control(rules={"198.51.100.3": ["not_found"],
                                 "198.51.100.4": ["limit", "ok"]})
        path = "/v2/smoke?ips=198.51.100.3,198.51.100.4," + SYN
        self.assertEqual(self.get_json(path),
                         (429, {"message": "Limit Exceeded"}))
        status, answer = self.get_json(path)
        self.assertEqual((status, len(answer["items"])), (200, 2))

    def test_errors(self):
        too_many = ",".join("198.51.100.%d" % i for i in range(101))
        self.assertEqual(self.get("/v2/smoke?ips=" + too_many)[0], 400)
        self.assertEqual(self.get("/v2/smoke?ips=1.2.3.4,nope")[0], 400)
        self.assertEqual(self.get("/v2/smoke")[0], 400)
        self.assertEqual(self.get("/v2/smoke?ips=" + SYN, key="bad")[0], 403)
        self.assertEqual(self.fake.stats()["batch_calls"], 0)
        self.fake.control(premium=False)
        self.assertEqual(self.get_json("/v2/smoke?ips=" + SYN),
                         (403, {"message": "Forbidden"}))
        self.assertEqual(self.fake.requests_for(SYN), 0)


class StatsAndControlTest(ServerTestCase):

    def test_keep_alive_counts_one_connection(self):
        conn = self.connect()
        with contextlib.closing(conn):
            for ip in (IP, SYN):
                status, _, _ = self.get("/v2/smoke/" + ip, conn=conn,
                                        headers={"User-Agent": "t/1.0"})
                self.assertEqual(status, 200)
        self.get("/v2/smoke/" + IP, headers={"User-Agent": "a/2"})
        stats = self.fake.stats()
        self.assertEqual(stats["connections"], 2)
        self.assertEqual(stats["requests_per_connection"], [2, 1])
        self.assertEqual(stats["total"], 3)
        self.assertEqual(stats["per_ip"], {IP: 2, SYN: 1})
        self.assertEqual(stats["user_agents"], ["a/2", "t/1.0"])
        self.assertEqual(stats["paths"], ["/v2/smoke/" + IP,
                                          "/v2/smoke/" + SYN,
                                          "/v2/smoke/" + IP])
        self.assertEqual(stats["statuses"], {"200": 3})
        self.assertEqual(self.fake.total(), 3)

    def test_in_flight_max_with_concurrent_delayed_requests(self):
        self.fake.control(delay_ms=500)
        results = []
        threads = [threading.Thread(
            target=lambda i=i: results.append(
                self.get("/v2/smoke/198.51.100.%d" % i)[0]))
            for i in range(4)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [200] * 4)
        self.assertLess(time.monotonic() - start, 1.9)  # overlapped
        stats = self.fake.stats()
        self.assertEqual(stats["in_flight_max"], 4)
        self.assertEqual(stats["connections"], 4)

    def test_control_and_reset(self):
        with self.assertRaises(ValueError):
            self.fake.control(rules={SYN: ["no_such_behaviour"]})
        with self.assertRaises(ValueError):
            self.fake.control(bogus=1)
        self.fake.control(key="new-key", rules={SYN: "limit"},
                          answers={IP: {"ip": IP, "reputation": None}})
        self.assertEqual(self.fake.key, "new-key")
        self.assertEqual(self.get("/v2/smoke/" + SYN)[0], 403)
        self.assertEqual(self.get("/v2/smoke/" + SYN, key="new-key")[0], 429)
        self.assertEqual(self.get_json("/v2/smoke/" + IP, key="new-key"),
                         (200, {"ip": IP, "reputation": None}))
        # keep_config: counters cleared, configuration kept.
        self.fake.reset(keep_config=True)
        self.assertEqual(self.fake.total(), 0)
        self.assertEqual(self.fake.key, "new-key")
        # A full reset restores the start-up configuration.
        self.fake.reset()
        self.assertEqual(self.fake.key, KEY)
        self.assertEqual(self.get("/v2/smoke/" + SYN)[0], 200)
        self.assertEqual(self.fake.stats()["config"]["rules"], {})

    def test_rules_removed_with_null(self):
        self.fake.control(rules={SYN: ["limit"]})
        self.fake.control(rules={SYN: None})
        self.assertEqual(self.get("/v2/smoke/" + SYN)[0], 200)


class LifecycleTest(unittest.TestCase):

    def test_constructor_options(self):
        with FakeCTI(key="k2", premium=True, delay_ms=10,
                     rules={SYN: ["limit"]}, pattern=["not_found"]) as fake:
            self.assertTrue(fake.url.startswith("http://127.0.0.1:"))
            self.assertTrue(fake.url.endswith("/v2"))
            config = fake.stats()["config"]
            self.assertEqual((config["key"], config["premium"],
                              config["delay_ms"]), ("k2", True, 10))
            self.assertEqual(config["rules"], {SYN: ["limit"]})
            self.assertEqual(config["pattern"], ["not_found"])
            self.assertEqual(enrich_env(fake, X="1"),
                             {"CTI_API_KEY": "k2", "CTI_API_URL": fake.url,
                              "X": "1"})

    def test_sigterm_exits_quietly_despite_open_clients(self):
        proc = subprocess.Popen(
            [sys.executable, str(FAKE_CTI_SCRIPT), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            port = int(proc.stdout.readline().split()[1])

            def control(body):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("POST", "/_control", json.dumps(body))
                c.getresponse().read()
                c.close()

            control({"rules": {"198.51.100.1": "hang",
                               "198.51.100.2": "drip:50",
                               "198.51.100.3": "huge"}})
            clients = []
            for i in (1, 2, 3):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/v2/smoke/198.51.100.%d" % i,
                          headers={"x-api-key": "test-key"})
                clients.append(c)
            clients[1].getresponse().read(3)
            clients[2].getresponse().read(1000)
            for c in clients[1:]:     # hang up mid-answer
                c.sock.close()
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=5)
            self.assertEqual(proc.returncode, 0)
            self.assertEqual(err, b"")
            clients[0].close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


class HarnessTest(unittest.TestCase):

    def test_write_gzip_members(self):
        data = "".join("line %d\n" % i for i in range(100))
        with TempDir() as tmp:
            path = write_gzip(tmp / "x.log.gz", data, members=3)
            raw = path.read_bytes()
            self.assertEqual(raw.count(b"\x1f\x8b\x08"), 3)
            self.assertEqual(gzip.decompress(raw).decode(), data)

    def test_environment_of_runs(self):
        fake_env = {"CTI_ENRICH_BIN": "/usr/bin/env", "CTI_ENRICH_WRAPPER": "",
                    "CTI_API_KEY": "leak", "CTI_BUDGET": "leak",
                    "XDG_CACHE_HOME": "/leak", "http_proxy": "http://leak:1",
                    "KEEP_ME": "yes"}
        with mock.patch.dict(os.environ, fake_env):
            cp = run_enrich([], env={"CTI_API_URL": "http://x/v2",
                                     "KEEP_ME": None, "EXTRA": 5})
        self.assertEqual(cp.returncode, 0)
        env = dict(line.split("=", 1)
                   for line in cp.stdout.decode().splitlines() if "=" in line)
        self.assertEqual(env["CTI_API_URL"], "http://x/v2")
        self.assertEqual(env["EXTRA"], "5")
        for gone in ("CTI_API_KEY", "CTI_BUDGET", "http_proxy", "KEEP_ME"):
            self.assertNotIn(gone, env)
        self.assertTrue(os.path.isdir(env["XDG_CACHE_HOME"]))
        self.assertNotEqual(env["XDG_CACHE_HOME"], "/leak")
        self.assertNotEqual(base_env()["XDG_CACHE_HOME"],
                            base_env()["XDG_CACHE_HOME"])

    def test_unused_port_refuses(self):
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", unused_port()), timeout=2)


if __name__ == "__main__":
    unittest.main()
