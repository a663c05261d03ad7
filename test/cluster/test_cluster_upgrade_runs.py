"""gnt-cluster upgrade on a namespace cluster whose nodes run installed versions.

This tree is installed as version 0.1 and a copy of it as 0.2, side by side
(installed_versions). The cluster starts on 0.1; ``upgrade --to 0.2`` must
switch every node's links, restart every daemon on the new version and leave
the cluster working (queue undrained, watcher running, verify clean, an
instance still there), with Ganeti's steps on stdout and a backup of the data
directory. Then an upgrade interrupted after the switch is finished with
--resume, and ``--to 0.1`` goes back (a downgrade). Bad requests change
nothing.
"""

import glob
import os
import shutil
import tarfile
import tempfile

import pytest

import installed_versions
import netns_cluster
import osfixture

UPGRADE_STEPS = [
    "Verifying {to} present on all nodes",
    "Draining queue",
    "Pausing the watcher for one hour.",
    "Stopping daemons on master node.",
    "Stopping daemons everywhere.",
    "Backing up configuration as {backup}",
]
AFTER_SWITCH = [
    "Starting daemons everywhere.",
    "Redistributing the configuration.",
    "Restarting daemons everywhere.",
    "Undraining the queue.",
    "Running post-upgrade hooks",
    "Unpausing the watcher.",
    "Verifying cluster.",
]


def _expected(to, backup, downgrade=False):
    lines = [s.format(to=to, backup=backup) for s in UPGRADE_STEPS]
    if downgrade:
        lines += ["Downgrading configuration", "Performing version-specific downgrade tasks."]
    lines.append("Switching to version %s on all nodes" % to)
    if not downgrade:
        lines.append("Upgrading configuration")
    return lines + AFTER_SWITCH


@pytest.fixture(scope="module")
def cluster():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    for tool in ("autoreconf", "make", "rst2man"):
        if not shutil.which(tool):
            pytest.skip("%s is missing (tools/install-deps --build)" % tool)
    # the "_" before "/" in the install prefix, as a real prefix may have it,
    # must not upset the man pages' markup
    base = tempfile.mkdtemp(prefix="gup-", suffix="_")
    nc = None
    osdef = osfixture.RecordingOS()
    try:
        prefix = installed_versions.install_versions(base)
        nc = installed_versions.InstalledNetnsCluster(2, prefix="gnup")
        nc.prefix_dir = prefix
        for node in nc.nodes:
            node.activate(prefix, "0.1")
        nc.init()
        m = nc.master
        m.run("gnt-node", "add", nc.node(2).name, check=True)
        m.run("gnt-instance", "add", "-t", "diskless", "-o", osdef.name, "--no-ip-check",
              "--no-name-check", "-n", nc.node(2).name, "inst1", check=True)
        yield nc
    finally:
        if nc is not None:
            nc.cleanup()
        osdef.remove()
        shutil.rmtree(base, ignore_errors=True)


def _version(node):
    out = node.run("gnt-cluster", "version", check=True).stdout
    return [line for line in out.splitlines() if line.startswith("Software version:")][0]


def _backups(node):
    return sorted(glob.glob(node.path("/var/lib/ganeti*.tar")))


def _state(nc):
    """What a refused upgrade must leave as it was."""
    m = nc.master
    return (
        [n.active_version() for n in nc.nodes],
        os.path.exists(m.path("/var/lib/ganeti/intent-to-upgrade")),
        m.run("gnt-cluster", "queue", "info", check=True).stdout,
        m.run("gnt-cluster", "watcher", "info", check=True).stdout,
        [n.pid("ganeti-noded") for n in nc.nodes] + [m.pid("ganeti-masterd")],
        _backups(m),
    )


@pytest.mark.parametrize("args, message", [
    ([], "Precisely one of the options --to and --resume has to be given\n"),
    (["--to", "0.2", "--resume"],
     "Precisely one of the options --to and --resume has to be given\n"),
    (["--to", "zero"], "Could not parse version string zero\n"),
    (["--to", "1.0"],
     "Cannot upgrade to 1.0: major version up- or downgrades are not supported\n"),
])
def test_bad_requests_change_nothing(cluster, args, message):
    before = _state(cluster)
    proc = cluster.master.run("gnt-cluster", "upgrade", *args)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", message)
    assert _state(cluster) == before


def test_refused_on_a_node_that_is_not_the_master(cluster):
    before = _state(cluster)
    n2 = cluster.node(2)
    proc = n2.run("gnt-cluster", "upgrade", "--to", "0.2")
    # the words of every command that needs the master
    other = n2.run("gnt-cluster", "queue", "info")
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", other.stderr)
    assert "This is not the master node, please connect to node '%s'" % (
        cluster.master.name) in proc.stderr
    assert _state(cluster) == before


def test_version_missing_on_a_node_changes_nothing(cluster):
    before = _state(cluster)
    proc = cluster.master.run("gnt-cluster", "upgrade", "--to", "0.3")
    assert proc.returncode == 1
    assert proc.stdout == "Verifying 0.3 present on all nodes\n"
    assert proc.stderr == "Ganeti version 0.3 not installed on nodes %s, %s\n" % (
        cluster.node(2).name, cluster.node(1).name)
    assert _state(cluster) == before


def test_a_failure_before_the_switch_undoes_every_step(cluster):
    m, n2 = cluster.master, cluster.node(2)
    # node 2's active version: a copy of 0.1 whose daemon-util cannot stop
    broken = os.path.join(os.path.dirname(cluster.prefix_dir), "broken-lib")
    shutil.copytree(os.path.join(cluster.prefix_dir, "lib", "ganeti", "0.1"), broken,
                    symlinks=True)
    real = os.path.join(cluster.prefix_dir, "lib", "ganeti", "0.1", "daemon-util")
    with open(os.path.join(broken, "daemon-util"), "w") as fd:
        fd.write('#!/bin/sh\nif [ "$1" = stop-all ]; then echo cannot >&2; exit 1; fi\n'
                 'exec %s "$@"\n' % real)
    link = n2.path("/etc/ganeti/lib")
    os.unlink(link)
    os.symlink(broken, link)
    try:
        before = _state(cluster)
        proc = m.run("gnt-cluster", "upgrade", "--to", "0.2", timeout=600)
        assert proc.returncode == 1
        assert proc.stdout.splitlines() == _expected("0.2", "")[:5]
        assert proc.stderr == "Failed to stop daemons on %s.\n" % n2.name
        after = _state(cluster)
        # the daemons the upgrade stopped on the master run again
        assert after[4][-1] and after[4][-1] != before[4][-1]
        assert after[:4] + after[5:] == before[:4] + before[5:]
        m.run("gnt-cluster", "verify", check=True)
    finally:
        os.unlink(link)
        os.symlink(os.path.join(cluster.prefix_dir, "lib", "ganeti", "0.1"), link)
        shutil.rmtree(broken)


def _check_running_on(nc, dir_version, package_version, old_pids):
    m = nc.master
    assert [n.active_version() for n in nc.nodes] == [dir_version] * len(nc.nodes)
    # masterd answers with its own version: the new one
    assert _version(m) == "Software version: %s" % package_version
    pids = [n.pid("ganeti-noded") for n in nc.nodes] + [m.pid("ganeti-masterd")]
    assert all(pids) and not set(pids) & set(old_pids)
    # started from the active version's directory, not from a source tree
    for node, pid in zip(nc.nodes + [m], pids):
        with open("/proc/%d/cmdline" % pid, "rb") as fd:
            argv = fd.read().decode().split("\0")
        assert argv[1].startswith(node.path("/etc/ganeti/share/ganeti-")), argv
        with open("/proc/%d/environ" % pid, "rb") as fd:
            assert b"PYTHONPATH=" not in fd.read()
    assert not os.path.exists(m.path("/var/lib/ganeti/intent-to-upgrade"))
    assert m.run("gnt-cluster", "queue", "info", check=True).stdout == \
        "The drain flag is unset\n"
    assert m.run("gnt-cluster", "watcher", "info", check=True).stdout == \
        "The watcher is not paused.\n"
    # the node daemons' protocol version is checked against the master's
    m.run("gnt-cluster", "verify", check=True)
    out = m.run("gnt-instance", "list", "--no-headers", "-o", "name,pnode", check=True).stdout
    assert out.split() == ["inst1", nc.node(2).name]
    # jobs run again
    m.run("gnt-instance", "modify", "-B", "memory=96", "inst1", check=True)


def test_upgrade_switches_every_node_and_restarts_the_daemons(cluster):
    m = cluster.master
    old_pids = [n.pid("ganeti-noded") for n in cluster.nodes] + [m.pid("ganeti-masterd")]
    assert _version(m) == "Software version: 0.1.0"
    proc = m.run("gnt-cluster", "upgrade", "--to", "0.2", timeout=600)
    assert (proc.returncode, proc.stderr) == (0, "")
    backups = _backups(m)
    assert len(backups) == 1
    assert proc.stdout.splitlines() == _expected("0.2", backups[0])
    _check_running_on(cluster, "0.2", "0.2.0", old_pids)
    # the backup holds the data directory as it was with every daemon stopped,
    # the etcd member's data included
    with tarfile.open(backups[0]) as tar:
        names = tar.getnames()
    data_dir = m.path("/var/lib/ganeti").lstrip("/")
    assert data_dir + "/server.pem" in names
    assert any(n.startswith(data_dir + "/etcd/") for n in names)
    assert os.stat(backups[0]).st_mode & 0o077 == 0


def test_resume_finishes_an_upgrade_interrupted_after_the_switch(cluster):
    m = cluster.master
    # as if the master lost power right after switching the links to 0.1 on
    # every node: daemons down, the intent file left behind
    for n in cluster.nodes:
        n.run(n.path("/etc/ganeti/lib/daemon-util"), "stop-all", check=True)
        n.activate(cluster.prefix_dir, "0.1")
    with open(m.path("/var/lib/ganeti/intent-to-upgrade"), "w") as fd:
        fd.write("0.2.0,0.1,12345\n")
    # a different target is refused while that upgrade is under way
    proc = m.run("gnt-cluster", "upgrade", "--to", "0.3")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "", "An upgrade from 0.2.0 to 0.1 is in progress; use --resume to finish it"
        " first\n")
    proc = m.run("gnt-cluster", "upgrade", "--resume", timeout=600)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == ["Switching to version 0.1 on all nodes",
                                        "Upgrading configuration"] + AFTER_SWITCH
    _check_running_on(cluster, "0.1", "0.1.0", [])
    # nothing under way: --resume has nothing to do
    proc = m.run("gnt-cluster", "upgrade", "--resume")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_upgrade_and_downgrade_again(cluster):
    m = cluster.master
    proc = m.run("gnt-cluster", "upgrade", "--to", "0.2", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    old_pids = [n.pid("ganeti-noded") for n in cluster.nodes] + [m.pid("ganeti-masterd")]
    proc = m.run("gnt-cluster", "upgrade", "--to", "0.1", timeout=600)
    assert (proc.returncode, proc.stderr) == (0, "")
    backup = _backups(m)[-1]
    assert proc.stdout.splitlines() == _expected("0.1", backup, downgrade=True)
    _check_running_on(cluster, "0.1", "0.1.0", old_pids)
