"""gnt-cluster modify, rename (loopback cluster); command and copyfile (namespaces)."""

import os
import shutil
import subprocess

import pytest

import netns_cluster
import vcluster

NEW_NAME = "gnt-test-cluster2." + vcluster.DOMAIN
NEW_IP = vcluster.NET + "253"


def _ensure_second_name():
    """Add NEW_NAME to /etc/hosts (marked like vcluster.ensure_hosts) if missing."""
    with open("/etc/hosts") as fd:
        current = fd.read()
    names = set()
    for line in current.splitlines():
        names.update(line.split("#")[0].split()[1:])
    if NEW_NAME not in names:
        with open("/etc/hosts", "a") as fd:
            if not current.endswith("\n"):
                fd.write("\n")
            fd.write("%s\n%s %s\n" % (vcluster.HOSTS_MARK, NEW_IP, NEW_NAME))


def _lo_addresses():
    return subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True,
                          text=True).stdout


def _info(node):
    return node.run("gnt-cluster", "info", check=True).stdout


def _ssconf(node, key):
    with open(node.path("/var/lib/ganeti/ssconf_%s" % key)) as fd:
        return fd.read().strip()


@pytest.fixture
def one_node():
    vc = vcluster.VirtualCluster(1)
    try:
        _ensure_second_name()
        vc.init()
        yield vc
    finally:
        subprocess.run(["ip", "addr", "del", NEW_IP + "/32", "dev", "lo"],
                       capture_output=True)
        vc.cleanup()


def test_modify_and_rename(one_node):
    m = one_node.master
    m.run("gnt-cluster", "modify", "-C", "7", "-m", "aa:00:42", "--maintain-node-health",
          "yes", "--prealloc-wipe-disks", "no", "--max-running-jobs", "12",
          "--reserved-lvs", "xenvg/keep.*", "-H", "fake:migration_mode=non-live",
          "-B", "vcpus=2", "-N", "link=gntbr1", "--node-parameters", "spindle_count=4",
          "--master-netmask", "31", check=True)
    info = _info(m)
    for text in ("candidate pool size: 7", "mac prefix: aa:00:42",
                 "maintenance of node health: True", "preallocation wipe disks: False",
                 "maximal number of jobs running simultaneously: 12",
                 "lvm reserved volumes: xenvg/keep.*", "migration_mode: non-live",
                 "vcpus: 2", "link: gntbr1", "spindle_count: 4", "master netmask: 31"):
        assert text in info, text
    assert _ssconf(m, "master_netmask") == "31"
    # bad values: clear errors, nothing changed
    before = _info(m)
    for args, text in ((["--enabled-hypervisors", "nosuch"], "Unknown hypervisor"),
                       (["-H", "fake:nosuch=1"], "nosuch"),
                       (["-B", "vcpus=many"], "integer"),
                       (["-m", "zz:00"], "mac_prefix"),
                       (["--enabled-disk-templates", "plain"], "volume group"),
                       (["--prealloc-wipe-disks", "yes"], "not supported yet")):
        proc = m.run("gnt-cluster", "modify", *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert text in proc.stderr, (args, proc.stderr)
    after = _info(m)
    strip = lambda text: [l for l in text.splitlines() if "time" not in l]  # noqa: E731
    assert strip(after) == strip(before)
    # --submit prints the job id
    proc = m.run("gnt-cluster", "modify", "--submit", "-C", "8", check=True)
    assert proc.stderr.startswith("JobID: ")
    job = proc.stderr.split()[1]
    m.run("gnt-job", "watch", job)

    # rename: the master IP moves to the new name's address and back
    assert vcluster.CLUSTER_IP + "/" in _lo_addresses()
    proc = m.run("gnt-cluster", "rename", "-f", NEW_NAME, check=True)
    assert "Cluster renamed from '%s' to '%s'" % (vcluster.CLUSTER_NAME, NEW_NAME) \
        in proc.stdout
    assert "Cluster name: %s" % NEW_NAME in _info(m)
    assert _ssconf(m, "cluster_name") == NEW_NAME
    assert _ssconf(m, "master_ip") == NEW_IP
    addrs = _lo_addresses()
    assert NEW_IP + "/" in addrs and vcluster.CLUSTER_IP + "/" not in addrs
    same = m.run("gnt-cluster", "rename", "-f", NEW_NAME)
    assert same.returncode == 1 and "Neither the name" in same.stderr
    m.run("gnt-cluster", "rename", "-f", vcluster.CLUSTER_NAME, check=True)
    assert _ssconf(m, "cluster_name") == vcluster.CLUSTER_NAME
    addrs = _lo_addresses()
    assert vcluster.CLUSTER_IP + "/" in addrs and NEW_IP + "/" not in addrs

    # the master IP taken down and brought up again; the master works meanwhile
    proc = m.run("gnt-cluster", "deactivate-master-ip", "--yes", check=True)
    assert (proc.stdout, proc.stderr) == ("", "")
    assert vcluster.CLUSTER_IP + "/" not in _lo_addresses()
    assert m.run("gnt-cluster", "getmaster", check=True).stdout.strip() == m.name
    m.run("gnt-cluster", "activate-master-ip", check=True)
    assert vcluster.CLUSTER_IP + "/" in _lo_addresses()

    # powercycle: the master only with --force, and never a node of a virtual
    # cluster (it would reboot this machine; the QA tier powercycles VM nodes)
    proc = m.run("gnt-node", "powercycle", "--yes", m.name)
    assert proc.returncode == 1
    assert "The node is the master and the force parameter was not set" in proc.stderr
    proc = m.run("gnt-node", "powercycle", "--yes", "--force", m.name)
    assert proc.returncode == 1
    assert "Failed to schedule the reboot" in proc.stderr, proc.stderr
    assert "virtual cluster" in proc.stderr, proc.stderr


@pytest.fixture
def two_ns_nodes():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    cluster = netns_cluster.NetnsCluster(2, prefix="gntc")
    try:
        cluster.init()
        key = cluster.master.path("/root/.ssh/id_ed25519")
        os.makedirs(os.path.dirname(key), exist_ok=True)
        shutil.copy(cluster.ssh_key, key)
        os.chmod(key, 0o600)
        cluster.master.run("gnt-node", "add", cluster.nodes[1].name, check=True)
        yield cluster
    finally:
        cluster.cleanup()


def test_command_and_copyfile(two_ns_nodes):
    m, n2 = two_ns_nodes.nodes
    proc = m.run("gnt-cluster", "command", "echo host=$GANETI_HOSTNAME", check=True)
    sep = "------------------------------------------------"
    # the output as it came (its own newline, then Ganeti's)
    assert proc.stdout == ("%s\nnode: %s\nhost=%s\n\nreturn code = 0\n"
                           "%s\nnode: %s\nhost=%s\n\nreturn code = 0\n"
                           % (sep, n2.name, n2.name, sep, m.name, m.name))
    proc = m.run("gnt-cluster", "command", "-n", n2.name, "echo oops >&2; exit 3")
    assert proc.returncode == 1
    assert proc.stdout == "%s\nnode: %s\noops\n\nreturn code = 3\n" % (sep, n2.name)
    proc = m.run("gnt-cluster", "command", "--failure-only", "-M", "test",
                 "$GANETI_HOSTNAME", "=", m.name)
    assert proc.returncode == 1
    assert proc.stdout == "%s\nreturn code = 1\n" % sep
    proc = m.run("gnt-cluster", "command", "-n", "nosuchnode", "true")
    assert proc.returncode == 1 and "not known" in proc.stderr

    # copyfile: the file lands at the same path in node2's root, with its mode
    src = m.path("/etc/ganeti/gntc-copy.txt")
    with open(src, "w") as fd:
        fd.write("copied by gnt-cluster copyfile\n")
    os.chmod(src, 0o640)
    dest = n2.path("/etc/ganeti/gntc-copy.txt")
    assert not os.path.exists(dest)
    m.run("gnt-cluster", "copyfile", src, check=True)
    with open(dest) as fd:
        assert fd.read() == "copied by gnt-cluster copyfile\n"
    assert os.stat(dest).st_mode & 0o777 == 0o640
    bad = m.run("gnt-cluster", "copyfile", m.path("/etc/ganeti/no-such-file"))
    assert bad.returncode == 1 and "No such filename" in bad.stderr
