"""Node-side RPC procedures about running instances: start, stop, reboot, state.

Instances arrive as dicts (``objects.Instance.to_dict()``) whose "hvparams" and
"beparams" the master already filled with the cluster defaults; they are used
as they are. Block devices are found with ``storage.find_device`` (the master
activated the disks before) and linked as ``<DISK_LINKS_DIR>/<instance>:<idx>``
for the hypervisor.
"""

import logging
import os
import re
import time

from ganeti import errors, hypervisor, objects, pathutils, storage
from ganeti.backend.common import config_object, fail, point_link
from ganeti.hypervisor import hv_base

# after a forced stop, how long the domain may take to disappear
FORCE_STOP_WAIT = 5.0
POLL_INTERVAL = 0.5
REBOOT_SOFT = "soft"
REBOOT_HARD = "hard"
REBOOT_FULL = "full"
_BRIDGE_NAME_RE = re.compile(r"^[^/\s]{1,15}$")


# ---- helpers -------------------------------------------------------------------------

def rpc_instance(data) -> objects.Instance:
    inst = config_object(objects.Instance, data, "instance")
    try:
        hv_base.check_instance_name(inst.name)
    except errors.HypervisorError as err:
        fail("%s", err)
    return inst


def hypervisor_of(hv_name):
    try:
        return hypervisor.get_hypervisor(hv_name)
    except errors.HypervisorError as err:
        fail("%s", err)


def _fill(hv_name, hvparams):
    """Missing parameters take the hypervisor's defaults."""
    filled = hv_base.defaults_for(hv_name)
    filled.update(hvparams or {})
    return filled


def present_info(hv, name, hvparams):
    """The InstanceInfo of ``name`` if the hypervisor has it (any state), or None."""
    try:
        return hv.get_instance_info(name, hvparams)
    except errors.HypervisorError as err:
        fail("Cannot get the state of instance %s: %s", name, err)


def is_running(info) -> bool:
    return info is not None and info.state != hv_base.STATE_SHUTDOWN


def _link_path(links_dir, instance_name, idx) -> str:
    return os.path.join(links_dir, "%s:%d" % (instance_name, idx))


def remove_disk_links(instance_name, links_dir):
    """Remove the ``<instance>:<idx>`` links (missing ones are fine)."""
    prefix = instance_name + ":"
    try:
        names = os.listdir(links_dir)
    except FileNotFoundError:
        return
    except OSError as err:
        logging.warning("Cannot list the disk links in %s: %s", links_dir, err)
        return
    for name in names:
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            path = os.path.join(links_dir, name)
            try:
                if os.path.islink(path):
                    os.unlink(path)
            except OSError as err:
                logging.warning("Cannot remove disk link %s: %s", path, err)


def link_block_devices(inst, links_dir):
    """[(disk dict, dev_path, link_name)] of the instance's disks, links made."""
    result = []
    for idx, disk in enumerate(inst.disks):
        try:
            device = storage.find_device(disk)
        except errors.GenericError as err:
            fail("Cannot start instance %s: cannot look up disk %d: %s", inst.name, idx,
                 err)
        if device is None or not device.dev_path:
            fail("Cannot start instance %s: disk %d is not active", inst.name, idx)
        link = _link_path(links_dir, inst.name, idx)
        point_link(link, device.dev_path)
        result.append((disk.to_dict(), device.dev_path, link))
    return result


def _wait_gone(hv, name, hvparams, timeout, poll=POLL_INTERVAL):
    """Wait up to ``timeout`` seconds for the instance to vanish; whether it did."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        if present_info(hv, name, hvparams) is None:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(poll, remaining))


# ---- procedures ------------------------------------------------------------------------

def instance_start(instance, startup_paused, reason, *, links_dir=None):
    """Start the instance with its disks (which must be active); running is fine.

    An instance already running is left alone (the call is idempotent); a domain
    left over in "shutdown" state (stopped from inside) is cleared first.
    """
    inst = rpc_instance(instance)
    links_dir = links_dir or pathutils.DISK_LINKS_DIR
    hv = hypervisor_of(inst.hypervisor)
    info = present_info(hv, inst.name, inst.hvparams)
    if is_running(info):
        logging.info("Instance %s is already running, not starting it", inst.name)
        return None
    if info is not None:
        _stop(hv, inst, force=True, timeout=0)
    try:
        hv.validate_parameters(inst.hvparams)
    except errors.HypervisorError as err:
        fail("Cannot start instance %s: %s", inst.name, err)
    block_devices = link_block_devices(inst, links_dir)
    logging.info("Starting instance %s (reason: %s)", inst.name, reason)
    try:
        hv.start_instance(inst, block_devices, bool(startup_paused))
    except errors.HypervisorError as err:
        remove_disk_links(inst.name, links_dir)
        fail("Hypervisor error while starting instance %s: %s", inst.name, err)
    return None


def _stop(hv, inst, force, timeout):
    try:
        hv.stop_instance(inst, force=force, timeout=timeout)
    except errors.HypervisorError as err:
        if force:
            fail("Failed to force-stop instance %s: %s", inst.name, err)
        logging.warning("Clean shutdown of instance %s failed: %s", inst.name, err)


def instance_shutdown(instance, timeout, reason, *, links_dir=None):
    """Stop cleanly, wait up to ``timeout`` seconds, then force; stopped is fine."""
    inst = rpc_instance(instance)
    links_dir = links_dir or pathutils.DISK_LINKS_DIR
    hv = hypervisor_of(inst.hypervisor)
    name = inst.name
    try:
        timeout = max(0.0, float(timeout or 0))
    except (TypeError, ValueError):
        fail("Invalid shutdown timeout %r", timeout)
    info = present_info(hv, name, inst.hvparams)
    if info is not None:
        logging.info("Stopping instance %s (timeout %ss, reason: %s)", name, timeout,
                     reason)
        if timeout > 0 and info.state != hv_base.STATE_SHUTDOWN:
            started = time.monotonic()
            _stop(hv, inst, force=False, timeout=timeout)
            left = timeout - (time.monotonic() - started)
            gone = _wait_gone(hv, name, inst.hvparams, left)
        else:
            gone = False
        if not gone:
            if timeout > 0:
                logging.warning("Instance %s did not stop in %ss, forcing it", name,
                                timeout)
            _stop(hv, inst, force=True, timeout=0)
            if not _wait_gone(hv, name, inst.hvparams, FORCE_STOP_WAIT):
                fail("Could not stop instance %s, even by force", name)
    try:
        hv.cleanup_instance(name)
    except errors.HypervisorError as err:
        logging.warning("Cleanup after instance %s failed: %s", name, err)
    remove_disk_links(name, links_dir)
    return None


def instance_reboot(instance, reboot_type, shutdown_timeout, reason, *,
                    links_dir=None):
    """Reboot a running instance: "soft" by the hypervisor, "hard" as stop+start.

    A "full" reboot (with the disks re-activated) is stop+start done by the master.
    """
    inst = rpc_instance(instance)
    hv = hypervisor_of(inst.hypervisor)
    if reboot_type not in (REBOOT_SOFT, REBOOT_HARD):
        if reboot_type == REBOOT_FULL:
            fail("A full reboot is done by the master (shutdown and start), not by"
                 " the node")
        fail("Invalid reboot type %r (expected %r or %r)", reboot_type, REBOOT_SOFT,
             REBOOT_HARD)
    if not is_running(present_info(hv, inst.name, inst.hvparams)):
        fail("Cannot reboot instance %s: it is not running", inst.name)
    logging.info("Rebooting instance %s (%s, reason: %s)", inst.name, reboot_type,
                 reason)
    if reboot_type == REBOOT_SOFT:
        try:
            hv.reboot_instance(inst)
        except errors.HypervisorError as err:
            fail("Failed to soft reboot instance %s: %s", inst.name, err)
        return None
    instance_shutdown(instance, shutdown_timeout, reason, links_dir=links_dir)
    instance_start(instance, False, reason, links_dir=links_dir)
    return None


def instance_info(instance_name, hv_name, hvparams):
    """The instance's live state {name, id, memory, vcpus, state, time}; {} if down.

    A domain stopped from inside but not yet cleared counts as down here (the
    master's start, reboot and console checks want "running or not");
    all_instances_info reports it with state "shutdown".
    """
    hv = hypervisor_of(hv_name)
    info = present_info(hv, instance_name, _fill(hv_name, hvparams))
    if not is_running(info):
        return {}
    result = info.to_dict()
    result["hypervisor"] = hv_name
    return result


def _all_infos(hv_names, all_hvparams):
    """(hypervisor, InstanceInfo) of every domain here, stopped-from-inside ones too."""
    for hv_name in hv_names or []:
        hv = hypervisor_of(hv_name)
        hvparams = _fill(hv_name, (all_hvparams or {}).get(hv_name))
        try:
            infos = hv.get_all_instances_info(hvparams)
        except errors.HypervisorError as err:
            fail("Cannot list the instances of hypervisor %s: %s", hv_name, err)
        for info in infos:
            yield hv_name, info


def all_instances_info(hv_names, all_hvparams):
    """{name: {name, id, memory, vcpus, state, time, hypervisor}} of the instances
    here: running ones, and (state "shutdown") those whose guest shut down from
    inside and that still wait to be cleared, as Ganeti's GetAllInstancesInfo."""
    result = {}
    for hv_name, info in _all_infos(hv_names, all_hvparams):
        if info.name in result:
            fail("Instance %s is running under two hypervisors (%s and %s)", info.name,
                 result[info.name]["hypervisor"], hv_name)
        entry = info.to_dict()
        entry["hypervisor"] = hv_name
        result[info.name] = entry
    return result


def instance_list(hv_names, all_hvparams):
    """Sorted names of the instances running here under the given hypervisors."""
    names = set()
    for hv_name in hv_names or []:
        hv = hypervisor_of(hv_name)
        hvparams = _fill(hv_name, (all_hvparams or {}).get(hv_name))
        try:
            names.update(hv.list_instances(hvparams))
        except errors.HypervisorError as err:
            fail("Cannot list the instances of hypervisor %s: %s", hv_name, err)
    return sorted(names)


def hv_node_info(hv_name, hvparams):
    """The hypervisor's view of this node: memory_total/free/dom0 (MiB), cpu_*."""
    hv = hypervisor_of(hv_name)
    try:
        return hv.get_node_info(_fill(hv_name, hvparams))
    except errors.HypervisorError as err:
        fail("Cannot get node information from hypervisor %s: %s", hv_name, err)


def instance_balloon_memory(instance, memory):
    """Change the memory of a running instance to ``memory`` MiB (ballooning)."""
    inst = rpc_instance(instance)
    hv = hypervisor_of(inst.hypervisor)
    try:
        hv.balloon_instance_memory(inst, int(memory))
    except (errors.HypervisorError, ValueError, TypeError) as err:
        fail("Cannot change the memory of instance %s: %s", inst.name, err)


def bridges_exist(bridges, *, sys_net_dir="/sys/class/net"):
    """The names in ``bridges`` that are not bridges on this node (in order)."""
    missing = []
    for bridge in bridges or []:
        ok = (isinstance(bridge, str) and _BRIDGE_NAME_RE.match(bridge)
              and bridge not in (".", "..")
              and os.path.isdir(os.path.join(sys_net_dir, bridge, "bridge")))
        if not ok and bridge not in missing:
            missing.append(bridge)
    return missing


# procedure name -> function; registered by backend/__init__.py
PROCEDURES = {
    "instance_start": instance_start,
    "instance_shutdown": instance_shutdown,
    "instance_reboot": instance_reboot,
    "instance_info": instance_info,
    "all_instances_info": all_instances_info,
    "instance_list": instance_list,
    "hv_node_info": hv_node_info,
    "bridges_exist": bridges_exist,
    "instance_balloon_memory": instance_balloon_memory,
}
