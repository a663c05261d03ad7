"""OP_QUERY / OP_QUERY_FIELDS as jobs (the LUXI Query call answers directly)."""

from ganeti import query
from ganeti.cmdlib.base import NoHooksLU


def run_resource_query(context, what, fields, qfilter):
    """Answer Query(what, fields, qfilter) for any resource (shared with masterd)."""
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
