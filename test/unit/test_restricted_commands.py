"""gnt-node restricted-command: the node's checks before it runs a command of
its restricted-commands directory (names, owner and mode of the directory and
the file), the lock and the delay after a refusal, the logical unit's answers
and the client's output."""

import fcntl
import os
import types

import pytest

from ganeti import cli, constants, errors, locking, opcodes
from ganeti.backend import RpcFail
from ganeti.backend import restricted_commands as rc
from ganeti.client import gnt_node
from ganeti.cmdlib import node as lu_node
from ganeti.utils import process

from test_cluster_admin import _make_cfg

ME = (os.getuid(), os.getgid())


class _Node:
    """A restricted-commands directory owned by us (the tests' "root"), the
    lock file, and a fake run_cmd that records what would run."""

    def __init__(self, tmp_path, monkeypatch):
        self.dir = str(tmp_path / "restricted-commands")
        os.mkdir(self.dir, 0o755)
        os.chmod(self.dir, 0o755)
        self.lock_file = str(tmp_path / "lock" / "ganeti-restricted-commands.lock")
        self.sleeps = []
        self.runs = []
        self.answer = process.RunResult(["x"], 0, None, "hello\n", "")
        self.lock_free_while_running = None
        monkeypatch.setattr(process, "run_cmd", self._run_cmd)

    def _run_cmd(self, cmd, **kwargs):
        self.runs.append((list(cmd), kwargs))
        if self.answer.exit_code != 127:
            kwargs["started_fn"]()
            self.lock_free_while_running = _lock_free(self.lock_file)
        return self.answer

    def add(self, name, text="#!/bin/sh\necho hello\n", mode=0o755):
        path = os.path.join(self.dir, name)
        with open(path, "w") as fd:
            fd.write(text)
        os.chmod(path, mode)
        return path

    def run(self, cmd, owner=ME, **kwargs):
        return rc.restricted_command(cmd, directory=self.dir, lock_file=self.lock_file,
                                     owner=owner, sleep=self.sleeps.append, **kwargs)

    def refused(self, cmd, caplog, reason, **kwargs):
        """Run ``cmd``, expecting the generic error after the delay, ``reason``
        in the log and nothing run."""
        with pytest.raises(RpcFail) as err:
            self.run(cmd, **kwargs)
        assert str(err.value) == "Executing command '%s' failed" % (cmd,)
        assert self.sleeps == [rc.INVALID_DELAY]
        assert self.runs == []
        assert reason in caplog.text


def _lock_free(path):
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture
def node(tmp_path, monkeypatch):
    return _Node(tmp_path, monkeypatch)


# ---- the node side ----------------------------------------------------------------------

def test_runs_the_command_with_a_clean_environment(node):
    path = node.add("hello")
    node.answer = process.RunResult([path], 0, None, "out\n", "err\n")
    assert node.run("hello") == "out\nerr\n"
    (cmd, kwargs), = node.runs
    assert cmd == [path] and kwargs["reset_env"] is True and not kwargs.get("env")
    assert kwargs["timeout"] < constants.RPC_TMO_SLOW
    assert node.sleeps == []
    # the lock is held to check and start the command, not while it runs
    assert node.lock_free_while_running is True
    assert _lock_free(node.lock_file)


def test_a_symlink_to_an_executable_runs(node, tmp_path):
    target = tmp_path / "target"
    target.write_text("#!/bin/sh\n")
    target.chmod(0o755)
    os.symlink(str(target), os.path.join(node.dir, "linked"))
    node.run("linked")
    assert node.runs[0][0] == [os.path.join(node.dir, "linked")]


def test_failed_command_reports_its_status_and_output_at_once(node):
    node.add("broken")
    node.answer = process.RunResult(["broken"], 3, None, "partial\n", "no disk\n")
    with pytest.raises(RpcFail) as err:
        node.run("broken")
    assert str(err.value) == ("Restricted command 'broken' failed: exited with exit code"
                              " 3; output: partial\nno disk\n")
    assert node.sleeps == []


@pytest.mark.parametrize("name,reason", [
    ("", "Missing command name"), ("  ", "Missing command name"),
    ("../hello", "Invalid command name"), ("sub/hello", "Invalid command name"),
    ("/bin/true", "Invalid command name"), ("hello.sh", "forbidden characters"),
    ("hel lo", "forbidden characters"), ("h\u00e9llo", "forbidden characters"),
    (["hello"], "Invalid command name"),
])
def test_bad_names_are_refused_and_nothing_runs(node, caplog, name, reason):
    node.add("hello")
    node.refused(name, caplog, reason)


def test_missing_directory(node, caplog):
    os.rmdir(node.dir)
    node.refused("hello", caplog, "Can't stat(2) '%s'" % node.dir)


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o1755, 0o777])
def test_writable_directory_is_refused(node, caplog, mode):
    node.add("hello")
    os.chmod(node.dir, mode)
    node.refused("hello", caplog, "Permissions on '%s' are too permissive" % node.dir)


def test_directory_of_another_owner_is_refused(node, caplog):
    node.add("hello")
    other = (ME[0] + 1, ME[1])
    node.refused("hello", caplog, "'%s' is not owned by %d:%d" % ((node.dir,) + other),
                 owner=other)


def test_directory_path_that_is_a_file(node, caplog, tmp_path):
    os.rmdir(node.dir)
    with open(node.dir, "w") as fd:
        fd.write("")
    os.chmod(node.dir, 0o755)
    node.refused("hello", caplog, "Path '%s' is not a directory" % node.dir)


def test_missing_command(node, caplog):
    node.refused("hello", caplog, "Can't stat(2) '%s/hello'" % node.dir)


def test_not_executable(node, caplog):
    node.add("hello", mode=0o644)
    node.refused("hello", caplog, "access(2) thinks '%s/hello' can't be executed"
                 % node.dir)


def test_a_directory_is_no_command(node, caplog):
    os.mkdir(os.path.join(node.dir, "hello"), 0o755)
    node.refused("hello", caplog, "access(2) thinks '%s/hello' can't be executed"
                 % node.dir)


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o4755])
def test_writable_command_is_refused(node, caplog, mode):
    path = node.add("hello", mode=mode)
    node.refused("hello", caplog, "Permissions on '%s' are too permissive" % path)


def test_command_of_another_owner_is_refused(node, caplog):
    path = node.add("hello")
    if os.getuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(path, 1, 1)
    node.refused("hello", caplog, "'%s' is not owned by %d:%d" % ((path,) + ME))


def test_command_that_cannot_start_gets_the_generic_error(node, caplog):
    node.add("hello")
    node.answer = process.RunResult(["hello"], 127, None, "",
                                    "cannot execute: [Errno 8] Exec format error")
    with pytest.raises(RpcFail, match="^Executing command 'hello' failed$"):
        node.run("hello")
    assert node.sleeps == [rc.INVALID_DELAY]
    assert "Exec format error" in caplog.text


def test_busy_lock_gives_the_generic_error(node, caplog):
    node.add("hello")
    os.makedirs(os.path.dirname(node.lock_file))
    fd = os.open(node.lock_file, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        node.refused("hello", caplog, "Can't acquire lock", lock_timeout=0.1)
    finally:
        os.close(fd)


def test_refusal_keeps_the_lock_during_the_delay(node):
    held = []
    node.sleeps = types.SimpleNamespace(
        append=lambda secs: held.append((secs, _lock_free(node.lock_file))))
    with pytest.raises(RpcFail):
        node.run("nosuchcommand")
    assert held == [(rc.INVALID_DELAY, False)]
    assert _lock_free(node.lock_file)


def test_real_command_output_and_status(tmp_path, monkeypatch):
    """Through the real run_cmd: the output, the exit code, no inherited variables."""
    directory = tmp_path / "rc"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    marker = tmp_path / "fail"
    script = directory / "show-env"
    script.write_text("#!/bin/sh\necho \"HOME=${HOME-unset}\"\necho oops >&2\n"
                      "[ -e %s ] && exit 4\nexit 0\n" % marker)
    script.chmod(0o755)
    monkeypatch.setenv("HOME", "/root")
    kwargs = dict(directory=str(directory), lock_file=str(tmp_path / "lock"), owner=ME)
    assert rc.restricted_command("show-env", **kwargs) == "HOME=unset\noops\n"
    marker.write_text("")
    with pytest.raises(RpcFail, match="^Restricted command 'show-env' failed: exited"
                       " with exit code 4; output: HOME=unset\noops\n$"):
        rc.restricted_command("show-env", **kwargs)


def test_run_cmd_says_when_the_command_started():
    started = []
    assert not process.run_cmd(["true"], started_fn=lambda: started.append(1)).failed
    assert started == [1]
    result = process.run_cmd(["/nonexistent/cmd"], started_fn=lambda: started.append(2))
    assert result.exit_code == 127 and started == [1]


# ---- the logical unit -------------------------------------------------------------------

class _Res:
    def __init__(self, payload=None, fail_msg=None):
        self.payload = payload
        self.fail_msg = fail_msg


class _Rpc:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def call_restricted_command(self, nodes, cmd):
        self.calls.append((list(nodes), cmd))
        return dict((n, self.answers[n]) for n in nodes)


def _lu(tmp_path, answers, **params):
    cfg = _make_cfg(tmp_path, nodes=3)
    op = opcodes.OpRestrictedCommand(**params)
    op.validate()
    ctx = types.SimpleNamespace(cfg=cfg, rpc=_Rpc(answers), glm=None)
    lu = lu_node.LURestrictedCommand(None, op, ctx, None)
    lu.expand_names()
    return lu, ctx.rpc


def test_lu_answers_per_node_in_order(tmp_path):
    lu, rpc = _lu(tmp_path, {
        "node2.example.com": _Res("two\n"),
        "node1.example.com": _Res(fail_msg="Executing command 'check' failed")},
        command="check", nodes=["node2", "node1.example.com"])
    assert lu.needed_locks[locking.LEVEL_NODE] == ["node2.example.com",
                                                   "node1.example.com"]
    assert lu.share_locks[locking.LEVEL_NODE] == 1
    result = lu.exec(None)
    assert result == [[True, "two\n"],
                      [False, "Command 'check' on node 'node1.example.com' failed:"
                       " Executing command 'check' failed"]]
    assert opcodes.OpRestrictedCommand.OP_RESULT(result)
    assert rpc.calls == [(["node2.example.com", "node1.example.com"], "check")]


def test_lu_sync_takes_the_node_locks_exclusively(tmp_path):
    lu, _ = _lu(tmp_path, {}, command="check", nodes=["node3"], use_locking=True)
    assert lu.share_locks[locking.LEVEL_NODE] == 0


def test_lu_refuses_unknown_nodes(tmp_path):
    with pytest.raises(errors.OpPrereqError, match="Node 'node9' not known"):
        _lu(tmp_path, {}, command="check", nodes=["node9"])


@pytest.mark.parametrize("params", [dict(nodes=["node1"]), dict(command="x"),
                                    dict(command="", nodes=["node1"]),
                                    dict(command="x", nodes=["node1"], use_locking="yes")])
def test_opcode_refuses_bad_parameters(params):
    with pytest.raises(errors.OpPrereqError):
        opcodes.OpCode.from_dict(dict(params, OP_ID="OP_RESTRICTED_COMMAND"))


# ---- the client ---------------------------------------------------------------------------

_ROWS = [("node1.example.com", False, "default"), ("node2.example.com", False, "default"),
         ("node3.example.com", True, "other"), ("node4.example.com", False, "other")]


class _Client:
    def query(self, what, fields, qfilter):
        from ganeti import qlang
        assert what == "node" and fields == ["name", "offline"]
        rows = []
        for name, offline, group in _ROWS:
            item = {"name": name, "offline": offline, "group": group,
                    "group.uuid": "uuid-" + group}
            if qfilter is None or qlang.filter_matches(qfilter, item.get):
                rows.append([[0, name], [0, offline]])
        return {"data": rows}


def _client_run(monkeypatch, capsys, argv, answers):
    sent = []

    def submit_or_send(op, opts, cl=None):
        sent.append(op)
        return None if opts.submit_only else [answers[n] for n in op.nodes]
    monkeypatch.setattr(cli, "get_client", _Client)
    monkeypatch.setattr(cli, "submit_or_send", submit_or_send)
    code = cli.generic_main(gnt_node.COMMANDS,
                            argv=["gnt-node", "restricted-command"] + argv)
    out = capsys.readouterr()
    return code, out.out, out.err, sent


_OK = {"node1.example.com": [True, "line 1\nline 2\n"],
       "node2.example.com": [True, "only\n"],
       "node4.example.com": [False, "Command 'check' on node 'node4.example.com' failed:"
                             " Executing command 'check' failed"]}
_SEP = "------------------------------------------------\n"


def test_client_output_per_node(monkeypatch, capsys):
    code, out, err, (op,) = _client_run(monkeypatch, capsys,
                                        ["check", "node1.example.com", "node2.example.com"],
                                        _OK)
    assert code == 0 and err == ""
    assert out == (_SEP + "Node: node1.example.com\nline 1\nline 2\n\n" +
                   _SEP + "Node: node2.example.com\nonly\n\n")
    assert (op.command, op.nodes, op.use_locking) == (
        "check", ["node1.example.com", "node2.example.com"], False)


def test_client_machine_names_and_sync(monkeypatch, capsys):
    code, out, _, (op,) = _client_run(monkeypatch, capsys,
                                      ["-M", "--sync", "check", "node1.example.com"], _OK)
    assert code == 0 and op.use_locking is True
    assert out == (_SEP + "node1.example.com: line 1\nnode1.example.com: line 2\n")


def test_client_group_skips_offline_nodes_and_fails_with_a_node(monkeypatch, capsys):
    code, out, err, (op,) = _client_run(monkeypatch, capsys, ["-g", "other", "check"], _OK)
    assert op.nodes == ["node4.example.com"]
    assert err == "Note: skipping offline node(s): node3.example.com\n"
    assert code == 1
    assert out == _SEP + _OK["node4.example.com"][1] + "\n"
    # the group by UUID, and together with names: the named nodes of the group
    _, _, _, (op,) = _client_run(monkeypatch, capsys,
                                 ["-g", "uuid-default", "check", "node2.example.com",
                                  "node4.example.com"], _OK)
    assert op.nodes == ["node2.example.com"]


def test_client_needs_nodes_or_a_group(monkeypatch, capsys):
    code, _, err, sent = _client_run(monkeypatch, capsys, ["check"], _OK)
    assert code == 1 and sent == []
    assert "Node group or node names must be given" in err


def test_client_submit_prints_nothing_more(monkeypatch, capsys):
    code, out, _, (op,) = _client_run(monkeypatch, capsys,
                                      ["--submit", "check", "node1.example.com"], _OK)
    assert code == 0 and out == ""
