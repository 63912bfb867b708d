"""The premium batch endpoint (--batch-size N): one call for up to N IPs,
answers mapped back by IP, and the ways it can fail: not found items, a key
without the premium plan (403: fall back to single lookups), Limit Exceeded,
5xx. Exact output, exact request counts, exact exit statuses."""

import json
import os
import sys
import urllib.parse
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (FakeCTI, TempDir, enrich_env, run_enrich,  # noqa: E402
                     synthetic_answer)
from kv_oracle import annotation  # noqa: E402

FAST = ["--retry-delay", "20", "--timeout", "2s"]
FALLBACK = "the batch endpoint was refused (403)"

# 25 distinct public IPs, one of them IPv6 (no fixture files for any).
IPS = ["8.10.%d.%d" % (i, 2 * i + 1) for i in range(24)] + ["2a01:4f8::25"]


def syn(ip, index=1):
    return annotation(ip, "ok", synthetic_answer(ip), index)


def lines_for(ips, tag="b"):
    return "".join("%s%02d %s\n" % (tag, i, ip) for i, ip in enumerate(ips))


def expected(ips, status_of=lambda ip: "ok", tag="b"):
    out = []
    for i, ip in enumerate(ips):
        s = status_of(ip)
        ann = syn(ip) if s == "ok" else annotation(ip, s)
        out.append("%s%02d %s%s\n" % (tag, i, ip, ann))
    return "".join(out)


def batch_ips(path):
    """The IP list of a batch call's path, None for a single lookup."""
    split = urllib.parse.urlsplit(path)
    if split.path.rstrip("/") != "/v2/smoke":
        return None
    return [p for v in urllib.parse.parse_qs(split.query).get("ips", []) for p in v.split(",")]


class BatchTest(unittest.TestCase):

    def setUp(self):
        self.fake = FakeCTI(premium=True).start()
        self.tmp = TempDir()
        self.cache = self.tmp / "cache.db"

    def tearDown(self):
        self.fake.stop()
        self.tmp.cleanup()

    def run_ce(self, args, data, cache=False, **env):
        extra = ["--cache", self.cache] if cache else ["--no-cache"]
        return run_enrich(FAST + extra + args, input=data.encode(),
                          env=enrich_env(self.fake, **env))

    def exported(self):
        cp = run_enrich(["cache", "export", "--cache", self.cache], env=enrich_env(self.fake))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return {json.loads(x)["ip"]: json.loads(x) for x in cp.stdout.decode().splitlines()}

    def assertClean(self, cp, code=0):
        self.assertEqual(cp.returncode, code, cp.stderr.decode(errors="replace"))
        self.assertNotIn(b"runtime error", cp.stderr)
        self.assertNotIn(b"Sanitizer", cp.stderr)

    # -- the happy path -------------------------------------------------------

    def test_25_ips_in_3_calls_same_output_as_single(self):
        data = lines_for(IPS)
        cp = self.run_ce(["--batch-size", "10"], data, cache=True)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(), expected(IPS))
        self.assertEqual(cp.stderr, b"")
        st = self.fake.stats()
        self.assertEqual(st["batch_calls"], 3)
        self.assertEqual(st["total"], 3)
        self.assertEqual(st["per_ip"], {ip: 1 for ip in IPS})
        self.assertEqual(sorted(len(batch_ips(p)) for p in st["paths"]), [5, 10, 10])
        # Answers from a batch are cached like single ones.
        self.assertEqual(sorted(self.exported()), sorted(IPS))

        self.fake.reset()
        single = self.run_ce(["--batch-size", "1"], data)
        self.assertClean(single)
        self.assertEqual(single.stdout, cp.stdout)
        st = self.fake.stats()
        self.assertEqual((st["batch_calls"], st["total"]), (0, 25))

    def test_json_output_same_as_single(self):
        data = lines_for(IPS[:7] + IPS[-1:])
        self.fake.control(rules={IPS[2]: ["not_found"]})
        batch = self.run_ce(["--batch-size", "4", "--format", "json"], data)
        self.assertClean(batch)
        self.assertEqual(self.fake.stats()["batch_calls"], 2)
        self.fake.reset(keep_config=True)
        single = self.run_ce(["--batch-size", "1", "--format", "json"], data)
        self.assertClean(single)
        self.assertEqual(self.fake.stats()["batch_calls"], 0)
        self.assertEqual([json.loads(x) for x in batch.stdout.decode().splitlines()],
                         [json.loads(x) for x in single.stdout.decode().splitlines()])
        self.assertEqual(batch.stdout, single.stdout)

    def test_max_body_bounds_each_answer_not_the_batch(self):
        # Every answer is under 3 KiB, each batch answer of 10 is ~20 KiB:
        # --max-body 4K accepts them, as it does one at a time.
        data = lines_for(IPS)
        cp = self.run_ce(["--batch-size", "10", "--max-body", "4K"], data)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(), expected(IPS))
        self.assertEqual(self.fake.stats()["batch_calls"], 3)
        # ... and still refuses a batch answer holding one huge item.
        self.fake.reset()
        self.fake.control(answers={IPS[4]: {"ip": IPS[4], "as_name": "x" * 50000}})
        cp = self.run_ce(["--batch-size", "10", "--max-body", "4K", "--retries", "3"], data)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         expected(IPS, lambda ip: "error" if IPS.index(ip) < 10 else "ok"))
        self.assertIn("answer larger than 40960 bytes", cp.stderr.decode())
        self.assertEqual(self.fake.stats()["batch_calls"], 3)

    def test_not_found_items_are_absent_and_cached_as_not_found(self):
        missing = {IPS[1], IPS[7], IPS[24]}
        self.fake.control(rules={ip: ["not_found"] for ip in missing})
        cp = self.run_ce(["--batch-size", "10"], lines_for(IPS), cache=True)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         expected(IPS, lambda ip: "not_found" if ip in missing else "ok"))
        st = self.fake.stats()
        self.assertEqual((st["batch_calls"], st["total"]), (3, 3))
        self.assertEqual(st["per_ip"], {ip: 1 for ip in IPS})
        recs = self.exported()
        self.assertEqual(sorted(recs), sorted(IPS))
        self.assertEqual({ip for ip, r in recs.items() if r["status"] == "not_found"}, missing)

        # A second run answers everything from the cache.
        self.fake.reset()
        again = self.run_ce(["--batch-size", "10"], lines_for(IPS), cache=True)
        self.assertEqual(again.stdout, cp.stdout)
        self.assertEqual(self.fake.total(), 0)

    # -- no premium plan ------------------------------------------------------

    def fallback_case(self, ips, concurrency, refused_calls):
        self.fake.control(premium=False)
        cp = self.run_ce(["--batch-size", "10", "--concurrency", str(concurrency)],
                         lines_for(ips), cache=True)
        self.assertClean(cp, 0)  # not 4: the key itself is fine
        self.assertEqual(cp.stdout.decode(), expected(ips))
        err = cp.stderr.decode()
        self.assertEqual(err.count(FALLBACK), 1, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertNotIn("rejected the key", err)
        st = self.fake.stats()
        singles = [p for p in st["paths"] if batch_ips(p) is None]
        self.assertEqual(len(singles), len(ips))
        self.assertEqual(st["per_ip"], {ip: 1 for ip in ips})
        self.assertEqual(st["total"], len(ips) + refused_calls)
        self.assertEqual(st["statuses"], {"403": refused_calls, "200": len(ips)})
        self.assertEqual(sorted(self.exported()), sorted(ips))

    def test_non_premium_key_falls_back_to_single_lookups(self):
        # Three batch calls go out at once; all three are refused.
        self.fallback_case(IPS, 4, 3)

    def test_non_premium_fallback_one_call_at_a_time(self):
        self.fallback_case(IPS, 1, 1)

    def test_non_premium_fallback_with_a_one_ip_batch_in_flight(self):
        # 21 IPs: calls of 10, 10 and 1. The 403 of the one-IP batch call
        # arrives after the fallback: it is still "no premium", not "bad key".
        self.fallback_case(IPS[:21], 4, 3)

    def test_bad_key_on_batch_then_single_exits_4(self):
        cp = self.run_ce(["--batch-size", "10", "--concurrency", "1"], lines_for(IPS[:12]),
                         CTI_API_KEY="wrong-key")
        self.assertClean(cp, 4)
        self.assertEqual(cp.stdout.decode(), expected(IPS[:12], lambda ip: "error"))
        err = cp.stderr.decode()
        self.assertEqual(err.count(FALLBACK), 1, err)
        self.assertEqual(err.count("rejected the key"), 1, err)
        self.assertNotIn("wrong-key", err)
        # One refused batch call, one refused single lookup, then nothing.
        self.assertEqual(self.fake.total(), 2)

    # -- failures of a batch call ---------------------------------------------

    def test_limit_exceeded_on_a_batch_call(self):
        self.fake.control(rules={IPS[13]: ["limit"]})
        cp = self.run_ce(["--batch-size", "10", "--concurrency", "1", "--retries", "3"],
                         lines_for(IPS), cache=True)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         expected(IPS, lambda ip: "ok" if IPS.index(ip) < 10 else "quota"))
        st = self.fake.stats()
        self.assertEqual((st["batch_calls"], st["total"]), (2, 2))
        self.assertEqual(st["per_ip"], {ip: 1 for ip in IPS[:20]})
        self.assertIn("429 Limit Exceeded", cp.stderr.decode())
        self.assertEqual(sorted(self.exported()), sorted(IPS[:10]))

    def test_5xx_on_a_batch_call_retries_the_whole_batch(self):
        self.fake.control(rules={IPS[3]: ["error503", "ok"]})
        cp = self.run_ce(["--batch-size", "10", "--concurrency", "1", "--retries", "2"],
                         lines_for(IPS), cache=True)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(), expected(IPS))
        self.assertEqual(cp.stderr, b"")
        st = self.fake.stats()
        self.assertEqual((st["batch_calls"], st["total"]), (4, 4))
        self.assertEqual(st["per_ip"], {ip: (2 if i < 10 else 1) for i, ip in enumerate(IPS)})
        calls = [batch_ips(p) for p in st["paths"]]
        with_ip = [c for c in calls if IPS[3] in c]
        self.assertEqual(with_ip, [IPS[:10], IPS[:10]])
        self.assertEqual(st["statuses"], {"503": 1, "200": 3})
        self.assertEqual(sorted(self.exported()), sorted(IPS))

    def test_5xx_on_a_batch_call_retries_spent(self):
        self.fake.control(rules={IPS[12]: ["error502"]})
        cp = self.run_ce(["--batch-size", "10", "--retries", "1"], lines_for(IPS), cache=True)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         expected(IPS, lambda ip: "error" if 10 <= IPS.index(ip) < 20 else "ok"))
        st = self.fake.stats()
        self.assertEqual((st["batch_calls"], st["total"]), (4, 4))
        self.assertEqual(st["per_ip"], {ip: (2 if 10 <= i < 20 else 1)
                                        for i, ip in enumerate(IPS)})
        self.assertEqual(sorted(self.exported()), sorted(IPS[:10] + IPS[20:]))

    def test_bad_json_batch_answer_is_an_error_not_retried(self):
        self.fake.control(rules={IPS[0]: ["garbage200"]})
        cp = self.run_ce(["--batch-size", "10", "--retries", "3"], lines_for(IPS), cache=True)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         expected(IPS, lambda ip: "error" if IPS.index(ip) < 10 else "ok"))
        st = self.fake.stats()
        self.assertEqual((st["batch_calls"], st["total"]), (3, 3))
        self.assertEqual(sorted(self.exported()), sorted(IPS[10:]))

    def test_throttled_batch_call_is_retried(self):
        self.fake.control(rules={IPS[21]: ["throttle", "ok"]})
        cp = self.run_ce(["--batch-size", "10"], lines_for(IPS))
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(), expected(IPS))
        st = self.fake.stats()
        self.assertEqual((st["batch_calls"], st["total"]), (4, 4))
        self.assertEqual(st["per_ip"], {ip: (2 if i >= 20 else 1) for i, ip in enumerate(IPS)})


if __name__ == "__main__":
    unittest.main()
