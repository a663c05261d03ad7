"""The job file writer: one thread writes the files of changed jobs in batches.

Callers mark a job to write (urgent or lazy, see "Durability" in the package
docstring) and get the number of the batch to wait for. A batch copies the
state of its jobs under the queue lock, then writes each file once with
``utils.io.write_file`` but without its directory fsync (several files in
parallel, so that the filesystem can commit their fsyncs together), fsyncs each
directory once, removes the live files of the jobs it archived and hands the
written files to the queue's replication callback.
"""

import logging
import os
import threading
import time
from concurrent import futures

from ganeti import constants, serializer
from ganeti.utils import io

_LAZY_WRITE_DELAY = 0.1      # seconds a lazy change may wait to be written
_WRITE_THREADS = 8           # files written in parallel inside one batch

# actions of a marked job
_WRITE = 1
_ARCHIVE = 2


class JobFileWriter:
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

    def is_written(self, gen):
        with self._lock:
            return self._done_gen >= gen

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
                    archives.append((job_id, queue._qdir.archive_path(job_id),
                                     queue._qdir.job_path(job_id), data))
                else:
                    writes.append((job_id, queue._qdir.job_path(job_id), data))
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
            io.fsync_dir(queue._qdir.archive_dir)
        if serial_value is not None:
            items.append((None, queue._qdir.serial_file, b"%d\n" % serial_value))

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
            io.fsync_dir(queue._qdir.path)
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


def _write_file(item):
    """Atomically replace the file of ``(key, path, data)``, without fsync of its
    directory; returns None or the OSError."""
    _, path, data = item
    try:
        io.write_file(path, data, mode=constants.JOB_QUEUE_FILES_PERMS, fsync_dir=False)
    except OSError as err:
        return err
    return None
