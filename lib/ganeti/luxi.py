"""LUXI: the JSON protocol between clients (gnt-*, RAPI) and the master daemon.

Each message is a UTF-8 JSON document followed by the byte 0x03 (ETX), over a
Unix stream socket. Request ``{"method", "args", "version"}``; response
``{"success", "result", "version"}``; on failure ``result`` is an encoded
error ``[class_name, [args]]`` which the client raises again.
"""

import errno
import socket
import time

from ganeti import constants, errors, ht, pathutils, serializer

ETX = b"\x03"
KEY_METHOD = "method"
KEY_ARGS = "args"
KEY_SUCCESS = "success"
KEY_RESULT = "result"
KEY_VERSION = "version"

CONNECT_TIMEOUT = 10        # as Ganeti's client: keep trying to connect this long
READ_TIMEOUT = 180
#: the largest message either side accepts (the server answers a bigger
#: request with an error and closes the connection)
MAX_MESSAGE_SIZE = 32 * 1024 * 1024
#: a request begun but not finished within this time is dropped (server side)
PARTIAL_MESSAGE_TIMEOUT = 60.0

REQ_SUBMIT_JOB = "SubmitJob"
REQ_SUBMIT_JOB_TO_DRAINED_QUEUE = "SubmitJobToDrainedQueue"
REQ_SUBMIT_MANY_JOBS = "SubmitManyJobs"
REQ_WAIT_FOR_JOB_CHANGE = "WaitForJobChange"
REQ_CANCEL_JOB = "CancelJob"
REQ_ARCHIVE_JOB = "ArchiveJob"
REQ_CHANGE_JOB_PRIORITY = "ChangeJobPriority"
REQ_AUTO_ARCHIVE_JOBS = "AutoArchiveJobs"
REQ_QUERY = "Query"
REQ_QUERY_FIELDS = "QueryFields"
REQ_QUERY_JOBS = "QueryJobs"
REQ_QUERY_NODES = "QueryNodes"
REQ_QUERY_CONFIG_VALUES = "QueryConfigValues"
REQ_QUERY_CLUSTER_INFO = "QueryClusterInfo"
REQ_QUERY_TAGS = "QueryTags"
REQ_SET_DRAIN_FLAG = "SetDrainFlag"
REQ_SET_WATCHER_PAUSE = "SetWatcherPause"
REQ_QUERY_FILTERS = "QueryFilters"
REQ_REPLACE_FILTER = "ReplaceFilter"
REQ_DELETE_FILTER = "DeleteFilter"
# not in Ganeti's LUXI: Ganeti answers gnt-node list-drbd from ganeti-confd,
# which this project has not; the master answers it from the configuration
REQ_QUERY_DRBD_MINORS = "QueryDrbdMinors"
# not in Ganeti's LUXI: the figures only the master daemon knows, for the
# RAPI's /metrics and /2/locks (ganeti.server.masterd.LuxiHandler._query_metrics)
REQ_QUERY_METRICS = "QueryMetrics"
#: the parts of the QueryMetrics answer (all of them when none are named)
METRICS_SECTIONS = ("jobs", "locks", "rpc")


class Transport:
    """One connection: send a message, receive a message (ETX-framed)."""

    def __init__(self, address, timeout=READ_TIMEOUT, connect_timeout=CONNECT_TIMEOUT):
        self.sock = _connect(address, connect_timeout)
        self.sock.settimeout(timeout)
        self._buffer = bytearray()

    def send(self, data):
        if ETX in data:
            raise errors.ProtocolError("Message contains the ETX byte")
        self.sock.sendall(data + ETX)

    def recv(self):
        scanned = 0                 # the buffer before this holds no ETX
        while True:
            end = self._buffer.find(ETX, scanned)
            if end >= 0:
                msg = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                return msg
            scanned = len(self._buffer)
            if scanned > MAX_MESSAGE_SIZE:
                raise errors.ProtocolError("Answer of the master daemon larger than %d"
                                           " bytes" % MAX_MESSAGE_SIZE)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as err:
                raise errors.TimeoutError("Reading from the master daemon timed out: %s" % err)
            if not chunk:
                raise errors.ConnectionClosedError("The master daemon closed the connection")
            self._buffer += chunk

    def close(self):
        self.sock.close()


# connect errors worth another try: masterd (re)starting (no socket yet, or
# nobody listening) or its listen backlog full
_RETRY_CONNECT = (errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN)
_CONNECT_RETRY_DELAY = 0.1


def _connect(address, connect_timeout):
    """A socket connected to ``address``, retrying for up to ``connect_timeout``.

    As Ganeti's client: while masterd restarts or its backlog is full the
    connection is retried; on a node that is not the master there is nothing
    to wait for and the error comes at once.
    """
    deadline = time.monotonic() + connect_timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(connect_timeout)
        try:
            sock.connect(address)
            return sock
        except socket.timeout as err:
            sock.close()
            raise errors.TimeoutError("Connection to the master daemon timed out: %s" % err)
        except OSError as err:
            sock.close()
            if err.errno in (errno.EPERM, errno.EACCES):
                raise errors.PermissionError(address, str(err))
            if err.errno not in _RETRY_CONNECT:
                raise
            if time.monotonic() >= deadline or not _worth_waiting(address):
                raise _no_master(address, err)
        time.sleep(_CONNECT_RETRY_DELAY)


def _worth_waiting(address):
    """Whether a master daemon may soon answer on ``address`` (this is the master)."""
    if address != pathutils.MASTER_SOCKET:
        return True
    from ganeti import daemon_util
    return daemon_util.is_master()


def _no_master(address, err):
    """The error of a master socket nobody answers on, in Ganeti's words: this
    machine is in no cluster, or another node is the master, or (this is
    the master) its daemon is not running."""
    if address in (pathutils.MASTER_SOCKET, pathutils.QUERY_SOCKET):
        from ganeti import ssconf
        not_master = ssconf.not_master_error()
        if not_master is not None:
            return not_master
    return errors.NoMasterError(address, str(err))


def format_request(method, args):
    # in the order given: a job's parameters reach it as the user wrote them
    # (gnt-instance modify -B lists its changes in that order, as Ganeti's)
    return serializer.dump_json_ordered({KEY_METHOD: method, KEY_ARGS: args,
                                         KEY_VERSION: constants.LUXI_VERSION}
                                        ).encode("utf-8")


def parse_request(data):
    try:
        msg = serializer.load_json(data, max_depth=serializer.MAX_REQUEST_DEPTH)
    except ValueError as err:
        raise errors.ProtocolError("Invalid LUXI request (not JSON): %s" % err)
    if not isinstance(msg, dict) or KEY_METHOD not in msg or KEY_ARGS not in msg:
        raise errors.ProtocolError("Invalid LUXI request: needs 'method' and 'args'")
    return msg[KEY_METHOD], msg[KEY_ARGS], msg.get(KEY_VERSION)


def format_response(success, result):
    return serializer.dump_json({KEY_SUCCESS: success, KEY_RESULT: result,
                                 KEY_VERSION: constants.LUXI_VERSION}).encode("utf-8")


def parse_response(data):
    try:
        msg = serializer.load_json(data)
    except ValueError as err:
        raise errors.ProtocolError("Invalid LUXI response (not JSON): %s" % err)
    if not isinstance(msg, dict) or KEY_SUCCESS not in msg or KEY_RESULT not in msg:
        raise errors.ProtocolError("Invalid LUXI response: %r" % (msg,))
    version = msg.get(KEY_VERSION)
    if version is not None and version != constants.LUXI_VERSION:
        raise errors.ProtocolError("LUXI version mismatch, server %s, client %s"
                                   % (version, constants.LUXI_VERSION))
    if not msg[KEY_SUCCESS]:
        err = errors.get_encoded_error(msg[KEY_RESULT])
        if err is not None:
            raise err
        raise errors.RequestError(msg[KEY_RESULT])
    return msg[KEY_RESULT]


class Client:
    """A LUXI client; one connection, reused for every call."""

    def __init__(self, address=None, timeout=READ_TIMEOUT, connect_timeout=CONNECT_TIMEOUT):
        self.address = address or pathutils.MASTER_SOCKET
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._transport = None

    def close(self):
        if self._transport:
            self._transport.close()
            self._transport = None

    def call(self, method, args):
        if self._transport is None:
            self._transport = Transport(self.address, timeout=self.timeout,
                                        connect_timeout=self.connect_timeout)
        try:
            self._transport.send(format_request(method, args))
            reply = self._transport.recv()
        except Exception:
            self.close()
            raise
        return parse_response(reply)

    # --- the methods, as named by Ganeti's client library (snake_case here) ---
    def submit_job(self, ops):
        return self.call(REQ_SUBMIT_JOB, [[_op_dict(op) for op in ops]])

    def submit_job_to_drained_queue(self, ops):
        return self.call(REQ_SUBMIT_JOB_TO_DRAINED_QUEUE, [[_op_dict(op) for op in ops]])

    def submit_many_jobs(self, jobs):
        return self.call(REQ_SUBMIT_MANY_JOBS, [[[_op_dict(op) for op in ops] for ops in jobs]])

    def wait_for_job_change_once(self, job_id, fields, prev_job_info, prev_log_serial,
                                 timeout=constants.LUXI_WFJC_TIMEOUT):
        return self.call(REQ_WAIT_FOR_JOB_CHANGE,
                         [job_id, fields, prev_job_info, prev_log_serial, timeout])

    def cancel_job(self, job_id, kill=False):
        return self.call(REQ_CANCEL_JOB, [job_id, kill])

    def archive_job(self, job_id):
        return self.call(REQ_ARCHIVE_JOB, [job_id])

    def change_job_priority(self, job_id, priority):
        return self.call(REQ_CHANGE_JOB_PRIORITY, [job_id, priority])

    def auto_archive_jobs(self, age, timeout):
        return self.call(REQ_AUTO_ARCHIVE_JOBS, [age, timeout])

    def query(self, what, fields, qfilter=None):
        return self.call(REQ_QUERY, [what, fields, qfilter])

    def query_fields(self, what, fields=None):
        return self.call(REQ_QUERY_FIELDS, [what, fields])

    def query_jobs(self, job_ids, fields):
        return self.call(REQ_QUERY_JOBS, [job_ids, fields])

    def query_nodes(self, names, fields, use_locking=False):
        return self.call(REQ_QUERY_NODES, [names, fields, use_locking])

    def query_cluster_info(self):
        return self.call(REQ_QUERY_CLUSTER_INFO, [])

    def query_config_values(self, fields):
        return self.call(REQ_QUERY_CONFIG_VALUES, [fields])

    def query_tags(self, kind, name):
        return self.call(REQ_QUERY_TAGS, [kind, name])

    def set_queue_drain_flag(self, drain_flag):
        return self.call(REQ_SET_DRAIN_FLAG, [drain_flag])

    def set_watcher_pause(self, until):
        return self.call(REQ_SET_WATCHER_PAUSE, [until])

    def query_filters(self, uuids, fields):
        return self.call(REQ_QUERY_FILTERS, [uuids, fields])

    def replace_filter(self, uuid, priority, predicates, action, reason):
        return self.call(REQ_REPLACE_FILTER, [uuid, priority, predicates, action, reason])

    def delete_filter(self, uuid):
        return self.call(REQ_DELETE_FILTER, [uuid])

    def query_drbd_minors(self, node):
        return self.call(REQ_QUERY_DRBD_MINORS, [node])

    def query_metrics(self, sections=None):
        return self.call(REQ_QUERY_METRICS, [sections])


def _op_dict(op):
    return op if isinstance(op, dict) else op.to_dict()


# ---- the methods' signatures ------------------------------------------------------
# Every argument of every method is checked here, before the master acts on it,
# as opcode parameters are: a wrong type is refused with a message naming the
# method and the argument (SetDrainFlag("false") must not drain the queue).

_REQUIRED = object()

TJobId = ht.TypeCheck("job ID (non-negative integer)", lambda v: (
    ht.TNonNegativeInt(v) or (isinstance(v, str) and v.isascii() and v.isdigit())))
_TOpList = ht.TListOf(ht.TDict)
_TMetricsSection = ht.TypeCheck("one of %s" % ", ".join(METRICS_SECTIONS),
                                lambda v: isinstance(v, str) and v in METRICS_SECTIONS)

#: method -> [(argument name, default or _REQUIRED, check)]
SIGNATURES = {
    REQ_SUBMIT_JOB: [("ops", _REQUIRED, _TOpList)],
    REQ_SUBMIT_JOB_TO_DRAINED_QUEUE: [("ops", _REQUIRED, _TOpList)],
    REQ_SUBMIT_MANY_JOBS: [("jobs", _REQUIRED, ht.TListOf(_TOpList))],
    REQ_WAIT_FOR_JOB_CHANGE: [
        ("job id", _REQUIRED, TJobId),
        ("fields", _REQUIRED, ht.TStrList),
        ("previous job info", _REQUIRED, ht.TMaybe(ht.TList)),
        ("previous log serial", _REQUIRED, ht.TMaybe(ht.TInt)),
        ("timeout", constants.LUXI_WFJC_TIMEOUT, ht.TNonNegativeNumber)],
    REQ_CANCEL_JOB: [("job id", _REQUIRED, TJobId), ("kill", False, ht.TBool)],
    REQ_ARCHIVE_JOB: [("job id", _REQUIRED, TJobId)],
    REQ_CHANGE_JOB_PRIORITY: [("job id", _REQUIRED, TJobId),
                              ("priority", _REQUIRED, ht.TInt)],
    REQ_AUTO_ARCHIVE_JOBS: [("age", _REQUIRED, ht.TNumber),
                            ("timeout", _REQUIRED, ht.TMaybe(ht.TNonNegativeNumber))],
    REQ_QUERY: [("resource", _REQUIRED, ht.TNonEmptyString),
                ("fields", _REQUIRED, ht.TStrList),
                ("filter", None, ht.TMaybe(ht.TList))],
    REQ_QUERY_FIELDS: [("resource", _REQUIRED, ht.TNonEmptyString),
                       ("fields", None, ht.TMaybeStrList)],
    REQ_QUERY_JOBS: [("job ids", _REQUIRED, ht.TMaybe(ht.TListOf(TJobId))),
                     ("fields", _REQUIRED, ht.TStrList)],
    REQ_QUERY_NODES: [("names", _REQUIRED, ht.TMaybeStrList),
                      ("fields", _REQUIRED, ht.TStrList),
                      ("use locking", False, ht.TBool)],
    REQ_QUERY_CLUSTER_INFO: [],
    REQ_QUERY_CONFIG_VALUES: [("fields", _REQUIRED, ht.TStrList)],
    REQ_QUERY_TAGS: [("kind", _REQUIRED, ht.TNonEmptyString),
                     ("name", None, ht.TMaybeString)],
    REQ_SET_DRAIN_FLAG: [("drain flag", _REQUIRED, ht.TBool)],
    REQ_SET_WATCHER_PAUSE: [("until", _REQUIRED, ht.TMaybe(ht.TNumber))],
    REQ_QUERY_FILTERS: [("uuids", _REQUIRED, ht.TMaybeStrList),
                        ("fields", _REQUIRED, ht.TStrList)],
    # the types only: the master checks the rule's parts further, with Ganeti's
    # messages (jqueue.filtering.parse_request)
    REQ_REPLACE_FILTER: [("uuid", _REQUIRED, ht.TMaybeString),
                         ("priority", _REQUIRED, ht.TInt),
                         ("predicates", _REQUIRED, ht.TList),
                         ("action", _REQUIRED, ht.TOr(ht.TString, ht.TList)),
                         ("reason", _REQUIRED, ht.TList)],
    REQ_DELETE_FILTER: [("uuid", _REQUIRED, ht.TString)],
    REQ_QUERY_DRBD_MINORS: [("node", _REQUIRED, ht.TNonEmptyString)],
    REQ_QUERY_METRICS: [("sections", None, ht.TMaybe(ht.TListOf(_TMetricsSection)))],
}


def check_arguments(method, args) -> list:
    """The arguments of a call, defaults filled in; ProtocolError if they are wrong."""
    signature = SIGNATURES.get(method) if isinstance(method, str) else None
    if signature is None:
        raise errors.ProtocolError("Unknown LUXI method %s" % _short(method))
    if not isinstance(args, list):
        raise errors.ProtocolError("Arguments of %s must be a list, got %s"
                                   % (method, _short(args)))
    least = sum(1 for _, default, _ in signature if default is _REQUIRED)
    if not least <= len(args) <= len(signature):
        wanted = ("%d" % least if least == len(signature)
                  else "%d to %d" % (least, len(signature)))
        raise errors.ProtocolError("%s takes %s arguments, got %d"
                                   % (method, wanted, len(args)))
    result = []
    for pos, (name, default, check) in enumerate(signature):
        value = args[pos] if pos < len(args) else default
        if not check(value):
            raise errors.ProtocolError("Invalid parameter passed to %s as %s: expected %s,"
                                       " got %s" % (method, name, check.desc, _short(value)))
        result.append(value)
    return result


def _short(value):
    """A value for an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 100 else text[:100] + "..."
