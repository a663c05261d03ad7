"""Locked pid files: the lock, not the file's content, says a daemon runs.

A daemon opens its pid file and takes an exclusive ``flock`` on it for its
whole life. A second copy started at the same time fails to take the lock
and stops before touching anything (sockets, ports, the job queue). flock
belongs to the open file, so the lock survives the daemon's own fork into
the background; the descriptor is close-on-exec, so programs the daemon
runs (qemu, OS scripts) never inherit it.
"""

import fcntl
import os

from ganeti import errors


def _parse_pid(data: bytes) -> int:
    try:
        return int(data.decode("ascii", "replace").strip() or 0)
    except ValueError:
        return 0


def lock_pid_file(path: str) -> int:
    """Open and lock ``path``; returns the descriptor that holds the lock.

    Raises errors.LockError naming the PID in the file when another process
    holds the lock.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _parse_pid(os.pread(fd, 100, 0))
            os.close(fd)
            msg = "PID file '%s' is already locked by another process" % path
            if pid:
                msg += ", PID read from file is %d" % pid
            raise errors.LockError(msg) from None
        except OSError:
            os.close(fd)
            raise
        # the previous owner may have unlinked the file between our open and
        # our lock; then the lock is on a dead inode and we start over
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def write_pid(fd: int, pid: int | None = None) -> None:
    """Write ``pid`` (default: ours) into the locked pid file ``fd`` in place.

    Never replaced by rename: that would leave the lock on the old file.
    """
    data = b"%d\n" % (os.getpid() if pid is None else pid)
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def release_pid_file(path: str, fd: int) -> None:
    """Remove the pid file if it is still ours, then drop the lock."""
    try:
        if _parse_pid(os.pread(fd, 100, 0)) == os.getpid() \
                and os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.unlink(path)
    except OSError:
        pass
    os.close(fd)


def is_pid_file_locked(path: str) -> bool:
    """Whether some process holds the lock on ``path`` (i.e. its daemon runs)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
