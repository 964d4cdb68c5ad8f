"""System tests of the XMPP agent simulator (control/utils/contrail-xmpp-agent) and of the
control/xmpp library under it, against the small route reflector of tests/unit (the control
node's XMPP side is not wired yet).  Agents, server and simulator are separate processes on
loopback; every wait polls with a deadline."""

import pytest

from xmpputil import AgentSim, XmppTestServer, run_load

VRF = "default-domain:p:vn1:vn1"
VRF2 = "default-domain:p:vn2:vn2"


@pytest.fixture
def server(tmp_path):
    srv = XmppTestServer(tmp_path / "server").start()
    yield srv
    problem = srv.stop()
    if problem:
        pytest.fail(problem)


@pytest.fixture
def sim(tmp_path):
    s = AgentSim(tmp_path / "sim").start()
    yield s
    problem = s.stop()
    if problem:
        pytest.fail(problem + "\n" + s.diagnostics())


def two_agents(sim, server):
    for a in ("c1", "c2"):
        sim.connect(a, server.address, hold=3)
    sim.wait_up("c1")
    sim.wait_up("c2")
    sim.subscribe("c1", VRF, 1)
    sim.subscribe("c2", VRF, 2)


def test_routes_of_every_family_reach_the_other_agent(sim, server):
    two_agents(sim, server)
    sim.publish("c1", "inet", VRF, "10.1.1.3/32", nh="198.51.100.1", label=25,
                encap="gre,udp", vn="default-domain:p:vn1", sg=[8000002, 8000003],
                tag=[7], community=["no-export"], lp=200, med=100, seq=3, sticky=True,
                mac="00:11:22:33:44:55", sub_protocol="interface")
    sim.publish("c1", "inet6", VRF, "2001:db8::3/128", nh="198.51.100.1", label=26)
    sim.publish("c1", "enet", VRF, "00:aa:bb:cc:dd:ee", "10.1.1.3/32", nh="198.51.100.1",
                label=5001, etag=10, l3label=5002, encap="vxlan")
    sim.publish("c1", "mcast", VRF, "255.255.255.255", "0.0.0.0", nh="198.51.100.1",
                label="1024-3071", encap="gre")

    r = sim.wait_route("c2", VRF, "10.1.1.3/32", family="inet")
    nh = r["nexthops"][0]
    assert nh["address"] == "198.51.100.1" and nh["label"] == 25
    assert nh["encap"] == ["gre", "udp"] and nh["mac"] == "00:11:22:33:44:55"
    assert nh["tags"] == [7] and nh["vn"] == "default-domain:p:vn1"
    assert r["sgs"] == [8000002, 8000003] and r["communities"] == ["no-export"]
    assert r["local_pref"] == 200 and r["med"] == 100
    assert r["mobility"] == {"seq": 3, "sticky": True}
    assert r["sub_protocol"] == "interface" and r["vn"] == "default-domain:p:vn1"

    r6 = sim.wait_route("c2", VRF, "2001:db8::3/128", family="inet6")
    assert r6["nexthops"][0]["label"] == 26
    re = sim.wait_route("c2", VRF, "10-00:aa:bb:cc:dd:ee,10.1.1.3/32", family="enet")
    assert re["nexthops"][0]["l3_label"] == 5002 and re["nexthops"][0]["encap"] == ["vxlan"]
    rm = sim.wait_route("c2", VRF, "255.255.255.255,0.0.0.0", family="mcast")
    assert (rm["nexthops"][0]["label"], rm["nexthops"][0]["label_last"]) == (1024, 3071)

    # The publisher gets its own routes back too (the control node reflects to every
    # subscriber); an agent subscribed elsewhere gets nothing.
    sim.wait_route("c1", VRF, "10.1.1.3/32")
    sim.connect("c3", server.address)
    sim.subscribe("c3", VRF2, 5)
    sim.wait(lambda e: e.get("event") == "eor" and e.get("agent") == "c3")
    assert sim.routes("c3") == []

    # A retract is a delete event at the other agent.
    m = sim.mark()
    sim.retract("c1", "inet6", VRF, "2001:db8::3/128")
    sim.wait(lambda e: e.get("event") == "route" and e.get("agent") == "c2"
             and e.get("op") == "delete" and e.get("key") == "2001:db8::3/128", since=m)
    sim.wait_no_route("c2", VRF, "2001:db8::3/128")


def test_ecmp_and_withdraw_when_an_agent_leaves(sim, server):
    two_agents(sim, server)
    sim.publish("c1", "inet", VRF, "10.9.0.0/24", nh="198.51.100.1", label=30)
    sim.publish("c2", "inet", VRF, "10.9.0.0/24", nh="198.51.100.2", label=31)
    r = sim.wait_route("c1", VRF, "10.9.0.0/24", predicate=lambda r: len(r["nexthops"]) == 2)
    assert {n["address"] for n in r["nexthops"]} == {"198.51.100.1", "198.51.100.2"}
    # c2 goes away: only c1's path is left.
    sim.close("c2")
    r = sim.wait_route("c1", VRF, "10.9.0.0/24", predicate=lambda r: len(r["nexthops"]) == 1)
    assert r["nexthops"][0]["address"] == "198.51.100.1"
    # Unsubscribing withdraws c1's own route as well.
    sim.unsubscribe("c1", VRF)
    sim.connect("c4", server.address)
    sim.subscribe("c4", VRF, 4)
    sim.wait(lambda e: e.get("event") == "eor" and e.get("agent") == "c4")
    assert sim.routes("c4", VRF) == []


def test_config_subscription_is_answered(sim, server):
    sim.connect("compute1", server.address)
    sim.config_subscribe("compute1", "virtual-router:default-global-system-config:compute1")
    ev = sim.wait(lambda e: e.get("event") == "config")
    assert ev["agent"] == "compute1"
    assert "<update><node type=\"virtual-router\"><name>default-global-system-config:compute1" \
        in ev["xml"]


def test_protocol_violations_close_the_session_and_the_agent_comes_back(sim, server):
    sim.connect("c1", server.address, retry_ms=100)
    sim.wait_up("c1")
    sim.subscribe("c1", VRF, 1)
    sim.publish("c1", "inet", VRF, "10.1.1.9/32", nh="198.51.100.1", label=20)
    sim.wait_route("c1", VRF, "10.1.1.9/32")
    # The same instance again: the server closes the session (duplicate subscribe).
    m = sim.mark()
    sim.subscribe("c1", VRF, 1)
    down = sim.wait_down("c1", since=m)
    assert "policy-violation" in down["reason"] and "duplicate subscribe" in down["reason"]
    # The agent reconnects and sends its subscription and routes again.
    sim.wait_up("c1", since=m)
    sim.wait_route("c1", VRF, "10.1.1.9/32")

    # A publish to an instance it did not subscribe to.
    m = sim.mark()
    sim.publish("c1", "inet", VRF2, "10.2.2.2/32", nh="198.51.100.1", label=20)
    assert "policy-violation" in sim.wait_down("c1", since=m)["reason"]
    sim.retract("c1", "inet", VRF2, "10.2.2.2/32")

    # Garbage on the wire: the server answers with a stream error.
    sim.wait_up("c1", since=m)
    m = sim.mark()
    sim.send_raw("c1", "<iq><a></b></iq>")
    assert "not-well-formed" in sim.wait_down("c1", since=m)["reason"]
    sim.wait_up("c1", since=m)


def test_subcluster_mismatch_is_refused(tmp_path, sim):
    srv = XmppTestServer(tmp_path / "sub", subcluster="east").start()
    try:
        m = sim.mark()
        sim.connect("c1", srv.address, subcluster="west", retry_ms=5000)
        down = sim.wait_down("c1", since=m)
        assert "invalid-namespace" in down["reason"]
        sim.connect("c2", srv.address, subcluster="east")
        sim.wait_up("c2")
    finally:
        assert srv.stop() is None


def test_server_restart_agents_resend_everything(sim, server):
    two_agents(sim, server)
    sim.publish("c1", "inet", VRF, "10.5.5.5/32", nh="198.51.100.1", label=40)
    sim.wait_route("c2", VRF, "10.5.5.5/32")
    m = sim.mark()
    server.restart()
    sim.wait_down("c1", since=m)
    sim.wait_up("c1", since=m, timeout=15)
    sim.wait_up("c2", since=m, timeout=15)
    # Nothing survives in the new server but what the agents sent again.
    sim.wait_route("c2", VRF, "10.5.5.5/32", timeout=15)


def test_bad_commands_are_reported(sim, server):
    m = sim.mark()
    sim.cmd("frobnicate")
    assert sim.wait_error(since=m)["command"] == "frobnicate"
    sim.cmd("subscribe nobody vrf 1")
    assert "no agent" in sim.wait_error("subscribe", since=m)["message"]
    sim.connect("c1", server.address)
    for bad in ("publish c1 inet vrf 10.0.0.1/33 nh 1.2.3.4 label 1",
                "publish c1 inet vrf 10.0.0.1/32 label 1",
                "publish c1 inet vrf 10.0.0.1/32 nh 1.2.3.4 label x",
                "publish c1 inet vrf 10.0.0.1/32 nh 1.2.3.4 encap carrier-pigeon",
                "publish c1 bogus vrf 10.0.0.1/32 nh 1.2.3.4",
                "publish c1 enet vrf 00:11 10.0.0.1/32 nh 1.2.3.4",
                "connect c1 127.0.0.1:1",
                "connect c9 nowhere"):
        m = sim.mark()
        sim.cmd(bad)
        sim.wait_error(since=m)
    sim.sync()


def test_load_mode_converges(server):
    rc, res, err = run_load(server.address, agents=8, instances=4, per_agent=2, routes=50,
                            timeout=30)
    assert rc == 0, err
    assert res["timeout"] is False and res["sessions_up"] == 8
    assert res["agents_converged"] == 8
    # Each instance holds the routes of the 4 agents subscribed to it (25 each): 100; each
    # agent sees 2 instances.
    assert res["routes_expected"] == 8 * 2 * 100
    assert res["routes_received"] == res["routes_expected"]
    for k in ("sessions_up_ms", "publish_done_ms", "converged_ms"):
        assert res[k] is not None and res[k] >= 0
    assert res["rss_kb"] > 0


def test_load_mode_times_out_without_a_server(tmp_path):
    import socket
    with socket.socket() as s:          # A port nobody listens on.
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, res, _ = run_load(f"127.0.0.1:{port}", agents=2, instances=1, per_agent=1, routes=1,
                          timeout=1)
    assert rc == 1
    assert res["timeout"] is True and res["sessions_up"] == 0
