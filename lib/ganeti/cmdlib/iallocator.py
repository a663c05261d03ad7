"""Instance allocators (Ganeti's iallocator protocol, version 2).

An allocator is a program (Debian's ganeti-htools installs ``hail``) found by
name in IALLOCATOR_SEARCH_PATH, or an absolute path; "." names the cluster's
default. It gets one argument, a file holding the cluster's state and the
request as JSON (plus ``--key=value`` for each default_iallocator_params
entry), and prints ``{"success", "info", "result"}``. The master runs it
(Ganeti's master runs it through its own node daemon; the effect is the same).

Requests used here: ``allocate`` (instance creation without -n),
``multi-allocate`` (gnt-instance batch-create), ``relocate``
(a new secondary for replace-disks), ``node-evacuate`` (gnt-node evacuate)
and ``change-group``; the cluster data is what ``hail`` reads (see
doc/iallocator.rst).
"""

import json
import os
import tempfile

from ganeti import constants, errors, objects, pathutils
from ganeti.utils import process

IALLOCATOR_SEARCH_PATH = ("/usr/local/lib/ganeti/iallocators", "/usr/lib/ganeti/iallocators",
                          "/usr/share/ganeti/iallocators",
                          "/usr/local/share/ganeti/iallocators")
DEFAULT_SHORTCUT = "."
DEFAULT_ALLOCATOR = "hail"
PROTOCOL_VERSION = 2
RUN_TIMEOUT = 300
MODE_ALLOC = "allocate"
MODE_RELOC = "relocate"
MODE_NODE_EVAC = "node-evacuate"
MODE_CHG_GROUP = "change-group"
MODE_MULTI_ALLOC = "multi-allocate"


def find(name):
    """The path of allocator ``name`` (a name or an absolute path), or None."""
    if os.path.isabs(name):
        return name if os.path.isfile(name) else None
    if "/" in name or not name or name in (".", ".."):
        return None
    for directory in IALLOCATOR_SEARCH_PATH:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def resolve(lu, node, slot="iallocator"):
    """Ganeti's CheckIAllocatorOrNode: at most one of allocator and ``node``
    (the target the opcode names); neither (or ".") means the cluster's default
    allocator, which must then exist. Sets the opcode's allocator slot; returns
    the allocator's name, None when a node was given."""
    if node == []:
        node = None
    alloc = getattr(lu.op, slot, None)
    if node is not None and alloc is not None:
        raise errors.OpPrereqError("Do not specify both, iallocator and node",
                                   errors.ECODE_INVAL)
    if (node is None and alloc is None) or alloc == DEFAULT_SHORTCUT:
        default = lu.cfg.get_cluster_info().default_iallocator
        if not default:
            raise errors.OpPrereqError("No iallocator or node given and no cluster-wide"
                                       " default iallocator found; please specify"
                                       " either an iallocator or a node, or set a"
                                       " cluster-wide default iallocator",
                                       errors.ECODE_INVAL)
        setattr(lu.op, slot, default)
        return default
    return alloc


def given_or_default(lu):
    """Ganeti's GetDefaultIAllocator, for opcodes that always need an allocator
    (group evacuation, change-group): the opcode's, else the cluster's default
    (set into the opcode); an error when there is neither."""
    if not lu.op.iallocator:
        lu.op.iallocator = lu.cfg.get_cluster_info().default_iallocator
    if not lu.op.iallocator:
        raise errors.OpPrereqError("No iallocator was specified, neither in the opcode"
                                   " nor as a cluster-wide default", errors.ECODE_INVAL)
    return lu.op.iallocator


# ---- the cluster's state as the allocator reads it ----------------------------------

def disk_space_total(template, disks):
    """MiB an instance's disks take on a node (drbd: +128 MiB metadata each)."""
    sizes = [int(d.get("size") if isinstance(d, dict) else d.size) for d in disks]
    if template == constants.DT_DISKLESS:
        return 0
    if template == constants.DT_DRBD8:
        return sum(s + constants.DRBD_META_SIZE for s in sizes)
    return sum(sizes)


def _storage_units(cluster, template):
    """[[type, key]] of ``template``'s storage (the cluster's default template
    when None): what total_disk/free_disk count."""
    template = template or (cluster.enabled_disk_templates or [None])[0]
    stype = constants.MAP_DISK_TEMPLATE_STORAGE_TYPE.get(template)
    if stype == constants.ST_LVM_VG and cluster.volume_group_name:
        return [[stype, cluster.volume_group_name],
                [constants.ST_LVM_PV, cluster.volume_group_name]]
    if stype == constants.ST_FILE:
        return [[stype, cluster.file_storage_dir]]
    if stype == constants.ST_SHARED_FILE:
        return [[stype, cluster.shared_file_storage_dir]]
    return []


def _instance_data(cluster, inst):
    be = cluster.fill_be(inst)
    nics = []
    for nic in inst.nics:
        params = cluster.fill_nic(nic.nicparams)
        entry = {"mac": nic.mac, "ip": nic.ip, "mode": params.get(constants.NIC_MODE),
                 "link": params.get(constants.NIC_LINK)}
        if params.get(constants.NIC_MODE) == constants.NIC_MODE_BRIDGED:
            entry["bridge"] = params.get(constants.NIC_LINK)
        if nic.network:
            entry["network"] = nic.network
        nics.append(entry)
    return {
        "tags": list(inst.tags or []),
        "admin_state": inst.admin_state,
        "should_run": inst.admin_state == constants.ADMINST_UP,
        "vcpus": be[constants.BE_VCPUS],
        "memory": be[constants.BE_MAXMEM],
        "spindle_use": be.get("spindle_use", 1),
        "os": inst.os,
        "nodes": [inst.primary_node] + list(inst.secondary_nodes),
        "nics": nics,
        "disks": [{"size": d.size, "mode": d.mode or "rw", "spindles": d.spindles}
                  for d in inst.disks],
        "disk_template": inst.disk_template,
        "disks_active": bool(inst.disks_active),
        "hypervisor": inst.hypervisor,
        "disk_space_total": disk_space_total(inst.disk_template, inst.disks),
    }


def _unit(info, stype):
    for unit in info.get("storage") or []:
        if unit.get("type") == stype and unit.get("storage_size") is not None:
            return unit
    return None


def _node_data(lu, cluster, groups, node, live, instances, inst_memory):
    group = groups.get(node.group)
    data = {
        "tags": list(node.tags or []), "primary_ip": node.primary_ip,
        "secondary_ip": node.secondary_ip or node.primary_ip,
        "offline": bool(node.offline), "drained": bool(node.drained),
        "master_candidate": bool(node.master_candidate), "group": node.group,
        "master_capable": bool(node.master_capable), "vm_capable": bool(node.vm_capable),
        "ndparams": cluster.fill_nd(node, group),
    }
    info = live.get(node.name)
    if info is None:
        return data
    free = int(info.get("memory_free") or 0)
    pri_mem = pri_up_mem = 0
    for inst in instances:
        if inst.primary_node != node.name:
            continue
        maxmem = cluster.fill_be(inst)[constants.BE_MAXMEM]
        pri_mem += maxmem
        if inst.admin_state == constants.ADMINST_UP:
            pri_up_mem += maxmem
        # memory an instance may still claim up to its maximum is not free
        free -= max(0, maxmem - inst_memory.get(inst.name, 0))
    disk = None
    for stype in (constants.ST_LVM_VG, constants.ST_FILE, constants.ST_SHARED_FILE):
        disk = disk or _unit(info, stype)
    pvs = _unit(info, constants.ST_LVM_PV)
    data.update({
        "total_memory": int(info.get("memory_total") or 0),
        "reserved_memory": int(info.get("memory_dom0") or 0),
        "free_memory": max(0, free),
        "total_disk": int(disk["storage_size"]) if disk else 0,
        "free_disk": int(disk["storage_free"]) if disk else 0,
        "total_spindles": int(pvs["storage_size"]) if pvs else 0,
        "free_spindles": int(pvs["storage_free"]) if pvs else 0,
        "total_cpus": int(info.get("cpu_total") or 0),
        "reserved_cpus": int(info.get("cpu_dom0") or 1),
        "i_pri_memory": pri_mem,
        "i_pri_up_memory": pri_up_mem,
    })
    return data


def cluster_data(lu, template=None):
    """The input message without its request: groups, nodes with their live
    figures (memory, the storage of ``template``, CPUs), instances."""
    from ganeti.cmdlib.instance_utils import storage_units_for
    from ganeti.cmdlib.node import hv_specs
    cfg = lu.cfg
    cluster = cfg.get_cluster_info()
    groups = cfg.get_all_node_groups_info()
    nodes = cfg.get_all_nodes_info()
    instances = list(cfg.get_all_instances_info().values())
    asked = [n for n, node in sorted(nodes.items()) if not node.offline and node.vm_capable]
    live, inst_memory = {}, {}
    units = _storage_units(cluster, template)
    # one call per set of storage units (they depend on exclusive storage)
    calls = {}
    for name in asked:
        node_units = storage_units_for(cfg, name, units)
        calls.setdefault(repr(node_units), (node_units, []))[1].append(name)
    for node_units, names in calls.values():
        for name, res in lu.rpc.call_node_info(names, node_units,
                                               hv_specs(cluster)).items():
            if not res.fail_msg and not res.offline:
                live[name] = res.data
    hv_names = list(cluster.enabled_hypervisors)
    running = lu.rpc.call_all_instances_info(
        asked, hv_names, dict((hv, cluster.hvparams.get(hv, {})) for hv in hv_names))
    for res in running.values():
        if not res.fail_msg and isinstance(res.data, dict):
            for name, info in res.data.items():
                inst_memory[name] = int((info or {}).get("memory") or 0)
    group_data = {}
    for uuid, group in sorted(groups.items()):
        group_data[uuid] = {
            "name": group.name, "alloc_policy": group.alloc_policy or "preferred",
            "networks": list(getattr(group, "networks", None) or {}),
            "ipolicy": objects.fill_ipolicy(cluster.ipolicy, group.ipolicy),
            "tags": list(group.tags or []),
        }
    return {
        "version": PROTOCOL_VERSION,
        "cluster_name": cluster.cluster_name,
        "cluster_tags": list(cluster.tags or []),
        "enabled_hypervisors": list(cluster.enabled_hypervisors),
        "ipolicy": cluster.ipolicy,
        "nodegroups": group_data,
        "nodes": dict((name, _node_data(lu, cluster, groups, node, live, instances,
                                        inst_memory))
                      for name, node in sorted(nodes.items())),
        "instances": dict((inst.name, _instance_data(cluster, inst))
                          for inst in sorted(instances, key=lambda i: i.name)),
    }


# ---- requests -----------------------------------------------------------------------

def allocate_request(name, template, disks, nics, beparams, os_name, tags, hypervisor,
                     group_name=None, restrict_to=None):
    """Nodes for a new instance (1, or 2 for drbd)."""
    request = {
        "type": MODE_ALLOC, "name": name, "disk_template": template,
        "tags": list(tags or []), "os": os_name or "",
        "vcpus": beparams[constants.BE_VCPUS], "memory": beparams[constants.BE_MAXMEM],
        "spindle_use": beparams.get("spindle_use", 1),
        "disks": [{"size": d["size"], "mode": d.get("mode", "rw"),
                   "spindles": d.get("spindles")} for d in disks],
        "disk_space_total": disk_space_total(template, disks),
        "nics": nics, "hypervisor": hypervisor,
        "required_nodes": 2 if template in constants.DTS_INT_MIRROR else 1,
    }
    if group_name:
        request["group_name"] = group_name
    if restrict_to:
        request["restrict-to-nodes"] = list(restrict_to)
    return request


def relocate_request(inst, relocate_from):
    """A new secondary node for a drbd instance instead of ``relocate_from``."""
    return {"type": MODE_RELOC, "name": inst.name,
            "disk_space_total": disk_space_total(inst.disk_template, inst.disks),
            "required_nodes": 1, "relocate_from": list(relocate_from)}


def node_evacuate_request(instances, mode):
    return {"type": MODE_NODE_EVAC, "instances": sorted(instances), "evac_mode": mode}


def change_group_request(instances, target_groups):
    return {"type": MODE_CHG_GROUP, "instances": sorted(instances),
            "target_groups": list(target_groups)}


# ---- running one ---------------------------------------------------------------------

def build_input(lu, request, template=None):
    data = cluster_data(lu, template)
    data["request"] = request
    return data


def run(lu, name, request, template=None, flags=(), what="nodes"):
    """Run allocator ``name`` on ``request`` (``flags``: extra --options, e.g.
    hail's --ignore-soft-errors); (result checked for the request's type, info).
    When it finds no solution: Ganeti's "Can't compute ``what`` using
    iallocator" (OpPrereqError, insufficient_resources)."""
    return _check_answer(name, request, run_raw(lu, name, request, template, flags),
                         what)


def run_raw(lu, name, request, template=None, flags=()):
    """Run allocator ``name`` on ``request``; its output, unchecked."""
    data = build_input(lu, request, template)
    path = find(name)
    if path is None:
        raise errors.OpExecError("Failure while running the iallocator script:"
                                 " iallocator module '%s' not found in the search path"
                                 % name)
    params = ["--%s=%s" % (k, v) for k, v in sorted(
        (lu.cfg.get_cluster_info().default_iallocator_params or {}).items())] + \
        list(flags)
    fd, tmp = tempfile.mkstemp(prefix="ganeti-iallocator-", dir=_tmp_dir())
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        result = process.run_cmd([path, tmp] + params, timeout=RUN_TIMEOUT)
    finally:
        os.unlink(tmp)
    if result.failed:
        raise errors.OpExecError("Failure while running the iallocator script:"
                                 " iallocator module '%s' failed: %s, output '%s'"
                                 % (name, result.fail_reason, result.output.strip()))
    return result.stdout


def _tmp_dir():
    path = os.path.join(pathutils.RUN_DIR, "iallocator")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _check_answer(name, request, text, what="nodes"):
    try:
        answer = json.loads(text)
    except ValueError as err:
        raise errors.OpExecError("Can't parse iallocator results: %s" % err)
    if not isinstance(answer, dict):
        raise errors.OpExecError("Can't parse iallocator results: not a dict")
    if "result" not in answer and "nodes" in answer:
        answer["result"] = answer["nodes"]       # the protocol's older key
    for key in ("success", "info", "result"):
        if key not in answer:
            raise errors.OpExecError("Can't parse iallocator results: missing key '%s'"
                                     % key)
    if not answer["success"]:
        raise errors.OpPrereqError("Can't compute %s using iallocator '%s': %s"
                                   % (what, name, answer["info"]), errors.ECODE_NORES)
    result = answer["result"]
    kind = request["type"]
    if kind in (MODE_ALLOC, MODE_RELOC):
        if not (isinstance(result, list) and all(isinstance(n, str) for n in result)):
            raise errors.OpExecError("Invalid result from iallocator '%s': %r"
                                     % (name, result))
        if len(result) != request["required_nodes"]:
            raise errors.OpPrereqError("iallocator '%s' returned invalid number of nodes"
                                       " (%s), required %s" % (name, len(result),
                                                              request["required_nodes"]),
                                       errors.ECODE_FAULT)
    elif kind == MODE_MULTI_ALLOC:
        if not _multi_alloc_result(result):
            raise errors.OpExecError("Invalid result from iallocator '%s': %r"
                                     % (name, result))
    elif not (isinstance(result, list) and len(result) == 3):
        raise errors.OpExecError("Invalid result from iallocator '%s': %r" % (name, result))
    return result, answer["info"]


def _multi_alloc_result(result):
    """[[[name, [node, ...]], ...], [failed, ...]]? A failed instance is its
    name (the protocol) or [name, reason] (what hail answers)."""
    def names(value):
        return isinstance(value, list) and all(isinstance(n, str) and n for n in value)

    def pair(entry, second):
        return (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                and entry[0] and second(entry[1]))
    return (isinstance(result, list) and len(result) == 2 and isinstance(result[0], list)
            and all(pair(e, names) for e in result[0]) and isinstance(result[1], list)
            and all((isinstance(e, str) and e) or pair(e, lambda r: isinstance(r, str))
                    for e in result[1]))


# ---- node-evacuate and change-group answers -----------------------------------------

def evacuation_jobs(lu, result, early_release, use_nodes):
    """The jobs of a node-evacuate/change-group answer as opcode lists
    (Ganeti's LoadNodeEvacResult): failures fail the LU, moves are logged."""
    from ganeti import opcodes
    moved, failed, jobs = result
    if failed:
        reason = ", ".join("%s (%s)" % (name, why) for name, why in failed)
        lu.log_warning("Unable to evacuate instances %s", reason)
        raise errors.OpExecError("Unable to evacuate instances %s" % reason)
    if moved:
        lu.log_info("Instances to be moved: %s", ", ".join(
            "%s (to %s)" % (name, ", ".join(nodes) if use_nodes else group)
            for name, group, nodes in moved))
    loaded = []
    for ops in jobs:
        job = []
        for data in ops:
            op = _load_opcode(opcodes, data)
            if hasattr(op, "early_release"):
                op.early_release = early_release
            job.append(op)
        loaded.append(job)
    return loaded


# parameters of the allocators' opcodes that this project's opcodes name
# otherwise or do not have (UUIDs: objects are known by name here)
_DROPPED_PARAMS = ("instance_uuid", "target_node_uuid", "remote_node_uuid",
                   "node_uuid", "pnode_uuid", "snode_uuid")


def _load_opcode(opcodes, data):
    if not isinstance(data, dict) or data.get("OP_ID") not in opcodes.OP_MAPPING:
        raise errors.OpExecError("Invalid opcode in the iallocator's jobs: %r" % (data,))
    cls = opcodes.OP_MAPPING[data["OP_ID"]]
    known = set(name for name, _, _, _ in cls.all_params()) \
        if hasattr(cls, "all_params") else None
    params = {}
    for key, value in data.items():
        if key == "OP_ID" or key in _DROPPED_PARAMS or value is None:
            continue
        if known is not None and key not in known:
            continue
        params[key] = value
    return cls(**params)
