"""Tests of the lock manager (ganeti.locking)."""

import random
import threading
import time

import pytest

from ganeti import errors, locking

JOIN_TIMEOUT = 10.0


class _Worker(threading.Thread):
    """A thread running ``fn`` that records its result or exception."""

    def __init__(self, fn, *args, job_id=None, name=None, **kwargs):
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.result = None
        self.error = None
        if job_id is not None:
            self.job_id = job_id

    def run(self):
        try:
            self.result = self.fn(*self.args, **self.kwargs)
        except BaseException as err:  # pylint: disable=broad-except
            self.error = err

    def finish(self):
        """Join, asserting the thread ended, and return its result."""
        self.join(JOIN_TIMEOUT)
        assert not self.is_alive(), "thread %s hung" % self.name
        return self.result


def _start(fn, *args, **kwargs):
    worker = _Worker(fn, *args, **kwargs)
    worker.start()
    return worker


def _wait_for(predicate, timeout=5.0):
    """Wait until ``predicate()`` is true (test helper only)."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.001)


def _pending_count(lock):
    return sum(len(threads) for _, threads in lock.info()[2])


def _hold(lock, started, stop, shared):
    """Acquire ``lock``, signal ``started``, wait for ``stop``, release."""
    assert lock.acquire(shared=shared)
    started.set()
    stop.wait(JOIN_TIMEOUT)
    lock.release()


# ---- SharedLock ----------------------------------------------------------------------

def test_shared_lock_shared_owners_coexist():
    lock = locking.SharedLock("l")
    barrier = threading.Barrier(3, timeout=JOIN_TIMEOUT)

    def holder():
        assert lock.acquire(shared=True, timeout=1)
        assert lock.is_owned(shared=True)
        assert not lock.is_owned(shared=False)
        barrier.wait()   # all three hold it at the same time
        lock.release()

    workers = [_start(holder) for _ in range(3)]
    for worker in workers:
        worker.finish()
        assert worker.error is None
    assert lock.info() == (None, [], [])


def test_shared_lock_exclusive_blocks_shared_and_vice_versa():
    lock = locking.SharedLock("l")
    assert lock.acquire()
    assert lock.is_owned() and lock.is_owned(shared=False)
    assert not lock.is_owned(shared=True)
    assert _start(lock.acquire, shared=True, timeout=0.05).finish() is False
    assert _start(lock.acquire, shared=False, timeout=0).finish() is False
    lock.release()
    assert not lock.is_owned()

    started, stop = threading.Event(), threading.Event()
    holder = _start(_hold, lock, started, stop, True)
    assert started.wait(JOIN_TIMEOUT)
    assert lock.acquire(shared=False, timeout=0.05) is False
    assert not lock.is_owned()
    assert lock.acquire(shared=True, timeout=0.05) is True
    lock.release()

    # A blocking exclusive acquire goes through as soon as the holder leaves.
    waiter = _start(lambda: lock.acquire() and (lock.release() or True))
    _wait_for(lambda: _pending_count(lock) == 1)
    assert waiter.is_alive()
    stop.set()
    holder.finish()
    assert waiter.finish() is True
    assert waiter.error is None


def test_shared_lock_timeout_leaves_nothing_behind():
    lock = locking.SharedLock("l")
    assert lock.acquire()
    start = time.monotonic()
    result = _start(lock.acquire, timeout=0.1).finish()
    assert result is False
    assert 0.09 <= time.monotonic() - start < 2
    assert lock.info() == (locking.MODE_EXCLUSIVE, [threading.current_thread()], [])
    lock.release()
    assert lock.info() == (None, [], [])


def test_shared_lock_misuse():
    lock = locking.SharedLock("l")
    with pytest.raises(errors.LockError):
        lock.release()
    assert lock.acquire(shared=True)
    with pytest.raises(errors.LockError):
        lock.acquire(shared=True)
    with pytest.raises(errors.LockError):
        lock.acquire()
    lock.release()


def test_shared_lock_priority_order():
    lock = locking.SharedLock("l")
    order = []
    assert lock.acquire()

    def waiter(tag):
        assert lock.acquire(priority=tag[0])
        order.append(tag)
        lock.release()

    tags = [(10, "a"), (0, "b"), (-10, "c"), (0, "d"), (19, "e"), (-20, "f"), (0, "g")]
    workers = []
    for i, tag in enumerate(tags):
        workers.append(_start(waiter, tag))
        _wait_for(lambda n=i + 1: _pending_count(lock) == n)
    lock.release()
    for worker in workers:
        worker.finish()
        assert worker.error is None
    # By priority, FIFO within one priority.
    assert order == sorted(tags, key=lambda t: t[0])
    assert [t[1] for t in order] == ["f", "c", "b", "d", "g", "a", "e"]


def test_shared_lock_adjacent_shared_waiters_granted_together():
    lock = locking.SharedLock("l")
    assert lock.acquire()
    barrier = threading.Barrier(2, timeout=JOIN_TIMEOUT)
    events = []

    def shared_pair():
        assert lock.acquire(shared=True)
        barrier.wait()   # only passes if both shared waiters hold it together
        events.append("shared")
        lock.release()

    def exclusive():
        assert lock.acquire()
        events.append("exclusive")
        lock.release()

    workers = [_start(shared_pair, name="s1")]
    _wait_for(lambda: _pending_count(lock) == 1)
    workers.append(_start(shared_pair, name="s2"))
    _wait_for(lambda: _pending_count(lock) == 2)
    workers.append(_start(exclusive, name="x"))
    _wait_for(lambda: _pending_count(lock) == 3)
    pending = lock.info()[2]
    assert [mode for mode, _ in pending] == [locking.MODE_SHARED, locking.MODE_EXCLUSIVE]
    assert sorted(t.name for t in pending[0][1]) == ["s1", "s2"]
    lock.release()
    for worker in workers:
        worker.finish()
        assert worker.error is None
    assert events == ["shared", "shared", "exclusive"]


def test_shared_lock_exclusive_waiter_not_starved_by_shared():
    lock = locking.SharedLock("l")
    started, stop = threading.Event(), threading.Event()
    holder = _start(_hold, lock, started, stop, True)
    assert started.wait(JOIN_TIMEOUT)
    got = threading.Event()

    def exclusive():
        assert lock.acquire()
        got.set()
        lock.release()

    excl = _start(exclusive)
    _wait_for(lambda: _pending_count(lock) == 1)
    # The lock is held shared, but new shared requests queue behind the writer.
    assert lock.acquire(shared=True, timeout=0.05) is False
    assert _start(lock.acquire, shared=True, timeout=0.05).finish() is False
    # A more urgent shared request is served first, though.
    assert lock.acquire(shared=True, timeout=0.05, priority=-5) is True
    lock.release()
    assert not got.is_set()
    stop.set()
    holder.finish()
    excl.finish()
    assert got.is_set() and excl.error is None


def test_shared_lock_timed_out_head_lets_others_through():
    lock = locking.SharedLock("l")
    assert lock.acquire(shared=True)
    # An exclusive waiter times out; the shared waiter queued behind it must
    # then be granted without any release happening.
    excl = _start(lock.acquire, timeout=0.2)
    _wait_for(lambda: _pending_count(lock) == 1)
    shared = _start(lambda: lock.acquire(shared=True) and (lock.release() or True))
    _wait_for(lambda: _pending_count(lock) == 2)
    assert excl.finish() is False
    assert shared.finish() is True
    lock.release()
    assert lock.info() == (None, [], [])


def test_shared_lock_delete_wakes_waiters_with_error():
    lock = locking.SharedLock("l")
    assert lock.acquire()
    waiters = [_start(lock.acquire, shared=True), _start(lock.acquire, shared=True),
               _start(lock.acquire)]
    _wait_for(lambda: _pending_count(lock) == 3)
    assert lock.delete() is True
    for waiter in waiters:
        waiter.finish()
        assert isinstance(waiter.error, errors.LockError)
    assert not lock.is_owned()
    assert lock.is_deleted()
    with pytest.raises(errors.LockError):
        lock.acquire(timeout=0)
    with pytest.raises(errors.LockError):
        lock.delete()


def test_shared_lock_delete_timeout_and_blocking():
    lock = locking.SharedLock("l")
    started, stop = threading.Event(), threading.Event()
    holder = _start(_hold, lock, started, stop, True)
    assert started.wait(JOIN_TIMEOUT)
    assert lock.delete(timeout=0.05) is False
    assert not lock.is_deleted()
    deleter = _start(lock.delete)
    _wait_for(lambda: _pending_count(lock) == 1)
    stop.set()
    holder.finish()
    assert deleter.finish() is True
    assert lock.is_deleted()


def test_shared_lock_cannot_delete_while_shared():
    lock = locking.SharedLock("l")
    assert lock.acquire(shared=True)
    with pytest.raises(errors.LockError):
        lock.delete()
    lock.release()


# ---- LockSet -------------------------------------------------------------------------

def test_lockset_acquire_release():
    ls = locking.LockSet(["c", "a", "b"], "test")
    assert ls.names() == {"a", "b", "c"}
    assert ls.acquire(["b", "a"]) == {"a", "b"}
    assert ls.list_owned() == {"a", "b"}
    assert ls.is_owned() and not ls.owning_all()
    # Others can still get "c" but not "a".
    assert _start(ls.acquire, "c", timeout=0).finish() == {"c"}
    assert _start(ls.acquire, ["a"], timeout=0).finish() is None
    with pytest.raises(errors.LockError):
        ls.acquire("a")
    with pytest.raises(errors.LockError):
        ls.release(["c"])
    ls.release("a")
    assert ls.list_owned() == {"b"}
    ls.release()
    assert ls.list_owned() == set() and not ls.is_owned()


def test_lockset_unknown_name():
    ls = locking.LockSet(["a", "b"], "test")
    with pytest.raises(errors.LockError, match="nosuch"):
        ls.acquire(["a", "nosuch"])
    assert not ls.is_owned()
    assert ls.acquire("a", timeout=0) == {"a"}


def test_lockset_timeout_releases_partial():
    ls = locking.LockSet(["a", "b", "c"], "test")
    started, stop = threading.Event(), threading.Event()

    def hold_b():
        ls.acquire("b")
        started.set()
        stop.wait(JOIN_TIMEOUT)
        ls.release()

    holder = _start(hold_b)
    assert started.wait(JOIN_TIMEOUT)
    start = time.monotonic()
    assert ls.acquire(["a", "b", "c"], timeout=0.1) is None
    assert time.monotonic() - start < 2
    assert ls.list_owned() == set()
    # "a" was acquired and given back: another thread gets it immediately.
    assert _start(ls.acquire, "a", timeout=0).finish() == {"a"}
    assert ls.acquire(locking.ALL_SET, timeout=0.05) is None
    assert not ls.is_owned()
    stop.set()
    holder.finish()


def test_lockset_all_set_blocks_add_and_remove():
    ls = locking.LockSet(["a", "b"], "test")
    assert ls.acquire(locking.ALL_SET, shared=True) == {"a", "b"}
    assert ls.owning_all()
    assert ls.list_owned() == ls.names()
    # Other ALL_SET shared holders can join.
    assert _start(lambda: ls.acquire(locking.ALL_SET, shared=True, timeout=1)
                  and ls.release() is None).finish() is True

    added, removed = threading.Event(), threading.Event()

    def adder():
        ls.add("c")
        added.set()

    def remover():
        assert ls.remove("a") == ["a"]
        removed.set()

    add_thread, remove_thread = _start(adder), _start(remover)
    assert not added.wait(0.1)
    assert not removed.wait(0.01)
    assert ls.names() == {"a", "b"}
    ls.release()
    add_thread.finish()
    remove_thread.finish()
    assert add_thread.error is None and remove_thread.error is None
    assert ls.names() == {"b", "c"}
    got = ls.acquire(locking.ALL_SET)
    assert got == ls.names() == ls.list_owned() == {"b", "c"}
    ls.release()


def test_lockset_add_remove_rules():
    ls = locking.LockSet(["a"], "test")
    with pytest.raises(errors.LockError):
        ls.add("a")
    ls.add(["b", "c"], acquired=True)
    assert ls.list_owned() == {"b", "c"}
    assert _start(ls.acquire, "b", timeout=0).finish() is None
    # Removing what we own exclusively, ignoring unknown names.
    assert ls.remove(["b", "zzz"]) == ["b"]
    assert ls.list_owned() == {"c"}
    # Removing unowned locks while owning others could deadlock.
    with pytest.raises(errors.LockError):
        ls.remove("a")
    # Adding while owning members but not the whole set could deadlock too.
    with pytest.raises(errors.LockError):
        ls.add("d")
    ls.release()
    ls.add("d", acquired=True, shared=True)
    with pytest.raises(errors.LockError):
        ls.remove("d")
    ls.release()
    assert ls.remove("d") == ["d"]
    assert ls.names() == {"a", "c"}


def test_lockset_removed_while_waiting():
    ls = locking.LockSet(["a", "b", "c"], "test")
    assert ls.acquire("b")
    named = _start(ls.acquire, ["a", "b"])
    _wait_for(lambda: _pending_count(ls._locks["b"]) == 1)
    assert ls.remove("b") == ["b"]
    named.finish()
    assert isinstance(named.error, errors.LockError)
    assert "b" in str(named.error)
    # The failed call gave "a" back.
    assert ls.acquire("a", timeout=0) == {"a"}
    ls.release()

    assert ls.acquire("c")
    whole = _start(lambda: (ls.acquire(locking.ALL_SET), ls.list_owned(), ls.release()))
    _wait_for(lambda: _pending_count(ls._locks["c"]) == 1)
    assert ls.remove("c") == ["c"]
    result = whole.finish()
    assert whole.error is None
    assert result[0] == result[1] == {"a"}


def test_lockset_many_members_fast():
    names = ["inst%05d" % i for i in range(10000)]
    ls = locking.LockSet(names, "instance")
    start = time.monotonic()
    for i in range(2000):
        name = names[(i * 7919) % len(names)]
        assert ls.acquire(name, shared=bool(i % 2)) == {name}
        ls.release()
    assert time.monotonic() - start < 2.0
    assert ls.acquire(locking.ALL_SET, shared=True) == set(names)
    ls.release()


# ---- GanetiLockManager ---------------------------------------------------------------

def _glm():
    return locking.GanetiLockManager(nodes=["node1", "node2", "node3"],
                                     node_groups=["uuid-g1"],
                                     instances=["inst1", "inst2"],
                                     networks=["net1"])


def test_glm_levels_and_members():
    glm = _glm()
    assert locking.LEVELS == list(range(6))
    assert glm.names(locking.LEVEL_CLUSTER) == {locking.BGL}
    assert glm.names(locking.LEVEL_NODE_RES) == glm.names(locking.LEVEL_NODE)
    with pytest.raises(errors.ProgrammerError):
        glm.acquire(17, ["x"])


def test_glm_bgl_required():
    glm = _glm()
    for level in locking.LEVELS[1:]:
        with pytest.raises(errors.LockError, match="BGL"):
            glm.acquire(level, locking.ALL_SET)
    assert not any(glm.is_owned(level) for level in locking.LEVELS)
    assert glm.acquire(locking.LEVEL_CLUSTER, [locking.BGL], shared=True) == {locking.BGL}
    assert glm.acquire(locking.LEVEL_INSTANCE, ["inst1"]) == {"inst1"}
    with pytest.raises(errors.LockError):
        glm.release(locking.LEVEL_CLUSTER)
    glm.release_all()
    assert not any(glm.is_owned(level) for level in locking.LEVELS)


def test_glm_level_order():
    glm = _glm()
    glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
    glm.acquire(locking.LEVEL_NODE, ["node1"])
    with pytest.raises(errors.LockError,
                       match="Cannot acquire locks at level instance while holding"
                             " level node"):
        glm.acquire(locking.LEVEL_INSTANCE, ["inst1"])
    with pytest.raises(errors.LockError):
        glm.acquire(locking.LEVEL_CLUSTER, locking.BGL)
    # Same level again (other names) and a higher level are fine.
    assert glm.acquire(locking.LEVEL_NODE, ["node2"]) == {"node2"}
    assert glm.acquire(locking.LEVEL_NODE_RES, locking.ALL_SET, shared=True) == \
        {"node1", "node2", "node3"}
    with pytest.raises(errors.LockError):
        glm.acquire(locking.LEVEL_NODE, ["node1"])   # re-acquire
    assert glm.list_owned(locking.LEVEL_NODE) == {"node1", "node2"}
    assert glm.owning_all(locking.LEVEL_NODE_RES)
    assert not glm.owning_all(locking.LEVEL_NODE)
    glm.release(locking.LEVEL_NODE_RES)
    glm.release(locking.LEVEL_NODE, ["node2"])
    assert glm.list_owned(locking.LEVEL_NODE) == {"node1"}
    glm.release_all()
    assert glm.list_owned(locking.LEVEL_NODE) == set()
    assert glm.list_owned(locking.LEVEL_CLUSTER) == set()


def test_glm_timeout_returns_none():
    glm = _glm()
    started, stop = threading.Event(), threading.Event()

    def holder():
        glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
        glm.acquire(locking.LEVEL_INSTANCE, ["inst2"])
        started.set()
        stop.wait(JOIN_TIMEOUT)
        glm.release_all()

    worker = _start(holder)
    assert started.wait(JOIN_TIMEOUT)
    glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
    assert glm.acquire(locking.LEVEL_INSTANCE, ["inst1", "inst2"], timeout=0.05) is None
    assert not glm.is_owned(locking.LEVEL_INSTANCE)
    with pytest.raises(errors.LockError):
        glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, timeout=0)   # re-acquire
    assert _start(glm.acquire, locking.LEVEL_CLUSTER, locking.BGL,
                  timeout=0.05).finish() is None
    stop.set()
    worker.finish()
    assert worker.error is None
    glm.release_all()


def test_glm_add_remove():
    glm = _glm()
    with pytest.raises(errors.LockError):
        glm.add(locking.LEVEL_INSTANCE, "inst3")    # no BGL
    glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
    with pytest.raises(errors.LockError):
        glm.add(locking.LEVEL_CLUSTER, "BGL2")
    glm.add(locking.LEVEL_INSTANCE, "inst3", acquired=True)
    assert glm.list_owned(locking.LEVEL_INSTANCE) == {"inst3"}
    glm.acquire(locking.LEVEL_NODE, ["node1"])
    with pytest.raises(errors.LockError):
        glm.add(locking.LEVEL_INSTANCE, "inst4")    # level order
    assert glm.remove(locking.LEVEL_INSTANCE, "inst3") == ["inst3"]   # owned
    with pytest.raises(errors.LockError):
        glm.remove(locking.LEVEL_INSTANCE, "inst1")  # unowned, level order
    glm.release_all()
    # With the BGL held exclusively nobody else can hold anything.
    glm.acquire(locking.LEVEL_CLUSTER, locking.BGL)
    glm.acquire(locking.LEVEL_NODE, ["node1"])
    glm.add(locking.LEVEL_INSTANCE, ["inst4"])
    assert glm.remove(locking.LEVEL_INSTANCE, ["inst1"]) == ["inst1"]
    glm.add(locking.LEVEL_NODE, "node4")
    assert glm.names(locking.LEVEL_INSTANCE) == {"inst2", "inst4"}
    assert glm.names(locking.LEVEL_NODE) == {"node1", "node2", "node3", "node4"}
    glm.release_all()


def test_glm_query_locks():
    glm = _glm()
    started, stop = threading.Event(), threading.Event()

    def job():
        glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
        glm.acquire(locking.LEVEL_INSTANCE, ["inst1"])
        glm.acquire(locking.LEVEL_NODE, locking.ALL_SET, shared=True)
        started.set()
        stop.wait(JOIN_TIMEOUT)
        glm.release_all()

    holder = _start(job, job_id=17)
    assert started.wait(JOIN_TIMEOUT)
    glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)

    def waiting_job():
        glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
        glm.acquire(locking.LEVEL_INSTANCE, ["inst1"], shared=True)
        glm.release_all()

    waiter = _start(waiting_job, job_id=18)
    rows = {}

    def inst1_pending():
        rows.clear()
        rows.update((row[0], row) for row in glm.query_locks())
        return rows["instance/inst1"][3]

    _wait_for(inst1_pending)

    for row in rows.values():
        assert len(row) == 6
        name, mode, owners, pending, owner_secs, pending_secs = row
        assert isinstance(name, str)
        assert mode in (None, "shared", "exclusive")
        assert owners == sorted(owners)
        assert isinstance(pending, list)
        # the seconds held and waited, in the order of the names
        assert len(owner_secs) == len(owners) and all(s >= 0 for s in owner_secs)
        assert [[m, len(secs)] for m, secs in pending_secs] == \
            [[m, len(names)] for m, names in pending]
    me = threading.current_thread().name
    assert rows["BGL"][1:4] == ["shared", sorted(["17", "18", me]), []]
    assert rows["instance/inst1"][1:4] == ["exclusive", ["17"], [["shared", ["18"]]]]
    assert rows["instance/inst2"][1:] == [None, [], [], [], []]
    assert rows["nodegroup/uuid-g1"][1:4] == [None, [], []]
    for node in ("node1", "node2", "node3"):
        assert rows["node/" + node][1:4] == ["shared", ["17"], []]
        assert rows["node-res/" + node][1] is None
    assert rows["node/[lockset]"][1:4] == ["shared", ["17"], []]
    assert "network/net1" in rows
    names = [row[0] for row in glm.query_locks()]
    assert names[0] == "BGL"
    stop.set()
    holder.finish()
    waiter.finish()
    assert holder.error is None and waiter.error is None
    glm.release_all()
    assert all(row[1] is None for row in glm.query_locks())


def _glm_job(glm, started, stop, *levels):
    """As a job's thread: the BGL (shared), then ``levels`` [(level, names)],
    ``started`` set; all released once ``stop`` is."""
    glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
    for level, names in levels:
        glm.acquire(level, names)
    started.set()
    stop.wait(JOIN_TIMEOUT)
    glm.release_all()


def test_glm_lock_holders_say_who_holds_and_waits_since_when():
    glm = _glm()
    started, stop = threading.Event(), threading.Event()

    def waiting_job():
        glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
        # as mcpu does: attempts that time out, one wait from the first on
        since = time.monotonic() - 5.0
        while glm.acquire(locking.LEVEL_NODE, ["node1"], timeout=0.05,
                          waiting_since=since) is None:
            pass
        glm.release_all()

    before = time.time()
    holder = _start(_glm_job, glm, started, stop, (locking.LEVEL_NODE, ["node1"]), job_id=21)
    assert started.wait(JOIN_TIMEOUT)
    waiter = _start(waiting_job, job_id=22, name="worker-22")

    def node1_entries():
        return [e for e in glm.lock_holders() if e["lock"] == "node/node1"]

    _wait_for(lambda: len(node1_entries()) == 2)
    time.sleep(0.1)
    held, waiting = node1_entries()
    assert (held["state"], held["mode"], held["owner"], held["job_id"]) == \
        ("held", "exclusive", "21", 21)
    assert (waiting["state"], waiting["mode"], waiting["owner"], waiting["job_id"]) == \
        ("waiting", "exclusive", "22", 22)
    assert 0.1 <= held["seconds"] < 5.0
    assert before - 0.01 <= held["since"] <= time.time()
    # the wait counts from the first attempt, not from the last retry
    assert waiting["seconds"] >= 5.0
    assert abs(waiting["since"] + waiting["seconds"] - time.time()) < 1.0
    # only locks in use are listed; the BGL is shared by both jobs
    bgl = [e for e in glm.lock_holders() if e["lock"] == "BGL"]
    assert sorted(e["owner"] for e in bgl) == ["21", "22"]
    assert all(e["state"] == "held" and e["mode"] == "shared" for e in bgl)
    assert set(e["lock"] for e in glm.lock_holders()) == {"BGL", "node/node1"}
    # the same durations in the query rows (gnt-debug locks -o owner_time,...)
    row = [r for r in glm.query_locks() if r[0] == "node/node1"][0]
    assert row[2] == ["21"] and row[3] == [["exclusive", ["22"]]]
    assert row[4][0] >= 0.1 and row[5][0][0] == "exclusive" and row[5][0][1][0] >= 5.0
    stop.set()
    holder.finish()
    waiter.finish()
    assert holder.error is None and waiter.error is None
    assert glm.lock_holders() == []
    # the waits were counted, per level, with their time
    waits = glm.wait_stats.snapshot()
    assert waits["node"][0] >= 1 and waits["node"][1] >= 0.1
    assert "cluster" not in waits


def test_lock_owners_keep_their_times_through_shared_grants():
    lock = locking.SharedLock("node/x")
    started, stop = threading.Event(), threading.Event()
    holder = _start(_hold, lock, started, stop, False)
    assert started.wait(JOIN_TIMEOUT)
    readers = [_start(lock.acquire, shared=True) for _ in range(2)]
    _wait_for(lambda: _pending_count(lock) == 2)
    mode, owners, pending = lock.details()
    assert mode == "exclusive" and len(owners) == 1
    assert [m for m, _ in pending] == ["shared"] and len(pending[0][1]) == 2
    stop.set()
    holder.finish()
    for reader in readers:
        assert reader.finish() is True
    mode, owners, pending = lock.details()
    assert mode == "shared" and len(owners) == 2 and pending == []
    assert all(since <= time.monotonic() for _, since in owners)


# ---- stress --------------------------------------------------------------------------

def test_stress_no_deadlock_no_overlap():
    nodes = ["node%d" % i for i in range(6)]
    instances = ["inst%d" % i for i in range(8)]
    groups = ["g1", "g2"]
    networks = ["net1", "net2"]
    glm = locking.GanetiLockManager(nodes=nodes, node_groups=groups,
                                    instances=instances, networks=networks)
    members = {
        locking.LEVEL_INSTANCE: instances,
        locking.LEVEL_NODEGROUP: groups,
        locking.LEVEL_NODE: nodes,
        locking.LEVEL_NODE_RES: nodes,
        locking.LEVEL_NETWORK: networks,
    }
    state_lock = threading.Lock()
    exclusive = {}   # (level, name) -> number of exclusive holders
    shared = {}      # (level, name) -> number of shared holders
    violations = []
    stats = {"acquired": 0, "timeouts": 0}

    def note_acquired(level, names, is_shared):
        with state_lock:
            for name in names:
                key = (level, name)
                if is_shared:
                    shared[key] = shared.get(key, 0) + 1
                    if exclusive.get(key):
                        violations.append(("shared while exclusive", key))
                else:
                    exclusive[key] = exclusive.get(key, 0) + 1
                    if exclusive[key] > 1 or shared.get(key):
                        violations.append(("exclusive overlap", key))
            stats["acquired"] += len(names)

    def note_released(held):
        with state_lock:
            for level, names, is_shared in held:
                for name in names:
                    counter = shared if is_shared else exclusive
                    counter[(level, name)] -= 1

    def worker(seed):
        try:
            run_worker(seed)
        finally:
            # On a failure, let the other threads finish instead of hanging.
            glm.release_all()

    def run_worker(seed):
        rnd = random.Random(seed)
        for iteration in range(300):
            held = []
            bgl_shared = rnd.random() < 0.95
            timeout = rnd.choice([None, None, 0.5, 0.01])
            got = glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=bgl_shared,
                              timeout=timeout, priority=rnd.randint(-20, 19))
            if got is None:
                with state_lock:
                    stats["timeouts"] += 1
                continue
            note_acquired(locking.LEVEL_CLUSTER, got, bgl_shared)
            held.append((locking.LEVEL_CLUSTER, got, bgl_shared))
            if rnd.random() < 0.05:
                # Create a short-lived instance lock: other threads' ALL_SET
                # acquisitions race with its addition and removal.
                name = "tmp-%d-%d" % (seed, iteration)
                glm.add(locking.LEVEL_INSTANCE, name, acquired=True)
                note_acquired(locking.LEVEL_INSTANCE, [name], False)
                note_released([(locking.LEVEL_INSTANCE, [name], False)])
                assert glm.remove(locking.LEVEL_INSTANCE, name) == [name]
                assert not glm.is_owned(locking.LEVEL_INSTANCE)
            for level in locking.LEVELS[1:]:
                if rnd.random() < 0.5:
                    continue
                is_shared = rnd.random() < 0.4
                if rnd.random() < 0.1:
                    names = locking.ALL_SET
                else:
                    names = rnd.sample(members[level],
                                       rnd.randint(1, min(3, len(members[level]))))
                got = glm.acquire(level, names, shared=is_shared,
                                  timeout=rnd.choice([None, 0.2, 0.001]),
                                  priority=rnd.randint(-20, 19))
                if got is None:
                    with state_lock:
                        stats["timeouts"] += 1
                    assert not glm.is_owned(level)
                    continue
                note_acquired(level, got, is_shared)
                held.append((level, got, is_shared))
            if rnd.random() < 0.3:
                time.sleep(0.0005)
            note_released(held)
            glm.release_all()
            assert not any(glm.is_owned(level) for level in locking.LEVELS)

    workers = [_Worker(worker, seed, job_id=seed) for seed in range(20)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join(max(0.1, 20.0 - (time.monotonic() - start)))
    assert not any(w.is_alive() for w in workers), "deadlock: threads still running"
    for w in workers:
        assert w.error is None, repr(w.error)
    assert violations == []
    assert stats["acquired"] > 1000
    assert all(v == 0 for v in exclusive.values())
    assert all(v == 0 for v in shared.values())
    # Nothing is left held or queued.
    for name, mode, owners, pending, _, _ in glm.query_locks():
        assert (mode, owners, pending) == (None, [], []), name


def test_interrupt_wait_ends_a_wait_as_a_timeout():
    """A canceled job's thread stops waiting at once (GanetiLockManager.interrupt_wait),
    holds nothing afterwards, and the other waiters and owners are unaffected."""
    glm = locking.GanetiLockManager(nodes=["n1", "n2"])
    glm.acquire(locking.LEVEL_CLUSTER, [locking.BGL], shared=True)
    glm.acquire(locking.LEVEL_NODE, ["n2"])                  # the holder: this thread
    result = {}

    def waiter():
        glm.acquire(locking.LEVEL_CLUSTER, [locking.BGL], shared=True)
        start = time.monotonic()
        result["got"] = glm.acquire(locking.LEVEL_NODE, ["n1", "n2"], timeout=30)
        result["took"] = time.monotonic() - start
        result["owned"] = glm.list_owned(locking.LEVEL_NODE)
        glm.release_all()

    thread = threading.Thread(target=waiter)
    thread.start()
    deadline = time.monotonic() + 5
    while not any(row[3] for row in glm.query_locks() if row[0] == "node/n2"):
        assert time.monotonic() < deadline, "the thread never waited for node/n2"
        time.sleep(0.01)
    glm.interrupt_wait(thread)
    thread.join(5)
    assert not thread.is_alive()
    assert result["got"] is None and result["took"] < 5
    assert not result["owned"]                          # n1 was given back
    # the flag stays until the queue clears it: a new wait ends at once too
    assert getattr(thread, locking.INTERRUPTED) is True
    assert set(glm.list_owned(locking.LEVEL_NODE)) == {"n2"}
    glm.release_all()
