"""http: the mutual-TLS RPC server and the pooled client, on 127.0.0.1."""

import http.client
import socket
import ssl
import threading
import time

import pytest

from ganeti import errors, serializer
from ganeti import http as ghttp
from ganeti.http import client as hclient
from ganeti.http import server as hserver
from ganeti.utils import x509


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    base = tmp_path_factory.mktemp("certs")
    cluster, other = str(base / "server.pem"), str(base / "other.pem")
    x509.generate_cluster_cert_file(cluster)
    x509.generate_cluster_cert_file(other)
    return cluster, other


def _handler(procedure, args):
    if procedure == "echo":
        return {"args": args}
    if procedure == "fail":
        raise errors.OpExecError("it went wrong")
    if procedure == "crash":
        raise ValueError("boom")
    if procedure == "sleep":
        time.sleep(args[0])
        return True
    if procedure == "quit":
        raise errors.QuitGanetiException(True, "Shutdown scheduled")
    raise ghttp.HttpNotFound("Unknown procedure '%s'" % procedure)


@pytest.fixture
def server(certs):
    quits = []
    srv = hserver.RpcHttpServer("127.0.0.1", 0, certs[0], _handler,
                                on_quit=lambda: quits.append(1))
    srv.quits = quits
    srv.start()
    yield srv
    srv.shutdown()


@pytest.fixture
def pool(certs):
    pool = hclient.HttpClientPool(certs[0])
    yield pool
    pool.close()


def test_call_succeeds(server, pool):
    host, port = server.server_address
    status, body = pool.post_json(host, port, "/echo", [1, "a", {"b": None}])
    assert status == 200
    assert body == [True, {"args": [1, "a", {"b": None}]}]


def test_errors_are_reported_in_band(server, pool):
    host, port = server.server_address
    assert pool.post_json(host, port, "/fail", []) == (200, [False, "it went wrong"])
    status, body = pool.post_json(host, port, "/crash", [])
    assert status == 200 and body[0] is False and "boom" in body[1]


def test_unknown_procedure_is_404_and_other_methods_400(server, pool):
    host, port = server.server_address
    status, _ = pool.post_json(host, port, "/no_such_thing", [])
    assert status == 404
    status, _ = pool.post_json(host, port, "/../etc", [])
    assert status == 404
    for method in ("GET", "PUT", "DELETE"):
        status, _ = pool.request(host, port, method, "/echo", b"[]")
        assert status == 400
    # the connection survives all that
    assert pool.post_json(host, port, "/echo", [])[0] == 200
    assert pool.connections_made == 1


def test_bad_bodies_are_400(server, pool):
    host, port = server.server_address
    status, _ = pool.request(host, port, "POST", "/echo", b"{not json")
    assert status == 400
    status, _ = pool.request(host, port, "POST", "/echo", b'{"a": 1}')
    assert status == 400


def test_keep_alive_reuses_the_connection(server, pool):
    host, port = server.server_address
    for i in range(5):
        assert pool.post_json(host, port, "/echo", [i])[1] == [True, {"args": [i]}]
    assert pool.connections_made == 1
    assert pool.idle_count(host, port) == 1


def test_parallel_requests_use_separate_connections(server, pool):
    host, port = server.server_address
    results = []

    def _run():
        results.append(pool.post_json(host, port, "/sleep", [0.3]))

    threads = [threading.Thread(target=_run) for _ in range(3)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - start < 0.9
    assert results == [(200, [True, True])] * 3


def test_stale_idle_connection_is_replaced(certs, pool):
    srv = hserver.RpcHttpServer("127.0.0.1", 0, certs[0], _handler, idle_timeout=0.3)
    srv.start()
    try:
        host, port = srv.server_address
        assert pool.post_json(host, port, "/echo", [1])[0] == 200
        time.sleep(0.8)   # the server drops the idle connection
        assert pool.post_json(host, port, "/echo", [2]) == (200, [True, {"args": [2]}])
        assert pool.connections_made == 2
    finally:
        srv.shutdown()


def test_read_timeout(server, pool):
    host, port = server.server_address
    start = time.monotonic()
    with pytest.raises(ghttp.HttpTimeoutError):
        pool.post_json(host, port, "/sleep", [3], timeout=0.5)
    assert time.monotonic() - start < 2


def test_quit_answers_then_calls_on_quit(server, pool):
    host, port = server.server_address
    assert pool.post_json(host, port, "/quit", []) == (200, [True, "Shutdown scheduled"])
    deadline = time.time() + 5           # on_quit runs after the answer went out
    while server.quits != [1] and time.time() < deadline:
        time.sleep(0.01)
    assert server.quits == [1]


def _raw_request(port, context):
    """Send one POST over a raw TLS socket; returns the HTTP status or raises."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    tls = context.wrap_socket(sock)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.sock = tls
        conn.request("POST", "/echo", body=b"[]")
        return conn.getresponse().status
    finally:
        tls.close()


def _insecure_context(cert_file=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert_file:
        ctx.load_cert_chain(cert_file)
    return ctx


def test_client_without_certificate_is_rejected(server, certs):
    port = server.server_address[1]
    # sanity: the same raw path works with the cluster certificate
    assert _raw_request(port, _insecure_context(certs[0])) == 200
    with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
        _raw_request(port, _insecure_context())


def test_client_with_another_certificate_is_rejected(server, certs):
    port = server.server_address[1]
    with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
        _raw_request(port, _insecure_context(certs[1]))
    # and our own pool built on the other certificate fails too
    pool = hclient.HttpClientPool(certs[1])
    with pytest.raises(ghttp.HttpClientError):
        pool.post_json("127.0.0.1", port, "/echo", [])


def test_client_refuses_a_server_with_another_certificate(certs):
    srv = hserver.RpcHttpServer("127.0.0.1", 0, certs[1], _handler)
    srv.start()
    try:
        pool = hclient.HttpClientPool(certs[0])
        with pytest.raises(ghttp.HttpClientError):
            pool.post_json("127.0.0.1", srv.server_address[1], "/echo", [])
    finally:
        srv.shutdown()


def test_connection_refused(certs, pool):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ghttp.HttpClientError) as err:
        pool.post_json("127.0.0.1", port, "/echo", [])
    assert "refused" in str(err.value).lower()


def test_server_json_is_compact(server, pool):
    host, port = server.server_address
    status, raw = pool.request(host, port, "POST", "/echo", serializer.dump_json([1]))
    assert status == 200 and raw == b'[true,{"args":[1]}]'


def test_connections_closed_by_the_server_are_replaced(certs, pool):
    """Several pooled connections all closed by the server's idle timeout."""
    srv = hserver.RpcHttpServer("127.0.0.1", 0, certs[0], _handler, idle_timeout=0.3)
    srv.start()
    try:
        host, port = srv.server_address
        # two connections in the pool: two calls at the same time
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            pool.post_json(host, port, "/echo", [1]))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 2
        time.sleep(0.8)                      # the server closes both
        assert pool.post_json(host, port, "/echo", [2]) == (200, [True, {"args": [2]}])
        # and a connection idle longer than the client's limit is not reused at all
        made = pool.connections_made
        with pool._lock:
            for conns in pool._idle.values():
                for conn in conns:
                    conn.last_used -= hclient.MAX_IDLE_AGE + 1
        assert pool.post_json(host, port, "/echo", [3])[0] == 200
        assert pool.connections_made == made + 1
    finally:
        srv.shutdown()
