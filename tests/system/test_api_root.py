"""GET / (link discovery), introspect port, configuration file, startup objects (spec 1.2, 1.9)."""

import json

import requests

from conftest import REPO, Client, expect, poll

SCHEMA = json.loads((REPO / "schema" / "vnc_cfg.json").read_text())
TYPES = sorted(t for t in SCHEMA["identifiers"] if t != "config-root")

# Action URLs of spec 1.6 with their HTTP method.
ACTIONS = {
    "/fqname-to-id": "POST",
    "/id-to-fqname": "POST",
    "/ref-update": "POST",
    "/ref-relax-for-delete": "POST",
    "/prop-collection-get": "GET",
    "/prop-collection-update": "POST",
    "/useragent-kv": "POST",
    "/list-bulk-collection": "POST",
    "/chown": "POST",
    "/chmod": "POST",
}


def links_of(api):
    r = expect(api.get("/"), 200)
    assert r.headers["Content-Type"].startswith("application/json")
    j = r.json()
    assert isinstance(j.get("links"), list), j
    links = []
    for entry in j["links"]:
        assert set(entry) == {"link"}, entry
        link = entry["link"]
        assert {"rel", "href", "name", "method"} <= set(link), link
        links.append(link)
    return j, links


def test_root_href_and_documentation_and_root_links(api):
    j, links = links_of(api)
    assert j["href"].rstrip("/") == api.base
    docs = [l for l in links if l["rel"] == "documentation"]
    assert docs and docs[0]["href"] == api.base + "/documentation/index.html"
    roots = [l for l in links if l["rel"] == "root"]
    assert len(roots) == 1
    assert roots[0]["href"] == api.base + "/config-root"
    assert roots[0]["name"] == "config-root"


def test_root_has_collection_and_resource_base_link_for_every_type(api):
    _, links = links_of(api)
    coll = {l["name"]: l for l in links if l["rel"] == "collection"}
    base = {l["name"]: l for l in links if l["rel"] == "resource-base"}
    missing_coll = [t for t in TYPES if t not in coll]
    missing_base = [t for t in TYPES if t not in base]
    assert not missing_coll, f"no collection link for {missing_coll}"
    assert not missing_base, f"no resource-base link for {missing_base}"
    for t in TYPES:
        assert coll[t]["href"] == f"{api.base}/{t}s", coll[t]
        assert base[t]["href"] == f"{api.base}/{t}", base[t]
        assert base[t]["method"] is None, base[t]
    # Irregular plurals are the naive "+s" ones.
    assert coll["virtual-DNS"]["href"].endswith("/virtual-DNSs")
    assert coll["bgp-as-a-service"]["href"].endswith("/bgp-as-a-services")


def test_root_has_action_links_with_methods(api):
    _, links = links_of(api)
    actions = {l["href"][len(api.base):]: l for l in links if l["rel"] == "action"}
    for path, method in ACTIONS.items():
        assert path in actions, f"no action link for {path}; have {sorted(actions)}"
        assert actions[path]["method"] == method, actions[path]


def test_every_advertised_collection_answers(api):
    """A client that discovers URLs from GET / can list every collection."""
    _, links = links_of(api)
    for l in links:
        if l["rel"] != "collection":
            continue
        r = requests.get(l["href"], timeout=10)
        expect(r, 200)
        key = l["href"].rsplit("/", 1)[1]
        assert isinstance(r.json().get(key), list), (l, r.text[:300])


def test_introspect_pages(api_server):
    base = api_server.introspect_url
    r = requests.get(base + "/", timeout=10)
    expect(r, 200)
    assert isinstance(r.json(), (dict, list))
    r = requests.get(base + "/memory", timeout=10)
    expect(r, 200)
    assert isinstance(r.json(), (dict, list))
    r = requests.get(base + "/metrics", timeout=10)
    expect(r, 200)
    assert "# TYPE" in r.text
    assert "contrail_" in r.text


def test_log_file_is_written(api, api_server):
    api.get("/")
    poll(lambda: api_server.log.exists() and api_server.log.stat().st_size > 0, 10,
         "a non-empty log file")


def test_conf_file_is_read(daemon_factory):
    srv = daemon_factory("conf", use_conf_file=True).start()
    c = Client(srv)
    j = expect(c.get("/"), 200).json()
    assert j["href"].rstrip("/") == srv.url
    assert srv.log.exists()
    requests.get(srv.introspect_url + "/metrics", timeout=10).raise_for_status()


def test_command_line_overrides_conf_file(daemon_factory, tmp_path):
    srv = daemon_factory("override", use_conf_file=True)
    orig = srv.command

    def command():
        args = orig()       # writes the file with srv.port; point the file elsewhere
        conf = srv.dir / "contrail-api.conf"
        text = conf.read_text().replace(f"listen_port = {srv.port}", "listen_port = 1")
        conf.write_text(text)
        return args + ["--listen_port", str(srv.port)]
    srv.command = command
    srv.start()
    expect(Client(srv).get("/"), 200)


# ---- startup objects (spec 1.9) ----

STARTUP = [
    ("global-system-config", ["default-global-system-config"]),
    ("domain", ["default-domain"]),
    ("project", ["default-domain", "default-project"]),
    ("namespace", ["default-domain", "default-namespace"]),
    ("network-ipam", ["default-domain", "default-project", "default-network-ipam"]),
    ("virtual-network", ["default-domain", "default-project", "default-virtual-network"]),
    ("routing-instance", ["default-domain", "default-project", "default-virtual-network",
                          "default-virtual-network"]),
    ("virtual-network", ["default-domain", "default-project", "ip-fabric"]),
    ("routing-instance", ["default-domain", "default-project", "ip-fabric", "__default__"]),
    ("virtual-network", ["default-domain", "default-project", "__link_local__"]),
    ("routing-instance", ["default-domain", "default-project", "__link_local__",
                          "__link_local__"]),
    ("security-group", ["default-domain", "default-project", "__no_rule__"]),
    ("discovery-service-assignment", ["default-discovery-service-assignment"]),
    ("global-qos-config", ["default-global-system-config", "default-global-qos-config"]),
]


def test_startup_objects_exist(api):
    missing = []
    for rtype, fq in STARTUP:
        r = api.fq_to_id_raw(rtype, fq)
        if r.status_code != 200:
            missing.append((rtype, ":".join(fq), r.status_code))
            continue
        obj = api.read(rtype, r.json()["uuid"])
        assert obj["fq_name"] == fq
        assert obj["name"] == fq[-1]
    assert not missing, f"startup objects missing: {missing}"


def test_global_system_config_asn(api):
    u = api.fq_to_id("global-system-config", ["default-global-system-config"])
    gsc = api.read("global-system-config", u)
    assert gsc["autonomous_system"] == 64512


def test_system_routing_instances_are_default(api):
    for rtype, fq in STARTUP:
        if rtype != "routing-instance":
            continue
        ri = api.read(rtype, api.fq_to_id(rtype, fq))
        assert ri.get("routing_instance_is_default") is True, (fq, ri)
        assert ri["parent_type"] == "virtual-network"


def test_startup_vns_have_their_ri_as_child(api):
    for vn_name, ri_name in [("ip-fabric", "__default__"), ("__link_local__", "__link_local__"),
                             ("default-virtual-network", "default-virtual-network")]:
        fq = ["default-domain", "default-project", vn_name]
        vn = api.read("virtual-network", api.fq_to_id("virtual-network", fq))
        ris = [c["to"] for c in vn.get("routing_instances", [])]
        assert fq + [ri_name] in ris, (vn_name, ris)


def test_default_domain_and_project_children(api):
    dom = api.read("domain", api.fq_to_id("domain", ["default-domain"]))
    assert ["default-domain", "default-project"] in [c["to"] for c in dom.get("projects", [])]
    proj = api.read("project", api.fq_to_id("project", ["default-domain", "default-project"]))
    vns = [c["to"][-1] for c in proj.get("virtual_networks", [])]
    ipams = [c["to"][-1] for c in proj.get("network_ipams", [])]
    assert {"default-virtual-network", "ip-fabric", "__link_local__"} <= set(vns), vns
    assert "default-network-ipam" in ipams
    assert "__no_rule__" in [c["to"][-1] for c in proj.get("security_groups", [])]


def test_no_rule_sg_is_empty_and_globally_readable(api):
    sg = api.read("security-group", api.fq_to_id(
        "security-group", ["default-domain", "default-project", "__no_rule__"]))
    rules = (sg.get("security_group_entries") or {}).get("policy_rule") or []
    assert rules == []
    assert sg["perms2"]["global_access"] == 5


def test_default_network_ipam_is_shared_read_execute(api):
    ipam = api.read("network-ipam", api.fq_to_id("network-ipam",
                                                 ["default-domain", "default-project",
                                                  "default-network-ipam"]))
    assert ipam["perms2"]["global_access"] == 5


def test_system_vns_cannot_be_deleted(api):
    for name in ("ip-fabric", "__link_local__"):
        u = api.fq_to_id("virtual-network", ["default-domain", "default-project", name])
        r = api.delete(f"/virtual-network/{u}")
        expect(r, 409)
        # still there
        api.read("virtual-network", u)


def test_startup_objects_not_duplicated_on_restart(fresh_server):
    c = Client(fresh_server)
    before = {(t, ":".join(fq)): c.fq_to_id(t, fq) for t, fq in STARTUP}
    counts = {t: len(c.list(t)[f"{t}s"]) for t in {"domain", "project", "virtual-network",
                                                    "routing-instance", "security-group"}}
    fresh_server.restart(hard=False)
    after = {(t, ":".join(fq)): c.fq_to_id(t, fq) for t, fq in STARTUP}
    assert after == before
    counts2 = {t: len(c.list(t)[f"{t}s"]) for t in counts}
    assert counts2 == counts
