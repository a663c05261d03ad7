"""A small client for the QEMU Machine Protocol (QMP) on a Unix socket.

QMP is line-oriented JSON: the server greets with ``{"QMP": {...}}``, the client
leaves capabilities negotiation mode with ``qmp_capabilities`` and then sends
``{"execute": cmd, "arguments": {...}, "id": n}``; each command gets one
``{"return": ...}`` or ``{"error": {"class": ..., "desc": ...}}``, and
asynchronous ``{"event": name, "data": ..., "timestamp": ...}`` messages can
arrive at any time in between.
"""

import json
import socket
import time

from ganeti import errors

DEFAULT_TIMEOUT = 10.0


class QmpError(errors.HypervisorError):
    """QEMU answered a command with an error (``error_class`` is QMP's class)."""

    def __init__(self, command, error_class, desc):
        errors.HypervisorError.__init__(
            self, "QMP command '%s' failed: %s (%s)" % (command, desc, error_class))
        self.command = command
        self.error_class = error_class
        self.desc = desc


class QmpClient:
    """One connection to a QMP monitor socket.

    Use as a context manager::

        with QmpClient(path) as qmp:
            status = qmp.execute("query-status")["status"]

    Events that arrive while waiting for command answers are kept in
    ``events`` (oldest first) and can be awaited with ``wait_event``.
    """

    def __init__(self, path, timeout=DEFAULT_TIMEOUT):
        self.path = path
        self.timeout = timeout
        self.greeting = None
        self.events = []
        self._sock = None
        self._buffer = b""
        self._next_id = 1

    # ---- connection -------------------------------------------------------------

    def connect(self):
        """Connect, read the greeting and negotiate capabilities."""
        deadline = time.monotonic() + self.timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as err:
            sock.close()
            raise errors.HypervisorError("Cannot connect to the QMP socket %s: %s"
                                         % (self.path, err))
        self._sock = sock
        try:
            greeting = self._read_message(deadline)
            while "QMP" not in greeting:
                if "event" not in greeting:
                    raise errors.HypervisorError("Unexpected QMP greeting on %s: %r"
                                                 % (self.path, greeting))
                self.events.append(greeting)
                greeting = self._read_message(deadline)
            self.greeting = greeting["QMP"]
            self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def __enter__(self):
        if self._sock is None:
            self.connect()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def version(self):
        """QEMU's version as (major, minor, micro), from the greeting."""
        qemu = ((self.greeting or {}).get("version") or {}).get("qemu") or {}
        return (qemu.get("major", 0), qemu.get("minor", 0), qemu.get("micro", 0))

    # ---- messages ---------------------------------------------------------------

    def _send(self, message):
        data = json.dumps(message).encode("utf-8") + b"\r\n"
        try:
            self._sock.sendall(data)
        except OSError as err:
            raise errors.HypervisorError("Cannot send to the QMP socket %s: %s"
                                         % (self.path, err))

    def _read_message(self, deadline):
        """The next JSON object from the socket (waiting at most until deadline)."""
        if self._sock is None:
            raise errors.HypervisorError("QMP connection to %s is closed" % self.path)
        while True:
            line, sep, rest = self._buffer.partition(b"\n")
            if sep:
                self._buffer = rest
                line = line.strip()
                if not line:
                    continue
                try:
                    message = json.loads(line.decode("utf-8"))
                except ValueError:
                    raise errors.HypervisorError("Invalid QMP message from %s: %r"
                                                 % (self.path, line[:200]))
                if not isinstance(message, dict):
                    raise errors.HypervisorError("Invalid QMP message from %s: %r"
                                                 % (self.path, message))
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.HypervisorError("Timeout waiting for QMP on %s" % self.path)
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                raise errors.HypervisorError("Timeout waiting for QMP on %s" % self.path)
            except OSError as err:
                raise errors.HypervisorError("Cannot read from the QMP socket %s: %s"
                                             % (self.path, err))
            if not chunk:
                raise errors.HypervisorError("QMP connection to %s closed by QEMU"
                                             % self.path)
            self._buffer += chunk

    def execute(self, command, arguments=None, timeout=None):
        """Run ``command``; returns its "return" value, raises QmpError on error."""
        msg_id = self._next_id
        self._next_id += 1
        message = {"execute": command, "id": msg_id}
        if arguments:
            message["arguments"] = arguments
        self._send(message)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            answer = self._read_message(deadline)
            if "event" in answer:
                self.events.append(answer)
                continue
            if answer.get("id", msg_id) != msg_id:
                continue        # an answer to an earlier, abandoned command
            if "error" in answer:
                err = answer["error"] or {}
                raise QmpError(command, err.get("class", "GenericError"),
                               err.get("desc", "unknown error"))
            if "return" in answer:
                return answer["return"]

    def wait_event(self, names, timeout=None):
        """The first event named in ``names`` (str or list); None on timeout/EOF."""
        if isinstance(names, str):
            names = [names]
        for idx, event in enumerate(self.events):
            if event.get("event") in names:
                return self.events.pop(idx)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                message = self._read_message(deadline)
            except errors.HypervisorError:
                return None
            if "event" not in message:
                continue
            if message["event"] in names:
                return message
            self.events.append(message)


def qmp_command(path, command, arguments=None, timeout=DEFAULT_TIMEOUT):
    """Connect to ``path``, run one command, disconnect; returns its result."""
    with QmpClient(path, timeout=timeout) as qmp:
        return qmp.execute(command, arguments)
