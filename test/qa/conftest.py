"""QA-tier fixtures: three QEMU (TCG) VM nodes with real LVM and DRBD (vmbed.py).

The nodes boot once per test session (about 15 s) and are stopped at its end;
GANETI_QA_KEEP=1 leaves them running (``test/qa/vmbed.py down`` stops them) and
a later session reuses running ones.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import vmbed  # noqa: E402

NODES = 3
CLUSTER = "cluster.example.com"
MASTER = 1


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the VM test bed needs root (netns, taps)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vms():
    """The booted VM nodes: an object with ssh(k, command) and the node names."""
    if vmbed.running_nodes() < NODES:
        took = vmbed.up(NODES)
        print("\nQA: %d VM nodes ssh-ready in %.1f s" % (NODES, took))
    try:
        yield vmbed
    finally:
        if os.environ.get("GANETI_QA_KEEP") != "1":
            vmbed.down()


@pytest.fixture(scope="module")
def cluster(vms):
    """A fresh cluster on the three nodes, as the install tutorial makes it: the VG
    xenvg and the instances' bridge prepared by the admin, init with a secondary
    network, two nodes added with -s. Wiped again after the test module."""
    for k in range(1, NODES + 1):
        if not vms.node_running(k):         # a module before killed it
            vms.reboot_vm(k)
        vms.reset_node(k)
        vms.ssh(k, "pvcreate -q -y /dev/vda && vgcreate -q xenvg /dev/vda"
                " && { ip link show br-inst >/dev/null 2>&1"
                " || ip link add br-inst type bridge; } && ip link set br-inst up")
    vms.ssh(MASTER, "gnt-cluster init -s %s --master-netdev=eth0 --no-etc-hosts"
            " --enabled-hypervisors=fake --enabled-disk-templates=drbd,plain,file,diskless"
            " --nic-parameters=link=br-inst %s" % (vms.node_sip(1), CLUSTER))
    for k in range(2, NODES + 1):
        vms.ssh(MASTER, "gnt-node add -s %s %s" % (vms.node_sip(k), vms.node_name(k)))
    yield vms
    for k in range(1, NODES + 1):
        if vms.node_running(k):
            vms.reset_node(k)
