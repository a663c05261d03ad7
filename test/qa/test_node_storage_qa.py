"""gnt-node list-storage, modify-storage, repair-storage and volumes with real LVM on
the VM nodes (each has the VG xenvg on /dev/vda, made by the cluster fixture).

Every figure is checked against what pvs, vgs and lvs say on the node itself.
"""

import re

import qa_checks as qa
from conftest import MASTER, NODES

PLAIN = "inst6.example.com"
DRBD = "inst7.example.com"


def _rows(vms, command, *names):
    # options before the arguments (Ganeti's parser)
    out = vms.ssh(MASTER, " ".join((command, "--no-headers --separator='|'") + names)).stdout
    return [line.split("|") for line in out.splitlines()]


def _vg_mib(vms, k):
    """(size, free) of xenvg on node K in MiB, rounded as Ganeti rounds them."""
    out = vms.ssh(k, "vgs --noheadings --nosuffix --units=m --separator=,"
                  " -o vg_size,vg_free xenvg").stdout
    return tuple(int(round(float(v))) for v in out.strip().split(","))


def _pv_attr(vms, k):
    return vms.ssh(k, "pvs --noheadings -o pv_attr /dev/vda").stdout.strip()


def _check_vgs(vms, names):
    rows = _rows(vms, "gnt-node list-storage -t lvm-vg")
    assert [r[:3] for r in rows] == [[n, "lvm-vg", "xenvg"] for n in names], rows
    for k, row in enumerate(rows, 1):
        size, free = _vg_mib(vms, k)
        assert row[3:] == [str(size), str(size - free), str(free), "Y"], row


def _allocatable(vms, names):
    rows = _rows(vms, "gnt-node list-storage -t lvm-pv -o node,name,allocatable")
    assert [r[:2] for r in rows] == [[n, "/dev/vda"] for n in names], rows
    return dict((r[0], r[2]) for r in rows)


def test_lvm_storage_units(cluster):
    vms = cluster
    names = [vms.node_name(k) for k in range(1, NODES + 1)]
    n1, n2, n3 = names
    _check_vgs(vms, names)
    # drbd is the default template: its storage type is the default one
    default = vms.ssh(MASTER, "gnt-node list-storage").stdout.splitlines()
    assert default[0].split() == ["Node", "Type", "Name", "Size", "Used", "Free",
                                  "Allocatable"]
    assert [line.split()[:3] for line in default[1:]] == [
        [n, "lvm-vg", "xenvg"] for n in names]

    # the allocatable flag of node2's PV, off and on again, as pvs shows it
    assert _allocatable(vms, names) == dict((n, "Y") for n in names)
    assert _pv_attr(vms, 2).startswith("a")
    vms.ssh(MASTER, "gnt-node modify-storage --allocatable=no %s lvm-pv /dev/vda" % n2)
    assert _pv_attr(vms, 2).startswith("u")
    assert _allocatable(vms, names) == {n1: "Y", n2: "N", n3: "Y"}
    vms.ssh(MASTER, "gnt-node modify-storage --allocatable=yes %s lvm-pv /dev/vda" % n2)
    assert _pv_attr(vms, 2).startswith("a")
    assert _allocatable(vms, names) == dict((n, "Y") for n in names)
    proc = vms.ssh(MASTER, "gnt-node modify-storage --allocatable=no %s lvm-vg xenvg" % n2,
                   check=False)
    assert proc.returncode == 1
    assert "Storage units of type 'lvm-vg' can not be modified" in proc.stderr


def test_volumes_name_their_instances(cluster):
    vms = cluster
    n1, n2, n3 = (vms.node_name(k) for k in range(1, NODES + 1))
    vms.ssh(MASTER, "gnt-instance add -t plain -s 64M --ignore-ipolicy -n node1 -o noop %s"
            % PLAIN)
    vms.ssh(MASTER, "gnt-instance add -t drbd -s 64M --ignore-ipolicy -n node1:node3"
            " -o noop %s" % DRBD)
    try:
        rows = _rows(vms, "gnt-node volumes --units=m")
        expected = []
        for k, node in ((1, n1), (2, n2), (3, n3)):
            for lv, size in sorted(qa.lvs(vms, k).items()):
                owner = PLAIN if lv.endswith(".disk0") and k == 1 else DRBD
                expected.append([node, "/dev/vda", "xenvg", lv, str(int(float(size))),
                                 owner])
        assert rows == expected, rows
        # node1: the plain disk and the drbd data and metadata; node3 the drbd pair
        assert sorted(r[5] for r in rows if r[0] == n1) == [PLAIN, DRBD, DRBD]
        assert [r[5] for r in rows if r[0] == n3] == [DRBD, DRBD]
        assert not [r for r in rows if r[0] == n2]
        assert _rows(vms, "gnt-node volumes --units=m", "node3") == [
            r for r in rows if r[0] == n3]
        plain = [r for r in rows if r[5] == PLAIN]
        assert plain[0][4] == "64"

        # a consistent VG is repaired without harm (the drbd peer is checked first)
        out = vms.ssh(MASTER, "gnt-node repair-storage %s lvm-vg xenvg" % n3).stdout
        assert "Repairing storage unit 'xenvg' on %s ..." % n3 in qa.log_lines(out), out
        assert _rows(vms, "gnt-node volumes --units=m") == rows
    finally:
        for name in (PLAIN, DRBD):
            vms.ssh(MASTER, "gnt-instance remove -f %s" % name, check=False)


ES_PLAIN = "inst8.example.com"
ES_WIDE = "inst9.example.com"


def _pvs_of(vms, k, name):
    """The PVs the disk0 LV of instance NAME uses on node K."""
    lv = [lv for lv in qa.lvs(vms, k) if lv.endswith(".disk0")
          and name in vms.ssh(k, "lvs --noheadings -o lv_tags xenvg/%s" % lv).stdout]
    assert len(lv) == 1, lv
    out = vms.ssh(k, "lvs --noheadings -o devices xenvg/%s" % lv[0]).stdout
    return sorted(d.split("(")[0] for d in out.strip().split(",")), lv[0]


def _spindles(vms):
    return dict((r[0], r[1:]) for r in _rows(vms, "gnt-node list -o name,sptotal,spfree"))


def test_exclusive_storage(cluster):
    """exclusive_storage as Ganeti has it: every plain disk on PVs of its own, as
    many as its spindles; sptotal/spfree count the PVs; verify checks the PV
    sizes and PVs shared by LVs. (It splits each node's VG into PVs, and joins them again at its end.)"""
    vms = cluster
    n1, n2, n3 = (vms.node_name(k) for k in range(1, NODES + 1))
    # nodes 1 and 2: four PVs of 8 GiB; node3: 8, 8 and 16 GiB (too different)
    for k, layout in ((1, ",8G\\n,8G\\n,8G\\n,\\n"), (2, ",8G\\n,8G\\n,8G\\n,\\n"),
                      (3, ",8G\\n,8G\\n,\\n")):
        vms.ssh(k, "vgremove -q -f xenvg && pvremove -q -y /dev/vda"
                " && printf '%s' | sfdisk -q /dev/vda && pvcreate -q -y /dev/vda[1-4]"
                " && vgcreate -q xenvg /dev/vda[1-4]" % layout)
    assert _spindles(vms) == {n1: ["0", "0"], n2: ["0", "0"], n3: ["0", "0"]}
    vms.ssh(MASTER, "gnt-cluster modify --node-parameters exclusive_storage=True")
    assert _spindles(vms) == {n1: ["4", "4"], n2: ["4", "4"], n3: ["3", "3"]}
    # DFree: one standard disk (the smallest PV less 3%) per empty PV
    std = int(min(float(v) for v in vms.ssh(1, "pvs --noheadings --nosuffix --units=m"
                                              " -o pv_size").stdout.split()) // 1.03)
    dfree = _rows(vms, "gnt-node list --units=m -o name,dfree", "node1")[0][1]
    assert dfree == str(4 * std), (dfree, std)

    def add(template, disk, name, nodes="node1"):
        return vms.ssh(MASTER, "gnt-instance add -t %s --disk 0:%s -n %s -o noop"
                       " --no-start %s" % (template, disk, nodes, name), check=False)

    proc = add("plain", "size=1G", ES_PLAIN)
    assert proc.returncode == 1
    assert ("You must specify spindles in instance disks when exclusive storage is"
            " active") in proc.stderr, proc.stderr
    proc = add("drbd", "size=1G,spindles=1", ES_PLAIN, "node1:node2")
    assert proc.returncode == 1
    assert "Disk template drbd not supported with exclusive storage" in proc.stderr
    proc = add("plain", "size=10G,spindles=1", ES_WIDE)
    assert proc.returncode == 1
    assert ("Requested number of spindles (1) is not enough for a disk of 10240 MB (at"
            " least 2 spindles needed)") in proc.stderr, proc.stderr
    assert qa.lvs(vms, 1) == {}

    for disk, name in (("size=1G,spindles=1", ES_PLAIN), ("size=10G,spindles=2", ES_WIDE)):
        proc = add("plain", disk, name)
        assert proc.returncode == 0, proc.stderr
    one, lv_one = _pvs_of(vms, 1, ES_PLAIN)
    two, _ = _pvs_of(vms, 1, ES_WIDE)
    assert len(one) == 1 and len(two) == 2 and not set(one) & set(two), (one, two)
    assert _spindles(vms)[n1] == ["4", "1"]
    info = vms.ssh(MASTER, "gnt-instance info %s" % ES_WIDE).stdout
    assert "      spindles: 2\n" in info, info
    proc = add("plain", "size=1G,spindles=2", "inst5.example.com")
    assert proc.returncode == 1
    assert ("Not enough empty PVs (spindles) to create a disk of 1024 MB: 1 available,"
            " 2 needed") in proc.stderr, proc.stderr

    # a disk grows on its own PV only, up to one standard disk
    vms.ssh(MASTER, "gnt-instance grow-disk %s 0 1G" % ES_PLAIN)
    assert _pvs_of(vms, 1, ES_PLAIN)[0] == one
    proc = vms.ssh(MASTER, "gnt-instance grow-disk %s 0 %dM" % (ES_PLAIN, std), check=False)
    assert proc.returncode == 1
    assert "Not enough free space to grow" in proc.stderr, proc.stderr

    # verify: node3's PVs differ too much, and an LV made by hand shares a PV
    vms.ssh(1, "lvcreate -q -y -Wn -L 4m -n stray xenvg %s" % one[0])
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    lines = verify.stdout.splitlines()
    assert verify.returncode == 1
    assert any(re.search(r"ERROR: node %s: Sizes of PVs are too different: min=\d+"
                         r" max=\d+$" % n3, l) for l in lines), verify.stdout
    assert any(re.search(r"ERROR: group default: PV sizes differ too much in the group;"
                         r" smallest \([\d.]+ MB\) is on %s, biggest \([\d.]+ MB\) is"
                         r" on %s$" % (n1, n3), l) for l in lines), verify.stdout
    assert any(l.endswith("ERROR: node %s: PV %s is shared among unrelated LVs (%s,"
                          " stray)" % (n1, one[0], lv_one)) for l in lines), verify.stdout
    vms.ssh(1, "lvremove -q -f xenvg/stray")

    for name in (ES_PLAIN, ES_WIDE):
        vms.ssh(MASTER, "gnt-instance remove -f %s" % name)
    assert qa.lvs(vms, 1) == {}
    vms.ssh(MASTER, "gnt-cluster modify --node-parameters exclusive_storage=False")
    assert _spindles(vms)[n1] == ["0", "0"]
    # the volume group on the whole disk again, as the next module expects it
    for k in range(1, NODES + 1):
        vms.ssh(k, "vgremove -q -f xenvg && for p in /dev/vda[1-9]; do [ -b $p ] &&"
                " pvremove -q -y $p; done; sfdisk -q --delete /dev/vda && wipefs -q -a"
                " /dev/vda && pvcreate -q -y /dev/vda && vgcreate -q xenvg /dev/vda")
    _check_vgs(vms, [n1, n2, n3])
