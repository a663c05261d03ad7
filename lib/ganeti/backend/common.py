"""What every group of node-side procedures shares."""

import logging

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
