"""Durability across kill -9 and concurrency (ARCHITECTURE: acknowledge only after durable;
spec 1.8 step 5: the fq-name lock makes exactly one of racing creates win)."""

import threading

import requests

from conftest import Client, HTTP_TIMEOUT, expect, ip, ipam_subnets, poll, unique

NET24 = "203.0.113.0/24"


def snapshot(api, rtype, uid):
    """The object as GET shows it, minus hrefs (the port changes on restart); lists of
    refs/back-refs/children compared as sets (their order is not part of the contract)."""
    return normalize(api.read(rtype, uid))


def normalize(x):
    if isinstance(x, dict):
        return {k: normalize(v) for k, v in x.items() if k not in ("href", "parent_href")}
    if isinstance(x, list):
        items = [normalize(v) for v in x]
        if items and all(isinstance(v, dict) and "uuid" in v for v in items):
            items.sort(key=lambda v: v["uuid"])
        return items
    return x


def test_objects_and_allocations_survive_kill9(fresh_server):
    api = Client(fresh_server)
    t = api.project()
    vn = t.vn("red", subnets=[NET24, "2001:db8::/120"])
    iips = [t.iip(vn) for _ in range(2)] + [t.iip(vn, instance_ip_family="v6")]
    sg = t.sg()
    vmi = t.vmi(vn, security_group_refs=[{"to": sg["fq_name"]}])
    pol = t.policy()
    api.ref_update("virtual-network", vn["uuid"], "network-policy", pol["uuid"],
                   attr={"sequence": {"major": 0, "minor": 0}})
    reserved = expect(api.post(f"/virtual-network/{vn['uuid']}/ip-alloc", {"count": 1}),
                      200).json()["ip_addr"]
    gone = t.vn("deleted")
    api.remove("virtual-network", gone["uuid"])
    api.update("virtual-network", vn["uuid"], {"display_name": "red after put"})
    expect(api.post("/useragent-kv", {"operation": "STORE", "key": "k1", "value": "v1"}), 200)

    objs = [("project", t.uuid), ("virtual-network", vn["uuid"]),
            ("network-ipam", t.ipam()["uuid"]), ("security-group", sg["uuid"]),
            ("virtual-machine-interface", vmi["uuid"]), ("network-policy", pol["uuid"])] + \
        [("instance-ip", i["uuid"]) for i in iips]
    before = {o: snapshot(api, *o) for o in objs}

    fresh_server.restart(hard=True)        # SIGKILL, same DB

    for o in objs:
        assert snapshot(api, *o) == before[o], f"{o} changed across kill -9"
    assert api.read("virtual-network", vn["uuid"])["display_name"] == "red after put"
    assert api.fq_to_id("virtual-network", t.fq + ["red"]) == vn["uuid"]
    expect(api.read_raw("virtual-network", gone["uuid"]), 404)
    expect(api.fq_to_id_raw("virtual-network", t.fq + ["deleted"]), 404)
    assert api.post("/useragent-kv", {"operation": "RETRIEVE", "key": "k1"}).json() == \
        {"value": "v1"}

    # allocations were rebuilt: nothing handed out twice
    used = {ip(i["instance_ip_address"]) for i in iips} | {ip(a) for a in reserved}
    new = t.iip(vn)
    assert ip(new["instance_ip_address"]) not in used
    assert ip(new["instance_ip_address"]) == ip("203.0.113.249")
    new6 = t.iip(vn, instance_ip_family="v6")
    assert ip(new6["instance_ip_address"]) == ip("2001:db8::fb")
    vn2 = t.vn()
    assert vn2["virtual_network_network_id"] != vn["virtual_network_network_id"]
    sg2 = t.sg()
    assert sg2["security_group_id"] != sg["security_group_id"]
    vmi2 = t.vmi(vn)
    assert vmi2["virtual_machine_interface_mac_addresses"] != \
        vmi["virtual_machine_interface_mac_addresses"]
    # subnet uuids and defaults unchanged
    assert ipam_subnets(api.read("virtual-network", vn["uuid"])) == ipam_subnets(vn)


def test_freed_allocations_stay_free_after_kill9(fresh_server):
    api = Client(fresh_server)
    t = api.project()
    vn = t.vn(subnets=["203.0.113.8/29"])
    got = [t.iip(vn) for _ in range(4)]           # .12 .11 .10 .9: subnet full
    api.remove("instance-ip", got[1]["uuid"])     # frees .11
    fresh_server.restart(hard=True)
    assert ip(t.iip(vn)["instance_ip_address"]) == ip("203.0.113.11")
    assert t.iip_raw(vn).status_code >= 400


def test_acknowledged_creates_survive_kill9_under_load(fresh_server):
    """Every create answered 200 before the SIGKILL is there after the restart."""
    api = Client(fresh_server)
    t = api.project()
    acked = []
    stop = threading.Event()
    base = api.base

    def writer(n):
        s = requests.Session()
        i = 0
        while not stop.is_set():
            fq = t.fq + [f"load-{n}-{i}"]
            i += 1
            try:
                r = s.post(base + "/virtual-networks",
                           json={"virtual-network": {"parent_type": "project", "fq_name": fq}},
                           timeout=HTTP_TIMEOUT)
            except requests.RequestException:
                return          # the daemon went away
            if r.status_code == 200:
                acked.append((fq, r.json()["virtual-network"]["uuid"]))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    try:
        poll(lambda: len(acked) >= 60, 30, "60 acknowledged creates")
        fresh_server.kill()                 # SIGKILL while writes are in flight
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=30)
    snapshot_acked = list(acked)
    fresh_server.start()
    listed = api.list_uuids("virtual-network", parent_id=t.uuid)
    missing = [fq for fq, u in snapshot_acked if u not in listed]
    assert not missing, f"{len(missing)} acknowledged creates lost, e.g. {missing[:3]}"
    for fq, u in snapshot_acked[:: max(1, len(snapshot_acked) // 10)]:
        assert api.fq_to_id("virtual-network", fq) == u
        vn = api.read("virtual-network", u)
        assert vn["routing_instances"][0]["to"] == fq + [fq[-1]]
    ids = [e["virtual-network"]["virtual_network_network_id"] for e in
           api.list("virtual-network", parent_id=t.uuid, detail="True")["virtual-networks"]]
    assert len(ids) == len(set(ids))
    # and the DB is still writable
    t.vn()


def test_restart_twice_and_keep_creating(fresh_server):
    api = Client(fresh_server)
    t = api.project()
    first = t.vn(subnets=[NET24])
    fresh_server.restart(hard=True)
    second = t.vn(subnets=[NET24])
    fresh_server.restart(hard=False)
    for v in (first, second):
        api.read("virtual-network", v["uuid"])
    assert first["virtual_network_network_id"] != second["virtual_network_network_id"]


# ---- concurrency ----

def race(n, fn):
    """Runs FN(i) in N threads released together; returns the results in order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as e:          # noqa: BLE001 - report, do not hide
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    return results


def test_concurrent_create_same_fq_name(api):
    t = api.project()
    fq = t.fq + [unique("contested")]
    base = api.base

    def create(_):
        r = requests.post(base + "/virtual-networks",
                          json={"virtual-network": {"parent_type": "project", "fq_name": fq}},
                          timeout=HTTP_TIMEOUT)
        return r.status_code, r.text
    results = race(24, create)
    codes = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
    assert codes.count(200) == 1, codes
    assert codes.count(409) == len(codes) - 1, codes
    winners = [r[1] for r in results if r[0] == 200]
    u = api.fq_to_id("virtual-network", fq)
    assert u in winners[0]
    listed = [e for e in api.list("virtual-network", parent_id=t.uuid)["virtual-networks"]
              if e["fq_name"] == fq]
    assert len(listed) == 1
    assert api.alive()


def test_concurrent_create_same_fq_name_root_level(api):
    name = unique("vm")
    base = api.base

    def create(_):
        return requests.post(base + "/virtual-machines",
                             json={"virtual-machine": {"fq_name": [name]}},
                             timeout=HTTP_TIMEOUT).status_code
    codes = race(16, create)
    assert codes.count(200) == 1 and codes.count(409) == 15, codes


def test_concurrent_distinct_creates_get_distinct_ids(api):
    t = api.project()
    base = api.base

    def create(i):
        r = requests.post(base + "/virtual-networks", json={"virtual-network": {
            "parent_type": "project", "fq_name": t.fq + [f"par-{i}"]}}, timeout=HTTP_TIMEOUT)
        return r.status_code, (r.json()["virtual-network"]["uuid"] if r.status_code == 200
                               else r.text)
    results = race(20, create)
    assert all(isinstance(r, tuple) and r[0] == 200 for r in results), results
    ids = [api.read("virtual-network", r[1])["virtual_network_network_id"] for r in results]
    assert len(set(ids)) == 20


def test_concurrent_instance_ips_get_distinct_addresses(api):
    t = api.project()
    vn = t.vn(subnets=[NET24])
    base = api.base

    def create(i):
        r = requests.post(base + "/instance-ips", json={"instance-ip": {
            "fq_name": [unique(f"ciip-{i}")],
            "virtual_network_refs": [{"to": vn["fq_name"]}]}}, timeout=HTTP_TIMEOUT)
        return r.status_code, (r.json()["instance-ip"]["uuid"] if r.status_code == 200
                               else r.text)
    results = race(20, create)
    assert all(isinstance(r, tuple) and r[0] == 200 for r in results), results
    addrs = [ip(api.read("instance-ip", r[1])["instance_ip_address"]) for r in results]
    assert len(set(addrs)) == 20
    assert set(addrs) == {ip(f"203.0.113.{i}") for i in range(233, 253)}


def test_concurrent_security_groups_get_distinct_ids(api):
    t = api.project()
    base = api.base

    def create(i):
        r = requests.post(base + "/security-groups", json={"security-group": {
            "parent_type": "project", "fq_name": t.fq + [f"csg-{i}"],
            "security_group_entries": {"policy_rule": []}}}, timeout=HTTP_TIMEOUT)
        return r.status_code, (r.json()["security-group"]["uuid"] if r.status_code == 200
                               else r.text)
    results = race(12, create)
    assert all(isinstance(r, tuple) and r[0] == 200 for r in results), results
    ids = [api.read("security-group", r[1])["security_group_id"] for r in results]
    assert len(set(ids)) == 12


def test_concurrent_delete_and_refer(api):
    """Racing a delete against a create that refers to the VN: never both succeed."""
    t = api.project()
    base = api.base
    for round_ in range(5):
        vn = t.vn()

        def go(i):
            if i == 0:
                return requests.delete(f"{base}/virtual-network/{vn['uuid']}",
                                       timeout=HTTP_TIMEOUT).status_code
            return requests.post(base + "/virtual-machine-interfaces", json={
                "virtual-machine-interface": {
                    "parent_type": "project", "fq_name": t.fq + [unique("rp")],
                    "virtual_network_refs": [{"uuid": vn["uuid"]}]}},
                timeout=HTTP_TIMEOUT).status_code
        codes = race(2, go)
        assert codes[0] in (200, 409), codes
        assert codes[1] in (200, 400, 404, 409), codes
        assert not (codes[0] == 200 and codes[1] == 200), \
            f"round {round_}: VN deleted while a new VMI refers to it"
        if codes[0] == 409:
            vmis = api.list_uuids("virtual-machine-interface", back_ref_id=vn["uuid"])
            for u in vmis:
                api.remove("virtual-machine-interface", u)
            api.remove("virtual-network", vn["uuid"])
