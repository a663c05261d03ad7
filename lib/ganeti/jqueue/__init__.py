"""The master daemon's job queue: durable jobs, worker threads, long-polling.

Where jobs are kept (storage.py): the master daemon keeps them in etcd
(etcdstore.py), so that every acknowledged job survives a master failover;
``QueueDir`` keeps the same records as files in one directory::

  job-<id>                      one JSON file per job not yet archived
  serial                        last job id handed out
  version                       queue format version (constants.JOB_QUEUE_VERSION)
  drain                         exists => new jobs are refused
  archive/<id // 10000>/job-<id>  archived jobs

Threading model: every in-memory structure is guarded by one queue lock
(``JobQueue._lock``); waiters of one job (WaitForJobChange) sleep on a
condition of that job built on the same lock. Worker threads take the runnable
job with the lowest priority value, then the lowest id, and run its opcodes one
after the other. Jobs whose next opcode depends on unfinished jobs do not
occupy a worker: they are parked and scheduled again when a dependency ends.

Durability: a single writer thread stores jobs. Callers mark a job dirty
(urgent or lazy) and, when the change must be stored before they go on, wait
for the batch holding it. A batch stores each dirty job once, in one call of
the store (a few etcd transactions, or files written in parallel).
Urgent (waited for): submission, start of execution of an opcode, end of an
opcode, cancel, priority change, archiving. Lazy (coalesced, at most
``writer._LAZY_WRITE_DELAY`` late): an opcode going to "waiting" and log messages.
Because opcode ends are urgent, every log message of a finished job is stored.

Memory only: queries and WaitForJobChange are answered from memory; the store
is read only at start, and archived jobs are read from it when asked for
explicitly (see ``query_jobs``).

Dependencies (opcode parameter ``depends``, ``[[job_id, [statuses]]]``):
negative ids are relative to the batch of ``submit_many_jobs`` and rewritten to
absolute ids before the job is stored. An opcode runs when every dependency is
finalized with one of the listed statuses (an empty list accepts any final
status). A dependency that ended with another status, that is not an earlier
job, or that exists neither in the queue nor in the archive, fails the opcode
(and the rest of the job) with a message naming the dependency. Archived
dependencies are judged by their archived final status.

Job filter rules (gnt-filter, ``filtering``): a job that has not started is
judged by the rules when it is scheduled and when a worker would take it; a
REJECT cancels it, a PAUSE or a reached rate limit holds it (state HELD) until
the rules change or a running job ends. ``set_filters`` judges the queued jobs
again whenever the rules change.

Modules: ``job`` (job and opcode records, job file format, query fields, the
executor's callbacks), ``storage`` (the store interface, the directory store),
``etcdstore`` (the store in etcd), ``writer`` (the batched writer thread),
``filtering`` (filter rules and rate limits) and this one (``JobQueue``: submission,
scheduling, workers, queries and changes).
"""

import heapq
import logging
import threading
import time

from ganeti import constants, errors, locking, opcodes
from ganeti.jqueue import filtering
from ganeti.jqueue.job import (ACTIVE, CANCELED_MSG, DEPWAIT, HELD, IDLE, JOB_FIELDS,
                               PREV_FAILED_MSG, RUNNABLE, OpEndCounts, OpExecCallbacks,
                               QueuedJob, QueuedOpCode, count_jobs, field_getters,
                               job_row, json_copy, parse_job_id, timestamp, ts_seconds)
from ganeti.jqueue.storage import QueueDir
from ganeti.jqueue.writer import JobWriter

__all__ = ["CANCELED_MSG", "JOB_FIELDS", "JobQueue", "OpExecCallbacks"]

_ARCHIVE_CHUNK = 500         # jobs archived per batch by auto_archive_jobs

# outcome of an opcode
_SUCCESS = "success"
_ERROR = "error"
_CANCELED = "canceled"

# dependency evaluation
_DEP_OK = "ok"
_DEP_WAIT = "wait"
_DEP_FAIL = "fail"


def _add_queue_reason(data, job_id, index, now):
    """Append the queue's entry to an opcode's reason trail, as Ganeti does:
    ("gnt:opcode:<op id in lower case, without OP_>", "job=ID;index=N", when
    the job was received, in nanoseconds)."""
    op_id = str(data.get("OP_ID", ""))
    source = "gnt:opcode:%s" % (op_id[3:] if op_id.startswith("OP_") else op_id).lower()
    trail = list(data.get("reason") or [])
    trail.append([source, "job=%d;index=%d" % (job_id, index),
                  now[0] * 1000000000 + now[1] * 1000])
    data["reason"] = trail


def _error_message(err):
    if err.args and isinstance(err.args[0], str):
        return err.args[0]
    return str(err)


class JobQueue:
    """The durable job queue of the master daemon."""

    def __init__(self, store, executor, num_workers=25, interrupt_wait=None):
        # a store (storage.py), or the path of a queue directory
        self._store = QueueDir(store) if isinstance(store, str) else store
        self._executor = executor
        # callable(thread): ends a worker's lock waits (a canceled job's)
        self._interrupt_wait = interrupt_wait
        self._num_workers = max(1, int(num_workers))   # = jobs allowed to run at once
        self._busy = 0                  # workers processing a job now
        self._lock = threading.Lock()
        self._work_cond = threading.Condition(self._lock)
        self._jobs = {}                 # live (not archived) jobs by id
        self._runnable = []             # heap of (priority, id, version, job)
        self._dep_waiters = {}          # dependency id -> {job id: job}
        self._archived_status = {}      # archived job id -> final status (cache)
        self._last_serial = 0
        self._accepting = False
        self._stopping = False
        self._workers = []
        self._writer = JobWriter(self)
        self._over_soft_limit = False
        self._rules = filtering.RuleSet()   # job filter rules (set_filters)
        self._held = {}                 # job id -> (job, why): kept back, see _judge_locked
        self._started = {}              # job id -> job: started, maybe not finished
        self._op_ends = OpEndCounts()   # for metrics()

    # ---- helpers ----------------------------------------------------------------------

    def _notify_locked(self, job):
        if job.cond is not None:
            job.cond.notify_all()

    # ---- start and stop ---------------------------------------------------------------

    def start(self):
        """Open the store, recover the jobs found there, start the workers."""
        self._store.open()
        last, jobs = self._store.load()
        self._writer.start()
        unclean = []
        finalized = []
        with self._lock:
            self._jobs = jobs
            self._last_serial = last
            now = timestamp()
            for job_id in sorted(jobs):
                job = jobs[job_id]
                if job.calc_status() in (constants.JOB_STATUS_WAITING,
                                         constants.JOB_STATUS_RUNNING,
                                         constants.JOB_STATUS_CANCELING):
                    logging.warning("Job %s was being processed when the master daemon"
                                    " stopped; marking it as failed", job_id)
                    self._mark_unfinished_locked(
                        job, 0, constants.OP_STATUS_ERROR,
                        errors.encode(errors.OpExecError(self._store.unclean_message())),
                        now)
                    job.end_timestamp = now
                    unclean.append(job)
            for job_id in sorted(jobs):
                job = jobs[job_id]
                if job.calc_status() == constants.JOB_STATUS_QUEUED:
                    self._schedule_locked(job, finalized)
            self._check_soft_limit_locked()
            self._accepting = True
            self._stopping = False
        self._writer.mark_serial()
        self._commit_jobs(unclean + finalized)
        self._writer.flush()
        logging.info("Job queue started with %d jobs (last id %d)", len(jobs), last)
        with self._lock:
            self._add_workers_locked()

    def _add_workers_locked(self):
        """Start workers until there are as many as jobs may run at once."""
        while len(self._workers) < self._num_workers:
            thread = threading.Thread(target=self._worker_loop,
                                      name="jq-worker-%d" % len(self._workers), daemon=True)
            thread.job_id = None
            self._workers.append(thread)
            thread.start()

    def store_all(self):
        """Store every job again (after writes failed for a while)."""
        with self._lock:
            ids = sorted(self._jobs)
        gen = self._writer.mark_serial()
        for job_id in ids:
            gen = self._writer.mark(job_id, urgent=True)
        self._writer.wait(gen)

    def set_max_running(self, count):
        """Change how many jobs may run at once (max_running_jobs), effective now.

        More: new workers start. Fewer: running jobs finish, and no worker takes
        a new job while the limit is reached; the idle workers stay.
        """
        with self._lock:
            self._num_workers = max(1, int(count))
            if self._accepting:
                self._add_workers_locked()
            self._work_cond.notify_all()

    def shutdown(self, timeout=10):
        """Refuse new jobs, let workers finish their current opcode (up to ``timeout``)."""
        with self._lock:
            self._accepting = False
            self._stopping = True
            self._work_cond.notify_all()
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._workers if t.is_alive()]
        self._writer.flush()
        if alive:
            logging.warning("Job queue shut down with busy workers: %s", ", ".join(alive))
        else:
            self._writer.stop()
            self._store.close()
        self._workers = [t for t in self._workers if t.is_alive()]

    # ---- submission -------------------------------------------------------------------

    def submit_job(self, ops):
        """Submit one job (list of opcode dicts); returns its id once it is on disk."""
        return self._submit([ops], ignore_drain=False, batch=False)[0][1]

    def submit_job_to_drained_queue(self, ops):
        """Like submit_job, but also when the queue is drained."""
        return self._submit([ops], ignore_drain=True, batch=False)[0][1]

    def submit_many_jobs(self, jobs):
        """Submit several jobs; per job ``[True, id]`` or ``[False, message]``."""
        if not isinstance(jobs, list):
            raise errors.OpPrereqError("Expected a list of jobs", errors.ECODE_INVAL)
        return self._submit(jobs, ignore_drain=False, batch=True)

    def _prepare_ops(self, ops, index, valid, batch):
        """Validate one job's opcodes; returns [(input dict, priority)]."""
        if not isinstance(ops, list) or not ops:
            raise errors.OpPrereqError("A job needs a non-empty list of opcodes",
                                       errors.ECODE_INVAL)
        prepared = []
        for op_dict in ops:
            op = opcodes.OpCode.from_dict(op_dict)
            try:
                data = json_copy(op_dict)
            except (TypeError, ValueError) as err:
                raise errors.OpPrereqError("Opcode can not be serialized: %s" % err,
                                           errors.ECODE_INVAL)
            for dep in data.get("depends") or []:
                dep_id = dep[0]
                if dep_id >= 0:
                    continue
                if not batch:
                    raise errors.OpPrereqError(
                        "Relative job dependency %s is only valid when submitting"
                        " several jobs at once" % dep_id, errors.ECODE_INVAL)
                target = index + dep_id
                if target < 0:
                    raise errors.OpPrereqError(
                        "Relative job dependency %s points before the first job of"
                        " the submission" % dep_id, errors.ECODE_INVAL)
                if not valid[target]:
                    raise errors.OpPrereqError(
                        "Relative job dependency %s refers to a job that was not"
                        " submitted" % dep_id, errors.ECODE_INVAL)
            prepared.append((data, op.priority))
        return prepared

    def _submit(self, jobs_ops, ignore_drain, batch):
        if not ignore_drain and self.is_drained():
            raise errors.JobQueueDrainError("Job queue is drained, refusing job")
        results = []
        valid = []
        prepared = []
        for index, ops in enumerate(jobs_ops):
            try:
                prepared.append(self._prepare_ops(ops, index, valid, batch))
                valid.append(True)
                results.append(None)
            except errors.GenericError as err:
                if not batch:
                    raise
                prepared.append(None)
                valid.append(False)
                results.append([False, _error_message(err)])
        count = sum(valid)
        if not count:
            return results
        created = []
        with self._lock:
            if not self._accepting:
                raise errors.JobQueueError("The job queue is not accepting jobs"
                                           " (stopped or shutting down)")
            if len(self._jobs) + count > constants.JOB_QUEUE_SIZE_HARD_LIMIT:
                raise errors.JobQueueFull("Job queue is full (%d jobs); archive old"
                                          " jobs first" % len(self._jobs))
            now = timestamp()
            batch_ids = [None] * len(jobs_ops)
            for index, ops in enumerate(prepared):
                if ops is None:
                    continue
                self._last_serial += 1
                job_id = self._last_serial
                batch_ids[index] = job_id
                qops = []
                for op_index, (data, priority) in enumerate(ops):
                    for dep in data.get("depends") or []:
                        if dep[0] < 0:
                            dep[0] = batch_ids[index + dep[0]]
                    _add_queue_reason(data, job_id, op_index, now)
                    qops.append(QueuedOpCode(data, priority))
                job = QueuedJob(job_id, qops, now)
                self._jobs[job_id] = job
                created.append((index, job))
            self._check_soft_limit_locked()
        gen = self._writer.mark_serial()
        for _, job in created:
            gen = self._writer.mark(job.id, urgent=True)
        self._writer.wait(gen)
        finalized = []
        with self._lock:
            for index, job in created:
                err = self._writer.take_error(job.id)
                if err is not None:
                    del self._jobs[job.id]
                    msg = "Could not store job %s: %s" % (job.id, err)
                    if not batch:
                        raise errors.JobQueueError(msg)
                    results[index] = [False, msg]
                    continue
                results[index] = [True, job.id]
                self._schedule_locked(job, finalized)
        self._commit_jobs(finalized)
        return results

    def _check_soft_limit_locked(self):
        over = len(self._jobs) >= constants.JOB_QUEUE_SIZE_SOFT_LIMIT
        if over and not self._over_soft_limit:
            logging.warning("Job queue holds %d jobs (soft limit %d); jobs should be"
                            " archived", len(self._jobs),
                            constants.JOB_QUEUE_SIZE_SOFT_LIMIT)
        self._over_soft_limit = over

    # ---- scheduling -------------------------------------------------------------------

    def _schedule_locked(self, job, finalized):
        """Make a queued job (not owned by a worker) runnable, parked, held back
        by a filter rule, rejected or failed."""
        idx = job.current_index()
        if idx is None:
            job.state = IDLE
            return
        if job.start_timestamp is None and self._rules:
            action = self._rule_action_locked(job)
            if action == filtering.REJECT:
                self._reject_locked(job)
                finalized.append(job)
                return
            if action == filtering.PAUSE:
                self._hold_locked(job, filtering.PAUSE)
                return
        state, msg = self._eval_deps_locked(job, job.ops[idx])
        if state == _DEP_OK:
            self._push_locked(job)
        elif state == _DEP_WAIT:
            job.state = DEPWAIT
        else:
            self._fail_deps_locked(job, idx, msg)
            finalized.append(job)

    def _push_locked(self, job):
        job.state = RUNNABLE
        job.heap_version += 1
        heapq.heappush(self._runnable, (job.calc_priority(), job.id, job.heap_version, job))
        self._work_cond.notify()

    def _pop_runnable_locked(self):
        while self._runnable:
            _, _, version, job = heapq.heappop(self._runnable)
            if job.state == RUNNABLE and version == job.heap_version:
                if job.start_timestamp is None:
                    why = self._judge_locked(job)
                    if why is not None:
                        self._hold_locked(job, why)
                        continue
                return job
        return None

    # ---- job filter rules and rate limits (jqueue.filtering) --------------------------

    def set_filters(self, rules):
        """Judge jobs by these filter rules (dicts of objects.FilterRule) from
        now on. Queued jobs are judged again at once: a REJECT cancels them, and
        the jobs held back run if the new rules let them."""
        ruleset = filtering.RuleSet(rules)
        finalized = []
        with self._lock:
            if ruleset == self._rules:
                return
            self._rules = ruleset
            if not self._accepting:
                return          # start() judges the queued jobs
            for job_id in sorted(self._jobs):
                job = self._jobs[job_id]
                if job.start_timestamp is None and job.state in (RUNNABLE, DEPWAIT, HELD) \
                        and self._rule_action_locked(job) == filtering.REJECT:
                    self._reject_locked(job)
                    finalized.append(job)
            finalized.extend(self._release_held_locked(None))
        self._commit_jobs(finalized)

    def last_job_id(self):
        """The highest job id handed out (a filter rule's watermark)."""
        with self._lock:
            return self._last_serial

    def _facts_locked(self, job):
        if job.filter_facts is None:
            job.filter_facts = filtering.JobFacts(job.id, [op.input for op in job.ops])
        return job.filter_facts

    def _rule_action_locked(self, job):
        rule = self._rules.applying(self._facts_locked(job)) if self._rules else None
        return rule.kind() if rule is not None else None

    def _judge_locked(self, job):
        """None if a job that has not started may start now, else why not: a
        PAUSE (or REJECT) rule, or a rate limit that is reached."""
        facts = self._facts_locked(job)
        if not self._rules and not facts.buckets:
            return None
        rule = self._rules.applying(facts) if self._rules else None
        kind = rule.kind() if rule is not None else None
        if kind in (filtering.PAUSE, filtering.REJECT):
            return filtering.PAUSE
        if kind != filtering.RATE_LIMIT and not facts.buckets:
            return None
        running = self._running_jobs_locked()
        if kind == filtering.RATE_LIMIT:
            # a running job takes a slot of the rule that applies to it now
            taken = sum(1 for other in running
                        if self._rules.applying(self._facts_locked(other)) is rule)
            if taken >= rule.limit():
                return filtering.RATE_LIMIT
        for bucket, limit in facts.buckets.items():
            taken = sum(1 for other in running
                        if bucket in self._facts_locked(other).buckets)
            if taken >= limit:
                return filtering.RATE_LIMIT
        return None

    def _running_jobs_locked(self):
        """The jobs started and not finished (those parked between two opcodes too)."""
        running = []
        for job_id, job in list(self._started.items()):
            if job.is_finalized() or self._jobs.get(job_id) is not job:
                del self._started[job_id]
            else:
                running.append(job)
        return running

    def _hold_locked(self, job, why):
        job.state = HELD
        self._held[job.id] = (job, why)

    def _release_held_locked(self, why):
        """Schedule again the held jobs (those held for ``why``; None: all);
        returns the jobs that failed or were rejected meanwhile."""
        finalized = []
        for job_id in sorted(self._held):
            job, reason = self._held[job_id]
            if why is not None and reason != why:
                continue
            del self._held[job_id]
            if job.state == HELD:
                self._schedule_locked(job, finalized)
        return finalized

    def _reject_locked(self, job):
        """Cancel a job a REJECT rule applies to (as Ganeti: the opcodes end
        canceled, without a result)."""
        logging.info("Job %s canceled: rejected by a job filter rule", job.id)
        now = timestamp()
        for op in job.ops:
            if op.status not in constants.OPS_FINALIZED:
                op.status = constants.OP_STATUS_CANCELED
                op.end_timestamp = now
        job.end_timestamp = now
        job.state = IDLE
        self._held.pop(job.id, None)

    def _eval_deps_locked(self, job, op):
        """(_DEP_OK | _DEP_WAIT | _DEP_FAIL, message) for an opcode's dependencies."""
        waiting = []
        for dep_id, statuses in op.input.get("depends") or []:
            if dep_id >= job.id:
                return _DEP_FAIL, ("Job %s can only depend on earlier jobs, not on job %s"
                                   % (job.id, dep_id))
            dep = self._jobs.get(dep_id)
            if dep is not None:
                status = dep.calc_status()
                if status not in constants.JOBS_FINALIZED:
                    waiting.append(dep_id)
                    continue
            else:
                # rare: reads one archived file while holding the queue lock
                status = self._archived_job_status(dep_id)
                if status is None:
                    return _DEP_FAIL, "Dependency job %s not found" % dep_id
            if statuses and status not in statuses:
                return _DEP_FAIL, ("Dependency job %s ended with status '%s', not one of"
                                   " %s" % (dep_id, status, ", ".join(statuses)))
        if waiting:
            for dep_id in waiting:
                self._dep_waiters.setdefault(dep_id, {})[job.id] = job
            return _DEP_WAIT, None
        return _DEP_OK, None

    def _archived_job_status(self, job_id):
        status = self._archived_status.get(job_id)
        if status is None:
            job = self._store.load_archived_job(job_id)
            if job is not None:
                status = job.calc_status()
                self._archived_status[job_id] = status
        return status

    def _release_dependents_locked(self, job):
        """Reconsider the jobs parked on ``job``; returns those that failed."""
        finalized = []
        waiters = self._dep_waiters.pop(job.id, None) or {}
        for waiter in sorted(waiters.values(), key=lambda j: j.id):
            if waiter.state == DEPWAIT:
                self._schedule_locked(waiter, finalized)
        return finalized

    def _mark_unfinished_locked(self, job, start, status, result, now):
        for op in job.ops[start:]:
            if op.status in constants.OPS_FINALIZED:
                continue
            op.status = status
            op.result = result
            if now is not None and op.start_timestamp is not None and \
                    op.end_timestamp is None:
                op.end_timestamp = now

    def _fail_deps_locked(self, job, idx, msg):
        now = timestamp()
        op = job.ops[idx]
        op.status = constants.OP_STATUS_ERROR
        op.result = errors.encode(errors.OpExecError(msg))
        self._mark_unfinished_locked(job, idx + 1, constants.OP_STATUS_ERROR,
                                     errors.encode(errors.OpExecError(PREV_FAILED_MSG)),
                                     now)
        job.end_timestamp = now
        job.state = IDLE

    def _commit_jobs(self, jobs):
        """Write ``jobs`` now, wait until on disk, wake their waiters and release
        the dependents of the finalized ones (repeating for jobs that fail because
        of that)."""
        while jobs:
            gen = 0
            for job in jobs:
                gen = self._writer.mark(job.id, urgent=True)
            self._writer.wait(gen)
            newly = []
            with self._lock:
                for job in jobs:
                    self._notify_locked(job)
                    if job.is_finalized():
                        newly.extend(self._release_dependents_locked(job))
            jobs = newly

    # ---- workers ----------------------------------------------------------------------

    def _worker_loop(self):
        thread = threading.current_thread()
        thread.job_id = None
        while True:
            with self._lock:
                job = None
                while not self._stopping:
                    if self._busy < self._num_workers:
                        job = self._pop_runnable_locked()
                        if job is not None:
                            break
                    self._work_cond.wait()
                if job is None:
                    return
                self._busy += 1
                job.state = ACTIVE
                idx = job.current_index()
                self._begin_op_locked(job, idx)
            self._writer.mark(job.id, urgent=False)
            try:
                self._process_job(job, idx)
            except Exception:  # a bug in the queue itself; keep the worker alive
                logging.exception("Internal error while processing job %s", job.id)
            finally:
                thread.job_id = None
                with self._lock:
                    self._busy -= 1
                    self._work_cond.notify()
                    # a rate limit slot may be free now
                    finalized = self._release_held_locked(filtering.RATE_LIMIT)
                self._commit_jobs(finalized)

    def _begin_op_locked(self, job, idx):
        op = job.ops[idx]
        now = timestamp()
        op.status = constants.OP_STATUS_WAITING
        op.start_timestamp = now
        if job.start_timestamp is None:
            job.start_timestamp = now
            self._started[job.id] = job
        self._notify_locked(job)

    def _process_job(self, job, idx):
        while idx is not None:
            op = job.ops[idx]
            outcome, value = self._execute_op(job, op)
            with self._lock:
                idx = self._finish_op_locked(job, idx, outcome, value)
            self._commit_jobs([job])

    def _execute_op(self, job, op):
        thread = threading.current_thread()
        thread.job_id = job.id
        setattr(thread, locking.INTERRUPTED, False)
        try:
            opcode = op.to_opcode()
            result = self._executor(opcode, OpExecCallbacks(self, job, op))
            try:
                return _SUCCESS, json_copy(result)
            except (TypeError, ValueError) as err:
                return _ERROR, errors.encode(errors.OpExecError(
                    "Opcode result can not be serialized: %s" % err))
        except errors.JobCanceled:
            return _CANCELED, None
        except errors.GenericError as err:
            logging.info("Job %s: opcode %s failed: %s", job.id,
                         op.input.get("OP_ID"), err)
            return _ERROR, errors.encode(err)
        except Exception as err:
            logging.exception("Job %s: unexpected error in opcode %s", job.id,
                              op.input.get("OP_ID"))
            return _ERROR, errors.encode(err)
        finally:
            thread.job_id = None

    def _finish_op_locked(self, job, idx, outcome, value):
        """Record an opcode's end; returns the index of the next opcode to run here."""
        now = timestamp()
        op = job.ops[idx]
        if outcome == _SUCCESS:
            op.end_timestamp = now
            op.status = constants.OP_STATUS_SUCCESS
            op.result = value
        elif outcome == _CANCELED:
            # as Ganeti: opcodes canceled (before they ran) keep no end time
            self._mark_unfinished_locked(job, idx, constants.OP_STATUS_CANCELED,
                                         CANCELED_MSG, None)
        else:
            op.end_timestamp = now
            op.status = constants.OP_STATUS_ERROR
            op.result = value
            self._mark_unfinished_locked(
                job, idx + 1, constants.OP_STATUS_ERROR,
                errors.encode(errors.OpExecError(PREV_FAILED_MSG)), now)
        self._op_ends.add(op, now)
        # marked here, under the queue lock, so that a waiter never reports this
        # end before it is on disk (see wait_for_job_changes)
        job.end_write_gen = self._writer.mark(job.id, urgent=True)
        nxt = job.current_index()
        if nxt is not None and job.ops[nxt].status == constants.OP_STATUS_CANCELING:
            self._mark_unfinished_locked(job, nxt, constants.OP_STATUS_CANCELED,
                                         CANCELED_MSG, now)
            nxt = None
        if job.is_finalized():
            job.end_timestamp = now
            job.state = IDLE
            return None
        if self._stopping:
            job.state = IDLE       # stays queued on disk, resumes after a restart
            return None
        state, msg = self._eval_deps_locked(job, job.ops[nxt])
        if state == _DEP_OK:
            self._begin_op_locked(job, nxt)
            return nxt
        if state == _DEP_WAIT:
            job.state = DEPWAIT
        else:
            self._fail_deps_locked(job, nxt, msg)
        return None

    # ---- callbacks from the executor --------------------------------------------------

    def _add_log(self, job, op, log_type, msg):
        if not isinstance(msg, (str, int, float, bool, type(None))):
            try:
                msg = json_copy(msg)
            except (TypeError, ValueError):
                msg = str(msg)
        with self._lock:
            if op.status in constants.OPS_FINALIZED:
                logging.warning("Job %s: log message after the opcode ended: %s",
                                job.id, msg)
                return
            job.log_serial += 1
            op.log.append([job.log_serial, timestamp(), str(log_type), msg])
            self._notify_locked(job)
        self._writer.mark(job.id, urgent=False)

    def _op_started(self, job, op):
        with self._lock:
            if op.status == constants.OP_STATUS_CANCELING:
                canceled = True
            else:
                canceled = False
                if op.status == constants.OP_STATUS_WAITING:
                    op.status = constants.OP_STATUS_RUNNING
                    op.exec_timestamp = timestamp()
        if canceled:
            raise errors.JobCanceled("Job %s canceled" % job.id)
        self._commit_jobs([job])

    # ---- queries ----------------------------------------------------------------------

    def metrics(self):
        """For QueryMetrics: {"jobs": the queue's jobs by status, "opcodes":
        their opcodes by OP_ID and status, "ended": the opcodes ended since the
        start (OpEndCounts.rows)}; the queue lock is held only to copy."""
        with self._lock:
            jobs = list(self._jobs.values())
            ended = self._op_ends.rows()
        by_status, by_opcode = count_jobs(jobs)
        return {"jobs": by_status, "opcodes": by_opcode, "ended": ended}

    def job_ids(self):
        """Ids of the jobs in the queue (not archived), sorted."""
        with self._lock:
            return sorted(self._jobs)

    def query_jobs(self, job_ids, fields, archived=False):
        """Per job a list of the values of ``fields``; None for unknown jobs.

        ``job_ids`` None means all jobs of the queue, by id, and with ``archived``
        also the archived ones (read from the archive). Jobs asked for by id are
        also looked up in the archive when they are no longer in the queue.
        """
        getters = field_getters(fields)
        if job_ids is None:
            with self._lock:
                rows = [(jid, job_row(self._jobs[jid], getters))
                        for jid in sorted(self._jobs)]
            if not archived:
                return [row for _, row in rows]
            live = set(jid for jid, _ in rows)
            for jid in self._store.archived_ids():
                if jid in live:
                    continue
                job = self._store.load_archived_job(jid)
                if job is not None:
                    rows.append((jid, job_row(job, getters)))
            rows.sort(key=lambda item: item[0])
            return [row for _, row in rows]
        ids = [parse_job_id(jid) for jid in job_ids]
        result = []
        missing = []
        with self._lock:
            for pos, jid in enumerate(ids):
                job = self._jobs.get(jid)
                if job is None:
                    missing.append(pos)
                    result.append(None)
                else:
                    result.append(job_row(job, getters))
        for pos in missing:
            job = self._store.load_archived_job(ids[pos])
            if job is not None:
                result[pos] = job_row(job, getters)
        return result

    def wait_for_job_changes(self, job_id, fields, prev_job_info, prev_log_serial,
                             timeout):
        """Long-poll: ``[job_info, log_entries]`` once something changed, or
        "nochange" after ``timeout`` seconds. A finalized job answers at once."""
        getters = field_getters(fields)
        job_id = parse_job_id(job_id)
        if prev_log_serial is None:
            prev_log_serial = -1
        deadline = time.monotonic() + max(0.0, float(timeout or 0))
        while True:
            with self._lock:
                job = self._jobs.get(job_id)
                if job is None:
                    break
                if job.cond is None:
                    job.cond = threading.Condition(self._lock)
                while True:
                    info = job_row(job, getters)
                    log = job.log_entries(prev_log_serial)
                    changed = log or info != prev_job_info or job.is_finalized()
                    if changed or time.monotonic() >= deadline:
                        break
                    job.cond.wait(deadline - time.monotonic())
                gen = job.end_write_gen
            if not changed:
                return "nochange"
            # an opcode end is reported only once it is on disk
            if self._writer.is_written(gen):
                return [info, log]
            self._writer.wait(gen)
        job = self._store.load_archived_job(job_id)
        if job is None:
            raise errors.JobLost("Job %s not found" % job_id)
        return [job_row(job, getters), job.log_entries(prev_log_serial)]

    # ---- changes ----------------------------------------------------------------------

    def cancel_job(self, job_id, kill=False):
        """Cancel a queued or waiting job; returns ``[success, message]``.

        ``kill`` (gnt-job cancel --kill): Ganeti 3.0 sends SIGKILL to a running
        job's own process. Here jobs run as threads of the master daemon, which
        cannot be killed safely, so killing a running job is refused in words;
        queued and waiting jobs are canceled as without ``kill``.
        """
        if not isinstance(kill, bool):
            raise errors.OpPrereqError("The kill flag must be true or false, not %r"
                                       % (kill,), errors.ECODE_INVAL)
        job_id = parse_job_id(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.is_finalized():
                return [False, "Job %s not found in queue" % job_id]
            status = job.calc_status()
            waiting = []
            if status == constants.JOB_STATUS_QUEUED and job.state != ACTIVE:
                now = timestamp()
                self._mark_unfinished_locked(job, 0, constants.OP_STATUS_CANCELED,
                                             CANCELED_MSG, now)
                job.end_timestamp = now
                job.state = IDLE
                self._held.pop(job_id, None)
                released = self._release_held_locked(filtering.RATE_LIMIT)
                msg = "Dequeued job %s" % job_id
            elif status == constants.JOB_STATUS_WAITING:
                # it cannot start any more (_op_started); interrupt_wait (below) ends
                # its lock wait at once, and check_cancel then ends the job
                for op in job.ops:
                    if op.status not in constants.OPS_FINALIZED:
                        op.status = constants.OP_STATUS_CANCELING
                msg = "Job successfully cancelled"
                released = []
                waiting = [t for t in self._workers if t.job_id == job_id]
            elif kill and status == constants.JOB_STATUS_RUNNING:
                return [False, "Job %s is running and cannot be killed: jobs run inside"
                        " the master daemon here, not as processes of their own; wait"
                        " for it to finish" % job_id]
            else:
                # Ganeti 3.0 adds "(informed it anyway)": it signals the job's own
                # process; a job here is a thread of the master daemon, told nothing
                return [False, "Job no longer waiting, can't cancel"]
        self._commit_jobs([job] + released)
        if self._interrupt_wait is not None:
            for thread in waiting:
                self._interrupt_wait(thread)     # it notices at once, not at a timeout
        return [True, msg]

    def change_job_priority(self, job_id, priority):
        """Change the priority of the pending opcodes of a job."""
        job_id = parse_job_id(job_id)
        if (not isinstance(priority, int) or isinstance(priority, bool)
                or priority not in constants.OP_PRIO_SUBMIT_VALID):
            raise errors.OpPrereqError(
                "Invalid priority %r, valid values: %s" % (
                    priority, ", ".join(map(str, sorted(constants.OP_PRIO_SUBMIT_VALID)))),
                errors.ECODE_INVAL)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.is_finalized():
                return [False, "Job %s not found in queue" % job_id]
            status = job.calc_status()
            if status == constants.JOB_STATUS_CANCELING:
                return [False, "Job %s is being canceled" % job_id]
            changed = False
            for op in job.ops:
                if op.status in constants.OPS_FINALIZED or \
                        op.status == constants.OP_STATUS_RUNNING:
                    continue
                op.priority = priority
                changed = True
            if not changed:
                return [False, "Job %s has no pending opcodes" % job_id]
            if job.state == RUNNABLE:
                self._push_locked(job)
        self._commit_jobs([job])
        # Ganeti 3.0's words for a job not started yet; it signals a started job's
        # own process, while here the queue changes the opcodes directly
        return [True, "Priorities of pending opcodes for job %s have been changed to %s"
                % (job_id, priority)]

    def archive_job(self, job_id):
        """Move a finalized job to the archive; False if unknown or not finalized."""
        job_id = parse_job_id(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.is_finalized():
                return False
            job.archiving = True
        self._archive([job])
        return True

    def _archive(self, jobs):
        gen = 0
        for job in jobs:
            gen = self._writer.mark(job.id, urgent=True, archive=True)
        self._writer.wait(gen)
        with self._lock:
            for job in jobs:
                err = self._writer.take_error(job.id)
                if err is not None:
                    job.archiving = False
                    continue
                if self._jobs.get(job.id) is job:
                    del self._jobs[job.id]
                job.archived = True
                job.archiving = False
                self._archived_status[job.id] = job.calc_status()
            self._check_soft_limit_locked()

    def auto_archive_jobs(self, age, timeout):
        """Archive finalized jobs that ended at least ``age`` seconds ago (-1: all).

        Returns ``[archived_count, jobs_left_unchecked]``.
        """
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        with self._lock:
            all_ids = sorted(self._jobs)
        archived = 0
        for start in range(0, len(all_ids), _ARCHIVE_CHUNK):
            if time.monotonic() > deadline:
                return [archived, len(all_ids) - start]
            now = time.time()
            chosen = []
            with self._lock:
                for jid in all_ids[start:start + _ARCHIVE_CHUNK]:
                    job = self._jobs.get(jid)
                    if job is None or job.archiving or not job.is_finalized():
                        continue
                    ref = job.end_reference()
                    if age == -1 or (ref is not None and now - ts_seconds(ref) >= age):
                        job.archiving = True
                        chosen.append(job)
            if chosen:
                self._archive(chosen)
                archived += sum(1 for job in chosen if job.archived)
        return [archived, 0]

    def set_drain_flag(self, flag):
        """Set (True) or clear (False) the queue drain flag."""
        self._store.set_drained(bool(flag))

    def is_drained(self):
        return self._store.is_drained()
