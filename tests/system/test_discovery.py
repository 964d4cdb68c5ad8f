"""contrail-discovery on its in-process store (config-plane reference §8, Appendix B).

Publish / heartbeat / subscribe / query against a real daemon: balancing and stickiness of
assignments, the round-robin and fixed policies, withdrawal of publishers that stop
heartbeating, admin and oper state (also under concurrent traffic), TTLs, the XML forms the
original's C++ clients use, the /services.json and /clients.json listings, bad input on every
endpoint, and contrail-api (lib/disc_client) failing over from a server that never answers.

Every test uses service types of its own (unique names), so that assignments and in-use counts
of one test do not disturb another on the shared daemon."""

import collections
import http.client
import json
import socket
import threading
import time
import uuid

import pytest
import requests

from conftest import ApiServer, describe
from discutil import (DiscClient, Discovery, Hammer, elapsed_since, parse_xml, sid,
                      wait_until)

# The shared daemon: publishers stay up for 90 s without heartbeats, TTLs in [40, 60] so that
# a short TTL (1..32) is told apart from a normal one.
TTL_MIN, TTL_MAX = 40, 60


def utype(prefix="Svc"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def info(i, port="5269"):
    return {"ip-address": f"10.0.{i // 250}.{i % 250 + 1}", "port": port}


def publish_n(dc, stype, k, start=0):
    return [dc.publish(stype, info(start + i)) for i in range(k)]


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def disc_server(tmp_path_factory):
    srv = Discovery(tmp_path_factory.mktemp("discovery"), hc_interval=30, hc_max_miss=3,
                    ttl_min=TTL_MIN, ttl_max=TTL_MAX)
    srv.start()
    try:
        yield srv
    finally:
        problem = srv.stop()
    if problem:
        pytest.fail(problem + "\n" + srv.diagnostics())


@pytest.fixture
def dc(disc_server):
    if not disc_server.alive():
        # An earlier test crashed it (and failed for it): start again for the next ones.
        disc_server._reap()
        disc_server.start()
    client = DiscClient(disc_server)
    yield client
    client.close()
    if not disc_server.alive():
        pytest.fail("contrail-discovery died during this test\n" + disc_server.diagnostics())


@pytest.fixture
def disc_factory(tmp_path):
    made = []

    def make(name="disc", **kw):
        srv = Discovery(tmp_path / name, **kw)
        made.append(srv)
        return srv.start()
    yield make
    problems = []
    for srv in made:
        problem = srv.stop()
        if problem:
            problems.append(problem + "\n" + srv.diagnostics())
    if problems:
        pytest.fail("\n\n".join(problems))


# ---------------------------------------------------------------------------------------------
# Basics and listing shapes


def test_root_links_and_stats(dc):
    r = dc.get("/")
    assert r.status_code == 200, describe(r)
    links = r.json()["links"]
    for path in ("/publish", "/heartbeat", "/subscribe", "/query", "/services.json",
                 "/clients.json"):
        assert path in links, links
    before = dc.stats()
    for key in ("publish", "heartbeat", "subscribe", "query", "errors"):
        assert isinstance(before[key], int), before
    stype = utype()
    cookie = dc.publish(stype, info(1))
    dc.heartbeat(cookie)
    dc.subscribe(stype, "stats-client")
    dc.query(stype)
    after = dc.stats()
    for key in ("publish", "heartbeat", "subscribe", "query"):
        assert after[key] == before[key] + 1, (key, before, after)


def test_publish_cookie_and_services_json_shape(dc):
    stype = utype("xmpp-server")
    t0 = time.time()
    c1 = dc.publish(stype, info(1), **{"remote-addr": "198.51.100.1"})
    c2 = dc.publish(stype, info(2), **{"remote-addr": "198.51.100.2", "version": "3.2"})
    assert c1 != c2
    for c in (c1, c2):
        s, t = c.split(":")
        assert t == stype and s, c

    entries = dc.services(stype)
    assert {e["service_id"] for e in entries} == {c1, c2}, entries
    by_id = {e["service_id"]: e for e in entries}
    e1 = by_id[c1]
    assert e1["service_type"] == stype
    assert e1["info"] == info(1)
    assert e1["remote"] == "198.51.100.1"
    assert e1["status"] == "up"
    assert e1["admin_state"] == "up"
    assert e1["oper_state"] == "up"
    assert e1["in_use"] == 0
    assert abs(e1["heartbeat"] - t0) < 30, e1
    assert by_id[c2]["version"] == "3.2"

    # The full listing has them too, next to other types.
    everything = dc.services()
    assert {c1, c2} <= {e["service_id"] for e in everything}
    assert all(e["service_id"].endswith(":" + e["service_type"]) for e in everything)
    # /services is the same listing.
    r = dc.get("/services")
    assert r.status_code == 200, describe(r)
    assert {c1, c2} <= {e["service_id"] for e in r.json()["services"]}


def test_minimal_publish_defaults(dc):
    """Only the type and its information: remote is the peer's address, oper-state up."""
    stype = utype()
    r = dc.post("/publish", {stype: info(1), "service-type": stype})
    assert r.status_code == 200, describe(r)
    cookie = r.json()["cookie"]
    entry = dc.service_map(stype)[cookie]
    assert entry["remote"] == "127.0.0.1", entry
    assert entry["status"] == "up" and entry["oper_state"] == "up", entry
    # /publish/<end-point> is the same endpoint.
    r = dc.post(f"/publish/{stype}", {stype: info(2), "service-type": stype})
    assert r.status_code == 200, describe(r)
    dc.heartbeat(r.json()["cookie"])
    assert len(dc.services(stype)) == 2


def test_republish_keeps_the_cookie(dc):
    stype = utype()
    c1 = dc.publish(stype, info(1))
    assert dc.publish(stype, info(1)) == c1
    assert len(dc.services(stype)) == 1
    # Other information is another publisher; an explicit service-id names the publisher.
    c2 = dc.publish(stype, info(2))
    assert c2 != c1
    c3 = dc.publish(stype, info(3), **{"service-id": "control-node-7"})
    assert c3 == f"control-node-7:{stype}"
    assert set(dc.service_map(stype)) == {c1, c2, c3}
    # The service-id publisher is updated, not duplicated, when its information changes.
    assert dc.publish(stype, info(4), **{"service-id": "control-node-7"}) == c3
    assert dc.service_map(stype)[c3]["info"] == info(4)


def test_get_service_by_id(dc):
    stype = utype()
    cookie = dc.publish(stype, info(1))
    r = dc.admin_raw("GET", cookie)
    assert r.status_code == 200, describe(r)
    rec = r.json()
    assert rec["info"] == info(1)
    assert rec["admin_state"] == "up"


def test_clients_json_shape(dc):
    stype = utype()
    cookies = publish_n(dc, stype, 2)
    a = dc.subscribe(stype, "compute1:contrail-vrouter-agent:0", 1,
                     **{"client-type": "contrail-vrouter-agent", "remote-addr": "10.9.9.1"})
    b = dc.subscribe(stype, "compute2:contrail-vrouter-agent:0", 2)
    rows = dc.clients(stype)
    assert len(rows) == 3, rows
    for row in rows:
        assert row["service_type"] == stype, row
        assert row["service_id"] in cookies, row
        assert 0 < row["ttl"] <= TTL_MAX + 30 + 1, row
    by_client = collections.defaultdict(list)
    for row in rows:
        by_client[row["client_id"]].append(row)
    one = by_client["compute1:contrail-vrouter-agent:0"]
    assert len(one) == 1
    assert one[0]["client_type"] == "contrail-vrouter-agent"
    assert one[0]["remote"] == "10.9.9.1"
    assert sid(one[0]["service_id"]) == a[stype][0]["@publisher-id"]
    two = by_client["compute2:contrail-vrouter-agent:0"]
    assert {r["service_id"] for r in two} == set(cookies)
    assert {e["@publisher-id"] for e in b[stype]} == {sid(c) for c in cookies}
    # /clients.json has them among all the others; /clients is the same.
    for path in ("/clients.json", "/clients"):
        r = dc.get(path)
        assert r.status_code == 200, describe(r)
        mine = [e for e in r.json()["services"] if e["service_type"] == stype]
        assert len(mine) == 3, describe(r)
    # in_use of the services listing counts the subscriptions.
    in_use = {c: e["in_use"] for c, e in dc.service_map(stype).items()}
    assert sum(in_use.values()) == 3, in_use


# ---------------------------------------------------------------------------------------------
# Assignment: load-balance (the default), stickiness


def assignment_counts(dc, stype, clients, instances=1):
    counts = collections.Counter()
    got = {}
    for c in clients:
        ids = dc.subscribe_ids(stype, c, instances)
        assert len(ids) == instances and len(set(ids)) == instances, (c, ids)
        got[c] = ids
        counts.update(ids)
    return counts, got


def test_load_balance_spreads_subscribers_evenly(dc):
    stype = utype()
    cookies = publish_n(dc, stype, 3)
    clients = [f"client-{i}" for i in range(31)]
    counts, _ = assignment_counts(dc, stype, clients)
    assert set(counts) == {sid(c) for c in cookies}, counts
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    # The listing's in_use agrees with what was handed out.
    in_use = {sid(c): e["in_use"] for c, e in dc.service_map(stype).items()}
    assert in_use == dict(counts), (in_use, counts)


def test_load_balance_with_two_instances_each(dc):
    stype = utype()
    publish_n(dc, stype, 4)
    counts, _ = assignment_counts(dc, stype, [f"c{i}" for i in range(10)], instances=2)
    assert sum(counts.values()) == 20
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_load_balance_concurrent_subscribers(dc):
    stype = utype()
    publish_n(dc, stype, 4)
    clients = [f"conc-{i}" for i in range(48)]
    results, errors = {}, []
    lock = threading.Lock()

    def worker(names):
        s = DiscClient(dc.server)
        try:
            for name in names:
                r = s.subscribe_raw(stype, name)
                with lock:
                    if r.status_code != 200:
                        errors.append(describe(r))
                    else:
                        results[name] = [e["@publisher-id"] for e in r.json()[stype]]
        finally:
            s.close()
    threads = [threading.Thread(target=worker, args=(clients[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
    assert len(results) == len(clients)
    counts = collections.Counter(ids[0] for ids in results.values())
    assert max(counts.values()) - min(counts.values()) <= 2, counts
    # Sticky afterwards, and the in_use of the listing agrees.
    for name in clients[:12]:
        assert dc.subscribe_ids(stype, name) == results[name], name
    in_use = {sid(c): e["in_use"] for c, e in dc.service_map(stype).items()}
    assert in_use == dict(counts), (in_use, counts)


def test_assignment_is_sticky_and_new_publishers_take_new_subscribers(dc):
    stype = utype()
    cookies = publish_n(dc, stype, 2)
    clients = [f"sticky-{i}" for i in range(6)]
    counts, first = assignment_counts(dc, stype, clients)
    assert sorted(counts.values()) == [3, 3], counts
    for _ in range(2):
        for c in clients:
            assert dc.subscribe_ids(stype, c) == first[c], c
    # A third publisher: old subscribers keep theirs, new ones go to the least loaded.
    new = sid(dc.publish(stype, info(9)))
    for c in clients:
        assert dc.subscribe_ids(stype, c) == first[c], c
    for i in range(3):
        assert dc.subscribe_ids(stype, f"late-{i}") == [new], i
    # Asking for more instances keeps the old one and adds others.
    more = dc.subscribe_ids(stype, clients[0], 3)
    assert more[0] == first[clients[0]][0]
    assert set(more) == {sid(c) for c in cookies} | {new}


# ---------------------------------------------------------------------------------------------
# Policies from the conf file


@pytest.fixture
def policy_server(disc_factory):
    return disc_factory("policies", policies={"rr-svc": "round-robin", "fixed-svc": "fixed",
                                              "lb-svc": "load-balance"},
                        use_conf_file=True, ttl_min=TTL_MIN, ttl_max=TTL_MAX)


@pytest.fixture
def pc(policy_server):
    c = DiscClient(policy_server)
    yield c
    c.close()


def test_round_robin_cycles_through_publishers(pc):
    cookies = publish_n(pc, "rr-svc", 3)
    got = [pc.subscribe_ids("rr-svc", f"rr-{i}")[0] for i in range(9)]
    assert set(got[:3]) == {sid(c) for c in cookies}, got
    assert got[3:6] == got[:3] and got[6:9] == got[:3], got


def test_round_robin_takes_the_least_recently_assigned_not_the_least_loaded(pc):
    a, b = (sid(c) for c in publish_n(pc, "rr-svc", 2))
    cookie_b = f"{b}:rr-svc"
    pc.set_admin(cookie_b, "down")
    assert pc.subscribe_ids("rr-svc", "c1") == [a]
    assert pc.subscribe_ids("rr-svc", "c2") == [a]
    pc.set_admin(cookie_b, "up")
    assert pc.subscribe_ids("rr-svc", "c3") == [b]
    # Now a serves 2 and b 1, but a was assigned longer ago: round-robin picks a (load-balance
    # would pick b).
    assert pc.subscribe_ids("rr-svc", "c4") == [a]


def test_load_balance_policy_from_conf_file(pc):
    a, b = (sid(c) for c in publish_n(pc, "lb-svc", 2))
    cookie_b = f"{b}:lb-svc"
    pc.set_admin(cookie_b, "down")
    assert pc.subscribe_ids("lb-svc", "c1") == [a]
    assert pc.subscribe_ids("lb-svc", "c2") == [a]
    pc.set_admin(cookie_b, "up")
    assert pc.subscribe_ids("lb-svc", "c3") == [b]
    assert pc.subscribe_ids("lb-svc", "c4") == [b]


def test_fixed_policy_gives_the_oldest_publishers(pc):
    p1, p2, p3 = (sid(c) for c in publish_n(pc, "fixed-svc", 3))
    for i in range(4):
        assert pc.subscribe_ids("fixed-svc", f"f{i}") == [p1], i
    assert pc.subscribe_ids("fixed-svc", "pair", 2) == [p1, p2]
    # The oldest goes down: everyone moves to the next oldest.
    pc.set_admin(f"{p1}:fixed-svc", "down")
    assert pc.subscribe_ids("fixed-svc", "f0") == [p2]
    assert pc.subscribe_ids("fixed-svc", "new-1") == [p2]
    # Back up: new subscribers get it again.
    pc.set_admin(f"{p1}:fixed-svc", "up")
    assert pc.subscribe_ids("fixed-svc", "new-2") == [p1]
    # Republishing (same information) does not make a publisher younger.
    pc.publish("fixed-svc", info(0))
    assert pc.subscribe_ids("fixed-svc", "new-3") == [p1]
    assert pc.subscribe_ids("fixed-svc", "triple", 3) == [p1, p2, p3]


# ---------------------------------------------------------------------------------------------
# Liveness: heartbeats, admin and oper state


def test_publisher_without_heartbeats_is_withdrawn(disc_factory):
    srv = disc_factory("fast", hc_interval=1, hc_max_miss=2, ttl_min=2, ttl_max=4)
    dc = DiscClient(srv)
    stype = utype()
    t_pub = time.monotonic()
    dead = dc.publish(stype, info(1))
    assert dc.subscribe_ids(stype, "sub") == [sid(dead)]
    live = dc.publish(stype, info(2))
    # While DEAD is still within its allowance, the subscriber keeps it.
    assert dc.subscribe_ids(stype, "sub") == [sid(dead)]

    # LIVE heartbeats (every 0.3 s); DEAD does not.  LIVE stays up throughout.
    next_hb = [0.0]

    def dead_is_down():
        if time.monotonic() >= next_hb[0]:
            dc.heartbeat(live)
            next_hb[0] = time.monotonic() + 0.3
        statuses = dc.service_map(stype)
        assert statuses[live]["status"] == "up", statuses
        return statuses[dead]["status"] == "down"
    wait_until(dead_is_down, srv.expiry + 5, "the silent publisher to be marked down")
    took = elapsed_since(t_pub)
    assert took >= srv.expiry - 0.05, f"withdrawn after {took:.2f}s < {srv.expiry}s"
    assert took <= srv.expiry + 3, f"withdrawn only after {took:.2f}s"

    # Its subscriber gets the live one at its next subscribe; new subscribers too.
    assert dc.subscribe_ids(stype, "sub") == [sid(live)]
    assert dc.subscribe_ids(stype, "other") == [sid(live)]
    assert dc.query(stype)[stype] == [dict(info(2), **{"@publisher-id": sid(live)})]
    # A late heartbeat brings it back (the record is still there); the subscriber stays.
    dc.heartbeat(dead)
    assert dc.status(dead) == "up"
    assert dc.subscribe_ids(stype, "sub") == [sid(live)]
    assert set(dc.subscribe_ids(stype, "both", 2)) == {sid(live), sid(dead)}
    dc.close()


def test_heartbeats_keep_a_publisher_up(disc_factory):
    srv = disc_factory("fast", hc_interval=1, hc_max_miss=2, ttl_min=2, ttl_max=4)
    dc = DiscClient(srv)
    stype = utype()
    cookie = dc.publish(stype, info(1))
    t0 = time.monotonic()
    end = t0 + srv.expiry * 1.75
    while time.monotonic() < end:
        r = dc.heartbeat(cookie)
        assert r.text.strip() == "200 OK", describe(r)
        assert dc.status(cookie) == "up", f"down after {elapsed_since(t0):.2f}s of heartbeats"
        assert dc.subscribe_ids(stype, "sub") == [sid(cookie)]
        time.sleep(0.25)        # the publisher's heartbeat period (pacing, not a wait)
    dc.close()


def test_admin_state_down_hides_a_publisher(dc):
    stype = utype()
    a, b = publish_n(dc, stype, 2)
    assert set(dc.subscribe_ids(stype, "both", 2)) == {sid(a), sid(b)}
    r = dc.set_admin(a, "down")
    r = dc.admin_raw("GET", a)
    assert r.status_code == 200 and r.json()["admin_state"] == "down", describe(r)
    entry = dc.service_map(stype)[a]
    assert entry["admin_state"] == "down" and entry["status"] == "down", entry
    # Heartbeats do not bring it back: admin state is the operator's.
    dc.heartbeat(a)
    assert dc.status(a) == "down"
    ans = dc.subscribe(stype, "both", 2)
    assert [e["@publisher-id"] for e in ans[stype]] == [sid(b)]
    assert ans["ttl"] < TTL_MIN, ans
    assert dc.subscribe_ids(stype, "new") == [sid(b)]
    assert [e["@publisher-id"] for e in dc.query(stype)[stype]] == [sid(b)]
    dc.set_admin(a, "up")
    assert dc.status(a) == "up"
    assert set(dc.subscribe_ids(stype, "both", 2)) == {sid(a), sid(b)}


def test_admin_state_is_not_lost_to_concurrent_heartbeats_and_subscribes(dc):
    """PUT admin-state answered 200 must stick: heartbeats and subscriptions that update the
    same publisher record at the same time must not write the old admin state back."""
    lost = []
    for trial in range(15):
        stype = utype()
        cookie = dc.publish(stype, info(trial))
        hammer = Hammer([dc.server], cookie, stype).start()
        try:
            hammer.wait_requests(40)
            dc.set_admin(cookie, "down")
            hammer.wait_requests(40)
        finally:
            hammer.stop()
        assert not hammer.errors, hammer.errors[:3]
        state = dc.admin_raw("GET", cookie).json()["admin_state"]
        if state != "down":
            lost.append((trial, state))
    assert not lost, f"admin-state down (PUT answered 200) reverted in trials {lost} of 15"


def test_delete_service_withdraws_it(dc):
    stype = utype()
    a, b = publish_n(dc, stype, 2)
    r = dc.admin_raw("DELETE", a)
    assert r.status_code == 200, describe(r)
    assert [e["@publisher-id"] for e in dc.query(stype)[stype]] == [sid(b)]
    assert dc.status(a) in (None, "down")
    assert dc.subscribe_ids(stype, "x", 1) == [sid(b)]
    # Its publisher comes back by publishing again (a heartbeat alone is refused with 404,
    # the publisher's cue to republish, if the record is gone).
    hb = dc.heartbeat_raw(a)
    assert hb.status_code in (200, 404), describe(hb)
    assert dc.publish(stype, info(0)) == a
    if hb.status_code == 404:
        assert dc.status(a) == "up"


def test_oper_state_down_hides_until_republished_up(dc):
    stype = utype()
    cookie = dc.publish(stype, info(1), **{"oper-state": "down",
                                           "oper-state-reason": "bgp not ready"})
    entry = dc.service_map(stype)[cookie]
    assert entry["oper_state"] == "down" and entry["status"] == "down", entry
    assert dc.subscribe(stype, "s", 1)[stype] == []
    assert dc.publish(stype, info(1), **{"oper-state": "up"}) == cookie
    assert dc.status(cookie) == "up"
    assert dc.subscribe_ids(stype, "s", 1) == [sid(cookie)]


# ---------------------------------------------------------------------------------------------
# TTLs and instance counts


def test_ttl_is_normal_when_enough_publishers(dc):
    stype = utype()
    publish_n(dc, stype, 2)
    for i in range(6):
        ans = dc.subscribe(stype, f"t{i}", 1 + i % 2)
        assert TTL_MIN <= ans["ttl"] <= TTL_MAX, ans


def test_short_ttl_when_fewer_publishers_than_asked(dc):
    stype = utype()
    ans = dc.subscribe(stype, "nobody-yet", 1)
    assert ans[stype] == [] and 1 <= ans["ttl"] <= 32 and ans["ttl"] < TTL_MIN, ans
    cookie = dc.publish(stype, info(1))
    for i in range(4):
        ans = dc.subscribe(stype, f"want-two-{i}", 2)
        assert [e["@publisher-id"] for e in ans[stype]] == [sid(cookie)], ans
        assert 1 <= ans["ttl"] <= 32 and ans["ttl"] < TTL_MIN, ans


def test_instances_zero_means_all(dc):
    stype = utype()
    cookies = publish_n(dc, stype, 3)
    ans = dc.subscribe(stype, "all", 0)
    assert {e["@publisher-id"] for e in ans[stype]} == {sid(c) for c in cookies}, ans
    assert TTL_MIN <= ans["ttl"] <= TTL_MAX, ans
    q = dc.query(stype, 0)
    assert {e["@publisher-id"] for e in q[stype]} == {sid(c) for c in cookies}, q
    # Publisher entries carry the published information.
    for e in ans[stype]:
        assert set(e) == {"ip-address", "port", "@publisher-id"}, e


def test_instances_zero_with_a_publisher_down_gets_the_others_and_a_normal_ttl(dc):
    """All the publishers that are up is all there is to give: a down one (kept in the store
    until it comes back) must not make every "all" subscriber come back within seconds."""
    stype = utype()
    a, b, c = publish_n(dc, stype, 3)
    dc.set_admin(c, "down")
    ans = dc.subscribe(stype, "all", 0)
    assert {e["@publisher-id"] for e in ans[stype]} == {sid(a), sid(b)}, ans
    assert TTL_MIN <= ans["ttl"] <= TTL_MAX, ans


def test_query_does_not_assign(dc):
    stype = utype()
    cookies = publish_n(dc, stype, 2)
    q = dc.query(stype, 1)
    assert len(q[stype]) == 1 and q[stype][0]["@publisher-id"] in {sid(c) for c in cookies}
    q = dc.query(stype, 1, client="observer")
    assert len(q[stype]) == 1
    assert dc.clients(stype) == []
    assert all(e["in_use"] == 0 for e in dc.services(stype))
    assert len(dc.query(stype, 5)[stype]) == 2


# ---------------------------------------------------------------------------------------------
# XML


def test_xml_publish_heartbeat_subscribe_round_trip(dc):
    stype = utype("xmpp-server")
    r = dc.post_xml("/publish", f"<publish><{stype}><ip-address>10.1.1.1</ip-address>"
                                f"<port>5269</port></{stype}><service-type>{stype}</service-type>"
                                "<remote-addr>10.1.1.1</remote-addr><oper-state>up</oper-state>"
                                "</publish>")
    assert r.status_code == 200, describe(r)
    assert "xml" in r.headers.get("Content-Type", ""), r.headers
    root = parse_xml(r)
    assert root.tag == "response", describe(r)
    c1 = root.findtext("cookie")
    assert c1 and c1.endswith(":" + stype), describe(r)
    # The bare form <type>...</type> (the original's C++ publishers), indented.
    r = dc.post_xml("/publish", f'<?xml version="1.0" encoding="utf-8"?>\n<{stype}>\n'
                                "  <ip-address>10.1.1.2</ip-address>\n  <port>5269</port>\n"
                                f"</{stype}>\n")
    assert r.status_code == 200, describe(r)
    c2 = parse_xml(r).findtext("cookie")
    assert c2 and c2.endswith(":" + stype) and c2 != c1, describe(r)
    # Heartbeats in XML, either shape.
    for body in (f"<cookie>{c1}</cookie>", f"<heartbeat><cookie>{c2}</cookie></heartbeat>"):
        r = dc.post_xml("/heartbeat", body)
        assert r.status_code == 200, describe(r)
    r = dc.post_xml("/heartbeat", f"<cookie>0123abc:{stype}</cookie>")
    assert r.status_code == 404, describe(r)

    # XML subscribe, XML answer.
    r = dc.post_xml("/subscribe", f"<{stype}>\n  <instances>2</instances>\n"
                                  "  <client>compute1:contrail-vrouter-agent:0</client>\n"
                                  "  <client-type>contrail-vrouter-agent</client-type>\n"
                                  f"  <remote-addr>10.0.0.11</remote-addr>\n</{stype}>\n")
    assert r.status_code == 200, describe(r)
    root = parse_xml(r)
    assert root.tag == "response", describe(r)
    ttl = int(root.findtext("ttl"))
    assert TTL_MIN <= ttl <= TTL_MAX, describe(r)
    got = {e.get("publisher-id"): (e.findtext("ip-address"), e.findtext("port"))
           for e in root.findall(stype)}
    assert got == {sid(c1): ("10.1.1.1", "5269"), sid(c2): ("10.1.1.2", "5269")}, describe(r)

    # A JSON subscriber sees the same information; the XML subscriber is listed as a client.
    ans = dc.subscribe(stype, "json-client", 2)
    assert {e["@publisher-id"]: (e["ip-address"], e["port"]) for e in ans[stype]} == got
    rows = [row for row in dc.clients(stype)
            if row["client_id"] == "compute1:contrail-vrouter-agent:0"]
    assert len(rows) == 2 and rows[0]["client_type"] == "contrail-vrouter-agent", rows
    # XML query.
    r = dc.post_xml("/query", f"<{stype}><instances>0</instances></{stype}>")
    assert r.status_code == 200, describe(r)
    assert len(parse_xml(r).findall(stype)) == 2, describe(r)


def test_xml_answer_escapes_published_values(dc):
    stype = utype()
    odd = {"ip-address": "10.2.2.2", "port": "5269", "note": "a&b <c> \"d\" 'e'"}
    cookie = dc.publish(stype, odd)
    r = dc.post_xml("/subscribe", f"<{stype}><instances>1</instances><client>x</client>"
                                  f"</{stype}>")
    assert r.status_code == 200, describe(r)
    entries = parse_xml(r).findall(stype)
    assert len(entries) == 1 and entries[0].get("publisher-id") == sid(cookie), describe(r)
    assert entries[0].findtext("note") == odd["note"], describe(r)


def test_xml_answer_is_well_formed_whatever_the_info_keys(dc):
    """Publisher information is free-form JSON; an XML subscriber must still get well-formed
    XML (keys that are not XML names are escaped or left out, not copied into tag names)."""
    stype = utype()
    dc.publish(stype, {"ip-address": "10.3.3.3", "port": "5269", "bad key": "x", "1st": "y",
                       "a<b": "z"})
    r = dc.post_xml("/subscribe", f"<{stype}><instances>1</instances><client>x</client>"
                                  f"</{stype}>")
    assert r.status_code == 200, describe(r)
    entries = parse_xml(r).findall(stype)
    assert len(entries) == 1 and entries[0].findtext("ip-address") == "10.3.3.3", describe(r)


def test_xml_entities_are_not_expanded(dc, tmp_path):
    """A DOCTYPE in a request must neither read local files (XXE) nor blow up (billion
    laughs): the daemon answers at once and stays up."""
    stype = utype()
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-MARKER-42")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE publish [<!ENTITY x SYSTEM "file://{secret}">]>'
           f"<publish><{stype}><ip-address>&x;</ip-address><port>1</port></{stype}>"
           f"<service-type>{stype}</service-type></publish>")
    r = dc.post_xml("/publish", xxe, timeout=10)
    assert r.status_code in (200, 400), describe(r)
    if r.status_code == 200:
        for e in dc.query(stype)[stype]:
            assert "SECRET-MARKER" not in json.dumps(e), e
        assert "SECRET-MARKER" not in json.dumps(dc.services(stype))

    lol = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    for i in range(1, 10):
        lol.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
    bomb = (f'<?xml version="1.0"?><!DOCTYPE publish [{"".join(lol)}]>'
            f"<publish><{stype}><ip-address>&lol9;</ip-address><port>1</port></{stype}>"
            f"<service-type>{stype}</service-type></publish>")
    t0 = time.monotonic()
    r = dc.post_xml("/publish", bomb, timeout=20)
    assert elapsed_since(t0) < 5, f"billion-laughs request took {elapsed_since(t0):.1f}s"
    assert r.status_code in (200, 400), describe(r)
    assert len(dc.get("/services.json").content) < 1_000_000
    assert dc.alive()


# ---------------------------------------------------------------------------------------------
# Bad input: a clear 4xx, and the daemon keeps answering


def raw_request(server, method, path, body=b"", content_type="application/json"):
    """A request with PATH sent exactly as given (no client-side normalization of "..")."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    try:
        headers = {"Content-Type": content_type} if body else {}
        conn.request(method, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


J = "application/json"
X = "application/xml"
INFO = {"ip-address": "10.0.0.1", "port": "1"}


def jb(obj):
    return json.dumps(obj).encode()


BAD_REQUESTS = [
    # /publish
    ("publish-malformed-json", "POST", "/publish", b'{"T": {"ip-address": ', J, 400),
    ("publish-empty-body", "POST", "/publish", b"", J, 400),
    ("publish-array", "POST", "/publish", b"[1, 2]", J, 400),
    ("publish-string", "POST", "/publish", b'"ApiServer"', J, 400),
    ("publish-no-type", "POST", "/publish", jb({"T": INFO}), J, 400),
    ("publish-no-info", "POST", "/publish", jb({"service-type": "T"}), J, 400),
    ("publish-info-not-object", "POST", "/publish", jb({"T": "x", "service-type": "T"}), J, 400),
    ("publish-type-number", "POST", "/publish", jb({"5": INFO, "service-type": 5}), J, 400),
    ("publish-type-dotdot-slash", "POST", "/publish",
     jb({"../etc": INFO, "service-type": "../etc"}), J, 400),
    ("publish-type-dotdot", "POST", "/publish", jb({"..": INFO, "service-type": ".."}), J, 400),
    ("publish-type-slash", "POST", "/publish", jb({"a/b": INFO, "service-type": "a/b"}), J, 400),
    ("publish-type-empty", "POST", "/publish", jb({"": INFO, "service-type": ""}), J, 400),
    ("publish-type-space", "POST", "/publish", jb({"a b": INFO, "service-type": "a b"}), J, 400),
    ("publish-type-too-long", "POST", "/publish",
     jb({"x" * 300: INFO, "service-type": "x" * 300}), J, 400),
    ("publish-bad-oper-state", "POST", "/publish",
     jb({"T": INFO, "service-type": "T", "oper-state": "sideways"}), J, 400),
    ("publish-service-id-dotdot", "POST", "/publish",
     jb({"T": INFO, "service-type": "T", "service-id": "../../x"}), J, 400),
    ("publish-service-id-slash", "POST", "/publish",
     jb({"T": INFO, "service-type": "T", "service-id": "a/b"}), J, 400),
    ("publish-malformed-xml", "POST", "/publish", b"<publish><T><ip-address>", X, 400),
    ("publish-xml-no-info", "POST", "/publish",
     b"<publish><service-type>T</service-type></publish>", X, 400),
    ("publish-xml-text-only", "POST", "/publish", b"<publish>hello</publish>", X, 400),
    ("publish-xml-empty", "POST", "/publish", b"", X, 400),
    # /heartbeat
    ("heartbeat-malformed", "POST", "/heartbeat", b'{"cookie": "a:', J, 400),
    ("heartbeat-no-cookie", "POST", "/heartbeat", jb({}), J, 400),
    ("heartbeat-cookie-number", "POST", "/heartbeat", jb({"cookie": 5}), J, 400),
    ("heartbeat-cookie-no-colon", "POST", "/heartbeat", jb({"cookie": "abc"}), J, 400),
    ("heartbeat-cookie-empty-id", "POST", "/heartbeat", jb({"cookie": ":T"}), J, 400),
    ("heartbeat-cookie-empty-type", "POST", "/heartbeat", jb({"cookie": "abc:"}), J, 400),
    ("heartbeat-cookie-dotdot-id", "POST", "/heartbeat", jb({"cookie": "../../x:T"}), J, 400),
    ("heartbeat-cookie-dotdot-type", "POST", "/heartbeat", jb({"cookie": "abc:../T"}), J, 400),
    ("heartbeat-unknown", "POST", "/heartbeat", jb({"cookie": "0123abcd:NoSuchType"}), J, 404),
    ("heartbeat-malformed-xml", "POST", "/heartbeat", b"<cookie>abc", X, 400),
    # /subscribe
    ("subscribe-malformed", "POST", "/subscribe", b'{"service": ', J, 400),
    ("subscribe-empty", "POST", "/subscribe", jb({}), J, 400),
    ("subscribe-no-client", "POST", "/subscribe", jb({"service": "T", "instances": 1}), J, 400),
    ("subscribe-no-service", "POST", "/subscribe", jb({"client": "c", "instances": 1}), J, 400),
    ("subscribe-client-empty", "POST", "/subscribe",
     jb({"service": "T", "client": "", "instances": 1}), J, 400),
    ("subscribe-client-dotdot", "POST", "/subscribe",
     jb({"service": "T", "client": "../../x", "instances": 1}), J, 400),
    ("subscribe-service-slash", "POST", "/subscribe",
     jb({"service": "a/../b", "client": "c", "instances": 1}), J, 400),
    ("subscribe-service-number", "POST", "/subscribe",
     jb({"service": 7, "client": "c", "instances": 1}), J, 400),
    ("subscribe-instances-negative", "POST", "/subscribe",
     jb({"service": "T", "client": "c", "instances": -1}), J, 400),
    ("subscribe-instances-huge", "POST", "/subscribe",
     jb({"service": "T", "client": "c", "instances": 1 << 40}), J, 400),
    ("subscribe-instances-real", "POST", "/subscribe",
     jb({"service": "T", "client": "c", "instances": 1.5}), J, 400),
    ("subscribe-instances-bool", "POST", "/subscribe",
     jb({"service": "T", "client": "c", "instances": True}), J, 400),
    ("subscribe-instances-list", "POST", "/subscribe",
     jb({"service": "T", "client": "c", "instances": [1]}), J, 400),
    ("subscribe-instances-word", "POST", "/subscribe",
     jb({"service": "T", "client": "c", "instances": "abc"}), J, 400),
    ("subscribe-instances-empty-string", "POST", "/subscribe",
     jb({"service": "T", "client": "c", "instances": ""}), J, 400),
    ("subscribe-instances-trailing-junk", "POST", "/subscribe",
     jb({"service": "T", "client": "c", "instances": "2x"}), J, 400),
    ("subscribe-malformed-xml", "POST", "/subscribe", b"<T><instances>1</instances>", X, 400),
    ("subscribe-xml-no-client", "POST", "/subscribe", b"<T><instances>1</instances></T>", X, 400),
    ("subscribe-xml-instances-word", "POST", "/subscribe",
     b"<T><instances>many</instances><client>c</client></T>", X, 400),
    # /query
    ("query-malformed", "POST", "/query", b"{", J, 400),
    ("query-no-service", "POST", "/query", jb({"instances": 1}), J, 400),
    ("query-instances-negative", "POST", "/query", jb({"service": "T", "instances": -3}), J, 400),
    ("query-instances-word", "POST", "/query", jb({"service": "T", "instances": "all"}), J, 400),
    ("query-service-dotdot", "POST", "/query", jb({"service": "..", "instances": 1}), J, 400),
    # /service/<id>:<type>
    ("admin-put-malformed", "PUT", "/service/abc:T", b'{"admin-state": ', J, 400),
    ("admin-put-bad-state", "PUT", "/service/abc:T", jb({"admin-state": "sideways"}), J, 400),
    ("admin-put-no-state", "PUT", "/service/abc:T", jb({}), J, 400),
    ("admin-put-no-colon", "PUT", "/service/abc", jb({"admin-state": "down"}), J, 400),
    ("admin-put-dotdot", "PUT", "/service/..:T", jb({"admin-state": "down"}), J, 400),
    ("admin-get-encoded-traversal", "GET", "/service/..%2F..%2Fetc:T", b"", J, 400),
    ("admin-get-unknown", "GET", "/service/0123abcd:NoSuchType", b"", J, 404),
    ("admin-put-unknown", "PUT", "/service/0123abcd:NoSuchType", jb({"admin-state": "down"}), J,
     404),
    ("admin-delete-unknown", "DELETE", "/service/0123abcd:NoSuchType", b"", J, 404),
    ("admin-post", "POST", "/service/abc:T", jb({"admin-state": "down"}), J, 405),
    # listings and unknown paths
    ("services-dotdot", "GET", "/services/..", b"", J, 400),
    ("services-encoded-traversal", "GET", "/services/..%2F..%2Fclients", b"", J, 400),
    ("clients-encoded-slash", "GET", "/clients/a%2Fb", b"", J, 400),
    ("unknown-path", "GET", "/nosuch", b"", J, 404),
    ("get-publish", "GET", "/publish", b"", J, (404, 405)),
]


@pytest.mark.parametrize("name,method,path,body,ctype,status", BAD_REQUESTS,
                         ids=[c[0] for c in BAD_REQUESTS])
def test_bad_request_gets_a_clear_4xx(dc, name, method, path, body, ctype, status):
    got, text = raw_request(dc.server, method, path, body, ctype)
    expected = status if isinstance(status, tuple) else (status,)
    assert got in expected, f"{method} {path} {body[:200]!r}: expected {status}, got {got}: " \
                            f"{text[:300]!r}"
    assert text.strip(), f"{method} {path}: empty error body"
    assert dc.alive(), "daemon stopped answering"


def test_bad_requests_leave_nothing_behind(dc):
    """None of the rejected requests above stored anything: no publisher or client with an
    odd name shows up in the listings."""
    for name, method, path, body, ctype, status in BAD_REQUESTS:
        raw_request(dc.server, method, path, body, ctype)
    types = {e["service_type"] for e in dc.services()}
    types |= {e["service_type"] for e in dc.clients()}
    for t in types:
        assert "/" not in t and t not in (".", "..", "") and " " not in t, types
    clients = {e["client_id"] for e in dc.clients()}
    assert not any("/" in c or c in ("", "..") for c in clients), clients


@pytest.mark.parametrize("where", ["service-id", "service-type"])
def test_colons_in_names_give_a_working_cookie(dc, where):
    """A publisher may name itself (service-id) and its type freely; the cookie
    "<sid>:<type>" it gets back must work for its heartbeats and admin requests, or the
    publish must be refused."""
    if where == "service-id":
        stype = utype()
        r = dc.publish_raw(stype, INFO, **{"service-id": "host1:control"})
    else:
        stype = "ns:" + utype()
        r = dc.publish_raw(stype, INFO)
    if r.status_code == 400:
        return
    assert r.status_code == 200, describe(r)
    cookie = r.json()["cookie"]
    hb = dc.heartbeat_raw(cookie)
    assert hb.status_code == 200, f"publish -> cookie {cookie!r}; heartbeat: {describe(hb)}"
    g = dc.admin_raw("GET", cookie)
    assert g.status_code == 200, describe(g)
    assert dc.status(cookie, stype) == "up"


def test_oversized_body_is_refused(dc):
    stype = utype()
    big = {stype: {"ip-address": "10.0.0.1", "port": "1", "pad": "x" * 200_000},
           "service-type": stype}
    r = dc.post("/publish", big)
    assert 400 <= r.status_code < 500, describe(r)
    assert dc.alive()
    assert dc.services(stype) == []


def test_many_concurrent_requests_good_and_bad(dc):
    stype = utype()
    publish_n(dc, stype, 3)
    problems = []
    lock = threading.Lock()

    def worker(n):
        s = DiscClient(dc.server)
        try:
            for i in range(25):
                checks = [
                    (s.subscribe_raw(stype, f"w{n}-{i % 5}", 1 + i % 3), 200),
                    (s.post_data("/subscribe", b'{"service": '), 400),
                    (s.heartbeat_raw(f"nosuch{i}:{stype}"), 404),
                    (s.publish_raw(stype, info(100 + n)), 200),
                ]
                for r, want in checks:
                    if r.status_code != want:
                        with lock:
                            problems.append(describe(r))
        except requests.RequestException as e:
            with lock:
                problems.append(repr(e))
        finally:
            s.close()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not problems, problems[:5]
    assert dc.alive()
    assert len(dc.services(stype)) == 3 + 6


# ---------------------------------------------------------------------------------------------
# contrail-api as a publisher (lib/disc_client)


def test_api_fails_over_from_a_discovery_server_that_never_answers(disc_factory, tmp_path):
    """contrail-api is given two discovery servers; the first accepts connections but never
    answers (a hung host).  Once its requests time out, both of the API's publications
    (ApiServer and IfmapServer) must move to the second server and heartbeat there."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)             # never accepted: connects succeed, requests get no answer
    b = disc_factory("disc-b", hc_interval=5, hc_max_miss=3)
    cb = DiscClient(b)
    api = ApiServer(tmp_path / "api", extra_args=[
        "--disc_server_ip", f"127.0.0.1:{hole.getsockname()[1]},{b.address}"])
    api.start()
    history = []
    try:
        def published_and_beating():
            assert api.alive(), "contrail-api exited\n" + api.diagnostics()
            st = {t: [e["status"] for e in cb.services(t)] for t in ("ApiServer", "IfmapServer")}
            stats = cb.stats()
            history.append((round(elapsed_since(t0), 1), st, stats["publish"],
                            stats["heartbeat"]))
            return (st == {"ApiServer": ["up"], "IfmapServer": ["up"]}
                    and stats["heartbeat"] >= 2)
        t0 = time.monotonic()
        try:
            wait_until(published_and_beating, 30, "ApiServer and IfmapServer to be published "
                       "and heartbeating through the server that answers", interval=0.5)
        except TimeoutError as e:
            raise AssertionError(f"{e}; (time, status, publishes, heartbeats) seen: "
                                 f"{history[::4]}\n{api.diagnostics()}")
    finally:
        problem = api.stop()
        hole.close()
        cb.close()
    assert problem is None, problem + "\n" + api.diagnostics()


def test_introspect_discovery_page(dc, disc_server):
    """The introspect port shows the store session, the settings and counters that move."""
    base = f"http://127.0.0.1:{disc_server.introspect_port}"
    before = requests.get(base + "/discovery", timeout=10).json()
    assert before["store"] == {"backend": "local", "state": "connected"}, before
    assert before["config"]["hc_interval"] >= 1, before
    stype = utype()
    dc.publish(stype, info(1))
    dc.subscribe(stype, "introspect-client", 1)
    after = requests.get(base + "/discovery", timeout=10).json()
    assert after["counters"]["publish"] == before["counters"]["publish"] + 1, after
    assert after["counters"]["subscribe"] == before["counters"]["subscribe"] + 1, after
    index = requests.get(base + "/", timeout=10).json()
    assert "/discovery" in [p["path"] for p in index["pages"]], index
