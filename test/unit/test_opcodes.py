"""Opcode parameters are declared and type-checked at submission."""

import pytest

from ganeti import errors, opcodes


def test_from_dict_fills_defaults_and_round_trips():
    op = opcodes.OpCode.from_dict({"OP_ID": "OP_TEST_DELAY", "duration": 2})
    assert op.duration == 2
    assert op.on_master is True
    assert op.on_nodes == []
    assert op.priority == 0
    again = opcodes.OpCode.from_dict(op.to_dict())
    assert again.to_dict() == op.to_dict()


def test_defaults_are_not_shared_between_opcodes():
    a = opcodes.OpTestDelay(duration=1)
    b = opcodes.OpTestDelay(duration=1)
    a.on_nodes.append("node1")
    assert b.on_nodes == []


@pytest.mark.parametrize("data,needle", [
    ({"OP_ID": "OP_TEST_DELAY"}, "duration' is required"),
    ({"OP_ID": "OP_TEST_DELAY", "duration": "ten"}, "expected non-negative number"),
    ({"OP_ID": "OP_TEST_DELAY", "duration": -1}, "expected non-negative number"),
    ({"OP_ID": "OP_TEST_DELAY", "duration": 1, "bogus": 1}, "Unknown parameter(s)"),
    ({"OP_ID": "OP_TEST_DELAY", "duration": 1, "priority": 3}, "priority"),
    ({"OP_ID": "OP_NO_SUCH_THING"}, "Unknown opcode"),
    ({"duration": 1}, "Unknown opcode"),
    (["OP_TEST_DELAY"], "must be a dictionary"),
])
def test_bad_input_is_refused_with_a_clear_message(data, needle):
    with pytest.raises(errors.OpPrereqError) as exc:
        opcodes.OpCode.from_dict(data)
    assert needle in exc.value.args[0]
    assert exc.value.args[1] == errors.ECODE_INVAL


def test_summary_uses_the_descriptive_field():
    assert opcodes.OpTestDelay(duration=10.0).summary() == "TEST_DELAY(10.0)"
    assert opcodes.OpClusterVerify().summary() == "CLUSTER_VERIFY"
    assert opcodes.summary_of({"OP_ID": "OP_TEST_DELAY", "duration": 1}) == "TEST_DELAY(1)"
    assert opcodes.summary_of({"OP_ID": "OP_UNKNOWN"}) == "OP_UNKNOWN"


def test_every_opcode_has_a_logical_unit():
    from ganeti import cmdlib
    for op_id, cls in opcodes.OP_MAPPING.items():
        assert cmdlib.get_lu_class(cls.__new__(cls)).__name__ == "LU" + cls.__name__[2:]
