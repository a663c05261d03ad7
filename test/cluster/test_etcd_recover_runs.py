"""A two-node cluster whose master dies: the other node is an etcd learner,
etcd has no quorum, and ``gnt-cluster master-failover --no-voting`` makes the
survivor's member the only one (ganeti.etcd.recover), with nothing lost."""

import json
import os
import signal

import pytest

import vcluster
from test_etcd_members_runs import _members


@pytest.fixture(scope="module")
def cluster2():
    vc = vcluster.VirtualCluster(2)
    try:
        vc.init()
        yield vc
    finally:
        vc.cleanup()


def _kill_node(node):
    """The node dies: all its daemons and etcd, at once."""
    for daemon in ("ganeti-rapi", "ganeti-masterd", "ganeti-noded", "ganeti-etcd"):
        node.kill_daemon(daemon, signal.SIGKILL)
    with open(node.path("/var/run/ganeti/ganeti-etcd-server.pid")) as fd:
        os.kill(int(fd.read()), signal.SIGKILL)


def test_no_voting_failover_from_a_learner_keeps_every_change(cluster2):
    vc = cluster2
    m, n2 = vc.nodes
    vc.join(n2)
    m.run("gnt-node", "add", "--no-node-setup", n2.name, check=True)
    assert _members(vc) == {m.name: "voter", n2.name: "learner"}
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
          "--no-name-check", "--no-ip-check", "-n", n2.name, "survivor.example.com",
          check=True)
    _kill_node(m)
    # without --no-voting: refused, with the way out named
    proc = n2.run("gnt-cluster", "master-failover", timeout=120)
    assert proc.returncode == 1
    assert "--no-voting" in proc.stderr
    proc = n2.run("gnt-cluster", "master-failover", "--no-voting", "--yes-do-it",
                  timeout=180)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "making this node's etcd member the only one" in proc.stderr
    assert os.path.isdir(n2.path("/var/lib/ganeti/etcd.before-no-voting"))
    assert n2.run("gnt-cluster", "getmaster", check=True).stdout.strip() == n2.name
    out = n2.run("gnt-instance", "list", "--no-headers", "-o", "name", check=True).stdout
    assert out.split() == ["survivor.example.com"]
    # etcd is n2's alone now, and takes changes again
    assert _members(vc, node=n2) == {n2.name: "voter"}
    n2.run("gnt-instance", "remove", "-f", "survivor.example.com", check=True)
    with open(n2.path("/var/lib/ganeti/config.data")) as fd:
        assert json.load(fd)["cluster"]["master_node"] == n2.name
