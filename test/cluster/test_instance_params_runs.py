"""gnt-instance add/modify/grow-disk against Ganeti's default instance policy:
what is refused prints Ganeti's error, exits 1 and leaves config.data as it was."""

import json
import os

import pytest

import ipolicy_testbed
from ganeti import constants

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
PREREQ = "Failure: prerequisites not met for this operation:\nerror type: wrong_input," \
         " error details:\n"


@pytest.fixture(scope="module")
def master(cluster):
    m = cluster.master
    # back to Ganeti's default ranges (the test bed widens them)
    ipolicy_testbed.set_ipolicy(m, {"minmax": constants.IPOLICY_DEFAULTS["minmax"]})
    return m


def _config(m):
    with open(m.path("/var/lib/ganeti/config.data")) as fd:
        return fd.read()


def _group_uuid(m):
    return list(json.loads(_config(m))["nodegroups"])[0]


def _add(m, name, *extra):
    return m.run("gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
                 "--no-ip-check", "--no-start", *extra, name)


def _refused(m, argv, stderr):
    """``argv`` exits 1 with exactly ``stderr`` and changes no configuration."""
    before = _config(m)
    proc = m.run(*argv)
    assert (proc.returncode, proc.stderr.strip()) == (1, stderr), proc.stdout
    assert _config(m) == before


def test_create_against_the_policy(master):
    m = master
    violates = PREREQ + "Instance allocation to group %s (default) violates policy: " \
        % _group_uuid(m)
    _refused(m, ["gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
                 "--no-ip-check", "-t", "file", "-s", "512M", "inst2"],
             violates + "disk-size/0 value 512 is not in range [1024, 1048576]")
    _refused(m, ["gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
                 "--no-ip-check", "-t", "diskless", "-B", "vcpus=0", "bad1"],
             violates + "cpu-count value 0 is not in range [1, 8]")
    # --ignore-ipolicy: a warning, and the instance is made
    proc = _add(m, "small1", "-t", "file", "-s", "64M", "--no-nics", "--ignore-ipolicy")
    assert proc.returncode == 0, proc.stderr
    assert ("WARNING: Instance allocation to group %s (default) violates policy:"
            " nic-count value 0 is not in range [1, 8], disk-size/0 value 64 is not in"
            " range [1024, 1048576]" % _group_uuid(m)) in proc.stdout
    # ... but no instance with 0 CPUs, policy or not
    _refused(m, ["gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
                 "--no-ip-check", "-t", "diskless", "-B", "vcpus=0", "--ignore-ipolicy",
                 "bad1"],
             PREREQ + "Invalid value 0 for parameter 'vcpus': it must be at least 1")


@pytest.mark.parametrize("extra, stderr", [
    (["-B", "auto_balance=1"], "Parameter Error: 'auto_balance' (value 1) is not a valid"
     " boolean"),
    (["-B", "no_vcpus"], "Parameter Error: 'vcpus' (value False) is not a valid integer"),
    (["-B", "memory=lots"], "Parameter Error: 'memory' (value lots) is not a valid size."
     " error: Invalid format"),
    (["-B", "nosuchparam=1"], "Parameter Error: Unknown parameter 'nosuchparam'"),
    (["-H", "fake:nosuchhv=1"], "Parameter Error: Unknown parameter 'nosuchhv'"),
    (["--net", "0:ip=999.1.1.1"], PREREQ + "Invalid IP address '999.1.1.1'"),
    (["--net", "0:mac=zz"], PREREQ + "Invalid MAC address 'zz'"),
    (["--net", "0:mode=bogus"], PREREQ + "Invalid NIC mode 'bogus' (NIC 0); valid modes:"
     " bridged, openvswitch, routed"),
])
def test_create_refuses_bad_parameters(master, extra, stderr):
    _refused(master, ["gnt-instance", "add", "-n", master.name, "-o", "noop",
                      "--no-name-check", "--no-ip-check", "-t", "diskless"] + extra +
             ["bad1"], stderr)


def test_names_the_nodes_would_refuse_are_refused(master):
    _refused(master, ["gnt-instance", "add", "-n", master.name, "-o", "noop",
                      "--no-name-check", "--no-ip-check", "-t", "diskless",
                      "q;touch /tmp/x"], PREREQ + "Invalid hostname 'q;touch /tmp/x'")


def test_modify_and_grow_disk(master):
    m = master
    assert _add(m, "inst3", "-t", "file", "-s", "1G").returncode == 0
    violates = PREREQ + "Instance allocation to group %s (default) violates policy: " \
        % _group_uuid(m)
    _refused(m, ["gnt-instance", "modify", "-B", "vcpus=-1", "inst3"],
             violates + "cpu-count value -1 is not in range [1, 8]")
    _refused(m, ["gnt-instance", "modify", "--net", "0:ip=999.1.1.1", "inst3"],
             PREREQ + "Invalid IP address '999.1.1.1'")
    _refused(m, ["gnt-instance", "modify", "-B", "auto_balance=1", "inst3"],
             "Parameter Error: 'auto_balance' (value 1) is not a valid boolean")
    m.run("gnt-instance", "modify", "-B", "vcpus=2", "inst3", check=True)
    proc = m.run("gnt-instance", "modify", "-B", "vcpus=default", "inst3", check=True)
    assert " - be/vcpus -> default" in proc.stdout
    inst = json.loads(_config(m))["instances"]["inst3"]
    assert "vcpus" not in inst["beparams"]
    _refused(m, ["gnt-instance", "grow-disk", "--absolute", "inst3", "0", "2T"],
             PREREQ + "Growing disk 0 violates policy: disk-size/0 value 2097152 is not"
             " in range [1024, 1048576]")
    # a policy with a 2 GiB ceiling; --ignore-ipolicy goes past it with a warning
    small = [{"min": constants.ISPECS_MIN_DEFAULTS,
              "max": dict(constants.ISPECS_MAX_DEFAULTS, **{"disk-size": 2048})}]
    ipolicy_testbed.set_ipolicy(m, {"minmax": small})
    try:
        _refused(m, ["gnt-instance", "grow-disk", "inst3", "0", "2G"],
                 PREREQ + "Growing disk 0 violates policy: disk-size/0 value 3072 is not"
                 " in range [1024, 2048]")
        proc = m.run("gnt-instance", "grow-disk", "--ignore-ipolicy", "inst3", "0", "2G")
        assert proc.returncode == 0, proc.stderr
        assert "WARNING: Growing disk 0 violates policy" in proc.stdout
    finally:
        ipolicy_testbed.set_ipolicy(m, {"minmax": constants.IPOLICY_DEFAULTS["minmax"]})


def test_rename_to_a_name_the_nodes_would_refuse(master):
    m = master
    assert _add(m, "inst4", "-t", "diskless").returncode == 0
    _refused(m, ["gnt-instance", "rename", "-f", "--no-name-check", "--no-ip-check",
                 "inst4", "q;touch /tmp/x"], PREREQ + "Invalid hostname 'q;touch /tmp/x'")
