"""Disks that are plain (sparse) files: disk types ``file`` and ``sharedfile``.

logical_id = [driver, path]; the driver (loop, blktap, blktap2) only matters
to the hypervisor. Every path is checked against the allowed file storage
directories (pathutils.FILE_STORAGE_PATHS_FILE, one per line, written by
``gnt-cluster init``); nothing outside them is ever touched. Paths in the
configuration are cluster-relative: on a virtual cluster node the real file
is below GANETI_ROOTDIR (``real_path``).
"""

import errno
import logging
import os
import stat
from typing import List, Optional

from ganeti import pathutils
from ganeti.storage import base

FILE_DRIVERS = frozenset(["loop", "blktap", "blktap2"])
FILE_MODE = 0o600
DIR_MODE = 0o750

# An allowed directory may never be one of these (nor "/").
_NOT_STORAGE_DIRS = frozenset([
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
    "/var/lib", "/var/log", "/var/run", "/var/tmp", "/usr/local",
])
# ... nor anything below these.
_NOT_STORAGE_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64",
                      "/proc", "/sbin", "/sys", "/usr/bin", "/usr/lib", "/usr/sbin",
                      "/usr/share", "/var/lib/ganeti", "/var/run/ganeti",
                      "/var/log/ganeti", "/run/ganeti")


def _is_below(parent: str, path: str) -> bool:
    """Whether ``path`` is strictly below ``parent`` (both normalised)."""
    if parent == "/":
        return path != "/"
    return path.startswith(parent + "/")


def _root_dir(root_dir: Optional[str]) -> str:
    return pathutils.VIRT_ROOTDIR if root_dir is None else root_dir


def real_path(path: str, root_dir: Optional[str] = None) -> str:
    """The real path on this node of a cluster-relative path (normalised).

    Under a virtual cluster root the root is prefixed, unless the path is
    already below it.
    """
    path = os.path.normpath(path)
    rootdir = _root_dir(root_dir)
    if rootdir and not (path == rootdir or path.startswith(rootdir + "/")):
        return rootdir + path
    return path


def _is_forbidden(path: str) -> bool:
    return (path == "/" or path in _NOT_STORAGE_DIRS
            or any(path == tree or _is_below(tree, path) for tree in _NOT_STORAGE_TREES))


def read_allowed_dirs(paths_file: Optional[str] = None,
                      root_dir: Optional[str] = None) -> List[str]:
    """The allowed file storage directories: real, symlink-free paths.

    Lines that are empty or start with '#' are skipped; relative paths and
    system directories are ignored (logged). A missing file allows nothing.
    """
    paths_file = paths_file or pathutils.FILE_STORAGE_PATHS_FILE
    try:
        with open(paths_file) as fd:
            lines = fd.read().splitlines()
    except FileNotFoundError:
        return []
    except OSError as err:
        base.throw_error("Cannot read the allowed file storage paths from %s: %s",
                         paths_file, err)
    result = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if not os.path.isabs(entry):
            logging.warning("Ignoring relative file storage path '%s' in %s",
                            entry, paths_file)
            continue
        entry = os.path.normpath(entry)
        resolved = os.path.realpath(real_path(entry, root_dir))
        if _is_forbidden(entry) or _is_forbidden(resolved):
            logging.warning("Ignoring file storage path '%s' in %s: it is a system"
                            " directory", entry, paths_file)
            continue
        if resolved not in result:
            result.append(resolved)
    return result


def check_path(path, exact_ok: bool = False, paths_file: Optional[str] = None,
               root_dir: Optional[str] = None) -> str:
    """The real path of ``path`` if it is inside an allowed directory.

    The path must be absolute and free of '..'; with all symlinks resolved
    it must lie below one of the allowed directories (or be one of them, if
    ``exact_ok``). Raises BlockDeviceError otherwise.
    """
    if not isinstance(path, str) or not path or "\0" in path:
        base.throw_error("Invalid file storage path %r", path)
    if not os.path.isabs(path):
        base.throw_error("File storage path '%s' is not absolute", path)
    if ".." in path.split("/"):
        base.throw_error("File storage path '%s' must not contain '..'", path)
    local = real_path(path, root_dir)
    allowed = read_allowed_dirs(paths_file, root_dir)
    if not allowed:
        base.throw_error("Path '%s' is not acceptable for file storage: no file storage"
                         " directories are allowed on this node (%s lists none)", path,
                         paths_file or pathutils.FILE_STORAGE_PATHS_FILE)
    resolved = os.path.realpath(local)
    for adir in allowed:
        if _is_below(adir, resolved) or (exact_ok and resolved == adir):
            return local
        if resolved == adir:
            base.throw_error("Path '%s' is an allowed file storage directory itself,"
                             " not a path inside one", path)
    base.throw_error("Path '%s' is not acceptable for file storage: it is not inside"
                     " the allowed directories (%s)", path, ", ".join(allowed))


def _allowed_parent(path: str) -> Optional[str]:
    """The allowed directory a (checked) real path lies below, if any."""
    resolved = os.path.realpath(path)
    for adir in read_allowed_dirs():
        if _is_below(adir, resolved):
            return adir
    return None


def make_dirs(path: str) -> None:
    """Create a checked real directory path and missing parents (mode 0750)."""
    try:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    except OSError as err:
        base.throw_error("Cannot create directory '%s': %s", path, err)
    if not os.path.isdir(path):
        base.throw_error("'%s' exists and is not a directory", path)


class FileStorage(base.BlockDev):
    """A disk stored in a (sparse) file; dev_path is the file's real path."""

    def __init__(self, unique_id, children, size, params, dyn_params, **kwargs):
        super().__init__(unique_id, children, size, params, dyn_params, **kwargs)
        if not isinstance(unique_id, (list, tuple)) or len(unique_id) != 2:
            base.throw_error("Invalid file disk id %r: expected [driver, path]",
                             unique_id)
        self.driver, self.file_path = unique_id
        if self.driver not in FILE_DRIVERS:
            base.throw_error("Invalid file driver '%s' (one of %s)", self.driver,
                             ", ".join(sorted(FILE_DRIVERS)))
        self._dev_path = check_path(self.file_path)
        self.attach()

    @classmethod
    def create(cls, unique_id, children, size, spindles, params, excl_stor,
               dyn_params, **kwargs) -> "FileStorage":
        """Create a sparse file of ``size`` MiB; an existing file is refused."""
        if excl_stor:
            base.throw_error("Exclusive storage is not supported for file disks")
        if children:
            base.throw_error("File disks cannot have children")
        try:
            size = int(size)
        except (TypeError, ValueError):
            base.throw_error("Invalid size %r for a file disk", size)
        if size <= 0:
            base.throw_error("Invalid size %d MiB for a file disk", size)
        dev = cls(unique_id, children, size, params, dyn_params, **kwargs)
        path = dev.dev_path
        if os.path.lexists(path):
            base.throw_error("File '%s' already exists", path)
        make_dirs(os.path.dirname(path))
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         FILE_MODE)
        except OSError as err:
            if err.errno == errno.EEXIST:
                base.throw_error("File '%s' already exists", path)
            base.throw_error("Cannot create file '%s': %s", path, err)
        try:
            try:
                os.ftruncate(fd, size * base.MIB)
            finally:
                os.close(fd)
        except OSError as err:
            _unlink(path)
            base.throw_error("Cannot allocate %d MiB for file '%s': %s", size, path, err)
        dev.attach()
        return dev

    def attach(self) -> bool:
        """The file exists (as a regular file, symlinks followed)."""
        self.attached = os.path.isfile(self._dev_path)
        return self.attached

    def assemble(self) -> None:
        """Nothing to activate; the file must exist."""
        if not self.attach():
            base.throw_error("File disk '%s' does not exist", self._dev_path)

    def shutdown(self) -> None:
        """Nothing to deactivate for a file."""

    def remove(self) -> None:
        """Delete the file (missing is fine) and its directory if now empty."""
        path = self._dev_path
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                base.throw_error("'%s' is a directory, not a file disk", path)
            _unlink(path)
        except OSError as err:
            base.throw_error("Cannot remove file '%s': %s", path, err)
        self.attached = False
        parent = os.path.dirname(path)
        adir = _allowed_parent(parent)
        if adir is not None and os.path.realpath(parent) != adir:
            try:
                os.rmdir(parent)
            except OSError as err:
                if err.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                    logging.warning("Cannot remove directory '%s': %s", parent, err)

    def rename(self, new_id) -> None:
        """Move the file to the path of ``new_id`` (same checks as create)."""
        self._require_attached("rename")
        if not isinstance(new_id, (list, tuple)) or len(new_id) != 2:
            base.throw_error("Invalid file disk id %r: expected [driver, path]", new_id)
        new_path = check_path(new_id[1])
        if os.path.lexists(new_path):
            base.throw_error("Cannot rename '%s' to '%s': the target exists",
                             self._dev_path, new_path)
        make_dirs(os.path.dirname(new_path))
        try:
            os.rename(self._dev_path, new_path)
        except OSError as err:
            base.throw_error("Cannot rename '%s' to '%s': %s", self._dev_path,
                             new_path, err)
        self.unique_id = list(new_id)
        self.driver, self.file_path = new_id
        self._dev_path = new_path

    def grow(self, amount, dryrun, backingstore, excl_stor) -> None:
        """Extend the sparse file by ``amount`` MiB."""
        if not backingstore:
            return
        self._require_attached("grow")
        try:
            amount = int(amount)
        except (TypeError, ValueError):
            base.throw_error("Invalid grow amount %r", amount)
        if amount < 0:
            base.throw_error("Cannot shrink file disk '%s' (amount %d MiB)",
                             self._dev_path, amount)
        new_size = self.get_actual_size() + amount * base.MIB
        if dryrun or amount == 0:
            return
        try:
            fd = os.open(self._dev_path, os.O_RDWR | os.O_NOFOLLOW)
            try:
                os.ftruncate(fd, new_size)
            finally:
                os.close(fd)
        except OSError as err:
            base.throw_error("Cannot grow file '%s' by %d MiB: %s", self._dev_path,
                             amount, err)
        self.size = new_size // base.MIB

    def get_actual_size(self) -> int:
        """The file's size in bytes (its apparent size; it may be sparse)."""
        try:
            st = os.stat(self._dev_path)
        except OSError as err:
            base.throw_error("Cannot get the size of '%s': %s", self._dev_path, err)
        if not stat.S_ISREG(st.st_mode):
            base.throw_error("'%s' is not a regular file", self._dev_path)
        return st.st_size


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
