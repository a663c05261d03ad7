"""Confirmation questions on the controlling terminal (Ganeti's AskUser).

Split off ``ganeti.cli``, which re-exports ``ask_user`` and
``confirm_operation``. The question goes to ``/dev/tty``, not stdout, so it is
seen even when the output is piped; without a terminal the last choice (the
safe one, "no") is the answer and nothing is asked.
"""

from __future__ import annotations

import os
import textwrap

from ganeti import errors

# Ganeti wraps each line of a question at 70 columns
WRAP_WIDTH = 70
# a line longer than this is not an answer; the rest is read and dropped
_MAX_LINE = 4096

DEFAULT_CHOICES = [("y", True, "Perform the operation"),
                   ("n", False, "Do not perform the operation")]


class _Terminal:
    """The controlling terminal, unbuffered in both directions.

    Opened by file descriptor: Python's text mode "r+" wants a seekable file
    and refuses a tty, which made every question silently answer "no".
    """

    def __init__(self, fd: int):
        self._fd = fd

    def write(self, data: str) -> None:
        buf = data.encode("utf-8", "replace")
        while buf:
            buf = buf[os.write(self._fd, buf):]

    def flush(self) -> None:
        pass

    def readline(self) -> str:
        """One line (with its newline), or "" at end of input (Ctrl-D)."""
        chunks = []
        size = 0
        while True:
            byte = os.read(self._fd, 1)
            if not byte:
                break
            if size < _MAX_LINE:
                chunks.append(byte)
                size += 1
            if byte == b"\n":
                break
        return b"".join(chunks).decode("utf-8", "replace")

    def close(self) -> None:
        os.close(self._fd)


def _open_terminal():
    try:
        return _Terminal(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return None


def _check_choices(choices) -> list:
    if choices is None:
        return DEFAULT_CHOICES
    if not choices or not isinstance(choices, list):
        raise errors.ProgrammerError("Invalid choices argument to ask_user: %r"
                                     % (choices,))
    for entry in choices:
        if not isinstance(entry, tuple) or len(entry) < 3 or entry[0] == "?":
            raise errors.ProgrammerError("Invalid choices element to ask_user: %r"
                                         % (entry,))
    return choices


def wrap_question(question: str) -> str:
    """Each line wrapped at 70 columns, as Ganeti prints its questions."""
    return "\n".join(textwrap.fill(line, WRAP_WIDTH, replace_whitespace=False)
                     for line in question.splitlines())


def ask_user(question: str, choices: list | None = None, tty=None):
    """Ask ``question`` on the terminal; return the value of the chosen answer.

    ``choices`` is [(key, value, help), ...]; the default is y (True) /
    n (False). The last entry is the default: it is the answer when there is
    no terminal or the input ends (Ctrl-D). An empty or unknown answer asks
    again; "?" lists the choices. ``tty`` (for tests) replaces /dev/tty.
    """
    choices = _check_choices(choices)
    answer = choices[-1][1]
    own = tty is None
    if own:
        tty = _open_terminal()
        if tty is None:
            return answer
    keys = [entry[0] for entry in choices]
    keys[-1] = "[%s]" % keys[-1]
    prompt = "%s\n%s: " % (wrap_question(question), "/".join(keys + ["?"]))
    values = dict((entry[0], entry[1]) for entry in choices)
    try:
        while True:
            tty.write(prompt)
            tty.flush()
            line = tty.readline()
            if not line:
                # end of input: end the prompt line, keep the safe default
                tty.write("\n")
                break
            line = line.strip().lower()
            if line in values:
                answer = values[line]
                break
            if line == "?":
                for key, _, help_text in choices:
                    tty.write(" %s - %s\n" % (key, help_text))
                tty.write("\n")
    finally:
        if own:
            tty.close()
    return answer


def confirm_operation(names: list, list_type: str, text: str, extra: str = "",
                      tty=None) -> bool:
    """Ask to confirm ``text`` (e.g. "shutdown") on several objects, as Ganeti does.

    The affected names are listed in the question; with more than 20 of them
    a "v" answer shows the list first.
    """
    count = len(names)
    msg = ("The %s will operate on %d %s.\n%sDo you want to continue?"
           % (text, count, list_type, extra))
    affected = "\nAffected %s:\n%s" % (list_type, "\n".join("  %s" % n for n in names))
    choices = [("y", True, "Yes, execute the %s" % text),
               ("n", False, "No, abort the %s" % text)]
    if count <= 20:
        return ask_user(msg + affected, choices, tty=tty)
    choices.insert(1, ("v", "v", "View the list of affected %s" % list_type))
    choice = ask_user(msg, choices, tty=tty)
    if choice == "v":
        choices.pop(1)
        choice = ask_user(msg + affected, choices, tty=tty)
    return choice
