"""Config distribution: two contrail-api servers active/active on a 3-member etcd cluster,
RabbitMQ between them, each publishing to its own ifmap-server (config-plane reference §4,
§5).  Every component is the real one, started by the test in a private directory.

The module shares one cluster; the tests that break components (etcd members, RabbitMQ, an
API server with its IF-MAP server) restore them before they end.
"""

import concurrent.futures
import threading
import time

import pytest
import requests

from conftest import DEFAULT_IPAM, ApiServer, Client, free_port, poll, subnet, unique
from ifmaputil import IfmapServer, Mirror, dump_graph, identities, reachable
from svcutil import EtcdCluster, RabbitBroker, etcd_installed, rabbitmq_installed

pytestmark = [
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    pytest.mark.skipif(not (etcd_installed() and rabbitmq_installed()),
                       reason="needs the Debian etcd-server and rabbitmq-server packages"),
]

CONVERGE = 30.0             # seconds for IF-MAP graphs to catch up


class Node:
    """One config node: an API server and its own IF-MAP server."""

    def __init__(self, name, workdir, etcd, rmq):
        self.name = name
        self.ifmap = IfmapServer(workdir / f"{name}-ifmap")
        self.etcd = etcd
        self.rmq = rmq
        self.api = None
        self.workdir = workdir

    def start(self):
        self.ifmap.start()
        if self.api is None:
            self.api = ApiServer(self.workdir / f"{self.name}-api", options=self._options())
        else:
            self.api.more_options = self._options()
        self.api.start()
        return self

    def _options(self):
        return {
            "config_db": self.etcd.spec,
            "ifmap_server_ip": "127.0.0.1",
            "ifmap_server_port": str(self.ifmap.port),
            "rabbit_server": self.rmq.server,
        }

    def kill(self):
        self.api.kill()
        self.ifmap.kill()

    def stop(self):
        problems = [p for p in (self.api.stop() if self.api else None, self.ifmap.stop()) if p]
        return problems

    def client(self):
        return Client(self.api)

    def status(self):
        r = requests.get(self.api.introspect_url + "/api", timeout=10)
        r.raise_for_status()
        return r.json()

    def diagnostics(self):
        api = self.api.diagnostics() if self.api else "(not started)"
        return (f"=== {self.name} API\n{api}\n"
                f"=== {self.name} IF-MAP\n{self.ifmap.diagnostics()}")


class Cluster:
    def __init__(self, workdir):
        self.etcd = EtcdCluster(workdir / "etcd")
        self.rmq = RabbitBroker(workdir / "rmq")
        self.nodes = [Node(f"node{i + 1}", workdir, self.etcd, self.rmq) for i in range(2)]

    def start(self):
        self.etcd.start()
        self.rmq.start()
        # Both API servers start at once on the empty store: they race to create the
        # default objects.
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            for f in [ex.submit(n.start) for n in self.nodes]:
                f.result()
        return self

    def stop(self):
        problems = []
        for n in self.nodes:
            problems += n.stop()
        self.rmq.stop()
        self.etcd.stop()
        return problems

    def diagnostics(self):
        return "\n".join([n.diagnostics() for n in self.nodes]
                         + [self.etcd.diagnostics(), self.rmq.diagnostics()])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dist"))
    try:
        c.start()
    except Exception:
        print(c.diagnostics())
        c.stop()
        raise
    yield c
    problems = c.stop()
    if problems:
        pytest.fail("\n".join(problems) + "\n" + c.diagnostics())


@pytest.fixture
def apis(cluster):
    clients = [n.client() for n in cluster.nodes]
    yield clients
    for c in clients:
        c.close()
    for n in cluster.nodes:
        assert n.api.alive(), f"{n.name} API died\n" + n.diagnostics()


def ident(rtype, fq):
    return f"contrail:{rtype}:" + ":".join(fq)


def store_objects(client):
    """(type, fq_name) of every object in the store, through the API."""
    root = client.get("/").json()
    out = set()
    for link in root["links"]:
        if link["link"]["rel"] != "collection":
            continue
        rtype = link["link"]["name"]
        r = client.get(f"/{rtype}s", params={"detail": "true", "fields": "fq_name"})
        assert r.status_code == 200, r.text
        for o in r.json()[f"{rtype}s"]:
            out.add(ident(rtype, o[rtype]["fq_name"]))
    return out


# ---------------------------------------------------------------------------------------------
# Reads after writes, across API servers


def test_create_on_one_is_read_at_once_on_the_other(apis):
    a1, a2 = apis
    for i in range(20):
        writer, reader = (a1, a2) if i % 2 == 0 else (a2, a1)
        proj = writer.project(unique("p"))
        got = reader.read("project", proj.uuid)
        assert got["fq_name"] == proj.fq
        assert proj.uuid in reader.list_uuids("project")
        reader.update("project", proj.uuid, {"display_name": f"dn{i}"})
        assert writer.read("project", proj.uuid)["display_name"] == f"dn{i}"
        writer.remove("project", proj.uuid)
        assert reader.read_raw("project", proj.uuid).status_code == 404


def test_ifmap_subscriber_of_node2_sees_a_create_on_node1(cluster, apis):
    a1, _ = apis
    mirror = Mirror(cluster.nodes[1].ifmap)
    try:
        proj = a1.project(unique("p"))
        vn = a1.create("virtual-network", {
            "fq_name": proj.fq + [unique("vn")], "parent_type": "project",
            "network_ipam_refs": [{"to": DEFAULT_IPAM,
                                   "attr": {"ipam_subnets": [subnet("203.0.113.0/24")]}}]})
        name = ident("virtual-network", vn["fq_name"])

        def seen():
            g = mirror.snapshot()
            return ((name,), "virtual-network-properties") in g or \
                ((name,), "id-perms") in g and any(
                    k[1] == "virtual-network-network-ipam" and name in k[0] for k in g)
        poll(seen, CONVERGE, "node2's IF-MAP subscriber to see the network created on node1")
        g = mirror.snapshot()
        link = [v for k, v in g.items() if k[1] == "virtual-network-network-ipam"
                and name in k[0]]
        assert link and b"203.0.113.0" in link[0], link
        assert any(k[1] == "project-virtual-network" and name in k[0] for k in g)
        a1.remove("virtual-network", vn["uuid"])
        poll(lambda: not any(name in k[0] for k in mirror.snapshot()), CONVERGE,
             "the deleted network to leave node2's IF-MAP graph")
    finally:
        mirror.close()


def test_changes_on_the_rabbitmq_exchange(cluster, apis):
    """What an outside consumer of vnc_config.object-update sees (config-plane §4)."""
    import json
    import pika
    host, port = cluster.rmq.server.split(":")
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=int(port)))
    try:
        ch = conn.channel()
        q = ch.queue_declare(queue="", exclusive=True).method.queue
        ch.queue_bind(queue=q, exchange="vnc_config.object-update")
        a1, a2 = apis
        proj = a1.project(unique("p"))
        vn = a1.create("virtual-network", {"fq_name": proj.fq + [unique("vn")],
                                           "parent_type": "project"})
        a2.update("virtual-network", vn["uuid"], {"display_name": "renamed"})
        a1.remove("virtual-network", vn["uuid"])
        msgs = []

        def got_delete():
            while True:
                m = ch.basic_get(q, auto_ack=True)
                if m[0] is None:
                    break
                msgs.append(json.loads(m[2]))
            return any(x["oper"] == "DELETE" and x["type"] == "virtual_network"
                       and x["uuid"] == vn["uuid"] for x in msgs)
        poll(got_delete, 15, "the DELETE of the network on the exchange", interval=0.1)
        mine = [x for x in msgs if x["uuid"] == vn["uuid"]]
        # Each server publishes its own changes in order (a1: CREATE before DELETE); a2's
        # UPDATE comes on another connection and may overtake either.
        opers = [x["oper"] for x in mine]
        assert sorted(opers) == ["CREATE", "DELETE", "UPDATE"], mine
        assert opers.index("CREATE") < opers.index("DELETE"), mine
        create, update, delete = (next(x for x in mine if x["oper"] == o)
                                  for o in ("CREATE", "UPDATE", "DELETE"))
        for m in mine:
            assert m["type"] == "virtual_network" and m["fq_name"] == vn["fq_name"], m
            assert m["request-id"].startswith("req-"), m
        assert create["obj_dict"]["uuid"] == vn["uuid"]
        assert create["obj_dict"]["fq_name"] == vn["fq_name"]
        assert create["obj_dict"]["parent_type"] == "project"
        assert "obj_dict" not in update
        assert delete["obj_dict"]["display_name"] == "renamed", delete
        # The primary routing instance came and went with the network.
        ri = [x for x in msgs if x["type"] == "routing_instance"
              and x["fq_name"][:-1] == vn["fq_name"]]
        assert [x["oper"] for x in ri] == ["CREATE", "DELETE"], ri
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Concurrent writers on two API servers


def test_concurrent_creates_of_one_name_make_exactly_one(apis):
    # A type that allocates nothing, so that only the name can collide.
    proj = apis[0].project(unique("p"))
    for _ in range(10):
        fq = proj.fq + [unique("pol")]
        barrier = threading.Barrier(4)

        def create(c):
            barrier.wait()
            return c.create_raw("network-policy", {"fq_name": fq, "parent_type": "project"})
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            rs = list(ex.map(create, [apis[0], apis[1], apis[0], apis[1]]))
        codes = sorted(r.status_code for r in rs)
        assert codes == [200, 409, 409, 409], [(r.status_code, r.text) for r in rs]
        uid = apis[0].fq_to_id("network-policy", fq)
        assert apis[1].fq_to_id("network-policy", fq) == uid
        assert len([x for x in apis[1].list("network-policy", parent_id=proj.uuid)
                    ["network-policys"] if x["fq_name"] == fq]) == 1


def test_concurrent_address_allocation_gives_distinct_addresses(apis):
    a1, _ = apis
    proj = a1.project(unique("p"))
    vn = a1.create("virtual-network", {
        "fq_name": proj.fq + [unique("vn")], "parent_type": "project",
        "network_ipam_refs": [{"to": DEFAULT_IPAM,
                               "attr": {"ipam_subnets": [subnet("203.0.113.0/24")]}}]})

    def alloc(c):
        out = []
        for _ in range(15):
            iip = c.create("instance-ip", {"fq_name": [unique("iip")],
                                           "virtual_network_refs": [{"to": vn["fq_name"]}]})
            out.append(iip)
        return out
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        made = sum(ex.map(alloc, apis + apis), [])
    addrs = [a1.read("instance-ip", x["uuid"])["instance_ip_address"] for x in made]
    assert len(addrs) == 60 and len(set(addrs)) == 60, sorted(addrs)


def test_delete_and_new_reference_never_both_succeed(apis):
    a1, a2 = apis
    proj = a1.project(unique("p"))
    for i in range(8):
        vn = a1.create("virtual-network", {"fq_name": proj.fq + [unique("vn")],
                                           "parent_type": "project"})
        barrier = threading.Barrier(2)

        def delete():
            barrier.wait()
            return a2.delete(f"/virtual-network/{vn['uuid']}")

        def refer():
            barrier.wait()
            return a1.create_raw("virtual-machine-interface", {
                "fq_name": proj.fq + [unique("vmi")], "parent_type": "project",
                "virtual_network_refs": [{"to": vn["fq_name"]}]})
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fd, fr = ex.submit(delete), ex.submit(refer)
            d, r = fd.result(), fr.result()
        assert not (d.status_code == 200 and r.status_code == 200), (d.text, r.text)
        if r.status_code == 200:
            vmi = r.json()["virtual-machine-interface"]
            for c in (a1, a2):
                # The network is whole again where its deletion was undone: back-reference
                # and its routing instance.
                back = c.read("virtual-network", vn["uuid"])
                assert vmi["uuid"] in [x["uuid"] for x in
                                       back.get("virtual_machine_interface_back_refs", [])]
                ris = back.get("routing_instances", [])
                assert len(ris) == 1, back
                ri = c.read("routing-instance", ris[0]["uuid"])
                assert ri["parent_uuid"] == vn["uuid"], ri
            a1.remove("virtual-machine-interface", vmi["uuid"])
            a2.remove("virtual-network", vn["uuid"])
            assert a1.read_raw("routing-instance", ris[0]["uuid"]).status_code == 404
        else:
            assert a1.read_raw("virtual-network", vn["uuid"]).status_code == 404


# ---------------------------------------------------------------------------------------------
# Convergence of the IF-MAP graphs


def differences(a, b, n=3):
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return [(k, a.get(k), b.get(k)) for k in keys[:n]]


def wait_converged(cluster, client, mirrors):
    """Both IF-MAP servers hold exactly the store's objects (the same graph), and each
    subscriber holds what its server has, as far as it reaches from config-root."""
    want = store_objects(client)
    state = {}

    def converged():
        dumps = [dump_graph(n.ifmap) for n in cluster.nodes]
        views = [m.snapshot() for m in mirrors]
        state.update(dumps=dumps, views=views)
        return all(identities(d) == want for d in dumps) and dumps[0] == dumps[1] and \
            all(v == reachable(d) for v, d in zip(views, dumps))
    try:
        poll(converged, CONVERGE, "both IF-MAP graphs to hold exactly the store's objects",
             interval=0.2)
    except TimeoutError:
        have = [identities(d) for d in state["dumps"]]
        raise AssertionError(
            f"store has {len(want)} objects; IF-MAP graphs have {[len(h) for h in have]}; "
            f"missing {[sorted(want - h)[:5] for h in have]}; "
            f"extra {[sorted(h - want)[:5] for h in have]}; "
            f"subscribers have {[len(v) for v in state['views']]} items of "
            f"{[len(reachable(d)) for d in state['dumps']]}; differences "
            f"{differences(state['dumps'][0], state['dumps'][1])} / "
            f"{[differences(v, reachable(d)) for v, d in zip(state['views'], state['dumps'])]}\n"
            + str([n.status().get('ifmap') for n in cluster.nodes]))


def test_both_ifmap_graphs_hold_the_store(cluster, apis):
    mirrors = [Mirror(n.ifmap) for n in cluster.nodes]
    try:
        for c in apis:
            c.project(unique("p"))
        wait_converged(cluster, apis[0], mirrors)
    finally:
        for m in mirrors:
            m.close()


def test_a_restarted_ifmap_server_is_republished(cluster, apis):
    node = cluster.nodes[1]
    proj = apis[0].project(unique("p"))
    node.ifmap.kill()
    # Changes made while it is away reach it once it is back (on the same port).
    vn = apis[0].create("virtual-network", {"fq_name": proj.fq + [unique("vn")],
                                            "parent_type": "project"})
    node.ifmap.start(same_ports=True)
    mirrors = [Mirror(n.ifmap) for n in cluster.nodes]
    try:
        wait_converged(cluster, apis[0], mirrors)
        assert ident("virtual-network", vn["fq_name"]) in identities(dump_graph(node.ifmap))
        assert node.status()["ifmap"]["sessions"] >= 2
    finally:
        for m in mirrors:
            m.close()


# ---------------------------------------------------------------------------------------------
# Failures under a steady write load


class Load:
    """Writers creating projects on both API servers until stopped; remembers every create
    that was acknowledged (200) and every failure."""

    def __init__(self, cluster, per_node=2):
        self.cluster = cluster
        self.acked = []
        self.failures = []
        self.stopping = False
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                        for n in cluster.nodes for _ in range(per_node)]
        for t in self.threads:
            t.start()

    def _run(self, node):
        s = requests.Session()
        while not self.stopping:
            fq = ["default-domain", unique("load")]
            try:
                r = s.post(node.api.url + "/projects", json={"project": {
                    "fq_name": fq, "parent_type": "domain"}}, timeout=20)
                with self.lock:
                    if r.status_code == 200:
                        self.acked.append((r.json()["project"]["uuid"], fq))
                    else:
                        self.failures.append((node.name, r.status_code, r.text[:200]))
            except requests.RequestException as e:
                with self.lock:
                    self.failures.append((node.name, "exception", str(e)[:200]))
                time.sleep(0.05)

    def count(self):
        with self.lock:
            return len(self.acked)

    def grow(self, n, what):
        target = self.count() + n
        poll(lambda: self.count() >= target, 60, f"{n} more acknowledged writes {what}",
             interval=0.05)

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(30)


def test_no_acknowledged_write_lost_through_failures(cluster, apis):
    mirrors = [Mirror(n.ifmap) for n in cluster.nodes]
    load = Load(cluster)
    try:
        load.grow(30, "before any failure")

        # The etcd leader dies; the cluster elects another, writes go on.
        leader = cluster.etcd.leader()
        assert leader is not None
        cluster.etcd.kill(leader)
        load.grow(30, "after the etcd leader was killed")
        cluster.etcd.start_member(leader)
        cluster.etcd.wait_healthy()

        # RabbitMQ dies and comes back: writes keep being accepted meanwhile.
        cluster.rmq.kill()
        load.grow(20, "while RabbitMQ is down")
        cluster.rmq.start()
        load.grow(20, "after RabbitMQ came back")

        # Node 1 (its API server and IF-MAP server) is killed -9 and restarted.
        mirrors[0].close()
        cluster.nodes[0].kill()
        load.grow(20, "while node 1 is down")
        cluster.nodes[0].start()
        mirrors[0] = Mirror(cluster.nodes[0].ifmap)
        load.grow(20, "after node 1 came back")
    finally:
        load.stop()
    acked = load.acked
    assert len(acked) >= 160
    # Every acknowledged write is there, on both API servers.
    for c in apis:
        c.close()
    clients = [n.client() for n in cluster.nodes]
    for c in clients:
        have = set(c.list_uuids("project"))
        lost = [u for u, _ in acked if u not in have]
        assert not lost, f"{len(lost)} acknowledged projects missing: {lost[:5]}"
    try:
        wait_converged(cluster, clients[0], mirrors)
    finally:
        for m in mirrors:
            m.close()
        for c in clients:
            c.close()
    st = [n.status() for n in cluster.nodes]
    assert all(s["ifmap"]["session_up"] for s in st), st


# ---------------------------------------------------------------------------------------------
# Losing the quorum


def test_writes_fail_with_503_without_quorum_and_recover(cluster, apis):
    a1, _ = apis
    gone = [0, 1]
    for i in gone:
        cluster.etcd.kill(i)
    try:
        t0 = time.monotonic()
        r = a1.create_raw("project", {"fq_name": ["default-domain", unique("p")],
                                      "parent_type": "domain"})
        elapsed = time.monotonic() - t0
        assert r.status_code == 503, r.text
        assert "unavailable" in r.text.lower(), r.text
        assert elapsed < 15, elapsed
    finally:
        cluster.etcd.start_member(gone[0])
    cluster.etcd.wait_healthy()
    poll(lambda: a1.create_raw("project", {"fq_name": ["default-domain", unique("p")],
                                           "parent_type": "domain"}).status_code == 200,
         30, "writes to succeed again once a member is back", interval=0.5)
    cluster.etcd.start_member(gone[1])
    cluster.etcd.wait_healthy()


# ---------------------------------------------------------------------------------------------
# The RabbitMQ backlog bound


def test_rabbitmq_backlog_full_answers_500_and_writes_nothing(tmp_path):
    api = ApiServer(tmp_path / "api", options={
        "rabbit_server": f"127.0.0.1:{free_port()}", "rabbit_max_pending_updates": "5"})
    api.start()
    c = Client(api)
    try:
        made, refused = [], []
        for i in range(12):
            r = c.create_raw("project", {"fq_name": ["default-domain", f"bp{i}"],
                                         "parent_type": "domain"})
            (made if r.status_code == 200 else refused).append(r)
        assert refused and all(r.status_code == 500 for r in refused), \
            [(r.status_code, r.text) for r in refused]
        assert "Too many pending updates to RabbitMQ" in refused[0].text
        have = [x for x in c.list("project")["projects"] if x["fq_name"][1].startswith("bp")]
        assert len(have) == len(made), (len(have), len(made))
    finally:
        c.close()
        problem = api.stop()
        assert problem is None, problem + api.diagnostics()
