"""What every group of node-side procedures shares."""

import logging
import os

from ganeti import errors


class RpcFail(errors.GenericError):
    """A procedure failed; args: (message,)."""


def fail(msg, *args):
    """Log and raise RpcFail; the master receives the message."""
    text = msg % args if args else msg
    logging.error("%s", text)
    raise RpcFail(text)


def config_object(cls, data, what):
    """A config object (objects.Disk, objects.Instance...) from its dict; RpcFail
    naming ``what`` if the master sent something else."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        fail("Invalid %s description %r", what, data)
    try:
        return cls.from_dict(data)
    except errors.GenericError as err:
        fail("Invalid %s description: %s", what, err)


def point_link(link, target, dir_mode=0o755):
    """Make ``link`` a symlink to ``target``, atomically (an old link is replaced;
    anything else in the way is an error)."""
    try:
        os.makedirs(os.path.dirname(link), mode=dir_mode, exist_ok=True)
        if os.path.islink(link) and os.readlink(link) == target:
            return
        if os.path.lexists(link) and not os.path.islink(link):
            fail("Cannot create disk link %s: a non-link file is in the way", link)
        tmp = "%s.new-%d" % (link, os.getpid())
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError as err:
        fail("Cannot create disk link %s -> %s: %s", link, target, err)
