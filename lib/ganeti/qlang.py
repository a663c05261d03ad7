"""The query filter language: parsing (-F text) and evaluation (list form).

A filter is a list whose first item is an operator (cli.md 0.7):

* logic: ``["&", f1, f2, ...]``, ``["|", f1, ...]``, ``["!", f]``
* truth of a field: ``["?", field]``
* binary: ``[op, field, value]`` with op one of ``=``/``==`` (equal), ``!=``,
  ``<``, ``<=``, ``>``, ``>=``, ``=~`` (regular expression search) and ``=[]``
  (the list-valued field contains value).

``parse_filter`` turns the text form (``name =~ m/^web/ and not offline``) into
the list form; ``compile_filter``/``filter_matches`` evaluate it. pyparsing is
imported only when text is parsed, so commands that do not filter stay fast.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable

from ganeti import errors
from ganeti.utils import text as text_utils

OP_OR = "|"
OP_AND = "&"
OP_NOT = "!"
OP_TRUE = "?"
OP_EQUAL = "="
OP_EQUAL_LEGACY = "=="
OP_NOT_EQUAL = "!="
OP_LT = "<"
OP_LE = "<="
OP_GT = ">"
OP_GE = ">="
OP_REGEXP = "=~"
OP_CONTAINS = "=[]"

LOGIC_OPS = frozenset([OP_OR, OP_AND])
UNARY_OPS = frozenset([OP_NOT, OP_TRUE])
COMPARE_OPS = frozenset([OP_LT, OP_LE, OP_GT, OP_GE])
BINARY_OPS = frozenset([OP_EQUAL, OP_EQUAL_LEGACY, OP_NOT_EQUAL, OP_REGEXP,
                        OP_CONTAINS]) | COMPARE_OPS
ALL_OPS = LOGIC_OPS | UNARY_OPS | BINARY_OPS

#: characters telling that a command argument is a filter, not a name
FILTER_DETECTION_CHARS = frozenset("()=/!~'\"\\<>" + string.whitespace)
#: characters telling that a name argument is a glob pattern
GLOB_DETECTION_CHARS = frozenset("*?")
#: fields whose "=" comparison also accepts a short host name (node1 for
#: node1.example.com), case-insensitively, as Ganeti's name fields do
DEFAULT_HOSTNAME_FIELDS = frozenset(["name", "pnode", "node"])

_REGEXP_DELIMS = "/#^|"
_REGEXP_FLAGS = frozenset("si")
_PARSER = None


# ---- helpers shared by the parser and the name filters ------------------------

def _error(msg: str) -> errors.OpPrereqError:
    return errors.OpPrereqError(msg, errors.ECODE_INVAL)


def dns_glob_pattern(pattern: str) -> str:
    """A host name glob as an anchored regular expression.

    ``*`` and ``?`` do not cross a dot and a trailing domain is optional:
    ``web?`` matches ``web1`` and ``web1.example.com``, not ``web12``.
    """
    parts = []
    for char in pattern:
        if char == "*":
            parts.append("[^.]*")
        elif char == "?":
            parts.append("[^.]")
        else:
            parts.append(re.escape(char))
    return "^%s(\\..*)?$" % "".join(parts)


def is_filter_text(arg: str) -> bool:
    """Whether a command argument looks like a filter expression."""
    return bool(FILTER_DETECTION_CHARS.intersection(arg))


def is_glob(arg: str) -> bool:
    """Whether a name argument is a glob pattern."""
    return bool(GLOB_DETECTION_CHARS.intersection(arg))


def _name_part(namefield, name, isnumeric):
    if isinstance(name, str) and is_glob(name):
        return [OP_REGEXP, namefield, dns_glob_pattern(name)]
    if isnumeric and isinstance(name, str):
        try:
            name = int(name)
        except ValueError:
            raise _error("Invalid value '%s' for %s: a number is expected"
                         % (name, namefield))
    return [OP_EQUAL, namefield, name]


def make_simple_filter(names: Iterable | None, namefield: str = "name",
                       isnumeric: bool = False) -> list | None:
    """An "any of these names" filter; globs become regexp matches."""
    if not names:
        return None
    return [OP_OR] + [_name_part(namefield, name, isnumeric) for name in names]


def make_filter(args: list[str] | None, force_filter: bool, namefield: str = "name",
                isnumeric: bool = False) -> list | None:
    """The filter for a list command's arguments (names, globs or one filter)."""
    if force_filter or (args and len(args) == 1 and is_filter_text(args[0])):
        if not args or len(args) != 1:
            raise _error("Exactly one argument must be given as a filter")
        return parse_filter(args[0])
    return make_simple_filter(args, namefield=namefield, isnumeric=isnumeric)


# ---- parsing -----------------------------------------------------------------

def _to_list(value):
    """Plain nested lists out of pyparsing results."""
    if isinstance(value, (list, tuple)) or hasattr(value, "as_list"):
        return [_to_list(item) for item in value]
    return value


def _number(text):
    return float(text) if "." in text else int(text)


def _unquote(text):
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _regexp_value(pp, text, loc):
    """'m/re/flags' -> '(?flags)re', checked to compile."""
    body = text[1:] if text.startswith("m") else text
    delim = body[0]
    end = body.rindex(delim)
    regexp = body[1:end].replace("\\" + delim, delim)
    flags = body[end + 1:]
    unknown = set(flags) - _REGEXP_FLAGS
    if unknown:
        raise pp.ParseFatalException(
            text, loc, "Unknown regular expression flags: '%s'" % "".join(sorted(unknown)))
    if flags:
        regexp = "(?%s)%s" % ("".join(sorted(set(flags))), regexp)
    try:
        re.compile(regexp)
    except re.error as err:
        raise pp.ParseFatalException(text, loc, "Invalid regular expression (%s)" % err)
    return regexp


def _build_parser():
    """The pyparsing grammar of the filter language."""
    import pyparsing as pp

    ident_chars = pp.alphanums + "_/."

    def keyword(word):
        return pp.Keyword(word, ident_chars=ident_chars)

    kw_and, kw_or, kw_not, kw_in = (keyword(w) for w in ("and", "or", "not", "in"))
    field = ~(kw_and | kw_or | kw_not | kw_in) + pp.Word(pp.alphas, ident_chars)

    number = pp.Regex(r"[+-]?\d+(?:\.\d+)?(?![\w.])")
    number.set_parse_action(lambda t: _number(t[0]))
    qstring = pp.Regex(r'"(?:[^"\\]|\\.)*"') | pp.Regex(r"'(?:[^'\\]|\\.)*'")
    qstring.set_parse_action(lambda t: _unquote(t[0]))
    boolean = keyword("true") | keyword("false")
    boolean.set_parse_action(lambda t: t[0] == "true")
    rval = number | qstring | boolean

    regexp_alts = []
    for delim in _REGEXP_DELIMS:
        esc = re.escape(delim)
        regexp_alts.append(pp.Regex(r"m?%s(?:[^%s\\]|\\.)*%s[a-zA-Z]*" % (esc, esc, esc)))
    regexp_val = pp.MatchFirst(regexp_alts)
    regexp_val.set_parse_action(lambda s, loc, t: _regexp_value(pp, t[0], loc))

    def cond(expr, build):
        expr.set_parse_action(lambda t: [build(*_to_list(t))])
        return expr

    sup = pp.Suppress
    condition = (
        cond(field + sup("=~") + regexp_val, lambda f, v: [OP_REGEXP, f, v])
        | cond(field + sup("!~") + regexp_val, lambda f, v: [OP_NOT, [OP_REGEXP, f, v]])
        | cond(field + sup("=*") + qstring,
               lambda f, v: [OP_REGEXP, f, dns_glob_pattern(v)])
        | cond(field + sup("!*") + qstring,
               lambda f, v: [OP_NOT, [OP_REGEXP, f, dns_glob_pattern(v)]])
        | cond(field + pp.one_of("== != <= >= < >") + rval, lambda f, o, v: [o, f, v])
        | cond(rval + sup(kw_not) + sup(kw_in) + field,
               lambda v, f: [OP_NOT, [OP_CONTAINS, f, v]])
        | cond(rval + sup(kw_in) + field, lambda v, f: [OP_CONTAINS, f, v])
        | cond(field.copy(), lambda f: [OP_TRUE, f])
    )

    def logic(op):
        def action(tokens):
            operands = _to_list(tokens)
            return [operands[0]] if len(operands) == 1 else [[op] + operands]
        return action

    # plain recursive descent (not infix_notation): linear time on nesting
    or_expr = pp.Forward()
    not_expr = pp.Forward()
    atom = condition | (sup("(") + or_expr + sup(")"))
    negation = (sup(kw_not) + not_expr).set_parse_action(
        lambda t: [[OP_NOT, _to_list(t[0])]])
    not_alternatives = negation | atom
    not_expr <<= not_alternatives
    and_expr = (not_expr + pp.ZeroOrMore(sup(kw_and) + not_expr)).set_parse_action(
        logic(OP_AND))
    or_expr <<= (and_expr + pp.ZeroOrMore(sup(kw_or) + and_expr)).set_parse_action(
        logic(OP_OR))
    for element in (condition, atom, not_alternatives, not_expr, or_expr):
        element.set_name("condition")
    expr = or_expr
    parser = pp.StringStart() + expr + pp.StringEnd()
    parser.parse_with_tabs()
    return parser


def parse_filter(text: str) -> list:
    """Parse the text form of a filter into the list form.

    Raises OpPrereqError (ECODE_INVAL) describing the position of the problem.
    """
    global _PARSER  # pylint: disable=global-statement
    import pyparsing as pp
    if _PARSER is None:
        _PARSER = _build_parser()
    try:
        result = _PARSER.parse_string(text, parse_all=True)
    except pp.ParseBaseException as err:
        msg = err.msg
        if msg == "Expected condition" or msg.startswith("Expected {"):
            msg = "Expected a condition"
        rest = text[err.loc:].split()
        if isinstance(err, pp.ParseFatalException):
            where = " (at char %d)" % err.loc
        elif rest:
            where = ", found '%s' (at char %d)" % (rest[0], err.loc)
        else:
            where = ", at end of text"
        raise _error("Failed to parse query filter '%s': %s%s" % (text, msg, where))
    except RecursionError:
        raise _error("Failed to parse query filter '%s': nested too deeply" % text)
    return _to_list(result[0])


# ---- validation ---------------------------------------------------------------

def _check_field(qfilter, name, known_fields):
    if not isinstance(name, str) or not name:
        raise _error("Invalid query filter %r: field name must be a non-empty"
                     " string" % (qfilter,))
    if known_fields is not None and name not in known_fields:
        raise _error("Unknown field '%s' in query filter" % name)


def validate_filter(qfilter: object, known_fields: Iterable[str] | None = None) -> set:
    """Check a list-form filter; returns the names of the fields it uses.

    Raises OpPrereqError (ECODE_INVAL) naming the problem. With
    ``known_fields``, fields outside that set are refused too.
    """
    if known_fields is not None and not isinstance(known_fields, (set, frozenset, dict)):
        known_fields = frozenset(known_fields)
    used = set()
    _validate(qfilter, known_fields, used, 0)
    return used


def _validate(qfilter, known_fields, used, depth):
    if depth > 100:
        raise _error("Query filter is nested too deeply")
    if not isinstance(qfilter, (list, tuple)) or not qfilter:
        raise _error("Invalid query filter %r: expected a non-empty list" % (qfilter,))
    op = qfilter[0]
    if not isinstance(op, str) or op not in ALL_OPS:
        raise _error("Invalid query filter: unknown operator %r" % (op,))
    operands = qfilter[1:]
    if op in LOGIC_OPS:
        for sub in operands:
            _validate(sub, known_fields, used, depth + 1)
    elif op == OP_NOT:
        if len(operands) != 1:
            raise _error("Invalid query filter: operator '!' takes exactly one filter,"
                         " got %d operand(s)" % len(operands))
        _validate(operands[0], known_fields, used, depth + 1)
    elif op == OP_TRUE:
        if len(operands) != 1:
            raise _error("Invalid query filter: operator '?' takes exactly one field"
                         " name, got %d operand(s)" % len(operands))
        _check_field(qfilter, operands[0], known_fields)
        used.add(operands[0])
    else:
        if len(operands) != 2:
            raise _error("Invalid query filter: operator '%s' takes a field name and a"
                         " value, got %d operand(s)" % (op, len(operands)))
        _check_field(qfilter, operands[0], known_fields)
        used.add(operands[0])
        value = operands[1]
        if op == OP_REGEXP:
            if not isinstance(value, str):
                raise _error("Invalid query filter: regular expression must be a string,"
                             " got %r" % (value,))
            try:
                re.compile(value)
            except re.error as err:
                raise _error("Invalid regular expression '%s' in query filter: %s"
                             % (value, err))
        elif isinstance(value, (list, dict)):
            raise _error("Invalid query filter: value for '%s' must be a string, number"
                         " or boolean, got %r" % (op, value))


# ---- evaluation ---------------------------------------------------------------

def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce(lhs, rhs):
    """Make a field value and a filter value comparable.

    Timestamps ([sec, usec]) compare as float seconds; numeric strings compare
    with numbers (``id == "5"``).
    """
    if (isinstance(lhs, (list, tuple)) and len(lhs) == 2 and all(map(_is_number, lhs))
            and _is_number(rhs)):
        return lhs[0] + lhs[1] / 1e6, rhs
    if _is_number(lhs) and isinstance(rhs, str):
        try:
            return lhs, _number(rhs.strip())
        except ValueError:
            return lhs, rhs
    if isinstance(lhs, str) and _is_number(rhs):
        try:
            return _number(lhs.strip()), rhs
        except ValueError:
            return lhs, rhs
    return lhs, rhs


def _equal(lhs, rhs):
    lhs, rhs = _coerce(lhs, rhs)
    return lhs == rhs


def _hostname_equal(lhs, rhs):
    if isinstance(lhs, str) and isinstance(rhs, str):
        return lhs == rhs or text_utils.match_name_component(
            rhs, [lhs], case_sensitive=False) is not None
    return _equal(lhs, rhs)


_COMPARE = {
    OP_LT: lambda a, b: a < b,
    OP_LE: lambda a, b: a <= b,
    OP_GT: lambda a, b: a > b,
    OP_GE: lambda a, b: a >= b,
}


def _compile(qfilter, hostname_fields):
    """A function getter -> bool for an already validated filter."""
    op = qfilter[0]
    if op in LOGIC_OPS:
        subs = [_compile(sub, hostname_fields) for sub in qfilter[1:]]
        combine = any if op == OP_OR else all
        return lambda get: combine(sub(get) for sub in subs)
    if op == OP_NOT:
        sub = _compile(qfilter[1], hostname_fields)
        return lambda get: not sub(get)
    field = qfilter[1]
    if op == OP_TRUE:
        return lambda get: bool(get(field))
    value = qfilter[2]
    if op in (OP_EQUAL, OP_EQUAL_LEGACY, OP_NOT_EQUAL):
        equal = _hostname_equal if field in hostname_fields else _equal
        if op == OP_NOT_EQUAL:
            return lambda get: not equal(get(field), value)
        return lambda get: equal(get(field), value)
    if op == OP_REGEXP:
        search = re.compile(value).search

        def match_regexp(get):
            current = get(field)
            return isinstance(current, str) and search(current) is not None
        return match_regexp
    if op == OP_CONTAINS:
        def contains(get):
            current = get(field)
            if not isinstance(current, (list, tuple, set, frozenset)):
                return False
            return any(_equal(item, value) for item in current)
        return contains
    compare = _COMPARE[op]

    def ordered(get):
        current = get(field)
        if current is None:
            return False
        lhs, rhs = _coerce(current, value)
        try:
            return bool(compare(lhs, rhs))
        except TypeError:
            return False
    return ordered


def compile_filter(qfilter: list, known_fields: Iterable[str] | None = None,
                   hostname_fields: Iterable[str] = DEFAULT_HOSTNAME_FIELDS
                   ) -> Callable[[object], bool]:
    """Validate a filter and return ``predicate(getter) -> bool``.

    ``getter`` is either a callable ``name -> value`` or a mapping (a dict
    row). A value of None (no data, unavailable) satisfies only ``!=`` and
    ``not``. Raises OpPrereqError (ECODE_INVAL) for a malformed filter.
    """
    validate_filter(qfilter, known_fields)
    func = _compile(qfilter, frozenset(hostname_fields))

    def predicate(getter):
        if not callable(getter):
            getter = getter.get
        return func(getter)
    return predicate


_CACHE = {}
_CACHE_SIZE = 32


def filter_matches(qfilter: list, getter: object,
                   hostname_fields: Iterable[str] = DEFAULT_HOSTNAME_FIELDS) -> bool:
    """Whether the item described by ``getter`` (name -> value) matches."""
    key = (repr(qfilter), tuple(sorted(hostname_fields)))
    predicate = _CACHE.get(key)
    if predicate is None:
        predicate = compile_filter(qfilter, hostname_fields=hostname_fields)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = predicate
    return predicate(getter)
