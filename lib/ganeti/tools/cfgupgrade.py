"""cfgupgrade: check that this version reads the cluster's configuration before
gnt-cluster upgrade switches to it (or, with --downgrade, that the version one
minor release older does).

Ganeti's tool converts config.data between formats. Every version of this
project so far keeps one format, Ganeti 2.16's (constants.CONFIG_VERSION), so
there is nothing to convert: the tool reads the master's copy of the
configuration (config.data, written from etcd at every change), checks its
format number and that it parses, and refuses what it cannot read (a Ganeti
3.0 file, a damaged one). It writes nothing. A version that changes the
format adds its conversion here.
"""

import optparse
import sys

from ganeti import constants, errors, objects, pathutils, serializer
from ganeti.utils import io

# the configuration formats each direction accepts: (major, minor) of the file
_READS = {(constants.CONFIG_MAJOR, constants.CONFIG_MINOR)}
# the version one minor release older reads the same format (no version of
# ours changed it)
_OLDER_READS = _READS


def _format(number):
    major, rest = divmod(number, 1000000)
    minor, revision = divmod(rest, 10000)
    return major, minor, revision


def check(path, downgrade=False):
    """A line saying what was found; raises ConfigurationError for a file the
    wanted version cannot read."""
    try:
        data = serializer.load_json(io.read_file(path))
    except (OSError, ValueError) as err:
        raise errors.ConfigurationError("Cannot read the configuration %s: %s" % (path, err))
    number = data.get("version") if isinstance(data, dict) else None
    if not isinstance(number, int):
        raise errors.ConfigurationError("%s has no configuration version" % path)
    major, minor, revision = _format(number)
    readable = _OLDER_READS if downgrade else _READS
    if (major, minor) not in readable:
        raise errors.ConfigurationError(
            "Configuration version %d.%d.%d of %s cannot be %s: the %s version reads %s"
            % (major, minor, revision, path, "downgraded" if downgrade else "upgraded",
               "older" if downgrade else "new",
               ", ".join("%d.%d" % f for f in sorted(readable))))
    try:
        config = objects.ConfigData.from_dict(data)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        raise errors.ConfigurationError("Cannot parse %s: %s" % (path, err))
    if config.cluster is None:
        raise errors.ConfigurationError("%s has no cluster section" % path)
    return ("Configuration %s is in format %d.%d.%d, which the %s version reads;"
            " nothing to convert" % (path, major, minor, revision,
                                     "older" if downgrade else "new"))


def main(argv=None):
    parser = optparse.OptionParser(
        usage="%prog [--downgrade] [--path FILE] [-v]",
        description="Checks that the cluster configuration can be used by this version"
        " (or, with --downgrade, by the version one minor release older).")
    parser.add_option("--path", default=pathutils.CLUSTER_CONF_FILE,
                      help="the configuration file (default: %default)")
    parser.add_option("--downgrade", action="store_true", default=False,
                      help="check for the version one minor release older")
    parser.add_option("-v", "--verbose", action="store_true", default=False,
                      help="say what was found")
    opts, args = parser.parse_args(argv)
    if args:
        parser.error("no arguments expected")
    try:
        line = check(opts.path, downgrade=opts.downgrade)
    except errors.ConfigurationError as err:
        sys.stderr.write("cfgupgrade: %s\n" % err)
        return 1
    if opts.verbose:
        sys.stdout.write(line + "\n")
    return 0
