"""gnt-node: list and inspect the cluster's nodes."""

import os
import sys

from ganeti import cli, constants, errors
from ganeti.client import infofmt, oob, tags

_LIST_DEF_FIELDS = ["name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt",
                    "sinst_cnt"]


def list_nodes(opts, args):
    """List nodes and their properties (default: Node DTotal DFree ...)."""
    fields = cli.parse_fields(opts.output, _LIST_DEF_FIELDS)
    ndparams = (lambda value: str(infofmt.in_order(value, infofmt.ND_ORDER)), False)
    return cli.generic_list("node", fields, args, opts.units, opts.separator,
                            not opts.no_headers, verbose=opts.verbose,
                            force_filter=opts.force_filter,
                            format_override={"ndparams": ndparams,
                                             "custom_ndparams": ndparams})


def list_fields(opts, args):
    return cli.generic_list_fields("node", args, opts.separator, not opts.no_headers)


def show_node_config(opts, args):
    """Print the configuration of the given nodes (all if none given), in
    Ganeti's layout (a YAML list; an unknown name prints an empty line)."""
    from ganeti.utils import text
    fields = ["name", "pip", "sip", "pinst_list", "sinst_list", "master_candidate",
              "drained", "offline", "master_capable", "vm_capable", "powered", "ndparams",
              "custom_ndparams"]
    nodes = []
    for (name, pip, sip, pinst, sinst, is_mc, drained, offline, master_capable,
         vm_capable, powered, ndparams, custom_ndparams) in \
            cli.get_client().query_nodes(args, fields, False):
        info = [("Node name", name), ("primary ip", pip), ("secondary ip", sip),
                ("master candidate", is_mc), ("drained", drained), ("offline", offline)]
        if powered is not None:
            info.append(("powered", powered))
        info += [("master_capable", master_capable), ("vm_capable", vm_capable)]
        if vm_capable:
            info += [("primary for instances", text.nice_sort(pinst)),
                     ("secondary for instances", text.nice_sort(sinst))]
        info.append(("node parameters",
                     infofmt.params_with_defaults(custom_ndparams, ndparams)))
        nodes.append(info)
    sys.stdout.write("\n".join(infofmt.format_data(nodes)) + "\n")
    return constants.EXIT_SUCCESS


def add_node(opts, args):
    """Set a node up over ssh and add it to the cluster (OP_NODE_ADD)."""
    from ganeti import nodejoin, opcodes, pathutils, serializer, ssh, ssconf
    from ganeti.utils import io, net
    cl = cli.get_client()
    try:
        host = net.Hostname(args[0])
    except errors.ResolverError as err:
        raise errors.OpPrereqError("The given name (%s) does not resolve: %s"
                                   % (args[0], getattr(err, "reason", err.args[-1])),
                                   errors.ECODE_RESOLVER)
    node = host.name
    # all names, not a filter on this one: a query naming an unknown node fails
    known = [r[0][1] for r in cl.query("node", ["name"])["data"] if r[0][1] == node]
    if known and not opts.readd:
        cli.to_stderr("Node %s already in the cluster (as %s) - please retry with"
                      " '--readd'" % (node, known[0]))
        return constants.EXIT_FAILURE
    if opts.readd and not known:
        raise errors.OpPrereqError("Node %s is not in the cluster" % node,
                                   errors.ECODE_NOENT)
    if opts.nodegroup is not None:
        # before the node is touched over ssh (the job checks it again)
        if opts.readd:
            raise errors.OpPrereqError("Cannot pass a node group when a node is being"
                                       " readded", errors.ECODE_INVAL)
        groups = cl.query("group", ["name", "uuid"])["data"]
        if not any(opts.nodegroup in (name, uuid) for (_, name), (_, uuid) in groups):
            raise errors.OpPrereqError("Node group '%s' not found" % opts.nodegroup,
                                       errors.ECODE_NOENT)
    if opts.node_setup:
        cluster_name = ssconf.SimpleStore().get_cluster_name()
        request = {"cluster_name": cluster_name,
                   "certificate": io.read_file(pathutils.NODED_CERT_FILE)}
        # the node makes its own key pair; its public key comes back on stdout
        request["ssh_key"] = nodejoin.ssh_key_request(cl.query_cluster_info())
        request["force_join"] = opts.force_join
        join_cmd = [pathutils.to_node_path(
            os.path.join(pathutils.DAEMONS_DIR, "ganeti-prepare-node-join"), node)]
        if opts.verbose:
            join_cmd.append("--verbose")
        cli.to_stdout("Setting up node %s over ssh" % node)
        result = ssh.run(node, join_cmd, address=host.ip,
                         input_data=serializer.dump_json(request),
                         check_host_key=opts.ssh_key_check, learn_key=not opts.readd)
        if result.failed:
            cli.to_stderr("Failure: could not set up node %s over ssh: %s"
                          % (node, result.describe()))
            return constants.EXIT_NODESETUP_ERROR
        if opts.verbose and result.stderr:
            cli.to_stderr(result.stderr.rstrip("\n"))
        nodejoin.record_public_key(node, result.stdout)
    op = opcodes.OpNodeAdd(node_name=node, primary_ip=host.ip,
                           secondary_ip=opts.secondary_ip, readd=opts.readd,
                           group=opts.nodegroup, master_capable=opts.master_capable,
                           vm_capable=opts.vm_capable, ndparams=opts.ndparams or None,
                           # the job distributes the key the node just sent, if any
                           node_setup=bool(opts.node_setup and request["ssh_key"]),
                           **_static_states(opts))
    cli.submit_or_send(op, opts, cl=cl)
    return constants.EXIT_SUCCESS


def _static_states(opts):
    """hv_state and disk_state of --hypervisor-state and --disk-state (None: not given)."""
    from ganeti.cmdlib import cluster_options
    return dict(hv_state=cluster_options.hv_state_from_pairs(opts.hv_state) or None,
                disk_state=cluster_options.disk_state_from_pairs(opts.disk_state) or None)


def remove_node(opts, args):
    from ganeti import opcodes
    cli.submit_or_send(opcodes.OpNodeRemove(node_name=args[0]), opts)
    return constants.EXIT_SUCCESS


def powercycle_node(opts, args):
    from ganeti import opcodes
    if not opts.confirm and not cli.ask_user(
            "Are you sure you want to hard powercycle node %s?" % args[0]):
        return 2
    result = cli.submit_or_send(opcodes.OpNodePowercycle(node_name=args[0],
                                                         force=opts.force), opts)
    if result:
        cli.to_stderr(result)
    return constants.EXIT_SUCCESS


def modify_node(opts, args):
    from ganeti import opcodes
    changes = [opts.master_candidate, opts.drained, opts.offline, opts.master_capable,
               opts.vm_capable, opts.secondary_ip, opts.ndparams, opts.node_powered,
               opts.hv_state, opts.disk_state]
    if all(change is None or change == [] or change == {} for change in changes):
        cli.to_stderr("Please give at least one of the parameters.")
        return constants.EXIT_FAILURE
    op = opcodes.OpNodeSetParams(
        node_name=args[0], force=opts.force, master_candidate=opts.master_candidate,
        offline=opts.offline, drained=opts.drained, auto_promote=opts.auto_promote,
        master_capable=opts.master_capable, vm_capable=opts.vm_capable,
        secondary_ip=opts.secondary_ip, ndparams=opts.ndparams or None,
        powered=opts.node_powered, **_static_states(opts))
    result = cli.submit_or_send(op, opts)
    if result:                  # as Ganeti: nothing when nothing shows a change
        cli.to_stdout("Modified node %s" % args[0])
        for param, value in result:
            cli.to_stdout(" - %-5s -> %s" % (param, value))
    return constants.EXIT_SUCCESS


def _primary_instances(cl, node):
    """(full node name, its primary instances in Ganeti's nice order)."""
    from ganeti.utils import text
    rows = cl.query_nodes([node], ["name", "pinst_list"], False)
    if not rows:
        raise errors.OpPrereqError("Node name %s not found" % node, errors.ECODE_NOENT)
    ((name, pinst),) = rows
    return name, text.nice_sort(pinst)


def _report_jobs(results, success_text, failure_text):
    for ok, msg in results:
        if not ok:
            cli.to_stderr(str(msg))
    bad = len([1 for ok, _ in results if not ok])
    if bad == 0:
        cli.to_stdout(success_text)
        return constants.EXIT_SUCCESS
    cli.to_stdout(failure_text % bad)
    return constants.EXIT_FAILURE


def failover_node(opts, args):
    """Fail over every primary instance of the node (one job each)."""
    from ganeti import opcodes
    cl = cli.get_client()
    node, pinst = _primary_instances(cl, args[0])
    if not pinst:
        cli.to_stderr("No primary instances on node %s, exiting." % node)
        return constants.EXIT_SUCCESS
    if not opts.force and not cli.ask_user("Fail over instance(s) %s?" % ",".join(
            "'%s'" % name for name in pinst)):
        return 2
    results = cli.submit_jobs_and_wait(
        [[opcodes.OpInstanceFailover(instance_name=name,
                                     ignore_consistency=opts.ignore_consistency,
                                     iallocator=opts.iallocator)] for name in pinst],
        cl=cl, opts=opts)
    _report_jobs(results, "All %d instance(s) failed over successfully." % len(results),
                 "There were errors during the failover:\n%%d error(s) out of %d"
                 " instance(s)." % len(results))
    return constants.EXIT_SUCCESS          # as Ganeti: the count says what failed


def migrate_node(opts, args):
    """Migrate every primary instance of the node away: OP_NODE_MIGRATE submits
    a job per instance; wait for them (--submit: print the job's ID only)."""
    from ganeti import opcodes
    cl = cli.get_client()
    node, pinst = _primary_instances(cl, args[0])
    if not pinst:
        cli.to_stdout("No primary instances on node %s, exiting." % node)
        return constants.EXIT_SUCCESS
    if not (opts.force or cli.ask_user("Migrate instance(s) %s?" % ", ".join(pinst))):
        return constants.EXIT_CONFIRMATION
    op = opcodes.OpNodeMigrate(node_name=args[0], mode=cli.migration_mode(opts),
                               iallocator=opts.iallocator, target_node=opts.dst_node,
                               allow_runtime_changes=opts.allow_runtime_chgs,
                               ignore_ipolicy=opts.ignore_ipolicy)
    return wait_for_moves(cli.submit_or_send(op, opts, cl=cl), cl,
                               "All instances migrated successfully.",
                               "There were %s errors during the node migration.")


def evacuate_node(opts, args):
    """Move the node's secondary (or primary) instances away: the master submits a
    job per instance; wait for them all."""
    from ganeti import errors, opcodes
    from ganeti.utils import text
    if opts.dst_node is not None:
        cli.to_stderr("New secondary node given (disabling iallocator), hence evacuating"
                      " secondary instances only.")
        opts.secondary_only, opts.primary_only = True, False
    if opts.secondary_only and opts.primary_only:
        raise errors.OpPrereqError("Only one of the --primary-only and --secondary-only"
                                   " options can be passed", errors.ECODE_INVAL)
    if opts.primary_only:
        mode = constants.NODE_EVAC_PRI
    elif opts.secondary_only:
        mode = constants.NODE_EVAC_SEC
    else:
        mode = constants.NODE_EVAC_ALL
    fields = (["pinst_list"] if not opts.secondary_only else []) + \
        (["sinst_list"] if not opts.primary_only else [])
    cl = cli.get_client()
    # an unknown node matches nothing: it has nothing to evacuate (as in Ganeti)
    rows = cl.query_nodes(args, fields, False)
    instances = set(name for row in rows for names in row for name in names)
    if not instances:
        cli.to_stderr("No instances to evacuate on node(s) %s, exiting."
                      % ", ".join(args))
        return constants.EXIT_SUCCESS
    if not (opts.force or cli.ask_user("Relocate instance(s) %s from node(s) %s?" % (
            ", ".join(text.nice_sort(instances)), ", ".join(args)))):
        return constants.EXIT_CONFIRMATION
    op = opcodes.OpNodeEvacuate(node_name=args[0], mode=mode, remote_node=opts.dst_node,
                                iallocator=opts.iallocator,
                                early_release=opts.early_release,
                                ignore_soft_errors=opts.ignore_soft_errors)
    return wait_for_moves(cli.submit_or_send(op, opts, cl=cl), cl)


def wait_for_moves(result, cl, success="All instances evacuated successfully.",
                        failure="There were %s errors during the evacuation."):
    """Wait for the jobs an evacuation or migration job submitted (gnt-node
    evacuate and migrate, gnt-group evacuate) and say how it went; None
    (--submit): nothing to wait for."""
    if result is None:
        return constants.EXIT_SUCCESS
    results = cli.wait_for_submitted_jobs(result[constants.JOB_IDS_KEY], cl=cl)
    bad = len([1 for ok, _ in results if not ok])
    if bad:
        cli.to_stdout(failure % bad)
        return constants.EXIT_FAILURE
    cli.to_stdout(success)
    return constants.EXIT_SUCCESS


def list_drbd(opts, args):
    """The DRBD minors the configuration gives a node (Ganeti asks confd; the
    master answers here)."""
    cl = cli.get_client()
    rows = cl.query_drbd_minors(args[0])
    fields = ["node", "minor", "instance", "disk", "role", "peer"]
    headers = None if opts.no_headers else {
        "node": "Node", "minor": "Minor", "instance": "Instance", "disk": "Disk",
        "role": "Role", "peer": "PeerNode"}
    for line in cli.generate_table(headers, fields, opts.separator,
                                   [[str(v) for v in row] for row in rows],
                                   numfields=["minor"]):
        cli.to_stdout(line)
    return constants.EXIT_SUCCESS


def online_nodes(cl, names, nodegroup=None):
    """The online nodes among ``names`` (all when none), only those of
    ``nodegroup`` (name or UUID) if given, in the query's order; a note on
    stderr names the offline ones left out. An unknown name alone fails the
    query, as in Ganeti ("Node name X not found")."""
    from ganeti import qlang
    qfilter = []
    if names:
        qfilter.append(qlang.make_simple_filter(names))
    if nodegroup is not None:
        qfilter.append([qlang.OP_OR, [qlang.OP_EQUAL, "group", nodegroup],
                        [qlang.OP_EQUAL, "group.uuid", nodegroup]])
    if len(qfilter) > 1:
        qfilter = [[qlang.OP_AND] + qfilter]
    rows = cl.query("node", ["name", "offline"], qfilter[0] if qfilter else None)["data"]
    offline = [name for (_, name), (_, off) in rows if off]
    if offline:
        cli.to_stderr("Note: skipping offline node(s): %s" % ", ".join(offline))
    return [name for (_, name), (_, off) in rows if not off]


def restricted_command(opts, args):
    """Run a command of the nodes' restricted-commands directory on the named
    nodes or a group's (OP_RESTRICTED_COMMAND); exit 1 if it failed on one."""
    from ganeti import opcodes
    if len(args) < 2 and opts.nodegroup is None:
        raise errors.OpPrereqError("Node group or node names must be given",
                                   errors.ECODE_INVAL)
    cl = cli.get_client()
    nodes = online_nodes(cl, args[1:], opts.nodegroup)
    op = opcodes.OpRestrictedCommand(command=args[0], nodes=nodes,
                                     use_locking=opts.do_locking)
    result = cli.submit_or_send(op, opts, cl=cl)
    exit_code = constants.EXIT_SUCCESS
    for node, (ok, text) in zip(nodes, result or []):
        cli.to_stdout("------------------------------------------------")
        if not ok:
            exit_code = constants.EXIT_FAILURE
            cli.to_stdout(text)
        elif opts.show_machine_names:
            for line in text.splitlines():
                cli.to_stdout("%s: %s" % (node, line))
        else:
            cli.to_stdout("Node: %s" % node)
            cli.to_stdout(text)
    return exit_code


def _yes_no(*flags, dest, help):
    return cli.cli_option(*flags, dest=dest, type="bool", default=None,
                          metavar="yes|no", help=help)


# ---- storage units (cmdlib/node_storage.py) -------------------------------------------

_VOL_HEADERS = {"node": "Node", "phys": "PhysDev", "vg": "VG", "name": "Name",
                "size": "Size", "instance": "Instance"}
_LIST_VOL_DEF_FIELDS = ["node", "phys", "vg", "name", "size", "instance"]
_STOR_HEADERS = {"node": "Node", "type": "Type", "name": "Name", "size": "Size",
                 "used": "Used", "free": "Free", "allocatable": "Allocatable"}
_LIST_STOR_DEF_FIELDS = ["node", "type", "name", "size", "used", "free", "allocatable"]
_STOR_SIZE_FIELDS = ["size", "used", "free"]
#: the storage types a user may name (Ganeti's list, in its order)
_USER_STORAGE_TYPES = ["file", "lvm-pv", "lvm-vg", "sharedfile", "gluster"]
_STORAGE_TYPE_OPT = cli.cli_option(
    "-t", "--storage-type", dest="user_storage_type", choices=_USER_STORAGE_TYPES,
    default=None, metavar="STORAGE_TYPE",
    help="Storage type (%s)" % ", ".join(_USER_STORAGE_TYPES))
_ARGS_STORAGE_UNIT = [cli.ArgSpec("<node>", 1, 1), cli.ArgSpec("<storage-type>", 1, 1),
                      cli.ArgSpec("<volume-name>", 1, 1)]


def _print_sizes_table(opts, headers, fields, rows, size_fields):
    """A table of query rows with the size fields in --units (the list table code)."""
    for line in cli.generate_table(None if opts.no_headers else headers, fields,
                                   opts.separator, rows, numfields=size_fields,
                                   unitfields=size_fields, units=opts.units):
        cli.to_stdout(line)


def list_volumes(opts, args):
    """The logical volumes of the nodes and the instances they belong to."""
    from ganeti import opcodes
    fields = cli.parse_fields(opts.output, _LIST_VOL_DEF_FIELDS)
    rows = cli.submit_op_code(opcodes.OpNodeQueryvols(nodes=args, output_fields=fields),
                              opts=opts)
    _print_sizes_table(opts, _VOL_HEADERS, fields, rows, ["size"])
    return constants.EXIT_SUCCESS


def list_storage(opts, args):
    """The storage units of one type on the nodes (Allocatable shown as Y/N)."""
    from ganeti import opcodes
    fields = cli.parse_fields(opts.output, _LIST_STOR_DEF_FIELDS)
    op = opcodes.OpNodeQueryStorage(nodes=args, storage_type=opts.user_storage_type,
                                    output_fields=fields)
    rows = []
    for row in cli.submit_op_code(op, opts=opts):
        rows.append([("Y" if value else "N") if field == "allocatable" else str(value)
                     for field, value in zip(fields, row)])
    _print_sizes_table(opts, _STOR_HEADERS, fields, rows, _STOR_SIZE_FIELDS)
    return constants.EXIT_SUCCESS


def _storage_type(user_type):
    if user_type not in _USER_STORAGE_TYPES:
        raise errors.OpPrereqError("Unknown storage type: %s" % user_type,
                                   errors.ECODE_INVAL)
    return user_type


def modify_storage(opts, args):
    """Change a storage unit of a node (--allocatable of an LVM PV)."""
    from ganeti import opcodes
    node, user_type, name = args
    storage_type = _storage_type(user_type)
    if opts.allocatable is None:
        cli.to_stderr("No changes to perform, exiting.")
        return constants.EXIT_SUCCESS
    cli.submit_or_send(opcodes.OpNodeModifyStorage(
        node_name=node, storage_type=storage_type, name=name,
        changes={"allocatable": opts.allocatable}), opts)
    return constants.EXIT_SUCCESS


def repair_storage(opts, args):
    """Repair a storage unit of a node (an LVM volume group that lost PVs)."""
    from ganeti import opcodes
    node, user_type, name = args
    cli.submit_or_send(opcodes.OpRepairNodeStorage(
        node_name=node, storage_type=_storage_type(user_type), name=name,
        ignore_consistency=opts.ignore_consistency), opts)
    return constants.EXIT_SUCCESS


# Ganeti's texts of the options gnt-node add and modify share
_SECONDARY_IP_OPT = cli.cli_option("-s", "--secondary-ip", dest="secondary_ip",
                                   default=None, metavar="ADDRESS",
                                   help="Specify the secondary ip for the node")
_CAPAB_MASTER_OPT = _yes_no("--master-capable", dest="master_capable",
                            help="Set the master_capable flag on the node")
_CAPAB_VM_OPT = _yes_no("--vm-capable", dest="vm_capable",
                        help="Set the vm_capable flag on the node")
_NODE_PARAMS_OPT = cli.keyval_option("--node-parameters", dest="ndparams",
                                     help="Node parameters")
_AUTO_PROMOTE_OPT = cli.cli_option("--auto-promote", dest="auto_promote",
                                   action="store_true", default=False,
                                   help="Lock all nodes and auto-promote as needed to MC"
                                   " status")

COMMANDS = {
    "add": (add_node, cli.ARGS_ONE_NODE, [
        _SECONDARY_IP_OPT,
        cli.cli_option("--readd", dest="readd", action="store_true", default=False,
                       help="Readd old node after replacing it"),
        cli.cli_option("--no-ssh-key-check", dest="ssh_key_check", action="store_false",
                       default=True, help="Disable SSH key fingerprint checking"),
        cli.cli_option("--force-join", dest="force_join", action="store_true",
                       default=False, help="Force the joining of a node"),
        cli.cli_option("--no-node-setup", dest="node_setup", action="store_false",
                       default=True, help="Do not make initial SSH setup on remote node"
                       " (needs to be done manually)"),
        cli.VERBOSE_OPT, cli.NODEGROUP_OPT, cli.PRIORITY_OPT, _CAPAB_MASTER_OPT, _CAPAB_VM_OPT,
        _NODE_PARAMS_OPT,
        cli.HV_STATE_OPT, cli.DISK_STATE_OPT] +
        cli.SUBMIT_OPTS,    # our own: Ganeti's gnt-node add has no --submit
        "[-s ip] [--readd] [--no-ssh-key-check] [--force-join] [--no-node-setup]"
        " [--verbose] <node-name>",
        "Add a node to the cluster"),
    "evacuate": (evacuate_node, cli.ARGS_ONE_NODE, [
        cli.FORCE_OPT, cli.IALLOCATOR_OPT,
        cli.cli_option("--ignore-soft-errors", dest="ignore_soft_errors", default=False,
                       action="store_true", help="Tell htools to ignore any soft errors"
                       " like N+1 violations"),
        cli.NEW_SECONDARY_OPT, cli.EARLY_RELEASE_OPT, cli.PRIORITY_OPT,
        cli.cli_option("-p", "--primary-only", dest="primary_only", default=False,
                       action="store_true", help="Evacuate primary instances only"),
        cli.cli_option("-s", "--secondary-only", dest="secondary_only", default=False,
                       action="store_true", help="Evacuate secondary instances only"
                       " (applies only to internally mirrored disk templates, e.g."
                       " drbd)")] + cli.SUBMIT_OPTS,
        "[-f] {-I <iallocator> | -n <dst>} [-p | -s] [options...] <node>",
        "Relocate the primary and/or secondary instances from a node"),
    "failover": (failover_node, cli.ARGS_ONE_NODE, [
        cli.FORCE_OPT, cli.IGNORE_CONSIST_OPT, cli.IALLOCATOR_OPT, cli.PRIORITY_OPT],
        "[-f] <node>",
        "Stops the primary instances on a node and start them on their secondary node"
        " (only for instances with drbd disk template)"),
    "migrate": (migrate_node, cli.ARGS_ONE_NODE, [
        cli.FORCE_OPT, cli.NONLIVE_OPT, cli.MIGRATION_MODE_OPT, cli.TARGET_NODE_OPT,
        cli.IALLOCATOR_OPT, cli.PRIORITY_OPT, cli.IGNORE_IPOLICY_OPT,
        cli.NORUNTIME_CHGS_OPT] + cli.SUBMIT_OPTS, "[-f] <node>",
        "Migrate all the primary instance on a node away from it (only for instances"
        " of type drbd)"),
    "info": (show_node_config, cli.ARGS_MANY_NODES, [], "[<node>...]",
             "Show information about the node(s)"),
    "list": (list_nodes, cli.ARGS_MANY_NODES, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.UNITS_OPT, cli.FIELDS_OPT, cli.VERBOSE_OPT,
        cli.FILTER_OPT],
        "[<node-name>...]",
        "Lists the nodes in the cluster. The available fields can be shown using the"
        " \"list-fields\" command (see the man page for details). The default field"
        " list is (in order): %s." % ", ".join(_LIST_DEF_FIELDS)),
    "list-fields": (list_fields, [cli.ArgSpec("<field>")], [cli.NOHDR_OPT, cli.SEP_OPT],
                    "[fields...]", "Lists all available fields for nodes"),
    "modify": (modify_node, cli.ARGS_ONE_NODE, [cli.FORCE_OPT] + cli.SUBMIT_OPTS + [
        _yes_no("-C", "--master-candidate", dest="master_candidate",
                help="Set the master_candidate flag on the node"),
        _yes_no("-D", "--drained", dest="drained", help="Set the drained flag on the"
                " node (excluded from allocation operations)"),
        _yes_no("-O", "--offline", dest="offline", help="Set the offline flag on the"
                " node (cluster does not communicate with offline nodes)"),
        _CAPAB_MASTER_OPT, _CAPAB_VM_OPT, _SECONDARY_IP_OPT,
        _AUTO_PROMOTE_OPT,
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT, _NODE_PARAMS_OPT,
        _yes_no("--node-powered", dest="node_powered",
                help="Specify if the SoR for node is powered"),
        cli.HV_STATE_OPT, cli.DISK_STATE_OPT],
        "<node-name>", "Alters the parameters of a node"),
    "power": (oob.power_node, [cli.ArgSpec("on|off|cycle|status", 1, 1),
                               cli.ArgSpec("<node>")],
              cli.SUBMIT_OPTS + [_AUTO_PROMOTE_OPT, cli.PRIORITY_OPT, oob.IGNORE_STATUS_OPT,
                                 cli.FORCE_OPT, cli.NOHDR_OPT, cli.SEP_OPT,
                                 oob.OOB_TIMEOUT_OPT, oob.POWER_DELAY_OPT],
              "on|off|cycle|status [<node-name>...]",
              "Change power state of node by calling out-of-band helper."),
    "health": (oob.health, cli.ARGS_MANY_NODES, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.PRIORITY_OPT, oob.OOB_TIMEOUT_OPT],
        "[<node-name>...]", "List health of node(s) using out-of-band"),
    "remove": (remove_node, cli.ARGS_ONE_NODE, [cli.DRY_RUN_OPT, cli.PRIORITY_OPT] +
               cli.SUBMIT_OPTS,     # our own: Ganeti's gnt-node remove has no --submit
               "<node-name>", "Removes a node from the cluster"),
    "powercycle": (powercycle_node, cli.ARGS_ONE_NODE, [
        cli.FORCE_OPT, cli.CONFIRM_OPT, cli.DRY_RUN_OPT, cli.PRIORITY_OPT] + cli.SUBMIT_OPTS,
        "<node-name>", "Tries to forcefully powercycle a node"),
    "list-drbd": (list_drbd, cli.ARGS_ONE_NODE, [cli.NOHDR_OPT, cli.SEP_OPT], "<node>",
                  "Query the list of used DRBD minors on the given node"),
    "volumes": (list_volumes, cli.ARGS_MANY_NODES, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.UNITS_OPT, cli.FIELDS_OPT, cli.PRIORITY_OPT],
        "[<node-name>...]", "List logical volumes on node(s)"),
    "list-storage": (list_storage, cli.ARGS_MANY_NODES, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.UNITS_OPT, cli.FIELDS_OPT, _STORAGE_TYPE_OPT,
        cli.PRIORITY_OPT], "[<node-name>...]",
        "List physical volumes on node(s). The available fields are (see the man page"
        " for details): %s." % ", ".join(_LIST_STOR_DEF_FIELDS)),
    "modify-storage": (modify_storage, _ARGS_STORAGE_UNIT, [
        _yes_no("--allocatable", dest="allocatable",
                help="Set the allocatable flag on a volume"),
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT] + cli.SUBMIT_OPTS,
        "<node-name> <storage-type> <volume-name>", "Modify storage volume on a node"),
    "repair-storage": (repair_storage, _ARGS_STORAGE_UNIT, [
        cli.IGNORE_CONSIST_OPT, cli.DRY_RUN_OPT, cli.PRIORITY_OPT] + cli.SUBMIT_OPTS,
        "<node-name> <storage-type> <volume-name>", "Repairs a storage volume on a node"),
    "restricted-command": (restricted_command, [cli.ArgSpec("<command>", 1, 1)] +
                           cli.ARGS_MANY_NODES, [
        cli.cli_option("--sync", dest="do_locking", default=False, action="store_true",
                       help="Grab locks while doing the queries in order to ensure more"
                       " consistent results"),
        cli.PRIORITY_OPT] + cli.SUBMIT_OPTS + [cli.SHOW_MACHINE_OPT, cli.NODEGROUP_OPT],
        "<command> <node-name>...", "Executes a restricted command on node(s)"),
}
COMMANDS.update(tags.commands(constants.TAG_NODE))


def main():
    return cli.generic_main(COMMANDS, aliases={"show": "info"})
