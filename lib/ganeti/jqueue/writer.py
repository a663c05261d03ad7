"""The job writer: one thread stores the changed jobs in batches.

Callers mark a job to write (urgent or lazy, see "Durability" in the package
docstring) and get the number of the batch to wait for. A batch copies the
state of its jobs under the queue lock, then hands them to the queue's store
(storage.py) in one ``write_batch`` call: each job is stored once per batch,
however often it changed (group commit).
"""

import logging
import threading
import time

_LAZY_WRITE_DELAY = 0.1      # seconds a lazy change may wait to be written

# actions of a marked job
_WRITE = 1
_ARCHIVE = 2


class JobWriter:
    """Stores changed jobs in batches (group commit), on its own thread."""

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
        writes, archives = [], []
        with queue._lock:
            for job_id, action in batch.items():
                job = queue._jobs.get(job_id)
                if job is None:
                    continue
                (archives if action == _ARCHIVE else writes).append((job_id, job.serialize()))
            serial_value = queue._last_serial if serial else None
        failed = queue._store.write_batch(writes, archives, serial_value)
        serial_error = failed.pop(None, None)
        if serial_error is not None:
            logging.error("Could not store the last job id: %s", serial_error)
        for job_id, err in failed.items():
            logging.error("Could not store job %s: %s", job_id, err)
        return failed
