#!/usr/bin/python3
"""Agents benchmark: contrail-control against a minimal XMPP route reflector, side by side.

The vRouter agent simulator's load mode (build/control/utils/contrail-xmpp-agent --load) opens
N XMPP sessions from one process.  Each agent subscribes to K of M shared routing instances
(agent i takes instances i, i+1, ..., i+K-1 modulo M) and publishes R inet routes (distinct
/32s, one label each), spread over its K instances in turn.  Every agent must then receive every
route of every instance it subscribed to (its own included).  The simulator prints when all
sessions were up, when all routes were written out and when the last agent held all its routes.

Two servers take turns in each repetition, each fresh, alone, on free loopback ports:

  control    build/control/contrail-control without IF-MAP: an agent's subscription creates the
             routing instance;
  reflector  build/tests/unit/xmpp_test_server: a route reflector built from the same XMPP
             library (control/xmpp), with one hash table of (instance, prefix) and no BGP
             tables, no best-path selection, no VPN table: the baseline.

For each run this script records, from /proc/PID of the server:

  RSS before        once the server answers, before any agent connects;
  RSS converged     read the moment the simulator reports convergence;
  peak RSS          VmHWM at that moment;
  RSS after close   once the agents have gone and the server's CPU time stopped moving;
  server CPU        user + system time from the first connection to convergence;

and from the simulator: sessions up, publish done and converged (ms since it started), its
own CPU time (rusage) and its peak RSS.  The table shows medians over the repetitions and
ratios control / reflector; a RESULT line per server carries the same figures as key=value.

Every process started here runs in a private temporary directory, with RLIMIT_NOFILE raised
for the agents' sockets, and is killed by PID at the end, on error and on Ctrl-C/SIGTERM.

  /usr/bin/python3 bench/control_agents_bench.py                          # 1000 agents x3
  /usr/bin/python3 bench/control_agents_bench.py --agents 100 --reps 1    # a few seconds
  /usr/bin/python3 bench/control_agents_bench.py --targets control --perf /tmp/prof --reps 1
"""

import argparse
import http.client
import json
import os
import resource
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
from benchutil import (cpu_seconds, free_port, poll_until, rss_kb, stop,  # noqa: E402
                       stop_all)
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0

_live = benchutil.live


log = benchutil.logger("agentbench")




def nofile_raiser(need):
    """A preexec_fn that raises RLIMIT_NOFILE to NEED at least (the hard limit too, as root)."""
    def raise_limit():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft >= need:
            return
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return raise_limit


def spawn(cmd, workdir, logname, nofile, stdout_pipe=False):
    """Starts CMD in WORKDIR with RLIMIT_NOFILE >= NOFILE; stderr (and stdout unless
    STDOUT_PIPE) go to LOGNAME there."""
    with open(Path(workdir) / logname, "ab") as out:
        proc = subprocess.Popen([str(c) for c in cmd],
                                stdout=subprocess.PIPE if stdout_pipe else out, stderr=out,
                                cwd=workdir, start_new_session=True,
                                preexec_fn=nofile_raiser(nofile))
    _live.append(proc)
    return proc








def tail(path, n=15):
    """The last N lines of PATH, less the simulator's "closed locally" ones."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines(True)
    except OSError:
        return ""
    return "".join([ln for ln in lines if "closed locally" not in ln][-n:])


# --- /proc ------------------------------------------------------------------------------------



def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0




def wait_still(pid, still=0.5, limit=60.0):
    """Waits until PID's CPU time has not moved for STILL seconds (at most LIMIT)."""
    deadline = time.monotonic() + limit
    last, since = cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        c = cpu_seconds(pid)
        if c != last:
            last, since = c, time.monotonic()
        elif time.monotonic() - since >= still:
            return True
    return False


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# --- servers ----------------------------------------------------------------------------------

class Server:
    name = "?"
    label = "?"

    def __init__(self, workdir, build, nofile):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.build = build
        self.nofile = nofile
        self.proc = None
        self.port = None

    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            raise RuntimeError(f"{self.label} exited (status {self.proc.returncode}):\n"
                               f"{self.diagnostics()}")

    def diagnostics(self):
        return tail(self.dir / "out.log")

    def info(self):
        """Extra facts for the RESULT line, read after convergence (may be empty)."""
        return {}

    def stop(self):
        stop(self.proc)
        self.proc = None


class Control(Server):
    name = "control"
    label = "contrail-control"
    extra = []

    def start(self):
        self.port = free_port()
        self.http_port = free_port()
        self.proc = spawn([self.build / "control" / "contrail-control", "--hostip", "127.0.0.1",
                           "--bgp_port", free_port(), "--xmpp_server_port", self.port,
                           "--http_server_port", self.http_port,
                           "--log_file", self.dir / "control.log"] + self.extra,
                          self.dir, "out.log", self.nofile)

        def ready():
            self.check_alive()
            try:
                return self.get("/Snh_ShowRouteSummaryReq") is not None and port_open(self.port)
            except (OSError, http.client.HTTPException, ValueError):
                return False
        poll_until(ready, START_TIMEOUT, "contrail-control introspect and XMPP port")

    def get(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=60)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:200]!r}")
        return json.loads(body)

    def info(self):
        """Prefixes and routing instances left, XMPP connections, and the bytes lib/mem
        accounts for."""
        try:
            summary = self.get("/Snh_ShowRouteSummaryReq")
            conns = self.get("/Snh_ShowXmppConnectionReq")["connections"]
        except (OSError, http.client.HTTPException, ValueError, RuntimeError, KeyError):
            return {}
        return dict(prefixes=summary.get("total_prefixes"),
                    instances=summary.get("routing_instances"),
                    connections=len(conns), mem_kb=self.accounted_kb())

    def accounted_kb(self):
        """What lib/mem says is allocated (its /memory page), in kB."""
        try:
            return sum(v["bytes"] for v in self.get("/memory").values()) // 1024
        except (OSError, http.client.HTTPException, ValueError, RuntimeError, KeyError,
                TypeError, AttributeError):
            return -1

    def diagnostics(self):
        return tail(self.dir / "out.log") + tail(self.dir / "control.log")


class Reflector(Server):
    name = "reflector"
    label = "xmpp reflector"

    def start(self):
        self.proc = spawn([self.build / "tests" / "unit" / "xmpp_test_server", "--port", "0"],
                          self.dir, "out.log", self.nofile, stdout_pipe=True)
        line = [None]

        def read():
            line[0] = self.proc.stdout.readline()
        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(START_TIMEOUT)
        if not line[0]:
            self.check_alive()
            raise RuntimeError(f"xmpp_test_server printed no port:\n{self.diagnostics()}")
        self.port = json.loads(line[0])["port"]
        poll_until(lambda: self.check_alive() or port_open(self.port), START_TIMEOUT,
                   "xmpp_test_server port")


# --- one run ----------------------------------------------------------------------------------

class Sampler:
    """Samples the server's CPU time every INTERVAL seconds in a thread, to tell when it had
    done most of its work (the simulator, one process for all agents, may take longer to read
    what the server wrote)."""

    def __init__(self, pid, t0, cpu0, interval=0.05):
        self.pid, self.t0, self.cpu0, self.interval = pid, t0, cpu0, interval
        self.samples = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.wait(self.interval):
            try:
                self.samples.append((time.monotonic() - self.t0,
                                     cpu_seconds(self.pid) - self.cpu0))
            except OSError:
                return

    def stop(self):
        self.done.set()
        self.thread.join()

    def time_to_share(self, cpu):
        """When the server's CPU time since the start first reached CPU seconds."""
        for t, c in self.samples:
            if c >= cpu:
                return t
        return None


def run_once(kind, rep, args, workdir):
    cls = Control if kind == "control" else Reflector
    nofile = args.agents + 1024
    srv = cls(workdir, args.build, nofile)
    if kind == "control" and not args.control_gr:
        # An agent that closes its stream is then gone, as with the reflector; with the GR
        # helper on (the default) its routes would stay stale for 300 s after the run.
        srv.extra = ["--gr_helper_xmpp_disable", "true"]
    sim = prof = sampler = None
    try:
        srv.start()
        pid = srv.pid()
        if args.perf and kind == "control":
            data = Path(args.perf).resolve() / f"control-{args.agents}-{rep}.data"
            data.parent.mkdir(parents=True, exist_ok=True)
            prof = spawn(["perf", "record", "-F", str(args.perf_freq), "--call-graph",
                          "dwarf,16384", "-p", pid, "-o", data], workdir, "perf.log", 1024)
            poll_until(lambda: data.exists() and data.stat().st_size > 0, START_TIMEOUT,
                       "perf record")
        time.sleep(0.2)                 # let the freshly started server settle
        rss0, cpu0 = rss_kb(pid), cpu_seconds(pid)
        t_start = time.monotonic()
        sampler = Sampler(pid, t_start, cpu0)
        sim = spawn([args.build / "control" / "utils" / "contrail-xmpp-agent", "--load",
                     "--server", f"127.0.0.1:{srv.port}", "--agents", args.agents,
                     "--instances", args.instances, "--instances-per-agent",
                     args.instances_per_agent, "--routes", args.routes,
                     "--timeout", args.timeout], workdir, "agents.log", nofile,
                    stdout_pipe=True)
        # The simulator prints its one line when the last agent converged (or at its timeout),
        # then closes every session: read the server's figures right then.
        line = sim.stdout.readline()
        t_line = time.monotonic()
        srv.check_alive()
        rss1, cpu1, hwm1 = rss_kb(pid), cpu_seconds(pid), hwm_kb(pid)
        sampler.stop()
        busy = sampler.time_to_share(args.busy_share * (cpu1 - cpu0))
        if not line:
            raise RuntimeError(f"the simulator printed nothing (status {sim.wait()}):\n"
                               f"{tail(Path(workdir) / 'agents.log')}")
        res = json.loads(line)
        _, status, ru = os.wait4(sim.pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        sim.returncode = rc
        stop(sim)
        sim_cpu = ru.ru_utime + ru.ru_stime
        if (res["timeout"] or rc != 0 or res["agents_converged"] != args.agents
                or res["sessions_up"] != args.agents
                or res["routes_received"] != res["routes_expected"]):
            raise RuntimeError(f"{srv.label}: no convergence (simulator status {rc}): {res}\n"
                               f"{tail(Path(workdir) / 'agents.log')}\n{srv.diagnostics()}")
        drops = sum(1 for ln in (Path(workdir) / "agents.log").read_text(errors="replace")
                    .splitlines() if " down: " in ln and "closed locally" not in ln)
        # The agents are gone: wait for the server to finish with their routes.
        settled = wait_still(pid, limit=args.settle)
        rss2, cpu2, hwm2 = rss_kb(pid), cpu_seconds(pid), hwm_kb(pid)
        info_after = srv.info() if args.introspect else {}
        srv.check_alive()
        return dict(up=res["sessions_up_ms"] / 1000, published=res["publish_done_ms"] / 1000,
                    converged=res["converged_ms"] / 1000, wall=t_line - t_start,
                    busy=busy if busy is not None else t_line - t_start,
                    routes_expected=res["routes_expected"], rss_before=rss0, rss_conv=rss1,
                    hwm=max(hwm1, hwm2), rss_after=rss2, cpu=cpu1 - cpu0,
                    cpu_close=cpu2 - cpu1, settled=settled, sim_cpu=sim_cpu,
                    sim_rss=res["rss_peak_kb"], drops=drops, info_after=info_after)
    finally:
        if sampler:
            sampler.stop()
        if sim:
            stop(sim)
        if prof:
            prof.send_signal(signal.SIGINT)         # perf writes its data out on SIGINT
            try:
                prof.wait(120)
            except subprocess.TimeoutExpired:
                pass
            stop(prof)
        srv.stop()


# --- report -----------------------------------------------------------------------------------

KEYS = ("up", "published", "converged", "busy", "cpu", "rss_before", "rss_conv", "hwm", "rss_after",
        "cpu_close", "sim_cpu", "sim_rss", "drops")


def summarise(runs):
    s = {k: statistics.median(r[k] for r in runs) for k in KEYS}
    s["hwm"] = max(r["hwm"] for r in runs)
    s["drops"] = sum(r["drops"] for r in runs)
    s["converged_all"] = [r["converged"] for r in runs]
    s["routes_expected"] = runs[0]["routes_expected"]
    return s


def report(results, kinds, args, out):
    labels = {"control": "contrail-control", "reflector": "xmpp reflector"}
    published = args.agents * args.routes
    print(f"\n{args.agents} agents, {args.instances} instances, {args.instances_per_agent} "
          f"per agent, {args.routes} routes per agent: {published} routes published, "
          f"{results[kinds[0]]['routes_expected']} deliveries; medians of {args.reps}")
    head = (f"{'server':<17} | {'up s':>6} {'pub s':>6} {'conv s':>7} {'busy s':>7} | "
            f"{'CPU s':>6} "
            f"{'cores':>5} | {'RSS0 MB':>7} {'conv MB':>8} {'peak MB':>8} {'left MB':>8} | "
            f"{'agents CPU s':>12}")
    print(head)
    print("-" * len(head))
    lines = []
    for k in kinds:
        s = results[k]
        print(f"{labels[k]:<17} | {s['up']:6.2f} {s['published']:6.2f} {s['converged']:7.2f} "
              f"{s['busy']:7.2f} | "
              f"{s['cpu']:6.2f} {s['cpu'] / s['converged']:5.2f} | {s['rss_before'] / 1024:7.1f} "
              f"{s['rss_conv'] / 1024:8.1f} {s['hwm'] / 1024:8.1f} {s['rss_after'] / 1024:8.1f} | "
              f"{s['sim_cpu']:12.2f}")
        kv = dict(server=k, agents=args.agents, instances=args.instances,
                  instances_per_agent=args.instances_per_agent, routes_per_agent=args.routes,
                  reps=args.reps, sessions_up_s=f"{s['up']:.3f}",
                  publish_done_s=f"{s['published']:.3f}", converged_s=f"{s['converged']:.3f}",
                  server_busy_s=f"{s['busy']:.3f}",
                  server_cpu_s=f"{s['cpu']:.2f}", rss_before_kb=int(s["rss_before"]),
                  rss_converged_kb=int(s["rss_conv"]), peak_rss_kb=int(s["hwm"]),
                  rss_after_close_kb=int(s["rss_after"]),
                  bytes_per_route=f"{(s['rss_conv'] - s['rss_before']) * 1024 / published:.0f}",
                  close_cpu_s=f"{s['cpu_close']:.2f}", agents_cpu_s=f"{s['sim_cpu']:.2f}",
                  agents_peak_rss_kb=int(s["sim_rss"]), session_drops=s["drops"],
                  converged_all=",".join(f"{t:.3f}" for t in s["converged_all"]))
        lines.append("RESULT " + " ".join(f"{a}={v}" for a, v in kv.items()))
    if "control" in results and "reflector" in results:
        c, r = results["control"], results["reflector"]

        def q(a, b):
            return a / b if b else float("nan")
        ratios = dict(converged=q(c["converged"], r["converged"]),
                      busy=q(c["busy"], r["busy"]),
                      sessions_up=q(c["up"], r["up"]), cpu=q(c["cpu"], r["cpu"]),
                      rss_converged=q(c["rss_conv"] - c["rss_before"],
                                      r["rss_conv"] - r["rss_before"]),
                      peak_rss=q(c["hwm"], r["hwm"]))
        print()
        print("control / reflector (< 1: contrail-control is faster / smaller):")
        print(f"  convergence time {ratios['converged']:.2f}   busy {ratios['busy']:.2f}   "
              f"sessions up "
              f"{ratios['sessions_up']:.2f}   server CPU {ratios['cpu']:.2f}   "
              f"RSS growth {ratios['rss_converged']:.2f}   peak RSS {ratios['peak_rss']:.2f}")
        lines.append("RESULT ratio=control/reflector "
                     + " ".join(f"{a}={v:.3f}" for a, v in ratios.items()))
    print()
    print("up/pub/conv: seconds from the simulator's start until all sessions were up, all")
    print("      routes were written out, every agent held every route of its instances;")
    print(f"busy: when the server had used {args.busy_share:.0%} of its CPU time up to "
          "convergence (after it, the")
    print("      agents were still reading what it had written);")
    print("CPU: server user+system time from the first connection to convergence, cores = CPU /")
    print("      conv; RSS0: before the agents, conv: at convergence, peak: VmHWM, left: after")
    print("      every agent closed its session and the server went idle;")
    print("agents CPU: the simulator's own CPU time (one process for all agents).")
    print()
    for line in lines:
        print(line)
    if out:
        with open(out, "a") as f:
            f.write("".join(line + "\n" for line in lines))


# --- main -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=1000, help="simulated agents (default 1000)")
    ap.add_argument("--instances", type=int, default=100,
                    help="shared routing instances (default 100)")
    ap.add_argument("--instances-per-agent", type=int, default=5,
                    help="instances each agent subscribes to (default 5)")
    ap.add_argument("--routes", type=int, default=50, help="routes per agent (default 50)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--targets", default="control,reflector")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds the simulator waits for convergence (default 600)")
    ap.add_argument("--settle", type=float, default=60.0,
                    help="seconds to wait for the server to go idle after the agents left")
    ap.add_argument("--busy-share", type=float, default=0.9,
                    help="'busy' is when the server had used this share of its CPU time up "
                    "to convergence (default 0.9)")
    ap.add_argument("--control-gr", action="store_true",
                    help="leave contrail-control's XMPP graceful-restart helper on (its "
                    "default): the agents' routes then stay stale after they leave")
    ap.add_argument("--no-introspect", dest="introspect", action="store_false",
                    help="do not read contrail-control's route summary around the run")
    ap.add_argument("--build", default=str(ROOT / "build"), help="build directory")
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--out", help="append the RESULT lines to this file")
    ap.add_argument("--perf", metavar="DIR",
                    help="perf record (DWARF call graphs) every contrail-control run into "
                    "DIR/control-AGENTS-REP.data; the overhead shows in its figures")
    ap.add_argument("--perf-freq", type=int, default=500, help="perf samples/s (default 500)")
    args = ap.parse_args()

    args.build = Path(args.build).resolve()
    kinds = [k.strip() for k in args.targets.split(",") if k.strip()]
    for k in kinds:
        if k not in ("control", "reflector"):
            ap.error(f"unknown target '{k}' (control, reflector)")
    if (args.agents < 1 or args.instances < 1 or args.routes < 1 or args.reps < 1
            or not 1 <= args.instances_per_agent <= args.instances):
        ap.error("need agents, instances, routes, reps >= 1 and "
                 "1 <= instances-per-agent <= instances")
    bins = {"control": args.build / "control" / "contrail-control",
            "reflector": args.build / "tests" / "unit" / "xmpp_test_server"}
    need = [args.build / "control" / "utils" / "contrail-xmpp-agent"] + [bins[k] for k in kinds]
    for b in need:
        if not b.exists():
            sys.exit(f"control_agents_bench: {b} not found (meson setup build && ninja -C build)")
    if args.perf and not shutil.which("perf"):
        sys.exit("control_agents_bench: perf not found (apt-get install linux-perf)")
    nofile_raiser(args.agents + 1024)()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    work = Path(tempfile.mkdtemp(prefix="agentbench.", dir=args.tmpdir))
    runs = {k: [] for k in kinds}
    try:
        for rep in range(args.reps):
            # The servers take turns within a repetition: a change in the machine's load hits
            # both of them.
            for k in kinds:
                res = run_once(k, rep, args, work / f"{k}-{rep}")
                runs[k].append(res)
                extra = ""
                if res["info_after"]:
                    extra = f"; after close {res['info_after']}"
                log(f"{k:9} rep {rep + 1}/{args.reps}: up {res['up']:.2f} s, converged "
                    f"{res['converged']:.2f} s (server busy until {res['busy']:.2f} s), CPU "
                    f"{res['cpu']:.2f} s (+{res['cpu_close']:.2f} s closing), RSS "
                    f"{res['rss_before'] / 1024:.1f} -> "
                    f"{res['rss_conv'] / 1024:.1f} MB (peak {res['hwm'] / 1024:.1f}, after close "
                    f"{res['rss_after'] / 1024:.1f}), agents CPU {res['sim_cpu']:.2f} s, "
                    f"{res['drops']} session drops{extra}")
        report({k: summarise(v) for k, v in runs.items()}, kinds, args, args.out)
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
