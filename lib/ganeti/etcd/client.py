"""The etcd v3 API over etcd's HTTPS/JSON gateway, with the standard library only.

Every request is a POST of one JSON object to ``/v3/...`` with mutual TLS. In
that JSON, keys and values are base64, 64-bit integers come back as strings,
and a field left out means 0, false or empty (proto3 JSON).

Failover: a request that could not be sent (refused, connect timeout, TLS
handshake refused) goes to the next endpoint. A read also goes to the next
endpoint when the one it was sent to fails or says it has no leader. A write
that was sent is never sent again, because etcd may have applied it: it ends in
EtcdUnavailableError saying that the outcome is unknown. The exceptions are
refusals etcd gives before it acts, such as "no leader" (asked for with the
``hasleader`` metadata): such a write moves on to the next endpoint as well.

Every call ends within ``timeout`` seconds (the sum over all endpoints tried).
Connections are kept alive in a pool shared by the threads, whose lock is
never held during network I/O or TLS set-up; the SSL context is made once, on
first use, outside any lock.
"""

import base64
import dataclasses
import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from ganeti import errors

Bytes = Union[bytes, str]

# gRPC status codes that etcd's gateway reports (the "code" of its JSON error)
GRPC_DEADLINE_EXCEEDED = 4
GRPC_NOT_FOUND = 5
GRPC_RESOURCE_EXHAUSTED = 8
GRPC_OUT_OF_RANGE = 11          # e.g. "required revision has been compacted"
GRPC_UNAVAILABLE = 14           # no leader, request timed out, leader changed
_TRY_ELSEWHERE = frozenset([GRPC_DEADLINE_EXCEEDED, GRPC_RESOURCE_EXHAUSTED,
                            GRPC_UNAVAILABLE])
# Refusals that etcd gives before it acts on a request, so a write may move on
# to the next endpoint. "unhealthy cluster": a member change while some member
# has not been connected for 5 s (etcd's strict reconfiguration check). "rpc
# not supported for learner": the member is a learner (after a failover the
# old master joins again as one, at its old address).
_REFUSED_BEFORE_ACTING = frozenset(["etcdserver: no leader", "etcdserver: unhealthy cluster",
                                    "etcdserver: rpc not supported for learner"])
# grpc-gateway passes "Grpc-Metadata-X" headers on as gRPC metadata; etcd then
# refuses a request at once (and ends a watch) when the member has no leader,
# instead of letting it wait for one.
# Not for status and member list: they must answer on a member without a leader.
_HEADERS = {"Content-Type": "application/json", "Grpc-Metadata-hasleader": "true"}
_HEADERS_ANY_LEADER = {"Content-Type": "application/json"}

MIN_ATTEMPT = 1.0       # seconds an endpoint gets at least, if the call has them left
WATCH_POLL = 0.1        # how often a waiting watch looks at its stop event
RANGE_PAGE = 1000       # keys per request when reading a prefix


# -- encoding ---------------------------------------------------------------

def to_bytes(value: Bytes) -> bytes:
    """Keys and values are bytes; a str is taken as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise TypeError("etcd keys and values are bytes or str, not %r" % type(value).__name__)


def b64(value: Bytes) -> str:
    return base64.b64encode(to_bytes(value)).decode("ascii")


def unb64(text: Optional[str]) -> bytes:
    return base64.b64decode(text) if text else b""


def as_int(value) -> int:
    """An int64 of the gateway's JSON (a string, a number, or absent = 0)."""
    return int(value) if value not in (None, "") else 0


def prefix_end(prefix: Bytes) -> bytes:
    """The range end that selects every key starting with ``prefix``."""
    end = bytearray(to_bytes(prefix))
    while end and end[-1] == 0xFF:
        end.pop()
    if not end:
        return b"\0"            # etcd's "every key from here on"
    end[-1] += 1
    return bytes(end)


def parse_endpoint(url: str) -> Tuple[str, int]:
    """(host, port) of an endpoint URL like ``https://127.0.1.1:2379``."""
    if not isinstance(url, str):
        raise errors.EtcdError("Bad etcd endpoint %r: not a URL string" % (url,))
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError as err:
        raise errors.EtcdError("Bad etcd endpoint %r: %s" % (url, err))
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise errors.EtcdError("Bad etcd endpoint %r: expected https://HOST:PORT" % url)
    return parts.hostname, port or 2379


# -- values -------------------------------------------------------------------

@dataclasses.dataclass
class KeyValue:
    """One key as etcd stores it; revisions are etcd's global revision numbers."""
    key: bytes
    value: bytes = b""
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    lease: int = 0

    @classmethod
    def from_json(cls, doc: dict) -> "KeyValue":
        return cls(key=unb64(doc.get("key")), value=unb64(doc.get("value")),
                   create_revision=as_int(doc.get("create_revision")),
                   mod_revision=as_int(doc.get("mod_revision")),
                   version=as_int(doc.get("version")), lease=as_int(doc.get("lease")))


@dataclasses.dataclass
class Member:
    """An etcd cluster member; ``name`` is empty until an added member started."""
    id: int
    name: str = ""
    peer_urls: List[str] = dataclasses.field(default_factory=list)
    client_urls: List[str] = dataclasses.field(default_factory=list)
    is_learner: bool = False

    @classmethod
    def from_json(cls, doc: dict) -> "Member":
        return cls(id=as_int(doc.get("ID")), name=doc.get("name", ""),
                   peer_urls=list(doc.get("peerURLs", [])),
                   client_urls=list(doc.get("clientURLs", [])),
                   is_learner=bool(doc.get("isLearner", False)))


_COMPARE_OPS = {"=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER"}


@dataclasses.dataclass(frozen=True)
class Compare:
    """One condition of a transaction; build it with the class methods.

    ``Compare.version(key, "=", 0)`` holds when ``key`` does not exist.
    """
    target: str         # the gateway's name: VALUE, VERSION, CREATE, MOD, LEASE
    field: str          # the JSON field that carries the operand
    key: bytes
    op: str
    operand: object

    @classmethod
    def _make(cls, target, field, key, op, operand):
        if op not in _COMPARE_OPS:
            raise ValueError("Compare operator must be one of %s, not %r"
                             % (", ".join(_COMPARE_OPS), op))
        return cls(target, field, to_bytes(key), op, operand)

    @classmethod
    def value(cls, key: Bytes, op: str, value: Bytes) -> "Compare":
        return cls._make("VALUE", "value", key, op, to_bytes(value))

    @classmethod
    def version(cls, key: Bytes, op: str, version: int) -> "Compare":
        return cls._make("VERSION", "version", key, op, int(version))

    @classmethod
    def create_revision(cls, key: Bytes, op: str, revision: int) -> "Compare":
        return cls._make("CREATE", "create_revision", key, op, int(revision))

    @classmethod
    def mod_revision(cls, key: Bytes, op: str, revision: int) -> "Compare":
        return cls._make("MOD", "mod_revision", key, op, int(revision))

    @classmethod
    def lease(cls, key: Bytes, op: str, lease_id: int) -> "Compare":
        return cls._make("LEASE", "lease", key, op, int(lease_id))

    def to_json(self) -> dict:
        operand = b64(self.operand) if self.field == "value" else str(self.operand)
        return {"key": b64(self.key), "target": self.target,
                "result": _COMPARE_OPS[self.op], self.field: operand}


@dataclasses.dataclass(frozen=True)
class Op:
    """One request of a transaction: Op.put, Op.delete or Op.get."""
    kind: str           # "put", "delete", "get"
    key: bytes
    value: bytes = b""
    lease: int = 0
    prefix: bool = False

    @classmethod
    def put(cls, key: Bytes, value: Bytes, lease: int = 0) -> "Op":
        return cls("put", to_bytes(key), to_bytes(value), int(lease))

    @classmethod
    def delete(cls, key: Bytes, prefix: bool = False) -> "Op":
        return cls("delete", to_bytes(key), prefix=prefix)

    @classmethod
    def get(cls, key: Bytes, prefix: bool = False) -> "Op":
        return cls("get", to_bytes(key), prefix=prefix)

    def to_json(self) -> dict:
        body = {"key": b64(self.key)}
        if self.prefix:
            body["range_end"] = b64(prefix_end(self.key))
        if self.kind == "put":
            body["value"] = b64(self.value)
            if self.lease:
                body["lease"] = str(self.lease)
            return {"request_put": body}
        if self.kind == "delete":
            return {"request_delete_range": body}
        return {"request_range": body}


@dataclasses.dataclass
class TxnResult:
    """What a transaction did: which branch ran, at which revision, and for each
    request of that branch a list of KeyValue (Op.get) or None (put, delete)."""
    succeeded: bool
    revision: int
    responses: list

    @classmethod
    def from_json(cls, doc: dict) -> "TxnResult":
        responses = []
        for item in doc.get("responses", []):
            if "response_range" in item:
                responses.append([KeyValue.from_json(kv)
                                  for kv in item["response_range"].get("kvs", [])])
            else:
                responses.append(None)
        return cls(bool(doc.get("succeeded", False)),
                   as_int(doc.get("header", {}).get("revision")), responses)


def parse_status(doc: dict) -> dict:
    """The answer of /v3/maintenance/status with its numbers as ints."""
    return {
        "member_id": as_int(doc.get("header", {}).get("member_id")),
        "leader": as_int(doc.get("leader")),
        "raft_index": as_int(doc.get("raftIndex")),
        "raft_applied_index": as_int(doc.get("raftAppliedIndex")),
        "raft_term": as_int(doc.get("raftTerm")),
        "db_size": as_int(doc.get("dbSize")),
        "db_size_in_use": as_int(doc.get("dbSizeInUse")),
        "version": doc.get("version", ""),
        "is_learner": bool(doc.get("isLearner", False)),
        "errors": list(doc.get("errors", [])),
    }


def gateway_error(doc) -> Tuple[Optional[int], Optional[str]]:
    """(gRPC code, message) of a gateway error answer, or (None, None)."""
    if not isinstance(doc, dict):
        return None, None
    err = doc.get("error")
    if isinstance(err, dict):      # inside a stream: {"error": {"grpc_code": ...}}
        doc, err = err, err.get("message")
    code = doc.get("code", doc.get("grpc_code"))
    if err is None and code is None:
        return None, None
    return as_int(code), str(doc.get("message") or err or "unknown error")


# -- the client ---------------------------------------------------------------

class _NotSent(Exception):
    """The request did not reach etcd's API (connect or TLS failure)."""


class _Pool:
    """Idle kept-alive connections, per endpoint, shared by all threads.

    A connection is used by one call at a time: taken out, then given back.
    The lock only guards the lists, never network I/O or TLS set-up. A forked
    child starts with an empty pool and a new lock (the parent's lock may have
    been held by a thread that does not exist in the child).
    """

    MAX_IDLE = 32       # per endpoint; more are closed when given back

    def __init__(self):
        self._reset()

    def _reset(self):
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle = {}

    def _check_fork(self):
        if os.getpid() != self._pid:
            # The parent's TLS connections are not ours to use (nor to close).
            self._reset()

    def take(self, endpoint: str):
        self._check_fork()
        with self._lock:
            idle = self._idle.get(endpoint)
            return idle.pop() if idle else None

    def give(self, endpoint: str, conn) -> None:
        self._check_fork()
        with self._lock:
            idle = self._idle.setdefault(endpoint, [])
            if len(idle) < self.MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        self._check_fork()
        with self._lock:
            conns = [conn for idle in self._idle.values() for conn in idle]
            self._idle = {}
        for conn in conns:
            conn.close()


class _Attempts:
    """The endpoints one call tries, in order, all within ``timeout``.

    Iterating yields (endpoint, share, remaining): connecting, and waiting
    for a read's answer, may take the endpoint's share of the time left, so
    that the endpoints after it get theirs.
    """

    def __init__(self, endpoints: List[str], timeout: float):
        self.endpoints, self.timeout = endpoints, timeout
        self.tried, self.problems = [], []

    def __iter__(self):
        deadline = time.monotonic() + self.timeout
        for number, url in enumerate(self.endpoints):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.tried.append(url)
            yield url, max(remaining / (len(self.endpoints) - number),
                           min(remaining, MIN_ATTEMPT)), remaining

    def failed(self, url: str, why) -> None:
        text = str(why)
        self.problems.append(text if text.startswith("etcd at ") else "%s: %s" % (url, text))

    def error(self, what: str) -> errors.EtcdUnavailableError:
        """EtcdUnavailableError naming every endpoint tried and what each said."""
        problems = list(self.problems)
        untried = self.endpoints[len(self.tried):]
        if untried:
            problems.append("no time left within %ss for %s"
                            % (self.timeout, ", ".join(untried)))
        return errors.EtcdUnavailableError("%s (tried %s): %s"
                                           % (what, ", ".join(self.tried), "; ".join(problems)),
                                           GRPC_UNAVAILABLE)


class Client:
    """A client of an etcd cluster reached at ``endpoints`` (https URLs).

    ``cert_file`` holds the client's key and certificate (None: no client
    certificate, which etcd with --client-cert-auth refuses); ``ca_file`` the
    CA that signed the members' certificates. Thread-safe, and usable in a
    forked child (which opens its own connections).
    """

    def __init__(self, endpoints: Sequence[str], cert_file: Optional[str],
                 ca_file: str, timeout: float = 5.0):
        if isinstance(endpoints, str) or not endpoints:
            raise errors.EtcdError("Bad etcd endpoint list %r: need a list of "
                                   "https://HOST:PORT URLs" % (endpoints,))
        self._addresses = {url: parse_endpoint(url) for url in endpoints}
        self.endpoints = list(endpoints)
        self.cert_file = cert_file
        self.ca_file = ca_file
        self.timeout = float(timeout)
        self._preferred = self.endpoints[0]     # the last endpoint that answered
        self._ctx = None
        self._ctx_lock = threading.Lock()       # only guards the assignments below
        self._ctx_stamp = None
        self._pool = _Pool()

    # -- plumbing ---------------------------------------------------------------

    def _files_stamp(self):
        stamp = []
        for path in (self.cert_file, self.ca_file):
            try:
                st = os.stat(path) if path else None
                stamp.append(st and (st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    def _context(self) -> ssl.SSLContext:
        # made again when the files changed (gnt-cluster renew-crypto replaces them)
        stamp = self._files_stamp()
        if stamp != self._ctx_stamp:
            with self._ctx_lock:
                self._ctx, self._ctx_stamp = None, stamp
        ctx = self._ctx
        if ctx is not None:
            return ctx
        # Built outside any lock: two threads may both build one; the first wins.
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(self.ca_file)
            if self.cert_file:
                ctx.load_cert_chain(self.cert_file)
        except (OSError, ssl.SSLError) as err:
            raise errors.EtcdError("Cannot load the etcd TLS files (certificate %s, CA %s): %s"
                                   % (self.cert_file, self.ca_file, err))
        with self._ctx_lock:
            if self._ctx is None:
                self._ctx = ctx
            return self._ctx

    def close(self) -> None:
        """Close the idle connections (those in use close when their call ends)."""
        self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _order(self) -> List[str]:
        first = self._preferred
        return [first] + [url for url in self.endpoints if url != first]

    def _answered(self, endpoint: str) -> None:
        if endpoint in self._addresses:     # not an endpoint given to health() only
            self._preferred = endpoint

    def _address(self, endpoint: str) -> Tuple[str, int]:
        address = self._addresses.get(endpoint)
        return address if address else parse_endpoint(endpoint)

    def _connection(self, endpoint: str,
                    timeout: float) -> Tuple[http.client.HTTPSConnection, bool]:
        """A live connection to ``endpoint``, idle or new, and whether it is new.

        The caller owns it until it gives it back to the pool (or closes it).
        """
        while True:
            conn = self._pool.take(endpoint)
            if conn is None:
                break
            if conn.sock is not None and not _closed_by_peer(conn.sock):
                return conn, False
            conn.close()
        host, port = self._address(endpoint)
        conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                           context=self._context())
        try:
            conn.connect()
        except (OSError, ssl.SSLError) as err:
            conn.close()
            raise _NotSent(_describe(err, "cannot connect"))
        return conn, True

    def _exchange(self, endpoint: str, method: str, path: str, body: Optional[bytes],
                  headers: dict, connect_timeout: float, answer_timeout: float):
        """Send one request and read the answer: (HTTP status, decoded JSON or None).

        Raises _NotSent when nothing reached etcd's API, OSError or
        HTTPException when the answer was lost after the request was sent.
        """
        conn, fresh = self._connection(endpoint, connect_timeout)
        try:
            conn.sock.settimeout(connect_timeout)
            conn.request(method, path, body=body, headers=headers)
        except (OSError, http.client.HTTPException) as err:
            # Not all of the request was written, so etcd cannot act on it.
            conn.close()
            if fresh and isinstance(err, ssl.SSLError):
                raise _NotSent(_describe(err, "TLS handshake refused"))
            raise _NotSent(_describe(err, "cannot send the request"))
        try:
            conn.sock.settimeout(answer_timeout)
            resp = conn.getresponse()
            data = resp.read()
        except ssl.SSLError as err:
            conn.close()
            if fresh and not isinstance(err, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
                # A TLS alert on a new connection: the handshake was refused
                # (TLS 1.3 reports a rejected client certificate only here).
                raise _NotSent(_describe(err, "TLS handshake refused"))
            raise
        except (OSError, http.client.HTTPException):
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        else:
            self._pool.give(endpoint, conn)
        try:
            doc = json.loads(data.decode("utf-8")) if data else {}
        except ValueError:
            doc = None
        return resp.status, doc, data

    def _call(self, path: str, request: Optional[dict], write: bool,
              endpoint: Optional[str] = None, method: str = "POST",
              need_leader: bool = True) -> dict:
        """One API call with failover (see the module docstring); the JSON answer.

        ``need_leader``: a member without a leader refuses it at once.
        """
        body = json.dumps(request).encode("utf-8") if request is not None else None
        headers = _HEADERS if need_leader else _HEADERS_ANY_LEADER
        attempts = _Attempts([endpoint] if endpoint else self._order(), self.timeout)
        for url, share, remaining in attempts:
            # A write once sent waits all the time left (it has no next endpoint).
            try:
                status, doc, raw = self._exchange(url, method, path, body, headers, share,
                                                  remaining if write else share)
            except _NotSent as err:
                attempts.failed(url, err)
                continue
            except (OSError, http.client.HTTPException) as err:
                if isinstance(err, socket.timeout):
                    what = "no answer within %.1fs" % (remaining if write else share)
                else:
                    what = _describe(err, "connection lost")
                if write:
                    raise errors.EtcdOutcomeUnknownError(
                        "etcd at %s: %s after the request was sent; the outcome is unknown"
                        % (url, what), GRPC_UNAVAILABLE)
                attempts.failed(url, what)
                continue
            code, message = gateway_error(doc)
            if code is None and status == 200 and doc is not None:
                self._answered(url)
                return doc
            if code is None:
                raise errors.EtcdError("etcd at %s: unexpected answer to %s (HTTP %s): %r"
                                       % (url, path, status, raw[:200]))
            if code in _TRY_ELSEWHERE:
                if not write or message in _REFUSED_BEFORE_ACTING:
                    attempts.failed(url, message)
                    continue
                raise errors.EtcdOutcomeUnknownError(
                    "etcd at %s: %s; the outcome is unknown" % (url, message), code)
            self._answered(url)
            raise errors.EtcdError("etcd at %s: %s" % (url, message), code)
        raise attempts.error("No etcd endpoint answered")

    # -- keys -----------------------------------------------------------------------

    def _range(self, key: bytes, range_end: Optional[bytes] = None, limit: int = 0,
               revision: int = 0, keys_only: bool = False) -> dict:
        request = {"key": b64(key)}
        if range_end is not None:
            request["range_end"] = b64(range_end)
        if limit:
            request["limit"] = str(limit)
        if revision:
            request["revision"] = str(revision)
        if keys_only:
            request["keys_only"] = True
        return self._call("/v3/kv/range", request, write=False)

    def get(self, key: Bytes) -> Optional[KeyValue]:
        """The key's current value (a linearizable read), or None if it is absent."""
        kvs = self._range(to_bytes(key)).get("kvs", [])
        return KeyValue.from_json(kvs[0]) if kvs else None

    def get_prefix(self, prefix: Bytes, keys_only: bool = False) -> Tuple[List[KeyValue], int]:
        """Every key starting with ``prefix``, sorted, and the revision read at.

        Read in pages, all at the revision of the first page, so the result is
        one consistent snapshot. With ``keys_only`` the values are empty.
        """
        start, end = to_bytes(prefix), prefix_end(prefix)
        revision, result = 0, []
        while True:
            doc = self._range(start, end, RANGE_PAGE, revision, keys_only)
            revision = revision or as_int(doc.get("header", {}).get("revision"))
            page = [KeyValue.from_json(kv) for kv in doc.get("kvs", [])]
            result.extend(page)
            if not doc.get("more") or not page:
                return result, revision
            start = page[-1].key + b"\0"

    def put(self, key: Bytes, value: Bytes, lease: int = 0) -> int:
        """Set ``key`` (bound to ``lease`` if not 0); returns the new revision."""
        request = {"key": b64(key), "value": b64(value)}
        if lease:
            request["lease"] = str(lease)
        doc = self._call("/v3/kv/put", request, write=True)
        return as_int(doc.get("header", {}).get("revision"))

    def delete(self, key: Bytes, prefix: bool = False) -> int:
        """Delete ``key`` (or every key under it); returns how many were deleted."""
        request = {"key": b64(key)}
        if prefix:
            request["range_end"] = b64(prefix_end(key))
        return as_int(self._call("/v3/kv/deleterange", request, write=True).get("deleted"))

    def txn(self, compares: Sequence[Compare], success: Sequence[Op],
            failure: Sequence[Op] = ()) -> TxnResult:
        """If every compare holds, run ``success``, else ``failure``; atomically."""
        request = {"compare": [c.to_json() for c in compares],
                   "success": [op.to_json() for op in success],
                   "failure": [op.to_json() for op in failure]}
        return TxnResult.from_json(self._call("/v3/kv/txn", request, write=True))

    def compact(self, revision: int, physical: bool = False) -> None:
        """Drop the history before ``revision`` (watches from earlier revisions
        then fail); with ``physical``, return only once the space is freed."""
        request = {"revision": str(int(revision)), "physical": bool(physical)}
        self._call("/v3/kv/compaction", request, write=True)

    # -- leases -----------------------------------------------------------------

    def lease_grant(self, ttl: int) -> Tuple[int, int]:
        """A new lease of ``ttl`` seconds: (lease id, ttl etcd granted)."""
        doc = self._call("/v3/lease/grant", {"TTL": str(int(ttl))}, write=True)
        return as_int(doc.get("ID")), as_int(doc.get("TTL"))

    def lease_keepalive(self, lease_id: int) -> int:
        """Renew the lease once; the ttl it has again, 0 if it is gone.

        Renewing is harmless to repeat, so this is retried like a read.
        """
        doc = self._call("/v3/lease/keepalive", {"ID": str(lease_id)}, write=False)
        result = doc.get("result", doc)
        return max(as_int(result.get("TTL")), 0)

    def lease_revoke(self, lease_id: int) -> bool:
        """End the lease and delete its keys; False if it was gone already."""
        try:
            self._call("/v3/lease/revoke", {"ID": str(lease_id)}, write=True)
        except errors.EtcdError as err:
            if err.code == GRPC_NOT_FOUND:
                return False
            raise
        return True

    def lease_time_to_live(self, lease_id: int) -> int:
        """Seconds the lease has left; -1 when it is gone."""
        doc = self._call("/v3/lease/timetolive", {"ID": str(lease_id)}, write=False)
        return as_int(doc.get("TTL"))

    # -- members and health ----------------------------------------------------------

    def member_list(self) -> List[Member]:
        """The members as the answering member knows them (it may have no leader)."""
        doc = self._call("/v3/cluster/member/list", {}, write=False, need_leader=False)
        return [Member.from_json(m) for m in doc.get("members", [])]

    def member_add(self, peer_urls: Sequence[str], learner: bool = False) -> Member:
        """Announce a new member (start it afterwards with initial-cluster-state
        existing); a learner gets the log but no vote until member_promote."""
        request = {"peerURLs": list(peer_urls), "isLearner": bool(learner)}
        doc = self._call("/v3/cluster/member/add", request, write=True)
        return Member.from_json(doc.get("member", {}))

    def member_remove(self, member_id: int) -> None:
        self._call("/v3/cluster/member/remove", {"ID": str(member_id)}, write=True)

    def member_promote(self, member_id: int) -> None:
        """Make a learner a voting member; etcd refuses (EtcdError, code 9) while
        the learner's log is behind the leader's: try again a moment later."""
        self._call("/v3/cluster/member/promote", {"ID": str(member_id)}, write=True)

    def status(self, endpoint: Optional[str] = None) -> dict:
        """One member's status (of ``endpoint`` only, if given): member_id,
        leader (0: it has none, e.g. no quorum), raft_index, raft_applied_index,
        raft_term, db_size, db_size_in_use (ints), version, is_learner, errors
        (etcd's alarms)."""
        return parse_status(self._call("/v3/maintenance/status", {}, write=False,
                                       endpoint=endpoint, need_leader=False))

    def health(self, endpoint: str) -> bool:
        """Whether the member at ``endpoint`` says it is healthy (has a leader,
        no alarm); False also when it cannot be reached."""
        try:
            doc = self._call("/health", None, write=False, endpoint=endpoint, method="GET",
                             need_leader=False)
        except errors.EtcdError:
            return False
        return doc.get("health") in ("true", True)

    # -- watching ------------------------------------------------------------------

    def watch(self, prefix: Bytes, start_revision: int, stop_event: threading.Event,
              timeout: Optional[float] = None, idle_limit: Optional[float] = None
              ) -> Iterator[Tuple[int, List[Tuple[str, KeyValue]]]]:
        """Yield the changes of the keys under ``prefix`` from ``start_revision``
        on (0: from now on).

        Each item is ``(revision, [(kind, KeyValue), ...])``, one per revision
        in order, kind "PUT" or "DELETE" (a deleted key's KeyValue has no value).
        The iterator ends soon (about 0.1 s) after ``stop_event`` is set.

        ``timeout`` (default: the client's) bounds connecting and etcd's
        confirmation, and how long a silent dead connection goes unnoticed (TCP
        keepalive). A member whose process hangs keeps its connection up; to
        notice that, start etcd with --experimental-watch-progress-notify-interval
        and pass an ``idle_limit`` above that interval: the watch then asks for
        progress notices and fails when nothing came for ``idle_limit`` seconds.

        The stream can end in EtcdError: with ``compact_revision`` set (code
        11) when ``start_revision`` was compacted away; as EtcdUnavailableError
        when the member is lost, loses its leader, stays silent past
        ``idle_limit``, or no endpoint answers. Either way the caller should
        read the keys afresh (get_prefix), then watch again from the revision
        after that read.
        """
        timeout = self.timeout if timeout is None else float(timeout)
        create = {"key": b64(prefix), "range_end": b64(prefix_end(prefix)),
                  "start_revision": str(int(start_revision))}
        if idle_limit:
            create["progress_notify"] = True
        body = json.dumps({"create_request": create}).encode("utf-8")
        stream, url = self._open_watch(body, stop_event, timeout)
        if stream is None:
            return
        try:
            while not stop_event.is_set():
                deadline = time.monotonic() + idle_limit if idle_limit else None
                doc = stream.next_message(deadline, "nothing from the watch for %ss" % idle_limit)
                if doc is None:
                    return
                for item in _watch_items(url, doc):
                    yield item
        finally:
            stream.close()

    def _open_watch(self, body: bytes, stop_event: threading.Event, timeout: float):
        """A _WatchStream whose watch etcd confirmed, and its endpoint; all
        endpoints tried within ``timeout`` (None, url: stopped meanwhile)."""
        attempts = _Attempts(self._order(), timeout)
        for url, share, _ in attempts:
            stream = _WatchStream(url, self._address(url), self._context(), stop_event, share)
            try:
                stream.open(body)
                doc = stream.next_message(time.monotonic() + share,
                                          "no answer to the watch within %.1fs" % share)
                if doc is None:         # stopped while waiting
                    stream.close()
                    return None, url
                if not doc.get("result", {}).get("created"):
                    list(_watch_items(url, doc))    # raises the error it carries
                    raise errors.EtcdError("etcd at %s: watch not created: %r" % (url, doc))
            except (_NotSent, errors.EtcdUnavailableError) as err:
                stream.close()
                attempts.failed(url, err)
                continue
            except BaseException:
                stream.close()
                raise
            self._answered(url)
            return stream, url
        raise attempts.error("No etcd endpoint answered the watch")


def _watch_items(url: str, doc: dict):
    """The (revision, events) items of one watch message; raises on its errors."""
    code, message = gateway_error(doc)
    if code is not None:
        cls = errors.EtcdUnavailableError if code in _TRY_ELSEWHERE else errors.EtcdError
        raise cls("etcd at %s: watch failed: %s" % (url, message), code)
    result = doc.get("result", {})
    compacted = as_int(result.get("compact_revision"))
    if compacted:
        err = errors.EtcdError("etcd at %s: watch start revision is compacted; the oldest "
                               "revision left is %d" % (url, compacted), GRPC_OUT_OF_RANGE)
        err.compact_revision = compacted
        raise err
    if result.get("canceled"):
        raise errors.EtcdUnavailableError("etcd at %s: watch canceled: %s"
                                          % (url, result.get("cancel_reason") or "no reason"),
                                          GRPC_UNAVAILABLE)
    batch, revision = [], None
    for event in result.get("events", []):
        kv = KeyValue.from_json(event.get("kv", {}))
        if revision is not None and kv.mod_revision != revision:
            yield revision, batch
            batch = []
        revision = kv.mod_revision
        batch.append((event.get("type", "PUT"), kv))
    if batch:
        yield revision, batch


class _WatchStream:
    """One streaming HTTP/1.1 POST /v3/watch, read with our own chunk decoder so
    that a read can wait in short slices (to notice the stop event) without
    losing data, which http.client's buffered reader cannot do."""

    def __init__(self, url, address, ctx, stop_event, timeout):
        self.url, self.address, self.ctx = url, address, ctx
        self.stop_event, self.timeout = stop_event, timeout
        self.sock = None
        self.buf = b""          # received, not yet decoded bytes
        self.lines = b""        # decoded body bytes, not yet a full message
        self.chunk_left = 0     # bytes left in the current chunk (+2 for its CRLF)
        self.chunked = True
        self.silence = ""       # what a missed deadline means (see next_message)

    def open(self, body: bytes) -> None:
        host, port = self.address
        try:
            raw = socket.create_connection((host, port), timeout=self.timeout)
            _keepalive(raw, self.timeout)
            self.sock = self.ctx.wrap_socket(raw, server_hostname=host)
            head = ["POST /v3/watch HTTP/1.1", "Host: %s:%d" % (host, port),
                    "Content-Length: %d" % len(body)]
            head += ["%s: %s" % item for item in _HEADERS.items()]
            self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body)
        except (OSError, ssl.SSLError) as err:
            raise _NotSent(_describe(err, "cannot connect"))
        header = self._read_until(b"\r\n\r\n", time.monotonic() + self.timeout)
        if header is None:
            return
        status_line, _, fields = header.decode("latin-1").partition("\r\n")
        fields = fields.lower()
        self.chunked = "transfer-encoding: chunked" in fields
        if not status_line.startswith("HTTP/1.1 200"):
            raise self._refusal(status_line, fields)

    def _refusal(self, status_line: str, fields: str) -> errors.EtcdError:
        """The error of a watch that etcd answered with an HTTP error status."""
        body = None
        deadline = time.monotonic() + self.timeout
        if self.chunked:
            doc = self.next_message(deadline)
        else:
            length = re.search(r"^content-length: *(\d+)", fields, re.M)
            if length:
                body = self._read_exact(int(length.group(1)), deadline)
            try:
                doc = json.loads(body.decode("utf-8")) if body else None
            except ValueError:
                doc = None
        code, message = gateway_error(doc)
        if code is None:
            code, message = 2, status_line      # gRPC "unknown"
        return errors.EtcdError("etcd at %s: watch refused: %s" % (self.url, message), code)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _receive(self, deadline: Optional[float]) -> bool:
        """Append what arrives to self.buf; False when stopped. Raises when
        the deadline passes (see next_message)."""
        while True:
            if self.stop_event.is_set():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                raise errors.EtcdUnavailableError("etcd at %s: %s" % (self.url, self.silence),
                                                  GRPC_DEADLINE_EXCEEDED)
            self.sock.settimeout(WATCH_POLL)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (OSError, ssl.SSLError) as err:
                raise errors.EtcdUnavailableError("etcd at %s: watch stream lost: %s"
                                                  % (self.url, _describe(err, "error")),
                                                  GRPC_UNAVAILABLE)
            if not data:
                raise errors.EtcdUnavailableError("etcd at %s: watch stream closed by etcd"
                                                  % self.url, GRPC_UNAVAILABLE)
            self.buf += data
            return True

    def _read_until(self, marker: bytes, deadline: Optional[float]) -> Optional[bytes]:
        while marker not in self.buf:
            if not self._receive(deadline):
                return None
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _read_exact(self, size: int, deadline: Optional[float]) -> Optional[bytes]:
        while len(self.buf) < size:
            if not self._receive(deadline):
                return None
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def next_message(self, deadline: Optional[float] = None,
                     silence: str = "no answer from etcd in time") -> Optional[dict]:
        """The next JSON message of the stream; None once the stop event is set.

        Raises EtcdUnavailableError saying ``silence`` if it has not come by
        ``deadline`` (time.monotonic(); None: wait as long as it takes).
        """
        self.silence = silence
        while b"\n" not in self.lines:
            if not self.chunked:
                self.lines += self.buf
                self.buf = b""
                if not self._receive(deadline):
                    return None
                continue
            size_line = self._read_until(b"\r\n", deadline)
            if size_line is None:
                return None
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                raise errors.EtcdUnavailableError(
                    "etcd at %s: watch stream ended by etcd (it does so when the member "
                    "loses its leader)" % self.url, GRPC_UNAVAILABLE)
            data = self._read_exact(size + 2, deadline)
            if data is None:
                return None
            self.lines += data[:-2]
        line, _, self.lines = self.lines.partition(b"\n")
        try:
            return json.loads(line.decode("utf-8"))
        except ValueError:
            raise errors.EtcdError("etcd at %s: unreadable watch message %r"
                                   % (self.url, line[:200]))


def _keepalive(sock: socket.socket, timeout: float) -> None:
    """Notice a silently dead peer of a long watch within about timeout + 3 s."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", max(1, int(timeout))), ("TCP_KEEPINTVL", 1),
                        ("TCP_KEEPCNT", 3)):
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _closed_by_peer(sock) -> bool:
    """Whether a kept-alive connection was closed by etcd while idle.

    Checked before reuse so that a write is not sent into a dead connection
    (whose failure would leave its outcome unknown). TLS records such as
    session tickets are read and ignored; any data, EOF or error means closed.
    """
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(1)
        finally:
            sock.setblocking(True)
    except (ssl.SSLWantReadError, BlockingIOError):
        return False
    except (OSError, ssl.SSLError):
        return True
    return True


def _describe(err: BaseException, what: str) -> str:
    if isinstance(err, socket.timeout):
        return "%s: timed out" % what
    text = str(err) or err.__class__.__name__
    return "%s: %s" % (what, text)
