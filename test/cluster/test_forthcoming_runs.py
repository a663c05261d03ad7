"""Forthcoming instances (gnt-instance add --forthcoming / --commit) on a
one-node cluster with real daemons: a reservation creates nothing on the node
and runs no OS script but takes its name, its pool address and counts with the
node; it is listed, shown and refused by startup; --commit creates it (disk
file, OS create script) and starts it with what was reserved; remove of a
reservation touches nothing on the node; a --commit of a real instance and a
failed --commit change nothing.
"""

import json
import os

import pytest

from golden_samples import STAMP
from osfixture import RecordingOS
import vcluster

FILE_DIR = "/srv/ganeti/file-storage"
PREREQ = "Failure: prerequisites not met for this operation:\n"
# the test OS: its create script fails while a file fail-<instance> is in its
# directory, and otherwise records that it ran
_CREATE = """#!/bin/sh
if [ -e "fail-$INSTANCE_NAME" ]; then
  echo "told to fail" >&2
  exit 1
fi
touch "started-$INSTANCE_NAME"
exit 0
"""


@pytest.fixture(scope="module")
def osdef():
    osdef = RecordingOS()
    try:
        with open(os.path.join(osdef.path, "create"), "w") as fd:
            fd.write(_CREATE)
        yield osdef
    finally:
        osdef.remove()


@pytest.fixture(scope="module")
def vc():
    with vcluster.started(1) as cluster:
        m = cluster.master
        m.run("gnt-network", "add", "--network=10.1.0.0/29", "--gateway=10.1.0.1",
              "pool1", check=True)
        m.run("gnt-network", "connect", "-N", "mode=routed,link=100", "pool1",
              check=True)
        yield cluster


def _add(vc, osdef, name, *flags):
    return vc.master.run("gnt-instance", "add", "-t", "file", "-s", "512M", "-o",
                         osdef.name, "--no-name-check", "--no-ip-check", "-n",
                         vc.master.name, "--net", "0:network=pool1,ip=pool", *flags, name)


def _config(vc):
    with open(vc.master.path("/var/lib/ganeti/config.data")) as fd:
        return json.load(fd)


def _instance(vc, name):
    return _config(vc)["instances"].get(name)


def _list(vc, name, fields):
    return vc.master.run("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                         fields, name, check=True).stdout.strip()


def _pool_map(vc):
    return vc.master.run("gnt-network", "list", "--no-headers", "-o", "map", "pool1",
                         check=True).stdout.strip()


def _dir(vc, name):
    return vc.master.path(os.path.join(FILE_DIR, name))


def test_reservation_creates_nothing_and_takes_its_resources(vc, osdef):
    m = vc.master
    proc = _add(vc, osdef, "fc1", "--forthcoming")
    assert proc.returncode == 0, proc.stderr
    assert STAMP.sub("", proc.stdout).splitlines()[-5:] == [
        "* disk 0, size 512M",
        "Instance is forthcoming, not creating disks",
        "adding instance fc1 to cluster config",
        "adding disks to cluster config",
        "Instance is forthcoming; not creating the actual instance"]
    assert not os.path.exists(_dir(vc, "fc1")) and not osdef.started("fc1")
    inst = _instance(vc, "fc1")
    assert inst["forthcoming"] is True and inst["disks"][0]["forthcoming"] is True
    # listed and shown, with what it holds
    assert _list(vc, "fc1", "name,forthcoming,status,be/maxmem,disk_usage,nic.ip/0") == \
        "fc1|Y|ADMIN_down|128|512|10.1.0.2"
    info = m.run("gnt-instance", "info", "fc1", check=True).stdout
    assert "Instance name: fc1\n" in info and "10.1.0.2" in info
    assert _pool_map(vc) == "XXX....X"
    assert m.run("gnt-node", "list", "--no-headers", "-o", "pinst_cnt,pinst_list",
                 check=True).stdout.split() == ["1", "fc1"]
    # the allocator's input counts it on its node
    data = json.loads(m.run("gnt-debug", "iallocator", "--dir", "in", "--mode",
                            "allocate", "-t", "file", "--disks", "512", "-o",
                            osdef.name, "new1", check=True).stdout)
    node = data["nodes"][m.name]
    assert node["i_pri_memory"] == 128 and node["i_pri_up_memory"] == 0
    assert data["instances"]["fc1"]["disk_space_total"] == 512
    # the name is taken; it cannot be started; verify does not miss its disk
    proc = _add(vc, osdef, "fc1", "--forthcoming")
    assert (proc.returncode, proc.stderr) == (1, PREREQ + "error type: already_exists,"
                                              " error details:\nInstance 'fc1' is"
                                              " already in the cluster\n")
    proc = m.run("gnt-instance", "startup", "fc1")
    assert (proc.returncode, proc.stderr) == (
        1, "Job %s for fc1 has failed: " % proc.stdout.split()[3]
        + PREREQ + "forthcoming instances not supported for this operation\n")
    proc = m.run("gnt-cluster", "verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _instance(vc, "fc1")["admin_state"] == "down"


def test_commit_creates_and_starts_what_was_reserved(vc, osdef):
    if _instance(vc, "fc1") is None:
        assert _add(vc, osdef, "fc1", "--forthcoming").returncode == 0
    reserved = _instance(vc, "fc1")
    proc = _add(vc, osdef, "fc1", "--commit")
    assert proc.returncode == 0, proc.stderr
    inst = _instance(vc, "fc1")
    assert inst["forthcoming"] is False and inst["disks"][0]["forthcoming"] is False
    assert inst["uuid"] == reserved["uuid"]
    assert inst["nics"][0]["mac"] == reserved["nics"][0]["mac"]
    disk = inst["disks"][0]["logical_id"][1]
    assert disk == reserved["disks"][0]["logical_id"][1]
    assert os.path.isfile(vc.master.path(disk)) and osdef.started("fc1")
    assert _list(vc, "fc1", "forthcoming,status,nic.ip/0") == "N|running|10.1.0.2"
    assert _pool_map(vc) == "XXX....X"
    # a commit of an instance that is not (or no longer) forthcoming
    before = _config(vc)["instances"]
    proc = _add(vc, osdef, "fc1", "--commit")
    assert (proc.returncode, proc.stderr) == (
        1, PREREQ + "error type: wrong_state, error details:\nInstance fc1 (with uuid"
        " %s) not forthcoming but --commit was passed.\n" % inst["uuid"])
    assert _config(vc)["instances"] == before


def test_remove_drops_the_configuration_only(vc, osdef):
    free = _pool_map(vc)
    assert _add(vc, osdef, "fc2", "--forthcoming").returncode == 0
    assert _pool_map(vc) != free
    # a file where the reservation's disk would go: a real remove would delete it
    path = vc.master.path(_instance(vc, "fc2")["disks"][0]["logical_id"][1])
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as fd:
        fd.write("not the instance's")
    proc = vc.master.run("gnt-instance", "remove", "-f", "fc2")
    assert proc.returncode == 0, proc.stderr
    assert _instance(vc, "fc2") is None and os.path.isfile(path)
    assert _pool_map(vc) == free
    os.unlink(path)
    os.rmdir(os.path.dirname(path))


def test_failed_commit_leaves_the_reservation(vc, osdef):
    assert _add(vc, osdef, "fc3", "--forthcoming").returncode == 0
    reserved = _instance(vc, "fc3")
    taken = _pool_map(vc)
    marker = os.path.join(osdef.path, "fail-fc3")
    open(marker, "w").close()
    try:
        proc = _add(vc, osdef, "fc3", "--commit")
    finally:
        os.unlink(marker)
    assert proc.returncode == 1
    assert "Could not add os for instance fc3" in proc.stderr, proc.stderr
    assert "Creation failed, instance fc3 stays forthcoming" in proc.stdout
    after = _instance(vc, "fc3")
    for data in (reserved, after):
        data.pop("serial_no"), data.pop("mtime")
    assert after == reserved
    assert not os.path.exists(_dir(vc, "fc3")) and _pool_map(vc) == taken
    # and it can be committed once the cause is gone
    proc = _add(vc, osdef, "fc3", "--commit", "--no-start")
    assert proc.returncode == 0, proc.stderr
    assert _list(vc, "fc3", "forthcoming,status") == "N|ADMIN_down"
