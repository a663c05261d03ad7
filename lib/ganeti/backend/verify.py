"""Node-side checks of `gnt-cluster verify` beyond the basic node_verify ones.

node_verify hands each check present in its request to the function named in
CHECKS; the check names are Ganeti's (``client-cert``, ``ssh-clutter``) where
Ganeti has the check, ours (``file-orphans``) where it has none.
"""

import os
from typing import Dict, List, Optional

from ganeti import errors, pathutils
from ganeti.utils import net, x509

NV_CLIENT_CERT = "client-cert"
NV_SSH_CLUTTER = "ssh-clutter"
NV_FILE_ORPHANS = "file-orphans"

# how deep below a storage dir disks can be: [subdir/]instance/disk
_MAX_DEPTH = 3


def _local(path: str, root_dir: Optional[str]) -> str:
    root_dir = pathutils.VIRT_ROOTDIR if root_dir is None else root_dir
    if root_dir and not (path == root_dir or path.startswith(root_dir + "/")):
        return root_dir + path
    return path


def _strip(path: str, root_dir: Optional[str]) -> str:
    root_dir = pathutils.VIRT_ROOTDIR if root_dir is None else root_dir
    if root_dir and path.startswith(root_dir + "/"):
        return path[len(root_dir):]
    return path


def _my_name(params) -> str:
    """This node's name ("name" in the request overrides it, for tests)."""
    return params.get("name") or net.get_hostname()


def client_cert(_params, root_dir: Optional[str] = None) -> list:
    """[level, message] if this node's certificate has a problem, else [None, digest].

    The node daemon's certificate is both its server and its client certificate.
    """
    path = _local(_strip(pathutils.NODED_CERT_FILE, None), root_dir)
    if not os.path.exists(path):
        return [x509.CERT_ERROR, "The node certificate %s does not exist"
                % _strip(path, root_dir)]
    level, msg = x509.verify_cert_file(path)
    if level is not None:
        return [level, msg.replace(path, _strip(path, root_dir))]
    return [None, x509.cert_digest(path)]


def _authorized_keys(root_dir: Optional[str]) -> str:
    root_dir = pathutils.VIRT_ROOTDIR if root_dir is None else root_dir
    return (root_dir or "") + "/root/.ssh/authorized_keys"


def ssh_clutter(params, root_dir: Optional[str] = None) -> List[str]:
    """Messages about cluster nodes with more than one key in root's authorized_keys.

    ``params``: {"nodes": [node names]}. A key
    counts for the host named in its ``user@host`` comment, as Ganeti counts.
    """
    nodes = set(params.get("nodes") or [])
    my_name = _my_name(params)
    path = _authorized_keys(root_dir)
    try:
        with open(path) as fd:
            lines = fd.read().splitlines()
    except FileNotFoundError:
        return []
    except OSError as err:
        return ["Cannot read %s: %s" % (path, err)]
    seen: Dict[str, List[int]] = {}
    for number, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        owners = [word for word in line.split() if "@" in word]
        if owners:
            seen.setdefault(owners[0], []).append(number)
    multiple = dict((who, where) for who, where in sorted(seen.items())
                    if who.split("@", 1)[1] in nodes and len(where) > 1)
    if not multiple:
        return []
    msg = ("There are hosts which have more than one SSH key stored for the same user"
           " in the 'authorized_keys' file of node %s. This can be due to an"
           " unsuccessful operation which cluttered up the 'authorized_keys' file. We"
           " recommend to clean this up manually. " % my_name)
    for who, where in multiple.items():
        msg += "Entry for '%s' in lines %s. " % (who, ", ".join(str(n) for n in where))
    return [msg]


def _parent_dirs(files: set) -> set:
    """Every directory above a known file: the walk descends only into these."""
    dirs = set()
    for path in files:
        parent = os.path.dirname(path)
        while parent not in dirs and parent not in ("", "/"):
            dirs.add(parent)
            parent = os.path.dirname(parent)
    return dirs


def _walk_orphans(path: str, files: set, dirs: set, depth: int, found: List[str]) -> None:
    """Append to ``found`` the entries below ``path`` that hold no known file."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return
    for name in names:
        entry = os.path.join(path, name)
        if entry in files:
            continue
        if entry in dirs and depth < _MAX_DEPTH:
            _walk_orphans(entry, files, dirs, depth + 1, found)
        elif entry not in dirs:
            found.append(entry + "/" if os.path.isdir(entry) else entry)


def file_orphans(params, root_dir: Optional[str] = None) -> List[str]:
    """Files and directories in the storage dirs and the disk links dir that no
    instance in the configuration owns (left over by a failed job).

    ``params``: {"storage_dirs": [dirs], "files": {node: [disk files the config
    has there]}, "links": {node: [disk link names "inst:idx"]}}; this node takes
    its own entries. Paths come and go without the virtual root. A directory
    is reported once, not its content.
    """
    me = _my_name(params)
    known = set(_local(os.path.normpath(p), root_dir)
                for p in (params.get("files") or {}).get(me, []))
    found: List[str] = []
    for sdir in params.get("storage_dirs") or []:
        top = _local(os.path.normpath(sdir), root_dir)
        if os.path.isdir(top):
            _walk_orphans(top, known, _parent_dirs(known), 1, found)
    links_dir = pathutils.DISK_LINKS_DIR
    known_links = set((params.get("links") or {}).get(me, []))
    if "links" in params and os.path.isdir(links_dir):
        for name in sorted(os.listdir(links_dir)):
            if name not in known_links:
                found.append(os.path.join(links_dir, name))
    if "instances" in params:
        found.extend(_kvm_runtime_orphans(set(params["instances"] or [])))
    return [_strip(p, root_dir) for p in found]


# KVM runtime entries per instance: subdir -> suffix after the instance name
_KVM_RUNTIME = {"conf": ".runtime", "pid": "", "ctrl": None, "nic": "", "chroot": ""}


def _kvm_runtime_orphans(instances: set) -> List[str]:
    """KVM runtime files and dirs of instances the cluster does not know (what a
    creation or removal cut short leaves); a running one is verify's orphan
    instance, not a leftover, and is skipped."""
    from ganeti.hypervisor import hv_kvm
    base = hv_kvm.kvm_run_dir()
    running = set()
    try:
        running = set(hv_kvm.KVMHypervisor().list_instances())
    except (errors.GenericError, OSError):   # unreadable: treat as not running
        pass
    found = []
    for sub, suffix in sorted(_KVM_RUNTIME.items()):
        directory = os.path.join(base, sub)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for entry in names:
            if suffix is None:
                name = entry.rsplit(".", 1)[0]      # ctrl/NAME.qmp, .monitor, .serial
            elif suffix:
                if not entry.endswith(suffix):
                    continue
                name = entry[:-len(suffix)]
            else:
                name = entry
            if name not in instances and name not in running:
                path = os.path.join(directory, entry)
                found.append(path + "/" if os.path.isdir(path) else path)
    return found


NV_VGLIST = "vglist"
NV_LVLIST = "lvlist"
NV_PVLIST = "pvlist"
NV_EXCLUSIVEPVS = "exclusivepvs"
NV_DRBDLIST = "drbd-list"
NV_DRBDHELPER = "drbd-helper"
NV_BRIDGES = "bridges"


def vg_list(_params, root_dir: Optional[str] = None):
    """{volume group: size in MiB} of this node, or an error message."""
    from ganeti.storage import lvm
    try:
        rows = lvm.report("vgs", ["vg_name", "vg_size"])
    except errors.BlockDeviceError as err:
        return str(err)
    return dict((name, int(float(size))) for name, size in rows)


def lv_list(params, root_dir: Optional[str] = None):
    """{"vg/lv": [size MiB, active]} of the volume group ``params["vg"]`` (none
    when the group is not here: vglist reports that), or an error message."""
    from ganeti.storage import lvm
    vg = (params or {}).get("vg")
    try:
        lvm.check_name(vg, "volume group")
        if lvm.vg_free(vg) is None:
            return {}
        rows = lvm.report("lvs", ["lv_name", "lv_size", "lv_attr"], vg)
    except errors.BlockDeviceError as err:
        return str(err)
    return dict(("%s/%s" % (vg, name), [int(float(size)), len(attr) > 4 and
                                        attr[4] == "a"])
                for name, size, attr in rows)


def pv_list(params, root_dir: Optional[str] = None):
    """The PVs of the volume group ``params["vg"]`` ([{name, size, free, attr}],
    MiB), or an error message."""
    from ganeti.storage import lvm
    try:
        return lvm.pv_info((params or {}).get("vg"))
    except errors.BlockDeviceError as err:
        return str(err)


def exclusive_pvs(params, root_dir: Optional[str] = None):
    """[[PV, [LV, ...]]] of the PVs that more than one LV of the volume group
    ``params["vg"]`` uses (exclusive storage forbids that), or an error message."""
    from ganeti.storage import lvm
    try:
        shared = lvm.pv_volumes((params or {}).get("vg"))
    except errors.BlockDeviceError as err:
        return str(err)
    return [[pv, lvs] for pv, lvs in sorted(shared.items()) if len(lvs) > 1]


def drbd_list(_params, root_dir: Optional[str] = None):
    """The DRBD minors in use here, or an error message."""
    from ganeti.storage import drbd
    if not os.path.exists(drbd.PROC_DRBD):
        return "DRBD is not loaded on this node (%s is missing)" % drbd.PROC_DRBD
    return drbd.used_minors()


def drbd_helper(_params, root_dir: Optional[str] = None):
    """The drbd module's usermode helper ("" when the module is not loaded)."""
    from ganeti.storage import drbd
    try:
        return drbd.usermode_helper() or ""
    except errors.BlockDeviceError as err:
        return {"error": str(err)}


def missing_bridges(params, root_dir: Optional[str] = None):
    """The bridges of the list ``params`` that are not on this node."""
    from ganeti.backend import instance
    return instance.bridges_exist(params or [])


CHECKS = {
    NV_CLIENT_CERT: client_cert,
    NV_SSH_CLUTTER: ssh_clutter,
    NV_FILE_ORPHANS: file_orphans,
    NV_VGLIST: vg_list,
    NV_LVLIST: lv_list,
    NV_PVLIST: pv_list,
    NV_EXCLUSIVEPVS: exclusive_pvs,
    NV_DRBDLIST: drbd_list,
    NV_DRBDHELPER: drbd_helper,
    NV_BRIDGES: missing_bridges,
}


def run_checks(checks: dict, root_dir: Optional[str] = None) -> dict:
    """The results of the checks of CHECKS present in ``checks``."""
    return dict((name, fn(checks[name], root_dir=root_dir))
                for name, fn in CHECKS.items() if name in checks)
