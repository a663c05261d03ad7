"""The import/export helper: moves one disk's data between two nodes over TLS.

ganeti-noded starts one helper process per transfer side (backend/impexp.py)
in a private status directory that holds ``request.json``; the helper reads
and deletes it, then reports in ``status.json`` (replaced atomically) until it
exits. The import side listens on an ephemeral port of its node, the export
side connects to it; both present the cluster certificate and accept only a
peer presenting it, and the exporter first sends the transfer's magic value so
that an import only takes the stream meant for it. The data goes in chunks
with their length and ends with an empty chunk: an import that does not get
that end mark fails, however the connection ended; one that gets it answers
once the data is written (synced, or its script ended well), and only then
the export succeeds.

A side's data is read from (export) or written to (import) a file, a block
device, or an OS definition's export/import script. With transport
compression the stream between the nodes is compressed by an external tool
(Ganeti's: gzip, gzip-fast, gzip-slow, lzop, or a cluster-allowed command);
progress counts the uncompressed bytes.

Run as ``python3 -m ganeti.impexpd STATUS_DIR``.
"""

import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

from ganeti import http as ghttp
from ganeti.utils import process

REQUEST_FILE = "request.json"
STATUS_FILE = "status.json"
MAGIC_PREFIX = b"M="
CHUNK = 1024 * 1024
MIB = 1024 * 1024
# seconds: the import waits this long for its exporter, the export retries
# its connection this long (Ganeti's DISK_TRANSFER_CONNECT_TIMEOUT)
CONNECT_TIMEOUT = 60
# the import's answer after the end mark, and how long an exporter waits for it
# (the import script may still be writing)
ACK = b"K"
ACK_TIMEOUT = 3600
STATUS_INTERVAL = 1.0
THROUGHPUT_WINDOW = 10.0
RECENT_LINES = 20

IO_FILE = "file"
IO_DEVICE = "raw"
IO_SCRIPT = "script"
COMPRESS_NONE = "none"


def compress_argv(tool, decompress):
    """The command compressing (or decompressing) stdin to stdout for one of
    Ganeti's transport compression names, or a cluster-allowed command."""
    if tool in ("gzip", "gzip-fast"):
        return ["gzip", "-d", "-c"] if decompress else ["gzip", "-1", "-c"]
    if tool == "gzip-slow":
        return ["gzip", "-d", "-c"] if decompress else ["gzip", "-c"]
    if tool == "lzop":
        return ["lzop", "-d", "-c"] if decompress else ["lzop", "-c"]
    return [tool, "-d"] if decompress else [tool]


class TransferError(Exception):
    """The transfer failed; the message goes to the status file."""


class Status:
    """status.json: what the master polls (see backend/impexp.status)."""

    def __init__(self, directory):
        self.path = os.path.join(directory, STATUS_FILE)
        self.data = {"pid": os.getpid(), "listen_port": None, "connected": False,
                     "progress_mbytes": None, "progress_throughput": None,
                     "progress_percent": None, "progress_eta": None,
                     "exit_status": None, "error_message": None, "recent_output": []}
        self.lock = threading.Lock()
        self.write()

    def update(self, **values):
        with self.lock:
            self.data.update(values)
            self.write()

    def write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as fd:
            json.dump(self.data, fd)
        os.replace(tmp, self.path)


class Progress:
    """Counts the uncompressed bytes and reports size, speed, percent, ETA."""

    def __init__(self, status, expected):
        self.status = status
        self.expected = expected       # () -> bytes or None (a script tells it late)
        self.count = 0
        self.samples = [(time.monotonic(), 0)]
        self.last_report = 0.0

    def add(self, nbytes):
        self.count += nbytes
        now = time.monotonic()
        if now - self.last_report >= STATUS_INTERVAL:
            self.report(now)

    def report(self, now=None):
        now = time.monotonic() if now is None else now
        self.last_report = now
        self.samples.append((now, self.count))
        while len(self.samples) > 2 and now - self.samples[0][0] > THROUGHPUT_WINDOW:
            self.samples.pop(0)
        t0, c0 = self.samples[0]
        throughput = (self.count - c0) / MIB / (now - t0) if now > t0 else 0.0
        percent = eta = None
        expected = self.expected()
        if expected:
            percent = min(100, int(100 * self.count / expected))
            if throughput > 0:
                eta = max(0, int((expected - self.count) / MIB / throughput))
        self.status.update(progress_mbytes=self.count // MIB,
                           progress_throughput=round(throughput, 1),
                           progress_percent=percent, progress_eta=eta)


class Recent:
    """The last lines a script or tool wrote to its log, for error messages."""

    def __init__(self, log_path):
        self.log_path = log_path

    def lines(self):
        if not self.log_path:
            return []
        try:
            with open(self.log_path, "rb") as fd:
                fd.seek(0, os.SEEK_END)
                fd.seek(max(0, fd.tell() - 8192))
                text = fd.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()][-RECENT_LINES:]


def _open_log(path):
    if not path:
        return subprocess.DEVNULL
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


def _copy(read, write, progress=None):
    """Copy until EOF; read(n) -> bytes, write(bytes)."""
    while True:
        data = read(CHUNK)
        if not data:
            return
        write(data)
        if progress is not None:
            progress.add(len(data))


def _write_all_fd(fd):
    def write(data):
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    return write


class FramedWriter:
    """The sending end of the stream: chunks with a 4-byte length, then an
    empty chunk. The end mark, not the connection's end, tells the receiver
    that the data is complete: a sender that dies midway leaves it without."""

    def __init__(self, conn):
        self.conn = conn

    def write(self, data):
        for start in range(0, len(data), CHUNK):
            part = data[start:start + CHUNK]
            self.conn.sendall(struct.pack(">I", len(part)) + part)

    def close(self):
        self.conn.sendall(struct.pack(">I", 0))


class FramedReader:
    """The receiving end of a FramedWriter's stream: read(n) gives b"" only
    after the end mark; a connection that ends before it is an error."""

    def __init__(self, conn):
        self.conn = conn
        self.left = 0
        self.ended = False

    def _exact(self, count):
        data = b""
        while len(data) < count:
            part = self.conn.recv(count - len(data))
            if not part:
                raise TransferError("The connection was cut before the end of the data")
            data += part
        return data

    def read(self, size):
        if self.ended:
            return b""
        if not self.left:
            (self.left,) = struct.unpack(">I", self._exact(4))
            if not self.left:
                self.ended = True
                return b""
            if self.left > CHUNK:
                raise TransferError("Invalid chunk of %d bytes in the stream" % self.left)
        part = self.conn.recv(min(size, self.left))
        if not part:
            raise TransferError("The connection was cut before the end of the data")
        self.left -= len(part)
        return part


class _Thread(threading.Thread):
    """A copy loop in a thread that remembers its error."""

    def __init__(self, func):
        super().__init__(daemon=True)
        self.func = func
        self.error = None

    def run(self):
        try:
            self.func()
        except Exception as err:  # pylint: disable=broad-except
            self.error = err


class Transfer:
    """One side of a transfer, driven by the request."""

    def __init__(self, request, status):
        self.req = request
        self.status = status
        self.children = []
        # a script's output goes to its OS log (the only one a transfer has)
        log_file = request["io"].get("log_file")
        self.log = _open_log(log_file)
        self.recent = Recent(log_file)

    # ---- the local end: a file, a device or a script --------------------------------

    def _open_source(self):
        """(fd to read the data from, () -> expected size in bytes or None)."""
        src = self.req["io"]
        if src["kind"] in (IO_FILE, IO_DEVICE):
            try:
                fd = os.open(src["path"], os.O_RDONLY | os.O_CLOEXEC)
            except OSError as err:
                raise TransferError("Cannot open %s: %s" % (src["path"], err.strerror))
            size = self.req.get("size")
            if size is None and src["kind"] == IO_FILE:
                size = os.fstat(fd).st_size
            return fd, lambda: size
        # the OS interface's size hint: the script may write its byte count,
        # ended by a newline, to the descriptor EXP_SIZE_FD names
        size_r, size_w = os.pipe()
        env = dict(src["env"], EXP_SIZE_FD=str(size_w))
        child = self._start(src["argv"], subprocess.DEVNULL, subprocess.PIPE, env=env,
                            cwd=src["cwd"], pass_fds=(size_w,))
        os.close(size_w)
        hint = {}
        _Thread(lambda: hint.update(text=os.read(size_r, 64))).start()
        fallback = self.req.get("size")

        def expected():
            try:
                return int(hint["text"].decode("ascii").strip())
            except (KeyError, ValueError, UnicodeDecodeError):
                return fallback
        return child.stdout.fileno(), expected

    def _open_sink(self):
        """The fd to write the data to."""
        dest = self.req["io"]
        if dest["kind"] == IO_FILE:
            path = dest["path"]
            os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
        elif dest["kind"] == IO_DEVICE:
            path = dest["path"]
            flags = os.O_WRONLY | os.O_CLOEXEC
        else:
            script = self._start(dest["argv"], subprocess.PIPE, self.log,
                                 env=dest["env"], cwd=dest["cwd"])
            return script.stdin.fileno()
        try:
            return os.open(path, flags, 0o600)
        except OSError as err:
            raise TransferError("Cannot open %s: %s" % (path, err.strerror))

    def _start(self, argv, stdin, stdout, env=None, cwd="/", pass_fds=()):
        try:
            child = process.start_stream(argv, stdin, stdout, self.log, env=env,
                                         cwd=cwd, pass_fds=pass_fds)
        except Exception as err:  # CommandError
            raise TransferError(str(err))
        self.children.append(child)
        return child

    def _finish_children(self):
        """Wait for every child; TransferError naming the first that failed."""
        for child in self.children:
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
            child.wait()
        for child in self.children:
            if child.returncode != 0:
                raise TransferError("%s %s" % (
                    child.args[0], "exited with exit code %d" % child.returncode
                    if child.returncode > 0 else "killed by signal %d" % -child.returncode))

    # ---- the two modes ----------------------------------------------------------------

    def run_import(self):
        ctx = ghttp.make_server_context(self.req["cert_file"])
        timeout = self.req.get("connect_timeout", CONNECT_TIMEOUT)
        listener = socket.create_server((self.req["bind"], 0))
        self.status.update(listen_port=listener.getsockname()[1])
        deadline = time.monotonic() + timeout
        conn = None
        while conn is None:
            listener.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                raw, _ = listener.accept()
            except socket.timeout:
                raise TransferError("No connection within %d seconds" % timeout)
            raw.settimeout(timeout)
            try:
                conn = ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
                self._check_magic(conn)
            except (ssl.SSLError, OSError, TransferError) as err:
                # not our exporter (wrong certificate or magic): wait for the right one
                self._note("Refused a connection: %s" % err)
                raw.close()
                conn = None
                if time.monotonic() >= deadline:
                    raise TransferError("No valid connection within %d seconds"
                                        % timeout)
        listener.close()
        conn.settimeout(None)
        self.status.update(connected=True)
        sink = self._open_sink()
        progress = Progress(self.status, lambda: None)
        stream = FramedReader(conn)
        try:
            if self.req["compress"] == COMPRESS_NONE:
                _copy(stream.read, _write_all_fd(sink), progress)
            else:
                tool = self._start(compress_argv(self.req["compress"], True),
                                   subprocess.PIPE, subprocess.PIPE)
                feeder = _Thread(lambda: self._feed(stream.read, tool))
                feeder.start()
                _copy(tool.stdout.read1, _write_all_fd(sink), progress)
                feeder.join()
                if feeder.error:
                    raise TransferError(self._describe(feeder.error))
            if self.req["io"]["kind"] in (IO_FILE, IO_DEVICE):
                os.fsync(sink)
        except (OSError, ssl.SSLError) as err:
            conn.close()
            raise TransferError(self._describe(err))
        finally:
            if self.req["io"]["kind"] != IO_SCRIPT:
                os.close(sink)
        try:
            self._finish_children()
            # the data is where it belongs: the exporter may end
            conn.sendall(ACK)
        except (OSError, ssl.SSLError):
            pass            # the exporter fails without the answer; we are done
        finally:
            conn.close()
        progress.report()

    def run_export(self):
        source, size = self._open_source()
        conn = self._connect()
        self.status.update(connected=True)
        progress = Progress(self.status, size)
        stream = FramedWriter(conn)
        try:
            if self.req["compress"] == COMPRESS_NONE:
                _copy(lambda n: os.read(source, n), stream.write, progress)
            else:
                tool = self._start(compress_argv(self.req["compress"], False),
                                   subprocess.PIPE, subprocess.PIPE)
                feeder = _Thread(lambda: self._feed(lambda n: os.read(source, n), tool,
                                                    progress))
                feeder.start()
                _copy(tool.stdout.read1, stream.write)
                feeder.join()
                if feeder.error:
                    raise TransferError(self._describe(feeder.error))
            self._finish_children()
            # only a complete stream gets the end mark; the import answers
            # once it has written everything
            stream.close()
            conn.settimeout(ACK_TIMEOUT)
            if conn.recv(len(ACK)) != ACK:
                raise TransferError("The import did not confirm the end of the data")
        except (OSError, ssl.SSLError) as err:
            raise TransferError(self._describe(err))
        finally:
            conn.close()
        progress.report()

    @staticmethod
    def _feed(read, tool, progress=None):
        try:
            _copy(read, tool.stdin.write, progress)
        finally:
            tool.stdin.close()

    def _connect(self):
        ctx = ghttp.make_client_context(self.req["cert_file"])
        address = (self.req["host"], self.req["port"])
        timeout = self.req.get("connect_timeout", CONNECT_TIMEOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                raw = socket.create_connection(address, timeout=timeout)
                conn = ctx.wrap_socket(raw)
                conn.sendall(MAGIC_PREFIX + self.req["magic"].encode("ascii") + b"\n")
                conn.settimeout(None)
                return conn
            except (OSError, ssl.SSLError) as err:
                if time.monotonic() >= deadline:
                    raise TransferError("Cannot connect to %s:%s: %s"
                                        % (address[0], address[1], err))
                time.sleep(1)

    def _check_magic(self, conn):
        want = MAGIC_PREFIX + self.req["magic"].encode("ascii") + b"\n"
        got = b""
        while len(got) < len(want):
            data = conn.recv(len(want) - len(got))
            if not data:
                break
            got += data
        if got != want:
            raise TransferError("Magic value mismatch")

    @staticmethod
    def _describe(err):
        if isinstance(err, (ssl.SSLEOFError, ConnectionResetError)):
            return "The connection was cut before the end of the data"
        return str(getattr(err, "strerror", None) or err)

    def _note(self, text):
        if isinstance(self.log, int) and self.log >= 0:
            os.write(self.log, (text + "\n").encode("utf-8", "replace"))

    def abort(self):
        for child in self.children:
            if child.poll() is None:
                child.kill()


def run(directory):
    """Do the transfer the request in ``directory`` asks for; exit status 0/1."""
    with open(os.path.join(directory, REQUEST_FILE)) as fd:
        request = json.load(fd)
    os.unlink(os.path.join(directory, REQUEST_FILE))
    status = Status(directory)
    transfer = Transfer(request, status)

    def _terminate(signum, _frame):
        transfer.abort()
        status.update(exit_status=1, error_message="Aborted (signal %d)" % signum,
                      recent_output=transfer.recent.lines())
        os._exit(1)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        if request["mode"] == "import":
            transfer.run_import()
        else:
            transfer.run_export()
    except Exception as err:  # pylint: disable=broad-except
        transfer.abort()
        message = str(err) if isinstance(err, TransferError) else \
            "Internal error: %s: %s" % (type(err).__name__, err)
        status.update(exit_status=1, error_message=message,
                      recent_output=transfer.recent.lines())
        return 1
    status.update(exit_status=0, error_message=None,
                  recent_output=transfer.recent.lines())
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("Usage: python3 -m ganeti.impexpd STATUS_DIR\n")
        sys.exit(2)
    sys.exit(run(sys.argv[1]))
