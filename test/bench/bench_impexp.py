#!/usr/bin/python3
"""Throughput of the disk transfer helpers (ganeti.impexpd) on this machine.

Both helpers run here over TLS on 127.0.0.1, started through the node
procedures as ganeti-noded starts them: a file of SIZE MiB of random data
(incompressible) and one of zeros is moved into another file, with each
transport compression given. Prints MiB/s per case. No root, no daemons.

Usage: bench_impexp.py [--size 1024] [--compress none,gzip-fast,gzip-slow]
"""

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))

from ganeti import pathutils  # noqa: E402
from ganeti.backend import impexp  # noqa: E402
from ganeti.utils import x509  # noqa: E402


def _wait(name, key, timeout=3600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (status,) = impexp.impexp_status([name])
        if status and status.get(key) is not None and status.get(key) is not False:
            return status
        time.sleep(0.02)
    raise RuntimeError("%s: no %s" % (name, key))


def transfer(src, dst, compress):
    """Seconds to move ``src`` into ``dst``."""
    opts = {"magic": "bench-magic", "compress": compress}
    start = time.monotonic()
    imp = impexp.import_start(opts, "127.0.0.1", None, "disk0", ["file", dst])
    port = _wait(imp, "listen_port")["listen_port"]
    exp = impexp.export_start(opts, "127.0.0.1", port, None, "disk0", ["file", src])
    results = [_wait(name, "exit_status") for name in (imp, exp)]
    took = time.monotonic() - start
    for name in (imp, exp):
        impexp.impexp_cleanup(name)
    if any(r["exit_status"] != 0 for r in results):
        raise RuntimeError("transfer failed: %s" % results)
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="MiB per transfer")
    parser.add_argument("--compress", default="none,gzip-fast,gzip-slow")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert = os.path.join(tmp, "server.pem")
        x509.generate_cluster_cert_file(cert)
        pathutils.NODED_CERT_FILE = cert
        pathutils.EXPORT_DIR = os.path.join(tmp, "export")
        pathutils.IMPORT_EXPORT_DIR = os.path.join(tmp, "ie")
        os.makedirs(pathutils.EXPORT_DIR)
        sources = {}
        for kind in ("random", "zeros"):
            path = os.path.join(pathutils.EXPORT_DIR, kind)
            with open(path, "wb") as fd:
                for _ in range(args.size):
                    fd.write(os.urandom(1 << 20) if kind == "random" else b"\0" * (1 << 20))
            sources[kind] = path
        for compress in args.compress.split(","):
            for kind, path in sources.items():
                dst = os.path.join(pathutils.EXPORT_DIR, "copy")
                took = transfer(path, dst, compress)
                os.unlink(dst)
                print("transfer %d MiB %s, compression %s: %.1f s, %.0f MiB/s"
                      % (args.size, kind, compress, took, args.size / took))


if __name__ == "__main__":
    main()
