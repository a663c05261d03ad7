"""Replicated job queue files on master candidates."""

import os

import pytest

from ganeti import rpc
from ganeti.backend import jobqueue
from ganeti.backend.common import RpcFail


def test_update_remove_and_purge(tmp_path):
    qdir = str(tmp_path / "queue")
    data = rpc.encode_file_data(b'{"id": 1}')
    jobqueue.jobqueue_update("job-1", data, queue_dir=qdir)
    jobqueue.jobqueue_update("serial", rpc.encode_file_data(b"1\n"), queue_dir=qdir)
    jobqueue.jobqueue_update("archive/0/job-2", data, queue_dir=qdir)
    with open(os.path.join(qdir, "job-1"), "rb") as fd:
        assert fd.read() == b'{"id": 1}'
    assert os.stat(os.path.join(qdir, "job-1")).st_mode & 0o777 == 0o600
    assert os.path.exists(os.path.join(qdir, "archive", "0", "job-2"))
    jobqueue.jobqueue_update("job-1", None, queue_dir=qdir)
    assert not os.path.exists(os.path.join(qdir, "job-1"))
    jobqueue.jobqueue_purge(queue_dir=qdir)
    assert os.listdir(qdir) == []


@pytest.mark.parametrize("name", ["../config.data", "/etc/passwd", "job-1/../../x",
                                  "archive/x/job-1", "jobs", "", None])
def test_only_queue_files(tmp_path, name):
    with pytest.raises(RpcFail):
        jobqueue.jobqueue_update(name, rpc.encode_file_data(b"x"),
                                 queue_dir=str(tmp_path))
    assert os.listdir(tmp_path) == []
