"""Node-side ExtStorage providers: finding and checking them (extstorage_diagnose).

A provider is a directory in the ExtStorage search path
(``constants.ES_SEARCH_PATH``, below the node's root in a virtual cluster)
holding the scripts of ganeti-extstorage-interface(7) and a
``parameters.list`` file. Only the check lives here: the ``ext`` disk
template that would run the scripts is not implemented yet.
"""

import errno
import os
import stat

from ganeti import constants, pathutils

#: the scripts every provider must have, in the order they are checked
REQUIRED_SCRIPTS = ("create", "remove", "grow", "attach", "detach", "setinfo", "verify")
#: scripts a provider may leave out (older providers have none of them)
OPTIONAL_SCRIPTS = ("snapshot", "open", "close")
PARAMETERS_FILE = "parameters.list"


def search_path(override=None):
    """The directories searched for providers, first one first."""
    if override is not None:
        return list(override)
    return [pathutils.root(path) for path in constants.ES_SEARCH_PATH]


def _check_file(provider_dir, filename, required, executable):
    """The file's path, None when an optional file is absent; ValueError with
    the reason when the file is unusable."""
    path = os.path.join(provider_dir, filename)
    try:
        st = os.stat(path)
    except OSError as err:
        if not required:
            return None
        reason = errno.errorcode.get(err.errno, str(err)) if err.errno else str(err)
        raise ValueError("File '%s' under path '%s' is missing (%s)"
                         % (filename, provider_dir, reason))
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("File '%s' under path '%s' is not a regular file"
                         % (filename, provider_dir))
    if executable and not st.st_mode & stat.S_IXUSR:
        raise ValueError("File '%s' under path '%s' is not executable"
                         % (filename, provider_dir))
    return path


def load_provider(name, provider_dir):
    """(True, parameters) for a valid provider, (False, reason) otherwise.

    ``parameters`` is [[name, description], ...] from parameters.list.
    """
    if not os.path.isdir(provider_dir):
        return False, ("Directory for External Storage Provider %s not found in"
                       " search path" % name)
    wanted = ([(f, True, True) for f in REQUIRED_SCRIPTS]
              + [(f, False, True) for f in OPTIONAL_SCRIPTS]
              + [(PARAMETERS_FILE, True, False)])
    try:
        found = dict((f, _check_file(provider_dir, f, required, executable))
                     for f, required, executable in wanted)
    except ValueError as err:
        return False, str(err)
    try:
        with open(found[PARAMETERS_FILE]) as fd:
            lines = fd.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        return False, ("Error while reading the EXT parameters file at %s: %s"
                       % (found[PARAMETERS_FILE], err))
    parameters = []
    for line in lines:
        parts = line.split(None, 1)
        if parts:
            parameters.append([parts[0], parts[1].strip() if len(parts) > 1 else ""])
    return True, parameters


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
                result.append([name, path, True, "", detail])
            else:
                result.append([name, path, False, detail, []])
    return result


PROCEDURES = {
    "extstorage_diagnose": extstorage_diagnose,
}
