"""Xen PV and HVM guests through the ``xl`` toolstack.

Each running instance has a domain config file written by us at start:
``<RUN_DIR>/xen-hypervisor/config/<instance>`` (Ganeti 2.x wrote
``/etc/xen/<instance>``; keeping it under the run directory keeps /etc clean and
works per node in a virtual cluster). It is passed to ``xl create`` by its full
path and removed when the instance stops.

Every command goes through ``utils.process.run_cmd``; the unit tests replay
recorded ``xl list`` / ``xl info`` output there.
"""

import ipaddress
import logging
import os
import re
import time

from ganeti import constants, errors, pathutils
from ganeti.hypervisor import hv_base
from ganeti.utils import io, process

DOM0_NAME = "Domain-0"
CONFIG_DIR_NAME = "xen-hypervisor/config"
VNC_BASE_PORT = 5900
DISK_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# file disk driver (logical_id[0]) -> xl disk spec prefix
FILE_DRIVER_MAP = {"loop": "file", "blktap": "tap:aio", "blktap2": "tap2:tapdisk:aio"}
DEFAULT_SHUTDOWN_TIMEOUT = 120
CMD_TIMEOUT = 60
REBOOT_TIMEOUT = 120
# HVM parameter values of Ganeti 2.x that name xm-era files; xl finds its own
LEGACY_HVMLOADER = "/usr/lib/xen/boot/hvmloader"
LEGACY_DEVICE_MODEL = "/usr/lib/xen/bin/qemu-dm"

_CPU_RANGE_RE = re.compile(r"^\d+(-\d+)?$")
_BLOCKDEV_PREFIX_RE = re.compile(r"^[a-z]+$")


def default_config_dir():
    """Where domain config files live (read at call time: tests move RUN_DIR)."""
    return os.path.join(pathutils.RUN_DIR, CONFIG_DIR_NAME)


# ---- parameter checks ---------------------------------------------------------------

def parse_cpu_mask(mask):
    """A cpu_mask ("all", "0-3,5", or per-VCPU "1:2-3:all") as a list of entries."""
    if not isinstance(mask, str) or not mask.strip():
        raise errors.HypervisorError("Invalid CPU mask %r" % (mask,))
    entries = [e.strip() for e in mask.split(":")]
    for entry in entries:
        if entry == "all":
            continue
        for part in entry.split(","):
            if not _CPU_RANGE_RE.match(part.strip()):
                raise errors.HypervisorError("Invalid CPU mask %r: bad part %r"
                                             % (mask, part))
            if "-" in part:
                low, high = part.split("-")
                if int(low) > int(high):
                    raise errors.HypervisorError("Invalid CPU mask %r: range %s"
                                                 " goes backwards" % (mask, part))
    return entries


def _is_cpu_mask(value):
    try:
        parse_cpu_mask(value)
    except errors.HypervisorError:
        return False
    return True


def _is_ip_or_empty(value):
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


CPU_MASK = (_is_cpu_mask, "a CPU mask ('all', '0-3,5' or per-VCPU '1:2-3')")
CPU_WEIGHT = (lambda v: hv_base.is_int(v) and 0 < v < 65536,
              "an integer between 1 and 65535")
NET_PORT = (lambda v: hv_base.is_int(v) and 0 < v < 65536, "a TCP port number")
BLOCKDEV_PREFIX = (lambda v: isinstance(v, str) and bool(_BLOCKDEV_PREFIX_RE.match(v)),
                   "lower-case letters (like 'sd' or 'xvd')")
BOOT_ORDER = (lambda v: isinstance(v, str) and v != "" and not v.strip("acdn"),
              "one or more of the letters a, c, d, n")
IP_OR_EMPTY = (_is_ip_or_empty, "an IP address (or empty)")

_COMMON_PARAMETERS = {
    "cpu_mask": CPU_MASK,
    "cpu_cap": hv_base.NONNEG_INT,
    "cpu_weight": CPU_WEIGHT,
    "cpuid": hv_base.STR,
    "blockdev_prefix": BLOCKDEV_PREFIX,
    "reboot_behavior": hv_base.one_of("reboot", "exit"),
    "vif_script": hv_base.PATH,
    "soundhw": hv_base.STR,
    "kernel_path": hv_base.PATH,
    "migration_mode": hv_base.one_of("live", "non-live"),
    "migration_port": NET_PORT,
    "xen_cmd": hv_base.one_of("xl", "xm"),
}


# ---- parsing xl output ------------------------------------------------------------

def _xen_state(flags):
    """Our state for xl's six state letters (rbpscd), None for a crashed domain.

    A domain shutting down for a reboot or a suspend (migration) still runs; one
    that shut down otherwise is "shutdown" (stopped from inside, not yet gone).
    """
    flags = (flags + "------")[:6]
    if "c" in flags[3:5] or flags[4] == "w":
        return None
    if flags[3] == "s":
        if flags[4] in ("r", "s", "S"):
            return hv_base.STATE_RUNNING
        return hv_base.STATE_SHUTDOWN
    if flags[2] == "p" and flags[0] != "r" and flags[1] != "b":
        return hv_base.STATE_PAUSED
    return hv_base.STATE_RUNNING


def parse_xl_list(text):
    """InstanceInfo entries (Domain-0 included) of ``xl list`` output."""
    result = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("Name "):
            continue
        fields = line.split()
        if len(fields) != 6:
            raise errors.HypervisorError("Cannot parse a line of 'xl list': %r" % line)
        name = fields[0]
        try:
            domid, memory, vcpus = int(fields[1]), int(fields[2]), int(fields[3])
            cpu_time = float(fields[5])
        except ValueError as err:
            raise errors.HypervisorError("Cannot parse a line of 'xl list': %r (%s)"
                                         % (line, err))
        state = _xen_state(fields[4])
        if state is None or name == "(null)":
            logging.debug("Skipping domain %s in state %s", name, fields[4])
            continue
        result.append(hv_base.InstanceInfo(name, domid, memory, vcpus, state, cpu_time))
    return result


def parse_xl_info(text):
    """The node information of ``xl info`` output (memory in MiB)."""
    values = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        values[key.strip()] = value.strip()

    def number(key):
        try:
            return int(values[key])
        except (KeyError, ValueError):
            return None

    result = {}
    for ours, theirs in (("memory_total", "total_memory"), ("memory_free", "free_memory"),
                         ("cpu_total", "nr_cpus"), ("cpu_nodes", "nr_nodes")):
        if number(theirs) is not None:
            result[ours] = number(theirs)
    if "memory_total" not in result and number("memory") is not None:
        result["memory_total"] = number("memory")
    cores, threads = number("cores_per_socket"), number("threads_per_core")
    if result.get("cpu_total") and cores and threads:
        result["cpu_sockets"] = max(1, result["cpu_total"] // (cores * threads))
    major, minor = number("xen_major"), number("xen_minor")
    if major is not None and minor is not None:
        result["hv_version"] = [major, minor]
    missing = [k for k in ("memory_total", "memory_free", "cpu_total")
               if k not in result]
    if missing:
        raise errors.HypervisorError("Cannot find %s in the output of 'xl info'"
                                     % ", ".join(missing))
    result.setdefault("cpu_nodes", 1)
    result.setdefault("cpu_sockets", 1)
    return result


# ---- config file pieces --------------------------------------------------------------

def _quote(value):
    """A config file string; refuse what could break out of the quotes."""
    value = str(value)
    if any(c in value for c in "'\\\n\r"):
        raise errors.HypervisorError("Value %r cannot be written to a Xen config file"
                                     % value)
    return "'%s'" % value


def _get(obj, key, default=None):
    """A field of a config object or of its dict form."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    value = getattr(obj, key, default)
    return default if value is None else value


def _cpus_line(cpu_mask):
    entries = parse_cpu_mask(cpu_mask or "all")
    if len(entries) == 1:
        return None if entries[0] == "all" else "cpus = %s" % _quote(entries[0])
    return "cpus = [%s]" % ", ".join(_quote(e) for e in entries)


def disk_specs(block_devices, prefix, extra=()):
    """xl disk specs ('phy:/dev/x,sda,w' or 'file:/path,sdb,r') for the disks."""
    if len(block_devices) + len(extra) > len(DISK_LETTERS):
        raise errors.HypervisorError("Too many disks for a Xen instance (at most %d)"
                                     % len(DISK_LETTERS))
    specs = []
    for idx, (disk, dev_path, _link) in enumerate(block_devices):
        mode = "r" if _get(disk, "mode", "rw") == "ro" else "w"
        driver = "phy"
        if _get(disk, "dev_type") in constants.DTS_FILEBASED:
            logical_id = _get(disk, "logical_id") or ["loop"]
            driver = FILE_DRIVER_MAP.get(logical_id[0], "file")
        specs.append("%s:%s,%s%s,%s" % (driver, dev_path, prefix, DISK_LETTERS[idx],
                                         mode))
    return specs


def vif_specs(nics, hvp, model=None):
    """xl vif specs: mac, bridge (bridged/openvswitch) or ip (routed), script."""
    specs = []
    for nic in nics:
        params = _get(nic, "nicparams", {}) or {}
        mode = params.get(constants.NIC_MODE, constants.NIC_MODE_BRIDGED)
        parts = ["mac=%s" % _get(nic, "mac")]
        if model:
            parts.append(model)
        ip = _get(nic, "ip")
        if ip:
            parts.append("ip=%s" % ip)
        link = params.get(constants.NIC_LINK, "")
        if mode == constants.NIC_MODE_BRIDGED and link:
            parts.append("bridge=%s" % link)
        elif mode == constants.NIC_MODE_OVS and link:
            parts.append("bridge=%s%s" % (link, params.get(constants.NIC_VLAN) or ""))
        if hvp.get("vif_script"):
            parts.append("script=%s" % hvp["vif_script"])
        specs.append(", ".join(parts))
    return specs


def _list_line(key, items):
    return "%s = [%s]" % (key, ", ".join(_quote(i) for i in items))


class XenHypervisor(hv_base.BaseHypervisor):
    """What Xen PV and HVM share: xl commands, listing, node info, config files."""

    HV_NAME = None
    GLOBAL_PARAMETERS = frozenset(["migration_port", "migration_mode", "xen_cmd"])
    # extra arguments of 'xl shutdown' / 'xl reboot' (HVM: ACPI fallback)
    POWER_ARGS = ()

    def __init__(self, config_dir=None, shutdown_poll=1.0):
        self._config_dir = config_dir
        self.shutdown_poll = shutdown_poll
        self.reboot_timeout = REBOOT_TIMEOUT
        self._sleep = time.sleep

    # ---- helpers -----------------------------------------------------------------------

    @property
    def config_dir(self):
        return self._config_dir or default_config_dir()

    def config_file(self, name):
        return os.path.join(self.config_dir, hv_base.check_instance_name(name))

    @classmethod
    def fill_hvparams(cls, hvparams):
        """The defaults of this hypervisor updated with ``hvparams``."""
        filled = hv_base.defaults_for(cls.HV_NAME)
        filled.update(hvparams or {})
        return filled

    @classmethod
    def _xen_cmd(cls, hvparams):
        return (hvparams or {}).get("xen_cmd") or "xl"

    def _run(self, hvparams, args, timeout=CMD_TIMEOUT):
        return process.run_cmd([self._xen_cmd(hvparams)] + list(args), timeout=timeout)

    def _run_ok(self, hvparams, args, what, timeout=CMD_TIMEOUT):
        result = self._run(hvparams, args, timeout)
        if result.failed:
            raise errors.HypervisorError("%s: %s" % (what, result.describe()))
        return result

    def _domains(self, hvparams=None):
        """All domains, Domain-0 included, as InstanceInfo."""
        result = self._run_ok(hvparams, ["list"], "Cannot list the Xen domains")
        return parse_xl_list(result.stdout)

    def _domain(self, name, hvparams=None):
        """The InstanceInfo of domain ``name`` (any state), or None."""
        result = self._run(hvparams, ["list", name])
        if result.failed:
            if "does not exist" in result.output or "invalid domain" in result.output:
                return None
            raise errors.HypervisorError("Cannot get the state of domain %s: %s"
                                         % (name, result.describe()))
        for info in parse_xl_list(result.stdout):
            if info.name == name:
                return info
        return None

    @classmethod
    def _instance_hvparams(cls, instance):
        return cls.fill_hvparams(instance.hvparams if instance is not None else None)

    # ---- master side -------------------------------------------------------------------

    @classmethod
    def get_instance_console(cls, instance, primary_node, node_group, hvparams,
                             beparams):
        cmd = [cls._xen_cmd(hvparams), "console", instance.name]
        return hv_base.console_ssh(instance.name, primary_node, cmd)

    # ---- config file -------------------------------------------------------------------

    def build_config(self, instance, block_devices, startup_paused=False):
        """The text of the domain config file of ``instance``."""
        raise NotImplementedError

    @staticmethod
    def _common_lines(instance, hvp):
        bep = instance.beparams or {}
        maxmem = int(bep.get(constants.BE_MAXMEM,
                             constants.BEC_DEFAULTS[constants.BE_MAXMEM]))
        vcpus = int(bep.get(constants.BE_VCPUS,
                            constants.BEC_DEFAULTS[constants.BE_VCPUS]))
        lines = ["name = %s" % _quote(instance.name),
                 "memory = %d" % maxmem,
                 "maxmem = %d" % maxmem,
                 "vcpus = %d" % vcpus]
        cpus = _cpus_line(hvp.get("cpu_mask"))
        if cpus:
            lines.append(cpus)
        if hvp.get("cpu_cap"):
            lines.append("cap = %d" % hvp["cpu_cap"])
        if hvp.get("cpu_weight"):
            lines.append("cpu_weight = %d" % hvp["cpu_weight"])
        if hvp.get("cpuid"):
            lines.append("cpuid = %s" % _quote(hvp["cpuid"]))
        return lines

    @staticmethod
    def _event_lines(hvp):
        on_reboot = "restart" if hvp.get("reboot_behavior", "reboot") == "reboot" \
            else "destroy"
        return ["on_poweroff = 'destroy'", "on_reboot = '%s'" % on_reboot,
                "on_crash = 'restart'"]

    def _write_config(self, name, text):
        path = self.config_file(name)
        try:
            io.write_file(path, text, mode=0o600, mkdir=True)
        except OSError as err:
            raise errors.HypervisorError("Cannot write the Xen config file %s: %s"
                                         % (path, err))
        return path

    # ---- node side ---------------------------------------------------------------------

    def start_instance(self, instance, block_devices, startup_paused):
        hvp = self._instance_hvparams(instance)
        name = instance.name
        if self._domain(name, hvp) is not None:
            raise errors.HypervisorError("Instance %s is already running" % name)
        path = self._write_config(name, self.build_config(instance, block_devices,
                                                          startup_paused))
        args = ["create"] + (["-p"] if startup_paused else []) + [path]
        result = self._run(hvp, args, timeout=CMD_TIMEOUT * 2)
        if result.failed:
            # leave nothing half-created behind
            self._run(hvp, ["destroy", name])
            io.remove_file(path)
            raise errors.HypervisorError("Failed to start instance %s: %s"
                                         % (name, result.describe()))

    def stop_instance(self, instance, force=False, timeout=None, name=None):
        """Clean shutdown (waiting up to ``timeout``), then destroy if still there."""
        hvp = self._instance_hvparams(instance)
        name = name or instance.name
        info = self._domain(name, hvp)
        if info is None:
            self.cleanup_instance(name)
            return
        if not force and info.state != hv_base.STATE_SHUTDOWN:
            timeout = DEFAULT_SHUTDOWN_TIMEOUT if timeout is None else timeout
            if timeout > 0:
                result = self._run(hvp, ["shutdown", "-w"] + list(self.POWER_ARGS)
                                   + [name], timeout=timeout)
                if not result.failed:
                    self.cleanup_instance(name)
                    return
                logging.warning("Clean shutdown of %s failed (%s), destroying it",
                                name, result.describe())
        result = self._run(hvp, ["destroy", name])
        if result.failed and self._domain(name, hvp) is not None:
            raise errors.HypervisorError("Failed to stop instance %s: %s"
                                         % (name, result.describe()))
        self.cleanup_instance(name)

    def reboot_instance(self, instance):
        """``xl reboot``, then wait until the domain came back (new domain id)."""
        hvp = self._instance_hvparams(instance)
        name = instance.name
        before = self._domain(name, hvp)
        if before is None:
            raise errors.HypervisorError("Instance %s is not running" % name)
        self._run_ok(hvp, ["reboot"] + list(self.POWER_ARGS) + [name],
                     "Failed to reboot instance %s" % name)
        deadline = time.monotonic() + self.reboot_timeout
        while True:
            now = self._domain(name, hvp)
            if now is not None and (now.id != before.id
                                    or now.cpu_time < before.cpu_time):
                return
            if time.monotonic() >= deadline:
                raise errors.HypervisorError(
                    "Instance %s did not come back after a reboot in %ss"
                    % (name, self.reboot_timeout))
            self._sleep(self.shutdown_poll)

    def balloon_instance_memory(self, instance, mem):
        hvp = self._instance_hvparams(instance)
        self._run_ok(hvp, ["mem-set", instance.name, "%dm" % int(mem)],
                     "Cannot set the memory of instance %s" % instance.name)

    def cleanup_instance(self, instance_name):
        io.remove_file(self.config_file(instance_name))

    def list_instances(self, hvparams=None):
        return [d.name for d in self._domains(hvparams)
                if d.name != DOM0_NAME and d.state != hv_base.STATE_SHUTDOWN]

    def get_instance_info(self, instance_name, hvparams=None):
        """The domain's InstanceInfo; one shut down from inside (not yet destroyed)
        is returned with state STATE_SHUTDOWN, a crashed one as None."""
        return self._domain(instance_name, hvparams)

    def get_all_instances_info(self, hvparams=None):
        return [d for d in self._domains(hvparams) if d.name != DOM0_NAME]

    def get_node_info(self, hvparams=None):
        """``xl info`` memory/CPUs, plus Domain-0's memory and what Xen keeps."""
        info = self._run_ok(hvparams, ["info"], "Cannot get the Xen node information")
        result = parse_xl_info(info.stdout)
        domains = self._domains(hvparams)
        used = 0
        for dom in domains:
            used += dom.memory
            if dom.name == DOM0_NAME:
                result["memory_dom0"] = dom.memory
                result["cpu_dom0"] = dom.vcpus
        result.setdefault("memory_dom0", 0)
        result["memory_hv"] = max(0, result["memory_total"] - result["memory_free"]
                                  - used)
        return result

    def verify(self, hvparams=None):
        result = self._run(hvparams, ["info"])
        if result.failed:
            return "The Xen hypervisor is not usable: %s" % result.describe()
        return None


class XenPvmHypervisor(XenHypervisor):
    """Paravirtualized Xen guests: a kernel from dom0, or a bootloader (pygrub)."""

    HV_NAME = constants.HT_XEN_PVM
    PARAMETERS = dict(_COMMON_PARAMETERS, **{
        "initrd_path": hv_base.PATH,
        "root_path": hv_base.STR,
        "kernel_args": hv_base.STR,
        "use_bootloader": hv_base.BOOL,
        "bootloader_path": hv_base.PATH,
        "bootloader_args": hv_base.STR,
    })

    @classmethod
    def check_parameter_syntax(cls, hvparams):
        super().check_parameter_syntax(hvparams)
        hvp = cls.fill_hvparams(hvparams)
        if hvp.get("use_bootloader"):
            if not hvp.get("bootloader_path"):
                raise errors.HypervisorError("Parameter 'use_bootloader' needs"
                                             " 'bootloader_path'")
        elif not hvp.get("kernel_path"):
            raise errors.HypervisorError("Need a kernel ('kernel_path') or a bootloader"
                                         " ('use_bootloader') for the instance")

    def validate_parameters(self, hvparams):
        hvp = self.fill_hvparams(hvparams)
        if hvp.get("use_bootloader"):
            files = [("bootloader", hvp.get("bootloader_path"))]
        else:
            files = [("kernel", hvp.get("kernel_path")),
                     ("initrd", hvp.get("initrd_path"))]
        files.append(("vif script", hvp.get("vif_script")))
        for what, path in files:
            if path and not os.path.isfile(path):
                raise errors.HypervisorError("The %s '%s' is not a file on this node"
                                             % (what, path))

    def build_config(self, instance, block_devices, startup_paused=False):
        hvp = self._instance_hvparams(instance)
        lines = ["# Generated by Ganeti for instance %s; do not edit" % instance.name,
                 "type = 'pv'"]
        if hvp.get("use_bootloader"):
            if not hvp.get("bootloader_path"):
                raise errors.HypervisorError("Bootloader enabled, but no"
                                             " bootloader_path given")
            lines.append("bootloader = %s" % _quote(hvp["bootloader_path"]))
            if hvp.get("bootloader_args"):
                lines.append(_list_line("bootloader_args",
                                        hvp["bootloader_args"].split()))
        else:
            lines.append("kernel = %s" % _quote(hvp["kernel_path"]))
            if hvp.get("initrd_path"):
                lines.append("ramdisk = %s" % _quote(hvp["initrd_path"]))
            if hvp.get("root_path"):
                lines.append("root = %s" % _quote(hvp["root_path"]))
            if hvp.get("kernel_args"):
                lines.append("extra = %s" % _quote(hvp["kernel_args"]))
        lines += self._common_lines(instance, hvp)
        lines.append(_list_line("vif", vif_specs(instance.nics, hvp)))
        lines.append(_list_line("disk", disk_specs(block_devices,
                                                   hvp.get("blockdev_prefix") or "sd")))
        lines += self._event_lines(hvp)
        return "\n".join(lines) + "\n"


class XenHvmHypervisor(XenHypervisor):
    """Fully virtualized Xen guests (emulated BIOS and devices, VNC console)."""

    HV_NAME = constants.HT_XEN_HVM
    POWER_ARGS = ("-F",)
    PARAMETERS = dict(_COMMON_PARAMETERS, **{
        "boot_order": BOOT_ORDER,
        "device_model": hv_base.PATH,
        "cdrom_image_path": hv_base.PATH,
        "nic_type": hv_base.one_of("rtl8139", "ne2k_pci", "ne2k_isa", "i82551",
                                   "i82557b", "i82559er", "pcnet", "e1000",
                                   "paravirtual"),
        "disk_type": hv_base.one_of("ioemu", "paravirtual"),
        "vif_type": hv_base.one_of("ioemu", "vif"),
        "vnc_bind_address": IP_OR_EMPTY,
        "vnc_password_file": hv_base.PATH,
        "acpi": hv_base.BOOL,
        "pae": hv_base.BOOL,
        "use_localtime": hv_base.BOOL,
        "viridian": hv_base.BOOL,
        "pci_pass": hv_base.STR,
    })

    @classmethod
    def get_instance_console(cls, instance, primary_node, node_group, hvparams,
                             beparams):
        hvp = cls.fill_hvparams(hvparams)
        bind = hvp.get("vnc_bind_address")
        port = instance.network_port
        if not bind or port is None or port < VNC_BASE_PORT:
            return super().get_instance_console(instance, primary_node, node_group,
                                                hvparams, beparams)
        host = primary_node if bind in ("0.0.0.0", "::") else bind
        return hv_base.console_vnc(instance.name, host, port, port - VNC_BASE_PORT)

    def validate_parameters(self, hvparams):
        hvp = self.fill_hvparams(hvparams)
        files = [("CD-ROM image", hvp.get("cdrom_image_path")),
                 ("vif script", hvp.get("vif_script"))]
        if hvp.get("vnc_bind_address"):
            files.append(("VNC password file", hvp.get("vnc_password_file")))
        for what, path in files:
            if path and not os.path.isfile(path):
                raise errors.HypervisorError("The %s '%s' is not a file on this node"
                                             % (what, path))

    @staticmethod
    def _vnc_lines(instance, hvp):
        bind = hvp.get("vnc_bind_address")
        if not bind:
            return ["vnc = 0"]
        lines = ["vnc = 1", "vnclisten = %s" % _quote(bind)]
        port = instance.network_port
        if port is not None and port >= VNC_BASE_PORT:
            lines += ["vncdisplay = %d" % (port - VNC_BASE_PORT), "vncunused = 0"]
        else:
            lines.append("vncunused = 1")
        pw_file = hvp.get("vnc_password_file")
        if pw_file:
            try:
                password = io.read_file(pw_file).strip()
            except OSError as err:
                raise errors.HypervisorError("Cannot read the VNC password file %s: %s"
                                             % (pw_file, err))
            lines.append("vncpasswd = %s" % _quote(password))
        return lines

    def build_config(self, instance, block_devices, startup_paused=False):
        hvp = self._instance_hvparams(instance)
        lines = ["# Generated by Ganeti for instance %s; do not edit" % instance.name,
                 "type = 'hvm'"]
        if hvp.get("kernel_path") and hvp["kernel_path"] != LEGACY_HVMLOADER:
            lines.append("firmware_override = %s" % _quote(hvp["kernel_path"]))
        if hvp.get("device_model") and hvp["device_model"] != LEGACY_DEVICE_MODEL:
            lines.append("device_model_override = %s" % _quote(hvp["device_model"]))
        lines += self._common_lines(instance, hvp)
        lines += ["boot = %s" % _quote(hvp.get("boot_order") or "cd"),
                  "acpi = %d" % bool(hvp.get("acpi")),
                  "pae = %d" % bool(hvp.get("pae")),
                  "viridian = %d" % bool(hvp.get("viridian")),
                  "serial = 'pty'"]
        if hvp.get("use_localtime"):
            lines.append("localtime = 1")
        lines += self._vnc_lines(instance, hvp)
        nic_type = hvp.get("nic_type")
        if not nic_type or nic_type == "paravirtual":
            model = "type=vif"
        else:
            model = "model=%s, type=%s" % (nic_type, hvp.get("vif_type") or "ioemu")
        lines.append(_list_line("vif", vif_specs(instance.nics, hvp, model)))
        prefix = hvp.get("blockdev_prefix") or "hd"
        iso = hvp.get("cdrom_image_path")
        specs = disk_specs(block_devices, prefix, extra=[iso] if iso else [])
        if iso:
            specs.append("file:%s,%s%s:cdrom,r" % (iso, prefix,
                                                   DISK_LETTERS[len(block_devices)]))
        lines.append(_list_line("disk", specs))
        if hvp.get("pci_pass"):
            lines.append(_list_line("pci", [p.strip() for p in hvp["pci_pass"].split(";")
                                            if p.strip()]))
        if hvp.get("soundhw"):
            lines.append("soundhw = %s" % _quote(hvp["soundhw"]))
        lines += self._event_lines(hvp)
        return "\n".join(lines) + "\n"
