"""Tests for ganeti.watcher: state file, restart attempts, disks, pause, options."""

import fcntl
import json
import logging
import os
import time

import pytest

from ganeti import constants, daemon_util, errors, pathutils, watcher

GROUP = "0f0e0d0c-0000-4000-8000-000000000001"
NODE = "node1.example.com"
PNODE = "node0.example.com"


def _result(fields, rows):
    return {"fields": [{"name": f} for f in fields],
            "data": [[[0 if v is not None else 2, v] for v in row] for row in rows]}


class FakeClient:
    """Answers the LUXI calls the watcher makes; jobs succeed unless told.

    Every instance has its primary on PNODE and its secondary on NODE (whose boot
    id the tests change); verify-disks names the instances in ``need_activation``.
    """

    def __init__(self, instances, bootid="boot-1", fail=()):
        self.instances = instances      # name -> (status, disks_active)
        self.bootid = bootid
        self.fail = set(fail)
        self.need_activation = []
        self.jobs = {}
        self.archived = []
        self.closed = False

    def query(self, what, fields, qfilter=None):
        if what == "instance":
            rows = [[name, st, "up" if st in ("running", "ERROR_down") else "down", PNODE,
                     [NODE], active] for name, (st, active) in sorted(self.instances.items())]
            return _result(fields, rows)
        assert what == "node"
        return _result(fields, [[PNODE, "boot-p", GROUP, False],
                                [NODE, self.bootid, GROUP, False]])

    def submit_job(self, ops):
        job_id = str(len(self.jobs) + 1)
        ops = [op.to_dict() for op in ops]
        self.jobs[job_id] = ops
        op = ops[0]
        if self._ok(job_id) and op["OP_ID"] == "OP_INSTANCE_STARTUP":
            self.instances[op["instance_name"]] = ("running", True)
        return job_id

    def wait_for_job_change_once(self, job_id, fields, prev_info, prev_serial, timeout=None):
        return [["success" if self._ok(job_id) else "error"], []]

    def query_jobs(self, ids, fields):
        ops = self.jobs[ids[0]]
        if not self._ok(ids[0]):
            return [["error", [["OpExecError", ["hook failed"]]]]]
        if ops[0]["OP_ID"] == "OP_GROUP_VERIFY_DISKS":
            return [["success", [[{}, list(self.need_activation), {}]]]]
        return [["success", [None] * len(ops)]]

    def _ok(self, job_id):
        return not any(op.get("instance_name") in self.fail for op in self.jobs[job_id])

    def auto_archive_jobs(self, age, timeout):
        self.archived.append(age)
        return [0, 0]

    def ops(self, op_id):
        return [op.get("instance_name") or op.get("group_name")
                for ops in self.jobs.values() for op in ops if op["OP_ID"] == op_id]

    def close(self):
        self.closed = True


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(pathutils, "DATA_DIR", str(tmp_path))
    # not this machine's: a node of a real cluster here runs an etcd member
    monkeypatch.setattr(pathutils, "ETCD_MEMBER_FILE", str(tmp_path / "etcd-member.json"))
    return tmp_path


def _state(data_dir):
    with open(os.path.join(str(data_dir), "watcher.%s.data" % GROUP)) as fd:
        return json.load(fd)


# ---- state file ------------------------------------------------------------------

def test_state_roundtrip_and_forget(tmp_path):
    path = str(tmp_path / "watcher.g.data")
    st = watcher.WatcherState(path)
    assert st.attempts("a") == 0 and st.boot_id("n") is None
    assert st.record_attempt("a", now=10) == 1
    assert st.record_attempt("a", now=11) == 2
    st.record_attempt("b")
    st.set_boot_id("n", "x")
    st.save()
    again = watcher.WatcherState(path)
    assert again.attempts("a") == 2 and again.boot_id("n") == "x"
    again.forget_missing(["a"], [])
    assert again.attempts("b") == 0 and again.boot_id("n") is None
    again.reset_instance("a")
    assert again.attempts("a") == 0


def test_state_corrupt_file_is_ignored(tmp_path):
    path = tmp_path / "watcher.g.data"
    path.write_text("{not json")
    assert watcher.WatcherState(str(path)).instances == {}
    path.write_text("[1, 2]")
    assert watcher.WatcherState(str(path)).nodes == {}


# ---- pause and lock --------------------------------------------------------------

def test_read_pause(tmp_path):
    path = str(tmp_path / "watcher.pause")
    assert watcher.read_pause(path) is None
    with open(path, "w") as fd:
        fd.write("%d\n" % (time.time() + 3600))
    assert watcher.read_pause(path) > time.time()
    with open(path, "w") as fd:
        fd.write("1000\n")
    assert watcher.read_pause(path) is None
    assert watcher.read_pause(path, now=999) == 1000.0
    with open(path, "w") as fd:
        fd.write("garbage\n")
    assert watcher.read_pause(path) is None


def test_lock_is_exclusive(tmp_path):
    path = str(tmp_path / "lock" / "ganeti-watcher.lock")
    fd = watcher.acquire_lock(path)
    assert fd is not None
    other = os.open(path, os.O_RDWR)
    with pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(other)
    assert watcher.acquire_lock(path) is None
    os.close(fd)
    fd = watcher.acquire_lock(path)
    assert fd is not None
    os.close(fd)


# ---- options ------------------------------------------------------------------------

def test_options():
    opts = watcher.parse_options([])
    assert opts.job_age == 6 * 3600 and not opts.ignore_pause and not opts.debug
    opts = watcher.parse_options(["-d", "--ignore-pause", "--job-age=2d",
                                  "--wait-children"])
    assert opts.job_age == 2 * 86400 and opts.ignore_pause and opts.debug
    assert watcher.parse_options(["--job-age", "90"]).job_age == 90
    with pytest.raises(SystemExit):
        watcher.parse_options(["--job-age=soon"])
    with pytest.raises(SystemExit):
        watcher.parse_options(["extra"])


# ---- restarting instances --------------------------------------------------------

def test_restarts_down_instance(data_dir):
    cl = FakeClient({"up.example.com": ("running", True),
                     "down.example.com": ("ERROR_down", False),
                     "off.example.com": ("ADMIN_down", False)})
    assert watcher.Watcher(cl, job_age=123).run()
    assert cl.ops("OP_INSTANCE_STARTUP") == ["down.example.com"]
    assert cl.archived == [123]
    # seen running on the next run: the counter is reset
    assert _state(data_dir)["instance"]["down.example.com"]["restart_count"] == 1
    assert watcher.Watcher(cl).run()
    assert _state(data_dir)["instance"] == {}
    status = (data_dir / ("watcher.%s.instance-status" % GROUP)).read_text()
    assert status.splitlines() == ["down.example.com running", "off.example.com ADMIN_down",
                                   "up.example.com running"]


def test_gives_up_after_five_attempts(data_dir, caplog):
    name = "bad.example.com"
    cl = FakeClient({name: ("ERROR_down", False)}, fail=[name])
    caplog.set_level(logging.INFO, logger="ganeti.watcher")
    results = [watcher.Watcher(cl).run() for _ in range(7)]
    assert results == [False] * 5 + [True, True]
    assert cl.ops("OP_INSTANCE_STARTUP") == [name] * watcher.MAX_RESTART_ATTEMPTS
    give_up = [r for r in caplog.records if "giving up" in r.getMessage()]
    assert [r.getMessage() for r in give_up] == [
        "Could not restart instance %s after 5 attempts, giving up" % name]
    assert "hook failed" in caplog.text
    # it comes back (by hand): the counter starts again
    cl.instances[name] = ("running", True)
    watcher.Watcher(cl).run()
    assert _state(data_dir)["instance"] == {}


def test_disks_activated_after_secondary_reboot(data_dir):
    cl = FakeClient({"a.example.com": ("running", True),
                     "b.example.com": ("running", False),
                     "c.example.com": ("ADMIN_down", False)})
    watcher.Watcher(cl).run()
    assert _state(data_dir)["node"] == {NODE: {"bootid": "boot-1"},
                                        PNODE: {"bootid": "boot-p"}}
    watcher.Watcher(cl).run()
    assert cl.ops("OP_INSTANCE_ACTIVATE_DISKS") == []
    # NODE (every instance's secondary) rebooted: the instances whose disks are
    # active get them activated again
    cl.bootid = "boot-2"
    assert watcher.Watcher(cl).run()
    assert cl.ops("OP_INSTANCE_ACTIVATE_DISKS") == ["a.example.com"]
    assert _state(data_dir)["node"][NODE]["bootid"] == "boot-2"
    # an unreachable node (no boot id) changes nothing
    cl.bootid = None
    watcher.Watcher(cl).run()
    assert _state(data_dir)["node"][NODE]["bootid"] == "boot-2"


def test_failed_disk_activation_is_retried(data_dir):
    cl = FakeClient({"a.example.com": ("running", True)})
    watcher.Watcher(cl).run()
    cl.bootid, cl.fail = "boot-2", {"a.example.com"}
    assert not watcher.Watcher(cl).run()
    assert _state(data_dir)["node"][NODE]["bootid"] == "boot-1"
    cl.fail = set()
    assert watcher.Watcher(cl).run()
    assert cl.ops("OP_INSTANCE_ACTIVATE_DISKS") == ["a.example.com"] * 2
    assert _state(data_dir)["node"][NODE]["bootid"] == "boot-2"


def test_verify_disks_per_group_activates_what_it_names(data_dir):
    cl = FakeClient({"a.example.com": ("running", True),
                     "b.example.com": ("ERROR_nodedown", True),
                     "d.example.com": ("running", True)})
    assert watcher.Watcher(cl).run()
    assert cl.ops("OP_GROUP_VERIFY_DISKS") == [GROUP]
    assert cl.ops("OP_INSTANCE_ACTIVATE_DISKS") == []
    # verify-disks names three; the one whose node is down is skipped, an unknown
    # one too, and the others go in one job
    cl.need_activation = ["a.example.com", "b.example.com", "d.example.com",
                          "gone.example.com"]
    assert watcher.Watcher(cl).run()
    activations = [ops for ops in cl.jobs.values()
                   if ops[0]["OP_ID"] == "OP_INSTANCE_ACTIVATE_DISKS"]
    assert [[op["instance_name"] for op in ops] for ops in activations] == [
        ["a.example.com", "d.example.com"]]
    verify = [ops[0] for ops in cl.jobs.values()
              if ops[0]["OP_ID"] == "OP_GROUP_VERIFY_DISKS"]
    assert verify[-1]["priority"] == constants.OP_PRIO_LOW


def test_wait_for_job_times_out():
    class Slow:
        def wait_for_job_change_once(self, *args, **kwargs):
            return "nochange"
    ok, msg = watcher.wait_for_job(Slow(), "7", timeout=0.05)
    assert not ok and "timed out" in msg


# ---- the whole pass --------------------------------------------------------------

class _Opts:
    ignore_pause = False
    job_age = 60


def _node_setup(monkeypatch, master=True):
    started = []
    monkeypatch.setattr(daemon_util, "check_config", lambda: True)
    monkeypatch.setattr(daemon_util, "is_master", lambda: master)
    monkeypatch.setattr(daemon_util, "daemon_pid", lambda name: 0)
    monkeypatch.setattr(daemon_util, "start_daemon",
                        lambda name, args=(): started.append(name))
    monkeypatch.setattr(watcher, "HOOKS_DIR", "/nonexistent/watcher-hooks")
    return started


def test_run_paused_does_nothing(data_dir, monkeypatch):
    started = _node_setup(monkeypatch)
    monkeypatch.setattr(pathutils, "WATCHER_PAUSEFILE", str(data_dir / "watcher.pause"))
    (data_dir / "watcher.pause").write_text("%d\n" % (time.time() + 600))
    cl = FakeClient({"d.example.com": ("ERROR_down", False)})
    assert watcher.run(_Opts(), client_fn=lambda: cl) == 0
    assert started == [] and cl.jobs == {}
    opts = _Opts()
    opts.ignore_pause = True
    assert watcher.run(opts, client_fn=lambda: cl) == 0
    assert started == [constants.NODED, constants.MASTERD, constants.RAPI]
    assert cl.ops("OP_INSTANCE_STARTUP") == ["d.example.com"] and cl.closed


def test_run_on_other_node_only_starts_noded(data_dir, monkeypatch):
    started = _node_setup(monkeypatch, master=False)
    monkeypatch.setattr(pathutils, "WATCHER_PAUSEFILE", str(data_dir / "watcher.pause"))

    def no_client():
        raise AssertionError("no LUXI on a non-master node")
    assert watcher.run(_Opts(), client_fn=no_client) == 0
    assert started == [constants.NODED]


def test_run_reports_daemon_and_luxi_failures(data_dir, monkeypatch):
    _node_setup(monkeypatch)
    monkeypatch.setattr(pathutils, "WATCHER_PAUSEFILE", str(data_dir / "watcher.pause"))

    def fail_start(name, args=()):
        raise errors.CommandError("cannot start %s" % name)
    monkeypatch.setattr(daemon_util, "start_daemon", fail_start)

    class Broken(FakeClient):
        def query(self, *args):
            raise errors.NoMasterError("socket", "refused")
    assert watcher.run(_Opts(), client_fn=lambda: Broken({})) == 1


def test_hooks(tmp_path, caplog):
    good = tmp_path / "10-good"
    good.write_text("#!/bin/sh\ntouch %s\n" % (tmp_path / "ran"))
    bad = tmp_path / "20-bad"
    bad.write_text("#!/bin/sh\necho oops >&2\nexit 3\n")
    skipped = tmp_path / "30-skip.sh"
    skipped.write_text("#!/bin/sh\nexit 1\n")
    for path in (good, bad, skipped):
        path.chmod(0o755)
    assert not watcher.run_hooks(str(tmp_path))
    assert (tmp_path / "ran").exists()
    assert "20-bad" in caplog.text and "30-skip" not in caplog.text
    assert watcher.run_hooks(str(tmp_path / "missing"))
