"""ganeti.etcd.client: encoding, parsing and the watch stream decoder (no etcd)."""

import json
import socket
import threading
import time

import pytest

from ganeti import errors
from ganeti.etcd import client as etcd
from ganeti.etcd.client import Compare, KeyValue, Member, Op, TxnResult


def test_prefix_end():
    assert etcd.prefix_end(b"a/") == b"a0"
    assert etcd.prefix_end("job/") == b"job0"
    assert etcd.prefix_end(b"a\xff") == b"b"
    assert etcd.prefix_end(b"a\xff\xff") == b"b"
    assert etcd.prefix_end(b"\xff") == b"\0"
    assert etcd.prefix_end(b"") == b"\0"


def test_bytes_and_ints():
    assert etcd.to_bytes("é") == "é".encode("utf-8")
    with pytest.raises(TypeError):
        etcd.to_bytes(5)
    assert etcd.unb64(etcd.b64(b"\x00\xff")) == b"\x00\xff"
    assert etcd.unb64(None) == b""
    assert etcd.as_int("18446744073709551615") == 2 ** 64 - 1
    assert etcd.as_int(None) == 0 and etcd.as_int(7) == 7


def test_parse_endpoint():
    assert etcd.parse_endpoint("https://127.0.1.1:2379") == ("127.0.1.1", 2379)
    assert etcd.parse_endpoint("https://node1.example.com") == ("node1.example.com", 2379)
    assert etcd.parse_endpoint("https://[::1]:2379/") == ("::1", 2379)
    for bad in ("http://127.0.1.1:2379", "127.0.1.1:2379", "https://:2379",
                "https://h:99999", "https://h:2379/v3", None):
        with pytest.raises(errors.EtcdError) as info:
            etcd.parse_endpoint(bad)
        assert str(info.value).startswith("Bad etcd endpoint")


def test_client_refuses_bad_endpoint_lists_at_once():
    for bad in ([], "https://127.0.1.1:2379", ["https://127.0.1.1:2379", "ftp://x"]):
        with pytest.raises(errors.EtcdError) as info:
            etcd.Client(bad, None, "/nonexistent")
        assert "Bad etcd endpoint" in str(info.value)


def test_unreachable_endpoints_name_every_endpoint_tried(tmp_path):
    from ganeti.utils import x509
    ca = tmp_path / "ca.pem"
    ca.write_bytes(x509.generate_self_signed_cert("test")[1])
    # Nothing listens on these loopback ports: refused at once, nothing sent.
    urls = ["https://127.0.7.250:9", "https://127.0.7.251:9"]
    client = etcd.Client(urls, None, str(ca), timeout=2.0)
    for call in (lambda: client.get("k"), lambda: client.put("k", "v")):
        with pytest.raises(errors.EtcdUnavailableError) as info:
            call()
        text = str(info.value)
        assert text.startswith("No etcd endpoint answered (tried %s, %s)" % tuple(urls))
        assert text.count("Connection refused") == 2
        assert info.value.code == etcd.GRPC_UNAVAILABLE


def test_missing_tls_files_are_named():
    client = etcd.Client(["https://127.0.7.250:9"], "/nonexistent/etcd.pem", "/nonexistent/ca")
    with pytest.raises(errors.EtcdError) as info:
        client.get("k")
    assert "/nonexistent/etcd.pem" in str(info.value) and "/nonexistent/ca" in str(info.value)
    assert not isinstance(info.value, errors.EtcdUnavailableError)


def test_errors_travel_with_their_code():
    err = errors.EtcdUnavailableError("etcd at https://x:2379: no leader", 14)
    back = errors.decode(errors.encode(err))
    assert type(back) is errors.EtcdUnavailableError and back.code == 14
    assert str(back) == "etcd at https://x:2379: no leader"
    assert isinstance(back, errors.EtcdError) and isinstance(back, errors.GenericError)
    assert errors.EtcdError("plain").code == 0


def test_keyvalue_and_member_from_proto3_json():
    # Zero values are left out of proto3 JSON; int64 come as strings.
    assert KeyValue.from_json({"key": "YQ=="}) == KeyValue(b"a", b"", 0, 0, 0, 0)
    kv = KeyValue.from_json({"key": "YQ==", "value": "Yg==", "create_revision": "2",
                             "mod_revision": "5", "version": "3", "lease": "77"})
    assert kv == KeyValue(b"a", b"b", 2, 5, 3, 77)
    member = Member.from_json({"ID": "8921201074012132931", "peerURLs": ["https://a:2380"]})
    assert member == Member(8921201074012132931, "", ["https://a:2380"], [], False)


def test_compare_json():
    assert Compare.value("k", "=", b"v").to_json() == {
        "key": "aw==", "target": "VALUE", "result": "EQUAL", "value": "dg=="}
    assert Compare.version("k", "!=", 0).to_json() == {
        "key": "aw==", "target": "VERSION", "result": "NOT_EQUAL", "version": "0"}
    assert Compare.mod_revision("k", "<", 9).to_json()["result"] == "LESS"
    assert Compare.create_revision("k", ">", 9).to_json()["create_revision"] == "9"
    assert Compare.lease("k", "=", 5).to_json()["target"] == "LEASE"
    with pytest.raises(ValueError):
        Compare.version("k", "<=", 1)


def test_op_json():
    assert Op.put("k", "v").to_json() == {"request_put": {"key": "aw==", "value": "dg=="}}
    assert Op.put("k", "v", lease=12).to_json()["request_put"]["lease"] == "12"
    assert Op.delete("a/", prefix=True).to_json() == {
        "request_delete_range": {"key": "YS8=", "range_end": "YTA="}}
    assert Op.get("k").to_json() == {"request_range": {"key": "aw=="}}


def test_txn_result_from_json():
    doc = {"header": {"revision": "3"},
           "responses": [{"response_range": {"header": {}, "kvs": [{"key": "YQ=="}]}},
                         {"response_put": {"header": {"revision": "3"}}},
                         {"response_range": {"header": {}}},
                         {"response_delete_range": {"deleted": "1"}}]}
    result = TxnResult.from_json(doc)
    assert not result.succeeded and result.revision == 3
    assert result.responses == [[KeyValue(b"a")], None, [], None]


def test_status_and_gateway_errors():
    status = etcd.parse_status({"header": {"member_id": "9"}, "version": "3.4.23",
                                "dbSize": "20480", "leader": "9", "raftIndex": "7",
                                "raftTerm": "2", "errors": ["NOSPACE"]})
    assert status["member_id"] == 9 and status["leader"] == 9 and status["raft_index"] == 7
    assert status["db_size"] == 20480 and status["errors"] == ["NOSPACE"]
    assert status["is_learner"] is False and status["raft_applied_index"] == 0
    assert etcd.gateway_error({"error": "etcdserver: no leader", "message":
                               "etcdserver: no leader", "code": 14}) == \
        (14, "etcdserver: no leader")
    assert etcd.gateway_error({"error": {"grpc_code": 14, "http_code": 503,
                                         "message": "stream gone",
                                         "http_status": "Service Unavailable"}}) == \
        (14, "stream gone")
    assert etcd.gateway_error({"header": {}}) == (None, None)
    assert etcd.gateway_error(None) == (None, None)


def _event(kind, key, rev, value=None):
    kv = {"key": etcd.b64(key), "mod_revision": str(rev)}
    if value is not None:
        kv["value"] = etcd.b64(value)
    event = {"kv": kv}
    if kind == "DELETE":
        event["type"] = "DELETE"            # PUT is proto3's zero value: left out
    return event


def test_watch_items_group_events_by_revision():
    doc = {"result": {"events": [_event("PUT", "a", 4, "1"), _event("PUT", "b", 4, "2"),
                                 _event("DELETE", "a", 5)]}}
    items = list(etcd._watch_items("https://x:2379", doc))
    assert [(rev, [(kind, kv.key) for kind, kv in events]) for rev, events in items] == \
        [(4, [("PUT", b"a"), ("PUT", b"b")]), (5, [("DELETE", b"a")])]
    assert list(etcd._watch_items("https://x:2379", {"result": {"created": True}})) == []


def test_watch_items_raise_on_compaction_and_cancel():
    with pytest.raises(errors.EtcdError) as info:
        list(etcd._watch_items("https://x:2379", {"result": {
            "canceled": True, "compact_revision": "30"}}))
    assert info.value.code == 11 and info.value.compact_revision == 30
    assert str(info.value).startswith("etcd at https://x:2379: ")
    with pytest.raises(errors.EtcdUnavailableError) as info:
        list(etcd._watch_items("https://x:2379", {"result": {
            "canceled": True, "cancel_reason": "etcdserver: no leader"}}))
    assert "no leader" in str(info.value)


class FakeSocket:
    """Hands out prepared pieces; a None piece is a receive timeout."""

    def __init__(self, pieces):
        self.pieces = list(pieces)
        self.closed = False

    def settimeout(self, value):
        pass

    def recv(self, size):
        piece = self.pieces.pop(0) if self.pieces else b""
        if piece is None:
            raise socket.timeout("timed out")
        return piece

    def close(self):
        self.closed = True


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _stream(pieces, stop=None):
    stream = etcd._WatchStream("https://x:2379", ("x", 2379), None,
                               stop or threading.Event(), 1.0)
    stream.sock = FakeSocket(pieces)
    return stream


def test_watch_stream_survives_split_chunks_and_timeouts():
    one = json.dumps({"result": {"created": True}}).encode() + b"\n"
    two = json.dumps({"result": {"events": [_event("PUT", "k", 3, "v")]}}).encode() + b"\n"
    wire = _chunk(one) + _chunk(two[:10]) + _chunk(two[10:])
    pieces = [wire[:7], None, wire[7:40], None, None, wire[40:]]
    stream = _stream(pieces)
    assert stream.next_message() == {"result": {"created": True}}
    assert stream.next_message()["result"]["events"][0]["kv"]["key"] == etcd.b64("k")


def test_watch_stream_end_and_stop():
    with pytest.raises(errors.EtcdUnavailableError) as info:
        _stream([b"0\r\n\r\n"]).next_message()
    assert "ended by etcd" in str(info.value)
    with pytest.raises(errors.EtcdUnavailableError) as info:
        _stream([b"5\r\nab"]).next_message()
    assert "closed by etcd" in str(info.value)
    stop = threading.Event()
    stop.set()
    assert _stream([None] * 5, stop).next_message() is None


def test_watch_stream_deadline_while_waiting():
    stream = _stream([None] * 1000)
    with pytest.raises(errors.EtcdUnavailableError) as info:
        stream.next_message(0, "nothing for 3s")
    assert str(info.value) == "etcd at https://x:2379: nothing for 3s"


def test_attempts_share_the_time_and_name_what_was_left_out():
    attempts = etcd._Attempts(["https://a:1", "https://b:1", "https://c:1"], 3.0)
    shares = []
    for url, share, remaining in attempts:
        shares.append(round(share, 1))
        attempts.failed(url, "refused")
    assert shares == [1.0, 1.5, 3.0]       # nothing used up: each takes its part
    text = str(attempts.error("No etcd endpoint answered"))
    assert text == ("No etcd endpoint answered (tried https://a:1, https://b:1, "
                    "https://c:1): https://a:1: refused; https://b:1: refused; "
                    "https://c:1: refused")
    attempts = etcd._Attempts(["https://a:1", "https://b:1"], 0.0)
    assert list(attempts) == []
    assert "no time left within 0.0s for https://a:1, https://b:1" in \
        str(attempts.error("No etcd endpoint answered"))


def test_silent_endpoints_bound_the_call_by_its_timeout(tmp_path):
    # Listening sockets that never answer the TLS handshake: each endpoint
    # gets a share of the timeout, and the whole call ends within it.
    from ganeti.utils import x509
    ca = tmp_path / "ca.pem"
    ca.write_bytes(x509.generate_self_signed_cert("test")[1])
    silent = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        silent.append(sock)
    urls = ["https://127.0.0.1:%d" % sock.getsockname()[1] for sock in silent]
    client = etcd.Client(urls, None, str(ca), timeout=2.0)
    try:
        for call in (lambda: client.get("k"), lambda: client.put("k", "v")):
            start = time.monotonic()
            with pytest.raises(errors.EtcdUnavailableError) as info:
                call()
            assert 1.8 < time.monotonic() - start < 2.5
            assert str(info.value).count("cannot connect: timed out") == 2
    finally:
        for sock in silent:
            sock.close()


class FakeConn:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


def test_pool_keeps_idle_connections_up_to_a_limit(monkeypatch):
    monkeypatch.setattr(etcd._Pool, "MAX_IDLE", 2)
    pool = etcd._Pool()
    assert pool.take("https://a:1") is None
    conns = [FakeConn() for _ in range(3)]
    for conn in conns:
        pool.give("https://a:1", conn)
    assert conns[2].closed and not conns[0].closed
    assert pool.take("https://b:1") is None
    assert pool.take("https://a:1") is conns[1]
    pool.close()
    assert conns[0].closed and pool.take("https://a:1") is None


def test_pool_starts_empty_in_a_forked_child(monkeypatch):
    pool = etcd._Pool()
    parent_conn = FakeConn()
    pool.give("https://a:1", parent_conn)
    pool._lock.acquire()            # as if a parent thread held it at fork time
    monkeypatch.setattr(etcd.os, "getpid", lambda: -1)
    assert pool.take("https://a:1") is None         # no deadlock, no parent connection
    assert not parent_conn.closed


def test_a_write_refused_by_a_learner_moves_on(monkeypatch):
    """A learner refuses a write before acting on it (after a failover the
    old master's member joins again as one): the write goes to the next
    endpoint; an answer that may have been acted on does not."""
    client = etcd.Client(["https://learner:2379", "https://voter:2379"], None, None,
                         timeout=5.0)
    sent = []

    def exchange(url, method, path, body, headers, share, timeout):
        sent.append(url)
        if "learner" in url:
            return 503, {"error": "etcdserver: rpc not supported for learner",
                         "code": 14}, b""
        return 200, {"header": {"revision": "7"}}, b""
    monkeypatch.setattr(client, "_exchange", exchange)
    assert client.put("k", "v") == 7
    assert sent == ["https://learner:2379", "https://voter:2379"]

    def timed_out(url, method, path, body, headers, share, timeout):
        return 503, {"error": "etcdserver: request timed out", "code": 14}, b""
    monkeypatch.setattr(client, "_exchange", timed_out)
    with pytest.raises(errors.EtcdOutcomeUnknownError):
        client.put("k", "v")
