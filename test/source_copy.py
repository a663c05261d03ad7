"""A copy of this source tree as a newcomer gets it (what git tracks that a
build uses, without what an in-place build made), optionally with another
version in configure.ac: for the tests that build and install it."""

import os
import re
import shutil

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SOURCES = ("configure.ac", "Makefile.am", "autogen.sh", "README", "INSTALL",
           "lib", "daemons", "scripts", "doc", "tools")
# left out of the copy: what an in-place build of this tree made
GENERATED = ("__pycache__", "*.pyc", "*.tmp", "*.8", "_autoconf.py", "daemon-util",
             "ganeti.initd", "ganeti.cron")


def copy_tree(dest, version=None):
    """Copy the tree to the new directory ``dest``; ``version`` (X.Y.Z) replaces
    configure.ac's."""
    os.makedirs(dest)
    for name in SOURCES:
        path = os.path.join(TOP, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(dest, name),
                            ignore=shutil.ignore_patterns(*GENERATED))
        else:
            shutil.copy2(path, os.path.join(dest, name))
    if version:
        path = os.path.join(dest, "configure.ac")
        with open(path) as fd:
            text = fd.read()
        text, count = re.subn(r"AC_INIT\(\[ganeti\], \[[0-9.]+\]",
                              "AC_INIT([ganeti], [%s]" % version, text)
        assert count == 1
        with open(path, "w") as fd:
            fd.write(text)
