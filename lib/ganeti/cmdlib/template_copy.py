"""gnt-instance modify -t between templates whose disks cannot be kept (all
pairs but plain <-> drbd): Ganeti 3.0's conversion by copying, with its job
log lines.

New empty disks of the target template are made on the primary node, each
old disk's data is copied into its new disk there (RPC blockdev_convert: dd
on the node), the configuration takes the new disks, and only then are the
old disks removed. A failure before the configuration changes removes the
new disks: the instance keeps its old disks, data and template.
"""

import os

from ganeti import constants, errors
from ganeti.cmdlib import ext_disks
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.disk_sync import wait_for_sync
from ganeti.utils.text import format_unit


def _template_text(op):
    """The target as the job log names it: "ext:<provider>" for ext."""
    if op.disk_template == constants.DT_EXT:
        return "%s:%s" % (op.disk_template, op.ext_params["provider"])
    return op.disk_template


def new_disks(lu, inst, cluster):
    """The Disk objects replacing the instance's disks: the same sizes, modes
    and names in the target template (--file-storage-dir, --file-driver and
    --ext-params applied); OpPrereqError for a target not supported here.
    An ext target's provider must be valid on the primary node."""
    op = lu.op
    specs = []
    for disk in inst.disks:
        spec = {"size": disk.size, "mode": disk.mode, "name": disk.name}
        if op.disk_template == constants.DT_EXT:
            spec.update(_ext_spec(disk, op.ext_params))
        specs.append(spec)
    pnode = inst.primary_node
    group = lu.cfg.get_node_group(lu.cfg.get_node_info(pnode).group)
    disks = iu.generate_disks(cluster, op.disk_template, inst.name, pnode, specs,
                              file_storage_dir=op.file_storage_dir,
                              file_driver=op.file_driver, group=group)
    ext_disks.check_providers(lu, [pnode], ext_disks.providers_of(disks))
    return disks


def _ext_spec(disk, ext_params):
    """The provider and its parameters of an ext disk replacing ``disk`` (an
    ext disk keeps its access mode, as in Ganeti)."""
    provider = ext_params[ext_disks.PROVIDER]
    old_params = disk.params or {}
    if disk.dev_type == constants.DT_EXT:
        if old_params.get(ext_disks.PROVIDER) == provider:
            raise errors.OpPrereqError("Not converting, '%s' of type ExtStorage already"
                                       " using provider '%s'" % (disk.iv_name, provider),
                                       errors.ECODE_INVAL)
        if ext_disks.ACCESS in old_params:
            return dict(ext_params, **{ext_disks.ACCESS: old_params[ext_disks.ACCESS]})
    return dict(ext_params)


def check_space(lu, node, disks):
    """OpPrereqError unless ``node`` has room for ``disks`` in LVM and file
    storage, as instance creation checks (Ganeti's conversion checks LVM only)."""
    cluster = lu.cfg.get_cluster_info()
    needed = {}
    for disk in disks:
        if disk.dev_type == constants.DT_PLAIN:
            unit = (constants.ST_LVM_VG, disk.logical_id[0])
        elif disk.dev_type == constants.DT_FILE:
            unit = (constants.ST_FILE, cluster.file_storage_dir)
        elif disk.dev_type == constants.DT_SHARED_FILE:
            unit = (constants.ST_SHARED_FILE, cluster.shared_file_storage_dir)
        else:
            continue
        needed[unit] = needed.get(unit, 0) + disk.size
    if needed:
        iu.check_storage_space(lu, node, needed)


def _with_disks(inst, template, disks):
    view = inst.copy()
    view.disk_template = template
    view.disks = [disk.copy() for disk in disks]
    return view


def convert(lu, inst, disks, feedback_fn):
    """Give ``inst`` (the LU's changed copy, stored here with its other
    changes; its disks are shut down) the new ``disks``, copying the data."""
    old_template, text = inst.disk_template, _template_text(lu.op)
    old = _with_disks(inst, old_template, inst.disks)
    new = _with_disks(inst, lu.op.disk_template, disks)
    feedback_fn("Converting disk template from '%s' to '%s'" % (old_template, text))
    feedback_fn("Generating new '%s' disk template..." % text)
    feedback_fn("Creating new empty disks of type '%s'..." % text)
    try:
        iu.create_disks(lu, new)
    except errors.OpExecError:
        lu.log_warning("Device creation failed")
        _remove_new_dir(lu, new)
        raise
    _copy_data(lu, old, new, text, feedback_fn)
    feedback_fn("Detaching old disks (%s) from the instance and removing them from"
                " cluster config" % old_template)
    feedback_fn("Adding new disks (%s) to cluster config and attaching them to the"
                " instance" % text)
    inst.disk_template = new.disk_template
    inst.disks = new.disks
    lu.cfg.update(inst)
    if not wait_for_sync(lu, inst, oneshot=not lu.op.wait_for_sync):
        raise errors.OpExecError("There are some degraded disks for this instance,"
                                 " please cleanup manually")
    feedback_fn("Removing old block devices of type '%s'..." % old_template)
    iu.remove_disks(lu, old)
    # creating them activated the new disks; the instance is down
    iu.shutdown_disks(lu, inst, ignore_failures=True)


def _copy_data(lu, old, new, text, feedback_fn):
    """Copy each old disk into its new one on the primary node; on a failure
    remove the new disks and raise OpExecError."""
    feedback_fn("Populating the new empty disks of type '%s'..." % text)
    node = old.primary_node
    for idx, (src, dest) in enumerate(zip(old.disks, new.disks)):
        feedback_fn(" - copying data from disk %s (%s), size %s"
                    % (idx, src.dev_type, format_unit(dest.size, "h")))
        res = lu.rpc.call_blockdev_convert(node, src.to_dict(), dest.to_dict())
        if not res.fail_msg:
            continue
        feedback_fn(" - ERROR: Could not copy disk '%s' to '%s'"
                    % (src.logical_id[1], dest.logical_id[1]))
        lu.log_info("Some disks failed to copy")
        lu.log_info("The instance will not be affected, aborting operation")
        lu.log_info("Removing newly created disks of type '%s'..." % text)
        if iu.remove_disks(lu, new):
            lu.log_info("Newly created disks removed successfully")
        # the copies activated the old disks (ext: mapped them); down again
        iu.shutdown_disks(lu, old, ignore_failures=True)
        res.raise_on_failure("Error while converting the instance's template")


def _remove_new_dir(lu, new):
    """After a failed creation: the new file disks' directory, if it was made
    and is empty (the disks made were removed); quietly, it may not exist."""
    if new.disk_template in constants.DTS_FILEBASED and new.disks:
        lu.rpc.call_file_storage_dir_remove(
            new.primary_node, os.path.dirname(new.disks[0].logical_id[1]))
