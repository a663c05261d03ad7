"""LUXI on masterd's side: argument signatures, message limits, error classes.

A real LuxiServer on a Unix socket in a temporary directory, in front of a
recording stand-in for the job queue (so nothing but the protocol is tested).
"""

import socket
import threading
import time
import types

import pytest

from ganeti import errors, locking, luxi, rpcstats, serializer
from ganeti.server import masterd


class _RecordingQueue:
    """Records every call; answers True (or raises what ``raise_next`` holds)."""

    def __init__(self):
        self.calls = []
        self.raise_next = None

    def __getattr__(self, name):
        def _call(*args):
            self.calls.append((name, args))
            if self.raise_next is not None:
                err, self.raise_next = self.raise_next, None
                raise err
            return True
        return _call


class _Context:
    def __init__(self):
        self.jqueue = _RecordingQueue()
        self.cfg = None
        self.lease = types.SimpleNamespace(lost=threading.Event())


@pytest.fixture
def luxi_server(tmp_path):
    path = str(tmp_path / "master.sock")
    context = _Context()
    server = masterd.LuxiServer(path, masterd.LuxiHandler(context))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield path, context.jqueue
    server.shutdown()
    server.server_close()


def _call(path, method, args):
    client = luxi.Client(path, timeout=10)
    try:
        return client.call(method, args)
    finally:
        client.close()


@pytest.mark.parametrize("method, args", [
    (luxi.REQ_SET_DRAIN_FLAG, ["false"]),
    (luxi.REQ_SET_DRAIN_FLAG, [1]),
    (luxi.REQ_SET_WATCHER_PAUSE, [True]),
    (luxi.REQ_QUERY_JOBS, ["123", ["id"]]),
    (luxi.REQ_ARCHIVE_JOB, ["abc"]),
    (luxi.REQ_ARCHIVE_JOB, [-1]),
    (luxi.REQ_CANCEL_JOB, [1, "yes"]),
    (luxi.REQ_SUBMIT_JOB, [{"OP_ID": "OP_TEST_DELAY"}]),
    (luxi.REQ_WAIT_FOR_JOB_CHANGE, [1, ["status"], None, None, "soon"]),
])
def test_wrong_argument_types_are_refused_before_anything_happens(luxi_server, method,
                                                                   args):
    path, jq = luxi_server
    with pytest.raises(errors.ProtocolError) as err:
        _call(path, method, args)
    assert str(err.value.args[0]).startswith("Invalid parameter passed to %s as " % method)
    assert jq.calls == []


_VALID_ARGS = {
    luxi.REQ_SUBMIT_JOB: [[{"OP_ID": "OP_TEST_DELAY", "duration": 0}]],
    luxi.REQ_SUBMIT_JOB_TO_DRAINED_QUEUE: [[{"OP_ID": "OP_TEST_DELAY", "duration": 0}]],
    luxi.REQ_SUBMIT_MANY_JOBS: [[[{"OP_ID": "OP_TEST_DELAY", "duration": 0}]]],
    luxi.REQ_WAIT_FOR_JOB_CHANGE: [1, ["status"], None, None, 1.0],
    luxi.REQ_CANCEL_JOB: [1, False],
    luxi.REQ_ARCHIVE_JOB: [1],
    luxi.REQ_CHANGE_JOB_PRIORITY: [1, 0],
    luxi.REQ_AUTO_ARCHIVE_JOBS: [3600, 10],
    luxi.REQ_QUERY: ["node", ["name"], None],
    luxi.REQ_QUERY_FIELDS: ["node", None],
    luxi.REQ_QUERY_JOBS: [[1], ["id"]],
    luxi.REQ_QUERY_NODES: [["node1"], ["name"], False],
    luxi.REQ_QUERY_CLUSTER_INFO: [],
    luxi.REQ_QUERY_CONFIG_VALUES: [["cluster_name"]],
    luxi.REQ_QUERY_TAGS: ["cluster", None],
    luxi.REQ_SET_DRAIN_FLAG: [True],
    luxi.REQ_SET_WATCHER_PAUSE: [None],
    luxi.REQ_QUERY_DRBD_MINORS: ["node1"],
    luxi.REQ_QUERY_FILTERS: [None, ["uuid"]],
    luxi.REQ_REPLACE_FILTER: [None, 0, [], "ACCEPT", []],
    luxi.REQ_DELETE_FILTER: ["00000000-0000-0000-0000-000000000000"],
    luxi.REQ_QUERY_METRICS: [None],
}


def test_every_argument_of_every_method_is_checked(luxi_server):
    # put a value no signature accepts in each position of each method: always
    # a protocol error naming the argument, never an internal error
    path, jq = luxi_server
    assert sorted(_VALID_ARGS) == sorted(luxi.SIGNATURES)
    for method, signature in sorted(luxi.SIGNATURES.items()):
        for pos, (name, _, _) in enumerate(signature):
            args = list(_VALID_ARGS[method])
            args[pos] = {"not": ["valid"]}
            with pytest.raises(errors.ProtocolError) as err:
                _call(path, method, args)
            assert ("Invalid parameter passed to %s as %s:" % (method, name)
                    in err.value.args[0]), (method, err.value.args)
    assert jq.calls == []


def test_argument_count_is_checked(luxi_server):
    path, jq = luxi_server
    with pytest.raises(errors.ProtocolError) as err:
        _call(path, luxi.REQ_CANCEL_JOB, [1, False, 3])
    assert err.value.args[0] == "CancelJob takes 1 to 2 arguments, got 3"
    with pytest.raises(errors.ProtocolError) as err:
        _call(path, luxi.REQ_ARCHIVE_JOB, [])
    assert err.value.args[0] == "ArchiveJob takes 1 arguments, got 0"
    with pytest.raises(errors.ProtocolError):
        _call(path, "NoSuchMethod", [])
    assert jq.calls == []


def test_good_arguments_reach_the_queue_with_defaults(luxi_server):
    path, jq = luxi_server
    assert _call(path, luxi.REQ_SET_DRAIN_FLAG, [False]) is True
    assert _call(path, luxi.REQ_ARCHIVE_JOB, ["17"]) is True
    assert jq.calls == [("set_drain_flag", (False,)), ("archive_job", ("17",))]


def test_query_metrics_answers_the_parts_asked_for():
    context = _Context()
    context.start_time = 1700000000.0
    context.glm = locking.GanetiLockManager(nodes=["node1"])
    context.rpc = types.SimpleNamespace(stats=rpcstats.RpcStats())
    context.rpc.stats.record("node1", "node_info", 0.01, False)
    handler = masterd.LuxiHandler(context)
    full = handler.handle(luxi.REQ_QUERY_METRICS, [])
    assert sorted(full) == ["jobs", "locks", "rpc", "start_time", "time"]
    assert full["start_time"] == 1700000000.0
    assert context.jqueue.calls == [("metrics", ())]
    assert full["locks"] == {"holders": [], "waits": {}}
    assert full["rpc"]["nodes"] == [["node1", "info", 1, 0, 0.01]]
    assert sorted(handler.handle(luxi.REQ_QUERY_METRICS, [["locks"]])) == \
        ["locks", "start_time", "time"]
    assert sorted(handler.handle(luxi.REQ_QUERY_METRICS, [[]])) == ["start_time", "time"]
    with pytest.raises(errors.ProtocolError):
        handler.handle(luxi.REQ_QUERY_METRICS, [["everything"]])


@pytest.mark.parametrize("number", [b"Infinity", b"-Infinity", b"NaN", b"1e999"])
def test_non_finite_numbers_are_refused(luxi_server, number):
    path, jq = luxi_server
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    sock.sendall(b'{"method": "SubmitJob", "args": [[{"OP_ID": "OP_TEST_DELAY",'
                 b' "duration": ' + number + b'}]]}' + luxi.ETX)
    reply = _read_reply(sock)
    sock.close()
    with pytest.raises(errors.ProtocolError) as err:
        luxi.parse_response(reply)
    assert "Non-finite number" in err.value.args[0]
    assert jq.calls == []


def _read_reply(sock, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while luxi.ETX not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.partition(luxi.ETX)[0]


def _closed(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


def test_oversized_request_is_refused_and_the_connection_closed(luxi_server, monkeypatch):
    monkeypatch.setattr(luxi, "MAX_MESSAGE_SIZE", 1024 * 1024)
    path, jq = luxi_server
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    sent = 0
    try:
        while sent < 8 * 1024 * 1024:
            sock.sendall(b"x" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = _read_reply(sock)
    with pytest.raises(errors.ProtocolError) as err:
        luxi.parse_response(reply)
    assert err.value.args[0] == "LUXI request larger than the limit of 1048576 bytes"
    assert _closed(sock)
    sock.close()
    assert sent < 8 * 1024 * 1024          # the server stopped reading early


def test_half_sent_request_times_out_but_idle_connections_stay(luxi_server, monkeypatch):
    monkeypatch.setattr(luxi, "PARTIAL_MESSAGE_TIMEOUT", 0.5)
    path, _ = luxi_server
    idle = luxi.Client(path, timeout=10)
    assert idle.call(luxi.REQ_SET_DRAIN_FLAG, [False]) is True
    half = socket.socket(socket.AF_UNIX)
    half.connect(path)
    half.sendall(b'{"method": "SetDrainFl')
    start = time.monotonic()
    reply = _read_reply(half)
    assert 0.4 < time.monotonic() - start < 5
    with pytest.raises(errors.ProtocolError) as err:
        luxi.parse_response(reply)
    assert "not completed within" in err.value.args[0]
    assert _closed(half)
    half.close()
    time.sleep(0.3)               # the idle client was idle longer than the limit
    assert idle.call(luxi.REQ_SET_DRAIN_FLAG, [False]) is True
    idle.close()


def test_errors_are_classified_by_type_not_by_message(luxi_server):
    path, jq = luxi_server
    # a TypeError inside a method is a bug, whatever its text says
    jq.raise_next = TypeError("archive_job() takes 2 positional arguments")
    with pytest.raises(errors.ProgrammerError) as err:
        _call(path, luxi.REQ_ARCHIVE_JOB, [1])
    assert "Internal error" in err.value.args[0]
    jq.raise_next = errors.OpPrereqError("Job 1 not found", errors.ECODE_NOENT)
    with pytest.raises(errors.OpPrereqError):
        _call(path, luxi.REQ_ARCHIVE_JOB, [1])


def test_deeply_nested_request_is_refused(luxi_server):
    path, jq = luxi_server
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    sock.sendall(b'{"method": "SubmitJob", "args": ' + b"[" * 5000 + b"]" * 5000 + b"}"
                 + luxi.ETX)
    with pytest.raises(errors.ProtocolError) as err:
        luxi.parse_response(_read_reply(sock))
    assert "nested" in err.value.args[0]
    sock.close()
    assert jq.calls == []


def test_serializer_refuses_non_finite_numbers():
    for text in ("NaN", "[Infinity]", "-Infinity", "1e400"):
        with pytest.raises(ValueError):
            serializer.load_json(text)
    assert serializer.load_json("[1.5, 2]") == [1.5, 2]
    assert serializer.nesting_depth([[1], {"a": [[]]}]) == 4


def test_the_server_answers_exactly_the_declared_methods():
    handler = masterd.LuxiHandler(_Context())
    assert set(handler._methods) == set(luxi.SIGNATURES)


def test_a_master_that_lost_its_lease_answers_nothing():
    context = _Context()
    handler = masterd.LuxiHandler(context)
    context.lease.lost.set()
    with pytest.raises(errors.JobQueueError, match="lost the master role"):
        handler.handle(luxi.REQ_SET_DRAIN_FLAG, [True])
    assert context.jqueue.calls == []
    context.lease.lost.clear()
    handler.handle(luxi.REQ_SET_DRAIN_FLAG, [True])
    assert context.jqueue.calls == [("set_drain_flag", (True,))]


def test_infinite_durations_are_refused_by_gnt_debug_and_the_opcode():
    import optparse

    from ganeti import opcodes
    from ganeti.client import gnt_debug
    for text in ("inf", "-inf", "nan", "1e999"):
        with pytest.raises(errors.OpPrereqError) as err:
            gnt_debug.delay(optparse.Values({}), [text])
        assert "Invalid duration" in err.value.args[0]
        with pytest.raises(errors.OpPrereqError):
            opcodes.OpCode.from_dict({"OP_ID": "OP_TEST_DELAY", "duration": float(text)})
