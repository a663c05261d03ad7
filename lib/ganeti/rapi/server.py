"""ganeti-rapi's HTTP(S) server: parses a request, authenticates it against
the users file, runs its resource and answers JSON.

Errors are answered as Ganeti answers them: the HTTP status and a JSON body
``{"code": N, "message": "...", "explain": "..."}``; a missing or wrong
password gets 401 with ``WWW-Authenticate: Basic realm="Ganeti Remote API"``,
a user without the needed option 403.
"""

import base64
import binascii
import html
import http
import http.server
import logging
import re
import ssl
import threading
import urllib.parse

from ganeti import errors, luxi, rapi, serializer
from ganeti.http import server as hserver
from ganeti.rapi import base, resources, users
from ganeti.utils import io

HANDSHAKE_TIMEOUT = 30.0
IDLE_TIMEOUT = 60.0              # an idle keep-alive connection is closed after this
MAX_BODY_SIZE = 1024 * 1024      # no request of the API comes near this
MAX_DISCARD_SIZE = 64 * MAX_BODY_SIZE   # a larger body is not even read
MAX_URL_LENGTH = 8192
DEFAULT_MAX_CLIENTS = 20
_METHODS = ("GET", "PUT", "POST", "DELETE")
#: a name in a path (URL-decoded): Ganeti's RAPI names ([\w._-]+) of at most a
#: host name's length, not only dots; so never "..", "/", NUL or a path of its own
_PATH_NAME = re.compile(r"^(?!\.+$)[A-Za-z0-9_.-]{1,255}$")


def _shorten(text, limit=60):
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _error_body(code, message):
    status = http.HTTPStatus(code)
    return {"code": code, "message": html.escape(message or status.phrase),
            "explain": status.description}


class TlsFiles:
    """The server's TLS context from its key and certificate files, made again
    when a file changes (gnt-cluster renew-crypto --new-rapi-certificate); a
    file that cannot be loaded keeps the last good context in use."""

    def __init__(self, cert_file, key_file=None):
        self.cert_file = cert_file
        self.key_file = key_file or cert_file
        self._lock = threading.Lock()
        self._stamp = self._stamps()
        self.context = self._load()

    def _stamps(self):
        return (io.file_stamp(self.cert_file), io.file_stamp(self.key_file))

    def _load(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as err:
            raise errors.X509CertError(self.cert_file, "Cannot load the RAPI certificate:"
                                       " %s" % err)
        return ctx

    def current(self):
        with self._lock:
            stamp = self._stamps()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self.context = self._load()
                    logging.info("Loaded the RAPI certificate %s again", self.cert_file)
                except errors.GenericError as err:
                    logging.error("Keeping the RAPI certificate in use: %s", err)
            return self.context


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ganeti-rapi"

    def setup(self):
        self.server.slots.acquire()
        self._slot = True
        tls = self.server.tls
        if tls is not None:
            raw = self.request
            raw.settimeout(HANDSHAKE_TIMEOUT)
            try:
                self.request = tls.current().wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError) as err:
                logging.debug("TLS handshake with %s failed: %s", self.client_address, err)
                raw.close()
                self._release()
                raise hserver.Rejected()
        self.timeout = IDLE_TIMEOUT
        hserver.set_nodelay(self.request)
        http.server.BaseHTTPRequestHandler.setup(self)

    def _release(self):
        if self._slot:
            self._slot = False
            self.server.slots.release()

    def finish(self):
        try:
            http.server.BaseHTTPRequestHandler.finish(self)
        except OSError:
            pass
        # socketserver closes the socket it accepted, which the TLS socket took
        # over: without this the connection stayed open (CLOSE-WAIT) until the
        # garbage collector found the handler
        self.request.close()
        self._release()

    def log_message(self, fmt, *args):  # noqa: N802 - base class API
        logging.info("%s %s", self.client_address[0], fmt % args)

    def _reply(self, code, payload, headers=None):
        if isinstance(payload, base.RawResponse):
            ctype, body = payload.content_type, payload.body
        else:
            ctype = "application/json"
            body = serializer.dump_json_ordered(payload).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _serve(self):
        try:
            code, payload = 200, self._run()
            headers = None
        except base.HttpError as err:
            code, payload, headers = err.code, _error_body(err.code, err.message), err.headers
        self._reply(code, payload, headers)

    def __getattr__(self, name):
        # every method is served (501 for one no resource has, in JSON, after
        # its body is read): http.server answers a method without do_ itself
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code, message=None, explain=None):
        """What http.server refuses itself (a malformed request line or
        header) in our JSON shape too; the connection ends after it."""
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            # not a request line we understood: answer with a status line
            self.request_version = self.protocol_version
        self._reply(code, _error_body(code, message))

    def _read_body(self):
        text = self.headers.get("Content-Length")
        if text is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise base.HttpError(411, "A Content-Length is required")
            return b""
        try:
            length = int(text)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise base.bad_request("Invalid Content-Length")
        if length > MAX_BODY_SIZE:
            self.close_connection = True
            if length <= MAX_DISCARD_SIZE:
                # read it anyway: a client still sending would miss the answer
                while length > 0:
                    chunk = self.rfile.read(min(length, 65536))
                    if not chunk:
                        break
                    length -= len(chunk)
            raise base.bad_request("Request body too large (%d bytes; at most %d)"
                                   % (int(text), MAX_BODY_SIZE))
        data = self.rfile.read(length)
        if len(data) != length:
            self.close_connection = True
            raise base.bad_request("Incomplete request body")
        return data

    def _authenticate(self, access):
        """The user of the request's Basic credentials; 401 without valid
        ones, 403 when the user lacks every option ``access`` names."""
        challenge = {"WWW-Authenticate": 'Basic realm="%s"' % rapi.AUTH_REALM}
        if self.headers.get("X-Requested-With") == "XMLHttpRequest":
            # a script's request (the web UI's): no challenge, or the browser
            # would show its own password dialog instead of the script's error
            challenge = {}
        header = self.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "basic":
            raise base.HttpError(401, "Authentication required", challenge)
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise base.HttpError(401, "Invalid Basic credentials", challenge)
        name, sep, password = decoded.partition(":")
        user = self.server.users.get(name) if sep else None
        if user is None or not users.password_matches(user, password):
            raise base.HttpError(401, "Wrong user name or password", challenge)
        if access and not set(user.options) & set(access):
            raise base.HttpError(403, "User %s may not do this (needs %s)"
                                 % (name, " or ".join(access)))
        return user

    def _run(self):
        body = self._read_body()
        if len(self.path) > MAX_URL_LENGTH:
            raise base.HttpError(414)
        try:
            url = urllib.parse.urlsplit(self.path)
        except ValueError:
            raise base.bad_request("Invalid URL")
        names = [urllib.parse.unquote(name) for name in url.path.split("/")]
        for name in names:
            if name and not _PATH_NAME.match(name):
                raise base.bad_request("Invalid name in the path: %s (a name is at most 255"
                                       " letters, digits, '.', '_' and '-')" % _shorten(name))
        path = "/".join(names)
        try:
            query = urllib.parse.parse_qs(url.query, keep_blank_values=True,
                                          strict_parsing=False, errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise base.bad_request("Invalid query string")
        found = resources.lookup(path)
        if found is None:
            raise base.not_found()
        cls, items = found
        if self.command not in _METHODS or not hasattr(cls, self.command):
            raise base.HttpError(501, "Method %s is unsupported for path %s"
                                 % (self.command, path))
        access = cls.access(self.command)
        user = None
        if access or self.server.require_auth:
            user = self._authenticate(access)
        data = None
        if body:
            ctype = self.headers.get("Content-Type", "application/octet-stream")
            if ctype.split(";")[0].strip().lower() != "application/json":
                raise base.HttpError(415)
            try:
                data = serializer.load_json(body, max_depth=serializer.MAX_REQUEST_DEPTH)
            except ValueError:
                raise base.bad_request("Unable to parse JSON data")
        resource = cls(base.Request(items, query, data, user), self.server.client_factory)
        try:
            return getattr(resource, self.command)()
        except base.HttpError:
            raise
        except errors.OpPrereqError as err:
            code = 404 if len(err.args) > 1 and err.args[1] == errors.ECODE_NOENT else 400
            raise base.HttpError(code, str(err.args[0]) if err.args else None)
        except (errors.ParameterError, errors.TypeEnforcementError) as err:
            # a wrong name or value given (a query's filter field, say): bad input
            raise base.HttpError(400, str(err.args[0]) if err.args else None)
        except errors.TimeoutError as err:
            raise base.HttpError(504, str(err))
        except (errors.NoMasterError, errors.ConnectionClosedError) as err:
            raise base.HttpError(502, "The master daemon is not reachable: %s" % err)
        except errors.ProtocolError as err:
            # as Ganeti: any LUXI-level failure is the gateway's (502)
            raise base.HttpError(502, "The master daemon refused the request: %s" % err)
        except errors.GenericError as err:
            raise base.HttpError(500, str(err.args[0]) if err.args else type(err).__name__)
        except Exception:  # pylint: disable=broad-except
            logging.exception("Error while serving %s %s", self.command, path)
            raise base.HttpError(500)
        finally:
            resource.close()


class RapiServer:
    """The RAPI on ``address``:``port``; ``tls`` a TlsFiles or None (--no-ssl)."""

    def __init__(self, address, port, tls, users_file, require_auth=False,
                 max_clients=DEFAULT_MAX_CLIENTS, client_factory=luxi.Client):
        self._server = srv = hserver.bind_server(address, port, _Handler)
        srv.tls = tls
        srv.users = users_file
        srv.require_auth = require_auth
        srv.client_factory = client_factory
        # further connections wait for a free slot (Ganeti's --max-clients)
        srv.slots = threading.BoundedSemaphore(max_clients)
        self._thread = None

    @property
    def server_address(self):
        return self._server.server_address[:2]

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name="rapi-http",
                                        args=(0.2,), daemon=True)
        self._thread.start()

    def shutdown(self):
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
