"""gnt-backup: export instances to a node, import them back, list and remove
exports (Ganeti's command, options and output)."""

from ganeti import cli, constants, errors, opcodes, qlang
from ganeti.client import gnt_instance

_LIST_DEF_FIELDS = ["node", "export"]
_ARGS_ONE = [cli.ArgSpec("<instance>", 1, 1)]


def list_exports(opts, args):
    """The exports of every node (or of the -n nodes)."""
    fields = cli.parse_fields(opts.output, _LIST_DEF_FIELDS)
    qfilter = qlang.make_simple_filter(opts.nodes, "node") if opts.nodes else None
    return cli.generic_list("export", fields, None, opts.units, opts.separator,
                            not opts.no_headers, verbose=opts.verbose, qfilter=qfilter)


def list_fields(opts, args):
    return cli.generic_list_fields("export", args, opts.separator, not opts.no_headers)


def export_instance(opts, args):
    if not opts.node:
        raise errors.OpPrereqError("Target node must be specified", errors.ECODE_INVAL)
    op = opcodes.OpBackupExport(
        instance_name=args[0], target_node=opts.node,
        compress=opts.transport_compression, shutdown=opts.shutdown,
        shutdown_timeout=opts.shutdown_timeout, remove_instance=opts.remove_instance,
        ignore_remove_failures=opts.ignore_remove_failures,
        zero_free_space=opts.zero_free_space,
        zeroing_timeout_fixed=opts.zeroing_timeout_fixed,
        zeroing_timeout_per_mib=opts.zeroing_timeout_per_mib,
        long_sleep=opts.long_sleep, allow_drained=opts.force)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def import_instance(opts, args):
    """gnt-instance add in import mode: defaults come from the export."""
    if opts.helper_startup_timeout is not None or \
            opts.helper_shutdown_timeout is not None:
        # Ganeti uses them for installs from an OS image in a helper VM
        raise errors.OpPrereqError("The helper VM timeouts apply to installations from"
                                   " an OS image, which this cluster does not support",
                                   errors.ECODE_INVAL)
    return gnt_instance.create_instance(opts, args, "import")


def remove_export(opts, args):
    op = opcodes.OpBackupRemove(instance_name=args[0])
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


_EXPORT_OPTS = [
    cli.FORCE_OPT,
    gnt_instance.SINGLE_NODE_OPT,
    cli.cli_option("--transport-compression", dest="transport_compression",
                   default="none", help="The compression mode to use during transport"),
    cli.cli_option("--noshutdown", dest="shutdown", action="store_false", default=True,
                   help="Don't shutdown the instance (unsafe)"),
    cli.SHUTDOWN_TIMEOUT_OPT,
    cli.cli_option("--remove-instance", dest="remove_instance", action="store_true",
                   default=False, help="Remove the instance from the cluster"),
    cli.cli_option("--ignore-remove-failures", dest="ignore_remove_failures",
                   action="store_true", default=False,
                   help="Remove the instance from the cluster configuration even if"
                   " there are failures during the removal process"),
    cli.DRY_RUN_OPT, cli.PRIORITY_OPT,
    cli.cli_option("--zero-free-space", dest="zero_free_space", action="store_true",
                   default=False, help="Whether to zero the free space on the disks of"
                   " the instance prior to the export"),
    cli.cli_option("--zeroing-timeout-fixed", dest="zeroing_timeout_fixed", type="int",
                   default=None, help="The fixed amount of time to wait before assuming"
                   " that the zeroing failed"),
    cli.cli_option("--zeroing-timeout-per-mib", dest="zeroing_timeout_per_mib",
                   type="float", default=None, help="The amount of time to wait per MiB"
                   " of data to zero, in addition to the fixed timeout"),
    cli.cli_option("--long-sleep", dest="long_sleep", action="store_true", default=False,
                   help="Allow long shutdowns when backing up instances"),
] + cli.SUBMIT_OPTS

_IMPORT_OPTS = gnt_instance.create_options(
    "(diskless, plain, gluster, ext, drbd, blockdev, file, sharedfile, rbd)") + [
    gnt_instance.IDENTIFY_DEFAULTS_OPT,
    cli.cli_option("--src-dir", dest="src_dir", default=None, metavar="<dir>",
                   help="Source directory"),
    cli.cli_option("--src-node", dest="src_node", default=None, metavar="<node>",
                   help="Source node"),
    gnt_instance.COMPRESS_OPT,
    cli.IGNORE_IPOLICY_OPT,
    cli.cli_option("--helper-startup-timeout", dest="helper_startup_timeout",
                   type="int", default=None, help="Startup timeout for the helper VM"),
    cli.cli_option("--helper-shutdown-timeout", dest="helper_shutdown_timeout",
                   type="int", default=None, help="Shutdown timeout for the helper VM"),
]

COMMANDS = {
    "export": (export_instance, _ARGS_ONE, _EXPORT_OPTS,
               "-n <node-name> [opts...] <instance-name>",
               "Exports an instance to an image"),
    "import": (import_instance, _ARGS_ONE, _IMPORT_OPTS,
               "[...] -t disk-type -n node[:secondary-node] <instance-name>",
               "Imports an instance from an exported image"),
    "list": (list_exports, [], [
        cli.cli_option("-n", "--node", dest="nodes", action="append", default=[],
                       metavar="<node>", help="Use only this node (can be used multiple"
                       " times, if not given defaults to all nodes)"),
        cli.NOHDR_OPT, cli.SEP_OPT, cli.UNITS_OPT, cli.FIELDS_OPT, cli.VERBOSE_OPT],
        "", "Lists instance exports available in the ganeti cluster"),
    "list-fields": (list_fields, [cli.ArgSpec("<field>")], [cli.NOHDR_OPT, cli.SEP_OPT],
                    "[fields...]", "Lists all available fields for exports"),
    "remove": (remove_export, _ARGS_ONE, [cli.DRY_RUN_OPT, cli.PRIORITY_OPT] +
               cli.SUBMIT_OPTS, "<instance-name>",
               "Remove exports of named instance from the filesystem."),
}


def main():
    return cli.generic_main(COMMANDS)
