"""make install lays out Ganeti's versioned directories (Ganeti 2.10 and later).

Each MAJOR.MINOR version gets $(libdir)/ganeti/X.Y (daemon-util, ensure-dirs,
tools/) and $(datadir)/ganeti/X.Y (the package "ganeti", daemons, gnt-*); the
stable names ($(sbindir)/gnt-*, $(libdir)/ganeti/daemon-util, ...) lead through
the "default" links to $(sysconfdir)/ganeti/{lib,share}, which name the active
version, so that gnt-cluster upgrade --to X.Y switches versions by relinking.
The versioned share dir is never on the interpreter's sys.path (Debian's
python3-ganeti-rapi has another package named ganeti there): the installed
programs add it themselves.

A copy of the tree (0.1) and a copy whose AC_INIT says 0.2.0 are configured
and built once, then installed into one temporary prefix (sysconfdir inside
it): the first install makes 0.1 active, the second leaves it active and says
how to switch, and make uninstall removes each version and, with the last
one, the links.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import source_copy  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
DEBIAN_PKG = "/usr/lib/python3/dist-packages/ganeti"
# $(versiondir)'s programs (PLACE below it and below $(pkglibdir))
NODE_PROGRAMS = ("daemon-util", "ensure-dirs", "tools/cfgupgrade", "tools/post-upgrade")
DEVELOPER_TOOLS = ("install-deps", "quickstart", "compat-table", "vcluster-netns")
PATHLINE = 'import sys; sys.path.insert(0, "%s")  # added by make install'


def _run(argv, cwd, env=None, check=True):
    proc = subprocess.run(argv, cwd=cwd, env=env or _clean_env(), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, "%s: %s%s" % (argv, proc.stdout[-3000:],
                                                    proc.stderr[-3000:])
    return proc


def _clean_env(**extra):
    """Our environment without PYTHONPATH (the tests set it to lib/)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(extra)
    return env


def _programs():
    """Names of the daemons/ganeti-* and scripts/gnt-* programs of the tree."""
    names = []
    for sub, prefix in (("daemons", "ganeti-"), ("scripts", "gnt-")):
        for name in os.listdir(os.path.join(TOP, sub)):
            path = os.path.join(TOP, sub, name)
            if (name.startswith(prefix) and os.path.isfile(path)
                    and not re.search(r"(\.in|~|\.orig|\.rej|\.pyc)$", name)):
                names.append(name)
    return sorted(names)


def _links(root):
    """Every symbolic link below root: path -> (target, inode, mtime)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                st = os.lstat(path)
                found[path] = (os.readlink(path), st.st_ino, st.st_mtime_ns)
    return found


def _loaded_from(stderr):
    """The directories python -v loaded a package "ganeti" from."""
    return set(re.findall(r"(/[^\s']+)/ganeti/(?:__pycache__/)?__init__\.", stderr))


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    for tool in ("autoreconf", "make", "rst2man"):
        if not shutil.which(tool):
            pytest.skip("%s is missing (tools/install-deps --build)" % tool)
    root = str(tmp_path_factory.mktemp("install"))
    # "x_/": an underscore before "/" must not upset the man pages' markup
    prefix = os.path.join(root, "x_", "usr")
    etc = os.path.join(root, "etc")
    builds = {}
    for version, src_version in (("0.1", None), ("0.2", "0.2.0")):
        src = os.path.join(root, "src-" + version)
        source_copy.copy_tree(src, src_version)
        _run(["sh", "autogen.sh"], src)
        build = os.path.join(root, "build-" + version)
        os.mkdir(build)
        conf = _run(["sh", os.path.join(src, "configure"), "PYTHON=" + PYTHON,
                     "--prefix=" + prefix, "--sysconfdir=" + etc,
                     "--localstatedir=" + os.path.join(root, "var")], build)
        builds[version] = build
        if version == "0.1":
            configure_out = conf.stdout
    # both builds at once (make -j2 each): the man pages take most of the time
    makes = [subprocess.Popen(["make", "-j2"], cwd=build, env=_clean_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL)
             for build in builds.values()]
    for proc in makes:
        out = proc.communicate(timeout=300)[0]
        assert proc.returncode == 0, out[-3000:]
    srv = "srvdir=" + os.path.join(root, "srv")
    install = _run(["make", "-j2", "install", srv], builds["0.1"])
    return {
        "root": root, "prefix": prefix, "builds": builds, "srv": srv,
        "configure": configure_out, "install": install.stdout,
        "sbindir": os.path.join(prefix, "sbin"),
        "pkglibdir": os.path.join(prefix, "lib", "ganeti"),
        "sharedir": os.path.join(prefix, "share", "ganeti"),
        "confdir": os.path.join(etc, "ganeti"),
        "versiondir": os.path.join(prefix, "lib", "ganeti", "0.1"),
        "versionedsharedir": os.path.join(prefix, "share", "ganeti", "0.1"),
    }


def test_man_pages_name_the_configured_paths(inst):
    page = os.path.join(inst["prefix"], "share", "man", "man8", "gnt-cluster.8")
    with open(page) as fd:
        text = fd.read().replace("\\-", "-")      # roff's escaped hyphens
    assert "%s/tools/cfgupgrade" % inst["pkglibdir"] in text


def _make(inst, version, target):
    return _run(["make", target, inst["srv"]], inst["builds"][version])


def test_configure_names_the_versioned_dirs(inst):
    assert "checking the directory version of 0.1.0... 0.1\n" in inst["configure"]
    assert ("Python package:  %s/ganeti\n" % inst["versionedsharedir"]
            in inst["configure"])
    assert ('"gnt-cluster upgrade --to 0.1" makes this one active on every node.'
            in inst["configure"])


def test_files_are_where_listed(inst):
    vdir, vshare = inst["versiondir"], inst["versionedsharedir"]
    for place in NODE_PROGRAMS:
        assert os.access(os.path.join(vdir, place), os.X_OK), place
    programs = _programs()
    assert "gnt-cluster" in programs and "ganeti-noded" in programs
    assert sorted(n for n in os.listdir(vshare) if n != "ganeti") == programs
    for name in programs:
        assert os.access(os.path.join(vshare, name), os.X_OK), name
    pkg = os.path.join(vshare, "ganeti")
    assert os.path.isfile(os.path.join(pkg, "pathutils.py"))
    assert any(n.startswith("pathutils.") for n in os.listdir(os.path.join(pkg, "__pycache__")))
    with open(os.path.join(pkg, "_autoconf.py")) as fd:
        autoconf = fd.read()
    for line in ('PACKAGE_VERSION = "0.1.0"', 'DIR_VERSION = "0.1"',
                 'PYTHONDIR = "%s"' % vshare, 'SHAREDIR = "%s"' % inst["sharedir"],
                 'PKGLIBDIR = "%s"' % inst["pkglibdir"],
                 'SBINDIR = "%s"' % inst["sbindir"]):
        assert line + "\n" in autoconf
    # every installed Python program puts this version's package first
    for path in ([os.path.join(vshare, n) for n in programs]
                 + [os.path.join(vdir, p) for p in NODE_PROGRAMS]):
        with open(path) as fd:
            first, second = fd.readline(), fd.readline()
        assert first.startswith("#!") and "python" in first, path
        assert second == PATHLINE % vshare + "\n", path
    # developer tools are not installed; nothing of the unversioned layout
    for dirpath, dirnames, filenames in os.walk(inst["prefix"]):
        assert not set(DEVELOPER_TOOLS) & set(dirnames + filenames), dirpath
    assert not os.path.exists(os.path.join(inst["sharedir"], "ganeti"))
    # flat, as before: init script, cron file, man pages
    root = inst["root"]
    assert os.path.isfile(os.path.join(root, "etc", "init.d", "ganeti"))
    assert os.path.isfile(os.path.join(root, "etc", "cron.d", "ganeti"))
    assert os.path.isfile(os.path.join(inst["prefix"], "share", "man", "man8", "gnt-cluster.8"))
    with open(os.path.join(root, "etc", "init.d", "ganeti")) as fd:
        assert 'DAEMON_UTIL="%s/daemon-util"\n' % inst["pkglibdir"] in fd.read()


def test_versioned_share_dir_is_off_sys_path(inst):
    out = _run([PYTHON, "-c", "import sys; print('\\n'.join(sys.path))"], inst["root"]).stdout
    assert not {inst["versionedsharedir"], inst["sharedir"]} & set(out.splitlines())


def test_links(inst):
    sbindir, pkglibdir, sharedir = inst["sbindir"], inst["pkglibdir"], inst["sharedir"]
    confdir = inst["confdir"]
    expected = {
        os.path.join(pkglibdir, "default"): os.path.join(confdir, "lib"),
        os.path.join(sharedir, "default"): os.path.join(confdir, "share"),
        os.path.join(confdir, "lib"): inst["versiondir"],
        os.path.join(confdir, "share"): inst["versionedsharedir"],
    }
    for name in _programs():
        expected[os.path.join(sbindir, name)] = os.path.join(sharedir, "default", name)
    for place in NODE_PROGRAMS:
        expected[os.path.join(pkglibdir, place)] = os.path.join(pkglibdir, "default", place)
    assert {path: link[0] for path, link in _links(inst["root"]).items()} == expected
    assert all(os.path.isabs(target) for target in expected.values())
    # so sbindir/gnt-cluster -> share/ganeti/default/gnt-cluster, where default ->
    # etc/ganeti/share -> share/ganeti/0.1; the same for pkglibdir's programs
    assert os.path.realpath(os.path.join(sbindir, "gnt-cluster")) == \
        os.path.join(inst["versionedsharedir"], "gnt-cluster")
    for place in NODE_PROGRAMS:
        assert os.path.realpath(os.path.join(pkglibdir, place)) == \
            os.path.join(inst["versiondir"], place)


@pytest.mark.parametrize("program", ["gnt-cluster --version", "daemon-util --help"])
def test_installed_program_imports_the_installed_package(inst, program):
    name, arg = program.split()
    if name == "daemon-util":   # as the init script runs it
        path = os.path.join(inst["pkglibdir"], name)
    else:
        path = os.path.join(inst["sbindir"], name)
    proc = _run([path, arg], inst["root"], env=_clean_env(PYTHONVERBOSE="1"))
    assert proc.stdout.startswith("gnt-cluster (ganeti-py 0.1.0) 0.1.0"
                                  if name == "gnt-cluster" else "Usage: daemon-util")
    assert _loaded_from(proc.stderr) == {inst["versionedsharedir"]}


def test_debian_rapi_client_still_imports(inst):
    if not os.path.isfile(os.path.join(DEBIAN_PKG, "rapi", "client.py")):
        pytest.skip("python3-ganeti-rapi is not installed (no %s)" % DEBIAN_PKG)
    out = _run([PYTHON, "-c", "import ganeti.rapi.client; print(ganeti.rapi.client.__file__)"],
               inst["root"]).stdout
    assert out.strip() == os.path.join(DEBIAN_PKG, "rapi", "client.py")


def test_spawned_python_process_finds_the_installed_package(inst):
    # what backend/impexp does to start ganeti.impexpd, from the installed package
    code = ("import subprocess, sys; sys.path.insert(0, %r)\n"
            "from ganeti.utils import process\n"
            "child = 'import ganeti, ganeti.impexpd; print(ganeti.__file__)'\n"
            "print(subprocess.run([sys.executable, '-c', child], env=process.package_env(),"
            " capture_output=True, text=True, check=True).stdout, end='')"
            % inst["versionedsharedir"])
    out = _run([PYTHON, "-c", code], inst["root"]).stdout
    assert out.strip() == os.path.join(inst["versionedsharedir"], "ganeti", "__init__.py")


def test_second_install_changes_no_link(inst):
    assert "Note:" not in inst["install"]
    before = _links(inst["root"])
    out = _make(inst, "0.1", "install").stdout
    assert _links(inst["root"]) == before
    assert " LINK " not in out and "Note:" not in out


def test_another_version_installs_alongside(inst):
    before = _links(inst["root"])
    out = _make(inst, "0.2", "install").stdout
    v2lib = os.path.join(inst["pkglibdir"], "0.2")
    v2share = os.path.join(inst["sharedir"], "0.2")
    for place in NODE_PROGRAMS:
        assert os.path.isfile(os.path.join(v2lib, place))
    assert os.path.isfile(os.path.join(v2share, "gnt-cluster"))
    with open(os.path.join(v2share, "ganeti", "_autoconf.py")) as fd:
        assert 'PACKAGE_VERSION = "0.2.0"\n' in fd.read()
    # 0.1 stays active: not one link changed, and make install says how to switch
    assert _links(inst["root"]) == before
    confdir = inst["confdir"]
    assert ("Note: version 0.1 stays the active one (%s/lib -> %s, %s/share -> %s)."
            % (confdir, inst["versiondir"], confdir, inst["versionedsharedir"])) in out
    assert '"gnt-cluster upgrade --to 0.2" switches the cluster' in out
    assert "ln -sfT %s %s/lib\n" % (v2lib, confdir) in out
    assert "ln -sfT %s %s/share\n" % (v2share, confdir) in out
    gnt_cluster = os.path.join(inst["sbindir"], "gnt-cluster")
    daemon_util = os.path.join(inst["pkglibdir"], "daemon-util")
    assert _run([gnt_cluster, "--version"], inst["root"]).stdout.startswith(
        "gnt-cluster (ganeti-py 0.1.0) 0.1.0")
    # switched as the note says, the same stable names run 0.2's programs and package
    try:
        for argv in (["ln", "-sfT", v2lib, confdir + "/lib"],
                     ["ln", "-sfT", v2share, confdir + "/share"]):
            _run(argv, inst["root"])
        proc = _run([gnt_cluster, "--version"], inst["root"],
                    env=_clean_env(PYTHONVERBOSE="1"))
        assert proc.stdout.startswith("gnt-cluster (ganeti-py 0.2.0) 0.2.0")
        assert _loaded_from(proc.stderr) == {v2share}
        proc = _run([daemon_util, "--help"], inst["root"], env=_clean_env(PYTHONVERBOSE="1"))
        assert _loaded_from(proc.stderr) == {v2share}
    finally:
        for argv in (["ln", "-sfT", inst["versiondir"], confdir + "/lib"],
                     ["ln", "-sfT", inst["versionedsharedir"], confdir + "/share"]):
            _run(argv, inst["root"])
    assert _run([gnt_cluster, "--version"], inst["root"]).stdout.startswith(
        "gnt-cluster (ganeti-py 0.1.0) 0.1.0")


def test_uninstall(inst):
    root, confdir = inst["root"], inst["confdir"]
    v2lib = os.path.join(inst["pkglibdir"], "0.2")
    v2share = os.path.join(inst["sharedir"], "0.2")
    links = {path: link[0] for path, link in _links(root).items()}

    # 0.2 (not the active one) goes; 0.1 and every link stay
    out = _make(inst, "0.2", "uninstall").stdout
    assert not os.path.exists(v2lib) and not os.path.exists(v2share)
    assert os.path.isdir(inst["versiondir"]) and os.path.isdir(inst["versionedsharedir"])
    assert {path: link[0] for path, link in _links(root).items()} == links
    assert "Left in place for the installed version 0.1: the links in" in out
    assert _run([os.path.join(inst["sbindir"], "gnt-cluster"), "--version"],
                root).stdout.startswith("gnt-cluster (ganeti-py 0.1.0) 0.1.0")

    # the active 0.1 goes while 0.2 is installed: only the active-version links go
    _make(inst, "0.2", "install")
    out = _make(inst, "0.1", "uninstall").stdout
    assert not os.path.exists(inst["versiondir"])
    assert not os.path.exists(inst["versionedsharedir"])
    assert os.path.isdir(v2lib) and os.path.isdir(v2share)
    del links[os.path.join(confdir, "lib")], links[os.path.join(confdir, "share")]
    assert {path: link[0] for path, link in _links(root).items()} == links
    assert "No version is active now" in out
    assert "ln -sfT %s %s/lib\n" % (v2lib, confdir) in out

    # the last version goes with every link; state stays
    out = _make(inst, "0.2", "uninstall").stdout
    assert _links(root) == {}
    for path in (inst["pkglibdir"], inst["sharedir"], confdir,
                 os.path.join(root, "etc", "init.d", "ganeti")):
        assert not os.path.exists(path), path
    assert os.listdir(inst["sbindir"]) == []
    assert os.path.isdir(os.path.join(root, "var", "lib", "ganeti"))
    assert "Left in place: %s/var/lib/ganeti" % root in out
