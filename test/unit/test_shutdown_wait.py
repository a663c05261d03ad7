"""While the node waits for a guest to shut down, the job log says how long."""

import threading
import time

from ganeti.cmdlib import instance_operation, shutdown_wait
from ganeti.cmdlib.base import LogicalUnit


class _LU:
    """Collects the job log lines as LogicalUnit's helpers format them."""

    def __init__(self):
        self.lines = []
        self.feedback_fn = self.lines.append

    log_info = LogicalUnit.log_info
    log_warning = LogicalUnit.log_warning


def test_guest_ignoring_the_request_gets_reports_then_forced():
    lu = _LU()
    # timeout 0.5 s, a report every 0.15 s, the node needs 1.2 s (it forced the stop)
    result = shutdown_wait.call_with_progress(lu, "inst1", 0.5,
                                              lambda: time.sleep(1.2) or "ok",
                                              interval=0.15)
    assert result == "ok"
    waits = [l for l in lu.lines if l.startswith(" - INFO: ")]
    assert len(waits) == 3, lu.lines
    assert waits[0] == (" - INFO: Instance inst1 is not down yet; waiting 0 more"
                        " seconds before forcing it off")
    assert lu.lines[-1] == (" - WARNING: Instance inst1 did not shut down within 0"
                            " seconds, forcing it off")


def test_report_texts_count_down_in_seconds(monkeypatch):
    lu = _LU()
    clock = [1000.0]
    monkeypatch.setattr(shutdown_wait.time, "monotonic", lambda: clock[0])

    class _Done:
        """Each wait moves the clock on instead of sleeping."""

        def wait(self, seconds):
            clock[0] += seconds
            return False

    shutdown_wait._report(lu, "inst1", 120, 1000.0, _Done(), 15)
    assert lu.lines[0] == (" - INFO: Instance inst1 is not down yet; waiting 105 more"
                           " seconds before forcing it off")
    assert lu.lines[6].endswith("waiting 15 more seconds before forcing it off")
    assert lu.lines[7] == (" - WARNING: Instance inst1 did not shut down within 120"
                           " seconds, forcing it off")
    assert len(lu.lines) == 8


def test_quick_shutdown_says_nothing():
    lu = _LU()
    assert shutdown_wait.call_with_progress(lu, "inst1", 120, lambda: 7,
                                            interval=0.01) == 7
    time.sleep(0.05)
    assert lu.lines == []
    assert not [t for t in threading.enumerate() if t.name == "shutdown-progress"]


def test_failure_of_the_call_stops_the_reports():
    lu = _LU()

    def fail():
        raise RuntimeError("node unreachable")
    try:
        shutdown_wait.call_with_progress(lu, "inst1", 60, fail, interval=0.01)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the error was swallowed")
    time.sleep(0.05)
    assert lu.lines == []


class _SlowNodeRpc:
    """A node that takes a second to stop the guest (past the 0.35 s timeout)."""

    def call_instance_shutdown(self, node, inst, timeout, reason):
        time.sleep(1.0)

        class Result:
            fail_msg = None
        return Result()


class _Inst:
    name = "inst1"
    primary_node = "node1"
    forthcoming = False


def _lu_with_a_slow_node(monkeypatch, lu_class, **op_fields):
    """An ``lu_class`` (not set up by mcpu) whose node call waits; its log lines."""
    monkeypatch.setattr(shutdown_wait, "REPORT_INTERVAL", 0.1)
    lu = object.__new__(lu_class)
    lines = []
    lu.feedback_fn = lines.append
    lu.op = type("Op", (), op_fields)()
    lu.rpc, lu.instance, lu.cfg = _SlowNodeRpc(), _Inst(), None
    return lu, lines


def _assert_reported_then_forced(lines):
    assert lines[0].startswith(" - INFO: Instance inst1 is not down yet; waiting")
    assert lines[-1] == (" - WARNING: Instance inst1 did not shut down within 0 seconds,"
                         " forcing it off")


def test_shutdown_lu_reports_while_the_node_waits(monkeypatch):
    """LUInstanceShutdown.exec wraps its node call in the reports."""
    lu, lines = _lu_with_a_slow_node(monkeypatch, instance_operation.LUInstanceShutdown,
                                     timeout=0.35, no_remember=True)
    lu.primary_offline = False
    lu._node_instance = lambda inst=None: inst
    monkeypatch.setattr(instance_operation.iu, "shutdown_disks", lambda *a, **k: None)
    lu.exec(lines.append)
    _assert_reported_then_forced(lines)


def test_remove_lu_reports_while_the_node_waits(monkeypatch):
    """LUInstanceRemove.exec wraps its node call in the same reports."""
    from ganeti.cmdlib import instance as cmd_instance
    lu, lines = _lu_with_a_slow_node(monkeypatch, cmd_instance.LUInstanceRemove,
                                     shutdown_timeout=0.35, ignore_failures=False)

    class Stop(Exception):
        pass

    def stop_after_shutdown(*args, **kwargs):
        raise Stop()
    monkeypatch.setattr(cmd_instance.iu, "instance_for_node", lambda cfg, inst: inst)
    monkeypatch.setattr(cmd_instance.iu, "shutdown_disks", stop_after_shutdown)
    try:
        lu.exec(lines.append)
    except Stop:
        pass
    _assert_reported_then_forced(lines)
