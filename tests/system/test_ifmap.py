"""System tests of ifmap-server: the real daemon over HTTPS, SOAP built by hand.

Every daemon runs in a pytest tmp directory on free loopback ports and is stopped at teardown
(SIGTERM, exit status 0 required), also when a test fails.  Long polls run in threads; every
wait is a poll for a condition with a deadline.

Environment
  CONTRAIL_BUILD_DIR     build directory (default: <repo>/build), as for conftest.py
  CONTRAIL_IFMAP_BIN     path of the binary (default: $CONTRAIL_BUILD_DIR/config/ifmap/
                         ifmap-server)
"""

import pytest
import requests

from conftest import poll
from ifmaputil import (NS, TIMEOUT, IfmapServer, Poller, Session, delete, envelope, flatten,
                       items, poll_all, prop, uniq, update)

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = IfmapServer(tmp_path_factory.mktemp("ifmap")).start()
    yield srv
    problem = srv.stop()
    if problem:
        pytest.fail(problem + "\n" + srv.diagnostics())


@pytest.fixture
def server_factory(tmp_path):
    made = []

    def make(name="ifmap", **kw):
        srv = IfmapServer(tmp_path / name, **kw)
        made.append(srv)
        return srv.start()
    yield make
    problems = [p + "\n" + s.diagnostics() for s in made for p in [s.stop()] if p]
    if problems:
        pytest.fail("\n\n".join(problems))


@pytest.fixture
def sessions(server):
    made = []

    def make(**kw):
        s = Session(server, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()
    assert server.alive(), "ifmap-server died\n" + server.diagnostics()


# ---------------------------------------------------------------------------------------------
# Sessions


def test_session_lifecycle(sessions):
    s = sessions()
    assert len(s.id) >= 16 and s.publisher == "api-server" and s.max_poll > 0
    s.op("renewSession").expect("renewSessionResult")
    s.end()
    assert s.op("renewSession").error_code() == "InvalidSessionID"
    assert s.op("poll").error_code() == "InvalidSessionID"


def test_max_poll_result_size_is_negotiated(sessions):
    assert sessions(max_poll=1000).max_poll == 1000


def test_session_belongs_to_its_user(server, sessions):
    s = sessions()
    other = sessions(user="control-user", password="control-user-passwd")
    other.id = s.id
    assert other.op("renewSession").error_code() == "InvalidSessionID"


# ---------------------------------------------------------------------------------------------
# Publish and search


def test_publish_update_delete_and_search(sessions):
    s = sessions()
    vn, ipam = f"virtual-network:{uniq('vn')}", f"network-ipam:{uniq('ipam')}"
    s.publish(update(vn, prop("virtual-network-properties", "v1")),
              update(vn, prop("tag", "a", "multiValue")),
              update(vn, prop("tag", "b", "multiValue")),
              update(vn, prop("virtual-network-network-ipam", "subnets"), b=ipam),
              update(ipam, prop("network-ipam-mgmt", "dhcp")))
    # singleValue replaces the item of the same name.
    s.publish(update(vn, prop("virtual-network-properties", "v2")))

    r = s.search(vn, max_depth=0).expect("searchResult")
    got = items(r)
    assert len(got) == 1
    names, metas = got[0]
    assert names == ("contrail:" + vn,)
    assert sorted(metas) == [("tag", "a"), ("tag", "b"), ("virtual-network-properties", "v2")]
    # Operational attributes added by the server.
    m = r.find("resultItem/metadata")[0]
    assert m.get("ifmap-publisher-id") == "api-server" and m.get("ifmap-timestamp")

    got = dict(items(s.search(vn, max_depth=1).expect("searchResult")))
    link = tuple(sorted(["contrail:" + vn, "contrail:" + ipam]))
    assert {tuple(sorted(k)) for k in got} == {("contrail:" + vn,), ("contrail:" + ipam,), link}
    assert [m for k, v in got.items() if len(k) == 2 for m in v] == \
        [("virtual-network-network-ipam", "subnets")]

    # match-links that matches nothing: the link is not followed.
    got = items(s.search(vn, max_depth=3, match_links="meta:role").expect("searchResult"))
    assert [k for k, _ in got] == [("contrail:" + vn,)]
    # result-filter: only the named metadata.
    got = items(s.search(vn, max_depth=3,
                         result_filter="contrail:network-ipam-mgmt").expect("searchResult"))
    assert got == [(("contrail:" + ipam,), [("network-ipam-mgmt", "dhcp")])]

    # delete with a filter (and an "or"), then without.
    s.publish(delete(vn, filter="contrail:tag or contrail:nothing"))
    got = items(s.search(vn).expect("searchResult"))
    assert got[0][1] == [("virtual-network-properties", "v2")]
    s.publish(delete(ipam, vn, filter="contrail:virtual-network-network-ipam"))
    got = items(s.search(vn, max_depth=5).expect("searchResult"))
    assert [k for k, _ in got] == [("contrail:" + vn,)]
    s.publish(delete(vn))
    assert items(s.search(vn).expect("searchResult")) == []


def test_search_max_size(sessions):
    s = sessions()
    vn = f"virtual-network:{uniq('vn')}"
    s.publish(update(vn, prop("virtual-network-properties", "x" * 2000)))
    assert s.search(vn, max_size=100).error_code() == "SearchResultsTooBig"
    s.publish(delete(vn))


def test_get_dumps_graph(server, sessions):
    s = sessions()
    vn = f"virtual-network:{uniq('vn')}"
    s.publish(update(vn, prop("virtual-network-properties", "dumped")))
    r = requests.get(server.url, auth=("api-server", "api-server"), verify=False,
                     timeout=TIMEOUT)
    assert r.status_code == 200 and "contrail:" + vn in r.text and "dumped" in r.text
    assert requests.get(server.url, verify=False, timeout=TIMEOUT).status_code == 401
    s.publish(delete(vn))


# ---------------------------------------------------------------------------------------------
# Subscribe and poll


def test_subscribe_then_poll_updates_and_deletes(sessions):
    pub = sessions()
    root = f"config-root:{uniq('root')}"
    dom, proj = f"domain:{uniq('d')}", f"project:{uniq('p')}"
    pub.publish(update(root, prop("config-root-domain", ""), b=dom),
                update(dom, prop("domain-limits", "10")))

    sub = sessions(user="control-user", password="control-user-passwd")
    sub.subscribe("root", root, max_depth=255)
    first = sub.poll().expect("pollResult")
    assert [r.tag for r in first] == ["searchResult"] and first[0].get("name") == "root"
    got = {(names, m) for _, _, names, m, _ in flatten(first)}
    assert got == {(tuple(sorted(["contrail:" + root, "contrail:" + dom])), "config-root-domain"),
                   (("contrail:" + dom,), "domain-limits")}

    # The long poll is held until something happens.
    p = Poller(sub)
    p.thread.join(0.5)
    assert not p.done(), "poll answered with nothing to say"
    pub.publish(update(dom, prop("domain-project", ""), b=proj),
                update(proj, prop("project-props", "p1")))
    res = flatten(p.result().expect("pollResult"))
    assert [(k, m) for k, _, _, m, _ in res] == [("updateResult", "domain-project"),
                                                  ("updateResult", "project-props")]

    # Updates and deletes arrive in the order they happened.
    pub.publish(update(proj, prop("project-props", "p2")))
    pub.publish(delete(proj, filter="contrail:project-props"))
    pub.publish(update(proj, prop("project-props", "p3")))
    res = poll_all(sub, lambda got: len(got) >= 3)
    assert [(k, m, t) for k, _, _, m, t in res] == [
        ("updateResult", "project-props", "p2"),
        ("deleteResult", "project-props", "p2"),
        ("updateResult", "project-props", "p3")]

    # Metadata outside the subscription is not sent.
    pub.publish(update(f"project:{uniq('elsewhere')}", prop("project-props", "no")),
                update(proj, prop("project-props", "p4")))
    res = poll_all(sub, lambda got: len(got) >= 1)
    assert [t for _, _, _, _, t in res] == ["p4"]


def test_delete_link_disconnecting_subgraph(sessions):
    pub = sessions()
    root, proj = f"config-root:{uniq('root')}", f"project:{uniq('p')}"
    vn, ri = f"virtual-network:{uniq('vn')}", f"routing-instance:{uniq('ri')}"
    pub.publish(update(root, prop("config-root-project", ""), b=proj),
                update(proj, prop("project-virtual-network", ""), b=vn),
                update(vn, prop("virtual-network-routing-instance", ""), b=ri),
                update(vn, prop("virtual-network-properties", "vnp")),
                update(ri, prop("routing-instance-props", "rip")))
    sub = sessions(user="schema-transformer", password="schema-transformer")
    sub.subscribe("root", root, max_depth=255)
    assert len(flatten(sub.poll().expect("pollResult"))) == 5

    pub.publish(delete(proj, vn))
    res = poll_all(sub, lambda got: len(got) >= 4)
    assert {(k, m) for k, _, _, m, _ in res} == {
        ("deleteResult", "project-virtual-network"),
        ("deleteResult", "virtual-network-routing-instance"),
        ("deleteResult", "virtual-network-properties"),
        ("deleteResult", "routing-instance-props")}
    # Links before identifiers: the link to the RI goes before the RI's properties.
    order = [m for _, _, _, m, _ in res]
    assert order.index("virtual-network-routing-instance") < order.index("routing-instance-props")

    # Reconnected through another path: everything comes back as updates.
    pub.publish(update(root, prop("config-root-vn", ""), b=vn))
    res = poll_all(sub, lambda got: len(got) >= 4)
    assert {m for k, _, _, m, _ in res if k == "updateResult"} == {
        "config-root-vn", "virtual-network-routing-instance", "virtual-network-properties",
        "routing-instance-props"}


def test_subscriber_sees_other_sessions_publishes_and_chunks(server):
    pub = Session(server)
    root = f"config-root:{uniq('root')}"
    names = [f"virtual-network:{uniq('vn')}" for _ in range(30)]
    pub.publish(*[update(root, prop("config-root-virtual-network", ""), b=n) for n in names])
    pub.publish(*[update(n, prop("virtual-network-properties", "y" * 200)) for n in names])
    # A small max-poll-result-size: the initial searchResult comes in several polls.
    sub = Session(server, user="svc-monitor", password="svc-monitor", max_poll=2000)
    sub.subscribe("root", root, max_depth=255)
    polls = 0
    got = []
    while len(got) < 60:
        got += flatten(sub.poll().expect("pollResult"))
        polls += 1
        assert polls < 100
    assert polls > 1 and all(k == "searchResult" for k, *_ in got) and len(got) == 60
    pub.publish(update(names[0], prop("virtual-network-properties", "new")))
    res = poll_all(sub, lambda g: len(g) >= 1)
    assert res[0][0] == "updateResult" and res[0][4] == "new"
    pub.close()
    sub.close()


def test_held_poll_is_released_and_dead_poller_expires(server_factory):
    srv = server_factory("release", extra_args=["--session_timeout", "2"])
    s = Session(srv)
    s.subscribe("x", f"virtual-network:{uniq('vn')}")
    # Answered empty after about half the timeout, though nothing happened.
    r = Poller(s).result(timeout=10).expect("pollResult")
    assert len(r) == 0
    # A client that stops polling (dead) loses its session.
    poll(lambda: srv.introspect("/ifmap/stats")["sessions_expired"] == 1, 10, "expiry")
    assert s.op("renewSession").error_code() == "InvalidSessionID"
    s.close()


def test_second_poll_answers_the_first(sessions):
    s = sessions()
    s.subscribe("x", f"virtual-network:{uniq('vn')}")
    p1 = Poller(s)
    poll(lambda: s.server.introspect("/ifmap/sessions") and any(
        x["id"] == s.id and x["poll_held"] for x in
        s.server.introspect("/ifmap/sessions")["sessions"]), TIMEOUT, "poll held")
    p2 = Poller(s)
    assert p1.result().expect("pollResult") is not None and len(p1.reply.result) == 0
    s.end()
    assert p2.result().tag == "endSessionResult"


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors(server, sessions):
    s = sessions()
    r = s.call("", raw="<not-closed")
    assert r.status == 400 and r.fault is not None
    assert r.fault.find("env:Code/env:Value", NS).text == "env:Sender"
    assert "malformed XML" in r.fault.find("env:Reason/env:Text", NS).text

    r = s.call("", raw="<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'>"
                       "<e:Body/></e:Envelope>")
    assert r.status == 400 and r.fault.find("env:Code/env:Value", NS).text == \
        "env:VersionMismatch"

    r = s.call("<ifmap:poll session-id=\"nope\"/>")
    assert r.error_code() == "InvalidSessionID"
    r = s.call("<ifmap:frobnicate/>")
    assert r.error_code() == "Failure" and "frobnicate" in r.result.find("errorString").text

    bad_type = "<update><frob name='x'/><metadata>" + prop("p", "1") + "</metadata></update>"
    assert s.op("publish", bad_type).error_code() == "InvalidIdentifierType"
    no_name = ("<update><identity type='other' other-type-definition='extended'/><metadata>"
               + prop("p", "1") + "</metadata></update>")
    assert s.op("publish", no_name).error_code() == "InvalidIdentifier"
    too_long = update("virtual-network:" + "x" * 5000, prop("p", "1"))
    assert s.op("publish", too_long).error_code() == "IdentifierTooLong"
    no_card = update("virtual-network:a", "<contrail:p>1</contrail:p>")
    assert s.op("publish", no_card).error_code() == "InvalidMetadata"
    # A publish is applied as a whole or not at all.
    vn = f"virtual-network:{uniq('vn')}"
    assert s.op("publish", update(vn, prop("p", "1")) + bad_type).error_code() == \
        "InvalidIdentifierType"
    assert items(s.search(vn).expect("searchResult")) == []
    assert s.op("purgePublisher", ifmap_publisher_id="someone-else").error_code() == \
        "AccessDenied"

    for auth in [None, ("api-server", "wrong"), ("nobody", "x")]:
        resp = requests.post(server.url, data=envelope("<ifmap:newSession/>"), auth=auth,
                             verify=False, timeout=TIMEOUT)
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_credentials_file(server_factory, tmp_path):
    creds = tmp_path / "basicauthusers.properties"
    creds.write_text("# users\nalice:secret\n10.0.0.1.control = pw\n")
    srv = server_factory("creds", extra_args=["--credentials_file", str(creds)])
    Session(srv, user="alice", password="secret").close()
    Session(srv, user="10.0.0.1.control", password="pw").close()
    resp = requests.post(srv.url, data=envelope("<ifmap:newSession/>"),
                         auth=("api-server", "api-server"), verify=False, timeout=TIMEOUT)
    assert resp.status_code == 401


def test_plain_http_option(server_factory):
    srv = server_factory("plain", tls=False)
    s = Session(srv)
    s.end()
    s.close()


# ---------------------------------------------------------------------------------------------
# Slow subscribers and expiry


def test_slow_subscriber_is_dropped_without_blocking_others(server_factory):
    srv = server_factory("slow", extra_args=["--max_pending_bytes", "20000"])
    pub = Session(srv)
    root = f"config-root:{uniq('root')}"
    pub.publish(update(root, prop("config-root-props", "r")))
    slow = Session(srv, user="svc-monitor", password="svc-monitor")
    slow.subscribe("root", root, max_depth=255)
    fast = Session(srv, user="control-user", password="control-user-passwd")
    fast.subscribe("root", root, max_depth=255)
    assert len(flatten(fast.poll().expect("pollResult"))) == 1

    got = []
    for i in range(100):
        pub.publish(update(root, prop("config-root-props", f"{i}:" + "z" * 400)))
        if i % 10 == 9:
            got += flatten(fast.poll().expect("pollResult"))
    got += poll_all(fast, lambda g: len(got) + len(g) >= 100) if len(got) < 100 else []
    assert [t.split(":")[0] for _, _, _, _, t in got] == [str(i) for i in range(100)]

    r = slow.poll().expect("pollResult")
    errs = r.findall("errorResult")
    assert [(e.get("errorCode"), e.get("name")) for e in errs] == [("PollResultsTooBig", "root")]
    stats = srv.introspect("/ifmap/stats")
    assert stats["subscriptions_dropped"] == 1 and stats["publishes"] >= 101
    for s in (pub, slow, fast):
        s.close()


def test_session_expiry_deletes_session_metadata(server_factory):
    srv = server_factory("expiry", extra_args=["--session_timeout", "1"])
    watcher = Session(srv, user="control-user", password="control-user-passwd")
    vn = f"virtual-network:{uniq('vn')}"
    watcher.subscribe("w", vn)
    p = Poller(watcher)
    short = Session(srv)
    short.publish(update(vn, prop("virtual-network-properties", "temp"), lifetime="session"),
                  update(vn, prop("id-perms", "kept"), lifetime="forever"))
    assert {m for _, _, _, m, _ in flatten(p.result().expect("pollResult"))} == \
        {"virtual-network-properties", "id-perms"}
    # The watcher keeps its session alive by polling (a held poll is answered empty after
    # half the session timeout); the publisher goes silent and its session expires.
    res = poll_all(watcher, lambda got: len(got) >= 1)
    assert [(k, m) for k, _, _, m, _ in res] == [("deleteResult", "virtual-network-properties")]
    assert short.op("renewSession").error_code() == "InvalidSessionID"
    assert srv.introspect("/ifmap/stats")["sessions_expired"] >= 1
    watcher.op("renewSession").expect("renewSessionResult")
    watcher.close()
    short.close()


# ---------------------------------------------------------------------------------------------
# Introspect


def test_introspect_pages(server, sessions):
    s = sessions()
    vn = f"virtual-network:{uniq('vn')}"
    s.publish(update(vn, prop("virtual-network-properties", "i")))
    s.subscribe("intro", vn)
    me = [x for x in server.introspect("/ifmap/sessions")["sessions"] if x["id"] == s.id]
    assert me and me[0]["user"] == "api-server" and me[0]["subscriptions"] == ["intro"]
    assert me[0]["queued_results"] == 1
    subs = [x for x in server.introspect("/ifmap/subscriptions")["subscriptions"]
            if x["session"] == s.id]
    assert subs[0]["name"] == "intro" and subs[0]["identifiers"] == 1
    graph = server.introspect("/ifmap/graph")
    assert graph["identifiers"] >= 1 and graph["metadata_items"] >= 1
    assert graph["metadata_bytes"] > 0
    stats = server.introspect("/ifmap/stats")
    assert stats["publishes"] >= 1 and stats["subscribes"] >= 1
    metrics = requests.get(server.introspect_url + "/metrics", timeout=TIMEOUT).text
    assert "contrail_ifmap_publishes_total" in metrics
    s.publish(delete(vn))
