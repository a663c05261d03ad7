"""Node-side RPC procedures of an instance migration (see hv_base for the order).

The master calls these on the source and the target node; each one hands the
work to the instance's hypervisor. The target's block devices must be active
(the master opened them in shared mode before ``accept_instance``).
"""

import logging

from ganeti import errors, pathutils
from ganeti.backend import instance as binstance
from ganeti.backend.common import fail


def _instance_and_hv(instance):
    inst = binstance.rpc_instance(instance)
    return inst, binstance.hypervisor_of(inst.hypervisor)


def _hv_call(what, inst, func, *args):
    try:
        return func(*args)
    except errors.HypervisorError as err:
        fail("%s of instance %s failed: %s", what, inst.name, err)


def instance_migratable(instance):
    """Fail unless the instance runs here and all its disks are linked."""
    inst, hv = _instance_and_hv(instance)
    if not getattr(hv, "CAN_MIGRATE", False):
        fail("Hypervisor %s cannot migrate instances", inst.hypervisor)
    if not binstance.is_running(binstance.present_info(hv, inst.name, inst.hvparams)):
        fail("Instance %s is not running", inst.name)
    return None


def migration_info(instance):
    """What the target needs to accept the instance (hypervisor specific)."""
    inst, hv = _instance_and_hv(instance)
    return _hv_call("Getting the migration information", inst, hv.migration_info, inst)


def accept_instance(instance, info, target_ip, *, links_dir=None):
    """Prepare this node to receive the instance on ``target_ip``."""
    inst, hv = _instance_and_hv(instance)
    links_dir = links_dir or pathutils.DISK_LINKS_DIR
    block_devices = binstance.link_block_devices(inst, links_dir)
    try:
        hv.accept_instance(inst, info, target_ip, block_devices)
    except errors.HypervisorError as err:
        binstance.remove_disk_links(inst.name, links_dir)
        fail("Failed to accept instance %s: %s", inst.name, err)
    return None


def instance_migrate(cluster_name, instance, target_ip, live):
    """Start sending the running instance to ``target_ip`` (returns at once)."""
    inst, hv = _instance_and_hv(instance)
    logging.info("Migrating instance %s to %s (live: %s)", inst.name, target_ip, live)
    return _hv_call("Migration", inst, hv.migrate_instance, cluster_name, inst,
                    target_ip, bool(live))


def instance_get_migration_status(instance):
    """{"status", "transferred_ram", "total_ram"} of the running migration."""
    inst, hv = _instance_and_hv(instance)
    return _hv_call("Getting the migration status", inst, hv.get_migration_status,
                    inst)


def instance_finalize_migration_src(instance, success, live, *, links_dir=None):
    """Success: end the instance here and drop its disk links; else resume it."""
    inst, hv = _instance_and_hv(instance)
    _hv_call("Finalizing the migration on the source", inst,
             hv.finalize_migration_src, inst, bool(success), bool(live))
    if success:
        binstance.remove_disk_links(inst.name, links_dir or pathutils.DISK_LINKS_DIR)
    return None


def instance_finalize_migration_dst(instance, info, success, *, links_dir=None):
    """Success: check the instance runs here; else drop what accept made."""
    inst, hv = _instance_and_hv(instance)
    _hv_call("Finalizing the migration on the target", inst,
             hv.finalize_migration_dst, inst, info, bool(success))
    if not success:
        binstance.remove_disk_links(inst.name, links_dir or pathutils.DISK_LINKS_DIR)
    return None


PROCEDURES = {
    "instance_migratable": instance_migratable,
    "migration_info": migration_info,
    "accept_instance": accept_instance,
    "instance_migrate": instance_migrate,
    "instance_get_migration_status": instance_get_migration_status,
    "instance_finalize_migration_src": instance_finalize_migration_src,
    "instance_finalize_migration_dst": instance_finalize_migration_dst,
}
