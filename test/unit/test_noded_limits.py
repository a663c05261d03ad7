"""noded refuses hostile request bodies with an HTTP status, and odd queue file names."""

import pytest

from ganeti import rpc
from ganeti.backend import RpcFail
from ganeti.http import client as hclient
from ganeti.http import server as hserver
from ganeti.server import noded
from ganeti.utils import x509


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("certs") / "cluster.pem")
    x509.generate_cluster_cert_file(path)
    return path


@pytest.fixture
def endpoint(cert):
    calls = []

    def _handler(procedure, args):
        calls.append(args)
        return len(args)

    srv = hserver.RpcHttpServer("127.0.0.1", 0, cert, _handler)
    srv.start()
    pool = hclient.HttpClientPool(cert)
    yield srv.server_address, pool, calls
    pool.close()
    srv.shutdown()


def test_deeply_nested_body_gets_400_and_the_connection_stays_usable(endpoint):
    (host, port), pool, calls = endpoint
    for depth in (150, 1000, 100000):
        body = b"[" * depth + b"]" * depth
        status, raw = pool.request(host, port, "POST", "/version", body)
        assert status == 400
        assert b"nested" in raw
    # the same kept-alive connection still serves normal calls
    assert pool.post_json(host, port, "/version", [[1]]) == (200, [True, 1])
    assert pool.connections_made == 1
    assert calls == [[[1]]]


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_get_400(endpoint, value):
    (host, port), pool, calls = endpoint
    status, raw = pool.request(host, port, "POST", "/test_delay", b"[" + value + b"]")
    assert status == 400 and b"Non-finite" in raw
    assert calls == []


def test_noded_dispatch_checks_the_argument_count():
    with pytest.raises(RpcFail):
        noded.handle_rpc("write_ssconf_files", [])
