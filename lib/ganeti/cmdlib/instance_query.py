"""Instance fields for queries (gnt-instance list) and OP_INSTANCE_QUERY_DATA."""

from ganeti import constants, errors, locking, query
from ganeti.cmdlib import drbd_disks
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import NoHooksLU
from ganeti.query import (Field, NODATA, OFFLINE, UNAVAIL, QFT_BOOL, QFT_NUMBER,
                          QFT_OTHER, QFT_TEXT, QFT_TIMESTAMP, QFT_UNIT)

STATE_SHUTDOWN = "shutdown"     # a node's live state of a guest off from inside
USER_SOURCE = "user"            # admin_state_source of a stop its user started
MAX_DISKS = 16
MAX_NICS = 8


class InstanceQueryData:
    """What instance fields read: cluster, nodes, groups and live data."""

    def __init__(self, cluster, nodes, groups, live, bad_nodes, networks=None):
        self.cluster = cluster
        self.nodes = nodes
        self.groups = groups
        self.live = live              # instance name -> info dict (running ones)
        self.bad_nodes = bad_nodes    # nodes that did not answer
        self.networks = networks or {}

    def live_info(self, inst):
        """(status marker, info) of an instance's runtime data."""
        node = self.nodes.get(inst.primary_node)
        if node is None or node.offline:
            return OFFLINE, None
        if inst.primary_node in self.bad_nodes:
            return NODATA, None
        return None, self.live.get(inst.name)


def hv_reports_user_down(cluster, inst) -> bool:
    """Whether the instance's hypervisor setup reports a shutdown from inside:
    always, except KVM without its user_shutdown parameter (Ganeti's rule)."""
    return (inst.hypervisor != constants.HT_KVM
            or bool(cluster.fill_hv(inst).get("user_shutdown")))


def user_down_allowed(cluster, inst) -> bool:
    """Whether a guest shut down from inside is listed as stopped by its user:
    the cluster's enabled_user_shutdown, and hv_reports_user_down."""
    return bool(cluster.enabled_user_shutdown) and hv_reports_user_down(cluster, inst)


def is_shut_down_from_inside(info) -> bool:
    """Whether a node's live info is of a guest that powered itself off."""
    return bool(info) and info.get("state") == STATE_SHUTDOWN


def _status(ctx, inst):
    node = ctx.nodes.get(inst.primary_node)
    if node is None or node.offline:
        return "ERROR_nodeoffline"
    if inst.primary_node in ctx.bad_nodes:
        return "ERROR_nodedown"
    info = ctx.live.get(inst.name)
    if info is not None:
        if info.get("node", inst.primary_node) != inst.primary_node:
            return "ERROR_wrongnode"
        if is_shut_down_from_inside(info):
            if inst.admin_state != constants.ADMINST_UP:
                return "ADMIN_down"
            return "USER_down" if user_down_allowed(ctx.cluster, inst) else "ERROR_down"
        if inst.admin_state == constants.ADMINST_UP:
            return "running"
        return "ERROR_up"
    if inst.admin_state == constants.ADMINST_UP:
        return "ERROR_down"
    if inst.admin_state == constants.ADMINST_OFFLINE:
        return "ADMIN_offline"
    if inst.admin_state_source == USER_SOURCE:
        return "USER_down"        # stopped after its user shut it down from inside
    return "ADMIN_down"


def _with_memory_alias(beparams):
    """Ganeti's info also lists "memory", the old name of maxmem."""
    result = dict(beparams)
    result.setdefault("memory", result.get(constants.BE_MAXMEM))
    return result


def _without_globals(hv_name, hvparams):
    """The parameters info shows: Ganeti leaves out the cluster-wide ones."""
    from ganeti import hypervisor
    try:
        globals_ = hypervisor.get_hypervisor_class(hv_name).GLOBAL_PARAMETERS
    except errors.HypervisorError:
        globals_ = frozenset()
    return dict((k, v) for k, v in hvparams.items() if k not in globals_)


def _run_state(cluster, inst, live):
    """gnt-instance info's actual state: "up", "down" or "user down" (Ganeti's)."""
    info = live.get(inst.name)
    if is_shut_down_from_inside(info):
        return "user down" if user_down_allowed(cluster, inst) else "down"
    if info is not None:
        return "up"
    if inst.admin_state == constants.ADMINST_OFFLINE:
        return "offline"
    if inst.admin_state == constants.ADMINST_DOWN and \
            inst.admin_state_source == USER_SOURCE:
        return "user down"
    return "down"


def _live(key):
    def getter(ctx, inst):
        marker, info = ctx.live_info(inst)
        if marker is not None:
            return marker
        if info is None:
            return UNAVAIL
        return info.get(key)
    return getter


def _oper_state(ctx, inst):
    marker, info = ctx.live_info(inst)
    if marker is not None:
        return marker
    return info is not None and not is_shut_down_from_inside(info)


def _nic_param(ctx, nic, key):
    return ctx.cluster.fill_nic(nic.nicparams).get(key)


def _nic_list(fn):
    return lambda c, i: [fn(c, n) for n in i.nics]


def _nic_at(idx, fn):
    def getter(c, i):
        return fn(c, i.nics[idx]) if idx < len(i.nics) else UNAVAIL
    return getter


def _disk_at(idx, fn):
    def getter(c, i):
        return fn(i.disks[idx]) if idx < len(i.disks) else UNAVAIL
    return getter


def _bridge(c, n):
    params = c.cluster.fill_nic(n.nicparams)
    if params[constants.NIC_MODE] == constants.NIC_MODE_BRIDGED:
        return params[constants.NIC_LINK]
    return None


#: attribute -> (list field's name suffix, its title, what it lists) as Ganeti has them
_NIC_LISTS = {
    "mac": ("macs", "NIC_MACs", "MAC address"), "ip": ("ips", "NIC_IPs", "IP address"),
    "mode": ("modes", "NIC_modes", "mode"), "link": ("links", "NIC_links", "link"),
    "bridge": ("bridges", "NIC_bridges", "bridge"),
    "network": ("networks", "NIC_networks", "network"),
    "network.name": ("networks.names", "NIC_networks_names", "network name"),
    "name": ("names", "NIC_Names", "name"), "uuid": ("uuids", "NIC_UUIDs", "UUID"),
    "vlan": ("vlans", "NIC_VLANs", "VLAN"),
}
_NIC_NETWORK_DOCS = {
    "network": "List containing each interface's network",
    "network.name": "List containing the name of each interface's network",
}
# the per-NIC fields' words where they are not the list's (Ganeti's)
_NIC_DOCS = {"name": "Name address", "uuid": "UUID address", "network.name": "Network name"}


def _ordinal(value):
    """1st, 2nd, 3rd, 4th, ..."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(value % 10 if value % 100 not in (11, 12, 13)
                                             else 0, "th")
    return "%d%s" % (value, suffix)


def _nic_network_name(c, nic):
    net = c.networks.get(nic.network) if nic.network else None
    return net.name if net else nic.network


def _group_of(c, node_name):
    node = c.nodes.get(node_name)
    group = c.groups.get(node.group) if node else None
    return group.name if group else None


_NIC_ATTRS = [
    ("mac", "MAC", lambda c, n: n.mac),
    ("ip", "IP", lambda c, n: n.ip),
    ("mode", "Mode", lambda c, n: _nic_param(c, n, constants.NIC_MODE)),
    ("link", "Link", lambda c, n: _nic_param(c, n, constants.NIC_LINK)),
    ("bridge", "Bridge", _bridge),
    ("network", "Network", lambda c, n: n.network),
    ("name", "Name", lambda c, n: n.name),
    ("uuid", "UUID", lambda c, n: n.uuid),
    ("vlan", "VLAN", lambda c, n: _nic_param(c, n, constants.NIC_VLAN)),
]


def _build_fields():
    fields = [
        Field("name", "Instance", QFT_TEXT, "Instance name", lambda c, i: i.name),
        Field("uuid", "UUID", QFT_TEXT, "Instance UUID", lambda c, i: i.uuid),
        Field("os", "OS", QFT_TEXT, "Operating system", lambda c, i: i.os),
        Field("hypervisor", "Hypervisor", QFT_TEXT, "Hypervisor name",
              lambda c, i: i.hypervisor),
        Field("pnode", "Primary_node", QFT_TEXT, "Primary node",
              lambda c, i: i.primary_node),
        Field("pnode.group", "PrimaryNodeGroup", QFT_TEXT, "Primary node's group",
              lambda c, i: _group_of(c, i.primary_node)),
        Field("pnode.group.uuid", "PrimaryNodeGroupUUID", QFT_TEXT,
              "Primary node's group UUID",
              lambda c, i: c.nodes[i.primary_node].group if i.primary_node in c.nodes
              else None),
        Field("snodes", "Secondary_Nodes", QFT_OTHER, "Secondary nodes",
              lambda c, i: i.secondary_nodes),
        Field("snodes.group", "SecondaryNodesGroups", QFT_OTHER,
              "Node groups of secondary nodes",
              lambda c, i: [_group_of(c, n) for n in i.secondary_nodes]),
        Field("snodes.group.uuid", "SecondaryNodesGroupsUUID", QFT_OTHER,
              "Node group UUIDs of secondary nodes",
              lambda c, i: [c.nodes[n].group for n in i.secondary_nodes if n in c.nodes]),
        Field("admin_state", "InstanceState", QFT_TEXT, "Desired state of the instance",
              lambda c, i: i.admin_state),
        Field("admin_up", "Autostart", QFT_BOOL, "Whether the instance should run",
              lambda c, i: i.admin_state == constants.ADMINST_UP),
        Field("admin_state_source", "InstanceStateSource", QFT_TEXT,
              "Who last set the desired state", lambda c, i: i.admin_state_source),
        Field("disks_active", "DisksActive", QFT_BOOL, "Whether the disks are active",
              lambda c, i: i.disks_active),
        Field("disk_template", "Disk_template", QFT_TEXT, "Instance disk template",
              lambda c, i: i.disk_template),
        Field("disk_usage", "DiskUsage", QFT_UNIT, "Total disk space used by the instance",
              lambda c, i: sum(d.size for d in i.disks)),
        Field("disk.count", "Disks", QFT_NUMBER, "Number of disks",
              lambda c, i: len(i.disks)),
        Field("disk.sizes", "Disk_sizes", QFT_OTHER, "List of disk sizes",
              lambda c, i: [d.size for d in i.disks]),
        Field("disk.spindles", "Disk_spindles", QFT_OTHER, "List of disk spindles",
              lambda c, i: [d.spindles for d in i.disks]),
        Field("disk.names", "Disk_names", QFT_OTHER, "List of disk names",
              lambda c, i: [d.name for d in i.disks]),
        Field("disk.uuids", "Disk_UUIDs", QFT_OTHER, "List of disk UUIDs",
              lambda c, i: [d.uuid for d in i.disks]),
        Field("sda_size", "Disk/0", QFT_UNIT, "Size of disk 0",
              _disk_at(0, lambda d: d.size)),
        Field("sdb_size", "Disk/1", QFT_UNIT, "Size of disk 1",
              _disk_at(1, lambda d: d.size)),
        Field("nic.count", "NICs", QFT_NUMBER, "Number of network interfaces",
              lambda c, i: len(i.nics)),
        Field("network_port", "Network_port", QFT_OTHER, "Instance network port (VNC)",
              lambda c, i: i.network_port),
        Field("beparams", "BackendParameters", QFT_OTHER, "Backend parameters",
              lambda c, i: c.cluster.fill_be(i)),
        Field("custom_beparams", "CustomBackendParameters", QFT_OTHER,
              "Custom backend parameters", lambda c, i: i.beparams),
        Field("hvparams", "HypervisorParameters", QFT_OTHER, "Hypervisor parameters",
              lambda c, i: c.cluster.fill_hv(i)),
        Field("custom_hvparams", "CustomHypervisorParameters", QFT_OTHER,
              "Custom hypervisor parameters", lambda c, i: i.hvparams),
        Field("osparams", "OpSysParameters", QFT_OTHER, "Operating system parameters",
              lambda c, i: iu.fill_os_params(c.cluster, i)),
        Field("custom_osparams", "CustomOpSysParameters", QFT_OTHER,
              "Custom operating system parameters", lambda c, i: i.osparams),
        Field("custom_nicparams", "CustomNicParameters", QFT_OTHER,
              "Custom network interface parameters",
              lambda c, i: [n.nicparams for n in i.nics]),
        Field("vcpus", "ConfigVCPUs", QFT_NUMBER, "Number of configured VCPUs",
              lambda c, i: c.cluster.fill_be(i)[constants.BE_VCPUS]),
        Field("tags", "Tags", QFT_OTHER, "Tags", lambda c, i: sorted(i.tags)),
        Field("serial_no", "SerialNo", QFT_NUMBER, "Serial number",
              lambda c, i: i.serial_no),
        Field("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", lambda c, i: i.ctime),
        Field("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp",
              lambda c, i: i.mtime),
        Field("forthcoming", "Forthcoming", QFT_BOOL, "whether the Instance is forthcoming",
              lambda c, i: bool(i.forthcoming)),
        Field("oper_state", "Running", QFT_BOOL, "Actual state of the instance",
              _oper_state, live=True),
        Field("oper_ram", "Memory", QFT_UNIT, "Actual memory usage as seen by hypervisor",
              _live("memory"), live=True),
        Field("oper_vcpus", "VCPUs", QFT_NUMBER, "Actual number of VCPUs",
              _live("vcpus"), live=True),
        Field("status", "Status", QFT_TEXT, "Instance status", _status, live=True),
    ]
    for key in sorted(constants.BEC_DEFAULTS):
        fields.append(Field("be/" + key, key, QFT_OTHER, "The \"%s\" backend parameter" % key,
                            (lambda k: lambda c, i: c.cluster.fill_be(i).get(k))(key)))
    fields.append(Field("be/memory", "memory", QFT_OTHER, "Alias of be/maxmem",
                        lambda c, i: c.cluster.fill_be(i).get(constants.BE_MAXMEM)))
    hv_keys = set()
    for params in constants.HVC_DEFAULTS.values():
        hv_keys.update(params)
    for key in sorted(hv_keys):
        fields.append(Field("hv/" + key, key, QFT_OTHER,
                            "The \"%s\" hypervisor parameter" % key,
                            (lambda k: lambda c, i: c.cluster.fill_hv(i).get(k, UNAVAIL))(key)))
    for attr, title, fn in _NIC_ATTRS + [("network.name", "NetworkName",
                                          _nic_network_name)]:
        plural, plural_title, item = _NIC_LISTS[attr]
        fields.append(Field("nic." + plural, plural_title, QFT_OTHER,
                            "List containing each network interface's %s" % item
                            if attr not in ("network", "network.name") else
                            _NIC_NETWORK_DOCS[attr], _nic_list(fn)))
        for idx in range(MAX_NICS):
            fields.append(Field("nic.%s/%d" % (attr, idx), "Nic%s/%d" % (title, idx),
                                QFT_TEXT, "%s of %s network interface"
                                % (_NIC_DOCS.get(attr, item[0].upper() + item[1:]),
                                   _ordinal(idx + 1)), _nic_at(idx, fn)))
    for alias, attr in (("mac", "mac"), ("ip", "ip"), ("bridge", "bridge"),
                        ("nic_mode", "mode"), ("nic_link", "link"),
                        ("nic_network", "network")):
        first = [f for f in fields if f.name == "nic.%s/0" % attr][0]
        fields.append(Field(alias, first.title, QFT_TEXT, first.doc, first.getter))
    for idx in range(MAX_DISKS):
        fields.append(Field("disk.size/%d" % idx, "Disk/%d" % idx, QFT_UNIT,
                            "Disk size of %d. disk" % (idx + 1), _disk_at(idx, lambda d: d.size)))
        fields.append(Field("disk.spindles/%d" % idx, "DiskSpindles/%d" % idx, QFT_NUMBER,
                            "Spindles of %d. disk" % (idx + 1),
                            _disk_at(idx, lambda d: d.spindles)))
        fields.append(Field("disk.name/%d" % idx, "DiskName/%d" % idx, QFT_TEXT,
                            "Name of %d. disk" % (idx + 1), _disk_at(idx, lambda d: d.name)))
        fields.append(Field("disk.uuid/%d" % idx, "DiskUUID/%d" % idx, QFT_TEXT,
                            "UUID of %d. disk" % (idx + 1), _disk_at(idx, lambda d: d.uuid)))
    return dict((f.name, f) for f in fields)


INSTANCE_FIELDS = _build_fields()
query.register_resource(query.QR_INSTANCE, INSTANCE_FIELDS)


def gather_live_data(context, cluster, nodes, instances):
    """({instance: info}, bad nodes) from the primaries of ``instances``."""
    wanted = sorted(set(i.primary_node for i in instances
                        if i.primary_node in nodes and not nodes[i.primary_node].offline))
    live, bad = {}, set()
    if not wanted:
        return live, bad
    hv_names = list(cluster.enabled_hypervisors)
    hvparams = dict((hv, cluster.hvparams.get(hv, {})) for hv in hv_names)
    results = context.rpc.call_all_instances_info(wanted, hv_names, hvparams)
    for node, res in results.items():
        if res.fail_msg or res.offline:
            bad.add(node)
            continue
        for name, info in (res.data or {}).items():
            info = dict(info)
            info["node"] = node
            live[name] = info
    return live, bad


def query_instances(context, fields, qfilter):
    cfg = context.cfg
    cluster = cfg.get_cluster_info()
    nodes = cfg.get_all_nodes_info()
    instances = cfg.get_all_instances_info()
    items = [instances[n] for n in sorted(instances)]
    live, bad = {}, set()
    if query.needs_live_data(query.QR_INSTANCE, fields, qfilter):
        live, bad = gather_live_data(context, cluster, nodes, items)
    ctx = InstanceQueryData(cluster, nodes, cfg.get_all_node_groups_info(), live, bad,
                            cfg.get_all_networks_info())
    return query.run_query(query.QR_INSTANCE, fields, items, ctx, qfilter)


class LUInstanceQueryData(NoHooksLU):
    """Everything about some instances (gnt-instance info)."""
    REQ_BGL = False

    def expand_names(self):
        if self.op.instances:
            self.wanted = [iu.expand_instance_name(self.cfg, n) for n in self.op.instances]
        else:
            self.wanted = self.cfg.get_instance_list()
        if self.op.use_locking:
            self.needed_locks[locking.LEVEL_INSTANCE] = self.wanted
            self.share_locks[locking.LEVEL_INSTANCE] = 1

    def exec(self, feedback_fn):
        cfg = self.cfg
        cluster = cfg.get_cluster_info()
        nodes = cfg.get_all_nodes_info()
        instances = [iu.get_instance(cfg, n) for n in self.wanted]
        live, bad = ({}, set()) if self.op.static else \
            gather_live_data(self.context, cluster, nodes, instances)
        result = {}
        for inst in instances:
            if self.op.static or inst.primary_node in bad:
                run_state = None
            else:
                run_state = _run_state(cluster, inst, live)
            snode = inst.secondary_nodes[0] if inst.secondary_nodes else None
            pgroup = self._group(inst.primary_node)
            disks = [self._disk_data(disk, inst.primary_node, snode, nodes, bad)
                     for disk in inst.disks]
            result[inst.name] = {
                "name": inst.name, "uuid": inst.uuid, "config_state": inst.admin_state,
                "run_state": run_state, "pnode": inst.primary_node,
                "snodes": inst.secondary_nodes, "os": inst.os,
                "pnode_group_name": pgroup[0], "pnode_group_uuid": pgroup[1],
                "snodes_group_names": [self._group(n)[0] for n in inst.secondary_nodes],
                "snodes_group_uuids": [self._group(n)[1] for n in inst.secondary_nodes],
                "nics": [[n.name, n.uuid, n.mac, n.ip, cluster.fill_nic(n.nicparams),
                          self._network_name(n.network)] for n in inst.nics],
                "disk_template": inst.disk_template, "disks": disks,
                "hypervisor": inst.hypervisor, "network_port": inst.network_port,
                "hv_instance": inst.hvparams, "hv_actual": _without_globals(inst.hypervisor, cluster.fill_hv(inst)),
                "be_instance": inst.beparams, "be_actual": _with_memory_alias(cluster.fill_be(inst)),
                "os_instance": inst.osparams,
                "os_actual": iu.fill_os_params(cluster, inst),
                "serial_no": inst.serial_no, "mtime": inst.mtime, "ctime": inst.ctime,
                "tags": sorted(inst.tags),
                "live_memory": (live.get(inst.name) or {}).get("memory"),
            }
        return result

    def _network_name(self, uuid):
        net = self.cfg.get_network(uuid) if uuid else None
        return net.name if net else uuid

    def _group(self, node_name):
        """(name, uuid) of the node group of ``node_name``."""
        node = self.cfg.get_node_info(node_name)
        group = self.cfg.get_node_group(node.group) if node else None
        return (group.name, group.uuid) if group else (None, None)

    def _find(self, node, disk, nodes, bad):
        """blockdev_find of ``disk`` on ``node`` (None: static, unreachable, absent,
        only reserved)."""
        if self.op.static or not node or node in bad or nodes[node].offline \
                or disk.forthcoming:
            return None
        res = self.rpc.call_blockdev_find(node, drbd_disks.disk_for_node(self.cfg, disk,
                                                                          node))
        return None if res.fail_msg else res.data

    def _disk_data(self, disk, pnode, snode, nodes, bad):
        """A disk and its children as gnt-instance info shows them."""
        drbd_info = None
        if disk.dev_type == constants.DT_DRBD8 and disk.logical_id:
            node_a, node_b, port, minor_a, minor_b = disk.logical_id[:5]
            if node_a == pnode:
                drbd_info = {"primary_node": pnode, "primary_minor": minor_a,
                             "secondary_node": node_b, "secondary_minor": minor_b}
            else:
                drbd_info = {"primary_node": pnode, "primary_minor": minor_b,
                             "secondary_node": node_a, "secondary_minor": minor_a}
            drbd_info["port"] = port
            snode = drbd_info["secondary_node"]
        return {
            "drbd_info": drbd_info,
            "iv_name": disk.iv_name, "dev_type": disk.dev_type,
            "logical_id": disk.logical_id, "size": disk.size, "mode": disk.mode,
            "spindles": disk.spindles, "name": disk.name, "uuid": disk.uuid,
            "nodes": disk.nodes,
            "pstatus": self._find(pnode, disk, nodes, bad),
            "sstatus": self._find(snode, disk, nodes, bad),
            "children": [self._disk_data(child, pnode, snode, nodes, bad)
                         for child in disk.children or []],
        }
