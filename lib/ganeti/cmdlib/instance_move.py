"""gnt-instance move: copy an instance with plain or file disks to another node.

The instance is shut down, disks like its own are made on the target node,
the data is copied disk by disk over the import/export transport
(cmdlib/disk_transfer, raw devices on both ends), the configuration then
names the target as primary, the old disks are removed and the instance is
started again if it was marked up. A failed copy removes the new disks and
leaves the instance where it was.
"""

from ganeti import constants, errors, locking
from ganeti.cmdlib import backup, disk_transfer, drbd_disks, ipolicy, shutdown_wait
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import expand_node_name
from ganeti.cmdlib.instance_utils import InstanceLU

# Ganeti's DTS_COPYABLE
COPYABLE_TYPES = (constants.DT_PLAIN, constants.DT_FILE)


def _moved(instance, target):
    """A copy of ``instance`` living on ``target``: its disks there."""
    moved = instance.copy()
    moved.primary_node = target
    for disk in moved.disks:
        disk.nodes = [target]
    return moved


class LUInstanceMove(InstanceLU):
    HPATH = "instance-move"

    def expand_names(self):
        InstanceLU.expand_names(self)
        self.target_node = expand_node_name(self.cfg, self.op.target_node)
        self.op.target_node = self.target_node

    def declare_locks(self, level):
        if level in (locking.LEVEL_NODE, locking.LEVEL_NODE_RES):
            inst = iu.get_instance(self.cfg, self.instance_name)
            self.needed_locks[level] = [inst.primary_node, self.target_node]

    def build_hooks_env(self):
        return self._hook_env({"TARGET_NODE": self.target_node,
                               "SHUTDOWN_TIMEOUT": self.op.shutdown_timeout})

    def build_hooks_nodes(self):
        return self._hooks_on_master_primary_and(self.target_node)

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        inst = self.instance
        for idx, disk in enumerate(inst.disks):
            if disk.dev_type not in COPYABLE_TYPES:
                raise errors.OpPrereqError("Instance disk %d has disk type %s and is not"
                                           " suitable for copying" % (idx, disk.dev_type),
                                           errors.ECODE_STATE)
        if self.target_node == inst.primary_node:
            raise errors.OpPrereqError("Instance %s is already on the node %s"
                                       % (inst.name, self.target_node),
                                       errors.ECODE_STATE)
        target = iu.check_node_online(self.cfg, self.target_node)
        if target.drained:
            raise errors.OpPrereqError("Can't use drained node %s" % self.target_node,
                                       errors.ECODE_STATE)
        if not target.vm_capable:
            raise errors.OpPrereqError("Can't use non-vm_capable node %s"
                                       % self.target_node, errors.ECODE_STATE)
        ipolicy.check_target_node_ipolicy(self, inst, self.target_node,
                                          self.op.ignore_ipolicy)
        backup.check_compression_tool(self.cfg, self.op.compress)
        cluster = self.cfg.get_cluster_info()
        if inst.admin_state == constants.ADMINST_UP:
            iu.check_node_free_memory(self, self.target_node, "failing over instance %s"
                                      % inst.name, cluster.fill_be(inst)[
                                          constants.BE_MAXMEM], inst.hypervisor)
        else:
            self.log_info("Not checking memory on the secondary node as instance will"
                          " not be started")
        iu.check_bridges(self, inst, self.target_node)
        iu.check_storage_space(self, self.target_node, self._space_needed(cluster))
        self.dest_ip = target.secondary_ip or target.primary_ip

    def _space_needed(self, cluster):
        needed = {}
        for disk in self.instance.disks:
            if disk.dev_type == constants.DT_PLAIN:
                unit = (constants.ST_LVM_VG, disk.logical_id[0])
            else:
                unit = (constants.ST_FILE, cluster.file_storage_dir)
            needed[unit] = needed.get(unit, 0) + disk.size
        return needed

    def exec(self, feedback_fn):
        inst = self.instance
        source, target = inst.primary_node, self.target_node
        self.log_info("Shutting down instance %s on source node %s", inst.name, source)
        node_inst = self._node_instance()
        res = shutdown_wait.call_with_progress(
            self, inst.name, self.op.shutdown_timeout,
            lambda: self.rpc.call_instance_shutdown(source, node_inst,
                                                    self.op.shutdown_timeout, None))
        if res.fail_msg:
            if not self.op.ignore_consistency:
                raise errors.OpExecError("Could not shutdown instance %s on node %s: %s"
                                         % (inst.name, source, res.fail_msg))
            self.log_warning("Could not shutdown instance %s on node %s. Proceeding"
                             " anyway. Please make sure node %s is down. Error details:"
                             " %s", inst.name, source, source, res.fail_msg)
        moved = _moved(inst, target)
        try:
            iu.create_disks(self, moved)
        except errors.OpExecError:
            self.log_warning("Device creation failed")
            raise
        # the source disks are read where they are (activated if need be)
        iu.assemble_disks(self, inst)
        transfers = [disk_transfer.DiskTransfer(
            "disk/%d" % idx, ["raw", drbd_disks.disk_for_node(self.cfg, disk, source)],
            ["raw", drbd_disks.disk_for_node(self.cfg, moved.disks[idx], target)])
            for idx, disk in enumerate(inst.disks)]
        results = disk_transfer.transfer_instance_data(
            self, feedback_fn, source, target, self.dest_ip, self.op.compress, inst,
            None, transfers)
        if not all(results):
            self.log_warning("Some disks failed to copy, aborting")
            iu.remove_disks(self, moved)
            raise errors.OpExecError("Errors during disk copy: Failed to transfer instance"
                                     " data")
        iu.shutdown_disks(self, inst, ignore_failures=True)
        current = self.cfg.get_instance_info(inst.name)
        current.primary_node = target
        for disk in current.disks:
            disk.nodes = [target]
        current.disks_active = False
        self.cfg.update(current)
        self.instance = current
        self.log_info("Removing the disks on the original node")
        iu.remove_disks(self, inst)
        if current.admin_state == constants.ADMINST_UP:
            self.log_info("Starting instance %s on node %s", current.name, target)
            try:
                iu.assemble_disks(self, current, ignore_secondaries=True)
            except errors.OpExecError:
                iu.shutdown_disks(self, current, ignore_failures=True)
                raise errors.OpExecError("Can't activate the instance's disks")
            res = self.rpc.call_instance_start(target, self._node_instance(current),
                                               False, None)
            if res.fail_msg:
                iu.shutdown_disks(self, current, ignore_failures=True)
                raise errors.OpExecError("Could not start instance %s on node %s: %s"
                                         % (current.name, target, res.fail_msg))
