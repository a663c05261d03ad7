"""The one way to run an external command.

Commands are argv lists, never shell strings. Each run has a timeout, a clean
environment, and returns a RunResult holding exit code, stdout and stderr.
Unit tests fake external tools by replacing ``run_cmd`` here and nowhere else.
"""

import os
import signal
import subprocess

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


def run_cmd(cmd, env=None, reset_env=False, timeout=None, cwd="/", input_data=None):
    """Run ``cmd`` (an argv list) and wait for it.

    env: extra variables; reset_env: start from a minimal environment instead of
    ours. A command that runs past ``timeout`` seconds is killed (its whole
    process group) and reported as timed out.
    """
    if isinstance(cmd, str):
        raise errors.ProgrammerError("run_cmd takes an argv list, not %r" % cmd)
    cmd = [str(c) for c in cmd]
    full_env = dict(_SAFE_ENV) if reset_env else dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE if input_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=full_env,
            close_fds=True, start_new_session=True)
    except OSError as err:
        return RunResult(cmd, 127, None, "", "cannot execute: %s" % err)
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
                     out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                     timed_out)


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
