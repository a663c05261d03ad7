"""ensure-dirs: this node's Ganeti directories exist with their modes, and its
secret files are readable by root alone.

Cluster init and node join make the directories with the same list; gnt-cluster
upgrade runs the tool of the version it switched to on every node. Nothing is
created but directories, and no file's content is touched.
"""

import os
import stat
import sys

from ganeti import pathutils
from ganeti.utils import io

# (directory, mode) every node has
NODE_DIRS = [
    (pathutils.DATA_DIR, 0o755),
    (pathutils.QUEUE_DIR, 0o700),
    (pathutils.RUN_DIR, 0o775),
    (pathutils.SOCKET_DIR, 0o750),
    (pathutils.LOG_DIR, 0o750),
    (pathutils.CONF_DIR, 0o755),
]
# (directory, mode) of a node's roles, fixed where they exist
ROLE_DIRS = [
    (pathutils.ETCD_DIR, 0o700),
]
# keys and secrets: never readable by group or others
SECRET_FILES = [
    pathutils.NODED_CERT_FILE, pathutils.RAPI_CERT_FILE, pathutils.CONFD_HMAC_KEY,
    pathutils.CLUSTER_DOMAIN_SECRET_FILE, pathutils.ETCD_CERT_FILE,
    pathutils.ETCD_MEMBER_FILE, pathutils.CLUSTER_CONF_FILE,
]


def make_node_dirs():
    io.ensure_dirs(NODE_DIRS)


def ensure():
    """Make and fix everything listed above; the list of changes made."""
    changes = []
    for path, mode in NODE_DIRS + ROLE_DIRS:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if (path, mode) in ROLE_DIRS:
                continue
            os.makedirs(path, mode=mode)
            os.chmod(path, mode)
            changes.append("made %s (%04o)" % (path, mode))
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise OSError("%s is not a directory" % path)
        if stat.S_IMODE(st.st_mode) != mode:
            os.chmod(path, mode)
            changes.append("%s: mode %04o -> %04o" % (path, stat.S_IMODE(st.st_mode), mode))
    for path in SECRET_FILES:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        old = stat.S_IMODE(st.st_mode)
        if stat.S_ISREG(st.st_mode) and old & 0o077:
            os.chmod(path, old & 0o700)
            changes.append("%s: mode %04o -> %04o" % (path, old, old & 0o700))
    return changes


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write("Usage: ensure-dirs [-v]\n\nMakes this node's Ganeti directories"
                         " with their modes and makes its keys readable by root alone.\n")
        return 0
    if argv not in ([], ["-v"], ["--verbose"]):
        sys.stderr.write("Usage: ensure-dirs [-v]\n")
        return 2
    try:
        changes = ensure()
    except OSError as err:
        sys.stderr.write("ensure-dirs: %s\n" % err)
        return 1
    if argv:
        for change in changes:
            sys.stdout.write(change + "\n")
    return 0
