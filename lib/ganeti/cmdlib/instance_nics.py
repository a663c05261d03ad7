"""NICs attached to networks (gnt-network), for instance create and modify.

A NIC that names a network takes its mode, link and VLAN from the
network's connection to the primary node's group, and its address from the
network's pool: "pool" picks the first free one, an address given must be
free. The job holds the address (config.reserve_ip) until the commit that
stores the instance takes it in the pool; a failed job lets go of it
(``release``). Messages are Ganeti's.
"""

from ganeti import constants, errors
from ganeti.cmdlib.instance_utils import NIC_IP_POOL


def _holder(lu):
    """Who holds the addresses a job picks: nobody in a dry run, which only checks."""
    return None if lu.op.dry_run else lu


def release(lu):
    """Let go of the addresses ``lu`` held and did not store."""
    lu.cfg.drop_ip_reservations(lu)


def requested_network(cfg, params, message):
    """The UUID of the network a NIC spec names (None: none); ``message`` is
    Ganeti's refusal of a mode or link given with a network."""
    name = params.get("network")
    if name is None or str(name).lower() == constants.VALUE_NONE:
        return None
    if params.get(constants.NIC_MODE) is not None or \
            params.get(constants.NIC_LINK) is not None:
        raise errors.OpPrereqError(message, errors.ECODE_INVAL)
    return cfg.lookup_network(name)


def mac_prefix(cfg, cluster, net_uuid):
    """The MAC prefix of new NICs of the network (its own, or the cluster's)."""
    net = cfg.get_network(net_uuid) if net_uuid else None
    return (net.mac_prefix if net and net.mac_prefix else None) or cluster.mac_prefix


def network_name(cfg, net_uuid):
    net = cfg.get_network(net_uuid) if net_uuid else None
    return net.name if net else net_uuid


def group_netparams(cfg, net_uuid, node, message):
    """The network's mode/link/vlan in the node's group; ``message`` (naming
    %(network)s and %(node)s) if it is not connected there."""
    params = cfg.get_group_netparams(net_uuid, node)
    if params is None:
        raise errors.OpPrereqError(message % {"network": network_name(cfg, net_uuid),
                                              "node": node}, errors.ECODE_INVAL)
    return params


def take_address(lu, net_uuid, ip, conflicts_check, create_idx=None):
    """The address a NIC of the network gets: "pool" picks a free one, another
    address must be free (with ``conflicts_check`` also not reserved
    externally). ``create_idx``: the NIC's index in an instance create, whose
    messages differ from a modify's."""
    cfg, name = lu.cfg, network_name(lu.cfg, net_uuid)
    if ip == NIC_IP_POOL:
        try:
            ip = cfg.generate_ip(net_uuid, _holder(lu))
        except errors.ReservationError:
            raise errors.OpPrereqError(
                "Unable to get a free IP%s from the address pool"
                % ("" if create_idx is None else " for NIC %d" % create_idx),
                errors.ECODE_STATE)
        lu.log_info("Chose IP %s from network %s", ip, name)
        return ip
    try:
        cfg.reserve_ip(net_uuid, ip, _holder(lu), check=conflicts_check)
    except errors.ReservationError:
        if create_idx is None:
            raise errors.OpPrereqError("IP %s not available in network %s" % (ip, name),
                                       errors.ECODE_NOTUNIQUE)
        raise errors.OpPrereqError("IP address %s already in use or does not belong to"
                                   " network %s" % (ip, name), errors.ECODE_NOTUNIQUE)
    if create_idx is None:
        lu.log_info("Reserving IP %s in network %s", ip, name)
    return ip


def check_outside_networks(cfg, ip, node):
    """An address of a NIC without network must not belong to a network
    connected to the node's group."""
    if ip is None or ip == NIC_IP_POOL:
        return
    name = cfg.network_of_ip_in_group(ip, node)
    if name is not None:
        raise errors.OpPrereqError("The requested IP address (%s) belongs to network %s,"
                                   " but the target NIC does not." % (ip, name),
                                   errors.ECODE_STATE)


def attach_create_nics(lu, nics, node, held=()):
    """Instance create: the NICs with a network inherit its parameters in the
    node's group and get their addresses; the others are checked against the
    group's networks. ``held``: the (network, address) pairs the instance has
    already (a forthcoming instance being committed)."""
    for idx, nic in enumerate(nics):
        if nic.network is None:
            if lu.op.conflicts_check:
                check_outside_networks(lu.cfg, nic.ip, node)
            continue
        params = group_netparams(lu.cfg, nic.network, node,
                                 "No netparams found for network %(network)s. Probably"
                                 " not connected to node's %(node)s nodegroup")
        lu.log_info("NIC/%d inherits netparams %s"
                    % (idx, [value for _, value in sorted(params.items())]))
        nic.nicparams = dict(params)
        if nic.ip is not None and (nic.network, nic.ip) not in held:
            nic.ip = take_address(lu, nic.network, nic.ip, lu.op.conflicts_check,
                                  create_idx=idx)
