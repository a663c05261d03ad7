"""The install tutorial on three VM nodes with real LVM: the project's commands as
an admin types them (init with a secondary network and the xenvg volume group,
node add -s, gnt-node list, gnt-os list, a plain instance), checked against
what LVM itself reports on the nodes."""

import re

import pytest

CLUSTER = "cluster.example.com"
MASTER = 1


@pytest.fixture(scope="module")
def cluster(vms):
    for k in (1, 2, 3):
        vms.reset_node(k)
        # what the tutorial has the admin prepare: the VG and the instances' bridge
        vms.ssh(k, "pvcreate -q -y /dev/vda && vgcreate -q xenvg /dev/vda"
                " && { ip link show br-inst >/dev/null 2>&1"
                " || ip link add br-inst type bridge; } && ip link set br-inst up")
    vms.ssh(MASTER, "gnt-cluster init -s %s --master-netdev=eth0 --no-etc-hosts"
            " --enabled-hypervisors=fake --enabled-disk-templates=plain,file,diskless"
            " --nic-parameters=link=br-inst %s" % (vms.node_sip(1), CLUSTER))
    for k in (2, 3):
        vms.ssh(MASTER, "gnt-node add -s %s %s" % (vms.node_sip(k), vms.node_name(k)))
    yield vms
    for k in (1, 2, 3):
        vms.reset_node(k)


def _lvs(vms, k):
    out = vms.ssh(k, "lvs --noheadings --nosuffix --units=m --separator=, "
                  "-o lv_name,lv_size xenvg").stdout
    return dict(line.strip().split(",") for line in out.splitlines() if line.strip())


def test_nodes_and_oses(cluster):
    vms = cluster
    out = vms.ssh(MASTER, "gnt-node list").stdout.splitlines()
    assert out[0].split() == ["Node", "DTotal", "DFree", "MTotal", "MNode", "MFree",
                              "Pinst", "Sinst"]
    rows = dict((line.split()[0], line.split()[1:]) for line in out[1:])
    assert sorted(rows) == [vms.node_name(k) for k in (1, 2, 3)]
    for fields in rows.values():
        # the whole VG (32 GiB disk, 4 MiB extents) is free on every node
        assert fields[0] == fields[1] and fields[0].endswith("G"), out
    oses = vms.ssh(MASTER, "gnt-os list").stdout.split()
    assert oses[0] == "Name" and "noop" in oses
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_plain_instance(cluster):
    vms = cluster
    name = "inst1.example.com"
    out = vms.ssh(MASTER, "gnt-instance add -t plain -s 1G -n node1 -o noop %s"
                  % name).stdout
    lines = [re.sub(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ", "", line)
             for line in out.splitlines()]
    for line in ("* creating instance disks...",
                 "adding instance %s to cluster config" % name,
                 " - INFO: Waiting for instance %s to sync disks" % name,
                 " - INFO: Instance %s's disks are in sync" % name,
                 "creating os for instance %s on node %s" % (name, vms.node_name(1)),
                 "* running the instance OS create scripts...",
                 "* starting instance..."):
        assert line in lines, out
    lvs = _lvs(vms, 1)
    assert len(lvs) == 1
    lv_name, size = list(lvs.items())[0]
    assert re.match(r"^[0-9a-f-]{36}\.disk0$", lv_name) and float(size) == 1024.0
    info = vms.ssh(MASTER, "gnt-instance info %s" % name).stdout
    assert "    - disk/0: plain, size 1.0G\n" in info, info
    assert "      logical_id: xenvg/%s\n" % lv_name in info, info
    assert re.search(r"      on primary: /dev/xenvg/%s \(253:\d+\)\n" % re.escape(lv_name),
                     info), info
    rows = vms.ssh(MASTER, "gnt-instance list --no-headers -o name,disk_template,pnode,"
                   "status,disk.sizes").stdout.split()
    assert rows == [name, "plain", vms.node_name(1), "running", "1024"]
    free = vms.ssh(MASTER, "gnt-node list --no-headers --units=m -o name,dfree").stdout
    dfree = dict(line.split() for line in free.splitlines())
    total = vms.ssh(MASTER, "gnt-node list --no-headers --units=m -o name,dtotal").stdout
    dtotal = dict(line.split() for line in total.splitlines())
    n1 = vms.node_name(1)
    assert int(dtotal[n1]) - int(dfree[n1]) == 1024

    vms.ssh(MASTER, "gnt-instance grow-disk %s 0 512M" % name)
    assert float(_lvs(vms, 1)[lv_name]) == 1536.0
    vms.ssh(MASTER, "gnt-instance shutdown %s" % name)
    vms.ssh(MASTER, "gnt-instance startup %s" % name)
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    vms.ssh(MASTER, "gnt-instance remove -f %s" % name)
    assert _lvs(vms, 1) == {}


def test_plain_bad_input(cluster):
    vms = cluster
    proc = vms.ssh(MASTER, "gnt-instance add -t plain -s 100G -n node1 -o noop"
                   " inst2.example.com", check=False)
    assert proc.returncode == 1
    assert re.search(r"Not enough disk space on target node node1.example.com vg xenvg:"
                     r" required 102400 MiB, available \d+ MiB", proc.stderr), proc.stderr
    proc = vms.ssh(MASTER, "gnt-instance add -t plain --disk 0:size=1G,vg=novg -n node1"
                   " -o noop inst2.example.com", check=False)
    assert proc.returncode == 1
    assert "novg" in proc.stderr, proc.stderr
    assert _lvs(vms, 1) == {}
    listing = vms.ssh(MASTER, "gnt-instance list --no-headers -o name").stdout
    assert "inst2" not in listing
