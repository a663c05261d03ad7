"""Job filter rules in the configuration: the LUXI calls ReplaceFilter,
DeleteFilter and QueryFilters, and the query resource "filter".

As in Ganeti 3.0 these are not jobs: the master daemon changes the
configuration at once and hands the rules to the job queue, which judges the
queued jobs by them again (jqueue.filtering).
"""

import re
import threading
import time

from ganeti import errors, objects, query
from ganeti.jqueue import filtering

_UUID_RE = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$")
#: the reason trail entry the master adds to every rule it stores
_MASTER_REASON_SOURCE = "luxid"

# one change at a time: the queue gets the rules in the order they were stored
_CHANGE_LOCK = threading.Lock()

# Ganeti's query daemon describes every field as of kind "other"
FILTER_FIELDS = query.fields_table([
    query.Field("action", "Action", query.QFT_OTHER, "Filter action",
                lambda c, r: r.action),
    query.Field("predicates", "Predicates", query.QFT_OTHER, "List of filter predicates",
                lambda c, r: r.predicates),
    query.Field("priority", "Priority", query.QFT_OTHER, "Filter priority",
                lambda c, r: r.priority),
    query.Field("reason_trail", "ReasonTrail", query.QFT_OTHER,
                "Reason why this filter was added", lambda c, r: r.reason_trail),
    query.Field("uuid", "UUID", query.QFT_OTHER, "Filter ID", lambda c, r: r.uuid),
    query.Field("watermark", "Watermark", query.QFT_OTHER,
                "Highest job ID used at the time when the filter was added",
                lambda c, r: r.watermark),
])
query.register_resource(query.QR_FILTER, FILTER_FIELDS)


def _rules_by_uuid(cfg):
    rules = cfg.get_filters()
    return [rules[uuid] for uuid in sorted(rules)]


def query_filter_rules(context, fields, qfilter):
    """Query("filter", fields, qfilter): the rules by UUID. Names that match no
    rule select nothing (Ganeti does not call them unknown)."""
    return query.run_query(query.QR_FILTER, fields, _rules_by_uuid(context.cfg), None,
                           qfilter)


def query_filters(context, uuids, fields):
    """QueryFilters: rows of plain values; unknown UUIDs are left out."""
    from ganeti import qlang
    qfilter = qlang.make_simple_filter(uuids, namefield="uuid") if uuids else None
    return query.old_style(query_filter_rules(context, fields, qfilter))


def load_rules(context):
    """Hand the configuration's rules to the job queue (at master start, and
    after every change)."""
    context.jqueue.set_filters([rule.to_dict() for rule in _rules_by_uuid(context.cfg)])


def replace_filter(context, uuid, priority, predicates, action, reason):
    """ReplaceFilter: store a rule under ``uuid`` (None: a new UUID), replacing
    the rule there; returns the UUID. The watermark is the highest job id now."""
    try:
        priority, predicates, action, reason = filtering.parse_request(
            uuid, priority, predicates, action, reason)
    except filtering.ParseError as err:
        raise errors.ProtocolError("Failed to parse request: Cannot convert value '%s',"
                                   " error: %s" % (filtering.pp_value(
                                       [uuid, priority, predicates, action, reason]), err))
    if uuid is None:
        uuid = objects.new_uuid()
    elif not _UUID_RE.match(uuid):
        raise errors.GenericError("Unable to parse UUID")
    # nanoseconds, with the microsecond precision of Ganeti's reason trails
    stamp = time.time_ns() // 1000 * 1000
    with _CHANGE_LOCK:
        rule = objects.FilterRule(
            uuid=uuid, watermark=context.jqueue.last_job_id(), priority=priority,
            predicates=predicates, action=action,
            reason_trail=reason + [[_MASTER_REASON_SOURCE, "", stamp]])
        context.cfg.set_filter(rule)
        load_rules(context)
    return uuid


def delete_filter(context, uuid):
    """DeleteFilter: remove a rule; jobs it held back are judged again."""
    with _CHANGE_LOCK:
        if uuid not in context.cfg.get_filters():
            raise errors.GenericError("Filter rule with UUID %s does not exist" % uuid)
        context.cfg.remove_filter(uuid)
        load_rules(context)
    return None
