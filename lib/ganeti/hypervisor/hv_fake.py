"""The fake hypervisor: instances "run" as state files, no process is started.

A running instance is one small JSON file ``<RUN_DIR>/fake-hypervisor/<name>``
({"name", "memory", "vcpus", "start_time", "state"}), written atomically. Listing
is one directory scan, so nodes with thousands of fake instances stay fast; it
serves the scale tests and lets the whole cluster logic run without VMs.

A guest "shut down from inside" (what a real hypervisor reports when the guest
powers itself off) is a state file whose "state" is "shutdown": tests make one
with ``FakeHypervisor.shutdown_from_inside``; it stays until the instance is
stopped or started again, as a powered-off QEMU with -no-shutdown does.
"""

import json
import logging
import os
import time

from ganeti import constants, errors, pathutils
from ganeti.hypervisor import hv_base
from ganeti.utils import hostinfo, io

STATE_DIR_NAME = "fake-hypervisor"
NO_CONSOLE_MSG = "Console not available for fake hypervisor"


def default_state_dir():
    """Where the state files live (read at call time: tests move RUN_DIR)."""
    return os.path.join(pathutils.RUN_DIR, STATE_DIR_NAME)


class FakeHypervisor(hv_base.BaseHypervisor):
    """Records running instances in files; memory is accounted, never used."""

    PARAMETERS = {
        "migration_mode": hv_base.one_of("live", "non-live"),
    }
    GLOBAL_PARAMETERS = frozenset(["migration_mode"])
    CAN_MIGRATE = True

    def __init__(self, state_dir=None, meminfo_file="/proc/meminfo",
                 cpuinfo_file="/proc/cpuinfo", fsync=True):
        self._state_dir = state_dir
        self.meminfo_file = meminfo_file
        self.cpuinfo_file = cpuinfo_file
        # state files live in a tmpfs on real nodes; tests may skip the fsync
        self.fsync = fsync

    # ---- files -------------------------------------------------------------------------

    @property
    def state_dir(self):
        return self._state_dir or default_state_dir()

    def _path(self, name):
        return os.path.join(self.state_dir, hv_base.check_instance_name(name))

    def _read_state(self, name):
        """The state dict of a running instance, or None."""
        try:
            with open(self._path(name)) as fd:
                data = json.load(fd)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise errors.HypervisorError("Cannot read the state of instance %s: %s"
                                         % (name, err))
        if not isinstance(data, dict):
            raise errors.HypervisorError("Corrupt state file for instance %s" % name)
        return data

    def _write_state(self, name, data):
        try:
            io.write_file(self._path(name), json.dumps(data, sort_keys=True),
                          mode=0o644, mkdir=True, fsync=self.fsync)
        except OSError as err:
            raise errors.HypervisorError("Cannot write the state of instance %s: %s"
                                         % (name, err))

    @staticmethod
    def _info(name, data):
        start = data.get("start_time") or time.time()
        return hv_base.InstanceInfo(name, -1, int(data.get("memory", 0)),
                                    int(data.get("vcpus", 0)),
                                    data.get("state", hv_base.STATE_RUNNING),
                                    round(max(0.0, time.time() - start), 1))

    # ---- master side -------------------------------------------------------------------

    @classmethod
    def get_instance_console(cls, instance, primary_node, node_group, hvparams,
                             beparams):
        return hv_base.console_message(instance.name, NO_CONSOLE_MSG)

    # ---- node side ---------------------------------------------------------------------

    def start_instance(self, instance, block_devices, startup_paused):
        """Record ``instance`` as running; an instance already running is an error."""
        name = instance.name
        if os.path.exists(self._path(name)):
            raise errors.HypervisorError("Instance %s is already running" % name)
        beparams = instance.beparams or {}
        state = hv_base.STATE_PAUSED if startup_paused else hv_base.STATE_RUNNING
        self._write_state(name, {
            "name": name,
            "memory": int(beparams.get(constants.BE_MAXMEM,
                                       constants.BEC_DEFAULTS[constants.BE_MAXMEM])),
            "vcpus": int(beparams.get(constants.BE_VCPUS,
                                      constants.BEC_DEFAULTS[constants.BE_VCPUS])),
            "start_time": time.time(),
            "state": state,
            "disks": [dev_path for _, dev_path, _ in block_devices or []],
        })

    def stop_instance(self, instance, force=False, timeout=None, name=None):
        """Forget the instance; stopping one that does not run is fine."""
        name = name or instance.name
        io.remove_file(self._path(name))

    def reboot_instance(self, instance):
        data = self._read_state(instance.name)
        if data is None:
            raise errors.HypervisorError("Instance %s is not running" % instance.name)
        data["start_time"] = time.time()
        data["state"] = hv_base.STATE_RUNNING
        self._write_state(instance.name, data)

    def shutdown_from_inside(self, instance_name: str) -> None:
        """Act as if the guest of a running instance powered itself off."""
        data = self._read_state(instance_name)
        if data is None:
            raise errors.HypervisorError("Instance %s is not running" % instance_name)
        data["state"] = hv_base.STATE_SHUTDOWN
        self._write_state(instance_name, data)

    def balloon_instance_memory(self, instance, mem):
        data = self._read_state(instance.name)
        if data is None:
            raise errors.HypervisorError("Instance %s is not running" % instance.name)
        data["memory"] = int(mem)
        self._write_state(instance.name, data)

    def cleanup_instance(self, instance_name):
        io.remove_file(self._path(instance_name))

    # ---- migration: the state file moves; nothing else to transfer ----------------

    def _running_state(self, name):
        data = self._read_state(name)
        if data is None:
            raise errors.HypervisorError("Instance %s is not running" % name)
        return data

    def migration_info(self, instance):
        return {"state": self._running_state(instance.name)}

    def accept_instance(self, instance, info, target_ip, block_devices):
        if os.path.exists(self._path(instance.name)):
            raise errors.HypervisorError("Can't accept instance %s: it is already"
                                         " running here" % instance.name)

    def migrate_instance(self, cluster_name, instance, target_ip, live):
        self._running_state(instance.name)

    def get_migration_status(self, instance):
        self._running_state(instance.name)
        return {"status": hv_base.MIGRATION_COMPLETED, "transferred_ram": None,
                "total_ram": None}

    def finalize_migration_src(self, instance, success, live):
        if success:
            io.remove_file(self._path(instance.name))

    def finalize_migration_dst(self, instance, info, success):
        if not success:
            io.remove_file(self._path(instance.name))
            return
        state = dict((info or {}).get("state") or {})
        state.setdefault("name", instance.name)
        state["state"] = hv_base.STATE_RUNNING
        self._write_state(instance.name, state)

    def _scan(self):
        """Names of the state files (temp files of atomic writes start with '.')."""
        try:
            with os.scandir(self.state_dir) as entries:
                return [e.name for e in entries if not e.name.startswith(".")]
        except FileNotFoundError:
            return []
        except OSError as err:
            raise errors.HypervisorError("Cannot list the fake hypervisor state"
                                         " directory %s: %s" % (self.state_dir, err))

    def list_instances(self, hvparams=None):
        return self._scan()

    def get_instance_info(self, instance_name, hvparams=None):
        data = self._read_state(instance_name)
        return None if data is None else self._info(instance_name, data)

    def get_all_instances_info(self, hvparams=None):
        result = []
        for name in self._scan():
            try:
                data = self._read_state(name)
            except errors.HypervisorError as err:
                logging.warning("%s", err)
                continue
            if data is not None:    # stopped while we were scanning
                result.append(self._info(name, data))
        return result

    def get_node_info(self, hvparams=None):
        """The node's memory (MiB); the fake instances' memory counts as used."""
        try:
            mem = hostinfo.memory(self.meminfo_file)
        except OSError as err:
            raise errors.HypervisorError("Cannot read memory information: %s" % err)
        total, avail = mem["memory_total"], mem["memory_free"]
        used_by_instances = sum(i.memory for i in self.get_all_instances_info())
        result = {"memory_total": total,
                  "memory_free": max(0, avail - used_by_instances),
                  "memory_dom0": max(0, total - avail),
                  "instances_memory": used_by_instances}
        result.update(hostinfo.cpu_info(self.cpuinfo_file))
        return result

    def verify(self, hvparams=None):
        state_dir = self.state_dir
        if os.path.isdir(state_dir):
            if not os.access(state_dir, os.W_OK | os.X_OK):
                return ("The fake hypervisor state directory %s is not writable"
                        % state_dir)
            return None
        parent = os.path.dirname(state_dir)
        while parent and not os.path.isdir(parent):
            parent = os.path.dirname(parent)
        if not os.access(parent or "/", os.W_OK | os.X_OK):
            return "Cannot create the fake hypervisor state directory %s" % state_dir
        return None
