"""gnt-node remove leaves nothing behind: the removed node keeps no cluster file,
no key that works, and no running node daemon (network-namespace cluster)."""

import os
import shutil
import subprocess
import time

import pytest

import netns_cluster

# what a node holds while in the cluster, below its root
CLUSTER_FILES = ["/var/lib/ganeti/" + name for name in (
    "server.pem", "rapi.pem", "hmac.key", "cluster-domain-secret", "config.data",
    "known_hosts", "ganeti_pub_keys", "ssconf_master_node", "ssconf_node_list",
    "ssconf_cluster_name")]


@pytest.fixture(scope="module")
def nc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    cluster = netns_cluster.NetnsCluster(3, prefix="gntr")
    try:
        # fresh machines: nodes 2 and 3 only authorize the admin's key (the
        # master's root key); they hold no private key of the cluster
        for n in cluster.nodes[1:]:
            for suffix in ("", ".pub"):
                os.unlink(n.path("/root/.ssh/id_ed25519" + suffix))
        cluster.init()
        m = cluster.master
        for n in cluster.nodes[1:]:
            proc = m.run("gnt-node", "add", n.name)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        yield cluster
    finally:
        cluster.cleanup()


def _read(path):
    with open(path) as fd:
        return fd.read()


def _node_key(node):
    """(private key path, public key) the cluster made for ``node``."""
    pub = _read(node.path("/root/.ssh/id_rsa.pub")).strip()
    assert pub.endswith("ganeti-node-key:" + node.name), pub
    return node.path("/root/.ssh/id_rsa"), pub


def _ssh_with_key(nc, k_from, k_to, key):
    """Log in from node k_from to node k_to as root with only ``key``; exit code."""
    argv = nc.node(k_from).ns_argv([
        "ssh", "-F", "/dev/null", "-i", key, "-oIdentitiesOnly=yes", "-oBatchMode=yes",
        "-oConnectTimeout=5", "-oStrictHostKeyChecking=no",
        "-oUserKnownHostsFile=/dev/null", "-oLogLevel=ERROR",
        "root@" + nc.node(k_to).ip, "true"])
    env = dict(os.environ)
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=30).returncode


def _port_open(nc, k_from, k_to, port=1811):
    script = ("import socket,sys\ns=socket.socket()\ns.settimeout(3)\n"
              "sys.exit(0 if s.connect_ex((%r,%d))==0 else 1)" % (nc.node(k_to).ip, port))
    argv = nc.node(k_from).ns_argv([netns_cluster.PYTHON, "-c", script])
    return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0


def _wait(cond, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_joined_node_has_its_own_authorized_key(nc):
    m, n2, n3 = nc.nodes
    key2, pub2 = _node_key(n2)
    _, pub3 = _node_key(n3)
    assert pub2 != pub3
    # the master's private key never went to the nodes
    assert not os.path.exists(n2.path("/root/.ssh/id_ed25519"))
    for n in nc.nodes:
        auth = _read(n.path("/root/.ssh/authorized_keys"))
        assert pub2 in auth and pub3 in auth, n.name
    assert n2.name in _read(m.path("/var/lib/ganeti/ganeti_pub_keys"))
    assert _ssh_with_key(nc, 2, 1, key2) == 0
    assert _ssh_with_key(nc, 2, 3, key2) == 0


def test_offline_node_is_shut_out_until_back(nc):
    m, n2, n3 = nc.nodes
    key3, pub3 = _node_key(n3)
    m.run("gnt-node", "modify", "-O", "yes", n3.name, check=True)
    assert _ssh_with_key(nc, 3, 1, key3) != 0
    assert _ssh_with_key(nc, 3, 2, key3) != 0
    m.run("gnt-node", "modify", "-O", "no", n3.name, check=True)
    assert _ssh_with_key(nc, 3, 1, key3) == 0
    assert pub3 in _read(n2.path("/root/.ssh/authorized_keys"))


def test_removed_node_keeps_nothing(nc, tmp_path):
    m, n2, n3 = nc.nodes
    key2, pub2 = _node_key(n2)
    _, pub3 = _node_key(n3)
    # an attacker's copy of node2's key, taken while it was in the cluster
    stolen = str(tmp_path / "stolen_id_rsa")
    shutil.copy(key2, stolen)
    os.chmod(stolen, 0o600)
    assert _ssh_with_key(nc, 2, 1, stolen) == 0
    noded_pid = n2.pid("ganeti-noded")
    assert noded_pid and _port_open(nc, 1, 2)

    proc = m.run("gnt-node", "remove", n2.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stdout + proc.stderr

    # node2 cannot log in to the others as root, not even with a copy of its key
    assert _ssh_with_key(nc, 2, 1, stolen) != 0
    assert _ssh_with_key(nc, 2, 3, stolen) != 0
    # its node daemon is stopped, its cluster files and keys are gone
    assert _wait(lambda: not n2.pid("ganeti-noded")), "noded still runs on node2"
    assert not _port_open(nc, 1, 2)
    left = [p for p in CLUSTER_FILES if os.path.exists(n2.path(p))]
    assert left == []
    assert [f for f in os.listdir(n2.path("/var/lib/ganeti/queue"))] == []
    assert not os.path.exists(key2) and not os.path.exists(key2 + ".pub")
    auth2 = _read(n2.path("/root/.ssh/authorized_keys"))
    assert pub3 not in auth2 and pub2 not in auth2
    # the others forgot node2: key, host key, public key list, node lists
    for n in (m, n3):
        assert pub2 not in _read(n.path("/root/.ssh/authorized_keys")), n.name
        assert pub3 in _read(n.path("/root/.ssh/authorized_keys")), n.name
        assert n2.name not in _read(n.path("/var/lib/ganeti/known_hosts")), n.name
        assert n2.name not in _read(n.path("/var/lib/ganeti/ganeti_pub_keys")), n.name
        assert n2.name not in _read(n.path("/var/lib/ganeti/ssconf_node_list")), n.name
    names = m.run("gnt-node", "list", "--no-headers", "-o", "name", check=True).stdout
    assert names.split() == [m.name, n3.name]
    # the cluster still works over ssh: the master reaches node3
    assert m.run("gnt-cluster", "command", "-n", n3.name, "true").returncode == 0
    assert m.run("gnt-cluster", "verify").returncode == 0


def test_unreachable_node_is_removed_with_a_warning(nc):
    m, n2, n3 = nc.nodes
    m.run("gnt-node", "add", n2.name, check=True)
    key2, pub2 = _node_key(n2)
    assert pub2 in _read(n3.path("/root/.ssh/authorized_keys"))
    nc.cut(2)
    try:
        start = time.time()
        proc = m.run("gnt-node", "remove", n2.name, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert ("Errors encountered on the remote node while leaving the cluster"
                in proc.stdout + proc.stderr)
        assert time.time() - start < 90
        names = m.run("gnt-node", "list", "--no-headers", "-o", "name",
                      check=True).stdout
        assert n2.name not in names.split()
        for n in (m, n3):
            assert pub2 not in _read(n.path("/root/.ssh/authorized_keys")), n.name
    finally:
        nc.uncut(2)
    assert _ssh_with_key(nc, 2, 1, key2) != 0
    assert _ssh_with_key(nc, 2, 3, key2) != 0
