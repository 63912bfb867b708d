"""Defects found in review, each pinned by the scenario that showed it."""

import json
import os
import resource
import select
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (FakeCTI, FakeCTITestCase, TempDir, base_env, enrich_command, enrich_env,  # noqa: E402
                     run_enrich, start_enrich, synthetic_answer, timeout_scale, wait_until)
from kv_oracle import annotation  # noqa: E402

FAST = ["--retry-delay", "20"]


def syn(ip):
    return annotation(ip, "ok", synthetic_answer(ip))


def read_lines(proc, n, timeout):
    """n lines from proc's stdout, read from the descriptor (no buffering that
    would hide data from select)."""
    data = b""
    deadline = time.monotonic() + timeout * timeout_scale()
    fd = proc.stdout.fileno()
    while data.count(b"\n") < n:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            raise AssertionError("only %d of %d lines came out" % (data.count(b"\n"), n))
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data.decode().splitlines(keepends=True)


class RegressionTest(FakeCTITestCase):

    def setUp(self):
        super().setUp()
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_short_budget_with_a_pipe_argument_loses_no_line(self):
        # A first counting pass would eat a pipe's data.
        cp = run_enrich(FAST + ["--no-cache", "--max-queries", "5", "/dev/stdin"],
                        input=b"8.8.8.8 a\n9.9.9.9 b\n", env=enrich_env(self.fake))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.decode(),
                         "8.8.8.8 a" + syn("8.8.8.8") + "\n9.9.9.9 b" + syn("9.9.9.9") + "\n")

    def test_damaged_cache_row_is_asked_again_not_waited_for(self):
        db = self.tmp / "c.db"
        run_enrich(FAST + ["--cache", db], input=b"1.0.0.1\n", env=enrich_env(self.fake))
        with sqlite3.connect(db) as con:
            con.execute("INSERT OR REPLACE INTO answers VALUES('9.9.9.9', 1, '{\"ip\":', ?)",
                        (int(time.time()),))
        self.fake.reset()
        cp = run_enrich(FAST + ["--cache", db], input=b"9.9.9.9 z\n", env=enrich_env(self.fake),
                        timeout=30)
        self.assertEqual(cp.stdout.decode(), "9.9.9.9 z" + syn("9.9.9.9") + "\n")
        self.assertEqual(self.fake.requests_for("9.9.9.9"), 1)

    def test_write_error_stops_reading_and_looking_up(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        f = self.tmp / "in.log"
        f.write_bytes(b"".join(b"line %d 5.%d.%d.%d\n" % (i, i // 65536 % 256 + 1,
                                                           i // 256 % 256, i % 256 + 1)
                               for i in range(20000)))
        with open("/dev/full", "wb") as full:
            cp = subprocess.run(enrich_command(FAST + ["--no-cache", "--window-lines", "100", f]),
                                stdout=full, stderr=subprocess.PIPE,
                                env=base_env(enrich_env(self.fake)),
                                timeout=120 * timeout_scale())
        self.assertEqual(cp.returncode, 3)
        self.assertIn(b"cannot write the output", cp.stderr)
        self.assertLess(self.fake.total(), 2000)

    def test_waiting_for_a_retry_with_busy_slots_does_not_spin(self):
        if os.environ.get("CTI_ENRICH_WRAPPER"):
            self.skipTest("CPU time is meaningless under a wrapper")
        self.fake.control(rules={"8.8.8.8": ["error503", "ok"], "9.9.9.9": ["hang"]})
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cp = run_enrich(FAST + ["--no-cache", "--concurrency", "1", "--retries", "1",
                                "--timeout", "3s", "--retry-delay", "100"],
                        input=b"9.9.9.9\n8.8.8.8\n", env=enrich_env(self.fake))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.assertEqual(cp.returncode, 0)
        self.assertIn(b"8.8.8.8 crowdsec_ip=8.8.8.8 crowdsec_status=ok", cp.stdout)
        self.assertLess(cpu, 0.5, "busy-waiting: %.2f s of CPU" % cpu)

    def test_quota_without_cache_beats_a_larger_max_queries(self):
        ips = ["7.1.1.%d" % i for i in range(1, 7)]
        cp = run_enrich(FAST + ["--no-cache", "--quota", "2/day", "--max-queries", "5",
                                "--concurrency", "1"],
                        input="".join(ip + "\n" for ip in ips), env=enrich_env(self.fake))
        self.assertEqual(self.fake.total(), 2)
        self.assertEqual(cp.stdout.decode().count("crowdsec_status=quota"), 4)

    def test_answer_dropped_from_memory_comes_back_after_its_ttl(self):
        ips = ["6.1.%d.%d" % (i // 100, i % 100 + 1) for i in range(60)]
        p = start_enrich(FAST + ["--cache", self.tmp / "c.db", "--ttl", "2s",
                                 "--table-memory", "16k"], env=enrich_env(self.fake))
        try:
            p.stdin.write("".join(ip + "\n" for ip in ips).encode())
            p.stdin.flush()
            self.assertEqual(len(read_lines(p, 60, 20)), 60)
            time.sleep(3)
            p.stdin.write(("again %s\n" % ips[0]).encode())
            p.stdin.flush()
            self.assertEqual(read_lines(p, 1, 20), ["again %s%s\n" % (ips[0], syn(ips[0]))])
        finally:
            p.stdin.close()
            p.wait(timeout=30 * timeout_scale())
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(self.fake.total(), 60)

    def test_crlf_line_of_exactly_max_line_split_across_reads(self):
        p = start_enrich(FAST + ["--no-cache", "--max-line", "16"], env=enrich_env(self.fake))
        try:
            p.stdin.write(b"8.8.4.4 abcdefgh\r")
            p.stdin.flush()
            time.sleep(0.5)
            p.stdin.write(b"\n")
            p.stdin.close()
            out = p.stdout.read()
            err = p.stderr.read()
            p.wait(timeout=30 * timeout_scale())
        finally:
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(out.decode(), "8.8.4.4 abcdefgh" + syn("8.8.4.4") + "\r\n")
        self.assertNotIn(b"longer than", err)

    def test_cti_data_with_an_ip_twice_counts_it_once(self):
        f = self.tmp / "d.jsonl"
        f.write_text(json.dumps(synthetic_answer("8.8.8.8")) + "\n" +
                     json.dumps(synthetic_answer("8.8.8.8")) + "\n")
        cp = run_enrich(["--offline", "--no-cache", "--cti-data", f, "-v"], input=b"8.8.8.8\n")
        self.assertIn(b"ok 1, not_found 0", cp.stderr)

    def test_environment_key_beats_a_key_file_in_the_config(self):
        kf = self.tmp / "key"
        kf.write_text("wrong-key\n")
        cfg = self.tmp / "config"
        cfg.write_text("key-file = %s\nno-cache = true\n" % kf)
        cp = run_enrich(FAST + ["--config", cfg], input=b"8.8.8.8\n", env=enrich_env(self.fake))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.decode(), "8.8.8.8" + syn("8.8.8.8") + "\n")
        # ... and --key-file on the command line beats the environment.
        cp = run_enrich(FAST + ["--config", cfg, "--key-file", kf], input=b"8.8.8.8\n",
                        env=enrich_env(self.fake))
        self.assertEqual(cp.returncode, 4)


if __name__ == "__main__":
    unittest.main()
