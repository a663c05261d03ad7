"""gnt-instance: create, list, inspect, start, stop and remove instances."""

import os
import sys

from ganeti import cli, constants, errors, opcodes, paramtypes
from ganeti.client import infofmt, instance_batch, tags
from ganeti.storage import base as storage_base
from ganeti.utils import text

_LIST_DEF_FIELDS = ["name", "hypervisor", "os", "pnode", "status", "oper_ram"]
_ARGS_ONE = [cli.ArgSpec("<instance>", 1, 1)]
_ARGS_MANY = [cli.ArgSpec("<instance>")]


# ---- option parsing helpers ----------------------------------------------------------

def _parse_indexed(values, what):
    """['0:size=1G,mode=rw', ...] -> [{...}, ...] ordered by index (cli.md 0.6)."""
    items = _parse_indexed_dict(values, what)
    if sorted(items) != list(range(len(items))):
        raise errors.OpPrereqError("%s indices must be 0, 1, 2, ... without gaps"
                                   % what.capitalize(), errors.ECODE_INVAL)
    return [items[i] for i in sorted(items)]


def _parse_indexed_dict(values, what):
    """['0:size=1G,mode=rw', '2:mode=ro'] -> {0: {...}, 2: {...}}."""
    items = {}
    for value in values or []:
        if ":" in value:
            idx, rest = value.split(":", 1)
        else:
            idx, rest = value, ""
        try:
            idx = int(idx)
        except ValueError:
            raise errors.OpPrereqError("Invalid %s index '%s' in '%s' (expected N:key=value)"
                                       % (what, idx, value), errors.ECODE_INVAL)
        if idx in items:
            raise errors.OpPrereqError("Duplicate %s index %d" % (what, idx),
                                       errors.ECODE_INVAL)
        try:
            items[idx] = text.parse_key_values(rest)
        except errors.ParameterError as err:
            raise errors.OpPrereqError("Invalid %s options '%s': %s" % (what, rest, err),
                                       errors.ECODE_INVAL)
    return items


def _disk_specs(opts):
    if opts.sd_size and opts.disks:
        raise errors.OpPrereqError("Please use either the '--disk' or '-s' option",
                                   errors.ECODE_INVAL)
    if opts.sd_size:
        return [{"size": opts.sd_size}]
    disks = _parse_indexed(opts.disks, "disk")
    for disk in disks:
        if "size" in disk:
            try:
                disk["size"] = text.parse_unit(disk["size"])
            except errors.UnitParseError as err:
                raise errors.OpPrereqError("Invalid disk size: %s" % err, errors.ECODE_INVAL)
    return disks


def _nic_specs(opts, mode):
    if opts.no_nics:
        if opts.nics:
            raise errors.OpPrereqError("--no-nics and --net conflict", errors.ECODE_INVAL)
        return []
    if not opts.nics:
        # a new instance gets one NIC; an import those of its export
        return [{}] if mode == "create" else []
    return _parse_indexed(opts.nics, "NIC")


def _hv_option(opts):
    if not opts.hypervisor:
        return None, {}
    name, params = opts.hypervisor
    return name, params or {}


def add_instance(opts, args):
    """Create an instance (OP_INSTANCE_CREATE), or only reserve it
    (--forthcoming), or create a reserved one (--commit)."""
    if opts.forthcoming and opts.commit:
        raise errors.OpPrereqError("Creating an instance only forthcoming and commiting"
                                   " it are mutally exclusive")    # sic: Ganeti's words
    return create_instance(opts, args, "create")


def create_instance(opts, args, mode):
    """OP_INSTANCE_CREATE in ``mode`` "create" or "import" (gnt-backup import)."""
    template = opts.disk_template
    # the disks are checked first, in Ganeti's words
    if template == constants.DT_DISKLESS:
        if opts.disks or opts.sd_size:
            raise errors.OpPrereqError("Diskless instance but disk information passed",
                                       errors.ECODE_INVAL)
    elif not opts.disks and not opts.sd_size and mode == "create":
        raise errors.OpPrereqError("No disk information specified", errors.ECODE_INVAL)
    if not template:
        raise errors.OpPrereqError("No disk template given (-t)", errors.ECODE_INVAL)
    pnode = snode = None
    if opts.node:
        pnode, _, snode = opts.node.partition(":")
        snode = snode or None
    hv_name, hvparams = _hv_option(opts)
    beparams = paramtypes.check_types(opts.beparams, paramtypes.BE_COMPAT_DEFAULTS)
    if "memory" in beparams:
        # the pre-2.6 name: the job asks for maxmem and minmem, as Ganeti's does
        memory = beparams.pop("memory")
        beparams.update({constants.BE_MAXMEM: memory, constants.BE_MINMEM: memory})
    if hv_name in constants.HVC_DEFAULTS:
        hvparams = paramtypes.check_types(hvparams, constants.HVC_DEFAULTS[hv_name])
    op = opcodes.OpInstanceCreate(
        instance_name=args[0], disks=_disk_specs(opts), disk_template=template,
        nics=_nic_specs(opts, mode), pnode=pnode, snode=snode,
        os_type=getattr(opts, "os", None),
        hypervisor=hv_name, hvparams=hvparams, beparams=beparams,
        osparams=opts.osparams or {}, osparams_private=opts.osparams_private or {},
        osparams_secret=opts.osparams_secret or {}, mode=mode,
        start=getattr(opts, "start", True) if mode == "create" else False,
        ip_check=opts.ip_check, name_check=opts.name_check,
        # an import installs no OS: Ganeti's client leaves the flag unset there
        no_install=(getattr(opts, "no_install", False)
                    if mode == "create" else None),
        wait_for_sync=opts.wait_for_sync,
        file_storage_dir=opts.file_storage_dir, file_driver=opts.file_driver,
        iallocator=opts.iallocator, tags=opts.tags or [],
        group_name=opts.group_name, opportunistic_locking=opts.opportunistic_locking,
        force_variant=getattr(opts, "force_variant", False),
        conflicts_check=opts.conflicts_check, ignore_ipolicy=opts.ignore_ipolicy,
        identify_defaults=getattr(opts, "identify_defaults", False),
        src_node=getattr(opts, "src_node", None), src_path=getattr(opts, "src_dir", None),
        compress=getattr(opts, "compress", "none"),
        forthcoming=getattr(opts, "forthcoming", False),
        commit=getattr(opts, "commit", False))
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def _ensure_instance_exists(cl, name):
    """OpPrereqError unless ``name`` (full or short) is an instance.

    Checked before a confirmation question, so nobody is asked about an
    instance that is not there (as Ganeti does).
    """
    rows = cl.query("instance", ["name"], None)["data"]
    known = [row[0][1] for row in rows]
    if name not in known and not any(n.startswith(name + ".") for n in known):
        raise errors.OpPrereqError("Instance '%s' does not exist" % name,
                                   errors.ECODE_NOENT)


def remove_instance(opts, args):
    name = args[0]
    cl = cli.get_client()
    if not opts.force:
        _ensure_instance_exists(cl, name)
        question = ("This will remove the volumes of the instance %s (including mirrors),"
                    " thus removing all the data of the instance. Continue?" % name)
        if not cli.ask_user(question):
            return constants.EXIT_FAILURE
    op = opcodes.OpInstanceRemove(instance_name=name, ignore_failures=opts.ignore_failures,
                                  shutdown_timeout=opts.shutdown_timeout)
    cli.submit_or_send(op, opts, cl=cl)
    return constants.EXIT_SUCCESS


def _check_target_choice(opts):
    if opts.iallocator and opts.dst_node:
        raise errors.OpPrereqError("Specify either an iallocator (-I), or a target node"
                                   " (-n) but not both", errors.ECODE_INVAL)


def failover_instance(opts, args):
    """Stop the instance and start it on its secondary (or the given node)."""
    name = args[0]
    cl = cli.get_client()
    _check_target_choice(opts)
    if not opts.force:
        _ensure_instance_exists(cl, name)
        if not cli.ask_user("Failover will happen to image %s. This requires a shutdown"
                            " of the instance. Continue?" % name):
            return constants.EXIT_FAILURE
    if opts.ignore_consistency:
        if not cli.ask_user("To failover instance %s, the source node must be marked"
                            " offline first. Is this already the case?" % name):
            return constants.EXIT_FAILURE
    op = opcodes.OpInstanceFailover(instance_name=name,
                                    ignore_consistency=opts.ignore_consistency,
                                    shutdown_timeout=opts.shutdown_timeout,
                                    iallocator=opts.iallocator, target_node=opts.dst_node,
                                    ignore_ipolicy=opts.ignore_ipolicy,
                                    cleanup=opts.cleanup)
    cli.submit_or_send(op, opts, cl=cl)
    return constants.EXIT_SUCCESS


def move_instance(opts, args):
    """Copy the instance (plain or file disks) to another node (OP_INSTANCE_MOVE)."""
    name = args[0]
    if not opts.force and not cli.ask_user("Instance %s will be moved. This requires a"
                                           " shutdown of the instance. Continue?" % name):
        return constants.EXIT_FAILURE
    op = opcodes.OpInstanceMove(instance_name=name, target_node=opts.node,
                                compress=opts.compress,
                                shutdown_timeout=opts.shutdown_timeout,
                                ignore_consistency=opts.ignore_consistency,
                                ignore_ipolicy=opts.ignore_ipolicy)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def migrate_instance(opts, args):
    """Move the running instance to its secondary (or the given node) live."""
    name = args[0]
    cl = cli.get_client()
    _check_target_choice(opts)
    if not opts.force:
        _ensure_instance_exists(cl, name)
        if opts.cleanup:
            question = ("Instance %s will be recovered from a failed migration. Note that"
                        " the migration procedure (including cleanup)" % name)
        else:
            question = "Instance %s will be migrated. Note that migration" % name
        question += (" might impact the instance if anything goes wrong (e.g. due to bugs"
                     " in the hypervisor). Continue?")
        if not cli.ask_user(question):
            return constants.EXIT_FAILURE
    mode = cli.migration_mode(opts)
    op = opcodes.OpInstanceMigrate(instance_name=name, mode=mode, cleanup=opts.cleanup,
                                   iallocator=opts.iallocator, target_node=opts.dst_node,
                                   allow_failover=opts.allow_failover,
                                   allow_runtime_changes=opts.allow_runtime_chgs,
                                   ignore_ipolicy=opts.ignore_ipolicy,
                                   ignore_hvversions=opts.ignore_hvversions)
    cli.submit_or_send(op, opts, cl=cl)
    return constants.EXIT_SUCCESS


def list_instances(opts, args):
    fields = cli.parse_fields(opts.output, _LIST_DEF_FIELDS)
    return cli.generic_list("instance", fields, args, opts.units, opts.separator,
                            not opts.no_headers, verbose=opts.verbose,
                            force_filter=opts.force_filter)


def list_fields(opts, args):
    return cli.generic_list_fields("instance", args, opts.separator, not opts.no_headers)


# selections by tag: which nodes of an instance count ("instance": its own tags)
_TAG_MODES = {"tags": "instance", "node-tags": ("pnode", "snodes"),
              "pri-node-tags": ("pnode",), "sec-node-tags": ("snodes",)}


def _select_by_tags(mode, tags, cl):
    """Instances whose own tags (--tags) or whose nodes' tags (--*-node-tags)
    include any of ``tags``, in name order."""
    if not tags:
        raise errors.OpPrereqError("No %s tags passed" % (
            "instance" if mode == "tags" else "node"), errors.ECODE_INVAL)
    wanted = set(tags)
    rows = [[v for _, v in row] for row in
            cl.query("instance", ["name", "tags", "pnode", "snodes"], None)["data"]]
    if _TAG_MODES[mode] == "instance":
        return sorted(name for name, itags, _, _ in rows if wanted & set(itags or []))
    nodes = set(name for name, ntags in
                ([v for _, v in row] for row in
                 cl.query("node", ["name", "tags"], None)["data"])
                if wanted & set(ntags or []))
    result = []
    for name, _, pnode, snodes in rows:
        mine = set()
        if "pnode" in _TAG_MODES[mode]:
            mine.add(pnode)
        if "snodes" in _TAG_MODES[mode]:
            mine.update(snodes or [])
        if mine & nodes:
            result.append(name)
    return sorted(result)


def _any_known(cl, names):
    """Whether an instance is called one of ``names`` (or has it as its short name)."""
    known = [r[0][1] for r in cl.query("instance", ["name"], None)["data"]]
    return any(full == name or full.startswith(name + ".")
               for name in names for full in known)


def _select_instances(opts, args, cl):
    """Names selected by the arguments and --all/--node/--primary/--secondary,
    or by tags (--tags/--node-tags/--pri-node-tags/--sec-node-tags)."""
    mode = getattr(opts, "multi_mode", "instance")
    if mode in _TAG_MODES:
        return _select_by_tags(mode, args, cl)
    if mode == "all":
        if args:
            raise errors.OpPrereqError("No arguments are allowed with --all",
                                       errors.ECODE_INVAL)
        rows = cl.query("instance", ["name"], None)["data"]
        return [r[0][1] for r in rows]
    if mode == "instance":
        if not args:
            raise errors.OpPrereqError("No instance names passed", errors.ECODE_INVAL)
        if not _any_known(cl, args):
            return []       # "Selection filter does not match any instances"
        return list(args)
    fields = {"node": ["pnode", "snodes"], "primary": ["pnode"],
              "secondary": ["snodes"]}[mode]
    rows = cl.query("instance", ["name"] + fields, None)["data"]
    names = []
    for row in rows:
        values = [v for _, v in row]
        nodes = set()
        for val in values[1:]:
            nodes.update(val if isinstance(val, list) else [val])
        if any(cli_node in nodes or any(n.startswith(cli_node + ".") for n in nodes)
               for cli_node in args):
            names.append(values[0])
    return names


def _run_on_instances(opts, args, make_op, verb):
    cl = cli.get_client()
    names = _select_instances(opts, args, cl)
    mode = getattr(opts, "multi_mode", "instance")
    if not names:
        if mode == "all":
            cli.to_stdout("Cluster is empty, no instances to %s" % verb)
            return constants.EXIT_SUCCESS
        raise errors.OpPrereqError("Selection filter does not match any instances",
                                   errors.ECODE_INVAL)
    # a selection by node or --all is confirmed even when it hits one instance
    multi_on = mode != "instance" or len(names) > 1
    if multi_on and not opts.force_multiple:
        if not cli.confirm_operation(names, "instances", verb):
            return constants.EXIT_FAILURE
    return _submit_for_each(opts, cl, names, make_op, multi_on)


def _submit_for_each(opts, cl, names, make_op, multi_on):
    """One job per instance, as Ganeti's job executor runs them: "Waiting for
    job N for NAME ..." and a failed job's error (standard error), or with
    --submit "N: NAME"; the submitted ids are announced when several ran."""
    results = cli.run_named_jobs([(name, [make_op(name)]) for name in names], opts,
                                 cl=cl, verbose=multi_on)
    if all(ok for ok, _ in results):
        return constants.EXIT_SUCCESS
    return constants.EXIT_FAILURE


def startup_instance(opts, args):
    return _run_on_instances(opts, args, lambda n: opcodes.OpInstanceStartup(
        instance_name=n, force=opts.force, ignore_offline_nodes=opts.ignore_offline,
        hvparams=opts.hvparams or {}, beparams=opts.beparams or {},
        no_remember=opts.no_remember, startup_paused=opts.startup_paused), "startup")


def shutdown_instance(opts, args):
    return _run_on_instances(opts, args, lambda n: opcodes.OpInstanceShutdown(
        instance_name=n, force=opts.force, ignore_offline_nodes=opts.ignore_offline,
        timeout=opts.timeout, no_remember=opts.no_remember), "shutdown")


def reboot_instance(opts, args):
    return _run_on_instances(opts, args, lambda n: opcodes.OpInstanceReboot(
        instance_name=n, reboot_type=opts.reboot_type,
        ignore_secondaries=opts.ignore_secondaries,
        shutdown_timeout=opts.shutdown_timeout), "reboot")


def connect_to_console(opts, args):
    """Attach to the instance's console (runs the console command of its node)."""
    from ganeti.utils import net
    cl = cli.get_client()
    if not _any_known(cl, args[:1]):          # Ganeti's client asks first
        raise errors.OpPrereqError("Instance '%s' does not exist" % args[0],
                                   errors.ECODE_NOENT)
    op = opcodes.OpInstanceConsole(instance_name=args[0])
    console = cli.submit_op_code(op, cl=cl, opts=opts)
    kind = console.get("kind")
    if kind == "msg":
        cli.to_stdout(console["message"])     # Ganeti's answer, a success
        return constants.EXIT_SUCCESS
    if kind == "vnc":
        cli.to_stdout("Instance %s has VNC listening on %s:%s (display %s),"
                      " connect with a VNC client" % (console["instance"], console["host"],
                                                      console["port"], console["display"]))
        return constants.EXIT_SUCCESS
    if kind != "ssh":
        raise errors.OpExecError("Unknown console type %r" % kind)
    command = list(console["command"])
    if console["host"] != net.get_hostname():
        command = ["ssh", "-q", "-t", "-oEscapeChar=none", "-oBatchMode=yes",
                   "%s@%s" % (console.get("user", "root"), console["host"])] + \
                  [" ".join(command)]
    if opts.show_command:
        cli.to_stdout(" ".join(_quote(c) for c in command))
        return constants.EXIT_SUCCESS
    sys.stdout.flush()
    try:
        os.execvp(command[0], command)
    except OSError as err:
        raise errors.OpExecError("Cannot run the console command %s: %s"
                                 % (command[0], err))


def _quote(arg):
    if arg and all(c.isalnum() or c in "-_./:=,@" for c in arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def activate_disks(opts, args):
    op = opcodes.OpInstanceActivateDisks(instance_name=args[0], ignore_size=opts.ignore_size,
                                         wait_for_sync=opts.wait_for_sync)
    result = cli.submit_or_send(op, opts)
    for node, iv_name, path in result or []:
        cli.to_stdout("%s:%s:%s" % (node, iv_name, path))
    return constants.EXIT_SUCCESS


def deactivate_disks(opts, args):
    op = opcodes.OpInstanceDeactivateDisks(instance_name=args[0], force=opts.force)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def _fmt_size(mib):
    return text.format_unit(mib, "h")


def _format_disk_status(dev_type, status):
    """A device's "on primary"/"on secondary" text, as Ganeti writes it."""
    if not status:
        return "not active"
    numbers = ["N/A" if status.get(k) is None else str(status[k])
               for k in ("major", "minor")]
    text = "%s (%s)" % (status.get("dev_path"), ":".join(numbers))
    ldisk = status.get("ldisk_status")
    if dev_type == constants.DT_DRBD8:
        if status.get("sync_percent") is not None:
            sync = "*RECOVERING* %5.2f%%," % status["sync_percent"]
            sync += (" ETA %ss" % status["estimated_time"] if status.get("estimated_time")
                     else " ETA unknown")
        else:
            sync = "in sync"
        text += " %s, status %s" % (sync, "*DEGRADED*" if status.get("is_degraded")
                                    else "ok")
        if ldisk == storage_base.LDS_FAULTY:
            text += " *MISSING DISK*"
        elif ldisk == storage_base.LDS_UNKNOWN:
            text += " *UNCERTAIN STATE*"
    elif dev_type == constants.DT_PLAIN and ldisk == storage_base.LDS_FAULTY:
        text += " *FAILED* (failed drive?)"
    return text


def _format_logical_id(dev):
    """The logical_id line(s) of a disk (drbd: its nodes, minors and port)."""
    if dev["dev_type"] == constants.DT_DRBD8 and dev.get("drbd_info"):
        info = dev["drbd_info"]
        return [("nodeA", "%s, minor=%s" % (info["primary_node"], info["primary_minor"])),
                ("nodeB", "%s, minor=%s" % (info["secondary_node"],
                                            info["secondary_minor"])),
                ("port", str(info["port"]))]
    if dev["dev_type"] == constants.DT_PLAIN:
        return [("logical_id", "%s/%s" % tuple(dev["logical_id"]))]
    return [("logical_id", str(list(dev["logical_id"])))]


def _format_disk(idx, top_level, dev):
    """One disk of gnt-instance info (its children nested), in Ganeti's layout."""
    if top_level:
        title = dev["iv_name"] if dev["iv_name"] is not None else "disk %d" % idx
    else:
        title = "child %d" % idx
    data = [(title, "%s, size %s" % (dev["dev_type"], _fmt_size(dev["size"])))]
    if top_level:
        if dev.get("spindles") is not None:
            data.append(("spindles", dev["spindles"]))
        data.append(("access mode", dev["mode"]))
    if dev["logical_id"] is not None:
        data.extend(_format_logical_id(dev))
    if dev.get("pstatus"):
        data.append(("on primary", _format_disk_status(dev["dev_type"], dev["pstatus"])))
    if dev.get("sstatus"):
        data.append(("on secondary", _format_disk_status(dev["dev_type"],
                                                          dev["sstatus"])))
    data.append(("name", dev["name"]))
    data.append(("UUID", dev["uuid"]))
    if dev.get("children"):
        data.append(("child devices", [_format_disk(c_idx, False, child)
                                       for c_idx, child in enumerate(dev["children"])]))
    return data


def show_instance_config(opts, args):
    """Print everything about instances (gnt-instance info)."""
    if not args and not opts.show_all:
        raise errors.OpPrereqError("No instance selected (give names or --all)",
                                   errors.ECODE_INVAL)
    op = opcodes.OpInstanceQueryData(instances=list(args), static=opts.static,
                                     use_locking=not opts.static)
    result = cli.submit_op_code(op, opts=opts)
    lines = []
    for name in sorted(result):
        inst = result[name]
        state = "configured to be %s" % inst["config_state"]
        if inst["run_state"]:       # --static has none
            state += ", actual state is %s" % inst["run_state"]
        be_custom, be_all = inst["be_instance"], inst["be_actual"]
        nics = []
        for idx, nic in enumerate(inst["nics"]):
            nname, uuid, mac, ip, params = nic[:5]
            network = nic[5] if len(nic) > 5 else None
            nics.append([
                ("nic/%d" % idx, ""), ("MAC", mac), ("IP", ip),
                ("mode", params.get("mode")), ("link", params.get("link")),
                ("vlan", params.get("vlan", "")), ("network", network), ("UUID", uuid),
                ("name", nname)])
        disks = [_format_disk(idx, True, disk)
                 for idx, disk in enumerate(inst["disks"])]
        secondaries = ", ".join(
            "%s (group %s, group UUID %s)" % entry
            for entry in zip(inst["snodes"], inst["snodes_group_names"],
                             inst["snodes_group_uuids"]))
        item = infofmt.format_info([
            ("Instance name", inst["name"]),
            ("UUID", inst["uuid"]),
            ("Serial number", inst["serial_no"]),
            ("Creation time", cli.format_timestamp(inst["ctime"])),
            ("Modification time", cli.format_timestamp(inst["mtime"])),
            ("State", state),
            ("Nodes", [[("primary", inst["pnode"]),
                        ("group", "%s (UUID %s)" % (inst["pnode_group_name"],
                                                    inst["pnode_group_uuid"]))],
                       [("secondaries", secondaries)]]),
            ("Operating system", inst["os"]),
            ("Operating system parameters",
             infofmt.params_with_defaults(inst["os_instance"], inst["os_actual"])),
            ("Allocated network port", inst["network_port"]),
            ("Hypervisor", inst["hypervisor"]),
            ("Hypervisor parameters",
             infofmt.params_with_defaults(inst["hv_instance"], inst["hv_actual"])),
            ("Back-end parameters", infofmt.params_with_defaults(be_custom, be_all)),
            ("NICs", nics),
            ("Disk template", inst["disk_template"]),
            ("Disks", disks),
        ], indent=2)
        # one YAML list item per instance, as Ganeti prints it
        item[0] = "- " + item[0][2:]
        lines.extend(item)
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    return constants.EXIT_SUCCESS


def grow_disk(opts, args):
    name, disk, amount = args
    try:
        disk = int(disk)
    except ValueError as err:
        raise errors.OpPrereqError("Invalid disk index: %s" % err, errors.ECODE_INVAL)
    try:
        amount = text.parse_unit(amount)
    except errors.UnitParseError:
        raise errors.OpPrereqError("Can't parse the given amount '%s'" % amount,
                                   errors.ECODE_INVAL)
    op = opcodes.OpInstanceGrowDisk(instance_name=name, disk=disk, amount=amount,
                                    wait_for_sync=opts.wait_for_sync,
                                    absolute=opts.absolute,
                                    ignore_ipolicy=opts.ignore_ipolicy)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def recreate_disks(opts, args):
    """Make an instance's disks anew (empty), on its nodes or on new ones."""
    disks = []
    for idx, params in sorted(_parse_indexed_dict(opts.disks, "disk").items()):
        if "size" in params:
            try:
                params["size"] = text.parse_unit(params["size"])
            except errors.UnitParseError as err:
                raise errors.OpPrereqError("Invalid disk size for disk %d: %s"
                                           % (idx, err), errors.ECODE_INVAL)
        disks.append([idx, params])
    nodes = []
    if opts.node:
        if opts.iallocator:
            raise errors.OpPrereqError("At most one of either --nodes or --iallocator"
                                       " can be passed", errors.ECODE_INVAL)
        nodes = [n for n in opts.node.split(":", 1)]
        if not all(nodes):
            raise errors.OpPrereqError("Invalid node option '%s': expected"
                                       " <pnode>[:<snode>]" % opts.node,
                                       errors.ECODE_INVAL)
    op = opcodes.OpInstanceRecreateDisks(instance_name=args[0], disks=disks,
                                         nodes=nodes, iallocator=opts.iallocator)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def replace_disks(opts, args):
    """New storage under an instance's drbd disks, or a new secondary node."""
    disks = []
    if opts.disks is not None:
        try:
            disks = [int(i) for i in opts.disks.split(",")]
        except ValueError as err:
            raise errors.OpPrereqError("Invalid disk index passed: %s" % err,
                                       errors.ECODE_INVAL)
    chosen = [opts.on_primary, opts.on_secondary, opts.auto, opts.dst_node is not None,
              opts.iallocator is not None]
    if chosen.count(True) != 1:
        raise errors.OpPrereqError("One and only one of the -p, -s, -a, -n and -I"
                                   " options must be passed", errors.ECODE_INVAL)
    if opts.on_primary:
        mode = constants.REPLACE_DISK_PRI
    elif opts.on_secondary:
        mode = constants.REPLACE_DISK_SEC
    elif opts.auto:
        mode = constants.REPLACE_DISK_AUTO
        if disks:
            raise errors.OpPrereqError("Cannot specify disks when using automatic mode",
                                       errors.ECODE_INVAL)
    else:
        mode = constants.REPLACE_DISK_CHG
    op = opcodes.OpInstanceReplaceDisks(instance_name=args[0], disks=disks,
                                        remote_node=opts.dst_node, mode=mode,
                                        iallocator=opts.iallocator,
                                        early_release=opts.early_release,
                                        ignore_ipolicy=opts.ignore_ipolicy)
    cli.submit_or_send(op, opts)
    return constants.EXIT_SUCCESS


def rename_instance(opts, args):
    if not opts.force and not opts.name_check:
        if not cli.ask_user("As you disabled the check of the DNS entry, please verify"
                            " that '%s' is a FQDN. Continue?" % args[1]):
            return constants.EXIT_FAILURE
    op = opcodes.OpInstanceRename(instance_name=args[0], new_name=args[1],
                                  ip_check=opts.ip_check, name_check=opts.name_check)
    result = cli.submit_or_send(op, opts)
    if result:
        cli.to_stdout("Instance '%s' renamed to '%s'" % (args[0], result))
    return constants.EXIT_SUCCESS


def _choose_os(opts):
    """--select-os: the valid OSes numbered on stdout, one picked at the prompt;
    None when the user aborts."""
    from ganeti.client import gnt_os
    rows = cli.submit_op_code(opcodes.OpOsDiagnose(output_fields=["name", "variants"],
                                                   names=[]), opts=opts)
    if not rows:
        cli.to_stdout("Can't get the OS list")
        return None
    cli.to_stdout("Available OS templates:")
    choices = []
    for name, variants in rows:
        for entry in gnt_os.os_names(name, variants or []):
            cli.to_stdout("%3s: %s" % (len(choices), entry))
            choices.append(("%d" % len(choices), entry, entry))
    choices.append(("x", None, "Exit gnt-instance reinstall"))
    selected = cli.ask_user("Enter OS template number (or x to abort):", choices)
    if selected is None:
        cli.to_stderr("User aborted reinstall, exiting")
    return selected


def reinstall_instance(opts, args):
    """Reinstall the selected instances (one, or by node, tag or --all as
    startup does); --select-os asks which OS. A selection of several is
    confirmed unless --force-multiple, a single one unless -f."""
    cl = cli.get_client()
    names = _select_instances(opts, args, cl)
    if not names:
        raise errors.OpPrereqError("Selection filter does not match any instances",
                                   errors.ECODE_INVAL)
    os_name = opts.os
    if opts.select_os:
        os_name = _choose_os(opts)
        if os_name is None:
            return constants.EXIT_FAILURE
    os_msg = ("change the OS to '%s'" % os_name) if os_name else "keep the same OS"
    multi_on = opts.multi_mode != "instance" or len(names) > 1
    if multi_on:
        if not opts.force_multiple and not cli.confirm_operation(
                names, "instances", "reinstall", extra="Note: this will remove *all* data"
                " for the below instances! It will %s.\n" % os_msg):
            return constants.EXIT_FAILURE
    elif not (opts.force or opts.force_multiple) and not cli.ask_user(
            "This will reinstall the instance '%s' (and %s) which removes all data."
            " Continue?" % (names[0], os_msg)):
        return constants.EXIT_FAILURE
    return _submit_for_each(opts, cl, names, lambda n: opcodes.OpInstanceReinstall(
        instance_name=n, os_type=os_name, force_variant=opts.force_variant,
        osparams=opts.osparams or None, osparams_private=opts.osparams_private or None,
        osparams_secret=opts.osparams_secret or None), multi_on)


def change_group(opts, args):
    """Move the instance to other node groups as the instance allocator plans it;
    wait for the jobs that submits."""
    cl = cli.get_client()
    op = opcodes.OpInstanceChangeGroup(instance_name=args[0], iallocator=opts.iallocator,
                                       target_groups=opts.to,
                                       early_release=opts.early_release)
    result = cli.submit_or_send(op, opts, cl=cl)
    if result is None:          # --submit
        return constants.EXIT_SUCCESS
    results = cli.wait_for_submitted_jobs(result[constants.JOB_IDS_KEY], cl=cl)
    bad = len([1 for ok, _ in results if not ok])
    if bad:
        cli.to_stdout("There were %s errors while changing group of instance '%s'."
                      % (bad, args[0]))
        return constants.EXIT_FAILURE
    cli.to_stdout("Instance '%s' changed group successfully." % args[0])
    return constants.EXIT_SUCCESS


def _parse_modifications(values, what):
    """--net/--disk values of modify: add[:params] | N:add,params | ID:remove | ID:modify,params."""
    mods = []
    for value in values or []:
        head, _, rest = value.partition(":")
        if head == "add":
            action, ident, params = "add", -1, rest
        elif head == "remove" and not rest:
            action, ident, params = "remove", -1, ""
        else:
            ident = head
            action, _, params = rest.partition(",")
            if action not in ("add", "remove", "modify"):
                # "N:key=val" is a modification of item N
                params, action = rest, "modify"
        try:
            parsed = text.parse_key_values(params)
        except errors.ParameterError as err:
            raise errors.OpPrereqError("Invalid %s modification '%s': %s"
                                       % (what, value, err), errors.ECODE_INVAL)
        if what == "disk" and "size" in parsed:
            parsed["size"] = text.parse_unit(parsed["size"])
        mods.append([action, ident, parsed])
    return mods


def _typed_changes(params, defaults):
    """-B/-H of modify: typed as Ganeti's client does; "default" (any case) and
    -key reset a parameter to the cluster default."""
    params = dict((k, constants.VALUE_DEFAULT if v is None or (
        isinstance(v, str) and v.lower() == constants.VALUE_DEFAULT) else v)
        for k, v in (params or {}).items())
    return paramtypes.check_types(params, defaults, allowed_values=(constants.VALUE_DEFAULT,))


def modify_instance(opts, args):
    from ganeti.cmdlib import conversion_options
    if not (opts.nics or opts.disks or opts.disk_template or opts.hvparams or opts.beparams
            or opts.os or opts.osparams or opts.osparams_private or opts.offline is not None
            or opts.runtime_mem or opts.new_primary_node):
        cli.to_stderr("Please give at least one of the parameters.")
        return constants.EXIT_FAILURE
    # the options only some conversions take: refused here as Ganeti's client does
    misplaced = conversion_options.misplaced_option(
        opts.disk_template, opts.ext_params, opts.file_driver, opts.file_storage_dir)
    if misplaced:
        cli.to_stderr(misplaced)
        return constants.EXIT_FAILURE
    conversion_options.check_ext_params(opts.ext_params)
    beparams = _typed_changes(opts.beparams, paramtypes.BE_COMPAT_DEFAULTS)
    # the instance's hypervisor is not known here: names known to none are refused
    # now (as Ganeti's client does), the master checks the rest against it
    hvparams = _typed_changes(opts.hvparams, paramtypes.HV_ALL_DEFAULTS)
    op = opcodes.OpInstanceSetParams(
        instance_name=args[0], nics=_parse_modifications(opts.nics, "NIC"),
        disks=_parse_modifications(opts.disks, "disk"), beparams=beparams,
        hvparams=hvparams, os_name=opts.os, osparams=opts.osparams or {},
        osparams_private=opts.osparams_private or None,
        force=opts.force, offline=opts.offline, force_variant=opts.force_variant,
        runtime_mem=opts.runtime_mem, ignore_ipolicy=opts.ignore_ipolicy,
        conflicts_check=opts.conflicts_check, hotplug=opts.hotplug,
        hotplug_if_possible=opts.hotplug_if_possible, disk_template=opts.disk_template,
        remote_node=opts.node, iallocator=opts.iallocator,
        ext_params=opts.ext_params, file_driver=opts.file_driver,
        file_storage_dir=opts.file_storage_dir,
        wait_for_sync=opts.wait_for_sync, pnode=opts.new_primary_node)
    result = cli.submit_or_send(op, opts)
    if result:          # nothing at all when nothing changed (Ganeti's client)
        cli.to_stdout("Modified instance %s" % args[0])
        for param, value in result:
            cli.to_stdout(" - %-5s -> %s" % (param, value))
        cli.to_stdout("Please don't forget that most parameters take effect only at the"
                      " next (re)start of the instance initiated by ganeti; restarting"
                      " from within the instance will not be enough.")
    return constants.EXIT_SUCCESS


# ---- options -----------------------------------------------------------------------
# Each command's options are listed in Ganeti's order, with Ganeti's help texts:
# --help shows them in that order.

# instance selection of startup/shutdown/reboot (each lists them in its own order)
_M_INST_OPT = cli.cli_option("--instance", dest="multi_mode", action="store_const",
                             const="instance", default="instance",
                             help="Filter by instance name [default]")
_M_NODE_OPT = cli.cli_option("--node", dest="multi_mode", action="store_const",
                             const="node", help="Filter by nodes (primary and secondary)")
_M_PRI_NODE_OPT = cli.cli_option("--primary", dest="multi_mode", action="store_const",
                                 const="primary", help="Filter by nodes (primary only)")
_M_SEC_NODE_OPT = cli.cli_option("--secondary", dest="multi_mode", action="store_const",
                                 const="secondary",
                                 help="Filter by nodes (secondary only)")
_M_CLUST_OPT = cli.cli_option("--all", dest="multi_mode", action="store_const",
                              const="all", help="Select all instances in the cluster")
_M_NODE_TAGS_OPT = cli.cli_option("--node-tags", dest="multi_mode", action="store_const",
                                  const="node-tags", help="Filter by node tag")
_M_PRI_NODE_TAGS_OPT = cli.cli_option("--pri-node-tags", dest="multi_mode",
                                      action="store_const", const="pri-node-tags",
                                      help="Filter by primary node tag")
_M_SEC_NODE_TAGS_OPT = cli.cli_option("--sec-node-tags", dest="multi_mode",
                                      action="store_const", const="sec-node-tags",
                                      help="Filter by secondary node tag")
_M_INST_TAGS_OPT = cli.cli_option("--tags", dest="multi_mode", action="store_const",
                                  const="tags", help="Filter by instance tag")
_M_FORCE_MULTI_OPT = cli.cli_option("--force-multiple", dest="force_multiple",
                                    action="store_true", default=False,
                                    help="Do not ask for confirmation when more than"
                                    " one instance is affected")

_IGNORE_OFFLINE_OPT = cli.cli_option("--ignore-offline", dest="ignore_offline",
                                     action="store_true", default=False,
                                     help="Ignore offline nodes and do as much as possible")
_NO_REMEMBER_OPT = cli.cli_option("--no-remember", dest="no_remember", action="store_true",
                                  default=False,
                                  help="Perform but do not record the change in the"
                                  " configuration")
_HV_OPT = cli.cli_option("-H", "--hypervisor-parameters", dest="hypervisor",
                         type="identkeyval", default=None,
                         help="Hypervisor and hypervisor options, in the format"
                         " hypervisor:option=value,option=value,...")
_HVOPTS_OPT = cli.keyval_option("-H", "--hypervisor-parameters", dest="hvparams",
                                help="Hypervisor parameters")
_BACKEND_OPT = cli.keyval_option("-B", "--backend-parameters", dest="beparams",
                                 help="Backend parameters")
_OSPARAMS_OPT = cli.keyval_option("-O", "--os-parameters", dest="osparams",
                                  help="OS parameters")
# private: stored, never shown; secret (cli.OSPARAMS_SECRET_OPT): never stored nor
# shown (doc/os-parameters.rst)
_OSP_PRIVATE_OPT = cli.keyval_option("--os-parameters-private", dest="osparams_private",
                                     help="Private OS parameters (won't be logged)")
_OS_OPT = cli.cli_option("-o", "--os-type", dest="os", default=None, metavar="<os>",
                         help="What OS to run")
_FORCE_VARIANT_OPT = cli.cli_option("--force-variant", dest="force_variant",
                                    action="store_true", default=False,
                                    help="Force an unknown variant")
_NWSYNC_OPT = cli.cli_option("--no-wait-for-sync", dest="wait_for_sync",
                             action="store_false", default=True,
                             help="Don't wait for sync (DANGEROUS!)")
_NOIPCHECK_OPT = cli.cli_option("--no-ip-check", dest="ip_check", action="store_false",
                                default=True,
                                help="Don't check that the instance's IP is alive")
_NONAMECHECK_OPT = cli.cli_option("--no-name-check", dest="name_check",
                                  action="store_false", default=True,
                                  help="Don't check that the instance's name is"
                                  " resolvable")
_NOCONFLICTSCHECK_OPT = cli.cli_option("--no-conflicts-check", dest="conflicts_check",
                                       action="store_false", default=True,
                                       help="Don't check for conflicting IPs")
_DISK_OPT = cli.cli_option("--disk", dest="disks", action="append", default=None,
                           help="Disk parameters")
_NET_OPT = cli.cli_option("--net", dest="nics", action="append", default=None,
                          help="NIC parameters")
_NODE_PLACEMENT_OPT = cli.cli_option("-n", "--node", dest="node", default=None,
                                     metavar="<pnode>[:<snode>]",
                                     help="Target node and optional secondary node")

_IGNORE_IPOLICY_OPT = cli.IGNORE_IPOLICY_OPT

SINGLE_NODE_OPT = cli.cli_option("-n", "--node", dest="node", default=None,
                                 metavar="<node>", help="Target node")
COMPRESS_OPT = cli.cli_option("--compress", dest="compress", default="none",
                              help="The compression mode to use")
IDENTIFY_DEFAULTS_OPT = cli.cli_option(
    "--identify-defaults", dest="identify_defaults", action="store_true", default=False,
    help="Identify which saved instance parameters are equal to the current cluster"
    " defaults and set them as such, instead of marking them as overridden")


def create_options(templates_text):
    """The options instance creations share (Ganeti's COMMON_CREATE_OPTS); the
    -t help lists the templates as ``templates_text`` (Ganeti's order differs
    between gnt-instance add and gnt-backup import)."""
    # an unknown template is refused by the parser, as Ganeti's (exit code 2)
    choices = templates_text.strip("()").split(", ")
    return [_BACKEND_OPT, _DISK_OPT, cli.cli_option(
        "-t", "--disk-template", dest="disk_template", default=None, metavar="TEMPL",
        choices=choices, help="Custom disk setup %s" % templates_text)] + _COMMON_CREATE_OPTS


_FILESTORE_DIR_OPT = cli.cli_option(
    "--file-storage-dir", dest="file_storage_dir", default=None, metavar="<DIR>",
    help="Relative path under default cluster-wide file storage dir to store file-based"
    " disks")
_FILESTORE_DRIVER_OPT = cli.cli_option(
    "--file-driver", dest="file_driver", default=None, metavar="<DRIVER>",
    choices=["loop", "blktap", "blktap2"], help="Driver to use for image files")

_COMMON_CREATE_OPTS = [
    _FILESTORE_DIR_OPT,
    _FILESTORE_DRIVER_OPT,
    _HV_OPT,
    cli.IALLOCATOR_OPT,
    _NET_OPT,
    _NODE_PLACEMENT_OPT,
    cli.cli_option("-g", "--node-group", dest="group_name", default=None,
                   metavar="<nodegroup>", help="Node group (name or uuid)"),
    _NOIPCHECK_OPT,
    _NOCONFLICTSCHECK_OPT,
    _NONAMECHECK_OPT,
    cli.cli_option("--no-nics", dest="no_nics", action="store_true", default=False,
                   help="Do not create any network cards for the instance"),
    _NWSYNC_OPT,
    _OSPARAMS_OPT, _OSP_PRIVATE_OPT, cli.OSPARAMS_SECRET_OPT,
    cli.cli_option("-s", "--os-size", dest="sd_size", type="unit", default=None,
                   metavar="<size>", help="Enforces a single-disk configuration using"
                   " the given disk size, in MiB unless a suffix is used"),
    cli.cli_option("--opportunistic-locking", dest="opportunistic_locking",
                   action="store_true", default=False,
                   help="Opportunistically acquire locks"),
] + cli.SUBMIT_OPTS + [
    cli.cli_option("--tags", dest="tags", type="list", default=[],
                   help="Comma-separated list of instance tags"),
    cli.DRY_RUN_OPT, cli.PRIORITY_OPT,
]

_ADD_OPTS = create_options("(blockdev, plain, rbd, sharedfile, file, drbd, diskless,"
                           " gluster, ext)") + [
    cli.cli_option("--forthcoming", dest="forthcoming", action="store_true", default=False,
                   help="Only reserve resources, but do not create the instance yet"),
    cli.cli_option("--commit", dest="commit", action="store_true", default=False,
                   help="The instance is already reserved and should be committed now"),
    cli.cli_option("--no-start", dest="start", action="store_false", default=True,
                   help="Don't start the instance after creation"),
    _OS_OPT, _FORCE_VARIANT_OPT,
    cli.cli_option("--no-install", dest="no_install", action="store_true", default=False,
                   help="Do not install the OS (will enable no-start)"),
    _IGNORE_IPOLICY_OPT,
]

_CLEANUP_OPT = cli.cli_option(
    "--cleanup", dest="cleanup", action="store_true", default=False,
    help="Instead of performing the migration/failover, try to recover from a failed"
    " cleanup. This is safe to run even if the instance is healthy, but it will"
    " create extra replication traffic and  disrupt briefly the replication (like"
    " during the migration/failover")

COMMANDS = {
    "add": (add_instance, _ARGS_ONE, _ADD_OPTS,
            "[...] -t disk-type -n node[:secondary-node] -o os-type <instance-name>",
            "Creates and adds a new instance to the cluster"),
    "batch-create": (instance_batch.batch_create, [cli.ArgSpec("<instances.json>", 1, 1)],
                     [cli.DRY_RUN_OPT, cli.PRIORITY_OPT, cli.IALLOCATOR_OPT] +
                     cli.SUBMIT_OPTS, "<instances.json>",
                     "Create a bunch of instances based on specs in the file."),
    "console": (connect_to_console, _ARGS_ONE, [
        cli.cli_option("--show-cmd", dest="show_command", action="store_true",
                       default=False, help="Show command instead of executing it"),
        cli.PRIORITY_OPT],
        "[--show-cmd] <instance-name>", "Opens a console on the specified instance"),
    "failover": (failover_instance, _ARGS_ONE, [
        cli.FORCE_OPT, cli.IGNORE_CONSIST_OPT] + cli.SUBMIT_OPTS + [
        cli.SHUTDOWN_TIMEOUT_OPT, cli.DRY_RUN_OPT, cli.PRIORITY_OPT, cli.TARGET_NODE_OPT,
        cli.IALLOCATOR_OPT, _IGNORE_IPOLICY_OPT, _CLEANUP_OPT],
        "[-f] <instance-name>",
        "Stops the instance, changes its primary node and (if it was originally running)"
        " starts it on the new node (the secondary for mirrored instances or any node"
        " for shared storage)."),
    "migrate": (migrate_instance, _ARGS_ONE, [
        cli.FORCE_OPT, cli.NONLIVE_OPT, cli.MIGRATION_MODE_OPT, _CLEANUP_OPT,
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT, cli.TARGET_NODE_OPT, cli.IALLOCATOR_OPT,
        cli.cli_option("--allow-failover", dest="allow_failover", action="store_true",
                       default=False,
                       help="If migration is not possible fallback to failover"),
        _IGNORE_IPOLICY_OPT,
        cli.cli_option("--ignore-hvversions", dest="ignore_hvversions",
                       action="store_true", default=False,
                       help="Ignore incompatible hypervisor versions between source"
                       " and target"),
        cli.NORUNTIME_CHGS_OPT] + cli.SUBMIT_OPTS,
        "[-f] <instance-name>",
        "Migrate instance to its secondary node (only for mirrored instances)"),
    "move": (move_instance, _ARGS_ONE, [
        cli.FORCE_OPT] + cli.SUBMIT_OPTS + [
        SINGLE_NODE_OPT, COMPRESS_OPT, cli.SHUTDOWN_TIMEOUT_OPT, cli.DRY_RUN_OPT,
        cli.PRIORITY_OPT, cli.IGNORE_CONSIST_OPT, cli.IGNORE_IPOLICY_OPT],
        "[-f] <instance-name>",
        "Move instance to an arbitrary node (only for instances of type file and lv)"),
    "info": (show_instance_config, _ARGS_MANY, [
        cli.cli_option("-s", "--static", dest="static", action="store_true", default=False,
                       help="Only show configuration data, not runtime data"),
        cli.cli_option("--all", dest="show_all", action="store_true", default=False,
                       help="Show info on all instances on the cluster. This can take"
                       " a long time to run, use wisely"),
        # numbers are printed as decimal, as Ganeti prints them when the Python
        # roman module is missing (doc/cli-options.rst)
        cli.cli_option("--roman", dest="roman_integers", action="store_true",
                       default=False, help="Use roman numbers for positive integers"),
        cli.PRIORITY_OPT],
        "[-s] {--all | <instance-name>...}",
        "Show information on the specified instance(s)"),
    "list": (list_instances, _ARGS_MANY, [
        cli.NOHDR_OPT, cli.SEP_OPT, cli.UNITS_OPT, cli.FIELDS_OPT, cli.VERBOSE_OPT,
        cli.FILTER_OPT], "[<instance-name>...]",
        "Lists the instances and their status. The available fields can be shown using"
        " the \"list-fields\" command (see the man page for details). The default field"
        " list is (in order): %s." % ", ".join(_LIST_DEF_FIELDS)),
    "list-fields": (list_fields, [cli.ArgSpec("<field>")], [cli.NOHDR_OPT, cli.SEP_OPT],
                    "[fields...]", "Lists all available fields for instances"),
    "reinstall": (reinstall_instance, _ARGS_MANY, [
        cli.FORCE_OPT, _OS_OPT, _FORCE_VARIANT_OPT, _M_FORCE_MULTI_OPT, _M_NODE_OPT,
        _M_PRI_NODE_OPT, _M_SEC_NODE_OPT, _M_CLUST_OPT, _M_INST_OPT, _M_NODE_TAGS_OPT,
        _M_PRI_NODE_TAGS_OPT, _M_SEC_NODE_TAGS_OPT, _M_INST_TAGS_OPT,
        cli.cli_option("--select-os", dest="select_os", action="store_true",
                       default=False, help="Interactive OS reinstall, lists available OS"
                       " templates for selection")] + cli.SUBMIT_OPTS + [
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT, _OSPARAMS_OPT, _OSP_PRIVATE_OPT,
        cli.OSPARAMS_SECRET_OPT],
        "[-f] <instance>", "Reinstall a stopped instance"),
    "change-group": (change_group, [cli.ArgSpec("<instance-name>", 1, 1)], [
        cli.cli_option("--to", dest="to", metavar="<group>", default=None, action="append",
                       help="Destination node group (name or uuid)"),
        cli.IALLOCATOR_OPT, cli.EARLY_RELEASE_OPT, cli.PRIORITY_OPT] + cli.SUBMIT_OPTS,
        "[-I <iallocator>] [--to <group>] <instance-name>", "Change group of instance"),
    "remove": (remove_instance, _ARGS_ONE, [
        cli.FORCE_OPT, cli.SHUTDOWN_TIMEOUT_OPT,
        cli.cli_option("--ignore-failures", dest="ignore_failures", action="store_true",
                       default=False, help="Remove the instance from the cluster"
                       " configuration even if there are failures during the removal"
                       " process")] + cli.SUBMIT_OPTS + [cli.DRY_RUN_OPT, cli.PRIORITY_OPT],
        "[-f] <instance-name>", "Shuts down the instance and removes it"),
    "rename": (rename_instance, [cli.ArgSpec("<instance> <new_name>", 2, 2)], [
        cli.FORCE_OPT, _NOIPCHECK_OPT, _NONAMECHECK_OPT] + cli.SUBMIT_OPTS + [
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT],
        "<old-name> <new-name>", "Rename the instance"),
    "replace-disks": (replace_disks, _ARGS_ONE, [
        cli.cli_option("-a", "--auto", dest="auto", default=False, action="store_true",
                       help="Automatically replace faulty disks (applies only to"
                       " internally mirrored disk templates, e.g. drbd)"),
        cli.cli_option("--disks", dest="disks", default=None,
                       help="Comma-separated list of disks indices to act on (e.g. 0,2)"
                       " (optional, defaults to all disks)"),
        cli.IALLOCATOR_OPT, cli.EARLY_RELEASE_OPT, cli.NEW_SECONDARY_OPT,
        cli.cli_option("-p", "--on-primary", dest="on_primary", default=False,
                       action="store_true", help="Replace the disk(s) on the primary"
                       " node (applies only to internally mirrored disk templates,"
                       " e.g. drbd)"),
        cli.cli_option("-s", "--on-secondary", dest="on_secondary", default=False,
                       action="store_true", help="Replace the disk(s) on the secondary"
                       " node (applies only to internally mirrored disk templates,"
                       " e.g. drbd)")] +
        cli.SUBMIT_OPTS + [cli.DRY_RUN_OPT, cli.PRIORITY_OPT, _IGNORE_IPOLICY_OPT],
        "[-s|-p|-a|-n NODE|-I NAME] <instance-name>", "Replaces disks for the instance"),
    "modify": (modify_instance, _ARGS_ONE, [
        _BACKEND_OPT, _DISK_OPT, cli.FORCE_OPT, _HVOPTS_OPT, _NET_OPT] + cli.SUBMIT_OPTS + [
        cli.cli_option("-t", "--disk-template", dest="disk_template", default=None,
                       metavar="TEMPL", help="Custom disk setup (ext, rbd, gluster, plain,"
                       " blockdev, drbd, file, sharedfile, diskless)"),
        cli.cli_option("-n", "--node", dest="node", default=None, metavar="<node>",
                       help="Target node"),
        cli.IALLOCATOR_OPT, _OS_OPT, _FORCE_VARIANT_OPT, _OSPARAMS_OPT, _OSP_PRIVATE_OPT,
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT, _NWSYNC_OPT,
        cli.cli_option("--offline", dest="offline", action="store_const", const=True,
                       default=None, help="Disable down instance"),
        cli.cli_option("--online", dest="offline", action="store_const", const=False,
                       help="Enable offline instance"),
        _IGNORE_IPOLICY_OPT,
        cli.cli_option("-m", "--runtime-memory", dest="runtime_mem", type="unit",
                       default=None, metavar="<size>",
                       help="Sets the instance's runtime memory, ballooning it up or down"
                       " to the new value"),
        _NOCONFLICTSCHECK_OPT,
        cli.cli_option("--new-primary", dest="new_primary_node", default=None,
                       metavar="<node>", help="Specifies the new primary node"),
        cli.cli_option("--hotplug", dest="hotplug", action="store_true", default=False,
                       help="Hotplug supported devices (NICs and Disks)"),
        cli.cli_option("--hotplug-if-possible", dest="hotplug_if_possible",
                       action="store_true", default=False,
                       help="Hotplug devices in case hotplug is supported"),
        cli.keyval_option("-e", "--ext-params", dest="ext_params",
                          help="Parameters for ExtStorage template conversions in the"
                          " format: provider=prvdr[,param1=val1,param2=val2,...]"),
        _FILESTORE_DRIVER_OPT, _FILESTORE_DIR_OPT],
        "<instance-name>", "Alters the parameters of an instance"),
    "shutdown": (shutdown_instance, _ARGS_MANY, [
        cli.FORCE_OPT, _M_NODE_OPT, _M_PRI_NODE_OPT, _M_SEC_NODE_OPT, _M_CLUST_OPT,
        _M_NODE_TAGS_OPT, _M_PRI_NODE_TAGS_OPT, _M_SEC_NODE_TAGS_OPT, _M_INST_TAGS_OPT,
        _M_INST_OPT, _M_FORCE_MULTI_OPT,
        cli.cli_option("--timeout", dest="timeout", type="int",
                       default=constants.DEFAULT_SHUTDOWN_TIMEOUT,
                       help="Maximum time (in minutes) to wait")] + cli.SUBMIT_OPTS + [
        cli.DRY_RUN_OPT, cli.PRIORITY_OPT, _IGNORE_OFFLINE_OPT, _NO_REMEMBER_OPT],
        "<instance>", "Stops an instance"),
    "startup": (startup_instance, _ARGS_MANY, [
        cli.FORCE_OPT, _M_FORCE_MULTI_OPT, _M_NODE_OPT, _M_PRI_NODE_OPT, _M_SEC_NODE_OPT,
        _M_NODE_TAGS_OPT, _M_PRI_NODE_TAGS_OPT, _M_SEC_NODE_TAGS_OPT, _M_INST_TAGS_OPT,
        _M_CLUST_OPT, _M_INST_OPT] + cli.SUBMIT_OPTS + [
        _HVOPTS_OPT, _BACKEND_OPT, cli.DRY_RUN_OPT, cli.PRIORITY_OPT, _IGNORE_OFFLINE_OPT,
        _NO_REMEMBER_OPT,
        cli.cli_option("--paused", dest="startup_paused", action="store_true",
                       default=False, help="Pause instance at startup")],
        "<instance>", "Starts an instance"),
    "reboot": (reboot_instance, _ARGS_MANY, [
        _M_FORCE_MULTI_OPT,
        cli.cli_option("-t", "--type", dest="reboot_type", default="hard",
                       metavar="<REBOOT>", choices=["soft", "hard", "full"],
                       help="Type of reboot: soft/hard/full"),
        cli.cli_option("--ignore-secondaries", dest="ignore_secondaries",
                       action="store_true", default=False,
                       help="Ignore errors from secondaries"),
        _M_NODE_OPT, _M_PRI_NODE_OPT, _M_SEC_NODE_OPT, _M_CLUST_OPT, _M_INST_OPT] +
        cli.SUBMIT_OPTS + [
        _M_NODE_TAGS_OPT, _M_PRI_NODE_TAGS_OPT, _M_SEC_NODE_TAGS_OPT, _M_INST_TAGS_OPT,
        cli.SHUTDOWN_TIMEOUT_OPT, cli.DRY_RUN_OPT, cli.PRIORITY_OPT],
        "<instance>", "Reboots an instance"),
    "activate-disks": (activate_disks, _ARGS_ONE, cli.SUBMIT_OPTS + [
        cli.cli_option("--ignore-size", dest="ignore_size", action="store_true",
                       default=False, help="Ignore current recorded size (useful for"
                       " forcing activation when the recorded size is wrong)"),
        cli.PRIORITY_OPT,
        cli.cli_option("--wait-for-sync", dest="wait_for_sync", action="store_true",
                       default=False, help="Wait for disks to sync")],
        "<instance-name>", "Activate an instance's disks"),
    "deactivate-disks": (deactivate_disks, _ARGS_ONE, [cli.FORCE_OPT] + cli.SUBMIT_OPTS +
                         [cli.DRY_RUN_OPT, cli.PRIORITY_OPT],
                         "[-f] <instance-name>", "Deactivate an instance's disks"),
    "recreate-disks": (recreate_disks, _ARGS_ONE, cli.SUBMIT_OPTS + [
        _DISK_OPT, _NODE_PLACEMENT_OPT, cli.DRY_RUN_OPT, cli.PRIORITY_OPT,
        cli.IALLOCATOR_OPT],
        "<instance-name>", "Recreate an instance's disks"),
    "grow-disk": (grow_disk, [cli.ArgSpec("<instance> <disk> <amount>", 3, 3)],
                  cli.SUBMIT_OPTS + [
        _NWSYNC_OPT, cli.DRY_RUN_OPT, cli.PRIORITY_OPT,
        cli.cli_option("--absolute", dest="absolute", action="store_true", default=False,
                       help="Marks the grow as absolute instead of the (default)"
                       " relative mode"),
        _IGNORE_IPOLICY_OPT],
        "<instance-name> <disk> <size>", "Grow an instance's disk"),
}
COMMANDS.update(tags.commands(constants.TAG_INSTANCE))

ALIASES = {"start": "startup", "stop": "shutdown", "show": "info"}


def main():
    return cli.generic_main(COMMANDS, aliases=ALIASES)
