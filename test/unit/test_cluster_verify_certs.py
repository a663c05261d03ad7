"""gnt-cluster verify: certificate expiry and validity (cluster, RAPI, each node's)."""

import datetime
import time

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ganeti import opcodes, pathutils
from ganeti.backend import verify as nv
from ganeti.utils import x509

from verify_fakes import make_cfg, run_verify

DAY = 86400


def write_cert(path, not_before, not_after):
    """A key+certificate PEM file valid from/to the given epoch times."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "test")])
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(datetime.datetime.utcfromtimestamp(not_before))
            .not_valid_after(datetime.datetime.utcfromtimestamp(not_after))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    with open(path, "wb") as fd:
        fd.write(key_pem + cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


@pytest.mark.parametrize("before, after, level, text", [
    (-10, 365, None, None),
    (-10, 31.5, None, None),
    (-10, 20, x509.CERT_WARNING, "Certificate expires in about 19 days"),
    (-10, 5, x509.CERT_ERROR, "Certificate expires in about 4 days"),
    (-10, -1, x509.CERT_ERROR, "Certificate is expired (valid from"),
    (2, 365, x509.CERT_WARNING, "Certificate not yet valid (valid from"),
])
def test_verify_cert_file_thresholds(tmp_path, before, after, level, text):
    now = time.time()
    path = write_cert(tmp_path / "c.pem", now + before * DAY, now + after * DAY)
    got_level, msg = x509.verify_cert_file(path)
    assert got_level == level
    if text is None:
        assert msg is None
    else:
        assert msg.startswith("While verifying %s: %s" % (path, text))


def test_verify_cert_file_unreadable(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("no certificate here")
    level, msg = x509.verify_cert_file(str(bad))
    assert level == x509.CERT_ERROR
    assert msg.startswith("Failed to load X509 certificate %s:" % bad)


def test_node_side_check_reports_expired_and_digest(tmp_path, monkeypatch):
    now = time.time()
    cert = write_cert(tmp_path / "server.pem", now - 10 * DAY, now + 100 * DAY)
    monkeypatch.setattr(pathutils, "NODED_CERT_FILE", cert)
    level, digest = nv.client_cert(None, root_dir="")
    assert level is None and digest == x509.cert_digest(cert)
    write_cert(tmp_path / "server.pem", now - 10 * DAY, now - DAY)
    level, msg = nv.client_cert(None, root_dir="")
    assert level == x509.CERT_ERROR and "Certificate is expired" in msg
    (tmp_path / "server.pem").unlink()
    level, msg = nv.client_cert(None, root_dir="")
    assert level == x509.CERT_ERROR and "does not exist" in msg


def test_verify_reports_cluster_rapi_and_node_certificates(tmp_path, monkeypatch):
    now = time.time()
    server = write_cert(tmp_path / "server.pem", now - DAY, now + 10 * DAY)
    rapi = write_cert(tmp_path / "rapi.pem", now - DAY, now - 1)
    monkeypatch.setattr(pathutils, "NODED_CERT_FILE", server)
    monkeypatch.setattr(pathutils, "RAPI_CERT_FILE", rapi)
    cfg = make_cfg(tmp_path)
    node_answers = {"node2.example.com": {
        nv.NV_CLIENT_CERT: [x509.CERT_ERROR, "Certificate is expired (...)"]}}
    ok, logs = run_verify(cfg, node_answers)
    text = "\n".join(logs)
    assert not ok
    assert ("  - WARNING: cluster: While verifying %s: Certificate expires in about 9 days"
            % server) in text
    assert ("  - ERROR: cluster: While verifying %s: Certificate is expired" % rapi) in text
    assert ("  - ERROR: cluster: Client certificate of node 'node2.example.com' failed"
            " validation: Certificate is expired (...) (code 'ERROR')") in text
    # node1 answers with the real check: its copy expires in 9 days too
    assert ("  - WARNING: cluster: Client certificate of node 'node1.example.com' failed"
            " validation: While verifying %s: Certificate expires in about 9 days"
            " (code 'WARNING')" % server) in text


def test_verify_error_codes_for_certificates(tmp_path, monkeypatch):
    now = time.time()
    server = write_cert(tmp_path / "server.pem", now - DAY, now + 3 * DAY)
    monkeypatch.setattr(pathutils, "NODED_CERT_FILE", server)
    monkeypatch.setattr(pathutils, "RAPI_CERT_FILE", str(tmp_path / "none.pem"))
    ok, logs = run_verify(make_cfg(tmp_path), {}, error_codes=True)
    assert not ok
    assert any(line.startswith("  - ERROR:ECLUSTERCERT:cluster::While verifying %s:"
                               " Certificate expires in about 2 days" % server)
               for line in logs)
    # a clean certificate says nothing
    write_cert(tmp_path / "server.pem", now - DAY, now + 300 * DAY)
    ok, logs = run_verify(make_cfg(tmp_path), {}, error_codes=True)
    assert ok, logs
    assert not [line for line in logs if "CERT" in line]


def test_opcode_keeps_verify_options():
    op = opcodes.OpClusterVerify(group_name="default", verify_clutter=True,
                                 debug_simulate_errors=True)
    op.validate()
    assert op.group_name == "default" and op.verify_clutter and op.debug_simulate_errors
