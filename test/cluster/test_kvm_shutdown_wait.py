"""A KVM guest that ignores the ACPI shutdown request: the user is told it waits."""

import os
import re

import pytest

# the one-node KVM cluster of the KVM instance tests
from test_kvm_instances import kvm_cluster  # noqa: F401

QEMU = "/usr/bin/qemu-system-x86_64"
NAME = "kvmq.example.com"
pytestmark = pytest.mark.skipif(not os.path.isdir("/usr/share/ganeti/os/noop"),
                                reason="Debian's ganeti-os-noop is not installed")


def test_shutdown_of_a_guest_ignoring_acpi_reports_and_forces(kvm_cluster):
    m = kvm_cluster.master
    # no kernel and no disk: the firmware finds nothing to boot and sits there,
    # so nothing answers the ACPI power button
    hv = ("kvm:kvm_path=%s,kvm_flag=disabled,kernel_path=,initrd_path=,acpi=true,"
          "serial_console=false,vnc_bind_address=" % QEMU)
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "--ignore-ipolicy",
          "--no-install", "-n", m.name, "-o", "noop", "--no-name-check", "--no-ip-check",
          "-H", hv, NAME, check=True, timeout=300)
    try:
        # --no-install implies --no-start (Ganeti's rule): started by hand
        m.run("gnt-instance", "startup", NAME, check=True, timeout=300)
        proc = m.run("gnt-instance", "shutdown", "--timeout", "20", NAME, check=True,
                     timeout=300)
        lines = proc.stdout.splitlines()
        waits = [l for l in lines
                 if re.search(r" - INFO: Instance %s is not down yet; waiting \d+ more"
                              r" seconds before forcing it off$" % re.escape(NAME), l)]
        forced = [l for l in lines
                  if l.endswith(" - WARNING: Instance %s did not shut down within 20"
                                " seconds, forcing it off" % NAME)]
        assert len(waits) == 1 and waits[0].endswith("waiting 5 more seconds before"
                                                     " forcing it off"), proc.stdout
        assert len(forced) == 1, proc.stdout
        status = m.run("gnt-instance", "list", "--no-headers", "-o", "status", NAME,
                       check=True).stdout.strip()
        assert status == "ADMIN_down"
    finally:
        m.run("gnt-instance", "remove", "-f", "--shutdown-timeout", "0", NAME)
        m.kill_instances()
