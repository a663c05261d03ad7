"""This node's TLS certificate for etcd (peer and client traffic).

etcd's peers check that a certificate names the address they dialled, so the
cluster certificate (server.pem, one for all nodes, no addresses) cannot serve
directly. Instead it acts as the CA: every node holds server.pem with its key,
so each node signs its own ``etcd.pem`` (a new key; SANs: the node's name and
IP addresses) and trusts what server.pem signed. A new cluster certificate
(renew-crypto) therefore makes every node's etcd.pem stale: ``ensure_node_cert``
replaces it.
"""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ganeti import errors, pathutils
from ganeti.utils import io
from ganeti.utils import x509 as cluster_x509


def _load_ca(ca_path: str):
    try:
        data = io.read_file(ca_path, binary=True)
    except OSError as err:
        raise errors.X509CertError(ca_path, "Cannot read the cluster certificate: %s" % err)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as err:
        raise errors.X509CertError(ca_path, "No usable private key: %s" % err)
    return key, cluster_x509.load_cert_from_pem(data, source=ca_path)


def make_node_cert(ca_path: str, node_name: str, ips: list,
                   validity_days: int = cluster_x509.DEFAULT_VALIDITY_DAYS) -> bytes:
    """A new key and a certificate for ``node_name``/``ips``, signed by ``ca_path``.

    Returns one PEM (key, then certificate), the form etcd and ssl both read.
    """
    ca_key, ca_cert = _load_ca(ca_path)
    key = rsa.generate_private_key(public_exponent=65537,
                                   key_size=cluster_x509.RSA_KEY_BITS)
    now = datetime.datetime.utcnow()
    sans = [x509.DNSName(node_name)]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in sorted(set(ips)) if ip]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(min(now + datetime.timedelta(days=validity_days),
                             _not_after(ca_cert)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)


def _not_after(cert) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    if value is not None:
        return value.replace(tzinfo=None)
    return cert.not_valid_after


def cert_matches(cert_path: str, ca_path: str, node_name: str, ips: list) -> bool:
    """Whether ``cert_path`` holds a certificate for exactly this name and these
    addresses, issued by the certificate in ``ca_path``."""
    try:
        cert = cluster_x509.load_cert(cert_path)
        ca_cert = cluster_x509.load_cert(ca_path)
    except errors.X509CertError:
        return False
    if cert.issuer != ca_cert.subject:
        return False
    try:
        ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                    _padding(), cert.signature_hash_algorithm)
    except Exception:  # any verification failure means "not signed by this CA"
        return False
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    have_names = set(sans.get_values_for_type(x509.DNSName))
    return have_names == {node_name} and have_ips == {ip for ip in ips if ip}


def _padding():
    from cryptography.hazmat.primitives.asymmetric import padding
    return padding.PKCS1v15()


def ensure_node_cert(node_name: str, ips: list, cert_path: str = None,
                     ca_path: str = None, ca_out_path: str = None) -> bool:
    """Write a new etcd.pem unless the present one fits; True if one was written.

    Also writes ``ca_out_path`` (etcd-ca.pem): the cluster certificate without its
    key, because etcd parses every PEM block of its trusted-CA file as a
    certificate and fails on a key block ("malformed tbs certificate").
    """
    cert_path = cert_path or pathutils.ETCD_CERT_FILE
    ca_path = ca_path or pathutils.NODED_CERT_FILE
    ca_out_path = ca_out_path or pathutils.ETCD_CA_FILE
    cluster_x509.load_cert(ca_path)
    # with the certificates of a rollover (renew-crypto) that the node trusts too
    from ganeti import crypto_renewal
    ca_pem = b"".join(crypto_renewal.trusted_cert_blocks(ca_path))
    try:
        same_ca = io.read_file(ca_out_path, binary=True) == ca_pem
    except OSError:
        same_ca = False
    if not same_ca:
        io.write_file(ca_out_path, ca_pem, mode=0o644, mkdir=True)
    if cert_matches(cert_path, ca_path, node_name, ips):
        return False
    io.write_file(cert_path, make_node_cert(ca_path, node_name, ips), mode=0o600,
                  mkdir=True)
    return True
