"""Logical units and queries for nodes."""

import logging
import os

from ganeti import constants, errors, locking, objects, query
from ganeti.cmdlib import cluster_options, node_ssh
from ganeti.cmdlib.base import LogicalUnit, NoHooksLU, expand_node_name, expand_node_names
from ganeti.utils import net


def default_storage_units(cluster):
    """[(storage type, name)] of the cluster's default storage (for DTotal/DFree;
    with LVM also its spindles, SpTotal/SpFree)."""
    for tmpl in cluster.enabled_disk_templates:
        stype = constants.MAP_DISK_TEMPLATE_STORAGE_TYPE.get(tmpl)
        if stype == constants.ST_LVM_VG and cluster.volume_group_name:
            return [[stype, cluster.volume_group_name],
                    [constants.ST_LVM_PV, cluster.volume_group_name]]
        if stype in (constants.ST_FILE, constants.ST_SHARED_FILE):
            path = (cluster.file_storage_dir if stype == constants.ST_FILE
                    else cluster.shared_file_storage_dir)
            return [[stype, path]]
    return []


def hv_specs(cluster):
    hv_name = cluster.enabled_hypervisors[0]
    return [[hv_name, cluster.hvparams.get(hv_name, {})]]


def query_nodes(context, fields, qfilter):
    """Answer a node query from the config plus, if needed, the nodes' live data."""
    cfg = context.cfg
    cluster = cfg.get_cluster_info()
    nodes = cfg.get_all_nodes_info()
    pri, sec = {}, {}
    for inst in cfg.get_all_instances_info().values():
        pri.setdefault(inst.primary_node, []).append(inst.name)
        for snode in inst.secondary_nodes:
            sec.setdefault(snode, []).append(inst.name)
    live = None
    if query.needs_live_data(query.QR_NODE, fields, qfilter):
        names = [n for n, node in sorted(nodes.items())
                 if not node.offline and node.vm_capable]
        live = {}
        # the LVM figures depend on each node's exclusive storage flag: one call
        # per set of storage units
        from ganeti.cmdlib.instance_utils import storage_units_for
        calls = {}
        for name in names:
            units = storage_units_for(cfg, name, default_storage_units(cluster))
            calls.setdefault(repr(units), (units, []))[1].append(name)
        for units, group in calls.values():
            results = context.rpc.call_node_info(group, units, hv_specs(cluster))
            for name, res in results.items():
                if not res.fail_msg and not res.offline:
                    live[name] = res.data
                elif not res.offline:
                    logging.warning("No live data from node %s: %s", name, res.fail_msg)
    ctx = query.NodeQueryData(cluster, nodes, cfg.get_all_node_groups_info(), pri, sec, live)
    items = [nodes[n] for n in sorted(nodes)]
    return query.run_query(query.QR_NODE, fields, items, ctx, qfilter)


# ---- node add / remove / modify ----------------------------------------------------------

# files every node gets from the master (when they exist there)
_NODE_FILES = ("SSH_KNOWN_HOSTS_FILE", "RAPI_CERT_FILE", "CONFD_HMAC_KEY",
               "CLUSTER_DOMAIN_SECRET_FILE", "FILE_STORAGE_PATHS_FILE", "RAPI_USERS_FILE",
               "WATCHER_PAUSEFILE")     # a watcher pause holds on new nodes too


def _candidate_counts(cfg, exclude=()):
    """(master candidates now, candidates the pool wants) among the nodes not
    in ``exclude``: the pool size, capped by the nodes that could be one."""
    nodes = [node for n, node in cfg.get_all_nodes_info().items() if n not in exclude]
    have = len([node for node in nodes if node.master_candidate])
    possible = len([node for node in nodes if node.master_capable
                    and not node.offline and not node.drained])
    return have, min(cfg.get_cluster_info().candidate_pool_size, possible)


def _candidate_shortage(cfg, exclude=()):
    """How many master candidates are missing from the pool (at least 0)."""
    have, wanted = _candidate_counts(cfg, exclude)
    return max(0, wanted - have)


def _wants_self_promotion(cfg, name):
    """Whether the pool lacks a candidate once node ``name`` counts as a
    possible one (it is coming back into service)."""
    have, wanted = _candidate_counts(cfg, exclude=[name])
    possible_with_it = min(wanted + 1, cfg.get_cluster_info().candidate_pool_size)
    return have < possible_with_it


def promote_candidates(lu, exclude=()):
    """Fill the master candidate pool from the capable nodes; returns the new ones."""
    promoted = []
    shortage = _candidate_shortage(lu.cfg, exclude)
    for name, node in sorted(lu.cfg.get_all_nodes_info().items()):
        if shortage <= 0:
            break
        if (node.master_candidate or not node.master_capable or node.offline
                or node.drained or name in exclude):
            continue
        node.master_candidate = True
        lu.cfg.update(node)
        promoted.append(name)
        shortage -= 1
    if promoted:
        lu.log_info("Promoted node(s) %s to master candidate", ", ".join(promoted))
    return promoted


def sync_etcd_members(lu, exclude=()):
    """Make the etcd members follow the master candidates (etcd.membership).

    A failure is a warning, not a failed job: the node change itself is done,
    ``gnt-cluster verify`` shows the difference and ``gnt-cluster
    redist-conf`` tries again.
    """
    from ganeti.etcd import membership
    try:
        membership.reconcile(lu.cfg, lu.rpc, log=logging.info, exclude=exclude)
    except errors.GenericError as err:
        lu.log_warning("The etcd members do not follow the master candidates yet: %s;"
                       " 'gnt-cluster redist-conf' tries again", err)


class LUNodeAdd(LogicalUnit):
    """Add a node whose node daemon already runs with the cluster certificate."""
    HPATH = "node-add"
    HTYPE = constants.HTYPE_NODE
    REQ_BGL = True

    def check_arguments(self):
        name = self.op.node_name
        try:
            self.hostname = net.Hostname(name)
        except errors.ResolverError as err:
            raise errors.OpPrereqError("Node name '%s' does not resolve: %s"
                                       % (name, err.args[-1]), errors.ECODE_RESOLVER)
        if not self.hostname.is_fqdn():
            raise errors.OpPrereqError("Node name '%s' is not fully qualified" % name,
                                       errors.ECODE_INVAL)
        self.node_name = self.hostname.name
        self.primary_ip = self.op.primary_ip or self.hostname.ip
        self.hv_state = cluster_options.merge_hv_state(self.op.hv_state or {})
        self.disk_state = cluster_options.merge_disk_state(self.op.disk_state or {})
        if self.op.readd and self.op.group:
            # a node added again keeps its group (gnt-group assign-nodes moves it)
            raise errors.OpPrereqError("Cannot pass a node group when a node is being"
                                       " readded", errors.ECODE_INVAL)

    def expand_names(self):
        self.needed_locks = {}

    def check_prereq(self):
        cfg = self.cfg
        existing = cfg.get_node_info(self.node_name)
        if existing and not self.op.readd:
            raise errors.OpPrereqError("Node %s is already in the cluster (use --readd to"
                                       " add it again)" % self.node_name, errors.ECODE_EXISTS)
        if self.op.readd and not existing:
            raise errors.OpPrereqError("Node %s is not in the cluster; add it without"
                                       " --readd" % self.node_name, errors.ECODE_NOENT)
        master = cfg.get_node_info(cfg.get_master_node())
        dual_homed = master.secondary_ip != master.primary_ip
        sip = self.op.secondary_ip or self.primary_ip
        if dual_homed and sip == self.primary_ip:
            raise errors.OpPrereqError("The cluster uses a separate replication network;"
                                       " give the node's secondary IP with -s",
                                       errors.ECODE_INVAL)
        if not dual_homed and sip != self.primary_ip:
            raise errors.OpPrereqError("The cluster has no separate replication network"
                                       " (initialised without -s); -s is not allowed",
                                       errors.ECODE_INVAL)
        self.secondary_ip = sip
        for name, node in cfg.get_all_nodes_info().items():
            if name == self.node_name:
                continue
            if set([self.primary_ip, sip]) & set([node.primary_ip, node.secondary_ip]):
                raise errors.OpPrereqError("IP address of node %s conflicts with node %s"
                                           % (self.node_name, name), errors.ECODE_NOTUNIQUE)
        # a node added again stays in its group
        self.group_uuid = existing.group if existing and self.op.readd else \
            cfg.lookup_node_group(self.op.group)
        from ganeti import rpc
        runner = rpc.RpcRunner(rpc.static_resolver({self.node_name: self.primary_ip}))
        res = runner.call_version([self.node_name])[self.node_name]
        if res.fail_msg:
            raise errors.OpPrereqError(
                "Cannot reach the node daemon on %s (%s): %s; set the node up first"
                " (gnt-node add does it over ssh)" % (self.node_name, self.primary_ip,
                                                     res.fail_msg), errors.ECODE_ENVIRON)
        self._check_node_setup()
        if res.data != constants.PROTOCOL_VERSION:
            raise errors.OpPrereqError(
                "Node %s has protocol version %s, this cluster needs %s; install the same"
                " software version on it" % (self.node_name, res.data,
                                             constants.PROTOCOL_VERSION),
                errors.ECODE_ENVIRON)
        if sip != self.primary_ip:
            res = runner.call_node_has_ip_address(self.node_name, sip)
            if res.fail_msg or not res.data:
                raise errors.OpPrereqError(
                    "Node %s does not have the secondary IP %s configured (%s)"
                    % (self.node_name, sip, res.fail_msg or "not an address of the node"),
                    errors.ECODE_ENVIRON)
        self._check_node_pvs(runner)

    def _check_node_pvs(self, runner):
        """The node's PVs of the cluster's VG suit LVM and, if the node will have
        exclusive storage, are of about one size (Ganeti's check)."""
        from ganeti.backend import verify as nv
        from ganeti.storage import lvm
        cluster = self.cfg.get_cluster_info()
        vg = cluster.volume_group_name
        if not vg:
            return
        group = self.cfg.get_all_node_groups_info().get(self.group_uuid)
        ndparams = objects.fill_dict(objects.fill_dict(
            cluster.ndparams, group.ndparams if group else {}), self.op.ndparams or {})
        res = runner.call_node_verify([self.node_name], {nv.NV_PVLIST: {"vg": vg}},
                                      cluster.cluster_name)[self.node_name]
        pvs = None if res.fail_msg else (res.data or {}).get(nv.NV_PVLIST)
        if not isinstance(pvs, list):
            errs = ["Can't get PV list from node"]
        else:
            errs, _ = lvm.check_node_pvs(pvs, vg,
                                         bool(ndparams.get(constants.ND_EXCLUSIVE_STORAGE)))
        if errs:
            raise errors.OpPrereqError("Checks on node PVs failed: %s" % "; ".join(errs),
                                       errors.ECODE_ENVIRON)

    def _check_node_setup(self):
        """node_setup (as in Ganeti): the job updates the ssh setup of all nodes
        for the new one. The ssh part on the node itself is the client's (gnt-node
        add), which records the node's new public key; without that key, or on a
        cluster that leaves ssh alone, the job cannot do it."""
        if not self.op.node_setup:
            return
        from ganeti import sshkeys
        if not self.cfg.get_cluster_info().modify_ssh_setup:
            raise errors.OpPrereqError(
                "Cannot update the ssh setup for node %s: this cluster does not manage"
                " ssh (initialised with --no-ssh-init); submit it with node_setup"
                " false" % self.node_name, errors.ECODE_INVAL)
        if self.node_name not in sshkeys.read_pub_keys():
            raise errors.OpPrereqError(
                "Cannot update the ssh setup for node %s: its ssh public key is not"
                " known (gnt-node add records it when it sets the node up over ssh);"
                " submit it with node_setup false" % self.node_name,
                errors.ECODE_INVAL)

    def build_hooks_env(self):
        return {"OP_TARGET": self.node_name, "NODE_NAME": self.node_name,
                "NODE_PIP": self.primary_ip, "NODE_SIP": self.secondary_ip,
                "MASTER_CAPABLE": self.op.master_capable is not False,
                "VM_CAPABLE": self.op.vm_capable is not False}

    def build_hooks_nodes(self):
        nodes = self.cfg.get_online_node_list()
        return nodes, nodes + [self.node_name]

    def exec(self, feedback_fn):
        cfg = self.cfg
        # the other cluster files first, so the node is complete when it appears
        from ganeti import pathutils, rpc
        runner = rpc.RpcRunner(rpc.static_resolver({self.node_name: self.primary_ip}))
        for attr in _NODE_FILES:
            path = getattr(pathutils, attr)
            if os.path.exists(path):
                res = runner.call_upload_file([self.node_name], path)[self.node_name]
                res.raise_on_failure("Cannot copy %s to node %s" % (path, self.node_name))
        existing = cfg.get_node_info(self.node_name)
        if existing:
            existing.offline = existing.drained = False
            existing.primary_ip, existing.secondary_ip = self.primary_ip, self.secondary_ip
            if self.op.hv_state:
                existing.hv_state_static = self.hv_state
            if self.op.disk_state:
                existing.disk_state_static = self.disk_state
            cfg.update(existing)
            feedback_fn("Readded node %s" % self.node_name)
        else:
            node = objects.Node(
                name=self.node_name, primary_ip=self.primary_ip,
                secondary_ip=self.secondary_ip, group=self.group_uuid,
                master_capable=self.op.master_capable is not False,
                vm_capable=self.op.vm_capable is not False,
                ndparams=dict(self.op.ndparams or {}), master_candidate=False,
                hv_state_static=self.hv_state, disk_state_static=self.disk_state)
            pool = cfg.get_cluster_info().candidate_pool_size
            node.master_candidate = (node.master_capable and
                                     len(cfg.get_master_candidates()) < pool)
            if node.master_candidate:
                self.log_info("Node will be a master candidate")
            cfg.add_node(node)
            self.glm.add(locking.LEVEL_NODE, [self.node_name])
            self.glm.add(locking.LEVEL_NODE_RES, [self.node_name])
        # the ssconf files name the etcd members, from which the node's own
        # daemon then keeps its copies up to date (etcd.configsync)
        res = runner.call_write_ssconf_files([self.node_name],
                                             cfg.get_ssconf_values())[self.node_name]
        if res.fail_msg:
            self.log_warning("Could not write the ssconf files on node %s: %s"
                             % (self.node_name, res.fail_msg))
        if not cfg.get_node_info(self.node_name).master_candidate:
            promote_candidates(self)
        if self.op.node_setup:
            node_ssh.add_node_key(self, self.node_name)
        from ganeti import etchosts
        etchosts.node_added(self, self.node_name, self.primary_ip)
        sync_etcd_members(self)
        return None


class LUNodePowercycle(NoHooksLU):
    """Have a node reboot itself at once, without a clean shutdown (the last
    resort for a hung node whose daemon still answers). It takes no locks: it
    must not wait behind the jobs the hung node holds up."""

    def expand_names(self):
        self.node_name = expand_node_name(self.cfg, self.op.node_name)
        if self.node_name == self.cfg.get_master_node() and not self.op.force:
            raise errors.OpPrereqError("The node is the master and the force parameter"
                                       " was not set", errors.ECODE_INVAL)
        self.needed_locks = {}

    def exec(self, feedback_fn):
        result = self.rpc.call_node_powercycle(self.node_name)
        result.raise_on_failure("Failed to schedule the reboot")
        return result.data


class LUNodeRemove(LogicalUnit):
    HPATH = "node-remove"
    HTYPE = constants.HTYPE_NODE
    REQ_BGL = True

    def expand_names(self):
        self.node_name = expand_node_name(self.cfg, self.op.node_name)

    def check_prereq(self):
        if self.node_name == self.cfg.get_master_node():
            raise errors.OpPrereqError("Node is the master node, failover to another"
                                       " node is required", errors.ECODE_INVAL)
        pri, sec = self.cfg.get_node_instances(self.node_name)
        if pri or sec:
            # Ganeti's words, naming one instance (remove or move it first)
            raise errors.OpPrereqError("Instance %s is still running on the node, please"
                                       " remove first" % sorted(pri + sec)[0],
                                       errors.ECODE_INVAL)

    def build_hooks_env(self):
        return {"OP_TARGET": self.node_name, "NODE_NAME": self.node_name}

    def build_hooks_nodes(self):
        others = [n for n in self.cfg.get_online_node_list() if n != self.node_name]
        return others, others

    def exec(self, feedback_fn):
        """Drop the node from the config, its keys from the others, then let it go.

        The node itself removes its cluster files and keys and stops its
        daemons; if it cannot be reached, the rest still happens (a warning).
        """
        node = self.cfg.get_node_info(self.node_name)
        modify_ssh = self.cfg.get_cluster_info().modify_ssh_setup
        self.cfg.remove_node(self.node_name)
        self.glm.remove(locking.LEVEL_NODE_RES, [self.node_name])
        self.glm.remove(locking.LEVEL_NODE, [self.node_name])
        if modify_ssh:
            node_ssh.remove_node_keys(self, node.name)
        if node.master_candidate:
            # its etcd member goes before the node stops it
            sync_etcd_members(self)
        from ganeti import rpc
        runner = rpc.RpcRunner(rpc.static_resolver({node.name: node.primary_ip},
                                                   offline=[node.name] if node.offline
                                                   else []))
        res = runner.call_node_leave_cluster(node.name, modify_ssh)
        if res.fail_msg:
            self.log_warning("Errors encountered on the remote node while leaving the"
                             " cluster: %s", res.fail_msg)
        if node.master_candidate and promote_candidates(self):
            sync_etcd_members(self)
        from ganeti import etchosts
        etchosts.node_removed(self, node.name)
        return None


class LUNodeSetParams(LogicalUnit):
    """Change a node's roles (offline, drained, master candidate) and flags."""
    HPATH = "node-modify"
    HTYPE = constants.HTYPE_NODE
    REQ_BGL = True

    def check_arguments(self):
        op = self.op
        flags = [op.master_candidate, op.offline, op.drained]
        if flags.count(True) > 1:
            raise errors.OpPrereqError("Can't set the node into more than one state at"
                                       " the same time", errors.ECODE_INVAL)
        if all(getattr(op, k) is None for k in ("master_candidate", "offline", "drained",
                                                  "master_capable", "vm_capable",
                                                  "secondary_ip", "ndparams", "powered",
                                                  "hv_state", "disk_state")):
            raise errors.OpPrereqError("Please give at least one of the parameters",
                                       errors.ECODE_INVAL)

    def expand_names(self):
        self.node_name = expand_node_name(self.cfg, self.op.node_name)

    def check_prereq(self):
        op = self.op
        node = self.cfg.get_node_info(self.node_name)
        is_master = self.node_name == self.cfg.get_master_node()
        # as Ganeti: none of the three flags of the master, whatever the value
        if is_master and (op.offline, op.drained, op.master_candidate) != (None,) * 3:
            raise errors.OpPrereqError("The master role can be changed only via"
                                       " master-failover", errors.ECODE_INVAL)
        if is_master and op.master_capable is False:
            raise errors.OpPrereqError("The master node %s must stay master capable;"
                                       " fail the master over first" % self.node_name,
                                       errors.ECODE_INVAL)
        if op.master_candidate and (node.offline or node.drained) and \
                op.offline is not False and op.drained is not False:
            raise errors.OpPrereqError("Node %s is offline or drained; it cannot be a"
                                       " master candidate" % self.node_name,
                                       errors.ECODE_STATE)
        # the powered flag belongs to out-of-band management (Ganeti's rule)
        ndparams = self.cfg.get_cluster_info().fill_nd(
            node, self.cfg.get_node_group(node.group))
        if op.powered is not None and not ndparams.get("oob_program"):
            raise errors.OpPrereqError("Unable to change powered state for node %s as it"
                                       " does not support out-of-band handling"
                                       % self.node_name, errors.ECODE_STATE)
        if (ndparams.get("oob_program") and op.offline is False
                and not (node.powered or op.powered is True)):
            # a node powered off through OOB cannot answer: power it on first
            raise errors.OpPrereqError("Node %s needs to be turned on before its offline"
                                       " status can be reset" % self.node_name,
                                       errors.ECODE_STATE)
        if op.master_candidate and not node.master_capable and not op.master_capable:
            raise errors.OpPrereqError("Node %s is not master capable" % self.node_name,
                                       errors.ECODE_STATE)
        # as Ganeti: a node back in service becomes a candidate itself if the
        # pool lacks one (rather than another node being promoted for it)
        if (op.drained is False or op.offline is False or
                (op.master_capable and not node.master_capable)) and \
                op.master_candidate is None and not node.master_candidate and \
                _wants_self_promotion(self.cfg, self.node_name):
            op.master_candidate = True
            self.log_info("Auto-promoting node to master candidate")
        demoting = node.master_candidate and (op.master_candidate is False or op.offline
                                              or op.drained or op.master_capable is False)
        missing = _candidate_shortage(self.cfg, exclude=[self.node_name])
        if demoting and missing and not (op.auto_promote or op.force):
            raise errors.OpPrereqError(
                "Not enough master candidates if node %s is demoted (%d missing from the"
                " pool); use --auto-promote to promote other nodes" % (self.node_name,
                                                                      missing),
                errors.ECODE_STATE)
        if op.offline is False and node.offline:
            from ganeti import rpc
            runner = rpc.RpcRunner(rpc.static_resolver({node.name: node.primary_ip}))
            res = runner.call_version([node.name])[node.name]
            if res.fail_msg and not op.force:
                raise errors.OpPrereqError("Node %s does not answer (%s); it cannot go back"
                                           " online" % (node.name, res.fail_msg),
                                           errors.ECODE_ENVIRON)
        # node parameters of known names and types; "default" (or None) drops the
        # node's own value, as in Ganeti
        self.new_ndparams = None
        if op.ndparams is not None:
            from ganeti import paramtypes
            given = dict((k, None if v == constants.VALUE_DEFAULT else v)
                         for k, v in op.ndparams.items())
            checked = paramtypes.enforce_types(given, constants.NDC_DEFAULTS, "Node",
                                               allow_none=True)
            self.new_ndparams = dict(node.ndparams)
            for key, value in checked.items():
                if value is None:
                    self.new_ndparams.pop(key, None)
                else:
                    self.new_ndparams[key] = value
        self.new_hv_state = cluster_options.merge_hv_state(
            op.hv_state, node.hv_state_static) if op.hv_state else None
        self.new_disk_state = cluster_options.merge_disk_state(
            op.disk_state, node.disk_state_static) if op.disk_state else None
        self.node = node
        self.demoting = demoting

    def build_hooks_env(self):
        op = self.op
        return {"OP_TARGET": self.node_name, "MASTER_CANDIDATE": op.master_candidate,
                "OFFLINE": op.offline, "DRAINED": op.drained,
                "MASTER_CAPABLE": op.master_capable, "VM_CAPABLE": op.vm_capable}

    def build_hooks_nodes(self):
        nodes = [self.cfg.get_master_node(), self.node_name]
        return nodes, nodes

    def exec(self, feedback_fn):
        op = self.op
        node = self.cfg.get_node_info(self.node_name)
        changes = []

        def change(attr, value):
            if getattr(node, attr) != value:
                setattr(node, attr, value)
                changes.append([attr, str(value)])

        for attr in ("master_capable", "vm_capable", "powered"):
            if getattr(op, attr) is not None:
                change(attr, getattr(op, attr))
        if self.new_ndparams is not None:
            node.ndparams = self.new_ndparams
            changes.append(["ndparams", str(node.ndparams)])
        # as in Ganeti, the static states change without a line in the result
        if self.new_hv_state is not None:
            node.hv_state_static = self.new_hv_state
        if self.new_disk_state is not None:
            node.disk_state_static = self.new_disk_state
        if op.secondary_ip:
            change("secondary_ip", op.secondary_ip)
        # the role: candidate, drained, offline or none of them; its flags
        # change (and are listed) in Ganeti's order
        candidate, drained, offline = node.master_candidate, node.drained, node.offline
        if op.offline is not None:
            offline = op.offline
            if offline:
                candidate = drained = False
        if op.drained is not None:
            drained = op.drained
            if drained:
                candidate = offline = False
        if op.master_candidate is not None:
            candidate = op.master_candidate
            if candidate:
                drained = offline = False
        if op.master_capable is False:
            candidate = False
        for attr, value in (("master_candidate", candidate), ("drained", drained),
                            ("offline", offline)):
            change(attr, value)
        was_candidate = self.node.master_candidate
        self.cfg.update(node)
        if (self.cfg.get_cluster_info().modify_ssh_setup and
                set(["offline", "master_capable"]) & set(c[0] for c in changes)):
            node_ssh.node_changed(self, node.name)
        if was_candidate and not node.master_candidate and not node.offline:
            res = self.rpc.call_node_demote_from_mc(node.name)
            if res.fail_msg:
                self.log_warning("Node %s could not drop its configuration copy: %s",
                                 node.name, res.fail_msg)
        if was_candidate and not node.master_candidate:
            promote_candidates(self, exclude=[node.name])
        elif op.offline is False or op.drained is False:
            promote_candidates(self)      # a node back in service refills the pool
        if set(["master_candidate", "offline", "drained"]) & set(c[0] for c in changes):
            sync_etcd_members(self)
        have, wanted = _candidate_counts(self.cfg)
        if have < wanted:
            # what Ganeti's configuration check says after such a change
            feedback_fn("Configuration data is not consistent: Not enough master"
                        " candidates: actual %d, target %d" % (have, wanted))
        return changes


class LURestrictedCommand(NoHooksLU):
    """Run a command of the nodes' restricted-commands directory on each node
    (gnt-node restricted-command; the node checks it, backend/
    restricted_commands.py). Node locks are shared unless use_locking."""
    REQ_BGL = False

    def expand_names(self):
        self.wanted = expand_node_names(self.cfg, self.op.nodes, self.op.node_uuids)
        self.needed_locks[locking.LEVEL_NODE] = self.wanted
        self.share_locks[locking.LEVEL_NODE] = int(not self.op.use_locking)

    def exec(self, feedback_fn):
        results = self.rpc.call_restricted_command(self.wanted, self.op.command)
        answers = []
        for name in self.wanted:
            res = results[name]
            if res.fail_msg:
                answers.append([False, "Command '%s' on node '%s' failed: %s"
                                % (self.op.command, name, res.fail_msg)])
            else:
                answers.append([True, res.payload])
        return answers
