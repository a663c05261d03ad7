"""Node-side ExtStorage providers: checking them all (extstorage_diagnose).

Finding and loading a provider, and running its scripts for the ``ext`` disk
template, is storage/extstorage.py's.
"""

import os

from ganeti.storage.extstorage import load_provider, search_path


def extstorage_diagnose(*, es_path=None):
    """Every provider of the search path, in search order: a list of
    [name, path, status, message, parameters]. A name in several directories
    is listed once per directory; the first is the one in use."""
    result = []
    for directory in search_path(es_path):
        if not os.path.isdir(directory):
            continue
        try:
            names = sorted(n for n in os.listdir(directory) if not n.startswith("."))
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            status, detail = load_provider(name, path)
            if status:
                result.append([name, path, True, "", detail.parameters])
            else:
                result.append([name, path, False, detail, []])
    return result


PROCEDURES = {
    "extstorage_diagnose": extstorage_diagnose,
}
