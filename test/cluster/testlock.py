"""Named locks that the test beds take turns through.

A lock is an abstract Unix socket bound under its name.  Such a socket
belongs to the network namespace, not to a file system, so every run that
uses the same loopback addresses (a chroot shares the host's network) is
excluded, whatever its root; the kernel frees it when its holder exits, so a
killed run leaves nothing behind; and a waiter can learn the holder's pid
(SO_PEERCRED).  Every wait is bounded.
"""

import socket
import struct
import time

_HELD = {}          # name -> socket, for the locks this process holds


def _address(name):
    return "\0ganeti-test-lock:" + name


def take(name: str, timeout: float) -> socket.socket:
    """Take the lock ``name``, waiting at most ``timeout`` seconds.

    Returns the socket that holds it (give it to release()).  Raises
    RuntimeError when this process holds it already (waiting would never
    end) or when the time is up, naming the holder.
    """
    if name in _HELD:
        raise RuntimeError("the test lock %r is held by this very process "
                           "(a test bed that was not cleaned up)" % name)
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(_address(name))
            sock.listen(64)
        except OSError:
            sock.close()
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    "waited %d s for the test lock %r, held by pid %s (another test "
                    "run?); set GANETI_TEST_LOCK_TIMEOUT to wait longer"
                    % (timeout, name, holder(name) or "unknown")) from None
            time.sleep(0.2)
            continue
        _HELD[name] = sock
        return sock


def release(sock: socket.socket) -> None:
    """Give back a lock that take() returned (again: no effect)."""
    for name, held in list(_HELD.items()):
        if held is sock:
            del _HELD[name]
    sock.close()


def holder(name: str) -> int:
    """The pid of the process holding ``name`` (0: free, or unknown)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect(_address(name))
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                struct.calcsize("3i"))
        return struct.unpack("3i", creds)[0]
    except OSError:
        return 0
    finally:
        sock.close()
