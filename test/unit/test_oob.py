"""Out-of-band management: the helper's answers (backend and LU checks), the
OP_OOB_COMMAND logical unit on a configuration, and the client's tables and
epo decisions (gnt-node power/health, gnt-cluster epo)."""

import contextlib
import io
import types

import pytest

from ganeti import config, constants, errors, opcodes, query
from ganeti.backend import oob as b_oob
from ganeti.client import oob as c_oob
from ganeti.cmdlib import oob as lu_oob
from ganeti.utils import process

from test_cluster_admin import _make_cfg

PROGRAM = "/usr/local/sbin/oob-helper"


# ---- the node side: running the helper ---------------------------------------------------

def _fake_run(monkeypatch, exit_code=0, stdout="", stderr="", timed_out=False):
    calls = []

    def run_cmd(cmd, **kwargs):
        calls.append((list(cmd), kwargs))
        return process.RunResult(cmd, None if timed_out else exit_code, None, stdout,
                                 stderr, timed_out)
    monkeypatch.setattr(process, "run_cmd", run_cmd)
    return calls


def test_run_oob_runs_program_command_node_with_timeout(monkeypatch):
    calls = _fake_run(monkeypatch, stdout='{"powered": true}\n')
    assert b_oob.run_oob(PROGRAM, "power-status", "node2.example.com", 17) == \
        {"powered": True}
    (cmd, kwargs), = calls
    assert cmd == [PROGRAM, "power-status", "node2.example.com"]
    assert kwargs["timeout"] == 17 and kwargs["reset_env"] is True


@pytest.mark.parametrize("stdout", ["", "\n", "  \n\n"])
def test_run_oob_no_output_is_none(monkeypatch, stdout):
    _fake_run(monkeypatch, stdout=stdout)
    assert b_oob.run_oob(PROGRAM, "power-on", "node2", 60) is None


def test_run_oob_health_list(monkeypatch):
    _fake_run(monkeypatch, stdout='[["Fan 1", "OK"], ["PSU", "WARNING"]]')
    assert b_oob.run_oob(PROGRAM, "health", "node2", 60) == [["Fan 1", "OK"],
                                                              ["PSU", "WARNING"]]


def test_run_oob_failure_names_command_reason_and_output(monkeypatch):
    _fake_run(monkeypatch, exit_code=1, stderr="IPMI: no route to BMC\n")
    with pytest.raises(errors.GenericError,
                       match=r"^'%s power-off node2' failed with reason 'exited with exit"
                       r" code 1'; output: IPMI: no route to BMC" % PROGRAM):
        b_oob.run_oob(PROGRAM, "power-off", "node2", 60)


def test_run_oob_timeout(monkeypatch):
    _fake_run(monkeypatch, timed_out=True)
    with pytest.raises(errors.GenericError, match="timed out after 5 seconds"):
        b_oob.run_oob(PROGRAM, "power-on", "node2", 5)


def test_run_oob_invalid_json(monkeypatch):
    _fake_run(monkeypatch, stdout="powered: yes\n")
    with pytest.raises(errors.GenericError, match="returned invalid JSON .*powered: yes"):
        b_oob.run_oob(PROGRAM, "power-status", "node2", 60)


@pytest.mark.parametrize("args", [
    ("", "power-on", "node2", 60), (PROGRAM, "reboot", "node2", 60),
    (PROGRAM, "health", "", 60), (PROGRAM, "health", "node2", 0),
    (PROGRAM, "health", "node2", True)])
def test_run_oob_refuses_bad_arguments_without_running(monkeypatch, args):
    calls = _fake_run(monkeypatch)
    with pytest.raises(errors.GenericError):
        b_oob.run_oob(*args)
    assert calls == []


def test_run_oob_real_script(tmp_path):
    script = tmp_path / "oob"
    script.write_text("#!/bin/sh\n"
                      "printf '[[\"%s\", \"OK\"], [\"%s\", \"OK\"]]' \"$1\" \"$2\"\n")
    script.chmod(0o755)
    assert b_oob.run_oob(str(script), "health", "node9", 10) == [["health", "OK"],
                                                                 ["node9", "OK"]]


# ---- the master side: checking the answers --------------------------------------------

@pytest.mark.parametrize("command,payload", [
    ("power-on", None), ("power-off", None), ("power-cycle", None),
    ("power-status", {"powered": False}), ("power-status", {"powered": True, "x": 1}),
    ("health", []), ("health", [["Temp", "OK"], ["Fan", "UNKNOWN"], ["PSU", "CRITICAL"]]),
])
def test_valid_payloads(command, payload):
    assert lu_oob.payload_errors(command, payload) == []
    lu_oob.check_payload(command, payload)


@pytest.mark.parametrize("command,payload,text", [
    ("power-on", {"done": True},
     "power-on is expected to not return payload but got '{'done': True}'"),
    ("power-cycle", "ok", "power-cycle is expected to not return payload but got 'ok'"),
    ("power-status", [True],
     "power-status is expected to return a dict but got <class 'list'>"),
    ("power-status", {"state": "on"}, "power-status is expected to return a boolean"
     " 'powered' but got None"),
    ("health", {"Temp": "OK"},
     "command 'health' is expected to return a list but got <class 'dict'>"),
    ("health", [["Temp", "HOT"]], "health item 'Temp' has invalid status 'HOT'"),
    ("health", [["Temp"]], "health item ['Temp'] is not an [item, status] pair"),
])
def test_invalid_payloads(command, payload, text):
    assert lu_oob.payload_errors(command, payload) == [text]
    with pytest.raises(errors.OpExecError,
                       match=r"^Check of out-of-band payload failed due to "):
        lu_oob.check_payload(command, payload)


def test_several_errors_joined():
    errs = lu_oob.payload_errors("health", [["a", "BAD"], ["b", "WORSE"]])
    with pytest.raises(errors.OpExecError) as err:
        lu_oob.check_payload("health", [["a", "BAD"], ["b", "WORSE"]])
    assert str(err.value.args[0]).endswith(", ".join(errs))


# ---- the logical unit --------------------------------------------------------------------

class _Res:
    def __init__(self, payload=None, fail_msg=None):
        self.payload = payload
        self.fail_msg = fail_msg


class _OobRpc:
    """Answers run_oob from {(command, node): _Res}; records the calls."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.calls = []

    def call_run_oob(self, node, program, command, remote_node, timeout):
        self.calls.append((node, program, command, remote_node, timeout))
        return self.answers.get((command, remote_node), _Res())


def _cfg(tmp_path, nodes=3, program=PROGRAM, offline=()):
    cfg = _make_cfg(tmp_path, nodes=nodes)
    cluster = cfg.get_cluster_info()
    cluster.ndparams["oob_program"] = program
    cfg.update(cluster)
    for name in offline:
        node = cfg.get_node_info(name)
        node.offline = True
        cfg.update(node)
    return cfg


def _lu(cfg, rpc, **params):
    op = opcodes.OpOobCommand(**params)
    op.validate()
    log = []
    ctx = types.SimpleNamespace(cfg=cfg, rpc=rpc, glm=None)
    lu = lu_oob.LUOobCommand(None, op, ctx, log.append)
    lu.expand_names()
    return lu, log


def _powered(cfg, name):
    return config.ConfigWriter(cfg._cfg_file).get_node_info(name).powered


def test_power_off_needs_offline_node(tmp_path):
    cfg = _cfg(tmp_path)
    rpc = _OobRpc()
    lu, _ = _lu(cfg, rpc, node_names=["node2.example.com"], command="power-off")
    with pytest.raises(errors.OpPrereqError, match="Cannot power off node"
                       " node2.example.com because it is not marked offline'"):
        lu.check_prereq()
    assert rpc.calls == [] and _powered(cfg, "node2.example.com") is True


def test_power_off_offline_node_records_state(tmp_path):
    cfg = _cfg(tmp_path, offline=["node2.example.com"])
    rpc = _OobRpc()
    lu, _ = _lu(cfg, rpc, node_names=["node2"], command="power-off", timeout=7)
    lu.check_prereq()
    result = lu.exec(None)
    assert result == [[[0, "node2.example.com"], [0, None]]]
    assert rpc.calls == [("node1.example.com", PROGRAM, "power-off",
                          "node2.example.com", 7)]
    assert _powered(cfg, "node2.example.com") is False
    # and power-on brings the recorded state back
    lu, _ = _lu(cfg, rpc, node_names=["node2.example.com"], command="power-on")
    lu.check_prereq()
    lu.exec(None)
    assert _powered(cfg, "node2.example.com") is True


def test_power_off_ignore_status_online_node(tmp_path):
    cfg = _cfg(tmp_path)
    lu, _ = _lu(cfg, _OobRpc(), node_names=["node3.example.com"], command="power-off",
                ignore_status=True)
    lu.check_prereq()
    lu.exec(None)
    node = config.ConfigWriter(cfg._cfg_file).get_node_info("node3.example.com")
    assert node.powered is False and node.offline is False


@pytest.mark.parametrize("command", ["power-off", "power-cycle"])
@pytest.mark.parametrize("program,extra", [
    (PROGRAM, "run '%s %%s node1.example.com' if you want to operate on the master"
     " regardless" % PROGRAM),
    ("", "it does not support out-of-band operations")])
def test_master_refused_when_named(tmp_path, command, program, extra):
    cfg = _cfg(tmp_path, program=program)
    lu, _ = _lu(cfg, _OobRpc(), node_names=["node1.example.com"], command=command,
                ignore_status=True)
    text = ("Operating on the master node node1.example.com is not allowed for %s; "
            % command) + (extra % command if "%s" in extra else extra)
    with pytest.raises(errors.OpPrereqError) as err:
        lu.check_prereq()
    assert err.value.args[0] == text


def test_no_names_means_all_nodes_but_the_master_for_power_cycle(tmp_path):
    cfg = _cfg(tmp_path, nodes=3)
    rpc = _OobRpc()
    lu, _ = _lu(cfg, rpc, command="power-cycle")
    lu.check_prereq()
    result = lu.exec(None)
    assert [entry[0][1] for entry in result] == ["node2.example.com", "node3.example.com"]
    # power-cycle does not change the recorded state
    assert _powered(cfg, "node2.example.com") is True


def test_status_of_all_nodes_sorted_with_unavail_and_nodata(tmp_path):
    cfg = _cfg(tmp_path, nodes=3, program="")
    node = cfg.get_node_info("node2.example.com")
    node.ndparams = {"oob_program": PROGRAM}
    cfg.update(node)
    node = cfg.get_node_info("node3.example.com")
    node.ndparams = {"oob_program": PROGRAM}
    cfg.update(node)
    rpc = _OobRpc({("power-status", "node2.example.com"): _Res({"powered": False}),
                   ("power-status", "node3.example.com"): _Res(fail_msg="boom")})
    lu, log = _lu(cfg, rpc, command="power-status")
    lu.check_prereq()
    result = lu.exec(None)
    assert result == [[[0, "node1.example.com"], [3, None]],
                      [[0, "node2.example.com"], [0, {"powered": False}]],
                      [[0, "node3.example.com"], [2, None]]]
    assert log == [" - WARNING: Out-of-band RPC failed on node 'node3.example.com': boom"]
    # power-status only reports: the recorded state stays
    assert _powered(cfg, "node2.example.com") is True
    rows, errs = c_oob.power_rows("power-status", result)
    assert rows == [["node1.example.com", "(unavail)"], ["node2.example.com", "unpowered"],
                    ["node3.example.com", "(nodata)"]]
    assert errs == 2


def test_invalid_answer_is_nodata_and_changes_nothing(tmp_path):
    cfg = _cfg(tmp_path, offline=["node2.example.com"])
    rpc = _OobRpc({("power-off", "node2.example.com"): _Res("done")})
    lu, log = _lu(cfg, rpc, node_names=["node2.example.com"], command="power-off")
    lu.check_prereq()
    assert lu.exec(None) == [[[0, "node2.example.com"], [2, None]]]
    assert log == [" - WARNING: Payload returned by node 'node2.example.com' is not"
                   " valid: Check of out-of-band payload failed due to power-off is"
                   " expected to not return payload but got 'done'"]
    assert _powered(cfg, "node2.example.com") is True


def test_health_warns_about_bad_items(tmp_path):
    cfg = _cfg(tmp_path, nodes=2)
    items = [["Temp", "OK"], ["PSU 2", "CRITICAL"], ["Fan", "WARNING"], ["Disk", "UNKNOWN"]]
    rpc = _OobRpc({("health", "node2.example.com"): _Res(items)})
    lu, log = _lu(cfg, rpc, node_names=["node2.example.com"], command="health")
    lu.check_prereq()
    result = lu.exec(None)
    assert log == [" - WARNING: Item 'PSU 2' on node 'node2.example.com' has status"
                   " 'CRITICAL'",
                   " - WARNING: Item 'Fan' on node 'node2.example.com' has status"
                   " 'WARNING'"]
    rows, errs = c_oob.health_rows(result)
    assert rows == [["node2.example.com", "Temp=OK"], ["", "PSU 2=CRITICAL"],
                    ["", "Fan=WARNING"], ["", "Disk=UNKNOWN"]]
    assert errs == 0


def test_power_on_waits_power_delay_between_nodes(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, nodes=3)
    sleeps = []
    monkeypatch.setattr(lu_oob.time, "sleep", sleeps.append)
    lu, _ = _lu(cfg, _OobRpc(), command="power-on", power_delay=0.5)
    lu.check_prereq()
    lu.exec(None)
    assert sleeps == [0.5, 0.5]     # three nodes, none after the last


def test_unknown_node(tmp_path):
    cfg = _cfg(tmp_path)
    with pytest.raises(errors.OpPrereqError, match="Node 'nosuch' not known"):
        _lu(cfg, _OobRpc(), node_names=["nosuch"], command="health")


@pytest.mark.parametrize("params", [
    {"command": "reboot"}, {"command": "health", "timeout": 0},
    {"command": "power-on", "power_delay": -1}, {"command": "health", "node_names": [""]}])
def test_opcode_refuses_bad_parameters(params):
    with pytest.raises(errors.OpPrereqError, match="OP_OOB_COMMAND"):
        opcodes.OpOobCommand.from_dict(dict(params, OP_ID="OP_OOB_COMMAND"))


def test_node_set_online_needs_power(tmp_path):
    from ganeti.cmdlib import node as lu_node
    cfg = _cfg(tmp_path, offline=["node2.example.com"])
    node = cfg.get_node_info("node2.example.com")
    node.powered = False
    cfg.update(node)
    op = opcodes.OpNodeSetParams(node_name="node2.example.com", offline=False)
    op.validate()
    lu = lu_node.LUNodeSetParams(None, op, types.SimpleNamespace(cfg=cfg, rpc=None,
                                                                 glm=None), None)
    lu.expand_names()
    with pytest.raises(errors.OpPrereqError, match="'Node node2.example.com needs to be"
                       " turned on before its offline status can be reset'"):
        lu.check_prereq()


# ---- the powered query field ---------------------------------------------------------

def test_powered_field_unavailable_without_program(tmp_path):
    cfg = _cfg(tmp_path, nodes=2, program="")
    node = cfg.get_node_info("node2.example.com")
    node.ndparams = {"oob_program": PROGRAM}
    node.powered = False
    cfg.update(node)
    cluster = cfg.get_cluster_info()
    ctx = query.NodeQueryData(cluster, None, cfg.get_all_node_groups_info(), {}, {}, None)
    field = query.NODE_FIELDS["powered"]
    assert field.getter(ctx, cfg.get_node_info("node1.example.com")) is query.UNAVAIL
    assert field.getter(ctx, cfg.get_node_info("node2.example.com")) is False


# ---- the client --------------------------------------------------------------------------

def test_power_rows_invoked():
    rows, errs = c_oob.power_rows("power-on", [[[0, "n1"], [0, None]],
                                               [[0, "n2"], [3, None]]])
    assert rows == [["n1", "invoked"], ["n2", "(unavail)"]] and errs == 1


def _capture(func, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = func(*args)
    return result, out.getvalue(), err.getvalue()


def test_run_when_reachable_starts_as_nodes_come_up():
    now = [0.0]
    answers = {"10.0.0.1": [True], "10.0.0.2": [False, True]}
    seen = []

    def ping(ip):
        return answers[ip].pop(0) if len(answers[ip]) > 1 else answers[ip][0]

    def sleep(secs):
        now[0] += secs

    def action(up):
        seen.append(sorted(up))
        return True
    ok, out, _ = _capture(c_oob.run_when_reachable,
                          {"n1": "10.0.0.1", "n2": "10.0.0.2"}, action, 30, 900, ping,
                          sleep, lambda: now[0])
    assert ok is True
    assert seen == [[], ["n1"], ["n1"], ["n1", "n2"]]
    assert out == "Node n1 became available\nNode n2 became available\n"
    assert now[0] == 30.0


def test_run_when_reachable_gives_up():
    now = [0.0]

    def sleep(secs):
        now[0] += secs
    ok, _, err = _capture(c_oob.run_when_reachable, {"n1": "a", "n2": "b"},
                          lambda up: True, 30, 60, lambda ip: False, sleep,
                          lambda: now[0])
    assert ok is False
    assert err == ("Time exceeded while waiting for nodes to become reachable again:\n"
                   "  - n1  - n2\n")


class _EpoClient:
    def __init__(self, rows):
        self.rows = rows

    def query_nodes(self, names, fields, lock):
        return [r for r in self.rows if not names or r[0] in names]


def _epo(monkeypatch, rows, args=(), **options):
    opts = types.SimpleNamespace(groups=False, show_all=False, on=False, force=True,
                                 oob_timeout=60, power_delay=2.0, shutdown_timeout=120)
    for key, value in options.items():
        setattr(opts, key, value)
    done = {}
    monkeypatch.setattr(c_oob.cli, "get_client", lambda: _EpoClient(rows))
    monkeypatch.setattr(c_oob, "_epo_off", lambda o, nodes, insts: done.update(
        off=(nodes, insts)) or 0)
    monkeypatch.setattr(c_oob, "_epo_on", lambda o, ips, nodes, insts: done.update(
        on=(ips, nodes, insts)) or 0)
    code, out, err = _capture(c_oob.epo, opts, list(args))
    return code, out, err, done


# name, master, pinst_list, sinst_list, powered, offline, pip
_ROWS = [["n1", True, ["i1"], [], None, False, "10.0.0.1"],
         ["n2", False, ["i2"], ["i1"], True, False, "10.0.0.2"],
         ["n3", False, ["i3"], [], None, False, "10.0.0.3"],
         ["n4", False, [], [], False, True, "10.0.0.4"]]


def test_epo_refuses_the_master_without_all(monkeypatch):
    code, out, err, done = _epo(monkeypatch, _ROWS)
    assert code == 1 and done == {}
    assert err == ("n1 is the master node, please do a master-failover to another node"
                   " not affected by the EPO or use --all if you intend to shutdown the"
                   " whole cluster\n")


def test_epo_all_off(monkeypatch):
    code, out, err, done = _epo(monkeypatch, _ROWS, show_all=True)
    assert code == 0
    assert out == ("Node n1 does not support out-of-band handling, it can not be handled"
                   " in a fully automated manner\n"
                   "Node n3 does not support out-of-band handling, it can not be handled"
                   " in a fully automated manner\n"
                   "Node n4 is already in desired power state, skipping\n")
    assert done["off"] == (["n2"], {"i1": {"n2"}, "i2": {"n2"}, "i3": {"n3"}})


def test_epo_on_skips_master_and_offline_unpowered(monkeypatch):
    rows = [list(r) for r in _ROWS]
    rows[1][4] = False
    code, out, _, done = _epo(monkeypatch, rows, show_all=True, on=True)
    assert code == 0
    ips, nodes, insts = done["on"]
    # n4 is offline and unpowered: left alone; the master is not powered on
    assert nodes == ["n2"]
    assert ips == {"n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3",
                   "n4": "10.0.0.4"}
    assert "Node n3 does not support out-of-band handling" in out


@pytest.mark.parametrize("options,args,text", [
    ({"groups": True, "show_all": True}, [], "Only one of --groups or --all are allowed\n"),
    ({"show_all": True}, ["n2"], "Arguments in combination with --all are not allowed\n"),
])
def test_epo_option_conflicts(monkeypatch, options, args, text):
    code, _, err, done = _epo(monkeypatch, _ROWS, args, **options)
    assert (code, err, done) == (1, text, {})


@pytest.mark.parametrize("options", [{"oob_timeout": 0}, {"power_delay": -1.0},
                                     {"shutdown_timeout": -5}])
def test_epo_bad_numbers_refused_before_anything(monkeypatch, options):
    with pytest.raises(errors.OpPrereqError):
        _epo(monkeypatch, _ROWS, ["n2"], **options)


def test_start_instances_once_their_nodes_are_up(monkeypatch):
    started = []
    monkeypatch.setattr(c_oob, "_instances_start",
                        lambda opts, names, start: started.append(sorted(names)) or True)
    pending = {"i1": set(), "i2": {"n2"}, "i3": {"n2", "n3"}}
    assert c_oob._start_instances_of(None, pending, set())
    assert c_oob._start_instances_of(None, pending, {"n2"})
    assert c_oob._start_instances_of(None, pending, {"n2"})
    assert c_oob._start_instances_of(None, pending, {"n2", "n3"})
    assert started == [["i1"], ["i2"], ["i3"]] and pending == {}


def test_power_command_checks(monkeypatch):
    opts = types.SimpleNamespace(force=False, oob_timeout=60, power_delay=2.0)
    code, _, err = _capture(c_oob.power_node, opts, ["reset", "n2"])
    assert (code, err) == (1, "power subcommand reset not supported.\n")
    code, _, err = _capture(c_oob.power_node, opts, ["off"])
    assert (code, err) == (1, "Please provide at least one node for this command\n")
    assert constants.OOB_POWER_OFF in c_oob._ASK
