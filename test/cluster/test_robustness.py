"""Daemons and protocol against hostile or unlucky clients, on a real one-node cluster."""

import os
import signal
import socket
import threading
import time

import pytest

from ganeti import errors, luxi


def _client(cluster):
    return luxi.Client(cluster.master.path("/var/run/ganeti/socket/ganeti-master"),
                       timeout=30)


def test_list_of_unknown_names_fails_like_ganeti(cluster):
    m = cluster.master
    proc = m.run("gnt-node", "list", "nosuchnode")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("Failure: prerequisites not met for this operation:\n"
                           "error type: unknown_entity, error details:\n"
                           "Node name nosuchnode not found\n")
    proc = m.run("gnt-instance", "list", "nosuchinst")
    assert proc.returncode == 1
    assert proc.stderr.endswith("Instance name nosuchinst not found\n")
    short = m.name.split(".")[0]
    out = m.run("gnt-node", "list", "--no-headers", "-o", "name", short, check=True).stdout
    assert out == m.name + "\n"


def test_second_master_daemon_is_refused_and_the_first_keeps_serving(cluster):
    m = cluster.master
    pid = m.pid("ganeti-masterd")
    proc = m.run("/".join([m.env["GANETI_DAEMONS_DIR"], "ganeti-masterd"]))
    assert proc.returncode == 1
    assert "is already locked by another process, PID read from file is %d" % pid \
        in proc.stderr
    assert m.pid("ganeti-masterd") == pid
    m.run("gnt-node", "list", check=True)


def test_wrongly_typed_luxi_calls_change_nothing(cluster):
    m = cluster.master
    cl = _client(cluster)
    try:
        with pytest.raises(errors.ProtocolError):
            cl.call(luxi.REQ_SET_DRAIN_FLAG, ["false"])
        with pytest.raises(errors.ProtocolError):
            cl.call(luxi.REQ_SET_WATCHER_PAUSE, [True])
    finally:
        cl.close()
    info = m.run("gnt-cluster", "queue", "info", check=True).stdout
    assert info == "The drain flag is unset\n"
    assert not os.path.exists(m.path("/var/lib/ganeti/queue/drain"))
    assert not os.path.exists(m.path("/var/lib/ganeti/watcher.pause"))


def test_infinite_delay_is_refused(cluster):
    proc = cluster.master.run("gnt-debug", "delay", "inf")
    assert proc.returncode == 1 and "Invalid duration 'inf'" in proc.stderr


def test_half_sent_and_oversized_requests_do_not_hurt_the_master(cluster):
    path = cluster.master.path("/var/run/ganeti/socket/ganeti-master")
    half = socket.socket(socket.AF_UNIX)
    half.connect(path)
    half.sendall(b'{"method": "Query')
    big = socket.socket(socket.AF_UNIX)
    big.connect(path)
    big.settimeout(30)
    try:
        for _ in range(40 * 16):           # 40 MiB, over the 32 MiB limit
            big.sendall(b"x" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = b""
    while luxi.ETX not in reply:
        chunk = big.recv(4096)
        if not chunk:
            break
        reply += chunk
    big.close()
    assert b"larger than the limit of 33554432 bytes" in reply
    cluster.master.run("gnt-node", "list", check=True)
    half.close()


def test_commands_wait_for_a_restarting_master_daemon(cluster):
    m = cluster.master
    assert m.kill_daemon("ganeti-masterd", signal.SIGTERM)
    starter = threading.Timer(1.5, lambda: m.start_daemon("ganeti-masterd"))
    starter.start()
    try:
        start = time.monotonic()
        proc = m.run("gnt-node", "list", "--no-headers", "-o", "name")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == m.name + "\n"
        assert time.monotonic() - start > 1
    finally:
        starter.join()
    assert m.pid("ganeti-masterd")


def test_two_master_daemons_started_at_once_only_one_runs(cluster):
    m = cluster.master
    assert m.kill_daemon("ganeti-masterd", signal.SIGTERM)
    masterd = "/".join([m.env["GANETI_DAEMONS_DIR"], "ganeti-masterd"])
    results = []
    threads = [threading.Thread(target=lambda: results.append(m.run(masterd)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(proc.returncode for proc in results) == [0, 1, 1], \
        [proc.stderr for proc in results]
    for proc in results:
        if proc.returncode:
            assert "is already locked by another process" in proc.stderr \
                or "Another master daemon is already answering" in proc.stderr
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    running = []
    for pid in pids:
        try:
            with open("/proc/%d/environ" % pid, "rb") as fd:
                env = fd.read()
            with open("/proc/%d/cmdline" % pid, "rb") as fd:
                cmd = fd.read()
        except OSError:
            continue
        if b"ganeti-masterd" in cmd and m.root.encode() in env:
            running.append(pid)
    assert running == [m.pid("ganeti-masterd")]
    m.run("gnt-node", "list", check=True)
