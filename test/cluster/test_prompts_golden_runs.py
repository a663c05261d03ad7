"""The confirmation prompts against Ganeti 3.0.2's sample (golden/prompts-3.0.2.txt,
a copy of the spec sample prompts.txt): each command runs on a real pty, as
the sample's capturer ran it with script(1): the answer typed before the
command starts (so the terminal echoes it first), then the end of input.
The cluster is set up as the samples' gnt-instance sequence left it: inst1
(diskless) and inst2 (file) running on the first node, inst3 (file, two
disks) stopped on the second.

What the terminal showed (stdout and stderr merged) and the exit code are
compared after normalising times, job ids, node names and addresses and
column widths. Where this project answers differently on purpose, _DIFFERENT
holds our answer and why.
"""

import os
import re
import shlex
import sys

import pytest

import vcluster
from ganeti import constants
from golden_samples import (add_sample_instances, needs_noop, on_test_bed, sample_vcluster,
                            to_our_names, to_sample_names)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from ptyrun import PtySession  # noqa: E402

pytestmark = needs_noop
SAMPLE = os.path.join(os.path.dirname(__file__), "golden", "prompts-3.0.2.txt")
# how long a command may take on the pty (the sample's "?" answer never ended)
TIMEOUT = 60

_ENTRY = re.compile(r"^\$ ([^\n]*?)(?:   \(typed: '([^\n]*)'\))?\n"
                    r"\[exit (\d+|timeout)\]\n"
                    r"--- terminal [^\n]*\n(.*?)--- stderr of script\(1\)\n", re.S | re.M)


def entries(path):
    """[(command line, typed answer or None, exit code or None, terminal text)]."""
    with open(path) as fd:
        text = fd.read()
    found = []
    for cmdline, typed, code, shown in _ENTRY.findall(text):
        shown = shown.replace("\\r\\n\n", "\r\n")
        if shown.endswith("\n[no newline at end]\n"):
            shown = shown[:-len("\n[no newline at end]\n")]
        found.append((cmdline, typed or None, None if code == "timeout" else int(code),
                      shown))
    return found


# where this project's answer is not Ganeti's, and why: command line (with
# the typed answer) -> (exit code, terminal text)
_DIFFERENT = {
    # our own release, protocol and configuration numbers
    ("gnt-cluster version", None): (0, "".join(
        "%s\r\n" % line for line in (
            "Software version: %s" % constants.RELEASE_VERSION,
            "Internode protocol: %s" % constants.PROTOCOL_VERSION,
            "Configuration format: %s" % constants.CONFIG_VERSION,
            "OS api version: %s" % constants.OS_API_VERSION,
            "Export interface: %s" % constants.EXPORT_VERSION,
            "VCS version: %s" % constants.VCS_VERSION))),
    # the input ends after the "?": Ganeti asks again for ever (its capturer
    # killed it); here the end of input is the safe default, no
    ("gnt-instance remove inst5", "?"): (1, (
        "?\r\n"
        "This will remove the volumes of the instance inst5 (including\r\n"
        "mirrors), thus removing all the data of the instance. Continue?\r\n"
        "y/[n]/?:  y - Perform the operation\r\n"
        " n - Do not perform the operation\r\n"
        "\r\n"
        "This will remove the volumes of the instance inst5 (including\r\n"
        "mirrors), thus removing all the data of the instance. Continue?\r\n"
        "y/[n]/?: \r\n")),
}


def _as_the_instance_sequence_left_it(vc):
    add_sample_instances(vc)
    m = vc.master
    for name, be in (("inst1", "maxmem=512M,minmem=256M"),
                     ("inst3", "maxmem=256M,minmem=256M,vcpus=2,auto_balance=false")):
        m.run("gnt-instance", "modify", "-B", be, name, check=True)


@pytest.fixture(scope="module")
def vc():
    with sample_vcluster(_as_the_instance_sequence_left_it) as cluster:
        yield cluster


def _run_on_pty(vc, argv, typed):
    """(exit code or None if it did not end, what the terminal showed)."""
    argv = to_our_names(vc, argv)
    sess = PtySession([vcluster.PYTHON, os.path.join(vcluster.SRC, "scripts", argv[0])]
                      + argv[1:], env=vc.master.env)
    try:
        if typed is not None:
            # typed ahead, then the end of input (Ctrl-D), as script(1) passed it on
            sess.send(typed + "\n\x04")
        code = sess.finish(TIMEOUT)
    except Exception:      # pylint: disable=broad-except
        code = None
    finally:
        sess.close()
    text = to_sample_names(vc, sess.text)
    return code, text


def _normalise(text, vc):
    text = on_test_bed(text.replace("\r\n", "\n"), vc)
    return re.sub(r"Submitted jobs \d+(, \d+)*", "Submitted jobs <IDS>", text)


def test_prompts_answer_as_ganeti(vc):
    failures = []
    for cmdline, typed, code, shown in entries(SAMPLE):
        got = _run_on_pty(vc, shlex.split(cmdline), typed)
        expected = _DIFFERENT.get((cmdline, typed), (code, shown))
        if (got[0], _normalise(got[1], vc)) != (expected[0], _normalise(expected[1], vc)):
            failures.append("$ %s   (typed: %r)\n[exit %s, Ganeti's %s]\n--- ours\n%s\n"
                            "--- Ganeti's\n%s\n" % (cmdline, typed, got[0], expected[0],
                                                    got[1], expected[1]))
    assert not failures, "%d differ:\n%s" % (len(failures), "\n".join(failures))
