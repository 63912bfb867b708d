"""Resilience: the real binary against a CTI server that misbehaves (hangs,
drips, resets, lies, throttles, is not there). Whatever the server does,
every line comes out once and in order, the failed IPs say status=error, the
others are annotated, the exit status stays 0, and no failure is cached as an
answer. Exact output, exact request counts, exact exit statuses."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (FakeCTI, TempDir, enrich_env, run_enrich,  # noqa: E402
                     synthetic_answer, timeout_scale, unused_port)
from kv_oracle import annotation  # noqa: E402

SCALE = timeout_scale()
UNDER_WRAPPER = SCALE > 1
FAST = ["--retry-delay", "20", "--timeout", "2s", "--connect-timeout", "2s"]

BAD = "8.8.8.8"
GOOD = ["9.9.9.9", "4.4.2.2"]


def syn(ip, index=1):
    return annotation(ip, "ok", synthetic_answer(ip), index)


def err(ip, index=1):
    return annotation(ip, "error", None, index)


def quota(ip, index=1):
    return annotation(ip, "quota", None, index)


def matrix_input(bad=BAD, good=GOOD):
    """Lines (text, ips): the failing IP alone, next to good ones, twice."""
    return [
        ("l0 bad %s" % bad, [bad]),
        ("l1 good %s" % good[0], [good[0]]),
        ("l2 both %s then %s" % (bad, good[1]), [bad, good[1]]),
        ("l3 no ip here", []),
        ("l4 again %s" % bad, [bad]),
        ("l5 good again %s" % good[0], [good[0]]),
    ]


def render(lines, status_of):
    """The expected kv output of lines, status_of(ip) -> annotation fn."""
    out = []
    for text, ips in lines:
        out.append(text + "".join(status_of(ip)(ip, i + 1) for i, ip in enumerate(ips)))
    return "".join(s + "\n" for s in out)


class FaultTest(unittest.TestCase):

    def setUp(self):
        # One server per test: hang/drip handlers outlive a test's run and
        # would otherwise land in the next test's counters.
        self.fake = FakeCTI().start()
        self.tmp = TempDir()
        self.cache = self.tmp / "cache.db"

    def tearDown(self):
        self.fake.stop()
        self.tmp.cleanup()

    def run_ce(self, args, data, env=None, cache=True):
        extra = ["--cache", self.cache] if cache else ["--no-cache"]
        if isinstance(data, str):
            data = data.encode()
        return run_enrich(FAST + extra + args, input=data,
                          env=env if env is not None else enrich_env(self.fake))

    def timed(self, *a, **kw):
        t = time.monotonic()
        cp = self.run_ce(*a, **kw)
        return cp, time.monotonic() - t

    def exported(self):
        cp = run_enrich(["cache", "export", "--cache", self.cache], env=enrich_env(self.fake))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return {json.loads(x)["ip"]: json.loads(x) for x in cp.stdout.decode().splitlines()}

    def assertClean(self, cp):
        """Exit 0 and no sanitizer or valgrind report."""
        self.assertEqual(cp.returncode, 0, cp.stderr.decode(errors="replace"))
        self.assertNotIn(b"runtime error", cp.stderr)
        self.assertNotIn(b"Sanitizer", cp.stderr)

    def fault_case(self, rules, args, bad_requests, warning, extra_control=None,
                   min_s=0.0, max_s=None):
        """The common fault matrix for one behaviour of BAD."""
        lines = matrix_input()
        data = "".join(t + "\n" for t, _ in lines)
        self.fake.control(rules=rules, **(extra_control or {}))
        cp, took = self.timed(args, data)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(), render(lines, lambda ip: err if ip == BAD else syn))
        st = self.fake.stats()
        self.assertEqual(st["per_ip"], {BAD: bad_requests, GOOD[0]: 1, GOOD[1]: 1})
        self.assertEqual(st["total"], bad_requests + 2)
        self.assertEqual(cp.stderr.decode().count("lookup of %s" % BAD), 1, cp.stderr)
        self.assertIn(warning, cp.stderr.decode())
        self.assertGreaterEqual(took, min_s)
        if max_s is not None and not UNDER_WRAPPER:
            self.assertLess(took, max_s)

        # Nothing of the failure was cached: the good answers were, the bad
        # IP is asked again once the server behaves, and then it is cached.
        self.assertEqual(sorted(self.exported()), sorted(GOOD))
        self.fake.reset()
        cp = self.run_ce([], data)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(), render(lines, lambda ip: syn))
        st = self.fake.stats()
        self.assertEqual(st["per_ip"], {BAD: 1})
        self.assertEqual(st["total"], 1)
        self.assertEqual(sorted(self.exported()), sorted(GOOD + [BAD]))
        return took

    # -- the fault matrix ---------------------------------------------------

    def test_hang_times_out_and_is_retried_once(self):
        # Two attempts of 2 s each, then the run ends.
        self.fault_case({BAD: ["hang"]}, ["--retries", "1"], 2,
                        "lookup of 8.8.8.8 failed: Timeout was reached", min_s=4.0, max_s=6.5)

    def test_close_mid_body(self):
        self.fault_case({BAD: ["close_mid_body"]}, ["--retries", "1"], 2,
                        "lookup of 8.8.8.8 failed: Transferred a partial file", max_s=2.0)

    def test_huge_body_is_an_error_not_retried(self):
        self.fault_case({BAD: ["huge"]}, ["--retries", "3"], 1,
                        "lookup of 8.8.8.8 failed: answer larger than 1048576 bytes",
                        max_s=2.0)

    def test_max_body_option(self):
        # A normal answer (a few KiB) above a 1 KiB limit is refused too;
        # small answers pass.
        small = {g: {"ip": g, "reputation": "safe"} for g in GOOD}
        self.fake.control(answers=small)
        data = "a %s\nb %s\nc %s\n" % (BAD, GOOD[0], GOOD[1])
        cp = self.run_ce(["--max-body", "1K", "--retries", "3"], data)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         "a %s%s\nb %s%s\nc %s%s\n"
                         % (BAD, err(BAD), GOOD[0], annotation(GOOD[0], "ok", small[GOOD[0]]),
                            GOOD[1], annotation(GOOD[1], "ok", small[GOOD[1]])))
        self.assertEqual(self.fake.stats()["per_ip"], {BAD: 1, GOOD[0]: 1, GOOD[1]: 1})
        self.assertIn(b"lookup of 8.8.8.8 failed: answer larger than 1024 bytes", cp.stderr)
        self.assertEqual(sorted(self.exported()), sorted(GOOD))

    def test_html_200_is_an_error_not_retried(self):
        self.fault_case({BAD: ["html200"]}, ["--retries", "3"], 1,
                        "lookup of 8.8.8.8: invalid answer from the API", max_s=2.0)

    def test_empty_200_is_an_error_not_retried(self):
        self.fault_case({BAD: ["empty200"]}, ["--retries", "3"], 1,
                        "lookup of 8.8.8.8: invalid answer from the API", max_s=2.0)

    def test_truncated_200_is_an_error_not_retried(self):
        self.fault_case({BAD: ["garbage200"]}, ["--retries", "3"], 1,
                        "lookup of 8.8.8.8: invalid answer from the API", max_s=2.0)

    def test_drip_one_byte_a_second_times_out(self):
        self.fault_case({BAD: ["drip"]}, ["--retries", "1"], 2,
                        "lookup of 8.8.8.8 failed: Timeout was reached",
                        min_s=4.0, max_s=6.5)

    def test_connection_reset(self):
        # The good IPs answer slowly so that no idle keep-alive connection
        # exists when the retry starts: libcurl itself re-sends a request
        # once when a *reused* connection dies before any byte of answer,
        # which would add a request the client did not count.
        slow = 1000 if not UNDER_WRAPPER else 1500  # below --timeout 2s
        self.fault_case({BAD: ["reset"]}, ["--retries", "1"], 2,
                        "lookup of 8.8.8.8 failed: Failure when receiving data from the peer",
                        extra_control={"ip_delay_ms": {g: slow for g in GOOD}})

    def test_5xx_retries_spent(self):
        self.fault_case({BAD: ["error503"]}, ["--retries", "2"], 3,
                        "lookup of 8.8.8.8 failed: HTTP status 503, retries spent", max_s=2.0)

    def test_throttle_retries_spent(self):
        self.fault_case({BAD: ["throttle"]}, ["--retries", "2"], 3,
                        "throttled (429 Too Many Requests), retries spent", max_s=2.0)

    def test_retry_after_too_long_is_not_waited_for(self):
        # Beyond the client's limit (and beyond a long's range once in ms):
        # an error at once, no retry, no overflow.
        self.fault_case({BAD: ["throttle_ra:99999999999999999999"]}, ["--retries", "3"], 1,
                        "lookup of 8.8.8.8 failed: throttled (429 Too Many Requests), "
                        "Retry-After too long to wait for", max_s=2.0)

    # -- retries that succeed -----------------------------------------------

    def test_alternating_503_all_end_ok(self):
        # Calls alternate 503 / ok. With one request at a time and retries
        # due at once, each IP gets exactly one 503 then its answer.
        ips = ["8.8.4.%d" % i for i in range(1, 8)]
        self.fake.control(pattern=["error503", "ok"])
        data = "".join("n%d %s\n" % (i, ip) for i, ip in enumerate(ips))
        cp = self.run_ce(["--retries", "2", "--concurrency", "1", "--retry-delay", "0"], data)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         "".join("n%d %s%s\n" % (i, ip, syn(ip)) for i, ip in enumerate(ips)))
        st = self.fake.stats()
        self.assertEqual(st["total"], 2 * len(ips))
        self.assertEqual(st["per_ip"], {ip: 2 for ip in ips})
        self.assertEqual(st["statuses"], {"503": len(ips), "200": len(ips)})
        self.assertEqual(cp.stderr, b"")

    def test_alternating_503_concurrent_total_exact(self):
        # Concurrent: which call fails is not fixed, but with 6 retries
        # every IP ends ok, so the calls are exactly one 503 for each ok
        # (the last call answered an IP, so it was an "ok").
        ips = ["8.8.5.%d" % i for i in range(1, 9)]
        self.fake.control(pattern=["error503", "ok"])
        data = "".join("n%d %s\n" % (i, ip) for i, ip in enumerate(ips))
        cp = self.run_ce(["--retries", "6", "--concurrency", "4"], data)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         "".join("n%d %s%s\n" % (i, ip, syn(ip)) for i, ip in enumerate(ips)))
        st = self.fake.stats()
        self.assertEqual(st["total"], 2 * len(ips))
        self.assertEqual(st["statuses"], {"503": len(ips), "200": len(ips)})

    def test_retry_after_is_honoured(self):
        self.fake.control(rules={BAD: ["throttle_ra:1", "ok"]})
        cp, took = self.timed(["--retries", "1"], "a %s\nb %s\n" % (BAD, GOOD[0]))
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         "a %s%s\nb %s%s\n" % (BAD, syn(BAD), GOOD[0], syn(GOOD[0])))
        self.assertEqual(self.fake.requests_for(BAD), 2)
        self.assertEqual(self.fake.total(), 3)
        self.assertGreaterEqual(took, 1.0)  # not the 20 ms backoff
        if not UNDER_WRAPPER:
            self.assertLess(took, 2.0)
        self.assertEqual(cp.stderr, b"")
        self.assertEqual(sorted(self.exported()), sorted([BAD, GOOD[0]]))

    def test_limit_exceeded_is_not_retried(self):
        ips = [GOOD[0], BAD, GOOD[1]]
        self.fake.control(rules={BAD: ["limit"]})
        data = "".join("q%d %s\n" % (i, ip) for i, ip in enumerate(ips))
        cp = self.run_ce(["--retries", "3", "--concurrency", "1"], data)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         "q0 %s%s\nq1 %s%s\nq2 %s%s\n" % (GOOD[0], syn(GOOD[0]), BAD, quota(BAD),
                                                           GOOD[1], quota(GOOD[1])))
        self.assertEqual(self.fake.stats()["per_ip"], {GOOD[0]: 1, BAD: 1})
        self.assertEqual(self.fake.total(), 2)
        self.assertIn(b"429 Limit Exceeded", cp.stderr)
        self.assertEqual(sorted(self.exported()), [GOOD[0]])

    def test_connection_refused(self):
        env = {"CTI_API_KEY": "test-key",
               "CTI_API_URL": "http://127.0.0.1:%d/v2" % unused_port()}
        lines = matrix_input()
        data = "".join(t + "\n" for t, _ in lines)
        cp, took = self.timed(["--retries", "2"], data, env=env)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(), render(lines, lambda ip: err))
        self.assertIn(b"Couldn't connect to server", cp.stderr)
        # Refusals are immediate: far less than retries x --timeout.
        self.assertLess(took, 2 * 2.0 * SCALE)
        self.assertEqual(self.exported(), {})

    # -- connections, order, back-pressure -----------------------------------

    def test_keep_alive_connection_reuse(self):
        ips = ["8.9.%d.%d" % (i, i + 1) for i in range(50)]
        data = "".join("r%d %s\n" % (i, ip) for i, ip in enumerate(ips))
        cp = self.run_ce(["--concurrency", "4"], data, cache=False)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         "".join("r%d %s%s\n" % (i, ip, syn(ip)) for i, ip in enumerate(ips)))
        st = self.fake.stats()
        self.assertEqual(st["total"], 50)
        self.assertLessEqual(st["connections"], 4)
        self.assertEqual(sum(st["requests_per_connection"]), 50)
        self.assertLessEqual(st["in_flight_max"], 4)

    def test_answers_are_reported_without_idle_stalls(self):
        # Answers that land together (one being stored while the next
        # arrives) must not wait for the loop's 1 s idle poll. The race is
        # timing-dependent, hence several short runs.
        self.fake.control(delay_ms=100)
        ips = ["8.4.0.%d" % i for i in range(1, 5)]
        data = "".join("s%d %s\n" % (i, ip) for i, ip in enumerate(ips))
        want = "".join("s%d %s%s\n" % (i, ip, syn(ip)) for i, ip in enumerate(ips))
        took = []
        for n in range(10):
            tmp = TempDir()
            t = time.monotonic()
            cp = run_enrich(FAST + ["--cache", tmp / "c.db", "--concurrency", "4"],
                            input=data.encode(), env=enrich_env(self.fake))
            took.append(time.monotonic() - t)
            tmp.cleanup()
            self.assertClean(cp)
            self.assertEqual(cp.stdout.decode(), want)
        self.assertEqual(self.fake.total(), 40)
        if not UNDER_WRAPPER:
            self.assertLess(max(took), 0.8, ["%.2f" % x for x in took])

    def test_order_kept_under_mixed_faults(self):
        ips = ["8.7.%d.%d" % (i, 3 * i + 1) for i in range(30)]
        rules, delays, want_status, want_req = {}, {}, {}, {}
        kinds = ["ok", "error503", "html200", "not_found", "throttle_ok", "close_mid_body",
                 "garbage200", "ok_slow", "minimal", "error500_ok"]
        for i, ip in enumerate(ips):
            kind = kinds[i % len(kinds)]
            if kind == "ok_slow":
                delays[ip] = 50 + 40 * (i % 5)
                want_status[ip], want_req[ip] = "ok", 1
            elif kind in ("ok", "minimal"):
                if kind == "minimal":
                    rules[ip] = ["minimal"]
                delays[ip] = (i * 37) % 120
                want_status[ip], want_req[ip] = ("ok" if kind == "ok" else "min"), 1
            elif kind == "error503":
                rules[ip] = ["error503"]
                want_status[ip], want_req[ip] = "error", 2
            elif kind in ("html200", "garbage200"):
                rules[ip] = [kind]
                want_status[ip], want_req[ip] = "error", 1
            elif kind == "not_found":
                rules[ip] = ["not_found"]
                delays[ip] = 80
                want_status[ip], want_req[ip] = "not_found", 1
            elif kind == "throttle_ok":
                rules[ip] = ["throttle", "ok"]
                want_status[ip], want_req[ip] = "ok", 2
            elif kind == "close_mid_body":
                rules[ip] = ["close_mid_body"]
                want_status[ip], want_req[ip] = "error", 2
            elif kind == "error500_ok":
                rules[ip] = ["error500", "ok"]
                delays[ip] = 30
                want_status[ip], want_req[ip] = "ok", 2
        self.fake.control(rules=rules, ip_delay_ms=delays)

        def ann(ip, index):
            s = want_status[ip]
            if s == "min":
                return annotation(ip, "ok", {"ip": ip}, index)
            if s == "ok":
                return syn(ip, index)
            return annotation(ip, s, None, index)

        lines, want = [], []
        for n in range(200):
            a = ips[(n * 7) % 30]
            if n % 9 == 4:
                b = ips[(n * 11 + 3) % 30]
                text = "%03d %s and %s" % (n, a, b)
                suffix = ann(a, 1) + (ann(b, 2) if b != a else "")
            elif n % 13 == 0:
                text, suffix = "%03d nothing to see 10.0.0.%d" % (n, n % 250), ""
            else:
                text, suffix = "%03d %s" % (n, a), ann(a, 1)
            lines.append(text + "\n")
            want.append(text + suffix + "\n")
        cp = self.run_ce(["--retries", "1", "--concurrency", "4"], "".join(lines))
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode().splitlines(), "".join(want).splitlines())
        self.assertEqual(cp.stdout.decode(), "".join(want))
        st = self.fake.stats()
        self.assertEqual(st["per_ip"], want_req)
        self.assertEqual(st["total"], sum(want_req.values()))
        # Errors were not cached; answers (found or not) were.
        cached = set(self.exported())
        self.assertEqual(cached, {ip for ip in ips if want_status[ip] != "error"})

    def test_back_pressure_small_window_slow_server(self):
        ips = ["8.6.%d.%d" % (i // 200, i % 200 + 1) for i in range(200)]
        self.fake.control(delay_ms=100)
        data = "".join("w%03d %s\n" % (i, ip) for i, ip in enumerate(ips))
        cp, took = self.timed(["--window-lines", "10", "--concurrency", "2"], data,
                              cache=False)
        self.assertClean(cp)
        self.assertEqual(cp.stdout.decode(),
                         "".join("w%03d %s%s\n" % (i, ip, syn(ip)) for i, ip in enumerate(ips)))
        st = self.fake.stats()
        self.assertEqual(st["total"], 200)
        self.assertLessEqual(st["in_flight_max"], 2)
        self.assertLessEqual(st["connections"], 2)
        # Two at a time, 100 ms each: at least 10 s; the window does not
        # serialise the lookups further (well under one at a time, 20 s).
        self.assertGreaterEqual(took, 10.0)
        if not UNDER_WRAPPER:
            self.assertLess(took, 16.0)



if __name__ == "__main__":
    unittest.main()
