"""What the QA tests read on the VM nodes: job logs, LVs, DRBD state, data sums."""

import re

from conftest import MASTER

STAMP = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ")


def log_lines(out):
    return [STAMP.sub("", line) for line in out.splitlines()]


def lvs(vms, k):
    out = vms.ssh(k, "lvs --noheadings --nosuffix --units=m --separator=, "
                  "-o lv_name,lv_size xenvg").stdout
    return dict(line.strip().split(",") for line in out.splitlines() if line.strip())


def drbd_line(vms, k, minor):
    """The state line of ``minor`` in node K's /proc/drbd ("" if it has none)."""
    text = vms.ssh(k, "cat /proc/drbd").stdout
    match = re.search(r"^\s*%d: (cs:.*)$" % minor, text, re.M)
    return match.group(1) if match else ""


def minors(vms, name):
    """{node: minor} of the instance's drbd disk 0, from gnt-instance info."""
    info = vms.ssh(MASTER, "gnt-instance info %s" % name).stdout
    found = re.findall(r"node[AB]: (\S+), minor=(\d+)", info)
    assert len(found) == 2, info
    return dict((node, int(minor)) for node, minor in found), info


def write_pattern(vms, k, minor):
    """8 MiB of random data at the start of /dev/drbd<minor> on node K; its md5."""
    out = vms.ssh(k, "head -c 8388608 /dev/urandom > /tmp/pattern && dd if=/tmp/pattern"
                  " of=/dev/drbd%d bs=1M oflag=direct status=none && md5sum < /tmp/pattern"
                  % minor).stdout
    return out.split()[0]


def read_sum(vms, k, minor):
    return vms.ssh(k, "dd if=/dev/drbd%d bs=1M count=8 iflag=direct status=none | md5sum"
                   % minor).stdout.split()[0]


def node_k(vms, name):
    return int(re.match(r"node(\d+)\.", name).group(1))
