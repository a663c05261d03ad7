"""The RPC client resends a request only when it provably did not reach the node.

A scripted TLS server on 127.0.0.1 counts the requests it received; each
connection follows a script of what to do after each request.
"""

import select
import socket
import struct
import threading

import pytest

from ganeti import http as ghttp
from ganeti.http import client as hclient
from ganeti.utils import x509

ANSWER = "answer"          # answer and keep the connection
ANSWER_CLOSE = "close"     # answer, then close the connection (FIN) while idle
ANSWER_RESET = "reset"     # answer, then reset the connection (RST) while idle
DROP = "drop"              # read the whole request, then close without answering


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("certs") / "cluster.pem")
    x509.generate_cluster_cert_file(path)
    return path


def _close(reader, tls):
    """Really close: the file from makefile() would keep the socket open."""
    reader.close()
    tls.close()


class ScriptedServer:
    """Connection n follows scripts[n] (default: answer everything)."""

    def __init__(self, cert, scripts):
        self.scripts = list(scripts)
        self.received = []
        self.close_now = threading.Event()     # the test read the answer: close
        self.idle_closed = threading.Event()   # set once it ended an idle connection
        self.context = ghttp.make_server_context(cert)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn_no = 0
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            script = self.scripts[conn_no] if conn_no < len(self.scripts) else []
            conn_no += 1
            try:
                self._serve_conn(self.context.wrap_socket(raw, server_side=True), script)
            except OSError:
                pass

    def _serve_conn(self, tls, script):
        reader = tls.makefile("rb")
        for step in list(script) + [ANSWER] * 100:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    _close(reader, tls)
                    return
                head += line
            length = int([h for h in head.split(b"\r\n")
                          if h.lower().startswith(b"content-length:")][0].split(b":")[1])
            body = reader.read(length)
            self.received.append(body)
            if step == DROP:
                _close(reader, tls)
                return
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 13\r\n\r\n[true,\"done\"]")
            if step in (ANSWER_CLOSE, ANSWER_RESET):
                # a reset before the client read the answer would discard it
                self.close_now.wait(10)
                if step == ANSWER_RESET:
                    tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
                _close(reader, tls)
                self.idle_closed.set()
                return

    def close(self):
        self.listener.close()


@pytest.fixture
def pool(cert):
    pool = hclient.HttpClientPool(cert)
    yield pool
    pool.close()


def _second_call_on_a_new_connection(cert, pool, first_step):
    """Call, let the server end the idle connection, call again: runs once each."""
    srv = ScriptedServer(cert, [[first_step]])
    try:
        assert pool.post_json("127.0.0.1", srv.port, "/x", [1])[0] == 200
        srv.close_now.set()
        assert srv.idle_closed.wait(10)
        # the FIN/RST crosses the loopback in a softirq, late on a busy machine:
        # wait until the pooled connection has seen it (select clears nothing)
        idle = [c.conn.sock for conns in pool._idle.values() for c in conns]
        assert select.select(idle, [], [], 10)[0]
        assert pool.post_json("127.0.0.1", srv.port, "/x", [2]) == (200, [True, "done"])
        assert srv.received == [b"[1]", b"[2]"]
        assert pool.connections_made == 2
    finally:
        srv.close()


def test_request_lost_after_a_complete_send_is_not_resent(cert, pool):
    # the node read the whole second request and then the connection died: it
    # may have started an instance, so the client must report, not resend
    srv = ScriptedServer(cert, [[ANSWER, DROP]])
    try:
        assert pool.post_json("127.0.0.1", srv.port, "/instance_start", [1]) == \
            (200, [True, "done"])
        with pytest.raises(ghttp.HttpClientError) as err:
            pool.post_json("127.0.0.1", srv.port, "/instance_start", [2])
        assert "may have carried it out" in str(err.value)
        assert srv.received == [b"[1]", b"[2]"]
    finally:
        srv.close()


def test_connection_closed_while_idle_is_replaced_before_sending(cert, pool):
    _second_call_on_a_new_connection(cert, pool, ANSWER_CLOSE)


def test_send_failing_on_a_reused_connection_is_resent_once(cert, pool, monkeypatch):
    # without the idle check, the write itself meets the reset: nothing of the
    # request reached the node, so one resend on a new connection is safe
    monkeypatch.setattr(hclient._Conn, "looks_dead", lambda self: False)
    _second_call_on_a_new_connection(cert, pool, ANSWER_RESET)


def test_first_use_of_a_connection_is_never_resent(cert, pool):
    srv = ScriptedServer(cert, [[DROP], [DROP]])
    try:
        with pytest.raises(ghttp.HttpClientError):
            pool.post_json("127.0.0.1", srv.port, "/blockdev_create", [1])
        assert srv.received == [b"[1]"]
    finally:
        srv.close()


def _runner_to(srv, pool):
    from ganeti import rpc
    return rpc.RpcRunner(lambda names: [(n, "127.0.0.1", False) for n in names],
                         port=srv.port, pool=pool)


def test_read_only_procedure_is_asked_again_after_a_lost_answer(cert, pool):
    # a query that only reads may run twice: a connection lost after the send
    # costs one more request instead of reporting the node down
    srv = ScriptedServer(cert, [[ANSWER, DROP]])
    try:
        runner = _runner_to(srv, pool)
        assert runner.call("all_instances_info", ["node1"], [1])["node1"].data == "done"
        res = runner.call("all_instances_info", ["node1"], [2])["node1"]
        assert (res.fail_msg, res.data) == (None, "done")
        assert srv.received == [b"[1]", b"[2]", b"[2]"]
    finally:
        srv.close()


def test_changing_procedure_is_not_asked_again(cert, pool):
    srv = ScriptedServer(cert, [[ANSWER, DROP]])
    try:
        runner = _runner_to(srv, pool)
        assert runner.call("instance_start", ["node1"], [1])["node1"].data == "done"
        res = runner.call("instance_start", ["node1"], [2])["node1"]
        assert "may have carried it out" in res.fail_msg
        assert srv.received == [b"[1]", b"[2]"]
    finally:
        srv.close()
