"""Node-side RPC procedures about block devices and file storage directories.

Disks arrive as dicts (``objects.Disk.to_dict()``). Activated disks get a
symlink ``<DISK_LINKS_DIR>/<instance>:<idx>`` to their device, which the
hypervisors open.
"""

import errno
import os

from ganeti import constants, errors, objects, pathutils, storage
from ganeti.backend.common import config_object, fail, point_link
from ganeti.storage import filestorage
from ganeti.utils import process
from ganeti.utils.instance_name import is_valid_instance_name

LINKS_DIR_MODE = 0o755


def _disk(data) -> objects.Disk:
    return config_object(objects.Disk, data, "disk")


def _disk_name(disk) -> str:
    return disk.iv_name or disk.name or disk.uuid


def _find(disk):
    try:
        return storage.find_device(disk)
    except errors.BlockDeviceError as err:
        fail("Cannot look up disk %s: %s", _disk_name(disk), err)


# ---- instance disk symlinks ----------------------------------------------------------

def _links_dir() -> str:
    return pathutils.DISK_LINKS_DIR


def _link_name(instance_name, idx) -> str:
    if not is_valid_instance_name(instance_name):
        fail("Invalid instance name %r", instance_name)
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
        fail("Invalid disk index %r", idx)
    return os.path.join(_links_dir(), "%s:%d" % (instance_name, idx))


def _make_link(instance_name, idx, dev_path) -> str:
    """Point <instance>:<idx> at dev_path (replacing an old link); its path."""
    link = _link_name(instance_name, idx)
    point_link(link, dev_path, LINKS_DIR_MODE)
    return link


def _remove_links(predicate) -> list:
    """Remove the links in the links dir whose (name, target) satisfy predicate."""
    removed = []
    try:
        names = os.listdir(_links_dir())
    except FileNotFoundError:
        return removed
    except OSError as err:
        fail("Cannot list %s: %s", _links_dir(), err)
    for name in sorted(names):
        path = os.path.join(_links_dir(), name)
        try:
            if not os.path.islink(path) or not predicate(name, os.readlink(path)):
                continue
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            continue
        except OSError as err:
            fail("Cannot remove disk link %s: %s", path, err)
    return removed


def _remove_links_to(dev_path) -> list:
    return _remove_links(lambda _name, target: target == dev_path)


def instance_disks_remove_links(instance_name) -> list:
    """Remove every disk link of ``instance_name``; the paths removed."""
    _link_name(instance_name, 0)  # validates the name
    prefix = instance_name + ":"
    return _remove_links(lambda name, _target: (name.startswith(prefix)
                                                and name[len(prefix):].isdigit()))


# ---- block devices ------------------------------------------------------------

def blockdev_create(disk, size, owner, on_primary, info, excl_stor):
    """Create the storage of ``disk`` (``size`` MiB); returns its dev_path."""
    disk = _disk(disk)
    try:
        device = storage.create_device(disk, size, bool(excl_stor))
    except errors.BlockDeviceError as err:
        fail("Cannot create disk %s: %s", _disk_name(disk), err)
    try:
        if on_primary or device.ASSEMBLE_ON_SECONDARY:
            device.assemble()
        if on_primary:
            device.open(force=True)
        if info:
            device.set_info(info)
    except errors.BlockDeviceError as err:
        fail("Disk %s was created but cannot be activated: %s", _disk_name(disk), err)
    return device.dev_path


def blockdev_remove(disk):
    """Remove the storage of ``disk`` (missing is fine) and links to it."""
    disk = _disk(disk)
    device = _find(disk)
    dev_path = device.dev_path if device is not None else None
    try:
        # the device found: an ext volume's look-up runs its provider's attach
        storage.remove_device(disk, device, known=True)
    except errors.BlockDeviceError as err:
        fail("Cannot remove disk %s: %s", _disk_name(disk), err)
    if dev_path:
        _remove_links_to(dev_path)


def blockdev_snapshot(disk, snap_name, snap_size):
    """Snapshot ``disk`` (a plain LV, or a DRBD disk's data LV); returns the
    snapshot's logical id [vg, name]."""
    disk = _disk(disk)
    if disk.dev_type == constants.DT_DRBD8:
        if not disk.children:
            fail("DRBD device '%s' without backing storage cannot be snapshotted",
                 disk.logical_id)
        return blockdev_snapshot(disk.children[0].to_dict(), snap_name, snap_size)
    if disk.dev_type != constants.DT_PLAIN:
        fail("Cannot snapshot block device '%s' of type '%s'", disk.logical_id,
             disk.dev_type)
    device = _find(disk)
    if device is None:
        fail("Cannot find block device %s", disk.logical_id)
    try:
        return device.snapshot(snap_name, snap_size)
    except errors.BlockDeviceError as err:
        fail("Cannot snapshot disk %s: %s", _disk_name(disk), err)


def blockdev_assemble(disk, instance_name, as_primary, idx):
    """Activate ``disk``; as primary also open it and link <instance>:<idx> to it.

    Returns [dev_path, link_name] (link_name None when not primary).
    """
    disk = _disk(disk)
    if as_primary:
        _link_name(instance_name, idx)  # refuse bad names before changing anything
    try:
        device = storage.assemble_device(disk)
        if as_primary:
            device.open()
    except errors.BlockDeviceError as err:
        fail("Cannot activate disk %s: %s", _disk_name(disk), err)
    link = _make_link(instance_name, idx, device.dev_path) if as_primary else None
    return [device.dev_path, link]


def blockdev_shutdown(disk):
    """Deactivate ``disk`` (missing is fine) and remove the links to it."""
    disk = _disk(disk)
    device = _find(disk)
    dev_path = device.dev_path if device is not None else None
    try:
        if device is not None:
            device.close()
        storage.shutdown_device(disk, device, known=True)
    except errors.BlockDeviceError as err:
        fail("Cannot shut down disk %s: %s", _disk_name(disk), err)
    if dev_path:
        _remove_links_to(dev_path)


def blockdev_grow(disk, amount, dryrun, backingstore, excl_stor):
    """Grow ``disk`` by ``amount`` MiB (dryrun: only check)."""
    disk = _disk(disk)
    try:
        storage.grow_device(disk, amount, bool(dryrun), bool(backingstore),
                            bool(excl_stor))
    except errors.BlockDeviceError as err:
        fail("Cannot grow disk %s: %s", _disk_name(disk), err)


def blockdev_setinfo(disk, info):
    """Give ``disk`` new metadata (its instance's name, after a rename)."""
    ((disk, device),) = _found_devices([disk])
    try:
        device.set_info(info)
    except errors.BlockDeviceError as err:
        fail("Failed to set information on block device: %s", err)


def blockdev_find(disk):
    """None if ``disk`` is not here, else its dev_path and sync status."""
    disk = _disk(disk)
    device = _find(disk)
    if device is None:
        return None
    try:
        return device.get_sync_status()
    except errors.BlockDeviceError as err:
        fail("Cannot get the status of disk %s: %s", _disk_name(disk), err)


def _found_devices(disks):
    """The devices of ``disks`` (dicts), failing on the first one not here."""
    devices = []
    for data in disks or []:
        disk = _disk(data)
        device = _find(disk)
        if device is None:
            fail("Cannot find disk %s (%r) on this node", _disk_name(disk),
                 disk.logical_id)
        devices.append((disk, device))
    return devices


def blockdev_open(instance_name, disks, exclusive):
    """Make the instance's disks ready for I/O here (during a migration both
    nodes have them open: ``exclusive`` false)."""
    for disk, device in _found_devices(disks):
        try:
            device.open(exclusive=bool(exclusive))
        except errors.BlockDeviceError as err:
            fail("Cannot open disk %s of instance %s (%s mode): %s", _disk_name(disk),
                 instance_name, "exclusive" if exclusive else "shared", err)


def blockdev_close(instance_name, disks):
    """Undo blockdev_open on this node (the instance no longer runs here)."""
    for disk, device in _found_devices(disks):
        try:
            device.close()
        except errors.BlockDeviceError as err:
            fail("Cannot close disk %s of instance %s: %s", _disk_name(disk),
                 instance_name, err)


def _drbd_devices(disks):
    devices = []
    for disk, device in _found_devices(disks):
        if not hasattr(device, "attach_net"):
            fail("Disk %s is not a drbd disk", _disk_name(disk))
        devices.append((disk, device))
    return devices


def drbd_disconnect_net(disks):
    """Take the instance's drbd disks off the network (StandAlone)."""
    for disk, device in _drbd_devices(disks):
        try:
            device.disconnect()
        except errors.BlockDeviceError as err:
            fail("Cannot disconnect disk %s: %s", _disk_name(disk), err)


def drbd_attach_net(disks, multimaster):
    """Connect the drbd disks again (allowing two primaries when ``multimaster``,
    for a migration); the master then waits (drbd_wait_sync) until both ends
    see each other."""
    for disk, device in _drbd_devices(disks):
        try:
            device.attach_net(bool(multimaster))
        except errors.BlockDeviceError as err:
            fail("Cannot reconnect disk %s: %s", _disk_name(disk), err)


def drbd_wait_sync(disks):
    """[all in sync, lowest sync percent or None] of the drbd disks; a disk that
    is neither connected nor resyncing is an error."""
    done, lowest = True, None
    for disk, device in _drbd_devices(disks):
        try:
            status = device.get_sync_status()
        except errors.BlockDeviceError as err:
            fail("Cannot get the status of disk %s: %s", _disk_name(disk), err)
        if status["is_degraded"] and status["sync_percent"] is None:
            fail("Device %s is not connected to its peer", _disk_name(disk))
        if status["sync_percent"] is not None:
            done = False
            lowest = status["sync_percent"] if lowest is None else \
                min(lowest, status["sync_percent"])
    return [done, lowest]


def _mirror_device(disk, action):
    """The device of a mirrored ``disk`` (dict) that must be here."""
    disk = _disk(disk)
    device = _find(disk)
    if device is None:
        fail("Cannot %s disk %s: it is not set up on this node", action,
             _disk_name(disk))
    if not hasattr(device, "add_children"):
        fail("Cannot %s disk %s: it is not a mirrored disk", action, _disk_name(disk))
    return disk, device


def blockdev_removechildren(disk, children):
    """Take the local storage (``children``, the data and metadata volumes) out of
    a mirrored disk; it goes on through its peer (replace-disks)."""
    disk, device = _mirror_device(disk, "detach the local storage of")
    try:
        device.remove_children()
    except errors.BlockDeviceError as err:
        fail("Cannot detach the local storage of disk %s: %s", _disk_name(disk), err)


def blockdev_addchildren(disk, children):
    """Give a mirrored disk that lost its local storage new volumes (``children``,
    which must exist); the peer resyncs the data onto them."""
    disk, device = _mirror_device(disk, "attach new storage to")
    devices = []
    for data in children or []:
        child = _disk(data)
        found = _find(child)
        if found is None:
            fail("Cannot find volume %r to attach to disk %s", child.logical_id,
                 _disk_name(disk))
        devices.append(found)
    try:
        device.add_children(devices)
    except errors.BlockDeviceError as err:
        fail("Cannot attach new storage to disk %s: %s", _disk_name(disk), err)


def blockdev_rename(renames):
    """Rename devices: ``renames`` is [[disk, new logical_id]] (LVs of replace-disks)."""
    for data, new_id in renames or []:
        disk = _disk(data)
        device = _find(disk)
        if device is None:
            fail("Cannot rename disk %r: it does not exist", disk.logical_id)
        try:
            device.rename(new_id)
        except errors.BlockDeviceError as err:
            fail("Cannot rename %r to %r: %s", disk.logical_id, new_id, err)


# the copy ends (dd killed) before the master stops waiting for the answer:
# a disk the master removes after a failed copy is no longer being written
_CONVERT_TIMEOUT = constants.RPC_TMO_SLOW - constants.RPC_TMO_URGENT


def blockdev_convert(src, dest):
    """Copy the data of disk ``src`` into the new disk ``dest`` on this node (a
    disk template conversion): dest's size in MiB, read from the start of src."""
    src, dest = _disk(src), _disk(dest)
    src_dev = _find(src)
    if src_dev is None:
        fail("Cannot copy from device '%s': device not found", src.uuid)
    dest_dev = _find(dest)
    if dest_dev is None:
        fail("Cannot copy to device '%s': device not found", dest.uuid)
    try:
        # an LV may be inactive (after a reboot); a file needs nothing
        src_dev.assemble()
        dest_dev.assemble()
    except errors.BlockDeviceError as err:
        fail("Cannot activate the disks to copy: %s", err)
    # fsync: the copy is on disk before the master removes the old disk. No
    # O_DIRECT (Ganeti's dd has it): not every filesystem takes it (tmpfs)
    result = process.run_cmd(["dd", "if=%s" % src_dev.dev_path,
                              "of=%s" % dest_dev.dev_path, "bs=1M",
                              "count=%d" % dest.size, "conv=notrunc,fsync"],
                             timeout=_CONVERT_TIMEOUT)
    if result.failed:
        fail("Disk conversion command '%s' exited with error: %s; output: %s",
             " ".join(result.cmd), result.fail_reason, result.output.strip())


def drbd_needs_activation(disks):
    """The uuids of the drbd ``disks`` that need activate-disks here: not set up,
    off the network (StandAlone) or without their local storage (Diskless)."""
    faulty = []
    for data in disks or []:
        disk = _disk(data)
        device = _find(disk)
        if device is None or not hasattr(device, "needs_activation"):
            faulty.append(disk.uuid)
            continue
        try:
            if device.needs_activation():
                faulty.append(disk.uuid)
        except errors.BlockDeviceError:
            faulty.append(disk.uuid)
    return faulty


def blockdev_getmirrorstatus(disks):
    """Per disk [True, status] (children included) or [False, message]."""
    result = []
    for data in disks:
        try:
            disk = _disk(data)
            device = storage.find_device(disk)
            if device is None:
                result.append([False, "Cannot find disk %s (%r)" % (_disk_name(disk),
                                                                     disk.logical_id)])
                continue
            result.append([True, device.combined_sync_status()])
        except errors.GenericError as err:
            result.append([False, str(err)])
    return result


def blockdev_getdimensions(disks):
    """Per disk [size in bytes, spindles or None], or None if it is not here."""
    result = []
    for data in disks:
        disk = _disk(data)
        device = _find(disk)
        if device is None:
            result.append(None)
            continue
        try:
            result.append(list(device.get_actual_dimensions()))
        except errors.BlockDeviceError as err:
            fail("Cannot get the size of disk %s: %s", _disk_name(disk), err)
    return result


# ---- file storage directories ------------------------------------------------

def _check_dir(path, exact_ok):
    try:
        return filestorage.check_path(path, exact_ok=exact_ok)
    except errors.BlockDeviceError as err:
        fail("%s", err)


def file_storage_dir_create(path):
    """Create a file storage directory (and parents) under the allowed dirs."""
    local = _check_dir(path, True)
    try:
        filestorage.make_dirs(local)
    except errors.BlockDeviceError as err:
        fail("%s", err)


def file_storage_dir_remove(path):
    """Remove an empty file storage directory below the allowed dirs (missing: ok)."""
    local = _check_dir(path, False)
    if not os.path.lexists(local):
        return
    if os.path.islink(local) or not os.path.isdir(local):
        fail("Cannot remove '%s': it is not a directory", local)
    try:
        os.rmdir(local)
    except OSError as err:
        if err.errno == errno.ENOENT:
            return
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
            fail("Cannot remove directory '%s': it is not empty", local)
        fail("Cannot remove directory '%s': %s", local, err)


def file_storage_dir_rename(old_path, new_path):
    """Rename a file storage directory (instance rename); the new one must not exist."""
    old_local = _check_dir(old_path, False)
    new_local = _check_dir(new_path, False)
    if not os.path.isdir(old_local) or os.path.islink(old_local):
        fail("Cannot rename '%s': it is not a directory", old_local)
    if os.path.lexists(new_local):
        fail("Cannot rename '%s' to '%s': the target exists", old_local, new_local)
    try:
        filestorage.make_dirs(os.path.dirname(new_local))
        os.rename(old_local, new_local)
    except (OSError, errors.BlockDeviceError) as err:
        fail("Cannot rename '%s' to '%s': %s", old_local, new_local, err)


PROCEDURES = {
    "blockdev_create": blockdev_create,
    "blockdev_remove": blockdev_remove,
    "blockdev_assemble": blockdev_assemble,
    "blockdev_shutdown": blockdev_shutdown,
    "blockdev_grow": blockdev_grow,
    "blockdev_snapshot": blockdev_snapshot,
    "blockdev_find": blockdev_find,
    "blockdev_setinfo": blockdev_setinfo,
    "blockdev_getmirrorstatus": blockdev_getmirrorstatus,
    "blockdev_removechildren": blockdev_removechildren,
    "blockdev_addchildren": blockdev_addchildren,
    "blockdev_rename": blockdev_rename,
    "blockdev_convert": blockdev_convert,
    "drbd_needs_activation": drbd_needs_activation,
    "blockdev_open": blockdev_open,
    "blockdev_close": blockdev_close,
    "drbd_disconnect_net": drbd_disconnect_net,
    "drbd_attach_net": drbd_attach_net,
    "drbd_wait_sync": drbd_wait_sync,
    "blockdev_getdimensions": blockdev_getdimensions,
    "file_storage_dir_create": file_storage_dir_create,
    "file_storage_dir_remove": file_storage_dir_remove,
    "file_storage_dir_rename": file_storage_dir_rename,
    "instance_disks_remove_links": instance_disks_remove_links,
}
