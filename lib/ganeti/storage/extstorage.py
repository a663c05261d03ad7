"""Disks kept by an ExtStorage provider: disk type ``ext`` (node side).

A provider is a directory on the ExtStorage search path
(``constants.ES_SEARCH_PATH``, below the node's root in a virtual cluster)
holding the scripts of ganeti-extstorage-interface(7) and a
``parameters.list`` file. An ext disk's logical_id is [provider, volume
name]; each action on it runs one script of the provider with a clean
environment: VOL_NAME, the disk's name and uuid (VOL_CNAME, VOL_UUID), the
action's values (VOL_SIZE, ...) and every disk parameter as EXTP_<NAME>.
The output of each script but attach goes to a log file in
``pathutils.LOG_ES_DIR``; a failure reports the last lines of the output.

``attach`` prints the path of the volume's device on its first line
(userspace URIs may follow, one per line): a block device as in Ganeti, or
here also a regular file (a volume on a shared filesystem), which QEMU and
the fake hypervisor open as well. Attach is also how a volume is looked up:
its script maps the volume and must be idempotent.
"""

import errno
import logging
import os
import re
import stat

from ganeti import constants, errors, pathutils
from ganeti.osinterface import log_file_name
from ganeti.storage import base
from ganeti.utils import process

#: the scripts every provider must have, in the order they are checked
REQUIRED_SCRIPTS = ("create", "remove", "grow", "attach", "detach", "setinfo", "verify")
#: scripts a provider may leave out (older providers have none of them)
OPTIONAL_SCRIPTS = ("snapshot", "open", "close")
PARAMETERS_FILE = "parameters.list"
#: what a provider's name may be (Ganeti's rule for names of external scripts)
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")

LOG_TAIL_LINES = 20
LOG_DIR_MODE = 0o750
# seconds a script may run: the look-up scripts must answer within the fast
# RPCs (blockdev_find attaches); making, growing or removing a volume may
# take longer
_QUICK_TIMEOUT = constants.RPC_TMO_FAST - 60
_SLOW_TIMEOUT = 600
_SLOW_ACTIONS = frozenset(["create", "remove", "grow", "snapshot"])


class ScriptFailed(errors.BlockDeviceError):
    """A provider's script failed (the provider itself is usable)."""


def search_path(override=None):
    """The directories searched for providers, first one first."""
    if override is not None:
        return list(override)
    return [pathutils.root(path) for path in constants.ES_SEARCH_PATH]


class Provider:
    """A valid provider: its directory, scripts (None: an optional one absent)
    and [[name, description], ...] of parameters.list."""

    def __init__(self, name, path, scripts, parameters):
        self.name = name
        self.path = path
        self.scripts = scripts
        self.parameters = parameters


def _check_file(provider_dir, filename, required, executable):
    """The file's path, None when an optional file is absent; ValueError with
    the reason when the file is unusable."""
    path = os.path.join(provider_dir, filename)
    try:
        st = os.stat(path)
    except OSError as err:
        if not required:
            return None
        reason = errno.errorcode.get(err.errno, str(err)) if err.errno else str(err)
        raise ValueError("File '%s' under path '%s' is missing (%s)"
                         % (filename, provider_dir, reason))
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("File '%s' under path '%s' is not a regular file"
                         % (filename, provider_dir))
    if executable and not st.st_mode & stat.S_IXUSR:
        raise ValueError("File '%s' under path '%s' is not executable"
                         % (filename, provider_dir))
    return path


def _not_found(name):
    return "Directory for External Storage Provider %s not found in search path" % name


def load_provider(name, provider_dir):
    """(True, Provider) for a valid provider, (False, reason) otherwise."""
    if not os.path.isdir(provider_dir):
        return False, _not_found(name)
    wanted = ([(f, True, True) for f in REQUIRED_SCRIPTS]
              + [(f, False, True) for f in OPTIONAL_SCRIPTS]
              + [(PARAMETERS_FILE, True, False)])
    try:
        found = dict((f, _check_file(provider_dir, f, required, executable))
                     for f, required, executable in wanted)
    except ValueError as err:
        return False, str(err)
    try:
        with open(found.pop(PARAMETERS_FILE)) as fd:
            lines = fd.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        return False, ("Error while reading the EXT parameters file at %s: %s"
                       % (os.path.join(provider_dir, PARAMETERS_FILE), err))
    parameters = []
    for line in lines:
        parts = line.split(None, 1)
        if parts:
            parameters.append([parts[0], parts[1].strip() if len(parts) > 1 else ""])
    return True, Provider(name, provider_dir, found, parameters)


def find_provider(name, es_path=None):
    """(True, Provider) or (False, reason): the first directory of the search
    path that holds one named ``name`` decides, as for OS definitions."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        logging.error("Invalid ExtStorage provider name %r", name)
        return False, _not_found(name)
    for directory in search_path(es_path):
        provider_dir = os.path.join(directory, name)
        if os.path.isdir(provider_dir):
            return load_provider(name, provider_dir)
    return False, _not_found(name)


# ---- running the scripts -------------------------------------------------------------

def script_env(unique_id, ext_params, size=None, grow=None, metadata=None, name=None,
               uuid=None, snap_name=None, snap_size=None, exclusive=None):
    """The variables of a script acting on the volume ``unique_id``; the
    optional ones only when given (the interface's names)."""
    env = {"VOL_NAME": unique_id[1]}
    for key, value in (ext_params or {}).items():
        env["EXTP_%s" % key.upper()] = str(value)
    optional = [("VOL_SIZE", size), ("VOL_NEW_SIZE", grow), ("VOL_METADATA", metadata),
                ("VOL_CNAME", name), ("VOL_UUID", uuid), ("VOL_SNAPSHOT_NAME", snap_name),
                ("VOL_SNAPSHOT_SIZE", snap_size), ("VOL_OPEN_EXCLUSIVE", exclusive)]
    env.update((var, str(value)) for var, value in optional if value is not None)
    return env


def _write_log(logfile, text):
    try:
        os.makedirs(os.path.dirname(logfile), mode=LOG_DIR_MODE, exist_ok=True)
        with open(logfile, "a") as fd:
            fd.write(text)
    except OSError as err:
        logging.error("Cannot write the ExtStorage log file %s: %s", logfile, err)


def run_action(action, unique_id, ext_params, es_path=None, **values):
    """Run the provider's script of ``action`` for the volume ``unique_id``
    (values: see script_env). Returns the script's output (attach: the device
    lines), None when an optional script is absent; ScriptFailed when the
    script fails, BlockDeviceError when the provider is not valid here."""
    driver, vol_name = unique_id
    ok, provider = find_provider(driver, es_path)
    if not ok:
        base.throw_error("%s", provider)
    script = provider.scripts.get(action)
    if script is None:
        if action in OPTIONAL_SCRIPTS:
            logging.info("Optional action '%s' is not supported by provider '%s',"
                         " skipping", action, driver)
            return None
        base.throw_error("Action '%s' doesn't result in a valid ExtStorage script",
                         action)
    result = process.run_cmd([script], env=script_env(unique_id, ext_params, **values),
                             reset_env=True, cwd=provider.path,
                             timeout=(_SLOW_TIMEOUT if action in _SLOW_ACTIONS
                                      else _QUICK_TIMEOUT))
    # attach runs at every look-up: its output is needed, not logged
    logfile = None
    if action != "attach":
        logfile = log_file_name(action, driver, vol_name, log_dir=pathutils.LOG_ES_DIR)
        _write_log(logfile, result.output)
    if result.failed:
        logging.error("External storage's %s command '%s' returned error: %s,"
                      " logfile: %s, output: %s", action, script, result.fail_reason,
                      logfile, result.output)
        raise ScriptFailed("External storage's %s script failed (%s), last lines of"
                           " output:\n%s" % (action, result.fail_reason, "\n".join(
                               result.output.splitlines()[-LOG_TAIL_LINES:])))
    return result.stdout


def metadata_text(text):
    """``text`` as Ganeti gives it to setinfo: at most 128 characters of
    [-A-Za-z0-9_+.], not starting with '-' (others become '_')."""
    text = re.sub("^[^A-Za-z0-9_+.]", "_", text)
    return re.sub("[^-A-Za-z0-9_+.]", "_", text)[:128]


def _check_id(unique_id):
    if (not isinstance(unique_id, (list, tuple)) or len(unique_id) != 2
            or not all(isinstance(part, str) and part for part in unique_id)):
        base.throw_error("Invalid ext disk id %r: expected [provider, volume name]",
                         unique_id)


class ExtStorageDevice(base.BlockDev):
    """A volume of an ExtStorage provider; dev_path is what attach printed."""

    def __init__(self, unique_id, children, size, params, dyn_params, **kwargs):
        super().__init__(unique_id, children, size, params, dyn_params, **kwargs)
        _check_id(unique_id)
        self.driver, self.vol_name = unique_id
        self.uris = []
        self.attach_error = None
        self.attach()

    def _run(self, action, **values):
        return run_action(action, self.unique_id, self.params, name=self.name,
                          uuid=self.uuid, **values)

    @classmethod
    def create(cls, unique_id, children, size, spindles, params, excl_stor,
               dyn_params, **kwargs) -> "ExtStorageDevice":
        """The provider's create script makes a volume of ``size`` MiB; one
        that cannot be attached then is removed again."""
        _check_id(unique_id)
        if excl_stor:
            base.throw_error("Exclusive storage is not supported for ext disks")
        if children:
            base.throw_error("Ext disks cannot have children")
        run_action("create", unique_id, params, size=size, name=kwargs.get("name"),
                   uuid=kwargs.get("uuid"))
        dev = cls(unique_id, children, size, params, dyn_params, **kwargs)
        if not dev.attached:
            try:
                dev._run("remove")
            except errors.BlockDeviceError as err:
                logging.error("Cannot remove the unusable volume %s: %s",
                              dev.vol_name, err)
            base.throw_error("Volume %s was created but cannot be attached: %s",
                             dev.vol_name, dev.attach_error)
        return dev

    def attach(self) -> bool:
        """Run attach; whether it gave a usable device (or userspace URIs).
        Why not is kept in attach_error (a missing volume looks the same)."""
        self.attached = False
        self._dev_path = None
        try:
            output = self._run("attach") or ""
        except ScriptFailed as err:
            # a missing volume looks the same; an unusable provider raises
            self.attach_error = str(err)
            return False
        lines = output.split("\n")
        path = lines[0].strip()
        self.uris = [line.strip() for line in lines[1:] if line.strip()]
        self.attach_error = self._unusable(path)
        if self.attach_error:
            logging.error("Volume %s of provider %s: %s", self.vol_name, self.driver,
                          self.attach_error)
            return False
        self._dev_path = path or None
        self.attached = True
        return True

    def _unusable(self, path):
        """Why attach's answer cannot be used (None: it can)."""
        if not path:
            return (None if self.uris else
                    "Neither a block device nor a userspace URI is available")
        try:
            st = os.stat(path)
        except OSError as err:
            return "Error stat()'ing %s: %s" % (path, err)
        if not (stat.S_ISBLK(st.st_mode) or stat.S_ISREG(st.st_mode)):
            return "%s is not a block device or a regular file" % path
        return None

    def assemble(self) -> None:
        """The volume attached, with a device the hypervisors can open."""
        if not self.attached and not self.attach():
            base.throw_error("Cannot attach volume %s of provider %s: %s", self.vol_name,
                             self.driver, self.attach_error)
        if not self._dev_path:
            base.throw_error("Volume %s of provider %s offers only userspace access"
                             " (%s), which is not supported here", self.vol_name,
                             self.driver, ", ".join(self.uris))

    def shutdown(self) -> None:
        """detach: the volume is unmapped from this node and stays in the storage."""
        self._run("detach")
        self.attached = False

    def remove(self) -> None:
        """Detach, then the remove script deletes the volume and its data."""
        if self.attached:
            self.shutdown()
        self._run("remove")

    def grow(self, amount, dryrun, backingstore, excl_stor) -> None:
        """The grow script takes the volume from its recorded size to that plus
        ``amount`` MiB (a dry run checks nothing more than the attach, as Ganeti)."""
        if not backingstore:
            return
        self._require_attached("grow")
        if dryrun:
            return
        if amount <= 0:
            base.throw_error("Cannot grow volume %s by %s MiB", self.vol_name, amount)
        new_size = self.size + amount
        self._run("grow", size=self.size, grow=new_size)
        self.size = new_size

    def set_info(self, text: str) -> None:
        self._run("setinfo", metadata=metadata_text(text))

    def open(self, force: bool = False, exclusive: bool = True) -> None:
        self._run("open", exclusive=exclusive)

    def close(self) -> None:
        self._run("close")

    def get_actual_size(self) -> int:
        """The device's size in bytes (a block device or a file: its end)."""
        self._require_attached("get the size of")
        if not self._dev_path:
            base.throw_error("Volume %s has no local device to measure", self.vol_name)
        try:
            fd = os.open(self._dev_path, os.O_RDONLY)
            try:
                return os.lseek(fd, 0, os.SEEK_END)
            finally:
                os.close(fd)
        except OSError as err:
            base.throw_error("Cannot get the size of %s: %s", self._dev_path, err)
