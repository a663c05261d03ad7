"""Fault injection on the network-namespace cluster (3 nodes, automatic master
failover on): partitions, kill -9 of masterd, noded and etcd, planned and
crash failovers, while a client makes config changes and submits jobs and
records every acknowledgement. A checker then proves from that history: every
acknowledged change and job is there, no node's configuration serial went
back, no two nodes held the master IP at once, every copy converged.

Faults: a cut master (an automatic failover follows), a cut candidate,
kill -9 of masterd (automatic failover), of noded and of etcd, a planned
failover, and a planned failover to a node that was just cut off.
Bounded: GANETI_CHAOS_FAULTS faults (4 in "make check", more with
"make chaos"), each of bounded length; GANETI_CHAOS_SEED repeats a run.
"""

import os
import random
import re
import signal
import threading
import time

import pytest

import netns_cluster
from test_failover_runs import _master_ip_cidr, _wait_reaches

FAULTS = int(os.environ.get("GANETI_CHAOS_FAULTS", "4"))
SEED = int(os.environ.get("GANETI_CHAOS_SEED", str(int(time.time()))))
SERVE_TIMEOUT = 90          # seconds a fault may leave the cluster without a master
CONVERGE_TIMEOUT = 60


@pytest.fixture(scope="module")
def nc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    cluster = netns_cluster.NetnsCluster(3, prefix="gntc")
    try:
        cluster.init()
        for node in cluster.nodes[1:]:
            cluster.master.run("gnt-node", "add", node.name, check=True)
        cluster.master.run("gnt-cluster", "modify", "--auto-master-failover", "yes",
                           check=True)
        yield cluster
    finally:
        cluster.cleanup()


def _serial(node):
    try:
        with open(node.path("/var/lib/ganeti/config.data")) as fd:
            return __import__("json").load(fd)["serial_no"]
    except (OSError, ValueError, KeyError):
        return None


class History:
    """What the client got acknowledged, and what the samplers saw."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tags = []              # acknowledged instance adds
        self.jobs = []              # acknowledged job ids
        self.attempts = 0
        self.failures = 0
        self.two_masters = []       # samples with the master IP on two nodes
        self.serial_back = []       # (node, before, after)
        self.samples = 0


class Client(threading.Thread):
    """Adds an instance (a config change) and submits a job, again and again,
    on the master."""

    def __init__(self, nc, history, stop):
        super().__init__(name="chaos-client", daemon=True)
        self.nc, self.history, self.stop = nc, history, stop
        self.master = nc.master

    def run(self):
        count = 0
        while not self.stop.is_set():
            count += 1
            tag = "chaos%d.example.com" % count
            with self.history.lock:
                self.history.attempts += 1
            try:
                tagged = self.master.run(
                    "gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
                    "--no-name-check", "--no-ip-check", "-n", self.master.name, tag,
                    timeout=60)
                submitted = self.master.run("gnt-debug", "delay", "--submit", "0",
                                            timeout=60)
            except Exception:   # a timeout: not acknowledged
                tagged = submitted = None
            with self.history.lock:
                if tagged is not None and tagged.returncode == 0:
                    self.history.tags.append(tag)
                else:
                    self.history.failures += 1
                if submitted is not None and submitted.returncode == 0:
                    match = re.search(r"(\d+)\s*$", submitted.stderr)
                    if match:
                        self.history.jobs.append(match.group(1))
            if tagged is None or tagged.returncode or submitted is None or \
                    submitted.returncode:
                time.sleep(0.5)
                self.master = _current_master(self.nc) or self.master


class Sampler(threading.Thread):
    """Who holds the master IP, and each node's configuration serial."""

    def __init__(self, nc, history, stop):
        super().__init__(name="chaos-sampler", daemon=True)
        self.nc, self.history, self.stop = nc, history, stop

    def run(self):
        last = {}
        while not self.stop.wait(0.2):
            holders = [n.name for n in self.nc.nodes if _master_ip_cidr(n)]
            with self.history.lock:
                self.history.samples += 1
                if len(holders) > 1:
                    self.history.two_masters.append((time.time(), holders))
                for node in self.nc.nodes:
                    serial = _serial(node)
                    if serial is None:
                        continue
                    if serial < last.get(node.name, -1):
                        self.history.serial_back.append((node.name, last[node.name], serial))
                    last[node.name] = serial


def _current_master(nc):
    for node in nc.nodes:
        if not nc.is_cut(node.index) and node.pid("ganeti-masterd") and \
                node.run("gnt-cluster", "master-ping", timeout=20).returncode == 0:
            return node
    return None


def _wait_serving(nc, timeout=SERVE_TIMEOUT):
    start = time.time()
    while True:
        master = _current_master(nc)
        if master is not None:
            return master, time.time() - start
        assert time.time() - start < timeout, "no master serves"
        time.sleep(0.5)


def _restart_dead_daemons(nc):
    """What the watcher does from cron: start the daemons a node should run."""
    for node in nc.nodes:
        node.run(os.path.join(netns_cluster.SRC, "daemons", "ganeti-watcher"), timeout=120)


def _kill_etcd_server(node):
    pid_file = node.path("/var/run/ganeti/ganeti-etcd-server.pid")
    try:
        with open(pid_file) as fd:
            pid = int(fd.read().strip())
        os.kill(pid, signal.SIGKILL)
        return True
    except (OSError, ValueError):
        return False


def _fault(nc, rng, kind):
    """Inject one fault of ``kind`` and heal it; returns a line for the report."""
    master = _current_master(nc) or nc.master
    others = [n for n in nc.nodes if n is not master]
    other = rng.choice(others)
    if kind == "cut-master":
        nc.cut(master.index)
        try:
            _wait_serving(nc)
        finally:
            nc.uncut(master.index)
        _wait_reaches(master, others)
        return "cut master %s until another took over" % master.name
    if kind == "cut-candidate":
        nc.cut(other.index)
        time.sleep(rng.uniform(2, 8))
        nc.uncut(other.index)
        _wait_reaches(other, [master])
        return "cut %s for a while" % other.name
    if kind == "kill-masterd":
        master.kill_daemon("ganeti-masterd", signal.SIGKILL)
        return "kill -9 masterd on %s" % master.name
    if kind == "kill-noded":
        node = rng.choice(nc.nodes)
        node.kill_daemon("ganeti-noded", signal.SIGKILL)
        time.sleep(rng.uniform(0.5, 3))
        node.start_daemon("ganeti-noded")
        return "kill -9 noded on %s" % node.name
    if kind == "kill-etcd":
        node = rng.choice(nc.nodes)
        _kill_etcd_server(node)
        time.sleep(rng.uniform(0.5, 3))
        node.run(os.path.join(netns_cluster.SRC, "daemons", "ganeti-watcher"), timeout=120)
        return "kill -9 etcd on %s" % node.name
    if kind == "failover-to-cut":
        # the target missed changes while it was cut off; etcd has them
        nc.cut(other.index)
        time.sleep(rng.uniform(2, 5))
        nc.uncut(other.index)
        _wait_reaches(other, [n for n in nc.nodes if n is not other])
        proc = other.run("gnt-cluster", "master-failover", timeout=180)
        if proc.returncode:
            return "failover to %s after a cut failed (%d): %s" % (
                other.name, proc.returncode, (proc.stdout + proc.stderr).strip()[-800:])
        return "cut %s, then planned failover to it" % other.name
    if kind == "failover":
        proc = other.run("gnt-cluster", "master-failover", timeout=180)
        if proc.returncode:
            return "planned failover to %s failed (%d): %s" % (
                other.name, proc.returncode, (proc.stdout + proc.stderr).strip()[-800:])
        return "planned failover to %s" % other.name
    raise ValueError(kind)


KINDS = ["cut-master", "cut-candidate", "kill-masterd", "kill-noded", "kill-etcd",
         "failover", "failover-to-cut"]


def test_faults_lose_no_acknowledged_change_or_job(nc):
    rng = random.Random(SEED)
    print("\nchaos: %d faults, seed %d" % (FAULTS, SEED))
    history = History()
    stop = threading.Event()
    client = Client(nc, history, stop)
    sampler = Sampler(nc, history, stop)
    sampler.start()
    client.start()
    # every kind once before any repeats, in a random order
    kinds = []
    while len(kinds) < FAULTS:
        batch = list(KINDS)
        rng.shuffle(batch)
        kinds.extend(batch)
    start = time.time()
    try:
        for number, kind in enumerate(kinds[:FAULTS], 1):
            time.sleep(rng.uniform(1, 4))
            fault_start = time.time()
            what = _fault(nc, rng, kind)
            master, _ = _wait_serving(nc)
            print("chaos: fault %d: %s; %s serves %.1f s after the fault began"
                  % (number, what, master.name, time.time() - fault_start))
        time.sleep(2)
    finally:
        stop.set()
        client.join(180)
        sampler.join(10)
        for node in nc.nodes:
            nc.uncut(node.index)
    _restart_dead_daemons(nc)
    master, _ = _wait_serving(nc)

    # every acknowledged change and job is there
    tags = set(master.run("gnt-instance", "list", "--no-headers", "-o", "name",
                          check=True).stdout.split())
    lost_tags = [t for t in history.tags if t not in tags]
    out = master.run("gnt-job", "list", "--no-headers", "-o", "id", check=True).stdout
    present = set(out.split())
    lost_jobs = [j for j in history.jobs if j not in present]
    # every node's copy converges on the master's serial
    deadline = time.time() + CONVERGE_TIMEOUT
    while len(set(_serial(n) for n in nc.nodes)) != 1:
        assert time.time() < deadline, dict((n.name, _serial(n)) for n in nc.nodes)
        time.sleep(0.5)
    copies = set()
    for node in nc.nodes:
        with open(node.path("/var/lib/ganeti/config.data")) as fd:
            copies.add(fd.read())
    print("chaos: %.0f s, %d operations tried, %d config changes and %d jobs"
          " acknowledged, %d failed; lost: %d changes, %d jobs; %d master IP samples,"
          " %d with two holders; serial went back %d times"
          % (time.time() - start, history.attempts, len(history.tags), len(history.jobs),
             history.failures, len(lost_tags), len(lost_jobs), history.samples,
             len(history.two_masters), len(history.serial_back)))
    assert not lost_tags, lost_tags
    assert not lost_jobs, lost_jobs
    assert not history.two_masters, history.two_masters
    # two masters at once would have handed out a job id twice
    assert len(set(history.jobs)) == len(history.jobs), history.jobs
    assert not history.serial_back, history.serial_back
    assert len(copies) == 1, "the nodes' config.data differ"
    assert history.tags and history.jobs, "nothing was acknowledged"
