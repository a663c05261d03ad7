"""Threaded HTTPS server for the node daemon RPC (mutual TLS, keep-alive).

``POST /<procedure>`` with a JSON list body calls ``handler(procedure, args)``
and answers HTTP 200 with ``[true, result]`` or ``[false, "message"]``.
An unknown procedure gives 404, any other method 400.
"""

import http.server
import logging
import re
import socket
import socketserver
import ssl
import sys
import threading

from ganeti import crypto_renewal, errors, serializer
from ganeti import http as ghttp

HANDSHAKE_TIMEOUT = 30.0
IDLE_TIMEOUT = 600.0           # an idle keep-alive connection is closed after this
MAX_BODY_SIZE = 512 * 1024 * 1024
_PROCEDURE_RE = re.compile(r"^[A-Za-z0-9_]+$")


def error_message(err):
    """The text to send back for an exception raised by a procedure."""
    if isinstance(err, errors.GenericError) and len(err.args) == 1:
        return str(err.args[0])
    if isinstance(err, errors.ResolverError) and len(err.args) == 3:
        return str(err.args[2])
    if isinstance(err, errors.OpPrereqError) and err.args:
        return str(err.args[0])
    return str(err)


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    """One TLS connection; serves requests until the peer or the timeout ends it."""

    protocol_version = "HTTP/1.1"
    server_version = "ganeti-noded"

    def setup(self):
        raw = self.request
        raw.settimeout(HANDSHAKE_TIMEOUT)
        ssl_context, identity = self.server.tls()
        try:
            tls = ssl_context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as err:
            logging.debug("TLS handshake with %s failed: %s", self.client_address, err)
            raw.close()
            raise Rejected()
        if not identity.matches(tls.getpeercert(binary_form=True)):
            logging.warning("Rejecting %s: client certificate is not the cluster"
                            " certificate", self.client_address)
            _close_quietly(tls)
            raise Rejected()
        self.request = tls
        self.server.track(tls, True)
        self.timeout = self.server.idle_timeout
        # replies go out as header + body writes: without NODELAY, Nagle holds the
        # body until the client's delayed ACK, 40 ms per call on a kept-alive link
        set_nodelay(self.request)
        http.server.BaseHTTPRequestHandler.setup(self)

    def finish(self):
        try:
            http.server.BaseHTTPRequestHandler.finish(self)
        except OSError:
            pass
        self.server.track(self.request, False)
        _close_quietly(self.request)

    def log_message(self, fmt, *args):  # noqa: N802 - base class API
        logging.debug("%s: %s", self.client_address[0], fmt % args)

    def _send(self, code, payload):
        body = serializer.dump_json(payload).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ghttp.CONTENT_TYPE_JSON)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _reject_method(self):
        self._discard_body()
        if self.command == "HEAD":
            self.close_connection = True   # a HEAD client will not read a body
        self._send(ghttp.HTTP_BAD_REQUEST, "Method %s not supported" % self.command)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _reject_method

    def _discard_body(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY_SIZE:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def do_POST(self):  # noqa: N802 - base class API
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._send(ghttp.HTTP_BAD_REQUEST, "Missing or invalid Content-Length")
            return
        if length < 0 or length > MAX_BODY_SIZE:
            self.close_connection = True
            self._send(ghttp.HTTP_BAD_REQUEST, "Invalid Content-Length")
            return
        body = self.rfile.read(length)
        if len(body) != length:
            # the client went away mid-request: never run a truncated call
            self.close_connection = True
            return
        procedure = self.path.split("?", 1)[0].lstrip("/")
        if not _PROCEDURE_RE.match(procedure) or not self.server.knows(procedure):
            self._send(ghttp.HTTP_NOT_FOUND, "Unknown procedure '%s'" % procedure)
            return
        try:
            args = (serializer.load_json(body, max_depth=serializer.MAX_REQUEST_DEPTH)
                    if body else [])
        except ValueError as err:
            self._send(ghttp.HTTP_BAD_REQUEST, "Invalid JSON body: %s" % err)
            return
        if not isinstance(args, list):
            self._send(ghttp.HTTP_BAD_REQUEST, "The body must be a JSON list")
            return
        code, payload, quit_after = self.server.dispatch(procedure, args)
        self._send(code, payload)
        if quit_after:
            self.server.quit_requested()


class Rejected(Exception):
    """A connection refused at the TLS level (already closed); a handler's
    setup() raises it and the server drops the connection quietly."""


def _close_quietly(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def set_nodelay(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


class ThreadedServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, Rejected):
            return
        if isinstance(err, OSError):
            logging.debug("Connection with %s ended: %s", client_address, err)
            return
        logging.exception("Error while serving %s", client_address)


def bind_server(address, port, handler_cls):
    """A ThreadedServer for ``handler_cls``, bound to ``address``:``port``
    (IPv4 or IPv6 after the address) and listening."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server_cls = type("_Server", (ThreadedServer,), {"address_family": family})
    srv = server_cls((address, port), handler_cls, bind_and_activate=False)
    try:
        srv.server_bind()
        srv.server_activate()
    except OSError:
        srv.server_close()
        raise
    return srv


class RpcHttpServer:
    """The RPC server; ``handler(procedure, args)`` does the work.

    procedures: optional container of known names (others get 404); the
    handler may also raise ``ghttp.HttpNotFound``. A handler raising
    errors.QuitGanetiException(ok, message) answers ``[ok, message]`` and then
    calls ``on_quit()``.
    """

    def __init__(self, address, port, cert_file, handler, procedures=None,
                 on_quit=None, idle_timeout=IDLE_TIMEOUT):
        self.cert_file = cert_file
        self.identity = ghttp.CertIdentity(cert_file)
        self.ssl_context = ghttp.make_server_context(cert_file)
        self._tls_lock = threading.Lock()
        self.handler = handler
        self.procedures = procedures
        self.on_quit = on_quit
        self.idle_timeout = idle_timeout
        self._server = srv = bind_server(address, port, _RequestHandler)
        srv.tls = self._tls
        srv.idle_timeout = idle_timeout
        srv.knows = self._knows
        srv.dispatch = self._dispatch
        srv.quit_requested = self._quit_requested
        srv.track = self._track
        self._conns = set()
        self._lock = threading.Lock()
        self._thread = None
        self._serving = False

    @property
    def server_address(self):
        """(ip, port) actually bound (port 0 picks a free one)."""
        return self._server.server_address[:2]

    def _tls(self):
        """(SSL context, identity) for a new connection, loaded again when the
        certificate or its rollover file changed (gnt-cluster renew-crypto); a
        file that cannot be loaded keeps the last good ones in use."""
        with self._tls_lock:
            if crypto_renewal.cert_stamp(self.cert_file) != self.identity.stamp:
                try:
                    identity = ghttp.CertIdentity(self.cert_file)
                    self.ssl_context = ghttp.make_server_context(self.cert_file)
                    self.identity = identity
                    logging.info("Loaded the cluster certificate again (%s)",
                                 identity.fingerprint)
                except errors.GenericError as err:
                    logging.error("Keeping the certificate in use: %s", err)
            return self.ssl_context, self.identity

    def _knows(self, procedure):
        return self.procedures is None or procedure in self.procedures

    def _track(self, conn, add):
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _quit_requested(self):
        if self.on_quit is not None:
            self.on_quit()

    def _dispatch(self, procedure, args):
        """Run one call: (http_code, payload, quit_after)."""
        try:
            result = self.handler(procedure, args)
        except ghttp.HttpError as err:
            return err.code, err.message, False
        except errors.QuitGanetiException as err:
            logging.info("Procedure %s asked the daemon to stop: %s", procedure, err.args)
            ok = bool(err.args[0]) if err.args else True
            msg = err.args[1] if len(err.args) > 1 else ""
            return ghttp.HTTP_OK, [ok, msg], True
        except errors.GenericError as err:
            logging.info("Procedure %s failed: %s", procedure, error_message(err))
            return ghttp.HTTP_OK, [False, error_message(err)], False
        except Exception as err:  # pylint: disable=broad-except
            logging.exception("Error in procedure %s", procedure)
            return ghttp.HTTP_OK, [False, "Error while executing backend function: %s"
                                   % err], False
        return ghttp.HTTP_OK, [True, result], False

    def serve_forever(self, poll_interval=0.2):
        """Serve in the calling thread (shutdown() must then come from another)."""
        self._serving = True
        try:
            self._server.serve_forever(poll_interval)
        finally:
            self._serving = False

    def start(self, poll_interval=0.2):
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="http-server",
                                        args=(poll_interval,), daemon=True)
        self._thread.start()

    def shutdown(self):
        """Stop accepting, close open connections, release the port."""
        if self._thread is not None or self._serving:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
