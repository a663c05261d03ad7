#!/usr/bin/python3
"""Benchmark of gnt-cluster upgrade on a namespace cluster running installed versions.

    sudo /usr/bin/python3 test/bench/bench_upgrade.py [--nodes 3]

Installs this tree as version 0.1 and a copy as 0.2 side by side with make
install (test/cluster/installed_versions.py), brings up a network-namespace
cluster of --nodes nodes on 0.1 (prefix "gntb", taking the test-bed lock),
and prints one figure per line:

  1. seconds to build and install both versions;
  2. seconds of ``gnt-cluster upgrade --to 0.2`` (the whole command);
  3. seconds during which no job could run: from the upgrade's start until a
     no-op job submitted right after it has ended;
  4. seconds of ``gnt-cluster upgrade --to 0.1`` (a downgrade).

The cluster and the installed versions are removed at the end, also after a
failure. Needs root; exits 2 when network namespaces cannot be made. Not a
pass/fail test.
"""

import argparse
import shutil
import sys
import tempfile
import time

import bench_core  # noqa: E402  (also puts test/cluster and lib on sys.path)
import installed_versions  # noqa: E402
import netns_cluster  # noqa: E402

_LABEL = "%-50s"


def _print(label, text):
    print(_LABEL % (label + ":") + " " + text, flush=True)


def _timed(node, *argv):
    start = time.time()
    node.run(*argv, check=True, timeout=900)
    return time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    reason = netns_cluster.netns_supported()
    if reason:
        print("cannot run: %s" % reason, file=sys.stderr)
        return 2
    base = tempfile.mkdtemp(prefix="gbu-")
    nc = None
    try:
        start = time.time()
        prefix = installed_versions.install_versions(base)
        _print("build and install 0.1 and 0.2", "%.1f s" % (time.time() - start))
        nc = installed_versions.InstalledNetnsCluster(args.nodes, prefix="gntb")
        for node in nc.nodes:
            node.activate(prefix, "0.1")
        nc.init()
        m = nc.master
        for node in nc.nodes[1:]:
            m.run("gnt-node", "add", node.name, check=True, timeout=300)
        start = time.time()
        upgrade = _timed(m, "gnt-cluster", "upgrade", "--to", "0.2")
        m.run("gnt-debug", "delay", "0", check=True, timeout=300)
        no_jobs = time.time() - start
        _print("upgrade --to 0.2 (%d nodes)" % args.nodes, "%.1f s" % upgrade)
        _print("no job runs (upgrade start to a no-op job)", "%.1f s" % no_jobs)
        downgrade = _timed(m, "gnt-cluster", "upgrade", "--to", "0.1")
        _print("upgrade --to 0.1 (a downgrade)", "%.1f s" % downgrade)
    finally:
        if nc is not None:
            nc.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
