"""LUNodeAdd refuses nodes it cannot use, before changing anything."""

import pytest

from ganeti import config, constants, errors, objects, opcodes, rpc
from ganeti.cmdlib import node as cmdlib_node


class _Result:
    def __init__(self, data=None, fail_msg=None):
        self.data = data
        self.fail_msg = fail_msg


def _context(tmp_path, monkeypatch):
    group = objects.NodeGroup(name="default")
    master = objects.Node(name="node1.example.com", primary_ip="127.0.0.1",
                          master_candidate=True, group=group.uuid)
    cluster = objects.Cluster(cluster_name="cluster.example.com", master_node=master.name,
                              master_ip="192.0.2.254", master_netdev="lo",
                              enabled_hypervisors=["fake"])
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, objects.ConfigData(
        cluster=cluster, nodes={master.name: master}, nodegroups={group.uuid: group}))
    cfg = config.ConfigWriter(path)

    class Context:
        pass
    ctx = Context()
    ctx.cfg, ctx.rpc, ctx.glm = cfg, None, None
    monkeypatch.setattr(cmdlib_node.net, "Hostname", _FakeHostname)
    return ctx


class _FakeHostname:
    def __init__(self, name):
        self.name = name
        self.ip = "127.0.0.2"

    def is_fqdn(self):
        return "." in self.name


def _lu(ctx, **params):
    op = opcodes.OpNodeAdd(node_name="node2.example.com", **params)
    op.validate()
    return cmdlib_node.LUNodeAdd(None, op, ctx, lambda *a: None)


def _fake_runner(answer):
    class Runner:
        def __init__(self, *args, **kwargs):
            pass

        def call_version(self, nodes):
            return dict((n, answer) for n in nodes)
    return Runner


def test_version_mismatch_is_refused(tmp_path, monkeypatch):
    ctx = _context(tmp_path, monkeypatch)
    monkeypatch.setattr(rpc, "RpcRunner", _fake_runner(_Result(data=1234)))
    lu = _lu(ctx)
    with pytest.raises(errors.OpPrereqError) as exc:
        lu.check_prereq()
    assert "protocol version 1234" in exc.value.args[0]
    assert ctx.cfg.get_node_list() == ["node1.example.com"]


def test_unreachable_node_is_refused(tmp_path, monkeypatch):
    ctx = _context(tmp_path, monkeypatch)
    monkeypatch.setattr(rpc, "RpcRunner",
                        _fake_runner(_Result(fail_msg="Connection refused")))
    with pytest.raises(errors.OpPrereqError) as exc:
        _lu(ctx).check_prereq()
    assert "Cannot reach the node daemon" in exc.value.args[0]


def test_secondary_ip_on_single_homed_cluster(tmp_path, monkeypatch):
    ctx = _context(tmp_path, monkeypatch)
    monkeypatch.setattr(rpc, "RpcRunner",
                        _fake_runner(_Result(data=constants.PROTOCOL_VERSION)))
    with pytest.raises(errors.OpPrereqError) as exc:
        _lu(ctx, secondary_ip="10.0.0.2").check_prereq()
    assert "-s is not allowed" in exc.value.args[0]
    _lu(ctx).check_prereq()        # the same node without -s is fine
