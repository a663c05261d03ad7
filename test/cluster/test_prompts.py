"""Confirmation questions against a running cluster, answered on a real pty."""

import os
import sys

import pytest

import vcluster

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from ptyrun import PtySession  # noqa: E402

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
PROMPT = "y/[n]/?: "
INST1 = "prompt1.example.com"
INST2 = "prompt2.example.com"


def _gnt(node, tool, *args, answer):
    """Run a gnt-* command on a pty, type ``answer`` at the prompt; (code, text)."""
    sess = PtySession([vcluster.PYTHON, os.path.join(vcluster.SRC, "scripts", tool)]
                      + list(args), env=node.env)
    try:
        sess.expect(PROMPT, timeout=60)
        sess.send(answer)
        return sess.finish(120), sess.text
    finally:
        sess.close()


def _instances(node):
    out = node.run("gnt-instance", "list", "--no-headers", "-o", "name,status",
                   check=True).stdout
    return dict(line.split() for line in out.splitlines())


@pytest.fixture(scope="module")
def two_instances(cluster):
    m = cluster.master
    for name in (INST1, INST2):
        # with a disk: a diskless instance cannot be reinstalled (Ganeti's rule)
        m.run("gnt-instance", "add", "-t", "file", "-s", "16M", "--no-nics",
              "--ignore-ipolicy",
              "-o", "noop", "-n", m.name, "--no-name-check", "--no-ip-check", name,
              check=True)
    return m


def test_remove_no_keeps_the_instance(two_instances):
    m = two_instances
    code, text = _gnt(m, "gnt-instance", "remove", INST1, answer="n\n")
    assert code == 1
    assert text == ("This will remove the volumes of the instance %s\r\n"
                    "(including mirrors), thus removing all the data of the instance.\r\n"
                    "Continue?\r\n%sn\r\n" % (INST1, PROMPT))
    assert INST1 in _instances(m)


def test_remove_of_unknown_instance_fails_before_asking(two_instances):
    proc = two_instances.run("gnt-instance", "remove", "nosuch.example.com")
    assert proc.returncode == 1
    assert "Instance 'nosuch.example.com' does not exist" in proc.stderr
    assert "Continue?" not in proc.stdout + proc.stderr


def test_shutdown_all_asks_with_the_list(two_instances):
    m = two_instances
    code, text = _gnt(m, "gnt-instance", "shutdown", "--all", answer="n\n")
    assert code == 1
    assert text == ("The shutdown will operate on 2 instances.\r\n"
                    "Do you want to continue?\r\nAffected instances:\r\n"
                    "  %s\r\n  %s\r\n%sn\r\n" % (INST1, INST2, PROMPT))
    assert set(_instances(m).values()) == {"running"}
    code, text = _gnt(m, "gnt-instance", "shutdown", "--all", answer="y\n")
    assert code == 0, text
    assert set(_instances(m).values()) == {"ADMIN_down"}


def test_reinstall_no_changes_nothing(two_instances):
    code, text = _gnt(two_instances, "gnt-instance", "reinstall", INST2, answer="n\n")
    assert code == 1
    assert text == ("This will reinstall the instance '%s' (and keep the\r\n"
                    "same OS) which removes all data. Continue?\r\n%sn\r\n" % (INST2, PROMPT))


def test_reinstall_of_a_selection(two_instances):
    """--all lists the instances with Ganeti's warning; --select-os numbers the
    OSes and asks (x aborts); --node with --force-multiple runs one job per
    instance without asking."""
    m = two_instances
    code, text = _gnt(m, "gnt-instance", "reinstall", "--all", answer="n\n")
    assert code == 1
    assert text == ("The reinstall will operate on 2 instances.\r\n"
                    "Note: this will remove *all* data for the below instances! It will"
                    "\r\nkeep the same OS.\r\nDo you want to continue?\r\n"
                    "Affected instances:\r\n  %s\r\n  %s\r\n%sn\r\n"
                    % (INST1, INST2, PROMPT))
    sess = PtySession([vcluster.PYTHON, os.path.join(vcluster.SRC, "scripts",
                                                     "gnt-instance"),
                       "reinstall", "-f", "--select-os", INST2], env=m.env)
    try:
        sess.expect("/[x]/?: ", timeout=60)
        sess.send("x\n")
        code, text = sess.finish(60), sess.text
    finally:
        sess.close()
    assert code == 1
    lines = text.splitlines()
    assert lines[0] == "Available OS templates:", text
    assert "  0: noop" in lines, text
    assert "Enter OS template number (or x to abort):" in lines, text
    assert lines[-1] == "User aborted reinstall, exiting", text

    before = m.run("gnt-job", "list", "--no-headers", "-o", "id", check=True).stdout.split()
    m.run("gnt-instance", "reinstall", "--node", "--force-multiple", m.name, check=True)
    new = m.run("gnt-job", "list", "--no-headers", "-o", "summary", check=True).stdout
    summaries = new.splitlines()[len(before):]
    assert sorted(summaries) == ["INSTANCE_REINSTALL(%s)" % INST1,
                                 "INSTANCE_REINSTALL(%s)" % INST2], new


def test_job_cancel_pending_without_pending_jobs(two_instances):
    proc = two_instances.run("gnt-job", "cancel", "--pending")
    assert proc.returncode == 1
    assert "No jobs with the requested status have been found" in proc.stderr


def _job_status(node, job_id):
    return node.run("gnt-job", "list", "--no-headers", "-o", "status", job_id,
                    check=True).stdout.strip()


def test_job_cancel_pending_lists_and_asks(two_instances):
    m = two_instances
    # the first delay holds the node lock; the second waits for it
    ids = [m.run("gnt-debug", "delay", "--submit", "--no-master", "-n", m.name, "15",
                 check=True).stderr.split()[-1] for _ in range(2)]
    try:
        code, text = _gnt(m, "gnt-job", "cancel", "--pending", answer="n\n")
        assert code == 13, text
        table, question = text.split("Cancel job(s) listed above?\r\n")
        rows = [line.split() for line in table.splitlines()]
        assert rows[0] == ["ID", "Status", "Summary"]
        assert [ids[1], "waiting"] in [row[:2] for row in rows[1:]], text
        assert question == PROMPT + "n\r\n"
        assert _job_status(m, ids[1]) == "waiting"
        code, text = _gnt(m, "gnt-job", "cancel", "--pending", answer="y\n")
        assert code == 0, text
        # a job waiting for locks ends as canceled when it notices
        assert "Job successfully cancelled" in text
        assert _job_status(m, ids[1]) in ("canceling", "canceled")
    finally:
        for job_id in ids:
            m.run("gnt-job", "cancel", job_id)
        m.run("gnt-job", "wait", ids[0], timeout=60)


def test_remove_yes_removes_the_instance(two_instances):
    m = two_instances
    code, text = _gnt(m, "gnt-instance", "remove", INST1, answer="y\n")
    assert code == 0, text
    assert INST1 not in _instances(m)
