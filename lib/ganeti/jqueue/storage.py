"""Where the job queue keeps its jobs: the interface of a queue store, and the
store in a local directory.

A store holds the live jobs, the archived jobs, the last job id handed out,
the drain flag and the queue format version. The master daemon keeps its
queue in etcd (``etcdstore.EtcdQueueStore``), so that any master candidate
can take over the queue; ``QueueDir`` keeps the same records as files in a
directory of this machine (the layout of the package docstring). Both offer:

  open()                        check the version, tidy up; ready to use
  load() -> (last id, {id: QueuedJob})   the live jobs (and the last id)
  write_batch(writes, archives, serial) -> {id: error}
                                write [(id, job dict)], archive [(id, job dict)]
                                (key None of the result: the serial failed)
  archived_ids()                ids of the archived jobs, sorted
  load_archived_job(id)         an archived job, or None
  is_drained(), set_drained(flag)
  unclean_message()             why jobs found running at start failed
  close()

Files are written with ``utils.io.write_file`` (temporary file, fsync, rename)
but without its directory fsync, several in parallel so that the filesystem
can commit their fsyncs together; each directory is fsynced once per batch.
"""

import logging
import os
import re
from concurrent import futures

from ganeti import constants, errors, serializer
from ganeti.jqueue.job import QueuedJob
from ganeti.utils import io

_JOB_FILE_RE = re.compile(r"^job-(\d+)$")
_TEMP_FILE_RE = re.compile(r"^\.(job-\d+|serial|version|drain)\.")
_WRITE_THREADS = 8           # files written in parallel inside one batch


def check_version(text):
    """Refuse a queue whose format version (text, as stored) is not ours."""
    try:
        version = int(text)
    except (TypeError, ValueError):
        version = None
    if version != constants.JOB_QUEUE_VERSION:
        raise errors.JobQueueError("Found job queue version %s, expected %s"
                                   % (text, constants.JOB_QUEUE_VERSION))


def restore_job(raw, job_id, archived=False):
    """The job of a stored record; ValueError if it is not job ``job_id``."""
    job = QueuedJob.restore(serializer.load_json(raw), archived=archived)
    if job.id != job_id:
        raise ValueError("the record holds job %s" % job.id)
    return job


class QueueDir:
    """The job queue as files in one directory."""

    def __init__(self, path):
        self.path = path
        self.archive_dir = os.path.join(path, "archive")
        self.serial_file = os.path.join(path, "serial")
        self.version_file = os.path.join(path, "version")
        self.drain_file = os.path.join(path, "drain")
        self._pool = None

    def job_path(self, job_id):
        return os.path.join(self.path, "%s%d" % (constants.JOB_FILE_PREFIX, job_id))

    def archive_path(self, job_id):
        return os.path.join(self.archive_dir,
                            str(job_id // constants.JOB_ARCHIVE_DIRECTORY_SIZE),
                            "%s%d" % (constants.JOB_FILE_PREFIX, job_id))

    def holds_jobs(self):
        """Whether the directory holds a queue (a serial, job or archive file)."""
        if not os.path.isdir(self.path):
            return False
        return (os.path.exists(self.serial_file) or bool(self.archived_ids())
                or any(_JOB_FILE_RE.match(n) for n in os.listdir(self.path)))

    # ---- open, load ---------------------------------------------------------------

    def open(self):
        io.ensure_dirs([(self.path, constants.JOB_QUEUE_DIRS_MODE),
                        (self.archive_dir, constants.JOB_QUEUE_DIRS_MODE)])
        try:
            text = io.read_one_line_file(self.version_file)
        except FileNotFoundError:
            text = None
        if not text:
            io.write_file(self.version_file, b"%d\n" % constants.JOB_QUEUE_VERSION,
                          mode=constants.JOB_QUEUE_FILES_PERMS)
        else:
            check_version(text)
        self.remove_temp_files()

    def remove_temp_files(self):
        """Remove temporary files left by writes that a crash interrupted."""
        for name in os.listdir(self.path):
            if _TEMP_FILE_RE.match(name):
                io.remove_file(os.path.join(self.path, name))

    def read_serial(self):
        """The last job id handed out, as written (0 if missing or unreadable)."""
        try:
            return int(io.read_one_line_file(self.serial_file))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as err:
            logging.error("Can not read the job queue serial file: %s", err)
            return 0

    def load(self):
        jobs = self.load_jobs()
        ids = self.archived_ids()
        return max([self.read_serial(), ids[-1] if ids else 0] + list(jobs)), jobs

    def load_jobs(self):
        """The live jobs by id; unreadable job files are renamed to ``*.corrupt``."""
        jobs = {}
        for name in os.listdir(self.path):
            match = _JOB_FILE_RE.match(name)
            if not match:
                continue
            job_id = int(match.group(1))
            path = os.path.join(self.path, name)
            try:
                jobs[job_id] = restore_job(io.read_file(path, binary=True), job_id)
            except Exception as err:  # any parse problem: set the file aside
                logging.error("Job file %s is corrupted (%s); moving it to %s.corrupt",
                              path, err, path)
                try:
                    os.rename(path, path + ".corrupt")
                except OSError as rename_err:
                    logging.error("Could not rename %s: %s", path, rename_err)
        return jobs

    # ---- the archive --------------------------------------------------------------

    def archive_subdirs(self):
        """The numbers of the archive subdirectories, sorted."""
        try:
            names = os.listdir(self.archive_dir)
        except FileNotFoundError:
            return []
        return sorted(int(n) for n in names if n.isdigit())

    def archived_ids(self):
        result = []
        for sub in self.archive_subdirs():
            try:
                names = os.listdir(os.path.join(self.archive_dir, str(sub)))
            except OSError:
                continue
            result.extend(int(m.group(1)) for m in map(_JOB_FILE_RE.match, names) if m)
        return sorted(result)

    def load_archived_job(self, job_id):
        """The archived job ``job_id`` read from the archive, or None."""
        try:
            return restore_job(io.read_file(self.archive_path(job_id), binary=True),
                               job_id, archived=True)
        except FileNotFoundError:
            return None
        except Exception as err:
            logging.error("Can not read archived job %s: %s", job_id, err)
            return None

    def unclean_message(self):
        return constants.UNCLEAN_SHUTDOWN_MSG

    # ---- the drain flag -----------------------------------------------------------

    def is_drained(self):
        return os.path.exists(self.drain_file)

    def set_drained(self, flag):
        if flag:
            io.write_file(self.drain_file, b"", mode=constants.JOB_QUEUE_FILES_PERMS)
        else:
            io.remove_file(self.drain_file)
            io.fsync_dir(self.path)

    # ---- writing ------------------------------------------------------------------

    def write_batch(self, writes, archives, serial):
        items = [(job_id, self.job_path(job_id), _encode(data)) for job_id, data in writes]
        archive_dirs = set()
        for job_id, data in archives:
            path = self.archive_path(job_id)
            items.append((job_id, path, _encode(data)))
            archive_dirs.add(os.path.dirname(path))
        new_dirs = False
        for path in archive_dirs:
            if not os.path.isdir(path):
                os.makedirs(path, mode=constants.JOB_QUEUE_DIRS_MODE, exist_ok=True)
                new_dirs = True
        if new_dirs:
            io.fsync_dir(self.archive_dir)
        if serial is not None:
            items.append((None, self.serial_file, b"%d\n" % serial))

        failed, dirs = self._write_files(items)
        for path in sorted(archive_dirs & dirs):
            io.fsync_dir(path)
        removed = False
        for job_id, _ in archives:
            if job_id in failed:
                continue
            try:
                io.remove_file(self.job_path(job_id))
                removed = True
            except OSError as err:
                failed[job_id] = err
        if removed or (dirs - archive_dirs):
            io.fsync_dir(self.path)
        return failed

    def _write_files(self, items):
        """Atomically replace each file of ``[(key, path, bytes)]``; no directory fsync.

        Returns ({key: error} of the files that failed, set of directories touched).
        """
        if len(items) > 2:
            if self._pool is None:
                self._pool = futures.ThreadPoolExecutor(
                    max_workers=_WRITE_THREADS, thread_name_prefix="jq-write")
            results = list(self._pool.map(_write_file, items))
        else:
            results = [_write_file(item) for item in items]
        failed = {}
        dirs = set()
        for (key, path, _), err in zip(items, results):
            if err is None:
                dirs.add(os.path.dirname(path))
            else:
                failed[key] = err
        return failed, dirs

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


def _encode(data):
    return serializer.dump_json(data).encode("utf-8")


def _write_file(item):
    """Atomically replace the file of ``(key, path, data)``, without fsync of its
    directory; returns None or the OSError."""
    _, path, data = item
    try:
        io.write_file(path, data, mode=constants.JOB_QUEUE_FILES_PERMS, fsync_dir=False)
    except OSError as err:
        return err
    return None
