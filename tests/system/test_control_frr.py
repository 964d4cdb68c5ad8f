"""contrail-control's BGP speaker against FRR's bgpd, a second independent implementation
next to GoBGP (test_control_bgp.py).

Both speakers are iBGP in AS 64512 with the families inet-vpn and e-vpn (FRR: ipv4 vpn and
l2vpn evpn), each connecting to the other's port on 127.0.0.1.  Checked from both sides: the
session's capabilities, the node's inet-vpn and evpn routes (type 2 with and without IP, MPLS
and VXLAN; type 3) at FRR with RD, label or VNI, route targets, encapsulation and next hop,
their withdrawal when the route file changes (SIGHUP), FRR's own VPN routes (a `network ... rd
... label ...` with a route-map setting the target and next hop) in the node's bgp.l3vpn.0 and
their withdrawal, and recovery after FRR is stopped or killed and started again.

Next hops come from 198.51.100.0/24 and overlay prefixes from 203.0.113.0/24.
"""

import pytest

from conftest import poll
from controlutil import Control
from frrutil import FRR, have_frr

pytestmark = pytest.mark.skipif(not have_frr(), reason="FRR (bgpd, vtysh) is not installed")

FAMILIES = "inet-vpn,e-vpn"
FRR_FAMILIES = ("ipv4 vpn", "l2vpn evpn")
CONTROL_ID = "10.0.0.1"
FRR_ID = "10.0.0.3"

VPN_A = "inet-vpn 64512:100:203.0.113.0/24 label 1000 nexthop 198.51.100.1 target 64512:100 " \
        "encap udp"
VPN_B = "inet-vpn 64512:101:203.0.113.64/26 label 1001 nexthop 198.51.100.2 target 64512:101 " \
        "target 64512:102"
MAC_IP = "e-vpn type 2 rd 64512:200 mac 00:11:22:33:44:55 ip 203.0.113.5 label 2000 " \
         "nexthop 198.51.100.1 target 64512:200"
MAC_VXLAN = "e-vpn type 2 rd 64512:201 mac 00:11:22:33:44:66 label 5001 nexthop 198.51.100.1 " \
            "target 64512:201 encap vxlan"
IMET = "e-vpn type 3 rd 64512:200 ip 198.51.100.1 nexthop 198.51.100.1 target 64512:200"
ROUTES = [VPN_A, VPN_B, MAC_IP, MAC_VXLAN, IMET]

VPN_KEYS = {("64512:100", "203.0.113.0/24"), ("64512:101", "203.0.113.64/26")}
MAC_IP_KEY = ("64512:200", "[2]:[0]:[48]:[00:11:22:33:44:55]:[32]:[203.0.113.5]")
MAC_VXLAN_KEY = ("64512:201", "[2]:[0]:[48]:[00:11:22:33:44:66]")
IMET_KEY = ("64512:200", "[3]:[0]:[32]:[198.51.100.1]")
EVPN_KEYS = {MAC_IP_KEY, MAC_VXLAN_KEY, IMET_KEY}

# FRR's own VPN routes: a route-map gives them their targets and a next hop in 198.51.100/24
# (FRR would otherwise send its session address).
FRR_PREAMBLE = [
    "route-map EXPORT-A permit 10",
    " set extcommunity rt 64512:400",
    " set ipv4 vpn next-hop 198.51.100.7",
    "exit",
    "route-map EXPORT-B permit 10",
    " set extcommunity rt 64512:401 64512:402",
    " set ipv4 vpn next-hop 198.51.100.8",
    "exit",
]
FRR_NET_A = "network 203.0.113.128/25 rd 64512:400 label 4000 route-map EXPORT-A"
FRR_NET_B = "network 203.0.113.192/26 rd 64512:401 label 4001 route-map EXPORT-B"
FRR_PREFIX_A = "64512:400:203.0.113.128/25"
FRR_PREFIX_B = "64512:401:203.0.113.192/26"


@pytest.fixture
def pair(tmp_path):
    """A contrail-control (routes ROUTES) and an FRR bgpd peered over loopback, both stopped
    at teardown."""
    started = []
    control = Control(tmp_path / "control", routes=ROUTES)
    frr = FRR(tmp_path / "frr", peer_port=control.bgp_port, router_id=FRR_ID,
              families=FRR_FAMILIES, preamble=FRR_PREAMBLE)
    control.peers = f"127.0.0.1 port {frr.port} as 64512 families {FAMILIES}"
    try:
        frr.start()
        started.append(frr)
        control.start()
        started.append(control)
        control.wait_established("127.0.0.1")
        frr.wait_established()
        yield control, frr
    finally:
        problems = [d.stop() for d in reversed(started)]
        problems = [p for p in problems if p]
        if problems:
            pytest.fail("; ".join(problems) + "\n" + control.diagnostics() + "\n" +
                        frr.diagnostics())


def rts(path):
    """The route targets of an FRR path, as a sorted list of "X:Y"."""
    text = path.get("extendedCommunity", {}).get("string", "")
    return sorted(c[3:] for c in text.split() if c.startswith("RT:"))


def encaps(path):
    """The encapsulation extended communities of an FRR path (RFC 9012 tunnel types)."""
    text = path.get("extendedCommunity", {}).get("string", "")
    return sorted(int(c[3:]) for c in text.split() if c.startswith("ET:"))


def no_network(line):
    """The `no` form of a `network` line (FRR refuses it with the route-map part)."""
    return "no " + line.split(" route-map ")[0]


def only_path(paths):
    assert len(paths) == 1, paths
    return paths[0]


def test_session_capabilities(pair):
    control, frr = pair
    n = frr.neighbor()
    assert n["bgpState"] == "Established"
    assert n["remoteRouterId"] == CONTROL_ID
    assert n["remoteAs"] == 64512 and n["nbrInternalLink"] is True
    caps = n["neighborCapabilities"]
    # The node offered exactly the two families, and both were negotiated.
    assert caps["multiprotocolExtensions"] == {"ipv4Vpn": {"advertisedAndReceived": True},
                                               "l2VpnEvpn": {"advertisedAndReceived": True}}
    assert caps["4byteAs"] == "advertisedAndReceived"
    assert caps["routeRefresh"].startswith("advertisedAndReceived")
    assert caps["gracefulRestart"] == "advertisedAndReceived"
    # Hold time: the smaller of the node's 90 s and FRR's 30 s.
    assert n["bgpTimerHoldTimeMsecs"] == 30000
    assert n["messageStats"]["opensRecv"] == 1
    assert n["messageStats"]["notificationsRecv"] == 0
    # Both End-of-RIB markers arrived (the node's initial table dump is complete).
    assert n["gracefulRestartInfo"]["endOfRibRecv"] == {"ipv4Vpn": True, "l2VpnEvpn": True}

    c = control.neighbor("127.0.0.1")
    assert c["state"] == "Established"
    assert c["peer_id"] == FRR_ID and c["peer_asn"] == 64512
    assert sorted(c["negotiated_families"]) == sorted(FAMILIES.split(","))
    assert c["as4"] and c["route_refresh"] and c["graceful_restart"]
    assert c["hold_time"] == 30
    assert c["last_notification_sent"] is None and c["last_notification_received"] is None


def test_inet_vpn_routes_reach_frr(pair):
    control, frr = pair
    frr.wait_route_set("ipv4 vpn", VPN_KEYS)
    a = only_path(frr.route("ipv4 vpn", "64512:100", "203.0.113.0/24"))
    assert a["remoteLabel"] == 1000
    assert rts(a) == ["64512:100"]
    assert encaps(a) == [13]                                  # MPLS in UDP
    assert [h["ip"] for h in a["nexthops"]] == ["198.51.100.1"]
    assert a["peer"]["routerId"] == CONTROL_ID and a["peer"]["type"] == "internal"
    assert a["aspath"]["length"] == 0 and a["locPrf"] == 100 and a["origin"] == "IGP"
    b = only_path(frr.route("ipv4 vpn", "64512:101", "203.0.113.64/26"))
    assert b["remoteLabel"] == 1001
    assert rts(b) == ["64512:101", "64512:102"]
    assert encaps(b) == []
    assert [h["ip"] for h in b["nexthops"]] == ["198.51.100.2"]

    # One reload: A changes its label and next hop, B goes, C is new.
    vpn_c = "inet-vpn 64512:102:203.0.113.32/27 label 1002 nexthop 198.51.100.3 target 64512:102"
    control.reload_routes([VPN_A.replace("label 1000", "label 1100")
                           .replace("nexthop 198.51.100.1", "nexthop 198.51.100.4"),
                           vpn_c, MAC_IP, MAC_VXLAN, IMET])
    frr.wait_route_set("ipv4 vpn", {("64512:100", "203.0.113.0/24"),
                                    ("64512:102", "203.0.113.32/27")})
    a = poll(lambda: [p for p in frr.route("ipv4 vpn", "64512:100", "203.0.113.0/24")
                      if p.get("remoteLabel") == 1100], 10, "A's new label at FRR")
    assert only_path(a)["nexthops"][0]["ip"] == "198.51.100.4"
    c = only_path(frr.route("ipv4 vpn", "64512:102", "203.0.113.32/27"))
    assert c["remoteLabel"] == 1002 and rts(c) == ["64512:102"]
    # The evpn routes were not touched.
    assert set(frr.rib("l2vpn evpn")) == EVPN_KEYS

    # An empty route file withdraws everything.
    control.reload_routes([])
    frr.wait_route_set("ipv4 vpn", set())
    frr.wait_route_set("l2vpn evpn", set())
    assert control.neighbor("127.0.0.1")["state"] == "Established"


def test_evpn_routes_reach_frr(pair):
    control, frr = pair
    rib = frr.wait_route_set("l2vpn evpn", EVPN_KEYS)
    mac = only_path(rib[MAC_IP_KEY])
    assert mac["routeType"] == 2 and mac["ethTag"] == 0
    assert mac["mac"] == "00:11:22:33:44:55" and mac["ip"] == "203.0.113.5"
    assert [h["ip"] for h in mac["nexthops"]] == ["198.51.100.1"]
    mac = only_path(frr.route("l2vpn evpn", *MAC_IP_KEY))
    # FRR reads the 3-octet label field as a VNI: with MPLS encapsulation the label sits in the
    # high 20 bits with the bottom-of-stack bit set.
    assert int(mac["vni"]) == 2000 << 4 | 1
    assert rts(mac) == ["64512:200"] and encaps(mac) == []
    assert mac["peer"]["routerId"] == CONTROL_ID

    vx = only_path(frr.route("l2vpn evpn", *MAC_VXLAN_KEY))
    # VXLAN (RFC 8365): the field is the VNI itself, and the encapsulation is announced.
    assert int(vx["vni"]) == 5001
    assert rts(vx) == ["64512:201"] and encaps(vx) == [8]
    assert "ip" not in rib[MAC_VXLAN_KEY][0]
    assert rib[MAC_VXLAN_KEY][0]["mac"] == "00:11:22:33:44:66"

    imet = only_path(frr.route("l2vpn evpn", *IMET_KEY))
    assert rts(imet) == ["64512:200"]
    assert [h["ip"] for h in imet["nexthops"]] == ["198.51.100.1"]
    assert only_path(rib[IMET_KEY])["routeType"] == 3
    assert only_path(rib[IMET_KEY])["ip"] == "198.51.100.1"

    # Withdrawal of the VXLAN MAC and a new VNI on the other.
    control.reload_routes([VPN_A, VPN_B, MAC_IP.replace("label 2000", "label 2100"), IMET])
    frr.wait_route_set("l2vpn evpn", {MAC_IP_KEY, IMET_KEY})
    poll(lambda: [p for p in frr.route("l2vpn evpn", *MAC_IP_KEY)
                  if int(p.get("vni", 0)) == 2100 << 4 | 1], 10, "new label of the MAC route")
    assert set(frr.rib("ipv4 vpn")) == VPN_KEYS


def test_frr_routes_reach_control(pair):
    control, frr = pair
    frr.configure(FRR_NET_A, FRR_NET_B, af="ipv4 vpn")
    a = poll(lambda: control.routes("bgp.l3vpn.0").get(FRR_PREFIX_A), 10,
             "FRR's first route in bgp.l3vpn.0")
    p = only_path(a)
    assert p["source"] == "127.0.0.1" and p["best"]
    assert p["label"] == 4000
    assert p["next_hop"] == "198.51.100.7"
    assert [e for e in p["ext_communities"] if e.startswith("target:")] == ["target:64512:400"]
    assert p["as_path"] == [] and p["local_pref"] == 100
    b = poll(lambda: control.routes("bgp.l3vpn.0").get(FRR_PREFIX_B), 10,
             "FRR's second route in bgp.l3vpn.0")
    p = only_path(b)
    assert p["label"] == 4001 and p["next_hop"] == "198.51.100.8"
    assert sorted(e for e in p["ext_communities"] if e.startswith("target:")) == \
        ["target:64512:401", "target:64512:402"]
    # The node's own route has only its local path: FRR does not send it back (iBGP), and the
    # node does not send FRR's routes back to FRR.
    assert [q["source"] for q in control.routes("bgp.l3vpn.0")["64512:100:203.0.113.0/24"]] \
        == ["local"]
    assert frr.neighbor()["addressFamilyInfo"]["ipv4Vpn"]["acceptedPrefixCounter"] == 2
    assert {k for k in frr.rib("ipv4 vpn")} == VPN_KEYS | {("64512:400", "203.0.113.128/25"),
                                                          ("64512:401", "203.0.113.192/26")}

    # FRR withdraws the first.
    frr.configure(no_network(FRR_NET_A), af="ipv4 vpn")
    poll(lambda: FRR_PREFIX_A not in control.routes("bgp.l3vpn.0"), 10,
         "FRR's withdrawal at the node")
    table = control.routes("bgp.l3vpn.0")
    assert FRR_PREFIX_B in table and "64512:100:203.0.113.0/24" in table
    assert control.neighbor("127.0.0.1")["paths"] == 1


def test_frr_admin_shutdown(pair):
    """`neighbor ... shutdown` at FRR: the node gets Cease / Administrative Shutdown, drops
    FRR's routes, and the session comes back when FRR lifts the shutdown."""
    control, frr = pair
    frr.configure(FRR_NET_A, af="ipv4 vpn")
    poll(lambda: FRR_PREFIX_A in control.routes("bgp.l3vpn.0"), 10, "FRR's route")
    frr.configure('neighbor 127.0.0.1 shutdown message "maintenance"')
    n = poll(lambda: control.neighbor("127.0.0.1")["state"] != "Established" and
             control.neighbor("127.0.0.1"), 10, "session down at the node")
    assert (n["last_notification_received"]["code"],
            n["last_notification_received"]["subcode"]) == (6, 2)
    assert FRR_PREFIX_A not in control.routes("bgp.l3vpn.0")
    # FRR drops the node's routes too (in the background: poll).
    frr.wait_route_set("ipv4 vpn", {("64512:400", "203.0.113.128/25")})
    frr.wait_route_set("l2vpn evpn", set())

    frr.configure("no neighbor 127.0.0.1 shutdown")
    control.wait_established("127.0.0.1")
    frr.wait_route_set("ipv4 vpn", VPN_KEYS | {("64512:400", "203.0.113.128/25")})
    frr.wait_route_set("l2vpn evpn", EVPN_KEYS)
    poll(lambda: FRR_PREFIX_A in control.routes("bgp.l3vpn.0"), 10, "FRR's route again")


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_frr_restart(pair, how):
    """FRR goes away (SIGTERM: FRR 8.4 closes its connections without a NOTIFICATION;
    SIGKILL) and comes back on the same port: the session comes up again and both sides
    resend."""
    control, frr = pair
    frr.configure(FRR_NET_A, af="ipv4 vpn")
    poll(lambda: FRR_PREFIX_A in control.routes("bgp.l3vpn.0"), 10, "FRR's route")
    frr.wait_route_set("ipv4 vpn", VPN_KEYS | {("64512:400", "203.0.113.128/25")})
    flaps = control.neighbor("127.0.0.1")["flap_count"]

    if how == "stop":
        assert frr.stop() is None
    else:
        frr.kill()
    n = poll(lambda: control.neighbor("127.0.0.1")["state"] != "Established" and
             control.neighbor("127.0.0.1"), 10, "session down at the node")
    assert n["flap_count"] == flaps + 1
    assert FRR_PREFIX_A not in control.routes("bgp.l3vpn.0")
    assert control.neighbor("127.0.0.1")["paths"] == 0

    # Meanwhile the node's routes change: the restarted FRR must see the new set.
    control.reload_routes([VPN_A, MAC_IP, IMET])
    # The runtime `network` is gone with the process; it comes back from the file.
    frr.af_config["ipv4 vpn"] = [FRR_NET_A]
    frr.start()
    frr.wait_established()
    control.wait_established("127.0.0.1")
    frr.wait_route_set("ipv4 vpn", {("64512:100", "203.0.113.0/24"),
                                    ("64512:400", "203.0.113.128/25")})
    frr.wait_route_set("l2vpn evpn", {MAC_IP_KEY, IMET_KEY})
    p = poll(lambda: control.routes("bgp.l3vpn.0").get(FRR_PREFIX_A), 10,
             "FRR's route after the restart")
    assert only_path(p)["label"] == 4000
    assert frr.neighbor()["messageStats"]["opensRecv"] == 1
