"""Cluster settings and verify on a real two-node virtual cluster: certificates and
leftover files reported, the watcher pause on every node, /etc/hosts kept, our
own version."""

import os

import pytest

import vcluster


@pytest.fixture(scope="module")
def cluster2():
    vc = vcluster.VirtualCluster(2)
    try:
        vc.init()
        vc.add_node(vc.nodes[1])
        yield vc
    finally:
        vc.cleanup()


def test_verify_clean_then_reports_leftover_files(cluster2):
    m, n2 = cluster2.nodes
    clean = m.run("gnt-cluster", "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "* Verifying cluster certificate files" in clean.stdout
    assert "* Verifying group 'default'" in clean.stdout
    assert not [line for line in clean.stdout.splitlines() if " - ERROR" in line
                or " - WARNING" in line], clean.stdout
    # what a job killed half-way leaves: a directory and a disk link, on node2
    ghost = n2.path("/srv/ganeti/file-storage/ghost.example.com")
    os.makedirs(ghost)
    open(os.path.join(ghost, "disk0-12345678.file"), "w").close()
    links = n2.path("/var/run/ganeti/instance-disks")
    os.makedirs(links, exist_ok=True)
    os.symlink(os.path.join(ghost, "disk0-12345678.file"),
               os.path.join(links, "ghost.example.com:0"))
    try:
        proc = m.run("gnt-cluster", "verify", "--error-codes")
        assert proc.returncode == 0, proc.stdout        # warnings only
        text = proc.stdout
        assert ("WARNING:ENODEORPHANLV:node:%s:directory /srv/ganeti/file-storage/"
                "ghost.example.com is unknown" % n2.name) in text
        assert ("WARNING:ENODEORPHANLV:node:%s:file /var/run/ganeti/instance-disks/"
                "ghost.example.com:0 is unknown" % n2.name) in text
        assert "ENODEORPHANLV:node:%s" % m.name not in text
    finally:
        os.unlink(os.path.join(links, "ghost.example.com:0"))
        os.unlink(os.path.join(ghost, "disk0-12345678.file"))
        os.rmdir(ghost)


def test_verify_options(cluster2):
    m = cluster2.master
    proc = m.run("gnt-cluster", "verify", "--node-group", "default")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "* Verifying cluster config" not in proc.stdout
    proc = m.run("gnt-cluster", "verify", "--node-group", "nosuchgroup")
    assert proc.returncode != 0
    assert "Node group 'nosuchgroup' not found" in proc.stderr
    proc = m.run("gnt-cluster", "verify", "--debug-simulate-errors")
    assert proc.returncode == 1
    assert "ERROR: cluster: While verifying" not in proc.stdout      # cert is fine
    assert " - ERROR: node %s: incompatible protocol versions" % m.name in proc.stdout


def test_watcher_pause_reaches_every_node(cluster2):
    m, n2 = cluster2.nodes
    proc = m.run("gnt-cluster", "watcher", "pause", "1h", check=True)
    assert proc.stdout.startswith("The watcher is paused until ")
    for node in (m, n2):
        assert os.path.exists(node.path("/var/lib/ganeti/watcher.pause")), node.name
    m.run("gnt-cluster", "watcher", "continue", check=True)
    for node in (m, n2):
        assert not os.path.exists(node.path("/var/lib/ganeti/watcher.pause")), node.name


def test_etc_hosts_kept_on_every_node(cluster2):
    m, n2 = cluster2.nodes
    for node in (m, n2):
        with open(node.path("/etc/hosts")) as fd:
            text = fd.read()
        for other in (m, n2):
            assert "%s\t%s %s\n" % (other.ip, other.name, other.name.split(".")[0]) \
                in text, (node.name, text)


def test_version_is_ours(cluster2):
    from ganeti import constants
    out = cluster2.master.run("gnt-cluster", "version", check=True).stdout
    assert out.splitlines()[0] == "Software version: %s" % constants.PACKAGE_VERSION
    assert "2.16.2" not in out


def test_maintain_node_health_on_an_offline_node(cluster2):
    import json
    m, n2 = cluster2.nodes
    state_dir = n2.path("/var/run/ganeti/fake-hypervisor")
    os.makedirs(state_dir, exist_ok=True)
    stray = os.path.join(state_dir, "stray.example.com")
    with open(stray, "w") as fd:
        json.dump({"name": "stray.example.com", "memory": 64, "vcpus": 1,
                   "start_time": 0, "state": "running"}, fd)
    watcher = os.path.join(vcluster.SRC, "daemons", "ganeti-watcher")
    m.run("gnt-cluster", "modify", "--maintain-node-health", "yes", check=True)
    try:
        # online: the watcher leaves it alone (verify reports it instead)
        n2.run(watcher)
        assert os.path.exists(stray)
        m.run("gnt-node", "modify", "-O", "yes", n2.name, check=True)
        proc = n2.run(watcher, "-d")
        assert not os.path.exists(stray), proc.stderr   # offline nodes run no instances
    finally:
        m.run("gnt-node", "modify", "-O", "no", n2.name)
        m.run("gnt-cluster", "modify", "--maintain-node-health", "no")
        if os.path.exists(stray):
            os.unlink(stray)


def test_external_master_ip_script(cluster2):
    m = cluster2.master
    script = m.path("/etc/ganeti/scripts/master-ip-setup")
    log = m.path("/tmp/mip.log")
    refused = m.run("gnt-cluster", "modify", "--use-external-mip-script", "yes")
    assert refused.returncode != 0
    assert "does not exist or is not executable" in refused.stderr
    os.makedirs(os.path.dirname(script), exist_ok=True)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(script, "w") as fd:
        fd.write("#!/bin/sh\necho \"$1 $MASTER_IP/$MASTER_NETMASK $MASTER_NETDEV\""
                 " >> %s\n" % log)
    os.chmod(script, 0o755)
    try:
        m.run("gnt-cluster", "modify", "--use-external-mip-script", "yes", check=True)
        m.run("gnt-cluster", "modify", "--master-netmask", "31", check=True)
        with open(log) as fd:
            assert fd.read() == ("stop %s/32 lo\nstart %s/31 lo\n"
                                 % (vcluster.CLUSTER_IP, vcluster.CLUSTER_IP))
    finally:
        m.run("gnt-cluster", "modify", "--use-external-mip-script", "no")
        m.run("gnt-cluster", "modify", "--master-netmask", "32")


def test_instance_policy_allocator_params_and_compression_tools(cluster2):
    """gnt-cluster modify's policy options take effect (show-ispecs-cmd shows
    them, instance creation is held to them); allocator parameters and
    compression tools are stored and checked with Ganeti's rules."""
    m = cluster2.master
    std = "cpu-count=1,disk-count=1,disk-size=64,memory-size=128,nic-count=1,spindle-use=1"
    low = "cpu-count=1,disk-count=0,disk-size=32,memory-size=64,nic-count=0,spindle-use=0"
    high = ("cpu-count=4,disk-count=4,disk-size=1024,memory-size=512,nic-count=2,"
            "spindle-use=4")
    m.run("gnt-cluster", "modify", "--ipolicy-std-specs", "disk-size=64M",
          "--ipolicy-bounds-specs", "min:%s/max:%s" % (low, high), check=True)
    out = m.run("gnt-cluster", "show-ispecs-cmd", check=True).stdout
    assert out == "gnt-cluster init --ipolicy-std-specs %s --ipolicy-bounds-specs" \
        " min:%s/max:%s %s\n" % (std, low, high, vcluster.CLUSTER_NAME)
    proc = m.run("gnt-instance", "add", "-t", "diskless", "-n", m.name, "-o", "noop",
                 "--no-name-check", "--no-ip-check", "--no-nics", "-B", "maxmem=1024",
                 "big.example.com")
    assert proc.returncode == 1 and "violates policy" in proc.stderr, proc.stderr
    # a standard spec outside the ranges: refused, nothing changes
    proc = m.run("gnt-cluster", "modify", "--ipolicy-std-specs", "memory-size=4096")
    assert proc.returncode == 1 and "Invalid instance policy" in proc.stderr, proc.stderr
    assert m.run("gnt-cluster", "show-ispecs-cmd", check=True).stdout == out
    m.run("gnt-cluster", "modify", "--default-iallocator-params",
          "restricted-migration=true", "--compression-tools", "gzip,lzop", check=True)
    info = m.run("gnt-cluster", "info", check=True).stdout
    assert "  default instance allocator parameters: \n    restricted-migration: true\n" \
        in info, info
    assert "  compression tools: \n    - gzip\n    - lzop\n" in info, info
    for tools, message in (("lzop", "the gzip utility must be present"),
                           ("gzip,none", "none is a reserved value"),
                           ("gzip,a;b", "contain illegal characters")):
        proc = m.run("gnt-cluster", "modify", "--compression-tools", tools)
        assert proc.returncode == 1 and message in proc.stderr, (tools, proc.stderr)
    import ipolicy_testbed
    ipolicy_testbed.widen_ipolicy(m)
