"""Job filter rules: reading them (jqueue.filtering), judging jobs by them in
the job queue, storing them (cmdlib/filter.py) and gnt-filter's output,
against Ganeti 3.0.2's (sample test/cluster/golden/gnt-filter-3.0.2.txt)."""

import contextlib
import io
import os
import re
import time
import types

import pytest

from ganeti import cli, config, constants, errors, jqueue, objects, serializer
from ganeti.client import gnt_filter
from ganeti.cmdlib import filter as cmdlib_filter
from ganeti.cmdlib import query as cmdlib_query
from ganeti.jqueue import filtering

from test_jqueue import FakeExecutor, op, wait_final, wait_for

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "cluster", "golden",
                      "gnt-filter-3.0.2.txt")


# ---- reading rules ------------------------------------------------------------------

def test_filters_are_stored_in_canonical_form():
    assert filtering.parse_predicates([["opcode", ["=", "OP_ID", "OP_TEST_DELAY"]]]) == \
        [["opcode", ["==", "OP_ID", "OP_TEST_DELAY"]]]
    assert filtering.parse_filter(["!=", "id", 5]) == ["!", ["==", "id", 5]]
    assert filtering.parse_filter(["&", ["|", ["<", "id", 3.0]], ["?", "x"], None]) == \
        ["&", ["|", ["<", "id", 3]], ["?", "x"], None]
    assert filtering.parse_filter(None) is None
    assert filtering.parse_action(["RATE_LIMIT", 2]) == ["RATE_LIMIT", 2]
    assert filtering.parse_reason_trail([["gnt:user", "x", 1]]) == [["gnt:user", "x", 1]]


@pytest.mark.parametrize("func,value,message", [
    (filtering.parse_action, "BOGUS", 'malformed FilterAction JSON: "BOGUS"'),
    (filtering.parse_action, "accept", 'malformed FilterAction JSON: "accept"'),
    (filtering.parse_action, ["RATE_LIMIT", 0],
     "RATE_LIMIT argument must be a positive integer"),
    (filtering.parse_action, ["RATE_LIMIT"], "RATE_LIMIT argument must be a positive integer"),
    (filtering.parse_predicates, [["opcodes", ["=", "OP_ID", "X"]]],
     "malformed FilterPredicate: bad parameter list for 'opcodes' predicate:"
     ' [["=","OP_ID","X"]]'),
    (filtering.parse_predicates, [["jobid"]],
     "malformed FilterPredicate: bad parameter list for 'jobid' predicate: []"),
    (filtering.parse_predicates, [5], "malformed FilterPredicate: must be a list with the"
     " first entry being a string describing the predicate type"),
    (filtering.parse_predicates, {"a": 1}, "Unable to read list"),
    (filtering.parse_filter, ["~", "id", 1], "Unknown filter operand '~'"),
    (filtering.parse_filter, [], "Cannot deserialise filter: expected array [string, args],"
     " got []"),
    (filtering.parse_filter, ["=", "id"], "Cannot deserialise field/value pair, expected"
     ' [fieldname, value] but got ["id"]'),
    (filtering.parse_filter, ["=", "id", True], "Cannot deserialise filter value, expecting"
     " string or integer, got true"),
    (filtering.parse_filter, ["=~", "id", "("], "Invalid regular expression '('"),
    (filtering.parse_priority, -1, "Invalid value for non-negative type '-1'"),
    (filtering.parse_reason_trail, [["a", "b"]], "Unable to read reason trail entry"),
])
def test_malformed_rules_are_refused(func, value, message):
    with pytest.raises(filtering.ParseError) as err:
        func(value)
    assert str(err.value).startswith(message)


# ---- judging jobs -----------------------------------------------------------------------

def _facts(job_id=10, ops=None):
    ops = ops or [{"OP_ID": "OP_TEST_DELAY", "duration": 0.5,
                   "reason": [["gnt:user", "maintenance pink bunny", 1000],
                              ["gnt:client:gnt-debug", "delay", 2000]]}]
    return filtering.JobFacts(job_id, ops)


def _holds(name, qfilter, facts=None, watermark=5):
    return filtering.predicate_holds(facts or _facts(), [name, qfilter], watermark)


def test_jobid_predicate():
    assert _holds("jobid", [">", "id", "watermark"])
    assert not _holds("jobid", [">", "id", "watermark"], watermark=10)
    assert _holds("jobid", ["&", [">=", "id", 10], ["<", "id", 11]])
    assert _holds("jobid", ["!", ["==", "id", 11]])
    # only comparisons of "id" with numbers or "watermark" can match
    assert not _holds("jobid", ["=~", "id", "1"])
    assert not _holds("jobid", ["==", "id", "other"])
    assert not _holds("jobid", ["==", "name", 10])
    assert _holds("jobid", None)


def test_opcode_predicate():
    assert _holds("opcode", ["==", "OP_ID", "OP_TEST_DELAY"])
    assert not _holds("opcode", ["==", "OP_ID", "OP_INSTANCE_CREATE"])
    # defaults count, the common parameters (priority, reason, ...) are not there
    assert _holds("opcode", ["&", ["==", "repeat", 0], ["?", "on_master"]])
    assert not _holds("opcode", ["==", "priority", 0])
    assert _holds("opcode", ["=~", "OP_ID", "^OP_TEST"])
    # a field of the wrong type or a missing one: no match (not an error)
    assert not _holds("opcode", ["=~", "duration", "0"])
    assert not _holds("opcode", ["|", ["==", "nosuchfield", 1], ["==", "repeat", 0]])
    # one opcode of the job matching is enough; dotted names reach into dicts
    facts = _facts(ops=[{"OP_ID": "OP_TEST_DELAY", "duration": 0},
                        {"OP_ID": "OP_GROUP_ADD", "group_name": "g",
                         "ndparams": {"spindle_count": 2}}])
    assert _holds("opcode", ["==", "ndparams.spindle_count", 2], facts)
    assert _holds("opcode", ["==", "group_name", "g"], facts)


def test_reason_predicate():
    assert _holds("reason", ["==", "reason", "maintenance pink bunny"])
    assert _holds("reason", ["&", ["==", "source", "gnt:client:gnt-debug"],
                             [">", "timestamp", 1500]])
    assert not _holds("reason", ["&", ["==", "source", "gnt:user"],
                                 [">", "timestamp", 1500]])
    # regular expressions are not comparisons: they never match here (as Ganeti)
    assert not _holds("reason", ["=~", "reason", "pink"])


def _rule(uuid, action, predicates=(), priority=0, watermark=0):
    return {"uuid": uuid, "action": action, "predicates": list(predicates),
            "priority": priority, "watermark": watermark, "reason_trail": []}


def test_rules_apply_in_order_and_continue_is_skipped():
    delay = [["opcode", ["==", "OP_ID", "OP_TEST_DELAY"]]]
    rules = filtering.RuleSet([
        _rule("b", "REJECT", delay, priority=1),
        _rule("c", "CONTINUE", priority=0),
        _rule("a", "ACCEPT", delay, priority=1),
        _rule("z", "PAUSE", [["jobid", ["==", "id", 99]]], priority=0),
    ])
    # same priority and watermark: the UUID decides
    assert rules.applying(_facts()).uuid == "a"
    assert rules.applying(_facts(99)).uuid == "z"
    assert filtering.RuleSet([_rule("c", "CONTINUE")]).applying(_facts()) is None


def test_adhoc_rate_limit_buckets():
    facts = _facts(ops=[{"OP_ID": "OP_TEST_DELAY", "duration": 0,
                         "reason": [["gnt:user", "rate-limit:2:backup", 1],
                                    ["gnt:user", "rate-limit:0:never", 1],
                                    ["gnt:user", "rate-limit:x:bad", 1]]}])
    assert facts.buckets == {"2:backup": 2}


# ---- the job queue --------------------------------------------------------------------

@pytest.fixture
def queue(tmp_path):
    made = []

    def _make(num_workers=4):
        executor = FakeExecutor()
        q = jqueue.JobQueue(str(tmp_path / "queue"), executor, num_workers=num_workers)
        q.start()
        made.append((q, executor))
        return q, executor
    yield _make
    for q, executor in made:
        with executor.lock:
            events = list(executor.events.values())
        for ev in events:
            ev.set()
        q.shutdown(timeout=2)


def _status(q, job_id):
    return q.query_jobs([job_id], ["status"])[0][0]


def test_queue_adds_its_reason(queue):
    q, _ = queue()
    job_id = q.submit_job([op(reason=[["gnt:user", "why", 5]]), op()])
    wait_final(q, job_id)
    ops, received = q.query_jobs([job_id], ["ops", "received_ts"])[0]
    stamp = received[0] * 10 ** 9 + received[1] * 1000
    assert ops[0]["reason"] == [["gnt:user", "why", 5],
                                ["gnt:opcode:test_delay", "job=%d;index=0" % job_id, stamp]]
    assert ops[1]["reason"] == [["gnt:opcode:test_delay", "job=%d;index=1" % job_id,
                                 stamp]]


def test_reject_cancels_matching_jobs_only(queue):
    q, ex = queue()
    q.set_filters([_rule("r", "REJECT", [["opcode", ["==", "duration", 1]]])])
    rejected = q.submit_job([op(duration=1)])
    accepted = q.submit_job([op()])
    assert wait_final(q, rejected) == constants.JOB_STATUS_CANCELED
    assert wait_final(q, accepted) == constants.JOB_STATUS_SUCCESS
    # as Ganeti: canceled without a result, never started, with an end time
    opstatus, opresult, start, end, opend = q.query_jobs(
        [rejected], ["opstatus", "opresult", "start_ts", "end_ts", "opend"])[0]
    assert (opstatus, opresult, start) == (["canceled"], [None], None)
    assert end is not None and opend == [end]
    assert [jid for jid, _ in ex.calls] == [accepted]


def test_pause_holds_jobs_until_the_rule_goes(queue):
    q, ex = queue()
    pause = _rule("p", "PAUSE", [["jobid", [">", "id", "watermark"]]],
                  watermark=q.last_job_id())
    q.set_filters([pause])
    held = [q.submit_job([op()]) for _ in range(3)]
    time.sleep(0.3)
    assert [_status(q, j) for j in held] == ["queued"] * 3 and ex.calls == []
    # an ACCEPT before it lets one through; removing the rule releases the others
    q.set_filters([pause, _rule("a", "ACCEPT", [["jobid", ["==", "id", held[1]]]])])
    assert wait_final(q, held[1]) == constants.JOB_STATUS_SUCCESS
    assert _status(q, held[0]) == "queued"
    q.set_filters([])
    for job_id in held:
        assert wait_final(q, job_id) == constants.JOB_STATUS_SUCCESS
    # held jobs can be canceled as any queued job
    q.set_filters([_rule("p", "PAUSE")])
    job_id = q.submit_job([op()])
    assert q.cancel_job(job_id)[0]
    assert wait_final(q, job_id) == constants.JOB_STATUS_CANCELED
    q.set_filters([])
    assert ex.calls[-1][0] != job_id


def test_a_new_reject_cancels_queued_jobs(queue):
    q, ex = queue()
    q.set_filters([_rule("p", "PAUSE")])
    job_id = q.submit_job([op()])
    q.set_filters([_rule("r", "REJECT")])
    assert wait_final(q, job_id) == constants.JOB_STATUS_CANCELED
    assert ex.calls == []


def _max_concurrent(ex, names):
    """Run the jobs blocked on ``names`` one release at a time; returns how many
    ran at once at most."""
    most = 0
    for name in names:
        wait_for(lambda: any(ex.started_event(n).is_set() for n in names
                             if not ex.event(n).is_set()))
        time.sleep(0.2)         # let others start if they could
        running = [n for n in names if ex.started_event(n).is_set()
                   and not ex.event(n).is_set()]
        most = max(most, len(running))
        ex.event(running[0]).set()
    return most


def test_rate_limit_runs_matching_jobs_one_at_a_time(queue):
    q, ex = queue(num_workers=4)
    q.set_filters([_rule("l", ["RATE_LIMIT", 1], [["opcode", ["==", "duration", 7]]])])
    names = ["a", "b", "c"]
    jobs = [q.submit_job([op("runblock:%s" % n, duration=7)]) for n in names]
    other = q.submit_job([op()])
    assert wait_final(q, other) == constants.JOB_STATUS_SUCCESS
    assert _max_concurrent(ex, names) == 1
    for job_id in jobs:
        assert wait_final(q, job_id) == constants.JOB_STATUS_SUCCESS


def test_adhoc_rate_limit_in_the_reason(queue):
    q, ex = queue(num_workers=4)
    names = ["a", "b", "c", "d"]
    jobs = [q.submit_job([op("runblock:%s" % n,
                             reason=[["gnt:user", "rate-limit:2:copy", 1]])])
            for n in names]
    assert _max_concurrent(ex, names) == 2
    for job_id in jobs:
        assert wait_final(q, job_id) == constants.JOB_STATUS_SUCCESS


# ---- storing rules (the master's LUXI calls) --------------------------------------------

def _context(tmp_path, q):
    cluster = objects.Cluster(cluster_name="cluster.example.com", master_node="node1",
                              master_ip="192.0.2.254", master_netdev="lo",
                              enabled_hypervisors=["fake"])
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, objects.ConfigData(cluster=cluster))
    return types.SimpleNamespace(cfg=config.ConfigWriter(path), jqueue=q)


class _Client:
    """LUXI answers from the master's code, through JSON as on the wire."""

    def __init__(self, ctx):
        self.ctx = ctx

    @staticmethod
    def _call(func, *args):
        try:
            result = func(*args)
        except errors.GenericError as err:
            raise errors.decode(serializer.load_json(serializer.dump_json(
                errors.encode(err))))
        return serializer.load_json(serializer.dump_json(result))

    def replace_filter(self, *args):
        return self._call(cmdlib_filter.replace_filter, self.ctx, *args)

    def delete_filter(self, uuid):
        return self._call(cmdlib_filter.delete_filter, self.ctx, uuid)

    def query_filters(self, uuids, fields):
        return self._call(cmdlib_filter.query_filters, self.ctx, uuids, fields)

    def query(self, what, fields, qfilter=None):
        return self._call(cmdlib_query.run_resource_query, self.ctx, what, fields, qfilter)

    def query_fields(self, what, fields=None):
        from ganeti import query
        return self._call(query.query_fields, what, fields)


@pytest.fixture
def gnt(tmp_path, queue, monkeypatch):
    q, ex = queue()
    ctx = _context(tmp_path, q)
    monkeypatch.setattr(cli, "get_client", lambda: _Client(ctx))

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.generic_main(gnt_filter.COMMANDS, argv=["gnt-filter"] + list(argv))
        return code, out.getvalue(), err.getvalue()
    run.ctx, run.queue, run.executor = ctx, q, ex
    return run


def _sample_entries():
    with open(SAMPLE) as fd:
        text = fd.read()
    return re.findall(r"^\$ (.*?)\n\[exit (\d+)\]\n--- stdout\n(.*?)--- stderr\n(.*?)\n"
                      r"(?=^\$ |^# |\Z)", text, re.S | re.M)


def _sample(command, nth=0):
    found = [(int(code), out, err) for cmd, code, out, err in _sample_entries()
             if cmd == command]
    return found[nth]


def _normalise(text):
    text = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "<UUID>", text)
    return re.sub(r"\d{16,}", "<NS>", text)


def test_output_is_ganetis(gnt):
    import shlex
    assert gnt("list") == _sample("gnt-filter list")
    assert gnt("list-fields") == _sample("gnt-filter list-fields")
    gnt.queue._last_serial = 309        # the sample's cluster had run 309 jobs
    for command in ("gnt-filter add --predicates='[[\"jobid\", [\">\", \"id\", \"watermark\"]]]'"
                    " --action=PAUSE", "gnt-filter add --action=ACCEPT"):
        code, out, err = gnt(*shlex.split(command)[1:])
        assert (code, _normalise(out), err) == (0, "<UUID>\n", "")
    for command in ("gnt-filter list", "gnt-filter list --no-headers --separator='|'",
                    "gnt-filter list -o uuid,priority,predicates,action,reason_trail,"
                    "watermark", "gnt-filter info", "gnt-filter add --action=RATE_LIMIT 5",
                    "gnt-filter add --action=BOGUS",
                    "gnt-filter delete 00000000-0000-0000-0000-000000000000",
                    "gnt-filter info 00000000-0000-0000-0000-000000000000",
                    "gnt-filter replace --help"):
        code, out, err = gnt(*shlex.split(command)[1:])
        want = _sample(command, 1 if command == "gnt-filter list" else 0)
        # the sample's two rules sort by UUID in the other order than ours may
        assert (code, sorted(_normalise(out).splitlines()), _normalise(err)) == \
            (want[0], sorted(_normalise(want[1]).splitlines()), _normalise(want[2])), command
    assert gnt("delete", "a", "b") == (1, "", "Error: Command delete expects 1 argument(s)\n")


def test_bad_input_changes_nothing(gnt):
    code, out, _ = gnt("add", "--priority=3", "--reason=keep",
                       "--predicates=[[\"opcode\", [\"=\", \"OP_ID\", \"OP_TEST_DELAY\"]]]")
    uuid = out.strip()
    before = gnt.ctx.cfg.get_filters()
    assert before[uuid].reason_trail[0][:2] == ["gnt:user", "keep"]
    assert before[uuid].reason_trail[1][:2] == ["luxid", ""]
    assert before[uuid].action == "CONTINUE"
    bad = [
        (["add", "--predicates=notjson"], 2, "gnt-filter: error: option --predicates:"
         " invalid JSON value: 'notjson'"),
        (["add", "--priority=abc"], 2, "gnt-filter: error: option --priority: invalid"
         " integer value: 'abc'"),
        (["add", "--priority=-1"], 1, "Invalid value for non-negative type '-1'"),
        (["add", "--action=RATE_LIMIT 0"], 1, "RATE_LIMIT argument must be a positive"
         " integer"),
        (["add", "--predicates=[[\"opcode\", [\"~\", \"OP_ID\", \"x\"]]]"], 1,
         "Unknown filter operand '~'"),
        (["replace", "--action=REJECT", "not-a-uuid"], 1,
         "Unhandled Ganeti error: Unable to parse UUID"),
        (["replace", "--action=BOGUS", uuid], 1, "malformed FilterAction JSON"),
        (["delete", "not-a-uuid"], 1, "Unhandled Ganeti error: Filter rule with UUID"
         " not-a-uuid does not exist"),
    ]
    for argv, code, message in bad:
        got = gnt(*argv)
        assert got[0] == code and message in got[2], (argv, got)
        assert gnt.ctx.cfg.get_filters() == before, argv
    # replace keeps the UUID and takes a new watermark
    gnt.queue.submit_job([op()])
    assert gnt("replace", "--action=RATE_LIMIT 2", uuid) == (0, uuid + "\n", "")
    rule = gnt.ctx.cfg.get_filters()[uuid]
    assert (rule.action, rule.priority, rule.predicates, rule.watermark) == \
        (["RATE_LIMIT", 2], 0, [], gnt.queue.last_job_id())
    assert gnt("list", "--no-headers", "-o", "action,priority", uuid) == \
        (0, "['RATE_LIMIT', 2] 0\n", "")
    # query-language filters over the fields
    assert gnt("list", "--no-headers", "-o", "uuid", "priority == 0")[1] == uuid + "\n"
    assert gnt("list", "--no-headers", "-o", "uuid", "priority > 0")[1] == ""
    assert gnt("delete", uuid) == (0, "", "")
    assert gnt.ctx.cfg.get_filters() == {}


def test_rules_reach_the_queue(gnt):
    code, out, _ = gnt("add", "--action=REJECT",
                       "--predicates=[[\"reason\", [\"=\", \"reason\", \"no\"]]]")
    job_no = gnt.queue.submit_job([op(reason=[["gnt:user", "no", 1]])])
    job_yes = gnt.queue.submit_job([op(reason=[["gnt:user", "yes", 1]])])
    assert wait_final(gnt.queue, job_no) == constants.JOB_STATUS_CANCELED
    assert wait_final(gnt.queue, job_yes) == constants.JOB_STATUS_SUCCESS
    gnt("replace", "--action=PAUSE", out.strip())
    job = gnt.queue.submit_job([op()])
    time.sleep(0.2)
    assert _status(gnt.queue, job) == "queued"
    gnt("delete", out.strip())
    assert wait_final(gnt.queue, job) == constants.JOB_STATUS_SUCCESS


def test_submit_job_records_the_reason(tmp_path, monkeypatch):
    """gnt-debug submit-job, too, puts --reason into every opcode's trail."""
    from ganeti.client import gnt_debug
    sent = []

    class _Submitter:
        def submit_many_jobs(self, jobs):
            sent.extend(jobs)
            return [[True, 1] for _ in jobs]
    monkeypatch.setattr(cli, "get_client", lambda: _Submitter())
    path = tmp_path / "ops.json"
    path.write_text('[{"OP_ID": "OP_TEST_DELAY", "duration": 0}]')
    argv = ["gnt-debug", "submit-job", "--reason", "rate-limit:1:x", str(path)]
    monkeypatch.setattr("sys.argv", argv)
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.generic_main(gnt_debug.COMMANDS, argv=argv) == 0
    (job,) = sent
    assert [entry[:2] for entry in job[0]["reason"]] == [
        ["gnt:user", "rate-limit:1:x"], ["gnt:client:gnt-debug", "submit-job"]]
