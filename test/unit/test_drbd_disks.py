"""cmdlib.drbd_disks: what each node is told about a drbd disk, and the minors
the configuration gives a node (gnt-node list-drbd)."""

import types

from ganeti import constants, objects
from ganeti.client import gnt_node
from ganeti.cmdlib import drbd_disks

N1, N2, N3 = "node1.example.com", "node2.example.com", "node3.example.com"


def _drbd(pnode, snode, minors, port=11000):
    disk = objects.Disk(dev_type=constants.DT_DRBD8, size=1024, iv_name="disk/0",
                        nodes=[pnode, snode])
    disk.logical_id = [pnode, snode, port, minors[0], minors[1], "secret"]
    return disk


def _cfg():
    inst1 = objects.Instance(name="inst1.example.com", primary_node=N1,
                             disk_template=constants.DT_DRBD8,
                             disks=[_drbd(N1, N2, [0, 3])])
    # primary moved to node2 since: node_a stays node1, node1 is now secondary
    inst2 = objects.Instance(name="inst2.example.com", primary_node=N2,
                             disk_template=constants.DT_DRBD8,
                             disks=[_drbd(N1, N2, [1, 0]), _drbd(N1, N2, [2, 1], 11001)])
    plain = objects.Instance(name="inst3.example.com", primary_node=N1,
                             disk_template=constants.DT_PLAIN,
                             disks=[objects.Disk(dev_type=constants.DT_PLAIN, size=1,
                                                 logical_id=["xenvg", "x"])])
    insts = dict((i.name, i) for i in (inst1, inst2, plain))
    return types.SimpleNamespace(get_all_instances_info=lambda: insts)


def test_node_minors_as_confd_lists_them():
    cfg = _cfg()
    assert drbd_disks.node_minors(cfg, N1) == [
        [N1, 0, "inst1.example.com", "disk/0", "primary", N2],
        [N1, 1, "inst2.example.com", "disk/0", "secondary", N2],
        [N1, 2, "inst2.example.com", "disk/1", "secondary", N2]]
    assert drbd_disks.node_minors(cfg, N2) == [
        [N2, 0, "inst2.example.com", "disk/0", "primary", N1],
        [N2, 1, "inst2.example.com", "disk/1", "primary", N1],
        [N2, 3, "inst1.example.com", "disk/0", "secondary", N1]]
    assert drbd_disks.node_minors(cfg, N3) == []


def test_list_drbd_prints_ganetis_table(monkeypatch, capsys):
    client = types.SimpleNamespace(
        query_drbd_minors=lambda node: drbd_disks.node_minors(_cfg(), node))
    monkeypatch.setattr(gnt_node.cli, "get_client", lambda: client)
    opts = types.SimpleNamespace(no_headers=False, separator=None)
    assert gnt_node.list_drbd(opts, [N2]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Node              Minor Instance          Disk   Role      PeerNode",
        "node2.example.com     0 inst2.example.com disk/0 primary   node1.example.com",
        "node2.example.com     1 inst2.example.com disk/1 primary   node1.example.com",
        "node2.example.com     3 inst1.example.com disk/0 secondary node1.example.com"]
    opts = types.SimpleNamespace(no_headers=True, separator="|")
    gnt_node.list_drbd(opts, [N1])
    assert capsys.readouterr().out.splitlines()[0] == \
        "node1.example.com|0|inst1.example.com|disk/0|primary|node2.example.com"
