"""Tests for ganeti.cli: options, dispatch, errors, jobs and table output."""

import io
import os
import subprocess
import sys
import time

import pytest

from ganeti import cli, constants, errors, opcodes, pathutils, qlang

NODE_HEADERS = {"name": "Node", "dtotal": "DTotal", "dfree": "DFree", "mtotal": "MTotal",
                "mnode": "MNode", "mfree": "MFree", "pinst_cnt": "Pinst",
                "sinst_cnt": "Sinst"}
NODE_FIELDS = ["name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt",
               "sinst_cnt"]
NODE_ROW = ["node1.example.com", 203776, 101376, 16288, 1024, 10240, 2, 1]
UNIT_FIELDS = ["dtotal", "dfree", "mtotal", "mnode", "mfree"]


# ---- generate_table --------------------------------------------------------------

def test_generate_table_node_example():
    lines = cli.generate_table(NODE_HEADERS, NODE_FIELDS, None, [list(NODE_ROW)],
                               numfields=["pinst_cnt", "sinst_cnt"],
                               unitfields=UNIT_FIELDS)
    assert lines == [
        "Node              DTotal DFree MTotal MNode MFree Pinst Sinst",
        "node1.example.com 199.0G 99.0G  15.9G  1.0G 10.0G     2     1",
    ]


def test_generate_table_separator_form():
    lines = cli.generate_table(None, NODE_FIELDS, ":", [list(NODE_ROW)],
                               numfields=["pinst_cnt", "sinst_cnt"],
                               unitfields=UNIT_FIELDS)
    assert lines == ["node1.example.com:203776:101376:16288:1024:10240:2:1"]
    with_header = cli.generate_table(NODE_HEADERS, NODE_FIELDS, ":", [list(NODE_ROW)],
                                     unitfields=UNIT_FIELDS, units="g")
    assert with_header == ["Node:DTotal:DFree:MTotal:MNode:MFree:Pinst:Sinst",
                           "node1.example.com:199.0:99.0:15.9:1.0:10.0:2:1"]


@pytest.mark.parametrize("units, expected", [
    ("h", ["512M", "1.5G", "2.0T"]),
    ("m", ["512", "1536", "2097152"]),
    ("g", ["0.5", "1.5", "2048.0"]),
    ("t", ["0.0", "0.0", "2.0"]),
])
def test_generate_table_units(units, expected):
    data = [[512], [1536], [2 * 1024 * 1024]]
    lines = cli.generate_table(None, ["size"], "|", data, unitfields=["size"], units=units)
    assert lines == expected


def test_generate_table_alignment_rules():
    headers = {"name": "Name", "ok": "OK", "count": "Count", "note": "Note"}
    data = [["a", True, 5, "x"], ["longer-name", False, 12345, "yy"], None]
    lines = cli.generate_table(headers, ["name", "ok", "count", "note"], None, data,
                               numfields=["count"])
    assert lines == [
        "Name        OK Count Note",
        "a           Y      5 x",
        "longer-name N  12345 yy",
    ]
    # a right-aligned last column is padded, a left-aligned one never is
    lines = cli.generate_table({"a": "A", "n": "N"}, ["a", "n"], None,
                               [["xxx", 1], ["y", 100]], numfields=["n"])
    assert lines == ["A     N", "xxx   1", "y   100"]
    assert not any(line.endswith(" ") for line in lines)


def test_generate_table_non_numeric_unit_values_pass_through():
    lines = cli.generate_table({"m": "Mem"}, ["m"], None, [["?"], ["*"], [2048]],
                               unitfields=["m"])
    assert lines == [" Mem", "   ?", "   *", "2.0G"]


# ---- parse_fields / key=value options ----------------------------------------------------

def test_parse_fields():
    assert cli.parse_fields(None, ["name", "os"]) == ["name", "os"]
    assert cli.parse_fields("a,b", ["name"]) == ["a", "b"]
    assert cli.parse_fields("+tags,uuid", ["name"]) == ["name", "tags", "uuid"]


def parse_opts(options, argv):
    parser = cli.optparse.OptionParser(option_list=options, option_class=cli.CliOption)
    return parser.parse_args(argv)


def test_keyval_and_identkeyval_options():
    backend = cli.keyval_option("-B", "--backend-parameters", dest="beparams")
    hvopts = cli.keyval_option("-H", dest="hvparams", ident=True)
    disk = cli.keyval_option("--disk", dest="disks", ident=True, action="append")
    opts, _ = parse_opts([backend, hvopts, disk],
                         ["-B", "maxmem=512,auto_balance,no_always_failover,-vcpus",
                          "-H", "kvm:kernel_path=/k,acpi=no",
                          "--disk", "0:size=10G", "--disk", "1:size=1G,mode=ro"])
    assert opts.beparams == {"maxmem": "512", "auto_balance": True,
                             "always_failover": False, "vcpus": None}
    assert opts.hvparams == ("kvm", {"kernel_path": "/k", "acpi": "no"})
    assert opts.disks == [("0", {"size": "10G"}), ("1", {"size": "1G", "mode": "ro"})]
    opts, _ = parse_opts([backend], ["-B", r"a=x\,y,b=1"])
    assert opts.beparams == {"a": "x,y", "b": "1"}


def test_parse_ident_keyval():
    assert cli.parse_ident_keyval("xen-pvm") == ("xen-pvm", {})
    assert cli.parse_ident_keyval("no_kvm") == ("kvm", False)
    assert cli.parse_ident_keyval("-kvm") == ("kvm", None)
    assert cli.parse_ident_keyval("drbd:metavg=vg,resync-rate=100") == \
        ("drbd", {"metavg": "vg", "resync-rate": "100"})
    with pytest.raises(errors.ParameterError):
        cli.parse_ident_keyval("no_kvm:a=b")
    with pytest.raises(errors.ParameterError):
        cli.parse_ident_keyval(":a=b")


def test_typed_options():
    size = cli.cli_option("-s", dest="size", type="unit")
    flag = cli.cli_option("--flag", dest="flag", type="bool")
    items = cli.cli_option("--items", dest="items", type="list")
    opts, _ = parse_opts([size, flag, items, cli.PRIORITY_OPT],
                         ["-s", "1.5g", "--flag", "no", "--items", "a,b,,c",
                          "--priority", "high"])
    assert (opts.size, opts.flag, opts.items, opts.priority) == \
        (1536, False, ["a", "b", "c"], constants.OP_PRIO_HIGH)
    assert cli.parse_bool("Yes") is True and cli.parse_bool("false") is False
    with pytest.raises(errors.ParameterError):
        cli.parse_bool("maybe")


def test_a_bad_boolean_is_a_parameter_error(monkeypatch, capsys):
    # Ganeti's check_bool raises a ParameterError, reported as one (exit 1)
    monkeypatch.delenv("GNT_NODE_ADD", raising=False)
    commands = {"add": (_cmd_add, cli.ARGS_ONE_NODE,
                        [cli.cli_option("--flag", dest="flag", type="bool")], "<node>", "")}
    assert cli.generic_main(commands, argv=["gnt-node", "add", "--flag", "Maybe", "n"]) == 1
    assert capsys.readouterr().err == (
        "Failure: unknown/wrong parameter name 'Invalid boolean value 'maybe''\n")


@pytest.mark.parametrize("argv", [
    ["-s", "12x"], ["--priority", "urgent"], ["-B", "a=1,a=2"],
])
def test_bad_option_values_exit_2(argv, capsys):
    options = [cli.cli_option("-s", dest="size", type="unit"),
               cli.cli_option("--flag", dest="flag", type="bool"),
               cli.keyval_option("-B", dest="beparams"), cli.PRIORITY_OPT]
    with pytest.raises(SystemExit) as info:
        parse_opts(options, argv)
    assert info.value.code == 2
    assert "error: option" in capsys.readouterr().err


# ---- generic_main ---------------------------------------------------------------------

CALLS = []


def _cmd_list(opts, args):
    CALLS.append(("list", opts, args))
    return 0


def _cmd_add(opts, args):
    CALLS.append(("add", opts, args))


def _cmd_fail(opts, args):
    raise {"prereq": errors.OpPrereqError("Node 'x' is unknown", errors.ECODE_NOENT),
           "nomaster": errors.NoMasterError(pathutils.MASTER_SOCKET, "refused"),
           "interrupt": KeyboardInterrupt(),
           "exec": errors.OpExecError("disk failed"),
           "oserror": FileNotFoundError(2, "No such file or directory", "/x")}[args[0]]


COMMANDS = {
    "list": (_cmd_list, cli.ARGS_MANY_NODES, [cli.NOHDR_OPT, cli.SEP_OPT, cli.FIELDS_OPT],
             "[<node>...]", "Lists the nodes in the cluster"),
    "add": (_cmd_add, cli.ARGS_ONE_NODE, [cli.FORCE_OPT] + cli.SUBMIT_OPTS, "<node>",
            "Add a node to the cluster"),
    "fail": (_cmd_fail, [cli.ArgSpec("<what>", 1, 1)], [], "<what>", "Fails"),
}


def run_main(*args, **kwargs):
    del CALLS[:]
    return cli.generic_main(COMMANDS, argv=["/usr/sbin/gnt-node"] + list(args), **kwargs)


def test_generic_main_dispatch(monkeypatch):
    monkeypatch.delenv("GNT_NODE_LIST", raising=False)
    assert run_main("list", "--no-headers", "-o", "name", "a", "b") == 0
    (name, opts, args), = CALLS
    assert name == "list" and args == ["a", "b"]
    assert opts.no_headers and opts.output == "name" and opts.separator is None
    assert opts.debug == 0 and opts.reason is None   # common options are always there
    assert run_main("add", "-f", "node3") == 0        # None result means success
    assert CALLS[0][1].force and CALLS[0][2] == ["node3"]


def test_generic_main_help_and_version(capsys):
    assert run_main("--help") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Usage: gnt-node {command} [options...] [argument...]"
    assert " add  - Add a node to the cluster" in out
    assert " list - Lists the nodes in the cluster" in out
    assert out[-1] == ""            # Ganeti ends the command list with an empty line
    assert run_main("list", "--help") == 0
    out = capsys.readouterr().out
    # Ganeti's titled layout: long option names first, --help last
    assert out.startswith("Usage\n=====\n  gnt-node list [<node>...]\n")
    assert "\nOptions\n=======\n--no-headers " in out and "--separator" in out
    assert out.endswith("--help, -h              show this help message and exit\n")
    assert run_main("--version") == 0
    assert capsys.readouterr().out == "gnt-node (ganeti-py %s) %s\n" % (
        constants.PACKAGE_VERSION, constants.PACKAGE_VERSION)


def test_generic_main_usage_errors(capsys):
    # as Ganeti: no command, or an unknown one, prints the command list on
    # standard output and exits with 1; a wrong argument count says only that
    assert run_main() == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("Usage: gnt-node {command}") and captured.err == ""
    assert run_main("frobnicate") == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("Usage: gnt-node {command}") and captured.err == ""
    assert run_main("-h") == 1            # only --help is Ganeti's help
    capsys.readouterr()
    assert run_main("add") == 1
    captured = capsys.readouterr()
    assert captured.err == "Error: Command add expects 1 argument(s)\n"
    assert captured.out == ""
    assert run_main("add", "a", "b") == 1
    capsys.readouterr()
    assert run_main("list", "--bogus-option") == 2
    err = capsys.readouterr().err
    assert err.endswith("\ngnt-node: error: no such option: --bogus-option\n"), err
    assert err.startswith("Usage\n=====\n  gnt-node list [<node>...]\n")
    assert CALLS == []


def test_generic_main_options_come_first(monkeypatch, capsys):
    # as Ganeti's parser: from the first argument on, words are arguments
    monkeypatch.delenv("GNT_NODE_LIST", raising=False)
    assert run_main("list", "a", "-o", "name", "-1G") == 0
    (_, opts, args), = CALLS
    assert args == ["a", "-o", "name", "-1G"] and opts.output is None
    assert run_main("add", "node3", "-f") == 1       # two arguments, not -f
    assert capsys.readouterr().err == "Error: Command add expects 1 argument(s)\n"


def test_generic_main_aliases():
    assert run_main("ls", "x", aliases={"ls": "list"}) == 0
    assert CALLS[0][0] == "list" and CALLS[0][2] == ["x"]


def test_generic_main_environment_defaults(monkeypatch):
    monkeypatch.setenv("GNT_NODE_LIST", "--no-headers --separator '| '")
    assert run_main("list", "node1") == 0
    _, opts, args = CALLS[0]
    assert opts.no_headers and opts.separator == "| " and args == ["node1"]
    # only for the commands named in env_override, when it is given
    assert run_main("list", "node1", env_override=["add"]) == 0
    assert not CALLS[0][1].no_headers
    monkeypatch.setenv("GNT_NODE_LIST", "'unbalanced")
    assert run_main("list") == 2


@pytest.mark.parametrize("what, code, message", [
    ("prereq", 1, "Failure: prerequisites not met for this operation:\n"
                  "error type: unknown_entity, error details:\nNode 'x' is unknown\n"),
    ("nomaster", 11, "Cannot communicate with the master daemon.\n"
                     "Is it running and listening for connections?\n"),
    ("interrupt", 1, "Aborted. Note that if the operation created any jobs, they might"
                     " have been submitted and will continue to run in the background.\n"),
    ("exec", 1, "Failure: command execution error:\ndisk failed\n"),
    ("oserror", 1, "Failure: [Errno 2] No such file or directory: '/x'\n"),
])
def test_generic_main_errors(what, code, message, capsys):
    assert run_main("fail", what) == code
    assert capsys.readouterr().err == message


def test_generic_main_override():
    assert run_main("list", override={"separator": ","}) == 0
    assert CALLS[0][1].separator == ","


def test_format_error_texts():
    assert cli.format_error(errors.OpPrereqError("only message")) == (
        1, "Failure: prerequisites not met for this operation:\nonly message")
    assert cli.format_error(errors.JobQueueDrainError("x")) == (
        1, "Failure: the job queue is marked for drain and doesn't accept new requests")
    assert cli.format_error(errors.HooksAbort([("n1", "10-x", "out"), ("n2", "20-y", "")]))[1] \
        == ("Failure: hooks execution failed:\n  node: n1, script: 10-x, output: out\n"
            "  node: n2, script: 20-y (no output)")
    assert cli.format_error(errors.ConfigurationError("no ssconf"))[0] == \
        constants.EXIT_NOTCLUSTER
    assert cli.format_error(errors.NoMasterError("/tmp/sock", "x"))[1].startswith(
        "Cannot communicate with socket '/tmp/sock'.")
    assert cli.format_error(errors.TimeoutError("slow"))[1].endswith("Error:\nslow")
    assert cli.format_error(errors.ProtocolError("bad"))[1] == \
        "Unhandled protocol error while talking to the master daemon:\nbad"
    assert cli.format_error(errors.LockError("l")) == (1, "Unhandled Ganeti error: l")
    assert cli.format_error(ValueError("v")) == (1, "Unhandled exception: v")


def test_get_client_socket_override(monkeypatch):
    monkeypatch.delenv("FORCE_LUXI_SOCKET", raising=False)
    assert cli.get_client().address == pathutils.MASTER_SOCKET
    monkeypatch.setenv("FORCE_LUXI_SOCKET", "query")
    assert cli.get_client().address == pathutils.QUERY_SOCKET
    monkeypatch.setenv("FORCE_LUXI_SOCKET", "master")
    assert cli.get_client().address == pathutils.MASTER_SOCKET
    monkeypatch.setenv("FORCE_LUXI_SOCKET", "/tmp/x.sock")
    assert cli.get_client().address == "/tmp/x.sock"


# ---- ask_user ---------------------------------------------------------------------------

class FakeTty(io.StringIO):
    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)

    def readline(self, *args):
        return self.answers.pop(0) if self.answers else ""


def test_ask_user():
    tty = FakeTty(["y\n"])
    assert cli.ask_user("Really remove?", tty=tty) is True
    assert tty.getvalue() == "Really remove?\ny/[n]/?: "
    tty = FakeTty(["?\n", "maybe\n", "N\n"])
    assert cli.ask_user("Really?", tty=tty) is False
    assert " y - Perform the operation\n" in tty.getvalue()
    assert cli.ask_user("Really?", tty=FakeTty(["\n"])) is False
    assert cli.ask_user("Really?", tty=FakeTty([])) is False
    choices = [("a", "all", "All of them"), ("o", "one", "Just one"), ("n", None, "No")]
    assert cli.ask_user("Which?", choices, tty=FakeTty(["o\n"])) == "one"
    with pytest.raises(errors.ProgrammerError):
        cli.ask_user("x", [("?", 1, "bad")], tty=FakeTty([]))


def test_ask_user_without_terminal():
    code = ("import sys; from ganeti import cli; "
            "sys.exit(0 if cli.ask_user('Sure?') is False else 1)")
    result = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                            capture_output=True, start_new_session=True,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr


# ---- jobs ----------------------------------------------------------------------------

TS = [1700000000, 250000]


class FakeClient:
    """Canned LUXI answers; records the calls."""

    def __init__(self, changes=(), jobs=None, query_result=None, fields_result=None):
        self.changes = list(changes)
        self.jobs = jobs
        self.query_result = query_result
        self.fields_result = fields_result
        self.calls = []
        self.submitted = []

    def submit_job(self, ops):
        self.submitted.append(ops)
        return 17

    def submit_many_jobs(self, jobs):
        self.submitted.extend(jobs)
        return [[True, 17 + idx] for idx in range(len(jobs))]

    def wait_for_job_change_once(self, job_id, fields, prev_job_info, prev_log_serial,
                                 timeout=None):
        self.calls.append(("wfjc", job_id, fields, prev_job_info, prev_log_serial))
        return self.changes.pop(0)

    def query_jobs(self, job_ids, fields):
        self.calls.append(("query_jobs", job_ids, fields))
        return self.jobs

    def query(self, what, fields, qfilter=None):
        self.calls.append(("query", what, fields, qfilter))
        return self.query_result

    def query_fields(self, what, fields=None):
        self.calls.append(("query_fields", what, fields))
        return self.fields_result


def test_poll_job_success(capsys):
    cl = FakeClient(changes=[
        [["running"], [[1, TS, "message", "creating disks"],
                       [2, TS, "message", "starting instance"]]],
        "nochange",
        [["running"], [[3, [TS[0] + 1, 0], "remote-import", {"x": 1}]]],
        [["success"], []],
    ], jobs=[["success", ["success"], [{"ok": True}]]])
    assert cli.poll_job(17, cl=cl) == [{"ok": True}]
    out = capsys.readouterr().out.splitlines()
    assert out == ["%s creating disks" % time.ctime(TS[0] + 0.25),
                   "%s starting instance" % time.ctime(TS[0] + 0.25),
                   "%s {'x': 1}" % time.ctime(TS[0] + 1)]
    waits = [c for c in cl.calls if c[0] == "wfjc"]
    assert [c[3:] for c in waits] == [(None, None), (["running"], 2), (["running"], 2),
                                      (["running"], 3)]
    assert waits[0][2] == ["status"]
    assert cl.calls[-1] == ("query_jobs", [17], ["status", "opstatus", "opresult"])


def test_poll_job_feedback_fn():
    seen = []
    cl = FakeClient(changes=[[["running"], [[5, TS, "message", "hi"]]],
                             [["success"], []]],
                    jobs=[["success", ["success", "success"], [1, 2]]])
    assert cli.poll_job(3, cl=cl, feedback_fn=seen.append) == [1, 2]
    assert seen == [(TS, "message", "hi")]


def test_poll_job_queue_notice(capsys):
    cl = FakeClient(changes=[[["queued"], []], "nochange", "nochange", [["success"], []]],
                    jobs=[["success", ["success"], [None]]])
    cli.poll_job(4, cl=cl)
    assert capsys.readouterr().err == "Job 4 is waiting in queue\n"


def test_poll_job_error_is_raised_again():
    encoded = errors.encode(errors.OpPrereqError("Instance 'x' not known",
                                                 errors.ECODE_NOENT))
    cl = FakeClient(changes=[[["error"], []]],
                    jobs=[["error", ["success", "error"], [None, encoded]]])
    with pytest.raises(errors.OpPrereqError) as info:
        cli.poll_job(5, cl=cl)
    assert info.value.args == ("Instance 'x' not known", errors.ECODE_NOENT)


def test_poll_job_plain_error_and_partial_failure():
    cl = FakeClient(changes=[[["error"], []]], jobs=[["error", ["error"], ["it broke"]]])
    with pytest.raises(errors.OpExecError, match="^it broke$"):
        cli.poll_job(5, cl=cl)
    cl = FakeClient(changes=[[["error"], []]],
                    jobs=[["error", ["success", "error"], [1, "it broke"]]])
    with pytest.raises(errors.OpExecError, match="partial failure"):
        cli.poll_job(5, cl=cl)


def test_poll_job_canceled_and_lost():
    cl = FakeClient(changes=[[["canceled"], []]],
                    jobs=[["canceled", ["canceled"], [None]]])
    with pytest.raises(errors.JobCanceled, match="Job was canceled"):
        cli.poll_job(6, cl=cl)
    cl = FakeClient(changes=[None], jobs=[None])
    with pytest.raises(errors.JobLost):
        cli.poll_job(6, cl=cl)


class Opts:
    def __init__(self, **kwargs):
        self.debug = 0
        self.__dict__.update(kwargs)


def test_submit_or_send_submit_only(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["gnt-instance", "startup", "inst1"])
    op = {"OP_ID": "OP_TEST_DELAY", "duration": 1.0}
    cl = FakeClient()
    opts = Opts(submit_only=True, print_jobid=False, dry_run=True,
                priority=constants.OP_PRIO_LOW, reason="maintenance")
    assert cli.submit_or_send(op, opts, cl=cl) is None
    assert capsys.readouterr().err == "JobID: 17\n"
    sent, = cl.submitted[0]
    assert sent["dry_run"] is True and sent["priority"] == 10 and sent["debug_level"] == 0
    assert [entry[:2] for entry in sent["reason"]] == [
        ["gnt:user", "maintenance"], ["gnt:client:gnt-instance", "startup"]]
    assert all(isinstance(entry[2], int) for entry in sent["reason"])
    assert cl.calls == []


def test_submit_or_send_waits(capsys):
    op = opcodes.OpTestDelay(duration=0.5)
    cl = FakeClient(changes=[[["success"], []]], jobs=[["success", ["success"], ["done"]]])
    opts = Opts(submit_only=False, print_jobid=True, priority=None, reason=None)
    assert cli.submit_or_send(op, opts, cl=cl) == "done"
    assert capsys.readouterr().out == "17\n"
    assert cl.submitted == [[op]]
    assert op.priority == constants.OP_PRIO_DEFAULT and op.dry_run is False
    assert op.reason[-1][0].startswith("gnt:client:")
    op.validate()


def test_submit_op_code_without_opts():
    cl = FakeClient(changes=[[["success"], []]], jobs=[["success", ["success"], [42]]])
    op = {"OP_ID": "OP_TEST_DELAY", "duration": 0}
    assert cli.submit_op_code(op, cl=cl) == 42
    assert op == {"OP_ID": "OP_TEST_DELAY", "duration": 0}


def test_submit_jobs_and_wait():
    cl = FakeClient(changes=[[["success"], []], [["error"], []]],
                    jobs=None)
    answers = [[["success", ["success"], [1]]], [["error", ["error"], ["bad"]]]]
    cl.query_jobs = lambda ids, fields: answers.pop(0)
    result = cli.submit_jobs_and_wait([[{"OP_ID": "OP_TEST_DELAY", "duration": 0}],
                                       [{"OP_ID": "OP_TEST_DELAY", "duration": 1}]],
                                      cl=cl)
    assert result == [(True, [1]), (False, "Failure: command execution error:\nbad")]


def test_format_log_message():
    assert cli.format_log_message("message", "text") == "text"
    assert cli.format_log_message("remote-import", {"a": 1}) == "{'a': 1}"
    assert cli.format_log_message("message", 5) == "5"


def test_format_timestamp():
    ts = 1700000000
    expected = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    assert cli.format_timestamp([ts, 123]) == expected
    assert cli.format_timestamp(float(ts)) == expected
    assert cli.format_timestamp([ts, 123], with_usecs=True) == expected + ".000123"
    assert cli.format_timestamp(None) == "N/A"
    assert cli.format_timestamp("x") == "N/A"


# ---- generic_list / generic_list_fields -----------------------------------------------------

def fdef(name, title, kind):
    return {"name": name, "title": title, "kind": kind, "doc": "The %s" % name}


NODE_QUERY = {
    "fields": [fdef("name", "Node", "text"), fdef("dtotal", "DTotal", "unit"),
               fdef("pinst_cnt", "Pinst", "number"), fdef("master", "IsMaster", "bool"),
               fdef("pinst_list", "PriInstances", "other"),
               fdef("ndparams", "NodeParameters", "other")],
    "data": [
        [[0, "node1.example.com"], [0, 203776], [0, 2], [0, True], [0, ["i1", "i2"]],
         [0, {"a": 1}]],
        [[0, "node2.example.com"], [4, None], [0, 0], [0, False], [0, []], [0, {}]],
        [[0, "node3.example.com"], [2, None], [0, 1], [0, False], [0, ["i3"]],
         [3, None]],
    ],
}


def list_nodes(cl, names=None, **kwargs):
    args = dict(unit=None, separator=None, header=True, cl=cl)
    args.update(kwargs)
    return cli.generic_list("node", [f["name"] for f in NODE_QUERY["fields"]], names,
                            **args)


def test_generic_list_table(capsys):
    cl = FakeClient(query_result=NODE_QUERY)
    assert list_nodes(cl) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Node              DTotal Pinst IsMaster PriInstances NodeParameters",
        "node1.example.com 199.0G     2 Y        i1,i2        {'a': 1}",
        "node2.example.com      *     0 N                     {}",
        "node3.example.com      ?     1 N        i3           -",
    ]
    assert cl.calls == [("query", "node", ["name", "dtotal", "pinst_cnt", "master",
                                           "pinst_list", "ndparams"], None)]


def test_generic_list_verbose_separator_no_header(capsys):
    cl = FakeClient(query_result=NODE_QUERY)
    assert list_nodes(cl, separator="|", header=False, verbose=True) == 0
    assert capsys.readouterr().out.splitlines() == [
        "node1.example.com|203776|2|Y|i1,i2|{'a': 1}",
        "node2.example.com|(offline)|0|N||{}",
        "node3.example.com|(nodata)|1|N|i3|(unavail)",
    ]


def test_generic_list_format_override_and_units(capsys):
    cl = FakeClient(query_result=NODE_QUERY)
    override = {"ndparams": (lambda value: "%d keys" % len(value), True)}
    list_nodes(cl, unit="g", format_override=override)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "node1.example.com  199.0     2 Y        i1,i2                1 keys"


def test_generic_list_unknown_fields(capsys):
    result = {"fields": [fdef("name", "Node", "text"), fdef("foo", "foo", "unknown")],
              "data": [[[0, "node1"], [1, None]]]}
    cl = FakeClient(query_result=result)
    code = cli.generic_list("node", ["name", "foo"], None, None, None, True, cl=cl)
    assert code == constants.EXIT_UNKNOWN_FIELD == 14
    captured = capsys.readouterr()
    assert captured.err == "Warning: Queried for unknown fields foo\n"
    assert captured.out.splitlines() == ["Node  foo", "node1 ??"]


def test_generic_list_filters():
    empty = {"fields": [fdef("name", "Node", "text")], "data": []}
    cl = FakeClient(query_result=empty)
    list_nodes(cl, names=["node1", "web*"])
    assert cl.calls[-1][3] == ["|", ["=", "name", "node1"],
                               ["=~", "name", qlang.dns_glob_pattern("web*")]]
    list_nodes(cl, names=["offline and master_candidate"])
    assert cl.calls[-1][3] == ["&", ["?", "offline"], ["?", "master_candidate"]]
    list_nodes(cl, names=["offline"], force_filter=True)
    assert cl.calls[-1][3] == ["?", "offline"]
    list_nodes(cl, names=["a"], qfilter=["?", "offline"])
    assert cl.calls[-1][3] == ["&", ["|", ["=", "name", "a"]], ["?", "offline"]]
    list_nodes(cl, names=[], qfilter=["?", "offline"])
    assert cl.calls[-1][3] == ["?", "offline"]
    cli.generic_list("job", ["id"], ["5"], None, None, True, cl=cl, namefield="id",
                     isnumeric=True)
    assert cl.calls[-1][3] == ["|", ["=", "id", 5]]
    with pytest.raises(errors.OpPrereqError):
        list_nodes(cl, names=["name =="])


def test_generic_list_job_summary_and_timestamps(capsys):
    result = {"fields": [fdef("id", "ID", "number"), fdef("summary", "Summary", "other"),
                         fdef("ctime", "CTime", "timestamp")],
              "data": [[[0, 2268], [0, ["INSTANCE_REMOVE(par13)", "X(y)"]],
                        [0, [1700000000, 5]]],
                       [[0, 7], [0, []], [0, None]]]}
    cl = FakeClient(query_result=result)
    cli.generic_list("job", ["id", "summary", "ctime"], None, None, None, True, cl=cl)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1700000000))
    assert capsys.readouterr().out.splitlines() == [
        "  ID Summary                     CTime",
        "2268 INSTANCE_REMOVE(par13),X(y) %s" % stamp,
        "   7                             N/A",
    ]


def test_generic_list_fields(capsys):
    result = {"fields": [fdef("name", "Node", "text"), fdef("mtotal", "MTotal", "unit"),
                         fdef("bogus", "bogus", "unknown")]}
    cl = FakeClient(fields_result=result)
    code = cli.generic_list_fields("node", ["name", "mtotal", "bogus"], None, True, cl=cl)
    assert code == 14
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "Name   Type         Title  Description",
        "name   Text         Node   The name",
        "mtotal Storage size MTotal The mtotal",
        "bogus  Unknown      bogus  The bogus",
    ]
    assert captured.err == "Warning: Queried for unknown fields bogus\n"
    assert cl.calls == [("query_fields", "node", ["name", "mtotal", "bogus"])]
    cl = FakeClient(fields_result={"fields": result["fields"][:1]})
    assert cli.generic_list_fields("node", [], ":", False, cl=cl) == 0
    assert capsys.readouterr().out == "name:Text:Node:The name\n"
    assert cl.calls == [("query_fields", "node", None)]


# ---- startup cost -------------------------------------------------------------------------

def test_cli_import_stays_light():
    code = ("import sys; import ganeti.cli; "
            "heavy = [m for m in ('pyparsing', 'ganeti.opcodes', 'ganeti.qlang', 'typing',"
            " 'ganeti.config', 'shlex', 'traceback') if m in sys.modules]; "
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ), check=True)
    assert result.stdout.strip() == ""


def test_poll_job_stops_on_nochange_after_final_status(capsys):
    cl = FakeClient(changes=[[["success"], [[1, TS, "message", "last words"]]], "nochange"],
                    jobs=[["success", ["success"], [True]]])
    assert cli.poll_job(8, cl=cl) == [True]
    assert capsys.readouterr().out.endswith("last words\n")


# ---- end to end over a real LUXI socket ---------------------------------------------------

_SCRIPT = """
import sys
from ganeti import cli

def list_nodes(opts, args):
    fields = cli.parse_fields(opts.output, ["name", "mtotal"])
    return cli.generic_list("node", fields, args, opts.units, opts.separator,
                            not opts.no_headers)

commands = {"list": (list_nodes, cli.ARGS_MANY_NODES,
                     [cli.NOHDR_OPT, cli.SEP_OPT, cli.UNITS_OPT, cli.FIELDS_OPT],
                     "[<node>...]", "Lists nodes")}
sys.exit(cli.generic_main(commands, argv=["gnt-node"] + sys.argv[1:]))
"""


def test_list_over_luxi_socket(tmp_path):
    import json
    import socket
    import threading

    path = str(tmp_path / "master.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    requests = []

    def serve():
        conn, _ = server.accept()
        data = b""
        while b"\x03" not in data:
            data += conn.recv(4096)
        request = json.loads(data.split(b"\x03")[0])
        requests.append(request)
        result = {"fields": [fdef("name", "Node", "text"), fdef("mtotal", "MTotal", "unit")],
                  "data": [[[0, "node1.example.com"], [0, 16288]]]}
        conn.sendall(json.dumps({"success": True, "result": result,
                                 "version": request["version"]}).encode() + b"\x03")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    env = dict(os.environ, FORCE_LUXI_SOCKET=path)
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", _SCRIPT, "list", "node1"], env=env,
                            capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - start
    thread.join(5)
    server.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Node              MTotal\nnode1.example.com  15.9G\n"
    assert requests[0]["method"] == "Query"
    assert requests[0]["args"] == ["node", ["name", "mtotal"],
                                   ["|", ["=", "name", "node1"]]]
    assert elapsed < 2.0   # generous: the real budget (<80 ms) is checked by hand
