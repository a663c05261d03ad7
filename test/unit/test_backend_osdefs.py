"""backend.osdefs: the OS procedures as noded runs them (arguments through JSON)."""

import json
import os

import pytest

from ganeti import objects, pathutils, storage
from ganeti.backend import osdefs
from ganeti.backend.common import RpcFail

from test_osinterface import FakeDevice, NOOP_DIR, make_instance, make_os


def _wire(value):
    return json.loads(json.dumps(value))


@pytest.fixture
def oses(tmp_path):
    """A search path with a valid API 20 OS, a valid API 10 one and a broken one."""
    base = tmp_path / "os"
    make_os(base, "deb", variants="default\nmini\n", parameters="filesystem The fs\n",
            script_body=('case "$OSP_FILESYSTEM" in ""|ext4) ;; *) echo "bad fs" >&2;'
                         ' exit 1;; esac\nenv | sort\n'))
    make_os(base, "old", api="10\n", scripts=["create", "export", "import", "rename"])
    make_os(base, "broken", api="10\n", scripts=["create"])
    return [str(base)]


@pytest.fixture
def devices(monkeypatch):
    def find_device(disk):
        path = disk.logical_id[1]
        return FakeDevice(path) if os.path.exists(path) else None
    monkeypatch.setattr(storage, "find_device", find_device)


def test_procedures_are_exported():
    assert sorted(osdefs.PROCEDURES) == ["instance_os_add", "instance_run_rename",
                                         "os_diagnose", "os_get", "os_validate"]


def test_os_diagnose_shape(oses):
    result = _wire(osdefs.os_diagnose(os_path=oses))
    by_name = dict((entry[0], entry) for entry in result)
    assert sorted(by_name) == ["broken", "deb", "old"]
    assert by_name["deb"] == ["deb", os.path.join(oses[0], "deb"), True, "",
                              ["default", "mini"], [["filesystem", "The fs"]],
                              [20, 15, 10]]
    assert by_name["old"][2:] == [True, "", [], [], [10]]
    name, path, status, message, variants, params, api = by_name["broken"]
    assert status is False and "is missing" in message and api == [10]


def test_os_get(oses):
    desc = osdefs.os_get("deb+mini", os_path=oses)
    assert desc["name"] == "deb"
    assert desc["supported_variants"] == ["default", "mini"]
    assert desc["supported_parameters"] == [["filesystem", "The fs"]]
    assert desc["verify_script"] == os.path.join(oses[0], "deb", "verify")
    with pytest.raises(RpcFail, match="File 'export' under path .* is missing"):
        osdefs.os_get("broken", os_path=oses)
    with pytest.raises(RpcFail, match="Directory for OS nothere not found"):
        osdefs.os_get("nothere", os_path=oses)


def test_os_validate(oses):
    assert osdefs.os_validate(True, "deb+mini", ["parameters"],
                              {"filesystem": "ext4"}, False, os_path=oses) is True
    with pytest.raises(RpcFail, match="bad fs"):
        osdefs.os_validate(True, "deb+mini", ["parameters"], {"filesystem": "xfs"},
                           False, os_path=oses)
    with pytest.raises(RpcFail, match="not supported by the OS deb: size"):
        osdefs.os_validate(True, "deb+mini", ["parameters"], {"size": "1"}, False,
                           os_path=oses)
    with pytest.raises(RpcFail, match="Unsupported OS variant"):
        osdefs.os_validate(True, "deb+huge", [], {}, False, os_path=oses)
    assert osdefs.os_validate(True, "deb+huge", [], {}, True, os_path=oses) is True
    with pytest.raises(RpcFail, match="Unknown checks"):
        osdefs.os_validate(True, "deb", ["bogus"], {}, True, os_path=oses)
    # missing OS: an error only when required
    assert osdefs.os_validate(False, "nothere", ["parameters"], {}, False,
                              os_path=oses) is False
    with pytest.raises(RpcFail, match="not found"):
        osdefs.os_validate(True, "nothere", ["parameters"], {}, False, os_path=oses)
    # API 10: nothing to verify, parameters ignored
    assert osdefs.os_validate(True, "old", ["parameters"], {"x": "y"}, False,
                              os_path=oses) is True


def test_instance_os_add_and_rename(oses, tmp_path, devices):
    inst = make_instance(tmp_path, os_name="deb+mini")
    logs = str(tmp_path / "logs")
    logfile = osdefs.instance_os_add(_wire(inst.to_dict()), True, 0, os_path=oses,
                                     log_dir=logs)
    text = open(logfile).read()
    assert "INSTANCE_REINSTALL=1" in text and "OS_VARIANT=mini" in text
    logfile = osdefs.instance_run_rename(_wire(inst.to_dict()), "old.example.com", 1,
                                         os_path=oses, log_dir=logs)
    text = open(logfile).read()
    assert "OLD_INSTANCE_NAME=old.example.com" in text and "DEBUG_LEVEL=1" in text


def test_instance_os_add_failures(oses, tmp_path, devices):
    inst = make_instance(tmp_path, os_name="deb+mini")
    inst.osparams = {"filesystem": "xfs"}
    logs = str(tmp_path / "logs")
    with pytest.raises(RpcFail) as info:
        osdefs.instance_os_add(_wire(inst.to_dict()), False, 0, os_path=oses,
                               log_dir=logs)
    msg = info.value.args[0]
    assert msg.startswith("OS create script failed (exited with exit code 1), last"
                          " lines in the log file %s/add-deb+mini-" % logs)
    assert msg.endswith("bad fs")
    os.unlink(tmp_path / "disk0")
    with pytest.raises(RpcFail, match="Disk 0 of instance inst1.example.com is not"
                       " active"):
        osdefs.instance_os_add(_wire(inst.to_dict()), False, 0, os_path=oses,
                               log_dir=logs)
    inst.os = "broken"
    with pytest.raises(RpcFail, match="is missing"):
        osdefs.instance_run_rename(_wire(inst.to_dict()), "old", 0, os_path=oses,
                                   log_dir=logs)
    with pytest.raises(RpcFail, match="Invalid instance description"):
        osdefs.instance_os_add("nope", False, 0, os_path=oses)


def test_default_log_dir_is_pathutils(oses, tmp_path, devices, monkeypatch):
    monkeypatch.setattr(pathutils, "LOG_OS_DIR", str(tmp_path / "var-log-os"))
    inst = objects.Instance.from_dict(make_instance(tmp_path, "old").to_dict())
    logfile = osdefs.instance_os_add(_wire(inst.to_dict()), False, 0, os_path=oses)
    assert os.path.dirname(logfile) == str(tmp_path / "var-log-os")


def test_noop_through_the_procedures(tmp_path, devices, monkeypatch):
    if not os.path.isdir(NOOP_DIR):
        pytest.skip("ganeti-os-noop is not installed")
    monkeypatch.setattr(pathutils, "LOG_OS_DIR", str(tmp_path / "logs"))
    entries = osdefs.os_diagnose()
    assert ["noop", NOOP_DIR, True, "", [], [], [5, 10]] in entries
    assert osdefs.os_validate(True, "noop", ["parameters"], {}, False) is True
    inst = _wire(make_instance(tmp_path, os_name="noop").to_dict())
    assert os.path.exists(osdefs.instance_os_add(inst, False, 0))
    assert os.path.exists(osdefs.instance_run_rename(inst, "old.example.com", 0))

