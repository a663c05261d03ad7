"""utils.x509: the self-signed cluster certificate."""

import os
import re
import stat

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization

from ganeti import errors
from ganeti.utils import x509


def test_generate_self_signed_cert():
    key_pem, cert_pem = x509.generate_self_signed_cert("node1.example.com", 10)
    assert key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    cert = cx509.load_pem_x509_certificate(cert_pem)
    assert cert.subject == cert.issuer
    assert "node1.example.com" in cert.subject.rfc4514_string()
    assert cert.public_key().key_size == 2048
    assert cert.signature_hash_algorithm.name == "sha256"
    days = (cert.not_valid_after - cert.not_valid_before).days
    assert 9 <= days <= 11


def test_cluster_cert_file(tmp_path):
    path = str(tmp_path / "sub" / "server.pem")
    x509.generate_cluster_cert_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = open(path, "rb").read()
    assert b"PRIVATE KEY" in data and b"BEGIN CERTIFICATE" in data
    serialization.load_pem_private_key(data, password=None)
    cert = x509.load_cert(path)
    assert isinstance(cert, cx509.Certificate)
    # no temp files left behind
    assert os.listdir(str(tmp_path / "sub")) == ["server.pem"]


def test_cert_digest_forms_agree(tmp_path):
    path = str(tmp_path / "server.pem")
    cert_pem = x509.generate_cluster_cert_file(path)
    digest = x509.cert_digest(path)
    assert re.match(r"^([0-9A-F]{2}:){19}[0-9A-F]{2}$", digest)
    assert x509.cert_digest(cert_pem) == digest
    assert x509.cert_digest(cert_pem.decode()) == digest
    cert = x509.load_cert(path)
    assert x509.cert_digest(cert) == digest
    assert x509.cert_digest(x509.cert_der(cert)) == digest
    sha256 = x509.cert_digest(path, "sha256")
    assert len(sha256.split(":")) == 32
    assert x509.same_cert(path, cert_pem)


def test_different_certs_differ(tmp_path):
    a, b = str(tmp_path / "a.pem"), str(tmp_path / "b.pem")
    x509.generate_cluster_cert_file(a)
    x509.generate_cluster_cert_file(b)
    assert x509.cert_digest(a) != x509.cert_digest(b)
    assert not x509.same_cert(a, b)


def test_load_cert_errors(tmp_path):
    with pytest.raises(errors.X509CertError):
        x509.load_cert(str(tmp_path / "missing.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(errors.X509CertError):
        x509.load_cert(str(bad))
