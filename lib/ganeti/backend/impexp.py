"""Node-side RPC procedures of instance exports and imports.

A disk moves between two nodes through two helper processes (ganeti.impexpd):
the master starts the import on the receiving node, which listens on an
ephemeral port, then the export on the sending node, which connects to it;
it polls both with ``impexp_status`` and removes them with
``impexp_cleanup``. Each helper has a private status directory under
IMPORT_EXPORT_DIR whose name is the helper's name.

Exports live in EXPORT_DIR/<instance>: the disk images and ``config.ini``
(Ganeti's export format, version 0), written by ``finalize_export`` once all
disks have arrived in EXPORT_DIR/<instance>.new.
"""

import configparser
import io
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

from ganeti import constants, errors, impexpd, objects, osinterface, pathutils, storage
from ganeti.backend.common import config_object, fail
from ganeti.utils import process

EXPORT_CONF_FILE = "config.ini"
INISECT_EXP = "export"
INISECT_INS = "instance"
INISECT_HYP = "hypervisor"
INISECT_BEP = "backend"
INISECT_OSP = "os"
INISECT_OSP_PRIVATE = "os_private"
# hypervisor parameters that are the cluster's, not the instance's (not exported)
HVC_GLOBALS = ("migration_port", "migration_bandwidth", "migration_mode", "xen_cmd")
NIC_PARAMETERS = ("mode", "link", "vlan")
MAGIC_RE = re.compile(r"^[-_.a-zA-Z0-9]{5,100}$")
_NAME_RE = re.compile(r"^(import|export)-[0-9]{8}-[0-9]{6}-[a-z0-9_]+$")
IO_KINDS = (impexpd.IO_FILE, impexpd.IO_DEVICE, impexpd.IO_SCRIPT)
CONNECT_TIMEOUT = impexpd.CONNECT_TIMEOUT

# the helpers this daemon started, by name, so that they are reaped
_CHILDREN = {}


def _instance(data):
    instance = config_object(objects.Instance, data, "instance")
    if not instance.name:
        fail("Instance description without a name")
    return instance


def _local(path):
    """A path the master names, on this node (virtual cluster aware)."""
    if not isinstance(path, str) or not os.path.isabs(path) or "\0" in path:
        fail("Invalid path %r", path)
    return osinterface.local_path(path, pathutils.VIRT_ROOTDIR)


def _export_file(path):
    try:
        return osinterface.export_file_path(path)
    except errors.OpExecError as err:
        fail("%s", err)


def _device_path(disk_data):
    disk = config_object(objects.Disk, disk_data, "disk")
    try:
        device = storage.find_device(disk)
    except errors.BlockDeviceError as err:
        fail("Cannot look up disk %s: %s", disk.iv_name or disk.uuid, err)
    if device is None or not device.dev_path:
        fail("Disk %s (%s) is not active on this node", disk.iv_name or disk.uuid,
             disk.logical_id)
    return disk, device.dev_path


def _io(mode, io_desc, instance_data, component):
    """The request's "io" (what the helper reads or writes) and the expected
    size in bytes (None: unknown) from the master's description:
    ["file", path], ["raw", disk] or ["script", disk, index]."""
    if not isinstance(io_desc, list) or not io_desc or io_desc[0] not in IO_KINDS:
        fail("Invalid %s source/destination %r", mode, io_desc)
    kind = io_desc[0]
    if kind == impexpd.IO_FILE:
        if len(io_desc) != 2:
            fail("Invalid file argument %r", io_desc)
        return {"kind": kind, "path": _export_file(io_desc[1])}, None
    if kind == impexpd.IO_DEVICE:
        if len(io_desc) != 2:
            fail("Invalid raw disk argument %r", io_desc)
        disk, path = _device_path(io_desc[1])
        return {"kind": kind, "path": path}, disk.size * impexpd.MIB
    if len(io_desc) != 3:
        fail("Invalid script argument %r", io_desc)
    disk, path = _device_path(io_desc[1])
    instance = _instance(instance_data)
    if not instance.os:
        fail("Instance %s has no OS to run the %s script of", instance.name, mode)
    try:
        argv, env, cwd, logfile = osinterface.transfer_script(
            instance, mode, io_desc[2], path)
    except (errors.GenericError, KeyError) as err:
        fail("Cannot prepare the OS %s script: %s", mode, err)
    size = disk.size * impexpd.MIB if mode == "export" else None
    return {"kind": kind, "argv": argv, "env": env, "cwd": cwd,
            "log_file": logfile}, size


def _check_opts(opts):
    if not isinstance(opts, dict):
        fail("Invalid transfer options %r", opts)
    magic = opts.get("magic")
    if not isinstance(magic, str) or not MAGIC_RE.match(magic):
        fail("Invalid magic value %r", magic)
    compress = opts.get("compress") or impexpd.COMPRESS_NONE
    if not isinstance(compress, str) or not re.match(r"^[-_.a-zA-Z0-9]+$", compress):
        fail("Invalid compression tool %r", compress)
    return magic, compress


def _start(mode, request, component):
    """Write the request into a new status directory and start the helper."""
    try:
        os.makedirs(pathutils.IMPORT_EXPORT_DIR, mode=0o700, exist_ok=True)
        directory = tempfile.mkdtemp(
            dir=pathutils.IMPORT_EXPORT_DIR,
            prefix="%s-%s-" % (mode, time.strftime("%Y%m%d-%H%M%S")))
        with open(os.path.join(directory, impexpd.REQUEST_FILE), "w") as fd:
            os.fchmod(fd.fileno(), 0o600)
            json.dump(request, fd)
    except OSError as err:
        fail("Cannot prepare the %s of %s: %s", mode, component, err)
    name = os.path.basename(directory)
    try:
        child = process.spawn([sys.executable, "-m", "ganeti.impexpd", directory],
                              os.path.join(directory, "helper.log"),
                              env=process.package_env())
    except errors.GenericError as err:
        shutil.rmtree(directory, ignore_errors=True)
        fail("Cannot start the %s helper: %s", mode, err)
    _CHILDREN[name] = child
    with open(os.path.join(directory, "pid"), "w") as fd:
        fd.write("%d\n" % child.pid)
    return name


def import_start(opts, bind_ip, instance, component, dest):
    """Start receiving one disk (``component``, e.g. "disk0") on ``bind_ip``
    into ``dest``; returns the helper's name (its status tells the port)."""
    magic, compress = _check_opts(opts)
    if not isinstance(bind_ip, str) or not bind_ip:
        fail("Invalid address to listen on %r", bind_ip)
    io_desc, _ = _io("import", dest, instance, component)
    request = {"mode": "import", "bind": bind_ip, "connect_timeout": CONNECT_TIMEOUT,
               "magic": magic, "compress": compress,
               "cert_file": pathutils.NODED_CERT_FILE, "io": io_desc}
    return _start("import", request, component)


def export_start(opts, host, port, instance, component, source):
    """Start sending one disk from ``source`` to the import listening on
    ``host``:``port``; returns the helper's name."""
    magic, compress = _check_opts(opts)
    if not isinstance(host, str) or not host:
        fail("Invalid destination address %r", host)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        fail("Invalid destination port %r", port)
    io_desc, size = _io("export", source, instance, component)
    request = {"mode": "export", "host": host, "port": port,
               "connect_timeout": CONNECT_TIMEOUT, "magic": magic,
               "compress": compress, "cert_file": pathutils.NODED_CERT_FILE,
               "io": io_desc, "size": size}
    return _start("export", request, component)


def _status_dir(name):
    if not isinstance(name, str) or not _NAME_RE.match(name):
        fail("Invalid import/export name %r", name)
    return os.path.join(pathutils.IMPORT_EXPORT_DIR, name)


def _reap(name):
    child = _CHILDREN.get(name)
    if child is not None and child.poll() is not None:
        del _CHILDREN[name]


def _pid(directory):
    return process.read_pid_file(os.path.join(directory, "pid"))


def impexp_status(names):
    """The status of each named helper (None for an unknown one): listen_port,
    connected, progress_*, exit_status (None while running), error_message,
    recent_output."""
    if not isinstance(names, list):
        fail("Invalid list of names %r", names)
    result = []
    for name in names:
        directory = _status_dir(name)
        _reap(name)
        try:
            with open(os.path.join(directory, impexpd.STATUS_FILE)) as fd:
                status = json.load(fd)
        except FileNotFoundError:
            status = None if not os.path.isdir(directory) else {"exit_status": None}
        except (OSError, ValueError) as err:
            fail("Cannot read the status of %s: %s", name, err)
        if status is not None and status.get("exit_status") is None:
            pid = _pid(directory)
            if pid and not process.is_process_alive(pid):
                # it died without reporting (killed): a failure
                status["exit_status"] = 1
                status["error_message"] = "The helper process ended unexpectedly"
        result.append(status)
    return result


def _signal(directory, sig):
    pid = _pid(directory)
    if pid and process.is_process_alive(pid):
        try:
            os.killpg(pid, sig)        # the helper leads its own process group
        except ProcessLookupError:
            pass


def impexp_abort(name):
    """Ask a helper to stop (SIGTERM); it reports the abort in its status."""
    _signal(_status_dir(name), signal.SIGTERM)


def impexp_cleanup(name):
    """Stop a helper if it still runs and remove its status directory."""
    directory = _status_dir(name)
    _signal(directory, signal.SIGKILL)
    child = _CHILDREN.pop(name, None)
    if child is not None:
        try:
            child.wait(10)
        except Exception:  # pylint: disable=broad-except
            pass
    shutil.rmtree(directory, ignore_errors=True)


# ---- exports on this node ----------------------------------------------------------

def export_list():
    """The exports (directory names) in this node's export directory."""
    if not os.path.isdir(pathutils.EXPORT_DIR):
        fail("No exports directory")
    return sorted(name for name in os.listdir(pathutils.EXPORT_DIR)
                  if not name.startswith("."))


def export_info(path):
    """The ``config.ini`` text of the export in directory ``path``."""
    conf = os.path.join(_local(path), EXPORT_CONF_FILE)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(conf)
    except configparser.Error as err:
        fail("Export info file is not valid: %s", err)
    if not (parser.has_section(INISECT_EXP) and parser.has_section(INISECT_INS)):
        fail("Export info file doesn't have the required fields")
    buf = io.StringIO()
    parser.write(buf)
    return buf.getvalue()


def _export_dir(name):
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        fail("Invalid export name %r", name)
    return os.path.join(pathutils.EXPORT_DIR, name)


def export_remove(name):
    """Remove the export ``name`` (its directory)."""
    try:
        shutil.rmtree(_export_dir(name))
    except OSError as err:
        fail("Error while removing the export: %s", err)


def _str(value):
    return "None" if value is None else str(value)


def export_config(instance, disks, now=None):
    """The ``config.ini`` of an export of ``instance`` whose disk images are
    ``disks`` (a Disk per exported disk, None for one that was not)."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.add_section(INISECT_EXP)
    exp = conf[INISECT_EXP]
    exp["version"] = str(constants.EXPORT_VERSION)
    exp["timestamp"] = "%d" % int(time.time() if now is None else now)
    exp["source"] = _str(instance.primary_node)
    exp["os"] = _str(instance.os)
    exp["compression"] = "none"
    conf.add_section(INISECT_INS)
    ins = conf[INISECT_INS]
    be = instance.beparams or {}
    ins["name"] = instance.name
    for key in ("maxmem", "minmem"):
        ins[key] = "%d" % be[key]
    ins["memory"] = "%d" % be["maxmem"]       # the old name, for older readers
    ins["vcpus"] = "%d" % be["vcpus"]
    ins["disk_template"] = _str(instance.disk_template)
    ins["hypervisor"] = _str(instance.hypervisor)
    ins["tags"] = " ".join(instance.tags or [])
    for idx, nic in enumerate(instance.nics):
        ins["nic%d_mac" % idx] = _str(nic.mac)
        ins["nic%d_ip" % idx] = _str(nic.ip)
        ins["nic%d_network" % idx] = _str(nic.network)
        ins["nic%d_name" % idx] = _str(nic.name)
        for param in NIC_PARAMETERS:
            ins["nic%d_%s" % (idx, param)] = _str((nic.nicparams or {}).get(param))
    ins["nic_count"] = "%d" % len(instance.nics)
    count = 0
    for idx, disk in enumerate(disks):
        if not disk:
            continue
        count += 1
        ins["disk%d_ivname" % idx] = _str(disk.iv_name)
        ins["disk%d_dump" % idx] = _str(disk.uuid)
        ins["disk%d_size" % idx] = "%d" % disk.size
        ins["disk%d_name" % idx] = _str(disk.name)
    ins["disk_count"] = "%d" % count
    for section, values in ((INISECT_HYP, dict((k, v) for k, v in
                                               (instance.hvparams or {}).items()
                                               if k not in HVC_GLOBALS)),
                            (INISECT_BEP, be),
                            (INISECT_OSP, instance.osparams or {}),
                            (INISECT_OSP_PRIVATE, instance.osparams_private or {})):
        conf.add_section(section)
        for key, value in sorted(values.items()):
            conf[section][key] = _str(value)
    buf = io.StringIO()
    conf.write(buf)
    return buf.getvalue()


def finalize_export(instance, disks):
    """Write ``config.ini`` into EXPORT_DIR/<instance>.new and make it the
    instance's export, replacing an older one."""
    inst = _instance(instance)
    if not isinstance(disks, list):
        fail("Invalid list of exported disks %r", disks)
    disks = [config_object(objects.Disk, d, "disk") if d else None for d in disks]
    new_dir = _export_dir(inst.name + ".new")
    final_dir = _export_dir(inst.name)
    try:
        text = export_config(inst, disks)
    except (KeyError, TypeError, ValueError) as err:
        fail("Cannot describe instance %s: %s", inst.name, err)
    try:
        os.makedirs(new_dir, mode=0o750, exist_ok=True)
        tmp = os.path.join(new_dir, EXPORT_CONF_FILE + ".tmp")
        with open(tmp, "w") as fd:
            fd.write(text)
            fd.flush()
            os.fsync(fd.fileno())
        os.rename(tmp, os.path.join(new_dir, EXPORT_CONF_FILE))
        shutil.rmtree(final_dir, ignore_errors=True)
        os.rename(new_dir, final_dir)
    except OSError as err:
        fail("Cannot finalize the export of %s: %s", inst.name, err)


PROCEDURES = {
    "import_start": import_start,
    "export_start": export_start,
    "impexp_status": impexp_status,
    "impexp_abort": impexp_abort,
    "impexp_cleanup": impexp_cleanup,
    "export_list": export_list,
    "export_info": export_info,
    "export_remove": export_remove,
    "finalize_export": finalize_export,
}
