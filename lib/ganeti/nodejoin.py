"""The new node's side of `gnt-node add`: run over ssh by the master.

Reads a JSON document on stdin ({"cluster_name", "certificate", "ssh_key",
"force_join"}), refuses if this node belongs to another cluster (unless
"force_join": then it leaves that cluster first: its daemons stop, its etcd
member and its copies of that cluster's configuration go), installs the
cluster certificate, makes root's own cluster ssh key pair ("ssh_key":
{"type", "bits"}; the private key never leaves the node, see sshkeys) and
starts the node daemon. It prints the new public key; the master records it
and, in OP_NODE_ADD, authorizes it on the nodes (after checking the daemon's
version). With --verbose it says each step on standard error.
"""

import glob
import json
import os
import sys

from ganeti import constants, daemon_util, errors, pathutils, ssconf, sshkeys
from ganeti.utils import io, net


def _quiet(_):
    pass


def join(data, say=_quiet):
    cluster_name = data.get("cluster_name")
    cert = data.get("certificate")
    if not cluster_name or not cert or "PRIVATE KEY" not in cert:
        raise errors.GenericError("Invalid join request: cluster name and certificate"
                                  " (with its key) are needed")
    current = ssconf.SimpleStore().read(constants.SS_CLUSTER_NAME, default="")
    if current and current != cluster_name:
        if not data.get("force_join"):
            raise errors.GenericError("This node belongs to cluster %s; remove it from"
                                      " there first (or use --force-join)" % current)
        _leave_cluster(current, say)
    from ganeti.tools import ensure_dirs
    ensure_dirs.make_node_dirs()
    public_key = _make_ssh_key(data.get("ssh_key"))
    if public_key:
        say("made root's ssh key pair for the cluster (%s)" % public_key.split()[0])
    old = None
    if os.path.exists(pathutils.NODED_CERT_FILE):
        old = io.read_file(pathutils.NODED_CERT_FILE)
    io.write_file(pathutils.NODED_CERT_FILE, cert, mode=0o600)
    say("installed the certificate of cluster %s" % cluster_name)
    if old is not None and old != cert and daemon_util.daemon_pid(constants.NODED):
        daemon_util.stop_daemon(constants.NODED)    # it must load the new certificate
        say("stopped the node daemon (it ran with another certificate)")
    daemon_util.start_daemon(constants.NODED)
    say("started the node daemon")
    return public_key


def _leave_cluster(name, say):
    """--force-join: stop serving cluster ``name`` (daemons, etcd member, the
    copies of its configuration; the new cluster writes its own)."""
    from ganeti.etcd import member
    say("leaving cluster %s (--force-join)" % name)
    daemon_util.stop_all()
    member.forget()
    for path in [pathutils.CLUSTER_CONF_FILE] + glob.glob(pathutils.SSCONF_PREFIX + "*"):
        io.remove_file(path)
    say("stopped its daemons and removed its etcd member and configuration copies")


PUBLIC_KEY_PREFIX = "ssh-public-key: "


def _make_ssh_key(spec):
    """root's own key pair for the cluster ({"type", "bits"}); returns the public key."""
    if not spec:
        return None
    if not isinstance(spec, dict) or "private" in spec:
        raise errors.GenericError("Invalid ssh key in the join request (private keys are"
                                  " never sent to nodes)")
    return sshkeys.generate_node_key(net.get_hostname(), spec.get("type"),
                                     bits=spec.get("bits"))


# ---- the master's side --------------------------------------------------------------

def ssh_key_request(cluster_info):
    """The "ssh_key" part of a join request, from the cluster's ssh_key_type/bits.

    None when the cluster leaves ssh alone (``gnt-cluster init --no-ssh-init``).
    """
    if not cluster_info.get("modify_ssh_setup", True):
        return None
    key_type = cluster_info.get("ssh_key_type") or "rsa"
    if key_type not in sshkeys.KEY_FILES:
        raise errors.OpPrereqError("The cluster's ssh key type %r is not supported"
                                   " (supported: %s)" % (key_type, ", ".join(
                                       sorted(sshkeys.KEY_FILES))), errors.ECODE_INVAL)
    return {"type": key_type, "bits": cluster_info.get("ssh_key_bits")}


def record_public_key(node, output):
    """Record the key a join printed as the newest key of ``node`` (ganeti_pub_keys)."""
    for line in output.splitlines():
        if line.startswith(PUBLIC_KEY_PREFIX):
            try:
                sshkeys.record_node_key(node, line[len(PUBLIC_KEY_PREFIX):])
            except ValueError as err:
                raise errors.OpExecError("Node %s sent an invalid ssh public key: %s"
                                         % (node, err)) from None
            return True
    return False


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    unknown = [a for a in argv if a != "--verbose"]
    if unknown:
        sys.stderr.write("prepare-node-join: unknown arguments: %s\n" % " ".join(unknown))
        return 1
    say = _quiet
    if "--verbose" in argv:
        def say(text):
            sys.stderr.write("%s: %s\n" % (net.get_hostname(), text))
    try:
        data = json.loads(sys.stdin.read())
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        public_key = join(data, say)
    except (ValueError, errors.GenericError) as err:
        sys.stderr.write("prepare-node-join: %s\n" % err)
        return 1
    sys.stdout.write("node joined\n")
    if public_key:
        sys.stdout.write(PUBLIC_KEY_PREFIX + public_key + "\n")
    return 0
