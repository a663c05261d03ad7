"""gnt-instance replace-disks: new storage under a drbd disk, or a new secondary.

Same node (``-p``, ``-s``, ``-a``): new data and metadata volumes are made on
the target node, the drbd device there lets go of its old volumes (it goes on
through its peer), the old volumes get a ``_replaced-<time>`` name, the new
ones take the old names and are attached with fresh metadata, so the peer
copies all of the data onto them; the old volumes go once the mirror is in sync.

New secondary (``-n``): the volumes and a drbd half without network are made
on the new node, the old secondary's half is shut down, the primary leaves the
network, the config points at the new node, and both halves connect: the new
one receives all of the data. The old secondary's volumes go at the end.

The steps and their job log lines are Ganeti's (TLReplaceDisks).
"""

import time
import uuid

from ganeti import constants, errors, locking, objects
from ganeti.cmdlib import drbd_disks, ipolicy
from ganeti.cmdlib import iallocator
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import expand_node_name
from ganeti.cmdlib.disk_sync import wait_for_sync
from ganeti.cmdlib.instance_utils import InstanceLU

STEPS = 6


def _lv_copy(lv, logical_id=None):
    copy = objects.Disk.from_dict(lv.to_dict())
    if logical_id is not None:
        copy.logical_id = list(logical_id)
    return copy


class LUInstanceReplaceDisks(InstanceLU):
    HPATH = "mirrors-replace"
    # a forthcoming instance's new secondary is a change of its configuration only
    ALLOW_FORTHCOMING = True

    def check_arguments(self):
        self.allocator = None
        mode = self.op.mode
        if mode == constants.REPLACE_DISK_CHG:
            if self.op.remote_node is None and self.op.iallocator is None:
                raise errors.OpPrereqError("When changing the secondary either an"
                                           " iallocator script must be used or the"
                                           " new node given", errors.ECODE_INVAL)
            self.allocator = iu.check_iallocator_or_node(self, self.op.remote_node)
        elif self.op.remote_node is not None or self.op.iallocator is not None:
            raise errors.OpPrereqError("The iallocator and new node options can only be"
                                       " used when changing the secondary node",
                                       errors.ECODE_INVAL)

    def expand_names(self):
        super().expand_names()
        self.remote_node = (expand_node_name(self.cfg, self.op.remote_node)
                            if self.op.remote_node else None)

    def declare_locks(self, level):
        super().declare_locks(level)
        if level in (locking.LEVEL_NODE, locking.LEVEL_NODE_RES) and self.allocator:
            # the allocator chooses among all nodes
            self.needed_locks[level] = locking.ALL_SET
        elif level in (locking.LEVEL_NODE, locking.LEVEL_NODE_RES) and self.remote_node:
            self.needed_locks[level] = list(dict.fromkeys(
                self.needed_locks[level] + [self.remote_node]))

    # ---- checks ------------------------------------------------------------------------

    def check_prereq(self):
        super().check_prereq()
        inst = self.instance
        secondaries = inst.secondary_nodes
        if len(secondaries) != 1:
            raise errors.OpPrereqError("The instance has a strange layout, expected one"
                                       " secondary but found %d" % len(secondaries),
                                       errors.ECODE_FAULT)
        secondary = secondaries[0]
        if self.allocator:
            result, _ = iallocator.run(self, self.allocator,
                                       iallocator.relocate_request(inst, [secondary]),
                                       inst.disk_template)
            self.remote_node = expand_node_name(self.cfg, result[0])
            self.log_info("Selected new secondary for instance '%s': %s", inst.name,
                          self.remote_node)
        remote = self.remote_node
        if remote is not None and remote == inst.primary_node:
            raise errors.OpPrereqError("The specified node is the primary node of the"
                                       " instance", errors.ECODE_INVAL)
        if remote is not None and remote == secondary:
            raise errors.OpPrereqError("The specified node is already the secondary"
                                       " node of the instance", errors.ECODE_INVAL)
        mode = self.op.mode
        if self.op.disks and mode in (constants.REPLACE_DISK_AUTO,
                                      constants.REPLACE_DISK_CHG):
            raise errors.OpPrereqError("Cannot specify disks to be replaced",
                                       errors.ECODE_INVAL)
        self.new_node = None
        self.early_release = self.op.early_release
        self.disk_indices = list(self.op.disks or [])
        if mode == constants.REPLACE_DISK_AUTO:
            check_nodes = self._check_auto(inst, secondary)
        else:
            if mode == constants.REPLACE_DISK_PRI:
                self.target, self.other = inst.primary_node, secondary
                check_nodes = [self.target, self.other]
            elif mode == constants.REPLACE_DISK_SEC:
                self.target, self.other = secondary, inst.primary_node
                check_nodes = [self.target, self.other]
            else:
                self.new_node = remote
                self.target, self.other = secondary, inst.primary_node
                check_nodes = [self.new_node, self.other]
                iu.check_node_usable(self.cfg, remote)
                old = self.cfg.get_node_info(secondary)
                if old.offline and not self.early_release:
                    self.early_release = True
                    self.log_info("Old secondary %s is offline, automatically enabling"
                                  " early-release mode", secondary)
            if not self.disk_indices:
                self.disk_indices = list(range(len(inst.disks)))
        if not inst.disks or any(d.dev_type != constants.DT_DRBD8 for d in inst.disks):
            raise errors.OpPrereqError("Can only run replace disks for DRBD8-based"
                                       " instances", errors.ECODE_INVAL)
        if self.new_node is not None:
            ipolicy.check_target_node_ipolicy(self, inst, self.new_node,
                                              self.op.ignore_ipolicy)
        for node in check_nodes:
            iu.check_node_online(self.cfg, node)
        for idx in self.disk_indices:
            if idx >= len(inst.disks):
                raise errors.OpPrereqError("Invalid disk index: %d (the instance has"
                                           " disks 0..%d)" % (idx, len(inst.disks) - 1),
                                           errors.ECODE_INVAL)

    def _check_auto(self, inst, secondary):
        """-a: the node whose disks lost their local storage is the target."""
        if not self._disks_activated(inst):
            raise errors.OpPrereqError("Please run activate-disks on instance %s first"
                                       % inst.name, errors.ECODE_STATE)
        faulty_primary = self._faulty_disks(inst, inst.primary_node)
        faulty_secondary = self._faulty_disks(inst, secondary)
        if faulty_primary and faulty_secondary:
            raise errors.OpPrereqError("Instance %s has faulty disks on more than one"
                                       " node and can not be repaired automatically"
                                       % inst.name, errors.ECODE_STATE)
        if faulty_primary:
            self.disk_indices = faulty_primary
            self.target, self.other = inst.primary_node, secondary
        elif faulty_secondary:
            self.disk_indices = faulty_secondary
            self.target, self.other = secondary, inst.primary_node
        else:
            self.disk_indices = []
            return []
        return [self.target, self.other]

    def _disks_activated(self, inst):
        for idx, disk in enumerate(inst.disks):
            for node in inst.all_nodes:
                self.log_info("Checking disk/%d on %s", idx, node)
                node_info = self.cfg.get_node_info(node)
                if node_info is None or node_info.offline:
                    continue
                res = self._find(node, disk)
                if res.fail_msg or not res.data:
                    return False
        return True

    def _faulty_disks(self, inst, node):
        res = self.rpc.call_blockdev_getmirrorstatus(
            node, [drbd_disks.disk_for_node(self.cfg, d, node) for d in inst.disks])
        res.raise_on_failure("Failed to get disk status from node %s" % node,
                             prereq=True, ecode=errors.ECODE_ENVIRON)
        return [idx for idx, (found, status) in enumerate(res.data or [])
                if found and status.get("ldisk_status") == constants.LDS_FAULTY]

    def build_hooks_env(self):
        secondaries = self.instance.secondary_nodes
        return self._hook_env({
            "MODE": self.op.mode,
            "NEW_SECONDARY": self.remote_node,
            "OLD_SECONDARY": secondaries[0] if secondaries else None,
        })

    def build_hooks_nodes(self):
        nodes = [self.cfg.get_master_node(), self.instance.primary_node]
        if self.remote_node:
            nodes.append(self.remote_node)
        return nodes, nodes

    # ---- helpers -----------------------------------------------------------------------

    def _find(self, node, disk):
        return self.rpc.call_blockdev_find(node, drbd_disks.disk_for_node(self.cfg, disk,
                                                                          node))

    def _selected(self):
        return [(idx, disk) for idx, disk in enumerate(self.instance.disks)
                if idx in self.disk_indices]

    def _check_disks_exist(self, nodes):
        for idx, disk in self._selected():
            for node in nodes:
                self.log_info("Checking disk/%d on %s", idx, node)
                res = self._find(node, disk)
                if res.fail_msg or not res.data:
                    msg = res.fail_msg or "disk not found"
                    hint = ""
                    if not self._disks_activated(self.instance):
                        hint = ("\nDisks seem to be not properly activated. Try running"
                                " activate-disks on the instance before using"
                                " replace-disks.")
                    raise errors.OpExecError("Can't find disk/%d on node %s: %s%s"
                                             % (idx, node, msg, hint))

    def _check_volume_groups(self, nodes):
        self.log_info("Checking volume groups")
        vg = self.cfg.get_cluster_info().volume_group_name
        results = self.rpc.call_node_verify(nodes, {"vglist": None},
                                            self.cfg.get_cluster_name())
        for node in nodes:
            res = results.get(node)
            if res is None or res.fail_msg:
                raise errors.OpExecError("Error checking node %s: %s"
                                         % (node, res.fail_msg if res else "no answer"))
            vgs = (res.data or {}).get("vglist")
            if not isinstance(vgs, dict) or vg not in vgs:
                raise errors.OpExecError("Volume group '%s' not found on node %s"
                                         % (vg, node))

    def _check_consistency(self, node, on_primary, ldisk):
        for idx, disk in self._selected():
            self.log_info("Checking disk/%d consistency on node %s" % (idx, node))
            if not self._consistent(disk, node, on_primary, ldisk):
                raise errors.OpExecError("Node %s has degraded storage, unsafe to"
                                         " replace disks for instance %s"
                                         % (node, self.instance.name))

    def _consistent(self, disk, node, on_primary, ldisk):
        """Ganeti's check: the drbd device (and on the primary its volumes) is not
        degraded; with ldisk only the local storage counts."""
        res = self._find(node, disk)
        if res.fail_msg or not res.data:
            self.log_warning("Can't find disk on node %s%s", node,
                             ": %s" % res.fail_msg if res.fail_msg else "")
            return False
        if ldisk:
            good = res.data.get("ldisk_status") == constants.LDS_OKAY
        else:
            good = not res.data.get("is_degraded")
        if on_primary:
            for child in disk.children:
                good = good and self._consistent(child, node, on_primary, False)
        return good

    def _create_lvs(self, node, lvs, created):
        """Create the volumes ``lvs`` on ``node``; each made one goes into
        ``created`` (for the cleanup if a later step fails)."""
        info = "originstname+%s" % self.instance.name
        for lv in lvs:
            res = self.rpc.call_blockdev_create(node, lv.to_dict(), lv.size,
                                                self.instance.name, False, info,
                                                iu.exclusive_storage(self.cfg, node))
            if res.fail_msg:
                raise errors.OpExecError("Can't create block device: %s" % res.fail_msg)
            created.append((node, lv.to_dict()))

    def _wait_and_check(self, iv_names):
        wait_for_sync(self, self.instance)
        node = self.instance.primary_node
        for name, (disk, _old, _new) in iv_names.items():
            res = self._find(node, disk)
            if res.fail_msg or not res.data:
                raise errors.OpExecError("Can't find DRBD device %s: %s"
                                         % (name, res.fail_msg or "disk not found"))
            if res.data.get("is_degraded"):
                raise errors.OpExecError("DRBD device %s is degraded!" % name)

    def _remove_old_storage(self, node, iv_names):
        for name, (_disk, old_lvs, _new) in iv_names.items():
            self.log_info("Remove logical volumes for %s", name)
            for lv in old_lvs:
                res = self.rpc.call_blockdev_remove(node, lv.to_dict())
                if res.fail_msg:
                    self.log_warning("Can't remove old LV: %s", res.fail_msg,
                                     hint="remove unused LVs manually")

    def _sync_and_clean(self, iv_names):
        """Steps 5 and 6: sync, then drop the old volumes (early release: the
        other way round)."""
        if self.early_release:
            self.log_numbered_step(5, STEPS, "Removing old storage")
            self._remove_old_storage(self.target, iv_names)
            self.log_numbered_step(6, STEPS, "Sync devices")
            self._wait_and_check(iv_names)
        else:
            self.log_numbered_step(5, STEPS, "Sync devices")
            self._wait_and_check(iv_names)
            self.log_numbered_step(6, STEPS, "Removing old storage")
            self._remove_old_storage(self.target, iv_names)

    # ---- execution ---------------------------------------------------------------------

    def exec(self, feedback_fn):
        inst = self.instance
        if not self.disk_indices:
            feedback_fn("No disks need replacement for instance '%s'" % inst.name)
            return None
        feedback_fn("Replacing disk(s) %s for instance '%s'"
                    % (", ".join(str(i) for i in self.disk_indices), inst.name))
        feedback_fn("Current primary node: %s" % inst.primary_node)
        feedback_fn("Current secondary node: %s" % ", ".join(inst.secondary_nodes))
        if inst.forthcoming:
            return self._replace_reserved(feedback_fn)
        activate = not inst.disks_active
        if activate:
            iu.assemble_disks(self, inst, ignore_secondaries=True)
        try:
            if self.new_node is not None:
                self._replace_secondary()
            else:
                self._replace_on_node()
        finally:
            if activate:
                self._shutdown_if_stopped()
        return None

    def _replace_reserved(self, feedback_fn):
        """A forthcoming instance has no disks on its nodes: a new secondary
        only takes the old one's place (and minors) in the configuration."""
        if self.new_node is None:
            feedback_fn("Instance forthcoming, not touching disks")
            return None
        feedback_fn("Instance fortcoming, will only update the configuration")  # sic
        stored = self.cfg.get_instance_info(self.instance.name)
        pnode, new = stored.primary_node, self.new_node
        minors = self.cfg.allocate_drbd_minors([new] * len(stored.disks))
        for disk, minor in zip(stored.disks, minors):
            node_a, _, port, minor_a, minor_b, secret = disk.logical_id
            p_minor = minor_a if pnode == node_a else minor_b
            self._with_nodes(disk, [pnode, new, port, p_minor, minor, secret],
                             [pnode, new], in_place=True)
        self.cfg.update(stored)
        self.instance = stored
        return None

    def _shutdown_if_stopped(self):
        inst = self.cfg.get_instance_info(self.instance.name)
        res = self.rpc.call_instance_info(inst.primary_node, inst.name, inst.hypervisor,
                                          self.cfg.get_cluster_info().fill_hv(inst))
        if res.fail_msg or res.data:
            self.log_warning("Not deactivating the disks of instance %s: %s", inst.name,
                             res.fail_msg or "it is running")
            return
        iu.shutdown_disks(self, inst, ignore_failures=True)

    def _replace_on_node(self):
        """New volumes under the drbd device on self.target (Ganeti's
        _ExecDrbd8DiskOnly)."""
        inst = self.instance
        target, other = self.target, self.other
        self.log_numbered_step(1, STEPS, "Check device existence")
        self._check_disks_exist([other, target])
        self._check_volume_groups([target, other])
        self.log_numbered_step(2, STEPS, "Check peer consistency")
        self._check_consistency(other, other == inst.primary_node, False)

        self.log_numbered_step(3, STEPS, "Allocate new storage")
        iv_names = {}
        created = []
        try:
            for idx, disk in self._selected():
                self.log_info("Adding storage on %s for disk/%d", target, idx)
                prefix = str(uuid.uuid4())
                data, meta = disk.children
                new_lvs = [_lv_copy(data, [data.logical_id[0],
                                           "%s.disk%d_data" % (prefix, idx)]),
                           _lv_copy(meta, [meta.logical_id[0],
                                           "%s.disk%d_meta" % (prefix, idx)])]
                new_lvs[0].size = disk.size
                old_lvs = [_lv_copy(child) for child in disk.children]
                iv_names[disk.iv_name] = (disk, old_lvs, new_lvs)
                self._create_lvs(target, new_lvs, created)
        except errors.GenericError:
            iu.remove_made(self, created)
            raise

        self.log_numbered_step(4, STEPS, "Changing drbd configuration")
        suffix = "_replaced-%d" % int(time.time())
        for disk, old_lvs, new_lvs in iv_names.values():
            self._swap_volumes(disk, old_lvs, new_lvs, suffix)
        self._sync_and_clean(iv_names)

    def _swap_volumes(self, disk, old_lvs, new_lvs, suffix):
        target = self.target
        spec = drbd_disks.disk_for_node(self.cfg, disk, target)
        self.log_info("Detaching %s drbd from local storage", disk.iv_name)
        res = self.rpc.call_blockdev_removechildren(target, spec,
                                                    [lv.to_dict() for lv in old_lvs])
        res.raise_on_failure("Can't detach drbd from local storage on node %s for"
                             " device %s" % (target, disk.iv_name))
        renames = []
        for lv in old_lvs:
            found = self.rpc.call_blockdev_find(target, lv.to_dict())
            if not found.fail_msg and found.data:
                renames.append([lv.to_dict(), [lv.logical_id[0],
                                               lv.logical_id[1] + suffix]])
        self.log_info("Renaming the old LVs on the target node")
        res = self.rpc.call_blockdev_rename(target, renames)
        res.raise_on_failure("Can't rename old LVs on node %s" % target)
        self.log_info("Renaming the new LVs on the target node")
        res = self.rpc.call_blockdev_rename(
            target, [[new.to_dict(), list(old.logical_id)]
                     for old, new in zip(old_lvs, new_lvs)])
        res.raise_on_failure("Can't rename new LVs on node %s" % target)
        for old, new in zip(old_lvs, new_lvs):
            new.logical_id = list(old.logical_id)
            old.logical_id = [old.logical_id[0], old.logical_id[1] + suffix]
        self.log_info("Adding new mirror component on %s", target)
        res = self.rpc.call_blockdev_addchildren(target, spec,
                                                 [lv.to_dict() for lv in new_lvs])
        if res.fail_msg:
            iu.remove_made(self, [(target, lv.to_dict()) for lv in new_lvs])
            raise errors.OpExecError("Can't add local storage to drbd: %s"
                                     % res.fail_msg)

    def _replace_secondary(self):
        """Move the secondary half to self.new_node (Ganeti's _ExecDrbd8Secondary)."""
        inst = self.instance
        pnode, new, old = inst.primary_node, self.new_node, self.target
        self.log_numbered_step(1, STEPS, "Check device existence")
        self._check_disks_exist([pnode])
        self._check_volume_groups([pnode])
        self.log_numbered_step(2, STEPS, "Check peer consistency")
        self._check_consistency(pnode, True, True)

        self.log_numbered_step(3, STEPS, "Allocate new storage")
        made = []           # (node, disk dict) made here, removed again on failure
        try:
            for idx, disk in enumerate(inst.disks):
                self.log_info("Adding new local storage on %s for disk/%d" % (new, idx))
                self._create_lvs(new, [_lv_copy(c) for c in disk.children], made)

            self.log_numbered_step(4, STEPS, "Changing drbd configuration")
            minors = self.cfg.allocate_drbd_minors([new] * len(inst.disks))
            iv_names = {}
            for idx, (disk, minor) in enumerate(zip(inst.disks, minors)):
                self.log_info("activating a new drbd on %s for disk/%d" % (new, idx))
                node_a, node_b, port, minor_a, minor_b, secret = disk.logical_id
                p_minor = minor_a if pnode == node_a else minor_b
                alone = self._with_nodes(disk, [pnode, new, None, p_minor, minor, secret],
                                         [pnode, new])
                spec = drbd_disks.disk_for_node(self.cfg, alone, new)
                res = self.rpc.call_blockdev_create(new, spec, disk.size, inst.name,
                                                    False, "originstname+%s" % inst.name,
                                                    iu.exclusive_storage(self.cfg, new))
                if res.fail_msg:
                    raise errors.OpExecError("Can't create block device: %s"
                                             % res.fail_msg)
                made.append((new, spec))
                iv_names[disk.iv_name] = (disk, [_lv_copy(c) for c in disk.children],
                                          [pnode, new, port, p_minor, minor, secret])
        except errors.GenericError:
            iu.remove_made(self, made)
            raise

        for idx, disk in enumerate(inst.disks):
            self.log_info("Shutting down drbd for disk/%d on old node", idx)
            res = self.rpc.call_blockdev_shutdown(
                old, drbd_disks.disk_for_node(self.cfg, disk, old))
            if res.fail_msg:
                self.log_warning("Failed to shutdown drbd for disk/%d on old node: %s"
                                 % (idx, res.fail_msg),
                                 hint="Please cleanup this device manually as soon as"
                                      " possible")

        self.log_info("Detaching primary drbds from the network (=> standalone)")
        res = self.rpc.call_drbd_disconnect_net(
            pnode, [drbd_disks.disk_for_node(self.cfg, d, pnode) for d in inst.disks])
        if res.fail_msg:
            iu.remove_made(self, made)
            raise errors.OpExecError("Can't detach the disks from the network on old"
                                     " node: %s" % res.fail_msg)

        self.log_info("Updating instance configuration")
        stored = self.cfg.get_instance_info(inst.name)
        for disk in stored.disks:
            if disk.iv_name in iv_names:
                self._with_nodes(disk, iv_names[disk.iv_name][2], [pnode, new],
                                 in_place=True)
        self.cfg.update(stored)
        self.instance = inst = stored

        self.log_info("Attaching primary drbds to new secondary (standalone =>"
                      " connected)")
        for node in (pnode, new):
            res = self.rpc.call_drbd_attach_net(
                node, [drbd_disks.disk_for_node(self.cfg, d, node) for d in inst.disks],
                False)
            if res.fail_msg:
                raise errors.OpExecError(
                    "Can't attach drbd disks on node %s: %s (please do a gnt-instance"
                    " info %s to see the status of disks)" % (node, res.fail_msg,
                                                               inst.name))
        self._sync_and_clean(dict((name, (self._disk_named(name), old_lvs, None))
                                  for name, (_d, old_lvs, _id) in iv_names.items()))

    def _disk_named(self, iv_name):
        return [d for d in self.instance.disks if d.iv_name == iv_name][0]

    @staticmethod
    def _with_nodes(disk, logical_id, nodes, in_place=False):
        """The drbd ``disk`` with a new logical_id, on ``nodes`` (children too)."""
        target = disk if in_place else objects.Disk.from_dict(disk.to_dict())
        target.logical_id = list(logical_id)
        target.nodes = list(nodes)
        for child in target.children:
            child.nodes = list(nodes)
        return target
