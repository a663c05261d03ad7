"""Node-side: run a restricted command (gnt-node restricted-command).

Only an executable of RESTRICTED_COMMANDS_DIR (SYSCONFDIR/ganeti/restricted-
commands) runs, named by a plain file name; the directory and the file (a
symlink's target) must be owned by root:root and writable by nobody else.
As in Ganeti, one request at a time is checked and started (a lock file);
a refused command, or one that cannot start, answers only a generic error
after INVALID_DELAY seconds, so that probing for names is slow; the reason
goes to the node daemon's log.
"""

import fcntl
import logging
import os
import re
import stat
import time

from ganeti import constants, errors, pathutils
from ganeti.backend.common import fail
from ganeti.utils import process

#: the most the directory and the executables may allow (rwxr-xr-x)
MAX_MODE = (stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
#: seconds before a refused command's error is returned (Ganeti's)
INVALID_DELAY = 10
#: seconds a request waits for the lock: shorter than the delay, so that
#: requests piling up behind a refused one give up rather than queue
LOCK_TIMEOUT = INVALID_DELAY * 0.8
#: the command is ended before the master's call (RPC_TMO_SLOW) gives up, so
#: the caller learns why
RUN_TIMEOUT = constants.RPC_TMO_SLOW - constants.RPC_TMO_URGENT
#: the owner (uid, gid) of the directory and the executables
ROOT = (0, 0)
# Ganeti's plugin name characters (the same as for hook scripts)
_NAME_RE = re.compile(constants.HOOKS_NAME_RE)
_LOCK_POLL = 0.05


def check_name(cmd):
    """Why ``cmd`` is no valid command name (None when it is one)."""
    if not isinstance(cmd, str):
        return "Invalid command name"
    if not cmd.strip():
        return "Missing command name"
    if os.path.basename(cmd) != cmd:
        return "Invalid command name"
    if not _NAME_RE.match(cmd):
        return "Command name contains forbidden characters"
    return None


def _check_owner_and_mode(path, owner):
    """(why ``path`` is refused or None, its stat result or None)."""
    try:
        st = os.stat(path)
    except OSError as err:
        return "Can't stat(2) '%s': %s" % (path, err), None
    if stat.S_IMODE(st.st_mode) & ~MAX_MODE:
        return "Permissions on '%s' are too permissive" % path, None
    if (st.st_uid, st.st_gid) != tuple(owner):
        return "'%s' is not owned by %s:%s" % (path, owner[0], owner[1]), None
    return None, st


def check_directory(path, owner=ROOT):
    """Why the commands directory ``path`` is refused (None when it is fine)."""
    error, st = _check_owner_and_mode(path, owner)
    if error is None and not stat.S_ISDIR(st.st_mode):
        error = "Path '%s' is not a directory" % path
    return error


def prepare(directory, cmd, owner=ROOT):
    """(why ``cmd`` is refused or None, the executable's path): the directory,
    the name, then the file."""
    error = check_directory(directory, owner) or check_name(cmd)
    if error:
        return error, None
    executable = os.path.join(directory, cmd)
    error, _ = _check_owner_and_mode(executable, owner)
    if error:
        return error, None
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        return "access(2) thinks '%s' can't be executed" % executable, None
    return None, executable


def _lock(path, timeout):
    """An open descriptor holding the exclusive flock of ``path``, waiting at
    most ``timeout`` seconds (LockError then)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise errors.LockError("Can't acquire lock '%s' within %s seconds"
                                       % (path, timeout)) from None
            time.sleep(_LOCK_POLL)


def _start(fd, directory, cmd, owner):
    """Check and run the command, the lock held until it has started; its
    RunResult, or None when it was refused or could not start (logged)."""
    error, executable = prepare(directory, cmd, owner)
    if error:
        logging.error("%s", error)
        return None
    started = []

    def _started():
        started.append(True)
        fcntl.flock(fd, fcntl.LOCK_UN)
    result = process.run_cmd([executable], reset_env=True, timeout=RUN_TIMEOUT,
                             started_fn=_started)
    if not started:
        logging.error("Restricted command '%s' could not start: %s", executable,
                      result.stderr.strip())
        return None
    return result


def restricted_command(cmd, *, directory=None, lock_file=None, owner=ROOT,
                       sleep=time.sleep, lock_timeout=LOCK_TIMEOUT):
    """Run the restricted command ``cmd``; returns its output (stdout, then
    stderr). RpcFail with the generic "Executing command ... failed" when it
    was refused or could not start, with its exit status when it failed."""
    logging.info("Preparing to run restricted command '%s'", cmd)
    fd = None
    result = None
    try:
        try:
            fd = _lock(lock_file or pathutils.RESTRICTED_COMMANDS_LOCK_FILE, lock_timeout)
            result = _start(fd, directory or pathutils.RESTRICTED_COMMANDS_DIR, cmd, owner)
        except Exception:  # pylint: disable=broad-except
            # the details stay in this log; the caller learns only that it failed
            logging.exception("Restricted command '%s' was not run", cmd)
        if result is None:
            # still holding the lock: refused requests are served one per delay
            logging.info("Sleeping for %0.1f seconds before returning", INVALID_DELAY)
            sleep(INVALID_DELAY)
            fail("Executing command '%s' failed", cmd)
    finally:
        if fd is not None:
            os.close(fd)
    if result.failed:
        fail("Restricted command '%s' failed: %s; output: %s", cmd, result.fail_reason,
             result.output)
    return result.output


PROCEDURES = {"restricted_command": restricted_command}
