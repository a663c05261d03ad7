"""The opcode processor: runs one opcode through its logical unit.

Sequence per opcode: check_arguments (in the LU constructor), expand_names,
declare_locks level by level and acquire in level order, check_prereq, pre
hooks, exec, post hooks. Locks are released when the opcode ends, whatever
happened.
"""

import logging
import time

from ganeti import constants, errors, hooks, locking
from ganeti import cmdlib
from ganeti.cmdlib.base import ResultWithJobs

# Timeouts of the successive lock attempts; after them acquisition blocks.
# Between attempts the job checks whether it was canceled.
_LOCK_ATTEMPT_TIMEOUTS = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 75.0]


def _lock_attempts():
    for timeout in _LOCK_ATTEMPT_TIMEOUTS:
        yield timeout
    while True:
        yield constants.LOCK_ATTEMPTS_MAXWAIT


class Processor:
    """Executes opcodes for the job queue (one call per opcode)."""

    def __init__(self, context):
        self.context = context

    def execute_opcode(self, op, cbs):
        lu_class = cmdlib.get_lu_class(op)
        glm = self.context.glm

        def feedback(*args):
            cbs.feedback(*args)

        lu = lu_class(self, op, self.context, feedback)
        try:
            level = locking.LEVEL_CLUSTER
            self._acquire(glm, level, [locking.BGL], not lu.REQ_BGL, cbs)
            lu.expand_names()
            for level in locking.LEVELS[1:]:
                lu.declare_locks(level)
                needed = lu.needed_locks.get(level)
                if needed is None and level not in lu.needed_locks:
                    continue
                self._acquire(glm, level, needed, bool(lu.share_locks.get(level)), cbs)
            cbs.notify_start()
            return self._run_lu(lu, op, feedback, cbs)
        except BaseException:
            lu.abort()
            raise
        finally:
            glm.release_all()

    def _acquire(self, glm, level, names, shared, cbs):
        """Acquire with growing timeouts, checking for cancel in between (the
        locks show the wait as one, from the first attempt on)."""
        if names is not None and not names:
            return
        since = time.monotonic()
        for timeout in _lock_attempts():
            cbs.check_cancel()
            got = glm.acquire(level, names, shared=shared, timeout=timeout,
                              priority=cbs.current_priority(), waiting_since=since)
            if got is not None:
                return got
            logging.debug("Lock attempt at level %s timed out after %.1fs, retrying",
                          locking.LEVEL_NAMES[level], timeout)

    @staticmethod
    def _submit_jobs(result, cbs):
        """Submit the jobs an LU asked for; the opcode's result names them."""
        if constants.JOB_IDS_KEY in result.other:
            raise errors.ProgrammerError("An LU result may not use the key '%s'"
                                         % constants.JOB_IDS_KEY)
        jobs = [[op.to_dict() for op in ops] for ops in result.jobs]
        other = dict(result.other)
        other[constants.JOB_IDS_KEY] = cbs.submit_many_jobs(jobs) if jobs else []
        return other

    def _run_lu(self, lu, op, feedback, cbs):
        lu.check_prereq()
        hm = None
        if lu.HPATH:
            pre_nodes, post_nodes = lu.build_hooks_nodes()
            cfg = self.context.cfg
            hm = hooks.HooksMaster(op.OP_ID, lu.HPATH, lu.HTYPE, lu.build_hooks_env,
                                   pre_nodes, post_nodes, self.context.rpc,
                                   cfg.get_cluster_name(), cfg.get_master_node(),
                                   feedback, post_env_fn=lu.build_hooks_post_env)
            lu.hooks_master = hm
        if hm:
            hm.run_phase(constants.HOOKS_PHASE_PRE)
        if op.dry_run:
            lu.log_info("dry-run mode requested, not actually executing the operation")
            lu.abort()          # what the checks took (a new name's lock) is freed
            return None
        start = time.time()
        result = lu.exec(feedback)
        logging.debug("%s executed in %.3fs", op.OP_ID, time.time() - start)
        if isinstance(result, ResultWithJobs):
            result = self._submit_jobs(result, cbs)
        if hm:
            try:
                post = hm.run_phase(constants.HOOKS_PHASE_POST, quiet=lu.REPORTS_HOOKS)
            except errors.GenericError as err:
                feedback("Warning: post hooks failed: %s" % err)
            else:
                result = lu.hooks_callback(constants.HOOKS_PHASE_POST, post, feedback,
                                           result)
        if op.OP_RESULT is not None and not op.OP_RESULT(result):
            raise errors.OpResultError("Opcode %s returned an invalid result (%r), expected"
                                       " %s" % (op.OP_ID, result, op.OP_RESULT.desc))
        return result
