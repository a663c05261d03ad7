"""A real etcd cluster for tests: N TLS members on loopback addresses.

Member i (1-based) listens on 127.0.7.(first + i - 1) (``first`` defaults to
1), client port 2379 and peer port 2380, with a certificate made by
ganeti.etcd.certs from a throw-away cluster certificate, in one temporary
directory. Runs that use the same addresses take turns through test locks
(one per address, so clusters on distinct addresses run side by side).
``cleanup`` kills only the processes this object started and removes its
directory, also after a failed start.

    with EtcdCluster(3) as ec:
        client = ec.client()
        ec.kill(1); ec.restart(1)
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import testlock

from ganeti import errors
from ganeti.etcd import certs
from ganeti.etcd.client import Client
from ganeti.utils import x509 as cluster_x509

ETCD_BIN = "/usr/bin/etcd"
CLIENT_PORT = 2379
PEER_PORT = 2380
LOCK_PREFIX = "etcd-"
LOCK_TIMEOUT = 900.0
HEALTH_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LOOPBACK_SOURCE = "127.0.0.1"


class EtcdCluster:
    """N etcd members on 127.0.7.first.. (see the module docstring).

    Members beyond N (for add_member) take the addresses that follow.
    """

    def __init__(self, size: int, first: int = 1, spare: int = 1, heartbeat_ms: int = 50,
                 election_ms: int = 500, extra_args: tuple = ()):
        if not 1 <= size <= 9:
            raise ValueError("an etcd test cluster has 1 to 9 members, not %r" % size)
        if not 1 <= first or first + size + spare > 255:
            raise ValueError("etcd test addresses 127.0.7.%d-%d out of range"
                             % (first, first + size + spare - 1))
        self.size = size
        self.first = first
        self.spare = spare      # addresses locked for members added later
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.extra_args = list(extra_args)
        self.procs = {}          # member index -> Popen (only what we started)
        self.tmpdir = None
        self._locks = []

    # -- addresses and files --------------------------------------------------

    def ip(self, i: int) -> str:
        return "127.0.7.%d" % (self.first + i - 1)

    @staticmethod
    def name(i: int) -> str:
        return "node%d" % i

    def client_url(self, i: int) -> str:
        return "https://%s:%d" % (self.ip(i), CLIENT_PORT)

    def peer_url(self, i: int) -> str:
        return "https://%s:%d" % (self.ip(i), PEER_PORT)

    def endpoints(self, members=None) -> list:
        """Client URLs of ``members`` (default: the initial members)."""
        return [self.client_url(i) for i in (members or range(1, self.size + 1))]

    def cert_file(self, i: int) -> str:
        return os.path.join(self.tmpdir, "member%d" % i, "etcd.pem")

    def data_dir(self, i: int) -> str:
        return os.path.join(self.tmpdir, "member%d" % i, "data")

    def log_file(self, i: int) -> str:
        return os.path.join(self.tmpdir, "member%d" % i, "etcd.log")

    @property
    def ca_file(self) -> str:
        """The CA certificate alone, as etcd and clients trust it."""
        return os.path.join(self.tmpdir, "etcd-ca.pem")

    @property
    def cluster_cert(self) -> str:
        """The throw-away cluster certificate (key + cert) that signs the others."""
        return os.path.join(self.tmpdir, "server.pem")

    def client(self, members=None, timeout: float = 5.0, cert_member: int = 1) -> Client:
        """A Client for ``members`` using member ``cert_member``'s certificate."""
        return Client(self.endpoints(members), self.cert_file(cert_member),
                      self.ca_file, timeout=timeout)

    # -- life cycle ------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def start(self):
        """Make the certificates, start every member, wait until all are healthy."""
        try:
            for i in range(1, self.size + self.spare + 1):
                self._locks.append(testlock.take(LOCK_PREFIX + self.ip(i), LOCK_TIMEOUT))
            self.tmpdir = tempfile.mkdtemp(prefix="etcd-test-")
            cluster_x509.generate_cluster_cert_file(self.cluster_cert)
            members = range(1, self.size + 1)
            initial = ",".join("%s=%s" % (self.name(i), self.peer_url(i)) for i in members)
            for i in members:
                self.start_member(i, initial, "new")
            self.wait_healthy(members)
        except BaseException:
            self.cleanup()
            raise

    def make_cert(self, i: int) -> str:
        """Member i's etcd.pem (made once).

        It names 127.0.0.1 too: etcd checks a peer's certificate against the
        address the peer connects from, and on loopback the kernel sends from
        127.0.0.1 whatever 127.0.7.x address etcd dials.
        """
        os.makedirs(os.path.dirname(self.cert_file(i)), exist_ok=True)
        certs.ensure_node_cert(self.name(i), [self.ip(i), LOOPBACK_SOURCE], self.cert_file(i),
                               self.cluster_cert, self.ca_file)
        return self.cert_file(i)

    def argv(self, i: int, initial_cluster: str, state: str) -> list:
        cert = self.make_cert(i)
        ca = self.ca_file
        return [ETCD_BIN, "--name", self.name(i), "--data-dir", self.data_dir(i),
                "--listen-client-urls", self.client_url(i),
                "--advertise-client-urls", self.client_url(i),
                "--listen-peer-urls", self.peer_url(i),
                "--initial-advertise-peer-urls", self.peer_url(i),
                "--initial-cluster", initial_cluster,
                "--initial-cluster-state", state,
                "--cert-file", cert, "--key-file", cert, "--trusted-ca-file", ca,
                "--client-cert-auth",
                "--peer-cert-file", cert, "--peer-key-file", cert,
                "--peer-trusted-ca-file", ca, "--peer-client-cert-auth",
                "--heartbeat-interval", str(self.heartbeat_ms),
                "--election-timeout", str(self.election_ms)] + self.extra_args

    def start_member(self, i: int, initial_cluster: str, state: str = "existing"):
        """Start member i's process (it must not run already); does not wait."""
        if i in self.procs and self.procs[i].poll() is None:
            raise RuntimeError("etcd member %d runs already (pid %d)" % (i, self.procs[i].pid))
        argv = self.argv(i, initial_cluster, state)
        with open(self.log_file(i), "ab") as log:
            self.procs[i] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT)

    def add_member(self, i: int, members: list, learner: bool = True):
        """Add member i through the API (as a learner by default), then start it.

        ``members`` are the indexes of the members already in the cluster. Returns
        the ganeti.etcd.client.Member that member_add answered.
        """
        client = self.client(members)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while True:
            try:
                added = client.member_add([self.peer_url(i)], learner=learner)
                break
            except errors.EtcdUnavailableError as err:
                # etcd refuses member changes until every member has been
                # connected for 5 s ("unhealthy cluster"), e.g. right after start.
                if "unhealthy cluster" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        initial = ",".join("%s=%s" % (self.name(j), self.peer_url(j))
                           for j in sorted(set(members) | {i}))
        self.start_member(i, initial, "existing")
        return added

    def remove_member(self, i: int, members: list):
        """Remove member i through the API (asking ``members``), then stop it."""
        client = self.client(members)
        ids = {m.name: m.id for m in client.member_list()}
        client.member_remove(ids[self.name(i)])
        self.kill(i)

    def wait_healthy(self, members, timeout: float = HEALTH_TIMEOUT):
        """Wait until every member in ``members`` answers /health with true."""
        client = self.client(members, timeout=2.0, cert_member=min(members))
        deadline = time.monotonic() + timeout
        pending = set(members)
        while pending:
            for i in sorted(pending):
                proc = self.procs.get(i)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError("etcd member %d exited with %s:\n%s"
                                       % (i, proc.returncode, self.log_tail(i)))
                if client.health(self.client_url(i)):
                    pending.discard(i)
            if not pending:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("etcd members %s not healthy within %ss:\n%s"
                                   % (sorted(pending), timeout,
                                      "\n".join(self.log_tail(i) for i in pending)))
            time.sleep(0.05)
        client.close()

    def log_tail(self, i: int, lines: int = 15) -> str:
        try:
            with open(self.log_file(i), "rb") as log:
                tail = log.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError as err:
            return "(no log for member %d: %s)" % (i, err)
        return "\n".join("member%d: %s" % (i, line) for line in tail)

    def kill(self, i: int, sig: int = signal.SIGKILL):
        """Send ``sig`` (default SIGKILL) to member i and reap it."""
        proc = self.procs.get(i)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def restart(self, i: int, wait: bool = True):
        """Start member i again on its data dir (after kill); wait until healthy."""
        self.start_member(i, "%s=%s" % (self.name(i), self.peer_url(i)), "existing")
        if wait:
            self.wait_healthy([i])

    def running(self) -> list:
        return sorted(i for i, proc in self.procs.items() if proc.poll() is None)

    def cleanup(self):
        """Kill the members this object started, remove its files, free the lock."""
        for i in list(self.procs):
            self.kill(i)
        self.procs.clear()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        while self._locks:
            testlock.release(self._locks.pop())
