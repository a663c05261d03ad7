#!/usr/bin/python3
"""Benchmark of mirrored storage (issue 9's figures).

    sudo /usr/bin/python3 test/bench/bench_storage.py [--size-mib 1024] [--skip-vms]

On three QEMU VM nodes of the QA test bed (test/qa/vmbed.py; booted here unless
running already, and stopped at the end if booted here):
  - the resync throughput of raw drbdsetup (two LVs, protocol C, the same fixed
    resync rate the cluster uses) for --size-mib MiB;
  - gnt-instance add -t drbd -s SIZE (fake hypervisor) with its initial sync,
    and the throughput that sync reached;
  - gnt-instance failover and migrate (fake hypervisor) of that instance;
  - gnt-instance replace-disks -s (new volumes under the secondary's half) and
    -n (a third node as the new secondary), each with its full resync.
On the two-node virtual cluster of this machine (loopback addresses):
  - live migration of a real QEMU guest (TCG, 128 MiB) on sharedfile storage:
    the command's time, and QEMU's own total time and downtime of the move.
"""

import argparse
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "qa"))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))

import vmbed  # noqa: E402

# the cluster's default resync rate (Ganeti's drbd disk parameter resync-rate)
RESYNC_RATE_KIB = 61440


def _timed(func):
    start = time.monotonic()
    result = func()
    return time.monotonic() - start, result


def raw_drbd_sync(size_mib):
    """Seconds for the initial sync of a DRBD pair made by hand on node1/node2."""
    for k in (1, 2):
        vmbed.ssh(k, "lvcreate -q -y -Wn -Zn -L %dm -n rawd xenvg && lvcreate -q -y -Wn"
                  " -Zn -L 128m -n rawm xenvg && dd if=/dev/zero of=/dev/xenvg/rawm bs=1M"
                  " count=1 status=none && drbdmeta --force /dev/drbd200 v08"
                  " /dev/xenvg/rawm 0 create-md >/dev/null && drbdsetup new-resource r200"
                  " && drbdsetup new-minor r200 200 0 && drbdsetup attach 200"
                  " /dev/xenvg/rawd /dev/xenvg/rawm 0 --on-io-error detach --resync-rate"
                  " %dk --c-plan-ahead 0 && drbdsetup connect r200 ipv4:%s:11999 ipv4:%s:11999"
                  " --protocol C" % (size_mib, RESYNC_RATE_KIB, vmbed.node_sip(k),
                                     vmbed.node_sip(3 - k)))
    vmbed.ssh(1, "until grep -q '^ *200: cs:Connected' /proc/drbd; do sleep 0.1; done",
              timeout=120)
    took, _ = _timed(lambda: vmbed.ssh(
        1, "drbdsetup primary 200 --force && until grep -q"
        " '^ *200: cs:Connected .*ds:UpToDate/UpToDate' /proc/drbd; do sleep 0.2; done",
        timeout=600))
    for k in (1, 2):
        vmbed.ssh(k, "drbdsetup down r200; lvremove -q -f xenvg/rawd xenvg/rawm",
                  check=False)
    return took


def cluster_figures(size_mib):
    m = 1
    vmbed.ssh(m, "gnt-cluster init -s %s --master-netdev=eth0 --no-etc-hosts"
              " --enabled-hypervisors=fake --enabled-disk-templates=drbd,plain"
              " --nic-parameters=link=br-inst cluster.example.com" % vmbed.node_sip(1))
    for k in (2, 3):
        vmbed.ssh(m, "gnt-node add -s %s %s" % (vmbed.node_sip(k), vmbed.node_name(k)))
    name = "bench1.example.com"
    took_add, proc = _timed(lambda: vmbed.ssh(
        m, "gnt-instance add -t drbd -s %dM -n node1:node2 -o noop --no-nics --no-name-check"
        " --no-ip-check"
        " --ignore-ipolicy %s" % (size_mib, name)))
    took_failover, _ = _timed(lambda: vmbed.ssh(m, "gnt-instance failover -f %s" % name))
    took_migrate, _ = _timed(lambda: vmbed.ssh(m, "gnt-instance migrate -f %s" % name))
    took_replace, _ = _timed(lambda: vmbed.ssh(m, "gnt-instance replace-disks -s %s"
                                               % name))
    took_new_sec, _ = _timed(lambda: vmbed.ssh(m, "gnt-instance replace-disks -n %s %s"
                                               % (vmbed.node_name(3), name)))
    vmbed.ssh(m, "gnt-instance remove -f %s" % name)
    return took_add, took_failover, took_migrate, took_replace, took_new_sec


def vm_figures(size_mib):
    booted = False
    if vmbed.running_nodes() < 3:
        took, _ = _timed(lambda: vmbed.up(3))
        print("VM nodes: 3 booted, ssh ready in %.1f s" % took)
        booted = True
    try:
        for k in (1, 2, 3):
            vmbed.reset_node(k)
            vmbed.ssh(k, "pvcreate -q -y /dev/vda && vgcreate -q xenvg /dev/vda && ip link"
                      " add br-inst type bridge 2>/dev/null; ip link set br-inst up")
        raw = raw_drbd_sync(size_mib)
        print("raw drbdsetup resync of %d MiB: %.1f s (%.1f MiB/s)"
              % (size_mib, raw, size_mib / raw))
        add, failover, migrate, replace, new_sec = cluster_figures(size_mib)
        print("gnt-instance add -t drbd -s %dM (with its sync, fake hypervisor): %.1f s"
              % (size_mib, add))
        print("gnt-instance failover (drbd, fake hypervisor): %.1f s" % failover)
        print("gnt-instance migrate (drbd dual-primary, fake hypervisor): %.1f s"
              % migrate)
        print("gnt-instance replace-disks -s (%d MiB resync): %.1f s" % (size_mib,
                                                                        replace))
        print("gnt-instance replace-disks -n node3 (%d MiB resync): %.1f s"
              % (size_mib, new_sec))
    finally:
        for k in (1, 2, 3):
            vmbed.reset_node(k)
        if booted:
            vmbed.down()


def sharedfile_live_migration():
    import kvm_guest
    import vcluster
    kernel = kvm_guest.prepare_kernel()
    vc = vcluster.VirtualCluster(2)
    workdir = os.path.join(vc.base, "guest")
    os.makedirs(workdir)
    try:
        vc.share("/srv/ganeti/shared-file-storage")
        vc.init("--enabled-hypervisors=kvm", "--enabled-disk-templates=sharedfile")
        m, n2 = vc.nodes
        vc.add_node(n2)
        initrd = kvm_guest.build_initramfs(os.path.join(workdir, "initrd.cpio"), kernel)
        params = kvm_guest.guest_hvparams(kernel, initrd)
        hv = "kvm:" + ",".join("%s=%s" % (k, "true" if v is True else "false"
                                          if v is False else v)
                               for k, v in sorted(params.items()))
        name = "mig.example.com"
        m.run("gnt-instance", "add", "-t", "sharedfile", "-s", "64M", "-n", m.name, "-o",
              "noop", "--no-name-check", "--no-ip-check", "--no-nics", "-H", hv, name,
              check=True)
        time.sleep(3)                     # let the guest boot
        took, _ = _timed(lambda: m.run("gnt-instance", "migrate", "-f", "-n", n2.name,
                                       name, check=True, timeout=300))
        log = open(m.path("/var/log/ganeti/node-daemon.log")).read()
        match = re.findall(r"Migration of %s completed: total (\d+) ms, downtime (\d+) ms"
                           % re.escape(name), log)
        print("live migration of a 128 MiB TCG guest (sharedfile, loopback):"
              " gnt-instance migrate %.1f s" % took)
        if match:
            print("  QEMU: total %s ms, downtime %s ms" % match[-1])
        m.run("gnt-instance", "remove", "-f", "--shutdown-timeout=5", name)
    finally:
        vc.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--skip-vms", action="store_true",
                        help="only the live migration on the virtual cluster")
    args = parser.parse_args()
    if not args.skip_vms:
        vm_figures(args.size_mib)
    sharedfile_live_migration()


if __name__ == "__main__":
    main()
