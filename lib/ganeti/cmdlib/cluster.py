"""Logical units for the cluster as a whole."""

import os
import platform
import re
import time

from ganeti import constants, errors, locking, pathutils
from ganeti.cmdlib import cluster_options, cluster_os, iallocator
from ganeti.cmdlib.base import LogicalUnit, NoHooksLU


def cluster_info(cfg):
    """The cluster description shared by OP_CLUSTER_QUERY, LUXI and RAPI /2/info."""
    cluster = cfg.get_cluster_info()
    enabled = cluster.enabled_hypervisors
    # "64bits" as Ganeti prints it (Python says "64bit")
    arch = platform.architecture()[0].replace("bit", "bits"), platform.machine()
    return {
        "software_version": constants.RELEASE_VERSION,
        "protocol_version": constants.PROTOCOL_VERSION,
        "config_version": constants.CONFIG_VERSION,
        "os_api_version": constants.OS_API_VERSION,
        "export_version": constants.EXPORT_VERSION,
        "vcs_version": constants.VCS_VERSION,
        "architecture": list(arch),
        "name": cluster.cluster_name,
        "master": cluster.master_node,
        "default_hypervisor": enabled[0] if enabled else None,
        "enabled_hypervisors": list(enabled),
        "hvparams": dict((hv, cluster.hvparams.get(hv, {})) for hv in constants.HYPER_TYPES),
        "os_hvp": dict((name, dict((hv, p) for hv, p in hvs.items() if hv in enabled))
                       for name, hvs in cluster.os_hvp.items()),
        "beparams": cluster.beparams,
        "osparams": cluster.osparams,
        "ipolicy": cluster.ipolicy,
        "nicparams": cluster.nicparams,
        "ndparams": cluster.ndparams,
        "diskparams": cluster.diskparams,
        "candidate_pool_size": cluster.candidate_pool_size,
        "mac_prefix": cluster.mac_prefix,
        "max_running_jobs": cluster.max_running_jobs,
        "max_tracked_jobs": cluster.max_tracked_jobs,
        "auto_master_failover": cluster.auto_master_failover,
        "master_netdev": cluster.master_netdev,
        "master_netmask": cluster.master_netmask,
        "use_external_mip_script": cluster.use_external_mip_script,
        "volume_group_name": cluster.volume_group_name,
        "vg_name": cluster.volume_group_name,
        "reserved_lvs": cluster.reserved_lvs,
        "drbd_usermode_helper": cluster.drbd_usermode_helper,
        "drbd_helper": cluster.drbd_usermode_helper,
        "file_storage_dir": cluster.file_storage_dir,
        "shared_file_storage_dir": cluster.shared_file_storage_dir,
        "gluster_storage_dir": cluster.gluster_storage_dir,
        "maintain_node_health": cluster.maintain_node_health,
        "ctime": cluster.ctime,
        "mtime": cluster.mtime,
        "uuid": cluster.uuid,
        "tags": sorted(cluster.tags),
        "uid_pool": cluster.uid_pool,
        "default_iallocator": cluster.default_iallocator,
        "default_iallocator_params": cluster.default_iallocator_params,
        "primary_ip_version": 6 if cluster.primary_ip_family == constants.IP6_FAMILY else 4,
        "prealloc_wipe_disks": cluster.prealloc_wipe_disks,
        "hidden_os": cluster.hidden_os,
        "blacklisted_os": cluster.blacklisted_os,
        "enabled_disk_templates": cluster.enabled_disk_templates,
        "install_image": cluster.install_image,
        "instance_communication_network": cluster.instance_communication_network,
        "zeroing_image": cluster.zeroing_image,
        "compression_tools": cluster.compression_tools,
        "enabled_user_shutdown": cluster.enabled_user_shutdown,
        "modify_ssh_setup": cluster.modify_ssh_setup,
        "ssh_key_type": cluster.ssh_key_type,
        "ssh_key_bits": cluster.ssh_key_bits,
        "enabled_data_collectors": dict((k, v.get("active", True)) for k, v in
                                        sorted(cluster.data_collectors.items())),
        "data_collector_interval": dict((k, int(v.get("interval", 5.0) * 1000000)) for k, v
                                        in sorted(cluster.data_collectors.items())),
    }


class LUClusterPostInit(LogicalUnit):
    """Runs the cluster-init post hooks right after `gnt-cluster init`."""
    HPATH = "cluster-init"
    HTYPE = constants.HTYPE_CLUSTER

    def expand_names(self):
        self.needed_locks = {}

    def build_hooks_env(self):
        return {"OP_TARGET": self.cfg.get_cluster_name()}

    def build_hooks_nodes(self):
        return [], [self.cfg.get_master_node()]

    def exec(self, feedback_fn):
        return True


class LUClusterDestroy(LogicalUnit):
    """Checks the cluster can be destroyed and turns the master IP off.

    The client finishes the job (stops the daemons, removes the files), since
    the master daemon cannot remove its own queue while running this job.
    """
    HPATH = "cluster-destroy"
    HTYPE = constants.HTYPE_CLUSTER

    def expand_names(self):
        self.needed_locks = {}

    def build_hooks_env(self):
        return {"OP_TARGET": self.cfg.get_cluster_name()}

    def build_hooks_nodes(self):
        return [], []

    def check_prereq(self):
        master = self.cfg.get_master_node()
        others = [n for n in self.cfg.get_node_list() if n != master]
        if others:
            # Ganeti's words (gnt-node remove, gnt-instance remove do it)
            raise errors.OpPrereqError("There are still %d node(s) in this cluster."
                                       % len(others), errors.ECODE_INVAL)
        instances = self.cfg.get_instance_list()
        if instances:
            raise errors.OpPrereqError("There are still %d instance(s) in this cluster."
                                       % len(instances), errors.ECODE_INVAL)

    def exec(self, feedback_fn):
        master = self.cfg.get_master_node()
        if self.hooks_master is not None:
            self.hooks_master.run_phase(constants.HOOKS_PHASE_POST, nodes=[master])
        params = self.cfg.get_master_network_parameters()
        result = self.rpc.call_node_deactivate_master_ip(master, params)
        result.raise_on_failure("Could not disable the master role")
        return master


class LUClusterQuery(NoHooksLU):
    REQ_BGL = False

    def exec(self, feedback_fn):
        return cluster_info(self.cfg)


class LUClusterConfigQuery(NoHooksLU):
    """Values of selected cluster settings (QueryConfigValues)."""
    REQ_BGL = False

    def check_arguments(self):
        unknown = [f for f in self.op.output_fields if f not in CONFIG_VALUE_FIELDS]
        if unknown:
            raise errors.OpPrereqError("Unknown output fields: %s" % ", ".join(unknown),
                                       errors.ECODE_INVAL)

    def exec(self, feedback_fn):
        return config_values(self.context, self.op.output_fields)


def _watcher_pause(context):
    try:
        with open(pathutils.WATCHER_PAUSEFILE) as fd:
            until = float(fd.read().strip())
    except (OSError, ValueError):
        return None
    return until if until > time.time() else None


def set_watcher_pause(context, until):
    """SetWatcherPause: write (or remove) the pause file on every online node, the
    master included, so the pause holds cluster-wide and survives a failover.

    Returns ``until``; nodes that could not be reached make it an error that
    names them, after the others were set (as Ganeti does).
    """
    cfg = context.cfg
    nodes = sorted(n for n, node in cfg.get_all_nodes_info().items() if not node.offline)
    results = context.rpc.call("set_watcher_pause", nodes, [until])
    failed = ["Node %s: %s" % (node, results[node].fail_msg) for node in nodes
              if results[node].fail_msg]
    if failed:
        raise errors.OpExecError("Watcher pause was set where possible, but failed on"
                                 " the following node(s): %s" % "; ".join(failed))
    return until


CONFIG_VALUE_FIELDS = {
    "cluster_name": lambda c: c.cfg.get_cluster_name(),
    "master_node": lambda c: c.cfg.get_master_node(),
    "drain_flag": lambda c: c.jqueue.is_drained(),
    "watcher_pause": _watcher_pause,
    "volume_group_name": lambda c: c.cfg.get_cluster_info().volume_group_name,
}


def config_values(context, fields):
    unknown = [f for f in fields if f not in CONFIG_VALUE_FIELDS]
    if unknown:
        raise errors.OpPrereqError("Unknown config value(s): %s" % ", ".join(unknown),
                                   errors.ECODE_INVAL)
    return [CONFIG_VALUE_FIELDS[f](context) for f in fields]


class LUClusterRedistConf(NoHooksLU):
    """Push the configuration and ssconf files to every node again."""

    def expand_names(self):
        self.needed_locks = {locking.LEVEL_NODE: locking.ALL_SET}
        self.share_locks[locking.LEVEL_NODE] = 1

    def exec(self, feedback_fn):
        from ganeti import etchosts
        from ganeti.cmdlib import node as node_lu
        node_lu.sync_etcd_members(self)
        self.context.redistribute_config(feedback_fn)
        if self.cfg.get_cluster_info().modify_etc_hosts:
            etchosts.distribute(self)
        return True


class LUClusterActivateMasterIp(NoHooksLU):
    """Bring the master IP up on the master node (after deactivate-master-ip)."""

    def expand_names(self):
        self.needed_locks = {}

    def exec(self, feedback_fn):
        cfg = self.cfg
        self.rpc.call_node_activate_master_ip(
            cfg.get_master_node(), cfg.get_master_network_parameters()).raise_on_failure(
            "Could not activate the master IP")


class LUClusterDeactivateMasterIp(NoHooksLU):
    """Take the master IP down on the master node; the master stays the master
    and is reached through its own address meanwhile."""

    def expand_names(self):
        self.needed_locks = {}

    def exec(self, feedback_fn):
        cfg = self.cfg
        self.rpc.call_node_deactivate_master_ip(
            cfg.get_master_node(), cfg.get_master_network_parameters()).raise_on_failure(
            "Could not deactivate the master IP")


# ---- verify: see cluster_verify ---------------------------------------------------------

from ganeti.cmdlib.cluster_verify import (  # noqa: E402,F401  (LU lookup)
    LUClusterVerify, LUClusterVerifyConfig, LUClusterVerifyGroup)


def _checked_enabled(values, known, what, instances, used_by):
    """A new list of enabled hypervisors or disk templates, checked: not empty,
    all known, and none that instances still use left out."""
    if not values:
        raise errors.OpPrereqError("At least one %s must be enabled" % what,
                                   errors.ECODE_INVAL)
    unknown = [v for v in values if v not in known]
    if unknown:
        raise errors.OpPrereqError("Unknown %s(s) %s; known %ss: %s"
                                   % (what, ", ".join(unknown), what,
                                      ", ".join(sorted(known))), errors.ECODE_INVAL)
    in_use = sorted(set(used_by(i) for i in instances.values()) - set(values))
    if in_use:
        raise errors.OpPrereqError(
            "Cannot disable %s(s) %s: instances still use them (%s)"
            % (what, ", ".join(in_use), ", ".join(sorted(
                n for n, i in instances.items() if used_by(i) in in_use))),
            errors.ECODE_STATE)
    return list(dict.fromkeys(values))


# ---- modify and rename ----------------------------------------------------------------

class LUClusterSetParams(LogicalUnit):
    """Change cluster-wide parameters; every value is checked before any is stored."""
    HPATH = "cluster-modify"
    HTYPE = constants.HTYPE_CLUSTER

    def expand_names(self):
        self.needed_locks = {locking.LEVEL_NODE: locking.ALL_SET,
                             locking.LEVEL_INSTANCE: locking.ALL_SET}
        self.share_locks = dict.fromkeys(locking.LEVELS, 1)

    def build_hooks_env(self):
        return {"OP_TARGET": self.cfg.get_cluster_name(),
                "NEW_VG_NAME": self.op.vg_name if self.op.vg_name is not None
                else (self.cfg.get_cluster_info().volume_group_name or "")}

    def build_hooks_nodes(self):
        master = self.cfg.get_master_node()
        return [master], [master]

    def _check_hv_and_templates(self, new):
        """Enabled hypervisors / disk templates: known, and in use ones stay enabled."""
        op = self.op
        instances = self.cfg.get_all_instances_info()
        if op.enabled_hypervisors is not None:
            new.enabled_hypervisors = _checked_enabled(
                op.enabled_hypervisors, constants.HYPER_TYPES, "hypervisor", instances,
                lambda i: i.hypervisor)
        if op.enabled_disk_templates is not None:
            new.enabled_disk_templates = _checked_enabled(
                op.enabled_disk_templates, constants.DISK_TEMPLATES, "disk template",
                instances, lambda i: i.disk_template)
        if (constants.DT_DRBD8 in new.enabled_disk_templates
                and not new.drbd_usermode_helper and op.drbd_helper is None):
            new.drbd_usermode_helper = constants.DEFAULT_DRBD_HELPER
        if op.vg_name is not None:
            new.volume_group_name = op.vg_name or None
        if (any(dt in constants.DTS_LVM for dt in new.enabled_disk_templates)
                and not new.volume_group_name):
            raise errors.OpPrereqError(
                "LVM disk templates (%s) are enabled, which need a volume group; set one"
                " with --vg-name or disable them"
                % ", ".join(dt for dt in new.enabled_disk_templates
                            if dt in constants.DTS_LVM), errors.ECODE_INVAL)

    def _check_params(self, new):
        """The parameter dictionaries: typed, merged into the current values, checked."""
        from ganeti import paramtypes
        from ganeti.cmdlib import instance_utils
        op = self.op
        for hv_name, params in sorted((op.hvparams or {}).items()):
            if hv_name not in constants.HYPER_TYPES:
                raise errors.OpPrereqError("Unknown hypervisor '%s' in hypervisor parameters"
                                           % hv_name, errors.ECODE_INVAL)
            merged = dict(new.hvparams.get(hv_name, {}))
            merged.update(instance_utils.typed_hvparams(hv_name, params))
            instance_utils.check_hvparams(hv_name, merged)
            new.hvparams[hv_name] = merged
        if op.os_hvp:
            new.os_hvp = cluster_os.updated_os_hvp(new.os_hvp, op.os_hvp, new.hvparams)
        if op.osparams or op.osparams_private_cluster:
            new.osparams = cluster_os.updated_osparams(new.osparams, op.osparams or {})
            new.osparams_private_cluster = cluster_os.updated_osparams(
                new.osparams_private_cluster, op.osparams_private_cluster or {},
                "osparams_private_cluster")
            cluster_os.check_os_defaults(
                self, new.osparams, new.osparams_private_cluster,
                set(op.osparams or {}) | set(op.osparams_private_cluster or {}))
        if op.beparams:
            merged = dict(new.beparams.get("default", {}))
            merged.update(instance_utils.typed_beparams(op.beparams))
            # no default no instance could run with (vcpus 0, minmem > maxmem)
            instance_utils.check_be_values(merged)
            new.beparams["default"] = merged
        if op.nicparams:
            merged = dict(new.nicparams.get("default", {}))
            merged.update(paramtypes.enforce_types(op.nicparams, constants.NICC_DEFAULTS,
                                                   "NIC"))
            mode = merged.get(constants.NIC_MODE)
            if mode not in constants.NIC_VALID_MODES:
                raise errors.OpPrereqError(
                    "Invalid NIC mode '%s'; valid modes: %s"
                    % (mode, ", ".join(sorted(constants.NIC_VALID_MODES))),
                    errors.ECODE_INVAL)
            if mode == constants.NIC_MODE_BRIDGED and not merged.get(constants.NIC_LINK):
                raise errors.OpPrereqError("Bridged NIC mode needs a link (bridge name)",
                                           errors.ECODE_INVAL)
            new.nicparams["default"] = merged
        if op.ndparams:
            merged = dict(new.ndparams)
            merged.update(paramtypes.enforce_types(op.ndparams, constants.NDC_DEFAULTS,
                                                   "Node"))
            new.ndparams = merged
        for tmpl, params in sorted((op.diskparams or {}).items()):
            defaults = constants.DISK_DT_DEFAULTS.get(tmpl)
            if defaults is None:
                raise errors.OpPrereqError("Unknown disk template '%s' in disk parameters"
                                           % tmpl, errors.ECODE_INVAL)
            merged = dict(new.diskparams.get(tmpl, {}))
            # an unknown or mistyped key: a TypeEnforcementError, as Ganeti has it
            merged.update(paramtypes.check_types(params, defaults))
            new.diskparams[tmpl] = merged
        if op.ipolicy:
            unknown = sorted(set(op.ipolicy) - set(constants.IPOLICY_DEFAULTS))
            if unknown:
                raise errors.OpPrereqError("Unknown instance policy parameter(s): %s"
                                           % ", ".join(unknown), errors.ECODE_INVAL)
            merged = dict(new.ipolicy)
            merged.update(op.ipolicy)
            if "std" in op.ipolicy:     # a standard spec changes key by key
                merged["std"] = dict(new.ipolicy.get("std") or {}, **op.ipolicy["std"])
            from ganeti.cmdlib import ipolicy   # ranges, std spec, templates, ratios
            new.ipolicy = ipolicy.check_syntax(merged)

    def _check_simple(self, new):
        """The single-valued settings."""
        op = self.op
        if op.mac_prefix is not None:
            new.mac_prefix = op.mac_prefix.lower()
        if op.master_netmask is not None:
            limit = 128 if new.primary_ip_family == constants.IP6_FAMILY else 32
            if not 0 < op.master_netmask <= limit:
                raise errors.OpPrereqError("Invalid master netmask %d: must be between 1"
                                           " and %d" % (op.master_netmask, limit),
                                           errors.ECODE_INVAL)
            new.master_netmask = op.master_netmask
        if op.master_netdev is not None:
            if not op.master_netdev:
                raise errors.OpPrereqError("The master network device cannot be empty",
                                           errors.ECODE_INVAL)
            new.master_netdev = op.master_netdev
        if op.reserved_lvs is not None:
            for pattern in op.reserved_lvs:
                try:
                    re.compile(pattern)
                except re.error as err:
                    raise errors.OpPrereqError("Invalid reserved LV pattern '%s': %s"
                                               % (pattern, err), errors.ECODE_INVAL)
            new.reserved_lvs = list(op.reserved_lvs)
        if op.default_iallocator is not None:
            if op.default_iallocator and not iallocator.find(op.default_iallocator):
                raise errors.OpPrereqError("Invalid default iallocator script '%s' specified"
                                           % op.default_iallocator, errors.ECODE_INVAL)
            new.default_iallocator = op.default_iallocator
        if op.default_iallocator_params is not None:
            new.default_iallocator_params = check_iallocator_params(
                op.default_iallocator_params)
        if op.compression_tools is not None:
            check_compression_tools(op.compression_tools)
            new.compression_tools = list(op.compression_tools)
        for name in ("file_storage_dir", "shared_file_storage_dir"):
            value = getattr(op, name)
            if value is None:
                continue
            if value and not os.path.isabs(value):
                raise errors.OpPrereqError("The %s must be an absolute path, not '%s'"
                                           % (name.replace("_", " "), value),
                                           errors.ECODE_INVAL)
            setattr(new, name, os.path.normpath(value) if value else "")
        if op.drbd_helper is not None:
            if op.drbd_helper and not os.path.isabs(op.drbd_helper):
                raise errors.OpPrereqError("The DRBD usermode helper must be an absolute"
                                           " path, not '%s'" % op.drbd_helper,
                                           errors.ECODE_INVAL)
            new.drbd_usermode_helper = op.drbd_helper
        check_unsupported_settings(
            prealloc_wipe_disks=op.prealloc_wipe_disks,
            use_external_mip_script=op.use_external_mip_script,
            install_image=op.install_image, zeroing_image=op.zeroing_image,
            instance_communication_network=op.instance_communication_network)
        if op.hv_state:
            new.hv_state_static = cluster_options.merge_hv_state(op.hv_state,
                                                                 new.hv_state_static)
        if op.disk_state:
            new.disk_state_static = cluster_options.merge_disk_state(
                op.disk_state, new.disk_state_static)
        cluster_options.apply_data_collectors(
            new, cluster_options.collectors_active(op.enabled_data_collectors),
            cluster_options.check_collector_intervals(op.data_collector_interval))
        for name in ("candidate_pool_size", "max_running_jobs", "max_tracked_jobs",
                     "maintain_node_health", "prealloc_wipe_disks",
                     "use_external_mip_script", "modify_etc_hosts", "enabled_user_shutdown",
                     "auto_master_failover"):
            value = getattr(op, name)
            if value is not None:
                setattr(new, name, value)
        if new.max_tracked_jobs < new.max_running_jobs:
            raise errors.OpPrereqError(
                "The maximal number of tracked jobs (%d) cannot be smaller than the maximal"
                " number of running jobs (%d)" % (new.max_tracked_jobs, new.max_running_jobs),
                errors.ECODE_INVAL)
        if op.hidden_os is not None:
            new.hidden_os = cluster_os.apply_os_list_mods(new.hidden_os, op.hidden_os,
                                                          "hidden", self.feedback_fn)
        if op.blacklisted_os is not None:
            new.blacklisted_os = cluster_os.apply_os_list_mods(
                new.blacklisted_os, op.blacklisted_os, "blacklisted", self.feedback_fn)

    def check_prereq(self):
        self.old = self.cfg.get_cluster_info()
        new = self.cfg.get_cluster_info()
        self._check_hv_and_templates(new)
        self._check_params(new)
        self._check_simple(new)
        self.new = new

    def _allow_storage_dirs(self, new):
        """A file storage directory enabled now joins the allowed ones of every
        node (the list cluster init wrote, pathutils.FILE_STORAGE_PATHS_FILE):
        else the template, enabled, could create no disk. Nothing is removed
        from it (the admin's own entries stay)."""
        from ganeti.storage import filestorage
        allowed = filestorage.read_allowed_dirs()

        def is_allowed(path):
            real = os.path.realpath(pathutils.root(path))
            return any(real == a or real.startswith(a.rstrip("/") + "/") for a in allowed)
        missing = [d for d in _file_storage_dirs(new) if not is_allowed(d)]
        if not missing:
            return
        try:
            with open(pathutils.FILE_STORAGE_PATHS_FILE) as fd:
                text = fd.read()
        except FileNotFoundError:
            text = ""
        text += "".join("%s\n" % d for d in missing)
        for path in missing:
            os.makedirs(pathutils.root(path), mode=0o750, exist_ok=True)
        nodes = self.cfg.get_online_node_list()
        res = self.rpc.call_upload_file(nodes, pathutils.FILE_STORAGE_PATHS_FILE,
                                        data=text.encode("utf-8"), mode=0o644)
        for node, result in sorted(res.items()):
            if result.fail_msg:
                self.log_warning("Could not update %s on node %s: %s",
                                 pathutils.FILE_STORAGE_PATHS_FILE, node, result.fail_msg)

    def _report_unchanged(self, feedback_fn):
        """Ganeti's words for the storage settings given as they already are
        (and for a DRBD helper while DRBD is not enabled)."""
        op, old = self.op, self.old
        if op.vg_name is not None and (op.vg_name or None) == (old.volume_group_name or None):
            feedback_fn("Cluster LVM configuration already in desired state, not changing")
        if op.file_storage_dir is not None and self.new.file_storage_dir == \
                old.file_storage_dir:
            feedback_fn("Global file storage dir already set to value '%s'"
                        % old.file_storage_dir)
        if op.shared_file_storage_dir is not None and self.new.shared_file_storage_dir == \
                old.shared_file_storage_dir:
            feedback_fn("Global shared file storage dir already set to value '%s'"
                        % old.shared_file_storage_dir)
        if op.drbd_helper is not None:
            if constants.DT_DRBD8 not in self.new.enabled_disk_templates:
                feedback_fn("Note that you specified a drbd user helper, but did not"
                            " enable the drbd disk template.")
            if (op.drbd_helper or None) == (old.drbd_usermode_helper or None):
                feedback_fn("Cluster DRBD helper already in desired state, not changing")

    def exec(self, feedback_fn):
        from ganeti.cmdlib import node as node_lu
        old, new = self.old, self.new
        master = old.master_node
        changed = [f for f in objects_fields(new) if getattr(old, f) != getattr(new, f)]
        self._report_unchanged(feedback_fn)
        # a master netdev given, even the one in use, cycles the master IP
        # (Ganeti's way: the admin's means to bring it up again)
        netdev_given = bool(self.op.master_netdev)
        if not changed and not netdev_given:
            return []
        net_change = netdev_given or old.master_netmask != new.master_netmask
        if netdev_given:
            feedback_fn("Shutting down master ip on the current netdev (%s)"
                        % old.master_netdev)
        if net_change:
            res = self.rpc.call_node_deactivate_master_ip(
                master, self.cfg.get_master_network_parameters())
            # the IP left up on the old netdev: only with --force (Ganeti's
            # rule); nothing is changed otherwise
            if res.fail_msg and netdev_given and not self.op.force:
                raise errors.OpExecError("Could not disable the master ip: %s"
                                         % res.fail_msg)
            if res.fail_msg:
                feedback_fn("Could not disable the master ip (continuing anyway): %s"
                            % res.fail_msg)
        if netdev_given:
            feedback_fn("Changing master_netdev from %s to %s"
                        % (old.master_netdev, new.master_netdev))
        if self.op.master_netmask:
            feedback_fn("Changing master IP netmask to %s" % new.master_netmask)
        self.cfg.update(new, feedback_fn)
        if net_change:
            if netdev_given:
                feedback_fn("Starting the master ip on the new master netdev (%s)"
                            % new.master_netdev)
            res = self.rpc.call_node_activate_master_ip(
                master, self.cfg.get_master_network_parameters())
            if res.fail_msg:
                self.log_warning("Could not re-enable the master ip on the master,"
                                 " please restart manually: %s", res.fail_msg)
        self._allow_storage_dirs(new)
        if new.candidate_pool_size > old.candidate_pool_size:
            if node_lu.promote_candidates(self):
                node_lu.sync_etcd_members(self)
        if new.modify_etc_hosts and not old.modify_etc_hosts:
            from ganeti import etchosts
            etchosts.distribute(self)       # from now on every node has the master's
        jqueue = getattr(self.context, "jqueue", None)
        if new.max_running_jobs != old.max_running_jobs and jqueue is not None:
            jqueue.set_max_running(new.max_running_jobs)    # at once, as in Ganeti
        # private OS parameters are stored, never shown (nor in the job's result)
        return [[f, _short(cluster_os.redacted_private(new.osparams_private_cluster)
                           if f == "osparams_private_cluster" else getattr(new, f))]
                for f in changed]


def _file_storage_dirs(cluster):
    """The directories of the file-based templates the cluster has enabled."""
    dirs = []
    if constants.DT_FILE in cluster.enabled_disk_templates and cluster.file_storage_dir:
        dirs.append(cluster.file_storage_dir)
    if constants.DT_SHARED_FILE in cluster.enabled_disk_templates and \
            cluster.shared_file_storage_dir:
        dirs.append(cluster.shared_file_storage_dir)
    return dirs


def check_iallocator_params(params):
    """The default allocator's options: names and values become --name=value."""
    result = {}
    for key, value in params.items():
        if not re.match(r"^[-_a-zA-Z0-9]+$", str(key)) or \
                not isinstance(value, (str, int, float, bool)):
            raise errors.OpPrereqError("Invalid instance allocator parameter %r=%r"
                                       % (key, value), errors.ECODE_INVAL)
        result[str(key)] = str(value)
    return result


def check_compression_tools(tools):
    """Ganeti's rules: names of programs, gzip among them, "none" reserved."""
    illegal = [t for t in tools if not re.match(r"^[-_a-zA-Z0-9]+$", t)]
    if illegal:
        raise errors.OpPrereqError("The tools '%s' contain illegal characters: only"
                                   " alphanumeric values, dashes, and underscores are"
                                   " allowed" % ", ".join(illegal), errors.ECODE_INVAL)
    if "gzip" not in tools:
        raise errors.OpPrereqError("For compatibility reasons, the gzip utility must be"
                                   " present among the compression tools",
                                   errors.ECODE_INVAL)
    if "none" in tools:
        raise errors.OpPrereqError("none is a reserved value used for no compression,"
                                   " and cannot be used as the name of a tool",
                                   errors.ECODE_INVAL)


def check_unsupported_settings(prealloc_wipe_disks=None, use_external_mip_script=None,
                               uid_pool=None, install_image=None, zeroing_image=None,
                               instance_communication_network=None,
                               gluster_storage_dir=None):
    """Refuse, in words, the settings that would be stored but could not act
    (shared by gnt-cluster init and modify; None means "not given"; an empty
    image or network name clears it, which it already is)."""
    cluster_options.check_unsupported(install_image, zeroing_image,
                                      instance_communication_network,
                                      gluster_storage_dir)
    if prealloc_wipe_disks:
        raise errors.OpPrereqError("Wiping new disks before use (prealloc_wipe_disks) is"
                                   " not supported yet", errors.ECODE_INVAL)
    if uid_pool:
        raise errors.OpPrereqError("The user-id pool (uid_pool) is not supported yet:"
                                   " KVM instances run as root here", errors.ECODE_INVAL)
    if use_external_mip_script:
        from ganeti.backend import mip_script
        if not mip_script.usable():
            raise errors.OpPrereqError(
                "Cannot use the external master IP setup script: %s does not exist or"
                " is not executable" % mip_script.script_path(), errors.ECODE_ENVIRON)


def objects_fields(cluster):
    skip = ("serial_no", "mtime", "ctime", "uuid")
    return [f for f in type(cluster).FIELDS if f not in skip]


def _short(value):
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


class LUClusterRename(LogicalUnit):
    """Rename the cluster: the master IP moves to the new name's address."""
    HPATH = "cluster-rename"
    HTYPE = constants.HTYPE_CLUSTER

    def expand_names(self):
        self.needed_locks = {}

    def build_hooks_env(self):
        return {"OP_TARGET": self.cfg.get_cluster_name(), "NEW_NAME": self.op.name}

    def build_hooks_nodes(self):
        master = self.cfg.get_master_node()
        return [master], [master]

    def check_prereq(self):
        from ganeti.utils import net
        try:
            hostname = net.Hostname(self.op.name)
        except errors.ResolverError as err:
            raise errors.OpPrereqError("The new cluster name '%s' cannot be resolved: %s"
                                       % (self.op.name, err), errors.ECODE_RESOLVER)
        self.new_name = hostname.name
        self.new_ip = hostname.ip
        cluster = self.cfg.get_cluster_info()
        if self.new_name == cluster.cluster_name and self.new_ip == cluster.master_ip:
            raise errors.OpPrereqError("Neither the name nor the IP address of the cluster"
                                       " has changed", errors.ECODE_INVAL)
        if self.new_ip != cluster.master_ip:
            nodes = self.cfg.get_all_nodes_info()
            users = sorted(n for n, node in nodes.items()
                           if self.new_ip in (node.primary_ip, node.secondary_ip))
            if users or net.address_in_use(self.new_ip, constants.DEFAULT_NODED_PORT):
                raise errors.OpPrereqError(
                    "The given cluster IP address (%s) is reachable%s; it must be an unused"
                    " address" % (self.new_ip, " (node %s)" % users[0] if users else ""),
                    errors.ECODE_NOTUNIQUE)

    def exec(self, feedback_fn):
        master = self.cfg.get_master_node()
        res = self.rpc.call_node_deactivate_master_ip(
            master, self.cfg.get_master_network_parameters())
        res.raise_on_failure("Could not disable the master role")
        try:
            cluster = self.cfg.get_cluster_info()
            cluster.cluster_name = self.new_name
            cluster.master_ip = self.new_ip
            self.cfg.update(cluster, feedback_fn)
        finally:
            res = self.rpc.call_node_activate_master_ip(
                master, self.cfg.get_master_network_parameters())
            if res.fail_msg:
                self.log_warning("Could not re-enable the master role on the master,"
                                 " please restart manually: %s", res.fail_msg)
        return self.new_name
