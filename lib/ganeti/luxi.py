"""LUXI: the JSON protocol between clients (gnt-*, RAPI) and the master daemon.

Each message is a UTF-8 JSON document followed by the byte 0x03 (ETX), over a
Unix stream socket. Request ``{"method", "args", "version"}``; response
``{"success", "result", "version"}``; on failure ``result`` is an encoded
error ``[class_name, [args]]`` which the client raises again.
"""

import socket

from ganeti import constants, errors, pathutils, serializer

ETX = b"\x03"
KEY_METHOD = "method"
KEY_ARGS = "args"
KEY_SUCCESS = "success"
KEY_RESULT = "result"
KEY_VERSION = "version"

CONNECT_TIMEOUT = 30
READ_TIMEOUT = 180

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
REQ_QUERY_INSTANCES = "QueryInstances"
REQ_QUERY_NODES = "QueryNodes"
REQ_QUERY_GROUPS = "QueryGroups"
REQ_QUERY_NETWORKS = "QueryNetworks"
REQ_QUERY_EXPORTS = "QueryExports"
REQ_QUERY_CONFIG_VALUES = "QueryConfigValues"
REQ_QUERY_CLUSTER_INFO = "QueryClusterInfo"
REQ_QUERY_TAGS = "QueryTags"
REQ_SET_DRAIN_FLAG = "SetDrainFlag"
REQ_SET_WATCHER_PAUSE = "SetWatcherPause"


class Transport:
    """One connection: send a message, receive a message (ETX-framed)."""

    def __init__(self, address, timeout=READ_TIMEOUT, connect_timeout=CONNECT_TIMEOUT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(connect_timeout)
        try:
            self.sock.connect(address)
        except socket.timeout as err:
            self.sock.close()
            raise errors.TimeoutError("Connection to the master daemon timed out: %s" % err)
        except (FileNotFoundError, ConnectionRefusedError) as err:
            self.sock.close()
            raise errors.NoMasterError(address, str(err))
        except PermissionError as err:
            self.sock.close()
            raise errors.PermissionError(address, str(err))
        self.sock.settimeout(timeout)
        self._buffer = b""

    def send(self, data):
        if ETX in data:
            raise errors.ProtocolError("Message contains the ETX byte")
        self.sock.sendall(data + ETX)

    def recv(self):
        while ETX not in self._buffer:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as err:
                raise errors.TimeoutError("Reading from the master daemon timed out: %s" % err)
            if not chunk:
                raise errors.ConnectionClosedError("The master daemon closed the connection")
            self._buffer += chunk
        msg, _, self._buffer = self._buffer.partition(ETX)
        return msg

    def close(self):
        self.sock.close()


def format_request(method, args):
    return serializer.dump_json({KEY_METHOD: method, KEY_ARGS: args,
                                 KEY_VERSION: constants.LUXI_VERSION}).encode("utf-8")


def parse_request(data):
    try:
        msg = serializer.load_json(data)
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

    def __init__(self, address=None, timeout=READ_TIMEOUT):
        self.address = address or pathutils.MASTER_SOCKET
        self.timeout = timeout
        self._transport = None

    def close(self):
        if self._transport:
            self._transport.close()
            self._transport = None

    def call(self, method, args):
        if self._transport is None:
            self._transport = Transport(self.address, timeout=self.timeout)
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

    def query_instances(self, names, fields, use_locking=False):
        return self.call(REQ_QUERY_INSTANCES, [names, fields, use_locking])

    def query_groups(self, names, fields, use_locking=False):
        return self.call(REQ_QUERY_GROUPS, [names, fields, use_locking])

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


def _op_dict(op):
    return op if isinstance(op, dict) else op.to_dict()
