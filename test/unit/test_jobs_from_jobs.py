"""Opcodes whose work continues in new jobs (Ganeti's ResultWithJobs): the
processor submits the jobs the LU returns and the opcode's result names them;
verify-disks and node evacuation are built that way."""

import types

import pytest

from ganeti import constants, errors, locking, mcpu, opcodes
from ganeti.cmdlib import node_evacuate
from ganeti.cmdlib.base import NoHooksLU, ResultWithJobs
from test_opcode_params_effect import MASTER, OTHER, _Callbacks, _config


def _context(tmp_path):
    cfg = _config(tmp_path)
    groups = list(cfg.get_all_node_groups_info())
    glm = locking.GanetiLockManager(nodes=cfg.get_node_list(), node_groups=groups,
                                    instances=cfg.get_instance_list())
    return types.SimpleNamespace(cfg=cfg, glm=glm, rpc=None, jqueue=None), groups[0]


class Callbacks(_Callbacks):
    """The job queue's callbacks; jobs an LU submits are recorded."""

    def __init__(self, answer=None):
        super().__init__()
        self.submitted = []
        self.answer = answer

    def submit_many_jobs(self, jobs):
        self.submitted.extend(jobs)
        return self.answer or [[True, 100 + i] for i in range(len(jobs))]


def test_verify_disks_submits_one_job_per_group(tmp_path):
    ctx, group = _context(tmp_path)
    cbs = Callbacks()
    op = opcodes.OpClusterVerifyDisks()
    op.validate()
    result = mcpu.Processor(ctx).execute_opcode(op, cbs)
    assert result == {"jobs": [[True, 100]]}
    assert [[o["OP_ID"] for o in job] for job in cbs.submitted] == [
        ["OP_GROUP_VERIFY_DISKS"]]
    assert cbs.submitted[0][0]["group_name"] == group
    # the submitted opcode is a valid one
    opcodes.OpCode.from_dict(cbs.submitted[0][0])
    with pytest.raises(errors.OpPrereqError, match="not found"):
        op = opcodes.OpClusterVerifyDisks(group_name="nosuchgroup")
        op.validate()
        mcpu.Processor(ctx).execute_opcode(op, Callbacks())


def test_failed_submissions_are_reported_in_the_result(tmp_path, monkeypatch):
    ctx, _ = _context(tmp_path)

    class LUClusterVerifyDisks(NoHooksLU):
        REQ_BGL = False

        def exec(self, feedback_fn):
            return ResultWithJobs([[opcodes.OpTestDelay(duration=0)]] * 2, extra=1)
    from ganeti import cmdlib
    monkeypatch.setitem(cmdlib._LU_CACHE, "LUClusterVerifyDisks", LUClusterVerifyDisks)
    op = opcodes.OpClusterVerifyDisks()
    op.validate()
    cbs = Callbacks(answer=[[True, 5], [False, "Job queue is drained"]])
    result = mcpu.Processor(ctx).execute_opcode(op, cbs)
    assert result == {"extra": 1, "jobs": [[True, 5], [False, "Job queue is drained"]]}


@pytest.mark.parametrize("kwargs, message", [
    (dict(mode=constants.NODE_EVAC_PRI), "No iallocator or node given"),
    (dict(mode=constants.NODE_EVAC_SEC, iallocator="hail", remote_node=OTHER),
     "Do not specify both, iallocator and node"),
    (dict(mode=constants.NODE_EVAC_PRI, remote_node=OTHER),
     "Without the use of an iallocator only secondary instances can be evacuated"),
    (dict(mode=constants.NODE_EVAC_SEC, remote_node=MASTER),
     "Can not use evacuated node as a new secondary node"),
])
def test_node_evacuate_refusals(tmp_path, kwargs, message):
    ctx, _ = _context(tmp_path)
    op = opcodes.OpNodeEvacuate(node_name=MASTER, **kwargs)
    op.validate()
    with pytest.raises(errors.OpPrereqError, match=message):
        mcpu.Processor(ctx).execute_opcode(op, Callbacks())


def test_node_evacuate_without_instances_submits_nothing(tmp_path):
    ctx, _ = _context(tmp_path)
    op = opcodes.OpNodeEvacuate(node_name=MASTER, mode=constants.NODE_EVAC_SEC,
                                remote_node=OTHER)
    op.validate()
    cbs = Callbacks()
    assert mcpu.Processor(ctx).execute_opcode(op, cbs) == {"jobs": []}
    assert cbs.submitted == []
    assert node_evacuate.LUNodeEvacuate.REQ_BGL is False
