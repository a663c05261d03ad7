"""A tiny bootable guest for KVM hypervisor tests: Debian kernel + busybox initramfs.

prepare_kernel() fetches the Debian kernel package once (``apt-get download``)
and keeps, under CACHE_DIR/kvm-guest/<version>/, only what the tests boot:

- ``vmlinuz`` (the bzImage) and ``vmlinux`` (the uncompressed ELF, booted
  through the PVH entry point: no in-guest xz decompression under TCG);
- ``modules/*.ko`` + ``modules/deps.json``: for the test guest virtio (pci,
  blk, net, balloon), the ACPI button and evdev; for the VM nodes of test/qa
  (NODE_MODULES) what LVM, DRBD and their root filesystem need; with their
  dependencies (``module_order`` lists a set in load order).

build_initramfs() writes an uncompressed newc cpio with static busybox, those
modules and an /init that prints MARKER (and the disks and NIC it sees) on the
serial console, powers off cleanly when the ACPI power button is pressed
(``system_powerdown``) and otherwise idles.

Boot it with KVMHypervisor and hvparams from guest_hvparams().
"""

import glob
import json
import lzma
import os
import re
import shutil
import socket
import subprocess
import tarfile
import time

import testlock

CACHE_DIR = os.environ.get("GANETI_TEST_CACHE", "/var/cache/ganeti-test")
QEMU = "/usr/bin/qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
QBOOT = "/usr/share/qemu/qboot.rom"
MARKER = "GANETI-TEST-BOOTED"
POWEROFF_MARKER = "GANETI-TEST-POWEROFF"
LOCK_TIMEOUT = 600          # seconds: a kernel download takes well under a minute
# the test guest's modules, loaded in this order's dependency order
GUEST_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_balloon",
                 "button", "evdev"]
# what the VM nodes of test/qa load: their devices, the 9p/overlay root, LVM's
# device-mapper targets, DRBD (whose libcrc32c needs a crc32c implementation
# loaded first: a soft dependency), and tun/bridge for instances on a bridge
NODE_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "9p",
                "9pnet_virtio", "overlay", "ext4", "dm_mod", "dm_snapshot", "dm_mirror",
                "crc32c_generic", "drbd", "tun", "bridge", "loop"]
READY = "ready-3"           # the cache's marker; a new module set needs a new one

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in $(cat /mods/load.list); do insmod /mods/$m.ko 2>/dev/null; done
# the ACPI power button (system_powerdown) powers the guest off cleanly
for d in /sys/class/input/input*; do
  grep -q "Power Button" $d/name 2>/dev/null || continue
  for e in $d/event*; do
    [ -e "$e" ] || continue
    (dd if=/dev/input/${e##*/} of=/dev/null bs=24 count=1 2>/dev/null
     echo "GANETI-TEST-POWEROFF"; sync; poweroff -f) &
  done
done
for a in $(cat /proc/cmdline); do
  case $a in
    gtest.ip=*) GTEST_IP=${a#gtest.ip=};;
    gtest.tick=1) GTEST_TICK=1;;
  esac
done
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  [ -n "$GTEST_IP" ] && ip addr add $GTEST_IP dev eth0
  echo "GANETI-TEST-NIC eth0 $(cat /sys/class/net/eth0/address) ${GTEST_IP:-noip}"
fi
echo "GANETI-TEST-DISKS $(ls /sys/block | tr '\n' ' ')"
echo "GANETI-TEST-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
# gtest.tick=1: a counter every second, to see that a migrated guest goes on
n=0
while [ -n "$GTEST_TICK" ]; do n=$((n+1)); echo "GANETI-TEST-TICK $n"; sleep 1; done
while true; do sleep 3600; done
"""


INSTALL_HINT = "sudo tools/install-deps --test"


class GuestUnavailable(Exception):
    """What the guest needs is missing here (the reason is the message)."""


def _run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kwargs)


def check_tools():
    """Raise GuestUnavailable unless qemu and a static busybox are installed."""
    if not os.access(QEMU, os.X_OK):
        raise GuestUnavailable("%s not installed (package qemu-system-x86; %s)"
                               % (QEMU, INSTALL_HINT))
    if not os.access(BUSYBOX, os.X_OK):
        raise GuestUnavailable("%s missing (package busybox-static; %s)"
                               % (BUSYBOX, INSTALL_HINT))
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise GuestUnavailable("apt-get/dpkg-deb needed to fetch the guest kernel")


def _kernel_package():
    try:
        out = _run(["apt-cache", "depends", "linux-image-amd64"]).stdout.decode()
    except subprocess.CalledProcessError as err:
        raise GuestUnavailable("apt-cache depends linux-image-amd64 failed (no package "
                               "lists? run apt-get update): %s" % err.stderr.decode()[-300:])
    match = re.search(r"Depends: (linux-image-\d\S*-amd64)", out)
    if not match:
        raise GuestUnavailable("cannot find the Debian kernel package linux-image-amd64 "
                               "(no package lists? run apt-get update)")
    return match.group(1)


def _module_deps(data):
    """Module names a .ko depends on (from its .modinfo strings)."""
    deps = []
    for match in re.finditer(rb"\x00depends=([^\x00]*)", data):
        deps += [d for d in match.group(1).decode().split(",") if d]
    return deps


def _norm(name):
    return name.replace("-", "_")


def _extract(deb, dest):
    """Unpack from the kernel .deb the kernel image and the wanted modules."""
    tmp_tar = dest + ".tar"
    with open(tmp_tar, "wb") as out:
        subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], stdout=out, check=True)
    try:
        with tarfile.open(tmp_tar) as tar:
            members = {}
            kernel = None
            for member in tar.getmembers():
                base = os.path.basename(member.name)
                if member.isfile() and base.endswith(".ko"):
                    members[_norm(base[:-3])] = member
                elif member.isfile() and re.match(r"vmlinuz-", base):
                    kernel = member
            if kernel is None:
                raise GuestUnavailable("no vmlinuz in %s" % deb)
            os.makedirs(dest + "/modules")
            deps = {}

            def add(name):
                name = _norm(name)
                if name in deps:
                    return
                if name not in members:
                    raise GuestUnavailable("module %s missing in %s" % (name, deb))
                data = tar.extractfile(members[name]).read()
                deps[name] = [_norm(d) for d in _module_deps(data)]
                for dep in deps[name]:
                    add(dep)
                with open("%s/modules/%s.ko" % (dest, name), "wb") as fd:
                    fd.write(data)

            for name in GUEST_MODULES + NODE_MODULES:
                add(name)
            with open(dest + "/modules/deps.json", "w") as fd:
                json.dump(deps, fd, sort_keys=True)
            vmlinuz = tar.extractfile(kernel).read()
    finally:
        os.unlink(tmp_tar)
    with open(dest + "/vmlinuz", "wb") as fd:
        fd.write(vmlinuz)
    # the bzImage holds an xz-compressed ELF vmlinux: keep it for PVH boots
    offset = vmlinuz.find(b"\xfd7zXZ\x00")
    if offset >= 0:
        try:
            elf = lzma.LZMADecompressor().decompress(vmlinuz[offset:])
        except lzma.LZMAError:
            elf = b""
        if elf.startswith(b"\x7fELF"):
            with open(dest + "/vmlinux", "wb") as fd:
                fd.write(elf)


def prepare_kernel(cache_dir=CACHE_DIR):
    """{"version", "dir", "vmlinuz", "vmlinux" (or None), "modules"}; cached."""
    check_tools()
    os.makedirs(cache_dir, exist_ok=True)
    # another test run may be fetching it: wait for it, but not forever
    lock = testlock.take("kvm-guest", LOCK_TIMEOUT)
    try:
        ready = sorted(glob.glob(os.path.join(cache_dir, "kvm-guest", "*", READY)))
        if not ready:
            package = _kernel_package()
            version = package[len("linux-image-"):]
            dl_dir = os.path.join(cache_dir, "dl")
            os.makedirs(dl_dir, exist_ok=True)
            debs = glob.glob(os.path.join(dl_dir, package + "_*.deb"))
            if not debs:
                try:
                    _run(["apt-get", "download", "-q", package], cwd=dl_dir)
                except subprocess.CalledProcessError as err:
                    raise GuestUnavailable("apt-get download %s failed: %s"
                                           % (package, err.stderr.decode()[-300:]))
                debs = glob.glob(os.path.join(dl_dir, package + "_*.deb"))
            dest = os.path.join(cache_dir, "kvm-guest", version)
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            _extract(debs[0], dest)
            open(os.path.join(dest, READY), "w").close()
            for deb in debs:         # 70 MB; what we need is kept unpacked
                os.unlink(deb)
            ready = [os.path.join(dest, READY)]
    finally:
        testlock.release(lock)
    dest = os.path.dirname(ready[-1])
    vmlinux = os.path.join(dest, "vmlinux")
    return {"version": os.path.basename(dest), "dir": dest,
            "vmlinuz": os.path.join(dest, "vmlinuz"),
            "vmlinux": vmlinux if os.path.exists(vmlinux) else None,
            "modules": os.path.join(dest, "modules")}


def kernel_or_fail():
    """prepare_kernel() for a test fixture: what is missing here is a package or
    the kernel download, which the suite needs, so it fails the test (no skip)."""
    import pytest
    try:
        return prepare_kernel()
    except GuestUnavailable as err:
        pytest.fail("no KVM test guest: %s" % err, pytrace=False)


def module_order(kernel, names):
    """The modules ``names`` with their dependencies, each after what it needs."""
    with open(os.path.join(kernel["modules"], "deps.json")) as fd:
        deps = json.load(fd)
    order = []

    def add(name):
        name = _norm(name)
        if name in order:
            return
        for dep in deps[name]:
            add(dep)
        order.append(name)

    for name in names:
        add(name)
    return order


def _cpio_entry(name, mode, data=b"", rdev=(0, 0), ino=[0]):
    ino[0] += 1
    name_b = name.encode() + b"\0"
    fields = [ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
              len(name_b), 0]
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + name_b
    head += b"\0" * (-len(head) % 4)
    return head + data + b"\0" * (-len(data) % 4)


def build_initramfs(path, kernel, modules=None, init_script=None, files=None):
    """Write an initramfs (uncompressed newc cpio) to ``path``: busybox, the
    ``modules`` (default: the test guest's) with /mods/load.list in load order,
    ``init_script`` (default: INIT_SCRIPT, as it is at the call) as /init and
    ``files`` {name: (mode, bytes)}."""
    init_script = INIT_SCRIPT if init_script is None else init_script
    order = module_order(kernel, GUEST_MODULES if modules is None else modules)
    parts = []
    for d in ("bin", "dev", "proc", "sys", "mods", "tmp"):
        parts.append(_cpio_entry(d, 0o040755))
    parts.append(_cpio_entry("dev/console", 0o020600, rdev=(5, 1)))
    with open(BUSYBOX, "rb") as fd:
        parts.append(_cpio_entry("bin/busybox", 0o100755, fd.read()))
    parts.append(_cpio_entry("bin/sh", 0o120777, b"busybox"))
    for name in order:
        with open(os.path.join(kernel["modules"], name + ".ko"), "rb") as fd:
            parts.append(_cpio_entry("mods/%s.ko" % name, 0o100644, fd.read()))
    parts.append(_cpio_entry("mods/load.list", 0o100644,
                             ("\n".join(order) + "\n").encode()))
    for name, (mode, data) in sorted((files or {}).items()):
        parts.append(_cpio_entry(name, mode, data))
    parts.append(_cpio_entry("init", 0o100755, init_script.encode()))
    parts.append(_cpio_entry("TRAILER!!!", 0))
    with open(path, "wb") as fd:
        fd.write(b"".join(parts))
    return path


def guest_hvparams(kernel, initrd, extra_args=""):
    """KVM hvparams booting the test guest under TCG (fastest route found here)."""
    params = {
        "kvm_path": QEMU, "kvm_flag": "disabled",
        "kernel_path": kernel["vmlinux"] or kernel["vmlinuz"],
        "initrd_path": initrd, "root_path": "",
        "kernel_args": ("quiet panic=-1 " + extra_args).strip(),
        "serial_console": True, "serial_speed": 115200, "acpi": True,
        "boot_order": "disk", "disk_type": "paravirtual", "nic_type": "paravirtual",
        "vnc_bind_address": "",
    }
    if os.path.exists(QBOOT):
        params["kvm_extra"] = "-bios %s" % QBOOT
    return params


class SerialReader:
    """Collects what a guest writes on its serial console socket."""

    def __init__(self, path, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.text = ""

    def wait_for(self, needle, timeout=60.0, count=1):
        """Wait until ``needle`` was seen ``count`` times; returns the time taken."""
        start = time.monotonic()
        while self.text.count(needle) < count:
            remaining = start + timeout - time.monotonic()
            if remaining <= 0:
                raise AssertionError("%r not seen on the console within %ss; got:\n%s"
                                     % (needle, timeout, self.text[-3000:]))
            self.sock.settimeout(min(remaining, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError("console closed before %r; got:\n%s"
                                     % (needle, self.text[-3000:]))
            self.text += chunk.decode("utf-8", "replace")
        return time.monotonic() - start

    def close(self):
        self.sock.close()
