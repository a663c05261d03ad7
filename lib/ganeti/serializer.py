"""JSON serialization used for config.data, job files, LUXI and RPC.

Parsing is strict: ``NaN``/``Infinity`` are refused (a job told to sleep
``Infinity`` seconds never ends), and a document nested so deeply that the
parser hits Python's recursion limit is an ordinary ValueError instead of a
RecursionError that takes a connection down. Requests from outside (LUXI,
the node daemon) also pass ``max_depth``.
"""

import json
import math

_encoder = json.JSONEncoder(sort_keys=True, indent=None, separators=(",", ":"))
_pretty = json.JSONEncoder(sort_keys=True, indent=1, separators=(",", ": "))
# the remote API keeps the order of its objects' fields, as Ganeti's does
_ordered = json.JSONEncoder(sort_keys=False, allow_nan=False, separators=(", ", ": "))

#: deepest nesting of lists/objects accepted in requests; ours stay below 20
MAX_REQUEST_DEPTH = 100


def dump_json(data, pretty=False):
    """Serialize ``data`` to a JSON text (str), keys sorted."""
    text = (_pretty if pretty else _encoder).encode(data)
    return text + "\n" if pretty else text


def dump_json_ordered(data):
    """Serialize ``data`` keeping its dicts' key order (the remote API's)."""
    return _ordered.encode(data)


def _refuse_constant(name):
    raise ValueError("Non-finite number %s is not allowed" % name)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):        # 1e999 overflows to infinity
        _refuse_constant(text)
    return value


def nesting_depth(value) -> int:
    """How deeply lists/dicts nest in ``value`` (0 for a scalar); no recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return deepest


def load_json(text, max_depth=None):
    """Parse a JSON text (str or bytes); ValueError if it is not valid.

    NaN/Infinity are refused; with ``max_depth`` so is a document nested
    deeper than that many levels.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("JSON document nested too deeply") from None
    if max_depth is not None and nesting_depth(data) > max_depth:
        raise ValueError("JSON document nested deeper than %d levels" % max_depth)
    return data
