"""utils: the process boundary, atomic writes, units and key=value parsing."""

import os
import threading

import pytest

from ganeti import errors
from ganeti.utils import io, process, text


def test_run_cmd_captures_output_and_exit_code():
    res = process.run_cmd(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert res.stdout == "out\n" and res.stderr == "err\n"
    assert res.exit_code == 3 and res.failed
    assert "exited with exit code 3" in res.describe() and "err" in res.describe()


def test_run_cmd_refuses_shell_strings():
    with pytest.raises(errors.ProgrammerError):
        process.run_cmd("echo hi")


def test_run_cmd_timeout_kills_the_process_group():
    res = process.run_cmd(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.3)
    assert res.timed_out and res.failed and "timed out" in res.fail_reason


def test_run_cmd_missing_binary():
    res = process.run_cmd(["/nonexistent/tool"])
    assert res.failed and res.exit_code == 127


def test_run_cmd_reset_env():
    os.environ["GNT_TEST_MARKER"] = "1"
    try:
        res = process.run_cmd(["env"], reset_env=True)
        assert "GNT_TEST_MARKER" not in res.stdout
        assert "PATH=" in res.stdout
    finally:
        del os.environ["GNT_TEST_MARKER"]


def test_run_cmd_stdout_to_a_file(tmp_path):
    out = tmp_path / "out"
    res = process.run_cmd(["sh", "-c", "printf 'a\\0b'; echo err >&2"],
                          stdout_file=str(out))
    assert not res.failed and res.stdout == "" and res.stderr == "err\n"
    assert out.read_bytes() == b"a\0b"
    assert os.stat(out).st_mode & 0o777 == 0o600
    # an open descriptor is used as it is and left open
    fd = os.open(str(tmp_path / "out2"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        assert not process.run_cmd(["echo", "hello"], stdout_file=fd).failed
        os.write(fd, b"more\n")
    finally:
        os.close(fd)
    assert (tmp_path / "out2").read_text() == "hello\nmore\n"


def test_run_cmd_stdin_from_a_file(tmp_path):
    src = tmp_path / "in"
    src.write_bytes(b"line1\nline2\n")
    res = process.run_cmd(["wc", "-l"], stdin_file=str(src))
    assert res.stdout.strip() == "2"
    with open(src, "rb") as fd:
        assert process.run_cmd(["cat"], stdin_file=fd.fileno()).stdout == "line1\nline2\n"
    copy = tmp_path / "copy"
    assert not process.run_cmd(["cat"], stdin_file=str(src), stdout_file=str(copy)).failed
    assert copy.read_bytes() == src.read_bytes()
    # default stdin is still /dev/null
    assert process.run_cmd(["cat"]).stdout == ""


def test_run_cmd_redirection_errors(tmp_path):
    res = process.run_cmd(["cat"], stdin_file=str(tmp_path / "missing"))
    assert res.failed and "cannot redirect" in res.stderr
    res = process.run_cmd(["echo"], stdout_file=str(tmp_path / "no" / "dir"))
    assert res.failed and "cannot redirect" in res.stderr
    with pytest.raises(errors.ProgrammerError):
        process.run_cmd(["cat"], input_data="x", stdin_file=str(tmp_path / "missing"))


def test_write_file_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = str(tmp_path / "f")
    io.write_file(path, "one", mode=0o600)
    seen = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(io.read_file(path))
    t = threading.Thread(target=reader)
    t.start()
    for i in range(200):
        io.write_file(path, "content-%d" % i * 100)
    stop.set()
    t.join()
    assert all(s == "one" or s.startswith("content-") and len(s) % 100 == 0 for s in seen)
    assert os.listdir(tmp_path) == ["f"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_write_file_failure_leaves_old_content(tmp_path, monkeypatch):
    path = str(tmp_path / "f")
    io.write_file(path, "old")

    def broken_fsync(fd):
        raise OSError("disk on fire")
    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        io.write_file(path, "new")
    monkeypatch.undo()
    assert io.read_file(path) == "old"
    assert os.listdir(tmp_path) == ["f"]


@pytest.mark.parametrize("value,mib", [("512", 512), ("1G", 1024), ("1.5g", 1536),
                                       ("2T", 2097152), ("0.5M", 1), (" 10 m", 10)])
def test_parse_unit(value, mib):
    assert text.parse_unit(value) == mib


@pytest.mark.parametrize("value", ["", "abc", "1X", "-1G"])
def test_parse_unit_errors(value):
    with pytest.raises(errors.UnitParseError):
        text.parse_unit(value)


@pytest.mark.parametrize("mib,units,out", [(512, "h", "512M"), (1536, "h", "1.5G"),
                                           (203776, "h", "199.0G"), (2097152, "h", "2.0T"),
                                           (203776, "m", "203776"), (1536, "g", "1.5")])
def test_format_unit(mib, units, out):
    assert text.format_unit(mib, units) == out


def test_parse_key_values():
    assert text.parse_key_values(r"a=1,b,no_c,-d,e=x\,y") == {
        "a": "1", "b": True, "c": False, "d": None, "e": "x,y"}
    with pytest.raises(errors.ParameterError):
        text.parse_key_values("a=1,a=2")


def test_match_name_component():
    names = ["node1.example.com", "node10.example.com"]
    assert text.match_name_component("node1", names) == "node1.example.com"
    assert text.match_name_component("node1.example.com", names) == "node1.example.com"
    assert text.match_name_component("node", names) is None
