"""Printing for the gnt-* commands: lines, tables and query results (cli.md 0.4, 0.5).

Split off ``ganeti.cli``, which re-exports every public name defined here, so
``cli.generic_list(...)``, ``cli.generate_table(...)`` etc. keep working.
Startup must stay fast: this module only needs the standard library,
``constants`` and ``utils.text``; qlang (and pyparsing) is imported by
``generic_list`` on use, and ``ganeti.cli`` (for ``get_client``) only when no
client is passed in.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable

from ganeti import constants
from ganeti.utils import text

# ---- output helpers ---------------------------------------------------------------

def to_stdout(txt: str, *args) -> None:
    """Print a line on stdout (``txt % args`` when args are given)."""
    sys.stdout.write((txt % args if args else txt) + "\n")
    sys.stdout.flush()


def to_stderr(txt: str, *args) -> None:
    """Print a line on stderr (``txt % args`` when args are given)."""
    sys.stderr.write((txt % args if args else txt) + "\n")
    sys.stderr.flush()


def format_timestamp(ts, with_usecs: bool = False) -> str:
    """[sec, usec] or seconds as local 'YYYY-MM-DD HH:MM:SS'; 'N/A' if not a time."""
    if isinstance(ts, (list, tuple)) and len(ts) == 2:
        sec, usec = ts
    elif isinstance(ts, (int, float)) and not isinstance(ts, bool):
        # whole microseconds first: x.9999997 is (x+1, 0), not (x, 1000000),
        # and a negative time keeps 0 <= usec < 1e6
        sec, usec = divmod(int(round(ts * 1e6)), 1000000)
    else:
        return "N/A"
    if not isinstance(sec, (int, float)) or not isinstance(usec, (int, float)):
        return "N/A"
    result = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec))
    if with_usecs:
        result += ".%06d" % usec
    return result


# ---- tables ---------------------------------------------------------------------------

def _cell(value):
    if value is True:
        return "Y"
    if value is False:
        return "N"
    return value if isinstance(value, str) else str(value)


def _unit_cell(value, units):
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return value
    if isinstance(value, (int, float)):
        return text.format_unit(value, units)
    return value


def format_table(rows: list, titles: list | None, right_align: list,
                 separator: str | None) -> list:
    """Lines of a table of string cells (cli.md 0.4); ``titles`` None: no header.

    Without a separator, columns are padded to the widest cell and joined by
    one space; right-aligned columns pad on the left; the last column is not
    padded when left-aligned. With a separator, cells are joined as they are.
    """
    all_rows = ([list(titles)] if titles is not None else []) + [list(r) for r in rows]
    if separator is not None:
        return [separator.join(row) for row in all_rows]
    ncols = max([len(row) for row in all_rows] + [0])
    widths = [0] * ncols
    for row in all_rows:
        for idx, cell in enumerate(row):
            widths[idx] = max(widths[idx], len(cell))
    lines = []
    for row in all_rows:
        parts = []
        for idx, cell in enumerate(row):
            if idx < len(right_align) and right_align[idx]:
                parts.append(cell.rjust(widths[idx]))
            elif idx == ncols - 1:
                parts.append(cell)
            else:
                parts.append(cell.ljust(widths[idx]))
        lines.append(" ".join(parts))
    return lines


def generate_table(headers: dict | None, fields: list | None, separator: str | None,
                   data: list, numfields: Iterable[str] = (), unitfields: Iterable[str] = (),
                   units: str | None = None) -> list:
    """Format rows of values as table lines (cli.md 0.4).

    ``headers``: {field: title} (None: no header line); ``numfields`` and
    ``unitfields`` are right-aligned; unit values (MiB) are formatted with
    ``units`` (default h, or m with a separator). Booleans print as Y/N.
    """
    if units is None:
        units = "m" if separator is not None else "h"
    if fields is None:
        fields = list(headers or {})
    numfields = frozenset(numfields)
    unitfields = frozenset(unitfields)
    rows = []
    for row in data:
        if row is None:
            continue
        cells = []
        for idx, value in enumerate(row):
            if idx < len(fields) and fields[idx] in unitfields:
                value = _unit_cell(value, units)
            cells.append(_cell(value))
        rows.append(cells)
    titles = [headers[name] for name in fields] if headers else None
    right = [name in numfields or name in unitfields for name in fields]
    return format_table(rows, titles, right, separator)


# ---- query output (Query / QueryFields results) -----------------------------------------

RS_NORMAL, RS_UNKNOWN, RS_NODATA, RS_UNAVAIL, RS_OFFLINE = range(5)
#: status -> (terse, verbose) text (cli.md 0.5)
_STATUS_TEXT = {
    RS_UNKNOWN: ("??", "(unknown)"),
    RS_NODATA: ("?", "(nodata)"),
    RS_UNAVAIL: ("-", "(unavail)"),
    RS_OFFLINE: ("*", "(offline)"),
}
#: list-valued fields printed joined with ',' instead of as a Python list
LIST_JOINED_FIELDS = {
    "node": frozenset(["pinst_list", "sinst_list", "tags"]),
    "instance": frozenset(["tags", "disk.sizes", "nic.macs", "nic.ips", "nic.modes",
                           "nic.links", "nic.bridges", "nic.networks",
                           "nic.networks.names", "nic.names", "nic.uuids", "nic.vlans",
                           "snodes", "snodes.group", "snodes.group.uuid"]),
    "group": frozenset(["node_list", "pinst_list", "tags"]),
    "network": frozenset(["group_list", "inst_list", "tags"]),
    "job": frozenset(["summary"]),
}


#: dict-valued fields shown with their keys in Ganeti's order (LUXI sorts keys)
DICT_KEY_ORDER = {
    "instance": {"beparams": tuple(constants.BEC_DEFAULTS)},
}


def _in_key_order(value, keys):
    if not isinstance(value, dict):
        return _cell(value)
    rank = dict((key, idx) for idx, key in enumerate(keys))
    return _cell(dict(sorted(value.items(), key=lambda kv: rank.get(kv[0], len(rank)))))


def _join_list(value):
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return _cell(value)


def _field_formatter(fdef, units, override, joined, key_orders=None):
    """(function value -> str, right aligned) for one field definition."""
    name, kind = fdef.get("name"), fdef.get("kind")
    if override and name in override:
        return override[name]
    if name in joined:
        return _join_list, False
    if key_orders and name in key_orders:
        return (lambda v, keys=key_orders[name]: _in_key_order(v, keys)), False
    if kind == "bool":
        return _cell, False
    if kind in ("number", "float"):
        return _cell, True
    if kind == "unit":
        return lambda v: _cell(_unit_cell(v, units)), True
    if kind == "timestamp":
        return format_timestamp, False
    return _cell, False


def format_query_result(result: dict, unit: str | None = None, separator: str | None = None,
                        header: bool = True, format_override: dict | None = None,
                        verbose: bool = False, resource: str | None = None) -> list:
    """Table lines for a Query result {"fields": [...], "data": [[[status, value]]]}."""
    units = unit or ("m" if separator is not None else "h")
    fdefs = result["fields"]
    joined = LIST_JOINED_FIELDS.get(resource, frozenset())
    key_orders = DICT_KEY_ORDER.get(resource)
    formatters = [_field_formatter(f, units, format_override, joined, key_orders)
                  for f in fdefs]
    rows = []
    for row in result["data"]:
        cells = []
        for (status, value), (func, _) in zip(row, formatters):
            if status == RS_NORMAL:
                cells.append(func(value))
            else:
                terse, wordy = _STATUS_TEXT.get(status, ("?", "(unknown status)"))
                cells.append(wordy if verbose else terse)
        rows.append(cells)
    titles = [f.get("title") or f.get("name") for f in fdefs] if header else None
    return format_table(rows, titles, [right for _, right in formatters], separator)


def _get_client():
    """``cli.get_client()``, imported on use (``ganeti.cli`` imports this module)."""
    from ganeti import cli
    return cli.get_client()


def _warn_unknown_fields(fdefs):
    unknown = [f.get("name") for f in fdefs if f.get("kind") == "unknown"]
    if unknown:
        to_stderr("Warning: Queried for unknown fields %s" % ", ".join(unknown))
    return bool(unknown)


def generic_list(resource: str, fields: list, names: list | None, unit: str | None,
                 separator: str | None, header: bool, cl=None,
                 format_override: dict | None = None, verbose: bool = False,
                 force_filter: bool = False, namefield: str = "name",
                 qfilter: list | None = None, isnumeric: bool = False) -> int:
    """Query ``resource`` and print the table; returns the exit code.

    ``names`` restrict the items (globs allowed; a single argument that looks
    like a filter, or any with ``force_filter``, is parsed as a filter) and are
    combined with ``qfilter``. Unknown fields: warning and EXIT_UNKNOWN_FIELD.
    """
    from ganeti import qlang
    namefilter = qlang.make_filter(names or None, force_filter, namefield=namefield,
                                   isnumeric=isnumeric)
    if qfilter is None:
        qfilter = namefilter
    elif namefilter is not None:
        qfilter = [qlang.OP_AND, namefilter, qfilter]
    if cl is None:
        cl = _get_client()
    response = cl.query(resource, fields, qfilter)
    found_unknown = _warn_unknown_fields(response["fields"])
    for line in format_query_result(response, unit=unit, separator=separator,
                                    header=header, format_override=format_override,
                                    verbose=verbose, resource=resource):
        to_stdout(line)
    return constants.EXIT_UNKNOWN_FIELD if found_unknown else constants.EXIT_SUCCESS


#: the kinds of query fields as Ganeti's list-fields names them
FIELD_KIND_NAMES = {"unknown": "Unknown", "text": "Text", "bool": "Boolean",
                    "number": "Number", "float": "Floating-point number",
                    "unit": "Storage size", "timestamp": "Timestamp", "other": "Custom"}


def generic_list_fields(resource: str, fields: list | None, separator: str | None,
                        header: bool, cl=None) -> int:
    """Print Name/Type/Title/Description of the fields of ``resource``."""
    if cl is None:
        cl = _get_client()
    response = cl.query_fields(resource, fields or None)
    found_unknown = _warn_unknown_fields(response["fields"])
    rows = [[f.get("name", ""), FIELD_KIND_NAMES.get(f.get("kind"), f.get("kind", "")),
             f.get("title", ""), f.get("doc", "")] for f in response["fields"]]
    titles = ["Name", "Type", "Title", "Description"] if header else None
    for line in format_table(rows, titles, [False] * 4, separator):
        to_stdout(line)
    return constants.EXIT_UNKNOWN_FIELD if found_unknown else constants.EXIT_SUCCESS
