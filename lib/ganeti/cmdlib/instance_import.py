"""Instance creation from an export (gnt-backup import, gnt-instance add
--mode import): reading the export's ``config.ini`` into the creation
opcode's defaults, and moving the disk images into the new disks through the
OS's import script. The creation itself is LUInstanceCreate's.
"""

import configparser
import os

from ganeti import constants, errors, locking
from ganeti.cmdlib import backup, disk_transfer, drbd_disks, os_params
from ganeti.cmdlib import instance_utils as iu

MAX_DEVICES = 16
_NIC_PARAMETERS = ("mode", "link", "vlan")
_BE_MEMORY = "memory"


class ExportInfo:
    """A parsed config.ini; values "None" read as None (Ganeti's rule)."""

    def __init__(self, text):
        self.conf = configparser.ConfigParser(interpolation=None)
        try:
            self.conf.read_string(text)
        except configparser.Error as err:
            raise errors.OpPrereqError("Invalid export information: %s" % err,
                                       errors.ECODE_INVAL)

    def get(self, section, option):
        if not self.conf.has_option(section, option):
            return None
        value = self.conf.get(section, option)
        return None if value.lower() == constants.VALUE_NONE else value

    def has(self, section, option=None):
        if option is None:
            return self.conf.has_section(section)
        return self.conf.has_option(section, option)

    def items(self, section):
        """(name, value) of a section, without the values that are None (the
        parameter was unset: the cluster's default applies)."""
        if not self.conf.has_section(section):
            return []
        return [(k, v) for k, v in self.conf.items(section)
                if v.lower() != constants.VALUE_NONE]


def check_source(op):
    """The source node and path an import reads from, checked before locking:
    (source node or None to search every node, export path)."""
    src_path = op.src_path or op.instance_name
    if op.src_node is None:
        if os.path.isabs(src_path):
            raise errors.OpPrereqError("Importing an instance from a path requires a"
                                       " source node option", errors.ECODE_INVAL)
        return None, src_path
    if not os.path.isabs(src_path):
        src_path = backup.export_path(src_path)
    return op.src_node, src_path


def read_export(lu, src_node, src_path):
    """(source node, export path, ExportInfo); the export is searched on every
    (locked) node when no source node was given."""
    if src_node is None:
        nodes = sorted(lu.glm.list_owned(locking.LEVEL_NODE))
        lists = lu.rpc.call_export_list(nodes)
        for node in nodes:
            res = lists[node]
            if not res.fail_msg and src_path in (res.data or []):
                src_node, src_path = node, backup.export_path(src_path)
                break
        else:
            raise errors.OpPrereqError("No export found for relative path %s" % src_path,
                                       errors.ECODE_INVAL)
    iu.check_node_online(lu.cfg, src_node)
    res = lu.rpc.call_export_info(src_node, src_path)
    res.raise_on_failure("No export or invalid export found in dir %s" % src_path)
    info = ExportInfo(res.data)
    if not info.has("export"):
        raise errors.OpExecError("Corrupted export config")
    version = info.get("export", "version")
    if version != str(constants.EXPORT_VERSION):
        raise errors.OpPrereqError("Wrong export version %s (wanted %d)"
                                   % (version, constants.EXPORT_VERSION),
                                   errors.ECODE_ENVIRON)
    return src_node, src_path, info


def apply_export_params(op, info):
    """Fill what the opcode leaves open from the export (Ganeti's
    _ReadExportParams): OS, disks, NICs, tags, hypervisor and its, backend and
    OS parameters; given values win."""
    op.os_type = info.get("export", "os")
    if not op.disks:
        disks = []
        for idx in range(MAX_DEVICES):
            size = info.get("instance", "disk%d_size" % idx)
            if size is None:
                continue
            try:
                disk = {"size": int(size)}
            except ValueError:
                raise errors.OpPrereqError("Invalid size '%s' of disk %d in the export"
                                           % (size, idx), errors.ECODE_INVAL)
            name = info.get("instance", "disk%d_name" % idx)
            if name:
                disk["name"] = name
            disks.append(disk)
        op.disks = disks
        if not disks and op.disk_template != constants.DT_DISKLESS:
            raise errors.OpPrereqError("No disk info specified and the export is missing"
                                       " the disk information", errors.ECODE_INVAL)
    if not op.nics:
        nics = []
        for idx in range(MAX_DEVICES):
            if not info.has("instance", "nic%d_mac" % idx):
                break
            nic = {}
            for key in ("ip", "mac", "name"):
                value = info.get("instance", "nic%d_%s" % (idx, key))
                if value is not None:
                    nic[key] = value
            network = info.get("instance", "nic%d_network" % idx)
            if network:
                nic["network"] = network
            else:
                for key in _NIC_PARAMETERS:
                    value = info.get("instance", "nic%d_%s" % (idx, key))
                    if value is not None:
                        nic[key] = value
            nics.append(nic)
        op.nics = nics
    if not op.tags and info.has("instance", "tags"):
        op.tags = (info.get("instance", "tags") or "").split()
    if op.hypervisor is None and info.get("instance", "hypervisor"):
        op.hypervisor = info.get("instance", "hypervisor")
    op.hvparams = dict(op.hvparams or {})
    for name, value in info.items("hypervisor"):
        op.hvparams.setdefault(name, value)
    op.beparams = dict(op.beparams or {})
    if info.has("backend"):
        for name, value in info.items("backend"):
            if name == _BE_MEMORY:
                op.beparams.setdefault(constants.BE_MAXMEM, value)
                op.beparams.setdefault(constants.BE_MINMEM, value)
            else:
                op.beparams.setdefault(name, value)
    else:
        for name in (constants.BE_MAXMEM, constants.BE_MINMEM, "vcpus"):
            value = info.get("instance", name)
            if value is not None:
                op.beparams.setdefault(name, value)
    op.osparams = dict(op.osparams or {})
    for name, value in info.items("os"):
        op.osparams.setdefault(name, value)
    private = dict(op.osparams_private or {})
    for name, value in info.items("os_private"):
        private.setdefault(name, value)
    op.osparams_private = private or None


def export_macs(info):
    """The MAC of each NIC in the export (None where it has none)."""
    return [info.get("instance", "nic%d_mac" % idx) for idx in range(MAX_DEVICES)
            if info.has("instance", "nic%d_mac" % idx)]


def disk_images(info, src_path, count):
    """The image file of each of the new instance's disks (None: no image)."""
    images = []
    for idx in range(count):
        dump = info.get("instance", "disk%d_dump" % idx)
        images.append(os.path.join(src_path, dump) if dump else None)
    return images


def import_disks(lu, feedback_fn, instance, src_node, images, compress, old_name,
                 secrets=None):
    """Write the images into the new (active) disks of ``instance`` through
    its OS's import script, then run its rename script from ``old_name``."""
    feedback_fn("* running the instance OS import scripts...")
    pnode = instance.primary_node
    node_inst = os_params.instance_for_os_script(lu.cfg, instance, secrets)
    transfers = []
    for idx, image in enumerate(images):
        if not image or idx >= len(instance.disks):
            transfers.append(None)
            continue
        spec = drbd_disks.disk_for_node(lu.cfg, instance.disks[idx], pnode)
        dest = ["script", spec, idx] if instance.os else ["raw", spec]
        transfers.append(disk_transfer.DiskTransfer("disk/%d" % idx, ["file", image],
                                                    dest))
    node = lu.cfg.get_node_info(pnode)
    results = disk_transfer.transfer_instance_data(
        lu, feedback_fn, src_node, pnode, node.secondary_ip or node.primary_ip, compress,
        instance, node_inst, transfers)
    if not all(ok for ok, t in zip(results, transfers) if t is not None):
        lu.log_warning("Some disks for instance %s on node %s were not imported"
                       " successfully" % (instance.name, pnode))
    if instance.os:
        feedback_fn("Running rename script for %s" % instance.name)
        res = lu.rpc.call_instance_run_rename(pnode, node_inst, old_name, 0)
        if res.fail_msg:
            lu.log_warning("Failed to run rename script for %s on node %s: %s",
                           instance.name, pnode, res.fail_msg)
