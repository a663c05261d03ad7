"""Instance fields for queries (gnt-instance list) and OP_INSTANCE_QUERY_DATA."""

from ganeti import constants, errors, locking, paramtypes, query
from ganeti.cmdlib import drbd_disks
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib.base import NoHooksLU
from ganeti.cmdlib.query import requested_names
from ganeti.paramtypes import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_SIZE, KIND_STRING
from ganeti.query import (Field, NODATA, OFFLINE, UNAVAIL, QFT_BOOL, QFT_FLOAT, QFT_NUMBER,
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
    """The value of the idx-th NIC; unavailable without one, or for None (Ganeti's)."""
    def getter(c, i):
        value = fn(c, i.nics[idx]) if idx < len(i.nics) else None
        return UNAVAIL if value is None else value
    return getter


def _disk_at(idx, fn):
    def getter(c, i):
        value = fn(i.disks[idx]) if idx < len(i.disks) else None
        return UNAVAIL if value is None else value
    return getter


def _nic_if_mode(mode, key):
    """A NIC parameter that only means something in ``mode`` (None otherwise)."""
    def getter(c, n):
        params = c.cluster.fill_nic(n.nicparams)
        return params.get(key) if params.get(constants.NIC_MODE) == mode else None
    return getter


_bridge = _nic_if_mode(constants.NIC_MODE_BRIDGED, constants.NIC_LINK)
# Ganeti 3.0's query daemon shows a VLAN for openvswitch NICs only
_vlan = _nic_if_mode(constants.NIC_MODE_OVS, constants.NIC_VLAN)


def _ordinal(value):
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(value % 10 if value % 100 not in (11, 12, 13)
                                             else 0, "th")
    return "%d%s" % (value, suffix)


def _nic_network_name(c, nic):
    net = c.networks.get(nic.network) if nic.network else None
    return net.name if net else None


def _group_of(c, node_name):
    node = c.nodes.get(node_name)
    group = c.groups.get(node.group) if node else None
    return group.name if group else None


def _disk_usage(c, inst):
    """Space the disks take on their nodes: drbd's metadata too, nothing for
    diskless and blockdev (Ganeti's)."""
    total = 0
    for disk in inst.disks:
        if disk.dev_type == constants.DT_DRBD8:
            total += (disk.size or 0) + constants.DRBD_META_SIZE
        elif disk.dev_type not in (constants.DT_DISKLESS, constants.DT_BLOCK):
            total += disk.size or 0
    return total


def _console(ctx, inst):
    """The console description of gnt-instance console, for any instance."""
    from ganeti import hypervisor
    marker, _ = ctx.live_info(inst)
    if marker is not None:
        return marker
    node = ctx.nodes[inst.primary_node]
    try:
        return hypervisor.get_hypervisor_class(inst.hypervisor).get_instance_console(
            inst, inst.primary_node, ctx.groups.get(node.group),
            ctx.cluster.fill_hv(inst), ctx.cluster.fill_be(inst))
    except (errors.GenericError, NotImplementedError):
        return NODATA


def _filled_be(c, inst):
    """The instance's backend parameters (LUXI sorts their keys on the way: the
    client shows them in Ganeti's order, cli_output.DICT_KEY_ORDER)."""
    return c.cluster.fill_be(inst)


def _filled_hv(c, inst):
    """The instance's hypervisor parameters without the cluster-wide ones."""
    return dict((k, v) for k, v in c.cluster.fill_hv(inst).items()
                if k not in constants.HVC_GLOBALS)


#: titles of parameter fields (Ganeti's hvsParameterTitles, besParameterTitles);
#: the others are titled by their name
_HV_TITLES = {
    "acpi": "ACPI", "boot_order": "Boot_order", "cdrom_image_path": "CDROM_image_path",
    "cpu_type": "cpu_type", "disk_type": "Disk_type", "initrd_path": "Initrd_path",
    "kernel_path": "Kernel_path", "nic_type": "NIC_type", "pae": "PAE",
    "pci_pass": "pci_pass", "vnc_bind_address": "VNC_bind_address",
}
_BE_TITLES = {"auto_balance": "Auto_balance", "minmem": "ConfigMinMem",
              "vcpus": "ConfigVCPUs", "maxmem": "ConfigMaxMem"}
#: Ganeti's KVM SPICE parameters, which our KVM does not implement: Ganeti has
#: a field for each (unavailable here); the values are their kinds
_SPICE_PARAMS = {
    "spice_bind": KIND_STRING, "spice_image_compression": KIND_STRING,
    "spice_ip_version": KIND_INT, "spice_jpeg_wan_compression": KIND_STRING,
    "spice_password_file": KIND_STRING, "spice_playback_compression": KIND_BOOL,
    "spice_streaming_video": KIND_STRING, "spice_tls_ciphers": KIND_STRING,
    "spice_use_tls": KIND_BOOL, "spice_use_vdagent": KIND_BOOL,
    "spice_zlib_glz_wan_compression": KIND_STRING,
}
_KIND_TO_QFT = {KIND_BOOL: QFT_BOOL, KIND_INT: QFT_NUMBER, KIND_SIZE: QFT_UNIT,
                KIND_FLOAT: QFT_FLOAT}


def hv_parameter_kinds():
    """{parameter: kind} of every hypervisor's parameters but the global ones."""
    kinds = dict(_SPICE_PARAMS)
    for params in constants.HVC_DEFAULTS.values():
        for key, default in params.items():
            kinds.setdefault(key, paramtypes.kind_of(key, default))
    return dict((k, v) for k, v in kinds.items() if k not in constants.HVC_GLOBALS)


_STATUS_DOC = (
    "Instance status; \"running\" if instance is set to be running and actually is,"
    " \"ADMIN_down\" if instance is stopped and is not running, \"ERROR_wrongnode\" if"
    " instance running, but not on its designated primary node, \"ERROR_up\" if instance"
    " should be stopped, but is actually running, \"ERROR_down\" if instance should run,"
    " but doesn't, \"ERROR_nodedown\" if instance's primary node is down,"
    " \"ERROR_nodeoffline\" if instance's primary node is marked offline,"
    " \"ADMIN_offline\" if instance is offline and does not use dynamic resources")

#: per-NIC fields: (attribute, title word, description word, getter of a NIC)
_NIC_ATTRS = [
    ("mac", "MAC", "MAC address", lambda c, n: n.mac),
    ("ip", "IP", "IP address", lambda c, n: n.ip),
    ("mode", "Mode", "Mode", lambda c, n: _nic_param(c, n, constants.NIC_MODE)),
    ("link", "Link", "Link", lambda c, n: _nic_param(c, n, constants.NIC_LINK)),
    ("bridge", "Bridge", "Bridge", _bridge),
    ("network", "Network", "Network", lambda c, n: n.network),
    ("network.name", "NetworkName", "Network name", _nic_network_name),
    ("name", "Name", "Name address", lambda c, n: n.name),
    ("uuid", "UUID", "UUID address", lambda c, n: n.uuid),
    ("vlan", "VLAN", "VLAN", _vlan),
]
#: the list fields of all NICs: (name, title, description, getter of a NIC)
_NIC_LISTS = [
    ("nic.macs", "NIC_MACs", "MAC address", lambda c, n: n.mac),
    ("nic.ips", "NIC_IPs", "IP address", lambda c, n: n.ip),
    ("nic.names", "NIC_Names", "name", lambda c, n: n.name),
    ("nic.uuids", "NIC_UUIDs", "UUID", lambda c, n: n.uuid),
    ("nic.modes", "NIC_modes", "mode", lambda c, n: _nic_param(c, n, constants.NIC_MODE)),
    ("nic.links", "NIC_links", "link", lambda c, n: _nic_param(c, n, constants.NIC_LINK)),
    ("nic.vlans", "NIC_VLANs", "VLAN", _vlan),
    ("nic.bridges", "NIC_bridges", "bridge", _bridge),
]
#: Ganeti's aliases: (alias, field); an alias is its field under another name
_ALIASES = [
    ("vcpus", "be/vcpus"), ("be/memory", "be/maxmem"),
    ("sda_size", "disk.size/0"), ("sdb_size", "disk.size/1"),
    ("ip", "nic.ip/0"), ("mac", "nic.mac/0"), ("bridge", "nic.bridge/0"),
    ("nic_mode", "nic.mode/0"), ("nic_link", "nic.link/0"), ("nic_network", "nic.network/0"),
]


def _param_getter(fill, key):
    def getter(c, i):
        return fill(c, i).get(key, UNAVAIL)
    return getter


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
        Field("snodes", "Secondary_Nodes", QFT_OTHER,
              "Secondary nodes; usually this will just be one node",
              lambda c, i: i.secondary_nodes),
        Field("snodes.group", "SecondaryNodesGroups", QFT_OTHER,
              "Node groups of secondary nodes",
              lambda c, i: [_group_of(c, n) for n in i.secondary_nodes]),
        Field("snodes.group.uuid", "SecondaryNodesGroupsUUID", QFT_OTHER,
              "Node group UUIDs of secondary nodes",
              lambda c, i: [c.nodes[n].group for n in i.secondary_nodes if n in c.nodes]),
        Field("admin_state", "InstanceState", QFT_TEXT, "Desired state of instance",
              lambda c, i: i.admin_state),
        Field("admin_up", "Autostart", QFT_BOOL, "Desired state of instance",
              lambda c, i: i.admin_state == constants.ADMINST_UP),
        Field("admin_state_source", "InstanceStateSource", QFT_TEXT,
              "Who last changed the desired state of the instance",
              lambda c, i: i.admin_state_source),
        Field("disks_active", "DisksActive", QFT_BOOL, "Desired state of instance disks",
              lambda c, i: i.disks_active),
        Field("disk_template", "Disk_template", QFT_TEXT, "Instance disk template",
              lambda c, i: i.disk_template),
        Field("disk_usage", "DiskUsage", QFT_UNIT,
              "Total disk space used by instance on each of its nodes; this is not the"
              " disk size visible to the instance, but the usage on the node", _disk_usage),
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
        Field("nic.count", "NICs", QFT_NUMBER, "Number of network interfaces",
              lambda c, i: len(i.nics)),
        Field("nic.networks", "NIC_networks", QFT_OTHER,
              "List containing each interface's network",
              _nic_list(lambda c, n: n.network)),
        Field("nic.networks.names", "NIC_networks_names", QFT_OTHER,
              "List containing the name of each interface's network",
              _nic_list(_nic_network_name)),
        Field("network_port", "Network_port", QFT_OTHER,
              "Instance network port if available (e.g. for VNC console)",
              lambda c, i: UNAVAIL if i.network_port is None else i.network_port),
        Field("beparams", "BackendParameters", QFT_OTHER, "Backend parameters (merged)",
              _filled_be),
        Field("custom_beparams", "CustomBackendParameters", QFT_OTHER,
              "Custom backend parameters", lambda c, i: i.beparams),
        Field("hvparams", "HypervisorParameters", QFT_OTHER,
              "Hypervisor parameters (merged)", _filled_hv),
        Field("custom_hvparams", "CustomHypervisorParameters", QFT_OTHER,
              "Custom hypervisor parameters", lambda c, i: i.hvparams),
        Field("osparams", "OpSysParameters", QFT_OTHER,
              "Operating system parameters (merged)",
              lambda c, i: iu.fill_os_params(c.cluster, i)),
        Field("custom_osparams", "CustomOpSysParameters", QFT_OTHER,
              "Custom operating system parameters", lambda c, i: i.osparams),
        Field("custom_nicparams", "CustomNicParameters", QFT_OTHER,
              "Custom network interface parameters",
              lambda c, i: [n.nicparams for n in i.nics]),
        Field("tags", "Tags", QFT_OTHER, "Tags", lambda c, i: sorted(i.tags)),
        Field("serial_no", "SerialNo", QFT_NUMBER,
              "Instance object serial number, incremented on each modification",
              lambda c, i: i.serial_no),
        Field("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", lambda c, i: i.ctime),
        Field("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp",
              lambda c, i: i.mtime),
        Field("forthcoming", "Forthcoming", QFT_BOOL, "whether the Instance is forthcoming",
              lambda c, i: bool(i.forthcoming)),
        Field("oper_state", "Running", QFT_BOOL, "Actual state of instance",
              _oper_state, live=True),
        Field("oper_ram", "Memory", QFT_UNIT, "Actual memory usage as seen by hypervisor",
              _live("memory"), live=True),
        Field("oper_vcpus", "VCPUs", QFT_NUMBER,
              "Actual number of VCPUs as seen by hypervisor", _live("vcpus"), live=True),
        Field("status", "Status", QFT_TEXT, _STATUS_DOC, _status, live=True),
        Field("console", "Console", QFT_OTHER, "Instance console information", _console,
              live=True),
    ]
    for key in constants.BEC_DEFAULTS:
        kind = _KIND_TO_QFT.get(paramtypes.kind_of(key, constants.BEC_DEFAULTS[key]),
                                QFT_OTHER)
        fields.append(Field("be/" + key, _BE_TITLES.get(key, "be/" + key), kind,
                            "The \"%s\" backend parameter" % key,
                            _param_getter(_filled_be, key)))
    for key, kind in sorted(hv_parameter_kinds().items()):
        fields.append(Field("hv/" + key, _HV_TITLES.get(key, "hv/" + key),
                            _KIND_TO_QFT.get(kind, QFT_OTHER),
                            "The \"%s\" hypervisor parameter" % key,
                            _param_getter(_filled_hv, key)))
    for name, title, item, fn in _NIC_LISTS:
        fields.append(Field(name, title, QFT_OTHER,
                            "List containing each network interface's " + item,
                            _nic_list(fn)))
    for idx in range(MAX_NICS):
        for attr, title, doc, fn in _NIC_ATTRS:
            fields.append(Field("nic.%s/%d" % (attr, idx), "Nic%s/%d" % (title, idx),
                                QFT_TEXT, "%s of %s network interface"
                                % (doc, _ordinal(idx + 1)), _nic_at(idx, fn)))
    for idx in range(MAX_DISKS):
        nth = _ordinal(idx + 1)
        fields.extend([
            Field("disk.size/%d" % idx, "Disk/%d" % idx, QFT_UNIT,
                  "Disk size of %s disk" % nth, _disk_at(idx, lambda d: d.size)),
            Field("disk.spindles/%d" % idx, "DiskSpindles/%d" % idx, QFT_NUMBER,
                  "Spindles of %s disk" % nth, _disk_at(idx, lambda d: d.spindles)),
            Field("disk.name/%d" % idx, "DiskName/%d" % idx, QFT_TEXT,
                  "Name of %s disk" % nth, _disk_at(idx, lambda d: d.name)),
            Field("disk.uuid/%d" % idx, "DiskUUID/%d" % idx, QFT_TEXT,
                  "UUID of %s disk" % nth, _disk_at(idx, lambda d: d.uuid)),
        ])
    table = dict((f.name, f) for f in fields)
    for alias, name in _ALIASES:
        field = table[name]
        table[alias] = Field(alias, field.title, field.kind, field.doc, field.getter,
                             live=field.live)
    return table

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
    # names asked for (gnt-instance list B A) come in that order, as Ganeti's
    names = requested_names(qfilter)
    if names is None:
        names = sorted(instances)
    items = [instances[n] for n in names if n in instances]
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
                "hv_instance": inst.hvparams,
                "hv_actual": _without_globals(inst.hypervisor, cluster.fill_hv(inst)),
                "be_instance": inst.beparams,
                "be_actual": _with_memory_alias(cluster.fill_be(inst)),
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
