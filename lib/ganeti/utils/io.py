"""File helpers; every write of state goes through ``write_file`` (atomic)."""

import errno
import os
import tempfile


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_fsync_dir = fsync_dir      # write_file's keyword argument of that name hides it


def write_file(path, data, mode=0o644, fsync=True, mkdir=False, fsync_dir=True):
    """Replace ``path`` atomically with ``data`` (str or bytes).

    temp file in the same directory + fsync + rename + fsync of the directory,
    so readers see either the old or the new content, never a truncated file,
    even after a crash. ``fsync_dir=False`` leaves out the directory fsync (the
    file itself is still fsync'd), for callers that write several files and then
    fsync their directory once; ``fsync=False`` leaves out both.
    """
    dirname = os.path.dirname(path) or "."
    if mkdir:
        os.makedirs(dirname, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=dirname)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if fsync:
            os.fsync(fd)
        fd, closing = -1, fd
        os.close(closing)           # never closed twice, even if close fails
        os.rename(tmp, path)
        if fsync and fsync_dir:
            _fsync_dir(dirname)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        remove_file(tmp)
        raise


def read_file(path, binary=False):
    with open(path, "rb" if binary else "r") as fd:
        return fd.read()


def read_one_line_file(path, strict=False):
    """The first line of a file, stripped (strict: the file must hold only that)."""
    text = read_file(path)
    lines = text.splitlines()
    if not lines:
        return ""
    if strict and len([ln for ln in lines if ln.strip()]) > 1:
        raise ValueError("Too many lines in %s" % path)
    return lines[0].strip()


def file_stamp(path):
    """(inode, mtime, size) of ``path``, None if it does not exist: changes
    whenever the file is written or replaced (cheap reload checks)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def remove_file(path):
    """Remove a file; a missing file is fine."""
    try:
        os.unlink(path)
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise


def ensure_dirs(dirs):
    """Create directories with the given modes: ``[(path, mode), ...]``."""
    for path, mode in dirs:
        os.makedirs(path, mode=mode, exist_ok=True)
        os.chmod(path, mode)
