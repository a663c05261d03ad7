"""The ``ext`` disk template on a two-node namespace cluster.

Both nodes have the ExtStorage provider "shared" of test/es_provider.py in
their search path: its volumes are files in one directory both nodes see (as
a SAN's volumes), which attach maps on a node by printing the file's path;
each call leaves a trace, so the test sees which node mapped, opened and
detached which volume. Instances on it (fake hypervisor) are created with the
OS running on the volume, grown, given and relieved of disks, renamed, failed
over and migrated between the nodes and removed; refusals and a failing
provider leave nothing behind. The provider "half" is valid on the first node
only. A QEMU guest (TCG) sees its ext volume (a regular file) as its disk
and keeps running through a live migration to the other node.
"""

import os
import re
import sys
import time

import pytest

import kvm_guest
import netns_cluster

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import es_provider  # noqa: E402
import test_sharedfile_migration_runs as sfm  # noqa: E402
from test_sharedfile_migration_runs import (  # noqa: E402,F401 (guest: a fixture)
    _hv_arg, _log_lines as _log, _row, _ticks, guest)

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
VOLUME = re.compile(r"^[0-9a-f-]{36}\.ext\.disk\d+$")


@pytest.fixture(scope="module")
def ec():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    vc = netns_cluster.NetnsCluster(2, prefix="gnte")
    try:
        vc.voldir = os.path.join(vc.base, "ext-volumes")
        for node in vc.nodes:
            short = node.name.split(".")[0]
            search_dir = node.path(es_provider.ES_DIR)
            es_provider.install(search_dir, "shared", vc.voldir, node=short)
            es_provider.install(search_dir, "half", vc.voldir, node=short,
                                skip=("grow",) if node is vc.nodes[1] else ())
        vc.init("--enabled-hypervisors=fake,kvm",
                "--enabled-disk-templates=ext,file,diskless")
        vc.master.run("gnt-node", "add", vc.nodes[1].name, check=True)
        # Ganeti's answers without an instance allocator
        vc.master.run("gnt-cluster", "modify", "-I", "", check=True)
        # kvm checks the bridges of its NICs, and verify the default NIC's: this
        # machine has none (the instances here have no NICs)
        vc.master.run("gnt-cluster", "modify", "-N", "mode=routed", check=True)
        yield vc
    finally:
        vc.cleanup()


def _add(node, name, *extra):
    return node.run("gnt-instance", "add", "-t", "ext", "-o", "noop", "--no-name-check",
                    "--no-ip-check", "--no-nics", *extra, name)


def _fails(proc, message):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stderr, proc.stderr


def _short(node):
    return node.name.split(".")[0]


def _mapped(ec, volume):
    """The nodes (short names) on which ``volume`` is attached."""
    return sorted(n.split(".map.")[1] for n in os.listdir(os.path.join(ec.voldir, "trace"))
                  if n.startswith(volume + ".map."))


def _read(ec, name):
    with open(es_provider.trace(ec.voldir, name)) as fd:
        return fd.read()


def _verify_passes(m, timeout=30):
    """gnt-cluster verify has nothing to say about the ext instances; what it
    may report for a moment after a change is a node's config.data copy not
    yet rewritten (they are written from etcd off the jobs' path)."""
    deadline = time.time() + timeout
    while True:
        verify = m.run("gnt-cluster", "verify")
        if verify.returncode == 0:
            return
        errors = [line for line in verify.stdout.splitlines() if "ERROR" in line]
        assert all("found with different checksum" in line for line in errors), \
            verify.stdout + verify.stderr
        assert time.time() < deadline, verify.stdout + verify.stderr
        time.sleep(1)


def _disk_ids(m, name):
    """[(provider, volume)] of the instance's disks, from gnt-instance info
    (--static: a look-up of the volumes would attach them, as in Ganeti)."""
    info = m.run("gnt-instance", "info", "--static", name, check=True).stdout
    return re.findall(r"logical_id: \['([^']+)', '([^']+)'\]", info)


def test_life_of_an_ext_instance(ec):
    m, n2 = ec.nodes
    name = "ext1.example.com"
    proc = _add(m, name, "-n", m.name, "--disk", "0:size=64M,provider=shared,pool=fast")
    assert proc.returncode == 0, proc.stderr
    ((provider, vol),) = _disk_ids(m, name)
    assert provider == "shared" and VOLUME.match(vol), vol
    path = os.path.join(ec.voldir, vol)
    assert os.path.getsize(path) == 64 << 20
    env = es_provider.last_env(ec.voldir, vol, "create")
    assert env["VOL_SIZE"] == "64" and env["EXTP_POOL"] == "fast"
    assert (env["EXTP_PROVIDER"], env["EXTP_ACCESS"]) == ("shared", "kernelspace")
    assert env["VOL_UUID"] == vol.split(".")[0]
    assert _read(ec, vol + ".info") == "originstname+" + name
    # created, the OS ran on it, started: attached on the primary, opened exclusively
    assert _row(m, name, "disk_template,pnode,snodes,disk.sizes,status") == [
        "ext", m.name, "", "64", "running"]
    assert _mapped(ec, vol) == [_short(m)]
    assert _read(ec, vol + ".open." + _short(m)) == "True\n"
    info = m.run("gnt-instance", "info", name, check=True).stdout
    assert "    - disk/0: ext, size 64M\n      access mode: rw\n" in info, info
    assert "      on primary: %s (N/A:N/A)\n" % path in info, info

    # the hypervisor opens the volume through the disk link
    link = m.path("/var/run/ganeti/instance-disks/%s:0" % name)
    assert os.readlink(link) == path

    proc = m.run("gnt-instance", "grow-disk", name, "0", "32M", check=True)
    assert os.path.getsize(path) == 96 << 20
    env = es_provider.last_env(ec.voldir, vol, "grow")
    assert (env["VOL_SIZE"], env["VOL_NEW_SIZE"]) == ("64", "96")
    assert _row(m, name, "disk.sizes") == ["96"]

    m.run("gnt-instance", "shutdown", "--timeout=0", name, check=True)
    assert _mapped(ec, vol) == []
    assert not os.path.lexists(link)
    # disks added and removed, provider parameters changed (stopped instance)
    proc = m.run("gnt-instance", "modify", "--disk", "add:size=32M,provider=half,x=1",
                 name, check=True)
    assert " - disk/1 -> add:size=32,mode=rw" in proc.stdout, proc.stdout
    (_, vol1) = _disk_ids(m, name)[1]
    assert os.path.getsize(os.path.join(ec.voldir, vol1)) == 32 << 20
    assert _read(ec, vol1 + ".info") == "originstname+" + name
    assert _mapped(ec, vol1) == []          # the instance's disks are not active
    proc = m.run("gnt-instance", "modify", "--disk", "1:x=2,y=3", name, check=True)
    assert " - disk.params:x/1 -> 2" in proc.stdout, proc.stdout
    m.run("gnt-instance", "activate-disks", name, check=True)
    assert es_provider.last_env(ec.voldir, vol1, "attach")["EXTP_Y"] == "3"
    assert _mapped(ec, vol1) == [_short(m)]
    m.run("gnt-instance", "deactivate-disks", name, check=True)
    assert _mapped(ec, vol) == _mapped(ec, vol1) == []
    _fails(m.run("gnt-instance", "modify", "--disk", "1:provider=shared", name),
           "Disk 'provider' parameter change is not possible")
    proc = m.run("gnt-instance", "modify", "--disk", "1:remove", name, check=True)
    assert not os.path.exists(os.path.join(ec.voldir, vol1))
    assert es_provider.volumes(ec.voldir) == [vol]

    # a lost volume is made anew (empty), with its recorded size
    os.unlink(path)
    m.run("gnt-instance", "recreate-disks", name, check=True)
    assert os.path.getsize(path) == 96 << 20
    assert _mapped(ec, vol) == []

    # renamed: the volume learns its instance's new name
    new = "ext1r.example.com"
    m.run("gnt-instance", "rename", "-f", "--no-name-check", "--no-ip-check", name, new,
          check=True)
    assert _read(ec, vol + ".info") == "originstname+" + new
    m.run("gnt-instance", "startup", new, check=True)
    assert _mapped(ec, vol) == [_short(m)]

    _verify_passes(m)
    proc = m.run("gnt-cluster", "verify-disks", check=True)
    assert "No disks need to be activated." in proc.stdout, proc.stdout

    m.run("gnt-instance", "remove", "-f", new, check=True)
    assert es_provider.volumes(ec.voldir) == []
    assert _mapped(ec, vol) == []
    journal = [(node, action) for node, action, v in es_provider.journal(ec.voldir)
               if v == vol]
    assert journal[-2:] == [(_short(m), "detach"), (_short(m), "remove")]


# sharedfile's steps, and Ganeti's line for volumes a node maps (rbd, ext)
MIGRATE_STEPS = sfm.MIGRATE_STEPS[:-1] + [
    "* unmapping instance's disks data from {src}", "* done"]


def test_migrate_and_failover_move_the_volumes_mapping(ec):
    m, n2 = ec.nodes
    name = "ext2.example.com"
    _add(m, name, "-n", m.name, "--disk", "0:size=16M,provider=shared,name=data")
    ((_, vol),) = _disk_ids(m, name)
    try:
        _fails(m.run("gnt-instance", "migrate", "-f", name),
               "No iallocator or node given and no cluster-wide default iallocator")
        proc = m.run("gnt-instance", "migrate", "-f", "-n", n2.name, name, check=True)
        expected = [s.format(name=name, src=m.name, dst=n2.name) for s in MIGRATE_STEPS]
        assert _log(proc.stdout) == expected, proc.stdout
        assert _row(m, name, "pnode,status") == [n2.name, "running"]
        assert _mapped(ec, vol) == [_short(n2)]
        assert _read(ec, vol + ".open." + _short(n2)) == "True\n"
        assert not os.path.exists(es_provider.trace(ec.voldir,
                                                    vol + ".open." + _short(m)))
        # both nodes had it open while the memory moved, then the target alone
        src, dst = _short(m), _short(n2)
        opens = [(node, action) for node, action, v in es_provider.journal(ec.voldir)
                 if v == vol and action in ("open", "close")]
        assert opens[-6:] == [(dst, "close"), (src, "open"), (dst, "open"),
                              (src, "close"), (dst, "open"), (src, "close")], opens

        proc = m.run("gnt-instance", "failover", "-f", "-n", m.name, name, check=True)
        assert "* starting the instance on the target node %s" % m.name in proc.stdout
        assert _row(m, name, "pnode,status") == [m.name, "running"]
        assert _mapped(ec, vol) == [_short(m)]
        # a stopped instance moves without being mapped anywhere
        m.run("gnt-instance", "shutdown", "--timeout=0", name, check=True)
        m.run("gnt-instance", "failover", "-f", "-n", n2.name, name, check=True)
        assert _row(m, name, "pnode,status") == [n2.name, "ADMIN_down"]
        assert _mapped(ec, vol) == []
        m.run("gnt-instance", "startup", name, check=True)
        assert _mapped(ec, vol) == [_short(n2)]
    finally:
        m.run("gnt-instance", "remove", "-f", name, check=True)
    assert es_provider.volumes(ec.voldir) == []


def test_refusals_and_failures_leave_nothing_behind(ec):
    m, n2 = ec.nodes
    name = "ext3.example.com"
    before = es_provider.journal(ec.voldir)
    for extra, message in [
            (["--disk", "0:size=16M"], "Missing provider for template 'ext'"),
            (["--disk", "0:size=16M,provider=nosuch"],
             "ExtStorage provider 'nosuch' is not valid on node %s: Directory for"
             " External Storage Provider nosuch not found in search path" % m.name),
            (["--disk", "0:size=16M,provider=../x"], "Invalid ExtStorage provider name"),
            (["--disk", "0:size=16M,provider=shared,access=userspace"],
             "Userspace access to ext disks is not supported"),
            (["-t", "file", "--disk", "0:size=16M,provider=shared"],
             "The 'provider' option is only valid for the ext disk template, not file")]:
        _fails(_add(m, name, "-n", m.name, *extra), message)
    # "half" lacks its grow script on the second node
    _fails(_add(m, name, "-n", n2.name, "--disk", "0:size=16M,provider=half"),
           "ExtStorage provider 'half' is not valid on node %s: File 'grow' under path"
           " '%s/half' is missing (ENOENT)" % (n2.name, n2.path(es_provider.ES_DIR)))
    assert es_provider.journal(ec.voldir) == before        # no script ran

    # the provider's create fails: its words reach the user; no instance, no volume
    proc = _add(m, name, "-n", m.name, "--disk", "0:size=16M,provider=shared,fail=full")
    _fails(proc, "External storage's create script failed (exited with exit code 1),"
                 " last lines of output:\ncreate refused: full")
    # made, but it cannot be attached: removed again
    proc = _add(m, name, "-n", m.name, "--disk",
                "0:size=16M,provider=shared,fail_attach=yes")
    _fails(proc, "cannot be attached")
    assert m.run("gnt-instance", "list", "--no-headers", "-o", "name",
                 check=True).stdout == ""
    assert es_provider.volumes(ec.voldir) == []

    # an instance on "half" cannot move to the node where it is broken
    _add(m, name, "-n", m.name, "--disk", "0:size=16M,provider=half")
    try:
        for cmd in ("migrate", "failover"):
            _fails(m.run("gnt-instance", cmd, "-f", "-n", n2.name, name),
                   "ExtStorage provider 'half' is not valid on node %s" % n2.name)
        assert _row(m, name, "pnode,status") == [m.name, "running"]
        m.run("gnt-instance", "shutdown", "--timeout=0", name, check=True)
        _fails(m.run("gnt-instance", "modify", "--disk", "add:size=16M", name),
               "Missing provider for template 'ext'")
        _fails(m.run("gnt-instance", "modify", "--disk", "add:size=16M,provider=nosuch",
                     name), "ExtStorage provider 'nosuch' is not valid on node")
        assert len(_disk_ids(m, name)) == 1
    finally:
        m.run("gnt-instance", "remove", "-f", name, check=True)
    assert es_provider.volumes(ec.voldir) == []


def test_an_instance_created_stopped_leaves_its_volume_unmapped(ec):
    m = ec.master
    name = "ext4.example.com"
    for extra in (["--no-start"], ["--no-start", "--no-install"]):
        proc = _add(m, name, "-n", m.name, "--disk", "0:size=16M,provider=shared",
                    *extra)
        assert proc.returncode == 0, proc.stderr
        ((_, vol),) = _disk_ids(m, name)
        assert _row(m, name, "status") == ["ADMIN_down"]
        assert _mapped(ec, vol) == []
        m.run("gnt-instance", "remove", "-f", name, check=True)
    assert es_provider.volumes(ec.voldir) == []


def test_kvm_guest_on_an_ext_volume_migrates_live(ec, guest):
    m, n2 = ec.nodes
    name = "extkvm.example.com"
    serial = "/var/run/ganeti/kvm-hypervisor/ctrl/%s.serial" % name
    proc = _add(m, name, "-n", m.name, "--disk", "0:size=16M,provider=shared",
                "-H", _hv_arg(guest))
    assert proc.returncode == 0, proc.stderr
    ((_, vol),) = _disk_ids(m, name)
    try:
        before = kvm_guest.SerialReader(m.path(serial))
        before.wait_for("GANETI-TEST-TICK", timeout=120, count=2)
        before.close()
        # the guest has the volume as its (virtio) disk
        assert re.search(r"GANETI-TEST-DISKS .*\bvda\b", before.text), before.text
        m.run("gnt-instance", "migrate", "-f", "-n", n2.name, name, check=True,
              timeout=300)
        assert _row(m, name, "pnode,status") == [n2.name, "running"]
        assert _mapped(ec, vol) == [_short(n2)]
        after = kvm_guest.SerialReader(n2.path(serial))
        # (as long as the boot may take: a TCG guest on a loaded machine may be
        # starved for a while after the move; see test_sharedfile_migration_runs)
        after.wait_for("GANETI-TEST-TICK", timeout=120, count=2)
        after.close()
        assert "GANETI-TEST-BOOTED" not in after.text
        assert min(_ticks(after.text)) > max(_ticks(before.text))
    finally:
        m.run("gnt-instance", "remove", "-f", "--shutdown-timeout=5", name, timeout=120)
    assert es_provider.volumes(ec.voldir) == []
