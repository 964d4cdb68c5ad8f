"""Resource allocation (spec 3.2-3.4): VN network ids, SG ids, IPAM defaults, instance-ip and
floating-ip addresses, allocation pools, exhaustion, ip-alloc/ip-free/subnet-ip-count, MACs."""

import uuid as uuidlib

from conftest import expect, ip, ipam_subnets, is_uuid, subnet, unique

NET24 = "203.0.113.0/24"


def addr(obj, field="instance_ip_address"):
    return ip(obj[field])


# ---- VN network id ----

def test_vn_network_id_allocated_and_distinct(api):
    t = api.project()
    ids = [t.vn()["virtual_network_network_id"] for _ in range(3)]
    for i in ids:
        assert isinstance(i, int) and 1 <= i <= 1 << 24, ids
    assert len(set(ids)) == 3


def test_vn_network_id_freed_on_delete(fresh_api):
    t = fresh_api.project()
    a, b = t.vn(), t.vn()
    fresh_api.remove("virtual-network", a["uuid"])
    c = t.vn()
    assert c["virtual_network_network_id"] == a["virtual_network_network_id"]
    assert c["virtual_network_network_id"] != b["virtual_network_network_id"]


# ---- SG id ----

def test_security_group_ids(api):
    t = api.project()
    sgs = [t.sg() for _ in range(3)]
    ids = [s["security_group_id"] for s in sgs]
    assert all(isinstance(i, int) and i > 8000000 for i in ids), ids
    assert len(set(ids)) == 3


def test_configured_security_group_id_overrides(api):
    t = api.project()
    sg = t.sg(configured_security_group_id=1234)
    assert sg["configured_security_group_id"] == 1234
    assert sg["security_group_id"] == 1234


def test_configured_security_group_id_range(api):
    t = api.project()
    r = api.create_raw("security-group", {
        "parent_type": "project", "fq_name": t.fq + [unique("sg")],
        "security_group_entries": {"policy_rule": []},
        "configured_security_group_id": 8000000})
    expect(r, 400)
    assert "configured_security_group_id" in r.text


# ---- IPAM defaults ----

def test_ipam_defaults_top_down(api):
    t = api.project()
    vn = t.vn(subnets=[NET24])
    [sn] = ipam_subnets(vn)
    assert ip(sn["default_gateway"]) == ip("203.0.113.254")
    assert ip(sn["dns_server_address"]) == ip("203.0.113.253")
    assert is_uuid(sn["subnet_uuid"])
    first, second = t.iip(vn), t.iip(vn)
    assert addr(first) == ip("203.0.113.252")
    assert addr(second) == ip("203.0.113.251")
    assert first["subnet_uuid"] == sn["subnet_uuid"]
    assert first["virtual_network_refs"][0]["uuid"] == vn["uuid"]


def test_ipam_addr_from_start(api):
    t = api.project()
    vn = t.vn(subnets=[subnet(NET24, addr_from_start=True)])
    [sn] = ipam_subnets(vn)
    assert ip(sn["default_gateway"]) == ip("203.0.113.1")
    assert ip(sn["dns_server_address"]) == ip("203.0.113.2")
    assert sn["addr_from_start"] is True
    assert [addr(t.iip(vn)) for _ in range(2)] == [ip("203.0.113.3"), ip("203.0.113.4")]


def test_ipam_explicit_gateway_and_dns_are_kept_and_skipped(api):
    t = api.project()
    vn = t.vn(subnets=[subnet(NET24, default_gateway="203.0.113.252",
                              dns_server_address="203.0.113.251")])
    [sn] = ipam_subnets(vn)
    assert ip(sn["default_gateway"]) == ip("203.0.113.252")
    assert ip(sn["dns_server_address"]) == ip("203.0.113.251")
    got = [addr(t.iip(vn)) for _ in range(3)]
    assert got == [ip("203.0.113.254"), ip("203.0.113.253"), ip("203.0.113.250")]


def test_subnet_uuid_unique_per_subnet(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/25", "203.0.113.128/25"])
    sns = ipam_subnets(vn)
    assert len({s["subnet_uuid"] for s in sns}) == 2
    # GET again: subnet uuids are stable
    assert [s["subnet_uuid"] for s in ipam_subnets(api.read("virtual-network", vn["uuid"]))] \
        == [s["subnet_uuid"] for s in sns]


def test_instance_ip_on_requested_subnet(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/25", "203.0.113.128/25"])
    second = ipam_subnets(vn)[1]
    iip = t.iip(vn, subnet_uuid=second["subnet_uuid"])
    assert addr(iip) == ip("203.0.113.252")
    assert iip["subnet_uuid"] == second["subnet_uuid"]
    first = t.iip(vn, subnet_uuid=ipam_subnets(vn)[0]["subnet_uuid"])
    assert addr(first) == ip("203.0.113.124")


def test_requested_instance_ip_address(api):
    t = api.project()
    vn = t.vn(subnets=[NET24])
    a = t.iip(vn, instance_ip_address="203.0.113.77")
    assert addr(a) == ip("203.0.113.77")
    r = t.iip_raw(vn, instance_ip_address="203.0.113.77")
    assert r.status_code in (400, 409), r.status_code
    # the top address requested explicitly is skipped by automatic allocation
    b = t.iip(vn, instance_ip_address="203.0.113.252")
    assert addr(b) == ip("203.0.113.252")
    assert addr(t.iip(vn)) == ip("203.0.113.251")
    # an address outside every subnet of the VN
    r = t.iip_raw(vn, instance_ip_address="198.51.100.7")
    assert 400 <= r.status_code < 500, r.status_code


def test_instance_ip_delete_frees_address(api):
    t = api.project()
    vn = t.vn(subnets=[NET24])
    a = t.iip(vn)
    assert addr(a) == ip("203.0.113.252")
    api.remove("instance-ip", a["uuid"])
    assert addr(t.iip(vn)) == ip("203.0.113.252")


def test_small_subnet_exhaustion(api):
    """A /29 has 6 hosts: .14 gateway, .13 DNS, so exactly .12 .11 .10 .9 are allocatable."""
    t = api.project()
    vn = t.vn(subnets=["203.0.113.8/29"])
    [sn] = ipam_subnets(vn)
    assert ip(sn["default_gateway"]) == ip("203.0.113.14")
    assert ip(sn["dns_server_address"]) == ip("203.0.113.13")
    got = [t.iip(vn) for _ in range(4)]
    assert [addr(g) for g in got] == [ip(f"203.0.113.{i}") for i in (12, 11, 10, 9)]
    r = t.iip_raw(vn)
    assert 400 <= r.status_code < 500, f"past exhaustion: {r.status_code} {r.text[:200]}"
    assert api.alive()
    api.remove("instance-ip", got[2]["uuid"])     # frees .10
    assert addr(t.iip(vn)) == ip("203.0.113.10")
    assert 400 <= t.iip_raw(vn).status_code < 500


def test_allocation_pool(api):
    t = api.project()
    vn = t.vn(subnets=[subnet(NET24, allocation_pools=[{"start": "203.0.113.20",
                                                         "end": "203.0.113.22"}])])
    [sn] = ipam_subnets(vn)
    assert sn["allocation_pools"][0]["start"] == "203.0.113.20"
    got = [addr(t.iip(vn)) for _ in range(3)]
    assert got == [ip("203.0.113.22"), ip("203.0.113.21"), ip("203.0.113.20")]
    assert 400 <= t.iip_raw(vn).status_code < 500


def test_allocation_pools_from_start(api):
    t = api.project()
    vn = t.vn(subnets=[subnet(NET24, addr_from_start=True, allocation_pools=[
        {"start": "203.0.113.40", "end": "203.0.113.41"},
        {"start": "203.0.113.60", "end": "203.0.113.60"}])])
    got = [addr(t.iip(vn)) for _ in range(3)]
    assert got == [ip("203.0.113.40"), ip("203.0.113.41"), ip("203.0.113.60")]
    assert 400 <= t.iip_raw(vn).status_code < 500


def test_bad_subnets_rejected(api):
    t = api.project()
    cases = {
        "overlap": [subnet(NET24), subnet("203.0.113.128/25")],
        "gateway outside": [subnet(NET24, default_gateway="198.51.100.1")],
        "pool outside": [subnet(NET24, allocation_pools=[{"start": "203.0.114.1",
                                                          "end": "203.0.114.9"}])],
        "pool reversed": [subnet(NET24, allocation_pools=[{"start": "203.0.113.9",
                                                           "end": "203.0.113.1"}])],
        "bad prefix": [{"subnet": {"ip_prefix": "203.0.113.300", "ip_prefix_len": 24}}],
        "bad length": [{"subnet": {"ip_prefix": "203.0.113.0", "ip_prefix_len": 33}}],
    }
    for what, sns in cases.items():
        r = api.create_raw("virtual-network", t.vn_body(subnets=sns))
        assert r.status_code == 400, f"{what}: {r.status_code} {r.text[:200]}"
    assert api.alive()


def test_overlapping_subnet_added_by_put_rejected(api):
    t = api.project()
    vn = t.vn(subnets=[NET24])
    ipam = t.ipam()
    r = api.update_raw("virtual-network", vn["uuid"], {"network_ipam_refs": [
        {"to": ipam["fq_name"], "attr": {"ipam_subnets": [subnet(NET24),
                                                         subnet("203.0.113.0/25")]}}]})
    expect(r, 400)
    assert len(ipam_subnets(api.read("virtual-network", vn["uuid"]))) == 1


def test_ipv6_subnet(api):
    t = api.project()
    vn = t.vn(subnets=[NET24, "2001:db8::/120"])
    v6 = [s for s in ipam_subnets(vn) if ":" in s["subnet"]["ip_prefix"]][0]
    assert ip(v6["default_gateway"]) == ip("2001:db8::fe")
    assert ip(v6["dns_server_address"]) == ip("2001:db8::fd")
    a = t.iip(vn, instance_ip_family="v6")
    assert addr(a) == ip("2001:db8::fc")
    assert a["subnet_uuid"] == v6["subnet_uuid"]
    b = t.iip(vn)      # family defaults to v4
    assert addr(b) == ip("203.0.113.252")
    c = t.iip(vn, instance_ip_family="v4")
    assert addr(c) == ip("203.0.113.251")


# ---- floating IPs ----

def test_floating_ip_from_pool_vn(api):
    t = api.project()
    pub = t.vn("public", subnets=["203.0.113.64/26"])
    pool = api.create("floating-ip-pool", {"parent_type": "virtual-network",
                                           "fq_name": pub["fq_name"] + ["fip-pool"]})
    proj_ref = [{"to": t.fq}]
    f1 = api.create("floating-ip", {"parent_type": "floating-ip-pool",
                                    "fq_name": pub["fq_name"] + ["fip-pool", "f1"],
                                    "project_refs": proj_ref})
    f1 = api.read("floating-ip", f1["uuid"])
    assert addr(f1, "floating_ip_address") == ip("203.0.113.124")
    assert f1["parent_uuid"] == pool["uuid"]
    assert f1["project_refs"][0]["uuid"] == t.uuid
    f2 = api.read("floating-ip", api.create("floating-ip", {
        "parent_type": "floating-ip-pool", "fq_name": pub["fq_name"] + ["fip-pool", "f2"],
        "project_refs": proj_ref})["uuid"])
    assert addr(f2, "floating_ip_address") == ip("203.0.113.123")
    f3 = api.read("floating-ip", api.create("floating-ip", {
        "parent_type": "floating-ip-pool", "fq_name": pub["fq_name"] + ["fip-pool", "f3"],
        "floating_ip_address": "203.0.113.100", "project_refs": proj_ref})["uuid"])
    assert addr(f3, "floating_ip_address") == ip("203.0.113.100")
    # fips and instance-ips share the VN's subnet allocator
    assert addr(t.iip(pub)) == ip("203.0.113.122")
    # attach to a port
    vmi = t.vmi(t.vn(subnets=[NET24]))
    api.update("floating-ip", f1["uuid"], {"virtual_machine_interface_refs": [
        {"to": vmi["fq_name"]}]})
    back = api.read("virtual-machine-interface", vmi["uuid"])["floating_ip_back_refs"]
    assert [b["uuid"] for b in back] == [f1["uuid"]]
    # deleting a fip frees its address
    api.update("floating-ip", f1["uuid"], {"virtual_machine_interface_refs": []})
    api.remove("floating-ip", f1["uuid"])
    f4 = api.read("floating-ip", api.create("floating-ip", {
        "parent_type": "floating-ip-pool", "fq_name": pub["fq_name"] + ["fip-pool", "f4"],
        "project_refs": proj_ref})["uuid"])
    assert addr(f4, "floating_ip_address") == ip("203.0.113.124")


# ---- MAC ----

def mac_from_uuid(u):
    return "02:" + ":".join([u[0:2], u[2:4], u[4:6], u[6:8], u[9:11]])


def test_vmi_mac_from_uuid(api):
    t = api.project()
    vn = t.vn(subnets=[NET24])
    vmi = t.vmi(vn)
    assert vmi["virtual_machine_interface_mac_addresses"]["mac_address"] == \
        [mac_from_uuid(vmi["uuid"])]
    want = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    vmi2 = t.vmi(vn, uuid=want)
    assert vmi2["virtual_machine_interface_mac_addresses"]["mac_address"] == \
        ["02:0a:1b:2c:3d:4e"]


def test_vmi_given_mac_dashes_to_colons(api):
    t = api.project()
    vn = t.vn()
    vmi = t.vmi(vn, virtual_machine_interface_mac_addresses={"mac_address":
                                                             ["02-aa-bb-cc-dd-ee"]})
    assert vmi["virtual_machine_interface_mac_addresses"]["mac_address"] == \
        ["02:aa:bb:cc:dd:ee"]


def test_vmi_refers_to_primary_routing_instance(api):
    t = api.project()
    vn = t.vn("blue")
    vmi = t.vmi(vn)
    refs = vmi.get("routing_instance_refs", [])
    assert [r["to"] for r in refs] == [vn["fq_name"] + ["blue"]]
    assert refs[0]["attr"]["direction"] == "both"


def test_vmi_binding_defaults(api):
    t = api.project()
    vn = t.vn()
    vmi = t.vmi(vn, virtual_machine_interface_bindings={"key_value_pair": [
        {"key": "host_id", "value": "compute1"}]})
    kv = {p["key"]: p["value"] for p in
          vmi["virtual_machine_interface_bindings"]["key_value_pair"]}
    assert kv["host_id"] == "compute1"
    assert kv["vif_type"] == "vrouter"
    assert kv["vnic_type"] == "normal"


def test_port_and_ip_appendix_b(api):
    """The Appendix B sequence: port, then instance-ip referring to it."""
    t = api.project()
    red = t.vn("red", subnets=[NET24])
    t.sg("default")
    vmi = api.create("virtual-machine-interface", {
        "parent_type": "project", "fq_name": t.fq + ["port1"],
        "virtual_network_refs": [{"to": t.fq + ["red"]}],
        "security_group_refs": [{"to": t.fq + ["default"]}],
        "virtual_machine_interface_bindings": {"key_value_pair": [
            {"key": "host_id", "value": "compute1"}]}})
    iip = api.create("instance-ip", {
        "fq_name": [str(uuidlib.uuid4())],
        "virtual_network_refs": [{"to": t.fq + ["red"]}],
        "virtual_machine_interface_refs": [{"to": t.fq + ["port1"]}],
        "instance_ip_family": "v4"})
    got = api.read("instance-ip", iip["uuid"])
    assert addr(got) == ip("203.0.113.252")
    assert got["subnet_uuid"] == ipam_subnets(red)[0]["subnet_uuid"]
    v = api.read("virtual-machine-interface", vmi["uuid"])
    assert [b["uuid"] for b in v["instance_ip_back_refs"]] == [iip["uuid"]]
    assert v["virtual_machine_interface_mac_addresses"]["mac_address"][0].startswith("02:")


# ---- /virtual-network/<id>/ip-alloc, ip-free, subnet-ip-count ----

def ip_count(api, vn, subnets):
    r = expect(api.post(f"/virtual-network/{vn['uuid']}/subnet-ip-count",
                        {"subnet_list": subnets}), 200)
    return r.json()["ip_count_list"]


def test_ip_alloc_free_count(api):
    t = api.project()
    vn = t.vn(subnets=[NET24, "2001:db8::/120"])
    base = f"/virtual-network/{vn['uuid']}"
    assert ip_count(api, vn, [NET24]) == [0]

    r = expect(api.post(base + "/ip-alloc", {"count": 2}), 200)
    got = r.json()["ip_addr"]
    assert [ip(a) for a in got] == [ip("203.0.113.252"), ip("203.0.113.251")]
    assert addr(t.iip(vn)) == ip("203.0.113.250")
    assert ip_count(api, vn, [NET24]) == [3]

    expect(api.post(base + "/ip-free", {"ip_addr": ["203.0.113.252"]}), 200)
    assert ip_count(api, vn, [NET24]) == [2]
    r = expect(api.post(base + "/ip-alloc", {"subnet": NET24}), 200)   # count defaults to 1
    assert [ip(a) for a in r.json()["ip_addr"]] == [ip("203.0.113.252")]

    r = expect(api.post(base + "/ip-alloc", {"family": "v6"}), 200)
    assert [ip(a) for a in r.json()["ip_addr"]] == [ip("2001:db8::fc")]
    assert ip_count(api, vn, [NET24, "2001:db8::/120"]) == [3, 1]


def test_ip_alloc_errors(api):
    t = api.project()
    vn = t.vn(subnets=[NET24])
    expect(api.post(f"/virtual-network/{uuidlib.uuid4()}/ip-alloc", {"count": 1}), 404)
    r = api.post(f"/virtual-network/{vn['uuid']}/ip-alloc", {"subnet": "198.51.100.0/24"})
    assert 400 <= r.status_code < 500, r.status_code
    r = api.post(f"/virtual-network/{vn['uuid']}/ip-alloc", {"count": "many"})
    expect(r, 400)
    assert api.alive()


def test_ip_alloc_exhaustion(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.16/29"])
    base = f"/virtual-network/{vn['uuid']}"
    r = expect(api.post(base + "/ip-alloc", {"count": 4}), 200)
    assert sorted(ip(a) for a in r.json()["ip_addr"]) == \
        [ip(f"203.0.113.{i}") for i in (17, 18, 19, 20)]
    assert 400 <= api.post(base + "/ip-alloc", {"count": 1}).status_code < 500
    assert 400 <= t.iip_raw(vn).status_code < 500
    assert ip_count(api, vn, ["203.0.113.16/29"]) == [4]


def test_instance_ip_on_fresh_daemon_and_neighbours_independent(fresh_api):
    """Two VNs with the same subnet allocate independently (subnet key includes the VN)."""
    t = fresh_api.project()
    v1, v2 = t.vn(subnets=[NET24]), t.vn(subnets=[NET24])
    assert addr(t.iip(v1)) == ip("203.0.113.252")
    assert addr(t.iip(v2)) == ip("203.0.113.252")
    assert addr(t.iip(v1)) == ip("203.0.113.251")


def test_vn_delete_frees_subnet_allocations(api):
    t = api.project()
    vn = t.vn("reuse", subnets=[NET24])
    a = t.iip(vn)
    api.remove("instance-ip", a["uuid"])
    api.post(f"/virtual-network/{vn['uuid']}/ip-alloc", {"count": 3})
    api.remove("virtual-network", vn["uuid"])
    vn2 = t.vn("reuse", subnets=[NET24])
    assert addr(t.iip(vn2)) == ip("203.0.113.252")


def test_vn_network_ids_never_shared(api):
    t = api.project()
    for _ in range(10):
        t.vn()
    es = api.list("virtual-network", detail="True",
                  fields="virtual_network_network_id")["virtual-networks"]
    ids = [e["virtual-network"].get("virtual_network_network_id") for e in es]
    ids = [i for i in ids if i is not None]
    assert len(ids) >= 10
    assert len(ids) == len(set(ids)), "two VNs share a network id"


def test_system_vn_instance_ip_not_from_ipam(api):
    """Instance-ips on ip-fabric / __link_local__ take the given address (no IPAM)."""
    fab = api.read("virtual-network", api.fq_to_id(
        "virtual-network", ["default-domain", "default-project", "ip-fabric"]))
    o = api.create("instance-ip", {"fq_name": [unique("vhost")],
                                   "virtual_network_refs": [{"to": fab["fq_name"]}],
                                   "instance_ip_address": "198.51.100.5"})
    got = api.read("instance-ip", o["uuid"])
    assert ip(got["instance_ip_address"]) == ip("198.51.100.5")
    api.remove("instance-ip", o["uuid"])


def test_removing_subnet_in_use_refused(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/25", "203.0.113.128/25"])
    sns = ipam_subnets(vn)
    iip = t.iip(vn, subnet_uuid=sns[1]["subnet_uuid"])
    assert ip(iip["instance_ip_address"]) == ip("203.0.113.252")
    r = api.update_raw("virtual-network", vn["uuid"], {"network_ipam_refs": [
        {"to": t.ipam()["fq_name"], "attr": {"ipam_subnets": [sns[0]]}}]})
    assert r.status_code in (400, 409), r.status_code
    assert len(ipam_subnets(api.read("virtual-network", vn["uuid"]))) == 2
    # the unused subnet can go
    api.update("virtual-network", vn["uuid"], {"network_ipam_refs": [
        {"to": t.ipam()["fq_name"], "attr": {"ipam_subnets": [sns[1]]}}]})
    left = ipam_subnets(api.read("virtual-network", vn["uuid"]))
    assert [s["subnet_uuid"] for s in left] == [sns[1]["subnet_uuid"]]
    assert ip(t.iip(vn)["instance_ip_address"]) == ip("203.0.113.251")


def test_subnet_added_by_put_gets_defaults(api):
    t = api.project()
    vn = t.vn(subnets=["203.0.113.0/25"])
    first = ipam_subnets(vn)[0]
    api.update("virtual-network", vn["uuid"], {"network_ipam_refs": [
        {"to": t.ipam()["fq_name"], "attr": {"ipam_subnets": [first,
                                                             subnet("203.0.113.128/25")]}}]})
    sns = ipam_subnets(api.read("virtual-network", vn["uuid"]))
    assert sns[0]["subnet_uuid"] == first["subnet_uuid"]
    assert ip(sns[1]["default_gateway"]) == ip("203.0.113.254")
    assert ip(sns[1]["dns_server_address"]) == ip("203.0.113.253")
    assert is_uuid(sns[1]["subnet_uuid"]) and sns[1]["subnet_uuid"] != first["subnet_uuid"]
    got = t.iip(vn, subnet_uuid=sns[1]["subnet_uuid"])
    assert ip(got["instance_ip_address"]) == ip("203.0.113.252")


def test_gateway_change_re_reserves(api):
    t = api.project()
    vn = t.vn(subnets=[NET24])
    [sn] = ipam_subnets(vn)
    assert ip(t.iip(vn)["instance_ip_address"]) == ip("203.0.113.252")
    changed = dict(sn, default_gateway="203.0.113.250")
    api.update("virtual-network", vn["uuid"], {"network_ipam_refs": [
        {"to": t.ipam()["fq_name"], "attr": {"ipam_subnets": [changed]}}]})
    [sn2] = ipam_subnets(api.read("virtual-network", vn["uuid"]))
    assert ip(sn2["default_gateway"]) == ip("203.0.113.250")
    assert sn2["subnet_uuid"] == sn["subnet_uuid"]
    got = {ip(t.iip(vn)["instance_ip_address"]) for _ in range(3)}
    assert ip("203.0.113.250") not in got
    assert ip("203.0.113.253") not in got      # DNS still reserved
    assert ip("203.0.113.252") not in got      # still in use


def test_failed_create_leaves_nothing_behind(api):
    t = api.project()
    fq = t.fq + [unique("vn")]
    r = api.create_raw("virtual-network", {"parent_type": "project", "fq_name": fq,
                                           "network_ipam_refs": [{"to": t.ipam()["fq_name"],
                                                                  "attr": {"ipam_subnets": [
                                                                      subnet(NET24),
                                                                      subnet("203.0.113.0/25")]}}]})
    expect(r, 400)
    expect(api.fq_to_id_raw("virtual-network", fq), 404)
    assert not api.read("network-ipam", t.ipam()["uuid"]).get("virtual_network_back_refs")
    vn = api.create("virtual-network", {"parent_type": "project", "fq_name": fq})
    assert api.read("virtual-network", vn["uuid"])["fq_name"] == fq

    vn = t.vn(subnets=[NET24])
    name = unique("iip")
    r = t.iip_raw(vn, name=name, instance_ip_address="198.51.100.9")
    assert 400 <= r.status_code < 500
    expect(api.fq_to_id_raw("instance-ip", [name]), 404)
    got = t.iip(vn, name=name)
    assert ip(got["instance_ip_address"]) == ip("203.0.113.252")
    # a refused duplicate request does not free the address it collided with
    r = t.iip_raw(vn, instance_ip_address="203.0.113.252")
    assert r.status_code in (400, 409)
    assert ip(t.iip(vn)["instance_ip_address"]) == ip("203.0.113.251")
    api.read("instance-ip", got["uuid"])


def test_requested_floating_ip_in_use(api):
    t = api.project()
    pub = t.vn(subnets=["203.0.113.128/26"])
    api.create("floating-ip-pool", {"parent_type": "virtual-network",
                                    "fq_name": pub["fq_name"] + ["pool"]})
    body = {"parent_type": "floating-ip-pool", "project_refs": [{"to": t.fq}],
            "floating_ip_address": "203.0.113.150"}
    api.create("floating-ip", dict(body, fq_name=pub["fq_name"] + ["pool", "a"]))
    r = api.create_raw("floating-ip", dict(body, fq_name=pub["fq_name"] + ["pool", "b"]))
    assert r.status_code in (400, 409), r.status_code
    expect(api.fq_to_id_raw("floating-ip", pub["fq_name"] + ["pool", "b"]), 404)
