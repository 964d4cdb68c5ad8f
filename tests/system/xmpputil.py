"""Helpers for system tests that need vRouter agents on XMPP: the interactive agent simulator
(build/control/utils/contrail-xmpp-agent) and, until contrail-control serves XMPP, the small
route reflector built from the same library (build/tests/unit/xmpp_test_server).

    sim = AgentSim(tmp_path).start()
    sim.connect("compute1", f"127.0.0.1:{port}", hold=3)
    sim.wait_up("compute1")
    sim.subscribe("compute1", "default-domain:p:vn1:vn1", 1)
    sim.publish("compute1", "inet", "default-domain:p:vn1:vn1", "10.1.1.3/32",
                nh="198.51.100.1", label=25, encap="gre,udp", vn="default-domain:p:vn1")
    route = sim.wait_route("compute2", "default-domain:p:vn1:vn1", "10.1.1.3/32")
    sim.stop()

The simulator answers with one JSON object per line; every object is kept in sim.events (in
order), and waiting is polling that list with a deadline (never a sleep).  Events: up, down
(reason), connect-failed (reason), route (op add/update/delete, family, vrf, key, route), eor,
config (xml), routes (answer to routes()), sync, error (a command it refused).

Every process started here is registered with conftest's atexit safety net, so it is killed
even if a test's teardown does not run.

Environment
  CONTRAIL_BUILD_DIR      build directory (default: <repo>/build), as for conftest.py
  CONTRAIL_XMPP_AGENT_BIN path of the simulator
"""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from conftest import BUILD_DIR, Daemon, _live, _live_lock, tail

AGENT_BIN = Path(os.environ.get("CONTRAIL_XMPP_AGENT_BIN",
                                BUILD_DIR / "control" / "utils" / "contrail-xmpp-agent"))
TEST_SERVER_BIN = BUILD_DIR / "tests" / "unit" / "xmpp_test_server"
DEFAULT_TIMEOUT = 10.0


def _register(proc):
    with _live_lock:
        _live.add(proc)


def _unregister(proc):
    with _live_lock:
        _live.discard(proc)


class AgentSim(Daemon):
    """One interactive contrail-xmpp-agent process driving any number of agents."""

    name = "contrail-xmpp-agent"

    def __init__(self, workdir, log_level="warn"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.dir / "xmpp-agent.err"
        self.log_level = log_level
        self.proc = None
        self.events = []
        self._cond = threading.Condition()
        self._reader = None

    # ---- life cycle ----
    def start(self):
        if not AGENT_BIN.exists():
            raise RuntimeError(f"{AGENT_BIN} does not exist: build it with `ninja -C build`")
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([str(AGENT_BIN), "--log-level", self.log_level],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, cwd=self.dir)
        _register(self.proc)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"event": "garbage", "line": line}
            with self._cond:
                self.events.append(ev)
                self._cond.notify_all()
        with self._cond:
            self.events.append({"event": "exit"})
            self._cond.notify_all()

    def stop(self):
        """Closes stdin (the simulator closes its sessions and exits), SIGTERM/SIGKILL if it
        lingers.  Returns an error text if it did not exit with status 0, else None."""
        problem = None
        if self.alive():
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    rc = self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    rc = self.proc.wait()
                problem = f"{self.name} did not exit when its input closed"
            if rc != 0 and problem is None:
                problem = f"{self.name} exited with status {rc}"
        elif self.proc is not None and self.proc.returncode not in (None, 0):
            problem = f"{self.name} died with status {self.proc.returncode}"
        if self.proc is not None:
            _unregister(self.proc)
        return problem

    def diagnostics(self):
        return (f"--- exit status: {None if self.proc is None else self.proc.poll()}\n"
                f"--- stderr ({self.stderr_path}):\n{tail(self.stderr_path)}\n"
                f"--- last events:\n" + "\n".join(json.dumps(e) for e in self.events[-20:]))

    # ---- raw protocol ----
    def cmd(self, line):
        """Sends one command line."""
        if not self.alive():
            raise RuntimeError(f"{self.name} is not running:\n{self.diagnostics()}")
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def mark(self):
        """The index of the next event: pass it as SINCE to wait for newer events only."""
        with self._cond:
            return len(self.events)

    def wait(self, predicate, timeout=DEFAULT_TIMEOUT, what="an event", since=0):
        """Returns the first event at index >= SINCE for which PREDICATE is true, waiting up to
        TIMEOUT seconds for it."""
        deadline = time.monotonic() + timeout
        i = since
        with self._cond:
            while True:
                while i < len(self.events):
                    ev = self.events[i]
                    i += 1
                    if predicate(ev):
                        return ev
                    if ev.get("event") == "exit":
                        raise RuntimeError(f"{self.name} exited while waiting for {what}:\n"
                                           + self.diagnostics())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}\n"
                                       + self.diagnostics())
                self._cond.wait(left)

    def find(self, predicate, since=0):
        """The events at index >= SINCE matching PREDICATE, now (no waiting)."""
        with self._cond:
            return [e for e in self.events[since:] if predicate(e)]

    def sync(self, timeout=DEFAULT_TIMEOUT):
        """Waits until every earlier command has been handled and its output flushed."""
        m = self.mark()
        self.cmd("sync")
        self.wait(lambda e: e.get("event") == "sync", timeout, "sync", since=m)

    # ---- commands ----
    def connect(self, agent, server, hold=None, subcluster=None, retry_ms=None):
        line = f"connect {agent} {server}"
        if hold is not None:
            line += f" hold {hold}"
        if subcluster:
            line += f" subcluster {subcluster}"
        if retry_ms is not None:
            line += f" retry {retry_ms}"
        self.cmd(line)

    def subscribe(self, agent, vrf, instance_id, no_ribout=False):
        self.cmd(f"subscribe {agent} {vrf} {instance_id}" + (" no-ribout" if no_ribout else ""))

    def unsubscribe(self, agent, vrf):
        self.cmd(f"unsubscribe {agent} {vrf}")

    @staticmethod
    def _options(opts):
        words = []
        for k, v in opts.items():
            k = k.replace("_", "-")
            if v is True:
                words.append(k)
            elif v is not None and v is not False:
                if isinstance(v, (list, tuple)):
                    v = ",".join(str(x) for x in v)
                words += [k, str(v)]
        return " ".join(words)

    def publish(self, agent, family, vrf, *key, **opts):
        """publish AGENT FAMILY VRF KEY... with options nh=, label=, encap=, vn=, sg=[...],
        tag=[...], community=[...], lp=, med=, seq=, sticky=True, mac=, etag=, l3label=,
        sub_protocol=."""
        self.cmd(f"publish {agent} {family} {vrf} {' '.join(key)} {self._options(opts)}")

    def retract(self, agent, family, vrf, *key, **opts):
        self.cmd(f"retract {agent} {family} {vrf} {' '.join(key)} {self._options(opts)}")

    def eor(self, agent):
        self.cmd(f"eor {agent}")

    def config_subscribe(self, agent, node):
        self.cmd(f"config-subscribe {agent} {node}")

    def config_unsubscribe(self, agent, node):
        self.cmd(f"config-unsubscribe {agent} {node}")

    def send_raw(self, agent, text):
        """Sends TEXT as it is on AGENT's connection (one line)."""
        self.cmd(f"send {agent} {text}")

    def close(self, agent):
        self.cmd(f"close {agent}")

    def routes(self, agent, vrf=None, timeout=DEFAULT_TIMEOUT):
        """The routes AGENT holds now (received from the control node), as a list of dicts
        with family, vrf, key, nexthops [{address, label, encap, ...}], vn, sgs, ..."""
        m = self.mark()
        self.cmd(f"routes {agent}" + (f" {vrf}" if vrf else ""))
        ev = self.wait(lambda e: e.get("event") == "routes" and e.get("agent") == agent,
                       timeout, f"routes of {agent}", since=m)
        return ev["routes"]

    # ---- waiting for what agents see ----
    def wait_up(self, agent, timeout=DEFAULT_TIMEOUT, since=0):
        return self.wait(lambda e: e.get("event") == "up" and e.get("agent") == agent,
                         timeout, f"{agent} up", since)

    def wait_down(self, agent, timeout=DEFAULT_TIMEOUT, since=0):
        return self.wait(lambda e: e.get("event") == "down" and e.get("agent") == agent,
                         timeout, f"{agent} down", since)

    def wait_error(self, command=None, timeout=DEFAULT_TIMEOUT, since=0):
        return self.wait(lambda e: e.get("event") == "error"
                         and (command is None or e.get("command") == command),
                         timeout, f"an error for {command}", since)

    def wait_route(self, agent, vrf, key, family=None, predicate=None,
                   timeout=DEFAULT_TIMEOUT):
        """Polls routes(AGENT, VRF) until it holds KEY (and PREDICATE(route) is true); returns
        the route."""
        deadline = time.monotonic() + timeout
        while True:
            for r in self.routes(agent, vrf):
                if r["key"] == key and (family is None or r["family"] == family) \
                        and (predicate is None or predicate(r)):
                    return r
            if time.monotonic() > deadline:
                raise TimeoutError(f"{agent} never held {family or ''} {vrf} {key}:\n"
                                   + json.dumps(self.routes(agent, vrf))[:2000])
            time.sleep(0.02)

    def wait_no_route(self, agent, vrf, key, family=None, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if not any(r["key"] == key and (family is None or r["family"] == family)
                       for r in self.routes(agent, vrf)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{agent} still holds {vrf} {key}")
            time.sleep(0.02)


def run_load(server, agents, instances, per_agent, routes, timeout=60, extra=()):
    """Runs the simulator's load mode; returns (exit status, the JSON result line)."""
    cmd = [str(AGENT_BIN), "--load", "--server", server, "--agents", str(agents),
           "--instances", str(instances), "--instances-per-agent", str(per_agent),
           "--routes", str(routes), "--timeout", str(timeout)] + list(extra)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _register(proc)
    try:
        out, err = proc.communicate(timeout=timeout + 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _unregister(proc)
    lines = [l for l in out.decode().splitlines() if l.startswith("{")]
    result = json.loads(lines[-1]) if lines else None
    return proc.returncode, result, err.decode("utf-8", "replace")


class XmppTestServer(Daemon):
    """tests/unit/xmpp_test_server: a route reflector speaking the control node's XMPP."""

    name = "xmpp_test_server"

    def __init__(self, workdir, port=0, hold=None, subcluster=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.hold = hold
        self.subcluster = subcluster
        self.proc = None
        self.stderr_path = self.dir / "xmpp-test-server.err"

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        if not TEST_SERVER_BIN.exists():
            raise RuntimeError(f"{TEST_SERVER_BIN} does not exist: build with `ninja -C build`")
        cmd = [str(TEST_SERVER_BIN), "--port", str(self.port)]
        if self.hold:
            cmd += ["--hold", str(self.hold)]
        if self.subcluster:
            cmd += ["--subcluster", self.subcluster]
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL, cwd=self.dir)
        _register(self.proc)
        line = self.proc.stdout.readline().decode()
        if not line:
            self.kill()
            raise RuntimeError(f"xmpp_test_server did not start:\n{tail(self.stderr_path)}")
        self.port = json.loads(line)["port"]
        return self

    def restart(self):
        """SIGKILL, then start again on the same port."""
        self.kill()
        return self.start()

    def stop(self):
        problem = super().stop()
        if self.proc is not None:
            _unregister(self.proc)
        return problem

    def kill(self, sig=signal.SIGKILL):
        super().kill(sig)
        if self.proc is not None:
            _unregister(self.proc)
