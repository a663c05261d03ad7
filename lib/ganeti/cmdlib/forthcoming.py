"""Forthcoming instances: reservations (gnt-instance add --forthcoming, --commit).

A forthcoming instance is in the configuration only: its name, nodes, disks
(marked forthcoming too), NICs with their MACs and pool addresses, DRBD
minors and ports are taken, and it counts wherever the configuration's
instances count (a node's instances, the allocator's input), but nothing of
it exists on its nodes and it cannot run. ``add --commit`` with the same
command line creates it for real and keeps what was reserved. As in Ganeti,
most operations refuse it; remove, rename, failover and replace-disks change
its configuration only. Messages are Ganeti's.
"""

from ganeti import constants, errors
from ganeti.utils import text

# Ganeti's refusal (it has no error code)
NOT_SUPPORTED = "forthcoming instances not supported for this operation"
# what leaves a NIC's MAC to the cluster (as instance create reads it)
_AUTO_MACS = (None, "", constants.VALUE_AUTO, constants.VALUE_GENERATE)


def refuse(cfg, name):
    """OpPrereqError if instance ``name`` (a full name) is only reserved."""
    inst = cfg.get_instance_info(name)
    if inst is not None and inst.forthcoming:
        raise errors.OpPrereqError(NOT_SUPPORTED)


def mark_disks(disks, value):
    """Set the forthcoming flag of ``disks`` and their children."""
    for disk in disks:
        disk.forthcoming = value
        mark_disks(disk.children or [], value)


def check_arguments(op, importing):
    """The flags of an instance creation: one of them, and not on an import."""
    if op.forthcoming and op.commit:
        raise errors.OpPrereqError("Forthcoming generation and commiting are mutually"
                                   " exclusive", errors.ECODE_INVAL)
    if importing and (op.forthcoming or op.commit):
        raise errors.OpPrereqError("forthcoming instances can only be created, not"
                                   " imported", errors.ECODE_INVAL)


def reserved_instance(cfg, name):
    """The forthcoming instance ``--commit`` names (a short name expands)."""
    full = text.match_name_component(name, cfg.get_instance_list())
    inst = cfg.get_instance_info(full) if full else None
    if inst is None:
        raise errors.OpPrereqError("Instance %s unknown" % name, errors.ECODE_INVAL)
    if not inst.forthcoming:
        raise errors.OpPrereqError("Instance %s (with uuid %s) not forthcoming but"
                                   " --commit was passed." % (inst.name, inst.uuid),
                                   errors.ECODE_STATE)
    return inst


def check_nodes_given(cfg, reserved, pnode, snode):
    """Nodes named on a commit must be the reservation's (it keeps them)."""
    from ganeti.cmdlib.base import expand_node_name
    given = [expand_node_name(cfg, n) for n in (pnode, snode) if n]
    wanted = reserved.all_nodes[:len(given)]
    if given and given != wanted:
        raise errors.OpPrereqError("Instance %s is reserved on node(s) %s, not on %s"
                                   % (reserved.name, ", ".join(wanted),
                                      ", ".join(given)), errors.ECODE_INVAL)


def still_reserved(cfg, name, locked_nodes):
    """The reservation again, under its lock: still there, still forthcoming,
    still on the nodes whose locks the commit holds."""
    inst = cfg.get_instance_info(name)
    if inst is None:
        raise errors.OpPrereqError("Instance %s disappeared from the cluster while"
                                   " waiting for locks" % name, errors.ECODE_STATE)
    if not inst.forthcoming:
        raise errors.OpPrereqError("Instance %s (with uuid %s) is no longer forthcoming"
                                   % (name, inst.uuid), errors.ECODE_STATE)
    if set(inst.all_nodes) - set(locked_nodes):
        raise errors.OpPrereqError("Forthcoming instance %s nodes changed since locks"
                                   " were acquired; retry the operation" % name,
                                   errors.ECODE_STATE)
    return inst


def check_same_disks(reserved, template, disk_specs):
    """A commit creates the reserved disks: the command line must name them."""
    sizes = [spec["size"] for spec in disk_specs]
    have = [disk.size for disk in reserved.disks]
    if template != reserved.disk_template or sizes != have:
        raise errors.OpPrereqError(
            "The disks given (%s: %s) are not those reserved for instance %s (%s: %s)"
            % (template, _sizes(sizes), reserved.name, reserved.disk_template,
               _sizes(have)), errors.ECODE_INVAL)


def _sizes(sizes):
    return ", ".join("%d MiB" % size for size in sizes) or "no disks"


def nic_specs(cfg, specs, reserved):
    """The NIC specs of a commit: a MAC left to generate and an address left to
    the pool are the reserved NIC's (same index; for the pool, same network)."""
    from ganeti.cmdlib.instance_utils import NIC_IP_POOL
    result = []
    for idx, spec in enumerate(specs):
        spec = dict(spec)
        if idx < len(reserved.nics):
            nic = reserved.nics[idx]
            if spec.get("mac") in _AUTO_MACS:
                spec["mac"] = nic.mac
            net = cfg.get_network(nic.network) if nic.network else None
            if str(spec.get("ip")).lower() == NIC_IP_POOL and nic.ip and net \
                    and spec.get("network") in (net.uuid, net.name):
                spec["ip"] = nic.ip
        result.append(spec)
    return result


def held_addresses(reserved):
    """{(network, address)} of the reservation's NICs: its pool holds them."""
    return set((nic.network, nic.ip) for nic in reserved.nics if nic.network and nic.ip)


def take_place(instance, reserved):
    """Make ``instance`` the replacement of ``reserved``: its identity, its
    reserved disks, no longer forthcoming."""
    instance.uuid, instance.ctime = reserved.uuid, reserved.ctime
    instance.serial_no = reserved.serial_no
    instance.disks = [disk.copy() for disk in reserved.disks]
    mark_disks(instance.disks, False)
    instance.forthcoming = False


def restore(cfg, reserved):
    """Put the reservation back after a failed commit (if the config had
    already taken the real instance)."""
    current = cfg.get_instance_info(reserved.name)
    if current is None or current.forthcoming:
        return
    back = reserved.copy()
    back.serial_no = current.serial_no
    cfg.update(back)
