#!/usr/bin/python3
"""Benchmark of nodes: gnt-node add over ssh, gnt-cluster verify with 3 and 20 nodes.

Runs on the network-namespace cluster (test/cluster/netns_cluster.py): each
node is a namespace with its own sshd, node daemon and root directory.

    sudo /usr/bin/python3 test/bench/bench_nodes.py [--sizes 3,20]
"""

import argparse
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))

import netns_cluster  # noqa: E402


def bench(size, runs):
    nc = netns_cluster.NetnsCluster(size, prefix="gntb")
    try:
        print("%d nodes: namespaces, bridge and sshds up in %.2f s" % (size, nc.setup_time))
        start = time.time()
        nc.init()
        print("  gnt-cluster init:                 %.2f s" % (time.time() - start))
        m = nc.master
        key = m.path("/root/.ssh/id_ed25519")
        os.makedirs(os.path.dirname(key), exist_ok=True)
        shutil.copy(nc.ssh_key, key)
        os.chmod(key, 0o600)
        adds = []
        for node in nc.nodes[1:]:
            start = time.time()
            m.run("gnt-node", "add", node.name, check=True)
            adds.append(time.time() - start)
        print("  gnt-node add (over ssh):          %.2f s median, %.2f s max (%d nodes)"
              % (statistics.median(adds), max(adds), len(adds)))
        times = []
        for _ in range(runs):
            start = time.time()
            proc = m.run("gnt-cluster", "verify")
            times.append(time.time() - start)
            if proc.returncode != 0:
                print("  verify reported errors:\n" + proc.stdout[-2000:])
        print("  gnt-cluster verify:               %.2f s median of %d" %
              (statistics.median(times), runs))
        start = time.time()
        m.run("gnt-node", "list", check=True)
        print("  gnt-node list:                    %.2f s" % (time.time() - start))
    finally:
        print("  teardown:                         %.2f s" % nc.cleanup())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,20")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    reason = netns_cluster.netns_supported()
    if reason:
        sys.exit("cannot run: %s" % reason)
    for size in (int(s) for s in args.sizes.split(",")):
        bench(size, args.runs)


if __name__ == "__main__":
    main()
