"""contrail-control's view of the config (control/config) against a real config node:
contrail-api publishing to ifmap-server, contrail-schema deriving routing instances and route
targets, and ctl-config-dump reading the graph from IF-MAP as contrail-control does
(control-compute reference §2.4, §3.1-3.8).

ctl-config-dump prints one JSON line per change (global, this node, its peers, routing
instances) and, for an agent, each <config> message it would be sent; the tests change objects
through the API and wait for the lines.
"""

import json
import os
import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from conftest import BUILD_DIR, DOMAIN, _live, _live_lock, free_port, poll, tail, unique
from schemautil import CONVERGE
from schemautil import node, st, api  # noqa: F401 (fixtures)

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

DUMP_BIN = Path(os.environ.get("CONTRAIL_CTL_CONFIG_DUMP_BIN",
                               BUILD_DIR / "control" / "ctl-config-dump"))
MASTER = ["default-domain", "default-project", "ip-fabric", "__default__"]
MASTER_NAME = ":".join(MASTER)
GSC = "default-global-system-config"


class ConfigDump:
    """One ctl-config-dump process; its stdout goes to a file read back line by line."""

    def __init__(self, workdir, node, hostname, agent=None, agent_vms=()):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.node = node
        self.hostname = hostname
        self.agent = agent
        self.agent_vms = list(agent_vms)
        self.proc = None
        self.out = self.dir / "stdout.jsonl"
        self.err = self.dir / "stderr.txt"
        self.log = self.dir / "dump.log"
        self.port = None
        self.seen = 0               # lines already handed out by new_events()

    def start(self):
        if not DUMP_BIN.exists():
            raise RuntimeError(f"{DUMP_BIN} does not exist: build it with `ninja -C build`")
        self.port = free_port()
        args = [str(DUMP_BIN), "--hostname", self.hostname,
                "--ifmap_server_ip", "127.0.0.1",
                "--ifmap_server_port", str(self.node.ifmap.port),
                "--http_server_port", str(self.port), "--settle_ms", "200",
                "--log_file", str(self.log), "--log_level", "SYS_INFO"]
        if self.agent:
            args += ["--agent", self.agent]
        if self.agent_vms:
            args += ["--agent_vms", ",".join(self.agent_vms)]
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, cwd=self.dir)
        with _live_lock:
            _live.add(self.proc)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("ctl-config-dump died:\n" + self.diagnostics())
            try:
                r = requests.get(f"http://127.0.0.1:{self.port}/ifmap", timeout=1)
                return r.status_code == 200 and r.json().get("synced")
            except requests.RequestException:
                return None
        poll(ready, 20, "ctl-config-dump to read the graph", interval=0.05)
        return self

    def page(self, path):
        r = requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=10)
        r.raise_for_status()
        return r.json()

    def events(self):
        """The complete lines written so far (the tool may be in the middle of one)."""
        out = []
        with open(self.out, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for line in text.split("\n")[:-1]:
            if line.strip():
                out.append(json.loads(line))
        return out

    def new_events(self):
        ev = self.events()
        new, self.seen = ev[self.seen:], len(ev)
        return new

    def wait(self, what, pred, timeout=CONVERGE):
        """Polls until PRED(events seen since the last wait) holds; returns those events
        (they are consumed)."""
        acc = []

        def check():
            if self.proc.poll() is not None:
                raise AssertionError("ctl-config-dump died:\n" + self.diagnostics())
            acc.extend(self.new_events())
            return True if pred(acc) else None
        try:
            poll(check, timeout, what, interval=0.05)
            return acc
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; events: {acc}\n"
                                 + self.diagnostics())

    def stop(self):
        problem = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=10)
                if rc != 0:
                    problem = f"ctl-config-dump exited with status {rc}"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                problem = "ctl-config-dump did not exit within 10 s of SIGTERM"
        elif self.proc and self.proc.returncode not in (0, -signal.SIGTERM):
            problem = f"ctl-config-dump died (status {self.proc.returncode})"
        if self.proc:
            with _live_lock:
                _live.discard(self.proc)
        return problem

    def diagnostics(self):
        return (f"--- stderr:\n{tail(self.err)}\n--- log:\n{tail(self.log, 60)}\n"
                f"--- stdout:\n{tail(self.out, 30)}")




@pytest.fixture
def dump_factory(node, tmp_path):
    made = []

    def make(hostname, **kw):
        d = ConfigDump(tmp_path / f"dump{len(made)}", node, hostname, **kw)
        made.append(d)
        return d.start()
    yield make
    problems = [p for p in (d.stop() for d in made) if p]
    if problems:
        pytest.fail("\n".join(problems) + "\n" + made[0].diagnostics())


def find(events, kind, op=None, name=None):
    """The last event of KIND (and OP, and value name) in EVENTS, or None."""
    for e in reversed(events):
        if e["kind"] != kind or (op and e["op"] != op):
            continue
        if name is not None and e["value"].get("name") != name:
            continue
        return e
    return None


def bgp_router(api, name, params, refs=()):
    body = {"parent_type": "routing-instance", "fq_name": MASTER + [name],
            "bgp_router_parameters": params}
    if refs:
        body["bgp_router_refs"] = [{"to": MASTER + [to], "attr": attr} for to, attr in refs]
    return api.create("bgp-router", body)["uuid"]


def control_params(ip, asn=64512, **extra):
    p = {"router_type": "control-node", "vendor": "contrail", "autonomous_system": asn,
         "identifier": ip, "address": ip, "port": 179, "hold_time": 90,
         "address_families": {"family": ["route-target", "inet-vpn", "e-vpn", "erm-vpn",
                                          "inet6-vpn"]}}
    p.update(extra)
    return p


def session(**attrs):
    return {"session": [{"uuid": unique("s"), "attributes": [attrs]}]}


# ---------------------------------------------------------------------------------------------


def test_global_self_and_peers(api, dump_factory):
    gsc = api.fq_to_id("global-system-config", [GSC])
    api.update("global-system-config", gsc, {"autonomous_system": 64512})
    c1, c2, mx = unique("control"), unique("control"), unique("mx")
    dump = dump_factory(c1)
    g = find(dump.wait("the global config", lambda ev: find(ev, "global")), "global")
    assert g["value"]["autonomous_system"] == 64512
    assert g["value"]["ibgp_auto_mesh"] is True

    u2 = bgp_router(api, c2, control_params("10.9.0.2"))
    umx = bgp_router(api, mx, {"router_type": "router", "vendor": "mx",
                               "autonomous_system": 64512, "identifier": "10.9.0.254",
                               "address": "10.9.0.254", "hold_time": 60,
                               "address_families": {"family": ["inet-vpn", "route-target"]}})
    u1 = bgp_router(api, c1, control_params("10.9.0.1"), refs=[
        (c2, session(address_families={"family": ["inet-vpn", "route-target", "e-vpn"]})),
        (mx, session(passive=True, hold_time=30,
                     auth_data={"key_type": "md5",
                                "key_items": [{"key_id": 0, "key": "secret"}]})),
    ])

    def both_peers(ev):
        return (find(ev, "self", "add", c1) and find(ev, "peer", None, c2)
                and find(ev, "peer", None, mx))
    ev = dump.wait("this node and its two peers", both_peers)
    me = find(ev, "self", "add", c1)["value"]
    assert me["identifier"] == "10.9.0.1" and me["router_type"] == "control-node"
    assert me["fq_name"] == MASTER_NAME + ":" + c1 and me["uuid"] == u1
    p2 = find(ev, "peer", None, c2)["value"]
    assert p2["address"] == "10.9.0.2" and p2["autonomous_system"] == 64512
    assert p2["address_families"] == ["inet-vpn", "route-target", "e-vpn"]
    assert p2["uuid"] == u2 and p2["hold_time"] == 90
    pmx = find(ev, "peer", None, mx)["value"]
    assert pmx["router_type"] == "router" and pmx["passive"] is True
    assert pmx["hold_time"] == 30           # the session's, over the router's 60
    assert pmx["auth"] == {"key_type": "md5", "key": "secret"}
    # No session families: ours that the router also has.
    assert pmx["address_families"] == ["route-target", "inet-vpn"]
    # Routers we do not peer with are not reported (a control node would be: the iBGP
    # auto-mesh peers every control node of the AS).
    other = bgp_router(api, unique("lone"), control_params("10.9.0.9", router_type="router"))

    # A peer's parameters change.
    api.update("bgp-router", umx, {"bgp_router_parameters": {
        "router_type": "router", "vendor": "mx", "autonomous_system": 64512,
        "identifier": "10.9.0.254", "address": "10.9.0.253",
        "address_families": {"family": ["inet-vpn", "route-target"]}}})
    ev = dump.wait("the peer's new address", lambda ev: find(ev, "peer", "change", mx))
    assert find(ev, "peer", "change", mx)["value"]["address"] == "10.9.0.253"
    assert not [e for e in ev if e["kind"] == "peer" and e["value"]["name"] != mx]

    # The global AS changes.
    api.update("global-system-config", gsc, {"autonomous_system": 64513})
    ev = dump.wait("the new AS", lambda ev: find(ev, "global", "change"))
    assert find(ev, "global", "change")["value"]["autonomous_system"] == 64513
    api.update("global-system-config", gsc, {"autonomous_system": 64512})
    dump.wait("the AS back", lambda ev: find(ev, "global", "change"))

    # The peering with mx goes, then mx itself.
    api.ref_update("bgp-router", u1, "bgp-router", umx, op="DELETE")
    ev = dump.wait("the peer's removal", lambda ev: find(ev, "peer", "delete", mx))
    assert find(ev, "peer", "delete", mx)["value"]["address"] == "10.9.0.253"
    api.remove("bgp-router", umx)

    # Peerings made from the other side count too.
    api.update("bgp-router", other, {"bgp_router_refs": [
        {"to": MASTER + [c1], "attr": session(admin_down=True)}]})
    lone = api.read("bgp-router", other)["fq_name"][-1]
    ev = dump.wait("the peering from the other side", lambda ev: find(ev, "peer", "add", lone))
    assert find(ev, "peer", "add", lone)["value"]["admin_down"] is True

    # This node's router goes: its peers go with it.
    api.remove("bgp-router", other)
    dump.wait("the other router's removal", lambda ev: find(ev, "peer", "delete", lone))
    api.ref_update("bgp-router", u1, "bgp-router", u2, op="DELETE")
    api.remove("bgp-router", u1)
    ev = dump.wait("this node's removal", lambda ev: find(ev, "self", "delete", c1))
    assert find(ev, "peer", "delete", c2)
    api.remove("bgp-router", u2)

    # A second reader sees the same state from scratch: no router of its own.
    later = dump_factory(c1)
    assert find(later.events(), "self") is None
    assert find(later.events(), "global")["value"]["autonomous_system"] == 64512


def instance(ev, name, op=None):
    e = find([x for x in ev if x["value"].get("name") == name], "instance", op)
    return e and e["value"]


def test_routing_instances(api, dump_factory):
    dump = dump_factory(unique("control"))
    initial = dump.events()
    master = instance(initial, MASTER_NAME)
    assert master and master["is_master"] and master["is_default"]
    assert master["virtual_network"] == ":".join(MASTER[:3])

    proj = api.project()
    vn = proj.vn(route_target_list={"route_target": ["target:64512:100"]},
                 import_route_target_list={"route_target": ["target:64512:200"]},
                 export_route_target_list={"route_target": ["target:64512:300"]})
    ri_name = ":".join(vn["fq_name"] + [vn["fq_name"][-1]])

    def targets_in(ev):
        ri = instance(ev, ri_name)
        return ri if ri and "target:64512:200" in ri["import_targets"] \
            and "target:64512:300" in ri["export_targets"] else None
    ri = targets_in(dump.wait("the network's instance with its targets", targets_in))
    assert ri["virtual_network"] == ":".join(vn["fq_name"])
    assert ri["virtual_network_index"] == vn["virtual_network_network_id"]
    assert ri["is_default"] is True and ri["is_master"] is False
    own = [t for t in ri["import_targets"] if int(t.split(":")[2]) >= 8000000]
    assert len(own) == 1 and own[0] in ri["export_targets"]     # the allocated one: both
    assert "target:64512:100" in ri["import_targets"] and "target:64512:100" in ri["export_targets"]
    assert "target:64512:200" not in ri["export_targets"]
    assert "target:64512:300" not in ri["import_targets"]

    # The user's targets change.
    api.update("virtual-network", vn["uuid"],
               {"route_target_list": {"route_target": ["target:64512:101"]}})

    def changed(ev):
        ri = instance(ev, ri_name, "change")
        return ri if ri and "target:64512:101" in ri["import_targets"] \
            and "target:64512:100" not in ri["import_targets"] else None
    ri = changed(dump.wait("the new target", changed))
    assert "target:64512:101" in ri["export_targets"]

    # The network goes: its instance is deleted.
    api.remove("virtual-network", vn["uuid"])
    dump.wait("the instance's removal", lambda ev: instance(ev, ri_name, "delete"))


def agent_objects(ev, agent):
    """[(op, kind, type, name)] of the agent's messages in EV, in order; checks the shape."""
    out = []
    for e in ev:
        if e["kind"] != "agent" or e["agent"] != agent:
            continue
        root = ET.fromstring(e["xml"])
        assert root.tag == "config"
        n = 0
        for block in root:
            assert block.tag in ("update", "delete")
            for obj in block:
                n += 1
                if obj.tag == "node":
                    out.append((block.tag, "node", obj.get("type"), obj.findtext("name")))
                else:
                    ends = obj.findall("node")
                    out.append((block.tag, "link", obj.find("metadata").get("type"),
                                ends[0].findtext("name") + " " + ends[1].findtext("name")))
        assert 1 <= n <= 16
    return out


def test_agent_config(api, dump_factory):
    host = unique("compute")
    proj = api.project()
    vn = proj.vn(subnets=["10.44.0.0/24"])
    vn_name = ":".join(vn["fq_name"])
    other_vn = proj.vn()
    vm = api.create("virtual-machine", {"fq_name": [unique("vm")]})
    vmi = proj.vmi(vn, virtual_machine_refs=[{"to": api.read("virtual-machine",
                                                               vm["uuid"])["fq_name"]}])
    vmi_name = ":".join(vmi["fq_name"])
    iip = proj.iip(vn, virtual_machine_interface_refs=[{"to": vmi["fq_name"]}])
    vm_fq = api.read("virtual-machine", vm["uuid"])["fq_name"]
    vr = api.create("virtual-router", {
        "parent_type": "global-system-config", "fq_name": [GSC, host],
        "virtual_router_ip_address": "10.0.0.44", "virtual_machine_refs": [{"to": vm_fq}]})
    vr_name = GSC + ":" + host

    dump = dump_factory(unique("control"), agent=host)

    def has(objs, *items):
        return all(i in objs for i in items)
    expect = [("update", "node", "virtual-router", vr_name),
              ("update", "node", "virtual-machine", ":".join(vm_fq)),
              ("update", "node", "virtual-machine-interface", vmi_name),
              ("update", "node", "virtual-network", vn_name),
              ("update", "node", "instance-ip", ":".join(iip["fq_name"])),
              ("update", "node", "global-system-config", GSC),
              ("update", "link", "virtual-router-virtual-machine",
               vr_name + " " + ":".join(vm_fq)),
              ("update", "link", "virtual-machine-interface-virtual-network",
               vmi_name + " " + vn_name)]
    objs = agent_objects(dump.wait("the agent's config",
                                   lambda ev: has(agent_objects(ev, host), *expect)), host)
    names = {o[3] for o in objs}
    assert ":".join(other_vn["fq_name"]) not in names
    assert not [o for o in objs if o[2] == "project"]
    # The network's routing instance and IPAM come with it.
    assert [o for o in objs if o[2] == "routing-instance" and o[3].startswith(vn_name + ":")]
    assert [o for o in objs if o[2] == "network-ipam"]
    assert all(o[0] == "update" for o in objs)
    sent = dump.page("/agent-config")["agents"][host]
    assert sent["virtual_router"] == vr_name and sent["nodes"] >= 8

    # A property change of a sent object: that node.
    api.update("virtual-network", vn["uuid"], {"display_name": "renamed"})

    def renamed(ev):
        return [e for e in ev
                if e["kind"] == "agent" and "<display-name>renamed</display-name>" in e["xml"]]
    objs = agent_objects(dump.wait("the network's update", renamed), host)
    assert ("update", "node", "virtual-network", vn_name) in objs

    # The port goes: the VMI, its address and its network leave the agent's config.
    api.remove("instance-ip", iip["uuid"])
    api.remove("virtual-machine-interface", vmi["uuid"])
    gone = [("delete", "node", "virtual-machine-interface", vmi_name),
            ("delete", "node", "virtual-network", vn_name),
            ("delete", "node", "instance-ip", ":".join(iip["fq_name"]))]
    objs = agent_objects(dump.wait("the port's removal",
                                   lambda ev: has(agent_objects(ev, host), *gone)), host)
    assert ("delete", "node", "virtual-router", vr_name) not in objs
    assert ("delete", "node", "virtual-machine", ":".join(vm_fq)) not in objs

    # The virtual-router goes.
    api.remove("virtual-router", vr["uuid"])
    dump.wait("the router's removal", lambda ev: ("delete", "node", "virtual-router", vr_name)
              in agent_objects(ev, host))


def test_ifmap_server_restart_reports_only_differences(node, api, dump_factory):
    """A new IF-MAP session brings the whole graph again: only what changed meanwhile is
    reported (no flap of the unchanged routing instances or peers)."""
    c1, c2 = unique("control"), unique("control")
    u2 = bgp_router(api, c2, control_params("10.9.1.2"))
    u1 = bgp_router(api, c1, control_params("10.9.1.1"), refs=[(c2, session())])
    proj = api.project()
    keep, drop = proj.vn(), proj.vn()
    keep_ri = ":".join(keep["fq_name"] + [keep["fq_name"][-1]])
    drop_ri = ":".join(drop["fq_name"] + [drop["fq_name"][-1]])
    dump = dump_factory(c1)
    dump.wait("the instances and the peer",
              lambda ev: instance(ev, keep_ri) and instance(ev, drop_ri)
              and find(ev, "peer", "add", c2))
    sessions = dump.page("/ifmap")["syncs"]

    node.ifmap.kill()
    api.remove("virtual-network", drop["uuid"])
    added = proj.vn()
    added_ri = ":".join(added["fq_name"] + [added["fq_name"][-1]])
    node.ifmap.start(same_ports=True)

    ev = dump.wait("the differences after the new session",
                   lambda ev: instance(ev, drop_ri, "delete") and instance(ev, added_ri, "add"))
    assert dump.page("/ifmap")["syncs"] > sessions
    # Settle, then check nothing else was reported.
    dump.wait("a second full graph read", lambda ev: dump.page("/ifmap")["synced"])
    ev += dump.new_events()
    assert not [e for e in ev if e["kind"] in ("self", "peer", "global")], ev
    assert not instance(ev, keep_ri) and not instance(ev, MASTER_NAME), ev

    api.ref_update("bgp-router", u1, "bgp-router", u2, op="DELETE")
    api.remove("bgp-router", u1)
    api.remove("bgp-router", u2)
