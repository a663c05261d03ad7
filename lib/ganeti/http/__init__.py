"""HTTPS for the node daemon RPC: shared errors and TLS contexts.

Both ends present the cluster certificate (key and cert in one PEM file) and
accept only a peer presenting that very certificate (mutual TLS).
"""

import hashlib
import ssl

from ganeti import errors
from ganeti.utils import x509

HTTP_OK = 200
HTTP_BAD_REQUEST = 400
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_INTERNAL_SERVER_ERROR = 500

HTTP_POST = "POST"
CONTENT_TYPE_JSON = "application/json"


class HttpError(Exception):
    """An HTTP-level error; the server answers with ``code``."""

    code = HTTP_INTERNAL_SERVER_ERROR

    def __init__(self, message="", code=None):
        Exception.__init__(self, message)
        if code is not None:
            self.code = code
        self.message = message


class HttpBadRequest(HttpError):
    code = HTTP_BAD_REQUEST


class HttpNotFound(HttpError):
    code = HTTP_NOT_FOUND


class HttpClientError(errors.GenericError):
    """A request could not be completed (connect, TLS, timeout, bad answer)."""


class HttpTimeoutError(HttpClientError):
    """A request ran past its timeout."""


class HttpConnectionLostError(HttpClientError):
    """The connection broke after the whole request was sent: the node may
    have carried it out, so only a request that just reads may be sent again."""


class CertIdentity:
    """The cluster certificate: file path plus its DER SHA-256 digest.

    While the cluster certificate is being replaced (crypto_renewal), the
    certificates of the rollover file match as well.
    """

    def __init__(self, cert_file):
        from ganeti import crypto_renewal
        self.cert_file = cert_file
        # the stamp before the contents: a change while they are read is seen
        # as a change next time, never missed
        self.stamp = crypto_renewal.cert_stamp(cert_file)
        cert = x509.load_cert(cert_file)
        self.digest = hashlib.sha256(x509.cert_der(cert)).digest()
        self.fingerprint = x509.cert_digest(cert, "sha256")
        self.digests = frozenset([self.digest] + [
            hashlib.sha256(der).digest() for der in crypto_renewal.trusted_ders(cert_file)])

    def matches(self, der):
        """Whether the DER certificate ``der`` is a trusted cluster certificate."""
        return bool(der) and hashlib.sha256(der).digest() in self.digests


def _base_context(ctx, cert_file):
    from ganeti import crypto_renewal
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert_file)
        ctx.load_verify_locations(cafile=cert_file)
        for block in crypto_renewal.trusted_cert_blocks(cert_file)[1:]:
            ctx.load_verify_locations(cadata=block.decode("ascii"))
    except (OSError, ssl.SSLError, ValueError) as err:
        raise errors.X509CertError(cert_file, "Cannot load certificate: %s" % err)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def make_server_context(cert_file):
    """Server side: present ``cert_file``, require a client cert signed by it."""
    return _base_context(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), cert_file)


def make_client_context(cert_file):
    """Client side: present ``cert_file``, trust only it, no host name check."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    return _base_context(ctx, cert_file)
