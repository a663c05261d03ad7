"""gnt-node: list and inspect the cluster's nodes."""

import sys

from ganeti import cli, constants
from ganeti.client import infofmt

_LIST_DEF_FIELDS = ["name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt",
                    "sinst_cnt"]


def list_nodes(opts, args):
    """List nodes and their properties (default: Node DTotal DFree ...)."""
    fields = cli.parse_fields(opts.output, _LIST_DEF_FIELDS)
    return cli.generic_list("node", fields, args, opts.units, opts.separator,
                            not opts.no_headers, verbose=opts.verbose,
                            force_filter=opts.force_filter)


def list_fields(opts, args):
    return cli.generic_list_fields("node", args, opts.separator, not opts.no_headers)


def show_node_config(opts, args):
    """Print the configuration of the given nodes (all if none given)."""
    fields = ["name", "pip", "sip", "pinst_list", "sinst_list", "master_candidate",
              "drained", "offline", "master_capable", "vm_capable", "powered", "ndparams",
              "custom_ndparams", "group"]
    cl = cli.get_client()
    rows = cl.query_nodes(args, fields, False)
    lines = []
    for (name, pip, sip, pinst, sinst, is_mc, drained, offline, master_capable,
         vm_capable, powered, ndparams, custom_ndparams, group) in rows:
        lines.append("Node name: %s" % name)
        items = [
            ("primary ip", pip),
            ("secondary ip", sip),
            ("master candidate", is_mc),
            ("drained", drained),
            ("offline", offline),
        ]
        if powered is not None:
            items.append(("powered", powered))
        items.append(("master_capable", master_capable))
        items.append(("vm_capable", vm_capable))
        if vm_capable:
            items.append(("primary for instances", list(pinst)))
            items.append(("secondary for instances", list(sinst)))
        items.append(("node group", group))
        items.append(("node parameters",
                      infofmt.params_with_defaults(custom_ndparams, ndparams)))
        lines.extend(infofmt.format_info(items, indent=2))
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    return constants.EXIT_SUCCESS


COMMANDS = {
    "list": (list_nodes, cli.ARGS_MANY_NODES, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.UNITS_OPT, cli.FIELDS_OPT, cli.VERBOSE_OPT,
        cli.FILTER_OPT],
        "[nodes...]",
        "Lists the nodes in the cluster. The available fields can be shown using the"
        " \"list-fields\" command. The default field list"
        " is (in order): %s." % ", ".join(_LIST_DEF_FIELDS)),
    "list-fields": (list_fields, [cli.ArgSpec("<field>")], [cli.NOHDR_OPT, cli.SEP_OPT],
                    "[fields...]", "Lists all available fields for nodes"),
    "info": (show_node_config, cli.ARGS_MANY_NODES, [], "[<node_name>...]",
             "Show information about the node(s)"),
}


def main():
    return cli.generic_main(COMMANDS, aliases={"show": "info"})
