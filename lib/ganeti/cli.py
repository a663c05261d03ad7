"""Machinery shared by the gnt-* commands (cli.md section 0).

Options, argument checking, command dispatch (``generic_main``), error
reporting, confirmation prompts and job submission and polling. Printing of
lines, tables and query results lives in ``ganeti.cli_output``; its public
names are re-exported here (``cli.generic_list``, ``cli.generate_table``, ...).
Startup must stay fast: only the standard library pieces every command needs
are imported here; qlang (and pyparsing), shlex, textwrap and traceback are
imported on use.
"""

from __future__ import annotations

import optparse
import os
import sys
import time
from collections.abc import Callable, Iterable

from ganeti import constants, errors, luxi, pathutils
# printing of lines, tables and query results; re-exported as part of the cli API
from ganeti.cli_output import (  # noqa: F401
    LIST_JOINED_FIELDS, RS_NODATA, RS_NORMAL, RS_OFFLINE, RS_UNAVAIL, RS_UNKNOWN,
    format_query_result, format_table, format_timestamp, generate_table, generic_list,
    generic_list_fields, to_stderr, to_stdout)
# confirmation questions on the terminal; re-exported as part of the cli API
from ganeti.cli_prompt import ask_user, confirm_operation  # noqa: F401
from ganeti.utils import text

# ---- option types ------------------------------------------------------------------

_PRIORITY_NAMES = {
    "low": constants.OP_PRIO_LOW,
    "normal": constants.OP_PRIO_NORMAL,
    "high": constants.OP_PRIO_HIGH,
}
_TRUE_WORDS = ("yes", "true", "on", "1")
_FALSE_WORDS = ("no", "false", "off", "0")


def parse_bool(value: str) -> bool:
    """'yes'/'no' (also true/false) as a bool; ParameterError otherwise."""
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise errors.ParameterError("Invalid boolean value '%s'" % value.lower())


def parse_ident_keyval(value: str) -> tuple:
    """'name:k=v,...' -> (name, dict); 'no_name' -> (name, False); '-name' -> (name, None).

    Used by ``-H hv:k=v``, ``-D template:k=v``, ``--disk N:k=v`` and ``--net N:k=v``.
    """
    ident, _, rest = value.partition(":")
    if ident.startswith("no_") and len(ident) > 3:
        if rest:
            raise errors.ParameterError("Cannot pass options when removing parameter"
                                        " group '%s'" % ident[3:])
        return (ident[3:], False)
    if ident.startswith("-") and len(ident) > 1:
        if rest:
            raise errors.ParameterError("Cannot pass options when resetting parameter"
                                        " group '%s'" % ident[1:])
        return (ident[1:], None)
    if not ident:
        raise errors.ParameterError("Missing name before ':' in '%s'" % value)
    return (ident, text.parse_key_values(rest))


def _checker(func):
    """An optparse type checker from a function that raises our errors."""
    def check(option, opt, value):
        try:
            return func(value)
        except (errors.ParameterError, errors.UnitParseError, ValueError) as err:
            msg = err.args[0] if err.args else str(err)
            raise optparse.OptionValueError("option %s: %s" % (opt, msg))
    return check


def _parse_priority(value):
    try:
        return _PRIORITY_NAMES[value.lower()]
    except KeyError:
        raise errors.ParameterError("invalid priority '%s' (choose from %s)"
                                    % (value, ", ".join(_PRIORITY_NAMES)))


def _parse_list(value):
    return [item for item in text.split_escaped(value) if item]


class CliOption(optparse.Option):
    """optparse Option with our value types.

    keyval (dict via parse_key_values), identkeyval ((name, dict)), unit (MiB
    from '10G'), bool (yes/no), list (comma separated), priority (name -> number).
    """

    TYPES = optparse.Option.TYPES + ("keyval", "identkeyval", "unit", "bool", "list",
                                     "priority")
    TYPE_CHECKER = dict(optparse.Option.TYPE_CHECKER)
    TYPE_CHECKER.update({
        "keyval": _checker(text.parse_key_values),
        "identkeyval": _checker(parse_ident_keyval),
        "unit": _checker(text.parse_unit),
        # as Ganeti's: a bad boolean is a parameter error (exit 1), not a usage one
        "bool": lambda option, opt, value: parse_bool(value),
        "list": _checker(_parse_list),
        "priority": _checker(_parse_priority),
    })


cli_option = CliOption


def keyval_option(*opts: str, **kwargs) -> CliOption:
    """A key=value option (-B, -N, --node-parameters); ``ident=True`` for 'name:k=v'."""
    kind = "identkeyval" if kwargs.pop("ident", False) else "keyval"
    kwargs.setdefault("default", None if kind == "identkeyval" else {})
    return CliOption(*opts, type=kind, **kwargs)


# ---- shared options (cli.md 0.2 / 0.3) -------------------------------------------------

DEBUG_OPT = cli_option("-d", "--debug", dest="debug", default=0, action="count",
                       help="Increase debugging level")
SUBMIT_OPT = cli_option("--submit", dest="submit_only", default=False, action="store_true",
                        help="Submit the job and return the job ID, but don't wait"
                        " for the job to finish")
PRINT_JOBID_OPT = cli_option("--print-jobid", dest="print_jobid", default=False,
                             action="store_true",
                             help="Additionally print the job as first line on stdout (for"
                             " scripting).")
DRY_RUN_OPT = cli_option("--dry-run", dest="dry_run", default=False, action="store_true",
                         help="Do not execute the operation, just run the check steps"
                         " and verify if it could be executed")
PRIORITY_OPT = cli_option("--priority", dest="priority", default=None, type="priority",
                          metavar="|".join(_PRIORITY_NAMES),
                          help="Priority for opcode processing")
REASON_OPT = cli_option("--reason", dest="reason", default=None,
                        help="The reason for executing the command")
FORCE_OPT = cli_option("-f", "--force", dest="force", default=False, action="store_true",
                       help="Force the operation")
CONFIRM_OPT = cli_option("--yes", dest="confirm", default=False, action="store_true",
                         help="Do not require confirmation")
YES_DOIT_OPT = cli_option("--yes-do-it", "--ya-rly", dest="yes_do_it", default=False,
                          action="store_true", help="Really do it (dangerous)")
NOHDR_OPT = cli_option("--no-headers", dest="no_headers", default=False,
                       action="store_true", help="Don't display column headers")
SEP_OPT = cli_option("--separator", dest="separator", default=None, metavar="SEPARATOR",
                     help="Separator between output fields (defaults to one space)")
UNITS_OPT = cli_option("--units", dest="units", default=None, type="choice",
                       choices=("h", "m", "g", "t"),
                       help="Specify units for output (one of h/m/g/t)")
FIELDS_OPT = cli_option("-o", "--output", dest="output", default=None, metavar="FIELDS",
                        help="Comma separated list of output fields")
VERBOSE_OPT = cli_option("-v", "--verbose", dest="verbose", default=False,
                         action="store_true", help="Increase the verbosity of the operation")
FILTER_OPT = cli_option("-F", "--filter", dest="force_filter", default=False,
                        action="store_true",
                        help="Whether command argument should be treated as filter")

# moving instances (gnt-instance failover/migrate, gnt-node failover/migrate)
TARGET_NODE_OPT = cli_option("-n", "--target-node", dest="dst_node", default=None,
                             metavar="NODE", help="Specifies the new node for the instance")
IALLOCATOR_OPT = cli_option(
    "-I", "--iallocator", dest="iallocator", default=None, metavar="<NAME>",
    help="Select nodes for the instance automatically using the <NAME> iallocator"
    " plugin")
IGNORE_IPOLICY_OPT = cli_option("--ignore-ipolicy", dest="ignore_ipolicy",
                                action="store_true", default=False,
                                help="Ignore instance policy violations")
NONLIVE_OPT = cli_option("--non-live", dest="live", action="store_false", default=True,
                         help="Do a non-live migration (this usually means freeze the"
                         " instance, save the state, transfer and only then resume"
                         " running on the secondary node)")
MIGRATION_MODE_OPT = cli_option("--migration-mode", dest="migration_mode", default=None,
                                choices=["live", "non-live"],
                                help="Override default migration mode (choose either"
                                " live or non-live")
NORUNTIME_CHGS_OPT = cli_option("--no-runtime-changes", dest="allow_runtime_chgs",
                                action="store_false", default=True,
                                help="Don't allow runtime changes")
# Ganeti's text says minutes; the value is in seconds (in Ganeti too)
SHUTDOWN_TIMEOUT_OPT = cli_option("--shutdown-timeout", dest="shutdown_timeout", type="int",
                                  default=constants.DEFAULT_SHUTDOWN_TIMEOUT,
                                  help="Maximum time (in minutes) to wait for instance"
                                  " shutdown")
# Ganeti's static states (cluster, group, node); the append options default to
# None, not [], so no list is shared between runs
HV_STATE_OPT = cli_option(
    "--hypervisor-state", dest="hv_state", type="identkeyval", action="append",
    default=None, help="Specify hypervisor state information in the format"
    " hypervisor:option=value,...; note this is unused for now")
DISK_STATE_OPT = cli_option(
    "--disk-state", dest="disk_state", type="identkeyval", action="append", default=None,
    help="Specify disk state information in the format"
    " storage_type/identifier:option=value,...; note this is unused for now")
IGNORE_CONSIST_OPT = cli_option(
    "--ignore-consistency", dest="ignore_consistency", action="store_true",
    default=False, help="Ignore the consistency of the disks on the secondary. The"
    " source node must be marked offline first for this to succeed.")

NEW_SECONDARY_OPT = cli_option("-n", "--new-secondary", dest="dst_node", default=None,
                               metavar="NODE", help="Specifies the new secondary node")
EARLY_RELEASE_OPT = cli_option("--early-release", dest="early_release", default=False,
                               action="store_true",
                               help="Release the locks on the secondary node(s) early")
NODEGROUP_OPT = cli_option("-g", "--node-group", dest="nodegroup", default=None,
                           metavar="<nodegroup>", help="Node group (name or uuid)")
SHOW_MACHINE_OPT = cli_option("-M", "--show-machine-names", dest="show_machine_names",
                              default=False, action="store_true",
                              help="Show machine name for every line in output")
# never stored nor shown (doc/os-parameters.rst)
OSPARAMS_SECRET_OPT = keyval_option("--os-parameters-secret", dest="osparams_secret",
                                    help="Secret OS parameters (won't be logged or saved;"
                                    " you must supply these for every operation.)")
SUBMIT_OPTS = [SUBMIT_OPT, PRINT_JOBID_OPT]
#: added to every command unless it defines the same option strings itself
COMMON_OPTS = [DEBUG_OPT, REASON_OPT]


def migration_mode(opts):
    """The migration mode that --non-live or --migration-mode asks (None: the
    hypervisor's default); both at once is refused, as Ganeti does."""
    if not opts.live and opts.migration_mode is not None:
        raise errors.OpPrereqError("Only one of the --non-live and --migration-mode"
                                   " options can be passed", errors.ECODE_INVAL)
    return "non-live" if not opts.live else opts.migration_mode


def parse_fields(selected: str | None, default: Iterable[str]) -> list:
    """The -o value as a field list; a leading '+' appends to ``default``."""
    if selected is None:
        return list(default)
    if selected.startswith("+"):
        return list(default) + [f for f in selected[1:].split(",") if f]
    return [f for f in selected.split(",") if f]


# ---- positional arguments --------------------------------------------------------

class ArgSpec:
    """Positional arguments of one kind: a name for the usage text and counts."""

    def __init__(self, name: str = "<arg>", min_count: int = 0,
                 max_count: int | None = None):
        self.name = name
        self.min_count = min_count
        self.max_count = max_count


ARGS_NONE = []
ARGS_ONE_NODE = [ArgSpec("<node>", 1, 1)]
ARGS_MANY_NODES = [ArgSpec("<node>")]
ARGS_ONE_INSTANCE = [ArgSpec("<instance>", 1, 1)]
ARGS_MANY_INSTANCES = [ArgSpec("<instance>")]
ARGS_ONE_GROUP = [ArgSpec("<group>", 1, 1)]
ARGS_MANY_GROUPS = [ArgSpec("<group>")]


def _check_arguments(cmd, args_spec, args):
    """None if the argument count fits, else the error message."""
    if args_spec is None:
        return None
    if args and not args_spec:
        return "Error: Command %s expects no arguments" % cmd
    min_count = sum(spec.min_count for spec in args_spec)
    if any(spec.max_count is None for spec in args_spec):
        max_count = None
    else:
        max_count = sum(spec.max_count for spec in args_spec)
    if min_count == max_count and len(args) != min_count:
        return "Error: Command %s expects %d argument(s)" % (cmd, min_count)
    if len(args) < min_count:
        return "Error: Command %s expects at least %d argument(s)" % (cmd, min_count)
    if max_count is not None and len(args) > max_count:
        return "Error: Command %s expects only %d argument(s)" % (cmd, max_count)
    return None


# ---- errors and dispatch ------------------------------------------------------------

def _message(err):
    return err.args[0] if len(err.args) == 1 else str(err)


def _format_hooks_abort(err):
    lines = ["Failure: hooks execution failed:"]
    entries = err.args[0] if err.args else []
    if not isinstance(entries, (list, tuple)):
        return "Failure: hooks execution failed: %s" % (entries,)
    for entry in entries:
        if isinstance(entry, (list, tuple)) and len(entry) == 3:
            node, script, out = entry
            if out:
                lines.append("  node: %s, script: %s, output: %s" % (node, script, out))
            else:
                lines.append("  node: %s, script: %s (no output)" % (node, script))
        else:
            lines.append("  %s" % (entry,))
    return "\n".join(lines)


_TIMEOUT_TEXT = ("Timeout while talking to the master daemon. Jobs might have been"
                 " submitted and will continue to run even if the call timed out."
                 " Useful commands in this situation are \"gnt-job list\", \"gnt-job"
                 " cancel\" and \"gnt-job watch\". Error:\n%s")
#: (error class, message template for its text, exit code); first match wins
_ERROR_TEXTS = [
    (errors.ConfigurationError, "Configuration error: %s", constants.EXIT_NOTCLUSTER),
    (errors.HooksFailure, "Failure: hooks general failure: %s", constants.EXIT_FAILURE),
    (errors.OpPrereqError, "Failure: prerequisites not met for this operation:\n%s",
     constants.EXIT_FAILURE),
    (errors.OpExecError, "Failure: command execution error:\n%s", constants.EXIT_FAILURE),
    (errors.TagError, "Failure: invalid tag(s) given:\n%s", constants.EXIT_FAILURE),
    (errors.JobQueueDrainError, "Failure: the job queue is marked for drain and doesn't"
     " accept new requests", constants.EXIT_FAILURE),
    (errors.JobQueueFull, "Failure: the job queue is full and doesn't accept new job"
     " submissions until old jobs are archived", constants.EXIT_FAILURE),
    (errors.TypeEnforcementError, "Parameter Error: %s", constants.EXIT_FAILURE),
    (errors.ParameterError, "Failure: unknown/wrong parameter name '%s'",
     constants.EXIT_FAILURE),
    (errors.TimeoutError, _TIMEOUT_TEXT, constants.EXIT_FAILURE),
    (errors.PermissionError, "It seems you don't have permissions to connect to the"
     " master daemon.\nPlease retry as a different user.", constants.EXIT_FAILURE),
    (errors.ProtocolError, "Unhandled protocol error while talking to the master"
     " daemon:\n%s", constants.EXIT_FAILURE),
    (errors.NotMasterError, "Failure: %s", constants.EXIT_NOTMASTER),
    (errors.JobLost, "Error checking job status: %s", constants.EXIT_FAILURE),
    (errors.GenericError, "Unhandled Ganeti error: %s", constants.EXIT_FAILURE),
    (OSError, "Failure: %s", constants.EXIT_FAILURE),
]


def format_error(err: BaseException) -> tuple:
    """(exit code, message) for an error, as gnt-* commands report it."""
    msg = _message(err) if err.args else ""
    if isinstance(err, errors.HooksAbort):
        return constants.EXIT_FAILURE, _format_hooks_abort(err)
    if isinstance(err, errors.ResolverError):
        return constants.EXIT_FAILURE, "Failure: can't resolve hostname '%s'" % (
            err.args[0] if err.args else "")
    if isinstance(err, errors.OpPrereqError) and len(err.args) == 2:
        return constants.EXIT_FAILURE, (
            "Failure: prerequisites not met for this operation:\n"
            "error type: %s, error details:\n%s" % (err.args[1], err.args[0]))
    if isinstance(err, errors.NoMasterError):
        where = err.args[0] if err.args else pathutils.MASTER_SOCKET
        if where in (pathutils.MASTER_SOCKET, pathutils.QUERY_SOCKET):
            where = "the master daemon"
        else:
            where = "socket '%s'" % where
        return constants.EXIT_NOTMASTER, ("Cannot communicate with %s.\nIs it running"
                                          " and listening for connections?" % where)
    for cls, template, code in _ERROR_TEXTS:
        if isinstance(err, cls):
            if isinstance(err, OSError):
                msg = str(err)
            return code, (template % msg if "%s" in template else template).rstrip("\n")
    return constants.EXIT_FAILURE, "Unhandled exception: %s" % msg


def format_usage(binary: str, commands: dict) -> list:
    """The command list printed by 'gnt-foo --help' and by 'gnt-foo' alone or with
    an unknown command (Ganeti's layout, closing empty line included)."""
    import textwrap
    width = min(60, max([len(name) for name in commands] + [0]))
    lines = ["Usage: %s {command} [options...] [argument...]" % binary,
             "%s <command> --help to see details, or man %s" % (binary, binary),
             "", "Commands:"]
    for name in sorted(commands):
        entry = commands[name]
        desc = entry[4] if len(entry) > 4 and entry[4] else ""
        wrapped = textwrap.wrap(desc, 79 - 3 - width) or [""]
        lines.append(" %-*s - %s" % (width, name, wrapped[0]))
        lines.extend(" %-*s   %s" % (width, "", more) for more in wrapped[1:])
    lines.append("")
    return lines


def _env_words(binary, cmd):
    value = os.environ.get("%s_%s" % (binary.upper().replace("-", "_"),
                                      cmd.upper().replace("-", "_")))
    if not value:
        return []
    import shlex
    return shlex.split(value)


def _build_parser(binary, cmd, options, usage, description):
    """Ganeti's parser: the command's options, then the common ones, then --help
    (optparse adds it last when given the list); titled help with long option
    names first ("--debug, -d"); errors name the program alone."""
    taken = set()
    for option in options:
        taken.update(option._short_opts + option._long_opts)
    common = [option for option in COMMON_OPTS
              if not taken.intersection(option._short_opts + option._long_opts)]
    return optparse.OptionParser(prog=binary, usage="%%prog %s %s" % (cmd, usage),
                                 description=description or None,
                                 option_list=list(options) + common,
                                 option_class=CliOption,
                                 formatter=optparse.TitledHelpFormatter())


def generic_main(commands: dict, aliases: dict | None = None,
                 env_override: Iterable[str] | None = None, override: dict | None = None,
                 argv: list | None = None) -> int:
    """Run one gnt-* command line; returns the exit code.

    ``commands``: {name: (function, args_spec, options, usage, description)};
    ``function(opts, args)`` returns an exit code (None means success).
    ``args_spec`` is a list of ArgSpec (None: no count check). Words of the
    environment variable GNT_<PROG>_<CMD> are put before the arguments, for the
    commands in ``env_override`` (every command when it is None).
    """
    argv = sys.argv if argv is None else argv
    binary = os.path.basename(argv[0]) if argv and argv[0] else "<unknown program>"
    aliases = aliases or {}
    if len(argv) < 2:
        # as Ganeti: the command list on standard output, exit code 1
        for line in format_usage(binary, commands):
            to_stdout(line)
        return constants.EXIT_FAILURE
    cmd = argv[1]
    if cmd == "--help":
        for line in format_usage(binary, commands):
            to_stdout(line)
        return constants.EXIT_SUCCESS
    if cmd == "--version":
        # Ganeti's layout "NAME (VCS version) release", with our own versions
        to_stdout("%s (%s) %s", binary, constants.VCS_VERSION, constants.RELEASE_VERSION)
        return constants.EXIT_SUCCESS
    cmd = aliases.get(cmd, cmd)
    if cmd not in commands:
        for line in format_usage(binary, commands):
            to_stdout(line)
        return constants.EXIT_FAILURE
    func, args_spec, options, usage = commands[cmd][:4]
    cmd_desc = commands[cmd][4] if len(commands[cmd]) > 4 else None
    args = list(argv[2:])
    if env_override is None or cmd in env_override:
        try:
            args = _env_words(binary, cmd) + args
        except ValueError as err:
            to_stderr("Error: cannot parse the default arguments from the environment:"
                      " %s" % err)
            return constants.EXIT_USAGE
    parser = _build_parser(binary, cmd, options, usage, cmd_desc)
    # as Ganeti's: options come first; from the first argument on every word is
    # an argument ("gnt-cluster command ls -l", "grow-disk inst 0 -1G")
    parser.disable_interspersed_args()
    try:
        opts, args = parser.parse_args(args)
    except SystemExit as exc:  # --help (0) or an optparse error (2)
        return exc.code if isinstance(exc.code, int) else constants.EXIT_USAGE
    except errors.GenericError as err:      # a value refused by its type (bool)
        code, msg = format_error(err)
        to_stderr(msg)
        return code
    problem = _check_arguments(cmd, args_spec, args)
    if problem:
        to_stderr(problem)          # Ganeti prints no usage here, and exits with 1
        return constants.EXIT_FAILURE
    for key, value in (override or {}).items():
        setattr(opts, key, value)
    return _run(func, opts, args)


def _run(func, opts, args):
    """Call a command function, turning errors into messages and exit codes."""
    try:
        result = func(opts, args)
    except KeyboardInterrupt:
        to_stderr("Aborted. Note that if the operation created any jobs, they might"
                  " have been submitted and will continue to run in the background.")
        return constants.EXIT_FAILURE
    except BrokenPipeError:
        # our reader went away; keep the final flush at exit quiet
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return constants.EXIT_FAILURE
    except (errors.GenericError, OSError) as err:
        if getattr(opts, "debug", 0):
            import traceback
            traceback.print_exc()
        code, msg = format_error(err)
        to_stderr(msg)
        return code
    if result is None:
        return constants.EXIT_SUCCESS
    return result


# ---- talking to the master ---------------------------------------------------------

def get_client() -> luxi.Client:
    """A LUXI client for the master daemon (FORCE_LUXI_SOCKET: master/query/path)."""
    address = os.environ.get("FORCE_LUXI_SOCKET") or None
    if address == "master":
        address = pathutils.MASTER_SOCKET
    elif address == "query":
        address = pathutils.QUERY_SOCKET
    return luxi.Client(address)


def _set_op_param(op, name, value):
    if isinstance(op, dict):
        op[name] = value
    else:
        setattr(op, name, value)


def _get_op_param(op, name):
    return op.get(name) if isinstance(op, dict) else getattr(op, name, None)


def set_generic_opcode_opts(ops: list, opts) -> None:
    """Fill debug_level, dry_run, priority and the reason trail from ``opts``."""
    if opts is None:
        return
    for op in ops:
        if hasattr(opts, "debug"):
            _set_op_param(op, "debug_level", int(opts.debug or 0))
        if hasattr(opts, "dry_run"):
            _set_op_param(op, "dry_run", bool(opts.dry_run))
        if getattr(opts, "priority", None) is not None:
            _set_op_param(op, "priority", opts.priority)
        add_reason_trail(op, opts)


def add_reason_trail(op, opts) -> None:
    """Append --reason ("gnt:user") and the command ("gnt:client:<program>")
    to an opcode's reason trail."""
    binary = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "unknown"
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    trail = list(_get_op_param(op, "reason") or [])
    if getattr(opts, "reason", None):
        trail.append(["gnt:user", opts.reason, time.time_ns()])
    trail.append(["gnt:client:%s" % binary, command, time.time_ns()])
    _set_op_param(op, "reason", trail)


def send_job(ops: list, cl=None):
    """Submit one job made of ``ops``; returns its id."""
    if cl is None:
        cl = get_client()
    return cl.submit_job(ops)


def format_log_message(log_type: str, message) -> str:
    """The text of one job log entry (non-text payloads as their str())."""
    if log_type == constants.ELOG_MESSAGE and isinstance(message, str):
        return message
    return str(message)


def _merge_time(timestamp):
    if isinstance(timestamp, (list, tuple)) and len(timestamp) == 2:
        return timestamp[0] + timestamp[1] / 1e6
    return float(timestamp)


def _print_log_entry(timestamp, log_type, message):
    to_stdout("%s %s" % (time.ctime(_merge_time(timestamp)),
                         format_log_message(log_type, message)))


def poll_job(job_id, cl=None, feedback_fn: Callable | None = None) -> list:
    """Wait for a job, showing its log; returns the opcode results.

    Log entries go to ``feedback_fn((timestamp, type, message))`` or are printed
    as '<ctime> <message>'. A failed job raises its opcode's error; a canceled
    one raises OpExecError.
    """
    if cl is None:
        cl = get_client()
    prev_job_info = None
    prev_log_serial = None
    status = None
    notified = set()
    while True:
        result = cl.wait_for_job_change_once(job_id, ["status"], prev_job_info,
                                             prev_log_serial)
        if result == "nochange":
            if status in constants.JOBS_FINALIZED:
                break  # nothing more will come
            if feedback_fn is None and status not in notified:
                if status == constants.JOB_STATUS_QUEUED:
                    to_stderr("Job %s is waiting in queue" % job_id)
                elif status == constants.JOB_STATUS_WAITING:
                    to_stderr("Job %s is trying to acquire all necessary locks" % job_id)
                notified.add(status)
            continue
        if not result:
            break  # the job is gone; QueryJobs below tells
        job_info, log_entries = result
        status = job_info[0] if job_info else None
        if log_entries:
            for serial, timestamp, log_type, message in log_entries:
                if feedback_fn is not None:
                    feedback_fn((timestamp, log_type, message))
                else:
                    _print_log_entry(timestamp, log_type, message)
                if prev_log_serial is None or serial > prev_log_serial:
                    prev_log_serial = serial
        elif status in constants.JOBS_FINALIZED or status == constants.JOB_STATUS_CANCELING:
            break
        prev_job_info = job_info
    jobs = cl.query_jobs([job_id], ["status", "opstatus", "opresult"])
    if not jobs or jobs[0] is None:
        raise errors.JobLost("Job with id %s lost" % job_id)
    status, opstatus, opresult = jobs[0]
    if status == constants.JOB_STATUS_SUCCESS:
        return opresult
    if status in (constants.JOB_STATUS_CANCELING, constants.JOB_STATUS_CANCELED):
        # Ganeti's error class: reported as "Unhandled Ganeti error: Job was canceled"
        raise errors.JobCanceled("Job was canceled")
    has_ok = False
    for idx, (op_status, op_result) in enumerate(zip(opstatus or [], opresult or [])):
        if op_status == constants.OP_STATUS_SUCCESS:
            has_ok = True
        elif op_status == constants.OP_STATUS_ERROR:
            encoded = errors.get_encoded_error(op_result)
            if encoded is not None:
                raise encoded
            if has_ok:
                raise errors.OpExecError("partial failure (opcode %d): %s" % (idx, op_result))
            raise errors.OpExecError(str(op_result))
    raise errors.OpExecError("Job %s finished with status '%s': %s"
                             % (job_id, status, opresult))


def submit_op_code(op, cl=None, feedback_fn: Callable | None = None, opts=None):
    """Submit a one-opcode job, wait for it and return the opcode's result."""
    if cl is None:
        cl = get_client()
    set_generic_opcode_opts([op], opts)
    job_id = send_job([op], cl=cl)
    if opts is not None and getattr(opts, "print_jobid", False):
        to_stdout("%s" % job_id)
    return poll_job(job_id, cl=cl, feedback_fn=feedback_fn)[0]


def submit_or_send(op, opts, cl=None, feedback_fn: Callable | None = None):
    """submit_op_code, or with --submit only submit and print 'JobID: <id>' on
    standard error, as Ganeti (None); --print-jobid adds the bare id on stdout."""
    if opts is not None and getattr(opts, "submit_only", False):
        set_generic_opcode_opts([op], opts)
        job_id = send_job([op], cl=cl)
        if getattr(opts, "print_jobid", False):
            to_stdout("%s" % job_id)
        to_stderr("JobID: %s" % job_id)
        return None
    return submit_op_code(op, cl=cl, feedback_fn=feedback_fn, opts=opts)


def submit_jobs_and_wait(jobs: list, cl=None, opts=None,
                         feedback_fn: Callable | None = None) -> list:
    """Submit several jobs (each a list of ops) at once and wait for all.

    Returns [(success, result or error message)] in submission order.
    """
    if cl is None:
        cl = get_client()
    for ops in jobs:
        set_generic_opcode_opts(ops, opts)
    outcome = []
    for ok, job_id in cl.submit_many_jobs(jobs):
        if not ok:
            outcome.append((False, job_id))
            continue
        try:
            outcome.append((True, poll_job(job_id, cl=cl, feedback_fn=feedback_fn)))
        except (errors.GenericError, errors.ProtocolError) as err:
            outcome.append((False, format_error(err)[1]))
    return outcome


def run_named_jobs(named_jobs: list, opts, cl=None, verbose: bool = True) -> list:
    """Ganeti's job executor: submit the jobs of ``named_jobs`` ([(name, [ops])])
    at once; with --submit print "ID: name" for each (a refused one's reason on
    standard error), else wait for them as wait_for_submitted_jobs (``verbose``:
    announce the submitted ids first). Returns [(success, result or message)]."""
    if cl is None:
        cl = get_client()
    for _, ops in named_jobs:
        set_generic_opcode_opts(ops, opts)
    submission = cl.submit_many_jobs([ops for _, ops in named_jobs])
    names = [name for name, _ in named_jobs]
    if getattr(opts, "submit_only", False):
        for (ok, result), name in zip(submission, names):
            if ok:
                to_stdout("%s: %s" % (result, name))
            else:
                to_stderr("Failure for %s: %s" % (name, result))
        return [(ok, result) for ok, result in submission]
    return wait_for_submitted_jobs(submission, cl=cl, names=names, verbose=verbose)


def wait_for_submitted_jobs(submission: list, cl=None, feedback_fn: Callable | None = None,
                            names: list | None = None, verbose: bool = True) -> list:
    """Wait for jobs already submitted (``submission``: [[ok, job id or message]],
    as a job-submitting opcode returns them), printing what Ganeti's job executor
    prints: "Submitted jobs 4, 5" (if ``verbose``), then "Waiting for job 4 ..."
    for each, taking first a job that already runs or ended. Returns [(success,
    result or error message)] in submission order; a failed job's error goes to
    standard error.
    """
    if cl is None:
        cl = get_client()
    names = list(names or [None] * len(submission))
    ok_ids = [str(job_id) for ok, job_id in submission if ok]
    if ok_ids and verbose:
        to_stdout("Submitted jobs %s" % ", ".join(ok_ids))
    results = {}
    pending = []
    for idx, ((ok, job_id), name) in enumerate(zip(submission, names)):
        suffix = " for %s" % name if name else ""
        if ok:
            pending.append((idx, job_id, suffix))
        else:
            to_stderr("Failed to submit job%s: %s" % (suffix, job_id))
            results[idx] = (False, job_id)
    while pending:
        idx, job_id, suffix = _next_job_to_wait_for(cl, pending)
        to_stdout("Waiting for job %s%s ..." % (job_id, suffix))
        try:
            results[idx] = (True, poll_job(job_id, cl=cl, feedback_fn=feedback_fn))
        except errors.JobLost as err:
            to_stderr("Job %s%s has been archived, cannot check its result"
                      % (job_id, suffix))
            results[idx] = (False, format_error(err)[1])
        except (errors.GenericError, errors.ProtocolError) as err:
            message = format_error(err)[1]
            to_stderr("Job %s%s has failed: %s" % (job_id, suffix, message))
            results[idx] = (False, message)
    return [results[idx] for idx in sorted(results)]


def _next_job_to_wait_for(cl, pending):
    """Remove and return the first pending job that runs or ended (else the first)."""
    statuses = cl.query_jobs([job_id for _, job_id, _ in pending], ["status"])
    for entry, status in zip(list(pending), statuses):
        if not (status and status[0] in constants.JOBS_PENDING):
            pending.remove(entry)
            return entry
    return pending.pop(0)
