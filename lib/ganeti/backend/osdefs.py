"""Node-side RPC procedures about guest OS definitions (see osinterface).

Instances arrive as dicts (``objects.Instance.to_dict()`` with parameters
filled by the master, see cmdlib.instance_utils.instance_for_node).
"""

import logging

from ganeti import errors, objects, osinterface
from ganeti.backend.common import config_object, fail


def _message(err):
    """The text of an error, without the OS name InvalidOS carries first."""
    if isinstance(err, errors.InvalidOS) and len(err.args) == 2:
        return str(err.args[1])
    if len(err.args) == 1:
        return str(err.args[0])
    return str(err)


def _instance(data):
    instance = config_object(objects.Instance, data, "instance")
    if not instance.name or not instance.os:
        fail("Instance description without a name or an OS")
    return instance


def _find_os(name, *, os_path=None):
    try:
        return osinterface.find_os(name, os_path)
    except errors.InvalidOS as err:
        fail("%s", _message(err))


def os_diagnose(*, os_path=None):
    """Every OS definition of the search path, in search order.

    A list of [name, path, status, message, variants, parameters,
    api_versions]; parameters as [[name, doc], ...]. A name present in several
    search directories is listed once per directory: the first is the one in
    use, the master shows the others as shadowed.
    """
    return [os_def.diagnose_entry() for os_def in osinterface.diagnose_os(os_path)]


def os_get(name, *, os_path=None):
    """The definition of OS ``name`` ('os' or 'os+variant') as a dict; fails if
    it is missing or invalid (the variant is not checked)."""
    return _find_os(name, os_path=os_path).to_dict()


def os_validate(required, osname, checks, osparams, force_variant=False, *,
                os_path=None):
    """Check an OS (and its parameters) on this node.

    False when the OS is missing and not ``required``; fails for a wrong
    variant (unless ``force_variant``), unknown parameters or when the OS's
    ``verify`` script rejects them (API 20, "parameters" in checks).
    """
    checks = list(checks or [])
    unknown = sorted(set(checks) - osinterface.VALIDATE_CHECKS)
    if unknown:
        fail("Unknown checks required for OS %s: %s", osname, ", ".join(unknown))
    try:
        os_def = osinterface.find_os(osname, os_path)
    except errors.InvalidOS as err:
        if required:
            fail("%s", _message(err))
        return False
    osparams = dict(osparams or {})
    try:
        if not force_variant:
            os_def.check_variant(osname)
        if os_def.api_version < osinterface.OS_API_V20:
            return True
        if osinterface.VALIDATE_PARAMETERS in checks:
            os_def.check_parameters(osparams)
        osinterface.verify_os_params(osname, os_def, checks, osparams)
    except errors.GenericError as err:
        fail("%s", _message(err))
    return True


def instance_os_add(instance, reinstall, debug, *, os_path=None, log_dir=None):
    """Run the OS create script for an instance (INSTANCE_REINSTALL=1 when
    ``reinstall``); its disks must be active here. Returns the log file name."""
    inst = _instance(instance)
    try:
        logfile = osinterface.create_os(inst, bool(reinstall), debug or 0, os_path,
                                        log_dir)
    except errors.GenericError as err:
        fail("%s", _message(err))
    logging.info("OS %s installed for instance %s (log %s)", inst.os, inst.name, logfile)
    return logfile


def instance_run_rename(instance, old_name, debug, *, os_path=None, log_dir=None):
    """Run the OS rename script (``instance`` carries the new name); returns the
    log file name."""
    inst = _instance(instance)
    if not isinstance(old_name, str) or not old_name:
        fail("Invalid old instance name %r", old_name)
    try:
        logfile = osinterface.rename_os(inst, old_name, debug or 0, os_path, log_dir)
    except errors.GenericError as err:
        fail("%s", _message(err))
    return logfile


PROCEDURES = {
    "os_diagnose": os_diagnose,
    "os_get": os_get,
    "os_validate": os_validate,
    "instance_os_add": instance_os_add,
    "instance_run_rename": instance_run_rename,
}
