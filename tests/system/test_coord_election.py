"""Leader election and the ZooKeeper backend of lib/coord against a real 3-node ensemble.

Each contender is a `coord-contender` process: it prints "<realtime> NAME leader|follower" on
every change and "<realtime> NAME acting" every 100 ms while coord_is_leader() holds.  The
tests kill, freeze (SIGSTOP) and thaw contenders and ZooKeeper nodes, and check from those
lines that there is one leader, that another takes over, and that no two contenders ever act
at the same time (a frozen leader must not act after waking up once another was elected).

The ensemble runs in the test's tmp directory on free loopback ports (tests/system/zkutil.py);
every process is killed at teardown, even when a test fails.  The whole module is skipped only
when the zookeeper package is not installed.
"""

import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import BUILD_DIR, _live, _live_lock, poll, tail
from zkutil import ZkEnsemble, zookeeper_installed

pytestmark = pytest.mark.skipif(not zookeeper_installed(),
                                reason="the zookeeper package (and java) is not installed")

CONTENDER_BIN = BUILD_DIR / "tools" / "coord-contender"
TEST_COORD_BIN = BUILD_DIR / "tests" / "unit" / "test_coord"
SESSION_MS = 3000
SESSION_S = SESSION_MS / 1000
SLACK_S = 8.0               # start-up, re-election, sanitizer slowness
ACTING_GAP_S = 0.35         # acting lines come every 0.1 s: a longer gap ends a period


class Contender:
    """One coord-contender process, its output in DIR/NAME.out and DIR/NAME.err."""

    def __init__(self, workdir, name, spec, path, session_ms=SESSION_MS):
        self.name = name
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        self.killed = False
        self.paused = False
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [str(CONTENDER_BIN), "--coord", spec, "--path", path, "--id", name,
                 "--session_timeout_ms", str(session_ms), "--log_level", "info"],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        with _live_lock:
            _live.add(self.proc)

    def lines(self):
        """[(realtime seconds, what)] printed so far."""
        result = []
        with open(self.out) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and line.endswith("\n"):
                    assert parts[1] == self.name, f"{self.name}: bad line {line!r}"
                    result.append((float(parts[0]), parts[2]))
        return result

    def state(self):
        """"leader", "follower", or None before the first report."""
        states = [w for _, w in self.lines() if w in ("leader", "follower")]
        return states[-1] if states else None

    def times(self, what):
        return [t for t, w in self.lines() if w == what]

    def acting(self):
        return self.times("acting")

    def check_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n"
                                 + self.diagnostics())

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.killed = True

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self):
        """SIGTERM; returns a problem description, or None if it exited with status 0."""
        if self.paused:
            self.resume()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return f"{self.name} did not exit on SIGTERM:\n" + self.diagnostics()
        finally:
            with _live_lock:
                _live.discard(self.proc)
        if not self.killed and self.proc.returncode != 0:
            return f"{self.name} exited with {self.proc.returncode}:\n" + self.diagnostics()
        return None

    def diagnostics(self):
        return f"--- {self.out}:\n{tail(self.out, 15)}\n--- {self.err}:\n{tail(self.err, 30)}"


def acting_periods(contenders):
    """[(start, end, name)]: runs of acting lines without a gap, per contender."""
    periods = []
    for c in contenders:
        start = prev = None
        for t in c.acting():
            if start is not None and t - prev > ACTING_GAP_S:
                periods.append((start, prev, c.name))
                start = None
            if start is None:
                start = t
            prev = t
        if start is not None:
            periods.append((start, prev, c.name))
    return periods


def assert_never_two_acting(contenders):
    periods = acting_periods(contenders)
    for s1, e1, n1 in periods:
        for s2, e2, n2 in periods:
            if n1 != n2:
                assert e1 < s2 or e2 < s1, \
                    f"{n1} acted during [{s1:.3f}, {e1:.3f}] and {n2} during [{s2:.3f}, {e2:.3f}]"


def diagnostics(contenders, ensemble=None):
    text = "\n".join(c.diagnostics() for c in contenders)
    return text + ("\n" + ensemble.diagnostics() if ensemble else "")


def one_leader(contenders, since=0.0):
    """The only contender whose last report is leader and that acted after SINCE, provided
    every other one reports follower; else None."""
    for c in contenders:
        c.check_alive()
    states = [c.state() for c in contenders]
    if states.count("leader") != 1 or states.count("follower") != len(contenders) - 1:
        return None
    leader = contenders[states.index("leader")]
    return leader if any(t > since for t in leader.acting()) else None


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    ens = ZkEnsemble(tmp_path_factory.mktemp("zk"))
    try:
        ens.start()
        yield ens
    finally:
        ens.stop()


@pytest.fixture
def contenders(tmp_path):
    """contenders(name, spec) starts a contender on a path private to the test; all are
    stopped at teardown and must exit with status 0 (unless a test killed them)."""
    started = []
    path = f"/election-{uuid.uuid4().hex[:8]}"

    def start(name, spec):
        c = Contender(tmp_path, name, spec, path)
        started.append(c)
        return c
    yield start
    problems = [p for p in (c.stop() for c in started) if p]
    assert not problems, "\n".join(problems)


def test_zk_backend_semantics(ensemble):
    """The unit test's create/get/set/delete/list/watch/sequence/ephemeral/election cases,
    run against the ensemble."""
    env = dict(os.environ, CONTRAIL_COORD_SPEC="zk:" + ensemble.connect_string)
    r = subprocess.run([str(TEST_COORD_BIN)], env=env, capture_output=True, text=True,
                       timeout=180)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    assert r.returncode == 0 and last.endswith(" passed, 0 failed"), \
        f"status {r.returncode}\n--- stdout:\n{r.stdout[-3000:]}\n--- stderr:\n{r.stderr[-6000:]}"


def test_two_contenders_exactly_one_leader(ensemble, contenders):
    spec = "zk:" + ensemble.connect_string
    a, b = contenders("a", spec), contenders("b", spec)
    leader = poll(lambda: one_leader([a, b]), 15 + SLACK_S, "exactly one leader")
    follower = b if leader is a else a
    poll(lambda: len(leader.acting()) >= 5, 10, "the leader to act")
    assert follower.times("leader") == [] and follower.acting() == [], \
        diagnostics([a, b])
    assert_never_two_acting([a, b])


def test_killed_leader_is_replaced(ensemble, contenders):
    spec = "zk:" + ensemble.connect_string
    a, b = contenders("a", spec), contenders("b", spec)
    leader = poll(lambda: one_leader([a, b]), 15 + SLACK_S, "exactly one leader")
    follower = b if leader is a else a
    leader.kill()
    # The server drops the dead leader's node when its session expires.
    poll(lambda: follower.state() == "leader" and follower.acting(), SESSION_S + SLACK_S,
         f"{follower.name} to take over from the killed {leader.name}")
    assert_never_two_acting([a, b])


def test_frozen_leader_never_overlaps(ensemble, contenders):
    spec = "zk:" + ensemble.connect_string
    a, b = contenders("a", spec), contenders("b", spec)
    old = poll(lambda: one_leader([a, b]), 15 + SLACK_S, "exactly one leader")
    new = b if old is a else a
    poll(lambda: len(old.acting()) >= 3, 10, "the leader to act")

    old.pause()
    # Elected only once the server expired the frozen leader's session.
    poll(lambda: new.state() == "leader", SESSION_S + SLACK_S,
         f"{new.name} to take over from the frozen {old.name}")
    took_over = new.times("leader")[-1]
    poll(lambda: len([t for t in new.acting() if t > took_over]) >= 3, 5,
         f"{new.name} to act")
    old.resume()

    poll(lambda: old.state() == "follower", 10 + SLACK_S,
         f"the thawed {old.name} to report follower")
    stepped_down = old.times("follower")[-1]
    poll(lambda: len([t for t in new.acting() if t > stepped_down]) >= 5, 5,
         f"{new.name} to go on acting")
    assert new.state() == "leader" and old.state() == "follower", diagnostics([a, b])
    first_new = min([took_over] + new.acting())
    late = [t for t in old.acting() if t >= first_new]
    assert not late, (f"{old.name} acted at {late} after {new.name} led from {first_new:.6f}\n"
                      + diagnostics([a, b]))
    assert_never_two_acting([a, b])

    # The thawed contender joined again with a new session: it is next in line.
    new.kill()
    poll(lambda: old.state() == "leader" and old.times("leader")[-1] > stepped_down
         and [t for t in old.acting() if t > stepped_down], SESSION_S + SLACK_S,
         f"{old.name} to lead again after {new.name} died")
    assert_never_two_acting([a, b])


@pytest.fixture
def private_ensemble(tmp_path):
    """An ensemble for one test that kills its nodes (set up before, so torn down after, the
    contenders)."""
    ens = ZkEnsemble(tmp_path / "zk")
    try:
        ens.start()
        yield ens
    finally:
        ens.stop()


def test_election_survives_zookeeper_leader_loss(private_ensemble, contenders):
    ens = private_ensemble
    try:
        spec = "zk:" + ens.connect_string
        a, b = contenders("a", spec), contenders("b", spec)
        poll(lambda: one_leader([a, b]), 15 + SLACK_S, "exactly one leader")

        zk_leader = ens.leader()
        assert zk_leader is not None, ens.diagnostics()
        ens.kill_node(zk_leader)
        # The two remaining nodes elect a new ZooKeeper leader; the sessions survive and the
        # election goes on.
        ens.wait_serving(30)
        serving_again = time.time()
        leader = poll(lambda: one_leader([a, b], since=serving_again), 15 + SLACK_S,
                      "one contender leading after the ZooKeeper leader died")
        follower = b if leader is a else a

        leader.kill()
        poll(lambda: follower.state() == "leader" and follower.acting()
             and follower.acting()[-1] > serving_again, SESSION_S + 2 * SLACK_S,
             f"{follower.name} to take over on the surviving ZooKeeper nodes")
        assert_never_two_acting([a, b])
    except Exception:
        print(ens.diagnostics())
        raise
