"""gnt-debug test-osparams: the job gets the secret OS parameters and feeds them
back; the client following the job prints them, while the job file and job
queries hold "<redacted>" in their place."""

import json
import os
import time
import types

import pytest

from ganeti import cli, constants, errors, jqueue, opcodes
from ganeti.client import gnt_debug
from ganeti.cmdlib import test as lu_test

from test_os_params import _files_text

SECRET = "Secret-Value-3e1f"
OTHER = "Other-Secret-8d02"


_CONTEXT = types.SimpleNamespace(cfg=None, rpc=None, glm=None)


def _lu(osparams_secret):
    op = opcodes.OpTestOsParams(osparams_secret=osparams_secret)
    op.validate()
    log = []
    lu = lu_test.LUTestOsParams(None, op, _CONTEXT, log.append)
    lu.expand_names()
    return lu, log


def test_lu_feeds_the_secrets_back_in_ganetis_words():
    lu, log = _lu({"password": SECRET, "b": "2"})
    assert lu.needed_locks == {}
    assert lu.exec(log.append) is None
    assert log == ["Secret OS parameters: {'password': '%s', 'b': '2'}" % SECRET]


@pytest.mark.parametrize("secrets", [None, {}])
def test_lu_needs_secrets(secrets):
    lu, log = _lu(secrets)
    with pytest.raises(errors.OpExecError, match="^Opcode needs secret parameters$"):
        lu.exec(log.append)
    assert log == []


def test_lu_refuses_secrets_lost_in_a_restart():
    lu, log = _lu({"password": opcodes.REDACTED})
    with pytest.raises(errors.OpPrereqError,
                       match="Please re-submit secret parameters to job."):
        lu.exec(log.append)
    assert log == []


def test_redaction_of_messages():
    secrets = {"osparams_secret": {"a": SECRET, "b": SECRET + "-longer", "c": ""}}
    text = "x %s y %s-longer z" % (SECRET, SECRET)
    assert opcodes.redact_secret_values(text, secrets) == "x <redacted> y <redacted> z"
    assert opcodes.redact_secret_values(text, {}) == text
    nested = {"instances": [{"OP_ID": "OP_INSTANCE_CREATE",
                             "osparams_secret": {"k": OTHER}}]}
    assert opcodes.redact_secret_values("is " + OTHER, nested) == "is <redacted>"


def _run_lu(opcode, cbs):
    cbs.notify_start()
    lu = lu_test.LUTestOsParams(None, opcode, _CONTEXT, cbs.feedback)
    lu.expand_names()
    lu.check_prereq()
    return lu.exec(cbs.feedback)


def test_job_log_followers_see_the_secret_the_job_file_does_not(tmp_path):
    qdir = str(tmp_path / "queue")
    queue = jqueue.JobQueue(qdir, _run_lu, num_workers=1)
    queue.start()
    try:
        job_id = queue.submit_job([{"OP_ID": "OP_TEST_OS_PARAMS",
                                    "osparams_secret": {"password": SECRET}}])
        deadline = time.time() + 10
        entries, prev = [], None
        while True:
            assert time.time() < deadline
            info, log = queue.wait_for_job_changes(job_id, ["status"], prev, None, 1.0)
            entries += log
            prev = info
            if info[0] in constants.JOBS_FINALIZED:
                break
        assert info[0] == constants.JOB_STATUS_SUCCESS
        # WaitForJobChange: the message as the LU wrote it
        assert [e[3] for e in entries] == ["Secret OS parameters: {'password': '%s'}"
                                           % SECRET]
        queue.shutdown(timeout=2)
        # the job file: redacted in the input and in the log
        text = _files_text(qdir)
        assert SECRET not in text
        with open(os.path.join(qdir, "job-%d" % job_id)) as fd:
            stored = json.load(fd)["ops"][0]
        assert stored["log"][0][3] == "Secret OS parameters: {'password': '<redacted>'}"
        assert stored["input"]["osparams_secret"] == {"password": "<redacted>"}
        # QueryJobs (gnt-job info) shows the stored form
        oplog, = queue.query_jobs([job_id], ["oplog"])[0]
        assert SECRET not in json.dumps(oplog)
    finally:
        queue.shutdown(timeout=2)


def test_client_sends_the_secrets(monkeypatch):
    sent = []
    monkeypatch.setattr(cli, "submit_or_send", lambda op, opts: sent.append(op))
    argv = ["gnt-debug", "test-osparams", "--os-parameters-secret", "a=1,b=%s" % SECRET]
    assert cli.generic_main(gnt_debug.COMMANDS, argv=argv) == 0
    assert sent[0].osparams_secret == {"a": "1", "b": SECRET}
    assert cli.generic_main(gnt_debug.COMMANDS, argv=argv[:2]) == 0
    assert sent[1].osparams_secret is None
