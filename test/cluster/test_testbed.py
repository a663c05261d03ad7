"""The test bed itself: its lock is released when a set-up fails, every wait
for it is bounded and names the holder, a killed holder leaves nothing
behind, and a machine without /etc/hosts gets one."""

import os
import signal
import subprocess
import sys
import time

import pytest

import netns_cluster
import testlock
import vcluster

# A holder in another process: takes the lock named argv[1], says so, sleeps.
HOLDER = ("import sys, time; sys.path.insert(0, %r); import testlock\n"
          "testlock.take(sys.argv[1], 5); print('held', flush=True); time.sleep(60)"
          % os.path.dirname(os.path.abspath(testlock.__file__)))


@pytest.fixture
def lock_name(monkeypatch, request):
    """A lock of this test's own (the real one may be held by a cluster test)."""
    name = "testbed-%d-%s" % (os.getpid(), request.node.name)
    monkeypatch.setattr(vcluster, "LOCK_NAME", name)
    return name


def _free(name):
    try:
        testlock.release(testlock.take(name, 0))
        return True
    except RuntimeError:
        return False


@pytest.fixture
def holder(lock_name):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, lock_name],
                            stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_failed_setup_releases_the_lock(lock_name, monkeypatch):
    def no_hosts(count):
        raise OSError("cannot write /etc/hosts (simulated)")

    monkeypatch.setattr(vcluster, "ensure_hosts", no_hosts)
    with pytest.raises(OSError, match="simulated"):
        vcluster.VirtualCluster(1)
    assert _free(lock_name)


def test_cleanup_releases_the_lock_when_a_step_fails(lock_name, monkeypatch, tmp_path):
    monkeypatch.setattr(vcluster, "ensure_hosts", lambda count: None)
    vc = vcluster.VirtualCluster(1, base=str(tmp_path / "base"))
    assert not _free(lock_name)

    def broken(*args, **kwargs):
        raise OSError("kill failed (simulated)")

    monkeypatch.setattr(vc.nodes[0], "kill_daemon", broken)
    with pytest.raises(OSError, match="simulated"):
        vc.cleanup()
    assert _free(lock_name)


def test_lock_held_by_this_process_fails_at_once(lock_name):
    lock = vcluster.take_lock()
    try:
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="held by this very process"):
            vcluster.take_lock(timeout=30)
        assert time.monotonic() - start < 5
    finally:
        testlock.release(lock)
    assert _free(lock_name)


def test_lock_wait_is_bounded_and_names_the_holder(holder):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="held by pid %d" % holder.pid):
        vcluster.take_lock(timeout=0.5)
    assert 0.5 <= time.monotonic() - start < 5


def test_lock_of_a_killed_holder_is_free(holder, lock_name):
    assert testlock.holder(lock_name) == holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    testlock.release(vcluster.take_lock(timeout=5))
    assert testlock.holder(lock_name) == 0


def test_ensure_hosts_creates_a_missing_hosts_file(tmp_path, monkeypatch):
    hosts = tmp_path / "hosts"
    monkeypatch.setattr(vcluster, "HOSTS_FILE", str(hosts))
    vcluster.ensure_hosts(2)
    lines = hosts.read_text().splitlines()
    assert lines[0] == vcluster.HOSTS_MARK
    assert "%s %s" % (vcluster.node_ip(2), vcluster.node_name(2)) in lines
    assert "%s %s" % (vcluster.CLUSTER_IP, vcluster.CLUSTER_NAME) in lines
    before = hosts.read_text()
    vcluster.ensure_hosts(2)            # names present: nothing added twice
    assert hosts.read_text() == before


def _fake_ip(tmp_path, monkeypatch, exec_error):
    """An ``ip`` first on PATH that makes namespaces but cannot enter them."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "ip"
    tool.write_text("#!/bin/sh\n[ \"$2\" = exec ] && { echo '%s' >&2; exit 1; }\nexit 0\n"
                    % exec_error)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))


def test_netns_reason_says_why_ip_netns_exec_fails(tmp_path, monkeypatch):
    _fake_ip(tmp_path, monkeypatch, "mount --make-rslave /: Invalid argument")
    reason = netns_cluster.netns_supported()
    assert reason == ("'ip netns exec' does not work here: "
                      "mount --make-rslave /: Invalid argument")


def test_netns_missing_package_is_an_error(monkeypatch):
    monkeypatch.setattr(netns_cluster, "NEEDED_PROGRAMS",
                        (("ip", "iproute2"), ("/nonexistent/sshd", "openssh-server")))
    with pytest.raises(RuntimeError, match="needs the Debian packages openssh-server "
                       r"\(sudo tools/install-deps --test\)"):
        netns_cluster.netns_supported()
