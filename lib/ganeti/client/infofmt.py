"""The YAML layout of the info commands (gnt-cluster info, gnt-node info,
gnt-instance info, gnt-job info, ...), as Ganeti prints it.

The data is a tree of:
- dicts: keys sorted;
- lists of tuples ``(key, value)`` or ``(key, value, group)``: ordered keys; the
  values of the keys sharing a group start in one column;
- tuples of scalars: one inline ``[a, b, c]``;
- lists: one ``- item`` per element (an empty list or dict leaves ``key: ``);
- scalars.
Every level indents by two spaces; the output parses as YAML.
"""

from ganeti import constants

_INDENT = "  "


def _scalar(value):
    # integral floats as Ganeti's (Haskell) job queue writes them: "1", not "1.0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_container(value):
    return isinstance(value, (list, dict, tuple))


def _write_pairs(out, pairs, level, afterkey):
    widths = {}
    for entry in pairs:
        if len(entry) > 2:
            widths[entry[2]] = max(widths.get(entry[2], 0), len(entry[0]))
    if afterkey:
        out.append("\n")
    for i, entry in enumerate(pairs):
        if i or afterkey:
            out.append(_INDENT * level)
        key, value = entry[0], entry[1]
        out.append("%s: " % key)
        if len(entry) > 2:
            out.append(" " * (widths[entry[2]] - len(key)))
        _write(out, value, level + 1, True)


def _write(out, data, level, afterkey=False):
    if isinstance(data, dict):
        if not data:
            out.append("\n")
        else:
            _write_pairs(out, [(key, data[key]) for key in sorted(data)], level, afterkey)
    elif isinstance(data, list) and data and isinstance(data[0], tuple):
        _write_pairs(out, data, level, afterkey)
    elif isinstance(data, tuple) and not any(map(_is_container, data)):
        out.append("[%s]\n" % ", ".join(map(str, data)))
    elif isinstance(data, (list, tuple)):
        if not data:
            out.append("\n")
            return
        if afterkey:
            out.append("\n")
        for i, item in enumerate(data):
            if i or afterkey:
                out.append(_INDENT * level)
            out.append("- ")
            _write(out, item, level + 1)
    else:
        out.append(_scalar(data) + "\n")


def format_data(data):
    """The lines of ``data`` (see the module's doc), as Ganeti's PrintGenericInfo."""
    out = []
    _write(out, data, 0)
    return "".join(out).rstrip("\n").split("\n")


def format_info(items, indent=0):
    """Lines for a list of (key, value[, group]) pairs, each indented by ``indent``."""
    if not items:
        return []
    return [(" " * indent + line) if line else line for line in format_data(list(items))]


def in_order(data, order):
    """``data`` (a dict) with the keys of ``order`` first, in that order (as
    Ganeti prints such dicts), then the others sorted."""
    keys = [k for k in order if k in data] + sorted(k for k in data if k not in order)
    return dict((k, data[k]) for k in keys)


# the node parameters in Ganeti's order
ND_ORDER = list(constants.NDC_DEFAULTS)


def params_with_defaults(custom, actual):
    """Parameter dict for display: custom values as is, others as 'default (x)'."""
    result = {}
    for key in sorted(actual):
        if key in custom:
            result[key] = custom[key]
        else:
            result[key] = "default (%s)" % _scalar(actual[key])
    return result
