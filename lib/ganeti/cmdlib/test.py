"""Logical units for testing the machinery (OP_TEST_*)."""

import contextlib
import os
import shutil
import socket
import tempfile
import time

from ganeti import constants, errors, locking
from ganeti.cmdlib.base import NoHooksLU, expand_node_names


@contextlib.contextmanager
def _listening_socket(prefix: str):
    """(listener, path): a Unix socket listening in a new private directory; the
    socket and the directory are gone once the block ends (a test client is
    expected to have connected by then)."""
    tmpdir = tempfile.mkdtemp(prefix=prefix)
    path = os.path.join(tmpdir, "sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(1)
        yield listener, path
    finally:
        listener.close()
        shutil.rmtree(tmpdir, ignore_errors=True)


class LUTestDelay(NoHooksLU):
    """Sleep on the master and/or nodes (gnt-debug delay)."""
    REQ_BGL = False

    def expand_names(self):
        # nodes given by UUID (Ganeti's internal form) join those given by name
        self.op.on_nodes = expand_node_names(self.cfg, self.op.on_nodes,
                                             self.op.on_node_uuids)
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
        with _listening_socket("ganeti-delay-") as (listener, path):
            feedback_fn(constants.ELOG_DELAY_TEST, (path,))
            listener.settimeout(max(self.op.duration, 0.001))
            start = time.time()
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                return False
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
        # as Ganeti: repeat 0 sleeps once, N > 0 sleeps N times (iterations 0..N-1)
        total = max(self.op.repeat, 1)
        for i in range(total):
            if self.op.repeat:
                self.log_info("Test delay iteration %d/%d", i, total - 1)
            if not self.op.interruptible:
                self._sleep_once()
            elif self._interruptible_sleep(feedback_fn):
                break
        return None


# Job queue test notifications (Ganeti's names): the test reached expand_names
# (the job still waits for its locks) or exec (it runs).
JQT_EXPANDNAMES = "expandnames"
JQT_EXEC = "exec"
# How long a notification waits for the client to connect, then to confirm (as Ganeti)
_NOTIFY_CONNECT_TIMEOUT = 20.0
_NOTIFY_CONFIRM_TIMEOUT = 60.0


def notify_over_socket(feedback_fn, test: str, errcls: type) -> None:
    """Ganeti's job queue test notification: log (socket path, test, None) as a
    jqueue-test message, wait for a client to connect to that Unix socket, then
    for it to send a byte or close. ``errcls`` is raised when it does not."""
    with _listening_socket("ganeti-jqtest-") as (listener, path):
        feedback_fn(constants.ELOG_JQUEUE_TEST, (path, test, None))
        listener.settimeout(_NOTIFY_CONNECT_TIMEOUT)
        try:
            conn, _ = listener.accept()
        except OSError as err:
            raise errcls("Client didn't connect in time (%s)" % err)
    with conn:
        conn.settimeout(_NOTIFY_CONFIRM_TIMEOUT)
        try:
            conn.recv(1)
        except OSError as err:
            raise errcls("Client failed to confirm notification (%s)" % err)


class LUTestJqueue(NoHooksLU):
    """Log messages and optionally fail (gnt-debug test-jobqueue).

    notify_waitlock / notify_exec: notify a client over a Unix socket from
    expand_names (before the master node's lock is taken) and from exec, so it
    can check the job's status at those points (as Ganeti's test opcode).
    """
    REQ_BGL = False

    def expand_names(self):
        if self.op.notify_waitlock:
            notify_over_socket(self.feedback_fn, JQT_EXPANDNAMES, errors.OpPrereqError)
        # a lock to wait for, as in Ganeti: the master node's
        self.needed_locks[locking.LEVEL_NODE] = [self.cfg.get_master_node()]

    def exec(self, feedback_fn):
        if self.op.notify_exec:
            notify_over_socket(feedback_fn, JQT_EXEC, errors.OpExecError)
        for msg in self.op.log_messages:
            feedback_fn(constants.ELOG_JQUEUE_TEST, msg)
        if self.op.fail:
            raise errors.OpExecError("Opcode failure was requested")
        return True


class LUTestOsParams(NoHooksLU):
    """Feed the secret OS parameters back (gnt-debug test-osparams), in
    Ganeti's words; the job file keeps the message with the values redacted
    (jqueue.job.QueuedOpCode.serialize)."""
    REQ_BGL = False

    def expand_names(self):
        self.needed_locks = {}

    def exec(self, feedback_fn):
        from ganeti.cmdlib import os_params
        secrets = os_params.secrets_of(self.op)
        if not secrets:
            raise errors.OpExecError("Opcode needs secret parameters")
        feedback_fn("Secret OS parameters: %s" % secrets)


class LUTestAllocator(NoHooksLU):
    """gnt-debug iallocator: the input of a request, or an allocator's raw answer."""
    REQ_BGL = False

    def expand_names(self):
        self.needed_locks = {}

    def check_prereq(self):
        from ganeti.cmdlib import instance_utils as iu
        op = self.op
        if op.mode == "allocate":
            if self.cfg.get_instance_info(op.name):
                raise errors.OpPrereqError("Instance '%s' already in the cluster"
                                           % op.name, errors.ECODE_EXISTS)
            for row in op.disks or []:
                if not (isinstance(row, dict) and isinstance(row.get("size"), int)
                        and row.get("mode") in ("rw", "ro")):
                    raise errors.OpPrereqError("Invalid contents of the 'disks'"
                                               " parameter", errors.ECODE_INVAL)
            if op.hypervisor is None:
                op.hypervisor = self.cfg.get_cluster_info().enabled_hypervisors[0]
        elif op.mode == "relocate":
            self.instance = iu.get_instance(self.cfg,
                                            iu.expand_instance_name(self.cfg, op.name))
        elif op.mode in ("change-group", "node-evacuate"):
            if not op.instances:
                raise errors.OpPrereqError("Missing instances", errors.ECODE_INVAL)
            op.instances = [iu.expand_instance_name(self.cfg, n) for n in op.instances]
        else:
            raise errors.OpPrereqError("Allocator requests of type '%s' are not"
                                       " supported yet" % op.mode, errors.ECODE_INVAL)
        if op.direction == "out" and op.iallocator is None:
            raise errors.OpPrereqError("Missing allocator name", errors.ECODE_INVAL)

    def exec(self, feedback_fn):
        from ganeti import serializer
        from ganeti.cmdlib import iallocator
        op = self.op
        if op.mode == "allocate":
            request = iallocator.allocate_request(
                op.name, op.disk_template, op.disks or [], op.nics or [],
                {"maxmem": op.memory or 0, "vcpus": op.vcpus or 1,
                 "spindle_use": op.spindle_use}, op.os, op.tags, op.hypervisor,
                group_name=op.group_name)
        elif op.mode == "relocate":
            request = iallocator.relocate_request(self.instance,
                                                  self.instance.secondary_nodes)
        elif op.mode == "change-group":
            request = iallocator.change_group_request(op.instances,
                                                      op.target_groups or [])
        else:
            request = iallocator.node_evacuate_request(op.instances, op.evac_mode)
        if op.direction == "in":
            return serializer.dump_json(iallocator.build_input(self, request,
                                                               op.disk_template))
        return iallocator.run_raw(self, op.iallocator, request, op.disk_template)
