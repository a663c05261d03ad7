"""gnt-node list-storage, modify-storage, repair-storage and volumes with real LVM on
the VM nodes (each has the VG xenvg on /dev/vda, made by the cluster fixture).

Every figure is checked against what pvs, vgs and lvs say on the node itself.
"""

import qa_checks as qa
from conftest import MASTER, NODES

PLAIN = "inst6.example.com"
DRBD = "inst7.example.com"


def _rows(vms, command):
    out = vms.ssh(MASTER, command + " --no-headers --separator='|'").stdout
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
        assert _rows(vms, "gnt-node volumes --units=m node3") == [
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
