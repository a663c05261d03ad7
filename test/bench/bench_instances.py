#!/usr/bin/python3
"""Benchmark of instances: time to add one, and gnt-instance list at scale.

    sudo /usr/bin/python3 test/bench/bench_instances.py [--sizes 1000,10000]

Adding is timed through gnt-instance add (fake hypervisor, diskless and file
disks, Debian's noop OS). For the list timings the instances are written
straight into config.data (and the fake hypervisor's state files, as running)
while the master daemon is stopped: creating 10,000 instances one job at a time
would measure config rewrites, not listing.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))

import vcluster  # noqa: E402
from ganeti import objects, serializer  # noqa: E402
from ganeti.etcd import configstore, member  # noqa: E402
from ganeti.etcd.client import Client  # noqa: E402


def time_add(m, name, *extra):
    start = time.time()
    m.run("gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
          "--no-ip-check", "--no-nics", *extra, name, check=True)
    return time.time() - start


def inject_instances(m, first, count):
    """Add ``count`` running fake instances to the stopped master's config."""
    cfg_path = m.path("/var/lib/ganeti/config.data")
    with open(cfg_path) as fd:
        data = json.load(fd)
    state_dir = m.path("/var/run/ganeti/fake-hypervisor")
    os.makedirs(state_dir, exist_ok=True)
    now = time.time()
    for i in range(first, first + count):
        name = "bench%05d.example.com" % i
        nic = objects.NIC(mac="aa:01:%02x:%02x:%02x:%02x" % (
            (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255), nicparams={})
        inst = objects.Instance(name=name, primary_node=m.name, os="noop",
                                hypervisor="fake", admin_state="up",
                                disk_template="diskless", nics=[nic])
        data["instances"][name] = inst.to_dict()
        with open(os.path.join(state_dir, name), "w") as fd:
            json.dump({"name": name, "memory": 128, "vcpus": 1, "start_time": now,
                       "state": "running", "disks": []}, fd)
    data["serial_no"] += 1
    with open(cfg_path, "w") as fd:
        fd.write(serializer.dump_json(data))
    # the master daemon reads etcd, not config.data: without a configuration
    # in etcd, its next start stores config.data there
    d = m.path("/var/lib/ganeti")
    client = Client([member.client_url(vcluster.node_ip(1))], d + "/etcd.pem",
                    d + "/etcd-ca.pem")
    client.delete(configstore.PREFIX, prefix=True)


def _kvm_guest_params():
    """hvparams booting the test guest of test/cluster/kvm_guest.py, or None."""
    import tempfile
    import kvm_guest
    try:
        kvm_guest.check_tools()
        kernel = kvm_guest.prepare_kernel()
    except kvm_guest.GuestUnavailable:
        return None
    initrd = os.path.join(tempfile.mkdtemp(prefix="gbench-"), "initrd.cpio")
    kvm_guest.build_initramfs(initrd, kernel)
    params = kvm_guest.guest_hvparams(kernel, initrd)
    return dict((k, "true" if v is True else "false" if v is False else v)
                for k, v in params.items())


def time_list(m, runs, *extra):
    times = []
    for _ in range(runs):
        start = time.time()
        proc = m.run("gnt-instance", "list", *extra, check=True)
        times.append(time.time() - start)
    return statistics.median(times), len(proc.stdout.splitlines()) - 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    vc = vcluster.VirtualCluster(1)
    try:
        vc.init("--enabled-hypervisors=fake,kvm")
        m = vc.master
        adds = [time_add(m, "add%d.example.com" % i, "-t", "diskless") for i in range(5)]
        print("gnt-instance add (fake, diskless):   %.2f s median of 5"
              % statistics.median(adds))
        adds = [time_add(m, "file%d.example.com" % i, "-t", "file", "-s", "1G")
                for i in range(5)]
        print("gnt-instance add (fake, file 1G):    %.2f s median of 5"
              % statistics.median(adds))
        kvm_params = _kvm_guest_params()
        if kvm_params:
            hv = ",".join("%s=%s" % (k, v) for k, v in sorted(kvm_params.items()))
            adds = []
            for i in range(3):
                name = "kvm%d.example.com" % i
                adds.append(time_add(m, name, "-t", "file", "-s", "64M", "-H", "kvm:" + hv))
                m.run("gnt-instance", "remove", "-f", "--shutdown-timeout=0", name,
                      check=True)
            print("gnt-instance add (kvm TCG, file 64M): %.2f s median of 3 (qemu started;"
                  " the guest boots in ~2 s more)" % statistics.median(adds))
        else:
            print("gnt-instance add (kvm): skipped, no test guest (qemu/busybox/kernel)")
        injected = 0
        for size in sorted(int(s) for s in args.sizes.split(",")):
            m.kill_daemon("ganeti-masterd")
            inject_instances(m, injected, size - injected)
            injected = size
            m.start_daemon("ganeti-masterd")
            med, rows = time_list(m, args.runs)
            print("gnt-instance list, %6d instances:  %.2f s median of %d (%d rows)"
                  % (size + 10, med, args.runs, rows))
            med, rows = time_list(m, args.runs, "-o", "name,status")
            print("  ... -o name,status:                %.2f s" % med)
            med, rows = time_list(m, args.runs, "-o", "name,os,pnode")
            print("  ... -o name,os,pnode (no live data): %.2f s" % med)
            # not started: the injected instances hold all of the node's memory
            adds = [time_add(m, "big%d-%d.example.com" % (size, i), "-t", "diskless",
                             "--no-start") for i in range(3)]
            print("gnt-instance add with %6d instances: %.2f s median of 3"
                  % (size + 10, statistics.median(adds)))
    finally:
        vc.cleanup()


if __name__ == "__main__":
    main()
