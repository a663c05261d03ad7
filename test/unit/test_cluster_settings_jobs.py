"""max_running_jobs takes effect at once; CancelJob's kill flag is honoured or refused."""

import threading
import types

import pytest

from ganeti import config, errors, opcodes
from ganeti.cmdlib import cluster as lu_cluster

from test_jqueue import make_queue, op, qdir, wait_final  # noqa: F401  (fixtures)
from test_cluster_admin import _make_cfg


def _statuses(queue, ids):
    return [row[0] for row in queue.query_jobs(ids, ["status"])]


def test_lower_max_running_applies_to_the_next_jobs(make_queue):
    queue, ex = make_queue(num_workers=3)
    queue.set_max_running(1)
    first = queue.submit_job([op("runblock:a")])
    second = queue.submit_job([op("runblock:b")])
    assert ex.started_event("a").wait(5)
    # one job at a time now, although three workers exist
    assert not ex.started_event("b").wait(0.5)
    assert _statuses(queue, [first, second]) == ["running", "queued"]
    ex.event("a").set()
    assert ex.started_event("b").wait(5)
    ex.event("b").set()
    assert wait_final(queue, first) == wait_final(queue, second) == "success"


def test_higher_max_running_starts_queued_jobs_at_once(make_queue):
    queue, ex = make_queue(num_workers=1)
    first = queue.submit_job([op("runblock:a")])
    second = queue.submit_job([op("runblock:b")])
    assert ex.started_event("a").wait(5)
    assert not ex.started_event("b").wait(0.3)
    queue.set_max_running(2)
    assert ex.started_event("b").wait(5)
    ex.event("a").set()
    ex.event("b").set()
    assert wait_final(queue, first) == wait_final(queue, second) == "success"


def test_cluster_modify_applies_max_running_jobs(tmp_path):
    calls = []
    cfg = _make_cfg(tmp_path)
    ctx = types.SimpleNamespace(cfg=cfg, rpc=None, glm=None,
                                jqueue=types.SimpleNamespace(set_max_running=calls.append))
    op_ = opcodes.OpClusterSetParams(max_running_jobs=3)
    op_.validate()
    logs = []
    lu = lu_cluster.LUClusterSetParams(None, op_, ctx, logs.append)
    lu.check_prereq()
    lu.exec(logs.append)
    assert calls == [3]
    assert config.ConfigWriter(cfg._cfg_file).get_cluster_info().max_running_jobs == 3
    assert not any("next start" in line for line in logs)


def test_cancel_kill_of_a_running_job_is_refused_in_words(make_queue):
    queue, ex = make_queue(num_workers=1)
    running = queue.submit_job([op("runblock:a")])
    queued = queue.submit_job([op("x")])
    assert ex.started_event("a").wait(5)
    ok, msg = queue.cancel_job(running, True)
    assert not ok
    assert msg.startswith("Job %s is running and cannot be killed" % running)
    # a queued job is canceled with or without kill
    assert queue.cancel_job(queued, True) == [True, "Dequeued job %s" % queued]
    with pytest.raises(errors.OpPrereqError):
        queue.cancel_job(running, "yes")
    ex.event("a").set()
    assert wait_final(queue, running) == "success"


def test_masterd_passes_the_kill_flag():
    from ganeti import luxi
    from ganeti.server import masterd
    seen = []
    context = types.SimpleNamespace(jqueue=types.SimpleNamespace(
        cancel_job=lambda job_id, kill=False: seen.append((job_id, kill)) or [True, ""]),
        lease=types.SimpleNamespace(lost=threading.Event()))
    handler = masterd.LuxiHandler(context)
    handler.handle(luxi.REQ_CANCEL_JOB, [7, True])
    handler.handle(luxi.REQ_CANCEL_JOB, [8])
    assert seen == [(7, True), (8, False)]


def test_cancel_kill_needs_yes_do_it(capsys, monkeypatch):
    """As in Ganeti, --kill is refused without --yes-do-it, before anything is
    asked of the master daemon."""
    from ganeti import cli
    from ganeti.client import gnt_job
    monkeypatch.setattr(cli, "get_client", lambda: pytest.fail("master contacted"))
    rc = cli.generic_main(gnt_job.COMMANDS, argv=["gnt-job", "cancel", "--kill", "5"])
    assert rc == 1
    assert "The --kill option must be confirmed with --yes-do-it" in capsys.readouterr().err
