"""Renewing the cluster's certificates, keys and secrets: the shared pieces.

``gnt-cluster renew-crypto`` (client.renew_crypto) runs as one job
(cmdlib.renew_crypto) that calls node procedures (backend.crypto); this
module holds what they share, and what the TLS code (http, etcd) uses to
know which certificates a node trusts.

A new cluster certificate (server.pem) replaces the old one without a moment
where two nodes cannot talk (doc/crypto.rst): for a while every node trusts
a second certificate besides its own, listed in the *rollover file*
(``server.pem.rollover``, certificates only). The node daemon's TLS server,
the RPC client and the etcd clients trust both; etcd's CA file lists both.
The steps, each done on every online node before the next one starts:

stage
  the rollover file holds the new certificate: every node trusts it too;
switch
  server.pem is the new certificate (with its key), the rollover file the
  old one, and the node's etcd certificate is signed anew with it;
finish
  the rollover file goes: only the new certificate is trusted.
"""

import os

from cryptography.hazmat.primitives import serialization

from ganeti import errors
from ganeti.utils import io
from ganeti.utils import x509 as cluster_x509

ROLLOVER_SUFFIX = ".rollover"
STEP_STAGE = "stage"
STEP_SWITCH = "switch"
STEP_FINISH = "finish"
STEP_ABORT = "abort"
CERT_STEPS = (STEP_STAGE, STEP_SWITCH, STEP_FINISH, STEP_ABORT)
_CERT_BEGIN = b"-----BEGIN CERTIFICATE-----"
_CERT_END = b"-----END CERTIFICATE-----"


# ---- the trusted certificates (used by http, etcd.client and etcd.certs) ------------------

def rollover_file(cert_file: str) -> str:
    """The file of the certificates trusted besides ``cert_file`` (may be absent)."""
    return cert_file + ROLLOVER_SUFFIX


def split_certs(data: bytes) -> list:
    """The certificate PEM blocks in ``data`` (keys and anything else left out)."""
    blocks, pos = [], 0
    while True:
        begin = data.find(_CERT_BEGIN, pos)
        if begin < 0:
            return blocks
        end = data.find(_CERT_END, begin)
        if end < 0:
            return blocks
        pos = end + len(_CERT_END)
        blocks.append(data[begin:pos] + b"\n")


def read_or_empty(path: str) -> bytes:
    """The bytes of ``path``; empty when it does not exist."""
    try:
        return io.read_file(path, binary=True)
    except FileNotFoundError:
        return b""


def trusted_cert_blocks(cert_file: str) -> list:
    """The PEM certificates a node trusts: its own (first), then the rollover ones."""
    own = split_certs(read_or_empty(cert_file))[:1]
    result = list(own)
    for block in split_certs(read_or_empty(rollover_file(cert_file))):
        if not any(cluster_x509.same_cert(block, seen) for seen in result):
            result.append(block)
    return result


def trusted_ders(cert_file: str) -> list:
    """The DER bytes of every trusted certificate (for identity checks)."""
    return [cluster_x509.cert_der(block) for block in trusted_cert_blocks(cert_file)]


def cert_stamp(cert_file: str) -> tuple:
    """Changes whenever the certificate or its rollover file changes (reload check)."""
    return (io.file_stamp(cert_file), io.file_stamp(rollover_file(cert_file)))


# ---- checks of what the master sends ----------------------------------------------------

def check_cert_only(pem: str, what: str) -> bytes:
    """``pem`` as bytes when it is exactly one valid certificate and no key."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data or len(split_certs(data)) != 1:
        raise errors.X509CertError(what, "Expected one certificate without a key")
    cluster_x509.load_cert_from_pem(data, source=what)
    return data


def check_key_and_cert(pem, what: str) -> bytes:
    """``pem`` as bytes when it holds a private key and the certificate of that key.

    What ``--rapi-certificate=FILE`` must contain, and what server.pem is.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        cert = cluster_x509.load_cert_from_pem(data, source=what)
    except errors.X509CertError as err:
        raise errors.X509CertError(what, "Unable to load certificate: %s" % err.args[-1])
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise errors.X509CertError(what, "Unable to load private key: %s" % err)
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.PEM, pub) !=
            cert.public_key().public_bytes(serialization.Encoding.PEM, pub)):
        raise errors.X509CertError(what, "The private key does not belong to the"
                                   " certificate")
    return data


def new_secret() -> str:
    """A new HMAC key or cluster domain secret, as bootstrap writes them."""
    return os.urandom(32).hex() + "\n"


def new_self_signed_pem(unique: bool = False) -> bytes:
    """A new self-signed key and certificate in one PEM (server.pem, rapi.pem).

    ``unique``: a subject of its own (a new cluster certificate). While old and
    new are both trusted, OpenSSL picks the issuer of a certificate by its
    subject; with two alike it may try the wrong one and refuse an etcd
    certificate that the other signed.
    """
    name = cluster_x509.DEFAULT_COMMON_NAME
    if unique:
        name = "%s %s" % (name, os.urandom(6).hex())
    key_pem, cert_pem = cluster_x509.generate_self_signed_cert(name)
    return key_pem + cert_pem
