"""The "os" query (master side), OP_OS_DIAGNOSE and the gnt-os command."""

import types

import pytest

from ganeti import errors, objects, opcodes, query
from ganeti.cmdlib import operating_system as osq
from ganeti.client import gnt_os
from ganeti.rpc import RpcResult

NOOP = ["/usr/share/ganeti/os/noop", True, "", [], [], [5, 10]]
DEB = ["/srv/ganeti/os/deb", True, "", ["default", "mini"],
       [["filesystem", "fs"], ["arch", "cpu"]], [20, 15, 10]]


def _entry(name, entry):
    return [name] + list(entry)


def _t(entry, trusted=True):
    """A node's entry as the master keeps it: with the trusted flag."""
    return list(entry) + [trusted]


class FakeRpc:
    """Answers os_diagnose from a {node: list or error text} table."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def call(self, procedure, nodes, args):
        self.calls.append((procedure, list(nodes), list(args)))
        result = {}
        for node in nodes:
            answer = self.answers[node]
            if isinstance(answer, str):
                result[node] = RpcResult(node, procedure, fail_msg=answer)
            else:
                result[node] = RpcResult(node, procedure, data=answer)
        return result


class FakeConfig:
    def __init__(self, nodes, cluster):
        self.nodes = nodes
        self.cluster = cluster

    def get_all_nodes_info(self):
        return dict((n.name, n) for n in self.nodes)

    def get_cluster_info(self):
        return self.cluster


def make_context(answers, offline=(), not_vm_capable=(), **cluster_args):
    names = sorted(set(answers) | set(offline) | set(not_vm_capable))
    nodes = [objects.Node(name=n, primary_ip="192.0.2.%d" % (i + 1),
                          offline=n in offline, vm_capable=n not in not_vm_capable)
             for i, n in enumerate(names)]
    cluster = objects.Cluster(cluster_name="cluster", master_node=names[0], **cluster_args)
    return types.SimpleNamespace(cfg=FakeConfig(nodes, cluster), rpc=FakeRpc(answers))


def _values(result):
    return [[value for _, value in row] for row in result["data"]]


# ---- master side ------------------------------------------------------------------

def test_fields_and_titles():
    fields = query.get_fields(query.QR_OS)
    assert fields is osq.OS_FIELDS
    titles = dict((name, f.title) for name, f in fields.items())
    assert titles == {
        "name": "Name", "valid": "Valid", "hidden": "Hidden",
        "blacklisted": "Blacklisted", "variants": "Variants",
        "api_versions": "ApiVersions", "parameters": "Parameters",
        "node_status": "NodeStatus", "os_hvp": "OsHypervisorParams",
        "osparams": "OsParameters", "trusted": "Trusted"}
    assert fields["valid"].kind == query.QFT_BOOL
    assert fields["name"].kind == query.QFT_TEXT


def test_valid_everywhere():
    ctx = make_context({"node1": [_entry("noop", NOOP), _entry("deb", DEB)],
                        "node2": [_entry("deb", DEB), _entry("noop", NOOP)]})
    result = osq.query_os(ctx, ["name", "valid", "variants", "api_versions",
                                "parameters"], None)
    assert _values(result) == [
        ["deb", True, ["default", "mini"], [10, 15, 20],
         [["arch", "cpu"], ["filesystem", "fs"]]],
        ["noop", True, [], [5, 10], []]]
    assert ctx.rpc.calls == [("os_diagnose", ["node1", "node2"], [])]
    assert [f["title"] for f in result["fields"]] == [
        "Name", "Valid", "Variants", "ApiVersions", "Parameters"]


def test_invalid_on_one_node_is_invalid():
    bad = ["/srv/ganeti/os/deb", False, "File 'verify' is missing", [], [], [20]]
    ctx = make_context({"node1": [_entry("deb", DEB)], "node2": [_entry("deb", bad)],
                        "node3": [_entry("deb", DEB)]})
    (row,) = _values(osq.query_os(ctx, ["name", "valid", "variants", "node_status"],
                                  None))
    name, valid, variants, status = row
    assert (name, valid, variants) == ("deb", False, [])
    assert status == {"node1": [_t(DEB)], "node2": [_t(bad)], "node3": [_t(DEB)]}


def test_missing_on_one_node_is_invalid_and_dead_nodes_do_not_count():
    ctx = make_context({"node1": [_entry("noop", NOOP), _entry("deb", DEB)],
                        "node2": [_entry("noop", NOOP)],
                        "node3": "Connection refused"},
                       offline=["node4"], not_vm_capable=["node5"])
    rows = _values(osq.query_os(ctx, ["name", "valid", "node_status"], None))
    assert rows == [["deb", False, {"node1": [_t(DEB)], "node2": []}],
                    ["noop", True, {"node1": [_t(NOOP)], "node2": [_t(NOOP)]}]]
    assert ctx.rpc.calls[0][1] == ["node1", "node2", "node3"]


def test_shadowed_definitions_and_common_values():
    shadow = ["/usr/share/ganeti/os/deb", False, "bad api", [], [], []]
    other = ["/srv/ganeti/os/deb", True, "", ["default"], [["filesystem", "fs"]],
             [20, 15]]
    ctx = make_context({"node1": [_entry("deb", DEB), _entry("deb", shadow)],
                        "node2": [_entry("deb", other)]})
    (row,) = _values(osq.query_os(ctx, ["valid", "variants", "parameters",
                                        "api_versions", "node_status"], None))
    assert row[:4] == [True, ["default"], [["filesystem", "fs"]], [15, 20]]
    assert row[4]["node1"] == [_t(DEB), _t(shadow)]


def test_cluster_settings_and_filter():
    ctx = make_context(
        {"node1": [_entry("noop", NOOP), _entry("deb", DEB)]},
        hidden_os=["noop"], blacklisted_os=["deb"],
        os_hvp={"deb+mini": {"kvm": {"kernel_path": "/vmlinuz"}}, "other": {}},
        osparams={"deb": {"filesystem": "ext4"}, "deb+mini": {"arch": "x"}})
    rows = _values(osq.query_os(ctx, ["name", "hidden", "blacklisted", "os_hvp",
                                      "osparams", "trusted"], None))
    # as Ganeti: only the variants' entries (os+variant), not the base name's
    assert rows == [
        ["deb", False, True, {"deb+mini": {"kvm": {"kernel_path": "/vmlinuz"}}},
         {"deb+mini": {"arch": "x"}}, True],
        ["noop", True, False, {}, {}, True]]
    result = osq.query_os(ctx, ["name"], ["?", "hidden"])
    assert _values(result) == [["noop"]]
    with pytest.raises(errors.ParameterError, match="Can't find field named 'nosuchfield'"):
        osq.query_os(ctx, ["name"], ["?", "nosuchfield"])
    unknown = osq.query_os(ctx, ["name", "nosuchfield"], None)
    assert unknown["data"][0][1] == [query.RS_UNKNOWN, None]


def test_no_nodes_no_call():
    ctx = make_context({}, offline=["node1"])
    assert osq.query_os(ctx, ["name"], None)["data"] == []
    assert ctx.rpc.calls == []


def test_nice_sort():
    assert osq.nice_sort(["node10", "node9", "alpha"]) == ["alpha", "node9", "node10"]


def _run_lu(ctx, **params):
    op = opcodes.OpOsDiagnose(**params)
    op.validate()
    lu = osq.LUOsDiagnose(None, op, types.SimpleNamespace(
        cfg=ctx.cfg, rpc=ctx.rpc, glm=None), lambda msg: None)
    return lu.exec(lambda msg: None)


def test_lu_os_diagnose_legacy_filter():
    bad = ["/srv/ganeti/os/broken", False, "missing", [], [], []]
    ctx = make_context({"node1": [_entry("noop", NOOP), _entry("deb", DEB),
                                  _entry("broken", bad), _entry("hid", NOOP)]},
                       hidden_os=["hid"], blacklisted_os=["noop"])
    # without status fields: only valid, visible, usable OSes
    assert _run_lu(ctx, output_fields=["name", "variants"]) == [
        ["deb", ["default", "mini"]]]
    assert _run_lu(ctx, output_fields=["name", "valid", "hidden", "blacklisted"]) == [
        ["broken", False, False, False], ["deb", True, False, False],
        ["hid", True, True, False], ["noop", True, False, True]]
    assert _run_lu(ctx, output_fields=["name", "valid"], names=["b*"]) == [
        ["broken", False]]
    with pytest.raises(errors.OpPrereqError, match="Unknown output fields"):
        _run_lu(ctx, output_fields=["name", "bogus"])


def test_check_os_variant():
    osq.check_os_variant({"supported_variants": ["a"]}, "deb+a")
    osq.check_os_variant({"supported_variants": []}, "noop")
    with pytest.raises(errors.OpPrereqError, match="must include a variant"):
        osq.check_os_variant({"supported_variants": ["a"]}, "deb")
    with pytest.raises(errors.OpPrereqError, match="Unsupported OS variant"):
        osq.check_os_variant({"supported_variants": ["a"]}, "deb+b")
    with pytest.raises(errors.OpPrereqError, match="doesn't support variants"):
        osq.check_os_variant({"supported_variants": []}, "noop+x")


# ---- gnt-os --------------------------------------------------------------------------

class FakeClient:
    """A LUXI client that runs the OP_OS_DIAGNOSE job gnt-os submits at once
    (LUOsDiagnose on a context) and answers the polling with its result."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.jobs = []

    def submit_job(self, ops):
        (op,) = ops
        self.jobs.append(op)
        return len(self.jobs)

    def wait_for_job_change_once(self, job_id, fields, prev_info, prev_serial):
        return (["success"], [])

    def query_jobs(self, job_ids, fields):
        op = self.jobs[job_ids[0] - 1]
        result = _run_lu(self.ctx, output_fields=op.output_fields, names=op.names)
        return [("success", ["success"], [result])]


def _opts(**kwargs):
    return types.SimpleNamespace(**dict({"no_headers": False}, **kwargs))


@pytest.fixture
def cluster_client():
    shadow = ["/usr/share/ganeti/os/noop", True, "", [], [], [10]]
    bad = ["/srv/ganeti/os/broken", False, "File 'rename' is missing", [], [], [10]]
    ctx = make_context(
        {"node1": [_entry("noop", NOOP), _entry("noop", shadow), _entry("deb", DEB),
                   _entry("broken", bad), _entry("hid", NOOP)],
         "node2": [_entry("noop", NOOP), _entry("deb", DEB), _entry("hid", NOOP)]},
        hidden_os=["hid"], os_hvp={"deb+mini": {"kvm": {"kernel_path": "/vmlinuz"}}},
        osparams={"deb+mini": {"filesystem": "ext4"}})
    return FakeClient(ctx)


def test_gnt_os_list(cluster_client, capsys):
    assert gnt_os.list_os(_opts(), [], cl=cluster_client) == 0
    assert capsys.readouterr().out == "Name\ndeb+default\ndeb+mini\nnoop\n"
    assert gnt_os.list_os(_opts(no_headers=True), [], cl=cluster_client) == 0
    assert capsys.readouterr().out == "deb+default\ndeb+mini\nnoop\n"


def test_gnt_os_diagnose(cluster_client, capsys):
    assert gnt_os.diagnose_os(_opts(), [], cl=cluster_client) == 1
    out = capsys.readouterr().out
    assert out == (
        "OS: broken [global status: invalid]\n"
        "  Node: node1, status: invalid - File 'rename' is missing"
        " (path: /srv/ganeti/os/broken) [API versions: 10] [trusted]\n"
        "  Node: node2, status: OS not found\n"
        "\n"
        "OS: deb [global status: valid]\n"
        "  Variants: [default, mini]\n"
        "  Node: node1, status: valid (path: /srv/ganeti/os/deb) [API versions:"
        " 20, 15, 10] [variants: default, mini] [parameters: filesystem, arch] [trusted]\n"
        "  Node: node2, status: valid (path: /srv/ganeti/os/deb) [API versions:"
        " 20, 15, 10] [variants: default, mini] [parameters: filesystem, arch] [trusted]\n"
        "\n"
        "OS: hid [global status: valid] [hidden]\n"
        "  Node: node1, status: valid (path: /usr/share/ganeti/os/noop)"
        " [API versions: 5, 10] [trusted]\n"
        "  Node: node2, status: valid (path: /usr/share/ganeti/os/noop)"
        " [API versions: 5, 10] [trusted]\n"
        "\n"
        "OS: noop [global status: valid]\n"
        "  Node: node1, status: valid (path: /usr/share/ganeti/os/noop)"
        " [API versions: 5, 10] [trusted]\n"
        "    [hidden] path: /usr/share/ganeti/os/noop, status: valid\n"
        "  Node: node2, status: valid (path: /usr/share/ganeti/os/noop)"
        " [API versions: 5, 10] [trusted]\n"
        "\n")


def test_gnt_os_diagnose_all_valid(capsys):
    client = FakeClient(make_context({"node1": [_entry("noop", NOOP)]}))
    assert gnt_os.diagnose_os(_opts(), [], cl=client) == 0
    assert "OS: noop [global status: valid]\n" in capsys.readouterr().out


def test_gnt_os_info(cluster_client, capsys):
    assert gnt_os.show_os_info(_opts(), ["deb", "broken", "deb+mini", "nothing"],
                               cl=cluster_client) == 0
    assert capsys.readouterr().out == (
        "broken:\n"
        "  - valid: False\n"
        "  - hidden: False\n"
        "  - blacklisted: False\n"
        "  - trusted: True\n"
        "\n"
        "deb:\n"
        "  - valid: True\n"
        "  - hidden: False\n"
        "  - blacklisted: False\n"
        "  - API versions:\n"
        "    - 10\n"
        "    - 15\n"
        "    - 20\n"
        "  - variants:\n"
        "    - default\n"
        "    - mini\n"
        "  - parameters:\n"
        "    - arch: cpu\n"
        "    - filesystem: fs\n"
        "  - trusted: True\n"
        "\n"
        "deb+mini: \n"
        "  OS-specific hypervisor parameters: \n"
        "    kvm: \n"
        "      kernel_path: /vmlinuz\n"
        "  OS parameters: \n"
        "    filesystem: ext4\n"
        "\n"
        "nothing: \n"
        "\n")


def test_gnt_os_main_usage(capsys):
    assert gnt_os.main.__module__ == "ganeti.client.gnt_os"
    from ganeti import cli
    assert cli.generic_main(gnt_os.COMMANDS, argv=["gnt-os", "list", "extra"]) == 1
    assert "expects no arguments" in capsys.readouterr().err


def test_gnt_os_diagnose_partial(capsys):
    bad = ["/usr/share/ganeti/os/noop", False, "bad api", [], [], []]
    client = FakeClient(make_context({"node1": [_entry("noop", NOOP)],
                                      "node10": [_entry("noop", bad)],
                                      "node9": [_entry("noop", NOOP)]}))
    assert gnt_os.diagnose_os(_opts(), [], cl=client) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "OS: noop [global status: partial valid]"
    # valid nodes first, each group in natural order
    assert [line.split(",")[0] for line in lines[1:4]] == [
        "  Node: node1", "  Node: node9", "  Node: node10"]
    assert lines[3].endswith("invalid - bad api (path: /usr/share/ganeti/os/noop)"
                             " [no API versions declared] [trusted]")
