"""The job queue in etcd (ganeti.jqueue.etcdstore) against a real 3-member etcd:
jobs outlive their master, a fenced master cannot write, a queue directory is
imported once, and a stopped member does not stop the queue."""

import threading
import time

import pytest

from etcd_fixture import EtcdCluster

from ganeti import constants, errors, jqueue
from ganeti.etcd.client import Compare, Op
from ganeti.jqueue import etcdstore

OWNER = b"/test/queue-owner"
FINAL = constants.JOBS_FINALIZED


def op(comment=None):
    data = {"OP_ID": "OP_TEST_DELAY", "duration": 0}
    if comment:
        data["comment"] = comment
    return data


class Executor:
    """"hold" opcodes wait for ``release``; others return their comment."""

    def __init__(self):
        self.release = threading.Event()
        self.holding = threading.Event()

    def __call__(self, opcode, cbs):
        cbs.notify_start()
        if opcode.comment == "hold":
            self.holding.set()
            self.release.wait(30)
        return opcode.comment or True


@pytest.fixture(scope="module")
def etcd3():
    with EtcdCluster(3, first=70, spare=0) as ec:
        yield ec


@pytest.fixture
def client(etcd3):
    client = etcd3.client(timeout=3.0)
    client.delete(etcdstore.PREFIX, prefix=True)
    client.delete(OWNER)
    yield client
    client.close()


def _queue(client, owner, executor=None, import_dir=None, workers=4):
    """A started queue whose writes need OWNER to hold ``owner`` (a master's lease)."""
    client.put(OWNER, owner)
    store = etcdstore.EtcdQueueStore(
        client, fence=lambda: [Compare.value(OWNER, "=", owner)], import_dir=import_dir)
    queue = jqueue.JobQueue(store, executor or Executor(), num_workers=workers)
    queue.start()
    return queue


def _wait_final(queue, job_id, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = queue.query_jobs([job_id], ["status"])[0]
        if status and status[0] in FINAL:
            return status[0]
        time.sleep(0.02)
    raise AssertionError("job %s did not finish" % job_id)


def _stored(client, job_id):
    kv = client.get(etcdstore.live_key(job_id))
    return None if kv is None else etcdstore.restore_job(kv.value, job_id)


def test_jobs_outlive_their_master_and_the_old_one_is_fenced(etcd3, client):
    old_exec = Executor()
    old = _queue(client, b"old", old_exec, workers=1)
    done = [old.submit_job([op("r%d" % i)]) for i in range(10)]
    for job_id in done:
        assert _wait_final(old, job_id) == constants.JOB_STATUS_SUCCESS
    running = old.submit_job([op("hold")])
    assert old_exec.holding.wait(10)
    # one worker: these stay queued behind the held one
    queued = [old.submit_job([op("q")]) for _ in range(4)]

    # a new master on another member takes over (the old one did not stop)
    new_client = etcd3.client(members=[3, 2], timeout=3.0)
    new = _queue(new_client, b"new")
    try:
        for job_id in done:
            assert new.query_jobs([job_id], ["status", "opresult"])[0] == \
                [constants.JOB_STATUS_SUCCESS, ["r%d" % (job_id - done[0])]]
        status, result = new.query_jobs([running], ["status", "opresult"])[0]
        assert status == constants.JOB_STATUS_ERROR
        assert constants.UNCLEAN_SHUTDOWN_MSG in str(result)
        for job_id in queued:
            assert _wait_final(new, job_id) == constants.JOB_STATUS_SUCCESS
        assert new.submit_job([op()]) > max(queued)

        # the old master's writes are refused: its job ends only in its memory
        old_exec.release.set()
        _wait_final(old, running)
        assert _stored(client, running).calc_status() == constants.JOB_STATUS_ERROR
        with pytest.raises(errors.JobQueueError):
            old.submit_job([op()])
    finally:
        new.shutdown()
        old.shutdown(timeout=5)
        new_client.close()


def test_archive_and_drain_flag_are_kept(etcd3, client):
    first = _queue(client, b"a")
    ids = [first.submit_job([op()]) for _ in range(3)]
    for job_id in ids:
        _wait_final(first, job_id)
    assert first.archive_job(ids[0])
    first.set_drain_flag(True)
    first.shutdown()
    assert client.get(etcdstore.live_key(ids[0])) is None
    assert client.get(etcdstore.archive_key(ids[0])) is not None

    second = _queue(client, b"b")
    try:
        assert second.is_drained()
        with pytest.raises(errors.JobQueueDrainError):
            second.submit_job([op()])
        assert second.job_ids() == ids[1:]
        assert second.query_jobs([ids[0]], ["id", "status"]) == \
            [[ids[0], constants.JOB_STATUS_SUCCESS]]
        assert [row[0] for row in second.query_jobs(None, ["id"], archived=True)] == ids
        second.set_drain_flag(False)
        assert second.submit_job([op()]) == ids[-1] + 1
    finally:
        second.shutdown()


def test_the_cleaner_removes_old_archived_jobs(client):
    queue = _queue(client, b"a")
    try:
        job_id = queue.submit_job([op()])
        _wait_final(queue, job_id)
        assert queue.archive_job(job_id)
    finally:
        queue.shutdown()
    removed = []
    assert etcdstore.remove_archived_before(client, time.time() - 3600, removed.append) == 0
    assert client.get(etcdstore.archive_key(job_id)) is not None
    assert etcdstore.remove_archived_before(client, time.time() + 1, removed.append) == 1
    assert removed == ["removed archived job %d" % job_id]
    assert client.get(etcdstore.archive_key(job_id)) is None


def test_a_queue_directory_is_imported_once(client, tmp_path):
    qdir = str(tmp_path / "queue")
    files = jqueue.JobQueue(qdir, Executor(), num_workers=2)
    files.start()
    ids = [files.submit_job([op("f%d" % i)]) for i in range(5)]
    for job_id in ids:
        _wait_final(files, job_id)
    assert files.archive_job(ids[0])
    files.set_drain_flag(True)
    files.shutdown()

    queue = _queue(client, b"a", import_dir=qdir)
    try:
        assert queue.job_ids() == ids[1:]
        assert queue.query_jobs([ids[0]], ["opresult"]) == [[["f0"]]]
        assert queue.is_drained()
        queue.set_drain_flag(False)
        new_id = queue.submit_job([op()])
        assert new_id == ids[-1] + 1
    finally:
        queue.shutdown()
    # the store has a version now: the directory is not imported again
    again = _queue(client, b"b", import_dir=qdir)
    try:
        assert new_id in again.job_ids()
    finally:
        again.shutdown()


def test_many_jobs_at_once_are_stored_in_several_transactions(client):
    queue = _queue(client, b"a", workers=25)
    try:
        results = queue.submit_many_jobs([[op("m%d" % i)] for i in range(300)])
        ids = [job_id for ok, job_id in results if ok]
        assert len(ids) == 300
        for job_id in ids:
            _wait_final(queue, job_id, timeout=60)
        kvs, _ = client.get_prefix(etcdstore.LIVE)
        assert len(kvs) == 300
        assert int(client.get(etcdstore.SERIAL_KEY).value) == ids[-1]
    finally:
        queue.shutdown()


def test_a_stopped_member_does_not_stop_the_queue(etcd3, client):
    queue = _queue(etcd3.client(members=[1, 2, 3], timeout=3.0), b"a")
    try:
        etcd3.kill(3)
        start = time.time()
        ids = [queue.submit_job([op()]) for _ in range(20)]
        for job_id in ids:
            assert _wait_final(queue, job_id) == constants.JOB_STATUS_SUCCESS
        # bounded, not a benchmark: each job takes milliseconds here
        assert time.time() - start < 20
    finally:
        queue.shutdown()
        etcd3.restart(3)


def test_a_write_without_quorum_fails_in_bounded_time(etcd3, client, monkeypatch):
    monkeypatch.setattr(etcdstore, "RETRY_TIME", 2.0)
    queue = _queue(etcd3.client(members=[1], timeout=1.0), b"a")
    try:
        etcd3.kill(2)
        etcd3.kill(3)
        start = time.time()
        with pytest.raises(errors.JobQueueError):
            queue.submit_job([op()])
        assert time.time() - start < 15
        assert queue.job_ids() == []
    finally:
        queue.shutdown(timeout=5)
        etcd3.restart(2)
        etcd3.restart(3)
        etcd3.wait_healthy([1, 2, 3])


def test_a_record_is_never_split_over_transactions():
    ops = [[Op.put(b"k%d" % i, b"x" * 1000)] * 2 for i in range(100)]
    chunks = list(etcdstore._chunks(ops))
    assert sum(len(c) for c in chunks) == 100
    assert all(sum(len(g) for g in c) <= etcdstore._TXN_OPS for c in chunks)
