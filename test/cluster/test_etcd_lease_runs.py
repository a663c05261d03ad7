"""The master role as an etcd lease (ganeti.etcd.masterlease) against a real
3-member etcd: one holder at a time, fencing of the old holder, a clean stop
that keeps the key, expiry after a crash, loss when etcd is out of reach."""

import threading
import time

import pytest

from etcd_fixture import EtcdCluster

from ganeti import errors
from ganeti.etcd import masterlease
from ganeti.etcd.client import Op

TTL = 4


@pytest.fixture(scope="module")
def etcd3():
    with EtcdCluster(3, first=80, spare=0) as ec:
        yield ec


@pytest.fixture
def client(etcd3):
    client = etcd3.client(timeout=2.0)
    client.delete(masterlease.HOLDER_KEY)
    yield client
    client.close()


def _fenced_put(client, lease, value=b"x"):
    return client.txn(lease.compares(), [Op.put(b"/test/fenced", value)]).succeeded


def test_one_holder_and_the_old_one_is_fenced(client):
    first = masterlease.MasterLease(client, "node1", ttl=TTL)
    first.acquire(wait=0)
    assert _fenced_put(client, first)
    second = masterlease.MasterLease(client, "node2", ttl=TTL)
    with pytest.raises(errors.GenericError, match="node1 holds the master role"):
        second.acquire(wait=1)
    # --no-voting takes it whoever holds it; the first can no longer write
    lost = threading.Event()
    first.on_lost = lost.set
    second.acquire(wait=0, force=True)
    assert _fenced_put(client, second)
    assert not _fenced_put(client, first)
    assert lost.wait(TTL), "the old holder did not notice"
    first.release()
    second.release()


def test_a_clean_stop_keeps_the_key_marked_stopped(client):
    lease = masterlease.MasterLease(client, "node1", ttl=TTL)
    lease.acquire(wait=0)
    lease.release(mark_stopped=True)
    kv = client.get(masterlease.HOLDER_KEY)
    assert kv is not None and masterlease.stopped(kv)
    # the next master (a planned failover) takes a stopped key at once
    nxt = masterlease.MasterLease(client, "node2", ttl=TTL)
    start = time.monotonic()
    nxt.acquire(wait=0)
    assert time.monotonic() - start < 2
    assert masterlease.holder_of(client.get(masterlease.HOLDER_KEY)) == "node2"
    nxt.release()
    assert client.get(masterlease.HOLDER_KEY) is None


def test_a_dead_holders_key_expires(client, etcd3):
    other = etcd3.client(timeout=2.0)
    dead = masterlease.MasterLease(other, "node1", ttl=TTL)
    dead.acquire(wait=0)
    dead._stop.set()             # it stops renewing, as if killed
    dead._thread.join()
    nxt = masterlease.MasterLease(client, "node2", ttl=TTL)
    start = time.monotonic()
    nxt.acquire(wait=TTL + 5)
    waited = time.monotonic() - start
    assert TTL - 2 < waited < TTL + 5
    assert not _fenced_put(client, dead)
    nxt.release()
    other.close()


def test_a_holder_cut_off_from_etcd_gives_up_in_time(client, etcd3):
    own = etcd3.client(members=[2], timeout=1.0)
    lost = threading.Event()
    lease = masterlease.MasterLease(own, "node1", ttl=TTL, on_lost=lost.set)
    lease.acquire(wait=0)
    etcd3.kill(2)
    try:
        start = time.monotonic()
        assert lost.wait(TTL + 3)
        # it gave up before etcd could have let anybody else take the key
        assert time.monotonic() - start <= TTL - masterlease.LOSS_MARGIN + 1.5
        lease.release()
    finally:
        etcd3.restart(2)
        own.close()
