"""Exclusive storage (one LV per PV): the PV arithmetic of storage.lvm and the
master's rules for disks on such nodes (Ganeti 3.0's numbers and messages)."""

import types

import pytest

from ganeti import constants, errors, objects
from ganeti.cmdlib import instance_utils as iu
from ganeti.storage import lvm


def _pv(name, size, free):
    return {"name": name, "size": float(size), "free": float(free), "attr": "a--"}


def test_standard_disk_is_the_smallest_pv_less_three_percent():
    pvs = [_pv("/dev/vda1", 8188, 8188), _pv("/dev/vda2", 8180, 0)]
    assert lvm.std_pv_size(pvs) == 8180 // 1.03


def test_empty_pvs_allow_one_mib_of_slack_and_come_freest_first():
    pvs = [_pv("a", 100, 50), _pv("b", 100, 99), _pv("c", 100, 100)]
    assert [pv["name"] for pv in lvm.empty_pvs(pvs)] == ["c", "b"]


@pytest.mark.parametrize("small,big,bad", [(8188, 8188, False), (8000, 8160, False),
                                           (8188, 16383, True), (100, 103, True)])
def test_pv_sizes_may_differ_by_the_margin(small, big, bad):
    assert lvm.pv_sizes_too_different(small, big) is bad


def test_node_pv_checks():
    pvs = [_pv("/dev/vda1", 8188, 8188), _pv("/dev/sdb:1", 16383, 16383)]
    errs, minmax = lvm.check_node_pvs(pvs, "xenvg", False)
    assert errs == ["Invalid character ':' in PV '/dev/sdb:1' of VG 'xenvg'"]
    assert minmax is None
    errs, minmax = lvm.check_node_pvs(pvs, "xenvg", True)
    assert errs[1:] == ["Sizes of PVs are too different: min=8188 max=16383"]
    assert minmax == (8188.0, 16383.0)
    assert lvm.check_node_pvs([], "xenvg", True) == ([], None)


def test_new_lv_takes_as_many_empty_pvs_as_spindles(monkeypatch):
    pvs = [_pv("/dev/vda1", 8188, 8188), _pv("/dev/vda2", 8188, 0),
           _pv("/dev/vda3", 8188, 8188)]
    monkeypatch.setattr(lvm, "pv_info", lambda vg: pvs)
    assert sorted(lvm._exclusive_pvs("xenvg", 1024, 2)) == ["/dev/vda1", "/dev/vda3"]
    with pytest.raises(errors.BlockDeviceError, match=r"Unspecified number of spindles"):
        lvm._exclusive_pvs("xenvg", 1024, None)
    with pytest.raises(errors.BlockDeviceError,
                       match=r"Requested number of spindles \(1\) is not enough for a disk"
                             r" of 10240 MB \(at least 2 spindles needed\)"):
        lvm._exclusive_pvs("xenvg", 10240, 1)
    with pytest.raises(errors.BlockDeviceError,
                       match=r"Not enough empty PVs \(spindles\) to create a disk of 1024"
                             r" MB: 2 available, 3 needed"):
        lvm._exclusive_pvs("xenvg", 1024, 3)


class _Cfg:
    """Nodes node1 (exclusive storage in its own ndparams) and node2 (not)."""

    def __init__(self, cluster_es=False):
        self.cluster = objects.Cluster(ndparams={"exclusive_storage": cluster_es})
        self.nodes = {
            "node1": types.SimpleNamespace(ndparams={"exclusive_storage": True}, group="g"),
            "node2": types.SimpleNamespace(ndparams={}, group="g")}

    def get_node_info(self, name):
        return self.nodes.get(name)

    def get_all_node_groups_info(self):
        return {"g": types.SimpleNamespace(ndparams={})}

    def get_cluster_info(self):
        return self.cluster


def test_the_flag_comes_from_node_then_group_then_cluster():
    cfg = _Cfg()
    assert iu.exclusive_storage(cfg, "node1") is True
    assert iu.exclusive_storage(cfg, "node2") is False
    assert iu.exclusive_storage(_Cfg(cluster_es=True), "node2") is True
    assert iu.exclusive_storage(cfg, "unknown") is False


def test_disks_on_exclusive_storage_nodes():
    cfg = _Cfg()
    assert iu.check_exclusive_storage(cfg, ["node1"], constants.DT_PLAIN,
                                      [{"size": 1024, "spindles": 1}]) is True
    with pytest.raises(errors.OpPrereqError, match="You must specify spindles in instance"
                       " disks when exclusive storage is active"):
        iu.check_exclusive_storage(cfg, ["node1"], constants.DT_PLAIN, [{"size": 1024}])
    with pytest.raises(errors.OpPrereqError, match="Disk template drbd not supported with"
                       " exclusive storage"):
        iu.check_exclusive_storage(cfg, ["node2", "node1"], constants.DT_DRBD8,
                                   [{"size": 1024, "spindles": 1}])
    with pytest.raises(errors.OpPrereqError, match="Spindles in instance disks cannot be"
                       " specified when exclusive storage is not active"):
        iu.check_exclusive_storage(cfg, ["node2"], constants.DT_PLAIN,
                                   [{"size": 1024, "spindles": 1}])
    # recreate-disks: spindles optional, any template
    assert iu.check_exclusive_storage(cfg, ["node1"], None, [{}], required=False)


def test_spindles_are_positive_integers():
    assert iu.check_disk_specs([{"size": "1G", "spindles": "2"}],
                               constants.DT_PLAIN)[0]["spindles"] == 2
    for bad in ("0", "-1", "x", "1.5"):
        with pytest.raises(errors.OpPrereqError, match="Invalid spindles"):
            iu.check_disk_specs([{"size": "1G", "spindles": bad}], constants.DT_PLAIN)
    with pytest.raises(errors.OpPrereqError, match="do not apply to disk template file"):
        iu.check_disk_specs([{"size": "1G", "spindles": "1"}], constants.DT_FILE)
