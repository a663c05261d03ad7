"""Error classes, their error codes, and their encoding for LUXI/RPC transport.

An error travels between processes as ``[class_name, [args...]]`` and is turned
back into the same class on the other side (see ``encode``/``maybe_raise``).
"""

# Error codes carried by OpPrereqError (second argument); the values are
# Ganeti's, so that scripts matching on them keep working.
ECODE_RESOLVER = "resolver_error"
ECODE_NORES = "insufficient_resources"
ECODE_TEMP_NORES = "temp_insufficient_resources"
ECODE_INVAL = "wrong_input"
ECODE_STATE = "wrong_state"
ECODE_NOENT = "unknown_entity"
ECODE_EXISTS = "already_exists"
ECODE_NOTUNIQUE = "resource_not_unique"
ECODE_FAULT = "internal_error"
ECODE_ENVIRON = "environment_error"
ECODE_ALL = frozenset([
    ECODE_RESOLVER, ECODE_NORES, ECODE_TEMP_NORES, ECODE_INVAL, ECODE_STATE,
    ECODE_NOENT, ECODE_EXISTS, ECODE_NOTUNIQUE, ECODE_FAULT, ECODE_ENVIRON,
])


class GenericError(Exception):
    """Base of every error of this package."""


class ProgrammerError(GenericError):
    """A bug: code called in a way it must never be."""


class ConfigurationError(GenericError):
    """The cluster configuration is missing, unreadable or inconsistent."""


class ConfigVersionMismatch(ConfigurationError):
    """config.data was written by an incompatible version."""


class ReservationError(GenericError):
    """A resource (port, minor, MAC) could not be reserved."""


class RemoteError(GenericError):
    """An error reported by a remote node."""


class SignatureError(GenericError):
    """A signed message did not verify."""


class ParameterError(GenericError):
    """A parameter is invalid (used where OpPrereqError is not suitable)."""


class ResultValidationError(GenericError):
    """A logical unit returned a result that does not match its declared type."""


class OpPrereqError(GenericError):
    """A prerequisite of an operation is not met; nothing was changed.

    args: (message, error_code)
    """


class OpExecError(GenericError):
    """An operation failed while running."""


class OpResultError(GenericError):
    """An operation returned an invalid result."""


class OpCodeUnknown(GenericError):
    """The OP_ID of an opcode is not known."""


class JobLost(GenericError):
    """A job disappeared from the queue."""


class JobFileCorrupted(GenericError):
    """A job file could not be parsed."""


class JobQueueError(GenericError):
    """Generic job queue error."""


class JobQueueDrainError(JobQueueError):
    """The queue is drained (marked for drain); new jobs are refused."""


class JobQueueFull(JobQueueError):
    """The queue has reached its hard size limit."""


class JobCanceled(GenericError):
    """The job was canceled while it was waiting or running."""


class LockError(GenericError):
    """Lock manager misuse or a lock that cannot be had."""


class LockTimeout(LockError):
    """Locks could not be acquired in the given time."""


class ResolverError(GenericError):
    """A host name could not be resolved.  args: (name, errno, message)"""


class HooksFailure(GenericError):
    """The hooks could not be run at all."""


class HooksAbort(HooksFailure):
    """A pre-hook failed, so the operation was not started."""


class UnitParseError(GenericError):
    """A size or unit string could not be parsed."""


class TypeEnforcementError(GenericError):
    """A value does not have the type its declaration asks for."""


class CommandError(GenericError):
    """An external command failed."""


class X509CertError(GenericError):
    """A certificate is invalid or could not be loaded.  args: (filename, message)"""


class HypervisorError(GenericError):
    """A hypervisor operation failed or its parameters are invalid."""


class BlockDeviceError(GenericError):
    """A block device operation failed."""


class InvalidOS(GenericError):
    """An OS definition is missing or invalid.  args: (os name, message)"""


class TagError(GenericError):
    """A tag is invalid."""


class QuitGanetiException(Exception):
    """Raised by an RPC procedure that asks the daemon to exit after answering.

    args: (should_shutdown: bool, message)
    """


class ProtocolError(GenericError):
    """A LUXI or RPC message is malformed."""


class ConnectionClosedError(ProtocolError):
    """The peer closed the connection before answering."""


class TimeoutError(ProtocolError):  # noqa: A001 - Ganeti's name
    """A LUXI or RPC call timed out."""


class RequestError(ProtocolError):
    """The server refused a request."""


class NoMasterError(ProtocolError):
    """The master daemon's socket cannot be reached."""


class PermissionError(GenericError):  # noqa: A001 - Ganeti's name
    """Not allowed to talk to the master daemon."""


class NotMasterError(GenericError):
    """This node is not the master; args: (message,)"""


class FileStoragePathError(GenericError):
    """A file storage path is not allowed."""


class EtcdError(GenericError):
    """An etcd request failed; args: (message, code).

    ``code`` is the gRPC status code of etcd's answer (0 when there was none).
    """

    def __init__(self, message: str = "", code: int = 0):
        super().__init__(message, code)
        self.code = code

    def __str__(self):
        return str(self.args[0])


class EtcdUnavailableError(EtcdError):
    """etcd cannot serve now: no quorum or leader, timed out, or no endpoint
    answered (the message names the endpoints tried)."""


class EtcdOutcomeUnknownError(EtcdUnavailableError):
    """A write was sent but no answer came: etcd may still apply it later."""


def get_error_class(name):
    """The error class called ``name`` in this module, or None."""
    item = globals().get(name)
    if isinstance(item, type) and issubclass(item, Exception):
        return item
    return None


def encode(err):
    """Encode an exception as ``[class_name, [args]]`` for transport."""
    if isinstance(err, GenericError) or isinstance(err, QuitGanetiException):
        name = err.__class__.__name__
    else:
        name = "OpExecError"
        err = OpExecError(str(err))
    return [name, [_jsonable(a) for a in err.args]]


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def decode(data):
    """Turn an encoded error back into an exception instance."""
    try:
        name, args = data
        cls = get_error_class(name)
    except (TypeError, ValueError):
        return ProtocolError("Malformed encoded error: %r" % (data,))
    if cls is None:
        return GenericError("%s: %s" % (name, args))
    return cls(*args)


def maybe_raise(result):
    """Raise the encoded error in ``result`` if it is one."""
    if (isinstance(result, (list, tuple)) and len(result) == 2
            and isinstance(result[0], str) and isinstance(result[1], (list, tuple))
            and get_error_class(result[0]) is not None):
        raise decode(result)


def get_encoded_error(result):
    """The exception encoded in ``result``, or None if it is not an error."""
    if (isinstance(result, (list, tuple)) and len(result) == 2
            and isinstance(result[0], str) and isinstance(result[1], (list, tuple))
            and get_error_class(result[0]) is not None):
        return decode(result)
    return None
