"""OP_QUERY / OP_QUERY_FIELDS as jobs (the LUXI Query call answers directly)."""

from ganeti import errors, qlang, query
from ganeti.cmdlib.base import NoHooksLU

#: resources whose names given in a plain name filter must exist: (word, names)
_CHECKED_NAMES = {
    query.QR_NODE: ("Node", lambda cfg: list(cfg.get_all_nodes_info())),
    query.QR_INSTANCE: ("Instance", lambda cfg: cfg.get_instance_list()),
}


def requested_names(qfilter, namefield="name"):
    """The names of a filter that only lists names (what ``gnt-X list A B`` sends).

    None for any other filter (globs, field tests): those select, they do not
    name items that must exist.
    """
    if not isinstance(qfilter, list) or not qfilter:
        return None
    terms = qfilter[1:] if qfilter[0] == qlang.OP_OR else [qfilter]
    names = []
    for term in terms:
        if not (isinstance(term, list) and len(term) == 3
                and term[0] in (qlang.OP_EQUAL, qlang.OP_EQUAL_LEGACY)
                and term[1] == namefield and isinstance(term[2], str)):
            return None
        names.append(term[2])
    return names or None


def _expand_requested_names(cfg, what, qfilter):
    """The filter with each requested name expanded to its full name.

    As Ganeti: an unknown name fails the query (OpPrereqError, unknown_entity)
    instead of listing nothing; a short name ("node1") finds its item.
    """
    if what not in _CHECKED_NAMES:
        return qfilter
    names = requested_names(qfilter)
    if names is None:
        return qfilter
    from ganeti.utils import text
    word, all_names = _CHECKED_NAMES[what]
    known = all_names(cfg)
    full = []
    for name in names:
        expanded = text.match_name_component(name, known)
        if expanded is None:
            raise errors.OpPrereqError("%s name %s not found" % (word, name),
                                       errors.ECODE_NOENT)
        full.append(expanded)
    return qlang.make_simple_filter(full)


def run_resource_query(context, what, fields, qfilter):
    """Answer Query(what, fields, qfilter) for any resource (shared with masterd)."""
    qfilter = _expand_requested_names(context.cfg, what, qfilter)
    if what == query.QR_NODE:
        from ganeti.cmdlib import node
        return node.query_nodes(context, fields, qfilter)
    if what == query.QR_JOB:
        # archived jobs are read from disk only when the caller asks for them
        archived = "archived" in fields
        rows = context.jqueue.query_jobs(None, query.JOB_FIELD_NAMES, archived=archived)
        return query.run_query(query.QR_JOB, fields, [r for r in rows if r], None, qfilter)
    if what == query.QR_OS:
        from ganeti.cmdlib import operating_system
        return operating_system.query_os(context, fields, qfilter)
    if what == query.QR_INSTANCE:
        from ganeti.cmdlib import instance_query
        return instance_query.query_instances(context, fields, qfilter)
    if what == query.QR_LOCK:
        return query.run_query(query.QR_LOCK, fields, context.glm.query_locks(), None,
                               qfilter)
    query.get_fields(what)  # raises for unknown resources
    return {"fields": query.query_fields(what, fields)["fields"], "data": []}


class LUQuery(NoHooksLU):
    REQ_BGL = False

    def exec(self, feedback_fn):
        return run_resource_query(self.context, self.op.what, self.op.fields,
                                  self.op.qfilter)


class LUQueryFields(NoHooksLU):
    REQ_BGL = False

    def exec(self, feedback_fn):
        return query.query_fields(self.op.what, self.op.fields)
