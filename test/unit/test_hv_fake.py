"""hv_fake: instances as state files; start/stop/list/info and node memory."""

import json
import os
import time

import pytest

from ganeti import constants, errors, hypervisor, objects
from ganeti.hypervisor import hv_base, hv_fake


def _inst(name, maxmem=512, vcpus=2):
    return objects.Instance(name=name, primary_node="node1.example.com",
                            hypervisor=constants.HT_FAKE,
                            beparams={"maxmem": maxmem, "minmem": maxmem,
                                      "vcpus": vcpus})


@pytest.fixture
def hv(tmp_path):
    return hv_fake.FakeHypervisor(state_dir=str(tmp_path / "fake-hypervisor"))


def test_registered_under_its_name():
    assert hypervisor.get_hypervisor_class(constants.HT_FAKE) is hv_fake.FakeHypervisor


def test_start_list_info_stop(hv):
    assert hv.list_instances() == []
    hv.start_instance(_inst("a.example.com"), [], False)
    hv.start_instance(_inst("b.example.com", maxmem=1024, vcpus=1),
                      [({"dev_type": "file"}, "/srv/disk0", "/run/links/b:0")], False)
    assert sorted(hv.list_instances()) == ["a.example.com", "b.example.com"]
    info = hv.get_instance_info("b.example.com")
    assert (info.name, info.memory, info.vcpus, info.state) == \
        ("b.example.com", 1024, 1, hv_base.STATE_RUNNING)
    assert info.to_dict()["time"] >= 0
    # the state file is small JSON
    with open(os.path.join(hv.state_dir, "b.example.com")) as fd:
        data = json.load(fd)
    assert data["memory"] == 1024 and data["disks"] == ["/srv/disk0"]
    assert sorted(i.name for i in hv.get_all_instances_info()) == \
        ["a.example.com", "b.example.com"]
    hv.stop_instance(_inst("a.example.com"))
    assert hv.list_instances() == ["b.example.com"]
    assert hv.get_instance_info("a.example.com") is None


def test_start_twice_is_an_error_stop_twice_is_not(hv):
    inst = _inst("a.example.com")
    hv.start_instance(inst, [], False)
    with pytest.raises(errors.HypervisorError, match="already running"):
        hv.start_instance(inst, [], False)
    hv.stop_instance(inst)
    hv.stop_instance(inst)
    hv.stop_instance(None, force=True, name="never.example.com")
    assert hv.list_instances() == []


def test_paused_start_reboot_and_balloon(hv):
    inst = _inst("a.example.com")
    hv.start_instance(inst, [], True)
    assert hv.get_instance_info(inst.name).state == hv_base.STATE_PAUSED
    hv.reboot_instance(inst)
    assert hv.get_instance_info(inst.name).state == hv_base.STATE_RUNNING
    hv.balloon_instance_memory(inst, 256)
    assert hv.get_instance_info(inst.name).memory == 256
    hv.stop_instance(inst)
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv.reboot_instance(inst)


def test_names_that_are_not_file_names_are_refused(hv):
    for bad in ("../etc/passwd", "a/b", ".hidden", ""):
        with pytest.raises(errors.HypervisorError, match="Invalid instance name"):
            hv.start_instance(_inst(bad), [], False)
    assert not os.path.exists(hv.state_dir) or hv.list_instances() == []


def test_temp_files_of_atomic_writes_are_not_instances(hv):
    hv.start_instance(_inst("a.example.com"), [], False)
    open(os.path.join(hv.state_dir, ".a.example.com.xyz"), "w").close()
    assert hv.list_instances() == ["a.example.com"]
    assert [i.name for i in hv.get_all_instances_info()] == ["a.example.com"]


def test_default_state_dir_follows_run_dir(tmp_path, monkeypatch):
    from ganeti import pathutils
    monkeypatch.setattr(pathutils, "RUN_DIR", str(tmp_path))
    hv = hypervisor.get_hypervisor(constants.HT_FAKE)
    hv.start_instance(_inst("a.example.com"), [], False)
    assert os.path.isfile(str(tmp_path / "fake-hypervisor" / "a.example.com"))
    assert hv.verify() is None


def test_node_info_subtracts_the_fake_instances(hv, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16384000 kB\nMemFree:         1000000 kB\n"
                       "MemAvailable:   10240000 kB\nBuffers:          100 kB\n")
    hv.meminfo_file = str(meminfo)
    info = hv.get_node_info()
    assert info["memory_total"] == 16000
    assert info["memory_free"] == 10000
    assert info["memory_dom0"] == 6000
    assert info["cpu_total"] >= 1 and info["cpu_nodes"] == 1
    hv.start_instance(_inst("a.example.com", maxmem=1024), [], False)
    hv.start_instance(_inst("b.example.com", maxmem=2048), [], False)
    info = hv.get_node_info()
    assert info["memory_free"] == 10000 - 3072
    assert info["memory_dom0"] == 6000
    # never below zero, however much is "running"
    hv.start_instance(_inst("c.example.com", maxmem=50000), [], False)
    assert hv.get_node_info()["memory_free"] == 0


def test_node_info_from_the_real_proc_meminfo(hv):
    info = hv.get_node_info()
    assert info["memory_total"] > 0
    assert 0 <= info["memory_free"] <= info["memory_total"]


def test_console_and_parameters():
    console = hv_fake.FakeHypervisor.get_instance_console(
        _inst("a.example.com"), "node1.example.com", None, {}, {})
    assert console == {"instance": "a.example.com", "kind": "msg",
                       "message": "Console not available for fake hypervisor"}
    hv_fake.FakeHypervisor.check_parameter_syntax(
        hv_base.defaults_for(constants.HT_FAKE))
    with pytest.raises(errors.HypervisorError):
        hv_fake.FakeHypervisor.check_parameter_syntax({"kernel_path": "/boot/x"})


def test_ten_thousand_instances_list_fast(tmp_path):
    hv = hv_fake.FakeHypervisor(state_dir=str(tmp_path / "fake"), fsync=False)
    count = 10000
    start = time.monotonic()
    for i in range(count):
        hv.start_instance(_inst("inst%05d.example.com" % i, maxmem=128, vcpus=1),
                          [], False)
    created = time.monotonic() - start
    start = time.monotonic()
    names = hv.list_instances()
    listed = time.monotonic() - start
    start = time.monotonic()
    infos = hv.get_all_instances_info()
    all_info = time.monotonic() - start
    print("\nfake hypervisor, %d instances: start %.2fs, list %.3fs, all info %.2fs"
          % (count, created, listed, all_info))
    assert len(names) == count and len(infos) == count
    assert listed < 0.5
    assert all_info < 10
    assert sum(i.memory for i in infos) == 128 * count


def test_migration_moves_the_state_file(tmp_path):
    src = hv_fake.FakeHypervisor(state_dir=str(tmp_path / "src"), fsync=False)
    dst = hv_fake.FakeHypervisor(state_dir=str(tmp_path / "dst"), fsync=False)
    inst = objects.Instance(name="inst1.example.com", beparams={"maxmem": 64},
                            hvparams={}, nics=[], disks=[])
    src.start_instance(inst, [], False)
    info = src.migration_info(inst)
    dst.accept_instance(inst, info, "192.0.2.7", [])
    src.migrate_instance("cluster", inst, "192.0.2.7", True)
    assert src.get_migration_status(inst)["status"] == "completed"
    dst.finalize_migration_dst(inst, info, True)
    src.finalize_migration_src(inst, True, True)
    assert src.list_instances() == [] and dst.list_instances() == [inst.name]
    assert dst.get_instance_info(inst.name).memory == 64
    # the target refuses an instance it already runs; a failed one is dropped
    with pytest.raises(errors.HypervisorError, match="already running"):
        dst.accept_instance(inst, info, "192.0.2.7", [])
    dst.finalize_migration_dst(inst, info, False)
    assert dst.list_instances() == []
    with pytest.raises(errors.HypervisorError, match="not running"):
        src.migration_info(inst)
