"""contrail-control as a whole, configured from IF-MAP: a config node (contrail-api publishing
to ifmap-server), contrail-schema deriving routing instances, route targets and connections,
control nodes reading bgp-routers and instances from IF-MAP, simulated agents on XMPP
(contrail-xmpp-agent), and real gateways (GoBGP, FRR bgpd) on BGP.

Each daemon has its own loopback address (127.0.1.x) so that BGP tells its peers apart.
Overlay prefixes are in 203.0.113.0/24 and 2001:db8::/32, agent addresses (next hops) in
198.51.100.0/24.
"""

import itertools
import re

import pytest

from conftest import poll, unique
from controlutil import Control, GoBGP, have_gobgp
from frrutil import FRR, have_frr
from schemautil import node, st, api, primary_ri  # noqa: F401 (fixtures)
from xmpputil import AgentSim

pytestmark = [pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
              pytest.mark.skipif(not have_gobgp(), reason="gobgpd is not installed")]

MASTER = ["default-domain", "default-project", "ip-fabric", "__default__"]
CONVERGE = 30
_addr = itertools.count(11)


def next_ip():
    return f"127.0.1.{next(_addr)}"




class Cluster:
    """What one test starts: control nodes, gateways, agent simulators; all stopped at the
    end, and each control node checked to have stayed alive."""

    def __init__(self, tmp_path, node, api):
        self.tmp = tmp_path
        self.node = node
        self.api = api
        self.started = []
        self.controls = []
        self.routers = {}           # bgp-router name -> uuid

    def _start(self, daemon):
        self.started.append(daemon)
        return daemon.start()

    def bgp_router(self, name, params, peers=()):
        body = {"parent_type": "routing-instance", "fq_name": MASTER + [name],
                "bgp_router_parameters": params}
        if peers:
            body["bgp_router_refs"] = [
                {"to": MASTER + [p], "attr": {"session": [{"uuid": unique("s"),
                                                            "attributes": [{}]}]}}
                for p in peers]
        self.routers[name] = self.api.create("bgp-router", body)["uuid"]
        return self.routers[name]

    def control(self, peers=(), extra_args=()):
        """A control node with a bgp-router of its own, peering with PEERS (names)."""
        name = unique("cn")
        ip = next_ip()
        c = Control(self.tmp / name, hostip=ip, hostname=name, router_id=ip,
                    ifmap=self.node.ifmap, extra_args=list(extra_args))
        c.name = name
        self.bgp_router(name, {"router_type": "control-node", "vendor": "contrail",
                               "autonomous_system": 64512, "identifier": ip, "address": ip,
                               "port": c.bgp_port, "hold_time": 30,
                               "address_families": {"family": [
                                   "route-target", "inet-vpn", "e-vpn", "inet6-vpn"]}},
                        peers)
        self._start(c)
        self.controls.append(c)
        return c

    def gateway_router(self, name, ip, port, peers):
        self.bgp_router(name, {"router_type": "router", "vendor": "test",
                               "autonomous_system": 64512, "identifier": ip, "address": ip,
                               "port": port, "hold_time": 30,
                               "address_families": {"family": [
                                   "route-target", "inet-vpn", "e-vpn", "inet6-vpn"]}},
                        peers)

    def gobgp(self, control, families=("l3vpn-ipv4-unicast", "l3vpn-ipv6-unicast",
                                       "l2vpn-evpn", "rtc")):
        ip = next_ip()
        g = GoBGP(self.tmp / unique("gobgp"), peer_port=control.bgp_port, address=ip,
                  neighbor=control.hostip, router_id=ip, families=families)
        self.gateway_router(unique("gw"), ip, g.port, [control.name])
        return self._start(g)

    def sim(self):
        return self._start(AgentSim(self.tmp / unique("sim")))

    def stop(self):
        problems = [p for p in (d.stop() for d in reversed(self.started)) if p]
        for name, uid in self.routers.items():
            try:
                self.api.delete(f"/bgp-router/{uid}")
            except Exception:
                pass
        return problems


@pytest.fixture
def cluster(tmp_path, node, api):
    c = Cluster(tmp_path, node, api)
    yield c
    problems = c.stop()
    if problems:
        pytest.fail("; ".join(problems) + "\n" + "\n".join(x.diagnostics() for x in c.controls))




def network(api, project, name=None, targets=()):
    """A virtual network (with user route targets TARGETS); returns (vn, its primary instance
    name) once the schema transformer has made the instance and its target."""
    props = {}
    if targets:
        props["route_target_list"] = {"route_target": list(targets)}
    vn = project.vn(unique(name or "vn"), **props)

    def ready():
        ri = primary_ri(api, vn["uuid"])
        if not ri or not ri.get("route_target_refs"):
            return None
        names = {r["to"][0] for r in ri["route_target_refs"]}
        return ri if all(t in names for t in targets) else None
    ri = poll(ready, CONVERGE, "the network's routing instance and route targets")
    return vn, ":".join(ri["fq_name"])


def wait_instance(control, name, pred=lambda i: i["import_targets"]):
    return poll(lambda: (lambda i: i if i and pred(i) else None)(control.instances().get(name)),
                CONVERGE, f"instance {name} at {control.name}")


def wait_peer_up(control, ip):
    return poll(lambda: control.neighbors().get(ip, {}).get("state") == "Established",
                CONVERGE, f"{control.name}: session with {ip}")


# ---------------------------------------------------------------------------------------------


def test_instances_and_targets_from_config(api, cluster):
    t = api.project()
    vn, ri = network(api, t, "red", targets=["target:64512:101"])
    cn = cluster.control()
    inst = wait_instance(cn, ri)
    assert "target:64512:101" in inst["import_targets"]
    assert "target:64512:101" in inst["export_targets"]
    assert inst["virtual_network"] == ":".join(vn["fq_name"])
    assert inst["vn_index"] == vn["virtual_network_network_id"]
    # A change of the targets reaches the node; so does the deletion.
    api.update("virtual-network", vn["uuid"],
               {"route_target_list": {"route_target": ["target:64512:102"]}})
    wait_instance(cn, ri, lambda i: "target:64512:102" in i["import_targets"]
                  and "target:64512:101" not in i["import_targets"])
    api.delete(f"/virtual-network/{vn['uuid']}")
    poll(lambda: ri not in cn.instances(), CONVERGE, "instance gone with its network")


def test_two_control_nodes_agents_and_restart(api, cluster):
    """Agents on two control nodes in an iBGP mesh from config see each other's routes; each
    agent talks to both nodes, so killing one loses nothing, and its return converges."""
    t = api.project()
    vn, ri = network(api, t, "red")
    cn1 = cluster.control()
    cn2 = cluster.control(peers=[cn1.name])
    wait_peer_up(cn1, cn2.hostip)
    wait_peer_up(cn2, cn1.hostip)
    nb = cn1.neighbor(cn2.hostip)
    assert set(nb["negotiated_families"]) >= {"inet-vpn", "route-target", "e-vpn"}
    wait_instance(cn1, ri)
    wait_instance(cn2, ri)

    # Two agent slots: sim1 talks to cn1, sim2 to cn2, for the same two agents.
    sims = [cluster.sim(), cluster.sim()]
    nhs = {"compute1": "198.51.100.11", "compute2": "198.51.100.12"}
    pfx = {"compute1": "203.0.113.3/32", "compute2": "203.0.113.4/32"}
    for sim, cn in zip(sims, (cn1, cn2)):
        for i, a in enumerate(("compute1", "compute2")):
            sim.connect(a, cn.xmpp_address, hold=9, retry_ms=200)
            sim.wait_up(a)
            sim.subscribe(a, ri, i + 1)
            sim.publish(a, "inet", ri, pfx[a], nh=nhs[a], label=20 + i, encap="gre,udp",
                        vn=":".join(vn["fq_name"]))

    # Only cn1 gets compute1 and only cn2 compute2 for a test of the mesh: a third agent on
    # cn2 sees compute1's route, learnt over iBGP.
    obs = cluster.sim()
    obs.connect("observer", cn2.xmpp_address, hold=9)
    obs.wait_up("observer")
    obs.subscribe("observer", ri, 7)
    for a in ("compute1", "compute2"):
        r = obs.wait_route("observer", ri, pfx[a], timeout=CONVERGE)
        addrs = {n["address"] for n in r["nexthops"]}
        assert addrs == {nhs[a]}, r
        assert r["vn"] == ":".join(vn["fq_name"]), r
    # At cn1, compute2's route has two paths: from the agent (XMPP) and from cn2 (BGP); the
    # agent's wins.
    paths = poll(lambda: (lambda p: p if p and len(p) == 2 else None)(
        cn1.routes(ri + ".inet.0").get(pfx["compute2"])), CONVERGE, "two paths at cn1")
    best = [p for p in paths if p["best"]][0]
    assert best["source"] == "compute2"
    assert {p["source"] for p in paths} == {"compute2", cn2.name}
    vpn = cn1.routes("bgp.l3vpn.0")
    assert f"198.51.100.11:1:{pfx['compute1']}" in vpn

    # cn1 dies: the agents keep their routes through cn2.
    cn1.kill()
    sims[0].wait_down("compute1", timeout=CONVERGE)
    r = sims[1].wait_route("compute2", ri, pfx["compute1"])
    assert {n["address"] for n in r["nexthops"]} == {nhs["compute1"]}
    assert pfx["compute1"] in {k for k in cn2.routes(ri + ".inet.0")}

    # cn1 comes back: the agents reconnect and resend, cn1 has everything again.
    cn1.start()
    sims[0].wait_up("compute1", timeout=CONVERGE)
    wait_peer_up(cn1, cn2.hostip)
    poll(lambda: {pfx["compute1"], pfx["compute2"]} <= set(cn1.routes(ri + ".inet.0")),
         CONVERGE, "cn1 converged")
    poll(lambda: len(cn1.routes(ri + ".inet.0")[pfx["compute2"]]) == 2, CONVERGE,
         "cn1 has compute2's route from the agent and from cn2 again")
    sims[0].wait_route("compute1", ri, pfx["compute2"], timeout=CONVERGE)


def test_gateway_gobgp(api, cluster):
    """GoBGP as a gateway: agents' inet, inet6 and EVPN routes reach it as VPN routes with
    the right RD, label, targets and encapsulation; its routes reach exactly the agents of
    an instance that imports them; route-target constraint limits what it sends."""
    t = api.project()
    red, red_ri = network(api, t, "red", targets=["target:64512:201"])
    blue, blue_ri = network(api, t, "blue", targets=["target:64512:202"])
    cn = cluster.control()
    gw = cluster.gobgp(cn)
    poll(gw.established, CONVERGE, "GoBGP established")
    wait_instance(cn, red_ri)
    wait_instance(cn, blue_ri)

    # GoBGP has a VRF importing red's target: it asks for that target (RFC 4684).
    gw.cli("vrf", "add", "gwred", "rd", "64512:1", "rt", "both", "64512:201")
    sim = cluster.sim()
    for a, ri, iid in (("compute1", red_ri, 3), ("compute2", blue_ri, 4)):
        sim.connect(a, cn.xmpp_address, hold=9)
        sim.wait_up(a)
        sim.subscribe(a, ri, iid)
    sim.publish("compute1", "inet", red_ri, "203.0.113.3/32", nh="198.51.100.11", label=25,
                encap="gre,udp", vn=":".join(red["fq_name"]))
    sim.publish("compute1", "inet6", red_ri, "2001:db8:1::3/128", nh="198.51.100.11",
                label=26, encap="udp")
    sim.publish("compute1", "enet", red_ri, "02:00:00:00:00:03", "203.0.113.3/32",
                nh="198.51.100.11", label=27, encap="vxlan")
    sim.publish("compute2", "inet", blue_ri, "203.0.113.4/32", nh="198.51.100.12", label=28,
                encap="udp")

    def vpn_route(family, key):
        return gw.rib(family).get(key)
    r = poll(lambda: vpn_route("vpnv4", "198.51.100.11:3:203.0.113.3/32"), CONVERGE,
             "the agent's route at GoBGP")[0]
    assert r["nlri"]["labels"] == [25]
    attrs = {a["type"]: a for a in r["attrs"]}
    assert attrs[14]["nexthop"] == "198.51.100.11"
    ext = attrs[16]["value"]
    rts = sorted(e["value"] for e in ext if e.get("subtype") == 2 and e.get("type") == 0)
    assert "64512:201" in rts
    encaps = sorted(e.get("tunnel_type") for e in ext if e.get("type") == 3
                    and e.get("subtype") == 12)
    assert encaps == [2, 13], ext
    assert any(e.get("type") == 128 and e.get("subtype") == 113 for e in ext), ext  # origin VN
    r6 = poll(lambda: vpn_route("vpnv6", "198.51.100.11:3:2001:db8:1::3/128"), CONVERGE,
              "the agent's IPv6 route at GoBGP")[0]
    assert r6["nlri"]["labels"] == [26]
    ev = poll(lambda: [k for k in gw.rib("evpn") if "02:00:00:00:00:03" in k], CONVERGE,
              "the agent's EVPN route at GoBGP")
    assert "198.51.100.11:3" in ev[0]
    # Blue's route is held back: GoBGP does not ask for blue's target ...
    assert not vpn_route("vpnv4", "198.51.100.12:4:203.0.113.4/32")
    # ... until it has a VRF importing it.
    gw.cli("vrf", "add", "gwblue", "rd", "64512:2", "rt", "both", "64512:202")
    poll(lambda: vpn_route("vpnv4", "198.51.100.12:4:203.0.113.4/32"), CONVERGE,
         "blue's route at GoBGP once it asks for blue's target")

    # Route-target constraint: the node asks for the targets its agents' instances import.
    rtc = poll(lambda: gw.rib("rtc") or None, CONVERGE, "route targets at GoBGP")
    text = str(rtc)
    assert "64512:201" in text and "64512:202" in text, text

    # GoBGP's routes: red imports 201 (compute1), blue 202 (compute2); 999 nobody.
    for rd, target, pfx in (("64512:1", "64512:201", "203.0.113.64/26"),
                            ("64512:2", "64512:202", "203.0.113.128/26"),
                            ("64512:3", "64512:999", "203.0.113.192/26")):
        gw.cli("global", "rib", "-a", "vpnv4", "add", pfx, "label", "3000", "rd", rd, "rt",
               target, "nexthop", "198.51.100.9")
    r = sim.wait_route("compute1", red_ri, "203.0.113.64/26", timeout=CONVERGE)
    assert r["nexthops"][0]["address"] == "198.51.100.9"
    assert r["nexthops"][0]["label"] == 3000
    sim.wait_route("compute2", blue_ri, "203.0.113.128/26", timeout=CONVERGE)
    sim.sync()
    assert not sim.find(lambda e: e.get("event") == "route" and e.get("agent") == "compute1"
                        and e.get("key") == "203.0.113.128/26")
    assert not sim.find(lambda e: e.get("event") == "route" and e.get("agent") == "compute2"
                        and e.get("key") == "203.0.113.64/26")
    # Filtered at GoBGP: the route nobody imports never reaches the node.
    vpn = cn.routes("bgp.l3vpn.0")
    assert "64512:1:203.0.113.64/26" in vpn
    assert "64512:3:203.0.113.192/26" not in vpn

    # Withdrawals both ways.
    gw.cli("global", "rib", "-a", "vpnv4", "del", "203.0.113.64/26", "label", "3000", "rd",
           "64512:1", "rt", "64512:201", "nexthop", "198.51.100.9")
    sim.wait_no_route("compute1", red_ri, "203.0.113.64/26", timeout=CONVERGE)
    sim.retract("compute1", "inet", red_ri, "203.0.113.3/32")
    poll(lambda: not vpn_route("vpnv4", "198.51.100.11:3:203.0.113.3/32"), CONVERGE,
         "withdrawn at GoBGP")


@pytest.mark.skipif(not have_frr(), reason="frr is not installed")
def test_gateway_frr(api, cluster):
    """FRR bgpd as a second kind of gateway: inet-vpn and EVPN routes of agents."""
    t = api.project()
    vn, ri = network(api, t, "red", targets=["target:64512:301"])
    cn = cluster.control()
    ip = next_ip()
    frr = FRR(cluster.tmp / "frr", peer_port=cn.bgp_port, address=ip, neighbor=cn.hostip,
              router_id=ip)
    cluster.gateway_router(unique("frr"), ip, frr.port, [cn.name])
    cluster._start(frr)
    frr.wait_established()
    wait_instance(cn, ri)
    sim = cluster.sim()
    sim.connect("compute1", cn.xmpp_address, hold=9)
    sim.wait_up("compute1")
    sim.subscribe("compute1", ri, 5)
    sim.publish("compute1", "inet", ri, "203.0.113.5/32", nh="198.51.100.11", label=31,
                encap="udp")
    sim.publish("compute1", "enet", ri, "02:00:00:00:00:05", "203.0.113.5/32",
                nh="198.51.100.11", label=32, encap="vxlan")
    poll(lambda: ("198.51.100.11:5", "203.0.113.5/32") in frr.rib("ipv4 vpn"), CONVERGE,
         "the agent's route at FRR")
    paths = frr.route("ipv4 vpn", "198.51.100.11:5", "203.0.113.5/32")
    assert paths, paths
    poll(lambda: any("02:00:00:00:00:05" in str(k) for k in frr.rib("l2vpn evpn")), CONVERGE,
         "the agent's EVPN route at FRR")
    sim.retract("compute1", "inet", ri, "203.0.113.5/32")
    poll(lambda: ("198.51.100.11:5", "203.0.113.5/32") not in frr.rib("ipv4 vpn"), CONVERGE,
         "withdrawn at FRR")


def test_policy_connection_leaks_routes(api, cluster):
    """Two networks connected by a policy (the schema transformer's instance connection) see
    each other's routes; when the policy goes, the routes are withdrawn."""
    t = api.project()
    red, red_ri = network(api, t, "red")
    blue, blue_ri = network(api, t, "blue")
    cn = cluster.control()
    wait_instance(cn, red_ri)
    wait_instance(cn, blue_ri)
    sim = cluster.sim()
    for a, ri, iid in (("compute1", red_ri, 1), ("compute2", blue_ri, 2)):
        sim.connect(a, cn.xmpp_address, hold=9)
        sim.wait_up(a)
        sim.subscribe(a, ri, iid)
    sim.publish("compute1", "inet", red_ri, "203.0.113.10/32", nh="198.51.100.11", label=40)
    sim.publish("compute2", "inet", blue_ri, "203.0.113.20/32", nh="198.51.100.12", label=41)
    sim.wait_route("compute1", red_ri, "203.0.113.10/32", timeout=CONVERGE)
    sim.sync()
    assert not sim.find(lambda e: e.get("event") == "route" and e.get("agent") == "compute2"
                        and e.get("key") == "203.0.113.10/32")

    r, b = ":".join(red["fq_name"]), ":".join(blue["fq_name"])
    rule = {"direction": "<>", "protocol": "any", "rule_uuid": unique("rule"),
            "src_addresses": [{"virtual_network": r}],
            "src_ports": [{"start_port": -1, "end_port": -1}],
            "dst_addresses": [{"virtual_network": b}],
            "dst_ports": [{"start_port": -1, "end_port": -1}],
            "action_list": {"simple_action": "pass"}}
    pol = t.policy(network_policy_entries={"policy_rule": [rule]})
    for v in (red, blue):
        api.update("virtual-network", v["uuid"], {"network_policy_refs": [
            {"to": pol["fq_name"], "attr": {"sequence": {"major": 0, "minor": 0}}}]})
    got = sim.wait_route("compute2", blue_ri, "203.0.113.10/32", timeout=CONVERGE)
    assert got["nexthops"][0]["address"] == "198.51.100.11"
    assert got["nexthops"][0]["vn"] == r, got
    sim.wait_route("compute1", red_ri, "203.0.113.20/32", timeout=CONVERGE)

    # Disconnect: the leaked routes are withdrawn, each network keeps its own.
    api.update("virtual-network", blue["uuid"], {"network_policy_refs": []})
    sim.wait_no_route("compute2", blue_ri, "203.0.113.10/32", timeout=CONVERGE)
    sim.wait_no_route("compute1", red_ri, "203.0.113.20/32", timeout=CONVERGE)
    assert "203.0.113.10/32" in cn.routes(red_ri + ".inet.0")


def test_agent_configuration(api, cluster):
    """An agent subscribed to its virtual-router gets it, and what hangs from it, as <config>
    messages; changes follow."""
    cn = cluster.control()
    vr_name = unique("compute")
    vr = api.create("virtual-router", {"fq_name": ["default-global-system-config", vr_name],
                                       "parent_type": "global-system-config",
                                       "virtual_router_ip_address": "198.51.100.31"})
    poll(lambda: cn.get("/ifmap").get("synced") or None, CONVERGE, "config read")
    sim = cluster.sim()
    sim.connect(vr_name, cn.xmpp_address, hold=9)
    sim.wait_up(vr_name)
    mark = sim.mark()
    sim.config_subscribe(vr_name, f"virtual-router:default-global-system-config:{vr_name}")
    ev = sim.wait(lambda e: e.get("event") == "config" and vr_name in e.get("xml", ""),
                  timeout=CONVERGE, what="the virtual-router's config", since=mark)
    assert "198.51.100.31" in ev["xml"], ev
    assert re.search(r"<node type=.virtual-router.", ev["xml"]), ev
    mark = sim.mark()
    api.update("virtual-router", vr["uuid"], {"virtual_router_ip_address": "198.51.100.32"})
    sim.wait(lambda e: e.get("event") == "config" and "198.51.100.32" in e.get("xml", ""),
             timeout=CONVERGE, what="the change", since=mark)
    api.delete(f"/virtual-router/{vr['uuid']}")


def test_ibgp_auto_mesh(api, cluster):
    """Control nodes of one AS peer with each other without any peering in the config while
    ibgp-auto-mesh is on (the default); turning it off ends those sessions."""
    cn1 = cluster.control()
    cn2 = cluster.control()
    wait_peer_up(cn1, cn2.hostip)
    wait_peer_up(cn2, cn1.hostip)
    gsc = api.list("global-system-config")["global-system-configs"][0]
    api.update("global-system-config", gsc["uuid"], {"ibgp_auto_mesh": False})
    try:
        poll(lambda: cn2.hostip not in cn1.neighbors(), CONVERGE, "mesh peer removed")
    finally:
        api.update("global-system-config", gsc["uuid"], {"ibgp_auto_mesh": True})
    wait_peer_up(cn1, cn2.hostip)


def test_gateway_over_ebgp(api, cluster):
    """A gateway in another AS: the agent's route reaches it with our AS prepended and
    without LOCAL_PREF; its route comes back into the instance."""
    t = api.project()
    vn, ri = network(api, t, "red", targets=["target:64512:401"])
    cn = cluster.control()
    ip = next_ip()
    gw = GoBGP(cluster.tmp / "ebgp", peer_port=cn.bgp_port, asn=64600, peer_as=64512,
               address=ip, neighbor=cn.hostip, router_id=ip,
               families=("l3vpn-ipv4-unicast",))
    cluster.bgp_router(unique("ext"), {"router_type": "router", "vendor": "test",
                                       "autonomous_system": 64600, "identifier": ip,
                                       "address": ip, "port": gw.port, "hold_time": 30,
                                       "address_families": {"family": ["inet-vpn"]}},
                       [cn.name])
    cluster._start(gw)
    poll(gw.established, CONVERGE, "eBGP session")
    wait_instance(cn, ri)
    sim = cluster.sim()
    sim.connect("compute1", cn.xmpp_address, hold=9)
    sim.wait_up("compute1")
    sim.subscribe("compute1", ri, 6)
    sim.publish("compute1", "inet", ri, "203.0.113.6/32", nh="198.51.100.11", label=60,
                encap="udp")
    r = poll(lambda: gw.rib("vpnv4").get("198.51.100.11:6:203.0.113.6/32"), CONVERGE,
             "the agent's route over eBGP")[0]
    attrs = {a["type"]: a for a in r["attrs"]}
    assert attrs[2]["as_paths"][0]["asns"] == [64512], attrs[2]
    assert 5 not in attrs                       # no LOCAL_PREF towards another AS
    gw.cli("global", "rib", "-a", "vpnv4", "add", "203.0.113.96/27", "label", "600", "rd",
           "64600:1", "rt", "64512:401", "nexthop", "198.51.100.60")
    got = sim.wait_route("compute1", ri, "203.0.113.96/27", timeout=CONVERGE)
    assert got["nexthops"][0]["address"] == "198.51.100.60"
    paths = cn.routes("bgp.l3vpn.0")["64600:1:203.0.113.96/27"]
    assert paths[0]["as_path"] == [64600]


def test_survives_ifmap_server_loss(node, api, cluster):
    """The IF-MAP server dies: the control node keeps its instances, sessions and routes;
    when it is back, what changed meanwhile reaches the node and nothing else flaps."""
    t = api.project()
    keep_vn, keep = network(api, t, "keep")
    cn1 = cluster.control()
    cn2 = cluster.control()
    wait_peer_up(cn1, cn2.hostip)
    wait_instance(cn1, keep)
    sim = cluster.sim()
    sim.connect("compute1", cn1.xmpp_address, hold=9)
    sim.wait_up("compute1")
    sim.subscribe("compute1", keep, 1)
    sim.publish("compute1", "inet", keep, "203.0.113.70/32", nh="198.51.100.11", label=70)
    # An agent on the other node wants the instance too (route-target filtering: a node
    # gets only the VPN routes its agents' instances import).
    sim.connect("compute2", cn2.xmpp_address, hold=9)
    sim.wait_up("compute2")
    sim.subscribe("compute2", keep, 2)
    sim.wait_route("compute2", keep, "203.0.113.70/32", timeout=CONVERGE)
    flaps = cn1.neighbor(cn2.hostip)["flap_count"]

    node.ifmap.kill()
    added_vn = t.vn(unique("added"))
    assert cn1.alive() and cn1.neighbor(cn2.hostip)["state"] == "Established"
    assert "203.0.113.70/32" in cn2.routes(keep + ".inet.0")
    node.ifmap.start(same_ports=True)

    added = ":".join(added_vn["fq_name"] + [added_vn["fq_name"][-1]])
    wait_instance(cn1, added)
    assert cn1.neighbor(cn2.hostip)["flap_count"] == flaps
    assert cn1.connections()["compute1"]["state"] == "Established"
    assert "203.0.113.70/32" in cn2.routes(keep + ".inet.0")
    sim.wait_route("compute2", keep, "203.0.113.70/32")


def test_instance_deleted_under_a_subscribed_agent(api, cluster):
    """The configuration deletes an instance agents still subscribe to: it loses its
    configuration but stays (the agents' routes with it) until the last agent unsubscribes."""
    t = api.project()
    vn, ri = network(api, t, "doomed")
    cn = cluster.control()
    wait_instance(cn, ri)
    sim = cluster.sim()
    for i, a in enumerate(("compute1", "compute2")):
        sim.connect(a, cn.xmpp_address, hold=9)
        sim.wait_up(a)
        sim.subscribe(a, ri, i + 1)
    sim.publish("compute1", "inet", ri, "203.0.113.80/32", nh="198.51.100.11", label=80)
    sim.wait_route("compute2", ri, "203.0.113.80/32")
    api.delete(f"/virtual-network/{vn['uuid']}")
    poll(lambda: ri in cn.instances() and not cn.instances()[ri]["import_targets"] or None,
         CONVERGE, "the instance without its configuration")
    sim.publish("compute1", "inet", ri, "203.0.113.81/32", nh="198.51.100.11", label=81)
    sim.wait_route("compute2", ri, "203.0.113.81/32", timeout=CONVERGE)
    for a in ("compute1", "compute2"):
        sim.unsubscribe(a, ri)
    poll(lambda: ri not in cn.instances(), CONVERGE, "the instance gone with its agents")
    assert all(c["state"] == "Established" for c in cn.connections().values())
