"""gnt-group: the cluster's node groups (cmdlib/group.py does the work).

The options, usage texts and output are Ganeti 3.0.2's.
"""

import sys

from ganeti import cli, constants, errors
from ganeti.client import infofmt, ipolicy_opts, tags

_LIST_DEF_FIELDS = ["name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams"]
_INFO_FIELDS = ["name", "ndparams", "custom_ndparams", "diskparams", "custom_diskparams",
                "ipolicy", "custom_ipolicy"]


def _per_name(pairs, what):
    """[(name, dict)] of an append option as {name: dict} (repeated names merge);
    the forms that remove or reset a whole group of values are refused."""
    result = {}
    for name, params in pairs or []:
        if not isinstance(params, dict):
            raise errors.OpPrereqError("Cannot remove or reset all %s of '%s' here;"
                                       " name the parameters" % (what, name),
                                       errors.ECODE_INVAL)
        result.setdefault(name, {}).update(params)
    return result


def _disk_state(pairs):
    """--disk-state storage_type/unit:key=value,... as {type: {unit: {...}}}."""
    result = {}
    for key, params in _per_name(pairs, "disk state values").items():
        parts = key.split("/")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target.setdefault(parts[-1], {}).update(params)
    return result


def _settings(opts, allow_default=False):
    """The opcode parameters add and modify share."""
    return dict(alloc_policy=opts.alloc_policy, ndparams=opts.ndparams,
                diskparams=_per_name(opts.diskparams, "disk parameters"),
                hv_state=_per_name(opts.hv_state, "hypervisor state values"),
                disk_state=_disk_state(opts.disk_state),
                ipolicy=ipolicy_opts.ipolicy_from_opts(opts, allow_default))


# ---- commands ---------------------------------------------------------------------------

def add_group(opts, args):
    """Create an empty node group."""
    from ganeti import opcodes
    cli.submit_or_send(opcodes.OpGroupAdd(group_name=args[0], **_settings(opts)), opts)
    return constants.EXIT_SUCCESS


def assign_nodes(opts, args):
    """Move nodes into a group (refused if a mirrored instance would be split,
    unless --force)."""
    from ganeti import opcodes
    cli.submit_or_send(opcodes.OpGroupAssignNodes(group_name=args[0], nodes=args[1:],
                                                  force=opts.force), opts)
    return constants.EXIT_SUCCESS


# dicts arrive with sorted keys; Ganeti shows node parameters and policies in the
# order of its records' fields
_ISPEC_ORDER = ["memory-size", "disk-size", "disk-count", "cpu-count", "nic-count",
                "spindle-use"]
_IPOLICY_ORDER = ["minmax", "std", "spindle-ratio", "vcpu-ratio", "disk-templates"]


def _ordered_ipolicy(policy):
    result = infofmt.in_order(policy, _IPOLICY_ORDER)
    if isinstance(result.get("minmax"), list):
        result["minmax"] = [dict((key, infofmt.in_order(pair[key], _ISPEC_ORDER))
                                 for key in ("min", "max") if key in pair)
                            for pair in result["minmax"]]
    if isinstance(result.get("std"), dict):
        result["std"] = infofmt.in_order(result["std"], _ISPEC_ORDER)
    return result


def _fmt_dict(data):
    if not data:
        return "(empty)"
    return ", ".join("%s=%s" % (key, value)
                     for key, value in infofmt.in_order(data, infofmt.ND_ORDER).items())


def _join(value):
    return ",".join(value)


def list_groups(opts, args):
    fields = cli.parse_fields(opts.output, _LIST_DEF_FIELDS)
    # Ganeti joins the name lists and shows ndparams as k=v; tags stay a list
    policy = (lambda value: str(_ordered_ipolicy(value)), False)
    override = {"node_list": (_join, False), "pinst_list": (_join, False),
                "ndparams": (_fmt_dict, False), "tags": (str, False),
                "custom_ndparams": (lambda value: str(infofmt.in_order(value,
                                                                       infofmt.ND_ORDER)),
                                    False),
                "ipolicy": policy, "custom_ipolicy": policy}
    return cli.generic_list("group", fields, args, None, opts.separator,
                            not opts.no_headers, format_override=override,
                            verbose=opts.verbose, force_filter=opts.force_filter)


def list_fields(opts, args):
    """Name, kind, title and description of the group fields."""
    return cli.generic_list_fields("group", args, opts.separator, not opts.no_headers)


def _query_groups(args, fields):
    """Rows of plain values for the groups named (by name or UUID; unknown ones
    are left out, as Ganeti's QueryGroups does), or all groups."""
    qfilter = None
    if args:
        qfilter = ["|"] + [["=", field, name] for name in args
                           for field in ("name", "uuid")]
    result = cli.get_client().query("group", fields, qfilter)
    return [[value for _, value in row] for row in result["data"]]


def _params_info(custom, actual):
    """Parameters for display, nested (disk parameters per template): a group's
    own values as they are, the others as 'default (value)'."""
    result = infofmt.params_with_defaults(custom, actual)
    for key, value in actual.items():
        if isinstance(value, dict) and value:
            result[key] = _params_info(custom.get(key) or {}, value)
    return result


def _policy_info(custom, effective):
    """A group's instance policy for display (Ganeti's layout; it orders min/max
    and the two ratios as a set happens to iterate, this is one of its orders)."""
    own_minmax = custom.get("minmax")
    bounds = []
    for idx, minmax in enumerate(own_minmax or effective.get("minmax", [])):
        bounds.append([("%s/%d" % (key, idx),
                        infofmt.params_with_defaults(minmax[key] if own_minmax else {},
                                                     minmax[key]))
                       for key in ("min", "max")])
    templates = custom.get("disk-templates")
    items = [("bounds specs", bounds),
             ("allowed disk templates", ", ".join(templates) if templates is not None
              else "default (%s)" % ", ".join(effective.get("disk-templates", [])))]
    for key in ("spindle-ratio", "vcpu-ratio"):
        items.append((key, str(custom[key]) if key in custom
                       else "default (%s)" % effective.get(key)))
    return items


def show_group_info(opts, args):
    """The parameters of the given groups (all if none given)."""
    lines = []
    for (name, ndparams, custom_ndparams, diskparams, custom_diskparams, ipolicy,
         custom_ipolicy) in _query_groups(args, _INFO_FIELDS):
        block = infofmt.format_info([
            ("Node group", name),
            ("Node parameters", _params_info(custom_ndparams, ndparams)),
            ("Disk parameters", _params_info(custom_diskparams, diskparams)),
            ("Instance policy", _policy_info(custom_ipolicy, ipolicy)),
        ], indent=2)
        block[0] = "- " + block[0][2:]
        lines.extend(block)
    # one line even with no group (an unknown name): Ganeti prints an empty line
    sys.stdout.write("\n".join(lines) + "\n")
    return constants.EXIT_SUCCESS


def show_create_command(opts, args):
    """The gnt-group add command line that re-creates each group's specs."""
    field = "ipolicy" if opts.include_defaults else "custom_ipolicy"
    for name, policy in _query_groups(args, ["name", field]):
        words = ["gnt-group add"]
        bounds = ipolicy_opts.bounds_text(policy)
        if bounds:
            words.append("--ipolicy-bounds-specs %s" % bounds)
        words.append(name)
        cli.to_stdout(" ".join(words))
    return constants.EXIT_SUCCESS


def set_group_params(opts, args):
    """Change a group's settings; prints what the job reports changed."""
    from ganeti import opcodes
    op = opcodes.OpGroupSetParams(group_name=args[0], **_settings(opts, True))
    result = cli.submit_or_send(op, opts)
    if result:
        cli.to_stdout("Modified node group %s" % args[0])
        for param, data in result:
            cli.to_stdout(" - %-5s -> %s" % (param, data))
    return constants.EXIT_SUCCESS


def remove_group(opts, args):
    from ganeti import opcodes
    cli.submit_or_send(opcodes.OpGroupRemove(group_name=args[0]), opts)
    return constants.EXIT_SUCCESS


def rename_group(opts, args):
    from ganeti import opcodes
    cli.submit_or_send(opcodes.OpGroupRename(group_name=args[0], new_name=args[1]), opts)
    return constants.EXIT_SUCCESS


def evacuate_group(opts, args):
    """Move every instance out of the group as the instance allocator plans it,
    then wait for the jobs that submits."""
    from ganeti import opcodes
    from ganeti.client import gnt_node
    cl = cli.get_client()
    op = opcodes.OpGroupEvacuate(group_name=args[0], iallocator=opts.iallocator,
                                 target_groups=opts.to, early_release=opts.early_release,
                                 sequential=opts.sequential,
                                 force_failover=opts.force_failover)
    return gnt_node.wait_for_moves(cli.submit_or_send(op, opts, cl=cl), cl)


# ---- the command table -------------------------------------------------------------------

_ALLOC_POLICY_OPT = cli.cli_option("--alloc-policy", dest="alloc_policy", metavar="POLICY",
                                   default=None,
                                   help="Allocation policy for the node group")
_NODE_PARAMS_OPT = cli.keyval_option("--node-parameters", dest="ndparams", default=None,
                                     help="Node parameters")
# the append options default to None, not [], so no list is shared between runs
_DISK_PARAMS_OPT = cli.cli_option("-D", "--disk-parameters", dest="diskparams",
                                  type="identkeyval", action="append", default=None,
                                  help="Disk template parameters, in the format"
                                  " template:option=value,option=value,...")
_ARGS_GROUP = [cli.ArgSpec("<group>", 1, 1)]

COMMANDS = {
    "add": (add_group, cli.ARGS_ONE_GROUP, [
        cli.DRY_RUN_OPT, _ALLOC_POLICY_OPT, _NODE_PARAMS_OPT, _DISK_PARAMS_OPT,
        cli.HV_STATE_OPT, cli.DISK_STATE_OPT, cli.PRIORITY_OPT] + cli.SUBMIT_OPTS +
        ipolicy_opts.IPOLICY_OPTS,
        "<group-name>", "Add a new node group to the cluster"),
    "assign-nodes": (assign_nodes, cli.ARGS_ONE_GROUP + cli.ARGS_MANY_NODES, [
        cli.DRY_RUN_OPT, cli.FORCE_OPT, cli.PRIORITY_OPT] + cli.SUBMIT_OPTS,
        "<group-name> <node-name>...", "Assign nodes to a group"),
    "list": (list_groups, cli.ARGS_MANY_GROUPS, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.FIELDS_OPT, cli.VERBOSE_OPT, cli.FILTER_OPT],
        "[<group-name>...]",
        "Lists the node groups in the cluster. The available fields can be shown using"
        " the \"list-fields\" command (see the man page for details). The default list"
        " is (in order): %s." % ", ".join(_LIST_DEF_FIELDS)),
    "list-fields": (list_fields, [cli.ArgSpec("<field>")], [cli.NOHDR_OPT, cli.SEP_OPT],
                    "[fields...]", "Lists all available fields for node groups"),
    "modify": (set_group_params, cli.ARGS_ONE_GROUP, [cli.DRY_RUN_OPT] + cli.SUBMIT_OPTS + [
        _ALLOC_POLICY_OPT, _NODE_PARAMS_OPT, cli.HV_STATE_OPT, cli.DISK_STATE_OPT,
        _DISK_PARAMS_OPT, cli.PRIORITY_OPT] + ipolicy_opts.IPOLICY_OPTS,
        "<group>", "Alters the parameters of a node group"),
    "remove": (remove_group, cli.ARGS_ONE_GROUP, [cli.DRY_RUN_OPT, cli.PRIORITY_OPT] +
               cli.SUBMIT_OPTS, "[--dry-run] <group>",
               "Remove an (empty) node group from the cluster"),
    "rename": (rename_group, [cli.ArgSpec("<group>", 2, 2)],
               [cli.DRY_RUN_OPT] + cli.SUBMIT_OPTS + [cli.PRIORITY_OPT],
               "[--dry-run] <old-name> <new-name>", "Rename a node group"),
    "evacuate": (evacuate_group, _ARGS_GROUP, [
        cli.cli_option("--to", dest="to", metavar="<group>", default=None,
                       action="append", help="Destination node group (name or uuid)"),
        cli.IALLOCATOR_OPT, cli.EARLY_RELEASE_OPT,
        cli.cli_option("--sequential", dest="sequential", default=False,
                       action="store_true", help="Execute all resulting jobs"
                       " sequentially"),
        cli.cli_option("--force-failover", dest="force_failover", default=False,
                       action="store_true", help="Do not use migration, always use"
                       " failover")] + cli.SUBMIT_OPTS,
        "[-I <iallocator>] [--to <group>] <source-group>",
        "Evacuate all instances within a group"),
    "info": (show_group_info, cli.ARGS_MANY_GROUPS, [], "[<group>...]",
             "Show group information"),
    "show-ispecs-cmd": (show_create_command, cli.ARGS_MANY_GROUPS, [
        cli.cli_option("--include-defaults", dest="include_defaults", default=False,
                       action="store_true", help="Include default values")],
        "[--include-defaults] [<group>...]",
        "Show the command line to re-create a group"),
}
COMMANDS.update(tags.commands(constants.TAG_NODEGROUP))


def main():
    # as Ganeti: only "list" takes default arguments from GNT_GROUP_LIST
    return cli.generic_main(COMMANDS, env_override=["list"])
