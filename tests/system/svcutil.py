"""etcd clusters and RabbitMQ brokers for the system tests (Debian packages, run by hand).

EtcdCluster starts SIZE etcd members on loopback (free client and peer ports, a data dir per
member under the test's tmp directory, --max-txn-ops raised for the API server's batches).
RabbitBroker runs one private RabbitMQ node (its own HOME, node name, ports, mnesia and log
directories, and its own epmd port so that brokers of parallel runs never meet).  Both
register their processes with conftest's atexit safety net.

    etcd = EtcdCluster(tmp_path / "etcd").start()
    spec = etcd.spec                      # "etcd:http://127.0.0.1:p1,..."
    etcd.kill(etcd.leader())
    rmq = RabbitBroker(tmp_path / "rmq").start()
    rmq.kill(); rmq.start()
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

from conftest import _live, _live_lock, free_port, poll, tail

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def etcd_installed():
    return os.path.exists(ETCD)


def rabbitmq_installed():
    return os.path.exists(RABBIT_SERVER)


def _ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def _stop(proc, sig=signal.SIGKILL, timeout=15):
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with _live_lock:
        _live.discard(proc)


class EtcdCluster:
    """SIZE etcd members on 127.0.0.1; member I is 0-based."""

    def __init__(self, workdir, size=3):
        self.dir = Path(workdir)
        self.size = size
        ports = _ports(2 * size)
        self.client_ports = ports[:size]
        self.peer_ports = ports[size:]
        self.procs = [None] * size
        self.started = [False] * size

    @property
    def urls(self):
        return [f"http://127.0.0.1:{p}" for p in self.client_ports]

    @property
    def spec(self):
        return "etcd:" + ",".join(self.urls)

    def _name(self, i):
        return f"m{i + 1}"

    def start_member(self, i):
        d = self.dir / self._name(i)
        d.mkdir(parents=True, exist_ok=True)
        cluster = ",".join(f"{self._name(k)}=http://127.0.0.1:{self.peer_ports[k]}"
                           for k in range(self.size))
        args = [ETCD, "--name", self._name(i), "--data-dir", str(d / "data"),
                "--listen-client-urls", self.urls[i], "--advertise-client-urls", self.urls[i],
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-cluster", cluster, "--initial-cluster-token", f"t{self.peer_ports[0]}",
                "--initial-cluster-state", "existing" if self.started[i] else "new",
                "--max-txn-ops", "100000", "--max-request-bytes", str(64 << 20),
                "--heartbeat-interval", "100", "--election-timeout", "1000",
                "--logger", "zap", "--log-outputs", "stderr"]
        with open(d / "stdout.txt", "ab") as out:
            self.procs[i] = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.started[i] = True
        with _live_lock:
            _live.add(self.procs[i])

    def start(self, timeout=30.0):
        if not etcd_installed():
            raise RuntimeError("etcd missing: install the Debian etcd-server package")
        for i in range(self.size):
            self.start_member(i)
        self.wait_healthy(timeout)
        return self

    def running(self, i):
        return self.procs[i] is not None and self.procs[i].poll() is None

    def status(self, i):
        try:
            r = requests.post(self.urls[i] + "/v3/maintenance/status", json={}, timeout=1)
            return r.json() if r.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    def wait_healthy(self, timeout=30.0):
        def healthy():
            live = [i for i in range(self.size) if self.running(i)]
            sts = [self.status(i) for i in live]
            return live and all(s and s.get("leader", "0") != "0" for s in sts)
        poll(healthy, timeout, "the etcd cluster to have a leader", interval=0.1)

    def leader(self):
        for i in range(self.size):
            if self.running(i):
                st = self.status(i)
                if st and st.get("leader") == st.get("header", {}).get("member_id"):
                    return i
        return None

    def kill(self, i, sig=signal.SIGKILL):
        _stop(self.procs[i], sig)

    def stop(self):
        for i in range(self.size):
            self.kill(i, signal.SIGKILL)

    def diagnostics(self):
        return "\n".join(f"--- etcd member {i + 1} (port {self.client_ports[i]}):\n"
                         + tail(self.dir / self._name(i) / "stdout.txt", 15)
                         for i in range(self.size))


class RabbitBroker:
    """One private RabbitMQ node on 127.0.0.1."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.port, self.dist_port, self.epmd_port = _ports(3)
        self.node = f"t{self.port}@localhost"
        self.proc = None
        self.starts = 0

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def env(self):
        e = dict(os.environ)
        home = self.dir / "home"
        e.update({
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        })
        return e

    def start(self, timeout=40.0):
        if not rabbitmq_installed():
            raise RuntimeError("RabbitMQ missing: install the Debian rabbitmq-server package")
        (self.dir / "home").mkdir(parents=True, exist_ok=True)
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.starts += 1
        with open(self.dir / f"stdout.{self.starts}.txt", "wb") as out:
            self.proc = subprocess.Popen([RABBIT_SERVER], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env(),
                                         start_new_session=True, cwd=self.dir)
        with _live_lock:
            _live.add(self.proc)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("RabbitMQ exited:\n" + self.diagnostics())
            r = subprocess.run([RABBITMQCTL, "-n", self.node, "-q", "status"], env=self.env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=20)
            return r.returncode == 0
        poll(up, timeout, "RabbitMQ to start", interval=0.5)
        return self

    def kill(self):
        """SIGKILL to the broker's process group (its private epmd lives on for a restart)."""
        _stop(self.proc, signal.SIGKILL)

    def stop(self):
        """Kills the broker and its private epmd."""
        self.kill()
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{self.epmd_port}"],
                             capture_output=True, text=True).stdout
        for pid in set(re.findall(r"pid=(\d+)", out)):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass

    def diagnostics(self):
        return f"--- RabbitMQ {self.node}:\n" + tail(self.dir / f"stdout.{self.starts}.txt", 20)


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=True)


def wait_for(predicate, timeout, what, interval=0.05):
    return poll(predicate, timeout, what, interval=interval)


def now():
    return time.monotonic()
