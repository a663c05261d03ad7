"""Logical units that start, stop, reboot instances, and their disks and console."""

from ganeti import constants, errors, locking, paramtypes
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib import forthcoming, os_params, shutdown_wait
from ganeti.cmdlib.disk_sync import wait_for_sync
from ganeti.cmdlib.instance_utils import InstanceLU
from ganeti.cmdlib.base import NoHooksLU
from ganeti.hypervisor import get_hypervisor_class


_ADMIN_SOURCE = "admin"
_USER_SOURCE = "user"


def _shut_down_from_inside(lu, inst) -> bool:
    """Whether the primary node holds ``inst`` as a guest powered off from
    inside (user shutdown: for KVM a stopped qemu kept by -no-shutdown)."""
    from ganeti.cmdlib import instance_query as iq
    cluster = lu.cfg.get_cluster_info()
    # instance_info counts such a guest as down; the full list has its state
    res = lu.rpc.call_all_instances_info([inst.primary_node], [inst.hypervisor],
                                         {inst.hypervisor: cluster.fill_hv(inst)})
    res = res[inst.primary_node]
    res.raise_on_failure("Error checking instance '%s'" % inst.name, prereq=True)
    info = (res.data or {}).get(inst.name)
    return bool(iq.is_shut_down_from_inside(info) and iq.hv_reports_user_down(cluster, inst))


class LUInstanceStartup(InstanceLU):
    HPATH = "instance-start"

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        inst = self.instance
        if inst.admin_state == constants.ADMINST_OFFLINE:
            raise errors.OpPrereqError("Instance %s is marked offline; bring it online"
                                       " first (gnt-instance modify --online)" % inst.name,
                                       errors.ECODE_STATE)
        self.primary_offline = self._primary_offline()
        if self.primary_offline:
            if not self.op.ignore_offline_nodes:
                raise errors.OpPrereqError("Primary node %s of instance %s is offline"
                                           % (inst.primary_node, inst.name),
                                           errors.ECODE_STATE)
            return
        if self.op.hvparams:
            # a name no hypervisor knows: Ganeti's type error ("Parameter Error")
            paramtypes.refuse_unknown(self.op.hvparams, paramtypes.HV_ALL_DEFAULTS)
            self.op.hvparams = iu.typed_hvparams(inst.hypervisor, self.op.hvparams)
        if self.op.beparams:
            self.op.beparams = iu.typed_beparams(self.op.beparams)
            # the temporary values must make a runnable instance too
            iu.check_be_values(dict(self.cfg.get_cluster_info().fill_be(inst),
                                    **self.op.beparams))
        res = self.rpc.call_instance_info(inst.primary_node, inst.name, inst.hypervisor,
                                          self.cfg.get_cluster_info().fill_hv(inst))
        res.raise_on_failure("Cannot check the state of instance %s" % inst.name,
                             prereq=True)
        self.already_running = bool(res.data)
        # a guest powered off from inside is stopped first, within
        # shutdown_timeout, before it starts afresh (Ganeti's cleanup)
        self.requires_cleanup = (not self.already_running
                                 and _shut_down_from_inside(self, inst))
        if not self.already_running:
            iu.check_bridges(self, inst, inst.primary_node)
            be = self.cfg.get_cluster_info().fill_be(inst)
            be.update(self.op.beparams or {})
            iu.check_node_free_memory(self, inst.primary_node, "starting instance %s"
                                      % inst.name, be[constants.BE_MAXMEM],
                                      inst.hypervisor)

    def build_hooks_env(self):
        return self._hook_env({"FORCE": self.op.force})

    def exec(self, feedback_fn):
        inst = self.instance
        if not self.op.no_remember:
            self._set_admin_state(constants.ADMINST_UP)
            inst = self.instance
        if self.primary_offline:
            feedback_fn("Primary node offline, marked instance as started")
            return None
        if self.already_running:
            return None             # silently, as Ganeti's node daemon does
        if self.requires_cleanup:
            node_inst = iu.instance_for_node(self.cfg, inst)
            res = shutdown_wait.call_with_progress(
                self, inst.name, self.op.shutdown_timeout,
                lambda: self.rpc.call_instance_shutdown(inst.primary_node, node_inst,
                                                        self.op.shutdown_timeout, None))
            res.raise_on_failure("Could not shutdown instance '%s'" % inst.name)
            iu.shutdown_disks(self, inst, ignore_failures=True)
        iu.assemble_disks(self, inst)
        node_inst = self._node_instance(inst)
        node_inst["hvparams"].update(self.op.hvparams or {})
        node_inst["beparams"].update(self.op.beparams or {})
        res = self.rpc.call_instance_start(inst.primary_node, node_inst,
                                           self.op.startup_paused, None)
        if res.fail_msg:
            iu.shutdown_disks(self, inst, ignore_failures=True)
            raise errors.OpExecError("Could not start instance: %s" % res.fail_msg)
        return None


class LUInstanceShutdown(InstanceLU):
    HPATH = "instance-stop"

    def check_arguments(self):
        # admin_state_source: who stopped it, the admin (default) or the user from
        # inside the guest (then the guest must really be shut down; Ganeti's rule)
        if self.op.no_remember and self.op.admin_state_source is not None:
            self.log_warning("Parameter 'admin_state_source' has no effect if used with"
                             " parameter 'no_remember'")
        if self.op.admin_state_source is None:
            self.op.admin_state_source = _ADMIN_SOURCE
        if self.op.admin_state_source not in (_ADMIN_SOURCE, _USER_SOURCE):
            raise errors.OpPrereqError("Invalid admin_state_source '%s' (use %s or %s)"
                                       % (self.op.admin_state_source, _ADMIN_SOURCE,
                                          _USER_SOURCE), errors.ECODE_INVAL)

    def _check_user_down(self):
        if not _shut_down_from_inside(self, self.instance):
            raise errors.OpPrereqError("Instance '%s' was not shutdown by the user"
                                       % self.instance.name, errors.ECODE_STATE)

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        # --force: also shut down an instance marked offline (Ganeti's rule)
        if self.op.force:
            self.log_warning("Ignoring offline instance check")
        elif self.instance.admin_state == constants.ADMINST_OFFLINE:
            raise errors.OpPrereqError("Instance '%s' is marked to be offline, can't use"
                                       " instance from outside down, up states"
                                       % self.instance.name, errors.ECODE_STATE)
        self.primary_offline = self._primary_offline()
        if self.primary_offline and not self.op.ignore_offline_nodes:
            raise errors.OpPrereqError("Primary node %s of instance %s is offline"
                                       % (self.instance.primary_node, self.instance.name),
                                       errors.ECODE_STATE)
        if self.op.admin_state_source == _USER_SOURCE:
            self._check_user_down()

    def build_hooks_env(self):
        return self._hook_env({"TIMEOUT": self.op.timeout})

    def exec(self, feedback_fn):
        inst = self.instance
        # marking an offline instance down would drop its offline flag
        if not self.op.no_remember and inst.admin_state != constants.ADMINST_OFFLINE:
            self._set_admin_state(constants.ADMINST_DOWN, self.op.admin_state_source)
        if self.primary_offline:
            feedback_fn("Primary node offline, marked instance as stopped")
            return None
        node_inst = self._node_instance(inst)
        res = shutdown_wait.call_with_progress(
            self, inst.name, self.op.timeout,
            lambda: self.rpc.call_instance_shutdown(inst.primary_node, node_inst,
                                                    self.op.timeout, None))
        if res.fail_msg:
            self.log_warning("Could not shutdown instance: %s", res.fail_msg)
        iu.shutdown_disks(self, inst, ignore_failures=True)
        return None


class LUInstanceReboot(InstanceLU):
    HPATH = "instance-reboot"

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        if self._primary_offline():
            raise errors.OpPrereqError("Primary node %s of instance %s is offline"
                                       % (self.instance.primary_node, self.instance.name),
                                       errors.ECODE_STATE)
        # an instance marked down is started (and marked up), as Ganeti's
        if self.instance.admin_state == constants.ADMINST_OFFLINE:
            raise errors.OpPrereqError("Instance '%s' is marked to be offline, can't use"
                                       " instance from outside down, up states"
                                       % self.instance.name, errors.ECODE_STATE)

    def build_hooks_env(self):
        return self._hook_env({"IGNORE_SECONDARIES": self.op.ignore_secondaries,
                               "REBOOT_TYPE": self.op.reboot_type,
                               "SHUTDOWN_TIMEOUT": self.op.shutdown_timeout})

    def exec(self, feedback_fn):
        inst = self.instance
        node = inst.primary_node
        res = self.rpc.call_instance_info(node, inst.name, inst.hypervisor,
                                          self.cfg.get_cluster_info().fill_hv(inst))
        res.raise_on_failure("Cannot check the state of instance %s" % inst.name)
        running = bool(res.data)
        node_inst = self._node_instance()
        # a hard reboot is a clean shutdown (with its wait) and a start on the node
        wait = self.op.shutdown_timeout if self.op.reboot_type != "soft" else 0
        if running and self.op.reboot_type in ("soft", "hard"):
            res = shutdown_wait.call_with_progress(
                self, inst.name, wait,
                lambda: self.rpc.call_instance_reboot(node, node_inst, self.op.reboot_type,
                                                      self.op.shutdown_timeout, None))
            res.raise_on_failure("Could not reboot instance %s" % inst.name)
            self._mark_up()
            return None
        if running:
            res = shutdown_wait.call_with_progress(
                self, inst.name, wait,
                lambda: self.rpc.call_instance_shutdown(node, node_inst,
                                                        self.op.shutdown_timeout, None))
            res.raise_on_failure("Could not shutdown instance %s for full reboot"
                                 % inst.name)
            iu.shutdown_disks(self, inst, ignore_failures=True)
        else:
            self.log_info("Instance %s was already stopped, starting now", inst.name)
        iu.assemble_disks(self, inst)
        res = self.rpc.call_instance_start(node, self._node_instance(), False, None)
        if res.fail_msg:
            iu.shutdown_disks(self, inst, ignore_failures=True)
            raise errors.OpExecError("Could not start instance for full reboot: %s"
                                     % res.fail_msg)
        self._mark_up()
        return None

    def _mark_up(self):
        if self.instance.admin_state != constants.ADMINST_UP:
            self._set_admin_state(constants.ADMINST_UP)


class LUInstanceActivateDisks(InstanceLU):
    HPATH = None
    HTYPE = None

    def exec(self, feedback_fn):
        info = iu.assemble_disks(self, self.instance, ignore_size=self.op.ignore_size)
        if self.op.wait_for_sync and not wait_for_sync(self, self.instance):
            # as Ganeti: recorded inactive, the devices left as they are
            iu.mark_disks_active(self, self.instance, False)
            raise errors.OpExecError("Some disks of the instance are degraded!")
        return [list(i) for i in info]


class LUInstanceDeactivateDisks(InstanceLU):
    HPATH = None
    HTYPE = None

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        if not self.op.force:
            iu.check_instance_stopped(self, self.instance, "cannot shutdown disks")

    def exec(self, feedback_fn):
        iu.shutdown_disks(self, self.instance, ignore_failures=self.op.force)
        return None


class LUInstanceConsole(NoHooksLU):
    """Describe how to reach the console of a running instance."""
    REQ_BGL = False

    def expand_names(self):
        self.instance_name = iu.expand_instance_name(self.cfg, self.op.instance_name)
        forthcoming.refuse(self.cfg, self.instance_name)
        self.needed_locks[locking.LEVEL_INSTANCE] = [self.instance_name]
        self.share_locks[locking.LEVEL_INSTANCE] = 1

    def check_prereq(self):
        self.instance = iu.get_instance(self.cfg, self.instance_name)

    def exec(self, feedback_fn):
        inst = self.instance
        cluster = self.cfg.get_cluster_info()
        node = inst.primary_node
        res = self.rpc.call_instance_info(node, inst.name, inst.hypervisor,
                                          cluster.fill_hv(inst))
        res.raise_on_failure("Cannot check instance %s on node %s" % (inst.name, node))
        if not res.data:
            if inst.admin_state == constants.ADMINST_UP:
                state = "ERROR_down"
            else:
                state = "ADMIN_down"
            raise errors.OpExecError("Instance %s is not running (state %s)"
                                     % (inst.name, state))
        hv_class = get_hypervisor_class(inst.hypervisor)
        group = self.cfg.get_node_group(self.cfg.get_node_info(node).group)
        return hv_class.get_instance_console(inst, node, group, cluster.fill_hv(inst),
                                             cluster.fill_be(inst))


class LUInstanceReinstall(InstanceLU):
    """Run the OS create script again (maybe another OS, with changed parameters)."""
    HPATH = "instance-reinstall"

    def check_arguments(self):
        self.os_secrets = os_params.secrets_of(self.op)

    def check_prereq(self):
        InstanceLU.check_prereq(self)
        from ganeti.cmdlib.operating_system import check_node_has_os
        inst = self.instance
        if not inst.disks:
            raise errors.OpPrereqError("Instance '%s' has no disks" % inst.name,
                                       errors.ECODE_INVAL)
        iu.check_instance_stopped(self, inst, "cannot reinstall")
        new = inst.copy()
        new.os = self.op.os_type or inst.os
        if not new.os:
            raise errors.OpPrereqError("Instance %s has no OS; give one with -o"
                                       % inst.name, errors.ECODE_INVAL)
        new.osparams = os_params.updated_params(inst.osparams, self.op.osparams)
        new.osparams_private = os_params.updated_params(inst.osparams_private,
                                                        self.op.osparams_private)
        # the parameters first: an OS missing on the node fails there, as in Ganeti
        os_params.check_os_params(
            self, True, inst.all_nodes, new.os,
            os_params.all_params(self.cfg.get_cluster_info(), new, self.os_secrets),
            self.op.force_variant)
        check_node_has_os(self, inst.primary_node, new.os, self.op.force_variant)
        self.new_instance = new

    def build_hooks_env(self):
        return self._hook_env({})

    def exec(self, feedback_fn):
        inst = self.cfg.get_instance_info(self.instance.name)
        new = self.new_instance
        if self.op.os_type is not None:
            feedback_fn("Changing OS scripts to '%s'..." % new.os)
        if (inst.os, inst.osparams, inst.osparams_private) != \
                (new.os, new.osparams, new.osparams_private):
            inst.os = new.os
            inst.osparams = new.osparams
            inst.osparams_private = new.osparams_private
            self.cfg.update(inst)
        iu.assemble_disks(self, inst)
        try:
            self.log_info("Running instance OS create scripts...")
            res = self.rpc.call_instance_os_add(
                inst.primary_node,
                os_params.instance_for_os_script(self.cfg, inst, self.os_secrets), True,
                self.op.debug_level)
            res.raise_on_failure("Could not install OS for instance %s on node %s"
                                 % (inst.name, inst.primary_node))
        finally:
            iu.shutdown_disks(self, inst, ignore_failures=True)
        return None
