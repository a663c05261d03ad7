"""Jobs and opcodes in memory: their records and job file format, the status and
priority derived from the opcodes, the query fields, and the callbacks an
executor gets for one opcode."""

import time

from ganeti import constants, errors, opcodes, serializer

CANCELED_MSG = "Job canceled by request"
PREV_FAILED_MSG = "Not run: an earlier opcode of this job failed"

# scheduling state of a job (set by the JobQueue)
IDLE = "idle"             # finalized, or not scheduled (e.g. after shutdown)
RUNNABLE = "runnable"     # in the run heap
DEPWAIT = "depwait"       # waiting for dependencies
ACTIVE = "active"         # owned by a worker
HELD = "held"             # not started: kept back by a job filter rule or rate limit


def timestamp():
    """Now as ``[seconds, microseconds]``."""
    now = time.time()
    sec = int(now)
    return [sec, int((now - sec) * 1000000)]


def ts_seconds(ts):
    return ts[0] + ts[1] / 1000000.0


def parse_job_id(value):
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


def json_copy(value):
    """``value`` as it reads back from JSON (lists, str keys, the order of its
    dicts kept); TypeError/ValueError if it can not be serialized."""
    return serializer.load_json(serializer.dump_json_ordered(value))


class QueuedOpCode:
    """One opcode of a job with its execution state."""

    __slots__ = ("input", "secrets", "status", "result", "log", "priority",
                 "start_timestamp", "exec_timestamp", "end_timestamp")

    def __init__(self, op_input, priority):
        # secret values stay here, in memory only; ``input`` (what is written and
        # replicated) holds "<redacted>" in their place
        self.input, self.secrets = opcodes.split_secrets(op_input)
        self.status = constants.OP_STATUS_QUEUED
        self.result = None
        self.log = []
        self.priority = priority
        self.start_timestamp = None
        self.exec_timestamp = None
        self.end_timestamp = None

    def to_opcode(self):
        """The opcode to execute, with its secret values back in place."""
        data = dict(self.input)
        data.update(self.secrets)
        return opcodes.OpCode.from_dict(data)

    def stored_log(self):
        """The log as the job file and job queries have it: messages quoting a
        secret value get it redacted (gnt-debug test-osparams logs them); the
        clients following the job (log_entries) get them as logged."""
        if not self.secrets:
            return list(self.log)
        return [entry[:3] + [opcodes.redact_secret_values(entry[3], self.secrets)
                             if isinstance(entry[3], str) else entry[3]]
                for entry in self.log]

    def serialize(self):
        return {
            "input": self.input,
            "status": self.status,
            "result": self.result,
            "log": self.stored_log(),
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


class QueuedJob:
    """A job: its opcodes, timestamps and scheduling state."""

    __slots__ = ("id", "ops", "summary", "received_timestamp", "start_timestamp",
                 "end_timestamp", "log_serial", "archived", "archiving", "cond",
                 "state", "heap_version", "end_write_gen", "filter_facts")

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
        self.end_write_gen = 0    # writer batch holding the latest opcode end
        self.state = IDLE
        self.heap_version = 0
        self.filter_facts = None  # jqueue.filtering.JobFacts, made when rules judge it

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
        job = cls(job_id, [QueuedOpCode.restore(op) for op in ops],
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
    "ops": lambda job: [opcodes.shown_input(op.input) for op in job.ops],
    "opresult": _op_list("result"),
    "opstatus": _op_list("status"),
    "oplog": lambda job: [[list(entry) for entry in op.stored_log()] for op in job.ops],
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


def field_getters(fields):
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


def job_row(job, getters):
    return [getter(job) for getter in getters]


def count_jobs(jobs):
    """The jobs by status ({status: count}) and their opcodes by OP_ID and
    status ([[op id, status, count]]), for the master's metrics. Called
    without the queue lock (on a copy of the job list): a count may be one
    change behind."""
    by_status = {}
    by_opcode = {}
    for job in jobs:
        status = job.calc_status()
        by_status[status] = by_status.get(status, 0) + 1
        for op in job.ops:
            key = (str(op.input.get("OP_ID")), op.status)
            by_opcode[key] = by_opcode.get(key, 0) + 1
    return by_status, [[op_id, status, count]
                       for (op_id, status), count in sorted(by_opcode.items())]


class OpEndCounts:
    """The opcodes that ended since the master daemon started, by OP_ID and
    final status, with the seconds they took from start (locks included) to
    end. Updated under the queue lock."""

    def __init__(self):
        self._counts = {}           # (op id, status) -> [count, seconds]

    def add(self, op, now):
        key = (str(op.input.get("OP_ID")), op.status)
        entry = self._counts.get(key)
        if entry is None:
            entry = self._counts[key] = [0, 0.0]
        entry[0] += 1
        if op.start_timestamp:
            entry[1] += max(ts_seconds(now) - ts_seconds(op.start_timestamp), 0.0)

    def rows(self):
        """[[op id, status, count, seconds], ...] sorted."""
        return [[op_id, status, count, round(seconds, 6)]
                for (op_id, status), (count, seconds) in sorted(self._counts.items())]


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

    def submit_many_jobs(self, jobs):
        """Submit jobs an opcode made (each a list of opcode dicts); per job
        [True, id] or [False, message], as the queue's submit_many_jobs."""
        return self._queue.submit_many_jobs(jobs)
