"""gnt-instance against Ganeti 3.0.2's sample sequence (golden/gnt-instance-3.0.2.txt,
a copy of the spec sample gnt-instance.txt), on a two-node cluster set up as
the sample's: fake hypervisor, disk templates diskless and file (sharedfile
enabled where the sample's capturer enabled it, in its gnt-cluster sequence),
OS noop; the sequence itself creates inst1 (diskless), inst2 and inst3 (file).

Each command's exit code, stdout and stderr are compared after normalising
times, UUIDs, MAC addresses, job ids, node addresses, the test nodes' root
directories and column widths; the instances of an info --all and the
interleaved disk streams of an export or import are sorted. Where this
project answers differently on purpose, _DIFFERENT holds our answer and the
reason.
"""

import os
import re

import pytest

from golden_samples import (STAMP, compare, ganeti_with, needs_noop, on_test_bed,
                            runner_of, sample_vcluster)

pytestmark = needs_noop
SAMPLE = os.path.join(os.path.dirname(__file__), "golden", "gnt-instance-3.0.2.txt")
SHARED_DIR = "/srv/ganeti/shared-file-storage"

_INST6_SHARED = ("gnt-instance add -t sharedfile -s 1G -o noop --no-name-check"
                 " --no-ip-check -n node1.example.com inst6")

# where this project's answer is not Ganeti's, and why: (command line, which
# time it comes in the sequence) -> our answer, or a function of Ganeti's that
# gives it (None: any success)
_DIFFERENT = {
    # Ganeti 3.0 counts each disk's addition as a change of the instance (its
    # serial number; the diskless inst1 has 2); here an instance and its disks
    # are written at once (inst1 has 3, as the others)
    ("gnt-instance list -o name,os,pnode,snodes,admin_state,oper_state,status,"
     "disk_template,disk.count,disk.sizes,disk_usage,nic.count,nic.macs,nic.ips,"
     "nic.modes,nic.links,be/memory,be/vcpus,beparams,hypervisor,tags,uuid,serial_no,"
     "network_port,ctime,mtime", 1): ganeti_with(
         (r"^(inst1 .*-[0-9a-f]{12} +)2 ", r"\g<1>3 ")),
    # the policy's templates are in the order cluster init stored them: a set's
    # (random) order in Ganeti, the sorted one here
    (_INST6_SHARED, 1): lambda e: (e[0], e[1], e[2].replace("file, diskless",
                                                            "diskless, file")),
    # Ganeti's message shows its internal disk object; ours names the disk
    ("gnt-instance recreate-disks inst3", 1): lambda e: (1, "", (
        "Failure: command execution error:\nCannot create disk disk/0 on node"
        " node2.example.com: Cannot create disk disk/0: File '%s' already exists\n"
        % re.search(r"'(/srv/[^']+)'", e[2]).group(1))),
    # the sample's shared directory was not shared between its two nodes (its
    # README: a test-bed artefact); here it is, so both moves succeed ...
    ("gnt-instance migrate -f inst6", 2): None,
    ("gnt-instance failover -f inst6", 1): None,
    # ... and the instance runs where the failover put it
    ("gnt-instance list -o name,pnode,status", 3): ganeti_with(
        (r"^inst6    node2.example.com ERROR_down", "inst6    node1.example.com running")),
}

# commands the sample's capturer ran elsewhere (in its gnt-cluster sequence)
# before the entry of this command line
_BEFORE = {
    _INST6_SHARED: [
        ["gnt-cluster", "modify", "--shared-file-storage-dir=" + SHARED_DIR,
         "--enabled-disk-templates=diskless,file,sharedfile"],
        # (in its gnt-os sequence) an OS parameter of noop's, shown from now on
        ["gnt-os", "modify", "-O", "foo=bar", "noop"]],
    # (in its gnt-backup sequence) the export the sequence imports
    "gnt-backup list": [
        ["gnt-backup", "export", "-n", "node2.example.com", "--long-sleep", "inst2"]],
}


@pytest.fixture(scope="module")
def vc():
    with sample_vcluster(lambda vc: vc.share(SHARED_DIR)) as cluster:
        yield cluster


def _normalise(text, vc):
    # Ganeti 3.0 counts each disk's addition as a change of the instance (its
    # serial number); here the instance and its disks are written at once
    return re.sub(r"(Serial number:) \S+", r"\1 <N>", on_test_bed(text, vc))


def _adjust(argv, result):
    if argv[:2] == ["gnt-instance", "info"] and "--all" in argv:
        # Ganeti shows them in the (random) order of their UUIDs
        return _sorted_infos(result)
    if argv[:2] in (["gnt-backup", "export"], ["gnt-backup", "import"]):
        return _transfer_log(result)
    return result


def test_sample_sequence_matches_ganeti(vc):
    failures = compare(vc, SAMPLE, _DIFFERENT, before=runner_of(vc, _BEFORE),
                       adjust=_adjust, norm=_normalise)
    assert not failures, "%d differ:\n%s" % (len(failures), "\n".join(failures))


def _sorted_infos(result):
    """gnt-instance info of several instances, the instances sorted by name."""
    blocks = re.split(r"(?m)^(?=- Instance name: )", result[1])
    return result[0], "".join(sorted(blocks)), result[2]


def _transfer_log(result):
    """An export's or import's log: its disks' streams run at once, so the
    order of their lines and the progress reports ("sent 280M, ...") are the
    machine's; the lines of the streams are sorted, the progress dropped."""
    lines = [line for line in result[1].splitlines(True)
             if not re.search(r" disk/\d+ sent \d", line)]
    stream = re.compile(r"^\S+ \S+ +\d+ [\d:]+ \d+ disk/\d+ (is|finished) ")
    places = [i for i, line in enumerate(lines) if stream.match(line)]
    ordered = sorted((STAMP.sub("", lines[i]) for i in places))
    for i, line in zip(places, ordered):
        lines[i] = line
    return result[0], "".join(lines), result[2]
