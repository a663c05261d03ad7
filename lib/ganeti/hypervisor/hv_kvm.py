"""The KVM hypervisor: one QEMU process per instance, driven through QMP.

Runtime files live under ``<RUN_DIR>/kvm-hypervisor/`` (Ganeti's layout):

- ``pid/<instance>``: QEMU's pid file (written by QEMU itself);
- ``ctrl/<instance>.qmp``: the QMP socket (what we drive the instance with);
- ``ctrl/<instance>.monitor``: a human monitor socket, for admins;
- ``ctrl/<instance>.serial``: the serial console socket (``serial_console``);
- ``conf/<instance>.runtime``: JSON with the instance, its filled parameters,
  disks, NICs and the command line, written before QEMU starts, so that stop,
  info and cleanup work after a node daemon restart;
- ``nic/<instance>/<index>``: the tap device name of each NIC;
- ``chroot/<instance>``: the chroot directory (``use_chroot``).

QEMU is started with ``-daemonize``: the command returns once the guest is
set up, and the pid file names the daemon. Before any signal is sent the
process's command line is checked to be this instance's QEMU.

With the ``user_shutdown`` parameter QEMU runs with ``-no-shutdown``: a guest
that powers itself off leaves QEMU running in the "shutdown" state, which is
reported as hv_base.STATE_SHUTDOWN (shut down from inside). A stop by the
node daemon always ends QEMU, so that state never means an admin's stop.
"""

import ipaddress
import json
import logging
import os
import re
import shlex
import shutil
import signal
import time

from ganeti import constants, errors, network, objects, pathutils
from ganeti.hypervisor import hv_base, kvm_cmdline, kvm_qmp
from ganeti.utils import hostinfo, io as uio, net
from ganeti.utils import process

RUNTIME_VERSION = 1
QMP_TIMEOUT = 5.0
START_TIMEOUT = 120
KILL_WAIT = 10.0
POWEROFF_POLL = 0.5          # seconds between QMP status checks while a guest stops
QEMU_STATUS_SHUTDOWN = "shutdown"   # query-status of a powered-off -no-shutdown guest
MIB = 1024 * 1024
UNIX_PATH_MAX = 107          # sun_path holds 108 bytes with the final NUL

CONSOLE_ESCAPE = "0x1d"      # ^]


def kvm_run_dir():
    """The KVM runtime directory of this node (virtual cluster aware)."""
    return pathutils.RUN_DIR + "/kvm-hypervisor"


class InstancePaths:
    """The runtime file names of one instance below ``base``."""

    def __init__(self, base, name):
        self.base = base
        self.name = name
        self.pid_file = "%s/pid/%s" % (base, name)
        self.qmp_socket = "%s/ctrl/%s.qmp" % (base, name)
        self.monitor_socket = "%s/ctrl/%s.monitor" % (base, name)
        self.serial_socket = "%s/ctrl/%s.serial" % (base, name)
        self.runtime_file = "%s/conf/%s.runtime" % (base, name)
        self.nic_dir = "%s/nic/%s" % (base, name)
        self.chroot_dir = "%s/chroot/%s" % (base, name)

    def nic_file(self, index):
        return "%s/%d" % (self.nic_dir, index)

    def cmdline_paths(self):
        return kvm_cmdline.Paths(self.pid_file, self.qmp_socket, self.monitor_socket,
                                 self.serial_socket, self.chroot_dir)


# ---- parameter checks -------------------------------------------------------------------

def _is_abs_path(value):
    return isinstance(value, str) and value.startswith("/")


def _is_positive_int(value):
    return hv_base.is_int(value) and value > 0


def _is_port(value):
    return hv_base.is_int(value) and 0 < value < 65536


def _is_cpu_mask(value):
    try:
        kvm_cmdline.parse_cpu_mask(value)
    except (ValueError, AttributeError):
        return False
    return isinstance(value, str)


def _is_shell_words(value):
    if not isinstance(value, str):
        return False
    try:
        shlex.split(value)
    except ValueError:
        return False
    return True


def _is_bind_address(value):
    if not isinstance(value, str):
        return False
    if not value:
        return True
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(re.match(r"^[A-Za-z0-9_.:-]{1,15}$", value))   # an interface name


_DISK_TYPES = ("paravirtual", "ide", "scsi", "sd", "mtd", "pflash", "scsi-block",
               "scsi-generic", "scsi-hd")

PARAMETERS = {
    "kvm_path": (_is_abs_path, "an absolute path"),
    "kernel_path": hv_base.PATH,
    "initrd_path": hv_base.PATH,
    "root_path": hv_base.STR,
    "kernel_args": hv_base.STR,
    "serial_console": hv_base.BOOL,
    "serial_speed": (_is_positive_int, "a positive integer"),
    "vnc_bind_address": (_is_bind_address, "an IP address or interface name (or empty)"),
    "vnc_tls": hv_base.BOOL,
    "vnc_x509_path": hv_base.PATH,
    "vnc_x509_verify": hv_base.BOOL,
    "vnc_password_file": hv_base.PATH,
    "keymap": hv_base.STR,
    "vga": hv_base.STR,
    "boot_order": hv_base.one_of(*sorted(kvm_cmdline.BOOT_ORDER)),
    "disk_type": hv_base.one_of(*_DISK_TYPES),
    "cdrom_disk_type": hv_base.one_of("", *_DISK_TYPES),
    "scsi_controller_type": hv_base.one_of(*sorted(kvm_cmdline.SCSI_CONTROLLERS)),
    "nic_type": hv_base.one_of(*sorted(kvm_cmdline.NIC_MODELS)),
    "cdrom_image_path": hv_base.PATH,
    "cdrom2_image_path": hv_base.PATH,
    "floppy_image_path": hv_base.PATH,
    "disk_cache": hv_base.one_of("default", "none", "writethrough", "writeback"),
    "disk_aio": hv_base.one_of("threads", "native", "io_uring"),
    "disk_discard": hv_base.one_of("default", "ignore", "unmap"),
    "kvm_flag": hv_base.one_of("", "enabled", "disabled"),
    "acpi": hv_base.BOOL,
    "cpu_type": hv_base.STR,
    "cpu_mask": (_is_cpu_mask, "'all' or a CPU list like '0-2,4' (':' per vCPU)"),
    "cpu_cores": hv_base.NONNEG_INT,
    "cpu_threads": hv_base.NONNEG_INT,
    "cpu_sockets": hv_base.NONNEG_INT,
    "machine_version": hv_base.STR,
    "kvm_extra": (_is_shell_words, "extra QEMU arguments (shell words)"),
    "use_localtime": hv_base.BOOL,
    "reboot_behavior": hv_base.one_of("reboot", "exit"),
    "user_shutdown": hv_base.BOOL,
    "migration_port": (_is_port, "a TCP port number"),
    "migration_mode": hv_base.one_of("live", "non-live"),
    "migration_bandwidth": hv_base.NONNEG_INT,
    "migration_downtime": hv_base.NONNEG_INT,
    "migration_caps": hv_base.STR,
    "mem_path": hv_base.PATH,
    "vhost_net": hv_base.BOOL,
    "vnet_hdr": hv_base.BOOL,
    "virtio_net_queues": ((lambda v: hv_base.is_int(v) and 1 <= v <= 8),
                          "an integer from 1 to 8"),
    "security_model": hv_base.one_of("none", "user", "pool"),
    "security_domain": hv_base.STR,
    "use_chroot": hv_base.BOOL,
    "usb_mouse": hv_base.one_of("", "mouse", "tablet"),
    "usb_devices": hv_base.STR,
    "soundhw": hv_base.STR,
    "kvm_pci_reservations": hv_base.NONNEG_INT,
    "use_guest_agent": hv_base.BOOL,
}


def _fill(defaults, custom):
    return objects.fill_dict(defaults, custom or {})


def _proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fd:
            data = fd.read()
    except OSError:
        return []
    return [arg.decode("utf-8", "replace") for arg in data.split(b"\0") if arg]


def is_instance_process(pid, name):
    """Whether process ``pid`` is the QEMU of instance ``name`` (``-name <name>``)."""
    args = _proc_cmdline(pid)
    for idx, arg in enumerate(args[:-1]):
        if arg == "-name" and args[idx + 1].split(",")[0] == name:
            return True
    return False


def _cpu_time(pid):
    """CPU seconds used by process ``pid`` (user + system)."""
    try:
        with open("/proc/%d/stat" % pid) as fd:
            fields = fd.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0.0
    return ticks / float(os.sysconf("SC_CLK_TCK"))


def _rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as fd:
            for line in fd:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _wait_gone(pid, name, timeout):
    """Wait until ``pid`` is no longer the QEMU of ``name``; True if it is gone."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if not (process.is_process_alive(pid) and is_instance_process(pid, name)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def resolve_bind_address(value):
    """An IP address for VNC: ``value`` itself, or the first IPv4 of interface ``value``."""
    if not value:
        return value
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    address = net.interface_ipv4(value)
    if address is None:
        raise errors.HypervisorError("vnc_bind_address %s is neither an IP address nor"
                                     " an interface with an IPv4 address" % value)
    return address


_VERSION_CACHE = {}


def qemu_version(kvm_path):
    """QEMU's version as a list of numbers ([7, 2, 0]), or None if unknown; asked
    once per binary (and again when the binary changes)."""
    try:
        key = (kvm_path, os.stat(kvm_path).st_mtime)
    except (OSError, TypeError):
        return None
    if key not in _VERSION_CACHE:
        result = process.run_cmd([kvm_path, "--version"], timeout=30)
        match = re.search(r"version (\d+)\.(\d+)(?:\.(\d+))?", result.stdout or "")
        _VERSION_CACHE[key] = ([int(x or 0) for x in match.groups()]
                               if match and not result.failed else None)
    return _VERSION_CACHE[key]


def _disk_dict(disk):
    if hasattr(disk, "to_dict"):
        return disk.to_dict()
    return dict(disk or {})


class KVMHypervisor(hv_base.BaseHypervisor):
    """QEMU/KVM instances on this node."""

    PARAMETERS = PARAMETERS
    GLOBAL_PARAMETERS = frozenset(["migration_port", "migration_bandwidth",
                                   "migration_mode"])
    CAN_MIGRATE = True

    def __init__(self, run_dir=None):
        self._run_dir = run_dir

    # ---- paths and runtime files ------------------------------------------------------

    @property
    def run_dir(self):
        return self._run_dir or kvm_run_dir()

    def paths(self, name):
        return InstancePaths(self.run_dir, name)

    def _ensure_dirs(self):
        base = self.run_dir
        uio.ensure_dirs([(base, 0o755), (base + "/pid", 0o755), (base + "/ctrl", 0o750),
                         (base + "/conf", 0o750), (base + "/nic", 0o755),
                         (base + "/chroot", 0o755)])

    def save_runtime(self, name, runtime):
        """Write the runtime file of ``name`` (atomically)."""
        uio.write_file(self.paths(name).runtime_file,
                       json.dumps(runtime, sort_keys=True, indent=1), mode=0o600,
                       mkdir=True)

    def load_runtime(self, name):
        """The runtime dict of ``name``, or None when there is none (or it is bad)."""
        try:
            data = json.loads(uio.read_file(self.paths(name).runtime_file))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            logging.warning("Ignoring unreadable KVM runtime of %s: %s", name, err)
            return None
        return data if isinstance(data, dict) else None

    def get_pid(self, name):
        """The PID of the running QEMU of ``name``, or 0."""
        pid = process.read_pid_file(self.paths(name).pid_file)
        if pid and process.is_process_alive(pid) and is_instance_process(pid, name):
            return pid
        return 0

    # ---- master side --------------------------------------------------------------------

    @classmethod
    def check_parameter_syntax(cls, hvparams):
        super().check_parameter_syntax(hvparams)
        get = hvparams.get
        if get("boot_order") == "cdrom" and "cdrom_image_path" in hvparams \
                and not get("cdrom_image_path"):
            raise errors.HypervisorError("Booting from cdrom needs cdrom_image_path")
        if get("boot_order") == "floppy" and "floppy_image_path" in hvparams \
                and not get("floppy_image_path"):
            raise errors.HypervisorError("Booting from floppy needs floppy_image_path")
        model = get("security_model")
        if model == "user" and not get("security_domain"):
            raise errors.HypervisorError("security_model 'user' needs security_domain"
                                         " (the user QEMU runs as)")
        if model in ("none", "pool") and get("security_domain"):
            raise errors.HypervisorError("security_domain can only be set with"
                                         " security_model 'user'")
        if get("vnc_x509_verify") and not get("vnc_x509_path"):
            raise errors.HypervisorError("vnc_x509_verify needs vnc_x509_path")
        if (get("vnc_tls") or get("vnc_password_file")) and "vnc_bind_address" in hvparams \
                and not get("vnc_bind_address"):
            raise errors.HypervisorError("VNC options need vnc_bind_address")

    @classmethod
    def get_instance_console(cls, instance, primary_node, node_group, hvparams, beparams):
        hvparams = _fill(hv_base.defaults_for(constants.HT_KVM), hvparams)
        if hvparams.get("serial_console"):
            path = InstancePaths(kvm_run_dir(), instance.name).serial_socket
            path = pathutils.to_node_path(path, primary_node)
            return hv_base.console_ssh(
                instance.name, primary_node,
                ["socat", "STDIO,raw,echo=0,escape=%s" % CONSOLE_ESCAPE,
                 "UNIX-CONNECT:%s" % path])
        bind = hvparams.get("vnc_bind_address")
        port = instance.network_port
        if bind and port:
            host = primary_node
            try:
                if not ipaddress.ip_address(bind).is_unspecified:
                    host = bind
            except ValueError:
                pass
            return hv_base.console_vnc(instance.name, host, port,
                                       port - kvm_cmdline.VNC_BASE_PORT)
        return hv_base.console_message(instance.name,
                                       "No serial console or VNC configured for %s"
                                       % instance.name)

    # ---- node side: checks ---------------------------------------------------------------

    def validate_parameters(self, hvparams):
        hvparams = _fill(hv_base.defaults_for(constants.HT_KVM), hvparams)
        kvm_path = hvparams.get("kvm_path")
        if not (kvm_path and os.path.isfile(kvm_path) and os.access(kvm_path, os.X_OK)):
            raise errors.HypervisorError("KVM binary %s is missing or not executable"
                                         % kvm_path)
        for key in ("kernel_path", "initrd_path", "cdrom_image_path",
                    "cdrom2_image_path", "floppy_image_path", "vnc_password_file"):
            path = hvparams.get(key)
            if path and not os.path.isfile(path):
                raise errors.HypervisorError("%s %s does not exist (or is not a file)"
                                             % (key, path))
        for key in ("mem_path", "vnc_x509_path"):
            path = hvparams.get(key)
            if path and not os.path.isdir(path):
                raise errors.HypervisorError("%s %s is not a directory" % (key, path))
        if hvparams.get("security_model") == "pool":
            raise errors.HypervisorError("security_model 'pool' is not supported")
        if hvparams.get("security_model") == "user":
            import pwd
            try:
                pwd.getpwnam(hvparams.get("security_domain"))
            except KeyError:
                raise errors.HypervisorError("Unknown user %s (security_domain)"
                                             % hvparams.get("security_domain"))

    def verify(self, hvparams=None):
        kvm_path = _fill(hv_base.defaults_for(constants.HT_KVM), hvparams).get("kvm_path")
        if not (kvm_path and os.path.isfile(kvm_path) and os.access(kvm_path, os.X_OK)):
            return "KVM binary %s is missing or not executable" % kvm_path
        return None

    # ---- node side: life cycle ------------------------------------------------------------

    def start_instance(self, instance, block_devices, startup_paused):
        hvparams = _fill(hv_base.defaults_for(constants.HT_KVM), instance.hvparams)
        beparams = _fill(constants.BEC_DEFAULTS, instance.beparams)
        self._launch(instance, hvparams, beparams, block_devices, startup_paused)

    def _launch(self, instance, hvparams, beparams, block_devices, startup_paused,
                incoming=None):
        """Start the QEMU of ``instance`` (booting it, or waiting for its migration
        on ``incoming`` = (ip, port)); on any failure nothing is left behind."""
        name = instance.name
        hvparams = dict(hvparams)
        self.validate_parameters(hvparams)
        if self.get_pid(name):
            raise errors.HypervisorError("Instance %s is already running" % name)
        hvparams["vnc_bind_address"] = resolve_bind_address(hvparams["vnc_bind_address"])
        paths = self.paths(name)
        for sock in (paths.qmp_socket, paths.monitor_socket, paths.serial_socket):
            if len(sock.encode("utf-8")) > UNIX_PATH_MAX:
                raise errors.HypervisorError(
                    "Socket path %s is longer than %d bytes (a Unix socket limit);"
                    " use a shorter instance name or runtime directory"
                    % (sock, UNIX_PATH_MAX))
        self._ensure_dirs()
        self.cleanup_instance(name)          # leftovers of a crashed instance
        if hvparams.get("use_chroot"):
            os.makedirs(paths.chroot_dir, exist_ok=True)
        disks = []
        for disk, dev_path, link_name in block_devices:
            disks.append((_disk_dict(disk), dev_path or link_name))
        nics = []
        try:
            os.makedirs(paths.nic_dir, exist_ok=True)
            for idx, nic in enumerate(instance.nics):
                nicparams = _fill(constants.NICC_DEFAULTS, nic.nicparams)
                record = {"index": idx, "mac": nic.mac, "ip": nic.ip,
                          "nicparams": nicparams, "tap": None}
                nics.append(record)
                record["tap"] = network.plug_nic(name, idx, nic.mac, nic.ip, nicparams)
                uio.write_file(paths.nic_file(idx), record["tap"] + "\n", fsync=False)
            cmd = kvm_cmdline.build_command(
                name, hvparams, beparams, disks, nics, paths.cmdline_paths(),
                network_port=instance.network_port, instance_uuid=instance.uuid,
                startup_paused=startup_paused, incoming=incoming)
            inst_dict = instance.to_dict()
            inst_dict.pop("osparams_private", None)     # no secrets in runtime files
            self.save_runtime(name, {
                "version": RUNTIME_VERSION, "instance": inst_dict,
                "hvparams": hvparams, "beparams": beparams,
                "disks": [[d, p] for d, p in disks], "nics": nics, "cmdline": cmd,
                "startup_paused": bool(startup_paused), "start_time": time.time()})
            result = process.run_cmd(cmd, timeout=START_TIMEOUT)
            if result.failed:
                raise errors.HypervisorError("Failed to start instance %s: %s"
                                             % (name, result.describe()))
            pid = self.get_pid(name)
            if not pid:
                raise errors.HypervisorError("Instance %s: QEMU exited right after"
                                             " starting" % name)
            if incoming is None:
                self._post_start(name, pid, hvparams)
        except BaseException:
            self._drop(name, nics)
            raise

    def _drop(self, name, nics=()):
        """End the QEMU of ``name`` and remove its taps and runtime files."""
        self._kill(name)
        for record in nics:
            if record["tap"]:
                try:
                    network.unplug_nic(record["tap"], record["nicparams"],
                                       record["ip"])
                except errors.GenericError as err:
                    logging.warning("Cannot remove tap %s: %s", record["tap"], err)
        try:
            self.cleanup_instance(name)
        except errors.GenericError as err:     # keep the original error
            logging.warning("Cleanup of %s: %s", name, err)

    def _post_start(self, name, pid, hvparams):
        """Settings applied to the running QEMU: VNC password, CPU pinning."""
        if hvparams.get("vnc_bind_address") and hvparams.get("vnc_password_file"):
            try:
                password = uio.read_one_line_file(hvparams["vnc_password_file"])
            except OSError as err:
                raise errors.HypervisorError("Cannot read the VNC password file %s: %s"
                                             % (hvparams["vnc_password_file"], err))
            self._qmp(name, "set_password", {"protocol": "vnc", "password": password})
        cpus = kvm_cmdline.parse_cpu_mask(hvparams.get("cpu_mask"))
        if cpus is not None:
            try:
                os.sched_setaffinity(pid, cpus)
            except OSError as err:
                raise errors.HypervisorError("Cannot pin instance %s to CPUs %s: %s"
                                             % (name, sorted(cpus), err))

    def _qmp(self, name, command, arguments=None, timeout=QMP_TIMEOUT):
        return kvm_qmp.qmp_command(self.paths(name).qmp_socket, command, arguments,
                                   timeout=timeout)

    def _kill(self, name, pid=None):
        """End the QEMU of ``name`` without asking the guest; True if it is gone."""
        pid = pid or self.get_pid(name)
        if not pid:
            return True
        try:
            self._qmp(name, "quit", timeout=QMP_TIMEOUT)
        except errors.HypervisorError:
            pass
        else:
            if _wait_gone(pid, name, KILL_WAIT / 2):
                return True
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not is_instance_process(pid, name):
                return True
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return True
            if _wait_gone(pid, name, KILL_WAIT):
                return True
        return False

    def stop_instance(self, instance, force=False, timeout=None, name=None):
        name = name or instance.name
        if timeout is None:
            timeout = constants.DEFAULT_SHUTDOWN_TIMEOUT
        runtime = self.load_runtime(name) or {}
        hvparams = runtime.get("hvparams")
        if hvparams is None:
            hvparams = _fill(hv_base.defaults_for(constants.HT_KVM),
                             instance.hvparams if instance is not None else {})
        pid = self.get_pid(name)
        if pid and not force and hvparams.get("acpi", True):
            try:
                self._qmp(name, "system_powerdown")
            except errors.HypervisorError as err:
                logging.warning("Clean shutdown of %s failed (%s), killing it", name, err)
            else:
                if self._wait_powered_off(name, pid, timeout):
                    pid = self.get_pid(name)    # still there after -no-shutdown
        if pid and not self._kill(name, pid):
            raise errors.HypervisorError("Cannot stop instance %s (pid %d)" % (name, pid))
        self.cleanup_instance(name)

    def guest_status(self, name):
        """QEMU's run state of the guest ("running", "shutdown", ...), or None if
        QMP does not answer."""
        try:
            return self._qmp(name, "query-status").get("status")
        except (errors.HypervisorError, AttributeError):
            return None

    def _wait_powered_off(self, name, pid, timeout):
        """Wait up to ``timeout`` seconds until the QEMU of ``name`` exits or, when
        it runs with -no-shutdown (user_shutdown), its guest has powered off and
        QEMU stays in the "shutdown" state; whether either happened."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            left = deadline - time.monotonic()
            if _wait_gone(pid, name, min(POWEROFF_POLL, max(0.0, left))):
                return True
            if self.guest_status(name) == QEMU_STATUS_SHUTDOWN:
                return True
            if left <= 0:
                return False

    def reboot_instance(self, instance):
        if not self.get_pid(instance.name):
            raise errors.HypervisorError("Instance %s is not running" % instance.name)
        self._qmp(instance.name, "system_reset")

    def cleanup_instance(self, instance_name):
        """Remove taps, routes and runtime files of a stopped instance."""
        name = instance_name
        if self.get_pid(name):
            raise errors.HypervisorError("Instance %s is still running" % name)
        paths = self.paths(name)
        runtime = self.load_runtime(name) or {}
        taps = {}
        for nic in runtime.get("nics") or []:
            if nic.get("tap"):
                taps[nic["tap"]] = nic
        try:
            for entry in os.listdir(paths.nic_dir):
                try:
                    tap = uio.read_one_line_file(os.path.join(paths.nic_dir, entry))
                except OSError:
                    continue
                if tap and tap not in taps:
                    taps[tap] = {}
        except OSError:
            pass
        for tap, nic in sorted(taps.items()):
            try:
                network.unplug_nic(tap, nic.get("nicparams"), nic.get("ip"))
            except errors.GenericError as err:
                logging.warning("Cannot remove tap %s of %s: %s", tap, name, err)
        for path in (paths.pid_file, paths.qmp_socket, paths.monitor_socket,
                     paths.serial_socket, paths.runtime_file):
            uio.remove_file(path)
        shutil.rmtree(paths.nic_dir, ignore_errors=True)
        try:
            os.rmdir(paths.chroot_dir)
        except OSError:
            pass

    # ---- node side: information ------------------------------------------------------------

    def list_instances(self, hvparams=None):
        try:
            entries = os.listdir(self.run_dir + "/conf")
        except OSError:
            return []
        names = [e[:-len(".runtime")] for e in entries if e.endswith(".runtime")]
        return sorted(name for name in names if self.get_pid(name))

    def get_instance_info(self, instance_name, hvparams=None):
        name = instance_name
        pid = self.get_pid(name)
        if not pid:
            return None
        runtime = self.load_runtime(name) or {}
        beparams = runtime.get("beparams") or constants.BEC_DEFAULTS
        memory = beparams.get("maxmem", 0)
        state = hv_base.STATE_RUNNING
        try:
            with kvm_qmp.QmpClient(self.paths(name).qmp_socket, QMP_TIMEOUT) as qmp:
                status = qmp.execute("query-status").get("status", "running")
                if status == QEMU_STATUS_SHUTDOWN:
                    # only with -no-shutdown (user_shutdown) does QEMU stay after
                    # its guest powered off; an admin's stop ends QEMU, so this
                    # guest was shut down from inside
                    state = hv_base.STATE_SHUTDOWN
                elif status != "running":
                    state = hv_base.STATE_PAUSED
                try:
                    memory = qmp.execute("query-balloon")["actual"] // MIB
                except (errors.HypervisorError, KeyError, TypeError):
                    pass
        except errors.HypervisorError as err:
            logging.warning("QMP query of %s failed: %s", name, err)
        return hv_base.InstanceInfo(name, pid, memory, beparams.get("vcpus", 1), state,
                                    _cpu_time(pid))

    def get_node_info(self, hvparams=None):
        try:
            mem = hostinfo.memory()
        except (OSError, ValueError) as err:
            raise errors.HypervisorError("Cannot read /proc/meminfo: %s" % err)
        instances_rss = sum(_rss_mib(self.get_pid(n)) for n in self.list_instances())
        result = dict(mem)
        # memory the host itself uses, without what its qemu processes take
        result["memory_dom0"] = max(0, mem["memory_dom0"] - instances_rss)
        result.update(hostinfo.cpu_info())
        try:
            numa = len([d for d in os.listdir("/sys/devices/system/node")
                        if re.match(r"^node\d+$", d)])
        except OSError:
            numa = 0
        result["cpu_nodes"] = max(1, numa)
        version = qemu_version(_fill(hv_base.defaults_for(constants.HT_KVM),
                                     hvparams).get("kvm_path"))
        if version:
            result["hv_version"] = version
        return result

    # ---- node side: migration (QEMU's own, over TCP) ----------------------------------

    def _running_runtime(self, name):
        if not self.get_pid(name):
            raise errors.HypervisorError("Instance %s is not running" % name)
        runtime = self.load_runtime(name)
        if runtime is None:
            raise errors.HypervisorError("Instance %s has no runtime file" % name)
        return runtime

    def migration_info(self, instance):
        """The source's runtime: the target starts QEMU with the same hardware."""
        runtime = self._running_runtime(instance.name)
        return {"hvparams": runtime["hvparams"], "beparams": runtime["beparams"]}

    def accept_instance(self, instance, info, target_ip, block_devices):
        """Start QEMU here waiting on target_ip:migration_port for the instance."""
        try:
            hvparams = dict(info["hvparams"])
            beparams = dict(info["beparams"])
        except (TypeError, KeyError) as err:
            raise errors.HypervisorError("Invalid migration information for %s: %s"
                                         % (instance.name, err))
        # the migration port is a cluster-wide parameter: the master's value
        hvparams["migration_port"] = _fill(hv_base.defaults_for(constants.HT_KVM),
                                           instance.hvparams)["migration_port"]
        self._launch(instance, hvparams, beparams, block_devices, False,
                     incoming=(target_ip, hvparams["migration_port"]))

    def migrate_instance(self, cluster_name, instance, target_ip, live):
        name = instance.name
        self._running_runtime(name)
        hvparams = _fill(hv_base.defaults_for(constants.HT_KVM), instance.hvparams)
        with kvm_qmp.QmpClient(self.paths(name).qmp_socket, QMP_TIMEOUT) as qmp:
            if not live:
                qmp.execute("stop")
            qmp.execute("migrate-set-parameters", {
                "max-bandwidth": int(hvparams["migration_bandwidth"]) * MIB,
                "downtime-limit": int(hvparams["migration_downtime"])})
            caps = [c for c in (hvparams.get("migration_caps") or "").split(":") if c]
            if caps:
                qmp.execute("migrate-set-capabilities", {"capabilities": [
                    {"capability": cap, "state": True} for cap in caps]})
            qmp.execute("migrate", {"uri": kvm_cmdline.incoming_uri(
                target_ip, hvparams["migration_port"])})

    def get_migration_status(self, instance):
        if not self.get_pid(instance.name):
            raise errors.HypervisorError("Instance %s is not running" % instance.name)
        info = self._qmp(instance.name, "query-migrate") or {}
        ram = info.get("ram") or {}
        return {"status": info.get("status") or "failed",
                "transferred_ram": ram.get("transferred"), "total_ram": ram.get("total"),
                "error": info.get("error-desc")}

    def finalize_migration_src(self, instance, success, live):
        name = instance.name
        if success:
            try:
                done = self._qmp(name, "query-migrate") or {}
                logging.info("Migration of %s completed: total %s ms, downtime %s ms",
                             name, done.get("total-time"), done.get("downtime"))
            except errors.HypervisorError as err:
                logging.warning("Cannot read the migration figures of %s: %s", name, err)
            self._drop(name)
            return
        if not self.get_pid(name):
            return
        try:
            self._qmp(name, "migrate_cancel")
        except errors.HypervisorError as err:
            logging.warning("Cannot cancel the migration of %s: %s", name, err)
        if self.guest_status(name) != "running":
            self._qmp(name, "cont")

    def finalize_migration_dst(self, instance, info, success):
        name = instance.name
        if not success:
            runtime = self.load_runtime(name) or {}
            self._drop(name, runtime.get("nics") or [])
            return
        if not self.get_pid(name):
            raise errors.HypervisorError("Instance %s is not running after its"
                                         " migration" % name)
        status = self.guest_status(name)
        if status in ("paused", "postmigrate", "prelaunch"):
            # a non-live migration stopped the guest on the source; it goes on here
            self._qmp(name, "cont")
        elif status != "running":
            raise errors.HypervisorError("Instance %s is in state '%s' after its"
                                         " migration" % (name, status))
        runtime = self.load_runtime(name) or {}
        cpus = kvm_cmdline.parse_cpu_mask((runtime.get("hvparams") or {}).get("cpu_mask"))
        if cpus is not None:
            try:
                os.sched_setaffinity(self.get_pid(name), cpus)
            except OSError as err:
                logging.warning("Cannot pin instance %s to CPUs %s: %s", name,
                                sorted(cpus), err)

    def balloon_instance_memory(self, instance, mem):
        if not self.get_pid(instance.name):
            raise errors.HypervisorError("Instance %s is not running" % instance.name)
        self._qmp(instance.name, "balloon", {"value": int(mem) * MIB})
