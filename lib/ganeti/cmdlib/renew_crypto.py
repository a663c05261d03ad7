"""gnt-cluster renew-crypto: new certificates, keys and secrets on every node.

One job does it all while the cluster keeps working (doc/crypto.rst): the
files every node holds alike (RAPI certificate, confd HMAC key, cluster
domain secret) are made on the master and copied to the nodes; a new cluster
certificate goes through the rollover of crypto_renewal, with rolling
restarts of the etcd members; the nodes' etcd certificates and ssh keys are
made on each node.
"""

import logging
import threading
import time

from ganeti import crypto_renewal as cr, errors, locking, opcodes, pathutils
from ganeti import sshkeys
from ganeti.cmdlib.base import NoHooksLU

# one renewal at a time (they take the node locks shared, so jobs on instances go on)
_RUNNING = threading.Lock()
ETCD_HEALTH_TIMEOUT = 60.0
_POLL = 0.2

# Ganeti's ssh key sizes: (default, check) per key type; ed25519 has a fixed size
SSH_KEY_BITS = {
    "rsa": (2048, lambda bits: bits >= 768),
    "dsa": (1024, lambda bits: bits == 1024),
    "ecdsa": (384, lambda bits: bits in (256, 384, 521)),
    "ed25519": (256, lambda bits: bits == 256),
}


def ssh_key_bits(key_type, bits, old_type, old_bits):
    """The size of the new keys: given, else the cluster's (same type), else the
    type's default; OpPrereqError for a size the type does not have."""
    if key_type not in sshkeys.KEY_FILES:
        raise errors.OpPrereqError(
            "ssh keys of type '%s' cannot be made here (supported: %s)"
            % (key_type, ", ".join(sorted(sshkeys.KEY_FILES))), errors.ECODE_INVAL)
    if bits is None:
        bits = old_bits if (old_type == key_type and old_bits) else SSH_KEY_BITS[key_type][0]
    if not SSH_KEY_BITS[key_type][1](bits):
        raise errors.OpPrereqError("Invalid key type and bit size combination: %s with %s"
                                   " bits" % (key_type, bits), errors.ECODE_INVAL)
    return bits


def check_given_secrets(secrets):
    """The given RAPI certificate and domain secret, checked (OpPrereqError)."""
    secrets = dict(secrets or {})
    pem = secrets.get("rapi_certificate")
    if pem is not None:
        try:
            cr.check_key_and_cert(pem, "RAPI certificate")
        except errors.X509CertError as err:
            raise errors.OpPrereqError("Invalid RAPI certificate: %s" % err.args[-1],
                                       errors.ECODE_INVAL)
    cds = secrets.get("cluster_domain_secret")
    if cds is not None and not cds.strip():
        raise errors.OpPrereqError("The new cluster domain secret is empty",
                                   errors.ECODE_INVAL)
    return secrets


class LUClusterRenewCrypto(NoHooksLU):
    """Renew the cluster's certificates, keys and secrets on every online node."""
    REQ_BGL = False

    def check_arguments(self):
        opcodes.check_secrets_present(self.op)
        self.secrets = check_given_secrets(self.op.crypto_secrets)
        if self.op.rapi_certificate and "rapi_certificate" in self.secrets:
            raise errors.OpPrereqError("Only one of a new and a given RAPI certificate"
                                       " can be asked for", errors.ECODE_INVAL)
        if self.op.cluster_domain_secret and "cluster_domain_secret" in self.secrets:
            raise errors.OpPrereqError("Only one of a new and a given cluster domain"
                                       " secret can be asked for", errors.ECODE_INVAL)

    def expand_names(self):
        # shared: instance jobs go on meanwhile; node changes (exclusive) wait
        self.needed_locks = {locking.LEVEL_NODE: locking.ALL_SET}
        self.share_locks[locking.LEVEL_NODE] = 1

    def check_prereq(self):
        cluster = self.cfg.get_cluster_info()
        self.master = self.cfg.get_master_node()
        nodes = self.cfg.get_all_nodes_info()
        self.offline = sorted(n for n, node in nodes.items() if node.offline)
        # the master first: what fails there fails before any other node changed
        self.nodes = [self.master] + sorted(n for n, node in nodes.items()
                                            if not node.offline and n != self.master)
        self.ips = dict((n, node.primary_ip) for n, node in nodes.items())
        if self.op.renew_ssh_keys and cluster.modify_ssh_setup:
            self.key_type = self.op.ssh_key_type or cluster.ssh_key_type or "rsa"
            self.key_bits = ssh_key_bits(self.key_type, self.op.ssh_key_bits,
                                         cluster.ssh_key_type, cluster.ssh_key_bits)

    # ---- helpers ---------------------------------------------------------------------

    def _verbose(self, msg, *args):
        text = msg % args if args else msg
        logging.info("renew-crypto: %s", text)
        if self.op.verbose:
            self.log_info(text)

    def _call_all(self, what, call, nodes, *args):
        """Call ``call`` on ``nodes``: ({node: data}, {node: error})."""
        done, failed = {}, {}
        if not nodes:
            return done, failed
        for name, res in call(nodes, *args).items():
            if res.fail_msg:
                failed[name] = res.fail_msg
            else:
                done[name] = res.data
        for name in sorted(failed):
            logging.warning("renew-crypto: %s failed on %s: %s", what, name, failed[name])
        if self.op.debug:       # -d: every node's answer to every step
            for name in sorted(done):
                self.log_info("%s on %s: done", what, name)
        return done, failed

    def _rollover(self, nodes, step, pem=None):
        return self._call_all("cluster certificate %s" % step,
                              self.rpc.call_cluster_cert_rollover, nodes, step, pem, None)

    def _switch(self, names, pem):
        """The switch step (each node gets its own IP for its etcd certificate)."""
        done, failed = {}, {}
        threads = []
        lock = threading.Lock()

        def _one(name):
            res = self.rpc.call_cluster_cert_rollover([name], cr.STEP_SWITCH, pem,
                                                      self.ips[name])[name]
            with lock:
                if res.fail_msg:
                    failed[name] = res.fail_msg
                else:
                    done[name] = res.data
        for name in names:
            thread = threading.Thread(target=_one, args=(name,), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        return done, failed

    @staticmethod
    def _describe(failed):
        return "; ".join("%s: %s" % item for item in sorted(failed.items()))

    def restart_etcd_members(self, why):
        """Restart the etcd members one by one, each once the previous one is
        healthy again and has what was committed before its restart, so etcd
        keeps its quorum; OpExecError if one does not come back (the others are
        then left as they are)."""
        from ganeti.etcd import member, membership
        want = membership.wanted_members(self.cfg)
        order = sorted(n for n in want if n != self.master) + [self.master]
        for name in order:
            if name not in self.nodes:
                continue
            url = member.client_url(want[name])
            committed = self._committed_index(membership)
            res = self.rpc.call_etcd_restart(name)
            if res.fail_msg:
                raise errors.OpExecError("Could not restart the etcd member on %s (%s): %s"
                                         % (name, why, res.fail_msg))
            if not res.data:
                continue
            self._wait_healthy(membership, url, name, committed)
            self._verbose("etcd member on %s restarted (%s)", name, why)

    def _committed_index(self, membership):
        try:
            with membership.client_for(self.cfg) as client:
                return client.status()["raft_index"]
        except errors.EtcdError:
            return 0

    def _wait_healthy(self, membership, url, name, committed):
        end = time.time() + ETCD_HEALTH_TIMEOUT
        with membership.client_for(self.cfg) as client:
            while time.time() < end:
                try:
                    if client.health(url):
                        status = client.status(url)
                        if (status["raft_applied_index"] or status["raft_index"]) >= committed:
                            return
                except errors.EtcdError:
                    pass
                time.sleep(_POLL)
        raise errors.OpExecError("The etcd member on %s is not healthy %ds after its"
                                 " restart; the remaining members were not restarted"
                                 % (name, ETCD_HEALTH_TIMEOUT))

    # ---- the parts ---------------------------------------------------------------------

    def _renew_files(self, feedback_fn):
        """RAPI certificate, confd HMAC key, cluster domain secret: made on the master
        (or given), written on the master first, then on the other nodes."""
        files = []
        if self.op.rapi_certificate:
            files.append((pathutils.RAPI_CERT_FILE, cr.new_self_signed_pem(), 0o600))
        elif "rapi_certificate" in self.secrets:
            files.append((pathutils.RAPI_CERT_FILE, self.secrets["rapi_certificate"], 0o600))
        if self.op.confd_hmac_key:
            files.append((pathutils.CONFD_HMAC_KEY, cr.new_secret(), 0o400))
        if self.op.cluster_domain_secret:
            files.append((pathutils.CLUSTER_DOMAIN_SECRET_FILE, cr.new_secret(), 0o400))
        elif "cluster_domain_secret" in self.secrets:
            files.append((pathutils.CLUSTER_DOMAIN_SECRET_FILE,
                          self.secrets["cluster_domain_secret"], 0o400))
        if not files:
            return
        feedback_fn("Updating certificates and keys")
        for path, data, mode in files:
            res = self.rpc.call_upload_file([self.master], path, data=data,
                                            mode=mode)[self.master]
            res.raise_on_failure("Could not write %s on the master" % path)
        others = self.nodes[1:]
        for name in others:
            feedback_fn("Copying %s to %s" % (", ".join(p for p, _, _ in files), name))
        failed = {}
        for path, data, mode in files:
            _, bad = self._call_all("copy of %s" % path, lambda names, *a: self.rpc.
                                    call_upload_file(names, path, data=data, mode=mode),
                                    others)
            failed.update(bad)
        for name in sorted(failed):
            self.log_warning("Could not copy the new files to node %s: %s"
                             % (name, failed[name]),
                             hint="run this command again once the node is back")

    def _renew_cluster_cert(self, feedback_fn):
        feedback_fn("Updating the cluster SSL certificate.")
        new_pem = cr.new_self_signed_pem(unique=True).decode("ascii")
        new_cert = cr.split_certs(new_pem.encode("ascii"))[0].decode("ascii")
        # 1. every node trusts the new certificate too; etcd members learn it
        _, failed = self._rollover(self.nodes, cr.STEP_STAGE, new_cert)
        if failed:
            self._rollover(self.nodes, cr.STEP_ABORT)
            raise errors.OpExecError(
                "Could not prepare every node for the new cluster certificate, so it was"
                " not replaced: %s" % self._describe(failed))
        self._verbose("every node trusts the new cluster certificate too")
        self.restart_etcd_members("to trust the new cluster certificate")
        # 2. the nodes present the new one (the master first)
        _, failed = self._switch([self.master], new_pem)
        if failed:
            self._rollover(self.nodes, cr.STEP_ABORT)
            raise errors.OpExecError("Could not install the new cluster certificate on the"
                                     " master, so it was not replaced: %s"
                                     % self._describe(failed))
        done, failed = self._switch(self.nodes[1:], new_pem)
        switched = [self.master] + sorted(done)
        for name in sorted(failed):
            self.log_warning("Node %s did not take the new cluster certificate: %s"
                             % (name, failed[name]),
                             hint="the master cannot reach it any more; add it again with"
                             " 'gnt-node add --readd %s'" % name)
        self._verbose("the nodes use the new cluster certificate")
        self.restart_etcd_members("to use their new certificates")
        # 3. the old certificate is trusted no more
        _, failed = self._rollover(switched, cr.STEP_FINISH)
        for name in sorted(failed):
            self.log_warning("Node %s still trusts the old cluster certificate: %s"
                             % (name, failed[name]))
        self.restart_etcd_members("to trust the new cluster certificate only")

    def _renew_node_certs(self, feedback_fn):
        """Each node's etcd certificate (the per-node certificates here), new keys."""
        _, failed = self._call_all(
            "etcd certificate renewal",
            lambda names: dict((n, self.rpc.call_etcd_cert_renew(n, self.ips[n]))
                               for n in names), self.nodes)
        for name in sorted(failed):
            self.log_warning("Could not renew the node certificate of %s: %s"
                             % (name, failed[name]))
        self.restart_etcd_members("to use their new certificates")

    def _renew_ssh_keys(self, feedback_fn):
        cfg = self.cfg
        keys = sshkeys.read_pub_keys()
        nodes = [n for n in self.nodes if n in keys]
        if not nodes:
            self.log_info("No node has an ssh key pair made by the cluster")
            return
        new, failed = self._call_all("ssh key generation", self.rpc.call_ssh_key_renew,
                                     nodes, "prepare", self.key_type, self.key_bits)
        if failed:
            self._call_all("ssh key abort", self.rpc.call_ssh_key_renew, nodes,
                           "abort", None, None)
            raise errors.OpExecError("Could not make new ssh keys, nothing was changed: %s"
                                     % self._describe(failed))
        infos = cfg.get_all_nodes_info()
        capable = [n for n in nodes if infos[n].master_capable]
        # the new keys are authorized beside the old ones, then put in place
        _, failed = self._call_all("ssh key authorization",
                                   self.rpc.call_node_ssh_keys_update, self.nodes,
                                   [new[n] for n in capable], [], [], None)
        if failed:
            self._call_all("ssh key abort", self.rpc.call_ssh_key_renew, nodes,
                           "abort", None, None)
            self._call_all("ssh key cleanup", self.rpc.call_node_ssh_keys_update,
                           self.nodes, [], [new[n] for n in capable], [], None)
            raise errors.OpExecError("Could not authorize the new ssh keys, nothing was"
                                     " changed: %s" % self._describe(failed))
        done, failed = self._call_all("ssh key switch", self.rpc.call_ssh_key_renew,
                                      nodes, "commit", self.key_type, self.key_bits)
        for name in sorted(failed):
            self.log_warning("Node %s keeps its old ssh key: %s" % (name, failed[name]))
        stale = []
        for name, public in done.items():
            stale += keys[name]
            keys[name] = [public]
            self._verbose("new ssh key on %s", name)
        _, failed = self._call_all("ssh key update", self.rpc.call_node_ssh_keys_update,
                                   self.nodes, [], stale, [], sshkeys.format_pub_keys(keys))
        for name in sorted(failed):
            self.log_warning("Could not remove the old ssh keys on node %s: %s"
                             % (name, failed[name]))
        cluster = cfg.get_cluster_info()
        if (cluster.ssh_key_type, cluster.ssh_key_bits) != (self.key_type, self.key_bits):
            cluster.ssh_key_type, cluster.ssh_key_bits = self.key_type, self.key_bits
            cfg.update(cluster)

    def exec(self, feedback_fn):
        if not _RUNNING.acquire(blocking=False):
            raise errors.OpExecError("Another renewal of the cluster's certificates and"
                                     " keys is running")
        try:
            for name in self.offline:
                self.log_warning("Node %s is offline and keeps its old certificates and"
                                 " keys" % name,
                                 hint="add it again with 'gnt-node add --readd %s'" % name
                                 if self.op.cluster_certificate else None)
            self._renew_files(feedback_fn)
            if self.op.cluster_certificate:
                self._renew_cluster_cert(feedback_fn)
            if self.op.node_certificates:
                feedback_fn("Renewing Node SSL certificates")
                if not self.op.cluster_certificate:     # else done with the switch
                    self._renew_node_certs(feedback_fn)
            if self.op.renew_ssh_keys:
                if self.cfg.get_cluster_info().modify_ssh_setup:
                    feedback_fn("Renewing SSH keys")
                    self._renew_ssh_keys(feedback_fn)
                else:
                    feedback_fn("Cannot renew SSH keys if the cluster is configured to not"
                                " modify the SSH setup.")
        finally:
            _RUNNING.release()
        return True
