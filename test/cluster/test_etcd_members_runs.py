"""The cluster's etcd follows the master candidates (ganeti-etcd, etcd.membership),
checked against etcdctl's own view of the members, on the loopback cluster."""

import json
import os
import socket
import ssl
import subprocess
import time

import pytest

import vcluster

ETCDCTL = "/usr/bin/etcdctl"


@pytest.fixture(scope="module")
def cluster3():
    if not os.access(ETCDCTL, os.X_OK):
        pytest.fail("etcdctl missing: run tools/install-deps --test")
    vc = vcluster.VirtualCluster(3)
    try:
        vc.init()
        yield vc
    finally:
        vc.cleanup()


def _etcdctl(vc, *args, node=None):
    node = node or vc.master
    d = node.path("/var/lib/ganeti")
    ip = vcluster.node_ip(vc.nodes.index(node) + 1)
    return subprocess.run(
        [ETCDCTL, "--endpoints", "https://%s:2379" % ip, "--cacert", d + "/etcd-ca.pem",
         "--cert", d + "/etcd.pem", "--key", d + "/etcd.pem", "--command-timeout", "5s"]
        + list(args), capture_output=True, text=True, env={"ETCDCTL_API": "3"},
        timeout=30)


def _members(vc, node=None):
    """{name: "voter"|"learner"} as etcd itself lists them (asking ``node``'s
    member, the master's by default)."""
    proc = _etcdctl(vc, "member", "list", "-w", "json", node=node)
    assert proc.returncode == 0, proc.stderr
    return {m.get("name", ""): "learner" if m.get("isLearner") else "voter"
            for m in json.loads(proc.stdout)["members"]}


def _verify_errors(m):
    proc = m.run("gnt-cluster", "verify")
    return proc.returncode, [l.split("- ERROR: ", 1)[1] for l in proc.stdout.splitlines()
                             if "- ERROR: " in l]


def test_init_runs_a_one_member_etcd_with_tls(cluster3):
    vc = cluster3
    m = vc.master
    assert m.pid("ganeti-etcd")
    assert _members(vc) == {m.name: "voter"}
    # etcd listens on the node's own address, and refuses a client without a cert
    ctx = ssl.create_default_context(cafile=m.path("/var/lib/ganeti/etcd-ca.pem"))
    with socket.create_connection((vcluster.node_ip(1), 2379), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            with ctx.wrap_socket(sock, server_hostname=vcluster.node_ip(1)) as tls:
                tls.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                tls.recv(100)     # TLS 1.3: the refusal comes with the first read
    assert oct(os.stat(m.path("/var/lib/ganeti/etcd")).st_mode & 0o777) == "0o700"
    assert _verify_errors(m) == (0, [])


def test_members_follow_candidates(cluster3):
    vc = cluster3
    m, n2, n3 = vc.nodes
    vc.join(n2)
    m.run("gnt-node", "add", "--no-node-setup", n2.name, check=True)
    # two candidates: the master votes, the other one is a learner (no
    # quorum of two, so the cluster survives the loss of either)
    assert _members(vc) == {m.name: "voter", n2.name: "learner"}
    vc.join(n3)
    m.run("gnt-node", "add", "--no-node-setup", n3.name, check=True)
    assert _members(vc) == {m.name: "voter", n2.name: "voter", n3.name: "voter"}
    assert n3.pid("ganeti-etcd")
    assert _verify_errors(m) == (0, [])
    # demoted: its member goes, and two voters become one voter + one learner
    out = m.run("gnt-node", "modify", "-C", "no", n3.name, check=True).stdout
    assert "master_candidate -> False" in out and "etcd" not in out
    assert _members(vc) == {m.name: "voter", n2.name: "learner"}
    assert not n3.pid("ganeti-etcd")
    assert not os.path.exists(n3.path("/var/lib/ganeti/etcd"))
    assert not os.path.exists(n3.path("/var/lib/ganeti/etcd-member.json"))
    assert _verify_errors(m) == (0, [])
    m.run("gnt-node", "modify", "-C", "yes", n3.name, check=True)
    assert _members(vc) == {m.name: "voter", n2.name: "voter", n3.name: "voter"}


def test_verify_reports_dead_members_and_no_job_is_taken_without_quorum(cluster3):
    vc = cluster3
    m, n2, n3 = vc.nodes
    assert n3.kill_daemon("ganeti-etcd")
    code, errs = _verify_errors(m)
    assert code == 1 and len(errs) == 1, errs
    assert errs[0].startswith("cluster: etcd member on %s does not answer" % n3.name)
    assert n2.kill_daemon("ganeti-etcd")
    # without etcd's quorum no job can be stored, so none is accepted
    proc = m.run("gnt-cluster", "verify")
    assert proc.returncode == 1, proc.stdout
    assert "Could not store job" in proc.stderr and "quorum" in proc.stderr, proc.stderr
    # the watcher starts what this node should run, etcd included; the master
    # daemon takes its lease again once etcd has its quorum back
    for node in (n2, n3):
        node.run(os.path.join(vcluster.SRC, "daemons", "ganeti-watcher"), check=True)
        assert node.pid("ganeti-etcd")
    deadline = time.time() + 30
    while _verify_errors(m) != (0, []):
        assert time.time() < deadline, _verify_errors(m)
        time.sleep(1)


def test_removed_node_leaves_etcd(cluster3):
    vc = cluster3
    m, n2, n3 = vc.nodes
    m.run("gnt-node", "remove", n2.name, check=True)
    # n3 stays a candidate: one voter + one learner again
    assert _members(vc) == {m.name: "voter", n3.name: "learner"}
    deadline = time.time() + 10
    while n2.pid("ganeti-etcd"):
        assert time.time() < deadline, "etcd of a removed node still runs"
        time.sleep(0.1)
    assert not os.path.exists(n2.path("/var/lib/ganeti/etcd"))
    assert not os.path.exists(n2.path("/var/lib/ganeti/etcd.pem"))
    assert _verify_errors(m) == (0, [])


def test_destroy_stops_etcd_and_removes_its_data(cluster3):
    vc = cluster3
    m = vc.master
    m.run("gnt-node", "remove", vc.nodes[2].name, check=True)
    assert _members(vc) == {m.name: "voter"}
    m.run("gnt-cluster", "destroy", "--yes-do-it", check=True)
    assert not m.pid("ganeti-etcd")
    for rel in ("etcd", "etcd.pem", "etcd-ca.pem", "etcd-member.json"):
        assert not os.path.exists(m.path("/var/lib/ganeti/" + rel)), rel
