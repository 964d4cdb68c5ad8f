"""ifmap-server for the system tests: the daemon in a private directory, and a hand-made
SOAP 1.2 client (sessions, publish, search, subscribe, poll) over HTTPS.

    srv = IfmapServer(tmp_path / "ifmap").start()
    s = Session(srv)
    s.subscribe("root", "config-root:root", max_depth=255)
    results = s.poll().expect("pollResult")
"""

import os
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import quoteattr

import requests
import urllib3

from conftest import BUILD_DIR, Daemon, _live, _live_lock, free_port, poll, tail

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

IFMAP_BIN = Path(os.environ.get("CONTRAIL_IFMAP_BIN",
                                BUILD_DIR / "config" / "ifmap" / "ifmap-server"))
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
IFMAP = "http://www.trustedcomputinggroup.org/2010/IFMAP/2"
META = "http://www.trustedcomputinggroup.org/2010/IFMAP-METADATA/2"
CONTRAIL = "http://www.contrailsystems.com/vnc_cfg.xsd"
NS = {"env": SOAP12, "ifmap": IFMAP, "meta": META, "contrail": CONTRAIL}
TIMEOUT = 15.0


# ---------------------------------------------------------------------------------------------
# The daemon


class IfmapServer(Daemon):
    name = "ifmap-server"

    def __init__(self, workdir, extra_args=(), tls=True):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "ifmap.log"
        self.out = self.dir / "stdout.txt"
        self.extra_args = list(extra_args)
        self.tls = tls
        self.proc = None
        self.port = self.introspect_port = None

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    @property
    def introspect_url(self):
        return f"http://127.0.0.1:{self.introspect_port}"

    def start(self, same_ports=False):
        """Starts the daemon on free ports (or, with SAME_PORTS, on the ports it had)."""
        if not IFMAP_BIN.exists():
            raise RuntimeError(f"{IFMAP_BIN} does not exist: build it with `ninja -C build`")
        for _attempt in range(3 if not same_ports else 1):
            if not same_ports:
                self.port, self.introspect_port = free_port(), free_port()
            args = [str(IFMAP_BIN), "--ifmap_listen_ip", "127.0.0.1",
                    "--ifmap_listen_port", str(self.port),
                    "--http_server_port", str(self.introspect_port),
                    "--ifmap_tls", "true" if self.tls else "false",
                    "--log_file", str(self.log), "--log_level", "SYS_DEBUG"] + self.extra_args
            with open(self.out, "wb") as out:
                self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.dir)
            with _live_lock:
                _live.add(self.proc)

            def ready():
                if self.proc.poll() is not None:
                    return "died"
                try:
                    r = requests.get(self.introspect_url + "/", timeout=1)
                    return "up" if r.status_code == 200 else None
                except requests.RequestException:
                    return None
            if poll(ready, 20, "ifmap-server to start") == "up":
                return self
            self._reap()
        raise RuntimeError("ifmap-server failed to start:\n" + self.diagnostics())

    def diagnostics(self):
        return (f"--- stdout/stderr:\n{tail(self.out)}\n--- log:\n{tail(self.log)}")

    def introspect(self, path):
        r = requests.get(self.introspect_url + path, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()


# ---------------------------------------------------------------------------------------------
# A hand-made SOAP client


def envelope(body):
    return ("<?xml version=\"1.0\"?>"
            f"<env:Envelope xmlns:env=\"{SOAP12}\" xmlns:ifmap=\"{IFMAP}\" "
            f"xmlns:meta=\"{META}\" xmlns:contrail=\"{CONTRAIL}\">"
            f"<env:Body>{body}</env:Body></env:Envelope>")


def ident(name):
    return (f"<identity name={quoteattr('contrail:' + name)} type=\"other\" "
            "other-type-definition=\"extended\"/>")


def prop(elem, value, card="singleValue"):
    return f"<contrail:{elem} ifmap-cardinality=\"{card}\">{value}</contrail:{elem}>"


def update(a, meta, b=None, lifetime="forever"):
    ids = ident(a) + (ident(b) if b else "")
    return f"<update lifetime=\"{lifetime}\">{ids}<metadata>{meta}</metadata></update>"


def delete(a, b=None, filter=None):
    ids = ident(a) + (ident(b) if b else "")
    f = f" filter={quoteattr(filter)}" if filter is not None else ""
    return f"<delete{f}>{ids}</delete>"


class Reply:
    """An IF-MAP answer: HTTP status, the element inside ifmap:response (or the Fault)."""

    def __init__(self, resp):
        self.status = resp.status_code
        self.text = resp.text
        self.root = ET.fromstring(resp.content) if resp.content.startswith(b"<") else None
        self.result = None
        self.fault = None
        if self.root is not None:
            self.fault = self.root.find("env:Body/env:Fault", NS)
            r = self.root.find("env:Body/ifmap:response", NS)
            if r is not None and len(r):
                self.result = r[0]

    @property
    def tag(self):
        return self.result.tag if self.result is not None else None

    def error_code(self):
        assert self.tag == "errorResult", f"expected errorResult, got {self.text[:500]}"
        return self.result.get("errorCode")

    def expect(self, tag):
        assert self.status == 200 and self.tag == tag, \
            f"expected {tag}, got {self.status}: {self.text[:800]}"
        return self.result


def items(result_elem):
    """(identity names, [(meta local name, text)]) of each resultItem under RESULT_ELEM."""
    out = []
    for item in result_elem.findall("resultItem"):
        names = tuple(i.get("name") for i in item.findall("identity"))
        md = item.find("metadata")
        metas = [] if md is None else [(m.tag.split("}")[1], (m.text or "")) for m in md]
        out.append((names, metas))
    return out


def flatten(poll_result):
    """[(kind, subscription name, identity names, meta names)] in order."""
    out = []
    for r in poll_result:
        kind = r.tag
        for names, metas in items(r):
            for m, text in metas:
                out.append((kind, r.get("name"), names, m, text))
    return out


class Session:
    def __init__(self, server, user="api-server", password="api-server", max_poll=None):
        self.server = server
        self.http = requests.Session()
        self.http.auth = (user, password)
        self.http.verify = False
        attr = f" max-poll-result-size=\"{max_poll}\"" if max_poll else ""
        r = self.call(f"<ifmap:newSession{attr}/>").expect("newSessionResult")
        self.id = r.get("session-id")
        self.publisher = r.get("ifmap-publisher-id")
        self.max_poll = int(r.get("max-poll-result-size"))

    def call(self, body, timeout=TIMEOUT, raw=None):
        data = raw if raw is not None else envelope(body)
        # verify per request: a session's verify=False loses to REQUESTS_CA_BUNDLE.
        resp = self.http.post(self.server.url, data=data.encode(), timeout=timeout,
                              verify=False, headers={"Content-Type": "application/soap+xml",
                                       "SOAPAction": "op"})
        return Reply(resp)

    def op(self, name, inner="", **attrs):
        a = "".join(f" {k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items())
        return self.call(f"<ifmap:{name} session-id=\"{self.id}\"{a}>{inner}</ifmap:{name}>")

    def publish(self, *ops):
        return self.op("publish", "".join(ops)).expect("publishReceived")

    def search(self, start, **attrs):
        return self.op("search", ident(start), **attrs)

    def subscribe(self, name, start, **attrs):
        a = "".join(f" {k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items())
        inner = f"<update name=\"{name}\"{a}>{ident(start)}</update>"
        return self.op("subscribe", inner).expect("subscribeReceived")

    def poll(self, timeout=TIMEOUT):
        return self.op_timeout("poll", timeout)

    def op_timeout(self, name, timeout):
        return self.call(f"<ifmap:{name} session-id=\"{self.id}\"/>", timeout=timeout)

    def end(self):
        return self.op("endSession").expect("endSessionResult")

    def close(self):
        self.http.close()


class Poller:
    """A poll in a thread (a held long poll)."""

    def __init__(self, session):
        self.session = session
        self.reply = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.reply = self.session.poll(timeout=60)
        except Exception as e:  # noqa: BLE001 (reported by result())
            self.error = e

    def done(self):
        return not self.thread.is_alive()

    def result(self, timeout=TIMEOUT):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "poll was not answered"
        if self.error:
            raise self.error
        return self.reply


def poll_all(session, until, timeout=TIMEOUT):
    """Polls until the flattened results gathered satisfy UNTIL; returns them."""
    got = []
    poll(lambda: (got.extend(flatten(session.poll().expect("pollResult"))), until(got))[1],
         timeout, "poll results")
    return got


def uniq(prefix):
    return f"{prefix}-{os.urandom(4).hex()}"




def apply_results(graph, results):
    """Applies search/update/delete results to GRAPH: {(identity names sorted, metadata
    name): serialized metadata}."""
    for r in results:
        kind = r.tag
        for item in r.findall("resultItem"):
            names = tuple(sorted(i.get("name") for i in item.findall("identity")))
            md = item.find("metadata")
            for m in ([] if md is None else list(md)):
                key = (names, m.tag.split("}")[1])
                if kind == "deleteResult":
                    graph.pop(key, None)
                else:
                    # The server stamps each item; two servers' stamps differ.
                    m.attrib.pop("ifmap-timestamp", None)
                    graph[key] = ET.tostring(m)


def dump_graph(server, user="api-server", password="api-server"):
    """The whole graph of SERVER (GET /), in apply_results' form."""
    r = requests.get(server.url, auth=(user, password), verify=False, timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:500]
    graph = {}
    apply_results(graph, ET.fromstring(r.content).iter("searchResult"))
    return graph


def identities(graph, meta="id-perms"):
    """Names of the identities of GRAPH that carry META."""
    return {k[0][0] for k in graph if len(k[0]) == 1 and k[1] == meta}


def reachable(graph, start="contrail:config-root:root"):
    """GRAPH restricted to what a subscriber from START (unlimited depth) sees."""
    adj = {}
    for names, _ in graph:
        if len(names) == 2:
            a, b = names
            adj.setdefault(a, set()).add(b)
            adj.setdefault(b, set()).add(a)
    seen, todo = {start}, [start]
    while todo:
        for n in adj.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return {k: v for k, v in graph.items() if all(n in seen for n in k[0])}


class Mirror:
    """A subscriber to the whole graph (contrail:config-root:root, depth 255) that keeps, in
    a thread, a copy of what the server holds: {(identity names sorted, metadata name):
    serialized metadata}.  Stops at close()."""

    def __init__(self, server, user="control-user", password="control-user-passwd"):
        self.session = Session(server, user=user, password=password)
        self.session.subscribe("root", "config-root:root", max_depth=255)
        self.graph = {}
        self.lock = threading.Lock()
        self.polls = 0
        self.error = None
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _apply(self, result):
        apply_results(self.graph, result)

    def _run(self):
        while not self.stopping:
            try:
                reply = self.session.poll(timeout=60)
                result = reply.expect("pollResult")
            except Exception as e:  # noqa: BLE001 (reported by check())
                if not self.stopping:
                    self.error = e
                return
            with self.lock:
                self._apply(result)
                self.polls += 1

    def snapshot(self):
        self.check()
        with self.lock:
            return dict(self.graph)

    def identities(self, meta="id-perms"):
        """Names of the identities carrying META."""
        return identities(self.snapshot(), meta)

    def check(self):
        if self.error:
            raise AssertionError(f"IF-MAP mirror stopped: {self.error}")

    def close(self):
        self.stopping = True
        try:
            self.session.end()
        except Exception:  # noqa: BLE001 (the server may be gone)
            pass
        self.thread.join(10)
        self.session.close()
