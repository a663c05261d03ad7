"""Logical units moving a running instance to another node: failover and migrate.

Both work for instances whose disks the target node can reach: drbd disks (the
target is the instance's secondary) and storage every node sees (sharedfile,
and diskless instances; any node may be the target). The steps and their job
log lines are Ganeti's (cmdlib/instance_migration.py there):

- failover: stop the instance on the source, close and deactivate its disks
  there, make the target the primary, activate the disks there and start the
  instance (if it is marked up);
- migrate: open the disks on both nodes (shared mode), let the target's
  hypervisor wait for the instance, have the source's hypervisor send it, poll
  until the transfer ended, finalize on both nodes, make the target the primary,
  close the disks on the source and open them on the target (exclusive mode).
  A failure on the way undoes the target's side and lets the source go on.
"""

import logging
import time

from ganeti import constants, errors, hypervisor, locking
from ganeti.hypervisor import hv_base
from ganeti.cmdlib import drbd_disks, ext_disks, iallocator
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib import ipolicy
from ganeti.cmdlib.base import expand_node_name
from ganeti.cmdlib.instance_utils import InstanceLU

MIGRATION_POLL_INTERVAL = 1.0       # seconds between migration status checks
MIGRATION_FEEDBACK_INTERVAL = 10.0  # seconds between progress lines in the job log
DRBD_SYNC_POLL = 2.0                # seconds between resync checks
DRBD_RECONNECT_TIMEOUT = 60.0       # seconds the halves may take to find each other
DRBD_RECONNECT_POLL = 0.5
# volumes a node maps while it opens them: unmapped where the instance left
_UNMAP_TYPES = frozenset([constants.DT_RBD, constants.DT_EXT])


def _disk_types(instance):
    return set(d.dev_type for d in instance.disks) or set([instance.disk_template])


def _all_of(instance, kinds):
    return all(t in kinds for t in _disk_types(instance))


class _MoveInstanceLU(InstanceLU):
    """What failover and migrate share: target choice, checks, disk open/close."""
    FAILOVER = False

    def expand_names(self):
        super().expand_names()
        self.op_target = (expand_node_name(self.cfg, self.op.target_node)
                          if self.op.target_node else None)

    def declare_locks(self, level):
        if level in (locking.LEVEL_NODE, locking.LEVEL_NODE_RES):
            inst = iu.get_instance(self.cfg, self.instance_name)
            nodes = inst.all_nodes + ([self.op_target] if self.op_target else [])
            self.needed_locks[level] = list(dict.fromkeys(nodes))
            if _all_of(inst, constants.DTS_EXT_MIRROR) and not self.op_target:
                # an allocator chooses the target among all nodes
                self.needed_locks[level] = locking.ALL_SET

    # ---- checks ------------------------------------------------------------------------

    def check_prereq(self):
        super().check_prereq()
        inst = self.instance
        cluster = self.cfg.get_cluster_info()
        self.failover = self.FAILOVER
        self.cleanup = self.op.cleanup
        if self.failover and self.cleanup:
            raise errors.OpPrereqError("A failed migration is cleaned up by"
                                       " 'gnt-instance migrate --cleanup', not by"
                                       " failover", errors.ECODE_INVAL)
        fallback = getattr(self.op, "allow_failover", False)
        if (not self.cleanup and not self.failover and fallback
                and inst.admin_state != constants.ADMINST_UP):
            self.log_info("Instance is marked down or offline, fallback allowed,"
                          " switching to failover")
            self.failover = True
        self._check_target(inst)
        be = cluster.fill_be(inst)
        if not self.cleanup and (not self.failover
                                 or inst.admin_state == constants.ADMINST_UP):
            self.target_free_mem = iu.node_free_memory(self, self.target_node,
                                                       inst.hypervisor)
            iu.check_node_free_memory(self, self.target_node, "migrating instance %s"
                                      % inst.name, be[constants.BE_MINMEM],
                                      inst.hypervisor)
        else:
            self.target_free_mem = None
            self.log_info("Not checking memory on the secondary node as instance will"
                          " not be started")
        if not self.cleanup and not self.failover and be[constants.BE_ALWAYS_FAILOVER]:
            self.log_info("Instance configured to always failover; fallback to"
                          " failover")
            self.failover = True
        iu.check_bridges(self, inst, self.target_node)
        if not self.cleanup:
            target = self.cfg.get_node_info(self.target_node)
            if target.drained:
                raise errors.OpPrereqError("Can't use drained node %s" % target.name,
                                           errors.ECODE_STATE)
            if not self.failover:
                res = self.rpc.call_instance_migratable(inst.primary_node,
                                                        self._node_instance())
                if res.fail_msg and fallback:
                    self.log_info("Can't migrate, instance offline, fallback to"
                                  " failover")
                    self.failover = True
                else:
                    res.raise_on_failure("Can't migrate, please use failover",
                                         prereq=True)
        self.live = False
        if not self.failover:
            self._check_mode(cluster, inst)
        self.current_mem = None
        if not (self.failover or self.cleanup):
            res = self.rpc.call_instance_info(inst.primary_node, inst.name,
                                              inst.hypervisor,
                                              cluster.hvparams.get(inst.hypervisor, {}))
            res.raise_on_failure("Error checking instance on node %s"
                                 % inst.primary_node, prereq=True)
            if res.data:
                self.current_mem = int(res.data["memory"])

    def _check_target(self, inst):
        text = "failovers" if self.failover else "migrations"
        bad = sorted(t for t in _disk_types(inst) if t not in constants.DTS_MIRRORED)
        if bad:
            raise errors.OpPrereqError("Instance's disk layout '%s' does not allow %s"
                                       % (", ".join(bad), text), errors.ECODE_STATE)
        if _all_of(inst, constants.DTS_EXT_MIRROR):
            allocator = iu.check_iallocator_or_node(self, self.op_target)
            self.target_node = self.op_target
            if allocator:
                result, _ = iallocator.run(
                    self, allocator, iallocator.relocate_request(inst, [inst.primary_node]),
                    inst.disk_template)
                self.target_node = expand_node_name(self.cfg, result[0])
                self.log_info("Selected nodes for instance %s via iallocator %s: %s",
                              inst.name, allocator, ", ".join(result))
            if self.target_node == inst.primary_node:
                raise errors.OpPrereqError("Cannot migrate instance %s to its primary"
                                           " (%s)" % (inst.name, inst.primary_node),
                                           errors.ECODE_STATE)
        elif _all_of(inst, constants.DTS_INT_MIRROR):
            secondaries = inst.secondary_nodes
            if not secondaries:
                raise errors.ConfigurationError("No secondary node but using %s disk"
                                                " types" % ", ".join(_disk_types(inst)))
            self.target_node = secondaries[0]
            if self.op.iallocator or (self.op_target and
                                      self.op_target != self.target_node):
                raise errors.OpPrereqError(
                    "Instances with disk types %s cannot be %s to arbitrary nodes"
                    " (neither an iallocator nor a target node can be passed)"
                    % (", ".join(sorted(_disk_types(inst))),
                       "failed over" if self.failover else "migrated"),
                    errors.ECODE_INVAL)
        else:
            raise errors.OpPrereqError("Instance mixes internal and external mirroring."
                                       " This is not currently supported.",
                                       errors.ECODE_INVAL)
        ipolicy.check_target_node_ipolicy(self, inst, self.target_node,
                                          self.op.ignore_ipolicy)
        if not self.cleanup:
            ext_disks.check_providers(self, [self.target_node],
                                      ext_disks.providers_of(inst.disks))

    def _check_mode(self, cluster, inst):
        op = self.op
        if op.live is not None and op.mode is not None:
            raise errors.OpPrereqError("Only one of the 'live' and 'mode' parameters"
                                       " are accepted", errors.ECODE_INVAL)
        if op.live is not None:
            mode = "live" if op.live else "non-live"
        elif op.mode is not None:
            mode = op.mode
        else:
            mode = cluster.fill_hv(inst).get("migration_mode", "live")
        self.live = mode == "live"

    # ---- hooks -------------------------------------------------------------------------

    def _move_env(self):
        inst = self.instance
        env = {"OLD_PRIMARY": inst.primary_node, "NEW_PRIMARY": self.target_node}
        if _all_of(inst, constants.DTS_INT_MIRROR) and inst.secondary_nodes:
            env["OLD_SECONDARY"] = inst.secondary_nodes[0]
            env["NEW_SECONDARY"] = inst.primary_node
        else:
            env["OLD_SECONDARY"] = env["NEW_SECONDARY"] = ""
        return env

    # ---- steps shared by failover and migrate ---------------------------------------------

    def _disks_for(self, node):
        return [drbd_disks.disk_for_node(self.cfg, d, node) for d in self.instance.disks]

    def _open_disks(self, node, exclusive):
        self.log_step("opening instance disks on node %s %s"
                      % (node, "in exclusive mode" if exclusive else "in shared mode"))
        res = self.rpc.call_blockdev_open(node, self.instance.name, self._disks_for(node),
                                          exclusive)
        res.raise_on_failure("Cannot open instance disks on node %s" % node)

    def _close_disks(self, node, ignore_consistency=False):
        self.log_step("closing instance disks on node %s" % node)
        res = self.rpc.call_blockdev_close(node, self.instance.name,
                                           self._disks_for(node))
        if res.fail_msg:
            if res.offline or ignore_consistency:
                self.log_warning("Could not close instance disks on node %s,"
                                 " proceeding anyway" % node)
            else:
                raise errors.OpExecError("Cannot close instance disks on node %s: %s"
                                         % (node, res.fail_msg))

    def _unmap_disks(self, node, failed):
        """Unmap the rbd/ext volumes from ``node``, which the instance left (or
        never reached: ``failed``); an error is a warning, the instance runs."""
        disks = [d for d in self.instance.disks if d.dev_type in _UNMAP_TYPES]
        if not disks:
            return
        self.log_step("unmapping instance's disks %s from %s"
                      % (", ".join(str(d.name) for d in disks), node))
        for disk in disks:
            res = self.rpc.call_blockdev_shutdown(
                node, drbd_disks.disk_for_node(self.cfg, disk, node))
            if res.fail_msg:
                self.log_warning("%s couldn't unmap the block device %s on %s node %s:"
                                 " %s; you need to unmap it manually there",
                                 "Migration failed and I" if failed
                                 else "Migration was successful, but",
                                 disk.iv_name, "target" if failed else "source", node,
                                 res.fail_msg)

    # ---- drbd: dual-primary during a migration ---------------------------------------

    def _is_drbd(self):
        return _all_of(self.instance, constants.DTS_INT_MIRROR) and self.instance.disks

    def _both_nodes(self, call, what):
        """Run ``call(node, disks)`` on source and target; OpExecError naming the
        node that failed. Returns {node: result data}."""
        result = {}
        for node in (self.source_node, self.target_node):
            res = call(node, self._disks_for(node))
            res.raise_on_failure("%s on node %s" % (what, node))
            result[node] = res.data
        return result

    def _go_standalone(self):
        self.log_step("changing into standalone mode")
        self._both_nodes(self.rpc.call_drbd_disconnect_net, "Cannot disconnect disks")

    def _go_reconnect(self, multimaster):
        """Connect both halves again; wait until they see each other."""
        self.log_step("changing disks into %s mode"
                      % ("dual-master" if multimaster else "single-master"))
        self._both_nodes(lambda node, disks: self.rpc.call_drbd_attach_net(
            node, disks, multimaster), "Cannot change disks config")
        deadline = time.monotonic() + DRBD_RECONNECT_TIMEOUT
        while True:
            try:
                self._both_nodes(self.rpc.call_drbd_wait_sync, "Cannot reconnect disks")
                return
            except errors.OpExecError as err:
                if time.monotonic() > deadline:
                    raise errors.OpExecError("Timeout in disk reconnecting: %s" % err)
            time.sleep(DRBD_RECONNECT_POLL)

    def _wait_until_sync(self):
        self.log_step("wait until resync is done")
        while True:
            states = self._both_nodes(self.rpc.call_drbd_wait_sync,
                                      "Cannot resync disks")
            done = all(state[0] for state in states.values())
            percents = [state[1] for state in states.values() if state[1] is not None]
            if done:
                return
            if percents and min(percents) < 100:
                self.feedback_fn("   - progress: %.1f%%" % min(percents))
            time.sleep(DRBD_SYNC_POLL)

    def _check_disk_consistency(self):
        """Whether every disk is healthy on the target (only drbd can be degraded)."""
        ok = True
        for idx, disk in enumerate(self.instance.disks):
            if disk.dev_type not in constants.DTS_INT_MIRROR:
                continue
            res = self.rpc.call_blockdev_find(
                self.target_node, drbd_disks.disk_for_node(self.cfg, disk,
                                                           self.target_node))
            if res.fail_msg or not res.data:
                self.log_warning("Can't find disk %d on node %s: %s", idx,
                                 self.target_node, res.fail_msg or "not found")
                ok = False
            elif res.data.get("is_degraded"):
                ok = False
        return ok

    def _set_primary(self, node):
        """Record ``node`` as the primary (shared-storage disks follow it)."""
        inst = self.cfg.get_instance_info(self.instance.name)
        inst.primary_node = node
        for disk in inst.disks:
            if disk.dev_type in constants.DTS_EXT_MIRROR:
                disk.nodes = [node]
        self.cfg.update(inst)
        self.instance = self.cfg.get_instance_info(inst.name)

    def exec(self, feedback_fn):
        self.source_node = self.instance.primary_node
        if self.failover:
            feedback_fn("Failover instance %s" % self.instance.name)
            return self._exec_failover()
        feedback_fn("Migrating instance %s" % self.instance.name)
        if self.cleanup:
            return self._exec_cleanup()
        return self._exec_migration()

    # ---- failover ----------------------------------------------------------------------

    def _exec_failover(self):
        inst = self.instance
        if inst.forthcoming:
            # sic: Ganeti's two spaces
            self.feedback_fn("Instance is forthcoming, just updating the  configuration")
            self._set_primary(self.target_node)
            return None
        source = self.source_node
        source_offline = self.cfg.get_node_info(source).offline
        ignore = getattr(self.op, "ignore_consistency", False)
        if inst.disks_active:
            self.log_step("checking disk consistency between source and target")
            if not self._check_disk_consistency():
                if source_offline:
                    self.feedback_fn("Node %s is offline, ignoring degraded disks on"
                                     " target node %s" % (source, self.target_node))
                elif not ignore:
                    raise errors.OpExecError("Disk is degraded on target node, aborting"
                                             " failover")
        else:
            self.log_step("not checking disk consistency as instance is not running")
        self.log_step("shutting down instance on source node")
        timeout = getattr(self.op, "shutdown_timeout", constants.DEFAULT_SHUTDOWN_TIMEOUT)
        res = self.rpc.call_instance_shutdown(source, self._node_instance(), timeout,
                                              None)
        if res.fail_msg:
            if ignore or source_offline:
                self.log_warning("Could not shutdown instance %s on node %s, proceeding"
                                 " anyway; please make sure node %s is down; error"
                                 " details: %s", inst.name, source, source, res.fail_msg)
            else:
                raise errors.OpExecError("Could not shutdown instance %s on node %s: %s"
                                         % (inst.name, source, res.fail_msg))
        if _all_of(inst, constants.DTS_EXT_MIRROR):
            self._close_disks(source, ignore or source_offline)
        self.log_step("deactivating the instance's disks on source node")
        iu.shutdown_disks(self, inst, ignore_failures=True)
        self._set_primary(self.target_node)
        inst = self.instance
        if inst.admin_state != constants.ADMINST_UP:
            return None
        self.log_step("activating the instance's disks on target node %s"
                      % self.target_node)
        try:
            # the old primary may be dead: its half of a mirror is not needed
            iu.assemble_disks(self, inst, ignore_secondaries=True)
        except errors.OpExecError as err:
            self.log_warning("%s", err)
            iu.shutdown_disks(self, inst, ignore_failures=True)
            raise errors.OpExecError("Can't activate the instance's disks")
        self.log_step("starting the instance on the target node %s" % self.target_node)
        res = self.rpc.call_instance_start(self.target_node, self._node_instance(inst),
                                           False, None)
        if res.fail_msg:
            iu.shutdown_disks(self, inst, ignore_failures=True)
            raise errors.OpExecError("Could not start instance %s on node %s: %s"
                                     % (inst.name, self.target_node, res.fail_msg))
        return None

    # ---- migration -------------------------------------------------------------------------

    def _node_ip(self, node):
        info = self.cfg.get_node_info(node)
        return info.secondary_ip or info.primary_ip

    def _check_hv_versions(self):
        cluster = self.cfg.get_cluster_info()
        hv_name = self.instance.hypervisor
        versions = []
        for node in (self.source_node, self.target_node):
            res = self.rpc.call_hv_node_info(node, hv_name,
                                             cluster.hvparams.get(hv_name, {}))
            res.raise_on_failure("Unable to retrieve node information from node '%s'"
                                 % node)
            versions.append((res.data or {}).get("hv_version"))
        src, dst = versions
        if src is None or dst is None or src == dst:
            return
        fmt = lambda v: ".".join(str(x) for x in v)   # noqa: E731
        self.log_step("warning: hypervisor version mismatch between source (%s) and"
                      " target (%s) node" % (fmt(src), fmt(dst)))
        if hypervisor.get_hypervisor_class(hv_name).versions_safe_for_migration(src,
                                                                                 dst):
            self.feedback_fn("  migrating from hypervisor version %s to %s should be"
                             " safe" % (fmt(src), fmt(dst)))
            return
        self.feedback_fn("  migrating from hypervisor version %s to %s is likely"
                         " unsupported" % (fmt(src), fmt(dst)))
        if not self.op.ignore_hvversions:
            raise errors.OpExecError("Unsupported migration between hypervisor versions"
                                     " (%s to %s)" % (fmt(src), fmt(dst)))
        self.feedback_fn("  continuing anyway (told to ignore version mismatch)")

    def _abort_migration(self):
        """Undo the target's side, let the source go on; both are always tried."""
        node_inst = self._node_instance()
        res = self.rpc.call_instance_finalize_migration_dst(
            self.target_node, node_inst, self.migration_info, False)
        if res.fail_msg:
            logging.error("Aborting migration failed on target node %s: %s",
                          self.target_node, res.fail_msg)
        res = self.rpc.call_instance_finalize_migration_src(
            self.source_node, node_inst, False, self.live)
        if res.fail_msg:
            logging.error("Aborting migration failed on source node %s: %s",
                          self.source_node, res.fail_msg)

    def _revert_disk_status(self):
        try:
            self._close_disks(self.target_node)
            self._unmap_disks(self.target_node, True)
            if _all_of(self.instance, constants.DTS_EXT_MIRROR):
                self._open_disks(self.source_node, True)
            elif self._is_drbd():
                self._go_standalone()
                self._go_reconnect(False)
                self._wait_until_sync()
        except errors.OpExecError as err:
            self.log_warning("Migration failed and the disks could not be reverted,"
                             " please check them manually; error '%s'" % err)

    def _fail_migration(self, msg):
        logging.error("Instance migration failed, trying to revert disk status: %s",
                      msg)
        self.feedback_fn("Migration failed, aborting")
        self._abort_migration()
        self._revert_disk_status()
        raise errors.OpExecError("Could not migrate instance %s: %s"
                                 % (self.instance.name, msg))

    def _exec_migration(self):
        inst = self.instance
        self._check_hv_versions()
        self.log_step("checking disk consistency between source and target")
        if not self._check_disk_consistency():
            raise errors.OpExecError("Disk is degraded or not fully synchronized on"
                                     " target node, aborting migration")
        if (self.current_mem is not None and self.target_free_mem is not None
                and self.current_mem > self.target_free_mem):
            if not self.op.allow_runtime_changes:
                raise errors.OpExecError(
                    "Memory ballooning not allowed and not enough free memory to fit"
                    " instance %s on target node %s (have %dMB, need %dMB)"
                    % (inst.name, self.target_node, self.target_free_mem,
                       self.current_mem))
            self.log_step("setting instance memory to %s" % self.target_free_mem)
            res = self.rpc.call_instance_balloon_memory(
                self.source_node, self._node_instance(), self.target_free_mem)
            res.raise_on_failure("Cannot modify instance runtime memory")
        res = self.rpc.call_migration_info(self.source_node, self._node_instance())
        if res.fail_msg:
            msg = ("Failed fetching source migration information from %s: %s"
                   % (self.source_node, res.fail_msg))
            logging.error(msg)
            raise errors.OpExecError(msg)
        self.migration_info = res.data
        self._close_disks(self.target_node)
        if self._is_drbd():
            # both halves primary while the memory moves: dual-master
            self._go_standalone()
            self._go_reconnect(True)
            self._wait_until_sync()
        self._open_disks(self.source_node, False)
        self._open_disks(self.target_node, False)
        target_ip = self._node_ip(self.target_node)
        self.log_step("preparing %s to accept the instance" % self.target_node)
        res = self.rpc.call_accept_instance(self.target_node, self._node_instance(),
                                            self.migration_info, target_ip)
        if res.fail_msg:
            logging.error("Instance pre-migration failed, trying to revert disk"
                          " status: %s", res.fail_msg)
            self.feedback_fn("Pre-migration failed, aborting")
            self._abort_migration()
            self._revert_disk_status()
            raise errors.OpExecError("Could not pre-migrate instance %s: %s"
                                     % (inst.name, res.fail_msg))
        self.log_step("migrating instance to %s" % self.target_node)
        res = self.rpc.call_instance_migrate(self.source_node,
                                             self.cfg.get_cluster_name(),
                                             self._node_instance(), target_ip,
                                             self.live)
        if res.fail_msg:
            self._fail_migration(res.fail_msg)
        self._wait_transfer()
        self._finalize()
        self._close_disks(self.source_node)
        if self._is_drbd():
            self._wait_until_sync()
            self._go_standalone()
            self._go_reconnect(False)
            self._wait_until_sync()
        elif _all_of(self.instance, constants.DTS_EXT_MIRROR):
            self._open_disks(self.target_node, True)
        self._unmap_disks(self.source_node, False)
        self.log_step("done")
        return None

    def _wait_transfer(self):
        self.log_step("starting memory transfer")
        last_feedback = time.monotonic()
        while True:
            res = self.rpc.call_instance_get_migration_status(self.source_node,
                                                              self._node_instance())
            status = (res.data or {}) if not res.fail_msg else {}
            state = status.get("status")
            if res.fail_msg or state in hv_base.MIGRATION_FAILED:
                self._fail_migration(res.fail_msg or status.get("error")
                                     or "hypervisor returned failure")
            if state not in hv_base.MIGRATION_ACTIVE:
                self.log_step("memory transfer complete")
                return
            done, total = status.get("transferred_ram"), status.get("total_ram")
            if (time.monotonic() - last_feedback >= MIGRATION_FEEDBACK_INTERVAL
                    and done is not None and total):
                self.log_step("memory transfer progress: %.2f %%"
                              % (100.0 * done / total))
                last_feedback = time.monotonic()
            time.sleep(MIGRATION_POLL_INTERVAL)

    def _finalize(self):
        node_inst = self._node_instance()
        res_src = self.rpc.call_instance_finalize_migration_src(
            self.source_node, node_inst, True, self.live)
        res_dst = self.rpc.call_instance_finalize_migration_dst(
            self.target_node, node_inst, self.migration_info, True)
        errs = ["%s: %s" % (node, res.fail_msg)
                for node, res in ((self.source_node, res_src),
                                  (self.target_node, res_dst)) if res.fail_msg]
        if errs:
            raise errors.OpExecError("Could not finalize instance migration: %s"
                                     % " ".join(errs))
        # only now: if a finalize failed, the config still names the node to clean up
        self._set_primary(self.target_node)

    # ---- cleanup after a failed migration ---------------------------------------------------

    def _find_locations(self):
        self.log_step("checking where the instance actually runs (if this hangs, the"
                      " hypervisor might be in a bad state)")
        cluster = self.cfg.get_cluster_info()
        nodes = self.cfg.get_online_node_list()
        hv_name = self.instance.hypervisor
        results = self.rpc.call_instance_list(nodes, [hv_name],
                                              {hv_name: cluster.hvparams.get(hv_name,
                                                                             {})})
        found = []
        for node in nodes:
            res = results[node]
            res.raise_on_failure("Can't contact node %s" % node)
            if self.instance.name in (res.data or []):
                found.append(node)
        self.feedback_fn("* instance running on: %s" % ",".join(found))
        return found

    def _exec_cleanup(self):
        inst = self.instance
        where = self._find_locations()
        on_source = self.source_node in where
        on_target = self.target_node in where
        if on_source and on_target:
            self.feedback_fn("Trying to cleanup after failed migration")
            res = self.rpc.call_migration_info(self.source_node, self._node_instance())
            if res.fail_msg:
                raise errors.OpExecError("Failed fetching source migration information"
                                         " from %s: %s" % (self.source_node,
                                                           res.fail_msg))
            self.migration_info = res.data
            self._abort_migration()
            where = self._find_locations()
            on_source = self.source_node in where
            on_target = self.target_node in where
        if on_source and on_target:
            raise errors.OpExecError("Instance seems to be running on two nodes, or the"
                                     " hypervisor is confused; you will have to ensure"
                                     " manually that it runs only on one and restart"
                                     " this operation")
        if not (on_source or on_target):
            if len(where) == 1:
                self.target_node = where[0]
                self.feedback_fn("* instance running on unexpected node (%s), updating"
                                 " as the new secondary" % self.target_node)
                on_target = True
            else:
                raise errors.OpExecError("Instance does not seem to be running at all;"
                                         " in this case it's safer to repair by running"
                                         " 'gnt-instance stop' to ensure disk shutdown,"
                                         " and then restarting it")
        if on_target:
            self.feedback_fn("* instance running on secondary node (%s), updating config"
                             % self.target_node)
            self._set_primary(self.target_node)
            demoted = self.source_node
        else:
            self.feedback_fn("* instance confirmed to be running on its primary node"
                             " (%s)" % self.source_node)
            demoted = self.target_node
        self._close_disks(demoted)
        if self._is_drbd():
            try:
                self._wait_until_sync()
            except errors.OpExecError:
                pass            # a standalone disk cannot sync: reconnecting fixes it
            self._go_standalone()
            self._go_reconnect(False)
            self._wait_until_sync()
        elif _all_of(self.instance, constants.DTS_EXT_MIRROR):
            self._open_disks(self.instance.primary_node, True)
        self.log_step("done")
        return None


class LUInstanceFailover(_MoveInstanceLU):
    """Stop the instance, make the target its primary, start it there (a
    forthcoming instance: only the configuration changes)."""
    HPATH = "instance-failover"
    FAILOVER = True
    ALLOW_FORTHCOMING = True

    def build_hooks_env(self):
        env = self._hook_env({
            "IGNORE_CONSISTENCY": self.op.ignore_consistency,
            "SHUTDOWN_TIMEOUT": self.op.shutdown_timeout,
            "FAILOVER_CLEANUP": self.op.cleanup,
        })
        env.update(self._move_env())
        return env

    def build_hooks_nodes(self):
        inst = self.instance
        nodes = list(dict.fromkeys([self.cfg.get_master_node()] + inst.secondary_nodes
                                   + [self.target_node]))
        return nodes, list(dict.fromkeys(nodes + [inst.primary_node]))


class LUInstanceMigrate(_MoveInstanceLU):
    """Move the running instance to the target without stopping it."""
    HPATH = "instance-migrate"

    def build_hooks_env(self):
        env = self._hook_env({
            "MIGRATE_LIVE": self.live,
            "MIGRATE_CLEANUP": self.op.cleanup,
            "ALLOW_RUNTIME_CHANGES": self.op.allow_runtime_changes,
        })
        env.update(self._move_env())
        return env

    def build_hooks_nodes(self):
        inst = self.instance
        nodes = list(dict.fromkeys([self.cfg.get_master_node(), inst.primary_node]
                                   + inst.secondary_nodes + [self.target_node]))
        return nodes, nodes
