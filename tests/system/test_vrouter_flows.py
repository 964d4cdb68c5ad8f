"""contrail-vrouter flows: a port with the policy flag sends every new flow to the agent
(HOLD + FLOW_MISS trap on the packet channel with the held packet), held packets go out when
the flow is installed, a drop flow drops and counts, a NAT flow rewrites both directions, idle
flows age out.  The test plays the agent: it binds the agent's packet socket and installs
flows with the `flow` tool.  Runs as root (namespaces)."""

import os
import re
import subprocess

import pytest

from vrouterutil import (VRRP_MAC, build_standard, parse_agent_hdr, poll, recv_trap,
                         start_udp_echo)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

A1_NH = 11


@pytest.fixture(scope="module")
def topo(tmp_path_factory):
    t, vms = build_standard(tmp_path_factory.mktemp("vr-flows"), "mplsoudp", ipv6=False)
    t.vms = vms
    a = t.computes["ca"]
    a1 = vms["a1"]
    vr = a.vrouter
    # a1's port and interface next hop do flow lookups (what the agent sets for a VMI with
    # policy or security groups); the agent's interface is vif0/2.
    vr.tool("vif", "--add", a1.tap, "--type", "virtual", "--vif", a1.vif, "--vrf", 1,
            "--mac", VRRP_MAC, "--ip", a1.ip, "--nh", A1_NH, "--policy")
    vr.tool("nh", "--create", A1_NH, "--type", "encap", "--oif", a1.vif, "--dmac", a1.mac,
            "--smac", VRRP_MAC, "--vrf", 1, "--policy")
    vr.tool("vif", "--add", "pkt0", "--type", "agent", "--vif", 2)
    t.agent = recv_trap(vr.agent)
    yield t
    t.agent.close()
    problems = t.close()
    if problems:
        pytest.fail("\n".join(problems))


CLIENT = r"""
import socket, sys, time
dst, dport, sport, n, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('', sport))
for i in range(n):
    s.sendto(b'ping%d' % i, (dst, dport))
s.settimeout(wait)
got = []
try:
    while len(got) < n:
        d, a = s.recvfrom(2000)
        got.append('%s:%d' % a)
except socket.timeout:
    pass
print(len(got), ' '.join(got), flush=True)
"""


def client(vm, dst, dport, sport, n=1, wait=5.0):
    return subprocess.Popen(["ip", "netns", "exec", vm.ns, "/usr/bin/python3", "-c", CLIENT,
                             dst, str(dport), str(sport), str(n), str(wait)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def set_flow(vr, *args):
    out = vr.tool("flow", "--set", *args)
    m = re.search(r"^\s*(\d+)<=>", out, re.M)
    assert m, out
    return int(m.group(1))


def drain(sock):
    sock.settimeout(0.05)
    try:
        while True:
            sock.recv(65536)
    except OSError:
        pass
    sock.settimeout(5)


def test_flow_miss_traps_held_packet_then_release(topo):
    vr = topo.computes["ca"].vrouter
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    drain(topo.agent)
    server = start_udp_echo(b1, b1.ip, 6001, idle=6)
    before = vr.dropstats()
    c = client(a1, b1.ip, 6001, 30001, n=5, wait=8)
    try:
        data = topo.agent.recv(65536)
        ifindex, vrf, cmd, index, key_nh, gen, frame = parse_agent_hdr(data)
        assert cmd == 6                                     # FLOW_MISS
        assert (ifindex, vrf, key_nh) == (a1.vif, 1, A1_NH)
        assert frame[12:14] == b"\x08\x00"                  # the held packet, as sent
        assert frame[14 + 12:14 + 16] == bytes(map(int, a1.ip.split(".")))
        assert frame.endswith(b"ping0")
        listing = poll(lambda: (lambda o: o if "Held packets: 3" in o else None)(
            vr.tool("flow", "--get", index)), 5, "three packets held")
        assert "Action:H" in listing
        # Five sent: three held, two over the hold queue.
        poll(lambda: vr.dropstats()["flow_queue_limit_exceeded"]
             >= before["flow_queue_limit_exceeded"] + 2, 5, "hold queue drops")
        # The agent's answer: the reverse flow (replies from the fabric, keyed on a1's NH),
        # then the forward flow, which releases the held packets.
        rev = set_flow(vr, "--action", "forward", "--sip", b1.ip, "--dip", a1.ip, "--proto", 17,
                       "--sport", 6001, "--dport", 30001, "--nh", A1_NH, "--vrf", 1)
        fwd = set_flow(vr, "--index", index, "--gen", gen, "--action", "forward", "--sip", a1.ip,
                       "--dip", b1.ip, "--proto", 17, "--sport", 30001, "--dport", 6001,
                       "--nh", A1_NH, "--vrf", 1, "--rindex", rev)
        assert fwd == index
        out, _ = c.communicate(timeout=20)
    finally:
        if c.poll() is None:
            c.kill()
        sout, _ = server.communicate(timeout=20)
    assert out.split()[0] == "3", out                    # the three held packets made it
    assert f"{a1.ip}:30001=3" in sout
    listing = vr.tool("flow", "-l")
    assert f"{index}<=>{rev}" in listing and "Action:F" in listing


def test_drop_flow_drops_and_counts(topo):
    vr = topo.computes["ca"].vrouter
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    idx = set_flow(vr, "--action", "drop", "--sip", a1.ip, "--dip", b1.ip, "--proto", 17,
                   "--sport", 30002, "--dport", 6002, "--nh", A1_NH, "--vrf", 1,
                   "--drop-reason", 21)
    before = vr.dropstats()["flow_action_drop"]
    server = start_udp_echo(b1, b1.ip, 6002, idle=3)
    c = client(a1, b1.ip, 6002, 30002, n=4, wait=2)
    out, _ = c.communicate(timeout=20)
    sout, _ = server.communicate(timeout=20)
    assert out.split()[0] == "0", out
    assert sout.strip() == "", sout
    assert vr.dropstats()["flow_action_drop"] == before + 4
    got = vr.tool("flow", "--get", idx)
    assert "Action:D" in got and "Stats:4/" in got
    assert "Flow Action Drop" in vr.tool("dropstats")


def test_nat_rewrites_both_directions(topo):
    vr = topo.computes["ca"].vrouter
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    floating = "203.0.113.120"
    # The floating address answers ARP (a proxy route to the discard NH: flows do the rest).
    vr.tool("rt", "-c", "-v", 1, "-p", floating, "-l", 32, "-n", 0, "-x")
    rev = set_flow(vr, "--action", "forward", "--sip", b1.ip, "--dip", a1.ip, "--proto", 17,
                   "--sport", 7001, "--dport", 30003, "--nh", A1_NH, "--vrf", 1)
    fwd = set_flow(vr, "--action", "nat", "--dnat", "--dpat", "--sip", a1.ip, "--dip", floating,
                   "--proto", 17, "--sport", 30003, "--dport", 7000, "--nh", A1_NH, "--vrf", 1,
                   "--rindex", rev)
    set_flow(vr, "--index", rev, "--action", "nat", "--snat", "--spat", "--sip", b1.ip,
             "--dip", a1.ip, "--proto", 17, "--sport", 7001, "--dport", 30003, "--nh", A1_NH,
             "--vrf", 1, "--rindex", fwd)
    server = start_udp_echo(b1, b1.ip, 7001, idle=3)
    c = client(a1, floating, 7000, 30003, n=2, wait=4)
    out, _ = c.communicate(timeout=20)
    sout, _ = server.communicate(timeout=20)
    # b1 saw a1 (destination rewritten to it); a1 saw replies from the floating address.
    assert f"{a1.ip}:30003=2" in sout, sout
    assert out.split() == ["2", f"{floating}:7000", f"{floating}:7000"], out
    listing = vr.tool("flow", "--get", fwd)
    assert "Action:N(DPd)" in listing and "Stats:2/" in listing


def test_idle_flows_age_out(topo):
    vr = topo.computes["ca"].vrouter
    idx = set_flow(vr, "--action", "forward", "--sip", "203.0.113.11", "--dip", "203.0.113.5",
                   "--proto", 6, "--sport", 1, "--dport", 2, "--nh", A1_NH, "--vrf", 1)
    vr.tool("vrouter", "--flow-aging-ms", 300)
    try:
        poll(lambda: vr.tool_run("flow", "--get", idx).returncode != 0, 5, "the flow to age")
    finally:
        vr.tool("vrouter", "--flow-aging-ms", 180000)
    r = vr.tool_run("flow", "--get", idx)
    assert "does not exist" in r.stderr


def test_trap_without_agent_is_counted(topo):
    vr = topo.computes["ca"].vrouter
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    vr.tool("vif", "--delete", 2)
    try:
        before = vr.dropstats()["trap_no_if"]
        c = client(a1, b1.ip, 6009, 30009, n=1, wait=0.5)
        c.communicate(timeout=10)
        poll(lambda: vr.dropstats()["trap_no_if"] > before, 5, "trap_no_if")
    finally:
        vr.tool("vif", "--add", "pkt0", "--type", "agent", "--vif", 2)


def udp_frame(dmac, smac, sip, dip, sport, dport, payload):
    """An Ethernet + IPv4 + UDP frame with valid checksums."""
    import socket as s
    import struct

    def csum(b):
        if len(b) % 2:
            b += b"\0"
        t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
        t = (t >> 16) + (t & 0xffff)
        t += t >> 16
        return ~t & 0xffff
    src, dst = s.inet_aton(sip), s.inet_aton(dip)
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp) or 0xffff
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))  # noqa: E731
    return mac(dmac) + mac(smac) + b"\x08\x00" + ip + udp


def test_agent_injects_switch_and_route(topo):
    import struct
    vr = topo.computes["ca"].vrouter
    a1, b1 = topo.vms["a1"], topo.vms["b1"]
    server_a = start_udp_echo(a1, a1.ip, 6100, idle=3)
    server_b = start_udp_echo(b1, b1.ip, 6101, idle=3)
    # SWITCH: the frame goes out of a1's vif as it is.
    hdr = struct.pack("!HHHIIIIIB3x", a1.vif, 1, 0, 0, 0, 0, 0, 0, 0)
    topo.agent.sendto(hdr + udp_frame(a1.mac, VRRP_MAC, "203.0.113.1", a1.ip, 53, 6100,
                                      b"switched"), vr.pkt)
    # ROUTE: routed in VRF 1, to b1 on the other compute (no flow lookup for the agent).
    hdr = struct.pack("!HHHIIIIIB3x", 0, 1, 1, 0, 0, 0, 0, 0, 0)
    topo.agent.sendto(hdr + udp_frame(VRRP_MAC, VRRP_MAC, "203.0.113.1", b1.ip, 53, 6101,
                                      b"routed"), vr.pkt)
    out_a, _ = server_a.communicate(timeout=15)
    out_b, _ = server_b.communicate(timeout=15)
    assert "203.0.113.1:53=1" in out_a, out_a
    assert "203.0.113.1:53=1" in out_b, out_b
    # A command the vRouter does not take is counted, not crashed on.
    before = vr.dropstats()["invalid_protocol"]
    hdr = struct.pack("!HHHIIIIIB3x", 0, 1, 99, 0, 0, 0, 0, 0, 0)
    topo.agent.sendto(hdr + b"\0" * 60, vr.pkt)
    poll(lambda: vr.dropstats()["invalid_protocol"] == before + 1, 5, "the bad inject counted")
