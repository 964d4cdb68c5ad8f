"""contrail-control's XMPP side against simulated agents (contrail-xmpp-agent), without a
configuration feed: instances come into being when agents subscribe to them.

Route exchange for inet, inet6 and EVPN with every attribute an agent sends, ECMP across
agents, retract, unsubscribe and session loss; End-of-RIB after the first dump; the rules the
original enforces (duplicate subscribe, spurious unsubscribe, publish to an instance not
subscribed: the session is closed); malformed XMPP; routes the control node refuses (label 0,
several next hops); graceful restart of an agent (stale paths until its End-of-RIB, or until
the restart time ends); subcluster mismatch.
"""

import pytest

from conftest import poll
from controlutil import Control
from xmpputil import AgentSim

VRF = "default-domain:p:vn1:vn1"
VRF2 = "default-domain:p:vn2:vn2"


@pytest.fixture
def env(tmp_path):
    started = []

    def make(*extra_args):
        c = Control(tmp_path / f"control{len(started)}", extra_args=list(extra_args)).start()
        started.append(c)
        s = AgentSim(tmp_path / f"sim{len(started)}").start()
        started.append(s)
        return c, s
    yield make
    problems = [p for p in (d.stop() for d in reversed(started)) if p]
    if problems:
        pytest.fail("; ".join(problems) + "\n"
                    + "\n".join(d.diagnostics() for d in started if isinstance(d, Control)))


def up(sim, control, *agents, vrf=VRF):
    for i, a in enumerate(agents):
        sim.connect(a, control.xmpp_address, hold=9)
        sim.wait_up(a)
        sim.subscribe(a, vrf, i + 1)


def routes_of(sim, agent, vrf=VRF):
    return {r["key"]: r for r in sim.routes(agent, vrf)}


def test_routes_between_agents(env):
    control, sim = env()
    up(sim, control, "compute1", "compute2", "compute3")
    sim.publish("compute1", "inet", VRF, "203.0.113.3/32", nh="198.51.100.11", label=25,
                encap="gre,udp", vn="default-domain:p:vn1", sg=[8000001, 8000002],
                community=["no-export"], lp=200, mac="02:00:00:00:01:01")
    r = sim.wait_route("compute2", VRF, "203.0.113.3/32")
    nh = r["nexthops"][0]
    assert nh["address"] == "198.51.100.11" and nh["label"] == 25
    assert sorted(nh["encap"]) == ["gre", "udp"]
    assert sorted(r["sgs"]) == [8000001, 8000002]
    assert r["communities"] == ["no-export"]
    assert r["local_pref"] == 200 and r["med"] == 100      # MED from local preference
    assert nh["mac"] == "02:00:00:00:01:01"
    # The control node's view: the path with its source RD in the VPN table.
    vpn = control.routes("bgp.l3vpn.0")["198.51.100.11:1:203.0.113.3/32"][0]
    assert "encapsulation:gre" in vpn["ext_communities"]
    assert "security-group:64512:8000001" in vpn["ext_communities"]
    assert vpn["communities"] == ["no-export"]

    # inet6 and EVPN.
    sim.publish("compute1", "inet6", VRF, "2001:db8:1::3/128", nh="198.51.100.11", label=26,
                encap="udp")
    sim.publish("compute1", "enet", VRF, "02:00:00:00:00:03", "203.0.113.3/32",
                nh="198.51.100.11", label=27, encap="vxlan")
    r6 = sim.wait_route("compute3", VRF, "2001:db8:1::3/128", family="inet6")
    assert r6["nexthops"][0]["label"] == 26
    ev = sim.wait_route("compute3", VRF, "02:00:00:00:00:03,203.0.113.3/32", family="enet")
    assert ev["nexthops"][0]["label"] == 27 and ev["nexthops"][0]["encap"] == ["vxlan"]

    # ECMP: a second agent with the same prefix; the third sees both next hops.
    sim.publish("compute2", "inet", VRF, "203.0.113.3/32", nh="198.51.100.12", label=35,
                encap="gre,udp", lp=200)
    r = sim.wait_route("compute3", VRF, "203.0.113.3/32",
                       predicate=lambda r: len(r["nexthops"]) == 2)
    assert {(n["address"], n["label"]) for n in r["nexthops"]} == {
        ("198.51.100.11", 25), ("198.51.100.12", 35)}

    # Retract one: one next hop left; unsubscribe the other: gone.
    sim.retract("compute2", "inet", VRF, "203.0.113.3/32")
    sim.wait_route("compute3", VRF, "203.0.113.3/32",
                   predicate=lambda r: len(r["nexthops"]) == 1)
    sim.unsubscribe("compute1", VRF)
    sim.wait_no_route("compute3", VRF, "203.0.113.3/32")
    sim.wait_no_route("compute3", VRF, "2001:db8:1::3/128")
    assert control.routes("bgp.l3vpn.0") == {}


def test_dump_and_end_of_rib(env):
    control, sim = env()
    up(sim, control, "compute1")
    for i in range(40):
        sim.publish("compute1", "inet", VRF, f"203.0.113.{i}/32", nh="198.51.100.11",
                    label=100 + i)
    m = sim.mark()
    sim.connect("late", control.xmpp_address, hold=9)
    sim.wait_up("late", since=m)
    sim.subscribe("late", VRF, 9)
    sim.wait(lambda e: e.get("event") == "eor" and e.get("agent") == "late", timeout=10,
             what="End-of-RIB after the dump", since=m)
    assert len(routes_of(sim, "late")) == 40
    conn = control.connections()["late"]
    assert conn["eor_sent"] and conn["subscriptions"][0]["instance"] == VRF


@pytest.mark.parametrize("violation", ["duplicate-subscribe", "spurious-unsubscribe",
                                       "publish-unsubscribed", "malformed", "bad-collection"])
def test_protocol_violations_close_the_session(env, violation):
    control, sim = env()
    up(sim, control, "good", "bad")
    sim.publish("good", "inet", VRF, "203.0.113.1/32", nh="198.51.100.11", label=20)
    sim.publish("bad", "inet", VRF, "203.0.113.2/32", nh="198.51.100.12", label=21)
    sim.wait_route("good", VRF, "203.0.113.2/32")
    m = sim.mark()
    if violation == "duplicate-subscribe":
        sim.subscribe("bad", VRF, 5)
    elif violation == "spurious-unsubscribe":
        sim.unsubscribe("bad", VRF2)
    elif violation == "publish-unsubscribed":
        sim.publish("bad", "inet", VRF2, "203.0.113.9/32", nh="198.51.100.12", label=22)
    elif violation == "malformed":
        sim.send_raw("bad", "<iq type='set'><pubsub><unclosed></iq>")
    else:
        sim.send_raw("bad", "<iq type='set' from='bad' to='network-control@contrailsystems.com"
                     "/bgp-peer'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                     "<collection node='x'><associate node='1/1/x/203.0.113.7/32'/>"
                     "</collection></pubsub></iq>")
    sim.wait_down("bad", since=m)
    # The bad agent's routes are gone; the good agent and the daemon carry on.
    sim.wait_no_route("good", VRF, "203.0.113.2/32")
    assert control.alive()
    assert "203.0.113.1/32" in control.routes(VRF + ".inet.0")
    assert control.connections()["good"]["state"] == "Established"
    if violation != "malformed" and violation != "bad-collection":
        assert control.get("/Snh_ShowXmppConnectionReq")["closed_for_violations"] >= 1


def test_refused_routes_are_ignored(env):
    control, sim = env()
    up(sim, control, "compute1", "compute2")
    sim.publish("compute1", "inet", VRF, "203.0.113.5/32", nh="198.51.100.11", label=0)
    sim.publish("compute1", "inet", VRF, "203.0.113.6/32", nh="198.51.100.11", label=16)
    sim.wait_route("compute2", VRF, "203.0.113.6/32")
    assert "203.0.113.5/32" not in routes_of(sim, "compute2")
    assert control.connections()["compute1"]["ignored_routes"] == 1
    assert control.connections()["compute1"]["state"] == "Established"


def test_agent_graceful_restart(env, tmp_path):
    """The agent's session drops: its paths stay, stale; it comes back, announces one of its
    two routes again and sends End-of-RIB: the other goes.  An agent that does not come back
    loses its paths when the restart time ends."""
    control, sim = env("--gr_xmpp_restart_time", "3")
    up(sim, control, "observer")
    agent = AgentSim(tmp_path / "agent").start()
    try:
        agent.connect("compute1", control.xmpp_address, hold=9)
        agent.wait_up("compute1")
        agent.subscribe("compute1", VRF, 4)
        for i in (1, 2):
            agent.publish("compute1", "inet", VRF, f"203.0.113.{i}/32", nh="198.51.100.11",
                          label=30 + i)
        sim.wait_route("observer", VRF, "203.0.113.2/32")
        agent.kill()
    finally:
        agent.stop()
    poll(lambda: control.connections()["compute1"]["state"] == "Restarting", 10,
         "compute1 restarting")
    paths = control.routes(VRF + ".inet.0")["203.0.113.1/32"]
    assert paths[0].get("stale") is True, paths
    assert set(routes_of(sim, "observer")) >= {"203.0.113.1/32", "203.0.113.2/32"}

    back = AgentSim(tmp_path / "back").start()
    try:
        back.connect("compute1", control.xmpp_address, hold=9)
        back.wait_up("compute1")
        back.subscribe("compute1", VRF, 4)
        back.publish("compute1", "inet", VRF, "203.0.113.1/32", nh="198.51.100.11", label=41)
        back.eor("compute1")
        sim.wait_no_route("observer", VRF, "203.0.113.2/32")
        r = sim.wait_route("observer", VRF, "203.0.113.1/32",
                           predicate=lambda r: r["nexthops"][0]["label"] == 41)
        assert not control.routes(VRF + ".inet.0")["203.0.113.1/32"][0].get("stale")
        # Gone for good this time: after the restart time, nothing is left.
        back.kill()
    finally:
        back.stop()
    sim.wait_no_route("observer", VRF, "203.0.113.1/32", timeout=10)
    poll(lambda: "compute1" not in control.connections(), 10, "compute1 forgotten")


def test_subcluster_mismatch_refused(env):
    control, sim = env("--subcluster_name", "rack1")
    m = sim.mark()
    sim.connect("other", control.xmpp_address, hold=9, subcluster="rack2")
    sim.wait(lambda e: e.get("agent") == "other" and e.get("event") in ("connect-failed",
                                                                       "down"),
             timeout=10, what="refusal", since=m)
    sim.connect("same", control.xmpp_address, hold=9, subcluster="rack1")
    sim.wait_up("same")
    assert "other" not in control.connections()


def test_multicast_tree(env):
    """Agents publishing the broadcast (G,S) of an instance with their label blocks get a
    degree-4 tree: each its own label from its block and an olist of its neighbours with
    theirs; when one leaves, it gets a retract and the tree is rebuilt."""
    control, sim = env()
    agents = [f"compute{i}" for i in range(1, 7)]
    up(sim, control, *agents)
    key = "255.255.255.255,0.0.0.0"
    blocks = {}
    for i, a in enumerate(agents):
        first = 1024 + 2048 * i
        blocks[a] = (first, first + 2047)
        sim.publish(a, "mcast", VRF, "255.255.255.255", "0.0.0.0",
                    nh=f"198.51.100.{11 + i}", label=f"{first}-{first + 2047}", encap="udp")

    def trees():
        out = {}
        for a in agents:
            rs = [r for r in sim.routes(a, VRF) if r["family"] == "mcast" and r["key"] == key]
            if not rs:
                return None
            out[a] = rs[0]
        return out

    def check(t, members):
        addr = {f"198.51.100.{11 + agents.index(a)}": a for a in members}
        label = {a: t[a]["source_label"] for a in members}
        for a in members:
            lo, hi = blocks[a]
            assert lo <= label[a] <= hi, (a, t[a])
            ol = t[a].get("olist", [])
            assert 1 <= len(ol) <= 5, t[a]
            for n in ol:
                b = addr[n["address"]]
                assert n["label"] == label[b]              # the neighbour's label
                back = [m["address"] for m in t[b].get("olist", [])]
                assert f"198.51.100.{11 + agents.index(a)}" in back   # symmetric
        return True

    def settled(members, get):
        t = get()
        if not t:
            return None
        try:
            return check(t, members)
        except (AssertionError, KeyError):
            return None     # between two updates; the poll tries again

    poll(lambda: settled(agents, trees), 10, "a consistent tree")
    check(trees(), agents)
    tree = control.get("/Snh_ShowMulticastManagerReq", instance=VRF)
    assert "198.51.100.11" in str(tree)

    # compute1 leaves: it is retracted, the others form a tree without it.
    sim.retract("compute1", "mcast", VRF, "255.255.255.255", "0.0.0.0")
    sim.wait_no_route("compute1", VRF, key)
    rest = agents[1:]

    def rebuilt():
        t = {}
        for a in rest:
            rs = [r for r in sim.routes(a, VRF) if r["family"] == "mcast"]
            if not rs or any(n["address"] == "198.51.100.11" for n in rs[0].get("olist", [])):
                return None
            t[a] = rs[0]
        return t
    poll(lambda: settled(rest, rebuilt), 10, "the tree without compute1")
    check(rebuilt(), rest)


def test_orderly_close_and_instance_lifetime(env):
    """An agent that ends its stream is not restarting: its routes go at once.  An instance
    that only subscriptions made goes with the last one."""
    control, sim = env()
    up(sim, control, "compute1", "compute2")
    sim.publish("compute1", "inet", VRF, "203.0.113.90/32", nh="198.51.100.11", label=90)
    sim.wait_route("compute2", VRF, "203.0.113.90/32")
    sim.close("compute1")
    sim.wait_no_route("compute2", VRF, "203.0.113.90/32")
    assert "compute1" not in control.connections()
    assert VRF in control.instances()
    sim.unsubscribe("compute2", VRF)
    poll(lambda: VRF not in control.instances(), 10, "the instance gone")
