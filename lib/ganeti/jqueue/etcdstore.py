"""The job queue in etcd: every job is stored on a majority of the master
candidates before it is acknowledged, so any candidate can take over the queue.

Layout (values are the job records of the job files, JSON):

  /ganeti/jobs/version              queue format version
  /ganeti/jobs/serial               last job id handed out
  /ganeti/jobs/drain                exists => new jobs are refused
  /ganeti/jobs/master               the node whose master daemon opened it last
  /ganeti/jobs/live/<id>            one per job not yet archived
  /ganeti/jobs/archive/<id>         archived jobs

Ids in keys have ten digits, so that keys sort by id. A batch of the writer
becomes a few transactions sent in parallel, each of at most _TXN_OPS
operations and about _TXN_BYTES bytes; archiving a job (put into the archive,
delete from the live jobs) is always one transaction. Every transaction
carries the compares of ``fence`` (the master's lease, see
``ganeti.etcd.masterlease``), so a master that lost its role cannot write.

Every write is idempotent (it puts a job's whole state), so one whose answer
was lost, or that found no leader, is sent again for up to RETRY_TIME
seconds; the writer never has two batches on their way, so an old state
cannot overwrite a newer one.
"""

import logging
import time
from concurrent import futures

from ganeti import constants, errors, serializer
from ganeti.etcd.client import Compare, Op
from ganeti.jqueue.job import ts_seconds
from ganeti.jqueue.storage import QueueDir, check_version, restore_job

PREFIX = b"/ganeti/jobs/"
VERSION_KEY = PREFIX + b"version"
SERIAL_KEY = PREFIX + b"serial"
DRAIN_KEY = PREFIX + b"drain"
MASTER_KEY = PREFIX + b"master"
LIVE = PREFIX + b"live/"
ARCHIVE = PREFIX + b"archive/"

_TXN_OPS = 64               # etcd refuses transactions of more than 128 operations
_TXN_BYTES = 512 * 1024     # and requests over 1.5 MiB
_THREADS = 8                # transactions of one batch on their way at once
RETRY_TIME = 10.0           # how long a write is sent again while etcd cannot answer
_RETRY_PAUSE = 0.2


def live_key(job_id: int) -> bytes:
    return LIVE + b"%010d" % job_id


def archive_key(job_id: int) -> bytes:
    return ARCHIVE + b"%010d" % job_id


def _id_of(key: bytes) -> int:
    return int(key.rsplit(b"/", 1)[1])


class FencedError(errors.JobQueueError):
    """A write was refused because this master no longer holds its role."""


class EtcdQueueStore:
    """The job queue's store in etcd (the interface of storage.py)."""

    def __init__(self, client, fence=None, import_dir=None, node_name=None):
        """``fence``: returns the compares every write must pass (a list);
        ``import_dir``: a queue directory whose jobs are imported into an
        empty store (a cluster upgraded from files); ``node_name``: this
        master's node."""
        self.client = client
        self._fence = fence or list
        self._import_dir = import_dir
        self._node_name = node_name
        self._previous_master = None
        self.master_revision = 0   # MASTER_KEY's mod revision as this store wrote it
        self._drained = False
        self._pool = None

    # ---- open, load ---------------------------------------------------------------

    def open(self):
        kv = self.client.get(VERSION_KEY)
        if kv is None:
            if self._import_dir is not None:
                self._import(QueueDir(self._import_dir))
            # last: a store without a version is empty or half-imported
            self._txn([Op.put(VERSION_KEY, b"%d" % constants.JOB_QUEUE_VERSION)])
        else:
            check_version(kv.value.decode("ascii", "replace"))
        self._drained = self.client.get(DRAIN_KEY) is not None
        if self._node_name is not None:
            kv = self.client.get(MASTER_KEY)
            self._previous_master = None if kv is None else kv.value.decode("utf-8")
            self.master_revision = self._txn(
                [Op.put(MASTER_KEY, self._node_name.encode("utf-8"))])

    def unchanged_compares(self):
        """Compares that hold while no other master daemon opened the queue
        since this one did."""
        return [Compare.mod_revision(MASTER_KEY, "=", self.master_revision)]

    def unclean_message(self):
        """Why the jobs found running at start failed."""
        if self._previous_master in (None, self._node_name):
            return constants.UNCLEAN_SHUTDOWN_MSG
        return ("%s: the master daemon on %s stopped while the job was running; %s is"
                " the master now" % (constants.UNCLEAN_SHUTDOWN_MSG,
                                     self._previous_master, self._node_name))

    def _import(self, qdir):
        if not qdir.holds_jobs():
            return
        last, jobs = qdir.load()
        archived = []
        for job_id in qdir.archived_ids():
            job = qdir.load_archived_job(job_id)
            if job is not None:
                archived.append((job_id, job.serialize()))
        logging.info("Importing the job queue of %s into etcd: %d jobs, %d archived",
                     qdir.path, len(jobs), len(archived))
        ops = [Op.put(archive_key(i), _encode(d)) for i, d in archived]
        ops += [Op.put(live_key(i), _encode(j.serialize())) for i, j in sorted(jobs.items())]
        ops.append(Op.put(SERIAL_KEY, b"%d" % last))
        if qdir.is_drained():
            ops.append(Op.put(DRAIN_KEY, b""))
        for chunk in _chunks([[op] for op in ops]):
            self._txn([group[0] for group in chunk])

    def load(self):
        kvs, _ = self.client.get_prefix(LIVE)
        jobs = {}
        for kv in kvs:
            job_id = _id_of(kv.key)
            try:
                jobs[job_id] = restore_job(kv.value, job_id)
            except Exception as err:  # a bad record must not stop the queue
                logging.error("Job %s in etcd can not be read (%s); leaving it out",
                              job_id, err)
        kv = self.client.get(SERIAL_KEY)
        serial = int(kv.value) if kv is not None else 0
        archived = self.archived_ids()
        return max([serial, archived[-1] if archived else 0] + list(jobs)), jobs

    # ---- the archive --------------------------------------------------------------

    def archived_ids(self):
        kvs, _ = self.client.get_prefix(ARCHIVE, keys_only=True)
        return [_id_of(kv.key) for kv in kvs]

    def load_archived_job(self, job_id):
        try:
            kv = self.client.get(archive_key(job_id))
            return None if kv is None else restore_job(kv.value, job_id, archived=True)
        except errors.EtcdError as err:
            raise errors.JobQueueError("Can not read archived job %s from etcd: %s"
                                       % (job_id, err))
        except Exception as err:
            logging.error("Can not read archived job %s: %s", job_id, err)
            return None

    # ---- the drain flag -----------------------------------------------------------

    def is_drained(self):
        # only the master changes it, through set_drained
        return self._drained

    def set_drained(self, flag):
        try:
            self._txn([Op.put(DRAIN_KEY, b"") if flag else Op.delete(DRAIN_KEY)])
        except errors.GenericError as err:
            raise errors.JobQueueError("Could not change the drain flag in etcd: %s" % err)
        self._drained = flag

    # ---- writing ------------------------------------------------------------------

    def write_batch(self, writes, archives, serial):
        groups = []      # (job id or None, [ops]) kept in one transaction
        for job_id, data in writes:
            groups.append((job_id, [Op.put(live_key(job_id), _encode(data))]))
        for job_id, data in archives:
            groups.append((job_id, [Op.put(archive_key(job_id), _encode(data)),
                                    Op.delete(live_key(job_id))]))
        if serial is not None:
            groups.insert(0, (None, [Op.put(SERIAL_KEY, b"%d" % serial)]))
        txns = []        # ([job ids], [ops])
        for chunk in _chunks(groups, key=lambda g: g[1]):
            txns.append(([g[0] for g in chunk], [op for g in chunk for op in g[1]]))
        if len(txns) > 1:
            if self._pool is None:
                self._pool = futures.ThreadPoolExecutor(
                    max_workers=_THREADS, thread_name_prefix="jq-etcd")
            results = list(self._pool.map(lambda t: self._try_txn(t[1]), txns))
        else:
            results = [self._try_txn(t[1]) for t in txns]
        failed = {}
        for (ids, _), err in zip(txns, results):
            if err is not None:
                failed.update((job_id, err) for job_id in ids)
        return failed

    def _try_txn(self, ops):
        try:
            self._txn(ops)
        except errors.GenericError as err:
            return err
        return None

    def _txn(self, ops):
        """Run ``ops`` if the fence holds; sent again while etcd cannot answer."""
        end = time.monotonic() + RETRY_TIME
        while True:
            try:
                result = self.client.txn(self._fence(), ops)
            except (errors.EtcdUnavailableError, errors.EtcdOutcomeUnknownError) as err:
                if time.monotonic() >= end:
                    raise errors.JobQueueError(
                        "the cluster's etcd did not store it within %ss (has it lost its"
                        " quorum? check ganeti-etcd on the master candidates): %s"
                        % (RETRY_TIME, err))
                time.sleep(_RETRY_PAUSE)
                continue
            if not result.succeeded:
                raise FencedError("This node is no longer the master (it lost the"
                                  " master lease); the job queue change was not stored")
            return result.revision

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


def remove_archived_before(client, before: float, log=lambda msg: None) -> int:
    """Delete the archived jobs that ended before ``before`` (seconds since the
    epoch; ganeti-cleaner); returns how many were deleted."""
    kvs, _ = client.get_prefix(ARCHIVE)
    count = 0
    for kv in kvs:
        job_id = _id_of(kv.key)
        try:
            ref = restore_job(kv.value, job_id, archived=True).end_reference()
        except Exception as err:  # a bad record is left for a human
            log("archived job %s can not be read (%s); left alone" % (job_id, err))
            continue
        if ref is None or ts_seconds(ref) >= before:
            continue
        # only if unchanged since read
        if client.txn([Compare.mod_revision(kv.key, "=", kv.mod_revision)],
                      [Op.delete(kv.key)]).succeeded:
            log("removed archived job %s" % job_id)
            count += 1
    return count


def _encode(data) -> bytes:
    return serializer.dump_json(data).encode("utf-8")


def _op_size(op) -> int:
    return len(op.key) + len(op.value)


def _chunks(groups, key=lambda g: g):
    """``groups`` split into runs of at most _TXN_OPS operations and about
    _TXN_BYTES bytes; a group (a list of ops, via ``key``) is never split."""
    chunk, ops, size = [], 0, 0
    for group in groups:
        group_ops = key(group)
        group_size = sum(_op_size(op) for op in group_ops)
        if chunk and (ops + len(group_ops) > _TXN_OPS or size + group_size > _TXN_BYTES):
            yield chunk
            chunk, ops, size = [], 0, 0
        chunk.append(group)
        ops += len(group_ops)
        size += group_size
    if chunk:
        yield chunk
