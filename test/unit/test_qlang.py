"""Tests for ganeti.qlang: the -F filter language and the filter evaluator."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganeti import errors, qlang


# ---- parsing ----------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('name == "x"', ["==", "name", "x"]),
    ("name != 'x'", ["!=", "name", "x"]),
    ("mtotal < 1024", ["<", "mtotal", 1024]),
    ("mtotal <= 1024", ["<=", "mtotal", 1024]),
    ("mtotal > -5", [">", "mtotal", -5]),
    ("mtotal >= +5", [">=", "mtotal", 5]),
    ("ndp/cpu_speed > 1.5", [">", "ndp/cpu_speed", 1.5]),
    ("offline == true", ["==", "offline", True]),
    ("offline == false", ["==", "offline", False]),
    ('"web" in tags', ["=[]", "tags", "web"]),
    ('"web" not in tags', ["!", ["=[]", "tags", "web"]]),
    ("12 in disk.sizes", ["=[]", "disk.sizes", 12]),
    ("name =~ m/^web/", ["=~", "name", "^web"]),
    ("name =~ /^web/", ["=~", "name", "^web"]),
    ("name =~ m/^web/i", ["=~", "name", "(?i)^web"]),
    ("name =~ m/a.b/si", ["=~", "name", "(?is)a.b"]),
    ("name =~ m#a/b#", ["=~", "name", "a/b"]),
    ("name =~ m|x|", ["=~", "name", "x"]),
    ("name =~ m^x^", ["=~", "name", "x"]),
    (r"name =~ m/a\/b\d/", ["=~", "name", r"a/b\d"]),
    ("name !~ m/x/", ["!", ["=~", "name", "x"]]),
    ('name =* "web*"', ["=~", "name", qlang.dns_glob_pattern("web*")]),
    ('name !* "web?"', ["!", ["=~", "name", qlang.dns_glob_pattern("web?")]]),
    ("master_candidate", ["?", "master_candidate"]),
    ("be/vcpus", ["?", "be/vcpus"]),
    ("notes", ["?", "notes"]),          # a keyword prefix is still a field name
    ("android", ["?", "android"]),
    ('name == "a\\"b"', ["==", "name", 'a"b']),
    ("name == 'it''s'", None),           # adjacent strings are an error
])
def test_parse_operators(text, expected):
    if expected is None:
        with pytest.raises(errors.OpPrereqError):
            qlang.parse_filter(text)
    else:
        assert qlang.parse_filter(text) == expected


def test_parse_logic_and_precedence():
    a, b, c, d = (["?", x] for x in "abcd")
    assert qlang.parse_filter("not a") == ["!", a]
    assert qlang.parse_filter("not not a") == ["!", ["!", a]]
    assert qlang.parse_filter("a and b") == ["&", a, b]
    assert qlang.parse_filter("a and b and c") == ["&", a, b, c]
    assert qlang.parse_filter("a or b or c") == ["|", a, b, c]
    # not binds tighter than and, and tighter than or
    assert qlang.parse_filter("not a and b") == ["&", ["!", a], b]
    assert qlang.parse_filter("a or b and c") == ["|", a, ["&", b, c]]
    assert qlang.parse_filter("a and b or c and d") == ["|", ["&", a, b], ["&", c, d]]
    assert qlang.parse_filter("a and (b or c)") == ["&", a, ["|", b, c]]
    assert qlang.parse_filter("not (a or b)") == ["!", ["|", a, b]]
    assert qlang.parse_filter("((a))") == a
    assert qlang.parse_filter("(a and b) and c") == ["&", ["&", a, b], c]


def test_parse_whitespace_is_free():
    assert qlang.parse_filter("  name==\"x\"and(mem>=5)  ") == \
        ["&", ["==", "name", "x"], [">=", "mem", 5]]
    assert qlang.parse_filter("a\tand\tb") == ["&", ["?", "a"], ["?", "b"]]


@pytest.mark.parametrize("text, fragment", [
    ("", "Expected a condition"),
    ("   ", "Expected a condition"),
    ("name ==", "found '=='"),
    ("name = 1", "found '='"),
    ("and", "Expected a condition"),
    ("a and", "found 'and'"),
    ("(a", "Expected a condition"),
    ("a b", "found 'b'"),
    ("name =~ m/x/q", "Unknown regular expression flags: 'q'"),
    ("name =~ m/(/", "Invalid regular expression"),
    ('name == "open', "found '=='"),
    ("1 == a", "found '=='"),
])
def test_parse_errors(text, fragment):
    with pytest.raises(errors.OpPrereqError) as info:
        qlang.parse_filter(text)
    assert info.value.args[1] == errors.ECODE_INVAL
    assert info.value.args[0].startswith("Failed to parse query filter '%s'" % text)
    assert fragment in info.value.args[0]


def test_parse_deep_nesting_is_fast():
    text = "(" * 60 + "a" + ")" * 60
    assert qlang.parse_filter(text) == ["?", "a"]
    long_and = " and ".join("f%d == %d" % (i, i) for i in range(300))
    assert len(qlang.parse_filter(long_and)) == 301


# ---- name filters and the argument heuristics ---------------------------------------------

def test_dns_glob_pattern():
    regex = re.compile(qlang.dns_glob_pattern("web?"))
    assert regex.match("web1")
    assert regex.match("web1.example.com")
    assert not regex.match("web12")
    assert not regex.match("xweb1")
    star = re.compile(qlang.dns_glob_pattern("*.site"))
    assert star.match("a.site") and star.match("a.site.example.com")
    assert not star.match("a.b.site")
    assert re.compile(qlang.dns_glob_pattern("a+b")).match("a+b")


def test_make_simple_filter():
    assert qlang.make_simple_filter(None) is None
    assert qlang.make_simple_filter([]) is None
    assert qlang.make_simple_filter(["a", "b"]) == \
        ["|", ["=", "name", "a"], ["=", "name", "b"]]
    assert qlang.make_simple_filter(["web*"], namefield="pnode") == \
        ["|", ["=~", "pnode", qlang.dns_glob_pattern("web*")]]
    assert qlang.make_simple_filter(["5", "7"], namefield="id", isnumeric=True) == \
        ["|", ["=", "id", 5], ["=", "id", 7]]
    with pytest.raises(errors.OpPrereqError):
        qlang.make_simple_filter(["x"], namefield="id", isnumeric=True)


def test_is_filter_text():
    assert not qlang.is_filter_text("node1.example.com")
    assert not qlang.is_filter_text("web*")
    assert not qlang.is_filter_text("inst-1_a")
    for text in ("a and b", "name==1", "(x)", "!x", "'a'", '"a"', "a<b", "a/b", "a~b"):
        assert qlang.is_filter_text(text), text


def test_make_filter():
    assert qlang.make_filter([], False) is None
    assert qlang.make_filter(None, False) is None
    assert qlang.make_filter(["a"], False) == ["|", ["=", "name", "a"]]
    # a single argument that looks like a filter is parsed as one
    assert qlang.make_filter(["offline"], True) == ["?", "offline"]
    assert qlang.make_filter(['name == "x"'], False) == ["==", "name", "x"]
    with pytest.raises(errors.OpPrereqError):
        qlang.make_filter(["a", "b"], True)
    with pytest.raises(errors.OpPrereqError):
        qlang.make_filter([], True)


# ---- evaluation ----------------------------------------------------------------------

ROWS = [
    {"name": "node1.example.com", "offline": False, "mtotal": 4096, "tags": ["a", "b"],
     "group": "default", "ctime": [1000, 500000], "id": 5},
    {"name": "node2.example.com", "offline": True, "mtotal": None, "tags": [],
     "group": "rack2", "ctime": [2000, 0], "id": 6},
    {"name": "web3.example.com", "offline": False, "mtotal": 1024, "tags": ["web"],
     "group": "default", "ctime": [3000, 0], "id": 7},
]


def names(qfilter, rows=ROWS, **kwargs):
    pred = qlang.compile_filter(qfilter, **kwargs)
    return [row["name"].split(".")[0] for row in rows if pred(row)]


def test_evaluate_binary_operators():
    assert names(["==", "group", "default"]) == ["node1", "web3"]
    assert names(["=", "group", "default"]) == ["node1", "web3"]
    assert names(["!=", "group", "default"]) == ["node2"]
    assert names(["<", "mtotal", 2048]) == ["web3"]
    assert names(["<=", "mtotal", 1024]) == ["web3"]
    assert names([">", "mtotal", 1024]) == ["node1"]
    assert names([">=", "mtotal", 1024]) == ["node1", "web3"]
    assert names(["=~", "name", "^node"]) == ["node1", "node2"]
    assert names(["=~", "name", "(?i)^WEB"]) == ["web3"]
    assert names(["=[]", "tags", "web"]) == ["web3"]
    assert names(["?", "offline"]) == ["node2"]
    assert names(["?", "tags"]) == ["node1", "web3"]


def test_evaluate_logic():
    assert names(["&", ["?", "offline"], ["==", "group", "rack2"]]) == ["node2"]
    assert names(["|", ["?", "offline"], ["=[]", "tags", "a"]]) == ["node1", "node2"]
    assert names(["!", ["?", "offline"]]) == ["node1", "web3"]
    assert names(["&"]) == ["node1", "node2", "web3"]
    assert names(["|"]) == []


def test_evaluate_parsed_text():
    qfilter = qlang.parse_filter('not offline and ("a" in tags or name =~ m/^WEB/i)')
    assert names(qfilter) == ["node1", "web3"]
    assert names(qlang.parse_filter('name =* "web*"')) == ["web3"]
    assert names(qlang.parse_filter('name !* "node?"')) == ["web3"]


def test_evaluate_missing_values():
    # None (no data / unavailable) matches only != and negations
    assert names(["<", "mtotal", 10 ** 9]) == ["node1", "web3"]
    assert names(["==", "mtotal", None]) == ["node2"]
    assert names(["!=", "mtotal", 1024]) == ["node1", "node2"]
    assert names(["=~", "nosuch", "x"]) == []
    assert names(["=[]", "nosuch", "x"]) == []


def test_evaluate_hostname_fields():
    assert names(["=", "name", "node1"]) == ["node1"]
    assert names(["=", "name", "NODE1"]) == ["node1"]
    assert names(["=", "name", "node1.example.com"]) == ["node1"]
    assert names(["=", "name", "node"]) == []
    # only for host name fields, and not when switched off
    assert names(["=", "group", "rack"]) == []
    assert names(["=", "name", "node1"], hostname_fields=()) == []
    assert names(["!=", "name", "node1"]) == ["node2", "web3"]


def test_evaluate_coercion():
    assert names(["==", "id", "6"]) == ["node2"]
    assert names([">", "id", "5"]) == ["node2", "web3"]
    assert names([">", "ctime", 1000]) == ["node1", "node2", "web3"]
    assert names([">", "ctime", 1000.5]) == ["node2", "web3"]
    # incomparable types never match (no exception)
    assert names(["<", "group", 5]) == []


def test_filter_matches_with_callable():
    row = ROWS[0]
    assert qlang.filter_matches(["==", "group", "default"], row.get)
    assert not qlang.filter_matches(["?", "offline"], lambda name: row[name])
    # the compiled predicate is cached but still correct for other filters
    assert qlang.filter_matches(["!", ["?", "offline"]], row.get)


@pytest.mark.parametrize("qfilter, fragment", [
    ("name", "expected a non-empty list"),
    ([], "expected a non-empty list"),
    (["~~", "a", 1], "unknown operator"),
    ([1, "a"], "unknown operator"),
    (["!"], "exactly one filter"),
    (["!", ["?", "a"], ["?", "b"]], "exactly one filter"),
    (["!", "a"], "expected a non-empty list"),
    (["?"], "exactly one field"),
    (["?", 5], "field name must be"),
    (["==", "a"], "takes a field name and a value"),
    (["==", "a", 1, 2], "takes a field name and a value"),
    (["==", "", 1], "field name must be"),
    (["==", "a", [1]], "must be a string, number"),
    (["=~", "a", 5], "regular expression must be a string"),
    (["=~", "a", "("], "Invalid regular expression"),
    (["&", ["?", "a"], "b"], "expected a non-empty list"),
])
def test_validation_errors(qfilter, fragment):
    with pytest.raises(errors.OpPrereqError) as info:
        qlang.compile_filter(qfilter)
    assert fragment in info.value.args[0]
    assert info.value.args[1] == errors.ECODE_INVAL


def test_validate_known_fields():
    assert qlang.validate_filter(["&", ["?", "a"], ["==", "b", 1]]) == {"a", "b"}
    with pytest.raises(errors.OpPrereqError, match="Unknown field 'c'"):
        qlang.validate_filter(["|", ["?", "a"], ["?", "c"]], known_fields=["a", "b"])
    qlang.compile_filter(["?", "a"], known_fields={"a": None})


def test_validation_depth_limit():
    qfilter = ["?", "a"]
    for _ in range(150):
        qfilter = ["!", qfilter]
    with pytest.raises(errors.OpPrereqError, match="nested too deeply"):
        qlang.validate_filter(qfilter)


# ---- properties ---------------------------------------------------------------------------

_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
FIELDS = st.from_regex(r"\A[a-z][a-z0-9_/.]{0,8}\Z").filter(lambda f: f not in _KEYWORDS)
VALUES = st.one_of(st.integers(), st.booleans(),
                   st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
REGEXPS = st.sampled_from(["^a", "b$", "x.*y", r"\d+", "a/b", "(?i)abc"])


def _leaf():
    binary = st.tuples(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), FIELDS,
                       VALUES).map(list)
    contains = st.tuples(st.just("=[]"), FIELDS, VALUES).map(list)
    truth = FIELDS.map(lambda f: ["?", f])
    regexp = st.tuples(st.just("=~"), FIELDS, REGEXPS).map(list)
    return st.one_of(binary, contains, truth, regexp)


FILTERS = st.recursive(
    _leaf(),
    lambda sub: st.one_of(
        sub.map(lambda f: ["!", f]),
        st.lists(sub, min_size=2, max_size=4).map(lambda fs: ["&"] + fs),
        st.lists(sub, min_size=2, max_size=4).map(lambda fs: ["|"] + fs)),
    max_leaves=12)


def render_value(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def render(qfilter):
    """The text form of a list filter, fully parenthesised."""
    op = qfilter[0]
    if op in ("&", "|"):
        word = " and " if op == "&" else " or "
        return word.join("(%s)" % render(sub) for sub in qfilter[1:])
    if op == "!":
        return "not (%s)" % render(qfilter[1])
    if op == "?":
        return qfilter[1]
    if op == "=[]":
        return "%s in %s" % (render_value(qfilter[2]), qfilter[1])
    if op == "=~":
        return "%s =~ m/%s/" % (qfilter[1], qfilter[2].replace("/", "\\/"))
    return "%s %s %s" % (qfilter[1], op, render_value(qfilter[2]))


@settings(max_examples=300, deadline=None)
@given(FILTERS)
def test_property_render_parse_roundtrip(qfilter):
    assert qlang.parse_filter(render(qfilter)) == qfilter


ROW_VALUES = st.one_of(st.none(), st.integers(-5, 5), st.booleans(),
                       st.sampled_from(["a", "b", "ab"]),
                       st.lists(st.sampled_from(["a", "b", 1]), max_size=3))


@settings(max_examples=300, deadline=None)
@given(FILTERS, st.dictionaries(FIELDS, ROW_VALUES, max_size=6))
def test_property_logic_laws(qfilter, row):
    value = qlang.compile_filter(qfilter)(row)
    assert qlang.compile_filter(["!", qfilter])(row) is (not value)
    assert qlang.compile_filter(["!", ["!", qfilter]])(row) is value
    other = ["?", "zz"]
    both = qlang.compile_filter(["&", qfilter, other])(row)
    either = qlang.compile_filter(["|", qfilter, other])(row)
    assert qlang.compile_filter(["!", ["&", qfilter, other]])(row) is (not both)
    assert (not either) is qlang.compile_filter(
        ["&", ["!", qfilter], ["!", other]])(row)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_property_parser_never_crashes(text):
    try:
        result = qlang.parse_filter(text)
    except errors.OpPrereqError:
        return
    qlang.validate_filter(result)
