"""Cluster-wide disk checks: verify-disks and repair-disk-sizes.

gnt-cluster verify-disks: which instances need their disks activated again.

OpClusterVerifyDisks submits one OpGroupVerifyDisks job per node group (as
Ganeti); each reports, for the instances of its group whose disks should be
active: nodes that could not be asked, instances whose volumes are inactive or
whose drbd devices are down, off the network or without local storage (a node
rebooted, a link broke), and volumes that are missing altogether. The client
(and the watcher) then run activate-disks for the instances that need it.

gnt-cluster repair-disk-sizes: the recorded size of each disk is set to the
size its primary node reports (disks that are not active there are skipped
with a warning), and a drbd disk's data volume is never recorded smaller than
the disk.
"""

from ganeti import constants, locking, opcodes
from ganeti.cmdlib import drbd_disks
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import NoHooksLU, ResultWithJobs


class LUClusterVerifyDisks(NoHooksLU):
    REQ_BGL = False

    def expand_names(self):
        if self.op.group_name:
            self.groups = [self.cfg.lookup_node_group(self.op.group_name)]
        else:
            self.groups = sorted(self.cfg.get_all_node_groups_info())
        self.needed_locks[locking.LEVEL_NODEGROUP] = list(self.groups)
        self.share_locks[locking.LEVEL_NODEGROUP] = 1

    def exec(self, feedback_fn):
        return ResultWithJobs([[opcodes.OpGroupVerifyDisks(group_name=group)]
                               for group in self.groups])


def instance_lvs(instance):
    """{(node, "vg/lv")} of the instance's LVM volumes (drbd: on both nodes)."""
    result = set()

    def walk(disk, nodes):
        if disk.dev_type == constants.DT_PLAIN:
            for node in nodes:
                result.add((node, "%s/%s" % tuple(disk.logical_id)))
        for child in disk.children or []:
            walk(child, nodes)

    for disk in instance.disks:
        walk(disk, disk.nodes or [instance.primary_node])
    return result


class LUGroupVerifyDisks(NoHooksLU):
    REQ_BGL = False

    def expand_names(self):
        self.group_uuid = self.cfg.lookup_node_group(self.op.group_name)
        nodes = self.cfg.get_all_nodes_info()
        members = set(n for n, node in nodes.items() if node.group == self.group_uuid)
        instances = [inst for inst in self.cfg.get_all_instances_info().values()
                     if members.intersection(inst.all_nodes)]
        self.needed_locks[locking.LEVEL_INSTANCE] = sorted(i.name for i in instances)
        self.needed_locks[locking.LEVEL_NODEGROUP] = [self.group_uuid]
        self.needed_locks[locking.LEVEL_NODE] = sorted(
            members.union(*[set(i.all_nodes) for i in instances]))
        for level in (locking.LEVEL_INSTANCE, locking.LEVEL_NODEGROUP, locking.LEVEL_NODE):
            self.share_locks[level] = 1

    def check_prereq(self):
        self.instances = {}
        for name in self.needed_locks[locking.LEVEL_INSTANCE]:
            inst = self.cfg.get_instance_info(name)
            if inst is not None:
                self.instances[name] = inst
        self.nodes = dict((name, self.cfg.get_node_info(name))
                          for name in self.needed_locks[locking.LEVEL_NODE])

    def _usable(self, name):
        node = self.nodes.get(name)
        return node is not None and not node.offline and node.vm_capable

    def exec(self, feedback_fn):
        node_errors, to_activate, missing = {}, set(), {}
        active = [inst for inst in self.instances.values() if inst.disks_active]
        self._check_volumes(active, node_errors, to_activate, missing)
        self._check_drbd(active, node_errors, to_activate)
        return [node_errors, sorted(to_activate), missing]

    def _check_volumes(self, active, node_errors, to_activate, missing):
        wanted = {}
        for inst in active:
            for key in instance_lvs(inst):
                wanted[key] = inst.name
        if not wanted:
            return
        nodes = sorted(n for n in set(node for node, _ in wanted) if self._usable(n))
        vg = self.cfg.get_cluster_info().volume_group_name
        vgs = set(lv.split("/", 1)[0] for _, lv in wanted) | set([vg])
        found = dict((node, {}) for node in nodes)
        for vg_name in sorted(vgs):         # one call to all the nodes per VG
            results = self.rpc.call_node_verify(nodes, {"lvlist": {"vg": vg_name}},
                                                self.cfg.get_cluster_name())
            for node in nodes:
                res = results.get(node)
                data = None if res is None or res.fail_msg else \
                    (res.data or {}).get("lvlist")
                if isinstance(data, dict):
                    found[node].update(data)
                elif node not in node_errors:
                    node_errors[node] = (res.fail_msg if res is not None and res.fail_msg
                                         else str(data))
        for (node, lv), inst_name in list(wanted.items()):
            if node in found and node not in node_errors and lv in found[node]:
                del wanted[(node, lv)]
                if not found[node][lv][1]:
                    to_activate.add(inst_name)
        for (node, lv), inst_name in sorted(wanted.items()):
            if self._usable(node) or node in node_errors:
                missing.setdefault(inst_name, []).append([node, lv])

    def _check_drbd(self, active, node_errors, to_activate):
        per_node = {}
        for inst in active:
            for disk in inst.disks:
                if disk.dev_type != constants.DT_DRBD8:
                    continue
                for node in disk.nodes:
                    per_node.setdefault(node, []).append((inst, disk))
        for node, pairs in sorted(per_node.items()):
            if not self._usable(node) or node in node_errors:
                continue
            res = self.rpc.call_drbd_needs_activation(
                node, [drbd_disks.disk_for_node(self.cfg, disk, node)
                       for _, disk in pairs])
            if res.fail_msg:
                node_errors[node] = res.fail_msg
                continue
            faulty = set(res.data or [])
            for inst, disk in pairs:
                if disk.uuid in faulty:
                    to_activate.add(inst.name)



class LUClusterRepairDiskSizes(NoHooksLU):
    REQ_BGL = False

    def expand_names(self):
        if self.op.instances:
            self.names = sorted(set(iu.expand_instance_name(self.cfg, name)
                                    for name in self.op.instances))
        else:
            self.names = sorted(self.cfg.get_instance_list())
        self.needed_locks[locking.LEVEL_INSTANCE] = self.names
        self.needed_locks[locking.LEVEL_NODE_RES] = []
        self.share_locks[locking.LEVEL_NODE_RES] = 1

    def declare_locks(self, level):
        if level == locking.LEVEL_NODE_RES:
            self.needed_locks[level] = sorted(set(
                iu.get_instance(self.cfg, name).primary_node for name in self.names))

    def check_prereq(self):
        self.instances = [iu.get_instance(self.cfg, name) for name in self.names]

    def exec(self, feedback_fn):
        per_node = {}
        for inst in self.instances:
            for idx, disk in enumerate(inst.disks):
                if disk.forthcoming:
                    continue        # only reserved: nothing on the node to measure
                per_node.setdefault(inst.primary_node, []).append((inst, idx, disk))
        changed = []
        for node, entries in sorted(per_node.items()):
            res = self.rpc.call_blockdev_getdimensions(
                node, [drbd_disks.disk_for_node(self.cfg, disk, node)
                       for _, _, disk in entries])
            if res.fail_msg or not isinstance(res.data, list) \
                    or len(res.data) != len(entries):
                self.log_warning("Failure in blockdev_getdimensions call to node %s,"
                                 " ignoring", node)
                continue
            for (inst, idx, disk), dims in zip(entries, res.data):
                if not dims or not isinstance(dims[0], int):
                    self.log_warning("Disk %d of instance %s did not return size"
                                     " information, ignoring", idx, inst.name)
                    continue
                size = dims[0] >> 20
                fixed = False
                if size != disk.size:
                    self.log_info("Disk %d of instance %s has mismatched size,"
                                  " correcting: recorded %d, actual %d", idx, inst.name,
                                  disk.size, size)
                    disk.size = size
                    changed.append([inst.name, idx, "size", size])
                    fixed = True
                if iu.exclusive_storage(self.cfg, node):
                    spindles = dims[1] if len(dims) > 1 else None
                    if spindles is None:
                        self.log_warning("Disk %d of instance %s did not return valid"
                                         " spindles information, ignoring", idx,
                                         inst.name)
                    elif disk.spindles != spindles:
                        self.log_info("Disk %d of instance %s has mismatched spindles,"
                                      " correcting: recorded %s, actual %s", idx,
                                      inst.name, disk.spindles, spindles)
                        disk.spindles = spindles
                        changed.append([inst.name, idx, "spindles", spindles])
                        fixed = True
                if self._ensure_child_sizes(disk):
                    changed.append([inst.name, idx, "size", disk.size])
                    fixed = True
                if fixed:
                    self._store(inst.name, idx, disk)
        return changed

    def _ensure_child_sizes(self, disk):
        """A drbd disk's data volume is at least the disk's size (Ganeti's fix)."""
        if disk.dev_type != constants.DT_DRBD8 or not disk.children:
            return False
        data = disk.children[0]
        if data.size >= disk.size:
            return False
        self.log_info("Child disk has size %d, parent %d, fixing", data.size, disk.size)
        data.size = disk.size
        return True

    def _store(self, name, idx, disk):
        inst = self.cfg.get_instance_info(name)
        inst.disks[idx].size = disk.size
        inst.disks[idx].spindles = disk.spindles
        if disk.children:
            inst.disks[idx].children[0].size = disk.children[0].size
        self.cfg.update(inst)
