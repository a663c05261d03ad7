"""Tests of the job queue (ganeti.jqueue) with real files and a fake executor."""

import json
import os
import threading
import time

import pytest

from ganeti import constants, errors, jqueue

DELAY0 = {"OP_ID": "OP_TEST_DELAY", "duration": 0}
FINAL = constants.JOBS_FINALIZED


def op(comment=None, **extra):
    """An opcode dict whose comment tells the fake executor what to do."""
    data = dict(DELAY0)
    if comment is not None:
        data["comment"] = comment
    data.update(extra)
    return data


class FakeExecutor:
    """Executes according to the opcode's comment.

    "log:a,b" logs messages, "fail" raises OpPrereqError, "crash" raises
    ValueError, "block:<name>" waits for self.events[name] (checking for cancel,
    before notify_start), "result:<json>" returns that value. Records the order
    of execution and the thread's job_id.
    """

    def __init__(self):
        self.calls = []
        self.thread_job_ids = []
        self.events = {}
        self.started = {}
        self.lock = threading.Lock()

    def event(self, name):
        with self.lock:
            return self.events.setdefault(name, threading.Event())

    def started_event(self, name):
        with self.lock:
            return self.started.setdefault(name, threading.Event())

    def __call__(self, opcode, cbs):
        comment = opcode.comment or ""
        with self.lock:
            self.calls.append((cbs.job_id, comment))
            self.thread_job_ids.append(getattr(threading.current_thread(), "job_id", None))
        if comment.startswith("block:"):
            name = comment.split(":", 1)[1]
            self.started_event(name).set()
            ev = self.event(name)
            while not ev.wait(0.01):
                cbs.check_cancel()
        if comment.startswith("waitcancel"):
            self.started_event("waitcancel").set()
            deadline = time.time() + 10
            while time.time() < deadline:
                cbs.check_cancel()
                time.sleep(0.01)
            raise AssertionError("never canceled")
        cbs.notify_start()
        if comment.startswith("log:"):
            for msg in comment[4:].split(","):
                cbs.feedback(msg)
            cbs.feedback(constants.ELOG_JQUEUE_TEST, "typed")
        if comment.startswith("runblock:"):
            name = comment.split(":", 1)[1]
            self.started_event(name).set()
            self.event(name).wait(30)
        if comment == "fail":
            raise errors.OpPrereqError("Requested failure", errors.ECODE_INVAL)
        if comment == "crash":
            raise ValueError("boom")
        if comment.startswith("result:"):
            return json.loads(comment[7:])
        return True


def wait_for(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    raise AssertionError("condition not reached in %ss" % timeout)


def wait_final(queue, job_id, timeout=10.0):
    """Wait like clients do (WaitForJobChange): woken once the state is on disk."""
    deadline = time.time() + timeout
    prev = None
    while True:
        left = deadline - time.time()
        assert left > 0, "job %s did not finish" % job_id
        res = queue.wait_for_job_changes(job_id, ["status"], prev, None, min(left, 1.0))
        if res != "nochange":
            prev = res[0]
            if prev[0] in FINAL:
                return prev[0]


def read_job_file(qdir, job_id):
    with open(os.path.join(qdir, "job-%d" % job_id)) as fd:
        return json.load(fd)


@pytest.fixture
def qdir(tmp_path):
    return str(tmp_path / "queue")


@pytest.fixture
def make_queue(qdir):
    queues = []
    executors = []

    def _make(num_workers=4, executor=None, start=True):
        executor = executor or FakeExecutor()
        queue = jqueue.JobQueue(qdir, executor, num_workers=num_workers)
        if start:
            queue.start()
        queues.append(queue)
        executors.append(executor)
        return queue, executor

    yield _make
    for executor in executors:
        if isinstance(executor, FakeExecutor):
            with executor.lock:
                events = list(executor.events.values())
            for ev in events:
                ev.set()
    for queue in queues:
        queue.shutdown(timeout=2)


# ---- basic life cycle ----------------------------------------------------------------

def test_start_creates_layout(make_queue, qdir):
    make_queue()
    assert os.path.isdir(os.path.join(qdir, "archive"))
    assert os.stat(qdir).st_mode & 0o777 == 0o700
    with open(os.path.join(qdir, "version")) as fd:
        assert fd.read().strip() == str(constants.JOB_QUEUE_VERSION)


def test_submit_run_success(make_queue, qdir):
    queue, ex = make_queue()
    job_id = queue.submit_job([op("log:one,two"), op('result:{"a": [1, 2]}')])
    assert job_id == 1
    assert wait_final(queue, job_id) == constants.JOB_STATUS_SUCCESS
    (row,) = queue.query_jobs([job_id], ["id", "status", "opstatus", "opresult", "oplog",
                                         "summary", "ops", "priority", "oppriority"])
    jid, status, opstatus, opresult, oplog, summary, ops, prio, opprio = row
    assert (jid, status) == (1, "success")
    assert opstatus == ["success", "success"]
    assert opresult == [True, {"a": [1, 2]}]
    assert [(e[0], e[2], e[3]) for e in oplog[0]] == [
        (1, "message", "one"), (2, "message", "two"),
        (3, constants.ELOG_JQUEUE_TEST, "typed")]
    assert all(isinstance(e[1], list) and len(e[1]) == 2 for e in oplog[0])
    assert oplog[1] == []
    assert summary == ["TEST_DELAY(0)", "TEST_DELAY(0)"]
    assert ops[0]["OP_ID"] == "OP_TEST_DELAY"
    assert prio == 0 and opprio == [0, 0]
    # the executor saw the job id on its thread
    assert ex.thread_job_ids == [1, 1]
    # on disk, with the format of internals.md 6.2
    data = read_job_file(qdir, job_id)
    assert set(data) >= {"id", "ops", "received_timestamp", "start_timestamp",
                         "end_timestamp"}
    assert data["id"] == 1
    assert set(data["ops"][0]) == {"input", "status", "result", "log", "priority",
                                   "start_timestamp", "exec_timestamp", "end_timestamp"}
    assert data["ops"][0]["status"] == "success"
    assert len(data["ops"][0]["log"]) == 3
    assert data["ops"][1]["result"] == {"a": [1, 2]}
    with open(os.path.join(qdir, "serial")) as fd:
        assert fd.read().strip() == "1"


def test_timestamps(make_queue):
    queue, _ = make_queue()
    job_id = queue.submit_job([op()])
    wait_final(queue, job_id)
    recv, start, end, opstart, opexec, opend = queue.query_jobs(
        [job_id], ["received_ts", "start_ts", "end_ts", "opstart", "opexec", "opend"])[0]
    for ts in (recv, start, end, opstart[0], opexec[0], opend[0]):
        assert isinstance(ts, list) and len(ts) == 2 and 0 <= ts[1] < 1000000
    sec = lambda ts: ts[0] + ts[1] / 1e6  # noqa: E731
    assert sec(recv) <= sec(start) <= sec(opexec[0]) <= sec(opend[0]) <= sec(end)


def test_failure_encodes_error_and_stops(make_queue):
    queue, ex = make_queue()
    job_id = queue.submit_job([op("first"), op("fail"), op("never")])
    assert wait_final(queue, job_id) == constants.JOB_STATUS_ERROR
    opstatus, opresult = queue.query_jobs([job_id], ["opstatus", "opresult"])[0]
    assert opstatus == ["success", "error", "error"]
    assert opresult[1] == ["OpPrereqError", ["Requested failure", errors.ECODE_INVAL]]
    assert opresult[2][0] == "OpExecError"
    assert "never" not in [c for _, c in ex.calls]


def test_unexpected_exception_is_op_exec_error(make_queue):
    queue, _ = make_queue()
    job_id = queue.submit_job([op("crash")])
    assert wait_final(queue, job_id) == constants.JOB_STATUS_ERROR
    assert queue.query_jobs([job_id], ["opresult"])[0][0] == [["OpExecError", ["boom"]]]


def test_unserializable_result_is_error(make_queue):
    def executor(opcode, cbs):
        return object()
    queue, _ = make_queue(executor=executor)
    job_id = queue.submit_job([op()])
    assert wait_final(queue, job_id) == constants.JOB_STATUS_ERROR


def test_invalid_op_rejected_nothing_written(make_queue, qdir):
    queue, _ = make_queue()
    before = sorted(os.listdir(qdir))
    with pytest.raises(errors.OpPrereqError):
        queue.submit_job([op(), {"OP_ID": "OP_TEST_DELAY"}])   # duration missing
    with pytest.raises(errors.OpPrereqError):
        queue.submit_job([{"OP_ID": "OP_NO_SUCH_THING"}])
    with pytest.raises(errors.OpPrereqError):
        queue.submit_job([])
    with pytest.raises(errors.OpPrereqError):
        queue.submit_job([op(priority=7)])
    assert sorted(os.listdir(qdir)) == before
    assert queue.job_ids() == []
    # the next valid job gets id 1
    assert queue.submit_job([op()]) == 1


def test_submit_many_jobs(make_queue):
    queue, _ = make_queue()
    res = queue.submit_many_jobs([[op()], [{"OP_ID": "OP_BAD"}], [op()],
                                  [op(depends=[[-1, ["success"]]])],
                                  [op(depends=[[-3, []]])]])
    assert res[0] == [True, 1]
    assert res[1][0] is False and "OP_BAD" in res[1][1]
    assert res[2] == [True, 2]
    assert res[3] == [True, 3]
    assert res[4][0] is False          # -3 from index 4 is the rejected job
    ops = queue.query_jobs([3], ["ops"])[0][0]
    assert ops[0]["depends"] == [[2, ["success"]]]
    for job_id in (1, 2, 3):
        assert wait_final(queue, job_id) == "success"
    assert queue.submit_many_jobs([]) == []


def test_relative_dependency_needs_batch(make_queue):
    queue, _ = make_queue()
    with pytest.raises(errors.OpPrereqError):
        queue.submit_job([op(depends=[[-1, []]])])


def test_queue_full(make_queue, monkeypatch):
    queue, _ = make_queue()
    monkeypatch.setattr(constants, "JOB_QUEUE_SIZE_HARD_LIMIT", 3)
    queue.submit_many_jobs([[op()], [op()]])
    with pytest.raises(errors.JobQueueFull):
        queue.submit_many_jobs([[op()], [op()]])
    queue.submit_job([op()])
    with pytest.raises(errors.JobQueueFull):
        queue.submit_job([op()])


def test_string_job_ids_accepted(make_queue):
    queue, _ = make_queue()
    job_id = queue.submit_job([op()])
    wait_final(queue, job_id)
    assert queue.query_jobs([str(job_id)], ["id"]) == [[job_id]]
    with pytest.raises(errors.OpPrereqError):
        queue.query_jobs(["x"], ["id"])


# ---- drain -----------------------------------------------------------------------------

def test_drain_flag(make_queue, qdir):
    queue, _ = make_queue()
    assert not queue.is_drained()
    queue.set_drain_flag(True)
    assert queue.is_drained()
    assert os.path.exists(os.path.join(qdir, "drain"))
    with pytest.raises(errors.JobQueueDrainError):
        queue.submit_job([op()])
    with pytest.raises(errors.JobQueueDrainError):
        queue.submit_many_jobs([[op()]])
    job_id = queue.submit_job_to_drained_queue([op()])
    assert wait_final(queue, job_id) == "success"
    queue.set_drain_flag(False)
    assert not queue.is_drained()
    assert not os.path.exists(os.path.join(qdir, "drain"))
    queue.submit_job([op()])


# ---- cancel ----------------------------------------------------------------------------

def test_cancel_queued_and_running(make_queue, qdir):
    queue, ex = make_queue(num_workers=1)
    running = queue.submit_job([op("runblock:a")])
    queued = queue.submit_job([op("x"), op("y")])
    assert ex.started_event("a").wait(5)
    assert queue.query_jobs([running], ["status"])[0][0] == "running"
    assert queue.query_jobs([queued], ["status"])[0][0] == "queued"
    ok, msg = queue.cancel_job(queued)
    assert ok and str(queued) in msg
    status, opstatus, opresult, end = queue.query_jobs(
        [queued], ["status", "opstatus", "opresult", "end_ts"])[0]
    assert status == "canceled"
    assert opstatus == ["canceled", "canceled"]
    assert opresult == [jqueue.CANCELED_MSG, jqueue.CANCELED_MSG]
    assert end is not None
    assert read_job_file(qdir, queued)["ops"][0]["status"] == "canceled"
    ok, msg = queue.cancel_job(running)
    assert not ok and "no longer waiting" in msg
    assert queue.cancel_job(999) == [False, "Job 999 not found in queue"]
    ex.event("a").set()
    assert wait_final(queue, running) == "success"
    ok, msg = queue.cancel_job(running)
    assert not ok
    # the canceled job never ran
    assert [c for _, c in ex.calls] == ["runblock:a"]


def test_cancel_waiting_job(make_queue):
    queue, ex = make_queue(num_workers=1)
    job_id = queue.submit_job([op("waitcancel"), op("after")])
    assert ex.started_event("waitcancel").wait(5)
    assert queue.query_jobs([job_id], ["status"])[0][0] == "waiting"
    ok, msg = queue.cancel_job(job_id)
    assert ok
    assert wait_final(queue, job_id) == "canceled"
    assert queue.query_jobs([job_id], ["opstatus"])[0][0] == ["canceled", "canceled"]
    assert "after" not in [c for _, c in ex.calls]


# ---- metrics -------------------------------------------------------------------------------

def test_metrics_count_jobs_by_status_and_opcode(make_queue):
    queue, ex = make_queue(num_workers=1)
    done = queue.submit_job([op("first"), op("fail"), op("never")])
    assert wait_final(queue, done) == "error"
    running = queue.submit_job([op("runblock:m")])
    queued = queue.submit_job([op(), {"OP_ID": "OP_TEST_JQUEUE"}])
    assert ex.started_event("m").wait(5)
    snap = queue.metrics()
    assert snap["jobs"] == {"error": 1, "running": 1, "queued": 1}
    assert snap["opcodes"] == [["OP_TEST_DELAY", "error", 2], ["OP_TEST_DELAY", "queued", 1],
                               ["OP_TEST_DELAY", "running", 1],
                               ["OP_TEST_DELAY", "success", 1],
                               ["OP_TEST_JQUEUE", "queued", 1]]
    # ended since the start: the two that ran (the third never did)
    assert [row[:3] for row in snap["ended"]] == [["OP_TEST_DELAY", "error", 1],
                                                 ["OP_TEST_DELAY", "success", 1]]
    assert all(row[3] >= 0 for row in snap["ended"])
    ex.event("m").set()
    assert wait_final(queue, running) == "success"
    assert wait_final(queue, queued) == "success"
    snap = queue.metrics()
    assert snap["jobs"] == {"error": 1, "success": 2}
    assert ["OP_TEST_DELAY", "success", 3] in [row[:3] for row in snap["ended"]]
    assert ["OP_TEST_JQUEUE", "success", 1] in [row[:3] for row in snap["ended"]]


# ---- wait for job changes ----------------------------------------------------------------

def test_wait_for_job_changes(make_queue):
    queue, ex = make_queue(num_workers=1)
    blocker = queue.submit_job([op("runblock:b")])
    assert ex.started_event("b").wait(5)
    job_id = queue.submit_job([op("log:m1"), op("runblock:c")])
    # first call: no previous info -> immediate answer
    info, log = queue.wait_for_job_changes(job_id, ["status"], None, None, 5)
    assert info == ["queued"] and log == []
    # nothing changes while the blocker runs
    start = time.time()
    assert queue.wait_for_job_changes(job_id, ["status"], info, None, 0.3) == "nochange"
    assert time.time() - start >= 0.25
    # a change wakes the waiter before its timeout
    threading.Timer(0.2, ex.event("b").set).start()
    start = time.time()
    res = queue.wait_for_job_changes(job_id, ["status"], ["queued"], None, 10)
    assert time.time() - start < 5
    assert res != "nochange" and res[0] != ["queued"]
    assert ex.started_event("c").wait(5)
    info, log = queue.wait_for_job_changes(job_id, ["status"], None, None, 5)
    assert info == ["running"]
    assert [e[3] for e in log] == ["m1", "typed"]
    serial = log[-1][0]
    assert queue.wait_for_job_changes(job_id, ["status"], info, serial, 0.1) == "nochange"
    ex.event("c").set()
    wait_final(queue, job_id)
    # finalized: immediate, even when nothing changed
    start = time.time()
    res = queue.wait_for_job_changes(job_id, ["status"], ["success"], serial, 5)
    assert res == [["success"], []]
    assert time.time() - start < 1
    with pytest.raises(errors.JobLost):
        queue.wait_for_job_changes(12345, ["status"], None, None, 0.1)
    with pytest.raises(errors.OpPrereqError):
        queue.wait_for_job_changes(job_id, ["nosuchfield"], None, None, 0.1)


def test_wait_for_log_message(make_queue):
    gate = threading.Event()

    def executor(opcode, cbs):
        cbs.notify_start()
        gate.wait(5)
        cbs.feedback("late message")
        gate.clear()
        gate.wait(5)
        return None

    queue, _ = make_queue(executor=executor)
    job_id = queue.submit_job([op()])
    wait_for(lambda: queue.query_jobs([job_id], ["status"])[0][0] == "running")
    threading.Timer(0.1, gate.set).start()
    info, log = queue.wait_for_job_changes(job_id, ["status"], ["running"], None, 5)
    assert info == ["running"] and [e[3] for e in log] == ["late message"]
    gate.set()
    wait_final(queue, job_id)


# ---- queries -----------------------------------------------------------------------------

def test_query_fields(make_queue):
    queue, _ = make_queue()
    ids = [queue.submit_job([op()]) for _ in range(3)]
    for job_id in ids:
        wait_final(queue, job_id)
    fields = ["id", "status", "priority", "summary", "ops", "opresult", "opstatus",
              "oplog", "opstart", "opexec", "opend", "oppriority", "received_ts",
              "start_ts", "end_ts", "archived"]
    rows = queue.query_jobs(None, fields)
    assert [r[0] for r in rows] == ids
    assert all(len(r) == len(fields) for r in rows)
    assert rows[0][fields.index("archived")] is False
    assert queue.query_jobs([ids[1], 777, ids[0]], ["id"]) == [[ids[1]], None, [ids[0]]]
    with pytest.raises(errors.OpPrereqError) as exc:
        queue.query_jobs(None, ["id", "bogus"])
    assert exc.value.args[1] == errors.ECODE_INVAL
    assert "bogus" in exc.value.args[0]
    assert queue.job_ids() == ids
    # results survive a JSON round trip unchanged
    assert json.loads(json.dumps(rows)) == rows


# ---- archive -----------------------------------------------------------------------------

def test_archive_and_auto_archive(make_queue, qdir):
    queue, ex = make_queue(num_workers=1)
    done = [queue.submit_job([op()]) for _ in range(3)]
    for job_id in done:
        wait_final(queue, job_id)
    pending = queue.submit_job([op("runblock:z")])
    assert ex.started_event("z").wait(5)
    assert queue.archive_job(pending) is False
    assert queue.archive_job(4242) is False
    assert queue.archive_job(done[0]) is True
    assert not os.path.exists(os.path.join(qdir, "job-%d" % done[0]))
    apath = os.path.join(qdir, "archive", "0", "job-%d" % done[0])
    with open(apath) as fd:
        assert json.load(fd)["id"] == done[0]
    assert done[0] not in queue.job_ids()
    assert [r[0] for r in queue.query_jobs(None, ["id"])] == done[1:] + [pending]
    rows = queue.query_jobs(None, ["id", "archived", "status"], archived=True)
    assert rows[0] == [done[0], True, "success"]
    assert [r[0] for r in rows] == done + [pending]
    # by id, archived jobs are still found
    assert queue.query_jobs([done[0]], ["id", "archived"]) == [[done[0], True]]
    # WaitForJobChange on an archived job answers at once
    assert queue.wait_for_job_changes(done[0], ["status"], None, None, 1)[0] == ["success"]
    # auto-archive: nothing is old enough
    assert queue.auto_archive_jobs(3600, 10) == [0, 0]
    # everything finalized
    assert queue.auto_archive_jobs(-1, 10) == [2, 0]
    assert queue.job_ids() == [pending]
    for job_id in done:
        assert os.path.exists(os.path.join(qdir, "archive", "0", "job-%d" % job_id))
    ex.event("z").set()
    wait_final(queue, pending)
    assert queue.auto_archive_jobs(0, 10) == [1, 0]
    assert queue.job_ids() == []
    # ids continue after archiving everything, also across a restart
    assert queue.submit_job([op()]) == pending + 1


def test_auto_archive_age(make_queue):
    queue, _ = make_queue()
    job_id = queue.submit_job([op()])
    wait_final(queue, job_id)
    time.sleep(1.1)
    new = queue.submit_job([op()])
    wait_final(queue, new)
    assert queue.auto_archive_jobs(1, 10) == [1, 0]
    assert queue.job_ids() == [new]


# ---- persistence and recovery ------------------------------------------------------

def test_recovery_after_crash(make_queue, qdir):
    queue1, ex1 = make_queue(num_workers=1)
    running = queue1.submit_job([op("runblock:crash"), op("second")])
    assert ex1.started_event("crash").wait(5)
    queued = [queue1.submit_job([op("q%d" % i)]) for i in range(3)]
    canceled = queue1.submit_job([op()])
    queue1.cancel_job(canceled)
    # the first queue is "killed" while its executor blocks: wait until the
    # running state is on disk, then start a second queue on the same directory
    wait_for(lambda: read_job_file(qdir, running)["ops"][0]["status"] == "running")
    assert read_job_file(qdir, queued[0])["ops"][0]["status"] == "queued"
    with open(os.path.join(qdir, "job-99"), "w") as fd:
        fd.write('{"id": 99, "ops": [')                       # truncated garbage
    with open(os.path.join(qdir, ".job-7.abcdef"), "w") as fd:
        fd.write("temp")                                        # stale temporary file

    queue2, ex2 = make_queue(num_workers=2)
    assert wait_final(queue2, running) == "error"
    opstatus, opresult = queue2.query_jobs([running], ["opstatus", "opresult"])[0]
    assert opstatus == ["error", "error"]
    assert opresult[0] == ["OpExecError", [constants.UNCLEAN_SHUTDOWN_MSG]]
    for job_id in queued:
        assert wait_final(queue2, job_id) == "success"
    assert sorted(c for _, c in ex2.calls) == ["q0", "q1", "q2"]
    assert queue2.query_jobs([canceled], ["status"])[0][0] == "canceled"
    # corrupted file set aside, temp file removed, the rest is valid JSON
    assert os.path.exists(os.path.join(qdir, "job-99.corrupt"))
    assert not os.path.exists(os.path.join(qdir, "job-99"))
    assert not os.path.exists(os.path.join(qdir, ".job-7.abcdef"))
    for name in os.listdir(qdir):
        if name.startswith("job-") and not name.endswith(".corrupt"):
            with open(os.path.join(qdir, name)) as fd:
                json.load(fd)
    assert read_job_file(qdir, running)["ops"][0]["result"] == \
        ["OpExecError", [constants.UNCLEAN_SHUTDOWN_MSG]]
    # the serial continues
    assert queue2.submit_job([op()]) == canceled + 1


def test_shutdown_and_restart_resumes(make_queue, qdir):
    queue1, ex1 = make_queue(num_workers=1)
    first = queue1.submit_job([op("runblock:s"), op("next")])
    assert ex1.started_event("s").wait(5)
    later = queue1.submit_job([op("later")])
    threading.Timer(0.2, ex1.event("s").set).start()
    queue1.shutdown(timeout=5)
    with pytest.raises(errors.JobQueueError):
        queue1.submit_job([op()])
    # the first opcode finished, the second did not start; the other job is queued
    data = read_job_file(qdir, first)
    assert [o["status"] for o in data["ops"]] == ["success", "queued"]
    assert read_job_file(qdir, later)["ops"][0]["status"] == "queued"
    queue2, ex2 = make_queue(num_workers=1)
    assert wait_final(queue2, first) == "success"
    assert wait_final(queue2, later) == "success"
    assert [c for _, c in ex2.calls] == ["next", "later"]


def test_version_mismatch(qdir):
    os.makedirs(qdir)
    with open(os.path.join(qdir, "version"), "w") as fd:
        fd.write("42\n")
    queue = jqueue.JobQueue(qdir, FakeExecutor())
    with pytest.raises(errors.JobQueueError):
        queue.start()


# ---- dependencies ------------------------------------------------------------------------

def test_dependencies(make_queue):
    queue, ex = make_queue(num_workers=2)
    dep = queue.submit_job([op("runblock:d")])
    assert ex.started_event("d").wait(5)
    waiter = queue.submit_job([op("dependent", depends=[[dep, ["success"]]])])
    # the waiting job does not hold a worker: another job still runs
    free = queue.submit_job([op("free")])
    assert wait_final(queue, free) == "success"
    assert queue.query_jobs([waiter], ["status"])[0][0] == "queued"
    ex.event("d").set()
    assert wait_final(queue, waiter) == "success"
    order = [c for _, c in ex.calls]
    assert order.index("runblock:d") < order.index("dependent")


def test_dependency_failed_status(make_queue):
    queue, _ = make_queue(num_workers=2)
    res = queue.submit_many_jobs([
        [op("fail")],
        [op("needs-success", depends=[[-1, ["success"]]])],
        [op("any-status", depends=[[-2, []]])],
        [op("needs-error", depends=[[-3, ["error"]]])],
        [op("chained", depends=[[-3, ["success"]]])],
    ])
    ids = [jid for _, jid in res]
    assert wait_final(queue, ids[0]) == "error"
    assert wait_final(queue, ids[1]) == "error"
    result = queue.query_jobs([ids[1]], ["opresult"])[0][0][0]
    assert result[0] == "OpExecError" and str(ids[0]) in result[1][0]
    assert wait_final(queue, ids[2]) == "success"
    assert wait_final(queue, ids[3]) == "success"
    # depends on ids[1], which failed because of its own dependency
    assert wait_final(queue, ids[4]) == "error"


def test_dependency_unknown_and_archived(make_queue):
    queue, _ = make_queue()
    first = queue.submit_job([op()])
    wait_final(queue, first)
    assert queue.archive_job(first)
    ok_job = queue.submit_job([op(depends=[[first, ["success"]]])])
    assert wait_final(queue, ok_job) == "success"
    bad = queue.submit_job([op(depends=[[first, ["error"]]])])
    assert wait_final(queue, bad) == "error"
    missing = queue.submit_job([op(depends=[[500, []]])])
    assert wait_final(queue, missing) == "error"


def test_dependency_in_later_opcode(make_queue):
    queue, ex = make_queue(num_workers=2)
    dep = queue.submit_job([op("runblock:l")])
    assert ex.started_event("l").wait(5)
    job = queue.submit_job([op("part1"), op("part2", depends=[[dep, []]])])
    wait_for(lambda: ("part1" in [c for _, c in ex.calls]))
    wait_for(lambda: queue.query_jobs([job], ["opstatus"])[0][0] == ["success", "queued"])
    free = queue.submit_job([op("free")])
    assert wait_final(queue, free) == "success"
    ex.event("l").set()
    assert wait_final(queue, job) == "success"


# ---- priorities --------------------------------------------------------------------------

def test_priority_ordering(make_queue):
    queue, ex = make_queue(num_workers=1)
    blocker = queue.submit_job([op("runblock:p")])
    assert ex.started_event("p").wait(5)
    low = queue.submit_job([op("low", priority=constants.OP_PRIO_LOW)])
    normal1 = queue.submit_job([op("normal1")])
    high = queue.submit_job([op("high", priority=constants.OP_PRIO_HIGH)])
    normal2 = queue.submit_job([op("normal2")])
    moved = queue.submit_job([op("moved", priority=constants.OP_PRIO_LOW)])
    assert queue.change_job_priority(moved, constants.OP_PRIO_HIGH)[0] is True
    assert queue.query_jobs([moved], ["priority", "oppriority"])[0] == [-10, [-10]]
    assert queue.change_job_priority(424242, 0)[0] is False
    with pytest.raises(errors.OpPrereqError):
        queue.change_job_priority(moved, 3)
    ex.event("p").set()
    for job_id in (blocker, low, normal1, high, normal2, moved):
        wait_final(queue, job_id)
    assert [c for _, c in ex.calls] == ["runblock:p", "high", "moved", "normal1",
                                        "normal2", "low"]
    assert queue.change_job_priority(low, 0)[0] is False


# ---- throughput --------------------------------------------------------------------------

def test_throughput(make_queue):
    def executor(opcode, cbs):
        cbs.notify_start()
        return None

    queue, _ = make_queue(num_workers=25, executor=executor)
    count = 500
    start = time.time()
    res = queue.submit_many_jobs([[dict(DELAY0)]] * count)
    ids = [jid for ok, jid in res]
    submitted = time.time()
    wait_for(lambda: all(r[0] in FINAL for r in queue.query_jobs(ids, ["status"])), 60)
    end = time.time()
    start1 = time.time()
    ids1 = [queue.submit_job([dict(DELAY0)]) for _ in range(count)]
    submitted1 = time.time()
    wait_for(lambda: all(r[0] in FINAL for r in queue.query_jobs(ids1, ["status"])), 60)
    end1 = time.time()
    print("\njqueue: %d jobs at once: %.0f jobs/s (submit %.3fs, total %.3fs);"
          " one by one: %.0f jobs/s (submit %.3fs, total %.3fs)"
          % (count, count / (end - start), submitted - start, end - start,
             count / (end1 - start1), submitted1 - start1, end1 - start1))
    assert all(r[0] == "success" for r in queue.query_jobs(ids + ids1, ["status"]))
