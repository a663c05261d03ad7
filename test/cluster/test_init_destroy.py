"""gnt-cluster init refuses bad setups and changes nothing; destroy cleans up."""

import os
import subprocess

import vcluster


def _ganeti_files(node):
    root = node.path("/var/lib/ganeti")
    if not os.path.isdir(root):
        return []
    return sorted(n for n in os.listdir(root) if n not in ("queue",))


def test_init_refuses_short_hostname(fresh_cluster):
    node = fresh_cluster.master
    env = node.env
    short = os.path.join(fresh_cluster.base, "node1")
    os.makedirs(short)
    env.update(GANETI_ROOTDIR=short, GANETI_HOSTNAME="node1")
    proc = subprocess.run([vcluster.PYTHON, os.path.join(vcluster.SRC, "scripts",
                                                         "gnt-cluster"), "init",
                           "--enabled-hypervisors=fake", "--no-lvm-storage",
                           "--enabled-disk-templates=file", "--master-netdev=lo",
                           vcluster.CLUSTER_NAME], env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "not fully qualified" in proc.stderr
    assert not os.path.exists(os.path.join(short, "var/lib/ganeti/config.data"))


def test_init_refuses_unresolvable_cluster_name(fresh_cluster):
    node = fresh_cluster.master
    proc = node.run("gnt-cluster", "init", "--enabled-hypervisors=fake", "--no-lvm-storage",
                    "--enabled-disk-templates=file", "--master-netdev=lo",
                    "no-such-cluster.invalid")
    assert proc.returncode == 1
    assert "does not resolve" in proc.stderr
    assert _ganeti_files(node) == []


def test_init_refuses_a_cluster_ip_that_answers(fresh_cluster):
    node = fresh_cluster.master
    import socket
    sock = socket.socket()
    sock.bind((vcluster.CLUSTER_IP, 1811))
    sock.listen(1)
    try:
        proc = node.run("gnt-cluster", "init", "--enabled-hypervisors=fake",
                        "--no-lvm-storage", "--enabled-disk-templates=file",
                        "--master-netdev=lo", vcluster.CLUSTER_NAME)
    finally:
        sock.close()
    assert proc.returncode == 1
    assert "already answers" in proc.stderr
    assert _ganeti_files(node) == []


def test_init_refuses_bad_options(fresh_cluster):
    node = fresh_cluster.master
    base = ["gnt-cluster", "init", "--master-netdev=lo", "--no-lvm-storage"]
    cases = [
        (["--enabled-hypervisors=nosuchhv", "--enabled-disk-templates=file"],
         "Unknown hypervisor"),
        (["--enabled-hypervisors=fake", "--enabled-disk-templates=plain"], "LVM"),
        (["--enabled-hypervisors=fake", "--enabled-disk-templates=file",
          "--nic-parameters=mode=sideways"], "Invalid NIC mode"),
        (["--enabled-hypervisors=fake", "--enabled-disk-templates=file",
          "-H", "fake:bogus=1"], "Unknown parameter 'bogus'"),
    ]
    for extra, needle in cases:
        proc = node.run(*(base + extra + [vcluster.CLUSTER_NAME]))
        assert proc.returncode == 1, (extra, proc.stderr)
        assert needle.lower() in proc.stderr.lower(), (extra, proc.stderr)
        assert _ganeti_files(node) == []
    proc = node.run("gnt-cluster", "init", "--master-netdev=nosuchdev0",
                    "--enabled-hypervisors=fake", "--no-lvm-storage",
                    "--enabled-disk-templates=file", vcluster.CLUSTER_NAME)
    assert proc.returncode == 1 and "nosuchdev0" in proc.stderr
    assert _ganeti_files(node) == []


def test_init_twice_then_destroy(fresh_cluster):
    vc = fresh_cluster
    m = vc.master
    vc.init()
    again = m.run("gnt-cluster", "init", "--enabled-hypervisors=fake", "--no-lvm-storage",
                  "--enabled-disk-templates=file", "--master-netdev=lo",
                  vcluster.CLUSTER_NAME)
    assert again.returncode == 1 and "already initialised" in again.stderr
    refuse = m.run("gnt-cluster", "destroy")
    assert refuse.returncode == 1 and "--yes-do-it" in refuse.stderr
    assert m.pid("ganeti-masterd")
    m.run("gnt-cluster", "destroy", "--yes-do-it", check=True)
    assert not m.pid("ganeti-masterd") and not m.pid("ganeti-noded")
    assert not os.path.exists(m.path("/var/lib/ganeti/config.data"))
    assert not [f for f in _ganeti_files(m) if f.startswith("ssconf_")]
    addrs = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True,
                           text=True).stdout
    assert vcluster.CLUSTER_IP + "/32" not in addrs
    # and a new cluster can be made at once
    vc.init()
    assert m.run("gnt-cluster", "getmaster", check=True).stdout.strip() == m.name
