"""The new node's side of `gnt-node add`: run over ssh by the master.

Reads a JSON document on stdin ({"cluster_name", "certificate"}), refuses if
this node belongs to another cluster, installs the cluster certificate and
starts the node daemon. The master then checks the daemon's version over RPC
before it changes the configuration.
"""

import json
import os
import sys

from ganeti import constants, daemon_util, errors, pathutils, ssconf
from ganeti.utils import io


def join(data):
    cluster_name = data.get("cluster_name")
    cert = data.get("certificate")
    if not cluster_name or not cert or "PRIVATE KEY" not in cert:
        raise errors.GenericError("Invalid join request: cluster name and certificate"
                                  " (with its key) are needed")
    current = ssconf.SimpleStore().read(constants.SS_CLUSTER_NAME, default="")
    if current and current != cluster_name:
        raise errors.GenericError("This node belongs to cluster %s; remove it from there"
                                  " first" % current)
    io.ensure_dirs([(pathutils.DATA_DIR, 0o755), (pathutils.RUN_DIR, 0o775),
                    (pathutils.LOG_DIR, 0o750), (pathutils.QUEUE_DIR, 0o700)])
    old = None
    if os.path.exists(pathutils.NODED_CERT_FILE):
        old = io.read_file(pathutils.NODED_CERT_FILE)
    io.write_file(pathutils.NODED_CERT_FILE, cert, mode=0o600)
    if old is not None and old != cert:
        daemon_util.stop_daemon(constants.NODED)    # it must load the new certificate
    daemon_util.start_daemon(constants.NODED)


def main():
    try:
        data = json.loads(sys.stdin.read())
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        join(data)
    except (ValueError, errors.GenericError) as err:
        sys.stderr.write("prepare-node-join: %s\n" % err)
        return 1
    sys.stdout.write("node joined\n")
    return 0
