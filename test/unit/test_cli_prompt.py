"""Confirmation questions, asked on a real pseudo-terminal (as Ganeti asks them)."""

import io
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from ptyrun import PtySession  # noqa: E402

from ganeti import cli, cli_prompt  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
PROMPT = "y/[n]/?: "
ASK = ("import sys; from ganeti import cli; "
       "print('ANSWER', cli.ask_user('Really remove everything?'))")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(SRC, "lib")
    # no master daemon: a command that goes past its question fails to connect
    env["FORCE_LUXI_SOCKET"] = "/nonexistent/ganeti-test.sock"
    env.pop("GANETI_ROOTDIR", None)
    return env


def _session(*argv):
    return PtySession([PYTHON] + list(argv), env=_env())


def _gnt(tool, *args):
    return _session(os.path.join(SRC, "scripts", tool), *args)


def _answer(sess, answers, mark=False):
    """Type each answer after each prompt; the exit code once the process ends.

    With ``mark``, each prompt answered is shown as <PROMPT> in sess.text.
    """
    try:
        for answer in answers:
            sess.expect(PROMPT)
            if mark:
                sess.output = sess.output.replace(PROMPT.encode(), b"<PROMPT>", 1)
            sess.send(answer)
        return sess.finish(30)
    finally:
        sess.close()


def _ask(answers):
    """Run ask_user on a pty, typing the answers."""
    sess = _session("-c", ASK)
    return _answer(sess, answers, mark=True), sess.text


def test_yes_on_a_terminal():
    code, out = _ask(["y\n"])
    assert code == 0
    assert out.startswith("Really remove everything?\r\n<PROMPT>y\r\n"), out
    assert "ANSWER True" in out


def test_no_on_a_terminal():
    code, out = _ask(["n\n"])
    assert "ANSWER False" in out and code == 0


def test_question_mark_lists_the_choices_and_asks_again():
    code, out = _ask(["?\n", "Y\n"])
    assert (" y - Perform the operation\r\n n - Do not perform the operation\r\n\r\n"
            "Really remove everything?\r\n<PROMPT>Y\r\n") in out, out
    assert "ANSWER True" in out


def test_empty_or_unknown_answer_asks_again():
    code, out = _ask(["\n", "maybe\n", "n\n"])
    assert out.count("Really remove everything?") == 3, out
    assert "ANSWER False" in out


def test_end_of_input_is_no():
    # Ctrl-D at the start of a line: the read returns nothing
    code, out = _ask(["\x04"])
    assert "ANSWER False" in out and code == 0


def test_long_question_is_wrapped_at_70_columns():
    question = ("This will remove the volumes of the instance inst5 (including mirrors),"
                " thus removing all the data of the instance. Continue?")
    tty = _FakeTerminal(["n\n"])
    assert cli.ask_user(question, tty=tty) is False
    assert tty.getvalue().startswith(
        "This will remove the volumes of the instance inst5 (including\n"
        "mirrors), thus removing all the data of the instance. Continue?\n"
        "y/[n]/?: ")


class _FakeTerminal(io.StringIO):
    """For the pure text logic only; the terminal itself is tested on a pty above."""

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)

    def readline(self):
        return self.answers.pop(0) if self.answers else ""


def test_confirm_operation_lists_the_names():
    tty = _FakeTerminal(["y\n"])
    assert cli.confirm_operation(["inst1", "inst2"], "instances", "shutdown", tty=tty)
    assert tty.getvalue() == ("The shutdown will operate on 2 instances.\n"
                              "Do you want to continue?\n"
                              "Affected instances:\n  inst1\n  inst2\ny/[n]/?: ")


def test_confirm_operation_with_many_names_offers_to_view_them():
    names = ["inst%d" % i for i in range(21)]
    tty = _FakeTerminal(["v\n", "?\n", "y\n"])
    assert cli.confirm_operation(names, "instances", "startup", tty=tty) is True
    out = tty.getvalue()
    first, second = out.split("y/v/[n]/?: ", 1)
    assert "Affected" not in first
    assert second.startswith("The startup will operate on 21 instances.\n")
    assert "  inst20\ny/[n]/?: " in second
    assert " y - Yes, execute the startup\n n - No, abort the startup\n" in second


def test_invalid_choices_are_a_programming_error():
    from ganeti import errors
    for bad in ([("?", 1, "help")], [("y", 1)], [], "yn"):
        with pytest.raises(errors.ProgrammerError):
            cli_prompt.ask_user("x", bad, tty=_FakeTerminal([]))


# ---- the commands that ask (no master needed: the question comes first) ----------

RENAME_QUESTION = ("As you disabled the check of the DNS entry, please verify that\r\n"
                   "'inst5b.example.com' is a FQDN. Continue?\r\n" + PROMPT)


def test_instance_rename_without_name_check_asks_and_no_aborts():
    sess = _gnt("gnt-instance", "rename", "--no-name-check", "--no-ip-check",
                "inst5.example.com", "inst5b.example.com")
    code = _answer(sess, ["n\n"])
    assert code == 1
    assert sess.text == RENAME_QUESTION + "n\r\n"


def test_instance_rename_without_name_check_yes_goes_on():
    sess = _gnt("gnt-instance", "rename", "--no-name-check", "--no-ip-check",
                "inst5.example.com", "inst5b.example.com")
    code = _answer(sess, ["y\n"])
    assert sess.text.startswith(RENAME_QUESTION + "y\r\n")
    # it went on to submit the job: the master is not there
    assert "Cannot communicate with" in sess.text and code != 0


def test_instance_rename_with_force_does_not_ask():
    sess = _gnt("gnt-instance", "rename", "-f", "--no-name-check", "inst5.example.com",
                "inst5b.example.com")
    code = sess.finish(30)
    assert "Continue?" not in sess.text and "Cannot communicate with" in sess.text
    assert code != 0


def test_master_failover_no_voting_asks():
    sess = _gnt("gnt-cluster", "master-failover", "--no-voting")
    code = _answer(sess, ["n\n"])
    assert code == 1
    assert sess.text == (
        "This will perform the failover even if most other nodes are down, or\r\n"
        "if this node is outdated. This is dangerous as it can lead to a non-\r\n"
        "consistent cluster. Check the gnt-cluster(8) man page before\r\n"
        "proceeding. Continue?\r\n" + PROMPT + "n\r\n")


def test_without_terminal_commands_answer_no_silently(tmp_path):
    import subprocess
    result = subprocess.run(
        [PYTHON, os.path.join(SRC, "scripts", "gnt-instance"), "rename",
         "--no-name-check", "a.example.com", "b.example.com"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_env(),
        start_new_session=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == "" and result.stderr == ""
