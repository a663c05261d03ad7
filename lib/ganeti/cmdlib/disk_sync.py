"""Waiting for an instance's disks to be in sync (Ganeti's WaitForSync).

Only mirrored (drbd) disks can be out of sync; the disk templates of this
version (file, diskless) never are, so the wait ends at once. The job log still
shows Ganeti's two lines, which is what ``wait_for_sync`` (``--wait-for-sync``,
``--no-wait-for-sync``) of create, modify, grow-disk and activate-disks visibly
changes.
"""


def wait_for_sync(lu, instance, oneshot: bool = False) -> bool:
    """Wait until the disks of ``instance`` are in sync; True when they are.

    ``oneshot``: only look once, without announcing a wait (Ganeti's check of
    a disk added by modify with --no-wait-for-sync).
    """
    if not instance.disks:
        return True
    if not oneshot:
        lu.log_info("Waiting for instance %s to sync disks", instance.name)
    lu.log_info("Instance %s's disks are in sync", instance.name)
    return True
