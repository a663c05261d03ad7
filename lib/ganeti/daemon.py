"""Shared plumbing of the daemons: options, detaching, logging, signals, pid file.

Start-up sequence of ``run_daemon``:
  1. lock the pid file (utils.pidfile) for the daemon's whole life; if another
     process holds the lock, fail with its PID before doing anything else;
  2. unless -f: double fork + setsid, while the process is still single-threaded
     (``_detach`` refuses otherwise); the original process waits on a pipe and
     exits 0 only once the daemon called ``ready()``, or 1 with the daemon's
     error ("<daemon>: <msg>") if it fails or dies first;
  3. ``prepare_fn(options)`` in the daemon process (errors: "<daemon>: <msg>",
     exit 1, also through the pipe); its standard output and error are still
     those of the starting process; after it the daemon's go to the log file;
  4. ``exec_fn(options, ready, stop_event)`` runs the daemon: it must call
     ``ready()`` once it serves, then return soon after ``stop_event`` (a
     threading.Event) is set, which SIGTERM/SIGINT do; any thread may set it
     too. A non-None result of prepare_fn is available as ``options.prepared``.

Why prepare runs after the fork: prepare steps start threads and TLS (the
master's start-up vote asks the nodes over threaded RPC). Forking a process
that has other threads copies only the forking one; a lock another thread held
at that moment (OpenSSL's, a connection pool's, logging's) stays locked
forever in the child, which then hangs on its first use.
"""

import logging
import logging.handlers
import optparse
import os
import select
import signal
import sys
import threading
import traceback
from typing import NoReturn

from ganeti import constants, errors, pathutils
from ganeti.utils import pidfile

READY_TIMEOUT = 300.0          # the starting process gives up waiting after this
_READY_BYTE = b"\x00"
_LOG_FORMAT = "%(asctime)s: %(name)s pid=%(process)d %(levelname)s %(message)s"

# bumped by SIGHUP; file handlers reopen their file when they see a new value
_log_generation = [0]


def _refuse_no_ssl(option, opt_str, value, parser):
    # Ganeti's node daemon could serve plain HTTP; ours always speaks TLS
    parser.error("%s is not supported: the node daemon always uses TLS with the"
                 " cluster certificate" % opt_str)


def build_option_parser(daemon_name: str, usage: str | None = None,
                        default_port: int | None = None,
                        plain_http: bool = False) -> optparse.OptionParser:
    """The common daemon options: -f, -d, --syslog; -b and -p only for a
    network daemon (one with a ``default_port``), as in Ganeti. --no-ssl is
    refused unless the daemon can serve plain HTTP (``plain_http``)."""
    parser = optparse.OptionParser(
        usage=usage or "%prog [-f] [-d] [-b ADDRESS] [-p PORT]",
        version="%%prog (%s) %s" % (constants.VCS_VERSION, constants.RELEASE_VERSION),
        prog=daemon_name)
    parser.add_option("-f", "--foreground", dest="foreground", action="store_true",
                      default=False, help="Don't detach from the current terminal")
    parser.add_option("-d", "--debug", dest="debug", action="store_true",
                      default=False, help="Enable debug messages")
    if default_port is not None:
        parser.add_option("-b", "--bind", dest="bind_address", default=None,
                          metavar="ADDRESS", help="Bind address")
        parser.add_option("-p", "--port", dest="port", type="int", default=default_port,
                          metavar="PORT", help="Network port (default: %s)" % default_port)
        if plain_http:
            parser.add_option("--no-ssl", dest="ssl", action="store_false", default=True,
                              help="Serve plain HTTP instead of HTTPS")
        else:
            parser.add_option("--no-ssl", action="callback", callback=_refuse_no_ssl,
                              help=optparse.SUPPRESS_HELP)
    parser.add_option("--syslog", dest="syslog", default="no",
                      choices=["yes", "no", "only"],
                      help="Log to syslog too (yes), not (no), or only (only)")
    return parser


def bind_address(options):
    """-b if given, else this virtual node's IP, else all addresses."""
    if options.bind_address:
        return options.bind_address
    if pathutils.VIRT_HOSTNAME:
        from ganeti.utils import net
        return net.resolve(pathutils.VIRT_HOSTNAME)
    return "0.0.0.0"


def cannot_listen(address, port, err):
    """The error of a daemon that could not bind ``address``:``port``."""
    return errors.GenericError("Cannot listen on %s:%s: %s"
                               % (address, port, err.strerror or err))


def error_text(err):
    """A readable message for an exception (our errors carry it in args)."""
    if isinstance(err, errors.ResolverError) and len(err.args) == 3:
        return str(err.args[2])
    if isinstance(err, errors.X509CertError) and len(err.args) == 2:
        return "%s: %s" % (err.args[0], err.args[1])
    if isinstance(err, errors.GenericError) and err.args:
        return str(err.args[0])
    if isinstance(err, OSError) and err.strerror:
        return "%s%s" % (err.strerror, (": %s" % err.filename) if err.filename else "")
    return str(err) or err.__class__.__name__


class _ReopenableFileHandler(logging.FileHandler):
    """A file handler that reopens its file after SIGHUP (log rotation)."""

    def __init__(self, filename, redirect_std=False):
        self._gen = _log_generation[0]
        self._redirect_std = redirect_std
        logging.FileHandler.__init__(self, filename, encoding="utf-8")
        if redirect_std:
            self._dup_std()

    def _dup_std(self):
        self.stream.flush()
        os.dup2(self.stream.fileno(), 1)
        os.dup2(self.stream.fileno(), 2)

    def emit(self, record):
        if self._gen != _log_generation[0]:
            self._gen = _log_generation[0]
            if self.stream is not None:
                self.stream.close()
            self.stream = self._open()
            if self._redirect_std:
                self._dup_std()
        logging.FileHandler.emit(self, record)


def setup_logging(daemon_name, debug=False, foreground=False, syslog="no",
                  log_file=None):
    """Log to the daemon's log file (and stderr with -f, syslog with --syslog)."""
    root = logging.getLogger("")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    fmt = logging.Formatter(_LOG_FORMAT.replace("%(name)s", daemon_name))
    if syslog != "only":
        log_file = log_file or pathutils.daemon_log_file(daemon_name)
        os.makedirs(os.path.dirname(log_file), exist_ok=True)
        handler = _ReopenableFileHandler(log_file, redirect_std=not foreground)
        handler.setFormatter(fmt)
        root.addHandler(handler)
    if syslog in ("yes", "only") and os.path.exists("/dev/log"):
        try:
            handler = logging.handlers.SysLogHandler(address="/dev/log")
            handler.setFormatter(logging.Formatter(daemon_name + "[%(process)d]: "
                                                   "%(levelname)s %(message)s"))
            root.addHandler(handler)
        except OSError:
            pass
    if foreground:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(fmt)
        root.addHandler(handler)


class _Control:
    """Readiness pipe to the starting process and the stop machinery.

    Signal handlers only write a byte to a pipe; a watcher thread turns that
    into ``stop_event.set()``, so no lock is ever taken in a signal handler.
    """

    def __init__(self, ready_fd=None):
        self._ready_fd = ready_fd
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self.stop_event = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="stop-watcher",
                                         daemon=True)
        self._watcher.start()

    def _watch(self):
        while True:
            try:
                data = os.read(self._wake_r, 64)
            except InterruptedError:
                continue
            if not data:
                return
            self.stop_event.set()

    def ready(self):
        """Tell the starting process that the daemon is up (call once listening)."""
        if self._ready_fd is not None:
            try:
                os.write(self._ready_fd, _READY_BYTE)
            except OSError:
                pass
            os.close(self._ready_fd)
            self._ready_fd = None
        logging.info("Daemon ready")

    def report_failure(self, message):
        """Send a start-up error to the waiting parent (no-op once ready)."""
        if self._ready_fd is not None:
            _send_failure(self._ready_fd, message)
            self._ready_fd = None

    def request_stop(self):
        """Ask the daemon to stop; safe in signal handlers."""
        try:
            os.write(self._wake_w, b"s")
        except OSError:
            pass


def _wait_for_child(daemon_name, read_fd, log_file):
    """In the original process: exit 0 when the daemon is ready, else 1."""
    data = b""
    remaining = READY_TIMEOUT
    while True:
        try:
            readable, _, _ = select.select([read_fd], [], [], remaining)
        except InterruptedError:
            continue
        if not readable:
            sys.stderr.write("%s: the daemon did not become ready within %ds\n"
                             % (daemon_name, READY_TIMEOUT))
            os._exit(constants.EXIT_FAILURE)
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        data += chunk
        if data == _READY_BYTE:
            os._exit(constants.EXIT_SUCCESS)
    if data.startswith(_READY_BYTE):
        os._exit(constants.EXIT_SUCCESS)
    msg = data.decode("utf-8", "replace").strip()
    if not msg:
        msg = "the daemon exited during start-up (see %s)" % log_file
    sys.stderr.write("%s: %s\n" % (daemon_name, msg))
    os._exit(constants.EXIT_FAILURE)


def _send_failure(ready_fd: int, message: str) -> None:
    """Hand a start-up error to the waiting starting process and close the pipe."""
    try:
        os.write(ready_fd, message.encode("utf-8", "replace") or b"?")
    except OSError:
        pass
    os.close(ready_fd)


def live_thread_count() -> int:
    """Threads of this process, native ones included where /proc tells."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def check_single_threaded(what: str) -> None:
    """Raise ProgrammerError if another thread is alive (before a fork)."""
    count = live_thread_count()
    if count <= 1:
        return
    names = sorted(t.name for t in threading.enumerate()
                   if t is not threading.current_thread())
    raise errors.ProgrammerError(
        "Refusing to %s with %d threads alive (other threads: %s): a lock one of"
        " them holds (OpenSSL, a connection pool, logging) would stay locked"
        " forever in the child; start threads and TLS only after detaching"
        % (what, count, ", ".join(names) or "not started by Python"))


def _detach(daemon_name, log_file):
    """Double fork; returns the write end of the readiness pipe in the daemon.

    Standard output and error stay those of the starting process (prepare's
    messages reach it); ``_finish_detach`` moves them to the log file.
    """
    check_single_threaded("fork the daemon")
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() != 0:
        os.close(write_fd)
        _wait_for_child(daemon_name, read_fd, log_file)
    os.close(read_fd)
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    if null > 0:
        os.close(null)
    return write_fd


def _finish_detach(log_file):
    """After prepare: the daemon's umask, and its output into the log file."""
    os.umask(0o077)
    sys.stdout.flush()
    sys.stderr.flush()
    os.makedirs(os.path.dirname(log_file), exist_ok=True)
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)


def _install_signals(ctl):
    def _stop(signum, _frame):
        ctl.request_stop()

    def _hup(_signum, _frame):
        _log_generation[0] += 1

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _hup)


def _lock_pid_file(daemon_name, pid_file):
    """The locked pid file's descriptor; exits 1 if another process holds it."""
    try:
        return pidfile.lock_pid_file(pid_file)
    except errors.LockError as err:
        sys.stderr.write("%s: Error while locking PID file:\n%s\n"
                         % (daemon_name, error_text(err)))
    except OSError as err:
        sys.stderr.write("%s: Cannot open the PID file: %s\n"
                         % (daemon_name, error_text(err)))
    sys.exit(constants.EXIT_FAILURE)


def _fail_start(daemon_name, message, pid_file, pid_fd, ready_fd) -> NoReturn:
    """Start-up failed before exec_fn: free the pid file, then tell the starter."""
    # released first, so that a start right after the failure finds it free
    pidfile.release_pid_file(pid_file, pid_fd)
    if ready_fd is None:
        sys.stderr.write("%s: %s\n" % (daemon_name, message))
        sys.exit(constants.EXIT_FAILURE)
    sys.stderr.flush()
    _send_failure(ready_fd, message)
    os._exit(constants.EXIT_FAILURE)


def _detach_and_prepare(daemon_name, options, prepare_fn, pid_file, pid_fd, log_file):
    """Steps 2 and 3 of the module docstring; (readiness fd or None, prepared).

    On failure it frees the pid file and exits, as the module docstring says."""
    ready_fd = None
    try:
        pidfile.write_pid(pid_fd)
        if not options.foreground:
            ready_fd = _detach(daemon_name, log_file)
            pidfile.write_pid(pid_fd)       # the daemon's own PID now
        prepared = prepare_fn(options) if prepare_fn else None
        if ready_fd is not None:
            _finish_detach(log_file)
    except (errors.GenericError, OSError, ValueError) as err:
        _fail_start(daemon_name, error_text(err), pid_file, pid_fd, ready_fd)
    except BaseException as err:  # pylint: disable=broad-except
        # a bug in prepare: its traceback for the starter, then the usual failure
        traceback.print_exc()
        _fail_start(daemon_name, error_text(err), pid_file, pid_fd, ready_fd)
    return ready_fd, prepared


def run_daemon(daemon_name, options, prepare_fn, exec_fn):
    """Run a daemon (see the module docstring); never returns (exits)."""
    pid_file = pathutils.daemon_pid_file(daemon_name)
    log_file = pathutils.daemon_log_file(daemon_name)
    # taken before anything else, so a second copy never unlinks or binds the
    # first one's socket; inherited by the detached daemon (flock)
    pid_fd = _lock_pid_file(daemon_name, pid_file)
    ready_fd, prepared = _detach_and_prepare(daemon_name, options, prepare_fn,
                                             pid_file, pid_fd, log_file)
    ctl = _Control(ready_fd)
    code = constants.EXIT_FAILURE
    try:
        setup_logging(daemon_name, debug=options.debug, foreground=options.foreground,
                      syslog=getattr(options, "syslog", "no"), log_file=log_file)
        _install_signals(ctl)
        logging.info("%s daemon starting (version %s)", daemon_name,
                     constants.RELEASE_VERSION)
        if prepared is not None:
            options.prepared = prepared
        exec_fn(options, ctl.ready, ctl.stop_event)
        code = constants.EXIT_SUCCESS
        logging.info("%s daemon stopped", daemon_name)
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else constants.EXIT_FAILURE
        ctl.report_failure("exited with code %s" % code)
    except BaseException as err:  # pylint: disable=broad-except
        msg = error_text(err)
        logging.error("%s: fatal error: %s\n%s", daemon_name, msg, traceback.format_exc())
        ctl.report_failure(msg)
        if options.foreground:
            sys.stderr.write("%s: %s\n" % (daemon_name, msg))
    finally:
        pidfile.release_pid_file(pid_file, pid_fd)
        logging.shutdown()
    if options.foreground:
        sys.exit(code)
    os._exit(code)
