"""Building the QEMU/KVM command line of an instance from its parameters.

Pure functions: no files are touched and nothing is run, so every hvparams
combination can be checked in unit tests by looking at the argv list.
"""

import shlex
import uuid as _uuid

from ganeti import errors

VNC_BASE_PORT = 5900

# boot_order -> QEMU -boot letter
BOOT_ORDER = {"disk": "c", "cdrom": "d", "floppy": "a", "network": "n"}

# nic_type -> QEMU device model
NIC_MODELS = {
    "paravirtual": "virtio-net-pci", "e1000": "e1000", "rtl8139": "rtl8139",
    "ne2k_pci": "ne2k_pci", "ne2k_isa": "ne2k_isa", "i82551": "i82551",
    "i82557b": "i82557b", "i82559er": "i82559er", "pcnet": "pcnet",
}
_ISA_NICS = frozenset(["ne2k_isa"])

# disk types attached through a SCSI controller, and the device used for each
SCSI_DISK_DEVICES = {"scsi": "scsi-hd", "scsi-hd": "scsi-hd",
                     "scsi-block": "scsi-block", "scsi-generic": "scsi-generic"}
# disk types that map directly to -drive if=<type>
DRIVE_INTERFACES = {"paravirtual": "virtio", "ide": "ide", "sd": "sd",
                    "mtd": "mtd", "pflash": "pflash"}
SCSI_CONTROLLERS = {"lsi": "lsi53c895a", "virtio-scsi-pci": "virtio-scsi-pci",
                    "megasas": "megasas", "megasas-gen2": "megasas-gen2",
                    "mptsas1068": "mptsas1068"}

SOUND_MODELS = {"ac97": "AC97", "es1370": "ES1370", "sb16": "sb16", "hda": "intel-hda",
                "adlib": "adlib", "gus": "gus", "cs4231a": "cs4231a"}


class Paths:
    """The runtime files of one instance that appear on its command line."""

    def __init__(self, pid_file, qmp_socket, monitor_socket, serial_socket,
                 chroot_dir=None):
        self.pid_file = pid_file
        self.qmp_socket = qmp_socket
        self.monitor_socket = monitor_socket
        self.serial_socket = serial_socket
        self.chroot_dir = chroot_dir


def escape(value):
    """A value inside a QEMU option list: commas are doubled."""
    return str(value).replace(",", ",,")


def _socket_chardev(chardev_id, path):
    return "socket,id=%s,path=%s,server=on,wait=off" % (chardev_id, escape(path))


def kernel_append(hvparams):
    """The kernel command line (-append) for a direct kernel boot."""
    parts = []
    if hvparams.get("root_path"):
        parts.append("root=%s" % hvparams["root_path"])
    if hvparams.get("kernel_args"):
        parts.append(hvparams["kernel_args"])
    if hvparams.get("serial_console"):
        parts.append("console=ttyS0,%s" % hvparams.get("serial_speed", 38400))
    return " ".join(parts)


def _smp(vcpus, hvparams):
    value = str(vcpus)
    for key in ("cores", "threads", "sockets"):
        count = hvparams.get("cpu_" + key) or 0
        if count:
            value += ",%s=%d" % (key, count)
    return value


def _display(name, hvparams, network_port):
    bind = hvparams.get("vnc_bind_address") or ""
    if not bind:
        return ["-display", "none"]
    if network_port is None or network_port < VNC_BASE_PORT:
        raise errors.HypervisorError(
            "Instance %s has no usable network port (%s) for VNC" % (name, network_port))
    display = network_port - VNC_BASE_PORT
    if ":" in bind and not bind.startswith("["):
        bind = "[%s]" % bind         # IPv6 address
    value = "%s:%d" % (bind, display)
    args = []
    if hvparams.get("vnc_tls"):
        creds = "tls-creds-x509,id=vnctls0,endpoint=server"
        if hvparams.get("vnc_x509_path"):
            creds += ",dir=%s" % escape(hvparams["vnc_x509_path"])
        creds += ",verify-peer=%s" % ("on" if hvparams.get("vnc_x509_verify") else "off")
        args += ["-object", creds]
        value += ",tls-creds=vnctls0"
    if hvparams.get("vnc_password_file"):
        value += ",password=on"
    args += ["-vnc", value]
    if hvparams.get("keymap"):
        args += ["-k", hvparams["keymap"]]
    return args


def _drive_options(dev_path, hvparams, read_only):
    opts = ["file=%s" % escape(dev_path), "format=raw"]
    cache = hvparams.get("disk_cache") or "default"
    aio = hvparams.get("disk_aio") or "threads"
    if aio == "native" and cache == "default":
        cache = "none"          # native AIO needs O_DIRECT
    if cache != "default":
        opts.append("cache=%s" % cache)
    if aio != "threads":
        opts.append("aio=%s" % aio)
    discard = hvparams.get("disk_discard") or "default"
    if discard != "default":
        opts.append("discard=%s" % discard)
    if read_only:
        opts.append("readonly=on")
    return opts


def _disk_args(disks, hvparams):
    """-drive/-device arguments for [(disk dict, dev_path), ...]."""
    args = []
    disk_type = hvparams.get("disk_type") or "paravirtual"
    scsi_device = SCSI_DISK_DEVICES.get(disk_type)
    if scsi_device and disks:
        controller = SCSI_CONTROLLERS.get(hvparams.get("scsi_controller_type") or "lsi",
                                          "lsi53c895a")
        args += ["-device", "%s,id=scsi" % controller]
    for idx, (disk, dev_path) in enumerate(disks):
        read_only = (disk or {}).get("mode") == "ro"
        opts = _drive_options(dev_path, hvparams, read_only)
        if scsi_device:
            opts += ["if=none", "id=disk%d" % idx]
            args += ["-drive", ",".join(opts),
                     "-device", "%s,drive=disk%d,bus=scsi.0,id=scsidisk%d"
                     % (scsi_device, idx, idx)]
        else:
            try:
                interface = DRIVE_INTERFACES[disk_type]
            except KeyError:
                raise errors.HypervisorError("Unsupported disk_type '%s'" % disk_type)
            opts += ["if=%s" % interface, "id=disk%d" % idx]
            args += ["-drive", ",".join(opts)]
    return args


def _removable_media_args(hvparams):
    args = []
    cdrom_if = hvparams.get("cdrom_disk_type") or "ide"
    if cdrom_if == "paravirtual":
        cdrom_if = "virtio"
    for idx, key in enumerate(("cdrom_image_path", "cdrom2_image_path")):
        path = hvparams.get(key)
        if path:
            args += ["-drive", "file=%s,format=raw,media=cdrom,readonly=on,if=%s,id=cdrom%d"
                     % (escape(path), cdrom_if, idx)]
    if hvparams.get("floppy_image_path"):
        args += ["-drive", "file=%s,format=raw,if=floppy,id=floppy0"
                 % escape(hvparams["floppy_image_path"])]
    return args


def _nic_args(nics, hvparams):
    """-netdev/-device arguments for [{"mac", "tap"}, ...] (or -net none)."""
    if not nics:
        return ["-net", "none"]
    nic_type = hvparams.get("nic_type") or "paravirtual"
    try:
        model = NIC_MODELS[nic_type]
    except KeyError:
        raise errors.HypervisorError("Unsupported nic_type '%s'" % nic_type)
    # without network boot the PXE option ROM only costs boot time
    no_rom = hvparams.get("boot_order") != "network" and nic_type not in _ISA_NICS
    args = []
    for idx, nic in enumerate(nics):
        netdev = "tap,id=net%d,ifname=%s,script=no,downscript=no" % (idx, nic["tap"])
        if hvparams.get("vhost_net"):
            netdev += ",vhost=on"
        if not hvparams.get("vnet_hdr", True):
            netdev += ",vnet_hdr=off"
        queues = hvparams.get("virtio_net_queues") or 1
        if queues > 1 and nic_type == "paravirtual":
            netdev += ",queues=%d" % queues
        device = "%s,netdev=net%d,mac=%s,id=nic%d" % (model, idx, nic["mac"], idx)
        if queues > 1 and nic_type == "paravirtual":
            device += ",mq=on,vectors=%d" % (2 * queues + 2)
        if no_rom:
            device += ",romfile="
        args += ["-netdev", netdev, "-device", device]
    return args


def _misc_device_args(hvparams):
    args = []
    if hvparams.get("vga"):
        args += ["-vga", hvparams["vga"]]
    mouse = hvparams.get("usb_mouse")
    usb_devices = [dev for dev in (hvparams.get("usb_devices") or "").split(",") if dev]
    if mouse or usb_devices:
        args.append("-usb")
    if mouse:
        args += ["-device", "usb-%s" % mouse]
    for dev in usb_devices:
        # "vendor:product" of a host USB device
        vendor, _, product = dev.partition(":")
        args += ["-device", "usb-host,vendorid=0x%s,productid=0x%s" % (vendor, product)]
    if hvparams.get("soundhw"):
        args += ["-audiodev", "none,id=snd0"]
        for model in hvparams["soundhw"].split(","):
            device = SOUND_MODELS.get(model, model)
            if device == "intel-hda":
                args += ["-device", "intel-hda", "-device", "hda-duplex,audiodev=snd0"]
            else:
                args += ["-device", "%s,audiodev=snd0" % device]
    return args


def incoming_uri(ip, port):
    """QEMU's migration URI for TCP to ``ip``:``port`` (IPv6 in brackets)."""
    return "tcp:%s:%d" % ("[%s]" % ip if ":" in ip else ip, int(port))


def build_command(name, hvparams, beparams, disks, nics, paths, network_port=None,
                  instance_uuid=None, startup_paused=False, incoming=None):
    """The argv list starting QEMU for one instance.

    disks: [(disk dict, dev_path), ...]; nics: [{"mac": ..., "tap": ...}, ...];
    hvparams and beparams must be complete (filled with the defaults).
    incoming: (ip, port) to wait there for the instance's migration instead of
    booting it.
    """
    cmd = [hvparams["kvm_path"], "-name", name,
           "-m", str(beparams["maxmem"]),
           "-smp", _smp(beparams["vcpus"], hvparams),
           "-pidfile", paths.pid_file, "-daemonize"]
    if instance_uuid:
        try:
            cmd += ["-uuid", str(_uuid.UUID(instance_uuid))]
        except ValueError:
            pass
    kvm_flag = hvparams.get("kvm_flag") or ""
    if kvm_flag == "enabled":
        cmd.append("-enable-kvm")
    elif kvm_flag == "disabled":
        cmd += ["-accel", "tcg"]
    if hvparams.get("machine_version"):
        cmd += ["-M", hvparams["machine_version"]]
    if hvparams.get("cpu_type"):
        cmd += ["-cpu", hvparams["cpu_type"]]
    if not hvparams.get("acpi", True):
        cmd.append("-no-acpi")
    if hvparams.get("reboot_behavior") == "exit":
        cmd.append("-no-reboot")
    if hvparams.get("user_shutdown"):
        cmd.append("-no-shutdown")
    if hvparams.get("use_localtime"):
        cmd += ["-rtc", "base=localtime"]
    if hvparams.get("mem_path"):
        cmd += ["-mem-path", hvparams["mem_path"]]
    if hvparams.get("security_model") == "user" and hvparams.get("security_domain"):
        cmd += ["-runas", hvparams["security_domain"]]
    if hvparams.get("use_chroot") and paths.chroot_dir:
        cmd += ["-chroot", paths.chroot_dir]
    # control: QMP (ours) and a human monitor (for admins)
    cmd += ["-chardev", _socket_chardev("qmp0", paths.qmp_socket),
            "-mon", "chardev=qmp0,mode=control",
            "-monitor", "unix:%s,server=on,wait=off" % escape(paths.monitor_socket)]
    if hvparams.get("serial_console"):
        cmd += ["-chardev", _socket_chardev("serial0", paths.serial_socket),
                "-serial", "chardev:serial0"]
    else:
        cmd += ["-serial", "none"]
    cmd += _display(name, hvparams, network_port)
    cmd += _misc_device_args(hvparams)
    cmd += ["-device", "virtio-balloon-pci,id=balloon0"]
    cmd += _disk_args(disks, hvparams)
    cmd += _removable_media_args(hvparams)
    if hvparams.get("kernel_path"):
        cmd += ["-kernel", hvparams["kernel_path"]]
        if hvparams.get("initrd_path"):
            cmd += ["-initrd", hvparams["initrd_path"]]
        cmd += ["-append", kernel_append(hvparams)]
    boot = BOOT_ORDER.get(hvparams.get("boot_order") or "disk", "c")
    cmd += ["-boot", boot]
    cmd += _nic_args(nics, hvparams)
    if startup_paused:
        cmd.append("-S")
    if incoming:
        cmd += ["-incoming", incoming_uri(*incoming)]
    if hvparams.get("kvm_extra"):
        cmd += shlex.split(hvparams["kvm_extra"])
    return cmd


def parse_cpu_mask(mask):
    """The set of CPUs in a Ganeti cpu_mask ("all" -> None; "0-2,4" or "1:2" lists).

    A colon-separated list gives one mask per vCPU; the process is pinned to
    their union.
    """
    mask = (mask or "all").strip()
    if mask == "all":
        return None
    cpus = set()
    for part in mask.split(":"):
        part = part.strip()
        if part == "all":
            return None
        for item in part.split(","):
            item = item.strip()
            if not item:
                raise ValueError("empty item in cpu mask %r" % mask)
            low, sep, high = item.partition("-")
            first = int(low)
            last = int(high) if sep else first
            if first < 0 or last < first:
                raise ValueError("invalid range %r in cpu mask %r" % (item, mask))
            cpus.update(range(first, last + 1))
    return cpus
