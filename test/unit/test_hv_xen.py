"""hv_xen: the xl toolstack, replayed from recorded output (test/unit/data/xen/)."""

import os

import pytest

from ganeti import constants, errors, hypervisor, objects
from ganeti.hypervisor import hv_base, hv_xen
from ganeti.utils import process

DATA = os.path.join(os.path.dirname(__file__), "data", "xen")


def _data(name):
    with open(os.path.join(DATA, name)) as fd:
        return fd.read()


class FakeXl:
    """Stands in for run_cmd: answers argv tuples from a table, records calls."""

    def __init__(self, answers=None):
        self.answers = dict(answers or {})
        self.calls = []

    def __call__(self, cmd, env=None, reset_env=False, timeout=None, cwd="/",
                 input_data=None):
        self.calls.append((list(cmd), timeout))
        answer = self.answers.get(tuple(cmd), (0, "", ""))
        if callable(answer):
            answer = answer()
        if answer == "timeout":
            return process.RunResult(cmd, None, 9, "", "", timed_out=True)
        code, out, err = answer
        return process.RunResult(cmd, code, None, out, err)

    def argvs(self):
        return [c for c, _ in self.calls]


NOT_FOUND = (1, "", _data("xl-list-web1-not-found.stderr"))


@pytest.fixture
def xl(monkeypatch):
    fake = FakeXl({("xl", "list"): (0, _data("xl-list.txt"), ""),
                   ("xl", "info"): (0, _data("xl-info.txt"), "")})
    monkeypatch.setattr(process, "run_cmd", fake)
    return fake


def _pvm(tmp_path):
    return hv_xen.XenPvmHypervisor(config_dir=str(tmp_path / "config"))


def _hvm(tmp_path):
    return hv_xen.XenHvmHypervisor(config_dir=str(tmp_path / "config"))


def _inst(name="web1.example.com", hv_name=constants.HT_XEN_PVM, hvparams=None,
          nics=None, disks=None, network_port=None):
    hvp = hv_base.defaults_for(hv_name)
    hvp.update(hvparams or {})
    if nics is None:
        nics = [objects.NIC(mac="aa:00:00:35:d0:01",
                            nicparams={"mode": "bridged", "link": "xen-br0", "vlan": ""})]
    return objects.Instance(name=name, primary_node="node1.example.com",
                            hypervisor=hv_name, hvparams=hvp,
                            beparams={"maxmem": 2048, "minmem": 1024, "vcpus": 2},
                            nics=nics, disks=disks or [], network_port=network_port)


def _plain_disk(idx):
    return ({"dev_type": "plain", "logical_id": ["xenvg", "disk%d" % idx], "mode": "rw",
             "size": 1024}, "/dev/xenvg/disk%d" % idx,
            "/var/run/ganeti/instance-disks/web1.example.com:%d" % idx)


def test_registered_under_their_names():
    assert hypervisor.get_hypervisor_class(constants.HT_XEN_PVM) is hv_xen.XenPvmHypervisor
    assert hypervisor.get_hypervisor_class(constants.HT_XEN_HVM) is hv_xen.XenHvmHypervisor


# ---- listing and node info -------------------------------------------------------------

def test_list_parses_recorded_output(xl, tmp_path):
    hv = _pvm(tmp_path)
    # Domain-0 is not an instance; a domain shut down from inside does not run
    assert hv.list_instances() == ["web1.example.com", "db1.example.com",
                                   "win.example.com"]
    infos = dict((i.name, i) for i in hv.get_all_instances_info())
    assert sorted(infos) == ["build.example.com", "db1.example.com",
                             "web1.example.com", "win.example.com"]
    web1 = infos["web1.example.com"]
    assert (web1.id, web1.memory, web1.vcpus, web1.state, web1.cpu_time) == \
        (3, 2048, 2, hv_base.STATE_RUNNING, 5321.9)
    assert infos["build.example.com"].state == hv_base.STATE_SHUTDOWN
    assert xl.argvs() == [["xl", "list"], ["xl", "list"]]


def test_instance_info_of_one_domain(xl, tmp_path):
    xl.answers[("xl", "list", "web1.example.com")] = (0, _data("xl-list-web1.txt"), "")
    xl.answers[("xl", "list", "gone.example.com")] = NOT_FOUND
    hv = _pvm(tmp_path)
    info = hv.get_instance_info("web1.example.com")
    assert info.to_dict() == {"name": "web1.example.com", "id": 3, "memory": 2048,
                              "vcpus": 2, "state": "running", "time": 5321.9}
    assert hv.get_instance_info("gone.example.com") is None


def test_list_failure_is_a_hypervisor_error(xl, tmp_path):
    xl.answers[("xl", "list")] = (1, "", "xl: cannot init xl context\n")
    with pytest.raises(errors.HypervisorError, match="cannot init xl context"):
        _pvm(tmp_path).list_instances()
    assert _pvm(tmp_path).verify() is None
    xl.answers[("xl", "info")] = (1, "", "xl: cannot init xl context\n")
    assert "cannot init xl context" in _pvm(tmp_path).verify()


def test_garbage_in_the_list_is_reported(xl, tmp_path):
    xl.answers[("xl", "list")] = (0, _data("xl-list.txt") + "what is this\n", "")
    with pytest.raises(errors.HypervisorError, match="what is this"):
        _pvm(tmp_path).list_instances()


def test_state_letters():
    assert hv_xen._xen_state("r-----") == hv_base.STATE_RUNNING
    assert hv_xen._xen_state("-b----") == hv_base.STATE_RUNNING
    assert hv_xen._xen_state("------") == hv_base.STATE_RUNNING
    assert hv_xen._xen_state("--p---") == hv_base.STATE_PAUSED
    assert hv_xen._xen_state("---s--") == hv_base.STATE_SHUTDOWN
    assert hv_xen._xen_state("---sr-") == hv_base.STATE_RUNNING      # rebooting
    assert hv_xen._xen_state("---ss-") == hv_base.STATE_RUNNING      # migrating
    assert hv_xen._xen_state("---sc-") is None                       # crashed


def test_node_info_from_xl_info_and_list(xl, tmp_path):
    info = _pvm(tmp_path).get_node_info()
    domains = 4096 + 2048 + 4096 + 1024 + 2051
    assert info == {"memory_total": 32639, "memory_free": 18973, "memory_dom0": 4096,
                    "memory_hv": 32639 - 18973 - domains, "cpu_total": 8,
                    "cpu_nodes": 1, "cpu_sockets": 1, "cpu_dom0": 4,
                    "hv_version": [4, 17]}
    assert xl.argvs() == [["xl", "info"], ["xl", "list"]]


def test_node_info_on_a_node_without_guests(xl, tmp_path):
    xl.answers[("xl", "list")] = (0, _data("xl-list-dom0-only.txt"), "")
    info = _pvm(tmp_path).get_node_info()
    assert info["memory_dom0"] == 4096 and info["memory_hv"] == 32639 - 18973 - 4096


def test_xen_cmd_parameter_picks_the_tool(xl, tmp_path):
    xl.answers[("xm", "list")] = (0, _data("xl-list.txt"), "")
    _pvm(tmp_path).list_instances({"xen_cmd": "xm"})
    assert xl.argvs() == [["xm", "list"]]


# ---- start -------------------------------------------------------------------------------

def test_start_pvm_writes_config_and_creates(xl, tmp_path):
    xl.answers[("xl", "list", "web1.example.com")] = NOT_FOUND
    hv = _pvm(tmp_path)
    inst = _inst(hvparams={"initrd_path": "/boot/initrd-3-xenU", "cpu_mask": "1-3",
                           "cpu_cap": 50})
    hv.start_instance(inst, [_plain_disk(0), _plain_disk(1)], False)
    path = str(tmp_path / "config" / "web1.example.com")
    assert xl.argvs()[-1] == ["xl", "create", path]
    text = open(path).read()
    lines = text.splitlines()
    assert lines[0].startswith("# Generated by Ganeti")
    assert "type = 'pv'" in lines
    assert "kernel = '/boot/vmlinuz-3-xenU'" in lines
    assert "ramdisk = '/boot/initrd-3-xenU'" in lines
    assert "root = '/dev/xvda1'" in lines
    assert "extra = 'ro'" in lines
    assert "name = 'web1.example.com'" in lines
    assert "memory = 2048" in lines and "maxmem = 2048" in lines
    assert "vcpus = 2" in lines
    assert "cpus = '1-3'" in lines
    assert "cap = 50" in lines and "cpu_weight = 256" in lines
    assert "vif = ['mac=aa:00:00:35:d0:01, bridge=xen-br0']" in lines
    assert ("disk = ['phy:/dev/xenvg/disk0,sda,w', 'phy:/dev/xenvg/disk1,sdb,w']"
            in lines)
    assert "on_reboot = 'restart'" in lines and "on_poweroff = 'destroy'" in lines
    assert "bootloader" not in text
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_start_paused_with_bootloader_and_file_disks(xl, tmp_path):
    xl.answers[("xl", "list", "web1.example.com")] = NOT_FOUND
    hv = _pvm(tmp_path)
    inst = _inst(hvparams={"use_bootloader": True, "bootloader_path": "/usr/bin/pygrub",
                           "bootloader_args": "--entry=1 -q", "blockdev_prefix": "xvd",
                           "cpu_mask": "0:1-2", "reboot_behavior": "exit",
                           "vif_script": "/etc/xen/scripts/vif-custom"},
                 nics=[objects.NIC(mac="aa:00:00:35:d0:02", ip="192.0.2.10",
                                   nicparams={"mode": "routed", "link": "rt100"})])
    disks = [({"dev_type": "file", "logical_id": ["loop", "/srv/f/web1/disk0"],
               "mode": "rw"}, "/srv/f/web1/disk0", "l0"),
             ({"dev_type": "file", "logical_id": ["blktap", "/srv/f/web1/disk1"],
               "mode": "ro"}, "/srv/f/web1/disk1", "l1")]
    hv.start_instance(inst, disks, True)
    path = str(tmp_path / "config" / "web1.example.com")
    assert xl.argvs()[-1] == ["xl", "create", "-p", path]
    lines = open(path).read().splitlines()
    assert "bootloader = '/usr/bin/pygrub'" in lines
    assert "bootloader_args = ['--entry=1', '-q']" in lines
    assert not [x for x in lines if x.startswith(("kernel", "root", "ramdisk"))]
    assert ("disk = ['file:/srv/f/web1/disk0,xvda,w', 'tap:aio:/srv/f/web1/disk1,xvdb,r']"
            in lines)
    assert ("vif = ['mac=aa:00:00:35:d0:02, ip=192.0.2.10,"
            " script=/etc/xen/scripts/vif-custom']" in lines)
    assert "cpus = ['0', '1-2']" in lines
    assert "on_reboot = 'destroy'" in lines


def test_start_of_a_running_instance_is_refused(xl, tmp_path):
    xl.answers[("xl", "list", "web1.example.com")] = (0, _data("xl-list-web1.txt"), "")
    with pytest.raises(errors.HypervisorError, match="already running"):
        _pvm(tmp_path).start_instance(_inst(), [], False)
    assert not os.path.exists(str(tmp_path / "config" / "web1.example.com"))


def test_failed_create_cleans_up(xl, tmp_path):
    path = str(tmp_path / "config" / "web1.example.com")
    xl.answers[("xl", "list", "web1.example.com")] = NOT_FOUND
    xl.answers[("xl", "create", path)] = (
        3, "", "libxl: error: libxl_create.c:1676:domcreate_launch_dm: Domain 9:"
               "device model did not start: -3\n")
    with pytest.raises(errors.HypervisorError, match="device model did not start"):
        _pvm(tmp_path).start_instance(_inst(), [], False)
    assert ["xl", "destroy", "web1.example.com"] in xl.argvs()
    assert not os.path.exists(path)


def test_values_that_would_break_the_config_are_refused(xl, tmp_path):
    xl.answers[("xl", "list", "web1.example.com")] = NOT_FOUND
    with pytest.raises(errors.HypervisorError, match="cannot be written"):
        _pvm(tmp_path).start_instance(_inst(hvparams={"kernel_args": "ro'\nx=1"}), [],
                                      False)


# ---- stop and reboot ----------------------------------------------------------------------

def _with_config(tmp_path):
    path = tmp_path / "config" / "web1.example.com"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("name = 'web1.example.com'\n")
    return path


def test_clean_stop(xl, tmp_path):
    cfg = _with_config(tmp_path)
    xl.answers[("xl", "list", "web1.example.com")] = (0, _data("xl-list-web1.txt"), "")
    _pvm(tmp_path).stop_instance(_inst(), timeout=30)
    assert xl.calls[-1] == (["xl", "shutdown", "-w", "web1.example.com"], 30)
    assert not cfg.exists()


def test_stop_that_times_out_destroys(xl, tmp_path):
    cfg = _with_config(tmp_path)
    xl.answers[("xl", "list", "web1.example.com")] = (0, _data("xl-list-web1.txt"), "")
    xl.answers[("xl", "shutdown", "-w", "web1.example.com")] = "timeout"
    _pvm(tmp_path).stop_instance(_inst(), timeout=5)
    assert xl.argvs()[-2:] == [["xl", "shutdown", "-w", "web1.example.com"],
                               ["xl", "destroy", "web1.example.com"]]
    assert not cfg.exists()


def test_forced_stop_and_stop_of_a_stopped_instance(xl, tmp_path):
    xl.answers[("xl", "list", "web1.example.com")] = (0, _data("xl-list-web1.txt"), "")
    hv = _pvm(tmp_path)
    hv.stop_instance(_inst(), force=True)
    assert xl.argvs()[-1] == ["xl", "destroy", "web1.example.com"]
    assert ["xl", "shutdown", "-w", "web1.example.com"] not in xl.argvs()
    xl.calls.clear()
    xl.answers[("xl", "list", "web1.example.com")] = NOT_FOUND
    cfg = _with_config(tmp_path)
    hv.stop_instance(_inst())
    assert xl.argvs() == [["xl", "list", "web1.example.com"]]
    assert not cfg.exists()


def test_domain_shut_down_from_inside_is_destroyed(xl, tmp_path):
    header, build = [line for line in _data("xl-list.txt").splitlines()
                     if line.startswith(("Name", "build"))]
    xl.answers[("xl", "list", "build.example.com")] = (0, header + "\n" + build + "\n",
                                                        "")
    _pvm(tmp_path).stop_instance(_inst("build.example.com"), timeout=30)
    assert xl.argvs()[-1] == ["xl", "destroy", "build.example.com"]


def test_failed_destroy_of_a_domain_still_there(xl, tmp_path):
    xl.answers[("xl", "list", "web1.example.com")] = (0, _data("xl-list-web1.txt"), "")
    xl.answers[("xl", "destroy", "web1.example.com")] = (1, "", "libxl: error: busy\n")
    with pytest.raises(errors.HypervisorError, match="Failed to stop"):
        _pvm(tmp_path).stop_instance(_inst(), force=True)


def test_reboot_waits_for_the_new_domain(xl, tmp_path):
    answers = iter([_data("xl-list-web1.txt"), _data("xl-list-web1.txt"),
                    _data("xl-list-web1-rebooted.txt")])
    xl.answers[("xl", "list", "web1.example.com")] = lambda: (0, next(answers), "")
    hv = _pvm(tmp_path)
    hv._sleep = lambda s: None
    hv.reboot_instance(_inst())
    assert xl.argvs().count(["xl", "reboot", "web1.example.com"]) == 1
    assert xl.argvs().count(["xl", "list", "web1.example.com"]) == 3


def test_reboot_errors(xl, tmp_path):
    hv = _pvm(tmp_path)
    hv._sleep = lambda s: None
    xl.answers[("xl", "list", "web1.example.com")] = NOT_FOUND
    with pytest.raises(errors.HypervisorError, match="not running"):
        hv.reboot_instance(_inst())
    xl.answers[("xl", "list", "web1.example.com")] = (0, _data("xl-list-web1.txt"), "")
    hv.reboot_timeout = 0
    with pytest.raises(errors.HypervisorError, match="did not come back"):
        hv.reboot_instance(_inst())


# ---- HVM ----------------------------------------------------------------------------------

def test_start_hvm_config(xl, tmp_path):
    pw = tmp_path / "vnc-pw"
    pw.write_text("s3cret\n")
    xl.answers[("xl", "list", "win.example.com")] = NOT_FOUND
    hv = _hvm(tmp_path)
    inst = _inst("win.example.com", constants.HT_XEN_HVM, network_port=11004,
                 hvparams={"vnc_password_file": str(pw),
                           "cdrom_image_path": "/srv/iso/install.iso",
                           "pci_pass": "0000:03:00.0;0000:03:00.1",
                           "use_localtime": True})
    hv.start_instance(inst, [_plain_disk(0), _plain_disk(1)], False)
    lines = open(str(tmp_path / "config" / "win.example.com")).read().splitlines()
    assert "type = 'hvm'" in lines
    # the xm-era hvmloader and qemu-dm defaults are left to xl
    assert not [x for x in lines if x.startswith(("kernel", "firmware", "device_model"))]
    for line in ("boot = 'cd'", "acpi = 1", "pae = 1", "viridian = 0", "vnc = 1",
                 "vnclisten = '0.0.0.0'", "vncdisplay = 5104", "vncunused = 0",
                 "vncpasswd = 's3cret'", "serial = 'pty'", "localtime = 1",
                 "vif = ['mac=aa:00:00:35:d0:01, model=rtl8139, type=ioemu,"
                 " bridge=xen-br0']",
                 "disk = ['phy:/dev/xenvg/disk0,hda,w', 'phy:/dev/xenvg/disk1,hdb,w',"
                 " 'file:/srv/iso/install.iso,hdc:cdrom,r']",
                 "pci = ['0000:03:00.0', '0000:03:00.1']"):
        assert line in lines, line


def test_hvm_paravirtual_nics_no_vnc_and_acpi_shutdown(xl, tmp_path):
    xl.answers[("xl", "list", "win.example.com")] = NOT_FOUND
    hv = _hvm(tmp_path)
    inst = _inst("win.example.com", constants.HT_XEN_HVM,
                 hvparams={"nic_type": "paravirtual", "vnc_bind_address": "",
                           "acpi": False, "device_model": "/usr/local/bin/qemu"})
    hv.start_instance(inst, [], False)
    lines = open(str(tmp_path / "config" / "win.example.com")).read().splitlines()
    assert "vif = ['mac=aa:00:00:35:d0:01, type=vif, bridge=xen-br0']" in lines
    assert "vnc = 0" in lines and "acpi = 0" in lines
    assert "device_model_override = '/usr/local/bin/qemu'" in lines
    xl.answers[("xl", "list", "win.example.com")] = (0, _data("xl-list.txt"), "")
    hv.stop_instance(inst, timeout=60)
    assert xl.argvs()[-1] == ["xl", "shutdown", "-w", "-F", "win.example.com"]


def test_hvm_missing_vnc_password_file(xl, tmp_path):
    xl.answers[("xl", "list", "win.example.com")] = NOT_FOUND
    inst = _inst("win.example.com", constants.HT_XEN_HVM,
                 hvparams={"vnc_password_file": str(tmp_path / "nope")})
    with pytest.raises(errors.HypervisorError, match="VNC password file"):
        _hvm(tmp_path).start_instance(inst, [], False)
    with pytest.raises(errors.HypervisorError, match="VNC password file"):
        _hvm(tmp_path).validate_parameters(inst.hvparams)


# ---- consoles and parameters -----------------------------------------------------------

def test_consoles():
    inst = _inst()
    assert hv_xen.XenPvmHypervisor.get_instance_console(
        inst, "node1.example.com", None, inst.hvparams, inst.beparams) == {
            "instance": "web1.example.com", "kind": "ssh", "host": "node1.example.com",
            "user": "root", "command": ["xl", "console", "web1.example.com"]}
    hvm = _inst("win.example.com", constants.HT_XEN_HVM, network_port=11004)
    assert hv_xen.XenHvmHypervisor.get_instance_console(
        hvm, "node1.example.com", None, hvm.hvparams, hvm.beparams) == {
            "instance": "win.example.com", "kind": "vnc", "host": "node1.example.com",
            "port": 11004, "display": 5104}
    bound = dict(hvm.hvparams, vnc_bind_address="192.0.2.1")
    assert hv_xen.XenHvmHypervisor.get_instance_console(
        hvm, "node1.example.com", None, bound, {})["host"] == "192.0.2.1"


def test_parameter_checks():
    for cls, name in ((hv_xen.XenPvmHypervisor, constants.HT_XEN_PVM),
                      (hv_xen.XenHvmHypervisor, constants.HT_XEN_HVM)):
        defaults = hv_base.defaults_for(name)
        assert set(defaults) <= set(cls.PARAMETERS)
        cls.check_parameter_syntax(defaults)
        for bad in ({"cpu_mask": "0-x"}, {"cpu_mask": "3-1"}, {"cpu_weight": 0},
                    {"blockdev_prefix": "s/d"}, {"xen_cmd": "virsh"},
                    {"migration_port": 70000}):
            with pytest.raises(errors.HypervisorError):
                cls.check_parameter_syntax(bad)
    hv_xen.XenHvmHypervisor.check_parameter_syntax({"boot_order": "dc",
                                                     "vnc_bind_address": "::1"})
    for bad in ({"boot_order": "x"}, {"vnc_bind_address": "example.com"},
                {"nic_type": "virtio"}):
        with pytest.raises(errors.HypervisorError):
            hv_xen.XenHvmHypervisor.check_parameter_syntax(bad)
    with pytest.raises(errors.HypervisorError, match="kernel"):
        hv_xen.XenPvmHypervisor.check_parameter_syntax({"kernel_path": ""})
    with pytest.raises(errors.HypervisorError, match="bootloader_path"):
        hv_xen.XenPvmHypervisor.check_parameter_syntax({"use_bootloader": True})
    assert hv_xen.parse_cpu_mask("all") == ["all"]
    assert hv_xen.parse_cpu_mask("0-1,4:all:3") == ["0-1,4", "all", "3"]


def test_pvm_node_side_validation(tmp_path):
    hv = _pvm(tmp_path)
    with pytest.raises(errors.HypervisorError, match="kernel"):
        hv.validate_parameters({"kernel_path": str(tmp_path / "vmlinuz")})
    (tmp_path / "vmlinuz").write_text("")
    hv.validate_parameters({"kernel_path": str(tmp_path / "vmlinuz")})
