"""Error codes and bodies (spec 1.7, 1.8): bad input gets a 4xx naming the problem, and no
input, however broken, takes the daemon down."""

import json
import uuid as uuidlib

import pytest
import requests

from conftest import expect, unique

VNP_OK = {"vxlan_network_identifier": 5000, "forwarding_mode": "l2_l3"}


def assert_alive(api):
    assert api.alive(), "contrail-api stopped answering GET /"


# ---- 400: body and naming ----

def test_malformed_json(api):
    for raw in [b'{"virtual-network": ', b"not json", b"{'single': 'quotes'}",
                b'{"virtual-network": {"fq_name": ["a", "b", "c"],}}', b"\xff\xfe\x00garbage"]:
        r = api.post("/virtual-networks", data=raw,
                     headers={"Content-Type": "application/json"})
        assert r.status_code == 400, f"{raw!r}: {r.status_code} {r.text[:200]}"
        assert_alive(api)


def test_missing_fq_name(api):
    t = api.project()
    r = api.create_raw("virtual-network", {"parent_type": "project"})
    expect(r, 400)
    assert "fq_name" in r.text
    r = api.create_raw("virtual-network", {"parent_type": "project",
                                           "display_name": t.fq[-1]})
    expect(r, 400)


def test_body_shape_errors(api):
    t = api.project()
    fq = t.fq + [unique("vn")]
    bad = [
        [],                                                   # not an object
        "virtual-network",
        {},                                                   # no wrapper
        {"network-ipam": {"fq_name": fq}},                    # wrapper of another type
        {"virtual-network": None},
        {"virtual-network": [fq]},
        {"virtual-network": {"fq_name": ":".join(fq)}},       # fq_name must be a list
        {"virtual-network": {"fq_name": []}},
        {"virtual-network": {"fq_name": [1, 2, 3]}},
        {"virtual-network": {"fq_name": fq[:-1] + [""]}},
    ]
    for body in bad:
        r = api.post("/virtual-networks", body)
        assert r.status_code == 400, f"{body!r}: {r.status_code} {r.text[:200]}"
    expect(api.fq_to_id_raw("virtual-network", fq), 404)


def test_unknown_field(api):
    t = api.project()
    r = api.create_raw("virtual-network", t.vn_body(bogus_field=1))
    expect(r, 400)
    assert "bogus_field" in r.text
    r = api.create_raw("virtual-network", t.vn_body(
        virtual_network_properties=dict(VNP_OK, no_such_subfield=True)))
    expect(r, 400)
    assert "no_such_subfield" in r.text
    vn = t.vn()
    r = api.update_raw("virtual-network", vn["uuid"], {"bogus_field": 1})
    expect(r, 400)
    assert "bogus_field" in r.text


def test_bad_enum_names_field(api):
    t = api.project()
    r = api.create_raw("virtual-network", t.vn_body(
        virtual_network_properties=dict(VNP_OK, forwarding_mode="bogus")))
    expect(r, 400)
    assert "forwarding_mode" in r.text
    r = api.create_raw("virtual-network", t.vn_body(address_allocation_mode="whatever"))
    expect(r, 400)
    assert "address_allocation_mode" in r.text


@pytest.mark.parametrize("value", [0, 16777216, -1])
def test_out_of_range_names_field(api, value):
    t = api.project()
    r = api.create_raw("virtual-network", t.vn_body(
        virtual_network_properties=dict(VNP_OK, vxlan_network_identifier=value)))
    expect(r, 400)
    assert "vxlan_network_identifier" in r.text


def test_range_edges_accepted(api):
    t = api.project()
    for v in (1, 16777215):
        vn = t.vn(virtual_network_properties=dict(VNP_OK, vxlan_network_identifier=v))
        assert vn["virtual_network_properties"]["vxlan_network_identifier"] == v


def test_wrong_type_names_field(api):
    t = api.project()
    cases = [
        ("router_external", {"router_external": "yes"}),
        ("vxlan_network_identifier", {"virtual_network_properties":
                                      dict(VNP_OK, vxlan_network_identifier="abc")}),
        ("virtual_network_properties", {"virtual_network_properties": "l2_l3"}),
        ("display_name", {"display_name": {"a": 1}}),
        ("route_target", {"route_target_list": {"route_target": "target:64512:1"}}),
    ]
    for field, props in cases:
        r = api.create_raw("virtual-network", t.vn_body(**props))
        assert r.status_code == 400, f"{props}: {r.status_code} {r.text[:200]}"
        assert field in r.text, f"{props}: message does not name {field}: {r.text[:200]}"


def test_nested_list_element_validated(api):
    t = api.project()
    rule = {"direction": "<<", "protocol": "tcp",
            "src_addresses": [{"virtual_network": "any"}],
            "src_ports": [{"start_port": -1, "end_port": -1}],
            "dst_addresses": [{"virtual_network": "any"}],
            "dst_ports": [{"start_port": 80, "end_port": 80}],
            "action_list": {"simple_action": "pass"}}
    r = api.create_raw("network-policy", {"parent_type": "project",
                                          "fq_name": t.fq + [unique("pol")],
                                          "network_policy_entries": {"policy_rule": [rule]}})
    expect(r, 400)
    assert "direction" in r.text
    rule = dict(rule, direction=">", dst_ports=[{"start_port": 80, "end_port": 70000}])
    r = api.create_raw("network-policy", {"parent_type": "project",
                                          "fq_name": t.fq + [unique("pol")],
                                          "network_policy_entries": {"policy_rule": [rule]}})
    expect(r, 400)
    assert "end_port" in r.text


def test_put_validation_leaves_object_unchanged(api):
    t = api.project()
    vn = t.vn(virtual_network_properties=VNP_OK, display_name="keep")
    r = api.update_raw("virtual-network", vn["uuid"], {
        "display_name": "changed",
        "virtual_network_properties": dict(VNP_OK, forwarding_mode="nope")})
    expect(r, 400)
    assert "forwarding_mode" in r.text
    got = api.read("virtual-network", vn["uuid"])
    assert got["display_name"] == "keep"
    assert got["virtual_network_properties"]["forwarding_mode"] == "l2_l3"


# ---- 400: names and parents ----

def test_bad_parent_type(api):
    t = api.project()
    vn = t.vn()
    r = api.create_raw("project", {"parent_type": "virtual-network",
                                   "fq_name": vn["fq_name"] + ["p"]})
    expect(r, 400)
    assert "parent type" in r.text.lower()
    r = api.create_raw("virtual-network", {"parent_type": "no-such-type",
                                           "fq_name": t.fq + [unique("vn")]})
    expect(r, 400)


def test_parent_missing(api):
    r = api.create_raw("virtual-network", {"parent_type": "project",
                                           "fq_name": ["default-domain", unique("ghost"), "vn"]})
    expect(r, 400)
    assert "does not exist" in r.text


def test_wrong_fq_name_length(api):
    t = api.project()
    for fq in (["only-one"], t.fq + ["a", "b"], ["default-domain"]):
        r = api.create_raw("virtual-network", {"parent_type": "project", "fq_name": fq})
        assert r.status_code == 400, f"{fq}: {r.status_code} {r.text[:200]}"
    r = api.create_raw("instance-ip", {"fq_name": ["a", "b"]})
    expect(r, 400)


def test_colon_in_name(api):
    t = api.project()
    r = api.create_raw("virtual-network", {"parent_type": "project",
                                           "fq_name": t.fq + ["a:b"]})
    expect(r, 400)
    # route-target names are the exception
    name = f"target:64512:{7000000 + uuidlib.uuid4().int % 999999}"
    rt = api.create("route-target", {"fq_name": [name]})
    assert api.read("route-target", rt["uuid"])["fq_name"] == [name]


def test_xml_illegal_chars_in_name(api):
    t = api.project()
    problems = []
    # characters XML cannot carry (IF-MAP identifiers are XML)
    for bad in ("nul\u0000x", "bell\u0007", "esc\u001b", "us\u001f", "nonchar\ufffe"):
        r = api.create_raw("virtual-network", {"parent_type": "project",
                                               "fq_name": t.fq + [bad]})
        if r.status_code != 400:
            problems.append(f"{bad!r}: {r.status_code} {r.text[:100]}")
    assert not problems, "accepted a name XML cannot carry:\n" + "\n".join(problems)


def test_parent_type_required_when_several_parents(api):
    t = api.project()
    vn = t.vn()
    r = api.create_raw("virtual-machine-interface", {
        "fq_name": t.fq + [unique("port")], "virtual_network_refs": [{"to": vn["fq_name"]}]})
    expect(r, 400)


def test_bad_uuid(api):
    t = api.project()
    problems = []
    for bad in ("not-a-uuid", "1234", "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d0",
                # valid but not canonical
                "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d", "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
                "{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}"):
        r = api.create_raw("virtual-network", t.vn_body(uuid=bad))
        if r.status_code != 400:
            problems.append(f"{bad!r}: {r.status_code} {r.text[:100]}")
    assert not problems, "accepted a non-canonical uuid:\n" + "\n".join(problems)


# ---- 404 ----

def test_not_found(api):
    t = api.project()
    vn = t.vn()
    u = str(uuidlib.uuid4())
    expect(api.read_raw("virtual-network", u), 404)
    expect(api.read_raw("network-ipam", vn["uuid"]), 404)      # uuid of another type
    expect(api.delete(f"/virtual-network/{u}"), 404)
    expect(api.delete(f"/network-ipam/{vn['uuid']}"), 404)
    api.read("virtual-network", vn["uuid"])
    expect(api.get("/no-such-type/" + u), 404)
    expect(api.post("/no-such-types", {"no-such-type": {"fq_name": ["x"]}}), 404)
    expect(api.get("/definitely/not/a/path"), 404)
    r = api.read_raw("virtual-network", "not-a-uuid")
    assert r.status_code in (400, 404), r.status_code


def test_missing_ref_target(api):
    t = api.project()
    r = api.create_raw("virtual-network", t.vn_body(network_policy_refs=[
        {"to": t.fq + ["no-such-policy"], "attr": {"sequence": {"major": 0, "minor": 0}}}]))
    assert r.status_code in (400, 404), r.status_code
    r = api.create_raw("virtual-network", t.vn_body(network_policy_refs=[
        {"uuid": str(uuidlib.uuid4()), "attr": {"sequence": {"major": 0, "minor": 0}}}]))
    assert r.status_code in (400, 404), r.status_code
    # a ref given by uuid to an object of another type
    r = api.create_raw("virtual-network", t.vn_body(network_policy_refs=[
        {"uuid": t.uuid, "attr": {"sequence": {"major": 0, "minor": 0}}}]))
    assert r.status_code in (400, 404), r.status_code
    # a ref type the schema does not have
    r = api.create_raw("virtual-network", t.vn_body(domain_refs=[{"to": ["default-domain"]}]))
    expect(r, 400)
    assert api.list_uuids("virtual-network", parent_id=t.uuid) == \
        {api.fq_to_id("virtual-network", t.fq + ["default-virtual-network"])}


# ---- 409 ----

def test_duplicate_fq_name(api):
    t = api.project()
    vn = t.vn("dup")
    r = api.create_raw("virtual-network", {"parent_type": "project", "fq_name": t.fq + ["dup"]})
    expect(r, 409)
    assert "already exists" in r.text
    assert vn["uuid"] in r.text
    assert r.headers["Content-Type"].startswith("text/plain"), "error bodies are plain text"
    # the same name under another parent is fine
    other = api.project()
    other.vn("dup")
    # the same name for another type is fine
    api.create("network-policy", {"parent_type": "project", "fq_name": t.fq + ["dup"]})


def test_duplicate_uuid(api):
    t = api.project()
    vn = t.vn()
    r = api.create_raw("network-policy", {"parent_type": "project",
                                          "fq_name": t.fq + [unique("pol")],
                                          "uuid": vn["uuid"]})
    expect(r, 409)
    assert api.read("virtual-network", vn["uuid"])["fq_name"] == vn["fq_name"]


# ---- 412 ----

def test_quota_exceeded(api):
    t = api.project(quota={"security_group": 2})
    t.sg()
    t.sg()
    r = api.create_raw("security-group", {"parent_type": "project",
                                          "fq_name": t.fq + [unique("sg")],
                                          "security_group_entries": {"policy_rule": []}})
    expect(r, 412)
    assert "quota" in r.text and "exceeded" in r.text
    assert "security_group" in r.text
    # other types are not limited
    t.vn()
    # raising the quota lets it through
    api.update("project", t.uuid, {"quota": {"security_group": 3}})
    t.sg()


# ---- garbage never crashes the daemon ----

CLIENT_ERR = tuple(range(400, 500))
OK200 = CLIENT_ERR + (200,)     # harmless junk a server may also just ignore

# (method, path, body[, allowed statuses]); default: a 4xx
GARBAGE = [
    ("POST", "/virtual-networks", b"\x00" * 64),
    ("POST", "/virtual-networks", b"[" * 5000 + b"]" * 5000),
    ("POST", "/virtual-networks", b'{"virtual-network": ' * 3000),
    ("POST", "/virtual-networks", b"null"),
    ("POST", "/virtual-networks", b'"just a string"'),
    ("POST", "/virtual-networks", b"123456789012345678901234567890"),
    ("POST", "/virtual-networks", b'{"virtual-network": {"fq_name": null}}'),
    ("POST", "/virtual-networks", b'{"virtual-network": {"fq_name": [null, {}, []]}}'),
    ("POST", "/virtual-networks", b'{"virtual-network": {"fq_name": ["default-domain", '
                                  b'"default-project", "x"], "network_ipam_refs": 5}}'),
    ("POST", "/virtual-networks", b'{"virtual-network": {"fq_name": ["default-domain", '
                                  b'"default-project", "x"], "network_ipam_refs": [5, null]}}'),
    ("POST", "/virtual-networks", b'{"virtual-network": {"fq_name": ["default-domain", '
                                  b'"default-project", "x"], "network_ipam_refs": [{"to": 1, '
                                  b'"attr": {"ipam_subnets": [{"subnet": 7}]}}]}}'),
    ("POST", "/virtual-networks", b'{"virtual-network": {"fq_name": ["default-domain", '
                                  b'"default-project", "x"], "id_perms": "x", "perms2": 3}}'),
    ("POST", "/virtual-networks", b'{"virtual-network": {"fq_name": ["default-domain", '
                                  b'"default-project", "x"], "parent_type": 42}}'),
    ("POST", "/virtual-networks", b'{"virtual-network": {"fq_name": ["default-domain", '
                                  b'"default-project", "x"], "uuid": 42}}'),
    ("POST", "/virtual-networks", "{\"virtual-network\": {\"fq_name\": [\"\u00e9\u2603\", "
                                  "\"\ud83d\ude00\", \"x\"]}}".encode("utf-8", "surrogatepass")),
    ("POST", "/instance-ips", b'{"instance-ip": {"fq_name": ["g1"], "virtual_network_refs": '
                              b'[{"to": ["default-domain", "default-project", '
                              b'"default-virtual-network"]}], "instance_ip_address": "999.1.1.1"}}'),
    ("POST", "/instance-ips", b'{"instance-ip": {"fq_name": ["g2"], "virtual_network_refs": '
                              b'[{"to": ["default-domain", "default-project", '
                              b'"default-virtual-network"]}]}}'),
    ("POST", "/instance-ips", b'{"instance-ip": {"fq_name": ["g3"], "virtual_network_refs": '
                              b'[{"to": ["default-domain", "default-project", '
                              b'"default-virtual-network"]}], "instance_ip_family": "v9"}}'),
    ("POST", "/fqname-to-id", b'{"type": "virtual-network", "fq_name": "abc"}'),
    ("POST", "/fqname-to-id", b'{"type": 5, "fq_name": [1]}'),
    ("POST", "/fqname-to-id", b"{}"),
    ("POST", "/id-to-fqname", b'{"uuid": 12}'),
    ("POST", "/id-to-fqname", b'{"uuid": "not-a-uuid"}'),
    ("POST", "/id-to-fqname", b"[]"),
    ("POST", "/ref-update", b"{}"),
    ("POST", "/ref-update", b'{"type": "virtual-network", "uuid": null, "ref-type": 3, '
                            b'"operation": "ADD"}'),
    ("POST", "/ref-update", b'{"type": "nope", "uuid": "x", "ref-type": "nope", '
                            b'"ref-uuid": "y", "operation": "ADD"}'),
    ("POST", "/ref-relax-for-delete", b'{"uuid": [], "ref-uuid": {}}'),
    ("POST", "/prop-collection-update", b'{"uuid": "x", "updates": "nope"}'),
    ("POST", "/prop-collection-update", b'{"uuid": "x", "updates": [1, null, "a"]}'),
    ("GET", "/prop-collection-get", b""),
    ("GET", "/prop-collection-get?uuid=&fields=", b""),
    ("POST", "/useragent-kv", b'{"operation": null}'),
    ("POST", "/useragent-kv", b'{"operation": "STORE"}'),
    ("POST", "/chown", b'{"uuid": "x"}'),
    ("POST", "/chmod", b'{"uuid": "x", "share": "all"}'),
    ("POST", "/list-bulk-collection", b"{}"),
    ("POST", "/list-bulk-collection", b'{"type": "virtual-network", "obj_uuids": 5, '
                                      b'"fields": 7, "filters": 9, "page_limit": "x"}'),
    ("GET", "/virtual-networks?page_limit=abc", b""),
    ("GET", "/virtual-networks?page_limit=-5", b""),
    ("GET", "/virtual-networks?page_marker=not-a-uuid&page_limit=2", b"", OK200),
    ("GET", "/virtual-networks?filters=garbage", b""),
    ("GET", "/virtual-networks?filters===,==,a==", b""),
    ("GET", "/virtual-networks?parent_id=not-a-uuid", b"", OK200),
    ("GET", "/virtual-networks?back_ref_id=,,,", b"", OK200),
    ("GET", "/virtual-networks?obj_uuids=%00%01", b"", OK200),
    ("GET", "/virtual-networks?fields=" + "a," * 2000, b"", OK200),
    ("GET", "/virtual-networks?parent_fq_name_str=:::&parent_type=nope", b"", OK200),
    ("GET", "/virtual-network/" + "a" * 5000, b""),
    ("GET", "/virtual-network/%00%ff%fe", b""),
    ("GET", "/../../../etc/passwd", b""),
    ("PUT", "/virtual-networks", b"{}"),
    ("DELETE", "/virtual-networks", b""),
    ("PATCH", "/virtual-networks", b"{}", CLIENT_ERR + (501,)),
    ("PUT", "/virtual-network/" + str(uuidlib.UUID(int=1)), b"not json"),
    ("POST", "/virtual-network/" + str(uuidlib.UUID(int=1)) + "/ip-alloc", b'{"count": -1}'),
    ("POST", "/virtual-network/x/ip-free", b'{"ip_addr": "nope"}'),
    ("POST", "/virtual-network/x/subnet-ip-count", b'{"subnet_list": [1, 2]}'),
]


def test_garbage_never_crashes(api):
    problems = []
    for method, path, body, *allowed in GARBAGE:
        allowed = allowed[0] if allowed else CLIENT_ERR
        try:
            r = api.request(method, path, data=body,
                            headers={"Content-Type": "application/json"})
            if r.status_code not in allowed:
                problems.append(f"{method} {path[:60]} {body[:60]!r} -> {r.status_code} "
                                f"{r.text[:120]!r}")
        except requests.RequestException as e:
            problems.append(f"{method} {path[:60]} {body[:60]!r} -> {type(e).__name__}")
        if not api.alive():
            pytest.fail(f"daemon died after {method} {path[:80]} {body[:80]!r}")
    assert not problems, "garbage not answered as expected:\n" + "\n".join(problems)


def test_garbage_on_existing_objects(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/24"])
    u = vn["uuid"]
    cases = [
        ("PUT", f"/virtual-network/{u}", b"[]"),
        ("PUT", f"/virtual-network/{u}", b'{"virtual-network": 5}'),
        ("PUT", f"/virtual-network/{u}", b'{"virtual-network": {"network_ipam_refs": "x"}}'),
        ("PUT", f"/virtual-network/{u}", b'{"virtual-network": {"network_ipam_refs": '
                                         b'[{"to": 5}]}}'),
        ("PUT", f"/virtual-network/{u}", b'{"virtual-network": {"perms2": {"owner_access": 99}}}'),
        ("PUT", f"/virtual-network/{u}", b'{"virtual-network": {"id_perms": {"enable": "x"}}}'),
        ("POST", f"/virtual-network/{u}/ip-alloc", b'{"count": 100000000}'),
        ("POST", f"/virtual-network/{u}/ip-alloc", b'{"family": "v7"}'),
        ("POST", f"/virtual-network/{u}/ip-free", b'{"ip_addr": ["not-an-ip", 5]}'),
        ("POST", f"/virtual-network/{u}/subnet-ip-count", b'{"subnet_list": ["x/99"]}'),
        ("POST", "/prop-collection-update",
         json.dumps({"uuid": u, "updates": [{"field": "annotations", "operation": "set",
                                             "value": 5}]}).encode()),
        ("POST", "/prop-collection-update",
         json.dumps({"uuid": u, "updates": [{"field": "virtual_network_fat_flow_protocols",
                                             "operation": "modify", "position": "999",
                                             "value": {"protocol": "tcp", "port": 1}}]}).encode()),
        ("POST", "/ref-update",
         json.dumps({"type": "virtual-network", "uuid": u, "ref-type": "network-ipam",
                     "ref-uuid": t.ipam()["uuid"], "operation": "ADD",
                     "attr": {"ipam_subnets": [{"subnet": {"ip_prefix": "x",
                                                           "ip_prefix_len": 99}}]}}).encode()),
    ]
    problems = []
    for method, path, body in cases:
        r = api.request(method, path, data=body, headers={"Content-Type": "application/json"})
        if not 400 <= r.status_code < 500:
            problems.append(f"{method} {path} {body[:80]!r} -> {r.status_code} {r.text[:120]!r}")
        if not api.alive():
            pytest.fail(f"daemon died after {method} {path} {body[:80]!r}")
    got = api.read("virtual-network", u)
    assert got["network_ipam_refs"] == vn["network_ipam_refs"]
    assert got["perms2"] == vn["perms2"]
    assert got["id_perms"]["enable"] is True
    assert not problems, "garbage not answered with a 4xx:\n" + "\n".join(problems)


def test_oversized_body(api):
    big = b'{"virtual-network": {"fq_name": ["default-domain", "default-project", "big"], ' \
          b'"display_name": "' + b"x" * 2_000_000 + b'"}}'
    try:
        r = api.post("/virtual-networks", data=big, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, r.status_code
    except requests.ConnectionError:
        pass        # closing the connection on a too-large body is acceptable
    assert_alive(api)
    expect(api.fq_to_id_raw("virtual-network", ["default-domain", "default-project", "big"]),
           404)


def test_client_disconnects_mid_request(api, api_server):
    import socket
    for payload in (b"POST /virtual-networks HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                    b"Content-Type: application/json\r\n\r\n{\"virtual-net",
                    b"GET /virtual-networks HTT",
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100):
        s = socket.create_connection(("127.0.0.1", api_server.port), timeout=5)
        s.sendall(payload)
        s.close()
        assert_alive(api)


# ---- seeded mutation fuzzing of valid bodies ----

def _leaf_paths(x, path=()):
    yield path
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaf_paths(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _leaf_paths(v, path + (i,))


def _mutate(body, rng):
    import copy
    body = copy.deepcopy(body)
    paths = [p for p in _leaf_paths(body) if p]
    path = rng.choice(paths)
    parent = body
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    choice = rng.randrange(4)
    if choice == 0 and isinstance(parent, dict):
        del parent[key]
        return body
    values = [None, True, 0, -1, 2 ** 31, 2 ** 63, -2 ** 64, 1.5, float("1e308"), "", "x" * 3000,
              "\u2603", "203.0.113.999", "::::", "-1", [], [None], {}, {"a": {"b": []}},
              [[[[[]]]]], "00000000-0000-0000-0000-000000000000"]
    if choice == 1 and isinstance(parent, dict):
        parent[rng.choice(["bogus", "fq_name", "uuid", "parent_type", "attr", "to",
                           "ip_prefix_len"])] = rng.choice(values)
        return body
    parent[key] = rng.choice(values)
    return body


def test_fuzzed_bodies_never_crash(api):
    import random
    rng = random.Random(20130913)
    t = api.project()
    vn = t.vn("fz", subnets=["203.0.113.0/24"])
    seeds = [
        ("virtual-network", t.vn_body(subnets=[{"subnet": {"ip_prefix": "203.0.113.0",
                                                           "ip_prefix_len": 25},
                                                "allocation_pools": [{"start": "203.0.113.10",
                                                                      "end": "203.0.113.20"}],
                                                "addr_from_start": True}],
                                      virtual_network_properties=VNP_OK,
                                      route_target_list={"route_target": ["target:64512:1"]})),
        ("network-policy", {"parent_type": "project", "fq_name": t.fq + ["fzp"],
                            "network_policy_entries": {"policy_rule": [{
                                "direction": "<>", "protocol": "tcp",
                                "src_addresses": [{"virtual_network": "any"}],
                                "src_ports": [{"start_port": -1, "end_port": -1}],
                                "dst_addresses": [{"subnet": {"ip_prefix": "203.0.113.0",
                                                              "ip_prefix_len": 24}}],
                                "dst_ports": [{"start_port": 80, "end_port": 80}],
                                "action_list": {"simple_action": "pass"}}]}}),
        ("virtual-machine-interface", {"parent_type": "project", "fq_name": t.fq + ["fzport"],
                                       "virtual_network_refs": [{"to": vn["fq_name"]}],
                                       "virtual_machine_interface_mac_addresses":
                                           {"mac_address": ["02:00:00:00:00:01"]},
                                       "virtual_machine_interface_bindings": {
                                           "key_value_pair": [{"key": "host_id",
                                                               "value": "c1"}]}}),
        ("instance-ip", {"fq_name": ["fz-iip"], "virtual_network_refs": [{"to": vn["fq_name"]}],
                         "instance_ip_address": "203.0.113.9", "instance_ip_family": "v4"}),
        ("security-group", {"parent_type": "project", "fq_name": t.fq + ["fzsg"],
                            "configured_security_group_id": 5,
                            "security_group_entries": {"policy_rule": []},
                            "perms2": {"owner": "x", "owner_access": 7, "global_access": 0,
                                       "share": []}}),
    ]
    problems = []
    for i in range(400):
        rtype, body = seeds[i % len(seeds)]
        mutated = _mutate(body, rng)
        if i % 3 == 2:
            r = api.update_raw("virtual-network", vn["uuid"], mutated)
        else:
            r = api.create_raw(rtype, mutated)
        if r.status_code >= 500:
            problems.append(f"{rtype} {json.dumps(mutated)[:200]} -> {r.status_code} "
                            f"{r.text[:100]!r}")
        if r.status_code == 200 and i % 3 != 2:
            created = r.json()[rtype]["uuid"]
            api.delete(f"/{rtype}/{created}")
        if not api.alive():
            pytest.fail(f"daemon died after {rtype} {json.dumps(mutated)[:300]}")
    assert not problems, "server errors:\n" + "\n".join(problems[:20])
    api.read("virtual-network", vn["uuid"])
