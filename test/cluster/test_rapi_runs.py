"""ganeti-rapi on a two-node namespace cluster (nodes added over ssh), driven
by Ganeti's own client library: Debian's python3-ganeti-rapi
(``ganeti.rapi.client``), run by a plain /usr/bin/python3 without our tree on
its path, in the second node's namespace, over HTTPS pinned to the cluster's
rapi.pem. It lists, creates, stops, starts, reboots, modifies, migrates,
fails over, tags and removes an instance and waits for each job; Debian's
htools plan (hbal -m, hspace -m) from what the RAPI reports and carry the
plan out (hbal -L -X).
"""

import json
import os
import subprocess
import textwrap

import pytest

import ipolicy_testbed
import netns_cluster

CLIENT = "/usr/lib/python3/dist-packages/ganeti/rapi/client.py"
NOOP = "/usr/share/ganeti/os/noop"
pytestmark = [
    pytest.mark.skipif(not os.path.exists(CLIENT),
                       reason="Debian's python3-ganeti-rapi is not installed"),
    pytest.mark.skipif(not os.path.isdir(NOOP),
                       reason="Debian's ganeti-os-noop is not installed")]

SHARED_DIR = "/srv/ganeti/shared-file-storage"
HSPACE_MAX = {"cpu-count": 8, "disk-count": 16, "disk-size": 1048576,
              "memory-size": 32768, "nic-count": 8, "spindle-use": 12}
USERS = "admin adminpw write\nviewer {cleartext}viewpw read\n"

PRELUDE = """
import json, sys
from ganeti.rapi import client
args = json.loads(sys.argv[1])
cl = client.GanetiRapiClient(args["host"], username=args.get("user"),
                             password=args.get("password"),
                             curl_config_fn=client.GenericCurlConfig(cafile=args["cafile"]))
def wait(job):
    assert cl.WaitForJobCompletion(job), cl.GetJobStatus(job)
    return cl.GetJobStatus(job)
"""


@pytest.fixture(scope="module")
def vc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    vc = netns_cluster.NetnsCluster(2, prefix="gntr")
    try:
        vc.share(SHARED_DIR)
        vc.init("--enabled-disk-templates=sharedfile,file,diskless")
        vc.master.run("gnt-node", "add", vc.nodes[1].name, check=True)
        m = vc.master
        # small instances, but a real upper bound: hspace's tiered allocation
        # starts at the policy's maximum and shrinks from there
        ipolicy_testbed.set_ipolicy(m, {"minmax": [dict(ipolicy_testbed.WIDE_MINMAX[0],
                                                        max=HSPACE_MAX)]})
        m.write_rapi_users(USERS)
        yield vc
    finally:
        vc.cleanup()


def _outside(vc, argv, timeout=300):
    """Run ``argv`` in the second node's namespace with a plain environment
    (no PYTHONPATH, so none of our modules): a client of the cluster."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(vc.nodes[1].ns_argv(argv), env=env, capture_output=True,
                          text=True, timeout=timeout)


def debian_client(vc, code, user="admin", password="adminpw"):
    """Run ``code`` after PRELUDE in Debian's client environment; what it
    prints as JSON on its last line."""
    args = {"host": vc.master.ip, "cafile": vc.master.path("/var/lib/ganeti/rapi.pem"),
            "user": user, "password": password}
    proc = _outside(vc, ["/usr/bin/python3", "-c", PRELUDE + textwrap.dedent(code),
                         json.dumps(args)])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_client_library_is_debians_not_ours(vc):
    path = debian_client(vc, "print(json.dumps(client.__file__))")
    assert path == CLIENT


def test_reads(vc):
    m, n2 = vc.nodes
    out = debian_client(vc, """
        print(json.dumps({"version": cl.GetVersion(), "features": cl.GetFeatures(),
                          "info": cl.GetInfo(), "nodes": cl.GetNodes(),
                          "bulk": cl.GetNodes(bulk=True), "os": cl.GetOperatingSystems(),
                          "role": cl.GetNodeRole(args["node"]),
                          "groups": cl.GetGroups(bulk=True)}))
    """.replace('args["node"]', repr(n2.name)))
    assert out["version"] == 2
    assert "instance-create-reqv1" in out["features"]
    assert out["info"]["name"] == netns_cluster.CLUSTER_NAME
    assert out["info"]["master"] == m.name
    assert sorted(out["nodes"]) == sorted([m.name, n2.name])
    assert {n["name"]: n["role"] for n in out["bulk"]} == {m.name: "M", n2.name: "C"}
    assert out["bulk"][0]["mtotal"] > 0
    assert "noop" in out["os"]
    assert out["role"] == "master-candidate"
    assert [g["name"] for g in out["groups"]] == ["default"]
    assert sorted(out["groups"][0]["node_list"]) == sorted([m.name, n2.name])


def test_instance_life_cycle(vc):
    m, n2 = vc.nodes
    code = """
        name = "rapi1.example.com"
        steps = {}
        job = cl.CreateInstance("create", name, "diskless", [], [], os="noop",
                                pnode=%(m)r, name_check=False, ip_check=False,
                                beparams={"maxmem": 128, "minmem": 128})
        wait(job)
        steps["created"] = cl.GetInstance(name)
        assert name in cl.GetInstances()
        wait(cl.ShutdownInstance(name))
        steps["stopped"] = cl.GetInstance(name)["status"]
        wait(cl.StartupInstance(name))
        steps["started"] = cl.GetInstance(name)["status"]
        wait(cl.RebootInstance(name, reboot_type="soft"))
        wait(cl.ModifyInstance(name, beparams={"maxmem": 256, "minmem": 256}))
        steps["maxmem"] = cl.GetInstance(name)["beparams"]["maxmem"]
        wait(cl.AddInstanceTags(name, ["web", "env:test"]))
        steps["tags"] = sorted(cl.GetInstanceTags(name))
        wait(cl.MigrateInstance(name))
        steps["migrated"] = cl.GetInstance(name)["pnode"]
        wait(cl.FailoverInstance(name))
        steps["failed_over"] = cl.GetInstance(name)["pnode"]
        job = cl.DeleteInstance(name)
        steps["job"] = wait(job)["ops"][0]["OP_ID"]
        steps["left"] = cl.GetInstances()
        print(json.dumps(steps))
    """ % {"m": m.name}
    steps = debian_client(vc, code)
    created = steps["created"]
    assert created["status"] == "running" and created["pnode"] == m.name
    assert created["disk_template"] == "diskless" and created["admin_state"] == "up"
    assert created["beparams"]["memory"] == 128
    assert steps["stopped"] == "ADMIN_down"
    assert steps["started"] == "running"
    assert steps["maxmem"] == 256
    assert steps["tags"] == ["env:test", "web"]
    assert steps["migrated"] == n2.name
    assert steps["failed_over"] == m.name
    assert steps["job"] == "OP_INSTANCE_REMOVE"
    assert steps["left"] == []
    # what the jobs did is what the command line sees
    out = m.run("gnt-instance", "list", "--no-headers", "-o", "name", check=True).stdout
    assert out == ""


def test_writes_need_the_write_option(vc):
    code = """
        try:
            cl.ShutdownInstance("nosuch.example.com")
        except client.GanetiApiError as err:
            print(json.dumps([err.code, str(err)]))
    """
    code_, text = debian_client(vc, code, user="viewer", password="viewpw")
    assert code_ == 403
    code_, text = debian_client(vc, code, user="admin", password="wrong")
    assert code_ == 401
    # a read user may query
    rows = debian_client(vc, 'print(json.dumps(cl.Query("node", ["name"])["data"]))',
                         user="viewer", password="viewpw")
    assert sorted(r[0][1] for r in rows) == sorted(n.name for n in vc.nodes)


def test_bad_requests_get_clear_errors(vc):
    code = """
        out = []
        for call in (lambda: cl.GetInstance("nosuch.example.com"),
                     lambda: cl.ModifyInstance("x", no_such_param=1),
                     lambda: cl.SetNodeRole(%r, "master")):
            try:
                call()
            except client.GanetiApiError as err:
                out.append([err.code, str(err)])
        print(json.dumps(out))
    """ % vc.nodes[1].name
    out = debian_client(vc, code)
    assert out[0][0] == 404
    assert out[1][0] == 400 and "no_such_param" in out[1][1]
    assert out[2][0] == 400 and "master" in out[2][1]


def test_htools_read_the_cluster_through_rapi(vc):
    """hbal -m plans from what the RAPI reports, hbal -L -X carries the plan
    out through LUXI, hspace -m computes the capacity."""
    m, n2 = vc.nodes
    names = ["bal%d" % i for i in range(4)]
    for name in names:
        m.run("gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
              "--no-ip-check", "-t", "sharedfile", "-s", "64M", "--no-nics",
              "-B", "maxmem=512,minmem=512", name, check=True)
    try:
        plan = _outside(vc, ["hbal", "-m", m.ip], timeout=120)
        assert plan.returncode == 0, plan.stderr
        assert "Loaded 2 nodes, 4 instances" in plan.stdout
        moves = [line for line in plan.stdout.splitlines() if "=>" in line]
        assert len(moves) == 2, plan.stdout
        assert all(n2.name in line.split("=>")[1] for line in moves)
        done = m.run("hbal", "-L" + m.path("/var/run/ganeti/socket/ganeti-master"), "-X",
                     timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        rows = m.run("gnt-instance", "list", "--no-headers", "-o", "name,pnode,status",
                     check=True).stdout.split("\n")
        placed = sorted(r.split()[1] for r in rows if r)
        assert placed == sorted([m.name, m.name, n2.name, n2.name]), rows
        assert all(r.split()[2] == "running" for r in rows if r)
        space = _outside(vc, ["hspace", "-m", m.ip, "--standard-alloc=1024,512,1"],
                         timeout=120)
        assert space.returncode == 0, space.stderr
        assert "instances allocated" in space.stdout
    finally:
        for name in names:
            m.run("gnt-instance", "remove", "-f", name, check=True)


def test_rapi_moves_with_the_master_role(vc):
    m, n2 = vc.nodes
    assert m.pid("ganeti-rapi") and not n2.pid("ganeti-rapi")
    out = n2.run("gnt-cluster", "master-failover", check=True)
    try:
        assert n2.pid("ganeti-rapi") and not m.pid("ganeti-rapi"), out.stderr
    finally:
        m.run("gnt-cluster", "master-failover", check=True)
    assert m.pid("ganeti-rapi") and not n2.pid("ganeti-rapi")
