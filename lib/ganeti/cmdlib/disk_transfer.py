"""Moving disk data between two nodes (exports, imports): the master's side.

For every disk the master starts an import helper on the receiving node
(backend/impexp.import_start), waits until it listens, starts the export
helper on the sending node pointed at that port, then polls both until they
end, reporting in the job log with Ganeti's messages:

    Exporting disk/0 from node1 to node2
    disk/0 is now listening, starting export
    disk/0 is receiving data on node2
    disk/0 is sending data on node1
    disk/0 sent 280M, 46.0 MiB/s, 27%, ETA 16s
    disk/0 finished receiving data
    disk/0 finished sending data

All disks move at the same time. A transfer fails as a whole if either side
fails; the other side is then aborted. Every helper is cleaned up at the end.
"""

import hashlib
import logging
import os
import time

from ganeti.cmdlib.disk_sync import format_seconds
from ganeti.utils.text import format_unit

# seconds between two looks at the helpers, and between progress reports
# (Ganeti: 60 s; the first comes as soon as there is progress)
POLL_INTERVAL = 1.0
PROGRESS_INTERVAL = 60.0
# seconds a helper may take to write its first status / to start listening
READY_TIMEOUT = 30.0
LISTEN_TIMEOUT = 30.0

# what each side does with the data, for the log: (verb, -ing form)
_VERBS = {"import": ("receive", "receiving"), "export": ("send", "sending")}


class DiskTransfer:
    """One disk to move: a name for the log ("disk/0"), the source and the
    destination as the node procedures take them (["file", path],
    ["raw", disk] or ["script", disk, index]), and a callable run when the
    transfer ends (e.g. to remove a snapshot early)."""

    def __init__(self, name, source, dest, finished_fn=None):
        self.name = name
        self.source = source
        self.dest = dest
        self.finished_fn = finished_fn


def format_progress(mbytes, throughput, percent, eta):
    """Ganeti's "280M, 46.0 MiB/s, 27%, ETA 16s"."""
    parts = [format_unit(mbytes, "h"), "%0.1f MiB/s" % throughput]
    if percent is not None:
        parts.append("%d%%" % percent)
    if eta is not None:
        parts.append("ETA %s" % format_seconds(eta))
    return ", ".join(parts)


def _magic(base, instance_name, index):
    digest = hashlib.sha1()
    for value in ("0", base, instance_name, str(index)):
        digest.update(value.encode("utf-8"))
    return digest.hexdigest()


class _Side:
    """One helper process: its node, its name, what it last reported."""

    def __init__(self, node, mode):
        self.node = node
        self.mode = mode
        self.name = None
        self.status = None
        self.started = time.monotonic()
        self.connected_seen = False
        self.done = False
        self.success = None
        self.message = None
        self.last_progress = None


class _Job:
    """A transfer and its two sides."""

    def __init__(self, transfer, opts, component):
        self.transfer = transfer
        self.opts = opts
        self.component = component
        self.imp = None
        self.exp = None
        self.finished = False

    @property
    def success(self):
        return bool(self.imp and self.exp and self.imp.success and self.exp.success)


def transfer_instance_data(lu, feedback_fn, src_node, dest_node, dest_ip, compress,
                           instance, instance_data, transfers):
    """Move ``transfers`` (DiskTransfer, or None for a disk to skip) from
    ``src_node`` to ``dest_node`` (reached at ``dest_ip``); ``instance_data``
    is the instance as the nodes get it (for the OS scripts). Returns a bool
    per transfer (a skipped one is False)."""
    base = os.urandom(6).hex()
    jobs = []
    for idx, transfer in enumerate(transfers):
        if transfer is None:
            jobs.append(None)
            continue
        feedback_fn("Exporting %s from %s to %s" % (transfer.name, src_node, dest_node))
        opts = {"magic": _magic(base, instance.name, idx), "compress": compress}
        job = _Job(transfer, opts, "disk%d" % idx)
        job.imp = _Side(dest_node, "import")
        res = lu.rpc.call_import_start(dest_node, opts, dest_ip, instance_data,
                                       job.component, transfer.dest)
        if res.fail_msg:
            _fail(lu, job.imp, "Failed to start import on %s: %s"
                  % (dest_node, res.fail_msg))
        else:
            job.imp.name = res.data
        jobs.append(job)
    try:
        _run(lu, feedback_fn, src_node, dest_node, dest_ip, instance_data,
             [j for j in jobs if j is not None])
    finally:
        for job in jobs:
            if job is None:
                continue
            for side in (job.imp, job.exp):
                if side is not None and side.name:
                    res = lu.rpc.call_impexp_cleanup(side.node, side.name)
                    if res.fail_msg:
                        lu.log_warning("Failed to finalize %s '%s' on %s: %s",
                                       side.mode, side.name, side.node, res.fail_msg)
            _finish(job)
    return [bool(job and job.success) for job in jobs]


def _fail(lu, side, message):
    side.done = True
    side.success = False
    side.message = message
    lu.log_warning("%s", message)


def _finish(job):
    if not job.finished:
        job.finished = True
        if job.transfer.finished_fn:
            job.transfer.finished_fn()


def _collect(lu, sides):
    """{(node, name): status} of the running helpers (None: not known there)."""
    by_node = {}
    for side in sides:
        by_node.setdefault(side.node, []).append(side.name)
    found = {}
    for node, names in by_node.items():
        res = lu.rpc.call_impexp_status(node, names)
        if res.fail_msg:
            logging.warning("Failed to get helper status on %s: %s", node, res.fail_msg)
            continue
        for name, status in zip(names, res.data or []):
            found[(node, name)] = status
    return found


def _run(lu, feedback_fn, src_node, dest_node, dest_ip, instance_data, jobs):
    while True:
        running = [side for job in jobs for side in (job.imp, job.exp)
                   if side is not None and side.name and not side.done]
        if not running:
            return
        statuses = _collect(lu, running)
        for job in jobs:
            for side in (job.imp, job.exp):
                if side is None or not side.name or side.done:
                    continue
                if (side.node, side.name) in statuses:
                    side.status = statuses[(side.node, side.name)]
                _step(lu, feedback_fn, job, side, src_node, dest_node, dest_ip,
                      instance_data)
            if job.imp.done and (job.exp is None or job.exp.done):
                _finish(job)
        time.sleep(POLL_INTERVAL)


def _step(lu, feedback_fn, job, side, src_node, dest_node, dest_ip, instance_data):
    """Look at one helper's status and act on it."""
    status = side.status
    name = job.transfer.name
    now = time.monotonic()
    if status is None:
        if now - side.started > READY_TIMEOUT:
            _fail(lu, side, "%s '%s' on %s did not become ready after %d seconds"
                  % (side.mode.capitalize(), side.name, side.node, READY_TIMEOUT))
            _abort_peer(lu, job, side)
        return
    if status.get("exit_status") is not None:
        # a quick transfer may end between two looks: it did connect
        _report_connected(feedback_fn, side, status, name, src_node, dest_node)
        side.done = True
        side.success = status["exit_status"] == 0
        side.message = status.get("error_message")
        recent = "; ".join(status.get("recent_output") or [])
        verb = _VERBS[side.mode]
        if side.success:
            feedback_fn("%s finished %s data" % (name, verb[1]))
        else:
            lu.log_warning("%s '%s' on %s failed: %s", side.mode, side.name, side.node,
                           side.message)
            feedback_fn("%s failed to %s data: %s (recent output: %s)"
                        % (name, verb[0], side.message, recent))
        if not side.success:
            _abort_peer(lu, job, side)
        elif side.mode == "import" and job.exp is None:
            # an import that ends well without an export cannot be
            job.imp.success = False
        return
    if side.mode == "import" and job.exp is None:
        port = status.get("listen_port")
        if not port:
            if now - side.started > LISTEN_TIMEOUT:
                _fail(lu, side, "Import '%s' on %s is not listening after %d seconds"
                      % (side.name, side.node, LISTEN_TIMEOUT))
                lu.rpc.call_impexp_abort(side.node, side.name)
            return
        feedback_fn("%s is now listening, starting export" % name)
        job.exp = _Side(src_node, "export")
        res = lu.rpc.call_export_start(src_node, job.opts, dest_ip, port, instance_data,
                                       job.component, job.transfer.source)
        if res.fail_msg:
            _fail(lu, job.exp, "Failed to start export on %s: %s"
                  % (src_node, res.fail_msg))
            _abort_peer(lu, job, job.exp)
        else:
            job.exp.name = res.data
        return
    _report_connected(feedback_fn, side, status, name, src_node, dest_node)
    if (side.mode == "export" and status.get("progress_mbytes") is not None
            and status.get("progress_throughput") is not None
            and (side.last_progress is None
                 or now - side.last_progress >= PROGRESS_INTERVAL)):
        side.last_progress = now
        feedback_fn("%s sent %s" % (name, format_progress(
            status["progress_mbytes"], status["progress_throughput"],
            status.get("progress_percent"), status.get("progress_eta"))))


def _report_connected(feedback_fn, side, status, name, src_node, dest_node):
    if status.get("connected") and not side.connected_seen:
        side.connected_seen = True
        if side.mode == "import":
            feedback_fn("%s is receiving data on %s" % (name, dest_node))
        else:
            feedback_fn("%s is sending data on %s" % (name, src_node))


def _abort_peer(lu, job, side):
    """After one side failed, stop the other."""
    peer = job.exp if side is job.imp else job.imp
    if peer is not None and peer.name and not peer.done:
        lu.log_warning("Aborting %s '%s' on %s", peer.mode, peer.name, peer.node)
        res = lu.rpc.call_impexp_abort(peer.node, peer.name)
        if res.fail_msg:
            lu.log_warning("Failed to abort %s '%s' on %s: %s", peer.mode, peer.name,
                           peer.node, res.fail_msg)
    if side is job.imp and job.exp is None:
        job.exp = _Side(side.node, "export")
        job.exp.done = True
        job.exp.success = False
