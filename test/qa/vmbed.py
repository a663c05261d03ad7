#!/usr/bin/python3
"""The QA tier's test bed: cluster nodes as QEMU (TCG) virtual machines.

The host kernel has neither device-mapper nor DRBD; Debian's kernel in a VM has
both, so the storage code runs for real there. Each VM node boots Debian's
kernel (the uncompressed vmlinux, through PVH) with an initramfs of static
busybox and the modules in kvm_guest.NODE_MODULES. Its root is a tmpfs over a
copy of the host's /etc, with the host's /usr shared read-only over 9p: the
guests run exactly the host's python3, lvm2, drbd-utils, etcd, sshd and qemu,
so those must be installed on the host. The source tree is shared read-only
at /src (commands run with PYTHONPATH=/src/lib, as the cluster tier does).

Network: everything lives in the network namespace NETNS, which this module
creates and deletes: bridge br0 (10.78.0.0/24, the nodes' primary network,
10.78.0.1 is the test runner) and br1 (10.78.1.0/24, the secondary network for
DRBD); node K is 10.78.0.(10+K) and 10.78.1.(10+K), named nodeK.example.com.
Nothing is connected to the host's interfaces. Each node has a sparse 32 GiB
data disk, /dev/vda, for its LVM volume group, and a 1 GiB disk, /dev/vdb, that
holds the changes to its root filesystem: a node keeps its state (Ganeti's
files, its volume group) across ``reboot_vm``, as a real node keeps its disks.

    vmbed.py up [N]          boot N nodes (default 3), wait until ssh works
    vmbed.py reboot K        power-cycle node K (its disks stay), wait for ssh
    vmbed.py ssh K COMMAND   run COMMAND on node K (root)
    vmbed.py console K       the node's serial console (^O quits)
    vmbed.py down            stop our QEMUs (by pid file) and delete the netns

GANETI_QA_DIR (default /var/tmp/ganeti-qa) holds the work files;
GANETI_QA_MEM the MiB of each node (default 768).
"""

import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))

import kvm_guest  # noqa: E402

SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.environ.get("GANETI_QA_DIR", "/var/tmp/ganeti-qa")
MEM = int(os.environ.get("GANETI_QA_MEM", "768"))
NETNS = "ganeti-qa"
PRIMARY_NET = "10.78.0"
SECONDARY_NET = "10.78.1"
DOMAIN = "example.com"
CLUSTER_IP = PRIMARY_NET + ".254"
DATA_DISK_SIZE = 32 << 30      # sparse; Ganeti wants a VG of 20 GiB or more
ROOT_DISK_SIZE = 1 << 30       # sparse ext4: the root filesystem's changes
READY_MARKER = "GQA_READY"
BOOT_TIMEOUT = 120
QEMU = "/usr/bin/qemu-system-x86_64"
QBOOT = "/usr/share/qemu/qboot.rom"
# the host packages the guests use through the shared /usr
HOST_TOOLS = ["/usr/sbin/lvcreate", "/usr/sbin/drbdsetup", "/usr/sbin/sshd", "/usr/sbin/sfdisk",
              "/usr/bin/etcd", QEMU, kvm_guest.BUSYBOX]
GUEST_ENV = ("export PYTHONPATH=/src/lib GANETI_DAEMONS_DIR=/src/daemons"
             " PATH=/src/scripts:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
             "/sbin:/bin DM_DISABLE_UDEV=1; ")

# Stage 1, /init of the initramfs (busybox): modules, then the root, then stage 2.
STAGE1 = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/load.list); do
  arg=
  # DRBD calls this helper on events; the resources are made by drbdsetup
  # alone, so there is nothing for drbdadm to do (ganeti sets it too)
  [ $m = drbd ] && arg=usermode_helper=/bin/true
  insmod /mods/$m.ko $arg 2>/dev/null || echo "gqa: insmod $m failed"
done
o=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /lower /upper /newroot
mount -t 9p -o $o,ro,cache=loose tpl /lower
# the root's changes live on the node's own small disk: they survive a reboot
mount -t ext4 /dev/vdb /upper 2>/dev/null || mount -t tmpfs -o mode=755 tmpfs /upper
mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot || exec sh
mount -t 9p -o $o,ro,cache=loose usr /newroot/usr || exec sh
mount -t 9p -o $o,ro cfg /newroot/cfg
mount -t 9p -o $o,ro src /newroot/src
mount -t tmpfs -o mode=755 tmpfs /newroot/run
cp /stage2 /newroot/run/gqa-stage2
mount --move /dev /newroot/dev; mount --move /proc /newroot/proc; mount --move /sys /newroot/sys
exec switch_root /newroot /bin/sh /run/gqa-stage2
"""

# Stage 2, PID 1 in the real root (dash): name, network, sshd; then reap.
STAGE2 = r"""#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
for a in $(cat /proc/cmdline); do
  case $a in gqa.*=*) k=${a%%=*}; k=${k#gqa.}; eval "GQA_$k=\${a#*=}";; esac
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
hostname "$GQA_name"; echo "$GQA_name" >/etc/hostname
cp /cfg/hosts /etc/hosts
ip link set lo up
ip addr add "$GQA_ip/24" dev eth0; ip link set eth0 up
ip addr add "$GQA_sip/24" dev eth1; ip link set eth1 up
mkdir -p /run/sshd /run/lock /run/lvm /var/lib/drbd /root/.ssh /etc/ssh/sshd_config.d
cp /cfg/ssh_host_ed25519_key /cfg/ssh_host_ed25519_key.pub /etc/ssh/
chmod 600 /etc/ssh/ssh_host_ed25519_key
cp /cfg/authorized_keys /root/.ssh/authorized_keys
cp /cfg/id_ed25519 /cfg/id_ed25519.pub /root/.ssh/
chmod 600 /root/.ssh/authorized_keys /root/.ssh/id_ed25519
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nUseDNS no\nPermitRootLogin prohibit-password\n' \
  >/etc/ssh/sshd_config.d/gqa.conf
# no udev here: LVM and libdevmapper make the /dev nodes themselves
cat >/etc/lvm/lvmlocal.conf <<'EOF'
activation { udev_sync = 0 udev_rules = 0 }
devices { obtain_device_list_from_udev = 0 }
EOF
# as a distribution's boot does: activate the volume groups found on the disks
vgchange -ay >/dev/null 2>&1
/usr/sbin/sshd || echo "gqa: sshd failed" >/dev/ttyS0
echo "GQA_READY $GQA_name $(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS0
(while :; do setsid sh -c 'exec sh -i </dev/ttyS0 >/dev/ttyS0 2>&1'; sleep 1; done) &
trap '' TERM INT
while :; do wait; sleep 5; done
"""


def node_name(k):
    return "node%d.%s" % (k, DOMAIN)


def node_ip(k):
    return "%s.%d" % (PRIMARY_NET, 10 + k)


def node_sip(k):
    return "%s.%d" % (SECONDARY_NET, 10 + k)


def _run(argv, check=True, **kwargs):
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), proc.returncode,
                                                   (proc.stderr or proc.stdout)[-2000:]))
    return proc


def _vm_dir(k):
    return os.path.join(WORK, "vm%d" % k)


def _hosts_text(count):
    lines = ["127.0.0.1 localhost", "%s cluster.%s cluster" % (CLUSTER_IP, DOMAIN)]
    for k in range(1, max(count, 3) + 1):
        lines.append("%s %s node%d" % (node_ip(k), node_name(k), k))
    for k in range(1, 10):
        lines.append("%s.%d inst%d.%s inst%d" % (PRIMARY_NET, 100 + k, k, DOMAIN, k))
    return "\n".join(lines) + "\n"


def check_host():
    """Raise RuntimeError naming what the host lacks for the VM nodes."""
    missing = [path for path in HOST_TOOLS if not os.access(path, os.X_OK)]
    if missing:
        raise RuntimeError("the VM nodes use the host's /usr; missing: %s"
                           " (sudo tools/install-deps --test)" % ", ".join(missing))
    if os.geteuid() != 0:
        raise RuntimeError("the VM test bed needs root (network namespaces, taps)")


def prepare():
    """Initramfs, root template and ssh keys in WORK (made anew each time: cheap);
    the source tree's bytecode (the guests see it read-only: without it every
    Python process there would compile what it imports, seconds under TCG)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(SRC, "lib")],
                   capture_output=True)
    kernel = kvm_guest.prepare_kernel()
    os.makedirs(WORK, exist_ok=True)
    kvm_guest.build_initramfs(
        os.path.join(WORK, "initrd.cpio"), kernel, modules=kvm_guest.NODE_MODULES,
        init_script=STAGE1, files={"stage2": (0o100755, STAGE2.encode())})
    tpl = os.path.join(WORK, "tpl")
    if os.path.isdir(tpl):
        shutil.rmtree(tpl)
    os.makedirs(tpl)
    # the host's /etc without its secrets; the rest are empty mount points
    subprocess.run(["cp", "-a", "/etc", os.path.join(tpl, "etc")], check=True)
    for name in os.listdir(os.path.join(tpl, "etc", "ssh")):
        if name.startswith("ssh_host_"):
            os.unlink(os.path.join(tpl, "etc", "ssh", name))
    for name in ("machine-id", "ganeti/file-storage-paths", "default/ganeti"):
        path = os.path.join(tpl, "etc", name)
        if os.path.lexists(path):
            os.unlink(path)
    open(os.path.join(tpl, "etc", "fstab"), "w").close()
    for d in ("proc", "sys", "dev", "run", "tmp", "root", "mnt", "src", "usr", "cfg",
              "var/lib", "var/log", "var/tmp", "var/cache", "srv"):
        os.makedirs(os.path.join(tpl, d), exist_ok=True)
    for link, target in (("var/run", "/run"), ("var/lock", "/run/lock"),
                         ("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"),
                         ("lib64", "usr/lib64")):
        os.symlink(target, os.path.join(tpl, link))
    os.chmod(os.path.join(tpl, "tmp"), 0o1777)
    os.chmod(os.path.join(tpl, "var", "tmp"), 0o1777)
    os.chmod(os.path.join(tpl, "root"), 0o700)
    key = os.path.join(WORK, "id_ed25519")
    if not os.path.exists(key):
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ganeti-qa", "-f", key])
    with open(os.path.join(WORK, "ssh_config"), "w") as fd:
        fd.write("Host *\n  User root\n  IdentityFile %s\n  StrictHostKeyChecking no\n"
                 "  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 5\n"
                 "  ControlMaster auto\n  ControlPath %s/ssh-%%h.sock\n"
                 "  ControlPersist 900\n  ServerAliveInterval 10\n" % (key, WORK))
    return kernel


def _net_up(count):
    _run(["ip", "netns", "add", NETNS])
    ns = ["ip", "-n", NETNS]
    _run(ns + ["link", "set", "lo", "up"])
    for bridge, net in (("br0", PRIMARY_NET), ("br1", SECONDARY_NET)):
        _run(ns + ["link", "add", bridge, "type", "bridge", "stp_state", "0",
                   "forward_delay", "0"])
        _run(ns + ["addr", "add", net + ".1/24", "dev", bridge])
        _run(ns + ["link", "set", bridge, "up"])
    for k in range(1, count + 1):
        for tap, bridge in (("tap%d" % k, "br0"), ("tsec%d" % k, "br1")):
            _run(ns + ["tuntap", "add", tap, "mode", "tap"])
            _run(ns + ["link", "set", tap, "master", bridge, "up"])


def _new_vm_dir(k, count):
    """Node K's files: its configuration for the boot, and empty disks."""
    vdir = _vm_dir(k)
    shutil.rmtree(vdir, ignore_errors=True)
    cfg = os.path.join(vdir, "cfg")
    os.makedirs(cfg)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", node_name(k), "-f",
          os.path.join(cfg, "ssh_host_ed25519_key")])
    for name in ("id_ed25519", "id_ed25519.pub"):
        shutil.copy(os.path.join(WORK, name), os.path.join(cfg, name))
    shutil.copy(os.path.join(WORK, "id_ed25519.pub"), os.path.join(cfg, "authorized_keys"))
    with open(os.path.join(cfg, "hosts"), "w") as fd:
        fd.write(_hosts_text(count))
    for name, size in (("data.img", DATA_DISK_SIZE), ("root.img", ROOT_DISK_SIZE)):
        with open(os.path.join(vdir, name), "wb") as fd:
            fd.truncate(size)
    _run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1",
          os.path.join(vdir, "root.img")])


def _start_vm(k, kernel):
    vdir = _vm_dir(k)
    cfg = os.path.join(vdir, "cfg")
    data = os.path.join(vdir, "data.img")
    log = os.path.join(vdir, "console.log")
    if os.path.exists(log):
        os.unlink(log)
    append = ("console=ttyS0 quiet panic=-1 gqa.name=%s gqa.ip=%s gqa.sip=%s"
              % (node_name(k), node_ip(k), node_sip(k)))
    argv = ["ip", "netns", "exec", NETNS, QEMU, "-accel", "tcg", "-m", str(MEM),
            "-smp", "1", "-name", "node%d" % k, "-nodefaults", "-nographic", "-no-reboot",
            "-kernel", kernel["vmlinux"] or kernel["vmlinuz"],
            "-initrd", os.path.join(WORK, "initrd.cpio"), "-append", append,
            "-chardev", "socket,id=con,path=%s/console.sock,server=on,wait=off,"
            "logfile=%s/console.log" % (vdir, vdir),
            "-serial", "chardev:con",
            "-monitor", "unix:%s/monitor.sock,server=on,wait=off" % vdir,
            "-drive", "if=none,id=d0,file=%s,format=raw,cache=unsafe" % data,
            "-device", "virtio-blk-pci,drive=d0,addr=0x8",
            "-drive", "if=none,id=d1,file=%s,format=raw,cache=unsafe"
            % os.path.join(vdir, "root.img"),
            "-device", "virtio-blk-pci,drive=d1,addr=0x9"]
    if os.path.exists(QBOOT):
        argv += ["-bios", QBOOT]
    for tag, path in (("tpl", os.path.join(WORK, "tpl")), ("usr", "/usr"), ("cfg", cfg),
                      ("src", SRC)):
        argv += ["-virtfs", "local,path=%s,mount_tag=%s,security_model=none,readonly=on"
                 % (path, tag)]
    for idx, tap in enumerate(("tap%d" % k, "tsec%d" % k)):
        argv += ["-netdev", "tap,id=n%d,ifname=%s,script=no,downscript=no" % (idx, tap),
                 "-device", "virtio-net-pci,romfile=,netdev=n%d,mac=52:54:00:%02x:00:%02x"
                 % (idx, 78 + idx, 10 + k)]
    argv += ["-device", "virtio-rng-pci", "-daemonize", "-pidfile",
             os.path.join(vdir, "qemu.pid")]
    _run(argv)


def _qemu_pid(k):
    try:
        with open(os.path.join(_vm_dir(k), "qemu.pid")) as fd:
            pid = int(fd.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as fd:
            if b"qemu-system" in fd.read():
                return pid
    except (OSError, ValueError):
        pass
    return 0


def ssh_argv(k, command, tty=False):
    return ["ip", "netns", "exec", NETNS, "ssh", "-F", os.path.join(WORK, "ssh_config")] \
        + (["-tt"] if tty else []) + [node_ip(k), GUEST_ENV + command]


def ssh(k, command, check=True, timeout=600, input_text=None, tty=False):
    """Run ``command`` (shell text) on node K with the source tree's environment;
    ``tty``: on a terminal there (prompts read ``input_text`` from it)."""
    proc = subprocess.run(ssh_argv(k, command, tty), capture_output=True, text=True,
                          timeout=timeout, input=input_text)
    if check and proc.returncode != 0:
        raise AssertionError("node%d: %s failed (%d):\nstdout: %s\nstderr: %s"
                             % (k, command, proc.returncode, proc.stdout[-4000:],
                                proc.stderr[-4000:]))
    return proc


# What a test module leaves on a node, removed whatever state it is in: the
# daemons (by their pid files), DRBD devices (and the module's helper as booted),
# the volume group, Ganeti's files.
RESET_SCRIPT = r"""
for f in /var/run/ganeti/*.pid; do
  [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
done
for p in /var/run/ganeti/kvm-hypervisor/pid/*; do
  [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
done
for m in $(sed -n 's/^ *\([0-9][0-9]*\): cs:.*/\1/p' /proc/drbd); do
  drbdsetup down "resource$m" 2>/dev/null || drbdsetup del-minor "$m" 2>/dev/null
done
vgremove -q -f xenvg >/dev/null 2>&1; pvremove -q -y -ff /dev/vda >/dev/null 2>&1
# a test that split the disk into PVs: back to one whole disk
for p in /dev/vda[1-9]; do [ -b "$p" ] && pvremove -q -y -ff "$p" >/dev/null 2>&1; done
[ -b /dev/vda1 ] && sfdisk -q --delete /dev/vda >/dev/null 2>&1
wipefs -q -a /dev/vda >/dev/null 2>&1
echo /bin/true > /sys/module/drbd/parameters/usermode_helper
ip addr del %(cluster_ip)s/32 dev eth0 2>/dev/null
rm -rf /var/lib/ganeti /etc/ganeti /var/run/ganeti /var/log/ganeti /srv/ganeti
true
"""


def reset_node(k):
    """Bring node K back to its freshly booted state (for the next test module)."""
    ssh(k, RESET_SCRIPT % {"cluster_ip": CLUSTER_IP}, check=False, timeout=120)


def _wait_ready(k, deadline):
    log = os.path.join(_vm_dir(k), "console.log")
    while True:
        try:
            with open(log, errors="replace") as fd:
                if READY_MARKER in fd.read():
                    break
        except FileNotFoundError:
            pass
        if not _qemu_pid(k):
            raise RuntimeError("node%d died while booting; see %s" % (k, log))
        if time.monotonic() > deadline:
            raise RuntimeError("node%d did not boot in %d s; see %s"
                               % (k, BOOT_TIMEOUT, log))
        time.sleep(0.1)
    while ssh(k, "true", check=False, timeout=30).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError("node%d: no ssh after %d s" % (k, BOOT_TIMEOUT))
        time.sleep(0.3)


def up(count=3):
    """Boot ``count`` nodes; returns the seconds it took."""
    check_host()
    down()
    kernel = prepare()
    start = time.monotonic()
    _net_up(count)
    try:
        for k in range(1, count + 1):
            _new_vm_dir(k, count)
            _start_vm(k, kernel)
        deadline = time.monotonic() + BOOT_TIMEOUT
        for k in range(1, count + 1):
            _wait_ready(k, deadline)
    except BaseException:
        down()
        raise
    with open(os.path.join(WORK, "nodes"), "w") as fd:
        fd.write("%d\n" % count)
    return time.monotonic() - start


def node_running(k):
    return bool(_qemu_pid(k))


def running_nodes():
    """How many nodes of an earlier ``up`` still run (0 if none)."""
    try:
        with open(os.path.join(WORK, "nodes")) as fd:
            count = int(fd.read())
    except (OSError, ValueError):
        return 0
    return count if all(_qemu_pid(k) for k in range(1, count + 1)) else 0


def kill_vm(k):
    """Stop node K at once, as a power failure would (its pid file is checked)."""
    pid = _qemu_pid(k)
    if pid:
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.05)
    sock = os.path.join(WORK, "ssh-%s.sock" % node_ip(k))
    if os.path.exists(sock):
        os.unlink(sock)


def reboot_vm(k):
    """Power-cycle node K: stopped at once, booted again with the same disks (its
    volume group and root filesystem changes are kept; /run is empty again and
    no daemon runs until something starts them). Returns the seconds it took."""
    start = time.monotonic()
    kill_vm(k)
    _start_vm(k, kvm_guest.prepare_kernel())
    _wait_ready(k, time.monotonic() + BOOT_TIMEOUT)
    return time.monotonic() - start


def power_on_after_reset(k, timeout=60):
    """Node K rebooted itself (gnt-node powercycle): its QEMU, started with
    -no-reboot, ends then. Wait for that, boot it again with the same disks and
    wait for ssh; returns the seconds from the call to ssh ready."""
    start = time.monotonic()
    while _qemu_pid(k):
        if time.monotonic() - start > timeout:
            raise RuntimeError("node%d did not go down in %d s" % (k, timeout))
        time.sleep(0.2)
    kill_vm(k)                  # its stale ssh control socket
    _start_vm(k, kvm_guest.prepare_kernel())
    _wait_ready(k, time.monotonic() + BOOT_TIMEOUT)
    return time.monotonic() - start


def down():
    """Stop every node started from WORK and delete the namespace."""
    pids = []
    if os.path.isdir(WORK):
        for name in sorted(os.listdir(WORK)):
            if name.startswith("vm") and name[2:].isdigit():
                pid = _qemu_pid(int(name[2:]))
                if pid:
                    os.kill(pid, signal.SIGTERM)
                    pids.append(pid)
            elif name.startswith("ssh-") and name.endswith(".sock"):
                os.unlink(os.path.join(WORK, name))
    for pid in pids:
        for _ in range(100):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)
    nodes = os.path.join(WORK, "nodes")
    if os.path.exists(nodes):
        os.unlink(nodes)


def main(argv):
    if len(argv) == 2 and argv[0] == "reboot":
        print("node%s rebooted (ssh ready) in %.1f s" % (argv[1], reboot_vm(int(argv[1]))))
        return 0
    if len(argv) >= 1 and argv[0] == "up":
        took = up(int(argv[1]) if len(argv) > 1 else 3)
        print("%d nodes up (ssh ready) in %.1f s" % (running_nodes(), took))
        return 0
    if len(argv) >= 3 and argv[0] == "ssh":
        proc = subprocess.run(ssh_argv(int(argv[1]), " ".join(argv[2:])))
        return proc.returncode
    if len(argv) == 2 and argv[0] == "console":
        return subprocess.run(["socat", "-,raw,echo=0,escape=0x0f", "UNIX-CONNECT:%s"
                               % os.path.join(_vm_dir(int(argv[1])),
                                              "console.sock")]).returncode
    if argv == ["down"]:
        down()
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
