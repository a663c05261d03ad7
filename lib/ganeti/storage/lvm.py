"""LVM logical volumes: disk type ``plain``, and the data and metadata of ``drbd``.

logical_id = [volume group, LV name]; the device is /dev/<vg>/<lv>. Every
change is one LVM command (lvcreate, lvremove, lvextend, lvrename, lvchange)
run through utils.process; what LVM reports is read with ``lvs``/``vgs``/``pvs``
in their --noheadings --separator=, form. LVs are never deactivated on
shutdown (as in Ganeti): an LV costs nothing while active.
"""

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


def run_lvm(argv, what):
    """Run one LVM command; BlockDeviceError with its message when it fails."""
    result = process.run_cmd(with_filter(argv),
                             env={"LC_ALL": "C", "DM_DISABLE_UDEV": "1"},
                             timeout=LVM_TIMEOUT)
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


class LogicalVolume(base.BlockDev):
    """One LV; its dev_path is /dev/<vg>/<lv>."""

    def __init__(self, unique_id, children, size, params, dyn_params):
        super().__init__(unique_id, children, size, params, dyn_params)
        if not isinstance(unique_id, (list, tuple)) or len(unique_id) != 2:
            base.throw_error("Invalid LV id %r: expected [volume group, name]", unique_id)
        self.vg_name, self.lv_name = unique_id
        check_name(self.vg_name, "volume group")
        check_name(self.lv_name)
        self._dev_path = "/dev/%s/%s" % (self.vg_name, self.lv_name)
        self.attr = ""
        self.attach()

    @property
    def full_name(self):
        return "%s/%s" % (self.vg_name, self.lv_name)

    @classmethod
    def create(cls, unique_id, children, size, spindles, params, excl_stor,
               dyn_params) -> "LogicalVolume":
        """lvcreate of ``size`` MiB (striped as params["stripes"] says)."""
        if children:
            base.throw_error("Logical volumes cannot have children")
        if excl_stor:
            base.throw_error("Exclusive storage is not supported yet")
        try:
            size = int(size)
        except (TypeError, ValueError):
            base.throw_error("Invalid size %r for a logical volume", size)
        if size <= 0:
            base.throw_error("Invalid size %d MiB for a logical volume", size)
        dev = cls(unique_id, children, size, params, dyn_params)
        if dev.attached:
            base.throw_error("Logical volume %s already exists", dev.full_name)
        free = vg_free(dev.vg_name)
        if free is None:
            base.throw_error("Volume group %s not found", dev.vg_name)
        if free < size:
            base.throw_error("Not enough free space in volume group %s: required %d MiB,"
                             " available %d MiB", dev.vg_name, size, free)
        argv = ["lvcreate", "-y", "-Wn", "-Zn", "-L", "%dm" % size, "-n", dev.lv_name]
        stripes = int((params or {}).get("stripes") or 1)
        if stripes > 1:
            argv += ["-i", str(stripes)]
        run_lvm(argv + [dev.vg_name], "Creating logical volume %s" % dev.full_name)
        if not dev.attach():
            base.throw_error("Logical volume %s was created but cannot be found",
                             dev.full_name)
        return dev

    def attach(self) -> bool:
        """Read the LV's state from lvs; whether it exists."""
        try:
            rows = report("lvs", ["lv_attr", "lv_size"], self.full_name)
        except errors.BlockDeviceError:
            rows = []
        if len(rows) != 1:
            self.attached = False
            return False
        self.attr, size = rows[0]
        self.size = int(float(size))
        self.attached = True
        return True

    def assemble(self) -> None:
        """Activate the LV (lvchange -ay)."""
        self._require_attached("activate")
        run_lvm(["lvchange", "-ay", self.full_name],
                "Activating logical volume %s" % self.full_name)

    def shutdown(self) -> None:
        """LVs stay active (nothing to do), as in Ganeti."""

    def remove(self) -> None:
        if not self.attach():
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
        free = vg_free(self.vg_name) or 0
        if free < amount:
            base.throw_error("Not enough free space in volume group %s to grow %s by %d"
                             " MiB (available %d MiB)", self.vg_name, self.full_name,
                             amount, free)
        if dryrun:
            return
        run_lvm(["lvextend", "-L", "+%dm" % amount, self.full_name],
                "Growing logical volume %s" % self.full_name)
        self.attach()

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
