"""The interface every block device class implements (node side).

A device is built from a config Disk (``objects.Disk``): its ``logical_id``
becomes the device's ``unique_id``, its children become child devices. One
subclass per disk type (file, LVM, DRBD, ...) lives in its own module and is
registered in ``storage.DEV_MAP``.
"""

import os
import stat
from typing import List, Optional

from ganeti import constants, errors

MIB = 1024 * 1024

LDS_OKAY = constants.LDS_OKAY
LDS_UNKNOWN = constants.LDS_UNKNOWN
LDS_FAULTY = constants.LDS_FAULTY
LDS_NAMES = {LDS_OKAY: "ok", LDS_UNKNOWN: "unknown", LDS_FAULTY: "faulty"}


def throw_error(msg: str, *args) -> None:
    """Raise BlockDeviceError with a formatted message."""
    raise errors.BlockDeviceError(msg % args if args else msg)


def device_numbers(path):
    """(major, minor) of the block device ``path``, or (None, None)."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        st = None
    if st is None or not stat.S_ISBLK(st.st_mode):
        return None, None
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def sync_status(dev_path=None, sync_percent=None, estimated_time=None,
                is_degraded=False, ldisk_status=LDS_OKAY) -> dict:
    """The sync status of one device, in the shape the RPC returns it (with the
    device's major and minor numbers when it is a block device)."""
    major, minor = device_numbers(dev_path)
    return {"dev_path": dev_path, "major": major, "minor": minor,
            "sync_percent": sync_percent, "estimated_time": estimated_time,
            "is_degraded": is_degraded, "ldisk_status": ldisk_status}


class BlockDev:
    """A block device (or anything a hypervisor can open as a disk).

    ``unique_id`` is the disk's logical_id, ``children`` the child devices
    (entries may be None when a child of a mirrored device is missing),
    ``size`` in MiB, ``name`` and ``uuid`` those of the config Disk (ext
    providers get them). ``attached`` says whether the storage was found.
    """

    # how many children must be present to assemble; -1 means all of them
    CHILDREN_NEEDED = -1
    # whether the secondary node assembles it too when it is created (a mirror)
    ASSEMBLE_ON_SECONDARY = False

    def __init__(self, unique_id, children, size, params, dyn_params, name=None,
                 uuid=None):
        self.unique_id = unique_id
        self.name = name
        self.uuid = uuid
        self._children = list(children or [])
        self.size = size
        self.params = dict(params or {})
        self.dyn_params = dict(dyn_params or {})
        self._dev_path = None
        self.attached = False

    def __repr__(self):
        return "<%s %r path=%s attached=%s>" % (self.__class__.__name__, self.unique_id,
                                                 self._dev_path, self.attached)

    @property
    def dev_path(self) -> Optional[str]:
        """The path a hypervisor opens (the real path on this node)."""
        return self._dev_path

    @property
    def children(self) -> List["BlockDev"]:
        return self._children

    # ---- life cycle ---------------------------------------------------------------

    @classmethod
    def create(cls, unique_id, children, size, spindles, params, excl_stor,
               dyn_params, **kwargs) -> "BlockDev":
        """Make the storage and return the (attached) device (kwargs: the
        disk's name and uuid, as for the constructor)."""
        raise NotImplementedError

    def attach(self) -> bool:
        """Find the existing storage and set dev_path; whether it was found."""
        raise NotImplementedError

    def assemble(self) -> None:
        """Make the device usable (activate it); it must exist."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """Deactivate the device; the data stays."""
        raise NotImplementedError

    def remove(self) -> None:
        """Destroy the storage and its data."""
        raise NotImplementedError

    def grow(self, amount: int, dryrun: bool, backingstore: bool,
             excl_stor: bool) -> None:
        """Grow by ``amount`` MiB; dryrun only checks that it could.

        backingstore: grow the storage itself (False: only the layers above,
        e.g. a DRBD device over grown LVs).
        """
        raise NotImplementedError

    def rename(self, new_id) -> None:
        """Give the storage a new unique_id (not every type can)."""
        throw_error("Renaming is not supported for %s devices", self.__class__.__name__)

    # ---- information -------------------------------------------------------------

    def get_actual_size(self) -> int:
        """The size of the storage in bytes, as the system sees it."""
        raise NotImplementedError

    def get_actual_spindles(self) -> Optional[int]:
        """Spindles used (only with exclusive storage); None when not known."""
        return None

    def get_actual_dimensions(self):
        """[size in bytes, spindles or None]."""
        return [self.get_actual_size(), self.get_actual_spindles()]

    def get_sync_status(self) -> dict:
        """The device's own sync status; a non-mirrored device is never degraded."""
        return sync_status(dev_path=self.dev_path)

    def combined_sync_status(self) -> dict:
        """The sync status merged with the children's (worst of each field)."""
        status = self.get_sync_status()
        for child in self._children:
            if child is None or not child.attached:
                continue
            cstatus = child.combined_sync_status()
            percents = [p for p in (status["sync_percent"], cstatus["sync_percent"])
                        if p is not None]
            times = [t for t in (status["estimated_time"], cstatus["estimated_time"])
                     if t is not None]
            status["sync_percent"] = min(percents) if percents else None
            status["estimated_time"] = max(times) if times else None
            status["is_degraded"] = status["is_degraded"] or cstatus["is_degraded"]
            status["ldisk_status"] = max(status["ldisk_status"], cstatus["ldisk_status"])
        return status

    def set_info(self, text: str) -> None:
        """Store free-form metadata with the device, where the type can."""

    def open(self, force: bool = False, exclusive: bool = True) -> None:
        """Make the device ready for I/O by the instance (DRBD: primary);
        ``exclusive`` false while two nodes have it open (a migration)."""

    def close(self) -> None:
        """Undo open (DRBD: secondary)."""

    # ---- helpers for subclasses ------------------------------------------------------

    def _require_attached(self, action: str) -> None:
        if not self.attached:
            throw_error("Cannot %s device %r: it was not found", action, self.unique_id)
