"""Typing of parameter dictionaries (hv, be, nic, nd, disk params).

Values arrive as strings from the command line and RAPI; each is converted to
the type of its default value, and unknown keys are refused.
"""

from ganeti import errors

_TRUE = ("true", "yes", "on", "1", "y")
_FALSE = ("false", "no", "off", "0", "n")


def _convert(key, value, default, what):
    if value is None:
        return None
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise errors.OpPrereqError("%s parameter '%s' must be a boolean (yes/no), not '%s'"
                                   % (what, key, value), errors.ECODE_INVAL)
    if isinstance(default, int):
        try:
            return int(value) if not isinstance(value, bool) else int(value)
        except (TypeError, ValueError):
            raise errors.OpPrereqError("%s parameter '%s' must be an integer, not '%s'"
                                       % (what, key, value), errors.ECODE_INVAL)
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise errors.OpPrereqError("%s parameter '%s' must be a number, not '%s'"
                                       % (what, key, value), errors.ECODE_INVAL)
    if isinstance(default, str):
        if isinstance(value, bool):
            raise errors.OpPrereqError("%s parameter '%s' needs a value (key=value)"
                                       % (what, key), errors.ECODE_INVAL)
        return str(value)
    return value


def enforce_types(params, defaults, what, allow_none=False):
    """A copy of ``params`` with values converted to their defaults' types."""
    result = {}
    for key, value in (params or {}).items():
        if key not in defaults:
            raise errors.OpPrereqError(
                "Unknown %s parameter '%s'; known parameters: %s"
                % (what, key, ", ".join(sorted(defaults))), errors.ECODE_INVAL)
        if value is None and not allow_none:
            raise errors.OpPrereqError("%s parameter '%s' cannot be reset here"
                                       % (what, key), errors.ECODE_INVAL)
        result[key] = _convert(key, value, defaults[key], what)
    return result
