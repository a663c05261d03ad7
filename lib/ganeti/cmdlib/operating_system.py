"""OS definitions, master side: the "os" query resource and OP_OS_DIAGNOSE.

The nodes report their OS definitions (RPC os_diagnose); an OS is valid for
the cluster only when it is valid, as the first definition of its name, on
every online vm_capable node that answered. Variants, parameters and API
versions are those common to all of these nodes.
"""


from ganeti import errors, qlang, query
from ganeti.cmdlib.base import NoHooksLU
from ganeti.query import Field, QFT_BOOL, QFT_OTHER, QFT_TEXT
from ganeti.utils import text

VARIANT_SEP = "+"


nice_sort_key = text.nice_sort_key
nice_sort = text.nice_sort


class OsInfo:
    """One OS as the cluster sees it (the items of an "os" query)."""

    def __init__(self, name, valid=True, hidden=False, blacklisted=False, variants=None,
                 api_versions=None, parameters=None, node_status=None, os_hvp=None,
                 osparams=None, trusted=True):
        self.name = name
        self.valid = valid
        self.hidden = hidden
        self.blacklisted = blacklisted
        self.variants = list(variants or [])
        self.api_versions = list(api_versions or [])
        self.parameters = list(parameters or [])
        self.node_status = node_status or {}
        self.os_hvp = os_hvp or {}
        self.osparams = osparams or {}
        self.trusted = trusted


def diagnose_by_os(results):
    """Per-node os_diagnose results -> {os name: {node: [entry, ...]}}.

    ``results``: {node: RpcResult}. Every node that answered gets a (maybe
    empty) list for every OS; nodes that failed are left out, so one dead node
    daemon does not make every OS invalid. An entry is [path, status, message,
    variants, parameters, api_versions, trusted], the definition in use first
    (an OS is trusted unless its node says otherwise: the nodes here only run
    OSes with a trusted ``create`` script).
    """
    return group_by_name(results, _os_entry)


def _os_entry(entry):
    name, path, status, message, variants, params, api = entry[:7]
    trusted = bool(entry[7]) if len(entry) > 7 else True
    return name, [path, bool(status), message, list(variants or []),
                  [list(p) for p in params or []], list(api or []), trusted]


def group_by_name(results, convert):
    """{node: RpcResult} of a diagnose procedure -> {name: {node: [entry, ...]}}.

    ``convert(entry)`` gives (name, entry as kept); malformed entries are
    skipped. Every node that answered gets a (maybe empty) list for every
    name; nodes whose call failed are left out.
    """
    good_nodes = [name for name, res in results.items() if not res.fail_msg]
    grouped = {}
    for node_name in good_nodes:
        for entry in results[node_name].data or []:
            try:
                name, kept = convert(entry)
            except (TypeError, ValueError):
                continue
            grouped.setdefault(name, dict((n, []) for n in good_nodes))[node_name].append(kept)
    return grouped


def _common(values):
    """Intersection of the lists in ``values`` (order of the first kept)."""
    values = list(values)
    if not values:
        return []
    rest = [set(map(_hashable, v)) for v in values[1:]]
    return [v for v in values[0] if all(_hashable(v) in r for r in rest)]


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _params_for(cluster_dict, name, variants):
    """{os+variant: params} of the cluster's entries for the OS's variants
    (as Ganeti: the base name's own entry is not listed)."""
    wanted = ["%s%s%s" % (name, VARIANT_SEP, v) for v in variants]
    return dict((key, cluster_dict[key]) for key in wanted if key in cluster_dict)


def build_os_info(all_os, cluster):
    """OsInfo objects (nicely sorted by name) from diagnose_by_os's result."""
    result = []
    for name in nice_sort(all_os):
        node_status = all_os[name]
        firsts = [entries[0] if entries else None for entries in node_status.values()]
        valid = bool(firsts) and all(e is not None and e[1] for e in firsts)
        if valid:
            variants = _common(e[3] for e in firsts)
            parameters = _common(e[4] for e in firsts)
            api_versions = _common(e[5] for e in firsts)
            trusted = all(e[6] for e in firsts)
        else:
            trusted = True
            variants, parameters, api_versions = [], [], []
        result.append(OsInfo(
            name, valid=valid, hidden=name in (cluster.hidden_os or []),
            blacklisted=name in (cluster.blacklisted_os or []),
            variants=nice_sort(variants), api_versions=sorted(api_versions),
            parameters=nice_sort(parameters, key=lambda p: p[0]),
            node_status=node_status,
            os_hvp=_params_for(cluster.os_hvp or {}, name, variants),
            osparams=_params_for(cluster.osparams or {}, name, variants),
            trusted=trusted))
    return result


def _attr(name):
    return lambda ctx, item: getattr(item, name)


OS_FIELDS = dict((f.name, f) for f in [
    Field("name", "Name", QFT_TEXT, "Operating system name", _attr("name")),
    Field("valid", "Valid", QFT_BOOL, "Whether operating system definition is valid",
          _attr("valid")),
    Field("hidden", "Hidden", QFT_BOOL, "Whether operating system is hidden",
          _attr("hidden")),
    Field("blacklisted", "Blacklisted", QFT_BOOL,
          "Whether operating system is blacklisted", _attr("blacklisted")),
    Field("variants", "Variants", QFT_OTHER, "Operating system variants",
          _attr("variants")),
    Field("api_versions", "ApiVersions", QFT_OTHER, "Operating system API versions",
          _attr("api_versions")),
    Field("parameters", "Parameters", QFT_OTHER, "Operating system parameters",
          _attr("parameters")),
    Field("node_status", "NodeStatus", QFT_OTHER, "Status from node",
          _attr("node_status")),
    Field("os_hvp", "OsHypervisorParams", QFT_OTHER,
          "Operating system specific hypervisor parameters", _attr("os_hvp")),
    Field("osparams", "OsParameters", QFT_OTHER, "Operating system specific parameters",
          _attr("osparams")),
    Field("trusted", "Trusted", QFT_BOOL, "Whether this OS is trusted", _attr("trusted")),
])
query.register_resource(query.QR_OS, OS_FIELDS)


def diagnose_nodes(cfg):
    """The nodes asked about OSes: online and vm_capable, sorted."""
    return nice_sort(name for name, node in cfg.get_all_nodes_info().items()
                     if not node.offline and node.vm_capable)


def get_os_info(context):
    """Ask the nodes and return the list of OsInfo."""
    nodes = diagnose_nodes(context.cfg)
    results = context.rpc.call("os_diagnose", nodes, []) if nodes else {}
    return build_os_info(diagnose_by_os(results), context.cfg.get_cluster_info())


def query_os(context, fields, qfilter):
    """Answer Query("os", fields, qfilter)."""
    if qfilter is not None:
        # unknown filter fields fail before the nodes are asked
        query.refuse_unknown_in_filter(OS_FIELDS, qfilter)
    return query.run_query(query.QR_OS, fields, get_os_info(context), None, qfilter)


def legacy_filter(fields, names=None):
    """OP_OS_DIAGNOSE's filter: the named OSes; unless asked for in ``fields``,
    hidden, blacklisted and invalid OSes are left out (as Ganeti does)."""
    name_filter = qlang.make_simple_filter(names or None, namefield="name")
    status = [[qlang.OP_NOT, [qlang.OP_TRUE, fname]]
              for fname in ("hidden", "blacklisted") if fname not in fields]
    if "valid" not in fields:
        status.append([qlang.OP_TRUE, "valid"])
    status_filter = [qlang.OP_AND] + status if status else None
    if name_filter and status_filter:
        return [qlang.OP_AND, name_filter, status_filter]
    return name_filter or status_filter


def check_os_variant(os_desc, full_name):
    """Raise OpPrereqError unless the variant in ``full_name`` suits the OS.

    ``os_desc``: the dict answered by the os_get RPC.
    """
    name, _, variant = full_name.partition(VARIANT_SEP)
    supported = os_desc.get("supported_variants") or []
    if not supported:
        if variant:
            raise errors.OpPrereqError("OS '%s' doesn't support variants ('%s' passed)"
                                       % (name, variant), errors.ECODE_INVAL)
        return
    if not variant:
        raise errors.OpPrereqError("OS name must include a variant", errors.ECODE_INVAL)
    if variant not in supported:
        raise errors.OpPrereqError("Unsupported OS variant", errors.ECODE_INVAL)


def check_node_has_os(lu, node, os_name, force_variant=False):
    """Check that ``node`` has a valid ``os_name`` (and its variant)."""
    result = lu.rpc.call_single("os_get", node, [os_name])
    result.raise_on_failure("OS '%s' not in supported OS list for node %s"
                            % (os_name, node), prereq=True, ecode=errors.ECODE_INVAL)
    if not force_variant:
        check_os_variant(result.data or {}, os_name)
    return result.data


class LUOsDiagnose(NoHooksLU):
    """OP_OS_DIAGNOSE: old-style rows of OS fields (gnt-os in Ganeti 2.x)."""

    REQ_BGL = False

    def check_arguments(self):
        query.refuse_unknown(OS_FIELDS, self.op.output_fields,
                             "Unknown output fields selected: %s")

    def exec(self, feedback_fn):
        qfilter = legacy_filter(self.op.output_fields, self.op.names)
        result = query.run_query(query.QR_OS, self.op.output_fields,
                                 get_os_info(self.context), None, qfilter)
        return query.old_style(result)
