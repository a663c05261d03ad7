#!/usr/bin/python3
"""Benchmark of the remote API (ganeti-rapi) on a one-node virtual cluster.

    sudo /usr/bin/python3 test/bench/bench_rapi.py [--sizes 100,10000] [--runs 5]

Prints the time of GET /2/instances?bulk=1 with each number of instances
(running fake instances written into the configuration, as bench_instances.py
does), requests per second of /2/info and /2/instances?bulk=1 (at the first
size) with 8 clients at once, each over its own keep-alive HTTPS connection,
and ganeti-rapi's resident memory idle and its peak under that load.
"""

import argparse
import http.client
import json
import os
import ssl
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))

import vcluster  # noqa: E402
from bench_instances import inject_instances  # noqa: E402

CLIENTS = 8
LOAD_SECONDS = 5.0


def _connection(m):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(m.ip, 5080, context=ctx, timeout=300)


def _get(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError("GET %s: %d %s" % (path, resp.status, body[:200]))
    return body


def time_get(m, path, runs):
    """(median seconds, items in the answer)."""
    conn = _connection(m)
    times = []
    for _ in range(runs):
        start = time.time()
        body = _get(conn, path)
        times.append(time.time() - start)
    conn.close()
    return statistics.median(times), len(json.loads(body))


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as fd:
        for line in fd:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load(m, path):
    """(requests per second of CLIENTS clients for LOAD_SECONDS, peak RSS KiB)."""
    counts = [0] * CLIENTS
    end = time.time() + LOAD_SECONDS
    errors = []

    def client(k):
        try:
            conn = _connection(m)
            while time.time() < end:
                _get(conn, path)
                counts[k] += 1
            conn.close()
        except Exception as err:  # pylint: disable=broad-except
            errors.append(err)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    start = time.time()
    for t in threads:
        t.start()
    pid, peak = m.pid("ganeti-rapi"), 0
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss_kib(pid))
        time.sleep(0.1)
    if errors:
        raise errors[0]
    return sum(counts) / (time.time() - start), peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    vc = vcluster.VirtualCluster(1)
    try:
        vc.init()
        m = vc.master
        print("ganeti-rapi RSS, idle:  %.1f MiB" % (_rss_kib(m.pid("ganeti-rapi")) / 1024))
        injected = 0
        for i, size in enumerate(sizes):
            m.kill_daemon("ganeti-masterd")
            inject_instances(m, injected, size - injected)
            injected = size
            m.start_daemon("ganeti-masterd")
            med, items = time_get(m, "/2/instances?bulk=1", args.runs)
            print("GET /2/instances?bulk=1, %5d instances: %.3f s median of %d (%d objects)"
                  % (size, med, args.runs, items))
            if i == 0:
                for path in ("/2/info", "/2/instances?bulk=1"):
                    rate, peak = load(m, path)
                    print("%d clients, GET %s (%d instances): %.1f requests/s,"
                          " ganeti-rapi peak RSS %.1f MiB"
                          % (CLIENTS, path, size, rate, peak / 1024))
    finally:
        vc.cleanup()


if __name__ == "__main__":
    main()
