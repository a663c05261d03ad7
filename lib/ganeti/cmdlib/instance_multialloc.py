"""Creating several instances at once (gnt-instance batch-create).

The nodes come from the instances' own pnode/snode, or, for all of them at
once, from one ``multi-allocate`` run of the instance allocator; each creation
then runs as a job of its own (OP_INSTANCE_CREATE), and the opcode's result
names those jobs, as Ganeti's LUInstanceMultiAlloc does.
"""

import copy

from ganeti import constants, errors, locking
from ganeti.cmdlib import iallocator, instance_flags
from ganeti.cmdlib.base import NoHooksLU, ResultWithJobs, expand_node_name
from ganeti.cmdlib.instance import LUInstanceCreate

ALLOCATABLE_KEY = "allocatable"
FAILED_KEY = "failed"


def _silent(_message):
    """Feedback of the creations checked here: their own jobs report it."""


class LUInstanceMultiAlloc(NoHooksLU):
    """Place several new instances and submit one creation job for each."""
    REQ_BGL = False

    def check_arguments(self):
        op = self.op
        given = []
        for inst in op.instances:
            if inst.iallocator is not None:
                raise errors.OpPrereqError("iallocator are not allowed to be set on"
                                           " instance objects", errors.ECODE_INVAL)
            given.append(bool(inst.pnode))
            if inst.disk_template in constants.DTS_INT_MIRROR:
                given.append(bool(inst.snode))
        has_nodes = any(given)
        # Ganeti's rule: all or none; an empty list counts as "not all"
        if all(given) != has_nodes:
            raise errors.OpPrereqError("There are instance objects providing"
                                       " pnode/snode while others do not",
                                       errors.ECODE_INVAL)
        if op.iallocator == iallocator.DEFAULT_SHORTCUT:
            op.iallocator = None        # "-I .": the cluster's default, as elsewhere
            has_nodes = False
        if not has_nodes and op.iallocator is None:
            default = self.cfg.get_cluster_info().default_iallocator
            if not default:
                raise errors.OpPrereqError(
                    "No iallocator or nodes on the instances given and no cluster-wide"
                    " default iallocator found; please specify either an iallocator or"
                    " nodes on the instances or set a cluster-wide default iallocator",
                    errors.ECODE_INVAL)
            op.iallocator = default
        instance_flags.check_opportunistic_locking(op)
        names = [inst.instance_name for inst in op.instances]
        dups = sorted(set(name for name in names if names.count(name) > 1))
        if dups:
            raise errors.OpPrereqError("There are duplicate instance names: %s"
                                       % ", ".join(dups), errors.ECODE_INVAL)
        # each creation's own argument checks, on a copy, before any job exists
        self.checked = [LUInstanceCreate(self.proc, copy.deepcopy(inst), self.context,
                                         _silent) for inst in op.instances]

    def expand_names(self):
        self.share_locks = dict.fromkeys(locking.LEVELS, 1)
        if self.op.iallocator:
            nodes = locking.ALL_SET
        else:
            nodes = []
            for inst in self.op.instances:
                inst.pnode = expand_node_name(self.cfg, inst.pnode)
                nodes.append(inst.pnode)
                if inst.snode:
                    inst.snode = expand_node_name(self.cfg, inst.snode)
                    nodes.append(inst.snode)
            nodes = sorted(set(nodes))
        self.needed_locks[locking.LEVEL_NODE] = nodes
        self.needed_locks[locking.LEVEL_NODE_RES] = \
            nodes if nodes is locking.ALL_SET else list(nodes)

    def _request(self, cluster, lu):
        """The allocate request of one instance, as part of the multi-allocation."""
        inst = lu.op
        beparams = dict(cluster.beparams["default"])
        beparams.update(getattr(lu, "beparams", None) or {})
        disks = getattr(lu, "disk_specs", None)
        if disks is None:
            disks = [dict(d, size=int(d.get("size", 0))) for d in inst.disks]
        nics = [dict((k, v) for k, v in spec.items() if k in ("mac", "ip", "mode", "link"))
                for spec in inst.nics]
        request = iallocator.allocate_request(
            inst.instance_name, inst.disk_template, disks, nics, beparams, inst.os_type,
            inst.tags, inst.hypervisor or cluster.enabled_hypervisors[0],
            group_name=inst.group_name)
        del request["type"]
        return request

    def check_prereq(self):
        if not self.op.iallocator:
            self.allocatable = [inst.instance_name for inst in self.op.instances]
            self.failed = []
            return
        cluster = self.cfg.get_cluster_info()
        request = {"type": iallocator.MODE_MULTI_ALLOC,
                   "instances": [self._request(cluster, lu) for lu in self.checked]}
        # the storage figures are those of the cluster's default disk template
        (allocated, failed), _ = iallocator.run(self, self.op.iallocator, request)
        # a failed instance: its name, or [name, why] (hail)
        self.why = dict((f[0], f[1]) for f in failed if isinstance(f, list))
        failed = [f[0] if isinstance(f, list) else f for f in failed]
        known = set(inst.instance_name for inst in self.op.instances)
        missing = known - set(name for name, _ in allocated) - set(failed)
        if missing:
            raise errors.OpExecError("The iallocator '%s' answered for only some of the"
                                     " instances; missing: %s"
                                     % (self.op.iallocator, ", ".join(sorted(missing))))
        self.placement = dict((name, nodes) for name, nodes in allocated)
        self.allocatable = [name for name, _ in allocated]
        self.failed = list(failed)

    def exec(self, feedback_fn):
        jobs = []
        if self.op.iallocator:
            by_name = dict((inst.instance_name, inst) for inst in self.op.instances)
            for name in self.allocatable:
                inst, nodes = by_name[name], self.placement[name]
                inst.pnode = expand_node_name(self.cfg, nodes[0])
                inst.snode = expand_node_name(self.cfg, nodes[1]) if len(nodes) > 1 \
                    else None
                self.log_info("Selected nodes for instance %s via iallocator %s: %s",
                              name, self.op.iallocator, ", ".join(nodes))
                jobs.append([inst])
            if self.failed:
                self.log_warning("The iallocator '%s' found no nodes for: %s",
                                 self.op.iallocator, ", ".join(
                                     "%s (%s)" % (name, self.why[name]) if name in self.why
                                     else name for name in self.failed))
        else:
            jobs = [[inst] for inst in self.op.instances]
        return ResultWithJobs(jobs, **{ALLOCATABLE_KEY: self.allocatable,
                                       FAILED_KEY: self.failed})
