"""gnt-instance batch-create on a two-node virtual cluster: instances created
from a JSON file with their nodes given or placed by hail in one multi-allocate
run, and bad files (refused before anything is submitted, or by the checking
job) changing nothing."""

import json
import os
import re
import time

import pytest

import vcluster

HAIL = "/usr/lib/ganeti/iallocators/hail"
NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
STAMP = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ")


# what every spec here has: a diskless instance without NICs, OS noop
BASE_SPEC = {"mode": "create", "disk_template": "diskless", "disks": [], "nics": [],
             "os_type": "noop", "name_check": False, "ip_check": False}


@pytest.fixture(scope="module")
def vc2():
    with vcluster.started(2) as vc:
        yield vc


def _spec(name, **extra):
    return dict(BASE_SPEC, instance_name=name, **extra)


def _batch(vc, tmp_path, content, *options):
    path = tmp_path / "instances.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return vc.master.run("gnt-instance", "batch-create", *options, str(path), timeout=300)


def _instances(m):
    out = m.run("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                "name,pnode,status", check=True).stdout
    return dict((row.split("|")[0], row.split("|")[1:]) for row in out.splitlines())


def _jobs(m):
    return m.run("gnt-job", "list", "--no-headers", "-o", "id", check=True).stdout.split()


def _remove_all(m):
    for name in _instances(m):
        m.run("gnt-instance", "remove", "-f", name, check=True)


def test_instances_with_their_nodes(vc2, tmp_path):
    m, n2 = vc2.nodes
    try:
        out = _batch(vc2, tmp_path, [_spec("inst1", pnode=m.name),
                                     _spec("inst2", pnode=n2.name.split(".")[0],
                                           beparams={"maxmem": 256})])
        assert out.returncode == 0, out.stdout + out.stderr
        lines = [STAMP.sub("", line) for line in out.stdout.splitlines()]
        jobs = [line for line in lines if line.startswith("Submitted jobs ")]
        assert len(jobs) == 1 and re.match(r"^Submitted jobs \d+, \d+$", jobs[0]), lines
        assert len([1 for line in lines if line.startswith("Waiting for job ")]) == 2
        assert lines[-1] == "All instances created successfully."
        assert _instances(m) == {"inst1": [m.name, "running"],
                                 "inst2": [n2.name, "running"]}
        # again: the names exist; the creation jobs fail, nothing else changes
        again = _batch(vc2, tmp_path, [_spec("inst1", pnode=m.name)])
        assert again.returncode == 1
        assert again.stdout.splitlines()[-1] == "There were 1 errors during the creation."
        assert "Instance 'inst1' is already in the cluster" in again.stderr
        assert sorted(_instances(m)) == ["inst1", "inst2"]
    finally:
        _remove_all(m)


@pytest.mark.skipif(not os.access(HAIL, os.X_OK),
                    reason="Debian's ganeti-htools (hail) is not installed")
def test_instances_placed_by_the_allocator(vc2, tmp_path):
    m, n2 = vc2.nodes
    try:
        specs = [_spec("inst%d" % k, disk_template="file", disks=[{"size": 64}])
                 for k in (3, 4, 5)]
        out = _batch(vc2, tmp_path, specs)
        assert out.returncode == 0, out.stdout + out.stderr
        lines = [STAMP.sub("", line) for line in out.stdout.splitlines()]
        chosen = [line for line in lines if line.startswith(
            " - INFO: Selected nodes for instance ")]
        assert len(chosen) == 3 and all("via iallocator hail: " in c for c in chosen)
        placed = _instances(m)
        assert sorted(placed) == ["inst3", "inst4", "inst5"]
        assert set(pnode for pnode, _ in placed.values()) == {m.name, n2.name}
        assert lines[-1] == "All instances created successfully."
    finally:
        _remove_all(m)


def test_bad_files_change_nothing(vc2, tmp_path):
    m, n2 = vc2.nodes
    jobs = _jobs(m)
    prereq = ("Failure: prerequisites not met for this operation:\n"
              "error type: wrong_input, error details:\n")
    for content, message in [
            ("[{", "Can't parse the instance definition file: "),
            ({"inst6": _spec("inst6")}, "The instance definition file is not List of"
                                        " Dictionary\n"),
            ([_spec("inst6", pnode=m.name), _spec("inst7", colour="red")],
             prereq + "Unknown fields in definition 1: colour\n"),
            ([dict((k, v) for k, v in _spec("inst6").items() if k != "disk_template")],
             prereq + "Parameter 'OP_INSTANCE_CREATE.disk_template' fails validation\n"),
            ([_spec("inst6", start="yes")],
             prereq + "Parameter 'OP_INSTANCE_CREATE.start' fails validation"),
    ]:
        out = _batch(vc2, tmp_path, content)
        assert out.returncode == 1, content
        assert out.stderr.startswith(message), (content, out.stderr)
        assert out.stdout == ""
    # refused client-side: no job at all
    assert _jobs(m) == jobs
    # refused by the checking job: it fails, no creation job follows
    for content, message in [
            ([_spec("inst6", pnode=m.name), _spec("inst7")],
             "There are instance objects providing pnode/snode while others do not"),
            ([_spec("inst6", pnode=m.name), _spec("inst6", pnode=n2.name)],
             "There are duplicate instance names: inst6"),
            ([_spec("inst6", pnode=m.name), _spec("inst7", pnode=m.name, os_type=None)],
             "No guest OS or OS image specified"),
            ([_spec("inst6", pnode="nosuchnode")], "Node 'nosuchnode' not known"),
            ([_spec("inst6", pnode=m.name, iallocator="hail")],
             "iallocator are not allowed to be set on instance objects")]:
        out = _batch(vc2, tmp_path, content)
        assert out.returncode == 1 and message in out.stderr, (content, out.stderr)
        assert "Submitted jobs" not in out.stdout
    assert _instances(m) == {}
    assert len(_jobs(m)) == len(jobs) + 5


def test_submit_and_dry_run(vc2, tmp_path):
    m = vc2.master
    try:
        out = _batch(vc2, tmp_path, [_spec("inst8", pnode=m.name)], "--dry-run")
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[-1] == "All instances created successfully."
        assert _instances(m) == {}
        out = _batch(vc2, tmp_path, [_spec("inst8", pnode=m.name)], "--submit",
                     "--print-jobid")
        assert out.returncode == 0, out.stderr
        job_id = out.stdout.strip()
        assert out.stderr == "JobID: %s\n" % job_id
        deadline = time.time() + 60
        while "inst8" not in _instances(m) and time.time() < deadline:
            time.sleep(0.5)
        assert _instances(m)["inst8"][0] == m.name
    finally:
        _remove_all(m)
