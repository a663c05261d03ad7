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
