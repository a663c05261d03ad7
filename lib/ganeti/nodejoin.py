"""The new node's side of `gnt-node add`: run over ssh by the master.

Reads a JSON document on stdin ({"cluster_name", "certificate", "ssh_key"}),
refuses if this node belongs to another cluster, installs the cluster
certificate and root's cluster ssh key pair (so that any master candidate can
reach the other nodes after a failover) and starts the node daemon. The master then checks the daemon's version over RPC
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
    _install_ssh_key(data.get("ssh_key"))
    if old is not None and old != cert:
        daemon_util.stop_daemon(constants.NODED)    # it must load the new certificate
    daemon_util.start_daemon(constants.NODED)


def _install_ssh_key(key):
    """root's key pair: {"name": "id_ed25519", "private": ..., "public": ...}."""
    if not key:
        return
    name = key.get("name", "")
    if name not in ("id_ed25519", "id_rsa", "id_ecdsa") or "PRIVATE KEY" not in \
            key.get("private", ""):
        raise errors.GenericError("Invalid ssh key in the join request")
    ssh_dir = pathutils.root("/root/.ssh")
    io.ensure_dirs([(ssh_dir, 0o700)])
    io.write_file(os.path.join(ssh_dir, name), key["private"], mode=0o600)
    public = key.get("public", "").strip()
    io.write_file(os.path.join(ssh_dir, name + ".pub"), public + "\n", mode=0o644)
    auth = os.path.join(ssh_dir, "authorized_keys")
    current = io.read_file(auth) if os.path.exists(auth) else ""
    if public and public not in current.splitlines():
        io.write_file(auth, current + ("" if not current or current.endswith("\n")
                                       else "\n") + public + "\n", mode=0o600)


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
