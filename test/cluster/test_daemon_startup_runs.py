"""Master daemon start/stop cycles under load: every start answers, nothing hangs.

Issue 8 part 5: a master daemon that forked after its start-up vote had run
TLS in threads could deadlock its RPC layer for good (8 of 550 restarts).
On a 3-node namespace cluster (node2 and node3 master candidates, so every
start asks them over TLS RPC and every job file is sent to them) this test
stops and starts ganeti-masterd CYCLES times while a client thread keeps
submitting no-op jobs (OP_TEST_DELAY, duration 0) and archiving them. After
each start it requires, within bounds:

- the start command (it returns once the daemon serves) to finish within
  START_TIMEOUT, and the daemon to stop within the SIGTERM wait;
- a LUXI query to be answered and a no-op job that also runs on node2 and
  node3 (RPC) to succeed within JOB_TIMEOUT (a deadlocked RPC pool makes every
  job-file write wait about 65 s).

At the end every job the client got acknowledged must reach a final status.
Counts and timings are printed (run pytest with -s to see them).

CYCLES is 20 by default (the whole test took 30-50 s here, the cycles 15 s).
Against the code before the fix (prepare before the fork) both runs tried
hung early (at cycle 20, and within about 70 cycles): a job submission
never answered, as every RPC thread waited for the connection pool's lock,
held by a thread stuck in ssl.SSLContext().

``GANETI_STARTUP_CYCLES=500`` runs the long version, the issue's
reproducer (for ``make chaos``): measured on this 2-core machine, 500
cycles took 376 s (0.75 s each; 6.4 minutes with the set-up)::

  GANETI_STARTUP_CYCLES=500 python3 -m pytest -s test/cluster/test_daemon_startup_runs.py
"""

import os
import threading
import time

import netns_cluster
from ganeti import constants, errors, luxi, opcodes
# the 3-node namespace cluster, root's ssh key on node1 (nodes added below)
from test_failover_runs import nc  # noqa: F401  pylint: disable=unused-import

CYCLES = int(os.environ.get("GANETI_STARTUP_CYCLES", "20"))
START_TIMEOUT = 60.0        # start command until the daemon serves
JOB_TIMEOUT = 30.0          # one no-op job, from submission to success
FINAL_TIMEOUT = 120.0       # the client's acknowledged jobs, after the last cycle
MASTERD = os.path.join(netns_cluster.SRC, "daemons", "ganeti-masterd")


def _client(node, timeout=JOB_TIMEOUT):
    return luxi.Client(address=node.path("/var/run/ganeti/socket/ganeti-master"),
                       timeout=timeout, connect_timeout=5)


def _wait_final(client, job_id, deadline):
    """The job's final status, polling until ``deadline`` (None if not final)."""
    while True:
        ((status,),) = client.query_jobs([job_id], ["status"])
        if status in constants.JOBS_FINALIZED or time.monotonic() > deadline:
            return status if status in constants.JOBS_FINALIZED else None
        time.sleep(0.05)


class _Load(threading.Thread):
    """Submits no-op jobs one after the other until stopped, archiving each."""

    def __init__(self, node):
        threading.Thread.__init__(self, name="job-load", daemon=True)
        self.node = node
        self.stop = threading.Event()
        self.acknowledged = []        # job ids the master daemon accepted
        self.done = 0                 # seen to succeed
        self.refused = 0              # no master daemon, or the connection lost

    def run(self):
        client = _client(self.node)
        while not self.stop.is_set():
            try:
                job_id = client.submit_job([opcodes.OpTestDelay(duration=0)])
                self.acknowledged.append(job_id)
                if _wait_final(client, job_id, time.monotonic() + JOB_TIMEOUT):
                    self.done += 1
                    client.archive_job(job_id)
            except (errors.GenericError, OSError):
                # masterd is stopping or starting: expected here, try again
                self.refused += 1
                client.close()
                time.sleep(0.05)
        client.close()


def _check_serves(nc):
    """Seconds for a LUXI query plus a no-op job with RPC to node2 and node3."""
    start = time.monotonic()
    client = _client(nc.master)
    try:
        assert client.query_cluster_info()["master"] == nc.master.name
        op = opcodes.OpTestDelay(duration=0, on_nodes=[n.name for n in nc.nodes[1:]])
        job_id = client.submit_job([op])
        status = _wait_final(client, job_id, start + JOB_TIMEOUT)
    finally:
        client.close()
    took = time.monotonic() - start
    assert status == constants.JOB_STATUS_SUCCESS, (job_id, status, took)
    return took


def test_setup(nc):
    for node in nc.nodes[1:]:
        nc.master.run("gnt-node", "add", node.name, check=True)
    assert nc.master.pid("ganeti-masterd")
    _check_serves(nc)


def test_masterd_restarts_under_load(nc):
    m = nc.master
    load = _Load(m)
    load.start()
    starts, checks, stops = [], [], []
    began = time.monotonic()
    try:
        for cycle in range(CYCLES):
            t0 = time.monotonic()
            assert m.kill_daemon("ganeti-masterd"), "cycle %d: masterd not running" % cycle
            assert not m.pid("ganeti-masterd"), "cycle %d: masterd did not stop" % cycle
            stops.append(time.monotonic() - t0)
            t0 = time.monotonic()
            proc = m.run(MASTERD, timeout=START_TIMEOUT)
            starts.append(time.monotonic() - t0)
            assert proc.returncode == 0, (cycle, proc.stderr)
            try:
                checks.append(_check_serves(nc))
            except errors.GenericError as err:     # e.g. the LUXI answer timed out
                raise AssertionError("cycle %d: the master daemon (pid %s) does not"
                                     " serve: %s" % (cycle, m.pid("ganeti-masterd"), err))
    finally:
        load.stop.set()
        load.join(JOB_TIMEOUT + 10)
    total = time.monotonic() - began
    assert not load.is_alive(), "the load client hangs"
    client = _client(m)
    try:
        deadline = time.monotonic() + FINAL_TIMEOUT
        unfinished = [j for j in load.acknowledged if _wait_final(client, j, deadline) is None]
    finally:
        client.close()
    print("\n%d masterd start/stop cycles in %.1fs (%.2fs each); start max %.2fs avg"
          " %.2fs; stop max %.2fs; check job max %.2fs; load: %d jobs acknowledged, %d"
          " seen done, %d refused submissions"
          % (CYCLES, total, total / max(CYCLES, 1), max(starts), sum(starts) / len(starts),
             max(stops), max(checks), len(load.acknowledged), load.done, load.refused))
    assert not unfinished, "acknowledged jobs not finished: %s" % unfinished[:20]
    assert load.done > 0
