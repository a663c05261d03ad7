"""Job filter rules (gnt-filter): reading them, and judging queued jobs by them.

A rule is ``{uuid, watermark, priority, predicates, action, reason_trail}``
(objects.FilterRule in the configuration). The queue asks ``RuleSet`` which
rule applies to a job that has not started yet: the first rule, in the order
(priority, watermark, uuid), whose predicates all hold and whose action is not
CONTINUE. A predicate is ``[name, filter]``, the filter in the query language
(qlang) over:

- ``jobid``: the field ``id`` (the job's id); a value "watermark" stands for
  the rule's watermark;
- ``opcode``: the fields of an opcode (``OP_ID`` and its own parameters, dotted
  names reach into dicts); holds if one opcode of the job matches;
- ``reason``: ``source``, ``reason`` and ``timestamp`` of a reason trail entry;
  holds if one entry of one opcode matches.

As in Ganeti, ``jobid`` and ``reason`` filters know only comparisons (a
regular expression, "contains" or a truth test there never matches), and a
filter that cannot be evaluated for an item (a missing field, a value of the
wrong type) does not match it.

Reading (``parse_request``) follows Ganeti's parser of the LUXI call
ReplaceFilter: the canonical form is stored (``=`` becomes ``==``, ``!=``
becomes a negated ``==``) and a malformed rule is refused with Ganeti's words.

Besides the rules, a reason text ``rate-limit:N:LABEL`` in a job's reason
trail lets at most N jobs with that text run at once (Ganeti's ad-hoc rate
limiting); ``adhoc_buckets`` finds them.
"""

import json
import re

from ganeti import opcodes

ACCEPT = "ACCEPT"
PAUSE = "PAUSE"
REJECT = "REJECT"
CONTINUE = "CONTINUE"
RATE_LIMIT = "RATE_LIMIT"
SIMPLE_ACTIONS = (ACCEPT, PAUSE, REJECT, CONTINUE)

PRED_JOBID = "jobid"
PRED_OPCODE = "opcode"
PRED_REASON = "reason"
PREDICATES = (PRED_JOBID, PRED_OPCODE, PRED_REASON)

WATERMARK = "watermark"

_EQ = "=="
_EQ_LEGACY = "="
_NE = "!="
_COMPARISONS = {
    _EQ: lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_REGEXP = "=~"
_CONTAINS = "=[]"
_TRUE = "?"
_NOT = "!"
_AND = "&"
_OR = "|"

#: opcode parameters every opcode has; Ganeti keeps them outside the opcode
#: proper, so opcode predicates do not see them
_META_PARAMS = frozenset(name for name, _, _, _ in opcodes.COMMON_PARAMS)

_ADHOC_RE = re.compile(r"^rate-limit:(\d+)(:|$)")


class ParseError(ValueError):
    """A rule or one of its parts is malformed (the text is Ganeti's)."""


def pp_value(value):
    """A JSON value as Ganeti's messages show it (items separated by ', ')."""
    return json.dumps(value, ensure_ascii=False)


def _compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_int(value):
    return (isinstance(value, int) and not isinstance(value, bool)) or \
        (isinstance(value, float) and value.is_integer())


# ---- reading ------------------------------------------------------------------

def _read_string(value):
    if not isinstance(value, str):
        raise ParseError("Unable to read String")
    return value


def _read_value(value):
    """A filter value: a string or an integer."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not _is_int(value):
            raise ParseError("Cannot deserialise numeric filter value, expecting integral"
                             " but got a fractional value: %s" % value)
        return int(value)
    raise ParseError("Cannot deserialise filter value, expecting string or integer,"
                     " got %s" % pp_value(value))


def _read_regexp(value):
    regexp = _read_string(value)
    try:
        re.compile(regexp)
    except re.error as err:
        raise ParseError("Invalid regular expression '%s': %s" % (regexp, err))
    return regexp


def parse_filter(value, depth=0):
    """The canonical form of a query-language filter (None: always true)."""
    if depth > 100:
        raise ParseError("Filter nested too deeply")
    if value is None:
        return None
    if not (isinstance(value, list) and value and isinstance(value[0], str)):
        raise ParseError("Cannot deserialise filter: expected array [string, args], got %s"
                         % pp_value(value))
    op, args = value[0], value[1:]
    if op in (_AND, _OR):
        return [op] + [parse_filter(arg, depth + 1) for arg in args]
    if op == _NOT:
        if len(args) != 1:
            raise ParseError("Cannot deserialise field, expected [filter] but got %s"
                             % pp_value(args))
        return [_NOT, parse_filter(args[0], depth + 1)]
    if op == _TRUE:
        if len(args) != 1:
            raise ParseError("Cannot deserialise field, expected [fieldname] but got %s"
                             % pp_value(args))
        return [_TRUE, _read_string(args[0])]
    if op in _COMPARISONS or op in (_EQ_LEGACY, _NE, _REGEXP, _CONTAINS):
        if len(args) != 2:
            raise ParseError("Cannot deserialise field/value pair, expected [fieldname,"
                             " value] but got %s" % pp_value(args))
        field = _read_string(args[0])
        if op == _REGEXP:
            return [_REGEXP, field, _read_regexp(args[1])]
        term = [_EQ if op in (_EQ_LEGACY, _NE) else op, field, _read_value(args[1])]
        return [_NOT, term] if op == _NE else term
    raise ParseError("Unknown filter operand '%s'" % op)


def parse_predicate(value):
    """``[name, filter]`` in canonical form."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        name, params = value[0], value[1:]
        if len(params) == 1 and name in PREDICATES:
            return [name, parse_filter(params[0])]
        raise ParseError("malformed FilterPredicate: bad parameter list for '%s'"
                         " predicate: %s" % (name, _compact(params)))
    raise ParseError("malformed FilterPredicate: must be a list with the first entry"
                     " being a string describing the predicate type")


def parse_predicates(value):
    if not isinstance(value, list):
        raise ParseError("Unable to read list")
    return [parse_predicate(pred) for pred in value]


def parse_action(value):
    """ACCEPT, PAUSE, REJECT, CONTINUE (case matters) or ["RATE_LIMIT", n > 0]."""
    if isinstance(value, str) and value in SIMPLE_ACTIONS:
        return value
    if isinstance(value, list) and value and value[0] == RATE_LIMIT:
        rest = value[1:]
        if len(rest) == 1 and _is_int(rest[0]) and rest[0] > 0:
            return [RATE_LIMIT, int(rest[0])]
        raise ParseError("RATE_LIMIT argument must be a positive integer")
    raise ParseError("malformed FilterAction JSON: %s" % _compact(value))


def parse_priority(value):
    if not _is_int(value):
        raise ParseError("Unable to read Int")
    if value < 0:
        raise ParseError("Invalid value for non-negative type '%d'" % value)
    return int(value)


def parse_reason_trail(value):
    """[[source, text, timestamp in ns], ...]"""
    if not isinstance(value, list):
        raise ParseError("Unable to read list")
    trail = []
    for entry in value:
        if not (isinstance(entry, list) and len(entry) == 3
                and isinstance(entry[0], str) and isinstance(entry[1], str)
                and _is_int(entry[2])):
            raise ParseError("Unable to read reason trail entry %s: expected [source,"
                             " reason, timestamp]" % pp_value(entry))
        trail.append([entry[0], entry[1], int(entry[2])])
    return trail


def parse_request(uuid, priority, predicates, action, reason):
    """The checked, canonical (priority, predicates, action, reason trail) of a
    ReplaceFilter call; ParseError names the first bad part, in Ganeti's order."""
    if uuid is not None:
        _read_string(uuid)
    return (parse_priority(priority), parse_predicates(predicates), parse_action(action),
            parse_reason_trail(reason))


# ---- evaluation ---------------------------------------------------------------

class _Undecided(Exception):
    """The filter can not be evaluated for this item (it does not match)."""


def _evaluate(qfilter, leaf):
    """Evaluate a canonical filter; ``leaf(op, field, value)`` judges the
    leaves. Logic stops at the first deciding operand, as Ganeti's does."""
    if qfilter is None:
        return True
    op = qfilter[0]
    if op == _AND:
        for sub in qfilter[1:]:
            if not _evaluate(sub, leaf):
                return False
        return True
    if op == _OR:
        for sub in qfilter[1:]:
            if _evaluate(sub, leaf):
                return True
        return False
    if op == _NOT:
        return not _evaluate(qfilter[1], leaf)
    if op == _TRUE:
        return leaf(op, qfilter[1], None)
    return leaf(op, qfilter[1], qfilter[2])


def _filter_value_key(value):
    """Order of Ganeti's filter values: every string before every number."""
    return (0, value) if isinstance(value, str) else (1, value)


def _compare_only(getter):
    """A leaf judge for reason filters: comparisons of filter values only;
    ``getter(field)`` gives the item's value."""
    def leaf(op, field, value):
        compare = _COMPARISONS.get(op)
        if compare is None:
            raise _Undecided()
        return compare(_filter_value_key(getter(field)), _filter_value_key(value))
    return leaf


def _json_key(value):
    """Order of JSON values as Ganeti compares them: by kind (null, bool,
    number, string, array, object), then by value."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, (list, tuple)):
        return (4, [_json_key(v) for v in value])
    if isinstance(value, dict):
        return (5, sorted((k, _json_key(v)) for k, v in value.items()))
    return (6, repr(value))


def _opcode_leaf(fields):
    def leaf(op, field, value):
        current = fields(field)
        if op in _COMPARISONS:
            return _COMPARISONS[op](_json_key(current), _json_key(value))
        if op == _TRUE:
            if not isinstance(current, bool):
                raise _Undecided()
            return current
        if op == _REGEXP:
            if not isinstance(current, str):
                raise _Undecided()
            return re.search(value, current) is not None
        # contains: a list of strings (or of integers, for an integer value)
        wanted = str if isinstance(value, str) else int
        if not isinstance(current, list) or \
                not all(isinstance(v, wanted) and not isinstance(v, bool) for v in current):
            raise _Undecided()
        return value in current
    return leaf


def _dotted(data, path):
    """The value at a dotted path of nested dicts; _Undecided if absent."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            raise _Undecided()
        data = data[part]
    return data


def _filter_fields(qfilter):
    if qfilter is None:
        return
    op = qfilter[0]
    if op in (_AND, _OR):
        for sub in qfilter[1:]:
            yield from _filter_fields(sub)
    elif op == _NOT:
        yield from _filter_fields(qfilter[1])
    else:
        yield qfilter[1]


def opcode_view(op_input):
    """An opcode as opcode predicates see it: OP_ID and its own parameters,
    defaults filled in."""
    try:
        data = opcodes.OpCode.from_dict(dict(op_input)).to_dict()
    except Exception:  # an opcode stored by an older version: take it as it is
        data = dict(op_input)
    return dict((k, v) for k, v in data.items() if k not in _META_PARAMS)


class JobFacts:
    """What predicates look at in a job: its id, its opcodes (made when first
    needed), its reasons, and its ad-hoc rate limits (``adhoc_buckets``)."""

    __slots__ = ("job_id", "_inputs", "_opcodes", "reasons", "buckets")

    def __init__(self, job_id, op_inputs):
        self.job_id = job_id
        self._inputs = op_inputs
        self._opcodes = None
        self.reasons = [entry for data in op_inputs for entry in data.get("reason") or []
                        if isinstance(entry, (list, tuple)) and len(entry) == 3]
        self.buckets = adhoc_buckets(self.reasons)

    @property
    def opcodes(self):
        if self._opcodes is None:
            self._opcodes = [opcode_view(data) for data in self._inputs]
        return self._opcodes


def _match_jobid(facts, qfilter, watermark):
    def leaf(op, field, value):
        compare = _COMPARISONS.get(op)
        if compare is None or field != "id" or \
                (isinstance(value, str) and value != WATERMARK):
            raise _Undecided()
        return compare(facts.job_id, watermark if isinstance(value, str) else value)
    return _decided(qfilter, leaf)


def _match_opcode(facts, qfilter):
    fields = list(_filter_fields(qfilter))
    for view in facts.opcodes:
        try:
            values = dict((field, _dotted(view, field)) for field in fields)
        except _Undecided:
            continue        # a field the opcode lacks: this opcode does not match
        if _decided(qfilter, _opcode_leaf(values.get)):
            return True
    return False


def _match_reason(facts, qfilter):
    for source, text, stamp in facts.reasons:
        entry = {"source": source, "reason": text, "timestamp": stamp}

        def value_of(field, entry=entry):
            if field not in entry:
                raise _Undecided()
            return entry[field]
        if _decided(qfilter, _compare_only(value_of)):
            return True
    return False


def _decided(qfilter, leaf):
    try:
        return _evaluate(qfilter, leaf)
    except _Undecided:
        return False


def predicate_holds(facts, predicate, watermark):
    name, qfilter = predicate
    if name == PRED_JOBID:
        return _match_jobid(facts, qfilter, watermark)
    if name == PRED_OPCODE:
        return _match_opcode(facts, qfilter)
    if name == PRED_REASON:
        return _match_reason(facts, qfilter)
    return False


class Rule:
    """One rule as the queue uses it."""

    __slots__ = ("uuid", "watermark", "priority", "predicates", "action")

    def __init__(self, data):
        self.uuid = data["uuid"]
        self.watermark = int(data.get("watermark") or 0)
        self.priority = int(data.get("priority") or 0)
        self.predicates = data.get("predicates") or []
        self.action = data.get("action") or CONTINUE

    def order(self):
        return (self.priority, self.watermark, self.uuid)

    def matches(self, facts):
        return all(predicate_holds(facts, pred, self.watermark)
                   for pred in self.predicates)

    def kind(self):
        """The action's name (RATE_LIMIT for ["RATE_LIMIT", n])."""
        return self.action[0] if isinstance(self.action, list) else self.action

    def limit(self):
        return self.action[1] if isinstance(self.action, list) else None

    def key(self):
        return (self.order(), json.dumps(self.predicates, sort_keys=True),
                json.dumps(self.action))


class RuleSet:
    """The rules in evaluation order."""

    def __init__(self, rules=()):
        self.rules = sorted((r if isinstance(r, Rule) else Rule(r) for r in rules),
                            key=Rule.order)

    def __bool__(self):
        return bool(self.rules)

    def __eq__(self, other):
        return isinstance(other, RuleSet) and \
            [r.key() for r in self.rules] == [r.key() for r in other.rules]

    def applying(self, facts):
        """The first matching rule whose action is not CONTINUE, or None."""
        for rule in self.rules:
            if rule.kind() != CONTINUE and rule.matches(facts):
                return rule
        return None


def adhoc_buckets(reasons):
    """{bucket: limit} of the ``rate-limit:N:...`` texts of reason trail entries
    (the bucket is the text after "rate-limit:")."""
    buckets = {}
    for _, text, _ in reasons:
        match = _ADHOC_RE.match(text) if isinstance(text, str) else None
        if match and int(match.group(1)) > 0:
            buckets[text[len("rate-limit:"):]] = int(match.group(1))
    return buckets
