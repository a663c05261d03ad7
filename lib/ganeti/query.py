"""Query2: field definitions and evaluation for LUXI Query/QueryFields.

A query names a resource, fields and an optional filter; the answer is
``{"fields": [field definitions], "data": [[[status, value], ...], ...]}``.
Live fields (memory, disk) ask the nodes once per node, and only when asked for.
"""

import re

from ganeti import constants, errors

RS_NORMAL = 0
RS_UNKNOWN = 1
RS_NODATA = 2
RS_UNAVAIL = 3
RS_OFFLINE = 4

QFT_UNKNOWN = "unknown"
QFT_TEXT = "text"
QFT_BOOL = "bool"
QFT_NUMBER = "number"
QFT_FLOAT = "float"
QFT_UNIT = "unit"
QFT_TIMESTAMP = "timestamp"
QFT_OTHER = "other"

QR_NODE = "node"
QR_JOB = "job"
QR_LOCK = "lock"
QR_CLUSTER = "cluster"
QR_GROUP = "group"

FIELD_NAME_RE = re.compile(r"^[a-z0-9/._]+$")


class Special:
    """A value with a non-normal status (no data, unavailable, offline)."""

    def __init__(self, status):
        self.status = status


NODATA = Special(RS_NODATA)
UNAVAIL = Special(RS_UNAVAIL)
OFFLINE = Special(RS_OFFLINE)


class Field:
    __slots__ = ("name", "title", "kind", "doc", "getter", "live")

    def __init__(self, name, title, kind, doc, getter, live=False):
        self.name = name
        self.title = title
        self.kind = kind
        self.doc = doc
        self.getter = getter      # getter(ctx, item) -> value or Special
        self.live = live

    def definition(self):
        return {"name": self.name, "title": self.title, "kind": self.kind, "doc": self.doc}


def _unknown_definition(name):
    return {"name": name, "title": name, "kind": QFT_UNKNOWN,
            "doc": "Unknown field '%s'" % name}


def fields_table(items):
    """{name: Field} of a resource's fields."""
    return dict((f.name, f) for f in items)


_fields = fields_table


# ---- nodes -------------------------------------------------------------------------------

class NodeQueryData:
    """Everything node fields read: config objects, instance maps, live data."""

    def __init__(self, cluster, nodes, groups, node_to_primary, node_to_secondary,
                 live_data):
        self.cluster = cluster
        self.nodes = nodes
        self.groups = groups
        self.node_to_primary = node_to_primary
        self.node_to_secondary = node_to_secondary
        self.live_data = live_data        # name -> dict, or None when not fetched


def _node_role(ctx, node):
    if node.name == ctx.cluster.master_node:
        return constants.NR_MASTER
    return node.role


def _live_data(ctx, node):
    """The node's live data, or the Special value that stands for it."""
    if node.offline:
        return OFFLINE
    if not node.vm_capable:
        return UNAVAIL
    data = (ctx.live_data or {}).get(node.name)
    return NODATA if data is None else data


def _live(key, storage=None):
    def getter(ctx, node):
        data = _live_data(ctx, node)
        if isinstance(data, Special):
            return data
        if storage:
            units = data.get("storage") or []
            if not units or units[0].get(storage) is None:
                return UNAVAIL
            return units[0][storage]
        value = data.get(key)
        return NODATA if value is None else value
    return getter


def _spindles(storage):
    """SpTotal/SpFree: from the node's lvm-pv unit; 0 without one (as Ganeti)."""
    def getter(ctx, node):
        data = _live_data(ctx, node)
        if isinstance(data, Special):
            return data
        for unit in data.get("storage") or []:
            if unit.get("type") == constants.ST_LVM_PV:
                value = unit.get(storage)
                return UNAVAIL if value is None else value
        return 0
    return getter


def _group_name(ctx, node):
    group = ctx.groups.get(node.group)
    return group.name if group else node.group


def _ndparams(ctx, node):
    return json_numbers(ctx.cluster.fill_nd(node, ctx.groups.get(node.group)))


NDP_TITLES = {"exclusive_storage": "ExclusiveStorage", "oob_program": "OutOfBandProgram",
              "ovs": "OpenvSwitch", "ovs_link": "OpenvSwitchLink",
              "ovs_name": "OpenvSwitchName", "spindle_count": "SpindleCount"}


def ndparam_kind(key):
    """A node parameter field's kind, from the kind of the parameter."""
    from ganeti import paramtypes
    return {paramtypes.KIND_BOOL: QFT_BOOL, paramtypes.KIND_INT: QFT_NUMBER,
            paramtypes.KIND_FLOAT: QFT_FLOAT}.get(
                paramtypes.kind_of(key, constants.NDC_DEFAULTS[key]), QFT_OTHER)


NODE_FIELDS = _fields([
    Field("name", "Node", QFT_TEXT, "Node name", lambda c, n: n.name),
    Field("uuid", "UUID", QFT_TEXT, "Node UUID", lambda c, n: n.uuid),
    Field("pip", "PrimaryIP", QFT_TEXT, "Primary IP address", lambda c, n: n.primary_ip),
    Field("sip", "SecondaryIP", QFT_TEXT, "Secondary IP address",
          lambda c, n: n.secondary_ip),
    Field("master", "IsMaster", QFT_BOOL, "Whether node is master",
          lambda c, n: n.name == c.cluster.master_node),
    Field("master_candidate", "MasterC", QFT_BOOL, "Whether node is a master candidate",
          lambda c, n: n.master_candidate),
    Field("master_capable", "MasterCapable", QFT_BOOL,
          "Whether node can become a master candidate", lambda c, n: n.master_capable),
    Field("vm_capable", "VMCapable", QFT_BOOL, "Whether node can host instances",
          lambda c, n: n.vm_capable),
    Field("drained", "Drained", QFT_BOOL, "Whether node is drained", lambda c, n: n.drained),
    Field("offline", "Offline", QFT_BOOL, "Whether node is marked offline",
          lambda c, n: n.offline),
    Field("role", "Role", QFT_TEXT,
          "Node role; \"M\" for master, \"C\" for master candidate, \"R\" for regular,"
          " \"D\" for drained, \"O\" for offline", _node_role),
    Field("group", "Group", QFT_TEXT, "Node group", _group_name),
    Field("group.uuid", "GroupUUID", QFT_TEXT, "UUID of node group", lambda c, n: n.group),
    Field("pinst_cnt", "Pinst", QFT_NUMBER, "Number of instances with this node as primary",
          lambda c, n: len(c.node_to_primary.get(n.name, []))),
    Field("sinst_cnt", "Sinst", QFT_NUMBER,
          "Number of instances with this node as secondary",
          lambda c, n: len(c.node_to_secondary.get(n.name, []))),
    Field("pinst_list", "PriInstances", QFT_OTHER,
          "List of instances with this node as primary",
          lambda c, n: sorted(c.node_to_primary.get(n.name, []))),
    Field("sinst_list", "SecInstances", QFT_OTHER,
          "List of instances with this node as secondary",
          lambda c, n: sorted(c.node_to_secondary.get(n.name, []))),
    Field("tags", "Tags", QFT_OTHER, "Tags", lambda c, n: sorted(n.tags)),
    Field("serial_no", "SerialNo", QFT_NUMBER,
          "Node object serial number, incremented on each modification",
          lambda c, n: n.serial_no),
    Field("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", lambda c, n: n.ctime),
    Field("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp", lambda c, n: n.mtime),
    # known only for nodes with an out-of-band program (Ganeti's rule)
    Field("powered", "Powered", QFT_BOOL, "Whether node is thought to be powered on",
          lambda c, n: n.powered if _ndparams(c, n).get("oob_program") else UNAVAIL),
    Field("ndparams", "NodeParameters", QFT_OTHER, "Merged node parameters", _ndparams),
    Field("custom_ndparams", "CustomNodeParameters", QFT_OTHER, "Custom node parameters",
          lambda c, n: n.ndparams),
    Field("hv_state", "HypervisorState", QFT_OTHER, "Hypervisor state",
          lambda c, n: n.hv_state_static),
    Field("disk_state", "DiskState", QFT_OTHER, "Disk state",
          lambda c, n: n.disk_state_static),
    Field("dtotal", "DTotal", QFT_UNIT,
          "Total storage space on storage unit for instance disk allocation",
          _live(None, "storage_size"), live=True),
    Field("dfree", "DFree", QFT_UNIT, "Available storage space on storage unit",
          _live(None, "storage_free"), live=True),
    Field("sptotal", "SpTotal", QFT_NUMBER,
          "Total spindles in volume group (exclusive storage only)",
          _spindles("storage_size"), live=True),
    Field("spfree", "SpFree", QFT_NUMBER,
          "Available spindles in volume group (exclusive storage only)",
          _spindles("storage_free"), live=True),
    Field("mtotal", "MTotal", QFT_UNIT, "Total amount of memory of physical machine",
          _live("memory_total"), live=True),
    Field("mnode", "MNode", QFT_UNIT, "Amount of memory used by node (dom0 for Xen)",
          _live("memory_dom0"), live=True),
    Field("mfree", "MFree", QFT_UNIT, "Memory available for instance allocations",
          _live("memory_free"), live=True),
    Field("ctotal", "CTotal", QFT_NUMBER, "Number of logical processors",
          _live("cpu_total"), live=True),
    Field("cnos", "CNOs", QFT_NUMBER,
          "Number of logical processors used by the node OS (dom0 for Xen)",
          _live("cpu_dom0"), live=True),
    Field("cnodes", "CNodes", QFT_NUMBER,
          "Number of NUMA domains on node (if exported by hypervisor)",
          _live("cpu_nodes"), live=True),
    Field("csockets", "CSockets", QFT_NUMBER,
          "Number of physical CPU sockets (if exported by hypervisor)",
          _live("cpu_sockets"), live=True),
    Field("bootid", "BootID", QFT_TEXT,
          "Random UUID renewed for each system reboot, can be used for detecting"
          " reboots by tracking changes",
          _live("bootid"), live=True),
] + [
    Field("ndp/" + key, NDP_TITLES.get(key, "ndp/" + key), ndparam_kind(key),
          "The \"%s\" node parameter" % key,
          (lambda k: lambda c, n: _ndparams(c, n).get(k))(key))
    for key in sorted(constants.NDC_DEFAULTS)
])


# ---- node groups -------------------------------------------------------------------------

class GroupQueryData:
    """What group fields read: the cluster, and each group's nodes and primary
    instances (names)."""

    def __init__(self, cluster, group_nodes, group_instances):
        self.cluster = cluster
        self.group_nodes = group_nodes            # uuid -> [node names]
        self.group_instances = group_instances    # uuid -> [instance names]


def json_numbers(value):
    """``value`` with whole floats as ints, as Ganeti's query daemon sends them
    (its JSON writes 1.0 as 1, so Ganeti shows ``cpu_speed=1``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return dict((k, json_numbers(v)) for k, v in value.items())
    if isinstance(value, list):
        return [json_numbers(v) for v in value]
    return value


# (dicts travel with sorted keys; the client puts them in Ganeti's order)

def group_ndparams(cluster, group):
    """The group's node parameters over the cluster's."""
    from ganeti import objects
    return json_numbers(objects.fill_dict(cluster.ndparams, group.ndparams))


def _group_ipolicy(ctx, group):
    from ganeti import objects
    return json_numbers(objects.fill_ipolicy(ctx.cluster.ipolicy, group.ipolicy))


#: Ganeti's titles of the node parameter fields (the others are titled by name)
GROUP_FIELDS = _fields([
    Field("alloc_policy", "AllocPolicy", QFT_TEXT, "Allocation policy for group",
          lambda c, g: g.alloc_policy),
    Field("custom_diskparams", "CustomDiskParameters", QFT_OTHER, "Custom disk parameters",
          lambda c, g: g.diskparams),
    Field("custom_ipolicy", "CustomInstancePolicy", QFT_OTHER,
          "Custom instance policy limitations", lambda c, g: json_numbers(g.ipolicy)),
    Field("custom_ndparams", "CustomNDParams", QFT_OTHER, "Custom node parameters",
          lambda c, g: json_numbers(g.ndparams)),
    Field("diskparams", "DiskParameters", QFT_OTHER, "Disk parameters (merged)",
          lambda c, g: c.cluster.fill_dp(g)),
    Field("ipolicy", "InstancePolicy", QFT_OTHER, "Instance policy limitations (merged)",
          _group_ipolicy),
    Field("name", "Group", QFT_TEXT, "Group name", lambda c, g: g.name),
    Field("ndparams", "NDParams", QFT_OTHER, "Node parameters",
          lambda c, g: group_ndparams(c.cluster, g)),
    Field("node_cnt", "Nodes", QFT_NUMBER, "Number of nodes",
          lambda c, g: len(c.group_nodes.get(g.uuid, []))),
    Field("node_list", "NodeList", QFT_OTHER, "List of nodes",
          lambda c, g: list(c.group_nodes.get(g.uuid, []))),
    Field("pinst_cnt", "Instances", QFT_NUMBER, "Number of primary instances",
          lambda c, g: len(c.group_instances.get(g.uuid, []))),
    Field("pinst_list", "InstanceList", QFT_OTHER, "List of primary instances",
          lambda c, g: list(c.group_instances.get(g.uuid, []))),
    Field("ctime", "CTime", QFT_TIMESTAMP, "Creation timestamp", lambda c, g: g.ctime),
    Field("mtime", "MTime", QFT_TIMESTAMP, "Modification timestamp", lambda c, g: g.mtime),
    Field("uuid", "UUID", QFT_TEXT, "Group UUID", lambda c, g: g.uuid),
    Field("serial_no", "SerialNo", QFT_NUMBER,
          "Group object serial number, incremented on each modification",
          lambda c, g: g.serial_no),
    Field("tags", "Tags", QFT_OTHER, "Tags", lambda c, g: sorted(g.tags)),
] + [
    Field("ndp/" + key, NDP_TITLES.get(key, "ndp/" + key), ndparam_kind(key),
          "The \"%s\" node parameter" % key,
          (lambda k: lambda c, g: group_ndparams(c.cluster, g).get(k))(key))
    for key in sorted(constants.NDC_DEFAULTS)
])


# ---- jobs --------------------------------------------------------------------------------

_JOB_FIELD_DEFS = [
    ("id", "ID", QFT_NUMBER, "Job ID"),
    ("status", "Status", QFT_TEXT, "Job status"),
    ("priority", "Priority", QFT_NUMBER, "Current job priority (19 to -20)"),
    ("summary", "Summary", QFT_OTHER, "List of per-opcode summaries"),
    ("ops", "OpCodes", QFT_OTHER, "List of all opcodes"),
    ("opresult", "OpCode_result", QFT_OTHER, "List of opcodes results"),
    ("opstatus", "OpCode_status", QFT_OTHER, "List of opcodes status"),
    ("oplog", "OpCode_log", QFT_OTHER, "List of opcode output logs"),
    ("opstart", "OpCode_start", QFT_OTHER,
     "List of opcode start timestamps (before acquiring locks)"),
    ("opexec", "OpCode_exec", QFT_OTHER,
     "List of opcode execution start timestamps (after acquiring locks)"),
    ("opend", "OpCode_end", QFT_OTHER, "List of opcode execution end timestamps"),
    ("oppriority", "OpCode_prio", QFT_OTHER, "List of opcode priorities"),
    ("received_ts", "Received", QFT_OTHER,
     "Timestamp of when job was received (tuple containing seconds and microseconds)"),
    ("start_ts", "Start", QFT_OTHER,
     "Timestamp of job start (tuple containing seconds and microseconds)"),
    ("end_ts", "End", QFT_OTHER,
     "Timestamp of job end (tuple containing seconds and microseconds)"),
    ("archived", "Archived", QFT_BOOL, "Whether job is archived"),
]
JOB_FIELD_NAMES = [d[0] for d in _JOB_FIELD_DEFS]
JOB_FIELDS = _fields(Field(n, t, k, d, (lambda i: lambda c, row: row[i])(idx))
                     for idx, (n, t, k, d) in enumerate(_JOB_FIELD_DEFS))


def unknown_job_row(job_id):
    """The row of a job asked for by id that does not exist: its id, and no data."""
    return [job_id] + [UNAVAIL] * (len(_JOB_FIELD_DEFS) - 1)

# ---- locks -------------------------------------------------------------------------------

LOCK_FIELDS = _fields([
    Field("name", "Name", QFT_TEXT, "Lock name", lambda c, row: row[0]),
    Field("mode", "Mode", QFT_OTHER, "Mode in which the lock is currently acquired",
          lambda c, row: row[1]),
    Field("owner", "Owner", QFT_OTHER, "Current lock owner(s)", lambda c, row: row[2]),
    Field("pending", "Pending", QFT_OTHER, "Jobs waiting for the lock",
          lambda c, row: row[3]),
    # not in Ganeti: how long, in the order of owner and pending
    Field("owner_time", "OwnerTime", QFT_OTHER,
          "Seconds each owner has held the lock (in the order of owner)",
          lambda c, row: row[4]),
    Field("pending_time", "PendingTime", QFT_OTHER,
          "Seconds each waiting job has waited (in the order of pending)",
          lambda c, row: row[5]),
])

QR_OS = "os"
QR_INSTANCE = "instance"
QR_EXPORT = "export"
QR_NETWORK = "network"
QR_FILTER = "filter"
QR_EXTSTORAGE = "extstorage"

RESOURCE_FIELDS = {QR_NODE: NODE_FIELDS, QR_JOB: JOB_FIELDS, QR_LOCK: LOCK_FIELDS,
                   QR_GROUP: GROUP_FIELDS}
# resources whose field tables live next to their logical units; imported on
# first use, the module calls register_resource()
_RESOURCE_MODULES = {
    QR_OS: "ganeti.cmdlib.operating_system",
    QR_INSTANCE: "ganeti.cmdlib.instance_query",
    QR_EXPORT: "ganeti.cmdlib.backup",
    QR_NETWORK: "ganeti.cmdlib.network",
    QR_FILTER: "ganeti.cmdlib.filter",
    QR_EXTSTORAGE: "ganeti.cmdlib.extstorage",
}


def register_resource(resource, fields):
    """Make ``fields`` ({name: Field}) the field table of ``resource``."""
    RESOURCE_FIELDS[resource] = fields


def get_fields(resource):
    if resource not in RESOURCE_FIELDS and resource in _RESOURCE_MODULES:
        import importlib
        importlib.import_module(_RESOURCE_MODULES[resource])
    try:
        return RESOURCE_FIELDS[resource]
    except KeyError:
        raise errors.OpPrereqError("Resource '%s' can not be queried" % resource,
                                   errors.ECODE_INVAL)


def query_fields(resource, names):
    """QueryFields: definitions of the named fields (all if names is None)."""
    fields = get_fields(resource)
    if names is None:
        # Ganeti's natural order: disk.size/2 before disk.size/10
        from ganeti.utils import text
        return {"fields": [fields[n].definition() for n in text.nice_sort(fields)]}
    return {"fields": [fields[n].definition() if n in fields else _unknown_definition(n)
                       for n in names]}


def filter_field_names(qfilter):
    """Names of the fields a list-based filter refers to (a malformed part
    names none: the filter's validation refuses it with a clear message)."""
    names = set()

    def walk(node):
        if not isinstance(node, list) or not node:
            return
        op = node[0]
        if op in ("&", "|"):
            for sub in node[1:]:
                walk(sub)
        elif op == "!":
            if len(node) > 1:
                walk(node[1])
        elif len(node) >= 2 and isinstance(node[1], str):
            names.add(node[1])
    walk(qfilter)
    return names


def refuse_unknown(fields, names, message):
    """OpPrereqError (``message`` % the names) for the ``names`` not in ``fields``."""
    unknown = [name for name in names if name not in fields]
    if unknown:
        raise errors.OpPrereqError(message % ", ".join(unknown), errors.ECODE_INVAL)


def refuse_unknown_in_filter(fields, qfilter):
    """Ganeti's ParameterError for the first field of ``qfilter`` not in ``fields``."""
    unknown = sorted(n for n in filter_field_names(qfilter) if n not in fields)
    if unknown:
        raise errors.ParameterError("Can't find field named '%s'" % unknown[0])


def needs_live_data(resource, names, qfilter=None):
    fields = get_fields(resource)
    wanted = set(names) | filter_field_names(qfilter)
    return any(fields[n].live for n in wanted if n in fields)


def run_query(resource, names, items, ctx, qfilter=None):
    """Evaluate fields over items (already in output order) and filter them."""
    fields = get_fields(resource)
    if qfilter is not None:
        from ganeti import qlang
        refuse_unknown_in_filter(fields, qfilter)

        def value_of(item):
            def getter(name):
                value = fields[name].getter(ctx, item)
                return None if isinstance(value, Special) else value
            return getter
        items = [item for item in items if qlang.filter_matches(qfilter, value_of(item))]
    data = []
    for item in items:
        row = []
        for name in names:
            field = fields.get(name)
            if field is None:
                row.append([RS_UNKNOWN, None])
                continue
            value = field.getter(ctx, item)
            if isinstance(value, Special):
                row.append([value.status, None])
            else:
                row.append([RS_NORMAL, value])
        data.append(row)
    return {"fields": query_fields(resource, names)["fields"], "data": data}


def old_style(result):
    """Query result as old-style rows of plain values (QueryNodes, QueryJobs)."""
    return [[value for _, value in row] for row in result["data"]]
