"""osinterface: finding and checking OS definitions, script environment and runs."""

import os
import stat

import pytest

from ganeti import errors, objects, osinterface, storage

NOOP_DIR = "/usr/share/ganeti/os/noop"


def make_os(base, name, api="20\n15\n10\n", scripts=None, variants=None,
            parameters=None, script_body="exit 0\n", mode=0o755):
    """Write an OS definition directory under ``base``; returns its path."""
    path = base / name
    path.mkdir(parents=True)
    if api is not None:
        (path / "ganeti_api_version").write_text(api)
    if scripts is None:
        scripts = ["create", "export", "import", "rename", "verify"]
    for script in scripts:
        target = path / script
        target.write_text("#!/bin/sh\n" + script_body)
        target.chmod(mode)
    if variants is not None:
        (path / "variants.list").write_text(variants)
    if parameters is not None:
        (path / "parameters.list").write_text(parameters)
    return path


@pytest.fixture
def search(tmp_path):
    """Two search directories, in order."""
    first = tmp_path / "srv-os"
    second = tmp_path / "share-os"
    first.mkdir()
    second.mkdir()
    return [str(first), str(second)]


# ---- discovery and validation ----------------------------------------------------

def test_api_10_definition_is_valid_without_lists(tmp_path):
    path = make_os(tmp_path, "old", api="5\n10\n",
                   scripts=["create", "export", "import", "rename"])
    os_def = osinterface.load_os("old", str(path))
    assert os_def.status, os_def.message
    assert os_def.api_versions == [5, 10]
    assert os_def.api_version == 10
    assert os_def.variants == [] and os_def.parameters == []
    assert os_def.verify_script is None
    assert os_def.create_script == str(path / "create")


def test_api_15_variants_optional_and_parsed(tmp_path):
    path = make_os(tmp_path, "mid", api="15\n10\n",
                   scripts=["create", "export", "import", "rename"],
                   variants="# comment\n\nsqueeze\n  wheezy  \n")
    os_def = osinterface.load_os("mid", str(path))
    assert os_def.status, os_def.message
    assert os_def.api_version == 15
    assert os_def.variants == ["squeeze", "wheezy"]
    (path / "variants.list").unlink()
    assert osinterface.load_os("mid", str(path)).variants == []


def test_api_20_parameters_and_verify(tmp_path):
    path = make_os(tmp_path, "new", variants="default\nminimal\n",
                   parameters="filesystem   The file system to use\nswap\n\n")
    os_def = osinterface.load_os("new", str(path))
    assert os_def.status, os_def.message
    assert os_def.api_version == 20
    assert os_def.parameters == [("filesystem", "The file system to use"), ("swap", "")]
    assert os_def.verify_script == str(path / "verify")
    assert os_def.diagnose_entry() == [
        "new", str(path), True, "", ["default", "minimal"],
        [["filesystem", "The file system to use"], ["swap", ""]], [20, 15, 10]]


@pytest.mark.parametrize("kwargs, reason", [
    (dict(api=None), "Required file 'ganeti_api_version' not found"),
    (dict(api="twenty\n"), "can't be converted to integer"),
    (dict(api="5\n"), "API version mismatch"),
    (dict(api="\n"), "No API version declared"),
    (dict(scripts=["create", "export", "import", "verify"], parameters=""),
     "File 'rename' under path"),
    (dict(mode=0o644, parameters=""), "is not executable"),
    (dict(), "File 'parameters.list' under path"),
    (dict(api="10\n", scripts=["create", "export", "import"]), "'rename'"),
])
def test_broken_definitions_say_why(tmp_path, kwargs, reason):
    path = make_os(tmp_path, "broken", **kwargs)
    os_def = osinterface.load_os("broken", str(path))
    assert not os_def.status
    assert reason in os_def.message
    with pytest.raises(errors.InvalidOS) as info:
        osinterface.find_os("broken", [str(tmp_path)])
    assert reason in info.value.args[1]


def test_script_must_be_a_regular_file(tmp_path):
    path = make_os(tmp_path, "dirscript", api="10\n",
                   scripts=["create", "export", "import"])
    (path / "rename").mkdir()
    os_def = osinterface.load_os("dirscript", str(path))
    assert not os_def.status
    assert "is not a regular file" in os_def.message


def test_api_20_does_not_need_verify_below(tmp_path):
    # an OS declaring 10 only needs neither verify nor parameters.list
    path = make_os(tmp_path, "ten", api="10\n", scripts=["create", "export", "import",
                                                         "rename"])
    assert osinterface.load_os("ten", str(path)).status


def test_diagnose_lists_every_directory_in_search_order(search, tmp_path):
    first, second = search
    make_os(tmp_path / "srv-os", "debian", parameters="")
    make_os(tmp_path / "share-os", "debian", api="bad\n")
    make_os(tmp_path / "share-os", "alpine", api="10\n",
            scripts=["create", "export", "import", "rename"])
    (tmp_path / "share-os" / ".hidden").mkdir()
    (tmp_path / "share-os" / "README").write_text("not an OS\n")
    entries = osinterface.diagnose_os(search + [str(tmp_path / "missing")])
    names = [(e.name, os.path.dirname(e.path), e.status) for e in entries]
    assert names == [("debian", first, True), ("README", second, False),
                     ("alpine", second, True), ("debian", second, False)]
    # the first directory of a name decides
    assert osinterface.find_os("debian", search).path == os.path.join(first, "debian")


def test_find_os_with_variant_and_errors(search, tmp_path):
    make_os(tmp_path / "share-os", "deb", variants="default\n", parameters="")
    os_def = osinterface.find_os("deb+default", search)
    assert os_def.name == "deb"
    assert os_def.to_dict()["supported_variants"] == ["default"]
    with pytest.raises(errors.InvalidOS) as info:
        osinterface.find_os("nothere+x", search)
    assert info.value.args == ("nothere", "Directory for OS nothere not found in"
                                          " search path")
    for bad in ("", "../etc", "+x"):
        with pytest.raises(errors.InvalidOS):
            osinterface.find_os(bad, search)


def test_variant_checks(tmp_path):
    with_variants = osinterface.load_os("deb", str(make_os(
        tmp_path, "deb", variants="default\nmini\n", parameters="")))
    with_variants.check_variant("deb+mini")
    with pytest.raises(errors.InvalidOS, match="must include a variant"):
        with_variants.check_variant("deb")
    with pytest.raises(errors.InvalidOS, match="Unsupported OS variant 'big'"):
        with_variants.check_variant("deb+big")
    plain = osinterface.load_os("plain", str(make_os(tmp_path, "plain", parameters="")))
    plain.check_variant("plain")
    with pytest.raises(errors.InvalidOS, match="doesn't support variants"):
        plain.check_variant("plain+x")


def test_real_noop_definition():
    if not os.path.isdir(NOOP_DIR):
        pytest.skip("ganeti-os-noop is not installed")
    os_def = osinterface.find_os("noop", [os.path.dirname(NOOP_DIR)])
    assert os_def.status
    assert os_def.api_versions == [5, 10]
    assert os_def.api_version == 10


# ---- the environment -------------------------------------------------------------

class FakeDevice:
    def __init__(self, dev_path):
        self.dev_path = dev_path


def make_instance(tmp_path, os_name="deb+mini"):
    disk0 = tmp_path / "disk0"
    disk1 = tmp_path / "disk1"
    disk0.write_bytes(b"\0" * 1024)
    disk1.write_bytes(b"\0" * 1024)
    disks = [
        objects.Disk(dev_type="file", logical_id=["loop", str(disk0)], size=1024,
                     iv_name="disk/0", mode="rw", nodes=["node1"], name="root"),
        objects.Disk(dev_type="file", logical_id=["loop", str(disk1)], size=512,
                     iv_name="disk/1", mode="ro", nodes=["node1"]),
    ]
    nics = [
        objects.NIC(mac="aa:00:00:11:22:33", ip="192.0.2.10", name="eth0",
                    nicparams={"mode": "bridged", "link": "br0", "vlan": ""}),
        objects.NIC(mac="aa:00:00:44:55:66",
                    nicparams={"mode": "routed", "link": "100", "vlan": ""},
                    netinfo={"name": "net1", "uuid": "net-uuid", "network": "192.0.2.0/24",
                             "gateway": "192.0.2.1", "mac_prefix": "aa:00:00",
                             "tags": ["a", "b"]}),
    ]
    return objects.Instance(
        name="inst1.example.com", primary_node="node1", os=os_name, hypervisor="kvm",
        hvparams={"kernel_path": "/boot/vmlinuz", "disk_type": "paravirtual",
                  "nic_type": "e1000", "acpi": True},
        beparams={"maxmem": 256, "minmem": 128, "vcpus": 1},
        osparams={"filesystem": "ext4", "root-size": "5G"},
        osparams_private={"password": "secret"},
        disks=disks, nics=nics, disk_template="file", uuid="inst-uuid",
        ctime=1700000000.5, mtime=1700000001.0)


@pytest.fixture
def devices(monkeypatch):
    """storage.find_device answers from the disk's file path (None if absent)."""
    def find_device(disk):
        path = disk.logical_id[1]
        return FakeDevice(path) if os.path.exists(path) else None
    monkeypatch.setattr(storage, "find_device", find_device)


def test_instance_env_has_every_variable(tmp_path, devices):
    os_def = osinterface.load_os("deb", str(make_os(
        tmp_path / "os", "deb", variants="default\nmini\n",
        parameters="filesystem fs\nroot-size size\npassword pw\n")))
    inst = make_instance(tmp_path)
    env = osinterface.instance_env(inst.to_dict(), os_def, debug=1)
    expected = {
        "OS_API_VERSION": "20", "OS_NAME": "deb", "OS_VARIANT": "mini",
        "INSTANCE_OS": "deb+mini", "DEBUG_LEVEL": "1",
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin",
        "INSTANCE_NAME": "inst1.example.com", "INSTANCE_UUID": "inst-uuid",
        "INSTANCE_PRIMARY_NODE": "node1", "INSTANCE_SECONDARY_NODES": "",
        "INSTANCE_CTIME": "1700000000.5", "INSTANCE_MTIME": "1700000001.0",
        "HYPERVISOR": "kvm", "DISK_COUNT": "2", "NIC_COUNT": "2",
        "DISK_0_PATH": str(tmp_path / "disk0"), "DISK_0_ACCESS": "rw",
        "DISK_0_FRONTEND_TYPE": "paravirtual", "DISK_0_BACKEND_TYPE": "file:loop",
        "DISK_0_UUID": inst.disks[0].uuid, "DISK_0_NAME": "root", "DISK_0_SIZE": "1024",
        "DISK_1_PATH": str(tmp_path / "disk1"), "DISK_1_ACCESS": "ro",
        "DISK_1_FRONTEND_TYPE": "paravirtual", "DISK_1_BACKEND_TYPE": "file:loop",
        "DISK_1_UUID": inst.disks[1].uuid, "DISK_1_SIZE": "512",
        "NIC_0_MAC": "aa:00:00:11:22:33", "NIC_0_IP": "192.0.2.10",
        "NIC_0_MODE": "bridged", "NIC_0_BRIDGE": "br0", "NIC_0_LINK": "br0",
        "NIC_0_FRONTEND_TYPE": "e1000", "NIC_0_UUID": inst.nics[0].uuid,
        "NIC_0_NAME": "eth0",
        "NIC_1_MAC": "aa:00:00:44:55:66", "NIC_1_MODE": "routed", "NIC_1_LINK": "100",
        "NIC_1_FRONTEND_TYPE": "e1000", "NIC_1_UUID": inst.nics[1].uuid,
        "NIC_1_NETWORK_NAME": "net1", "NIC_1_NETWORK_UUID": "net-uuid",
        "NIC_1_NETWORK_SUBNET": "192.0.2.0/24", "NIC_1_NETWORK_GATEWAY": "192.0.2.1",
        "NIC_1_NETWORK_MAC_PREFIX": "aa:00:00", "NIC_1_NETWORK_TAGS": "a b",
        "INSTANCE_HV_kernel_path": "/boot/vmlinuz", "INSTANCE_HV_disk_type": "paravirtual",
        "INSTANCE_HV_nic_type": "e1000", "INSTANCE_HV_acpi": "True",
        "INSTANCE_BE_maxmem": "256", "INSTANCE_BE_minmem": "128", "INSTANCE_BE_vcpus": "1",
        "OSP_FILESYSTEM": "ext4", "OSP_ROOT_SIZE": "5G", "OSP_PASSWORD": "secret",
    }
    assert env == expected
    assert all(isinstance(v, str) for v in env.values())


def test_env_variant_defaults_and_old_api(tmp_path):
    variants = osinterface.load_os("deb", str(make_os(
        tmp_path, "deb", variants="default\nmini\n", parameters="")))
    env = osinterface.core_env("deb", variants, {})
    assert env["OS_VARIANT"] == "default"
    assert env["DEBUG_LEVEL"] == "0"
    old = osinterface.load_os("old", str(make_os(
        tmp_path, "old", api="10\n", scripts=["create", "export", "import", "rename"],
        variants="default\n")))
    env = osinterface.core_env("old+default", old, {})
    assert env["OS_API_VERSION"] == "10"
    assert env["OS_VARIANT"] == ""


def test_env_fails_for_inactive_disk(tmp_path, devices):
    os_def = osinterface.load_os("deb", str(make_os(
        tmp_path / "os", "deb", variants="mini\n", parameters="")))
    inst = make_instance(tmp_path)
    (tmp_path / "disk1").unlink()
    with pytest.raises(errors.BlockDeviceError, match="Disk 1 of instance"
                       " inst1.example.com is not active"):
        osinterface.instance_env(inst, os_def)


def test_transfer_env(tmp_path):
    env = {"DISK_0_PATH": "/dev/xenvg/disk0", "OS_NAME": "x"}
    exp = osinterface.transfer_env(env, "export", 0)
    assert exp["EXPORT_INDEX"] == "0"
    assert exp["EXPORT_DEVICE"] == exp["EXPORT_DISK_PATH"] == "/dev/xenvg/disk0"
    imp = osinterface.transfer_env(env, "import", 0)
    assert imp["IMPORT_DEVICE"] == "/dev/xenvg/disk0"
    assert "EXPORT_INDEX" not in env


# ---- running scripts -------------------------------------------------------------

ENV_DUMP = 'env | sort\necho "cwd=$(pwd)"\n'


def test_create_runs_with_clean_env_and_writes_log(tmp_path, devices, monkeypatch):
    monkeypatch.setenv("SHOULD_NOT_LEAK", "1")
    base = tmp_path / "os"
    make_os(base, "deb", variants="mini\n", parameters="filesystem fs\n",
            script_body=ENV_DUMP + 'echo "to stderr" >&2\n')
    logs = tmp_path / "log" / "os"
    inst = make_instance(tmp_path)
    logfile = osinterface.create_os(inst.to_dict(), reinstall=True, debug=0,
                                    path=[str(base)], log_dir=str(logs))
    name = os.path.basename(logfile)
    assert name.startswith("add-deb+mini-inst1.example.com-") and name.endswith(".log")
    text = open(logfile).read()
    assert "INSTANCE_REINSTALL=1\n" in text
    assert "OSP_FILESYSTEM=ext4\n" in text
    assert "DISK_0_PATH=%s\n" % (tmp_path / "disk0") in text
    assert "cwd=%s\n" % (base / "deb") in text
    assert "SHOULD_NOT_LEAK" not in text
    assert text.endswith("to stderr\n")
    assert stat.S_IMODE(os.stat(logs).st_mode) == 0o750


def test_first_install_has_no_reinstall_flag(tmp_path, devices):
    base = tmp_path / "os"
    make_os(base, "deb", variants="mini\n", parameters="", script_body=ENV_DUMP)
    logfile = osinterface.create_os(make_instance(tmp_path), path=[str(base)],
                                    log_dir=str(tmp_path / "logs"))
    assert "INSTANCE_REINSTALL" not in open(logfile).read()


def test_failing_create_names_the_log_and_shows_the_tail(tmp_path, devices):
    base = tmp_path / "os"
    body = "".join("echo line%d\n" % i for i in range(30)) + "echo boom >&2\nexit 3\n"
    make_os(base, "deb", variants="mini\n", parameters="", script_body=body)
    with pytest.raises(errors.OpExecError) as info:
        osinterface.create_os(make_instance(tmp_path), path=[str(base)],
                              log_dir=str(tmp_path / "logs"))
    msg = info.value.args[0]
    logs = os.listdir(tmp_path / "logs")
    assert len(logs) == 1
    assert str(tmp_path / "logs" / logs[0]) in msg
    assert msg.startswith("OS create script failed (exited with exit code 3)")
    assert msg.endswith("line29\nboom")
    assert "line9\n" not in msg and "line11\n" in msg


def test_script_timeout(tmp_path):
    base = tmp_path / "os"
    make_os(base, "slow", parameters="", script_body="sleep 5\n")
    os_def = osinterface.find_os("slow", [str(base)])
    with pytest.raises(errors.OpExecError, match="timed out"):
        osinterface.run_script(os_def, "create", {}, str(tmp_path / "l.log"), timeout=0.2)


def test_rename_sets_old_name_and_log_name(tmp_path, devices):
    base = tmp_path / "os"
    make_os(base, "deb", variants="mini\n", parameters="", script_body=ENV_DUMP)
    logfile = osinterface.rename_os(make_instance(tmp_path), "old.example.com",
                                    path=[str(base)], log_dir=str(tmp_path / "logs"))
    assert os.path.basename(logfile).startswith(
        "rename-deb+mini-old.example.com-inst1.example.com-")
    text = open(logfile).read()
    assert "OLD_INSTANCE_NAME=old.example.com\n" in text
    assert "INSTANCE_NAME=inst1.example.com\n" in text


def test_verify_gets_checks_and_osp(tmp_path):
    base = tmp_path / "os"
    make_os(base, "deb", parameters="filesystem fs\n", script_body=(
        '[ "$1" = parameters ] || exit 9\n'
        'case "$OSP_FILESYSTEM" in ext4|"") exit 0;; esac\n'
        'echo "bad filesystem $OSP_FILESYSTEM" >&2; exit 1\n'))
    os_def = osinterface.find_os("deb", [str(base)])
    osinterface.verify_os_params("deb", os_def, ["parameters"], {"filesystem": "ext4"})
    with pytest.raises(errors.OpExecError, match="bad filesystem xfs"):
        osinterface.verify_os_params("deb", os_def, ["parameters"],
                                     {"filesystem": "xfs"})


def test_real_noop_create_and_rename(tmp_path, devices):
    if not os.path.isdir(NOOP_DIR):
        pytest.skip("ganeti-os-noop is not installed")
    inst = make_instance(tmp_path, os_name="noop")
    path = [os.path.dirname(NOOP_DIR)]
    logs = str(tmp_path / "logs")
    add_log = osinterface.create_os(inst.to_dict(), path=path, log_dir=logs)
    assert os.path.basename(add_log).startswith("add-noop-inst1.example.com-")
    ren_log = osinterface.rename_os(inst.to_dict(), "old.example.com", path=path,
                                    log_dir=logs)
    assert os.path.exists(add_log) and os.path.exists(ren_log)


# ---- export and import of one disk -------------------------------------------------

EXPORT_BODY = 'env | sort >&2\ndd if="$EXPORT_DEVICE" bs=4096\n'
IMPORT_BODY = 'env | sort\ncat > "$IMPORT_DEVICE"\necho imported >&2\n'


def make_transfer_os(base, name="deb", export_body=EXPORT_BODY, import_body=IMPORT_BODY):
    path = make_os(base, name, variants="mini\n", parameters="filesystem fs\n")
    (path / "export").write_text("#!/bin/sh\n" + export_body)
    (path / "import").write_text("#!/bin/sh\n" + import_body)
    return [str(base)]


def test_transfer_script_of_an_export_and_an_import(tmp_path, devices):
    """What impexpd runs for disk 1: the script, its directory, its log file and
    its environment (the device is the one given: a snapshot for exports)."""
    search = make_transfer_os(tmp_path / "os", "cat")
    inst = make_instance(tmp_path, os_name="cat")
    inst.osparams = {"filesystem": "ext4"}
    logs = str(tmp_path / "logs")
    argv, env, cwd, logfile = osinterface.transfer_script(
        inst.to_dict(), "export", 1, "/dev/xenvg/d1.snap", debug=1, path=search,
        log_dir=logs)
    assert argv == [os.path.join(search[0], "cat", "export")]
    assert cwd == os.path.join(search[0], "cat")
    assert os.path.dirname(logfile) == logs
    assert os.path.basename(logfile).startswith("export-cat-inst1.example.com-1-")
    assert env["EXPORT_INDEX"] == "1"
    assert env["EXPORT_DEVICE"] == env["EXPORT_DISK_PATH"] == "/dev/xenvg/d1.snap"
    assert env["DISK_1_PATH"] == str(tmp_path / "disk1")
    assert env["DISK_COUNT"] == "2" and env["DEBUG_LEVEL"] == "1"
    assert env["OSP_FILESYSTEM"] == "ext4" and env["OS_NAME"] == "cat"
    assert env["PATH"] == osinterface.SCRIPT_PATH
    assert "IMPORT_INDEX" not in env
    argv, env, _, logfile = osinterface.transfer_script(
        inst, "import", 1, str(tmp_path / "disk1"), path=search, log_dir=logs)
    assert argv == [os.path.join(search[0], "cat", "import")]
    assert os.path.basename(logfile).startswith("import-cat-inst1.example.com-1-")
    assert env["IMPORT_INDEX"] == "1" and "EXPORT_INDEX" not in env
    assert env["IMPORT_DEVICE"] == env["IMPORT_DISK_PATH"] == str(tmp_path / "disk1")


def test_transfer_script_refusals(tmp_path, devices):
    search = make_transfer_os(tmp_path / "os", "cat")
    inst = make_instance(tmp_path, os_name="cat")
    for index in (2, -1, "0", True):
        with pytest.raises(errors.OpExecError, match="Invalid disk index"):
            osinterface.transfer_script(inst, "export", index, "/dev/x", path=search)
    os.unlink(tmp_path / "disk0")
    with pytest.raises(errors.BlockDeviceError, match="Disk 0 of instance"
                       " inst1.example.com is not active"):
        osinterface.transfer_script(inst, "export", 0, "/dev/x", path=search)


@pytest.mark.parametrize("path, reason", [
    ("relative/img", "is not absolute"),
    ("/etc/img", "is not inside the export directory"),
    ("EXPORT/../img", "must not contain '..'"),
    ("EXPORT", "is not inside the export directory"),
    ("EXPORT-other/img", "is not inside the export directory"),
    ("EXPORT/escape/img", "is not inside the export directory"),
    ("", "Invalid export file path"),
])
def test_export_file_paths_outside_the_export_dir_are_refused(tmp_path, path, reason):
    export_dir = str(tmp_path / "export")
    os.mkdir(export_dir)
    os.symlink(str(tmp_path), os.path.join(export_dir, "escape"))
    with pytest.raises(errors.OpExecError, match=reason):
        osinterface.export_file_path(path.replace("EXPORT", export_dir), export_dir,
                                     root_dir="")


def test_export_file_paths_under_a_virtual_root(tmp_path):
    root = str(tmp_path / "vroot" / "node1")
    export_dir = root + "/var/lib/ganeti/export"
    assert osinterface.export_file_path("/var/lib/ganeti/export/i/d0", export_dir,
                                        root) == export_dir + "/i/d0"
    # a path already carrying the root is taken as it is
    assert osinterface.export_file_path(export_dir + "/i/d0", export_dir,
                                        root) == export_dir + "/i/d0"
    with pytest.raises(errors.OpExecError, match="not inside the export directory"):
        osinterface.export_file_path(str(tmp_path / "d0"), export_dir, root)
