"""contrail-vrouter forwarding between VMs (network namespaces) on two compute namespaces:
ping, TCP and UDP across MPLSoUDP, MPLSoGRE and VXLAN, within a VRF and across VRFs through
routes, IPv6 with neighbour proxy, ECMP, ICMP errors from the vRouter, and bridging.

Runs as root (namespaces).  Each module builds its topology under unique names and removes it,
also when a test fails."""

import os
import subprocess

import pytest

from vrouterutil import (VNI, build_standard, netns, start_udp_echo, tcp_transfer,
                         udp_exchange)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


@pytest.fixture(scope="module", params=["mplsoudp", "mplsogre", "vxlan"])
def topo(request, tmp_path_factory):
    t, vms = build_standard(tmp_path_factory.mktemp(f"vr-{request.param}"), request.param)
    t.vms = vms
    t.encap = request.param
    yield t
    problems = t.close()
    if problems:
        pytest.fail("\n".join(problems))


def drops(vr):
    return {k: v for k, v in vr.dropstats().items() if v}


def fabric_tx(vr):
    return vr.introspect("/vrouter")["packets"]["fabric_tx"]


def test_ping_same_vrf(topo):
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    before = fabric_tx(topo.computes["ca"].vrouter)
    ok, out = a1.ping(b1.ip, count=3)
    assert ok, out
    assert "ttl=63" in out                     # one routed hop: the distributed router
    assert fabric_tx(topo.computes["ca"].vrouter) >= before + 3


def test_ping_gateway(topo):
    ok, out = topo.vms["b1"].ping("203.0.113.1", count=2)
    assert ok, out


def test_udp_same_vrf(topo):
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    server = start_udp_echo(b1, b1.ip, 5001)
    try:
        assert udp_exchange(a1, b1.ip, 5001, count=5) == 5
    finally:
        out, _ = server.communicate(timeout=15)
    assert a1.ip in out                         # the server saw the real source


def test_tcp_same_vrf(topo):
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    got, out = tcp_transfer(a1, b1, b1.ip, 5002, nbytes=300000)
    assert got == 300000
    assert f"peer {a1.ip}" in out


def test_bulk_udp_uses_gso_and_arrives_whole(topo):
    """A burst of same-size datagrams of one flow leaves in UDP GSO runs (MPLSoUDP, VXLAN)
    and every datagram arrives intact."""
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    vr = topo.computes["ca"].vrouter
    code = f"""
import socket, time
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(({b1.ip!r}, 5010))
r.settimeout(3)
print('ready', flush=True)
got = set()
try:
    while len(got) < 500:
        d, a = r.recvfrom(2000)
        if len(d) == 1000 and d[4:] == bytes([d[3]]) * 996:
            got.add(int.from_bytes(d[:4], 'big'))
except socket.timeout:
    pass
print(len(got), flush=True)
"""
    server = subprocess.Popen(["ip", "netns", "exec", b1.ns, "/usr/bin/python3", "-c", code],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    before = vr.metric("vrouter_fabric_gso_segments")
    a1.py(f"""
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for burst in range(10):
    for i in range(burst * 50, burst * 50 + 50):
        s.sendto(i.to_bytes(4, 'big') + bytes([i % 256]) * 996,
                 ({b1.ip!r}, 5010))
    time.sleep(0.05)
""")
    out, _ = server.communicate(timeout=20)
    assert int(out.strip()) >= 490, out        # UDP: allow a little loss, never corruption
    after = vr.metric("vrouter_fabric_gso_segments")
    if topo.encap != "mplsogre":
        assert after > before


def test_large_udp(topo):
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    server = start_udp_echo(b1, b1.ip, 5003)
    try:
        # 1400 bytes of payload: the encapsulated packet exceeds 1500 bytes.
        assert udp_exchange(a1, b1.ip, 5003, count=3, payload=b"y" * 1400) == 3
    finally:
        server.communicate(timeout=15)


def test_across_vrfs_remote_and_local(topo):
    a1, a2, b2 = topo.vms["a1"], topo.vms["a2"], topo.vms["b2"]
    ok, out = a1.ping(b2.ip, count=2)           # VRF 1 -> VRF 2 on the other compute
    assert ok, out
    ok, out = a1.ping(a2.ip, count=2)           # VRF 1 -> VRF 2 on the same compute
    assert ok, out
    got, out = tcp_transfer(b2, a1, a1.ip, 5004, nbytes=100000)
    assert got == 100000


def test_ipv6_neighbour_proxy_and_ping(topo):
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    ok, out = a1.ping(b1.ip6, count=2)
    assert ok, out
    # The neighbour proxy answered with the vRouter's MAC for the remote VM.
    neigh = a1.run("ip", "-6", "neigh", "show", b1.ip6)
    assert "00:00:5e:00:01:00" in neigh
    server = start_udp_echo(b1, b1.ip6, 5005)
    try:
        assert udp_exchange(a1, b1.ip6, 5005, count=3) == 3
    finally:
        server.communicate(timeout=15)


def test_proxy_arp_answers_with_vrouter_mac(topo):
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    a1.run("ip", "neigh", "flush", "dev", "eth0")
    ok, out = a1.ping(b1.ip, count=1)
    assert ok, out
    assert "00:00:5e:00:01:00" in a1.run("ip", "neigh", "show", b1.ip)


ICMP_PROBE = r"""
import socket, struct, sys
dst, ttl = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
s.settimeout(3)
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
msg = struct.pack('!BBHHH', 8, 0, 0, 77, 1) + b'probe'
msg = msg[:2] + struct.pack('!H', csum(msg)) + msg[4:]
s.sendto(msg, (dst, 0))
try:
    while True:
        d, a = s.recvfrom(2000)
        t, c = d[20], d[21]
        if t in (3, 11) or t == 0:
            print(a[0], t, c)
            break
except socket.timeout:
    print('timeout')
"""


def test_icmp_ttl_exceeded_and_unreachable(topo):
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    vr = topo.computes["ca"].vrouter
    before = vr.dropstats()
    out = netns(a1.ns, "/usr/bin/python3", "-c", ICMP_PROBE, b1.ip, "1")
    assert out.split() == ["203.0.113.1", "11", "0"], out    # from the VRF's gateway
    # No route in VRF 2 (reached through VRF 1's route to it): unreachable, from VRF 2's
    # gateway.
    out = netns(a1.ns, "/usr/bin/python3", "-c", ICMP_PROBE, "203.0.113.200", "64")
    assert out.split() == ["203.0.113.129", "3", "0"], out
    after = vr.dropstats()
    assert after["ttl_exceeded"] == before["ttl_exceeded"] + 1
    assert after["discard"] >= before["discard"] + 1


def test_ecmp_spreads_flows(topo):
    a, b = topo.computes["ca"], topo.computes["cb"]
    b1, b2, a1 = topo.vms["b1"], topo.vms["b2"], topo.vms["a1"]
    anycast = "203.0.113.100"
    for vm in (b1, b2):
        vm.run("ip", "addr", "add", f"{anycast}/32", "dev", "lo")
    b.vrouter.tool("rt", "-c", "-v", 1, "-p", anycast, "-l", 32, "-n", 11)
    b.vrouter.tool("rt", "-c", "-v", 2, "-p", anycast, "-l", 32, "-n", 12)
    labels = [VNI[1], VNI[2]] if topo.encap == "vxlan" else [100, 101]
    a.vrouter.tool("nh", "--create", 40, "--type", "composite", "--ecmp", "--nh-list", "20,20",
                   "--label-list", ",".join(map(str, labels)))
    a.vrouter.tool("rt", "-c", "-v", 1, "-p", anycast, "-l", 32, "-n", 40, "-x")
    assert "Sub NH(label): 20(%d) 20(%d)" % tuple(labels) in a.vrouter.tool("nh", "--get", 40)
    s1 = start_udp_echo(b1, "0.0.0.0", 5006)
    s2 = start_udp_echo(b2, "0.0.0.0", 5006)
    try:
        answered = sum(udp_exchange(a1, anycast, 5006, count=1, sport=20000 + i, timeout=1.0)
                       for i in range(16))
    finally:
        o1, _ = s1.communicate(timeout=15)
        o2, _ = s2.communicate(timeout=15)
    n1 = len(o1.split()) if o1.strip() else 0
    n2 = len(o2.split()) if o2.strip() else 0
    assert answered == 16
    assert n1 + n2 == 16 and n1 > 0 and n2 > 0, (o1, o2)


def test_counters_and_no_unexpected_drops(topo):
    a = topo.computes["ca"].vrouter
    vif = a.tool("vif", "--get", topo.vms["a1"].vif)
    assert "RX packets:" in vif and "Type:Virtual" in vif
    d = drops(a)
    for reason in ("invalid_nh", "invalid_label", "invalid_vnid", "pkt_loop", "push",
                   "interface_tx_discard", "cksum_err"):
        assert reason not in d, d
