"""Node-side copies of the job queue on master candidates.

The master sends every job file it writes (and every removal or archiving)
to the master candidates, so that a candidate taking over as master finds the
queue as it was (internals.md §2: the queue is replicated to candidates).
"""

import os
import re
import shutil

from ganeti import errors, pathutils, rpc
from ganeti.backend.common import fail
from ganeti.utils import io

# what a replicated queue file may be called (relative to the queue dir);
# matched with fullmatch: "$" alone would also accept a trailing newline
_QUEUE_FILE_RE = re.compile(r"(job-[0-9]+|serial|version|drain|archive/[0-9]+/job-[0-9]+)")


def _queue_path(file_name, queue_dir=None):
    if not isinstance(file_name, str) or not _QUEUE_FILE_RE.fullmatch(file_name):
        fail("Not a job queue file: %r", file_name)
    return os.path.join(queue_dir or pathutils.QUEUE_DIR, file_name)


def jobqueue_update(file_name, content, *, queue_dir=None):
    """Write (content) or remove (content None) one queue file."""
    path = _queue_path(file_name, queue_dir)
    if content is None:
        io.remove_file(path)
        return True
    try:
        data = rpc.decode_file_data(content)
    except errors.ProtocolError as err:
        fail("Cannot decode the data for %s: %s", file_name, err.args[0])
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        io.write_file(path, data, mode=0o600)
    except OSError as err:
        fail("Cannot write %s: %s", path, err)
    return True


def jobqueue_purge(*, queue_dir=None):
    """Remove every queue file (the node is no longer a master candidate)."""
    queue_dir = queue_dir or pathutils.QUEUE_DIR
    if not os.path.isdir(queue_dir):
        return True
    for name in os.listdir(queue_dir):
        path = os.path.join(queue_dir, name)
        if name == "archive" and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith("job-") or name in ("serial", "version", "drain"):
            io.remove_file(path)
    return True


PROCEDURES = {
    "jobqueue_update": jobqueue_update,
    "jobqueue_purge": jobqueue_purge,
}
