"""gnt-instance recreate-disks: make a stopped instance's disks anew, empty.

For disks that were lost (a node's storage failed): the selected disks (all by
default, optionally with a new size or mode) are created again on the
instance's nodes, or on new nodes given with -n (then all disks, and drbd disks
get minors there; the port and secret stay). A disk whose storage still exists
is not touched: its creation fails, as in Ganeti. A failure removes what this
job made; the configuration changes only once every disk was created.
"""

from ganeti import constants, errors, locking, objects
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import expand_node_name
from ganeti.cmdlib.instance_utils import InstanceLU

_MODIFIABLE = frozenset(["size", "mode", "spindles"])


class LUInstanceRecreateDisks(InstanceLU):
    HPATH = "instance-recreate-disks"

    def check_arguments(self):
        changes = {}
        for entry in self.op.disks or []:
            idx, params = (entry, {}) if isinstance(entry, int) else entry
            if idx in changes:
                raise errors.OpPrereqError("Some disks have been specified more than"
                                           " once: %s" % idx, errors.ECODE_INVAL)
            unsupported = sorted(set(params) - _MODIFIABLE)
            if unsupported:
                raise errors.OpPrereqError("Parameters for disk %s try to change"
                                           " unmodifyable parameter(s): %s"
                                           % (idx, ", ".join(unsupported)),
                                           errors.ECODE_INVAL)
            if "size" in params and (not isinstance(params["size"], int)
                                     or params["size"] <= 0):
                raise errors.OpPrereqError("Invalid size %r for disk %s"
                                           % (params["size"], idx), errors.ECODE_INVAL)
            if "mode" in params and params["mode"] not in ("rw", "ro"):
                raise errors.OpPrereqError("Invalid mode %r for disk %s (rw or ro)"
                                           % (params["mode"], idx), errors.ECODE_INVAL)
            if "spindles" in params:
                params = dict(params, spindles=iu.check_spindles_value(
                    params["spindles"], idx))
            changes[idx] = dict(params)
        self.changes = changes
        if (self.op.iallocator or self.op.nodes) and \
                iu.check_iallocator_or_node(self, self.op.nodes):
            raise errors.OpPrereqError("Choosing new nodes for recreate-disks with an"
                                       " iallocator is not supported yet; give them"
                                       " with -n", errors.ECODE_INVAL)

    def expand_names(self):
        super().expand_names()
        self.new_nodes = [expand_node_name(self.cfg, n) for n in self.op.nodes or []]

    def declare_locks(self, level):
        super().declare_locks(level)
        if level in (locking.LEVEL_NODE, locking.LEVEL_NODE_RES) and self.new_nodes:
            self.needed_locks[level] = list(dict.fromkeys(
                self.needed_locks[level] + self.new_nodes))

    def check_prereq(self):
        super().check_prereq()
        inst = self.instance
        if self.new_nodes:
            if len(self.new_nodes) != len(inst.all_nodes):
                raise errors.OpPrereqError("Instance %s currently has %d nodes, but %d"
                                           " replacement nodes were specified"
                                           % (inst.name, len(inst.all_nodes),
                                              len(self.new_nodes)), errors.ECODE_INVAL)
            if len(set(self.new_nodes)) != len(self.new_nodes):
                raise errors.OpPrereqError("The new nodes must differ",
                                           errors.ECODE_INVAL)
            primary = self.new_nodes[0]
        else:
            primary = inst.primary_node
        iu.check_node_online(self.cfg, primary)
        for node in self.new_nodes[1:]:
            iu.check_node_online(self.cfg, node)
        if not inst.disks:
            raise errors.OpPrereqError("Instance '%s' has no disks" % inst.name,
                                       errors.ECODE_INVAL)
        old_primary = self.cfg.get_node_info(inst.primary_node)
        if not (self.new_nodes and old_primary.offline):
            iu.check_instance_stopped(self, inst, "cannot recreate disks")
        self.indices = sorted(self.changes) or list(range(len(inst.disks)))
        if self.indices[-1] >= len(inst.disks):
            raise errors.OpPrereqError("Invalid disk index '%s'" % self.indices[-1],
                                       errors.ECODE_INVAL)
        if self.new_nodes and self.indices != list(range(len(inst.disks))):
            raise errors.OpPrereqError("Can't recreate disks partially and change the"
                                       " nodes at the same time", errors.ECODE_INVAL)
        # spindles may be given only with exclusive storage (not required: the
        # disk keeps its own)
        iu.check_exclusive_storage(self.cfg, self.new_nodes or inst.all_nodes, None,
                                   list(self.changes.values()), required=False)

    def build_hooks_env(self):
        return self._hook_env({})

    def exec(self, feedback_fn):
        inst = objects.Instance.from_dict(self.instance.to_dict())
        if self.new_nodes:
            minors = self._new_minors(inst)
            self.log_warning("Changing the instance's nodes, you will have to remove"
                             " any disks left on the older nodes manually")
            inst.primary_node = self.new_nodes[0]
        for idx in self.indices:
            disk = inst.disks[idx]
            params = self.changes.get(idx, {})
            if "size" in params:
                disk.size = params["size"]
                if disk.dev_type == constants.DT_DRBD8 and disk.children:
                    disk.children[0].size = params["size"]
            if "mode" in params:
                disk.mode = params["mode"]
            if "spindles" in params:
                disk.spindles = params["spindles"]
            if self.new_nodes:
                self._move_disk(disk, minors)
        # the new layout is stored only once all of it exists; the new disks
        # are then as active as the old ones were
        was_active = self.instance.disks_active
        iu.create_disks(self, inst, self.indices)
        iu.shutdown_disks(self, inst, ignore_failures=True)
        stored = self.cfg.get_instance_info(inst.name)
        stored.primary_node = inst.primary_node
        stored.disks = inst.disks
        self.cfg.update(stored)
        if was_active:
            iu.assemble_disks(self, stored)
        return None

    def _new_minors(self, inst):
        """One minor per drbd disk on each new node."""
        drbd = [d for d in inst.disks if d.dev_type == constants.DT_DRBD8]
        if not drbd:
            return []
        wanted = []
        for _ in drbd:
            wanted.extend(self.new_nodes)
        minors = self.cfg.allocate_drbd_minors(wanted)
        return [minors[i:i + 2] for i in range(0, len(minors), 2)]

    def _move_disk(self, disk, minors):
        disk.nodes = list(self.new_nodes)
        for child in disk.children or []:
            child.nodes = list(self.new_nodes)
        if disk.dev_type == constants.DT_DRBD8:
            minor_a, minor_b = minors.pop(0)
            _, _, port, _, _, secret = disk.logical_id
            disk.logical_id = [self.new_nodes[0], self.new_nodes[1], port, minor_a,
                               minor_b, secret]
