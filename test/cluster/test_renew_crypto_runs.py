"""gnt-cluster renew-crypto on the network-namespace cluster (3 nodes, 3 etcd voters).

After each renewal: the files changed alike on every node, the daemons serve
the new certificates (read from their ports), verify passes, jobs and live
queries work; meanwhile a loop of live queries never fails; a master failover
works after a new cluster certificate; bad input changes nothing.
"""

import hashlib
import os
import shutil
import subprocess
import threading
import time

import pytest

import netns_cluster

DATA = "/var/lib/ganeti"
FILES = ("server.pem", "etcd.pem", "etcd-ca.pem", "rapi.pem", "hmac.key",
         "cluster-domain-secret", "ganeti_pub_keys")
FIRST = ('Updating certificates now. Running "gnt-cluster verify"  is recommended after'
         ' this operation.')
LAST = ('All requested certificates and keys have been replaced. Running'
        ' "gnt-cluster verify" now is recommended.')

# prints the SHA-256 of the DER certificate served at IP:PORT (client cert: argv[3])
_SERVED = """
import hashlib, socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(sys.argv[3])
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as raw:
    with ctx.wrap_socket(raw) as tls:
        print(hashlib.sha256(tls.getpeercert(True)).hexdigest())
"""

# prints the SHA-256 of the DER certificates in a PEM file, one per line
_CERTS = """
import hashlib, ssl, sys
data = open(sys.argv[1]).read()
for block in data.split("-----BEGIN CERTIFICATE-----")[1:]:
    pem = "-----BEGIN CERTIFICATE-----" + block.split("-----END CERTIFICATE-----")[0]
    pem += "-----END CERTIFICATE-----\\n"
    print(hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest())
"""


@pytest.fixture(scope="module")
def nc():
    reason = netns_cluster.netns_supported()
    if reason:
        pytest.skip(reason)
    cluster = netns_cluster.NetnsCluster(3, prefix="gntr")
    try:
        cluster.init()
        # the admin's key lets the master set the other nodes up over ssh
        ssh_dir = cluster.master.path("/root/.ssh")
        os.makedirs(ssh_dir, exist_ok=True)
        for suffix in ("", ".pub"):
            shutil.copy(cluster.ssh_key + suffix, os.path.join(ssh_dir, "id_ed25519" + suffix))
        yield cluster
    finally:
        cluster.cleanup()


def _read(node, name):
    try:
        with open(node.path(os.path.join(DATA, name)), "rb") as fd:
            return fd.read()
    except FileNotFoundError:
        return None


def _state(nc):
    """{node: {file: sha256 of its contents}}."""
    return dict((n.name, dict((f, hashlib.sha256(_read(n, f) or b"").hexdigest())
                              for f in FILES)) for n in nc.nodes)


def _certs(node, name):
    proc = node.run(netns_cluster.PYTHON, "-c", _CERTS, node.path(os.path.join(DATA, name)),
                    check=True)
    return proc.stdout.split()


def _served(node, port, client_cert):
    proc = node.run(netns_cluster.PYTHON, "-c", _SERVED, node.ip, str(port),
                    node.path(os.path.join(DATA, client_cert)), check=True)
    return proc.stdout.strip()


def _renew(nc, *options, expect=0):
    proc = nc.master.run("gnt-cluster", "renew-crypto", *options, timeout=600)
    assert proc.returncode == expect, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def _assert_working(nc, name="rc-check.example.com"):
    m = nc.master
    verify = m.run("gnt-cluster", "verify", timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    _live_nodes(m)
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
          "--no-name-check", "--no-ip-check", "-n", nc.node(3).name, name, check=True)
    m.run("gnt-instance", "remove", "-f", name, check=True)


def _live_nodes(m):
    out = m.run("gnt-node", "list", "--no-headers", "--separator=|", "-o",
                "name,mfree,dfree", check=True).stdout
    rows = [line.split("|") for line in out.splitlines()]
    assert len(rows) == 3 and all(r[1] not in ("", "?", "*") for r in rows), out
    return rows


def _log_lines(node, words):
    """The lines of the master daemon's log that contain ``words``."""
    with open(node.path("/var/log/ganeti/master-daemon.log"), errors="replace") as fd:
        return [line for line in fd if words in line]


class _Prober(threading.Thread):
    """Live node queries in a loop while a renewal runs: none may fail."""

    def __init__(self, node):
        super().__init__(daemon=True)
        self.node = node
        self.stop = threading.Event()
        self.failures = []
        self.count = 0

    def run(self):
        while not self.stop.is_set():
            try:
                _live_nodes(self.node)
                self.count += 1
            except (AssertionError, subprocess.TimeoutExpired) as err:
                self.failures.append(str(err))
            time.sleep(0.2)


def test_setup(nc):
    m, n2, n3 = nc.nodes
    m.run("gnt-node", "add", n2.name, check=True)
    m.run("gnt-node", "add", n3.name, check=True)
    m.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
          "--no-name-check", "--no-ip-check", "-n", n2.name, "rc1.example.com",
          check=True)
    _wait_settled(m)


def test_new_cluster_certificate(nc):
    before = _state(nc)
    old = _certs(nc.master, "server.pem")
    prober = _Prober(nc.master)
    prober.start()
    try:
        proc = _renew(nc, "--new-cluster-certificate", "-f")
    finally:
        prober.stop.set()
        prober.join()
    assert prober.count > 0 and not prober.failures, (prober.failures,
                                                      _log_lines(nc.master, "No live data"))
    print("%d live queries during the renewal, none failed:\n%s" % (prober.count,
                                                                   proc.stdout))
    lines = proc.stdout.splitlines()
    assert lines[0] == FIRST and lines[-1] == LAST
    assert "Updating the cluster SSL certificate." in proc.stdout
    new = _certs(nc.master, "server.pem")
    assert len(new) == 1 and new != old
    after = _state(nc)
    for node in nc.nodes:
        mine = after[node.name]
        assert _certs(node, "server.pem") == new
        assert mine["server.pem"] != before[node.name]["server.pem"]
        assert mine["etcd.pem"] != before[node.name]["etcd.pem"]
        # etcd trusts the new certificate alone; nothing of the rollover is left
        assert _certs(node, "etcd-ca.pem") == new
        assert _read(node, "server.pem.rollover") is None
        # the node daemon and the etcd member serve the new certificates
        assert _served(node, 1811, "server.pem") == new[0]
        assert _served(node, 2379, "etcd.pem") == _certs(node, "etcd.pem")[0]
        # the other files are untouched
        for name in ("rapi.pem", "hmac.key", "cluster-domain-secret"):
            assert mine[name] == before[node.name][name]
    _assert_working(nc)


def test_failover_after_a_new_cluster_certificate(nc):
    m, n2, _ = nc.nodes
    n2.run("gnt-cluster", "master-failover", check=True, timeout=120)
    assert n2.run("gnt-cluster", "getmaster", check=True).stdout.strip() == n2.name
    _live_nodes(n2)
    n2.run("gnt-instance", "add", "-t", "diskless", "--no-nics", "-o", "noop",
           "--no-name-check", "--no-ip-check", "-n", m.name, "rc2.example.com", check=True)
    m.run("gnt-cluster", "master-failover", check=True, timeout=120)
    m.run("gnt-instance", "remove", "-f", "rc2.example.com", check=True)
    _assert_working(nc)


def test_new_node_certificates(nc):
    before = _state(nc)
    proc = _renew(nc, "--new-node-certificates", "-f", "-v")
    assert "Renewing Node SSL certificates" in proc.stdout
    assert "etcd member on" in proc.stdout          # -v: each restart reported
    after = _state(nc)
    for node in nc.nodes:
        assert after[node.name]["etcd.pem"] != before[node.name]["etcd.pem"]
        assert after[node.name]["server.pem"] == before[node.name]["server.pem"]
        assert _served(node, 2379, "etcd.pem") == _certs(node, "etcd.pem")[0]
    _assert_working(nc)


def test_new_files(nc):
    before = _state(nc)
    proc = _renew(nc, "--new-rapi-certificate", "--new-confd-hmac-key",
                  "--new-cluster-domain-secret", "-f")
    assert "Updating certificates and keys" in proc.stdout
    after = _state(nc)
    master = after[nc.master.name]
    for node in nc.nodes:
        for name in ("rapi.pem", "hmac.key", "cluster-domain-secret"):
            assert after[node.name][name] != before[node.name][name], (node.name, name)
            assert after[node.name][name] == master[name], (node.name, name)
        assert after[node.name]["server.pem"] == before[node.name]["server.pem"]
    _assert_working(nc)


def test_given_files(nc, tmp_path):
    m = nc.master
    rapi = m.path("/tmp/rapi-given.pem")
    os.makedirs(os.path.dirname(rapi), exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                    "30", "-subj", "/CN=rapi.example.com", "-keyout", rapi, "-out",
                    rapi + ".crt"], check=True, capture_output=True)
    with open(rapi, "ab") as fd, open(rapi + ".crt", "rb") as crt:
        fd.write(crt.read())
    cds = m.path("/tmp/cds-given")
    with open(cds, "w") as fd:
        fd.write("the-domain-secret-of-all-our-clusters\n")
    _renew(nc, "--rapi-certificate=%s" % rapi, "--cluster-domain-secret=%s" % cds, "-f")
    for node in nc.nodes:
        assert _read(node, "rapi.pem") == open(rapi, "rb").read()
        assert _read(node, "cluster-domain-secret") == open(cds, "rb").read()
    # the given secrets are not kept in the job queue
    job_id = m.run("gnt-job", "list", "--no-headers", "-o", "id",
                   check=True).stdout.split()[-1]
    jobs = m.run("gnt-job", "info", job_id, check=True).stdout
    assert "RENEW_CRYPTO" in jobs.upper()
    assert "the-domain-secret-of-all-our-clusters" not in jobs
    assert "PRIVATE KEY" not in jobs
    _assert_working(nc)


def test_bad_input_changes_nothing(nc):
    m = nc.master
    before = _state(nc)
    jobs = m.run("gnt-job", "list", "--no-headers", check=True).stdout
    bad_cert = m.path("/tmp/cert-only.pem")
    with open(bad_cert, "wb") as fd:
        fd.write(_read(m, "etcd-ca.pem"))        # a certificate without its key
    garbage = m.path("/tmp/garbage.pem")
    with open(garbage, "w") as fd:
        fd.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    empty = m.path("/tmp/empty-secret")
    open(empty, "w").close()
    for options, words in [
            (["--rapi-certificate=%s" % bad_cert], "Unable to load private key"),
            (["--rapi-certificate=%s" % garbage], "Unable to load certificate"),
            (["--cluster-domain-secret=%s" % empty], "the file is empty"),
            (["--new-rapi-certificate", "--rapi-certificate=%s" % bad_cert],
             "Only one of the --new-rapi-certificate"),
            (["--new-spice-certificate"], "SPICE"),
            (["--new-ssh-keys", "--ssh-key-type=dsa"], "cannot be made here")]:
        proc = _renew(nc, "-f", *options, expect=1)
        assert words in proc.stderr, (options, proc.stderr)
        assert _state(nc) == before, options
    # only the refused dsa job ran (and failed before it changed anything)
    after = m.run("gnt-job", "list", "--no-headers", check=True).stdout
    assert len(after.splitlines()) == len(jobs.splitlines()) + 1


def test_new_ssh_keys(nc):
    m, n2, n3 = nc.nodes
    before = _state(nc)
    old = dict((n.name, open(n.path("/root/.ssh/id_rsa.pub")).read().strip())
               for n in (n2, n3))
    proc = _renew(nc, "--new-ssh-keys", "--ssh-key-type=ecdsa", "--no-ssh-key-check", "-f")
    assert "Renewing SSH keys" in proc.stdout
    for node in (n2, n3):
        assert not os.path.exists(node.path("/root/.ssh/id_rsa"))
        new = open(node.path("/root/.ssh/id_ecdsa.pub")).read().strip()
        assert new.startswith("ecdsa-sha2-nistp384 ")
        for other in nc.nodes:
            auth = open(other.path("/root/.ssh/authorized_keys")).read()
            assert new in auth and old[node.name] not in auth, other.name
            assert "%s %s" % (node.name, new) in _read(other, "ganeti_pub_keys").decode()
    assert _state(nc)[m.name]["server.pem"] == before[m.name]["server.pem"]
    # the new key logs in: node2 to node3
    ssh = n2.run("ssh", "-F", "/dev/null", "-i", n2.path("/root/.ssh/id_ecdsa"),
                 "-oBatchMode=yes", "-oStrictHostKeyChecking=no",
                 "-oUserKnownHostsFile=/dev/null", "root@%s" % n3.ip, "true", timeout=30)
    assert ssh.returncode == 0, ssh.stderr
    info = m.run("gnt-cluster", "info", check=True).stdout
    assert "ssh_key_type: ecdsa" in info and "ssh_key_bits: 384" in info
    _assert_working(nc)


def test_a_node_cut_off_means_no_new_cluster_certificate(nc):
    """A node that is down but not offline cannot take the new certificate: the
    renewal is refused and every node keeps the old one (none is left out)."""
    before = _state(nc)
    nc.cut(3)
    try:
        proc = _renew(nc, "--new-cluster-certificate", "-f", expect=1)
    finally:
        nc.uncut(3)
    assert "so it was not replaced" in proc.stderr and nc.node(3).name in proc.stderr
    assert _state(nc) == before
    for node in nc.nodes:
        assert _read(node, "server.pem.rollover") is None
    _wait_rejoined(nc, nc.node(3))
    _assert_working(nc)


def _wait_settled(m, timeout=60):
    """Wait until verify passes after nodes were added: their etcd members join
    in the background (learner, then voter), and verify right after the adds
    failed once in a full run (its output was not kept then; it is now)."""
    deadline = time.time() + timeout
    while True:
        verify = m.run("gnt-cluster", "verify", timeout=300)
        if verify.returncode == 0:
            return
        assert time.time() < deadline, verify.stdout + verify.stderr
        time.sleep(2)


def _wait_rejoined(nc, node, timeout=60):
    """Wait until the etcd member of ``node``, just back on the network, follows
    the leader again (until then verify rightly reports it has none)."""
    deadline = time.time() + timeout
    while True:
        out = nc.master.run("gnt-cluster", "verify", timeout=300).stdout
        if "etcd member on %s has no leader" % node.name not in out:
            return
        assert time.time() < deadline, out
        time.sleep(1)
