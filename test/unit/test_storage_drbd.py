"""storage.drbd: /proc/drbd as DRBD 8.4.11 writes it (data/drbd/, recorded on the
QA VM nodes during a resync) and the drbdsetup/drbdmeta calls of a disk's life,
with a fake at the process boundary."""

import os

import pytest

from ganeti import errors
from ganeti.storage import base, drbd
from ganeti.utils import process

DATA = os.path.join(os.path.dirname(__file__), "data", "drbd")
UNIQUE_ID = ["node1.example.com", "node2.example.com", 11000, 3, 0, "s3cr3t"]
DYN = {"local_ip": "10.78.1.11", "local_minor": 3, "remote_ip": "10.78.1.12",
       "remote_minor": 0}


def _read(name):
    with open(os.path.join(DATA, name)) as fd:
        return fd.read()


def test_parse_proc_drbd_during_a_resync():
    source = drbd.parse_proc_drbd(_read("proc-drbd-syncsource.txt"))
    assert sorted(source) == [0, 1, 3]
    assert source[0].standalone and source[0].local_role == "Primary"
    assert not source[1].configured
    st = source[3]
    assert (st.cstate, st.local_role, st.peer_role, st.local_disk, st.peer_disk) == \
        ("SyncSource", "Primary", "Secondary", "UpToDate", "Inconsistent")
    assert st.in_resync and st.sync_percent == 21.6 and st.eta == 7
    target = drbd.parse_proc_drbd(_read("proc-drbd-synctarget.txt"))
    assert target[3].cstate == "SyncTarget" and target[3].sync_percent == 23.1
    assert target[4].connected and target[4].sync_percent is None


class Fake:
    """/proc/drbd text and the commands run."""

    def __init__(self, monkeypatch, proc_text):
        self.proc_text = proc_text
        self.calls = []
        monkeypatch.setattr(drbd, "read_proc_drbd",
                            lambda path=None: drbd.parse_proc_drbd(self.proc_text))
        monkeypatch.setattr(process, "run_cmd", self)

    def __call__(self, argv, env=None, timeout=None, **kwargs):
        self.calls.append(list(argv))
        return process.RunResult(argv, 0, None, "", "")


class FakeLv(base.BlockDev):
    def __init__(self, path, size_mib):
        super().__init__(["xenvg", os.path.basename(path)], [], size_mib, {}, {})
        self._dev_path = path
        self.attached = True

    def get_actual_size(self):
        return self.size * base.MIB


def _dev(fake, **params):
    children = [FakeLv("/dev/xenvg/u.disk0_data", 1024),
                FakeLv("/dev/xenvg/u.disk0_meta", 128)]
    return drbd.DRBD8(UNIQUE_ID, children, 1024, params, DYN)


def test_sync_status_of_each_end(monkeypatch):
    fake = Fake(monkeypatch, _read("proc-drbd-syncsource.txt"))
    status = _dev(fake).get_sync_status()
    assert (status["sync_percent"], status["estimated_time"], status["is_degraded"],
            status["ldisk_status"]) == (21.6, 7, False, base.LDS_OKAY)
    fake.proc_text = _read("proc-drbd-synctarget.txt")
    status = _dev(fake).get_sync_status()
    assert status["is_degraded"] and status["ldisk_status"] == base.LDS_UNKNOWN
    fake.proc_text = fake.proc_text.replace(" 4:", " 9:").replace(" 3:", " 4:").replace(
        " 9:", " 3:")
    status = _dev(fake).get_sync_status()         # minor 3 is the Connected one now
    assert status["sync_percent"] is None and not status["is_degraded"]


def test_create_assemble_open_shutdown_commands(monkeypatch, tmp_path):
    fake = Fake(monkeypatch, "version: 8.4.11\n")
    monkeypatch.setattr(drbd, "_zero_start", lambda path, mib=1: None)
    children = [FakeLv("/dev/xenvg/u.disk0_data", 1024),
                FakeLv("/dev/xenvg/u.disk0_meta", 128)]
    dev = drbd.DRBD8.create(UNIQUE_ID, children, 1024, None, {}, False, DYN)
    assert fake.calls == [["drbdmeta", "--force", "/dev/drbd3", "v08",
                           "/dev/xenvg/u.disk0_meta", "0", "create-md"]]
    fake.calls = []
    fake.proc_text = "version: 8.4.11\n 3: cs:StandAlone ro:Secondary/Unknown" \
                     " ds:UpToDate/DUnknown   r-----\n"
    monkeypatch.setattr(drbd.DRBD8, "_status", lambda self: None if not fake.calls
                        else drbd.parse_proc_drbd(fake.proc_text)[3])
    dev.assemble()
    assert [c[:3] for c in fake.calls] == [
        ["drbdmeta", "/dev/drbd3", "v08"], ["drbdsetup", "new-resource", "resource3"],
        ["drbdsetup", "new-minor", "resource3"], ["drbdsetup", "attach", "3"],
        ["drbdsetup", "connect", "resource3"]]
    attach, connect = fake.calls[3], fake.calls[4]
    assert attach[3:] == ["/dev/xenvg/u.disk0_data", "/dev/xenvg/u.disk0_meta", "0",
                          "--on-io-error", "detach", "--resync-rate", "61440k",
                          "--c-plan-ahead", "0"]
    assert connect[3:5] == ["ipv4:10.78.1.11:11000", "ipv4:10.78.1.12:11000"]
    assert connect[connect.index("--protocol") + 1] == "C"
    assert connect[connect.index("--shared-secret") + 1] == "s3cr3t"
    fake.calls = []
    dev.open(force=True)
    dev.close()
    dev.shutdown()
    assert fake.calls == [["drbdsetup", "primary", "3", "--force"],
                          ["drbdsetup", "secondary", "3"],
                          ["drbdsetup", "show", "3"],
                          ["drbdsetup", "down", "resource3"]]


def test_refusals(monkeypatch):
    fake = Fake(monkeypatch, "version: 8.4.11\n 3: cs:Connected ro:Secondary/Primary"
                " ds:UpToDate/UpToDate C r-----\n")
    with pytest.raises(errors.BlockDeviceError, match="without this node's parameters"):
        drbd.DRBD8(UNIQUE_ID, [], 1024, {}, {})
    with pytest.raises(errors.BlockDeviceError, match="expected"):
        drbd.DRBD8(UNIQUE_ID[:4], [], 1024, {}, DYN)
    small = [FakeLv("/dev/xenvg/d", 1024), FakeLv("/dev/xenvg/m", 64)]
    with pytest.raises(errors.BlockDeviceError, match="already in use"):
        drbd.DRBD8.create(UNIQUE_ID, small, 1024, None, {}, False, DYN)
    fake.proc_text = "version: 8.4.11\n"
    with pytest.raises(errors.BlockDeviceError, match="too small"):
        drbd.DRBD8.create(UNIQUE_ID, small, 1024, None, {}, False, DYN)
    assert fake.calls == []


def test_grow_backing_store_then_resize(monkeypatch):
    fake = Fake(monkeypatch, "version: 8.4.11\n 3: cs:Connected ro:Primary/Secondary"
                " ds:UpToDate/UpToDate C r-----\n")
    grown = []
    dev = _dev(fake)
    dev.children[0].grow = lambda amount, dryrun, bs, excl: grown.append((amount, dryrun))
    dev.grow(128, True, True, False)
    dev.grow(128, False, True, False)
    assert grown == [(128, True), (128, False)] and fake.calls == []
    dev.grow(128, False, False, False)
    assert fake.calls == [["drbdsetup", "resize", "3", "--size", "1152m"]]




def _line(cstate, roles, disks):
    return "version: 8.4.11\n 3: cs:%s ro:%s ds:%s C r-----\n" % (cstate, roles, disks)


def test_replacing_the_local_storage(monkeypatch):
    """replace-disks -p/-s: detach the old volumes, attach new ones with fresh
    metadata (only to a diskless device)."""
    fake = Fake(monkeypatch, _line("Connected", "Secondary/Primary", "UpToDate/UpToDate"))
    monkeypatch.setattr(drbd, "_zero_start", lambda path, mib=1: None)
    dev = _dev(fake)
    assert not dev.needs_activation()
    new = [FakeLv("/dev/xenvg/n.disk0_data", 1024), FakeLv("/dev/xenvg/n.disk0_meta", 128)]
    with pytest.raises(errors.BlockDeviceError, match="still has its local storage"):
        dev.add_children(new)
    dev.remove_children()
    assert fake.calls == [["drbdsetup", "detach", "3"]]
    fake.calls = []
    fake.proc_text = _line("Connected", "Secondary/Primary", "Diskless/UpToDate")
    assert dev.needs_activation()
    dev.add_children(new)
    assert [c[:3] for c in fake.calls] == [["drbdmeta", "--force", "/dev/drbd3"],
                                          ["drbdsetup", "attach", "3"]]
    assert fake.calls[0][4:] == ["/dev/xenvg/n.disk0_meta", "0", "create-md"]
    assert fake.calls[1][3:5] == ["/dev/xenvg/n.disk0_data", "/dev/xenvg/n.disk0_meta"]


def test_a_half_without_port_stays_off_the_network(monkeypatch):
    """replace-disks -n makes the new secondary's half before it may connect."""
    fake = Fake(monkeypatch, "version: 8.4.11\n")
    alone = UNIQUE_ID[:2] + [None] + UNIQUE_ID[3:]
    children = [FakeLv("/dev/xenvg/u.disk0_data", 1024),
                FakeLv("/dev/xenvg/u.disk0_meta", 128)]
    dev = drbd.DRBD8(alone, children, 1024, {}, DYN)
    monkeypatch.setattr(drbd.DRBD8, "_status", lambda self: None if not fake.calls
                        else drbd.parse_proc_drbd(_line("StandAlone", "Secondary/Unknown",
                                                        "Inconsistent/DUnknown"))[3])
    dev.assemble()
    assert [c[1] for c in fake.calls] == ["/dev/drbd3", "new-resource", "new-minor",
                                          "attach"]
    with pytest.raises(errors.BlockDeviceError, match="no port"):
        dev.attach_net(False)


def test_needs_activation_and_reattaching_lost_disks(monkeypatch):
    fake = Fake(monkeypatch, _line("StandAlone", "Primary/Unknown", "UpToDate/DUnknown"))
    dev = _dev(fake)
    assert dev.needs_activation()
    fake.proc_text = _line("WFConnection", "Primary/Unknown", "UpToDate/DUnknown")
    assert not dev.needs_activation()
    # a device that lost its disks (I/O error) gets them back on assemble
    fake.proc_text = _line("Connected", "Primary/Secondary", "Diskless/UpToDate")
    dev.assemble()
    assert [c[:2] for c in fake.calls] == [["drbdmeta", "/dev/drbd3"],
                                          ["drbdsetup", "attach"]]
    assert fake.calls[0][-1] == "apply-al"


def test_usermode_helper_is_set_before_use(monkeypatch, tmp_path):
    """The cluster's helper (in the dynamic parameters) replaces the module's
    before a device is made or connected; an unloaded module is left alone."""
    param = tmp_path / "usermode_helper"
    param.write_text("/sbin/drbdadm\n")
    monkeypatch.setattr(drbd, "HELPER_PARAM", str(param))
    fake = Fake(monkeypatch, "version: 8.4.11\n")
    monkeypatch.setattr(drbd, "_zero_start", lambda path, mib=1: None)
    children = [FakeLv("/dev/xenvg/u.disk0_data", 1024),
                FakeLv("/dev/xenvg/u.disk0_meta", 128)]
    drbd.DRBD8.create(UNIQUE_ID, children, 1024, None, {}, False,
                      dict(DYN, usermode_helper="/bin/true"))
    assert param.read_text() == "/bin/true"
    assert drbd.usermode_helper(str(param)) == "/bin/true"
    param.unlink()
    drbd.set_usermode_helper("/bin/true", str(param))   # module not loaded
    assert not param.exists() and drbd.usermode_helper(str(param)) is None
    assert fake.calls


def test_a_minor_another_resource_holds_is_never_torn_down(monkeypatch):
    """drbdsetup show (as DRBD 8.4.11 prints it, recorded on a QA node) names
    another port or backing disk: shutdown and remove leave the minor alone."""
    shown = _read("drbdsetup-show-minor.txt")
    fake = Fake(monkeypatch, _line("WFConnection", "Secondary/Unknown",
                                   "Diskless/DUnknown"))

    def run(argv, env=None, timeout=None, **kwargs):
        fake.calls.append(list(argv))
        out = shown if argv[:2] == ["drbdsetup", "show"] else ""
        return process.RunResult(argv, 0, None, out, "")
    monkeypatch.setattr(process, "run_cmd", run)
    dev = _dev(fake)                              # port 11000, /dev/xenvg/... data
    dev.remove()
    assert fake.calls == [["drbdsetup", "show", "3"]]
    # the same port and backing disk: it is ours, and goes
    shown = shown.replace("11005", "11000")
    fake.calls = []
    children = [FakeLv("/dev/loop0", 1024), FakeLv("/dev/loop1", 128)]
    drbd.DRBD8(UNIQUE_ID, children, 1024, {}, DYN).shutdown()
    assert fake.calls == [["drbdsetup", "show", "3"], ["drbdsetup", "down", "resource3"]]
