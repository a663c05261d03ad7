"""DRBD 8.4 mirrors: disk type ``drbd``.

logical_id = [node_a, node_b, port, minor_a, minor_b, secret] (as Ganeti's);
the children are the data LV and the 128 MiB metadata LV on this node. Which
end this node is comes from the dynamic parameters the master adds to the
disk it sends (``local_ip``, ``remote_ip``, ``local_minor``, ``remote_minor``):
the node itself never guesses its address.

There is no drbd.conf: every device is made with ``drbdsetup`` and ``drbdmeta``
directly (resource ``resource<minor>``, volume 0, external metadata at index
0), as Ganeti does. The state is read from /proc/drbd. The kernel module's
usermode helper (which DRBD runs on events) is set to the cluster's
``drbd_usermode_helper`` (given in the dynamic parameters) before a device is
made, assembled or connected: a helper that fails (drbdadm without a drbd.conf)
makes DRBD drop the connection before every resync.
"""

import logging
import os
import re

from ganeti import errors
from ganeti.storage import base
from ganeti.utils import process

DRBD_TIMEOUT = 60
META_SIZE = 128                 # MiB: the metadata LV of every DRBD disk
PROC_DRBD = "/proc/drbd"
HELPER_PARAM = "/sys/module/drbd/parameters/usermode_helper"
HMAC_ALG = "md5"

_SHOW_PORT_RE = re.compile(r"_this_host\s*{\s*address\s+\S+\s+\S*:(\d+);")
_SHOW_DISK_RE = re.compile(r'^\s*disk\s+"([^"]+)";', re.M)
_MINOR_RE = re.compile(r"^\s*(\d+):\s*cs:(\S+)(?:\s+ro:(\S+))?(?:\s+ds:(\S+))?")
_SYNC_RE = re.compile(r"sync'ed:\s*([\d.]+)%")
_FINISH_RE = re.compile(r"finish:\s*(\d+):(\d+):(\d+)")
_SYNCING = frozenset(["SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT",
                      "VerifyS", "VerifyT", "StartingSyncS", "StartingSyncT",
                      "WFBitMapS", "WFBitMapT", "WFSyncUUID"])


class MinorStatus:
    """One minor's line (and its sync lines) of /proc/drbd."""

    def __init__(self, minor, cstate, roles, disks, sync_percent, eta):
        self.minor = minor
        self.cstate = cstate
        self.local_role, _, self.peer_role = (roles or "/").partition("/")
        self.local_disk, _, self.peer_disk = (disks or "/").partition("/")
        self.sync_percent = sync_percent
        self.eta = eta

    @property
    def configured(self):
        return self.cstate != "Unconfigured"

    @property
    def connected(self):
        return self.cstate == "Connected"

    @property
    def in_resync(self):
        return self.cstate in _SYNCING

    @property
    def standalone(self):
        return self.cstate == "StandAlone"


def parse_proc_drbd(text):
    """{minor: MinorStatus} from the text of /proc/drbd."""
    result = {}
    current = None
    for line in text.splitlines():
        match = _MINOR_RE.match(line)
        if match:
            minor, cstate, roles, disks = match.groups()
            current = MinorStatus(int(minor), cstate, roles, disks, None, None)
            result[current.minor] = current
            continue
        if current is None:
            continue
        sync = _SYNC_RE.search(line)
        if sync:
            current.sync_percent = float(sync.group(1))
        finish = _FINISH_RE.search(line)
        if finish:
            hours, minutes, seconds = (int(x) for x in finish.groups())
            current.eta = hours * 3600 + minutes * 60 + seconds
    return result


def read_proc_drbd(path=PROC_DRBD):
    try:
        with open(path) as fd:
            return parse_proc_drbd(fd.read())
    except FileNotFoundError:
        base.throw_error("DRBD is not loaded on this node (%s is missing)", path)
    except OSError as err:
        base.throw_error("Cannot read %s: %s", path, err)


def used_minors(path=PROC_DRBD):
    """The minors in use on this node."""
    try:
        return sorted(m for m, st in read_proc_drbd(path).items() if st.configured)
    except errors.BlockDeviceError:
        return []


def usermode_helper(path=None):
    """The module's current usermode helper (None: the module is not loaded)."""
    try:
        with open(path or HELPER_PARAM) as fd:
            return fd.read().strip()
    except FileNotFoundError:
        return None
    except OSError as err:
        base.throw_error("Cannot read the DRBD usermode helper: %s", err)


def set_usermode_helper(helper, path=None):
    """Make the module run ``helper`` on events (when it runs another)."""
    if not helper or usermode_helper(path) in (None, helper):
        return
    try:
        with open(path or HELPER_PARAM, "w") as fd:
            fd.write(helper)
    except OSError as err:
        base.throw_error("Cannot set the DRBD usermode helper to %s: %s", helper, err)


def _drbd_cmd(argv, what):
    result = process.run_cmd(argv, env={"LC_ALL": "C"}, timeout=DRBD_TIMEOUT)
    if result.failed:
        base.throw_error("%s failed: %s", what,
                         (result.stderr or result.stdout).strip() or result.fail_reason)
    return result.stdout


def _resource(minor):
    return "resource%d" % minor


def _addr(ip, port):
    family = "ipv6" if ":" in ip else "ipv4"
    return "%s:%s:%d" % (family, "[%s]" % ip if family == "ipv6" else ip, port)


class DRBD8(base.BlockDev):
    """A DRBD 8.4 device over a data and a metadata LV."""

    CHILDREN_NEEDED = 0          # it runs diskless (from the peer) if both are lost
    ASSEMBLE_ON_SECONDARY = True

    def __init__(self, unique_id, children, size, params, dyn_params, **kwargs):
        super().__init__(unique_id, children, size, params, dyn_params, **kwargs)
        if not isinstance(unique_id, (list, tuple)) or len(unique_id) != 6:
            base.throw_error("Invalid DRBD id %r: expected [node_a, node_b, port,"
                             " minor_a, minor_b, secret]", unique_id)
        # no port: a half that stays off the network for now (a new secondary
        # during replace-disks -n is made before its peer may connect)
        self.port = None if unique_id[2] is None else int(unique_id[2])
        self.secret = unique_id[5]
        try:
            self.minor = int(self.dyn_params["local_minor"])
            self.local_ip = self.dyn_params["local_ip"]
            self.remote_ip = self.dyn_params["remote_ip"]
        except (KeyError, TypeError, ValueError):
            base.throw_error("DRBD disk %r came without this node's parameters"
                             " (local/remote ip and minor)", unique_id)
        if not (0 <= self.minor < 1 << 20):
            base.throw_error("Invalid DRBD minor %r", self.minor)
        self.helper = self.dyn_params.get("usermode_helper")
        self._dev_path = "/dev/drbd%d" % self.minor
        self.attach()

    # ---- state --------------------------------------------------------------------

    def _status(self):
        return read_proc_drbd().get(self.minor)

    def attach(self) -> bool:
        status = self._status()
        self.attached = bool(status and status.configured)
        return self.attached

    # ---- life cycle ---------------------------------------------------------------

    @classmethod
    def create(cls, unique_id, children, size, spindles, params, excl_stor,
               dyn_params, **kwargs) -> "DRBD8":
        """Write fresh metadata on the meta LV; the device itself is made by
        assemble (attach and connect)."""
        if len(children) != 2 or None in children:
            base.throw_error("A DRBD disk needs its data and metadata volumes")
        dev = cls(unique_id, children, size, params, dyn_params, **kwargs)
        if dev.attached:
            base.throw_error("DRBD minor %d is already in use on this node", dev.minor)
        set_usermode_helper(dev.helper)
        meta = children[1]
        meta_size = meta.get_actual_size() // base.MIB
        if meta_size < META_SIZE:
            base.throw_error("The metadata volume of DRBD minor %d is too small (%d MiB,"
                             " %d MiB needed)", dev.minor, meta_size, META_SIZE)
        _zero_start(meta.dev_path)
        _drbd_cmd(["drbdmeta", "--force", dev.dev_path, "v08", meta.dev_path, "0",
                   "create-md"], "Creating the DRBD metadata on %s" % meta.dev_path)
        return dev

    def assemble(self) -> None:
        """Attach the children and connect to the peer (each step only if needed)."""
        set_usermode_helper(self.helper)
        status = self._status()
        if status is None or not status.configured:
            self._apply_al()
            _drbd_cmd(["drbdsetup", "new-resource", _resource(self.minor)],
                      "Creating DRBD resource %s" % _resource(self.minor))
            try:
                _drbd_cmd(["drbdsetup", "new-minor", _resource(self.minor),
                           str(self.minor), "0"], "Creating DRBD minor %d" % self.minor)
                self._attach_disks()
            except errors.BlockDeviceError:
                self._down()
                raise
        status = self._status()
        if status is not None and status.local_disk == "Diskless" and self._children \
                and self._children_present():
            self._apply_al()          # it lost its disks (I/O error, detach)
            self._attach_disks()
        if status is not None and status.standalone and self.port is not None:
            self._connect()
        self.attached = True

    def _apply_al(self):
        """After a "down", the 8.4 module refuses to attach metadata whose
        activity log was not applied ("Unclean meta-data found"); drbdadm
        applies it before every attach, and so do we (a no-op when clean)."""
        _data, meta = self._children_paths()
        _drbd_cmd(["drbdmeta", self.dev_path, "v08", meta, "0", "apply-al"],
                  "Applying the activity log of DRBD minor %d" % self.minor)

    def _attach_disks(self):
        data, meta = self._children_paths()
        _drbd_cmd(["drbdsetup", "attach", str(self.minor), data, meta, "0",
                   "--on-io-error", "detach"] + self._disk_options(),
                  "Attaching the disks of DRBD minor %d" % self.minor)

    def _children_present(self):
        """Whether the data and metadata volumes both exist here."""
        return len(self._children) == 2 and all(
            c is not None and c.attached for c in self._children)

    def _children_paths(self):
        if not self._children_present():
            base.throw_error("DRBD minor %d: its data and metadata volumes are not both"
                             " present", self.minor)
        return self._children[0].dev_path, self._children[1].dev_path

    def _disk_options(self):
        """The resync speed: fixed at resync-rate KiB/s, or with dynamic-resync
        DRBD's controller within c-min-rate..c-max-rate (the disk parameters)."""
        get = self.params.get
        opts = ["--resync-rate", "%dk" % int(get("resync-rate") or 61440)]
        if get("dynamic-resync"):
            opts += ["--c-plan-ahead", str(int(get("c-plan-ahead") or 20)),
                     "--c-fill-target", "%ds" % int(get("c-fill-target") or 0),
                     "--c-delay-target", str(int(get("c-delay-target") or 1)),
                     "--c-min-rate", "%dk" % int(get("c-min-rate") or 0),
                     "--c-max-rate", "%dk" % int(get("c-max-rate") or 61440)]
        else:
            opts += ["--c-plan-ahead", "0"]
        return opts

    def _connect(self, multimaster=False):
        if self.port is None:
            base.throw_error("DRBD minor %d has no port to connect on", self.minor)
        argv = ["drbdsetup", "connect", _resource(self.minor),
                _addr(self.local_ip, self.port), _addr(self.remote_ip, self.port),
                "--protocol", "C", "--after-sb-0pri", "discard-zero-changes",
                "--after-sb-1pri", "consensus", "--after-sb-2pri", "disconnect"]
        if self.secret:
            argv += ["--cram-hmac-alg", HMAC_ALG, "--shared-secret", self.secret]
        if multimaster:
            argv += ["--allow-two-primaries"]
        _drbd_cmd(argv, "Connecting DRBD minor %d to %s" % (self.minor, self.remote_ip))

    def disconnect(self) -> None:
        """Leave the network (StandAlone); the local disk stays."""
        status = self._status()
        if status is None or status.standalone or not status.configured:
            return
        _drbd_cmd(["drbdsetup", "disconnect", _addr(self.local_ip, self.port),
                   _addr(self.remote_ip, self.port)],
                  "Disconnecting DRBD minor %d" % self.minor)

    def attach_net(self, multimaster) -> None:
        """Connect (again), allowing two primaries during a migration."""
        set_usermode_helper(self.helper)
        self.disconnect()
        self._connect(multimaster)

    def remove_children(self) -> None:
        """Detach the local data and metadata volumes (replace-disks): the device
        goes on diskless, reading and writing through its peer."""
        self._require_attached("detach the local storage of")
        status = self._status()
        if status is not None and status.local_disk == "Diskless":
            return                      # it has none left (replace-disks -a)
        _drbd_cmd(["drbdsetup", "detach", str(self.minor)],
                  "Detaching the local storage of DRBD minor %d" % self.minor)

    def add_children(self, children) -> None:
        """Attach new data and metadata volumes to this diskless device: fresh
        metadata, so the peer resyncs all of the data onto them."""
        self._require_attached("attach local storage to")
        status = self._status()
        if status is None or status.local_disk != "Diskless":
            base.throw_error("DRBD minor %d still has its local storage (%s); detach it"
                             " first", self.minor, status.local_disk if status else "?")
        if len(children) != 2 or None in children:
            base.throw_error("DRBD minor %d needs a data and a metadata volume",
                             self.minor)
        self._children = list(children)
        _data, meta = self._children_paths()
        _zero_start(meta)
        _drbd_cmd(["drbdmeta", "--force", self.dev_path, "v08", meta, "0", "create-md"],
                  "Creating the DRBD metadata on %s" % meta)
        self._attach_disks()

    def _down(self):
        _drbd_cmd(["drbdsetup", "down", _resource(self.minor)],
                  "Shutting down DRBD minor %d" % self.minor)

    def _owner_mismatch(self):
        """Why the minor's live configuration is not this disk's (another port, other
        backing volumes), or None: a minor the config gives us may have been taken
        by someone else, and we must never tear that down."""
        result = process.run_cmd(["drbdsetup", "show", str(self.minor)],
                                 env={"LC_ALL": "C"}, timeout=DRBD_TIMEOUT)
        if result.failed:
            return None
        port = _SHOW_PORT_RE.search(result.stdout)
        if port and self.port is not None and int(port.group(1)) != self.port:
            return "port %s, not %s" % (port.group(1), self.port)
        disk = _SHOW_DISK_RE.search(result.stdout)
        data = self._children[0] if self._children else None
        if disk and data is not None and data.dev_path and \
                os.path.realpath(disk.group(1)) != os.path.realpath(data.dev_path):
            return "backing disk %s, not %s" % (disk.group(1), data.dev_path)
        return None

    def shutdown(self) -> None:
        """Disconnect, detach and release the minor (the LVs stay); a minor that
        another resource holds is left alone."""
        if not self.attach():
            return
        mismatch = self._owner_mismatch()
        if mismatch:
            logging.warning("DRBD minor %d belongs to another resource (%s); leaving it"
                            " alone", self.minor, mismatch)
            return
        self._down()
        self.attached = False

    def remove(self) -> None:
        self.shutdown()

    def open(self, force: bool = False, exclusive: bool = True) -> None:
        """Become primary (force: also over inconsistent data, the first time);
        a migration's dual-primary mode is the network's, not open's."""
        self._require_attached("open")
        argv = ["drbdsetup", "primary", str(self.minor)]
        if force:
            argv.append("--force")
        _drbd_cmd(argv, "Making DRBD minor %d primary" % self.minor)

    def close(self) -> None:
        self._require_attached("close")
        _drbd_cmd(["drbdsetup", "secondary", str(self.minor)],
                  "Making DRBD minor %d secondary" % self.minor)

    def grow(self, amount, dryrun, backingstore, excl_stor) -> None:
        """backingstore: grow the data LV (on each node); else make DRBD take the
        new size (once, on the primary, after both data LVs grew)."""
        if backingstore:
            if not self._children or self._children[0] is None \
                    or not self._children[0].attached:
                base.throw_error("DRBD minor %d has no data volume to grow", self.minor)
            self._children[0].grow(amount, dryrun, True, excl_stor)
            return
        if dryrun:
            return
        self._require_attached("grow")
        _drbd_cmd(["drbdsetup", "resize", str(self.minor), "--size",
                   "%dm" % (int(self.size) + int(amount))],
                  "Resizing DRBD minor %d" % self.minor)

    # ---- information ---------------------------------------------------------------

    def needs_activation(self) -> bool:
        """Off the network or without local storage: activate-disks repairs it."""
        status = self._status()
        return (status is None or not status.configured or status.standalone
                or status.local_disk == "Diskless")

    def get_actual_size(self) -> int:
        self._require_attached("get the size of")
        try:
            with open("/sys/block/drbd%d/size" % self.minor) as fd:
                return int(fd.read()) * 512
        except (OSError, ValueError) as err:
            base.throw_error("Cannot read the size of DRBD minor %d: %s", self.minor, err)

    def get_sync_status(self) -> dict:
        status = self._status()
        if status is None or not status.configured:
            base.throw_error("DRBD minor %d is not set up", self.minor)
        if status.local_disk == "UpToDate":
            ldisk = base.LDS_OKAY
        elif status.local_disk == "Diskless":
            ldisk = base.LDS_FAULTY
        else:
            ldisk = base.LDS_UNKNOWN
        syncing = status.in_resync
        return base.sync_status(
            dev_path=self.dev_path,
            sync_percent=(status.sync_percent or 0.0) if syncing else None,
            estimated_time=status.eta if syncing else None,
            is_degraded=not (status.connected or syncing) or status.local_disk != "UpToDate",
            ldisk_status=ldisk)


def _zero_start(path, mib=1):
    """Clear the first MiB of ``path``: no old metadata may confuse drbdmeta."""
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, b"\0" * (mib * base.MIB))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as err:
        base.throw_error("Cannot clear the start of %s: %s", path, err)
