"""Logical units for testing the machinery (OP_TEST_*)."""

import time

from ganeti import constants, errors, locking
from ganeti.cmdlib.base import NoHooksLU, expand_node_name


class LUTestDelay(NoHooksLU):
    """Sleep on the master and/or nodes (gnt-debug delay)."""
    REQ_BGL = False

    def check_arguments(self):
        if self.op.interruptible:
            raise errors.OpPrereqError("An interruptible delay (a socket to interrupt"
                                       " it) is not supported yet", errors.ECODE_INVAL)

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

    def exec(self, feedback_fn):
        total = self.op.repeat + 1
        for i in range(total):
            if total > 1:
                self.log_info("Test delay iteration %d/%d", i + 1, total)
            self._sleep_once()
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
