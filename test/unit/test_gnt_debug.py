"""gnt-debug locks: Ganeti's default columns unchanged, and our optional
columns of how long each owner has held and each waiter waited."""

import optparse
import threading
import time

from ganeti import cli, locking, query
from ganeti.client import gnt_debug


class _Client:
    """Answers the "lock" query from a real lock manager, as masterd does."""

    def __init__(self, glm):
        self.glm = glm

    def query(self, what, fields, qfilter=None):
        assert what == query.QR_LOCK
        return query.run_query(what, fields, self.glm.query_locks(), None, qfilter)


def _list_locks(monkeypatch, capsys, glm, argv):
    monkeypatch.setattr(cli, "get_client", lambda: _Client(glm))
    parser = optparse.OptionParser(option_list=list(gnt_debug.COMMANDS["locks"][2]))
    opts, args = parser.parse_args(argv)
    assert gnt_debug.list_locks(opts, args) == 0
    return capsys.readouterr().out.splitlines()


def test_locks_default_output_and_the_times(monkeypatch, capsys):
    glm = locking.GanetiLockManager(nodes=["node1"], instances=["inst1"])
    got, stop = threading.Event(), threading.Event()

    def job():
        glm.acquire(locking.LEVEL_CLUSTER, locking.BGL, shared=True)
        glm.acquire(locking.LEVEL_NODE, ["node1"])
        got.set()
        stop.wait(10)
        glm.release_all()

    holder = threading.Thread(target=job, daemon=True)
    holder.job_id = 31
    holder.start()
    assert got.wait(10)
    waiter = threading.Thread(target=lambda: glm.acquire(locking.LEVEL_CLUSTER, locking.BGL)
                              and glm.release_all(), daemon=True)
    waiter.job_id = 32
    waiter.start()
    deadline = time.monotonic() + 10
    while not [row for row in glm.query_locks() if row[0] == "BGL" and row[3]]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        # Ganeti's columns, as before
        lines = _list_locks(monkeypatch, capsys, glm, [])
        assert lines[0].split() == ["Name", "Mode", "Owner", "Pending"]
        rows = dict((line.split()[0], line.split()[1:]) for line in lines[1:])
        assert rows["BGL"] == ["shared", "31", "exclusive:32"]
        assert rows["node/node1"] == ["exclusive", "31", "-"]
        assert rows["instance/inst1"] == ["-", "-", "-"]
        # ours, added with -o +...
        lines = _list_locks(monkeypatch, capsys, glm,
                            ["-o", "+owner_time,pending_time", "--separator", "|"])
        assert lines[0] == "Name|Mode|Owner|Pending|OwnerTime|PendingTime"
        rows = dict((line.split("|")[0], line.split("|")[1:]) for line in lines[1:])
        name, mode, owner, pending, held, waited = ["BGL"] + rows["BGL"]
        assert (owner, pending) == ("31", "exclusive:32")
        assert float(held) >= 0.0
        assert waited.startswith("exclusive:") and float(waited.split(":")[1]) >= 0.0
        assert rows["instance/inst1"][3:] == ["-", "-"]
    finally:
        stop.set()
        holder.join(10)
        waiter.join(10)
