"""Node-side procedures of ``gnt-cluster renew-crypto`` (see crypto_renewal).

The master calls them step by step on every online node; each step leaves
the node able to talk to every other node, whether they did it yet or not.
"""

import logging
import os
import shutil
import time

from ganeti import constants, crypto_renewal as cr, daemon_util, errors, pathutils, sshkeys
from ganeti.backend.common import fail
from ganeti.utils import io, net

RENEW_DIR_NAME = "ganeti-renew"     # the new ssh key pair waits here (root's .ssh)


def _write_etcd_ca() -> None:
    """etcd's CA file: every trusted certificate (etcd reads it when it starts)."""
    io.write_file(pathutils.ETCD_CA_FILE,
                  b"".join(cr.trusted_cert_blocks(pathutils.NODED_CERT_FILE)),
                  mode=0o644, mkdir=True)


def _sign_etcd_cert(ip: str) -> None:
    """A new key and etcd certificate for this node, signed by server.pem."""
    from ganeti.etcd import certs
    io.write_file(pathutils.ETCD_CERT_FILE,
                  certs.make_node_cert(pathutils.NODED_CERT_FILE, net.get_hostname(), [ip]),
                  mode=0o600, mkdir=True)


def cluster_cert_rollover(step, pem, ip):
    """One step of the cluster certificate's replacement on this node.

    stage: ``pem`` is the new certificate alone; switch: the new certificate
    with its key, ``ip`` this node's primary IP (for its new etcd
    certificate); finish and abort: ``pem`` is None. Each file is replaced
    atomically, in an order that never leaves a certificate in use untrusted.
    """
    if step not in cr.CERT_STEPS:
        fail("cluster_cert_rollover: unknown step %r", step)
    cert_file = pathutils.NODED_CERT_FILE
    roll = cr.rollover_file(cert_file)
    current = cr.split_certs(cr.read_or_empty(cert_file))[:1]
    if not current:
        fail("cluster_cert_rollover: this node has no cluster certificate")
    try:
        if step == cr.STEP_STAGE:
            new = cr.check_cert_only(pem, "new cluster certificate")
            io.write_file(roll, new, mode=0o644)
        elif step == cr.STEP_SWITCH:
            new = cr.check_key_and_cert(pem, "new cluster certificate")
            # both are trusted before the node presents the new one
            io.write_file(roll, b"".join(current + cr.split_certs(new)[:1]), mode=0o644)
            io.write_file(cert_file, new, mode=0o600)
            _sign_etcd_cert(ip)
        else:   # finish, or abort: the node's own certificate alone is trusted
            io.remove_file(roll)
        _write_etcd_ca()
    except (OSError, errors.GenericError) as err:
        fail("Cannot %s the new cluster certificate: %s", step, err)
    logging.info("Cluster certificate rollover: %s done", step)
    return True


def etcd_cert_renew(ip):
    """A new key and etcd certificate for this node (--new-node-certificates)."""
    try:
        _sign_etcd_cert(ip)
        _write_etcd_ca()
    except (OSError, errors.GenericError) as err:
        fail("Cannot renew the etcd certificate: %s", err)
    return True


def etcd_restart():
    """Restart this node's etcd member (it reads its CA file only when it starts).

    Returns whether the node runs a member; returns once etcd listens again.
    """
    from ganeti.etcd import member
    if not member.is_member():
        return False
    daemon_util.stop_daemon(constants.ETCD)
    try:
        daemon_util.start_daemon(constants.ETCD, daemon_util.extra_args(constants.ETCD))
    except errors.GenericError as err:
        fail("Cannot restart etcd: %s", err)
    return True


# ---- root's ssh key pair (--new-ssh-keys) ------------------------------------------------

def _renew_dir(ssh_dir):
    return os.path.join(ssh_dir, RENEW_DIR_NAME)


def ssh_key_renew(step, key_type, bits, *, ssh_dir=None):
    """Replace root's cluster-made key pair in two steps; returns the public key.

    prepare: make the new pair aside (the old one stays in use while the
    other nodes learn the new public key); commit: put it in the place of
    the old one (a cluster-made key of another type goes, an admin's key in
    the way is kept as ``<file>.bak-<time>``); abort: drop the pair made aside.
    """
    ssh_dir = ssh_dir or sshkeys.ssh_dir()
    aside = _renew_dir(ssh_dir)
    if step == "abort":
        shutil.rmtree(aside, ignore_errors=True)
        return None
    if key_type not in sshkeys.KEY_FILES:
        fail("Unsupported ssh key type %r (supported: %s)", key_type,
             ", ".join(sorted(sshkeys.KEY_FILES)))
    name = sshkeys.KEY_FILES[key_type]
    try:
        if step == "prepare":
            shutil.rmtree(aside, ignore_errors=True)
            return sshkeys.generate_node_key(net.get_hostname(), key_type, bits,
                                             directory=aside)
        if step != "commit":
            fail("ssh_key_renew: unknown step %r", step)
        public = io.read_file(os.path.join(aside, name + ".pub")).strip()
        target = os.path.join(ssh_dir, name)
        own = dict(sshkeys.own_cluster_keys(ssh_dir))
        if os.path.exists(target) and target not in own:
            backup = "%s.bak-%d" % (target, int(time.time()))
            os.rename(target, backup)
            if os.path.exists(target + ".pub"):
                os.rename(target + ".pub", backup + ".pub")
        os.rename(os.path.join(aside, name + ".pub"), target + ".pub")
        os.rename(os.path.join(aside, name), target)
        for path in own:
            if path != target:
                io.remove_file(path)
                io.remove_file(path + ".pub")
        shutil.rmtree(aside, ignore_errors=True)
    except (OSError, errors.GenericError) as err:
        fail("Cannot renew the ssh key: %s", err)
    logging.info("Renewed root's cluster ssh key (%s)", key_type)
    return public


PROCEDURES = {
    "cluster_cert_rollover": cluster_cert_rollover,
    "etcd_cert_renew": etcd_cert_renew,
    "etcd_restart": etcd_restart,
    "ssh_key_renew": ssh_key_renew,
}
