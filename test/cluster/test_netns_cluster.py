"""The multi-node test bed: 3 nodes in network namespaces, RPC over mutual TLS,
ssh between nodes, a node cut off the network, a killed node daemon."""

import json
import os
import shutil
import subprocess
import time

import pytest

import netns_cluster as nc


# Runs inside node1's namespace: version RPC to the named nodes, per-node result
# and the wall time of the whole call.
_RPC_SCRIPT = r"""
import json, sys, time
from ganeti import rpc
mapping = json.loads(sys.argv[1])
runner = rpc.RpcRunner(rpc.static_resolver(mapping), cert_file=sys.argv[2])
start = time.time()
res = runner.call_version(sys.argv[3:])
print(json.dumps({"elapsed": time.time() - start,
                  "results": dict((n, [r.failed, r.data, r.fail_msg])
                                  for n, r in res.items())}))
"""


@pytest.fixture(scope="module")
def netns():
    reason = nc.netns_supported()     # a missing package raises: an error, not a skip
    if reason:
        pytest.skip("netns cluster: %s" % reason)
    # a prefix of its own: a cluster made with tools/vcluster-netns may be up too
    # (separate namespaces, so the same addresses do not clash)
    vc = nc.NetnsCluster(3, prefix="gntt")
    print("\nnetns cluster: setup of 3 nodes (namespaces, bridge, sshd) %.2f s"
          % vc.setup_time)
    try:
        yield vc
    finally:
        pids = [p for n in vc.nodes
                for p in (n.sshd_pid(), n.pid("ganeti-noded"), n.pid("ganeti-masterd"))
                if p]
        prefix = vc.prefix
        print("\nnetns cluster: teardown %.2f s" % vc.cleanup())
        assert nc.list_namespaces(prefix) == []
        assert not any(nc._pid_alive(p) for p in pids)   # pylint: disable=protected-access
        assert not os.path.exists(vc.base)
        for node in vc.nodes:
            assert not os.path.exists(os.path.join(nc.NETNS_ETC, node.netns))


def _rpc(vc, names, timeout=60):
    mapping = dict((n.name, n.ip) for n in vc.nodes)
    cert = vc.master.path("/var/lib/ganeti/server.pem")
    proc = vc.master.run(nc.PYTHON, "-c", _RPC_SCRIPT, json.dumps(mapping), cert,
                         *names, check=True, timeout=timeout)
    return json.loads(proc.stdout)


def test_layout(netns):
    names = nc.list_namespaces(netns.prefix)
    assert sorted(names) == sorted([netns.br_netns] + [n.netns for n in netns.nodes])
    for node in netns.nodes:
        out = subprocess.run(["ip", "-n", node.netns, "-o", "-4", "addr", "show", "eth0"],
                             capture_output=True, text=True, check=True).stdout
        assert "%s/24" % node.ip in out
        # names resolve inside the namespace (its own /etc/hosts)
        out = node.run("getent", "hosts", nc.CLUSTER_NAME, check=True).stdout
        assert out.split()[0] == nc.CLUSTER_IP
        assert node.run("sysctl", "-n", "net.ipv4.ip_nonlocal_bind",
                        check=True).stdout.strip() == "1"
    # the host's own namespace has no trace of it
    host = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    assert nc.NET not in host
    with open("/etc/hosts") as fd:
        assert nc.DOMAIN not in fd.read()


def test_ssh_between_nodes(netns):
    for k_from, k_to in ((1, 2), (2, 3), (3, 1)):
        proc = netns.ssh(k_from, k_to, "echo $GANETI_HOSTNAME; ip -o -4 addr show eth0")
        assert proc.returncode == 0, proc.stderr
        target = netns.node(k_to)
        assert proc.stdout.splitlines()[0] == target.name
        assert target.ip + "/24" in proc.stdout


def test_cluster_rpc_cut_and_kill(netns):
    start = time.time()
    netns.init()
    print("\nnetns cluster: gnt-cluster init %.2f s" % (time.time() - start))
    master = netns.master
    assert master.pid("ganeti-noded")
    cert = master.path("/var/lib/ganeti/server.pem")
    for node in netns.nodes[1:]:
        os.makedirs(node.path("/var/lib/ganeti"), exist_ok=True)
        shutil.copy2(cert, node.path("/var/lib/ganeti/server.pem"))
        node.start_daemon("ganeti-noded")
        assert node.pid("ganeti-noded")

    names = [n.name for n in netns.nodes]
    res = _rpc(netns, names)
    for name in names:
        failed, data, msg = res["results"][name]
        assert not failed, (name, msg)
        assert isinstance(data, int)
    print("netns cluster: version RPC to 3 nodes %.2f s" % res["elapsed"])

    # noded listens on its node's address only
    out = subprocess.run(["ip", "netns", "exec", netns.node(2).netns, "ss", "-ltnH"],
                         capture_output=True, text=True).stdout
    if out:
        assert "%s:1811" % netns.node(2).ip in out

    # master: getmaster/info, master IP on node1's eth0
    assert master.run("gnt-cluster", "getmaster", check=True).stdout.strip() == master.name
    info = master.run("gnt-cluster", "info", check=True).stdout
    assert nc.CLUSTER_NAME in info
    out = subprocess.run(["ip", "-n", master.netns, "-o", "addr", "show", "dev", "eth0"],
                         capture_output=True, text=True, check=True).stdout
    assert nc.CLUSTER_IP + "/" in out

    # node3 cut off: its RPC fails in bounded time, node2 still answers
    netns.cut(3)
    assert netns.is_cut(3)
    res = _rpc(netns, names[1:])
    assert not res["results"][names[1]][0]
    assert res["results"][names[2]][0], res
    assert res["elapsed"] < 10, res
    print("netns cluster: RPC to a cut node failed after %.2f s (%s)"
          % (res["elapsed"], res["results"][names[2]][2]))
    netns.uncut(3)
    assert not netns.is_cut(3)
    res = _rpc(netns, names[1:])
    assert not res["results"][names[1]][0]
    assert not res["results"][names[2]][0], res

    # node2's daemon killed: an RPC failure, the others answer
    assert netns.node(2).kill_daemon("ganeti-noded")
    assert not netns.node(2).pid("ganeti-noded")
    res = _rpc(netns, names)
    assert res["results"][names[1]][0], res
    assert not res["results"][names[0]][0]
    assert not res["results"][names[2]][0]
    assert res["elapsed"] < 10, res


def test_cli_status(netns):
    tool = os.path.join(nc.SRC, "tools", "vcluster-netns")
    proc = subprocess.run([tool, "--prefix", netns.prefix, "status"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert netns.base in proc.stdout
    assert proc.stdout.count("link up") == 3
    proc = subprocess.run([tool, "--prefix", netns.prefix, "exec", "2", "sh", "-c", "echo $GANETI_HOSTNAME"],
                          capture_output=True, text=True)
    assert proc.stdout.strip() == netns.node(2).name
