"""gnt-os modify on a two-node cluster with real daemons.

The golden test runs the command sequence of Ganeti 3.0.2's sample
(golden/gnt-os-3.0.2.txt, a copy of the spec sample gnt-os.txt) and compares
stdout, stderr and exit code of each command after normalising what differs
from run to run. The other tests check that the settings take effect: the
per-OS hypervisor and OS parameters reach the instances and the OS scripts,
a hidden OS is not listed but usable, a blacklisted one is not installed.
"""

import os
import re

import pytest

from golden_samples import SAMPLE_NODES, difference, matches, replay
from osfixture import recos  # noqa: F401 (fixture)
import vcluster

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
SAMPLE = os.path.join(os.path.dirname(__file__), "golden", "gnt-os-3.0.2.txt")
PRIVATE = "Private-Default-3c9e"


@pytest.fixture(scope="module")
def vc():
    with vcluster.started(2) as cluster:
        yield cluster


def _diagnose_noop():
    """Our gnt-os diagnose of the sample's cluster (in the sample's node names):
    Ganeti 3.0.2 names the nodes by their UUIDs there (a slip of its change to
    node UUIDs); we name them."""
    line = ("  Node: %s, status: valid (path: /usr/share/ganeti/os/noop)"
            " [API versions: 5, 10] [trusted]\n")
    return (0, "OS: noop [global status: valid]\n"
            + "".join(line % name for name in SAMPLE_NODES) + "\n", "")


def test_sample_sequence_matches_ganeti(vc):
    failures = []
    for cmdline, argv, expected, got, renamed in replay(vc, SAMPLE):
        if cmdline == "gnt-os diagnose":
            ok = got == _diagnose_noop()
        else:
            ok = matches(expected, got, renamed)
        if not ok:
            failures.append(difference(cmdline, got, expected))
    assert not failures, "\n".join(failures)
    # what the sequence left behind, as Ganeti's gnt-cluster info showed it
    info = vc.master.run("gnt-cluster", "info", check=True).stdout
    assert ("OS-specific hypervisor parameters: \n  noop: \n    fake: \n"
            "OS parameters: \n  noop: \n    foo: bar\nHidden OSes: nosuchos\n"
            "Blacklisted OSes: \n") in info


def _check(node, argv, code, stdout="", stderr=""):
    proc = node.run(*argv)
    assert (proc.returncode, proc.stdout, proc.stderr) == (code, stdout, stderr), argv


def test_errors_are_ganetis(vc):
    """The gnt-os entries of the spec sample errors.txt."""
    m = vc.master
    _check(m, ["gnt-os", "info", "nosuchos"], 0, "nosuchos: \n\n")
    _check(m, ["gnt-os", "modify", "-O", "nosuch", "noop"], 1, "",
           "Unhandled Ganeti error: RPC input: Can't parse value for 'osparams': key"
           " 'noop': key 'nosuch': Unable to read String\n")


def _add(m, os_name, name, *extra, check=True):
    # with a disk: Ganeti installs no OS on a diskless instance (no script runs)
    return m.run("gnt-instance", "add", "-n", m.name, "-o", os_name, "-t", "file", "-s", "1G",
                 "--no-name-check", "--no-ip-check", "--no-nics", *extra, name,
                 check=check)


def test_settings_reach_instances_and_scripts(vc, recos):
    m = vc.master
    # the OS's verify script judges new defaults; a refused change changes nothing
    proc = m.run("gnt-os", "modify", "-O", "flavour=bad", "--hidden=yes", recos.name)
    assert proc.returncode == 1
    assert "flavour 'bad' is not supported" in proc.stderr
    _check(m, ["gnt-os", "info", recos.name + "+x"], 0, recos.name + "+x: \n\n")
    assert recos.name in _listed(m)
    m.run("gnt-os", "modify", "-O", "flavour=good,delay=0", "--os-parameters-private",
          "token=" + PRIVATE, "-H", "fake:migration_mode=non-live", recos.name, check=True)
    _add(m, recos.name, "osm1", "--no-start")
    env = recos.env("osm1")
    assert (env["OSP_FLAVOUR"], env["OSP_TOKEN"]) == ("good", PRIVATE)
    # the OS's hypervisor parameters (the fake one's only one is the cluster's
    # alone: no instance sets it, as in Ganeti)
    os_hv = "  %s: \n    fake: \n      migration_mode: non-live\n" % recos.name
    assert os_hv in m.run("gnt-cluster", "info", check=True).stdout
    proc = _add(m, recos.name, "osm2", "--no-start", "-H", "fake:migration_mode=live",
                check=False)
    assert (proc.returncode, proc.stderr.splitlines()[-1]) == (
        1, "The following hypervisor parameters are global and cannot be customized at"
        " instance level, please modify them at cluster level: migration_mode")
    _add(m, recos.name, "osm2", "--no-start")
    # the private default is never shown
    shown = (m.run("gnt-cluster", "info", check=True).stdout
             + m.run("gnt-job", "info", *m.run("gnt-job", "list", "--no-headers", "-o",
                                                 "id", check=True).stdout.split(),
                     check=True).stdout)
    assert PRIVATE not in shown, [ln for ln in shown.splitlines() if PRIVATE in ln]
    # the opcode's input fields, in gnt-job info's YAML layout
    assert re.search(r"(?m)^( +)osparams_private_cluster: \n\1  %s: \n\1    token:"
                     r" <redacted>$" % re.escape(recos.name), shown), shown
    # dropping a hypervisor's settings: the cluster's value again
    m.run("gnt-os", "modify", "-H", "-fake", recos.name, check=True)
    assert os_hv not in m.run("gnt-cluster", "info", check=True).stdout
    for name in ("osm1", "osm2"):
        m.run("gnt-instance", "remove", "-f", name, check=True)


def _listed(node):
    return node.run("gnt-os", "list", "--no-headers", check=True).stdout.split()


def test_hidden_and_blacklisted(vc):
    m = vc.master
    m.run("gnt-os", "modify", "--hidden=yes", "noop", check=True)
    assert "noop" not in _listed(m)
    _add(m, "noop", "osh1", "--no-start")            # hidden, but usable
    proc = m.run("gnt-os", "modify", "--hidden=yes", "noop")
    assert proc.returncode == 0 and "OS noop already in hidden OS list, ignoring" in \
        proc.stdout
    m.run("gnt-os", "modify", "--hidden=no", "--blacklisted=yes", "noop", check=True)
    assert "noop" not in _listed(m)
    proc = _add(m, "noop", "osb1", check=False)
    assert (proc.returncode, proc.stderr) == (1, (
        "Failure: prerequisites not met for this operation:\nerror type: wrong_state,"
        " error details:\nGuest OS 'noop' is not allowed for installation\n"))
    _check(m, ["gnt-instance", "list", "--no-headers", "-o", "name"], 0, "osh1\n")
    # an existing instance of it can be reinstalled
    m.run("gnt-instance", "reinstall", "-f", "osh1", check=True)
    m.run("gnt-os", "modify", "--blacklisted=no", "noop", check=True)
    assert "noop" in _listed(m)
    m.run("gnt-instance", "remove", "-f", "osh1", check=True)
