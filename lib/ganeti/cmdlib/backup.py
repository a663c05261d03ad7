"""Instance exports (gnt-backup export, remove, list): the logical units.

An export is a directory EXPORT_DIR/<instance> on one node: ``config.ini``
(Ganeti's export format) and one image per disk, written by the OS's export
script. A running instance with plain or drbd disks is shut down only for
the moment its LVM snapshots take, then started again and exported from the
snapshots; disks that cannot be snapshotted (file) are exported with the
instance down, which the admin must allow with --long-sleep (Ganeti's rule).
Imports are instance creations in "import" mode (cmdlib/instance.py).
"""

import os

from ganeti import constants, errors, locking, objects, pathutils, query
from ganeti.cmdlib import disk_transfer, drbd_disks, os_params, shutdown_wait
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import NoHooksLU, expand_node_name
from ganeti.cmdlib.instance_utils import InstanceLU

EXPORT_MODE_LOCAL = "local"
EXPORT_MODE_REMOTE = "remote"
COMPRESS_NONE = "none"
# the templates whose disks an LVM snapshot can copy (Ganeti: plain, drbd, ext)
_SNAPSHOT_TYPES = (constants.DT_PLAIN, constants.DT_DRBD8)


def export_path(*parts):
    """A path in the export directory as the nodes take it (no virtual root)."""
    return os.path.join(pathutils.strip_root(pathutils.EXPORT_DIR), *parts)


def check_compression_tool(cfg, tool):
    """Ganeti's rule: "none" or one of the cluster's compression tools."""
    allowed = cfg.get_cluster_info().compression_tools or []
    if tool != COMPRESS_NONE and tool not in allowed:
        raise errors.OpPrereqError("Compression tool not allowed, tools allowed are [%s]"
                                   % ", ".join(allowed), errors.ECODE_INVAL)


class _Snapshots:
    """LVM snapshots of an instance's disks on its primary node."""

    def __init__(self, lu, feedback_fn, instance):
        self.lu = lu
        self.feedback_fn = feedback_fn
        self.instance = instance
        self.node = instance.primary_node
        self.disks = [None] * len(instance.disks)

    @property
    def ready(self):
        return all(self.disks)        # an instance without disks: nothing to take

    def create(self):
        """Snapshot every disk; whether all could be (else none is kept)."""
        if not all(d.dev_type in _SNAPSHOT_TYPES for d in self.instance.disks):
            return False
        for idx, disk in enumerate(self.instance.disks):
            self.feedback_fn("Creating a snapshot of disk/%s on node %s"
                             % (idx, self.node))
            res = self.lu.rpc.call_blockdev_snapshot(
                self.node, drbd_disks.disk_for_node(self.lu.cfg, disk, self.node),
                None, None)
            if res.fail_msg:
                self.lu.log_warning("Could not snapshot disk/%s on node %s: %s", idx,
                                    self.node, res.fail_msg)
                continue
            if not isinstance(res.data, list) or len(res.data) != 2:
                self.lu.log_warning("Could not snapshot disk/%s on node %s: invalid"
                                    " result '%s'", idx, self.node, res.data)
                continue
            self.disks[idx] = objects.Disk(
                dev_type=constants.DT_PLAIN, size=disk.size, logical_id=list(res.data),
                iv_name=disk.iv_name, name=disk.name, params={}, children=[],
                nodes=[self.node], uuid=objects.new_uuid())
        if self.ready:
            return True
        self.remove_all()
        return False

    def remove(self, idx):
        snap = self.disks[idx]
        if snap is None:
            return
        self.feedback_fn("Removing snapshot of disk/%s on node %s" % (idx, self.node))
        res = self.lu.rpc.call_blockdev_remove(self.node, snap.to_dict())
        if res.fail_msg:
            self.lu.log_warning("Could not remove snapshot for disk/%d from node %s: %s",
                                idx, self.node, res.fail_msg)
        else:
            self.disks[idx] = None

    def remove_all(self):
        for idx in range(len(self.disks)):
            self.remove(idx)


def _check_snapshot_refusal(op, error=errors.OpPrereqError):
    """An instance that cannot be snapshotted stays down for the whole copy:
    only with --long-sleep (Ganeti's rule and messages)."""
    if not op.shutdown:
        raise error("Not all disks could be snapshotted, and you requested a live"
                    " export; aborting")
    if not op.long_sleep:
        raise error("Not all disks could be snapshotted, and you did not allow the"
                    " instance to remain offline for a longer time through the"
                    " --long-sleep option; aborting")


class LUBackupExport(InstanceLU):
    """Export an instance to a node of the cluster (Ganeti's local mode)."""
    HPATH = "instance-export"

    def check_arguments(self):
        op = self.op
        if op.mode == EXPORT_MODE_REMOTE:
            raise errors.OpPrereqError("Remote exports (to another cluster) are not"
                                       " supported; export to a node of this cluster",
                                       errors.ECODE_INVAL)
        if op.zero_free_space and op.compress == COMPRESS_NONE:
            raise errors.OpPrereqError("Zeroing free space does not make sense unless"
                                       " compression is used", errors.ECODE_INVAL)
        if op.zero_free_space and not op.shutdown:
            raise errors.OpPrereqError("Unless the instance is shut down, zeroing cannot"
                                       " be used.", errors.ECODE_INVAL)

    def expand_names(self):
        InstanceLU.expand_names(self)
        self.target_node = expand_node_name(self.cfg, self.op.target_node)
        self.op.target_node = self.target_node
        # all nodes: older exports of the instance are looked for and removed
        self.needed_locks[locking.LEVEL_NODE] = locking.ALL_SET

    def declare_locks(self, level):
        """All nodes are locked already (expand_names)."""

    def build_hooks_env(self):
        return self._hook_env({
            "EXPORT_MODE": self.op.mode, "EXPORT_NODE": self.target_node,
            "EXPORT_DO_SHUTDOWN": self.op.shutdown,
            "SHUTDOWN_TIMEOUT": self.op.shutdown_timeout,
            "REMOVE_INSTANCE": str(bool(self.op.remove_instance))})

    def build_hooks_nodes(self):
        return self._hooks_on_master_primary_and(self.target_node)

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        op = self.op
        inst = self.instance
        iu.check_node_online(self.cfg, inst.primary_node)
        if op.remove_instance and inst.admin_state == constants.ADMINST_UP and \
                not op.shutdown:
            raise errors.OpPrereqError("Can not remove instance without shutting it"
                                       " down before", errors.ECODE_STATE)
        target = iu.check_node_online(self.cfg, self.target_node)
        if target.drained and not op.allow_drained:
            raise errors.OpPrereqError("Can't use drained node %s; use -f to export to"
                                       " it anyway" % self.target_node,
                                       errors.ECODE_STATE)
        if op.zero_free_space:
            # Ganeti runs a helper VM from the cluster's zeroing image; this
            # cluster has no such image
            raise errors.OpPrereqError("A zeroing image must be set for zeroing to"
                                       " work", errors.ECODE_INVAL)
        if op.zeroing_timeout_fixed is not None or \
                op.zeroing_timeout_per_mib is not None:
            raise errors.OpPrereqError("Zeroing timeout options can only be used only"
                                       " with the --zero-free-space option",
                                       errors.ECODE_INVAL)
        if op.long_sleep and not op.shutdown:
            raise errors.OpPrereqError("The long sleep option only makes sense when the"
                                       " instance can be shut down.", errors.ECODE_INVAL)
        check_compression_tool(self.cfg, op.compress)
        self.dest_ip = target.secondary_ip or target.primary_ip
        # Ganeti finds this out after shutting the instance down, and leaves it
        # down; refused here, the instance keeps running
        if self._try_snapshot() and not all(d.dev_type in _SNAPSHOT_TYPES
                                            for d in inst.disks):
            _check_snapshot_refusal(op)

    def _try_snapshot(self):
        """Snapshots serve only an instance that should run again afterwards."""
        return not self.op.remove_instance and \
            self.instance.admin_state == constants.ADMINST_UP

    def _start_instance(self, feedback_fn):
        inst = self.instance
        feedback_fn("Starting instance %s" % inst.name)
        res = self.rpc.call_instance_start(inst.primary_node, self._node_instance(),
                                           False, None)
        if res.fail_msg:
            feedback_fn("Failed to start instance: %s" % res.fail_msg)
            iu.shutdown_disks(self, inst, ignore_failures=True)
            raise errors.OpExecError("Could not start instance: %s" % res.fail_msg)

    def _shutdown(self):
        inst = self.instance
        node_inst = self._node_instance()
        res = shutdown_wait.call_with_progress(
            self, inst.name, self.op.shutdown_timeout,
            lambda: self.rpc.call_instance_shutdown(inst.primary_node, node_inst,
                                                    self.op.shutdown_timeout, None))
        res.raise_on_failure("Could not shutdown instance %s on node %s"
                             % (inst.name, inst.primary_node))

    def exec(self, feedback_fn):
        op = self.op
        inst = self.instance
        admin_up = inst.admin_state == constants.ADMINST_UP
        try_snapshot = self._try_snapshot()
        restart = op.shutdown and admin_up and not op.remove_instance
        if op.shutdown:
            feedback_fn("Shutting down instance %s" % inst.name)
            self._shutdown()
        activate = not inst.disks_active
        if activate:
            feedback_fn("Activating disks for %s" % inst.name)
            iu.assemble_disks(self, inst)
        try:
            snaps = _Snapshots(self, feedback_fn, inst)
            try:
                snapshots = try_snapshot and snaps.create()
                if try_snapshot and not snapshots:
                    _check_snapshot_refusal(op, errors.OpExecError)
                if restart and snapshots:
                    self._start_instance(feedback_fn)
                fin_ok, results = self._export(feedback_fn, snaps if snapshots else None)
                if restart and not snapshots:
                    self._start_instance(feedback_fn)
            finally:
                snaps.remove_all()
        finally:
            if activate:
                feedback_fn("Deactivating disks for %s" % inst.name)
                iu.shutdown_disks(self, inst, ignore_failures=True)
        if not (all(results) and fin_ok):
            failures = []
            if not fin_ok:
                failures.append("export finalization")
            if not all(results):
                failures.append("disk export: disk(s) %s" % ", ".join(
                    str(idx) for idx, ok in enumerate(results) if not ok))
            raise errors.OpExecError("Export failed, errors in %s" % ", ".join(failures))
        if op.remove_instance:
            feedback_fn("Removing instance %s" % inst.name)
            from ganeti.cmdlib import instance
            instance.remove_instance(self, feedback_fn, inst, op.ignore_remove_failures)
        self._cleanup_exports(feedback_fn)
        return [fin_ok, results]

    def _export(self, feedback_fn, snaps):
        """Move the disks (or their snapshots) to the target; (finalized, [ok])."""
        inst = self.instance
        src = inst.primary_node
        node_inst = os_params.instance_for_os_script(self.cfg, inst)
        transfers = []
        exported = []
        for idx, disk in enumerate(inst.disks):
            if snaps is not None:
                dev, label = snaps.disks[idx], "snapshot/%d" % idx
                spec = dev.to_dict()
            else:
                dev, label = disk, "disk/%d" % idx
                spec = drbd_disks.disk_for_node(self.cfg, disk, src)
            exported.append(dev)
            source = ["script", spec, idx] if inst.os else ["raw", spec]
            dest = ["file", export_path(inst.name + ".new", dev.uuid)]
            done = (lambda i: lambda: snaps.remove(i))(idx) if snaps else None
            transfers.append(disk_transfer.DiskTransfer(label, source, dest, done))
        results = disk_transfer.transfer_instance_data(
            self, feedback_fn, src, self.target_node, self.dest_ip, self.op.compress,
            inst, node_inst, transfers)
        if not all(results):
            self.log_warning("Some disk exports have failed; there may be leftover data"
                             " for instance %s on node %s", inst.name, self.target_node)
            return False, results
        feedback_fn("Finalizing export on %s" % self.target_node)
        res = self.rpc.call_finalize_export(self.target_node, node_inst,
                                            [d.to_dict() for d in exported])
        if res.fail_msg:
            self.log_warning("Could not finalize export for instance %s on node %s: %s",
                             inst.name, self.target_node, res.fail_msg)
            return False, results
        return True, results

    def _cleanup_exports(self, feedback_fn):
        """Remove the instance's exports from every other node."""
        name = self.instance.name
        others = [n for n in sorted(self.cfg.get_all_nodes_info())
                  if n != self.target_node]
        if not others:
            return
        feedback_fn("Removing old exports for instance %s" % name)
        for node, res in self.rpc.call_export_list(others).items():
            if res.fail_msg or name not in (res.data or []):
                continue
            msg = self.rpc.call_export_remove(node, name).fail_msg
            if msg:
                self.log_warning("Could not remove older export for instance %s on node"
                                 " %s: %s", name, node, msg)


class LUBackupRemove(NoHooksLU):
    """Remove the exports of an instance (also of one no longer in the cluster)."""
    REQ_BGL = False

    def expand_names(self):
        self.needed_locks[locking.LEVEL_NODE] = locking.ALL_SET

    def exec(self, feedback_fn):
        from ganeti.utils import text
        full = text.match_name_component(self.op.instance_name,
                                         self.cfg.get_instance_list())
        # an instance that is gone is only found under its full name
        fqdn_warn = full is None
        name = full or self.op.instance_name
        found = False
        nodes = sorted(self.glm.list_owned(locking.LEVEL_NODE))
        results = self.rpc.call_export_list(nodes)
        for node in nodes:
            res = results[node]
            if res.fail_msg:
                self.log_warning("Failed to query node %s (continuing): %s", node,
                                 res.fail_msg)
                continue
            if name in (res.data or []):
                found = True
                msg = self.rpc.call_export_remove(node, name).fail_msg
                if msg:
                    self.log_warning("Could not remove export for instance %s on node"
                                     " %s: %s", name, node, msg)
        if fqdn_warn and not found:
            feedback_fn("Export not found. If trying to remove an export belonging to a"
                        " deleted instance please use its Fully Qualified Domain Name.")


# ---- the export query (gnt-backup list) --------------------------------------------

def _export_name(_ctx, item):
    return query.NODATA if item[1] is None else item[1]


EXPORT_FIELDS = query.fields_table([
    query.Field("node", "Node", query.QFT_TEXT, "Node name", lambda c, item: item[0]),
    query.Field("export", "Export", query.QFT_TEXT, "Export name", _export_name),
])
query.register_resource(query.QR_EXPORT, EXPORT_FIELDS)


def query_exports(context, fields, qfilter):
    """One row per export and node; a node that cannot tell: one row, export
    unavailable (Ganeti's "?")."""
    nodes = sorted(context.cfg.get_all_nodes_info())
    results = context.rpc.call_export_list(nodes) if nodes else {}
    items = []
    for node in nodes:
        res = results[node]
        if res.fail_msg:
            items.append((node, None))
        else:
            items.extend((node, name) for name in res.data or [])
    return query.run_query(query.QR_EXPORT, fields, items, None, qfilter)
