"""ganeti-watcher on a one-node cluster: restarts, giving up, dead daemons, pause."""

import os
import re

import pytest

import vcluster

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
WATCHER = os.path.join(vcluster.SRC, "daemons", "ganeti-watcher")


def _add(m, name):
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
          "--no-name-check", "--no-ip-check", "-n", m.name, name, check=True)


def _status(m, name):
    out = m.run("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                "name,status", check=True).stdout
    return dict(line.split("|") for line in out.splitlines()).get(name)


def _crash(m, name):
    """The instance dies behind Ganeti's back (fake hypervisor: its state file)."""
    os.unlink(m.path("/var/run/ganeti/fake-hypervisor/%s" % name))
    assert _status(m, name) == "ERROR_down"


def _watch(m, *args):
    return m.run(WATCHER, *args)


def _log(m):
    with open(m.path("/var/log/ganeti/watcher.log")) as fd:
        return fd.read()


def _startup_jobs(m, name):
    out = m.run("gnt-job", "list", "--no-headers", "-o", "id,summary", check=True).stdout
    return [line for line in out.splitlines()
            if re.search(r"INSTANCE_STARTUP\(%s\)" % re.escape(name), line)]


def test_watcher_restarts_a_dead_instance(cluster):
    m = cluster.master
    name = "watched1.example.com"
    _add(m, name)
    _crash(m, name)
    proc = _watch(m)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _status(m, name) == "running"
    assert "Restarting instance %s (attempt #1)" % name in _log(m)
    status_files = [f for f in os.listdir(m.path("/var/lib/ganeti"))
                    if f.startswith("watcher.") and f.endswith(".instance-status")]
    assert len(status_files) == 1
    status_file = m.path("/var/lib/ganeti/" + status_files[0])
    with open(status_file) as fd:       # what this run saw
        assert "%s ERROR_down\n" % name in fd.read()
    assert _watch(m).returncode == 0
    with open(status_file) as fd:
        assert "%s running\n" % name in fd.read()
    assert os.path.exists(m.path("/var/lib/ganeti/" + status_files[0].replace(
        ".instance-status", ".data")))
    m.run("gnt-instance", "remove", "-f", name, check=True)


def test_watcher_gives_up_after_five_attempts(cluster):
    m = cluster.master
    name = "watched2.example.com"
    _add(m, name)
    hookdir = m.path("/etc/ganeti/hooks/instance-start-pre.d")
    os.makedirs(hookdir, exist_ok=True)
    hook = os.path.join(hookdir, "10-refuse")
    with open(hook, "w") as fd:
        fd.write("#!/bin/sh\n[ \"$GANETI_INSTANCE_NAME\" = %s ] && exit 1\nexit 0\n" % name)
    os.chmod(hook, 0o755)
    try:
        _crash(m, name)
        codes = [_watch(m).returncode for _ in range(6)]
        assert codes == [1] * 5 + [0], codes
        assert _status(m, name) == "ERROR_down"
        log = _log(m)
        for attempt in range(1, 6):
            assert "Restarting instance %s (attempt #%d)" % (name, attempt) in log
        assert "Restarting instance %s (attempt #6)" % name not in log
        assert log.count("Could not restart instance %s after 5 attempts, giving up"
                         % name) == 1
        assert len(_startup_jobs(m, name)) == 5
    finally:
        os.unlink(hook)
    # started by hand, the watcher sees it running and forgets the attempts
    m.run("gnt-instance", "startup", name, check=True)
    assert _watch(m).returncode == 0
    assert "Instance %s is running again" % name in _log(m)
    m.run("gnt-instance", "remove", "-f", name, check=True)


def test_watcher_restarts_a_dead_node_daemon(cluster):
    m = cluster.master
    assert m.kill_daemon("ganeti-noded")
    assert not m.pid("ganeti-noded")
    proc = _watch(m)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert m.pid("ganeti-noded")
    assert "ganeti-noded is not running, starting it" in _log(m)
    assert m.run("gnt-cluster", "verify").returncode == 0


def test_watcher_pause(cluster):
    m = cluster.master
    name = "watched3.example.com"
    _add(m, name)
    out = m.run("gnt-cluster", "watcher", "pause", "1h", check=True).stdout
    assert re.match(r"^The watcher is paused until .+\.$", out.strip()), out
    info = m.run("gnt-cluster", "watcher", "info", check=True).stdout
    assert info.strip() == out.strip()
    assert os.path.exists(m.path("/var/lib/ganeti/watcher.pause"))
    _crash(m, name)
    assert _watch(m).returncode == 0
    assert _status(m, name) == "ERROR_down"
    assert "The watcher is paused until" in _log(m)
    # --ignore-pause overrides it
    assert _watch(m, "--ignore-pause").returncode == 0
    assert _status(m, name) == "running"
    m.run("gnt-cluster", "watcher", "continue", check=True)
    info = m.run("gnt-cluster", "watcher", "info", check=True).stdout
    assert info.strip() == "The watcher is not paused."
    assert not os.path.exists(m.path("/var/lib/ganeti/watcher.pause"))
    bad = m.run("gnt-cluster", "watcher", "pause")
    assert bad.returncode != 0
    bad = m.run("gnt-cluster", "watcher", "pause", "soon")
    assert bad.returncode != 0
    m.run("gnt-instance", "remove", "-f", name, check=True)
