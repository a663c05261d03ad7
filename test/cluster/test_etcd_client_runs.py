"""ganeti.etcd.client against real etcd clusters (1 and 3 TLS members on loopback).

Tests that leave every member running share one cluster of each size (each
uses its own keys); tests that kill or change members get their own cluster,
on other addresses.
"""

import os
import signal
import socket
import statistics
import threading
import time

import pytest

from etcd_fixture import EtcdCluster
from ganeti import errors
from ganeti.etcd.client import Client, Compare, Op


@pytest.fixture(scope="module", params=[1, 3], ids=["1member", "3members"])
def etcd(request):
    """A shared cluster: its members must stay up."""
    with EtcdCluster(request.param) as ec:
        yield ec


@pytest.fixture
def etcd3():
    """A cluster of 3 of the test's own, on 127.0.7.11-14."""
    with EtcdCluster(3, first=11) as ec:
        yield ec


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not within %ss: %s" % (timeout, what))
        time.sleep(0.1)


def test_put_get_prefix_delete(etcd):
    client = etcd.client()
    rev1 = client.put(b"cfg/b", b"\x00\xffbinary")
    rev2 = client.put("cfg/a", "text")
    client.put("cfh", "outside the prefix")
    assert rev2 == rev1 + 1
    kv = client.get("cfg/b")
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) == \
        (b"cfg/b", b"\x00\xffbinary", rev1, rev1, 1, 0)
    assert client.get("cfg/missing") is None
    rev3 = client.put("cfg/b", "again")
    assert client.get("cfg/b").version == 2 and client.get("cfg/b").mod_revision == rev3
    kvs, revision = client.get_prefix("cfg/")
    assert [(kv.key, kv.value) for kv in kvs] == [(b"cfg/a", b"text"), (b"cfg/b", b"again")]
    assert revision == rev3
    keys, _ = client.get_prefix("cfg/", keys_only=True)
    assert [(kv.key, kv.value) for kv in keys] == [(b"cfg/a", b""), (b"cfg/b", b"")]
    assert client.delete("cfg/a") == 1
    assert client.delete("cfg/a") == 0
    assert client.delete("cfg/", prefix=True) == 1
    assert client.get_prefix("cfg/")[0] == []
    assert client.get("cfh").value == b"outside the prefix"


def test_get_prefix_reads_past_one_page(etcd, monkeypatch):
    from ganeti.etcd import client as client_module
    monkeypatch.setattr(client_module, "RANGE_PAGE", 3)
    client = etcd.client()
    for n in range(10):
        client.put("many/%02d" % n, str(n))
    kvs, revision = client.get_prefix("many/")
    assert [kv.value for kv in kvs] == [str(n).encode() for n in range(10)]
    client.put("many/99", "after")
    assert len(client.get_prefix("many/")[0]) == 11


def test_txn_compare_and_swap(etcd):
    client = etcd.client()
    rev = client.put("serial", "7")
    ok = client.txn([Compare.value("serial", "=", "7")],
                    [Op.put("serial", "8"), Op.put("config", "data-8"), Op.get("serial")],
                    [Op.get("serial")])
    assert ok.succeeded and ok.revision == rev + 1
    assert ok.responses[0] is None and ok.responses[1] is None
    assert [kv.value for kv in ok.responses[2]] == [b"8"]
    # A writer that read serial 7 loses, and learns what is there now.
    lost = client.txn([Compare.value("serial", "=", "7")],
                      [Op.put("config", "data-stale")],
                      [Op.get("serial"), Op.get("config")])
    assert not lost.succeeded and lost.revision == ok.revision
    assert [kv.value for kv in lost.responses[0]] == [b"8"]
    assert [kv.value for kv in lost.responses[1]] == [b"data-8"]
    assert client.get("config").value == b"data-8"


def test_txn_compare_kinds_and_prefix_ops(etcd):
    client = etcd.client()
    create = client.txn([Compare.version("job/1", "=", 0)], [Op.put("job/1", "new")])
    assert create.succeeded
    again = client.txn([Compare.version("job/1", "=", 0)], [Op.put("job/1", "dup")])
    assert not again.succeeded and client.get("job/1").value == b"new"
    kv = client.get("job/1")
    assert client.txn([Compare.mod_revision("job/1", "=", kv.mod_revision),
                       Compare.create_revision("job/1", "<", kv.mod_revision + 1),
                       Compare.version("job/1", ">", 0),
                       Compare.value("job/1", "!=", "other"),
                       Compare.lease("job/1", "=", 0)],
                      [Op.put("job/2", "x")]).succeeded
    assert not client.txn([Compare.mod_revision("job/1", ">", kv.mod_revision)],
                          [Op.put("job/3", "x")]).succeeded
    result = client.txn([], [Op.get("job/", prefix=True), Op.delete("job/", prefix=True)])
    assert [kv.key for kv in result.responses[0]] == [b"job/1", b"job/2"]
    assert client.get_prefix("job/")[0] == []
    with pytest.raises(ValueError):
        Compare.value("k", "==", "v")


def test_lease_keepalive_then_expiry_removes_key(etcd):
    client = etcd.client()
    lease, ttl = client.lease_grant(2)
    assert lease > 0 and ttl >= 2
    client.put("master", "node1", lease=lease)
    assert client.get("master").lease == lease
    start = time.monotonic()
    while time.monotonic() - start < ttl + 1.5:         # outlive the ttl by renewing
        assert client.lease_keepalive(lease) >= 1
        time.sleep(0.5)
    assert client.get("master").value == b"node1"
    assert 0 < client.lease_time_to_live(lease) <= ttl
    wait_for(lambda: client.get("master") is None, ttl + 3, "the lease's key expires")
    assert client.lease_time_to_live(lease) == -1
    assert client.lease_keepalive(lease) == 0
    assert client.lease_revoke(lease) is False


def test_lease_revoke_deletes_keys(etcd):
    client = etcd.client()
    lease, _ = client.lease_grant(30)
    client.put("held/a", "1", lease=lease)
    client.put("held/b", "2", lease=lease)
    assert client.lease_revoke(lease) is True
    assert client.get_prefix("held/")[0] == []
    assert client.lease_time_to_live(lease) == -1
    with pytest.raises(errors.EtcdError) as info:
        client.put("held/c", "3", lease=lease)
    assert info.value.code == 5 and "lease not found" in str(info.value)
    assert "etcd at https://127.0.7." in str(info.value)


def collect(client, prefix, start, stop, timeout=5.0, into=None):
    items = into if into is not None else []
    for item in client.watch(prefix, start, stop, timeout):
        items.append(item)
    return items


def test_watch_events_in_order_and_stop(etcd):
    client = etcd.client()
    first = client.put("w/a", "1")
    client.put("other", "not watched")
    client.delete("w/a")
    client.txn([], [Op.put("w/b", "2"), Op.put("w/c", "3")])     # one revision, two events
    stop = threading.Event()
    items = []
    thread = threading.Thread(target=collect, args=(client, "w/", first, stop, 5.0, items))
    thread.start()
    wait_for(lambda: len(items) >= 3, 5, "the past events")
    live = client.put("w/d", "4")
    wait_for(lambda: len(items) >= 4, 5, "the live event")
    stopped = time.monotonic()
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - stopped < 1.0
    summary = [(rev, [(kind, kv.key, kv.value) for kind, kv in events]) for rev, events in items]
    assert summary == [
        (first, [("PUT", b"w/a", b"1")]),
        (first + 2, [("DELETE", b"w/a", b"")]),
        (first + 3, [("PUT", b"w/b", b"2"), ("PUT", b"w/c", b"3")]),
        (live, [("PUT", b"w/d", b"4")]),
    ]


def test_watch_stop_event_ends_an_idle_watch(etcd):
    client = etcd.client()
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    start = time.monotonic()
    assert collect(client, "idle/", 0, stop) == []
    assert time.monotonic() - start < 1.5


def test_watch_of_compacted_revision_raises(etcd):
    client = etcd.client()
    first = client.put("c/a", "1")
    last = client.put("c/a", "2")
    client.compact(last)
    with pytest.raises(errors.EtcdError) as info:
        collect(client, "c/", first, threading.Event())
    assert info.value.code == 11 and info.value.compact_revision == last
    assert "compacted" in str(info.value)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    assert collect(client, "c/", last, stop)[0][0] == last       # from there on it works


def test_watch_raises_when_its_member_dies(etcd3):
    stop = threading.Event()
    thread, outcome = _watch_outcome(etcd3.client([2]), stop)
    time.sleep(0.5)
    killed = time.monotonic()
    etcd3.kill(2)
    failure = _watch_failure(thread, outcome, stop, 5)
    assert "etcd at %s" % etcd3.client_url(2) in str(failure)
    assert time.monotonic() - killed < 2


def _watch_outcome(client, stop, **kwargs):
    """Start a watch in a thread; returns (thread, outcome list)."""
    outcome = []

    def run():
        try:
            for _ in client.watch("x/", 0, stop, **kwargs):
                pass
            outcome.append("ended")
        except errors.EtcdError as err:
            outcome.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _watch_failure(thread, outcome, stop, wait):
    """The EtcdUnavailableError that ended the watch within ``wait`` seconds."""
    thread.join(wait)
    stop.set()
    assert not thread.is_alive() and len(outcome) == 1
    assert isinstance(outcome[0], errors.EtcdUnavailableError), outcome
    return outcome[0]


def test_watch_raises_when_its_member_loses_the_leader(etcd3):
    # The member lives but has no quorum: etcd cancels the watch (hasleader).
    stop = threading.Event()
    thread, outcome = _watch_outcome(etcd3.client([1]), stop)
    time.sleep(0.5)
    etcd3.kill(2)
    etcd3.kill(3)
    killed = time.monotonic()
    assert "watch stream ended by etcd" in str(_watch_failure(thread, outcome, stop, 10))
    # etcd gives up on a leader after three election timeouts (0.5 s here)
    assert time.monotonic() - killed < 5


def test_watch_idle_limit_notices_a_hung_member():
    with EtcdCluster(1, first=21, extra_args=["--experimental-watch-progress-notify-interval",
                                              "500ms"]) as ec:
        client = ec.client()
        stop = threading.Event()
        thread, outcome = _watch_outcome(client, stop, idle_limit=2.0)
        time.sleep(3)                   # progress notices keep a quiet watch alive
        assert outcome == [] and thread.is_alive()
        ec.procs[1].send_signal(signal.SIGSTOP)
        try:
            failure = _watch_failure(thread, outcome, stop, 5)
        finally:
            ec.procs[1].send_signal(signal.SIGCONT)
        assert "nothing from the watch for 2.0s" in str(failure)


def test_read_fails_over_when_a_member_is_killed(etcd3):
    client = etcd3.client(timeout=3.0)
    client.put("k", "v")
    etcd3.kill(1)
    start = time.monotonic()
    assert client.get("k").value == b"v"
    assert client.status()["member_id"] != 0
    assert time.monotonic() - start < 3.0
    assert client.put("k2", "v2") > 0     # the next write goes to the member that answered
    etcd3.restart(1)
    assert etcd3.client([1]).get("k2").value == b"v2"


def test_write_without_quorum_is_unavailable_within_timeout(etcd3):
    client = etcd3.client(timeout=2.0)
    client.put("k", "v")
    etcd3.kill(2)
    etcd3.kill(3)
    for attempt in range(3):
        start = time.monotonic()
        with pytest.raises(errors.EtcdUnavailableError) as info:
            client.put("k", "lost?")
        assert time.monotonic() - start < 3.0, attempt
        assert "https://127.0.7." in str(info.value)
    start = time.monotonic()
    with pytest.raises(errors.EtcdUnavailableError):
        client.get("k")
    assert time.monotonic() - start < 3.0


def test_member_without_quorum_reports_it_and_refuses_at_once(etcd3):
    client = etcd3.client([1], timeout=3.0)
    etcd3.kill(2)
    etcd3.kill(3)
    status = wait_for(lambda: (lambda st: st if st["leader"] == 0 else None)(client.status()),
                      10, "member 1 notices it has no leader")
    assert "etcdserver: no leader" in status["errors"]
    assert len(client.member_list()) == 3        # its own view, without a leader
    assert not client.health(etcd3.client_url(1))
    start = time.monotonic()
    with pytest.raises(errors.EtcdUnavailableError) as info:
        client.get("k")
    assert "%s: etcdserver: no leader" % etcd3.client_url(1) in str(info.value)
    with pytest.raises(errors.EtcdUnavailableError) as info:
        client.put("k", "v")
    assert "etcdserver: no leader" in str(info.value)
    assert "outcome is unknown" not in str(info.value)       # refused, not attempted
    assert time.monotonic() - start < 1.0


def test_stale_kept_alive_connection_is_not_an_unknown_outcome():
    # etcd restarted between two writes: the idle connection is dead, and the
    # second write must go over a new one instead of failing as "unknown".
    with EtcdCluster(1, first=21) as ec:
        client = ec.client()
        client.put("a", "1")
        ec.kill(1)
        ec.restart(1)
        assert client.put("a", "2") > 0
        assert client.get("a").value == b"2"


def test_learner_added_started_promoted_and_removed(etcd3):
    client = etcd3.client()
    added = etcd3.add_member(4, [1, 2, 3], learner=True)
    assert added.is_learner and added.peer_urls == [etcd3.peer_url(4)] and added.name == ""
    etcd3.wait_healthy([4])

    def promoted():
        try:
            client.member_promote(added.id)
        except errors.EtcdError as err:
            assert err.code == 9, err       # FailedPrecondition: learner not ready yet
            return False
        return True

    wait_for(promoted, 20, "the learner is promoted")
    members = {m.id: m for m in client.member_list()}
    assert len(members) == 4 and not members[added.id].is_learner
    assert members[added.id].name == "node4"
    assert members[added.id].client_urls == [etcd3.client_url(4)]
    client.put("seen-by-4", "yes")
    assert etcd3.client([4]).get("seen-by-4").value == b"yes"
    assert not etcd3.client([4]).status()["is_learner"]
    etcd3.remove_member(4, [1, 2, 3])
    assert sorted(m.name for m in client.member_list()) == ["node1", "node2", "node3"]
    with pytest.raises(errors.EtcdError) as info:
        client.member_remove(added.id)
    assert info.value.code == 5 and "member not found" in str(info.value)
    assert client.put("after-removal", "ok") > 0


def test_forked_child_uses_its_own_connections(etcd):
    client = etcd.client()
    client.put("fork", "parent")
    pid = os.fork()
    if pid == 0:                        # the child: must not share the parent's TLS
        code = 1
        try:
            client.put("fork-child", "child")
            code = 0 if client.get("fork").value == b"parent" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert client.get("fork-child").value == b"child"      # parent's connection intact
    client.put("fork", "parent again")


def test_fixture_cleans_up_after_a_failed_start():
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.7.230", 2379))
    blocker.listen(1)
    ec = EtcdCluster(1, first=230, spare=0)
    try:
        with pytest.raises(RuntimeError) as info:
            ec.start()
        assert "etcd member 1 exited" in str(info.value)
        assert "address already in use" in str(info.value)
    finally:
        blocker.close()
    assert ec.tmpdir is None and ec.procs == {} and ec.running() == []
    with EtcdCluster(1, first=230, spare=0) as again:       # its locks were freed
        assert again.client().put("k", "v") > 0


def test_member_list_status_health(etcd):
    client = etcd.client()
    members = client.member_list()
    assert sorted(m.name for m in members) == [etcd.name(i) for i in range(1, etcd.size + 1)]
    assert all(m.id > 0 and not m.is_learner for m in members)
    ids = {m.name: m.id for m in members}
    leaders = set()
    for i in range(1, etcd.size + 1):
        status = client.status(etcd.client_url(i))
        assert status["member_id"] == ids[etcd.name(i)]
        assert status["version"] == "3.4.23" and status["errors"] == []
        assert status["raft_index"] > 0 and status["raft_term"] > 0 and status["db_size"] > 0
        leaders.add(status["leader"])
        assert client.health(etcd.client_url(i))
    assert len(leaders) == 1 and leaders <= set(ids.values())
    nobody = "https://127.0.7.250:2379"
    assert not client.health(nobody)
    with pytest.raises(errors.EtcdUnavailableError) as info:
        client.status(nobody)
    assert "Connection refused" in str(info.value)


def test_threads_share_one_client(etcd):
    client = etcd.client()
    revisions, failures = [], []

    def writer(n):
        try:
            for k in range(20):
                revisions.append(client.put("t/%d/%d" % (n, k), "v"))
                client.get("t/%d/%d" % (n, k))
        except Exception as err:  # collected and asserted on below
            failures.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == [] and len(set(revisions)) == 160
    assert len(client.get_prefix("t/")[0]) == 160
    idle = sum(len(conns) for conns in client._pool._idle.values())
    assert 1 <= idle <= 8                   # at most one per thread that ran at once


def test_short_lived_threads_reuse_one_connection(etcd):
    # A thread per request (as LUXI clients get) must not pay a TLS handshake each.
    client = etcd.client()
    for n in range(10):
        thread = threading.Thread(target=client.put, args=("short/%d" % n, "v"))
        thread.start()
        thread.join(10)
    assert [len(conns) for conns in client._pool._idle.values()] == [1]
    client.close()
    assert client._pool._idle == {}
    assert client.get("short/9").value == b"v"


def test_client_without_certificate_is_refused(etcd):
    refused = Client(etcd.endpoints(), None, etcd.ca_file, timeout=2.0)
    with pytest.raises(errors.EtcdUnavailableError) as info:
        refused.get("nocert")
    assert "TLS handshake refused" in str(info.value)
    with pytest.raises(errors.EtcdUnavailableError) as info:
        refused.put("nocert", "v")
    assert "TLS" in str(info.value)
    assert etcd.client().get("nocert") is None          # the write did not happen


def test_certificate_of_another_cluster_is_refused(etcd):
    with EtcdCluster(1, first=200, spare=0) as other:
        stranger = Client(etcd.endpoints(), other.cert_file(1), other.ca_file, timeout=2.0)
        with pytest.raises(errors.EtcdUnavailableError) as info:
            stranger.get("k")
        assert "certificate verify failed" in str(info.value)


def test_bad_endpoint_lists(etcd):
    for bad in ([], "https://127.0.7.1:2379", ["http://127.0.7.1:2379"], ["127.0.7.1"]):
        with pytest.raises(errors.EtcdError) as info:
            Client(bad, etcd.cert_file(1), etcd.ca_file)
        assert "Bad etcd endpoint" in str(info.value)
    nowhere = Client(["https://127.0.7.240:2379", "https://127.0.7.241:2379"],
                     etcd.cert_file(1), etcd.ca_file, timeout=2.0)
    with pytest.raises(errors.EtcdUnavailableError) as info:
        nowhere.get("k")
    assert str(info.value).startswith("No etcd endpoint answered (tried "
                                      "https://127.0.7.240:2379, https://127.0.7.241:2379)")
    missing = Client(etcd.endpoints(), "/nonexistent/etcd.pem", etcd.ca_file)
    with pytest.raises(errors.EtcdError) as info:
        missing.get("k")
    assert "/nonexistent/etcd.pem" in str(info.value)


def _median_ms(action, count=30):
    times = []
    for n in range(count):
        start = time.perf_counter()
        action(n)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def test_latency(etcd, capsys):
    client = etcd.client()
    client.put("lat/0", "warm up")
    put_ms = _median_ms(lambda n: client.put("lat/%d" % n, "x" * 100))
    get_ms = _median_ms(lambda n: client.get("lat/%d" % n))
    txn_ms = _median_ms(lambda n: client.txn([Compare.version("lat/%d" % n, ">", 0)],
                                             [Op.put("lat/%d" % n, "y" * 100)]))
    puts_per_s = _parallel_puts_per_s(client, threads=8, each=50)
    with capsys.disabled():
        print("\netcd latency, %d member(s), median ms: put %.1f, txn %.1f, get %.1f; "
              "8 threads: %.0f puts/s" % (etcd.size, put_ms, txn_ms, get_ms, puts_per_s))
    # Generous bounds on this loaded 2-core machine; they catch a lost
    # keep-alive (a TLS handshake per call) or an accidental sleep.
    assert put_ms < 250 and txn_ms < 250 and get_ms < 150 and puts_per_s > 50


def _parallel_puts_per_s(client, threads, each):
    def writer(n):
        for k in range(each):
            client.put("par/%d/%d" % (n, k), "x" * 100)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    elapsed = time.perf_counter() - start
    assert len(client.get_prefix("par/", keys_only=True)[0]) == threads * each
    return threads * each / elapsed
