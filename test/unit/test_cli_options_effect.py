"""Options that used to be accepted and then ignored: each one now acts, or is
refused with a clear error (issue 7, section 4; doc/cli-options.rst)."""

import io
import sys
import types

import pytest

from ganeti import constants, daemon, watcher
from ganeti.server import masterd, noded


# ---- daemons -------------------------------------------------------------------------

def _run_main(monkeypatch, main, argv, stdin=""):
    """main() with argv; (result or exit code, calls of run_daemon)."""
    calls = []
    monkeypatch.setattr(daemon, "run_daemon", lambda *a: calls.append(a) or 0)
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        result = main()
    except SystemExit as exc:
        result = exc.code
    return result, calls


@pytest.mark.parametrize("option", [["-b", "127.0.0.1"], ["--bind=127.0.0.1"],
                                    ["-p", "1811"], ["--port=1811"]])
def test_masterd_has_no_bind_or_port(monkeypatch, capsys, option):
    """Ganeti's masterd is no network daemon: optparse refuses -b/-p."""
    code, calls = _run_main(monkeypatch, masterd.main, ["ganeti-masterd"] + option)
    assert code == 2 and not calls
    assert "no such option" in capsys.readouterr().err


def test_noded_keeps_bind_and_port_and_refuses_no_ssl(monkeypatch, capsys):
    code, calls = _run_main(monkeypatch, noded.main,
                            ["ganeti-noded", "-b", "127.0.0.1", "-p", "1999"])
    assert len(calls) == 1
    options = calls[0][1]
    assert (options.bind_address, options.port) == ("127.0.0.1", 1999)
    code, calls = _run_main(monkeypatch, noded.main, ["ganeti-noded", "--no-ssl"])
    assert code == 2 and not calls
    assert "--no-ssl is not supported: the node daemon always uses TLS" in \
        capsys.readouterr().err


@pytest.mark.parametrize("answer,starts", [("YES\n", True), ("yes\n", False), ("", False)])
def test_masterd_no_voting_asks_for_uppercase_yes(monkeypatch, capsys, answer, starts):
    code, calls = _run_main(monkeypatch, masterd.main,
                            ["ganeti-masterd", "--no-voting"], stdin=answer)
    out, err = capsys.readouterr()
    assert out == ("The 'no voting' option has been selected.\nThis is dangerous,"
                   " please confirm by typing uppercase 'yes': ")
    assert bool(calls) == starts
    if not starts:
        assert code == constants.EXIT_FAILURE and err == "Aborting.\n"


def test_masterd_yes_do_it_skips_the_question(monkeypatch, capsys):
    _, calls = _run_main(monkeypatch, masterd.main,
                         ["ganeti-masterd", "--no-voting", "--yes-do-it"])
    assert len(calls) == 1 and calls[0][1].no_voting
    assert capsys.readouterr().out == ""


def test_watcher_wait_children_is_the_default_and_no_wait_is_refused(capsys):
    assert watcher.parse_options([]).wait_children
    assert watcher.parse_options(["--wait-children"]).wait_children
    with pytest.raises(SystemExit) as exc:
        watcher.parse_options(["--no-wait-children"])
    assert exc.value.code == 2
    assert "--no-wait-children is not supported" in capsys.readouterr().err
