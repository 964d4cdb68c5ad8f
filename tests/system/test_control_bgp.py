"""contrail-control's BGP speaker against a real GoBGP and a raw Python speaker.

Session set-up and capabilities, the node's routes at GoBGP (inet-vpn, inet6-vpn, evpn types 2
and 3 with RD, label, targets, next hop), GoBGP's routes in the node's tables, withdrawals both
ways, resynchronisation after GoBGP is killed and restarted, TCP MD5, and malformed input
(RFC 7606 treat-as-withdraw, NOTIFICATION codes).  Next hops come from 198.51.100.0/24: GoBGP
treats loopback next hops as invalid.
"""

import socket
import struct
import time

import pytest

from conftest import poll
from controlutil import (Control, GoBGP, RawPeer, as_path4, attr, bgp_msg, ext_target,
                         have_gobgp, mp_reach_vpnv4, open_msg, update_msg, vpnv4_nlri)

pytestmark = pytest.mark.skipif(not have_gobgp(), reason="gobgpd is not installed")

FAMILIES = "inet-vpn,inet6-vpn,e-vpn"
ROUTES = [
    "inet-vpn 64512:100:198.51.100.0/24 label 1000 nexthop 198.51.100.1 target 64512:100 "
    "encap udp",
    "inet6-vpn 64512:100:2001:db8:1::/48 label 1001 nexthop 198.51.100.1 target 64512:100",
    "e-vpn type 2 rd 64512:200 mac 00:11:22:33:44:55 ip 198.51.100.5 label 2000 "
    "nexthop 198.51.100.1 target 64512:200",
    "e-vpn type 2 rd 64512:201 mac 00:11:22:33:44:66 label 5001 nexthop 198.51.100.1 "
    "target 64512:201 encap vxlan",
    "e-vpn type 3 rd 64512:200 ip 198.51.100.1 nexthop 198.51.100.1 target 64512:200",
]


@pytest.fixture
def pair(tmp_path):
    """A contrail-control and a GoBGP peered over loopback, both stopped at teardown."""
    started = []
    control = Control(tmp_path / "control", routes=ROUTES)
    gobgp = GoBGP(tmp_path / "gobgp", peer_port=control.bgp_port)
    control.peers = f"127.0.0.1 port {gobgp.port} as 64512 families {FAMILIES}"
    try:
        gobgp.start()
        started.append(gobgp)
        control.start()
        started.append(control)
        control.wait_established("127.0.0.1")
        poll(gobgp.established, 20, "GoBGP sees the session established")
        yield control, gobgp
    finally:
        problems = [d.stop() for d in reversed(started)]
        problems = [p for p in problems if p]
        if problems:
            pytest.fail("; ".join(problems) + "\n" + control.diagnostics())


def attrs_by_type(path):
    return {a["type"]: a for a in path["attrs"]}


def targets(path):
    ext = attrs_by_type(path).get(16, {"value": []})["value"]
    return sorted(e["value"] for e in ext if e.get("subtype") == 2)


def test_session_capabilities(pair):
    control, gobgp = pair
    n = control.neighbor("127.0.0.1")
    assert n["state"] == "Established"
    assert n["peer_id"] == "10.0.0.2"
    assert n["peer_asn"] == 64512
    assert sorted(n["negotiated_families"]) == sorted(FAMILIES.split(","))
    assert n["as4"] and n["route_refresh"]
    assert n["rx"]["open"] >= 1 and n["tx"]["open"] >= 1
    # What GoBGP saw us offer.
    caps = [c["type_url"].rsplit(".", 1)[1] for c in gobgp.neighbor()["state"]["remote_cap"]]
    assert caps.count("MultiProtocolCapability") == 3
    for name in ("RouteRefreshCapability", "FourOctetASNCapability",
                 "GracefulRestartCapability"):
        assert name in caps, caps


def test_routes_reach_gobgp(pair):
    control, gobgp = pair
    v4 = poll(lambda: gobgp.rib("vpnv4").get("64512:100:198.51.100.0/24"), 10, "vpnv4 route")
    path = v4[0]
    assert path["nlri"]["labels"] == [1000]
    assert path["nlri"]["rd"] == {"type": 0, "admin": 64512, "assigned": 100}
    assert targets(path) == ["64512:100"]
    a = attrs_by_type(path)
    assert a[14]["nexthop"] == "198.51.100.1"
    assert {"type": 3, "subtype": 12, "tunnel_type": 13} in a[16]["value"]   # MPLSoUDP

    v6 = poll(lambda: gobgp.rib("vpnv6").get("64512:100:2001:db8:1::/48"), 10, "vpnv6 route")
    assert v6[0]["nlri"]["labels"] == [1001]
    assert targets(v6[0]) == ["64512:100"]
    # An IPv4 next hop travels IPv4-mapped (RFC 4659) and GoBGP shows it as either form.
    assert attrs_by_type(v6[0])[14]["nexthop"] in ("198.51.100.1", "::ffff:198.51.100.1")

    evpn = poll(lambda: len(gobgp.rib("evpn")) == 3 and gobgp.rib("evpn"), 10, "evpn routes")
    by_mac = {}
    imet = None
    for paths in evpn.values():
        nlri = paths[0]["nlri"]
        if nlri["type"] == 2:
            by_mac[nlri["value"]["mac"]] = paths[0]
        else:
            imet = paths[0]
    mac = by_mac["00:11:22:33:44:55"]["nlri"]["value"]
    assert mac["ip"] == "198.51.100.5"
    assert mac["rd"] == {"type": 0, "admin": 64512, "assigned": 200}
    # MPLS encapsulation: the label sits in the high 20 bits of the 3-octet field, which
    # GoBGP prints raw.
    assert mac["labels"] == [2000 << 4 | 1]
    assert targets(by_mac["00:11:22:33:44:55"]) == ["64512:200"]
    # VXLAN encapsulation: the field is the 24-bit VNI itself (RFC 8365).
    assert by_mac["00:11:22:33:44:66"]["nlri"]["value"]["labels"] == [5001]
    assert imet["nlri"]["value"]["ip"] == "198.51.100.1"
    assert attrs_by_type(imet)[14]["nexthop"] == "198.51.100.1"


def test_routes_from_gobgp_and_withdrawals(pair):
    control, gobgp = pair
    gobgp.cli("global", "rib", "-a", "vpnv4", "add", "203.0.113.0/24", "label", "3000",
              "rd", "64512:300", "rt", "64512:300", "nexthop", "198.51.100.9")
    gobgp.cli("global", "rib", "-a", "vpnv6", "add", "2001:db8:9::/64", "label", "3002",
              "rd", "64512:300", "rt", "64512:300", "nexthop", "2001:db8::9")
    gobgp.cli("global", "rib", "-a", "evpn", "add", "macadv", "00:aa:bb:cc:dd:ee",
              "203.0.113.7", "etag", "0", "label", "3001", "rd", "64512:301", "rt",
              "64512:301", "encap", "vxlan", "nexthop", "198.51.100.9")
    vpn = poll(lambda: control.routes("bgp.l3vpn.0").get("64512:300:203.0.113.0/24"), 10,
               "GoBGP's vpnv4 route in bgp.l3vpn.0")
    p = vpn[0]
    assert p["source"] == "127.0.0.1" and p["best"]
    assert p["label"] == 3000
    assert p["next_hop"] == "198.51.100.9"
    assert "target:64512:300" in p["ext_communities"]
    v6 = poll(lambda: control.routes("bgp.l3vpn-inet6.0").get("64512:300:2001:db8:9::/64"), 10,
              "GoBGP's vpnv6 route")
    assert v6[0]["label"] == 3002 and v6[0]["next_hop"] == "2001:db8::9"
    ev = poll(lambda: control.routes("bgp.evpn.0").get(
        "2-64512:301-0-00:aa:bb:cc:dd:ee,203.0.113.7"), 10, "GoBGP's evpn route")
    assert ev[0]["label"] == 3001
    assert "encapsulation:vxlan" in ev[0]["ext_communities"]
    # GoBGP's own route is not sent back to it.
    assert len(gobgp.rib("vpnv4")["64512:300:203.0.113.0/24"]) == 1

    # Withdrawal from GoBGP.
    gobgp.cli("global", "rib", "-a", "vpnv4", "del", "203.0.113.0/24", "label", "3000",
              "rd", "64512:300", "rt", "64512:300", "nexthop", "198.51.100.9")
    poll(lambda: "64512:300:203.0.113.0/24" not in control.routes("bgp.l3vpn.0"), 10,
         "vpnv4 withdrawal from GoBGP")
    assert "64512:100:198.51.100.0/24" in control.routes("bgp.l3vpn.0")

    # Withdrawal from us: the route file loses two routes and changes one label.
    control.reload_routes([ROUTES[0].replace("label 1000", "label 1100"), ROUTES[2]])
    poll(lambda: "64512:100:2001:db8:1::/48" not in gobgp.rib("vpnv6"), 10,
         "vpnv6 withdrawal at GoBGP")
    poll(lambda: len(gobgp.rib("evpn")) == 2, 10, "two evpn routes left at GoBGP")
    poll(lambda: gobgp.rib("vpnv4")["64512:100:198.51.100.0/24"][0]["nlri"]["labels"]
         == [1100], 10, "new label at GoBGP")


def test_gobgp_restart_resyncs(pair):
    control, gobgp = pair
    gobgp.cli("global", "rib", "-a", "vpnv4", "add", "203.0.113.0/24", "label", "3000",
              "rd", "64512:300", "rt", "64512:300", "nexthop", "198.51.100.9")
    poll(lambda: "64512:300:203.0.113.0/24" in control.routes("bgp.l3vpn.0"), 10,
         "GoBGP's route")
    flaps = control.neighbor("127.0.0.1")["flap_count"]
    gobgp.kill()
    poll(lambda: control.neighbor("127.0.0.1")["state"] != "Established", 10, "session down")
    assert "64512:300:203.0.113.0/24" not in control.routes("bgp.l3vpn.0")
    assert control.neighbor("127.0.0.1")["flap_count"] == flaps + 1

    gobgp.start()
    control.wait_established("127.0.0.1")
    poll(lambda: "64512:100:198.51.100.0/24" in gobgp.rib("vpnv4") and
         len(gobgp.rib("evpn")) == 3 and "64512:100:2001:db8:1::/48" in gobgp.rib("vpnv6"),
         15, "our routes at the restarted GoBGP")
    gobgp.cli("global", "rib", "-a", "vpnv4", "add", "203.0.113.0/24", "label", "3000",
              "rd", "64512:300", "rt", "64512:300", "nexthop", "198.51.100.9")
    poll(lambda: "64512:300:203.0.113.0/24" in control.routes("bgp.l3vpn.0"), 10,
         "GoBGP's route again")


def test_graceful_restart_helper(tmp_path):
    """GoBGP announces graceful restart: when it dies its routes stay, marked stale; when it
    comes back, End-of-RIB sweeps the ones it did not announce again."""
    control = Control(tmp_path / "control", routes=ROUTES[:1])
    gobgp = GoBGP(tmp_path / "gobgp", peer_port=control.bgp_port, restart_time=60,
                  families=("l3vpn-ipv4-unicast",))
    control.peers = f"127.0.0.1 port {gobgp.port} as 64512 families inet-vpn"
    started = []
    try:
        gobgp.start()
        started.append(gobgp)
        control.start()
        started.append(control)
        control.wait_established("127.0.0.1")
        assert control.neighbor("127.0.0.1")["graceful_restart"]
        for rd in ("64512:300", "64512:301"):
            gobgp.cli("global", "rib", "-a", "vpnv4", "add", "203.0.113.0/24", "label", "3000",
                      "rd", rd, "rt", "64512:300", "nexthop", "198.51.100.9")
        poll(lambda: len([k for k in control.routes("bgp.l3vpn.0") if "203.0.113" in k]) == 2,
             10, "GoBGP's two routes")
        gobgp.kill()
        poll(lambda: control.neighbor("127.0.0.1")["state"] != "Established", 10,
             "session down")
        routes = control.routes("bgp.l3vpn.0")
        for rd in ("64512:300", "64512:301"):
            paths = routes[f"{rd}:203.0.113.0/24"]
            assert paths[0].get("stale") is True, paths
        assert control.neighbor("127.0.0.1")["paths"] == 2

        # Back, announcing one of the two again: the other goes, the first is fresh.
        gobgp.start()
        gobgp.cli("global", "rib", "-a", "vpnv4", "add", "203.0.113.0/24", "label", "3001",
                  "rd", "64512:300", "rt", "64512:300", "nexthop", "198.51.100.9")
        control.wait_established("127.0.0.1")

        def swept():
            r = control.routes("bgp.l3vpn.0")
            p = r.get("64512:300:203.0.113.0/24")
            return ("64512:301:203.0.113.0/24" not in r and p and not p[0].get("stale")
                    and p[0]["label"] == 3001)
        poll(swept, 20, "stale route swept, the announced one fresh")
    finally:
        problems = [p for p in (d.stop() for d in reversed(started)) if p]
        if problems:
            pytest.fail("; ".join(problems) + "\n" + control.diagnostics())


def test_md5(tmp_path):
    control = Control(tmp_path / "control", routes=ROUTES[:1])
    gobgp = GoBGP(tmp_path / "gobgp", peer_port=control.bgp_port, password="s3cret-key")
    control.peers = (f"127.0.0.1 port {gobgp.port} as 64512 families {FAMILIES} "
                     "password s3cret-key")
    started = []
    try:
        gobgp.start()
        started.append(gobgp)
        control.start()
        started.append(control)
        n = control.wait_established("127.0.0.1")
        assert n["auth"] is True
        poll(lambda: "64512:100:198.51.100.0/24" in gobgp.rib("vpnv4"), 10, "route over MD5")
        # Without the key the kernel drops our SYN: no connection at all.
        s = socket.socket()
        s.settimeout(1.5)
        with pytest.raises(OSError):
            s.connect(("127.0.0.1", control.bgp_port))
        s.close()
    finally:
        problems = [p for p in (d.stop() for d in reversed(started)) if p]
        if problems:
            pytest.fail("; ".join(problems) + "\n" + control.diagnostics())


# ---------------------------------------------------------------------------------------------
# Malformed input from a raw speaker at 127.0.0.2 (eBGP, AS 64513)


@pytest.fixture(scope="module")
def raw_control(tmp_path_factory):
    control = Control(tmp_path_factory.mktemp("rawctl"),
                      peers="127.0.0.2 as 64513 passive families inet-vpn")
    control.start()
    yield control
    problem = control.stop()
    if problem:
        pytest.fail(problem + "\n" + control.diagnostics())


@pytest.fixture
def raw(raw_control):
    peer = RawPeer("127.0.0.2", raw_control.bgp_port, 64513)
    peer.handshake()
    raw_control.wait_established("127.0.0.2", timeout=10)
    yield peer
    peer.close()
    poll(lambda: raw_control.neighbor("127.0.0.2")["state"] != "Established", 10,
         "raw session closed")


GOOD_ATTRS = attr(0x40, 1, b"\x00") + as_path4(64513)
EXT = attr(0xc0, 16, ext_target(64512, 77))
NLRI = vpnv4_nlri(64513, 1, "203.0.113.0", 24, 700)
PREFIX = "64513:1:203.0.113.0/24"


def test_treat_as_withdraw(raw_control, raw):
    raw.send(update_msg(GOOD_ATTRS + EXT + mp_reach_vpnv4("198.51.100.20", NLRI)))
    p = poll(lambda: raw_control.routes("bgp.l3vpn.0").get(PREFIX), 10, "raw peer's route")
    assert p[0]["label"] == 700 and p[0]["as_path"] == [64513]
    before = raw_control.neighbor("127.0.0.2")["treat_as_withdraw"]
    # The same route with ORIGIN 5: RFC 7606 §7.1, treat-as-withdraw; the session stays.
    bad = attr(0x40, 1, b"\x05") + as_path4(64513) + EXT + mp_reach_vpnv4("198.51.100.20", NLRI)
    raw.send(update_msg(bad))
    poll(lambda: PREFIX not in raw_control.routes("bgp.l3vpn.0"), 10, "route withdrawn")
    n = raw_control.neighbor("127.0.0.2")
    assert n["state"] == "Established"
    assert n["treat_as_withdraw"] == before + 1
    # A malformed COMMUNITIES length on a fresh announcement: not installed either.
    raw.send(update_msg(GOOD_ATTRS + attr(0xc0, 8, b"\x00\x01\x02") +
                        mp_reach_vpnv4("198.51.100.20", NLRI)))
    poll(lambda: raw_control.neighbor("127.0.0.2")["treat_as_withdraw"] == before + 2, 10,
         "second treat-as-withdraw")
    assert PREFIX not in raw_control.routes("bgp.l3vpn.0")
    # Keepalives still answered: the session is healthy.
    raw.send(bgp_msg(4))
    assert raw_control.neighbor("127.0.0.2")["state"] == "Established"


MALFORMED = [
    ("bad marker", b"\xfe" + b"\xff" * 15 + struct.pack("!HB", 19, 4), 1, 1),
    ("bad type", bgp_msg(9), 1, 3),
    ("long keepalive", bgp_msg(4, b"\x00"), 1, 2),
    ("unknown well-known attribute", update_msg(GOOD_ATTRS + attr(0x40, 99, b"\x00") +
                                                mp_reach_vpnv4("198.51.100.20", NLRI)), 3, 2),
    ("MP_UNREACH twice", update_msg(attr(0x80, 15, b"\x00\x01\x80") +
                                    attr(0x80, 15, b"\x00\x01\x80")), 3, 1),
    ("truncated MP_REACH NLRI", update_msg(GOOD_ATTRS + mp_reach_vpnv4("198.51.100.20",
                                                                       NLRI[:-2])), 3, 9),
    ("withdrawn length overrun", bgp_msg(2, b"\x00\x40\x18\x00"), 3, 1),
    ("second OPEN", bgp_msg(1, b"\x04\xfd\xe9\x00\x5a\xc6\x33\x64\x4d\x00"), 5, 3),
    ("short ROUTE-REFRESH", bgp_msg(5, b"\x00\x01\x00"), 1, 2),
    ("header length below 19", b"\xff" * 16 + struct.pack("!HB", 18, 4), 1, 2),
    ("header length above 4096", b"\xff" * 16 + struct.pack("!HB", 4097, 2), 1, 2),
    ("UPDATE shorter than its minimum", bgp_msg(2, b"\x00"), 1, 2),
]


def _open_body(version=4, asn=64513, hold=90, router_id="198.51.100.77"):
    caps = struct.pack("!BBHBB", 1, 4, 1, 0, 128) + struct.pack("!BBI", 65, 4, asn)
    params = struct.pack("!BB", 2, len(caps)) + caps
    return struct.pack("!BHH4sB", version, asn, hold, socket.inet_aton(router_id),
                       len(params)) + params


BAD_OPENS = [
    ("version 3", bgp_msg(1, _open_body(version=3)), 2, 1),
    ("hold time 2", bgp_msg(1, _open_body(hold=2)), 2, 6),
    ("identifier 0.0.0.0", bgp_msg(1, _open_body(router_id="0.0.0.0")), 2, 3),
    ("wrong AS", bgp_msg(1, _open_body(asn=64999)), 2, 2),
    ("OPEN shorter than its minimum", bgp_msg(1, _open_body()[:7]), 1, 2),
    ("UPDATE before OPEN", update_msg(b""), 5, 1),
]


@pytest.mark.parametrize("name,data,code,subcode", BAD_OPENS, ids=[m[0] for m in BAD_OPENS])
def test_malformed_open_gets_notification(raw_control, name, data, code, subcode):
    peer = RawPeer("127.0.0.2", raw_control.bgp_port, 64513)
    try:
        peer.send(data)
        got = peer.wait_notification()
        assert got[0] == code, (name, got)
        if subcode:
            assert got[1] == subcode, (name, got)
        assert raw_control.alive()
    finally:
        peer.close()


@pytest.mark.parametrize("name,data,code,subcode", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_gets_notification(raw_control, raw, name, data, code, subcode):
    raw.send(data)
    assert raw.wait_notification() == (code, subcode), name
    assert raw.recv_msg() is None            # and the connection is closed
    n = poll(lambda: raw_control.neighbor("127.0.0.2")["state"] != "Established" and
             raw_control.neighbor("127.0.0.2"), 10, "session down")
    assert n["last_notification_sent"]["code"] == code
    assert n["last_notification_sent"]["subcode"] == subcode


def test_hold_timer_expires(raw_control):
    peer = RawPeer("127.0.0.2", raw_control.bgp_port, 64513)
    try:
        peer.send(open_msg(64513, "198.51.100.77", hold=3))
        assert peer.recv_msg()[0] == 1
        assert peer.recv_msg()[0] == 4
        peer.send(bgp_msg(4))
        n = raw_control.wait_established("127.0.0.2", timeout=10)
        assert n["hold_time"] == 3                  # the smaller of 90 and 3
        started = time.monotonic()
        # Keepalives arrive every hold/3 = 1 s; we send none, so after 3 s: 4/0.
        kinds = set()
        while True:
            m = peer.recv_msg()
            assert m is not None, "closed without a NOTIFICATION"
            kinds.add(m[0])
            if m[0] == 3:
                assert (m[1][0], m[1][1]) == (4, 0)
                break
        assert 4 in kinds
        assert 2.5 < time.monotonic() - started < 6
    finally:
        peer.close()
    poll(lambda: raw_control.neighbor("127.0.0.2")["state"] != "Established", 10,
         "session down after hold timer")


def test_unknown_peer_refused(raw_control):
    s = socket.socket()
    s.bind(("127.0.0.3", 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", raw_control.bgp_port))
    assert s.recv(100) == b""            # closed without a word
    s.close()
    assert raw_control.alive()
