"""Options that used to be accepted and then ignored: each one now acts, or is
refused with a clear error (issue 7, section 4; doc/cli-options.rst)."""

import io
import sys
import types

import pytest

from ganeti import constants, daemon, errors, watcher
from ganeti.server import masterd, noded


# ---- daemons -------------------------------------------------------------------------

def _run_main(monkeypatch, main, argv, stdin=""):
    """main() with argv; (result or exit code, calls of run_daemon)."""
    calls = []
    monkeypatch.setattr(daemon, "run_daemon", lambda *a: calls.append(a) or 0)
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        result = main()
    except SystemExit as exc:
        result = exc.code
    return result, calls


@pytest.mark.parametrize("option", [["-b", "127.0.0.1"], ["--bind=127.0.0.1"],
                                    ["-p", "1811"], ["--port=1811"]])
def test_masterd_has_no_bind_or_port(monkeypatch, capsys, option):
    """Ganeti's masterd is no network daemon: optparse refuses -b/-p."""
    code, calls = _run_main(monkeypatch, masterd.main, ["ganeti-masterd"] + option)
    assert code == 2 and not calls
    assert "no such option" in capsys.readouterr().err


def test_noded_keeps_bind_and_port_and_refuses_no_ssl(monkeypatch, capsys):
    code, calls = _run_main(monkeypatch, noded.main,
                            ["ganeti-noded", "-b", "127.0.0.1", "-p", "1999"])
    assert len(calls) == 1
    options = calls[0][1]
    assert (options.bind_address, options.port) == ("127.0.0.1", 1999)
    code, calls = _run_main(monkeypatch, noded.main, ["ganeti-noded", "--no-ssl"])
    assert code == 2 and not calls
    assert "--no-ssl is not supported: the node daemon always uses TLS" in \
        capsys.readouterr().err


@pytest.mark.parametrize("answer,starts", [("YES\n", True), ("yes\n", False), ("", False)])
def test_masterd_no_voting_asks_for_uppercase_yes(monkeypatch, capsys, answer, starts):
    code, calls = _run_main(monkeypatch, masterd.main,
                            ["ganeti-masterd", "--no-voting"], stdin=answer)
    out, err = capsys.readouterr()
    assert out == ("The 'no voting' option has been selected.\nThis is dangerous,"
                   " please confirm by typing uppercase 'yes': ")
    assert bool(calls) == starts
    if not starts:
        assert code == constants.EXIT_FAILURE and err == "Aborting.\n"


def test_masterd_yes_do_it_skips_the_question(monkeypatch, capsys):
    _, calls = _run_main(monkeypatch, masterd.main,
                         ["ganeti-masterd", "--no-voting", "--yes-do-it"])
    assert len(calls) == 1 and calls[0][1].no_voting
    assert capsys.readouterr().out == ""


def test_watcher_wait_children_is_the_default_and_no_wait_is_refused(capsys):
    assert watcher.parse_options([]).wait_children
    assert watcher.parse_options(["--wait-children"]).wait_children
    with pytest.raises(SystemExit) as exc:
        watcher.parse_options(["--no-wait-children"])
    assert exc.value.code == 2
    assert "--no-wait-children is not supported" in capsys.readouterr().err


# ---- gnt-* commands ------------------------------------------------------------------

class _JobClient:
    """A LUXI client that records submitted jobs; each succeeds with ``result``."""

    def __init__(self, result=None):
        self.jobs = []
        self.result = result

    def submit_job(self, ops):
        self.jobs.append(ops)
        return len(self.jobs)

    def submit_many_jobs(self, jobs):
        self.jobs.extend(jobs)
        return [(True, len(self.jobs) - len(jobs) + i + 1) for i in range(len(jobs))]

    def wait_for_job_change_once(self, job_id, fields, prev_info, prev_serial):
        return (["success"], [])

    def query_jobs(self, job_ids, fields):
        return [("success", ["success"], [self.result])]


def _gnt(monkeypatch, module, *argv, client=None):
    from ganeti import cli
    client = client or _JobClient()
    monkeypatch.setattr(cli, "get_client", lambda: client)
    code = cli.generic_main(module.COMMANDS, argv=["gnt-x"] + list(argv))
    return code, client


@pytest.mark.parametrize("command", ["list", "diagnose", "info"])
def test_gnt_os_priority_and_reason_go_into_its_job(monkeypatch, command):
    from ganeti.client import gnt_os
    code, client = _gnt(monkeypatch, gnt_os, command, "--priority", "low",
                        "--reason", "checking", client=_JobClient(result=[]))
    assert code == 0
    (op,) = client.jobs[0]
    assert op.OP_ID == "OP_OS_DIAGNOSE"
    assert op.priority == constants.OP_PRIO_LOW
    assert op.reason[0][:2] == ["gnt:user", "checking"]


def test_submit_job_timing_stats(monkeypatch, tmp_path, capsys):
    from ganeti import cli
    from ganeti.client import gnt_debug
    job_file = tmp_path / "ops.json"
    job_file.write_text('[{"OP_ID": "OP_TEST_DELAY", "duration": 0}]')
    polled = []
    monkeypatch.setattr(cli, "poll_job", lambda job_id, cl=None: polled.append(job_id))
    code, client = _gnt(monkeypatch, gnt_debug, "submit-job", "--timing-stats",
                        "--op-repeat", "3", "--job-repeat", "2", str(job_file))
    assert code == 0 and polled == [1, 2]       # waited for every job
    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == ["Loading...", "Submitting...", "Executing...",
                         "Submitted jobs 1, 2", "C:op        6"]
    assert lines[5] == "C:job       2"
    assert [line.split()[0] for line in lines[6:]] == ["T:submit", "T:exec", "T:total"]
    assert all(float(line.split()[1]) >= 0 for line in lines[6:])


class _QueueClient:
    """Two pending jobs; records priority changes."""

    def __init__(self):
        self.changed = []

    def query(self, what, fields, qfilter):
        return {"fields": [], "data": [[(0, 7)], [(0, 9)]]}

    def change_job_priority(self, job_id, priority):
        self.changed.append((job_id, priority))
        return (True, "Priority of job %s changed" % job_id)


@pytest.mark.parametrize("force", [True, False])
def test_change_priority_force_skips_the_question(monkeypatch, force):
    from ganeti import cli
    from ganeti.client import gnt_job
    asked = []
    monkeypatch.setattr(cli, "format_query_result", lambda *a, **k: ["listing"])
    monkeypatch.setattr(cli, "ask_user", lambda question: asked.append(question))
    argv = ["change-priority", "--priority", "high", "--pending"] + (["-f"] if force else [])
    code, client = _gnt(monkeypatch, gnt_job, *argv, client=_QueueClient())
    if force:
        assert code == 0 and not asked
        assert client.changed == [(7, constants.OP_PRIO_HIGH), (9, constants.OP_PRIO_HIGH)]
    else:
        assert code == constants.EXIT_CONFIRMATION and asked and not client.changed


# ---- -f/--force in the logical units -----------------------------------------------

class _Result:
    def __init__(self, fail_msg=None):
        self.fail_msg = fail_msg


def _shutdown_lu(monkeypatch, force, admin_state):
    from ganeti.cmdlib import instance_operation as iop
    lu = object.__new__(iop.LUInstanceShutdown)
    lu.feedback_fn = lambda line: lu.lines.append(line)
    lu.lines, lu.marked, lu.stopped = [], [], []
    lu.op = types.SimpleNamespace(force=force, no_remember=False, timeout=0,
                                  ignore_offline_nodes=False, admin_state_source="admin")
    inst = types.SimpleNamespace(name="inst1", primary_node="node1",
                                 admin_state=admin_state)
    monkeypatch.setattr(iop.InstanceLU, "check_prereq",
                        lambda self: setattr(self, "instance", inst))
    lu._primary_offline = lambda: False
    lu._set_admin_state = lambda state, source: lu.marked.append(state)
    lu._node_instance = lambda inst=None: inst
    lu.rpc = types.SimpleNamespace(
        call_instance_shutdown=lambda *a: lu.stopped.append(a[0]) or _Result())
    monkeypatch.setattr(iop.iu, "shutdown_disks", lambda *a, **k: None)
    return lu


def test_shutdown_of_an_offline_instance_needs_force(monkeypatch):
    from ganeti import errors
    lu = _shutdown_lu(monkeypatch, False, constants.ADMINST_OFFLINE)
    with pytest.raises(errors.OpPrereqError, match="Instance 'inst1' is marked to be"
                       " offline, can't use instance from outside down, up states"):
        lu.check_prereq()
    lu = _shutdown_lu(monkeypatch, True, constants.ADMINST_OFFLINE)
    lu.check_prereq()
    assert lu.lines == [" - WARNING: Ignoring offline instance check"]
    lu.exec(lu.feedback_fn)
    # stopped on its node, and it stays marked offline (not "down")
    assert lu.stopped == ["node1"] and lu.marked == []


def test_shutdown_without_force_of_a_running_instance_marks_it_down(monkeypatch):
    lu = _shutdown_lu(monkeypatch, False, constants.ADMINST_UP)
    lu.check_prereq()
    lu.exec(lu.feedback_fn)
    assert lu.marked == [constants.ADMINST_DOWN] and lu.stopped == ["node1"]


def _cluster_modify_lu(force):
    from ganeti import objects
    from ganeti.cmdlib import cluster
    lu = object.__new__(cluster.LUClusterSetParams)
    lu.lines, lu.updates, lu.activated = [], [], []
    lu.feedback_fn = lu.lines.append
    lu.op = types.SimpleNamespace(force=force, master_netdev="eth1", master_netmask=None,
                                  vg_name=None, file_storage_dir=None,
                                  shared_file_storage_dir=None, drbd_helper=None)
    lu.old = objects.Cluster(cluster_name="c", master_node="node1", master_netdev="eth0",
                             master_netmask=32, candidate_pool_size=10,
                             modify_etc_hosts=False, max_running_jobs=20)
    lu.new = lu.old.copy()
    lu.new.master_netdev = "eth1"
    lu.cfg = types.SimpleNamespace(get_master_network_parameters=lambda: {},
                                   update=lambda obj, fn: lu.updates.append(obj))
    lu.rpc = types.SimpleNamespace(
        call_node_deactivate_master_ip=lambda node, params: _Result("device busy"),
        call_node_activate_master_ip=lambda node, params: lu.activated.append(node)
        or _Result())
    lu.context = types.SimpleNamespace()
    return lu


def test_cluster_modify_netdev_needs_force_when_the_ip_cannot_go_down():
    from ganeti import errors
    lu = _cluster_modify_lu(False)
    with pytest.raises(errors.OpExecError,
                       match="Could not disable the master ip: device busy"):
        lu.exec(lu.feedback_fn)
    assert lu.updates == [] and lu.activated == []      # nothing changed
    lu = _cluster_modify_lu(True)
    lu.exec(lu.feedback_fn)
    assert len(lu.updates) == 1 and lu.activated == ["node1"]
    assert lu.lines == [
        "Shutting down master ip on the current netdev (eth0)",
        "Could not disable the master ip (continuing anyway): device busy",
        "Changing master_netdev from eth0 to eth1",
        "Starting the master ip on the new master netdev (eth1)"]


# ---- gnt-debug delay --interruptible -----------------------------------------------

def _delay_lu(duration, repeat=0):
    from ganeti import opcodes
    from ganeti.cmdlib import test as lu_test
    op = opcodes.OpTestDelay(duration=duration, interruptible=True, repeat=repeat,
                             on_nodes=["node1"])
    op.validate()
    log = []
    lu = lu_test.LUTestDelay(None, op, types.SimpleNamespace(cfg=None, rpc=None, glm=None),
                             lambda *a: log.append(a))
    lu.rpc = None           # no node is asked: any RPC would fail
    return lu, log


def _interrupt_when_listed(log, send=b"x"):
    """Connect to the socket the LU logs (ELOG_DELAY_TEST) and send a byte."""
    import socket
    import threading
    import time

    def run():
        while not any(entry[0] == constants.ELOG_DELAY_TEST for entry in log):
            time.sleep(0.01)
        (path,) = [e for e in log if e[0] == constants.ELOG_DELAY_TEST][0][1]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(send)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_interruptible_delay_ends_when_the_socket_gets_a_byte():
    import os
    import time
    lu, log = _delay_lu(30, repeat=2)
    thread = _interrupt_when_listed(log)
    start = time.time()
    lu.exec(lu.feedback_fn)
    thread.join(5)
    assert time.time() - start < 10        # not 2 x 30 seconds: interrupted, no repeat
    path = log[1][1][0]
    assert log[0] == (" - INFO: Test delay iteration 0/1",)    # repeat=2: 0/1, 1/1
    assert log[1][0] == constants.ELOG_DELAY_TEST and not os.path.exists(path)
    assert log[2][0].startswith("Received connection, time to go is ")
    assert log[3][0].startswith("Interrupted, time spent waiting: ")


def test_interruptible_delay_runs_out_without_a_client():
    import time
    lu, log = _delay_lu(0.3)
    start = time.time()
    lu.exec(lu.feedback_fn)
    assert 0.25 <= time.time() - start < 5
    assert [entry[0] for entry in log] == [constants.ELOG_DELAY_TEST]


# ---- wait_for_sync: activate-disks --wait-for-sync, grow-disk --no-wait-for-sync ----

_SYNC_LINES = [" - INFO: Waiting for instance inst1 to sync disks",
               " - INFO: Instance inst1's disks are in sync"]


class _InstCfg:
    def __init__(self, inst):
        self.inst = inst
        self.updated = []

    def get_instance_info(self, name):
        return self.inst

    def get_node_info(self, name):
        return None             # unknown node: no exclusive storage

    def update(self, obj, *args):
        self.updated.append(obj)


def _file_instance():
    return types.SimpleNamespace(name="inst1", primary_node="node1",
                                 disks=[types.SimpleNamespace(dev_type="file")],
                                 disks_active=True, admin_state=constants.ADMINST_DOWN)


@pytest.mark.parametrize("wait", [True, False])
def test_activate_disks_wait_for_sync(monkeypatch, wait):
    from ganeti.cmdlib import instance_operation as iop
    lu = object.__new__(iop.LUInstanceActivateDisks)
    lines = []
    lu.feedback_fn = lines.append
    lu.op = types.SimpleNamespace(wait_for_sync=wait, ignore_size=False)
    lu.instance = _file_instance()
    lu.cfg = _InstCfg(lu.instance)
    monkeypatch.setattr(iop.iu, "assemble_disks",
                        lambda lu, inst, ignore_size=False: [("node1", "disk/0", "/srv/d0")])
    assert lu.exec(lu.feedback_fn) == [["node1", "disk/0", "/srv/d0"]]
    assert lines == (_SYNC_LINES if wait else [])


@pytest.mark.parametrize("wait", [True, False])
def test_grow_disk_no_wait_for_sync(wait):
    from ganeti.cmdlib import instance_change
    lu = object.__new__(instance_change.LUInstanceGrowDisk)
    lines = []
    lu.feedback_fn = lines.append
    lu.op = types.SimpleNamespace(wait_for_sync=wait, disk=0)
    lu.instance = _file_instance()
    lu.instance.disks = [types.SimpleNamespace(size=1024, dev_type="file")]
    lu.disk = types.SimpleNamespace(to_dict=lambda: {}, nodes=["node1"], dev_type="file")
    lu.delta, lu.target = 1024, 2048
    lu.cfg = _InstCfg(lu.instance)
    lu.rpc = types.SimpleNamespace(call_blockdev_grow=lambda *a: types.SimpleNamespace(
        raise_on_failure=lambda *a, **k: None))
    lu.exec(lines.append)
    assert lines[0] == "Growing disk 0 of instance 'inst1' by 1.0G to 2.0G"
    assert lines[1:] == (_SYNC_LINES if wait else [])
    assert lu.instance.disks[0].size == 2048


def test_modify_checks_each_added_disk():
    from ganeti.cmdlib import disk_sync
    for oneshot, expected in ((False, _SYNC_LINES), (True, _SYNC_LINES[1:])):
        lines = []
        lu = types.SimpleNamespace(log_info=lambda msg, *a: lines.append(
            " - INFO: " + msg % a))
        assert disk_sync.wait_for_sync(lu, _file_instance(), oneshot=oneshot)
        assert lines == expected
    diskless = types.SimpleNamespace(name="inst1", disks=[])
    assert disk_sync.wait_for_sync(types.SimpleNamespace(), diskless)


# ---- OP_NODE_SET_PARAMS powered (LUXI): only with out-of-band management -------------

@pytest.mark.parametrize("oob_program", ["", "/usr/local/sbin/oob"])
def test_node_powered_needs_an_oob_program(tmp_path, oob_program):
    from ganeti import config, errors, opcodes
    from ganeti.cmdlib import node as lu_node
    from test_cluster_admin import _context, _make_cfg
    cfg = _make_cfg(tmp_path)
    cluster = cfg.get_cluster_info()
    cluster.ndparams["oob_program"] = oob_program
    cfg.update(cluster)
    op = opcodes.OpNodeSetParams(node_name="node2.example.com", powered=False)
    op.validate()
    lu = lu_node.LUNodeSetParams(None, op, _context(cfg), lambda *a: None)
    lu.expand_names()
    if not oob_program:
        with pytest.raises(errors.OpPrereqError, match="Unable to change powered state"
                           " for node node2.example.com as it does not support"
                           " out-of-band handling"):
            lu.check_prereq()
        assert config.ConfigWriter(cfg._cfg_file).get_node_info(
            "node2.example.com").powered is not False
    else:
        lu.check_prereq()
        lu.exec(lambda *a: None)
        assert config.ConfigWriter(cfg._cfg_file).get_node_info(
            "node2.example.com").powered is False


# ---- OP_INSTANCE_SHUTDOWN admin_state_source (LUXI) ---------------------------------

def _source_lu(tmp_path, source, no_remember=False):
    from ganeti import opcodes
    from ganeti.cmdlib import instance_operation as iop
    from test_cluster_admin import _context, _make_cfg
    cfg = _make_cfg(tmp_path, instances=[("inst1", "fake", "diskless")])
    inst = cfg.get_instance_info("inst1")
    inst.admin_state = constants.ADMINST_UP
    cfg.update(inst)
    ctx = _context(cfg)
    ctx.rpc = types.SimpleNamespace(call_instance_shutdown=lambda *a: _Result())
    op = opcodes.OpInstanceShutdown(instance_name="inst1", admin_state_source=source,
                                    no_remember=no_remember, timeout=0)
    op.validate()
    log = []
    lu = iop.LUInstanceShutdown(None, op, ctx, log.append)
    lu.expand_names()
    return lu, cfg, log


def test_shutdown_admin_state_source(tmp_path, monkeypatch):
    from ganeti import config, errors
    from ganeti.cmdlib import instance_operation as iop
    monkeypatch.setattr(iop.iu, "shutdown_disks", lambda *a, **k: None)
    with pytest.raises(errors.OpPrereqError, match="Invalid admin_state_source 'nobody'"):
        _source_lu(tmp_path, "nobody")
    # "user" (checked against a guest shut down from inside): test_user_shutdown.py
    lu, cfg, log = _source_lu(tmp_path, "admin")
    lu.check_prereq()
    lu.exec(lu.feedback_fn)
    inst = config.ConfigWriter(cfg._cfg_file).get_instance_info("inst1")
    assert (inst.admin_state, inst.admin_state_source) == (constants.ADMINST_DOWN, "admin")
    lu, cfg, log = _source_lu(tmp_path, "admin", no_remember=True)
    assert log == [" - WARNING: Parameter 'admin_state_source' has no effect if used"
                   " with parameter 'no_remember'"]


@pytest.mark.parametrize("wait", [True, False])
def test_a_degraded_new_mirror_fails_the_creation(monkeypatch, wait):
    """Ganeti's rule: new disks still degraded after the wait (or, with
    --no-wait-for-sync, at one look) fail instance creation."""
    from ganeti.cmdlib import instance as inst_mod
    calls = []
    monkeypatch.setattr(inst_mod, "wait_for_sync",
                        lambda lu, inst, oneshot=False: calls.append(oneshot) or False)
    lu = object.__new__(inst_mod.LUInstanceCreate)
    lu.op = types.SimpleNamespace(wait_for_sync=wait)
    lines = []
    drbd = types.SimpleNamespace(disks=[types.SimpleNamespace(dev_type="drbd")])
    with pytest.raises(errors.OpExecError, match="There are some degraded disks for this"
                                                 " instance"):
        lu._check_mirrors(drbd, lines.append)
    assert calls == [not wait]
    assert lines == ([] if wait else ["* checking mirrors status"])
    # nothing to look at without a mirror, unless waiting was asked for
    calls.clear()
    if not wait:
        lu._check_mirrors(types.SimpleNamespace(disks=[types.SimpleNamespace(
            dev_type="file")]), lines.append)
        assert calls == []
