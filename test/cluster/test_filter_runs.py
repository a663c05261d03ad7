"""gnt-filter (job filter rules) on a two-node cluster with real daemons.

The golden test runs the command sequence of Ganeti 3.0.2's sample
(golden/gnt-filter-3.0.2.txt, a copy of the spec sample gnt-filter.txt) and
compares stdout, stderr and exit code of each command after normalising what
differs from run to run: UUIDs, times, job ids, watermarks (the highest job id
when a rule was added), reason trail time stamps and column widths. The other
tests show what the sample cannot: rules acting on the jobs of the queue.
"""

import os
import re
import time

import pytest

from golden_samples import difference, normalise, replay
import vcluster

SAMPLE = os.path.join(os.path.dirname(__file__), "golden", "gnt-filter-3.0.2.txt")
DELAY_IS_REJECTED = """--predicates=[["opcode", ["=", "OP_ID", "OP_TEST_DELAY"]]]"""

# where this project's answer is not Ganeti's, and why
_DIFFERENT = {
    # Ganeti's gnt-filter dies with a Python traceback on JSON it cannot parse
    "gnt-filter add --predicates='notjson' --action=REJECT": (
        2, "", "Usage\n=====\n  gnt-filter add \n\ngnt-filter: error: option --predicates:"
        " invalid JSON value: 'notjson' (Expecting value: line 1 column 1 (char 0))\n"),
}


@pytest.fixture(scope="module")
def vc():
    with vcluster.started(2) as cluster:
        yield cluster


def _normalise(text):
    """The sample's normalisation, plus what only filter rules and job
    reasons have: watermarks, time stamps in nanoseconds, job ids in reasons."""
    text = re.sub(r"\d{16,}", "<NS>", text)
    text = re.sub(r"job=\d+;", "job=<ID>;", text)
    text = re.sub(r"Job ID: \d+", "Job ID: <ID>", text)
    text = re.sub(r"(<TIME>)\.\d+", r"\1", normalise(text, False))
    text = re.sub(r"processing time: [\d.]+ seconds", "processing time: <S> seconds", text)
    text = re.sub(r"(?m)^(<UUID>[ |]+)\d+", r"\1<WM>", text)       # the default list
    text = re.sub(r"(?m)(\]\][ |]+)\d+$", r"\1<WM>", text)          # watermark last
    text = re.sub(r"Watermark: \d+", "Watermark: <WM>", text)
    return re.sub(r" +", " ", text)


def _rejected_job_facts(text):
    """What gnt-job info shows of a job a REJECT rule canceled: the statuses,
    that it never started, and its reason trail (doc/job-filters.rst)."""
    return (re.findall(r"(?m)^ *Status: (.*)$", text),
            re.findall(r"(?m)^ *(?:Processing|Execution) start: +(N/A|unknown)", text),
            re.findall(r"gnt:client:gnt-debug|\bdelay\b|gnt:opcode:test_delay|"
                       r"job=N;index=0", re.sub(r"job=\d+", "job=N", text)))


def _rules(node):
    """[uuid, action, uuid, action, ...] of the rules."""
    return node.run("gnt-filter", "list", "--no-headers", "-o", "uuid,action",
                    check=True).stdout.split()


def _order_like_the_sample(node):
    """The sample's ACCEPT rule sorts (by its random UUID) before its PAUSE rule
    of the same priority, so its jobs ran; give ours a UUID that does too."""
    words = _rules(node)
    rules = dict(zip(words[1::2], words[::2]))          # action -> uuid
    if rules["ACCEPT"] > rules["PAUSE"]:
        node.run("gnt-filter", "delete", rules["ACCEPT"], check=True)
        node.run("gnt-filter", "replace", "--action=ACCEPT",
                 "00000000-0000-4000-8000-000000000000", check=True)


def test_sample_sequence_matches_ganeti(vc):
    failures = []
    for cmdline, argv, expected, got, _ in replay(vc, SAMPLE):
        (code, out, err), (got_code, got_out, got_err) = expected, got
        if cmdline in _DIFFERENT:
            ok = got == _DIFFERENT[cmdline]
        elif argv[:2] == ["gnt-job", "info"]:
            ok = (got_code, got_err) == (code, err) and \
                _rejected_job_facts(got_out) == _rejected_job_facts(out)
        else:
            ok = (got_code, _normalise(got_out), _normalise(got_err)) == \
                (code, _normalise(out), _normalise(err))
        if not ok:
            failures.append(difference(cmdline, got, expected))
        if cmdline == "gnt-filter add --action=ACCEPT" and got_code == 0:
            _order_like_the_sample(vc.master)
    assert not failures, "\n".join(failures)
    assert _rules(vc.master) == []


@pytest.fixture(autouse=True)
def no_rules_left(vc):
    """Every test starts without rules, whatever the one before it left."""
    words = _rules(vc.master)
    for uuid in words[::2]:
        vc.master.run("gnt-filter", "delete", uuid, check=True)
    yield


def _check(node, argv, code, stdout="", stderr=""):
    proc = node.run(*argv)
    assert (proc.returncode, proc.stdout, proc.stderr) == (code, stdout, stderr), argv


def _add(node, *options):
    return node.run("gnt-filter", "add", *options, check=True).stdout.strip()


def _status(node, job_id):
    return node.run("gnt-job", "list", "--no-headers", "-o", "status", job_id,
                    check=True).stdout.strip()


def _submit(node, *argv):
    # options come before the arguments (Ganeti's parser)
    err = node.run(*argv[:2], "--submit", *argv[2:], check=True).stderr
    return re.search(r"JobID: (\d+)", err).group(1)


def _wait_status(node, job_id, wanted, timeout=30):
    deadline = time.time() + timeout
    while True:
        status = _status(node, job_id)
        if status == wanted:
            return
        assert time.time() < deadline, "job %s is %s, not %s" % (job_id, status, wanted)
        time.sleep(0.2)


def test_errors_are_ganetis(vc):
    """The gnt-filter entries of the spec sample errors.txt."""
    m = vc.master
    _check(m, ["gnt-filter", "add", "--action=REJECT", "--priority=abc"], 2, "",
           "Usage\n=====\n  gnt-filter add \n\ngnt-filter: error: option --priority:"
           " invalid integer value: 'abc'\n")
    _check(m, ["gnt-filter", "delete", "not-a-uuid"], 1, "",
           "Unhandled Ganeti error: Filter rule with UUID not-a-uuid does not exist\n")


def test_bad_input_changes_nothing(vc):
    m = vc.master
    uuid = _add(m, "--priority=7", "--reason=kept")
    before = m.run("gnt-filter", "info", check=True).stdout
    protocol = "Unhandled protocol error while talking to the master daemon:\n" \
        "Failed to parse request: Cannot convert value '%s', error: %s\n"
    for argv, code, err in [
            (["add", "--predicates=[[\"opcode\", [\"~\", \"OP_ID\", \"x\"]]]"], 1,
             protocol % ('[null, 0, [["opcode", ["~", "OP_ID", "x"]]], "CONTINUE", []]',
                         "Unknown filter operand '~'")),
            (["add", "--predicates=[[\"job\", [\"=\", \"id\", 1]]]"], 1,
             protocol % ('[null, 0, [["job", ["=", "id", 1]]], "CONTINUE", []]',
                         "malformed FilterPredicate: bad parameter list for 'job'"
                         " predicate: [[\"=\",\"id\",1]]")),
            (["add", "--action=RATE_LIMIT 0"], 1,
             protocol % ('[null, 0, [], ["RATE_LIMIT", 0], []]',
                         "RATE_LIMIT argument must be a positive integer")),
            (["add", "--priority=-1"], 1,
             protocol % ('[null, -1, [], "CONTINUE", []]',
                         "Invalid value for non-negative type '-1'")),
            (["replace", "--action=accept", uuid], 1,
             protocol % ('["%s", 0, [], "accept", []]' % uuid,
                         'malformed FilterAction JSON: "accept"')),
            (["replace", "nonsense"], 1, "Unhandled Ganeti error: Unable to parse UUID\n"),
            (["delete", "00000000-0000-0000-0000-000000000000"], 1,
             "Unhandled Ganeti error: Filter rule with UUID"
             " 00000000-0000-0000-0000-000000000000 does not exist\n")]:
        _check(m, ["gnt-filter"] + argv, code, "", err)
        assert m.run("gnt-filter", "info", check=True).stdout == before, argv
    assert "Reason trail: [['gnt:user', 'kept', " in before
    _check(m, ["gnt-filter", "list", "--no-headers", "-o", "priority,action",
               "priority == 7"], 0, "7 CONTINUE\n")
    _check(m, ["gnt-filter", "list", "--no-headers", "-o", "uuid", uuid], 0, uuid + "\n")
    _check(m, ["gnt-filter", "delete", uuid], 0)


def test_reject_cancels_matching_jobs_while_others_run(vc):
    m = vc.master
    uuid = _add(m, DELAY_IS_REJECTED, "--action=REJECT", "--priority=10")
    _check(m, ["gnt-debug", "delay", "0"], 1, "", "Unhandled Ganeti error: Job was canceled\n")
    m.run("gnt-cluster", "add-tags", "filtered", check=True)
    _check(m, ["gnt-cluster", "list-tags"], 0, "filtered\n")
    # priorities: an ACCEPT before it lets jobs with this reason through
    accept = _add(m, "--priority=5", "--action=ACCEPT",
                  """--predicates=[["reason", ["=", "reason", "urgent fix"]]]""")
    _check(m, ["gnt-debug", "delay", "--reason", "urgent fix", "0"], 0)
    _check(m, ["gnt-debug", "delay", "--reason", "other", "0"], 1, "",
           "Unhandled Ganeti error: Job was canceled\n")
    m.run("gnt-filter", "replace", "--priority=20", "--action=ACCEPT",
          """--predicates=[["reason", ["=", "reason", "urgent fix"]]]""", accept, check=True)
    _check(m, ["gnt-debug", "delay", "--reason", "urgent fix", "0"], 1, "",
           "Unhandled Ganeti error: Job was canceled\n")
    m.run("gnt-cluster", "remove-tags", "filtered", check=True)
    for rule in (uuid, accept):
        m.run("gnt-filter", "delete", rule, check=True)
    _check(m, ["gnt-debug", "delay", "0"], 0)


def test_pause_holds_jobs_until_the_rule_is_deleted(vc):
    m = vc.master
    uuid = _add(m, """--predicates=[["jobid", [">", "id", "watermark"]]]""",
                "--action=PAUSE", "--priority=1")
    jobs = [_submit(m, "gnt-debug", "delay", "0") for _ in range(2)]
    time.sleep(1.5)
    assert [_status(m, j) for j in jobs] == ["queued", "queued"]
    # a REJECT added meanwhile, tried first, cancels the held job it matches
    reject = _add(m, "--action=REJECT", "--predicates=[[\"jobid\", [\"=\", \"id\", %s]]]"
                  % jobs[0])
    _wait_status(m, jobs[0], "canceled")
    m.run("gnt-filter", "delete", reject, check=True)
    m.run("gnt-filter", "delete", uuid, check=True)
    _wait_status(m, jobs[1], "success")
    assert _status(m, jobs[0]) == "canceled"


def test_rate_limit_runs_matching_jobs_one_at_a_time(vc):
    m = vc.master
    uuid = _add(m, """--predicates=[["opcode", ["=", "OP_ID", "OP_TEST_DELAY"]]]""",
                "--action=RATE_LIMIT 1")
    _check(m, ["gnt-filter", "list", "--no-headers", "-o", "action", uuid], 0,
           "['RATE_LIMIT', 1]\n")
    jobs = [_submit(m, "gnt-debug", "delay", "1") for _ in range(3)]
    most = 0
    deadline = time.time() + 60
    while True:
        out = m.run("gnt-job", "list", "--no-headers", "-o", "status", *jobs,
                    check=True).stdout.split()
        most = max(most, sum(1 for s in out if s in ("waiting", "running")))
        if all(s == "success" for s in out):
            break
        assert time.time() < deadline, out
        time.sleep(0.1)
    assert most == 1
    m.run("gnt-filter", "delete", uuid, check=True)
    # without the rule they run side by side
    jobs = [_submit(m, "gnt-debug", "delay", "2") for _ in range(2)]
    time.sleep(1.0)
    out = m.run("gnt-job", "list", "--no-headers", "-o", "status", *jobs,
                check=True).stdout.split()
    assert out == ["running", "running"]
    for job_id in jobs:
        _wait_status(m, job_id, "success")


def test_rules_hold_across_a_master_restart(vc):
    """The rules are part of the configuration: a restarted master daemon
    judges the jobs it finds queued by them."""
    m = vc.master
    uuid = _add(m, "--action=PAUSE")
    job_id = _submit(m, "gnt-debug", "delay", "0")
    m.kill_daemon("ganeti-masterd")
    m.start_daemon("ganeti-masterd")
    time.sleep(1.0)
    assert _status(m, job_id) == "queued"
    _check(m, ["gnt-filter", "list", "--no-headers", "-o", "uuid,action"], 0,
           "%s PAUSE\n" % uuid)
    m.run("gnt-filter", "delete", uuid, check=True)
    _wait_status(m, job_id, "success")
