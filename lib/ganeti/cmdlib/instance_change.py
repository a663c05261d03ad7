"""Logical units that change an instance: grow a disk, rename, reinstall, modify."""

import os

from ganeti import constants, errors, locking, objects, opcodes, paramtypes
from ganeti.cmdlib import drbd_disks, ext_disks, instance_flags, os_params
from ganeti.cmdlib import template_conversion
from ganeti.cmdlib import instance_nics
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib import ipolicy
from ganeti.cmdlib.base import expand_node_name
from ganeti.cmdlib.disk_sync import wait_for_sync
from ganeti.cmdlib.instance_utils import InstanceLU
from ganeti.cmdlib.operating_system import check_node_has_os
from ganeti.utils import net
from ganeti.utils.text import format_unit
from ganeti.utils.instance_name import normalize_instance_name

_GROWABLE = frozenset([constants.DT_FILE, constants.DT_SHARED_FILE, constants.DT_PLAIN,
                       constants.DT_DRBD8, constants.DT_EXT])


def _apply_with_resets(current, changes):
    """Update a parameter dict in place; a None value drops the key (the cluster
    default applies again)."""
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value


def _change_list(prefix, changes, asked):
    """The changes as the command lists them: in the order asked, with the names
    asked ("memory" stays "memory"), a reset shown as "default"."""
    shown = []
    for key, raw in asked.items():
        value = changes.get(key)
        reset = raw is None or str(raw).lower() == constants.VALUE_DEFAULT
        if key == "memory" and not reset:
            value = paramtypes.convert(key, raw, paramtypes.KIND_SIZE)
        shown.append(("%s/%s" % (prefix, key),
                      constants.VALUE_DEFAULT if value is None else value))
    return shown


class LUInstanceGrowDisk(InstanceLU):
    HPATH = "disk-grow"

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        inst = self.instance
        if not 0 <= self.op.disk < len(inst.disks):
            # Ganeti's words, its typo and unclosed parenthesis included
            raise errors.OpPrereqError("Invalid disk index: %s (instace has disks 0 to %d"
                                       % (self.op.disk, len(inst.disks) - 1),
                                       errors.ECODE_INVAL)
        if inst.disk_template not in _GROWABLE:
            raise errors.OpPrereqError("Disks of template %s cannot be grown"
                                       % inst.disk_template, errors.ECODE_INVAL)
        self.disk = inst.disks[self.op.disk]
        if self.op.absolute:
            self.target = self.op.amount
            self.delta = self.target - self.disk.size
            if self.delta < 0:
                raise errors.OpPrereqError("Requested size (%s MiB) is smaller than the"
                                           " current disk size (%s MiB)"
                                           % (self.target, self.disk.size),
                                           errors.ECODE_INVAL)
        else:
            self.delta = self.op.amount
            self.target = self.disk.size + self.delta
        if self.delta == 0:
            raise errors.OpPrereqError("Nothing to do: the disk already has %s MiB"
                                       % self.disk.size, errors.ECODE_INVAL)
        sizes = [self.target if idx == self.op.disk else disk.size
                 for idx, disk in enumerate(inst.disks)]
        _, _, policy = ipolicy.group_ipolicy(self.cfg, inst.primary_node)
        ipolicy.report(self, "Growing disk %s violates policy" % self.op.disk,
                       ipolicy.disk_sizes_violations(policy, sizes, inst.disk_template),
                       self.op.ignore_ipolicy)
        for node in self._grow_nodes():
            res = self.rpc.call_blockdev_grow(
                node, drbd_disks.disk_for_node(self.cfg, self.disk, node), self.delta,
                True, True, iu.exclusive_storage(self.cfg, node))
            res.raise_on_failure("Disk %d of instance %s cannot grow by %s MiB on node"
                                 " %s" % (self.op.disk, inst.name, self.delta, node),
                                 prereq=True, ecode=errors.ECODE_NORES)

    def _grow_nodes(self):
        return self.disk.nodes or [self.instance.primary_node]

    def build_hooks_env(self):
        return self._hook_env({"DISK": self.op.disk, "AMOUNT": self.delta,
                               "ABSOLUTE": self.op.absolute, "NEW_SIZE": self.target})

    def exec(self, feedback_fn):
        inst = self.instance
        feedback_fn("Growing disk %s of instance '%s' by %s to %s"
                    % (self.op.disk, inst.name, iu_fmt(self.delta), iu_fmt(self.target)))
        for node in self._grow_nodes():
            res = self.rpc.call_blockdev_grow(
                node, drbd_disks.disk_for_node(self.cfg, self.disk, node), self.delta,
                False, True, iu.exclusive_storage(self.cfg, node))
            res.raise_on_failure("Grow request failed for disk %d of instance %s on"
                                 " node %s" % (self.op.disk, inst.name, node))
        if self.disk.dev_type == constants.DT_DRBD8:
            # both data volumes grew: now the mirror takes the new size
            node = inst.primary_node
            res = self.rpc.call_blockdev_grow(
                node, drbd_disks.disk_for_node(self.cfg, self.disk, node), self.delta,
                False, False, False)
            res.raise_on_failure("Grow request failed for disk %d of instance %s"
                                 % (self.op.disk, inst.name))
        inst = self.cfg.get_instance_info(inst.name)
        grown = inst.disks[self.op.disk]
        grown.size = self.target
        if grown.dev_type == constants.DT_DRBD8 and grown.children:
            grown.children[0].size = self.target
        self.cfg.update(inst)
        if self.op.wait_for_sync and not wait_for_sync(self, inst):
            self.log_warning("Disk syncing has not returned a good status; check the"
                             " instance")
        if inst.admin_state == constants.ADMINST_UP:
            feedback_fn("The running instance sees the new size after its next"
                        " restart (gnt-instance reboot -t full)")
        return None


def iu_fmt(mib):
    from ganeti.utils import text
    return text.format_unit(mib, "h")


class LUInstanceRename(InstanceLU):
    """A new name; a forthcoming instance's changes in the configuration only."""
    HPATH = "instance-rename"
    ALLOW_FORTHCOMING = True

    def check_arguments(self):
        if self.op.ip_check and not self.op.name_check:
            raise errors.OpPrereqError("IP address check requires a name check",
                                       errors.ECODE_INVAL)
        # the rule the nodes apply to instance names, with or without name check
        self.op.new_name = normalize_instance_name(self.op.new_name)

    def expand_names(self):
        InstanceLU.expand_names(self)
        new = self.op.new_name
        self.new_ip = None
        if self.op.name_check:
            try:
                hostname = net.Hostname(new)
            except errors.ResolverError as err:
                raise errors.OpPrereqError("New name '%s' does not resolve: %s" % (
                    new, err.args[-1]), errors.ECODE_RESOLVER)
            new, self.new_ip = hostname.name, hostname.ip
        self.new_name = new
        if self.cfg.get_instance_info(new):
            raise errors.OpPrereqError("Instance '%s' is already in the cluster" % new,
                                       errors.ECODE_EXISTS)
        # the new name's lock, taken before the level's others (lock manager rule)
        try:
            self.glm.add(locking.LEVEL_INSTANCE, [new], acquired=True)
        except errors.LockError:
            raise errors.OpPrereqError("Instance '%s' is being created by another job"
                                       % new, errors.ECODE_EXISTS)
        self.added_lock = True

    def abort(self):
        if getattr(self, "added_lock", False) and \
                self.cfg.get_instance_info(self.new_name) is None:
            try:
                self.glm.remove(locking.LEVEL_INSTANCE, [self.new_name])
            except errors.LockError:
                pass

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        iu.check_instance_stopped(self, self.instance, "cannot rename")
        if self.new_ip and self.op.ip_check and net.tcp_ping(self.new_ip,
                                                              constants.DEFAULT_NODED_PORT):
            raise errors.OpPrereqError("IP %s of instance %s already in use"
                                       % (self.new_ip, self.new_name),
                                       errors.ECODE_NOTUNIQUE)

    def build_hooks_env(self):
        return self._hook_env({"INSTANCE_NEW_NAME": self.new_name})

    def exec(self, feedback_fn):
        old = self.instance.name
        self._rename_file_dir(old)
        self.cfg.rename_instance(old, self.new_name)
        self.glm.remove(locking.LEVEL_INSTANCE, [old])
        inst = self.cfg.get_instance_info(self.new_name)
        if not inst.forthcoming:
            self._set_disks_info(inst)
        if inst.os and not inst.forthcoming:
            iu.assemble_disks(self, inst)
            try:
                res = self.rpc.call_instance_run_rename(
                    inst.primary_node, iu.instance_for_node(self.cfg, inst), old,
                    self.op.debug_level)
                if res.fail_msg:
                    self.log_warning("Could not run the OS rename script for instance %s"
                                     " on node %s (but the instance has been renamed in"
                                     " Ganeti): %s", inst.name, inst.primary_node,
                                     res.fail_msg)
            finally:
                iu.shutdown_disks(self, inst, ignore_failures=True)
        return inst.name


    def _set_disks_info(self, inst):
        """Ext volumes learn their instance's new name (their provider's
        setinfo; the other types keep what they were told at creation)."""
        for idx, disk in enumerate(inst.disks):
            if disk.dev_type != constants.DT_EXT:
                continue
            for node in disk.nodes or [inst.primary_node]:
                res = self.rpc.call_blockdev_setinfo(node, disk.to_dict(),
                                                     iu.disk_info_text(inst))
                if res.fail_msg:
                    self.log_warning("Error setting info on node %s for disk %s: %s",
                                     node, idx, res.fail_msg)

    def _rename_file_dir(self, old):
        """File disks live in <dir>/<instance name>/: move them with the name."""
        inst = self.cfg.get_instance_info(old)
        if inst.disk_template not in (constants.DT_FILE, constants.DT_SHARED_FILE) \
                or not inst.disks:
            return
        old_dir = os.path.dirname(inst.disks[0].logical_id[1])
        if os.path.basename(old_dir) != old:
            return
        new_dir = os.path.join(os.path.dirname(old_dir), self.new_name)
        if not inst.forthcoming:        # whose directory does not exist yet
            res = self.rpc.call_file_storage_dir_rename(inst.primary_node, old_dir,
                                                        new_dir)
            res.raise_on_failure("Could not rename the file storage directory %s to %s"
                                 % (old_dir, new_dir))
        for disk in inst.disks:
            disk.logical_id = [disk.logical_id[0], os.path.join(
                new_dir, os.path.basename(disk.logical_id[1]))]
        self.cfg.update(inst)


class LUInstanceSetParams(InstanceLU):
    """Change parameters, NICs, disks or the OS of an instance."""
    HPATH = "instance-modify"

    def check_arguments(self):
        op = self.op
        template_conversion.check_options(op)
        if not (op.nics or op.disks or op.beparams or op.hvparams or op.os_name or
                op.osparams or op.osparams_private or op.offline is not None or
                op.runtime_mem or op.disk_template or op.pnode):
            raise errors.OpPrereqError("No changes submitted", errors.ECODE_INVAL)
        iu.check_hvparams_not_global(op.hvparams)
        if op.pnode and op.disk_template:
            raise errors.OpPrereqError("The primary node cannot change together with"
                                       " the disk template", errors.ECODE_INVAL)
        if op.disk_template:
            template_conversion.check_arguments(self)
        elif op.remote_node:
            raise errors.OpPrereqError("A secondary node (-n) is only used when the disk"
                                       " template changes", errors.ECODE_INVAL)

    def expand_names(self):
        InstanceLU.expand_names(self)
        self.snode = (expand_node_name(self.cfg, self.op.remote_node)
                      if self.op.remote_node else None)
        self.new_pnode = (expand_node_name(self.cfg, self.op.pnode)
                          if self.op.pnode else None)

    def declare_locks(self, level):
        InstanceLU.declare_locks(self, level)
        extra = [n for n in (self.snode, self.new_pnode) if n]
        if level in (locking.LEVEL_NODE, locking.LEVEL_NODE_RES) and extra:
            self.needed_locks[level] = list(dict.fromkeys(self.needed_locks[level] + extra))

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        op = self.op
        cluster = self.cfg.get_cluster_info()
        inst = self.instance.copy()
        self.changes = []
        if self.new_pnode and self.new_pnode != inst.primary_node:
            self._set_new_primary(inst)
        if op.hvparams:
            params = iu.typed_hvparams(inst.hypervisor, op.hvparams, allow_reset=True)
            _apply_with_resets(inst.hvparams, params)
            iu.check_hvparams(inst.hypervisor, cluster.fill_hv(inst))
            self.changes += _change_list("hv", params, op.hvparams)
        if op.beparams:
            # None or "default": back to the cluster's value
            params = iu.typed_beparams(op.beparams, allow_reset=True)
            _apply_with_resets(inst.beparams, params)
            self.changes += _change_list("be", params, op.beparams)
        if op.os_name:
            check_node_has_os(self, inst.primary_node, op.os_name, op.force_variant)
            if op.os_name != inst.os:       # the same OS again is no change
                inst.os = op.os_name
                self.changes.append(("os_name", op.os_name))
        if op.osparams or op.osparams_private:
            inst.osparams = os_params.updated_params(inst.osparams, op.osparams)
            inst.osparams_private = os_params.updated_params(inst.osparams_private,
                                                             op.osparams_private)
            self.changes += [("os/%s" % k, v) for k, v in sorted(op.osparams.items())]
            self.changes += [("os_private/%s" % k, opcodes.REDACTED)
                             for k in sorted(op.osparams_private or {})]
        if op.os_name or op.osparams or op.osparams_private:
            os_params.check_os_params(self, True, inst.all_nodes, inst.os,
                                      os_params.all_params(cluster, inst),
                                      op.force_variant)
        if op.offline is not None:
            running = self._is_running()
            if op.offline and running:
                raise errors.OpPrereqError("Instance %s is running; shut it down before"
                                           " marking it offline" % inst.name,
                                           errors.ECODE_STATE)
            if op.offline:
                inst.admin_state = constants.ADMINST_OFFLINE
            elif inst.admin_state == constants.ADMINST_OFFLINE:
                inst.admin_state = constants.ADMINST_DOWN
            self.changes.append(("admin_state", inst.admin_state))
        if op.runtime_mem:
            if not self._is_running():
                raise errors.OpPrereqError("Instance %s is not running; the runtime memory"
                                           " can only change while it runs" % inst.name,
                                           errors.ECODE_STATE)
            filled = cluster.fill_be(inst)
            low, high = filled[constants.BE_MINMEM], filled[constants.BE_MAXMEM]
            if not low <= op.runtime_mem <= high and not op.force:
                raise errors.OpPrereqError("Runtime memory %s MiB is outside the instance's"
                                           " range %s-%s MiB (minmem-maxmem; use --force"
                                           " to ignore)" % (op.runtime_mem, low, high),
                                           errors.ECODE_INVAL)
            self.changes.append(("runtime_memory", op.runtime_mem))
        self.new_disks = []
        self.removed_disks = []
        self._prepare_nics(inst, cluster)
        self._prepare_disks(inst, cluster)
        ext_disks.check_providers(self, [inst.primary_node],
                                  ext_disks.providers_of(self.new_disks))
        iu.validate_device_names("NIC", [nic.name for nic in inst.nics])
        iu.validate_device_names("disk", [disk.name for disk in inst.disks])
        iu.check_device_counts(len(inst.disks), len(inst.nics))
        if op.nics and op.conflicts_check:
            instance_flags.check_ip_conflicts(self.cfg, inst)
        instance_flags.check_hotplug(self, inst, op.hotplug, op.hotplug_if_possible)
        self._check_ipolicy(cluster, inst)
        if op.disk_template:
            template_conversion.check_prereq(self, inst, cluster, self.snode)
            self.changes.append(("disk_template", op.disk_template))
        self.new_instance = inst

    def _set_new_primary(self, inst):
        """--new-primary (as Ganeti): the configuration only; the admin moved the
        disks. A drbd instance's disks name their nodes: failover/migrate move it."""
        if inst.disk_template in constants.DTS_INT_MIRROR:
            raise errors.OpPrereqError("Instance %s has %s disks, which belong to their"
                                       " two nodes; use gnt-instance failover or migrate"
                                       " to change its primary node"
                                       % (inst.name, inst.disk_template),
                                       errors.ECODE_INVAL)
        node = self.cfg.get_node_info(self.new_pnode)
        if node.offline or not node.vm_capable:
            raise errors.OpPrereqError("Node %s is %s; it cannot be an instance's primary"
                                       " node" % (node.name, "offline" if node.offline
                                                  else "not vm capable"),
                                       errors.ECODE_STATE)
        if not self.op.force:
            try:
                running = self._is_running()
            except errors.OpPrereqError as err:
                self.log_warning("Can't get instance runtime information: %s" % err)
            else:
                if running:
                    raise errors.OpPrereqError("Instance is still running on %s"
                                               % inst.primary_node, errors.ECODE_STATE)
        inst.primary_node = self.new_pnode

    def _check_ipolicy(self, cluster, inst):
        """The instance as it would be, against its group's policy: both maxmem
        and minmem must fit the memory range (as in Ganeti)."""
        group_uuid, group_name, policy = ipolicy.group_ipolicy(self.cfg, inst.primary_node)
        filled = cluster.fill_be(inst)
        violations = []
        for memory in (constants.BE_MAXMEM, constants.BE_MINMEM):
            for text in ipolicy.instance_spec_violations(policy, filled, inst.disks,
                                                         len(inst.nics), inst.disk_template,
                                                         memory_key=memory):
                if text not in violations:
                    violations.append(text)
        ipolicy.report(self, ipolicy.allocation_message(group_uuid, group_name),
                       violations, self.op.ignore_ipolicy)
        iu.check_be_values(filled)

    def _is_running(self):
        return iu.instance_running(self, self.instance)

    @staticmethod
    def _index(items, ident, what):
        if ident in ("-1", -1):
            if not items:
                raise errors.OpPrereqError("The instance has no %ss" % what,
                                           errors.ECODE_INVAL)
            return len(items) - 1
        try:
            idx = int(ident)
        except (TypeError, ValueError):
            for idx, item in enumerate(items):
                if ident in (item.name, item.uuid):
                    return idx
            raise errors.OpPrereqError("No %s with name or UUID '%s'" % (what, ident),
                                       errors.ECODE_INVAL)
        if not 0 <= idx < len(items):
            # Ganeti's words (an execution error there)
            raise errors.OpExecError("Got %s index %s, but there are only %d"
                                     % (what, idx, len(items)))
        return idx

    def _prepare_nics(self, inst, cluster):
        for entry in self.op.nics:
            action, ident = entry[0], entry[1]
            params = dict(entry[2]) if len(entry) > 2 and entry[2] else {}
            if action == "add":
                nic = objects.NIC(nicparams={})
                self._set_nic(inst, nic, params, cluster, len(inst.nics), adding=True)
                inst.nics.append(nic)
                filled = cluster.fill_nic(nic.nicparams)
                self.changes.append(("nic.%d" % (len(inst.nics) - 1),
                                     "add:mac=%s,ip=%s,mode=%s,link=%s,network=%s" % (
                                         nic.mac, nic.ip, filled[constants.NIC_MODE],
                                         filled[constants.NIC_LINK],
                                         params.get("network"))))
            elif action == "remove":
                idx = self._index(inst.nics, ident, "NIC")
                del inst.nics[idx]
                self.changes.append(("NIC/%d" % idx, "remove"))
            elif action == "modify":
                idx = self._index(inst.nics, ident, "NIC")
                nic = inst.nics[idx]
                old_network = nic.network
                self._set_nic(inst, nic, params, cluster, idx, adding=False)
                # as Ganeti lists them: the changed fields, then all NIC parameters
                self.changes += [("nic.%s/%d" % (key, idx), getattr(nic, key))
                                 for key in ("mac", "ip", "name") if key in params]
                if nic.network != old_network:
                    self.changes.append(("nic.network/%d" % idx, nic.network and
                                         params.get("network")))
                self.changes += [("nic.%s/%d" % (key, idx), value) for key, value in
                                 sorted(cluster.fill_nic(nic.nicparams).items())]
            else:
                raise errors.OpPrereqError("Invalid NIC action '%s'" % action,
                                           errors.ECODE_INVAL)

    def _set_nic(self, inst, nic, params, cluster, idx, adding):
        """Check the NIC parameters of an add or modify and apply them to ``nic``."""
        unknown = sorted(set(params) - set(["mac", "ip", "name", "network",
                                            constants.NIC_MODE, constants.NIC_LINK,
                                            constants.NIC_VLAN]))
        if unknown:
            raise errors.OpPrereqError("Unknown NIC parameter '%s'" % unknown[0],
                                       errors.ECODE_INVAL)
        old_network = None if adding else nic.network
        network = old_network
        if "network" in params:
            network = instance_nics.requested_network(
                self.cfg, params, "If network is given mode or link should not")
        changed = dict((k, params[k]) for k in (constants.NIC_MODE, constants.NIC_LINK,
                                                constants.NIC_VLAN) if k in params)
        if network:
            # the NIC takes what the network has in the primary node's group
            nicparams = instance_nics.group_netparams(
                self.cfg, network, inst.primary_node,
                "No netparams found for the network %(network)s, probably not"
                " connected")
        else:
            nicparams = dict(nic.nicparams)
            changed = paramtypes.enforce_types(
                dict((k, None if v == constants.VALUE_DEFAULT else v) for k, v in
                     changed.items()), constants.NICC_DEFAULTS, "NIC", allow_none=True)
            _apply_with_resets(nicparams, changed)
            if nicparams.get(constants.NIC_VLAN):
                nicparams[constants.NIC_VLAN] = iu.normalize_vlan(
                    nicparams[constants.NIC_VLAN])
        ip = iu.nic_ip(params["ip"], True) if "ip" in params else nic.ip
        iu.check_nicparams(cluster.fill_nic(nicparams), ip, idx, network=network)
        if (ip, network) != (nic.ip, old_network):
            if ip == iu.NIC_IP_POOL and not network:
                raise errors.OpPrereqError("If ip=pool, parameter network cannot be none"
                                           if adding else "ip=pool, but no network found",
                                           errors.ECODE_INVAL)
            if ip and network:
                ip = instance_nics.take_address(self, network, ip, self.op.conflicts_check)
            elif ip and self.op.conflicts_check:
                instance_nics.check_outside_networks(self.cfg, ip, inst.primary_node)
        elif old_network and changed:
            raise errors.OpPrereqError("Not allowed to change link or mode of a NIC that"
                                       " is connected to a network", errors.ECODE_INVAL)
        mac = params.get("mac", constants.VALUE_AUTO if adding else None)
        if mac is None and not adding and "mac" not in params and network != old_network \
                and instance_nics.mac_prefix(self.cfg, cluster, network) != \
                instance_nics.mac_prefix(self.cfg, cluster, old_network):
            mac = constants.VALUE_GENERATE    # a MAC with the new network's prefix
        if "mac" in params and mac is None:
            raise errors.OpPrereqError("Cannot unset the NIC MAC address",
                                       errors.ECODE_INVAL)
        others = [n.mac for n in inst.nics if n is not nic]
        if mac == constants.VALUE_AUTO and not adding:
            raise errors.OpPrereqError("'auto' is not a valid MAC address when modifying"
                                       " an existing NIC", errors.ECODE_INVAL)
        if mac in (constants.VALUE_AUTO, constants.VALUE_GENERATE):
            mac = iu.generate_mac(self.cfg, instance_nics.mac_prefix(self.cfg, cluster,
                                                                     network), others)
        elif mac is not None:
            mac = iu.normalize_mac(mac)
            if mac in others or mac in iu.macs_in_use(self.cfg, exclude=inst.name):
                raise errors.OpPrereqError("MAC address '%s' already in use in cluster"
                                           % mac, errors.ECODE_NOTUNIQUE)
        if mac is not None:
            nic.mac = mac
        nic.ip = ip
        nic.network = network
        nic.nicparams = nicparams
        if "name" in params:
            nic.name = iu.device_name(params["name"])

    def _prepare_disks(self, inst, cluster):
        if inst.disk_template == constants.DT_DISKLESS and \
                any(entry[0] == "add" for entry in self.op.disks or []):
            # Ganeti's words: its disks of a diskless instance name their type
            raise errors.OpPrereqError("Must specify disk type on diskless instance",
                                       errors.ECODE_INVAL)
        if self.op.disks and inst.disk_template not in (constants.DT_FILE,
                                                          constants.DT_SHARED_FILE,
                                                          constants.DT_EXT):
            raise errors.OpPrereqError("Adding or removing disks of template %s is not"
                                       " supported yet" % inst.disk_template,
                                       errors.ECODE_INVAL)
        if any(entry[0] == "remove" for entry in self.op.disks or []):
            # adding or renaming a disk of a running instance is fine (seen at
            # its next start); a removal is not, as in Ganeti without hotplug
            iu.check_instance_stopped(self, inst, "can't remove volume from a running"
                                      " instance without using hotplug")
        for entry in self.op.disks:
            action, ident = entry[0], entry[1]
            params = entry[2] if len(entry) > 2 else {}
            if action == "add":
                spec = iu.check_disk_specs([params], inst.disk_template)[0]
                iu.check_exclusive_storage(self.cfg, inst.all_nodes, inst.disk_template,
                                           [spec])
                idx = len(inst.disks)
                disk = iu.generate_disks(
                    cluster, inst.disk_template, inst.name, inst.primary_node, [spec],
                    file_driver=inst.disks[0].logical_id[0] if inst.disks else None,
                    first_index=idx, disk_dir=(os.path.dirname(inst.disks[0].logical_id[1])
                                               if inst.disks else None),
                    group=self.cfg.get_node_group(
                        self.cfg.get_node_info(inst.primary_node).group))[0]
                inst.disks.append(disk)
                self.new_disks.append(disk)
                self.changes.append(("disk/%d" % idx, "add:size=%s,mode=%s"
                                     % (disk.size, disk.mode)))
            elif action == "remove":
                idx = self._index(inst.disks, ident, "disk")
                self.removed_disks.append(inst.disks.pop(idx))
                for num, disk in enumerate(inst.disks):
                    disk.iv_name = "disk/%d" % num
                self.changes.append(("disk/%d" % idx, "remove"))
            elif action == "modify":
                idx = self._index(inst.disks, ident, "disk")
                for key, value in params.items():
                    if key == "mode" and value in ("rw", "ro"):
                        inst.disks[idx].mode = value
                    elif key == "name":
                        inst.disks[idx].name = iu.device_name(value)
                    elif (inst.disks[idx].dev_type == constants.DT_EXT
                          and key not in ("mode", "name")):
                        self.changes.append(ext_disks.modify_param(inst.disks[idx], idx,
                                                                   key, value))
                        continue
                    else:
                        raise errors.OpPrereqError("Cannot modify disk parameter '%s'"
                                                   % key, errors.ECODE_INVAL)
                    self.changes.append(("disk.%s/%d" % (key, idx), value))
            else:
                raise errors.OpPrereqError("Invalid disk action '%s'" % action,
                                           errors.ECODE_INVAL)

    def build_hooks_env(self):
        return self._hook_env({})

    def abort(self):
        instance_nics.release(self)

    def exec(self, feedback_fn):
        inst = self.new_instance
        node = inst.primary_node
        if self.op.disk_template:
            # stores the instance with its other changes, serial in step
            template_conversion.convert(self, inst, self.snode, feedback_fn)
        created = []
        try:
            for disk in self.new_disks:
                feedback_fn("* disk %s, size %s" % (disk.iv_name.split("/")[-1],
                                                    format_unit(disk.size, "h")))
                res = self.rpc.call_blockdev_create(node, disk.to_dict(), disk.size,
                                                    inst.name, True,
                                                    iu.disk_info_text(inst),
                                                    iu.exclusive_storage(self.cfg, node))
                res.raise_on_failure("Cannot create disk %s" % disk.iv_name)
                created.append(disk)
            self.cfg.update(inst)
        except Exception:
            for disk in created:
                self.rpc.call_blockdev_remove(node, disk.to_dict())
            raise
        for disk in self.new_disks:         # Ganeti checks each added disk
            if not wait_for_sync(self, inst, oneshot=not self.op.wait_for_sync):
                raise errors.OpExecError("Failed to sync disks of %s" % inst.name)
            if not inst.disks_active:
                # made active (an ext volume attached and opened): as the others
                res = self.rpc.call_blockdev_shutdown(node, disk.to_dict())
                if res.fail_msg:
                    self.log_warning("Could not shut down disk %s: %s", disk.iv_name,
                                     res.fail_msg)
        if self.op.runtime_mem:
            res = self.rpc.call_instance_balloon_memory(
                node, iu.instance_for_node(self.cfg, inst), self.op.runtime_mem)
            res.raise_on_failure("Cannot change the memory of instance %s" % inst.name)
        for disk in self.removed_disks:
            res = self.rpc.call_blockdev_shutdown(node, disk.to_dict())
            res = self.rpc.call_blockdev_remove(node, disk.to_dict())
            if res.fail_msg:
                self.log_warning("Could not remove disk %s: %s", disk.iv_name,
                                 res.fail_msg)
        return [[k, str(v)] for k, v in self.changes]
