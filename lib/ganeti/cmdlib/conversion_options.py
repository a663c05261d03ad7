"""The options of gnt-instance modify that only a disk template conversion to
some templates takes: --file-storage-dir and --file-driver (file-based
targets), --ext-params (ext). Ganeti's client refuses them with these
messages; the client here does too (before submitting, as Ganeti's), and so
does LUInstanceSetParams for every other submitter (RAPI, LUXI), where
Ganeti ignores them.
"""

from ganeti import constants, errors

# the disk parameters a conversion takes from the old disks (Ganeti's
# IDISK_PARAMS without the provider): --ext-params cannot change them
_DISK_PARAMS = frozenset(["size", "spindles", "mode", "adopt", "vg", "metavg", "access",
                          "name", "dev_type"])


def misplaced_option(disk_template, ext_params, file_driver, file_storage_dir):
    """The message refusing an option the target template does not take, or None."""
    if disk_template == constants.DT_EXT and not ext_params:
        return "Provider option is missing, use either the '--ext-params' or '-e' option"
    if ext_params and disk_template != constants.DT_EXT:
        return ("Specifying ExtStorage parameters requires converting to the '%s' disk"
                " template" % constants.DT_EXT)
    if (file_driver or file_storage_dir) and \
            disk_template not in constants.DTS_FILEBASED:
        return ("Specifying file-based configuration arguments requires converting to a"
                " file-based disk template")
    return None


def check_ext_params(params):
    """Refuse ExtStorage parameters without a provider, or naming a disk
    parameter the new disks take from the old ones."""
    if not params:
        return
    if "provider" not in params:
        raise errors.OpPrereqError("Missing required parameter 'provider' when converting"
                                   " to an ExtStorage disk template", errors.ECODE_INVAL)
    for name in sorted(params):
        if name != "provider" and name in _DISK_PARAMS:
            raise errors.OpPrereqError("Invalid parameter '%s' when converting to an"
                                       " ExtStorage template (it is not allowed modifying"
                                       " existing disk parameters)" % name,
                                       errors.ECODE_INVAL)
        # the provider's scripts get them as environment variables: text
        if not isinstance(params[name], str) or (name == "provider" and
                                                 not params[name]):
            raise errors.OpPrereqError("ExtStorage parameter '%s' needs a value (%s=VALUE)"
                                       % (name, name), errors.ECODE_INVAL)
