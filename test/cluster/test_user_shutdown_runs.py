"""A guest shut down from inside, on a real one-node cluster: listed USER_down
(ERROR_down without --user-shutdown), cleaned up by ganeti-watcher instead of
restarted, and stopped or started again by gnt-instance. Once with the fake
hypervisor, once with a real KVM (TCG) guest that powers itself off."""

import os
import re
import socket
import time

import pytest

import kvm_guest
import vcluster
from test_kvm_instances import _qemu_pids

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
WATCHER = os.path.join(vcluster.SRC, "daemons", "ganeti-watcher")
FAKE = "usd1.example.com"
KVM = "usd2.example.com"
PONG = "GANETI-TEST-PONG"
GUEST_TIMEOUT = 240          # seconds: a TCG boot or power-off, with room to spare

# the test guest's idle loop, replaced by one that answers "ping" and powers
# itself off on "poweroff" typed on its serial console (a user's shutdown)
IDLE_LOOP = "while true; do sleep 3600; done\n"
COMMAND_LOOP = """while read -r line; do
  case "$line" in
    *poweroff*) echo GANETI-TEST-USER-POWEROFF; sync; poweroff -f;;
    *ping*) echo GANETI-TEST-PONG;;
  esac
done
""" + IDLE_LOOP


@pytest.fixture(scope="module")
def us_cluster():
    vc = vcluster.VirtualCluster(1)
    try:
        vc.init("--enabled-hypervisors=fake,kvm")
        vc.master.run("gnt-cluster", "modify", "--user-shutdown", "yes", check=True)
        yield vc
    finally:
        vc.cleanup()


def _fields(m, name, fields):
    out = m.run("gnt-instance", "list", "--no-headers", "--separator=|", "-o", fields,
                name, check=True).stdout
    return out.strip().split("|")


def _status(m, name):
    return _fields(m, name, "status")[0]


def _wait_status(m, name, wanted, timeout=GUEST_TIMEOUT, poke=None):
    """Poll the status until ``wanted`` (calling ``poke`` between polls)."""
    deadline = time.monotonic() + timeout
    while True:
        status = _status(m, name)
        if status == wanted:
            return
        assert time.monotonic() < deadline, "%s stayed %s, not %s" % (name, status,
                                                                     wanted)
        if poke:
            poke()
        time.sleep(2)


def _watch(m):
    proc = m.run(WATCHER)
    with open(m.path("/var/log/ganeti/watcher.log")) as fd:
        return proc, fd.read()


def _jobs(m, op_id, name):
    out = m.run("gnt-job", "list", "--no-headers", "-o", "id,summary", check=True).stdout
    return [line for line in out.splitlines()
            if re.search(r"%s\(%s\)" % (op_id, re.escape(name)), line)]


# ---- fake hypervisor ---------------------------------------------------------------

def _fake_shutdown_from_inside(m, name):
    from ganeti.hypervisor import hv_fake
    hv_fake.FakeHypervisor(state_dir=m.path("/var/run/ganeti/fake-hypervisor"))\
        .shutdown_from_inside(name)


def test_fake_guest_shut_down_from_inside(us_cluster):
    m = us_cluster.master
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
          "--no-name-check", "--no-ip-check", "-n", m.name, FAKE, check=True)
    try:
        _fake_shutdown_from_inside(m, FAKE)
        assert _fields(m, FAKE, "status,oper_state") == ["USER_down", "N"]
        info = m.run("gnt-instance", "info", FAKE, check=True).stdout
        assert "configured to be up, actual state is user down" in info, info
        # without the cluster setting it is an error, and the watcher restarts it
        m.run("gnt-cluster", "modify", "--user-shutdown", "no", check=True)
        assert _status(m, FAKE) == "ERROR_down"
        proc, log = _watch(m)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _status(m, FAKE) == "running"
        assert len(_jobs(m, "INSTANCE_STARTUP", FAKE)) == 1
        # with it, the watcher cleans it up: stopped, marked down by its user
        m.run("gnt-cluster", "modify", "--user-shutdown", "yes", check=True)
        _fake_shutdown_from_inside(m, FAKE)
        proc, log = _watch(m)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Instance '%s' was shutdown by the user, cleaning up instance" % FAKE \
            in log
        assert len(_jobs(m, "INSTANCE_SHUTDOWN", FAKE)) == 1
        assert len(_jobs(m, "INSTANCE_STARTUP", FAKE)) == 1      # not restarted
        assert _fields(m, FAKE, "status,admin_state,admin_state_source,oper_state") \
            == ["USER_down", "down", "user", "N"]
        assert not os.path.exists(m.path("/var/run/ganeti/fake-hypervisor/" + FAKE))
        proc, _ = _watch(m)                    # nothing more to do for it
        assert len(_jobs(m, "INSTANCE_SHUTDOWN", FAKE)) == 1
        m.run("gnt-instance", "startup", FAKE, check=True)
        assert _fields(m, FAKE, "status,admin_state_source") == ["running", "admin"]
    finally:
        m.run("gnt-instance", "remove", "-f", FAKE)


# ---- KVM: a real guest that powers itself off --------------------------------------

@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    kernel = kvm_guest.kernel_or_fail()
    assert kvm_guest.INIT_SCRIPT.endswith(IDLE_LOOP)
    initrd = str(tmp_path_factory.mktemp("kvm-usrdown") / "initrd.cpio")
    plain = kvm_guest.INIT_SCRIPT
    kvm_guest.INIT_SCRIPT = plain[:-len(IDLE_LOOP)] + COMMAND_LOOP
    try:
        kvm_guest.build_initramfs(initrd, kernel)
    finally:
        kvm_guest.INIT_SCRIPT = plain
    params = kvm_guest.guest_hvparams(kernel, initrd)
    params["user_shutdown"] = True
    return ",".join("%s=%s" % (k, "true" if v is True else "false" if v is False else v)
                    for k, v in sorted(params.items()))


class _Console:
    """The guest's serial console: type lines, see what it answers."""

    def __init__(self, m, name):
        path = m.path("/var/run/ganeti/kvm-hypervisor/ctrl/%s.serial" % name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.settimeout(0.5)
        self.text = ""

    def send(self, line):
        try:
            self.sock.sendall(line.encode() + b"\n")
        except OSError:          # QEMU exited (guest off without -no-shutdown)
            pass

    def wait_booted(self):
        """Ping until the guest answers (its power button handler is set up)."""
        deadline = time.monotonic() + GUEST_TIMEOUT
        while PONG not in self.text:
            assert time.monotonic() < deadline, "guest never answered: %r" % \
                self.text[-2000:]
            self.send("ping")
            # one ping at a time: a backlog of them would delay what comes next
            answer_by = time.monotonic() + 3
            while PONG not in self.text and time.monotonic() < answer_by:
                try:
                    self.text += self.sock.recv(65536).decode("utf-8", "replace")
                except socket.timeout:
                    pass

    def close(self):
        self.sock.close()


def _power_off_from_inside(m, name, then="USER_down"):
    """Wait for the guest to boot, have it power itself off, wait for status ``then``."""
    console = _Console(m, name)
    try:
        console.wait_booted()
        console.send("poweroff")
        _wait_status(m, name, then, poke=lambda: console.send("poweroff"))
    finally:
        console.close()


def test_kvm_guest_powered_off_from_inside(us_cluster, guest):
    m = us_cluster.master
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
          "--no-name-check", "--no-ip-check", "-n", m.name, "-H", "kvm:" + guest, KVM,
          check=True, timeout=300)
    try:
        assert _status(m, KVM) == "running"
        _power_off_from_inside(m, KVM)
        # -no-shutdown: QEMU stays, stopped; the node says "shutdown"
        pids = _qemu_pids(KVM)
        assert len(pids) == 1
        assert _fields(m, KVM, "oper_state,admin_state") == ["N", "up"]
        # gnt-instance startup ends that QEMU and boots a fresh one
        m.run("gnt-instance", "startup", KVM, check=True, timeout=300)
        assert _status(m, KVM) == "running"
        new_pids = _qemu_pids(KVM)
        assert len(new_pids) == 1 and new_pids != pids
        # an admin's clean stop ends QEMU as soon as the guest is off (with
        # -no-shutdown QEMU would otherwise wait out the whole timeout)
        console = _Console(m, KVM)
        try:
            console.wait_booted()
        finally:
            console.close()
        start = time.monotonic()
        m.run("gnt-instance", "shutdown", "--timeout=200", KVM, check=True, timeout=300)
        assert time.monotonic() - start < 150
        assert _qemu_pids(KVM) == []
        assert _status(m, KVM) == "ADMIN_down"
        # powered off from inside again: the watcher cleans up, no restart
        m.run("gnt-instance", "startup", KVM, check=True, timeout=300)
        _power_off_from_inside(m, KVM)
        proc, log = _watch(m)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Instance '%s' was shutdown by the user, cleaning up instance" % KVM \
            in log
        assert _qemu_pids(KVM) == []
        assert _fields(m, KVM, "status,admin_state,admin_state_source") == \
            ["USER_down", "down", "user"]
        runtime = m.path("/var/run/ganeti/kvm-hypervisor/conf/%s.runtime" % KVM)
        assert not os.path.exists(runtime)
    finally:
        m.run("gnt-instance", "remove", "-f", "--shutdown-timeout=0", KVM, timeout=300)
        m.kill_instances()


def test_kvm_without_user_shutdown_parameter_is_error_down(us_cluster, guest):
    # the same guest without user_shutdown: QEMU exits when the guest powers off,
    # and the instance is an error (the watcher would restart it)
    m = us_cluster.master
    hv = guest.replace("user_shutdown=true", "user_shutdown=false")
    assert hv != guest
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
          "--no-name-check", "--no-ip-check", "-n", m.name, "-H", "kvm:" + hv, KVM,
          check=True, timeout=300)
    try:
        _power_off_from_inside(m, KVM, then="ERROR_down")
        assert _qemu_pids(KVM) == []
        assert _fields(m, KVM, "oper_state") == ["N"]
    finally:
        m.run("gnt-instance", "remove", "-f", "--shutdown-timeout=0", KVM, timeout=300)
        m.kill_instances()
