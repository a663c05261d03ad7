"""make install keeps our package "ganeti" off the interpreter's sys.path.

Why: Debian's python3-ganeti-rapi installs another package named ganeti (the
RAPI client) into /usr/lib/python3/dist-packages, and a node may need both.
A copy of the tree is configured, built and installed under a temporary
prefix: Debian's client must still import, our programs and the Python helper
processes they start must import the installed package, and make uninstall
must remove it but never a "ganeti" directory that a Debian package owns.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
DEBIAN_PKG = "/usr/lib/python3/dist-packages/ganeti"
SOURCES = ("configure.ac", "Makefile.am", "autogen.sh", "README", "INSTALL",
           "lib", "daemons", "scripts", "doc")
# left out of the copy: what an in-place build of this tree made
GENERATED = ("__pycache__", "*.pyc", "*.tmp", "*.8", "_autoconf.py", "daemon-util",
             "ganeti.initd", "ganeti.cron")


def _run(argv, cwd, env=None, check=True):
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, "%s: %s%s" % (argv, proc.stdout, proc.stderr[-2000:])
    return proc


def _clean_env(**extra):
    """Our environment without PYTHONPATH (the tests set it to lib/)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    for tool in ("autoreconf", "make", "rst2man"):
        if not shutil.which(tool):
            pytest.skip("%s is missing (tools/install-deps --build)" % tool)
    root = str(tmp_path_factory.mktemp("install"))
    src = os.path.join(root, "src")
    os.mkdir(src)
    for name in SOURCES:
        path = os.path.join(TOP, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(src, name),
                            ignore=shutil.ignore_patterns(*GENERATED))
        else:
            shutil.copy2(path, os.path.join(src, name))
    _run(["sh", "autogen.sh"], src)
    build = os.path.join(root, "build")
    os.mkdir(build)
    prefix = os.path.join(root, "usr")
    conf = _run(["sh", os.path.join(src, "configure"), "PYTHON=" + PYTHON,
                 "--prefix=" + prefix, "--sysconfdir=" + os.path.join(root, "etc"),
                 "--localstatedir=" + os.path.join(root, "var")], build)
    srv = "srvdir=" + os.path.join(root, "srv")
    _run(["make", "-j2", "install", srv], build)
    return {"root": root, "build": build, "srv": srv, "configure": conf.stdout,
            "pythondir": os.path.join(prefix, "share", "ganeti"),
            "sbindir": os.path.join(prefix, "sbin"),
            "daemon_util": os.path.join(prefix, "lib", "ganeti", "daemon-util")}


def test_default_pythondir_is_off_sys_path(inst):
    assert "Python package:  %s/ganeti\n" % inst["pythondir"] in inst["configure"]
    assert "is not on\n  %s's sys.path" % PYTHON in inst["configure"]
    assert os.path.isfile(os.path.join(inst["pythondir"], "ganeti", "_autoconf.py"))
    out = _run([PYTHON, "-c", "import sys; print('\\n'.join(sys.path))"], inst["root"],
               env=_clean_env()).stdout
    assert inst["pythondir"] not in out.splitlines()


def test_debian_rapi_client_still_imports(inst):
    if not os.path.isfile(os.path.join(DEBIAN_PKG, "rapi", "client.py")):
        pytest.skip("python3-ganeti-rapi is not installed (no %s)" % DEBIAN_PKG)
    out = _run([PYTHON, "-c", "import ganeti.rapi.client; print(ganeti.rapi.client.__file__)"],
               inst["root"], env=_clean_env()).stdout
    assert out.strip() == os.path.join(DEBIAN_PKG, "rapi", "client.py")


@pytest.mark.parametrize("program", ["gnt-cluster --version", "daemon-util --help"])
def test_installed_program_imports_the_installed_package(inst, program):
    name, arg = program.split()
    path = inst["daemon_util"] if name == "daemon-util" else os.path.join(inst["sbindir"], name)
    proc = _run([path, arg], inst["root"], env=_clean_env(PYTHONVERBOSE="1"))
    assert proc.stdout.startswith("gnt-cluster (ganeti-py " if name == "gnt-cluster"
                                  else "Usage: daemon-util")
    # python -v names the file each module is loaded from
    dirs = set(re.findall(r"(/[^\s']+)/ganeti/(?:__pycache__/)?__init__\.", proc.stderr))
    assert dirs == {inst["pythondir"]}


def test_spawned_python_process_finds_the_installed_package(inst):
    # what backend/impexp does to start ganeti.impexpd, from the installed package
    code = ("import subprocess, sys; sys.path.insert(0, %r)\n"
            "from ganeti.utils import process\n"
            "child = 'import ganeti, ganeti.impexpd; print(ganeti.__file__)'\n"
            "print(subprocess.run([sys.executable, '-c', child], env=process.package_env(),"
            " capture_output=True, text=True, check=True).stdout, end='')"
            % inst["pythondir"])
    out = _run([PYTHON, "-c", code], inst["root"], env=_clean_env()).stdout
    assert out.strip() == os.path.join(inst["pythondir"], "ganeti", "__init__.py")


def test_uninstall_leaves_a_debian_owned_package_and_removes_ours(inst):
    pkgdir = os.path.join(inst["pythondir"], "ganeti")
    # a dpkg-query that claims every path for a Debian package
    fake_bin = os.path.join(inst["root"], "fake-dpkg")
    os.mkdir(fake_bin)
    with open(os.path.join(fake_bin, "dpkg-query"), "w") as fd:
        fd.write("#!/bin/sh\nexit 0\n")
    os.chmod(os.path.join(fake_bin, "dpkg-query"), 0o755)
    debian = _clean_env(PATH=fake_bin + os.pathsep + os.environ["PATH"])
    proc = _run(["make", "uninstall", inst["srv"]], inst["build"], env=debian)
    assert "Left in place: %s (a Debian package's)" % pkgdir in proc.stdout
    assert os.path.isfile(os.path.join(pkgdir, "__init__.py"))
    proc = _run(["make", "install", inst["srv"]], inst["build"], env=debian, check=False)
    assert proc.returncode != 0 and "belongs to a Debian package" in proc.stderr
    assert os.path.isfile(os.path.join(pkgdir, "__init__.py"))

    _run(["make", "uninstall", inst["srv"]], inst["build"], env=_clean_env())
    assert not os.path.exists(inst["pythondir"])
    assert not os.path.exists(inst["daemon_util"])
    assert not os.path.exists(os.path.join(inst["sbindir"], "gnt-cluster"))
