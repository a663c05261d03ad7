"""Forthcoming instances (gnt-instance add --forthcoming / --commit): opcodes run
through the opcode processor on a configuration file, against nodes that
answer every call (and record it). A reservation calls no node procedure that
changes anything; a commit creates what was reserved and keeps its MAC and
address; a failed commit leaves the reservation as it was; the other
operations refuse a forthcoming instance or change its configuration only."""

import types

import pytest

from ganeti import constants, errors, locking, mcpu, netpool, objects, opcodes, rpc
from ganeti.client import gnt_instance
from ganeti.cmdlib import cluster_verify, forthcoming, instance_query
from test_instance_params import NODE, _cfg
from test_opcode_params_effect import _Callbacks
from test_rapi import FakeLuxi, call, rapi  # noqa: F401  (rapi: a fixture)

OTHER = "node2.example.com"
# node procedures that change something on a node (the others only look)
_CHANGING = ("blockdev_create", "blockdev_remove", "blockdev_assemble", "blockdev_shutdown",
             "file_storage_dir_create", "file_storage_dir_remove",
             "file_storage_dir_rename", "instance_os_add", "instance_start",
             "instance_shutdown", "instance_run_rename")


class _Nodes(rpc.RpcRunner):
    """Every node answers every call (free space and memory aplenty), except the
    procedures in ``fail``; the calls are recorded as (procedure, node)."""

    def __init__(self):         # no transport: call() answers
        self.calls, self.fail = [], {}

    def call(self, procedure, node_names, args, timeout=None):
        names = [node_names] if isinstance(node_names, str) else list(node_names)
        self.calls.extend((procedure, name) for name in names)
        data = None
        if procedure == "hv_node_info":
            data = {"memory_free": 8192}
        elif procedure == "node_info":
            data = {"memory_free": 8192, "memory_total": 8192, "storage": [
                {"type": unit[0], "name": unit[1], "storage_free": 100000,
                 "storage_size": 100000} for unit in args[0]]}
        return dict((name, rpc.RpcResult(name, procedure, data=data,
                                         fail_msg=self.fail.get(procedure)))
                    for name in names)

    def changing(self):
        return [call for call in self.calls if call[0] in _CHANGING]


@pytest.fixture
def ctx(tmp_path):
    cfg, group_uuid = _cfg(tmp_path)
    node2 = objects.Node(name=OTHER, primary_ip="192.0.2.2", group=group_uuid)
    cfg.add_node(node2)
    net = objects.Network(name="pool1", network="10.1.0.0/29", gateway="10.1.0.1")
    netpool.AddressPool.initialize(net)
    cfg.add_network(net)
    group = cfg.get_node_group(group_uuid)
    group.networks[net.uuid] = {"mode": "routed", "link": "100", "vlan": ""}
    cfg.update(group)
    cluster = cfg.get_cluster_info()
    cluster.enabled_disk_templates = ["file", "sharedfile", "diskless"]
    cluster.ipolicy["disk-templates"] = ["file", "sharedfile", "diskless"]
    cluster.shared_file_storage_dir = "/srv/ganeti/shared-file-storage"
    cfg.update(cluster)
    glm = locking.GanetiLockManager(nodes=cfg.get_node_list())
    return types.SimpleNamespace(cfg=cfg, glm=glm, rpc=_Nodes(), jqueue=None,
                                 net_uuid=net.uuid)


def _run(ctx, op):
    """Run ``op`` as a job would; (result, feedback lines)."""
    op.validate()
    cbs = _Callbacks()
    result = mcpu.Processor(ctx).execute_opcode(op, cbs)
    return result, [args[-1] for args in cbs.log]


def _add(ctx, **params):
    args = dict(instance_name="inst1", mode="create", disk_template="file",
                disks=[{"size": 1024}], nics=[{"network": "pool1", "ip": "pool"}],
                pnode=NODE, name_check=False, ip_check=False, os_type=None,
                no_install=True, start=False)
    args.update(params)
    return _run(ctx, opcodes.OpInstanceCreate(**args))


def _pool_map(ctx):
    return netpool.AddressPool(ctx.cfg.get_network(ctx.net_uuid)).usage_map()


def _refused(func, *args, **kwargs):
    with pytest.raises(errors.OpPrereqError) as exc:
        func(*args, **kwargs)
    return exc.value


# ---- the reservation --------------------------------------------------------------

def test_forthcoming_reserves_in_the_configuration_only(ctx):
    result, lines = _add(ctx, forthcoming=True)
    assert result == [NODE]
    assert lines == [" - INFO: NIC/0 inherits netparams ['100', 'routed', '']",
                     " - INFO: Chose IP 10.1.0.2 from network pool1",
                     "* disk 0, size 1.0G",
                     "Instance is forthcoming, not creating disks",
                     "adding instance inst1 to cluster config",
                     "adding disks to cluster config",
                     "Instance is forthcoming; not creating the actual instance"]
    assert ctx.rpc.changing() == []
    inst = ctx.cfg.get_instance_info("inst1")
    assert inst.forthcoming and inst.disks[0].forthcoming
    assert inst.admin_state == constants.ADMINST_DOWN
    assert (inst.nics[0].ip, inst.nics[0].network) == ("10.1.0.2", ctx.net_uuid)
    assert _pool_map(ctx) == "XXX....X"
    # the name and the address are taken
    assert "already in the cluster" in str(_refused(_add, ctx, forthcoming=True))
    _add(ctx, instance_name="inst2", disks=[], disk_template="diskless", forthcoming=True)
    assert ctx.cfg.get_instance_info("inst2").nics[0].ip == "10.1.0.3"


def test_forthcoming_round_trips_through_the_configuration(ctx):
    _add(ctx, forthcoming=True)
    stored = objects.Instance.from_dict(ctx.cfg.get_instance_info("inst1").to_dict())
    assert stored.forthcoming is True and stored.disks[0].forthcoming is True
    old = stored.to_dict()
    del old["forthcoming"], old["disks"][0]["forthcoming"]
    # a configuration written before the flag: real instances
    assert objects.Instance.from_dict(old).forthcoming is False
    assert objects.Instance.from_dict(old).disks[0].forthcoming is False


def test_query_field_shows_it(ctx):
    _add(ctx, forthcoming=True)
    _add(ctx, instance_name="inst2", disks=[], disk_template="diskless", nics=[{}])
    result = instance_query.query_instances(ctx, ["name", "forthcoming"], None)
    assert [[value for _, value in row] for row in result["data"]] == [
        ["inst1", True], ["inst2", False]]
    # info does not look for disks that do not exist yet
    ctx.rpc.calls.clear()
    result, _ = _run(ctx, opcodes.OpInstanceQueryData(instances=["inst1", "inst2"]))
    assert sorted(result) == ["inst1", "inst2"]
    assert result["inst1"]["disks"][0]["pstatus"] is None
    assert "blockdev_find" not in [procedure for procedure, _ in ctx.rpc.calls]


@pytest.mark.parametrize("params, text", [
    ({"forthcoming": True, "commit": True},
     "Forthcoming generation and commiting are mutually exclusive"),
    ({"forthcoming": True, "mode": "import", "src_node": NODE, "src_path": "/x"},
     "forthcoming instances can only be created, not imported"),
])
def test_bad_combinations_are_refused(ctx, params, text):
    assert _refused(_add, ctx, **params).args == (text, errors.ECODE_INVAL)
    assert ctx.cfg.get_instance_list() == []


def test_client_refuses_both_flags(monkeypatch):
    opts = types.SimpleNamespace(forthcoming=True, commit=True)
    err = _refused(gnt_instance.add_instance, opts, ["inst1"])
    assert err.args == ("Creating an instance only forthcoming and commiting it are"
                        " mutally exclusive",)


# ---- the commit -------------------------------------------------------------------

def test_commit_creates_what_was_reserved(ctx):
    _add(ctx, forthcoming=True)
    reserved = ctx.cfg.get_instance_info("inst1")
    result, lines = _add(ctx, commit=True, pnode=None, start=True, os_type="noop",
                         no_install=False)
    assert result == [NODE]
    assert "adding instance inst1 to cluster config" in lines
    inst = ctx.cfg.get_instance_info("inst1")
    assert not inst.forthcoming and not inst.disks[0].forthcoming
    assert (inst.uuid, inst.ctime) == (reserved.uuid, reserved.ctime)
    assert inst.disks[0].logical_id == reserved.disks[0].logical_id
    assert (inst.nics[0].mac, inst.nics[0].ip) == (reserved.nics[0].mac, "10.1.0.2")
    assert inst.admin_state == constants.ADMINST_UP
    assert _pool_map(ctx) == "XXX....X"
    made = ctx.rpc.changing()
    assert ("file_storage_dir_create", NODE) in made
    assert ("blockdev_create", NODE) in made and ("instance_start", NODE) in made


def test_commit_with_another_address_gives_the_reserved_one_back(ctx):
    _add(ctx, forthcoming=True)
    mac = ctx.cfg.get_instance_info("inst1").nics[0].mac
    _add(ctx, commit=True, nics=[{"network": "pool1", "ip": "10.1.0.5"}])
    inst = ctx.cfg.get_instance_info("inst1")
    assert (inst.nics[0].ip, inst.nics[0].mac) == ("10.1.0.5", mac)
    assert _pool_map(ctx) == "XX...X.X"


def test_commit_of_an_instance_that_is_not_forthcoming(ctx):
    _add(ctx)
    uuid = ctx.cfg.get_instance_info("inst1").uuid
    assert _refused(_add, ctx, commit=True).args == (
        "Instance inst1 (with uuid %s) not forthcoming but --commit was passed." % uuid,
        errors.ECODE_STATE)
    assert _refused(_add, ctx, instance_name="nosuch", commit=True).args == (
        "Instance nosuch unknown", errors.ECODE_INVAL)


@pytest.mark.parametrize("params, text", [
    ({"disks": [{"size": 2048}]}, "The disks given (file: 2048 MiB) are not those"
     " reserved for instance inst1 (file: 1024 MiB)"),
    ({"disk_template": "diskless", "disks": []}, "The disks given (diskless: no disks)"
     " are not those reserved for instance inst1 (file: 1024 MiB)"),
    ({"pnode": OTHER}, "Instance inst1 is reserved on node(s) %s, not on %s"
     % (NODE, OTHER)),
])
def test_commit_must_name_what_was_reserved(ctx, params, text):
    _add(ctx, forthcoming=True)
    before = ctx.cfg.get_instance_info("inst1").to_dict()
    assert text in str(_refused(_add, ctx, commit=True, **params))
    assert ctx.cfg.get_instance_info("inst1").to_dict() == before


def test_failed_commit_leaves_the_reservation(ctx):
    _add(ctx, forthcoming=True)
    before = ctx.cfg.get_instance_info("inst1").to_dict()
    ctx.rpc.fail["instance_os_add"] = "the OS script failed"
    with pytest.raises(errors.OpExecError, match="the OS script failed"):
        _add(ctx, commit=True, os_type="noop", no_install=False)
    after = ctx.cfg.get_instance_info("inst1").to_dict()
    for data in (before, after):
        data.pop("serial_no"), data.pop("mtime")
    assert after == before
    assert _pool_map(ctx) == "XXX....X"
    # what the commit made is gone again
    removed = [c for c in ctx.rpc.changing() if c[0] in ("blockdev_remove",
                                                          "file_storage_dir_remove")]
    assert removed == [("blockdev_remove", NODE), ("file_storage_dir_remove", NODE)]
    # and the reservation can be committed later
    ctx.rpc.fail.clear()
    _add(ctx, commit=True)
    assert not ctx.cfg.get_instance_info("inst1").forthcoming


# ---- the other operations ---------------------------------------------------------

@pytest.mark.parametrize("op", [
    opcodes.OpInstanceStartup(instance_name="inst1"),
    opcodes.OpInstanceShutdown(instance_name="inst1"),
    opcodes.OpInstanceReinstall(instance_name="inst1"),
    opcodes.OpInstanceActivateDisks(instance_name="inst1"),
    opcodes.OpInstanceSetParams(instance_name="inst1", beparams={"vcpus": 2}),
    opcodes.OpInstanceGrowDisk(instance_name="inst1", disk=0, amount=1024),
    opcodes.OpInstanceMigrate(instance_name="inst1"),
    opcodes.OpInstanceConsole(instance_name="inst1"),
], ids=lambda op: op.OP_ID)
def test_operations_refuse_a_forthcoming_instance(ctx, op):
    _add(ctx, forthcoming=True)
    assert _refused(_run, ctx, op).args == (forthcoming.NOT_SUPPORTED,)
    assert ctx.rpc.changing() == []


def test_remove_drops_only_the_configuration(ctx):
    _add(ctx, forthcoming=True)
    _, lines = _run(ctx, opcodes.OpInstanceRemove(instance_name="inst1"))
    assert lines == []
    assert ctx.rpc.changing() == []
    assert ctx.cfg.get_instance_list() == []
    assert _pool_map(ctx) == "XX.....X"


def test_rename_changes_only_the_configuration(ctx):
    _add(ctx, forthcoming=True)
    _run(ctx, opcodes.OpInstanceRename(instance_name="inst1", new_name="inst9",
                                       name_check=False, ip_check=False))
    assert ctx.rpc.changing() == []
    inst = ctx.cfg.get_instance_info("inst9")
    assert inst.forthcoming
    assert inst.disks[0].logical_id[1].startswith("/srv/ganeti/file-storage/inst9/")


def test_failover_moves_only_the_configuration(ctx):
    _add(ctx, forthcoming=True, disk_template="sharedfile")
    _, lines = _run(ctx, opcodes.OpInstanceFailover(instance_name="inst1",
                                                    target_node=OTHER))
    assert "Instance is forthcoming, just updating the  configuration" in lines
    assert ctx.rpc.changing() == []
    inst = ctx.cfg.get_instance_info("inst1")
    assert (inst.primary_node, inst.disks[0].nodes) == (OTHER, [OTHER])


def test_new_secondary_changes_only_the_configuration(ctx):
    cfg = ctx.cfg
    node3 = objects.Node(name="node3.example.com", primary_ip="192.0.2.3",
                         group=cfg.get_node_info(NODE).group)
    cfg.add_node(node3)
    ctx.glm = locking.GanetiLockManager(nodes=cfg.get_node_list())
    cluster = cfg.get_cluster_info()
    cluster.enabled_disk_templates.append("drbd")
    cluster.ipolicy["disk-templates"].append("drbd")
    cluster.volume_group_name = "xenvg"
    cfg.update(cluster)
    _add(ctx, forthcoming=True, disk_template="drbd", snode=OTHER)
    old = ctx.cfg.get_instance_info("inst1").disks[0]
    assert old.forthcoming and all(child.forthcoming for child in old.children)
    _, lines = _run(ctx, opcodes.OpInstanceReplaceDisks(
        instance_name="inst1", mode=constants.REPLACE_DISK_CHG, remote_node=node3.name))
    assert "Instance fortcoming, will only update the configuration" in lines
    assert ctx.rpc.changing() == []
    disk = ctx.cfg.get_instance_info("inst1").disks[0]
    assert disk.logical_id[:3] == [NODE, node3.name, old.logical_id[2]]
    assert disk.nodes == [NODE, node3.name]
    assert [child.nodes for child in disk.children] == [[NODE, node3.name]] * 2
    _, lines = _run(ctx, opcodes.OpInstanceReplaceDisks(
        instance_name="inst1", mode=constants.REPLACE_DISK_SEC))
    assert "Instance forthcoming, not touching disks" in lines
    assert ctx.rpc.changing() == []


def test_rapi_create_passes_the_flags(rapi):  # noqa: F811
    body = {"__version__": 1, "mode": "create", "name": "inst1", "disk_template": "file",
            "disks": [{"size": 1024}], "nics": [{}], "os": "noop", "pnode": NODE}
    for flag in ("forthcoming", "commit"):
        assert call(rapi, "POST", "/2/instances", dict(body, **{flag: True}),
                    user="admin", password="secret")[0] == 200
    assert [(op["forthcoming"], op["commit"]) for (op,) in FakeLuxi.jobs] == [
        (True, False), (False, True)]


def test_verify_expects_no_volumes_of_a_reservation():
    def plain(forthcoming):
        return objects.Instance(name="i%d" % forthcoming, primary_node=NODE,
                                disk_template="plain", disks=[objects.Disk(
                                    dev_type="plain", size=1024, nodes=[NODE],
                                    logical_id=["xenvg", "lv%d" % forthcoming],
                                    forthcoming=forthcoming)])
    instances = {"i0": plain(False), "i1": plain(True)}
    assert cluster_verify.LUClusterVerifyGroup._expected_volumes(instances) == {
        NODE: {"xenvg/lv0": "i0"}}
