"""post-upgrade: the tasks a version runs once, after gnt-cluster upgrade
switched the cluster to it from an older version (Ganeti's tools/post-upgrade).

The argument is the version upgraded from. Each task names the first version
that no longer needs it; the tasks of every version after the old one run, in
order. The first versioned release (0.1) has none: there is no older
installation of this project to bring forward.
"""

import sys

from ganeti.utils import version

# (first version that does not need the task, description, function)
TASKS = []


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("Expecting precisely one argument, the version upgrading from\n")
        return 1
    old = version.parse_version(argv[0])
    if old is None:
        sys.stderr.write("Could not parse version string %s\n" % argv[0])
        return 1
    exit_code = 0
    for until, description, task in TASKS:
        if version.is_before(old, *until):
            try:
                task()
            except Exception as err:     # pylint: disable=broad-except
                sys.stderr.write("Failed to %s: %s\n" % (description, err))
                exit_code = 1
    return exit_code
