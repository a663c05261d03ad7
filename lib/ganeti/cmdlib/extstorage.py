"""ExtStorage providers, master side: the "extstorage" query resource and
OP_EXTSTORAGE_DIAGNOSE (gnt-storage diagnose / info).

The online vm_capable nodes report the providers of their search path (RPC
extstorage_diagnose). A provider is valid for a node group when the first
definition of its name is valid on every such node of the group that
answered; its parameters are those its valid definitions have in common.
"""

from ganeti import qlang, query
from ganeti.cmdlib import operating_system
from ganeti.cmdlib.base import NoHooksLU
from ganeti.query import Field, QFT_OTHER, QFT_TEXT
from ganeti.utils import text

QR_EXTSTORAGE = query.QR_EXTSTORAGE


class ExtStorageInfo:
    """One provider as the cluster sees it (the items of an "extstorage" query)."""

    def __init__(self, name, node_status, nodegroup_status, parameters):
        self.name = name
        self.node_status = node_status
        self.nodegroup_status = nodegroup_status
        self.parameters = parameters


def by_provider(results):
    """{node: RpcResult} -> {provider: {node: [[path, status, message, params], ...]}}.

    Every node that answered gets a (maybe empty) list for every provider;
    nodes whose call failed are left out, so that one dead node daemon does
    not make every provider invalid.
    """
    return operating_system.group_by_name(results, _provider_entry)


def _provider_entry(entry):
    name, path, status, message, params = entry
    return name, [path, bool(status), message, [list(p) for p in params or []]]


def _group_status(node_status, groups, node_group):
    """{group name: valid} for one provider: False as soon as one reporting
    node of the group lacks a valid definition."""
    result = dict((group.name, True) for group in groups.values())
    for node, entries in node_status.items():
        group = groups.get(node_group.get(node))
        if group is not None and not (entries and entries[0][1]):
            result[group.name] = False
    return result


def _common_parameters(node_status):
    """The (name, description) pairs every valid first definition has."""
    firsts = [entries[0] for entries in node_status.values() if entries and entries[0][1]]
    if not firsts:
        return []
    common = set(tuple(p) for p in firsts[0][3])
    for entry in firsts[1:]:
        common &= set(tuple(p) for p in entry[3])
    return [list(p) for p in sorted(common)]


def build_info(providers, groups, node_group):
    """ExtStorageInfo objects, nicely sorted by provider name."""
    return [ExtStorageInfo(name, providers[name],
                           _group_status(providers[name], groups, node_group),
                           _common_parameters(providers[name]))
            for name in text.nice_sort(providers)]


# (name = ExtStorageInfo attribute, title, kind, description), Ganeti's fields
_FIELD_SPECS = [
    ("name", "Name", QFT_TEXT, "ExtStorage provider name"),
    ("node_status", "NodeStatus", QFT_OTHER, "Status from node"),
    ("nodegroup_status", "NodegroupStatus", QFT_OTHER, "Overall Nodegroup status"),
    ("parameters", "Parameters", QFT_OTHER, "ExtStorage provider parameters"),
]
EXTSTORAGE_FIELDS = dict(
    (name, Field(name, title, kind, doc, lambda ctx, item, attr=name: getattr(item, attr)))
    for name, title, kind, doc in _FIELD_SPECS)
query.register_resource(QR_EXTSTORAGE, EXTSTORAGE_FIELDS)


def get_info(context):
    """Ask the online vm_capable nodes; the list of ExtStorageInfo."""
    cfg = context.cfg
    nodes = operating_system.diagnose_nodes(cfg)
    results = context.rpc.call("extstorage_diagnose", nodes, []) if nodes else {}
    node_group = dict((name, node.group) for name, node in cfg.get_all_nodes_info().items())
    return build_info(by_provider(results), cfg.get_all_node_groups_info(), node_group)


def query_extstorage(context, fields, qfilter):
    """Answer Query("extstorage", fields, qfilter)."""
    if qfilter is not None:
        # unknown filter fields fail before the nodes are asked
        query.refuse_unknown_in_filter(EXTSTORAGE_FIELDS, qfilter)
    return query.run_query(QR_EXTSTORAGE, fields, get_info(context), None, qfilter)


class LUExtStorageDiagnose(NoHooksLU):
    """OP_EXTSTORAGE_DIAGNOSE: old-style rows of provider fields."""

    REQ_BGL = False

    def check_arguments(self):
        query.refuse_unknown(EXTSTORAGE_FIELDS, self.op.output_fields,
                             "Unknown output fields selected: %s")

    def exec(self, feedback_fn):
        qfilter = qlang.make_simple_filter(self.op.names or None, namefield="name")
        return query.old_style(query_extstorage(self.context, self.op.output_fields,
                                                qfilter))
