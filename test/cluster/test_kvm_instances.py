"""A real KVM (TCG) instance through gnt-instance: boot, console, stop, grow, remove."""

import os
import pty
import select
import subprocess
import time

import pytest

import kvm_guest
import vcluster

NAME = "kvm1.example.com"


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    # what is missing here is a package or the kernel download: an error, not a skip
    kernel = kvm_guest.kernel_or_fail()
    if not os.path.isdir("/usr/share/ganeti/os/noop"):
        pytest.fail("Debian's ganeti-os-noop is not installed "
                    "(sudo tools/install-deps --test)", pytrace=False)
    initrd = str(tmp_path_factory.mktemp("kvm") / "initrd.cpio")
    kvm_guest.build_initramfs(initrd, kernel)
    return kvm_guest.guest_hvparams(kernel, initrd)


@pytest.fixture(scope="module")
def kvm_cluster():
    vc = vcluster.VirtualCluster(1)
    try:
        vc.init("--enabled-hypervisors=kvm")
        yield vc
    finally:
        vc.cleanup()


def _qemu_pids(name):
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as fd:
                cmd = fd.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"qemu-system-x86_64") and name.encode() in cmd:
            pids.append(int(pid))
    return pids


def _read_until(fd, marker, timeout):
    seen = b""
    deadline = time.time() + timeout
    while marker.encode() not in seen:
        left = deadline - time.time()
        assert left > 0, "no %r on the console; got %r" % (marker, seen[-500:])
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            assert chunk, "console closed; got %r" % seen[-500:]
            seen += chunk
    return seen


def test_kvm_instance(kvm_cluster, guest):
    m = kvm_cluster.master
    hv = ",".join("%s=%s" % (k, "true" if v is True else "false" if v is False else v)
                  for k, v in sorted(guest.items()))
    start = time.time()
    m.run("gnt-instance", "add", "-t", "file", "-s", "64M", "-n", m.name, "-o", "noop",
          "--no-name-check", "--no-ip-check", "--no-nics", "-H", "kvm:" + hv, NAME,
          check=True)
    print("gnt-instance add (kvm, file 64M, TCG): %.2f s" % (time.time() - start))
    assert len(_qemu_pids(NAME)) == 1
    row = m.run("gnt-instance", "list", "--no-headers", "-o", "name,hypervisor,status",
                NAME, check=True).stdout.split()
    assert row == [NAME, "kvm", "running"]

    show = m.run("gnt-instance", "console", "--show-cmd", NAME, check=True).stdout
    assert "socat" in show and ".serial" in show
    # the console is what an admin gets: socat on the serial socket, on a terminal
    master_fd, slave_fd = pty.openpty()
    console = subprocess.Popen([vcluster.PYTHON, os.path.join(vcluster.SRC, "scripts",
                                                              "gnt-instance"),
                                "console", NAME], env=m.env, stdin=slave_fd,
                               stdout=slave_fd, stderr=slave_fd, start_new_session=True)
    os.close(slave_fd)
    try:
        time.sleep(1.0)
        m.run("gnt-instance", "reboot", "-t", "soft", NAME, check=True)
        _read_until(master_fd, "GANETI-TEST-BOOTED", 90)
    finally:
        console.kill()
        console.wait()
        os.close(master_fd)

    m.run("gnt-instance", "shutdown", "--timeout=30", NAME, check=True)
    assert _qemu_pids(NAME) == []
    m.run("gnt-instance", "startup", NAME, check=True)
    assert len(_qemu_pids(NAME)) == 1
    m.run("gnt-instance", "grow-disk", NAME, "0", "64M", check=True)
    sizes = m.run("gnt-instance", "list", "--no-headers", "-o", "disk.sizes", NAME,
                  check=True).stdout.strip()
    assert sizes == "128"
    m.run("gnt-instance", "remove", "-f", "--shutdown-timeout=10", NAME, check=True)
    assert _qemu_pids(NAME) == []
    leftovers = []
    for sub in ("pid", "conf", "ctrl"):
        d = m.path("/var/run/ganeti/kvm-hypervisor/" + sub)
        if os.path.isdir(d):
            leftovers += [f for f in os.listdir(d) if NAME in f]
    assert leftovers == []
    storage = m.path("/srv/ganeti/file-storage")
    assert not any(NAME in f for f in os.listdir(storage))


def test_kvm_bad_input(kvm_cluster, guest):
    m = kvm_cluster.master
    proc = m.run("gnt-instance", "add", "-t", "file", "-s", "64M", "-n", m.name, "-o",
                 "noop", "--no-name-check", "--no-ip-check", "--no-nics", "-H",
                 "kvm:kvm_flag=disabled,kernel_path=/nonexistent/vmlinuz", "bad.example.com")
    assert proc.returncode == 1
    assert "nonexistent" in proc.stderr, proc.stderr
    assert _qemu_pids("bad.example.com") == []
    storage = m.path("/srv/ganeti/file-storage")
    assert not any("bad.example.com" in f for f in os.listdir(storage))
