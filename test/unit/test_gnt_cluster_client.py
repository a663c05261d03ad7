"""gnt-cluster's client: the options Ganeti 3.0.2 has that came with its --help
(command/copyfile -g, copyfile --use-replication-network, redist-conf --yes-do-it,
verify and rename --dry-run)."""

from ganeti import cli, constants, opcodes
from ganeti.client import gnt_cluster
from ganeti.utils import process

# name, offline, group, group.uuid, sip
_NODES = [["n1", False, "default", "uuid-d", "10.0.0.1"],
          ["n2", False, "default", "uuid-d", "10.0.0.2"],
          ["n3", False, "other", "uuid-o", "10.0.0.3"],
          ["n4", True, "other", "uuid-o", "10.0.0.4"]]
_COLUMNS = ["name", "offline", "group", "group.uuid", "sip"]


class _Client:
    def __init__(self):
        self.drained_jobs = []

    def query_nodes(self, names, fields, use_locking):
        return [[row[_COLUMNS.index(f)] for f in fields] for row in _NODES]

    def query_config_values(self, fields):
        return {"master_node": ["n1"], "cluster_name": ["old.example.com"]}[fields[0]]

    def submit_job_to_drained_queue(self, ops):
        self.drained_jobs.append(ops)
        return 42


def _main(*argv):
    return cli.generic_main(gnt_cluster.COMMANDS, argv=["gnt-cluster"] + list(argv))


def _fake_ssh(monkeypatch):
    from ganeti import ssh
    ran = []

    def fake_run(node, argv, address=None, **kw):
        ran.append((node, address))
        return process.RunResult(argv, 0, None, "ok\n", "")

    monkeypatch.setattr(cli, "get_client", _Client)
    monkeypatch.setattr(ssh, "run", fake_run)
    monkeypatch.setattr(process, "run_cmd", lambda argv, **kw: fake_run("n1", argv))
    monkeypatch.setattr(gnt_cluster, "_node_addresses", lambda: {"n2": "192.0.2.2"})
    return ran


def test_command_node_group(monkeypatch, capsys):
    ran = _fake_ssh(monkeypatch)
    assert _main("command", "-g", "other", "true") == 0
    assert [node for node, _ in ran] == ["n3"]
    assert "skipping offline node(s): n4" in capsys.readouterr().err
    ran.clear()
    # by uuid, and together with -n: the named nodes of the group, master last
    assert _main("command", "--node-group", "uuid-d", "-n", "n1", "-n", "n2",
                 "-n", "n3", "true") == 0
    assert [node for node, _ in ran] == ["n2", "n1"]
    ran.clear()
    capsys.readouterr()
    # as in Ganeti: a group without nodes means no node
    assert _main("command", "-g", "nosuchgroup", "true") == 0
    assert ran == [] and capsys.readouterr().out == ""


def test_command_show_machine_names_long_option(monkeypatch, capsys):
    _fake_ssh(monkeypatch)
    assert _main("command", "--show-machine-names", "-n", "n2", "true") == 0
    assert capsys.readouterr().out == ("------------------------------------------------\n"
                                       "n2: ok\nreturn code = 0\n")


def test_copyfile_replication_network_and_group(monkeypatch, tmp_path):
    ran = _fake_ssh(monkeypatch)
    monkeypatch.setattr("ganeti.pathutils.to_node_path", lambda path, node: path)
    source = tmp_path / "file"
    source.write_text("data")
    assert _main("copyfile", str(source)) == 0
    assert ran == [("n2", "192.0.2.2"), ("n3", None)]     # never the master itself
    ran.clear()
    assert _main("copyfile", "--use-replication-network", str(source)) == 0
    assert ran == [("n2", "10.0.0.2"), ("n3", "10.0.0.3")]
    ran.clear()
    assert _main("copyfile", "-g", "other", "--use-replication-network", str(source)) == 0
    assert ran == [("n3", "10.0.0.3")]


def test_redist_conf_yes_do_it_uses_the_drained_queue(monkeypatch, capsys):
    client = _Client()
    sent, polled = [], []
    monkeypatch.setattr(cli, "get_client", lambda: client)
    monkeypatch.setattr(cli, "submit_or_send", lambda op, opts, **kw: sent.append(op))
    monkeypatch.setattr(cli, "poll_job", lambda job_id, cl=None, **kw: polled.append(job_id))
    assert _main("redist-conf") == 0
    assert len(sent) == 1 and not client.drained_jobs
    assert _main("redist-conf", "--yes-do-it", "--priority", "high", "--print-jobid") == 0
    ((op,),) = client.drained_jobs
    assert isinstance(op, opcodes.OpClusterRedistConf)
    assert op.priority == constants.OP_PRIO_HIGH
    assert polled == [42] and capsys.readouterr().out == "42\n"
    assert _main("redist-conf", "--yes-do-it", "--submit") == 0
    assert polled == [42] and "JobID: 42" in capsys.readouterr().err


def test_verify_and_rename_dry_run(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(cli, "get_client", _Client)

    def fake_submit(op, cl=None, opts=None, **kw):
        cli.set_generic_opcode_opts([op], opts)
        seen.append(op)
        return None                     # what a dry run returns

    monkeypatch.setattr(cli, "submit_op_code", fake_submit)
    assert _main("verify", "--dry-run", "-g", "default") == 0
    assert seen[-1].dry_run is True and seen[-1].group_name == "default"
    assert _main("rename", "-f", "--dry-run", "new.example.com") == 0
    assert isinstance(seen[-1], opcodes.OpClusterRename) and seen[-1].dry_run is True
    assert capsys.readouterr().out == ""
