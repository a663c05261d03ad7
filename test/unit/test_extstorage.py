"""ExtStorage providers: the node's check (extstorage_diagnose), the
"extstorage" query and OP_EXTSTORAGE_DIAGNOSE, and gnt-storage's output."""

import os
import types

import pytest

from ganeti import cli, errors, objects, opcodes, query
from ganeti.backend import extstorage as node_es
from ganeti.client import gnt_storage
from ganeti.cmdlib import extstorage as esq
from ganeti.storage import extstorage as es

import test_gnt_os
from test_gnt_os import FakeRpc

SCRIPTS = es.REQUIRED_SCRIPTS + es.OPTIONAL_SCRIPTS


def make_provider(base, name, params="", skip=(), not_executable=()):
    path = base / name
    path.mkdir(parents=True)
    for script in SCRIPTS:
        if script in skip:
            continue
        (path / script).write_text("#!/bin/sh\nexit 0\n")
        os.chmod(path / script, 0o644 if script in not_executable else 0o755)
    if "parameters.list" not in skip:
        (path / "parameters.list").write_text(params)
    return str(path)


# ---- node side --------------------------------------------------------------------------

def test_valid_provider_and_its_parameters(tmp_path):
    path = make_provider(tmp_path, "rbdx", "pool the pool to use\nfast\n\n",
                         skip=("snapshot", "open", "close"))
    assert node_es.extstorage_diagnose(es_path=[str(tmp_path)]) == [
        ["rbdx", path, True, "", [["pool", "the pool to use"], ["fast", ""]]]]


@pytest.mark.parametrize("kwargs,reason", [
    ({"skip": ("grow",)}, "File 'grow' under path '%s' is missing (ENOENT)"),
    ({"skip": ("parameters.list",)},
     "File 'parameters.list' under path '%s' is missing (ENOENT)"),
    ({"not_executable": ("attach",)}, "File 'attach' under path '%s' is not executable"),
    ({"not_executable": ("open",)}, "File 'open' under path '%s' is not executable"),
])
def test_broken_providers_say_why(tmp_path, kwargs, reason):
    path = make_provider(tmp_path, "bad", **kwargs)
    assert node_es.extstorage_diagnose(es_path=[str(tmp_path)]) == [
        ["bad", path, False, reason % path, []]]


def test_search_path_order_files_and_missing_dirs(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    p1 = make_provider(first, "prov")
    p2 = make_provider(second, "prov", skip=("verify",))
    (second / "stray").write_text("not a provider")
    (second / "setinfo").mkdir()
    result = node_es.extstorage_diagnose(es_path=[str(tmp_path / "none"), str(first),
                                                  str(second)])
    assert [(r[0], r[1], r[2]) for r in result] == [
        ("prov", p1, True), ("prov", p2, False), ("setinfo", str(second / "setinfo"), False),
        ("stray", str(second / "stray"), False)]
    assert result[3][3] == ("Directory for External Storage Provider stray not found in"
                            " search path")
    regular = tmp_path / "c" / "reg"
    make_provider(tmp_path / "c", "reg", skip=("create",))
    (regular / "create").mkdir()
    assert es.load_provider("reg", str(regular)) == (
        False, "File 'create' under path '%s' is not a regular file" % regular)


def test_procedure_is_served_by_noded():
    from ganeti import backend
    assert backend.PROCEDURES["extstorage_diagnose"] is node_es.extstorage_diagnose


# ---- master side ------------------------------------------------------------------------

GOOD = ["/srv/ganeti/extstorage/prov", True, "", [["pool", "Pool"], ["fast", "Fast"]]]
OTHER = ["/srv/ganeti/extstorage/prov", True, "", [["pool", "Pool"]]]
BAD = ["/srv/ganeti/extstorage/prov", False, "File 'grow' under path ... missing", []]


class FakeConfig:
    def __init__(self, nodes, groups):
        self.nodes, self.groups = nodes, groups

    def get_all_nodes_info(self):
        return dict((n.name, n) for n in self.nodes)

    def get_all_node_groups_info(self):
        return dict((g.uuid, g) for g in self.groups)


def make_context(answers, groups, offline=()):
    """``groups``: {group name: [node names]}."""
    group_objs, nodes = [], []
    for gname, members in sorted(groups.items()):
        group = objects.NodeGroup(name=gname, uuid="uuid-" + gname)
        group_objs.append(group)
        nodes.extend(objects.Node(name=n, group=group.uuid, offline=n in offline,
                                  vm_capable=True) for n in members)
    return types.SimpleNamespace(cfg=FakeConfig(nodes, group_objs), rpc=FakeRpc(answers),
                                 glm=None)


def _entry(name, entry):
    return [name] + list(entry)


def _values(result):
    return [[value for _, value in row] for row in result["data"]]


def test_fields_and_titles():
    fields = query.get_fields("extstorage")
    assert dict((n, f.title) for n, f in fields.items()) == {
        "name": "Name", "node_status": "NodeStatus",
        "nodegroup_status": "NodegroupStatus", "parameters": "Parameters"}


def test_status_per_node_and_group():
    ctx = make_context({"n1": [_entry("prov", GOOD)], "n2": [_entry("prov", OTHER)],
                        "n3": [_entry("prov", BAD)], "n4": [], "n5": "Connection refused"},
                       {"default": ["n1", "n2"], "rack2": ["n3"], "rack3": ["n4"],
                        "empty": [], "down": ["n5", "n6"]}, offline=["n6"])
    rows = _values(esq.query_extstorage(ctx, ["name", "node_status", "nodegroup_status",
                                              "parameters"], None))
    assert rows == [["prov", {"n1": [GOOD], "n2": [OTHER], "n3": [BAD], "n4": []},
                     {"default": True, "rack2": False, "rack3": False, "empty": True,
                      "down": True},
                     [["pool", "Pool"]]]]
    # offline nodes are not asked
    assert ctx.rpc.calls == [("extstorage_diagnose", ["n1", "n2", "n3", "n4", "n5"], [])]


def test_lu_filters_names_and_checks_fields():
    ctx = make_context({"n1": [_entry("b", GOOD), _entry("a10", GOOD), _entry("a9", BAD)]},
                       {"default": ["n1"]})
    op = opcodes.OpExtStorageDiagnose(output_fields=["name"], names=[])
    lu = esq.LUExtStorageDiagnose(None, op, ctx, lambda msg: None)
    assert lu.exec(None) == [["a9"], ["a10"], ["b"]]
    op = opcodes.OpExtStorageDiagnose(output_fields=["name", "parameters"], names=["b"])
    assert esq.LUExtStorageDiagnose(None, op, ctx, None).exec(None) == [
        ["b", [["fast", "Fast"], ["pool", "Pool"]]]]
    with pytest.raises(errors.OpPrereqError, match="Unknown output fields"):
        op = opcodes.OpExtStorageDiagnose(output_fields=["nosuch"], names=[])
        esq.LUExtStorageDiagnose(None, op, ctx, None).check_arguments()


def test_lu_is_found_for_the_opcode():
    from ganeti import cmdlib
    op = opcodes.OpExtStorageDiagnose(output_fields=["name"], names=[])
    assert cmdlib.get_lu_class(op) is esq.LUExtStorageDiagnose


# ---- gnt-storage ------------------------------------------------------------------------

class FakeClient(test_gnt_os.FakeClient):
    """Runs the OP_EXTSTORAGE_DIAGNOSE job gnt-storage submits on a context."""

    def query_jobs(self, job_ids, fields):
        op = self.jobs[job_ids[0] - 1]
        result = esq.LUExtStorageDiagnose(None, op, self.ctx, None).exec(None)
        return [("success", ["success"], [result])]


@pytest.fixture
def client():
    return FakeClient(make_context(
        {"node1": [_entry("prov", GOOD), _entry("broken", BAD)],
         "node2": [_entry("prov", OTHER), _entry("broken", GOOD)], "node10": []},
        {"default": ["node1", "node2"], "group2": ["node10"]}))


def test_diagnose_output(client, capsys):
    assert gnt_storage.diagnose_extstorage(None, [], cl=client) == 0
    assert capsys.readouterr().out == (
        "Provider: broken\n"
        "---\n"
        "  Node: node2, status: valid (path: /srv/ganeti/extstorage/prov)"
        " [parameters: pool, fast]\n"
        "  Node: node1, status: invalid - File 'grow' under path ... missing"
        " (path: /srv/ganeti/extstorage/prov) [no parameters]\n"
        "  Node: node10, status: ExtStorage provider not found\n"
        "  --\n"
        "  For nodegroup: default --> invalid\n"
        "  For nodegroup: group2 --> invalid\n"
        "\n"
        "Provider: prov\n"
        "---\n"
        "  Node: node1, status: valid (path: /srv/ganeti/extstorage/prov)"
        " [parameters: pool, fast]\n"
        "  Node: node2, status: valid (path: /srv/ganeti/extstorage/prov)"
        " [parameters: pool]\n"
        "  Node: node10, status: ExtStorage provider not found\n"
        "  --\n"
        "  For nodegroup: default --> valid\n"
        "  For nodegroup: group2 --> invalid\n"
        "\n")


def test_info_output(client, capsys):
    assert gnt_storage.show_extstorage_info(None, ["prov", "nosuch", "broken"],
                                            cl=client) == 0
    assert capsys.readouterr().out == (
        "broken:\n"
        "  - Invalid for all nodegroups\n"
        "\n"
        "prov:\n"
        "  - Valid for nodegroups:\n"
        "      default\n"
        "  - Supported parameters:\n"
        "      pool: Pool\n"
        "\n"
        "nosuch: Not Found\n"
        "\n")


def test_no_providers_is_an_error(capsys):
    empty = FakeClient(make_context({"node1": []}, {"default": ["node1"]}))
    assert gnt_storage.diagnose_extstorage(None, [], cl=empty) == 1
    assert gnt_storage.show_extstorage_info(None, ["file"], cl=empty) == 1
    assert capsys.readouterr() == ("", "Can't get the list of ExtStorage providers\n"
                                   "Can't get the ExtStorage providers list\n")


def test_commands_and_usage(capsys):
    assert cli.generic_main(gnt_storage.COMMANDS, argv=["gnt-storage"]) == 1
    assert " diagnose - Diagnose all ExtStorage providers\n" in capsys.readouterr().out
    assert cli.generic_main(gnt_storage.COMMANDS,
                            argv=["gnt-storage", "diagnose", "extra"]) == 1


@pytest.mark.parametrize("command", ["diagnose", "info"])
def test_priority_and_reason_go_into_its_job(monkeypatch, command):
    from test_cli_options_effect import _gnt, _JobClient
    code, client = _gnt(monkeypatch, gnt_storage, command, "--priority", "high",
                        "--reason", "checking", client=_JobClient(result=[]))
    assert code == 1        # no providers
    (op,) = client.jobs[0]
    assert (op.OP_ID, op.priority) == ("OP_EXTSTORAGE_DIAGNOSE", -10)
    assert op.reason[0][:2] == ["gnt:user", "checking"]
