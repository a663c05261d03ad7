"""Checks behind the flags of instance create/modify that are not parameters of the
instance itself: conflicts_check, hotplug, group_name, opportunistic_locking
(doc/os-parameters.rst says what each does)."""

from ganeti import errors


def check_ip_conflicts(cfg, instance) -> None:
    """conflicts_check: refuse an IP address of a NIC without network that such
    a NIC of another instance has (the addresses of networks are their pools':
    cmdlib/instance_nics.py checks those, and that the others are outside the
    networks of the node's group)."""
    mine = dict((nic.ip, idx) for idx, nic in enumerate(instance.nics)
                if nic.ip and not nic.network)
    if not mine:
        return
    for other in cfg.get_all_instances_info().values():
        if other.name == instance.name:
            continue
        for nic in other.nics:
            if nic.ip in mine and not nic.network:
                raise errors.OpPrereqError(
                    "The IP address %s of NIC %d is already in use by instance %s"
                    " (use --no-conflicts-check to allow it)"
                    % (nic.ip, mine[nic.ip], other.name), errors.ECODE_NOTUNIQUE)


def check_hotplug(lu, instance, hotplug: bool, if_possible: bool) -> bool:
    """Whether changes are hotplugged: never here. ``hotplug`` is refused (no
    hypervisor supports it yet); ``if_possible`` goes on without it, as Ganeti
    does when hotplug is not supported."""
    if not (hotplug or if_possible):
        return False
    reason = "Hotplug is not supported by the %s hypervisor" % instance.hypervisor
    if hotplug:
        raise errors.OpPrereqError("Hotplug is not possible: %s" % reason,
                                   errors.ECODE_STATE)
    lu.log_warning(reason)
    lu.log_info("Modification will take place without hotplugging.")
    return False


def check_opportunistic_locking(op) -> None:
    """Only meaningful when an iallocator chooses among free nodes (Ganeti's
    rule); taking only the free nodes' locks is not implemented: refused."""
    if op.opportunistic_locking and not op.iallocator:
        raise errors.OpPrereqError("Opportunistic locking is only available in"
                                   " combination with an instance allocator",
                                   errors.ECODE_INVAL)
    if op.opportunistic_locking:
        raise errors.OpPrereqError("Opportunistic locking is not supported yet: the"
                                   " allocator chooses among all nodes, whose locks"
                                   " the job waits for; leave out"
                                   " --opportunistic-locking", errors.ECODE_INVAL)


def check_node_in_group(cfg, node, group_name) -> None:
    """group_name: the group must exist and hold the primary node."""
    if group_name is None:
        return
    group_uuid = cfg.lookup_node_group(group_name)
    if node.group != group_uuid:
        raise errors.OpPrereqError("Node %s is not in node group %s"
                                   % (node.name, group_name), errors.ECODE_INVAL)
