"""Run a command on a real pseudo-terminal and talk to it, as a user would.

Used by the prompt tests of both tiers: the child gets a new session whose
controlling terminal is the pty, so it can open /dev/tty.
"""

import fcntl
import os
import select
import subprocess
import termios
import time


def _take_terminal():
    # runs in the child after setsid(): make stdin (the pty) the controlling tty
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtySession:
    """A process whose stdin, stdout, stderr and controlling terminal is a pty."""

    def __init__(self, argv, env=None, cwd=None):
        self._master, slave = os.openpty()
        try:
            self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                         env=env, cwd=cwd, start_new_session=True,
                                         preexec_fn=_take_terminal, close_fds=True)
        finally:
            os.close(slave)
        self.output = b""

    def _read_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([self._master], [], [], left)
        if not ready:
            return False
        try:
            data = os.read(self._master, 4096)
        except OSError:  # EIO: every slave side is closed
            data = b""
        if not data:
            return None
        self.output += data
        return True

    def expect(self, text, timeout=30.0):
        """Read until ``text`` (str) was printed; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        needle = text.encode()
        while needle not in self.output:
            got = self._read_some(deadline)
            if not got:
                raise AssertionError("%r not printed; output so far: %r"
                                     % (text, self.output.decode("utf-8", "replace")))

    def send(self, text):
        os.write(self._master, text.encode())

    def finish(self, timeout=120.0):
        """Read everything until the process ends; its exit code."""
        deadline = time.monotonic() + timeout
        while self._read_some(deadline):
            pass
        try:
            return self.proc.wait(max(0.1, deadline - time.monotonic()))
        finally:
            self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._master >= 0:
            os.close(self._master)
            self._master = -1

    @property
    def text(self):
        return self.output.decode("utf-8", "replace")
