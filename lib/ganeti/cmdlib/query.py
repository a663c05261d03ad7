"""OP_QUERY / OP_QUERY_FIELDS as jobs (the LUXI Query call answers directly)."""

from ganeti import errors, locking, qlang, query
from ganeti.cmdlib.base import NoHooksLU

#: resources whose names given in a plain name filter must exist: (word, names)
_CHECKED_NAMES = {
    query.QR_NODE: ("Node", lambda cfg: list(cfg.get_all_nodes_info())),
    query.QR_INSTANCE: ("Instance", lambda cfg: cfg.get_instance_list()),
    query.QR_GROUP: ("NodeGroup", lambda cfg: [g.name for g in
                                               cfg.get_all_node_groups_info().values()]),
    query.QR_NETWORK: ("Network", lambda cfg: [n.name for n in
                                               cfg.get_all_networks_info().values()]),
}


def requested_names(qfilter, namefield="name", value_type=str):
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
                and term[1] == namefield and isinstance(term[2], value_type)
                and not isinstance(term[2], bool)):
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


def _query_jobs(context, fields, qfilter):
    """As Ganeti: jobs asked for by id come in the order asked, archived ones
    included, an unknown id as a row of unavailable values; otherwise every job
    by id (archived ones, read from disk, only when the caller asks for them)."""
    ids = requested_names(qfilter, "id", int)
    if ids is None:
        rows = context.jqueue.query_jobs(None, query.JOB_FIELD_NAMES,
                                         archived="archived" in fields)
        rows = [row for row in rows if row]
    else:
        found = context.jqueue.query_jobs(ids, query.JOB_FIELD_NAMES)
        rows = [row or query.unknown_job_row(jid) for jid, row in zip(ids, found)]
    return query.run_query(query.QR_JOB, fields, rows, None, qfilter)


# query resource -> (module of cmdlib, its function(context, fields, qfilter));
# imported when asked for, so a query loads only its own module
_QUERY_FUNCTIONS = {
    query.QR_OS: ("operating_system", "query_os"),
    query.QR_INSTANCE: ("instance_query", "query_instances"),
    query.QR_GROUP: ("group", "query_groups"),
    query.QR_NETWORK: ("network", "query_networks"),
    query.QR_FILTER: ("filter", "query_filter_rules"),
    query.QR_EXTSTORAGE: ("extstorage", "query_extstorage"),
    query.QR_EXPORT: ("backup", "query_exports"),
}


def run_resource_query(context, what, fields, qfilter):
    """Answer Query(what, fields, qfilter) for any resource (shared with masterd)."""
    qfilter = _expand_requested_names(context.cfg, what, qfilter)
    if what == query.QR_NODE:
        from ganeti.cmdlib import node
        return node.query_nodes(context, fields, qfilter)
    if what == query.QR_JOB:
        return _query_jobs(context, fields, qfilter)
    if what in _QUERY_FUNCTIONS:
        import importlib
        module, function = _QUERY_FUNCTIONS[what]
        func = getattr(importlib.import_module("ganeti.cmdlib." + module), function)
        return func(context, fields, qfilter)
    if what == query.QR_LOCK:
        return query.run_query(query.QR_LOCK, fields, context.glm.query_locks(), None,
                               qfilter)
    query.get_fields(what)  # raises for unknown resources
    return {"fields": query.query_fields(what, fields)["fields"], "data": []}


#: resources OP_QUERY can read under shared locks (use_locking), with their level
_LOCK_LEVELS = {query.QR_NODE: locking.LEVEL_NODE, query.QR_INSTANCE: locking.LEVEL_INSTANCE}


class LUQuery(NoHooksLU):
    """OP_QUERY; with use_locking, the queried nodes or instances are read under
    shared locks (as Ganeti 2.x), so no job changes them meanwhile."""
    REQ_BGL = False

    def check_arguments(self):
        what = self.op.what
        if self.op.use_locking and what not in _LOCK_LEVELS:
            # Ganeti's message for cluster queries; the other resources have no
            # per-item locks either
            raise errors.OpPrereqError("Can not use locking for %s queries" % what,
                                       errors.ECODE_INVAL)

    def expand_names(self):
        if not self.op.use_locking:
            return
        self.op.qfilter = _expand_requested_names(self.cfg, self.op.what, self.op.qfilter)
        names = requested_names(self.op.qfilter)
        level = _LOCK_LEVELS[self.op.what]
        self.needed_locks[level] = names if names else locking.ALL_SET
        self.share_locks[level] = 1
        if level == locking.LEVEL_INSTANCE:
            self.needed_locks[locking.LEVEL_NODE] = []  # filled in declare_locks
            self.share_locks[locking.LEVEL_NODE] = 1

    def declare_locks(self, level):
        """For instances also lock their nodes, whose live data the query reads."""
        if level != locking.LEVEL_NODE or self.op.what != query.QR_INSTANCE or \
                not self.op.use_locking:
            return
        nodes = set()
        for name in self.glm.list_owned(locking.LEVEL_INSTANCE):
            inst = self.cfg.get_instance_info(name)
            if inst is not None:
                nodes.add(inst.primary_node)
                nodes.update(inst.secondary_nodes)
        self.needed_locks[locking.LEVEL_NODE] = sorted(nodes)

    def exec(self, feedback_fn):
        return run_resource_query(self.context, self.op.what, self.op.fields,
                                  self.op.qfilter)


class LUQueryFields(NoHooksLU):
    REQ_BGL = False

    def exec(self, feedback_fn):
        return query.query_fields(self.op.what, self.op.fields)
