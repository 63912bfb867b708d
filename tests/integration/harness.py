"""Helpers for the cti-enrich integration tests (Python 3 standard library).

Usage from a test module in this folder::

    sys.path.insert(0, os.path.dirname(__file__))
    from harness import FakeCTI, run_enrich, enrich_env

    with FakeCTI(premium=True) as fake:
        fake.control(rules={"203.0.113.7": ["throttle", "ok"]})
        cp = run_enrich(["--format", "json"], input=b"...",
                        env=enrich_env(fake))
        assert fake.requests_for("203.0.113.7") == 2

Environment read here:
  CTI_ENRICH_BIN      the binary under test (set by ctest)
  CTI_SOURCE_DIR      the source tree (set by ctest); fixtures live in
                      <CTI_SOURCE_DIR>/tests/fixtures
  CTI_ENRICH_WRAPPER  optional command prefix, e.g. "valgrind -q
                      --error-exitcode=99"; timeouts are then scaled by 20
"""

import atexit
import gzip
import http.client
import json
import os
import select
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fake_cti import BEHAVIOURS, synthetic_answer  # noqa: E402  (re-exported)

__all__ = ["FakeCTI", "run_enrich", "start_enrich", "enrich_env",
           "enrich_command", "enrich_bin", "base_env", "source_dir",
           "fixtures_dir", "timeout_scale", "write_gzip", "unused_port",
           "wait_until", "TempDir", "synthetic_answer", "BEHAVIOURS",
           "FakeCTITestCase"]

FAKE_CTI_SCRIPT = HERE / "fake_cti.py"

# Variables never inherited by the binary: its own configuration (anything
# CTI_* apart from the harness's own variables) and proxies, which would send
# libcurl's 127.0.0.1 requests elsewhere.
_HARNESS_VARS = {"CTI_ENRICH_BIN", "CTI_SOURCE_DIR", "CTI_ENRICH_WRAPPER"}
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy",
               "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}


# --------------------------------------------------------------------------
# Paths and temporary directories
# --------------------------------------------------------------------------

def source_dir():
    """The source tree: $CTI_SOURCE_DIR, else the tree holding this file."""
    env = os.environ.get("CTI_SOURCE_DIR")
    return Path(env) if env else HERE.parents[1]


def fixtures_dir():
    return source_dir() / "tests" / "fixtures"


def enrich_bin():
    """The binary under test: $CTI_ENRICH_BIN, else <source>/build/cti-enrich."""
    env = os.environ.get("CTI_ENRICH_BIN")
    if env:
        return env
    fallback = source_dir() / "build" / "cti-enrich"
    if fallback.is_file():
        return str(fallback)
    raise RuntimeError("CTI_ENRICH_BIN is not set (run the tests with ctest "
                       "or export CTI_ENRICH_BIN=/path/to/cti-enrich)")


_session_tmp = None


def _session_dir():
    """One temp dir per test process, removed at exit."""
    global _session_tmp
    if _session_tmp is None:
        _session_tmp = tempfile.mkdtemp(prefix="cti-enrich-it-")
        atexit.register(shutil.rmtree, _session_tmp, True)
    return _session_tmp


class TempDir:
    """A temporary directory as a context manager; `.path` is a Path.

    `TempDir() / "name"` gives a path inside it.  Removed on exit.
    """

    def __init__(self, prefix="cti-enrich-it-"):
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=_session_dir()))

    def __truediv__(self, name):
        return self.path / name

    def __fspath__(self):
        return str(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


# --------------------------------------------------------------------------
# Running the binary
# --------------------------------------------------------------------------

def timeout_scale():
    """20 under CTI_ENRICH_WRAPPER (valgrind...), else 1."""
    return 20 if os.environ.get("CTI_ENRICH_WRAPPER", "").strip() else 1


def base_env(env=None):
    """The environment of one run of the binary.

    A copy of os.environ without CTI_* variables (except the harness's own),
    proxies, XDG_CACHE_HOME and XDG_CONFIG_HOME; XDG_CACHE_HOME and
    XDG_CONFIG_HOME then point into a fresh empty temp dir, so no run sees
    another run's cache or the user's.  Finally `env` is applied: a value of
    None removes the variable.  To share a cache between runs, pass the same
    XDG_CACHE_HOME in `env` each time.
    """
    result = {k: v for k, v in os.environ.items()
              if not (k.startswith("CTI_") and k not in _HARNESS_VARS)
              and k not in _PROXY_VARS
              and k not in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    fresh = Path(tempfile.mkdtemp(prefix="run-", dir=_session_dir()))
    for name, sub in (("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config")):
        (fresh / sub).mkdir()
        result[name] = str(fresh / sub)
    for name, value in (env or {}).items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = str(value)
    return result


def enrich_command(args):
    """[wrapper...] + [binary] + args (Path arguments are converted)."""
    wrapper = shlex.split(os.environ.get("CTI_ENRICH_WRAPPER", ""))
    return wrapper + [enrich_bin()] + [os.fspath(a) for a in args]


def run_enrich(args, input=None, env=None, timeout=120, cwd=None):
    """Run the binary to completion; return a CompletedProcess (bytes I/O).

    `input` may be bytes or str (UTF-8).  Raises subprocess.TimeoutExpired
    (after killing the binary) on timeout, scaled under CTI_ENRICH_WRAPPER.
    """
    if isinstance(input, str):
        input = input.encode("utf-8")
    return subprocess.run(enrich_command(args), input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=base_env(env), cwd=cwd,
                          timeout=timeout * timeout_scale())


def start_enrich(args, env=None, cwd=None):
    """Start the binary with stdin/stdout/stderr pipes; return the Popen.

    The caller must close stdin / terminate / wait.  Beware of pipe buffers:
    read stdout and stderr (e.g. communicate()) rather than letting them fill.
    """
    return subprocess.Popen(enrich_command(args), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=base_env(env), cwd=cwd)


def enrich_env(fake, **extra):
    """{CTI_API_KEY: fake.key, CTI_API_URL: fake.url} plus extra."""
    env = {"CTI_API_KEY": fake.key, "CTI_API_URL": fake.url}
    env.update(extra)
    return env


# --------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------

def write_gzip(path, data, members=1):
    """Write data (bytes or str) gzip-compressed to path, split into `members`
    concatenated gzip members (as `cat a.gz b.gz` or logrotate produce)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    members = max(1, int(members))
    step = -(-len(data) // members) if data else 0
    with open(path, "wb") as out:
        for i in range(members):
            out.write(gzip.compress(data[i * step:(i + 1) * step]))
    return path


def unused_port():
    """A TCP port on 127.0.0.1 nothing listens on (for 'connection refused')."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Poll predicate() until it is true (return its value) or timeout
    (scaled under CTI_ENRICH_WRAPPER) passes (return the last value)."""
    deadline = time.monotonic() + timeout * timeout_scale()
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------

class FakeCTI:
    """fake_cti.py in a subprocess, as a context manager.

    Attributes: url ("http://127.0.0.1:PORT/v2", the value for CTI_API_URL),
    base ("http://127.0.0.1:PORT"), port, key.
    """

    def __init__(self, key="test-key", premium=False, delay_ms=0, rules=None,
                 pattern=None, fixtures=None):
        self.key = self._startup_key = key
        self.premium = premium
        self.delay_ms = delay_ms
        self.rules = rules
        self.pattern = pattern
        self.fixtures = Path(fixtures) if fixtures else fixtures_dir()
        self.proc = None
        self.port = None

    # -- life cycle --------------------------------------------------------

    def start(self):
        cmd = [sys.executable, str(FAKE_CTI_SCRIPT), "--host", "127.0.0.1",
               "--port", "0", "--key", self.key, "--fixtures",
               str(self.fixtures), "--delay-ms", str(int(self.delay_ms))]
        if self.premium:
            cmd.append("--premium")
        # stderr is inherited so that a server traceback shows in the test log.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        line = self._read_port_line(timeout=15)
        if not line.startswith(b"PORT "):
            self.stop()
            raise RuntimeError("fake_cti.py did not start: %r" % line)
        self.port = int(line.split()[1])
        self.base = "http://127.0.0.1:%d" % self.port
        self.url = self.base + "/v2"
        if self.rules or self.pattern:
            self.control(rules=self.rules or {}, pattern=self.pattern)
        return self

    def _read_port_line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                return fd.readline()
            if self.proc.poll() is not None:
                return b""
        return b""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- control -----------------------------------------------------------

    def _call(self, method, path, body=None):
        # http.client rather than urllib: urllib would honour http_proxy.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = None if body is None else json.dumps(body).encode("utf-8")
            headers = {"Content-Type": "application/json"} if data else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = json.loads(resp.read().decode("utf-8"))
            if resp.status != 200:
                raise ValueError("%s %s: %s %s" % (method, path, resp.status,
                                                   payload.get("message")))
            return payload
        finally:
            conn.close()

    def stats(self):
        """The /_stats dict (total, per_ip, batch_calls, connections, ...)."""
        return self._call("GET", "/_stats")

    def control(self, **kw):
        """POST /_control with kw as the JSON body; return the new config.

        Keys: rules {ip: [behaviour...]}, pattern [behaviour...] | None,
        delay_ms, ip_delay_ms {ip: ms}, answers {ip: obj | str | None},
        premium, key.  An unknown behaviour raises ValueError.
        """
        config = self._call("POST", "/_control", kw)
        self.key = config["key"]
        return config

    def reset(self, keep_config=False):
        """Clear the counters; unless keep_config, also restore the start-up
        configuration (key, premium, delay_ms; no rules/pattern/answers)."""
        self._call("POST", "/_reset", {"keep_config": bool(keep_config)})
        if not keep_config:
            self.key = self._startup_key

    def requests_for(self, ip):
        """How many lookups of ip the server received (single or batch)."""
        return self.stats()["per_ip"].get(ip, 0)

    def total(self):
        """How many HTTP requests to /v2/* the server received."""
        return self.stats()["total"]


class FakeCTITestCase(unittest.TestCase):
    """A test class sharing one fake server (`self.fake`), whose counters and
    configuration are reset before each test. FAKE_KWARGS go to FakeCTI."""

    FAKE_KWARGS = {}

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeCTI(**cls.FAKE_KWARGS).start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.reset()
