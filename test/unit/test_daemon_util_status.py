"""`/etc/init.d/ganeti status`: one line per daemon and the LSB exit code."""

import os
import subprocess
import sys

import pytest

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
HOST = "node1.example.com"


@pytest.fixture
def node(tmp_path):
    """A node root (the master) and the init script, wired to the source tree."""
    root = tmp_path / HOST
    (root / "var/lib/ganeti").mkdir(parents=True)
    (root / "var/run/ganeti").mkdir(parents=True)
    (root / "var/lib/ganeti/ssconf_master_node").write_text(HOST + "\n")
    pkglib = tmp_path / "pkglib"
    pkglib.mkdir()
    util = pkglib / "daemon-util"
    util.write_text("#!/bin/sh\nexec %s %s \"$@\"\n"
                    % (PYTHON, os.path.join(SRC, "daemons", "daemon-util.in")))
    util.chmod(0o755)
    with open(os.path.join(SRC, "doc", "examples", "ganeti.initd.in")) as fd:
        script = fd.read().replace("@PKGLIBDIR@", str(pkglib))
    initd = tmp_path / "ganeti.initd"
    initd.write_text(script)
    initd.chmod(0o755)
    env = dict(os.environ, GANETI_ROOTDIR=str(root), GANETI_HOSTNAME=HOST,
               PYTHONPATH=os.path.join(SRC, "lib"), TERM="dumb")
    procs = []

    def fake_daemon(name):
        """A process whose command line names the daemon, with its pid file."""
        proc = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(300)", name])
        procs.append(proc)
        (root / ("var/run/ganeti/%s.pid" % name)).write_text("%d\n" % proc.pid)
        return proc

    def status(*args):
        return subprocess.run([str(initd), "status"] + list(args), env=env,
                              capture_output=True, text=True, timeout=60)

    yield root, fake_daemon, status
    for proc in procs:
        proc.kill()
        proc.wait()


def test_all_running(node):
    _, fake_daemon, status = node
    fake_daemon("ganeti-noded")
    fake_daemon("ganeti-masterd")
    fake_daemon("ganeti-rapi")
    result = status()
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("ganeti-noded is running.\nganeti-masterd is running.\n"
                             "ganeti-rapi is running.\n")


def test_one_not_running(node):
    _, fake_daemon, status = node
    fake_daemon("ganeti-noded")
    result = status()
    assert result.returncode == 3
    assert result.stdout == ("ganeti-noded is running.\n"
                             "ganeti-masterd is not running ... failed!\n"
                             "ganeti-rapi is not running ... failed!\n")


def test_dead_with_pid_file_left(node):
    root, fake_daemon, status = node
    dead = fake_daemon("ganeti-masterd")
    dead.kill()
    dead.wait()
    result = status()
    # the first daemon not running gives the code: noded (3) comes first
    assert result.returncode == 3
    result = status("ganeti-masterd")
    assert result.returncode == 1
    assert result.stdout == "ganeti-masterd is not running ... failed!\n"


def test_non_master_node_has_only_noded(node):
    root, fake_daemon, status = node
    (root / "var/lib/ganeti/ssconf_master_node").write_text("node2.example.com\n")
    fake_daemon("ganeti-noded")
    result = status()
    assert (result.returncode, result.stdout) == (0, "ganeti-noded is running.\n")


def test_unknown_daemon(node):
    result = node[2]("ganeti-bogus")
    assert result.returncode == 4
    assert "Unknown daemon 'ganeti-bogus'" in result.stdout
