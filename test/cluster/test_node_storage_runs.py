"""gnt-node list-storage, modify-storage, repair-storage and volumes on a two-node
virtual cluster with the disk templates of Ganeti's samples (diskless, file).

The file storage directory is reported by each node from its own directory
(statvfs for size and free, the files below it for used); the refusals are
Ganeti's messages, byte for byte as in gnt-node.txt. LVM types are in the QA
tier (test/qa/test_node_storage_qa.py): this host has no volume groups.
"""

import os

import pytest

import vcluster

FILE_DIR = "/srv/ganeti/file-storage"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def two_nodes():
    vc = vcluster.VirtualCluster(2)
    try:
        # diskless first: the default template cannot report its storage
        vc.init("--enabled-disk-templates=diskless,file")
        # what "make install" makes on every node
        os.makedirs(vc.nodes[1].path(FILE_DIR), exist_ok=True)
        vc.join(vc.nodes[1])
        vc.master.run("gnt-node", "add", "--no-node-setup", vc.nodes[1].name, check=True)
        yield vc
    finally:
        vc.cleanup()


def _fails(node, *argv):
    proc = node.run(*argv)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    return proc.stderr


def _fs_mib(node):
    st = os.statvfs(node.path(FILE_DIR))
    return (int(round(st.f_blocks * st.f_frsize / float(MIB))),
            int(round(st.f_bavail * st.f_frsize / float(MIB))))


def test_list_storage_of_the_file_directory(two_nodes):
    m, n2 = two_nodes.nodes
    # used: the apparent size of the files below the directory (a sparse 5 MiB file)
    disk = m.path(FILE_DIR + "/inst-x/disk0")
    os.makedirs(os.path.dirname(disk), exist_ok=True)
    with open(disk, "wb") as fd:
        fd.truncate(5 * MIB)
    try:
        proc = m.run("gnt-node", "list-storage", "-t", "file", check=True)
        lines = proc.stdout.splitlines()
        # the columns as Ganeti's (the node names here are longer than the samples')
        assert lines[0] == ("Node".ljust(len(m.name)) + " Type Name                 "
                            "      Size Used  Free Allocatable")
        assert [line.split()[:3] + line.split()[-1:] for line in lines[1:]] == [
            [m.name, "file", FILE_DIR, "Y"], [n2.name, "file", FILE_DIR, "Y"]]
        proc = m.run("gnt-node", "list-storage", "-t", "file", "--no-headers",
                     "--separator=|", "-o", "node,type,name,size,used,free,allocatable",
                     check=True)
        rows = [line.split("|") for line in proc.stdout.splitlines()]
        assert [r[:3] + r[4:5] + r[6:] for r in rows] == [
            [m.name, "file", FILE_DIR, "5", "Y"], [n2.name, "file", FILE_DIR, "0", "Y"]]
        for row, node in zip(rows, (m, n2)):
            size, free = _fs_mib(node)
            assert int(row[3]) == size
            assert abs(int(row[5]) - free) < 64          # the disk is busy meanwhile
        # one node, by its short name; units; a field chosen twice
        proc = m.run("gnt-node", "list-storage", "-t", "file", "--units=m",
                     "-o", "name,used,used", n2.name.split(".")[0], check=True)
        assert proc.stdout.splitlines()[1].split() == [FILE_DIR, "0", "0"]
    finally:
        os.unlink(disk)


def test_refusals_with_ganetis_messages(two_nodes):
    m = two_nodes.master
    assert _fails(m, "gnt-node", "list-storage") == (
        "Failure: prerequisites not met for this operation:\n"
        "Storage reporting for storage type 'diskless' is not supported. Please use the"
        " --storage-type option to specify one of the supported storage types (gluster,"
        " sharedfile, file, lvm-vg, lvm-pv) or set the default disk template to one that"
        " supports storage reporting.\n")
    for stype in ("lvm-vg", "lvm-pv"):
        assert _fails(m, "gnt-node", "list-storage", "-t", stype) == (
            "Failure: prerequisites not met for this operation:\n"
            "No disk template of storage type 'lvm-vg' is enabled in this cluster."
            " Enabled disk templates are: diskless,file\n")
    assert _fails(m, "gnt-node", "repair-storage", m.name, "file", FILE_DIR) == (
        "Failure: prerequisites not met for this operation:\n"
        "error type: wrong_input, error details:\n"
        "Storage units of type 'file' can not be repaired\n")
    assert _fails(m, "gnt-node", "modify-storage", "--allocatable=no", m.name, "file",
                  FILE_DIR) == (
        "Failure: prerequisites not met for this operation:\n"
        "error type: wrong_input, error details:\n"
        "Storage units of type 'file' can not be modified\n")
    assert _fails(m, "gnt-node", "repair-storage", m.name, "nosuch", "x") == (
        "Failure: prerequisites not met for this operation:\n"
        "error type: wrong_input, error details:\n"
        "Unknown storage type: nosuch\n")
    assert _fails(m, "gnt-node", "list-storage", "-t", "file", "-o", "name,bogus") == (
        "Failure: prerequisites not met for this operation:\n"
        "error type: wrong_input, error details:\n"
        "Unknown output fields selected: bogus\n")
    assert _fails(m, "gnt-node", "volumes", "nosuchnode") == (
        "Failure: prerequisites not met for this operation:\n"
        "error type: unknown_entity, error details:\n"
        "Node 'nosuchnode' not known\n")
    proc = m.run("gnt-node", "modify-storage", m.name, "lvm-pv", "/dev/vdb")
    assert (proc.returncode, proc.stderr) == (0, "No changes to perform, exiting.\n")
    # --dry-run changes nothing and still checks
    assert "can not be modified" in _fails(m, "gnt-node", "modify-storage", "--dry-run",
                                           "--allocatable=yes", m.name, "lvm-vg", "x")


def test_volumes_without_volume_groups(two_nodes):
    m = two_nodes.master
    proc = m.run("gnt-node", "volumes", check=True)
    # this host has no volume groups: the header alone, as in gnt-node.txt
    assert proc.stdout.splitlines()[0] == "Node PhysDev VG Name Size Instance"
    assert proc.stderr == ""
