"""gnt-node evacuate and migrate: move instances off a node, in jobs these
opcodes submit.

gnt-node migrate: one live migration job per primary instance of the node
(as Ganeti: the jobs are made when the opcode runs, the instances' own
checks run in them).

With a new secondary node given, the node's secondary (drbd) instances get it
through ``replace-disks -n`` jobs. Otherwise an instance allocator (-I, or the
cluster's default) plans the moves, primary instances too (as in Ganeti):
its ``node-evacuate`` answer holds the jobs (migrations, failovers,
replace-disks) that are submitted.
"""

from ganeti import constants, errors, locking, opcodes
from ganeti.cmdlib import iallocator
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import LogicalUnit, NoHooksLU, ResultWithJobs, expand_node_name


class LUNodeEvacuate(NoHooksLU):
    REQ_BGL = False

    def check_arguments(self):
        self.allocator = iu.check_iallocator_or_node(self, self.op.remote_node)

    def expand_names(self):
        self.node_name = expand_node_name(self.cfg, self.op.node_name)
        self.remote_node = None
        if self.op.remote_node is not None:
            self.remote_node = expand_node_name(self.cfg, self.op.remote_node)
            if self.remote_node == self.node_name:
                raise errors.OpPrereqError("Can not use evacuated node as a new"
                                           " secondary node", errors.ECODE_INVAL)
            if self.op.mode != constants.NODE_EVAC_SEC:
                raise errors.OpPrereqError("Without the use of an iallocator only"
                                           " secondary instances can be evacuated",
                                           errors.ECODE_INVAL)
        self.instance_names = self._instances()
        self.needed_locks[locking.LEVEL_INSTANCE] = list(self.instance_names)
        # an allocator may choose any node
        self.needed_locks[locking.LEVEL_NODE] = locking.ALL_SET if self.allocator else \
            sorted(set([self.node_name] + ([self.remote_node] if self.remote_node else [])))
        for level in (locking.LEVEL_INSTANCE, locking.LEVEL_NODE):
            self.share_locks[level] = 1

    def _instances(self):
        primary, secondary = self.cfg.get_node_instances(self.node_name)
        if self.op.mode == constants.NODE_EVAC_PRI:
            return primary
        if self.op.mode == constants.NODE_EVAC_SEC:
            return secondary
        raise errors.OpPrereqError("Due to an issue with the iallocator interface it is"
                                   " not possible to evacuate all instances at once;"
                                   " specify explicitly whether to evacuate primary or"
                                   " secondary instances", errors.ECODE_INVAL)

    def check_prereq(self):
        current = self._instances()
        if sorted(current) != sorted(self.instance_names):
            raise errors.OpExecError("Instances on node '%s' changed since locks were"
                                     " acquired, current instances are '%s', used to be"
                                     " '%s'; retry the operation"
                                     % (self.node_name, ", ".join(current),
                                        ", ".join(self.instance_names)))
        if self.instance_names:
            self.log_info("Evacuating instances from node '%s': %s", self.node_name,
                          ", ".join(sorted(self.instance_names)))
        else:
            self.log_info("No instances to evacuate from node '%s'", self.node_name)
        if self.remote_node is not None:
            for name in self.instance_names:
                inst = self.cfg.get_instance_info(name)
                if inst.primary_node == self.remote_node:
                    raise errors.OpPrereqError("Node %s is the primary node of instance"
                                               " %s, cannot use it as secondary"
                                               % (self.remote_node, name),
                                               errors.ECODE_INVAL)

    def exec(self, feedback_fn):
        if not self.instance_names:
            return ResultWithJobs([])
        if self.allocator:
            request = iallocator.node_evacuate_request(self.instance_names, self.op.mode)
            result, _ = iallocator.run(
                self, self.allocator, request, what="node evacuation",
                flags=["--ignore-soft-errors"] if self.op.ignore_soft_errors else [])
            return ResultWithJobs(iallocator.evacuation_jobs(
                self, result, self.op.early_release, True))
        return ResultWithJobs([
            [opcodes.OpInstanceReplaceDisks(instance_name=name,
                                            remote_node=self.remote_node, disks=[],
                                            mode=constants.REPLACE_DISK_CHG,
                                            early_release=self.op.early_release)]
            for name in self.instance_names])



class LUNodeMigrate(LogicalUnit):
    HPATH = "node-migrate"
    HTYPE = constants.HTYPE_NODE
    REQ_BGL = False

    def expand_names(self):
        self.node_name = expand_node_name(self.cfg, self.op.node_name)
        self.needed_locks[locking.LEVEL_NODE] = [self.node_name]
        self.share_locks[locking.LEVEL_NODE] = 1

    def build_hooks_env(self):
        return {"NODE_NAME": self.node_name,
                "ALLOW_RUNTIME_CHANGES": self.op.allow_runtime_changes}

    def build_hooks_nodes(self):
        master = [self.cfg.get_master_node()]
        return master, master

    def exec(self, feedback_fn):
        primary, _ = self.cfg.get_node_instances(self.node_name)
        return ResultWithJobs([
            [opcodes.OpInstanceMigrate(instance_name=name, mode=self.op.mode,
                                       live=self.op.live, iallocator=self.op.iallocator,
                                       target_node=self.op.target_node,
                                       allow_runtime_changes=self.op.allow_runtime_changes,
                                       ignore_ipolicy=self.op.ignore_ipolicy)]
            for name in sorted(primary)])
