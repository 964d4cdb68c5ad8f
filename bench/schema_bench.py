#!/usr/bin/python3
"""contrail-schema benchmark: how fast the schema transformer derives and reconciles.

For each N in BENCH_SCHEMA_SIZES it starts a fresh ifmap-server and contrail-api (SQLite), and:
  1. creates N virtual networks (4 client threads), plus two networks joined by a policy;
  2. cold derive: starts contrail-schema on that store and times it from process start to idle
     (graph received, every route target created and every primary instance updated);
  3. policy change: rewrites the policy's rule (a port, so 2 ACL updates) and times it from
     the PUT's answer to the last derived write (counted by contrail-schema, then idle);
     then flips the rule between pass and deny (2 ACL updates + 2 instance updates);
     BENCH_SCHEMA_REPS times each, median and max;
  4. restart reconcile: kills contrail-schema and times a new one from start to idle, with
     nothing to write (checked: the API's write counters do not move).
Figures go to stdout as a table plus RESULT lines.  The harness classes are the system tests'
(tests/system/schemautil.py).
"""

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "system"))
os.environ.setdefault("CONTRAIL_BUILD_DIR", str(ROOT / "build"))

from conftest import poll  # noqa: E402
from schemautil import ConfigNode, SchemaTransformer  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_SCHEMA_SIZES", "1000 10000").split()]
REPS = int(os.environ.get("BENCH_SCHEMA_REPS", "5"))
PROJECT = ["default-domain", "default-project"]


def create_networks(api_url, n, threads=4):
    def work(k):
        s = requests.Session()
        for i in range(k, n, threads):
            r = s.post(f"{api_url}/virtual-networks", json={"virtual-network": {
                "parent_type": "project", "fq_name": PROJECT + [f"bench-vn-{i}"]}}, timeout=60)
            assert r.status_code == 200, r.text
        s.close()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def rule(action, port):
    a, b = ":".join(PROJECT + ["bench-red"]), ":".join(PROJECT + ["bench-blue"])
    return {"policy_rule": [{
        "direction": "<>", "protocol": "tcp", "rule_uuid": "bench-rule",
        "src_addresses": [{"virtual_network": a}], "dst_addresses": [{"virtual_network": b}],
        "src_ports": [{"start_port": -1, "end_port": -1}],
        "dst_ports": [{"start_port": port, "end_port": port}],
        "action_list": {"simple_action": action}}]}


def writes(st):
    w = st.counters()["writes"]
    return w["create"] + w["update"] + w["delete"]


def wait_writes(st, target, timeout=120):
    def done():
        c = st.counters()
        w = c["writes"]
        return c["idle"] and w["create"] + w["update"] + w["delete"] >= target
    poll(done, timeout, "the derived writes", interval=0.002)


def rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def bench(n, workdir):
    node = ConfigNode(workdir / "node").start()
    api = node.client()
    st = None
    out = {"N": n}
    try:
        t0 = time.monotonic()
        create_networks(node.api.url, n)
        api.create("network-policy", {"parent_type": "project",
                                      "fq_name": PROJECT + ["bench-pol"],
                                      "network_policy_entries": rule("pass", 80)})
        pol = api.fq_to_id("network-policy", PROJECT + ["bench-pol"])
        ref = [{"to": PROJECT + ["bench-pol"], "attr": {"sequence": {"major": 0, "minor": 0}}}]
        for name in ("bench-red", "bench-blue"):
            api.create("virtual-network", {"parent_type": "project", "fq_name": PROJECT + [name],
                                           "network_policy_refs": ref})
        out["create_s"] = time.monotonic() - t0

        # Cold derive.
        st = SchemaTransformer(workdir / "st", node)
        t0 = time.monotonic()
        st.start()
        st.wait_idle(timeout=600)
        out["cold_derive_s"] = time.monotonic() - t0
        out["cold_writes"] = writes(st)

        # Policy changes.
        port_times, conn_times = [], []
        for rep in range(REPS):
            base = writes(st)
            api.update("network-policy", pol, {"network_policy_entries":
                                               rule("pass", 81 + rep % 2)})
            t0 = time.monotonic()
            wait_writes(st, base + 2)
            port_times.append(time.monotonic() - t0)
        for rep in range(REPS):
            base = writes(st)
            action = "deny" if rep % 2 == 0 else "pass"
            api.update("network-policy", pol, {"network_policy_entries": rule(action, 81)})
            t0 = time.monotonic()
            wait_writes(st, base + 4)
            conn_times.append(time.monotonic() - t0)
        out["port_change_ms"] = statistics.median(port_times) * 1000
        out["port_change_max_ms"] = max(port_times) * 1000
        out["conn_change_ms"] = statistics.median(conn_times) * 1000
        out["conn_change_max_ms"] = max(conn_times) * 1000
        st.wait_idle()
        out["st_rss_mb"] = rss_mb(st.proc.pid)

        # Restart reconcile: nothing to write.
        before = node.api_counters()
        st.kill()
        t0 = time.monotonic()
        st.start()
        st.wait_idle(timeout=600)
        out["restart_reconcile_s"] = time.monotonic() - t0
        assert node.api_counters() == before, "a restart with nothing changed wrote"
        out["restart_writes"] = writes(st)
    finally:
        api.close()
        if st:
            st.stop()
        node.stop()
    return out


def main():
    results = []
    for n in SIZES:
        with tempfile.TemporaryDirectory(prefix="bench-schema-",
                                         dir=os.environ.get("BENCH_TMPDIR")) as d:
            print(f"[bench] N={n} ...", file=sys.stderr, flush=True)
            r = bench(n, Path(d))
            results.append(r)
            print("RESULT " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in r.items()), flush=True)
    print()
    print(f"{'N':>6} | {'cold derive':>16} | {'policy change (port)':>21} | "
          f"{'policy change (pass/deny)':>26} | {'restart reconcile':>17} | {'RSS':>8}")
    print("-" * 110)
    for r in results:
        rate = r["cold_writes"] / r["cold_derive_s"]
        print(f"{r['N']:>6} | {r['cold_derive_s']:6.2f} s {rate:5.0f} w/s | "
              f"{r['port_change_ms']:7.1f} ms (max {r['port_change_max_ms']:5.1f}) | "
              f"{r['conn_change_ms']:9.1f} ms (max {r['conn_change_max_ms']:6.1f}) | "
              f"{r['restart_reconcile_s']:7.2f} s 0 wr | {r['st_rss_mb']:5.1f} MB")
    print("\ncold derive: contrail-schema started on N networks, start to idle (one route "
          "target created and one instance updated per network).")
    print("policy change: PUT of the policy answered -> last derived write answered (port: 2 "
          "ACLs; pass/deny: 2 ACLs + 2 instances); median of", REPS, "runs.")
    print("restart reconcile: kill -9 and start again, start to idle; nothing written.")


if __name__ == "__main__":
    main()
