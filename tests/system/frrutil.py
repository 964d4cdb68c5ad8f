"""FRR's bgpd as a BGP peer in system tests, run standalone (no zebra, no watchfrr, no
systemd) and driven through vtysh.

Each FRR instance lives in its own directory: bgpd.conf, bgpd.pid, the vty socket (vtysh is
pointed at it with --vty_socket) and bgpd.log.  bgpd runs as the user that runs the tests
(root here) with -S, so it never drops to the frr user and the private pytest directory
(mode 0700) needs no chown; it listens on ADDRESS and a free port, and does not talk to zebra
(-Z), so it installs nothing in the kernel and resolves every next hop as reachable.

The process is started directly (no -d), so its Popen pid is bgpd's pid: it is killed by that
pid, and registered with conftest's atexit safety net like every other daemon of the tests.

Environment
  CONTRAIL_FRR_BGPD   path of bgpd (default /usr/lib/frr/bgpd)
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from conftest import Daemon, _live, _live_lock, free_port, poll, tail

BGPD = Path(os.environ.get("CONTRAIL_FRR_BGPD", "/usr/lib/frr/bgpd"))
START_TIMEOUT = 15.0
ESTABLISH_TIMEOUT = 20.0
VTYSH_TIMEOUT = 15.0


def have_frr():
    return BGPD.exists() and os.access(BGPD, os.X_OK) and shutil.which("vtysh") is not None


class FRR(Daemon):
    """One bgpd with one neighbour: NEIGHBOR (default 127.0.0.1, the control node) at
    PEER_PORT, iBGP by default.  FAMILIES are FRR's address-family names in which the
    neighbour is activated.  AF_CONFIG maps such a family to more lines for its
    address-family block (networks, route-maps); PREAMBLE is configuration placed before the
    router block (route-maps, prefix-lists).  HOLD is the proposed hold time (keepalives every
    HOLD/3 s); the connect-retry timer is 1 s so that a session comes up in about a second."""

    name = "bgpd"

    def __init__(self, workdir, peer_port, asn=64512, peer_as=64512, router_id="10.0.0.3",
                 address="127.0.0.1", neighbor="127.0.0.1",
                 families=("ipv4 vpn", "l2vpn evpn"), af_config=None, preamble=(), hold=30):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.peer_port = peer_port
        self.asn = asn
        self.peer_as = peer_as
        self.router_id = router_id
        self.address = address
        self.neighbor_addr = neighbor
        self.families = list(families)
        self.af_config = dict(af_config or {})
        self.preamble = list(preamble)
        self.hold = hold
        self.conf = self.dir / "bgpd.conf"
        self.pid_file = self.dir / "bgpd.pid"
        self.log = self.dir / "bgpd.log"
        self.stdout_path = self.dir / "bgpd.out"
        self.starts = 0

    # ---- configuration ----
    def config_text(self):
        n = self.neighbor_addr
        lines = ["frr defaults traditional", "hostname frr-test", "log timestamp precision 3",
                 "!"] + self.preamble + [
            "!",
            f"router bgp {self.asn}",
            f" bgp router-id {self.router_id}",
            " no bgp default ipv4-unicast",
            " no bgp network import-check",
            " bgp log-neighbor-changes",
            # The control node's next hops may be anything; without zebra none is "connected".
            " bgp allow-martian-nexthop",
            # Updates go out 0.1 s after a change instead of FRR's default 1 s.
            " coalesce-time 100",
            f" neighbor {n} remote-as {self.peer_as}",
            f" neighbor {n} port {self.peer_port}",
            f" neighbor {n} update-source {self.address}",
            f" neighbor {n} timers {max(self.hold // 3, 1)} {self.hold}",
            f" neighbor {n} timers connect 1",
            f" neighbor {n} advertisement-interval 0",
        ]
        if self.peer_as != self.asn:
            lines.append(f" neighbor {n} disable-connected-check")
        for fam in self.families:
            lines += [f" address-family {fam}", f"  neighbor {n} activate"]
            lines += ["  " + line for line in self.af_config.get(fam, ())]
            lines.append(" exit-address-family")
        for fam, extra in self.af_config.items():
            if fam not in self.families:
                lines += [f" address-family {fam}"] + ["  " + line for line in extra]
                lines.append(" exit-address-family")
        lines += ["exit", ""]
        return "\n".join(lines)

    # ---- life cycle ----
    def start(self):
        """Starts bgpd and waits until its vty answers.  Port, directory and configuration
        stay the same across restarts (stop() then start())."""
        if not have_frr():
            raise RuntimeError(f"{BGPD} or vtysh is missing: apt-get install frr")
        self.conf.write_text(self.config_text())
        self.check_config()
        self.starts += 1
        for stale in (self.pid_file, self.dir / "bgpd.vty"):
            stale.unlink(missing_ok=True)
        cmd = [str(BGPD), "-f", str(self.conf), "-i", str(self.pid_file),
               "--vty_socket", str(self.dir), "-l", self.address, "-p", str(self.port),
               "-Z", "-S", "-P", "0", "--log", f"file:{self.log}", "--log-level", "debug"]
        with open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.dir)
        with _live_lock:
            _live.add(self.proc)

        def ready():
            if not self.alive():
                raise RuntimeError(f"bgpd exited:\n{self.diagnostics()}")
            r = self.vtysh("show bgp summary json", check=False)
            return r.returncode == 0 and r.stdout.strip().startswith("{")
        poll(ready, START_TIMEOUT, "bgpd's vty", interval=0.05)
        return self

    def check_config(self):
        """bgpd skips the configuration lines it does not accept and runs with the rest, so a
        dry run (-C) first: a test must not run on half a configuration."""
        r = subprocess.run([str(BGPD), "-C", "-f", str(self.conf), "-Z", "-S", "-p", "0",
                            "-P", "0", "-i", str(self.dir / "dryrun.pid"),
                            "--vty_socket", str(self.dir)],
                           capture_output=True, text=True, timeout=VTYSH_TIMEOUT,
                           stdin=subprocess.DEVNULL, cwd=self.dir)
        rejected = [line for line in (r.stdout + r.stderr).splitlines()
                    if "on config line" in line]
        if r.returncode != 0 or rejected:
            raise RuntimeError(f"bgpd rejects {self.conf} (rc {r.returncode}):\n"
                               + "\n".join(rejected or [r.stdout + r.stderr]))

    def pid(self):
        """bgpd's own pid file (the same process as self.proc)."""
        return int(self.pid_file.read_text().strip())

    def diagnostics(self):
        rc = self.proc.poll() if self.proc else None
        return (f"--- bgpd exit status: {rc}\n--- stdout ({self.stdout_path}):\n"
                f"{tail(self.stdout_path)}\n--- log ({self.log}):\n{tail(self.log)}")

    # ---- vtysh ----
    def vtysh(self, *commands, check=True):
        """Runs vtysh against this bgpd with each of COMMANDS as one -c.  Returns the
        CompletedProcess; raises on failure when CHECK."""
        args = ["vtysh", "--vty_socket", str(self.dir), "-d", "bgpd"]
        for c in commands:
            args += ["-c", c]
        r = subprocess.run(args, capture_output=True, text=True, timeout=VTYSH_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        # vtysh exits 0 for some rejected commands, but prints "% ..." for them.
        bad = re.search(r"^% .*", r.stdout, re.M)
        if check and (r.returncode != 0 or bad):
            raise RuntimeError(f"vtysh {' / '.join(commands)} (rc {r.returncode}):\n"
                               f"{r.stdout}{r.stderr}")
        return r

    def show(self, cmd):
        """Parsed JSON of `show ... json` (CMD without the trailing json)."""
        out = self.vtysh(cmd.rstrip() + " json").stdout
        return json.loads(out) if out.strip() else {}

    def configure(self, *lines, router=True, af=None):
        """Applies configuration LINES: inside `router bgp ASN` when ROUTER, and further inside
        `address-family AF` when AF is given; at the top level otherwise."""
        cmds = ["configure terminal"]
        if router:
            cmds.append(f"router bgp {self.asn}")
            if af:
                cmds.append(f"address-family {af}")
        return self.vtysh(*(cmds + list(lines)))

    # ---- state ----
    def neighbor(self, addr=None):
        """`show bgp neighbors ADDR json`: the entry for ADDR (default: our neighbour)."""
        addr = addr or self.neighbor_addr
        return self.show(f"show bgp neighbors {addr}").get(addr, {})

    def established(self, addr=None):
        return self.neighbor(addr).get("bgpState") == "Established"

    def wait_established(self, addr=None, timeout=ESTABLISH_TIMEOUT):
        """Waits for the session with ADDR (default: our neighbour); returns the entry."""
        return poll(lambda: self.established(addr) and self.neighbor(addr), timeout,
                    f"FRR's session with {addr or self.neighbor_addr} established",
                    interval=0.1)

    def rib(self, family):
        """The routes of FAMILY ("ipv4 vpn", "l2vpn evpn", ...) as {(RD, prefix): [path...]}
        from `show bgp FAMILY json` (one entry per path; FRR's summary fields)."""
        data = self.show(f"show bgp {family}")
        by_rd = data.get("routes", {}).get("routeDistinguishers", None)
        if by_rd is None:
            # l2vpn evpn: the RDs are top-level keys next to counters.
            by_rd = {k: v for k, v in data.items() if isinstance(v, dict) and k != "routes"}
        out = {}
        for rd, prefixes in by_rd.items():
            for prefix, entry in prefixes.items():
                if not isinstance(entry, (dict, list)):
                    continue          # "rd", "rdType" and such fields of an RD's object
                paths = entry if isinstance(entry, list) else entry.get("paths", [])
                out[(rd, prefix)] = _flatten(paths)
        return out

    def route(self, family, rd, prefix):
        """The detailed paths of one route: `show bgp FAMILY rd RD PREFIX json`; for EVPN
        PREFIX is the route in FRR's notation ("[2]:[0]:[48]:[mac]:[32]:[ip]").  Returns the
        list of paths ([] when FRR has none)."""
        if family == "l2vpn evpn":
            # FRR 8.4 has no per-prefix EVPN show with an RD: take the RD's routes.
            data = self.show(f"show bgp l2vpn evpn route rd {rd}")
            entry = data.get(rd, {}).get(prefix) or data.get(prefix)
            return _flatten(entry.get("paths", [])) if entry else []
        data = self.show(f"show bgp {family} rd {rd} {prefix}")
        return _flatten(data.get(rd, data).get("paths", []))

    def wait_route_set(self, family, expected, timeout=10.0):
        """Waits until the (RD, prefix) keys of FAMILY's table are exactly EXPECTED (an
        iterable of keys); returns the table."""
        want = set(expected)
        last = {}

        def check():
            nonlocal last
            last = self.rib(family)
            return set(last) == want and (last or True)
        try:
            poll(check, timeout, f"FRR's {family} routes {sorted(want)}", interval=0.1)
        except TimeoutError as e:
            raise TimeoutError(f"{e}; FRR has {sorted(last)}") from None
        return last


def _flatten(paths):
    """FRR nests EVPN paths one level deeper ([[path], ...]) than others ([path, ...])."""
    out = []
    for p in paths:
        if isinstance(p, list):
            out.extend(p)
        else:
            out.append(p)
    return out
