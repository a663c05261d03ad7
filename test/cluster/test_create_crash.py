"""kill -9 of the node daemon during an instance creation: the job waits for the
node to answer again, removes the disk files and directory it made, and ends in
error; the same name can then be created and removed. Removing an instance whose
disk files are partly gone works."""

import os
import signal
import subprocess
import time

from osfixture import recos  # noqa: F401 (fixture)
import vcluster

FILE_DIR = "/srv/ganeti/file-storage"


def _add_args(m, osdef, name, *extra, disks=("64M",)):
    disk_args = []
    for idx, size in enumerate(disks):
        disk_args += ["--disk", "%d:size=%s" % (idx, size)]
    return ["gnt-instance", "add", "-n", m.name, "-o", osdef.name, "-t", "file",
            "--no-name-check", "--no-ip-check", "--no-start"] + disk_args + \
        list(extra) + [name]


def _files_of(m, name):
    """Every file and directory below the instance's file storage directory."""
    top = m.path(FILE_DIR + "/" + name)
    found = [top] if os.path.exists(top) else []
    for dirpath, dirs, files in os.walk(top):
        found += [os.path.join(dirpath, n) for n in dirs + files]
    return found


def _instances(m):
    out = m.run("gnt-instance", "list", "--no-headers", "-o", "name", check=True).stdout
    return out.split()


def _wait(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def _start_add(m, osdef, name, delay):
    """Start gnt-instance add in the background; return once its OS create script
    (which then sleeps ``delay`` seconds) runs."""
    argv = _add_args(m, osdef, name, "-O", "delay=%d" % delay)
    proc = subprocess.Popen([vcluster.PYTHON, os.path.join(vcluster.SRC, "scripts",
                                                           argv[0])] + argv[1:],
                            env=m.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        _wait(lambda: osdef.started(name), 60, "the OS create script")
    except AssertionError:
        proc.kill()
        proc.communicate()
        raise
    return proc


def test_noded_killed_during_create_leaves_nothing(cluster, recos):
    m = cluster.master
    name = "crash1.example.com"
    proc = _start_add(m, recos, name, 5)
    try:
        assert _files_of(m, name), "the disk file should exist while the script runs"
        assert m.kill_daemon("ganeti-noded", signal.SIGKILL)
        time.sleep(2)
        m.start_daemon("ganeti-noded")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, out + err
    assert "Could not add os for instance %s" % name in err
    assert "Could not clean up on node %s" % m.name in out
    assert "Left over" not in out + err
    assert _files_of(m, name) == []
    assert name not in _instances(m)

    # the same name again: created and removed cleanly
    out = m.run(*_add_args(m, recos, name, disks=("64M", "32M")), check=True).stdout
    assert "Waiting for instance %s to sync disks\n" % name in out
    disks = [p for p in _files_of(m, name) if ".file.disk" in os.path.basename(p)]
    assert len(disks) == 2
    os.unlink(disks[0])        # a disk file that went missing must not block removal
    m.run("gnt-instance", "remove", "-f", name, check=True)
    assert name not in _instances(m)
    assert _files_of(m, name) == []

    out = m.run(*_add_args(m, recos, name, "--no-wait-for-sync"), check=True).stdout
    assert "sync disks" not in out and "* creating instance disks..." in out
    m.run("gnt-instance", "remove", "-f", name, check=True)


def test_node_that_stays_away_is_named_in_the_error(cluster, recos):
    """With the node daemon gone for good, the job gives up after the bounded wait
    and says what is left over."""
    m = cluster.master
    name = "crash2.example.com"
    proc = _start_add(m, recos, name, 3)
    try:
        assert m.kill_daemon("ganeti-noded", signal.SIGKILL)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if not m.pid("ganeti-noded"):
            m.start_daemon("ganeti-noded")
    assert proc.returncode == 1, out + err
    assert "cleaning up node %s failed, left over: " % m.name in err
    assert "disk disk/0 (%s/%s/" % (FILE_DIR, name) in err
    assert name not in _instances(m)
    # what the job names is what is there; removing it by hand is the admin's part
    assert _files_of(m, name)
    for path in sorted(_files_of(m, name), reverse=True):
        if os.path.isdir(path):
            os.rmdir(path)
        else:
            os.unlink(path)
