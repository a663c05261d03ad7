"""gnt-instance modify -t: a stopped instance's disks to another template.

The rules (Ganeti 3.0's): no conversion from or to diskless, none to
blockdev; drbd converts only to and from plain here (Ganeti 3.0 also copies
drbd disks to and from the other templates). plain <-> drbd keeps the data
volumes (below); every other pair copies the data into new disks
(template_copy).

plain -> drbd (Ganeti's steps and job log lines): the metadata LV on the
primary and both LVs on the new secondary are made, the instance's LV is
renamed to the drbd data LV's name, and the DRBD devices are made on both nodes
(the primary's half forced primary: its data is the good copy and goes to the
secondary in the initial sync). Only then does the configuration change. A
failure undoes all of it, renaming the LV back.

drbd -> plain: the disks are shut down, the configuration keeps the primary's
data LVs as plain disks (the ports go back to the pool), then the secondary's
LVs and the primary's metadata LVs are removed.
"""

from ganeti import constants, errors, objects
from ganeti.cmdlib import conversion_options, drbd_disks, ipolicy, template_copy
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.disk_sync import wait_for_sync

# the pairs whose data volumes are kept (the others copy the data)
LVM_CONVERSIONS = frozenset([(constants.DT_PLAIN, constants.DT_DRBD8),
                             (constants.DT_DRBD8, constants.DT_PLAIN)])
# Ganeti's DTS_NOT_CONVERTIBLE_FROM and DTS_NOT_CONVERTIBLE_TO
NOT_CONVERTIBLE_FROM = frozenset([constants.DT_DISKLESS])
NOT_CONVERTIBLE_TO = frozenset([constants.DT_DISKLESS, constants.DT_BLOCK])


def check_options(op):
    """--file-storage-dir, --file-driver and --ext-params: only with a target
    that takes them (checked first: without -t they would change nothing)."""
    misplaced = conversion_options.misplaced_option(
        op.disk_template, op.ext_params, op.file_driver, op.file_storage_dir)
    if misplaced:
        raise errors.OpPrereqError(misplaced, errors.ECODE_INVAL)
    conversion_options.check_ext_params(op.ext_params)


def check_arguments(lu):
    """What can be checked before the config is read (in check_arguments)."""
    op = lu.op
    if op.disks:
        raise errors.OpPrereqError("Disk template conversion and other disk changes"
                                   " not supported at the same time", errors.ECODE_INVAL)
    if op.disk_template in constants.DTS_INT_MIRROR:
        if iu.check_iallocator_or_node(lu, op.remote_node):
            raise errors.OpPrereqError("Choosing the new secondary node with an"
                                       " iallocator is not supported yet; give it with"
                                       " -n", errors.ECODE_INVAL)
    elif op.remote_node:
        lu.log_warning("Changing the disk template to a non-mirrored one, the"
                       " secondary node will be ignored")
        op.remote_node = None


def check_prereq(lu, inst, cluster, snode):
    """Whether ``inst`` can get the template lu.op.disk_template (with ``snode``
    as its secondary for drbd)."""
    new, old = lu.op.disk_template, inst.disk_template
    if old in NOT_CONVERTIBLE_FROM:
        raise errors.OpPrereqError("Conversion from the '%s' disk template is not"
                                   " supported" % old, errors.ECODE_INVAL)
    if new in NOT_CONVERTIBLE_TO:
        raise errors.OpPrereqError("Conversion to the '%s' disk template is not"
                                   " supported" % new, errors.ECODE_INVAL)
    # ext to ext: to another provider
    if old == new and new != constants.DT_EXT:
        raise errors.OpPrereqError("Instance already has disk template %s" % new,
                                   errors.ECODE_INVAL)
    if new not in cluster.enabled_disk_templates:
        raise errors.OpPrereqError("Disk template '%s' is not enabled for this cluster"
                                   " (enabled templates: %s)"
                                   % (new, ", ".join(cluster.enabled_disk_templates)),
                                   errors.ECODE_STATE)
    if not cluster.volume_group_name and new in constants.DTS_LVM:
        raise errors.OpPrereqError("Disk template conversions to lvm-based instances are"
                                   " not supported by the cluster", errors.ECODE_STATE)
    if constants.DT_DRBD8 in (old, new) and (old, new) not in LVM_CONVERSIONS:
        raise errors.OpPrereqError("Unsupported disk template conversion from %s to %s"
                                   " (drbd converts only to and from plain)"
                                   % (old, new), errors.ECODE_INVAL)
    iu.check_instance_stopped(lu, inst, "cannot change disk template")
    lu.converted_disks = None
    if (old, new) not in LVM_CONVERSIONS:
        lu.converted_disks = template_copy.new_disks(lu, inst, cluster)
    _, _, policy = ipolicy.group_ipolicy(lu.cfg, inst.primary_node)
    allowed = policy.get(ipolicy.IPOLICY_DTS) or []
    if new not in allowed:
        raise errors.OpPrereqError("Disk template '%s' in not allowed (allowed"
                                   " templates: %s)" % (new, ", ".join(allowed)),
                                   errors.ECODE_STATE)
    if new not in constants.DTS_EXCL_STORAGE:
        nodes = [inst.primary_node] + ([snode] if snode else [])
        if any(iu.exclusive_storage(lu.cfg, node) for node in nodes):
            raise errors.OpPrereqError("Cannot convert disk template from %s to %s when"
                                       " exclusive storage is enabled"
                                       % (inst.disk_template, new), errors.ECODE_STATE)
    if lu.converted_disks is not None:
        template_copy.check_space(lu, inst.primary_node, lu.converted_disks)
    if new != constants.DT_DRBD8:
        return
    if snode == inst.primary_node:
        raise errors.OpPrereqError("Given new secondary node %s is the same as the"
                                   " primary node of the instance" % snode,
                                   errors.ECODE_STATE)
    iu.check_node_usable(lu.cfg, snode)
    ipolicy.check_target_node_ipolicy(lu, inst, snode, lu.op.ignore_ipolicy)
    needed = {}
    for disk in inst.disks:
        unit = (constants.ST_LVM_VG, disk.logical_id[0])
        needed[unit] = needed.get(unit, 0) + disk.size + constants.DRBD_META_SIZE
    iu.check_storage_space(lu, snode, needed)


def convert(lu, inst, snode, feedback_fn):
    """Convert ``inst`` (the LU's changed copy; stored here with its other changes)
    to lu.op.disk_template."""
    if not iu.shutdown_disks(lu, inst, ignore_failures=True):
        raise errors.OpExecError("Cannot shutdown instance disks, unable to proceed"
                                 " with disk template conversion")
    if lu.converted_disks is not None:
        template_copy.convert(lu, inst, lu.converted_disks, feedback_fn)
    elif lu.op.disk_template == constants.DT_DRBD8:
        _plain_to_drbd(lu, inst, snode, feedback_fn)
    else:
        _drbd_to_plain(lu, inst, feedback_fn)


def _plain_to_drbd(lu, inst, snode, feedback_fn):
    cfg = lu.cfg
    pnode = inst.primary_node
    feedback_fn("Converting disk template from 'plain' to 'drbd'")
    minors = cfg.allocate_drbd_minors([pnode, snode] * len(inst.disks))
    cluster = cfg.get_cluster_info()
    new_disks = []
    for idx, old in enumerate(inst.disks):
        spec = {"size": old.size, "mode": old.mode, "name": old.name,
                "vg": old.logical_id[0]}
        new_disks.append(drbd_disks.generate(
            cluster, pnode, snode, idx, spec, minors[2 * idx:2 * idx + 2],
            group=cfg.get_node_group(cfg.get_node_info(pnode).group)))
    drbd_disks.assign_ports(cfg, new_disks)
    info = "originstname+%s" % inst.name
    made = []            # (node, disk dict) of the volumes made here
    renamed = []         # [new data LV, old logical_id] of the renamed volumes
    try:
        feedback_fn("Creating additional volumes...")
        for disk in new_disks:
            for node, lv in [(pnode, disk.children[1]), (snode, disk.children[0]),
                             (snode, disk.children[1])]:
                res = lu.rpc.call_blockdev_create(node, lv.to_dict(), lv.size, inst.name,
                                                  False, info,
                                                  iu.exclusive_storage(cfg, node))
                res.raise_on_failure("Cannot create volume %s on node %s"
                                     % (lv.logical_id[1], node))
                made.append((node, lv.to_dict()))
        feedback_fn("Renaming original volumes...")
        pairs = [[old.to_dict(), list(new.children[0].logical_id)]
                 for old, new in zip(inst.disks, new_disks)]
        res = lu.rpc.call_blockdev_rename(pnode, pairs)
        res.raise_on_failure("Failed to rename original LVs")
        renamed = [[new.children[0].to_dict(), list(old.logical_id)]
                   for old, new in zip(inst.disks, new_disks)]
        feedback_fn("Initializing DRBD devices...")
        for disk in new_disks:
            for node in (snode, pnode):
                res = lu.rpc.call_blockdev_create(
                    node, drbd_disks.disk_for_node(cfg, disk, node), disk.size,
                    inst.name, node == pnode, info, iu.exclusive_storage(cfg, node))
                res.raise_on_failure("Cannot create disk %s on node %s"
                                     % (disk.iv_name, node))
    except errors.GenericError:
        _undo_plain_to_drbd(lu, inst, new_disks, made, renamed, feedback_fn)
        raise
    inst.disk_template = constants.DT_DRBD8
    inst.disks = new_disks
    lu.cfg.update(inst)
    if not wait_for_sync(lu, inst, oneshot=not lu.op.wait_for_sync):
        raise errors.OpExecError("There are some degraded disks for this instance,"
                                 " please cleanup manually")
    iu.shutdown_disks(lu, inst, ignore_failures=True)


def _undo_plain_to_drbd(lu, inst, new_disks, made, renamed, feedback_fn):
    """Put the plain layout back: DRBD devices down, the LV renamed back, the
    new volumes and the ports gone."""
    for disk in new_disks:
        for node in (inst.primary_node, disk.nodes[1]):
            lu.rpc.call_blockdev_shutdown(node, drbd_disks.disk_for_node(lu.cfg, disk,
                                                                         node))
    if renamed:
        feedback_fn("Initializing of DRBD devices failed; renaming back original"
                    " volumes...")
        res = lu.rpc.call_blockdev_rename(inst.primary_node, renamed)
        if res.fail_msg:
            lu.log_warning("Failed to rename LVs back: %s", res.fail_msg,
                           hint="rename them to the names of the instance's disks"
                                " by hand")
    iu.remove_made(lu, made)
    lu.cfg.release_ports(drbd_disks.ports_of(new_disks))


def _drbd_to_plain(lu, inst, feedback_fn):
    pnode, snode = inst.primary_node, inst.secondary_nodes[0]
    feedback_fn("Converting disk template from 'drbd' to 'plain'")
    old_disks = [objects.Disk.from_dict(d.to_dict()) for d in inst.disks]
    new_disks = []
    for old in old_disks:
        data = objects.Disk.from_dict(old.children[0].to_dict())
        data.size, data.mode, data.name = old.size, old.mode, old.name
        data.iv_name, data.nodes = old.iv_name, [pnode]
        new_disks.append(data)
    inst.disks = new_disks
    inst.disk_template = constants.DT_PLAIN
    lu.cfg.update(inst)
    lu.cfg.release_ports(drbd_disks.ports_of(old_disks))
    feedback_fn("Removing volumes on the secondary node...")
    for disk in old_disks:
        res = lu.rpc.call_blockdev_remove(snode, drbd_disks.disk_for_node(lu.cfg, disk,
                                                                          snode))
        if res.fail_msg:
            lu.log_warning("Could not remove block device %s on node %s, continuing"
                           " anyway: %s", disk.iv_name, snode, res.fail_msg)
    feedback_fn("Removing unneeded volumes on the primary node...")
    for idx, disk in enumerate(old_disks):
        res = lu.rpc.call_blockdev_remove(pnode, disk.children[1].to_dict())
        if res.fail_msg:
            lu.log_warning("Could not remove metadata for disk %d on node %s,"
                           " continuing anyway: %s", idx, pnode, res.fail_msg)
