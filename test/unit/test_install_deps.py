"""tools/install-deps (the one list of Debian packages) and the README's two
commands: CI runs exactly the README's test command, and quickstart and CI
take their packages from install-deps only."""

import os
import re
import subprocess

import pytest

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOL = os.path.join(SRC, "tools", "install-deps")


def _read(rel):
    with open(os.path.join(SRC, rel)) as fd:
        return fd.read()


def _fake_bin(tmp_path, installed, uid=0):
    """A PATH where dpkg-query knows only ``installed`` and id says ``uid``."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "dpkg-query").write_text(
        "#!/bin/sh\nfor p in %s; do [ \"$p\" = \"$3\" ] && "
        "{ echo 'install ok installed'; exit 0; }; done\nexit 1\n" % " ".join(installed))
    (bindir / "id").write_text("#!/bin/sh\necho %d\n" % uid)
    (bindir / "apt-get").write_text("#!/bin/sh\necho \"apt-get $*\" >> %s\n"
                                    % (tmp_path / "apt.log"))
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    return str(bindir) + ":/usr/bin:/bin"


def _run(*args, path=None):
    env = dict(os.environ)
    if path:
        env["PATH"] = path
    return subprocess.run([TOOL] + list(args), capture_output=True, text=True, env=env,
                          cwd=SRC, timeout=30)


def _packages(*groups):
    proc = _run("--list", *groups)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_groups_hold_what_their_users_need():
    test = _packages("--test")
    quick = _packages("--quickstart")
    for pkg in ("python3-pytest", "python3-pytest-timeout", "python3-hypothesis",
                "busybox-static", "openssh-server", "autoconf", "python3-docutils",
                "qemu-system-x86", "ganeti-os-noop"):
        assert pkg in test, pkg
    for pkg in ("man-db", "cron", "python3-docutils", "python3-cryptography"):
        assert pkg in quick, pkg
    assert "python3-pytest" not in quick
    assert len(test) == len(set(test))
    assert set(_packages()) == set(test) | set(quick)


def test_check_names_the_missing_and_what_to_run(tmp_path):
    everything = _packages("--test")
    path = _fake_bin(tmp_path, [p for p in everything if p != "python3-pytest"])
    proc = _run("--check", "--test", path=path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "Missing Debian packages: python3-pytest; run: sudo %s --test" % TOOL]
    (tmp_path / "all").mkdir()
    proc = _run("--check", "--test", path=_fake_bin(tmp_path / "all", everything))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert not (tmp_path / "apt.log").exists()


def test_install_asks_apt_for_the_missing_only(tmp_path):
    path = _fake_bin(tmp_path, [p for p in _packages("--quickstart") if p != "cron"])
    proc = _run("--quickstart", path=path)
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "apt.log").read_text().splitlines()
    assert log == ["apt-get update -q",
                   "apt-get install -y -q --no-install-recommends cron"]


def test_install_without_root_says_so(tmp_path):
    path = _fake_bin(tmp_path, [], uid=1000)
    proc = _run("--build", path=path)
    assert proc.returncode == 2
    assert "installing needs root: sudo %s --build" % TOOL in proc.stderr
    assert not (tmp_path / "apt.log").exists()


@pytest.mark.parametrize("args", [["--bogus"], ["build"]])
def test_bad_arguments(args):
    proc = _run(*args)
    assert proc.returncode == 2
    assert "unknown argument" in proc.stderr and "Usage:" in proc.stderr


def _readme_test_command():
    block = _read("README").split("Run the tests::", 1)[1]
    lines = [l.strip() for l in block.splitlines()[1:] if l.strip()]
    return lines[0]


def test_ci_runs_exactly_the_readme_test_command():
    ci = _read(".ci/run")
    command = ci.split("# The README's test command:\n", 1)[1].strip()
    assert command == _readme_test_command()
    assert command.startswith("tools/install-deps --test && ")
    assert command.endswith("make check")


def test_no_package_list_outside_install_deps():
    for rel in ("tools/quickstart", ".ci/run"):
        text = _read(rel)
        assert not re.search(r"apt-get\s+install", text), rel
    assert '"$SRCDIR/tools/install-deps" --quickstart' in _read("tools/quickstart")


def test_test_tiers_have_unique_file_names():
    """One pytest run must be able to collect test/unit and test/cluster
    together: a module name in both tiers stops collection."""
    test_dir = os.path.join(os.path.dirname(__file__), "..")
    unit = {f for f in os.listdir(os.path.join(test_dir, "unit")) if f.endswith(".py")}
    cluster = {f for f in os.listdir(os.path.join(test_dir, "cluster"))
               if f.endswith(".py")}
    assert not (unit & cluster - {"conftest.py"}), sorted(unit & cluster)
