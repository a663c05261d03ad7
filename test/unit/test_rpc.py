"""rpc: RpcRunner against in-process node servers and a real ganeti-noded."""

import os
import signal
import socket
import subprocess
import time

import pytest

from ganeti import constants, errors, rpc, rpcstats
from ganeti.http import server as hserver
from ganeti.server import noded
from ganeti.utils import process, x509

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NODED = os.path.join(TOP, "daemons", "ganeti-noded")


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("rpc") / "server.pem")
    x509.generate_cluster_cert_file(path)
    return path


def _free_port(ip="127.0.0.1"):
    sock = socket.socket()
    sock.bind((ip, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="module")
def cluster(cert):
    """Three node servers on 127.0.0.1/.2/.5 sharing one port; .3 is dead; .4 hangs."""
    first = hserver.RpcHttpServer("127.0.0.1", 0, cert, noded.handle_rpc)
    port = first.server_address[1]
    servers = [first] + [hserver.RpcHttpServer(ip, port, cert, noded.handle_rpc)
                         for ip in ("127.0.0.2", "127.0.0.5")]
    for srv in servers:
        srv.start()
    hang = socket.socket()
    hang.bind(("127.0.0.4", port))
    hang.listen(5)          # accepts TCP connections but never talks TLS
    ips = {"node1": "127.0.0.1", "node2": "127.0.0.2", "node5": "127.0.0.5",
           "dead": "127.0.0.3", "hang": "127.0.0.4", "off": "127.0.0.6"}
    yield port, ips
    hang.close()
    for srv in servers:
        srv.shutdown()


@pytest.fixture
def runner(cert, cluster):
    port, ips = cluster
    run = rpc.RpcRunner(rpc.static_resolver(ips, offline=("off",)), port=port,
                        cert_file=cert, connect_timeout=1)
    yield run
    run.close()


def test_version_on_several_nodes(runner):
    res = runner.call_version(["node1", "node2"])
    assert sorted(res) == ["node1", "node2"]
    for name, item in res.items():
        assert item.fail_msg is None and not item.offline
        assert item.data == constants.PROTOCOL_VERSION == item.payload
        assert item.node == name and item.call == "version"
        item.raise_on_failure()


def test_offline_node_is_not_contacted(runner):
    res = runner.call_version(["off", "node1"])
    assert res["off"].offline and res["off"].fail_msg == constants.RPC_OFFLINE_MSG
    assert res["off"].data is None
    assert res["node1"].data == constants.PROTOCOL_VERSION


def test_dead_node_fails_quickly(runner):
    start = time.monotonic()
    res = runner.call_version(["dead", "node1"])
    assert time.monotonic() - start < 2
    assert res["dead"].fail_msg and "refused" in res["dead"].fail_msg.lower()
    assert not res["dead"].offline
    assert res["node1"].fail_msg is None


def test_hanging_node_fails_within_the_timeout(runner):
    start = time.monotonic()
    res = runner.call("version", ["hang", "node2"], [], timeout=2)
    assert time.monotonic() - start < 3
    assert "timed out" in res["hang"].fail_msg
    assert res["node2"].data == constants.PROTOCOL_VERSION


def test_calls_run_in_parallel(runner):
    start = time.monotonic()
    res = runner.call_test_delay(["node1", "node2", "node5"], 0.5)
    elapsed = time.monotonic() - start
    assert all(r.data is True for r in res.values()), res
    assert elapsed < 1.2


def test_remote_failure_and_raise_on_failure(runner):
    res = runner.call_test_delay(["node1"], -1)["node1"]
    assert res.fail_msg and "Invalid delay" in res.fail_msg
    with pytest.raises(errors.OpExecError) as err:
        res.raise_on_failure()
    assert str(err.value.args[0]).startswith("Call 'test_delay' to node 'node1' has failed:")
    with pytest.raises(errors.OpPrereqError) as err:
        res.raise_on_failure("Could not delay on node node1", prereq=True)
    assert err.value.args[0].startswith("Could not delay on node node1: Invalid delay")


def test_unknown_procedure_and_bad_arguments(runner):
    res = runner.call("no_such_call", ["node1"], [])["node1"]
    assert "404" in res.fail_msg
    res = runner.call("version", ["node1"], [1, 2])["node1"]
    assert "Invalid arguments" in res.fail_msg


def test_calls_are_counted_per_node_and_family(cert, cluster):
    port, ips = cluster
    stats = rpcstats.RpcStats()
    run = rpc.RpcRunner(rpc.static_resolver(ips, offline=("off",)), port=port,
                        cert_file=cert, connect_timeout=1, stats=stats)
    try:
        run.call_version(["node1", "node2", "dead", "off"])
        run.call_test_delay(["node1"], -1)          # the node answers with an error
        run.call_version(["node1"])
    finally:
        run.close()
    snap = stats.snapshot()
    per_node = dict(((node, fam), (calls, errs)) for node, fam, calls, errs, _ in snap["nodes"])
    # the offline node is not contacted, so not counted
    assert per_node == {("node1", "info"): (2, 0), ("node2", "info"): (1, 0),
                        ("dead", "info"): (1, 1), ("node1", "node"): (1, 1)}
    latency = dict((fam, (count, sum(counts))) for fam, counts, count, _ in snap["latency"])
    assert latency == {"info": (4, 4), "node": (1, 1)}


def test_unresolvable_node(cert, cluster):
    run = rpc.RpcRunner(lambda names: [(n, None, False) for n in names],
                        port=cluster[0], cert_file=cert, connect_timeout=1)
    res = run.call_version(["no-such-host.invalid"])
    assert res["no-such-host.invalid"].fail_msg


def test_single_node_wrapper_returns_one_result(runner):
    res = runner.call_node_deactivate_master_ip("dead", {"ip": "192.0.2.1",
                                                          "netmask": 32,
                                                          "netdev": "lo"})
    assert isinstance(res, rpc.RpcResult) and res.fail_msg


def test_node_info_and_verify(runner):
    res = runner.call_node_info(["node1"], [["file", "/"]], [["fake", {}]])["node1"]
    data = res.data
    assert data["memory_total"] > 0 and data["cpu_total"] >= 1
    assert data["storage"][0]["storage_size"] > 0
    res = runner.call_node_verify(["node2"], {"version": None, "time": None},
                                  "cluster")["node2"]
    assert res.data["version"] == [constants.PROTOCOL_VERSION, constants.RELEASE_VERSION]


def test_file_data_encoding_roundtrip():
    data = os.urandom(1000) + b"x" * 10000
    enc = rpc.encode_file_data(data)
    assert enc[0] == rpc.ENC_ZLIB_BASE64
    assert rpc.decode_file_data(enc) == data
    assert rpc.decode_file_data("plain text") == b"plain text"
    with pytest.raises(errors.ProtocolError):
        rpc.decode_file_data(["rot13", "abc"])


def test_connections_are_reused(runner):
    for _ in range(3):
        assert runner.call_version(["node1"])["node1"].fail_msg is None
    assert runner.pool.connections_made == 1


# ---- the real daemon ----------------------------------------------------------------

def _wait_until(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_real_noded_daemon(tmp_path):
    node = "node1.example.com"
    root = str(tmp_path / node)
    env = dict(os.environ, GANETI_ROOTDIR=root, GANETI_HOSTNAME=node,
               PYTHONPATH=os.path.join(TOP, "lib"))
    port = _free_port()
    cmd = [NODED, "-b", "127.0.0.1", "-p", str(port)]
    # without the cluster certificate it refuses to start
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "ganeti-noded:" in res.stderr
    assert "certificate" in res.stderr
    cert = root + "/var/lib/ganeti/server.pem"
    x509.generate_cluster_cert_file(cert)
    pid_file = root + "/var/run/ganeti/ganeti-noded.pid"
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    pid = process.read_pid_file(pid_file)
    try:
        assert pid > 0 and process.is_process_alive(pid)
        # a second instance is refused
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
        assert res.returncode == 1 and "PID read from file is %d" % pid in res.stderr
        run = rpc.RpcRunner(rpc.static_resolver({node: "127.0.0.1"}), port=port,
                            cert_file=cert, connect_timeout=2)
        result = run.call_version([node])[node]
        assert result.fail_msg is None and result.data == constants.PROTOCOL_VERSION
        run.close()
        assert os.path.exists(root + "/var/log/ganeti/node-daemon.log")
    finally:
        if pid > 0 and process.is_process_alive(pid):
            os.kill(pid, signal.SIGTERM)
    assert _wait_until(lambda: not process.is_process_alive(pid))
    assert not os.path.exists(pid_file)


def test_upload_of_a_file_not_on_the_allow_list_is_refused(runner):
    res = runner.call_upload_file(["node1"], "/etc/passwd")["node1"]
    assert res.fail_msg and "not allowed to be uploaded" in res.fail_msg


def test_real_noded_leave_cluster_stops_the_daemon(tmp_path):
    node = "node2.example.com"
    root = str(tmp_path / node)
    env = dict(os.environ, GANETI_ROOTDIR=root, GANETI_HOSTNAME=node,
               PYTHONPATH=os.path.join(TOP, "lib"))
    cert = root + "/var/lib/ganeti/server.pem"
    x509.generate_cluster_cert_file(cert)
    ssconf = root + "/var/lib/ganeti/ssconf_master_node"
    with open(ssconf, "w") as fd:
        fd.write("node1.example.com\n")
    port = _free_port()
    res = subprocess.run([NODED, "-b", "127.0.0.1", "-p", str(port)], env=env,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    pid = process.read_pid_file(root + "/var/run/ganeti/ganeti-noded.pid")
    client_cert = str(tmp_path / "client.pem")
    with open(cert, "rb") as src, open(client_cert, "wb") as dst:
        dst.write(src.read())
    run = rpc.RpcRunner(rpc.static_resolver({node: "127.0.0.1"}), port=port,
                        cert_file=client_cert, connect_timeout=2)
    try:
        name = run.call_master_node_name([node])[node]
        assert name.data == "node1.example.com"
        result = run.call_node_leave_cluster(node)
        assert result.fail_msg is None and result.data == "Shutdown scheduled"
        assert _wait_until(lambda: not process.is_process_alive(pid))
        assert not os.path.exists(cert) and not os.path.exists(ssconf)
    finally:
        run.close()
        if pid > 0 and process.is_process_alive(pid):
            os.kill(pid, signal.SIGTERM)
