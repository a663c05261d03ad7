"""KVM hypervisor against a real QEMU (TCG): boot, console, info, reboot, stop, NICs.

The guest is a Debian kernel with a busybox initramfs (see kvm_guest.py); the
kernel is fetched once with apt-get download and cached in
/var/cache/ganeti-test. NICs are only created inside network namespaces the
tests create (QEMU then runs inside the namespace too).

Run with ``-s`` to see the measured boot, reboot and stop times.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import kvm_guest
import netns_cluster

from ganeti import errors, objects
from ganeti.hypervisor import hv_base, hv_kvm, kvm_qmp

LIB = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
BOOT_TIMEOUT = 90           # seconds, TCG on a loaded 2-core machine


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    kernel = kvm_guest.kernel_or_fail()
    workdir = tmp_path_factory.mktemp("kvm-guest")
    initrd = kvm_guest.build_initramfs(str(workdir / "initrd.cpio"), kernel)
    return {"kernel": kernel, "initrd": initrd}


def _force_kill(hv, name):
    """Kill a leftover QEMU of ``name`` by PID (after checking it is ours)."""
    pid = hv.get_pid(name)
    if pid:
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not hv.get_pid(name):
                break
            time.sleep(0.05)


@pytest.fixture
def run_dir():
    """A short runtime directory: Unix socket paths must stay under 108 bytes."""
    path = tempfile.mkdtemp(prefix="gnt-kvm-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def hv(run_dir):
    hyper = hv_kvm.KVMHypervisor(run_dir=run_dir)
    yield hyper
    for name in hyper.list_instances():
        _force_kill(hyper, name)
        hyper.cleanup_instance(name)


def _instance(name, guest, nics=None, extra_args="", **hvparams):
    params = kvm_guest.guest_hvparams(guest["kernel"], guest["initrd"], extra_args)
    params.update(hvparams)
    return objects.Instance(name=name, hypervisor="kvm", hvparams=params,
                            beparams={"maxmem": 128, "minmem": 128, "vcpus": 1},
                            nics=nics or [], disks=[], network_port=11000)


def _sparse_disk(path, mib=64):
    with open(path, "wb") as fd:
        fd.truncate(mib << 20)
    return str(path)


def test_boot_console_info_reboot_stop(guest, hv, tmp_path):
    inst = _instance("kvmtest1.example.com", guest)
    disk = _sparse_disk(tmp_path / "disk0")
    start = time.monotonic()
    hv.start_instance(inst, [({"mode": "rw"}, disk, "")], False)
    started = time.monotonic() - start
    paths = hv.paths(inst.name)
    console = kvm_guest.SerialReader(paths.serial_socket)
    try:
        console.wait_for(kvm_guest.MARKER, BOOT_TIMEOUT)
        boot = time.monotonic() - start
        print("\nkvm boot (TCG): qemu started in %.2f s, marker after %.2f s"
              % (started, boot))
        assert "GANETI-TEST-DISKS vda" in console.text

        assert hv.list_instances() == [inst.name]
        info = hv.get_instance_info(inst.name)
        assert (info.name, info.memory, info.vcpus, info.state) == \
            (inst.name, 128, 1, hv_base.STATE_RUNNING)
        assert info.id == hv.get_pid(inst.name) > 0
        blocks = kvm_qmp.qmp_command(paths.qmp_socket, "query-block")
        assert disk in [b.get("inserted", {}).get("file") for b in blocks]
        runtime = hv.load_runtime(inst.name)
        assert runtime["cmdline"][:3] == [kvm_guest.QEMU, "-name", inst.name]
        assert runtime["instance"]["name"] == inst.name
        for path in (paths.pid_file, paths.qmp_socket, paths.serial_socket):
            assert os.path.exists(path), path
        # a fresh hypervisor object (a restarted node daemon) sees the same
        assert hv_kvm.KVMHypervisor(run_dir=hv.run_dir).list_instances() == [inst.name]

        start = time.monotonic()
        hv.reboot_instance(inst)
        console.wait_for(kvm_guest.MARKER, BOOT_TIMEOUT, count=2)
        print("kvm soft reboot (system_reset): marker again after %.2f s"
              % (time.monotonic() - start))

        pid = hv.get_pid(inst.name)
        start = time.monotonic()
        hv.stop_instance(inst, timeout=60)
        print("kvm clean stop (ACPI powerdown): %.2f s" % (time.monotonic() - start))
        # the guest saw the power button (clean shutdown, not a kill)
        console.wait_for(kvm_guest.POWEROFF_MARKER, 5)
    finally:
        console.close()
    assert not os.path.exists("/proc/%d" % pid) or not hv_kvm.is_instance_process(
        pid, inst.name)
    assert hv.list_instances() == []
    assert hv.get_instance_info(inst.name) is None
    for path in (paths.pid_file, paths.qmp_socket, paths.serial_socket,
                 paths.monitor_socket, paths.runtime_file):
        assert not os.path.exists(path), path


def test_paused_start_and_stop_without_acpi(guest, hv):
    inst = _instance("kvmtest2.example.com", guest, acpi=False)
    hv.start_instance(inst, [], True)
    console = kvm_guest.SerialReader(hv.paths(inst.name).serial_socket)
    try:
        assert hv.get_instance_info(inst.name).state == hv_base.STATE_PAUSED
        with pytest.raises(errors.HypervisorError, match="already running"):
            hv.start_instance(inst, [], False)
        kvm_qmp.qmp_command(hv.paths(inst.name).qmp_socket, "cont")
        console.wait_for(kvm_guest.MARKER, BOOT_TIMEOUT)
        assert hv.get_instance_info(inst.name).state == hv_base.STATE_RUNNING
        # no ACPI: a stop cannot ask the guest, QEMU is ended at once
        start = time.monotonic()
        hv.stop_instance(inst, timeout=60)
        assert time.monotonic() - start < 15
    finally:
        console.close()
    assert kvm_guest.POWEROFF_MARKER not in console.text
    assert hv.list_instances() == []


@pytest.mark.parametrize("hvparams", [
    {"disk_type": "ide", "disk_cache": "none", "disk_aio": "native"},
    {"disk_type": "scsi", "scsi_controller_type": "virtio-scsi-pci",
     "disk_discard": "unmap"},
    {"vnc_bind_address": "127.0.0.1", "keymap": "de", "serial_console": False},
    {"usb_mouse": "tablet", "vga": "std", "soundhw": "ac97", "use_localtime": True},
    {"machine_version": "q35", "cpu_type": "qemu64", "cpu_cores": 1, "cpu_threads": 1,
     "cpu_sockets": 1, "reboot_behavior": "exit", "cpu_mask": "0"},
    {"cdrom_image_path": "@iso", "boot_order": "cdrom", "floppy_image_path": "@img"},
], ids=["ide-native", "virtio-scsi", "vnc", "devices", "q35", "cdrom-floppy"])
def test_qemu_accepts_parameters(guest, hv, tmp_path, hvparams):
    """QEMU starts (paused) with the command line built for these hvparams."""
    images = {"@iso": _sparse_disk(tmp_path / "image.iso", 1),
              "@img": _sparse_disk(tmp_path / "floppy.img", 1)}
    hvparams = dict((k, images.get(v, v)) for k, v in hvparams.items())
    inst = _instance("kvmvar.example.com", guest, **hvparams)
    hv.start_instance(inst, [({"mode": "rw"}, _sparse_disk(tmp_path / "disk0"), "")],
                      True)
    try:
        assert hv.get_instance_info(inst.name).state == hv_base.STATE_PAUSED
    finally:
        hv.stop_instance(inst, force=True)
    assert hv.list_instances() == []


# ---- NICs inside a network namespace of our own ------------------------------------------

DRIVER = r"""
import json, sys
from ganeti import errors, network, objects
from ganeti.hypervisor import hv_kvm
args = json.loads(sys.argv[1])
action = args["action"]
out = {}
try:
    if action in ("start", "stop"):
        hv = hv_kvm.KVMHypervisor(run_dir=args["run_dir"])
        inst = objects.Instance.from_dict(args["instance"])
        if action == "start":
            hv.start_instance(inst, [], False)
            out["nics"] = hv.load_runtime(inst.name)["nics"]
        else:
            hv.stop_instance(inst, force=args.get("force", False), timeout=60)
    elif action == "plug":
        out["tap"] = network.plug_nic(args["name"], args["index"], args["mac"],
                                      args["ip"], args["nicparams"])
    elif action == "unplug":
        network.unplug_nic(args["tap"], args["nicparams"], args["ip"])
except errors.GenericError as err:
    out["error"] = str(err)
print(json.dumps(out))
"""


class Netns:
    """A network namespace of the test's own, removed (with what runs in it) on
    close, and also when setting it up fails."""

    def __init__(self, name):
        self.name = name
        self.ip("netns", "add", name, netns=False)
        try:
            self.ip("link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    def ip(self, *args, netns=True, check=True):
        cmd = ["ip"] + (["-n", self.name] if netns else []) + list(args)
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=60)
        if check and result.returncode:
            raise AssertionError("%s failed: %s" % (" ".join(cmd), result.stderr))
        return result.stdout

    def run(self, *cmd, timeout=60):
        return subprocess.run(["ip", "netns", "exec", self.name] + list(cmd),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)

    def driver(self, **args):
        env = dict(os.environ, PYTHONPATH=LIB)
        result = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c",
                                 DRIVER, json.dumps(args)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=180)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def read_sysctl(self, path):
        return self.run("cat", "/proc/sys/net/" + path).stdout.strip()

    def close(self):
        # the namespace lives on while a process (a QEMU the test started) is in it
        pids = subprocess.run(["ip", "netns", "pids", self.name], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True,
                              timeout=60).stdout
        for pid in [int(p) for p in pids.split() if p.isdigit()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL,
                       timeout=60)


def _namespaces():
    out = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


@pytest.fixture
def netns_ok():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def netns(netns_ok):
    ns = Netns("gnt-kvmtest-%d" % os.getpid())
    try:
        yield ns
    finally:
        ns.close()


def test_bridged_nic_in_netns(guest, run_dir, netns):
    netns.ip("link", "add", "br0", "type", "bridge")
    netns.ip("link", "set", "br0", "type", "bridge", "stp_state", "0",
             "forward_delay", "0")
    netns.ip("addr", "add", "10.213.0.1/24", "dev", "br0")
    netns.ip("link", "set", "br0", "up")
    mac = "aa:00:00:5a:00:01"
    nic = objects.NIC(mac=mac, nicparams={"mode": "bridged", "link": "br0"})
    inst = _instance("kvmnet.example.com", guest, nics=[nic],
                     extra_args="gtest.ip=10.213.0.2/24")
    hv = hv_kvm.KVMHypervisor(run_dir=run_dir)
    start = time.monotonic()
    try:
        out = netns.driver(action="start", run_dir=run_dir, instance=inst.to_dict())
        assert "error" not in out, out["error"]
        tap = out["nics"][0]["tap"]
        assert tap == "gnt.kvmnet.0"
        console = kvm_guest.SerialReader(hv.paths(inst.name).serial_socket)
        try:
            console.wait_for(kvm_guest.MARKER, BOOT_TIMEOUT)
        finally:
            console.close()
        print("\nkvm boot with a bridged NIC (TCG): %.2f s" % (time.monotonic() - start))
        assert "GANETI-TEST-NIC eth0 %s 10.213.0.2/24" % mac in console.text
        ports = netns.ip("-o", "link", "show", "master", "br0")
        assert tap in ports
        # the guest answers on the bridge inside the namespace
        for _ in range(3):
            ping = netns.run("busybox", "ping", "-c", "1", "-W", "5", "10.213.0.2")
            if ping.returncode == 0:
                break
        assert ping.returncode == 0, ping.stdout + ping.stderr
        out = netns.driver(action="stop", run_dir=run_dir, instance=inst.to_dict())
        assert "error" not in out, out["error"]
        assert tap not in netns.ip("-o", "link", "show")
        assert hv.list_instances() == []
    finally:
        _force_kill(hv, inst.name)


def test_nic_plumbing_in_netns(netns):
    """Routed (own table and main table) and bridged errors with real ip commands."""
    routed = {"mode": "routed", "link": "100", "vlan": ""}
    out = netns.driver(action="plug", name="web1.example.com", index=0,
                       mac="aa:00:00:00:00:01", ip="192.0.2.9", nicparams=routed)
    tap = out["tap"]
    assert tap == "gnt.web1.0"
    assert "192.0.2.9 dev %s proto static" % tap in netns.ip("route", "show",
                                                             "table", "100")
    assert "iif %s lookup 100" % tap in netns.ip("rule")
    assert netns.read_sysctl("ipv4/conf/%s/proxy_arp" % tap) == "1"
    assert netns.read_sysctl("ipv4/conf/%s/forwarding" % tap) == "1"
    assert "UP" in netns.ip("-o", "link", "show", "dev", tap)
    out = netns.driver(action="unplug", tap=tap, nicparams=routed, ip="192.0.2.9")
    assert out == {}
    assert "iif %s" % tap not in netns.ip("rule")
    assert tap not in netns.ip("-o", "link", "show")

    main = {"mode": "routed", "link": "", "vlan": ""}
    out = netns.driver(action="plug", name="web1", index=1, mac="aa:00:00:00:00:02",
                       ip="192.0.2.10", nicparams=main)
    assert "192.0.2.10 dev gnt.web1.1 proto static" in netns.ip("route", "show")
    netns.driver(action="unplug", tap=out["tap"], nicparams=main, ip="192.0.2.10")
    assert "192.0.2.10" not in netns.ip("route", "show")

    out = netns.driver(action="plug", name="web1", index=2, mac="aa:00:00:00:00:03",
                       ip=None, nicparams={"mode": "bridged", "link": "nobr0"})
    assert "Bridge 'nobr0' does not exist" in out["error"]
    assert "gnt.web1.2" not in netns.ip("-o", "link", "show")


def test_netns_removed_when_its_setup_fails(netns_ok, monkeypatch):
    """A namespace whose setup fails is not left behind."""
    name = "gnt-kvmtest-fail-%d" % os.getpid()
    real_ip = Netns.ip

    def failing_ip(self, *args, **kwargs):
        if args[:2] == ("link", "set"):
            raise AssertionError("ip link set failed (simulated)")
        return real_ip(self, *args, **kwargs)

    monkeypatch.setattr(Netns, "ip", failing_ip)
    with pytest.raises(AssertionError, match="simulated"):
        Netns(name)
    assert name not in _namespaces()


def test_netns_close_ends_what_runs_inside(netns):
    sleeper = subprocess.Popen(["ip", "netns", "exec", netns.name, "sleep", "300"])
    try:
        deadline = time.monotonic() + 10
        while str(sleeper.pid) not in netns.ip("netns", "pids", netns.name, netns=False):
            assert time.monotonic() < deadline, "sleep did not start in the namespace"
            time.sleep(0.05)
        netns.close()
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
        assert netns.name not in _namespaces()
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
