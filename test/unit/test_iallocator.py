"""cmdlib.iallocator: the input an allocator gets and how its answer is read.

The allocators here are small programs written by the test (the protocol is a
file name in, JSON out); Debian's hail is driven in the cluster tier
(test/cluster/test_iallocator_runs.py)."""

import json
import os
import types

import pytest

from ganeti import errors, objects, opcodes
from ganeti.cmdlib import iallocator

ALLOCATOR = """#!/usr/bin/python3
import json, shutil, sys
shutil.copy(sys.argv[1], sys.argv[0] + ".input")
open(sys.argv[0] + ".args", "w").write(json.dumps(sys.argv[2:]))
sys.stdout.write(open(sys.argv[0] + ".answer").read())
"""


class _Res:
    def __init__(self, data=None, fail_msg=None):
        self.data, self.fail_msg, self.offline = data, fail_msg, False


class _Rpc:
    def call_node_info(self, names, units, hv_specs):
        return dict((n, _Res({"memory_total": 4096, "memory_free": 3000,
                              "memory_dom0": 512, "cpu_total": 4,
                              "storage": [{"type": "file", "name": "/srv",
                                           "storage_size": 10000,
                                           "storage_free": 8000}]})) for n in names)

    def call_all_instances_info(self, nodes, hv_names, hvparams):
        return dict((n, _Res({"inst1": {"memory": 64}})) for n in nodes)


def _lu(tmp_path):
    group = objects.NodeGroup(name="default", uuid="g-1", ipolicy={})
    nodes = [objects.Node(name="node%d" % k, primary_ip="192.0.2.%d" % k, group="g-1",
                          vm_capable=True, master_capable=True) for k in (1, 2)]
    nodes.append(objects.Node(name="node3", primary_ip="192.0.2.3", group="g-1",
                              offline=True))
    cluster = objects.Cluster(cluster_name="c.example.com", master_node="node1",
                              enabled_hypervisors=["fake"],
                              enabled_disk_templates=["file"],
                              file_storage_dir="/srv", default_iallocator="")
    inst = objects.Instance(name="inst1", primary_node="node1", os="noop",
                            hypervisor="fake", disk_template="file",
                            admin_state="up", beparams={"maxmem": 128},
                            disks=[objects.Disk(dev_type="file", size=100,
                                                logical_id=["loop", "/srv/d"])],
                            nics=[objects.NIC(mac="aa:00:00:00:00:01",
                                              nicparams={"mode": "bridged",
                                                         "link": "br0"})])
    for obj in [group, cluster, inst] + nodes:
        obj.upgrade_config()
    cfg = types.SimpleNamespace(
        get_cluster_info=lambda: cluster,
        get_all_node_groups_info=lambda: {"g-1": group},
        get_all_nodes_info=lambda: dict((n.name, n) for n in nodes),
        get_all_instances_info=lambda: {"inst1": inst},
        get_node_info=lambda name: {n.name: n for n in nodes}.get(name))
    return types.SimpleNamespace(cfg=cfg, rpc=_Rpc(), op=types.SimpleNamespace()), \
        cluster, inst


@pytest.fixture
def allocator(tmp_path, monkeypatch):
    path = tmp_path / "testalloc"
    path.write_text(ALLOCATOR)
    path.chmod(0o755)
    monkeypatch.setattr(iallocator, "IALLOCATOR_SEARCH_PATH", (str(tmp_path),))
    monkeypatch.setattr("ganeti.pathutils.RUN_DIR", str(tmp_path / "run"))

    def answer(value):
        (tmp_path / "testalloc.answer").write_text(
            value if isinstance(value, str) else json.dumps(value))
    return path, answer


def test_allocate_input_and_answer(tmp_path, allocator, monkeypatch):
    monkeypatch.setattr("ganeti.cmdlib.instance_utils.storage_units_for",
                        lambda cfg, node, units: units, raising=False)
    path, answer = allocator
    lu, cluster, _ = _lu(tmp_path)
    cluster.default_iallocator_params = {"restricted-migration": "true"}
    answer({"success": True, "info": "ok", "result": ["node2"]})
    request = iallocator.allocate_request(
        "new1", "file", [{"size": 256}], [{"mac": "auto"}],
        {"maxmem": 256, "vcpus": 2, "spindle_use": 1}, "noop", ["t1"], "fake")
    result, info = iallocator.run(lu, "testalloc", request, "file")
    assert (result, info) == (["node2"], "ok")
    data = json.loads((tmp_path / "testalloc.input").read_text())
    assert json.loads((tmp_path / "testalloc.args").read_text()) == \
        ["--restricted-migration=true"]
    assert data["version"] == 2 and data["cluster_name"] == "c.example.com"
    assert data["request"] == dict(request, type="allocate", required_nodes=1,
                                   disk_space_total=256)
    assert sorted(data["nodes"]) == ["node1", "node2", "node3"]
    n1 = data["nodes"]["node1"]
    # inst1 (maxmem 128) uses 64 MiB now: 64 more may still be claimed
    assert (n1["total_memory"], n1["free_memory"], n1["reserved_memory"],
            n1["total_disk"], n1["free_disk"], n1["i_pri_memory"],
            n1["i_pri_up_memory"], n1["group"]) == (4096, 2936, 512, 10000, 8000,
                                                    128, 128, "g-1")
    assert "exclusive_storage" in n1["ndparams"] and "spindle_count" in n1["ndparams"]
    assert "total_memory" not in data["nodes"]["node3"]     # offline: static data only
    i1 = data["instances"]["inst1"]
    assert (i1["nodes"], i1["memory"], i1["disk_space_total"], i1["admin_state"],
            i1["nics"][0]["bridge"]) == (["node1"], 128, 100, "up", "br0")
    assert set(data["nodegroups"]["g-1"]) == {"name", "alloc_policy", "networks",
                                              "ipolicy", "tags"}
    assert "minmax" in data["ipolicy"]
    assert not os.listdir(tmp_path / "run" / "iallocator")       # input removed


@pytest.mark.parametrize("text, error, message", [
    ({"success": False, "info": "no space", "result": []}, errors.OpPrereqError,
     "Can't compute nodes using iallocator 'testalloc': no space"),
    ({"success": True, "info": "", "result": ["node1", "node2"]}, errors.OpPrereqError,
     r"returned invalid number of nodes \(2\), required 1"),
    ("not json", errors.OpExecError, "Can't parse iallocator results"),
    ({"success": True}, errors.OpExecError, "missing key 'info'"),
])
def test_bad_answers(tmp_path, allocator, monkeypatch, text, error, message):
    monkeypatch.setattr("ganeti.cmdlib.instance_utils.storage_units_for",
                        lambda cfg, node, units: units, raising=False)
    _, answer = allocator
    lu, _, inst = _lu(tmp_path)
    answer(text)
    with pytest.raises(error, match=message):
        iallocator.run(lu, "testalloc", iallocator.relocate_request(inst, ["node1"]))


def test_missing_allocator_and_resolution(tmp_path, allocator):
    lu, cluster, inst = _lu(tmp_path)
    with pytest.raises(errors.OpExecError, match="iallocator module 'nosuch' not found"):
        iallocator.run(lu, "nosuch", iallocator.relocate_request(inst, ["node1"]))
    lu.op.iallocator = None
    with pytest.raises(errors.OpPrereqError, match="No iallocator or node given"):
        iallocator.resolve(lu, None)
    assert iallocator.resolve(lu, "node1") is None
    cluster.default_iallocator = "testalloc"
    assert iallocator.resolve(lu, None) == "testalloc" and lu.op.iallocator == "testalloc"
    lu.op.iallocator = "."
    assert iallocator.resolve(lu, None) == "testalloc"
    with pytest.raises(errors.OpPrereqError, match="Do not specify both"):
        iallocator.resolve(lu, "node1")
    assert iallocator.find("/nonexistent") is None and iallocator.find("a/b") is None


def test_evacuation_jobs(tmp_path):
    lu, _, _ = _lu(tmp_path)
    logged = []
    lu.log_info = lambda msg, *args: logged.append(msg % args)
    lu.log_warning = lambda msg, *args: logged.append("W " + msg % args)
    jobs = iallocator.evacuation_jobs(lu, [
        [["inst1", "default", ["node2"]]], [],
        [[{"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": "inst1",
           "instance_uuid": None, "target_node": "node2", "target_node_uuid": None,
           "cleanup": False, "not_ours": 1}],
         [{"OP_ID": "OP_INSTANCE_REPLACE_DISKS", "instance_name": "inst2",
           "mode": "replace_new_secondary", "remote_node": "node3", "disks": [],
           "early_release": False}]]], True, True)
    assert logged == ["Instances to be moved: inst1 (to node2)"]
    assert [type(op) for job in jobs for op in job] == [opcodes.OpInstanceMigrate,
                                                         opcodes.OpInstanceReplaceDisks]
    assert jobs[0][0].target_node == "node2" and jobs[1][0].early_release is True
    with pytest.raises(errors.OpExecError, match="Unable to evacuate instances inst1"
                       r" \(no room\)"):
        iallocator.evacuation_jobs(lu, [[], [["inst1", "no room"]], []], False, True)
    with pytest.raises(errors.OpExecError, match="Invalid opcode"):
        iallocator.evacuation_jobs(lu, [[], [], [[{"OP_ID": "OP_NOPE"}]]], False, True)
