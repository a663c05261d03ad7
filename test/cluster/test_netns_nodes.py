"""Joining nodes over ssh on the network-namespace cluster, and nodes cut off."""

import os
import shutil
import time

import pytest

import netns_cluster


@pytest.fixture(scope="module")
def nc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    cluster = netns_cluster.NetnsCluster(3, prefix="gntj")
    try:
        cluster.init()
        # the master logs in to the other nodes with the cluster key (root's key)
        key = cluster.master.path("/root/.ssh/id_ed25519")
        os.makedirs(os.path.dirname(key), exist_ok=True)
        shutil.copy(cluster.ssh_key, key)
        shutil.copy(cluster.ssh_key + ".pub", key + ".pub")
        os.chmod(key, 0o600)
        yield cluster
    finally:
        cluster.cleanup()


def _nodes(m):
    out = m.run("gnt-node", "list", "--no-headers", "--separator=|", "-o",
                "name,role,mfree", check=True).stdout
    return dict((r.split("|")[0], r.split("|")[1:]) for r in out.splitlines())


def test_node_add_over_ssh(nc):
    m, n2, n3 = nc.nodes
    proc = m.run("gnt-node", "add", n2.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Setting up node %s over ssh" % n2.name in proc.stdout
    assert n2.pid("ganeti-noded")
    assert _nodes(m)[n2.name][0] == "C"
    # the node's host key was learnt into the cluster's known_hosts
    with open(m.path("/var/lib/ganeti/known_hosts")) as fd:
        assert n2.name in fd.read()
    # the node made its own ssh key pair, authorized on the master (it may become master)
    with open(n2.path("/root/.ssh/id_rsa.pub")) as a, \
            open(m.path("/root/.ssh/authorized_keys")) as b:
        assert a.read().strip() in b.read()
    again = m.run("gnt-node", "add", n2.name)
    assert again.returncode == 1 and "already in the cluster" in again.stderr
    # single-homed cluster: -s is refused, and nothing changes
    bad = m.run("gnt-node", "add", "-s", "10.79.1.13", n3.name)
    assert bad.returncode != 0 and n3.name not in _nodes(m)
    # an unreachable node: a clear error, the cluster unchanged
    nc.cut(3)
    try:
        start = time.time()
        down = m.run("gnt-node", "add", n3.name, timeout=90)
        assert down.returncode == 12, down.stderr
        assert "could not set up node" in down.stderr
        assert time.time() - start < 60
        assert n3.name not in _nodes(m)
    finally:
        nc.uncut(3)
    m.run("gnt-node", "add", n3.name, check=True)
    assert sorted(_nodes(m)) == sorted(n.name for n in nc.nodes)
    assert m.run("gnt-cluster", "verify").returncode == 0


def test_force_join_takes_a_node_of_another_cluster(nc):
    """node3 leaves, becomes the master of a cluster of its own, and is refused;
    --force-join (-v) takes it: it leaves that cluster first."""
    m, n2, n3 = nc.nodes
    m.run("gnt-node", "remove", n3.name, check=True)
    with open(os.path.join(netns_cluster.NETNS_ETC, n3.netns, "hosts"), "a") as fd:
        fd.write("%s200 other.example.com\n" % netns_cluster.NET)
    n3.run("gnt-cluster", "init", "--enabled-hypervisors=fake", "--no-lvm-storage",
           "--enabled-disk-templates=diskless", "--master-netdev=eth0",
           "--nic-parameters=link=gntbr0", "other.example.com", check=True)
    assert n3.pid("ganeti-masterd") and n3.pid("ganeti-etcd")
    refused = m.run("gnt-node", "add", n3.name)
    assert refused.returncode == 12, refused.stderr
    assert "belongs to cluster other.example.com" in refused.stderr
    assert "--force-join" in refused.stderr and n3.name not in _nodes(m)
    proc = m.run("gnt-node", "add", "--force-join", "-v",
                 "--hypervisor-state=fake:mem_total=2048", n3.name, check=True)
    said = [line.split(": ", 1)[1] for line in proc.stderr.splitlines()
            if line.startswith(n3.name + ": ")]
    assert said[0] == "leaving cluster other.example.com (--force-join)", proc.stderr
    assert said[-1] == "started the node daemon", proc.stderr
    assert not n3.pid("ganeti-masterd")
    assert n3.run("gnt-cluster", "getmaster").stdout.strip() == m.name
    assert _nodes(m)[n3.name][0] in ("C", "R")
    verify = m.run("gnt-cluster", "verify", timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # the static states: stored, merged by modify (which prints nothing), checked
    proc = m.run("gnt-node", "modify", "--disk-state=plain/xenvg:disk_total=100",
                 "--hypervisor-state=fake:cpu_total=4", n3.name, check=True)
    assert proc.stdout == ""
    states = m.run("gnt-node", "list", "--no-headers", "--separator=|", "-o",
                   "hv_state,disk_state", n3.name, check=True).stdout.strip()
    assert states == ("{'fake': {'cpu_node': 1, 'cpu_total': 4, 'mem_hv': 0,"
                      " 'mem_node': 0, 'mem_total': 2048}}|{'plain': {'xenvg':"
                      " {'disk_overhead': 0, 'disk_reserved': 0, 'disk_total': 100}}}"), states
    bad = m.run("gnt-node", "modify", "--hypervisor-state=xen:mem_total=1", n3.name)
    assert bad.returncode == 1 and "Invalid hypervisor(s) in hypervisor state: xen" \
        in bad.stderr, bad.stderr
    bad = m.run("gnt-node", "modify", "--disk-state=plain/xenvg:disk_total=lots", n3.name)
    assert bad.returncode == 1, bad.stderr
    assert m.run("gnt-node", "list", "--no-headers", "--separator=|", "-o",
                 "hv_state,disk_state", n3.name, check=True).stdout.strip() == states


def test_cut_off_node_is_reported_without_hanging(nc):
    m, n2, n3 = nc.nodes
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
          "--no-name-check", "--no-ip-check", "-n", n3.name, "cut.example.com", check=True)
    nc.cut(3)
    try:
        start = time.time()
        verify = m.run("gnt-cluster", "verify", timeout=120)
        took = time.time() - start
        assert verify.returncode == 1
        assert "ERROR: node %s" % n3.name in verify.stdout
        assert took < 60, took
        start = time.time()
        out = m.run("gnt-instance", "list", "--no-headers", "-o", "name,status",
                    check=True).stdout
        assert "cut.example.com ERROR_nodedown" in " ".join(out.split()), out
        assert _nodes(m)[n3.name][1] == "?"
        assert time.time() - start < 30
    finally:
        nc.uncut(3)
    # back on the link, the node answers again within seconds (the link and
    # its neighbour entries need a moment on a busy machine)
    deadline = time.time() + 20
    while True:
        out = m.run("gnt-instance", "list", "--no-headers", "-o", "name,status",
                    check=True).stdout
        if "cut.example.com running" in " ".join(out.split()) or time.time() > deadline:
            break
        time.sleep(1)
    assert "cut.example.com running" in " ".join(out.split()), out
    m.run("gnt-instance", "remove", "-f", "cut.example.com", check=True)
