"""Collection GET with every list parameter, and POST /list-bulk-collection (spec 1.3)."""

import uuid as uuidlib
from types import SimpleNamespace

import pytest

from conftest import Client, expect, is_uuid


@pytest.fixture(scope="module")
def world(api_server):
    """P1 holds VNs a, b, c (c is router_external); P2 holds d, e (e is shared).
    VMIs: m1, m2 refer to a; m3 refers to b.  The VNs use P1's / P2's ipam."""
    c = Client(api_server)
    p1, p2 = c.project(), c.project()
    w = SimpleNamespace(p1=p1, p2=p2)
    w.a = p1.vn("a", subnets=["203.0.113.0/26"], display_name="alpha")
    w.b = p1.vn("b", display_name="beta")
    w.c = p1.vn("c", display_name="gamma", router_external=True)
    w.d = p2.vn("d", subnets=["203.0.113.64/26"], display_name="delta")
    w.e = p2.vn("e", display_name="eps", is_shared=True)
    w.m1, w.m2 = p1.vmi(w.a), p1.vmi(w.a)
    w.m3 = p1.vmi(w.b)
    # Each project also has its default-virtual-network.
    w.p1_vns = {w.a["uuid"], w.b["uuid"], w.c["uuid"],
                c.fq_to_id("virtual-network", p1.fq + ["default-virtual-network"])}
    w.p2_vns = {w.d["uuid"], w.e["uuid"],
                c.fq_to_id("virtual-network", p2.fq + ["default-virtual-network"])}
    yield w
    c.close()


def entries(j, key="virtual-networks"):
    assert set(j) >= {key}, j
    assert isinstance(j[key], list), j
    return j[key]


def test_summary_list_shape(api, world):
    es = entries(api.list("virtual-network"))
    by_uuid = {e["uuid"]: e for e in es}
    assert world.p1_vns | world.p2_vns <= set(by_uuid)
    e = by_uuid[world.a["uuid"]]
    assert set(e) == {"href", "fq_name", "uuid"}, e
    assert e["fq_name"] == world.a["fq_name"]
    assert e["href"] == f"{api.base}/virtual-network/{world.a['uuid']}"
    # startup VNs are listed too
    fqs = [x["fq_name"] for x in es]
    assert ["default-domain", "default-project", "ip-fabric"] in fqs


def test_parent_id(api, world):
    assert api.list_uuids("virtual-network", parent_id=world.p1.uuid) == world.p1_vns
    both = api.list_uuids("virtual-network", parent_id=f"{world.p1.uuid},{world.p2.uuid}")
    assert both == world.p1_vns | world.p2_vns
    assert api.list_uuids("virtual-network", parent_id=str(uuidlib.uuid4())) == set()


def test_parent_fq_name_str(api, world):
    s = ":".join(world.p2.fq)
    assert api.list_uuids("virtual-network", parent_fq_name_str=s,
                          parent_type="project") == world.p2_vns
    assert api.list_uuids("virtual-network", parent_fq_name_str=s) == world.p2_vns


def test_back_ref_id(api, world):
    assert api.list_uuids("virtual-machine-interface", back_ref_id=world.a["uuid"]) == \
        {world.m1["uuid"], world.m2["uuid"]}
    assert api.list_uuids("virtual-machine-interface",
                          back_ref_id=f"{world.a['uuid']},{world.b['uuid']}") == \
        {world.m1["uuid"], world.m2["uuid"], world.m3["uuid"]}
    assert api.list_uuids("virtual-network", back_ref_id=world.p1.ipam()["uuid"]) == \
        {world.a["uuid"]}
    assert api.list_uuids("virtual-machine-interface", back_ref_id=world.c["uuid"]) == set()


def test_obj_uuids(api, world):
    want = {world.a["uuid"], world.e["uuid"]}
    assert api.list_uuids("virtual-network", obj_uuids=",".join(want)) == want
    # uuids of another type are not in this collection
    assert api.list_uuids("virtual-network", obj_uuids=world.m1["uuid"]) == set()


def test_fq_names(api, world):
    want = [world.b, world.d]
    got = api.list_uuids("virtual-network",
                         fq_names=",".join(":".join(v["fq_name"]) for v in want))
    assert got == {v["uuid"] for v in want}


def test_detail(api, world):
    es = entries(api.list("virtual-network", parent_id=world.p1.uuid, detail="True"))
    assert len(es) == len(world.p1_vns)
    for e in es:
        assert set(e) == {"virtual-network"}, e
    full = {e["virtual-network"]["uuid"]: e["virtual-network"] for e in es}
    a = full[world.a["uuid"]]
    assert a["fq_name"] == world.a["fq_name"]
    assert a["display_name"] == "alpha"
    assert "id_perms" in a and "perms2" in a
    assert a["network_ipam_refs"][0]["uuid"] == world.p1.ipam()["uuid"]
    assert full[world.c["uuid"]]["router_external"] is True


def test_fields(api, world):
    es = entries(api.list("virtual-network", parent_id=world.p1.uuid,
                          fields="display_name,network_ipam_refs"))
    by = {e["uuid"]: e for e in es}
    assert by[world.a["uuid"]]["display_name"] == "alpha"
    assert by[world.a["uuid"]]["network_ipam_refs"][0]["to"] == world.p1.ipam()["fq_name"]
    assert by[world.b["uuid"]]["display_name"] == "beta"
    assert "href" in by[world.a["uuid"]] and "fq_name" in by[world.a["uuid"]]
    # back-refs and children are fields too
    es = entries(api.list("virtual-network", obj_uuids=world.a["uuid"],
                          fields="virtual_machine_interface_back_refs,routing_instances"))
    [a] = es
    assert {b["uuid"] for b in a["virtual_machine_interface_back_refs"]} == \
        {world.m1["uuid"], world.m2["uuid"]}
    assert [r["to"] for r in a["routing_instances"]] == [world.a["fq_name"] + ["a"]]


def test_count(api, world):
    j = api.list("virtual-network", parent_id=world.p1.uuid, count="True")
    assert j == {"virtual-networks": {"count": len(world.p1_vns)}}
    j = api.list("virtual-machine-interface", back_ref_id=world.a["uuid"], count="true")
    assert j == {"virtual-machine-interfaces": {"count": 2}}
    total = len(entries(api.list("virtual-network")))
    assert api.list("virtual-network", count="True")["virtual-networks"]["count"] == total


def test_filters(api, world):
    p1 = world.p1.uuid
    assert api.list_uuids("virtual-network", parent_id=p1,
                          filters="display_name==beta") == {world.b["uuid"]}
    # JSON-decoded value
    assert api.list_uuids("virtual-network", parent_id=p1,
                          filters="router_external==true") == {world.c["uuid"]}
    # same key repeated = OR
    assert api.list_uuids("virtual-network", parent_id=p1,
                          filters="display_name==alpha,display_name==gamma") == \
        {world.a["uuid"], world.c["uuid"]}
    # no match
    assert api.list_uuids("virtual-network", parent_id=p1,
                          filters="display_name==nope") == set()
    # across the whole collection
    assert api.list_uuids("virtual-network", filters="display_name==delta") == \
        {world.d["uuid"]}
    # count honours filters
    assert api.list("virtual-network", parent_id=p1, filters="display_name==beta",
                    count="True") == {"virtual-networks": {"count": 1}}


def test_shared(api, world):
    e = api.read("virtual-network", world.e["uuid"])
    assert e["is_shared"] is True
    assert e["perms2"]["global_access"] == 7
    own = api.list_uuids("virtual-network", parent_id=world.p1.uuid)
    assert world.e["uuid"] not in own
    with_shared = api.list_uuids("virtual-network", parent_id=world.p1.uuid, shared="True")
    assert world.p1_vns <= with_shared
    assert world.e["uuid"] in with_shared, "globally shared VN of another project not listed"
    assert world.d["uuid"] not in with_shared


def test_shared_via_chmod(api, world):
    t = api.project()
    vn = t.vn()
    assert vn["uuid"] not in api.list_uuids("virtual-network", parent_id=world.p1.uuid,
                                            shared="True")
    expect(api.post("/chmod", {"uuid": vn["uuid"], "global_access": 5}), 200)
    assert vn["uuid"] in api.list_uuids("virtual-network", parent_id=world.p1.uuid,
                                        shared="True"), "VN shared by chmod not listed"


def test_exclude_hrefs(api, world):
    es = entries(api.list("virtual-network", parent_id=world.p1.uuid, exclude_hrefs=""))
    assert es
    for e in es:
        assert "href" not in e
        assert is_uuid(e["uuid"]) and e["fq_name"]
    es = entries(api.list("virtual-network", parent_id=world.p1.uuid, exclude_hrefs="",
                          detail="True"))
    for e in es:
        assert "href" not in e["virtual-network"]


def test_pagination(api, world):
    everything = [e["uuid"] for e in entries(api.list("virtual-network"))]
    seen, marker, pages = [], None, 0
    while True:
        params = {"page_limit": 2}
        if marker is not None:
            params["page_marker"] = marker
        j = api.list("virtual-network", **params)
        assert "marker" in j, f"no top-level marker: {j}"
        page = entries(j)
        assert len(page) <= 2
        seen += [e["uuid"] for e in page]
        pages += 1
        assert pages < 1000
        marker = j["marker"]
        if marker is None:
            break
        assert page, "non-null marker with an empty page"
    assert len(seen) == len(set(seen)), "a page repeated an object"
    assert set(seen) == set(everything)
    assert pages >= (len(everything) + 1) // 2


def test_pagination_with_parent_and_explicit_none_marker(api, world):
    j = api.list("virtual-network", parent_id=world.p1.uuid, page_limit=3, page_marker="None")
    first = entries(j)
    assert len(first) == 3
    assert j["marker"] is not None
    j2 = api.list("virtual-network", parent_id=world.p1.uuid, page_limit=3,
                  page_marker=j["marker"])
    rest = entries(j2)
    assert {e["uuid"] for e in first} | {e["uuid"] for e in rest} == world.p1_vns
    assert len(first) + len(rest) == len(world.p1_vns)
    if rest and len(rest) == 3:
        j3 = api.list("virtual-network", parent_id=world.p1.uuid, page_limit=3,
                      page_marker=j2["marker"])
        assert entries(j3) == []
        assert j3["marker"] is None
    elif len(rest) < 3:
        assert j2["marker"] is None


def test_unknown_collection_404(api):
    expect(api.get("/no-such-things"), 404)


# ---- POST /list-bulk-collection ----

def bulk(api, **body):
    r = expect(api.post("/list-bulk-collection", body), 200)
    return r.json()


def test_bulk_obj_uuids_detail(api, world):
    want = [world.a["uuid"], world.d["uuid"]]
    j = bulk(api, type="virtual-network", obj_uuids=",".join(want), detail=True)
    es = entries(j)
    assert {e["virtual-network"]["uuid"] for e in es} == set(want)
    assert all("id_perms" in e["virtual-network"] for e in es)


def test_bulk_summary_parent_and_count(api, world):
    j = bulk(api, type="virtual-network", parent_id=world.p1.uuid)
    assert {e["uuid"] for e in entries(j)} == world.p1_vns
    j = bulk(api, type="virtual-network", parent_id=f"{world.p1.uuid},{world.p2.uuid}",
             count=True)
    assert j == {"virtual-networks": {"count": len(world.p1_vns | world.p2_vns)}}


def test_bulk_back_ref_fields_exclude_hrefs(api, world):
    j = bulk(api, type="virtual-machine-interface", back_ref_id=world.a["uuid"],
             fields=["virtual_network_refs"], exclude_hrefs=True)
    es = entries(j, "virtual-machine-interfaces")
    assert {e["uuid"] for e in es} == {world.m1["uuid"], world.m2["uuid"]}
    for e in es:
        assert "href" not in e
        assert e["virtual_network_refs"][0]["uuid"] == world.a["uuid"]


def test_bulk_filters_and_shared(api, world):
    j = bulk(api, type="virtual-network", parent_id=world.p1.uuid,
             filters="display_name==gamma")
    assert {e["uuid"] for e in entries(j)} == {world.c["uuid"]}
    j = bulk(api, type="virtual-network", parent_id=world.p1.uuid, shared=True)
    assert world.e["uuid"] in {e["uuid"] for e in entries(j)}, "shared VN not listed"


def test_bulk_long_uuid_list(api, world):
    """The reason the endpoint exists: id lists that do not fit a URL."""
    ids = [str(uuidlib.uuid4()) for _ in range(600)] + [world.b["uuid"]]
    j = bulk(api, type="virtual-network", obj_uuids=",".join(ids))
    assert {e["uuid"] for e in entries(j)} == {world.b["uuid"]}


def test_bulk_pagination(api, world):
    seen, marker = [], None
    for _ in range(100):
        body = {"type": "virtual-network", "parent_id": world.p1.uuid, "page_limit": 1}
        if marker is not None:
            body["page_marker"] = marker
        j = bulk(api, **body)
        seen += [e["uuid"] for e in entries(j)]
        marker = j.get("marker")
        if marker is None:
            break
    assert sorted(seen) == sorted(world.p1_vns)


def test_bulk_unknown_type(api):
    r = api.post("/list-bulk-collection", {"type": "no-such-thing"})
    assert r.status_code in (400, 404), r.status_code


def test_detail_with_fields_limits_columns(api, world):
    es = entries(api.list("virtual-network", parent_id=world.p1.uuid, detail="True",
                          fields="display_name"))
    by = {e["virtual-network"]["uuid"]: e["virtual-network"] for e in es}
    a = by[world.a["uuid"]]
    assert a["display_name"] == "alpha"
    assert a["fq_name"] == world.a["fq_name"]
    assert "network_ipam_refs" not in a
    assert "routing_instances" not in a
