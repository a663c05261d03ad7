"""Cluster settings and versions: each accepted setting takes effect or is refused."""

import os
import re

import pytest

from ganeti import constants
from ganeti.client import gnt_cluster

TOP = os.path.join(os.path.dirname(__file__), "..", "..")


class _VersionClient:
    def query_cluster_info(self):
        from ganeti.cmdlib import cluster
        return cluster.cluster_info(_FakeCfg())


class _FakeCfg:
    def get_cluster_info(self):
        from ganeti import objects
        return objects.Cluster(cluster_name="c", enabled_hypervisors=["fake"])


def test_version_prints_our_own_version(monkeypatch, capsys):
    from ganeti import cli
    monkeypatch.setattr(cli, "get_client", _VersionClient)
    assert gnt_cluster.show_version(None, []) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "Software version: %s" % constants.PACKAGE_VERSION,
        "Internode protocol: %d" % constants.PROTOCOL_VERSION,
        "Configuration format: 2160000",
        "OS api version: 20",
        "Export interface: 0",
        "VCS version: ganeti-py %s" % constants.PACKAGE_VERSION,
    ]
    assert "2.16.2" not in "\n".join(lines)


def test_versions_are_ours_where_the_interface_is_ours():
    with open(os.path.join(TOP, "configure.ac")) as fd:
        ac_version = re.search(r"AC_INIT\(\[ganeti\], \[([0-9.]+)\]", fd.read()).group(1)
    assert constants.PACKAGE_VERSION == ac_version
    assert constants.RELEASE_VERSION == constants.PACKAGE_VERSION
    # the node RPC is our own protocol: not a number any Ganeti release used
    assert constants.PROTOCOL_VERSION < 2000000
    assert constants.PROTOCOL_VERSION == 10000


@pytest.mark.parametrize("tool", ["gnt-cluster", "gnt-instance", "gnt-job", "gnt-debug"])
def test_gnt_version_option(tool, monkeypatch, capsys):
    import importlib
    module = importlib.import_module("ganeti.client." + tool.replace("-", "_"))
    monkeypatch.setattr("sys.argv", [tool, "--version"])
    assert module.main() == 0
    assert capsys.readouterr().out == "%s (ganeti-py %s) %s\n" % (
        tool, constants.PACKAGE_VERSION, constants.PACKAGE_VERSION)


# ---- gnt-debug locks --interval ----------------------------------------------------------

def test_debug_locks_interval_repeats_the_listing(monkeypatch, capsys):
    import time as time_mod

    from ganeti import cli
    from ganeti.client import gnt_debug
    listings, sleeps = [], []

    def fake_list(*args, **kwargs):
        listings.append(args[0])
        print("Name Mode Owner Pending")
        return 0

    def fake_sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise KeyboardInterrupt()

    monkeypatch.setattr(cli, "generic_list", fake_list)
    monkeypatch.setattr(time_mod, "sleep", fake_sleep)
    with pytest.raises(KeyboardInterrupt):
        gnt_debug.list_locks(*_parsed(gnt_debug, "locks", ["--interval", "2"]))
    assert listings == ["lock"] * 3 and sleeps == [2, 2, 2]
    assert capsys.readouterr().out == "Name Mode Owner Pending\n\n" * 3
    # without --interval: one listing
    listings.clear()
    assert gnt_debug.list_locks(*_parsed(gnt_debug, "locks", [])) == 0
    assert listings == ["lock"]
    with pytest.raises(Exception) as err:
        gnt_debug.list_locks(*_parsed(gnt_debug, "locks", ["--interval", "0"]))
    assert "positive" in str(err.value)


def _parsed(module, command, argv):
    """(opts, args) of ``command`` parsed with its real option list."""
    import optparse
    options = module.COMMANDS[command][2]
    parser = optparse.OptionParser(option_list=list(options))
    return parser.parse_args(argv)
