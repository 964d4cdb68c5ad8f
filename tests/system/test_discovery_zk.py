"""contrail-discovery on ZooKeeper (config-plane reference §8: active/active servers on one
store).

A 3-node ZooKeeper ensemble (the Debian zookeeper package) and two discovery servers on it:
what one server is told, the other answers; heartbeats through either keep a publisher alive;
concurrent traffic through both stays balanced and does not undo admin changes; names the
store cannot hold are refused; losing the ZooKeeper leader costs at most a few seconds of 503,
losing the whole ensemble gives 503 until it is back; contrail-api configured with both
servers keeps its ApiServer published and heartbeating when one of them dies."""

import collections
import threading
import time
import uuid

import pytest
import requests

from conftest import ApiServer, describe, poll
from discutil import DiscClient, Discovery, Hammer, elapsed_since, sid, wait_until
from zkutil import ZkEnsemble, mode, zookeeper_installed

pytestmark = pytest.mark.skipif(not zookeeper_installed(),
                                reason="the Debian zookeeper package (and java) is not installed")

SESSION_MS = 6000


def utype(prefix="Svc"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def info(i, port="5269"):
    return {"ip-address": f"10.1.0.{i}", "port": port}


@pytest.fixture(scope="module")
def zk(tmp_path_factory):
    ens = ZkEnsemble(tmp_path_factory.mktemp("zookeeper"), size=3)
    try:
        ens.start()
        yield ens
    finally:
        ens.stop()


@pytest.fixture
def zk_all_up(zk):
    """The ensemble with every node running (a test that kills nodes restarts them)."""
    for i in range(zk.size):
        if not zk.running(i):
            zk.start_node(i)
    zk.wait_serving()
    return zk


@pytest.fixture
def servers(zk_all_up, tmp_path):
    """Starts discovery servers on the ensemble; stops them (checking exit status) after."""
    made = []

    def make(name, **kw):
        # Publishers stay up 15 s without heartbeats unless a test asks for less.
        kw.setdefault("hc_interval", 5)
        kw.setdefault("hc_max_miss", 3)
        # TTLs drive no wait here; long enough that no subscription lapses mid-test (in-use
        # counts only count live ones).
        kw.setdefault("ttl_min", 10)
        kw.setdefault("ttl_max", 20)
        srv = Discovery(tmp_path / name, zk=zk_all_up.connect_string,
                        zk_session_timeout_ms=SESSION_MS, **kw)
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


@pytest.fixture
def pair(servers):
    a, b = servers("disc-a"), servers("disc-b")
    ca, cb = DiscClient(a), DiscClient(b)
    yield ca, cb
    ca.close()
    cb.close()


def test_publish_through_one_server_subscribe_through_the_other(pair):
    ca, cb = pair
    stype = utype("xmpp-server")
    c1 = ca.publish(stype, info(1))
    c2 = cb.publish(stype, info(2))
    # Both servers list both publishers (the other server learns of a publish through its
    # ZooKeeper watch, a moment later).
    for c in (ca, cb):
        poll(lambda: set(c.service_map(stype)) == {c1, c2}, 10, "both publishers listed")
    ans = cb.subscribe(stype, "compute1:contrail-vrouter-agent:0", 2)
    assert {e["@publisher-id"] for e in ans[stype]} == {sid(c1), sid(c2)}, ans
    assert {e["ip-address"] for e in ans[stype]} == {"10.1.0.1", "10.1.0.2"}
    # The assignment made through B is what A knows: sticky there, and listed as a client.
    assert set(ca.subscribe_ids(stype, "compute1:contrail-vrouter-agent:0", 2)) == \
        {sid(c1), sid(c2)}
    rows = ca.clients(stype)
    assert {r["service_id"] for r in rows} == {c1, c2}, rows
    # Load balancing sees the subscriptions made through both servers.
    got = [(ca if i % 2 else cb).subscribe_ids(stype, f"lb-{i}")[0] for i in range(8)]
    counts = {s: got.count(s) for s in set(got)}
    assert sorted(counts.values()) == [4, 4], counts
    # An admin change through one server is seen by the other.
    cb.set_admin(c1, "down")
    assert ca.status(c1) == "down"
    assert ca.subscribe_ids(stype, "after-admin") == [sid(c2)]


def test_concurrent_subscribers_on_both_servers(pair):
    """Two subscription streams at once, one through each server: every assignment made
    through one server is seen by the next on the other, so the load stays balanced (an
    assignment in flight on the other server is the only one a decision can miss)."""
    ca, cb = pair
    stype = utype()
    cookies = [ca.publish(stype, info(i)) for i in range(3)]
    clients = [f"conc-{i}" for i in range(36)]
    results, errors = {}, []
    lock = threading.Lock()

    def worker(n, names):
        c = DiscClient((ca if n % 2 else cb).server)
        try:
            for name in names:
                r = c.subscribe_raw(stype, name)
                with lock:
                    if r.status_code != 200:
                        errors.append(describe(r))
                    else:
                        results[name] = [e["@publisher-id"] for e in r.json()[stype]]
        finally:
            c.close()
    threads = [threading.Thread(target=worker, args=(n, clients[n::2])) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
    assert len(results) == len(clients) and all(len(v) == 1 for v in results.values())
    counts = collections.Counter(v[0] for v in results.values())
    assert set(counts) == {sid(c) for c in cookies}, counts
    assert max(counts.values()) - min(counts.values()) <= 2, counts
    # Sticky through the other server; in_use agrees on both.
    for name in clients[:6]:
        assert ca.subscribe_ids(stype, name) == results[name]
        assert cb.subscribe_ids(stype, name) == results[name]
    for c in (ca, cb):
        in_use = {sid(k): e["in_use"] for k, e in c.service_map(stype).items()}
        assert in_use == dict(counts), (in_use, counts)


def test_heartbeats_through_b_keep_a_publisher_of_a_alive(servers):
    a = servers("fast-a", hc_interval=1, hc_max_miss=2)
    b = servers("fast-b", hc_interval=1, hc_max_miss=2)
    ca, cb = DiscClient(a), DiscClient(b)
    srv = a
    stype = utype()
    cookie = ca.publish(stype, info(1))
    t0 = time.monotonic()
    while elapsed_since(t0) < srv.expiry * 1.75:
        cb.heartbeat(cookie)
        assert ca.status(cookie) == "up", f"down after {elapsed_since(t0):.2f}s"
        assert ca.subscribe_ids(stype, "sub-a") == [sid(cookie)]
        time.sleep(0.25)        # the publisher's heartbeat period (pacing, not a wait)
    # Heartbeats stop: both servers withdraw it once the allowance is spent.
    t_last = time.monotonic()
    cb.heartbeat(cookie)
    wait_until(lambda: ca.status(cookie) == "down" and cb.status(cookie) == "down",
               srv.expiry + 6, "the silent publisher to be down on both servers", interval=0.1)
    took = elapsed_since(t_last)
    assert took >= srv.expiry - 0.05, f"withdrawn {took:.2f}s after its last heartbeat"
    assert ca.subscribe(stype, "sub-a")[stype] == []
    # Its next heartbeat (through A this time) brings it back on both.
    ca.heartbeat(cookie)
    assert cb.status(cookie) == "up"
    ca.close()
    cb.close()


def test_admin_state_set_through_one_server_survives_traffic_through_the_other(pair):
    """PUT admin-state through A while B takes heartbeats and subscriptions for the same
    publisher: the admin state must stick (no read-modify-write of a stale record)."""
    ca, cb = pair
    lost = []
    for trial in range(8):
        stype = utype()
        cookie = ca.publish(stype, info(trial))
        hammer = Hammer([cb.server], cookie, stype).start()
        try:
            hammer.wait_requests(30)
            ca.set_admin(cookie, "down")
            hammer.wait_requests(30)
        finally:
            hammer.stop()
        assert not hammer.errors, hammer.errors[:3]
        state = cb.admin_raw("GET", cookie).json()["admin_state"]
        if state != "down":
            lost.append((trial, state))
    assert not lost, f"admin-state down (PUT answered 200) reverted in trials {lost} of 8"


def test_names_zookeeper_cannot_store_are_refused_with_400(pair):
    """Names are path components in the store: characters ZooKeeper refuses in paths must give
    a 400, not a 503 that tells the client to retry for ever."""
    ca, cb = pair
    # A name ZooKeeper does accept works.
    ok = utype("sérvice")
    cookie = ca.publish(ok, info(1))
    assert cb.subscribe_ids(ok, "c") == [sid(cookie)]
    problems = []
    for bad in ("T\u0085x", "T\ue000x", "T\ufff5x"):
        r = ca.publish_raw(bad, info(2))
        if not 400 <= r.status_code < 500:
            problems.append(f"publish {bad!r}: {describe(r)}")
        r = ca.subscribe_raw(bad, "c")
        if not 400 <= r.status_code < 500:
            problems.append(f"subscribe {bad!r}: {describe(r)}")
        r = ca.subscribe_raw(ok, "c\u0085")
        if not 400 <= r.status_code < 500:
            problems.append(f"subscribe client 'c\\x85': {describe(r)}")
    assert ca.alive() and cb.alive()
    assert not problems, "\n".join(problems)


def test_zookeeper_leader_loss_costs_at_most_a_few_seconds(pair, zk_all_up):
    zk = zk_all_up
    ca, cb = pair
    stype = utype()
    cookie = ca.publish(stype, info(1))
    assert cb.subscribe_ids(stype, "sub") == [sid(cookie)]
    leader = zk.leader()
    assert leader is not None, zk.modes()
    zk.kill_node(leader)
    t0 = time.monotonic()
    seen = []

    def answering():
        ok = True
        for what, call in (("heartbeat via A", lambda: ca.heartbeat_raw(cookie)),
                           ("subscribe via B", lambda: cb.subscribe_raw(stype, "sub")),
                           ("listing via A", lambda: ca.get(f"/services/{stype}"))):
            t = time.monotonic()
            try:
                r = call()
            except requests.RequestException as e:
                raise AssertionError(f"{what} failed {elapsed_since(t0):.1f}s after the "
                                     f"leader was killed: {e!r}")
            took = elapsed_since(t)
            assert took < 8, f"{what} took {took:.1f}s to answer ({describe(r)})"
            assert r.status_code in (200, 503), f"{what}: {describe(r)}"
            if r.status_code == 503:
                assert r.text.strip(), f"{what}: 503 without an explanation"
            seen.append((round(elapsed_since(t0), 2), what, r.status_code))
            ok &= r.status_code == 200
        return ok
    try:
        wait_until(answering, 20, "discovery to answer again after the ZooKeeper leader died",
                   interval=0.1)
        recovered = elapsed_since(t0)
        assert recovered <= 10, f"answering again only after {recovered:.1f}s: {seen}"
        # Steady again, with the state intact, through both servers.
        for _ in range(3):
            assert answering(), seen[-3:]
        assert ca.status(cookie) == "up" and cb.status(cookie) == "up"
        assert ca.subscribe_ids(stype, "sub") == [sid(cookie)]
        c2 = cb.publish(stype, info(2))
        assert set(ca.service_map(stype)) == {cookie, c2}
        assert zk.leader() is not None and zk.leader() != leader
    finally:
        zk.start_node(leader)
        zk.wait_serving()


def test_api_keeps_its_publication_when_a_discovery_server_dies(servers, tmp_path):
    # contrail-api heartbeats every 5 s: allow 10 s without one.
    a = servers("disc-a", hc_interval=5, hc_max_miss=2, ttl_min=20, ttl_max=40)
    b = servers("disc-b", hc_interval=5, hc_max_miss=2, ttl_min=20, ttl_max=40)
    ca, cb = DiscClient(a), DiscClient(b)
    api = ApiServer(tmp_path / "api",
                    extra_args=["--disc_server_ip", f"{a.address},{b.address}"])
    api.start()
    try:
        port = str(api.port)

        def entry(c, stype="ApiServer"):
            for e in c.services(stype):
                if e["info"].get("port") == port:
                    return e
            return None

        # ApiServer and IfmapServer are two publications: each may land a moment apart.
        def up_everywhere():
            return all((entry(c) or {}).get("status") == "up"
                       and any(x["status"] == "up" for x in c.services("IfmapServer"))
                       for c in (ca, cb))
        wait_until(up_everywhere, 15, "contrail-api's ApiServer and IfmapServer to be published",
                   interval=0.1)
        e = entry(cb)
        assert e["info"] == {"ip-address": "127.0.0.1", "port": port}, e
        assert e["service_id"].endswith(":ApiServer")
        # A subscriber finds it through either server.
        assert any(x["port"] == port for x in ca.subscribe("ApiServer", "schema", 0)["ApiServer"])

        # Kill the server contrail-api talks to.
        used, survivor = (a, b) if ca.stats()["publish"] > 0 else (b, a)
        cs = DiscClient(survivor)
        assert cs.stats()["publish"] == 0, (ca.stats(), cb.stats())
        hb0 = entry(cs)["heartbeat"]
        stats0 = cs.stats()
        used.kill()
        t0 = time.monotonic()
        down_seen = []

        def still_up():
            assert api.alive(), ("contrail-api exited (signalled from outside the test?)\n"
                                 + api.diagnostics())
            e = entry(cs)
            if not e or e["status"] != "up":
                down_seen.append((round(elapsed_since(t0), 2), e))
            return e

        def moved_over():
            e = still_up()
            st = cs.stats()
            return (e and e["heartbeat"] > hb0
                    and st["publish"] + st["heartbeat"] > stats0["publish"] + stats0["heartbeat"])
        def waiting(predicate, what):
            try:
                wait_until(predicate, 15, what, interval=0.2)
            except TimeoutError as e:
                raise AssertionError(f"{e}\nsurvivor stats {cs.stats()} (before: {stats0}); "
                                     f"ApiServer there: {entry(cs)}\n{api.diagnostics()}")
        waiting(moved_over, "contrail-api to publish/heartbeat through the other server")
        # And it keeps heartbeating there.
        hb1, stats1 = entry(cs)["heartbeat"], cs.stats()
        waiting(lambda: still_up() and entry(cs)["heartbeat"] > hb1
                and cs.stats()["heartbeat"] > stats1["heartbeat"],
                "a heartbeat of contrail-api through the surviving server")
        assert not down_seen, f"ApiServer was not up through the survivor at times: {down_seen}"
        assert api.alive()
        assert any(x["port"] == port for x in cs.subscribe("ApiServer", "svc-mon", 0)["ApiServer"])
        cs.close()
    finally:
        problem = api.stop()
        ca.close()
        cb.close()
    assert problem is None, problem + "\n" + api.diagnostics()


def test_whole_ensemble_down_gives_503_then_recovers(pair, zk_all_up):
    zk = zk_all_up
    ca, cb = pair
    stype = utype()
    cookie = ca.publish(stype, info(1))
    try:
        for i in range(zk.size):
            zk.kill_node(i)
        assert all(mode(p) is None for p in zk.client_ports)

        def unavailable():
            t = time.monotonic()
            r = cb.subscribe_raw(stype, "sub", timeout=15)
            assert elapsed_since(t) < 8, f"subscribe took {elapsed_since(t):.1f}s"
            assert r.status_code in (200, 503), describe(r)
            return [r] if r.status_code == 503 else None     # (a 503 Response is falsy)
        r = wait_until(unavailable, 10, "a 503 while ZooKeeper is down", interval=0.1)[0]
        assert r.text.strip(), describe(r)
        r = ca.publish_raw(stype, info(2), timeout=15)
        assert r.status_code == 503, describe(r)
        # Requests that need no store still work.
        assert ca.alive() and cb.alive()
    finally:
        for i in range(zk.size):
            zk.start_node(i)
        zk.wait_serving()
    # Back: the state is still there and both servers answer.
    wait_until(lambda: ca.heartbeat_raw(cookie).status_code == 200
               and cb.subscribe_raw(stype, "sub").status_code == 200, 20,
               "discovery to answer again after ZooKeeper came back", interval=0.2)
    assert cb.subscribe_ids(stype, "sub") == [sid(cookie)]
