"""Guest OS definitions on this node: discovery, validation, script runs.

An OS definition is a directory in the OS search path (doc: the OS interface,
API versions 10, 15 and 20). This module finds and checks definitions, builds
the environment of an OS script for an instance and runs the scripts, their
output going to a log file under ``pathutils.LOG_OS_DIR``.

The search path is *not* under the virtual cluster root: every node of a
virtual cluster shares the machine's OS definitions, as nodes share packages.
"""

import errno
import logging
import os
import stat
import time

from ganeti import constants, errors, objects, pathutils
from ganeti.utils import process

# API versions this implementation speaks, oldest first
OS_API_V10 = 10
OS_API_V15 = 15
OS_API_V20 = 20
OS_API_VERSIONS = frozenset([OS_API_V10, OS_API_V15, OS_API_V20])

API_FILE = "ganeti_api_version"
VARIANTS_FILE = "variants.list"
PARAMETERS_FILE = "parameters.list"
SCRIPT_CREATE = "create"
SCRIPT_IMPORT = "import"
SCRIPT_EXPORT = "export"
SCRIPT_RENAME = "rename"
SCRIPT_VERIFY = "verify"
# scripts every definition needs; verify only from API 20 on
BASE_SCRIPTS = (SCRIPT_CREATE, SCRIPT_EXPORT, SCRIPT_IMPORT, SCRIPT_RENAME)

VARIANT_SEP = "+"
VALIDATE_PARAMETERS = "parameters"
VALIDATE_CHECKS = frozenset([VALIDATE_PARAMETERS])

SCRIPT_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
# the master's RPC for create/rename waits RPC_TMO_SLOW: stop the script a bit
# earlier so that the error (and the log name) still reaches it
SCRIPT_TIMEOUT = constants.RPC_TMO_SLOW - 60
VERIFY_TIMEOUT = 120
LOG_TAIL_LINES = 20
LOG_DIR_MODE = 0o750

HV_DISK_TYPE = "disk_type"
HV_NIC_TYPE = "nic_type"
# disk types whose storage is a block device on the node
_BLOCK_DEV_TYPES = frozenset([constants.DT_PLAIN, constants.DT_DRBD8, constants.DT_BLOCK,
                              constants.DT_RBD, constants.DT_EXT])


def split_name(full_name):
    """'os+variant' -> ('os', 'variant'); no variant gives ''."""
    name, _, variant = (full_name or "").partition(VARIANT_SEP)
    return name, variant


def get_name(full_name):
    return split_name(full_name)[0]


def get_variant(full_name):
    return split_name(full_name)[1]


def search_path(override=None):
    """The OS search path (constants.OS_SEARCH_PATH unless overridden)."""
    return list(constants.OS_SEARCH_PATH if override is None else override)


class OSDefinition:
    """One OS directory as found on disk, valid or not.

    ``status`` says whether it is usable; ``message`` says why not.
    ``parameters`` is a list of (name, doc); ``api_versions`` is the list the
    definition declares (it may hold versions we do not speak, like 5).
    """

    def __init__(self, name, path, status=True, message="", api_versions=None,
                 variants=None, parameters=None, scripts=None):
        self.name = name
        self.path = path
        self.status = status
        self.message = message
        self.api_versions = list(api_versions or [])
        self.variants = list(variants or [])
        self.parameters = [tuple(p) for p in parameters or []]
        self.scripts = dict(scripts or {})

    def __repr__(self):
        return "<OSDefinition %s at %s: %s>" % (
            self.name, self.path, "valid" if self.status else self.message)

    @property
    def api_version(self):
        """The version used to call the scripts: highest one both sides speak."""
        common = OS_API_VERSIONS.intersection(self.api_versions)
        return max(common) if common else 0

    @property
    def create_script(self):
        return self.scripts.get(SCRIPT_CREATE)

    @property
    def export_script(self):
        return self.scripts.get(SCRIPT_EXPORT)

    @property
    def import_script(self):
        return self.scripts.get(SCRIPT_IMPORT)

    @property
    def rename_script(self):
        return self.scripts.get(SCRIPT_RENAME)

    @property
    def verify_script(self):
        return self.scripts.get(SCRIPT_VERIFY)

    @property
    def parameter_names(self):
        return [p[0] for p in self.parameters]

    def diagnose_entry(self):
        """[name, path, status, message, variants, parameters, api_versions]."""
        return [self.name, self.path, self.status, self.message, list(self.variants),
                [list(p) for p in self.parameters], list(self.api_versions)]

    def to_dict(self):
        """The definition with Ganeti's OS object field names (os_get)."""
        return {
            "name": self.name, "path": self.path,
            "api_versions": list(self.api_versions),
            "supported_variants": list(self.variants),
            "supported_parameters": [list(p) for p in self.parameters],
            "create_script": self.create_script, "export_script": self.export_script,
            "import_script": self.import_script, "rename_script": self.rename_script,
            "verify_script": self.verify_script,
        }

    def check_variant(self, full_name):
        """Raise InvalidOS unless the variant of ``full_name`` suits this OS."""
        variant = get_variant(full_name)
        if not self.variants:
            if variant:
                raise errors.InvalidOS(self.name, "OS '%s' doesn't support variants"
                                       " ('%s' passed)" % (self.name, variant))
            return
        if not variant:
            raise errors.InvalidOS(self.name, "OS name must include a variant")
        if variant not in self.variants:
            raise errors.InvalidOS(self.name, "Unsupported OS variant '%s' (supported:"
                                   " %s)" % (variant, ", ".join(self.variants)))

    def check_parameters(self, names):
        """Raise InvalidOS if any of ``names`` is not a parameter of this OS."""
        unknown = sorted(set(names) - set(self.parameter_names))
        if unknown:
            raise errors.InvalidOS(self.name, "The following parameters are not"
                                   " supported by the OS %s: %s"
                                   % (self.name, ", ".join(unknown)))


# ---- reading a definition ----------------------------------------------------------

def _errtext(err):
    return err.strerror or str(err)


def _read_api_versions(os_dir):
    """(True, [versions]) or (False, message)."""
    api_file = os.path.join(os_dir, API_FILE)
    try:
        st = os.stat(api_file)
    except OSError as err:
        return False, ("Required file '%s' not found under path %s: %s"
                       % (API_FILE, os_dir, _errtext(err)))
    if not stat.S_ISREG(st.st_mode):
        return False, "File '%s' in %s is not a regular file" % (API_FILE, os_dir)
    try:
        with open(api_file) as fd:
            lines = fd.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        return False, ("Error while reading the API version file at %s: %s"
                       % (api_file, err))
    try:
        versions = [int(line.strip()) for line in lines if line.strip()]
    except ValueError as err:
        return False, "API version(s) can't be converted to integer: %s" % err
    if not versions:
        return False, "No API version declared in %s" % api_file
    return True, versions


def _read_lines(path):
    with open(path) as fd:
        return fd.read().splitlines()


def _parse_variants(lines):
    result = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            result.append(line)
    return result


def _parse_parameters(lines):
    result = []
    for line in lines:
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        result.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return result


def load_os(name, os_dir):
    """Read and check the definition in ``os_dir``; never raises for bad ones."""
    def invalid(message, versions=None):
        return OSDefinition(name, os_dir, status=False, message=message,
                            api_versions=versions)

    if not os.path.isdir(os_dir):
        return invalid("Directory for OS %s not found at %s" % (name, os_dir))
    ok, versions = _read_api_versions(os_dir)
    if not ok:
        return invalid(versions)
    if not OS_API_VERSIONS.intersection(versions):
        return invalid("API version mismatch for path '%s': found %s, want %s."
                       % (os_dir, versions, sorted(OS_API_VERSIONS)), versions)
    api = max(OS_API_VERSIONS.intersection(versions))
    # file name -> required; scripts must also be executable
    wanted = dict.fromkeys(BASE_SCRIPTS, True)
    if api >= OS_API_V20:
        wanted[SCRIPT_VERIFY] = True
        wanted[PARAMETERS_FILE] = True
    if api >= OS_API_V15:
        wanted[VARIANTS_FILE] = False
    found = {}
    for filename, required in sorted(wanted.items()):
        path = os.path.join(os_dir, filename)
        try:
            st = os.stat(path)
        except OSError as err:
            if err.errno == errno.ENOENT and not required:
                continue
            return invalid("File '%s' under path '%s' is missing (%s)"
                           % (filename, os_dir, _errtext(err)), versions)
        if not stat.S_ISREG(st.st_mode):
            return invalid("File '%s' under path '%s' is not a regular file"
                           % (filename, os_dir), versions)
        if filename in BASE_SCRIPTS or filename == SCRIPT_VERIFY:
            if not st.st_mode & stat.S_IXUSR:
                return invalid("File '%s' under path '%s' is not executable"
                               % (filename, os_dir), versions)
        found[filename] = path
    variants = []
    parameters = []
    for filename, parser in ((VARIANTS_FILE, _parse_variants),
                             (PARAMETERS_FILE, _parse_parameters)):
        if filename not in found:
            continue
        try:
            lines = _read_lines(found[filename])
        except (OSError, UnicodeDecodeError) as err:
            return invalid("Error while reading the OS %s file at %s: %s"
                           % (filename.split(".")[0], found[filename], err), versions)
        if filename == VARIANTS_FILE:
            variants = parser(lines)
        else:
            parameters = parser(lines)
    scripts = dict((k, v) for k, v in found.items()
                   if k in BASE_SCRIPTS or k == SCRIPT_VERIFY)
    return OSDefinition(name, os_dir, api_versions=versions, variants=variants,
                        parameters=parameters, scripts=scripts)


def _visible_entries(directory):
    try:
        return sorted(n for n in os.listdir(directory) if not n.startswith("."))
    except OSError as err:
        logging.warning("Cannot list the OS directory %s: %s", directory, err)
        return []


def diagnose_os(path=None):
    """Every OS definition in the search path, in search order.

    A name found in several directories appears once per directory; the
    first one is the one used, the others are shadowed ("hidden").
    """
    result = []
    for directory in search_path(path):
        if not os.path.isdir(directory):
            continue
        for name in _visible_entries(directory):
            result.append(load_os(name, os.path.join(directory, name)))
    return result


def find_os(full_name, path=None):
    """The valid definition of ``full_name`` ('os' or 'os+variant').

    The first search path directory holding a directory of that name decides;
    raises InvalidOS(name, reason) when there is none or it is not valid.
    The variant is not checked here (see OSDefinition.check_variant).
    """
    name = get_name(full_name)
    if not name or "/" in name or name in (".", ".."):
        raise errors.InvalidOS(full_name, "Invalid OS name '%s'" % full_name)
    for directory in search_path(path):
        os_dir = os.path.join(directory, name)
        if os.path.isdir(os_dir):
            os_def = load_os(name, os_dir)
            if not os_def.status:
                raise errors.InvalidOS(name, os_def.message)
            return os_def
    raise errors.InvalidOS(name, "Directory for OS %s not found in search path" % name)


# ---- the environment of a script ----------------------------------------------------

def _str(value):
    return value if isinstance(value, str) else str(value)


def osparam_env_name(name):
    """OS parameter name -> its variable: 'filesystem' -> 'OSP_FILESYSTEM'."""
    return "OSP_" + name.upper().replace("-", "_")


def core_env(full_name, os_def, osparams, debug=0):
    """The variables every script gets: API version, OS name/variant, OSP_*, PATH."""
    api = os_def.api_version
    env = {
        "OS_API_VERSION": "%d" % api,
        "OS_NAME": os_def.name,
        "DEBUG_LEVEL": "%d" % int(debug or 0),
        "PATH": SCRIPT_PATH,
    }
    variant = ""
    if api >= OS_API_V15 and os_def.variants:
        variant = get_variant(full_name) or os_def.variants[0]
    env["OS_VARIANT"] = variant
    for pname, pvalue in (osparams or {}).items():
        env[osparam_env_name(pname)] = _str(pvalue)
    return env


def _as_instance(instance):
    if isinstance(instance, objects.Instance):
        return instance
    return objects.Instance.from_dict(instance)


def _disk_device_path(instance, idx, disk):
    from ganeti import storage
    try:
        device = storage.find_device(disk)
    except errors.BlockDeviceError as err:
        raise errors.BlockDeviceError("Disk %d of instance %s cannot be looked up: %s"
                                      % (idx, instance.name, err))
    if device is None or not device.dev_path:
        raise errors.BlockDeviceError("Disk %d of instance %s is not active (its device"
                                      " %r was not found)"
                                      % (idx, instance.name, disk.logical_id))
    return device.dev_path


def _disk_env(env, instance, idx, disk):
    prefix = "DISK_%d_" % idx
    env[prefix + "PATH"] = _disk_device_path(instance, idx, disk)
    env[prefix + "ACCESS"] = disk.mode or "rw"
    env[prefix + "UUID"] = _str(disk.uuid)
    if disk.name:
        env[prefix + "NAME"] = disk.name
    if disk.size is not None:
        env[prefix + "SIZE"] = _str(disk.size)
    if HV_DISK_TYPE in instance.hvparams:
        env[prefix + "FRONTEND_TYPE"] = _str(instance.hvparams[HV_DISK_TYPE])
    if disk.dev_type in _BLOCK_DEV_TYPES:
        env[prefix + "BACKEND_TYPE"] = "block"
    elif disk.dev_type in constants.DTS_FILEBASED and disk.logical_id:
        env[prefix + "BACKEND_TYPE"] = "file:%s" % disk.logical_id[0]


def _network_env(env, prefix, netinfo):
    """NIC_<n>_NETWORK_* of a NIC attached to a network (netinfo: its dict)."""
    env[prefix + "NETWORK_NAME"] = _str(netinfo.get("name", ""))
    env[prefix + "NETWORK_UUID"] = _str(netinfo.get("uuid", ""))
    env[prefix + "NETWORK_TAGS"] = " ".join(netinfo.get("tags") or [])
    for key, suffix in (("network", "SUBNET"), ("gateway", "GATEWAY"),
                        ("network6", "SUBNET6"), ("gateway6", "GATEWAY6"),
                        ("mac_prefix", "MAC_PREFIX")):
        if netinfo.get(key):
            env[prefix + "NETWORK_" + suffix] = _str(netinfo[key])


def _nic_env(env, instance, idx, nic):
    prefix = "NIC_%d_" % idx
    params = nic.nicparams or {}
    mode = params.get(constants.NIC_MODE, constants.NIC_MODE_BRIDGED)
    link = params.get(constants.NIC_LINK, "")
    env[prefix + "MAC"] = _str(nic.mac)
    env[prefix + "UUID"] = _str(nic.uuid)
    if nic.name:
        env[prefix + "NAME"] = nic.name
    if nic.ip:
        env[prefix + "IP"] = nic.ip
    env[prefix + "MODE"] = mode
    if mode == constants.NIC_MODE_BRIDGED:
        env[prefix + "BRIDGE"] = link
    if link:
        env[prefix + "LINK"] = link
    if params.get(constants.NIC_VLAN):
        env[prefix + "VLAN"] = _str(params[constants.NIC_VLAN])
    if nic.netinfo:
        _network_env(env, prefix, nic.netinfo)
    if HV_NIC_TYPE in instance.hvparams:
        env[prefix + "FRONTEND_TYPE"] = _str(instance.hvparams[HV_NIC_TYPE])


def instance_env(instance, os_def, debug=0):
    """The environment of an OS script run for ``instance``.

    ``instance``: objects.Instance or its dict, with parameters already filled
    (as the master sends it). Every disk must be active on this node; a
    missing one raises BlockDeviceError.
    """
    instance = _as_instance(instance)
    osparams = dict(instance.osparams or {})
    osparams.update(instance.osparams_private or {})
    env = core_env(instance.os, os_def, osparams, debug)
    for attr in ("name", "os", "uuid", "ctime", "mtime", "primary_node"):
        env["INSTANCE_%s" % attr.upper()] = str(getattr(instance, attr))
    env["INSTANCE_SECONDARY_NODES"] = " ".join(instance.secondary_nodes)
    env["HYPERVISOR"] = _str(instance.hypervisor)
    env["DISK_COUNT"] = "%d" % len(instance.disks)
    env["NIC_COUNT"] = "%d" % len(instance.nics)
    for idx, disk in enumerate(instance.disks):
        _disk_env(env, instance, idx, disk)
    for idx, nic in enumerate(instance.nics):
        _nic_env(env, instance, idx, nic)
    for source, kind in ((instance.beparams, "BE"), (instance.hvparams, "HV")):
        for key, value in (source or {}).items():
            env["INSTANCE_%s_%s" % (kind, key)] = _str(value)
    return env


def transfer_env(env, mode, idx):
    """Add the variables of an import or export of disk ``idx`` to ``env``."""
    if mode not in (SCRIPT_IMPORT, SCRIPT_EXPORT):
        raise errors.ProgrammerError("Invalid transfer mode %r" % mode)
    prefix = mode.upper()
    path = env.get("DISK_%d_PATH" % idx)
    if path is None:
        raise errors.ProgrammerError("No disk %d in the environment" % idx)
    env = dict(env)
    env[prefix + "_INDEX"] = "%d" % idx
    env[prefix + "_DISK_PATH"] = path
    env[prefix + "_DEVICE"] = path
    uri = env.get("DISK_%d_URI" % idx)
    if uri:
        env[prefix + "_DISK_URI"] = uri
    return env


# ---- running scripts ------------------------------------------------------------------

def log_file_name(kind, os_name, instance_name, component=None, log_dir=None):
    """<LOG_OS_DIR>/<kind>-<os>-<instance>[-<component>]-<timestamp>.log"""
    if component is not None and component != "":
        if "/" in str(component):
            raise errors.ProgrammerError("Invalid log component %r" % component)
        suffix = "-%s" % component
    else:
        suffix = ""
    base = "%s-%s-%s%s-%s.log" % (kind, os_name, instance_name, suffix,
                                  time.strftime("%Y-%m-%d_%H_%M_%S"))
    return os.path.join(pathutils.LOG_OS_DIR if log_dir is None else log_dir,
                        base.replace("/", "_"))


def _combined_output(result):
    """stdout, then stderr (run_cmd keeps them apart)."""
    if result.stdout and result.stderr and not result.stdout.endswith("\n"):
        return result.stdout + "\n" + result.stderr
    return result.stdout + result.stderr


def _write_log(logfile, text):
    os.makedirs(os.path.dirname(logfile), mode=LOG_DIR_MODE, exist_ok=True)
    with open(logfile, "a") as fd:
        fd.write(text)


def _tail(text, lines=LOG_TAIL_LINES):
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def run_script(os_def, script, env, logfile, what=None, args=(),
               timeout=SCRIPT_TIMEOUT, stdin_file=None, stdout_file=None):
    """Run one script of ``os_def`` with ``env`` (and nothing else) in its
    directory, stdin /dev/null; its output goes to ``logfile``.

    stdin_file / stdout_file (path or fd, see process.run_cmd) replace stdin
    and stdout; a redirected stdout does not reach the log.
    Raises OpExecError naming the log file, with the last lines of output.
    """
    path = os_def.scripts.get(script)
    if not path:
        raise errors.OpExecError("OS %s has no %s script" % (os_def.name, script))
    result = process.run_cmd([path] + list(args), env=env, reset_env=True,
                             timeout=timeout, cwd=os_def.path, stdin_file=stdin_file,
                             stdout_file=stdout_file)
    output = _combined_output(result)
    try:
        _write_log(logfile, output)
    except OSError as err:
        logging.error("Cannot write the OS log file %s: %s", logfile, err)
    if result.failed:
        what = what or "OS %s script" % script
        logging.error("%s '%s' failed: %s; log file %s", what, path, result.fail_reason,
                      logfile)
        raise errors.OpExecError("%s failed (%s), last lines in the log file %s:\n%s"
                                 % (what, result.fail_reason, logfile,
                                    _tail(output)))
    return result


def create_os(instance, reinstall=False, debug=0, path=None, log_dir=None):
    """Run the create script of the instance's OS; returns the log file name."""
    instance = _as_instance(instance)
    os_def = find_os(instance.os, path)
    env = instance_env(instance, os_def, debug)
    if reinstall:
        env["INSTANCE_REINSTALL"] = "1"
    logfile = log_file_name("add", instance.os, instance.name, log_dir=log_dir)
    run_script(os_def, SCRIPT_CREATE, env, logfile, what="OS create script")
    return logfile


def rename_os(instance, old_name, debug=0, path=None, log_dir=None):
    """Run the rename script (instance already has its new name); the log file."""
    instance = _as_instance(instance)
    os_def = find_os(instance.os, path)
    env = instance_env(instance, os_def, debug)
    env["OLD_INSTANCE_NAME"] = old_name
    logfile = log_file_name("rename", instance.os, "%s-%s" % (old_name, instance.name),
                            log_dir=log_dir)
    run_script(os_def, SCRIPT_RENAME, env, logfile, what="OS rename script")
    return logfile


# ---- export and import of one disk -------------------------------------------------

def local_path(path, root_dir):
    """A master-sent absolute path on this node (virtual root prefixed if missing)."""
    path = os.path.normpath(path)
    if root_dir and not (path == root_dir or path.startswith(root_dir + "/")):
        return root_dir + path
    return path


def _is_below(parent, path):
    return path.startswith(parent.rstrip("/") + "/")


def export_file_path(path, export_dir=None, root_dir=None):
    """The local path of a file inside the export directory, checked.

    ``path`` must be absolute, without '..', and lie (symlinks resolved) below
    ``export_dir`` (pathutils.EXPORT_DIR); under a virtual cluster the node's
    root is prefixed unless already there. Returns the path with its directory
    resolved; raises OpExecError otherwise.
    """
    export_dir = pathutils.EXPORT_DIR if export_dir is None else export_dir
    root_dir = pathutils.VIRT_ROOTDIR if root_dir is None else root_dir
    if not isinstance(path, str) or not path or "\0" in path:
        raise errors.OpExecError("Invalid export file path %r" % (path,))
    if not os.path.isabs(path):
        raise errors.OpExecError("Export file path '%s' is not absolute" % path)
    if ".." in path.split("/"):
        raise errors.OpExecError("Export file path '%s' must not contain '..'" % path)
    local = local_path(path, root_dir)
    real_export = os.path.realpath(export_dir)
    parent = os.path.realpath(os.path.dirname(local))
    if not (parent == real_export or _is_below(real_export, parent)):
        raise errors.OpExecError("Path '%s' is not inside the export directory %s"
                                 % (path, export_dir))
    return os.path.join(parent, os.path.basename(local))


def _transfer_setup(instance, mode, disk_index, debug, path, log_dir):
    """(instance, os_def, env, logfile) of an export or import of one disk."""
    instance = _as_instance(instance)
    if (isinstance(disk_index, bool) or not isinstance(disk_index, int)
            or not 0 <= disk_index < len(instance.disks)):
        raise errors.OpExecError("Invalid disk index %r for instance %s (it has %d"
                                 " disks)" % (disk_index, instance.name,
                                              len(instance.disks)))
    os_def = find_os(instance.os, path)
    env = transfer_env(instance_env(instance, os_def, debug), mode, disk_index)
    logfile = log_file_name(mode, instance.os, instance.name, component=disk_index,
                            log_dir=log_dir)
    return instance, os_def, env, logfile


def transfer_script(instance, mode, disk_index, device_path, debug=0, path=None,
                    log_dir=None):
    """(argv, env, cwd, log file) of the export or import script of disk
    ``disk_index`` for a streamed transfer (impexpd runs it): the script reads
    or writes ``device_path`` (the disk, or a snapshot of it for an export)."""
    instance, os_def, env, logfile = _transfer_setup(instance, mode, disk_index, debug,
                                                     path, log_dir)
    prefix = mode.upper()
    env[prefix + "_DEVICE"] = env[prefix + "_DISK_PATH"] = device_path
    script = os_def.scripts.get(mode)
    if not script:
        raise errors.OpExecError("OS %s has no %s script" % (os_def.name, mode))
    return [script], env, os_def.path, logfile


def verify_os_params(full_name, os_def, checks, osparams, timeout=VERIFY_TIMEOUT):
    """Run ``verify <checks...>`` with OSP_* set; OpExecError with its output."""
    env = core_env(full_name, os_def, osparams)
    result = process.run_cmd([os_def.verify_script] + list(checks), env=env,
                             reset_env=True, timeout=timeout, cwd=os_def.path)
    if result.failed:
        raise errors.OpExecError("OS validation script failed (%s), output: %s"
                                 % (result.fail_reason, result.output.strip()))
