"""backend/instance.py: start/stop/reboot/state procedures, end to end with the
fake hypervisor in temporary directories."""

import json
import os

import pytest

from ganeti import constants, errors, objects, pathutils, storage
from ganeti.backend import instance as binst
from ganeti.backend.common import RpcFail
from ganeti.hypervisor import hv_base, hv_fake


class _Device:
    def __init__(self, dev_path):
        self.dev_path = dev_path


@pytest.fixture
def node(tmp_path, monkeypatch):
    """A node: RUN_DIR in tmp, disks 'active' when their path is in node.active."""
    run_dir = tmp_path / "run"
    monkeypatch.setattr(pathutils, "RUN_DIR", str(run_dir))
    monkeypatch.setattr(pathutils, "DISK_LINKS_DIR", str(run_dir / "instance-disks"))

    class Node:
        active = set()
        state_dir = str(run_dir / "fake-hypervisor")
        links_dir = str(run_dir / "instance-disks")

    def find_device(disk):
        path = disk.logical_id[1]
        return _Device(path) if path in Node.active else None

    monkeypatch.setattr(storage, "find_device", find_device)
    return Node


def _inst(name="inst1.example.com", ndisks=2, maxmem=256):
    disks = [objects.Disk(dev_type=constants.DT_FILE, size=1024, iv_name="disk/%d" % i,
                          logical_id=["loop", "/srv/ganeti/file-storage/%s/disk%d"
                                      % (name, i)]) for i in range(ndisks)]
    inst = objects.Instance(name=name, primary_node="node1.example.com", os="noop",
                            hypervisor=constants.HT_FAKE,
                            hvparams=hv_base.defaults_for(constants.HT_FAKE),
                            beparams={"maxmem": maxmem, "minmem": maxmem, "vcpus": 1},
                            disks=disks)
    return inst.to_dict()


def _activate(node, inst):
    for disk in inst["disks"]:
        node.active.add(disk["logical_id"][1])


HVS = [constants.HT_FAKE]
HVP = {constants.HT_FAKE: {}}


def test_procedures_are_listed():
    assert set(binst.PROCEDURES) == {
        "instance_start", "instance_shutdown", "instance_reboot", "instance_info",
        "all_instances_info", "instance_list", "hv_node_info", "bridges_exist",
        "instance_balloon_memory"}


def test_balloon_memory(node):
    inst = _inst()
    for disk in inst["disks"]:
        node.active.add(disk["logical_id"][1])
    with pytest.raises(RpcFail, match="not running"):
        binst.instance_balloon_memory(inst, 128)
    binst.instance_start(inst, False, "user")
    binst.instance_balloon_memory(inst, 192)
    assert binst.instance_info("inst1.example.com", constants.HT_FAKE, {})["memory"] == 192
    with pytest.raises(RpcFail):
        binst.instance_balloon_memory(inst, "lots")
    binst.instance_shutdown(inst, 10, "user")


def test_start_info_list_shutdown(node):
    inst = _inst()
    _activate(node, inst)
    assert binst.instance_info(inst["name"], constants.HT_FAKE, {}) == {}
    assert binst.instance_start(inst, False, "user") is None
    assert os.path.isfile(os.path.join(node.state_dir, "inst1.example.com"))
    # links <instance>:<idx> point at the devices
    for idx, disk in enumerate(inst["disks"]):
        link = os.path.join(node.links_dir, "inst1.example.com:%d" % idx)
        assert os.readlink(link) == disk["logical_id"][1]
    info = binst.instance_info("inst1.example.com", constants.HT_FAKE, {})
    assert info["memory"] == 256 and info["vcpus"] == 1
    assert info["state"] == "running" and info["hypervisor"] == constants.HT_FAKE
    # starting again is a no-op, not an error
    binst.instance_start(inst, False, "user")
    assert binst.instance_list(HVS, HVP) == ["inst1.example.com"]
    binst.instance_shutdown(inst, 10, "user")
    assert binst.instance_info("inst1.example.com", constants.HT_FAKE, {}) == {}
    assert binst.instance_list(HVS, HVP) == []
    assert os.listdir(node.links_dir) == []
    # stopping a stopped instance is fine
    binst.instance_shutdown(inst, 10, "user")


def test_start_needs_active_disks(node):
    inst = _inst()
    node.active.add(inst["disks"][0]["logical_id"][1])
    with pytest.raises(RpcFail, match="disk 1 is not active"):
        binst.instance_start(inst, False, "user")
    assert binst.instance_list(HVS, HVP) == []


def test_start_paused_and_diskless(node):
    inst = _inst(ndisks=0)
    binst.instance_start(inst, True, None)
    assert binst.instance_info(inst["name"], constants.HT_FAKE, {})["state"] == "paused"


def test_hypervisor_errors_reach_the_master(node, monkeypatch):
    inst = _inst(ndisks=1)
    _activate(node, inst)

    def broken(self, instance, block_devices, startup_paused):
        raise errors.HypervisorError("no memory for the guest")

    monkeypatch.setattr(hv_fake.FakeHypervisor, "start_instance", broken)
    with pytest.raises(RpcFail, match="no memory for the guest"):
        binst.instance_start(inst, False, None)
    assert os.listdir(node.links_dir) == []
    bad = dict(inst, hypervisor="vmware")
    with pytest.raises(RpcFail, match="Unknown or unsupported hypervisor"):
        binst.instance_start(bad, False, None)
    with pytest.raises(RpcFail, match="Invalid instance name"):
        binst.instance_start(dict(inst, name="../x"), False, None)


def test_shutdown_forces_an_instance_that_ignores_the_request(node, monkeypatch):
    inst = _inst(ndisks=0)
    binst.instance_start(inst, False, None)
    real_stop = hv_fake.FakeHypervisor.stop_instance
    calls = []

    def stubborn(self, instance, force=False, timeout=None, name=None):
        calls.append(force)
        if force:
            real_stop(self, instance, force, timeout, name)

    monkeypatch.setattr(hv_fake.FakeHypervisor, "stop_instance", stubborn)
    binst.instance_shutdown(inst, 0.2, None)
    assert calls == [False, True]
    assert binst.instance_list(HVS, HVP) == []
    # timeout 0: straight to the forced stop
    calls.clear()
    binst.instance_start(inst, False, None)
    binst.instance_shutdown(inst, 0, None)
    assert calls == [True]


def test_shutdown_fails_when_the_instance_will_not_die(node, monkeypatch):
    inst = _inst(ndisks=0)
    binst.instance_start(inst, False, None)
    monkeypatch.setattr(hv_fake.FakeHypervisor, "stop_instance",
                        lambda self, *a, **kw: None)
    monkeypatch.setattr(binst, "FORCE_STOP_WAIT", 0.1)
    with pytest.raises(RpcFail, match="Could not stop instance"):
        binst.instance_shutdown(inst, 0.1, None)


def test_reboot(node):
    inst = _inst()
    _activate(node, inst)
    with pytest.raises(RpcFail, match="not running"):
        binst.instance_reboot(inst, "soft", 10, None)
    binst.instance_start(inst, True, None)
    binst.instance_reboot(inst, "soft", 10, None)
    assert binst.instance_info(inst["name"], constants.HT_FAKE, {})["state"] == "running"
    path = os.path.join(node.state_dir, inst["name"])

    def started():
        with open(path) as fd:
            return json.load(fd)["start_time"]
    before = started()
    binst.instance_reboot(inst, "hard", 10, None)
    # stopped and started again (an inode number may be reused, a start time not)
    assert started() > before
    assert binst.instance_list(HVS, HVP) == [inst["name"]]
    assert len(os.listdir(node.links_dir)) == 2
    with pytest.raises(RpcFail, match="done by the master"):
        binst.instance_reboot(inst, "full", 10, None)
    with pytest.raises(RpcFail, match="Invalid reboot type"):
        binst.instance_reboot(inst, "sideways", 10, None)


def test_all_instances_info_and_list(node):
    for i, name in enumerate(["c.example.com", "a.example.com", "b.example.com"]):
        binst.instance_start(_inst(name, ndisks=0, maxmem=128 * (i + 1)), False, None)
    info = binst.all_instances_info(HVS, HVP)
    assert sorted(info) == ["a.example.com", "b.example.com", "c.example.com"]
    assert info["b.example.com"]["memory"] == 384
    assert set(info["a.example.com"]) == {"name", "id", "memory", "vcpus", "state",
                                          "time", "hypervisor"}
    assert binst.instance_list(HVS, HVP) == ["a.example.com", "b.example.com",
                                             "c.example.com"]
    assert binst.instance_list([], {}) == []
    with pytest.raises(RpcFail, match="Unknown or unsupported"):
        binst.instance_list(["nope"], {})


def test_hv_node_info(node, tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 8192000 kB\nMemAvailable: 4096000 kB\n")
    real_init = hv_fake.FakeHypervisor.__init__
    monkeypatch.setattr(hv_fake.FakeHypervisor, "__init__",
                        lambda self: real_init(self, meminfo_file=str(meminfo)))
    binst.instance_start(_inst(ndisks=0, maxmem=1000), False, None)
    info = binst.hv_node_info(constants.HT_FAKE, {})
    assert (info["memory_total"], info["memory_free"], info["memory_dom0"]) == \
        (8000, 3000, 4000)
    assert info["cpu_total"] >= 1


def test_bridges_exist(tmp_path):
    net = tmp_path / "net"
    (net / "xen-br0" / "bridge").mkdir(parents=True)
    (net / "eth0").mkdir()
    assert binst.bridges_exist(["xen-br0"], sys_net_dir=str(net)) == []
    assert binst.bridges_exist(["xen-br0", "eth0", "br9", "br9", "../net", ""],
                               sys_net_dir=str(net)) == ["eth0", "br9", "../net", ""]
    assert binst.bridges_exist([], sys_net_dir=str(net)) == []
