"""The master daemon's lock manager.

Three layers:

* ``SharedLock``: one lock that threads own either shared or exclusively.
  Waiters queue by priority (lower number first) and FIFO within a priority;
  the lock is handed over directly to the head of the queue on release, so a
  stream of shared acquirers can never overtake a waiting exclusive one.
* ``LockSet``: the named locks of one level plus an internal set-level lock
  that is taken when a caller asks for every member (``ALL_SET``), so that the
  membership cannot change under it.
* ``GanetiLockManager``: one ``LockSet`` per level, enforcing the order in
  which levels are acquired (Big Ganeti Lock first, then increasing level
  numbers), which together with sorted acquisition inside a level keeps
  threads from deadlocking against each other.

The owner of a lock is always the thread that acquired it. Every lock
remembers since when (``time.monotonic()``) each owner has held it and each
waiter has waited for it, for ``gnt-debug locks``, ``/2/locks`` and the
metrics (``GanetiLockManager.lock_holders``); ``LockWaitStats`` counts the
waits per level.
"""

import collections
import threading
import time

from ganeti import errors

LEVEL_CLUSTER = 0
LEVEL_INSTANCE = 1
LEVEL_NODEGROUP = 2
LEVEL_NODE = 3
LEVEL_NODE_RES = 4
LEVEL_NETWORK = 5

LEVELS = [
    LEVEL_CLUSTER,
    LEVEL_INSTANCE,
    LEVEL_NODEGROUP,
    LEVEL_NODE,
    LEVEL_NODE_RES,
    LEVEL_NETWORK,
]

LEVEL_NAMES = {
    LEVEL_CLUSTER: "cluster",
    LEVEL_INSTANCE: "instance",
    LEVEL_NODEGROUP: "nodegroup",
    LEVEL_NODE: "node",
    LEVEL_NODE_RES: "node-res",
    LEVEL_NETWORK: "network",
}

# The Big Ganeti Lock: the only member of the cluster level.
BGL = "BGL"

# Pass as ``names`` to acquire every member of a level.
ALL_SET = None

MODE_EXCLUSIVE = "exclusive"
MODE_SHARED = "shared"

# Name of the set-level lock of a LockSet as shown by query_locks.
_SET_LOCK_NAME = "[lockset]"

# Priority of the acquire done by SharedLock.delete: ahead of every job, as
# whoever would get the lock before the deletion would only find it gone.
_DELETE_PRIORITY = -1000


# the attribute of a waiting thread that ends its lock waits (interrupt_wait)
INTERRUPTED = "lock_wait_interrupted"


def _deadline(timeout):
    """Absolute monotonic deadline for ``timeout`` seconds (None: never)."""
    if timeout is None:
        return None
    return time.monotonic() + max(timeout, 0.0)


def _remaining(deadline):
    """Seconds left until ``deadline`` (None: unbounded), never negative."""
    if deadline is None:
        return None
    return max(deadline - time.monotonic(), 0.0)


def owner_name(thread):
    """Name of a lock owner for display: its job id if it runs a job (the job
    queue's workers set ``thread.job_id`` while they run an opcode)."""
    job_id = getattr(thread, "job_id", None)
    if job_id is not None:
        return str(job_id)
    return thread.name


class LockWaitStats:
    """How many times threads queued for a lock of each level, and how long
    they waited in all (granted or timed out), since the start."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waits = {}            # level name -> [count, seconds]

    def record(self, level, seconds):
        with self._lock:
            entry = self._waits.get(level)
            if entry is None:
                entry = self._waits[level] = [0, 0.0]
            entry[0] += 1
            entry[1] += seconds

    def snapshot(self):
        """{level name: [waits, seconds waited]}."""
        with self._lock:
            return dict((level, list(entry)) for level, entry in self._waits.items())


class _WaitGroup:
    """Threads waiting together for one grant of a SharedLock.

    An exclusive group has one thread; a shared group collects the shared
    requests that queued back to back at the same priority, and all of them
    are granted at once.
    """

    __slots__ = ("shared", "priority", "threads", "cond", "granted")

    def __init__(self, shared, priority, mutex):
        self.shared = shared
        self.priority = priority
        self.threads = {}           # thread -> since when it waits (monotonic)
        self.cond = threading.Condition(mutex)
        self.granted = False


class SharedLock:
    """A lock held either by several threads in shared mode or by one thread."""

    def __init__(self, name, wait_stats=None):
        self.name = name
        self._mutex = threading.Lock()
        self._exclusive_owner = None
        self._exclusive_since = None
        self._shared_owners = {}    # thread -> since when it owns the lock (monotonic)
        # priority -> deque of _WaitGroup, FIFO; empty deques are dropped
        self._queues = {}
        self._deleted = False
        self._wait_stats = wait_stats
        self._level = name.split("/", 1)[0]

    def __repr__(self):
        return "<SharedLock %s>" % self.name

    # -- helpers, all called with self._mutex held --------------------------------

    def _owned_by(self, thread, shared=None):
        if shared is None or not shared:
            if self._exclusive_owner is thread:
                return True
        if shared is None or shared:
            return thread in self._shared_owners
        return False

    def _compatible(self, shared):
        """Whether a request in this mode could be granted right now."""
        if self._exclusive_owner is not None:
            return False
        return shared or not self._shared_owners

    def _unqueue(self, group):
        queue = self._queues.get(group.priority)
        if queue is None:
            return
        try:
            queue.remove(group)
        except ValueError:
            return
        if not queue:
            del self._queues[group.priority]

    def _leave_queue(self, group, thread):
        """Take a waiting thread out of the queue (timeout or error)."""
        group.threads.pop(thread, None)
        if not group.threads:
            self._unqueue(group)
            # The head may have changed; let the next waiters through.
            self._grant_waiters()

    def _drop_owner(self, thread):
        """Remove ``thread`` from the owners and pass the lock on."""
        if self._exclusive_owner is thread:
            self._exclusive_owner = None
        else:
            self._shared_owners.pop(thread, None)
        self._grant_waiters()

    def _grant_waiters(self):
        """Hand the lock to waiting groups from the head while compatible."""
        while self._queues:
            prio = min(self._queues)
            queue = self._queues[prio]
            group = queue[0]
            if not self._compatible(group.shared):
                return
            queue.popleft()
            if not queue:
                del self._queues[prio]
            now = time.monotonic()
            if group.shared:
                self._shared_owners.update(dict.fromkeys(group.threads, now))
            else:
                (self._exclusive_owner,) = group.threads
                self._exclusive_since = now
            group.granted = True
            group.cond.notify_all()
            if not group.shared:
                return

    def _enqueue(self, thread, shared, priority, since):
        """Queue ``thread``, joining an adjacent shared group if possible."""
        queue = self._queues.get(priority)
        if queue is None:
            queue = self._queues[priority] = collections.deque()
        if shared and queue and queue[-1].shared:
            group = queue[-1]
        else:
            group = _WaitGroup(shared, priority, self._mutex)
            queue.append(group)
        group.threads[thread] = since
        return group

    # -- public interface ------------------------------------------------------------

    def is_owned(self, shared=None):
        """Whether the current thread owns the lock (in the given mode)."""
        with self._mutex:
            return self._owned_by(threading.current_thread(), shared)

    def acquire(self, shared=False, timeout=None, priority=0, waiting_since=None):
        """Acquire the lock; False if ``timeout`` seconds passed first.

        ``waiting_since`` (time.monotonic()): the caller has been trying to get
        the lock since then (earlier attempts timed out), shown as the start
        of its wait. Raises errors.LockError if the lock is (or gets) deleted,
        or if the current thread already owns it.
        """
        shared = bool(shared)
        thread = threading.current_thread()
        deadline = _deadline(timeout)
        with self._mutex:
            if self._deleted:
                raise errors.LockError("Lock %s has been deleted" % self.name)
            if self._owned_by(thread):
                raise errors.LockError("Lock %s is already owned by this thread"
                                       % self.name)
            # Fast path: nobody at least as urgent is waiting and the mode fits.
            if self._compatible(shared) and (not self._queues
                                             or min(self._queues) > priority):
                if shared:
                    self._shared_owners[thread] = time.monotonic()
                else:
                    self._exclusive_owner = thread
                    self._exclusive_since = time.monotonic()
                return True
            start = time.monotonic()
            group = self._enqueue(thread, shared, priority,
                                  start if waiting_since is None
                                  else min(start, waiting_since))
            try:
                while not group.granted:
                    if self._deleted:
                        raise errors.LockError("Lock %s has been deleted"
                                               % self.name)
                    remaining = _remaining(deadline)
                    # a canceled job's thread stops waiting as if timed out (wake())
                    if remaining == 0.0 or getattr(thread, INTERRUPTED, False):
                        self._leave_queue(group, thread)
                        return False
                    group.cond.wait(remaining)
            except BaseException:
                # E.g. KeyboardInterrupt while waiting: leave no trace behind.
                if group.granted:
                    self._drop_owner(thread)
                elif not self._deleted:
                    self._leave_queue(group, thread)
                raise
            finally:
                if self._wait_stats is not None:
                    self._wait_stats.record(self._level, time.monotonic() - start)
            return True

    def wake(self, thread):
        """Make ``thread`` look at its INTERRUPTED flag if it waits for this lock."""
        with self._mutex:
            for queue in self._queues.values():
                for group in queue:
                    if thread in group.threads:
                        group.cond.notify_all()

    def release(self):
        """Release the lock held by the current thread, whatever its mode."""
        thread = threading.current_thread()
        with self._mutex:
            if not self._owned_by(thread):
                raise errors.LockError("Lock %s is not owned by this thread"
                                       % self.name)
            self._drop_owner(thread)

    def delete(self, timeout=None):
        """Acquire exclusively and mark deleted; False on timeout.

        The caller does not own the lock afterwards; every waiter and every
        later acquire gets errors.LockError.
        """
        thread = threading.current_thread()
        with self._mutex:
            if self._owned_by(thread, shared=True):
                raise errors.LockError("Cannot delete lock %s owned in shared mode"
                                       % self.name)
            owned = self._exclusive_owner is thread
        if not owned and not self.acquire(shared=False, timeout=timeout,
                                          priority=_DELETE_PRIORITY):
            return False
        with self._mutex:
            self._deleted = True
            self._exclusive_owner = None
            for queue in self._queues.values():
                for group in queue:
                    group.cond.notify_all()
            self._queues.clear()
        return True

    def is_deleted(self):
        """Whether the lock has been deleted."""
        with self._mutex:
            return self._deleted

    def info(self):
        """(mode, owner threads, [(mode, waiting threads), ...]) for queries."""
        mode, owners, pending = self.details()
        return (mode, [thread for thread, _ in owners],
                [(pmode, [thread for thread, _ in waiters]) for pmode, waiters in pending])

    def details(self):
        """info() with times: (mode, [(owner, since)], [(mode, [(waiter, since)]),
        ...]); ``since`` (time.monotonic()) is when the owner got the lock or
        the waiter began to wait for it."""
        with self._mutex:
            if self._exclusive_owner is not None:
                mode = MODE_EXCLUSIVE
                owners = [(self._exclusive_owner, self._exclusive_since)]
            elif self._shared_owners:
                mode = MODE_SHARED
                owners = list(self._shared_owners.items())
            else:
                mode = None
                owners = []
            pending = []
            for prio in sorted(self._queues):
                for group in self._queues[prio]:
                    pending.append((MODE_SHARED if group.shared else MODE_EXCLUSIVE,
                                    list(group.threads.items())))
            return mode, owners, pending


def _as_name_list(names):
    """Turn a single name or an iterable of names into a sorted unique list."""
    if isinstance(names, str):
        return [names]
    return sorted(set(names))


class LockSet:
    """The named locks of one level, acquired together in sorted order."""

    def __init__(self, members, name, wait_stats=None):
        self.name = name
        self._mutex = threading.Lock()
        self._wait_stats = wait_stats
        self._locks = {}
        for member in _as_name_list(members):
            self._locks[member] = SharedLock("%s/%s" % (name, member), wait_stats)
        # Held (in the caller's mode) by ALL_SET owners, exclusively by add().
        self._set_lock = SharedLock("%s/%s" % (name, _SET_LOCK_NAME), wait_stats)
        self._owned = threading.local()

    def __repr__(self):
        return "<LockSet %s>" % self.name

    def _owned_locks(self):
        """The current thread's owned members, {name: SharedLock} (mutable)."""
        owned = getattr(self._owned, "locks", None)
        if owned is None:
            owned = self._owned.locks = {}
        return owned

    def _owns_whole_set(self, shared=None):
        """Whether the current thread owns the set-level lock (in that mode)."""
        return self._set_lock.is_owned(shared=shared)

    def _owns_member(self, name, shared=None):
        """Whether the current thread owns member ``name`` (in that mode)."""
        lock = self._owned_locks().get(name)
        return lock is not None and lock.is_owned(shared=shared)

    def names(self):
        """The current member names."""
        with self._mutex:
            return set(self._locks)

    def list_owned(self):
        """Names of the members owned by the current thread."""
        return set(self._owned_locks())

    def is_owned(self):
        """Whether the current thread owns any member (or the whole set)."""
        return bool(self._owned_locks()) or self._set_lock.is_owned()

    def owning_all(self):
        """Whether the current thread acquired the whole set (ALL_SET)."""
        return self._set_lock.is_owned()

    def acquire(self, names, shared=False, timeout=None, priority=0, waiting_since=None):
        """Acquire ``names`` (or ALL_SET) in sorted order.

        Returns the set of names acquired, or None when the timeout expired
        (then nothing from this call is held). ``waiting_since``: see
        SharedLock.acquire.
        """
        deadline = _deadline(timeout)
        owned = self._owned_locks()
        if self._set_lock.is_owned():
            raise errors.LockError("Lock set %s is already owned as a whole"
                                   % self.name)
        if names is ALL_SET:
            if owned:
                raise errors.LockError("Cannot acquire all of %s while owning some"
                                       " of its locks (%s)"
                                       % (self.name, ", ".join(sorted(owned))))
            if not self._set_lock.acquire(shared=shared, timeout=_remaining(deadline),
                                          priority=priority, waiting_since=waiting_since):
                return None
            try:
                with self._mutex:
                    wanted = sorted(self._locks.items())
                got = self._acquire_locks(wanted, shared, deadline, priority,
                                          True, waiting_since)
            except BaseException:
                self._set_lock.release()
                raise
            if got is None:
                self._set_lock.release()
            return got

        wanted_names = _as_name_list(names)
        again = owned.keys() & set(wanted_names)
        if again:
            raise errors.LockError("Locks already owned in %s: %s"
                                   % (self.name, ", ".join(sorted(again))))
        with self._mutex:
            missing = [name for name in wanted_names if name not in self._locks]
            if missing:
                raise errors.LockError("Unknown %s lock(s): %s"
                                       % (self.name, ", ".join(missing)))
            wanted = [(name, self._locks[name]) for name in wanted_names]
        return self._acquire_locks(wanted, shared, deadline, priority, False,
                                   waiting_since)

    def _acquire_locks(self, wanted, shared, deadline, priority, skip_deleted,
                       waiting_since):
        """Acquire the (name, lock) pairs in order; undo everything on failure."""
        owned = self._owned_locks()
        got = []
        try:
            for name, lock in wanted:
                try:
                    ok = lock.acquire(shared=shared, timeout=_remaining(deadline),
                                      priority=priority, waiting_since=waiting_since)
                except errors.LockError:
                    if skip_deleted and lock.is_deleted():
                        continue  # removed while we waited: no longer a member
                    raise errors.LockError("Lock %s/%s was removed while waiting"
                                           " for it" % (self.name, name))
                if not ok:
                    for _, held in reversed(got):
                        held.release()
                    return None
                got.append((name, lock))
        except BaseException:
            for _, held in reversed(got):
                held.release()
            raise
        owned.update(got)
        return set(name for name, _ in got)

    def wake(self, thread):
        with self._mutex:
            locks = list(self._locks.values())
        for lock in [self._set_lock] + locks:
            lock.wake(thread)

    def release(self, names=None):
        """Release ``names`` (None: everything owned in this set).

        Releasing part of the set also gives up the whole-set ownership.
        """
        owned = self._owned_locks()
        if names is None:
            to_release = sorted(owned)
        else:
            to_release = _as_name_list(names)
            not_owned = set(to_release) - owned.keys()
            if not_owned:
                raise errors.LockError("Cannot release unowned %s lock(s): %s"
                                       % (self.name, ", ".join(sorted(not_owned))))
        if self._set_lock.is_owned():
            self._set_lock.release()
        for name in to_release:
            owned.pop(name).release()

    def add(self, names, acquired=False, shared=False, _check=True):
        """Add new members, optionally acquiring them right away.

        Waits while another thread owns the whole set. Adding a name that
        exists already is an errors.LockError.
        """
        new_names = _as_name_list(names)
        release_set_lock = False
        if self._set_lock.is_owned(shared=True):
            raise errors.LockError("Cannot add to %s while owning it in shared mode"
                                   % self.name)
        if not self._set_lock.is_owned(shared=False):
            if _check and self._owned_locks():
                # Another thread may hold the set lock and wait for our locks.
                raise errors.LockError("Cannot add to %s while owning some of its"
                                       " locks but not the whole set" % self.name)
            self._set_lock.acquire(shared=False)
            release_set_lock = True
        try:
            with self._mutex:
                existing = [name for name in new_names if name in self._locks]
                if existing:
                    raise errors.LockError("Lock(s) already exist in %s: %s"
                                           % (self.name, ", ".join(existing)))
                for name in new_names:
                    lock = SharedLock("%s/%s" % (self.name, name), self._wait_stats)
                    if acquired:
                        # Not visible to anyone else yet, so this cannot block.
                        lock.acquire(shared=shared)
                        self._owned_locks()[name] = lock
                    self._locks[name] = lock
        finally:
            if release_set_lock:
                self._set_lock.release()

    def remove(self, names, _check=True):
        """Delete members; returns the names this call removed.

        Owned members must be owned exclusively; members not owned are first
        acquired exclusively, which is only allowed when the thread owns
        nothing else in this set. Unknown names are ignored.
        """
        wanted = _as_name_list(names)
        owned = self._owned_locks()
        shared_owned = [name for name in wanted
                        if self._owns_member(name, shared=True)]
        if shared_owned:
            raise errors.LockError("Cannot remove %s lock(s) owned in shared mode:"
                                   " %s" % (self.name, ", ".join(shared_owned)))
        with self._mutex:
            to_get = [name for name in wanted
                      if name in self._locks and name not in owned]
        if _check and to_get and self.is_owned():
            raise errors.LockError("Cannot remove unowned %s lock(s) %s while owning"
                                   " other locks of the set"
                                   % (self.name, ", ".join(to_get)))
        removed = []
        for name in wanted:
            with self._mutex:
                lock = self._locks.get(name)
            if lock is None:
                continue
            try:
                lock.delete()
            except errors.LockError:
                if name in owned:
                    raise
                continue  # deleted by someone else meanwhile
            with self._mutex:
                if self._locks.get(name) is lock:
                    del self._locks[name]
            owned.pop(name, None)
            removed.append(name)
        return removed

    def lock_info(self):
        """[(member name, SharedLock.details()), ...] sorted by name."""
        with self._mutex:
            items = sorted(self._locks.items())
        return [(name, lock.details()) for name, lock in items]

    def set_lock_info(self):
        """SharedLock.details() of the set-level lock."""
        return self._set_lock.details()


def _named_times(threads_since, now):
    """[(owner name, seconds since), ...] sorted by name."""
    return sorted((owner_name(thread), round(max(now - since, 0.0), 3))
                  for thread, since in threads_since)


def _check_level(level):
    if level not in LEVEL_NAMES:
        raise errors.ProgrammerError("Invalid lock level %r" % (level,))


class GanetiLockManager:
    """All lock levels of the cluster, acquired in level order."""

    def __init__(self, nodes=(), node_groups=(), instances=(), networks=()):
        self.wait_stats = stats = LockWaitStats()
        members = {LEVEL_CLUSTER: [BGL], LEVEL_INSTANCE: instances,
                   LEVEL_NODEGROUP: node_groups, LEVEL_NODE: nodes, LEVEL_NODE_RES: nodes,
                   LEVEL_NETWORK: networks}
        self._sets = dict((level, LockSet(members[level], LEVEL_NAMES[level], stats))
                          for level in LEVELS)

    def _set(self, level):
        _check_level(level)
        return self._sets[level]

    def _check_order(self, level):
        """Raise unless the current thread may newly acquire at ``level``."""
        for upper in LEVELS[level + 1:]:
            if self._sets[upper].is_owned():
                raise errors.LockError(
                    "Cannot acquire locks at level %s while holding level %s"
                    % (LEVEL_NAMES[level], LEVEL_NAMES[upper]))
        if level != LEVEL_CLUSTER and BGL not in self._sets[LEVEL_CLUSTER].list_owned():
            raise errors.LockError("Cannot acquire locks at level %s without"
                                   " holding the BGL" % LEVEL_NAMES[level])

    def names(self, level):
        """The current member names of ``level``."""
        return self._set(level).names()

    def acquire(self, level, names, shared=False, timeout=None, priority=0,
                waiting_since=None):
        """Acquire ``names`` (or ALL_SET) at ``level``; None on timeout.
        ``waiting_since``: see SharedLock.acquire."""
        lockset = self._set(level)
        self._check_order(level)
        return lockset.acquire(names, shared=shared, timeout=timeout,
                               priority=priority, waiting_since=waiting_since)

    def interrupt_wait(self, thread):
        """End ``thread``'s lock waits, now and until its INTERRUPTED flag is
        cleared: each acquire returns as if its timeout had passed (the job
        queue uses it when it cancels a job waiting for locks)."""
        setattr(thread, INTERRUPTED, True)
        for lockset in self._sets.values():
            lockset.wake(thread)

    def release(self, level, names=None):
        """Release ``names`` (None: all) at ``level``."""
        lockset = self._set(level)
        if level == LEVEL_CLUSTER:
            for upper in LEVELS[1:]:
                if self._sets[upper].is_owned():
                    raise errors.LockError("Cannot release the BGL while holding"
                                           " locks at level %s" % LEVEL_NAMES[upper])
        lockset.release(names)

    def _modify_check(self, level):
        """Checks shared by add/remove; returns whether deadlock checks apply."""
        if level == LEVEL_CLUSTER:
            raise errors.LockError("The cluster level cannot be modified")
        bgl = self._sets[LEVEL_CLUSTER]
        if BGL not in bgl.list_owned():
            raise errors.LockError("Cannot modify level %s without holding the BGL"
                                   % LEVEL_NAMES[level])
        # With the BGL held exclusively nobody else holds any lock, so waiting
        # here cannot deadlock.
        return not bgl._owns_member(BGL, shared=False)

    def add(self, level, names, acquired=False, shared=False):
        """Add locks at ``level`` (optionally acquired by the caller)."""
        lockset = self._set(level)
        check = self._modify_check(level)
        if check and not lockset._owns_whole_set(shared=False):
            self._check_order(level)
        lockset.add(names, acquired=acquired, shared=shared, _check=check)

    def remove(self, level, names):
        """Remove locks at ``level``; returns the names removed."""
        lockset = self._set(level)
        check = self._modify_check(level)
        wanted = _as_name_list(names)
        if check and not lockset.list_owned().issuperset(wanted):
            self._check_order(level)
        return lockset.remove(wanted, _check=check)

    def list_owned(self, level):
        """Names owned by the current thread at ``level``."""
        return self._set(level).list_owned()

    def is_owned(self, level):
        """Whether the current thread owns anything at ``level``."""
        return self._set(level).is_owned()

    def owning_all(self, level):
        """Whether the current thread acquired the whole of ``level``."""
        return self._set(level).owning_all()

    def release_all(self):
        """Release everything the current thread owns, highest level first."""
        for level in reversed(LEVELS):
            if self._sets[level].is_owned():
                self._sets[level].release()

    def _lock_details(self):
        """(name, SharedLock.details()) of every lock, level by level."""
        for level in LEVELS:
            lockset = self._sets[level]
            infos = lockset.lock_info()
            if level == LEVEL_CLUSTER:
                yield from infos
                continue
            prefix = LEVEL_NAMES[level]
            yield "%s/%s" % (prefix, _SET_LOCK_NAME), lockset.set_lock_info()
            for name, info in infos:
                yield "%s/%s" % (prefix, name), info

    def query_locks(self):
        """Rows [name, mode, owners, pending, owner seconds, pending seconds] of
        every lock, for gnt-debug locks; the seconds (held, waited) are in the
        order of the owners and of each pending group's names."""
        now = time.monotonic()
        rows = []
        for name, (mode, owners, pending) in self._lock_details():
            owned = _named_times(owners, now)
            waiting = [(pmode, _named_times(waiters, now)) for pmode, waiters in pending]
            rows.append([
                name,
                mode,
                [who for who, _ in owned],
                [[pmode, [who for who, _ in named]] for pmode, named in waiting],
                [secs for _, secs in owned],
                [[pmode, [secs for _, secs in named]] for pmode, named in waiting],
            ])
        return rows

    def lock_holders(self):
        """Who holds and who waits for which lock, for how long: one dict per
        owner and per waiter of the locks in use, each lock's owners first:
        {"lock", "state" ("held" or "waiting"), "mode", "owner" (job id or
        thread name), "job_id" (None if the thread runs no job), "since"
        (seconds since the epoch), "seconds"}."""
        now, wall = time.monotonic(), time.time()
        entries = []

        def add(lock, state, mode, thread, since):
            seconds = max(now - since, 0.0)
            entries.append({"lock": lock, "state": state, "mode": mode,
                            "owner": owner_name(thread),
                            "job_id": getattr(thread, "job_id", None),
                            "since": round(wall - seconds, 3),
                            "seconds": round(seconds, 3)})

        for name, (mode, owners, pending) in self._lock_details():
            for thread, since in sorted(owners, key=lambda item: item[1]):
                add(name, "held", mode, thread, since)
            for pmode, waiters in pending:
                for thread, since in sorted(waiters, key=lambda item: item[1]):
                    add(name, "waiting", pmode, thread, since)
        return entries
