"""System-test harness for contrail-api: runs the real daemon in a private directory.

Every daemon started here lives in a pytest tmp directory (its SQLite config DB, its log file
and its captured stdout/stderr), listens on free loopback ports, and is killed at teardown even
when the test fails.  Readiness is detected by polling `GET /` with a deadline, never by sleeping.

Fixtures
  api_server  module-scoped daemon shared by the tests of one file
  api         Client for api_server; checks after the test that the daemon did not die
  fresh_server / fresh_api
              a private daemon for one test (exact allocation values, durability:
              fresh_server.restart() kills it with SIGKILL and starts it again on the same DB)
  daemon_factory
              builds extra ApiServer instances (custom options, --conf_file) that are all
              stopped at teardown

Environment
  CONTRAIL_BUILD_DIR build directory to take the daemon from (default: <repo>/build)
  CONTRAIL_API_BIN   path of the binary (default: $CONTRAIL_BUILD_DIR/config/api/contrail-api)

A daemon stopped with SIGTERM at teardown must exit with status 0 (under the sanitizer build a
leak or memory error shows up as a teardown error, with the daemon's output attached).
"""

import ipaddress
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid as uuidlib
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("CONTRAIL_BUILD_DIR", REPO / "build"))
API_BIN = Path(os.environ.get("CONTRAIL_API_BIN", BUILD_DIR / "config" / "api" / "contrail-api"))
START_TIMEOUT = 20.0        # seconds for the daemon to answer GET /
HTTP_TIMEOUT = 15.0         # seconds for any single request

DOMAIN = "default-domain"
DEFAULT_PROJECT = [DOMAIN, "default-project"]
DEFAULT_IPAM = [DOMAIN, "default-project", "default-network-ipam"]

_live = set()               # every process we started and have not reaped (atexit safety net)
_live_lock = threading.Lock()


_handed_out = set()


def free_port():
    """A TCP port that is free on 127.0.0.1 right now, and not handed out before by this
    process (ports picked for daemons that have not bound them yet must not repeat)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def poll(predicate, timeout, what, interval=0.02):
    """Calls PREDICATE until it returns a true value (returned) or TIMEOUT seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def tail(path, lines=40):
    """The last LINES lines of PATH, or a sanitizer report in it from its first line."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return f"<{path}: missing>"
    all_lines = text.splitlines()
    for i, line in enumerate(all_lines):
        if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line \
                or "runtime error:" in line:
            return "\n".join(all_lines[i:i + 80])
    return "\n".join(all_lines[-lines:])


class Daemon:
    """The process side of a daemon under test: self.proc (a Popen registered in _live) and
    self.name (for messages)."""

    proc = None
    name = "daemon"

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

    def kill(self, sig=signal.SIGKILL):
        """Sends SIG (default SIGKILL) to our process and reaps it."""
        if self.alive():
            self.proc.send_signal(sig)
        self._reap()

    def stop(self):
        """SIGTERM, then SIGKILL if it does not exit within 10 s.  Returns an error text if
        the daemon did not exit cleanly (status 0) on SIGTERM or had died of something else
        than SIGKILL (under the sanitizer build a leak shows up here), else None."""
        problem = None
        if self.alive():
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=10)
                if rc != 0:
                    problem = f"{self.name} exited with status {rc} on SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                problem = f"{self.name} did not exit within 10 s of SIGTERM"
        elif self.proc is not None and self.proc.returncode not in (None, 0, -signal.SIGKILL):
            problem = f"{self.name} died with status {self.proc.returncode}"
        self._reap()
        return problem


class ApiServer(Daemon):
    """One contrail-api process with its own directory, DB and ports."""

    name = "contrail-api"

    def __init__(self, workdir, use_conf_file=False, extra_args=(), options=None):
        self.more_options = dict(options or {})
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = self.dir / "config.db"
        self.log = self.dir / "api.log"
        self.use_conf_file = use_conf_file
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.introspect_port = None
        self.starts = 0
        self.stdout_path = None

    # ---- addresses ----
    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def introspect_url(self):
        return f"http://127.0.0.1:{self.introspect_port}"

    # ---- life cycle ----
    def _options(self):
        return {
            "listen_ip_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "http_server_ip": "127.0.0.1",
            "http_server_port": str(self.introspect_port),
            "config_db": f"sqlite:{self.db}",
            "log_file": str(self.log),
            "log_level": "SYS_DEBUG",
            # No IF-MAP publishing unless a test gives a server (options=...).
            "ifmap_server_ip": "",
        } | self.more_options

    def command(self):
        opts = self._options()
        if self.use_conf_file:
            conf = self.dir / "contrail-api.conf"
            conf.write_text("[DEFAULTS]\n" + "".join(f"{k} = {v}\n" for k, v in opts.items()))
            args = [str(API_BIN), "--conf_file", str(conf)]
        else:
            args = [str(API_BIN)]
            for k, v in opts.items():
                args += [f"--{k}", v]
        return args + self.extra_args

    def start(self):
        """Starts the daemon and waits until GET / answers 200.  Retries on a port clash."""
        if not API_BIN.exists():
            raise RuntimeError(f"{API_BIN} does not exist: build it with `ninja -C build`")
        last = None
        for _attempt in range(3):
            self.port, self.introspect_port = free_port(), free_port()
            while self.introspect_port == self.port:
                self.introspect_port = free_port()
            self.starts += 1
            self.stdout_path = self.dir / f"stdout.{self.starts}.txt"
            with open(self.stdout_path, "wb") as out:
                self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.dir)
            with _live_lock:
                _live.add(self.proc)
            if self._wait_ready():
                return self
            last = f"exit status {self.proc.returncode}"
            self._reap()
        raise RuntimeError(f"contrail-api failed to start ({last}):\n{self.diagnostics()}")

    def _wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                return "died"
            try:
                r = requests.get(self.url + "/", timeout=1)
                return "up" if r.status_code == 200 else None
            except requests.RequestException:
                return None
        try:
            state = poll(ready, START_TIMEOUT, f"contrail-api on port {self.port} to answer GET /")
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"contrail-api did not answer GET / within {START_TIMEOUT}s:\n"
                               + self.diagnostics())
        return state == "up"

    def restart(self, hard=True):
        """Kills the daemon (SIGKILL unless HARD is false) and starts it again on the same DB."""
        if hard:
            self.kill()
        else:
            problem = self.stop()
            assert problem is None, problem + "\n" + self.diagnostics()
        return self.start()

    def diagnostics(self):
        rc = None if self.proc is None else self.proc.poll()
        return (f"--- exit status: {rc}\n--- stdout/stderr ({self.stdout_path}):\n"
                f"{tail(self.stdout_path) if self.stdout_path else ''}\n"
                f"--- log ({self.log}):\n{tail(self.log)}")


def _kill_leftovers():
    with _live_lock:
        procs = list(_live)
    for p in procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


import atexit  # noqa: E402  (safety net only; fixtures already stop their daemons)
atexit.register(_kill_leftovers)


# ---------------------------------------------------------------------------------------------
# Client


def describe(resp):
    body = resp.text if resp is not None else ""
    return (f"{resp.request.method} {resp.request.url} -> {resp.status_code}: {body[:800]!r}")


def expect(resp, status):
    """Asserts RESP has STATUS (an int or a tuple of ints) and returns it."""
    ok = resp.status_code in status if isinstance(status, tuple) else resp.status_code == status
    assert ok, f"expected {status}, got {describe(resp)}"
    return resp


def unique(prefix):
    return f"{prefix}-{uuidlib.uuid4().hex[:10]}"


def subnet(cidr, **extra):
    """An IpamSubnetType dict for CIDR ("203.0.113.0/24"), plus EXTRA fields."""
    net = ipaddress.ip_network(cidr, strict=False)
    d = {"subnet": {"ip_prefix": str(net.network_address), "ip_prefix_len": net.prefixlen}}
    d.update(extra)
    return d


def ip(text):
    return ipaddress.ip_address(text)


def uuid_halves(u):
    h = uuidlib.UUID(u).hex
    return int(h[:16], 16), int(h[16:], 16)


def is_uuid(text):
    try:
        return str(uuidlib.UUID(text)) == text.lower()
    except (ValueError, AttributeError, TypeError):
        return False


class HttpClient:
    """A `requests` session against one daemon's REST port (follows it across restarts):
    raw HTTP calls that return the Response."""

    def __init__(self, server):
        self.server = server
        self.http = requests.Session()

    @property
    def base(self):
        return self.server.url

    def close(self):
        self.http.close()

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.http.request(method, self.base + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        if body is not None:
            kw["json"] = body
        return self.request("POST", path, **kw)


class Client(HttpClient):
    """A thin `requests` client for one ApiServer."""

    def put(self, path, body=None, **kw):
        if body is not None:
            kw["json"] = body
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # ---- resource helpers: assert success, return decoded JSON ----
    def create_raw(self, rtype, body):
        return self.post(f"/{rtype}s", {rtype: body})

    def create(self, rtype, body):
        """POST /<type>s; returns the inner object of the 200 response."""
        r = expect(self.create_raw(rtype, body), 200)
        return r.json()[rtype]

    def read_raw(self, rtype, uid, **params):
        return self.get(f"/{rtype}/{uid}", params=params)

    def read(self, rtype, uid, **params):
        r = expect(self.read_raw(rtype, uid, **params), 200)
        return r.json()[rtype]

    def update_raw(self, rtype, uid, fields):
        return self.put(f"/{rtype}/{uid}", {rtype: fields})

    def update(self, rtype, uid, fields):
        r = expect(self.update_raw(rtype, uid, fields), 200)
        return r.json()[rtype]

    def remove(self, rtype, uid):
        return expect(self.delete(f"/{rtype}/{uid}"), 200)

    def list(self, rtype, **params):
        r = expect(self.get(f"/{rtype}s", params=params), 200)
        return r.json()

    def list_uuids(self, rtype, **params):
        return {e["uuid"] for e in self.list(rtype, **params)[f"{rtype}s"]}

    def fq_to_id_raw(self, rtype, fq):
        return self.post("/fqname-to-id", {"type": rtype, "fq_name": fq})

    def fq_to_id(self, rtype, fq):
        return expect(self.fq_to_id_raw(rtype, fq), 200).json()["uuid"]

    def ref_update(self, rtype, uid, ref_type, ref_uuid=None, op="ADD", attr=None,
                   ref_fq=None):
        body = {"type": rtype, "uuid": uid, "ref-type": ref_type, "operation": op}
        if ref_uuid is not None:
            body["ref-uuid"] = ref_uuid
        if ref_fq is not None:
            body["ref-fq-name"] = ref_fq
        if attr is not None:
            body["attr"] = attr
        return self.post("/ref-update", body)

    def alive(self):
        """True if the daemon still answers GET / with 200."""
        try:
            return self.get("/", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    # ---- object builders ----
    def project(self, name=None, **props):
        """Creates a project under default-domain; returns a Tenant to build objects in it."""
        fq = [DOMAIN, name or unique("proj")]
        obj = self.create("project", dict(parent_type="domain", fq_name=fq, **props))
        return Tenant(self, fq, obj["uuid"])


class Tenant:
    """A project plus helpers that create objects inside it."""

    def __init__(self, client, fq, uid):
        self.api = client
        self.fq = fq
        self.uuid = uid
        self._ipam = None

    def name(self, prefix):
        return unique(prefix)

    def ipam(self):
        """A network-ipam of this project (created on first use)."""
        if self._ipam is None:
            fq = self.fq + [unique("ipam")]
            obj = self.api.create("network-ipam", {"parent_type": "project", "fq_name": fq})
            self._ipam = {"fq_name": fq, "uuid": obj["uuid"]}
        return self._ipam

    def vn_body(self, name=None, subnets=(), **props):
        body = {"parent_type": "project", "fq_name": self.fq + [name or unique("vn")]}
        if subnets:
            sn = [subnet(s) if isinstance(s, str) else s for s in subnets]
            body["network_ipam_refs"] = [{"to": self.ipam()["fq_name"],
                                          "attr": {"ipam_subnets": sn}}]
        body.update(props)
        return body

    def vn(self, name=None, subnets=(), **props):
        """Creates a VN; returns its full GET object."""
        body = self.vn_body(name, subnets, **props)
        obj = self.api.create("virtual-network", body)
        return self.api.read("virtual-network", obj["uuid"])

    def iip_body(self, vn, name=None, **props):
        body = {"fq_name": [name or unique("iip")],
                "virtual_network_refs": [{"to": vn["fq_name"]}]}
        body.update(props)
        return body

    def iip_raw(self, vn, name=None, **props):
        return self.api.create_raw("instance-ip", self.iip_body(vn, name, **props))

    def iip(self, vn, name=None, **props):
        """Creates an instance-ip on VN; returns its full GET object."""
        obj = self.api.create("instance-ip", self.iip_body(vn, name, **props))
        return self.api.read("instance-ip", obj["uuid"])

    def vmi(self, vn, name=None, **props):
        body = {"parent_type": "project", "fq_name": self.fq + [name or unique("port")],
                "virtual_network_refs": [{"to": vn["fq_name"]}]}
        body.update(props)
        obj = self.api.create("virtual-machine-interface", body)
        return self.api.read("virtual-machine-interface", obj["uuid"])

    def sg(self, name=None, **props):
        body = {"parent_type": "project", "fq_name": self.fq + [name or unique("sg")],
                "security_group_entries": {"policy_rule": []}}
        body.update(props)
        obj = self.api.create("security-group", body)
        return self.api.read("security-group", obj["uuid"])

    def policy(self, name=None, **props):
        body = {"parent_type": "project", "fq_name": self.fq + [name or unique("pol")],
                "network_policy_entries": {"policy_rule": []}}
        body.update(props)
        obj = self.api.create("network-policy", body)
        return self.api.read("network-policy", obj["uuid"])


def ipam_subnets(vn):
    """The ipam_subnets of VN's first network_ipam ref (as the server filled them)."""
    refs = vn.get("network_ipam_refs") or []
    assert refs, f"VN has no network_ipam_refs: {json.dumps(vn)[:500]}"
    return refs[0]["attr"]["ipam_subnets"]


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    srv = ApiServer(tmp_path_factory.mktemp("contrail-api"))
    srv.start()
    try:
        yield srv
    finally:
        problem = srv.stop()
    if problem:
        pytest.fail(problem + "\n" + srv.diagnostics())


@pytest.fixture
def api(api_server):
    if not api_server.alive():
        # An earlier test of this module crashed it (that test already failed): keep going.
        api_server._reap()
        api_server.start()
    client = Client(api_server)
    yield client
    client.close()
    if not api_server.alive():
        pytest.fail("contrail-api died during this test\n" + api_server.diagnostics())


@pytest.fixture
def daemon_factory(tmp_path):
    made = []

    def make(name="api", **kw):
        srv = ApiServer(tmp_path / name, **kw)
        made.append(srv)
        return srv
    yield make
    problems = []
    for srv in made:
        problem = srv.stop()
        if problem:
            problems.append(problem + "\n" + srv.diagnostics())
    if problems:
        pytest.fail("\n\n".join(problems))


@pytest.fixture
def fresh_server(daemon_factory):
    return daemon_factory("fresh").start()


@pytest.fixture
def fresh_api(fresh_server):
    client = Client(fresh_server)
    yield client
    client.close()
