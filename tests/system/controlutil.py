"""Helpers for the contrail-control system tests: the daemon, a GoBGP peer (gobgpd and its
CLI) and a raw BGP speaker written in Python for sending malformed messages.

Every process started here lives in a pytest tmp directory, listens on free loopback ports, is
polled for readiness with a deadline (never a sleep), and is registered with conftest's atexit
safety net so that it is killed even if a fixture's teardown does not run.

Environment
  CONTRAIL_BUILD_DIR     build directory (default: <repo>/build), as for conftest.py
  CONTRAIL_CONTROL_BIN   path of the binary (default: $CONTRAIL_BUILD_DIR/control/
                         contrail-control)
"""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
from pathlib import Path

import requests

from conftest import BUILD_DIR, HTTP_TIMEOUT, Daemon, _live, _live_lock, free_port, poll, tail

CONTROL_BIN = Path(os.environ.get("CONTRAIL_CONTROL_BIN",
                                  BUILD_DIR / "control" / "contrail-control"))
START_TIMEOUT = 20.0
ESTABLISH_TIMEOUT = 30.0

LOCAL_AS = 64512


def _register(proc):
    with _live_lock:
        _live.add(proc)


class Control(Daemon):
    """One contrail-control with its own directory, BGP port and introspect port.  PEERS is the
    --bgp_peers text; ROUTES the lines of its route file."""

    name = "contrail-control"

    def __init__(self, workdir, peers="", routes=(), router_id="10.0.0.1", asn=LOCAL_AS,
                 extra_args=(), hostip="127.0.0.1", hostname=None, ifmap=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hostip = hostip
        self.hostname = hostname
        self.ifmap = ifmap          # an ifmaputil.IfmapServer for configuration, or None
        self.bgp_port = free_port()
        self.xmpp_port = free_port()
        self.http_port = free_port()
        self.peers = peers
        self.router_id = router_id
        self.asn = asn
        self.extra_args = list(extra_args)
        self.route_file = self.dir / "routes.txt"
        self.write_routes(routes)
        self.log = self.dir / "control.log"
        self.stdout_path = self.dir / "control.out"

    def write_routes(self, routes):
        self.route_file.write_text("".join(r + "\n" for r in routes))

    def reload_routes(self, routes):
        """Rewrites the route file and tells the daemon (SIGHUP)."""
        self.write_routes(routes)
        self.proc.send_signal(signal.SIGHUP)

    def start(self):
        cmd = [str(CONTROL_BIN), "--hostip", self.hostip, "--bgp_port", str(self.bgp_port),
               "--xmpp_server_port", str(self.xmpp_port),
               "--bgp_router_id", self.router_id, "--asn", str(self.asn),
               "--http_server_port", str(self.http_port), "--bgp_connect_retry", "1",
               "--route_file", str(self.route_file), "--log_file", str(self.log),
               "--log_level", "SYS_DEBUG"] + self.extra_args
        if self.peers:
            cmd += ["--bgp_peers", self.peers]
        if self.hostname:
            cmd += ["--hostname", self.hostname]
        if self.ifmap:
            cmd += ["--ifmap_server_ip", "127.0.0.1", "--ifmap_server_port", str(self.ifmap.port),
                    "--ifmap_username", "control-user",
                    "--ifmap_password", "control-user-passwd"]
        with open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=self.dir)
        _register(self.proc)

        def ready():
            if not self.alive():
                raise RuntimeError(f"contrail-control exited:\n{self.diagnostics()}")
            try:
                return requests.get(self.url("/"), timeout=HTTP_TIMEOUT).ok
            except requests.RequestException:
                return False
        poll(ready, START_TIMEOUT, "contrail-control introspect")
        return self

    def url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def get(self, path, **params):
        r = requests.get(self.url(path), params=params, timeout=HTTP_TIMEOUT)
        r.raise_for_status()
        return r.json()

    def neighbors(self):
        return {n["peer_address"]: n for n in self.get("/Snh_BgpNeighborReq")["neighbors"]}

    @property
    def xmpp_address(self):
        return f"{self.hostip}:{self.xmpp_port}"

    def connections(self):
        """{agent name: connection} from /Snh_ShowXmppConnectionReq."""
        return {c["name"]: c for c in self.get("/Snh_ShowXmppConnectionReq")["connections"]}

    def instances(self):
        return {i["name"]: i for i in self.get("/Snh_ShowRoutingInstanceReq")["instances"]}

    def summary(self):
        return self.get("/Snh_ShowRouteSummaryReq")

    def neighbor(self, addr):
        return self.neighbors()[addr]

    def routes(self, table):
        """{prefix: [path, ...]} of one table."""
        tables = self.get("/Snh_ShowRouteReq", table=table)["tables"]
        assert len(tables) == 1, tables
        return {r["prefix"]: r["paths"] for r in tables[0]["routes"]}

    def wait_established(self, addr, timeout=ESTABLISH_TIMEOUT):
        return poll(lambda: self.neighbor(addr)["state"] == "Established" and
                    self.neighbor(addr), timeout, f"session with {addr} established")

    def diagnostics(self):
        rc = self.proc.poll() if self.proc else None
        return (f"--- exit status: {rc}\n--- stdout ({self.stdout_path}):\n"
                f"{tail(self.stdout_path)}\n--- log ({self.log}):\n{tail(self.log)}")


class GoBGP(Daemon):
    """gobgpd with one neighbour (the control node at 127.0.0.1:PEER_PORT), its API on a free
    port, driven through the gobgp CLI."""

    name = "gobgpd"

    def __init__(self, workdir, peer_port, asn=LOCAL_AS, peer_as=LOCAL_AS, router_id="10.0.0.2",
                 families=("l3vpn-ipv4-unicast", "l3vpn-ipv6-unicast", "l2vpn-evpn"),
                 password=None, restart_time=None, address="127.0.0.1",
                 neighbor="127.0.0.1"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.api_port = free_port()
        self.neighbor_address = neighbor
        self.log = self.dir / "gobgpd.log"
        self.stdout_path = self.log
        auth = f'    auth-password = "{password}"\n' if password else ""
        gr_afi = ('    [neighbors.afi-safis.mp-graceful-restart.config]\n'
                  '      enabled = true\n') if restart_time else ""
        afis = "".join(f'  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n'
                       f'      afi-safi-name = "{f}"\n{gr_afi}' for f in families)
        if restart_time:
            afis = (f'  [neighbors.graceful-restart.config]\n    enabled = true\n'
                    f'    restart-time = {restart_time}\n') + afis
        (self.dir / "gobgpd.toml").write_text(f"""[global.config]
  as = {asn}
  router-id = "{router_id}"
  port = {self.port}
  local-address-list = ["{address}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{neighbor}"
    peer-as = {peer_as}
{auth}  [neighbors.transport.config]
    remote-port = {peer_port}
    local-address = "{address}"
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 30
    keepalive-interval = 10
{afis}""")

    def start(self):
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                ["gobgpd", "-f", str(self.dir / "gobgpd.toml"), "-p", "--api-hosts",
                 f"127.0.0.1:{self.api_port}", "--pprof-disable"],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.dir)
        _register(self.proc)

        def ready():
            if not self.alive():
                raise RuntimeError(f"gobgpd exited:\n{tail(self.log)}")
            return self.cli("neighbor", check=False).returncode == 0
        poll(ready, START_TIMEOUT, "gobgpd API")
        return self

    def cli(self, *args, check=True):
        r = subprocess.run(["gobgp", "-p", str(self.api_port)] + list(args),
                           capture_output=True, text=True, timeout=20)
        if check and r.returncode != 0:
            raise RuntimeError(f"gobgp {' '.join(args)}: {r.stdout}{r.stderr}")
        return r

    def rib(self, family):
        out = self.cli("global", "rib", "-a", family, "-j").stdout.strip()
        return json.loads(out) if out and out != "null" else {}

    def neighbor(self):
        return json.loads(self.cli("neighbor", self.neighbor_address, "-j").stdout)

    def established(self):
        try:
            return self.neighbor()["state"].get("session_state") == 6
        except (RuntimeError, KeyError, ValueError):
            return False


def have_gobgp():
    return shutil.which("gobgpd") is not None and shutil.which("gobgp") is not None


# ---------------------------------------------------------------------------------------------
# A raw BGP speaker

MARKER = b"\xff" * 16


def bgp_msg(msg_type, body=b""):
    return MARKER + struct.pack("!HB", 19 + len(body), msg_type) + body


def open_msg(asn, router_id, hold=90, families=((1, 128),)):
    caps = b""
    for afi, safi in families:
        caps += struct.pack("!BBHBB", 1, 4, afi, 0, safi)
    caps += struct.pack("!BBI", 65, 4, asn)
    params = struct.pack("!BB", 2, len(caps)) + caps
    body = struct.pack("!BHH4sB", 4, asn if asn < 65536 else 23456, hold,
                       socket.inet_aton(router_id), len(params)) + params
    return bgp_msg(1, body)


def attr(flags, code, value):
    if len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def update_msg(attrs=b"", withdrawn=b"", nlri=b""):
    return bgp_msg(2, struct.pack("!H", len(withdrawn)) + withdrawn +
                   struct.pack("!H", len(attrs)) + attrs + nlri)


def vpnv4_nlri(rd_admin, rd_assigned, prefix, plen, label):
    """An inet-vpn NLRI with a type-0 RD."""
    addr = socket.inet_aton(prefix)[:(plen + 7) // 8]
    lab = struct.pack("!I", label << 4 | 1)[1:]
    rd = struct.pack("!HHI", 0, rd_admin, rd_assigned)
    return bytes([24 + 64 + plen]) + lab + rd + addr


def mp_reach_vpnv4(nexthop, nlri):
    value = struct.pack("!HBB", 1, 128, 12) + b"\0" * 8 + socket.inet_aton(nexthop) + b"\0" + nlri
    return attr(0x80, 14, value)


def as_path4(*asns):
    if not asns:
        return attr(0x40, 2, b"")
    return attr(0x40, 2, struct.pack("!BB", 2, len(asns)) + b"".join(struct.pack("!I", a)
                                                                     for a in asns))


def ext_target(asn, n):
    return struct.pack("!BBHI", 0, 2, asn, n)


class RawPeer:
    """A BGP speaker on a plain socket, bound to SOURCE, for sending what real speakers never
    send."""

    def __init__(self, source, port, asn, router_id="198.51.100.77"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((source, 0))
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.asn = asn
        self.router_id = router_id
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def recv_msg(self):
        """The next message as (type, body), or None at EOF."""
        while True:
            if len(self.buf) >= 19:
                length = struct.unpack("!H", self.buf[16:18])[0]
                if len(self.buf) >= length:
                    msg, self.buf = self.buf[:length], self.buf[length:]
                    return msg[18], msg[19:]
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def handshake(self, families=((1, 128),)):
        self.send(open_msg(self.asn, self.router_id, families=families))
        t, _ = self.recv_msg()
        assert t == 1, f"expected OPEN, got type {t}"
        t, _ = self.recv_msg()
        assert t == 4, f"expected KEEPALIVE, got type {t}"
        self.send(bgp_msg(4))

    def wait_notification(self):
        """Reads until a NOTIFICATION; returns (code, subcode).  Fails at EOF without one."""
        while True:
            m = self.recv_msg()
            assert m is not None, "connection closed without a NOTIFICATION"
            if m[0] == 3:
                return m[1][0], m[1][1]
