"""storage.lvm against a fake LVM at the process boundary.

The fake answers as LVM 2.03 (Debian 12) does; its texts were recorded on the QA
VM nodes (see test/qa): lvs/vgs rows in --noheadings --separator=, form, and the
error messages of a missing LV and of a VG without the space asked for.
"""

import pytest

from ganeti import errors
from ganeti.storage import base, lvm
from ganeti.utils import process


NO_GLOBAL_FILTER = "  Configuration node devices/global_filter not found\n"


def unfiltered(argv):
    """An LVM command without the device filter every one of them must carry
    (None for the lvmconfig call that reads lvm.conf's own filter)."""
    if argv[0] == "lvmconfig":
        assert list(argv) == ["lvmconfig", "devices/global_filter"]
        return None
    assert argv[1] == "--config" and '"r|^/dev/drbd[0-9]+$|"' in argv[2], argv
    return [argv[0]] + list(argv[3:])


class FakeLvm:
    """One volume group ``xenvg`` of ``size`` MiB with LVs {name: MiB}."""

    def __init__(self, size=4092, lvs=None):
        self.size = size
        self.lvs = dict(lvs or {})
        self.tags = {}
        self.calls = []

    def free(self):
        return self.size - sum(self.lvs.values())

    def __call__(self, argv, env=None, timeout=None, **kwargs):
        argv = unfiltered(argv)
        if argv is None:                # lvmconfig: lvm.conf sets no global filter
            return process.RunResult([], 5, None, "", NO_GLOBAL_FILTER)
        self.calls.append(list(argv))
        assert env and env.get("LC_ALL") == "C"
        cmd = argv[0]
        if cmd == "vgs":
            if argv[-1] != "xenvg":
                return self._fail(5, '  Volume group "%s" not found\n' % argv[-1])
            return self._ok("  xenvg,%.2f\n" % self.free())
        if cmd == "lvs":
            vg, _, name = argv[-1].partition("/")
            if vg != "xenvg" or name not in self.lvs:
                return self._fail(5, '  Failed to find logical volume "%s"\n' % argv[-1])
            fields = argv[argv.index("-o") + 1].split(",")
            row = {"lv_attr": "-wi-a-----", "lv_size": "%.2f" % self.lvs[name]}
            return self._ok("  " + ",".join(row[f] for f in fields) + "\n")
        if cmd == "lvcreate":
            size = int(argv[argv.index("-L") + 1].rstrip("m"))
            name = argv[argv.index("-n") + 1]
            vg = argv[argv.index("-n") + 2]
            if vg != "xenvg":
                return self._fail(5, '  Volume group "%s" not found\n  Cannot process'
                                     ' volume group %s\n' % (vg, vg))
            if name in self.lvs:
                return self._fail(5, '  Logical Volume "%s" already exists in volume'
                                     ' group "xenvg"\n' % name)
            if size > self.free():
                return self._fail(5, '  Volume group "xenvg" has insufficient free space'
                                     ' (%d extents): %d required.\n'
                                  % (self.free() // 4, size // 4))
            self.lvs[name] = size
            return self._ok('  Logical volume "%s" created.\n' % name)
        if cmd == "lvremove":
            del self.lvs[argv[-1].split("/")[1]]
            return self._ok("")
        if cmd == "lvextend":
            self.lvs[argv[-1].split("/")[1]] += int(argv[2].strip("+m"))
            return self._ok("")
        if cmd == "lvrename":
            self.lvs[argv[3]] = self.lvs.pop(argv[2])
            return self._ok("")
        if cmd == "lvchange":
            if argv[1] == "--addtag":
                self.tags[argv[3]] = argv[2]
            return self._ok("")
        raise AssertionError("unexpected command %r" % argv)

    @staticmethod
    def _ok(out):
        return process.RunResult([], 0, None, out, "")

    @staticmethod
    def _fail(code, err):
        return process.RunResult([], code, None, "", err)


@pytest.fixture
def fake(monkeypatch):
    lvm_fake = FakeLvm()
    monkeypatch.setattr(process, "run_cmd", lvm_fake)
    return lvm_fake


def test_create_find_grow_rename_remove(fake):
    dev = lvm.LogicalVolume.create(["xenvg", "u1.disk0"], [], 1024, None,
                                   {"stripes": 1}, False, {})
    assert dev.attached and dev.dev_path == "/dev/xenvg/u1.disk0"
    # lvcreate alone: no lvs or vgs before or after it
    assert [c[:7] for c in fake.calls] == [
        ["lvcreate", "-y", "-Wn", "-Zn", "-L", "1024m", "-n"]]
    assert dev.get_actual_size() == 1024 * base.MIB
    dev.set_info("originstname+inst1.example.com")
    assert fake.tags == {"xenvg/u1.disk0": "originstname+inst1.example.com"}
    dev.grow(512, False, True, False)
    assert fake.lvs["u1.disk0"] == 1536
    with pytest.raises(errors.BlockDeviceError, match="Not enough free space"):
        dev.grow(100000, True, True, False)
    dev.rename(["xenvg", "u2.disk0"])
    assert dev.dev_path == "/dev/xenvg/u2.disk0" and "u2.disk0" in fake.lvs
    with pytest.raises(errors.BlockDeviceError, match="Cannot move"):
        dev.rename(["othervg", "u2.disk0"])
    status = dev.get_sync_status()
    assert not status["is_degraded"] and status["ldisk_status"] == base.LDS_OKAY
    dev.remove()
    assert fake.lvs == {} and not dev.attached
    dev.remove()                                   # gone already: fine


def test_missing_lv_and_vg(fake):
    dev = lvm.LogicalVolume(["xenvg", "nothere"], [], 1, {}, {})
    assert not dev.attached
    with pytest.raises(errors.BlockDeviceError, match="Volume group novg not found"):
        lvm.LogicalVolume.create(["novg", "x"], [], 16, None, {}, False, {})
    assert lvm.vg_free("xenvg") == 4092 and lvm.vg_free("novg") is None


def test_create_refuses_without_space_or_twice(fake):
    with pytest.raises(errors.BlockDeviceError,
                       match="required 9000 MiB, available 4092 MiB"):
        lvm.LogicalVolume.create(["xenvg", "big"], [], 9000, None, {}, False, {})
    lvm.LogicalVolume.create(["xenvg", "a"], [], 16, None, {}, False, {})
    with pytest.raises(errors.BlockDeviceError, match="already exists"):
        lvm.LogicalVolume.create(["xenvg", "a"], [], 16, None, {}, False, {})
    assert fake.lvs == {"a": 16}


@pytest.mark.parametrize("name", ["", "-x", "a/b", "a b", "snapshot", "x_mlog", "..",
                                  "pvmove0_rimage"[:6] + "_rimage"])
def test_bad_names_are_refused_before_any_command(fake, name):
    with pytest.raises(errors.BlockDeviceError):
        lvm.LogicalVolume(["xenvg", name], [], 1, {}, {})
    assert fake.calls == []


def test_degraded_when_lvm_reports_partial(fake):
    fake.lvs["p"] = 8
    dev = lvm.LogicalVolume(["xenvg", "p"], [], 8, {}, {})
    assert dev.attached                 # read from lvs (lazily), then a lost PV
    dev.attr = "-wi-a---p-"
    status = dev.get_sync_status()
    assert status["is_degraded"] and status["ldisk_status"] == base.LDS_FAULTY


def test_the_device_filter_keeps_lvm_out_of_drbd_devices(monkeypatch):
    """Every LVM command rejects /dev/drbdN first, then applies lvm.conf's own
    global filter (read once with lvmconfig, as LVM 2.03 prints it)."""
    calls = []

    def run(argv, env=None, timeout=None, **kwargs):
        calls.append(list(argv))
        return process.RunResult([], 0, None, 'global_filter=["a|^/dev/vd.*|","r|.*|"]\n',
                                 "")
    monkeypatch.setattr(process, "run_cmd", run)
    monkeypatch.setattr(lvm, "_filter_config", None)
    argv = lvm.with_filter(["pvs", "--noheadings"])
    assert argv == ["pvs", "--config", 'devices { global_filter = [ "r|^/dev/drbd[0-9]+$|",'
                    ' "a|^/dev/vd.*|", "r|.*|" ] }', "--noheadings"]
    lvm.with_filter(["vgs"])
    assert calls == [["lvmconfig", "devices/global_filter"]]


def test_each_operation_reads_a_volume_once(fake):
    """lvs runs once per volume and request: removing a disk reuses what finding
    it read, and activating an LV that lvs showed active runs no lvchange (in
    a TCG VM every LVM command costs about half a second)."""
    from ganeti import objects, storage
    fake.lvs.update({"u1.disk0": 64, "u2.disk0": 64})
    for name in ("u1.disk0", "u2.disk0"):
        disk = objects.Disk(dev_type="plain", logical_id=["xenvg", name], size=64,
                            children=[])
        fake.calls.clear()
        storage.assemble_device(disk)
        assert [c[0] for c in fake.calls] == ["lvs"], fake.calls
        fake.calls.clear()
        storage.shutdown_device(disk)
        assert [c[0] for c in fake.calls] == ["lvs"], fake.calls
        fake.calls.clear()
        storage.remove_device(disk)
        assert [c[0] for c in fake.calls] == ["lvs", "lvremove"], fake.calls
    assert fake.lvs == {}
    storage.remove_device(objects.Disk(dev_type="plain", logical_id=["xenvg", "u1.disk0"],
                                       size=64, children=[]))    # gone: fine
