"""gnt-network: IPv4 networks, their address pools and their connections to
node groups (cmdlib/network.py does the work).

The options, usage texts and output are Ganeti 3.0.2's.
"""

import textwrap

from ganeti import cli, constants, errors
from ganeti.client import tags

_LIST_DEF_FIELDS = ["name", "network", "gateway", "mac_prefix", "group_list", "tags"]
_INFO_FIELDS = ["name", "network", "gateway", "network6", "gateway6", "mac_prefix",
                "free_count", "reserved_count", "map", "group_list", "inst_list",
                "external_reservations", "serial_no", "uuid"]


def _ip_list(value):
    """A comma-separated address list (None: not given; "": an empty list)."""
    if value is None:
        return None
    return [ip.strip() for ip in value.split(",") if ip.strip()]


def add_network(opts, args):
    from ganeti import opcodes
    if opts.network is None:
        raise errors.OpPrereqError("The --network option must be given", errors.ECODE_INVAL)
    op = opcodes.OpNetworkAdd(
        network_name=args[0], network=opts.network, gateway=opts.gateway,
        network6=opts.network6, gateway6=opts.gateway6, mac_prefix=opts.mac_prefix,
        add_reserved_ips=_ip_list(opts.add_reserved_ips),
        conflicts_check=opts.conflicts_check,
        tags=opts.tags.split(",") if opts.tags is not None else [])
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def _groups(cl, names):
    """The groups named, or (none named) every group's UUID."""
    if names:
        return list(names)
    result = cl.query("group", ["uuid"], None)
    return [row[0][1] for row in result["data"]]


def connect_network(opts, args):
    """Connect the network to each group (all if none named), one job each."""
    from ganeti import opcodes, paramtypes
    params = dict(constants.NICC_DEFAULTS)
    params.update(paramtypes.enforce_types(opts.nicparams or {}, constants.NICC_DEFAULTS,
                                           "NIC"))
    cl = cli.get_client()
    for group in _groups(cl, args[1:]):
        op = opcodes.OpNetworkConnect(
            group_name=group, network_name=args[0],
            network_mode=params[constants.NIC_MODE],
            network_link=params[constants.NIC_LINK],
            network_vlan=params[constants.NIC_VLAN], conflicts_check=opts.conflicts_check)
        cli.submit_op_code(op, cl=cl, opts=opts)
    return constants.EXIT_SUCCESS


def disconnect_network(opts, args):
    """Disconnect the network from each group (all if none named), one job each."""
    from ganeti import opcodes
    cl = cli.get_client()
    for group in _groups(cl, args[1:]):
        cli.submit_op_code(opcodes.OpNetworkDisconnect(group_name=group,
                                                       network_name=args[0]),
                           cl=cl, opts=opts)
    return constants.EXIT_SUCCESS


def _group_list(value):
    return ", ".join("%s (%s, %s, %s)" % tuple(entry) for entry in value)


def list_networks(opts, args):
    fields = cli.parse_fields(opts.output, _LIST_DEF_FIELDS)
    override = {"group_list": (_group_list, False),
                "inst_list": (",".join, False), "tags": (",".join, False)}
    return cli.generic_list("network", fields, args, None, opts.separator,
                            not opts.no_headers, format_override=override,
                            verbose=opts.verbose)


def list_fields(opts, args):
    """Name, kind, title and description of the network fields."""
    return cli.generic_list_fields("network", args, opts.separator, not opts.no_headers)


def _addresses_of(cl, names, net_uuid):
    """{instance: "idx:ip, ..."} of the instances' NICs in the network."""
    if not names:
        return {}
    qfilter = ["|"] + [["=", "name", name] for name in names]
    result = cl.query("instance", ["name", "nic.ips", "nic.networks"], qfilter)
    found = {}
    for (_, name), (_, ips), (_, nets) in result["data"]:
        found[name] = ", ".join("%d:%s" % (idx, ip)
                                for idx, (ip, net) in enumerate(zip(ips, nets))
                                if net == net_uuid)
    return found


def show_network_info(opts, args):
    """Everything about the networks named (by name or UUID; all if none)."""
    cl = cli.get_client()
    qfilter = None
    if args:
        qfilter = ["|"] + [["=", field, name] for name in args for field in ("name", "uuid")]
    result = cl.query("network", _INFO_FIELDS, qfilter)
    out = cli.to_stdout
    for row in result["data"]:
        (name, network, gateway, network6, gateway6, mac_prefix, free, reserved,
         usage, groups, instances, external, serial, uuid) = [value for _, value in row]
        size = free + reserved
        out("Network name: %s" % name)
        out("UUID: %s" % uuid)
        out("Serial number: %d" % serial)
        out("  Subnet: %s" % network)
        out("  Gateway: %s" % gateway)
        out("  IPv6 Subnet: %s" % network6)
        out("  IPv6 Gateway: %s" % gateway6)
        out("  Mac Prefix: %s" % mac_prefix)
        out("  Size: %d" % size)
        out("  Free: %d (%.2f%%)" % (free, 100.0 * free / size))
        out("  Usage map:")
        for idx in range(0, len(usage), 64):
            out("     %s %s %d" % (str(idx).rjust(4), usage[idx:idx + 64].ljust(64),
                                   idx + 63))
        out("         (X) used    (.) free")
        if external:
            out("  externally reserved IPs:")
            for line in textwrap.wrap(external, width=64):
                out("    %s" % line)
        if groups:
            out("  connected to node groups:")
            for group, mode, link, vlan in groups:
                out("    %s (mode:%s link:%s vlan:%s)" % (group, mode, link, vlan))
        else:
            out("  not connected to any node group")
        if instances:
            out("  used by %d instances:" % len(instances))
            addresses = _addresses_of(cl, instances, uuid)
            for inst in instances:
                out("    %s: %s" % (inst, addresses.get(inst, "")))
        else:
            out("  not used by any instances")
    return constants.EXIT_SUCCESS


def modify_network(opts, args):
    from ganeti import opcodes
    changes = {"gateway": opts.gateway,
               "add_reserved_ips": _ip_list(opts.add_reserved_ips),
               "remove_reserved_ips": _ip_list(opts.remove_reserved_ips),
               "mac_prefix": opts.mac_prefix, "gateway6": opts.gateway6,
               "network6": opts.network6}
    if all(value is None for value in changes.values()):
        cli.to_stderr("Please give at least one of the parameters.")
        return constants.EXIT_FAILURE
    cli.submit_or_send(opcodes.OpNetworkSetParams(network_name=args[0], **changes), opts)
    return constants.EXIT_SUCCESS


def remove_network(opts, args):
    from ganeti import opcodes
    cli.submit_or_send(opcodes.OpNetworkRemove(network_name=args[0], force=opts.force),
                       opts)
    return constants.EXIT_SUCCESS


# ---- the command table -------------------------------------------------------------------

_NETWORK_OPT = cli.cli_option("--network", dest="network", default=None,
                              help="IP network in CIDR notation")
_GATEWAY_OPT = cli.cli_option("--gateway", dest="gateway", default=None,
                              help="IP address of the router (gateway)")
_ADD_RESERVED_OPT = cli.cli_option("--add-reserved-ips", dest="add_reserved_ips",
                                   default=None,
                                   help="Comma-separated list of reserved IPs to add")
_REMOVE_RESERVED_OPT = cli.cli_option("--remove-reserved-ips", dest="remove_reserved_ips",
                                      default=None,
                                      help="Comma-delimited list of reserved IPs to remove")
_MAC_PREFIX_OPT = cli.cli_option("-m", "--mac-prefix", dest="mac_prefix", default=None,
                                 metavar="PREFIX",
                                 help="Specify the mac prefix for the instance IP"
                                 " addresses, in the format XX:XX:XX")
_NETWORK6_OPT = cli.cli_option("--network6", dest="network6", default=None,
                               help="IP network in CIDR notation")
_GATEWAY6_OPT = cli.cli_option("--gateway6", dest="gateway6", default=None,
                               help="IP6 address of the router (gateway)")
_NOCONFLICTSCHECK_OPT = cli.cli_option("--no-conflicts-check", dest="conflicts_check",
                                       action="store_false", default=True,
                                       help="Don't check for conflicting IPs")
_TAGS_OPT = cli.cli_option("--tags", dest="tags", default=None,
                           help="Comma-separated list of instance tags")
_NICPARAMS_OPT = cli.keyval_option("-N", "--nic-parameters", dest="nicparams",
                                   help="NIC parameters")
_ONE_NETWORK = [cli.ArgSpec("<network>", 1, 1)]
_MANY_NETWORKS = [cli.ArgSpec("<network>")]
_NETWORK_AND_GROUPS = _ONE_NETWORK + [cli.ArgSpec("<group>")]

COMMANDS = {
    "add": (add_network, _ONE_NETWORK, [
        cli.DRY_RUN_OPT, _NETWORK_OPT, _GATEWAY_OPT, _ADD_RESERVED_OPT, _MAC_PREFIX_OPT,
        _NETWORK6_OPT, _GATEWAY6_OPT, _NOCONFLICTSCHECK_OPT, _TAGS_OPT,
        cli.PRIORITY_OPT] + cli.SUBMIT_OPTS,
        "<network-name>", "Add a new IP network to the cluster"),
    "list": (list_networks, _MANY_NETWORKS, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.FIELDS_OPT, cli.VERBOSE_OPT],
        "[<network-name>...]",
        "Lists the IP networks in the cluster. The available fields can be shown using"
        " the \"list-fields\" command (see the man page for details). The default list"
        " is (in order): %s." % ", ".join(_LIST_DEF_FIELDS)),
    "list-fields": (list_fields, [cli.ArgSpec("<fields>")], [cli.NOHDR_OPT, cli.SEP_OPT],
                    "[<fields>...]", "Lists all available fields for networks"),
    "info": (show_network_info, _MANY_NETWORKS, [], "[<network>...]",
             "Show information about the network(s)"),
    "modify": (modify_network, _ONE_NETWORK, [cli.DRY_RUN_OPT] + cli.SUBMIT_OPTS + [
        _ADD_RESERVED_OPT, _REMOVE_RESERVED_OPT, _GATEWAY_OPT, _MAC_PREFIX_OPT,
        _NETWORK6_OPT, _GATEWAY6_OPT, cli.PRIORITY_OPT],
        "<network>", "Alters the parameters of a network"),
    "connect": (connect_network, _NETWORK_AND_GROUPS, [
        _NOCONFLICTSCHECK_OPT, cli.PRIORITY_OPT, _NICPARAMS_OPT],
        "<network> [<group>...]",
        "Map a given network to the specified node group with given mode and link"
        " (netparams)"),
    "disconnect": (disconnect_network, _NETWORK_AND_GROUPS, [cli.PRIORITY_OPT],
                   "<network> [<group>...]",
                   "Unmap a given network from a specified node group"),
    "remove": (remove_network, _ONE_NETWORK, [
        cli.FORCE_OPT, cli.DRY_RUN_OPT] + cli.SUBMIT_OPTS + [cli.PRIORITY_OPT],
        "[--dry-run] <network>", "Remove an (empty) network from the cluster"),
}
COMMANDS.update(tags.commands(constants.TAG_NETWORK))


def main():
    return cli.generic_main(COMMANDS)
