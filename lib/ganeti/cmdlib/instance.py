"""Logical units that create and remove instances."""

import logging

from ganeti import constants, errors, locking, objects, paramtypes
from ganeti.cmdlib import drbd_disks, ext_disks, instance_cleanup, instance_flags
from ganeti.cmdlib import instance_nics
from ganeti.cmdlib import os_params
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib import backup, forthcoming, iallocator, instance_import, ipolicy
from ganeti.cmdlib import shutdown_wait
from ganeti.cmdlib.base import LogicalUnit, expand_node_name
from ganeti.cmdlib.disk_sync import wait_for_sync
from ganeti.cmdlib.instance_utils import InstanceLU
from ganeti.cmdlib.operating_system import check_node_has_os
from ganeti.utils import net
from ganeti.utils.text import format_unit
from ganeti.utils.instance_name import normalize_instance_name


MODE_CREATE = "create"
MODE_IMPORT = "import"


class LUInstanceCreate(LogicalUnit):
    """Create an instance: disks, config entry, OS install, start."""
    HPATH = "instance-add"
    HTYPE = constants.HTYPE_INSTANCE
    REQ_BGL = False

    def check_arguments(self):
        op = self.op
        if op.mode not in (MODE_CREATE, MODE_IMPORT):
            raise errors.OpPrereqError("Instance creation mode '%s' is not supported"
                                       " (remote imports from another cluster are not)"
                                       % op.mode, errors.ECODE_INVAL)
        self.importing = op.mode == MODE_IMPORT
        if self.importing:
            # the OS comes from the export: its variant was checked at creation
            op.force_variant = True
            if op.no_install:
                self.log_info("No-installation mode has no effect during import")
                op.no_install = None
        elif not op.os_type and not op.no_install:
            raise errors.OpPrereqError("No guest OS or OS image specified",
                                       errors.ECODE_INVAL)
        elif op.os_type in self.cfg.get_cluster_info().blacklisted_os:
            # gnt-os modify --blacklisted: no new instances of it (reinstall is fine)
            raise errors.OpPrereqError("Guest OS '%s' is not allowed for installation"
                                       % op.os_type, errors.ECODE_STATE)
        if op.no_install and op.start:
            # an instance without its OS is not started (Ganeti's rule)
            self.log_info("No-installation mode selected, disabling startup")
            op.start = False
        if op.ip_check and not op.name_check:
            raise errors.OpPrereqError("Cannot do an IP address check without a name"
                                       " check", errors.ECODE_INVAL)
        instance_flags.check_opportunistic_locking(op)
        self.os_secrets = os_params.secrets_of(op)
        if op.snode and op.disk_template not in constants.DTS_INT_MIRROR:
            raise errors.OpPrereqError("A secondary node is only used with the drbd disk"
                                       " template", errors.ECODE_INVAL)
        if op.disk_template in constants.DTS_INT_MIRROR and op.pnode and not op.snode:
            raise errors.OpPrereqError("The networked disk templates need a mirror node"
                                       " (-n primary:secondary)", errors.ECODE_INVAL)
        forthcoming.check_arguments(op, self.importing)
        if not self.importing:
            for name in ("src_node", "src_path"):
                if getattr(op, name):
                    raise errors.OpPrereqError("Parameter '%s' is only used by instance"
                                               " imports" % name, errors.ECODE_INVAL)
            if op.compress != "none":
                raise errors.OpPrereqError("Compression is only used by instance"
                                           " imports", errors.ECODE_INVAL)
            self._check_specs()
        # the rule the nodes apply to instance names (Ganeti: "Invalid hostname")
        op.instance_name = normalize_instance_name(op.instance_name)

    def _check_specs(self):
        """Tags, disks, NIC count and backend parameters (for an import once the
        export filled in what the opcode left open)."""
        op = self.op
        for tag in op.tags:
            objects.Instance.validate_tag(tag)
        self.disk_specs = iu.check_disk_specs(op.disks, op.disk_template)
        iu.check_device_counts(len(self.disk_specs), len(op.nics))
        # "auto": the cluster's current default, copied (filled in check_prereq)
        self.be_auto = sorted(k for k, v in op.beparams.items() if v == constants.VALUE_AUTO)
        paramtypes.enforce_types(dict.fromkeys(self.be_auto, 0), dict.fromkeys(
            paramtypes.BE_COMPAT_DEFAULTS, 0))     # unknown names only
        self.beparams = iu.typed_beparams(dict((k, v) for k, v in op.beparams.items()
                                               if v != constants.VALUE_AUTO))

    def expand_names(self):
        op = self.op
        if op.name_check:
            try:
                hostname = net.Hostname(op.instance_name)
            except errors.ResolverError as err:
                # Ganeti's words; --no-name-check skips the check
                raise errors.OpPrereqError("The given name (%s) does not resolve: %s"
                                           % (op.instance_name, err.args[-1]),
                                           errors.ECODE_RESOLVER)
            self.instance_name = hostname.name
            self.check_ip = hostname.ip
        else:
            self.instance_name = op.instance_name
            self.check_ip = None
        if op.commit:
            self._expand_commit()
            return
        # the nodes: given, or chosen by an allocator (-I, or the cluster's default)
        self.allocator = iallocator.resolve(self, op.pnode)
        if self.allocator:
            self.pnode = self.snode = None
        else:
            self.pnode = expand_node_name(self.cfg, op.pnode)
            self.snode = expand_node_name(self.cfg, op.snode) if op.snode else None
            if self.snode == self.pnode:
                raise errors.OpPrereqError("The secondary node cannot be the primary"
                                           " node", errors.ECODE_INVAL)
        if self.cfg.get_instance_info(self.instance_name):
            raise errors.OpPrereqError("Instance '%s' is already in the cluster"
                                       % self.instance_name, errors.ECODE_EXISTS)
        try:
            self.glm.add(locking.LEVEL_INSTANCE, [self.instance_name], acquired=True)
        except errors.LockError:
            raise errors.OpPrereqError("Instance '%s' is being created by another job"
                                       % self.instance_name, errors.ECODE_EXISTS)
        self.added_lock = True
        nodes = [self.pnode] + ([self.snode] if self.snode else [])
        if self.allocator:
            # the allocator chooses among all nodes
            nodes = locking.ALL_SET
        self.needed_locks[locking.LEVEL_NODE_RES] = \
            nodes if nodes is locking.ALL_SET else list(nodes)
        if self.importing:
            self.src_node, self.src_path = instance_import.check_source(op)
            if self.src_node is None:
                # the export is looked for on every node
                nodes = locking.ALL_SET
            else:
                self.src_node = expand_node_name(self.cfg, self.src_node)
                if nodes is not locking.ALL_SET:
                    nodes = list(dict.fromkeys(nodes + [self.src_node]))
        self.needed_locks[locking.LEVEL_NODE] = \
            nodes if nodes is locking.ALL_SET else list(nodes)

    def _expand_commit(self):
        """--commit: the reservation's name, lock and nodes (a node given must
        be one of them)."""
        op = self.op
        reserved = forthcoming.reserved_instance(self.cfg, self.instance_name)
        self.instance_name = reserved.name
        forthcoming.check_nodes_given(self.cfg, reserved, op.pnode, op.snode)
        self.allocator = None
        self.pnode = op.pnode = reserved.primary_node
        self.snode = op.snode = (reserved.secondary_nodes or [None])[0]
        if op.iallocator:
            # Ganeti's note when an allocator is given: the reservation's nodes stay
            self.log_info("Nodes of instance %s: %s", reserved.name, reserved.all_nodes)
        self.locked_nodes = reserved.all_nodes
        self.needed_locks[locking.LEVEL_INSTANCE] = [reserved.name]
        self.needed_locks[locking.LEVEL_NODE] = list(self.locked_nodes)
        self.needed_locks[locking.LEVEL_NODE_RES] = list(self.locked_nodes)

    def abort(self):
        instance_nics.release(self)
        if getattr(self, "added_lock", False) and \
                self.cfg.get_instance_info(self.instance_name) is None:
            try:
                self.glm.remove(locking.LEVEL_INSTANCE, [self.instance_name])
            except errors.LockError:
                pass

    def _run_allocator(self, cluster):
        """Primary (and secondary) node from the instance allocator."""
        op = self.op
        beparams = dict(cluster.beparams["default"])
        beparams.update(self.beparams)
        nics = [dict((k, v) for k, v in spec.items() if k in ("mac", "ip", "mode", "link"))
                for spec in op.nics]
        request = iallocator.allocate_request(
            self.instance_name, op.disk_template, self.disk_specs, nics, beparams,
            op.os_type, op.tags, op.hypervisor or cluster.enabled_hypervisors[0],
            group_name=op.group_name)
        result, _ = iallocator.run(self, self.allocator, request, op.disk_template)
        self.pnode = expand_node_name(self.cfg, result[0])
        if len(result) > 1:
            self.snode = expand_node_name(self.cfg, result[1])
        op.pnode, op.snode = self.pnode, self.snode
        self.log_info("Selected nodes for instance %s via iallocator %s: %s",
                      self.instance_name, self.allocator, ", ".join(result))

    def _read_export(self):
        """Fill the opcode from the export's config.ini; its images and MACs."""
        op = self.op
        self.src_node, self.src_path, info = instance_import.read_export(
            self, self.src_node, self.src_path)
        op.src_node, op.src_path = self.src_node, self.src_path
        backup.check_compression_tool(self.cfg, op.compress)
        instance_import.apply_export_params(op, info)
        self._check_specs()
        self.old_name = info.get("instance", "name")
        self.src_images = instance_import.disk_images(info, self.src_path,
                                                      len(self.disk_specs))
        if self.instance_name == self.old_name:
            # the same instance again keeps its MACs where none is given
            for spec, mac in zip(op.nics, instance_import.export_macs(info)):
                if mac and spec.get("mac") in (None, constants.VALUE_AUTO):
                    spec["mac"] = mac

    def check_prereq(self):
        op = self.op
        if self.importing:
            self._read_export()
        self.reserved = None
        self.nic_specs = op.nics
        if op.commit:
            self.reserved = forthcoming.still_reserved(self.cfg, self.instance_name,
                                                       self.locked_nodes)
            forthcoming.check_same_disks(self.reserved, op.disk_template, self.disk_specs)
            self.nic_specs = forthcoming.nic_specs(self.cfg, op.nics, self.reserved)
        cluster = self.cfg.get_cluster_info()
        if self.allocator:
            self._run_allocator(cluster)
        node = iu.check_node_online(self.cfg, self.pnode, "create an instance on")
        if node.drained:
            raise errors.OpPrereqError("Node %s is drained; no new instances on it"
                                       % self.pnode, errors.ECODE_STATE)
        if not node.vm_capable:
            raise errors.OpPrereqError("Node %s is not vm_capable" % self.pnode,
                                       errors.ECODE_STATE)
        instance_flags.check_node_in_group(self.cfg, node, op.group_name)
        minors = None
        if self.snode:
            snode = iu.check_node_online(self.cfg, self.snode,
                                         "use as the secondary node")
            if snode.drained:
                raise errors.OpPrereqError("Node %s is drained; no new instances on it"
                                           % self.snode, errors.ECODE_STATE)
            if not snode.vm_capable:
                raise errors.OpPrereqError("Node %s is not vm_capable" % self.snode,
                                           errors.ECODE_STATE)
            if snode.group != node.group:
                self.log_warning("The primary and secondary nodes are in two different"
                                 " node groups; the disk parameters from the first"
                                 " disk's node group will be used")
        if self.snode and not op.commit:
            # a commit's disks have theirs from the reservation
            flat = self.cfg.allocate_drbd_minors([self.pnode, self.snode]
                                                 * len(self.disk_specs))
            minors = list(zip(flat[0::2], flat[1::2]))
        if op.disk_template not in cluster.enabled_disk_templates:
            # Ganeti's words, without an error type
            raise errors.OpPrereqError(
                "Disk template '%s' is not enabled in cluster. Enabled disk templates are: %s"
                % (op.disk_template, ",".join(cluster.enabled_disk_templates)))
        iu.check_exclusive_storage(self.cfg, [self.pnode] + ([self.snode] if self.snode
                                                            else []),
                                   op.disk_template, self.disk_specs)
        self.hv_name = op.hypervisor or cluster.enabled_hypervisors[0]
        if self.hv_name not in cluster.enabled_hypervisors:
            raise errors.OpPrereqError("Selected hypervisor (%s) not enabled in the"
                                       " cluster (%s)" % (self.hv_name, ",".join(
                                           cluster.enabled_hypervisors)),
                                       errors.ECODE_STATE)
        self.hvparams = iu.typed_hvparams(self.hv_name, op.hvparams)
        iu.check_hvparams_not_global(self.hvparams)
        for key in self.be_auto:
            for name in ((constants.BE_MAXMEM, constants.BE_MINMEM) if key == "memory"
                         else (key,)):
                self.beparams[name] = cluster.beparams["default"][name]
        self.nics = self._build_nics(cluster)
        instance_nics.attach_create_nics(self, self.nics, self.pnode, held=(
            forthcoming.held_addresses(self.reserved) if self.reserved else ()))
        if self.check_ip and op.ip_check and net.tcp_ping(self.check_ip,
                                                           constants.DEFAULT_NODED_PORT):
            raise errors.OpPrereqError("IP %s of instance %s already in use"
                                       % (self.check_ip, self.instance_name),
                                       errors.ECODE_NOTUNIQUE)
        instance = objects.Instance(
            name=self.instance_name, primary_node=self.pnode, os=op.os_type or "",
            hypervisor=self.hv_name, hvparams=self.hvparams, beparams=self.beparams,
            osparams=dict(op.osparams or {}),
            osparams_private=dict(op.osparams_private or {}),
            admin_state=constants.ADMINST_DOWN,
            nics=self.nics, disk_template=op.disk_template, tags=list(op.tags),
            disks=[] if op.commit else iu.generate_disks(
                cluster, op.disk_template, self.instance_name,
                                    self.pnode, self.disk_specs, op.file_storage_dir,
                                    op.file_driver, snode=self.snode, minors=minors,
                                    group=self.cfg.get_node_group(node.group)))
        if self.reserved:
            forthcoming.take_place(instance, self.reserved)
        elif op.forthcoming:
            instance.forthcoming = True
            forthcoming.mark_disks(instance.disks, True)
        self.instance = instance
        if op.identify_defaults:
            os_params.revert_to_defaults(cluster, instance)
        if op.conflicts_check:
            instance_flags.check_ip_conflicts(self.cfg, instance)
        self._check_ipolicy(cluster, instance)
        iu.check_hvparams(self.hv_name, cluster.fill_hv(instance))
        # the parameters first: an OS missing on the node fails there, as in Ganeti
        if op.os_type:
            os_params.check_os_params(
                self, not op.no_install, [self.pnode], op.os_type,
                os_params.all_params(cluster, instance, self.os_secrets), op.force_variant)
        if not op.no_install:
            check_node_has_os(self, self.pnode, op.os_type, op.force_variant)
        if op.disk_template in (constants.DT_FILE, constants.DT_SHARED_FILE,
                                constants.DT_PLAIN, constants.DT_DRBD8):
            for node in [self.pnode] + ([self.snode] if self.snode else []):
                self._check_storage_space(cluster, node)
        ext_disks.check_providers(self, [self.pnode], ext_disks.providers_of(
            instance.disks))
        if op.start:
            iu.check_bridges(self, instance, self.pnode)
            iu.check_node_free_memory(self, self.pnode, "creating instance %s"
                                      % self.instance_name,
                                      cluster.fill_be(instance)[constants.BE_MAXMEM],
                                      self.hv_name)

    def _build_nics(self, cluster):
        nics = []
        macs = []
        for idx, spec in enumerate(self.nic_specs):
            unknown = set(spec) - set(["mac", "ip", "mode", "link", "name", "network",
                                       "vlan", "bridge"])
            if unknown:
                raise errors.OpPrereqError("Unknown NIC parameter(s) for NIC %d: %s"
                                           % (idx, ", ".join(sorted(unknown))),
                                           errors.ECODE_INVAL)
            net_uuid = instance_nics.requested_network(
                self.cfg, spec, "If network is given, no mode or link is allowed to be"
                " passed")
            params = {}
            for key in (constants.NIC_MODE, constants.NIC_LINK, constants.NIC_VLAN):
                if spec.get(key) is not None and spec[key] != constants.VALUE_AUTO:
                    params[key] = spec[key]
            if spec.get("bridge"):
                params[constants.NIC_LINK] = spec["bridge"]
            params = paramtypes.enforce_types(params, constants.NICC_DEFAULTS, "NIC")
            if params.get(constants.NIC_VLAN):
                params[constants.NIC_VLAN] = iu.normalize_vlan(params[constants.NIC_VLAN])
            ip = spec.get("ip")
            if isinstance(ip, str) and ip.lower() == constants.VALUE_AUTO:
                if not self.op.name_check:
                    raise errors.OpPrereqError("IP address set to auto but name checks"
                                               " have been skipped", errors.ECODE_INVAL)
                ip = self.check_ip
            else:
                ip = iu.nic_ip(ip, net_uuid)
            iu.check_nicparams(cluster.fill_nic(params), ip, idx, network=net_uuid)
            mac = spec.get("mac") or constants.VALUE_AUTO
            if mac in (constants.VALUE_AUTO, constants.VALUE_GENERATE):
                mac = iu.generate_mac(self.cfg, instance_nics.mac_prefix(
                    self.cfg, cluster, net_uuid), macs)
            else:
                mac = iu.normalize_mac(mac)
                if mac in macs:
                    raise errors.OpPrereqError("MAC address %s already in use in cluster"
                                               % mac, errors.ECODE_NOTUNIQUE)
            macs.append(mac)
            nics.append(objects.NIC(mac=mac, ip=ip, nicparams=params, network=net_uuid,
                                    name=iu.device_name(spec.get("name"))))
        iu.validate_device_names("NIC", [nic.name for nic in nics])
        for inst in self.cfg.get_all_instances_info().values():
            if inst.name == self.instance_name:
                continue        # the reservation a commit replaces keeps its MACs
            for nic in inst.nics:
                if nic.mac in macs:
                    raise errors.OpPrereqError("MAC address %s already in use in cluster"
                                               % nic.mac, errors.ECODE_NOTUNIQUE)
        return nics

    def _check_ipolicy(self, cluster, instance):
        """The policy of the primary node's group (Ganeti's message), and the
        backend values no instance can run with."""
        group_uuid, group_name, policy = ipolicy.group_ipolicy(self.cfg, self.pnode)
        filled = cluster.fill_be(instance)
        violations = ipolicy.instance_spec_violations(policy, filled, instance.disks,
                                                      len(instance.nics),
                                                      instance.disk_template)
        ipolicy.report(self, ipolicy.allocation_message(group_uuid, group_name),
                       violations, self.op.ignore_ipolicy)
        iu.check_be_values(filled)

    def _storage_units(self, cluster):
        """{(storage type, key): MiB needed} of the new disks on the primary."""
        needed = {}
        for spec in self.disk_specs:
            if self.op.disk_template == constants.DT_DRBD8:
                vg = spec.get("vg") or cluster.volume_group_name
                metavg = spec.get("metavg") or vg
                needed[(constants.ST_LVM_VG, vg)] = \
                    needed.get((constants.ST_LVM_VG, vg), 0) + spec["size"]
                unit = (constants.ST_LVM_VG, metavg)
                needed[unit] = needed.get(unit, 0) + constants.DRBD_META_SIZE
                continue
            if self.op.disk_template == constants.DT_PLAIN:
                unit = (constants.ST_LVM_VG, spec.get("vg") or cluster.volume_group_name)
            elif self.op.disk_template == constants.DT_SHARED_FILE:
                unit = (constants.ST_SHARED_FILE, cluster.shared_file_storage_dir)
            else:
                unit = (constants.ST_FILE, cluster.file_storage_dir)
            needed[unit] = needed.get(unit, 0) + spec["size"]
        return needed

    def _check_storage_space(self, cluster, node):
        iu.check_storage_space(self, node, self._storage_units(cluster))

    def build_hooks_env(self):
        extra = {"ADD_MODE": self.op.mode}
        if self.importing:
            extra.update({"SRC_NODE": self.src_node, "SRC_PATH": self.src_path})
        return iu.build_instance_hook_env(self.cfg.get_cluster_info(), self.instance,
                                          extra)

    def build_hooks_nodes(self):
        nodes = [self.cfg.get_master_node(), self.pnode] + \
            ([self.snode] if self.snode else [])
        nodes = list(dict.fromkeys(nodes))
        return nodes, nodes

    def exec(self, feedback_fn):
        instance = self.instance
        if not self.reserved:
            # Ganeti's words as it lays out the new disks (a commit has them)
            for idx, disk in enumerate(instance.disks):
                feedback_fn("* disk %d, size %s" % (idx, format_unit(disk.size, "h")))
        if self.op.forthcoming:
            return self._reserve(instance, feedback_fn)
        try:
            self._create_disks(instance, feedback_fn)
            feedback_fn("adding instance %s to cluster config" % instance.name)
            if self.reserved:
                self.cfg.update(instance)       # the reservation becomes real
            else:
                self.cfg.add_instance(instance)
            feedback_fn("adding disks to cluster config")
            self._install_and_start(instance, feedback_fn)
        except Exception as err:
            self._undo(instance, err)
            raise
        return list(n for n in instance.all_nodes)

    def _reserve(self, instance, feedback_fn):
        """--forthcoming: the configuration entry only (Ganeti's messages)."""
        feedback_fn("Instance is forthcoming, not creating disks")
        try:
            drbd_disks.assign_ports(self.cfg, instance.disks)
            feedback_fn("adding instance %s to cluster config" % instance.name)
            self.cfg.add_instance(instance)
            feedback_fn("adding disks to cluster config")
        except Exception:
            self.cfg.release_ports(drbd_disks.ports_of(instance.disks))
            raise
        feedback_fn("Instance is forthcoming; not creating the actual instance")
        return list(instance.all_nodes)

    def _create_disks(self, instance, feedback_fn):
        feedback_fn("* creating instance disks...")     # said without disks too
        if not instance.disks:
            return
        drbd_disks.assign_ports(self.cfg, instance.disks)
        iu.create_disks(self, instance)

    def _check_mirrors(self, instance, feedback_fn):
        """Ganeti's check of new disks: waited for (or, with --no-wait-for-sync,
        looked at once); a mirror left degraded (its peer never connected, say)
        fails the creation, whose undo removes the disks and the config entry."""
        if self.op.wait_for_sync:
            good = wait_for_sync(self, instance)
        elif any(d.dev_type in constants.DTS_INT_MIRROR for d in instance.disks):
            feedback_fn("* checking mirrors status")
            good = wait_for_sync(self, instance, oneshot=True)
        else:
            good = True
        if not good:
            raise errors.OpExecError("There are some degraded disks for this instance")

    def _install_and_start(self, instance, feedback_fn):
        # Ganeti checks twice (after wiping, after imaging the disks); file disks
        # are never out of sync: nothing to wait for (doc/os-parameters.rst)
        self._check_mirrors(instance, feedback_fn)
        self._check_mirrors(instance, feedback_fn)
        if self.importing:
            # without disks nothing is imported and no script runs (Ganeti's rule)
            if instance.disks:
                self._import(instance, feedback_fn)
        elif not self.op.no_install and instance.disks:
            # as in Ganeti, an OS is installed onto disks: a diskless instance
            # runs no create script
            iu.assemble_disks(self, instance)
            feedback_fn("* running the instance OS create scripts...")
            res = self.rpc.call_instance_os_add(
                self.pnode, os_params.instance_for_os_script(self.cfg, instance,
                                                             self.os_secrets),
                False, self.op.debug_level)
            res.raise_on_failure("Could not add os for instance %s on node %s"
                                 % (instance.name, self.pnode))
            if not self.op.start:
                iu.shutdown_disks(self, instance, ignore_failures=True)
        elif not self.op.start and instance.disks:
            # creating them activated them (ext volumes: attached and opened)
            iu.shutdown_disks(self, instance, ignore_failures=True)
        if self.op.start:
            feedback_fn("* starting instance...")
            instance = self.cfg.get_instance_info(instance.name)
            instance.admin_state = constants.ADMINST_UP
            instance.disks_active = True
            iu.assemble_disks(self, instance)
            res = self.rpc.call_instance_start(
                self.pnode, iu.instance_for_node(self.cfg, instance), False, None)
            res.raise_on_failure("Could not start instance %s" % instance.name)
            self.cfg.update(instance)

    def _import(self, instance, feedback_fn):
        iu.assemble_disks(self, instance)
        instance_import.import_disks(self, feedback_fn, instance, self.src_node,
                                     self.src_images, self.op.compress, self.old_name,
                                     self.os_secrets)
        if not self.op.start:
            iu.shutdown_disks(self, instance, ignore_failures=True)

    def _undo(self, instance, err):
        """After a failed creation: remove what it made on the node (waiting a while
        for a node that does not answer) and the config entry. Raises OpExecError
        naming what is left over when the node could not be cleaned up. A failed
        commit leaves the reservation as it was."""
        if self.reserved:
            self.log_warning("Creation failed, instance %s stays forthcoming",
                             instance.name)
        else:
            self.log_warning("Creation failed, removing instance %s", instance.name)
        left = instance_cleanup.remove_created(
            self, instance, iu.instance_for_node(self.cfg, instance))
        if self.reserved:
            forthcoming.restore(self.cfg, self.reserved)
        elif self.cfg.get_instance_info(instance.name):
            self.cfg.remove_instance(instance.name)
        if not left and not self.reserved:
            self.cfg.release_ports(drbd_disks.ports_of(instance.disks))
        if left:
            raise errors.OpExecError("%s; cleaning up node %s failed, left over: %s"
                                     % (err, instance.primary_node, ", ".join(left)))


class LUInstanceRemove(InstanceLU):
    """Stop an instance, remove its disks and forget it (a forthcoming one has
    neither: only its configuration goes)."""
    HPATH = "instance-remove"
    ALLOW_FORTHCOMING = True

    def build_hooks_env(self):
        return iu.build_instance_hook_env(self.cfg.get_cluster_info(), self.instance,
                                          {"SHUTDOWN_TIMEOUT": self.op.shutdown_timeout})

    def build_hooks_nodes(self):
        return [self.cfg.get_master_node()], iu.instance_hook_nodes(self.cfg, self.instance)

    def exec(self, feedback_fn):
        inst = self.instance
        node = inst.primary_node
        if inst.forthcoming:
            remove_instance(self, feedback_fn, inst, self.op.ignore_failures)
            return None
        # the steps of a removal go to the log only, as in Ganeti
        logging.info("Shutting down instance %s on node %s", inst.name, node)
        node_inst = iu.instance_for_node(self.cfg, inst)
        res = shutdown_wait.call_with_progress(
            self, inst.name, self.op.shutdown_timeout,
            lambda: self.rpc.call_instance_shutdown(node, node_inst,
                                                    self.op.shutdown_timeout, None))
        if res.fail_msg:
            if self.op.ignore_failures:
                feedback_fn("Warning: can't shutdown instance: %s" % res.fail_msg)
            else:
                raise errors.OpExecError("Could not shutdown instance %s on node %s: %s"
                                         % (inst.name, node, res.fail_msg))
        remove_instance(self, feedback_fn, inst, self.op.ignore_failures)
        return None


def remove_instance(lu, feedback_fn, inst, ignore_failures):
    """Remove a stopped instance: its disks (none when it is forthcoming), its
    config entry, its lock."""
    if not inst.forthcoming:
        iu.shutdown_disks(lu, inst, ignore_failures=True)
        logging.info("Removing block devices for instance %s", inst.name)
        if not iu.remove_disks(lu, inst) and not ignore_failures:
            raise errors.OpExecError("Can't remove instance's disks")
    logging.info("Removing instance %s out of cluster config", inst.name)
    lu.cfg.remove_instance(inst.name)
    lu.cfg.release_ports(drbd_disks.ports_of(inst.disks))
    lu.glm.remove(locking.LEVEL_INSTANCE, [inst.name])
