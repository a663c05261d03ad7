"""Typing of parameter dictionaries (hv, be, nic, nd, disk params).

Values arrive as strings from the command line (``key=value``; a bare ``key``
is True and ``no_key`` False) and as JSON values from LUXI/RAPI. Each value is
converted to the kind of its default value (or to a size, for the memory
parameters), with Ganeti's rules and messages: booleans are only
``true``/``false``, integers must be whole numbers, and unknown keys are
refused. ``check_types`` raises TypeEnforcementError (the command line shows
it as "Parameter Error: ..."); ``enforce_types`` is the logical units' form and
raises OpPrereqError, so that a job changes nothing.
"""

from ganeti import constants, errors

KIND_BOOL = "bool"
KIND_INT = "int"
KIND_FLOAT = "float"
KIND_SIZE = "size"
KIND_STRING = "string"

#: parameters holding a memory size in MiB ("512M", "2G" or a number)
SIZE_PARAMS = frozenset([constants.BE_MAXMEM, constants.BE_MINMEM, "memory"])

#: the backend parameters the command line and opcodes accept: also "memory",
#: the pre-2.6 name that sets both maxmem and minmem
BE_COMPAT_DEFAULTS = dict(constants.BEC_DEFAULTS, memory=constants.BEC_DEFAULTS[
    constants.BE_MAXMEM])
#: the parameters of every hypervisor with a default of each (Ganeti's
#: HVS_PARAMETER_TYPES: a name none of them has is refused before any job)
HV_ALL_DEFAULTS = dict((key, value) for params in constants.HVC_DEFAULTS.values()
                       for key, value in params.items())


def refuse_unknown(params, defaults):
    """TypeEnforcementError ("Parameter Error") for a name not in ``defaults``."""
    for key in params or {}:
        if key not in defaults:
            raise errors.TypeEnforcementError("Unknown parameter '%s'" % key)

#: lowest values that make sense (Ganeti leaves these to the instance policy,
#: which --ignore-ipolicy skips; a VM with 0 CPUs or 0 MiB cannot run)
BE_MINIMUMS = {constants.BE_VCPUS: 1, constants.BE_MAXMEM: 1, constants.BE_MINMEM: 1,
               constants.BE_SPINDLE_USE: 0}


def kind_of(key: str, default) -> str:
    """The kind of a parameter, from its name and the type of its default."""
    if key in SIZE_PARAMS:
        return KIND_SIZE
    if isinstance(default, bool):
        return KIND_BOOL
    if isinstance(default, int):
        return KIND_INT
    if isinstance(default, float):
        return KIND_FLOAT
    return KIND_STRING


def _bad(key, value, what):
    return errors.TypeEnforcementError("'%s' (value %s) is not a valid %s"
                                       % (key, value, what))


def convert(key: str, value, kind: str):
    """``value`` as ``kind``; TypeEnforcementError with Ganeti's text if it is not."""
    if kind == KIND_BOOL:
        if isinstance(value, str):
            word = value.lower()
            if word in (constants.VALUE_TRUE, constants.VALUE_FALSE):
                return word == constants.VALUE_TRUE
            raise _bad(key, value, "boolean")
        if isinstance(value, (bool, int)):
            return bool(value)
        raise _bad(key, value, "boolean")
    if kind == KIND_SIZE:
        from ganeti.utils import text
        try:
            if isinstance(value, bool):
                raise errors.UnitParseError(value)
            return text.parse_unit(value)
        except errors.UnitParseError:
            raise errors.TypeEnforcementError("'%s' (value %s) is not a valid size."
                                              " error: Invalid format" % (key, value))
    if kind == KIND_INT:
        # a bare key or no_key (True/False) is not a number; neither is 1.5
        if isinstance(value, bool) or (isinstance(value, float) and
                                       not value.is_integer()):
            raise _bad(key, value, "integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(key, value, "integer")
    if kind == KIND_FLOAT:
        if isinstance(value, bool):
            raise _bad(key, value, "float")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _bad(key, value, "float")
        if number != number or number in (float("inf"), float("-inf")):
            raise _bad(key, value, "float")
        return number
    if isinstance(value, str):
        return value
    if value is False:          # no_key: the empty string, as in Ganeti
        return ""
    raise _bad(key, value, "string")


def check_types(params: dict, defaults: dict, allowed_values=()) -> dict:
    """A copy of ``params`` with each value converted; TypeEnforcementError if one
    is unknown or of the wrong kind. Values in ``allowed_values`` pass unchanged."""
    result = {}
    for key, value in (params or {}).items():
        if key not in defaults:
            raise errors.TypeEnforcementError("Unknown parameter '%s'" % key)
        if value in allowed_values and not isinstance(value, bool):
            result[key] = value
            continue
        result[key] = convert(key, value, kind_of(key, defaults.get(key)))
    return result


def enforce_types(params: dict, defaults: dict, what: str = "",
                  allow_none: bool = False) -> dict:
    """check_types for logical units: errors become OpPrereqError (ECODE_INVAL).

    ``None`` values (reset to the default) pass only with ``allow_none``.
    """
    if not allow_none:
        for key, value in (params or {}).items():
            if value is None and key in defaults:
                raise errors.OpPrereqError("%s parameter '%s' cannot be reset here"
                                           % (what or "The", key), errors.ECODE_INVAL)
    try:
        return check_types(params, defaults, allowed_values=(None,))
    except errors.TypeEnforcementError as err:
        raise errors.OpPrereqError(str(err), errors.ECODE_INVAL)


def check_minimums(params: dict, minimums: dict) -> None:
    """OpPrereqError if a value in ``params`` is below its minimum."""
    for key, low in sorted(minimums.items()):
        value = params.get(key)
        if isinstance(value, int) and value < low:
            raise errors.OpPrereqError("Invalid value %s for parameter '%s': it must be"
                                       " at least %s" % (value, key, low),
                                       errors.ECODE_INVAL)
