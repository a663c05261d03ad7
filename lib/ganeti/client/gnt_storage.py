"""gnt-storage: the ExtStorage providers of the cluster (diagnose, info).

Each command runs one OP_EXTSTORAGE_DIAGNOSE job (so --priority, --reason
and -d act on it) and prints what it returns as Ganeti's gnt-storage does.
"""

from ganeti import cli, constants, opcodes
from ganeti.utils import text


def _diagnose(fields, opts, cl=None):
    op = opcodes.OpExtStorageDiagnose(output_fields=fields, names=[])
    return cli.submit_op_code(op, cl=cl, opts=opts)


def _status_text(entry):
    """What one node says of the provider definition it uses."""
    path, valid, message, params = entry[:4]
    status = "valid" if valid else "invalid - %s" % message
    line = "%s (path: %s)" % (status, path)
    if params:
        return line + " [parameters: %s]" % ", ".join(p[0] for p in params)
    return line + " [no parameters]"


def diagnose_extstorage(opts, args, cl=None):
    """Every provider with its status per node and per node group."""
    rows = _diagnose(["name", "node_status", "nodegroup_status"], opts, cl=cl)
    if not rows:
        cli.to_stderr("Can't get the list of ExtStorage providers")
        return constants.EXIT_FAILURE
    for name, node_data, group_data in rows:
        nodes_valid, nodes_bad = {}, {}
        for node, entries in (node_data or {}).items():
            if not entries:
                nodes_bad[node] = "ExtStorage provider not found"
            elif entries[0][1]:
                nodes_valid[node] = _status_text(entries[0])
            else:
                nodes_bad[node] = _status_text(entries[0])
        cli.to_stdout("Provider: %s" % name)
        cli.to_stdout("---")
        for by_node in (nodes_valid, nodes_bad):
            for node in text.nice_sort(by_node):
                cli.to_stdout("  Node: %s, status: %s" % (node, by_node[node]))
        cli.to_stdout("  --")
        group_data = group_data or {}
        for wanted in (True, False):
            for group in text.nice_sort(g for g, ok in group_data.items()
                                        if bool(ok) == wanted):
                cli.to_stdout("  For nodegroup: %s --> %s"
                              % (group, "valid" if wanted else "invalid"))
        cli.to_stdout("")
    return constants.EXIT_SUCCESS


def show_extstorage_info(opts, args, cl=None):
    """The node groups a provider is valid for, and its parameters."""
    rows = _diagnose(["name", "nodegroup_status", "parameters"], opts, cl=cl)
    if not rows:
        cli.to_stderr("Can't get the ExtStorage providers list")
        return constants.EXIT_FAILURE
    wanted = list(args)
    for name, group_data, parameters in rows:
        if wanted:
            if name not in wanted:
                continue
            wanted.remove(name)
        cli.to_stdout("%s:" % name)
        valid_groups = [g for g, ok in (group_data or {}).items() if ok]
        if valid_groups:
            cli.to_stdout("  - Valid for nodegroups:")
            for group in text.nice_sort(valid_groups):
                cli.to_stdout("      %s" % group)
            cli.to_stdout("  - Supported parameters:")
            for pname, pdesc in parameters or []:
                cli.to_stdout("      %s: %s" % (pname, pdesc))
        else:
            cli.to_stdout("  - Invalid for all nodegroups")
        cli.to_stdout("")
    for name in wanted:
        cli.to_stdout("%s: Not Found" % name)
        cli.to_stdout("")
    return constants.EXIT_SUCCESS


COMMANDS = {
    "diagnose": (diagnose_extstorage, cli.ARGS_NONE, [cli.PRIORITY_OPT], "",
                 "Diagnose all ExtStorage providers"),
    # the usage is empty, as in Ganeti (provider names are optional arguments)
    "info": (show_extstorage_info, [cli.ArgSpec("<provider>")], [cli.PRIORITY_OPT], "",
             "Show info about ExtStorage providers"),
}


def main():
    return cli.generic_main(COMMANDS)
