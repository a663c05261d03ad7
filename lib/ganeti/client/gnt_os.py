"""gnt-os: list, diagnose and show the guest OS definitions of the cluster,
and change the cluster's settings for an OS (modify).

As in Ganeti, list, diagnose and info run one OP_OS_DIAGNOSE job each, so
--priority, --reason and -d act on it; modify runs OP_CLUSTER_SET_PARAMS.
The output is Ganeti's gnt-os output.
"""

import re

from ganeti import cli, constants, opcodes

_API_V15 = 15
_API_V20 = 20


def _nice_key(name):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", str(name)) if part != ""]


def _diagnose(fields, opts, cl=None):
    """Rows of plain values from an OP_OS_DIAGNOSE job (submitted with the
    command's priority and reason). Unless asked for in ``fields``, hidden,
    blacklisted and invalid OSes are left out (the opcode's rule)."""
    op = opcodes.OpOsDiagnose(output_fields=fields, names=[])
    return cli.submit_op_code(op, cl=cl, opts=opts)


def os_names(name, variants):
    """The names an OS is used by: 'os+variant' for each variant, else 'os'."""
    if variants:
        return ["%s+%s" % (name, v) for v in variants]
    return [name]


def list_os(opts, args, cl=None):
    """List the valid OSes (variants expanded, one per line)."""
    rows = _diagnose(["name", "variants"], opts, cl=cl)
    data = []
    for name, variants in rows:
        data.extend([n] for n in os_names(name, variants or []))
    headers = None if opts.no_headers else {"name": "Name"}
    for line in cli.generate_table(headers, ["name"], None, data):
        cli.to_stdout(line)
    return constants.EXIT_SUCCESS


def _os_status(status, message):
    return "valid" if status else "invalid - %s" % message


def _node_line(entry):
    """The status text of the definition in use on one node."""
    path, status, message, variants, params, api = entry[:6]
    trusted = entry[6] if len(entry) > 6 else True
    text = "%s (path: %s)" % (_os_status(status, message), path)
    if api:
        text += " [API versions: %s]" % ", ".join(str(v) for v in api)
        max_api = max(api)
    else:
        text += " [no API versions declared]"
        max_api = 0
    if max_api >= _API_V15:
        if variants:
            text += " [variants: %s]" % ", ".join(variants)
        else:
            text += " [no variants]"
    if max_api >= _API_V20:
        if params:
            text += " [parameters: %s]" % ", ".join(p[0] for p in params)
        else:
            text += " [no parameters]"
    return text + (" [trusted]" if trusted else " [untrusted]")


def diagnose_os(opts, args, cl=None):
    """Show every OS with its status on every node; 1 if any is not valid."""
    rows = _diagnose(["name", "valid", "variants", "node_status", "hidden",
                      "blacklisted"], opts, cl=cl)
    has_bad = False
    for name, _, variants, node_data, hidden, blacklisted in rows:
        nodes_valid, nodes_bad, shadowed = {}, {}, {}
        for node_name, entries in (node_data or {}).items():
            shadowed[node_name] = []
            if not entries:
                nodes_bad[node_name] = "OS not found"
                continue
            first = entries[0]
            target = nodes_valid if first[1] else nodes_bad
            target[node_name] = _node_line(first)
            for entry in entries[1:]:
                shadowed[node_name].append("    [hidden] path: %s, status: %s"
                                           % (entry[0], _os_status(entry[1], entry[2])))
        if nodes_valid and not nodes_bad:
            status = "valid"
        elif nodes_bad and not nodes_valid:
            status = "invalid"
            has_bad = True
        else:
            status = "partial valid"
            has_bad = True
        line = "OS: %s [global status: %s]" % (name, status)
        if hidden:
            line += " [hidden]"
        if blacklisted:
            line += " [blacklisted]"
        cli.to_stdout(line)
        if variants:
            cli.to_stdout("  Variants: [%s]" % ", ".join(variants))
        for by_node in (nodes_valid, nodes_bad):
            for node_name in sorted(by_node, key=_nice_key):
                cli.to_stdout("  Node: %s, status: %s" % (node_name, by_node[node_name]))
                for text in shadowed[node_name]:
                    cli.to_stdout(text)
        cli.to_stdout("")
    return int(has_bad)


def show_os_info(opts, args, cl=None):
    """Show the details of the given OSes (all when none is given)."""
    from ganeti.client import infofmt
    rows = _diagnose(["name", "valid", "variants", "parameters", "api_versions",
                      "blacklisted", "hidden", "os_hvp", "osparams", "trusted"],
                     opts, cl=cl)
    wanted = list(args)
    all_hvp, all_osparams = {}, {}
    for (name, valid, variants, parameters, api_versions, blacklisted, hidden, os_hvp,
         osparams, trusted) in rows:
        all_hvp.update(os_hvp or {})
        all_osparams.update(osparams or {})
        if wanted:
            if name not in wanted:
                continue
            wanted.remove(name)
        cli.to_stdout("%s:" % name)
        cli.to_stdout("  - valid: %s" % valid)
        cli.to_stdout("  - hidden: %s" % hidden)
        cli.to_stdout("  - blacklisted: %s" % blacklisted)
        if valid:
            cli.to_stdout("  - API versions:")
            for version in sorted(api_versions or []):
                cli.to_stdout("    - %s" % version)
            cli.to_stdout("  - variants:")
            for variant in variants or []:
                cli.to_stdout("    - %s" % variant)
            cli.to_stdout("  - parameters:")
            for pname, pdoc in parameters or []:
                cli.to_stdout("    - %s: %s" % (pname, pdoc))
        cli.to_stdout("  - trusted: %s" % trusted)
        cli.to_stdout("")
    # names that are no OS of the cluster: their cluster-level settings, if any
    for name in wanted:
        if name in all_hvp or name in all_osparams:
            info = [(name, [("OS-specific hypervisor parameters", all_hvp.get(name, {})),
                            ("OS parameters", all_osparams.get(name, {}))])]
            for line in infofmt.format_info(info):
                cli.to_stdout(line)
        else:
            cli.to_stdout("%s: " % name)
        cli.to_stdout("")
    return constants.EXIT_SUCCESS


def _flag_change(value, os_name):
    """An OS list modification for --hidden / --blacklisted (None: unchanged)."""
    if value is None:
        return None
    return [["add" if value else "remove", os_name]]


def modify_os(opts, args, cl=None):
    """Set the cluster's hypervisor and OS parameters and flags for one OS."""
    os_name = args[0]
    os_hvp = {os_name: dict(opts.hvparams)} if opts.hvparams else None  # -H, repeated
    osparams = {os_name: opts.osparams} if opts.osparams else None
    private = {os_name: opts.osparams_private} if opts.osparams_private else None
    hidden = _flag_change(opts.hidden, os_name)
    blacklisted = _flag_change(opts.blacklisted, os_name)
    if not (os_hvp or osparams or private or hidden or blacklisted):
        cli.to_stderr("At least one of OS parameters or hypervisor parameters"
                      " must be passed")
        return constants.EXIT_FAILURE
    op = opcodes.OpClusterSetParams(os_hvp=os_hvp, osparams=osparams,
                                    osparams_private_cluster=private,
                                    hidden_os=hidden, blacklisted_os=blacklisted)
    cli.submit_or_send(op, opts, cl=cl)
    return constants.EXIT_SUCCESS


_MODIFY_OPTS = [
    cli.cli_option("-H", "--hypervisor-parameters", dest="hvparams", type="identkeyval",
                   action="append", default=None,
                   help="Hypervisor and hypervisor options, in the format"
                   " hypervisor:option=value,option=value,..."),
    cli.keyval_option("-O", "--os-parameters", dest="osparams", help="OS parameters"),
    cli.keyval_option("--os-parameters-private", dest="osparams_private",
                      help="Private OS parameters (won't be logged)"),
    cli.DRY_RUN_OPT,
    cli.PRIORITY_OPT,
    cli.cli_option("--hidden", dest="hidden", type="bool", default=None, metavar="yes|no",
                   help="Sets the hidden flag on the OS"),
    cli.cli_option("--blacklisted", dest="blacklisted", type="bool", default=None,
                   metavar="yes|no", help="Sets the blacklisted flag on the OS"),
] + cli.SUBMIT_OPTS

COMMANDS = {
    "list": (list_os, cli.ARGS_NONE, [cli.NOHDR_OPT, cli.PRIORITY_OPT], "",
             "Lists all valid operating systems on the cluster"),
    "diagnose": (diagnose_os, cli.ARGS_NONE, [cli.PRIORITY_OPT], "",
                 "Diagnose all operating systems"),
    # the usage is empty, as in Ganeti (the OS names are optional arguments)
    "info": (show_os_info, [cli.ArgSpec("<os>")], [cli.PRIORITY_OPT], "",
             "Show detailed information about operating systems"),
    "modify": (modify_os, [cli.ArgSpec("<os>", 1, 1)], _MODIFY_OPTS, "",
               "Modify the OS parameters"),
}


def main():
    return cli.generic_main(COMMANDS, aliases={"show": "info"})
