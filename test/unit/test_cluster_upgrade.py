"""The pieces of gnt-cluster upgrade that need no cluster: which version changes
are allowed, the intent file, and the node tools (cfgupgrade, ensure-dirs,
post-upgrade). The whole command runs in test/cluster/test_cluster_upgrade_runs.py."""

import json
import os
import stat

import pytest

from ganeti import constants, objects, pathutils
from ganeti.client import cluster_upgrade
from ganeti.tools import cfgupgrade, ensure_dirs, post_upgrade
from ganeti.utils import text, version


@pytest.mark.parametrize("textv, parsed", [
    ("0.2", (0, 2, 0)), ("0.2.3", (0, 2, 3)), ("10.20.30", (10, 20, 30)),
    ("zero", None), ("0", None), ("0.2.", None), ("0.2.3.4", None), ("", None),
    (" 0.2", None),
])
def test_parse_version(textv, parsed):
    assert version.parse_version(textv) == parsed


@pytest.mark.parametrize("target, current, reason", [
    ((0, 2, 0), (0, 1, 0), None),
    ((0, 5, 0), (0, 1, 0), None),            # any later minor version
    ((0, 1, 0), (0, 1, 0), None),            # the same (links made anew)
    ((0, 1, 0), (0, 2, 0), None),            # one minor version back
    ((0, 1, 0), (0, 3, 0), "can only downgrade one minor version at a time"),
    ((1, 0, 0), (0, 3, 0), "major version up- or downgrades are not supported"),
    ((0, 0, 9), (0, 1, 0), "automatic upgrades only supported from 0.1 onwards"),
])
def test_upgrade_range(target, current, reason):
    assert version.upgrade_range(target, current) == reason


def test_downgrade_is_one_minor_version_back():
    assert version.should_cfgdowngrade((0, 1, 0), (0, 2, 0))
    assert not version.should_cfgdowngrade((0, 2, 0), (0, 1, 0))
    assert not version.should_cfgdowngrade((0, 2, 1), (0, 2, 0))


def test_dir_version_follows_the_package_version():
    assert constants.DIR_VERSION == ".".join(constants.PACKAGE_VERSION.split(".")[:2])
    assert version.dir_version(version.current_version()) == constants.DIR_VERSION


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(pathutils, "INTENT_TO_UPGRADE", str(tmp_path / "intent-to-upgrade"))
    return tmp_path


def test_intent_file_round_trip(data_dir):
    assert cluster_upgrade._read_intent() == (None, None)
    cluster_upgrade._write_intent("0.2")
    content = (data_dir / "intent-to-upgrade").read_text()
    assert content == "%s,0.2,%d\n" % (constants.RELEASE_VERSION, os.getpid())
    assert stat.S_IMODE(os.stat(data_dir / "intent-to-upgrade").st_mode) == 0o600
    assert cluster_upgrade._read_intent() == (constants.RELEASE_VERSION, "0.2")
    cluster_upgrade._remove_intent()
    cluster_upgrade._remove_intent()          # gone already: no error
    assert cluster_upgrade._read_intent() == (None, None)


def test_a_malformed_intent_file_is_no_upgrade(data_dir):
    (data_dir / "intent-to-upgrade").write_text("0.1.0,0.2\n")
    assert cluster_upgrade._read_intent() == (None, None)


def test_escape_and_join_is_split_escaped_reversed():
    parts = ["0.1.0", "a,b", "12"]
    assert text.split_escaped(text.escape_and_join(parts)) == parts


class _Opts:
    def __init__(self, to=None, resume=False):
        self.to, self.resume = to, resume


def test_a_different_upgrade_under_way_is_refused(data_dir, capsys):
    (data_dir / "intent-to-upgrade").write_text("0.1.0,0.2,77\n")
    assert cluster_upgrade.upgrade_cluster(_Opts(to="0.3"), []) == 1
    assert capsys.readouterr() == ("", "An upgrade from 0.1.0 to 0.2 is in progress; use"
                                   " --resume to finish it first\n")
    assert (data_dir / "intent-to-upgrade").exists()


@pytest.mark.parametrize("to, resume", [(None, False), ("0.2", True)])
def test_precisely_one_of_to_and_resume(to, resume, capsys):
    assert cluster_upgrade.upgrade_cluster(_Opts(to=to, resume=resume), []) == 1
    assert capsys.readouterr().err == ("Precisely one of the options --to and --resume has"
                                       " to be given\n")


# ---- cfgupgrade --------------------------------------------------------------------------

def _config(tmp_path, number=constants.CONFIG_VERSION):
    data = objects.ConfigData(version=number, cluster=objects.Cluster(cluster_name="c1"),
                              nodes={}, nodegroups={}, instances={}, networks={},
                              disks={}, filters={}, serial_no=1, ctime=0, mtime=0)
    path = tmp_path / "config.data"
    path.write_text(json.dumps(data.to_dict()))
    return str(path)


@pytest.mark.parametrize("downgrade", [False, True])
def test_cfgupgrade_accepts_our_format(tmp_path, capsys, downgrade):
    path = _config(tmp_path)
    before = open(path).read()
    argv = ["--path", path, "-v"] + (["--downgrade"] if downgrade else [])
    assert cfgupgrade.main(argv) == 0
    assert capsys.readouterr().out == (
        "Configuration %s is in format 2.16.0, which the %s version reads; nothing to"
        " convert\n" % (path, "older" if downgrade else "new"))
    assert open(path).read() == before           # nothing written


def test_cfgupgrade_refuses_a_format_it_cannot_read(tmp_path, capsys):
    path = _config(tmp_path, number=3000000)
    assert cfgupgrade.main(["--path", path]) == 1
    assert capsys.readouterr().err == (
        "cfgupgrade: Configuration version 3.0.0 of %s cannot be upgraded: the new version"
        " reads 2.16\n" % path)


@pytest.mark.parametrize("content, error", [
    ("{", "Cannot read the configuration"),
    ("{}", "has no configuration version"),
    ('{"version": 2160000}', "has no cluster section"),
])
def test_cfgupgrade_refuses_a_damaged_file(tmp_path, capsys, content, error):
    path = tmp_path / "config.data"
    path.write_text(content)
    assert cfgupgrade.main(["--path", str(path)]) == 1
    assert error in capsys.readouterr().err


# ---- ensure-dirs, post-upgrade -------------------------------------------------------------

def test_ensure_dirs_makes_directories_and_hides_secrets(tmp_path, monkeypatch, capsys):
    dirs = [(str(tmp_path / "data"), 0o755), (str(tmp_path / "data" / "queue"), 0o700)]
    role = [(str(tmp_path / "etcd"), 0o700), (str(tmp_path / "absent"), 0o700)]
    os.mkdir(tmp_path / "etcd", 0o755)
    secret = tmp_path / "server.pem"
    secret.write_text("key")
    os.chmod(secret, 0o644)
    monkeypatch.setattr(ensure_dirs, "NODE_DIRS", dirs)
    monkeypatch.setattr(ensure_dirs, "ROLE_DIRS", role)
    monkeypatch.setattr(ensure_dirs, "SECRET_FILES", [str(secret), str(tmp_path / "none")])
    assert ensure_dirs.main(["-v"]) == 0
    for path, mode in dirs:
        assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert stat.S_IMODE(os.stat(tmp_path / "etcd").st_mode) == 0o700
    assert not os.path.exists(tmp_path / "absent")    # a role's directory is not made
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    out = capsys.readouterr().out
    assert "made %s (0755)" % dirs[0][0] in out and "server.pem: mode 0644 -> 0600" in out
    assert ensure_dirs.main([]) == 0 and capsys.readouterr().out == ""   # nothing left


def test_ensure_dirs_refuses_a_file_where_a_directory_belongs(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").write_text("")
    monkeypatch.setattr(ensure_dirs, "NODE_DIRS", [(str(tmp_path / "data"), 0o755)])
    assert ensure_dirs.main([]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_post_upgrade_runs_the_tasks_of_later_versions(monkeypatch, capsys):
    done = []
    monkeypatch.setattr(post_upgrade, "TASKS", [
        ((0, 2, 0), "a", lambda: done.append("a")),
        ((0, 3, 0), "b", lambda: done.append("b")),
    ])
    assert post_upgrade.main(["0.2.0"]) == 0
    assert done == ["b"]
    assert post_upgrade.main(["0.1"]) == 0
    assert done == ["b", "a", "b"]


def test_post_upgrade_needs_one_version(capsys):
    assert post_upgrade.main([]) == 1
    assert post_upgrade.main(["x"]) == 1
    err = capsys.readouterr().err
    assert "Expecting precisely one argument, the version upgrading from" in err
    assert "Could not parse version string x" in err
