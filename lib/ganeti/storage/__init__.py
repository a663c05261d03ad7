"""Block devices on this node, built from config Disks (node side).

``DEV_MAP`` maps a disk's dev_type to its device class; the functions here
take an ``objects.Disk`` and handle its children recursively. Other node code
(OS scripts, hypervisors) finds a disk with ``find_device(disk)`` and opens
``device.dev_path``.
"""

import logging
from typing import Dict, Optional, Type

from ganeti import constants, errors, objects
from ganeti.storage import base, drbd, extstorage, filestorage, lvm

DEV_MAP: Dict[str, Type[base.BlockDev]] = {
    constants.DT_FILE: filestorage.FileStorage,
    constants.DT_SHARED_FILE: filestorage.FileStorage,
    constants.DT_PLAIN: lvm.LogicalVolume,
    constants.DT_DRBD8: drbd.DRBD8,
    constants.DT_EXT: extstorage.ExtStorageDevice,
}


def _as_disk(disk):
    """Accept a Disk's dict form too (as it travels over RPC)."""
    return objects.Disk.from_dict(disk) if isinstance(disk, dict) else disk


def _device_class(disk) -> Type[base.BlockDev]:
    if disk.dev_type not in DEV_MAP:
        base.throw_error("Disk type '%s' is not supported on this node (supported: %s)",
                         disk.dev_type, ", ".join(sorted(DEV_MAP)))
    if disk.logical_id is None:
        base.throw_error("Disk %s has no logical_id", disk.iv_name or disk.uuid)
    return DEV_MAP[disk.dev_type]


def _dyn_params(disk) -> dict:
    return getattr(disk, "dynamic_params", None) or {}


def _identity(disk) -> dict:
    """The disk's name and uuid, as keyword arguments of a device class."""
    return {"name": disk.name, "uuid": disk.uuid}


def _children_allowed_to_fail(cls, disk) -> int:
    needed = cls.CHILDREN_NEEDED
    if needed < 0:
        return 0
    return max(0, len(disk.children) - needed)


def _device_tree(disk) -> base.BlockDev:
    """The device objects of ``disk`` and its children, not checked: whether a
    child exists is read when something asks (LVs look themselves up lazily)."""
    disk = _as_disk(disk)
    cls = _device_class(disk)
    children = [_device_tree(child) for child in disk.children]
    return cls(disk.logical_id, children, disk.size, disk.params, _dyn_params(disk),
               **_identity(disk))


def find_device(disk) -> Optional[base.BlockDev]:
    """The device of ``disk`` if its storage exists here, else None. Its
    children are there even if missing (see ``attached`` of each)."""
    device = _device_tree(disk)
    if not device.attached and not device.attach():
        return None
    return device


def assemble_device(disk) -> base.BlockDev:
    """Activate ``disk`` (children first) and return its device."""
    disk = _as_disk(disk)
    cls = _device_class(disk)
    may_fail = _children_allowed_to_fail(cls, disk)
    children = []
    for child in disk.children:
        try:
            children.append(assemble_device(child))
        except errors.BlockDeviceError as err:
            if may_fail <= 0:
                raise
            may_fail -= 1
            logging.warning("Could not assemble child %r of %r: %s", child.logical_id,
                            disk.logical_id, err)
            children.append(None)
    device = cls(disk.logical_id, children, disk.size, disk.params, _dyn_params(disk),
                 **_identity(disk))
    device.assemble()
    return device


def create_device(disk, size=None, excl_stor=False) -> base.BlockDev:
    """Create the storage of ``disk``; ``size`` (MiB) overrides disk.size.

    Children are created first (or assembled, if they already exist); if the
    device itself cannot be made, the children created here are removed again.
    """
    disk = _as_disk(disk)
    cls = _device_class(disk)
    children = []
    created = []
    try:
        for child in disk.children:
            if find_device(child) is not None:
                children.append(assemble_device(child))
            else:
                children.append(create_device(child, excl_stor=excl_stor))
                created.append(child)
        return cls.create(disk.logical_id, children, disk.size if size is None else size,
                          disk.spindles, disk.params, excl_stor, _dyn_params(disk),
                          **_identity(disk))
    except errors.GenericError:
        for child in reversed(created):
            try:
                remove_device(child)
            except errors.GenericError as err:
                logging.warning("Could not remove child %r after a failed create: %s",
                                child.logical_id, err)
        raise


def _found_children(disk, device):
    """(child disk, its device or None) pairs: the devices ``find_device`` made
    for the children of ``device`` are reused (each look-up runs lvs or reads
    /proc/drbd; doing them again doubles the time of an operation)."""
    found = getattr(device, "_children", None) if device is not None else None
    if found is None or len(found) != len(disk.children):
        return [(child, find_device(child)) for child in disk.children]
    return list(zip(disk.children, found))


def shutdown_device(disk, device=None, known=False) -> None:
    """Deactivate ``disk`` and then its children; missing ones are fine.
    (``device``, ``known``: the device found already, by the caller.)"""
    disk = _as_disk(disk)
    if not known:
        device = find_device(disk)
    if device is not None:
        device.shutdown()
    for child, child_device in _found_children(disk, device):
        shutdown_device(child, child_device, known=True)


def remove_device(disk, device=None, known=False) -> None:
    """Remove the storage of ``disk`` and its children; missing ones are fine.

    All parts are tried; the errors are reported together at the end.
    """
    disk = _as_disk(disk)
    msgs = []
    try:
        if not known:
            device = find_device(disk)
        if device is not None:
            device.remove()
    except errors.BlockDeviceError as err:
        msgs.append(str(err))
    try:
        children = _found_children(disk, device)
    except errors.BlockDeviceError as err:
        msgs.append(str(err))
        children = [(child, None) for child in disk.children]
        known = False
    else:
        known = True
    for child, child_device in children:
        try:
            remove_device(child, child_device, known=known)
        except errors.BlockDeviceError as err:
            msgs.append(str(err))
    if msgs:
        base.throw_error("; ".join(msgs))



def grow_device(disk, amount, dryrun=False, backingstore=True,
                excl_stor=False) -> None:
    """Grow ``disk`` by ``amount`` MiB (the device grows its children itself)."""
    disk = _as_disk(disk)
    device = find_device(disk)
    if device is None:
        base.throw_error("Cannot grow disk %s: its storage %r was not found",
                         disk.iv_name or disk.uuid, disk.logical_id)
    device.grow(amount, dryrun, backingstore, excl_stor)
