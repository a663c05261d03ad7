"""The rule for instance names, shared by the master and the nodes.

Instance names are host names, and the nodes use them in file names (disk
links, hypervisor state and runtime files), so the master must never store a
name the nodes would refuse. The rule is Ganeti's host name rule (letters,
digits, ``.``, ``_`` and ``-``, at most 255 characters, no empty label), a
little stricter: a name cannot start with ``-`` either, so it can never be
taken for an option of a command.
"""

import re

from ganeti import errors

_NAME_RE = re.compile(r"^[a-z0-9_][a-z0-9._-]{0,254}$", re.IGNORECASE)


def is_valid_instance_name(name) -> bool:
    """Whether ``name`` is an acceptable instance name (any letter case)."""
    return isinstance(name, str) and bool(_NAME_RE.match(name)) and ".." not in name


def normalize_instance_name(name: str) -> str:
    """``name`` in lower case, without a trailing dot; OpPrereqError (Ganeti's
    "Invalid hostname") if it breaks the rule."""
    if not isinstance(name, str):
        raise errors.OpPrereqError("Invalid hostname %r" % (name,), errors.ECODE_INVAL)
    lower = name.lower()
    short = lower[:-1] if lower.endswith(".") else lower
    if not is_valid_instance_name(short):
        raise errors.OpPrereqError("Invalid hostname '%s'" % lower, errors.ECODE_INVAL)
    return short
