"""Tags (cmdlib/tags.py, client/tags.py): Ganeti's rules and messages."""

import types

import pytest

from ganeti import config, constants, errors, locking, objects, opcodes
from ganeti.client import gnt_cluster, gnt_instance, gnt_node
from ganeti.client import tags as client_tags
from ganeti.cmdlib import get_lu_class


def _cfg(tmp_path):
    group = objects.NodeGroup(name="default")
    node = objects.Node(name="node1.example.com", primary_ip="192.0.2.1",
                        master_candidate=True, group=group.uuid)
    cluster = objects.Cluster(cluster_name="cluster.example.com",
                              master_node=node.name, master_ip="192.0.2.254",
                              master_netdev="eth0", enabled_hypervisors=["fake"],
                              enabled_disk_templates=["diskless"])
    inst = objects.Instance(name="inst1.example.com", primary_node=node.name, os="noop",
                            hypervisor="fake", disk_template="diskless")
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, objects.ConfigData(
        cluster=cluster, nodes={node.name: node}, instances={inst.name: inst},
        nodegroups={group.uuid: group}))
    return config.ConfigWriter(path)


def _run(cfg, op):
    op.validate()
    ctx = types.SimpleNamespace(cfg=cfg, rpc=None, glm=None)
    lu = get_lu_class(op)(None, op, ctx, lambda msg: None)
    lu.expand_names()
    lu.check_prereq()
    return lu, lu.exec(lambda msg: None)


def _tags(cfg, kind, name=None):
    return _run(cfg, opcodes.OpTagsGet(kind=kind, name=name))[1]


@pytest.mark.parametrize("kind,name", [("cluster", None), ("node", "node1"),
                                       ("instance", "inst1.example.com"),
                                       ("nodegroup", "default")])
def test_add_list_remove(tmp_path, kind, name):
    cfg = _cfg(tmp_path)
    _run(cfg, opcodes.OpTagsSet(kind=kind, name=name, tags=["web", "prod:yes"]))
    _run(cfg, opcodes.OpTagsSet(kind=kind, name=name, tags=["web"]))   # no duplicate
    assert _tags(cfg, kind, name) == ["prod:yes", "web"]
    _run(cfg, opcodes.OpTagsDel(kind=kind, name=name, tags=["web"]))
    # stored: a new reader sees it
    assert _tags(config.ConfigWriter(cfg._cfg_file), kind, name) == ["prod:yes"]


def test_bad_tags_and_missing_ones_change_nothing(tmp_path):
    cfg = _cfg(tmp_path)
    for tag, text in (("color=blue", "Tag contains invalid characters"),
                      ("bad tag", "Tag contains invalid characters"),
                      ("x" * 129, "Tag too long (>128 characters)")):
        with pytest.raises(errors.TagError) as err:
            _run(cfg, opcodes.OpTagsSet(kind="node", name="node1.example.com",
                                        tags=["ok", tag]))
        assert err.value.args[0] == text
    with pytest.raises(errors.OpPrereqError) as err:
        _run(cfg, opcodes.OpTagsDel(kind="instance", name="inst1.example.com",
                                    tags=["b", "a"]))
    assert err.value.args == ("Tag(s) 'a', 'b' not found", errors.ECODE_NOENT)
    assert _tags(cfg, "node", "node1.example.com") == []
    with pytest.raises(errors.OpPrereqError, match="Node 'nosuch' not known"):
        _run(cfg, opcodes.OpTagsSet(kind="node", name="nosuch", tags=["a"]))
    with pytest.raises(errors.OpPrereqError, match="Network 'net1' not found"):
        _run(cfg, opcodes.OpTagsSet(kind="network", name="net1", tags=["a"]))


def test_too_many_tags(tmp_path):
    cfg = _cfg(tmp_path)
    many = ["t%d" % i for i in range(constants.MAX_TAGS_PER_OBJ)]
    _run(cfg, opcodes.OpTagsSet(kind="cluster", tags=many))
    with pytest.raises(errors.TagError, match="Too many tags"):
        _run(cfg, opcodes.OpTagsSet(kind="cluster", tags=["one-more"]))


def test_search(tmp_path):
    cfg = _cfg(tmp_path)
    _run(cfg, opcodes.OpTagsSet(kind="cluster", tags=["env:test", "ctag1"]))
    _run(cfg, opcodes.OpTagsSet(kind="instance", name="inst1.example.com",
                                tags=["env:prod"]))
    _run(cfg, opcodes.OpTagsSet(kind="node", name="node1.example.com", tags=["rack:1"]))
    _run(cfg, opcodes.OpTagsSet(kind="nodegroup", name="default", tags=["envgroup"]))
    _, found = _run(cfg, opcodes.OpTagsSearch(pattern="^env"))
    assert found == [["/cluster", "env:test"], ["/instances/inst1.example.com", "env:prod"],
                     ["/nodegroup/default", "envgroup"]]
    with pytest.raises(errors.OpPrereqError) as err:
        _run(cfg, opcodes.OpTagsSearch(pattern="("))
    assert err.value.args[0] == ("Invalid search pattern '(': missing ), unterminated"
                                 " subpattern at position 0")


def test_locks(tmp_path):
    cfg = _cfg(tmp_path)
    lu, _ = _run(cfg, opcodes.OpTagsSet(kind="instance", name="inst1.example.com",
                                        tags=["a"]))
    assert lu.needed_locks == {locking.LEVEL_INSTANCE: ["inst1.example.com"]}
    assert lu.share_locks[locking.LEVEL_INSTANCE] == 0 and not lu.REQ_BGL
    lu, _ = _run(cfg, opcodes.OpTagsSet(kind="cluster", tags=["a"]))
    assert lu.needed_locks == {} and lu.REQ_BGL     # the cluster: the BGL, exclusive
    lu, _ = _run(cfg, opcodes.OpTagsGet(kind="node", name="node1.example.com"))
    assert lu.needed_locks == {}                    # no use_locking
    lu, _ = _run(cfg, opcodes.OpTagsGet(kind="node", name="node1.example.com",
                                        use_locking=True))
    assert lu.needed_locks == {locking.LEVEL_NODE: ["node1.example.com"]}
    assert lu.share_locks[locking.LEVEL_NODE] == 1


def test_the_tools_have_the_commands():
    for module in (gnt_cluster, gnt_node, gnt_instance):
        assert {"add-tags", "list-tags", "remove-tags"} <= set(module.COMMANDS)
    assert "search-tags" in gnt_cluster.COMMANDS
    assert gnt_node.COMMANDS["remove-tags"][4] == "Remove tags from the given node"
    assert gnt_instance.COMMANDS["remove-tags"][4] == "Remove tags from given instance"
    assert gnt_instance.COMMANDS["add-tags"][3] == "<instance-name> <tag>..."


def test_no_tags_given_is_refused_before_any_job(tmp_path):
    opts = types.SimpleNamespace(tags_source=None)
    with pytest.raises(errors.OpPrereqError) as err:
        client_tags.add_tags("cluster", opts, [])
    assert err.value.args == ("No tags to be added", errors.ECODE_INVAL)
    with pytest.raises(errors.OpPrereqError) as err:
        client_tags.remove_tags("node", opts, ["node1"])
    assert err.value.args == ("No tags to be removed", errors.ECODE_INVAL)
    source = tmp_path / "tags"
    source.write_text("a\n\nb\n")
    assert client_tags._tags_given(types.SimpleNamespace(tags_source=str(source)),
                                   ["c"]) == ["c", "a", "b"]


class _FakeQueryClient:
    """Instances a (tags web, on n1/n2), b (on n2/n1), c (tag web, on n3)."""

    def query(self, what, fields, qfilter):
        rows = {"instance": [["a", ["web"], "n1", ["n2"]], ["b", [], "n2", ["n1"]],
                             ["c", ["web"], "n3", []]],
                "node": [["n1", ["rack:1"]], ["n2", []], ["n3", ["rack:2"]]]}[what]
        return {"data": [[[0, value] for value in row] for row in rows]}


@pytest.mark.parametrize("mode,tags,expected", [
    ("tags", ["web"], ["a", "c"]),
    ("node-tags", ["rack:1"], ["a", "b"]),
    ("pri-node-tags", ["rack:1"], ["a"]),
    ("sec-node-tags", ["rack:1"], ["b"]),
    ("pri-node-tags", ["rack:1", "rack:2"], ["a", "c"]),
    ("tags", ["nosuch"], []),
])
def test_selection_by_tags(mode, tags, expected):
    opts = types.SimpleNamespace(multi_mode=mode)
    assert gnt_instance._select_instances(opts, tags, _FakeQueryClient()) == expected


def test_selection_by_tags_needs_tags():
    with pytest.raises(errors.OpPrereqError, match="No instance tags passed"):
        gnt_instance._select_instances(types.SimpleNamespace(multi_mode="tags"), [],
                                       _FakeQueryClient())
