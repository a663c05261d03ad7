"""Mirrored instances that cannot be made, on the VM nodes: a full volume group
(on the primary, or only on the secondary), an offline secondary, a DRBD minor
already taken on the secondary, and halves that cannot connect (the
secondary's replication link is down). Each gets a clear error and leaves no
LV, DRBD minor, port or config entry behind; verify and verify-disks say so."""

import re
import time

import qa_checks as qa
from conftest import MASTER

NAME = "inst8.example.com"


def _add(vms, size, nodes):
    return vms.ssh(MASTER, "gnt-instance add -t drbd -s %s --ignore-ipolicy -n %s -o noop"
                   " %s" % (size, nodes, NAME), check=False)


def _nothing_left(vms):
    for k in (1, 2, 3):
        assert qa.lvs(vms, k) == {}, (k, qa.lvs(vms, k))
        assert re.findall(r"^\s*\d+: cs:(?!Unconfigured)", vms.ssh(k, "cat /proc/drbd")
                          .stdout, re.M) == [], k
    names = vms.ssh(MASTER, "gnt-instance list --no-headers -o name").stdout.split()
    assert NAME not in names
    # (no verify-disks: with no mirrored instance left it has nothing to check)
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_full_volume_groups(cluster):
    vms = cluster
    proc = _add(vms, "40G", "node1:node2")
    assert proc.returncode == 1
    assert re.search(r"Not enough disk space on target node node1\.example\.com vg"
                     r" xenvg: required 41088 MiB, available \d+ MiB", proc.stderr), \
        proc.stderr
    _nothing_left(vms)
    # only the secondary is short of space: refused before anything is made
    vms.ssh(2, "lvcreate -q -y -Wn -Zn -l 100%FREE -n filler xenvg")
    try:
        proc = _add(vms, "1G", "node1:node2")
        assert proc.returncode == 1
        assert "Not enough disk space on target node node2.example.com vg xenvg" \
            in proc.stderr, proc.stderr
        assert qa.lvs(vms, 1) == {}
    finally:
        vms.ssh(2, "lvremove -q -f xenvg/filler")
    _nothing_left(vms)


def test_offline_secondary(cluster):
    vms = cluster
    vms.ssh(MASTER, "gnt-node modify -O yes --force %s" % vms.node_name(3))
    try:
        proc = _add(vms, "256M", "node1:node3")
        assert proc.returncode == 1
        assert "node3.example.com" in proc.stderr and "offline" in proc.stderr, \
            proc.stderr
    finally:
        vms.ssh(MASTER, "gnt-node modify -O no %s" % vms.node_name(3))
    _nothing_left(vms)


def test_drbd_minor_taken_on_the_secondary(cluster):
    """The minor the configuration gives the secondary is in use there (made by
    hand, waiting for a peer): the creation fails on the secondary and is undone
    everywhere. (A minor made but never configured shows as Unconfigured and is
    free to take.)"""
    vms = cluster
    vms.ssh(2, "drbdsetup new-resource resource0 && drbdsetup new-minor resource0 0 0"
            " && drbdsetup connect resource0 ipv4:%s:7788 ipv4:10.78.1.99:7788"
            " --protocol C" % vms.node_sip(2))
    try:
        proc = _add(vms, "256M", "node1:node2")
        assert proc.returncode == 1
        assert "DRBD minor 0 is already in use on this node" in proc.stderr, proc.stderr
        for k in (1, 2):
            assert qa.lvs(vms, k) == {}, (k, qa.lvs(vms, k))
        assert NAME not in vms.ssh(MASTER, "gnt-instance list --no-headers -o name"
                                   ).stdout.split()
        verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
        assert verify.returncode == 1
        assert "ERROR: node node2.example.com: unallocated drbd minor 0 is in use" \
            in verify.stdout, verify.stdout
    finally:
        vms.ssh(2, "drbdsetup down resource0")
    _nothing_left(vms)
    # with the minor free again the same command works, and the port the failed
    # job had is given out again
    proc = _add(vms, "256M", "node1:node2")
    assert proc.returncode == 0, proc.stderr
    info = vms.ssh(MASTER, "gnt-instance info %s" % NAME).stdout
    assert re.search(r"port: 11000\n", info), info
    vms.ssh(MASTER, "gnt-instance remove -f %s" % NAME)
    _nothing_left(vms)


def test_mirror_halves_that_cannot_connect(cluster):
    """The secondary's replication interface is down: both halves are made but
    never connect, the new disks stay degraded, and the creation fails as in
    Ganeti (--no-wait-for-sync only looks once: the same)."""
    vms = cluster
    vms.ssh(2, "ip link set eth1 down")
    try:
        for extra, wait_line in (("", " - INFO: Waiting for instance %s to sync disks"
                                  % NAME), ("--no-wait-for-sync ", "* checking mirrors"
                                            " status")):
            proc = vms.ssh(MASTER, "gnt-instance add -t drbd -s 128M --ignore-ipolicy"
                           " %s-n node1:node2 -o noop %s" % (extra, NAME), check=False)
            assert proc.returncode == 1, proc.stdout + proc.stderr
            assert wait_line in qa.log_lines(proc.stdout), proc.stdout
            assert "There are some degraded disks for this instance" in proc.stderr, \
                proc.stderr
            _nothing_left(vms)
    finally:
        vms.ssh(2, "ip link set eth1 up")


def test_secondary_node_daemon_killed_during_creation(cluster):
    """node2's node daemon dies while the new mirror's volumes are being made
    there (killed as soon as the first of them shows up) and comes back a few
    seconds later: however the job ends, nothing is half made. A failed
    creation removes what it made on both nodes, waiting for node2 to answer
    again; a creation that got through leaves a complete instance."""
    vms = cluster
    proc = vms.ssh(MASTER, "gnt-instance add --submit -t drbd -s 64M --ignore-ipolicy"
                   " -n node1:node2 -o noop %s" % NAME)
    job = re.search(r"JobID: (\d+)", proc.stdout + proc.stderr).group(1)
    # the first LV on node2, then the node daemon goes (polled on node2 itself)
    vms.ssh(2, "for i in $(seq 600); do lvs --noheadings xenvg 2>/dev/null | grep -q ."
            " && break; sleep 0.05; done; kill -9 $(cat /var/run/ganeti/ganeti-noded.pid)")
    time.sleep(5)
    vms.ssh(2, "python3 /src/daemons/daemon-util.in start-all")
    out = vms.ssh(MASTER, "gnt-job watch %s" % job, check=False).stdout
    status = vms.ssh(MASTER, "gnt-job list --no-headers -o status %s" % job).stdout.strip()
    if status == "error":
        assert "Creation failed, removing instance %s" % NAME in out, out
        _nothing_left(vms)
    else:
        # the daemon died after its part was done: the instance is whole
        assert status == "success", (status, out)
        assert vms.ssh(MASTER, "gnt-instance list --no-headers -o status %s"
                       % NAME).stdout.strip() == "running"
        verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
        assert verify.returncode == 0, verify.stdout
        vms.ssh(MASTER, "gnt-instance remove -f %s" % NAME)
        _nothing_left(vms)
