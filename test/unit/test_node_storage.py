"""Node storage units: gnt-node list-storage, modify-storage, repair-storage, volumes.

The node side (backend.storage_units) runs against LVM faked at the process
boundary (utils.process.run_cmd). The fake replays what LVM 2.03.16 (Debian 12)
printed: the pvs/vgs/lvs/pvchange/vgreduce texts were recorded with two loop
device PVs in a volume group, one of them then lost; the error texts of a
missing PV/VG on the QA VM nodes (see test/qa). The master side
(cmdlib.node_storage) runs over a real configuration file and a fake RPC; the
client prints through the table code of gnt-node list.
"""

import types

import pytest

from ganeti import config, errors, objects, opcodes, pathutils, rpc
from ganeti.backend import storage_units as su
from ganeti.backend.common import RpcFail
from ganeti.client import gnt_node
from ganeti.cmdlib import node_storage
from ganeti.utils import process
from test_storage_lvm import NO_GLOBAL_FILTER, unfiltered

LVM_LIST = ["--noheadings", "--nosuffix", "--units=m", "--separator=,", "-o"]

# recorded: pvs/vgs of the VG gntrecvg on /dev/loop0 (64M) and /dev/loop1 (32M),
# after "pvchange --allocatable n /dev/loop1"
PVS_OUT = "  /dev/loop0,60.00,0,60.00,a--\n  /dev/loop1,28.00,0,28.00,u--\n"
VGS_OUT = "  gntrecvg,88.00,88.00\n"
# recorded: the same after /dev/loop1 went away
LOST_PV_WARNINGS = (
    "  WARNING: Couldn't find device with uuid a8vLvZ-zjvn-JV1j-aqWX-Mafd-C1Qk-gVfsfP.\n"
    "  WARNING: VG gntrecvg is missing PV a8vLvZ-zjvn-JV1j-aqWX-Mafd-C1Qk-gVfsfP (last"
    " written to /dev/loop1).\n")
PVS_LOST_OUT = "  /dev/loop0,60.00,0,60.00,a--\n  [unknown],28.00,0,28.00,a-m\n"
PVCHANGE_OUT = ('  Physical volume "/dev/loop1" changed\n'
                "  1 physical volume changed / 0 physical volumes not changed\n")
PVCHANGE_MISSING = (5, "  0 physical volumes changed / 0 physical volumes not changed\n",
                    "  Cannot use /dev/nosuchpv: device not found\n")
VGREDUCE_CONSISTENT = '  Volume group "gntrecvg" is already consistent.\n'
VGREDUCE_WROTE = "  Wrote out consistent volume group gntrecvg.\n"
VGS_PLAIN_OK = "  gntrecvg   1   0   0 wz--n- 60.00m 60.00m\n"
VGS_PLAIN_LOST = "  gntrecvg   2   0   0 wz-pn- 88.00m 88.00m\n"
# recorded on a QA VM node: a VG or PV that does not exist
VG_MISSING = (5, "", '  Volume group "nosuchvg" not found\n'
                     "  Cannot process volume group nosuchvg\n")
PV_MISSING = (5, "", '  Failed to find physical volume "/dev/vdb".\n')


class FakeLvm:
    """Answers commands from a table {argv tuple: (exit code, stdout, stderr)}."""

    def __init__(self, answers):
        self.answers = dict((tuple(k), v) for k, v in answers.items())
        self.calls = []

    def __call__(self, argv, env=None, timeout=None, **kwargs):
        argv = unfiltered(argv)
        if argv is None:                # lvmconfig: lvm.conf sets no global filter
            return process.RunResult([], 5, None, "", NO_GLOBAL_FILTER)
        assert env and env.get("LC_ALL") == "C"      # LVM's messages are matched
        self.calls.append(list(argv))
        if tuple(argv) not in self.answers:
            raise AssertionError("unexpected command %r" % (argv,))
        code, out, err = self.answers[tuple(argv)]
        return process.RunResult(argv, code, None, out, err)


@pytest.fixture
def lvm_fake(monkeypatch):
    def install(answers):
        fake = FakeLvm(answers)
        monkeypatch.setattr(process, "run_cmd", fake)
        return fake
    return install


# ---- node side: LVM ---------------------------------------------------------------------

def test_pvs_rows_in_mib_with_the_allocatable_flag(lvm_fake):
    fake = lvm_fake({("pvs", *LVM_LIST, "pv_name,pv_size,pv_used,pv_free,pv_attr"):
                     (0, PVS_OUT, "")})
    rows = su.storage_list("lvm-pv", [], None,
                           ["name", "size", "used", "free", "allocatable"])
    assert rows == [["/dev/loop0", 60, 0, 60, True], ["/dev/loop1", 28, 0, 28, False]]
    assert len(fake.calls) == 1


def test_a_lost_pv_is_listed_as_lvm_names_it(lvm_fake):
    lvm_fake({("pvs", *LVM_LIST, "pv_name,pv_size,pv_used,pv_free,pv_attr"):
              (0, PVS_LOST_OUT, LOST_PV_WARNINGS)})
    rows = su.storage_list("lvm-pv", [], None,
                           ["name", "size", "used", "free", "allocatable"])
    assert rows == [["/dev/loop0", 60, 0, 60, True], ["[unknown]", 28, 0, 28, True]]


def test_vgs_used_is_size_minus_free_and_always_allocatable(lvm_fake):
    lvm_fake({("vgs", *LVM_LIST, "vg_name,vg_size,vg_free"): (0, VGS_OUT, "")})
    assert su.storage_list("lvm-vg", [], None, ["name", "used", "size", "allocatable",
                                                "free"]) == [["gntrecvg", 0, 88, True, 88]]


def test_sizes_round_to_the_nearest_mib(lvm_fake):
    lvm_fake({("vgs", *LVM_LIST, "vg_name,vg_size,vg_free"):
              (0, "  xenvg,32764.50,1023.49\n", "")})
    assert su.storage_list("lvm-vg", [], None, ["name", "size", "free", "used"]) == [
        ["xenvg", 32764, 1023, 31741]]


def test_one_named_unit_and_lvm_errors(lvm_fake):
    lvm_fake({("vgs", *LVM_LIST, "vg_name,vg_size", "nosuchvg"): VG_MISSING,
              ("pvs", *LVM_LIST, "pv_name,pv_size", "/dev/vdb"): PV_MISSING})
    with pytest.raises(RpcFail) as exc:
        su.storage_list("lvm-vg", [], "nosuchvg", ["name", "size"])
    assert 'Volume group "nosuchvg" not found' in str(exc.value)
    with pytest.raises(RpcFail) as exc:
        su.storage_list("lvm-pv", [], "/dev/vdb", ["size"])
    assert 'Failed to find physical volume "/dev/vdb"' in str(exc.value)


@pytest.mark.parametrize("stype,name", [("lvm-vg", "-a"), ("lvm-vg", "bad/name"),
                                        ("lvm-pv", "--all"), ("lvm-pv", "vdb")])
def test_names_that_lvm_would_misread_are_refused_before_running_it(lvm_fake, stype,
                                                                      name):
    fake = lvm_fake({})
    with pytest.raises(RpcFail):
        su.storage_list(stype, [], name, ["name"])
    assert fake.calls == []


def test_unknown_fields_and_types_are_refused(lvm_fake):
    fake = lvm_fake({})
    with pytest.raises(RpcFail) as exc:
        su.storage_list("lvm-pv", [], None, ["name", "spindles"])
    assert "Unknown field(s) for storage type 'lvm-pv': spindles" in str(exc.value)
    with pytest.raises(RpcFail) as exc:
        su.storage_list("diskless", [], None, ["name"])
    assert "cannot report" in str(exc.value)
    assert fake.calls == []


def test_pvchange_sets_and_clears_allocatable(lvm_fake):
    fake = lvm_fake({("pvchange", "--allocatable", "n", "/dev/loop1"): (0, PVCHANGE_OUT, ""),
                     ("pvchange", "--allocatable", "y", "/dev/loop1"): (0, PVCHANGE_OUT, "")})
    su.storage_modify("lvm-pv", [], "/dev/loop1", {"allocatable": False})
    su.storage_modify("lvm-pv", [], "/dev/loop1", {"allocatable": True})
    assert [c[2] for c in fake.calls] == ["n", "y"]


def test_pvchange_failure_reaches_the_master(lvm_fake):
    lvm_fake({("pvchange", "--allocatable", "y", "/dev/nosuchpv"): PVCHANGE_MISSING})
    with pytest.raises(RpcFail) as exc:
        su.storage_modify("lvm-pv", [], "/dev/nosuchpv", {"allocatable": True})
    assert "Cannot use /dev/nosuchpv: device not found" in str(exc.value)


@pytest.mark.parametrize("stype,changes,needle", [
    ("lvm-vg", {"allocatable": False}, "type 'lvm-vg' can not be modified"),
    ("file", {"allocatable": False}, "type 'file' can not be modified"),
    ("lvm-pv", {"size": 10}, "can not be modified for storage units of type 'lvm-pv'"),
    ("lvm-pv", {"allocatable": "no"}, "expected a boolean"),
])
def test_modify_refuses_what_cannot_change(lvm_fake, stype, changes, needle):
    fake = lvm_fake({})
    with pytest.raises(RpcFail) as exc:
        su.storage_modify(stype, [], "/dev/loop1", changes)
    assert needle in str(exc.value)
    assert fake.calls == []


def test_repair_of_a_consistent_vg_runs_vgreduce_twice_as_ganeti(lvm_fake):
    fake = lvm_fake({
        ("vgreduce", "--removemissing", "gntrecvg"): (0, VGREDUCE_CONSISTENT, ""),
        ("vgreduce", "--removemissing", "--force", "gntrecvg"): (0, VGREDUCE_CONSISTENT, ""),
        ("vgs", "--noheadings", "--nosuffix", "gntrecvg"): (0, VGS_PLAIN_OK, "")})
    su.storage_execute("lvm-vg", [], "gntrecvg", "fix-consistency")
    assert [c[:3] for c in fake.calls] == [["vgreduce", "--removemissing", "gntrecvg"],
                                           ["vgreduce", "--removemissing", "--force"],
                                           ["vgs", "--noheadings", "--nosuffix"]]


def test_repair_drops_a_lost_pv(lvm_fake):
    fake = lvm_fake({
        ("vgreduce", "--removemissing", "gntrecvg"):
            (0, VGREDUCE_WROTE, LOST_PV_WARNINGS),
        ("vgs", "--noheadings", "--nosuffix", "gntrecvg"): (0, VGS_PLAIN_OK, "")})
    su.storage_execute("lvm-vg", [], "gntrecvg", "fix-consistency")
    assert len(fake.calls) == 2          # it wrote a consistent VG: no --force


def test_repair_fails_while_the_vg_still_misses_a_pv(lvm_fake):
    lvm_fake({
        ("vgreduce", "--removemissing", "gntrecvg"): (5, "", LOST_PV_WARNINGS),
        ("vgreduce", "--removemissing", "--force", "gntrecvg"): (5, "", LOST_PV_WARNINGS),
        ("vgs", "--noheadings", "--nosuffix", "gntrecvg"):
            (0, VGS_PLAIN_LOST, LOST_PV_WARNINGS)})
    with pytest.raises(RpcFail) as exc:
        su.storage_execute("lvm-vg", [], "gntrecvg", "fix-consistency")
    assert "Volume group 'gntrecvg' still not consistent" in str(exc.value)


def test_repair_only_for_volume_groups(lvm_fake):
    fake = lvm_fake({})
    for stype in ("lvm-pv", "file"):
        with pytest.raises(RpcFail):
            su.storage_execute(stype, [], "/dev/loop1", "fix-consistency")
    with pytest.raises(RpcFail):
        su.storage_execute("lvm-vg", [], "-x", "fix-consistency")
    assert fake.calls == []


# recorded: lvs with LVs in the VG gntrecvg (metadata only, with LVM's
# global/activation=0: no device-mapper on the recording host); an LV over two
# PVs is one row per segment, a striped one names both PVs in one row
LVS_OUT = ("  0c1d2e3f.disk0,8.00,gntrecvg,/dev/loop0(0)\n"
           "  0c1d2e3f.disk1_data,12.00,gntrecvg,/dev/loop0(2)\n"
           "  0c1d2e3f.disk1_meta,4.00,gntrecvg,/dev/loop1(0)\n"
           "  spread,60.00,gntrecvg,/dev/loop0(5)\n"
           "  spread,60.00,gntrecvg,/dev/loop1(1)\n")
LVS_STRIPED_OUT = "  striped,8.00,gntrecvg,/dev/loop0(5),/dev/loop1(1)\n"


def test_node_volumes_one_entry_per_pv(lvm_fake):
    lvm_fake({("lvs", *LVM_LIST, "lv_name,lv_size,vg_name,devices"): (0, LVS_OUT, "")})
    vols = su.node_volumes()
    assert vols[0] == {"name": "0c1d2e3f.disk0", "size": "8.00", "vg": "gntrecvg",
                       "dev": "/dev/loop0"}
    assert [(v["name"], v["dev"]) for v in vols] == [
        ("0c1d2e3f.disk0", "/dev/loop0"), ("0c1d2e3f.disk1_data", "/dev/loop0"),
        ("0c1d2e3f.disk1_meta", "/dev/loop1"), ("spread", "/dev/loop0"),
        ("spread", "/dev/loop1")]
    lvm_fake({("lvs", *LVM_LIST, "lv_name,lv_size,vg_name,devices"):
              (0, LVS_STRIPED_OUT, "")})
    assert [(v["name"], v["dev"]) for v in su.node_volumes()] == [
        ("striped", "/dev/loop0"), ("striped", "/dev/loop1")]


def test_node_volumes_without_lvm(lvm_fake):
    lvm_fake({("lvs", *LVM_LIST, "lv_name,lv_size,vg_name,devices"): (0, "", "")})
    assert su.node_volumes() == []
    lvm_fake({("lvs", *LVM_LIST, "lv_name,lv_size,vg_name,devices"):
              (127, "", "cannot execute: [Errno 2] No such file or directory: 'lvs'")})
    with pytest.raises(RpcFail) as exc:
        su.node_volumes()
    assert "Failed to list logical volumes" in str(exc.value)


# ---- node side: file storage directories -----------------------------------------------

@pytest.fixture
def file_dir(tmp_path, monkeypatch):
    fs = tmp_path / "file-storage"
    (fs / "inst1").mkdir(parents=True)
    (fs / "inst1" / "disk0").write_bytes(b"x" * (3 * su.MIB))
    with open(fs / "inst1" / "disk1", "wb") as fd:      # sparse: its apparent size
        fd.truncate(2 * su.MIB)
    paths_file = tmp_path / "file-storage-paths"
    paths_file.write_text("%s\n" % fs)
    monkeypatch.setattr(pathutils, "FILE_STORAGE_PATHS_FILE", str(paths_file))
    monkeypatch.setattr(pathutils, "VIRT_ROOTDIR", "")
    return str(fs)


def test_file_dir_sizes_from_statvfs_and_its_files(file_dir, monkeypatch):
    fake = types.SimpleNamespace(f_blocks=1000, f_bavail=250, f_frsize=su.MIB)
    monkeypatch.setattr(su.os, "statvfs", lambda path: fake)
    rows = su.storage_list("file", [[file_dir]], None,
                           ["name", "size", "used", "free", "allocatable"])
    assert rows == [[file_dir, 1000, 5, 250, True]]


def test_file_dir_outside_the_allowed_paths_is_refused(file_dir, tmp_path):
    with pytest.raises(RpcFail) as exc:
        su.storage_list("sharedfile", [[str(tmp_path)]], None, ["name", "used"])
    assert "not acceptable for file storage" in str(exc.value)
    with pytest.raises(RpcFail) as exc:
        su.storage_list("file", [[None]], None, ["name"])
    assert "No directory is configured for storage type 'file'" in str(exc.value)


# ---- master side --------------------------------------------------------------------

N1, N2, N3 = "node1.example.com", "node2.example.com", "node3.example.com"


def _plain(lv, size=1024):
    return objects.Disk(dev_type="plain", logical_id=["xenvg", lv], size=size,
                        iv_name="disk/0")


def _instances():
    drbd = objects.Disk(dev_type="drbd", logical_id=[N1, N2, 11000, 0, 0, "secret"],
                        children=[_plain("d.disk0_data", 512), _plain("d.disk0_meta", 128)],
                        nodes=[N1, N2], size=512, iv_name="disk/0")
    return [objects.Instance(name="plain1.example.com", primary_node=N1, disks=[
                _plain("p.disk0")], disk_template="plain", disks_active=True),
            objects.Instance(name="drbd1.example.com", primary_node=N1, disks=[drbd],
                             disk_template="drbd", disks_active=True)]


def _cfg(tmp_path, templates, instances=()):
    group = objects.NodeGroup(name="default")
    nodes = dict((name, objects.Node(name=name, primary_ip="192.0.2.%d" % i,
                                     secondary_ip="192.0.2.%d" % i, group=group.uuid,
                                     master_candidate=True, offline=(name == N3)))
                 for i, name in enumerate([N1, N2, N3], 1))
    cluster = objects.Cluster(cluster_name="cluster.example.com", master_node=N1,
                              master_ip="192.0.2.254", master_netdev="lo",
                              enabled_hypervisors=["fake"], volume_group_name="xenvg",
                              enabled_disk_templates=list(templates),
                              file_storage_dir="/srv/ganeti/file-storage")
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, objects.ConfigData(
        cluster=cluster, nodes=nodes, nodegroups={group.uuid: group},
        instances=dict((i.name, i) for i in instances)))
    return config.ConfigWriter(path)


class FakeRpc:
    """Per-node answers (data, or an RpcResult) for each storage call."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def _result(self, call, node):
        if node == N3:
            return rpc.RpcResult(node, call, offline=True, fail_msg="Node is offline")
        answer = self.answers.get(call, {}).get(node)
        if isinstance(answer, rpc.RpcResult):
            return answer
        return rpc.RpcResult(node, call, data=answer)

    def call_node_volumes(self, nodes):
        self.calls.append(("node_volumes", list(nodes)))
        return dict((n, self._result("node_volumes", n)) for n in nodes)

    def call_storage_list(self, nodes, stype, st_args, name, fields):
        self.calls.append(("storage_list", list(nodes), stype, st_args, name, fields))
        return dict((n, self._result("storage_list", n)) for n in nodes)

    def call_storage_modify(self, node, stype, st_args, name, changes):
        self.calls.append(("storage_modify", node, stype, st_args, name, changes))
        return self._result("storage_modify", node)

    def call_storage_execute(self, node, stype, st_args, name, op):
        self.calls.append(("storage_execute", node, stype, st_args, name, op))
        return self._result("storage_execute", node)

    def call_blockdev_getmirrorstatus(self, node, disks):
        self.calls.append(("blockdev_getmirrorstatus", node))
        return self._result("blockdev_getmirrorstatus", node)


def _run(cfg, op, answers=None):
    """(result, log lines, fake rpc) of the opcode's LU, stage by stage as mcpu."""
    op.validate()
    log = []
    fake_rpc = FakeRpc(answers or {})
    owned = {}
    glm = types.SimpleNamespace(list_owned=lambda level: owned[level])
    ctx = types.SimpleNamespace(cfg=cfg, rpc=fake_rpc, glm=glm)
    from ganeti.cmdlib import get_lu_class
    lu = get_lu_class(op)(None, op, ctx, log.append)
    lu.expand_names()
    for level, names in lu.needed_locks.items():
        owned[level] = set(cfg.get_node_list() if names is None else names)
    lu.check_prereq()
    return lu.exec(log.append), log, fake_rpc


def _prereq_error(cfg, op):
    with pytest.raises(errors.OpPrereqError) as exc:
        _run(cfg, op)
    return exc.value.args


def test_list_storage_default_type_that_cannot_report(tmp_path):
    cfg = _cfg(tmp_path, ["diskless", "file"])
    args = _prereq_error(cfg, opcodes.OpNodeQueryStorage(output_fields=["name"]))
    assert args == ("Storage reporting for storage type 'diskless' is not supported."
                    " Please use the --storage-type option to specify one of the"
                    " supported storage types (gluster, sharedfile, file, lvm-vg, lvm-pv)"
                    " or set the default disk template to one that supports storage"
                    " reporting.",)


@pytest.mark.parametrize("stype", ["lvm-vg", "lvm-pv"])
def test_list_storage_of_a_type_no_template_uses(tmp_path, stype):
    cfg = _cfg(tmp_path, ["diskless", "file"])
    args = _prereq_error(cfg, opcodes.OpNodeQueryStorage(output_fields=["name"],
                                                         storage_type=stype))
    assert args == ("No disk template of storage type 'lvm-vg' is enabled in this"
                    " cluster. Enabled disk templates are: diskless,file",)


def test_list_storage_rows_by_node_and_name(tmp_path):
    cfg = _cfg(tmp_path, ["plain", "file"])
    answers = {"storage_list": {
        N1: [["/dev/vdb", 1023, True], ["/dev/vda", 32764, False]],
        N2: rpc.RpcResult(N2, "storage_list", fail_msg="Connection refused")}}
    op = opcodes.OpNodeQueryStorage(output_fields=["node", "type", "size",
                                                   "allocatable", "name"])
    result, log, fake = _run(cfg, op, answers)
    # the node gets name first, never node or type; offline node3 is left out
    assert fake.calls == [("storage_list", [N1, N2, N3], "lvm-vg", [], None,
                           ["name", "size", "allocatable"])]
    assert result == [[N1, "lvm-vg", 32764, False, "/dev/vda"],
                      [N1, "lvm-vg", 1023, True, "/dev/vdb"]]
    assert log == [" - WARNING: Can't get storage data from node %s: Connection refused"
                   % N2]


def test_list_storage_file_type_sends_the_directory(tmp_path):
    cfg = _cfg(tmp_path, ["file"])
    op = opcodes.OpNodeQueryStorage(output_fields=["name"], nodes=["node2"])
    _, _, fake = _run(cfg, op, {"storage_list": {N2: []}})
    assert fake.calls == [("storage_list", [N2], "file", [["/srv/ganeti/file-storage"]],
                           None, ["name"])]


def test_unknown_fields_and_nodes(tmp_path):
    cfg = _cfg(tmp_path, ["file"])
    assert _prereq_error(cfg, opcodes.OpNodeQueryStorage(output_fields=["name", "bogus"])
                         ) == ("Unknown output fields selected: bogus", "wrong_input")
    assert _prereq_error(cfg, opcodes.OpNodeQueryvols(output_fields=["size", "dev"])) == (
        "Unknown output fields selected: dev", "wrong_input")
    assert _prereq_error(cfg, opcodes.OpNodeQueryvols(output_fields=["name"],
                                                      nodes=["nosuch"])) == (
        "Node 'nosuch' not known", "unknown_entity")


def test_volumes_name_the_owning_instances(tmp_path):
    cfg = _cfg(tmp_path, ["plain", "drbd"], _instances())

    def vol(name, size, dev="/dev/vda"):
        return {"name": name, "size": size, "dev": dev, "vg": "xenvg"}
    answers = {"node_volumes": {
        N1: [vol("p.disk0", "1024.00", "/dev/vdb"), vol("d.disk0_data", "512.00"),
             vol("d.disk0_meta", "128.00"), vol("orphan", "4.00")],
        N2: [vol("d.disk0_data", "512.50"), vol("p.disk0", "8.00")]}}
    fields = ["node", "phys", "vg", "name", "size", "instance"]
    result, log, _ = _run(cfg, opcodes.OpNodeQueryvols(output_fields=fields), answers)
    assert result == [
        [N1, "/dev/vda", "xenvg", "d.disk0_data", "512", "drbd1.example.com"],
        [N1, "/dev/vda", "xenvg", "d.disk0_meta", "128", "drbd1.example.com"],
        [N1, "/dev/vda", "xenvg", "orphan", "4", "-"],
        [N1, "/dev/vdb", "xenvg", "p.disk0", "1024", "plain1.example.com"],
        [N2, "/dev/vda", "xenvg", "d.disk0_data", "512", "drbd1.example.com"],
        # the plain disk lives on node1: the same LV name on node2 is nobody's
        [N2, "/dev/vda", "xenvg", "p.disk0", "8", "-"]]
    assert log == []


@pytest.mark.parametrize("stype,changes,message", [
    ("file", {"allocatable": False}, "Storage units of type 'file' can not be modified"),
    ("lvm-vg", {"allocatable": False},
     "Storage units of type 'lvm-vg' can not be modified"),
    ("lvm-pv", {"size": 1},
     "The following fields can not be modified for storage units of type 'lvm-pv':"
     " ['size']"),
    ("lvm-pv", {"allocatable": "no"},
     "Invalid value 'no' for storage field 'allocatable': expected a boolean"),
])
def test_modify_storage_refusals(tmp_path, stype, changes, message):
    cfg = _cfg(tmp_path, ["plain", "file"])
    assert _prereq_error(cfg, opcodes.OpNodeModifyStorage(
        node_name=N1, storage_type=stype, name="/dev/vdb", changes=changes)) == (
        message, "wrong_input")


def test_modify_storage_calls_the_node(tmp_path):
    cfg = _cfg(tmp_path, ["plain"])
    op = opcodes.OpNodeModifyStorage(node_name="node2", storage_type="lvm-pv",
                                     name="/dev/vdb", changes={"allocatable": False})
    _, _, fake = _run(cfg, op)
    assert fake.calls == [("storage_modify", N2, "lvm-pv", [], "/dev/vdb",
                           {"allocatable": False})]
    failing = {"storage_modify": {N2: rpc.RpcResult(N2, "storage_modify",
                                                    fail_msg="pvchange failed: no")}}
    with pytest.raises(errors.OpExecError) as exc:
        _run(cfg, op, failing)
    assert exc.value.args[0] == ("Failed to modify storage unit '/dev/vdb' on %s:"
                                 " pvchange failed: no" % N2)


def test_modify_storage_needs_an_enabled_lvm_template(tmp_path):
    cfg = _cfg(tmp_path, ["file"])
    assert _prereq_error(cfg, opcodes.OpNodeModifyStorage(
        node_name=N1, storage_type="lvm-pv", name="/dev/vdb",
        changes={"allocatable": True})) == (
        "No disk template of storage type 'lvm-vg' is enabled in this cluster. Enabled"
        " disk templates are: file",)


def test_repair_storage_refuses_other_types(tmp_path):
    cfg = _cfg(tmp_path, ["diskless", "file"])
    for stype in ("file", "lvm-pv", "sharedfile"):
        assert _prereq_error(cfg, opcodes.OpRepairNodeStorage(
            node_name=N1, storage_type=stype, name="/srv/ganeti/file-storage")) == (
            "Storage units of type '%s' can not be repaired" % stype, "wrong_input")


def test_repair_storage_checks_the_peers_disks(tmp_path):
    cfg = _cfg(tmp_path, ["plain", "drbd"], _instances())
    op = opcodes.OpRepairNodeStorage(node_name=N1, storage_type="lvm-vg", name="xenvg")
    faulty = {"blockdev_getmirrorstatus": {N2: [[True, {"ldisk_status": 3}]]}}
    with pytest.raises(errors.OpPrereqError) as exc:
        _run(cfg, op, faulty)
    assert exc.value.args == ("Instance 'drbd1.example.com' has faulty disks on node"
                              " '%s'" % N2, "wrong_state")
    op = opcodes.OpRepairNodeStorage(node_name=N1, storage_type="lvm-vg", name="xenvg",
                                     ignore_consistency=True)
    _, log, fake = _run(cfg, op, faulty)
    assert log == [" - WARNING: Instance 'drbd1.example.com' has faulty disks on node"
                   " '%s'" % N2, "Repairing storage unit 'xenvg' on %s ..." % N1]
    assert fake.calls[-1] == ("storage_execute", N1, "lvm-vg", [], "xenvg",
                              "fix-consistency")


# ---- client --------------------------------------------------------------------------

def _opts(**kwargs):
    values = dict(output=None, no_headers=False, separator=None, units=None,
                  user_storage_type=None)
    values.update(kwargs)
    return types.SimpleNamespace(**values)


def test_list_storage_prints_as_ganeti(monkeypatch, capsys):
    rows = [[N2, "file", "/srv/ganeti/file-storage", 258020, 0, 78746, True],
            [N1, "file", "/srv/ganeti/file-storage", 258020, 0, 78746, True]]
    sent = []
    monkeypatch.setattr(gnt_node.cli, "submit_op_code",
                        lambda op, opts=None: sent.append(op) or [list(r) for r in rows])
    gnt_node.list_storage(_opts(user_storage_type="file"), [])
    # gnt-node.txt: "gnt-node list-storage -t file"
    assert capsys.readouterr().out == (
        "Node              Type Name                       Size Used  Free Allocatable\n"
        "node2.example.com file /srv/ganeti/file-storage 252.0G   0M 76.9G Y\n"
        "node1.example.com file /srv/ganeti/file-storage 252.0G   0M 76.9G Y\n")
    assert sent[0].storage_type == "file"
    gnt_node.list_storage(_opts(no_headers=True, separator="|"), [])
    assert capsys.readouterr().out == (
        "node2.example.com|file|/srv/ganeti/file-storage|258020|0|78746|Y\n"
        "node1.example.com|file|/srv/ganeti/file-storage|258020|0|78746|Y\n")
    monkeypatch.setattr(gnt_node.cli, "submit_op_code",
                        lambda op, opts=None: [["/dev/vdb", False]])
    gnt_node.list_storage(_opts(output="name,allocatable"), [])
    assert capsys.readouterr().out == "Name     Allocatable\n/dev/vdb N\n"


def test_volumes_header_alone_when_there_are_none(monkeypatch, capsys):
    monkeypatch.setattr(gnt_node.cli, "submit_op_code", lambda op, opts=None: [])
    gnt_node.list_volumes(_opts(), [])
    assert capsys.readouterr().out == "Node PhysDev VG Name Size Instance\n"
    monkeypatch.setattr(gnt_node.cli, "submit_op_code",
                        lambda op, opts=None: [[N1, "1024"]])
    gnt_node.list_volumes(_opts(units="m", output="node,size"), [])
    assert capsys.readouterr().out == "Node              Size\n%s 1024\n" % N1


def test_modify_storage_without_a_change_or_with_an_unknown_type(monkeypatch, capsys):
    monkeypatch.setattr(gnt_node.cli, "submit_or_send",
                        lambda *a, **k: pytest.fail("nothing to submit"))
    assert gnt_node.modify_storage(types.SimpleNamespace(allocatable=None),
                                   [N1, "lvm-pv", "/dev/vdb"]) == 0
    assert capsys.readouterr().err == "No changes to perform, exiting.\n"
    with pytest.raises(errors.OpPrereqError) as exc:
        gnt_node.repair_storage(types.SimpleNamespace(ignore_consistency=False),
                                [N1, "diskless", "x"])
    assert exc.value.args == ("Unknown storage type: diskless", "wrong_input")


def test_list_storage_of_a_type_that_cannot_report(tmp_path):
    cfg = _cfg(tmp_path, ["diskless", "file"])
    args = _prereq_error(cfg, opcodes.OpNodeQueryStorage(output_fields=["name"],
                                                         storage_type="diskless"))
    assert args == ("Storage reporting for storage type 'diskless' is not supported;"
                    " the supported storage types are: gluster, sharedfile, file,"
                    " lvm-vg, lvm-pv", "wrong_input")
