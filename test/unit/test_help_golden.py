"""Every ``gnt-* --help`` and ``gnt-* COMMAND --help`` the project has, compared
byte for byte (and exit code) with Ganeti 3.0.2's (test/unit/data/ganeti-3.0.2/
help.txt, captured from a live cluster: see its README in the project's doc).

Commands whose help is not identical yet are listed, one per line, in
test/unit/data/help-known-different/<program>.txt: their test is expected to
fail (strict: once identical, the entry must go). Commands the project lacks
are skipped; a program's own --help (the command list) is compared once the
project has all of its commands.
"""

import contextlib
import importlib
import io
import os
import re

import pytest

from ganeti import cli

DATA = os.path.join(os.path.dirname(__file__), "data")
PROGRAMS = {"gnt-cluster": "gnt_cluster", "gnt-node": "gnt_node",
            "gnt-instance": "gnt_instance", "gnt-os": "gnt_os", "gnt-job": "gnt_job",
            "gnt-debug": "gnt_debug", "gnt-group": "gnt_group", "gnt-backup": "gnt_backup",
            "gnt-network": "gnt_network", "gnt-filter": "gnt_filter",
            "gnt-storage": "gnt_storage"}


def _entries():
    with open(os.path.join(DATA, "ganeti-3.0.2", "help.txt")) as fd:
        text = fd.read()
    return re.findall(r"^\$ ([^\n]*)\n\[exit (\d+)\]\n--- stdout\n(.*?)--- stderr\n",
                      text, re.M | re.S)


def _known_different(program):
    path = os.path.join(DATA, "help-known-different", program + ".txt")
    if not os.path.exists(path):
        return set()
    with open(path) as fd:
        return set(line.strip() for line in fd if line.strip()
                   and not line.startswith("#"))


def _cases():
    cases = []
    for cmdline, code, out in _entries():
        words = cmdline.split()
        if words[0] not in PROGRAMS or words[-1] != "--help":
            continue
        module = importlib.import_module("ganeti.client." + PROGRAMS[words[0]])
        marks = []
        if len(words) == 3 and words[1] not in module.COMMANDS:
            marks.append(pytest.mark.skip(reason="the project has no %s %s yet"
                                          % tuple(words[:2])))
        elif len(words) == 2:
            theirs = set(re.findall(r"^ (\S+) +- ", out, re.M))
            if theirs != set(module.COMMANDS):
                marks.append(pytest.mark.skip(reason="%s lacks commands: %s" % (
                    words[0], ", ".join(sorted(theirs - set(module.COMMANDS))))))
        if cmdline in _known_different(words[0]):
            marks.append(pytest.mark.xfail(strict=True, reason="not identical yet"))
        cases.append(pytest.param(words, int(code), out, module, id=cmdline,
                                  marks=marks))
    return cases


@pytest.mark.parametrize("words,code,expected,module", _cases())
def test_help_is_ganetis(words, code, expected, module):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.generic_main(module.COMMANDS, aliases=getattr(module, "ALIASES", None),
                                  argv=list(words))
        except SystemExit as exc:
            rc = exc.code
    assert out.getvalue() == expected
    assert rc == code
