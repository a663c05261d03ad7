"""Text helpers: size units, key=value lists, name matching."""

import math
import re

from ganeti import errors

_UNIT_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_unit(text):
    """A size like '512', '1.5G', '2t' in MiB (int, rounded up)."""
    if isinstance(text, (int, float)):
        return int(math.ceil(text))
    match = _UNIT_RE.match(str(text))
    if not match:
        raise errors.UnitParseError("Invalid format")       # Ganeti's words
    value = float(match.group(1))
    unit = match.group(2).lower()
    if unit in ("", "m", "mb", "mib"):
        factor = 1
    elif unit in ("g", "gb", "gib"):
        factor = 1024
    elif unit in ("t", "tb", "tib"):
        factor = 1024 * 1024
    else:
        raise errors.UnitParseError("Unknown unit: %s" % match.group(2))
    return int(math.ceil(value * factor))


def format_unit(value, units, roman=False):
    """Format a size in MiB: units 'h' (human), 'm', 'g' or 't' (cli.md 0.4)."""
    if units not in ("h", "m", "g", "t"):
        raise errors.ProgrammerError("Invalid unit %r" % units)
    if units == "m" or (units == "h" and value < 1024):
        text = "%d" % round(value)
        return text + "M" if units == "h" else text
    if units == "g" or (units == "h" and value < 1024 * 1024):
        text = "%0.1f" % (value / 1024.0)
        return text + "G" if units == "h" else text
    text = "%0.1f" % (value / 1024.0 / 1024.0)
    return text + "T" if units == "h" else text


def split_escaped(text, sep=","):
    """Split on ``sep`` unless it is escaped with a backslash."""
    parts, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == sep:
            cur.append(sep)
            i += 2
            continue
        if ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def escape_and_join(parts, sep=","):
    """The text that split_escaped turns back into ``parts``."""
    return sep.join(part.replace(sep, "\\" + sep) for part in parts)


def parse_key_values(text):
    """'a=1,b,no_c,-d' -> {'a': '1', 'b': True, 'c': False, 'd': None} (cli.md 0.6)."""
    result = {}
    if not text:
        return result
    for item in split_escaped(text):
        if not item:
            continue
        if "=" in item:
            key, value = item.split("=", 1)
        elif item.startswith("no_"):
            key, value = item[3:], False
        elif item.startswith("-"):
            key, value = item[1:], None
        else:
            key, value = item, True
        if key in result:
            raise errors.ParameterError("Duplicate key '%s' in option value" % key)
        result[key] = value
    return result


def glob_to_regex(pattern):
    """A shell glob (* and ?) as an anchored regular expression."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "^" + "".join(out) + "$"


def match_name_component(key, names, case_sensitive=True):
    """Resolve a short name to the one full name it abbreviates, or None.

    'node1' matches 'node1.example.com'; an exact match always wins.
    """
    if key in names:
        return key
    cands = [n for n in names if n.startswith(key + ".")]
    if not case_sensitive and not cands:
        low = key.lower()
        cands = [n for n in names if n.lower() == low or n.lower().startswith(low + ".")]
    return cands[0] if len(cands) == 1 else None


_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time_spec(value):
    """'30', '5m', '6h', '2d', '1w' -> seconds (int)."""
    value = str(value).strip()
    if not value:
        raise errors.ParameterError("Empty time specification")
    unit = value[-1].lower()
    number = value[:-1] if unit in _TIME_UNITS else value
    factor = _TIME_UNITS.get(unit, 1)
    try:
        result = int(number) * factor
    except ValueError:
        raise errors.ParameterError("Invalid time specification '%s' (use a number with an"
                                    " optional s, m, h, d or w suffix)" % value)
    if result < 0:
        raise errors.ParameterError("Time specification '%s' is negative" % value)
    return result


def nice_sort_key(name):
    """Sort key putting 'node10' after 'node9' (Ganeti's NiceSort)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", str(name)) if part != ""]


def nice_sort(names, key=None):
    """``names`` sorted with numbers in them compared as numbers."""
    if key is None:
        return sorted(names, key=nice_sort_key)
    return sorted(names, key=lambda item: nice_sort_key(key(item)))
