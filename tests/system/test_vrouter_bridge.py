"""contrail-vrouter bridging: per-VRF MAC tables, layer-2 tunnels (VXLAN by VNI, MPLSoUDP by
layer-2 label) and flooding of broadcast frames through composite next hops, so that two VMs
on different computes resolve each other with real ARP (no proxy).  Runs as root."""

import os

import pytest

from vrouterutil import VRRP_MAC, Topology, start_udp_echo, tunnel, udp_exchange

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

BCAST = "ff:ff:ff:ff:ff:ff"
VRF = 5


@pytest.fixture(scope="module", params=["vxlan", "mplsoudp"])
def l2(request, tmp_path_factory):
    topo = Topology(tmp_path_factory.mktemp(f"vr-l2-{request.param}"))
    try:
        a = topo.add_compute("ca", "198.51.100.41")
        b = topo.add_compute("cb", "198.51.100.42")
        vm = {"a": topo.add_vm(a, "a1", "203.0.113.41", 24),
              "b": topo.add_vm(b, "b1", "203.0.113.42", 24)}
        for here, there, mine, other in ((a, b, vm["a"], vm["b"]), (b, a, vm["b"], vm["a"])):
            vr = here.vrouter
            vr.tool("vif", "--add", mine.tap, "--type", "virtual", "--vif", mine.vif,
                    "--vrf", VRF, "--mac", VRRP_MAC, "--nh", 10, "--flags", "L2")
            vr.tool("nh", "--create", 10, "--type", "encap", "--family", "bridge",
                    "--oif", mine.vif, "--vrf", VRF)
            tunnel(vr, 20, request.param, here.fabric_ip, there.fabric_ip)
            if request.param == "vxlan":
                unicast_label = flood_label = 5005
                vr.tool("nh", "--create", 30, "--type", "vrf-translate", "--family", "bridge",
                        "--vrf", VRF)
                vr.tool("vxlan", "--create", 5005, "--nh", 30)
            else:
                unicast_label, flood_label = 200, 300
                vr.tool("mpls", "--create", 200, "--nh", 10)
            # Broadcast: the local port and the other compute.
            vr.tool("nh", "--create", 40, "--type", "composite", "--flood", "--family", "bridge",
                    "--vrf", VRF, "--nh-list", "10,20", "--label-list", f"0,{flood_label}")
            if request.param == "mplsoudp":
                vr.tool("mpls", "--create", 300, "--nh", 40)
            vr.tool("rt", "-c", "-v", VRF, "-f", "bridge", "-e", BCAST, "-n", 40)
            vr.tool("rt", "-c", "-v", VRF, "-f", "bridge", "-e", mine.mac, "-n", 10)
            vr.tool("rt", "-c", "-v", VRF, "-f", "bridge", "-e", other.mac, "-n", 20,
                    "-t", unicast_label)
        topo.vm = vm
        topo.encap = request.param
        yield topo
    finally:
        problems = topo.close()
    if problems:
        pytest.fail("\n".join(problems))


def test_arp_floods_and_frames_are_bridged(l2):
    a1, b1 = l2.vm["a"], l2.vm["b"]
    ok, out = a1.ping(b1.ip, count=2)
    assert ok, out
    # Real ARP: a1 learnt b1's own MAC (flooded request, bridged reply).
    assert b1.mac in a1.run("ip", "neigh", "show", b1.ip)
    server = start_udp_echo(b1, b1.ip, 8001)
    try:
        assert udp_exchange(a1, b1.ip, 8001, count=3) == 3
    finally:
        server.communicate(timeout=15)
    dump = l2.computes["ca"].vrouter.tool("rt", "--dump", VRF, "--family", "bridge")
    assert "vRouter bridge table 0/5" in dump
    assert ":".join("%x" % int(x, 16) for x in b1.mac.split(":")) in dump
