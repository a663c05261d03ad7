"""gnt-cluster modify / rename / command / copyfile: option parsing and LU checks."""

import types

import pytest

from ganeti import cli, config, constants, errors, objects, opcodes
from ganeti.client import gnt_cluster
from ganeti.cmdlib import cluster as lu_cluster


class FakeRpcResult:
    fail_msg = None

    def raise_on_failure(self, msg=None, **kwargs):
        pass


class FakeRpc:
    def __init__(self):
        self.calls = []

    def call_node_deactivate_master_ip(self, node, params):
        self.calls.append(("deactivate", node, dict(params)))
        return FakeRpcResult()

    def call_node_activate_master_ip(self, node, params):
        self.calls.append(("activate", node, dict(params)))
        return FakeRpcResult()


def _make_cfg(tmp_path, nodes=2, instances=()):
    group = objects.NodeGroup(name="default")
    node_objs = {}
    for i in range(1, nodes + 1):
        name = "node%d.example.com" % i
        node_objs[name] = objects.Node(name=name, primary_ip="192.0.2.%d" % i,
                                       master_candidate=(i == 1), master_capable=True,
                                       group=group.uuid)
    cluster = objects.Cluster(cluster_name="cluster.example.com",
                              master_node="node1.example.com", master_ip="192.0.2.254",
                              master_netdev="eth0", enabled_hypervisors=["fake", "kvm"],
                              enabled_disk_templates=["file", "diskless"],
                              candidate_pool_size=1)
    insts = {}
    for name, hv, dt in instances:
        insts[name] = objects.Instance(name=name, primary_node="node1.example.com",
                                       os="noop", hypervisor=hv, disk_template=dt)
    data = objects.ConfigData(cluster=cluster, nodes=node_objs, instances=insts,
                              nodegroups={group.uuid: group})
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, data)
    return config.ConfigWriter(path)


def _context(cfg):
    return types.SimpleNamespace(cfg=cfg, rpc=FakeRpc(), glm=None)


def _run(ctx, op_cls, **params):
    op = op_cls(**params)
    op.validate()
    logs = []
    lu = getattr(lu_cluster, "LU" + op_cls.__name__[2:])(None, op, ctx, logs.append)
    lu.check_prereq()
    return lu.exec(logs.append), logs


def test_modify_simple_values(tmp_path):
    cfg = _make_cfg(tmp_path)
    changes, _ = _run(_context(cfg), opcodes.OpClusterSetParams, mac_prefix="AA:BB:CC",
                      maintain_node_health=True, reserved_lvs=["xenvg/root"],
                      max_running_jobs=5, hvparams={"kvm": {"kernel_path": ""}},
                      beparams={"maxmem": "256M", "minmem": "256"})
    info = config.ConfigWriter(cfg._cfg_file).get_cluster_info()
    assert info.mac_prefix == "aa:bb:cc"
    assert info.maintain_node_health is True
    assert info.reserved_lvs == ["xenvg/root"]
    assert info.max_running_jobs == 5
    assert info.hvparams["kvm"]["kernel_path"] == ""
    assert info.beparams["default"]["maxmem"] == 256
    assert "mac_prefix" in [c[0] for c in changes]


@pytest.mark.parametrize("params, text", [
    ({"enabled_hypervisors": ["nosuchhv"]}, "Unknown hypervisor"),
    ({"enabled_hypervisors": ["kvm"]}, "instances still use them"),
    ({"enabled_disk_templates": ["diskless"]}, "instances still use them"),
    ({"enabled_disk_templates": ["file", "plain"]}, "volume group"),
    ({"hvparams": {"fake": {"nosuch": "1"}}}, "Unknown"),
    ({"hvparams": {"kvm": {"vhost_net": "maybe"}}}, "boolean"),
    ({"beparams": {"minmem": 512}}, "larger than maximum"),
    ({"nicparams": {"mode": "weird"}}, "Invalid NIC mode"),
    ({"ndparams": {"spindle_count": "x"}}, "integer"),
    ({"master_netmask": 33}, "netmask"),
    ({"default_iallocator": "no-such-allocator"}, "iallocator"),
    ({"file_storage_dir": "relative/dir"}, "absolute"),
    ({"reserved_lvs": ["("]}, "reserved LV"),
    ({"max_running_jobs": 100, "max_tracked_jobs": 50}, "tracked jobs"),
])
def test_modify_refuses_bad_values_and_changes_nothing(tmp_path, params, text):
    cfg = _make_cfg(tmp_path, instances=[("i1.example.com", "fake", "file")])
    before = cfg.dump_text()
    with pytest.raises(errors.OpPrereqError) as err:
        _run(_context(cfg), opcodes.OpClusterSetParams, **params)
    assert text in str(err.value)
    assert cfg.dump_text() == before


def test_modify_opcode_types():
    with pytest.raises(errors.OpPrereqError):
        opcodes.OpCode.from_dict({"OP_ID": "OP_CLUSTER_SET_PARAMS", "mac_prefix": "xx"})
    with pytest.raises(errors.OpPrereqError):
        opcodes.OpCode.from_dict({"OP_ID": "OP_CLUSTER_SET_PARAMS",
                                  "candidate_pool_size": 0})
    op = opcodes.OpCode.from_dict({"OP_ID": "OP_CLUSTER_RENAME", "name": "c2"})
    assert op.summary() == "CLUSTER_RENAME(c2)"


def test_candidate_pool_growth_promotes(tmp_path):
    cfg = _make_cfg(tmp_path, nodes=3)
    assert cfg.get_master_candidates() == ["node1.example.com"]
    _, logs = _run(_context(cfg), opcodes.OpClusterSetParams, candidate_pool_size=2)
    assert len(cfg.get_master_candidates()) == 2
    assert any("Promoted" in line for line in logs)


def test_rename_moves_master_ip(tmp_path, monkeypatch):
    from ganeti.utils import net
    cfg = _make_cfg(tmp_path)
    ctx = _context(cfg)
    monkeypatch.setattr(net, "resolve", lambda name, family=None: "192.0.2.253")
    monkeypatch.setattr(net, "address_in_use", lambda ip, port: False)
    result, _ = _run(ctx, opcodes.OpClusterRename, name="c2.example.com")
    assert result == "c2.example.com"
    info = cfg.get_cluster_info()
    assert (info.cluster_name, info.master_ip) == ("c2.example.com", "192.0.2.253")
    assert [c[0] for c in ctx.rpc.calls] == ["deactivate", "activate"]
    assert ctx.rpc.calls[0][2]["ip"] == "192.0.2.254"
    assert ctx.rpc.calls[1][2]["ip"] == "192.0.2.253"


def test_rename_refuses_used_or_same_address(tmp_path, monkeypatch):
    from ganeti.utils import net
    cfg = _make_cfg(tmp_path)
    monkeypatch.setattr(net, "address_in_use", lambda ip, port: False)
    monkeypatch.setattr(net, "resolve", lambda name, family=None: "192.0.2.2")
    with pytest.raises(errors.OpPrereqError, match="reachable"):
        _run(_context(cfg), opcodes.OpClusterRename, name="c2.example.com")
    monkeypatch.setattr(net, "resolve", lambda name, family=None: "192.0.2.254")
    with pytest.raises(errors.OpPrereqError, match="Neither the name"):
        _run(_context(cfg), opcodes.OpClusterRename, name="cluster.example.com")
    assert cfg.get_cluster_name() == "cluster.example.com"


def _main(monkeypatch, *argv):
    sent = []
    monkeypatch.setattr(cli, "submit_or_send", lambda op, opts, **kw: sent.append(op))
    code = cli.generic_main(gnt_cluster.COMMANDS, argv=["gnt-cluster"] + list(argv))
    return code, sent


def test_modify_option_parsing(monkeypatch):
    code, sent = _main(monkeypatch, "modify", "-C", "5", "-H", "kvm:kernel_path=,acpi",
                       "-B", "vcpus=2", "-N", "link=br7", "--node-parameters",
                       "spindle_count=3", "--enabled-hypervisors", "fake,kvm",
                       "--enabled-disk-templates", "file", "-m", "aa:00:01",
                       "--master-netmask", "24", "--maintain-node-health", "yes",
                       "--prealloc-wipe-disks", "no", "--max-running-jobs", "7",
                       "--reserved-lvs", "a,b", "-I", "", "--submit")
    assert code == 0
    op = sent[0]
    assert op.candidate_pool_size == 5
    assert op.hvparams == {"kvm": {"kernel_path": "", "acpi": True}}
    assert op.beparams == {"vcpus": "2"} and op.nicparams == {"link": "br7"}
    assert op.ndparams == {"spindle_count": "3"}
    assert op.enabled_hypervisors == ["fake", "kvm"]
    assert op.enabled_disk_templates == ["file"]
    assert (op.mac_prefix, op.master_netmask) == ("aa:00:01", 24)
    assert (op.maintain_node_health, op.prealloc_wipe_disks) == (True, False)
    assert (op.max_running_jobs, op.reserved_lvs, op.default_iallocator) == (7, ["a", "b"], "")
    op.validate()


def test_modify_needs_a_parameter(monkeypatch, capsys):
    code, sent = _main(monkeypatch, "modify")
    assert code == 1 and not sent
    assert "at least one" in capsys.readouterr().err
    code, _ = _main(monkeypatch, "modify", "--maintain-node-health", "maybe")
    assert code == 1            # a parameter error, as Ganeti's


def test_command_and_copyfile_usage(monkeypatch, tmp_path, capsys):
    assert _main(monkeypatch, "command")[0] == constants.EXIT_FAILURE
    assert _main(monkeypatch, "copyfile")[0] == constants.EXIT_FAILURE
    code, _ = _main(monkeypatch, "copyfile", str(tmp_path / "missing"))
    assert code == 1 and "No such filename" in capsys.readouterr().err
    code, _ = _main(monkeypatch, "copyfile", str(tmp_path))
    assert code == 1 and "not a regular file" in capsys.readouterr().err


def test_command_output_format(monkeypatch, capsys):
    from ganeti import ssh
    from ganeti.utils import process

    class Client:
        def query_nodes(self, names, fields, use_locking):
            return [["n1", False], ["n2", False], ["n3", True]]

        def query_config_values(self, fields):
            return ["n1"]

    ran = []

    def fake_run(node, argv, address=None, **kw):
        ran.append(node)
        return process.RunResult(argv, 0 if node == "n1" else 3, None, "out %s\n" % node, "")

    monkeypatch.setattr(cli, "get_client", Client)
    monkeypatch.setattr(ssh, "run", fake_run)
    # the master runs the command itself, without ssh
    monkeypatch.setattr(process, "run_cmd", lambda argv, **kw: fake_run("n1", argv))
    code, _ = _main(monkeypatch, "command", "hostname")
    out, err = capsys.readouterr()
    assert code == 1 and ran == ["n2", "n1"]
    assert "skipping offline node(s): n3" in err
    # the output as it came (its own newline, then Ganeti's)
    assert out == ("------------------------------------------------\nnode: n2\nout n2\n\n"
                   "return code = 3\n"
                   "------------------------------------------------\nnode: n1\nout n1\n\n"
                   "return code = 0\n")
    ran.clear()
    _main(monkeypatch, "command", "--failure-only", "-M", "-n", "n1", "-n", "n2", "x")
    out = capsys.readouterr().out
    assert ran == ["n2", "n1"]
    assert out == "------------------------------------------------\nn2: out n2\nreturn code = 3\n"
