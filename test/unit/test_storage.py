"""storage: file disks with real (sparse) files under a temporary directory."""

import os

import pytest

from ganeti import errors, objects, pathutils, storage
from ganeti.storage import base, filestorage

MIB = 1024 * 1024


@pytest.fixture
def fsdir(tmp_path, monkeypatch):
    """An allowed file storage dir; no virtual root."""
    fs = tmp_path / "file-storage"
    fs.mkdir()
    paths_file = tmp_path / "file-storage-paths"
    paths_file.write_text("# allowed\n%s\n\n" % fs)
    monkeypatch.setattr(pathutils, "FILE_STORAGE_PATHS_FILE", str(paths_file))
    monkeypatch.setattr(pathutils, "VIRT_ROOTDIR", "")
    return fs


def _disk(path, size=10, dev_type="file", driver="loop"):
    return objects.Disk(dev_type=dev_type, logical_id=[driver, str(path)], size=size,
                        iv_name="disk/0")


def test_create_attach_grow_remove(fsdir):
    path = fsdir / "inst1.example.com" / "disk0"
    disk = _disk(path, size=64)
    assert storage.find_device(disk) is None

    dev = storage.create_device(disk)
    assert dev.dev_path == str(path)
    assert dev.attached
    st = os.stat(str(path))
    assert st.st_size == 64 * MIB
    assert st.st_blocks * 512 < MIB          # sparse: nothing allocated yet
    assert oct(st.st_mode & 0o777) == oct(filestorage.FILE_MODE)

    found = storage.find_device(disk)
    assert found.dev_path == str(path)
    assert found.get_actual_size() == 64 * MIB
    assert found.get_actual_dimensions() == [64 * MIB, None]
    assert storage.assemble_device(disk).dev_path == str(path)

    storage.grow_device(disk, 16, dryrun=True)
    assert os.stat(str(path)).st_size == 64 * MIB
    storage.grow_device(disk, 16, backingstore=False)
    assert os.stat(str(path)).st_size == 64 * MIB
    storage.grow_device(disk, 16)
    st = os.stat(str(path))
    assert st.st_size == 80 * MIB
    assert st.st_blocks * 512 < MIB

    storage.shutdown_device(disk)
    assert path.exists()
    storage.remove_device(disk)
    assert not path.exists()
    assert not path.parent.exists()       # the empty instance directory went too
    assert fsdir.is_dir()                 # never the allowed directory itself
    storage.remove_device(disk)           # removing a missing disk is fine
    storage.shutdown_device(disk)


def test_remove_keeps_non_empty_instance_dir(fsdir):
    d0 = _disk(fsdir / "inst" / "disk0")
    d1 = _disk(fsdir / "inst" / "disk1")
    storage.create_device(d0)
    storage.create_device(d1)
    storage.remove_device(d0)
    assert sorted(os.listdir(str(fsdir / "inst"))) == ["disk1"]


def test_file_directly_in_allowed_dir(fsdir):
    disk = _disk(fsdir / "disk0")
    storage.create_device(disk)
    storage.remove_device(disk)
    assert fsdir.is_dir() and os.listdir(str(fsdir)) == []


def test_create_refuses_existing_file(fsdir):
    path = fsdir / "inst" / "disk0"
    path.parent.mkdir()
    path.write_bytes(b"precious data")
    with pytest.raises(errors.BlockDeviceError, match="already exists"):
        storage.create_device(_disk(path))
    assert path.read_bytes() == b"precious data"


def test_create_size_argument_overrides_disk_size(fsdir):
    disk = _disk(fsdir / "i" / "d", size=10)
    storage.create_device(disk, size=3)
    assert os.path.getsize(str(fsdir / "i" / "d")) == 3 * MIB


@pytest.mark.parametrize("bad", ["/etc/ganeti-test-disk", "relative/disk0"])
def test_refuses_paths_outside(fsdir, bad):
    with pytest.raises(errors.BlockDeviceError, match="not"):
        storage.create_device(_disk(bad))
    assert not os.path.exists("/etc/ganeti-test-disk")


def test_refuses_dotdot_and_sibling_prefix(fsdir, tmp_path):
    with pytest.raises(errors.BlockDeviceError, match=r"'\.\.'"):
        storage.create_device(_disk("%s/../escape" % fsdir))
    # a directory whose name merely starts with the allowed one is outside
    sibling = str(fsdir) + "-other"
    with pytest.raises(errors.BlockDeviceError, match="not inside"):
        storage.create_device(_disk(sibling + "/inst/disk0"))
    assert not (tmp_path / "escape").exists()
    assert not os.path.exists(sibling)


def test_refuses_symlink_escapes(fsdir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (fsdir / "evil").symlink_to(outside)
    with pytest.raises(errors.BlockDeviceError, match="not inside"):
        storage.create_device(_disk(fsdir / "evil" / "disk0"))
    assert os.listdir(str(outside)) == []
    # a disk file that is a link to a file outside: not found, not grown, not removed
    target = outside / "victim"
    target.write_bytes(b"x")
    (fsdir / "link").symlink_to(target)
    disk = _disk(fsdir / "link")
    with pytest.raises(errors.BlockDeviceError, match="not inside"):
        storage.find_device(disk)
    with pytest.raises(errors.BlockDeviceError):
        storage.grow_device(disk, 10)
    with pytest.raises(errors.BlockDeviceError):
        storage.remove_device(disk)
    assert target.read_bytes() == b"x"


def test_refuses_the_allowed_dir_itself(fsdir):
    with pytest.raises(errors.BlockDeviceError, match="itself"):
        storage.find_device(_disk(fsdir))


def test_no_allowed_dirs(fsdir, tmp_path, monkeypatch):
    monkeypatch.setattr(pathutils, "FILE_STORAGE_PATHS_FILE", str(tmp_path / "missing"))
    with pytest.raises(errors.BlockDeviceError, match="no file storage directories"):
        storage.create_device(_disk(fsdir / "i" / "d"))


def test_system_dirs_are_never_allowed(tmp_path):
    paths_file = tmp_path / "paths"
    paths_file.write_text("/\n/etc\n/usr/lib/foo\nrelative\n/srv/ganeti/file-storage\n")
    assert filestorage.read_allowed_dirs(str(paths_file), root_dir="") == [
        os.path.realpath("/srv/ganeti/file-storage")]


def test_invalid_ids(fsdir):
    with pytest.raises(errors.BlockDeviceError, match="driver"):
        storage.find_device(_disk(fsdir / "d", driver="nbd"))
    bad = objects.Disk(dev_type="file", logical_id=["loop"], size=1)
    with pytest.raises(errors.BlockDeviceError, match="driver, path"):
        storage.find_device(bad)
    with pytest.raises(errors.BlockDeviceError, match="not supported"):
        storage.find_device(objects.Disk(dev_type="rbd", logical_id=["rbd", "x"], size=1))
    with pytest.raises(errors.BlockDeviceError, match="Exclusive storage"):
        storage.create_device(_disk(fsdir / "d"), excl_stor=True)
    with pytest.raises(errors.BlockDeviceError, match="Invalid size"):
        storage.create_device(_disk(fsdir / "d", size=0))


def test_assemble_and_grow_missing_file(fsdir):
    disk = _disk(fsdir / "i" / "d")
    with pytest.raises(errors.BlockDeviceError, match="does not exist"):
        storage.assemble_device(disk)
    with pytest.raises(errors.BlockDeviceError, match="not found"):
        storage.grow_device(disk, 1)


def test_sync_status_not_degraded(fsdir):
    disk = _disk(fsdir / "i" / "d")
    dev = storage.create_device(disk)
    status = dev.combined_sync_status()
    assert status == {"dev_path": dev.dev_path, "major": None, "minor": None,
                      "sync_percent": None,
                      "estimated_time": None, "is_degraded": False,
                      "ldisk_status": base.LDS_OKAY}


def test_sharedfile_same_code(fsdir):
    disk = _disk(fsdir / "i" / "shared", dev_type="sharedfile")
    assert storage.create_device(disk).dev_path == str(fsdir / "i" / "shared")
    storage.remove_device(disk)


def test_virtual_cluster_root(tmp_path, monkeypatch):
    """Config paths are cluster-relative; the real file is under the node root."""
    root = tmp_path / "node1.example.com"
    (root / "srv/ganeti/file-storage").mkdir(parents=True)
    paths_file = root / "etc/ganeti/file-storage-paths"
    paths_file.parent.mkdir(parents=True)
    paths_file.write_text("/srv/ganeti/file-storage\n")
    monkeypatch.setattr(pathutils, "VIRT_ROOTDIR", str(root))
    monkeypatch.setattr(pathutils, "FILE_STORAGE_PATHS_FILE", str(paths_file))
    disk = _disk("/srv/ganeti/file-storage/inst1/disk0", size=2)
    dev = storage.create_device(disk)
    real = root / "srv/ganeti/file-storage/inst1/disk0"
    assert dev.dev_path == str(real)
    assert real.stat().st_size == 2 * MIB
    assert storage.find_device(disk).dev_path == str(real)
    # a path that is already real is not rooted twice
    assert storage.find_device(_disk(real)).dev_path == str(real)
    storage.remove_device(disk)
    assert not real.exists()


class _Mirror(base.BlockDev):
    """A fake mirrored device, to show how children are handled."""

    CHILDREN_NEEDED = 1

    def attach(self):
        self._dev_path = "/dev/mirror"
        self.attached = True
        return True

    def assemble(self):
        self.attach()

    def remove(self):
        self.attached = False

    def get_sync_status(self):
        return base.sync_status(self.dev_path, sync_percent=50.0, estimated_time=10,
                                is_degraded=True, ldisk_status=base.LDS_OKAY)


def test_children_and_combined_status(fsdir, monkeypatch):
    monkeypatch.setitem(storage.DEV_MAP, "mirror", _Mirror)
    child_ok = _disk(fsdir / "i" / "a")
    child_missing = _disk(fsdir / "i" / "b")
    storage.create_device(child_ok)
    mirror = objects.Disk(dev_type="mirror", logical_id=["m"], size=10,
                          children=[child_ok, child_missing])
    dev = storage.assemble_device(mirror)      # one child of two is enough
    assert dev.children[0].dev_path == str(fsdir / "i" / "a")
    assert dev.children[1] is None
    status = dev.combined_sync_status()
    assert status["sync_percent"] == 50.0 and status["is_degraded"] is True
    storage.remove_device(mirror)
    assert not (fsdir / "i").exists()
