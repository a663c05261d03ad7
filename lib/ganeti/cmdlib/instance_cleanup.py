"""Undo what a failed instance creation made on its nodes.

A node call can fail because the node daemon died in the middle (kill -9,
crash, reboot): the disk files it had made stay behind, and a later instance
of the same name inherits them. So the job retries the removal until the node
answers again, for at most CLEANUP_WAIT seconds, and names what is left over
when it gives up. Every step is idempotent on the node (stopped, missing disk
and missing directory are fine), so running one twice does no harm.
"""

import os
import time

from ganeti import constants
from ganeti.cmdlib import drbd_disks

# how long a failed creation waits for its node to answer again (seconds)
CLEANUP_WAIT = 60
RETRY_INTERVAL = 2


def _steps(lu, instance, node_instance):
    """[(what is left over if this fails, node, call)] in the order they must run."""
    node = instance.primary_node
    steps = [("instance %s running on %s" % (instance.name, node), node,
              lambda: lu.rpc.call_instance_shutdown(node, node_instance, 0, None))]
    for disk in instance.disks:
        for dnode in disk.nodes or [node]:
            what = "disk %s (%s) on %s" % (disk.iv_name, _disk_location(disk), dnode)
            spec = drbd_disks.disk_for_node(lu.cfg, disk, dnode)
            steps.append((what, dnode, lambda n=dnode, d=spec:
                          lu.rpc.call_blockdev_shutdown(n, d)))
            steps.append((what, dnode, lambda n=dnode, d=spec:
                          lu.rpc.call_blockdev_remove(n, d)))
    if instance.disk_template in constants.DTS_FILEBASED and instance.disks:
        path = os.path.dirname(instance.disks[0].logical_id[1])
        steps.append(("directory %s" % path, node,
                      lambda: lu.rpc.call_file_storage_dir_remove(node, path)))
    return steps


def _disk_location(disk):
    if disk.dev_type in constants.DTS_FILEBASED and disk.logical_id:
        return disk.logical_id[1]
    return "/".join(str(part) for part in disk.logical_id or [])


def _wait_for_node(lu, node, deadline):
    """Until ``node`` answers a version call (True) or the deadline passes (False)."""
    while True:
        if not lu.rpc.call_version([node])[node].fail_msg:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(RETRY_INTERVAL, left))


def remove_created(lu, instance, node_instance, wait: float = CLEANUP_WAIT) -> list:
    """Stop ``instance`` and remove its disks (on each of their nodes) and file
    storage directory. Steps that fail are retried once their nodes answer again
    (waiting up to ``wait`` seconds for them), once. Returns what is left over
    (empty when all is gone)."""
    todo = _steps(lu, instance, node_instance)
    deadline = time.monotonic() + wait
    retried = False
    while True:
        failed = []
        for what, node, call in todo:
            res = call()
            if res.fail_msg:
                failed.append((what, node, call, res.fail_msg))
        if not failed:
            return []
        if retried:
            break
        nodes = list(dict.fromkeys(node for _, node, _, _ in failed))
        lu.log_warning("Could not clean up on node %s (%s); retrying once it answers"
                       " (waiting up to %ds)", ", ".join(nodes), failed[0][3], wait)
        retried = True
        if not all(_wait_for_node(lu, node, deadline) for node in nodes):
            break
        todo = [(what, node, call) for what, node, call, _ in failed]
    left = list(dict.fromkeys(what for what, _, _, _ in failed))
    lu.log_warning("Left over on node %s: %s",
                   ", ".join(dict.fromkeys(node for _, node, _, _ in failed)),
                   ", ".join(left))
    return left
