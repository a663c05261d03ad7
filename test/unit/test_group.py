"""Node groups: the logical units (cmdlib/group.py), the configuration's group
changes, the group query and gnt-group's output, against Ganeti 3.0.2's
(samples in test/cluster/golden/gnt-group-3.0.2.txt)."""

import contextlib
import io
import os
import re
import types

import pytest

from ganeti import (cli, config, constants, errors, locking, mcpu, objects, opcodes,
                    query, serializer)
from ganeti.client import gnt_group
from ganeti.cmdlib import cluster_verify, drbd_disks, group as lu_group
from ganeti.cmdlib import query as cmdlib_query

from test_opcode_params_effect import _Callbacks

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "cluster", "golden",
                      "gnt-group-3.0.2.txt")
N1, N2 = "node1.example.com", "node2.example.com"
# the sample cluster's instance policy
IPOLICY = {
    "minmax": [{"min": {"memory-size": 32, "disk-size": 128, "disk-count": 1,
                        "cpu-count": 1, "nic-count": 1, "spindle-use": 1},
                "max": dict(constants.ISPECS_MAX_DEFAULTS)}],
    "std": dict(constants.ISPECS_STD_DEFAULTS),
    "disk-templates": ["file", "diskless"],
}


def _sample(command):
    """(exit code, stdout, stderr) of the first sample entry for ``command``."""
    with open(SAMPLE) as fd:
        text = fd.read()
    for cmd, code, out, err in re.findall(
            r"^\$ (.*?)\n\[exit (\d+)\]\n--- stdout\n(.*?)--- stderr\n(.*?)\n(?=^\$ |\Z)",
            text, re.S | re.M):
        if cmd == command:
            return int(code), out, err
    raise KeyError(command)


def _drbd_disk(pnode, snode):
    return objects.Disk(dev_type=constants.DT_DRBD8, size=128, nodes=[pnode, snode],
                        logical_id=[pnode, snode, 11000, 0, 0, "secret"])


def _cfg(tmp_path, drbd=False):
    """Two nodes in the group "default" (node2's UUID sorts first, as in the
    sample), instances inst1 and inst2 on node1, inst3 on node2; with ``drbd``
    inst3 mirrors to node1."""
    group = objects.NodeGroup(name="default", uuid="e9df0805-aa72-4be6-b920-c0eef1028cae")
    node1 = objects.Node(name=N1, primary_ip="192.0.2.1", master_candidate=True,
                         group=group.uuid, uuid="e6013bd3-1555-480d-adfd-1e18efda1d40")
    node2 = objects.Node(name=N2, primary_ip="192.0.2.2", master_candidate=True,
                         group=group.uuid, uuid="15f63806-0b9d-4e8c-a5a0-2415a67b8853")
    cluster = objects.Cluster(cluster_name="cluster.example.com", master_node=N1,
                              master_ip="192.0.2.254", master_netdev="lo",
                              enabled_hypervisors=["fake"],
                              enabled_disk_templates=["file", "diskless", "drbd"],
                              ipolicy=IPOLICY)
    instances = {}
    for name, pnode, disks in (("inst1", N1, []), ("inst2", N1, []),
                               ("inst3", N2, [_drbd_disk(N2, N1)] if drbd else [])):
        instances[name] = objects.Instance(
            name=name, primary_node=pnode, os="noop", hypervisor="fake",
            disk_template="drbd" if disks else "diskless", disks=disks)
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, objects.ConfigData(
        cluster=cluster, nodes={N1: node1, N2: node2}, nodegroups={group.uuid: group},
        instances=instances))
    return config.ConfigWriter(path)


class _Rpc:
    def call_hooks_runner(self, nodes, hpath, phase, env):
        return {}


def _context(cfg):
    glm = locking.GanetiLockManager(nodes=cfg.get_node_list(),
                                    node_groups=list(cfg.get_all_node_groups_info()),
                                    instances=cfg.get_instance_list())
    return types.SimpleNamespace(cfg=cfg, rpc=_Rpc(), glm=glm)


def _run(ctx, op):
    """Run ``op`` as a job would (checked, locked, hooks); (result, log lines)."""
    op.validate()
    cbs = _Callbacks()
    result = mcpu.Processor(ctx).execute_opcode(op, cbs)
    return result, [args[-1] for args in cbs.log]


def _groups(cfg):
    return dict((g.name, g) for g in cfg.get_all_node_groups_info().values())


# ---- add, rename, remove --------------------------------------------------------------

def test_add_stores_the_group_and_its_lock(tmp_path):
    ctx = _context(_cfg(tmp_path))
    _run(ctx, opcodes.OpGroupAdd(group_name="group2"))
    _run(ctx, opcodes.OpGroupAdd(group_name="group3", alloc_policy="last_resort"))
    _run(ctx, opcodes.OpGroupAdd(group_name="bad group"))      # Ganeti accepts it too
    groups = _groups(config.ConfigWriter(ctx.cfg._cfg_file))    # stored
    assert groups["group2"].alloc_policy == "preferred"
    assert groups["group3"].alloc_policy == "last_resort"
    assert groups["group2"].serial_no == 1
    assert groups["group3"].uuid in ctx.glm.names(locking.LEVEL_NODEGROUP)
    with pytest.raises(errors.OpPrereqError) as exc:
        _run(ctx, opcodes.OpGroupAdd(group_name="group2"))
    assert exc.value.args == ("Desired group name 'group2' already exists as a node"
                              " group (UUID: %s)" % groups["group2"].uuid,
                              errors.ECODE_EXISTS)
    with pytest.raises(errors.OpPrereqError):
        opcodes.OpCode.from_dict({"OP_ID": "OP_GROUP_ADD", "group_name": "x",
                                  "alloc_policy": "bogus"})


def test_add_with_parameters_types_them(tmp_path):
    ctx = _context(_cfg(tmp_path))
    _run(ctx, opcodes.OpGroupAdd(
        group_name="g", ndparams={"spindle_count": "2", "exclusive_storage": "true"},
        diskparams={"drbd": {"resync-rate": "1000"}},
        hv_state={"fake": {"mem_total": "4096"}},
        disk_state={"plain": {"xenvg": {"disk_total": "100"}}},
        ipolicy={"vcpu-ratio": 2, "disk-templates": ["file"],
                 "minmax": [{"min": dict(IPOLICY["minmax"][0]["min"], **{"memory-size": 64}),
                             "max": constants.ISPECS_MAX_DEFAULTS}]}))
    group = _groups(ctx.cfg)["g"]
    assert group.ndparams == {"spindle_count": 2, "exclusive_storage": True}
    assert group.diskparams == {"drbd": {"resync-rate": 1000}}
    assert group.hv_state_static == {"fake": {"mem_total": 4096}}
    assert group.disk_state_static == {"plain": {"xenvg": {"disk_total": 100}}}
    assert group.ipolicy["vcpu-ratio"] == 2.0 and "std" not in group.ipolicy
    assert group.ipolicy["minmax"][0]["min"]["memory-size"] == 64
    # the group's nodes and instances see them over the cluster's
    cluster = ctx.cfg.get_cluster_info()
    assert cluster.fill_dp(group)["drbd"]["resync-rate"] == 1000
    assert cluster.fill_dp(group)["drbd"]["c-max-rate"] == 61440


@pytest.mark.parametrize("params,error,text", [
    ({"ndparams": {"bogus": "1"}}, errors.TypeEnforcementError, "Unknown parameter 'bogus'"),
    ({"ndparams": {"spindle_count": "x"}}, errors.TypeEnforcementError,
     "'spindle_count' (value x) is not a valid integer"),
    ({"diskparams": {"file": {"foo": "bar"}}}, errors.TypeEnforcementError,
     "Unknown parameter 'foo'"),
    ({"diskparams": {"nosuch": {}}}, errors.OpPrereqError,
     "While verify diskparams options: Provided option keys not supported: nosuch"),
    ({"diskparams": {"rbd": {"access": "pink"}}}, errors.OpPrereqError,
     "Invalid value of 'rbd:access': 'pink' (expected one of kernelspace, userspace)"),
    ({"hv_state": {"nosuchhv": {}}}, errors.OpPrereqError,
     "Invalid hypervisor(s) in hypervisor state: nosuchhv"),
    ({"hv_state": {"fake": {"mem_total": "lots"}}}, errors.TypeEnforcementError,
     "'mem_total' (value lots) is not a valid integer"),
    ({"disk_state": {"file": {"x": {}}}}, errors.OpPrereqError,
     "Invalid storage type(s) in disk state: file"),
    ({"disk_state": {"plain": {"disk_total": "1"}}}, errors.OpPrereqError,
     "Disk state of plain is given per storage unit: plain/<unit>:key=value"),
    ({"ipolicy": {"std": {"cpu-count": 1}}}, errors.OpPrereqError,
     "std cannot appear in group instance specs"),
    ({"ipolicy": {"bogus": 1}}, errors.OpPrereqError, "Invalid key in new ipolicy: bogus"),
    ({"ipolicy": {"disk-templates": "file"}}, errors.OpPrereqError,
     "Invalid instance policy: disk-templates must be a list, not 'file'"),
    ({"ipolicy": {"disk-templates": ["plain"]}}, errors.OpPrereqError,
     "The following disk templates are allowed by the ipolicy, but not enabled on the"
     " cluster: plain"),
    ({"ipolicy": {"minmax": [{"min": {"cpu-count": 1}, "max": {"cpu-count": 2}}]}},
     errors.OpPrereqError, "Invalid instance policy: Missing instance specs parameters"
     " for min: memory-size, disk-count, disk-size, nic-count, spindle-use"),
    ({"ipolicy": {"vcpu-ratio": "fast"}}, errors.OpPrereqError,
     "Invalid instance policy: Invalid value for key 'vcpu-ratio': 'fast', error:"
     " 'vcpu-ratio' (value fast) is not a valid float"),
])
def test_bad_settings_change_nothing(tmp_path, params, error, text):
    ctx = _context(_cfg(tmp_path))
    for op in (opcodes.OpGroupAdd(group_name="g", **params),
               opcodes.OpGroupSetParams(group_name="default", **params)):
        serial = ctx.cfg.get_config_serial()
        with pytest.raises(error) as exc:
            _run(ctx, op)
        assert exc.value.args[0] == text
        assert ctx.cfg.get_config_serial() == serial
    assert sorted(_groups(ctx.cfg)) == ["default"]


def test_rename_keeps_uuid_and_refuses_a_taken_name(tmp_path):
    ctx = _context(_cfg(tmp_path))
    _run(ctx, opcodes.OpGroupAdd(group_name="group3"))
    uuid = _groups(ctx.cfg)["group3"].uuid
    assert _run(ctx, opcodes.OpGroupRename(group_name="group3", new_name="group3b"))[0] \
        == "group3b"
    assert _groups(ctx.cfg)["group3b"].uuid == uuid
    _run(ctx, opcodes.OpGroupRename(group_name=uuid, new_name="group3"))    # by UUID
    with pytest.raises(errors.OpPrereqError) as exc:
        _run(ctx, opcodes.OpGroupRename(group_name="group3", new_name="default"))
    assert exc.value.args == ("Desired new name 'default' clashes with existing node group"
                              " (UUID: %s)" % _groups(ctx.cfg)["default"].uuid,
                              errors.ECODE_EXISTS)
    with pytest.raises(errors.OpPrereqError) as exc:
        _run(ctx, opcodes.OpGroupRename(group_name="nosuchgroup", new_name="x"))
    assert exc.value.args == ("Node group 'nosuchgroup' not found", errors.ECODE_NOENT)
    assert sorted(_groups(ctx.cfg)) == ["default", "group3"]
    # the ssconf file of the groups follows
    assert ctx.cfg.get_ssconf_values()[constants.SS_NODEGROUPS].count("group3") == 1


def test_remove_refuses_a_group_with_nodes_and_the_last_group(tmp_path):
    ctx = _context(_cfg(tmp_path))
    with pytest.raises(errors.OpPrereqError) as exc:
        _run(ctx, opcodes.OpGroupRemove(group_name="default"))
    # node UUIDs, nicely sorted, as Ganeti names them
    assert exc.value.args == ("Group 'default' not empty, has the following nodes:"
                              " 15f63806-0b9d-4e8c-a5a0-2415a67b8853,"
                              " e6013bd3-1555-480d-adfd-1e18efda1d40", errors.ECODE_STATE)
    _run(ctx, opcodes.OpGroupAdd(group_name="empty"))
    uuid = _groups(ctx.cfg)["empty"].uuid
    _run(ctx, opcodes.OpGroupRemove(group_name="empty", dry_run=True))
    assert "empty" in _groups(ctx.cfg)
    _run(ctx, opcodes.OpGroupRemove(group_name="empty"))
    assert sorted(_groups(ctx.cfg)) == ["default"]
    assert uuid not in ctx.glm.names(locking.LEVEL_NODEGROUP)
    # the last group goes neither (it can only be empty in a broken configuration)
    lu = lu_group.LUGroupRemove(None, opcodes.OpGroupRemove(group_name="default"), ctx,
                                None)
    lu.expand_names()
    ctx.cfg.get_all_nodes_info = dict
    with pytest.raises(errors.OpPrereqError, match="Group 'default' is the only group,"
                       " cannot be removed"):
        lu.check_prereq()


# ---- modify ---------------------------------------------------------------------------------

def test_modify_merges_resets_and_reports(tmp_path):
    ctx = _context(_cfg(tmp_path))
    _run(ctx, opcodes.OpGroupAdd(group_name="group3"))
    result, _ = _run(ctx, opcodes.OpGroupSetParams(group_name="group3",
                                                   ndparams={"spindle_count": "2"}))
    assert result == [["ndparams", "{'spindle_count': 2}"]]       # Ganeti's report
    result, _ = _run(ctx, opcodes.OpGroupSetParams(
        group_name="group3", alloc_policy="unallocable", ndparams={"ssh_port": "2222"},
        diskparams={"plain": {"stripes": "2"}}, ipolicy={"vcpu-ratio": 3.5}))
    assert result == [["ndparams", "{'spindle_count': 2, 'ssh_port': 2222}"],
                      ["diskparams", "{'plain': {'stripes': 2}}"]]
    group = _groups(ctx.cfg)["group3"]
    assert (group.alloc_policy, group.ipolicy) == ("unallocable", {"vcpu-ratio": 3.5})
    # "default" drops the group's own value
    _run(ctx, opcodes.OpGroupSetParams(group_name="group3",
                                       ndparams={"spindle_count": "default"},
                                       ipolicy={"vcpu-ratio": "default"}))
    group = _groups(ctx.cfg)["group3"]
    assert group.ndparams == {"ssh_port": 2222} and group.ipolicy == {}
    # what gnt-group modify sends without options: accepted, changes nothing
    serial = ctx.cfg.get_config_serial()
    assert _run(ctx, opcodes.OpGroupSetParams(group_name="group3", diskparams={},
                                              hv_state={}, disk_state={},
                                              ipolicy={}))[0] == []
    assert ctx.cfg.get_config_serial() == serial
    with pytest.raises(errors.OpPrereqError, match="Please pass at least one modification"):
        _run(ctx, opcodes.OpGroupSetParams(group_name="group3"))


def test_modify_warns_about_instances_the_new_policy_refuses(tmp_path):
    ctx = _context(_cfg(tmp_path))
    # the NIC-less test instances break the sample policy already: no warning
    wide = {"min": dict(IPOLICY["minmax"][0]["min"], **{"nic-count": 0}),
            "max": dict(constants.ISPECS_MAX_DEFAULTS)}
    small = {"min": wide["min"], "max": dict(wide["max"], **{"memory-size": 64})}
    for bounds, warning in ((wide, []), (small, [
            " - WARNING: After the ipolicy change the following instances violate them:"
            " inst1, inst2, inst3"])):
        _, log = _run(ctx, opcodes.OpGroupSetParams(group_name="default",
                                                    ipolicy={"minmax": [bounds]}))
        assert log == warning
    assert _groups(ctx.cfg)["default"].ipolicy["minmax"] == [small]


# ---- assign-nodes -----------------------------------------------------------------------------

def test_assign_nodes_moves_nodes_and_serials(tmp_path):
    ctx = _context(_cfg(tmp_path))
    _run(ctx, opcodes.OpGroupAdd(group_name="group2"))
    before = _groups(ctx.cfg)
    _run(ctx, opcodes.OpGroupAssignNodes(group_name="group2", nodes=["node2"]))
    after = _groups(ctx.cfg)
    assert ctx.cfg.get_node_info(N2).group == after["group2"].uuid
    assert after["group2"].serial_no == before["group2"].serial_no + 1
    assert after["default"].serial_no == before["default"].serial_no + 1
    # again: nothing to move, nothing changes
    serial = ctx.cfg.get_config_serial()
    _run(ctx, opcodes.OpGroupAssignNodes(group_name="group2", nodes=[N2], force=True))
    assert ctx.cfg.get_config_serial() == serial
    # no node named: every node (Ganeti's rule)
    _run(ctx, opcodes.OpGroupAssignNodes(group_name="group2", nodes=[]))
    assert set(n.group for n in ctx.cfg.get_all_nodes_info().values()) == \
        {after["group2"].uuid}
    with pytest.raises(errors.OpPrereqError) as exc:
        _run(ctx, opcodes.OpGroupAssignNodes(group_name="nosuchgroup", nodes=[N1]))
    assert exc.value.args == ("Node group 'nosuchgroup' not found", errors.ECODE_NOENT)
    with pytest.raises(errors.OpPrereqError, match="Node 'nosuchnode' not known"):
        _run(ctx, opcodes.OpGroupAssignNodes(group_name="default", nodes=["nosuchnode"]))
    with pytest.raises(errors.OpPrereqError, match="does not match the expected UUID"):
        _run(ctx, opcodes.OpGroupAssignNodes(group_name="default", nodes=[N1],
                                             node_uuids=["0000"]))


def test_assign_nodes_refuses_to_split_a_mirrored_instance(tmp_path):
    ctx = _context(_cfg(tmp_path, drbd=True))
    _run(ctx, opcodes.OpGroupAdd(group_name="group2"))
    serial = ctx.cfg.get_config_serial()
    with pytest.raises(errors.OpExecError) as exc:
        _run(ctx, opcodes.OpGroupAssignNodes(group_name="group2", nodes=[N2]))
    assert exc.value.args[0] == ("The following instances get split by this change and"
                                 " --force was not given: inst3")
    assert ctx.cfg.get_config_serial() == serial
    _, log = _run(ctx, opcodes.OpGroupAssignNodes(group_name="group2", nodes=[N2],
                                                  force=True))
    assert log == [" - WARNING: This operation will split the following instances: inst3"]
    # moving the other node too joins it again; another move keeps it split
    _run(ctx, opcodes.OpGroupAdd(group_name="group3"))
    assert lu_group.split_instances(ctx.cfg, {N1: _groups(ctx.cfg)["group2"].uuid}) == \
        ([], [])
    assert lu_group.split_instances(ctx.cfg, {N2: _groups(ctx.cfg)["group3"].uuid}) == \
        ([], ["inst3"])


def test_verify_warns_about_split_instances(tmp_path):
    ctx = _context(_cfg(tmp_path, drbd=True))
    _run(ctx, opcodes.OpGroupAdd(group_name="group2"))
    _run(ctx, opcodes.OpGroupAssignNodes(group_name="group2", nodes=[N1], force=True))
    log = []
    op = opcodes.OpClusterVerifyGroup(group_name="group2")
    op.validate()
    lu = cluster_verify.LUClusterVerifyGroup(None, op, ctx, log.append)
    lu.bad = False
    lu._verify_split_groups("inst3", ctx.cfg.get_instance_info("inst3"))
    assert log == ["  - WARNING: instance inst3: instance has primary and secondary nodes"
                   " in different groups: node2.example.com (group default),"
                   " node1.example.com (group group2)"]
    assert not lu.bad


def test_cluster_verify_submits_a_job_per_group_in_uuid_order(tmp_path):
    ctx = _context(_cfg(tmp_path))
    for name in ("group2", "group3"):
        _run(ctx, opcodes.OpGroupAdd(group_name=name))
    lu = cluster_verify.LUClusterVerify(None, opcodes.OpClusterVerify(), ctx, None)
    lu.expand_names()
    jobs = lu.exec(None).jobs
    assert [job[0].group_name for job in jobs[1:]] == \
        sorted(ctx.cfg.get_all_node_groups_info())


# ---- evacuate -----------------------------------------------------------------------------------

def test_evacuate_needs_an_allocator(tmp_path):
    ctx = _context(_cfg(tmp_path))
    with pytest.raises(errors.OpPrereqError) as exc:
        _run(ctx, opcodes.OpGroupEvacuate(group_name="default"))
    assert exc.value.args == ("No iallocator was specified, neither in the opcode nor as"
                              " a cluster-wide default", errors.ECODE_INVAL)
    # the only group: nowhere to go
    with pytest.raises(errors.OpPrereqError, match="There are no possible target groups"):
        _run(ctx, opcodes.OpGroupEvacuate(group_name="default", iallocator="hail"))
    with pytest.raises(errors.OpPrereqError, match="can not be used as a target group"):
        _run(ctx, opcodes.OpGroupEvacuate(group_name="default", target_groups=["default"]))
    with pytest.raises(errors.OpPrereqError, match="Node group 'nosuch' not found"):
        _run(ctx, opcodes.OpGroupEvacuate(group_name="nosuch"))


# ---- where groups take effect -------------------------------------------------------------------

def test_new_drbd_disks_get_their_groups_disk_parameters(tmp_path):
    cfg = _cfg(tmp_path)
    ctx = _context(cfg)
    _run(ctx, opcodes.OpGroupSetParams(group_name="default",
                                       diskparams={"drbd": {"resync-rate": "1000"}}))
    group = _groups(cfg)["default"]
    disk = drbd_disks.generate(cfg.get_cluster_info(), N1, N2, 0, {"size": 128}, (0, 0),
                               group=group)
    assert disk.params["resync-rate"] == 1000 and disk.params["c-max-rate"] == 61440
    disk = drbd_disks.generate(cfg.get_cluster_info(), N1, N2, 0, {"size": 128}, (0, 0))
    assert disk.params["resync-rate"] == 61440


def test_node_ndparams_come_from_the_group(tmp_path):
    cfg = _cfg(tmp_path)
    ctx = _context(cfg)
    _run(ctx, opcodes.OpGroupSetParams(group_name="default",
                                       ndparams={"spindle_count": "3"}))
    result = cmdlib_query.run_resource_query(ctx, "node", ["name", "ndp/spindle_count"],
                                             None)
    assert [row[1][1] for row in result["data"]] == [3, 3]


def test_node_readd_refuses_a_group(tmp_path, monkeypatch):
    from ganeti.cmdlib import node as lu_node
    op = opcodes.OpNodeAdd(node_name=N2, readd=True, group="default")
    op.validate()
    monkeypatch.setattr(lu_node.net, "Hostname", type("H", (), {
        "__init__": lambda s, n: setattr(s, "name", n), "ip": "192.0.2.2",
        "is_fqdn": lambda s: True}))
    with pytest.raises(errors.OpPrereqError, match="Cannot pass a node group when a node"
                       " is being readded"):
        lu_node.LUNodeAdd(None, op, _context(_cfg(tmp_path)), None)


# ---- the query and gnt-group's output ------------------------------------------------------------

class _Client:
    """LUXI answers from the query code, through JSON as on the wire (where
    dicts lose their key order)."""

    def __init__(self, ctx):
        self.ctx = ctx

    @staticmethod
    def _wire(value):
        return serializer.load_json(serializer.dump_json(value))

    def query(self, what, fields, qfilter=None):
        return self._wire(cmdlib_query.run_resource_query(self.ctx, what, fields, qfilter))

    def query_fields(self, what, fields=None):
        return self._wire(query.query_fields(what, fields))


def _gnt_group(monkeypatch, ctx, *argv):
    monkeypatch.setattr(cli, "get_client", lambda: _Client(ctx))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.generic_main(gnt_group.COMMANDS, argv=["gnt-group"] + list(argv))
    return code, out.getvalue(), err.getvalue()


def _normalise(text):
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<TIME>", text)
    return re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "<UUID>", text)


@pytest.mark.parametrize("command", [
    "gnt-group list", "gnt-group list --no-headers --separator='|'",
    "gnt-group list -o name,node_cnt,pinst_cnt,alloc_policy --no-headers --separator='|'",
    "gnt-group list-fields", "gnt-group list -o name,nosuchfield", "gnt-group info",
    "gnt-group info default",
    "gnt-group list -o name,uuid,node_cnt,node_list,pinst_cnt,pinst_list,alloc_policy,"
    "ndparams,ipolicy,diskparams,serial_no,tags,ctime,mtime,networks",
])
def test_output_is_ganetis(tmp_path, monkeypatch, command):
    import shlex
    ctx = _context(_cfg(tmp_path))
    got = _gnt_group(monkeypatch, ctx, *shlex.split(command)[1:])
    assert tuple(map(_normalise, map(str, got))) == \
        tuple(map(_normalise, map(str, _sample(command))))


def test_named_groups_come_in_the_order_asked_and_unknown_ones(tmp_path, monkeypatch):
    ctx = _context(_cfg(tmp_path))
    _run(ctx, opcodes.OpGroupAdd(group_name="group2"))
    assert _gnt_group(monkeypatch, ctx, "list", "--no-headers", "-o", "name", "group2",
                      "default") == (0, "group2\ndefault\n", "")
    assert _gnt_group(monkeypatch, ctx, "list", "nosuchgroup") == (1, "", (
        "Failure: prerequisites not met for this operation:\nerror type: unknown_entity,"
        " error details:\nNodeGroup name nosuchgroup not found\n"))
    assert _gnt_group(monkeypatch, ctx, "list", "--no-headers", "-o", "name", "-F",
                      "node_cnt == 0") == (0, "group2\n", "")
    # info leaves unknown names out (as Ganeti's QueryGroups), and takes UUIDs
    assert _gnt_group(monkeypatch, ctx, "info", "nosuchgroup") == (0, "\n", "")
    uuid = _groups(ctx.cfg)["group2"].uuid
    assert _gnt_group(monkeypatch, ctx, "info", uuid)[1].startswith("- Node group: group2\n")


def test_info_shows_a_groups_own_values(tmp_path, monkeypatch):
    ctx = _context(_cfg(tmp_path))
    bounds = {"min": dict(IPOLICY["minmax"][0]["min"], **{"memory-size": 64}),
              "max": constants.ISPECS_MAX_DEFAULTS}
    _run(ctx, opcodes.OpGroupAdd(group_name="g", ndparams={"spindle_count": "2"},
                                 diskparams={"drbd": {"protocol": "B"}},
                                 ipolicy={"minmax": [bounds], "vcpu-ratio": 2.5,
                                          "disk-templates": ["file"]}))
    out = _gnt_group(monkeypatch, ctx, "info", "g")[1]
    for line in ("    spindle_count: 2\n", "    ssh_port: default (22)\n",
                 "      protocol: B\n", "      resync-rate: default (61440)\n",
                 "      - min/0: \n          cpu-count: 1\n          disk-count: 1\n"
                 "          disk-size: 128\n          memory-size: 64\n",
                 "    allowed disk templates: file\n", "    spindle-ratio: default (32)\n",
                 "    vcpu-ratio: 2.5\n"):
        assert line in out
    # by name, whatever the order asked (Ganeti's)
    assert _gnt_group(monkeypatch, ctx, "show-ispecs-cmd", "g", "default") == (0, (
        "gnt-group add default\n"
        "gnt-group add --ipolicy-bounds-specs min:cpu-count=1,disk-count=1,disk-size=128,"
        "memory-size=64,nic-count=1,spindle-use=1/max:cpu-count=8,disk-count=16,"
        "disk-size=1048576,memory-size=32768,nic-count=8,spindle-use=12 g\n"), "")
    out = _gnt_group(monkeypatch, ctx, "show-ispecs-cmd", "--include-defaults",
                     "default")[1]
    assert out.startswith("gnt-group add --ipolicy-bounds-specs min:cpu-count=1,") and \
        out.endswith(" default\n")
    out = _gnt_group(monkeypatch, ctx, "list", "--no-headers", "-o",
                     "custom_ipolicy,custom_ndparams,tags", "g")[1]
    assert out.startswith("{'minmax': [{'min': {'memory-size': 64, 'disk-size': 128,")
    assert out.endswith(" 'vcpu-ratio': 2.5, 'disk-templates': ['file']}"
                        " {'spindle_count': 2} []\n")


# ---- the command line ---------------------------------------------------------------------------

def _submitted(monkeypatch, *argv, result=None):
    ops = []

    def submit(op, opts, cl=None, feedback_fn=None):
        op.validate()
        ops.append(op)
        return result
    monkeypatch.setattr(cli, "submit_or_send", submit)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.generic_main(gnt_group.COMMANDS, argv=["gnt-group"] + list(argv))
    return code, out.getvalue(), err.getvalue(), ops


def test_add_and_modify_options_become_the_opcode(monkeypatch):
    code, _, _, ops = _submitted(
        monkeypatch, "add", "--alloc-policy=last_resort", "--node-parameters=ovs=true",
        "-D", "drbd:protocol=B", "-D", "drbd:metavg=vg2",
        "--hypervisor-state", "fake:mem_total=1024", "--disk-state",
        "plain/xenvg:disk_total=100", "--ipolicy-bounds-specs",
        "min:cpu-count=1,disk-count=1,disk-size=1G,memory-size=128M,nic-count=1,"
        "spindle-use=1/max:cpu-count=2,disk-count=2,disk-size=2G,memory-size=1G,"
        "nic-count=2,spindle-use=2", "--ipolicy-disk-templates=file,diskless",
        "--ipolicy-vcpu-ratio=2", "--ipolicy-spindle-ratio", "16", "g")
    assert code == 0
    op = ops[0]
    assert (op.group_name, op.alloc_policy, op.ndparams) == ("g", "last_resort",
                                                             {"ovs": "true"})
    assert op.diskparams == {"drbd": {"protocol": "B", "metavg": "vg2"}}
    assert op.hv_state == {"fake": {"mem_total": "1024"}}
    assert op.disk_state == {"plain": {"xenvg": {"disk_total": "100"}}}
    assert op.ipolicy == {
        "minmax": [{"min": {"cpu-count": 1, "disk-count": 1, "disk-size": 1024,
                            "memory-size": 128, "nic-count": 1, "spindle-use": 1},
                    "max": {"cpu-count": 2, "disk-count": 2, "disk-size": 2048,
                            "memory-size": 1024, "nic-count": 2, "spindle-use": 2}}],
        "disk-templates": ["file", "diskless"], "vcpu-ratio": 2.0, "spindle-ratio": 16.0}
    # modify: "default" resets; Ganeti's report of changes
    code, out, _, ops = _submitted(
        monkeypatch, "modify", "--ipolicy-bounds-specs", "default",
        "--ipolicy-vcpu-ratio", "default", "--node-parameters=spindle_count=2", "group3",
        result=[["ndparams", "{'spindle_count': 2}"]])
    assert (code, out) == (0, "Modified node group group3\n - ndparams -> {'spindle_count':"
                              " 2}\n")
    assert ops[0].ipolicy == {"minmax": "default", "vcpu-ratio": "default"}
    # no option: what Ganeti sends (empty values), accepted and silent
    code, out, _, ops = _submitted(monkeypatch, "modify", "group3", result=[])
    assert (code, out) == (0, "")
    assert (ops[0].diskparams, ops[0].ipolicy, ops[0].ndparams) == ({}, {}, None)
    code, _, _, ops = _submitted(monkeypatch, "assign-nodes", "--force", "g", "n1", "n2")
    assert (ops[0].group_name, ops[0].nodes, ops[0].force) == ("g", ["n1", "n2"], True)
    code, _, _, ops = _submitted(monkeypatch, "rename", "a", "b")
    assert (ops[0].group_name, ops[0].new_name) == ("a", "b")
    code, _, _, ops = _submitted(monkeypatch, "evacuate", "--to", "a", "--to", "b",
                                 "--sequential", "g")
    assert (ops[0].target_groups, ops[0].sequential) == (["a", "b"], True)


@pytest.mark.parametrize("argv,code,text", [
    (["add", "--ipolicy-bounds-specs", "min:cpu-count=1/max:cpu-count=2", "g"], 1,
     "Failure: prerequisites not met for this operation:\nerror type: wrong_input, error"
     " details:\nMissing parameters in ipolicy spec min: disk-count, disk-size,"
     " memory-size, nic-count, spindle-use\n"),
    (["add", "--ipolicy-bounds-specs", "low:cpu-count=1", "g"], 1,
     "Failure: prerequisites not met for this operation:\nerror type: wrong_input, error"
     " details:\nInvalid key in bounds instance specifications: low\n"),
    (["add", "--ipolicy-bounds-specs", "default", "g"], 1,
     "Failure: prerequisites not met for this operation:\nerror type: wrong_input, error"
     " details:\nInvalid key in bounds instance specifications: default\n"),
    (["add", "--ipolicy-vcpu-ratio", "fast", "g"], 2, None),
    (["add", "--ipolicy-bounds-specs", "min:a=1/min:a=2", "g"], 2, None),
    (["modify", "-D", "no_drbd", "g"], 1,
     "Failure: prerequisites not met for this operation:\nerror type: wrong_input, error"
     " details:\nCannot remove or reset all disk parameters of 'drbd' here; name the"
     " parameters\n"),
    (["rename", "default"], 1, "Error: Command rename expects 2 argument(s)\n"),
])
def test_bad_command_lines_submit_nothing(monkeypatch, argv, code, text):
    got_code, out, err, ops = _submitted(monkeypatch, *argv)
    assert (got_code, ops) == (code, [])
    if text is not None:
        assert err == text


def test_node_add_checks_the_group_before_touching_the_node(tmp_path, monkeypatch):
    from ganeti import ssh
    from ganeti.client import gnt_node
    from ganeti.utils import net
    ctx = _context(_cfg(tmp_path))
    monkeypatch.setattr(net, "Hostname", type("H", (), {
        "__init__": lambda s, n: setattr(s, "name", n), "ip": "192.0.2.3"}))
    monkeypatch.setattr(ssh, "run", lambda *a, **kw: pytest.fail("ssh was used"))
    monkeypatch.setattr(cli, "get_client", lambda: _Client(ctx))
    err = io.StringIO()
    for argv, text in (
            (["-g", "nosuchgroup", "node3.example.com"], "unknown_entity, error details:\n"
             "Node group 'nosuchgroup' not found"),
            (["--readd", "-g", "default", N2], "wrong_input, error details:\nCannot pass"
             " a node group when a node is being readded")):
        with contextlib.redirect_stderr(err):
            assert cli.generic_main(gnt_node.COMMANDS,
                                    argv=["gnt-node", "add"] + argv) == 1
        assert text in err.getvalue()
