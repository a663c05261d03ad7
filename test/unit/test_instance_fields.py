"""Instance query fields as Ganeti 3.0.2 lists and shows them (gnt-instance
list-fields and list; the spec sample gnt-instance.txt)."""

import os
import re
import types

import pytest

from ganeti import cli_output, constants, objects, qlang, query
from ganeti.cmdlib import instance_query
from ganeti.hypervisor import hv_fake
from ganeti.rpc import RpcResult

from test_cluster_admin import _make_cfg

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "spec",
                      "samples", "ganeti-3.0.2", "gnt-instance.txt")
FIELDS = instance_query.INSTANCE_FIELDS


def _list_fields_lines(names=None):
    result = query.query_fields(query.QR_INSTANCE, names)
    rows = [[f["name"], cli_output.FIELD_KIND_NAMES[f["kind"]], f["title"], f["doc"]]
            for f in result["fields"]]
    return cli_output.format_table(rows, ["Name", "Type", "Title", "Description"],
                                   [False] * 4, None)


def _sample_entry(cmdline):
    lines = open(SAMPLE).read().split("\n")
    start = lines.index("$ " + cmdline) + 3
    return lines[start:lines.index("--- stderr", start)]


def _squeeze(lines):
    return [re.sub(" +", " ", line).rstrip() for line in lines]


@pytest.mark.skipif(not os.path.exists(SAMPLE), reason="spec sample not available")
@pytest.mark.parametrize("cmdline, names", [
    ("gnt-instance list-fields", None),
    ("gnt-instance list-fields name status disk.sizes", ["name", "status", "disk.sizes"]),
])
def test_list_fields_is_ganetis(cmdline, names):
    assert _squeeze(_list_fields_lines(names)) == _squeeze(_sample_entry(cmdline))


def test_fields_are_listed_in_natural_order():
    names = [f["name"] for f in query.query_fields(query.QR_INSTANCE, None)["fields"]]
    assert names.index("disk.size/2") < names.index("disk.size/10") < \
        names.index("disk.sizes")
    assert names.index("nic.network.name/0") < names.index("nic.network/0")


def test_parameter_fields():
    assert (FIELDS["be/maxmem"].kind, FIELDS["be/maxmem"].title) == \
        (query.QFT_UNIT, "ConfigMaxMem")
    assert (FIELDS["be/auto_balance"].kind, FIELDS["be/auto_balance"].title) == \
        (query.QFT_BOOL, "Auto_balance")
    assert (FIELDS["be/spindle_use"].kind, FIELDS["be/spindle_use"].title) == \
        (query.QFT_NUMBER, "be/spindle_use")
    memory = FIELDS["be/memory"]
    assert (memory.title, memory.kind, memory.doc) == \
        ("ConfigMaxMem", query.QFT_UNIT, 'The "maxmem" backend parameter')
    assert (FIELDS["hv/acpi"].kind, FIELDS["hv/acpi"].title) == (query.QFT_BOOL, "ACPI")
    assert (FIELDS["hv/cpu_cap"].kind, FIELDS["hv/cpu_cap"].title) == \
        (query.QFT_NUMBER, "hv/cpu_cap")
    # the cluster-wide parameters are no instance's
    for key in constants.HVC_GLOBALS:
        assert "hv/" + key not in FIELDS


@pytest.mark.parametrize("value, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"),
                                         (11, "11th"), (12, "12th"), (13, "13th"),
                                         (21, "21st"), (112, "112th")])
def test_ordinal(value, text):
    assert instance_query._ordinal(value) == text


class _Rpc:
    """Every primary answers: the instances in ``running`` run there."""

    def __init__(self, running):
        self.running = running

    def call_all_instances_info(self, nodes, hvs, hvparams):
        return dict((node, RpcResult(node, "all_instances_info",
                                     dict((name, {"memory": 128, "vcpus": 1,
                                                  "state": "running"})
                                          for name in self.running)))
                    for node in nodes)


@pytest.fixture
def ctx(tmp_path):
    cfg = _make_cfg(tmp_path, instances=[("inst1", "fake", "diskless"),
                                         ("inst2", "fake", "file"),
                                         ("inst3", "fake", "file")])
    for name, sizes in (("inst2", [1024]), ("inst3", [1024, 2048])):
        inst = cfg.get_instance_info(name)
        inst.disks = [objects.Disk(dev_type=constants.DT_FILE, size=size)
                      for size in sizes]
        inst.nics = [objects.NIC(mac="aa:00:00:00:00:01")]
        cfg.update(inst)
    return types.SimpleNamespace(cfg=cfg, rpc=_Rpc(["inst1", "inst2"]), glm=None)


def _rows(ctx, fields, names=None):
    result = instance_query.query_instances(
        ctx, fields, qlang.make_simple_filter(names) if names else None)
    return result["data"]


def _table(ctx, fields, names=None, **kwargs):
    result = instance_query.query_instances(
        ctx, fields, qlang.make_simple_filter(names) if names else None)
    return _squeeze(cli_output.format_query_result(result, resource="instance", **kwargs))


def test_names_asked_for_come_in_their_order(ctx):
    assert [row[0][1] for row in _rows(ctx, ["name"], ["inst2", "inst1"])] == \
        ["inst2", "inst1"]
    assert [row[0][1] for row in _rows(ctx, ["name"])] == ["inst1", "inst2", "inst3"]


def test_values_shown_as_ganetis(ctx):
    lines = _table(ctx, ["name", "network_port", "nic.network/0", "be/memory",
                         "be/minmem", "disk_usage", "beparams"])
    assert lines[0] == ("Instance Network_port NicNetwork/0 ConfigMaxMem ConfigMinMem"
                        " DiskUsage BackendParameters")
    assert lines[3] == ("inst3 - - 128M 128M 3.0G {'minmem': 128, 'maxmem': 128,"
                        " 'vcpus': 1, 'auto_balance': True, 'always_failover': False,"
                        " 'spindle_use': 1}")
    lines = _table(ctx, ["name", "be/memory"], unit="g", header=False)
    assert lines == ["inst1 0.1", "inst2 0.1", "inst3 0.1"]


def test_beparams_in_ganetis_order_even_when_sorted_on_the_way():
    # LUXI's JSON sorts the keys; the client puts them back in Ganeti's order
    result = {"fields": [FIELDS["beparams"].definition()],
              "data": [[[query.RS_NORMAL, dict(sorted(constants.BEC_DEFAULTS.items()))]]]}
    line = cli_output.format_query_result(result, header=False, resource="instance")[0]
    assert line.startswith("{'minmem': 128, 'maxmem': 128, 'vcpus': 1,")


def test_console_and_unknown_global_parameter(ctx):
    # what gnt-instance console answers, for a stopped instance too
    inst = ctx.cfg.get_instance_info("inst3")
    console = hv_fake.FakeHypervisor.get_instance_console(inst, inst.primary_node, None,
                                                          {}, {})
    assert console["instance"] == "inst3"
    rows = _rows(ctx, ["console", "hv/migration_mode"], ["inst3"])
    assert rows == [[[query.RS_NORMAL, console], [query.RS_UNKNOWN, None]]]
