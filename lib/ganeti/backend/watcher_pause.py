"""Node-side: the watcher pause file, which the master sets on every node
(`gnt-cluster watcher pause|continue`), so the pause holds cluster-wide and
survives a master failover."""

import math

from ganeti import pathutils
from ganeti.backend.common import fail
from ganeti.utils import io


def set_watcher_pause(until, *, pause_file=None):
    """Pause this node's watcher until ``until`` (epoch seconds), or resume (None)."""
    path = pause_file or pathutils.WATCHER_PAUSEFILE
    if until is None:
        io.remove_file(path)
        return None
    if (isinstance(until, bool) or not isinstance(until, (int, float))
            or not math.isfinite(until)):
        fail("Invalid watcher pause end %r: expected a time in seconds", until)
    io.write_file(path, "%d\n" % int(until), mkdir=True)
    return until


PROCEDURES = {"set_watcher_pause": set_watcher_pause}
