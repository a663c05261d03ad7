"""gnt-node restricted-command on a two-node namespace cluster: each node runs
the commands of its own /etc/ganeti/restricted-commands (under its
GANETI_ROOTDIR); the output per node, -M, -g, --sync; a command that fails
on one node and is missing on the other (the caller's error, the delay, exit
code 1); names that would leave the directory or hold forbidden characters
run nothing; Ganeti's error for an unknown node."""

import os
import time

import pytest

import netns_cluster

SEP = "------------------------------------------------\n"
RC_DIR = "/etc/ganeti/restricted-commands"


@pytest.fixture(scope="module")
def vc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    vc = netns_cluster.NetnsCluster(2, prefix="gntx")
    try:
        vc.init()
        vc.master.run("gnt-node", "add", vc.nodes[1].name, check=True)
        for index, node in enumerate(vc.nodes, 1):
            directory = node.path(RC_DIR)
            os.makedirs(directory)
            os.chmod(directory, 0o755)
            _script(node, RC_DIR + "/hello",
                    "echo 'hello from node%d'\necho 'second line'\n" % index)
            # the targets of the refused names below: they must never run
            for rel in (RC_DIR + "/probe.sh", "/etc/ganeti/probe"):
                _script(node, rel, "touch %s\n" % node.path("/ran-" + rel.replace("/", "_")))
        _script(vc.nodes[0], RC_DIR + "/fails", "echo 'disk check failed' >&2\nexit 3\n")
        yield vc
    finally:
        vc.cleanup()


def _script(node, rel, body):
    path = node.path(rel)
    with open(path, "w") as fd:
        fd.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)


def _run(vc, *args):
    return vc.master.run("gnt-node", "restricted-command", *args)


def _names(vc):
    return [node.name for node in vc.nodes]


def _node_log(node):
    with open(node.path("/var/log/ganeti/node-daemon.log")) as fd:
        return fd.read()


def test_runs_on_both_nodes(vc):
    n1, n2 = _names(vc)
    proc = _run(vc, "hello", n1, n2)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == (SEP + "Node: %s\nhello from node1\nsecond line\n\n" % n1 +
                           SEP + "Node: %s\nhello from node2\nsecond line\n\n" % n2)
    assert os.path.exists(vc.master.path("/var/lock/ganeti-restricted-commands.lock"))


def test_machine_names_group_and_sync(vc):
    n1, n2 = _names(vc)
    proc = _run(vc, "-M", "--sync", "hello", n2)
    assert (proc.returncode, proc.stdout) == (
        0, SEP + "%s: hello from node2\n%s: second line\n" % (n2, n2))
    proc = _run(vc, "--node-group", "default", "-M", "hello")
    assert proc.returncode == 0
    assert proc.stdout == (SEP + "%s: hello from node1\n%s: second line\n" % (n1, n1) +
                           SEP + "%s: hello from node2\n%s: second line\n" % (n2, n2))
    # a group without these nodes: nothing to run
    vc.master.run("gnt-group", "add", "empty", check=True)
    try:
        proc = _run(vc, "-g", "empty", "hello", n1)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    finally:
        vc.master.run("gnt-group", "remove", "empty", check=True)


def test_failing_and_missing_command(vc):
    n1, n2 = _names(vc)
    start = time.monotonic()
    proc = _run(vc, "fails", n1, n2)
    took = time.monotonic() - start
    assert proc.returncode == 1
    assert proc.stdout == (
        SEP + "Command 'fails' on node '%s' failed: Restricted command 'fails' failed:"
        " exited with exit code 3; output: disk check failed\n\n" % n1 +
        SEP + "Command 'fails' on node '%s' failed: Executing command 'fails' failed\n"
        % n2)
    # the missing command answers only after the delay; the reason is in node2's log
    assert took >= 10
    assert "Can't stat(2) '%s/fails'" % vc.nodes[1].path(RC_DIR) in _node_log(vc.nodes[1])


@pytest.mark.parametrize("name,reason", [
    ("../probe", "Invalid command name"),
    ("probe.sh", "Command name contains forbidden characters"),
])
def test_refused_names_run_nothing(vc, name, reason):
    n1, n2 = _names(vc)
    proc = _run(vc, name, n1, n2)
    assert proc.returncode == 1
    assert proc.stdout == "".join(
        SEP + "Command '%s' on node '%s' failed: Executing command '%s' failed\n"
        % (name, node, name) for node in (n1, n2))
    for node in vc.nodes:
        assert not [f for f in os.listdir(node.root) if f.startswith("ran-")]
        assert reason in _node_log(node)


def test_unknown_node_as_ganeti(vc):
    n1, _ = _names(vc)
    # Ganeti's sample: the first argument is the command, "true" a node name
    proc = _run(vc, n1, "true")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Failure: prerequisites not met for this operation:\n"
                           "error type: unknown_entity, error details:\n"
                           "Node name true not found\n")
    proc = _run(vc, "hello")
    assert proc.returncode == 1
    assert "Node group or node names must be given" in proc.stderr
