"""Node groups (gnt-group): add, rename, remove, change settings, move nodes
between groups, and the group query.

A group's own node parameters, disk parameters and instance policy lie over
the cluster's for its nodes and the instances whose primary node it holds.
Its allocation policy and static hypervisor/disk state are data for instance
allocators (Ganeti's htools read them); they are checked and stored here.
Evacuating a group needs an allocator to choose new nodes; there is none yet,
so it is refused in words. Messages are Ganeti's, so scripts that match them
keep working.
"""

import copy

from ganeti import constants, errors, locking, objects, paramtypes, query
from ganeti.cmdlib import forthcoming, iallocator
from ganeti.cmdlib import ipolicy as ipol
from ganeti.cmdlib.base import LogicalUnit, NoHooksLU, expand_node_name
from ganeti.utils import text

# the keys of an instance policy ("std" only to refuse it: the cluster's alone)
_IPOLICY_KEYS = frozenset(["minmax", "std", "disk-templates", "vcpu-ratio",
                           "spindle-ratio"])
_DISK_ACCESS_MODES = ("kernelspace", "userspace")
# static state an allocator may read (Ganeti's names; all integers)
_HV_STATE_DEFAULTS = dict.fromkeys(["mem_total", "mem_node", "mem_hv", "cpu_total",
                                    "cpu_node"], 0)
_DISK_STATE_DEFAULTS = dict.fromkeys(["disk_total", "disk_reserved", "disk_overhead"], 0)
_DISK_STATE_TYPES = (constants.DT_PLAIN,)


# ---- the query --------------------------------------------------------------------------

def query_groups(context, fields, qfilter):
    """Answer a group query from the configuration (no node is asked)."""
    from ganeti.cmdlib.query import requested_names
    cfg = context.cfg
    groups = cfg.get_all_node_groups_info()
    nodes = cfg.get_all_nodes_info()
    group_nodes = {}
    # Ganeti lists a group's nodes in the order of their UUIDs
    for node in sorted(nodes.values(), key=lambda n: n.uuid):
        group_nodes.setdefault(node.group, []).append(node.name)
    group_instances = {}
    for inst in cfg.get_all_instances_info().values():
        pnode = nodes.get(inst.primary_node)
        if pnode is not None:
            group_instances.setdefault(pnode.group, []).append(inst.name)
    group_instances = dict((uuid, text.nice_sort(names))
                           for uuid, names in group_instances.items())
    wanted = requested_names(qfilter)
    if wanted:
        # named groups come in the order asked for, as in Ganeti
        by_name = dict((g.name, g) for g in groups.values())
        items = [by_name[name] for name in dict.fromkeys(wanted) if name in by_name]
    else:
        items = text.nice_sort(groups.values(), key=lambda g: g.name)
    ctx = query.GroupQueryData(cfg.get_cluster_info(), group_nodes, group_instances)
    return query.run_query(query.QR_GROUP, fields, items, ctx, qfilter)


# ---- checking a group's settings ----------------------------------------------------------

def _is_reset(value):
    return value == constants.VALUE_DEFAULT


def _updated(old, changes, defaults):
    """``old`` with ``changes`` ("default" drops a key), typed against
    ``defaults``: TypeEnforcementError ("Parameter Error: ...") if a key is
    unknown or a value of the wrong kind."""
    new = dict(old or {})
    for key, value in (changes or {}).items():
        if _is_reset(value):
            new.pop(key, None)
        else:
            new[key] = value
    return paramtypes.check_types(new, defaults)


def updated_ndparams(old, changes):
    return _updated(old, changes, constants.NDC_DEFAULTS)


def updated_diskparams(old, changes):
    """The group's disk parameters after ``changes`` ({template: {key: value}})."""
    unknown = sorted(set(changes or {}) - set(constants.DISK_DT_DEFAULTS))
    if unknown:
        raise errors.OpPrereqError("While verify diskparams options: Provided option keys"
                                   " not supported: %s" % ", ".join(unknown),
                                   errors.ECODE_INVAL)
    result = copy.deepcopy(old or {})
    for tmpl, params in sorted((changes or {}).items()):
        result[tmpl] = _updated(result.get(tmpl), params, constants.DISK_DT_DEFAULTS[tmpl])
        access = result[tmpl].get("access", _DISK_ACCESS_MODES[0])
        if access not in _DISK_ACCESS_MODES:
            raise errors.OpPrereqError("Invalid value of '%s:access': '%s' (expected one"
                                       " of %s)" % (tmpl, access,
                                                    ", ".join(_DISK_ACCESS_MODES)),
                                       errors.ECODE_INVAL)
    return result


def _updated_state(old, changes, valid, what, per_unit):
    """Static hypervisor state ({hypervisor: {...}}) or disk state ({storage type:
    {unit: {...}}}) after ``changes``."""
    wrong = sorted(set(changes or {}) - set(valid))
    if wrong:
        raise errors.OpPrereqError("Invalid %s in %s: %s" % (what[0], what[1],
                                                              ", ".join(wrong)),
                                   errors.ECODE_INVAL)
    defaults = _DISK_STATE_DEFAULTS if per_unit else _HV_STATE_DEFAULTS
    result = copy.deepcopy(old or {})
    for kind, params in sorted((changes or {}).items()):
        if not per_unit:
            result[kind] = _updated(result.get(kind), params, defaults)
            continue
        units = result.setdefault(kind, {})
        for unit, values in sorted(params.items()):
            if not isinstance(values, dict):
                raise errors.OpPrereqError("Disk state of %s is given per storage unit:"
                                           " %s/<unit>:key=value" % (kind, kind),
                                           errors.ECODE_INVAL)
            units[unit] = _updated(units.get(unit), values, defaults)
    return result


def updated_hv_state(old, changes):
    return _updated_state(old, changes, constants.HYPER_TYPES,
                          ("hypervisor(s)", "hypervisor state"), False)


def updated_disk_state(old, changes):
    return _updated_state(old, changes, _DISK_STATE_TYPES,
                          ("storage type(s)", "disk state"), True)


def updated_ipolicy(cluster, old, changes):
    """The group's own instance policy after ``changes`` (an empty value or
    "default" drops a key, so the cluster's applies), checked as a whole over
    the cluster's policy and typed."""
    policy = copy.deepcopy(old or {})
    for key, value in (changes or {}).items():
        if key not in _IPOLICY_KEYS:
            raise errors.OpPrereqError("Invalid key in new ipolicy: %s" % key,
                                       errors.ECODE_INVAL)
        if not value or _is_reset(value) or value == [constants.VALUE_DEFAULT]:
            policy.pop(key, None)
        elif key == "std":
            raise errors.OpPrereqError("std cannot appear in group instance specs",
                                       errors.ECODE_INVAL)
        elif key in ("minmax", ipol.IPOLICY_DTS) and not isinstance(value, list):
            raise errors.OpPrereqError("Invalid instance policy: %s must be a list, not"
                                       " %r" % (key, value), errors.ECODE_INVAL)
        else:
            policy[key] = copy.deepcopy(value)
    full = ipol.check_syntax(objects.fill_ipolicy(cluster.ipolicy, policy), check_std=False)
    not_enabled = sorted(set(full.get(ipol.IPOLICY_DTS, [])) -
                         set(cluster.enabled_disk_templates))
    if not_enabled:
        raise errors.OpPrereqError("The following disk templates are allowed by the"
                                   " ipolicy, but not enabled on the cluster: %s"
                                   % ", ".join(not_enabled), errors.ECODE_INVAL)
    return dict((key, full[key]) for key in policy)


def _group_hooks_nodes(lu):
    master = lu.cfg.get_master_node()
    return [master], [master]


# ---- add, modify, rename, remove ---------------------------------------------------------

class LUGroupAdd(LogicalUnit):
    HPATH = "group-add"
    HTYPE = constants.HTYPE_GROUP
    REQ_BGL = False

    def expand_names(self):
        self.needed_locks = {}

    def check_prereq(self):
        op, cfg = self.op, self.cfg
        try:
            existing = cfg.lookup_node_group(op.group_name)
        except errors.OpPrereqError:
            pass
        else:
            raise errors.OpPrereqError("Desired group name '%s' already exists as a node"
                                       " group (UUID: %s)" % (op.group_name, existing),
                                       errors.ECODE_EXISTS)
        self.ndparams = updated_ndparams({}, op.ndparams)
        self.diskparams = updated_diskparams({}, op.diskparams)
        self.hv_state = updated_hv_state({}, op.hv_state)
        self.disk_state = updated_disk_state({}, op.disk_state)
        self.ipolicy = {}
        if op.ipolicy:
            self.ipolicy = updated_ipolicy(cfg.get_cluster_info(), {}, op.ipolicy)

    def build_hooks_env(self):
        return {"GROUP_NAME": self.op.group_name}

    def build_hooks_nodes(self):
        return _group_hooks_nodes(self)

    def exec(self, feedback_fn):
        group = objects.NodeGroup(
            name=self.op.group_name, ndparams=self.ndparams, diskparams=self.diskparams,
            ipolicy=self.ipolicy, hv_state_static=self.hv_state,
            disk_state_static=self.disk_state,
            alloc_policy=self.op.alloc_policy or constants.ALLOC_POLICY_PREFERRED)
        self.cfg.add_node_group(group)
        self.glm.add(locking.LEVEL_NODEGROUP, [group.uuid])


class _GroupLU(LogicalUnit):
    """An operation on one existing group, under that group's lock."""
    REQ_BGL = False

    def expand_names(self):
        self.group_uuid = self.cfg.lookup_node_group(self.op.group_name)
        self.needed_locks = {locking.LEVEL_NODEGROUP: [self.group_uuid]}

    def _group(self):
        group = self.cfg.get_node_group(self.group_uuid)
        if group is None:
            raise errors.OpExecError("Could not retrieve group '%s' (UUID: %s)"
                                     % (self.op.group_name, self.group_uuid))
        return group

    def build_hooks_nodes(self):
        return _group_hooks_nodes(self)


class LUGroupSetParams(_GroupLU):
    HPATH = "group-modify"
    HTYPE = constants.HTYPE_GROUP

    def check_arguments(self):
        op = self.op
        if all(getattr(op, name) is None for name in (
                "ndparams", "diskparams", "alloc_policy", "hv_state", "disk_state",
                "ipolicy")):
            raise errors.OpPrereqError("Please pass at least one modification",
                                       errors.ECODE_INVAL)

    def check_prereq(self):
        op, cfg = self.op, self.cfg
        self.group = group = self._group()
        cluster = cfg.get_cluster_info()
        # an empty value (what gnt-group modify sends for options not given)
        # changes nothing, as in Ganeti
        self.changes = {}
        if op.ndparams:
            self.changes["ndparams"] = updated_ndparams(group.ndparams, op.ndparams)
        if op.diskparams:
            self.changes["diskparams"] = updated_diskparams(group.diskparams,
                                                            op.diskparams)
        if op.hv_state:
            self.changes["hv_state_static"] = updated_hv_state(group.hv_state_static,
                                                               op.hv_state)
        if op.disk_state:
            self.changes["disk_state_static"] = updated_disk_state(
                group.disk_state_static, op.disk_state)
        if op.ipolicy:
            new = updated_ipolicy(cluster, group.ipolicy, op.ipolicy)
            self.changes["ipolicy"] = new
            self._warn_violations(cluster, group, new)
        if op.alloc_policy:
            self.changes["alloc_policy"] = op.alloc_policy

    def _warn_violations(self, cluster, group, new_policy):
        """Instances of the group that the new policy refuses and the old did not
        (a warning: they keep running, as in Ganeti)."""
        old_full = objects.fill_ipolicy(cluster.ipolicy, group.ipolicy)
        new_full = objects.fill_ipolicy(cluster.ipolicy, new_policy)
        members = set(n for n, node in self.cfg.get_all_nodes_info().items()
                      if node.group == group.uuid)
        bad = []
        for name, inst in sorted(self.cfg.get_all_instances_info().items()):
            if inst.primary_node not in members:
                continue
            if ipol.instance_violations(self.cfg, inst, new_full) and \
                    not ipol.instance_violations(self.cfg, inst, old_full):
                bad.append(name)
        if bad:
            self.log_warning("After the ipolicy change the following instances violate"
                             " them: %s", ", ".join(text.nice_sort(bad)))

    def build_hooks_env(self):
        return {"GROUP_NAME": self.op.group_name,
                "NEW_ALLOC_POLICY": self.op.alloc_policy}

    def exec(self, feedback_fn):
        if not self.changes:
            return []
        group = self._group()
        for attr, value in self.changes.items():
            setattr(group, attr, value)
        self.cfg.update(group)
        # what Ganeti reports back (gnt-group modify prints it)
        return [[name, str(getattr(group, name))] for name in ("ndparams", "diskparams")
                if name in self.changes]


class LUGroupRename(_GroupLU):
    HPATH = "group-rename"
    HTYPE = constants.HTYPE_GROUP

    def check_prereq(self):
        try:
            taken = self.cfg.lookup_node_group(self.op.new_name)
        except errors.OpPrereqError:
            return
        raise errors.OpPrereqError("Desired new name '%s' clashes with existing node"
                                   " group (UUID: %s)" % (self.op.new_name, taken),
                                   errors.ECODE_EXISTS)

    def build_hooks_env(self):
        return {"OLD_NAME": self.op.group_name, "NEW_NAME": self.op.new_name}

    def build_hooks_nodes(self):
        master = self.cfg.get_master_node()
        nodes = [master] + sorted(n for n, node in self.cfg.get_all_nodes_info().items()
                                  if node.group == self.group_uuid and n != master)
        return nodes, nodes

    def exec(self, feedback_fn):
        self._group()
        self.cfg.rename_node_group(self.group_uuid, self.op.new_name)
        return self.op.new_name


class LUGroupRemove(_GroupLU):
    HPATH = "group-remove"
    HTYPE = constants.HTYPE_GROUP

    def check_prereq(self):
        members = [node.uuid for node in self.cfg.get_all_nodes_info().values()
                   if node.group == self.group_uuid]
        if members:
            # node UUIDs, as Ganeti names them here
            raise errors.OpPrereqError("Group '%s' not empty, has the following nodes: %s"
                                       % (self.op.group_name,
                                          ", ".join(text.nice_sort(members))),
                                       errors.ECODE_STATE)
        if len(self.cfg.get_all_node_groups_info()) == 1:
            raise errors.OpPrereqError("Group '%s' is the only group, cannot be removed"
                                       % self.op.group_name, errors.ECODE_STATE)

    def build_hooks_env(self):
        return {"GROUP_NAME": self.op.group_name}

    def exec(self, feedback_fn):
        try:
            self.cfg.remove_node_group(self.group_uuid)
        except errors.ConfigurationError:
            raise errors.OpExecError("Group '%s' with UUID %s disappeared"
                                     % (self.op.group_name, self.group_uuid))
        self.glm.remove(locking.LEVEL_NODEGROUP, [self.group_uuid])


# ---- moving nodes ---------------------------------------------------------------------------

def split_instances(cfg, changes):
    """(instances newly split across groups by ``changes`` ({node: new group
    uuid}), instances split before that stay split). Only internally mirrored
    (drbd) instances count: their two nodes must share a group."""
    nodes = cfg.get_all_nodes_info()
    new, still = [], []
    for name, inst in cfg.get_all_instances_info().items():
        if not any(disk.dev_type in constants.DTS_INT_MIRROR for disk in inst.disks):
            continue
        members = [n for n in inst.all_nodes if n in nodes]
        before = set(nodes[n].group for n in members)
        after = set(changes.get(n, nodes[n].group) for n in members)
        if len(after) > 1:
            (still if len(before) > 1 else new).append(name)
    return text.nice_sort(new), text.nice_sort(still)


class LUGroupAssignNodes(NoHooksLU):
    REQ_BGL = False

    def expand_names(self):
        op, cfg = self.op, self.cfg
        self.group_uuid = cfg.lookup_node_group(op.group_name)
        if op.node_uuids is not None and len(op.node_uuids) != len(op.nodes):
            raise errors.OpPrereqError("The node_uuids must name as many nodes as nodes",
                                       errors.ECODE_INVAL)
        # no node named: every node, as in Ganeti
        self.node_names = [expand_node_name(cfg, name) for name in op.nodes] \
            if op.nodes else cfg.get_node_list()
        for idx, uuid in enumerate(op.node_uuids or []):
            node = cfg.get_node_info(self.node_names[idx])
            if node.uuid != uuid:
                raise errors.OpPrereqError(
                    "The nodes UUID '%s' does not match the expected UUID '%s' for node"
                    " '%s'. Maybe the node changed since you submitted this job."
                    % (node.uuid, uuid, node.name), errors.ECODE_NOTUNIQUE)
        self.node_names = list(dict.fromkeys(self.node_names))
        self.needed_locks = {locking.LEVEL_NODEGROUP: [self.group_uuid],
                             locking.LEVEL_NODE: list(self.node_names)}

    def _source_groups(self):
        nodes = self.cfg.get_all_nodes_info()
        return set(nodes[n].group for n in self.node_names if n in nodes)

    def declare_locks(self, level):
        # the groups the nodes leave; checked again once the locks are held
        if level == locking.LEVEL_NODEGROUP:
            self.needed_locks[level] = sorted(set([self.group_uuid]) |
                                              self._source_groups())

    def check_prereq(self):
        expected = set([self.group_uuid]) | self._source_groups()
        owned = set(self.glm.list_owned(locking.LEVEL_NODEGROUP))
        if expected != owned:
            raise errors.OpExecError("Nodes changed groups since locks were acquired,"
                                     " current groups are '%s', used to be '%s'"
                                     % (", ".join(sorted(expected)),
                                        ", ".join(sorted(owned))))
        new, still = split_instances(self.cfg, dict.fromkeys(self.node_names,
                                                             self.group_uuid))
        if new and not self.op.force:
            raise errors.OpExecError("The following instances get split by this change"
                                     " and --force was not given: %s" % ", ".join(new))
        if new:
            self.log_warning("This operation will split the following instances: %s",
                             ", ".join(new))
            if still:
                self.log_warning("In addition, these already-split instances continue to"
                                 " be split across groups: %s", ", ".join(still))

    def exec(self, feedback_fn):
        self.cfg.assign_group_nodes([(name, self.group_uuid) for name in self.node_names])


# ---- evacuation -------------------------------------------------------------------------------

class LUGroupEvacuate(_GroupLU):
    """Move all instances out of a group: the instance allocator (-I, or the
    cluster's default) plans the moves ("change-group"), whose jobs are
    submitted (Ganeti's rule and messages)."""
    HPATH = "group-evacuate"
    HTYPE = constants.HTYPE_GROUP

    def expand_names(self):
        _GroupLU.expand_names(self)
        targets = [self.cfg.lookup_node_group(g) for g in self.op.target_groups or []]
        if self.group_uuid in targets:
            raise errors.OpPrereqError("Group to be evacuated (%s) can not be used as a"
                                       " target group (targets are %s)"
                                       % (self.group_uuid, ", ".join(targets)),
                                       errors.ECODE_INVAL)
        iallocator.given_or_default(self)
        self.req_targets = targets
        # the instances with a node in the group, read under the group's lock
        self.instance_names = self._group_instances()
        self.needed_locks[locking.LEVEL_INSTANCE] = list(self.instance_names)
        self.needed_locks[locking.LEVEL_NODE] = locking.ALL_SET
        for level in (locking.LEVEL_INSTANCE, locking.LEVEL_NODE):
            self.share_locks[level] = 1

    def _group_instances(self):
        members = set(n for n, node in self.cfg.get_all_nodes_info().items()
                      if node.group == self.group_uuid)
        return sorted(name for name, inst in self.cfg.get_all_instances_info().items()
                      if members & set(inst.all_nodes))

    def check_prereq(self):
        if self._group_instances() != sorted(self.instance_names):
            raise errors.OpExecError("Instances of node group '%s' changed since locks"
                                     " were acquired; retry the operation"
                                     % self.op.group_name)
        self.targets = self.req_targets or [
            uuid for uuid in sorted(self.cfg.get_all_node_groups_info())
            if uuid != self.group_uuid]
        if not self.targets:
            raise errors.OpPrereqError("There are no possible target groups",
                                       errors.ECODE_INVAL)

    def build_hooks_env(self):
        return {"GROUP_NAME": self.op.group_name,
                "TARGET_GROUPS": " ".join(self.targets)}

    def exec(self, feedback_fn):
        from ganeti import opcodes
        from ganeti.cmdlib.base import ResultWithJobs
        request = iallocator.change_group_request(self.instance_names, self.targets)
        result, _ = iallocator.run(self, self.op.iallocator, request,
                                   what="group evacuation")
        jobs = iallocator.evacuation_jobs(self, result, self.op.early_release, False)
        self.log_info("Iallocator returned %s job(s) for evacuating node group %s",
                      len(jobs), self.op.group_name)
        if self.op.force_failover:
            self.log_info("Will insist on failovers")
            jobs = [[_as_failover(opcodes, op) for op in job] for job in jobs]
        if self.op.sequential:
            self.log_info("Jobs will be submitted to run sequentially")
            for job in jobs[1:]:
                for op in job:
                    op.depends = [[-1, ["error", "success"]]]
        return ResultWithJobs(jobs)


class LUInstanceChangeGroup(LogicalUnit):
    """Move one instance to other node groups (gnt-instance change-group): the
    instance allocator plans it ("change-group"), as for a group evacuation,
    and the moves run as the jobs this one submits."""
    HPATH = "instance-change-group"
    HTYPE = constants.HTYPE_INSTANCE
    REQ_BGL = False

    def expand_names(self):
        from ganeti.cmdlib import instance_utils
        self.instance_name = instance_utils.expand_instance_name(self.cfg,
                                                                 self.op.instance_name)
        forthcoming.refuse(self.cfg, self.instance_name)
        self.op.instance_name = self.instance_name
        self.req_targets = [self.cfg.lookup_node_group(g)
                            for g in self.op.target_groups or []]
        iallocator.given_or_default(self)
        # the allocator reads the whole cluster: everything shared, as Ganeti
        self.needed_locks = {locking.LEVEL_INSTANCE: [self.instance_name],
                             locking.LEVEL_NODEGROUP: locking.ALL_SET,
                             locking.LEVEL_NODE: locking.ALL_SET}
        for level in self.needed_locks:
            self.share_locks[level] = 1

    def check_prereq(self):
        from ganeti.cmdlib import instance_utils
        self.instance = instance_utils.get_instance(self.cfg, self.instance_name)
        nodes = self.cfg.get_all_nodes_info()
        inst_groups = set(nodes[n].group for n in self.instance.all_nodes if n in nodes)
        if self.req_targets:
            targets = list(dict.fromkeys(self.req_targets))
        else:
            targets = [uuid for uuid in sorted(self.cfg.get_all_node_groups_info())
                       if uuid not in inst_groups]
        conflicting = [t for t in targets if t in inst_groups]
        if conflicting:
            raise errors.OpPrereqError("Can't use group(s) '%s' as targets, they are used"
                                       " by the instance '%s'"
                                       % (", ".join(conflicting), self.instance_name),
                                       errors.ECODE_INVAL)
        if not targets:
            raise errors.OpPrereqError("There are no possible target groups",
                                       errors.ECODE_INVAL)
        self.targets = targets

    def build_hooks_env(self):
        from ganeti.cmdlib import instance_utils
        return instance_utils.build_instance_hook_env(
            self.cfg.get_cluster_info(), self.instance,
            {"TARGET_GROUPS": " ".join(self.targets)})

    def build_hooks_nodes(self):
        master = [self.cfg.get_master_node()]
        return master, master

    def exec(self, feedback_fn):
        from ganeti.cmdlib.base import ResultWithJobs
        request = iallocator.change_group_request([self.instance_name], self.targets)
        result, _ = iallocator.run(
            self, self.op.iallocator, request,
            what="solution for changing group of instance '%s'" % self.instance_name)
        jobs = iallocator.evacuation_jobs(self, result, self.op.early_release, False)
        self.log_info("Iallocator returned %s job(s) for changing group of instance '%s'",
                      len(jobs), self.instance_name)
        return ResultWithJobs(jobs)


def _as_failover(opcodes, op):
    """A failover in place of a migration (--force-failover)."""
    if not isinstance(op, opcodes.OpInstanceMigrate):
        return op
    return opcodes.OpInstanceFailover(instance_name=op.instance_name,
                                      target_node=op.target_node,
                                      ignore_ipolicy=op.ignore_ipolicy,
                                      cleanup=op.cleanup)
