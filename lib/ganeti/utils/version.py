"""Version strings and which version changes gnt-cluster upgrade may make.

Versions are this project's own (constants.PACKAGE_VERSION), written "X.Y" or
"X.Y.Z" as Ganeti's are; the rules follow Ganeti's: the same major version,
upgrades to any later minor version, downgrades by one minor version at a time.
"""

import re

from ganeti import constants

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")

# the first version installed in versioned directories, so the first one that
# gnt-cluster upgrade can switch to or from
FIRST_UPGRADE_VERSION = (0, 1, 0)


def parse_version(text):
    """(major, minor, revision) of "X.Y" or "X.Y.Z"; None if it is neither."""
    match = _VERSION_RE.match(text or "")
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def current_version():
    return parse_version(constants.PACKAGE_VERSION)


def dir_version(version):
    """The name of ``version``'s install directories ("X.Y")."""
    return "%d.%d" % version[:2]


def upgrade_range(target, current=None):
    """None if gnt-cluster upgrade may go from ``current`` to ``target``, else why not."""
    current = current or current_version()
    if target < FIRST_UPGRADE_VERSION or current < FIRST_UPGRADE_VERSION:
        return ("automatic upgrades only supported from %s onwards"
                % dir_version(FIRST_UPGRADE_VERSION))
    if target[0] != current[0]:
        return "major version up- or downgrades are not supported"
    if target[1] < current[1] - 1:
        return "can only downgrade one minor version at a time"
    return None


def should_cfgdowngrade(target, current=None):
    """Whether going to ``target`` is a downgrade of the configuration (one minor
    version back), which cfgupgrade --downgrade must prepare."""
    current = current or current_version()
    return target[0] == current[0] and target[1] == current[1] - 1


def is_before(version, major, minor, revision):
    """Whether ``version`` (a tuple) is strictly older than major.minor.revision."""
    return version < (major, minor, revision)
