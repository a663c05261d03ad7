"""Node-side storage units: what gnt-node list-storage, modify-storage,
repair-storage and volumes ask a node.

The procedures keep Ganeti's names and arguments: ``storage_list(su_name,
su_args, name, fields)``, ``storage_modify(su_name, su_args, name, changes)``,
``storage_execute(su_name, su_args, name, op)`` and ``node_volumes()``.
``su_args`` is ``[[directory]]`` for the file based types and ``[]`` for LVM.
Sizes are MiB, rounded as Ganeti rounds them. LVM is read with ``pvs``/``vgs``/
``lvs`` (storage.lvm.report); the only changes are ``pvchange --allocatable``
and ``vgreduce --removemissing``.
"""

import os

from ganeti import errors
from ganeti.backend.common import fail
from ganeti.storage import filestorage, lvm
from ganeti.utils import process

ST_FILE = "file"
ST_SHARED_FILE = "sharedfile"
ST_GLUSTER = "gluster"
ST_LVM_PV = "lvm-pv"
ST_LVM_VG = "lvm-vg"
FILE_TYPES = (ST_FILE, ST_SHARED_FILE, ST_GLUSTER)

SF_NAME = "name"
SF_SIZE = "size"
SF_USED = "used"
SF_FREE = "free"
SF_ALLOCATABLE = "allocatable"
FIELDS = (SF_NAME, SF_SIZE, SF_USED, SF_FREE, SF_ALLOCATABLE)
SO_FIX_CONSISTENCY = "fix-consistency"
MIB = 1024 * 1024


def _mib(value) -> int:
    """An LVM size in MiB ("1023.50") as Ganeti rounds it (to the nearest)."""
    return int(round(float(value)))


def _bytes_to_mib(value) -> int:
    return int(round(value / float(MIB)))


# field -> (LVM report columns, value from those columns)
_PV_FIELDS = {
    SF_NAME: (["pv_name"], lambda name: name),
    SF_SIZE: (["pv_size"], _mib),
    SF_USED: (["pv_used"], _mib),
    SF_FREE: (["pv_free"], _mib),
    # the first pv_attr letter is "a" while LVM may allocate extents on the PV
    SF_ALLOCATABLE: (["pv_attr"], lambda attr: attr[:1] == "a"),
}
_VG_FIELDS = {
    SF_NAME: (["vg_name"], lambda name: name),
    SF_SIZE: (["vg_size"], _mib),
    SF_FREE: (["vg_free"], _mib),
    SF_USED: (["vg_size", "vg_free"], lambda size, free: _mib(size) - _mib(free)),
    SF_ALLOCATABLE: ([], lambda: True),
}
_LVM_TYPES = {ST_LVM_PV: ("pvs", _PV_FIELDS), ST_LVM_VG: ("vgs", _VG_FIELDS)}
_LVM_ENV = {"LC_ALL": "C", "DM_DISABLE_UDEV": "1"}


def _check_fields(fields, known, su_name):
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        fail("Invalid storage field list %r", fields)
    unknown = [f for f in fields if f not in known]
    if unknown:
        fail("Unknown field(s) for storage type '%s': %s", su_name, ", ".join(unknown))


def _check_lvm_name(su_name, name):
    """A PV is a device path, a VG a valid VG name; never an option for LVM."""
    if su_name == ST_LVM_PV:
        if not isinstance(name, str) or not name.startswith("/") or "\0" in name:
            fail("Invalid physical volume name %r: expected a device path", name)
        return
    try:
        lvm.check_name(name, "volume group")
    except errors.BlockDeviceError as err:
        fail("%s", err)


# ---- listing -------------------------------------------------------------------------

def _lvm_list(su_name, name, fields):
    command, table = _LVM_TYPES[su_name]
    _check_fields(fields, table, su_name)
    if name is not None:
        _check_lvm_name(su_name, name)
    # each column once, the name's always (a row must have at least one)
    columns = list(table[SF_NAME][0])
    for field in fields:
        columns.extend(c for c in table[field][0] if c not in columns)
    try:
        rows = lvm.report(command, columns, *([name] if name is not None else []))
    except errors.BlockDeviceError as err:
        fail("Cannot list storage units of type '%s': %s", su_name, err)
    result = []
    for raw in rows:
        if len(raw) != len(columns):
            continue                    # not a row of ours (LVM warnings)
        values = dict(zip(columns, raw))
        row = []
        for field in fields:
            wanted, convert = table[field]
            try:
                row.append(convert(*[values[c] for c in wanted]))
            except (ValueError, IndexError):
                fail("Unexpected %s output for field '%s': %r", command, field, raw)
        result.append(row)
    return result


def _file_dirs(su_args, su_name):
    """The directories of a file based type from its su_args ([[dir, ...]])."""
    if (not isinstance(su_args, list) or len(su_args) != 1
            or not isinstance(su_args[0], list)):
        fail("Invalid arguments for storage type '%s': %r", su_name, su_args)
    for path in su_args[0]:
        if not isinstance(path, str) or not path:
            fail("No directory is configured for storage type '%s'", su_name)
    return su_args[0]


def _directory_size(path) -> int:
    """MiB in the files below ``path`` (their apparent sizes, as Ganeti adds them)."""
    total = 0
    for curdir, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(curdir, name)).st_size
            except FileNotFoundError:
                continue                # removed while we walk
    return _bytes_to_mib(total)


def _file_row(path, fields):
    """One directory: size and free of its file system, used of its files."""
    try:
        local = filestorage.check_path(path, exact_ok=True)
    except errors.BlockDeviceError as err:
        fail("%s", err)
    stats = None
    if SF_SIZE in fields or SF_FREE in fields:
        try:
            stats = os.statvfs(local)
        except OSError as err:
            fail("Cannot get the file system usage of %s: %s", path, err.strerror or err)
    row = []
    for field in fields:
        if field == SF_NAME:
            row.append(path)
        elif field == SF_SIZE:
            row.append(_bytes_to_mib(stats.f_blocks * stats.f_frsize))
        elif field == SF_FREE:
            row.append(_bytes_to_mib(stats.f_bavail * stats.f_frsize))
        elif field == SF_USED:
            row.append(_directory_size(local))
        else:
            row.append(True)            # allocatable: always
    return row


def storage_list(su_name, su_args, name, fields):
    """Rows of ``fields`` for the storage units of type ``su_name`` (all, or ``name``)."""
    if su_name in _LVM_TYPES:
        return _lvm_list(su_name, name, fields)
    if su_name in FILE_TYPES:
        _check_fields(fields, FIELDS, su_name)
        dirs = _file_dirs(su_args, su_name)
        return [_file_row(path, fields) for path in (dirs if name is None else [name])]
    fail("Storage type '%s' cannot report its storage units", su_name)


# ---- changes ---------------------------------------------------------------------------

def _set_allocatable(pv_name, allocatable):
    """pvchange --allocatable (-x) y|n: whether LVM may put new extents on the PV."""
    flag = "y" if allocatable else "n"
    try:
        lvm.run_lvm(["pvchange", "--allocatable", flag, pv_name],
                    "Changing the allocatable flag of physical volume %s" % pv_name)
    except errors.BlockDeviceError as err:
        fail("%s", err)


def storage_modify(su_name, su_args, name, changes):
    """Change a storage unit: only an LVM PV's allocatable flag can change."""
    if not isinstance(changes, dict):
        fail("Invalid storage changes %r", changes)
    if not changes:
        return None
    if su_name != ST_LVM_PV:
        fail("Storage units of type '%s' can not be modified", su_name)
    other = sorted(set(changes) - set([SF_ALLOCATABLE]))
    if other:
        fail("The following fields can not be modified for storage units of type"
             " '%s': %s", su_name, ", ".join(other))
    if not isinstance(changes[SF_ALLOCATABLE], bool):
        fail("Invalid value %r for '%s': expected a boolean", changes[SF_ALLOCATABLE],
             SF_ALLOCATABLE)
    _check_lvm_name(su_name, name)
    _set_allocatable(name, changes[SF_ALLOCATABLE])
    return None


def _run_lvm_output(argv):
    """Run an LVM command whose exit code does not decide; its result."""
    return process.run_cmd(lvm.with_filter(argv), env=_LVM_ENV, timeout=lvm.LVM_TIMEOUT)


def _remove_missing(vg_name):
    """Drop the lost PVs of a volume group, as Ganeti does.

    vgreduce's exit code says little (older LVM fails on a consistent VG), so
    its output decides: unless it wrote out a consistent VG, run it again with
    --force. Then the VG must list without complaining about a missing PV.
    """
    result = _run_lvm_output(["vgreduce", "--removemissing", vg_name])
    output = result.output
    if ("Wrote out consistent volume group" not in output
            or "vgreduce --removemissing --force" in output):
        result = _run_lvm_output(["vgreduce", "--removemissing", "--force", vg_name])
        output += "\n" + result.output
    check = _run_lvm_output(["vgs", "--noheadings", "--nosuffix", vg_name])
    if check.failed or "Couldn't find device with uuid" in check.output:
        fail("Volume group '%s' still not consistent, 'vgreduce' output: %r,"
             " 'vgs' output: %r", vg_name, output, check.output)


def storage_execute(su_name, su_args, name, op):
    """Run an operation on a storage unit: only fix-consistency of an LVM VG."""
    if su_name != ST_LVM_VG or op != SO_FIX_CONSISTENCY:
        fail("Operation '%s' is not supported on storage units of type '%s'", op,
             su_name)
    _check_lvm_name(su_name, name)
    _remove_missing(name)
    return None


# ---- logical volumes ---------------------------------------------------------------------

def node_volumes():
    """Every LV of this node, once per PV it lies on: [{name, size, dev, vg}].

    size is lvs's MiB text; dev the PV without lvs's extent suffix ("(0)").
    """
    try:
        # devices last: an LV on several PVs lists them separated by commas
        rows = lvm.report("lvs", ["lv_name", "lv_size", "vg_name", "devices"])
    except errors.BlockDeviceError as err:
        fail("Failed to list logical volumes: %s", err)
    volumes = []
    for row in rows:
        if len(row) != 4:
            continue
        name, size, vg_name, devices = row
        for dev in devices.split(","):
            volumes.append({"name": name, "size": size, "vg": vg_name,
                            "dev": dev.split("(")[0]})
    return volumes


PROCEDURES = {
    "storage_list": storage_list,
    "storage_modify": storage_modify,
    "storage_execute": storage_execute,
    "node_volumes": node_volumes,
}
