"""Named parsers restrict the lookup to the address that matters."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import TempDir, run_enrich  # noqa: E402

LINES = (b'8.8.8.8 - - [04/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" '
         b'xff="9.9.9.9, 10.0.0.1, 8.8.4.4"\n'
         b'sshd[1]: Failed password for root from 1.0.0.1 port 22 ssh2 (relay 8.8.4.4)\n'
         b'sshd[1]: Connection closed by invalid user bob 2a01:4f8::7 port 51000 [preauth]\n'
         b'kernel: IN=eth0 OUT= SRC=5.6.7.8 DST=9.9.9.9 PROTO=TCP\n'
         b'{"remote_addr": "4.4.4.4", "upstream": "8.8.8.8"}\n')


def ips_per_line(out):
    res = []
    for line in out.decode().splitlines():
        res.append([w.split("=", 1)[1] for w in line.split() if w.startswith("crowdsec_ip")])
    return res


class ParserTest(unittest.TestCase):

    def run_parser(self, name):
        cp = run_enrich(["--offline", "--no-cache", "--parser", name], input=LINES)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return ips_per_line(cp.stdout)

    def test_default_finds_every_address(self):
        self.assertEqual(self.run_parser("default"),
                         [["8.8.8.8", "9.9.9.9", "8.8.4.4"], ["1.0.0.1", "8.8.4.4"],
                          ["2a01:4f8::7"], ["5.6.7.8", "9.9.9.9"], ["4.4.4.4", "8.8.8.8"]])

    def test_named_parsers(self):
        self.assertEqual(self.run_parser("apache"), [["8.8.8.8"], [], [], [], []])
        self.assertEqual(self.run_parser("xff"), [["9.9.9.9"], [], [], [], []])
        self.assertEqual(self.run_parser("sshd"), [[], ["1.0.0.1"], ["2a01:4f8::7"], [], []])
        self.assertEqual(self.run_parser("iptables"), [[], [], [], ["5.6.7.8"], []])
        self.assertEqual(self.run_parser("json-client"), [[], [], [], [], ["4.4.4.4"]])

    def test_lines_keep_their_bytes_whatever_the_parser(self):
        cp = run_enrich(["--offline", "--no-cache", "--parser", "iptables"], input=LINES)
        out = cp.stdout.split(b"\n")
        self.assertEqual(out[0] + b"\n", LINES.split(b"\n")[0] + b"\n")
        self.assertTrue(out[3].startswith(LINES.split(b"\n")[3] + b" crowdsec_ip=5.6.7.8 "))

    def test_list_and_unknown(self):
        cp = run_enrich(["--list-parsers"])
        names = [line.split()[0] for line in cp.stdout.decode().splitlines()]
        self.assertEqual(sorted(names),
                         ["apache", "default", "iptables", "json-client", "sshd", "xff"])
        cp = run_enrich(["--offline", "--parser", "nope"], input=b"")
        self.assertEqual(cp.returncode, 1)
        self.assertIn(b"unknown parser 'nope'", cp.stderr)

    def test_parser_file_by_path(self):
        with TempDir() as d:
            f = d / "mine.parser"
            f.write_text("description = test\npattern = peer=(?<ip>\\S+)\n")
            cp = run_enrich(["--offline", "--no-cache", "--parser", f],
                            input=b"peer=8.8.8.8 other=9.9.9.9\n")
            self.assertEqual(ips_per_line(cp.stdout), [["8.8.8.8"]])
            f.write_text("pattern = peer=(\\S+)\n")
            cp = run_enrich(["--offline", "--parser", f], input=b"")
            self.assertEqual(cp.returncode, 1)
            self.assertIn(b"no (?<ip>...) group", cp.stderr)


if __name__ == "__main__":
    unittest.main()
