"""Out-of-band management on the command line: ``gnt-node power``, ``gnt-node
health`` and ``gnt-cluster epo`` (emergency power off), with Ganeti's output.

All three submit OP_OOB_COMMAND (cmdlib/oob.py); epo also stops and starts the
instances of the nodes it powers off and on.
"""

import socket
import time

from ganeti import cli, constants, errors
from ganeti.cli_output import _STATUS_TEXT

OOB_TIMEOUT_OPT = cli.cli_option("--oob-timeout", dest="oob_timeout", type="int",
                                 default=constants.OOB_TIMEOUT,
                                 help="Maximum time to wait for out-of-band helper")
POWER_DELAY_OPT = cli.cli_option("--power-delay", dest="power_delay", type="float",
                                 default=constants.OOB_POWER_DELAY,
                                 help="Time in seconds to wait between power-ons")
IGNORE_STATUS_OPT = cli.cli_option("--ignore-status", dest="ignore_status", default=False,
                                   action="store_true",
                                   help="Ignore the Node(s) offline status (potentially"
                                   " DANGEROUS)")
ON_OPT = cli.cli_option("--on", dest="on", default=False, action="store_true",
                        help="Recover from an EPO")
GROUPS_OPT = cli.cli_option("--groups", dest="groups", default=False, action="store_true",
                            help="Arguments are node groups instead of nodes")
ALL_OPT = cli.cli_option("--all", dest="show_all", default=False, action="store_true",
                         help="Show info on all instances on the cluster. This can take a"
                         " long time to run, use wisely")

POWER_COMMANDS = ["on", "off", "cycle", "status"]
#: power commands that need named nodes and a confirmation
_ASK = (constants.OOB_POWER_OFF, constants.OOB_POWER_CYCLE)
_HEADERS = {"node": "Node", "status": "Status"}

# gnt-cluster epo: how nodes are awaited after powering them on (Ganeti's values)
EPO_PING_INTERVAL = 30
EPO_PING_TIMEOUT = 1
EPO_REACHABLE_TIMEOUT = 15 * 60


def _check_numbers(opts):
    """Refuse option values OP_OOB_COMMAND would refuse, before anything is done."""
    if opts.oob_timeout <= 0:
        raise errors.OpPrereqError("The out-of-band timeout must be a positive number of"
                                   " seconds, not %s" % opts.oob_timeout,
                                   errors.ECODE_INVAL)
    if getattr(opts, "power_delay", 0) < 0:
        raise errors.OpPrereqError("The power delay must not be negative (%s)"
                                   % opts.power_delay, errors.ECODE_INVAL)
    if getattr(opts, "shutdown_timeout", 0) < 0:
        raise errors.OpPrereqError("The shutdown timeout must not be negative (%s)"
                                   % opts.shutdown_timeout, errors.ECODE_INVAL)


def result_error(status):
    """The verbose text of a non-normal result status: "(unavail)", "(nodata)"..."""
    return _STATUS_TEXT.get(status, ("?", "(unknown status)"))[1]


def _print_table(opts, data):
    headers = None if opts.no_headers else _HEADERS
    lines = cli.generate_table(headers, ["node", "status"], opts.separator, data)
    if headers and opts.separator is None:
        # Ganeti pads the last title to its column's width (rows stay unpadded)
        title = headers["status"]
        lines[0] += " " * (max([len(row[1]) for row in data] + [len(title)]) - len(title))
    for line in lines:
        cli.to_stdout(line)


def power_rows(oob_command, result):
    """(table rows, number of failed nodes) of a power command's result."""
    rows, errs = [], 0
    for (_, node_name), (status, payload) in result:
        if status != cli.RS_NORMAL:
            errs += 1
            rows.append([node_name, result_error(status)])
        elif oob_command == constants.OOB_POWER_STATUS:
            powered = payload[constants.OOB_POWER_STATUS_POWERED]
            rows.append([node_name, "powered" if powered else "unpowered"])
        else:
            # these commands answer nothing: the helper ran and succeeded
            rows.append([node_name, "invoked"])
    return rows, errs


def health_rows(result):
    """(table rows, number of failed nodes) of a health result: the node's name
    on its first item's row, one "item=status" per row."""
    rows, errs = [], 0
    for (_, node_name), (status, payload) in result:
        if status != cli.RS_NORMAL:
            errs += 1
            rows.append([node_name, result_error(status)])
            continue
        items = ["%s=%s" % (item, state) for item, state in payload] or [""]
        rows.append([node_name, items[0]])
        rows.extend(["", item] for item in items[1:])
    return rows, errs


def power_node(opts, args):
    """gnt-node power on|off|cycle|status [<node-name>...]."""
    from ganeti import opcodes
    command = args.pop(0)
    if command not in POWER_COMMANDS:
        cli.to_stderr("power subcommand %s not supported." % command)
        return constants.EXIT_FAILURE
    oob_command = "power-%s" % command
    _check_numbers(opts)
    if oob_command in _ASK:
        if not args:
            cli.to_stderr("Please provide at least one node for this command")
            return constants.EXIT_FAILURE
        if not opts.force and not cli.confirm_operation(args, "nodes",
                                                        "power %s" % command):
            return constants.EXIT_FAILURE
    ops = []
    if oob_command == constants.OOB_POWER_OFF and not opts.ignore_status:
        # a node must be offline before its power goes; the same job does it
        ops.extend(opcodes.OpNodeSetParams(node_name=node, offline=True,
                                           auto_promote=opts.auto_promote)
                   for node in args)
    ops.append(opcodes.OpOobCommand(node_names=args, command=oob_command,
                                    ignore_status=opts.ignore_status,
                                    timeout=opts.oob_timeout,
                                    power_delay=opts.power_delay))
    cli.set_generic_opcode_opts(ops, opts)
    cl = cli.get_client()
    job_id = cli.send_job(ops, cl=cl)
    if opts.print_jobid:
        cli.to_stdout("%s" % job_id)
    if opts.submit_only:
        cli.to_stderr("JobID: %s" % job_id)
        return constants.EXIT_SUCCESS
    # only the out-of-band opcode's result is shown; a failure raises here
    result = cli.poll_job(job_id, cl=cl)[-1]
    rows, errs = power_rows(oob_command, result)
    _print_table(opts, rows)
    return constants.EXIT_FAILURE if errs else constants.EXIT_SUCCESS


def health(opts, args):
    """gnt-node health [<node-name>...]."""
    from ganeti import opcodes
    _check_numbers(opts)
    op = opcodes.OpOobCommand(node_names=args, command=constants.OOB_HEALTH,
                              timeout=opts.oob_timeout)
    result = cli.submit_op_code(op, opts=opts)
    rows, errs = health_rows(result)
    _print_table(opts, rows)
    return constants.EXIT_FAILURE if errs else constants.EXIT_SUCCESS


# ---- gnt-cluster epo ---------------------------------------------------------------------

def _oob_power(opts, node_list, power):
    """Power the nodes on (True) or off; False if one of them failed."""
    from ganeti import opcodes
    op = opcodes.OpOobCommand(node_names=node_list,
                              command=(constants.OOB_POWER_ON if power
                                       else constants.OOB_POWER_OFF),
                              ignore_status=True, timeout=opts.oob_timeout,
                              power_delay=opts.power_delay)
    ok = True
    for (_, node_name), (status, _) in cli.submit_op_code(op, opts=opts):
        if status != cli.RS_NORMAL:
            ok = False
            cli.to_stderr("There was a problem changing power for %s, please investigate"
                          % node_name)
    return ok


def _instances_start(opts, names, start):
    """Start (or stop, not recording it) the instances, one job each; False if
    one failed."""
    from ganeti import opcodes
    if start:
        make = opcodes.OpInstanceStartup
        submit_word, done_word, doing_word = "startup", "started", "starting"
    else:
        def make(instance_name):
            return opcodes.OpInstanceShutdown(instance_name=instance_name,
                                              timeout=opts.shutdown_timeout,
                                              no_remember=True)
        submit_word, done_word, doing_word = "shutdown", "stopped", "stopping"
    jobs = []
    for name in names:
        cli.to_stdout("Submit %s of instance %s" % (submit_word, name))
        jobs.append([make(instance_name=name)])
    results = []
    if jobs:
        cl = cli.get_client()
        for ops in jobs:
            cli.set_generic_opcode_opts(ops, opts)
        results = cli.wait_for_submitted_jobs(cl.submit_many_jobs(jobs), cl=cl,
                                              names=names)
    bad = len([1 for ok, _ in results if not ok])
    if bad:
        cli.to_stderr("There were errors while %s instances:\n%d error(s) out of %d"
                      " instance(s)" % (doing_word, bad, len(results)))
        return False
    cli.to_stdout("All instances have been %s successfully" % done_word)
    return True


def _start_instances_of(opts, inst_map, nodes_online):
    """Start the instances whose nodes are all online again (each only once:
    they leave ``inst_map``); False if one failed."""
    ready = [name for name, nodes in inst_map.items() if not nodes - nodes_online]
    for name in ready:
        del inst_map[name]
    if ready:
        return _instances_start(opts, ready, True)
    return True


def node_answers(address, port=constants.DEFAULT_NODED_PORT, timeout=EPO_PING_TIMEOUT):
    """Whether a node daemon accepts connections at ``address``."""
    try:
        socket.create_connection((address, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def run_when_reachable(node_ips, action, interval=EPO_PING_INTERVAL,
                       timeout=EPO_REACHABLE_TIMEOUT, ping=node_answers,
                       sleep=time.sleep, clock=time.monotonic):
    """Call ``action(set of nodes up)`` until every node of ``node_ips`` ({name:
    address}) answers (then once more); nodes are pinged one at a time and
    ``action`` runs again as soon as one more is up. False if an action failed
    or the nodes did not all come up within ``timeout`` seconds."""
    down = list(node_ips)
    up = set()
    success = True
    deadline = clock() + timeout
    while True:
        if not action(set(up)):
            success = False
        if not down:
            return success
        if clock() >= deadline:
            cli.to_stderr("Time exceeded while waiting for nodes to become reachable"
                          " again:\n  - %s" % "  - ".join(down))
            return False
        start = clock()
        for node in down:
            if ping(node_ips[node]):
                cli.to_stdout("Node %s became available" % node)
                up.add(node)
                down.remove(node)
                break
        else:
            sleep(max(0.0, start + min(interval, deadline - start) - clock()))


def _epo_on(opts, node_ips, node_list, inst_map):
    if node_list and not _oob_power(opts, node_list, True):
        cli.to_stderr("Not all nodes seem to get back up, investigate and start manually"
                      " if needed")
    cli.to_stdout("Waiting until all nodes are available again")
    pending = dict(inst_map)
    if not run_when_reachable(node_ips,
                              lambda up: _start_instances_of(opts, pending, up)):
        cli.to_stderr("Please investigate and start stopped instances manually")
        return constants.EXIT_FAILURE
    return constants.EXIT_SUCCESS


def _epo_off(opts, node_list, inst_map):
    if not _instances_start(opts, list(inst_map), False):
        cli.to_stderr("Please investigate and stop instances manually before continuing")
        return constants.EXIT_FAILURE
    if node_list and not _oob_power(opts, node_list, False):
        return constants.EXIT_FAILURE
    return constants.EXIT_SUCCESS


def _group_nodes(cl, groups):
    """The nodes of the named groups (all groups when none is named)."""
    rows = cl.query("group", ["name", "uuid", "node_list"])["data"]
    known = dict()
    for (_, name), (_, uuid), (_, nodes) in rows:
        known[name] = known[uuid] = nodes or []
    result = []
    for group in groups or [row[0][1] for row in rows]:
        if group not in known:
            raise errors.OpPrereqError("Node group '%s' not found" % group,
                                       errors.ECODE_NOENT)
        result.extend(known[group])
    return result


def epo(opts, args):
    """gnt-cluster epo: stop the instances and power off the nodes (or with
    --on: power them on and start the instances again)."""
    if opts.groups and opts.show_all:
        cli.to_stderr("Only one of --groups or --all are allowed")
        return constants.EXIT_FAILURE
    if args and opts.show_all:
        cli.to_stderr("Arguments in combination with --all are not allowed")
        return constants.EXIT_FAILURE
    _check_numbers(opts)
    cl = cli.get_client()
    names = _group_nodes(cl, args) if opts.groups else args
    fields = ["name", "master", "pinst_list", "sinst_list", "powered", "offline", "pip"]
    # no names: every node, but groups without nodes mean none
    rows = cl.query_nodes(names, fields, False) if names or not opts.groups else []
    all_nodes = [row[0] for row in rows]
    node_ips = dict((row[0], row[6]) for row in rows)
    node_list = []
    inst_map = {}
    for node, master, pinsts, sinsts, powered, offline, _ in rows:
        if not offline:
            # which nodes each instance waits for before it starts again
            for inst in pinsts + sinsts:
                if inst in inst_map:
                    if not master:
                        inst_map[inst].add(node)
                elif master:
                    inst_map[inst] = set()
                else:
                    inst_map[inst] = set([node])
        if master and opts.on:
            continue    # the master runs this command: it is on
        if master and not opts.show_all:
            cli.to_stderr("%s is the master node, please do a master-failover to another"
                          " node not affected by the EPO or use --all if you intend to"
                          " shutdown the whole cluster" % node)
            return constants.EXIT_FAILURE
        if powered is None:
            cli.to_stdout("Node %s does not support out-of-band handling, it can not be"
                          " handled in a fully automated manner" % node)
        elif powered == opts.on:
            cli.to_stdout("Node %s is already in desired power state, skipping" % node)
        elif not offline or powered:
            node_list.append(node)
    if not (opts.force or cli.confirm_operation(all_nodes, "nodes", "epo")):
        return constants.EXIT_FAILURE
    if opts.on:
        return _epo_on(opts, node_ips, node_list, inst_map)
    return _epo_off(opts, node_list, inst_map)
