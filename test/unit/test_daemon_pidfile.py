"""Daemons hold a locked pid file: a second copy fails before doing anything."""

import os
import signal
import subprocess
import sys
import time

import pytest

from ganeti.utils import pidfile

HOST = "node1.example.com"
# a minimal daemon: prepare leaves a mark (what a second copy must never reach)
_DAEMON = """
import sys
from ganeti import constants, daemon
def prepare(opts):
    with open(sys.argv[1], "a") as fd:
        fd.write("prepared\\n")
def run(opts, ready, stop):
    ready()
    stop.wait()
opts, _ = daemon.build_option_parser(constants.MASTERD).parse_args(sys.argv[2:])
daemon.run_daemon(constants.MASTERD, opts, prepare, run)
"""


@pytest.fixture
def node(tmp_path):
    root = tmp_path / HOST
    root.mkdir()
    env = dict(os.environ, GANETI_ROOTDIR=str(root), GANETI_HOSTNAME=HOST)
    started = []

    def start(wait=True):
        proc = subprocess.Popen([sys.executable, "-c", _DAEMON, str(tmp_path / "marks")],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        if wait:
            proc.out, proc.err = proc.communicate(timeout=60)
        started.append(proc)
        return proc

    pid_path = root / "var/run/ganeti/ganeti-masterd.pid"
    yield start, pid_path, tmp_path / "marks"
    pid = pidfile._parse_pid(pid_path.read_bytes()) if pid_path.exists() else 0
    if pid and pid not in (p.pid for p in started):
        _stop(pid)


def _stop(pid):
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_second_daemon_fails_with_the_pid_of_the_first(node):
    start, pid_path, marks = node
    first = start()
    assert first.returncode == 0, first.err
    pid = int(pid_path.read_text())
    assert pid != first.pid and pidfile.is_pid_file_locked(str(pid_path))
    second = start()
    assert second.returncode == 1
    assert second.err == (
        "ganeti-masterd: Error while locking PID file:\nPID file '%s' is already"
        " locked by another process, PID read from file is %d\n" % (pid_path, pid))
    assert marks.read_text() == "prepared\n"          # the second never got that far
    assert int(pid_path.read_text()) == pid
    _stop(pid)
    assert not pid_path.exists() and not pidfile.is_pid_file_locked(str(pid_path))
    third = start()
    assert third.returncode == 0, third.err
    _stop(int(pid_path.read_text()))


def test_two_daemons_started_at_once_only_one_runs(node):
    start, pid_path, marks = node
    procs = [start(wait=False) for _ in range(4)]
    for proc in procs:
        proc.communicate(timeout=60)
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1, 1, 1]
    assert marks.read_text() == "prepared\n"
    _stop(int(pid_path.read_text()))


def test_stale_pid_file_of_a_dead_process_does_not_block(node):
    start, pid_path, marks = node
    pid_path.parent.mkdir(parents=True)
    pid_path.write_text("1\n")           # a live process, but it holds no lock
    first = start()
    assert first.returncode == 0, first.err
    pid = int(pid_path.read_text())
    assert pid != 1
    _stop(pid)


def test_lock_is_not_inherited_by_programs_the_daemon_runs(tmp_path):
    path = str(tmp_path / "d.pid")
    fd = pidfile.lock_pid_file(path)
    pidfile.write_pid(fd)
    child = subprocess.Popen(["sleep", "30"])
    try:
        pidfile.release_pid_file(path, fd)
        assert not os.path.exists(path)
        fd2 = pidfile.lock_pid_file(path)    # the running child holds nothing
        pidfile.release_pid_file(path, fd2)
    finally:
        child.kill()
        child.wait()
