"""The indented "key: value" layout of the info commands (gnt-cluster info,
gnt-node info, gnt-job info)."""


def _scalar(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_pairs(value):
    return (isinstance(value, list) and value and
            all(isinstance(i, tuple) and len(i) == 2 for i in value))


def format_info(items, indent=0):
    """Lines for a list of (key, value) pairs.

    A value may be a scalar, a dict (sorted, nested), a list of pairs (ordered,
    nested) or a list of items (one "- item" line each; an item that is itself a
    list of pairs starts with "- " and continues aligned under it).
    """
    lines = []
    pad = " " * indent
    for key, value in items:
        if isinstance(value, dict):
            lines.append("%s%s: " % (pad, key))
            lines.extend(format_info(sorted(value.items()), indent + 2))
        elif _is_pairs(value):
            lines.append("%s%s: " % (pad, key))
            lines.extend(format_info(value, indent + 2))
        elif isinstance(value, list):
            lines.append("%s%s: " % (pad, key))
            for item in value:
                if _is_pairs(item) or isinstance(item, dict):
                    pairs = item if _is_pairs(item) else sorted(item.items())
                    sub = format_info(pairs, indent + 4)
                    if sub:
                        sub[0] = " " * (indent + 2) + "- " + sub[0][indent + 4:]
                    lines.extend(sub)
                else:
                    lines.append("%s  - %s" % (pad, _scalar(item)))
        else:
            lines.append("%s%s: %s" % (pad, key, _scalar(value)))
    return lines


def params_with_defaults(custom, actual):
    """Parameter dict for display: custom values as is, others as 'default (x)'."""
    result = {}
    for key in sorted(actual):
        if key in custom:
            result[key] = custom[key]
        else:
            result[key] = "default (%s)" % _scalar(actual[key])
    return result
