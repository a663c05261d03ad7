"""gnt-network on a two-node cluster with real daemons.

The golden test runs the command sequence of Ganeti 3.0.2's sample
(golden/gnt-network-3.0.2.txt, a copy of the spec sample gnt-network.txt) on
a cluster set up like the sample's (inst1 and inst2 on the first node, inst3
with the address 192.0.2.10 on the second) and compares stdout, stderr and
exit code of each command after normalising what differs from run to run:
node names, UUIDs, MACs, times, job ids, instances' history, and the
order of lists Ganeti sorts by random UUIDs.

The other tests check what the sample does not show: addresses taken from a
pool and given back when NICs, instances or networks change, conflicts, and
bad input that changes nothing.
"""

import json
import os
import re

import pytest

import ipolicy_testbed
from golden_samples import STAMP, difference, normalise, replay
from test_group_runs import SAMPLE_IPOLICY, _info_lines
import vcluster

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
SAMPLE = os.path.join(os.path.dirname(__file__), "golden", "gnt-network-3.0.2.txt")
PREREQ = "Failure: prerequisites not met for this operation:\nerror type: %s, error details:\n%s\n"
_MAC = re.compile(r"aa:00:00(:[0-9a-f]{2}){3}")
_INSTANCE_LIST = re.compile(r"inst\d(,inst\d)+")

# where this project's answer is not Ganeti's, and why
_DIFFERENT = {
    # Ganeti's off-by-one lets index 1 of one NIC through to a Python IndexError
    "gnt-instance modify --net 1:remove inst3": (1, "", "Failure: command execution"
                                                 " error:\nGot NIC index 1, but there"
                                                 " are only 1\n"),
    # a job ID that is no number is refused before the master is asked
    "gnt-job watch ?": (1, "", PREREQ % ("wrong_input", "Invalid job ID passed: invalid"
                                         " literal for int() with base 10: '?'")),
}


@pytest.fixture(scope="module")
def vc():
    vc = vcluster.VirtualCluster(2)
    try:
        vc.init()
        m, n2 = vc.nodes
        vc.add_node(n2)
        add = ["gnt-instance", "add", "-o", "noop", "--no-name-check", "--no-ip-check",
               "--no-start"]
        for name, disk in (("inst1", ["-t", "diskless"]), ("inst2", ["-t", "file", "-s",
                                                                        "64M"])):
            m.run(*add, "-n", m.name, *disk, name, check=True)
        # as the sample's inst3: not auto-balanced, two disks, an address
        m.run(*add, "-n", n2.name, "-t", "file", "--disk", "0:size=2560M", "--disk",
              "1:size=3G", "-B", "maxmem=256,minmem=256,vcpus=2,auto_balance=false",
              "--net", "0:ip=192.0.2.10", "inst3", check=True)
        ipolicy_testbed.set_ipolicy(m, SAMPLE_IPOLICY)
        yield vc
    finally:
        vc.cleanup()


def _sorted_lists(text):
    """Ganeti lists a network's instances in the order of their UUIDs, and the
    conflicting NICs of a group's instances in the order of a set."""
    text = _INSTANCE_LIST.sub(lambda m: ",".join(sorted(m.group(0).split(","))), text)
    text = re.sub(r"(?m)(are in use: )(.*)$",
                  lambda m: m.group(1) + ", ".join(sorted(m.group(2).split(", "))), text)
    lines, result = text.splitlines(), []
    for line in lines:
        if re.match(r"^    inst\d: ", line) and result and \
                re.match(r"^    inst\d: ", result[-1]):
            result[-1:] = sorted([result[-1], line])
        else:
            result.append(line)
    return "\n".join(result)


def _normalised(text, renamed):
    text = _MAC.sub("<MAC>", normalise(text, renamed))
    return _sorted_lists(text)


def _instance_info(text):
    """gnt-instance info without the serial number (the sample's instance had
    many changes before) and the operating system parameters (the sample's
    cluster had one set for noop, which this OS does not declare), with paths
    as on a real node."""
    text = re.sub(r"(?m)^(  Serial number:) \d+$", r"\1 <N>", text)
    text = re.sub(r"(?m)^  Operating system parameters: \n(    .*\n)*", "", text)
    return re.sub(r"/tmp/gvc-\w+/node\d\.example\.com/", "/", text)   # the node's root


def test_sample_sequence_matches_ganeti(vc):
    failures = []
    for cmdline, argv, expected, got, renamed in replay(vc, SAMPLE):
        code, got_code = expected[0], got[0]
        got_out, got_err = STAMP.sub("", got[1]), STAMP.sub("", got[2])
        want_out, want_err = STAMP.sub("", expected[1]), STAMP.sub("", expected[2])
        if cmdline in _DIFFERENT:
            ok = (got_code, got_out, got_err) == _DIFFERENT[cmdline]
        elif argv[:2] == ["gnt-group", "info"]:
            ok = (got_code, _info_lines(got_out), got_err) == \
                (code, _info_lines(want_out), want_err)
        else:
            if argv[:2] == ["gnt-instance", "info"]:
                got_out, want_out = _instance_info(got_out), _instance_info(want_out)
            ok = (got_code, _normalised(got_out, renamed),
                  _normalised(got_err, renamed)) == \
                (code, _normalised(want_out, renamed), _normalised(want_err, renamed))
        if not ok:
            failures.append(difference(cmdline, got, expected))
    assert not failures, "\n".join(failures)


def _check(node, argv, code, stdout="", stderr=""):
    proc = node.run(*argv)
    assert (proc.returncode, STAMP.sub("", proc.stdout), proc.stderr) == \
        (code, stdout, stderr), argv


def test_errors_are_ganetis(vc):
    """The gnt-network entries of the spec sample errors.txt."""
    m = vc.master
    _check(m, ["gnt-network", "add", "--network=10.0.0.0/33", "netbad"], 1, "",
           "Failure: command execution error:\n'33' is not a valid netmask\n")
    _check(m, ["gnt-network", "add", "--network=10.0.0.0/24", "--gateway=192.168.0.1",
               "netbad"], 1, "", "Failure: command execution error:\nCannot create IP"
           " address pool for network 'netbad': 10.0.0.0/24 does not contain"
           " 192.168.0.1\n")
    _check(m, ["gnt-network", "connect", "nosuchnet", "default"], 1, "", PREREQ % (
        "unknown_entity", "Network 'nosuchnet' not found"))
    _check(m, ["gnt-network", "info", "nosuchnet"], 0)
    _check(m, ["gnt-network", "list", "--no-headers"], 0)


def _config(node):
    with open(node.path("/var/lib/ganeti/config.data")) as fd:
        return json.load(fd)


def _network(node, name):
    return [n for n in _config(node)["networks"].values() if n["name"] == name][0]


def _nics(node, instance):
    return [(nic.get("ip"), nic.get("network")) for nic in
            _config(node)["instances"][instance]["nics"]]


def _row(node, name, fields):
    return node.run("gnt-network", "list", "--no-headers", "--separator=|", "-o",
                    fields, name, check=True).stdout.strip()


def test_pool_follows_the_nics(vc):
    """Addresses are taken from the pool and given back as NICs, instances and
    their networks change."""
    m, n2 = vc.nodes
    m.run("gnt-network", "add", "--network=10.1.0.0/29", "--gateway=10.1.0.1",
          "--tags=a,b", "pool1", check=True)
    m.run("gnt-network", "connect", "-N", "mode=routed,link=100", "pool1", check=True)
    uuid = _network(m, "pool1")["uuid"]
    assert _row(m, "pool1", "map,free_count,tags,group_list") == \
        "XX.....X|5|a,b|default (routed, 100, )"
    add = ["gnt-instance", "add", "-o", "noop", "--no-name-check", "--no-ip-check",
           "--no-start", "-t", "diskless", "-n", n2.name]
    out = m.run(*add, "--net", "0:network=pool1,ip=pool", "pnet1", check=True).stdout
    assert "Chose IP 10.1.0.2 from network pool1" in out
    assert "NIC/0 inherits netparams ['100', 'routed', '']" in out
    assert _nics(m, "pnet1") == [("10.1.0.2", uuid)]
    assert m.run("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                 "nic.network.name/0,nic.networks.names,nic.mode/0,nic.link/0",
                 "pnet1", check=True).stdout == "pool1|pool1|routed|100\n"
    # a given address: taken; the same again: refused, nothing changes
    m.run(*add, "--net", "0:network=pool1,ip=10.1.0.5", "pnet2", check=True)
    before = _config(m)
    _check(m, add + ["--net", "0:network=pool1,ip=10.1.0.5", "pnet3"], 1,
           " - INFO: NIC/0 inherits netparams ['100', 'routed', '']\n", PREREQ % (
        "resource_not_unique", "IP address 10.1.0.5 already in use or does not belong"
        " to network pool1"))
    _check(m, add + ["--net", "0:network=pool1,mode=bridged", "pnet3"], 1, "", PREREQ % (
        "wrong_input", "If network is given, no mode or link is allowed to be passed"))
    # an address of a connected network on a NIC without it
    _check(m, add + ["--net", "0:ip=10.1.0.6,link=gntbr0", "pnet3"], 1, "", PREREQ % (
        "wrong_state", "The requested IP address (10.1.0.6) belongs to network pool1,"
        " but the target NIC does not."))
    after = _config(m)
    assert after["networks"] == before["networks"]
    assert "pnet3" not in after["instances"]
    assert _row(m, "pool1", "map,inst_cnt") == "XXX..X.X|2"
    # modify: another address gives the old one back
    out = m.run("gnt-instance", "modify", "--net", "0:ip=10.1.0.6", "pnet2",
                check=True).stdout
    assert "Reserving IP 10.1.0.6 in network pool1" in out
    assert _row(m, "pool1", "map") == "XXX...XX"
    # mode or link of a NIC in a network stay the network's
    _check(m, ["gnt-instance", "modify", "--net", "0:link=br9", "pnet2"], 1, "", PREREQ % (
        "wrong_input", "Not allowed to change link or mode of a NIC that is connected to"
        " a network"))
    # leaving the network gives the address back; removing the instance too
    m.run("gnt-instance", "modify", "--net", "0:network=none,ip=none,mode=bridged,"
          "link=gntbr0", "pnet2", check=True)
    assert _nics(m, "pnet2") == [(None, None)]
    assert _row(m, "pool1", "map,inst_list") == "XXX....X|pnet1"
    m.run("gnt-instance", "remove", "-f", "pnet1", check=True)
    assert _row(m, "pool1", "map,inst_cnt,free_count,reserved_count") == \
        "XX.....X|0|5|3"
    # a dry run holds nothing; the pool gives the lowest free address
    m.run(*add, "--dry-run", "--net", "0:network=pool1,ip=pool", "pnet3", check=True)
    out = m.run("gnt-instance", "modify", "--net", "add:network=pool1,ip=pool", "pnet2",
                check=True).stdout
    assert "Chose IP 10.1.0.2 from network pool1" in out
    assert "network=pool1" in out
    m.run("gnt-instance", "modify", "--net", "1:remove", "pnet2", check=True)
    m.run("gnt-instance", "remove", "-f", "pnet2", check=True)
    assert _row(m, "pool1", "map") == "XX.....X"
    assert _network(m, "pool1")["serial_no"] == 1


def test_full_pool_and_reservations(vc):
    m, n2 = vc.nodes
    m.run("gnt-network", "add", "--network=10.2.0.0/30", "--mac-prefix=AA:BB:01",
          "--add-reserved-ips=10.2.0.1", "tiny", check=True)
    m.run("gnt-network", "connect", "-N", "link=gntbr0", "tiny", "default", check=True)
    assert _row(m, "tiny", "map,mac_prefix,gateway") == "XX.X|aa:bb:01|-"
    add = ["gnt-instance", "add", "-o", "noop", "--no-name-check", "--no-ip-check",
           "--no-start", "-t", "diskless", "-n", m.name]
    m.run(*add, "--net", "0:network=tiny,ip=pool", "tiny1", check=True)
    nic = _config(m)["instances"]["tiny1"]["nics"][0]
    assert nic["ip"] == "10.2.0.2" and nic["mac"].startswith("aa:bb:01:")
    assert nic["nicparams"] == {"mode": "bridged", "link": "gntbr0", "vlan": ""}
    inherits = " - INFO: NIC/0 inherits netparams ['gntbr0', 'bridged', '']\n"
    _check(m, add + ["--net", "0:network=tiny,ip=pool", "tiny2"], 1, inherits, PREREQ % (
        "wrong_state", "Unable to get a free IP for NIC 0 from the address pool"))
    # an externally reserved address only without the conflicts check
    _check(m, add + ["--net", "0:network=tiny,ip=10.2.0.1", "tiny2"], 1, inherits, PREREQ % (
        "resource_not_unique", "IP address 10.2.0.1 already in use or does not belong"
        " to network tiny"))
    m.run(*add, "--no-conflicts-check", "--net", "0:network=tiny,ip=10.2.0.1", "tiny2",
          check=True)
    assert _row(m, "tiny", "map,external_reservations") == \
        "XXXX|10.2.0.0, 10.2.0.1, 10.2.0.3"
    # modify: gateway and reserved addresses, refused combinations
    _check(m, ["gnt-network", "modify", "--gateway=10.2.0.2", "--add-reserved-ips=10.2.0.2",
               "tiny"], 1, "", PREREQ % ("wrong_input", "Cannot modify gateway and"
                                         " reserved ips at once"))
    _check(m, ["gnt-network", "modify", "--gateway=10.2.0.2", "tiny"], 1, "", PREREQ % (
        "wrong_state", "Gateway IP address '10.2.0.2' is already reserved"))
    _check(m, ["gnt-network", "modify", "--mac-prefix=zz", "tiny"], 1, "", PREREQ % (
        "wrong_input", "Invalid MAC address prefix 'zz'"))
    _check(m, ["gnt-network", "modify", "--gateway=bogus", "tiny"], 1, "", PREREQ % (
        "wrong_input", "Parameter 'OP_NETWORK_SET_PARAMS.gateway' fails validation"))
    m.run("gnt-network", "modify", "--network6=2001:db8:1::/64",
          "--gateway6=2001:db8:1::1", "--mac-prefix=none", "tiny", check=True)
    assert _row(m, "tiny", "network6,gateway6,mac_prefix,serial_no") == \
        "2001:db8:1::/64|2001:db8:1::1|-|2"
    # disconnect and remove only once nothing uses the network
    _check(m, ["gnt-network", "remove", "tiny"], 1,
           " - WARNING: Network 'tiny' is connected to the following node groups:"
           " default\n", PREREQ % ("wrong_state", "Network still connected"))
    m.run("gnt-instance", "remove", "-f", "tiny1", check=True)
    m.run("gnt-instance", "remove", "-f", "tiny2", check=True)
    m.run("gnt-network", "disconnect", "tiny", check=True)
    m.run("gnt-network", "remove", "tiny", check=True)
    assert "tiny" not in m.run("gnt-network", "list", check=True).stdout


def test_tags_locks_and_queries(vc):
    m = vc.master
    m.run("gnt-network", "add", "--network=10.3.0.0/24", "tagged", check=True)
    m.run("gnt-network", "add-tags", "tagged", "t1", "t2", check=True)
    _check(m, ["gnt-network", "list-tags", "tagged"], 0, "t1\nt2\n")
    _check(m, ["gnt-cluster", "search-tags", "^t1$"], 0, "/network/tagged t1\n")
    _check(m, ["gnt-network", "remove-tags", "tagged", "t3"], 1, "", PREREQ % (
        "unknown_entity", "Tag(s) 't3' not found"))
    _check(m, ["gnt-network", "list", "--no-headers", "-o", "name,tags",
               "\"t2\" in tags"], 0, "tagged t1,t2\n")
    _check(m, ["gnt-network", "list", "nosuchnet"], 1, "", PREREQ % (
        "unknown_entity", "Network name nosuchnet not found"))
    # the network's lock exists from its creation on (a job can wait for it)
    out = m.run("gnt-debug", "locks", "--no-headers", "-o", "name", check=True).stdout
    assert "network/%s" % _network(m, "tagged")["uuid"] in out.split()
    m.run("gnt-network", "remove", "tagged", check=True)
    # ssconf lists the networks
    m.run("gnt-network", "add", "--network=10.4.0.0/24", "listed", check=True)
    with open(m.path("/var/lib/ganeti/ssconf_networks")) as fd:
        assert "%s listed" % _network(m, "listed")["uuid"] in fd.read().splitlines()
    m.run("gnt-network", "remove", "listed", check=True)


def test_cluster_addresses_are_reserved(vc):
    """A network over the nodes' subnet keeps their and the master's addresses
    from the instances, unless --no-conflicts-check."""
    m, n2 = vc.nodes
    subnet = vcluster.CLUSTER_IP.rsplit(".", 1)[0] + ".0/24"
    out = m.run("gnt-network", "add", "--network=" + subnet, "nodes", check=True).stdout
    ips = sorted([m.ip, n2.ip, vcluster.CLUSTER_IP])
    for node in (m, n2):
        assert "Reserved IP address of node '%s' (%s)" % (node.name, node.ip) in out
    assert "Reserved cluster master IP address (%s)" % vcluster.CLUSTER_IP in out
    reserved = _row(m, "nodes", "external_reservations").split(", ")
    assert set(ips) <= set(reserved)
    m.run("gnt-network", "remove", "nodes", check=True)
    m.run("gnt-network", "add", "--no-conflicts-check", "--network=" + subnet, "nodes",
          check=True)
    assert _row(m, "nodes", "reserved_count") == "2"
    m.run("gnt-network", "remove", "nodes", check=True)
