"""ganeti.etcd.configstore's layout (split/assemble) and configsync's copy rule;
commits against a real etcd are in test/cluster/test_etcd_config_runs.py."""
import json

import pytest

from ganeti import errors
from ganeti.etcd import configstore, configsync


def _config():
    return {"version": 2160000, "serial_no": 7, "ctime": 1.0, "mtime": 2.0,
            "cluster": {"cluster_name": "c.example.com", "serial_no": 3},
            "nodes": {"n1.example.com": {"name": "n1.example.com"}},
            "instances": {"i1.example.com": {"name": "i1.example.com"},
                          "i2.example.com": {"name": "i2.example.com"}},
            "nodegroups": {"uuid-1": {"name": "default"}},
            "networks": {}, "disks": {}, "filters": {}}


def test_split_makes_one_key_per_object_and_assemble_undoes_it():
    values = configstore.split(_config())
    assert sorted(values) == sorted([
        b"/ganeti/config/meta", b"/ganeti/config/cluster",
        b"/ganeti/config/nodes/n1.example.com", b"/ganeti/config/instances/i1.example.com",
        b"/ganeti/config/instances/i2.example.com", b"/ganeti/config/nodegroups/uuid-1"])
    assert values[configstore.META_KEY] == {"version": 2160000, "serial_no": 7,
                                            "ctime": 1.0, "mtime": 2.0}
    assert configstore.assemble(values) == _config()


def test_no_meta_means_no_configuration_yet():
    values = configstore.split(_config())
    del values[configstore.META_KEY]
    assert configstore.assemble(values) is None


@pytest.mark.parametrize("name", ["", "a/b"])
def test_object_names_that_cannot_be_keys_are_refused(name):
    with pytest.raises(errors.ConfigurationError):
        configstore.object_key("instances", name)
    with pytest.raises(errors.ProgrammerError):
        configstore.object_key("nosuchmap", "x")


def test_copy_never_goes_back_to_an_older_serial(tmp_path):
    path = str(tmp_path / "config.data")
    assert configsync.write_copy(json.dumps({"serial_no": 5}), path)
    assert not configsync.write_copy(json.dumps({"serial_no": 4}), path)
    assert configsync.file_serial(path) == 5
    assert configsync.write_copy(json.dumps({"serial_no": 5, "x": 1}), path)
    with pytest.raises(errors.ConfigurationError):
        configsync.write_copy("{broken", path)
    # after joining another etcd cluster, the sync writes whatever its serial
    assert configsync.write_copy(json.dumps({"serial_no": 1}), path, force=True)
    assert configsync.file_serial(path) == 1
