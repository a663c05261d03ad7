"""Instance allocators: Debian's hail (ganeti-htools) drives placement on a
two-node namespace cluster (the second node added over ssh) whose nodes share
their sharedfile directory.

hail reads the cluster as this project describes it (iallocator protocol 2)
and answers: the nodes of new instances (-I hail, and the cluster's default
allocator, which gnt-cluster init sets to hail when it is installed), a new
node for a sharedfile instance that migrates without -n, and the jobs that
evacuate a node's primary instances (gnt-node evacuate -p); gnt-debug
iallocator shows a request and hail's answer.
"""

import os
import re

import pytest

import netns_cluster

HAIL = "/usr/lib/ganeti/iallocators/hail"
NOOP = "/usr/share/ganeti/os/noop"
pytestmark = [
    pytest.mark.skipif(not os.access(HAIL, os.X_OK),
                       reason="Debian's ganeti-htools (hail) is not installed"),
    pytest.mark.skipif(not os.path.isdir(NOOP),
                       reason="Debian's ganeti-os-noop is not installed"),
]
SHARED_DIR = "/srv/ganeti/shared-file-storage"
STAMP = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ")


@pytest.fixture(scope="module")
def vc2():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    vc = netns_cluster.NetnsCluster(2, prefix="gnti")
    try:
        vc.share(SHARED_DIR)
        vc.init("--enabled-hypervisors=fake",
                "--enabled-disk-templates=sharedfile,file,diskless")
        vc.master.run("gnt-node", "add", vc.nodes[1].name, check=True)
        yield vc
    finally:
        vc.cleanup()


def _log(out):
    return [STAMP.sub("", line) for line in out.splitlines()]


def _pnode(m, name):
    return m.run("gnt-instance", "list", "--no-headers", "-o", "pnode", name,
                 check=True).stdout.strip()


def _add(m, name, *extra):
    return m.run("gnt-instance", "add", "-t", "sharedfile", "-s", "16M", "-o", "noop",
                 "--no-name-check", "--no-ip-check", "--no-nics", *extra, name)


def test_hail_places_moves_and_evacuates(vc2):
    m = vc2.master
    names = [n.name for n in vc2.nodes]
    info = m.run("gnt-cluster", "info", check=True).stdout
    assert "  default instance allocator: hail\n" in info
    try:
        out = _add(m, "inst1", "-I", "hail")
        assert out.returncode == 0, out.stderr
        chosen = _pnode(m, "inst1")
        assert chosen in names
        assert (" - INFO: Selected nodes for instance inst1 via iallocator hail: %s"
                % chosen) in _log(out.stdout)
        # no -n and no -I: the cluster's default allocator
        out = _add(m, "inst2")
        assert out.returncode == 0, out.stderr
        assert "via iallocator hail" in out.stdout
        # both nodes are used: hail balances
        assert {_pnode(m, "inst1"), _pnode(m, "inst2")} == set(names)

        # a migration without a target: hail chooses it
        before = _pnode(m, "inst2")
        out = m.run("gnt-instance", "migrate", "-f", "inst2")
        assert out.returncode == 0, out.stderr
        after = _pnode(m, "inst2")
        assert after != before
        assert (" - INFO: Selected nodes for instance inst2 via iallocator hail: %s"
                % after) in _log(out.stdout), out.stdout

        # evacuating a node's primary instances: hail's jobs move them
        node = _pnode(m, "inst1")
        other = [n for n in names if n != node][0]
        out = m.run("gnt-node", "evacuate", "-f", "-p", "-I", "hail", node)
        assert out.returncode == 0, out.stdout + out.stderr
        log = _log(out.stdout)
        assert any(line.startswith(" - INFO: Instances to be moved: ") and
                   "inst1 (to %s)" % other in line for line in log), log
        assert _pnode(m, "inst1") == other
        assert m.run("gnt-instance", "list", "--no-headers", "-o", "pnode",
                     check=True).stdout.split() == [other, other]
    finally:
        for name in ("inst1", "inst2"):
            m.run("gnt-instance", "remove", "-f", name)


def test_no_solution_changes_nothing(vc2):
    m = vc2.master
    out = _add(m, "inst3", "-I", "hail", "-B", "maxmem=1000000,minmem=1000000")
    assert out.returncode == 1
    assert out.stderr.startswith("Failure: prerequisites not met for this operation:\n"
                                 "error type: insufficient_resources, error details:\n"
                                 "Can't compute nodes using iallocator 'hail': "), \
        out.stderr
    assert m.run("gnt-instance", "list", "--no-headers", "-o", "name",
                 check=True).stdout == ""
    out = _add(m, "inst3", "-I", "nosuchallocator")
    assert out.returncode == 1
    assert "iallocator module 'nosuchallocator' not found in the search path" \
        in out.stderr
    out = _add(m, "inst3", "-I", "hail", "-n", vc2.master.name)
    assert out.returncode == 1 and "Do not specify both, iallocator and node" \
        in out.stderr
    out = m.run("gnt-cluster", "modify", "-I", "nosuchallocator")
    assert out.returncode == 1
    assert "Invalid default iallocator script 'nosuchallocator' specified" in out.stderr



def test_debug_iallocator_shows_the_request_and_hails_answer(vc2):
    """gnt-debug iallocator: the request as the allocator gets it (--dir in),
    and hail's answer to it (--dir out)."""
    import json
    m, n2 = vc2.nodes
    args = ["gnt-debug", "iallocator", "-m", "allocate", "--memory", "128",
            "--disks", "64", "-t", "sharedfile", "-o", "noop", "--nics", ""]
    name = "new.example.com"        # after the options (Ganeti's parser)
    out = m.run(*args, "--dir", "in", name, check=True).stdout
    request = json.loads(out)
    assert request["request"]["type"] == "allocate"
    assert request["request"]["name"] == "new.example.com"
    assert request["request"]["memory"] == 128
    assert sorted(request["nodes"]) == sorted([m.name, n2.name])
    out = m.run(*args, "--dir", "out", "-I", "hail", name, check=True).stdout
    answer = json.loads(out)
    assert answer["success"] is True, answer
    assert answer["result"][0] in (m.name, n2.name)
