"""The one way to run an external command.

Commands are argv lists, never shell strings. Each run has a timeout, a clean
environment, and returns a RunResult holding exit code, stdout and stderr.
Unit tests fake external tools by replacing ``run_cmd`` here and nowhere else.
"""

import os
import signal
import subprocess

import ganeti
from ganeti import errors

_SAFE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "LC_ALL": "C"}


class RunResult:
    """The outcome of one command."""

    __slots__ = ("cmd", "exit_code", "signal", "stdout", "stderr", "timed_out")

    def __init__(self, cmd, exit_code, sig, stdout, stderr, timed_out=False):
        self.cmd = list(cmd)
        self.exit_code = exit_code
        self.signal = sig
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    @property
    def failed(self):
        return self.timed_out or self.signal is not None or self.exit_code != 0

    @property
    def fail_reason(self):
        if self.timed_out:
            return "timed out"
        if self.signal is not None:
            return "killed by signal %s" % self.signal
        if self.exit_code != 0:
            return "exited with exit code %s" % self.exit_code
        return ""

    @property
    def output(self):
        return self.stdout + self.stderr

    def describe(self):
        """One line for error messages: the command, why it failed, its stderr."""
        text = "'%s' %s" % (" ".join(self.cmd), self.fail_reason)
        err = (self.stderr or self.stdout).strip()
        if err:
            text += ": " + err.splitlines()[-1]
        return text


def _open_redirect(target, flags):
    """(fd, must_close) for a stdin/stdout redirection: a path or an open fd."""
    if isinstance(target, bool) or target is None:
        raise errors.ProgrammerError("Invalid redirection target %r" % (target,))
    if isinstance(target, int):
        return target, False
    return os.open(target, flags | os.O_CLOEXEC, 0o600), True


def run_cmd(cmd, env=None, reset_env=False, timeout=None, cwd="/", input_data=None,
            stdin_file=None, stdout_file=None, started_fn=None):
    """Run ``cmd`` (an argv list) and wait for it.

    env: extra variables; reset_env: start from a minimal environment instead of
    ours. A command that runs past ``timeout`` seconds is killed (its whole
    process group) and reported as timed out.

    stdin_file / stdout_file: a path or an open file descriptor the command's
    stdin is read from / stdout is written to instead of a pipe (a path for
    stdout is created mode 0600 or truncated; a descriptor stays open, it is
    the caller's). With stdout_file the result's stdout is "". By default
    stdin is /dev/null (or ``input_data``, which excludes stdin_file) and
    stdout is captured.

    started_fn: called once the command runs (not when it could not start),
    before waiting for it; e.g. to release a lock held only to start it.
    """
    if isinstance(cmd, str):
        raise errors.ProgrammerError("run_cmd takes an argv list, not %r" % cmd)
    if input_data is not None and stdin_file is not None:
        raise errors.ProgrammerError("run_cmd takes input_data or stdin_file, not both")
    cmd = [str(c) for c in cmd]
    full_env = dict(_SAFE_ENV) if reset_env else dict(os.environ)
    if env:
        full_env.update(env)
    to_close = []
    try:
        if stdin_file is not None:
            stdin, close = _open_redirect(stdin_file, os.O_RDONLY)
            if close:
                to_close.append(stdin)
        elif input_data is not None:
            stdin = subprocess.PIPE
        else:
            stdin = subprocess.DEVNULL
        if stdout_file is not None:
            stdout, close = _open_redirect(stdout_file,
                                           os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            if close:
                to_close.append(stdout)
        else:
            stdout = subprocess.PIPE
    except OSError as err:
        for fd in to_close:
            os.close(fd)
        return RunResult(cmd, 126, None, "", "cannot redirect: %s" % err)
    try:
        try:
            proc = subprocess.Popen(
                cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd,
                env=full_env, close_fds=True, start_new_session=True)
        except OSError as err:
            return RunResult(cmd, 127, None, "", "cannot execute: %s" % err)
    finally:
        # the child has its copies now
        for fd in to_close:
            os.close(fd)
    if started_fn is not None:
        started_fn()
    timed_out = False
    try:
        out, err = proc.communicate(input=input_data.encode() if isinstance(input_data, str)
                                    else input_data, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    code = proc.returncode
    sig = -code if code is not None and code < 0 else None
    return RunResult(cmd, code if sig is None else None, sig,
                     (out or b"").decode("utf-8", "replace"),
                     (err or b"").decode("utf-8", "replace"), timed_out)


def package_env():
    """The environment a child ``python3 -m ganeti.X`` needs to import this package.

    make install puts the package off the interpreter's default sys.path (in
    $(datadir)/ganeti, see configure.ac), so the child gets PYTHONPATH naming
    the directory this process imported ``ganeti`` from (lib/ in a source tree).
    """
    return {"PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(ganeti.__file__)))}


def spawn(cmd, log_file, env=None):
    """Start ``cmd`` (an argv list) as a long-running child and return its Popen.

    For a daemon's helper process that lives as long as the daemon (etcd under
    ganeti-etcd): stdin is /dev/null, stdout and stderr are appended to
    ``log_file``, the environment is the minimal one plus ``env``. The caller
    waits for it. Raises CommandError if it cannot be started.
    """
    if isinstance(cmd, str):
        raise errors.ProgrammerError("spawn takes an argv list, not %r" % cmd)
    cmd = [str(c) for c in cmd]
    full_env = dict(_SAFE_ENV)
    full_env.update(env or {})
    try:
        out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                      0o600)
    except OSError as err:
        raise errors.CommandError("Cannot open %s for %s: %s" % (log_file, cmd[0], err))
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                cwd="/", env=full_env, close_fds=True,
                                start_new_session=True)
    except OSError as err:
        raise errors.CommandError("Cannot execute %s: %s" % (cmd[0], err))
    finally:
        os.close(out)


def start_stream(cmd, stdin, stdout, stderr, env=None, reset_env=True, cwd="/",
                 pass_fds=()):
    """Start ``cmd`` (an argv list) as one stage of a data stream and return its
    Popen: stdin/stdout/stderr are file descriptors or subprocess.PIPE, the
    caller feeds and drains them and waits for it (import/export transfers).
    The child stays in the caller's process group, so killing the group ends
    the whole stream. Raises CommandError if it cannot be started.
    """
    if isinstance(cmd, str):
        raise errors.ProgrammerError("start_stream takes an argv list, not %r" % cmd)
    cmd = [str(c) for c in cmd]
    full_env = dict(_SAFE_ENV) if reset_env else dict(os.environ)
    full_env.update(env or {})
    try:
        return subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd,
                                env=full_env, close_fds=True, pass_fds=tuple(pass_fds))
    except OSError as err:
        raise errors.CommandError("Cannot execute %s: %s" % (cmd[0], err))


def check_cmd(cmd, **kwargs):
    """Run ``cmd`` and raise CommandError if it fails; returns the RunResult."""
    result = run_cmd(cmd, **kwargs)
    if result.failed:
        raise errors.CommandError(result.describe())
    return result


def is_process_alive(pid):
    """Whether a process with this PID exists (zombies count as dead)."""
    if pid <= 0:
        return False
    try:
        with open("/proc/%d/status" % pid) as fd:
            for line in fd:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        pass
    return True


def read_pid_file(path):
    """The PID in a pid file, or 0 if the file is missing or invalid."""
    try:
        with open(path) as fd:
            return int(fd.read().strip() or 0)
    except (OSError, ValueError):
        return 0
