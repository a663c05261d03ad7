"""KVM hypervisor: command lines, QMP client, runtime files, NIC plumbing.

No QEMU runs here: external commands are faked at utils.process.run_cmd, the
QMP server is a fake on a Unix socket, and "QEMU processes" are sleeping
Python processes whose command line carries ``-name <instance>``.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from ganeti import constants, errors, network, objects
from ganeti.hypervisor import get_hypervisor_class, hv_base, hv_kvm, kvm_cmdline, kvm_qmp
from ganeti.utils import process

QEMU = "/usr/bin/qemu-system-x86_64"


def _params(**overrides):
    params = hv_base.defaults_for(constants.HT_KVM)
    params.update(kvm_path=QEMU, kernel_path="/boot/vmlinuz-test",
                  initrd_path="/boot/initrd-test")
    params.update(overrides)
    return params


def _paths():
    return kvm_cmdline.Paths("/run/k/pid/inst1", "/run/k/ctrl/inst1.qmp",
                             "/run/k/ctrl/inst1.monitor", "/run/k/ctrl/inst1.serial",
                             "/run/k/chroot/inst1")


def _cmd(disks=(), nics=(), network_port=11000, beparams=None, **hvparams):
    beparams = beparams or {"maxmem": 256, "vcpus": 2}
    return kvm_cmdline.build_command("inst1", _params(**hvparams), beparams,
                                     list(disks), list(nics), _paths(),
                                     network_port=network_port)


def _value(cmd, option, nth=0):
    """The argument following the nth occurrence of ``option``."""
    found = [i for i, arg in enumerate(cmd) if arg == option]
    assert len(found) > nth, "%s not in %s" % (option, cmd)
    return cmd[found[nth] + 1]


# ---- command line ---------------------------------------------------------------------

def test_cmdline_defaults_with_kernel():
    cmd = _cmd(disks=[({"mode": "rw"}, "/dev/xenvg/disk0")])
    assert cmd[0] == QEMU
    assert _value(cmd, "-name") == "inst1"
    assert _value(cmd, "-m") == "256"
    assert _value(cmd, "-smp") == "2"
    assert _value(cmd, "-pidfile") == "/run/k/pid/inst1"
    assert "-daemonize" in cmd
    assert _value(cmd, "-chardev", 0) == \
        "socket,id=qmp0,path=/run/k/ctrl/inst1.qmp,server=on,wait=off"
    assert _value(cmd, "-mon") == "chardev=qmp0,mode=control"
    assert _value(cmd, "-chardev", 1) == \
        "socket,id=serial0,path=/run/k/ctrl/inst1.serial,server=on,wait=off"
    assert _value(cmd, "-serial") == "chardev:serial0"
    assert _value(cmd, "-display") == "none"
    assert _value(cmd, "-drive") == "file=/dev/xenvg/disk0,format=raw,if=virtio,id=disk0"
    assert _value(cmd, "-kernel") == "/boot/vmlinuz-test"
    assert _value(cmd, "-initrd") == "/boot/initrd-test"
    assert _value(cmd, "-append") == "root=/dev/vda1 ro console=ttyS0,38400"
    assert _value(cmd, "-boot") == "c"
    assert _value(cmd, "-net") == "none"
    # kvm_flag "" leaves the accelerator to the binary (/usr/bin/kvm enables KVM)
    assert "-accel" not in cmd and "-enable-kvm" not in cmd
    assert "-no-acpi" not in cmd and "-S" not in cmd


def test_cmdline_accelerator_and_machine_flags():
    assert _value(_cmd(kvm_flag="disabled"), "-accel") == "tcg"
    assert "-enable-kvm" in _cmd(kvm_flag="enabled")
    cmd = _cmd(acpi=False, reboot_behavior="exit", use_localtime=True,
               machine_version="pc-i440fx-7.2", cpu_type="host", mem_path="/hugepages",
               user_shutdown=True)
    assert "-no-acpi" in cmd and "-no-reboot" in cmd and "-no-shutdown" in cmd
    assert _value(cmd, "-rtc") == "base=localtime"
    assert _value(cmd, "-M") == "pc-i440fx-7.2"
    assert _value(cmd, "-cpu") == "host"
    assert _value(cmd, "-mem-path") == "/hugepages"


def test_cmdline_cpu_topology_and_extra():
    cmd = _cmd(beparams={"maxmem": 512, "vcpus": 4}, cpu_cores=2, cpu_threads=1,
               cpu_sockets=2, kvm_extra="-bios /usr/share/qemu/qboot.rom -name 'x y'")
    assert _value(cmd, "-smp") == "4,cores=2,threads=1,sockets=2"
    assert cmd[-4:] == ["-bios", "/usr/share/qemu/qboot.rom", "-name", "x y"]


def test_cmdline_without_serial_console_or_kernel():
    cmd = _cmd(serial_console=False)
    assert _value(cmd, "-serial") == "none"
    assert "console=" not in _value(cmd, "-append")
    cmd = _cmd(kernel_path="", initrd_path="")
    assert "-kernel" not in cmd and "-initrd" not in cmd and "-append" not in cmd


def test_cmdline_kernel_append_variants():
    cmd = _cmd(root_path="", kernel_args="quiet", serial_speed=115200)
    assert _value(cmd, "-append") == "quiet console=ttyS0,115200"


def test_cmdline_vnc():
    cmd = _cmd(vnc_bind_address="0.0.0.0", keymap="de")
    assert _value(cmd, "-vnc") == "0.0.0.0:5100"       # port 11000 = display 5100
    assert _value(cmd, "-k") == "de"
    assert "-display" not in cmd
    cmd = _cmd(vnc_bind_address="::1", vnc_password_file="/etc/ganeti/vnc-pw")
    assert _value(cmd, "-vnc") == "[::1]:5100,password=on"
    cmd = _cmd(vnc_bind_address="127.0.0.1", vnc_tls=True, vnc_x509_path="/etc/x509",
               vnc_x509_verify=True)
    assert _value(cmd, "-object") == \
        "tls-creds-x509,id=vnctls0,endpoint=server,dir=/etc/x509,verify-peer=on"
    assert _value(cmd, "-vnc") == "127.0.0.1:5100,tls-creds=vnctls0"
    with pytest.raises(errors.HypervisorError, match="network port"):
        _cmd(vnc_bind_address="0.0.0.0", network_port=None)


def test_cmdline_disk_types_and_options():
    disks = [({"mode": "rw"}, "/dev/a"), ({"mode": "ro"}, "/srv/x,y.img")]
    cmd = _cmd(disks=disks, disk_type="ide", disk_cache="none", disk_aio="native",
               disk_discard="unmap")
    assert _value(cmd, "-drive", 0) == \
        "file=/dev/a,format=raw,cache=none,aio=native,discard=unmap,if=ide,id=disk0"
    # commas in paths are doubled; read-only disks stay read-only
    assert _value(cmd, "-drive", 1) == ("file=/srv/x,,y.img,format=raw,cache=none,"
                                        "aio=native,discard=unmap,readonly=on,if=ide,id=disk1")
    cmd = _cmd(disks=disks[:1], disk_type="scsi", disk_aio="native")
    assert _value(cmd, "-device", 1) == "lsi53c895a,id=scsi"
    assert _value(cmd, "-drive") == \
        "file=/dev/a,format=raw,cache=none,aio=native,if=none,id=disk0"
    assert _value(cmd, "-device", 2) == "scsi-hd,drive=disk0,bus=scsi.0,id=scsidisk0"


def test_cmdline_cdrom_floppy_and_boot_order():
    cmd = _cmd(boot_order="cdrom", cdrom_image_path="/iso/d.iso",
               floppy_image_path="/img/f.img", kernel_path="")
    assert _value(cmd, "-boot") == "d"
    assert "file=/iso/d.iso,format=raw,media=cdrom,readonly=on,if=ide,id=cdrom0" in cmd
    assert "file=/img/f.img,format=raw,if=floppy,id=floppy0" in cmd
    assert _value(_cmd(boot_order="network"), "-boot") == "n"


def test_cmdline_nics():
    nics = [{"mac": "aa:00:00:00:00:01", "tap": "gnt.inst1.0"},
            {"mac": "aa:00:00:00:00:02", "tap": "gnt.inst1.1"}]
    cmd = _cmd(nics=nics)
    assert "-net" not in cmd
    assert _value(cmd, "-netdev", 0) == \
        "tap,id=net0,ifname=gnt.inst1.0,script=no,downscript=no"
    # no PXE option ROM unless booting from the network
    assert "virtio-net-pci,netdev=net1,mac=aa:00:00:00:00:02,id=nic1,romfile=" in cmd
    cmd = _cmd(nics=nics[:1], nic_type="e1000", vhost_net=True, vnet_hdr=False,
               boot_order="network")
    assert _value(cmd, "-netdev") == ("tap,id=net0,ifname=gnt.inst1.0,script=no,"
                                      "downscript=no,vhost=on,vnet_hdr=off")
    assert "e1000,netdev=net0,mac=aa:00:00:00:00:01,id=nic0" in cmd


def test_cmdline_misc_devices_and_paused():
    cmd = kvm_cmdline.build_command(
        "inst1", _params(usb_mouse="tablet", vga="std", soundhw="ac97"),
        {"maxmem": 128, "vcpus": 1}, [], [], _paths(), network_port=11000,
        instance_uuid="0b3ab3f2-5a53-4e3c-9a84-0a3b1c2d3e4f", startup_paused=True)
    assert "-S" in cmd and "-usb" in cmd and "usb-tablet" in cmd
    assert _value(cmd, "-vga") == "std"
    assert "AC97,audiodev=snd0" in cmd
    assert _value(cmd, "-uuid") == "0b3ab3f2-5a53-4e3c-9a84-0a3b1c2d3e4f"
    assert "virtio-balloon-pci,id=balloon0" in cmd


def test_parse_cpu_mask():
    assert kvm_cmdline.parse_cpu_mask("all") is None
    assert kvm_cmdline.parse_cpu_mask("0-2,5") == {0, 1, 2, 5}
    assert kvm_cmdline.parse_cpu_mask("1:2-3") == {1, 2, 3}
    for bad in ("x", "3-1", "1,,2"):
        with pytest.raises(ValueError):
            kvm_cmdline.parse_cpu_mask(bad)


# ---- parameters -----------------------------------------------------------------------

def test_parameters_accept_defaults_and_known_values():
    cls = get_hypervisor_class(constants.HT_KVM)
    assert cls is hv_kvm.KVMHypervisor
    cls.check_parameter_syntax(hv_base.defaults_for(constants.HT_KVM))
    cls.check_parameter_syntax(_params(kvm_flag="disabled", cpu_mask="0-1",
                                       vnc_bind_address="0.0.0.0", serial_speed=115200))
    assert "migration_port" in cls.GLOBAL_PARAMETERS


@pytest.mark.parametrize("key,value,message", [
    ("kvm_flag", "maybe", "kvm_flag"),
    ("cpu_cores", -1, "cpu_cores"),
    ("acpi", "yes", "acpi"),
    ("kernel_path", "relative/vmlinuz", "kernel_path"),
    ("nic_type", "virtio", "nic_type"),
    ("disk_type", "nvme", "disk_type"),
    ("cpu_mask", "1-", "cpu_mask"),
    ("kvm_extra", "-append 'unbalanced", "kvm_extra"),
    ("vnc_bind_address", "not an address!", "vnc_bind_address"),
    ("no_such_param", 1, "Unknown parameter"),
])
def test_parameters_reject_bad_values(key, value, message):
    with pytest.raises(errors.HypervisorError, match=message):
        hv_kvm.KVMHypervisor.check_parameter_syntax(_params(**{key: value}))


@pytest.mark.parametrize("params,message", [
    ({"boot_order": "cdrom", "cdrom_image_path": ""}, "cdrom_image_path"),
    ({"security_model": "user", "security_domain": ""}, "security_domain"),
    ({"security_model": "none", "security_domain": "kvm"}, "security_model 'user'"),
    ({"vnc_x509_verify": True, "vnc_x509_path": ""}, "vnc_x509_path"),
])
def test_parameters_cross_checks(params, message):
    with pytest.raises(errors.HypervisorError, match=message):
        hv_kvm.KVMHypervisor.check_parameter_syntax(_params(**params))


def test_validate_parameters_and_verify(tmp_path):
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path))
    with pytest.raises(errors.HypervisorError, match="missing or not executable"):
        hv.validate_parameters({"kvm_path": str(tmp_path / "nokvm"), "kernel_path": ""})
    assert "missing" in hv.verify({"kvm_path": str(tmp_path / "nokvm")})
    assert hv.verify({"kvm_path": sys.executable}) is None
    with pytest.raises(errors.HypervisorError, match="kernel_path"):
        hv.validate_parameters({"kvm_path": sys.executable,
                                "kernel_path": str(tmp_path / "vmlinuz")})


# ---- QMP client -----------------------------------------------------------------------

class FakeQmpServer:
    """Speaks enough QMP for the tests; ``handlers`` maps command -> callable."""

    def __init__(self, path, handlers=None, greet=True):
        self.path = path
        self.handlers = handlers or {}
        self.greet = greet
        self.received = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(5)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._session(conn)

    def _session(self, conn):
        def send(msg):
            conn.sendall(json.dumps(msg).encode() + b"\r\n")
        if not self.greet:
            time.sleep(2)
            return
        # an event before the greeting has been seen in the wild (qemu #2176)
        send({"event": "RESUME", "data": {},
              "timestamp": {"seconds": 1, "microseconds": 0}})
        send({"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0},
                                  "package": ""}, "capabilities": []}})
        negotiated = False
        for line in conn.makefile("rb"):
            msg = json.loads(line)
            self.received.append(msg)
            cmd = msg.get("execute")
            reply = {"id": msg["id"]} if "id" in msg else {}
            if cmd == "qmp_capabilities":
                negotiated = True
                send(dict(reply, **{"return": {}}))
            elif not negotiated:
                send(dict(reply, error={"class": "CommandNotFound", "desc": "negotiate"}))
            elif cmd in self.handlers:
                result = self.handlers[cmd](msg.get("arguments") or {}, send)
                if isinstance(result, dict) and "error" in result:
                    send(dict(reply, **result))
                else:
                    send(dict(reply, **{"return": result}))
            else:
                send(dict(reply, error={"class": "CommandNotFound",
                                        "desc": "The command %s has not been found"
                                        % cmd}))

    def close(self):
        self.sock.close()


def _query_status(args, send):
    send({"event": "STOP", "data": {}, "timestamp": {"seconds": 2, "microseconds": 0}})
    return {"status": "paused", "running": False}


def test_qmp_execute_events_and_errors(tmp_path):
    path = str(tmp_path / "q.qmp")
    server = FakeQmpServer(path, {"query-status": _query_status,
                                  "query-balloon": lambda a, s: {"actual": 64 << 20}})
    try:
        with kvm_qmp.QmpClient(path, timeout=5) as qmp:
            assert qmp.version == (7, 2, 0)
            assert qmp.execute("query-status") == {"status": "paused", "running": False}
            assert [e["event"] for e in qmp.events] == ["RESUME", "STOP"]
            assert qmp.wait_event("STOP", timeout=1)["event"] == "STOP"
            assert qmp.wait_event("SHUTDOWN", timeout=0.3) is None
            with pytest.raises(kvm_qmp.QmpError) as exc:
                qmp.execute("no-such-command")
            assert exc.value.error_class == "CommandNotFound"
            assert "no-such-command" in str(exc.value)
            # the connection stays usable after an error
            assert qmp.execute("query-balloon")["actual"] == 64 << 20
        cmds = [m["execute"] for m in server.received]
        assert cmds[0] == "qmp_capabilities"
        assert kvm_qmp.qmp_command(path, "query-balloon") == {"actual": 64 << 20}
    finally:
        server.close()


def test_qmp_errors_connecting(tmp_path):
    with pytest.raises(errors.HypervisorError, match="Cannot connect"):
        kvm_qmp.QmpClient(str(tmp_path / "missing.qmp")).connect()
    path = str(tmp_path / "silent.qmp")
    server = FakeQmpServer(path, greet=False)
    try:
        start = time.monotonic()
        with pytest.raises(errors.HypervisorError, match="Timeout"):
            kvm_qmp.QmpClient(path, timeout=0.3).connect()
        assert time.monotonic() - start < 2
    finally:
        server.close()


# ---- runtime files and the life cycle without QEMU --------------------------------------

def _fake_qemu(name):
    """A process that looks like instance ``name``'s QEMU to the hypervisor."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             "-name", name])
    for _ in range(200):        # the command line can show up a moment after exec
        if hv_kvm.is_instance_process(proc.pid, name):
            break
        time.sleep(0.01)
    return proc


def _write_pid(hv, name, pid):
    path = hv.paths(name).pid_file
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fd:
        fd.write("%d\n" % pid)


def _instance(name="inst1.example.com", nics=None, **hvparams):
    return objects.Instance(name=name, hypervisor=constants.HT_KVM,
                            hvparams=_params(**hvparams),
                            beparams={"maxmem": 256, "minmem": 128, "vcpus": 2},
                            nics=nics or [], disks=[], network_port=11000)


def test_runtime_round_trip_list_info_and_forced_stop(tmp_path):
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path))
    name = "inst1.example.com"
    runtime = {"version": 1, "instance": _instance().to_dict(),
               "hvparams": _params(), "beparams": {"maxmem": 256, "vcpus": 2},
               "nics": [], "cmdline": [QEMU, "-name", name]}
    hv.save_runtime(name, runtime)
    assert hv.load_runtime(name) == runtime
    assert os.stat(hv.paths(name).runtime_file).st_mode & 0o777 == 0o600
    assert hv.list_instances() == []            # no process yet
    assert hv.get_instance_info(name) is None
    proc = _fake_qemu(name)
    try:
        _write_pid(hv, name, proc.pid)
        assert hv.list_instances() == [name]
        info = hv.get_instance_info(name)       # no QMP socket: still running
        assert (info.name, info.id, info.memory, info.vcpus, info.state) == \
            (name, proc.pid, 256, 2, hv_base.STATE_RUNNING)
        # a pid file naming somebody else's process is not our instance
        assert hv.get_pid("other") == 0
        with pytest.raises(errors.HypervisorError, match="still running"):
            hv.cleanup_instance(name)
        hv.stop_instance(None, force=True, name=name)
        assert proc.wait(timeout=5) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert hv.list_instances() == []
    assert not os.path.exists(hv.paths(name).runtime_file)
    assert not os.path.exists(hv.paths(name).pid_file)


def test_clean_stop_info_reboot_balloon_through_qmp(tmp_path):
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path))
    inst = _instance()
    name = inst.name
    hv.save_runtime(name, {"instance": inst.to_dict(), "hvparams": _params(),
                           "beparams": {"maxmem": 256, "vcpus": 2}, "nics": []})
    proc = _fake_qemu(name)
    _write_pid(hv, name, proc.pid)
    os.makedirs(os.path.dirname(hv.paths(name).qmp_socket))
    ballooned = []
    server = FakeQmpServer(hv.paths(name).qmp_socket, {
        "query-status": lambda a, s: {"status": "running", "running": True},
        "query-balloon": lambda a, s: {"actual": 200 * 1024 * 1024},
        "balloon": lambda a, s: ballooned.append(a["value"]) or {},
        "system_reset": lambda a, s: {},
        "system_powerdown": lambda a, s: proc.terminate() or {},
    })
    try:
        info = hv.get_instance_info(name)
        assert (info.state, info.memory) == (hv_base.STATE_RUNNING, 200)
        hv.reboot_instance(inst)
        hv.balloon_instance_memory(inst, 128)
        assert ballooned == [128 * 1024 * 1024]
        start = time.monotonic()
        hv.stop_instance(inst, timeout=10)
        assert time.monotonic() - start < 5       # the guest "powered off" at once
        sent = [m.get("execute") for m in server.received]
        assert "system_powerdown" in sent and "quit" not in sent
        proc.wait(timeout=5)
    finally:
        server.close()
        if proc.poll() is None:
            proc.kill()
    assert not os.path.exists(hv.paths(name).runtime_file)
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv.reboot_instance(inst)


class FakeCommands:
    """Stands in for utils.process.run_cmd: records argv lists, fakes ip/qemu."""

    def __init__(self, existing=(), bridges=("br0",), qemu_fails=False):
        self.calls = []
        self.links = set(existing)
        self.bridges = set(bridges)
        self.qemu_fails = qemu_fails
        self.procs = []

    def __call__(self, cmd, **kwargs):
        cmd = [str(c) for c in cmd]
        self.calls.append(cmd)
        ok = process.RunResult(cmd, 0, None, "", "")
        if "-daemonize" in cmd:
            if self.qemu_fails:
                return process.RunResult(cmd, 1, None, "",
                                         "qemu-system-x86_64: -drive x: No such file")
            name = cmd[cmd.index("-name") + 1]
            proc = _fake_qemu(name)
            self.procs.append(proc)
            with open(cmd[cmd.index("-pidfile") + 1], "w") as fd:
                fd.write("%d\n" % proc.pid)
            return ok
        if cmd[:2] != ["ip", "-d"] and cmd[:2] != ["ip", "-o"]:
            if cmd[:3] == ["ip", "tuntap", "add"]:
                self.links.add(cmd[4])
            elif cmd[:3] == ["ip", "link", "del"]:
                self.links.discard(cmd[4])
            return ok
        dev = cmd[-1]
        if dev in self.bridges:
            return process.RunResult(cmd, 0, None, (
                "5: %s: <BROADCAST,MULTICAST,UP> mtu 1400 qdisc noqueue\\    link/ether"
                " 00:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff promiscuity 0 \\    bridge"
                " forward_delay 0 vlan_filtering 0 \n" % dev), "")
        if dev in self.links:
            return process.RunResult(cmd, 0, None, "6: %s: <UP> mtu 1500 \n" % dev, "")
        return process.RunResult(cmd, 1, None, "", 'Device "%s" does not exist.' % dev)

    def cleanup(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def fake_cmds(monkeypatch, tmp_path):
    fake = FakeCommands()
    monkeypatch.setattr(process, "run_cmd", fake)
    monkeypatch.setattr(network, "PROC_SYS_NET", str(tmp_path / "proc"))
    yield fake
    fake.cleanup()


def test_start_and_stop_with_bridged_nic(fake_cmds, tmp_path):
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path / "kvm"))
    nic = objects.NIC(mac="aa:00:00:12:34:56",
                      nicparams={"mode": "bridged", "link": "br0"})
    inst = _instance(nics=[nic], kernel_path="", initrd_path="", kvm_path=sys.executable)
    disk = objects.Disk(dev_type="file", size=1024, mode="rw")
    hv.start_instance(inst, [(disk, "/srv/disk0", "/run/ganeti/instance-disks/x:0")],
                      False)
    tap = "gnt.inst1.0"
    assert [c for c in fake_cmds.calls if c[0] == "ip" and "-o" not in c] == [
        ["ip", "tuntap", "add", "dev", tap, "mode", "tap"],
        ["ip", "link", "set", "dev", tap, "address", "fe:00:00:12:34:56"],
        ["ip", "link", "set", "dev", tap, "mtu", "1400"],
        ["ip", "link", "set", "dev", tap, "master", "br0", "up"],
    ]
    qemu = [c for c in fake_cmds.calls if "-daemonize" in c][0]
    assert "tap,id=net0,ifname=%s,script=no,downscript=no" % tap in qemu
    assert "file=/srv/disk0,format=raw,if=virtio,id=disk0" in qemu
    paths = hv.paths(inst.name)
    with open(paths.nic_file(0)) as fd:
        assert fd.read().strip() == tap
    runtime = hv.load_runtime(inst.name)
    assert runtime["cmdline"] == qemu
    assert runtime["nics"][0]["tap"] == tap
    assert runtime["instance"]["name"] == inst.name
    assert hv.list_instances() == [inst.name]
    with pytest.raises(errors.HypervisorError, match="already running"):
        hv.start_instance(inst, [], False)
    fake_cmds.calls[:] = []
    hv.stop_instance(inst, force=True)
    assert ["ip", "link", "del", "dev", tap] in fake_cmds.calls
    assert hv.list_instances() == []
    assert not os.path.exists(paths.nic_dir)
    assert tap not in fake_cmds.links


def test_failed_start_leaves_nothing(fake_cmds, tmp_path):
    fake_cmds.qemu_fails = True
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path / "kvm"))
    nic = objects.NIC(mac="aa:00:00:12:34:56", ip="192.0.2.10",
                      nicparams={"mode": "routed", "link": "100"})
    inst = _instance(nics=[nic], kernel_path="", initrd_path="", kvm_path=sys.executable)
    with pytest.raises(errors.HypervisorError, match="No such file"):
        hv.start_instance(inst, [], False)
    assert fake_cmds.links == set()
    assert ["ip", "rule", "del", "dev", "gnt.inst1.0", "table", "100"] in fake_cmds.calls
    assert not os.path.exists(hv.paths(inst.name).runtime_file)
    assert not os.path.exists(hv.paths(inst.name).nic_dir)


def test_start_refuses_missing_bridge(fake_cmds, tmp_path):
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path / "kvm"))
    nic = objects.NIC(mac="aa:00:00:12:34:56",
                      nicparams={"mode": "bridged", "link": "xen-br0"})
    inst = _instance(nics=[nic], kernel_path="", initrd_path="", kvm_path=sys.executable)
    with pytest.raises(errors.HypervisorError, match="Bridge 'xen-br0' does not exist"):
        hv.start_instance(inst, [], False)
    assert fake_cmds.links == set()
    assert not [c for c in fake_cmds.calls if "-daemonize" in c]


def test_console_descriptions():
    inst = _instance()
    console = hv_kvm.KVMHypervisor.get_instance_console(inst, "node1", None,
                                                        _params(), {})
    assert console["kind"] == "ssh" and console["host"] == "node1"
    assert console["command"][:2] == ["socat", "STDIO,raw,echo=0,escape=0x1d"]
    assert console["command"][2].startswith("UNIX-CONNECT:")
    assert console["command"][2].endswith("/kvm-hypervisor/ctrl/%s.serial" % inst.name)
    console = hv_kvm.KVMHypervisor.get_instance_console(
        inst, "node1", None, _params(serial_console=False, vnc_bind_address="0.0.0.0"), {})
    assert (console["kind"], console["host"], console["port"], console["display"]) == \
        ("vnc", "node1", 11000, 5100)
    console = hv_kvm.KVMHypervisor.get_instance_console(
        inst, "node1", None, _params(serial_console=False), {})
    assert console["kind"] == "msg"


def test_vnc_bind_address_from_interface(monkeypatch):
    calls = []

    def fake(cmd, **kwargs):
        calls.append(cmd)
        if cmd[-1] == "eth0":
            return process.RunResult(cmd, 0, None, "2: eth0    inet 10.0.0.5/24 brd"
                                     " 10.0.0.255 scope global eth0\\n", "")
        return process.RunResult(cmd, 1, None, "", "Device does not exist")

    monkeypatch.setattr(process, "run_cmd", fake)
    assert hv_kvm.resolve_bind_address("0.0.0.0") == "0.0.0.0"
    assert hv_kvm.resolve_bind_address("") == ""
    assert calls == []
    assert hv_kvm.resolve_bind_address("eth0") == "10.0.0.5"
    assert calls == [["ip", "-o", "-4", "addr", "show", "dev", "eth0"]]
    with pytest.raises(errors.HypervisorError, match="neither an IP address"):
        hv_kvm.resolve_bind_address("eth9")


def test_node_info():
    info = hv_kvm.KVMHypervisor(run_dir="/nonexistent").get_node_info()
    assert info["memory_total"] > 0
    assert 0 <= info["memory_free"] <= info["memory_total"]
    assert info["cpu_total"] == os.cpu_count()
    assert info["cpu_nodes"] >= 1 and info["cpu_sockets"] >= 1


# ---- network.py -----------------------------------------------------------------------

def test_tap_names_fit_and_differ():
    assert network.tap_name("web1.example.com", 0) == "gnt.web1.0"
    long1 = network.tap_name("averyveryverylonginstancename.example.com", 3)
    long2 = network.tap_name("averyveryverylonginstancename2.example.com", 3)
    assert len(long1) <= 15 and len(long2) <= 15
    assert long1 != long2 and long1.startswith("gnt.avery") and long1.endswith(".3")


def test_routed_nic_with_table(fake_cmds, tmp_path):
    os.makedirs(tmp_path / "proc/ipv4/conf/gnt.web1.0")
    tap = network.plug_nic("web1.example.com", 0, "aa:00:00:00:00:01", "192.0.2.7",
                           {"mode": "routed", "link": "100", "vlan": ""})
    assert tap == "gnt.web1.0"
    calls = [c for c in fake_cmds.calls if c[:2] not in (["ip", "-o"], ["ip", "-d"])]
    assert calls[0] == ["ip", "tuntap", "add", "dev", tap, "mode", "tap"]
    assert ["ip", "link", "set", "dev", tap, "up"] in calls
    # stale rules are removed (the fake "ip rule del" always succeeds: bounded loop)
    assert calls.count(["ip", "rule", "del", "dev", tap]) == network._RULE_DEL_LIMIT
    assert calls[-2:] == [
        ["ip", "rule", "add", "dev", tap, "table", "100"],
        ["ip", "route", "replace", "192.0.2.7/32", "table", "100", "proto", "static",
         "dev", tap]]
    conf = tmp_path / "proc/ipv4/conf" / tap
    assert (conf / "proxy_arp").read_text() == "1\n"
    assert (conf / "forwarding").read_text() == "1\n"
    fake_cmds.calls[:] = []
    network.unplug_nic(tap, {"mode": "routed", "link": "100"}, "192.0.2.7")
    assert fake_cmds.calls[0] == ["ip", "rule", "del", "dev", tap, "table", "100"]
    assert ["ip", "link", "del", "dev", tap] in fake_cmds.calls


def test_routed_nic_main_table_and_errors(fake_cmds, tmp_path):
    os.makedirs(tmp_path / "proc/ipv4/conf/gnt.web1.1")
    network.plug_nic("web1", 1, "aa:00:00:00:00:01", "192.0.2.8",
                     {"mode": "routed", "link": ""})
    assert ["ip", "route", "replace", "192.0.2.8/32", "proto", "static", "dev",
            "gnt.web1.1"] in fake_cmds.calls
    assert not [c for c in fake_cmds.calls if c[:2] == ["ip", "rule"]]
    with pytest.raises(errors.HypervisorError, match="no IP address"):
        network.plug_nic("web1", 2, "aa:00:00:00:00:02", None, {"mode": "routed"})
    assert "gnt.web1.2" not in fake_cmds.links     # removed again after the failure
    with pytest.raises(errors.HypervisorError, match="openvswitch is not supported"):
        network.plug_nic("web1", 3, "aa:00:00:00:00:03", None,
                         {"mode": "openvswitch", "link": "switch1"})


def test_bridged_nic_checks_bridge(fake_cmds):
    fake_cmds.links.add("eth9")
    with pytest.raises(errors.HypervisorError, match="'eth9' is not a bridge"):
        network.plug_nic("web1", 0, "aa:00:00:00:00:01", None,
                         {"mode": "bridged", "link": "eth9"})
    with pytest.raises(errors.HypervisorError, match="VLAN filtering disabled"):
        network.plug_nic("web1", 0, "aa:00:00:00:00:01", None,
                         {"mode": "bridged", "link": "br0", "vlan": ".10"})
    assert fake_cmds.links == {"eth9"}


def test_stale_tap_is_replaced(fake_cmds):
    fake_cmds.links.add("gnt.web1.0")
    network.plug_nic("web1", 0, "aa:00:00:00:00:01", None,
                     {"mode": "bridged", "link": "br0"})
    plain = [c for c in fake_cmds.calls if c[:2] not in (["ip", "-o"], ["ip", "-d"])]
    assert plain[:2] == [["ip", "link", "del", "dev", "gnt.web1.0"],
                         ["ip", "tuntap", "add", "dev", "gnt.web1.0", "mode", "tap"]]


def test_parse_vlan():
    assert network.parse_vlan("") == (None, [])
    assert network.parse_vlan(".10") == (10, [])
    assert network.parse_vlan("10") == (10, [])
    assert network.parse_vlan(":20:30") == (None, [20, 30])
    assert network.parse_vlan(".10:20") == (10, [20])
    for bad in ("x", ".5000", ":0"):
        with pytest.raises(errors.HypervisorError):
            network.parse_vlan(bad)


def test_incoming_uri_and_cmdline():
    assert kvm_cmdline.incoming_uri("192.0.2.5", 8102) == "tcp:192.0.2.5:8102"
    assert kvm_cmdline.incoming_uri("2001:db8::5", 8102) == "tcp:[2001:db8::5]:8102"
    cmd = kvm_cmdline.build_command("inst1", _params(), {"maxmem": 128, "vcpus": 1}, [],
                                    [], _paths(), incoming=("192.0.2.5", 8102))
    assert _value(cmd, "-incoming") == "tcp:192.0.2.5:8102"
    assert "-incoming" not in kvm_cmdline.build_command(
        "inst1", _params(), {"maxmem": 128, "vcpus": 1}, [], [], _paths())


def test_migration_source_side_through_qmp(tmp_path):
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path))
    inst = _instance(migration_bandwidth=50, migration_downtime=100,
                     migration_caps="xbzrle:auto-converge")
    name = inst.name
    hv.save_runtime(name, {"instance": inst.to_dict(), "hvparams": _params(),
                           "beparams": {"maxmem": 256, "vcpus": 2}, "nics": []})
    proc = _fake_qemu(name)
    _write_pid(hv, name, proc.pid)
    os.makedirs(os.path.dirname(hv.paths(name).qmp_socket))
    state = {"status": "running", "migrate": {}}

    def migrate(args, send):
        state["migrate"] = {"status": "active",
                            "ram": {"transferred": 10 << 20, "total": 256 << 20}}
        return {}

    def stop(args, send):
        state["status"] = "paused"
        return {}

    def cont(args, send):
        state["status"] = "running"
        return {}

    server = FakeQmpServer(hv.paths(name).qmp_socket, {
        "stop": stop, "cont": cont, "migrate": migrate,
        "migrate-set-parameters": lambda a, s: {},
        "migrate-set-capabilities": lambda a, s: {},
        "migrate_cancel": lambda a, s: {},
        "query-migrate": lambda a, s: state["migrate"],
        "query-status": lambda a, s: {"status": state["status"],
                                      "running": state["status"] == "running"},
        "quit": lambda a, s: proc.terminate() or {},
    })
    try:
        assert hv.migration_info(inst)["beparams"] == {"maxmem": 256, "vcpus": 2}
        hv.migrate_instance("cluster", inst, "192.0.2.7", False)
        sent = [(m["execute"], m.get("arguments")) for m in server.received
                if m.get("execute") != "qmp_capabilities"]
        assert sent == [
            ("stop", None),
            ("migrate-set-parameters", {"max-bandwidth": 50 << 20, "downtime-limit": 100}),
            ("migrate-set-capabilities", {"capabilities": [
                {"capability": "xbzrle", "state": True},
                {"capability": "auto-converge", "state": True}]}),
            ("migrate", {"uri": "tcp:192.0.2.7:8102"})]
        status = hv.get_migration_status(inst)
        assert (status["status"], status["transferred_ram"], status["total_ram"]) == \
            ("active", 10 << 20, 256 << 20)
        assert status["status"] in hv_base.MIGRATION_ACTIVE
        # a failed (non-live) migration: cancelled, and the guest runs on here
        hv.finalize_migration_src(inst, False, False)
        assert state["status"] == "running" and proc.poll() is None
        # a successful one ends the source's QEMU and its runtime files
        state["migrate"] = {"status": "completed", "total-time": 900, "downtime": 40}
        hv.finalize_migration_src(inst, True, True)
        proc.wait(timeout=5)
    finally:
        server.close()
        if proc.poll() is None:
            proc.kill()
    assert not os.path.exists(hv.paths(name).runtime_file)
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv.migration_info(inst)


def test_accept_needs_migration_info(tmp_path):
    hv = hv_kvm.KVMHypervisor(run_dir=str(tmp_path))
    with pytest.raises(errors.HypervisorError, match="Invalid migration information"):
        hv.accept_instance(_instance(), {}, "192.0.2.7", [])


def test_versions_safe_for_migration():
    kvm = get_hypervisor_class(constants.HT_KVM)
    assert kvm.versions_safe_for_migration([7, 2, 22], [7, 2, 0])
    assert not kvm.versions_safe_for_migration([7, 2, 0], [8, 0, 0])
