#!/usr/bin/python3
"""vRouter forwarding benchmark: contrail-vrouter (userspace engine) against the Linux kernel
doing the same job on the same topology, in the same run.

Topology (both sides): a fabric namespace with a bridge; two compute namespaces on it
(198.51.100.11 and .12, MTU 9000); one VM namespace behind each compute (203.0.113.1 and .2)
whose eth0 is a veth to its compute.
  kernel:  in each compute, a bridge joining the VM's veth and a VXLAN device (VNI 100, UDP
           4789, remote = the other compute); bridge-nf-call-iptables off.
  vrouter: in each compute, contrail-vrouter with the VM's veth as a virtual vif, the fabric
           veth as the physical vif, routes to the remote VM through a tunnel next hop
           (VXLAN, or MPLSoUDP for the extra row).
Traffic: UDP VM1 -> VM2 from build/bench/udp_flood (sendmmsg), 64-byte and 1400-byte
payloads, one flow and 64 interleaved flows, for BENCH_SECONDS; VM2 counts what arrives.  Reported: packets/s and Gbit/s
delivered, the ratio vrouter / kernel, and CPU per delivered packet: the whole path (sender,
receiver, vRouters, softirq time of the machine) and the vRouter processes alone.

Run as root:  /usr/bin/python3 bench/vrouter_bench.py   (CONTRAIL_BUILD_DIR: build dir)
Environment: BENCH_SECONDS (default 5), BENCH_SIZES (default "64 1400"),
             BENCH_ENCAPS (vrouter rows, default "vxlan mplsoudp"), BENCH_ROUNDS (3),
             BENCH_FLOWS (default "1 64"),
             BENCH_PIN (1: sender on CPU 0, forwarding and receiver on CPU 1).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("CONTRAIL_BUILD_DIR", str(REPO / "build"))
sys.path.insert(0, str(REPO / "tests" / "system"))

from vrouterutil import Topology, VRRP_MAC, netns, sh, tunnel  # noqa: E402

BUILD = Path(os.environ["CONTRAIL_BUILD_DIR"])
FLOOD = BUILD / "bench" / "udp_flood"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "64 1400").split()]
# Flow counts: 1 (one flow, the kernel baseline's test) and 64 interleaved flows (consecutive
# packets of different flows: the vRouter's GSO runs break up, its per-packet cost shows).
FLOWS = [int(s) for s in os.environ.get("BENCH_FLOWS", "1 64").split()]
ENCAPS = os.environ.get("BENCH_ENCAPS", "vxlan mplsoudp").split()
# BENCH_PIN=1: the sender on CPU 0; the forwarding (vRouters; the kernel's inline path runs in
# the sender) and the receiver on CPU 1.
PIN = os.environ.get("BENCH_PIN", "1") == "1"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
HZ = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """User + system seconds of process PID."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def softirq_seconds():
    with open("/proc/stat") as f:
        cpu = f.readline().split()
    return (int(cpu[6]) + int(cpu[7])) / HZ        # irq + softirq


def no_bridge_nf(topo):
    """bridge-nf-call-iptables off in every namespace (the kernel default of 1 halves the
    bridge's rate; the fabric bridge is in both paths)."""
    for ns in topo.namespaces:
        for key in ("iptables", "ip6tables", "arptables"):
            netns(ns, "sysctl", "-qw", f"net.bridge.bridge-nf-call-{key}=0", check=False)


def build_kernel(tmp):
    """The kernel baseline: bridges + VXLAN devices."""
    topo = Topology(tmp)
    a = topo.add_compute("ka", "198.51.100.11", vrouter=False)
    b = topo.add_compute("kb", "198.51.100.12", vrouter=False)
    v1 = topo.add_vm(a, "k1", "203.0.113.1", 24)
    v2 = topo.add_vm(b, "k2", "203.0.113.2", 24)
    for c, vm, remote in ((a, v1, "198.51.100.12"), (b, v2, "198.51.100.11")):
        netns(c.ns, "ip", "link", "add", "br0", "type", "bridge")
        netns(c.ns, "ip", "link", "add", "vx0", "type", "vxlan", "id", "100", "remote", remote,
              "local", c.fabric_ip, "dstport", "4789", "dev", c.fabric_if)
        netns(c.ns, "ip", "link", "set", "vx0", "master", "br0", "up")
        netns(c.ns, "ip", "link", "set", vm.tap, "master", "br0")
        netns(c.ns, "ip", "link", "set", "br0", "up")
    no_bridge_nf(topo)
    return topo, v1, v2, []


def build_vrouter(tmp, encap):
    topo = Topology(tmp)
    a = topo.add_compute("ua", "198.51.100.11")
    b = topo.add_compute("ub", "198.51.100.12")
    v1 = topo.add_vm(a, "u1", "203.0.113.1", 24)
    v2 = topo.add_vm(b, "u2", "203.0.113.2", 24)
    for c, vm, other, peer in ((a, v1, v2, b), (b, v2, v1, a)):
        vr = c.vrouter
        vr.tool("vif", "--add", vm.tap, "--type", "virtual", "--vif", vm.vif, "--vrf", 1,
                "--mac", VRRP_MAC, "--ip", vm.ip, "--nh", 10)
        vr.tool("nh", "--create", 10, "--type", "encap", "--oif", vm.vif, "--dmac", vm.mac,
                "--smac", VRRP_MAC, "--vrf", 1)
        vr.tool("rt", "-c", "-v", 1, "-p", vm.ip, "-l", 32, "-n", 10, "-x")
        vr.tool("mpls", "--create", 100, "--nh", 10)
        vr.tool("nh", "--create", 30, "--type", "vrf-translate", "--vrf", 1)
        vr.tool("vxlan", "--create", 100, "--nh", 30)
        tunnel(vr, 20, encap, c.fabric_ip, peer.fabric_ip)
        vr.tool("rt", "-c", "-v", 1, "-p", other.ip, "-l", 32, "-n", 20, "-t", 100, "-x")
    no_bridge_nf(topo)
    return topo, v1, v2, [a.vrouter.proc.pid, b.vrouter.proc.pid]


def measure(v1, v2, size, vr_pids, flows=1):
    ok, out = v1.ping(v2.ip, count=2, timeout=5)
    if not ok:
        raise RuntimeError(f"no connectivity before measuring: {out}")
    if PIN:
        for pid in vr_pids:
            sh("taskset", "-pc", "1", str(pid))
    pin_send = ["taskset", "-c", "0"] if PIN else []
    pin_recv = ["taskset", "-c", "1"] if PIN else []
    recv = subprocess.Popen(["ip", "netns", "exec", v2.ns, *pin_recv, str(FLOOD), "recv", "9000",
                             str(SECONDS), str(flows)], stdout=subprocess.PIPE, text=True)
    assert recv.stdout.readline().strip() == "ready"
    send = subprocess.Popen(["ip", "netns", "exec", v1.ns, *pin_send, str(FLOOD), "send", v2.ip,
                             "9000", str(size), str(SECONDS + 1.5), str(flows)],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)                     # steady state before the CPU snapshot
    pids = [send.pid, recv.pid] + vr_pids
    cpu0 = {p: proc_cpu(p) for p in pids}
    soft0 = softirq_seconds()
    t0 = time.monotonic()
    out, _ = recv.communicate(timeout=SECONDS + 30)
    t1 = time.monotonic()
    cpu1 = {}
    for p in pids:
        try:
            cpu1[p] = proc_cpu(p)
        except OSError:
            cpu1[p] = cpu0[p]
    soft1 = softirq_seconds()
    send.communicate(timeout=30)
    fields = out.split()
    packets, nbytes, secs = int(fields[1]), int(fields[3]), float(fields[5])
    path_cpu = sum(cpu1[p] - cpu0[p] for p in pids) + (soft1 - soft0)
    vr_cpu = sum(cpu1[p] - cpu0[p] for p in vr_pids)
    # Scale CPU to the receiver's window (the snapshots bracket it closely).
    scale = secs / (t1 - t0) if t1 > t0 else 1.0
    return {
        "pps": packets / secs if secs else 0.0,
        "gbps": nbytes * 8 / secs / 1e9 if secs else 0.0,
        "us_per_pkt": path_cpu * scale / packets * 1e6 if packets else float("nan"),
        "vr_us_per_pkt": vr_cpu * scale / packets * 1e6 if packets and vr_pids else None,
        "vr_cores": vr_cpu * scale / secs if vr_pids and secs else None,
    }


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    if os.geteuid() != 0:
        sys.exit("vrouter_bench: run as root (network namespaces)")
    if not FLOOD.exists():
        sys.exit(f"vrouter_bench: {FLOOD} missing: ninja -C {BUILD}")
    raw = {}
    with tempfile.TemporaryDirectory(prefix="vrbench-") as tmp:
        # Every topology stays up for the whole run (their namespaces are separate), and the
        # paths take turns, ROUNDS times, so that a change in the machine's load hits all.
        paths = [("kernel vxlan",) + build_kernel(Path(tmp) / "k")]
        try:
            for e in ENCAPS:
                paths.append((f"vrouter {e}",) + build_vrouter(Path(tmp) / f"v{e}", e))
            for rnd in range(ROUNDS):
                for size, flows in [(s, f) for f in FLOWS for s in SIZES]:
                    for name, topo, v1, v2, pids in paths:
                        r = measure(v1, v2, size, pids, flows)
                        raw.setdefault((name, size, flows), []).append(r)
                        print(f"  round {rnd + 1} {name:18s} {size:5d} B {flows:2d} flows: "
                              f"{r['pps'] / 1e3:8.1f} kpps {r['gbps']:6.2f} Gbit/s  "
                              f"{r['us_per_pkt']:6.2f} us/pkt", flush=True)
        finally:
            for name, topo, *_ in paths:
                problems = topo.close()
                if problems:
                    print("\n".join(problems), file=sys.stderr)
    results = {}
    for key, runs in raw.items():
        best = {}
        for field in runs[0]:
            vals = [r[field] for r in runs if r[field] is not None]
            best[field] = median(vals) if vals else None
        results[key] = best
    print()
    print(f"medians of {ROUNDS} interleaved rounds of {SECONDS:g} s; UDP VM1 -> VM2")
    print(f"{'path':18s} {'payload':>7s} {'flows':>5s} | {'kpps':>8s} {'Gbit/s':>7s} "
          f"{'ratio':>6s} | "
          f"{'us/pkt path':>11s} {'us/pkt vRouter':>14s} {'vRouter cores':>13s}")
    print("-" * 98)
    for size, flows in [(s, f) for f in FLOWS for s in SIZES]:
        for name, *_ in paths:
            r = results[(name, size, flows)]
            base = results.get(("kernel vxlan", size, flows))
            ratio = r["pps"] / base["pps"] if base and base["pps"] else float("nan")
            vr = (f"{r['vr_us_per_pkt']:14.2f}" if r["vr_us_per_pkt"] is not None
                  else f"{'-':>14s}")
            cores = f"{r['vr_cores']:13.2f}" if r["vr_cores"] is not None else f"{'-':>13s}"
            print(f"{name:18s} {size:7d} {flows:5d} | {r['pps'] / 1e3:8.1f} {r['gbps']:7.2f} "
                  f"{ratio:6.2f} "
                  f"| {r['us_per_pkt']:11.2f} {vr} {cores}")
    print("\nratio = delivered packets/s against the kernel's bridge + VXLAN path "
          "(> 1: the vRouter is faster).")
    print("us/pkt path = CPU of sender + receiver + vRouters + machine irq/softirq per "
          "delivered packet.")
    with open("/proc/loadavg") as f:
        print("load average at the end:", f.read().split()[:3])


if __name__ == "__main__":
    main()
