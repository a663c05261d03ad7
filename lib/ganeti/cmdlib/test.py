"""Logical units for testing the machinery (OP_TEST_*)."""

import os
import socket
import tempfile
import time

from ganeti import constants, errors, locking
from ganeti.cmdlib.base import NoHooksLU, expand_node_name


class LUTestDelay(NoHooksLU):
    """Sleep on the master and/or nodes (gnt-debug delay)."""
    REQ_BGL = False

    def expand_names(self):
        self.op.on_nodes = [expand_node_name(self.cfg, n) for n in self.op.on_nodes]
        if self.op.on_nodes and not self.op.no_locks:
            self.needed_locks[locking.LEVEL_NODE] = list(self.op.on_nodes)

    def _sleep_once(self):
        if self.op.on_master:
            end = time.time() + self.op.duration
            while True:
                left = end - time.time()
                if left <= 0:
                    break
                time.sleep(min(left, 0.5))
        if self.op.on_nodes:
            result = self.rpc.call_test_delay(self.op.on_nodes, self.op.duration)
            for node, res in sorted(result.items()):
                res.raise_on_failure("Failure during rpc call to node %s" % node)

    def _interruptible_sleep(self, feedback_fn):
        """Ganeti's --interruptible: wait on a new Unix socket (its path goes to the
        job log) instead of sleeping; a client that connects and then sends a byte
        or closes ends the wait early. No node is asked. True if interrupted."""
        tmpdir = tempfile.mkdtemp(prefix="ganeti-delay-")
        path = os.path.join(tmpdir, "sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(1)
            feedback_fn(constants.ELOG_DELAY_TEST, (path,))
            listener.settimeout(max(self.op.duration, 0.001))
            start = time.time()
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                return False
        finally:
            listener.close()
            if os.path.exists(path):
                os.unlink(path)
            os.rmdir(tmpdir)
        with conn:
            left = max(self.op.duration - (time.time() - start), 0)
            feedback_fn("Received connection, time to go is %d" % left)
            conn.settimeout(max(left, 0.001))
            try:
                conn.recv(1)
            except socket.timeout:
                return False
        feedback_fn("Interrupted, time spent waiting: %d" % (time.time() - start))
        return True

    def exec(self, feedback_fn):
        total = self.op.repeat + 1
        for i in range(total):
            if total > 1:
                self.log_info("Test delay iteration %d/%d", i + 1, total)
            if not self.op.interruptible:
                self._sleep_once()
            elif self._interruptible_sleep(feedback_fn):
                break
        return None


class LUTestJqueue(NoHooksLU):
    """Log messages and optionally fail (gnt-debug test-jobqueue)."""
    REQ_BGL = False

    def exec(self, feedback_fn):
        for msg in self.op.log_messages:
            feedback_fn(constants.ELOG_JQUEUE_TEST, msg)
        if self.op.fail:
            raise errors.OpExecError("Opcode failure was requested")
        return True
