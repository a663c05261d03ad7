"""gnt-cluster master-failover on the network-namespace cluster (3 nodes)."""

import os
import shutil
import time

import pytest

import netns_cluster

CLUSTER_IP = netns_cluster.CLUSTER_IP


@pytest.fixture(scope="module")
def nc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    cluster = netns_cluster.NetnsCluster(3, prefix="gntf")
    try:
        cluster.init()
        key = cluster.master.path("/root/.ssh/id_ed25519")
        os.makedirs(os.path.dirname(key), exist_ok=True)
        shutil.copy(cluster.ssh_key, key)
        os.chmod(key, 0o600)
        yield cluster
    finally:
        cluster.cleanup()


def _getmaster(node):
    return node.run("gnt-cluster", "getmaster", check=True).stdout.strip()


def _ssconf_master(node):
    with open(node.path("/var/lib/ganeti/ssconf_master_node")) as fd:
        return fd.read().strip()


def _master_ip_cidr(node):
    """The master IP with its prefix length if it is on the node's eth0, else None."""
    out = netns_cluster._run(["ip", "-n", node.netns, "-o", "-4", "addr", "show",
                              "dev", "eth0"]).stdout
    for word in out.split():
        if word.startswith(CLUSTER_IP + "/"):
            return word
    return None


def _failover(node, *extra, expect=0):
    start = time.time()
    proc = node.run("gnt-cluster", "master-failover", *extra, timeout=120)
    assert proc.returncode == expect, (proc.returncode, proc.stdout, proc.stderr)
    return proc, time.time() - start


def _assert_master(nc, new, nodes=None):
    others = [n for n in nc.nodes if n is not new]
    for node in nodes or nc.nodes:
        assert _getmaster(node) == new.name, node.name
        assert _ssconf_master(node) == new.name, node.name
    assert _master_ip_cidr(new)
    assert new.pid("ganeti-masterd")
    for node in others:
        assert not _master_ip_cidr(node), node.name
        assert not node.pid("ganeti-masterd"), node.name


def _stop_stale_master(node):
    """What the admin does on an old master that was cut off during a failover."""
    node.kill_daemon("ganeti-masterd")
    cidr = _master_ip_cidr(node)
    if cidr:
        netns_cluster._run(["ip", "-n", node.netns, "addr", "del", cidr, "dev", "eth0"])


def test_setup(nc):
    n1, n2, n3 = nc.nodes
    n1.run("gnt-node", "add", n2.name, check=True)
    n1.run("gnt-node", "add", n3.name, check=True)
    # a job that changes the configuration, before any failover
    n1.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
           "--no-name-check", "--no-ip-check", "-n", n3.name, "fo1.example.com",
           check=True)
    _assert_master(nc, n1)


def test_refusals(nc):
    n1, n2, _ = nc.nodes
    proc = n1.run("gnt-cluster", "master-failover")
    assert proc.returncode == 1
    assert ("This commands must be run on the node where you want the new master to be."
            " %s is already the master" % n1.name) in proc.stderr
    # --no-voting without --yes-do-it and without a terminal: declined (exit 1, as
    # Ganeti's AskUser answer "no"), nothing done
    argv = ["setsid", "-w", netns_cluster.PYTHON,
            os.path.join(netns_cluster.SRC, "scripts", "gnt-cluster"),
            "master-failover", "--no-voting"]
    proc = n2.run(*argv)
    assert proc.returncode == 1, proc.stderr
    _assert_master(nc, n1)
    # a master daemon on a node that is not the master refuses to start
    proc = n2.run(os.path.join(netns_cluster.SRC, "daemons", "ganeti-masterd"))
    assert proc.returncode != 0
    assert "is not the master" in proc.stderr
    assert not n2.pid("ganeti-masterd")


def test_failover_and_back(nc):
    n1, n2, _ = nc.nodes
    job_list = n1.run("gnt-job", "list", "--no-headers", "-o", "id,summary",
                      check=True).stdout
    assert "INSTANCE_CREATE" in job_list.upper(), job_list
    proc, took = _failover(n2)
    # silent when all goes well, as Ganeti's
    assert (proc.stdout, proc.stderr) == ("", ""), proc
    assert took < 30, took
    _assert_master(nc, n2)
    # the job and the config change made on node1 are there on node2
    assert n2.run("gnt-job", "list", "--no-headers", "-o", "id,summary",
                  check=True).stdout == job_list
    out = n2.run("gnt-instance", "list", "--no-headers", "-o", "name", check=True).stdout
    assert "fo1.example.com" in out.split()
    n2.run("gnt-cluster", "master-ping", check=True)
    # the master daemon refuses to start on the old master
    proc = n1.run(os.path.join(netns_cluster.SRC, "daemons", "ganeti-masterd"))
    assert proc.returncode != 0 and "is not the master" in proc.stderr
    # a job on the new master, then fail back
    n2.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
           "--no-name-check", "--no-ip-check", "-n", n3_name(nc), "fo2.example.com",
           check=True)
    proc, _ = _failover(n1)
    assert (proc.stdout, proc.stderr) == ("", ""), proc
    _assert_master(nc, n1)
    out = n1.run("gnt-instance", "list", "--no-headers", "-o", "name", check=True).stdout
    assert {"fo1.example.com", "fo2.example.com"} <= set(out.split())


def n3_name(nc):
    return nc.node(3).name


def test_failover_with_one_node_cut_off(nc):
    n1, n2, n3 = nc.nodes
    nc.cut(3)
    try:
        proc, took = _failover(n2)
        assert "WARNING" in proc.stderr and n3.name in proc.stderr
        assert took < 40, took
        _assert_master(nc, n2, nodes=[n1, n2])
    finally:
        nc.uncut(3)
    # node3 missed the change while cut off; it catches up from etcd by itself
    # (no redist-conf)
    start = time.time()
    while _ssconf_master(n3) != n2.name or _serial(n3) != _serial(n2):
        assert time.time() - start < 30, "node3 did not catch up"
        time.sleep(0.2)
    print("node3 caught up %.1f s after coming back" % (time.time() - start))
    _assert_master(nc, n2)


def test_old_master_cut_off(nc):
    n1, n2, n3 = nc.nodes
    nc.cut(2)
    try:
        proc, _ = _failover(n1)
        assert "the old master is not reachable; make sure its master daemon is" \
            " stopped" in proc.stderr
        assert _getmaster(n1) == _getmaster(n3) == n1.name
        assert n1.pid("ganeti-masterd") and _master_ip_cidr(n1)
    finally:
        nc.uncut(2)
    # node2's own copy still names it the master; once stopped, its master
    # daemon does not start again: etcd, not the copy, names the master
    _stop_stale_master(n2)
    proc = n2.run(os.path.join(netns_cluster.SRC, "daemons", "ganeti-masterd"))
    assert proc.returncode != 0, proc.stderr
    assert ("This node (%s) is not the master (%s)" % (n2.name, n1.name)) in proc.stderr
    assert not n2.pid("ganeti-masterd")
    n1.run("gnt-cluster", "redist-conf", check=True)
    _assert_master(nc, n1)


def test_no_majority(nc):
    n1, n2, n3 = nc.nodes
    nc.cut(1)
    nc.cut(3)
    try:
        proc, _ = _failover(n2, expect=1)
        assert "Cannot obtain a majority" in proc.stderr
        assert "use --no-voting" in proc.stderr
        assert _ssconf_master(n2) == n1.name and not n2.pid("ganeti-masterd")
        assert not _master_ip_cidr(n2)
        proc, _ = _failover(n2, "--no-voting", "--yes-do-it")
        assert "not reachable" in proc.stderr
        assert _getmaster(n2) == n2.name
        assert n2.pid("ganeti-masterd") and _master_ip_cidr(n2)
        n2.run("gnt-cluster", "master-ping", check=True)
    finally:
        nc.uncut(1)
        nc.uncut(3)
    _stop_stale_master(n1)
    n2.run("gnt-cluster", "redist-conf", check=True)
    _assert_master(nc, n2)


def _wait_reaches(node, others, timeout=30):
    """Wait until ``node`` reaches the node daemons of ``others`` (right after a
    link comes back up, connections fail with "no route to host" for a moment)."""
    probe = ("import socket, sys\n"
             "for ip in sys.argv[1:]:\n"
             "    socket.create_connection((ip, 1811), timeout=1).close()\n")
    deadline = time.time() + timeout
    while node.run(netns_cluster.PYTHON, "-c", probe, *[o.ip for o in others]).returncode:
        assert time.time() < deadline, "%s does not reach the others" % node.name
        time.sleep(0.2)


def _serial(node):
    with open(node.path("/var/lib/ganeti/config.data")) as fd:
        return __import__("json").load(fd)["serial_no"]


def test_failover_to_a_node_that_was_cut_off_loses_nothing(nc):
    """The reproducer of issue 8: a change made while a candidate was cut off
    survives a failover to that candidate (its own copy is old, etcd is not)."""
    n1, n2, n3 = nc.nodes
    master = n2                       # after test_no_majority
    _assert_master(nc, master)
    nc.cut(3)
    try:
        master.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
                   "--no-name-check", "--no-ip-check", "-n", n1.name,
                   "whilecut.example.com", check=True)
        serial = _serial(master)
        assert _serial(n3) < serial   # node3's copy missed the change
    finally:
        nc.uncut(3)
    _wait_reaches(n3, [n1, n2])   # as an admin would: once node3 is back for real
    proc, _ = _failover(n3)
    _assert_master(nc, n3, nodes=[n3])
    out = n3.run("gnt-instance", "list", "--no-headers", "-o", "name", check=True).stdout
    assert "whilecut.example.com" in out.split()
    # the serial went on from the master's (the failover is a change), never back
    assert _serial(n3) == serial + 1
    _stop_stale_master(master)
    n3.run("gnt-cluster", "redist-conf", check=True)
    _assert_master(nc, n3)
