"""LVM logical volumes: disk type ``plain``, and the data and metadata of ``drbd``.

logical_id = [volume group, LV name]; the device is /dev/<vg>/<lv>. Every
change is one LVM command (lvcreate, lvremove, lvextend, lvrename, lvchange)
run through utils.process; what LVM reports is read with ``lvs``/``vgs``/``pvs``
in their --noheadings --separator=, form. LVs are never deactivated on
shutdown (as in Ganeti): an LV costs nothing while active.
"""

import math
import re
from typing import Optional

from ganeti import errors
from ganeti.storage import base
from ganeti.utils import process

LVM_TIMEOUT = 120
_NAME_RE = re.compile(r"^[a-zA-Z0-9+_.-]+$")
# names LVM keeps for itself, and the suffixes of its hidden volumes
_RESERVED = (".", "..", "snapshot", "pvmove")
_RESERVED_PARTS = ("_mlog", "_mimage", "_rimage", "_rmeta", "_tdata", "_tmeta",
                   "_cdata", "_cmeta", "_vorigin")
_TAG_BAD_CHARS = re.compile(r"[^a-zA-Z0-9+_.-]")


def check_name(name: str, what: str = "logical volume") -> None:
    """Refuse a VG or LV name LVM would refuse or misread."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name.startswith("-"):
        base.throw_error("Invalid %s name %r", what, name)
    if name in _RESERVED or any(part in name for part in _RESERVED_PARTS):
        base.throw_error("Invalid %s name %r: LVM reserves it", what, name)


# LVM must not look inside DRBD devices: what an instance keeps there (its own
# PVs) is the guest's, and the same PV would also show through the DRBD data LV
# (the install tutorial's lvm.conf filter, applied to every LVM command we run)
DRBD_DEVICES_REJECT = "r|^/dev/drbd[0-9]+$|"
_filter_config = None


def _global_filter():
    """The devices/global_filter of lvm.conf, with DRBD devices rejected first."""
    global _filter_config
    if _filter_config is None:
        result = process.run_cmd(["lvmconfig", "devices/global_filter"],
                                 env={"LC_ALL": "C"}, timeout=LVM_TIMEOUT)
        current = []
        if not result.failed and "=" in result.stdout:
            current = re.findall(r'"((?:[^"\\]|\\.)*)"',
                                 result.stdout.split("=", 1)[1])
        rules = [DRBD_DEVICES_REJECT] + [r for r in current if r != DRBD_DEVICES_REJECT]
        _filter_config = "devices { global_filter = [ %s ] }" % ", ".join(
            '"%s"' % rule for rule in rules)
    return _filter_config


def with_filter(argv):
    """``argv`` of an LVM command with the DRBD-rejecting device filter."""
    return [argv[0], "--config", _global_filter()] + list(argv[1:])


_LVM_ENV = {"LC_ALL": "C", "DM_DISABLE_UDEV": "1"}


def run_lvm(argv, what):
    """Run one LVM command; BlockDeviceError with its message when it fails."""
    result = process.run_cmd(with_filter(argv), env=_LVM_ENV, timeout=LVM_TIMEOUT)
    if result.failed:
        base.throw_error("%s failed: %s", what,
                         (result.stderr or result.stdout).strip() or result.fail_reason)
    return result.stdout


def report(command, fields, *names):
    """Rows (lists of strings) of ``lvs``/``vgs``/``pvs`` -o fields (sizes in MiB)."""
    out = run_lvm([command, "--noheadings", "--nosuffix", "--units=m", "--separator=,",
                   "-o", ",".join(fields)] + list(names), command)
    rows = []
    for line in out.splitlines():
        line = line.strip()
        if line:
            rows.append([part.strip() for part in line.split(",", len(fields) - 1)])
    return rows


def vg_free(vg_name: str) -> Optional[int]:
    """Free MiB in the volume group, or None if it does not exist."""
    try:
        rows = report("vgs", ["vg_name", "vg_free"], vg_name)
    except errors.BlockDeviceError:
        return None
    for name, free in rows:
        if name == vg_name:
            return int(float(free))
    return None


# ---- exclusive storage: one LV per PV (Ganeti's exclusive_storage node parameter) --
# PVs of one node may differ by PART_MARGIN in size; PART_RESERVED of the
# smallest is kept back, so every PV holds one "standard" disk of the same size
PART_MARGIN = 0.01
PART_RESERVED = 0.02


def pv_info(vg_name: str) -> list:
    """[{"name", "size", "free" (MiB), "attr"}] of the PVs of the volume group."""
    rows = report("pvs", ["pv_name", "vg_name", "pv_size", "pv_free", "pv_attr"])
    return [{"name": name, "size": float(size), "free": float(free), "attr": attr}
            for name, vg, size, free, attr in rows if vg == vg_name]


def pv_volumes(vg_name: str) -> dict:
    """{PV name: [LV names with extents on it]} of the volume group."""
    rows = report("pvs", ["pv_name", "vg_name", "lv_name"], "--segments")
    found = {}
    for pv, vg, lv in rows:
        if vg == vg_name:
            names = found.setdefault(pv, [])
            if lv and lv not in names:
                names.append(lv)
    return found


def std_pv_size(pvs) -> float:
    """The size of one disk on a PV (MiB): the smallest PV less the reserve."""
    return min(pv["size"] for pv in pvs) // (1 + PART_MARGIN + PART_RESERVED)


def empty_pvs(pvs) -> list:
    """The PVs no LV uses (as Ganeti: at most 1 MiB short of free), freest first."""
    return [pv for pv in sorted(pvs, key=lambda pv: -pv["free"])
            if pv["size"] <= pv["free"] + 1]


def pv_sizes_too_different(small: float, big: float) -> bool:
    """Whether no size X has both PVs within PART_MARGIN of it."""
    return small * (1 + PART_MARGIN) < big * (1 - PART_MARGIN)


def check_node_pvs(pvs, vg_name: str, exclusive: bool):
    """(errors, (smallest, biggest) or None) of a node's PVs (pv_info's list):
    names lvcreate can take ("NAME:RANGE" is a range of extents) and, with
    exclusive storage, sizes within PART_MARGIN of each other."""
    errs = ["Invalid character ':' in PV '%s' of VG '%s'" % (pv["name"], vg_name)
            for pv in pvs if ":" in pv["name"]]
    if not exclusive or not pvs:
        return errs, None
    small = min(pv["size"] for pv in pvs)
    big = max(pv["size"] for pv in pvs)
    if pv_sizes_too_different(small, big):
        errs.append("Sizes of PVs are too different: min=%d max=%d" % (small, big))
    return errs, (small, big)


def spindles_info(vg_name: str):
    """(free spindles, total spindles): the empty PVs and all PVs of the VG."""
    pvs = pv_info(vg_name)
    return len(empty_pvs(pvs)), len(pvs)


def exclusive_vg_free(vg_name: str) -> int:
    """Free MiB with exclusive storage: one standard disk per empty PV."""
    pvs = pv_info(vg_name)
    if not pvs:
        return 0
    return int(std_pv_size(pvs) * len(empty_pvs(pvs)))


def _exclusive_pvs(vg_name: str, size: int, spindles) -> list:
    """The empty PVs a new LV of ``size`` MiB on ``spindles`` PVs takes."""
    pvs = pv_info(vg_name)
    if not pvs:
        base.throw_error("No (empty) PVs found")
    if spindles is None:
        base.throw_error("Unspecified number of spindles: this is required when"
                         " exclusive storage is enabled, try running"
                         " gnt-cluster repair-disk-sizes")
    needed = int(math.ceil(float(size) / std_pv_size(pvs)))
    if spindles < needed:
        base.throw_error("Requested number of spindles (%s) is not enough for a disk"
                         " of %d MB (at least %d spindles needed)", spindles, size,
                         needed)
    names = [pv["name"] for pv in empty_pvs(pvs)][:spindles]
    if len(names) < spindles:
        base.throw_error("Not enough empty PVs (spindles) to create a disk of %d MB:"
                         " %d available, %d needed", size, len(names), spindles)
    return names


def _explain_create_failure(dev, size, result):
    """Raise the error of a failed lvcreate, in our words where we know why."""
    text = (result.stderr or result.stdout).strip() or result.fail_reason
    if "already exists" in text:
        base.throw_error("Logical volume %s already exists", dev.full_name)
    free = vg_free(dev.vg_name)
    if free is None:
        base.throw_error("Volume group %s not found", dev.vg_name)
    if free < size:
        base.throw_error("Not enough free space in volume group %s: required %d MiB,"
                         " available %d MiB", dev.vg_name, size, free)
    base.throw_error("Creating logical volume %s failed: %s", dev.full_name, text)


class LogicalVolume(base.BlockDev):
    """One LV; its dev_path is /dev/<vg>/<lv>."""

    def __init__(self, unique_id, children, size, params, dyn_params, **kwargs):
        super().__init__(unique_id, children, size, params, dyn_params, **kwargs)
        if not isinstance(unique_id, (list, tuple)) or len(unique_id) != 2:
            base.throw_error("Invalid LV id %r: expected [volume group, name]", unique_id)
        self.vg_name, self.lv_name = unique_id
        check_name(self.vg_name, "volume group")
        check_name(self.lv_name)
        self._dev_path = "/dev/%s/%s" % (self.vg_name, self.lv_name)
        self._attr = ""
        # read from lvs when first needed: most requests on a DRBD disk never
        # look at its volumes, and every lvs costs (half a second in a TCG VM)
        self._found = None

    @property
    def attached(self):
        if self._found is None:
            self.attach()
        return self._found

    @attached.setter
    def attached(self, value):
        self._found = value

    @property
    def attr(self):
        """The lv_attr string lvs showed ("" when the LV was not found)."""
        return self._attr if self.attached else ""

    @attr.setter
    def attr(self, value):
        self._attr = value

    @property
    def full_name(self):
        return "%s/%s" % (self.vg_name, self.lv_name)

    @classmethod
    def create(cls, unique_id, children, size, spindles, params, excl_stor,
               dyn_params, **kwargs) -> "LogicalVolume":
        """lvcreate of ``size`` MiB (striped as params["stripes"] says); with
        exclusive storage on ``spindles`` empty PVs of its own, striped over them."""
        if children:
            base.throw_error("Logical volumes cannot have children")
        try:
            size = int(size)
        except (TypeError, ValueError):
            base.throw_error("Invalid size %r for a logical volume", size)
        if size <= 0:
            base.throw_error("Invalid size %d MiB for a logical volume", size)
        dev = cls(unique_id, children, size, params, dyn_params, **kwargs)
        pvs = []
        stripes = int((params or {}).get("stripes") or 1)
        if excl_stor:
            if dev.attached:
                base.throw_error("Logical volume %s already exists", dev.full_name)
            pvs = _exclusive_pvs(dev.vg_name, size, spindles)
            stripes = len(pvs)
        argv = ["lvcreate", "-y", "-Wn", "-Zn", "-L", "%dm" % size, "-n", dev.lv_name]
        if stripes > 1:
            argv += ["-i", str(stripes)]
        # no lvs/vgs first (each costs): lvcreate's own refusals are explained
        result = process.run_cmd(with_filter(argv + [dev.vg_name] + pvs), env=_LVM_ENV,
                                 timeout=LVM_TIMEOUT)
        if result.failed:
            _explain_create_failure(dev, size, result)
        dev.size = size
        dev.attached = True
        return dev

    def attach(self) -> bool:
        """Read the LV's state from lvs; whether it exists."""
        try:
            rows = report("lvs", ["lv_attr", "lv_size"], self.full_name)
        except errors.BlockDeviceError:
            rows = []
        if len(rows) != 1:
            self._found = False
            return False
        self._attr, size = rows[0]
        self.size = int(float(size))
        self._found = True
        return True

    def assemble(self) -> None:
        """Activate the LV (lvchange -ay), unless lvs just showed it active."""
        self._require_attached("activate")
        if self.attr[4:5] == "a":
            return
        run_lvm(["lvchange", "-ay", self.full_name],
                "Activating logical volume %s" % self.full_name)

    def shutdown(self) -> None:
        """LVs stay active (nothing to do), as in Ganeti."""

    def remove(self) -> None:
        # the state read when this object was made (in the same request) is
        # fresh; a volume that vanished since fails lvremove, which is reported
        if not self.attached and not self.attach():
            return
        run_lvm(["lvremove", "-f", self.full_name],
                "Removing logical volume %s" % self.full_name)
        self.attached = False

    def rename(self, new_id) -> None:
        """lvrename inside the same volume group."""
        self._require_attached("rename")
        if not isinstance(new_id, (list, tuple)) or len(new_id) != 2:
            base.throw_error("Invalid LV id %r: expected [volume group, name]", new_id)
        new_vg, new_name = new_id
        if new_vg != self.vg_name:
            base.throw_error("Cannot move logical volume %s to volume group %s",
                             self.full_name, new_vg)
        check_name(new_name)
        run_lvm(["lvrename", self.vg_name, self.lv_name, new_name],
                "Renaming logical volume %s to %s" % (self.full_name, new_name))
        self.unique_id = [new_vg, new_name]
        self.lv_name = new_name
        self._dev_path = "/dev/%s/%s" % (self.vg_name, self.lv_name)

    def grow(self, amount, dryrun, backingstore, excl_stor) -> None:
        """lvextend by ``amount`` MiB (dryrun: only check the free space)."""
        if not backingstore:
            return
        self._require_attached("grow")
        amount = int(amount)
        if amount < 0:
            base.throw_error("Cannot shrink logical volume %s", self.full_name)
        if amount == 0:
            return
        pvs = []
        if excl_stor:
            # the LV keeps its spindles: it grows only on its own PVs, up to a
            # standard disk on each
            pvs = self.pv_names()
            all_pvs = pv_info(self.vg_name)
            std = std_pv_size(all_pvs) if all_pvs else 0
            free = int(sum(pv["free"] - (pv["size"] - std) for pv in all_pvs
                           if pv["name"] in pvs))
            if amount > free:
                base.throw_error("Not enough free space to grow %s: %d MiB required,"
                                 " %d available", self.dev_path, amount, free)
        else:
            free = vg_free(self.vg_name) or 0
            if free < amount:
                base.throw_error("Not enough free space in volume group %s to grow %s"
                                 " by %d MiB (available %d MiB)", self.vg_name,
                                 self.full_name, amount, free)
        if dryrun:
            return
        run_lvm(["lvextend", "-L", "+%dm" % amount, self.full_name] + pvs,
                "Growing logical volume %s" % self.full_name)
        self.attach()

    def snapshot(self, snap_name=None, snap_size=None) -> list:
        """A snapshot LV of this one (<lv>.snap unless named, as large as the LV
        unless sized), replacing an old one of that name; its [vg, name].
        Exports read a running instance's disk through it."""
        self._require_attached("snapshot")
        snap_name = snap_name or self.lv_name + ".snap"
        check_name(snap_name)
        size = int(snap_size or self.size)
        old = LogicalVolume([self.vg_name, snap_name], [], size, self.params, {})
        if old.attached:
            old.remove()
        free = vg_free(self.vg_name) or 0
        if free < size:
            base.throw_error("Not enough free space in volume group %s for a snapshot"
                             " of %s: required %d MiB, available %d MiB", self.vg_name,
                             self.full_name, size, free)
        run_lvm(["lvcreate", "-y", "-L", "%dm" % size, "-s", "-n", snap_name,
                 self.full_name],
                "Creating a snapshot of logical volume %s" % self.full_name)
        return [self.vg_name, snap_name]

    def pv_names(self) -> list:
        """The PVs the LV has extents on."""
        self._require_attached("list the PVs of")
        rows = report("lvs", ["devices"], self.full_name)
        names = []
        for (devices,) in rows:
            for dev in devices.split(","):
                name = dev.split("(")[0].strip()
                if name and name not in names:
                    names.append(name)
        return names

    def get_actual_spindles(self) -> int:
        """The number of PVs the LV uses (Ganeti counts spindles so)."""
        return len(self.pv_names())

    def get_actual_size(self) -> int:
        self._require_attached("get the size of")
        rows = report("lvs", ["lv_size"], self.full_name)
        return int(float(rows[0][0]) * base.MIB) if rows else 0

    def get_sync_status(self) -> dict:
        """An LV is degraded when LVM reports it virtual or partial (a lost PV)."""
        attr = self.attr or "-" * 10
        degraded = attr[0] == "v" or (len(attr) > 8 and attr[8] == "p")
        return base.sync_status(dev_path=self.dev_path, is_degraded=degraded,
                                ldisk_status=base.LDS_FAULTY if degraded
                                else base.LDS_OKAY)

    def set_info(self, text: str) -> None:
        """Tag the LV with ``text`` (what made it: Ganeti's originstname+NAME)."""
        self._require_attached("tag")
        tag = _TAG_BAD_CHARS.sub("_", text)[:128].lstrip("-")
        if tag:
            run_lvm(["lvchange", "--addtag", tag, self.full_name],
                    "Tagging logical volume %s" % self.full_name)
