"""contrail-vrouter control protocol: bad messages get error responses (never a crash),
errors name the field, dumps are paginated, limits are enforced, and the tools print what the
originals print.  One vRouter in a namespace of its own (root needed for the namespace)."""

import errno
import os
import random
import re
import socket
import struct

import pytest

from vrouterutil import Topology, netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

MAGIC, VERSION = 0x5652, 1
OP_ADD, OP_GET, OP_DEL, OP_DUMP, OP_RESPONSE = 1, 2, 3, 4, 5
OBJ_IF, OBJ_NH, OBJ_ROUTE, OBJ_INFO = 1, 2, 3, 9


@pytest.fixture(scope="module")
def vr(tmp_path_factory):
    topo = Topology(tmp_path_factory.mktemp("vr-ctl"))
    c = topo.add_compute("cc", "198.51.100.31", vrouter=False)
    from vrouterutil import Vrouter
    c.vrouter = Vrouter(c.ns, topo.dir / "cc", extra=["--vr_interfaces", "16"]).start()
    c.vrouter.topo = topo
    yield c.vrouter
    problems = topo.close()
    if problems:
        pytest.fail("\n".join(problems))


def attr(t, value):
    pad = (-len(value)) % 4
    return struct.pack("!HH", t, len(value)) + value + b"\0" * pad


def msg(op, obj, attrs=b"", seq=1, version=VERSION, magic=MAGIC, length=None):
    n = 16 + len(attrs) if length is None else length
    return struct.pack("!HBBHHII", magic, version, op, obj, 0, seq, n) + attrs


class Conn:
    def __init__(self, vr):
        # The socket file is reachable from this namespace (it is a path).
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(vr.ctl)

    def close(self):
        self.s.close()

    def recv_exact(self, n):
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise ConnectionError("closed")
            b += chunk
        return b

    def call(self, data):
        self.s.sendall(data)
        return self.read()

    def read(self):
        hdr = self.recv_exact(16)
        magic, version, op, obj, flags, seq, n = struct.unpack("!HBBHHII", hdr)
        body = self.recv_exact(n - 16)
        attrs, i = [], 0
        while i + 4 <= len(body):
            t, ln = struct.unpack("!HH", body[i:i + 4])
            attrs.append((t, body[i + 4:i + 4 + ln]))
            i += 4 + ln + ((-ln) % 4)
        code = next(struct.unpack("!I", v)[0] for t, v in attrs if t == 1)
        text = next((v.decode() for t, v in attrs if t == 2), "")
        objs = [v for t, v in attrs if t == 3]
        return {"op": op, "obj": obj, "seq": seq, "flags": flags, "code": code, "text": text,
                "objects": objs}

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionError, socket.timeout):
            return True


def u32(v):
    return struct.pack("!I", v)


def test_valid_request_roundtrip(vr):
    c = Conn(vr)
    r = c.call(msg(OP_GET, OBJ_INFO, seq=7))
    assert (r["op"], r["obj"], r["seq"], r["code"]) == (OP_RESPONSE, OBJ_INFO, 7, 0)
    assert len(r["objects"]) == 1
    c.close()


def test_bad_magic_gets_error_and_close(vr):
    c = Conn(vr)
    r = c.call(msg(OP_GET, OBJ_INFO, magic=0x1234))
    assert r["code"] == errno.EBADMSG and "magic" in r["text"]
    assert c.closed()
    c.close()


def test_impossible_length_gets_error_and_close(vr):
    for n in (3, 70000):
        c = Conn(vr)
        r = c.call(msg(OP_GET, OBJ_INFO, length=n))
        assert r["code"] == errno.EBADMSG and "length" in r["text"]
        assert c.closed()
        c.close()


def test_bad_version_op_object_are_errors_on_a_live_connection(vr):
    c = Conn(vr)
    r = c.call(msg(OP_GET, OBJ_INFO, version=9, seq=2))
    assert r["code"] == errno.EPROTONOSUPPORT and "version 9" in r["text"] and r["seq"] == 2
    r = c.call(msg(OP_GET, 77, seq=3))
    assert r["code"] == errno.EINVAL and "unknown object type 77" in r["text"]
    r = c.call(msg(9, OBJ_IF, seq=4))
    assert r["code"] == errno.EOPNOTSUPP
    r = c.call(msg(OP_DEL, OBJ_INFO, seq=5))
    assert r["code"] == errno.EOPNOTSUPP
    r = c.call(msg(OP_GET, OBJ_INFO, seq=6))
    assert r["code"] == 0                           # still talking
    c.close()


def test_bad_attributes_are_named(vr):
    c = Conn(vr)
    r = c.call(msg(OP_ADD, OBJ_IF, attr(16, u32(1)) + attr(200, b"x")))
    assert r["code"] == errno.EINVAL and "unknown attribute 200" in r["text"]
    r = c.call(msg(OP_ADD, OBJ_IF, attr(16, b"\0\1")))
    assert r["code"] == errno.EINVAL and "idx" in r["text"] and "length 2" in r["text"]
    r = c.call(msg(OP_ADD, OBJ_IF, struct.pack("!HH", 16, 40) + b"\0" * 8))
    assert r["code"] == errno.EINVAL and "truncated" in r["text"]
    r = c.call(msg(OP_ADD, OBJ_IF, attr(16, u32(1)) + attr(16, u32(2))))
    assert r["code"] == errno.EINVAL and "twice" in r["text"]
    r = c.call(msg(OP_ADD, OBJ_IF, attr(3, b"")))
    assert r["code"] == errno.EINVAL and "not allowed" in r["text"]
    r = c.call(msg(OP_GET, OBJ_IF, attr(16, u32(5))))
    assert r["code"] == errno.ENOENT and "interface 5 does not exist" in r["text"]
    c.close()


def test_random_messages_never_crash(vr):
    rnd = random.Random(6)
    c = Conn(vr)
    for i in range(300):
        attrs = b""
        for _ in range(rnd.randint(0, 6)):
            t = rnd.choice([rnd.randint(0, 60), 16, 17, 18, 19, 20, 21, 4])
            attrs += attr(t, bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 1, 2, 4, 6,
                                                                                   8, 16, 33]))))
        if rnd.random() < 0.2:
            attrs = attrs[:rnd.randint(0, len(attrs))]
        r = c.call(msg(rnd.randint(0, 7), rnd.randint(0, 10), attrs, seq=i))
        assert r["seq"] == i
    assert c.call(msg(OP_GET, OBJ_INFO))["code"] == 0
    c.close()
    assert vr.alive()


def test_tool_errors_name_the_problem(vr):
    cases = [
        (("vif", "--add", "nosuch0", "--type", "virtual", "--vif", 3),
         "no interface nosuch0"),
        (("vif", "--add", "lo", "--type", "virtual", "--vif", 99), "out of range (limit 16)"),
        (("nh", "--create", 5, "--type", "tunnel", "--tunnel", "vxlan", "--sip", "198.51.100.31"),
         "tun_dip"),
        (("nh", "--create", 0, "--type", "receive"), "built-in discard"),
        (("nh", "--create", 6, "--type", "composite", "--nh-list", "6"), "lists itself"),
        (("rt", "-c", "-v", 1, "-p", "203.0.113.5", "-l", 24, "-n", 0), "bits set beyond /24"),
        (("rt", "-c", "-v", 99999, "-p", "203.0.113.0", "-l", 24, "-n", 0), "vrf"),
        (("mpls", "--create", 5, "--nh", 0), "out of range 16.."),
        (("flow", "--set", "--action", "nat", "--sip", "203.0.113.1", "--dip", "203.0.113.2",
          "--proto", 17, "--nh", 0), "needs one of the flags"),
        (("flow", "--set", "--action", "forward", "--sip", "203.0.113.1", "--dip", "2001:db8::1",
          "--proto", 17, "--nh", 0), "same family"),
        (("flow", "--get", 3), "flow 3 does not exist"),
        (("vrouter", "--set-log-level", "LOUD"), "log_level 'LOUD'"),
    ]
    for args, text in cases:
        r = vr.tool_run(*args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert text in r.stderr, (args, r.stderr)
    r = vr.tool_run("rt", "-c", "-v", "x")
    assert r.returncode == 2 and "--vrf 'x'" in r.stderr
    assert vr.alive()


def test_dump_is_paginated(vr):
    vr.tool("nh", "--create", 7, "--type", "receive")
    for i in range(150):
        vr.tool("rt", "-c", "-v", 3, "-p", f"203.0.113.{i}", "-l", 32, "-n", 7)
    vr.tool("rt", "-c", "-v", 3, "-p", "203.0.113.0", "-l", 24, "-n", 7)
    out = vr.tool("rt", "--dump", 3)
    rows = re.findall(r"^203\.0\.113\.(\d+)/(\d+)\s+(\d+)", out, re.M)
    assert len(rows) == 151
    assert rows[0] == ("0", "24", "0") and rows[1] == ("0", "32", "24")   # PPL of the /32s
    # Raw: the first page says more follows.
    c = Conn(vr)
    r = c.call(msg(OP_DUMP, OBJ_ROUTE, attr(16, u32(3)) + attr(17, b"\x02")))
    assert r["flags"] & 1 and 0 < len(r["objects"]) < 151
    c.close()
    got = vr.tool("rt", "--get", "203.0.113.77", "--vrf", 3)
    assert "203.0.113.77/32" in got
    vr.tool("rt", "-d", "-v", 3, "-p", "203.0.113.77", "-l", 32)
    assert "203.0.113.0/24" in vr.tool("rt", "--get", "203.0.113.77", "--vrf", 3)


def test_tools_print_like_the_originals(vr):
    vr.tool("nh", "--create", 8, "--type", "tunnel", "--tunnel", "mplsoudp",
            "--sip", "198.51.100.31", "--dip", "198.51.100.32")
    vr.tool("nh", "--create", 9, "--type", "composite", "--ecmp", "--nh-list", "8,7",
            "--label-list", "17,18")
    vr.tool("mpls", "--create", 17, "--nh", 8)
    vr.tool("vxlan", "--create", 4242, "--nh", 8)
    nh = vr.tool("nh", "--get", 8)
    assert re.search(r"Id:8\s+Type:Tunnel\s+Fmly:\s*AF_INET", nh)
    assert "Flags:Valid, MPLSoUDP," in nh and "Sip:198.51.100.31 Dip:198.51.100.32" in nh
    assert "Sub NH(label): 8(17) 7(18)" in vr.tool("nh", "--get", 9)
    assert "Ref_cnt:4" in vr.tool("nh", "--get", 8)   # composite, label, VNI, itself
    mp = vr.tool("mpls", "--dump")
    assert "MPLS Input Label Map" in mp and re.search(r"^\s+17\s+8$", mp, re.M)
    assert re.search(r"^\s+4242\s+8$", vr.tool("vxlan", "--dump"), re.M)
    info = vr.tool("vrouter", "--info")
    assert re.search(r"Interfaces limit\s+16$", info, re.M)
    assert re.search(r"Flow Table limit\s+4096$", info, re.M)
    assert "Flow hold limit" in info
    ds = vr.tool("dropstats")
    assert "Flow Action Drop" in ds and "Invalid Label" in ds
    vl = vr.tool("vif", "--list")
    assert "Vrouter Interface Table" in vl


def test_reset_empties_the_tables(vr):
    vr.tool("vrouter", "--reset")
    nh = vr.tool("nh", "--list")
    assert re.findall(r"^Id:(\d+)", nh, re.M) == ["0"]
    assert vr.tool("mpls", "--dump").count("\n") == 4
