"""Logical units for the cluster as a whole."""

import os
import platform
import time

from ganeti import constants, errors, locking, pathutils
from ganeti.cmdlib.base import LogicalUnit, NoHooksLU
from ganeti.utils import x509


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
        "os_hvp": cluster.os_hvp,
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
            raise errors.OpPrereqError(
                "There are still %d node(s) in this cluster (%s); remove them first with"
                " 'gnt-node remove'" % (len(others), ", ".join(others)), errors.ECODE_INVAL)
        instances = self.cfg.get_instance_list()
        if instances:
            raise errors.OpPrereqError(
                "There are still %d instance(s) in this cluster; remove them first"
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
        self.context.redistribute_config(feedback_fn)
        return True


# ---- verify ------------------------------------------------------------------------------

ETYPE_ERROR = "ERROR"
ETYPE_WARNING = "WARNING"


class LUClusterVerify(LogicalUnit):
    """Verify the cluster: configuration, certificates, nodes, files, daemons.

    Findings go to the job log as "  - ERROR: node X: message"; the result is
    True when no ERROR was found.
    """
    HPATH = "cluster-verify"
    HTYPE = constants.HTYPE_CLUSTER
    REQ_BGL = False

    # files every node must have identical to the master's copy
    def _files_all(self):
        files = [pathutils.NODED_CERT_FILE]
        for path in (pathutils.RAPI_CERT_FILE, pathutils.CONFD_HMAC_KEY,
                     pathutils.CLUSTER_DOMAIN_SECRET_FILE):
            if os.path.exists(path):
                files.append(path)
        return files

    def expand_names(self):
        self.needed_locks = {locking.LEVEL_NODE: locking.ALL_SET,
                             locking.LEVEL_INSTANCE: locking.ALL_SET}
        self.share_locks = dict.fromkeys(locking.LEVELS, 1)

    def build_hooks_env(self):
        cluster = self.cfg.get_cluster_info()
        env = {"CLUSTER_TAGS": " ".join(sorted(cluster.tags)),
               "OP_TARGET": cluster.cluster_name}
        for name, node in self.cfg.get_all_nodes_info().items():
            env["NODE_TAGS_%s" % name] = " ".join(sorted(node.tags))
        return env

    def build_hooks_nodes(self):
        return [], self.cfg.get_online_node_list()

    def _error(self, ecode, etype_item, item, msg, warning=False):
        itype = etype_item
        ltype = ETYPE_WARNING if (warning or ecode in self.op.ignore_errors) else ETYPE_ERROR
        if self.op.error_codes:
            text = "%s:%s:%s:%s:%s" % (ltype, ecode, itype, item, msg)
        else:
            text = "%s: %s%s: %s" % (ltype, itype, " " + item if item else "", msg)
        self.feedback_fn("  - " + text)
        if ltype == ETYPE_ERROR:
            self.bad = True

    def exec(self, feedback_fn):
        self.bad = False
        cfg = self.cfg
        cluster = cfg.get_cluster_info()
        master = cluster.master_node
        nodes = cfg.get_all_nodes_info()

        self.log_step("Verifying cluster config")
        for msg in cfg.verify_config():
            self._error("ECLUSTERCFG", "cluster", "", msg)

        self.log_step("Verifying cluster certificate files")
        for path in self._files_all():
            problem = x509.verify_cert_file(path) if hasattr(x509, "verify_cert_file") else None
            if problem:
                etype, msg = problem
                self._error("ECLUSTERCERT", "cluster", "", "%s: %s" % (path, msg),
                            warning=(etype == "warning"))

        self.log_step("Verifying all nodes belong to an existing group")
        groups = cfg.get_all_node_groups_info()
        dangling = [n for n, node in nodes.items() if node.group not in groups]
        if dangling:
            self._error("ECLUSTERDANGLINGNODES", "cluster", "",
                        "the following nodes (and their instances) belong to a non"
                        " existing group: %s" % ", ".join(sorted(dangling)))

        online = sorted(n for n, node in nodes.items() if not node.offline)
        offline = sorted(n for n, node in nodes.items() if node.offline)
        self.log_step("Gathering data (%d nodes)" % len(online))
        files = self._files_all()
        candidate_files = [pathutils.CLUSTER_CONF_FILE]
        checks = {
            "version": None,
            "filelist": [pathutils.strip_root(p) for p in files + candidate_files],
            "nodelist": sorted(nodes),
            "time": None,
        }
        start = time.time()
        results = self.rpc.call_node_verify(online, checks, cluster.cluster_name)
        end = time.time()

        self.log_step("Verifying node status")
        master_sums = {}
        if master in results and not results[master].fail_msg:
            master_sums = (results[master].data or {}).get("filelist", {})
        for name in online:
            res = results.get(name)
            if res is None or res.fail_msg:
                self._error("ENODERPC", "node", name,
                        "node daemon (%s) is not answering: %s"
                        % (constants.NODED, res.fail_msg if res else "no answer"))
                continue
            data = res.data or {}
            version = data.get("version")
            if not version or version[0] != constants.PROTOCOL_VERSION:
                self._error("ENODEVERSION", "node", name,
                            "incompatible protocol versions: master %s, node %s"
                            % (constants.PROTOCOL_VERSION, version and version[0]))
            elif version[1] != constants.RELEASE_VERSION:
                self._error("ENODEVERSION", "node", name,
                            "software version mismatch: master %s, node %s"
                            % (constants.RELEASE_VERSION, version[1]), warning=True)
            for other, err in sorted((data.get("nodelist") or {}).items()):
                self._error("ENODESSH", "node", name,
                            "node name %s does not resolve: %s" % (other, err))
            ntime = data.get("time")
            if ntime is not None:
                ntime = ntime[0] + ntime[1] / 1e6 if isinstance(ntime, list) else ntime
                skew = 0
                if ntime < start - 150:
                    skew = start - ntime
                elif ntime > end + 150:
                    skew = ntime - end
                if skew:
                    self._error("ENODETIME", "node", name,
                                "clock skew of %.1fs detected (node time %s)" % (skew, ntime))

        self.log_step("Verifying configuration file consistency")
        node_sums = dict((n, (results[n].data or {}).get("filelist", {}))
                         for n in online if n in results and not results[n].fail_msg)
        for path in files:
            rel = pathutils.strip_root(path)
            want = master_sums.get(rel)
            for name, sums in sorted(node_sums.items()):
                have = sums.get(rel)
                if have is None:
                    self._error("ECLUSTERFILECHECK", "cluster", "",
                                "File %s is missing from node %s" % (rel, name))
                elif want is not None and have != want:
                    self._error("ECLUSTERFILECHECK", "cluster", "",
                                "File %s found with different checksum on node %s"
                                % (rel, name))
        rel = pathutils.strip_root(pathutils.CLUSTER_CONF_FILE)
        for name, sums in sorted(node_sums.items()):
            is_candidate = nodes[name].master_candidate
            have = sums.get(rel)
            if is_candidate and have is None:
                self._error("ECLUSTERFILECHECK", "cluster", "",
                            "File %s is missing from master candidate %s" % (rel, name))
            elif is_candidate and have != master_sums.get(rel):
                self._error("ECLUSTERFILECHECK", "cluster", "",
                            "File %s found with different checksum on master candidate %s"
                            % (rel, name))
            elif not is_candidate and have is not None:
                self._error("ECLUSTERFILECHECK", "cluster", "",
                            "File %s should not exist on non-candidate node %s"
                            % (rel, name))

        self.log_step("Other Notes")
        if offline:
            self.feedback_fn("  - NOTICE: %d offline node(s) found." % len(offline))
        return not self.bad
