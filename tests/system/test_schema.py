"""contrail-schema against a real contrail-api (embedded SQLite) and ifmap-server: route targets,
connections between networks, ACLs from policies and security groups, restart and takeover
(config-plane reference §6).

Derived state is read back through the API (GET of the routing instances, route targets and
ACLs), which is what control nodes and agents get through IF-MAP.
"""

import re

import pytest

from conftest import DOMAIN, poll, unique
from discutil import Discovery
from schemautil import CONVERGE, ConfigNode, SchemaTransformer
from schemautil import node, st, api, primary_ri  # noqa: F401 (fixtures)
from zkutil import ZkEnsemble, zookeeper_installed

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

RT_RE = re.compile(r"^target:(\d+):(\d+)$")
ANYPORT = {"start_port": 0, "end_port": 65535}




# ---------------------------------------------------------------------------------------------
# Reading derived state


def fq(obj):
    return ":".join(obj["fq_name"])




def ri_targets(ri):
    """{route-target name: import_export or None} of RI."""
    return {r["to"][0]: (r.get("attr") or {}).get("import_export")
            for r in ri.get("route_target_refs") or []}


def ri_conns(ri):
    return {":".join(r["to"]) for r in ri.get("routing_instance_refs") or []}


def allocated(targets, asn=64512):
    """The allocator's targets among TARGETS (number >= 8000000 under ASN)."""
    out = []
    for name in targets:
        m = RT_RE.match(name)
        if m and int(m.group(1)) == asn and int(m.group(2)) >= 8000000:
            out.append(name)
    return out


def acls(api, rtype, uuid):
    """{ACL name: access_control_list_entries} of the object."""
    obj = api.read(rtype, uuid)
    out = {}
    for a in obj.get("access_control_lists") or []:
        out[a["to"][-1]] = api.read("access-control-list", a["uuid"]).get(
            "access_control_list_entries")
    return out


def rt_objects(api):
    return {e["fq_name"][0] for e in api.list("route-target", detail="true",
                                              fields="fq_name")["route-targets"]
            for e in [e["route-target"]]}


def converge(what, pred, timeout=CONVERGE):
    """Polls PRED until it holds; returns its value."""
    last = {}

    def check():
        try:
            v = pred()
        except AssertionError as e:
            last["e"] = e
            return None
        return v
    try:
        return poll(check, timeout, what, interval=0.05)
    except TimeoutError:
        if "e" in last:
            raise last["e"]
        raise


# ---------------------------------------------------------------------------------------------
# Building intent


def tcp80_rule(src, dst, action="pass", uuid="rule-1", direction="<>"):
    return {"direction": direction, "protocol": "tcp", "rule_uuid": uuid,
            "src_addresses": [{"virtual_network": src}],
            "src_ports": [{"start_port": -1, "end_port": -1}],
            "dst_addresses": [{"virtual_network": dst}],
            "dst_ports": [{"start_port": 80, "end_port": 80}],
            "action_list": {"simple_action": action}}


def acl_rule(proto, src, sp, dst, dp, action, uuid=None):
    r = {"match_condition": {"protocol": proto, "src_address": src, "src_port": sp,
                             "dst_address": dst, "dst_port": dp, "ethertype": "IPv4"},
         "action_list": {"simple_action": action}}
    if uuid:
        r["rule_uuid"] = uuid
    return r


def vnaddr(name):
    return {"virtual_network": name}


def expected_tcp80_acl(me, src, dst, action="pass", uuid="rule-1"):
    """The static ACL of network ME for one bidirectional tcp/80 rule SRC -> DST (§6.2): the
    rule both ways, then the trailing rules with logical routers enabled."""
    p80, pany = {"start_port": 80, "end_port": 80}, {"start_port": -1, "end_port": -1}
    return {"dynamic": False, "acl_rule": [
        acl_rule("6", vnaddr(src), pany, vnaddr(dst), p80, action, uuid),
        acl_rule("6", vnaddr(dst), p80, vnaddr(src), pany, action, uuid),
        acl_rule("any", vnaddr(me), ANYPORT, vnaddr(me), ANYPORT, "pass"),
        acl_rule("any", vnaddr(src), ANYPORT, vnaddr(dst), ANYPORT, "deny", uuid),
        acl_rule("any", vnaddr(dst), ANYPORT, vnaddr(src), ANYPORT, "deny", uuid),
        acl_rule("any", vnaddr("any"), ANYPORT, vnaddr("any"), ANYPORT, "pass"),
    ]}


def attach(api, vn, policies):
    api.update("virtual-network", vn["uuid"], {"network_policy_refs": [
        {"to": p["fq_name"], "attr": {"sequence": {"major": i, "minor": 0}}}
        for i, p in enumerate(policies)]})


# ---------------------------------------------------------------------------------------------
# Route targets


def test_each_network_gets_its_own_route_target(api, st):
    t = api.project()
    vns = [t.vn() for _ in range(4)]

    def targets():
        out = []
        for vn in vns:
            ri = primary_ri(api, vn["uuid"])
            assert ri, "no primary routing instance"
            tg = ri_targets(ri)
            own = allocated(tg)
            assert len(own) == 1, f"{fq(vn)}: {tg}"
            assert tg[own[0]] is None, "the primary instance's target is import and export"
            out.append(own[0])
        return out
    names = converge("a route target on every primary instance", targets)
    assert len(set(names)) == len(names), names
    assert set(names) <= rt_objects(api)
    # ip-fabric and __link_local__ get none.
    for name in ("ip-fabric", "__link_local__"):
        uid = api.fq_to_id("virtual-network", [DOMAIN, "default-project", name])
        ri = [r for r in api.read("virtual-network", uid)["routing_instances"]][0]
        assert not api.read("routing-instance", ri["uuid"]).get("route_target_refs")

    # Deleting a network frees its route target: the object goes.
    api.remove("virtual-network", vns[0]["uuid"])
    converge("the deleted network's route target object to go",
             lambda: names[0] not in rt_objects(api))
    assert set(names[1:]) <= rt_objects(api)


def test_user_route_targets_on_the_primary_instance(api, st):
    t = api.project()
    vn = t.vn(route_target_list={"route_target": ["target:64512:101"]},
              import_route_target_list={"route_target": ["target:64512:102",
                                                         "target:64512:104"]},
              export_route_target_list={"route_target": ["target:64512:103",
                                                         "target:64512:104"]})

    def check(expected):
        def pred():
            tg = ri_targets(primary_ri(api, vn["uuid"]))
            own = allocated(tg)
            assert len(own) == 1, tg
            del tg[own[0]]
            assert tg == expected, tg
            return True
        return pred
    # 104 is both imported and exported: a "both" target, as the original makes it.
    converge("user route targets", check({"target:64512:101": None,
                                          "target:64512:102": "import",
                                          "target:64512:103": "export",
                                          "target:64512:104": None}))
    assert {"target:64512:101", "target:64512:102", "target:64512:103",
            "target:64512:104"} <= rt_objects(api)

    api.update("virtual-network", vn["uuid"], {
        "route_target_list": {"route_target": []},
        "import_route_target_list": {"route_target": ["target:64512:102"]},
        "export_route_target_list": {"route_target": []}})
    converge("user route targets removed", check({"target:64512:102": "import"}))
    converge("unused route-target objects deleted",
             lambda: not ({"target:64512:101", "target:64512:103", "target:64512:104"}
                          & rt_objects(api)))


# ---------------------------------------------------------------------------------------------
# Policies: connections and ACLs


def test_policy_connects_networks_and_makes_acls(api, st):
    t = api.project()
    red, blue, green = t.vn(unique("red")), t.vn(unique("blue")), t.vn(unique("green"))
    r, b, g = fq(red), fq(blue), fq(green)
    pol = t.policy(network_policy_entries={"policy_rule": [tcp80_rule(r, b)]})
    attach(api, red, [pol])
    attach(api, blue, [pol])
    red_ri = fq(primary_ri(api, red["uuid"]))
    blue_ri = fq(primary_ri(api, blue["uuid"]))

    def connected():
        assert ri_conns(primary_ri(api, red["uuid"])) == {blue_ri}
        assert ri_conns(primary_ri(api, blue["uuid"])) == {red_ri}
        return True
    converge("red and blue connected", connected)
    converge("red's ACL", lambda: acls(api, "virtual-network", red["uuid"])
             == {red["fq_name"][-1]: expected_tcp80_acl(r, r, b)} or None)
    converge("blue's ACL", lambda: acls(api, "virtual-network", blue["uuid"])
             == {blue["fq_name"][-1]: expected_tcp80_acl(b, r, b)} or None)
    # Green has no policy: no ACL, no connection.
    assert acls(api, "virtual-network", green["uuid"]) == {}
    assert ri_conns(primary_ri(api, green["uuid"])) == set()

    # The rule turns into deny: the connection goes, the ACLs follow.
    api.update("network-policy", pol["uuid"], {"network_policy_entries": {
        "policy_rule": [tcp80_rule(r, b, action="deny")]}})

    def disconnected():
        assert ri_conns(primary_ri(api, red["uuid"])) == set()
        assert ri_conns(primary_ri(api, blue["uuid"])) == set()
        return True
    converge("red and blue disconnected", disconnected)
    converge("red's ACL with deny", lambda: acls(api, "virtual-network", red["uuid"])
             == {red["fq_name"][-1]: expected_tcp80_acl(r, r, b, "deny")} or None)

    # Pass again, then blue drops the policy: no connection (only one side agrees), and blue
    # has no ACL any more; red keeps its ACL.
    api.update("network-policy", pol["uuid"], {"network_policy_entries": {
        "policy_rule": [tcp80_rule(r, b)]}})
    converge("connected again", connected)
    api.update("virtual-network", blue["uuid"], {"network_policy_refs": []})
    converge("disconnected after detach", disconnected)
    converge("blue's ACL deleted",
             lambda: acls(api, "virtual-network", blue["uuid"]) == {} or None)
    assert acls(api, "virtual-network", red["uuid"]) == {
        red["fq_name"][-1]: expected_tcp80_acl(r, r, b)}


def test_timer_policy_goes_to_the_dynamic_acl(api, st):
    t = api.project()
    red, blue = t.vn(unique("red")), t.vn(unique("blue"))
    r, b = fq(red), fq(blue)
    pol = t.policy(network_policy_entries={"policy_rule": [tcp80_rule(r, b)]})
    api.update("virtual-network", red["uuid"], {"network_policy_refs": [
        {"to": pol["fq_name"], "attr": {"sequence": {"major": 0, "minor": 0},
                                        "timer": {"start_time": "2030-01-01T00:00:00"}}}]})
    p80, pany = {"start_port": 80, "end_port": 80}, {"start_port": -1, "end_port": -1}
    expected = {"dynamic": {"dynamic": True, "acl_rule": [
        acl_rule("6", vnaddr(r), pany, vnaddr(b), p80, "pass", "rule-1"),
        acl_rule("6", vnaddr(b), p80, vnaddr(r), pany, "pass", "rule-1")]}}
    converge("the dynamic ACL", lambda: acls(api, "virtual-network", red["uuid"]) == expected
             or None)


def test_any_connects_every_agreeing_network_of_the_project(api, st):
    t = api.project()
    hub = t.vn(unique("hub"))
    spokes = [t.vn(unique("spoke")) for _ in range(2)]
    h = fq(hub)
    any_pol = t.policy(network_policy_entries={"policy_rule": [tcp80_rule("local", "any")]})
    attach(api, hub, [any_pol])
    back = t.policy(network_policy_entries={"policy_rule": [tcp80_rule("local", h)]})
    attach(api, spokes[0], [back])
    hub_ri = fq(primary_ri(api, hub["uuid"]))
    s0_ri = fq(primary_ri(api, spokes[0]["uuid"]))
    # Only the spoke whose policy passes traffic back is connected.
    def check():
        assert ri_conns(primary_ri(api, hub["uuid"])) == {s0_ri}
        assert ri_conns(primary_ri(api, spokes[0]["uuid"])) == {hub_ri}
        return True
    converge("hub connected to the agreeing spoke", check)
    st.wait_idle()
    check()
    assert ri_conns(primary_ri(api, spokes[1]["uuid"])) == set()


# ---------------------------------------------------------------------------------------------
# Logical routers


def test_logical_router_target_on_its_networks(api, st):
    t = api.project()
    a, b, c = t.vn(unique("a")), t.vn(unique("b")), t.vn(unique("c"))
    pa, pb = t.vmi(a), t.vmi(b)
    lr = api.create("logical-router", {
        "parent_type": "project", "fq_name": t.fq + [unique("lr")],
        "configured_route_target_list": {"route_target": ["target:64512:555"]},
        "virtual_machine_interface_refs": [{"to": pa["fq_name"]}, {"to": pb["fq_name"]}]})

    def lr_target():
        got = api.read("logical-router", lr["uuid"]).get("route_target_refs") or []
        assert len(got) == 1 and allocated([got[0]["to"][0]]), got
        return got[0]["to"][0]
    rt = converge("the router's route target", lr_target)

    def on(vn):
        return ri_targets(primary_ri(api, vn["uuid"]))

    def check(with_rt, without):
        for vn in with_rt:
            tg = on(vn)
            assert tg.get(rt, "absent") is None and tg.get("target:64512:555", "absent") is None, tg
        for vn in without:
            tg = on(vn)
            assert rt not in tg and "target:64512:555" not in tg, tg
        return True
    converge("the router's targets on a and b", lambda: check([a, b], [c]))

    # b's interface leaves the router: b loses the targets.
    api.update("logical-router", lr["uuid"], {"virtual_machine_interface_refs": [
        {"to": pa["fq_name"]}]})
    converge("b without the router's targets", lambda: check([a], [b, c]))

    # The router goes: its targets leave a, and its route-target object is deleted.
    api.remove("logical-router", lr["uuid"])
    converge("a without the router's targets", lambda: check([], [a, b, c]))
    converge("the router's route target deleted",
             lambda: rt not in rt_objects(api) and "target:64512:555" not in rt_objects(api)
             or None)


# ---------------------------------------------------------------------------------------------
# Security groups


def sg_rule(uuid, src, dst, proto="tcp", ports=None):
    r = {"direction": ">", "protocol": proto, "rule_uuid": uuid, "ethertype": "IPv4",
         "src_addresses": [src], "dst_addresses": [dst],
         "src_ports": [ANYPORT], "dst_ports": [ports or ANYPORT]}
    return r


def test_security_group_acls_follow_rule_changes(api, st):
    t = api.project()
    web = t.sg(unique("web"))
    app = t.sg(unique("app"), security_group_entries={"policy_rule": [
        sg_rule("i1", {"security_group": fq(web)}, {"security_group": "local"},
                ports={"start_port": 22, "end_port": 22}),
        sg_rule("e1", {"security_group": "local"},
                {"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}}, proto="any")]})
    web_id = str(api.read("security-group", web["uuid"])["security_group_id"])

    def app_acls(ingress_rules, egress_rules):
        def pred():
            got = acls(api, "security-group", app["uuid"])
            assert got == {"ingress-access-control-list": {"acl_rule": ingress_rules},
                           "egress-access-control-list": {"acl_rule": egress_rules}}, got
            return True
        return pred
    ingress = [acl_rule("6", {"security_group": web_id}, ANYPORT, {},
                        {"start_port": 22, "end_port": 22}, "pass", "i1")]
    egress = [acl_rule("any", {}, ANYPORT,
                       {"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}}, ANYPORT,
                       "pass", "e1")]
    converge("app's ACLs", app_acls(ingress, egress))
    converge("web's (empty) ACLs", lambda: acls(api, "security-group", web["uuid"]) == {
        "ingress-access-control-list": {"acl_rule": []},
        "egress-access-control-list": {"acl_rule": []}} or None)

    def acl_stamps(sg):
        obj = api.read("security-group", sg["uuid"])
        return {a["to"][-1]: api.read("access-control-list", a["uuid"])["id_perms"]
                ["last_modified"] for a in obj["access_control_lists"]}
    web_before = acl_stamps(web)
    egress_before = acl_stamps(app)["egress-access-control-list"]

    # Change the ingress rule's port: only app's ingress ACL is rewritten.
    api.update("security-group", app["uuid"], {"security_group_entries": {"policy_rule": [
        sg_rule("i1", {"security_group": fq(web)}, {"security_group": "local"},
                ports={"start_port": 443, "end_port": 443}),
        sg_rule("e1", {"security_group": "local"},
                {"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}}, proto="any")]}})
    ingress[0]["match_condition"]["dst_port"] = {"start_port": 443, "end_port": 443}
    converge("app's ingress ACL updated", app_acls(ingress, egress))
    assert acl_stamps(app)["egress-access-control-list"] == egress_before
    assert acl_stamps(web) == web_before

    # Remove the egress rule: the egress ACL empties.
    api.update("security-group", app["uuid"], {"security_group_entries": {"policy_rule": [
        sg_rule("i1", {"security_group": fq(web)}, {"security_group": "local"},
                ports={"start_port": 443, "end_port": 443})]}})
    converge("app's egress ACL emptied", app_acls(ingress, []))


# ---------------------------------------------------------------------------------------------
# Restart


def test_restart_with_nothing_changed_writes_nothing(node, api, st):
    t = api.project()
    red, blue = t.vn(unique("red"), route_target_list={"route_target": ["target:64512:77"]}), \
        t.vn(unique("blue"))
    pol = t.policy(network_policy_entries={"policy_rule": [tcp80_rule(fq(red), fq(blue))]})
    attach(api, red, [pol])
    attach(api, blue, [pol])
    t.sg(security_group_entries={"policy_rule": [
        sg_rule("x", {"security_group": "local"}, {"security_group": "any"})]})
    converge("connected", lambda: ri_conns(primary_ri(api, red["uuid"])) or None)
    st.wait_idle()
    before = node.api_counters()
    for _ in range(2):
        st.kill()
        st.start()
        st.wait_idle()
        assert st.counters()["writes"]["create"] == 0
        assert node.api_counters() == before, "a restart with nothing changed wrote"
        assert not stale_route_targets(api)
    st.proc.terminate()
    st.proc.wait(timeout=10)
    st.start()
    st.wait_idle()
    assert node.api_counters() == before


def test_restart_restores_one_direction_of_a_connection(api, st):
    """IF-MAP shows one link for the pair of references between two instances: a leader that
    died between writing the two leaves one. The next one finds that out from the API."""
    t = api.project()
    red, blue = t.vn(unique("red")), t.vn(unique("blue"))
    pol = t.policy(network_policy_entries={"policy_rule": [tcp80_rule(fq(red), fq(blue))]})
    attach(api, red, [pol])
    attach(api, blue, [pol])
    red_ri, blue_ri = primary_ri(api, red["uuid"]), primary_ri(api, blue["uuid"])
    converge("connected", lambda: (ri_conns(primary_ri(api, red["uuid"])) == {fq(blue_ri)}
                                   and ri_conns(primary_ri(api, blue["uuid"])) == {fq(red_ri)})
             or None)
    st.wait_idle()
    st.kill()
    # As if the leader had died after writing red's list and before blue's: red refers to
    # blue, blue not to red, and IF-MAP shows the one link.
    api.update("routing-instance", blue_ri["uuid"], {"routing_instance_refs": []})
    assert ri_conns(primary_ri(api, blue["uuid"])) == set()
    assert ri_conns(primary_ri(api, red["uuid"])) == {fq(blue_ri)}
    st.start()
    converge("blue's reference written again",
             lambda: ri_conns(primary_ri(api, blue["uuid"])) == {fq(red_ri)} or None)
    assert ri_conns(primary_ri(api, red["uuid"])) == {fq(blue_ri)}


# ---------------------------------------------------------------------------------------------
# Discovery


def test_servers_found_through_discovery(tmp_path):
    disc = Discovery(tmp_path / "disc").start()
    node = ConfigNode(tmp_path / "node", disc=disc.address).start()
    st = SchemaTransformer(tmp_path / "st", node, disc=disc.address).start()
    api = node.client()
    try:
        vn = api.project().vn()
        converge("a route target through the servers discovery named",
                 lambda: allocated(ri_targets(primary_ri(api, vn["uuid"]))) or None)
        c = st.counters()
        assert c["api_server"] == "127.0.0.1" and c["active"]
        assert st.page("/ifmap")["port"] == node.ifmap.port
    finally:
        api.close()
        problems = [p for p in (st.stop(),) if p] + node.stop()
        p = disc.stop()
        if p:
            problems.append(p)
        assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# ASN change (a private node: it renames every route target)


def test_asn_change_renames_route_targets(tmp_path):
    node = ConfigNode(tmp_path / "node").start()
    st = SchemaTransformer(tmp_path / "st", node).start()
    api = node.client()
    try:
        t = api.project()
        vns = [t.vn() for _ in range(3)]

        def own_targets(asn):
            out = []
            for vn in vns:
                tg = ri_targets(primary_ri(api, vn["uuid"]))
                own = allocated(tg, asn)
                assert len(own) == 1 and len(tg) == 1, tg
                out.append(int(RT_RE.match(own[0]).group(2)))
            return out
        numbers = converge("targets under 64512", lambda: own_targets(64512))
        gsc = api.fq_to_id("global-system-config", ["default-global-system-config"])
        api.update("global-system-config", gsc, {"autonomous_system": 65001})
        converge("targets renamed under 65001", lambda: own_targets(65001) == numbers or None)
        converge("old targets deleted", lambda: not [n for n in rt_objects(api)
                                                     if n.startswith("target:64512:")] or None)
    finally:
        api.close()
        problems = [p for p in (st.stop(),) if p] + node.stop()
        assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Active/passive: takeover in the middle of a burst


def check_topology(api, pairs):
    """Each (red, blue, policy, mode) of PAIRS: mode "pass" both attached -> connected;
    "deny" -> not connected, deny ACLs; "one" -> attached to red only.  Every primary
    instance has exactly one allocated target, no two the same, and no route-target object is
    left that nothing uses."""
    seen_rts = {}
    for red, blue, _pol, mode in pairs:
        r, b = fq(red), fq(blue)
        rri, bri = primary_ri(api, red["uuid"]), primary_ri(api, blue["uuid"])
        for vn, ri in ((red, rri), (blue, bri)):
            own = allocated(ri_targets(ri))
            assert len(own) == 1 and len(ri_targets(ri)) == 1, ri_targets(ri)
            assert own[0] not in seen_rts, f"{own[0]} on {fq(ri)} and {seen_rts.get(own[0])}"
            seen_rts[own[0]] = fq(ri)
        if mode == "pass":
            assert ri_conns(rri) == {fq(bri)} and ri_conns(bri) == {fq(rri)}, (mode, r)
        else:
            assert ri_conns(rri) == set() and ri_conns(bri) == set(), (mode, r)
        action = "deny" if mode == "deny" else "pass"
        assert acls(api, "virtual-network", red["uuid"]) == {
            red["fq_name"][-1]: expected_tcp80_acl(r, r, b, action)}, r
        if mode == "one":
            assert acls(api, "virtual-network", blue["uuid"]) == {}, b
        else:
            assert acls(api, "virtual-network", blue["uuid"]) == {
                blue["fq_name"][-1]: expected_tcp80_acl(b, r, b, action)}, b
    assert not stale_route_targets(api)
    return True


def stale_route_targets(api):
    """Route-target objects no routing instance refers to."""
    used = set()
    for e in api.list("routing-instance", detail="true")["routing-instances"]:
        used |= set(ri_targets(e["routing-instance"]))
    return rt_objects(api) - used


@pytest.mark.skipif(not zookeeper_installed(), reason="needs the Debian zookeeper package")
def test_takeover_in_the_middle_of_a_burst(tmp_path):
    ens = ZkEnsemble(tmp_path / "zk").start()
    node = ConfigNode(tmp_path / "node").start()
    sts = [SchemaTransformer(tmp_path / f"st{i}", node, zk=ens.connect_string,
                             zk_session_timeout_ms=3000) for i in range(2)]
    api = node.client()
    try:
        for s in sts:
            s.start()
        poll(lambda: sum(s.counters()["active"] for s in sts) == 1, 40,
             "one active contrail-schema")
        leader = next(s for s in sts if s.counters()["active"])
        standby = next(s for s in sts if s is not leader)
        leader.wait_idle()

        t = api.project()
        pairs = []
        n = 12
        for i in range(n):
            red, blue = t.vn(unique(f"red{i}")), t.vn(unique(f"blue{i}"))
            pol = t.policy(network_policy_entries={"policy_rule": [
                tcp80_rule(fq(red), fq(blue))]})
            attach(api, red, [pol])
            attach(api, blue, [pol])
            pairs.append([red, blue, pol, "pass"])
            if i == n // 2:
                # The leader is busy deriving what came so far: kill it now.
                assert leader.counters()["active"]
                leader.kill()
        # More changes while the standby waits for the dead leader's session to expire.
        for i, p in enumerate(pairs):
            red, blue, pol, _ = p
            if i % 3 == 1:
                api.update("network-policy", pol["uuid"], {"network_policy_entries": {
                    "policy_rule": [tcp80_rule(fq(red), fq(blue), action="deny")]}})
                p[3] = "deny"
            elif i % 3 == 2:
                api.update("virtual-network", blue["uuid"], {"network_policy_refs": []})
                p[3] = "one"
        standby.wait_idle(timeout=60)
        converge("the derived state of the whole burst", lambda: check_topology(api, pairs),
                 timeout=60)
        # Nothing left to fix: a restart of the new leader writes nothing.
        before = node.api_counters()
        standby.kill()
        standby.start()
        standby.wait_idle(timeout=60)
        assert node.api_counters() == before
    finally:
        api.close()
        problems = [p for p in (s.stop() for s in sts) if p]
        problems += node.stop()
        ens.stop()
        assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Service chains (§6.3)


def si_us(si_fq):
    return ":".join(si_fq).replace(":", "_")


def make_service(api, t, mode, left_vn, right_vn):
    """A service template of MODE, a service instance, its virtual machine and the machine's
    left and right interfaces (each with an instance IP) in LEFT_VN / RIGHT_VN.  Returns
    (si, {"left": (vmi, address), "right": (vmi, address)})."""
    tmpl_fq = [DOMAIN, unique(f"tmpl-{mode}")]
    api.create("service-template", {"parent_type": "domain", "fq_name": tmpl_fq,
                                    "service_template_properties": {
                                        "version": 2, "service_mode": mode,
                                        "service_type": "firewall",
                                        "interface_type": [{"service_interface_type": "left"},
                                                           {"service_interface_type": "right"}]}})
    si_fq = t.fq + [unique("si")]
    si = api.create("service-instance", {
        "parent_type": "project", "fq_name": si_fq,
        "service_template_refs": [{"to": tmpl_fq}],
        "service_instance_properties": {"left_virtual_network": fq(left_vn),
                                        "right_virtual_network": fq(right_vn)}})
    si = api.read("service-instance", si["uuid"])
    vm_fq = [unique("vm")]
    api.create("virtual-machine", {"fq_name": vm_fq, "service_instance_refs": [{"to": si_fq}]})
    ifs = {}
    for side, vn in (("left", left_vn), ("right", right_vn)):
        vmi = t.vmi(vn, virtual_machine_refs=[{"to": vm_fq}],
                    virtual_machine_interface_properties={"service_interface_type": side})
        iip = t.iip(vn, virtual_machine_interface_refs=[{"to": vmi["fq_name"]}])
        ifs[side] = (vmi, iip["instance_ip_address"])
    return si, ifs


def chain_rule(left, right, services, uuid="chain-rule"):
    return {"direction": "<>", "protocol": "any", "rule_uuid": uuid,
            "src_addresses": [{"virtual_network": left}],
            "src_ports": [{"start_port": -1, "end_port": -1}],
            "dst_addresses": [{"virtual_network": right}],
            "dst_ports": [{"start_port": -1, "end_port": -1}],
            "action_list": {"simple_action": "pass", "apply_service": services}}


def read_ri(api, name):
    return api.read("routing-instance", api.fq_to_id("routing-instance", name.split(":")))


def ri_exists(api, name):
    return api.fq_to_id_raw("routing-instance", name.split(":")).status_code == 200


def svc_refs(api, vmi):
    """{routing instance: attr} of VMI's references to service instances."""
    v = api.read("virtual-machine-interface", vmi["uuid"])
    return {":".join(r["to"]): r.get("attr") for r in v.get("routing_instance_refs") or []
            if r["to"][-1].startswith("service-")}


def expected_chain_acl(me, left, right, assign):
    pany = {"start_port": -1, "end_port": -1}
    act = {"simple_action": "pass", "assign_routing_instance": assign}

    def rule(src, dst, action, uuid="chain-rule"):
        r = acl_rule("any", vnaddr(src), pany, vnaddr(dst), pany, "pass", uuid)
        r["action_list"] = action
        return r
    # The trailing "deny any" rules of the pair are subsets of the chain's rules (any
    # protocol, ports -1): dropped, as the original's AclRuleListST does.
    return {"dynamic": False, "acl_rule": [
        rule(left, right, act), rule(right, left, act),
        acl_rule("any", vnaddr(me), ANYPORT, vnaddr(me), ANYPORT, "pass"),
        acl_rule("any", vnaddr("any"), ANYPORT, vnaddr("any"), ANYPORT, "pass"),
    ]}


def build_chain(api, t):
    """Left and right networks, an in-network service then a transparent one, and a policy
    chaining them between the networks, attached to both."""
    left = t.vn(unique("left"), subnets=["10.1.0.0/24"])
    right = t.vn(unique("right"), subnets=["10.2.0.0/24"])
    sl, sr = t.vn(unique("svc-left"), subnets=["10.3.0.0/24"]), \
        t.vn(unique("svc-right"), subnets=["10.4.0.0/24"])
    si1, ifs1 = make_service(api, t, "in-network", left, right)
    si2, ifs2 = make_service(api, t, "transparent", sl, sr)
    pol = t.policy(network_policy_entries={"policy_rule": [
        chain_rule(fq(left), fq(right), [fq(si1), fq(si2)])]})
    attach(api, left, [pol])
    attach(api, right, [pol])
    return left, right, pol, (si1, ifs1), (si2, ifs2)


def check_chain(api, st, left, right, svc1, svc2):
    """The whole derived state of the chain left -> si1 (in-network) -> si2 (transparent) ->
    right; returns the chain's uuid."""
    (si1, ifs1), (si2, ifs2) = svc1, svc2
    chains = [c for c in st.page("/chains")["chains"]
              if c["left"] == fq(left) and c["right"] == fq(right)]
    assert len(chains) == 1, chains
    c = chains[0]
    assert c["state"] == "built", c
    u = c["uuid"]
    assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", u)
    assert c["services"] == [fq(si1), fq(si2)] and c["direction"] == "<>"
    name = {(side, i): f"{fq(vn)}:service-{u}-{si_us(si['fq_name'])}"
            for side, vn in (("l", left), ("r", right)) for i, si in ((1, si1), (2, si2))}
    ris = {k: read_ri(api, n) for k, n in name.items()}
    pl, pr = primary_ri(api, left["uuid"]), primary_ri(api, right["uuid"])
    # Route targets: one allocated target each, all different.
    own = set()
    for k, ri in ris.items():
        assert ri["parent_type"] == "virtual-network" and not ri.get("routing_instance_is_default")
        tg = ri_targets(ri)
        assert len(tg) == 1 and len(allocated(tg)) == 1 and list(tg.values()) == [None], tg
        own |= set(tg)
    own |= set(allocated(ri_targets(pl))) | set(allocated(ri_targets(pr)))
    assert len(own) == 6
    # Connections: left primary - l1 | r1 - l2 | r2 - right primary.
    assert ri_conns(pl) == {name["l", 1]} and ri_conns(ris["l", 1]) == {fq(pl)}
    assert ri_conns(ris["r", 1]) == {name["l", 2]} and ri_conns(ris["l", 2]) == {name["r", 1]}
    assert ri_conns(ris["r", 2]) == {fq(pr)} and ri_conns(pr) == {name["r", 2]}
    # The transparent service's chain address: an instance IP from the left network.
    iip = api.read("instance-ip", api.fq_to_id("instance-ip",
                                               [f"service-{u}-{si_us(si2['fq_name'])}"]))
    addr2 = iip["instance_ip_address"]
    assert addr2.startswith("10.1.0.") and iip["service_instance_ip"] is True
    assert [r["to"] for r in iip["virtual_network_refs"]] == [left["fq_name"]]
    # service_chain_information.
    sci = {k: ri.get("service_chain_information") for k, ri in ris.items()}
    assert sci["l", 1] == {"routing_instance": fq(pr), "prefix": ["10.2.0.0/24"],
                           "service_chain_address": ifs1["left"][1],
                           "service_instance": fq(si1)}, sci["l", 1]
    assert sci["r", 1] == {"routing_instance": fq(pl), "prefix": ["10.1.0.0/24"],
                           "service_chain_address": ifs1["right"][1],
                           "service_instance": fq(si1)}, sci["r", 1]
    for side, remote, pfx in (("l", pr, "10.2.0.0/24"), ("r", pl, "10.1.0.0/24")):
        assert sci[side, 2] == {"routing_instance": fq(remote), "prefix": [pfx],
                                "service_chain_address": addr2,
                                "service_instance": fq(si2)}, sci[side, 2]
    # Interfaces: in-network plain, transparent with a VLAN and the chain address.
    assert svc_refs(api, ifs1["left"][0]) == {name["l", 1]: {"direction": "both"}}
    assert svc_refs(api, ifs1["right"][0]) == {name["r", 1]: {"direction": "both"}}
    pbf = {"direction": "both", "vlan_tag": 1, "service_chain_address": addr2}
    assert svc_refs(api, ifs2["left"][0]) == {name["l", 2]: pbf}
    assert svc_refs(api, ifs2["right"][0]) == {name["r", 2]: pbf}
    # ACLs: pass with the instance traffic enters, no direct connection.
    assert acls(api, "virtual-network", left["uuid"]) == {
        left["fq_name"][-1]: expected_chain_acl(fq(left), fq(left), fq(right), name["l", 1])}
    assert acls(api, "virtual-network", right["uuid"]) == {
        right["fq_name"][-1]: expected_chain_acl(fq(right), fq(left), fq(right),
                                                 name["r", 2])}
    return u, name


def test_service_chain_whole_state_restart_and_removal(node, api, st):
    t = api.project()
    left, right, pol, svc1, svc2 = build_chain(api, t)
    u, name = converge("the service chain", lambda: check_chain(api, st, left, right,
                                                                  svc1, svc2))
    st.wait_idle()
    assert not stale_route_targets(api)
    # A restart finds the same chain and writes nothing.
    before = node.api_counters()
    st.kill()
    st.start()
    st.wait_idle()
    assert node.api_counters() == before, "a restart with a chain present wrote"
    assert check_chain(api, st, left, right, svc1, svc2)[0] == u
    # Removing the rule removes exactly the chain's objects.
    other = t.vn(unique("other"))
    api.update("network-policy", pol["uuid"], {"network_policy_entries": {
        "policy_rule": [tcp80_rule(fq(left), fq(right))]}})

    def removed():
        for n in name.values():
            assert not ri_exists(api, n), n
        for _si, ifs in (svc1, svc2):
            for vmi, _a in ifs.values():
                assert svc_refs(api, vmi) == {}
        assert api.fq_to_id_raw("instance-ip", [f"service-{u}-{si_us(svc2[0]['fq_name'])}"]
                                ).status_code == 404
        pl, pr = primary_ri(api, left["uuid"]), primary_ri(api, right["uuid"])
        assert ri_conns(pl) == {fq(pr)} and ri_conns(pr) == {fq(pl)}
        assert acls(api, "virtual-network", left["uuid"]) == {
            left["fq_name"][-1]: expected_tcp80_acl(fq(left), fq(left), fq(right))}
        assert not stale_route_targets(api)
        assert not [c for c in st.page("/chains")["chains"] if c["left"] == fq(left)]
        return True
    converge("the chain removed", removed)
    assert allocated(ri_targets(primary_ri(api, other["uuid"])))


def test_removing_a_service_instance_removes_its_chain(api, st):
    t = api.project()
    left, right, pol, svc1, svc2 = build_chain(api, t)
    u, name = converge("the service chain", lambda: check_chain(api, st, left, right,
                                                                  svc1, svc2))
    si2 = svc2[0]
    vm = api.read("service-instance", si2["uuid"])["virtual_machine_back_refs"][0]
    api.update("virtual-machine", vm["uuid"], {"service_instance_refs": []})
    api.remove("service-instance", si2["uuid"])

    def removed():
        for n in name.values():
            assert not ri_exists(api, n), n
        for _si, ifs in (svc1, svc2):
            for vmi, _a in ifs.values():
                assert svc_refs(api, vmi) == {}
        pl, pr = primary_ri(api, left["uuid"]), primary_ri(api, right["uuid"])
        assert ri_conns(pl) == set() and ri_conns(pr) == set()
        assert not stale_route_targets(api)
        c = [c for c in st.page("/chains")["chains"] if c["uuid"] == u]
        assert c and c[0]["state"] == "service instance or template missing"
        return True
    converge("the chain's objects removed", removed)


@pytest.mark.skipif(not zookeeper_installed(), reason="needs the Debian zookeeper package")
def test_takeover_in_the_middle_of_a_burst_with_chains(tmp_path):
    ens = ZkEnsemble(tmp_path / "zk").start()
    node = ConfigNode(tmp_path / "node").start()
    sts = [SchemaTransformer(tmp_path / f"st{i}", node, zk=ens.connect_string,
                             zk_session_timeout_ms=3000) for i in range(2)]
    api = node.client()
    try:
        for s in sts:
            s.start()
        poll(lambda: sum(s.counters()["active"] for s in sts) == 1, 40,
             "one active contrail-schema")
        leader = next(s for s in sts if s.counters()["active"])
        standby = next(s for s in sts if s is not leader)
        leader.wait_idle()
        t = api.project()
        chains = [build_chain(api, t)]
        # The leader is busy with the first chain: kill it, and build two more while the
        # standby waits for the dead leader's session to expire.
        leader.kill()
        chains += [build_chain(api, t) for _ in range(2)]
        # One of the chains goes again.
        left, right, pol = chains[2][:3]
        api.update("network-policy", pol["uuid"], {"network_policy_entries": {
            "policy_rule": [tcp80_rule(fq(left), fq(right))]}})
        standby.wait_idle(timeout=60)

        def all_right():
            for left, right, _pol, svc1, svc2 in chains[:2]:
                check_chain(api, standby, left, right, svc1, svc2)
            left, right = chains[2][:2]
            pl, pr = primary_ri(api, left["uuid"]), primary_ri(api, right["uuid"])
            assert ri_conns(pl) == {fq(pr)}
            assert not [c for c in standby.page("/chains")["chains"]
                        if c["left"] == fq(left)]
            assert not [ri for ri in api.list("routing-instance")["routing-instances"]
                        if ri["fq_name"][-2] in (left["fq_name"][-1], right["fq_name"][-1])
                        and ri["fq_name"][-1].startswith("service-")]
            assert not stale_route_targets(api)
            return True
        converge("the chains of the whole burst", all_right, timeout=60)
        before = node.api_counters()
        standby.kill()
        standby.start()
        standby.wait_idle(timeout=60)
        assert node.api_counters() == before
    finally:
        api.close()
        problems = [p for p in (s.stop() for s in sts) if p]
        problems += node.stop()
        ens.stop()
        assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# BGP as a service (§6.5)


def bgp_routers(api, ri_name):
    """{name: bgp-router} of the routers under routing instance RI_NAME."""
    ri = read_ri(api, ri_name)
    return {r["to"][-1]: api.read("bgp-router", r["uuid"]) for r in ri.get("bgp_routers") or []}


def test_bgp_as_a_service(node, api, st):
    t = api.project()
    vn = t.vn(unique("bgpaas-vn"), subnets=["10.9.0.0/24"])
    ports = []
    for _ in range(2):
        vmi = t.vmi(vn)
        iip = t.iip(vn, virtual_machine_interface_refs=[{"to": vmi["fq_name"]}])
        ports.append((vmi, iip["instance_ip_address"]))
    attrs = {"hold_time": 90, "address_families": {"family": ["inet", "inet6"]}}
    b = api.create("bgp-as-a-service", {
        "parent_type": "project", "fq_name": t.fq + [unique("bgpaas")],
        "autonomous_system": 65100, "bgpaas_session_attributes": attrs,
        "virtual_machine_interface_refs": [{"to": v["fq_name"]} for v, _ in ports]})
    ri = fq(primary_ri(api, vn["uuid"]))

    def routers():
        rs = bgp_routers(api, ri)
        assert set(rs) == {"bgpaas-server"} | {v["fq_name"][-1] for v, _ in ports}, set(rs)
        assert rs["bgpaas-server"]["bgp_router_parameters"] == {"router_type": "bgpaas-server"}
        srcs = set()
        for vmi, ip in ports:
            c = rs[vmi["fq_name"][-1]]
            p = c["bgp_router_parameters"]
            srcs.add(p["source_port"])
            assert p == {"router_type": "bgpaas-client", "autonomous_system": 65100,
                         "address": ip, "identifier": ip, "source_port": p["source_port"]}, p
            assert 50000 <= p["source_port"] < 50512
            peer = [r for r in c.get("bgp_router_refs") or []]
            assert [r["to"][-1] for r in peer] == ["bgpaas-server"], peer
            assert peer[0]["attr"] == {"session": [{"attributes": [attrs]}]}, peer[0]["attr"]
        assert len(srcs) == len(ports)
        got = api.read("bgp-as-a-service", b["uuid"])
        assert {r["to"][-1] for r in got.get("bgp_router_refs") or []} == \
            {v["fq_name"][-1] for v, _ in ports}
        return {k: r["bgp_router_parameters"].get("source_port") for k, r in rs.items()}
    first = converge("bgpaas routers", routers)
    st.wait_idle()
    # A restart keeps the ports and writes nothing.
    before = node.api_counters()
    st.kill()
    st.start()
    st.wait_idle()
    assert node.api_counters() == before
    assert routers() == first
    # An interface leaves: its client goes, the other keeps its port.
    api.update("bgp-as-a-service", b["uuid"], {"virtual_machine_interface_refs": [
        {"to": ports[1][0]["fq_name"]}]})
    gone = ports.pop(0)[0]["fq_name"][-1]

    def one_left():
        got = routers()
        assert gone not in got
        return got
    after = converge("one client left", one_left)
    assert after[ports[0][0]["fq_name"][-1]] == first[ports[0][0]["fq_name"][-1]]
    # The BGPaaS goes: its clients go (the server stays with the instance).
    api.remove("bgp-as-a-service", b["uuid"])
    converge("clients removed", lambda: set(bgp_routers(api, ri)) == {"bgpaas-server"} or None)
