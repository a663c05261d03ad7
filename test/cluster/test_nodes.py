"""More nodes on the loopback virtual cluster: add (without ssh), roles, replication,
remove. The ssh path of gnt-node add is tested on the namespace cluster."""

import os
import time

import pytest

import vcluster


@pytest.fixture(scope="module")
def cluster3():
    vc = vcluster.VirtualCluster(3)
    try:
        vc.init()
        yield vc
    finally:
        vc.cleanup()


def _read(path):
    try:
        with open(path) as fd:
            return fd.read()
    except FileNotFoundError:
        return None


def _wait_for(predicate, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _nodes(m, fields="name,role,master_candidate,offline"):
    out = m.run("gnt-node", "list", "--no-headers", "--separator=|", "-o", fields,
                check=True).stdout
    return dict((r.split("|")[0], r.split("|")[1:]) for r in out.splitlines())


def test_add_nodes_and_replication(cluster3):
    vc = cluster3
    m, n2, n3 = vc.nodes
    refused = m.run("gnt-node", "add", "--no-node-setup", n2.name)
    assert refused.returncode == 1 and "Cannot reach the node daemon" in refused.stderr
    for node in (n2, n3):
        vc.join(node)
        m.run("gnt-node", "add", "--no-node-setup", node.name, check=True)
    nodes = _nodes(m)
    assert nodes[m.name][0] == "M" and nodes[n2.name][0] == "C" and nodes[n3.name][0] == "C"
    again = m.run("gnt-node", "add", "--no-node-setup", n2.name)
    assert again.returncode == 1 and "already in the cluster" in again.stderr
    # each node's daemon writes its copies from etcd: config on the candidates,
    # ssconf everywhere
    with open(m.path("/var/lib/ganeti/config.data")) as fd:
        master_cfg = fd.read()
    for node in (n2, n3):
        assert _wait_for(lambda: _read(node.path("/var/lib/ganeti/config.data"))
                         == master_cfg), node.name
        with open(node.path("/var/lib/ganeti/ssconf_node_list")) as fd:
            assert fd.read().split() == sorted(n.name for n in vc.nodes)
    out = m.run("gnt-debug", "delay", "--submit", "0", check=True).stderr
    job_id = out.split()[-1]
    m.run("gnt-job", "watch", job_id, check=True)
    assert m.run("gnt-cluster", "verify").returncode == 0
    # delay on all three nodes over RPC
    m.run("gnt-debug", "delay", "--no-master", "-n", n2.name, "-n", n3.name, "0.1",
          check=True)


def test_roles_offline_online_and_remove(cluster3):
    vc = cluster3
    m, n2, n3 = vc.nodes
    out = m.run("gnt-node", "modify", "-C", "no", n3.name).stdout
    nodes = _nodes(m)
    assert nodes[n3.name][1] == "N" and "master_candidate -> False" in out
    assert not os.path.exists(n3.path("/var/lib/ganeti/config.data"))
    m.run("gnt-node", "modify", "-C", "yes", n3.name, check=True)
    assert os.path.exists(n3.path("/var/lib/ganeti/config.data"))
    refused = m.run("gnt-node", "modify", "-O", "yes", m.name)
    assert refused.returncode == 1 and \
        "The master role can be changed only via master-failover" in refused.stderr
    m.run("gnt-node", "modify", "-O", "yes", n2.name, check=True)
    nodes = _nodes(m)
    assert nodes[n2.name][0] == "O" and nodes[n2.name][2] == "Y"
    # an offline node is not contacted: live fields show '*'
    out = m.run("gnt-node", "list", "--no-headers", "-o", "name,mfree", check=True).stdout
    assert any(line.split() == [n2.name, "*"] for line in out.splitlines()), out
    m.run("gnt-node", "modify", "-O", "no", n2.name, check=True)
    assert _nodes(m)[n2.name][0] in ("C", "R")
    inst = m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
                 "--no-name-check", "--no-ip-check", "-n", n3.name, "onn3.example.com")
    assert inst.returncode == 0, inst.stderr
    assert [n3.name, "1"] in [l.split() for l in m.run(
        "gnt-node", "list", "--no-headers", "-o", "name,pinst_cnt").stdout.splitlines()]
    busy = m.run("gnt-node", "remove", n3.name)
    assert busy.returncode == 1 and "onn3.example.com" in busy.stderr
    m.run("gnt-instance", "remove", "-f", "onn3.example.com", check=True)
    m.run("gnt-node", "remove", n3.name, check=True)
    assert n3.name not in _nodes(m)
    # the removed node forgot the cluster and its node daemon stopped
    assert not os.path.exists(n3.path("/var/lib/ganeti/server.pem"))
    deadline = time.time() + 10
    while n3.pid("ganeti-noded"):       # it exits right after answering
        assert time.time() < deadline, "node daemon of a removed node still runs"
        time.sleep(0.1)
    refused = m.run("gnt-node", "remove", m.name)
    assert refused.returncode == 1 and "master" in refused.stderr
