#!/usr/bin/python3
"""BGP ingestion benchmark: contrail-control against BIRD 2 and GoBGP, side by side.

One peer (build/bench/bgp_feed) sends N inet-vpn routes (1,000 per route distinguisher,
distinct /32s, a label per route, one route target, iBGP) to one receiver running alone on
loopback.  For each N and each repetition, the receivers take turns: contrail-control (this
build), BIRD 2 (vpn4 mpls channel into a vpn4 table, import all) and gobgpd (a neighbor with
l3vpn-ipv4-unicast).  For each run it records:

  time      from the feeder's first UPDATE to the poll that first sees all N routes in the
            receiver's table (the feeder and this script share CLOCK_MONOTONIC);
  memory    (RSS when all N are in - RSS before the session) / N;
  CPU       user + system time of the receiver over the run (/proc/PID/stat).

How "all N routes installed" is read: contrail-control's /Snh_ShowRouteSummaryReq (prefixes
of bgp.l3vpn.0) and BIRD's `show protocols all` (the channel's "N imported", on its control
socket), both O(1) for the receiver; `gobgp global rib -a vpnv4 summary`, which walks GoBGP's
table (wait_installed keeps its cost down).  After the clock stops, the table itself is counted
once (`show route count`, GoBGP's summary, our summary's paths) and must hold exactly N.

The table shows medians over the repetitions and ratios against BIRD and GoBGP; a `RESULT`
line per (receiver, N) carries the same figures as key=value pairs.  Every process started here
runs in a private temporary directory on free loopback ports and is killed (by PID) on exit,
Ctrl-C or failure.

  /usr/bin/python3 bench/control_bench.py                       # 100k x3 and 1M x1
  /usr/bin/python3 bench/control_bench.py --sizes 100k --reps 5
  /usr/bin/python3 bench/control_bench.py --receivers control,bird --sizes 1M
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchutil  # noqa: E402
from benchutil import (CLK_TCK, cpu_seconds, free_port, poll_until, rss_kb,  # noqa: E402
                       stop, stop_all)
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASN = 64512
RECEIVER_ID = "10.0.0.1"
FEEDER_ID = "10.0.0.2"
START_TIMEOUT = 20.0

_live = benchutil.live


log = benchutil.logger("ctlbench")




def spawn(cmd, workdir, logname, pipe=False):
    """Starts CMD in WORKDIR, output to LOGNAME there (stdout to a pipe when PIPE)."""
    with open(Path(workdir) / logname, "ab") as out:
        proc = subprocess.Popen([str(c) for c in cmd],
                                stdout=subprocess.PIPE if pipe else out,
                                stderr=out if pipe else subprocess.STDOUT,
                                cwd=workdir, start_new_session=True)
    _live.append(proc)
    return proc








def tail(path, n=15):
    try:
        return "".join(Path(path).read_text(errors="replace").splitlines(True)[-n:])
    except OSError:
        return ""


# --- /proc ------------------------------------------------------------------------------------





# --- receivers --------------------------------------------------------------------------------

class Receiver:
    """A BGP speaker receiving the routes.  start() returns once it answers; count() says how
    many routes it has installed (cheaply); exact_count() counts its table."""

    name = "?"
    label = "?"
    poll_interval = 0.002

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = None

    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            raise RuntimeError(f"{self.name} exited (status {self.proc.returncode}):\n"
                               f"{self.diagnostics()}")

    def diagnostics(self):
        return tail(self.dir / "out.log")

    def stop(self):
        stop(self.proc)
        self.proc = None


class Control(Receiver):
    name = "control"
    label = "contrail-control"

    def __init__(self, workdir, binary):
        super().__init__(workdir)
        self.binary = binary
        self.http_port = free_port()
        self.conn = None

    def start(self):
        # The feeder connects to us; the peer entry only has to match its address.
        peer = f"127.0.0.1 port {free_port()} as {ASN} passive families inet-vpn"
        self.proc = spawn([self.binary, "--hostip", "127.0.0.1", "--bgp_port", self.port,
                           "--bgp_router_id", RECEIVER_ID, "--asn", ASN,
                           "--http_server_port", self.http_port, "--bgp_peers", peer,
                           "--log_file", self.dir / "control.log"], self.dir, "out.log")

        def ready():
            self.check_alive()
            try:
                return self.summary() is not None
            except (OSError, http.client.HTTPException):
                self.conn = None
                return False
        poll_until(ready, START_TIMEOUT, "contrail-control introspect")

    def get(self, path):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
            body = r.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:200]!r}")
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return json.loads(body)

    def summary(self):
        for t in self.get("/Snh_ShowRouteSummaryReq")["tables"]:
            if t["name"] == "bgp.l3vpn.0":
                return t
        raise RuntimeError("no bgp.l3vpn.0 in the route summary")

    def count(self):
        return self.summary()["prefixes"]

    def exact_count(self):
        t = self.summary()
        return t["prefixes"] if t["prefixes"] == t["paths"] else -1

    def memory(self):
        return self.get("/memory")

    def diagnostics(self):
        return tail(self.dir / "out.log") + tail(self.dir / "control.log")

    def stop(self):
        if self.conn:
            self.conn.close()
            self.conn = None
        super().stop()


class Bird(Receiver):
    name = "bird"
    label = "BIRD 2"

    def __init__(self, workdir):
        super().__init__(workdir)
        self.sock_path = self.dir / "bird.ctl"
        self.sock = None
        self.buf = b""

    def start(self):
        (self.dir / "bird.conf").write_text(f"""\
router id {RECEIVER_ID};
log "{self.dir}/bird.log" {{ info, remote, warning, error, auth, fatal, bug }};
vpn4 table vpntab;
protocol device {{ }}
protocol bgp feeder {{
  local 127.0.0.1 port {self.port} as {ASN};
  neighbor 127.0.0.1 port {free_port()} as {ASN};
  passive on;
  vpn4 mpls {{ table vpntab; import all; export none; }};
}}
""")
        self.proc = spawn(["bird", "-f", "-c", self.dir / "bird.conf", "-s", self.sock_path,
                           "-P", self.dir / "bird.pid"], self.dir, "out.log")

        def ready():
            self.check_alive()
            try:
                return "feeder" in self.cmd("show protocols")
            except OSError:
                self.sock = None
                return False
        poll_until(ready, START_TIMEOUT, "BIRD control socket")

    def cmd(self, line):
        """Runs one CLI command on the control socket; returns the reply text."""
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(30)
            self.sock.connect(str(self.sock_path))
            self.buf = b""
            self._reply()                       # "0001 BIRD 2.0.12 ready."
        self.sock.sendall(line.encode() + b"\n")
        return self._reply()

    def _reply(self):
        lines = []
        while True:
            while b"\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise OSError("BIRD closed its control socket")
                self.buf += data
            raw, self.buf = self.buf.split(b"\n", 1)
            text = raw.decode(errors="replace")
            lines.append(text)
            # "DDDD text": last line of the reply; "DDDD-text" or " text": more follows.
            if len(text) >= 5 and text[:4].isdigit() and text[4] == " ":
                return "\n".join(lines)

    def count(self):
        m = re.search(r"Routes:\s+(\d+) imported", self.cmd("show protocols all feeder"))
        return int(m.group(1)) if m else 0

    def exact_count(self):
        m = re.search(r"(\d+) of (\d+) routes for (\d+) networks in table vpntab",
                      self.cmd("show route count table vpntab"))
        return int(m.group(1)) if m and m.group(1) == m.group(3) else -1

    def diagnostics(self):
        return tail(self.dir / "out.log") + tail(self.dir / "bird.log")

    def stop(self):
        if self.sock:
            self.sock.close()
            self.sock = None
        super().stop()


class GoBGP(Receiver):
    name = "gobgp"
    label = "GoBGP"

    def __init__(self, workdir):
        super().__init__(workdir)
        self.api_port = free_port()

    def start(self):
        (self.dir / "gobgpd.toml").write_text(f"""\
[global.config]
  as = {ASN}
  router-id = "{RECEIVER_ID}"
  port = {self.port}
  local-address-list = ["127.0.0.1"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = {ASN}
  [neighbors.transport.config]
    passive-mode = true
    local-address = "127.0.0.1"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
""")
        self.proc = spawn(["gobgpd", "-f", self.dir / "gobgpd.toml", "-p", "--api-hosts",
                           f"127.0.0.1:{self.api_port}", "--pprof-disable",
                           "--log-level", "warn"], self.dir, "out.log")

        def ready():
            self.check_alive()
            return self.cli("neighbor", check=False).returncode == 0
        poll_until(ready, START_TIMEOUT, "gobgpd API")

    def cli(self, *args, check=True):
        r = subprocess.run(["gobgp", "-p", str(self.api_port)] + list(args),
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"gobgp {' '.join(args)}: {r.stdout}{r.stderr}")
        return r

    def _summary(self):
        m = re.search(r"Destination:\s*(\d+),\s*Path:\s*(\d+)",
                      self.cli("global", "rib", "-a", "vpnv4", "summary").stdout)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    def count(self):
        return self._summary()[0]

    def exact_count(self):
        dest, paths = self._summary()
        return dest if dest == paths else -1


# --- one run ----------------------------------------------------------------------------------

class Feeder:
    """bgp_feed connecting to a receiver; its FEED lines are collected by a thread."""

    def __init__(self, binary, workdir, port, n, timeout):
        self.events = {}
        self.lines = []
        self.cond = threading.Condition()
        self.workdir = workdir
        self.proc = spawn([binary, "--connect", f"127.0.0.1:{port}", "--count", n,
                           "--as", ASN, "--id", FEEDER_ID, "--timeout", int(timeout)],
                          workdir, "feed.log", pipe=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            with self.cond:
                self.lines.append(line)
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "FEED":
                    self.events[parts[1]] = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
                self.cond.notify_all()

    def wait_event(self, name, timeout):
        with self.cond:
            self.cond.wait_for(lambda: name in self.events or self.proc.poll() is not None,
                               timeout)
            return self.events.get(name)

    def check(self):
        if self.proc.poll() is not None:
            self.thread.join(2)
            raise RuntimeError(f"bgp_feed exited ({self.proc.returncode}): {self.lines}\n"
                               f"{tail(Path(self.workdir) / 'feed.log')}")

    def stop(self):
        stop(self.proc)
        self.thread.join(5)


def wait_installed(r, feeder, n, limit):
    """Polls receiver R until it holds N routes.  Returns (time they were all in, the width of
    the interval that time is known to, number of polls).

    Polls are rare while far from the end and frequent near it: the pause is half the time
    left at the rate seen since the previous poll (before any progress, a tenth of the time
    waited), at most 100 ms.  A poll that costs the receiver work (GoBGP's summary walks the
    table in its main loop, stalling the route processing meanwhile, and takes up to a second
    at 1M routes) is followed by a pause of at least twice its duration, so polling never
    takes more than a third of the receiver's time.

    Between polls the receiver's CPU time is sampled every 5 ms (a read of /proc, free for the
    receiver).  The last route went in after the previous poll's snapshot and before the
    successful one's; if the receiver's CPU time stopped advancing during the pause between
    them and stayed still until that poll, the routes were all in by the last sample that saw
    it advance (installing a route takes CPU).  That narrows GoBGP's interval from the poll's
    length to about a clock tick (10 ms).  Otherwise the poll's end is taken."""
    pid = r.pid()
    t_feed = time.monotonic()
    deadline = t_feed + limit
    polls = 0
    prev_start = prev_end = t_feed
    prev_got = 0
    samples = []
    while True:
        r.check_alive()
        feeder.check()
        start = time.monotonic()
        got = r.count()
        end = time.monotonic()
        polls += 1
        if got >= n:
            break
        if end > deadline:
            raise RuntimeError(f"{r.label}: {got} of {n} routes after {limit} s")
        rate = (got - prev_got) / (end - prev_end) if got > prev_got else 0
        left = (n - got) / rate / 2 if rate else (end - t_feed) / 10
        prev_start, prev_end, prev_got = start, end, got
        pause_end = end + max(min(left, 0.1), r.poll_interval, 2 * (end - start))
        samples = []
        while True:
            samples.append((time.monotonic(), cpu_seconds(pid)))
            rest = pause_end - time.monotonic()
            if rest <= 0:
                break
            time.sleep(min(0.005, rest))
    t_done, lower = end, prev_start
    if len(samples) >= 2:
        advanced = [i for i in range(1, len(samples)) if samples[i][1] > samples[i - 1][1]]
        last = advanced[-1] if advanced else 0
        # Still for at least 3 ticks up to the successful poll: idle, not between ticks.
        if samples[-1][0] - samples[last][0] >= 3.0 / CLK_TCK:
            t_done = samples[last][0]
            lower = samples[last - 1][0] if last else prev_start
    return t_done, t_done - lower, polls


def run_once(kind, n, rep, args, workdir):
    if kind == "control":
        r = Control(workdir, args.control_bin)
    elif kind == "bird":
        r = Bird(workdir)
    else:
        r = GoBGP(workdir)
    feeder = prof = None
    try:
        r.start()
        pid = r.pid()
        if kind == "control" and args.perf:
            data = Path(args.perf).resolve() / f"control-{n}-{rep}.data"
            data.parent.mkdir(parents=True, exist_ok=True)
            prof = spawn(["perf", "record", "-F", "2000", "--call-graph", "dwarf,16384", "-p",
                          pid, "-o", data], workdir, "perf.log")
            # perf is attached once it has written the file's header.
            poll_until(lambda: data.exists() and data.stat().st_size > 0, START_TIMEOUT,
                       "perf record")
        rss0, cpu0 = rss_kb(pid), cpu_seconds(pid)
        feeder = Feeder(args.feed_bin, workdir, r.port, n, args.deadline + 60)
        t_done, resolution, polls = wait_installed(r, feeder, n, args.deadline)
        rss1, cpu1 = rss_kb(pid), cpu_seconds(pid)
        with open(f"/proc/{pid}/status") as f:
            hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
        sent = feeder.wait_event("sent", 30)
        if not sent:
            raise RuntimeError(f"bgp_feed did not report sending: {feeder.lines}")
        exact = r.exact_count()
        if exact != n:
            raise RuntimeError(f"{r.label}: table holds {exact} routes, expected {n}")
        extra = {}
        if kind == "control" and args.control_memory:
            extra["memory"] = r.memory()
        first = float(sent["first_update"])
        return dict(time=t_done - first, send=float(sent["eor"]) - first,
                    rss_before=rss0, rss_after=rss1, hwm=hwm, cpu=cpu1 - cpu0, polls=polls,
                    resolution=resolution,
                    **extra)
    finally:
        if prof:
            # SIGINT makes perf write out its data; then the receiver goes.
            prof.send_signal(signal.SIGINT)
            try:
                prof.wait(60)
            except subprocess.TimeoutExpired:
                pass
            stop(prof)
        if feeder:
            feeder.stop()
        r.stop()


# --- report -----------------------------------------------------------------------------------

def parse_size(text):
    t = text.strip().lower()
    mult = 1
    if t.endswith("k"):
        mult, t = 1000, t[:-1]
    elif t.endswith("m"):
        mult, t = 1000000, t[:-1]
    return int(float(t) * mult)


def fmt_n(n):
    if n % 1000000 == 0:
        return f"{n // 1000000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def summarise(runs, n):
    t = statistics.median(r["time"] for r in runs)
    mem = statistics.median((r["rss_after"] - r["rss_before"]) * 1024 / n for r in runs)
    return dict(time=t, rate=n / t, bytes_per_route=mem,
                cpu=statistics.median(r["cpu"] for r in runs),
                rss_after=statistics.median(r["rss_after"] for r in runs),
                hwm=max(r["hwm"] for r in runs),
                send=statistics.median(r["send"] for r in runs),
                resolution=max(r["resolution"] for r in runs),
                times=[r["time"] for r in runs])


def ratio(a, b):
    return f"{a / b:7.2f}" if a and b else "      -"


def report(results, sizes, kinds, out):
    labels = {"control": "contrail-control", "bird": "BIRD 2", "gobgp": "GoBGP"}
    head = (f"{'receiver':<17}{'N':>6} | {'time s':>8} {'routes/s':>9} | {'CPU s':>6} "
            f"{'cores':>5} | {'RSS MB':>7} {'B/route':>8} | {'t BIRD':>7} {'t GoBGP':>7} | "
            f"{'m BIRD':>7} {'m GoBGP':>7}")
    print()
    print(head)
    print("-" * len(head))
    lines = []
    for n in sizes:
        for k in kinds:
            s = results.get((k, n))
            if not s:
                continue
            b, g = results.get(("bird", n)), results.get(("gobgp", n))
            tb = ratio(b["time"], s["time"]) if b else ratio(0, 0)
            tg = ratio(g["time"], s["time"]) if g else ratio(0, 0)
            mb = ratio(b["bytes_per_route"], s["bytes_per_route"]) if b else ratio(0, 0)
            mg = ratio(g["bytes_per_route"], s["bytes_per_route"]) if g else ratio(0, 0)
            print(f"{labels[k]:<17}{fmt_n(n):>6} | {s['time']:8.3f} {s['rate']:9.0f} | "
                  f"{s['cpu']:6.2f} {s['cpu'] / s['time']:5.2f} | {s['rss_after'] / 1024:7.1f} "
                  f"{s['bytes_per_route']:8.0f} | {tb} {tg} | {mb} {mg}")
            kv = dict(receiver=k, n=n, reps=len(s["times"]), time_s=f"{s['time']:.4f}",
                      routes_per_s=f"{s['rate']:.0f}", cpu_s=f"{s['cpu']:.2f}",
                      rss_after_kb=int(s["rss_after"]), peak_rss_kb=s["hwm"],
                      bytes_per_route=f"{s['bytes_per_route']:.0f}",
                      send_s=f"{s['send']:.4f}", resolution_s=f"{s['resolution']:.4f}",
                      times=",".join(f"{t:.4f}" for t in s["times"]))
            if b:
                kv.update(time_vs_bird=f"{b['time'] / s['time']:.3f}",
                          mem_vs_bird=f"{b['bytes_per_route'] / s['bytes_per_route']:.3f}")
            if g:
                kv.update(time_vs_gobgp=f"{g['time'] / s['time']:.3f}",
                          mem_vs_gobgp=f"{g['bytes_per_route'] / s['bytes_per_route']:.3f}")
            lines.append("RESULT " + " ".join(f"{a}={v}" for a, v in kv.items()))
    print()
    print("time: first UPDATE sent -> all N routes seen in the receiver's table (median; the")
    print("      poll that saw them came at most resolution_s of the RESULT line after the")
    print("      previous one, so the time is late by at most that);")
    print("CPU: receiver's user+system time over the run; cores = CPU / time;")
    print("B/route: (RSS with N routes - RSS before the session) / N;")
    print("t X = X's time / this time, m X = X's bytes per route / this one's (> 1: this "
          "receiver is faster / smaller).")
    print()
    for line in lines:
        print(line)
    if out:
        with open(out, "a") as f:
            f.write("".join(line + "\n" for line in lines))


def memory_breakdown(mem, n):
    """Bytes per route by memory type, from contrail-control's /memory page.  The bytes are
    malloc's usable sizes; each block also costs malloc an 8-byte header, not counted here."""
    rows = sorted(((v["bytes"], k, v["live"]) for k, v in mem.items() if v["bytes"]),
                  reverse=True)
    print(f"\ncontrail-control memory by type with {fmt_n(n)} routes (lib/mem accounting):",
          file=sys.stderr)
    total = other = 0
    for b, k, live in rows:
        total += b
        if b / n < 0.1:
            other += b
            continue
        print(f"  {k:<16} {live:>9} live {b / 1048576:9.1f} MB {b / n:8.1f} B/route",
              file=sys.stderr)
    print(f"  {'(others)':<16} {'':>9}      {other / 1048576:9.1f} MB {other / n:8.1f} B/route",
          file=sys.stderr)
    print(f"  {'total':<16} {'':>9}      {total / 1048576:9.1f} MB {total / n:8.1f} B/route",
          file=sys.stderr)


# --- main -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100k,1M", help="route counts (default 100k,1M)")
    ap.add_argument("--reps", type=int, help="repetitions for every size")
    ap.add_argument("--reps-small", type=int, default=3,
                    help="repetitions below 1M routes (default 3)")
    ap.add_argument("--reps-large", type=int, default=1,
                    help="repetitions at 1M routes and above (default 1)")
    ap.add_argument("--receivers", default="control,bird,gobgp")
    ap.add_argument("--deadline", type=float, default=600.0,
                    help="seconds a receiver gets to install N routes (default 600)")
    ap.add_argument("--build", default=str(ROOT / "build"), help="build directory")
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--out", help="append the RESULT lines to this file")
    ap.add_argument("--perf", metavar="DIR",
                    help="record a perf profile (call graphs) of every contrail-control run "
                    "into DIR/control-N-REP.data; the perf overhead shows in its figures")
    ap.add_argument("--control-memory", action="store_true",
                    help="print contrail-control's memory by type (its /memory page)")
    args = ap.parse_args()

    build = Path(args.build).resolve()
    args.control_bin = build / "control" / "contrail-control"
    args.feed_bin = build / "bench" / "bgp_feed"
    kinds = [k.strip() for k in args.receivers.split(",") if k.strip()]
    for k in kinds:
        if k not in ("control", "bird", "gobgp"):
            ap.error(f"unknown receiver '{k}' (control, bird, gobgp)")
    need = {"control": [args.control_bin], "bird": ["bird"], "gobgp": ["gobgpd", "gobgp"]}
    for k in kinds:
        for b in need[k]:
            if not (Path(b).exists() if "/" in str(b) else shutil.which(b)):
                sys.exit(f"control_bench: {b} not found (bash bench/control_bench.sh installs "
                         f"the peers and builds the tree)")
    if not args.feed_bin.exists():
        sys.exit(f"control_bench: {args.feed_bin} not found (ninja -C {build})")
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    work = Path(tempfile.mkdtemp(prefix="ctlbench.", dir=args.tmpdir))
    results = {}
    try:
        for n in sizes:
            reps = args.reps or (args.reps_large if n >= 1000000 else args.reps_small)
            runs = {k: [] for k in kinds}
            for rep in range(reps):
                # Receivers take turns within a repetition: a change in the machine's load
                # hits all of them.
                for k in kinds:
                    d = work / f"{k}-{n}-{rep}"
                    res = run_once(k, n, rep, args, d)
                    runs[k].append(res)
                    log(f"{k:8} N={fmt_n(n):5} rep {rep + 1}/{reps}: {res['time']:.3f} s "
                        f"(sent in {res['send']:.3f} s), CPU {res['cpu']:.2f} s, RSS "
                        f"{res['rss_before'] / 1024:.1f} -> {res['rss_after'] / 1024:.1f} MB, "
                        f"{res['polls']} polls, last {res['resolution'] * 1000:.0f} ms apart")
                    if "memory" in res:
                        memory_breakdown(res["memory"], n)
            for k in kinds:
                results[(k, n)] = summarise(runs[k], n)
        report(results, sizes, kinds, args.out)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except RuntimeError as e:
        log(f"error: {e}")
        return 1
    finally:
        stop_all()
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
