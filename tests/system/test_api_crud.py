"""Create / read / update / delete of single resources (spec 1.3 create, 1.4, 1.5, 1.8)."""

import uuid as uuidlib
from datetime import datetime

from conftest import DOMAIN, expect, is_uuid, unique, uuid_halves


def walk_keys(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from walk_keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk_keys(v)


# ---- create ----

def test_create_response_shape(api):
    t = api.project()
    fq = t.fq + ["vn-blue"]
    r = expect(api.create_raw("virtual-network", {"parent_type": "project", "fq_name": fq}), 200)
    j = r.json()
    assert list(j) == ["virtual-network"]
    o = j["virtual-network"]
    assert o["name"] == "vn-blue"
    assert o["fq_name"] == fq
    assert is_uuid(o["uuid"])
    assert o["href"] == f"{api.base}/virtual-network/{o['uuid']}"
    assert o["parent_type"] == "project"
    assert o["parent_uuid"] == t.uuid
    assert o["parent_href"] == f"{api.base}/project/{t.uuid}"


def test_create_root_level_object_has_no_parent_fields(api):
    name = unique("vm")
    o = api.create("virtual-machine", {"fq_name": [name]})
    assert o["fq_name"] == [name]
    assert o["name"] == name
    assert "parent_uuid" not in o and "parent_href" not in o
    got = api.read("virtual-machine", o["uuid"])
    assert got["fq_name"] == [name]


def test_create_parent_type_inferred_when_single_parent(api):
    t = api.project()
    fq = t.fq + [unique("vn")]
    o = api.create("virtual-network", {"fq_name": fq})
    assert o["parent_type"] == "project"
    assert o["parent_uuid"] == t.uuid


def test_create_with_requested_uuid(api):
    t = api.project()
    want = str(uuidlib.uuid4())
    o = api.create("virtual-network", {"parent_type": "project", "fq_name": t.fq + ["vn-u"],
                                       "uuid": want})
    assert o["uuid"] == want
    assert api.read("virtual-network", want)["fq_name"] == t.fq + ["vn-u"]


def test_get_full_object_common_fields(api):
    t = api.project()
    vn = t.vn("vn-x", subnets=["203.0.113.0/24"])
    u = vn["uuid"]
    assert vn["uuid"] == u and vn["name"] == "vn-x"
    assert vn["fq_name"] == t.fq + ["vn-x"]
    assert vn["href"] == f"{api.base}/virtual-network/{u}"
    assert vn["parent_type"] == "project"
    assert vn["parent_uuid"] == t.uuid
    assert vn["parent_href"] == f"{api.base}/project/{t.uuid}"
    assert vn["display_name"] == "vn-x"

    ip = vn["id_perms"]
    assert ip["permissions"] == {"owner": "cloud-admin", "owner_access": 7,
                                 "group": "cloud-admin-group", "group_access": 7,
                                 "other_access": 7}
    ms, ls = uuid_halves(u)
    assert ip["uuid"] == {"uuid_mslong": ms, "uuid_lslong": ls}
    assert ip["enable"] is True
    assert ip["user_visible"] is True
    created = datetime.fromisoformat(ip["created"])
    modified = datetime.fromisoformat(ip["last_modified"])
    assert modified >= created
    assert abs((datetime.utcnow() - created).total_seconds()) < 300, "created is not UTC now"

    p2 = vn["perms2"]
    assert p2["owner_access"] == 7
    assert p2["global_access"] == 0
    assert p2["share"] == []
    assert p2["owner"] == "cloud-admin" or len(p2["owner"].replace("-", "")) == 32


def test_display_name_and_annotations_kept(api):
    t = api.project()
    vn = t.vn("vn-d", display_name="Blue network",
              annotations={"key_value_pair": [{"key": "k", "value": "v"}]})
    assert vn["display_name"] == "Blue network"
    assert vn["annotations"] == {"key_value_pair": [{"key": "k", "value": "v"}]}


def test_id_perms_description_given_at_create(api):
    t = api.project()
    vn = t.vn(id_perms={"description": "hello", "enable": True})
    assert vn["id_perms"]["description"] == "hello"
    ms, ls = uuid_halves(vn["uuid"])
    assert vn["id_perms"]["uuid"] == {"uuid_mslong": ms, "uuid_lslong": ls}


def test_project_gets_default_children(api):
    t = api.project()
    p = api.read("project", t.uuid)
    vns = [c["to"] for c in p.get("virtual_networks", [])]
    ipams = [c["to"] for c in p.get("network_ipams", [])]
    assert t.fq + ["default-virtual-network"] in vns
    assert t.fq + ["default-network-ipam"] in ipams


def test_domain_gets_default_children(api):
    name = unique("dom")
    d = api.create("domain", {"fq_name": [name]})
    got = api.read("domain", d["uuid"])
    assert [name, "default-project"] in [c["to"] for c in got.get("projects", [])]
    assert [name, "default-namespace"] in [c["to"] for c in got.get("namespaces", [])]
    # and the default project got its own default children
    pu = api.fq_to_id("project", [name, "default-project"])
    api.fq_to_id("virtual-network", [name, "default-project", "default-virtual-network"])
    api.fq_to_id("network-ipam", [name, "default-project", "default-network-ipam"])
    assert api.read("project", pu)["parent_uuid"] == d["uuid"]


def test_vn_gets_primary_routing_instance(api):
    t = api.project()
    vn = t.vn("red")
    ris = vn.get("routing_instances", [])
    assert [c["to"] for c in ris] == [t.fq + ["red", "red"]]
    c = ris[0]
    assert is_uuid(c["uuid"])
    assert c["href"] == f"{api.base}/routing-instance/{c['uuid']}"
    ri = api.read("routing-instance", c["uuid"])
    assert ri["routing_instance_is_default"] is True
    assert ri["parent_uuid"] == vn["uuid"]
    assert ri["parent_type"] == "virtual-network"


# ---- refs, back-refs, children in GET ----

def test_refs_backrefs_children_shapes(api):
    t = api.project()
    vn = t.vn("vn-r", subnets=["203.0.113.0/24"])
    ipam = t.ipam()
    [ref] = vn["network_ipam_refs"]
    assert ref["to"] == ipam["fq_name"]
    assert ref["uuid"] == ipam["uuid"]
    assert ref["href"] == f"{api.base}/network-ipam/{ipam['uuid']}"
    assert ref["attr"]["ipam_subnets"][0]["subnet"] == {"ip_prefix": "203.0.113.0",
                                                       "ip_prefix_len": 24}

    got = api.read("network-ipam", ipam["uuid"])
    brefs = got.get("virtual_network_back_refs", [])
    assert [b["uuid"] for b in brefs] == [vn["uuid"]]
    assert brefs[0]["to"] == vn["fq_name"]
    assert brefs[0]["href"] == f"{api.base}/virtual-network/{vn['uuid']}"
    assert brefs[0]["attr"]["ipam_subnets"][0]["subnet"]["ip_prefix"] == "203.0.113.0"

    p = api.read("project", t.uuid)
    kids = {c["uuid"]: c for c in p["virtual_networks"]}
    assert kids[vn["uuid"]]["to"] == vn["fq_name"]
    assert kids[vn["uuid"]]["href"] == f"{api.base}/virtual-network/{vn['uuid']}"


def test_ref_without_attr_has_null_attr_and_ref_by_uuid_resolves_to(api):
    t = api.project()
    vn = t.vn()
    o = api.create("virtual-machine-interface", {
        "parent_type": "project", "fq_name": t.fq + [unique("port")],
        "virtual_network_refs": [{"uuid": vn["uuid"]}]})
    vmi = api.read("virtual-machine-interface", o["uuid"])
    [ref] = vmi["virtual_network_refs"]
    assert ref["to"] == vn["fq_name"]
    assert ref["uuid"] == vn["uuid"]
    assert "attr" in ref and ref["attr"] is None
    back = api.read("virtual-network", vn["uuid"])["virtual_machine_interface_back_refs"]
    assert [b["uuid"] for b in back] == [o["uuid"]]


def test_get_fields_param(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/24"], display_name="dn", router_external=True)
    got = api.read("virtual-network", vn["uuid"], fields="display_name,router_external")
    assert got["display_name"] == "dn"
    assert got["router_external"] is True
    assert "id_perms" in got and "perms2" in got
    for absent in ("network_ipam_refs", "routing_instances", "virtual_network_network_id"):
        assert absent not in got, absent


def test_get_exclude_children_and_back_refs(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/24"])
    got = api.read("virtual-network", vn["uuid"], exclude_children="true")
    assert "routing_instances" not in got
    assert "network_ipam_refs" in got
    ipam = api.read("network-ipam", t.ipam()["uuid"], exclude_back_refs="true")
    assert "virtual_network_back_refs" not in ipam
    p = api.read("project", t.uuid, exclude_children="true")
    assert "virtual_networks" not in p and "network_ipams" not in p


def test_get_exclude_hrefs(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/24"])
    got = api.read("virtual-network", vn["uuid"], exclude_hrefs="")
    assert "href" not in set(walk_keys(got))
    assert got["network_ipam_refs"][0]["uuid"] == t.ipam()["uuid"]


# ---- ETag / If-None-Match ----

def test_etag_and_if_none_match(api):
    t = api.project()
    vn = t.vn()
    path = f"/virtual-network/{vn['uuid']}"
    r = expect(api.get(path), 200)
    etag = r.headers.get("ETag")
    assert etag, "no ETag header"
    assert etag.strip('"') == r.json()["virtual-network"]["id_perms"]["last_modified"]
    r2 = api.get(path, headers={"If-None-Match": etag})
    expect(r2, 304)
    assert r2.content == b""
    api.update("virtual-network", vn["uuid"], {"display_name": "changed"})
    r3 = expect(api.get(path, headers={"If-None-Match": etag}), 200)
    assert r3.json()["virtual-network"]["display_name"] == "changed"
    assert r3.headers.get("ETag") != etag
    expect(api.get(path, headers={"If-None-Match": r3.headers["ETag"]}), 304)


# ---- PUT ----

def test_put_response_and_only_given_fields_change(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/24"], router_external=True, display_name="before")
    r = expect(api.update_raw("virtual-network", vn["uuid"], {"display_name": "after"}), 200)
    assert r.json() == {"virtual-network": {"uuid": vn["uuid"],
                                            "href": f"{api.base}/virtual-network/{vn['uuid']}"}}
    got = api.read("virtual-network", vn["uuid"])
    assert got["display_name"] == "after"
    assert got["router_external"] is True
    assert got["network_ipam_refs"] == vn["network_ipam_refs"]
    assert got["id_perms"]["created"] == vn["id_perms"]["created"]
    assert got["virtual_network_network_id"] == vn["virtual_network_network_id"]


def test_put_refs_replace_whole_list(api):
    t = api.project()
    p1, p2, p3 = t.policy(), t.policy(), t.policy()
    seq = {"sequence": {"major": 0, "minor": 0}}
    vn = t.vn(subnets=["203.0.113.0/24"], network_policy_refs=[
        {"to": p1["fq_name"], "attr": seq}, {"to": p2["fq_name"], "attr": seq}])
    assert {r["uuid"] for r in vn["network_policy_refs"]} == {p1["uuid"], p2["uuid"]}

    api.update("virtual-network", vn["uuid"], {"network_policy_refs": [
        {"to": p3["fq_name"], "attr": {"sequence": {"major": 1, "minor": 0}}}]})
    got = api.read("virtual-network", vn["uuid"])
    assert [(r["uuid"], r["attr"]["sequence"]["major"]) for r in got["network_policy_refs"]] \
        == [(p3["uuid"], 1)]
    assert got["network_ipam_refs"][0]["uuid"] == t.ipam()["uuid"], "other ref type touched"
    # back-refs follow
    assert not api.read("network-policy", p1["uuid"]).get("virtual_network_back_refs")
    assert [b["uuid"] for b in
            api.read("network-policy", p3["uuid"])["virtual_network_back_refs"]] == [vn["uuid"]]

    api.update("virtual-network", vn["uuid"], {"network_policy_refs": []})
    got = api.read("virtual-network", vn["uuid"])
    assert not got.get("network_policy_refs")
    # p1..p3 can now be deleted
    for p in (p1, p2, p3):
        api.remove("network-policy", p["uuid"])


def test_put_id_perms_enable_and_description(api):
    t = api.project()
    vn = t.vn()
    api.update("virtual-network", vn["uuid"],
               {"id_perms": {"enable": False, "description": "off"}})
    got = api.read("virtual-network", vn["uuid"])
    assert got["id_perms"]["enable"] is False
    assert got["id_perms"]["description"] == "off"
    assert got["id_perms"]["uuid"] == vn["id_perms"]["uuid"]
    assert got["id_perms"]["created"] == vn["id_perms"]["created"]


def test_put_cannot_change_fq_name_or_uuid(api):
    t = api.project()
    vn = t.vn("fixed")
    r = api.update_raw("virtual-network", vn["uuid"], {"fq_name": t.fq + ["renamed"]})
    assert r.status_code in (200, 400, 409), r.status_code
    r = api.update_raw("virtual-network", vn["uuid"], {"uuid": str(uuidlib.uuid4())})
    assert r.status_code in (200, 400, 409), r.status_code
    got = api.read("virtual-network", vn["uuid"])
    assert got["fq_name"] == t.fq + ["fixed"]
    assert got["uuid"] == vn["uuid"]
    assert api.fq_to_id("virtual-network", t.fq + ["fixed"]) == vn["uuid"]
    expect(api.fq_to_id_raw("virtual-network", t.fq + ["renamed"]), 404)


def test_put_system_network_id_does_not_change(api):
    t = api.project()
    vn = t.vn()
    r = api.update_raw("virtual-network", vn["uuid"], {"virtual_network_network_id": 4242424})
    assert r.status_code in (200, 400, 403), r.status_code
    assert api.read("virtual-network", vn["uuid"])["virtual_network_network_id"] == \
        vn["virtual_network_network_id"]


def test_put_404s(api):
    t = api.project()
    vn = t.vn()
    expect(api.update_raw("virtual-network", str(uuidlib.uuid4()), {"display_name": "x"}), 404)
    # uuid of another type
    expect(api.update_raw("network-ipam", vn["uuid"], {"display_name": "x"}), 404)


# ---- DELETE ----

def test_delete_then_gone_and_name_reusable(api):
    t = api.project()
    vn = t.vn("again")
    r = api.remove("virtual-network", vn["uuid"])
    assert r.content.strip() in (b"", b"{}", b"null")
    expect(api.read_raw("virtual-network", vn["uuid"]), 404)
    expect(api.fq_to_id_raw("virtual-network", vn["fq_name"]), 404)
    assert vn["uuid"] not in api.list_uuids("virtual-network", parent_id=t.uuid)
    assert vn["uuid"] not in {c["uuid"] for c in
                              api.read("project", t.uuid).get("virtual_networks", [])}
    vn2 = t.vn("again")
    assert vn2["uuid"] != vn["uuid"]
    expect(api.delete(f"/virtual-network/{vn['uuid']}"), 404)


def test_delete_cascades_derived_routing_instance(api):
    t = api.project()
    vn = t.vn()
    ri_uuid = vn["routing_instances"][0]["uuid"]
    api.remove("virtual-network", vn["uuid"])
    expect(api.read_raw("routing-instance", ri_uuid), 404)


def test_delete_refused_while_children_present(api):
    t = api.project()
    vn = t.vn()
    r = expect(api.delete(f"/project/{t.uuid}"), 409)
    assert "children still present" in r.text
    assert vn["uuid"] in r.text
    api.read("project", t.uuid)
    api.remove("virtual-network", vn["uuid"])


def test_delete_refused_for_non_derived_child_pool(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/24"])
    pool = api.create("floating-ip-pool", {"parent_type": "virtual-network",
                                           "fq_name": vn["fq_name"] + ["pool"]})
    r = expect(api.delete(f"/virtual-network/{vn['uuid']}"), 409)
    assert "children still present" in r.text and pool["uuid"] in r.text
    api.remove("floating-ip-pool", pool["uuid"])
    api.remove("virtual-network", vn["uuid"])


def test_delete_refused_while_referred(api):
    t = api.project()
    vn = t.vn()
    vmi = t.vmi(vn)
    r = expect(api.delete(f"/virtual-network/{vn['uuid']}"), 409)
    assert "still referred" in r.text
    assert vmi["uuid"] in r.text
    api.read("virtual-network", vn["uuid"])
    api.remove("virtual-machine-interface", vmi["uuid"])
    api.remove("virtual-network", vn["uuid"])


def test_delete_ipam_refused_while_vn_uses_it(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/24"])
    r = expect(api.delete(f"/network-ipam/{t.ipam()['uuid']}"), 409)
    assert "still referred" in r.text and vn["uuid"] in r.text


def test_delete_project_takes_default_children_along(api):
    t = api.project()
    p = api.read("project", t.uuid)
    kids = [("virtual-network", c["uuid"]) for c in p["virtual_networks"]] + \
           [("network-ipam", c["uuid"]) for c in p["network_ipams"]]
    assert kids
    api.remove("project", t.uuid)
    for rtype, u in kids:
        expect(api.read_raw(rtype, u), 404)
    expect(api.fq_to_id_raw("project", t.fq), 404)


def test_delete_domain_with_user_project_refused(api):
    name = unique("dom")
    d = api.create("domain", {"fq_name": [name]})
    p = api.create("project", {"parent_type": "domain", "fq_name": [name, "tenant"]})
    r = expect(api.delete(f"/domain/{d['uuid']}"), 409)
    assert p["uuid"] in r.text
    api.remove("project", p["uuid"])
    api.remove("domain", d["uuid"])
    expect(api.fq_to_id_raw("project", [name, "default-project"]), 404)


def test_delete_default_domain_refused(api):
    u = api.fq_to_id("domain", [DOMAIN])
    expect(api.delete(f"/domain/{u}"), 409)
    api.read("domain", u)


# ---- Appendix B payloads are accepted as written ----

def test_appendix_b_policy_and_attach(api):
    t = api.project()
    t.vn("red")
    t.vn("blue")
    rule = {"direction": "<>", "protocol": "tcp",
            "src_addresses": [{"virtual_network": ":".join(t.fq + ["red"])}],
            "src_ports": [{"start_port": -1, "end_port": -1}],
            "dst_addresses": [{"virtual_network": ":".join(t.fq + ["blue"])}],
            "dst_ports": [{"start_port": 80, "end_port": 80}],
            "action_list": {"simple_action": "pass"}}
    pol = api.create("network-policy", {"parent_type": "project",
                                        "fq_name": t.fq + ["red-blue"],
                                        "network_policy_entries": {"policy_rule": [rule]}})
    got = api.read("network-policy", pol["uuid"])
    [r] = got["network_policy_entries"]["policy_rule"]
    for k, v in rule.items():
        assert r[k] == v, k
    red = api.fq_to_id("virtual-network", t.fq + ["red"])
    api.update("virtual-network", red, {"network_policy_refs": [
        {"to": t.fq + ["red-blue"], "attr": {"sequence": {"major": 0, "minor": 0}}}]})
    [ref] = api.read("virtual-network", red)["network_policy_refs"]
    assert ref["uuid"] == pol["uuid"]
    assert ref["attr"]["sequence"] == {"major": 0, "minor": 0}


def test_appendix_b_default_security_group(api):
    t = api.project()
    sgfq = ":".join(t.fq + ["default"])
    any_ports = [{"start_port": 0, "end_port": 65535}]

    def rule(src, dst, eth):
        return {"direction": ">", "protocol": "any", "rule_uuid": str(uuidlib.uuid4()),
                "src_addresses": [src], "dst_addresses": [dst], "src_ports": any_ports,
                "dst_ports": any_ports, "ethertype": eth}
    rules = [rule({"security_group": sgfq}, {"security_group": "local"}, "IPv4"),
             rule({"security_group": sgfq}, {"security_group": "local"}, "IPv6"),
             rule({"security_group": "local"},
                  {"subnet": {"ip_prefix": "0.0.0.0", "ip_prefix_len": 0}}, "IPv4"),
             rule({"security_group": "local"},
                  {"subnet": {"ip_prefix": "::", "ip_prefix_len": 0}}, "IPv6")]
    sg = api.create("security-group", {"parent_type": "project", "fq_name": t.fq + ["default"],
                                       "security_group_entries": {"policy_rule": rules}})
    got = api.read("security-group", sg["uuid"])
    assert [r["rule_uuid"] for r in got["security_group_entries"]["policy_rule"]] == \
        [r["rule_uuid"] for r in rules]
    assert got["security_group_id"] > 8000000


def test_delete_vmi_refused_while_instance_ip_refers(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/24"])
    vmi = t.vmi(vn)
    iip = t.iip(vn, virtual_machine_interface_refs=[{"to": vmi["fq_name"]}])
    r = expect(api.delete(f"/virtual-machine-interface/{vmi['uuid']}"), 409)
    assert iip["uuid"] in r.text
    api.remove("instance-ip", iip["uuid"])
    api.remove("virtual-machine-interface", vmi["uuid"])
    api.remove("virtual-network", vn["uuid"])
    api.remove("network-ipam", t.ipam()["uuid"])
    api.remove("project", t.uuid)
