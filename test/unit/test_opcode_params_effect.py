"""Opcode parameters that used to be accepted and then ignored: each one now acts
as in Ganeti, or is refused with a clear error (issue 7, section 4;
doc/cli-options.rst, "Opcode parameters")."""

import socket
import threading
import time
import types

import pytest

from ganeti import config, constants, errors, locking, mcpu, objects, opcodes, rpc
from ganeti.cmdlib import instance_operation, instance_utils
from ganeti.cmdlib import node as cmdlib_node
from ganeti.cmdlib import query as cmdlib_query
from ganeti.cmdlib import test as cmdlib_test
from ganeti.server import masterd

RS_NORMAL = 0                   # a query row status: normal value
MASTER = "node1.example.com"
OTHER = "node2.example.com"


def _config(tmp_path, modify_ssh_setup=True):
    group = objects.NodeGroup(name="default")
    nodes = dict((name, objects.Node(name=name, primary_ip="127.0.0.%d" % (i + 1),
                                     master_candidate=True, group=group.uuid))
                 for i, name in enumerate([MASTER, OTHER]))
    cluster = objects.Cluster(cluster_name="cluster.example.com", master_node=MASTER,
                              master_ip="192.0.2.254", master_netdev="lo",
                              enabled_hypervisors=["fake"],
                              modify_ssh_setup=modify_ssh_setup)
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, objects.ConfigData(
        cluster=cluster, nodes=nodes, nodegroups={group.uuid: group}))
    return config.ConfigWriter(path)


def _context(tmp_path, **kwargs):
    cfg = _config(tmp_path, **kwargs)
    glm = locking.GanetiLockManager(nodes=cfg.get_node_list(),
                                    instances=cfg.get_instance_list())
    return types.SimpleNamespace(cfg=cfg, glm=glm, rpc=None, jqueue=None)


def _lu(lu_class, ctx, op, feedback=None):
    op.validate()
    return lu_class(None, op, ctx, feedback or (lambda *args: None))


# ---- use_locking ---------------------------------------------------------------------

def test_luxi_query_nodes_with_locking_is_refused_as_in_ganeti_3(monkeypatch):
    handler = masterd.LuxiHandler(types.SimpleNamespace(
        jqueue=None, cfg=None, lease=types.SimpleNamespace(lost=threading.Event())))
    ran = []
    monkeypatch.setattr(handler, "_query", lambda *args: ran.append(args))
    with pytest.raises(errors.OpPrereqError) as exc:
        handler.handle("QueryNodes", [[], ["name"], True])
    assert exc.value.args == ("Sync queries are not allowed", errors.ECODE_INVAL)
    assert not ran


@pytest.mark.parametrize("what", ["cluster", "os", "job", "lock", "group"])
def test_op_query_locking_refused_where_nothing_can_be_locked(tmp_path, what):
    with pytest.raises(errors.OpPrereqError) as exc:
        _lu(cmdlib_query.LUQuery, _context(tmp_path),
            opcodes.OpQuery(what=what, fields=["name"], use_locking=True))
    assert exc.value.args == ("Can not use locking for %s queries" % what,
                              errors.ECODE_INVAL)


def test_op_query_locking_declares_shared_node_locks(tmp_path):
    ctx = _context(tmp_path)
    lu = _lu(cmdlib_query.LUQuery, ctx, opcodes.OpQuery(
        what="node", fields=["name"], use_locking=True,
        qfilter=["=", "name", "node2"]))
    lu.expand_names()
    assert lu.needed_locks == {locking.LEVEL_NODE: [OTHER]}
    assert lu.share_locks[locking.LEVEL_NODE] == 1
    lu = _lu(cmdlib_query.LUQuery, ctx, opcodes.OpQuery(what="node", fields=["name"],
                                                        use_locking=True))
    lu.expand_names()
    assert lu.needed_locks == {locking.LEVEL_NODE: locking.ALL_SET}
    lu = _lu(cmdlib_query.LUQuery, ctx, opcodes.OpQuery(what="node", fields=["name"]))
    lu.expand_names()
    assert lu.needed_locks == {}


class _Callbacks:
    def __init__(self):
        self.log = []

    def feedback(self, *args):
        self.log.append(args)

    def check_cancel(self):
        pass

    def current_priority(self):
        return constants.OP_PRIO_DEFAULT

    def notify_start(self):
        pass


def _run_in_thread(ctx, op):
    """Run ``op`` through the opcode processor in a thread; (thread, result list)."""
    result = []
    thread = threading.Thread(target=lambda: result.append(
        mcpu.Processor(ctx).execute_opcode(op, _Callbacks())), daemon=True)
    thread.start()
    return thread, result


def test_op_query_with_locking_waits_for_a_job_holding_the_node(tmp_path):
    ctx = _context(tmp_path)
    held, release = threading.Event(), threading.Event()

    def holder():
        ctx.glm.acquire(locking.LEVEL_CLUSTER, [locking.BGL], shared=True)
        ctx.glm.acquire(locking.LEVEL_NODE, [OTHER])
        held.set()
        release.wait(10)
        ctx.glm.release_all()
    threading.Thread(target=holder, daemon=True).start()
    assert held.wait(5)
    op = opcodes.OpQuery(what="node", fields=["name"], use_locking=True,
                         qfilter=["=", "name", OTHER])
    op.validate()
    thread, result = _run_in_thread(ctx, op)
    thread.join(0.5)
    assert thread.is_alive() and not result      # waits for the exclusive holder
    release.set()
    thread.join(10)
    assert result[0]["data"] == [[[RS_NORMAL, OTHER]]]
    # without locking the same query does not wait
    ctx.glm.acquire(locking.LEVEL_CLUSTER, [locking.BGL], shared=True)
    ctx.glm.acquire(locking.LEVEL_NODE, [OTHER])
    try:
        op = opcodes.OpQuery(what="node", fields=["name"], qfilter=["=", "name", OTHER])
        op.validate()
        thread, result = _run_in_thread(ctx, op)
        thread.join(10)
        assert result and result[0]["data"] == [[[RS_NORMAL, OTHER]]]
    finally:
        ctx.glm.release_all()


def test_op_query_locking_on_instances_also_locks_their_nodes(tmp_path):
    ctx = _context(tmp_path)
    lu = _lu(cmdlib_query.LUQuery, ctx, opcodes.OpQuery(what="instance", fields=["name"],
                                                        use_locking=True))
    lu.expand_names()
    assert lu.needed_locks[locking.LEVEL_INSTANCE] is locking.ALL_SET
    inst = types.SimpleNamespace(primary_node=OTHER, secondary_nodes=[MASTER])
    lu.glm = types.SimpleNamespace(list_owned=lambda level: {"inst1.example.com"})
    lu.cfg = types.SimpleNamespace(get_instance_info=lambda name: inst)
    lu.declare_locks(locking.LEVEL_NODE)
    assert lu.needed_locks[locking.LEVEL_NODE] == [MASTER, OTHER]
    assert lu.share_locks[locking.LEVEL_NODE] == 1


# ---- OP_TEST_JQUEUE notify_waitlock / notify_exec -------------------------------------

def _notifications(log):
    return [msg for args in log if args[0] == constants.ELOG_JQUEUE_TEST
            for msg in [args[1]] if isinstance(msg, tuple)]


def test_notify_waitlock_waits_for_the_client_before_locking(tmp_path):
    ctx = _context(tmp_path)
    log = []
    lu = _lu(cmdlib_test.LUTestJqueue, ctx, opcodes.OpTestJqueue(notify_waitlock=True),
             feedback=lambda *args: log.append(args))
    done = threading.Event()
    thread = threading.Thread(target=lambda: (lu.expand_names(), done.set()), daemon=True)
    thread.start()
    deadline = time.time() + 5
    while not _notifications(log) and time.time() < deadline:
        time.sleep(0.01)
    ((path, test, arg),) = _notifications(log)
    assert (test, arg) == ("expandnames", None)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    assert not done.wait(0.3)           # connected, not yet confirmed: still waiting
    client.close()
    assert done.wait(5)
    assert lu.needed_locks == {locking.LEVEL_NODE: [MASTER]}


def test_notify_exec_fails_the_opcode_when_no_client_comes(tmp_path, monkeypatch):
    import os
    monkeypatch.setattr(cmdlib_test, "_NOTIFY_CONNECT_TIMEOUT", 0.2)
    log = []
    lu = _lu(cmdlib_test.LUTestJqueue, _context(tmp_path),
             opcodes.OpTestJqueue(notify_exec=True))
    with pytest.raises(errors.OpExecError) as exc:
        lu.exec(lambda *args: log.append(args))
    assert exc.value.args[0].startswith("Client didn't connect in time")
    ((path, test, _),) = _notifications(log)
    assert test == "exec" and not os.path.exists(os.path.dirname(path))


def test_no_notification_without_the_flags(tmp_path):
    log = []
    lu = _lu(cmdlib_test.LUTestJqueue, _context(tmp_path), opcodes.OpTestJqueue())
    lu.expand_names()
    assert lu.exec(lambda *args: log.append(args)) is True
    assert _notifications(log) == []


# ---- OP_TEST_DELAY on_node_uuids ------------------------------------------------------

def test_test_delay_on_node_uuids_names_nodes(tmp_path):
    ctx = _context(tmp_path)
    uuid = ctx.cfg.get_node_info(OTHER).uuid
    lu = _lu(cmdlib_test.LUTestDelay, ctx, opcodes.OpTestDelay(
        duration=0, on_node_uuids=[uuid], no_locks=False))
    lu.expand_names()
    assert lu.op.on_nodes == [OTHER]
    assert lu.needed_locks == {locking.LEVEL_NODE: [OTHER]}
    lu = _lu(cmdlib_test.LUTestDelay, ctx, opcodes.OpTestDelay(
        duration=0, on_node_uuids=["no-such-uuid"]))
    with pytest.raises(errors.OpPrereqError) as exc:
        lu.expand_names()
    assert exc.value.args == ("Node UUID 'no-such-uuid' not known", errors.ECODE_NOENT)


# ---- OP_NODE_ADD node_setup -----------------------------------------------------------

class _Version:
    fail_msg = None
    data = constants.PROTOCOL_VERSION


class _Runner:
    def __init__(self, *args, **kwargs):
        pass

    def call_version(self, nodes):
        return dict((n, _Version()) for n in nodes)


def _node_add(tmp_path, monkeypatch, node_setup, keys, modify_ssh_setup=True):
    from ganeti import sshkeys
    ctx = _context(tmp_path, modify_ssh_setup=modify_ssh_setup)
    monkeypatch.setattr(cmdlib_node.net, "Hostname", _Hostname)
    monkeypatch.setattr(rpc, "RpcRunner", _Runner)
    monkeypatch.setattr(sshkeys, "read_pub_keys", lambda: keys)
    lu = _lu(cmdlib_node.LUNodeAdd, ctx,
             opcodes.OpNodeAdd(node_name="node3.example.com", node_setup=node_setup))
    lu.check_prereq()
    return lu


class _Hostname:
    def __init__(self, name):
        self.name, self.ip = name, "127.0.0.9"

    def is_fqdn(self):
        return True


def test_node_setup_needs_the_key_the_client_recorded(tmp_path, monkeypatch):
    _node_add(tmp_path, monkeypatch, True, {"node3.example.com": ["ssh-ed25519 AAAA"]})
    _node_add(tmp_path, monkeypatch, False, {})
    with pytest.raises(errors.OpPrereqError) as exc:
        _node_add(tmp_path, monkeypatch, True, {})
    assert "its ssh public key is not known" in exc.value.args[0]


def test_node_setup_refused_on_a_cluster_that_leaves_ssh_alone(tmp_path, monkeypatch):
    _node_add(tmp_path, monkeypatch, False, {}, modify_ssh_setup=False)
    with pytest.raises(errors.OpPrereqError) as exc:
        _node_add(tmp_path, monkeypatch, True, {"node3.example.com": ["ssh-rsa AAAA"]},
                  modify_ssh_setup=False)
    assert "does not manage ssh" in exc.value.args[0]


# ---- OP_INSTANCE_ACTIVATE_DISKS ignore_size -------------------------------------------

@pytest.mark.parametrize("ignore_size,sent_size", [(False, 1024), (True, None)])
def test_activate_disks_ignore_size_sends_unsized_disks(ignore_size, sent_size):
    sent = []

    class Rpc:
        def call_blockdev_assemble(self, node, disk, name, primary, idx):
            sent.append(disk)
            return types.SimpleNamespace(data=["/dev/x", None],
                                         raise_on_failure=lambda msg: None)
    disk = objects.Disk(size=1024, dev_type="file", logical_id=["loop", "/x"],
                        iv_name="disk/0")
    inst = types.SimpleNamespace(name="inst1.example.com", primary_node=MASTER,
                                 disks=[disk], disks_active=True)
    lu = types.SimpleNamespace(
        rpc=Rpc(), instance=inst, cfg=types.SimpleNamespace(get_instance_info=lambda n: inst),
        op=types.SimpleNamespace(ignore_size=ignore_size, wait_for_sync=False))
    instance_operation.LUInstanceActivateDisks.exec(lu, lambda *args: None)
    assert [d["size"] for d in sent] == [sent_size]
    assert disk.size == 1024            # the configuration keeps its size
    assert instance_utils.assemble_disks(lu, inst) and sent[-1]["size"] == 1024
