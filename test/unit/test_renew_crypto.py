"""gnt-cluster renew-crypto: the rollover of the cluster certificate on a node,
TLS that follows it, the checks of given files, the ssh key steps, the command
line (the whole renewal runs on real clusters in test/cluster)."""

import io as stdio
import os
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout

import pytest

from ganeti import cli, crypto_renewal as cr, errors, opcodes, pathutils, sshkeys
from ganeti import http as ghttp
from ganeti.backend import crypto as node_crypto
from ganeti.backend.common import RpcFail
from ganeti.client import gnt_cluster
from ganeti.cmdlib import renew_crypto as lu_mod
from ganeti.etcd import certs as etcd_certs
from ganeti.etcd import client as etcd_client
from ganeti.http import client as hclient
from ganeti.http import server as hserver
from ganeti.utils import x509

NODE = "node1.example.com"


def _pem():
    return cr.new_self_signed_pem()


def _cert_of(pem):
    return cr.split_certs(pem)[0]


@pytest.fixture
def node(tmp_path, monkeypatch):
    """A node's data dir with server.pem (old), etcd.pem and etcd-ca.pem."""
    data = tmp_path / "data"
    data.mkdir()
    server = str(data / "server.pem")
    monkeypatch.setattr(pathutils, "NODED_CERT_FILE", server)
    monkeypatch.setattr(pathutils, "ETCD_CERT_FILE", str(data / "etcd.pem"))
    monkeypatch.setattr(pathutils, "ETCD_CA_FILE", str(data / "etcd-ca.pem"))
    monkeypatch.setattr(node_crypto.net, "get_hostname", lambda: NODE)
    old = _pem()
    open(server, "wb").write(old)
    etcd_certs.ensure_node_cert(NODE, ["192.0.2.1"])
    return data, old


def _files(data):
    return dict((name, (data / name).read_bytes()) for name in os.listdir(data))


# ---- trusted certificates ------------------------------------------------------------

def test_trusted_certs_are_own_then_rollover_ones(tmp_path):
    own, other = _pem(), _pem()
    path = str(tmp_path / "server.pem")
    open(path, "wb").write(own)
    assert cr.trusted_cert_blocks(path) == [_cert_of(own)]
    stamp = cr.cert_stamp(path)
    # a duplicate of the own certificate is listed once
    open(cr.rollover_file(path), "wb").write(_cert_of(other) + _cert_of(own))
    assert cr.trusted_cert_blocks(path) == [_cert_of(own), _cert_of(other)]
    assert cr.cert_stamp(path) != stamp
    assert len(cr.trusted_ders(path)) == 2


def test_key_and_cert_check_refuses_what_is_not_a_matching_pair():
    pem = _pem()
    assert cr.check_key_and_cert(pem, "f") == pem
    key_only = pem[:pem.index(b"-----BEGIN CERTIFICATE")]
    for bad, words in [(b"", "Unable to load certificate"),
                       (b"not a pem at all\n", "Unable to load certificate"),
                       (_cert_of(pem), "Unable to load private key"),
                       (key_only, "Unable to load certificate"),
                       (key_only + _cert_of(_pem()), "does not belong")]:
        with pytest.raises(errors.X509CertError) as err:
            cr.check_key_and_cert(bad, "f")
        assert err.value.args[0] == "f" and words in err.value.args[1]
    with pytest.raises(errors.X509CertError):
        cr.check_cert_only(pem, "f")          # a key must never go into the rollover
    assert cr.check_cert_only(_cert_of(pem).decode(), "f") == _cert_of(pem)


# ---- the node's steps ----------------------------------------------------------------

def test_rollover_steps_on_a_node(node):
    data, old = node
    new = cr.new_self_signed_pem(unique=True)
    old_etcd = (data / "etcd.pem").read_bytes()
    # stage: the new certificate is trusted too, the node still presents the old one
    assert node_crypto.cluster_cert_rollover("stage", _cert_of(new).decode(), None)
    assert (data / "server.pem").read_bytes() == old
    assert (data / "server.pem.rollover").read_bytes() == _cert_of(new)
    assert (data / "etcd-ca.pem").read_bytes() == _cert_of(old) + _cert_of(new)
    # switch: the node presents the new one, trusts both, its etcd cert is re-signed
    assert node_crypto.cluster_cert_rollover("switch", new.decode(), "192.0.2.1")
    assert (data / "server.pem").read_bytes() == new
    assert cr.trusted_cert_blocks(pathutils.NODED_CERT_FILE) == [_cert_of(new),
                                                                 _cert_of(old)]
    assert (data / "etcd.pem").read_bytes() != old_etcd
    assert etcd_certs.cert_matches(pathutils.ETCD_CERT_FILE, pathutils.NODED_CERT_FILE,
                                   NODE, ["192.0.2.1"])
    # finish: the new one alone
    assert node_crypto.cluster_cert_rollover("finish", None, None)
    assert not (data / "server.pem.rollover").exists()
    assert (data / "etcd-ca.pem").read_bytes() == _cert_of(new)
    # ganeti-etcd's check at start keeps the re-signed certificate
    assert not etcd_certs.ensure_node_cert(NODE, ["192.0.2.1"])


def test_abort_after_stage_restores_the_old_trust(node):
    data, old = node
    before = _files(data)
    node_crypto.cluster_cert_rollover("stage", _cert_of(_pem()).decode(), None)
    node_crypto.cluster_cert_rollover("abort", None, None)
    assert _files(data) == before


@pytest.mark.parametrize("step,pem", [
    ("stage", "garbage"), ("switch", "garbage"), ("bogus", None)])
def test_bad_input_changes_nothing_on_the_node(node, step, pem):
    data, old = node
    before = _files(data)
    if step == "stage":
        pem = _pem().decode()   # with its key: refused
    with pytest.raises(RpcFail):
        node_crypto.cluster_cert_rollover(step, pem, "192.0.2.1")
    assert _files(data) == before


def test_etcd_cert_renew_makes_a_new_key(node):
    data, old = node
    before = (data / "etcd.pem").read_bytes()
    assert node_crypto.etcd_cert_renew("192.0.2.1")
    after = (data / "etcd.pem").read_bytes()
    assert after != before
    assert etcd_certs.cert_matches(pathutils.ETCD_CERT_FILE, pathutils.NODED_CERT_FILE,
                                   NODE, ["192.0.2.1"])


# ---- TLS follows the files -------------------------------------------------------------

def _handler(procedure, args):
    return "pong"


def test_server_and_client_follow_a_rollover(tmp_path):
    """Two nodes: A (the server) and B (the client) with their own copies."""
    old, new = _pem(), _pem()
    a, b = str(tmp_path / "a.pem"), str(tmp_path / "b.pem")
    open(a, "wb").write(old)
    open(b, "wb").write(new)          # B switched already, A did not stage: no trust
    srv = hserver.RpcHttpServer("127.0.0.1", 0, a, _handler)
    srv.start()
    pool = hclient.HttpClientPool(b)
    host, port = srv.server_address
    try:
        with pytest.raises(ghttp.HttpClientError):
            pool.post_json(host, port, "/ping", [])
        # both staged: each trusts the other's certificate
        open(cr.rollover_file(a), "wb").write(_cert_of(new))
        open(cr.rollover_file(b), "wb").write(_cert_of(old))
        assert pool.post_json(host, port, "/ping", []) == (200, [True, "pong"])
        # A switches too, then both finish: the new certificate alone
        open(cr.rollover_file(a), "wb").write(_cert_of(old) + _cert_of(new))
        open(a, "wb").write(new)
        os.unlink(cr.rollover_file(a))
        os.unlink(cr.rollover_file(b))
        pool.close()
        assert pool.post_json(host, port, "/ping", []) == (200, [True, "pong"])
        assert x509.same_cert(srv.identity.cert_file, b)
        # and the old certificate is refused now
        stale = str(tmp_path / "stale.pem")
        open(stale, "wb").write(old)
        old_pool = hclient.HttpClientPool(stale)
        with pytest.raises(ghttp.HttpClientError):
            old_pool.post_json(host, port, "/ping", [])
        old_pool.close()
    finally:
        pool.close()
        srv.shutdown()


def _verifies(leaf_file, ca_file):
    """Whether a TLS client trusting ``ca_file`` accepts a server presenting ``leaf_file``."""
    import socket
    import ssl
    import threading
    a, b = socket.socketpair()
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(leaf_file)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.load_verify_locations(ca_file)

    def serve():
        try:
            with sctx.wrap_socket(a, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with cctx.wrap_socket(b) as tls:
            tls.sendall(b"x")
        return True
    except ssl.SSLError:
        return False
    finally:
        b.close()
        thread.join(5)


def test_etcd_certs_of_old_and_new_verify_against_both(tmp_path):
    """While both cluster certificates are trusted, an etcd certificate signed by
    either one is accepted, whatever the order in the CA file (a new cluster
    certificate has a subject of its own, so the issuer lookup cannot go wrong)."""
    old, new = str(tmp_path / "old.pem"), str(tmp_path / "new.pem")
    open(old, "wb").write(_pem())
    open(new, "wb").write(cr.new_self_signed_pem(unique=True))
    assert x509.load_cert(old).subject != x509.load_cert(new).subject
    leaves = []
    for ca in (old, new):
        leaf = ca + ".leaf"
        open(leaf, "wb").write(etcd_certs.make_node_cert(ca, NODE, ["127.0.0.1"]))
        leaves.append(leaf)
    for order in ((old, new), (new, old)):
        bundle = str(tmp_path / "bundle.pem")
        open(bundle, "wb").write(b"".join(_cert_of(open(p, "rb").read()) for p in order))
        for leaf in leaves:
            assert _verifies(leaf, bundle), (order, leaf)
    only_new = str(tmp_path / "only-new.pem")
    open(only_new, "wb").write(_cert_of(open(new, "rb").read()))
    assert not _verifies(leaves[0], only_new)


def test_etcd_client_makes_its_context_again_when_files_change(tmp_path):
    ca, cert, ca_out = (str(tmp_path / n) for n in ("server.pem", "etcd.pem", "ca.pem"))
    x509.generate_cluster_cert_file(ca)
    etcd_certs.ensure_node_cert(NODE, ["127.0.0.1"], cert, ca, ca_out)
    client = etcd_client.Client(["https://127.0.0.1:2379"], cert, ca_out)
    first = client._context()
    assert client._context() is first
    x509.generate_cluster_cert_file(ca)
    etcd_certs.ensure_node_cert(NODE, ["127.0.0.1"], cert, ca, ca_out)
    assert client._context() is not first


# ---- root's ssh key --------------------------------------------------------------------

@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs ssh-keygen")
def test_ssh_key_prepare_then_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(node_crypto.net, "get_hostname", lambda: NODE)
    ssh = tmp_path / "ssh"
    ssh.mkdir()
    old = sshkeys.generate_node_key(NODE, "rsa", 1024, directory=str(ssh))
    new = node_crypto.ssh_key_renew("prepare", "ecdsa", 256, ssh_dir=str(ssh))
    assert new.startswith("ecdsa-sha2-nistp256 ") and sshkeys.is_cluster_key(new)
    # the old key is still the one in use
    assert sshkeys.own_cluster_keys(str(ssh)) == [(str(ssh / "id_rsa"), old)]
    assert node_crypto.ssh_key_renew("commit", "ecdsa", 256, ssh_dir=str(ssh)) == new
    # the old pair (another type) is gone, nothing is left aside
    assert sshkeys.own_cluster_keys(str(ssh)) == [(str(ssh / "id_ecdsa"), new)]
    assert sorted(os.listdir(ssh)) == ["id_ecdsa", "id_ecdsa.pub"]


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs ssh-keygen")
def test_ssh_key_abort_and_an_admin_key_in_the_way(tmp_path, monkeypatch):
    monkeypatch.setattr(node_crypto.net, "get_hostname", lambda: NODE)
    ssh = tmp_path / "ssh"
    ssh.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "1024", "-N", "", "-C",
                    "admin@laptop", "-f", str(ssh / "id_rsa")], check=True)
    node_crypto.ssh_key_renew("prepare", "rsa", 1024, ssh_dir=str(ssh))
    assert node_crypto.ssh_key_renew("abort", None, None, ssh_dir=str(ssh)) is None
    assert sorted(os.listdir(ssh)) == ["id_rsa", "id_rsa.pub"]
    node_crypto.ssh_key_renew("prepare", "rsa", 1024, ssh_dir=str(ssh))
    node_crypto.ssh_key_renew("commit", "rsa", 1024, ssh_dir=str(ssh))
    backups = [n for n in os.listdir(ssh) if n.startswith("id_rsa.bak-")]
    assert len(backups) == 2            # the admin's key and its .pub, kept
    with pytest.raises(RpcFail):
        node_crypto.ssh_key_renew("prepare", "dsa", 1024, ssh_dir=str(ssh))


# ---- the job's checks --------------------------------------------------------------------

def test_ssh_key_bits_as_ganeti_decides_them():
    assert lu_mod.ssh_key_bits("rsa", None, "rsa", 4096) == 4096
    assert lu_mod.ssh_key_bits("rsa", None, "ecdsa", 384) == 2048
    assert lu_mod.ssh_key_bits("ecdsa", None, "rsa", 2048) == 384
    for key_type, bits in [("rsa", 512), ("ecdsa", 300)]:
        with pytest.raises(errors.OpPrereqError) as err:
            lu_mod.ssh_key_bits(key_type, bits, "rsa", 2048)
        assert str(err.value.args[0]) == ("Invalid key type and bit size combination:"
                                          " %s with %s bits" % (key_type, bits))
    with pytest.raises(errors.OpPrereqError) as err:
        lu_mod.ssh_key_bits("dsa", None, "rsa", 2048)
    assert "cannot be made here" in err.value.args[0]


def test_given_secrets_are_checked_before_anything_runs():
    assert lu_mod.check_given_secrets(None) == {}
    pem = _pem().decode()
    assert lu_mod.check_given_secrets({"rapi_certificate": pem})
    with pytest.raises(errors.OpPrereqError):
        lu_mod.check_given_secrets({"rapi_certificate": _cert_of(_pem()).decode()})
    with pytest.raises(errors.OpPrereqError):
        lu_mod.check_given_secrets({"cluster_domain_secret": " \n"})


def test_given_secrets_stay_out_of_the_job_files():
    op = opcodes.OpClusterRenewCrypto(crypto_secrets={"cluster_domain_secret": "s3cret"})
    op.validate()
    public, secrets = opcodes.split_secrets(op.to_dict())
    assert public["crypto_secrets"] == {"cluster_domain_secret": opcodes.REDACTED}
    assert secrets["crypto_secrets"] == {"cluster_domain_secret": "s3cret"}
    reloaded = opcodes.OpCode.from_dict(public)
    with pytest.raises(errors.OpPrereqError):
        opcodes.check_secrets_present(reloaded)


# ---- the command line ----------------------------------------------------------------------

FIRST = ('Updating certificates now. Running "gnt-cluster verify"  is recommended after'
         ' this operation.\n')
LAST = ('All requested certificates and keys have been replaced. Running'
        ' "gnt-cluster verify" now is recommended.\n')


@pytest.fixture
def submitted(monkeypatch):
    ops = []
    monkeypatch.setattr(cli, "submit_op_code", lambda op, **kw: ops.append(op))
    return ops


def _run(*words):
    out, err = stdio.StringIO(), stdio.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = cli.generic_main(gnt_cluster.COMMANDS,
                                  argv=["gnt-cluster", "renew-crypto"] + list(words))
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("words,message", [
    (["--new-rapi-certificate", "--rapi-certificate=/x"],
     "Only one of the --new-rapi-certificate and --rapi-certificate options can be"
     " specified at the same time.\n"),
    (["--new-cluster-domain-secret", "--cluster-domain-secret=/x"],
     "Only one of the --new-cluster-domain-secret and --cluster-domain-secret options"
     " can be specified at the same time.\n"),
    (["--new-spice-certificate", "--spice-certificate=/x"],
     "When using --new-spice-certificate, the --spice-certificate and"
     " --spice-ca-certificate must not be used.\n"),
    (["--spice-certificate=/x"],
     "Both --spice-certificate and --spice-ca-certificate must be specified.\n"),
])
def test_conflicting_options_are_ganetis_errors(submitted, words, message):
    assert _run("-f", *words) == (1, FIRST, message)
    assert not submitted


def test_spice_is_refused_clearly(submitted):
    rc, out, err = _run("-f", "--new-spice-certificate")
    assert rc == 1 and "no SPICE support" in err and not submitted


def test_bad_files_are_refused_before_any_job(submitted, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    rc, out, err = _run("-f", "--cluster-domain-secret=%s" % empty)
    assert (rc, out) == (1, FIRST)
    assert err == "Can't load new cluster domain secret from %s: the file is empty\n" % empty
    bad = tmp_path / "cert.pem"
    bad.write_bytes(_cert_of(_pem()))          # a certificate without its key
    rc, out, err = _run("-f", "--rapi-certificate=%s" % bad)
    assert rc == 1 and err.startswith("Unable to load X509 certificate from %s:"
                                      " Unable to load private key" % bad)
    rc, out, err = _run("-f", "--rapi-certificate=%s" % (tmp_path / "missing"))
    assert rc == 1 and "Unable to read certificate" in err
    assert not submitted


def test_the_job_carries_what_was_asked(submitted, tmp_path):
    cert = tmp_path / "rapi.pem"
    cert.write_bytes(_pem())
    cds = tmp_path / "cds"
    cds.write_text("a secret\n")
    assert _run("-f", "--new-cluster-certificate", "--rapi-certificate=%s" % cert,
                "--cluster-domain-secret=%s" % cds, "--new-confd-hmac-key",
                "--new-ssh-keys", "--ssh-key-type=ecdsa", "--ssh-key-bits=256",
                "--no-ssh-key-check", "-v") == (0, FIRST + LAST, "")
    op, = submitted
    assert (op.cluster_certificate, op.node_certificates, op.renew_ssh_keys,
            op.confd_hmac_key, op.rapi_certificate, op.cluster_domain_secret,
            op.ssh_key_type, op.ssh_key_bits, op.verbose) == (
        True, True, True, True, False, False, "ecdsa", 256, True)
    assert op.crypto_secrets == {"rapi_certificate": cert.read_text(),
                                 "cluster_domain_secret": "a secret\n"}


def test_nothing_asked_submits_nothing(submitted):
    assert _run("-f") == (0, FIRST + LAST, "")
    assert not submitted


def test_without_force_it_asks(submitted, monkeypatch):
    monkeypatch.setattr(cli, "ask_user", lambda question: (
        question == "This requires all daemons on all nodes to be restarted and may"
        " take some time. Continue?") and False)
    assert _run("--new-confd-hmac-key") == (1, FIRST, "")
    assert not submitted


# ---- the job's order of steps, against fake nodes ---------------------------------------

class _FakeRpc:
    """Records the calls; ``fail`` maps (procedure, step or None, node) to an error."""

    def __init__(self, fail=None):
        self.calls = []
        self.fail = fail or {}

    def _results(self, procedure, step, nodes, data=True):
        from ganeti import rpc
        self.calls.append((procedure, step, tuple(nodes)))
        return dict((n, rpc.RpcResult(n, procedure, data=data,
                                      fail_msg=self.fail.get((procedure, step, n))))
                    for n in nodes)

    def call_cluster_cert_rollover(self, nodes, step, pem, ip):
        return self._results("rollover", step, nodes)

    def call_etcd_restart(self, node):
        return self._results("restart", None, [node])[node]


def _lu(monkeypatch, fake_rpc, offline=()):
    from ganeti import objects
    from ganeti.etcd import membership
    names = ["node1", "node2", "node3"]
    nodes = dict((n, objects.Node(name=n, primary_ip="192.0.2.%d" % i,
                                  master_candidate=True, offline=n in offline))
                 for i, n in enumerate(names, 1))
    cfg = type("Cfg", (), {"get_master_node": lambda self: "node1",
                           "get_all_nodes_info": lambda self: nodes,
                           "get_cluster_info": lambda self: objects.Cluster()})()
    monkeypatch.setattr(membership, "wanted_members", lambda cfg: dict(
        (n, node.primary_ip) for n, node in nodes.items() if not node.offline))
    monkeypatch.setattr(lu_mod.LUClusterRenewCrypto, "_wait_healthy",
                        lambda self, *args: None)
    monkeypatch.setattr(lu_mod.LUClusterRenewCrypto, "_committed_index",
                        lambda self, *args: 0)
    lu = lu_mod.LUClusterRenewCrypto.__new__(lu_mod.LUClusterRenewCrypto)
    lu.op = opcodes.OpClusterRenewCrypto(cluster_certificate=True, node_certificates=True)
    lu.op.validate()
    lu.cfg, lu.rpc, lu.secrets = cfg, fake_rpc, {}
    lu.feedback = []
    lu.feedback_fn = lu.feedback.append
    lu.check_prereq()
    return lu


def test_cluster_certificate_steps_keep_every_pair_of_nodes_talking(monkeypatch):
    fake = _FakeRpc()
    lu = _lu(monkeypatch, fake)
    lu.exec(lu.feedback_fn)
    restarts = [("restart", None, (n,)) for n in ("node2", "node3", "node1")]
    assert fake.calls == (
        [("rollover", "stage", ("node1", "node2", "node3"))] + restarts +
        [("rollover", "switch", ("node1",))] +
        [c for c in fake.calls if c[1] == "switch" and c[2] != ("node1",)] + restarts +
        [("rollover", "finish", ("node1", "node2", "node3"))] + restarts)
    assert sorted(c[2] for c in fake.calls if c[1] == "switch") == [
        ("node1",), ("node2",), ("node3",)]
    assert lu.feedback == ["Updating the cluster SSL certificate.",
                           "Renewing Node SSL certificates"]


def test_a_node_that_cannot_stage_means_nothing_changes(monkeypatch):
    fake = _FakeRpc(fail={("rollover", "stage", "node3"): "connection refused"})
    lu = _lu(monkeypatch, fake)
    with pytest.raises(errors.OpExecError) as err:
        lu.exec(lu.feedback_fn)
    assert "node3: connection refused" in str(err.value)
    assert [c[1] for c in fake.calls] == ["stage", "abort"]


def test_offline_nodes_are_left_alone_and_named(monkeypatch):
    fake = _FakeRpc()
    lu = _lu(monkeypatch, fake, offline=["node3"])
    lu.exec(lu.feedback_fn)
    assert all("node3" not in c[2] for c in fake.calls)
    assert any("Node node3 is offline" in line and "gnt-node add --readd node3" in hint
               for line, hint in zip(lu.feedback, lu.feedback[1:]))
