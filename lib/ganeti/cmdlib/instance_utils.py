"""Helpers shared by the instance logical units: parameters, hooks env, disks."""

import ipaddress
import os
import random
import re

from ganeti import constants, errors, locking, objects, paramtypes
from ganeti.cmdlib import drbd_disks, ext_disks, forthcoming
from ganeti.cmdlib.base import LogicalUnit
from ganeti.hypervisor import get_hypervisor_class

# hypervisors that plumb NICs into bridges on the node (fake does nothing)
HV_WITH_BRIDGES = frozenset([constants.HT_KVM, constants.HT_XEN_PVM, constants.HT_XEN_HVM])


def expand_instance_name(cfg, name):
    """The full name of an instance; OpPrereqError if unknown."""
    from ganeti.utils import text
    full = text.match_name_component(name, cfg.get_instance_list())
    if full is None:
        raise errors.OpPrereqError("Instance '%s' not known" % name, errors.ECODE_NOENT)
    return full


def get_instance(cfg, name):
    inst = cfg.get_instance_info(name)
    if inst is None:
        raise errors.OpPrereqError("Instance '%s' not known" % name, errors.ECODE_NOENT)
    return inst


def fill_os_params(cluster, instance):
    base = dict(cluster.osparams.get(instance.os.split("+")[0], {}))
    base.update(cluster.osparams.get(instance.os, {}))
    base.update(instance.osparams)
    return base


def fill_os_params_private(cluster, instance):
    """The private OS parameters: the cluster's for the OS (base name, then
    os+variant, see gnt-os modify), then the instance's own."""
    defaults = cluster.osparams_private_cluster or {}
    base = dict(defaults.get((instance.os or "").split("+")[0], {}))
    base.update(defaults.get(instance.os, {}))
    base.update(instance.osparams_private or {})
    return base


def instance_for_node(cfg, instance, node=None):
    """The instance as a dict for node procedures on ``node`` (default: its
    primary): parameters filled with defaults, drbd disks with that node's view."""
    cluster = cfg.get_cluster_info()
    data = instance.to_dict()
    node = node or instance.primary_node
    data["disks"] = [drbd_disks.disk_for_node(cfg, d, node) for d in instance.disks]
    data["hvparams"] = cluster.fill_hv(instance)
    data["beparams"] = cluster.fill_be(instance)
    data["osparams"] = fill_os_params(cluster, instance)
    data["osparams_private"] = fill_os_params_private(cluster, instance)
    data["nics"] = []
    for nic in instance.nics:
        ndict = nic.to_dict()
        ndict["nicparams"] = cluster.fill_nic(nic.nicparams)
        data["nics"].append(ndict)
    return data


def check_node_online(cfg, node_name, what="use"):
    node = cfg.get_node_info(node_name)
    if node is None:
        raise errors.OpPrereqError("Node '%s' not known" % node_name, errors.ECODE_NOENT)
    if node.offline:
        raise errors.OpPrereqError("Can't %s node %s: it is marked offline"
                                   % (what, node_name), errors.ECODE_STATE)
    return node


def check_node_usable(cfg, node_name):
    """A node new storage may go to: online, not drained, vm_capable."""
    node = check_node_online(cfg, node_name)
    if node.drained:
        raise errors.OpPrereqError("Can't use drained node %s" % node_name,
                                   errors.ECODE_STATE)
    if not node.vm_capable:
        raise errors.OpPrereqError("Can't use non-vm_capable node %s" % node_name,
                                   errors.ECODE_STATE)
    return node


def instance_running(lu, instance):
    """Whether the instance runs on its primary node (OpPrereqError if the node
    cannot say)."""
    res = lu.rpc.call_instance_info(instance.primary_node, instance.name,
                                    instance.hypervisor,
                                    lu.cfg.get_cluster_info().fill_hv(instance))
    res.raise_on_failure("Cannot check the state of instance %s" % instance.name,
                         prereq=True)
    return bool(res.data)


def check_instance_stopped(lu, instance, why):
    """Ganeti's refusal of an instance marked up or running: "..., <why>"."""
    if instance.admin_state == constants.ADMINST_UP:
        raise errors.OpPrereqError("Instance '%s' is marked to be up, %s"
                                   % (instance.name, why), errors.ECODE_STATE)
    if instance_running(lu, instance):
        raise errors.OpPrereqError("Instance %s is running, %s"
                                   % (instance.name, why), errors.ECODE_STATE)


def check_iallocator_or_node(lu, target_node):
    """Ganeti's rule for a target chosen by node or allocator: the allocator to
    run (given, or the cluster's default), None when a node was given."""
    from ganeti.cmdlib import iallocator
    return iallocator.resolve(lu, target_node)


def check_hvparams(hv_name, hvparams):
    """Check the types and syntax of the complete hypervisor parameters."""
    try:
        get_hypervisor_class(hv_name).check_parameter_syntax(hvparams)
    except errors.HypervisorError as err:
        raise errors.OpPrereqError(str(err.args[0]), errors.ECODE_INVAL)


def _resets_as_none(params):
    """``default`` (any case) as None: the value to drop so the default applies."""
    return dict((k, None if isinstance(v, str) and v.lower() == constants.VALUE_DEFAULT
                 else v) for k, v in (params or {}).items())


def check_hvparams_not_global(params):
    """Refuse, as Ganeti does, hypervisor parameters set for an instance that
    only the cluster can set."""
    used = sorted(set(params or {}) & constants.HVC_GLOBALS)
    if used:
        raise errors.OpPrereqError("The following hypervisor parameters are global and"
                                   " cannot be customized at instance level, please"
                                   " modify them at cluster level: %s" % ", ".join(used),
                                   errors.ECODE_INVAL)


def typed_hvparams(hv_name, params, allow_reset=False):
    """Hypervisor parameters converted; with ``allow_reset`` None/``default`` stay
    None (the instance's value is dropped)."""
    if allow_reset:
        params = _resets_as_none(params)
    return paramtypes.enforce_types(params, constants.HVC_DEFAULTS.get(hv_name, {}),
                                    "Hypervisor %s" % hv_name, allow_none=allow_reset)


def typed_beparams(params, allow_reset=False):
    """Backend parameters converted with Ganeti's rules ("memory", the pre-2.6
    name, sets maxmem and minmem); with ``allow_reset``, None (``default``) stays
    None: the instance's own value is dropped and the cluster default applies.
    "memory=default" resets nothing (Ganeti 3.0 keeps maxmem and minmem: only a
    stored "memory" would go, and none is stored)."""
    params = _resets_as_none(params) if allow_reset else dict(params or {})
    result = paramtypes.enforce_types(params, paramtypes.BE_COMPAT_DEFAULTS, "Backend",
                                      allow_none=allow_reset)
    if "memory" in result:
        mem = result.pop("memory")
        if mem is not None:
            result.setdefault(constants.BE_MAXMEM, mem)
            result.setdefault(constants.BE_MINMEM, mem)
    _check_memory_range(result.get(constants.BE_MINMEM), result.get(constants.BE_MAXMEM))
    return result


def check_be_values(filled_be):
    """Refuse backend values no instance can run with (0 CPUs, no memory, minmem
    above maxmem), also when the instance policy is ignored."""
    paramtypes.check_minimums(filled_be, paramtypes.BE_MINIMUMS)
    _check_memory_range(filled_be.get(constants.BE_MINMEM),
                        filled_be.get(constants.BE_MAXMEM))


def _check_memory_range(low, high):
    if low is not None and high is not None and low > high:
        raise errors.OpPrereqError("Minimum memory (%s) is larger than maximum memory (%s)"
                                   % (low, high), errors.ECODE_INVAL)


# ---- NIC parameters -------------------------------------------------------------------

#: a NIC ip value that takes a free address from the NIC's network
NIC_IP_POOL = "pool"
_MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
# bridge and openvswitch links are interface names (IFNAMSIZ: 15 characters)
_IFNAME_RE = re.compile(r"^[^/\s:]{1,15}$")
_ROUTE_TABLE_RE = re.compile(r"^[^/\s]{1,64}$")


def normalize_mac(mac):
    """``mac`` in lower case; OpPrereqError unless it is six colon-separated octets."""
    norm = mac.lower() if isinstance(mac, str) else ""
    if not _MAC_RE.match(norm):
        raise errors.OpPrereqError("Invalid MAC address '%s'" % (mac,), errors.ECODE_INVAL)
    return norm


def nic_ip(value, network=None):
    """The IP address a NIC spec asks for: None for none/empty, a valid IPv4 or
    IPv6 address, or "pool" (only with a network)."""
    if value is None or value == "" or str(value).lower() == constants.VALUE_NONE:
        return None
    if not isinstance(value, str):
        raise errors.OpPrereqError("Invalid IP address '%s'" % (value,), errors.ECODE_INVAL)
    if value.lower() == NIC_IP_POOL:
        if not network:
            raise errors.OpPrereqError("if ip=pool, parameter network must be passed too",
                                       errors.ECODE_INVAL)
        return NIC_IP_POOL
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise errors.OpPrereqError("Invalid IP address '%s'" % value, errors.ECODE_INVAL)


def check_nicparams(filled, ip, idx, network=None):
    """Mode, link and VLAN of a NIC (its nicparams filled with the cluster's);
    a routed NIC needs an address unless it is attached to a ``network``."""
    mode = filled.get(constants.NIC_MODE)
    link = filled.get(constants.NIC_LINK)
    if mode not in constants.NIC_VALID_MODES:
        raise errors.OpPrereqError("Invalid NIC mode '%s' (NIC %s); valid modes: %s"
                                   % (mode, idx, ", ".join(sorted(constants.NIC_VALID_MODES))),
                                   errors.ECODE_INVAL)
    if mode == constants.NIC_MODE_BRIDGED and not link:
        raise errors.OpPrereqError("Missing bridged NIC link (NIC %s)" % idx,
                                   errors.ECODE_INVAL)
    pattern = _ROUTE_TABLE_RE if mode == constants.NIC_MODE_ROUTED else _IFNAME_RE
    if link and not (isinstance(link, str) and pattern.match(link)):
        raise errors.OpPrereqError("Invalid link '%s' for NIC %s: %s" % (
            link, idx, "a routing table name" if mode == constants.NIC_MODE_ROUTED else
            "an interface name of at most 15 characters, without '/', ':' or spaces"),
            errors.ECODE_INVAL)
    if mode == constants.NIC_MODE_ROUTED and not ip and not network:
        raise errors.OpPrereqError("Routed nic mode requires an ip address if not"
                                   " attached to a network", errors.ECODE_INVAL)
    vlan = filled.get(constants.NIC_VLAN)
    if vlan:
        _check_vlan(vlan)


def normalize_vlan(vlan):
    """A VLAN as Ganeti stores it: "100" becomes ".100" (untagged access port)."""
    if isinstance(vlan, str) and vlan.isdigit():
        return "." + vlan
    _check_vlan(vlan)
    return vlan


def _check_vlan(vlan):
    """".N" (untagged), ".N:M:..." (untagged plus trunk) or ":N:M" (trunk)."""
    ok = (isinstance(vlan, str) and len(vlan) > 1 and vlan[0] in ".:" and
          all(part.isdigit() for part in vlan[1:].split(":")))
    if not ok:
        raise errors.OpPrereqError("Specified VLAN parameter is invalid : %s" % (vlan,),
                                   errors.ECODE_INVAL)


def macs_in_use(cfg, exclude=None):
    """The MACs of the NICs of all instances (but ``exclude``)."""
    return set(nic.mac for inst in cfg.get_all_instances_info().values()
               if inst.name != exclude for nic in inst.nics)


def generate_mac(cfg, prefix, taken):
    """A MAC with the cluster prefix not used by any NIC (nor in ``taken``)."""
    used = set(taken)
    for inst in cfg.get_all_instances_info().values():
        used.update(nic.mac for nic in inst.nics)
    for _ in range(1000):
        mac = "%s:%02x:%02x:%02x" % (prefix, random.randint(0, 255),
                                     random.randint(0, 255), random.randint(0, 255))
        if mac not in used:
            return mac
    raise errors.OpExecError("Could not generate a unique MAC address (prefix %s)" % prefix)


def bridges_to_check(cluster, instance):
    if instance.hypervisor not in HV_WITH_BRIDGES:
        return []
    bridges = []
    for nic in instance.nics:
        params = cluster.fill_nic(nic.nicparams)
        if params[constants.NIC_MODE] == constants.NIC_MODE_BRIDGED:
            bridges.append(params[constants.NIC_LINK])
    return bridges


def check_bridges(lu, instance, node):
    bridges = bridges_to_check(lu.cfg.get_cluster_info(), instance)
    if not bridges:
        return
    res = lu.rpc.call_bridges_exist(node, bridges)
    res.raise_on_failure("Cannot check the bridges on node %s" % node, prereq=True)
    if res.data:
        raise errors.OpPrereqError("Bridge(s) %s missing on node %s; create them or give"
                                   " the NICs another link" % (", ".join(res.data), node),
                                   errors.ECODE_ENVIRON)


def node_free_memory(lu, node, hv_name):
    cluster = lu.cfg.get_cluster_info()
    res = lu.rpc.call_hv_node_info(node, hv_name, cluster.hvparams.get(hv_name, {}))
    res.raise_on_failure("Cannot get the free memory of node %s" % node, prereq=True)
    return (res.data or {}).get("memory_free")


def check_node_free_memory(lu, node, reason, requested, hv_name):
    free = node_free_memory(lu, node, hv_name)
    if free is None:
        raise errors.OpPrereqError("Can't compute free memory on node %s" % node,
                                   errors.ECODE_ENVIRON)
    if requested > free:
        raise errors.OpPrereqError("Not enough memory on node %s for %s: needed %s MiB,"
                                   " available %s MiB" % (node, reason, requested, free),
                                   errors.ECODE_NORES)


# ---- disks --------------------------------------------------------------------------

def file_disk_dir(cluster, template, instance_name, file_storage_dir=None):
    """The directory of an instance's file or sharedfile disks (cluster-relative)."""
    base = (cluster.shared_file_storage_dir if template == constants.DT_SHARED_FILE
            else cluster.file_storage_dir)
    if file_storage_dir:
        base = os.path.join(base, file_storage_dir.lstrip("/"))
    return os.path.join(base, instance_name)


def file_disk_name(template, idx, disk_uuid):
    """A disk file's name, as Ganeti names it: <disk uuid>.<template>.disk<idx>."""
    return "%s.%s.disk%d" % (disk_uuid, template, idx)


_FILE_TEMPLATES = (constants.DT_FILE, constants.DT_SHARED_FILE)


def generate_disks(cluster, template, instance_name, pnode, disk_specs,
                   file_storage_dir=None, file_driver=None, first_index=0,
                   disk_dir=None, snode=None, minors=None, group=None):
    """Config Disk objects for a new instance from the opcode's disk specs.

    first_index: the index of the first new disk (disks added to an instance);
    disk_dir: the directory of the instance's existing file disks; snode and
    minors (one (primary, secondary) pair per disk): for drbd; group (the
    primary node's, whose disk parameters apply): for drbd and ext.
    """
    if template == constants.DT_DISKLESS:
        return []
    if template == constants.DT_DRBD8:
        return [drbd_disks.generate(cluster, pnode, snode, first_index + num, spec,
                                    minors[num], group=group)
                for num, spec in enumerate(disk_specs)]
    if template == constants.DT_EXT:
        return [ext_disks.generate(cluster, pnode, first_index + num, spec, group=group)
                for num, spec in enumerate(disk_specs)]
    if template not in _FILE_TEMPLATES + (constants.DT_PLAIN,):
        raise errors.OpPrereqError("Disk template '%s' is not supported yet (use drbd,"
                                   " plain, file, sharedfile, ext or diskless)"
                                   % template, errors.ECODE_INVAL)
    if template in _FILE_TEMPLATES:
        directory = disk_dir or file_disk_dir(cluster, template, instance_name,
                                              file_storage_dir)
    disks = []
    for num, spec in enumerate(disk_specs):
        idx = first_index + num
        disk = objects.Disk(size=spec["size"], mode=spec.get("mode", "rw"),
                            iv_name="disk/%d" % idx, name=spec.get("name"),
                            nodes=[pnode], dev_type=template,
                            spindles=spec.get("spindles"))
        if template == constants.DT_PLAIN:
            # Ganeti's LV names: <disk uuid>.disk<N>
            disk.logical_id = [spec.get("vg") or cluster.volume_group_name,
                               "%s.disk%d" % (disk.uuid, idx)]
        else:
            disk.logical_id = [file_driver or "loop",
                               os.path.join(directory, file_disk_name(template, idx,
                                                                      disk.uuid))]
        disks.append(disk)
    return disks


_STORAGE_DISK_PARAMS = ("vg", "metavg", "spindles", "provider", "access")
# the storage parameters each template takes (the others are refused)
_TEMPLATE_DISK_PARAMS = {constants.DT_PLAIN: ("vg", "spindles"),
                         constants.DT_DRBD8: ("vg", "metavg", "spindles"),
                         constants.DT_EXT: ("provider", "access")}


def check_disk_specs(disk_specs, template):
    """Normalise the opcode's disks: sizes (MiB), modes; refuse bad ones."""
    from ganeti.utils import text
    if template == constants.DT_DISKLESS:
        if disk_specs:
            raise errors.OpPrereqError("Diskless instances cannot have disks",
                                       errors.ECODE_INVAL)
        return []
    if not disk_specs:
        raise errors.OpPrereqError("Disk template %s needs at least one disk (-s SIZE or"
                                   " --disk 0:size=SIZE)" % template, errors.ECODE_INVAL)
    result = []
    for idx, spec in enumerate(disk_specs):
        if "adopt" in spec:
            raise errors.OpPrereqError("Disk adoption is not supported for template %s"
                                       % template, errors.ECODE_INVAL)
        unknown = set(spec) - set(["size", "mode", "name"] + list(_STORAGE_DISK_PARAMS))
        ext_disks.check_provider_option(spec, template)
        if template == constants.DT_EXT:
            # an ext disk's other parameters are its provider's (as in Ganeti)
            unknown &= ext_disks.IDISK_PARAMS
        if unknown:
            raise errors.OpPrereqError("Unknown disk parameter(s) for disk %d: %s"
                                       % (idx, ", ".join(sorted(unknown))),
                                       errors.ECODE_INVAL)
        unused = sorted(set(spec) & set(_STORAGE_DISK_PARAMS)
                        - set(_TEMPLATE_DISK_PARAMS.get(template, ())))
        if unused:
            # they belong to the LVM, RBD and external storage templates
            raise errors.OpPrereqError("Disk parameter(s) %s of disk %d do not apply to"
                                       " disk template %s" % (", ".join(unused), idx,
                                                              template), errors.ECODE_INVAL)
        if "size" not in spec:
            raise errors.OpPrereqError("Missing size for disk %d" % idx, errors.ECODE_INVAL)
        try:
            size = text.parse_unit(spec["size"])
        except errors.UnitParseError as err:
            raise errors.OpPrereqError("Invalid size for disk %d: %s" % (idx, err),
                                       errors.ECODE_INVAL)
        if size <= 0:
            raise errors.OpPrereqError("Disk %d must have a positive size" % idx,
                                       errors.ECODE_INVAL)
        mode = spec.get("mode", "rw")
        if mode not in ("rw", "ro"):
            raise errors.OpPrereqError("Invalid mode '%s' for disk %d (rw or ro)"
                                       % (mode, idx), errors.ECODE_INVAL)
        entry = {"size": size, "mode": mode, "name": device_name(spec.get("name"))}
        if spec.get("spindles") is not None:
            entry["spindles"] = check_spindles_value(spec["spindles"], idx)
        for key in ("vg", "metavg"):
            if not spec.get(key):
                continue
            from ganeti.storage import lvm
            try:
                lvm.check_name(spec[key], "volume group")
            except errors.BlockDeviceError as err:
                raise errors.OpPrereqError("Disk %d: %s" % (idx, err), errors.ECODE_INVAL)
            entry[key] = spec[key]
        if template == constants.DT_EXT:
            entry.update(ext_disks.disk_params(spec, idx))
        result.append(entry)
    validate_device_names("disk", [d["name"] for d in result])
    return result


def check_spindles_value(value, idx):
    """A disk's spindles: a positive integer."""
    try:
        spindles = int(value)
    except (TypeError, ValueError):
        spindles = 0
    if spindles <= 0 or str(value).strip() not in (str(spindles), "%d.0" % spindles):
        raise errors.OpPrereqError("Invalid spindles '%s' for disk %d: a positive"
                                   " integer is needed" % (value, idx), errors.ECODE_INVAL)
    return spindles


def exclusive_storage(cfg, node_name):
    """Whether exclusive storage (ndparam exclusive_storage) is in effect on the
    node: its own value, else its group's, else the cluster's."""
    node = cfg.get_node_info(node_name)
    if node is None:
        return False
    groups = cfg.get_all_node_groups_info()
    filled = cfg.get_cluster_info().fill_nd(node, groups.get(node.group))
    return bool(filled.get(constants.ND_EXCLUSIVE_STORAGE))


def check_exclusive_storage(cfg, nodes, template, disk_specs, required=True):
    """Ganeti's rules for disks on nodes with exclusive storage: only plain disks,
    and each with its spindles given; without it, no spindles. ``template`` None:
    the spindles alone. Returns the flag."""
    es_flag = any(exclusive_storage(cfg, node) for node in nodes)
    if es_flag and template is not None and template not in constants.DTS_EXCL_STORAGE:
        raise errors.OpPrereqError("Disk template %s not supported with exclusive"
                                   " storage" % template, errors.ECODE_STATE)
    for spec in disk_specs:
        if not es_flag and spec.get("spindles") is not None:
            raise errors.OpPrereqError("Spindles in instance disks cannot be specified"
                                       " when exclusive storage is not active",
                                       errors.ECODE_INVAL)
        if es_flag and required and spec.get("spindles") is None:
            raise errors.OpPrereqError("You must specify spindles in instance disks"
                                       " when exclusive storage is active",
                                       errors.ECODE_INVAL)
    return es_flag


def device_name(name):
    """A NIC or disk name as stored: None for no name ("none")."""
    if name is None or str(name).lower() == constants.VALUE_NONE:
        return None
    return name


#: hard limits of disks and NICs per instance (Ganeti's; the policy may be lower)
MAX_DISKS = 16
MAX_NICS = 8


def check_device_counts(disk_count, nic_count):
    """Ganeti's hard limits, which --ignore-ipolicy does not lift."""
    if disk_count > MAX_DISKS:
        raise errors.OpPrereqError("Instance has too many disks (%d), cannot add more"
                                   % MAX_DISKS, errors.ECODE_STATE)
    if nic_count > MAX_NICS:
        raise errors.OpPrereqError("Instance has too many network interfaces (%d), cannot"
                                   " add more" % MAX_NICS, errors.ECODE_STATE)


def validate_device_names(kind, names):
    """Names of NICs or disks: unique and not purely numeric (a number is an
    index); None and "none" mean no name."""
    seen = set()
    for name in names:
        if name is None:
            continue
        try:
            int(name)
        except (TypeError, ValueError):
            pass
        else:
            raise errors.OpPrereqError("Invalid name '%s'. Purely numeric %s names are"
                                       " not allowed" % (name, kind), errors.ECODE_INVAL)
        if str(name).lower() == constants.VALUE_NONE:
            continue
        if name in seen:
            raise errors.OpPrereqError("%s name '%s' already used" % (kind, name),
                                       errors.ECODE_NOTUNIQUE)
        seen.add(name)


def assemble_disks(lu, instance, ignore_secondaries=False, ignore_size=False):
    """Activate the instance's disks: on all their nodes as secondary, then on the
    primary opened; returns [(node, iv_name, path)].

    ignore_secondaries: a secondary that fails is a warning, not an error.
    ignore_size (as Ganeti): the node gets the disks without their recorded size,
    so a size that no longer matches the device does not stop the activation.
    """
    mark_disks_active(lu, instance, True)
    info = []
    primary = instance.primary_node

    def spec_for(disk, node):
        spec = drbd_disks.disk_for_node(lu.cfg, disk, node)
        if ignore_size:
            spec["size"] = None
        return spec

    # first every node as secondary (a mirror's halves connect), then the
    # primary opens its half: the data never changes on a lone half
    for idx, disk in enumerate(instance.disks):
        if disk.dev_type not in constants.DTS_INT_MIRROR:
            continue
        for node in disk.nodes or []:
            res = lu.rpc.call_blockdev_assemble(node, spec_for(disk, node),
                                                instance.name, False, idx)
            if node == primary:
                res.raise_on_failure("Cannot activate disk %s of instance %s on node"
                                     " %s" % (idx, instance.name, node))
                continue
            if res.fail_msg:
                msg = ("Cannot activate disk %s of instance %s on node %s: %s"
                       % (idx, instance.name, node, res.fail_msg))
                if not ignore_secondaries:
                    raise errors.OpExecError(msg)
                lu.log_warning("%s", msg)
    for idx, disk in enumerate(instance.disks):
        res = lu.rpc.call_blockdev_assemble(primary, spec_for(disk, primary),
                                            instance.name, True, idx)
        res.raise_on_failure("Cannot activate disk %s of instance %s on node %s"
                             % (idx, instance.name, primary))
        info.append((primary, disk.iv_name, res.data[0] if res.data else None))
    return info


def disk_info_text(instance):
    """What a new disk is told about its instance (Ganeti's text; LV tag, ext
    volume metadata)."""
    return "originstname+%s" % instance.name


def create_disks(lu, instance, indices=None):
    """Create the instance's disks (those at ``indices``, default all) on their
    nodes, a mirror's secondary first (its half waits for the primary's to
    connect; the primary's half is opened, which starts the initial sync). A
    failure removes what this call made and raises OpExecError."""
    if instance.disk_template in _FILE_TEMPLATES and instance.disks:
        path = os.path.dirname(instance.disks[0].logical_id[1])
        res = lu.rpc.call_file_storage_dir_create(instance.primary_node, path)
        res.raise_on_failure("Cannot create the file storage directory %s" % path)
    made = []
    for idx, disk in enumerate(instance.disks):
        if indices is not None and idx not in indices:
            continue
        for node in reversed(disk.nodes or [instance.primary_node]):
            spec = drbd_disks.disk_for_node(lu.cfg, disk, node)
            res = lu.rpc.call_blockdev_create(node, spec, disk.size, instance.name,
                                              node == instance.primary_node,
                                              disk_info_text(instance),
                                              exclusive_storage(lu.cfg, node))
            if res.fail_msg:
                remove_made(lu, made)
                raise errors.OpExecError("Cannot create disk %s on node %s: %s"
                                         % (disk.iv_name, node, res.fail_msg))
            made.append((node, spec))
    return made


def check_storage_space(lu, node, needed):
    """``needed``: {(storage type, name): MiB}; OpPrereqError if ``node`` lacks it."""
    units = sorted(needed)
    res = lu.rpc.call_node_info([node], storage_units_for(lu.cfg, node, units), [])[node]
    res.raise_on_failure("Cannot get the free disk space of node %s" % node,
                         prereq=True)
    storage = (res.data or {}).get("storage") or []
    for unit, info in zip(units, storage):
        free = info.get("storage_free")
        if free is None:
            raise errors.OpPrereqError("Cannot compute the free space in %s on node"
                                       " %s: %s" % (unit[1], node,
                                                    info.get("error", "no data")),
                                       errors.ECODE_ENVIRON)
        if needed[unit] > free and unit[0] == constants.ST_LVM_VG:
            raise errors.OpPrereqError(
                "Not enough disk space on target node %s vg %s: required %d MiB,"
                " available %d MiB" % (node, unit[1], needed[unit], free),
                errors.ECODE_NORES)
        if needed[unit] > free:
            raise errors.OpPrereqError(
                "Not enough disk space on node %s: requested %d MiB, available %d MiB"
                % (node, needed[unit], free), errors.ECODE_NORES)


def storage_units_for(cfg, node, units):
    """The node_info storage units of ``node``: LVM ones carry the node's
    exclusive storage flag (it changes how free space is counted)."""
    es_flag = exclusive_storage(cfg, node)
    return [list(u[:2]) + ([[es_flag]] if u[0] in (constants.ST_LVM_VG,
                                                    constants.ST_LVM_PV) else [])
            for u in units]


def remove_made(lu, made):
    """Undo a job's creations: remove each (node, disk dict) of ``made``, newest
    first; what cannot go is a warning naming it."""
    for node, disk in reversed(made):
        res = lu.rpc.call_blockdev_remove(node, disk)
        if res.fail_msg:
            lu.log_warning("Could not remove %s %s on node %s: %s",
                           disk.get("dev_type"), disk.get("logical_id"), node,
                           res.fail_msg, hint="remove it by hand")


def mark_disks_active(lu, instance, active):
    """Record in the config whether the instance's disks are active (as Ganeti does
    before activating and after deactivating them); ``instance`` follows."""
    inst = lu.cfg.get_instance_info(instance.name)
    if inst is not None and bool(inst.disks_active) != active:
        inst.disks_active = active
        lu.cfg.update(inst)
        # the caller's copy stays updatable (the LU holds the instance's lock)
        instance.serial_no, instance.mtime = inst.serial_no, inst.mtime
    instance.disks_active = active


def _primary_first(instance, disk):
    """The disk's nodes, the instance's primary first: a mirror's primary half must
    go (or step down) before its peer, or it goes on alone and the two diverge."""
    nodes = list(disk.nodes or [instance.primary_node])
    return sorted(nodes, key=lambda node: node != instance.primary_node)


def shutdown_disks(lu, instance, ignore_failures=False):
    """Deactivate the instance's disks on all its nodes and record them inactive.

    A failure is an error (OpExecError) unless ignore_failures (then a warning).
    """
    mark_disks_active(lu, instance, False)
    ok = True
    for disk in instance.disks:
        for node in _primary_first(instance, disk):
            res = lu.rpc.call_blockdev_shutdown(
                node, drbd_disks.disk_for_node(lu.cfg, disk, node))
            if not res.fail_msg:
                continue
            lu.log_warning("Could not shut down disk %s on node %s: %s",
                           disk.iv_name, node, res.fail_msg)
            ok = False
            if not ignore_failures:
                raise errors.OpExecError("Could not shut down disk %s of instance %s: %s"
                                         % (disk.iv_name, instance.name, res.fail_msg))
    return ok


def remove_disks(lu, instance, disks=None, ignore_failures=True):
    """Remove the disks (all of the instance's by default); True if all went."""
    ok = True
    for disk in instance.disks if disks is None else disks:
        for node in disk.nodes or [instance.primary_node]:
            res = lu.rpc.call_blockdev_remove(
                node, drbd_disks.disk_for_node(lu.cfg, disk, node))
            if res.fail_msg:
                ok = False
                lu.log_warning("Could not remove disk %s on node %s: %s",
                               disk.iv_name, node, res.fail_msg)
    if instance.disk_template in _FILE_TEMPLATES and instance.disks:
        path = os.path.dirname(instance.disks[0].logical_id[1])
        res = lu.rpc.call_file_storage_dir_remove(instance.primary_node, path)
        if res.fail_msg:
            ok = False
            lu.log_warning("Could not remove directory %s: %s", path, res.fail_msg)
    if not ok and not ignore_failures:
        raise errors.OpExecError("Could not remove the disks of instance %s" % instance.name)
    return ok


# ---- hooks ----------------------------------------------------------------------------

def build_instance_hook_env(cluster, instance, override=None):
    """The INSTANCE_* hook variables (hooks-and-iallocator.md A.4), without GANETI_."""
    be = cluster.fill_be(instance)
    hv = cluster.fill_hv(instance)
    secondaries = " ".join(instance.secondary_nodes)
    env = {
        "OP_TARGET": instance.name,
        "INSTANCE_NAME": instance.name,
        "INSTANCE_PRIMARY": instance.primary_node,
        "INSTANCE_SECONDARY": secondaries,
        "INSTANCE_SECONDARIES": secondaries,
        "INSTANCE_OS_TYPE": instance.os,
        "INSTANCE_STATUS": instance.admin_state,
        "INSTANCE_MEMORY": be[constants.BE_MAXMEM],
        "INSTANCE_MAXMEM": be[constants.BE_MAXMEM],
        "INSTANCE_MINMEM": be[constants.BE_MINMEM],
        "INSTANCE_VCPUS": be[constants.BE_VCPUS],
        "INSTANCE_DISK_TEMPLATE": instance.disk_template,
        "INSTANCE_HYPERVISOR": instance.hypervisor,
        "INSTANCE_TAGS": " ".join(sorted(instance.tags)),
        "INSTANCE_NIC_COUNT": len(instance.nics),
        "INSTANCE_DISK_COUNT": len(instance.disks),
    }
    for idx, nic in enumerate(instance.nics):
        params = cluster.fill_nic(nic.nicparams)
        prefix = "INSTANCE_NIC%d_" % idx
        env[prefix + "IP"] = nic.ip or ""
        env[prefix + "MAC"] = nic.mac
        env[prefix + "MODE"] = params[constants.NIC_MODE]
        env[prefix + "LINK"] = params[constants.NIC_LINK]
        env[prefix + "VLAN"] = params.get(constants.NIC_VLAN, "")
        env[prefix + "NAME"] = nic.name or ""
        env[prefix + "UUID"] = nic.uuid
        if params[constants.NIC_MODE] == constants.NIC_MODE_BRIDGED:
            env[prefix + "BRIDGE"] = params[constants.NIC_LINK]
    for idx, disk in enumerate(instance.disks):
        prefix = "INSTANCE_DISK%d_" % idx
        env[prefix + "SIZE"] = disk.size
        env[prefix + "MODE"] = disk.mode
        env[prefix + "NAME"] = disk.name or ""
        env[prefix + "UUID"] = disk.uuid
        env[prefix + "DEV_TYPE"] = disk.dev_type
        if disk.dev_type in (constants.DT_FILE, constants.DT_SHARED_FILE):
            env[prefix + "DRIVER"] = disk.logical_id[0]
            env[prefix + "ID"] = disk.logical_id[1]
        elif disk.dev_type == constants.DT_EXT:
            env[prefix + "PROVIDER"] = disk.logical_id[0]
            env[prefix + "ID"] = disk.logical_id[1]
    for key, value in be.items():
        env["INSTANCE_BE_%s" % key] = value
    for key, value in hv.items():
        env["INSTANCE_HV_%s" % key] = value
    env.update(override or {})
    return env


def instance_hook_nodes(cfg, instance):
    nodes = [cfg.get_master_node()] + instance.all_nodes
    return list(dict.fromkeys(nodes))


# ---- the base of logical units working on one instance -----------------------------

class InstanceLU(LogicalUnit):
    """Locks one instance (exclusive) and its nodes; a forthcoming instance is
    refused unless the LU handles one (ALLOW_FORTHCOMING)."""
    REQ_BGL = False
    HTYPE = constants.HTYPE_INSTANCE
    SHARED_NODES = False
    ALLOW_FORTHCOMING = False

    def expand_names(self):
        self.instance_name = expand_instance_name(self.cfg, self.op.instance_name)
        if not self.ALLOW_FORTHCOMING:
            forthcoming.refuse(self.cfg, self.instance_name)
        self.needed_locks[locking.LEVEL_INSTANCE] = [self.instance_name]

    def declare_locks(self, level):
        if level in (locking.LEVEL_NODE, locking.LEVEL_NODE_RES):
            inst = get_instance(self.cfg, self.instance_name)
            self.needed_locks[level] = inst.all_nodes
            self.share_locks[level] = 1 if self.SHARED_NODES else 0

    def check_prereq(self):
        self.instance = get_instance(self.cfg, self.instance_name)

    def build_hooks_nodes(self):
        nodes = instance_hook_nodes(self.cfg, self.instance)
        return nodes, nodes

    def _hooks_on_master_primary_and(self, node):
        """Hooks on the master, the instance's primary and ``node`` (a target)."""
        nodes = list(dict.fromkeys([self.cfg.get_master_node(),
                                    self.instance.primary_node, node]))
        return nodes, nodes

    def _hook_env(self, extra):
        return build_instance_hook_env(self.cfg.get_cluster_info(), self.instance, extra)

    def _node_instance(self, instance=None):
        return instance_for_node(self.cfg, instance or self.instance)

    def _primary_offline(self):
        node = self.cfg.get_node_info(self.instance.primary_node)
        return node is None or node.offline

    def _set_admin_state(self, state, source="admin"):
        inst = self.cfg.get_instance_info(self.instance.name)
        inst.admin_state = state
        inst.admin_state_source = source
        self.cfg.update(inst)
        self.instance = inst
