"""HTTPS client with a pool of persistent, mutually authenticated connections.

Connections are kept per (host, port) and reused (HTTP/1.1 keep-alive). The
server must present the cluster certificate; the client presents it too.
"""

import http.client
import logging
import os
import select
import socket
import ssl
import threading
import time

from ganeti import constants, crypto_renewal, serializer
from ganeti import http as ghttp

MAX_IDLE_PER_HOST = 8
# a send failing with these on a reused connection means the node closed it
# while it sat idle; the request was not (completely) sent
_SEND_FAILED = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError,
                ssl.SSLEOFError, ssl.SSLZeroReturnError)


UNACKED_TIMEOUT_MS = 10000
# an idle connection is reused only this long; the server closes them after
# http.server.IDLE_TIMEOUT, and an old one would fail on first use
MAX_IDLE_AGE = 60.0


class _Conn:
    """One TLS connection to a node."""

    def __init__(self, host, port, context, identity, connect_timeout):
        self.conn = http.client.HTTPSConnection(host, port, context=context,
                                                timeout=connect_timeout)
        self.used = False
        self.last_used = time.monotonic()
        try:
            self.conn.connect()
        except socket.timeout:
            self.close()
            raise ghttp.HttpTimeoutError("Connection to %s:%s timed out after %ss"
                                         % (host, port, connect_timeout))
        except (OSError, ssl.SSLError) as err:
            self.close()
            raise ghttp.HttpClientError("Cannot connect to %s:%s: %s" % (host, port, err))
        try:
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # a request the node does not acknowledge within this time fails the
            # connection: a node cut off while its kept-alive connection sat idle is
            # noticed in seconds, not after the call's (long) read timeout
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT,
                                      UNACKED_TIMEOUT_MS)
        except (OSError, AttributeError):
            pass
        if not identity.matches(self.conn.sock.getpeercert(binary_form=True)):
            self.close()
            raise ghttp.HttpClientError("Node %s:%s does not present the cluster"
                                        " certificate" % (host, port))

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass

    def looks_dead(self) -> bool:
        """Whether the node dropped this idle connection (checked before reuse).

        An idle keep-alive connection has nothing to read: anything readable
        (end of stream, a TLS close alert, a reset) means the node closed it.
        """
        sock = self.conn.sock
        if sock is None:
            return True
        try:
            if sock.pending():
                return True
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def send(self, method, path, body, headers, timeout):
        """Write the whole request; an error here means it was not all sent."""
        self.conn.sock.settimeout(timeout)
        self.used = True
        self.last_used = time.monotonic()
        self.conn.request(method, path, body=body, headers=headers)

    def receive(self):
        """(status, body bytes, keep) where keep says the connection is reusable."""
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, data, not resp.will_close


class HttpClientPool:
    """Thread-safe pool of keep-alive HTTPS connections, keyed by (host, port)."""

    def __init__(self, cert_file, max_idle_per_host=MAX_IDLE_PER_HOST):
        self.cert_file = cert_file
        self.max_idle_per_host = max_idle_per_host
        self._lock = threading.Lock()
        self._idle = {}
        self._cert_stamp = None
        self._context = None
        self._identity = None
        self.connections_made = 0   # for tests and statistics

    def _load(self):
        """(context, identity), reloaded when the certificate file changes."""
        try:
            os.stat(self.cert_file)
        except OSError as err:
            raise ghttp.HttpClientError("Cannot read the cluster certificate %s: %s"
                                        % (self.cert_file, err))
        # the rollover file too: renew-crypto changes what is trusted
        stamp = crypto_renewal.cert_stamp(self.cert_file)
        with self._lock:
            if stamp != self._cert_stamp:
                self._identity = ghttp.CertIdentity(self.cert_file)
                self._context = ghttp.make_client_context(self.cert_file)
                self._cert_stamp = stamp
                old = [c for conns in self._idle.values() for c in conns]
                self._idle = {}
            else:
                old = []
            result = self._context, self._identity
        for conn in old:
            conn.close()
        return result

    def _get(self, key, connect_timeout):
        self._load()            # drops every idle connection if the cert changed
        old = []
        with self._lock:
            conns = self._idle.get(key)
            while conns:
                conn = conns.pop()
                if (time.monotonic() - conn.last_used <= MAX_IDLE_AGE
                        and not conn.looks_dead()):
                    break
                old.append(conn)
            else:
                conn = None
        for stale in old:
            stale.close()
        if conn is not None:
            return conn
        return self._new(key, connect_timeout)

    def _new(self, key, connect_timeout):
        """A fresh connection to ``key``."""
        context, identity = self._load()
        conn = _Conn(key[0], key[1], context, identity, connect_timeout)
        with self._lock:
            self.connections_made += 1
        return conn

    def _drop_idle(self, key):
        with self._lock:
            conns = self._idle.pop(key, [])
        for conn in conns:
            conn.close()

    def _put(self, key, conn):
        with self._lock:
            conns = self._idle.setdefault(key, [])
            if len(conns) < self.max_idle_per_host:
                conns.append(conn)
                return
        conn.close()

    def request(self, host, port, method, path, body=b"", headers=None,
                timeout=constants.RPC_TMO_NORMAL,
                connect_timeout=constants.RPC_CONNECT_TIMEOUT):
        """Send one request; returns (status, body bytes).

        Raises HttpClientError (HttpTimeoutError for timeouts).
        """
        key = (host, int(port))
        hdrs = {"Content-Type": ghttp.CONTENT_TYPE_JSON}
        hdrs.update(headers or {})
        conn = self._get(key, connect_timeout)
        reused = conn.used
        try:
            self._send(conn, key, method, path, body, hdrs, timeout)
        except _SEND_FAILED as err:
            # a reused connection that broke while the request was being written:
            # the node never got all of it, so it cannot have run it; resend once
            # on a new connection (never after a complete send: the node may have
            # acted on it, and instance_start or blockdev_create must not run twice)
            if not reused:
                raise ghttp.HttpClientError("Connection to %s:%s closed: %s"
                                            % (host, port, err))
            logging.debug("Connection to %s:%s went stale (%s), reconnecting",
                          host, port, err)
            conn = self._new(key, connect_timeout)
            try:
                self._send(conn, key, method, path, body, hdrs, timeout)
            except _SEND_FAILED as err2:
                raise ghttp.HttpClientError("Connection to %s:%s closed: %s"
                                            % (host, port, err2))
        try:
            status, data, keep = conn.receive()
        except socket.timeout:
            conn.close()
            raise ghttp.HttpTimeoutError("Request %s to %s:%s timed out after %ss"
                                         % (path, host, port, timeout))
        except (OSError, ssl.SSLError, http.client.HTTPException) as err:
            conn.close()
            self._drop_idle(key)
            raise ghttp.HttpConnectionLostError(
                "Connection to %s:%s lost after the request was sent (the node may"
                " have carried it out): %s" % (host, port, err or "no answer"))
        if keep:
            self._put(key, conn)
        else:
            conn.close()
        return status, data

    def _send(self, conn, key, method, path, body, hdrs, timeout):
        """Send on ``conn``; _SEND_FAILED errors pass through (connection closed)."""
        try:
            conn.send(method, path, body, hdrs, timeout)
        except socket.timeout:
            conn.close()
            raise ghttp.HttpTimeoutError("Request %s to %s:%s timed out after %ss"
                                         % (path, key[0], key[1], timeout))
        except _SEND_FAILED:
            conn.close()
            self._drop_idle(key)        # its siblings are likely stale too
            raise
        except (OSError, ssl.SSLError, http.client.HTTPException) as err:
            conn.close()
            raise ghttp.HttpClientError("Error talking to %s:%s: %s"
                                        % (key[0], key[1], err))

    def post_json(self, host, port, path, data, timeout=constants.RPC_TMO_NORMAL,
                  connect_timeout=constants.RPC_CONNECT_TIMEOUT):
        """POST ``data`` as JSON; returns (status, decoded JSON body or raw text)."""
        body = serializer.dump_json(data).encode("utf-8")
        status, raw = self.request(host, port, ghttp.HTTP_POST, path, body,
                                   timeout=timeout, connect_timeout=connect_timeout)
        try:
            return status, serializer.load_json(raw)
        except ValueError:
            if status == ghttp.HTTP_OK:
                raise ghttp.HttpClientError("Invalid JSON answer from %s:%s" % (host, port))
            return status, raw.decode("utf-8", "replace")

    def idle_count(self, host=None, port=None):
        """Number of idle pooled connections (all, or to one host:port)."""
        with self._lock:
            if host is None:
                return sum(len(c) for c in self._idle.values())
            return len(self._idle.get((host, int(port)), []))

    def close(self):
        """Close every idle connection."""
        with self._lock:
            conns = [c for cs in self._idle.values() for c in cs]
            self._idle = {}
        for conn in conns:
            conn.close()
