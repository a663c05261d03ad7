"""gnt-cluster: create, inspect, verify and destroy the cluster."""

import sys

from ganeti import cli, constants, errors, opcodes, paramtypes, pathutils, ssconf
from ganeti.client import cluster_upgrade, infofmt, ipolicy_opts, oob, renew_crypto, tags


def _split_list(value):
    return [v for v in (value or "").split(",") if v]


def init_cluster(opts, args):
    """Initialise a new cluster on this node (not a job: no master daemon yet)."""
    from ganeti import bootstrap
    cluster_name = args[0]
    if not opts.lvm_storage and opts.vg_name:
        raise errors.OpPrereqError("Options --no-lvm-storage and --vg-name conflict",
                                   errors.ECODE_INVAL)
    if opts.enabled_disk_templates:
        templates = _split_list(opts.enabled_disk_templates)
    else:
        templates = list(constants.DEFAULT_ENABLED_DISK_TEMPLATES)
    vg_name = None
    if opts.lvm_storage:
        if opts.vg_name:
            vg_name = opts.vg_name
        elif any(t in constants.DTS_LVM for t in templates):
            vg_name = constants.DEFAULT_VG
    hypervisors = _split_list(opts.enabled_hypervisors) or [constants.DEFAULT_ENABLED_HYPERVISOR]
    hvparams = {}
    for hv_name, params in opts.hvparams or []:
        defaults = constants.HVC_DEFAULTS.get(hv_name)
        if defaults is None:
            raise errors.OpPrereqError("Unknown hypervisor '%s' in -H" % hv_name,
                                       errors.ECODE_INVAL)
        hvparams[hv_name] = paramtypes.enforce_types(params, defaults,
                                                     "Hypervisor %s" % hv_name)
    nicparams = paramtypes.enforce_types(opts.nicparams or {}, constants.NICC_DEFAULTS, "NIC")
    if opts.bridge:
        nicparams[constants.NIC_LINK] = opts.bridge
    from ganeti.cmdlib import instance_utils      # "memory", and no vcpus=0 default
    beparams = instance_utils.typed_beparams(opts.beparams)
    instance_utils.check_be_values(dict(constants.BEC_DEFAULTS, **beparams))
    ndparams = paramtypes.enforce_types(opts.ndparams or {}, constants.NDC_DEFAULTS, "Node")
    diskparams = {}
    for tmpl, params in opts.diskparams or []:
        defaults = constants.DISK_DT_DEFAULTS.get(tmpl)
        if defaults is None:
            raise errors.OpPrereqError("Unknown disk template '%s' in -D" % tmpl,
                                       errors.ECODE_INVAL)
        diskparams[tmpl] = paramtypes.enforce_types(params, defaults, "Disk %s" % tmpl)
    if opts.primary_ip_version not in (None, 4):
        raise errors.OpPrereqError("Only IPv4 (--primary-ip-version 4) is supported",
                                   errors.ECODE_INVAL)
    from ganeti.cmdlib.cluster import check_unsupported_settings
    check_unsupported_settings(prealloc_wipe_disks=opts.prealloc_wipe_disks == "yes",
                               uid_pool=opts.uid_pool,
                               use_external_mip_script=opts.use_external_mip_script,
                               install_image=opts.install_image,
                               zeroing_image=opts.zeroing_image,
                               gluster_storage_dir=opts.gluster_storage_dir)
    from ganeti.cmdlib import cluster_options
    master_netdev = opts.master_netdev or opts.bridge or constants.DEFAULT_BRIDGE
    bootstrap.init_cluster(
        cluster_name, mac_prefix=opts.mac_prefix, master_netdev=master_netdev,
        master_netmask=opts.master_netmask if opts.master_netmask is not None else 32,
        file_storage_dir=opts.file_storage_dir,
        shared_file_storage_dir=opts.shared_file_storage_dir,
        enabled_hypervisors=hypervisors, enabled_disk_templates=templates,
        vg_name=vg_name, secondary_ip=opts.secondary_ip, nicparams=nicparams,
        hvparams=hvparams, beparams=beparams, ndparams=ndparams, diskparams=diskparams,
        candidate_pool_size=opts.candidate_pool_size,
        modify_etc_hosts=opts.modify_etc_hosts, modify_ssh_setup=opts.modify_ssh_setup,
        maintain_node_health=opts.maintain_node_health == "yes",
        drbd_helper=opts.drbd_helper, default_iallocator=opts.default_iallocator,
        default_iallocator_params=opts.default_iallocator_params,
        compression_tools=opts.compression_tools,
        ipolicy=ipolicy_opts.ipolicy_from_opts(opts, base=constants.IPOLICY_DEFAULTS),
        prealloc_wipe_disks=opts.prealloc_wipe_disks == "yes",
        use_external_mip_script=bool(opts.use_external_mip_script),
        enabled_user_shutdown=bool(opts.enabled_user_shutdown),
        hv_state=cluster_options.hv_state_from_pairs(opts.hv_state),
        disk_state=cluster_options.disk_state_from_pairs(opts.disk_state),
        ssh_key_type=opts.ssh_key_type, ssh_key_bits=opts.ssh_key_bits,
        feedback_fn=lambda msg: sys.stderr.write(msg + "\n"))
    op = opcodes.OpClusterPostInit()
    cli.submit_op_code(op, opts=opts)
    return constants.EXIT_SUCCESS


def destroy_cluster(opts, args):
    """Destroy the cluster (only the master left, no instances)."""
    from ganeti import bootstrap
    if not opts.yes_do_it:
        # sic: Ganeti's words, the missing "to" included
        sys.stderr.write("Destroying a cluster is irreversible. If you really want"
                         " destroy this cluster, supply the --yes-do-it option.\n")
        return constants.EXIT_FAILURE
    master = cli.submit_op_code(opcodes.OpClusterDestroy(), opts=opts)
    bootstrap.finalize_cluster_destroy(master)
    return constants.EXIT_SUCCESS


def show_master(opts, args):
    """Print the master node's name (from ssconf; works on every node)."""
    sys.stdout.write("%s\n" % ssconf.SimpleStore().get_master_node())
    return constants.EXIT_SUCCESS


def master_failover(opts, args):
    """Make this node (a master candidate) the master; not a job (no masterd here)."""
    from ganeti import failover
    if opts.no_voting and not opts.yes_do_it:
        question = ("This will perform the failover even if most other nodes are down,"
                    " or if this node is outdated. This is dangerous as it can lead to a"
                    " non-consistent cluster. Check the gnt-cluster(8) man page before"
                    " proceeding. Continue?")
        if not cli.ask_user(question):
            return constants.EXIT_FAILURE

    def feedback(msg):
        # as Ganeti's: silent when all goes well, the problems on stderr;
        # --no-voting, dangerous, tells each step
        if opts.no_voting or "WARNING" in msg or msg.startswith("Warning"):
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()

    failover.master_failover(no_voting=opts.no_voting,
                             ignore_offline_nodes=opts.ignore_offline_nodes,
                             feedback_fn=feedback)
    return constants.EXIT_SUCCESS


def master_ping(opts, args):
    """Exit 0 if the master daemon answers, 1 otherwise."""
    try:
        cli.get_client().query_cluster_info()
    except Exception:  # any failure means "not answering"
        return constants.EXIT_FAILURE
    return constants.EXIT_SUCCESS


def show_version(opts, args):
    info = cli.get_client().query_cluster_info()
    sys.stdout.write("Software version: %s\n" % info["software_version"])
    sys.stdout.write("Internode protocol: %s\n" % info["protocol_version"])
    sys.stdout.write("Configuration format: %s\n" % info["config_version"])
    sys.stdout.write("OS api version: %s\n" % info["os_api_version"])
    sys.stdout.write("Export interface: %s\n" % info["export_version"])
    sys.stdout.write("VCS version: %s\n" % info["vcs_version"])
    return constants.EXIT_SUCCESS


def _fmt_time(value):
    return cli.format_timestamp(value) if value else "N/A"


def _ipolicy_items(ipolicy):
    bounds = []
    for idx, minmax in enumerate(ipolicy.get("minmax", [])):
        # min first, as Ganeti 3.0.2 shows them (its samples, all of them)
        bounds.append([("min/%d" % idx, minmax.get("min", {})),
                       ("max/%d" % idx, minmax.get("max", {}))])
    return [
        ("bounds specs", bounds),
        ("std", ipolicy.get("std", {})),
        ("allowed disk templates", ", ".join(ipolicy.get("disk-templates", []))),
        ("vcpu-ratio", ipolicy.get("vcpu-ratio")),
        ("spindle-ratio", ipolicy.get("spindle-ratio")),
    ]


def show_create_command(opts, args):
    """The gnt-cluster init command line with the cluster's instance specs."""
    info = cli.get_client().query_cluster_info()
    policy = info["ipolicy"]
    words = ["gnt-cluster init"]
    if policy.get("std"):
        words.append("--ipolicy-std-specs %s" % ipolicy_opts.specs_text(policy["std"]))
    bounds = ipolicy_opts.bounds_text(policy)
    if bounds:
        words.append("--ipolicy-bounds-specs %s" % bounds)
    words.append(info["name"])
    cli.to_stdout(" ".join(words))
    return constants.EXIT_SUCCESS


def show_cluster_config(opts, args):
    """Print the cluster's configuration (gnt-cluster info)."""
    info = cli.get_client().query_cluster_info()
    enabled = info["enabled_hypervisors"]
    hvparams = [(hv, info["hvparams"].get(hv, {})) for hv in enabled]
    reserved = ", ".join(info["reserved_lvs"]) if info["reserved_lvs"] else "(none)"
    collectors = []
    for name in sorted(info["enabled_data_collectors"]):
        interval = info["data_collector_interval"].get(name, 0) / 1e6
        collectors.append((name, [("active", info["enabled_data_collectors"][name]),
                                  ("interval", "%.3fs" % interval)]))
    items = [
        ("Cluster name", info["name"]),
        ("Cluster UUID", info["uuid"]),
        ("Creation time", _fmt_time(info["ctime"])),
        ("Modification time", _fmt_time(info["mtime"])),
        ("Master node", info["master"]),
        ("Architecture (this node)", "%s (%s)" % tuple(info["architecture"])),
        ("Tags", ", ".join(info["tags"]) if info["tags"] else "(none)"),
        ("Default hypervisor", info["default_hypervisor"]),
        ("Enabled hypervisors", ", ".join(enabled)),
        ("Hypervisor parameters", hvparams or {}),
        ("OS-specific hypervisor parameters", info["os_hvp"]),
        ("OS parameters", info["osparams"]),
        ("Hidden OSes", ", ".join(info["hidden_os"])),
        ("Blacklisted OSes", ", ".join(info["blacklisted_os"])),
        ("Cluster parameters", [
            ("candidate pool size", info["candidate_pool_size"]),
            ("maximal number of jobs running simultaneously", info["max_running_jobs"]),
            ("maximal number of jobs simultaneously tracked by the scheduler",
             info["max_tracked_jobs"]),
            ("mac prefix", info.get("mac_prefix", constants.DEFAULT_MAC_PREFIX)),
            ("master netdev", info["master_netdev"]),
            ("master netmask", info["master_netmask"]),
            ("use external master IP address setup script",
             info["use_external_mip_script"]),
            ("lvm volume group", info["volume_group_name"]),
            ("lvm reserved volumes", reserved),
            ("drbd usermode helper", info["drbd_usermode_helper"]),
            ("file storage path", info["file_storage_dir"]),
            ("shared file storage path", info["shared_file_storage_dir"]),
            ("gluster storage path", info["gluster_storage_dir"]),
            ("maintenance of node health", info["maintain_node_health"]),
            ("uid pool", ", ".join(str(u) for u in info["uid_pool"])),
            ("default instance allocator", info["default_iallocator"]),
            ("default instance allocator parameters", info["default_iallocator_params"]),
            ("primary ip version", info["primary_ip_version"]),
            ("preallocation wipe disks", info["prealloc_wipe_disks"]),
            ("OS search path", ", ".join(constants.OS_SEARCH_PATH)),
            ("ExtStorage Providers search path", ", ".join(constants.ES_SEARCH_PATH)),
            ("enabled disk templates", ", ".join(info["enabled_disk_templates"])),
            ("install image", info["install_image"]),
            ("instance communication network", info["instance_communication_network"]),
            ("zeroing image", info["zeroing_image"]),
            ("compression tools", info["compression_tools"]),
            ("enabled user shutdown", info["enabled_user_shutdown"]),
            ("modify ssh setup", info["modify_ssh_setup"]),
            ("ssh_key_type", info["ssh_key_type"]),
            ("ssh_key_bits", info["ssh_key_bits"]),
        # not in Ganeti, so shown only when on
        ] + ([("automatic master failover", True)] if info.get("auto_master_failover")
             else [])),
        ("Default node parameters", info["ndparams"]),
        ("Default instance parameters", info["beparams"]),
        ("Default nic parameters", info["nicparams"]),
        ("Default disk parameters", info["diskparams"]),
        ("Instance policy - limits for instances", _ipolicy_items(info["ipolicy"])),
        ("Data collectors", collectors),
    ]
    sys.stdout.write("\n".join(infofmt.format_info(items)) + "\n")
    return constants.EXIT_SUCCESS


def verify_cluster(opts, args):
    """Verify the cluster; exit 1 if any ERROR was found."""
    op = opcodes.OpClusterVerify(
        verbose=opts.verbose, error_codes=opts.error_codes,
        debug_simulate_errors=opts.simulate_errors,
        skip_checks=["nplusone_mem"] if opts.skip_nplusone_mem else [],
        ignore_errors=list(opts.ignore_errors or []), group_name=opts.nodegroup,
        verify_clutter=opts.verify_clutter)
    cl = cli.get_client()
    result = cli.submit_op_code(op, cl=cl, opts=opts)
    if result is None and opts.dry_run:
        return constants.EXIT_SUCCESS       # checked only: no jobs were submitted
    # the config job and one job per node group (Ganeti's job executor output)
    results = cli.wait_for_submitted_jobs(result[constants.JOB_IDS_KEY], cl=cl)
    bad_jobs = sum(1 for ok, _ in results if not ok)
    bad_results = sum(1 for ok, job_result in results if ok and not job_result[0])
    if bad_jobs:
        cli.to_stdout("%s job(s) failed while verifying the cluster." % bad_jobs)
    return (constants.EXIT_FAILURE if bad_jobs or bad_results
            else constants.EXIT_SUCCESS)


def verify_disks(opts, args):
    """Activate the disks of instances whose disks should be up but are not;
    report missing volumes (exit 1) and nodes that could not be asked."""
    cl = cli.get_client()
    result = cli.submit_op_code(opcodes.OpClusterVerifyDisks(group_name=opts.nodegroup),
                                cl=cl, opts=opts)
    retcode = constants.EXIT_SUCCESS
    for ok, job_result in cli.wait_for_submitted_jobs(result[constants.JOB_IDS_KEY],
                                                      cl=cl):
        if not ok:
            cli.to_stdout("Job failed: %s" % job_result)
            continue
        ((bad_nodes, instances, missing),) = job_result
        for node, text in bad_nodes.items():
            cli.to_stdout("Error gathering data on node %s: %s" % (node, text[-400:]))
            retcode = constants.EXIT_FAILURE
            cli.to_stdout("You need to fix these nodes first before fixing instances")
        for name in instances:
            if name in missing:
                continue
            cli.to_stdout("Activating disks for instance '%s'" % name)
            try:
                cli.submit_op_code(opcodes.OpInstanceActivateDisks(instance_name=name),
                                   cl=cl, opts=opts)
            except errors.GenericError as err:
                code, msg = cli.format_error(err)
                retcode |= code
                cli.to_stderr("Error activating disks for instance %s: %s"
                              % (name, msg))
        if missing:
            for name, volumes in missing.items():
                if all(node in bad_nodes for node, _ in volumes):
                    cli.to_stdout("Instance %s cannot be verified as it lives on broken"
                                  " nodes" % name)
                    continue
                cli.to_stdout("Instance %s has missing logical volumes:" % name)
                for node, volume in sorted(volumes):
                    if node in bad_nodes:
                        cli.to_stdout("\tbroken node %s /dev/%s" % (node, volume))
                    else:
                        cli.to_stdout("\t%s /dev/%s" % (node, volume))
            cli.to_stdout("You need to replace or recreate disks for all the above"
                          " instances if this message persists after fixing broken"
                          " nodes.")
            retcode = constants.EXIT_FAILURE
        elif not instances:
            cli.to_stdout("No disks need to be activated.")
    return retcode


def repair_disk_sizes(opts, args):
    """Record the sizes the nodes report for the disks (job log: what changed)."""
    cli.submit_op_code(opcodes.OpClusterRepairDiskSizes(instances=args), opts=opts)
    return constants.EXIT_SUCCESS


def activate_master_ip(opts, args):
    cli.submit_op_code(opcodes.OpClusterActivateMasterIp(), opts=opts)
    return constants.EXIT_SUCCESS


def deactivate_master_ip(opts, args):
    if not opts.confirm and not cli.ask_user(
            "This will disable the master IP. All the open connections to the master IP"
            " will be closed. To reach the master you will need to use its node IP."
            " Continue?"):
        return constants.EXIT_FAILURE
    cli.submit_op_code(opcodes.OpClusterDeactivateMasterIp(), opts=opts)
    return constants.EXIT_SUCCESS


def redist_conf(opts, args):
    op = opcodes.OpClusterRedistConf()
    if not opts.yes_do_it:
        cli.submit_or_send(op, opts)
        return constants.EXIT_SUCCESS
    # --yes-do-it: into the queue even when it is drained
    cl = cli.get_client()
    cli.set_generic_opcode_opts([op], opts)
    job_id = cl.submit_job_to_drained_queue([op])
    if opts.print_jobid:
        cli.to_stdout("%s" % job_id)
    if opts.submit_only:
        cli.to_stderr("JobID: %s" % job_id)
    else:
        cli.poll_job(job_id, cl=cl)
    return constants.EXIT_SUCCESS


def queue_ops(opts, args):
    """gnt-cluster queue {drain|undrain|info}."""
    command = args[0]
    cl = cli.get_client()
    if command in ("drain", "undrain"):
        cl.set_queue_drain_flag(command == "drain")
    elif command == "info":
        flag = cl.query_config_values(["drain_flag"])[0]
        sys.stdout.write("The drain flag is %s\n" % ("set" if flag else "unset"))
    else:
        raise errors.OpPrereqError("Command must be one of drain, undrain, info; not '%s'"
                                   % command, errors.ECODE_INVAL)
    return constants.EXIT_SUCCESS


def watcher_ops(opts, args):
    """gnt-cluster watcher {pause DURATION|continue|info}."""
    import time

    from ganeti.utils import text
    command = args[0]
    if command == "pause":
        if len(args) != 2:
            raise errors.OpPrereqError("Command 'pause' needs exactly one argument, the"
                                       " duration", errors.ECODE_INVAL)
        until = time.time() + text.parse_time_spec(args[1])
        result = cli.get_client().set_watcher_pause(until)
        sys.stdout.write("The watcher is paused until %s.\n" % time.ctime(result or until))
    elif command in ("continue", "info"):
        if len(args) != 1:
            raise errors.OpPrereqError("Command '%s' takes no arguments" % command,
                                       errors.ECODE_INVAL)
        cl = cli.get_client()
        if command == "continue":
            cl.set_watcher_pause(None)
            sys.stdout.write("The watcher is no longer paused.\n")
        else:
            until = cl.query_config_values(["watcher_pause"])[0]
            if until:
                sys.stdout.write("The watcher is paused until %s.\n" % time.ctime(until))
            else:
                sys.stdout.write("The watcher is not paused.\n")
    else:
        raise errors.OpPrereqError("Command must be one of pause, continue, info; not"
                                   " '%s'" % command, errors.ECODE_INVAL)
    return constants.EXIT_SUCCESS


_ARGS_CLUSTER = [cli.ArgSpec("<cluster_name>", 1, 1)]
_ARGS_WATCHER = [cli.ArgSpec("pause|continue|info", 1, 1), cli.ArgSpec("<duration>", 0, 1)]
_ARGS_QUEUE = [cli.ArgSpec("drain|undrain|info", 1, 1)]
# numbers are printed as decimal, as Ganeti does without the Python roman module
_ROMAN_OPT = cli.cli_option("--roman", dest="roman_integers", default=False,
                            action="store_true",
                            help="Use roman numbers for positive integers")

# Ganeti's help texts; the common ones are those of modify too
_HELP = {
    "beparams": "Backend parameters",
    "candidate_pool_size": "Set the candidate pool size",
    "enabled_hypervisors": "Comma-separated list of hypervisors",
    "file_storage_dir": "Specify the default directory (cluster-wide) for storing the"
                        " file-based disks [%s]" % pathutils.DEFAULT_FILE_STORAGE_DIR,
    "hvparams": "Hypervisor and hypervisor options, in the format"
                " hypervisor:option=value,option=value,...",
    "mac_prefix": "Specify the mac prefix for the instance IP addresses, in the format"
                  " XX:XX:XX",
    "master_netdev": "Specify the node interface (cluster-wide) on which the master IP"
                     " address will be added (cluster init default: %s)"
                     % constants.DEFAULT_BRIDGE,
    "master_netmask": "Specify the netmask of the master IP",
    "nicparams": "NIC parameters",
    "vg_name": "Enables LVM and specifies the volume group name (cluster-wide) for disk"
               " allocation [%s]" % constants.DEFAULT_VG,
    "maintain_node_health": "Configure the cluster to automatically maintain node"
                            " health, by shutting down unknown instances, shutting down"
                            " unknown DRBD devices, etc.",
    "uid_pool": "A list of user-ids or user-id ranges separated by commas",
    "drbd_helper": "Specifies usermode helper for DRBD",
    "default_iallocator": "Set the default instance allocator plugin",
    "prealloc_wipe_disks": "Wipe disks prior to instance creation",
    "ndparams": "Node parameters",
    "shared_file_storage_dir": "Specify the default directory (cluster-wide) for storing"
                               " the shared file-based disks [%s]"
                               % pathutils.DEFAULT_SHARED_FILE_STORAGE_DIR,
    "use_external_mip_script": "Specify whether to run a user-provided script for the"
                               " master IP address turnup and turndown operations",
    "diskparams": "Disk template parameters, in the format"
                  " template:option=value,option=value,...",
    "enabled_disk_templates": "Comma-separated list of disk templates",
}

_IALLOCATOR_PARAMS_OPT = cli.keyval_option(
    "--default-iallocator-params", dest="default_iallocator_params",
    help="iallocator template parameters, in the format template:option=value,"
    " option=value,...")
_COMPRESSION_TOOLS_OPT = cli.cli_option(
    "--compression-tools", dest="compression_tools", type="list", default=None,
    help="Comma-separated list of compression tools which are allowed to be used by"
    " Ganeti in various operations")

_USE_EXTERNAL_MIP_OPT = cli.cli_option(
    "--use-external-mip-script", dest="use_external_mip_script", type="bool",
    default=None, metavar="yes|no", help=_HELP["use_external_mip_script"])
_INSTALL_IMAGE_OPT = cli.cli_option(
    "--install-image", dest="install_image", default=None,
    help="The OS image to use for running the OS scripts safely")
_ZEROING_IMAGE_OPT = cli.cli_option(
    "--zeroing-image", dest="zeroing_image", default=None,
    help="The OS image to use to zero instance disks")
_USER_SHUTDOWN_OPT = cli.cli_option(
    "--user-shutdown", dest="enabled_user_shutdown", type="bool", default=None,
    help="Whether user shutdown is enabled")
SSH_KEY_BITS_OPT = cli.cli_option(
    "--ssh-key-bits", dest="ssh_key_bits", type="int", default=None,
    help="Length of SSH keys generated by Ganeti, in bits")
SSH_KEY_TYPE_OPT = cli.cli_option(
    "--ssh-key-type", dest="ssh_key_type", default=None, choices=["rsa", "dsa", "ecdsa"],
    help="Type of SSH key deployed by Ganeti for cluster actions")

# Ganeti's order; -g (--vg-name), --nicparams, -b/--bridge and --no-lvm-storage are ours.
# Not supported yet, refused when given (check_unsupported_settings): --uid-pool
# other than '', --prealloc-wipe-disks yes, --install-image, --zeroing-image,
# --gluster-storage-dir; --primary-ip-version other than 4 (doc/cluster-options.rst).
_INIT_OPTS = [
    cli.keyval_option("-B", "--backend-parameters", dest="beparams",
                      help=_HELP["beparams"]),
    cli.cli_option("-C", "--candidate-pool-size", dest="candidate_pool_size", type="int",
                   default=constants.DEFAULT_CANDIDATE_POOL_SIZE,
                   help=_HELP["candidate_pool_size"]),
    cli.cli_option("--enabled-hypervisors", dest="enabled_hypervisors", default=None,
                   help=_HELP["enabled_hypervisors"]),
    cli.cli_option("--file-storage-dir", dest="file_storage_dir", default=None,
                   metavar="DIR", help=_HELP["file_storage_dir"]),
    cli.cli_option("-H", "--hypervisor-parameters", dest="hvparams", type="identkeyval",
                   action="append", default=None, help=_HELP["hvparams"]),
    cli.cli_option("-m", "--mac-prefix", dest="mac_prefix",
                   default=constants.DEFAULT_MAC_PREFIX, metavar="PREFIX",
                   help=_HELP["mac_prefix"]),
    cli.cli_option("--master-netdev", dest="master_netdev", default=None, metavar="NETDEV",
                   help=_HELP["master_netdev"]),
    cli.cli_option("--master-netmask", dest="master_netmask", type="int", default=None,
                   metavar="NETMASK", help=_HELP["master_netmask"]),
    cli.keyval_option("-N", "--nic-parameters", "--nicparams", dest="nicparams",
                      help=_HELP["nicparams"]),
    cli.cli_option("--no-etc-hosts", dest="modify_etc_hosts", default=True,
                   action="store_false", help="Don't modify %s" % "/etc/hosts"),
    cli.cli_option("--no-ssh-init", dest="modify_ssh_setup", default=True,
                   action="store_false", help="Don't initialize SSH keys"),
    cli.cli_option("-s", "--secondary-ip", dest="secondary_ip", default=None,
                   metavar="ADDRESS", help="Specify the secondary ip for the node"),
    cli.cli_option("-g", "--vg-name", dest="vg_name", default=None, metavar="VG",
                   help=_HELP["vg_name"]),
    cli.cli_option("--maintain-node-health", dest="maintain_node_health", default="no",
                   choices=["yes", "no"], metavar="yes|no",
                   help=_HELP["maintain_node_health"]),
    cli.cli_option("--uid-pool", dest="uid_pool", default=None, help=_HELP["uid_pool"]),
    cli.cli_option("--drbd-usermode-helper", dest="drbd_helper", default=None,
                   help=_HELP["drbd_helper"]),
    cli.cli_option("-I", "--default-iallocator", dest="default_iallocator", default=None,
                   metavar="<NAME>", help=_HELP["default_iallocator"]),
    _IALLOCATOR_PARAMS_OPT,
    cli.cli_option("--primary-ip-version", dest="primary_ip_version", type="int",
                   default=None, metavar="4|6",
                   help="Cluster-wide IP version for primary IP"),
    cli.cli_option("--prealloc-wipe-disks", dest="prealloc_wipe_disks", default="no",
                   choices=["yes", "no"], metavar="yes|no",
                   help=_HELP["prealloc_wipe_disks"]),
    cli.keyval_option("--node-parameters", dest="ndparams", help=_HELP["ndparams"]),
    cli.cli_option("--shared-file-storage-dir", dest="shared_file_storage_dir",
                   default=None, metavar="SHAREDDIR",
                   help=_HELP["shared_file_storage_dir"]),
    _USE_EXTERNAL_MIP_OPT,
    cli.cli_option("-D", "--disk-parameters", dest="diskparams", type="identkeyval",
                   action="append", default=None, help=_HELP["diskparams"]),
    cli.HV_STATE_OPT, cli.DISK_STATE_OPT,
    cli.cli_option("--enabled-disk-templates", dest="enabled_disk_templates",
                   default=None, help=_HELP["enabled_disk_templates"]),
    ipolicy_opts.STD_SPECS_OPT,
    cli.cli_option("--gluster-storage-dir", dest="gluster_storage_dir", default=None,
                   metavar="GLUSTERDIR", help="Specify the default directory"
                   " (cluster-wide) for mounting Gluster file systems [%s]"
                   % pathutils.DEFAULT_GLUSTER_STORAGE_DIR),
    _INSTALL_IMAGE_OPT, _ZEROING_IMAGE_OPT,
    _COMPRESSION_TOOLS_OPT,
    _USER_SHUTDOWN_OPT, SSH_KEY_BITS_OPT, SSH_KEY_TYPE_OPT,
    ] + ipolicy_opts.IPOLICY_OPTS + ipolicy_opts.SPECS_OPTS + [
    cli.cli_option("-b", "--bridge", dest="bridge", default=None, metavar="BRIDGE",
                   help="Specify the default bridge name (cluster-wide) to connect the"
                   " instances to [%s]" % constants.DEFAULT_BRIDGE),
    cli.cli_option("--no-lvm-storage", dest="lvm_storage", default=True,
                   action="store_false", help="Disable support for lvm based instances"
                   " (cluster-wide)"),
]

_VERIFY_OPTS = [
    cli.VERBOSE_OPT,
    cli.cli_option("--debug-simulate-errors", dest="simulate_errors", default=False,
                   action="store_true", help="Debugging option that makes the operation"
                   " treat most runtime checks as failed"),
    cli.cli_option("--error-codes", dest="error_codes", default=False, action="store_true",
                   help="Enable parseable error messages"),
    cli.cli_option("--no-nplus1-mem", dest="skip_nplusone_mem", default=False,
                   action="store_true", help="Skip N+1 memory redundancy tests"),
    cli.DRY_RUN_OPT, cli.PRIORITY_OPT, cli.NODEGROUP_OPT,
    # reported as warnings
    cli.cli_option("-I", "--ignore-errors", dest="ignore_errors", default=None,
                   action="append", help="Error code to be ignored"),
    cli.cli_option("--verify-ssh-clutter", dest="verify_clutter", default=False,
                   action="store_true", help="Verify that Ganeti did not clutter up the"
                   " 'authorized_keys' file"),
]

_FAILOVER_OPTS = [
    cli.cli_option("--no-voting", dest="no_voting", default=False, action="store_true",
                   help="Skip node agreement check (dangerous)"),
    cli.cli_option("--yes-do-it", "--ya-rly", dest="yes_do_it", default=False,
                   action="store_true", help="Override interactive check for --no-voting"),
    cli.cli_option("--ignore-offline-nodes", dest="ignore_offline_nodes", default=False,
                   action="store_true",
                   help="Ignores offline nodes for master failover voting"),
]

COMMANDS = {
    "init": (init_cluster, _ARGS_CLUSTER, _INIT_OPTS, "[<opts>...] <cluster-name>",
             "Initialises a new cluster configuration"),
    "destroy": (destroy_cluster, cli.ARGS_NONE, [
        cli.cli_option("--yes-do-it", "--ya-rly", dest="yes_do_it", default=False,
                       action="store_true", help="Destroy cluster")],
        "", "Destroy cluster"),
    "info": (show_cluster_config, cli.ARGS_NONE, [_ROMAN_OPT], "[--roman]",
             "Show cluster configuration"),
    "repair-disk-sizes": (repair_disk_sizes, cli.ARGS_MANY_INSTANCES,
                          [cli.DRY_RUN_OPT, cli.PRIORITY_OPT], "[<instance-name>...]",
                          "Updates mismatches in recorded disk sizes"),
    "show-ispecs-cmd": (show_create_command, cli.ARGS_NONE, [], "",
                        "Show the command line to re-create the cluster"),
    "verify-disks": (verify_disks, cli.ARGS_NONE, [cli.PRIORITY_OPT, cli.NODEGROUP_OPT],
                     "", "Does a check on the cluster disk status"),
    "verify": (verify_cluster, cli.ARGS_NONE, _VERIFY_OPTS, "",
               "Does a check on the cluster configuration"),
    "getmaster": (show_master, cli.ARGS_NONE, [], "",
                  "Shows the cluster master"),
    "master-failover": (master_failover, cli.ARGS_NONE, _FAILOVER_OPTS, "",
                        "Makes the current node the master"),
    "master-ping": (master_ping, cli.ARGS_NONE, [], "",
                    "Checks if the master is alive"),
    "version": (show_version, cli.ARGS_NONE, [], "", "Shows the cluster version"),
    "redist-conf": (redist_conf, cli.ARGS_NONE, cli.SUBMIT_OPTS + [
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT,
        cli.cli_option("--yes-do-it", dest="yes_do_it", default=False,
                       action="store_true", help="Unconditionally distribute the"
                       " configuration, even if the queue is drained")], "",
                    "Forces a push of the configuration file and ssconf files to the"
                    " nodes in the cluster"),
    "activate-master-ip": (activate_master_ip, cli.ARGS_NONE, [], "",
                           "Activates the master IP"),
    "deactivate-master-ip": (deactivate_master_ip, cli.ARGS_NONE, [cli.CONFIRM_OPT], "",
                             "Deactivates the master IP"),
    "queue": (queue_ops, _ARGS_QUEUE, [], "drain|undrain|info",
              "Change queue properties"),
    "watcher": (watcher_ops, _ARGS_WATCHER, [], "{pause <timespec>|continue|info}",
                "Change watcher properties"),
}


# ---- modify, rename, command, copyfile -------------------------------------------------

def _hv_dicts(pairs, what):
    """[(name, dict)] from -H/-D into {name: dict}; the no_/- group forms are refused."""
    result = {}
    for name, params in pairs or []:
        if not isinstance(params, dict):
            raise errors.OpPrereqError("Cannot remove or reset all %s parameters of '%s'"
                                       " here" % (what, name), errors.ECODE_INVAL)
        result.setdefault(name, {}).update(params)
    return result or None


def set_cluster_params(opts, args):
    """gnt-cluster modify: change cluster-wide parameters (OP_CLUSTER_SET_PARAMS)."""
    from ganeti.cmdlib import cluster_options
    vg_name = opts.vg_name
    reserved_lvs = None
    if opts.reserved_lvs is not None:
        reserved_lvs = _split_list(opts.reserved_lvs)
    # names none knows are refused here, as Ganeti's client does
    paramtypes.refuse_unknown(opts.beparams, paramtypes.BE_COMPAT_DEFAULTS)
    for _, params in opts.hvparams or []:
        if isinstance(params, dict):
            paramtypes.refuse_unknown(params, paramtypes.HV_ALL_DEFAULTS)
    params = dict(
        vg_name=vg_name,
        enabled_hypervisors=_split_list(opts.enabled_hypervisors)
        if opts.enabled_hypervisors is not None else None,
        hvparams=_hv_dicts(opts.hvparams, "hypervisor"),
        beparams=opts.beparams or None, nicparams=opts.nicparams or None,
        ndparams=opts.ndparams or None,
        diskparams=_hv_dicts(opts.diskparams, "disk"),
        candidate_pool_size=opts.candidate_pool_size,
        max_running_jobs=opts.max_running_jobs, max_tracked_jobs=opts.max_tracked_jobs,
        maintain_node_health=opts.maintain_node_health,
        prealloc_wipe_disks=opts.prealloc_wipe_disks,
        drbd_helper=opts.drbd_helper, default_iallocator=opts.default_iallocator,
        mac_prefix=opts.mac_prefix, master_netdev=opts.master_netdev,
        master_netmask=opts.master_netmask, reserved_lvs=reserved_lvs,
        use_external_mip_script=opts.use_external_mip_script,
        enabled_disk_templates=_split_list(opts.enabled_disk_templates)
        if opts.enabled_disk_templates is not None else None,
        modify_etc_hosts=opts.modify_etc_hosts,
        file_storage_dir=opts.file_storage_dir,
        shared_file_storage_dir=opts.shared_file_storage_dir,
        enabled_user_shutdown=opts.enabled_user_shutdown,
        auto_master_failover=opts.auto_master_failover,
        default_iallocator_params=opts.default_iallocator_params or None,
        compression_tools=opts.compression_tools,
        ipolicy=ipolicy_opts.ipolicy_from_opts(opts) or None,
        hv_state=cluster_options.hv_state_from_pairs(opts.hv_state) or None,
        disk_state=cluster_options.disk_state_from_pairs(opts.disk_state) or None,
        install_image=opts.install_image, zeroing_image=opts.zeroing_image,
        instance_communication_network=opts.instance_communication_network,
        enabled_data_collectors=cluster_options.collectors_active(
            opts.enabled_data_collectors) or None,
        data_collector_interval=cluster_options.collector_intervals(
            opts.data_collector_interval) or None)
    from ganeti.cmdlib.cluster import check_unsupported_settings
    uid_opts = [opts.uid_pool, opts.add_uids, opts.remove_uids]
    check_unsupported_settings(uid_pool=any(uid_opts))
    if all(value is None for value in params.values()):
        if any(value is not None for value in uid_opts):
            return constants.EXIT_SUCCESS       # "--uid-pool=": the pool is empty already
        sys.stderr.write("Please give at least one of the parameters.\n")
        return constants.EXIT_FAILURE
    op = opcodes.OpClusterSetParams(force=opts.force, **params)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def rename_cluster(opts, args):
    """gnt-cluster rename NEW_NAME (OP_CLUSTER_RENAME)."""
    cl = cli.get_client()
    old_name = cl.query_config_values(["cluster_name"])[0]
    new_name = args[0]
    if not opts.force:
        question = ("This will rename the cluster from '%s' to '%s'. If you are connected"
                    " over the network to the cluster name, the operation is very"
                    " dangerous as the IP address will be removed from the node and the"
                    " change may not go through. Continue?" % (old_name, new_name))
        if not cli.ask_user(question):
            return constants.EXIT_FAILURE
    result = cli.submit_op_code(opcodes.OpClusterRename(name=new_name), cl=cl, opts=opts)
    if result:
        sys.stdout.write("Cluster renamed from '%s' to '%s'\n" % (old_name, result))
    return constants.EXIT_SUCCESS


def _target_nodes(wanted, exclude_master=False, nodegroup=None, secondary_ips=False):
    """(names, master, addresses) of the online nodes to work on, in cluster order,
    master last.

    ``wanted``: node names (full or short) or empty for all nodes; ``nodegroup``
    (name or uuid): only its nodes, as Ganeti (no node matching is no node to
    work on). Offline nodes are skipped with a note on stderr; unknown names are
    an error. ``addresses``: {node: secondary IP} with ``secondary_ips``, else {}.
    """
    cl = cli.get_client()
    fields = ["name", "offline"]
    if nodegroup is not None:
        fields += ["group", "group.uuid"]
    if secondary_ips:
        fields += ["sip"]
    rows = cl.query_nodes([], fields, False)
    master = cl.query_config_values(["master_node"])[0]
    addresses = dict((row[0], row[-1]) for row in rows) if secondary_ips else {}
    known = [row[0] for row in rows]
    offline = set(row[0] for row in rows if row[1])
    if wanted:
        names = []
        for name in wanted:
            matches = [n for n in known if n == name or n.split(".")[0] == name]
            if len(matches) != 1:
                raise errors.OpPrereqError("Node '%s' not known" % name, errors.ECODE_NOENT)
            if matches[0] not in names:
                names.append(matches[0])
    else:
        names = sorted(known)
    if nodegroup is not None:
        in_group = set(row[0] for row in rows if nodegroup in (row[2], row[3]))
        names = [n for n in names if n in in_group]
    skipped = [n for n in names if n in offline]
    if skipped:
        sys.stderr.write("Note: skipping offline node(s): %s\n" % ", ".join(skipped))
    result = [n for n in names if n not in offline and n != master]
    if not exclude_master and master in names and master not in offline:
        result.append(master)
    return result, master, addresses


def _node_addresses():
    """{node: primary IP} from ssconf (empty when unreadable)."""
    try:
        return ssconf.SimpleStore().get_node_primary_ips()
    except (errors.GenericError, OSError):
        return {}


_COMMAND_TIMEOUT = 3600     # per node; a command may legitimately run long


def run_cluster_command(opts, args):
    """gnt-cluster command: run a shell command on nodes over ssh, master last."""
    from ganeti import ssh
    command = " ".join(args)
    from ganeti.utils import process
    nodes, master, _ = _target_nodes(opts.nodes, nodegroup=opts.nodegroup)
    addresses = _node_addresses()
    exit_code = constants.EXIT_SUCCESS
    for name in nodes:
        # one stream like a terminal: the shell merges stderr into stdout; the
        # master (where we are) runs it directly, the others over ssh
        argv = ["/bin/sh", "-c", "exec 2>&1; " + command]
        if name == master:
            result = process.run_cmd(argv, timeout=_COMMAND_TIMEOUT)
        else:
            result = ssh.run(name, argv, address=addresses.get(name),
                             timeout=_COMMAND_TIMEOUT)
        if result.timed_out:
            output, code = result.stdout + result.stderr + "(timed out)", 1
        else:
            output = result.stdout + result.stderr
            code = result.exit_code if result.exit_code is not None else 1
        if code != 0:
            exit_code = constants.EXIT_FAILURE
        if opts.failure_only and code == 0:
            continue
        sys.stdout.write("------------------------------------------------\n")
        if opts.show_machine_names:
            for line in output.splitlines():
                sys.stdout.write("%s: %s\n" % (name, line))
        else:
            sys.stdout.write("node: %s\n" % name)
            sys.stdout.write("%s\n" % output)     # as is, as Ganeti prints it
        sys.stdout.write("return code = %s\n" % code)
    return exit_code


def copy_file_to_nodes(opts, args):
    """gnt-cluster copyfile: copy a file to the same path on the other nodes."""
    import os
    import stat

    from ganeti import ssh
    filename = os.path.abspath(args[0])
    try:
        st = os.stat(filename)
    except OSError:
        raise errors.OpPrereqError("No such filename '%s'" % args[0], errors.ECODE_INVAL)
    if not stat.S_ISREG(st.st_mode):
        raise errors.OpPrereqError("'%s' is not a regular file" % args[0], errors.ECODE_INVAL)
    with open(filename, "rb") as fd:
        data = fd.read()
    nodes, _, secondary = _target_nodes(opts.nodes, exclude_master=True,
                                        nodegroup=opts.nodegroup,
                                        secondary_ips=opts.use_replication_network)
    # --use-replication-network: over the secondary IPs
    addresses = secondary or _node_addresses()
    mode = "%o" % stat.S_IMODE(st.st_mode)
    failed = False
    for name in nodes:
        dest = pathutils.to_node_path(filename, name)
        script = ('set -e; t="$1.gnt-copy.$$"; cat > "$t"; chmod "$2" "$t";'
                  ' mv -f "$t" "$1"')
        result = ssh.run(name, ["/bin/sh", "-c", script, "copyfile", dest, mode],
                         address=addresses.get(name), input_data=data)
        if result.failed:
            failed = True
            sys.stderr.write("Copy of file %s to node %s failed: %s\n"
                             % (filename, name, (result.stderr.strip()
                                                 or result.fail_reason)))
    return constants.EXIT_FAILURE if failed else constants.EXIT_SUCCESS


def _yes_no_opt(*flags, dest, help):
    return cli.cli_option(*flags, dest=dest, type="bool", default=None, metavar="yes|no",
                          help=help)


_NODES_OPT = cli.cli_option("-n", "--node", dest="nodes", default=None, action="append",
                            metavar="<node>", help="Use only this node (can be used"
                            " multiple times, if not given defaults to all nodes)")

# Ganeti's order; -g (--vg-name), --nicparams and --auto-master-failover are
# ours (--no-lvm-storage is not: Ganeti's modify refuses it, --vg-name= turns
# LVM off). Refused when given (check_unsupported_settings):
# --uid-pool other than '', --add-uids, --remove-uids; --prealloc-wipe-disks yes
# is refused by the job.
_MODIFY_OPTS = [
    cli.FORCE_OPT,
    cli.keyval_option("-B", "--backend-parameters", dest="beparams",
                      help=_HELP["beparams"]),
    cli.cli_option("-C", "--candidate-pool-size", dest="candidate_pool_size", type="int",
                   default=None, help=_HELP["candidate_pool_size"]),
    cli.cli_option("--max-running-jobs", dest="max_running_jobs", type="int", default=None,
                   help="Set the maximal number of jobs to run simultaneously"),
    cli.cli_option("--max-tracked-jobs", dest="max_tracked_jobs", type="int", default=None,
                   help="Set the maximal number of jobs to be tracked simultaneously for"
                   " scheduling"),
    _INSTALL_IMAGE_OPT,
    cli.cli_option("--instance-communication-network",
                   dest="instance_communication_network", default=None,
                   help="Set the network name for instance communication"),
    cli.cli_option("--enabled-hypervisors", dest="enabled_hypervisors", default=None,
                   help=_HELP["enabled_hypervisors"]),
    cli.cli_option("-H", "--hypervisor-parameters", dest="hvparams", type="identkeyval",
                   action="append", default=None, help=_HELP["hvparams"]),
    cli.cli_option("-m", "--mac-prefix", dest="mac_prefix", default=None, metavar="PREFIX",
                   help=_HELP["mac_prefix"]),
    cli.cli_option("--master-netdev", dest="master_netdev", default=None, metavar="NETDEV",
                   help=_HELP["master_netdev"]),
    cli.cli_option("--master-netmask", dest="master_netmask", type="int", default=None,
                   metavar="NETMASK", help=_HELP["master_netmask"]),
    cli.keyval_option("-N", "--nic-parameters", "--nicparams", dest="nicparams",
                      help=_HELP["nicparams"]),
    cli.cli_option("-g", "--vg-name", dest="vg_name", default=None, metavar="VG",
                   help=_HELP["vg_name"]),
    _yes_no_opt("--maintain-node-health", dest="maintain_node_health",
                help=_HELP["maintain_node_health"]),
    cli.cli_option("--uid-pool", dest="uid_pool", default=None, help=_HELP["uid_pool"]),
    cli.cli_option("--add-uids", dest="add_uids", default=None,
                   help="A list of user-ids or user-id ranges separated by commas, to be"
                   " added to the user-id pool"),
    cli.cli_option("--remove-uids", dest="remove_uids", default=None,
                   help="A list of user-ids or user-id ranges separated by commas, to be"
                   " removed from the user-id pool"),
    cli.cli_option("--drbd-usermode-helper", dest="drbd_helper", default=None,
                   help=_HELP["drbd_helper"]),
    cli.cli_option("-I", "--default-iallocator", dest="default_iallocator", default=None,
                   metavar="<NAME>", help=_HELP["default_iallocator"]),
    _IALLOCATOR_PARAMS_OPT,
    cli.cli_option("--reserved-lvs", dest="reserved_lvs", default=None,
                   help="A comma-separated list of reserved logical volumes names, that"
                   " will be ignored by cluster verify"),
    cli.DRY_RUN_OPT, cli.PRIORITY_OPT,
    _yes_no_opt("--prealloc-wipe-disks", dest="prealloc_wipe_disks",
                help=_HELP["prealloc_wipe_disks"]),
    cli.keyval_option("--node-parameters", dest="ndparams", help=_HELP["ndparams"]),
    _USE_EXTERNAL_MIP_OPT,
    cli.cli_option("-D", "--disk-parameters", dest="diskparams", type="identkeyval",
                   action="append", default=None, help=_HELP["diskparams"]),
    cli.HV_STATE_OPT, cli.DISK_STATE_OPT,
    ] + cli.SUBMIT_OPTS + [
    cli.cli_option("--enabled-disk-templates", dest="enabled_disk_templates", default=None,
                   help=_HELP["enabled_disk_templates"]),
    ipolicy_opts.STD_SPECS_OPT,
    _yes_no_opt("--modify-etc-hosts", dest="modify_etc_hosts",
                help="Defines whether the cluster should autonomously modify and keep in"
                " sync the /etc/hosts file of the nodes"),
    _USER_SHUTDOWN_OPT,
    ] + ipolicy_opts.IPOLICY_OPTS + [
    cli.cli_option("--file-storage-dir", dest="file_storage_dir", default=None,
                   metavar="DIR", help=_HELP["file_storage_dir"]),
    cli.cli_option("--shared-file-storage-dir", dest="shared_file_storage_dir",
                   default=None, metavar="SHAREDDIR",
                   help=_HELP["shared_file_storage_dir"]),
    _ZEROING_IMAGE_OPT,
    _COMPRESSION_TOOLS_OPT,
    cli.keyval_option("--enabled-data-collectors", dest="enabled_data_collectors",
                      help="Deactivate or reactivate a data collector for reporting, in"
                      " the format collector=bool, where collector is one of drbd,"
                      " xen-cpu-avg-load, cpu-avg-load, inst-status-xen, diskstats, lv."),
    cli.keyval_option("--data-collector-interval", dest="data_collector_interval",
                      help="Set collection intervals in seconds of data collectors."),
    _yes_no_opt("--auto-master-failover", dest="auto_master_failover",
                help="Whether a master candidate becomes the master by itself when"
                " the master dies (not in Ganeti; default no)"),
]

COMMANDS.update({
    "modify": (set_cluster_params, cli.ARGS_NONE, _MODIFY_OPTS, "[<opts>...]",
               "Alters the parameters of the cluster"),
    "rename": (rename_cluster, [cli.ArgSpec("<new_name>", 1, 1)],
               [cli.FORCE_OPT, cli.DRY_RUN_OPT], "<new-name>", "Renames the cluster"),
    "command": (run_cluster_command, [cli.ArgSpec("<command>", 1, None)], [
        _NODES_OPT, cli.NODEGROUP_OPT, cli.SHOW_MACHINE_OPT,
        cli.cli_option("--failure-only", dest="failure_only", default=False,
                       action="store_true", help="Hide successful results and show"
                       " failures only (determined by the exit code)")],
        "[-n <node-name>...] <command>", "Runs a command on all (or only some) nodes"),
    "copyfile": (copy_file_to_nodes, [cli.ArgSpec("<file>", 1, 1)], [
        _NODES_OPT,
        cli.cli_option("--use-replication-network", dest="use_replication_network",
                       default=False, action="store_true", help="Whether to use the"
                       " replication network for talking to the nodes"),
        cli.NODEGROUP_OPT],
        "[-n <node-name>...] <filename>", "Copies a file to all (or only some) nodes"),
    "search-tags": tags.SEARCH_COMMAND,
    "epo": (oob.epo, [cli.ArgSpec("<arg>")], [
        cli.FORCE_OPT, oob.ON_OPT, oob.GROUPS_OPT, oob.ALL_OPT, oob.OOB_TIMEOUT_OPT,
        cli.SHUTDOWN_TIMEOUT_OPT, oob.POWER_DELAY_OPT],
        "[<opts>...] [args]", "Performs an emergency power-off on given args"),
})
COMMANDS.update(tags.commands(constants.TAG_CLUSTER))
COMMANDS["renew-crypto"] = renew_crypto.COMMAND
COMMANDS["upgrade"] = cluster_upgrade.COMMAND


def main():
    return cli.generic_main(COMMANDS)
