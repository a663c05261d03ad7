"""gnt-instance batch-create: the definition file's checks (before anything is
submitted), OP_INSTANCE_MULTI_ALLOC on the wire, and its logical unit, which
places the instances (given nodes or one multi-allocate run of the allocator)
and submits one creation job per instance."""

import json
import types

import pytest

from ganeti import cli, constants, errors, mcpu, opcodes
from ganeti.client import gnt_instance, instance_batch
from ganeti.cmdlib import iallocator
from test_jobs_from_jobs import Callbacks, _context
from test_opcode_params_effect import MASTER, OTHER


def _spec(name, **extra):
    spec = {"mode": "create", "instance_name": name, "disk_template": "diskless",
            "disks": [], "nics": [], "os_type": "noop", "name_check": False,
            "ip_check": False}
    spec.update(extra)
    return spec


# ---- the client: the file ------------------------------------------------------------

@pytest.fixture
def client(monkeypatch):
    """batch_create with a master that records what is submitted."""
    submitted = []
    monkeypatch.setattr(cli, "get_client", lambda: None)

    def submit(op, opts, cl=None):
        op.validate()
        submitted.append(opcodes.OpCode.from_dict(json.loads(json.dumps(op.to_dict()))))
        return {"jobs": [[True, 10 + i] for i in range(len(op.instances))],
                "allocatable": [i.instance_name for i in op.instances], "failed": []}
    monkeypatch.setattr(cli, "submit_or_send", submit)
    monkeypatch.setattr(cli, "wait_for_submitted_jobs",
                        lambda jobs, cl=None: [(True, None) for _ in jobs])
    opts = types.SimpleNamespace(iallocator=None, submit_only=False)
    return submitted, opts


def _run(tmp_path, client, content):
    path = tmp_path / "instances.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return instance_batch.batch_create(client[1], [str(path)])


def test_creates_what_the_file_lists(tmp_path, client, capsys):
    specs = [_spec("inst1", pnode=MASTER), _spec("inst2", pnode=OTHER)]
    assert _run(tmp_path, client, specs) == constants.EXIT_SUCCESS
    (op,) = client[0]
    assert op.OP_ID == "OP_INSTANCE_MULTI_ALLOC" and op.iallocator is None
    assert [(i.instance_name, i.pnode) for i in op.instances] == [
        ("inst1", MASTER), ("inst2", OTHER)]
    assert capsys.readouterr().out == "All instances created successfully.\n"


@pytest.mark.parametrize("content, message", [
    ("[{", "Can't parse the instance definition file: Expecting property name enclosed"
           " in double quotes: line 1 column 3 (char 2)\n"),
    ({"inst1": _spec("inst1")}, "The instance definition file is not List of"
                                " Dictionary\n"),
    ([_spec("inst1"), 3], "The instance definition file is not List of Dictionary\n"),
])
def test_unreadable_files(tmp_path, client, capsys, content, message):
    assert _run(tmp_path, client, content) == constants.EXIT_FAILURE
    assert capsys.readouterr().err == message
    assert client[0] == []


def test_missing_file(tmp_path, client, capsys):
    opts = client[1]
    assert instance_batch.batch_create(opts, [str(tmp_path / "nope.json")]) == 1
    assert capsys.readouterr().err == (
        "Can't parse the instance definition file: [Errno 2] No such file or directory:"
        " '%s'\n" % (tmp_path / "nope.json"))


@pytest.mark.parametrize("specs, message", [
    ([_spec("inst1"), _spec("inst2", size=3, colour="red")],
     "Unknown fields in definition 1: colour, size"),
    ([dict((k, v) for k, v in _spec("inst1").items() if k != "disk_template")],
     "Parameter 'OP_INSTANCE_CREATE.disk_template' fails validation"),
    ([dict((k, v) for k, v in _spec("inst1").items() if k != "mode")],
     "Parameter 'OP_INSTANCE_CREATE.mode' fails validation"),
    ([_spec("inst1", start="yes")], "Parameter 'OP_INSTANCE_CREATE.start' fails"
                                    " validation: expected boolean"),
    ([_spec("inst1", disk_template="floppy")],
     "Parameter 'OP_INSTANCE_CREATE.disk_template' fails validation"),
])
def test_bad_specs_submit_nothing(tmp_path, client, specs, message):
    with pytest.raises(errors.OpPrereqError, match=message.replace("(", r"\(")):
        _run(tmp_path, client, specs)
    assert client[0] == []


def test_failures_are_counted(tmp_path, client, monkeypatch, capsys):
    monkeypatch.setattr(cli, "wait_for_submitted_jobs",
                        lambda jobs, cl=None: [(True, None), (False, "boom")])
    assert _run(tmp_path, client, [_spec("a", pnode=MASTER), _spec("b", pnode=MASTER)]) \
        == constants.EXIT_FAILURE
    assert capsys.readouterr().out == "There were 1 errors during the creation.\n"


def test_help_and_command_table():
    handler, args, options, usage, text = gnt_instance.COMMANDS["batch-create"]
    assert handler is instance_batch.batch_create and usage == "<instances.json>"
    assert (args[0].min_count, args[0].max_count) == (1, 1)
    assert [o.dest for o in options] == ["dry_run", "priority", "iallocator",
                                         "submit_only", "print_jobid"]


# ---- the opcode on the wire ----------------------------------------------------------

def test_opcode_round_trip_and_secrets():
    op = opcodes.OpInstanceMultiAlloc(instances=[opcodes.OpInstanceCreate(
        **_spec("inst1", osparams_secret={"pw": "s3cret"}))])
    data = json.loads(json.dumps(op.to_dict()))
    assert data["instances"][0]["OP_ID"] == "OP_INSTANCE_CREATE"
    again = opcodes.OpCode.from_dict(data)
    assert isinstance(again.instances[0], opcodes.OpInstanceCreate)
    assert again.instances[0].wait_for_sync is True          # defaults filled in
    public, secrets = opcodes.split_secrets(data)
    assert public["instances"][0]["osparams_secret"] == {"pw": opcodes.REDACTED}
    assert "s3cret" not in json.dumps(public)
    assert secrets["instances"][0]["osparams_secret"] == {"pw": "s3cret"}
    assert opcodes.shown_input(data)["instances"][0]["osparams_secret"] == \
        {"pw": opcodes.REDACTED}
    with pytest.raises(errors.OpPrereqError, match="re-submit secret"):
        opcodes.check_secrets_present(opcodes.OpCode.from_dict(public))
    with pytest.raises(errors.OpPrereqError, match="CREATE.disks' is required"):
        opcodes.OpCode.from_dict({"OP_ID": "OP_INSTANCE_MULTI_ALLOC",
                                  "instances": [{"instance_name": "x"}]})
    with pytest.raises(errors.OpPrereqError, match="Only OP_INSTANCE_CREATE opcodes"):
        opcodes.OpInstanceMultiAlloc(instances=[{"OP_ID": "OP_TEST_DELAY"}])


# ---- the logical unit ----------------------------------------------------------------

def _multi(*specs, **kwargs):
    op = opcodes.OpInstanceMultiAlloc(
        instances=[opcodes.OpInstanceCreate(**s) for s in specs], **kwargs)
    op.validate()
    return op


def test_given_nodes_one_job_per_instance(tmp_path):
    ctx, _ = _context(tmp_path)
    cbs = Callbacks()
    op = _multi(_spec("inst1", pnode="node1"), _spec("inst2", pnode=OTHER))
    result = mcpu.Processor(ctx).execute_opcode(op, cbs)
    assert result == {"allocatable": ["inst1", "inst2"], "failed": [],
                      "jobs": [[True, 100], [True, 101]]}
    assert [[(o["OP_ID"], o["instance_name"], o["pnode"]) for o in job]
            for job in cbs.submitted] == [[("OP_INSTANCE_CREATE", "inst1", MASTER)],
                                          [("OP_INSTANCE_CREATE", "inst2", OTHER)]]
    for job in cbs.submitted:
        opcodes.OpCode.from_dict(job[0])


@pytest.mark.parametrize("specs, kwargs, message", [
    ([_spec("a", pnode=MASTER), _spec("b")], {},
     "There are instance objects providing pnode/snode while others do not"),
    ([], {}, "There are instance objects providing pnode/snode while others do not"),
    ([_spec("a")], {}, "No iallocator or nodes on the instances given and no"
                       " cluster-wide default iallocator found"),
    ([_spec("a", iallocator="hail")], {"iallocator": "hail"},
     "iallocator are not allowed to be set on instance objects"),
    ([_spec("a", pnode=MASTER), _spec("a", pnode=OTHER)], {},
     "There are duplicate instance names: a"),
    ([_spec("a", pnode="node9")], {}, "Node 'node9' not known"),
    ([_spec("a", pnode=MASTER, os_type=None)], {}, r"No guest OS or OS image specified"),
    ([_spec("a", pnode=MASTER), _spec("b", pnode=MASTER, disk_template="file")], {},
     "Disk template file needs at least one disk"),
    ([_spec("a")], {"iallocator": "hail", "opportunistic_locking": True},
     "Opportunistic locking is not supported"),
])
def test_refusals_submit_nothing(tmp_path, specs, kwargs, message):
    ctx, _ = _context(tmp_path)
    cbs = Callbacks()
    with pytest.raises(errors.OpPrereqError, match=message):
        mcpu.Processor(ctx).execute_opcode(_multi(*specs, **kwargs), cbs)
    assert cbs.submitted == []


def test_allocator_places_all_at_once(tmp_path, monkeypatch):
    ctx, _ = _context(tmp_path)
    calls = []

    def run(lu, name, request, template=None):
        calls.append((name, request))
        return [[["a", [OTHER]], ["b", [MASTER]]], [["c", "no memory"]]], "done"
    monkeypatch.setattr(iallocator, "run", run)
    cbs = Callbacks()
    op = _multi(_spec("a"), _spec("b", beparams={"maxmem": 256}, tags=["t"]),
                _spec("c"), iallocator="hail")
    result = mcpu.Processor(ctx).execute_opcode(op, cbs)
    ((name, request),) = calls
    assert name == "hail" and request["type"] == "multi-allocate"
    assert [r["name"] for r in request["instances"]] == ["a", "b", "c"]
    assert "type" not in request["instances"][0]
    assert (request["instances"][1]["memory"], request["instances"][1]["tags"],
            request["instances"][1]["required_nodes"]) == (256, ["t"], 1)
    assert result == {"allocatable": ["a", "b"], "failed": ["c"],
                      "jobs": [[True, 100], [True, 101]]}
    assert [job[0]["pnode"] for job in cbs.submitted] == [OTHER, MASTER]
    assert [job[0]["iallocator"] for job in cbs.submitted] == [None, None]
    assert "The iallocator 'hail' found no nodes for: c (no memory)" in repr(cbs.log)


def test_allocator_answer_must_cover_every_instance(tmp_path, monkeypatch):
    ctx, _ = _context(tmp_path)
    monkeypatch.setattr(iallocator, "run",
                        lambda lu, name, request, template=None: ([[], ["a"]], ""))
    with pytest.raises(errors.OpExecError, match="missing: b"):
        mcpu.Processor(ctx).execute_opcode(
            _multi(_spec("a"), _spec("b"), iallocator="hail"), Callbacks())


@pytest.mark.parametrize("result, ok", [
    ([[["a", ["n1"]]], []], True),
    ([[["a", ["n1", "n2"]]], ["b"]], True),
    ([[["a", "n1"]], []], False),
    ([[], [["b", "no memory"]]], True),
    ([[], [3]], False),
    ([[], [["b", 3]]], False),
    ([["a"], []], False),
])
def test_multi_allocate_answer_shape(result, ok):
    text = json.dumps({"success": True, "info": "", "result": result})
    request = {"type": "multi-allocate", "instances": []}
    if ok:
        assert iallocator._check_answer("x", request, text)[0] == result
    else:
        with pytest.raises(errors.OpExecError, match="Invalid result"):
            iallocator._check_answer("x", request, text)
