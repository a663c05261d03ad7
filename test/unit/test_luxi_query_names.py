"""Query with a list of names (gnt-node list A B): unknown names fail, short ones expand."""

import pytest

from ganeti import errors, qlang
from ganeti.cmdlib import query as cquery


class _Cfg:
    def get_all_nodes_info(self):
        return {"node1.example.com": None, "node2.example.com": None}

    def get_instance_list(self):
        return ["inst1.example.com", "inst2"]


def test_requested_names_only_for_plain_name_lists():
    assert cquery.requested_names(qlang.make_simple_filter(["a", "b"])) == ["a", "b"]
    assert cquery.requested_names(["=", "name", "a"]) == ["a"]
    assert cquery.requested_names(qlang.make_simple_filter(["a*"])) is None
    assert cquery.requested_names(["=", "pnode", "a"]) is None
    assert cquery.requested_names(None) is None


def test_unknown_node_fails_like_ganeti():
    with pytest.raises(errors.OpPrereqError) as err:
        cquery._expand_requested_names(_Cfg(), "node",
                                       qlang.make_simple_filter(["node1", "nosuchnode"]))
    assert err.value.args == ("Node name nosuchnode not found", errors.ECODE_NOENT)


def test_unknown_instance_fails_like_ganeti():
    with pytest.raises(errors.OpPrereqError) as err:
        cquery._expand_requested_names(_Cfg(), "instance",
                                       qlang.make_simple_filter(["nosuchinst", "inst1"]))
    assert err.value.args == ("Instance name nosuchinst not found", errors.ECODE_NOENT)


def test_short_names_expand_and_other_filters_pass_through():
    qfilter = cquery._expand_requested_names(_Cfg(), "node",
                                             qlang.make_simple_filter(["node2"]))
    assert qfilter == qlang.make_simple_filter(["node2.example.com"])
    glob = qlang.make_simple_filter(["nosuch*"])
    assert cquery._expand_requested_names(_Cfg(), "node", glob) is glob
    jobs = qlang.make_simple_filter([1])
    assert cquery._expand_requested_names(_Cfg(), "job", jobs) is jobs
