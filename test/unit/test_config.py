"""The configuration: objects round-trip, ConfigWriter writes atomically."""

import json
import os

import pytest

from ganeti import config, constants, errors, objects


def _make_config(tmp_path):
    group = objects.NodeGroup(name="default")
    node = objects.Node(name="node1.example.com", primary_ip="192.0.2.1",
                        master_candidate=True, group=group.uuid)
    cluster = objects.Cluster(cluster_name="cluster.example.com",
                              master_node="node1.example.com", master_ip="192.0.2.254",
                              master_netdev="eth0", enabled_hypervisors=["fake"],
                              enabled_disk_templates=["file", "diskless"])
    data = objects.ConfigData(cluster=cluster, nodes={node.name: node},
                              nodegroups={group.uuid: group})
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, data)
    return path, data


def test_objects_round_trip_through_json():
    disk = objects.Disk(dev_type="file", logical_id=["loop", "/srv/x/disk0"], size=1024,
                        iv_name="disk/0", nodes=["node1"])
    nic = objects.NIC(mac="aa:00:00:11:22:33", nicparams={"mode": "bridged"})
    inst = objects.Instance(name="inst1", primary_node="node1", os="noop",
                            hypervisor="fake", disks=[disk], nics=[nic],
                            disk_template="file")
    text = json.dumps(inst.to_dict())
    back = objects.Instance.from_dict(json.loads(text))
    assert back == inst
    assert back.disks[0].logical_id == ["loop", "/srv/x/disk0"]
    assert back.nics[0].mac == "aa:00:00:11:22:33"
    assert back.admin_state == constants.ADMINST_DOWN


def test_cluster_defaults_are_filled():
    cluster = objects.Cluster(cluster_name="c")
    assert cluster.beparams["default"]["maxmem"] == 128
    assert cluster.nicparams["default"]["link"] == constants.DEFAULT_BRIDGE
    assert cluster.hvparams["kvm"]["kernel_args"] == "ro"
    assert cluster.diskparams["drbd"]["protocol"] == "C"
    assert cluster.ipolicy["vcpu-ratio"] == 4.0


def test_unknown_field_is_a_programming_error():
    with pytest.raises(errors.ProgrammerError):
        objects.Node(name="x", colour="blue")


def test_config_writer_loads_and_updates(tmp_path):
    path, _ = _make_config(tmp_path)
    writes = []
    cfg = config.ConfigWriter(path)
    cfg.on_write.append(lambda c: writes.append(c.get_config_serial()))
    serial = cfg.get_config_serial()
    node = cfg.get_node_info("node1.example.com")
    node.tags.append("rack1")
    cfg.update(node)
    assert cfg.get_config_serial() == serial + 1
    assert writes == [serial + 1]
    again = config.ConfigWriter(path)
    assert again.get_node_info("node1.example.com").tags == ["rack1"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    # no temporary files left behind
    assert sorted(os.listdir(tmp_path)) == ["config.data"]


def test_concurrent_modification_is_refused(tmp_path):
    path, _ = _make_config(tmp_path)
    cfg = config.ConfigWriter(path)
    a = cfg.get_node_info("node1.example.com")
    b = cfg.get_node_info("node1.example.com")
    a.drained = True
    cfg.update(a)
    b.offline = True
    with pytest.raises(errors.ConfigurationError):
        cfg.update(b)
    assert cfg.get_node_info("node1.example.com").offline is False


def test_ssconf_values(tmp_path):
    path, _ = _make_config(tmp_path)
    values = config.ConfigWriter(path).get_ssconf_values()
    assert values["cluster_name"] == "cluster.example.com"
    assert values["master_node"] == "node1.example.com"
    assert values["node_primary_ips"] == "node1.example.com 192.0.2.1"
    assert values["master_candidates"] == "node1.example.com"
    assert values["hypervisor_list"] == "fake"
    assert values["hvparams_fake"] == "migration_mode=live"


def test_missing_or_broken_config_gives_clear_errors(tmp_path):
    with pytest.raises(errors.ConfigurationError) as exc:
        config.ConfigWriter(str(tmp_path / "nothing"))
    assert "not part of a cluster" in str(exc.value)
    bad = tmp_path / "bad"
    bad.write_text("{not json")
    with pytest.raises(errors.ConfigurationError):
        config.ConfigWriter(str(bad))


def test_verify_config_finds_inconsistencies(tmp_path):
    path, _ = _make_config(tmp_path)
    cfg = config.ConfigWriter(path)
    assert cfg.verify_config() == []
    inst = objects.Instance(name="i1", primary_node="nowhere", os="noop",
                            hypervisor="fake")
    cfg.add_instance(inst)
    problems = cfg.verify_config()
    assert any("unknown primary node 'nowhere'" in p for p in problems)
