"""gnt-storage on a two-node cluster with real daemons.

The golden test runs Ganeti 3.0.2's sample (golden/gnt-storage-3.0.2.txt, a
copy of the spec sample gnt-storage.txt: a cluster without providers). Then
ExtStorage providers are installed in each node's search path (below the
node's root directory in this virtual cluster) and gnt-storage reports them
per node and per node group.
"""

import os

import pytest

from golden_samples import difference, matches, replay
import vcluster

SAMPLE = os.path.join(os.path.dirname(__file__), "golden", "gnt-storage-3.0.2.txt")
ES_DIR = "/srv/ganeti/extstorage"
SCRIPTS = ("create", "remove", "grow", "attach", "detach", "setinfo", "verify")


@pytest.fixture(scope="module")
def vc():
    with vcluster.started(2) as cluster:
        yield cluster


def _provider(node, name, params="", skip=()):
    path = node.path(os.path.join(ES_DIR, name))
    os.makedirs(path)
    for script in SCRIPTS:
        if script not in skip:
            with open(os.path.join(path, script), "w") as fd:
                fd.write("#!/bin/sh\nexit 0\n")
            os.chmod(os.path.join(path, script), 0o755)
    with open(os.path.join(path, "parameters.list"), "w") as fd:
        fd.write(params)
    return os.path.join(ES_DIR, name)


def _check(node, argv, code, stdout="", stderr=""):
    proc = node.run(*argv)
    assert (proc.returncode, proc.stdout, proc.stderr) == (code, stdout, stderr), argv


def test_sample_sequence_matches_ganeti(vc):
    failures = []
    for cmdline, argv, expected, got, renamed in replay(vc, SAMPLE):
        if not matches(expected, got, renamed):
            failures.append(difference(cmdline, got, expected))
    assert not failures, "\n".join(failures)


def test_providers_per_node_and_group(vc):
    m, n2 = vc.nodes
    # each node has its own search path below its root (paths are shown with it)
    _provider(m, "shared", "pool the pool\nsize_hint a hint\n")
    _provider(n2, "shared", "pool the pool\n")
    _provider(m, "half", skip=("grow",))
    _provider(n2, "half")
    lone = _provider(m, "lone")
    first, second = sorted([m, n2], key=lambda n: n.name)

    def path(name):
        return os.path.join(ES_DIR, name)
    proc = m.run("gnt-storage", "diagnose")
    assert (proc.returncode, proc.stderr) == (0, "")
    m_half = ("invalid - File 'grow' under path '%s' is missing (ENOENT) (path: %s)"
              " [no parameters]" % (m.path(path("half")), m.path(path("half"))))
    shared = {m.name: "valid (path: %s) [parameters: pool, size_hint]"
              % m.path(path("shared")),
              n2.name: "valid (path: %s) [parameters: pool]" % n2.path(path("shared"))}
    expected = (
        "Provider: half\n---\n"
        "  Node: %s, status: valid (path: %s) [no parameters]\n"
        "  Node: %s, status: %s\n"
        "  --\n  For nodegroup: default --> invalid\n\n"
        % (n2.name, n2.path(path("half")), m.name, m_half)
        + "Provider: lone\n---\n"
        "  Node: %s, status: valid (path: %s) [no parameters]\n"
        "  Node: %s, status: ExtStorage provider not found\n"
        "  --\n  For nodegroup: default --> invalid\n\n"
        % (m.name, m.path(lone), n2.name)
        + "Provider: shared\n---\n"
        + "".join("  Node: %s, status: %s\n" % (n.name, shared[n.name])
                  for n in (first, second))
        + "  --\n  For nodegroup: default --> valid\n\n")
    assert proc.stdout == expected
    _check(m, ["gnt-storage", "info", "shared", "nosuch"], 0,
           "shared:\n  - Valid for nodegroups:\n      default\n"
           "  - Supported parameters:\n      pool: the pool\n\n"
           "nosuch: Not Found\n\n")
    # the second node in a group of its own: validity per group
    m.run("gnt-group", "add", "rack2", check=True)
    m.run("gnt-group", "assign-nodes", "rack2", n2.name, check=True)
    _check(m, ["gnt-storage", "info"], 0,
           "half:\n  - Valid for nodegroups:\n      rack2\n"
           "  - Supported parameters:\n\n"
           "lone:\n  - Valid for nodegroups:\n      default\n"
           "  - Supported parameters:\n\n"
           "shared:\n  - Valid for nodegroups:\n      default\n      rack2\n"
           "  - Supported parameters:\n      pool: the pool\n\n")
    proc = m.run("gnt-storage", "diagnose", check=True)
    assert ("  --\n  For nodegroup: default --> valid\n  For nodegroup: rack2 -->"
            " invalid\n\nProvider: shared") in proc.stdout
