#!/usr/bin/python3
"""Benchmark of the job queue alone (no LUXI, no locks): trivial jobs per second.

Every job is still written and fsync'd when submitted, when its opcode starts
executing and when it ends. Prints figures; not a pass/fail test.

    /usr/bin/python3 test/bench/bench_jqueue.py [--jobs 500] [--workers 25] [--dir DIR]

DIR should be on the filesystem to measure (default: a temporary directory
under /var/tmp; tmpfs would make fsync free).
"""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))

from ganeti import constants, jqueue  # noqa: E402

_DELAY0 = {"OP_ID": "OP_TEST_DELAY", "duration": 0}


class _FsyncCounter:
    """Counts os.fsync calls (files and directories)."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()
        self._real = os.fsync

    def __call__(self, fd):
        with self._lock:
            self.count += 1
        return self._real(fd)


def _executor(op, cbs):
    cbs.notify_start()          # like mcpu: locks held, opcode running
    return None


def _wait_all(queue, ids, timeout=600):
    deadline = time.time() + timeout
    pending = list(ids)
    while pending:
        rows = queue.query_jobs(pending, ["status"])
        pending = [jid for jid, row in zip(pending, rows)
                   if row[0] not in constants.JOBS_FINALIZED]
        if time.time() > deadline:
            raise RuntimeError("%d jobs did not finish" % len(pending))
        if pending:
            time.sleep(0.002)


def bench_at_once(queue, count):
    start = time.time()
    ids = [jid for ok, jid in queue.submit_many_jobs([[_DELAY0]] * count) if ok]
    submitted = time.time()
    _wait_all(queue, ids)
    end = time.time()
    return count / (end - start), submitted - start, end - start


def bench_one_by_one(queue, count):
    start = time.time()
    ids = [queue.submit_job([_DELAY0]) for _ in range(count)]
    submitted = time.time()
    _wait_all(queue, ids)
    end = time.time()
    return count / (end - start), submitted - start, end - start


def bench_serial_wait(queue, count):
    """Submit one job and wait for its end before the next: latency per job."""
    start = time.time()
    for _ in range(count):
        job_id = queue.submit_job([_DELAY0])
        prev = None
        while True:
            res = queue.wait_for_job_changes(job_id, ["status"], prev, None, 5)
            if res != "nochange":
                prev = res[0]
                if prev[0] in constants.JOBS_FINALIZED:
                    break
    return (time.time() - start) / count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=25)
    parser.add_argument("--dir", default=None, help="parent directory of the queue")
    opts = parser.parse_args()

    counter = _FsyncCounter()
    os.fsync = counter
    base = tempfile.mkdtemp(prefix="bench-jqueue-", dir=opts.dir or "/var/tmp")
    try:
        queue = jqueue.JobQueue(os.path.join(base, "queue"), _executor,
                                num_workers=opts.workers)
        queue.start()
        try:
            for name, fn in (("at once (SubmitManyJobs)", bench_at_once),
                             ("one after another (SubmitJob)", bench_one_by_one)):
                before = counter.count
                rate, submit, total = fn(queue, opts.jobs)
                print("%-32s %7.0f jobs/s  (submit %.3fs, all done %.3fs, %.2f fsyncs"
                      "/job)" % (name, rate, submit, total,
                                 (counter.count - before) / float(opts.jobs)))
            count = min(opts.jobs, 200)
            latency = bench_serial_wait(queue, count)
            print("%-32s %7.2f ms/job (%d jobs, submit + wait until done)"
                  % ("latency of one job", latency * 1000, count))
        finally:
            queue.shutdown()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
