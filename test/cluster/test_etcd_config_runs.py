"""The configuration in etcd (ganeti.etcd.configstore through config.ConfigWriter),
against a real etcd: one key per object, compare-and-swap on every commit, and a
failed commit that changes nothing."""

import json
import threading
import time

import pytest

from etcd_fixture import EtcdCluster

from ganeti import config, errors, objects
from ganeti.etcd import configstore


def _write_config(path, instances=0):
    group = objects.NodeGroup(name="default")
    node = objects.Node(name="node1.example.com", primary_ip="192.0.2.1",
                        master_candidate=True, group=group.uuid)
    cluster = objects.Cluster(cluster_name="cluster.example.com",
                              master_node="node1.example.com", master_ip="192.0.2.254",
                              master_netdev="eth0", enabled_hypervisors=["fake"],
                              enabled_disk_templates=["diskless"])
    insts = {"i%d.example.com" % i: objects.Instance(name="i%d.example.com" % i,
                                                     primary_node=node.name, os="noop",
                                                     hypervisor="fake",
                                                     disk_template="diskless")
             for i in range(instances)}
    config.ConfigWriter.write_initial(str(path), objects.ConfigData(
        cluster=cluster, nodes={node.name: node}, nodegroups={group.uuid: group},
        instances=insts, serial_no=1))
    return str(path)


@pytest.fixture(scope="module")
def etcd3():
    with EtcdCluster(3, first=60, spare=0) as ec:
        yield ec


@pytest.fixture
def fresh(etcd3):
    etcd3.client().delete(configstore.PREFIX, prefix=True)
    return etcd3


def _writer(ec, path, members=None):
    return config.ConfigWriter(str(path), store=configstore.ConfigStore(
        ec.client(members, timeout=3.0)))


def _instance(name):
    return objects.Instance(name=name, primary_node="node1.example.com", os="noop",
                            hypervisor="fake", disk_template="diskless")


def test_first_start_seeds_etcd_from_config_data_one_key_per_object(fresh, tmp_path):
    path = _write_config(tmp_path / "config.data", instances=250)
    cfg = _writer(fresh, path)
    kvs, _ = fresh.client().get_prefix(configstore.PREFIX, keys_only=True)
    keys = [kv.key for kv in kvs]
    assert len(keys) == 250 + 4          # instances, node, group, cluster, meta
    assert configstore.META_KEY in keys and configstore.CLUSTER_KEY in keys
    assert b"/ganeti/config/instances/i249.example.com" in keys
    assert cfg.get_instance_list() == sorted("i%d.example.com" % i for i in range(250))
    # a second writer reads the same configuration back from etcd alone
    (tmp_path / "config.data").unlink()
    other = _writer(fresh, tmp_path / "config.data")
    assert json.loads(other.dump_text()) == json.loads(cfg.dump_text())


def test_a_change_touches_its_own_keys_only(fresh, tmp_path):
    cfg = _writer(fresh, _write_config(tmp_path / "config.data", instances=20))
    client = fresh.client()
    before = {kv.key: kv.mod_revision for kv in client.get_prefix(configstore.PREFIX)[0]}
    serial = cfg.get_config_serial()
    cfg.add_instance(_instance("new.example.com"))
    after = {kv.key: kv.mod_revision for kv in client.get_prefix(configstore.PREFIX)[0]}
    changed = sorted(k for k in after if after[k] != before.get(k))
    assert changed == [configstore.CLUSTER_KEY, b"/ganeti/config/instances/new.example.com",
                       configstore.META_KEY]
    meta = json.loads(client.get(configstore.META_KEY).value)
    assert meta["serial_no"] == serial + 1 == cfg.get_config_serial()
    cfg.remove_instance("i3.example.com")
    assert client.get(b"/ganeti/config/instances/i3.example.com") is None


def test_two_writers_only_one_wins_and_the_loser_rereads(fresh, tmp_path):
    path = _write_config(tmp_path / "config.data")
    first = _writer(fresh, path)
    second = _writer(fresh, path)
    first.add_instance(_instance("a.example.com"))
    with pytest.raises(errors.ConfigurationError) as err:
        second.add_instance(_instance("b.example.com"))
    assert "changed by someone else" in str(err.value)
    # the loser now holds what etcd holds, without its own failed change
    assert second.get_instance_list() == ["a.example.com"]
    assert second.get_config_serial() == first.get_config_serial()
    second.add_instance(_instance("b.example.com"))
    assert _writer(fresh, path).get_instance_list() == ["a.example.com", "b.example.com"]


def _without_leader(ec, cfg):
    """Kill members 2 and 3 and wait until member 1 knows it has no leader."""
    ec.kill(2)
    ec.kill(3)
    client = ec.client([1], timeout=2.0)
    deadline = time.time() + 20
    while client.status()["leader"]:
        assert time.time() < deadline, "member 1 kept its leader"
        time.sleep(0.1)


def _back(ec):
    ec.restart(2)
    ec.restart(3)
    ec.wait_healthy([1, 2, 3])


def test_no_leader_fails_the_change_and_changes_nothing(fresh, tmp_path):
    cfg = _writer(fresh, _write_config(tmp_path / "config.data"), members=[1])
    serial = cfg.get_config_serial()
    _without_leader(fresh, cfg)
    try:
        with pytest.raises(errors.ConfigurationError) as err:
            cfg.add_instance(_instance("lost.example.com"))
        assert "Could not store the configuration change in etcd" in str(err.value)
        assert "no leader" in str(err.value)
        assert cfg.get_instance_list() == [] and cfg.get_config_serial() == serial
    finally:
        _back(fresh)
    # nothing of the failed change reached etcd, and writing works again
    assert fresh.client().get(b"/ganeti/config/instances/lost.example.com") is None
    cfg.add_instance(_instance("kept.example.com"))
    assert cfg.get_config_serial() == serial + 1


def test_a_commit_whose_answer_was_lost_is_settled_once_etcd_is_back(fresh, tmp_path):
    """The leader took the commit but lost its quorum before answering. Once the
    quorum is back, the entry was either committed (member 1 led again) or
    dropped (another member led): the writer tells which, and its memory,
    etcd and its answer agree either way."""
    cfg = _writer(fresh, _write_config(tmp_path / "config.data"), members=[1])
    serial = cfg.get_config_serial()
    fresh.kill(2)
    fresh.kill(3)          # member 1 still believes it leads, for a moment
    back = threading.Timer(4.0, _back, args=(fresh,))
    back.start()
    try:
        cfg.add_instance(_instance("late.example.com"))
        stored = True
    except errors.ConfigurationError as err:
        assert "was not stored" in str(err) or "Could not store" in str(err), err
        stored = False
    finally:
        back.join()
    in_etcd = fresh.client().get(b"/ganeti/config/instances/late.example.com") is not None
    assert in_etcd == stored
    assert cfg.get_instance_list() == (["late.example.com"] if stored else [])
    assert cfg.get_config_serial() == serial + (1 if stored else 0)
    cfg.add_instance(_instance("next.example.com"))     # its revision is right
    assert "next.example.com" in cfg.get_instance_list()


def test_a_lost_commit_that_never_applies_is_refused(fresh, tmp_path, monkeypatch):
    """The answer is lost and etcd never applied the commit: the fence wins and
    the commit can never apply later."""
    cfg = _writer(fresh, _write_config(tmp_path / "config.data"))
    serial = cfg.get_config_serial()
    store = cfg._store
    real_txn = store.client.txn
    calls = []

    def lose_first(compares, success, failure=()):
        calls.append(1)
        if len(calls) == 1:          # as if the request never reached etcd
            raise errors.EtcdOutcomeUnknownError("etcd at test: the outcome is unknown")
        return real_txn(compares, success, failure)
    monkeypatch.setattr(store.client, "txn", lose_first)
    with pytest.raises(errors.ConfigurationError) as err:
        cfg.add_instance(_instance("never.example.com"))
    assert "was not stored" in str(err.value)
    assert cfg.get_instance_list() == [] and cfg.get_config_serial() == serial
    cfg.add_instance(_instance("after.example.com"))
    assert cfg.get_instance_list() == ["after.example.com"]


def test_a_bad_object_name_is_refused_before_anything_is_written(fresh, tmp_path):
    cfg = _writer(fresh, _write_config(tmp_path / "config.data"))
    serial = cfg.get_config_serial()
    with pytest.raises(errors.ConfigurationError):
        cfg.add_instance(_instance("bad/name"))
    assert cfg.get_config_serial() == serial and cfg.get_instance_list() == []
