#!/usr/bin/python3
"""Benchmark of the core: job throughput, CLI latency, daemon memory.

Brings up a one-node virtual cluster (test/cluster/vcluster.py), measures, and
tears it down. Prints figures; it is not a pass/fail test.

    sudo /usr/bin/python3 test/bench/bench_core.py [--jobs 500] [--runs 10]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))

import vcluster  # noqa: E402
from ganeti import luxi  # noqa: E402

_DELAY0 = {"OP_ID": "OP_TEST_DELAY", "duration": 0, "on_master": True}


def _wait_all(cl, ids, timeout=600):
    deadline = time.time() + timeout
    pending = set(ids)
    while pending:
        rows = cl.query_jobs(sorted(pending), ["id", "status"])
        for row in rows:
            if row and row[1] in ("success", "error", "canceled"):
                pending.discard(row[0])
        if time.time() > deadline:
            raise RuntimeError("%d jobs did not finish" % len(pending))
        if pending:
            time.sleep(0.01)


def bench_jobs_at_once(cl, count):
    start = time.time()
    results = cl.submit_many_jobs([[_DELAY0]] * count)
    ids = [jid for ok, jid in results if ok]
    submitted = time.time()
    _wait_all(cl, ids)
    end = time.time()
    return count / (end - start), submitted - start, end - start


def bench_jobs_one_by_one(cl, count):
    start = time.time()
    ids = [cl.submit_job([_DELAY0]) for _ in range(count)]
    submitted = time.time()
    _wait_all(cl, ids)
    end = time.time()
    return count / (end - start), submitted - start, end - start


def bench_jobs_serial_wait(cl, count):
    """Submit one job and wait for it before the next (latency of one job)."""
    start = time.time()
    for _ in range(count):
        jid = cl.submit_job([_DELAY0])
        prev = None
        while True:
            res = cl.wait_for_job_change_once(jid, ["status"], prev, None, 5)
            if res != "nochange":
                prev = res[0]
                if prev[0] in ("success", "error", "canceled"):
                    break
    return (time.time() - start) / count


def time_command(node, argv, runs):
    times = []
    for _ in range(runs):
        start = time.time()
        proc = node.run(*argv)
        times.append(time.time() - start)
        if proc.returncode != 0:
            raise RuntimeError("%s failed: %s" % (argv, proc.stderr))
    return statistics.median(times), min(times)


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as fd:
        for line in fd:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    vc = vcluster.VirtualCluster(1)
    try:
        t0 = time.time()
        vc.init()
        print("cluster init (1 node, virtual):         %.2f s" % (time.time() - t0))
        m = vc.master
        cl = luxi.Client(m.path("/var/run/ganeti/socket/ganeti-master"))
        rate, sub, total = bench_jobs_at_once(cl, args.jobs)
        print("%d no-op jobs submitted at once:        %.0f jobs/s (submit %.2f s, all"
              " done %.2f s)" % (args.jobs, rate, sub, total))
        rate, sub, total = bench_jobs_one_by_one(cl, args.jobs)
        print("%d no-op jobs submitted one by one:     %.0f jobs/s (submit %.2f s, all"
              " done %.2f s)" % (args.jobs, rate, sub, total))
        latency = bench_jobs_serial_wait(cl, 50)
        print("one job, submit + wait (50 in a row):   %.1f ms each" % (latency * 1000))
        for argv in (["gnt-node", "list"], ["gnt-job", "list"], ["gnt-cluster", "info"]):
            med, best = time_command(m, argv, args.runs)
            print("%-40s %.0f ms median, %.0f ms best (%d runs)"
                  % (" ".join(argv) + ":", med * 1000, best * 1000, args.runs))
        print("(gnt-job list above lists %d jobs)" % (2 * args.jobs + 50))
        print("ganeti-masterd RSS:                      %.1f MiB"
              % rss_mib(m.pid("ganeti-masterd")))
        print("ganeti-noded RSS:                        %.1f MiB"
              % rss_mib(m.pid("ganeti-noded")))
        start = time.time()
        subprocess.run([vcluster.PYTHON, "-c", "pass"])
        print("(python3 -c pass on this machine:        %.0f ms)"
              % ((time.time() - start) * 1000))
    finally:
        vc.cleanup()


if __name__ == "__main__":
    main()
