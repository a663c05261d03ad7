"""The install tutorial on three VM nodes with real LVM: the project's commands as
an admin types them (init with a secondary network and the xenvg volume group,
node add -s, gnt-node list, gnt-os list, a plain instance, a drbd instance,
failover, live migration of a running KVM guest on drbd, and failover
--ignore-consistency when the primary node died),
checked against what LVM and DRBD themselves report on the nodes, with the
data on the mirrored disk checksummed after every step."""

import re

import qa_checks as qa
import qa_guest
from conftest import MASTER, cluster_spoiled


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
    lines = qa.log_lines(out)
    assert lines == ["* disk 0, size 1.0G",
                     "* creating instance disks...",
                     "adding instance %s to cluster config" % name,
                     "adding disks to cluster config",
                     " - INFO: Waiting for instance %s to sync disks" % name,
                     " - INFO: Instance %s's disks are in sync" % name,
                     " - INFO: Waiting for instance %s to sync disks" % name,
                     " - INFO: Instance %s's disks are in sync" % name,
                     "* running the instance OS create scripts...",
                     "* starting instance..."], out
    lvs = qa.lvs(vms, 1)
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
    assert float(qa.lvs(vms, 1)[lv_name]) == 1536.0
    vms.ssh(MASTER, "gnt-instance shutdown %s" % name)
    vms.ssh(MASTER, "gnt-instance startup %s" % name)
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # a volume nobody owns is reported (a warning); a reserved one is not
    vms.ssh(2, "lvcreate -q -y -Wn -L 8m -n stray xenvg && lvcreate -q -y -Wn -L 8m"
            " -n kept xenvg")
    vms.ssh(MASTER, "gnt-cluster modify --reserved-lvs=xenvg/kept")
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    warnings = [l for l in qa.log_lines(verify.stdout) if "WARNING" in l]
    assert warnings == ["  - WARNING: node node2.example.com: volume xenvg/stray is"
                        " unknown"], verify.stdout
    vms.ssh(2, "lvremove -q -f xenvg/stray xenvg/kept")
    vms.ssh(MASTER, "gnt-cluster modify --reserved-lvs=")
    # a volume of the instance gone: an error naming it
    vms.ssh(1, "lvremove -q -f xenvg/%s" % lv_name)
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 1
    assert "  - ERROR: instance %s: volume xenvg/%s missing on node %s" % (
        name, lv_name, vms.node_name(1)) in qa.log_lines(verify.stdout), verify.stdout
    vms.ssh(MASTER, "gnt-instance remove -f %s" % name)
    assert qa.lvs(vms, 1) == {}


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
    assert qa.lvs(vms, 1) == {}
    listing = vms.ssh(MASTER, "gnt-instance list --no-headers -o name").stdout
    assert "inst2" not in listing


def test_drbd_instance_and_failover(cluster):
    vms = cluster
    name = "inst2.example.com"
    out = vms.ssh(MASTER, "gnt-instance add -t drbd -s 1G -n node1:node2 -o noop %s"
                  % name).stdout
    lines = qa.log_lines(out)
    assert lines[:5] == ["* disk 0, size 1.0G",
                         "* creating instance disks...",
                         "adding instance %s to cluster config" % name,
                         "adding disks to cluster config",
                         " - INFO: Waiting for instance %s to sync disks" % name], out
    progress = [l for l in lines if l.startswith(" - INFO: - device disk/0: ")]
    for line in progress:
        assert re.match(r"^ - INFO: - device disk/0: [ \d]?\d?\d\.\d\d% done, "
                        r"((\d+[dhm] )*\d+s remaining \(estimated\)|no time estimate)$",
                        line), line
    assert " - INFO: Instance %s's disks are in sync" % name in lines, out
    assert "* starting instance..." in lines, out
    for k in (1, 2):
        lvs = qa.lvs(vms, k)
        assert sorted(float(v) for v in lvs.values()) == [128.0, 1024.0], lvs
        assert all(re.match(r"^[0-9a-f-]{36}\.disk0_(data|meta)$", n) for n in lvs)
    assert qa.lvs(vms, 3) == {}
    minors, info = qa.minors(vms, name)
    assert re.search(r"    - disk/0: drbd, size 1.0G\n      access mode: rw\n"
                     r"      nodeA: node1.example.com, minor=\d+\n"
                     r"      nodeB: node2.example.com, minor=\d+\n      port: 110\d\d\n"
                     r"      on primary: /dev/drbd\d+ \(147:\d+\) in sync, status ok\n"
                     r"      on secondary: /dev/drbd\d+ \(147:\d+\) in sync, status ok\n",
                     info), info
    assert "      child devices: \n        - child 0: plain, size 1.0G\n" in info, info
    m1, m2 = minors[vms.node_name(1)], minors[vms.node_name(2)]
    assert qa.drbd_line(vms, 1, m1).startswith("cs:Connected ro:Primary/Secondary"
                                             " ds:UpToDate/UpToDate C")
    assert qa.drbd_line(vms, 2, m2).startswith("cs:Connected ro:Secondary/Primary"
                                             " ds:UpToDate/UpToDate C")
    checksum = qa.write_pattern(vms, 1, m1)

    out = vms.ssh(MASTER, "gnt-instance failover -f %s" % name).stdout
    assert qa.log_lines(out) == [
        "Failover instance %s" % name,
        "* checking disk consistency between source and target",
        "* shutting down instance on source node",
        "* deactivating the instance's disks on source node",
        "* activating the instance's disks on target node %s" % vms.node_name(2),
        "* starting the instance on the target node %s" % vms.node_name(2)], out
    rows = vms.ssh(MASTER, "gnt-instance list --no-headers -o pnode,snodes,status %s"
                   % name).stdout.split()
    assert rows == [vms.node_name(2), vms.node_name(1), "running"]
    assert qa.drbd_line(vms, 2, m2).startswith("cs:Connected ro:Primary/Secondary")
    assert qa.read_sum(vms, 2, m2) == checksum
    vms.ssh(MASTER, "gnt-instance failover -f %s" % name)
    assert qa.read_sum(vms, 1, m1) == checksum

    # migrate: both halves primary while the (fake) instance moves
    out = vms.ssh(MASTER, "gnt-instance migrate -f %s" % name).stdout
    lines = [l for l in qa.log_lines(out) if not l.startswith("   - progress")]
    n1, n2 = vms.node_name(1), vms.node_name(2)
    assert lines == [
        "Migrating instance %s" % name,
        "* checking disk consistency between source and target",
        "* closing instance disks on node %s" % n2,
        "* changing into standalone mode",
        "* changing disks into dual-master mode",
        "* wait until resync is done",
        "* opening instance disks on node %s in shared mode" % n1,
        "* opening instance disks on node %s in shared mode" % n2,
        "* preparing %s to accept the instance" % n2,
        "* migrating instance to %s" % n2,
        "* starting memory transfer",
        "* memory transfer complete",
        "* closing instance disks on node %s" % n1,
        "* wait until resync is done",
        "* changing into standalone mode",
        "* changing disks into single-master mode",
        "* wait until resync is done",
        "* done"], out
    rows = vms.ssh(MASTER, "gnt-instance list --no-headers -o pnode,snodes,status %s"
                   % name).stdout.split()
    assert rows == [n2, n1, "running"]
    assert qa.drbd_line(vms, 2, m2).startswith("cs:Connected ro:Primary/Secondary"
                                             " ds:UpToDate/UpToDate")
    assert qa.read_sum(vms, 2, m2) == checksum
    # the node commands: everything off node2 (migrate), then back (failover)
    out = vms.ssh(MASTER, "gnt-node migrate -f %s" % n2).stdout
    assert out.splitlines()[-1] == "All instances migrated successfully.", out
    assert qa.drbd_line(vms, 1, m1).startswith("cs:Connected ro:Primary/Secondary")
    assert qa.read_sum(vms, 1, m1) == checksum
    out = vms.ssh(MASTER, "gnt-node failover -f %s" % n1).stdout
    assert out.splitlines()[-1] == "All 1 instance(s) failed over successfully.", out
    assert qa.read_sum(vms, 2, m2) == checksum
    vms.ssh(MASTER, "gnt-instance failover -f %s" % name)
    assert qa.read_sum(vms, 1, m1) == checksum

    vms.ssh(MASTER, "gnt-instance grow-disk %s 0 128M" % name)
    assert sorted(float(v) for v in qa.lvs(vms, 2).values()) == [128.0, 1152.0]
    size = vms.ssh(1, "blockdev --getsize64 /dev/drbd%d" % m1).stdout.strip()
    assert int(size) == 1152 << 20
    assert qa.read_sum(vms, 1, m1) == checksum
    verify = vms.ssh(MASTER, "gnt-cluster verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    vms.ssh(MASTER, "gnt-instance remove -f %s" % name)
    for k in (1, 2):
        assert qa.lvs(vms, k) == {}
        assert qa.drbd_line(vms, k, minors[vms.node_name(k)]) in ("", "cs:Unconfigured")


def test_drbd_live_migration_of_a_kvm_guest(cluster):
    """A running KVM guest (qemu in TCG, booted by its BIOS from the DRBD disk
    its OS definition wrote) moves to the secondary and back: live, then
    --non-live. Its console shows the same boot with a growing count after each
    move, so it ran on and was not started again."""
    vms = cluster
    name = "inst4.example.com"
    n1, n2 = vms.node_name(1), vms.node_name(2)
    for k in (1, 2, 3):
        qa_guest.install_os(vms, k)
    vms.ssh(MASTER, "gnt-cluster modify --enabled-hypervisors=fake,kvm")
    vms.ssh(MASTER, "gnt-instance add -t drbd -s 128M --ignore-ipolicy -n node1:node2"
            " -o %s -H %s -B memory=128M %s" % (qa_guest.OS_NAME, qa_guest.hvparams(), name))
    first = qa_guest.ticks(qa_guest.read_console(vms, 1, name, 2))
    assert len(first) >= 2, first
    boot, count = first[-1]
    minors, _ = qa.minors(vms, name)

    out = vms.ssh(MASTER, "gnt-instance migrate -f %s" % name).stdout
    lines = qa.log_lines(out)
    assert "* starting memory transfer" in lines and lines[-1] == "* done", out
    rows = vms.ssh(MASTER, "gnt-instance list --no-headers -o pnode,snodes,status,"
                   "oper_state %s" % name).stdout.split()
    assert rows == [n2, n1, "running", "Y"]
    after = qa_guest.ticks(qa_guest.read_console(vms, 2, name, 2))
    assert after and all(b == boot for b, _ in after), (first, after)
    assert after[0][1] > count, (first, after)
    assert qa.drbd_line(vms, 2, minors[n2]).startswith("cs:Connected ro:Primary/Secondary")
    assert vms.ssh(1, "pgrep -f 'qemu-system.*-name %s'" % name, check=False).stdout == ""

    vms.ssh(MASTER, "gnt-instance migrate -f --non-live %s" % name)
    back = qa_guest.ticks(qa_guest.read_console(vms, 1, name, 2))
    assert back and all(b == boot for b, _ in back), (after, back)
    assert back[0][1] > after[-1][1], (after, back)
    rows = vms.ssh(MASTER, "gnt-instance list --no-headers -o pnode,status %s"
                   % name).stdout.split()
    assert rows == [n1, "running"]
    assert vms.ssh(2, "pgrep -f 'qemu-system.*-name %s'" % name, check=False).stdout == ""

    # the guest has no ACPI: no use waiting for it to power off
    vms.ssh(MASTER, "gnt-instance remove -f --shutdown-timeout=0 %s" % name)
    for k in (1, 2):
        assert qa.lvs(vms, k) == {}


def test_drbd_failover_when_the_primary_dies(cluster):
    """The primary's VM is killed; the admin marks it offline and fails the
    instance over with --ignore-consistency: the data is there on the survivor.
    (Runs last: node3's VM stays down, and the cluster is made anew if
    another module follows.)"""
    vms = cluster
    cluster_spoiled()
    name = "inst3.example.com"
    vms.ssh(MASTER, "gnt-instance add -t drbd -s 128M --ignore-ipolicy -n node3:node2"
            " -o noop %s" % name)
    minors, _ = qa.minors(vms, name)
    checksum = qa.write_pattern(vms, 3, minors[vms.node_name(3)])
    vms.kill_vm(3)
    vms.ssh(MASTER, "gnt-node modify -O yes --force %s" % vms.node_name(3))
    proc = vms.ssh(MASTER, "gnt-instance failover -f --ignore-consistency %s" % name,
                   tty=True, input_text="y\n", timeout=300)
    assert "Failover instance %s" % name in proc.stdout, proc.stdout
    rows = vms.ssh(MASTER, "gnt-instance list --no-headers -o pnode,status %s"
                   % name).stdout.split()
    assert rows == [vms.node_name(2), "running"]
    assert qa.read_sum(vms, 2, minors[vms.node_name(2)]) == checksum
