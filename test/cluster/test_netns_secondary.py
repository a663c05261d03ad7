"""A cluster with a separate replication network: -s is required, and checked."""

import subprocess

import pytest

import netns_cluster


def _sip(k):
    return "10.79.1.%d" % (10 + k)


@pytest.fixture(scope="module")
def nc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    cluster = netns_cluster.NetnsCluster(3, prefix="gnts")
    try:
        for k, node in enumerate(cluster.nodes, 1):
            subprocess.run(["ip", "-n", node.netns, "addr", "add", _sip(k) + "/24",
                            "dev", "eth0"], check=True)
        cluster.init("-s", _sip(1))
        yield cluster
    finally:
        cluster.cleanup()


def _sips(m):
    out = m.run("gnt-node", "list", "--no-headers", "--separator=|", "-o",
                "name,sip,offline", check=True).stdout
    return dict((r.split("|")[0], r.split("|")[1:]) for r in out.splitlines())


def test_secondary_ip_required_and_checked(nc):
    m, n2, n3 = nc.nodes
    missing = m.run("gnt-node", "add", n2.name)
    assert missing.returncode == 1 and "secondary IP with -s" in missing.stderr
    wrong = m.run("gnt-node", "add", "-s", "10.79.1.99", n2.name)
    assert wrong.returncode == 1
    assert "does not have the secondary IP 10.79.1.99" in wrong.stderr
    assert sorted(_sips(m)) == [m.name]
    m.run("gnt-node", "add", "-s", _sip(2), n2.name, check=True)
    m.run("gnt-node", "add", "-s", _sip(3), n3.name, check=True)
    sips = _sips(m)
    assert sips[m.name][0] == _sip(1) and sips[n2.name][0] == _sip(2)
    assert sips[n3.name][0] == _sip(3)
    # --readd brings an offline node back
    m.run("gnt-node", "modify", "-O", "yes", n3.name, check=True)
    assert _sips(m)[n3.name][1] == "Y"
    m.run("gnt-node", "add", "--readd", "-s", _sip(3), n3.name, check=True)
    assert _sips(m)[n3.name][1] == "N"
    assert m.run("gnt-cluster", "verify").returncode == 0
