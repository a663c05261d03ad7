"""gnt-cluster verify, as Ganeti splits it: OP_CLUSTER_VERIFY only submits the
jobs, one OP_CLUSTER_VERIFY_CONFIG (configuration, certificates, hypervisor
parameters, node groups) and one OP_CLUSTER_VERIFY_GROUP per node group (that
group's nodes: their answers, files, instances, volumes, leftovers, N+1), the
group jobs depending on the config job. With a node group given, only that
group's job.

Findings go to the job log as "  - ERROR: node X: message" (or, with
--error-codes, "  - ERROR:ECODE:node:X:message"); each job's result is True when
it found no ERROR. With --debug-simulate-errors every check reports, as in
Ganeti, so that a tool parsing the output can be tested.
"""

import os
import re
import time

from ganeti import constants, errors, etchosts, locking, opcodes, pathutils
from ganeti.backend import verify as nv
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import LogicalUnit, NoHooksLU, ResultWithJobs
from ganeti.hypervisor import get_hypervisor_class
from ganeti.storage import lvm
from ganeti.utils import text, x509

ETYPE_ERROR = "ERROR"
ETYPE_WARNING = "WARNING"


def running_instances(rpc_runner, cluster, nodes):
    """({instance: [nodes it runs on]}, nodes that did not answer)."""
    hvs = list(cluster.enabled_hypervisors)
    hvparams = dict((hv, cluster.hvparams.get(hv, {})) for hv in hvs)
    running, bad = {}, set()
    if not nodes:
        return running, bad
    for node, res in rpc_runner.call_all_instances_info(nodes, hvs, hvparams).items():
        if res.fail_msg or res.offline:
            bad.add(node)
            continue
        for name, info in (res.data or {}).items():
            if (info or {}).get("state") != "shutdown":    # a guest off from inside
                running.setdefault(name, []).append(node)
    return running, bad


def cluster_cert_files():
    """The certificates verify checks on the master: cluster (server.pem), RAPI if any."""
    files = [pathutils.NODED_CERT_FILE]
    if os.path.exists(pathutils.RAPI_CERT_FILE):
        files.append(pathutils.RAPI_CERT_FILE)
    return files


def instance_file_layout(instances):
    """({node: [disk files]}, {node: ["inst:idx" disk links]}) the config expects."""
    files, links = {}, {}
    for name, inst in instances.items():
        node = inst.primary_node
        links.setdefault(node, [])
        for idx, disk in enumerate(inst.disks):
            links[node].append("%s:%d" % (name, idx))
            if inst.disk_template == constants.DT_FILE and disk.logical_id:
                files.setdefault(node, []).append(disk.logical_id[1])
    return files, links


def _node_role(node, master):
    """The role --verbose names, as Ganeti does."""
    if node.name == master:
        return "master"
    if node.master_candidate:
        return "master candidate"
    return "drained" if node.drained else "regular"


class LUClusterVerify(NoHooksLU):
    """Submit the verification jobs (Ganeti's split): the config job, then one
    job per node group depending on it; with group_name that group's job only."""
    REQ_BGL = False

    def expand_names(self):
        # an unknown group is refused before any job is submitted
        if self.op.group_name:
            self.cfg.lookup_node_group(self.op.group_name)
        self.needed_locks = {}

    def exec(self, feedback_fn):
        op = self.op
        common = dict(debug_simulate_errors=op.debug_simulate_errors,
                      error_codes=op.error_codes, verbose=op.verbose,
                      ignore_errors=list(op.ignore_errors))
        jobs = []
        if op.group_name:
            groups, depends = [op.group_name], None
        else:
            # by UUID: Ganeti's order of the group jobs
            groups = sorted(self.cfg.get_all_node_groups_info())
            jobs.append([opcodes.OpClusterVerifyConfig(**common)])
        for group in groups:
            if not op.group_name:
                depends = [[-len(jobs), []]]
            jobs.append([opcodes.OpClusterVerifyGroup(
                group_name=group, skip_checks=list(op.skip_checks),
                verify_clutter=op.verify_clutter, depends=depends, **common)])
        return ResultWithJobs(jobs)


class _VerifyErrors:
    """Reporting shared by the verification LUs."""

    # ---- reporting ----------------------------------------------------------------------

    def _error(self, ecode, itype, item, msg, warning=False):
        ltype = ETYPE_WARNING if (warning or ecode in self.op.ignore_errors) else ETYPE_ERROR
        if self.op.error_codes:
            text = "%s:%s:%s:%s:%s" % (ltype, ecode, itype, item, msg)
        else:
            text = "%s: %s%s: %s" % (ltype, itype, " " + item if item else "", msg)
        self.feedback_fn("  - " + text)
        if ltype == ETYPE_ERROR:
            self.bad = True

    def _error_if(self, cond, ecode, itype, item, msg, warning=False):
        """Report ``msg`` when ``cond`` holds, or always with --debug-simulate-errors."""
        if cond or self.op.debug_simulate_errors:
            self._error(ecode, itype, item, msg, warning=warning)


class LUClusterVerifyConfig(_VerifyErrors, NoHooksLU):
    """The cluster-wide part: configuration, certificates, hypervisor parameters,
    node groups."""
    REQ_BGL = False

    def expand_names(self):
        self.needed_locks = {locking.LEVEL_NODE: locking.ALL_SET,
                             locking.LEVEL_INSTANCE: locking.ALL_SET}
        self.share_locks = dict.fromkeys(locking.LEVELS, 1)

    def exec(self, feedback_fn):
        self.bad = False
        cfg = self.cfg
        self.log_step("Verifying cluster config")
        problems = cfg.verify_config()
        for msg in problems or ([""] if self.op.debug_simulate_errors else []):
            self._error("ECLUSTERCFG", "cluster", "", msg)

        # etcd holds the configuration: reported with the config, no step of
        # its own, so a healthy cluster's output stays Ganeti's
        from ganeti.etcd import membership
        for msg in membership.check(cfg) or ([""] if self.op.debug_simulate_errors else []):
            self._error("ECLUSTERETCD", "cluster", "", msg)

        self.log_step("Verifying cluster certificate files")
        for path in cluster_cert_files():
            level, msg = x509.verify_cert_file(path)
            self._error_if(level, "ECLUSTERCERT", "cluster", "",
                           msg or "%s: no problem found" % path,
                           warning=(level == x509.CERT_WARNING))

        self.log_step("Verifying hypervisor parameters")
        for item, hv_name, params in _all_hvparams(cfg):
            try:
                get_hypervisor_class(hv_name).check_parameter_syntax(params)
            except errors.GenericError as err:
                # Ganeti's message (item and hypervisor as it orders them)
                self._error("ECLUSTERCFG", "cluster", "", "hypervisor %s parameters"
                            " syntax check (source %s): %s" % (item, hv_name, err))

        self.log_step("Verifying all nodes belong to an existing group")
        groups = cfg.get_all_node_groups_info()
        nodes = cfg.get_all_nodes_info()
        dangling = sorted(n for n, node in nodes.items() if node.group not in groups)
        self._error_if(dangling, "ECLUSTERDANGLINGNODES", "cluster", "",
                       "the following nodes (and their instances) belong to a non"
                       " existing group: %s" % ", ".join(dangling))
        return not self.bad


def _all_hvparams(cfg):
    """[(source, hypervisor, params)] to check: the cluster's defaults of each
    enabled hypervisor, the OS overrides and each instance's own (filled)."""
    cluster = cfg.get_cluster_info()
    found = []
    for hv_name in cluster.enabled_hypervisors:
        found.append(("cluster", hv_name, cluster.hvparams.get(hv_name, {})))
    for os_name, per_hv in sorted(cluster.os_hvp.items()):
        for hv_name, params in sorted(per_hv.items()):
            if hv_name in cluster.enabled_hypervisors:
                found.append(("os %s" % os_name, hv_name,
                              dict(cluster.hvparams.get(hv_name, {}), **params)))
    for name, inst in sorted(cfg.get_all_instances_info().items()):
        if inst.hvparams:
            found.append(("instance %s" % name, inst.hypervisor, cluster.fill_hv(inst)))
    return found


class LUClusterVerifyGroup(_VerifyErrors, LogicalUnit):
    """Verify one node group's nodes and their instances."""
    HPATH = "cluster-verify"
    HTYPE = constants.HTYPE_CLUSTER
    REQ_BGL = False

    def _files_all(self):
        """Files every node must have identical to the master's copy."""
        files = [pathutils.NODED_CERT_FILE]
        for path in (pathutils.RAPI_CERT_FILE, pathutils.CONFD_HMAC_KEY,
                     pathutils.CLUSTER_DOMAIN_SECRET_FILE):
            if os.path.exists(path):
                files.append(path)
        if self.cfg.get_cluster_info().modify_etc_hosts:
            files.append(etchosts.hosts_file())     # the master's copy is everyone's
        return files

    def expand_names(self):
        # an unknown group is refused before any lock is taken
        self.group_uuids = [self.cfg.lookup_node_group(self.op.group_name)]
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
        # post hooks only, on the group's nodes (Ganeti's)
        group = self.group_uuids[0]
        return [], sorted(n for n, node in self.cfg.get_all_nodes_info().items()
                          if node.group == group)

    REPORTS_HOOKS = True

    def hooks_callback(self, phase, results, feedback_fn, lu_result):
        """Ganeti's "* Hooks Results" step: failed scripts are errors, with their
        output indented under them."""
        if phase != constants.HOOKS_PHASE_POST or not self.build_hooks_nodes()[1]:
            return lu_result
        self.feedback_fn("* Hooks Results")
        for node, res in sorted((results or {}).items()):
            if res.offline:
                continue
            if res.fail_msg:
                self._error("ENODEHOOKS", "node", node, "Communication failure in hooks"
                            " execution: %s" % res.fail_msg)
                lu_result = False
                continue
            for script, status, output in res.data or []:
                if status == constants.HKR_FAIL:
                    self._error("ENODEHOOKS", "node", node,
                                "Script %s failed, output:" % script)
                    self.feedback_fn(re.sub(r"(?m)^", "      ", output or ""))
                    lu_result = False
        return lu_result

    # ---- per-node results ---------------------------------------------------------------

    def _verify_node_basics(self, name, data, start, end):
        version = data.get("version")
        self._error_if(not version or version[0] != constants.PROTOCOL_VERSION,
                       "ENODEVERSION", "node", name,
                       "incompatible protocol versions: master %s, node %s"
                       % (constants.PROTOCOL_VERSION, version and version[0]))
        self._error_if(version and version[1] != constants.RELEASE_VERSION,
                       "ENODEVERSION", "node", name,
                       "software version mismatch: master %s, node %s"
                       % (constants.RELEASE_VERSION, version and version[1]), warning=True)
        unresolved = sorted((data.get("nodelist") or {}).items())
        for other, err in unresolved or ([("", "")] if self.op.debug_simulate_errors else []):
            self._error("ENODESSH", "node", name,
                        "node name %s does not resolve: %s" % (other, err))
        ntime = data.get("time")
        skew = 0
        if ntime is not None:
            ntime = ntime[0] + ntime[1] / 1e6 if isinstance(ntime, list) else ntime
            if ntime < start - x509.MAX_CLOCK_SKEW:
                skew = start - ntime
            elif ntime > end + x509.MAX_CLOCK_SKEW:
                skew = ntime - end
        self._error_if(skew, "ENODETIME", "node", name,
                       "clock skew of %.1fs detected (node time %s)" % (skew, ntime))

    def _verify_node_cert(self, name, data):
        """The node's own certificate (Ganeti: the client certificate of each node)."""
        level, msg = data.get(nv.NV_CLIENT_CERT) or [x509.CERT_ERROR, "no data returned"]
        self._error_if(level, "ECLUSTERCLIENTCERT", "cluster", "",
                       "Client certificate of node '%s' failed validation: %s (code '%s')"
                       % (name, msg, level), warning=(level == x509.CERT_WARNING))

    def _verify_node_ssh(self, name, data):
        if not self.op.verify_clutter:
            return
        problems = data.get(nv.NV_SSH_CLUTTER)
        if not isinstance(problems, list):
            problems = ["node %s did not return the ssh clutter check" % name]
        self._error_if(problems, "ENODESSH", "node", name, " ".join(problems))

    def _verify_node_orphans(self, name, data):
        orphans = data.get(nv.NV_FILE_ORPHANS) or []
        for path in orphans or ([""] if self.op.debug_simulate_errors else []):
            what = "directory" if path.endswith("/") else "file"
            self._error("ENODEORPHANLV", "node", name,
                        "%s %s is unknown" % (what, path.rstrip("/")), warning=True)

    def _verify_files(self, files, results, online, nodes, master_sums):
        self.log_step("Verifying configuration file consistency")
        node_sums = dict((n, (results[n].data or {}).get("filelist", {}))
                         for n in online if n in results and not results[n].fail_msg)
        for path in files:
            rel = pathutils.strip_root(path)
            want = master_sums.get(rel)
            for name, sums in sorted(node_sums.items()):
                have = sums.get(rel)
                self._error_if(have is None, "ECLUSTERFILECHECK", "cluster", "",
                               "File %s is missing from node %s" % (rel, name))
                self._error_if(have is not None and want is not None and have != want,
                               "ECLUSTERFILECHECK", "cluster", "",
                               "File %s found with different checksum on node %s"
                               % (rel, name))
        rel = pathutils.strip_root(pathutils.CLUSTER_CONF_FILE)
        for name, sums in sorted(node_sums.items()):
            is_candidate = nodes[name].master_candidate
            have = sums.get(rel)
            self._error_if(is_candidate and have is None, "ECLUSTERFILECHECK", "cluster", "",
                           "File %s is missing from master candidate %s" % (rel, name))
            self._error_if(is_candidate and have is not None and have != master_sums.get(rel),
                           "ECLUSTERFILECHECK", "cluster", "",
                           "File %s found with different checksum on master candidate %s"
                           % (rel, name))
            self._error_if(not is_candidate and have is not None, "ECLUSTERFILECHECK",
                           "cluster", "", "File %s should not exist on non-candidate node %s"
                           % (rel, name))

    def _verify_instances(self, cluster, nodes, online, instances):
        """Instances run where the config says and nowhere else."""
        self.log_step("Verifying instance status")
        running, bad = running_instances(self.rpc, cluster, online)
        for name, inst in sorted(instances.items()):
            if self.op.verbose:
                self.log_step("Verifying instance %s" % name)
            self._verify_instance_es(name, inst)
            self._verify_split_groups(name, inst)
            pnode = inst.primary_node
            if pnode in bad or pnode not in nodes or nodes[pnode].offline:
                continue      # the node's own error (or offline note) says it
            where = running.get(name, [])
            self._error_if(inst.admin_state == constants.ADMINST_UP and pnode not in where,
                           "EINSTANCEDOWN", "instance", name,
                           "instance not running on its primary node %s" % pnode)
            for node in where:
                self._error_if(node != pnode, "EINSTANCEWRONGNODE", "instance", name,
                               "instance should not run on node %s" % node)
        # instances running where the cluster does not know them (Ganeti checks
        # them with the node status; no step line of their own)
        known = self.cfg.get_instance_list()
        for name, where in sorted(running.items()):
            for node in where:
                self._error_if(name not in known, "ENODEORPHANINSTANCE", "node", node,
                               "instance %s is running here but unknown to the cluster"
                               % name)

    def _verify_split_groups(self, name, inst):
        """A mirrored (drbd) instance should have its nodes in one group (a
        warning, as in Ganeti; gnt-group assign-nodes --force can split it)."""
        if not any(d.dev_type in constants.DTS_INT_MIRROR for d in inst.disks):
            return
        all_nodes = self.cfg.get_all_nodes_info()
        groups = self.cfg.get_all_node_groups_info()
        by_group = {}
        for node in text.nice_sort(n for n in inst.all_nodes if n in all_nodes):
            by_group.setdefault(all_nodes[node].group, []).append(node)
        if len(by_group) < 2:
            return
        # the primary node's group first
        order = sorted(by_group, key=lambda g: inst.primary_node not in by_group[g])
        self._error("EINSTANCESPLITGROUPS", "instance", name,
                    "instance has primary and secondary nodes in different groups: %s"
                    % ", ".join("%s (group %s)" % (", ".join(by_group[g]),
                                                   groups[g].name if g in groups else g)
                                for g in order), warning=True)

    def _verify_nplusone(self, cluster, online, instances):
        # memory each secondary needs if a primary fails: per (secondary, primary),
        # the minimum memory of its auto-balanced instances, up or down (Ganeti's
        # rule: someone may want to start them after the failure)
        needed = {}
        for inst in instances.values():
            be = cluster.fill_be(inst)
            if not be[constants.BE_AUTO_BALANCE]:
                continue
            for snode in inst.secondary_nodes:
                key = (snode, inst.primary_node)
                needed[key] = needed.get(key, 0) + be[constants.BE_MINMEM]
        if not needed:
            return
        from ganeti.cmdlib.node import hv_specs
        snodes = sorted(set(s for s, _ in needed if s in online))
        free = {}
        for node, res in self.rpc.call_node_info(snodes, [], hv_specs(cluster)).items():
            if not res.fail_msg and not res.offline:
                free[node] = (res.data or {}).get("memory_free")
        for (snode, pnode), mem in sorted(needed.items()):
            self._error_if(free.get(snode) is not None and mem > free[snode],
                           "ENODEN1", "node", snode,
                           # sic: Ganeti's spelling, which scripts may match
                           "not enough memory to accomodate instance failovers should"
                           " node %s fail (%dMiB needed, %sMiB available)"
                           % (pnode, mem, free.get(snode)))

    # ---- the whole run ------------------------------------------------------------------

    def _node_checks(self, cluster, nodes, files):
        disk_files, links = instance_file_layout(self.cfg.get_all_instances_info())
        checks = {
            "version": None,
            "filelist": [pathutils.strip_root(p)
                         for p in files + [pathutils.CLUSTER_CONF_FILE]],
            "nodelist": sorted(nodes),
            "time": None,
            nv.NV_CLIENT_CERT: None,
            nv.NV_FILE_ORPHANS: {
                "storage_dirs": [d for d in [cluster.file_storage_dir] if d],
                "files": disk_files, "links": links,
                "instances": sorted(self.cfg.get_instance_list())},
        }
        if self.op.verify_clutter:
            checks[nv.NV_SSH_CLUTTER] = {"nodes": sorted(self.cfg.get_node_list())}
        if self._uses_lvm(cluster):
            checks[nv.NV_VGLIST] = None
            checks[nv.NV_LVLIST] = {"vg": cluster.volume_group_name}
            checks[nv.NV_PVLIST] = {"vg": cluster.volume_group_name}
            if self._exclusive_storage:
                checks[nv.NV_EXCLUSIVEPVS] = {"vg": cluster.volume_group_name}
        if constants.DT_DRBD8 in cluster.enabled_disk_templates:
            checks[nv.NV_DRBDLIST] = None
            checks[nv.NV_DRBDHELPER] = None
        return checks

    @staticmethod
    def _uses_lvm(cluster):
        # a volume group set is checked, LVM disk templates enabled or not (Ganeti's rule)
        return bool(cluster.volume_group_name)

    def _verify_node_lvm(self, cluster, name, data):
        """The volume group is there and large enough (Ganeti's two checks: the
        node's list of groups, then the group's data)."""
        if not self._uses_lvm(cluster):
            return
        vgs = data.get(nv.NV_VGLIST)
        vg = cluster.volume_group_name
        if not vgs or not isinstance(vgs, dict):
            self._error("ENODELVM", "node", name, "unable to check volume groups")
            vgs = {}
        elif vg not in vgs:
            self._error("ENODELVM", "node", name, "volume group '%s' missing" % vg)
        elif vgs[vg] < constants.MIN_VG_SIZE:
            self._error("ENODELVM", "node", name, "volume group '%s' too small (%s MiB"
                        " required, %d MiB found)" % (vg, constants.MIN_VG_SIZE,
                                                      vgs[vg]))
        if vg not in vgs:
            self._error("ENODELVM", "node", name, "node didn't return data for the volume"
                        " group '%s' - it is either missing or broken" % vg)
        self._verify_node_pvs(cluster, name, data)

    def _bridges(self, cluster, instances):
        """The bridges the nodes must have: the default NIC link and the links
        of the instances' bridged NICs (only of the hypervisors that use
        bridges, as instance start-up checks them)."""
        bridges = set()
        if any(hv in iu.HV_WITH_BRIDGES for hv in cluster.enabled_hypervisors):
            default = cluster.nicparams.get("default", {})
            if default.get(constants.NIC_MODE) == constants.NIC_MODE_BRIDGED:
                bridges.add(default.get(constants.NIC_LINK))
        for inst in instances.values():
            bridges.update(iu.bridges_to_check(cluster, inst))
        return sorted(b for b in bridges if b)

    def _verify_node_bridges(self, name, data, bridges):
        if not bridges:
            return
        missing = data.get(nv.NV_BRIDGES)
        if not isinstance(missing, list):
            self._error("ENODENET", "node", name, "did not return valid bridge information")
        elif missing:
            self._error("ENODENET", "node", name,
                        "missing bridges: %s" % ", ".join(sorted(missing)))

    def _verify_node_pvs(self, cluster, name, data):
        """PV names lvcreate can take; with exclusive storage PVs of about one size,
        each used by one LV (Ganeti's checks, messages and codes)."""
        pvs = data.get(nv.NV_PVLIST)
        if not isinstance(pvs, list):
            self._error("ENODELVM", "node", name, "Can't get PV list from node")
            return
        errs, minmax = lvm.check_node_pvs(pvs, cluster.volume_group_name,
                                          self._exclusive_storage)
        for msg in errs:
            self._error("ENODELVM", "node", name, msg)
        if minmax is None:
            return
        self._pv_minmax[name] = minmax
        shared = data.get(nv.NV_EXCLUSIVEPVS)
        for pv, lvs in shared if isinstance(shared, list) else []:
            self._error("ENODELVM", "node", name, "PV %s is shared among unrelated LVs"
                        " (%s)" % (pv, ", ".join(lvs)))

    def _verify_group_pvs(self, group, names):
        """With exclusive storage, PVs of about one size across the group's nodes."""
        vals = [(self._pv_minmax[n], n) for n in names if n in self._pv_minmax]
        if not vals:
            return
        pvmin, minnode = min((v[0], n) for v, n in vals)
        pvmax, maxnode = max((v[1], n) for v, n in vals)
        self._error_if(lvm.pv_sizes_too_different(pvmin, pvmax), "EGROUPDIFFERENTPVSIZE",
                       "group", group.name,
                       "PV sizes differ too much in the group; smallest (%s MB) is on %s,"
                       " biggest (%s MB) is on %s" % (pvmin, minnode, pvmax, maxnode))

    def _verify_instance_es(self, name, inst):
        """An instance on nodes with exclusive storage: plain disks with spindles."""
        es_nodes = [n for n in inst.all_nodes if n in self._es_nodes]
        if es_nodes:
            unsupported = [d.dev_type for d in inst.disks
                           if d.dev_type not in constants.DTS_EXCL_STORAGE]
            self._error_if(unsupported, "EINSTANCEUNSUITABLENODE", "instance", name,
                           "instance uses disk types %s, which are not supported on"
                           " nodes that have exclusive storage set: %s"
                           % (", ".join(unsupported), ", ".join(es_nodes)))
            for idx, disk in enumerate(inst.disks):
                self._error_if(disk.spindles is None, "EINSTANCEMISSINGCFGPARAMETER",
                               "instance", name, "number of spindles not configured for"
                               " disk %s while exclusive storage is enabled, try running"
                               " gnt-cluster repair-disk-sizes" % idx)

    @staticmethod
    def _expected_volumes(instances):
        """{node: {"vg/lv": instance name}} of the instances' logical volumes
        (a forthcoming disk's are not made yet)."""
        expected = {}

        def walk(disk, inst, nodes):
            if disk.forthcoming:
                return
            if disk.dev_type == constants.DT_PLAIN and disk.logical_id:
                for node in nodes:
                    expected.setdefault(node, {})["%s/%s" % tuple(disk.logical_id)] = \
                        inst.name
            for child in disk.children or []:
                walk(child, inst, disk.nodes or nodes)

        for inst in instances.values():
            for disk in inst.disks:
                walk(disk, inst, disk.nodes or [inst.primary_node])
        return expected

    def _node_lvs(self, name, results):
        """The node's {"vg/lv": ...}, or None (its error reported once, here)."""
        res = results.get(name)
        if res is None or res.fail_msg:
            return None
        lvs = (res.data or {}).get(nv.NV_LVLIST)
        return lvs if isinstance(lvs, dict) else None

    def _verify_missing_volumes(self, cluster, online, results, instances):
        """Every volume of the instances is on its nodes."""
        if not self._uses_lvm(cluster):
            return
        expected = self._expected_volumes(instances)
        for name in online:
            lvs = self._node_lvs(name, results)
            if lvs is None:
                continue
            for volume, owner in sorted(expected.get(name, {}).items()):
                if volume not in lvs:
                    self._error("EINSTANCEMISSINGDISK", "instance", owner,
                                "volume %s missing on node %s" % (volume, name))

    def _verify_orphan_volumes(self, cluster, name, results):
        """Volumes nobody owns (warnings), except the reserved ones."""
        if not self._uses_lvm(cluster):
            return
        res = results.get(name)
        lvs = self._node_lvs(name, results)
        if lvs is None:
            if res is not None and not res.fail_msg:
                self._error("ENODELVM", "node", name, "LVs check error: %s"
                            % (res.data or {}).get(nv.NV_LVLIST))
            return
        mine = self._expected_volumes(self.cfg.get_all_instances_info()).get(name, {})
        reserved = [re.compile(p) for p in cluster.reserved_lvs or []]
        for volume in sorted(lvs):
            if volume in mine or any(p.match(volume) for p in reserved):
                continue
            self._error("ENODEORPHANLV", "node", name,
                        "volume %s is unknown" % volume, warning=True)

    def _wanted_minors(self):
        """{node: {minor: (instance, disk)}} of every drbd disk in the config."""
        wanted = {}
        for inst in self.cfg.get_all_instances_info().values():
            for disk in inst.disks:
                if disk.dev_type != constants.DT_DRBD8 or not disk.logical_id:
                    continue
                node_a, node_b, _, minor_a, minor_b = disk.logical_id[:5]
                for node, minor in ((node_a, minor_a), (node_b, minor_b)):
                    wanted.setdefault(node, {})[int(minor)] = (inst, disk)
        return wanted

    def _verify_node_drbd(self, cluster, name, data, wanted):
        """Every minor in use here is one the config knows; active disks are up."""
        if constants.DT_DRBD8 not in cluster.enabled_disk_templates:
            return
        helper = data.get(nv.NV_DRBDHELPER)
        if isinstance(helper, dict):
            self._error("ENODEDRBDHELPER", "node", name,
                        "drbd usermode helper check unsuccessful: %s" % helper.get("error"))
        elif helper and cluster.drbd_usermode_helper \
                and helper != cluster.drbd_usermode_helper:
            # the node sets it when it next makes or connects a drbd device
            self._error("ENODEDRBDHELPER", "node", name,
                        "wrong drbd usermode helper: %s" % helper)
        used = data.get(nv.NV_DRBDLIST)
        mine = wanted.get(name, {})
        if not isinstance(used, list):
            if mine:
                self._error("ENODEDRBD", "node", name,
                            "cannot parse drbd status file: %s" % used)
            return
        for minor, (inst, disk) in sorted(mine.items()):
            if inst.disks_active and minor not in used:
                self._error("ENODEDRBD", "node", name, "drbd minor %d of disk %s"
                            " (attached in instance '%s') is not active"
                            % (minor, disk.uuid, inst.name))
        for minor in used:
            if minor not in mine:
                self._error("ENODEDRBD", "node", name,
                            "unallocated drbd minor %d is in use" % minor)

    def exec(self, feedback_fn):
        self.bad = False
        cfg = self.cfg
        cluster = cfg.get_cluster_info()
        master = cluster.master_node
        all_nodes = cfg.get_all_nodes_info()
        group_uuids = self.group_uuids
        groups = cfg.get_all_node_groups_info()
        for uuid in group_uuids:
            self.log_step("Verifying group '%s'" % groups[uuid].name)
        nodes = dict((n, node) for n, node in all_nodes.items() if node.group in group_uuids)
        instances = dict((i, inst) for i, inst in cfg.get_all_instances_info().items()
                         if inst.primary_node in nodes)
        online = sorted(n for n, node in nodes.items() if not node.offline)
        offline = sorted(n for n, node in nodes.items() if node.offline)
        if not nodes:
            self.log_step("Empty node group, skipping verification")
            return True

        # looked up once: every instance's nodes are checked against it
        self._es_nodes = set(n for n in all_nodes if iu.exclusive_storage(cfg, n))
        self._exclusive_storage = bool(self._es_nodes & set(nodes))
        self._pv_minmax = {}
        self.log_step("Gathering data (%d nodes)" % len(nodes))
        files = self._files_all()
        checks = self._node_checks(cluster, nodes, files)
        bridges = self._bridges(cluster, instances)
        if bridges:
            checks[nv.NV_BRIDGES] = bridges
        self.log_step("Gathering information about nodes (%d nodes)" % len(nodes))
        # the master's answer is the reference even when it is in another group
        start = time.time()
        results = self.rpc.call_node_verify(sorted(set(online) | {master}), checks,
                                            cluster.cluster_name)
        end = time.time()
        if set(all_nodes) - set(nodes):
            # Ganeti's step when other groups exist (here the master answered above)
            self.log_step("Gathering information about the master node")
        self.log_step("Gathering disk information (%d nodes)" % len(nodes))
        master_data = {}
        if master in results and not results[master].fail_msg:
            master_data = results[master].data or {}
        master_sums = master_data.get("filelist", {})

        self._verify_files(files, results, online, nodes, master_sums)
        self.log_step("Verifying node status")
        wanted_minors = self._wanted_minors()
        for name in online:
            if self.op.verbose:
                self.log_step("Verifying node %s (%s)" % (name, _node_role(nodes[name],
                                                                           master)))
            res = results.get(name)
            if res is None or res.fail_msg:
                self._error("ENODERPC", "node", name,
                            "node daemon (%s) is not answering: %s"
                            % (constants.NODED, res.fail_msg if res else "no answer"))
                continue
            data = res.data or {}
            self._verify_node_basics(name, data, start, end)
            self._verify_node_lvm(cluster, name, data)
            self._verify_node_bridges(name, data, bridges)
            self._verify_node_drbd(cluster, name, data, wanted_minors)
            self._verify_node_cert(name, data)
            self._verify_node_ssh(name, data)

        for uuid in group_uuids:
            self._verify_group_pvs(groups[uuid], [n for n in online
                                                  if nodes[n].group == uuid])
        self._verify_instances(cluster, nodes, online, instances)
        self._verify_missing_volumes(cluster, online, results, instances)

        self.log_step("Verifying orphan volumes")
        for name in online:
            res = results.get(name)
            if res is not None and not res.fail_msg:
                self._verify_node_orphans(name, res.data or {})
            self._verify_orphan_volumes(cluster, name, results)
        if "nplusone_mem" not in self.op.skip_checks:
            self.log_step("Verifying N+1 Memory redundancy")
            self._verify_nplusone(cluster, online, instances)

        self._other_notes(cluster, nodes, online, offline, instances)
        return not self.bad

    def _other_notes(self, cluster, nodes, online, offline, instances):
        """Ganeti's closing notices: instances that cannot survive the loss of their
        primary (not all disks mirrored) or are not auto-balanced, offline
        instances, offline and drained nodes."""
        self.log_step("Other Notes")
        insts = list(instances.values())
        counts = [
            ("non-redundant instance(s)",
             [i for i in insts if not all(d.dev_type in constants.DTS_MIRRORED
                                          for d in i.disks)]),
            ("non-auto-balanced instance(s)",
             [i for i in insts if not cluster.fill_be(i)[constants.BE_AUTO_BALANCE]]),
            ("offline instance(s)",
             [i for i in insts if i.admin_state == constants.ADMINST_OFFLINE]),
            ("offline node(s)", offline),
            ("drained node(s)", [n for n in online if nodes[n].drained]),
        ]
        for what, found in counts:
            if found:
                self.feedback_fn("  - NOTICE: %d %s found." % (len(found), what))
