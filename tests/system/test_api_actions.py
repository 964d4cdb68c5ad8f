"""Action endpoints (spec 1.6): name/id mapping, ref-update, ref-relax-for-delete,
property collections, useragent-kv, chown, chmod, aaa-mode, obj-perms."""

import uuid as uuidlib

from conftest import expect, unique


# ---- /fqname-to-id, /id-to-fqname ----

def test_fqname_to_id_and_back(api):
    t = api.project()
    vn = t.vn("named")
    r = expect(api.fq_to_id_raw("virtual-network", t.fq + ["named"]), 200)
    assert r.json() == {"uuid": vn["uuid"]}
    r = expect(api.post("/id-to-fqname", {"uuid": vn["uuid"]}), 200)
    assert r.json() == {"fq_name": t.fq + ["named"], "type": "virtual-network"}
    r = expect(api.post("/id-to-fqname", {"uuid": t.uuid}), 200)
    assert r.json() == {"fq_name": t.fq, "type": "project"}


def test_fqname_to_id_not_found(api):
    r = expect(api.fq_to_id_raw("virtual-network", ["default-domain", "nope", "nope"]), 404)
    assert "not found" in r.text.lower()
    # right name, wrong type
    t = api.project()
    t.vn("typed")
    expect(api.fq_to_id_raw("network-ipam", t.fq + ["typed"]), 404)


def test_id_to_fqname_not_found(api):
    expect(api.post("/id-to-fqname", {"uuid": str(uuidlib.uuid4())}), 404)


# ---- /ref-update ----

def test_ref_update_add_attr_rewrite_delete(api):
    t = api.project()
    vn = t.vn()
    pol = t.policy()
    r = expect(api.ref_update("virtual-network", vn["uuid"], "network-policy", pol["uuid"],
                              attr={"sequence": {"major": 1, "minor": 2}}), 200)
    assert r.json() == {"uuid": vn["uuid"]}
    got = api.read("virtual-network", vn["uuid"])
    [ref] = got["network_policy_refs"]
    assert ref["uuid"] == pol["uuid"] and ref["to"] == pol["fq_name"]
    assert ref["attr"]["sequence"] == {"major": 1, "minor": 2}
    back = api.read("network-policy", pol["uuid"])["virtual_network_back_refs"]
    assert [b["uuid"] for b in back] == [vn["uuid"]]

    # ADD on an existing ref just rewrites its attr
    expect(api.ref_update("virtual-network", vn["uuid"], "network-policy", pol["uuid"],
                          attr={"sequence": {"major": 7, "minor": 0}}), 200)
    [ref] = api.read("virtual-network", vn["uuid"])["network_policy_refs"]
    assert ref["attr"]["sequence"] == {"major": 7, "minor": 0}

    r = expect(api.ref_update("virtual-network", vn["uuid"], "network-policy", pol["uuid"],
                              op="DELETE"), 200)
    assert r.json() == {"uuid": vn["uuid"]}
    assert not api.read("virtual-network", vn["uuid"]).get("network_policy_refs")
    assert not api.read("network-policy", pol["uuid"]).get("virtual_network_back_refs")
    api.remove("network-policy", pol["uuid"])


def test_ref_update_by_fq_name_and_without_attr(api):
    t = api.project()
    vn = t.vn()
    vmi = t.vmi(vn)
    sg = t.sg()
    expect(api.ref_update("virtual-machine-interface", vmi["uuid"], "security-group",
                          ref_fq=sg["fq_name"]), 200)
    [ref] = api.read("virtual-machine-interface", vmi["uuid"])["security_group_refs"]
    assert ref["uuid"] == sg["uuid"]
    assert ref["to"] == sg["fq_name"]
    assert ref["attr"] is None
    expect(api.delete(f"/security-group/{sg['uuid']}"), 409)
    expect(api.ref_update("virtual-machine-interface", vmi["uuid"], "security-group",
                          ref_fq=sg["fq_name"], op="DELETE"), 200)
    api.remove("security-group", sg["uuid"])


def test_ref_update_errors(api):
    t = api.project()
    vn = t.vn()
    pol = t.policy()
    # missing referrer
    expect(api.ref_update("virtual-network", str(uuidlib.uuid4()), "network-policy",
                          pol["uuid"]), 404)
    # missing target
    expect(api.ref_update("virtual-network", vn["uuid"], "network-policy",
                          str(uuidlib.uuid4())), 404)
    expect(api.ref_update("virtual-network", vn["uuid"], "network-policy",
                          ref_fq=t.fq + ["no-such-policy"]), 404)
    # bad operation
    r = api.ref_update("virtual-network", vn["uuid"], "network-policy", pol["uuid"], op="FOO")
    expect(r, 400)
    # ref type the VN does not have
    r = api.ref_update("virtual-network", vn["uuid"], "domain",
                       api.fq_to_id("domain", ["default-domain"]))
    expect(r, 400)
    assert not api.read("virtual-network", vn["uuid"]).get("network_policy_refs")


def test_ref_update_bad_attr_rejected(api):
    t = api.project()
    vn = t.vn()
    pol = t.policy()
    r = api.ref_update("virtual-network", vn["uuid"], "network-policy", pol["uuid"],
                       attr={"sequence": {"major": "not-a-number", "minor": 0}})
    expect(r, 400)
    assert "major" in r.text


# ---- /ref-relax-for-delete ----

def test_ref_relax_for_delete(api):
    t = api.project()
    pol = t.policy()
    vn = t.vn(network_policy_refs=[{"to": pol["fq_name"],
                                    "attr": {"sequence": {"major": 0, "minor": 0}}}])
    r = expect(api.delete(f"/network-policy/{pol['uuid']}"), 409)
    assert "still referred" in r.text
    r = expect(api.post("/ref-relax-for-delete", {"uuid": vn["uuid"], "ref-uuid": pol["uuid"]}),
               200)
    assert r.json() == {"uuid": vn["uuid"]}
    api.remove("network-policy", pol["uuid"])
    expect(api.read_raw("network-policy", pol["uuid"]), 404)
    api.read("virtual-network", vn["uuid"])
    api.remove("virtual-network", vn["uuid"])


def test_ref_relax_only_relaxes_that_ref(api):
    t = api.project()
    pol = t.policy()
    vn1 = t.vn(network_policy_refs=[{"to": pol["fq_name"],
                                     "attr": {"sequence": {"major": 0, "minor": 0}}}])
    vn2 = t.vn(network_policy_refs=[{"to": pol["fq_name"],
                                     "attr": {"sequence": {"major": 0, "minor": 0}}}])
    expect(api.post("/ref-relax-for-delete", {"uuid": vn1["uuid"], "ref-uuid": pol["uuid"]}),
           200)
    r = expect(api.delete(f"/network-policy/{pol['uuid']}"), 409)
    assert vn2["uuid"] in r.text
    assert vn1["uuid"] not in r.text


def test_ref_relax_errors(api):
    t = api.project()
    vn = t.vn()
    pol = t.policy()
    r = api.post("/ref-relax-for-delete", {"uuid": str(uuidlib.uuid4()), "ref-uuid": pol["uuid"]})
    expect(r, 404)
    r = api.post("/ref-relax-for-delete", {"uuid": vn["uuid"]})
    expect(r, 400)


# ---- /prop-collection-get, /prop-collection-update ----

def pc_get(api, uid, fields, **params):
    r = expect(api.get("/prop-collection-get", params=dict(uuid=uid, fields=fields, **params)),
               200)
    return r.json()


def pc_update(api, uid, *updates):
    return api.post("/prop-collection-update", {"uuid": uid, "updates": list(updates)})


def test_prop_collection_map(api):
    t = api.project()
    vn = t.vn()
    vmi = t.vmi(vn, virtual_machine_interface_bindings={"key_value_pair": [
        {"key": "host_id", "value": "compute1"}, {"key": "foo", "value": "bar"}]})
    j = pc_get(api, vmi["uuid"], "virtual_machine_interface_bindings")
    items = j["virtual_machine_interface_bindings"]
    for item in items:
        assert isinstance(item, list) and len(item) == 2, item
        value, position = item
        assert value["key"] == position, item        # map position = key
    kv = {v["key"]: v["value"] for v, _ in items}
    assert kv["host_id"] == "compute1" and kv["foo"] == "bar"

    j = pc_get(api, vmi["uuid"], "virtual_machine_interface_bindings", position="host_id")
    assert j["virtual_machine_interface_bindings"] == [[{"key": "host_id", "value": "compute1"},
                                                        "host_id"]]

    expect(pc_update(api, vmi["uuid"],
                     {"field": "virtual_machine_interface_bindings", "operation": "set",
                      "value": {"key": "k2", "value": "v2"}},
                     {"field": "virtual_machine_interface_bindings", "operation": "set",
                      "value": {"key": "host_id", "value": "compute2"}},
                     {"field": "virtual_machine_interface_bindings", "operation": "delete",
                      "position": "foo"}), 200)
    kv = {v["key"]: v["value"] for v, _ in
          pc_get(api, vmi["uuid"], "virtual_machine_interface_bindings")[
              "virtual_machine_interface_bindings"]}
    assert kv["k2"] == "v2" and kv["host_id"] == "compute2" and "foo" not in kv
    got = api.read("virtual-machine-interface", vmi["uuid"])
    kv2 = {p["key"]: p["value"] for p in
           got["virtual_machine_interface_bindings"]["key_value_pair"]}
    assert kv2 == kv


def test_prop_collection_annotations_map(api):
    t = api.project()
    vn = t.vn(annotations={"key_value_pair": [{"key": "a", "value": "1"}]})
    expect(pc_update(api, vn["uuid"], {"field": "annotations", "operation": "set",
                                       "value": {"key": "b", "value": "2"}}), 200)
    j = pc_get(api, vn["uuid"], "annotations")
    assert sorted(j["annotations"], key=lambda x: x[1]) == [
        [{"key": "a", "value": "1"}, "a"], [{"key": "b", "value": "2"}, "b"]]


def test_prop_collection_list(api):
    t = api.project()
    vn = t.vn(virtual_network_fat_flow_protocols={"fat_flow_protocol": [
        {"protocol": "tcp", "port": 80}, {"protocol": "udp", "port": 53}]})
    f = "virtual_network_fat_flow_protocols"
    items = pc_get(api, vn["uuid"], f)[f]
    assert len(items) == 2
    for item in items:
        assert isinstance(item, list) and len(item) == 2 and isinstance(item[1], str), item
    pos = {v["port"]: p for v, p in items}
    assert set(pos) == {80, 53}
    assert len(set(pos.values())) == 2

    expect(pc_update(api, vn["uuid"], {"field": f, "operation": "add",
                                       "value": {"protocol": "tcp", "port": 443}}), 200)
    expect(pc_update(api, vn["uuid"], {"field": f, "operation": "modify",
                                       "value": {"protocol": "tcp", "port": 8080},
                                       "position": pos[80]}), 200)
    expect(pc_update(api, vn["uuid"], {"field": f, "operation": "delete",
                                       "position": pos[53]}), 200)
    items = pc_get(api, vn["uuid"], f)[f]
    assert sorted(v["port"] for v, _ in items) == [443, 8080]
    assert [p for v, p in items if v["port"] == 8080] == [pos[80]]
    one = pc_get(api, vn["uuid"], f, position=pos[80])[f]
    assert len(one) == 1 and one[0][0]["port"] == 8080 and one[0][1] == pos[80], one
    got = api.read("virtual-network", vn["uuid"])
    assert sorted(x["port"] for x in got[f]["fat_flow_protocol"]) == [443, 8080]


def test_prop_collection_errors(api):
    t = api.project()
    vn = t.vn()
    # not a collection property
    expect(api.get("/prop-collection-get", params={"uuid": vn["uuid"],
                                                   "fields": "display_name"}), 400)
    expect(api.get("/prop-collection-get", params={"uuid": vn["uuid"],
                                                   "fields": "no_such_field"}), 400)
    expect(api.get("/prop-collection-get", params={"uuid": str(uuidlib.uuid4()),
                                                   "fields": "annotations"}), 404)
    expect(pc_update(api, vn["uuid"], {"field": "display_name", "operation": "set",
                                       "value": "x"}), 400)
    # list operation on a map / bad operation
    expect(pc_update(api, vn["uuid"], {"field": "annotations", "operation": "frobnicate",
                                       "value": {"key": "a", "value": "b"}}), 400)
    expect(pc_update(api, str(uuidlib.uuid4()), {"field": "annotations", "operation": "set",
                                                 "value": {"key": "a", "value": "b"}}), 404)
    # bad element value is validated like a property
    r = pc_update(api, vn["uuid"], {"field": "virtual_network_fat_flow_protocols",
                                    "operation": "add",
                                    "value": {"protocol": "tcp", "port": "eighty"}})
    expect(r, 400)
    assert "port" in r.text


# ---- /useragent-kv ----

def test_useragent_kv(api):
    key = unique("ua-key")
    expect(api.post("/useragent-kv", {"operation": "STORE", "key": key, "value": "v1"}), 200)
    r = expect(api.post("/useragent-kv", {"operation": "RETRIEVE", "key": key}), 200)
    assert r.json() == {"value": "v1"}
    expect(api.post("/useragent-kv", {"operation": "STORE", "key": key, "value": "v2"}), 200)
    assert api.post("/useragent-kv", {"operation": "RETRIEVE", "key": key}).json() == \
        {"value": "v2"}
    expect(api.post("/useragent-kv", {"operation": "DELETE", "key": key}), 200)
    expect(api.post("/useragent-kv", {"operation": "RETRIEVE", "key": key}), 404)
    expect(api.post("/useragent-kv", {"operation": "RETRIEVE", "key": unique("none")}), 404)
    expect(api.post("/useragent-kv", {"operation": "EXPLODE", "key": key}), 400)


# ---- /chown, /chmod ----

def test_chown(api):
    t = api.project()
    other = api.project()
    vn = t.vn()
    expect(api.post("/chown", {"uuid": vn["uuid"], "owner": other.uuid}), 200)
    owner = api.read("virtual-network", vn["uuid"])["perms2"]["owner"]
    assert owner.replace("-", "") == other.uuid.replace("-", "")
    expect(api.post("/chown", {"uuid": str(uuidlib.uuid4()), "owner": other.uuid}), 404)


def test_chmod(api):
    t = api.project()
    other = api.project()
    vn = t.vn()
    body = {"uuid": vn["uuid"], "owner_access": 6, "global_access": 4,
            "share": [{"tenant": other.uuid, "tenant_access": 5}]}
    expect(api.post("/chmod", body), 200)
    p2 = api.read("virtual-network", vn["uuid"])["perms2"]
    assert p2["owner_access"] == 6
    assert p2["global_access"] == 4
    assert [(s["tenant"].replace("-", ""), s["tenant_access"]) for s in p2["share"]] == \
        [(other.uuid.replace("-", ""), 5)]
    # chmod with owner
    expect(api.post("/chmod", {"uuid": vn["uuid"], "owner": other.uuid, "owner_access": 7}),
           200)
    p2 = api.read("virtual-network", vn["uuid"])["perms2"]
    assert p2["owner"].replace("-", "") == other.uuid.replace("-", "")
    assert p2["owner_access"] == 7
    assert p2["global_access"] == 4


def test_chmod_rejects_bad_access(api):
    t = api.project()
    vn = t.vn()
    r = api.post("/chmod", {"uuid": vn["uuid"], "global_access": 8})
    expect(r, 400)
    r = api.post("/chmod", {"uuid": vn["uuid"], "share": [{"tenant": "x", "tenant_access": -1}]})
    expect(r, 400)
    expect(api.post("/chmod", {"uuid": str(uuidlib.uuid4()), "global_access": 5}), 404)
    assert api.read("virtual-network", vn["uuid"])["perms2"]["global_access"] == 0


def test_is_shared_sets_global_access(api):
    t = api.project()
    vn = t.vn(is_shared=True)
    assert vn["perms2"]["global_access"] == 7


# ---- /aaa-mode, /obj-perms ----

def test_aaa_mode_get(api):
    r = expect(api.get("/aaa-mode"), 200)
    assert r.json()["aaa-mode"] in ("no-auth", "cloud-admin", "rbac")


def test_obj_perms(api):
    t = api.project()
    vn = t.vn()
    expect(api.get("/obj-perms", params={"uuid": vn["uuid"]}), 200)
    expect(api.get("/obj-perms", params={"uuid": str(uuidlib.uuid4())}), 404)


def test_ref_update_add_with_relax_flag(api):
    t = api.project()
    vn = t.vn()
    pol = t.policy()
    body = {"type": "virtual-network", "uuid": vn["uuid"], "ref-type": "network-policy",
            "ref-uuid": pol["uuid"], "operation": "ADD",
            "attr": {"sequence": {"major": 0, "minor": 0}}, "relax_ref_for_delete": True}
    expect(api.post("/ref-update", body), 200)
    assert api.read("virtual-network", vn["uuid"])["network_policy_refs"][0]["uuid"] == \
        pol["uuid"]
    api.remove("network-policy", pol["uuid"])


def test_put_perms2(api):
    t = api.project()
    other = api.project()
    vn = t.vn()
    r = api.update_raw("virtual-network", vn["uuid"], {"perms2": {"owner_access": 7}})
    expect(r, 400)
    assert "owner" in r.text
    api.update("virtual-network", vn["uuid"], {"perms2": {
        "owner": other.uuid, "owner_access": 7, "global_access": 5,
        "share": [{"tenant": t.uuid, "tenant_access": 4}]}})
    p2 = api.read("virtual-network", vn["uuid"])["perms2"]
    assert p2["owner"].replace("-", "") == other.uuid.replace("-", "")
    assert p2["global_access"] == 5
    assert [(s["tenant"].replace("-", ""), s["tenant_access"]) for s in p2["share"]] == \
        [(t.uuid.replace("-", ""), 4)]
