"""Repairing mirrors on the VM nodes: replace-disks (-s, -p, -n, -a), gnt-node
evacuate, and verify-disks and the watcher after a secondary node rebooted.

Each step is checked against what LVM and DRBD report on the nodes, and the
data written into the mirror is checksummed after every step (also on the new
secondary, by failing over to it)."""

import os
import re

import pytest

import qa_checks as qa
from conftest import MASTER, NODES, node_rebooted

NAME = "inst5.example.com"
SIZE = "64M"
HELPER = "/usr/bin/true"
HELPER_PARAM = "/sys/module/drbd/parameters/usermode_helper"


@pytest.fixture(scope="module", autouse=True)
def _cluster_settings_restored(cluster):
    """The next module finds the cluster's DRBD helper (also on the nodes) and
    instance policy as they were."""
    yield
    cluster.ssh(MASTER, "gnt-cluster modify --drbd-usermode-helper=/bin/true"
                " --ipolicy-bounds-specs %s" % DEFAULT_BOUNDS)
    for k in range(1, NODES + 1):
        cluster.ssh(k, "echo /bin/true > %s" % HELPER_PARAM)


def _sync_lines(name):
    return [" - INFO: Waiting for instance %s to sync disks" % name,
            " - INFO: Instance %s's disks are in sync" % name]


def _without_progress(out):
    return [line for line in qa.log_lines(out)
            if not line.startswith(" - INFO: - device disk/0: ")]


def _layout(vms, name):
    return vms.ssh(MASTER, "gnt-instance list --no-headers -o pnode,snodes,status %s"
                   % name).stdout.split()


def _in_sync(vms, k, minor, role):
    line = qa.drbd_line(vms, k, minor)
    assert line.startswith("cs:Connected ro:%s ds:UpToDate/UpToDate C" % role), line


def _data_lvs(vms, k):
    return sorted(n for n in qa.lvs(vms, k))


def _same_node_replace(vms, flag, target, other, name):
    out = vms.ssh(MASTER, "gnt-instance replace-disks %s %s" % (flag, name)).stdout
    n1, n2 = vms.node_name(1), vms.node_name(2)
    assert _without_progress(out) == [
        "Replacing disk(s) 0 for instance '%s'" % name,
        "Current primary node: %s" % n1,
        "Current secondary node: %s" % n2,
        "STEP 1/6 Check device existence",
        " - INFO: Checking disk/0 on %s" % other,
        " - INFO: Checking disk/0 on %s" % target,
        " - INFO: Checking volume groups",
        "STEP 2/6 Check peer consistency",
        " - INFO: Checking disk/0 consistency on node %s" % other,
        "STEP 3/6 Allocate new storage",
        " - INFO: Adding storage on %s for disk/0" % target,
        "STEP 4/6 Changing drbd configuration",
        " - INFO: Detaching disk/0 drbd from local storage",
        " - INFO: Renaming the old LVs on the target node",
        " - INFO: Renaming the new LVs on the target node",
        " - INFO: Adding new mirror component on %s" % target,
        "STEP 5/6 Sync devices"] + _sync_lines(name) + [
        "STEP 6/6 Removing old storage",
        " - INFO: Remove logical volumes for disk/0"], out
    return out


def test_replace_disks_and_evacuate(cluster):
    vms = cluster
    name = NAME
    n1, n2, n3 = (vms.node_name(k) for k in (1, 2, 3))
    # the nodes set the drbd module's helper to the cluster's when they use it
    vms.ssh(MASTER, "gnt-cluster modify --drbd-usermode-helper=%s" % HELPER)
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 1
    assert "ERROR: node %s: wrong drbd usermode helper: /bin/true" % n3 \
        in verify.stdout, verify.stdout
    vms.ssh(MASTER, "gnt-instance add -t drbd -s %s --ignore-ipolicy -n node1:node2"
            " -o noop %s" % (SIZE, name))
    for k in (1, 2):
        assert vms.ssh(k, "cat %s" % HELPER_PARAM).stdout.strip() == HELPER
    minors, _ = qa.minors(vms, name)
    m1 = minors[n1]
    checksum = qa.write_pattern(vms, 1, m1)
    lvs1, lvs2 = _data_lvs(vms, 1), _data_lvs(vms, 2)

    # new volumes under the secondary's half, then the primary's: same names in
    # the end, the old ones gone, the data copied from the peer each time
    _same_node_replace(vms, "-s", n2, n1, name)
    assert _data_lvs(vms, 2) == lvs2 and _data_lvs(vms, 1) == lvs1
    _in_sync(vms, 1, m1, "Primary/Secondary")
    assert qa.read_sum(vms, 1, m1) == checksum
    _same_node_replace(vms, "-p", n1, n2, name)
    assert _data_lvs(vms, 1) == lvs1 and _data_lvs(vms, 2) == lvs2
    _in_sync(vms, 1, m1, "Primary/Secondary")
    assert qa.read_sum(vms, 1, m1) == checksum
    assert _layout(vms, name) == [n1, n2, "running"]

    # a new secondary: node3 gets the volumes and all the data, node2 nothing
    out = vms.ssh(MASTER, "gnt-instance replace-disks -n %s %s" % (n3, name)).stdout
    assert _without_progress(out) == [
        "Replacing disk(s) 0 for instance '%s'" % name,
        "Current primary node: %s" % n1,
        "Current secondary node: %s" % n2,
        "STEP 1/6 Check device existence",
        " - INFO: Checking disk/0 on %s" % n1,
        " - INFO: Checking volume groups",
        "STEP 2/6 Check peer consistency",
        " - INFO: Checking disk/0 consistency on node %s" % n1,
        "STEP 3/6 Allocate new storage",
        " - INFO: Adding new local storage on %s for disk/0" % n3,
        "STEP 4/6 Changing drbd configuration",
        " - INFO: activating a new drbd on %s for disk/0" % n3,
        " - INFO: Shutting down drbd for disk/0 on old node",
        " - INFO: Detaching primary drbds from the network (=> standalone)",
        " - INFO: Updating instance configuration",
        " - INFO: Attaching primary drbds to new secondary (standalone => connected)",
        "STEP 5/6 Sync devices"] + _sync_lines(name) + [
        "STEP 6/6 Removing old storage",
        " - INFO: Remove logical volumes for disk/0"], out
    assert _layout(vms, name) == [n1, n3, "running"]
    assert _data_lvs(vms, 2) == [] and _data_lvs(vms, 3) == lvs2
    assert qa.drbd_line(vms, 2, minors[n2]) in ("", "cs:Unconfigured")
    minors, _ = qa.minors(vms, name)
    assert minors[n1] == m1
    _in_sync(vms, 3, minors[n3], "Secondary/Primary")
    out = vms.ssh(MASTER, "gnt-node list-drbd --no-headers --separator='|' %s"
                  % n3).stdout
    assert out == "%s|%d|%s|disk/0|secondary|%s\n" % (n3, minors[n3], name, n1), out
    assert vms.ssh(MASTER, "gnt-node list-drbd --no-headers %s" % n2).stdout == ""
    # the data is really on node3: its data volume (under the secondary's DRBD
    # device; the metadata has a volume of its own) holds it
    (data_lv,) = [lv for lv in _data_lvs(vms, 3) if lv.endswith("_data")]
    assert _image_sum(vms, 3, "/dev/xenvg/%s" % data_lv) == checksum

    # -a: nothing is faulty; then node3's half loses its disks (as after an I/O
    # error) and -a replaces them there
    out = vms.ssh(MASTER, "gnt-instance replace-disks -a %s" % name).stdout
    assert qa.log_lines(out)[-1] == "No disks need replacement for instance '%s'" \
        % name, out
    vms.ssh(3, "drbdsetup detach %d" % minors[n3])
    assert "ds:Diskless/UpToDate" in qa.drbd_line(vms, 3, minors[n3])
    out = vms.ssh(MASTER, "gnt-instance replace-disks -a %s" % name).stdout
    assert " - INFO: Adding storage on %s for disk/0" % n3 in qa.log_lines(out), out
    _in_sync(vms, 3, minors[n3], "Secondary/Primary")
    assert _data_lvs(vms, 3) == lvs2
    assert qa.read_sum(vms, 1, m1) == checksum

    # bad input changes nothing
    for args, message in [
            ("-n %s" % n1, "The specified node is the primary node of the instance"),
            ("-n %s" % n3, "The specified node is already the secondary node"),
            ("-s --disks 3", "Invalid disk index: 3"),
            ("-n nosuchnode", "Node 'nosuchnode' not known")]:
        proc = vms.ssh(MASTER, "gnt-instance replace-disks %s %s" % (args, name),
                       check=False)
        assert proc.returncode == 1 and message in proc.stderr, (args, proc.stderr)
    assert _layout(vms, name) == [n1, n3, "running"]

    # gnt-node evacuate: node3's secondary instances go to node2
    proc = vms.ssh(MASTER, "gnt-node evacuate -f -s -n %s %s" % (n2, n3))
    lines = qa.log_lines(proc.stdout)
    assert lines[0] == " - INFO: Evacuating instances from node '%s': %s" % (n3, name)
    assert re.match(r"^Submitted jobs \d+$", lines[1]), proc.stdout
    assert re.match(r"^Waiting for job \d+ \.\.\.$", lines[2]), proc.stdout
    assert "Replacing disk(s) 0 for instance '%s'" % name in lines, proc.stdout
    assert lines[-1] == "All instances evacuated successfully.", proc.stdout
    assert proc.stderr == ("New secondary node given (disabling iallocator), hence"
                           " evacuating secondary instances only.\n")
    assert _layout(vms, name) == [n1, n2, "running"]
    assert _data_lvs(vms, 3) == [] and _data_lvs(vms, 2) == lvs2
    assert vms.ssh(3, "cat %s" % HELPER_PARAM).stdout.strip() == HELPER
    minors, _ = qa.minors(vms, name)
    _in_sync(vms, 2, minors[n2], "Secondary/Primary")
    assert qa.read_sum(vms, 1, m1) == checksum
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _reboot_and_start(vms, k):
    """Power-cycle node K, then bring it up as its boot would."""
    vms.reboot_vm(k)
    node_rebooted(vms, k)


def _wait_in_sync(vms, name):
    vms.ssh(MASTER, "gnt-instance activate-disks --wait-for-sync %s" % name)


def test_verify_disks_and_watcher_after_secondary_reboots(cluster):
    vms = cluster
    name = NAME
    n1, n2 = vms.node_name(1), vms.node_name(2)
    assert _layout(vms, name) == [n1, n2, "running"]
    minors, _ = qa.minors(vms, name)
    m1, m2 = minors[n1], minors[n2]
    out = vms.ssh(MASTER, "gnt-cluster verify-disks").stdout
    assert re.sub(r"\d+", "N", out) == ("Submitted jobs N\nWaiting for job N ...\n"
                                        "No disks need to be activated.\n"), out

    # node2 (the secondary) reboots: its half of the mirror is gone; the data
    # written meanwhile must reach it again
    _reboot_and_start(vms, 2)
    assert qa.drbd_line(vms, 2, m2) in ("", "cs:Unconfigured")
    checksum = qa.write_pattern(vms, 1, m1)
    proc = vms.ssh(MASTER, "gnt-cluster verify-disks", check=False)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.sub(r"\d+", "N", lines[0]) == "Submitted jobs N", proc.stdout
    assert "Activating disks for instance '%s'" % name in lines, proc.stdout
    _wait_in_sync(vms, name)
    _in_sync(vms, 2, m2, "Secondary/Primary")
    out = vms.ssh(MASTER, "gnt-cluster verify-disks").stdout
    assert out.endswith("No disks need to be activated.\n"), out

    # the same, repaired by the watcher: it notices the new boot id. This
    # time node2 reboots itself, hard, as gnt-node powercycle has it do
    vms.ssh(MASTER, "/src/daemons/ganeti-watcher")        # records the boot ids
    proc = vms.ssh(MASTER, "gnt-node powercycle --yes %s" % n2)
    assert (proc.stdout, proc.stderr) == ("", "Reboot scheduled in 5 seconds\n")
    vms.power_on_after_reset(2)
    node_rebooted(vms, 2)
    checksum = qa.write_pattern(vms, 1, m1)
    vms.ssh(MASTER, "/src/daemons/ganeti-watcher")
    _wait_in_sync(vms, name)
    _in_sync(vms, 2, m2, "Secondary/Primary")
    # node2 has all of it: fail over and read it there
    vms.ssh(MASTER, "gnt-instance failover -f %s" % name)
    assert qa.read_sum(vms, 2, m2) == checksum
    vms.ssh(MASTER, "gnt-instance failover -f %s" % name)
    assert qa.read_sum(vms, 1, m1) == checksum

    vms.ssh(MASTER, "gnt-instance remove -f %s" % name)
    for k in (1, 2, 3):
        assert qa.lvs(vms, k) == {}
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_convert_plain_to_drbd_and_back(cluster):
    vms = cluster
    name = "inst6.example.com"
    n1, n2 = vms.node_name(1), vms.node_name(2)
    vms.ssh(MASTER, "gnt-instance add -t plain -s 64M --ignore-ipolicy -n node1"
            " --no-start -o noop %s" % name)
    (lv,) = _data_lvs(vms, 1)
    checksum = vms.ssh(1, "head -c 8388608 /dev/urandom > /tmp/pattern && dd"
                       " if=/tmp/pattern of=/dev/xenvg/%s bs=1M oflag=direct status=none"
                       " && md5sum < /tmp/pattern" % lv).stdout.split()[0]

    for args, message in [
            # hail is the default allocator where ganeti-htools is installed
            ("-t drbd", "No iallocator or node given" if not os.path.exists(
                "/usr/lib/ganeti/iallocators/hail") else "Choosing the new secondary"
             " node with an iallocator is not supported yet"),
            ("-t drbd -n %s" % n1, "Given new secondary node %s is the same as the"
                                   " primary node of the instance" % n1),
            ("-t diskless", "Conversion to the 'diskless' disk template is not"
                            " supported"),
            ("-t plain", "Instance already has disk template plain"),
            ("-t drbd -n %s --disk 0:mode=ro" % n2, "Disk template conversion and"
                                                    " other disk changes not supported")]:
        proc = vms.ssh(MASTER, "gnt-instance modify --ignore-ipolicy %s %s"
                       % (args, name), check=False)
        assert proc.returncode == 1 and message in proc.stderr, (args, proc.stderr)
    assert _data_lvs(vms, 1) == [lv] and _data_lvs(vms, 2) == []

    proc = vms.ssh(MASTER, "gnt-instance modify --ignore-ipolicy -t drbd -n %s %s"
                   % (n2, name))
    lines = [line for line in _without_progress(proc.stdout)
             if "violates policy: disk-size/0 value 64" not in line]
    assert lines == [
        "Converting disk template from 'plain' to 'drbd'",
        "Creating additional volumes...",
        "Renaming original volumes...",
        "Initializing DRBD devices..."] + _sync_lines(name) + [
        "Modified instance %s" % name,
        " - disk_template -> drbd",
        "Please don't forget that most parameters take effect only at the next"
        " (re)start of the instance initiated by ganeti; restarting from within the"
        " instance will not be enough."], proc.stdout
    assert vms.ssh(MASTER, "gnt-instance list --no-headers -o disk_template,snodes %s"
                   % name).stdout.split() == ["drbd", n2]
    proc = vms.ssh(MASTER, "gnt-instance modify --ignore-ipolicy -t file %s" % name,
                   check=False)
    assert proc.returncode == 1 and "Unsupported disk template conversion from drbd to" \
        " file (drbd converts only to and from plain)" in proc.stderr, proc.stderr
    assert len(_data_lvs(vms, 1)) == 2 and _data_lvs(vms, 2) == _data_lvs(vms, 1)
    # N+1: node2 could not start the instance (minimum memory) if node1 failed
    vms.ssh(MASTER, "gnt-instance modify --ignore-ipolicy -B minmem=60000,maxmem=60000"
            " %s" % name)
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 1
    assert re.search(r"ERROR: node %s: not enough memory to accomodate instance"
                     r" failovers should node %s fail \(60000MiB needed, \d+MiB"
                     r" available\)" % (re.escape(n2), re.escape(n1)), verify.stdout), \
        verify.stdout
    vms.ssh(MASTER, "gnt-instance modify --ignore-ipolicy -B minmem=default,maxmem=default"
            " %s" % name)
    minors, _ = qa.minors(vms, name)
    vms.ssh(MASTER, "gnt-instance activate-disks --wait-for-sync %s" % name)
    m1 = minors[n1]
    assert qa.read_sum(vms, 1, m1) == checksum
    # a stopped instance's failover leaves its disks inactive: activate to read
    vms.ssh(MASTER, "gnt-instance failover -f %s" % name)
    vms.ssh(MASTER, "gnt-instance activate-disks %s" % name)
    assert qa.read_sum(vms, 2, minors[n2]) == checksum
    vms.ssh(MASTER, "gnt-instance failover -f %s" % name)
    vms.ssh(MASTER, "gnt-instance activate-disks %s" % name)

    # the guest's own LVM inside the mirror is not the node's: LVM as the
    # cluster runs it skips DRBD devices (plain pvs, without a filter in
    # lvm.conf, sees the guest's PV)
    vms.ssh(1, "pvcreate -q -y /dev/drbd%d" % m1)
    assert "/dev/drbd%d" % m1 in vms.ssh(1, "pvs --noheadings -o pv_name").stdout
    rows = vms.ssh(MASTER, "gnt-node list-storage -t lvm-pv --no-headers"
                   " --separator='|' -o node,name").stdout.split()
    assert rows == ["%s|/dev/vda" % vms.node_name(k) for k in (1, 2, 3)], rows
    vms.ssh(1, "pvremove -q -y -ff /dev/drbd%d" % m1)
    checksum = qa.read_sum(vms, 1, m1)          # the label changed the first sectors
    vms.ssh(MASTER, "gnt-instance deactivate-disks %s" % name)

    proc = vms.ssh(MASTER, "gnt-instance modify --ignore-ipolicy -t plain %s" % name)
    assert [line for line in qa.log_lines(proc.stdout)
            if "violates policy" not in line][:3] == [
        "Converting disk template from 'drbd' to 'plain'",
        "Removing volumes on the secondary node...",
        "Removing unneeded volumes on the primary node..."], proc.stdout
    (data_lv,) = _data_lvs(vms, 1)
    assert data_lv.endswith(".disk0_data") and _data_lvs(vms, 2) == []
    assert qa.drbd_line(vms, 1, m1) in ("", "cs:Unconfigured")
    assert vms.ssh(1, "dd if=/dev/xenvg/%s bs=1M count=8 iflag=direct status=none"
                   " | md5sum" % data_lv).stdout.split()[0] == checksum

    # plain -> file -> plain: new disks, the data copied into them by the node
    _convert_plain_file_plain(vms, name, checksum)
    vms.ssh(MASTER, "gnt-instance remove -f %s" % name)
    assert qa.lvs(vms, 1) == {} and qa.lvs(vms, 2) == {}
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _image_sum(vms, k, path):
    return vms.ssh(k, "head -c 8388608 %s | md5sum" % path).stdout.split()[0]


def _convert_plain_file_plain(vms, name, checksum):
    """The plain instance ``name`` (on node1, its first 8 MiB summing to
    ``checksum``) to file below --file-storage-dir and back, the data read
    after each copy (generic conversions: cmdlib/template_copy.py)."""
    directory = "/srv/ganeti/file-storage/conv/%s" % name
    proc = vms.ssh(MASTER, "gnt-instance modify --ignore-ipolicy -t file"
                   " --file-storage-dir=conv %s" % name)
    lines = [line for line in qa.log_lines(proc.stdout) if "violates policy" not in line]
    assert lines[:10] == [
        "Converting disk template from 'plain' to 'file'",
        "Generating new 'file' disk template...",
        "Creating new empty disks of type 'file'...",
        "Populating the new empty disks of type 'file'...",
        " - copying data from disk 0 (plain), size 64M",
        "Detaching old disks (plain) from the instance and removing them from cluster"
        " config",
        "Adding new disks (file) to cluster config and attaching them to the instance",
        " - INFO: Waiting for instance %s to sync disks" % name,
        " - INFO: Instance %s's disks are in sync" % name,
        "Removing old block devices of type 'plain'..."], proc.stdout
    assert qa.lvs(vms, 1) == {}
    (image,) = vms.ssh(1, "ls %s" % directory).stdout.split()
    assert image.endswith(".file.disk0")
    assert _image_sum(vms, 1, "%s/%s" % (directory, image)) == checksum
    assert vms.ssh(MASTER, "gnt-instance list --no-headers -o disk_template,disk.sizes"
                   " %s" % name).stdout.split() == ["file", "64"]

    proc = vms.ssh(MASTER, "gnt-instance modify --ignore-ipolicy -t plain %s" % name)
    assert " - copying data from disk 0 (file), size 64M" in qa.log_lines(proc.stdout), \
        proc.stdout
    (lv,) = _data_lvs(vms, 1)
    assert lv.endswith(".disk0")
    assert _image_sum(vms, 1, "/dev/xenvg/%s" % lv) == checksum
    assert vms.ssh(1, "test -e %s" % directory, check=False).returncode == 1
    # the directory given with --file-storage-dir stays, as in Ganeti (verify
    # reports it as unknown): the admin's to remove
    vms.ssh(1, "rmdir %s" % os.path.dirname(directory))


HAIL = "/usr/lib/ganeti/iallocators/hail"
# hail holds placements to the instance policy (Ganeti's default wants disks of
# 1 GiB at least); the QA instances are small
SMALL_BOUNDS = ("min:cpu-count=1,disk-count=1,disk-size=32,memory-size=32,nic-count=0,"
                "spindle-use=1/max:cpu-count=8,disk-count=16,disk-size=1048576,"
                "memory-size=32768,nic-count=8,spindle-use=12")
DEFAULT_BOUNDS = ("min:cpu-count=1,disk-count=1,disk-size=1024,memory-size=128,"
                  "nic-count=1,spindle-use=1/max:cpu-count=8,disk-count=16,"
                  "disk-size=1048576,memory-size=32768,nic-count=8,spindle-use=12")


@pytest.mark.skipif(not os.access(HAIL, os.X_OK),
                    reason="Debian's ganeti-htools (hail) is not installed")
def test_exports_snapshots_and_the_allocator(cluster):
    """A running drbd instance is exported through a snapshot of its data LV (it
    is down only for the snapshot) and imported as a plain instance on the node
    hail (the default allocator) chooses; that one, running, is exported again
    through a snapshot of its LV. Then hail gives the drbd instance a new
    secondary (replace-disks -I) and moves it off its primary (gnt-node
    evacuate -p). The data is the same at every step; no snapshot is left."""
    vms = cluster
    n1, n2, n3 = (vms.node_name(k) for k in (1, 2, 3))
    src, dst = "inst7.example.com", "inst8.example.com"
    assert "  default instance allocator: hail\n" in vms.ssh(MASTER,
                                                             "gnt-cluster info").stdout
    vms.ssh(MASTER, "gnt-cluster modify --ipolicy-bounds-specs %s" % SMALL_BOUNDS)
    vms.ssh(MASTER, "gnt-instance add -t drbd -s 64M -n %s:%s -o noop"
            " --no-name-check --no-ip-check %s" % (n1, n2, src))
    minors, _ = qa.minors(vms, src)
    checksum = qa.write_pattern(vms, 1, minors[n1])
    lvs_before = qa.lvs(vms, 1)

    proc = vms.ssh(MASTER, "gnt-backup export -n %s %s" % (n3, src))
    log = qa.log_lines(proc.stdout)
    assert log[:3] == ["Shutting down instance %s" % src,
                       "Creating a snapshot of disk/0 on node %s" % n1,
                       "Starting instance %s" % src], log
    assert log[3:5] == ["Exporting snapshot/0 from %s to %s" % (n1, n3),
                        "snapshot/0 is now listening, starting export"], log
    assert log[-4:] == ["snapshot/0 finished sending data",
                        "Removing snapshot of disk/0 on node %s" % n1,
                        "Finalizing export on %s" % n3,
                        "Removing old exports for instance %s" % src], log
    assert "snapshot/0 finished receiving data" in log, log
    assert _layout(vms, src) == [n1, n2, "running"]
    assert qa.lvs(vms, 1) == lvs_before          # the snapshot is gone
    export = "/var/lib/ganeti/export/" + src
    files = vms.ssh(3, "ls %s" % export).stdout.split()
    assert "config.ini" in files and len(files) == 2, files
    (image,) = [f for f in files if f != "config.ini"]
    assert _image_sum(vms, 3, "%s/%s" % (export, image)) == checksum
    config = vms.ssh(3, "cat %s/config.ini" % export).stdout
    assert "disk_template = drbd" in config and "disk0_size = 64" in config, config
    rows = vms.ssh(MASTER, "gnt-backup list --no-headers --separator='|'").stdout.split()
    assert "%s|%s" % (n3, src) in rows, rows

    # no -n: hail places the imported instance
    lvs_now = dict((k, qa.lvs(vms, k)) for k in (1, 2, 3))
    proc = vms.ssh(MASTER, "gnt-backup import -t plain --src-node %s --src-dir %s"
                   " --net 0:mac=generate --no-name-check --no-ip-check %s"
                   % (n3, src, dst))
    (node, status) = _layout(vms, dst)
    assert status == "ADMIN_down"             # an import is not started
    assert (" - INFO: Selected nodes for instance %s via iallocator hail: %s"
            % (dst, node)) in qa.log_lines(proc.stdout), proc.stdout
    assert "Running rename script for %s" % dst in qa.log_lines(proc.stdout)
    k = qa.node_k(vms, node)
    (lv,) = [n for n in qa.lvs(vms, k) if n not in lvs_now[k]]
    assert _image_sum(vms, k, "/dev/xenvg/%s" % lv) == checksum
    target = n1 if node != n1 else n2
    # running, it is exported from snapshots of its disks
    vms.ssh(MASTER, "gnt-instance startup %s" % dst)
    proc = vms.ssh(MASTER, "gnt-backup export -n %s %s" % (target, dst))
    log = qa.log_lines(proc.stdout)
    assert "Creating a snapshot of disk/0 on node %s" % node in log, log
    assert "Removing snapshot of disk/0 on node %s" % node in log, log
    assert not [n for n in qa.lvs(vms, k) if n.endswith(".snap")]
    tk = qa.node_k(vms, target)
    image = [f for f in vms.ssh(tk, "ls /var/lib/ganeti/export/%s" % dst).stdout.split()
             if f != "config.ini"][0]
    assert _image_sum(vms, tk, "/var/lib/ganeti/export/%s/%s" % (dst, image)) == checksum
    for name in (src, dst):
        vms.ssh(MASTER, "gnt-backup remove %s" % name)
    vms.ssh(MASTER, "gnt-instance remove -f %s" % dst)
    assert "inst" not in vms.ssh(MASTER, "gnt-backup list").stdout

    # a new secondary chosen by hail: the only node left
    proc = vms.ssh(MASTER, "gnt-instance replace-disks -I hail %s" % src)
    assert (" - INFO: Selected new secondary for instance '%s': %s" % (src, n3)) \
        in qa.log_lines(proc.stdout), proc.stdout
    assert _layout(vms, src) == [n1, n3, "running"]
    assert qa.lvs(vms, 2) == {}                  # the old secondary's are gone
    minors, _ = qa.minors(vms, src)
    _in_sync(vms, 3, minors[n3], "Secondary/Primary")
    # evacuating node1's primaries: hail moves the instance to its secondary
    proc = vms.ssh(MASTER, "gnt-node evacuate -f -p %s" % n1)
    assert any(line.startswith(" - INFO: Instances to be moved: %s (to %s" % (src, n3))
               for line in qa.log_lines(proc.stdout)), proc.stdout
    assert _layout(vms, src) == [n3, n1, "running"]
    minors, _ = qa.minors(vms, src)
    assert qa.read_sum(vms, 3, minors[n3]) == checksum
    vms.ssh(MASTER, "gnt-instance remove -f %s" % src)
    assert qa.lvs(vms, 1) == {} and qa.lvs(vms, 3) == {}
