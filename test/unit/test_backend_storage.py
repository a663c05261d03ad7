"""backend.storage: block device procedures as noded runs them, disks as dicts."""

import json
import os

import pytest

from ganeti import objects, pathutils
from ganeti.backend import storage as bstorage
from ganeti.backend.common import RpcFail

MIB = 1024 * 1024


@pytest.fixture
def node(tmp_path, monkeypatch):
    """A node with an allowed file storage dir and its own disk links dir."""
    fs = tmp_path / "file-storage"
    fs.mkdir()
    paths_file = tmp_path / "file-storage-paths"
    paths_file.write_text("%s\n" % fs)
    links = tmp_path / "run" / "instance-disks"
    monkeypatch.setattr(pathutils, "FILE_STORAGE_PATHS_FILE", str(paths_file))
    monkeypatch.setattr(pathutils, "VIRT_ROOTDIR", "")
    monkeypatch.setattr(pathutils, "DISK_LINKS_DIR", str(links))
    return fs, links


def _wire(disk):
    """A disk as it travels over RPC: to_dict, through JSON."""
    return json.loads(json.dumps(disk.to_dict()))


def _file_disk(path, size=8, idx=0):
    return _wire(objects.Disk(dev_type="file", logical_id=["loop", str(path)],
                              size=size, iv_name="disk/%d" % idx))


def test_disk_life_cycle(node):
    fs, links = node
    path = fs / "inst1.example.com" / "disk0"
    disk = _file_disk(path)
    assert bstorage.blockdev_find(disk) is None

    assert bstorage.blockdev_create(disk, 8, "inst1.example.com", True, "info",
                                    False) == str(path)
    assert path.stat().st_size == 8 * MIB

    dev_path, link = bstorage.blockdev_assemble(disk, "inst1.example.com", True, 0)
    assert dev_path == str(path)
    assert link == str(links / "inst1.example.com:0")
    assert os.readlink(link) == str(path)
    # assembling again keeps the link; as secondary no link is made
    assert bstorage.blockdev_assemble(disk, "inst1.example.com", True, 0)[1] == link
    assert bstorage.blockdev_assemble(disk, "inst1.example.com", False, 0) == [
        str(path), None]

    assert bstorage.blockdev_find(disk) == {
        "dev_path": str(path), "major": None, "minor": None, "sync_percent": None,
        "estimated_time": None, "is_degraded": False, "ldisk_status": 1}

    bstorage.blockdev_grow(disk, 4, True, True, False)
    assert path.stat().st_size == 8 * MIB
    bstorage.blockdev_grow(disk, 4, False, True, False)
    assert path.stat().st_size == 12 * MIB
    assert bstorage.blockdev_getdimensions([disk]) == [[12 * MIB, None]]

    bstorage.blockdev_shutdown(disk)
    assert not os.path.lexists(link)
    assert path.exists()
    bstorage.blockdev_shutdown(disk)          # twice is fine

    bstorage.blockdev_remove(disk)
    assert not path.exists() and not path.parent.exists()
    bstorage.blockdev_remove(disk)            # missing is fine
    assert bstorage.blockdev_find(disk) is None
    assert bstorage.blockdev_getdimensions([disk]) == [None]


def test_assemble_replaces_stale_link(node):
    fs, links = node
    links.mkdir(parents=True)
    os.symlink("/nonexistent/old", str(links / "inst:1"))
    disk = _file_disk(fs / "inst" / "disk1")
    bstorage.blockdev_create(disk, 8, "inst", True, "", False)
    _, link = bstorage.blockdev_assemble(disk, "inst", True, 1)
    assert os.readlink(link) == str(fs / "inst" / "disk1")
    assert sorted(os.listdir(str(links))) == ["inst:1"]


def test_assemble_refuses_bad_link_names(node):
    fs, links = node
    disk = _file_disk(fs / "inst" / "disk0")
    bstorage.blockdev_create(disk, 8, "inst", True, "", False)
    for name, idx in (("../../etc/x", 0), ("a/b", 0), ("", 0), ("inst", -1),
                      ("inst", "0")):
        with pytest.raises(RpcFail, match="Invalid"):
            bstorage.blockdev_assemble(disk, name, True, idx)
    assert not links.exists()


def test_instance_disks_remove_links(node):
    fs, links = node
    for idx in range(2):
        disk = _file_disk(fs / "web" / ("disk%d" % idx), idx=idx)
        bstorage.blockdev_create(disk, 8, "web", True, "", False)
        bstorage.blockdev_assemble(disk, "web", True, idx)
    other = _file_disk(fs / "web2" / "disk0")
    bstorage.blockdev_create(other, 8, "web2", True, "", False)
    bstorage.blockdev_assemble(other, "web2", True, 0)
    removed = bstorage.instance_disks_remove_links("web")
    assert [os.path.basename(p) for p in removed] == ["web:0", "web:1"]
    assert os.listdir(str(links)) == ["web2:0"]


def test_create_failures_are_clear(node, tmp_path):
    fs, _ = node
    with pytest.raises(RpcFail, match="not acceptable for file storage"):
        bstorage.blockdev_create(_file_disk(tmp_path / "elsewhere" / "d"), 8, "i",
                                 True, "", False)
    assert not (tmp_path / "elsewhere").exists()
    disk = _file_disk(fs / "i" / "d")
    bstorage.blockdev_create(disk, 8, "i", True, "", False)
    with pytest.raises(RpcFail, match="already exists"):
        bstorage.blockdev_create(disk, 8, "i", True, "", False)
    with pytest.raises(RpcFail, match="Invalid disk"):
        bstorage.blockdev_create("not a disk", 8, "i", True, "", False)


def test_getmirrorstatus_shape(node, tmp_path):
    fs, _ = node
    present = _file_disk(fs / "i" / "d0")
    missing = _file_disk(fs / "i" / "d1")
    outside = _file_disk(tmp_path / "x" / "d")
    bstorage.blockdev_create(present, 8, "i", True, "", False)
    result = bstorage.blockdev_getmirrorstatus([present, missing, outside])
    assert json.loads(json.dumps(result)) == result     # travels as JSON
    assert result[0] == [True, {"dev_path": str(fs / "i" / "d0"), "major": None,
                                "minor": None, "sync_percent": None,
                                "estimated_time": None, "is_degraded": False,
                                "ldisk_status": 1}]
    assert result[1][0] is False and "Cannot find disk disk/0" in result[1][1]
    assert result[2][0] is False and "not acceptable" in result[2][1]


def test_file_storage_dirs(node, tmp_path):
    fs, _ = node
    bstorage.file_storage_dir_create(str(fs / "inst"))
    bstorage.file_storage_dir_create(str(fs / "inst"))   # exists: fine
    bstorage.file_storage_dir_create(str(fs))            # the allowed dir itself
    assert (fs / "inst").is_dir()
    (fs / "inst" / "f").write_text("x")
    with pytest.raises(RpcFail, match="not empty"):
        bstorage.file_storage_dir_remove(str(fs / "inst"))
    os.unlink(str(fs / "inst" / "f"))
    bstorage.file_storage_dir_remove(str(fs / "inst"))
    assert not (fs / "inst").exists()
    bstorage.file_storage_dir_remove(str(fs / "inst"))   # missing: fine
    with pytest.raises(RpcFail, match="itself"):
        bstorage.file_storage_dir_remove(str(fs))
    assert fs.is_dir()
    for bad in (str(tmp_path / "outside"), str(fs) + "/../outside", "rel/dir"):
        with pytest.raises(RpcFail):
            bstorage.file_storage_dir_create(bad)
    assert not (tmp_path / "outside").exists()
    # a symlinked directory pointing outside cannot be used to remove things there
    (tmp_path / "victim").mkdir()
    (fs / "link").symlink_to(tmp_path / "victim")
    with pytest.raises(RpcFail, match="not inside"):
        bstorage.file_storage_dir_remove(str(fs / "link"))
    assert (tmp_path / "victim").is_dir()


def test_file_storage_dir_rename(node):
    fs, _ = node
    bstorage.file_storage_dir_create(str(fs / "old"))
    bstorage.file_storage_dir_rename(str(fs / "old"), str(fs / "new"))
    assert (fs / "new").is_dir() and not (fs / "old").exists()
    bstorage.file_storage_dir_create(str(fs / "old"))
    with pytest.raises(RpcFail, match="target exists"):
        bstorage.file_storage_dir_rename(str(fs / "old"), str(fs / "new"))


def test_procedure_table():
    assert bstorage.PROCEDURES["blockdev_getmirrorstatus"] is (
        bstorage.blockdev_getmirrorstatus)
    assert set(bstorage.PROCEDURES) >= {
        "blockdev_create", "blockdev_remove", "blockdev_assemble", "blockdev_shutdown",
        "blockdev_grow", "blockdev_find", "blockdev_getmirrorstatus",
        "blockdev_getdimensions", "file_storage_dir_create", "file_storage_dir_remove"}
