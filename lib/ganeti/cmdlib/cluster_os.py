"""The per-OS settings of the cluster (gnt-os modify, OP_CLUSTER_SET_PARAMS):
hypervisor parameters per OS (os_hvp), OS parameters per OS (osparams and
osparams_private_cluster), and the hidden and blacklisted OS lists.

Each function takes the current value and the opcode's change and returns
the new value after checking it, so that a refused change leaves nothing
half done (LUClusterSetParams stores all values at once).
"""

from ganeti import constants, errors


def updated_os_hvp(current: dict, changes: dict, cluster_hvparams: dict) -> dict:
    """``current`` os_hvp with ``changes`` ({os: {hv: params or None}}) applied.

    Parameters merge into those already set for the OS and hypervisor; None
    for a hypervisor drops its entry; an OS left without entries is dropped.
    Each changed entry is checked over the cluster's parameters of its
    hypervisor, as the instances of that OS will see them.
    """
    from ganeti.cmdlib import instance_utils
    result = dict((name, dict(hvs)) for name, hvs in current.items())
    for os_name, hvs in sorted(changes.items()):
        if hvs is None:
            result.pop(os_name, None)
            continue
        if not isinstance(hvs, dict):
            raise errors.OpPrereqError("Invalid hypervisor parameters for OS '%s'"
                                       % os_name, errors.ECODE_INVAL)
        per_os = result.setdefault(os_name, {})
        for hv_name, params in sorted(hvs.items()):
            if hv_name not in constants.HYPER_TYPES:
                raise errors.OpPrereqError("Unknown hypervisor '%s' in OS '%s' hypervisor"
                                           " parameters" % (hv_name, os_name),
                                           errors.ECODE_INVAL)
            if params is None:
                per_os.pop(hv_name, None)
                continue
            if not isinstance(params, dict):
                raise errors.OpPrereqError("Invalid parameters for %s/%s"
                                           % (os_name, hv_name), errors.ECODE_INVAL)
            merged = dict(per_os.get(hv_name, {}))
            merged.update(instance_utils.typed_hvparams(hv_name, params))
            instance_utils.check_hvparams(
                hv_name, dict(cluster_hvparams.get(hv_name, {}), **merged))
            per_os[hv_name] = merged
        if not per_os:
            result.pop(os_name)
    return result


def updated_osparams(current: dict, changes: dict, what: str = "osparams") -> dict:
    """``current`` {os: {key: value}} with ``changes`` applied: None (or
    "default") removes a key, an OS left without keys is dropped. Values are
    strings; anything else is refused, as Ganeti's configuration does."""
    result = dict((name, dict(params)) for name, params in current.items())
    for os_name, params in sorted(changes.items()):
        if not isinstance(params, dict):
            raise errors.OpPrereqError("Invalid OS parameters for OS '%s'" % os_name,
                                       errors.ECODE_INVAL)
        merged = result.get(os_name, {})
        for key, value in sorted(params.items()):
            if value is None or value == constants.VALUE_DEFAULT:
                merged.pop(key, None)
            elif isinstance(value, str):
                merged[key] = value
            else:
                # Ganeti's words for a value its configuration cannot store
                raise errors.GenericError("RPC input: Can't parse value for '%s': key '%s':"
                                          " key '%s': Unable to read String"
                                          % (what, os_name, key))
        if merged:
            result[os_name] = merged
        else:
            result.pop(os_name, None)
    return result


def redacted_private(private: dict) -> dict:
    """The private OS parameters as they may be shown: keys, no values."""
    from ganeti import opcodes
    return dict((os_name, dict((key, opcodes.REDACTED) for key in params))
                for os_name, params in private.items())


def filled_os_params(osparams: dict, private: dict, os_name: str) -> dict:
    """The cluster's public and private defaults for ``os_name``: those of
    the OS's base name, then those of the full name (os+variant)."""
    base = os_name.split("+", 1)[0]
    result = {}
    for source in (osparams, private):
        result.update(source.get(base, {}))
        result.update(source.get(os_name, {}))
    return result


def check_os_defaults(lu, osparams: dict, private: dict, os_names) -> None:
    """Let the OS check its new defaults on the master (OS API 20 verify
    script); an OS the master does not have is not checked."""
    from ganeti.cmdlib import os_params
    master = lu.cfg.get_master_node()
    for os_name in sorted(os_names):
        os_params.check_os_params(lu, False, [master], os_name,
                                  filled_os_params(osparams, private, os_name),
                                  force_variant="+" not in os_name)


def apply_os_list_mods(current: list, mods: list, desc: str, feedback_fn) -> list:
    """Apply [[add|remove, name], ...] to an OS list; adding a name already
    there or removing one that is not is reported and ignored."""
    result = list(current)
    for mod in mods:
        if (not isinstance(mod, (list, tuple)) or len(mod) != 2
                or mod[0] not in ("add", "remove")
                or not isinstance(mod[1], str) or not mod[1]):
            raise errors.OpPrereqError("Invalid %s OS list modification %r: expected"
                                       " [add|remove, name]" % (desc, mod),
                                       errors.ECODE_INVAL)
        action, name = mod
        if action == "add":
            if name in result:
                feedback_fn("OS %s already in %s OS list, ignoring" % (name, desc))
            else:
                result.append(name)
        elif name in result:
            result.remove(name)
        else:
            feedback_fn("OS %s not found in %s OS list, ignoring" % (name, desc))
    return result
