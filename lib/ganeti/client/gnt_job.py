"""gnt-job: list, inspect, follow, cancel and archive jobs."""

import sys

from ganeti import cli, constants, errors
from ganeti.client import infofmt
from ganeti.utils import text

_LIST_DEF_FIELDS = ["id", "status", "summary"]
_ARGS_JOBS = [cli.ArgSpec("<job-id>")]
_ARGS_JOBS_ONE_OR_MORE = [cli.ArgSpec("<job-id>", 1, None)]
_ARGS_ONE_JOB = [cli.ArgSpec("<job-id>", 1, 1)]
_ARGS_AGE = [cli.ArgSpec("<age>", 1, 1)]

_STATUS_FILTERS = {
    "pending": list(constants.JOBS_PENDING),
    "running": [constants.JOB_STATUS_RUNNING],
    "error": [constants.JOB_STATUS_ERROR],
    "finished": list(constants.JOBS_FINALIZED),
    "queued": [constants.JOB_STATUS_QUEUED],
    "waiting": [constants.JOB_STATUS_WAITING],
}


def _parse_job_ids(args):
    ids = []
    for arg in args:
        try:
            ids.append(int(arg))
        except ValueError:
            raise errors.OpPrereqError("Invalid job ID passed: invalid literal for int()"
                                       " with base 10: '%s'" % arg, errors.ECODE_INVAL)
    return ids


def _status_filter(opts):
    statuses = _STATUS_FILTERS.get(getattr(opts, "status_filter", None) or "")
    if not statuses:
        return None
    return ["|"] + [["==", "status", s] for s in sorted(statuses)]


def list_jobs(opts, args):
    """List jobs with the selected fields (default: ID Status Summary)."""
    fields = cli.parse_fields(opts.output, _LIST_DEF_FIELDS)
    ids = _parse_job_ids(args) if not opts.force_filter else []
    qfilter = _status_filter(opts)
    if ids:
        idf = ["|"] + [["==", "id", i] for i in ids]
        qfilter = ["&", qfilter, idf] if qfilter else idf
    if opts.force_filter:
        from ganeti import qlang
        textf = qlang.parse_filter(" ".join(args))
        qfilter = ["&", qfilter, textf] if qfilter else textf
    if opts.archived and "archived" not in fields:
        fields.append("archived")
    return cli.generic_list("job", fields, [], opts.units, opts.separator,
                            not opts.no_headers, verbose=opts.verbose, qfilter=qfilter,
                            namefield="id")


def list_fields(opts, args):
    return cli.generic_list_fields("job", args, opts.separator, not opts.no_headers)


def _fmt_ts(ts):
    return cli.format_timestamp(ts, with_usecs=True)


def _delta(from_ts, to_ts):
    return to_ts[0] - from_ts[0] + (to_ts[1] - from_ts[1]) / 1000000.0


def _job_ts(name, ts, prior=None):
    """A job's time stamp line, with the time since ``prior``, as Ganeti."""
    if ts is None:
        return (name, "unknown (None)", "job")
    delta = " (delta %.6fs)" % _delta(prior, ts) if prior is not None else ""
    return (name, _fmt_ts(ts) + delta, "job")


def _op_ts(name, ts):
    return (name, _fmt_ts(ts), "opcode")


def _job_info(row):
    """The info tree of one job (Ganeti's layout: gnt-job info)."""
    (jid, status, ops, opresult, opstatus, oplog, opstart, opexec, opend,
     recv_ts, start_ts, end_ts) = row
    info = [("Job ID", jid), ("Status", status),
            _job_ts("Received", recv_ts),
            _job_ts("Processing start", start_ts, recv_ts),
            _job_ts("Processing end", end_ts, start_ts)]
    if end_ts is not None and recv_ts is not None:
        info.append(("Total processing time", "%.6f seconds" % _delta(recv_ts, end_ts)))
    else:
        info.append(("Total processing time", "N/A"))
    opcodes = []
    for op, result, status, log, s_ts, x_ts, e_ts in zip(ops, opresult, opstatus, oplog,
                                                         opstart, opexec, opend):
        # a log entry's time holds colons: kept apart from the content for YAML
        entries = [[("Time", _fmt_ts(ts)),
                    ("Content", (serial, ltype, cli.format_log_message(ltype, msg)))]
                   for serial, ts, ltype, msg in log]
        opcodes.append([("Opcode", op.get("OP_ID")), ("Status", status),
                        _op_ts("Processing start", s_ts),
                        _op_ts("Execution start", x_ts),
                        _op_ts("Processing end", e_ts),
                        ("Input fields", op), ("Result", result),
                        ("Execution log", entries)])
    info.append(("Opcodes", opcodes))
    return info


def show_jobs(opts, args):
    """Print everything about the given jobs (an unknown one as "Job ID N not
    found", still exit code 0, as Ganeti)."""
    fields = ["id", "status", "ops", "opresult", "opstatus", "oplog",
              "opstart", "opexec", "opend", "received_ts", "start_ts", "end_ts"]
    ids = _parse_job_ids(args)
    result = cli.get_client().query_jobs(ids, fields)
    jobs = [_job_info(row) if row is not None else "Job ID %s not found" % job_id
            for job_id, row in zip(ids, result)]
    if jobs:
        sys.stdout.write("\n".join(infofmt.format_data(jobs)) + "\n")
    return constants.EXIT_SUCCESS


def watch_job(opts, args):
    """Follow a job's log until it ends; the exit code tells how it ended."""
    job_id = _parse_job_ids(args)[0]
    cl = cli.get_client()
    header = "Output from job %s follows" % job_id
    sys.stdout.write("%s\n%s\n" % (header, "-" * len(header)))    # as long, as Ganeti
    sys.stdout.flush()
    if cl.query_jobs([job_id], ["status"])[0] is None:
        cli.to_stderr("Job %s failed: Error checking job status: Can't load job file"
                      % job_id)
        return constants.EXIT_FAILURE
    try:
        cli.poll_job(job_id, cl=cl)
    except errors.GenericError as err:
        code, msg = cli.format_error(err)
        cli.to_stderr("Job %s failed: %s" % (job_id, msg))
        return code
    return constants.EXIT_SUCCESS


def wait_job(opts, args):
    job_id = _parse_job_ids(args)[0]
    try:
        cli.poll_job(job_id, feedback_fn=lambda *a: None)
    except errors.GenericError:
        return constants.EXIT_FAILURE
    return constants.EXIT_SUCCESS


#: Ganeti's words for neither or both of job ids and a status selection
_IDS_OR_STATUS = "Either a status filter or job ID(s) must be specified and never both"


def _select_jobs(opts, args, cl, question):
    """The job IDs to act on: the arguments, or the jobs in the selected states.

    A selection by state is listed (ID Status Summary) and confirmed with
    ``question`` unless --force; None when the user says no.
    """
    if args:
        if any(getattr(opts, s, False) for s in ("pending", "queued", "waiting")):
            raise errors.OpPrereqError(_IDS_OR_STATUS, errors.ECODE_INVAL)
        return _parse_job_ids(args)
    statuses = set()
    if getattr(opts, "pending", False):
        statuses |= constants.JOBS_PENDING          # canceling ones too, as Ganeti
    if getattr(opts, "queued", False):
        statuses.add(constants.JOB_STATUS_QUEUED)
    if getattr(opts, "waiting", False):
        statuses.add(constants.JOB_STATUS_WAITING)
    if not statuses:
        raise errors.OpPrereqError(_IDS_OR_STATUS, errors.ECODE_INVAL)
    qfilter = ["|"] + [["==", "status", s] for s in sorted(statuses)]
    response = cl.query("job", _LIST_DEF_FIELDS, qfilter)
    ids = [row[0][1] for row in response["data"]]
    if not ids:
        raise errors.OpPrereqError("No jobs with the requested status have been found",
                                   errors.ECODE_STATE)
    if not opts.force:
        for line in cli.format_query_result(response, resource="job"):
            cli.to_stdout(line)
        if not cli.ask_user(question):
            return None
    return ids


def cancel_jobs(opts, args):
    """Cancel queued or waiting jobs."""
    if opts.kill and not opts.yes_do_it:
        raise errors.OpPrereqError("The --kill option must be confirmed with --yes-do-it",
                                   errors.ECODE_INVAL)
    cl = cli.get_client()
    ids = _select_jobs(opts, args, cl, "%s job(s) listed above?"
                       % ("KILL" if opts.kill else "Cancel"))
    if ids is None:
        return constants.EXIT_CONFIRMATION
    rc = constants.EXIT_SUCCESS
    for job_id in ids:
        ok, msg = cl.cancel_job(job_id, bool(getattr(opts, "kill", False)))
        if not ok:
            rc = constants.EXIT_FAILURE
        sys.stdout.write("%s\n" % msg)
    return rc


def archive_jobs(opts, args):
    """Move finished jobs to the archive."""
    cl = cli.get_client()
    rc = constants.EXIT_SUCCESS
    for job_id in _parse_job_ids(args):
        if not cl.archive_job(job_id):
            cli.to_stderr("Failed to archive job with ID '%s'" % job_id)
            rc = constants.EXIT_FAILURE
    return rc


def auto_archive_jobs(opts, args):
    """Archive finished jobs older than AGE (s/m/h/d/w suffix) or 'all'."""
    age = args[0]
    if age == "all":
        seconds = -1
    else:
        seconds = text.parse_time_spec(age)
    archived, left = cli.get_client().auto_archive_jobs(seconds, 60)
    sys.stdout.write("Archived %s jobs, %s unchecked left\n" % (archived, left))
    return constants.EXIT_SUCCESS


def change_priority(opts, args):
    cl = cli.get_client()
    prio = opts.priority
    if prio is None:
        raise errors.OpPrereqError("Missing --priority", errors.ECODE_INVAL)
    ids = _select_jobs(opts, args, cl, "Change priority of job(s) listed above?")
    if ids is None:
        return constants.EXIT_CONFIRMATION
    rc = constants.EXIT_SUCCESS
    for job_id in ids:
        ok, msg = cl.change_job_priority(job_id, prio)
        if not ok:
            rc = constants.EXIT_FAILURE
        sys.stdout.write("%s\n" % msg)
    return rc


def _status_opt(flag, value, text):
    return cli.cli_option(flag, dest="status_filter", action="store_const", const=value,
                          help=text)


# The texts of Ganeti's options. The --pending of cancel and change-priority selects
# the queued, waiting and canceling jobs, the other status options of these
# commands add their state to the selection.
_PENDING_TEXT = "Select jobs pending execution or being cancelled"
_PENDING_OPT = cli.cli_option("--pending", dest="pending", action="store_true",
                              default=False, help=_PENDING_TEXT)
_QUEUED_OPT = cli.cli_option("--queued", dest="queued", action="store_true",
                             default=False, help="Select queued jobs only")
_WAITING_OPT = cli.cli_option("--waiting", dest="waiting", action="store_true",
                              default=False, help="Select waiting jobs only")
_SELECT_OPTS = [_PENDING_OPT, _QUEUED_OPT, _WAITING_OPT]
_KILL_OPT = cli.cli_option("--kill", dest="kill", action="store_true", default=False,
                           help="Kill running jobs too (refused for a running job: jobs"
                           " run inside the master daemon and cannot be killed)")

COMMANDS = {
    "list": (list_jobs, _ARGS_JOBS, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.FIELDS_OPT, cli.VERBOSE_OPT, cli.FILTER_OPT,
        _status_opt("--pending", "pending", _PENDING_TEXT),
        _status_opt("--running", "running", "Show jobs currently running only"),
        _status_opt("--error", "error", "Show failed jobs only"),
        _status_opt("--finished", "finished", "Show finished jobs only"),
        cli.cli_option("--archived", dest="archived", action="store_true", default=False,
                       help="Include archived jobs in list (slow and expensive)"),
        cli.UNITS_OPT,      # not in Ganeti 3.0's gnt-job list
    ], "[<job-id>...]", "Lists the jobs and their status. The available fields can be"
        " shown using the \"list-fields\" command (see the man page for details)."
        " The default field list is (in order): %s." % ", ".join(_LIST_DEF_FIELDS)),
    "list-fields": (list_fields, [cli.ArgSpec("<field>")], [cli.NOHDR_OPT, cli.SEP_OPT],
                    "[<fields>...]", "Lists all available fields for jobs"),
    "archive": (archive_jobs, _ARGS_JOBS_ONE_OR_MORE, [], "<job-id> [<job-id>...]",
                "Archive specified jobs"),
    "autoarchive": (auto_archive_jobs, _ARGS_AGE, [], "<age>",
                    "Auto archive jobs older than the given age"),
    "cancel": (cancel_jobs, _ARGS_JOBS, [cli.FORCE_OPT, _KILL_OPT] + _SELECT_OPTS + [
        cli.cli_option("--yes-do-it", "--ya-rly", dest="yes_do_it", action="store_true",
                       default=False, help="Really use --kill")],
               "{[--force] [--kill --yes-do-it] {--pending | --queued | --waiting} |"
               " <job-id> [<job-id>...]}",
               "Cancel jobs"),
    "info": (show_jobs, _ARGS_JOBS_ONE_OR_MORE, [], "<job-id> [<job-id>...]",
             "Show detailed information about the specified jobs"),
    "wait": (wait_job, _ARGS_ONE_JOB, [], "<job-id>", "Wait for a job to finish"),
    "watch": (watch_job, _ARGS_ONE_JOB, [], "<job-id>",
              "Follows a job and prints its output as it arrives"),
    "change-priority": (change_priority, _ARGS_JOBS, [cli.PRIORITY_OPT, cli.FORCE_OPT]
                        + _SELECT_OPTS,
                        "--priority <priority> {[--force] {--pending | --queued |"
                        " --waiting} | <job-id> [<job-id>...]}",
                        "Change the priority of jobs"),
}


def main():
    return cli.generic_main(COMMANDS)
