#!/usr/bin/python3
"""Benchmark of replication and failover (issue 8's figures) on 3 namespace nodes.

    sudo /usr/bin/python3 test/bench/bench_failover.py [--quick] [--skip-cut]

Brings up its own 3-node network-namespace cluster (test/cluster/netns_cluster.py,
prefix "gntp"; all 3 nodes master candidates), taking the test-bed lock as the
netns cluster tests do (so it waits while another cluster run holds it), and
prints one figure per line:

  1. jobs/s for 500 no-op jobs (OP_TEST_DELAY, duration 0) submitted at once,
     and for 100 submitted one by one (submit, wait for it, next);
  2. gnt-instance add latency (fake hypervisor, diskless, the noop OS) with all
     candidates up (median of 5) and with node3 cut off (median of 3), and the
     latency of one no-op job with node3 cut off (median of 3);
  3. seconds until node3's config.data has the master's serial_no after
     ``uncut 3``, or "did not converge in 120 s";
  4. planned ``gnt-cluster master-failover`` run on node2: seconds until
     ``gnt-cluster getmaster`` answers node2 and a no-op job has completed there;
  5. automatic master failover (turned on with gnt-cluster modify): seconds
     from kill -9 of node2's master daemon until another node's master daemon
     has run a no-op job.

--quick uses smaller counts (100 / 20 jobs, 3 / 1 adds, 1 cut-off job);
--skip-cut leaves out the cut-off figures and the convergence (items 2b, 3).
Every wait is bounded; the cluster is torn down at the end, also after a
failure or Ctrl-C. Needs root; exits 2 when network namespaces cannot be made.
A figure whose step failed is printed as "FAILED: reason" (exit status 1).
Not a pass/fail test.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import bench_core  # noqa: E402  (also puts test/cluster and lib on sys.path)
import netns_cluster  # noqa: E402
from ganeti import errors, luxi  # noqa: E402

PREFIX = "gntp"
MASTER_SOCKET = "/var/run/ganeti/socket/ganeti-master"
CONFIG_DATA = "/var/lib/ganeti/config.data"
CONVERGE_LIMIT = 120.0      # seconds node3 gets to catch up after uncut
JOB_LIMIT = 180.0           # seconds one no-op job may take
FAILOVER_LIMIT = 300.0      # seconds for the whole planned failover figure
ADD_LIMIT = 300             # seconds one gnt-instance add may take (cut: ~30 s today)
_FINAL = ("success", "error", "canceled")
# what a failed step raises (a bounded wait that ran out included)
_FAILURES = (RuntimeError, AssertionError, OSError, subprocess.TimeoutExpired,
             errors.GenericError)
_LABEL = "%-50s"


def _print(label: str, text: str) -> None:
    print(_LABEL % (label + ":") + " " + text, flush=True)


def _client(node) -> luxi.Client:
    # a path-bound Unix socket: reachable from the host's namespace too
    return luxi.Client(node.path(MASTER_SOCKET))


def noop_job(cl: luxi.Client, limit: float = JOB_LIMIT) -> float:
    """Submit one no-op job and wait until it ends; its latency in seconds."""
    start = time.time()
    jid = cl.submit_job([bench_core._DELAY0])  # pylint: disable=protected-access
    prev = None
    while time.time() - start < limit:
        res = cl.wait_for_job_change_once(jid, ["status"], prev, None, 5)
        if res != "nochange":
            prev = res[0]
            if prev[0] in _FINAL:
                if prev[0] != "success":
                    raise RuntimeError("no-op job %s ended as %s" % (jid, prev[0]))
                return time.time() - start
    raise RuntimeError("no-op job %s did not end within %d s" % (jid, limit))


def add_instance(node, name: str, pnode: str) -> float:
    """gnt-instance add of a diskless fake instance; its latency in seconds."""
    start = time.time()
    node.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
             "--no-name-check", "--no-ip-check", "-n", pnode, name,
             check=True, timeout=ADD_LIMIT)
    return time.time() - start


def serial_no(node) -> int:
    """serial_no of the node's config.data (-1 while missing or half written)."""
    try:
        with open(node.path(CONFIG_DATA)) as fd:
            return int(json.load(fd)["serial_no"])
    except (OSError, ValueError, KeyError):
        return -1


def wait_converged(master, node, limit: float = CONVERGE_LIMIT):
    """Seconds until node's config.data serial equals master's, or None."""
    start = time.time()
    while time.time() - start < limit:
        if serial_no(node) == serial_no(master) != -1:
            return time.time() - start
        time.sleep(0.1)
    return None


def _median(values) -> str:
    if len(values) == 1:
        return "%.2f s (1 run)" % values[0]
    return "%.2f s (median of %d)" % (statistics.median(values), len(values))


def bench_jobs(m, counts) -> None:
    cl = _client(m)
    at_once, one_by_one = counts
    rate, _, total = bench_core.bench_jobs_at_once(cl, at_once)
    _print("%d no-op jobs submitted at once" % at_once,
           "%.0f jobs/s (all done in %.2f s)" % (rate, total))
    start = time.time()
    for _ in range(one_by_one):
        noop_job(cl)
    total = time.time() - start
    _print("%d no-op jobs one by one (submit, wait)" % one_by_one,
           "%.1f jobs/s (%.0f ms each)" % (one_by_one / total, 1000 * total / one_by_one))


def bench_adds_all_up(vc, runs: int) -> None:
    m = vc.master
    names = ["up%d.example.com" % i for i in range(runs)]
    times = [add_instance(m, name, m.name) for name in names]
    # a figure only counts if the instances are really there and running
    out = m.run("gnt-instance", "list", "--no-headers", "-o", "name,status",
                check=True).stdout
    running = set(line.split()[0] for line in out.splitlines()
                  if line.split()[1:] == ["running"])
    if not running.issuperset(names):
        raise RuntimeError("added instances missing or not running: %s" % out.strip())
    _print("gnt-instance add, all candidates up", _median(times))


def bench_cut(vc, add_runs: int, job_runs: int) -> None:
    """Adds and no-op jobs with node3 cut off, then node3's catch-up after uncut."""
    m = vc.master
    vc.cut(3)
    try:
        times = [add_instance(m, "cut%d.example.com" % i, m.name) for i in range(add_runs)]
        _print("gnt-instance add, node3 cut off", _median(times))
        cl = _client(m)
        times = [noop_job(cl) for _ in range(job_runs)]
        _print("no-op job (submit, wait), node3 cut off", _median(times))
    finally:
        vc.uncut(3)
    lag = (serial_no(vc.node(3)), serial_no(m))
    took = wait_converged(m, vc.node(3))
    label = "node3 converged after uncut 3"
    if took is None:
        _print(label, "did not converge in %d s (serial %d, master %d)"
               % (CONVERGE_LIMIT, serial_no(vc.node(3)), serial_no(m)))
    else:
        _print(label, "%.1f s (serial %d -> %d)" % (took, lag[0], lag[1]))


def bench_failover(vc) -> None:
    """Planned failover to node2: until getmaster says node2 and a job ran there."""
    n2 = vc.node(2)
    start = time.time()
    proc = n2.run("gnt-cluster", "master-failover", timeout=FAILOVER_LIMIT)
    command = time.time() - start
    if proc.returncode != 0:
        raise RuntimeError("master-failover failed (%d): %s"
                           % (proc.returncode, proc.stderr.strip()[-500:]))
    while True:
        left = FAILOVER_LIMIT - (time.time() - start)
        if left <= 0:
            raise RuntimeError("getmaster did not answer %s within %d s"
                               % (n2.name, FAILOVER_LIMIT))
        out = n2.run("gnt-cluster", "getmaster", timeout=max(left, 1)).stdout.strip()
        if out == n2.name:
            break
        time.sleep(0.1)
    noop_job(_client(n2), limit=max(FAILOVER_LIMIT - (time.time() - start), 1))
    _print("planned master-failover to node2",
           "%.2f s (command %.2f s; until getmaster = node2 and a no-op job done)"
           % (time.time() - start, command))


def bench_auto_failover(vc) -> None:
    """kill -9 of the master daemon on node2 until another master ran a job."""
    n2 = vc.node(2)
    n2.run("gnt-cluster", "modify", "--auto-master-failover", "yes", check=True)
    start = time.time()
    n2.kill_daemon("ganeti-masterd", signal.SIGKILL)
    while True:
        left = FAILOVER_LIMIT - (time.time() - start)
        if left <= 0:
            raise RuntimeError("no node took over within %d s" % FAILOVER_LIMIT)
        new = [n for n in vc.nodes if n is not n2 and n.pid("ganeti-masterd")]
        if new and os.path.exists(new[0].path(MASTER_SOCKET)):
            try:
                noop_job(_client(new[0]), limit=max(left, 1))
                break
            except (errors.GenericError, OSError):
                pass
        time.sleep(0.1)
    _print("automatic failover, master daemon killed",
           "%.2f s (until %s ran a no-op job)" % (time.time() - start, new[0].name))


def _setup(vc) -> None:
    start = time.time()
    vc.init()
    for node in vc.nodes[1:]:
        vc.master.run("gnt-node", "add", node.name, check=True)
    out = vc.master.run("gnt-node", "list", "--no-headers", "-o", "name,role",
                        check=True).stdout
    roles = dict(line.split() for line in out.splitlines())
    if sorted(roles.values()) != ["C", "C", "M"]:
        raise RuntimeError("expected a master and 2 candidates, got %s" % roles)
    print("# init + 2 x gnt-node add (all 3 candidates): %.1f s" % (time.time() - start),
          flush=True)


def _step(failures: list, name: str, func, *args) -> None:
    """Run one figure; a failure is printed and counted, the next ones still run."""
    try:
        func(*args)
    except _FAILURES as err:
        failures.append(name)
        text = str(err).strip().splitlines()
        _print(name, "FAILED: %s" % (text[0] if text else type(err).__name__))
        if len(text) > 1:
            print("\n".join("#   " + line for line in text[1:12]), flush=True)


def _terminate(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller counts (100/20 jobs, 3/1 adds, 1 cut-off job)")
    parser.add_argument("--skip-cut", action="store_true",
                        help="leave out the figures with node3 cut off and the catch-up")
    args = parser.parse_args()
    try:
        reason = netns_cluster.netns_supported()
    except RuntimeError as err:         # a missing package
        reason = str(err)
    if reason:
        print("bench_failover: cannot create network namespaces: %s" % reason,
              file=sys.stderr)
        return 2
    jobs = (100, 20) if args.quick else (500, 100)
    adds_up, adds_cut, jobs_cut = (3, 1, 1) if args.quick else (5, 3, 3)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    print("# taking the test-bed lock (waits while another cluster run holds it)",
          flush=True)
    wait = time.time()
    try:
        vc = netns_cluster.NetnsCluster(3, prefix=PREFIX)
    except RuntimeError as err:
        print("bench_failover: %s" % err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # the constructor removed whatever it had set up
        print("bench_failover: interrupted before the cluster was up", file=sys.stderr)
        return 1
    start = time.time()
    print("# lock wait + namespaces up: %.1f s (setup %.1f s); load average %.2f"
          % (start - wait, vc.setup_time, os.getloadavg()[0]), flush=True)
    failures = []
    try:
        _setup(vc)
        _step(failures, "no-op jobs", bench_jobs, vc.master, jobs)
        _step(failures, "gnt-instance add, all candidates up", bench_adds_all_up,
              vc, adds_up)
        if not args.skip_cut:
            _step(failures, "node3 cut off / converge", bench_cut, vc, adds_cut, jobs_cut)
        _step(failures, "planned master-failover to node2", bench_failover, vc)
        _step(failures, "automatic failover, master daemon killed",
              bench_auto_failover, vc)
    except KeyboardInterrupt:
        print("# interrupted: tearing down", file=sys.stderr, flush=True)
        failures.append("interrupted")
    except _FAILURES as err:
        print("bench_failover: set-up failed: %s" % err, file=sys.stderr, flush=True)
        failures.append("set-up")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)    # the teardown runs to its end
        print("# measured in %.1f s; teardown %.1f s" % (time.time() - start, vc.cleanup()),
              flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
