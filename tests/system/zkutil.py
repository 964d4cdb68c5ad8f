"""ZooKeeper ensembles for the system tests (the Debian `zookeeper` package, run by hand).

ZkEnsemble starts SIZE QuorumPeerMain JVMs, each in its own directory under a pytest tmp
directory, with a client, quorum and election port on 127.0.0.1 (free ports), the admin
server off and the four-letter words allowed.  Readiness is polled with `srvr` (a node serves
once it reports a Mode) under a deadline.  Every JVM is registered with conftest's atexit
safety net, so it dies with the test run even when a fixture's teardown does not run.

A short tick (500 ms by default) keeps elections quick and lets clients ask for session
timeouts down to 2 ticks.

    ens = ZkEnsemble(tmp_path / "zk").start()
    spec = "zk:" + ens.connect_string
    ens.kill_node(ens.leader())
    ens.stop()
"""

import shutil
import signal
import socket
import subprocess
from pathlib import Path

from conftest import _live, _live_lock, free_port, poll, tail

ZK_JAR = Path("/usr/share/java/zookeeper.jar")
ZK_CLASSPATH = f"/etc/zookeeper/conf:{ZK_JAR}"


def zookeeper_installed():
    """Whether the zookeeper package (its jar) and a java runtime are there."""
    return ZK_JAR.exists() and shutil.which("java") is not None


def four_letter(port, word="srvr", timeout=1.0):
    """A node's answer to a four-letter word, or "" when it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                data = s.recv(4096)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return ""


def mode(port):
    """"leader", "follower", "standalone", or None while the node does not serve."""
    for line in four_letter(port).splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def _free_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


class ZkEnsemble:
    """SIZE ZooKeeper nodes on loopback; node I (0-based) has myid I + 1."""

    def __init__(self, workdir, size=3, tick_ms=500):
        self.dir = Path(workdir)
        self.size = size
        self.tick_ms = tick_ms
        self.procs = [None] * size
        ports = _free_ports(3 * size)
        self.client_ports = ports[:size]
        self.peer_ports = ports[size:2 * size]
        self.election_ports = ports[2 * size:]

    @property
    def connect_string(self):
        """"127.0.0.1:p1,127.0.0.1:p2,..." for the C client."""
        return ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def node_dir(self, i):
        return self.dir / f"zk{i + 1}"

    def _write_config(self, i):
        d = self.node_dir(i)
        (d / "data").mkdir(parents=True, exist_ok=True)
        (d / "data" / "myid").write_text(f"{i + 1}\n")
        servers = "".join(f"server.{k + 1}=127.0.0.1:{self.peer_ports[k]}:"
                          f"{self.election_ports[k]}\n" for k in range(self.size))
        (d / "zoo.cfg").write_text(
            f"tickTime={self.tick_ms}\ninitLimit=20\nsyncLimit=4\n"
            f"dataDir={d / 'data'}\nclientPort={self.client_ports[i]}\n"
            "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
            "4lw.commands.whitelist=srvr,stat,ruok,mntr\nmaxSessionTimeout=60000\n" + servers)

    def start_node(self, i):
        """Starts node I (again) on its directory and ports; does not wait."""
        d = self.node_dir(i)
        self._write_config(i)
        with open(d / "stdout.txt", "ab") as out:
            self.procs[i] = subprocess.Popen(
                ["java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                 "-Dzookeeper.admin.enableServer=false", "-cp", ZK_CLASSPATH,
                 "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(d / "zoo.cfg")],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=d)
        with _live_lock:
            _live.add(self.procs[i])

    def start(self, timeout=40.0):
        """Starts every node and waits until they all serve with a leader among them."""
        if not zookeeper_installed():
            raise RuntimeError(f"{ZK_JAR} or java missing: install the Debian zookeeper package")
        for i in range(self.size):
            self.start_node(i)
        self.wait_serving(timeout)
        return self

    def running(self, i):
        return self.procs[i] is not None and self.procs[i].poll() is None

    def modes(self):
        return [mode(p) if self.running(i) else None for i, p in enumerate(self.client_ports)]

    def wait_serving(self, timeout=40.0):
        """Waits until every running node reports a Mode and one of them leads."""
        def serving():
            for i in range(self.size):
                if self.procs[i] is not None and self.procs[i].poll() is not None \
                        and self.procs[i].returncode not in (-signal.SIGKILL, -signal.SIGTERM):
                    raise RuntimeError(f"ZooKeeper node {i + 1} died:\n" + self.diagnostics())
            modes = self.modes()
            live = [modes[i] for i in range(self.size) if self.running(i)]
            return bool(live) and all(live) and "leader" in live
        poll(serving, timeout, "the ZooKeeper ensemble to serve with a leader", interval=0.1)

    def leader(self):
        """Index of the node that reports Mode: leader, or None."""
        for i, m in enumerate(self.modes()):
            if m == "leader":
                return i
        return None

    def kill_node(self, i, sig=signal.SIGKILL):
        """Sends SIG to node I and reaps it."""
        p = self.procs[i]
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(sig)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
        with _live_lock:
            _live.discard(p)

    def stop(self):
        for i in range(self.size):
            self.kill_node(i, signal.SIGTERM)

    def diagnostics(self):
        parts = []
        for i in range(self.size):
            rc = None if self.procs[i] is None else self.procs[i].poll()
            parts.append(f"--- ZooKeeper node {i + 1} (client port {self.client_ports[i]}), "
                         f"exit status {rc}, mode {mode(self.client_ports[i])}:\n"
                         + tail(self.node_dir(i) / "stdout.txt", 20))
        return "\n".join(parts)
