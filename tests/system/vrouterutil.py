"""Helpers for the vRouter system tests: network-namespace topologies and the tools.

A Topology builds, under unique names, a fabric namespace with a bridge, compute namespaces
(each with a fabric address in 198.51.100.0/24 and a contrail-vrouter of its own) and VM
namespaces whose eth0 is one end of a veth pair, the other end (tap...) in the compute
namespace.  Everything it creates is removed by close(), which the fixtures call also when a
test fails; processes are killed by PID.
"""

import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import BUILD_DIR, free_port, poll, tail

VROUTER_BIN = BUILD_DIR / "compute" / "vrouter" / "contrail-vrouter"
TOOLS_DIR = BUILD_DIR / "compute" / "utils"
VRRP_MAC = "00:00:5e:00:01:00"


def sh(*args, check=True, timeout=20, input=None):
    """Runs a command; returns its stdout.  Raises with stderr on failure when CHECK."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))}: exit {r.returncode}\n"
                           f"{r.stdout}\n{r.stderr}")
    return r.stdout


def netns(ns, *args, **kw):
    return sh("ip", "netns", "exec", ns, *args, **kw)


class Vrouter:
    """One contrail-vrouter in a compute namespace."""

    def __init__(self, ns, workdir, extra=()):
        self.ns = ns
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ctl = str(self.dir / "ctl.sock")
        self.pkt = str(self.dir / "pkt0.sock")
        self.agent = str(self.dir / "agent0.sock")
        self.log = self.dir / "vrouter.log"
        self.out = self.dir / "stdout.txt"
        self.port = free_port()
        self.extra = list(extra)
        self.proc = None

    def start(self):
        args = ["ip", "netns", "exec", self.ns, str(VROUTER_BIN),
                "--ctl_socket", self.ctl, "--pkt_socket", self.pkt,
                "--agent_pkt_socket", self.agent, "--http_server_port", str(self.port),
                "--log_file", str(self.log), "--log_level", "SYS_INFO",
                "--vr_flow_entries", "4096", "--vr_oflow_entries", "1024",
                "--vr_nexthops", "4096", "--vr_bridge_entries", "4096"] + self.extra
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"contrail-vrouter died:\n{self.diagnostics()}")
            return os.path.exists(self.ctl)
        poll(ready, 20, "contrail-vrouter control socket")
        return self

    def tool(self, name, *args, check=True):
        """Runs tool NAME against this vRouter (inside its namespace); returns stdout."""
        return netns(self.ns, str(TOOLS_DIR / name), "--sock", self.ctl, *map(str, args),
                     check=check)

    def tool_run(self, name, *args):
        """Runs a tool and returns the CompletedProcess (for error checks)."""
        return subprocess.run(["ip", "netns", "exec", self.ns, str(TOOLS_DIR / name),
                               "--sock", self.ctl, *map(str, args)],
                              capture_output=True, text=True, timeout=20)

    def introspect(self, page):
        # The introspect server listens on 127.0.0.1 inside the compute namespace.
        out = netns(self.ns, "/usr/bin/python3", "-c",
                    "import sys,urllib.request;"
                    f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{self.port}"
                    f"{page}',timeout=5).read().decode())")
        return json.loads(out)

    def metric(self, name):
        """The value of Prometheus counter contrail_NAME on /metrics."""
        out = netns(self.ns, "/usr/bin/python3", "-c",
                    "import sys,urllib.request;"
                    f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{self.port}"
                    "/metrics',timeout=5).read().decode())")
        for line in out.splitlines():
            if line.startswith(f"contrail_{name}{{"):
                return int(line.split()[-1])
        raise KeyError(name)

    def dropstats(self):
        return self.introspect("/dropstats")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns an error text unless it exits 0 within 10 s."""
        if self.proc is None:
            return None
        problem = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=10)
                if rc != 0:
                    problem = f"contrail-vrouter exited {rc} on SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                problem = "contrail-vrouter did not stop on SIGTERM"
        else:
            problem = f"contrail-vrouter had died (status {self.proc.returncode})"
        self.proc = None
        return problem

    def diagnostics(self):
        return f"--- stdout:\n{tail(self.out)}\n--- log:\n{tail(self.log)}"


class Compute:
    def __init__(self, topo, name, fabric_ip):
        self.topo = topo
        self.name = name
        self.ns = f"{topo.prefix}-{name}"
        self.fabric_ip = fabric_ip
        self.fabric_if = f"f{topo.tag}{name}"[:15]
        self.vrouter = None
        self.vms = {}
        self.next_vif = 3


class Vm:
    def __init__(self, compute, name, ip, mac, vif):
        self.compute = compute
        self.name = name
        self.ns = f"{compute.topo.prefix}-{name}"
        self.ip = ip
        self.mac = mac
        self.vif = vif
        self.tap = f"t{compute.topo.tag}{name}"[:15]
        self.ip6 = None

    def run(self, *args, **kw):
        return netns(self.ns, *args, **kw)

    def py(self, code, timeout=20, check=True):
        """Runs Python CODE in this VM namespace; returns stdout."""
        return netns(self.ns, "/usr/bin/python3", "-c", code, timeout=timeout, check=check)

    def ping(self, dst, count=3, timeout=10):
        """busybox ping; returns True when at least one reply came."""
        r = subprocess.run(["ip", "netns", "exec", self.ns, "busybox", "ping", "-c", str(count),
                            "-W", "1", "-w", str(timeout), dst],
                           capture_output=True, text=True, timeout=timeout + 10)
        return r.returncode == 0, r.stdout + r.stderr


class Topology:
    """Fabric bridge + compute namespaces + VM namespaces, all with unique names."""

    def __init__(self, workdir):
        self.tag = secrets.token_hex(2)
        self.prefix = f"vrt{self.tag}"
        self.dir = Path(workdir)
        self.fabric_ns = f"{self.prefix}-fab"
        self.computes = {}
        self.namespaces = []
        sh("ip", "netns", "add", self.fabric_ns)
        self.namespaces.append(self.fabric_ns)
        netns(self.fabric_ns, "ip", "link", "add", "br0", "type", "bridge")
        netns(self.fabric_ns, "ip", "link", "set", "br0", "up")
        netns(self.fabric_ns, "ip", "link", "set", "lo", "up")

    def add_compute(self, name, fabric_ip, vrouter=True, mtu=9000):
        c = Compute(self, name, fabric_ip)
        sh("ip", "netns", "add", c.ns)
        self.namespaces.append(c.ns)
        peer = f"p{self.tag}{name}"[:15]
        sh("ip", "link", "add", c.fabric_if, "netns", c.ns, "mtu", str(mtu), "type", "veth",
           "peer", "name", peer, "netns", self.fabric_ns, "mtu", str(mtu))
        netns(self.fabric_ns, "ip", "link", "set", peer, "master", "br0", "up")
        netns(c.ns, "ip", "link", "set", "lo", "up")
        netns(c.ns, "ip", "addr", "add", f"{fabric_ip}/24", "dev", c.fabric_if)
        netns(c.ns, "ip", "link", "set", c.fabric_if, "up")
        self.computes[name] = c
        if vrouter:
            c.vrouter = Vrouter(c.ns, self.dir / name).start()
            c.vrouter.tool("vif", "--add", c.fabric_if, "--type", "physical", "--vif", 0,
                           "--ip", fabric_ip)
        return c

    def add_vm(self, compute, name, ip, plen=24, gw=None, mac=None, ip6=None, mtu=1500):
        """A VM namespace with eth0 (IP/PLEN, default route via GW) and its tap in COMPUTE."""
        mac = mac or "02:%02x:%02x:%02x:%02x:%02x" % tuple(secrets.token_bytes(5))
        vm = Vm(compute, name, ip, mac, compute.next_vif)
        compute.next_vif += 1
        sh("ip", "netns", "add", vm.ns)
        self.namespaces.append(vm.ns)
        sh("ip", "link", "add", "eth0", "netns", vm.ns, "address", mac, "mtu", str(mtu),
           "type", "veth", "peer", "name", vm.tap, "netns", compute.ns, "mtu", str(mtu))
        vm.run("ip", "link", "set", "lo", "up")
        vm.run("ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off", "gro", "off",
               check=False)
        vm.run("ip", "addr", "add", f"{ip}/{plen}", "dev", "eth0")
        if ip6:
            vm.ip6 = ip6
            vm.run("ip", "-6", "addr", "add", f"{ip6}/64", "dev", "eth0", "nodad")
        vm.run("ip", "link", "set", "eth0", "up")
        if gw:
            vm.run("ip", "route", "add", "default", "via", gw)
        netns(compute.ns, "sysctl", "-qw", f"net.ipv6.conf.{vm.tap}.disable_ipv6=1",
              check=False)
        netns(compute.ns, "ethtool", "-K", vm.tap, "tx", "off", "tso", "off", "gso", "off",
              "gro", "off", check=False)
        netns(compute.ns, "ip", "link", "set", vm.tap, "up")
        compute.vms[name] = vm
        return vm

    def close(self):
        problems = []
        for c in self.computes.values():
            if c.vrouter:
                p = c.vrouter.stop()
                if p:
                    problems.append(f"{c.name}: {p}\n{c.vrouter.diagnostics()}")
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        return problems


# ---- programming helpers (what the agent would do) ----

def plug_vm(vm, vrf, nh, label=None, policy=False, l2label=None):
    """Adds the VM's vif, its interface NH, its /32 (proxy ARP) in VRF and its MPLS label."""
    vr = vm.compute.vrouter
    args = ["--add", vm.tap, "--type", "virtual", "--vif", vm.vif, "--vrf", vrf,
            "--mac", VRRP_MAC, "--ip", vm.ip, "--nh", nh]
    if policy:
        args.append("--policy")
    vr.tool("vif", *args)
    nh_args = ["--create", nh, "--type", "encap", "--oif", vm.vif, "--dmac", vm.mac,
               "--smac", VRRP_MAC, "--vrf", vrf]
    if policy:
        nh_args.append("--policy")
    vr.tool("nh", *nh_args)
    vr.tool("rt", "-c", "-v", vrf, "-p", vm.ip, "-l", 32, "-n", nh, "-x")
    if vm.ip6:
        # The interface NH writes the Ethernet type of each packet's family.
        vr.tool("rt", "-c", "-v", vrf, "-f", "inet6", "-p", vm.ip6, "-l", 128, "-n", nh, "-x")
    if label:
        vr.tool("mpls", "--create", label, "--nh", nh)


def remote_route(vr, vrf, prefix, plen, tunnel_nh, label, family="inet"):
    vr.tool("rt", "-c", "-v", vrf, "-f", family, "-p", prefix, "-l", plen, "-n", tunnel_nh,
            "-t", label, "-x")


def tunnel(vr, nh, kind, sip, dip):
    vr.tool("nh", "--create", nh, "--type", "tunnel", "--tunnel", kind, "--sip", sip,
            "--dip", dip)


# ---- traffic helpers (python sockets inside VM namespaces) ----

UDP_SERVER = r"""
import socket, sys, time
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
print('ready', flush=True)
seen = {}
try:
    while True:
        data, addr = s.recvfrom(65535)
        seen.setdefault(addr[0] + ':' + str(addr[1]), 0)
        seen[addr[0] + ':' + str(addr[1])] += 1
        s.sendto(b'echo:' + data, addr)
except socket.timeout:
    pass
print(' '.join(f'{k}={v}' for k, v in sorted(seen.items())), flush=True)
"""


def start_udp_echo(vm, addr, port, idle=3.0):
    """A UDP echo server in VM; returns the Popen (its last line lists senders)."""
    p = subprocess.Popen(["ip", "netns", "exec", vm.ns, "/usr/bin/python3", "-c", UDP_SERVER,
                          addr, str(port), str(idle)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "ready" not in line:
        p.kill()
        raise RuntimeError(f"udp echo server did not start: {line}{p.stderr.read()}")
    return p


def udp_exchange(vm, dst, port, count=3, sport=0, timeout=2.0, payload=b"hello"):
    """Sends COUNT datagrams from VM to DST:PORT; returns how many echoes came back."""
    code = f"""
import socket
fam = socket.AF_INET6 if ':' in {dst!r} else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(('', {sport}))
s.settimeout({timeout})
got = 0
for i in range({count}):
    s.sendto({payload!r}, ({dst!r}, {port}))
    try:
        d, a = s.recvfrom(65535)
        if d.startswith(b'echo:'):
            got += 1
    except socket.timeout:
        pass
print(got)
"""
    return int(vm.py(code, timeout=timeout * count + 15).strip() or 0)


TCP_SERVER = r"""
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
s.settimeout(float(sys.argv[3]))
print('ready', flush=True)
try:
    c, a = s.accept()
    c.settimeout(5)
    total = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        total += len(d)
    c.sendall(str(total).encode())
    c.close()
    print('peer', a[0], 'bytes', total, flush=True)
except socket.timeout:
    print('timeout', flush=True)
"""


def tcp_transfer(client, server, addr, port, nbytes=200000):
    """Sends NBYTES over TCP from CLIENT to SERVER (listening on ADDR); returns the count the
    server reported back, and the server's line (its view of the peer)."""
    p = subprocess.Popen(["ip", "netns", "exec", server.ns, "/usr/bin/python3", "-c",
                          TCP_SERVER, addr, str(port), "10"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        if "ready" not in line:
            raise RuntimeError(f"tcp server did not start: {line}{p.stderr.read()}")
        code = f"""
import socket
fam = socket.AF_INET6 if ':' in {addr!r} else socket.AF_INET
s = socket.create_connection(({addr!r}, {port}), timeout=10)
data = b'x' * {nbytes}
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.settimeout(10)
print(s.recv(100).decode())
"""
        got = int(client.py(code, timeout=30).strip())
        out, _ = p.communicate(timeout=15)
        return got, out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def recv_trap(sock_path, timeout=5.0):
    """Binds the agent's packet socket at SOCK_PATH; returns the socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    s.bind(sock_path)
    s.settimeout(timeout)
    return s


def parse_agent_hdr(data):
    """(ifindex, vrf, cmd, cmd_param, param1, param5, frame) of a packet-channel datagram."""
    ifindex, vrf, cmd, param, p1, p2, p3, p4, p5 = struct.unpack("!HHHIIIIIB", data[:27])
    return ifindex, vrf, cmd, param, p1, p5, data[30:]


# ---- the standard topology of the tests: two computes, two VMs each, two VRFs ----
#
#   compute A (198.51.100.11)            compute B (198.51.100.12)
#     a1 203.0.113.11/25  VRF 1            b1 203.0.113.21/25  VRF 1
#     a2 203.0.113.140/25 VRF 2            b2 203.0.113.150/25 VRF 2
#   VRF 1 gateway 203.0.113.1, VRF 2 gateway 203.0.113.129 (receive NHs, proxy ARP);
#   IPv6 2001:db8:1::/64 in VRF 1.  Each VRF also routes the other VRF's /25 through a
#   VRF-translate next hop (the two networks are connected "through routes").

ENCAPS = {"mplsoudp": "mplsoudp", "mplsogre": "mplsogre", "vxlan": "vxlan"}
VNI = {1: 1001, 2: 1002}
LABEL = {"1": 100, "2": 101}          # per VM index on each compute


def build_standard(tmp, encap, policy=False, ipv6=True):
    """Builds and programs the standard topology for ENCAP; returns (topo, vms dict)."""
    topo = Topology(tmp)
    try:
        a = topo.add_compute("ca", "198.51.100.11")
        b = topo.add_compute("cb", "198.51.100.12")
        vms = {
            "a1": topo.add_vm(a, "a1", "203.0.113.11", 25, "203.0.113.1",
                              ip6="2001:db8:1::11" if ipv6 else None),
            "a2": topo.add_vm(a, "a2", "203.0.113.140", 25, "203.0.113.129"),
            "b1": topo.add_vm(b, "b1", "203.0.113.21", 25, "203.0.113.1",
                              ip6="2001:db8:1::21" if ipv6 else None),
            "b2": topo.add_vm(b, "b2", "203.0.113.150", 25, "203.0.113.129"),
        }
        if ipv6:
            for name in ("a1", "b1"):
                vms[name].run("ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
        program_standard(topo, encap, vms, policy=policy, ipv6=ipv6)
        return topo, vms
    except BaseException:
        topo.close()
        raise


def program_standard(topo, encap, vms, policy=False, ipv6=True):
    a, b = topo.computes["ca"], topo.computes["cb"]
    for here, there in ((a, b), (b, a)):
        vr = here.vrouter
        vr.tool("nh", "--create", 1, "--type", "receive")
        vr.tool("rt", "-c", "-v", 1, "-p", "203.0.113.1", "-l", 32, "-n", 1, "-x")
        vr.tool("rt", "-c", "-v", 2, "-p", "203.0.113.129", "-l", 32, "-n", 1, "-x")
        if ipv6:
            vr.tool("rt", "-c", "-v", 1, "-f", "inet6", "-p", "2001:db8:1::1", "-l", 128,
                    "-n", 1, "-x")
        tunnel(vr, 20, encap, here.fabric_ip, there.fabric_ip)
        vr.tool("nh", "--create", 30, "--type", "vrf-translate", "--vrf", 1)
        vr.tool("nh", "--create", 31, "--type", "vrf-translate", "--vrf", 2)
        vr.tool("vxlan", "--create", VNI[1], "--nh", 30)
        vr.tool("vxlan", "--create", VNI[2], "--nh", 31)
        vr.tool("rt", "-c", "-v", 1, "-p", "203.0.113.128", "-l", 25, "-n", 31)
        vr.tool("rt", "-c", "-v", 2, "-p", "203.0.113.0", "-l", 25, "-n", 30)
        for vm in here.vms.values():
            idx = vm.name[1]
            vrf = int(idx)
            plug_vm(vm, vrf, 10 + vrf, label=LABEL[idx], policy=policy)
        for vm in there.vms.values():
            idx = vm.name[1]
            vrf = int(idx)
            label = VNI[vrf] if encap == "vxlan" else LABEL[idx]
            remote_route(vr, vrf, vm.ip, 32, 20, label)
            if vm.ip6:
                remote_route(vr, vrf, vm.ip6, 128, 20, label, family="inet6")
