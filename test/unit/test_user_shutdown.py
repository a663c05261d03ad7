"""A guest shut down from inside (user shutdown): what the nodes report, how the
master lists it (USER_down / ERROR_down), the admin_state_source "user" check,
and the watcher's cleanup, as in Ganeti.

The fake hypervisor's "shut down from inside" state and the node procedures run
for real (state files below tmp_path); KVM's part runs against a fake QMP
server and a process that looks like QEMU (see test_hv_kvm).
"""

import os
import time

import pytest

from ganeti import constants, errors, objects, opcodes, pathutils, watcher
from ganeti.backend import instance as binst
from ganeti.cmdlib import cluster_verify, instance_operation, instance_query
from ganeti.hypervisor import hv_base, hv_fake, hv_kvm
from ganeti.rpc import RpcResult

from test_cluster_admin import _context, _make_cfg
from test_hv_kvm import FakeQmpServer, _fake_qemu, _instance, _params, _write_pid
from test_watcher import GROUP, FakeClient

NODE = "node1.example.com"
NAME = "inst1"


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """The node's RUN_DIR (fake hypervisor state files) and disk links dir."""
    monkeypatch.setattr(pathutils, "RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(pathutils, "DISK_LINKS_DIR", str(tmp_path / "links"))
    return tmp_path


def _fake_instance(name=NAME):
    return objects.Instance(name=name, hypervisor=constants.HT_FAKE, os="noop",
                            primary_node=NODE, disk_template="diskless",
                            beparams={"maxmem": 128, "vcpus": 1}, hvparams={})


# ---- fake hypervisor and the node procedures ------------------------------------

def test_fake_guest_shut_down_from_inside_is_reported_and_cleared(run_dir):
    inst = _fake_instance()
    hv = hv_fake.FakeHypervisor()
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv.shutdown_from_inside(NAME)
    binst.instance_start(inst.to_dict(), False, None)
    hv.shutdown_from_inside(NAME)
    assert hv.get_instance_info(NAME).state == hv_base.STATE_SHUTDOWN
    # the full list reports it with its state (Ganeti's GetAllInstancesInfo) ...
    infos = binst.all_instances_info(["fake"], {})
    assert infos[NAME]["state"] == "shutdown"
    # ... the single-instance check counts it as down (start/reboot/console)
    assert binst.instance_info(NAME, "fake", {}) == {}
    with pytest.raises(errors.GenericError, match="not running"):
        binst.instance_reboot(inst.to_dict(), "soft", 0, None)
    # a start clears the stopped domain and starts afresh
    binst.instance_start(inst.to_dict(), False, None)
    assert binst.all_instances_info(["fake"], {})[NAME]["state"] == "running"
    hv.shutdown_from_inside(NAME)
    # a clean shutdown with a timeout does not wait for a guest that is off
    start = time.monotonic()
    binst.instance_shutdown(inst.to_dict(), 30, None)
    assert time.monotonic() - start < 5
    assert binst.all_instances_info(["fake"], {}) == {}


# ---- KVM: -no-shutdown, the QMP "shutdown" status, stop of such a QEMU -------------

def test_kvm_runs_with_no_shutdown_only_with_user_shutdown():
    from test_hv_kvm import _cmd
    assert "-no-shutdown" in _cmd(user_shutdown=True)
    assert "-no-shutdown" not in _cmd(user_shutdown=False)


def _kvm_with_qmp(tmp_path, status, on_powerdown=None):
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path))
    inst = _instance(user_shutdown=True)
    hv.save_runtime(inst.name, {"instance": inst.to_dict(),
                                "hvparams": _params(user_shutdown=True),
                                "beparams": {"maxmem": 256, "vcpus": 2}, "nics": []})
    proc = _fake_qemu(inst.name)
    _write_pid(hv, inst.name, proc.pid)
    os.makedirs(os.path.dirname(hv.paths(inst.name).qmp_socket), exist_ok=True)

    def powerdown(args, send):
        if on_powerdown:
            on_powerdown()
        return {}

    def quit_(args, send):
        proc.terminate()
        return {}

    server = FakeQmpServer(hv.paths(inst.name).qmp_socket, {
        "query-status": lambda a, s: {"status": status[0], "running": False},
        "query-balloon": lambda a, s: {"actual": 256 << 20},
        "system_powerdown": powerdown, "quit": quit_})
    return hv, inst, proc, server


def test_kvm_powered_off_guest_is_reported_as_shutdown(tmp_path):
    status = ["shutdown"]
    hv, inst, proc, server = _kvm_with_qmp(tmp_path, status)
    try:
        info = hv.get_instance_info(inst.name)
        assert (info.state, info.id) == (hv_base.STATE_SHUTDOWN, proc.pid)
        assert inst.name in hv.list_instances()
        status[0] = "paused"
        assert hv.get_instance_info(inst.name).state == hv_base.STATE_PAUSED
        status[0] = "running"
        assert hv.get_instance_info(inst.name).state == hv_base.STATE_RUNNING
    finally:
        server.close()
        proc.kill()
        proc.wait()


def test_kvm_clean_stop_ends_qemu_once_the_guest_is_off(tmp_path):
    # with -no-shutdown QEMU stays after the guest powers off: the stop must not
    # wait its whole timeout for the process to exit, but end it
    status = ["running"]
    hv, inst, proc, server = _kvm_with_qmp(
        tmp_path, status, on_powerdown=lambda: status.__setitem__(0, "shutdown"))
    try:
        start = time.monotonic()
        hv.stop_instance(inst, timeout=60)
        assert time.monotonic() - start < 10
        proc.wait(timeout=5)
        sent = [m.get("execute") for m in server.received]
        assert sent.index("system_powerdown") < sent.index("quit")
        assert hv.get_instance_info(inst.name) is None
        assert not os.path.exists(hv.paths(inst.name).runtime_file)
    finally:
        server.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- the master: status, oper_state, gnt-instance info, verify -------------------

class _NodeRpc:
    """call_all_instances_info answered by the node procedure itself."""

    def __init__(self):
        self.calls = []

    def call_all_instances_info(self, nodes, hvs, hvparams):
        self.calls.append((list(nodes), list(hvs)))
        return dict((n, RpcResult(n, "all_instances_info",
                                  binst.all_instances_info(hvs, hvparams)))
                    for n in nodes)

    def call_instance_shutdown(self, node, instance, timeout, reason):
        binst.instance_shutdown(instance, timeout, reason)
        return RpcResult(node, "instance_shutdown", None)

    def call_blockdev_find(self, node, disk):
        return RpcResult(node, "blockdev_find", None)


def _cluster(tmp_path, user_shutdown, hv="fake", admin_state="up", kvm_param=None):
    cfg = _make_cfg(tmp_path, instances=[(NAME, hv, "diskless")])
    cluster = cfg.get_cluster_info()
    cluster.enabled_user_shutdown = user_shutdown
    if kvm_param is not None:
        cluster.hvparams.setdefault("kvm", {})["user_shutdown"] = kvm_param
    cfg.update(cluster)
    inst = cfg.get_instance_info(NAME)
    inst.admin_state = admin_state
    cfg.update(inst)
    ctx = _context(cfg)
    ctx.rpc = _NodeRpc()
    return cfg, ctx


def _row(ctx, fields):
    result = instance_query.query_instances(ctx, fields, None)
    return [value for _, value in result["data"][0]]


def _shut_down_from_inside():
    """A domain of NAME whose guest powered itself off (fake state file)."""
    binst.instance_start(_fake_instance().to_dict(), False, None)
    hv_fake.FakeHypervisor().shutdown_from_inside(NAME)


@pytest.mark.parametrize("enabled, status", [(True, "USER_down"), (False, "ERROR_down")])
def test_status_of_a_guest_shut_down_from_inside(run_dir, enabled, status):
    cfg, ctx = _cluster(run_dir, enabled)
    _shut_down_from_inside()
    assert _row(ctx, ["status", "oper_state"]) == [status, False]


def test_status_admin_down_and_kvm_without_its_parameter(run_dir):
    # admin down with the stopped domain still there: ADMIN_down (Ganeti's rule)
    cfg, ctx = _cluster(run_dir / "a", True, admin_state="down")
    _shut_down_from_inside()
    assert _row(ctx, ["status"]) == ["ADMIN_down"]
    # KVM counts a shutdown from inside only with its user_shutdown parameter
    inst = objects.Instance(name=NAME, hypervisor="kvm", admin_state="up")
    cluster = objects.Cluster(enabled_user_shutdown=True, hvparams={"kvm": {}})
    assert not instance_query.user_down_allowed(cluster, inst)
    cluster.hvparams["kvm"]["user_shutdown"] = True
    assert instance_query.user_down_allowed(cluster, inst)
    cluster.enabled_user_shutdown = False
    assert not instance_query.user_down_allowed(cluster, inst)


def test_info_run_state_and_verify(run_dir):
    cfg, ctx = _cluster(run_dir, True)
    _shut_down_from_inside()
    op = opcodes.OpInstanceQueryData(instances=[NAME], static=False)
    lu = instance_query.LUInstanceQueryData(None, op, ctx, lambda *a: None)
    lu.expand_names()
    assert lu.exec(None)[NAME]["run_state"] == "user down"
    # verify does not count the stopped domain as running (EINSTANCEDOWN follows)
    running, bad = cluster_verify.running_instances(ctx.rpc, cfg.get_cluster_info(),
                                                    [NODE])
    assert (running, bad) == ({}, set())


# ---- OP_INSTANCE_SHUTDOWN admin_state_source "user" ------------------------------

def _shutdown_lu(ctx, source):
    op = opcodes.OpInstanceShutdown(instance_name=NAME, admin_state_source=source,
                                    timeout=0)
    op.validate()
    lu = instance_operation.LUInstanceShutdown(None, op, ctx, lambda *a: None)
    lu.expand_names()
    return lu


def test_user_source_needs_a_guest_shut_down_from_inside(run_dir, monkeypatch):
    from ganeti import config
    monkeypatch.setattr(instance_operation.iu, "shutdown_disks", lambda *a, **k: None)
    cfg, ctx = _cluster(run_dir, True)
    binst.instance_start(_fake_instance().to_dict(), False, None)
    lu = _shutdown_lu(ctx, "user")
    with pytest.raises(errors.OpPrereqError,
                       match="Instance 'inst1' was not shutdown by the user"):
        lu.check_prereq()
    hv_fake.FakeHypervisor().shutdown_from_inside(NAME)
    lu = _shutdown_lu(ctx, "user")
    lu.check_prereq()
    lu.exec(lambda *a: None)
    inst = config.ConfigWriter(cfg._cfg_file).get_instance_info(NAME)
    assert (inst.admin_state, inst.admin_state_source) == ("down", "user")
    assert binst.all_instances_info(["fake"], {}) == {}     # the domain is gone
    # stopped by its user: still listed as USER_down (Ganeti's rule)
    assert _row(ctx, ["status"]) == ["USER_down"]


# ---- the watcher ----------------------------------------------------------------

class _UserDownClient(FakeClient):
    """FakeClient with instances given as name -> (status, admin_state)."""

    def __init__(self, instances, fail=()):
        FakeClient.__init__(self, {}, fail=fail)
        self.states = instances

    def query(self, what, fields, qfilter=None):
        if what != "instance":
            return FakeClient.query(self, what, fields, qfilter)
        from test_watcher import _result
        rows = [[name, st, admin, NODE, [], False]
                for name, (st, admin) in sorted(self.states.items())]
        return _result(fields, rows)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(pathutils, "DATA_DIR", str(tmp_path))
    return tmp_path


def test_watcher_cleans_up_user_down_instances_and_does_not_restart_them(data_dir):
    cl = _UserDownClient({"a": ("USER_down", "up"), "b": ("USER_down", "down"),
                          "c": ("ERROR_down", "up")})
    assert watcher.Watcher(cl).run()
    shutdowns = [op for ops in cl.jobs.values() for op in ops
                 if op["OP_ID"] == "OP_INSTANCE_SHUTDOWN"]
    assert [(op["instance_name"], op["admin_state_source"]) for op in shutdowns] == \
        [("a", "user")]
    assert cl.ops("OP_INSTANCE_STARTUP") == ["c"]


def test_watcher_cleanup_failures_are_counted_then_given_up(data_dir, caplog):
    cl = _UserDownClient({"a": ("USER_down", "up")}, fail=["a"])
    for _ in range(watcher.MAX_RESTART_ATTEMPTS + 1):
        assert not watcher.Watcher(cl).run()
    st = watcher.WatcherState(watcher.state_file(GROUP))
    assert st.cleanup_attempts("a") == watcher.MAX_RESTART_ATTEMPTS + 1
    assert st.attempts("a") == 0
    submitted = len(cl.ops("OP_INSTANCE_SHUTDOWN"))
    caplog.clear()
    watcher.Watcher(cl).run()
    assert len(cl.ops("OP_INSTANCE_SHUTDOWN")) == submitted
    assert "Not cleaning up instance 'a', retries exhausted" in caplog.text
    # once it works, the record goes
    cl.fail.clear()
    st.instances["a"]["cleanup_count"] = 1
    st.save()
    assert watcher.Watcher(cl).run()
    assert watcher.WatcherState(watcher.state_file(GROUP)).cleanup_attempts("a") == 0


# ---- OP_INSTANCE_STARTUP of a guest shut down from inside ------------------------

class _StartupRpc(_NodeRpc):
    """The calls of a startup, answered by the node procedures; records the
    shutdown timeouts it is given."""

    def __init__(self):
        super().__init__()
        self.shutdown_timeouts = []

    def call_instance_info(self, node, name, hv, hvparams):
        return RpcResult(node, "instance_info", binst.instance_info(name, hv, hvparams))

    def call_bridges_exist(self, node, bridges):
        return RpcResult(node, "bridges_exist", None)

    def call_hv_node_info(self, node, hv, hvparams):
        return RpcResult(node, "hv_node_info", {"memory_free": 4096, "memory_total": 8192})

    def call_instance_shutdown(self, node, instance, timeout, reason):
        self.shutdown_timeouts.append(timeout)
        return super().call_instance_shutdown(node, instance, timeout, reason)

    def call_instance_start(self, node, instance, paused, reason):
        binst.instance_start(instance, paused, reason)
        return RpcResult(node, "instance_start", None)


def _startup(ctx, **params):
    op = opcodes.OpInstanceStartup(instance_name=NAME, **params)
    op.validate()
    lu = instance_operation.LUInstanceStartup(None, op, ctx, lambda *a: None)
    lu.expand_names()
    lu.check_prereq()
    lu.exec(lambda *a: None)


def test_startup_stops_a_guest_shut_down_from_inside_within_its_timeout(run_dir,
                                                                        monkeypatch):
    monkeypatch.setattr(instance_operation.iu, "assemble_disks", lambda *a, **k: None)
    monkeypatch.setattr(instance_operation.iu, "shutdown_disks", lambda *a, **k: None)
    cfg, ctx = _cluster(run_dir, True)
    ctx.rpc = _StartupRpc()
    _shut_down_from_inside()
    _startup(ctx, shutdown_timeout=7)
    # stopped first with the given timeout (Ganeti's cleanup), then started afresh
    assert ctx.rpc.shutdown_timeouts == [7]
    assert binst.all_instances_info(["fake"], {})[NAME]["state"] != "shutdown"
    assert _row(ctx, ["status"]) == ["running"]
    # a plain stopped instance starts without that shutdown
    binst.instance_shutdown(_fake_instance().to_dict(), 0, None)
    _startup(ctx)
    assert ctx.rpc.shutdown_timeouts == [7]
