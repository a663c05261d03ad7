"""Waiting for an instance's disks to be in sync (Ganeti's WaitForSync).

Only drbd disks can be out of sync. The primary node reports each one's
resync progress (from /proc/drbd); the job log gets Ganeti 3.0's line per
disk and round (`` - INFO: - device disk/0: 35.50% done, 11s remaining
(estimated)``) until none is resyncing. Other templates are never out of
sync: the wait ends at once, with Ganeti's two lines, which is what
``--wait-for-sync``/``--no-wait-for-sync`` of create, modify, grow-disk and
activate-disks visibly change for them.
"""

import time

from ganeti import constants, errors
from ganeti.cmdlib import drbd_disks

RPC_RETRIES = 10              # a node that does not answer, in a row
RPC_RETRY_SLEEP = 6.0
DEGRADED_RETRIES = 10         # a degraded disk may be a passing state: look again
# Ganeti sleeps until the estimated end (up to 60 s); DRBD's first estimates are
# high (the speed still ramps up), so a wait that long overshoots the sync by
# a good part of its duration: look again every few seconds instead
MAX_SLEEP = 5.0
POLL_FLOOR = 1.0              # seconds between rounds at least


def format_seconds(secs):
    """Ganeti's duration text: "1h 2m 3s", "11s"."""
    secs = int(round(secs))
    parts = []
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        count, secs = divmod(secs, length)
        if count or parts:
            parts.append("%d%s" % (count, unit))
    parts.append("%ds" % secs)
    return " ".join(parts)


def wait_for_sync(lu, instance, oneshot: bool = False, sleep=time.sleep) -> bool:
    """Wait until the disks of ``instance`` are in sync; whether none is degraded.

    ``oneshot``: only look once, without announcing a wait (Ganeti's check of
    a disk added by modify with --no-wait-for-sync).
    """
    if not instance.disks:
        return True
    disks = [d for d in instance.disks if d.dev_type in constants.DTS_INT_MIRROR]
    if not oneshot:
        lu.log_info("Waiting for instance %s to sync disks", instance.name)
    node = instance.primary_node
    retries = 0
    degraded_retries = DEGRADED_RETRIES
    while disks:
        res = lu.rpc.call_blockdev_getmirrorstatus(
            node, [drbd_disks.disk_for_node(lu.cfg, d, node) for d in disks])
        if res.fail_msg:
            lu.log_warning("Can't get any data from node %s: %s", node, res.fail_msg)
            retries += 1
            if retries >= RPC_RETRIES:
                raise errors.OpExecError("Can't contact node %s for mirror data,"
                                         " aborting." % node)
            sleep(RPC_RETRY_SLEEP)
            continue
        retries = 0
        done, degraded, max_time = True, False, 0
        for disk, (found, status) in zip(disks, res.data or []):
            if not found:
                lu.log_warning("Can't compute data for node %s/%s: %s", node,
                               disk.iv_name, status)
                continue
            degraded = degraded or (status["is_degraded"]
                                    and status["sync_percent"] is None)
            if status["sync_percent"] is None:
                continue
            done = False
            if status["estimated_time"] is not None:
                remaining = "%s remaining (estimated)" % format_seconds(
                    status["estimated_time"])
                max_time = max(max_time, status["estimated_time"])
            else:
                remaining = "no time estimate"
                max_time = max(max_time, 5)
            lu.log_info("- device %s: %5.2f%% done, %s", disk.iv_name,
                        status["sync_percent"], remaining)
        if (done or oneshot) and degraded and degraded_retries > 0:
            degraded_retries -= 1
            sleep(1)
            continue
        if done or oneshot:
            if done:
                lu.log_info("Instance %s's disks are in sync", instance.name)
            return not degraded
        sleep(min(MAX_SLEEP, max(POLL_FLOOR, max_time)))
    lu.log_info("Instance %s's disks are in sync", instance.name)
    return True
