"""The ``ext`` disk type: ExtStorage providers' scripts run for a disk's life
cycle, with Ganeti's environment, logs and errors. The provider is
test/es_provider.py's (shell scripts keeping their volumes as files and
leaving a trace of each call)."""

import json
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import es_provider  # noqa: E402

from ganeti import errors, objects, pathutils, storage  # noqa: E402
from ganeti.backend import storage as bstorage  # noqa: E402
from ganeti.backend.common import RpcFail  # noqa: E402
from ganeti.storage import extstorage as es  # noqa: E402

MIB = 1024 * 1024
UUID = "5f0c8a4e-1f6c-4c8e-9b0f-2b8c43b4d0a1"


@pytest.fixture
def node(tmp_path, monkeypatch):
    """A node whose search path has the provider "shared" (its volumes in
    <tmp>/vols); logs and disk links in the tmp directory too."""
    root = tmp_path / "node1"
    monkeypatch.setattr(pathutils, "VIRT_ROOTDIR", str(root))
    monkeypatch.setattr(pathutils, "LOG_ES_DIR", str(tmp_path / "log-es"))
    monkeypatch.setattr(pathutils, "DISK_LINKS_DIR", str(tmp_path / "links"))
    voldir = str(tmp_path / "vols")
    es_provider.install(str(root) + es_provider.ES_DIR, "shared", voldir, node="node1")
    return voldir


def _disk(name="vol1", size=8, params=None, provider="shared"):
    return objects.Disk(dev_type="ext", logical_id=[provider, name], size=size,
                        iv_name="disk/0", name="data", uuid=UUID,
                        params=dict({"provider": provider, "access": "kernelspace"},
                                    **(params or {})))


def _wire(disk):
    return json.loads(json.dumps(disk.to_dict()))


def _calls(voldir):
    return [action for _, action, _ in es_provider.journal(voldir)]


def test_create_attach_and_the_scripts_environment(node):
    device = storage.create_device(_disk(params={"pool": "fast"}))
    path = os.path.join(node, "vol1")
    assert (device.attached, device.dev_path, device.uris) == (True, path, [])
    assert os.path.getsize(path) == 8 * MIB
    assert device.get_actual_size() == 8 * MIB
    assert _calls(node) == ["create", "attach"]
    # Ganeti's variables: the volume, the Disk's name and uuid, every parameter
    assert es_provider.last_env(node, "vol1", "create") == {
        "VOL_NAME": "vol1", "VOL_SIZE": "8", "VOL_CNAME": "data", "VOL_UUID": UUID,
        "EXTP_PROVIDER": "shared", "EXTP_ACCESS": "kernelspace", "EXTP_POOL": "fast"}
    assert "VOL_SIZE" not in es_provider.last_env(node, "vol1", "attach")


def test_each_action_but_attach_is_logged(node, tmp_path):
    storage.create_device(_disk())
    logs = os.listdir(str(tmp_path / "log-es"))
    assert len(logs) == 1
    assert re.match(r"^create-shared-vol1-\d{4}-\d\d-\d\d_\d\d_\d\d_\d\d\.log$", logs[0])
    with open(str(tmp_path / "log-es" / logs[0])) as fd:
        assert fd.read() == "created vol1\n"


def test_a_failing_script_says_why_and_leaves_nothing(node):
    with pytest.raises(es.ScriptFailed) as err:
        storage.create_device(_disk(params={"fail": "pool full"}))
    assert str(err.value) == ("External storage's create script failed (exited with"
                              " exit code 1), last lines of output:\n"
                              "create refused: pool full")
    assert es_provider.volumes(node) == []
    assert storage.find_device(_disk()) is None


def test_a_volume_that_cannot_be_attached_is_removed_again(node):
    with pytest.raises(errors.BlockDeviceError,
                       match="Volume vol1 was created but cannot be attached: External"
                             " storage's attach script failed .*\ncannot map vol1"):
        storage.create_device(_disk(params={"fail_attach": "yes"}))
    assert _calls(node) == ["create", "attach", "remove"]
    assert es_provider.volumes(node) == []


def test_a_missing_volume_is_not_found(node):
    disk = _disk("nosuchvol")
    assert storage.find_device(disk) is None
    device = es.ExtStorageDevice(disk.logical_id, [], 8, disk.params, {})
    assert not device.attached
    assert device.attach_error.endswith("last lines of output:\nno volume nosuchvol")
    with pytest.raises(errors.BlockDeviceError, match="Cannot attach volume nosuchvol"
                       " of provider shared: External storage's attach script failed"):
        storage.assemble_device(disk)


@pytest.mark.parametrize("provider,skip,message", [
    ("nosuch", (), "Directory for External Storage Provider nosuch not found in search"
                   " path"),
    ("../shared", (), "Directory for External Storage Provider ../shared not found"),
    ("broken", ("grow",), "File 'grow' under path '%s/broken' is missing (ENOENT)"),
])
def test_an_unusable_provider_is_an_error_not_a_missing_volume(node, provider, skip,
                                                              message):
    search_dir = pathutils.root(es_provider.ES_DIR)
    es_provider.install(search_dir, "broken", node, skip=skip or ("verify",))
    with pytest.raises(errors.BlockDeviceError) as err:
        storage.find_device(_disk(provider=provider))
    assert not isinstance(err.value, es.ScriptFailed)
    assert message.replace("%s", search_dir) in str(err.value)


def test_attach_output_that_is_no_device(node):
    attach = os.path.join(pathutils.root(es_provider.ES_DIR), "shared", "attach")
    storage.create_device(_disk())
    for output, error in [("/nonexistent/dev", "Error stat()'ing /nonexistent/dev"),
                          ("/dev", "/dev is not a block device or a regular file"),
                          ("", "Neither a block device nor a userspace URI is available")]:
        with open(attach, "w") as fd:
            fd.write("#!/bin/sh\necho '%s'\n" % output)
        device = es.ExtStorageDevice(["shared", "vol1"], [], 8, {}, {})
        assert not device.attached and device.attach_error.startswith(error)
    # userspace access only: found, but nothing a hypervisor here opens
    with open(attach, "w") as fd:
        fd.write("#!/bin/sh\necho\necho kvm:rbd:pool/vol1\n")
    device = storage.find_device(_disk())
    assert (device.dev_path, device.uris) == (None, ["kvm:rbd:pool/vol1"])
    with pytest.raises(errors.BlockDeviceError, match="offers only userspace access"
                       r" \(kvm:rbd:pool/vol1\), which is not supported here"):
        device.assemble()


def test_grow_goes_from_the_recorded_size(node):
    storage.create_device(_disk())
    storage.grow_device(_disk(), 4, dryrun=True)
    assert "grow" not in _calls(node)
    storage.grow_device(_disk(), 4)
    assert os.path.getsize(os.path.join(node, "vol1")) == 12 * MIB
    env = es_provider.last_env(node, "vol1", "grow")
    assert (env["VOL_SIZE"], env["VOL_NEW_SIZE"]) == ("8", "12")
    with pytest.raises(errors.BlockDeviceError, match="Cannot grow volume vol1 by 0"):
        storage.grow_device(_disk(size=12), 0)


def test_shutdown_detaches_remove_detaches_and_deletes(node):
    storage.create_device(_disk())
    mapped = es_provider.trace(node, "vol1.map.node1")
    assert os.path.exists(mapped)
    storage.shutdown_device(_disk())
    assert not os.path.exists(mapped)
    assert es_provider.volumes(node) == ["vol1"]
    storage.remove_device(_disk())
    assert es_provider.volumes(node) == []
    assert _calls(node) == ["create", "attach", "attach", "detach", "attach", "detach",
                            "remove"]
    storage.remove_device(_disk())          # gone: nothing to do
    assert _calls(node)[-1] == "attach"


@pytest.mark.parametrize("text,expected", [
    ("originstname+inst1.example.com", "originstname+inst1.example.com"),
    ("-a b/c:d", "_a_b_c_d"),
    ("x" * 200, "x" * 128),
])
def test_metadata_is_cleaned_as_ganeti_does(text, expected):
    assert es.metadata_text(text) == expected


def test_backend_procedures(node, tmp_path):
    disk = _wire(_disk())
    path = os.path.join(node, "vol1")
    # on the primary: made, opened exclusively, told its instance
    assert bstorage.blockdev_create(disk, 8, "inst1", True, "originstname+inst1",
                                    False) == path
    with open(es_provider.trace(node, "vol1.open.node1")) as fd:
        assert fd.read() == "True\n"
    with open(es_provider.trace(node, "vol1.info")) as fd:
        assert fd.read() == "originstname+inst1"
    bstorage.blockdev_setinfo(disk, "originstname+inst2")
    with open(es_provider.trace(node, "vol1.info")) as fd:
        assert fd.read() == "originstname+inst2"

    dev_path, link = bstorage.blockdev_assemble(disk, "inst2", True, 0)
    assert dev_path == path and os.readlink(link) == path
    # a migration opens it shared on both nodes
    bstorage.blockdev_open("inst2", [disk], False)
    assert es_provider.last_env(node, "vol1", "open")["VOL_OPEN_EXCLUSIVE"] == "False"
    bstorage.blockdev_close("inst2", [disk])
    assert not os.path.exists(es_provider.trace(node, "vol1.open.node1"))
    assert bstorage.blockdev_find(disk)["dev_path"] == path

    bstorage.blockdev_shutdown(disk)
    assert not os.path.lexists(link)
    assert not os.path.exists(es_provider.trace(node, "vol1.map.node1"))
    bstorage.blockdev_remove(disk)
    assert es_provider.volumes(node) == []
    with pytest.raises(RpcFail, match="Cannot find disk disk/0"):
        bstorage.blockdev_setinfo(disk, "x")
    with pytest.raises(RpcFail, match="Cannot create disk disk/0: External storage's"
                       " create script failed"):
        bstorage.blockdev_create(_wire(_disk(params={"fail": "no"})), 8, "inst1", True,
                                 "", False)


def test_optional_scripts_may_be_absent(node):
    search_dir = pathutils.root(es_provider.ES_DIR)
    es_provider.install(search_dir, "old", node, optional=False)
    device = storage.create_device(_disk(provider="old"))
    device.open(exclusive=False)
    device.close()
    assert _calls(node) == ["create", "attach"]


def test_the_scripts_get_a_clean_environment(node, monkeypatch):
    monkeypatch.setenv("GANETI_LEAK_TEST", "1")
    verify = os.path.join(pathutils.root(es_provider.ES_DIR), "shared", "setinfo")
    with open(verify, "w") as fd:
        fd.write("#!/bin/sh\nenv | sort\n")
    es.run_action("setinfo", ["shared", "vol9"], {"a": 1}, metadata="m")
    logs = os.listdir(pathutils.LOG_ES_DIR)
    with open(os.path.join(pathutils.LOG_ES_DIR, logs[0])) as fd:
        names = sorted(line.split("=", 1)[0] for line in fd.read().splitlines())
    assert names == ["EXTP_A", "LC_ALL", "PATH", "PWD", "VOL_METADATA", "VOL_NAME"]
