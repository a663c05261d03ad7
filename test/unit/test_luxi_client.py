"""The LUXI client keeps trying to connect while masterd (re)starts or is busy."""

import os
import socket
import threading
import time

import pytest

from ganeti import cli, errors, luxi


def _serve_one_call(path, listener=None, delay=0.0):
    """Answer one call on ``path`` (after ``delay``); runs in a thread."""
    def _run():
        time.sleep(delay)
        srv = listener
        if srv is None:
            srv = socket.socket(socket.AF_UNIX)
            srv.bind(path)
            srv.listen(1)
        conn, _ = srv.accept()
        data = b""
        while luxi.ETX not in data:
            data += conn.recv(4096)
        conn.sendall(luxi.format_response(True, "pong") + luxi.ETX)
        conn.close()
        srv.close()
    thread = threading.Thread(target=_run, daemon=True)
    thread.start()
    return thread


def _call_and_join(path, thread):
    """One call that must get through (connect timeout 5 s), then join the server."""
    client = luxi.Client(path, connect_timeout=5)
    try:
        assert client.call(luxi.REQ_QUERY_CLUSTER_INFO, []) == "pong"
    finally:
        client.close()
    thread.join(5)


def test_waits_for_a_master_daemon_that_is_starting(tmp_path):
    path = str(tmp_path / "sock")
    thread = _serve_one_call(path, delay=0.5)
    _call_and_join(path, thread)


def test_gives_up_after_the_connect_timeout_with_ganetis_message(tmp_path):
    path = str(tmp_path / "sock")
    client = luxi.Client(path, connect_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(errors.NoMasterError) as err:
        client.call(luxi.REQ_QUERY_CLUSTER_INFO, [])
    assert 0.4 < time.monotonic() - start < 3
    code, msg = cli.format_error(err.value)
    assert code == 11 and msg.startswith("Cannot communicate with socket '%s'." % path)


def test_refused_then_accepted(tmp_path):
    # a socket file with nobody listening (masterd restarting): ECONNREFUSED
    path = str(tmp_path / "sock")
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)
    dead.close()

    def _replace():
        time.sleep(0.5)
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path + ".new")
        srv.listen(1)
        os.rename(path + ".new", path)
        _serve_one_call(path, listener=srv).join(5)
    thread = threading.Thread(target=_replace, daemon=True)
    thread.start()
    _call_and_join(path, thread)


def test_full_backlog_is_waited_out(tmp_path):
    path = str(tmp_path / "sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(0)
    fillers = []
    while True:           # fill the backlog until a connect would block (EAGAIN)
        sock = socket.socket(socket.AF_UNIX)
        sock.setblocking(False)
        try:
            sock.connect(path)
        except BlockingIOError:
            sock.close()
            break
        fillers.append(sock)
        assert len(fillers) < 100

    def _drain():
        time.sleep(0.5)
        for _ in fillers:
            srv.accept()[0].close()
        _serve_one_call(path, listener=srv)
    thread = threading.Thread(target=_drain, daemon=True)
    thread.start()
    client = luxi.Client(path, connect_timeout=5)
    try:
        assert client.call(luxi.REQ_QUERY_CLUSTER_INFO, []) == "pong"
    finally:
        client.close()
        for sock in fillers:
            sock.close()
    thread.join(5)


def test_not_waiting_on_a_node_that_is_not_the_master(tmp_path, monkeypatch):
    from ganeti import daemon_util, pathutils
    path = str(tmp_path / "sock")
    monkeypatch.setattr(pathutils, "MASTER_SOCKET", path)
    monkeypatch.setattr(daemon_util, "is_master", lambda: False)
    # ssconf names another node: Ganeti's message says which to go to
    monkeypatch.setattr(pathutils, "SSCONF_PREFIX", str(tmp_path / "ssconf_"))
    (tmp_path / "ssconf_master_node").write_text("node2.example.com\n")
    start = time.monotonic()
    with pytest.raises(errors.OpPrereqError, match="This is not the master node, please"
                       " connect to node 'node2.example.com' and rerun the command"):
        luxi.Client(path, connect_timeout=5).call(luxi.REQ_QUERY_CLUSTER_INFO, [])
    assert time.monotonic() - start < 1
    # no ssconf at all: not in a cluster
    (tmp_path / "ssconf_master_node").unlink()
    with pytest.raises(errors.OpPrereqError, match="Cluster not initialized or this"
                       " machine is not part of a cluster"):
        luxi.Client(path, connect_timeout=5).call(luxi.REQ_QUERY_CLUSTER_INFO, [])


def test_answers_over_the_size_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(luxi, "MAX_MESSAGE_SIZE", 100000)
    path = str(tmp_path / "sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def _flood():
        conn, _ = srv.accept()
        try:
            conn.recv(4096)
            conn.sendall(b"x" * 400000)
        except OSError:
            pass
        conn.close()
    thread = threading.Thread(target=_flood, daemon=True)
    thread.start()
    client = luxi.Client(path, connect_timeout=5)
    with pytest.raises(errors.ProtocolError) as err:
        client.call(luxi.REQ_QUERY_CLUSTER_INFO, [])
    assert "larger than 100000 bytes" in err.value.args[0]
    client.close()
    srv.close()
    thread.join(5)
