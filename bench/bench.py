#!/usr/bin/env python3
"""cti-enrich benchmarks (Python 3 standard library only).

    python3 bench/bench.py [all|throughput|gzip|memory|concurrency]...

Normally started by bench/run.sh, which builds the binary first.  Every number
is measured on this machine in this run, against a baseline run in the same
way (same file, same page cache, same output sink).  Nothing here is run by
CI or ctest.

Environment (defaults in brackets):
  CTI_ENRICH_BIN        binary under test [<root>/build-bench/cti-enrich]
  BENCH_DIR             scratch directory [$TMPDIR/cti-bench or /tmp/cti-bench]
  BENCH_MB              access log size, MB [500]
  BENCH_IPS             unique public IPv4 addresses in it [20000]
  BENCH_IPV6            unique public IPv6 addresses in it [1000]
  BENCH_REPEAT          timed runs of each main command; best and median [3]
  BENCH_REPEAT_EXTRA    timed runs of the context variants [1]
  BENCH_MEM_MB          large input of the memory benchmark, MB [2000]
  BENCH_MEM_SMALL_MB    small input of the memory benchmark, MB [200]
  BENCH_MANY_IPS        unique public IPs of the memory-vs-IP-count run [60000]
  BENCH_MANY_MB         input of that run, MB [100]
  BENCH_SLOW_SIZES      input sizes of the slow-server memory runs, MB [200,1000]
  BENCH_SLOW_UNCACHED   uncached IPs in the slow-server runs [2000]
  BENCH_SLOW_DELAY_MS   fake server latency of those runs [20]
  BENCH_SLOW_CONC       --concurrency of those runs [8]
  BENCH_CONC_IPS        uncached IPs of the concurrency benchmark (U) [400]
  BENCH_CONC_DELAY_MS   fake server latency of it (L) [50]
  BENCH_CONC_LEVELS     --concurrency values (N) [1,4,8,16]
  BENCH_KEEP            1: keep the generated data for the next run [1]
                        (0: remove the scratch directory at the end)

Peak RSS comes from GNU time (/usr/bin/time, Debian package "time"), CPU
times from wait4(2), wall time from a monotonic clock.
"""

import ipaddress
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import gen_log  # noqa: E402
from fake_cti import synthetic_answer  # noqa: E402

FAKE_CTI = ROOT / "tests" / "integration" / "fake_cti.py"
RG_PATTERN = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
RG_PATTERN_ASCII = r"(?-u)\b(?:\d{1,3}\.){3}\d{1,3}\b"
MIB = 1024 * 1024


def env_int(name, default):
    v = os.environ.get(name, "").strip()
    return int(float(v)) if v else default


def env_list(name, default):
    v = os.environ.get(name, "").strip()
    return [int(x) for x in v.split(",") if x.strip()] if v else default


CFG = {
    "mb": env_int("BENCH_MB", 500),
    "ips": env_int("BENCH_IPS", 20000),
    "ipv6": env_int("BENCH_IPV6", 1000),
    "repeat": max(1, env_int("BENCH_REPEAT", 3)),
    "repeat_extra": max(1, env_int("BENCH_REPEAT_EXTRA", 1)),
    "mem_mb": env_int("BENCH_MEM_MB", 2000),
    "mem_small_mb": env_int("BENCH_MEM_SMALL_MB", 200),
    "many_ips": env_int("BENCH_MANY_IPS", 60000),
    "many_mb": env_int("BENCH_MANY_MB", 100),
    "slow_sizes": env_list("BENCH_SLOW_SIZES", [200, 1000]),
    "slow_uncached": env_int("BENCH_SLOW_UNCACHED", 2000),
    "slow_delay": env_int("BENCH_SLOW_DELAY_MS", 20),
    "slow_conc": env_int("BENCH_SLOW_CONC", 8),
    "conc_ips": env_int("BENCH_CONC_IPS", 400),
    "conc_delay": env_int("BENCH_CONC_DELAY_MS", 50),
    "conc_levels": env_list("BENCH_CONC_LEVELS", [1, 4, 8, 16]),
    "keep": env_int("BENCH_KEEP", 1),
}
BIN = os.environ.get("CTI_ENRICH_BIN") or str(ROOT / "build-bench" / "cti-enrich")
WORK = Path(os.environ.get("BENCH_DIR") or
            os.path.join(os.environ.get("TMPDIR") or "/tmp", "cti-bench"))

RESULTS = []  # rows for the summary


# --------------------------------------------------------------------------
# Running and measuring
# --------------------------------------------------------------------------

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def child_env(extra=None):
    """os.environ without the binary's own settings and proxies, with empty
    XDG dirs so no user config or cache is read."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CTI_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        d = WORK / ("xdg-" + name.split("_")[1].lower())
        d.mkdir(parents=True, exist_ok=True)
        env[name] = str(d)
    env.update(extra or {})
    return env


TIME = "/usr/bin/time"  # GNU time (Debian package "time") for peak RSS


def run(cmd, stdout=None, stdin_file=None, feed=None, env=None):
    """Run cmd; return {wall, user, sys, rss_kib, rc, stderr}.

    stdout: a path to write to, or None for /dev/null.  stdin_file: a path.
    feed: (path, nbytes): stdin is a pipe fed with path's content repeated,
    cut to nbytes at a line end, by a separate process (not measured).

    Peak RSS comes from GNU time, not from our own wait4(): Python starts
    children with vfork(), and Linux carries the parent's high-water RSS
    over exec() into the child's ru_maxrss, so wait4() would report at least
    this Python process's RSS.  /usr/bin/time fork()s from a ~2 MiB process."""
    out = open(stdout or os.devnull, "wb")
    err = tempfile.TemporaryFile()
    inp = open(stdin_file, "rb") if stdin_file else subprocess.DEVNULL
    feeder = None
    if feed:
        feeder = subprocess.Popen([sys.executable, str(HERE / "bench.py"), "_feed",
                                   str(feed[0]), str(feed[1])],
                                  stdout=subprocess.PIPE)
        inp = feeder.stdout
    fd, rss_file = tempfile.mkstemp(prefix="rss-", dir=str(WORK))
    os.close(fd)
    t0 = time.perf_counter()
    p = subprocess.Popen([TIME, "-q", "-f", "%M %x", "-o", rss_file] + list(cmd),
                         stdin=inp, stdout=out, stderr=err, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if feeder:
        feeder.stdout.close()
        feeder.wait()
    elif stdin_file:
        inp.close()
    out.close()
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    err.close()
    with open(rss_file) as f:
        fields = f.read().split()
    os.unlink(rss_file)
    rss = int(fields[-2]) if len(fields) >= 2 else -1
    # wait4() on GNU time: its CPU times include those of the reaped command.
    return {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
            "rss_kib": rss, "rc": p.returncode, "stderr": text}


def repeat(n, fn):
    """Run fn() n times; return (best wall, median wall, runs)."""
    runs = [fn() for _ in range(n)]
    walls = [r["wall"] for r in runs]
    return min(walls), statistics.median(walls), runs


def cpu(runs):
    """The least CPU time (user + sys) of runs."""
    return min(r["user"] + r["sys"] for r in runs)


def check(r, what):
    if r["rc"] != 0:
        log("!! %s exited with %d:\n%s" % (what, r["rc"], r["stderr"][-2000:]))
    return r


def enrich_counts(stderr):
    """The numbers of cti-enrich's -v summary line, as a dict."""
    m = re.search(r"(\d+) lines, (\d+) annotated; (\d+) unique public IPs: (\d+) from "
                  r"memory, (\d+) from the cache, (\d+) looked up; ok (\d+), not_found "
                  r"(\d+), quota (\d+), offline (\d+), error (\d+)", stderr)
    if not m:
        return None
    keys = ("lines", "annotated", "unique", "memory", "cache", "looked_up", "ok",
            "not_found", "quota", "offline", "error")
    return dict(zip(keys, map(int, m.groups())))


def fmt_s(x):
    return "%.3f s" % x if x < 10 else "%.2f s" % x


def fmt_mib(kib):
    return "%.1f MiB" % (kib / 1024.0)


def table(title, header, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))
    print()
    print("== " + title)
    print(line(header))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    sys.stdout.flush()


def verdict(ok):
    return "PASS" if ok else "MISS"


def result(bench, what, ours, base, ratio, target, ok):
    RESULTS.append([bench, what, ours, base, ratio, target, verdict(ok)])


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def _feed(path, nbytes):
    """stdout <- path's content repeated, cut at a line end at nbytes."""
    path, left = Path(path), int(nbytes)
    out = sys.stdout.buffer
    try:
        while left > 0:
            with open(path, "rb") as f:
                while left > 0:
                    chunk = f.read(min(1 << 20, left + 1))
                    if not chunk:
                        break
                    if len(chunk) > left:
                        chunk = chunk[:chunk.rfind(b"\n", 0, left) + 1]
                        left = 0
                    out.write(chunk)
                    left -= len(chunk)
        out.flush()
    except BrokenPipeError:
        pass


def count_lines(path, limit=None):
    n, left = 0, limit if limit is not None else 1 << 62
    with open(path, "rb") as f:
        while left > 0:
            b = f.read(min(1 << 24, left))
            if not b:
                break
            n += b.count(b"\n")
            left -= len(b)
    return n


class Data:
    """The shared access log, its public pool, the answers, the warm cache."""

    def __init__(self):
        self.dir = WORK / "data"
        self.log = self.dir / "access.log"
        self.gz = self.dir / "access.log.gz"
        self.ips = self.dir / "public-ips.txt"
        self.answers = self.dir / "answers.jsonl"
        self.cache = self.dir / "warm.db"
        self.stamp = self.dir / "stamp.json"
        self.params = {"mb": CFG["mb"], "ips": CFG["ips"], "ipv6": CFG["ipv6"],
                       "gen": (HERE / "gen_log.py").stat().st_mtime}
        self._lines = None

    def ensure(self):
        old = None
        if self.stamp.exists():
            old = json.loads(self.stamp.read_text())
        if old == self.params and self.log.exists() and self.cache.exists():
            log("-- reusing %s (%d MB)" % (self.log, self.log.stat().st_size // 10**6))
            return self
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        log("-- generating a %d MB access log (%d IPv4 + %d IPv6 public)..." % (
            CFG["mb"], CFG["ips"], CFG["ipv6"]))
        t = time.perf_counter()
        gen_log.main(["--mb", str(CFG["mb"]), "--ips", str(CFG["ips"]),
                      "--ipv6", str(CFG["ipv6"]), "-o", str(self.log),
                      "--ips-out", str(self.ips)])
        log("   %.1f s" % (time.perf_counter() - t))
        log("-- writing CTI answers for the public pool and importing them...")
        with open(self.answers, "w") as f:
            for ip in self.pool():
                f.write(json.dumps({"ip": ip, "status": "ok",
                                    "data": synthetic_answer(ip)}) + "\n")
        import_cache(self.cache, self.answers)
        self.stamp.write_text(json.dumps(self.params))
        return self

    def pool(self):
        return self.ips.read_text().split()

    def size(self):
        return self.log.stat().st_size

    def lines(self):
        if self._lines is None:
            self._lines = count_lines(self.log)
        return self._lines

    def ensure_gz(self):
        if self.gz.exists() and self.gz.stat().st_mtime >= self.log.stat().st_mtime:
            return
        log("-- gzip -6 %s ..." % self.log.name)
        t = time.perf_counter()
        with open(self.gz, "wb") as f:
            subprocess.run(["gzip", "-6", "-c", str(self.log)], stdout=f, check=True)
        log("   %.1f s" % (time.perf_counter() - t))


def import_cache(db, jsonl):
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(str(db) + suffix)
        except FileNotFoundError:
            pass
    r = subprocess.run([BIN, "cache", "import", str(jsonl), "--cache", str(db)],
                       env=child_env(), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("cache import failed: %s" % r.stderr)


def fixed_overhead(data):
    """Wall time of a run on a one-line input: start-up plus shut-down."""
    one = WORK / "one-line.log"
    with open(data.log, "rb") as f:
        one.write_bytes(f.readline())
    best, _, _ = repeat(3, lambda: run([BIN, "--offline", "--cache", str(data.cache),
                                        str(one)], env=child_env()))
    return best


# --------------------------------------------------------------------------
# 1. Warm-cache throughput
# --------------------------------------------------------------------------

def bench_throughput(data):
    size, lines = data.size(), data.lines()
    mb = size / 1e6
    R, RX = CFG["repeat"], CFG["repeat_extra"]
    env = child_env()
    ours = [BIN, "-v", "--offline", "--cache", str(data.cache)]
    subprocess.run(["cat", str(data.log)], stdout=subprocess.DEVNULL)  # page cache

    log("-- [throughput] rg -o (baseline) x%d" % R)
    rg_best, rg_med, rg_runs = repeat(R, lambda: check(run(["rg", "-o", RG_PATTERN,
                                                            str(data.log)]), "rg"))
    rga_best, _, _ = repeat(RX, lambda: run(["rg", "-o", RG_PATTERN_ASCII, str(data.log)]))
    log("-- [throughput] cti-enrich kv > /dev/null x%d" % R)
    kv_best, kv_med, kv_runs = repeat(R, lambda: check(run(ours + [str(data.log)], env=env),
                                                       "cti-enrich"))
    counts = enrich_counts(kv_runs[0]["stderr"])
    log("-- [throughput] cti-enrich kv > file, json > /dev/null x%d" % RX)
    outfile = WORK / "out.tmp"
    file_best, _, _ = repeat(RX, lambda: check(run(ours + [str(data.log)], stdout=outfile,
                                                   env=env), "cti-enrich > file"))
    out_size = outfile.stat().st_size
    outfile.unlink()
    json_best, _, _ = repeat(RX, lambda: check(run(ours + ["--format", "json", str(data.log)],
                                                   env=env), "cti-enrich json"))
    overhead = fixed_overhead(data)

    target = rg_best / 3
    ok = kv_best <= target
    rows = [
        ["cti-enrich kv > /dev/null", fmt_s(kv_best), fmt_s(rg_best),
         "%.2fx rg time" % (kv_best / rg_best), "<= 0.333x (3x rg speed)", verdict(ok)],
        ["  throughput", "%.0f MB/s" % (mb / kv_best), "%.0f MB/s" % (mb / rg_best),
         "%.2fx rg speed" % (rg_best / kv_best), ">= 3x", ""],
        ["  lines/s", "%.2fM" % (lines / kv_best / 1e6), "%.2fM" % (lines / rg_best / 1e6),
         "", "", ""],
        ["  median of %d" % R, fmt_s(kv_med), fmt_s(rg_med), "", "", ""],
        ["  CPU user+sys (best)", fmt_s(cpu(kv_runs)), fmt_s(cpu(rg_runs)),
         "%.2fx rg CPU" % (cpu(kv_runs) / cpu(rg_runs)), "(context)", ""],
        ["  peak RSS", fmt_mib(kv_runs[0]["rss_kib"]), fmt_mib(rg_runs[0]["rss_kib"]),
         "", "", ""],
        ["cti-enrich kv > file (%.0f MB out)" % (out_size / 1e6), fmt_s(file_best),
         fmt_s(rg_best), "%.2fx" % (file_best / rg_best), "(context)", ""],
        ["cti-enrich --format json > /dev/null", fmt_s(json_best), fmt_s(rg_best),
         "%.2fx" % (json_best / rg_best), "(context)", ""],
        ["rg -o (?-u) ASCII-only pattern", "", fmt_s(rga_best), "", "(context)", ""],
        ["fixed cost: run on a 1-line input", fmt_s(overhead), "", "", "(context)", ""],
    ]
    table("1. Warm-cache throughput: %.0f MB, %d lines, %d public IPs; best of %d"
          % (mb, lines, len(data.pool()), R),
          ["what", "ours", "baseline (rg -o)", "ratio", "target", "result"], rows)
    if counts:
        print("   check: %d lines, %d unique public IPs, %d from the cache, %d offline "
              "(must be 0)" % (counts["lines"], counts["unique"], counts["cache"],
                               counts["offline"]))
    print("   baseline: rg -o '%s' FILE > /dev/null (ripgrep %s)" % (
        RG_PATTERN, subprocess.run(["rg", "--version"], capture_output=True,
                                   text=True).stdout.split()[1]))
    result("1 throughput", "warm cache, kv, %.0f MB" % mb,
           "%s (%.0f MB/s)" % (fmt_s(kv_best), mb / kv_best),
           "rg -o %s (%.0f MB/s)" % (fmt_s(rg_best), mb / rg_best),
           "%.2fx rg speed" % (rg_best / kv_best), ">= 3x", ok)
    return kv_best


# --------------------------------------------------------------------------
# 2. gzip input
# --------------------------------------------------------------------------

def bench_gzip(data, plain=None):
    data.ensure_gz()
    R = CFG["repeat"]
    env = child_env()
    ours = [BIN, "-v", "--offline", "--cache", str(data.cache)]
    subprocess.run(["cat", str(data.gz)], stdout=subprocess.DEVNULL)
    log("-- [gzip] gzip -dc (baseline) x%d" % R)
    gz_best, gz_med, gz_runs = repeat(R, lambda: check(run(["gzip", "-dc", str(data.gz)]),
                                                       "gzip"))
    log("-- [gzip] cti-enrich FILE.gz x%d" % R)
    our_best, our_med, our_runs = repeat(R, lambda: check(run(ours + [str(data.gz)], env=env),
                                                          "cti-enrich gz"))
    counts = enrich_counts(our_runs[0]["stderr"])
    if plain is None:
        log("-- [gzip] cti-enrich plain text (context) x1")
        plain = check(run(ours + [str(data.log)], env=env), "cti-enrich")["wall"]
    mb = data.size() / 1e6
    ratio = our_best / gz_best
    ok = ratio <= 1.10
    rows = [
        ["cti-enrich FILE.gz > /dev/null", fmt_s(our_best), fmt_s(gz_best),
         "%.2fx" % ratio, "<= 1.10x", verdict(ok)],
        ["  median of %d" % R, fmt_s(our_med), fmt_s(gz_med), "", "", ""],
        ["  uncompressed MB/s", "%.0f" % (mb / our_best), "%.0f" % (mb / gz_best), "", "", ""],
        ["  CPU user+sys (best)", fmt_s(cpu(our_runs)), fmt_s(cpu(gz_runs)),
         "%.2fx" % (cpu(our_runs) / cpu(gz_runs)), "(context)", ""],
        ["cti-enrich plain FILE (context)", fmt_s(plain), "", "", "", ""],
        ["decompression alone + plain run", "", fmt_s(gz_best + plain),
         "%.2fx" % (our_best / (gz_best + plain)), "(context: < 1 = overlapped)", ""],
    ]
    table("2. gzip input: %.0f MB -> %.0f MB gzip -6; best of %d"
          % (mb, data.gz.stat().st_size / 1e6, R),
          ["what", "ours", "baseline (gzip -dc)", "ratio", "target", "result"], rows)
    if counts:
        print("   check: %d lines, %d offline (must be 0)" % (counts["lines"],
                                                           counts["offline"]))
    result("2 gzip", "gzip -6 input, %.0f MB" % mb, fmt_s(our_best),
           "gzip -dc %s" % fmt_s(gz_best), "%.2fx" % ratio, "<= 1.10x", ok)


# --------------------------------------------------------------------------
# Fake CTI server
# --------------------------------------------------------------------------

class Fake:
    def __init__(self, delay_ms):
        self.proc = subprocess.Popen(
            [sys.executable, str(FAKE_CTI), "--host", "127.0.0.1", "--port", "0",
             "--delay-ms", str(delay_ms)],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.stop()
            raise SystemExit("fake_cti.py did not start: %r" % line)
        self.base = "http://127.0.0.1:%d" % int(line.split()[1])
        self.url = self.base + "/v2"

    def _post(self, path, body):
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def reset(self):
        self._post("/_reset", {"keep_config": True})

    def stats(self):
        with urllib.request.urlopen(self.base + "/_stats", timeout=10) as r:
            return json.loads(r.read())

    def env(self):
        return child_env({"CTI_API_KEY": "test-key", "CTI_API_URL": self.url})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------
# 3. Memory bound
# --------------------------------------------------------------------------

def client_ips(path, nbytes):
    """The set of first tokens (client addresses) of the lines in the first
    nbytes of path (the generator puts one address a line, first)."""
    seen, left = set(), nbytes
    with open(path, "rb") as f:
        for line in f:
            left -= len(line)
            if left < 0:
                break
            seen.add(line.split(b" ", 1)[0].decode())
    return seen


def many_ips_data():
    """A BENCH_MANY_MB log over BENCH_MANY_IPS public IPv4s, and its warm cache."""
    d = WORK / "many"
    stamp = d / "stamp.json"
    params = {"ips": CFG["many_ips"], "mb": CFG["many_mb"],
              "gen": (HERE / "gen_log.py").stat().st_mtime}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return d
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    log("-- generating %d MB over %d public IPs, answers, cache..." % (
        CFG["many_mb"], CFG["many_ips"]))
    gen_log.main(["--mb", str(CFG["many_mb"]), "--ips", str(CFG["many_ips"]), "--ipv6", "0",
                  "--seed", "2", "-o", str(d / "access.log"), "--ips-out", str(d / "ips.txt")])
    with open(d / "answers.jsonl", "w") as f:
        for ip in (d / "ips.txt").read_text().split():
            f.write(json.dumps({"ip": ip, "status": "ok", "data": synthetic_answer(ip)}) + "\n")
    import_cache(d / "warm.db", d / "answers.jsonl")
    stamp.write_text(json.dumps(params))
    return d


def bench_memory(data):
    env = child_env()
    fsize = data.size()
    rows = []

    # (a) warm cache, offline, two input sizes, streamed through a pipe.
    res_a = {}
    for mb in (CFG["mem_small_mb"], CFG["mem_mb"]):
        log("-- [memory] warm cache, offline, %d MB through a pipe" % mb)
        r = check(run([BIN, "-v", "--offline", "--cache", str(data.cache), "-"], env=env,
                      feed=(data.log, mb * 10**6)), "cti-enrich (memory a)")
        c = enrich_counts(r["stderr"]) or {}
        res_a[mb] = r
        rows.append(["(a) warm, offline", "%d MB" % mb, "%d" % c.get("unique", -1),
                     "-", fmt_s(r["wall"]), fmt_mib(r["rss_kib"]), "< 64 MiB",
                     verdict(r["rss_kib"] < 64 * 1024)])
    big_a = res_a[CFG["mem_mb"]]["rss_kib"]
    growth_a = big_a / max(1, res_a[CFG["mem_small_mb"]]["rss_kib"])

    # (c) many unique IPs (all cached): does RSS depend on the IP count?
    many = many_ips_data()
    res_c = {}
    for fmt in ("kv", "json"):
        log("-- [memory] warm cache, offline, %d unique IPs, %d MB, %s" % (
            CFG["many_ips"], CFG["many_mb"], fmt))
        r = check(run([BIN, "-v", "--offline", "--format", fmt, "--cache",
                       str(many / "warm.db"), str(many / "access.log")], env=env),
                  "cti-enrich (memory c)")
        c = enrich_counts(r["stderr"]) or {}
        res_c[fmt] = (r, c)
    rows_c = []
    for fmt, (r, c) in res_c.items():
        rows_c.append(["(c) warm, many IPs, %s" % fmt, "%d MB" % CFG["many_mb"],
                       "%d" % c.get("unique", -1), "-", fmt_s(r["wall"]),
                       fmt_mib(r["rss_kib"]), "< 64 MiB" if fmt == "kv" else "(context)",
                       verdict(r["rss_kib"] < 64 * 1024) if fmt == "kv" else ""])

    # (b) slow server, some uncached IPs, back-pressure on the window.
    pool = data.pool()
    rng = random.Random(7)
    n_unc = min(CFG["slow_uncached"], len(pool))
    uncached = set(rng.sample(pool, n_unc))
    partial = WORK / "partial-answers.jsonl"
    with open(data.answers) as src, open(partial, "w") as dst:
        for line in src:
            if json.loads(line)["ip"] not in uncached:
                dst.write(line)
    fake = Fake(CFG["slow_delay"])
    res_b = {}
    try:
        for mb in CFG["slow_sizes"]:
            db = WORK / "partial.db"
            import_cache(db, partial)
            present = client_ips(data.log, min(mb * 10**6, fsize)) & uncached
            fake.reset()
            log("-- [memory] slow server (%d ms), %d uncached IPs, --concurrency %d, "
                "%d MB through a pipe" % (CFG["slow_delay"], len(present), CFG["slow_conc"], mb))
            r = check(run([BIN, "-v", "--cache", str(db), "--concurrency",
                           str(CFG["slow_conc"]), "-"], env=fake.env(),
                          feed=(data.log, mb * 10**6)), "cti-enrich (memory b)")
            st = fake.stats()
            res_b[mb] = r
            rows.append(["(b) slow server", "%d MB" % mb,
                         "%d uncached" % len(present),
                         "%d (in flight max %d)" % (st["total"], st["in_flight_max"]),
                         fmt_s(r["wall"]), fmt_mib(r["rss_kib"]), "< 64 MiB",
                         verdict(r["rss_kib"] < 64 * 1024 and st["total"] == len(present))])
    finally:
        fake.stop()
    sizes = CFG["slow_sizes"]
    big_b = res_b[sizes[-1]]["rss_kib"]
    growth_b = big_b / max(1, res_b[sizes[0]]["rss_kib"])
    rows += rows_c
    table("3. Memory bound (peak RSS; input streamed through a pipe; window defaults "
          "--window-lines 10000 --window-bytes 16M)",
          ["mode", "input", "public IPs", "requests", "wall", "peak RSS", "target", "result"],
          rows)
    print("   RSS growth, largest/smallest input: (a) %.2fx for %.0fx the input; "
          "(b) %.2fx for %.0fx the input" % (
              growth_a, CFG["mem_mb"] / CFG["mem_small_mb"], growth_b, sizes[-1] / sizes[0]))
    ok_a = big_a < 64 * 1024
    ok_b = all(r["rss_kib"] < 64 * 1024 for r in res_b.values()) and growth_b < 1.25
    result("3 memory", "warm, offline, %d MB" % CFG["mem_mb"], fmt_mib(big_a), "-",
           "%.2fx RSS vs %d MB" % (growth_a, CFG["mem_small_mb"]), "< 64 MiB", ok_a)
    rc, cc = res_c["kv"]
    result("3 memory", "warm, offline, %d unique IPs, %d MB" % (
        cc.get("unique", -1), CFG["many_mb"]), fmt_mib(rc["rss_kib"]), "-",
        "%.2fx RSS vs %d IPs" % (rc["rss_kib"] / max(1, big_a), len(data.pool())),
        "< 64 MiB", rc["rss_kib"] < 64 * 1024)
    result("3 memory", "slow server %d ms, %d uncached, N=%d, %d MB" % (
        CFG["slow_delay"], n_unc, CFG["slow_conc"], sizes[-1]), fmt_mib(big_b), "-",
        "%.2fx RSS vs %d MB" % (growth_b, sizes[0]), "< 64 MiB, flat", ok_b)


# --------------------------------------------------------------------------
# 4. Concurrency
# --------------------------------------------------------------------------

def bench_concurrency():
    U, L = CFG["conc_ips"], CFG["conc_delay"]
    public, _ = gen_log.make_pool(9001, U, 0, 0)
    rng = random.Random(9001)
    ips = public * 5 + ["10.1.2.%d" % (i % 250 + 1) for i in range(U)]
    rng.shuffle(ips)
    logf = WORK / "concurrency.log"
    with open(logf, "w") as f:
        for i, ip in enumerate(ips):
            f.write('%s - - [01/Mar/2024:10:%02d:%02d +0000] "GET /item/%d HTTP/1.1" 200 %d '
                    '"-" "curl/8.5.0"\n' % (ip, i // 60 % 60, i % 60, i, 100 + i))
    fake = Fake(L)
    rows = []
    try:
        for n in CFG["conc_levels"]:
            fake.reset()
            log("-- [concurrency] U=%d L=%d ms N=%d" % (U, L, n))
            r = check(run([BIN, "-v", "--no-cache", "--concurrency", str(n), str(logf)],
                          env=fake.env()), "cti-enrich (concurrency)")
            st = fake.stats()
            ideal = U * L / 1000.0 / n
            ratio = r["wall"] / ideal
            ok = ratio <= 1.2 and st["total"] == U
            rows.append([str(n), fmt_s(r["wall"]), fmt_s(ideal), "%.2f" % ratio, "<= 1.20",
                         "%d%s" % (st["total"], "" if st["total"] == U else " (!= %d)" % U),
                         str(st["in_flight_max"]), str(st["connections"]),
                         fmt_mib(r["rss_kib"]), verdict(ok)])
            result("4 concurrency", "U=%d, L=%d ms, N=%d" % (U, L, n), fmt_s(r["wall"]),
                   "ideal U*L/N %s" % fmt_s(ideal), "%.2fx" % ratio, "<= 1.20x, %d requests" % U,
                   ok)
    finally:
        fake.stop()
    table("4. Concurrency: U=%d uncached IPs (each on 5 lines), latency L=%d ms, --no-cache"
          % (U, L),
          ["N", "wall", "ideal U*L/N", "ratio", "target", "requests", "in flight max",
           "connections", "peak RSS", "result"], rows)


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def summary():
    if not RESULTS:
        return
    ver = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip()
    print()
    print("== Summary (markdown, for the README)")
    print()
    print("Measured with `bench/run.sh` (%s), %s, %d cores (`nproc`), CPU: %s; "
          "baselines run on the same files in the same run." % (
              ver or "cti-enrich", time.strftime("%Y-%m-%d"), os.cpu_count(), cpu_model()))
    print()
    print("| benchmark | case | cti-enrich | baseline | ratio | target | result |")
    print("|---|---|---|---|---|---|---|")
    for r in RESULTS:
        print("| " + " | ".join(r) + " |")
    sys.stdout.flush()


def main(argv):
    if argv[:1] == ["_feed"]:
        _feed(argv[1], argv[2])
        return 0
    which = argv or ["all"]
    known = ("throughput", "gzip", "memory", "concurrency")
    for w in which:
        if w != "all" and w not in known:
            raise SystemExit("unknown benchmark %r (all, %s)" % (w, ", ".join(known)))
    if "all" in which:
        which = list(known)
    if not os.access(BIN, os.X_OK):
        raise SystemExit("no binary at %s (set CTI_ENRICH_BIN or use bench/run.sh)" % BIN)
    for tool, pkg in (("rg", "ripgrep"), ("gzip", "gzip"), (TIME, "time")):
        if not shutil.which(tool):
            raise SystemExit("%s is needed (apt-get install %s)" % (tool, pkg))
    WORK.mkdir(parents=True, exist_ok=True)
    print("cti-enrich benchmarks: %s; scratch %s; %d cores, %s; load average %s" % (
        BIN, WORK, os.cpu_count(), cpu_model(),
        " ".join("%.2f" % x for x in os.getloadavg())))
    if os.getloadavg()[0] > 0.5:
        print("WARNING: the machine is not idle (load average %.2f): wall times include "
              "waiting for the CPU; compare the CPU user+sys rows too." % os.getloadavg()[0])
    t0 = time.perf_counter()
    try:
        data = Data().ensure() if set(which) - {"concurrency"} else None
        plain = None
        if "throughput" in which:
            plain = bench_throughput(data)
        if "gzip" in which:
            bench_gzip(data, plain)
        if "memory" in which:
            bench_memory(data)
        if "concurrency" in which:
            bench_concurrency()
    finally:
        summary()
        print("\n(total %.0f s)" % (time.perf_counter() - t0))
        if not CFG["keep"]:
            shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
