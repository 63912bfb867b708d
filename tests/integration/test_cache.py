"""The persistent cache and the quota ledger, witnessed by the fake server's
request counters: nothing is asked twice, no budget is passed."""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (FakeCTI, FakeCTITestCase, TempDir, base_env, enrich_command, enrich_env,  # noqa: E402
                     fixtures_dir, run_enrich, synthetic_answer, timeout_scale, wait_until)
from kv_oracle import annotation  # noqa: E402

FAST = ["--retry-delay", "20"]


def syn(ip, index=1):
    return annotation(ip, "ok", synthetic_answer(ip), index)


def lines_for(ips, tag="l"):
    return "".join("%s%d %s\n" % (tag, i, ip) for i, ip in enumerate(ips)).encode()


class CacheTest(FakeCTITestCase):

    def setUp(self):
        super().setUp()
        self.tmp = TempDir()
        self.cache = self.tmp / "cache.db"

    def tearDown(self):
        self.tmp.cleanup()

    def run_ce(self, args, data=None, **extra):
        return run_enrich(FAST + ["--cache", self.cache] + args, input=data,
                          env=enrich_env(self.fake, **extra))

    def test_second_run_asks_nothing_and_writes_the_same(self):
        ips = ["8.8.%d.1" % i for i in range(10)]
        self.fake.control(rules={ips[3]: ["not_found"]})
        data = lines_for(ips * 3)
        first = self.run_ce([], data)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(self.fake.total(), 10)
        self.fake.reset()
        second = self.run_ce([], data)
        self.assertEqual(second.stdout, first.stdout)
        self.assertEqual(self.fake.total(), 0)
        self.assertIn(b"crowdsec_status=not_found", second.stdout)

    def test_renderings_follow_the_output_settings(self):
        data = lines_for(["8.8.8.8", "9.9.9.9", "8.8.8.8"])
        runs = {}
        for args in ([], ["--format", "json"], ["--fields", "reputation"]):
            first = self.run_ce(args, data)
            second = self.run_ce(args, data)
            self.assertEqual(second.stdout, first.stdout, args)
            runs[tuple(args)] = second.stdout
        self.assertEqual(self.fake.total(), 2)
        self.assertEqual(runs[()].decode().splitlines()[0], "l0 8.8.8.8" + syn("8.8.8.8"))
        self.assertEqual(runs[("--fields", "reputation")].decode().splitlines()[1],
                         "l1 9.9.9.9 crowdsec_ip=9.9.9.9 crowdsec_status=ok "
                         "crowdsec_reputation=%s" % synthetic_answer("9.9.9.9")["reputation"])
        self.assertEqual(json.loads(runs[("--format", "json")].splitlines()[0])["crowdsec"][0]
                         ["as_name"], synthetic_answer("8.8.8.8")["as_name"])

    def test_default_cache_location_is_xdg(self):
        with TempDir() as d:
            env = {"XDG_CACHE_HOME": d.path}
            self.assertEqual(run_enrich(FAST, input=b"8.8.8.8\n",
                                        env=enrich_env(self.fake, **env)).returncode, 0)
            self.assertTrue((d.path / "cti-enrich" / "cache.db").is_file())
            self.fake.reset()
            run_enrich(FAST, input=b"8.8.8.8\n", env=enrich_env(self.fake, **env))
            self.assertEqual(self.fake.total(), 0)

    def test_quota_budget_exact_across_runs(self):
        ips = ["9.9.%d.9" % i for i in range(12)]
        r1 = self.run_ce(["--quota", "5/day"], lines_for(ips[0:3]))
        self.assertEqual(self.fake.total(), 3)
        self.assertEqual(r1.returncode, 0)
        r2 = self.run_ce(["--quota", "5/day", "--concurrency", "1"], lines_for(ips[3:7]))
        self.assertEqual(self.fake.total(), 5)
        out = r2.stdout.decode().splitlines()
        self.assertEqual(out[2], "l2 %s crowdsec_ip=%s crowdsec_status=quota" % (ips[5], ips[5]))
        self.assertEqual(out[3], "l3 %s crowdsec_ip=%s crowdsec_status=quota" % (ips[6], ips[6]))
        self.assertIn(b"not looked up (status=quota)", r2.stderr)
        r3 = self.run_ce(["--quota", "5/day"], lines_for(ips[7:12]))
        self.assertEqual(r3.returncode, 0)
        self.assertEqual(self.fake.total(), 5)
        self.assertEqual(r3.stdout.decode().count("crowdsec_status=quota"), 5)
        q = self.run_ce(["quota", "--quota", "5/day"])
        self.assertIn(b"spent:    5 since", q.stdout)
        self.assertIn(b"left:     0", q.stdout)
        self.assertNotIn(self.fake.key.encode(), q.stdout + q.stderr)

    def test_max_queries_caps_one_run(self):
        ips = ["9.8.%d.9" % i for i in range(6)]
        cp = self.run_ce(["--max-queries", "2", "--concurrency", "1"], lines_for(ips))
        self.assertEqual(self.fake.total(), 2)
        self.assertEqual(cp.stdout.decode().count("crowdsec_status=quota"), 4)
        cp = self.run_ce(["--max-queries", "2"], lines_for(ips))
        self.assertEqual(self.fake.total(), 4)

    def test_limit_exceeded_remembered_by_next_run(self):
        self.fake.control(rules={"8.8.4.2": ["limit"]})
        cp = self.run_ce(["--concurrency", "1"], lines_for(["8.8.4.1", "8.8.4.2", "8.8.4.3"]))
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(self.fake.total(), 2)
        self.fake.reset()
        cp = self.run_ce([], lines_for(["8.8.4.3", "8.8.4.4"]))
        self.assertEqual(self.fake.total(), 0)
        self.assertEqual(cp.stdout.decode().count("crowdsec_status=quota"), 2)
        q = self.run_ce(["quota"])
        self.assertIn(b"blocked:  until", q.stdout)
        # What was answered before the limit stays usable.
        cp = self.run_ce([], b"8.8.4.1\n")
        self.assertEqual(cp.stdout.decode(), "8.8.4.1" + syn("8.8.4.1") + "\n")

    def test_three_concurrent_processes_share_the_cache(self):
        self.fake.control(delay_ms=50)
        ips = ["7.7.%d.%d" % (i // 10, i % 10 + 1) for i in range(40)]
        procs = []
        for k in range(3):
            order = ips[k * 13:] + ips[:k * 13]
            data = lines_for(order * 2, tag="p%d-" % k)
            f = self.tmp / ("in%d.log" % k)
            f.write_bytes(data)
            procs.append((subprocess.Popen(
                enrich_command(FAST + ["--cache", self.cache, "--concurrency", "4", f]),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=base_env(enrich_env(self.fake))), order))
        for p, order in procs:
            out, err = p.communicate(timeout=120 * timeout_scale())
            self.assertEqual(p.returncode, 0, err)
            lines = out.decode().splitlines()
            self.assertEqual(len(lines), 80)
            for line in lines:
                self.assertIn("crowdsec_status=ok", line)
        st = self.fake.stats()
        self.assertEqual(sorted(st["per_ip"]), sorted(ips))
        self.assertEqual(st["total"], 40, st["per_ip"])
        self.fake.reset()
        cp = self.run_ce([], lines_for(ips))
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(self.fake.total(), 0)

    def test_sigkill_loses_no_answer_that_arrived(self):
        self.fake.control(delay_ms=150)
        ips = ["6.6.%d.%d" % (i // 10, i % 10 + 1) for i in range(30)]
        f = self.tmp / "in.log"
        f.write_bytes(lines_for(ips))
        p = subprocess.Popen(enrich_command(FAST + ["--cache", self.cache, "--concurrency", "2",
                                                    f]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=base_env(enrich_env(self.fake)))
        wait_until(lambda: self.fake.total() >= 10, timeout=30)
        p.send_signal(signal.SIGKILL)
        p.wait()
        first = self.fake.stats()["per_ip"]
        self.fake.control(delay_ms=0)
        self.fake.reset(keep_config=False)
        cp = self.run_ce([f])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.decode().count("crowdsec_status=ok"), 30)
        second = self.fake.stats()["per_ip"]
        again = [ip for ip in second if ip in first]
        # At most the lookups in flight at the kill (concurrency 2) are asked again.
        self.assertLessEqual(len(again), 2, again)
        self.assertEqual(len(first) + len(second) - len(again), 30)

    def test_corrupt_cache_file_stream_still_flows(self):
        self.cache.write_bytes(b"this is not a database" * 100)
        cp = self.run_ce([], b"a 8.8.8.8\n")
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(cp.stdout.decode(), "a 8.8.8.8" + syn("8.8.8.8") + "\n")
        self.assertIn(b"not a cti-enrich database", cp.stderr)
        self.assertIn(b"memory only", cp.stderr)
        self.assertEqual(self.cache.read_bytes(), b"this is not a database" * 100)

    def test_unwritable_cache_location_stream_still_flows(self):
        blocker = self.tmp / "file"
        blocker.write_text("x")
        cp = run_enrich(FAST + ["--cache", blocker / "sub" / "cache.db"], input=b"8.8.8.8\n",
                        env=enrich_env(self.fake))
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(cp.stdout.decode(), "8.8.8.8" + syn("8.8.8.8") + "\n")
        self.assertIn(b"memory only", cp.stderr)

    def test_full_disk_stream_still_flows(self):
        # A file-size limit stands in for a full disk: the cache's writes fail
        # part-way through the run, the stream does not.
        import resource

        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (48 * 1024, 48 * 1024))

        ips = ["4.3.%d.%d" % (i // 50, i % 50 + 1) for i in range(120)]
        p = subprocess.run(enrich_command(FAST + ["--cache", self.cache]), input=lines_for(ips),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=base_env(enrich_env(self.fake)), preexec_fn=limit,
                           timeout=120 * timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode().splitlines()
        self.assertEqual(len(out), 120)
        for i, line in enumerate(out):
            self.assertEqual(line, "l%d %s%s" % (i, ips[i], syn(ips[i])))
        self.assertEqual(p.stderr.decode().count("cache: "), 1, p.stderr)
        self.assertIn(b"memory only", p.stderr)
        self.assertEqual(self.fake.total(), 120)

    def test_small_table_memory_same_output_no_extra_lookups(self):
        # Groups of IPs, each over several read chunks, then the first group
        # again: the trim drops the idle groups and reads them back.
        ips = ["3.4.%d.%d" % (i // 100, i % 100 + 1) for i in range(600)]
        seq = []
        for g in (0, 1, 2, 0):
            seq += [ips[g * 200 + (i * 7) % 200] for i in range(40000)]
        data = lines_for(seq)
        f = self.tmp / "in.log"
        f.write_bytes(data)
        first = self.run_ce([f])
        self.assertEqual(self.fake.total(), 600)
        second = self.run_ce(["--table-memory", "64k", "-v", f])
        self.assertEqual(second.stdout, first.stdout)
        self.assertRegex(second.stderr.decode(), r"\d+ answers were read back")
        self.assertEqual(self.fake.total(), 600)

    def test_expired_answers_are_asked_again(self):
        rec = {"ip": "8.8.8.8", "status": "ok", "fetched_at": int(time.time()) - 10 * 86400,
               "data": synthetic_answer("8.8.8.8")}
        rec2 = {"ip": "9.9.9.9", "status": "not_found", "fetched_at": int(time.time()) - 3600}
        f = self.tmp / "seed.jsonl"
        f.write_text(json.dumps(rec) + "\n" + json.dumps(rec2) + "\n")
        cp = self.run_ce(["cache", "import", f])
        self.assertEqual(cp.stdout, b"imported 2 answers\n")
        cp = self.run_ce([], b"8.8.8.8\n9.9.9.9\n")
        self.assertEqual(self.fake.requests_for("8.8.8.8"), 1)  # 10 days > --ttl 3d
        self.assertEqual(self.fake.requests_for("9.9.9.9"), 0)  # 1 hour < --negative-ttl 1d
        self.fake.reset()
        self.run_ce(["--negative-ttl", "30m"], b"9.9.9.9\n")
        self.assertEqual(self.fake.requests_for("9.9.9.9"), 1)

    def test_export_import_round_trip_and_fire_pages(self):
        self.run_ce([], lines_for(["8.8.8.8", "9.9.9.9", "185.7.214.104"]))
        self.fake.control(rules={"1.0.0.1": ["not_found"]})
        self.run_ce([], b"1.0.0.1\n")
        exp = self.run_ce(["cache", "export"])
        recs = [json.loads(x) for x in exp.stdout.decode().splitlines()]
        self.assertEqual([r["ip"] for r in recs], ["1.0.0.1", "185.7.214.104", "8.8.8.8",
                                                     "9.9.9.9"])
        self.assertEqual(recs[0]["status"], "not_found")
        self.assertEqual(recs[1]["data"],
                         json.loads((fixtures_dir() / "185.7.214.104.json").read_text()))
        f = self.tmp / "export.jsonl"
        f.write_bytes(exp.stdout)
        other = self.tmp / "other.db"
        cp = run_enrich(["cache", "import", f, "--cache", other])
        self.assertEqual(cp.stdout, b"imported 4 answers\n")
        cp = run_enrich(["cache", "import", fixtures_dir() / "fire-page1.json",
                         "--cache", other])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        cp = run_enrich(["cache", "export", "--cache", other])
        self.assertIn(b'"ip":"1.2.3.4"', cp.stdout)
        cp = run_enrich(["--offline", "--cache", other],
                        input=b"8.8.8.8\n1.0.0.1\n185.7.214.104\n")
        self.assertEqual(cp.stdout.decode().splitlines()[0], "8.8.8.8" + syn("8.8.8.8"))
        self.assertIn("crowdsec_status=not_found", cp.stdout.decode().splitlines()[1])

    def test_purge_and_stats(self):
        self.run_ce([], lines_for(["8.8.8.8", "9.9.9.9"]))
        st = self.run_ce(["cache", "stats"])
        self.assertIn(b"answers:      2 (2 found, 0 not found)", st.stdout)
        cp = self.run_ce(["cache", "purge", "--expired"])
        self.assertEqual(cp.stdout, b"purged 0 expired answers\n")
        cp = self.run_ce(["cache", "purge"])
        self.assertEqual(cp.stdout, b"purged 2 answers\n")
        st = self.run_ce(["cache", "stats"])
        self.assertIn(b"answers:      0 (0 found, 0 not found)", st.stdout)

    def test_lookup_command(self):
        cp = self.run_ce(["lookup", "185.7.214.104", "--fields", "all"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = cp.stdout.decode()
        self.assertTrue(out.startswith("crowdsec_ip=185.7.214.104 crowdsec_status=ok "
                                       "crowdsec_reputation=known"))
        self.assertIn(" crowdsec_latitude=55.7386 ", out)
        self.assertIn(" crowdsec_attack_details=crowdsecurity/http-cve-2021-41773,", out)
        self.assertEqual(self.fake.total(), 1)
        cp = self.run_ce(["lookup", "--format", "json", "185.7.214.104", "10.0.0.1"])
        self.assertEqual(self.fake.total(), 1)  # from the cache
        obj = json.loads(cp.stdout)
        self.assertEqual(obj.pop("status"), "ok")
        self.assertEqual(obj, json.loads((fixtures_dir() / "185.7.214.104.json").read_text()))
        self.assertIn(b"10.0.0.1 is not a public address", cp.stderr)
        cp = self.run_ce(["lookup", "not-an-ip"])
        self.assertEqual(cp.returncode, 1)

    def test_plan_spends_nothing(self):
        self.run_ce([], lines_for(["8.8.8.8"]))
        self.fake.reset()
        ips = ["8.8.8.8"] * 5 + ["5.5.5.1"] * 4 + ["5.5.5.2"] * 3 + ["5.5.5.3"] + ["10.0.0.1"]
        f = self.tmp / "in.log"
        f.write_bytes(lines_for(ips))
        cp = self.run_ce(["plan", "--quota", "2/month", f])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(self.fake.total(), 0)
        text = cp.stdout.decode()
        self.assertIn("lines:               14\n", text)
        self.assertIn("unique public IPs:   4\n", text)
        self.assertIn("cached:              1\n", text)
        self.assertIn("to look up:          3 (on 8 lines)\n", text)
        self.assertIn("budget left:         1 (quota 2/month: 1 spent, resets ", text)
        self.assertIn("would not fit:       2 IPs on 4 lines", text)

    def test_prioritize_frequency_spends_budget_on_busiest_ips(self):
        ips = ["5.5.5.3"] + ["5.5.5.1"] * 10 + ["5.5.5.2"] * 5 + ["5.5.5.4"] * 2
        f = self.tmp / "in.log"
        f.write_bytes(lines_for(ips))
        cp = self.run_ce(["--max-queries", "2", f])
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(sorted(self.fake.stats()["per_ip"]), ["5.5.5.1", "5.5.5.2"])
        self.assertIn(b"2 IPs on 3 lines will get status=quota", cp.stderr)
        out = cp.stdout.decode().splitlines()
        self.assertEqual(out[0], "l0 5.5.5.3 crowdsec_ip=5.5.5.3 crowdsec_status=quota")
        # stdin: first come, first served.
        self.fake.reset()
        cp = self.run_ce(["--max-queries", "2", "--cache", self.tmp / "b.db"], lines_for(ips))
        self.assertEqual(sorted(self.fake.stats()["per_ip"]), ["5.5.5.1", "5.5.5.3"])


if __name__ == "__main__":
    unittest.main()
