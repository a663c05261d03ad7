"""gnt-job (and gnt-debug delay) against Ganeti 3.0.2's sample sequence
(golden/gnt-job-3.0.2.txt, a copy of the spec sample gnt-job.txt), on a
two-node cluster set up as the sample's: its first jobs are the sample's
(cluster init, an OS list, the node add), then inst1 (diskless) and inst2
(file) run on the first node, inst3 (file) is stopped on the second.

Each command's exit code, stdout and stderr are compared after normalising
times, job ids and column widths. What depends on the sample cluster's
history (its 226 jobs before this sequence) is compared for the jobs of the
sequence only. gnt-job info is also read with a YAML parser, as scripts do;
its "Input fields" are compared for the parameters both opcodes have (the
UUIDs Ganeti's logical units add to them are left out). Where this project
answers differently on purpose, _DIFFERENT holds our answer and the reason.
"""

import os
import re

import pytest

import vcluster
from golden_samples import (add_sample_instances, difference, init_like_sample,
                            job_info_matches, job_text, replay)

pytest.importorskip("yaml")
NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
SAMPLE = os.path.join(os.path.dirname(__file__), "golden", "gnt-job-3.0.2.txt")
# the sample's first job of the sequence (gnt-debug delay 1)
SAMPLE_FIRST_JOB = 227
PREREQ = "Failure: prerequisites not met for this operation:\nerror type: %s, error details:\n%s\n"

# where this project's answer is not Ganeti's, and why
_DIFFERENT = {
    # Ganeti's gnt-debug dies with a Python traceback
    "gnt-debug delay abc": (1, "", PREREQ % (
        "wrong_input", "Invalid duration 'abc': expected a number of seconds")),
    # the sample's job 44 is one of the gnt-instance sample's; there is none here
    "gnt-job info 44": (0, "- Job ID 44 not found\n", ""),
    # Ganeti 3.0 signals a started job's own process (and says so); jobs are
    # threads of the master daemon here, the queue changes the priority itself
    "gnt-job change-priority --priority=high 236": (
        0, "Priorities of pending opcodes for job <ID> have been changed to -10\n", ""),
    # ... and cannot tell a running job anything
    "gnt-job cancel 235": (1, "Job no longer waiting, can't cancel\n", ""),
    # Ganeti 3.0.2's queue daemon compares "all" with the earliest possible
    # time and archives nothing (its man page: all finished jobs); here it does
    "gnt-job autoarchive all": (0, "Archived <N> jobs, 0 unchecked left\n", ""),
    # ... so no job is left to list
    "gnt-job list --no-headers | head -3": (0, "", ""),
}
# the commands whose output lists the whole queue: its history differs
_WHOLE_QUEUE = re.compile(r"^gnt-job list( --no-headers --separator='\|'| --finished| --error"
                          r"( -o id,status,summary)?| -o id,nosuchfield)?$")


@pytest.fixture(scope="module")
def vc():
    vc = vcluster.VirtualCluster(2)
    try:
        # the sample's first three jobs: init, an OS list, the node add
        init_like_sample(vc, list_oses=True)
        add_sample_instances(vc)
        yield vc
    finally:
        vc.cleanup()


def _sample_ids(text, job_map):
    """A job list of ours with the sample's ids for our jobs (its first column)."""
    theirs = dict((str(ours), str(sample)) for sample, ours in job_map.items())
    return re.sub(r"(?m)^( *)(\d+)\b", lambda m: m.group(1) + theirs.get(m.group(2),
                                                                       m.group(2)), text)


def _queue_tail(text, first):
    """A whole-queue listing: its header (if any) and the rows of the jobs
    from ``first`` on, their ids normalised."""
    lines = text.splitlines()
    header = [line for line in lines[:1] if not re.match(r" *\d", line)]
    rows = []
    for line in lines[len(header):]:
        job = re.match(r" *(\d+)(.*)$", line)
        if job and int(job.group(1)) >= first:
            rows.append(job_text("<ID>" + job.group(2)))
    return [job_text(line) for line in header], rows


def test_sample_sequence_matches_ganeti(vc):
    m = vc.master
    first = 1 + max(int(i) for i in m.run("gnt-job", "list", "--no-headers", "-o", "id",
                                          check=True).stdout.split())
    failures = []
    job_map = {}
    for cmdline, argv, expected, got, _ in replay(vc, SAMPLE, job_map):
        (code, out, err), (got_code, got_out, got_err) = expected, got
        if argv[:2] == ["gnt-job", "list"]:
            got_out = _sample_ids(got_out, job_map)
        if cmdline in _DIFFERENT:
            want = _DIFFERENT[cmdline]
            ok = (got_code, job_text(got_out), job_text(got_err)) == \
                (want[0], job_text(want[1]), job_text(want[2]))
        elif _WHOLE_QUEUE.match(cmdline):
            ok = (got_code, _queue_tail(got_out, first), got_err) == \
                (code, _queue_tail(out, SAMPLE_FIRST_JOB), err)
        elif argv[:2] == ["gnt-job", "info"] and code == 0:
            ok = got_code == code and got_err == err and job_info_matches(got_out, out)
        else:
            ok = (got_code, job_text(got_out), job_text(got_err)) == \
                (code, job_text(out), job_text(err))
        if not ok:
            failures.append(difference(cmdline, got, expected))
    assert not failures, "\n".join(failures)


def test_cancel_ends_a_waiting_job_at_once(vc):
    """A job waiting for a lock is canceled when asked, not when its lock
    wait would next time out (1 s, 2 s, 4 s, ... up to 75 s)."""
    m = vc.master
    holder = m.run("gnt-debug", "delay", "--submit", "--no-master", "-n", m.name, "10",
                   check=True).stderr.split()[-1]
    waiter = m.run("gnt-debug", "delay", "--submit", "--no-master", "-n", m.name, "1",
                   check=True).stderr.split()[-1]
    try:
        for _ in range(100):
            status = m.run("gnt-job", "list", "--no-headers", "-o", "status", waiter,
                           check=True).stdout.strip()
            if status == "waiting":
                break
        assert status == "waiting"
        proc = m.run("gnt-job", "cancel", waiter)
        assert (proc.returncode, proc.stdout) == (0, "Job successfully cancelled\n")
        m.run("gnt-job", "wait", waiter, timeout=5)        # exit 1: it did not succeed
        assert m.run("gnt-job", "list", "--no-headers", "-o", "status", waiter,
                     check=True).stdout.strip() == "canceled"
        assert m.run("gnt-job", "list", "--no-headers", "-o", "status", holder,
                     check=True).stdout.strip() == "running"
    finally:
        m.run("gnt-job", "cancel", waiter)
        m.run("gnt-job", "wait", holder, timeout=60)
