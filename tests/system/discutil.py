"""Helpers for the contrail-discovery system tests: the daemon and a REST client for it
(ZooKeeper ensembles to run several discovery servers on come from zkutil.py).

Every process started here lives in a pytest tmp directory, listens on free loopback ports, is
polled for readiness with a deadline (never a sleep), and is registered with conftest's atexit
safety net so that it is killed even if a fixture's teardown does not run.

Environment
  CONTRAIL_BUILD_DIR       build directory (default: <repo>/build), as for conftest.py
  CONTRAIL_DISCOVERY_BIN   path of the binary (default: $CONTRAIL_BUILD_DIR/config/discovery/
                           contrail-discovery)
"""

import os
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import requests

from conftest import (BUILD_DIR, HTTP_TIMEOUT, Daemon, HttpClient, _live, _live_lock,
                      describe, free_port, poll, tail)

DISC_BIN = Path(os.environ.get("CONTRAIL_DISCOVERY_BIN",
                               BUILD_DIR / "config" / "discovery" / "contrail-discovery"))
START_TIMEOUT = 20.0


def _register(proc):
    with _live_lock:
        _live.add(proc)


def _free_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return list(ports)


# ---------------------------------------------------------------------------------------------
# The daemon


class Discovery(Daemon):
    """One contrail-discovery process with its own directory and ports.

    HC_INTERVAL, HC_MAX_MISS, TTL_MIN, TTL_MAX are passed as options; ZK is a ZooKeeper connect
    string ("127.0.0.1:p1,127.0.0.1:p2") or None for the in-process store; POLICIES maps service
    types to a policy name, written to a conf file (sections named after the types).  With
    USE_CONF_FILE every option goes into that conf file ([DEFAULTS]) instead of the command
    line."""

    def __init__(self, workdir, hc_interval=30, hc_max_miss=3, ttl_min=40, ttl_max=60, zk=None,
                 zk_session_timeout_ms=None, policies=None, use_conf_file=False,
                 extra_args=()):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "discovery.log"
        self.hc_interval = hc_interval
        self.hc_max_miss = hc_max_miss
        self.ttl_min = ttl_min
        self.ttl_max = ttl_max
        self.zk = zk
        self.zk_session_timeout_ms = zk_session_timeout_ms
        self.policies = dict(policies or {})
        self.use_conf_file = use_conf_file
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.introspect_port = None
        self.starts = 0
        self.stdout_path = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    @property
    def expiry(self):
        """Seconds without a heartbeat after which a publisher is down."""
        return self.hc_interval * self.hc_max_miss

    def _options(self):
        opts = {
            "listen_ip_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "http_server_ip": "127.0.0.1",
            "http_server_port": str(self.introspect_port),
            "log_file": str(self.log),
            "log_level": "SYS_DEBUG",
            "hc_interval": str(self.hc_interval),
            "hc_max_miss": str(self.hc_max_miss),
            "ttl_min": str(self.ttl_min),
            "ttl_max": str(self.ttl_max),
        }
        if self.zk:
            opts["zk_server_ip"] = self.zk
            if self.zk_session_timeout_ms:
                opts["zk_session_timeout_ms"] = str(self.zk_session_timeout_ms)
        return opts

    def command(self):
        opts = self._options()
        args = [str(DISC_BIN)]
        if self.use_conf_file or self.policies:
            conf = self.dir / "contrail-discovery.conf"
            text = "[DEFAULTS]\n"
            if self.use_conf_file:
                text += "".join(f"{k} = {v}\n" for k, v in opts.items())
            for stype, policy in self.policies.items():
                text += f"\n[{stype}]\npolicy = {policy}\n"
            conf.write_text(text)
            args += ["--conf_file", str(conf)]
        if not self.use_conf_file:
            for k, v in opts.items():
                args += [f"--{k}", v]
        return args + self.extra_args

    def start(self):
        """Starts the daemon and waits until it answers (and, on ZooKeeper, until a read of
        the store succeeds).  Retries on a port clash."""
        if not DISC_BIN.exists():
            raise RuntimeError(f"{DISC_BIN} does not exist: build it with `ninja -C build`")
        last = None
        for _attempt in range(3):
            self.port, self.introspect_port = _free_ports(2)
            self.starts += 1
            self.stdout_path = self.dir / f"stdout.{self.starts}.txt"
            with open(self.stdout_path, "wb") as out:
                self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.dir)
            _register(self.proc)
            state = self._wait_ready()
            if state == "up":
                return self
            last = f"exit status {self.proc.returncode}"
            self._reap()
        raise RuntimeError(f"contrail-discovery failed to start ({last}):\n"
                           + self.diagnostics())

    def _wait_ready(self):
        path = "/services.json" if self.zk else "/"

        def ready():
            if self.proc.poll() is not None:
                return "died"
            try:
                r = requests.get(self.url + path, timeout=2)
                return "up" if r.status_code == 200 else None
            except requests.RequestException:
                return None
        try:
            return poll(ready, START_TIMEOUT, f"contrail-discovery on port {self.port}",
                        interval=0.05)
        except TimeoutError:
            self.kill()
            raise RuntimeError(f"contrail-discovery did not answer GET {path} within "
                               f"{START_TIMEOUT}s:\n" + self.diagnostics())

    name = "contrail-discovery"

    def diagnostics(self):
        rc = None if self.proc is None else self.proc.poll()
        return (f"--- contrail-discovery on port {self.port}, exit status: {rc}\n"
                f"--- stdout/stderr ({self.stdout_path}):\n"
                f"{tail(self.stdout_path) if self.stdout_path else ''}\n"
                f"--- log ({self.log}):\n{tail(self.log)}")

    def client(self):
        return DiscClient(self)


# ---------------------------------------------------------------------------------------------
# REST client


class DiscClient(HttpClient):
    """A `requests` client for one discovery server.  Methods ending in _raw return the
    Response; the others assert success and return the decoded answer."""

    def post_data(self, path, data, content_type="application/json", **kw):
        return self.request("POST", path, data=data, headers={"Content-Type": content_type},
                            **kw)

    def post_xml(self, path, xml, **kw):
        return self.post_data(path, xml.encode() if isinstance(xml, str) else xml,
                              "application/xml", **kw)

    def alive(self):
        try:
            return self.get("/", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    # ---- publish / heartbeat ----
    @staticmethod
    def publish_body(stype, info, remote="127.0.0.1", **extra):
        body = {stype: info, "service-type": stype, "remote-addr": remote, "oper-state": "up"}
        body.update(extra)
        return body

    def publish_raw(self, stype, info, timeout=HTTP_TIMEOUT, **extra):
        return self.post("/publish", self.publish_body(stype, info, **extra), timeout=timeout)

    def publish(self, stype, info, **extra):
        """Publishes; returns the cookie "<sid>:<type>"."""
        r = self.publish_raw(stype, info, **extra)
        assert r.status_code == 200, describe(r)
        cookie = r.json()["cookie"]
        assert cookie.endswith(":" + stype), describe(r)
        return cookie

    def heartbeat_raw(self, cookie, timeout=HTTP_TIMEOUT):
        return self.post("/heartbeat", {"cookie": cookie}, timeout=timeout)

    def heartbeat(self, cookie):
        r = self.heartbeat_raw(cookie)
        assert r.status_code == 200, describe(r)
        return r

    # ---- subscribe / query ----
    def subscribe_raw(self, stype, client, instances=1, timeout=HTTP_TIMEOUT, **extra):
        body = {"service": stype, "instances": instances, "client": client,
                "client-type": "contrail-test", "remote-addr": "127.0.0.1"}
        body.update(extra)
        return self.post("/subscribe", body, timeout=timeout)

    def subscribe(self, stype, client, instances=1, **extra):
        """Returns the answer {"ttl": n, stype: [...]}."""
        r = self.subscribe_raw(stype, client, instances, **extra)
        assert r.status_code == 200, describe(r)
        answer = r.json()
        assert isinstance(answer.get("ttl"), int), describe(r)
        assert isinstance(answer.get(stype), list), describe(r)
        return answer

    def subscribe_ids(self, stype, client, instances=1):
        """The publisher ids a subscription gets, in answer order."""
        return [e["@publisher-id"] for e in self.subscribe(stype, client, instances)[stype]]

    def query_raw(self, stype, instances=0, **extra):
        body = {"service": stype, "instances": instances}
        body.update(extra)
        return self.post("/query", body)

    def query(self, stype, instances=0, **extra):
        r = self.query_raw(stype, instances, **extra)
        assert r.status_code == 200, describe(r)
        return r.json()

    # ---- listings / admin ----
    def services(self, stype=None):
        r = self.get(f"/services/{stype}" if stype else "/services.json")
        assert r.status_code == 200, describe(r)
        return r.json()["services"]

    def service_map(self, stype):
        """{service_id "<sid>:<type>": entry} of /services/<type>."""
        return {e["service_id"]: e for e in self.services(stype)}

    def clients(self, stype=None):
        r = self.get(f"/clients/{stype}" if stype else "/clients.json")
        assert r.status_code == 200, describe(r)
        return r.json()["services"]

    def status(self, cookie, stype=None):
        """"up"/"down" of a publisher in /services/<type>, None when not listed.  STYPE
        defaults to what follows the last colon of the cookie."""
        entry = self.service_map(stype or cookie.rsplit(":", 1)[1]).get(cookie)
        return entry["status"] if entry else None

    def admin_raw(self, method, cookie, body=None):
        kw = {"json": body} if body is not None else {}
        return self.request(method, f"/service/{cookie}", **kw)

    def set_admin(self, cookie, state):
        r = self.admin_raw("PUT", cookie, {"admin-state": state})
        assert r.status_code == 200, describe(r)
        return r

    def stats(self):
        r = self.get("/stats")
        assert r.status_code == 200, describe(r)
        return r.json()


def sid(cookie):
    """The service id part of a cookie "<sid>:<type>"."""
    return cookie.rsplit(":", 1)[0]


def parse_xml(resp):
    """The XML root element of RESP (asserting it is well-formed)."""
    try:
        return ET.fromstring(resp.content)
    except ET.ParseError as e:
        raise AssertionError(f"malformed XML answer ({e}): {describe(resp)}")


class Hammer:
    """Threads that heartbeat COOKIE and (unless STYPE is None) subscribe new clients to STYPE
    through SERVERS (round robin) as fast as they can, until stop().  `count` is the number of
    requests made."""

    def __init__(self, servers, cookie, stype=None, threads=4):
        self.servers = list(servers)
        self.cookie = cookie
        self.stype = stype
        self.count = 0
        self.errors = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(threads)]

    def _run(self, n):
        c = DiscClient(self.servers[n % len(self.servers)])
        i = 0
        try:
            while not self._stop.is_set():
                calls = [c.heartbeat_raw(self.cookie)]
                if self.stype:
                    calls.append(c.subscribe_raw(self.stype, f"hammer-{n}-{i}"))
                for r in calls:
                    with self._lock:
                        self.count += 1
                        if r.status_code != 200:
                            self.errors.append(describe(r))
                i += 1
        except requests.RequestException as e:
            with self._lock:
                self.errors.append(repr(e))
        finally:
            c.close()

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def wait_requests(self, n, timeout=10):
        """Waits until N more requests have been made."""
        target = self.count + n
        poll(lambda: self.count >= target or self.errors, timeout, f"{n} hammer requests",
             interval=0.005)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(30)


def wait_until(predicate, timeout, what, interval=0.05):
    """poll() with a shorter default interval, for assertions on time-driven state."""
    return poll(predicate, timeout, what, interval=interval)


def elapsed_since(t0):
    return time.monotonic() - t0
