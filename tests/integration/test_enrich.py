"""The enrichment filter end to end: the real binary against the fake CTI
server over HTTP on loopback. Exact output, exact request counts, exact exit
statuses."""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (FakeCTI, FakeCTITestCase, TempDir, enrich_env, fixtures_dir, run_enrich,  # noqa: E402
                     start_enrich, synthetic_answer, timeout_scale, write_gzip)
from kv_oracle import annotation  # noqa: E402

FIXTURE_IP = "185.7.214.104"
FIXTURE_KV = (
    " crowdsec_ip=185.7.214.104 crowdsec_status=ok crowdsec_reputation=known"
    " crowdsec_confidence=none crowdsec_background_noise=none"
    " crowdsec_background_noise_score=0 crowdsec_ip_range=185.7.214.0/24"
    " crowdsec_ip_range_score=0 crowdsec_as_name=\"Chang Way Technologies Co. Limited\""
    " crowdsec_as_num=207566 crowdsec_country=RU"
    " crowdsec_behaviors=http:exploit,http:bruteforce,generic:exploit,http:scan,http:crawl"
    " crowdsec_mitre_techniques=T1190,T1595,T1110"
    " crowdsec_cves=CVE-2021-41773,CVE-2018-20062 crowdsec_target_countries=DE,GB,UA,US"
    " crowdsec_first_seen=2022-06-14T20:00:00+00:00"
    " crowdsec_last_seen=2024-03-10T21:00:00+00:00 crowdsec_overall_aggressiveness=2"
    " crowdsec_overall_total=2 crowdsec_last_day_aggressiveness=0 crowdsec_last_day_total=0"
    " crowdsec_last_week_aggressiveness=0 crowdsec_last_week_total=0"
    " crowdsec_last_month_aggressiveness=0 crowdsec_last_month_total=2")

FAST = ["--retry-delay", "20", "--no-cache"]


def syn(ip, index=1):
    return annotation(ip, "ok", synthetic_answer(ip), index)


class EnrichTest(FakeCTITestCase):

    def run_ce(self, args, data, **kw):
        return run_enrich(FAST + args, input=data, env=enrich_env(self.fake), **kw)

    # -- output -----------------------------------------------------------

    def test_fixture_line_exact_kv(self):
        cp = self.run_ce([], b"GET / from 185.7.214.104:51234\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.decode(), "GET / from 185.7.214.104:51234" + FIXTURE_KV + "\n")
        self.assertEqual(self.fake.requests_for(FIXTURE_IP), 1)
        self.assertEqual(cp.stderr, b"")

    def test_lines_without_public_ip_are_byte_identical(self):
        data = (b"no address here\n"
                b"private 10.1.2.3 and 192.168.0.1 and ::1\r\n"
                b"loopback 127.0.0.1 doc 203.0.113.9 cgnat 100.64.0.1\n"
                b"nul \x00 bytes and bad utf8 \xff\xfe\n"
                b"version 1.2.3.4.5 and 999.1.1.1 and std::string Foo::Bar\n"
                b"\n"
                b"last line without newline")
        cp = self.run_ce([], data)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, data)
        self.assertEqual(self.fake.total(), 0)

    def test_crlf_and_missing_final_newline_kept(self):
        data = b"a 8.8.8.8\r\nb 8.8.8.8"
        cp = self.run_ce([], data)
        ann = syn("8.8.8.8").encode()
        self.assertEqual(cp.stdout, b"a 8.8.8.8" + ann + b"\r\nb 8.8.8.8" + ann)

    def test_invalid_utf8_and_nul_kept_in_annotated_line(self):
        data = b"\xff\x00 9.9.9.9 \xc3\x28\n"
        cp = self.run_ce([], data)
        self.assertEqual(cp.stdout, b"\xff\x00 9.9.9.9 \xc3\x28" + syn("9.9.9.9").encode() + b"\n")

    def test_several_ips_get_suffixes(self):
        line = "xff=8.8.8.8, 9.9.9.9 client [2a01:4f8::1]:443 again 8.8.8.8"
        cp = self.run_ce([], (line + "\n").encode())
        want = line + syn("8.8.8.8") + syn("9.9.9.9", 2) + syn("2a01:4f8::1", 3) + "\n"
        self.assertEqual(cp.stdout.decode(), want)
        self.assertEqual(self.fake.requests_for("2a01:4f8::1"), 1)

    def test_ipv4_mapped_looked_up_as_ipv4(self):
        cp = self.run_ce([], b"from ::ffff:8.8.4.4 here\n")
        self.assertEqual(cp.stdout.decode(), "from ::ffff:8.8.4.4 here" + syn("8.8.4.4") + "\n")
        self.assertEqual(self.fake.requests_for("8.8.4.4"), 1)

    def test_ignore_list(self):
        cp = self.run_ce(["--ignore", "8.8.8.0/24"], b"8.8.8.8 and 9.9.9.9\n")
        self.assertEqual(cp.stdout.decode(), "8.8.8.8 and 9.9.9.9" + syn("9.9.9.9") + "\n")
        self.assertEqual(self.fake.total(), 1)

    def test_fields_selection(self):
        cp = self.run_ce(["--fields", "reputation,as_num"], b"x 185.7.214.104\n")
        self.assertEqual(cp.stdout.decode(),
                         "x 185.7.214.104 crowdsec_ip=185.7.214.104 crowdsec_status=ok "
                         "crowdsec_reputation=known crowdsec_as_num=207566\n")

    def test_unknown_field_is_usage_error(self):
        cp = self.run_ce(["--fields", "reputation,bogus"], b"")
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b"unknown field 'bogus'", cp.stderr)

    def test_json_format(self):
        data = (b'{"msg": "login", "src": "185.7.214.104"}\n'
                b'plain 8.8.8.8 line\n'
                b'no ip\n'
                b'{}\n')
        cp = self.run_ce(["--format", "json"], data)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        lines = cp.stdout.decode().split("\n")
        self.assertEqual(len(lines), 5)
        self.assertEqual(lines[4], "")
        first = json.loads(lines[0])
        self.assertEqual(first["msg"], "login")
        self.assertEqual(first["src"], FIXTURE_IP)
        expected = json.loads((fixtures_dir() / "185.7.214.104.json").read_text())
        elem = first["crowdsec"][0]
        self.assertEqual(elem.pop("status"), "ok")
        self.assertEqual(elem, expected)
        self.assertTrue(lines[0].startswith('{"msg": "login", "src": "185.7.214.104",'))
        second = json.loads(lines[1])
        self.assertEqual(second["message"], "plain 8.8.8.8 line")
        self.assertEqual(second["crowdsec"][0]["ip"], "8.8.8.8")
        self.assertEqual(second["crowdsec"][0]["reputation"],
                         synthetic_answer("8.8.8.8")["reputation"])
        self.assertEqual(json.loads(lines[2]), {"message": "no ip", "crowdsec": []})
        self.assertEqual(json.loads(lines[3])["crowdsec"], [])

    def test_json_enriching_twice_keeps_one_crowdsec_member(self):
        first = self.run_ce(["--format", "json"], b'{"src": "8.8.8.8"}\nplain 9.9.9.9\n')
        second = self.run_ce(["--format", "json"], first.stdout)
        lines = second.stdout.decode().splitlines()
        self.assertEqual(len(lines), 2)
        for line in lines:
            self.assertEqual(line.count('"crowdsec":'), 1, line)
        self.assertEqual(json.loads(lines[0])["src"], "8.8.8.8")
        self.assertEqual(json.loads(lines[1])["message"], "plain 9.9.9.9")
        # The first IP of each line is still the one the line was about.
        self.assertEqual(json.loads(lines[0])["crowdsec"][0]["ip"], "8.8.8.8")

    def test_json_output_is_valid_utf8(self):
        cp = self.run_ce(["--format", "json"], b"bad \xff\xfe ctl \x01 8.8.8.8\n")
        obj = json.loads(cp.stdout.decode("utf-8"))
        self.assertEqual(obj["message"], "bad \ufffd\ufffd ctl \x01 8.8.8.8")

    # -- dedup and concurrency -------------------------------------------

    def test_each_ip_asked_once_and_order_kept(self):
        ips = ["8.8.%d.%d" % (i, i + 1) for i in range(1, 21)]
        lines = ["%05d %s\n" % (n, ips[(n * 7) % 20]) for n in range(2000)]
        cp = self.run_ce(["--concurrency", "4"], "".join(lines).encode())
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = cp.stdout.decode().split("\n")
        self.assertEqual(len(out), 2001)
        for n, line in enumerate(out[:-1]):
            ip = ips[(n * 7) % 20]
            self.assertEqual(line, "%05d %s%s" % (n, ip, syn(ip)))
        st = self.fake.stats()
        self.assertEqual(st["total"], 20)
        self.assertEqual(sorted(st["per_ip"].values()), [1] * 20)

    def test_repeated_ip_joins_lookup_in_flight(self):
        self.fake.control(delay_ms=300)
        try:
            cp = self.run_ce([], b"".join(b"%d 8.8.8.8\n" % i for i in range(50)))
        finally:
            self.fake.control(delay_ms=0)
        self.assertEqual(len(cp.stdout.split(b"\n")), 51)
        self.assertEqual(self.fake.total(), 1)

    def test_order_kept_when_answers_arrive_out_of_order(self):
        delays = {"8.8.8.1": 700, "8.8.8.2": 150, "8.8.8.3": 400, "8.8.8.4": 250}
        self.fake.control(ip_delay_ms=delays)
        data = "".join("line%d %s\n" % (i, ip) for i, ip in enumerate(delays)).encode()
        cp = self.run_ce(["--concurrency", "4"], data)
        want = "".join("line%d %s%s\n" % (i, ip, syn(ip)) for i, ip in enumerate(delays))
        self.assertEqual(cp.stdout.decode(), want)
        self.assertEqual(self.fake.stats()["in_flight_max"], 4)

    def test_concurrency_cap(self):
        self.fake.control(delay_ms=200)
        try:
            data = "".join("%d 8.8.9.%d\n" % (i, i) for i in range(1, 11)).encode()
            cp = self.run_ce(["--concurrency", "2"], data)
        finally:
            self.fake.control(delay_ms=0)
        self.assertEqual(cp.returncode, 0)
        st = self.fake.stats()
        self.assertEqual(st["total"], 10)
        self.assertEqual(st["in_flight_max"], 2)

    def test_headers_sent(self):
        self.run_ce([], b"8.8.8.8\n")
        st = self.fake.stats()
        self.assertEqual(st["user_agents"], ["cti-enrich/0.1.0"])
        self.assertEqual(st["keys_seen_ok"], 1)

    # -- statuses -----------------------------------------------------------

    def test_not_found(self):
        self.fake.control(rules={"8.8.8.8": ["not_found"]})
        cp = self.run_ce([], b"a 8.8.8.8\n")
        self.assertEqual(cp.stdout.decode(),
                         "a 8.8.8.8 crowdsec_ip=8.8.8.8 crowdsec_status=not_found "
                         "crowdsec_reputation=unknown\n")
        self.assertEqual(cp.returncode, 0)

    def test_forbidden_key(self):
        env = enrich_env(self.fake, CTI_API_KEY="wrong-key")
        data = b"".join(b"%d 8.8.7.%d\n" % (i, i) for i in range(1, 30))
        cp = run_enrich(FAST + ["--concurrency", "1"], input=data, env=env)
        self.assertEqual(cp.returncode, 4)
        out = cp.stdout.decode().split("\n")
        self.assertEqual(len(out), 30)
        for i, line in enumerate(out[:-1], start=1):
            self.assertEqual(line, "%d 8.8.7.%d crowdsec_ip=8.8.7.%d crowdsec_status=error"
                             % (i, i, i))
        self.assertEqual(cp.stderr.decode().count("rejected the key"), 1)
        self.assertNotIn(b"wrong-key", cp.stderr)
        self.assertEqual(self.fake.total(), 1)

    def test_limit_exceeded_stops_lookups(self):
        self.fake.control(rules={"8.8.7.2": ["limit"]})
        data = b"".join(b"%d 8.8.7.%d\n" % (i, i) for i in range(1, 6))
        cp = self.run_ce(["--concurrency", "1"], data)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = cp.stdout.decode().split("\n")
        self.assertEqual(out[0], "1 8.8.7.1" + syn("8.8.7.1"))
        for i in range(2, 6):
            self.assertEqual(out[i - 1], "%d 8.8.7.%d crowdsec_ip=8.8.7.%d crowdsec_status=quota"
                             % (i, i, i))
        self.assertEqual(self.fake.total(), 2)
        self.assertIn(b"Limit Exceeded", cp.stderr)

    def test_throttle_is_retried(self):
        self.fake.control(rules={"8.8.8.8": ["throttle", "throttle", "ok"]})
        cp = self.run_ce([], b"8.8.8.8\n")
        self.assertEqual(cp.stdout.decode(), "8.8.8.8" + syn("8.8.8.8") + "\n")
        self.assertEqual(self.fake.requests_for("8.8.8.8"), 3)

    def test_5xx_retries_then_error(self):
        self.fake.control(rules={"8.8.8.8": ["error503"]})
        cp = self.run_ce(["--retries", "2"], b"8.8.8.8\nnext 9.9.9.9\n")
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(cp.stdout.decode(),
                         "8.8.8.8 crowdsec_ip=8.8.8.8 crowdsec_status=error\n"
                         "next 9.9.9.9" + syn("9.9.9.9") + "\n")
        self.assertEqual(self.fake.requests_for("8.8.8.8"), 3)
        self.assertIn(b"lookup of 8.8.8.8 failed: HTTP status 503", cp.stderr)

    def test_html_200_is_error_not_retried(self):
        self.fake.control(rules={"8.8.8.8": ["html200"], "9.9.9.9": ["garbage200"]})
        cp = self.run_ce([], b"8.8.8.8\n9.9.9.9\n")
        self.assertEqual(cp.stdout.decode(),
                         "8.8.8.8 crowdsec_ip=8.8.8.8 crowdsec_status=error\n"
                         "9.9.9.9 crowdsec_ip=9.9.9.9 crowdsec_status=error\n")
        self.assertEqual(self.fake.total(), 2)
        self.assertIn(b"invalid answer", cp.stderr)

    # -- keys and offline ---------------------------------------------------

    def test_no_key_is_a_clear_usage_error(self):
        cp = run_enrich(["--no-cache"], input=b"8.8.8.8\n")
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b"CTI_API_KEY", cp.stderr)
        self.assertEqual(cp.stdout, b"")

    def test_key_on_command_line_refused(self):
        cp = run_enrich(["--key", "abc"], input=b"")
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b"not accepted on the command line", cp.stderr)

    def test_key_file(self):
        with TempDir() as d:
            kf = d / "key"
            kf.write_text(self.fake.key + "\n")
            cp = run_enrich(FAST + ["--key-file", kf], input=b"8.8.8.8\n",
                            env={"CTI_API_URL": self.fake.url})
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.decode(), "8.8.8.8" + syn("8.8.8.8") + "\n")

    def test_offline_without_data(self):
        cp = run_enrich(["--offline", "--no-cache"], input=b"8.8.8.8\nprivate 10.0.0.1\n")
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(cp.stdout, b"8.8.8.8 crowdsec_ip=8.8.8.8 crowdsec_status=offline\n"
                                    b"private 10.0.0.1\n")

    def test_offline_with_cti_data(self):
        with TempDir() as d:
            data = d / "cti.jsonl"
            data.write_text(json.dumps(synthetic_answer("8.8.8.8")) + "\n" +
                            json.dumps({"ip": "9.9.9.9", "status": "not_found"}) + "\n")
            cp = run_enrich(["--offline", "--no-cache", "--cti-data", data],
                            input=b"8.8.8.8\n9.9.9.9\n1.0.0.1\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.decode(),
                         "8.8.8.8" + syn("8.8.8.8") + "\n"
                         "9.9.9.9 crowdsec_ip=9.9.9.9 crowdsec_status=not_found "
                         "crowdsec_reputation=unknown\n"
                         "1.0.0.1 crowdsec_ip=1.0.0.1 crowdsec_status=offline\n")

    def test_cti_data_accepts_fire_pages(self):
        with TempDir() as d:
            page = (fixtures_dir() / "fire-page1.json").read_text()
            (d / "fire.json").write_text(page)
            cp = run_enrich(["--offline", "--no-cache", "--cti-data", d / "fire.json",
                             "--fields", "reputation,as_num"], input=b"1.2.3.4\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, b"1.2.3.4 crowdsec_ip=1.2.3.4 crowdsec_status=ok "
                                    b"crowdsec_as_num=3064\n")

    def test_bad_cti_data_is_usage_error(self):
        with TempDir() as d:
            (d / "bad.jsonl").write_text('{"ip": "8.8.8.8", "reputation": "x"}\n{"trunc')
            cp = run_enrich(["--offline", "--no-cache", "--cti-data", d / "bad.jsonl"],
                            input=b"")
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b"bad.jsonl", cp.stderr)

    # -- input --------------------------------------------------------------

    def test_gzip_on_stdin_with_concatenated_members(self):
        with TempDir() as d:
            p = write_gzip(d / "a.gz", "one 8.8.8.8\ntwo\nthree 9.9.9.9\n", members=3)
            cp = self.run_ce([], p.read_bytes())
        self.assertEqual(cp.stdout.decode(), "one 8.8.8.8" + syn("8.8.8.8") + "\ntwo\n"
                         "three 9.9.9.9" + syn("9.9.9.9") + "\n")

    def test_truncated_gzip_file(self):
        body = "".join("line %d\n" % i for i in range(20000)).encode()
        with TempDir() as d:
            p = write_gzip(d / "cut.log.gz", body)
            raw = p.read_bytes()
            p.write_bytes(raw[: len(raw) // 2])
            other = d / "other.log"
            other.write_bytes(b"after 8.8.8.8\n")
            cp = self.run_ce([p, other], None)
        self.assertEqual(cp.returncode, 2)
        self.assertIn(b"cut.log.gz", cp.stderr)
        self.assertIn(b"unexpected end", cp.stderr)
        out = cp.stdout
        self.assertTrue(out.endswith(b"after 8.8.8.8" + syn("8.8.8.8").encode() + b"\n"))
        got = out[: -len(b"after 8.8.8.8" + syn("8.8.8.8").encode() + b"\n")]
        self.assertGreater(len(got), 1000)
        self.assertTrue(body.startswith(got))

    def test_missing_file_others_processed(self):
        with TempDir() as d:
            good = d / "good.log"
            good.write_bytes(b"x 8.8.8.8\n")
            cp = self.run_ce([d / "missing.log", good], None)
        self.assertEqual(cp.returncode, 2)
        self.assertIn(b"missing.log", cp.stderr)
        self.assertEqual(cp.stdout.decode(), "x 8.8.8.8" + syn("8.8.8.8") + "\n")

    def test_long_line_passes_through_unannotated(self):
        big = b"8.8.8.8 " + b"A" * (2 * 1024 * 1024) + b" 9.9.9.9"
        data = b"before 8.8.4.4\n" + big + b"\nafter 1.0.0.1\n"
        cp = self.run_ce([], data)
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(cp.stdout, b"before 8.8.4.4" + syn("8.8.4.4").encode() + b"\n" + big +
                         b"\nafter 1.0.0.1" + syn("1.0.0.1").encode() + b"\n")
        self.assertEqual(cp.stderr.decode().count("longer than"), 1)
        self.assertEqual(self.fake.requests_for("8.8.8.8"), 0)

    def test_binary_garbage_passes_through(self):
        import random
        rnd = random.Random(7)
        data = bytes(rnd.getrandbits(8) for _ in range(300000))
        cp = run_enrich(["--offline", "--no-cache"], input=data)
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(cp.stdout, data)

    # -- output errors ----------------------------------------------------

    def test_closed_pipe_ends_quietly(self):
        data = b"".join(b"%d 8.8.8.8\n" % i for i in range(200000))
        with TempDir() as d:
            f = d / "in.log"
            f.write_bytes(data)
            env = enrich_env(self.fake)
            from harness import enrich_command, base_env
            p1 = subprocess.Popen(enrich_command(FAST + [f]), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=base_env(env))
            first = p1.stdout.readline()
            p1.stdout.close()
            err = p1.stderr.read()
            p1.stderr.close()
            rc = p1.wait(timeout=60 * timeout_scale())
        self.assertTrue(first.startswith(b"0 8.8.8.8 crowdsec_ip=8.8.8.8"))
        self.assertEqual(rc, 0)
        self.assertEqual(err, b"")

    def test_write_error_exit_3(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        with open("/dev/full", "wb") as full:
            from harness import enrich_command, base_env
            cp = subprocess.run(enrich_command(["--offline", "--no-cache"]),
                                input=b"x\n" * 100000, stdout=full, stderr=subprocess.PIPE,
                                env=base_env(), timeout=60 * timeout_scale())
        self.assertEqual(cp.returncode, 3)
        self.assertIn(b"cannot write the output", cp.stderr)

    # -- live tail ------------------------------------------------------------

    def test_live_tail_lines_appear_while_input_stays_open(self):
        p = start_enrich(FAST, env=enrich_env(self.fake))
        try:
            import select
            for i, ip in enumerate(["8.8.8.8", "9.9.9.9", "8.8.8.8"]):
                p.stdin.write(b"tail %d %s\n" % (i, ip.encode()))
                p.stdin.flush()
                ready, _, _ = select.select([p.stdout], [], [], 10 * timeout_scale())
                self.assertTrue(ready, "line %d did not come out while stdin is open" % i)
                line = p.stdout.readline().decode()
                self.assertEqual(line, "tail %d %s%s\n" % (i, ip, syn(ip)))
        finally:
            p.stdin.close()
            p.wait(timeout=30 * timeout_scale())
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(p.returncode, 0)
        self.assertEqual(self.fake.total(), 2)


    def test_sigterm_writes_every_line_read(self):
        import signal
        # Its own server: the requests it leaves hanging must not count in
        # the shared server's in-flight figures.
        with FakeCTI(delay_ms=20000) as slow:
            p = start_enrich(FAST + ["--timeout", "60s"], env=enrich_env(slow))
            try:
                p.stdin.write(b"first 8.8.8.8\nno ip here\nthird 9.9.9.9\npartial 1.0.0.1")
                p.stdin.flush()
                from harness import wait_until
                self.assertTrue(wait_until(lambda: slow.total() >= 2, timeout=10))
                p.send_signal(signal.SIGTERM)
                out, err = p.communicate(timeout=20 * timeout_scale())
            finally:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode(),
                         "first 8.8.8.8 crowdsec_ip=8.8.8.8 crowdsec_status=error\n"
                         "no ip here\n"
                         "third 9.9.9.9 crowdsec_ip=9.9.9.9 crowdsec_status=error\n"
                         "partial 1.0.0.1 crowdsec_ip=1.0.0.1 crowdsec_status=error")
        self.assertIn(b"stopped by a signal", err)


class CliTest(unittest.TestCase):

    def test_help_and_version(self):
        cp = run_enrich(["--help"])
        self.assertEqual(cp.returncode, 0)
        for opt in (b"--format", b"--fields", b"--concurrency", b"--offline", b"--cti-data",
                    b"--max-queries", b"--quota", b"--cache", b"--key-file", b"Exit status"):
            self.assertIn(opt, cp.stdout)
        cp = run_enrich(["--version"])
        self.assertEqual(cp.stdout, b"cti-enrich 0.1.0\n")

    def test_unknown_option(self):
        cp = run_enrich(["--bogus"])
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b"unknown option '--bogus'", cp.stderr)

    def test_bad_values(self):
        for args in (["--format", "xml"], ["--concurrency", "0"], ["--concurrency", "x"],
                     ["--quota", "10/year"], ["--ttl", "3x"]):
            cp = run_enrich(args + ["--offline"], input=b"")
            self.assertEqual(cp.returncode, 1, args)
            self.assertNotEqual(cp.stderr, b"", args)

    def test_config_file(self):
        with TempDir() as d:
            cfg = d / "config"
            cfg.write_text("# settings\nformat = json\noffline = true\nno-cache = yes\n")
            cp = run_enrich(["--config", cfg], input=b"8.8.8.8\n")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual(json.loads(cp.stdout),
                             {"message": "8.8.8.8",
                              "crowdsec": [{"ip": "8.8.8.8", "status": "offline"}]})
            cfg.write_text("bogus = 1\n")
            cp = run_enrich(["--config", cfg], input=b"")
            self.assertEqual(cp.returncode, 1)
            self.assertIn(b"unknown setting 'bogus'", cp.stderr)

    def test_list_fields(self):
        cp = run_enrich(["--list-fields"])
        names = cp.stdout.decode().split()
        self.assertEqual(names[0], "crowdsec_reputation")
        self.assertIn("crowdsec_last_day_aggressiveness", names)


if __name__ == "__main__":
    unittest.main()
