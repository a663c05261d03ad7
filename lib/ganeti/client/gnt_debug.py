"""gnt-debug: debugging commands (delay, locks, submit-job, test-jobqueue,
test-osparams, iallocator)."""

import math
import sys

from ganeti import cli, constants, errors, opcodes, serializer


def delay(opts, args):
    """Sleep for a while, on the master and/or nodes (OP_TEST_DELAY)."""
    try:
        duration = float(args[0])
        if not math.isfinite(duration):     # "inf" would never end, "nan" never start
            raise ValueError(args[0])
    except ValueError:
        raise errors.OpPrereqError("Invalid duration '%s': expected a number of seconds"
                                   % args[0], errors.ECODE_INVAL)
    op = opcodes.OpTestDelay(duration=duration, on_master=opts.on_master,
                             on_nodes=opts.on_nodes or [], repeat=opts.repeat,
                             interruptible=opts.interruptible, no_locks=opts.no_locks)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def submit_job(opts, args):
    """Submit each FILE (a JSON list of opcode dicts) as one job.

    --timing-stats (as Ganeti): say each stage, wait for all jobs, then print
    the opcode and job counts and the seconds spent submitting and executing.
    """
    import time
    cl = cli.get_client()
    if opts.timing_stats:
        sys.stdout.write("Loading...\n")
    jobs = []
    for path in args:
        try:
            with open(path) as fd:
                ops = serializer.load_json(fd.read())
        except (OSError, ValueError) as err:
            raise errors.OpPrereqError("Cannot read job file %s: %s" % (path, err),
                                       errors.ECODE_INVAL)
        if not isinstance(ops, list):
            raise errors.OpPrereqError("Job file %s must hold a JSON list of opcodes"
                                       % path, errors.ECODE_INVAL)
        ops = [opcodes.OpCode.from_dict(op).to_dict() for op in ops]
        for op in ops:          # --dry-run and --priority apply to every opcode
            if opts.dry_run:
                op["dry_run"] = True
            if opts.priority is not None:
                op["priority"] = opts.priority
            cli.add_reason_trail(op, opts)      # --reason, as every job gets it
        ops = ops * opts.rep_op
        jobs.extend([ops] * opts.rep_job)
    if opts.timing_stats:
        t_submit = time.time()
        sys.stdout.write("Submitting...\n")
    if opts.each:               # one submission per job, as Ganeti's --each
        results = [[True, cl.submit_job(ops)] for ops in jobs]
    else:
        results = cl.submit_many_jobs(jobs)
    if opts.timing_stats:
        t_exec = time.time()
        sys.stdout.write("Executing...\n")
    failed = False
    for ok, value in results:
        if ok:
            if opts.verbose:
                sys.stdout.write("Job ID: %s\n" % value)
            if not (opts.each or opts.timing_stats):
                continue
            cli.poll_job(value, cl=cl)
        else:
            failed = True
            sys.stderr.write("Failed to submit job: %s\n" % value)
    if not opts.verbose and not opts.each:
        ids = [str(v) for ok, v in results if ok]
        sys.stdout.write("Submitted jobs %s\n" % ", ".join(ids))
    if opts.timing_stats:
        t_end = time.time()
        sys.stdout.write("C:op     %4d\n" % sum(len(ops) for ops in jobs))
        sys.stdout.write("C:job    %4d\n" % len(jobs))
        sys.stdout.write("T:submit %4.4f\n" % (t_exec - t_submit))
        sys.stdout.write("T:exec   %4.4f\n" % (t_end - t_exec))
        sys.stdout.write("T:total  %4.4f\n" % (t_end - t_submit))
    return constants.EXIT_FAILURE if failed else constants.EXIT_SUCCESS


def test_jobqueue(opts, args):
    """Run OP_TEST_JQUEUE: log messages, optionally fail."""
    op = opcodes.OpTestJqueue(log_messages=["Hello from the job queue test"],
                              fail=opts.fail)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def test_osparams(opts, args):
    """Send secret OS parameters to a job that feeds them back
    (OP_TEST_OS_PARAMS); the job file never holds them."""
    op = opcodes.OpTestOsParams(osparams_secret=opts.osparams_secret or None)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def _dash_if_empty(fn):
    return lambda value: fn(value) if value else "-"


def _format_pending(value):
    return ",".join("%s:%s" % (mode, ",".join(map(str, owners))) for mode, owners in value)


def _format_seconds(value):
    return ",".join("%.1f" % secs for secs in value)


_LOCK_FORMAT = {
    "mode": (_dash_if_empty(str), False),
    "owner": (_dash_if_empty(lambda v: ",".join(map(str, v))), False),
    "pending": (_dash_if_empty(_format_pending), False),
    # ours (-o +owner_time,pending_time): seconds, in the order of the names
    "owner_time": (_dash_if_empty(_format_seconds), False),
    "pending_time": (_dash_if_empty(lambda v: ",".join(
        "%s:%s" % (mode, _format_seconds(secs)) for mode, secs in v)), False),
}


def list_locks(opts, args):
    """Show the master daemon's locks (gnt-debug locks); with --interval N, again
    every N seconds (an empty line between listings) until interrupted or failed."""
    import time
    if opts.interval is not None and opts.interval <= 0:
        raise errors.OpPrereqError("The interval must be a positive number of seconds,"
                                   " not %s" % opts.interval, errors.ECODE_INVAL)
    fields = cli.parse_fields(opts.output, ["name", "mode", "owner", "pending"])
    while True:
        code = cli.generic_list("lock", fields, [], None, opts.separator,
                                not opts.no_headers, verbose=opts.verbose,
                                format_override=_LOCK_FORMAT)
        if code != constants.EXIT_SUCCESS or not opts.interval:
            return code
        sys.stdout.write("\n")
        sys.stdout.flush()
        time.sleep(opts.interval)


_DELAY_OPTS = [
    cli.cli_option("--no-master", dest="on_master", default=True, action="store_false",
                   help="Do not sleep in the master code"),
    cli.cli_option("-n", "--node", dest="on_nodes", default=None, action="append",
                   help="Select nodes to sleep on"),
    cli.cli_option("-r", "--repeat", type="int", default=0, dest="repeat",
                   help="Number of times to repeat the sleep"),
    cli.cli_option("-i", "--interruptible", default=False, dest="interruptible",
                   action="store_true",
                   help="Allows the opcode to be interrupted by using a domain"
                   " socket"),
    cli.cli_option("-l", "--no-locks", default=False, dest="no_locks",
                   action="store_true",
                   help="Don't take locks while performing the delay"),
    # our own additions (not in Ganeti 3.0): --node above, --on-master, --on-nodes
    cli.cli_option("--on-master", dest="on_master", action="store_true",
                   help="Sleep on the master (the default)"),
    cli.cli_option("--on-nodes", dest="on_nodes", action="append",
                   help="Sleep on this node as well (may be repeated)"),
    cli.DRY_RUN_OPT, cli.PRIORITY_OPT,
] + cli.SUBMIT_OPTS

def test_allocator(opts, args):
    """Show an allocator's input or its answer for a request (OP_TEST_ALLOCATOR)."""
    from ganeti.utils import text
    try:
        disks = [{"size": text.parse_unit(val), "mode": "rw"}
                 for val in opts.disks.split(",")]
    except errors.UnitParseError as err:
        cli.to_stderr("Invalid disks parameter '%s': %s" % (opts.disks, err))
        return constants.EXIT_FAILURE
    nics = []
    for spec in opts.nics.split(","):
        row = (spec.split("/") + [None, None, None])[:3]
        row = [value or None for value in row]
        nics.append({"mac": row[0], "ip": row[1], "bridge": row[2]})
    op = opcodes.OpTestAllocator(
        mode=opts.mode, name=args[0], instances=args, memory=opts.memory, disks=disks,
        disk_template=opts.disk_template, nics=nics, os=opts.os, vcpus=opts.vcpus,
        tags=opts.tags.split(",") if opts.tags else [], direction=opts.direction,
        iallocator=opts.iallocator, evac_mode=opts.evac_mode,
        target_groups=opts.target_groups or [], spindle_use=opts.spindle_use,
        count=opts.count)
    cli.to_stdout("%s" % cli.submit_op_code(op, opts=opts))
    return constants.EXIT_SUCCESS


_ALLOCATOR_MODES = ["node-evacuate", "allocate-secondary", "change-group",
                    "multi-allocate", "relocate", "allocate"]
_EVAC_MODES = ["secondary-only", "primary-only", "all"]

COMMANDS = {
    "iallocator": (test_allocator, [cli.ArgSpec("<instance>", 1, None)], [
        cli.cli_option("--dir", dest="direction", default="in", choices=["in", "out"],
                       help="Show allocator input (in) or allocator results (out)"),
        cli.IALLOCATOR_OPT,
        cli.cli_option("-m", "--mode", default="relocate", choices=_ALLOCATOR_MODES,
                       help="Request mode (one of %s)" % ", ".join(_ALLOCATOR_MODES)),
        cli.cli_option("--memory", default=128, type="unit",
                       help="Memory size for the instance (MiB)"),
        cli.cli_option("--disks", default="4096,4096",
                       help="Comma separated list of disk sizes (MiB)"),
        cli.cli_option("-t", "--disk-template", dest="disk_template", default=None,
                       metavar="TEMPL", help="Custom disk setup (plain, sharedfile,"
                       " gluster, diskless, drbd, blockdev, rbd, file, ext)"),
        cli.cli_option("--nics", default="00:11:22:33:44:55",
                       help="Comma separated list of nics, each nic definition is of"
                       " form mac/ip/bridge, if missing values are replace by None"),
        cli.cli_option("-o", "--os-type", dest="os", default=None, metavar="<os>",
                       help="What OS to run"),
        cli.cli_option("-p", "--vcpus", default=1, type="int",
                       help="Select number of VCPUs for the instance"),
        cli.cli_option("--tags", default=None, help="Comma separated list of tags"),
        cli.cli_option("--evac-mode", default="all", choices=_EVAC_MODES,
                       help="Node evacuation mode (one of %s)" % ", ".join(_EVAC_MODES)),
        cli.cli_option("--target-groups", help="Target groups for relocation",
                       default=[], action="append"),
        cli.cli_option("--spindle-use", help="How many spindles to use", default=1,
                       type="int"),
        cli.cli_option("--count", help="How many instances to allocate", default=2,
                       type="int"),
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT],
        "{<opts>...} <instance-name>", "Executes a TestAllocator OpCode"),
    "delay": (delay, [cli.ArgSpec("<duration>", 1, 1)], _DELAY_OPTS,
              "[<opts>...] <duration>", "Executes a TestDelay OpCode"),
    "submit-job": (submit_job, [cli.ArgSpec("<op_list_file>", 1, None)], [
        cli.VERBOSE_OPT,
        cli.cli_option("--op-repeat", type="int", default=1, dest="rep_op",
                       help="Repeat the opcode sequence this number of times"),
        cli.cli_option("--job-repeat", type="int", default=1, dest="rep_job",
                       help="Repeat the job this number of times"),
        cli.cli_option("--timing-stats", default=False, action="store_true",
                       dest="timing_stats", help="Show timing stats"),
        cli.cli_option("--each", default=False, action="store_true", dest="each",
                       help="Submit each job separately"),
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT,
    ], "<op-list-file>...", "Submits jobs built from json files containing a list of"
        " serialized opcodes"),
    "test-jobqueue": (test_jobqueue, cli.ARGS_NONE, [
        cli.PRIORITY_OPT,
        # our own (Ganeti's test-jobqueue runs a series of test jobs instead)
        cli.cli_option("--fail", default=False, action="store_true", dest="fail",
                       help="Make the opcode fail")] + cli.SUBMIT_OPTS,
        "", "Test a few aspects of the job queue"),
    "test-osparams": (test_osparams, cli.ARGS_NONE,
                      [cli.OSPARAMS_SECRET_OPT] + cli.SUBMIT_OPTS,
                      "[--os-parameters-secret <params>]",
                      "Test secret os parameter transmission"),
    "locks": (list_locks, cli.ARGS_NONE, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.FIELDS_OPT,
        cli.cli_option("--interval", dest="interval", type="int", default=None,
                       help="Number of seconds between repetions of the command"),
        cli.VERBOSE_OPT],
              "[--interval N]", "Show a list of locks in the master daemon"),
}


def main():
    return cli.generic_main(COMMANDS)
