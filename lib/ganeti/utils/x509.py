"""X509 certificates: the cluster certificate (key and cert in one PEM file).

The cluster certificate is self-signed and doubles as its own CA, so a TLS
peer can be verified with ``cafile`` = the certificate file itself.
"""

import calendar
import datetime
import hashlib
import os
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ganeti import errors
from ganeti.utils import io

DEFAULT_VALIDITY_DAYS = 5 * 365
DEFAULT_COMMON_NAME = "ganeti.example.com"
RSA_KEY_BITS = 2048


def generate_self_signed_cert(common_name, validity_days=DEFAULT_VALIDITY_DAYS):
    """A new RSA key and self-signed certificate: ``(key_pem, cert_pem)`` bytes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.utcnow()
    pub = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pub),
                       critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    return key_pem, cert_pem


def generate_cluster_cert_file(path, common_name=DEFAULT_COMMON_NAME,
                               validity_days=DEFAULT_VALIDITY_DAYS):
    """Write a new key+certificate to ``path`` (one PEM file, mode 0600, atomic)."""
    key_pem, cert_pem = generate_self_signed_cert(common_name, validity_days)
    io.write_file(path, key_pem + cert_pem, mode=0o600, mkdir=True)
    return cert_pem


def _pem_cert_block(data):
    """The first certificate PEM block of ``data`` (bytes), or None."""
    begin = data.find(b"-----BEGIN CERTIFICATE-----")
    if begin < 0:
        return None
    end_marker = b"-----END CERTIFICATE-----"
    end = data.find(end_marker, begin)
    if end < 0:
        return None
    return data[begin:end + len(end_marker)] + b"\n"


def load_cert_from_pem(data, source="<data>"):
    """The certificate in PEM ``data`` (str or bytes; a key may be present too)."""
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    block = _pem_cert_block(data)
    if block is None:
        raise errors.X509CertError(source, "No certificate found")
    try:
        return x509.load_pem_x509_certificate(block)
    except ValueError as err:
        raise errors.X509CertError(source, "Invalid certificate: %s" % err)


def load_cert(path):
    """The certificate stored in the PEM file ``path``."""
    try:
        data = io.read_file(path, binary=True)
    except OSError as err:
        raise errors.X509CertError(path, "Cannot read certificate: %s" % err)
    return load_cert_from_pem(data, source=path)


def cert_der(cert_or_data):
    """The DER bytes of a certificate given in any form cert_digest accepts."""
    if isinstance(cert_or_data, x509.Certificate):
        cert = cert_or_data
    elif isinstance(cert_or_data, bytes) and b"-----BEGIN" not in cert_or_data:
        return cert_or_data  # already DER (e.g. from SSLSocket.getpeercert(True))
    elif isinstance(cert_or_data, bytes) or (isinstance(cert_or_data, str)
                                             and "-----BEGIN" in cert_or_data):
        cert = load_cert_from_pem(cert_or_data)
    elif isinstance(cert_or_data, (str, os.PathLike)):
        cert = load_cert(os.fspath(cert_or_data))
    else:
        raise errors.ProgrammerError("Cannot get a certificate from %r" % (cert_or_data,))
    return cert.public_bytes(serialization.Encoding.DER)


def cert_digest(path_or_pem, algorithm="sha1"):
    """Fingerprint of a certificate as OpenSSL prints it ("AB:12:...").

    Accepts a file path, PEM text (str/bytes), DER bytes or a Certificate.
    algorithm: "sha1" (Ganeti's default) or "sha256".
    """
    raw = hashlib.new(algorithm, cert_der(path_or_pem)).hexdigest().upper()
    return ":".join(raw[i:i + 2] for i in range(0, len(raw), 2))


def same_cert(a, b):
    """Whether two certificates (any form cert_digest accepts) are identical."""
    return hashlib.sha256(cert_der(a)).digest() == hashlib.sha256(cert_der(b)).digest()


# ---- validity checks (gnt-cluster verify) -----------------------------------------------

CERT_WARNING = "WARNING"
CERT_ERROR = "ERROR"
# Ganeti's thresholds: warn 30 days before expiry, error from 7 days before
EXPIRY_WARN_DAYS = 30
EXPIRY_ERROR_DAYS = 7
# the clock skew verify tolerates between nodes; a certificate valid "soon" is fine
MAX_CLOCK_SKEW = 150


def _fmt_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def cert_validity(cert) -> tuple:
    """(not_before, not_after) of a certificate as epoch seconds."""
    def epoch(attr):
        value = getattr(cert, attr + "_utc", None) or getattr(cert, attr)
        return calendar.timegm(value.utctimetuple())
    return epoch("not_valid_before"), epoch("not_valid_after")


def check_validity(not_before: float, not_after: float, now: float,
                   warn_days: int = EXPIRY_WARN_DAYS,
                   error_days: int = EXPIRY_ERROR_DAYS) -> tuple:
    """(CERT_ERROR|CERT_WARNING|None, message|None) for a validity period at ``now``."""
    if now > not_after:
        return CERT_ERROR, ("Certificate is expired (valid from %s to %s)"
                            % (_fmt_time(not_before), _fmt_time(not_after)))
    if not_before > now + MAX_CLOCK_SKEW:
        return CERT_WARNING, ("Certificate not yet valid (valid from %s)"
                              % _fmt_time(not_before))
    days = int((not_after - now - MAX_CLOCK_SKEW) / 86400)
    msg = "Certificate expires in about %d days" % days
    if days <= error_days:
        return CERT_ERROR, msg
    if days <= warn_days:
        return CERT_WARNING, msg
    return None, None


def verify_cert_file(path: str, now: float = None) -> tuple:
    """(CERT_ERROR|CERT_WARNING|None, message|None) for the certificate in ``path``.

    The message names the file, as Ganeti's verify prints it.
    """
    try:
        cert = load_cert(path)
    except errors.X509CertError as err:
        return CERT_ERROR, "Failed to load X509 certificate %s: %s" % (path, err.args[-1])
    level, msg = check_validity(*cert_validity(cert), time.time() if now is None else now)
    if msg is None:
        return None, None
    return level, "While verifying %s: %s" % (path, msg)
