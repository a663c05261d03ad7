"""QA-tier fixtures: three QEMU (TCG) VM nodes with real LVM and DRBD (vmbed.py),
and one cluster on them that the test modules share.

The nodes boot once per test session (about 15 s) and are stopped at its end;
GANETI_QA_KEEP=1 leaves them running (``test/qa/vmbed.py down`` stops them) and
a later session reuses running ones.

Making the cluster (init and two node adds on TCG nodes) takes a minute and a
half, so it is made once and handed from module to module. A module leaves it
as it found it: no instance, every node online, the cluster parameters it
changed set back. It is made anew before a module when that is not so: after a
failed test (its leftovers are unknown), after a test that called
``cluster_spoiled()`` (a node's VM killed), or when a quick look finds a node
down or an instance left.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import vmbed  # noqa: E402

NODES = 3
CLUSTER = "cluster.example.com"
MASTER = 1


class _State:
    spoiled = True          # no cluster made yet in this session


def cluster_spoiled():
    """Say that the running test leaves the cluster unusable for the next module."""
    _State.spoiled = True


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the VM test bed needs root (netns, taps)")
        for item in items:
            item.add_marker(skip)


def pytest_runtest_logreport(report):
    if report.failed:
        _State.spoiled = True


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


def _usable(vms):
    """Whether the cluster is as a module expects to find it: every node's VM and
    daemon up (live memory figures), online and with the instances' bridge, no
    instance."""
    if not all(vms.node_running(k) for k in range(1, NODES + 1)):
        return False
    nodes = vms.ssh(MASTER, "gnt-node list --no-headers --separator=' '"
                    " -o name,offline,mfree", check=False)
    instances = vms.ssh(MASTER, "gnt-instance list --no-headers -o name", check=False)
    rows = [line.split() for line in nodes.stdout.splitlines()]
    bridges = [vms.ssh(k, "ip link show br-inst", check=False).returncode
               for k in range(1, NODES + 1)]
    return (nodes.returncode == 0 and bridges == [0] * NODES and instances.returncode == 0
            and instances.stdout.strip() == "" and len(rows) == NODES
            and all(r[1] == "N" and r[2].isdigit() for r in rows))


BRIDGE_UP = ("{ ip link show br-inst >/dev/null 2>&1 || ip link add br-inst type bridge; }"
             " && ip link set br-inst up")


def node_rebooted(vms, k):
    """After node K's VM booted again: what its boot would do on a real node, the
    instances' bridge (the admin's network configuration) and the daemons (the
    init script)."""
    vms.ssh(k, BRIDGE_UP + " && python3 /src/daemons/daemon-util.in start-all")


def _make_cluster(vms):
    """The cluster as the install tutorial makes it: the VG xenvg and the
    instances' bridge prepared by the admin, init with a secondary network, two
    nodes added with -s."""
    for k in range(1, NODES + 1):
        if not vms.node_running(k):         # a module before killed it
            vms.reboot_vm(k)
        vms.reset_node(k)
        vms.ssh(k, "pvcreate -q -y /dev/vda && vgcreate -q xenvg /dev/vda && " + BRIDGE_UP)
    vms.ssh(MASTER, "gnt-cluster init -s %s --master-netdev=eth0 --no-etc-hosts"
            " --enabled-hypervisors=fake --enabled-disk-templates=drbd,plain,file,diskless"
            " --nic-parameters=link=br-inst %s" % (vms.node_sip(1), CLUSTER))
    for k in range(2, NODES + 1):
        vms.ssh(MASTER, "gnt-node add -s %s %s" % (vms.node_sip(k), vms.node_name(k)))


@pytest.fixture(scope="module")
def cluster(vms):
    """The shared cluster, made (anew) when the last module did not leave it
    usable."""
    if _State.spoiled or not _usable(vms):
        _make_cluster(vms)
        _State.spoiled = False
    yield vms
