"""Cluster settings and versions: each accepted setting takes effect or is refused."""

import os
import re
import threading
import time
import types

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


# ---- settings: take effect, or refused in words -------------------------------------------

from ganeti import errors, opcodes  # noqa: E402
from test_cluster_admin import _context, _make_cfg, _run  # noqa: E402


@pytest.mark.parametrize("params, text", [
    ({"prealloc_wipe_disks": True}, "not supported yet"),
    ({"use_external_mip_script": True}, "external master IP setup script"),
])
def test_settings_that_cannot_act_are_refused(tmp_path, monkeypatch, params, text):
    from ganeti import pathutils
    monkeypatch.setattr(pathutils, "EXTERNAL_MASTER_SETUP_SCRIPT", str(tmp_path / "none"))
    cfg = _make_cfg(tmp_path)
    before = cfg.dump_text()
    with pytest.raises(errors.OpPrereqError) as err:
        _run(_context(cfg), opcodes.OpClusterSetParams, **params)
    assert text in str(err.value)
    assert cfg.dump_text() == before
    # switching them off is always fine
    _run(_context(cfg), opcodes.OpClusterSetParams,
         **dict((key, "" if key == "default_iallocator" else False) for key in params))


def _main(monkeypatch, *argv):
    monkeypatch.setattr("sys.argv", ["gnt-cluster"] + list(argv))
    return gnt_cluster.main()


def test_uid_pool_options(monkeypatch, capsys):
    from ganeti import cli
    submitted = []
    monkeypatch.setattr(cli, "submit_or_send", lambda op, opts: submitted.append(op))
    # an empty pool is what every cluster has: accepted, nothing to do (as Ganeti prints)
    assert _main(monkeypatch, "modify", "--uid-pool=") == 0
    assert submitted == [] and capsys.readouterr().err == ""
    for opt in ("--uid-pool=1000-1010", "--add-uids=2000", "--remove-uids=5"):
        assert _main(monkeypatch, "modify", opt) != 0
        assert "user-id pool (uid_pool) is not supported yet" in capsys.readouterr().err
    assert submitted == []


def test_init_refuses_wipe_and_uid_pool_before_changing_anything(monkeypatch, capsys):
    from ganeti import bootstrap
    monkeypatch.setattr(bootstrap, "init_cluster",
                        lambda *a, **k: pytest.fail("init must not start"))
    assert _main(monkeypatch, "init", "--prealloc-wipe-disks", "yes", "c.example.com") != 0
    assert "prealloc_wipe_disks) is not supported yet" in capsys.readouterr().err
    assert _main(monkeypatch, "init", "--uid-pool", "100-200", "c.example.com") != 0
    assert "uid_pool) is not supported yet" in capsys.readouterr().err


def test_external_mip_script_runs_instead_of_ip(tmp_path, monkeypatch):
    from ganeti import pathutils
    from ganeti.backend import node as bnode
    from ganeti.utils import process
    script = tmp_path / "master-ip-setup"
    log = tmp_path / "calls"
    script.write_text("#!/bin/sh\necho \"$1 $MASTER_IP $MASTER_NETMASK $MASTER_NETDEV"
                      " $CLUSTER_IP_VERSION\" >> %s\n[ \"$1\" != fail ]\n" % log)
    script.chmod(0o755)
    monkeypatch.setattr(pathutils, "EXTERNAL_MASTER_SETUP_SCRIPT", str(script))
    ran = []
    real_run = process.run_cmd
    monkeypatch.setattr(process, "run_cmd",
                        lambda cmd, **kw: ran.append(cmd) or real_run(cmd, **kw))
    params = {"ip": "192.0.2.254", "netmask": 24, "netdev": "eth0", "ip_family": 2,
              "use_external_mip_script": True}
    bnode.node_activate_master_ip(params)
    bnode.node_deactivate_master_ip(params)
    assert log.read_text() == ("start 192.0.2.254 24 eth0 4\n"
                               "stop 192.0.2.254 24 eth0 4\n")
    assert all(cmd[0] == str(script) for cmd in ran)      # no `ip address` of our own
    script.write_text("#!/bin/sh\necho broken; exit 3\n")
    with pytest.raises(Exception) as err:
        bnode.node_activate_master_ip(params)
    assert "Failed to start the master IP. Script return value: 3" in str(err.value)
    # the setting travels with the master network parameters
    cfg = _make_cfg(tmp_path)
    script.write_text("#!/bin/sh\nexit 0\n")
    _run(_context(cfg), opcodes.OpClusterSetParams, use_external_mip_script=True)
    assert cfg.get_master_network_parameters()["use_external_mip_script"] is True


def test_mip_script_setting_read_on_failover(tmp_path):
    from ganeti.backend import mip_script
    cfg = _make_cfg(tmp_path)
    assert mip_script.enabled_here(str(tmp_path)) is False
    cluster = cfg.get_cluster_info()
    cluster.use_external_mip_script = True
    cfg.update(cluster)
    assert mip_script.enabled_here(str(tmp_path)) is True
    assert mip_script.enabled_here(str(tmp_path / "nowhere")) is False


# ---- maintain_node_health ------------------------------------------------------------------

class _Store:
    def __init__(self, values):
        self.values = values

    def read(self, key, default=None):
        return self.values.get(key, default)

    def read_list(self, key):
        return [v for v in self.values.get(key, "").splitlines() if v]


def test_maintain_node_health_stops_instances_on_an_offline_node(tmp_path, monkeypatch):
    from ganeti import pathutils, watcher
    from ganeti.hypervisor import hv_fake
    monkeypatch.setattr(pathutils, "RUN_DIR", str(tmp_path))
    hv = hv_fake.FakeHypervisor()
    os_dir = hv.state_dir
    os.makedirs(os_dir)
    for name in ("a.example.com", "b.example.com"):
        with open(os.path.join(os_dir, name), "w") as fd:
            fd.write('{"name": "%s", "memory": 128, "vcpus": 1, "start_time": 0,'
                     ' "state": "running"}' % name)
    values = {constants.SS_MAINTAIN_NODE_HEALTH: "True",
              constants.SS_HYPERVISOR_LIST: "fake\n"}
    asked = []

    def role(answer):
        return lambda store, name: asked.append(name) or answer

    # an online node, or the setting off (here or on the candidates): nothing happens
    assert watcher.maintain_node_health(_Store(values), "node2.example.com",
                                        role(("regular", True)))
    assert watcher.maintain_node_health(_Store(values), "node2.example.com",
                                        role(("offline", False)))
    off = dict(values, **{constants.SS_MAINTAIN_NODE_HEALTH: "False"})
    assert watcher.maintain_node_health(_Store(off), "node2.example.com",
                                        role(("offline", True)))
    assert asked == ["node2.example.com"] * 2        # the setting off: nobody asked
    assert len(hv.list_instances()) == 2
    # the offline node runs nothing afterwards
    assert watcher.maintain_node_health(_Store(values), "node2.example.com",
                                        role(("offline", True)))
    assert hv.list_instances() == []
    # nothing running: no question asked
    assert watcher.maintain_node_health(_Store(values), "node2.example.com",
                                        role(("offline", True)))
    assert len(asked) == 3


def test_node_role_answer_from_config(tmp_path):
    from ganeti.backend import maintenance
    cfg = _make_cfg(tmp_path, nodes=3)
    conf = str(tmp_path / "config.data")
    serial = cfg.get_config_serial()
    assert maintenance.node_role("node1.example.com", conf_file=conf) == ["master", False,
                                                                           serial]
    assert maintenance.node_role("node2.example.com", conf_file=conf) == ["regular", False,
                                                                           serial]
    node = cfg.get_node_info("node3.example.com")
    node.offline = True
    cfg.update(node)
    cluster = cfg.get_cluster_info()
    cluster.maintain_node_health = True
    cfg.update(cluster)
    assert maintenance.node_role("node3.example.com", conf_file=conf) == [
        "offline", True, serial + 2]
    assert maintenance.node_role("nosuch", conf_file=conf) == [None, True, serial + 2]
    assert maintenance.node_role("x", conf_file=str(tmp_path / "none")) == [None, False, 0]


def test_ask_candidates_needs_one_consistent_answer(monkeypatch):
    from ganeti import rpc, watcher
    from verify_fakes import Result
    answers = {}

    def fake_call(self, procedure, nodes, args):
        assert procedure == "node_role" and args == ["node3.example.com"]
        return dict((n, answers[n]) for n in nodes)
    monkeypatch.setattr(rpc.RpcRunner, "call", fake_call)
    store = _Store({constants.SS_MASTER_CANDIDATES: "node1.example.com\nnode2.example.com",
                    constants.SS_MASTER_CANDIDATES_IPS: "192.0.2.1\n192.0.2.2"})
    answers.update({"node1.example.com": Result(["offline", True, 7]),
                    "node2.example.com": Result(None, "unreachable")})
    assert watcher.ask_candidates(store, "node3.example.com") == ("offline", True)
    # an older copy (the node's own, from before it went offline) does not count
    answers["node2.example.com"] = Result(["candidate", True, 5])
    assert watcher.ask_candidates(store, "node3.example.com") == ("offline", True)
    # copies of the same serial that disagree: nothing is done
    answers["node2.example.com"] = Result(["regular", True, 7])
    assert watcher.ask_candidates(store, "node3.example.com") == (None, False)


# ---- modify_etc_hosts ---------------------------------------------------------------------

def test_etc_hosts_entries(tmp_path):
    from ganeti import etchosts
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1\tlocalhost\n# 192.0.2.2 comment\n"
                     "192.0.2.2 old.example.com old\n192.0.2.2 dup\n")
    etchosts.set_entry(str(hosts), "192.0.2.2", "node2.example.com")
    etchosts.set_entry(str(hosts), "192.0.2.3", "node3.example.com")
    assert hosts.read_text() == (
        "127.0.0.1\tlocalhost\n# 192.0.2.2 comment\n"
        "192.0.2.2\tnode2.example.com node2\n192.0.2.3\tnode3.example.com node3\n")
    etchosts.remove_names(str(hosts), "node2.example.com")
    assert hosts.read_text() == ("127.0.0.1\tlocalhost\n# 192.0.2.2 comment\n"
                                 "192.0.2.3\tnode3.example.com node3\n")
    missing = tmp_path / "sub" / "hosts"
    etchosts.set_entry(str(missing), "192.0.2.9", "n9.example.com")
    assert missing.read_text() == "192.0.2.9\tn9.example.com n9\n"


class _UploadRpc:
    def __init__(self):
        self.uploads = []

    def call_upload_file(self, nodes, path):
        from verify_fakes import Result
        self.uploads.append((sorted(nodes), path, open(path).read()))
        return dict((n, Result(True)) for n in nodes)


def test_node_add_and_remove_keep_etc_hosts(tmp_path, monkeypatch):
    import types

    from ganeti import etchosts, pathutils
    monkeypatch.setattr(pathutils, "root", lambda path: str(tmp_path) + path)
    cfg = _make_cfg(tmp_path, nodes=3)
    rpc = _UploadRpc()
    lu = types.SimpleNamespace(cfg=cfg, rpc=rpc, log_warning=print)
    etchosts.node_added(lu, "node3.example.com", "192.0.2.3")
    text = (tmp_path / "etc" / "hosts").read_text()
    assert text == "192.0.2.3\tnode3.example.com node3\n"
    assert rpc.uploads == [(["node2.example.com", "node3.example.com"],
                            str(tmp_path / "etc" / "hosts"), text)]
    etchosts.node_removed(lu, "node3.example.com")
    assert (tmp_path / "etc" / "hosts").read_text() == ""
    # the setting off: the file is left alone
    cluster = cfg.get_cluster_info()
    cluster.modify_etc_hosts = False
    cfg.update(cluster)
    etchosts.node_added(lu, "node4.example.com", "192.0.2.4")
    assert (tmp_path / "etc" / "hosts").read_text() == "" and len(rpc.uploads) == 2


def test_verify_compares_etc_hosts_when_maintained(tmp_path, monkeypatch):
    from ganeti import etchosts
    from verify_fakes import make_cfg, run_verify
    import verify_fakes
    cfg = make_cfg(tmp_path)
    checked = []
    real = verify_fakes.FakeRpc.call_node_verify

    def spy(self, nodes, checks, name):
        checked.append(list(checks["filelist"]))
        return real(self, nodes, checks, name)
    monkeypatch.setattr(verify_fakes.FakeRpc, "call_node_verify", spy)
    run_verify(cfg, {})
    assert etchosts.hosts_file() in checked[-1]
    cluster = cfg.get_cluster_info()
    cluster.modify_etc_hosts = False
    cfg.update(cluster)
    run_verify(cfg, {})
    assert etchosts.hosts_file() not in checked[-1]


# ---- watcher pause: on every node -----------------------------------------------------------

class _PauseRpc:
    """Runs set_watcher_pause for each node against that node's own pause file."""

    def __init__(self, base, down=()):
        self.base = base
        self.down = set(down)
        self.called = []

    def call(self, procedure, nodes, args):
        from ganeti.backend import watcher_pause
        from verify_fakes import Result
        assert procedure == "set_watcher_pause"
        self.called.append(list(nodes))
        out = {}
        for node in nodes:
            if node in self.down:
                out[node] = Result(None, "Connection refused")
                continue
            watcher_pause.set_watcher_pause(
                *args, pause_file=str(self.base / node / "watcher.pause"))
            out[node] = Result(args[0])
        return out


def test_watcher_pause_is_set_on_every_node(tmp_path):
    import types

    from ganeti import watcher
    from ganeti.cmdlib import cluster as lu_cluster
    cfg = _make_cfg(tmp_path, nodes=3)
    node3 = cfg.get_node_info("node3.example.com")
    node3.offline = True
    cfg.update(node3)
    rpc = _PauseRpc(tmp_path)
    ctx = types.SimpleNamespace(cfg=cfg, rpc=rpc)
    until = int(time.time()) + 3600
    assert lu_cluster.set_watcher_pause(ctx, until) == until
    assert rpc.called == [["node1.example.com", "node2.example.com"]]
    for node in ("node1.example.com", "node2.example.com"):
        # each node's own watcher now sees the pause (a failover keeps it)
        path = str(tmp_path / node / "watcher.pause")
        assert watcher.read_pause(path) == until
    assert lu_cluster.set_watcher_pause(ctx, None) is None
    assert not (tmp_path / "node2.example.com" / "watcher.pause").exists()
    rpc.down = {"node2.example.com"}
    with pytest.raises(errors.OpExecError) as err:
        lu_cluster.set_watcher_pause(ctx, until)
    assert "failed on the following node(s): Node node2.example.com: Connection refused" \
        in str(err.value)
    assert watcher.read_pause(str(tmp_path / "node1.example.com" / "watcher.pause")) == until


def test_node_side_pause_refuses_bad_values(tmp_path):
    from ganeti.backend import watcher_pause
    path = str(tmp_path / "pause")
    for bad in (True, "1", float("inf"), [1]):
        with pytest.raises(errors.GenericError):
            watcher_pause.set_watcher_pause(bad, pause_file=path)
    assert not os.path.exists(path)


def test_masterd_sets_the_pause_through_the_cluster(monkeypatch):
    import types

    from ganeti import luxi
    from ganeti.cmdlib import cluster as lu_cluster
    from ganeti.server import masterd
    seen = []
    monkeypatch.setattr(lu_cluster, "set_watcher_pause",
                        lambda ctx, until: seen.append(until) or until)
    handler = masterd.LuxiHandler(types.SimpleNamespace(
        jqueue=None, lease=types.SimpleNamespace(lost=threading.Event())))
    assert handler.handle(luxi.REQ_SET_WATCHER_PAUSE, [1234]) == 1234
    assert seen == [1234]


def test_a_new_node_gets_the_watcher_pause():
    from ganeti import pathutils
    from ganeti.cmdlib import node as lu_node
    # node add copies the master's pause file, and nodes accept it
    assert "WATCHER_PAUSEFILE" in lu_node._NODE_FILES
    assert pathutils.WATCHER_PAUSEFILE in pathutils.upload_allowed_files()


def test_etc_hosts_bind_mount_is_rewritten_in_place(tmp_path, monkeypatch):
    import errno as errno_mod

    from ganeti import etchosts
    from ganeti.utils import io
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    inode = os.stat(hosts).st_ino

    def busy(*args, **kwargs):
        raise OSError(errno_mod.EBUSY, "Device or resource busy")
    monkeypatch.setattr(io, "write_file", busy)
    etchosts.set_entry(str(hosts), "192.0.2.5", "n5.example.com")
    assert hosts.read_text() == "127.0.0.1 localhost\n192.0.2.5\tn5.example.com n5\n"
    assert os.stat(hosts).st_ino == inode
    etchosts.remove_names(str(hosts), "n5.example.com")
    assert hosts.read_text() == "127.0.0.1 localhost\n"


def test_etc_hosts_failure_is_a_warning_after_node_add(tmp_path, monkeypatch):
    import types

    from ganeti import etchosts, pathutils
    (tmp_path / "etc" / "hosts").mkdir(parents=True)      # unwritable as a file
    monkeypatch.setattr(pathutils, "root", lambda path: str(tmp_path) + path)
    warnings = []
    lu = types.SimpleNamespace(cfg=_make_cfg(tmp_path), rpc=_UploadRpc(),
                               log_warning=lambda msg, *a: warnings.append(msg % a))
    etchosts.node_added(lu, "node3.example.com", "192.0.2.3")
    assert len(warnings) == 1 and "gnt-cluster redist-conf" in warnings[0]
    assert lu.rpc.uploads == []
