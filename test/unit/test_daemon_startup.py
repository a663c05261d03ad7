"""Daemon start-up order: detach first, prepare in the daemon, never fork with
threads alive (issue 8 part 5: a fork after the master's threaded TLS vote
could leave a lock held forever in the daemon)."""

import ast
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from ganeti import daemon, errors
from ganeti.utils import pidfile
from test_daemon_pidfile import _stop

HOST = "node1.example.com"
LIB = os.path.join(os.path.dirname(__file__), "..", "..", "lib")

# a minimal daemon; PRE runs before run_daemon, PREPARE is prepare's body; prepare
# records its PID in sys.argv[1] (what the tests compare with the daemon's PID)
_TEMPLATE = """
import os, sys, threading, time
from ganeti import constants, daemon, errors
%(pre)s
def prepare(opts):
    with open(sys.argv[1], "a") as fd:
        fd.write("%%d\\n" %% os.getpid())
%(prepare)s
def run(opts, ready, stop):
    with open(sys.argv[1] + ".run", "w") as fd:
        fd.write("%%d %%d\\n" %% (os.getpid(), len(os.listdir("/proc/self/task"))))
    ready()
    stop.wait()
opts, _ = daemon.build_option_parser(constants.MASTERD).parse_args(sys.argv[2:])
daemon.run_daemon(constants.MASTERD, opts, prepare, run)
"""


def _indent(code):
    return textwrap.indent(textwrap.dedent(code), "    ") if code else ""


@pytest.fixture
def node(tmp_path):
    """start(prepare_code, pre_code, *args) -> the finished starting process, its
    output in .stdout and .stderr."""
    root = tmp_path / HOST
    root.mkdir()
    env = dict(os.environ, GANETI_ROOTDIR=str(root), GANETI_HOSTNAME=HOST,
               PYTHONPATH=os.path.abspath(LIB))
    marks = tmp_path / "marks"

    def start(prepare="", pre="", *args):
        script = _TEMPLATE % {"pre": textwrap.dedent(pre), "prepare": _indent(prepare)}
        proc = subprocess.Popen([sys.executable, "-c", script, str(marks)] + list(args),
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        proc.stdout, proc.stderr = proc.communicate(timeout=60)
        return proc

    pid_path = root / "var/run/ganeti/ganeti-masterd.pid"
    start.pid_path = pid_path
    start.marks = marks
    yield start
    if pidfile.is_pid_file_locked(str(pid_path)):
        _stop(pidfile._parse_pid(pid_path.read_bytes()))


def _prepare_pids(start):
    return [int(line) for line in start.marks.read_text().split()]


def _run_mark(start):
    """(PID, live threads) of the daemon when exec_fn began."""
    with open(str(start.marks) + ".run") as fd:
        return tuple(int(word) for word in fd.read().split())


def test_prepare_runs_in_the_detached_daemon(node):
    proc = node()
    assert proc.returncode == 0, proc.stderr
    pid = int(node.pid_path.read_text())
    # before the fix prepare ran in the starting process, before the fork
    assert _prepare_pids(node) == [pid]
    assert pid != proc.pid
    assert _run_mark(node)[0] == pid
    _stop(pid)
    assert not node.pid_path.exists()


def test_threads_and_tls_in_prepare_do_not_stop_the_start(node):
    """What masterd's start-up vote does: TLS in threads still alive when prepare
    returns. The daemon must start and serve (no fork follows them)."""
    proc = node("""
        import ssl
        def talk():
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            time.sleep(30)
        threading.Thread(target=talk, name="rpc-vote", daemon=True).start()
    """)
    assert proc.returncode == 0, proc.stderr
    pid = int(node.pid_path.read_text())
    assert _prepare_pids(node) == [pid]
    run_pid, threads = _run_mark(node)
    assert run_pid == pid and threads >= 2      # the vote's thread lives on, unforked


def test_prepare_failure_reaches_the_starter_and_frees_the_pid_file(node):
    proc = node("""
        sys.stderr.write("a warning of prepare\\n")
        raise errors.GenericError("Cannot start the master daemon: boom")
    """)
    assert proc.returncode == 1
    assert proc.stderr == ("a warning of prepare\n"
                           "ganeti-masterd: Cannot start the master daemon: boom\n")
    assert proc.stdout == ""
    (prepare_pid,) = _prepare_pids(node)
    assert prepare_pid != proc.pid            # it failed in the daemon process
    assert not node.pid_path.exists()
    again = node()                            # the pid file is free right away
    assert again.returncode == 0, again.stderr


def test_prepare_failure_in_the_foreground_is_unchanged(node):
    proc = node("""raise errors.GenericError("This node (x) is not the master (y)")""",
                "", "-f")
    assert proc.returncode == 1
    assert proc.stderr == "ganeti-masterd: This node (x) is not the master (y)\n"
    assert _prepare_pids(node) == [proc.pid]
    assert not node.pid_path.exists()


def test_unexpected_error_in_prepare_is_reported(node):
    proc = node("""raise KeyError("no such thing")""")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "KeyError" in proc.stderr
    assert proc.stderr.endswith("ganeti-masterd: 'no such thing'\n")
    assert not node.pid_path.exists()


def test_detach_refuses_to_fork_with_a_thread_alive(node):
    proc = node("", """
        threading.Thread(target=time.sleep, args=(30,), name="early-rpc",
                         daemon=True).start()
    """)
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        "ganeti-masterd: Refusing to fork the daemon with 2 threads alive (other"
        " threads: early-rpc): a lock one of them holds"), proc.stderr
    assert not node.marks.exists()            # prepare never ran
    assert not node.pid_path.exists()


def test_check_single_threaded_in_process(monkeypatch):
    def no_fork():
        # never fork the test runner itself, even when the guard is missing
        raise AssertionError("_detach forked with a thread alive")
    monkeypatch.setattr(os, "fork", no_fork)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="tls-helper", daemon=True)
    thread.start()
    try:
        with pytest.raises(errors.ProgrammerError) as exc:
            daemon._detach("ganeti-masterd", "/nonexistent/log")
    finally:
        stop.set()
        thread.join()
    assert "tls-helper" in str(exc.value) and "Refusing to fork the daemon" in \
        str(exc.value)


def test_live_thread_count_sees_native_threads():
    before = daemon.live_thread_count()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert daemon.live_thread_count() == before + 1
    finally:
        stop.set()
        thread.join()


def test_importing_the_daemons_starts_no_thread_and_no_tls():
    """A fork would inherit what imports create: no thread, no TLS context."""
    code = textwrap.dedent("""
        import os, ssl, threading
        made = []
        orig = ssl.SSLContext.__new__
        def counting(cls, *args, **kwargs):
            made.append(cls)
            return orig(cls, *args, **kwargs)
        ssl.SSLContext.__new__ = counting
        import importlib, pkgutil
        import ganeti.server
        daemons = [m.name for m in pkgutil.iter_modules(ganeti.server.__path__)]
        for name in daemons:          # every daemon's module (masterd, noded, ...)
            importlib.import_module("ganeti.server." + name)
        from ganeti import failover, nodejoin, rpc, watcher, daemon_util
        from ganeti.http import client, server
        print(threading.active_count(), len(os.listdir("/proc/self/task")), len(made),
              " ".join(sorted(daemons)))
    """)
    env = dict(os.environ, PYTHONPATH=os.path.abspath(LIB))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    threads, tasks, contexts, daemons = out.split(None, 3)
    assert (threads, tasks, contexts) == ("1", "1", "0")
    assert {"masterd", "noded"} <= set(daemons.split())


def _python_sources():
    """Our Python files: lib/, and the programs in daemons/, scripts/, tools/."""
    top = os.path.abspath(os.path.join(LIB, ".."))
    for dirpath, _, files in os.walk(os.path.join(top, "lib")):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(dirpath, name)
    for sub in ("daemons", "scripts", "tools"):
        for name in os.listdir(os.path.join(top, sub)):
            path = os.path.join(top, sub, name)
            with open(path, "rb") as fd:
                first = fd.readline()
            if first.startswith(b"#!") and b"python" in first:
                yield path


def _fork_sites(path):
    """(line, what) of every fork, preexec_fn and multiprocessing use in ``path``."""
    with open(path, encoding="utf-8") as fd:
        tree = ast.parse(fd.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("fork", "forkpty") \
                    and isinstance(func.value, ast.Name) and func.value.id == "os":
                yield node.lineno, "os.%s()" % func.attr
            for kw in node.keywords:
                if kw.arg == "preexec_fn":
                    yield node.lineno, "preexec_fn"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n.split(".")[0] == "multiprocessing" for n in names):
                yield node.lineno, "multiprocessing"


def test_only_the_guarded_detach_forks():
    """Python code that forks without exec must go through daemon._detach, which
    refuses while other threads live; preexec_fn and multiprocessing fork a
    possibly threaded process too (subprocess without preexec_fn is safe: the
    child only execs)."""
    sites = {}
    for path in _python_sources():
        found = list(_fork_sites(path))
        if found:
            sites[os.path.relpath(path, os.path.abspath(os.path.join(LIB, "..")))] = found
    assert set(sites) == {"lib/ganeti/daemon.py"}, sites
    assert [what for _, what in sites["lib/ganeti/daemon.py"]] == ["os.fork()"] * 2
