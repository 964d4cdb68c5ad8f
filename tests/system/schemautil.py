"""contrail-schema for the system tests: the daemon in a private directory, plus a config node
(ifmap-server + contrail-api publishing to it) to run it against.

    node = ConfigNode(tmp_path).start()
    st = SchemaTransformer(tmp_path / "st", node).start()
    st.wait_idle()
    ...
    st.stop(); node.stop()

Every process is registered with conftest's atexit safety net and polled for readiness with a
deadline (never a sleep).
"""

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import BUILD_DIR, ApiServer, Client, _live, _live_lock, free_port, poll, tail
from ifmaputil import IfmapServer

SCHEMA_BIN = Path(os.environ.get("CONTRAIL_SCHEMA_BIN",
                                 BUILD_DIR / "config" / "schema" / "contrail-schema"))
CONVERGE = 30.0


class ConfigNode:
    """An ifmap-server and a contrail-api publishing to it."""

    def __init__(self, workdir, disc=None):
        self.dir = Path(workdir)
        self.ifmap = IfmapServer(self.dir / "ifmap")
        self.api = None
        self.disc = disc            # "host:port" of a discovery server to publish to

    def start(self):
        self.ifmap.start()
        options = {"ifmap_server_ip": "127.0.0.1", "ifmap_server_port": str(self.ifmap.port),
                   "log_level": "SYS_NOTICE"}
        if self.disc:
            options["disc_server_ip"] = self.disc
        self.api = ApiServer(self.dir / "api", options=options)
        self.api.start()
        return self

    def client(self):
        return Client(self.api)

    def api_counters(self):
        r = requests.get(self.api.introspect_url + "/api", timeout=10)
        r.raise_for_status()
        j = r.json()
        return {k: j[k] for k in ("creates", "updates", "deletes")}

    def stop(self):
        problems = []
        if self.api:
            p = self.api.stop()
            if p:
                problems.append(p + "\n" + self.api.diagnostics())
        p = self.ifmap.stop()
        if p:
            problems.append(p + "\n" + self.ifmap.diagnostics())
        return problems

    def diagnostics(self):
        return (self.api.diagnostics() if self.api else "") + "\n" + self.ifmap.diagnostics()


class SchemaTransformer:
    """One contrail-schema process."""

    def __init__(self, workdir, node, zk=None, zk_session_timeout_ms=None, extra_args=(),
                 disc=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.node = node
        self.zk = zk
        self.zk_session_timeout_ms = zk_session_timeout_ms
        self.extra_args = list(extra_args)
        self.disc = disc            # "host:port": find the servers through discovery
        self.proc = None
        self.introspect_port = None
        self.starts = 0
        self.log = self.dir / "schema.log"
        self.out = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.introspect_port}"

    def command(self):
        if self.disc:
            args = [str(SCHEMA_BIN), "--disc_server_ip", self.disc]
        else:
            args = [str(SCHEMA_BIN), "--api_server_ip", "127.0.0.1",
                    "--api_server_port", str(self.node.api.port),
                    "--ifmap_server_ip", "127.0.0.1",
                    "--ifmap_server_port", str(self.node.ifmap.port)]
        args += ["--http_server_port", str(self.introspect_port),
                "--log_file", str(self.log),
                "--log_level", os.environ.get("CONTRAIL_SCHEMA_LOG_LEVEL", "SYS_INFO")]
        if self.zk:
            args += ["--zk_server_ip", self.zk]
        if self.zk_session_timeout_ms:
            args += ["--zk_session_timeout_ms", str(self.zk_session_timeout_ms)]
        return args + self.extra_args

    def start(self):
        if not SCHEMA_BIN.exists():
            raise RuntimeError(f"{SCHEMA_BIN} does not exist: build it with `ninja -C build`")
        for _attempt in range(3):
            self.introspect_port = free_port()
            self.starts += 1
            self.out = self.dir / f"stdout.{self.starts}.txt"
            with open(self.out, "wb") as out:
                self.proc = subprocess.Popen(self.command(), stdout=out,
                                             stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.dir)
            with _live_lock:
                _live.add(self.proc)

            def ready():
                if self.proc.poll() is not None:
                    return "died"
                try:
                    r = requests.get(self.url + "/counters", timeout=1)
                    return "up" if r.status_code == 200 else None
                except requests.RequestException:
                    return None
            if poll(ready, 20, "contrail-schema to start") == "up":
                return self
            self._reap()
        raise RuntimeError("contrail-schema failed to start:\n" + self.diagnostics())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self):
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            with _live_lock:
                _live.discard(self.proc)

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self):
        """SIGTERM; returns an error text unless the daemon exits 0 within 10 s."""
        problem = None
        if self.alive():
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=10)
                if rc != 0:
                    problem = f"contrail-schema exited with status {rc} on SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                problem = "contrail-schema did not exit within 10 s of SIGTERM"
        elif self.proc is not None and self.proc.returncode not in (0, -signal.SIGKILL):
            problem = f"contrail-schema died (status {self.proc.returncode})"
        self._reap()
        return problem

    def page(self, path):
        r = requests.get(self.url + path, timeout=10)
        r.raise_for_status()
        return r.json()

    def counters(self):
        return self.page("/counters")

    def wait_idle(self, timeout=CONVERGE):
        """Waits until this transformer is active with nothing left to do."""
        def idle():
            if not self.alive():
                raise AssertionError("contrail-schema died:\n" + self.diagnostics())
            return self.counters()["idle"]
        poll(idle, timeout, "contrail-schema to be active and idle", interval=0.05)

    def diagnostics(self):
        rc = None if self.proc is None else self.proc.poll()
        return (f"--- exit status: {rc}\n--- stdout/stderr:\n"
                f"{tail(self.out) if self.out else ''}\n--- log:\n{tail(self.log, 60)}")


# ---------------------------------------------------------------------------------------------
# Fixtures for test modules that run against one config node and schema transformer: import
# them into the module (from schemautil import node, st, api).


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A config node (ifmap-server + contrail-api) for the module."""
    n = ConfigNode(tmp_path_factory.mktemp("config-node"))
    try:
        n.start()
    except Exception:
        n.stop()
        raise
    yield n
    problems = n.stop()
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture(scope="module")
def st(node, tmp_path_factory):
    """contrail-schema on the module's config node."""
    s = SchemaTransformer(tmp_path_factory.mktemp("schema-st"), node).start()
    yield s
    problem = s.stop()
    if problem:
        pytest.fail(problem + "\n" + s.diagnostics())


@pytest.fixture
def api(node, st):
    """An API client for one test; fails the test if contrail-schema died meanwhile."""
    c = node.client()
    yield c
    c.close()
    assert st.alive(), "contrail-schema died\n" + st.diagnostics()


def primary_ri(api, vn_uuid):
    """The primary routing instance of the network (as the API returns it), or None."""
    vn = api.read("virtual-network", vn_uuid)
    for ri in vn.get("routing_instances") or []:
        if ri["to"][-1] == vn["fq_name"][-1]:
            return api.read("routing-instance", ri["uuid"])
    return None
