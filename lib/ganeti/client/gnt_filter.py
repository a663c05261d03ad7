"""gnt-filter: the job filter rules (the master stores them, cmdlib/filter.py;
the job queue applies them, jqueue/filtering.py).

The options, usage texts and output are Ganeti 3.0.2's. The commands talk to
the master daemon directly (LUXI ReplaceFilter, DeleteFilter, QueryFilters,
Query): changing a rule is not a job.
"""

import json
import optparse
import re
import time

from ganeti import cli, constants

_LIST_DEF_FIELDS = ["uuid", "watermark", "priority", "predicates", "action",
                    "reason_trail"]
_INFO_FIELDS = _LIST_DEF_FIELDS
#: --reason of add and replace: the first entry of the rule's reason trail
_USER_REASON_SOURCE = "gnt:user"


def _check_json(option, opt, value):
    try:
        return json.loads(value)
    except ValueError as err:
        raise optparse.OptionValueError("option %s: invalid JSON value: %r (%s)"
                                        % (opt, value, err))


def _check_action(option, opt, value):
    """'RATE_LIMIT n' becomes ["RATE_LIMIT", n]; other words go to the master
    as they are (it refuses unknown ones)."""
    match = re.fullmatch(r"\s*RATE_LIMIT\s+(\d+)\s*", value)
    if match:
        return ["RATE_LIMIT", int(match.group(1))]
    return value


class _FilterOption(cli.CliOption):
    """The option types of gnt-filter: json, filteraction."""

    TYPES = cli.CliOption.TYPES + ("json", "filteraction")
    TYPE_CHECKER = dict(cli.CliOption.TYPE_CHECKER, json=_check_json,
                        filteraction=_check_action)


PRIORITY_OPT = _FilterOption("--priority", dest="priority", action="store", default=0,
                             type="int", help="Priority for filter processing")
PREDICATES_OPT = _FilterOption("--predicates", dest="predicates", action="store",
                               default=[], type="json",
                               help="List of predicates in the Ganeti query language,"
                               " given as a JSON list.")
ACTION_OPT = _FilterOption("--action", dest="action", action="store", default="CONTINUE",
                           type="filteraction",
                           help="The effect of the filter. Can be one of 'ACCEPT', 'PAUSE',"
                           " 'REJECT', 'CONTINUE' and '[RATE_LIMIT, n]', where n is a"
                           " positive integer.")
_RULE_OPTS = [PRIORITY_OPT, PREDICATES_OPT, ACTION_OPT]

ARGS_ONE_FILTER = [cli.ArgSpec("<filter-uuid>", 1, 1)]
ARGS_MANY_FILTERS = [cli.ArgSpec("<filter-uuid>")]


def _reason(opts):
    if not opts.reason:
        return []
    return [[_USER_REASON_SOURCE, opts.reason, time.time_ns()]]


def _replace(opts, uuid):
    cl = cli.get_client()
    result = cl.replace_filter(uuid, opts.priority, opts.predicates, opts.action,
                               _reason(opts))
    cli.to_stdout("%s" % result)          # the rule's UUID
    return constants.EXIT_SUCCESS


def add_filter(opts, args):
    """Add a rule; the master gives it a UUID, which is printed."""
    return _replace(opts, None)


def replace_filter(opts, args):
    """Replace the rule with this UUID (or add one with it)."""
    return _replace(opts, args[0])


def delete_filter(opts, args):
    cli.get_client().delete_filter(args[0])
    return constants.EXIT_SUCCESS


def list_filters(opts, args):
    fields = cli.parse_fields(opts.output, _LIST_DEF_FIELDS)
    return cli.generic_list("filter", fields, args, None, opts.separator,
                            not opts.no_headers, verbose=opts.verbose, namefield="uuid")


def list_fields(opts, args):
    return cli.generic_list_fields("filter", args, opts.separator, not opts.no_headers)


def show_filter_info(opts, args):
    """The rules named (all without names); unknown UUIDs print nothing."""
    rows = cli.get_client().query_filters(args, _INFO_FIELDS)
    for uuid, watermark, priority, predicates, action, reason_trail in rows:
        cli.to_stdout("UUID: %s" % uuid)
        cli.to_stdout("  Watermark: %s" % watermark)
        cli.to_stdout("  Priority: %s" % priority)
        cli.to_stdout("  Predicates: %s" % predicates)
        cli.to_stdout("  Action: %s" % action)
        cli.to_stdout("  Reason trail: %s" % reason_trail)
    return constants.EXIT_SUCCESS


COMMANDS = {
    "add": (add_filter, cli.ARGS_NONE, _RULE_OPTS, "", "Adds a new filter rule"),
    "list": (list_filters, ARGS_MANY_FILTERS,
             [cli.NOHDR_OPT, cli.SEP_OPT, cli.FIELDS_OPT, cli.VERBOSE_OPT],
             "[<filter-uuid>...]",
             "Lists the job filter rules. The available fields can be shown using the"
             " \"list-fields\" command (see the man page for details). The default list"
             " is (in order): %s." % ", ".join(_LIST_DEF_FIELDS)),
    "list-fields": (list_fields, [cli.ArgSpec("<fields>")], [cli.NOHDR_OPT, cli.SEP_OPT],
                    "[<fields>...]", "Lists all available fields for filters"),
    "info": (show_filter_info, ARGS_MANY_FILTERS, [], "[<filter-uuid>...]",
             "Shows information about the filter(s)"),
    "replace": (replace_filter, ARGS_ONE_FILTER, _RULE_OPTS, "<filter-uuid>",
                "Replaces a filter"),
    "delete": (delete_filter, ARGS_ONE_FILTER, [], "<filter-uuid>", "Removes a filter"),
}


def main():
    # as Ganeti: no command takes default arguments from the environment
    return cli.generic_main(COMMANDS, env_override=[])
