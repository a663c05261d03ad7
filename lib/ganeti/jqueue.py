"""The master daemon's job queue: durable job files, worker threads, long-polling.

Queue directory layout (internals.md sections 2 and 6.2)::

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

Durability: a single writer thread writes job files. Callers mark a job dirty
(urgent or lazy) and, when the change must be on disk before they go on, wait
for the batch holding it. A batch writes each dirty job file once (temporary
file, fsync, rename; the files of a batch are written by a few threads in
parallel so that the filesystem can commit their fsyncs together) and fsyncs
each directory once.
Urgent (waited for): submission, start of execution of an opcode, end of an
opcode, cancel, priority change, archiving. Lazy (coalesced, at most
_LAZY_WRITE_DELAY late): an opcode going to "waiting" and log messages.
Because opcode ends are urgent, every log message of a finished job is on disk.

Memory only: queries and WaitForJobChange are answered from memory; job files
are read only at start, and archived jobs are read from the archive when asked
for explicitly (see ``query_jobs``).

Dependencies (opcode parameter ``depends``, ``[[job_id, [statuses]]]``):
negative ids are relative to the batch of ``submit_many_jobs`` and rewritten to
absolute ids before the job is stored. An opcode runs when every dependency is
finalized with one of the listed statuses (an empty list accepts any final
status). A dependency that ended with another status, that is not an earlier
job, or that exists neither in the queue nor in the archive, fails the opcode
(and the rest of the job) with a message naming the dependency. Archived
dependencies are judged by their archived final status.
"""

import heapq
import logging
import os
import re
import tempfile
import threading
import time
from concurrent import futures

from ganeti import constants, errors, opcodes, serializer
from ganeti.utils import io

_JOB_FILE_RE = re.compile(r"^job-(\d+)$")
_TEMP_FILE_RE = re.compile(r"^\.(job-\d+|serial|version|drain)\.")
_LAZY_WRITE_DELAY = 0.1      # seconds a lazy change may wait to be written
_WRITE_THREADS = 8           # files written in parallel inside one batch
_ARCHIVE_CHUNK = 500         # jobs archived per batch by auto_archive_jobs

CANCELED_MSG = "Job canceled by request"
_PREV_FAILED_MSG = "Not run: an earlier opcode of this job failed"

# scheduling state of a job (JobQueue internal)
_IDLE = "idle"            # finalized, or not scheduled (e.g. after shutdown)
_RUNNABLE = "runnable"    # in the run heap
_DEPWAIT = "depwait"      # waiting for dependencies
_ACTIVE = "active"        # owned by a worker

# writer actions
_WRITE = 1
_ARCHIVE = 2

# outcome of an opcode
_SUCCESS = "success"
_ERROR = "error"
_CANCELED = "canceled"

# dependency evaluation
_DEP_OK = "ok"
_DEP_WAIT = "wait"
_DEP_FAIL = "fail"


def _timestamp():
    """Now as ``[seconds, microseconds]``."""
    now = time.time()
    sec = int(now)
    return [sec, int((now - sec) * 1000000)]


def _ts_seconds(ts):
    return ts[0] + ts[1] / 1000000.0


def _parse_job_id(value):
    """A job id as int; accepts ints and decimal strings."""
    if isinstance(value, bool):
        value = None
    try:
        job_id = int(value)
    except (TypeError, ValueError):
        job_id = None
    if job_id is None or job_id < 0 or (isinstance(value, float) and value != job_id):
        raise errors.OpPrereqError("Invalid job ID '%s'" % (value,), errors.ECODE_INVAL)
    return job_id


def _json_copy(value):
    """``value`` as it reads back from JSON (lists, str keys); TypeError/ValueError if
    it can not be serialized."""
    return serializer.load_json(serializer.dump_json(value))


def _error_message(err):
    if err.args and isinstance(err.args[0], str):
        return err.args[0]
    return str(err)


class _QueuedOpCode:
    """One opcode of a job with its execution state."""

    __slots__ = ("input", "status", "result", "log", "priority",
                 "start_timestamp", "exec_timestamp", "end_timestamp")

    def __init__(self, op_input, priority):
        self.input = op_input
        self.status = constants.OP_STATUS_QUEUED
        self.result = None
        self.log = []
        self.priority = priority
        self.start_timestamp = None
        self.exec_timestamp = None
        self.end_timestamp = None

    def serialize(self):
        return {
            "input": self.input,
            "status": self.status,
            "result": self.result,
            "log": list(self.log),
            "priority": self.priority,
            "start_timestamp": self.start_timestamp,
            "exec_timestamp": self.exec_timestamp,
            "end_timestamp": self.end_timestamp,
        }

    @classmethod
    def restore(cls, data):
        op_input = data["input"]
        if not isinstance(op_input, dict):
            raise ValueError("opcode input is not a dictionary")
        priority = data.get("priority")
        if not isinstance(priority, int):
            priority = op_input.get("priority", constants.OP_PRIO_DEFAULT)
            if not isinstance(priority, int):
                priority = constants.OP_PRIO_DEFAULT
        obj = cls(op_input, priority)
        status = data.get("status", constants.OP_STATUS_QUEUED)
        if status not in constants.JOB_STATUS_ALL:
            raise ValueError("unknown opcode status %r" % (status,))
        obj.status = status
        obj.result = data.get("result")
        log = data.get("log") or []
        for entry in log:
            if not (isinstance(entry, list) and len(entry) == 4
                    and isinstance(entry[0], int)):
                raise ValueError("malformed log entry %r" % (entry,))
        obj.log = log
        obj.start_timestamp = data.get("start_timestamp")
        obj.exec_timestamp = data.get("exec_timestamp")
        obj.end_timestamp = data.get("end_timestamp")
        return obj


class _QueuedJob:
    """A job: its opcodes, timestamps and scheduling state."""

    __slots__ = ("id", "ops", "summary", "received_timestamp", "start_timestamp",
                 "end_timestamp", "log_serial", "archived", "archiving", "cond",
                 "state", "heap_version")

    def __init__(self, job_id, ops, received_timestamp):
        self.id = job_id
        self.ops = ops
        self.summary = [opcodes.summary_of(op.input) for op in ops]
        self.received_timestamp = received_timestamp
        self.start_timestamp = None
        self.end_timestamp = None
        self.log_serial = 0
        self.archived = False
        self.archiving = False
        self.cond = None          # threading.Condition, made when someone waits
        self.state = _IDLE
        self.heap_version = 0

    def calc_status(self):
        """The job status derived from its opcodes (internals.md 6.1)."""
        statuses = set(op.status for op in self.ops)
        if statuses == {constants.OP_STATUS_SUCCESS}:
            return constants.JOB_STATUS_SUCCESS
        for status in (constants.OP_STATUS_ERROR, constants.OP_STATUS_CANCELED,
                       constants.OP_STATUS_CANCELING, constants.OP_STATUS_RUNNING,
                       constants.OP_STATUS_WAITING):
            if status in statuses:
                return status
        return constants.JOB_STATUS_QUEUED

    def is_finalized(self):
        return self.calc_status() in constants.JOBS_FINALIZED

    def calc_priority(self):
        """The most urgent priority among the unfinished opcodes."""
        prios = [op.priority for op in self.ops
                 if op.status not in constants.OPS_FINALIZED]
        return min(prios) if prios else constants.OP_PRIO_DEFAULT

    def current_index(self):
        """Index of the first unfinished opcode, or None."""
        for idx, op in enumerate(self.ops):
            if op.status not in constants.OPS_FINALIZED:
                return idx
        return None

    def log_entries(self, after_serial):
        if after_serial is None:
            after_serial = -1
        return [list(entry) for op in self.ops for entry in op.log
                if entry[0] > after_serial]

    def end_reference(self):
        """Timestamp used for the age of a finished job."""
        return self.end_timestamp or self.start_timestamp or self.received_timestamp

    def serialize(self):
        return {
            "id": self.id,
            "ops": [op.serialize() for op in self.ops],
            "received_timestamp": self.received_timestamp,
            "start_timestamp": self.start_timestamp,
            "end_timestamp": self.end_timestamp,
        }

    @classmethod
    def restore(cls, data, archived=False):
        if not isinstance(data, dict):
            raise ValueError("job data is not a dictionary")
        job_id = data["id"]
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            job_id = int(job_id)
        ops = data["ops"]
        if not isinstance(ops, list) or not ops:
            raise ValueError("job has no opcodes")
        job = cls(job_id, [_QueuedOpCode.restore(op) for op in ops],
                  data.get("received_timestamp"))
        job.start_timestamp = data.get("start_timestamp")
        job.end_timestamp = data.get("end_timestamp")
        job.log_serial = max([entry[0] for op in job.ops for entry in op.log] or [0])
        job.archived = archived
        return job


def _op_list(attr):
    return lambda job: [getattr(op, attr) for op in job.ops]


_FIELDS = {
    "id": lambda job: job.id,
    "status": lambda job: job.calc_status(),
    "priority": lambda job: job.calc_priority(),
    "summary": lambda job: list(job.summary),
    "ops": _op_list("input"),
    "opresult": _op_list("result"),
    "opstatus": _op_list("status"),
    "oplog": lambda job: [[list(entry) for entry in op.log] for op in job.ops],
    "opstart": _op_list("start_timestamp"),
    "opexec": _op_list("exec_timestamp"),
    "opend": _op_list("end_timestamp"),
    "oppriority": _op_list("priority"),
    "received_ts": lambda job: job.received_timestamp,
    "start_ts": lambda job: job.start_timestamp,
    "end_ts": lambda job: job.end_timestamp,
    "archived": lambda job: job.archived,
}

JOB_FIELDS = frozenset(_FIELDS)


def _field_getters(fields):
    if not isinstance(fields, (list, tuple)):
        raise errors.OpPrereqError("Job fields must be a list, got %r" % (fields,),
                                   errors.ECODE_INVAL)
    getters = []
    for name in fields:
        getter = _FIELDS.get(name) if isinstance(name, str) else None
        if getter is None:
            raise errors.OpPrereqError("Unknown job field '%s'" % (name,),
                                       errors.ECODE_INVAL)
        getters.append(getter)
    return getters


def _row(job, getters):
    return [getter(job) for getter in getters]


class OpExecCallbacks:
    """What the executor gets for one opcode."""

    def __init__(self, queue, job, op):
        self._queue = queue
        self._job = job
        self._op = op
        self.job_id = job.id

    def feedback(self, *args):
        """feedback(msg) or feedback(log_type, msg): add a log entry to the opcode."""
        if len(args) == 1:
            log_type, msg = constants.ELOG_MESSAGE, args[0]
        elif len(args) == 2:
            log_type, msg = args
        else:
            raise TypeError("feedback() takes a message and an optional log type")
        self._queue._add_log(self._job, self._op, log_type, msg)

    def notify_start(self):
        """Locks are held: the opcode goes from waiting to running (written to disk)."""
        self._queue._op_started(self._job, self._op)

    def check_cancel(self):
        """Raise errors.JobCanceled if the job was asked to cancel."""
        with self._queue._lock:
            canceling = self._op.status == constants.OP_STATUS_CANCELING
        if canceling:
            raise errors.JobCanceled("Job %s canceled" % self.job_id)

    def current_priority(self):
        return self._op.priority


class _JobFileWriter:
    """Writes job files in batches (group commit), on its own thread."""

    def __init__(self, queue):
        self._queue = queue
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._done = threading.Condition(self._lock)
        self._batch_lock = threading.Lock()
        self._pending = {}           # job id -> _WRITE | _ARCHIVE
        self._serial = False
        self._urgent = False
        self._next_gen = 1           # generation of the batch being collected
        self._done_gen = 0
        self._errors = {}            # job id -> OSError of its last failed write
        self._stop = False
        self._thread = None
        self._pool = None

    def start(self):
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="jq-writer", daemon=True)
        self._thread.start()

    def _running(self):
        return self._thread is not None and self._thread.is_alive() and not self._stop

    def mark(self, job_id, urgent=True, archive=False):
        """Schedule a write of job ``job_id``; returns the batch to wait for."""
        with self._lock:
            if archive:
                self._pending[job_id] = _ARCHIVE
            elif job_id not in self._pending:
                self._pending[job_id] = _WRITE
            if urgent:
                self._urgent = True
            self._work.notify()
            return self._next_gen

    def mark_serial(self):
        with self._lock:
            self._serial = True
            self._urgent = True
            self._work.notify()
            return self._next_gen

    def wait(self, gen):
        """Block until batch ``gen`` is written."""
        with self._lock:
            if self._done_gen >= gen:
                return
        if not self._running():
            self._write_inline()
        with self._lock:
            while self._done_gen < gen:
                self._urgent = True
                self._work.notify()
                if not self._done.wait(1.0) and not self._running():
                    break
        if self._done_gen < gen:
            self._write_inline()

    def flush(self):
        """Wait until everything marked so far is written."""
        with self._lock:
            if self._pending or self._serial:
                gen = self._next_gen
            else:
                gen = self._next_gen - 1
        self.wait(gen)

    def stop(self):
        self.flush()
        with self._lock:
            self._stop = True
            self._work.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def take_error(self, job_id):
        with self._lock:
            return self._errors.pop(job_id, None)

    def _run(self):
        while True:
            with self._lock:
                while not (self._pending or self._serial) and not self._stop:
                    self._work.wait()
                if not (self._pending or self._serial):
                    return
                if not self._urgent and not self._stop:
                    end = time.monotonic() + _LAZY_WRITE_DELAY
                    while not self._urgent and not self._stop:
                        left = end - time.monotonic()
                        if left <= 0:
                            break
                        self._work.wait(left)
            self._process_batch()

    def _write_inline(self):
        """Write pending changes in the calling thread (writer not running)."""
        self._process_batch()

    def _process_batch(self):
        with self._batch_lock:
            with self._lock:
                batch, serial = self._pending, self._serial
                self._pending, self._serial, self._urgent = {}, False, False
                gen = self._next_gen
                self._next_gen += 1
            try:
                failed = self._write_batch(batch, serial)
            except Exception as err:  # never let the writer die
                logging.exception("Job queue writer failed")
                failed = dict((job_id, err) for job_id in batch)
            with self._lock:
                for job_id in batch:
                    if job_id in failed:
                        self._errors[job_id] = failed[job_id]
                    else:
                        self._errors.pop(job_id, None)
                self._done_gen = gen
                self._done.notify_all()

    def _write_batch(self, batch, serial):
        queue = self._queue
        writes = []      # (job id, path, data)
        archives = []    # (job id, archive path, live path, data)
        with queue._lock:
            for job_id, action in batch.items():
                job = queue._jobs.get(job_id)
                if job is None:
                    continue
                data = job.serialize()
                if action == _ARCHIVE:
                    archives.append((job_id, queue._archive_path(job_id),
                                     queue._job_path(job_id), data))
                else:
                    writes.append((job_id, queue._job_path(job_id), data))
            serial_value = queue._last_serial if serial else None

        items = []
        for job_id, path, data in writes:
            items.append((job_id, path, serializer.dump_json(data).encode("utf-8")))
        archive_dirs = set()
        for job_id, apath, _, data in archives:
            items.append((job_id, apath, serializer.dump_json(data).encode("utf-8")))
            archive_dirs.add(os.path.dirname(apath))
        new_dirs = False
        for path in archive_dirs:
            if not os.path.isdir(path):
                os.makedirs(path, mode=constants.JOB_QUEUE_DIRS_MODE, exist_ok=True)
                new_dirs = True
        if new_dirs:
            io.fsync_dir(queue._archive_dir)
        if serial_value is not None:
            items.append((None, queue._serial_file, b"%d\n" % serial_value))

        failed, dirs = self._write_files(items)
        serial_error = failed.pop(None, None)
        if serial_error is not None:
            logging.error("Could not write the job queue serial file: %s", serial_error)
        for path in sorted(archive_dirs & dirs):
            io.fsync_dir(path)
        removed = []
        for job_id, _, live_path, _ in archives:
            if job_id in failed:
                continue
            try:
                io.remove_file(live_path)
                removed.append(live_path)
            except OSError as err:
                failed[job_id] = err
        if removed or (dirs - archive_dirs):
            io.fsync_dir(queue._dir)
        for job_id, err in failed.items():
            logging.error("Could not write the file of job %s: %s", job_id, err)

        replicate = queue._replicate_fn
        if replicate is not None:
            for job_id, path, data in items:
                if job_id is None and serial_error is not None:
                    continue
                if job_id not in failed:
                    queue._replicate(path, data)
            for path in removed:
                queue._replicate(path, None)
        return failed

    def _write_files(self, items):
        """Atomically replace each file of ``[(key, path, bytes)]``; no directory fsync.

        Files are written in parallel (the filesystem can then commit their
        fsyncs together). Returns ({key: error} of the files that failed, set of
        directories touched).
        """
        if len(items) > 2:
            if self._pool is None:
                self._pool = futures.ThreadPoolExecutor(
                    max_workers=_WRITE_THREADS, thread_name_prefix="jq-write")
            results = list(self._pool.map(_replace_file, items))
        else:
            results = [_replace_file(item) for item in items]
        failed = {}
        dirs = set()
        for (key, path, _), err in zip(items, results):
            if err is None:
                dirs.add(os.path.dirname(path))
            else:
                failed[key] = err
        return failed, dirs


def _replace_file(item):
    """Write ``(key, path, data)`` to a temporary file, fsync it and rename it over
    ``path``; returns None or the OSError. The directory is not fsync'd here."""
    _, path, data = item
    dirname, base = os.path.split(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + base + ".", dir=dirname)
    except OSError as err:
        return err
    try:
        try:
            os.fchmod(fd, constants.JOB_QUEUE_FILES_PERMS)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as err:
        io.remove_file(tmp)
        return err
    return None


class JobQueue:
    """The durable job queue of the master daemon."""

    def __init__(self, queue_dir, executor, num_workers=25, replicate_fn=None):
        self._dir = queue_dir
        self._archive_dir = os.path.join(queue_dir, "archive")
        self._serial_file = os.path.join(queue_dir, "serial")
        self._version_file = os.path.join(queue_dir, "version")
        self._drain_file = os.path.join(queue_dir, "drain")
        self._executor = executor
        self._num_workers = max(1, int(num_workers))
        self._replicate_fn = replicate_fn
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
        self._writer = _JobFileWriter(self)
        self._over_soft_limit = False

    # ---- paths and helpers ------------------------------------------------------------

    def _job_path(self, job_id):
        return os.path.join(self._dir, "%s%d" % (constants.JOB_FILE_PREFIX, job_id))

    def _archive_path(self, job_id):
        return os.path.join(self._archive_dir,
                            str(job_id // constants.JOB_ARCHIVE_DIRECTORY_SIZE),
                            "%s%d" % (constants.JOB_FILE_PREFIX, job_id))

    def _replicate(self, path, data):
        if self._replicate_fn is None:
            return
        try:
            self._replicate_fn(path, data)
        except Exception:  # replication problems must not stop the queue
            logging.exception("Could not replicate %s", path)

    def _notify_locked(self, job):
        if job.cond is not None:
            job.cond.notify_all()

    # ---- start and stop ---------------------------------------------------------------

    def start(self):
        """Open the queue directory, recover the jobs found there, start the workers."""
        io.ensure_dirs([(self._dir, constants.JOB_QUEUE_DIRS_MODE),
                        (self._archive_dir, constants.JOB_QUEUE_DIRS_MODE)])
        self._check_version()
        self._remove_temp_files()
        serial_on_disk = self._read_serial()
        jobs = self._load_jobs()
        last = max([serial_on_disk, self._max_archived_id()] + list(jobs))
        self._writer.start()
        unclean = []
        finalized = []
        with self._lock:
            self._jobs = jobs
            self._last_serial = last
            now = _timestamp()
            for job_id in sorted(jobs):
                job = jobs[job_id]
                if job.calc_status() in (constants.JOB_STATUS_WAITING,
                                         constants.JOB_STATUS_RUNNING,
                                         constants.JOB_STATUS_CANCELING):
                    logging.warning("Job %s was being processed when the master daemon"
                                    " stopped; marking it as failed", job_id)
                    self._mark_unfinished_locked(
                        job, 0, constants.OP_STATUS_ERROR,
                        errors.encode(errors.OpExecError(constants.UNCLEAN_SHUTDOWN_MSG)),
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
        if last != serial_on_disk:
            self._writer.mark_serial()
        self._commit_jobs(unclean + finalized)
        self._writer.flush()
        logging.info("Job queue started with %d jobs (last id %d)", len(jobs), last)
        for idx in range(self._num_workers):
            thread = threading.Thread(target=self._worker_loop, name="jq-worker-%d" % idx,
                                      daemon=True)
            thread.job_id = None
            self._workers.append(thread)
            thread.start()

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
        self._workers = [t for t in self._workers if t.is_alive()]

    def _check_version(self):
        try:
            text = io.read_one_line_file(self._version_file)
        except FileNotFoundError:
            text = None
        if text is None or text == "":
            data = b"%d\n" % constants.JOB_QUEUE_VERSION
            io.write_file(self._version_file, data, mode=constants.JOB_QUEUE_FILES_PERMS)
            self._replicate(self._version_file, data)
            return
        try:
            version = int(text)
        except ValueError:
            version = None
        if version != constants.JOB_QUEUE_VERSION:
            raise errors.JobQueueError("Found job queue version %s, expected %s"
                                       % (text, constants.JOB_QUEUE_VERSION))

    def _remove_temp_files(self):
        for name in os.listdir(self._dir):
            if _TEMP_FILE_RE.match(name):
                io.remove_file(os.path.join(self._dir, name))

    def _read_serial(self):
        try:
            return int(io.read_one_line_file(self._serial_file))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as err:
            logging.error("Can not read the job queue serial file: %s", err)
            return 0

    def _load_jobs(self):
        jobs = {}
        for name in os.listdir(self._dir):
            match = _JOB_FILE_RE.match(name)
            if not match:
                continue
            job_id = int(match.group(1))
            path = os.path.join(self._dir, name)
            try:
                data = serializer.load_json(io.read_file(path, binary=True))
                job = _QueuedJob.restore(data)
                if job.id != job_id:
                    raise ValueError("file holds job %s" % job.id)
            except Exception as err:  # any parse problem: set the file aside
                logging.error("Job file %s is corrupted (%s); moving it to %s.corrupt",
                              path, err, path)
                try:
                    os.rename(path, path + ".corrupt")
                except OSError as rename_err:
                    logging.error("Could not rename %s: %s", path, rename_err)
                continue
            jobs[job_id] = job
        return jobs

    def _archive_subdirs(self):
        try:
            names = os.listdir(self._archive_dir)
        except FileNotFoundError:
            return []
        return sorted(int(n) for n in names if n.isdigit())

    def _max_archived_id(self):
        for sub in reversed(self._archive_subdirs()):
            ids = self._archived_ids_in(sub)
            if ids:
                return max(ids)
        return 0

    def _archived_ids_in(self, sub):
        try:
            names = os.listdir(os.path.join(self._archive_dir, str(sub)))
        except OSError:
            return []
        return [int(m.group(1)) for m in map(_JOB_FILE_RE.match, names) if m]

    def _load_archived_job(self, job_id):
        """The archived job ``job_id`` read from the archive, or None."""
        try:
            data = io.read_file(self._archive_path(job_id), binary=True)
            job = _QueuedJob.restore(serializer.load_json(data), archived=True)
        except FileNotFoundError:
            return None
        except Exception as err:
            logging.error("Can not read archived job %s: %s", job_id, err)
            return None
        return job if job.id == job_id else None

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
                data = _json_copy(op_dict)
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
            now = _timestamp()
            batch_ids = [None] * len(jobs_ops)
            for index, ops in enumerate(prepared):
                if ops is None:
                    continue
                self._last_serial += 1
                job_id = self._last_serial
                batch_ids[index] = job_id
                qops = []
                for data, priority in ops:
                    for dep in data.get("depends") or []:
                        if dep[0] < 0:
                            dep[0] = batch_ids[index + dep[0]]
                    qops.append(_QueuedOpCode(data, priority))
                job = _QueuedJob(job_id, qops, now)
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
                    msg = "Could not write the file of job %s: %s" % (job.id, err)
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
        """Make a queued job (not owned by a worker) runnable, parked or failed."""
        idx = job.current_index()
        if idx is None:
            job.state = _IDLE
            return
        state, msg = self._eval_deps_locked(job, job.ops[idx])
        if state == _DEP_OK:
            self._push_locked(job)
        elif state == _DEP_WAIT:
            job.state = _DEPWAIT
        else:
            self._fail_deps_locked(job, idx, msg)
            finalized.append(job)

    def _push_locked(self, job):
        job.state = _RUNNABLE
        job.heap_version += 1
        heapq.heappush(self._runnable, (job.calc_priority(), job.id, job.heap_version, job))
        self._work_cond.notify()

    def _pop_runnable_locked(self):
        while self._runnable:
            _, _, version, job = heapq.heappop(self._runnable)
            if job.state == _RUNNABLE and version == job.heap_version:
                return job
        return None

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
            job = self._load_archived_job(job_id)
            if job is not None:
                status = job.calc_status()
                self._archived_status[job_id] = status
        return status

    def _release_dependents_locked(self, job):
        """Reconsider the jobs parked on ``job``; returns those that failed."""
        finalized = []
        waiters = self._dep_waiters.pop(job.id, None) or {}
        for waiter in sorted(waiters.values(), key=lambda j: j.id):
            if waiter.state == _DEPWAIT:
                self._schedule_locked(waiter, finalized)
        return finalized

    def _mark_unfinished_locked(self, job, start, status, result, now):
        for op in job.ops[start:]:
            if op.status in constants.OPS_FINALIZED:
                continue
            op.status = status
            op.result = result
            if op.start_timestamp is not None and op.end_timestamp is None:
                op.end_timestamp = now

    def _fail_deps_locked(self, job, idx, msg):
        now = _timestamp()
        op = job.ops[idx]
        op.status = constants.OP_STATUS_ERROR
        op.result = errors.encode(errors.OpExecError(msg))
        self._mark_unfinished_locked(job, idx + 1, constants.OP_STATUS_ERROR,
                                     errors.encode(errors.OpExecError(_PREV_FAILED_MSG)),
                                     now)
        job.end_timestamp = now
        job.state = _IDLE

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
                    job = self._pop_runnable_locked()
                    if job is not None:
                        break
                    self._work_cond.wait()
                if job is None:
                    return
                job.state = _ACTIVE
                idx = job.current_index()
                self._begin_op_locked(job, idx)
            self._writer.mark(job.id, urgent=False)
            try:
                self._process_job(job, idx)
            except Exception:  # a bug in the queue itself; keep the worker alive
                logging.exception("Internal error while processing job %s", job.id)
            finally:
                thread.job_id = None

    def _begin_op_locked(self, job, idx):
        op = job.ops[idx]
        now = _timestamp()
        op.status = constants.OP_STATUS_WAITING
        op.start_timestamp = now
        if job.start_timestamp is None:
            job.start_timestamp = now
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
        try:
            opcode = opcodes.OpCode.from_dict(op.input)
            result = self._executor(opcode, OpExecCallbacks(self, job, op))
            try:
                return _SUCCESS, _json_copy(result)
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
        now = _timestamp()
        op = job.ops[idx]
        op.end_timestamp = now
        if outcome == _SUCCESS:
            op.status = constants.OP_STATUS_SUCCESS
            op.result = value
        elif outcome == _CANCELED:
            self._mark_unfinished_locked(job, idx, constants.OP_STATUS_CANCELED,
                                         CANCELED_MSG, now)
        else:
            op.status = constants.OP_STATUS_ERROR
            op.result = value
            self._mark_unfinished_locked(
                job, idx + 1, constants.OP_STATUS_ERROR,
                errors.encode(errors.OpExecError(_PREV_FAILED_MSG)), now)
        nxt = job.current_index()
        if nxt is not None and job.ops[nxt].status == constants.OP_STATUS_CANCELING:
            self._mark_unfinished_locked(job, nxt, constants.OP_STATUS_CANCELED,
                                         CANCELED_MSG, now)
            nxt = None
        if job.is_finalized():
            job.end_timestamp = now
            job.state = _IDLE
            return None
        if self._stopping:
            job.state = _IDLE       # stays queued on disk, resumes after a restart
            return None
        state, msg = self._eval_deps_locked(job, job.ops[nxt])
        if state == _DEP_OK:
            self._begin_op_locked(job, nxt)
            return nxt
        if state == _DEP_WAIT:
            job.state = _DEPWAIT
        else:
            self._fail_deps_locked(job, nxt, msg)
        return None

    # ---- callbacks from the executor ---------------------------------------------------

    def _add_log(self, job, op, log_type, msg):
        if not isinstance(msg, (str, int, float, bool, type(None))):
            try:
                msg = _json_copy(msg)
            except (TypeError, ValueError):
                msg = str(msg)
        with self._lock:
            if op.status in constants.OPS_FINALIZED:
                logging.warning("Job %s: log message after the opcode ended: %s",
                                job.id, msg)
                return
            job.log_serial += 1
            op.log.append([job.log_serial, _timestamp(), str(log_type), msg])
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
                    op.exec_timestamp = _timestamp()
        if canceled:
            raise errors.JobCanceled("Job %s canceled" % job.id)
        self._commit_jobs([job])

    # ---- queries ----------------------------------------------------------------------

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
        getters = _field_getters(fields)
        if job_ids is None:
            with self._lock:
                rows = [(jid, _row(self._jobs[jid], getters)) for jid in sorted(self._jobs)]
            if not archived:
                return [row for _, row in rows]
            live = set(jid for jid, _ in rows)
            for sub in self._archive_subdirs():
                for jid in self._archived_ids_in(sub):
                    if jid in live:
                        continue
                    job = self._load_archived_job(jid)
                    if job is not None:
                        rows.append((jid, _row(job, getters)))
            rows.sort(key=lambda item: item[0])
            return [row for _, row in rows]
        ids = [_parse_job_id(jid) for jid in job_ids]
        result = []
        missing = []
        with self._lock:
            for pos, jid in enumerate(ids):
                job = self._jobs.get(jid)
                if job is None:
                    missing.append(pos)
                    result.append(None)
                else:
                    result.append(_row(job, getters))
        for pos in missing:
            job = self._load_archived_job(ids[pos])
            if job is not None:
                result[pos] = _row(job, getters)
        return result

    def wait_for_job_changes(self, job_id, fields, prev_job_info, prev_log_serial,
                             timeout):
        """Long-poll: ``[job_info, log_entries]`` once something changed, or
        "nochange" after ``timeout`` seconds. A finalized job answers at once."""
        getters = _field_getters(fields)
        job_id = _parse_job_id(job_id)
        if prev_log_serial is None:
            prev_log_serial = -1
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                if job.cond is None:
                    job.cond = threading.Condition(self._lock)
                deadline = time.monotonic() + max(0.0, float(timeout or 0))
                while True:
                    info = _row(job, getters)
                    log = job.log_entries(prev_log_serial)
                    if log or info != prev_job_info or job.is_finalized():
                        return [info, log]
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return "nochange"
                    job.cond.wait(left)
        job = self._load_archived_job(job_id)
        if job is None:
            raise errors.JobLost("Job %s not found" % job_id)
        return [_row(job, getters), job.log_entries(prev_log_serial)]

    # ---- changes ----------------------------------------------------------------------

    def cancel_job(self, job_id):
        """Cancel a queued or waiting job; returns ``[success, message]``."""
        job_id = _parse_job_id(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return [False, "Job %s not found" % job_id]
            status = job.calc_status()
            if status == constants.JOB_STATUS_QUEUED and job.state != _ACTIVE:
                now = _timestamp()
                self._mark_unfinished_locked(job, 0, constants.OP_STATUS_CANCELED,
                                             CANCELED_MSG, now)
                job.end_timestamp = now
                job.state = _IDLE
                msg = "Job %s canceled" % job_id
            elif status == constants.JOB_STATUS_WAITING:
                for op in job.ops:
                    if op.status not in constants.OPS_FINALIZED:
                        op.status = constants.OP_STATUS_CANCELING
                msg = "Job %s will be canceled" % job_id
            else:
                return [False, "Job %s is no longer waiting in the queue" % job_id]
        self._commit_jobs([job])
        return [True, msg]

    def change_job_priority(self, job_id, priority):
        """Change the priority of the pending opcodes of a job."""
        job_id = _parse_job_id(job_id)
        if (not isinstance(priority, int) or isinstance(priority, bool)
                or priority not in constants.OP_PRIO_SUBMIT_VALID):
            raise errors.OpPrereqError(
                "Invalid priority %r, valid values: %s" % (
                    priority, ", ".join(map(str, sorted(constants.OP_PRIO_SUBMIT_VALID)))),
                errors.ECODE_INVAL)
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return [False, "Job %s not found" % job_id]
            status = job.calc_status()
            if status in constants.JOBS_FINALIZED:
                return [False, "Job %s has already finished" % job_id]
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
            if job.state == _RUNNABLE:
                self._push_locked(job)
        self._commit_jobs([job])
        return [True, "Priority of the pending opcodes of job %s changed to %s"
                % (job_id, priority)]

    def archive_job(self, job_id):
        """Move a finalized job to the archive; False if unknown or not finalized."""
        job_id = _parse_job_id(job_id)
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
                    if age == -1 or (ref is not None and now - _ts_seconds(ref) >= age):
                        job.archiving = True
                        chosen.append(job)
            if chosen:
                self._archive(chosen)
                archived += sum(1 for job in chosen if job.archived)
        return [archived, 0]

    def set_drain_flag(self, flag):
        """Set (True) or clear (False) the queue drain flag (file ``drain``)."""
        if flag:
            io.write_file(self._drain_file, b"", mode=constants.JOB_QUEUE_FILES_PERMS)
            self._replicate(self._drain_file, b"")
        else:
            io.remove_file(self._drain_file)
            io.fsync_dir(self._dir)
            self._replicate(self._drain_file, None)

    def is_drained(self):
        return os.path.exists(self._drain_file)
