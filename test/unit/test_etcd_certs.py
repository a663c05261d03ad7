"""ganeti.etcd.certs: each node's etcd certificate, signed by the cluster certificate."""
import ipaddress
import os
import ssl

from cryptography import x509

from ganeti.etcd import certs
from ganeti.utils import x509 as cluster_x509


def _setup(tmp_path):
    ca = str(tmp_path / "server.pem")
    cluster_x509.generate_cluster_cert_file(ca)
    return ca, str(tmp_path / "etcd.pem"), str(tmp_path / "etcd-ca.pem")


def test_cert_names_node_and_addresses_and_is_signed_by_cluster_cert(tmp_path):
    ca, cert, ca_out = _setup(tmp_path)
    assert certs.ensure_node_cert("node1.example.com", ["192.0.2.1", "198.51.100.1"],
                                  cert, ca, ca_out)
    c = cluster_x509.load_cert(cert)
    sans = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["node1.example.com"]
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("198.51.100.1")}
    assert c.issuer == cluster_x509.load_cert(ca).subject
    assert os.stat(cert).st_mode & 0o777 == 0o600
    # the CA file holds the certificate alone: etcd fails on a key block there
    data = open(ca_out, "rb").read()
    assert b"PRIVATE KEY" not in data and data.count(b"BEGIN CERTIFICATE") == 1
    # TLS accepts it: verified against the CA file, for the node's address
    ctx = ssl.create_default_context(cafile=ca_out)
    ctx.load_cert_chain(cert)


def test_ensure_keeps_a_fitting_cert_and_replaces_a_stale_one(tmp_path):
    ca, cert, ca_out = _setup(tmp_path)
    assert certs.ensure_node_cert("n1", ["192.0.2.1"], cert, ca, ca_out)
    first = open(cert, "rb").read()
    assert not certs.ensure_node_cert("n1", ["192.0.2.1"], cert, ca, ca_out)
    assert open(cert, "rb").read() == first
    # another address (e.g. a secondary IP was set)
    assert certs.ensure_node_cert("n1", ["192.0.2.1", "192.0.2.9"], cert, ca, ca_out)
    # a new cluster certificate (renew-crypto) makes the old one stale
    cluster_x509.generate_cluster_cert_file(ca)
    assert not certs.cert_matches(cert, ca, "n1", ["192.0.2.1", "192.0.2.9"])
    assert certs.ensure_node_cert("n1", ["192.0.2.1", "192.0.2.9"], cert, ca, ca_out)
    assert certs.cert_matches(cert, ca, "n1", ["192.0.2.1", "192.0.2.9"])
    assert cluster_x509.same_cert(ca_out, ca)


def test_missing_cluster_cert_is_a_clear_error(tmp_path):
    import pytest
    from ganeti import errors
    with pytest.raises(errors.X509CertError) as err:
        certs.ensure_node_cert("n1", ["192.0.2.1"], str(tmp_path / "e.pem"),
                               str(tmp_path / "none.pem"), str(tmp_path / "ca.pem"))
    assert "none.pem" in str(err.value)
