"""gnt-instance modify -t by copying (cmdlib/template_copy.py): which pairs
convert, which options go with which target, Ganeti's messages, and the
conversion itself with the node procedures run in-process on real files and
ExtStorage volumes (test/es_provider.py; blockdev_convert copies with dd):
the data arrives, a failure leaves the instance and its old disks as they
were and nothing new behind."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import es_provider  # noqa: E402

from ganeti import config, constants, errors, objects, opcodes, pathutils, rpc  # noqa: E402
from ganeti import backend  # noqa: E402
from ganeti.backend import storage as bstorage  # noqa: E402
from ganeti.backend.common import RpcFail  # noqa: E402
from ganeti.client import gnt_instance  # noqa: E402
from ganeti.cmdlib import conversion_options as copts  # noqa: E402
from ganeti.cmdlib import instance_change  # noqa: E402
from ganeti.utils import process  # noqa: E402

NODE = "node1.example.com"
# the policy's smallest instance: the disks here are of a few MiB
_SMALL = dict(constants.ISPECS_MIN_DEFAULTS, **{"disk-size": 1, "nic-count": 0})
NAME = "inst1.example.com"
MIB = 1024 * 1024


# ---- the options (client and master share the rules) ---------------------------------

@pytest.mark.parametrize("template,ext,driver,fdir,message", [
    ("file", {}, "loop", "sub", None),
    ("sharedfile", {}, None, "sub", None),
    ("ext", {"provider": "p"}, None, None, None),
    (None, {}, None, None, None),
    ("plain", {}, None, "sub", "Specifying file-based configuration arguments requires"
     " converting to a file-based disk template"),
    (None, {}, "loop", None, "Specifying file-based configuration arguments requires"
     " converting to a file-based disk template"),
    ("ext", {"provider": "p"}, "loop", None, "Specifying file-based configuration"
     " arguments requires converting to a file-based disk template"),
    ("file", {"provider": "p"}, None, None, "Specifying ExtStorage parameters requires"
     " converting to the 'ext' disk template"),
    (None, {"provider": "p"}, None, None, "Specifying ExtStorage parameters requires"
     " converting to the 'ext' disk template"),
    ("ext", {}, None, None, "Provider option is missing, use either the '--ext-params'"
     " or '-e' option"),
])
def test_options_go_with_their_target(template, ext, driver, fdir, message):
    assert copts.misplaced_option(template, ext, driver, fdir) == message


@pytest.mark.parametrize("params,message", [
    ({"pool": "a"}, "Missing required parameter 'provider' when converting to an"
     " ExtStorage disk template"),
    ({"provider": "p", "size": "1G"}, "Invalid parameter 'size' when converting to an"
     " ExtStorage template (it is not allowed modifying existing disk parameters)"),
    ({"provider": "p", "vg": "xenvg"}, "Invalid parameter 'vg'"),
    ({"provider": True}, "ExtStorage parameter 'provider' needs a value"),
    ({"provider": "p", "flag": True}, "ExtStorage parameter 'flag' needs a value"),
])
def test_bad_ext_params(params, message):
    with pytest.raises(errors.OpPrereqError, match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        copts.check_ext_params(params)
    copts.check_ext_params({"provider": "p", "pool": "a"})


class _Opts:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def _client_opts(**kwargs):
    values = dict(beparams={}, hvparams={}, nics=None, disks=None, os=None, osparams={},
                  osparams_private=None, force=False, offline=None, force_variant=False,
                  runtime_mem=None, ignore_ipolicy=False, hotplug=False,
                  hotplug_if_possible=False, conflicts_check=True, wait_for_sync=True,
                  disk_template=None, node=None, iallocator=None, new_primary_node=None,
                  ext_params={}, file_driver=None, file_storage_dir=None)
    values.update(kwargs)
    return _Opts(**values)


def test_client_refuses_misplaced_options_as_ganeti(monkeypatch, capsys):
    submitted = []
    monkeypatch.setattr(gnt_instance.cli, "submit_or_send",
                        lambda op, opts, **kw: submitted.append(op))
    assert gnt_instance.modify_instance(_client_opts(
        disk_template="plain", file_driver="loop"), [NAME]) == 1
    assert capsys.readouterr().err == ("Specifying file-based configuration arguments"
                                       " requires converting to a file-based disk"
                                       " template\n")
    with pytest.raises(errors.OpPrereqError, match="Missing required parameter"):
        gnt_instance.modify_instance(_client_opts(disk_template="ext",
                                                  ext_params={"x": "1"}), [NAME])
    assert submitted == []
    gnt_instance.modify_instance(_client_opts(
        disk_template="sharedfile", file_driver="blktap", file_storage_dir="sub"), [NAME])
    (op,) = submitted
    assert (op.disk_template, op.file_driver, op.file_storage_dir, op.ext_params) == (
        "sharedfile", "blktap", "sub", {})


# ---- a one-node cluster whose node procedures run in-process --------------------------

class _Rpc:
    """call_<procedure>(node, *args): the node procedure, its arguments through
    JSON as noded gets them. ``fail``: {procedure: predicate(args) -> message}."""

    def __init__(self, free=None):
        self.calls = []
        self.fail = {}
        self.free = free

    def __getattr__(self, name):
        procedure = name[len("call_"):]

        def call(node, *args):
            if procedure == "node_info":        # a multi-node call
                return dict((name, rpc.RpcResult(name, procedure, data={"storage": [
                    {"storage_free": self.free} for _ in args[0]]})) for name in node)
            return self._run(procedure, node, args)
        return call

    def call(self, procedure, nodes, args, timeout=None):
        return dict((node, self._run(procedure, node, args)) for node in nodes)

    def _run(self, procedure, node, args):
        self.calls.append(procedure)
        args = json.loads(json.dumps(args))
        message = self.fail.get(procedure, lambda _: None)(args)
        if message:
            return rpc.RpcResult(node, procedure, fail_msg=message)
        if procedure == "instance_info":
            return rpc.RpcResult(node, procedure, data=None)     # stopped
        try:
            data = backend.PROCEDURES[procedure](*args)
        except RpcFail as err:
            return rpc.RpcResult(node, procedure, fail_msg=str(err))
        return rpc.RpcResult(node, procedure, data=data)


class _Context:
    def __init__(self, cfg, rpc_):
        self.cfg, self.rpc, self.glm = cfg, rpc_, None


@pytest.fixture
def bed(tmp_path, monkeypatch):
    """The file storage dirs (both allowed), the ExtStorage providers "shared"
    and "other" (test/es_provider.py; their volumes in ``voldir``) and a
    config writer factory."""
    fs, sfs = tmp_path / "file-storage", tmp_path / "shared-file-storage"
    fs.mkdir()
    sfs.mkdir()
    paths = tmp_path / "file-storage-paths"
    paths.write_text("%s\n%s\n" % (fs, sfs))
    monkeypatch.setattr(pathutils, "FILE_STORAGE_PATHS_FILE", str(paths))
    monkeypatch.setattr(pathutils, "VIRT_ROOTDIR", "")
    monkeypatch.setattr(pathutils, "DISK_LINKS_DIR", str(tmp_path / "links"))
    monkeypatch.setattr(pathutils, "LOG_ES_DIR", str(tmp_path / "log-es"))
    monkeypatch.setattr(constants, "ES_SEARCH_PATH", [str(tmp_path / "es")])
    voldir = str(tmp_path / "volumes")
    for provider in ("shared", "other"):
        es_provider.install(str(tmp_path / "es"), provider, voldir)

    class Bed:
        def __init__(self):
            self.fs, self.sfs, self.cfg_path = fs, sfs, str(tmp_path / "config.data")
            self.voldir = voldir

        def config(self, inst, templates=("file", "sharedfile", "diskless"), vg=None):
            group = objects.NodeGroup(name="default", ipolicy={})
            node = objects.Node(name=NODE, primary_ip="192.0.2.1", master_candidate=True,
                                group=group.uuid)
            cluster = objects.Cluster(
                cluster_name="cluster.example.com", master_node=NODE,
                master_ip="192.0.2.254", master_netdev="lo", enabled_hypervisors=["fake"],
                enabled_disk_templates=list(templates), volume_group_name=vg,
                file_storage_dir=str(fs), shared_file_storage_dir=str(sfs),
                nicparams={"default": {"link": "br0"}},
                ipolicy={"disk-templates": list(constants.DISK_TEMPLATES),
                         "minmax": [{"min": _SMALL, "max": constants.ISPECS_MAX_DEFAULTS}]})
            config.ConfigWriter.write_initial(self.cfg_path, objects.ConfigData(
                cluster=cluster, nodes={NODE: node}, nodegroups={group.uuid: group},
                instances={inst.name: inst}))
            return config.ConfigWriter(self.cfg_path)
    return Bed()


def _file_instance(bed, sizes=(2, 3), template="file", admin_state="down"):
    """An instance with file disks that exist, each filled with its own pattern."""
    base = bed.fs if template == "file" else bed.sfs
    disks = []
    for idx, size in enumerate(sizes):
        disk = objects.Disk(dev_type=template, size=size, iv_name="disk/%d" % idx,
                            mode="ro" if idx else "rw", name="d%d" % idx, nodes=[NODE])
        disk.logical_id = ["loop", str(base / NAME / ("%s.%s.disk%d"
                                                       % (disk.uuid, template, idx)))]
        bstorage.blockdev_create(disk.to_dict(), size, NAME, True, "", False)
        with open(disk.logical_id[1], "r+b") as fd:
            fd.write(_pattern(idx, size))
        disks.append(disk)
    return objects.Instance(name=NAME, primary_node=NODE, os="noop", hypervisor="fake",
                            disk_template=template, disks=disks, nics=[],
                            admin_state=admin_state)


def _pattern(idx, size):
    return bytes([(idx * 37 + i) % 251 for i in range(256)]) * (size * MIB // 256)


def _lu(cfg, rpc_, lines, **params):
    op = opcodes.OpInstanceSetParams(instance_name=NAME, **params)
    op.validate()
    lu = instance_change.LUInstanceSetParams(None, op, _Context(cfg, rpc_), lines.append)
    lu.expand_names()
    lu.check_prereq()
    return lu


def _refusal(cfg, **params):
    with pytest.raises(errors.OpPrereqError) as exc:
        _lu(cfg, _Rpc(), [], **params)
    return exc.value.args[0]


def _files(*dirs):
    return sorted(os.path.join(root, name) for d in dirs
                  for root, subdirs, names in os.walk(str(d)) for name in names + subdirs)


# ---- the rules ------------------------------------------------------------------------

def test_which_pairs_convert(bed):
    inst = _file_instance(bed)
    cfg = bed.config(inst)
    assert _refusal(cfg, disk_template="file") == "Instance already has disk template file"
    assert _refusal(cfg, disk_template="diskless") == ("Conversion to the 'diskless' disk"
                                                       " template is not supported")
    assert _refusal(cfg, disk_template="blockdev") == ("Conversion to the 'blockdev'"
                                                       " disk template is not supported")
    assert _refusal(cfg, disk_template="plain") == (
        "Disk template 'plain' is not enabled for this cluster (enabled templates: file,"
        " sharedfile, diskless)")
    cfg = bed.config(inst, templates=("file", "plain"))
    assert _refusal(cfg, disk_template="plain") == ("Disk template conversions to"
                                                    " lvm-based instances are not"
                                                    " supported by the cluster")
    cfg = bed.config(inst, templates=("file", "drbd"), vg="xenvg")
    assert _refusal(cfg, disk_template="drbd", remote_node=NODE) == (
        "Unsupported disk template conversion from file to drbd (drbd converts only to"
        " and from plain)")
    diskless = objects.Instance(name=NAME, primary_node=NODE, hypervisor="fake",
                                disk_template="diskless", disks=[], nics=[])
    assert _refusal(bed.config(diskless), disk_template="file") == (
        "Conversion from the 'diskless' disk template is not supported")


def test_drbd_converts_only_to_plain(bed):
    disk = objects.Disk(dev_type="drbd", size=64, iv_name="disk/0", nodes=[NODE, "n2"],
                        logical_id=[NODE, "n2", 11000, 0, 0, "secret"])
    inst = objects.Instance(name=NAME, primary_node=NODE, hypervisor="fake",
                            disk_template="drbd", disks=[disk], nics=[])
    assert _refusal(bed.config(inst, templates=("drbd", "file"), vg="xenvg"),
                    disk_template="file") == (
        "Unsupported disk template conversion from drbd to file (drbd converts only to"
        " and from plain)")


def test_running_instance_is_refused(bed):
    cfg = bed.config(_file_instance(bed, admin_state="up"))
    assert _refusal(cfg, disk_template="sharedfile") == (
        "Instance '%s' is marked to be up, cannot change disk template" % NAME)


def test_options_need_their_target_on_the_master_too(bed):
    cfg = bed.config(_file_instance(bed))
    assert _refusal(cfg, file_storage_dir="sub") == (
        "Specifying file-based configuration arguments requires converting to a"
        " file-based disk template")
    assert _refusal(cfg, disk_template="sharedfile", ext_params={"provider": "p"}) == (
        "Specifying ExtStorage parameters requires converting to the 'ext' disk template")
    assert _refusal(cfg, disk_template="ext", ext_params={"provider": "p", "mode": "rw"})\
        .startswith("Invalid parameter 'mode' when converting")


def test_ext_rules(bed):
    """ext to ext needs another provider (Ganeti's rule); the provider must be
    valid on the primary node."""
    cfg = bed.config(_file_instance(bed), templates=("file", "ext"))
    assert _refusal(cfg, disk_template="ext", ext_params={"provider": "nope"}) == (
        "ExtStorage provider 'nope' is not valid on node %s: Directory for External"
        " Storage Provider nope not found in search path" % NODE)
    ext = objects.Disk(dev_type="ext", size=2, iv_name="disk/0", nodes=[NODE],
                       logical_id=["shared", "vol"], params={"provider": "shared"})
    inst = objects.Instance(name=NAME, primary_node=NODE, hypervisor="fake",
                            disk_template="ext", disks=[ext], nics=[])
    assert _refusal(bed.config(inst, templates=("file", "ext")), disk_template="ext",
                    ext_params={"provider": "shared"}) == (
        "Not converting, 'disk/0' of type ExtStorage already using provider 'shared'")


def test_not_enough_space(bed):
    cfg = bed.config(_file_instance(bed))
    with pytest.raises(errors.OpPrereqError, match="Not enough disk space on node %s:"
                       " requested 5 MiB, available 4 MiB" % NODE):
        _lu(cfg, _Rpc(free=4), [], disk_template="sharedfile")
    _lu(cfg, _Rpc(free=5), [], disk_template="sharedfile")


def test_new_disks_follow_the_options(bed):
    cfg = bed.config(_file_instance(bed))
    lu = _lu(cfg, _Rpc(free=100), [], disk_template="sharedfile",
             file_storage_dir="sub/dir", file_driver="blktap")
    old = cfg.get_instance_info(NAME).disks
    for idx, (disk, before) in enumerate(zip(lu.converted_disks, old)):
        assert (disk.dev_type, disk.size, disk.mode, disk.name, disk.iv_name) == (
            "sharedfile", before.size, before.mode, before.name, "disk/%d" % idx)
        assert disk.uuid != before.uuid
        assert disk.logical_id == ["blktap", "%s/sub/dir/%s/%s.sharedfile.disk%d"
                                   % (bed.sfs, NAME, disk.uuid, idx)]
    # checking changed nothing
    assert _files(bed.sfs) == []


# ---- the conversion -------------------------------------------------------------------

def _convert(cfg, rpc_, **params):
    lines = []
    lu = _lu(cfg, rpc_, lines, **params)
    lu.exec(lines.append)
    return lines


def test_file_to_sharedfile_and_back_keeps_the_data(bed):
    inst = _file_instance(bed)
    old_files = [d.logical_id[1] for d in inst.disks]
    cfg = bed.config(inst)
    lines = _convert(cfg, _Rpc(free=100), disk_template="sharedfile")
    assert lines == [
        "Converting disk template from 'file' to 'sharedfile'",
        "Generating new 'sharedfile' disk template...",
        "Creating new empty disks of type 'sharedfile'...",
        "Populating the new empty disks of type 'sharedfile'...",
        " - copying data from disk 0 (file), size 2M",
        " - copying data from disk 1 (file), size 3M",
        "Detaching old disks (file) from the instance and removing them from cluster"
        " config",
        "Adding new disks (sharedfile) to cluster config and attaching them to the"
        " instance",
        " - INFO: Waiting for instance %s to sync disks" % NAME,
        " - INFO: Instance %s's disks are in sync" % NAME,
        "Removing old block devices of type 'file'..."]
    inst = cfg.get_instance_info(NAME)
    assert inst.disk_template == "sharedfile"
    assert [(d.dev_type, d.mode, d.name) for d in inst.disks] == [
        ("sharedfile", "rw", "d0"), ("sharedfile", "ro", "d1")]
    for idx, disk in enumerate(inst.disks):
        with open(disk.logical_id[1], "rb") as fd:
            assert fd.read() == _pattern(idx, disk.size)
    # the old disks and their directory are gone
    assert _files(bed.fs) == [] and not any(os.path.exists(p) for p in old_files)

    _convert(cfg, _Rpc(free=100), disk_template="file", file_storage_dir="back")
    inst = cfg.get_instance_info(NAME)
    assert inst.disk_template == "file"
    assert _files(bed.sfs) == []
    for idx, disk in enumerate(inst.disks):
        assert disk.logical_id[1].startswith("%s/back/%s/" % (bed.fs, NAME))
        with open(disk.logical_id[1], "rb") as fd:
            assert fd.read() == _pattern(idx, disk.size)


def test_failed_copy_leaves_the_instance_as_it_was(bed):
    inst = _file_instance(bed)
    cfg = bed.config(inst)
    before = cfg.get_instance_info(NAME).to_dict()
    old_files = _files(bed.fs)
    rpc_ = _Rpc(free=100)
    # the second disk's copy fails on the node (as dd on a full filesystem)
    rpc_.fail["blockdev_convert"] = lambda args: (
        "Disk conversion command 'dd ...' exited with error: exited with exit code 1;"
        " output: dd: error writing: No space left on device"
        if args[0]["iv_name"] == "disk/1" else None)
    lines = []
    lu = _lu(cfg, rpc_, lines, disk_template="sharedfile")
    new_paths = [d.logical_id[1] for d in lu.converted_disks]
    with pytest.raises(errors.OpExecError) as exc:
        lu.exec(lines.append)
    assert exc.value.args[0] == (
        "Error while converting the instance's template: Disk conversion command 'dd"
        " ...' exited with error: exited with exit code 1; output: dd: error writing: No"
        " space left on device")
    assert lines[-6:] == [
        " - copying data from disk 1 (file), size 3M",
        " - ERROR: Could not copy disk '%s' to '%s'" % (inst.disks[1].logical_id[1],
                                                       new_paths[1]),
        " - INFO: Some disks failed to copy",
        " - INFO: The instance will not be affected, aborting operation",
        " - INFO: Removing newly created disks of type 'sharedfile'...",
        " - INFO: Newly created disks removed successfully"]
    assert cfg.get_instance_info(NAME).to_dict() == before
    assert _files(bed.sfs) == [] and _files(bed.fs) == old_files
    for idx, disk in enumerate(inst.disks):
        with open(disk.logical_id[1], "rb") as fd:
            assert fd.read() == _pattern(idx, disk.size)


def test_bad_directory_fails_before_anything_is_made(bed):
    cfg = bed.config(_file_instance(bed))
    before = cfg.get_instance_info(NAME).to_dict()
    lines = []
    lu = _lu(cfg, _Rpc(free=100), lines, disk_template="sharedfile",
             file_storage_dir="../../elsewhere")
    with pytest.raises(errors.OpExecError, match="Cannot create the file storage"
                       " directory .*must not contain '..'"):
        lu.exec(lines.append)
    assert lines[-1] == " - WARNING: Device creation failed"
    assert cfg.get_instance_info(NAME).to_dict() == before
    assert _files(bed.sfs) == []


def test_failed_creation_removes_the_new_directory(bed):
    cfg = bed.config(_file_instance(bed))
    rpc_ = _Rpc(free=100)
    rpc_.fail["blockdev_create"] = lambda args: "Cannot create disk: disk full"
    lu = _lu(cfg, rpc_, [], disk_template="sharedfile", file_storage_dir="sub")
    with pytest.raises(errors.OpExecError, match="disk full"):
        lu.exec(lambda line: None)
    # the instance's directory was made, then removed (sub/ stays, as on create)
    assert _files(bed.sfs) == [str(bed.sfs / "sub")]


def test_blockdev_convert_on_the_node(bed, monkeypatch):
    """The node procedure: both disks must exist; the data of dest's size is
    copied; dd's failure is reported with its output."""
    src = _file_instance(bed, sizes=(2,)).disks[0]
    dest = objects.Disk(dev_type="sharedfile", size=2, iv_name="disk/0",
                        logical_id=["loop", str(bed.sfs / NAME / "new")])
    with pytest.raises(RpcFail, match="Cannot copy to device '%s': device not found"
                       % dest.uuid):
        bstorage.blockdev_convert(src.to_dict(), dest.to_dict())
    with pytest.raises(RpcFail, match="Cannot copy from device '%s': device not found"
                       % dest.uuid):
        bstorage.blockdev_convert(dest.to_dict(), src.to_dict())
    bstorage.blockdev_create(dest.to_dict(), 2, NAME, True, "", False)
    bstorage.blockdev_convert(src.to_dict(), dest.to_dict())
    with open(dest.logical_id[1], "rb") as fd:
        assert fd.read() == _pattern(0, 2)

    ran = []

    def full_disk(cmd, **kwargs):
        ran.append(cmd)
        return process.RunResult(cmd, 1, None, "", "dd: error writing '%s': No space"
                                 " left on device\n1+0 records in\n" % cmd[2][3:])
    monkeypatch.setattr(process, "run_cmd", full_disk)
    with pytest.raises(RpcFail) as exc:
        bstorage.blockdev_convert(src.to_dict(), dest.to_dict())
    command = "dd if=%s of=%s bs=1M count=2 conv=notrunc,fsync" % (
        src.logical_id[1], dest.logical_id[1])
    assert ran == [command.split()]
    assert str(exc.value) == (
        "Disk conversion command '%s' exited with error: exited with exit code 1;"
        " output: dd: error writing '%s': No space left on device\n1+0 records in"
        % (command, dest.logical_id[1]))


def _mapped(bed):
    """The volumes attached on the node (their provider's trace)."""
    return sorted(n for n in os.listdir(os.path.join(bed.voldir, "trace"))
                  if ".map." in n)


def _volume_data(bed, disk):
    with open(os.path.join(bed.voldir, disk.logical_id[1]), "rb") as fd:
        return fd.read()


def test_file_to_ext_to_ext_to_sharedfile(bed):
    """To ext: the provider makes the volumes (with the parameters of -e), the
    node copies into the device attach names; ext to another provider; back."""
    cfg = bed.config(_file_instance(bed), templates=("file", "sharedfile", "ext"))
    lines = _convert(cfg, _Rpc(free=100), disk_template="ext",
                     ext_params={"provider": "shared", "pool": "fast"})
    assert lines[:5] == ["Converting disk template from 'file' to 'ext:shared'",
                         "Generating new 'ext:shared' disk template...",
                         "Creating new empty disks of type 'ext:shared'...",
                         "Populating the new empty disks of type 'ext:shared'...",
                         " - copying data from disk 0 (file), size 2M"]
    assert lines[-1] == "Removing old block devices of type 'file'..."
    inst = cfg.get_instance_info(NAME)
    assert inst.disk_template == "ext" and _files(bed.fs) == []
    for idx, disk in enumerate(inst.disks):
        assert disk.params == {"provider": "shared", "access": "kernelspace",
                               "pool": "fast"}
        assert _volume_data(bed, disk) == _pattern(idx, disk.size)
        env = es_provider.last_env(bed.voldir, disk.logical_id[1], "create")
        assert (env["EXTP_POOL"], env["VOL_SIZE"]) == ("fast", str(disk.size))
    first = [d.logical_id[1] for d in inst.disks]
    # made and copied into, then detached: the instance is down
    assert _mapped(bed) == []

    _convert(cfg, _Rpc(free=100), disk_template="ext", ext_params={"provider": "other"})
    inst = cfg.get_instance_info(NAME)
    assert [d.logical_id[0] for d in inst.disks] == ["other", "other"]
    assert [d.params for d in inst.disks] == [{"provider": "other",
                                               "access": "kernelspace"}] * 2
    # the old volumes are gone, the new ones hold the data
    assert es_provider.volumes(bed.voldir) == sorted(d.logical_id[1] for d in inst.disks)
    assert not set(first) & set(es_provider.volumes(bed.voldir))
    for idx, disk in enumerate(inst.disks):
        assert _volume_data(bed, disk) == _pattern(idx, disk.size)

    _convert(cfg, _Rpc(free=100), disk_template="sharedfile")
    inst = cfg.get_instance_info(NAME)
    assert inst.disk_template == "sharedfile" and es_provider.volumes(bed.voldir) == []
    for idx, disk in enumerate(inst.disks):
        with open(disk.logical_id[1], "rb") as fd:
            assert fd.read() == _pattern(idx, disk.size)


def test_provider_failing_to_create_changes_nothing(bed):
    inst = _file_instance(bed)
    cfg = bed.config(inst, templates=("file", "ext"))
    before = cfg.get_instance_info(NAME).to_dict()
    lines = []
    lu = _lu(cfg, _Rpc(free=100), lines, disk_template="ext",
             ext_params={"provider": "shared", "fail": "pool full"})
    with pytest.raises(errors.OpExecError, match="create refused: pool full"):
        lu.exec(lines.append)
    assert lines[-1] == " - WARNING: Device creation failed"
    assert cfg.get_instance_info(NAME).to_dict() == before
    assert es_provider.volumes(bed.voldir) == []
    for idx, disk in enumerate(inst.disks):
        with open(disk.logical_id[1], "rb") as fd:
            assert fd.read() == _pattern(idx, disk.size)


def test_failed_copy_from_ext_leaves_its_volumes_unmapped(bed):
    cfg = bed.config(_file_instance(bed), templates=("file", "sharedfile", "ext"))
    _convert(cfg, _Rpc(free=100), disk_template="ext", ext_params={"provider": "shared"})
    before = cfg.get_instance_info(NAME).to_dict()
    volumes = es_provider.volumes(bed.voldir)
    rpc_ = _Rpc(free=100)
    rpc_.fail["blockdev_convert"] = lambda args: (
        "No space left on device" if args[0]["iv_name"] == "disk/1" else None)
    lu = _lu(cfg, rpc_, [], disk_template="sharedfile")
    with pytest.raises(errors.OpExecError, match="No space left on device"):
        lu.exec(lambda line: None)
    assert cfg.get_instance_info(NAME).to_dict() == before
    assert es_provider.volumes(bed.voldir) == volumes and _files(bed.sfs) == []
    # the copies attached the volumes; they are detached again
    assert _mapped(bed) == []
