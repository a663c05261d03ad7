"""LUNodeRemove and LUNodeAdd move the nodes' ssh keys (with a recording RPC runner)."""

import pytest

from ganeti import config, objects, opcodes, rpc, sshkeys
from ganeti.cmdlib import node as cmdlib_node

K1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA ganeti-node-key:node2.example.com"
K2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBB ganeti-node-key:node2.example.com"
K3 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICCC ganeti-node-key:node3.example.com"


class _Result:
    def __init__(self, node, fail_msg=None):
        self.node, self.fail_msg, self.offline, self.data = node, fail_msg, False, True


class _Runner:
    """Records node_ssh_keys_update calls; node names in ``down`` fail."""

    def __init__(self, down=()):
        self.calls = []
        self.down = set(down)

    def call_node_ssh_keys_update(self, nodes, add, remove, remove_hosts, pub_keys):
        self.calls.append((sorted(nodes), add, remove, remove_hosts, pub_keys))
        return dict((n, _Result(n, "Connection refused" if n in self.down else None))
                    for n in nodes)


class _LeaveRunner:
    answer = None

    def __init__(self, *args, **kwargs):
        pass

    def call_node_leave_cluster(self, node, modify_ssh_setup):
        _LeaveRunner.seen = (node, modify_ssh_setup)
        return _Result(node, self.answer)


class _Locks:
    def remove(self, level, names):
        pass


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    group = objects.NodeGroup(name="default")
    nodes = dict((n.name, n) for n in [
        objects.Node(name="node1.example.com", primary_ip="192.0.2.1",
                     master_candidate=True, group=group.uuid),
        objects.Node(name="node2.example.com", primary_ip="192.0.2.2",
                     master_candidate=False, group=group.uuid),
        objects.Node(name="node3.example.com", primary_ip="192.0.2.3",
                     master_candidate=False, group=group.uuid, master_capable=False)])
    group.members = sorted(nodes)
    cluster = objects.Cluster(cluster_name="cluster.example.com",
                              master_node="node1.example.com", master_ip="192.0.2.254",
                              master_netdev="lo", enabled_hypervisors=["fake"],
                              candidate_pool_size=1,
                              modify_etc_hosts=False)   # never this machine's file
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, objects.ConfigData(
        cluster=cluster, nodes=nodes, nodegroups={group.uuid: group}))
    keys = str(tmp_path / "ganeti_pub_keys")
    with open(keys, "w") as fd:
        fd.write("node2.example.com %s\nnode2.example.com %s\nnode3.example.com %s\n"
                 % (K1, K2, K3))
    monkeypatch.setattr(sshkeys, "pub_keys_file", lambda data_dir=None: keys)
    monkeypatch.setattr(rpc, "RpcRunner", _LeaveRunner)
    _LeaveRunner.answer = None

    class Context:
        pass
    c = Context()
    c.cfg, c.rpc, c.glm = config.ConfigWriter(path), _Runner(), _Locks()
    c.feedback = []
    return c


def _remove(ctx, name="node2.example.com"):
    op = opcodes.OpNodeRemove(node_name=name)
    op.validate()
    lu = cmdlib_node.LUNodeRemove(None, op, ctx, ctx.feedback.append)
    lu.expand_names()
    lu.check_prereq()
    lu.exec(ctx.feedback.append)


def test_remove_drops_the_nodes_keys_on_the_others(ctx):
    _remove(ctx)
    assert ctx.cfg.get_node_list() == ["node1.example.com", "node3.example.com"]
    (nodes, add, remove, hosts, pub_keys), = ctx.rpc.calls
    assert nodes == ["node1.example.com", "node3.example.com"]
    assert add == [] and remove == [K1, K2] and hosts == ["node2.example.com"]
    assert pub_keys == "node3.example.com %s\n" % K3
    assert _LeaveRunner.seen == ("node2.example.com", True)
    assert ctx.feedback == []


def test_unreachable_node_is_removed_with_a_warning(ctx):
    _LeaveRunner.answer = "Error while connecting: timed out"
    ctx.rpc.down = {"node3.example.com"}
    _remove(ctx)
    assert "node2.example.com" not in ctx.cfg.get_node_list()
    assert ctx.rpc.calls[0][2] == [K1, K2]        # the others still drop its keys
    text = "\n".join(ctx.feedback)
    assert ("WARNING: Errors encountered on the remote node while leaving the cluster:"
            " Error while connecting: timed out") in text
    assert "Could not remove the ssh keys of node2.example.com on node" \
        " node3.example.com: Connection refused" in text


def test_add_authorizes_the_newest_key_of_a_master_capable_node(ctx):
    lu = cmdlib_node.LUNodeAdd.__new__(cmdlib_node.LUNodeAdd)
    lu.cfg, lu.rpc, lu.feedback_fn = ctx.cfg, ctx.rpc, ctx.feedback.append
    cmdlib_node.node_ssh.add_node_key(lu, "node2.example.com")
    others, to_new = ctx.rpc.calls
    # the others: its newest key in, the older one out
    assert others[:3] == (["node1.example.com", "node3.example.com"], [K2], [K1])
    # the new node: the master-capable nodes' keys (node3 is not master-capable)
    assert to_new[:3] == (["node2.example.com"], [K2], [K1])
    assert others[4] == "node2.example.com %s\nnode3.example.com %s\n" % (K2, K3)
    # a node that cannot become master is known, but authorized nowhere
    ctx.rpc.calls = []
    cmdlib_node.node_ssh.add_node_key(lu, "node3.example.com")
    assert ctx.rpc.calls[0][1] == [] and ctx.rpc.calls[1][1] == [K2]


def _modify(ctx, **params):
    op = opcodes.OpNodeSetParams(node_name="node2.example.com", **params)
    op.validate()
    lu = cmdlib_node.LUNodeSetParams(None, op, ctx, ctx.feedback.append)
    lu.context = ctx
    lu.expand_names()
    lu.check_prereq()
    lu.exec(ctx.feedback.append)


def test_offline_node_key_is_authorized_nowhere_until_back(ctx, monkeypatch):
    with open(sshkeys.pub_keys_file()) as fd:       # node2's newest key only
        text = fd.read().replace("node2.example.com %s\n" % K1, "")
    with open(sshkeys.pub_keys_file(), "w") as fd:
        fd.write(text)
    _modify(ctx, offline=True)
    (nodes, add, remove, _, _), = ctx.rpc.calls     # node2 itself is not contacted
    assert nodes == ["node1.example.com", "node3.example.com"]
    assert add == [] and remove == [K2]
    ctx.rpc.calls = []

    class _Up(_LeaveRunner):
        def call_version(self, nodes):
            return dict((n, _Result(n)) for n in nodes)
    monkeypatch.setattr(rpc, "RpcRunner", _Up)
    _modify(ctx, offline=False)
    others, itself = ctx.rpc.calls[:2]
    assert others[:3] == (["node1.example.com", "node3.example.com"], [K2], [])
    assert itself[:2] == (["node2.example.com"], [K2])
