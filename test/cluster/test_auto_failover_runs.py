"""Automatic master failover (gnt-cluster modify --auto-master-failover yes) on the
network-namespace cluster (3 nodes): the master is cut off, or its master daemon
killed, and a candidate takes over by itself; the old master stops acting."""

import time

import pytest

import netns_cluster
from test_failover_runs import _getmaster, _master_ip_cidr, _wait_reaches

TAKEOVER_TIMEOUT = 90


@pytest.fixture(scope="module")
def nc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    cluster = netns_cluster.NetnsCluster(3, prefix="gnta")
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.cleanup()


def _serving(node):
    """The node that answers as the master from ``node`` (None while nobody does)."""
    proc = node.run("gnt-cluster", "master-ping", timeout=30)
    if proc.returncode:
        return None
    return _getmaster(node)


def _wait_new_master(nodes, old, start):
    while True:
        for node in nodes:
            if node.pid("ganeti-masterd") and _serving(node) == node.name != old.name:
                return node, time.time() - start
        assert time.time() - start < TAKEOVER_TIMEOUT, "no candidate took over"
        time.sleep(0.5)


def _job_status(node, job_id):
    out = node.run("gnt-job", "list", "--no-headers", "--separator=|", "-o",
                   "status", job_id, check=True).stdout
    return out.strip()


def test_setup(nc):
    n1, n2, n3 = nc.nodes
    n1.run("gnt-node", "add", n2.name, check=True)
    n1.run("gnt-node", "add", n3.name, check=True)
    info = n1.run("gnt-cluster", "info", check=True).stdout
    assert "automatic master failover" not in info       # off: as in Ganeti
    n1.run("gnt-cluster", "modify", "--auto-master-failover", "yes", check=True)
    info = n1.run("gnt-cluster", "info", check=True).stdout
    assert "automatic master failover: True" in info


def test_a_restarted_master_daemon_keeps_the_role(nc):
    n1, n2, n3 = nc.nodes
    n1.kill_daemon("ganeti-masterd")        # a clean stop (SIGTERM)
    time.sleep(5)                           # longer than a candidate's turn
    n1.start_daemon("ganeti-masterd")
    assert _serving(n1) == n1.name
    assert not n2.pid("ganeti-masterd") and not n3.pid("ganeti-masterd")


def test_cut_off_master_is_replaced(nc):
    n1, n2, n3 = nc.nodes
    done = n1.run("gnt-debug", "delay", "--submit", "0", check=True).stderr.split()[-1]
    n1.run("gnt-job", "watch", done, check=True)
    running = n1.run("gnt-debug", "delay", "--submit", "600",
                     check=True).stderr.split()[-1]
    time.sleep(1)
    start = time.time()
    nc.cut(1)
    try:
        new, took = _wait_new_master([n2, n3], n1, start)
        print("automatic failover: master cut off -> %s serving in %.1f s" % (new.name, took))
        assert _master_ip_cidr(new)
        # the old master gave up by itself: its master IP is down (its master
        # daemon waits, passive, until it can reach etcd again)
        deadline = time.time() + 30
        while _master_ip_cidr(n1):
            assert time.time() < deadline, "the cut-off master keeps the master IP"
            time.sleep(0.5)
        assert _job_status(new, done) == "success"
        assert _job_status(new, running) == "error"
        info = new.run("gnt-job", "info", running, check=True).stdout
        assert "the master daemon on %s stopped while the job was running" % n1.name \
            in info
        new.run("gnt-debug", "delay", "0", check=True)
    finally:
        nc.uncut(1)
    _wait_reaches(n1, [n2, n3])
    # back in touch, node1's master daemon sees the new master and stops
    deadline = time.time() + 30
    while _getmaster(n1) != new.name or n1.pid("ganeti-masterd"):
        assert time.time() < deadline, "node1 did not learn the new master"
        time.sleep(0.5)
    assert not _master_ip_cidr(n1)


def test_killed_master_daemon_is_replaced(nc):
    master = next(n for n in nc.nodes if n.pid("ganeti-masterd"))
    others = [n for n in nc.nodes if n is not master]
    start = time.time()
    master.kill_daemon("ganeti-masterd", __import__("signal").SIGKILL)
    new, took = _wait_new_master(others, master, start)
    print("automatic failover: master daemon killed -> %s serving in %.1f s"
          % (new.name, took))
    deadline = time.time() + 30
    while _master_ip_cidr(master):
        assert time.time() < deadline, "the old master IP is still up"
        time.sleep(0.5)
    assert _master_ip_cidr(new)
    for node in nc.nodes:
        assert bool(node.pid("ganeti-masterd")) == (node is new), node.name
