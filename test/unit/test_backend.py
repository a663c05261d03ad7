"""backend: the node-side procedures, run directly with temporary directories."""

import hashlib
import os
import socket
import stat
import time

import pytest

from ganeti import backend, constants, errors, rpc
from ganeti.utils import process
from test_storage_lvm import NO_GLOBAL_FILTER, unfiltered


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---- ssconf ---------------------------------------------------------------------

def test_write_ssconf_files_and_cleanup(tmp_path):
    data_dir = str(tmp_path)
    (tmp_path / "config.data").write_text("{}")
    backend.write_ssconf_files({"cluster_name": "c.example.com",
                                "node_list": "a\nb", "offline_nodes": ""},
                               data_dir=data_dir)
    path = tmp_path / "ssconf_cluster_name"
    assert path.read_text() == "c.example.com"
    assert _mode(str(path)) == 0o444
    assert (tmp_path / "ssconf_node_list").read_text() == "a\nb"
    # rewrite: stale keys go, values are replaced, other files stay
    backend.write_ssconf_files({"cluster_name": "d.example.com",
                                "master_node": "a"}, data_dir=data_dir)
    assert sorted(os.listdir(data_dir)) == ["config.data", "ssconf_cluster_name",
                                            "ssconf_master_node"]
    assert path.read_text() == "d.example.com"
    assert backend.master_node_name(data_dir=data_dir) == "a"


def test_write_ssconf_refuses_bad_keys(tmp_path):
    with pytest.raises(backend.RpcFail):
        backend.write_ssconf_files({"../../etc/passwd": "x"}, data_dir=str(tmp_path))
    assert os.listdir(str(tmp_path)) == []


def test_master_node_name_missing(tmp_path):
    with pytest.raises(backend.RpcFail):
        backend.master_node_name(data_dir=str(tmp_path))


# ---- upload_file -------------------------------------------------------------------

def test_upload_refuses_files_not_on_the_allow_list(tmp_path):
    before = os.stat("/etc/passwd")
    with pytest.raises(backend.RpcFail) as err:
        backend.upload_file("/etc/passwd", rpc.encode_file_data("root::0:0::/:/bin/sh\n"),
                            0o644, None)
    assert "not allowed to be uploaded" in str(err.value)
    after = os.stat("/etc/passwd")
    assert (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size)
    # same under a virtual root: nothing is written there either
    with pytest.raises(backend.RpcFail):
        backend.upload_file("/etc/passwd", rpc.encode_file_data("x"), 0o644, None,
                            root_dir=str(tmp_path))
    assert not os.path.exists(str(tmp_path / "etc"))


def test_upload_refuses_path_tricks(tmp_path):
    root = str(tmp_path)
    allowed = {root + "/var/lib/ganeti/config.data"}
    for path in ("/var/lib/ganeti/../ganeti/config.data", "var/lib/ganeti/config.data",
                 "/var/lib/ganeti//config.data", None):
        with pytest.raises(backend.RpcFail):
            backend.upload_file(path, "x", 0o600, None, allowed_files=allowed,
                                root_dir=root)


def test_upload_writes_allowed_files_atomically(tmp_path):
    root = str(tmp_path)
    target = root + "/var/lib/ganeti/known_hosts"
    allowed = {target}
    content = b'node1 ssh-ed25519 AAAA\n' * 100
    mtime = time.time() - 3600
    assert backend.upload_file("/var/lib/ganeti/known_hosts", rpc.encode_file_data(content),
                               0o600, mtime, allowed_files=allowed, root_dir=root)
    assert open(target, "rb").read() == content
    assert _mode(target) == 0o600
    assert abs(os.stat(target).st_mtime - mtime) < 1
    # replacing keeps a single file (temp file renamed over it)
    backend.upload_file("/var/lib/ganeti/known_hosts", "new", 0o640, None,
                        allowed_files=allowed, root_dir=root)
    assert open(target).read() == "new" and _mode(target) == 0o640
    assert os.listdir(os.path.dirname(target)) == ["known_hosts"]


def test_uploaded_config_data_never_goes_back_to_an_older_serial(tmp_path):
    """The node's own sync from etcd may have written a newer copy first."""
    root = str(tmp_path)
    target = root + "/var/lib/ganeti/config.data"
    allowed = {target}

    def upload(serial, mode=0o600):
        return backend.upload_file("/var/lib/ganeti/config.data",
                                   '{"serial_no": %d, "cluster": {}}' % serial, mode, None,
                                   allowed_files=allowed, root_dir=root)
    assert upload(7)
    assert upload(9, 0o640) and '"serial_no": 9' in open(target).read()
    assert _mode(target) == 0o640
    assert upload(8)             # answered, but the newer copy stays
    assert '"serial_no": 9' in open(target).read()
    with pytest.raises(backend.RpcFail) as err:
        backend.upload_file("/var/lib/ganeti/config.data", "not json", 0o600, None,
                            allowed_files=allowed, root_dir=root)
    assert "Not a configuration" in str(err.value)
    assert '"serial_no": 9' in open(target).read()


# ---- hooks ---------------------------------------------------------------------------

def _script(path, body, mode=0o755):
    with open(path, "w") as fd:
        fd.write("#!/bin/sh\n" + body)
    os.chmod(path, mode)


def test_hooks_runner(tmp_path):
    hooks = tmp_path / "hooks"
    hdir = hooks / "instance-start-pre.d"
    hdir.mkdir(parents=True)
    _script(str(hdir / "10-ok"), 'echo "ok $GANETI_INSTANCE_NAME"; echo PATH=$PATH\n'
            'echo "other=${SOME_OTHER_VAR:-unset}"; echo err >&2\n')
    _script(str(hdir / "20_fail"), "echo failing; exit 3\n")
    _script(str(hdir / "30-skip.sh"), "echo never\n")
    _script(str(hdir / "40-noexec"), "echo never\n", mode=0o644)
    os.mkdir(str(hdir / "50-dir"))
    os.environ["SOME_OTHER_VAR"] = "leak"
    try:
        res = backend.hooks_runner("instance-start", "pre",
                                   {"GANETI_INSTANCE_NAME": "inst1",
                                    "GANETI_HOOKS_PHASE": "pre"},
                                   hooks_dir=str(hooks))
    finally:
        del os.environ["SOME_OTHER_VAR"]
    assert [r[0] for r in res] == ["instance-start-pre.d/10-ok",
                                   "instance-start-pre.d/20_fail",
                                   "instance-start-pre.d/30-skip.sh",
                                   "instance-start-pre.d/40-noexec",
                                   "instance-start-pre.d/50-dir"]
    assert [r[1] for r in res] == [constants.HKR_SUCCESS, constants.HKR_FAIL,
                                   constants.HKR_SKIP, constants.HKR_SKIP,
                                   constants.HKR_SKIP]
    out = res[0][2]
    assert "ok inst1" in out and "PATH=" + backend.HOOKS_PATH in out
    assert "other=unset" in out and "err" in out
    assert res[1][2] == "failing"
    assert res[2][2] == ""


def test_hooks_runner_missing_dir_and_bad_args(tmp_path):
    assert backend.hooks_runner("cluster-verify", "post", {},
                                hooks_dir=str(tmp_path)) == []
    with pytest.raises(backend.RpcFail):
        backend.hooks_runner("../etc", "pre", {}, hooks_dir=str(tmp_path))
    with pytest.raises(backend.RpcFail):
        backend.hooks_runner("cluster-verify", "middle", {}, hooks_dir=str(tmp_path))


def test_hooks_runner_timeout(tmp_path):
    hdir = tmp_path / "node-add-post.d"
    hdir.mkdir()
    _script(str(hdir / "slow"), "echo started; sleep 30\n")
    start = time.monotonic()
    res = backend.hooks_runner("node-add", "post", {}, hooks_dir=str(tmp_path),
                               timeout=0.5)
    assert time.monotonic() - start < 5
    assert res[0][1] == constants.HKR_FAIL and "timed out" in res[0][2]


# ---- node_info / node_verify / misc ----------------------------------------------------

def test_node_info_numbers_are_plausible(tmp_path):
    res = backend.node_info([["file", str(tmp_path)], ["file", str(tmp_path / "x" / "y")],
                             ["diskless", ""], ["rbd", "pool"]],
                            [["fake", {}]])
    assert res["memory_total"] > 0
    assert 0 <= res["memory_free"] <= res["memory_total"]
    # the hypervisor's view: memory of its instances is neither free nor the node's
    assert res["memory_dom0"] + res["memory_free"] <= res["memory_total"]
    assert res["hv"][0]["name"] == "fake"
    assert res["cpu_total"] == os.cpu_count()
    assert res["bootid"]
    file_info = res["storage"][0]
    assert file_info["type"] == "file" and file_info["name"] == str(tmp_path)
    assert 0 <= file_info["storage_free"] <= file_info["storage_size"]
    # a missing directory reports its nearest existing parent's file system
    assert res["storage"][1]["storage_size"] == file_info["storage_size"]
    assert res["storage"][2]["storage_size"] == 0
    assert "error" in res["storage"][3]
    assert res["hv"][0]["name"] == "fake"
    assert res["hv"][0]["memory_total"] == res["memory_total"]


def test_node_info_lvm(monkeypatch):
    calls = []

    def fake_run_cmd(cmd, **kwargs):
        cmd = unfiltered(cmd)
        if cmd is None:
            return process.RunResult([], 5, None, "", NO_GLOBAL_FILTER)
        calls.append(cmd)
        if cmd[-1] == "xenvg":
            return process.RunResult(cmd, 0, None, "  xenvg   10236.00  4096.50\n", "")
        return process.RunResult(cmd, 5, None, "", "  Volume group \"%s\" not found\n"
                                 % cmd[-1])

    monkeypatch.setattr(process, "run_cmd", fake_run_cmd)
    res = backend.node_info([["lvm-vg", "xenvg", [False]], ["lvm-vg", "other"]], [])
    assert res["storage"][0] == {"type": "lvm-vg", "name": "xenvg",
                                 "storage_size": 10236, "storage_free": 4096}
    assert "not found" in res["storage"][1]["error"]
    assert calls[0][:7] == ["vgs", "--noheadings", "--units", "m", "--nosuffix",
                            "-o", "vg_name,vg_size,vg_free"]


def test_node_verify(tmp_path, monkeypatch):
    # the resolver is faked: the test must not depend on this machine's /etc/hosts
    def fake_getaddrinfo(name, *args, **kwargs):
        if name == "node2.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.2", 0))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    present = tmp_path / "var" / "lib" / "ganeti" / "config.data"
    present.parent.mkdir(parents=True)
    present.write_bytes(b"data")
    res = backend.node_verify({"version": None,
                               "filelist": ["/var/lib/ganeti/config.data",
                                            "/var/lib/ganeti/missing"],
                               "nodelist": ["node2.example.com", "no-such-node.invalid"],
                               "time": None, "hypervisor": ["fake"],
                               "unknown-check": 1},
                              "cluster.example.com", root_dir=str(tmp_path))
    assert res["version"] == [constants.PROTOCOL_VERSION, constants.RELEASE_VERSION]
    assert res["filelist"] == {"/var/lib/ganeti/config.data":
                               hashlib.sha1(b"data").hexdigest(),
                               "/var/lib/ganeti/missing": None}
    assert list(res["nodelist"]) == ["no-such-node.invalid"]
    assert abs(res["time"] - time.time()) < 5
    assert "unknown-check" not in res and "hypervisor" not in res


def test_version_and_test_delay():
    assert backend.version() == constants.PROTOCOL_VERSION
    start = time.monotonic()
    assert backend.test_delay(0.2) is True
    assert time.monotonic() - start >= 0.2
    with pytest.raises(backend.RpcFail):
        backend.test_delay("soon")


def test_master_ip_commands(monkeypatch):
    calls = []
    present = []

    def fake_run_cmd(cmd, **kwargs):
        calls.append(cmd)
        if "show" in cmd:
            out = " inet 192.0.2.10/24 scope global eth0:0\n" if present else ""
            return process.RunResult(cmd, 0, None, out, "")
        return process.RunResult(cmd, 0, None, "", "")

    monkeypatch.setattr(process, "run_cmd", fake_run_cmd)
    params = {"ip": "192.0.2.10", "netmask": 24, "netdev": "eth0",
              "ip_family": constants.IP4_FAMILY}
    backend.node_activate_master_ip(params)
    assert ["ip", "address", "add", "192.0.2.10/24", "dev", "eth0",
            "label", "eth0:0"] in calls
    assert ["arping", "-q", "-U", "-c", "3", "-I", "eth0", "-s", "192.0.2.10",
            "192.0.2.10"] in calls
    # already present: nothing added; deactivation removes it
    present.append(1)
    calls[:] = []
    backend.node_activate_master_ip(params)
    assert not [c for c in calls if "add" in c]
    backend.node_deactivate_master_ip(params)
    assert ["ip", "address", "del", "192.0.2.10/24", "dev", "eth0"] in calls
    # absent: deactivation is a no-op
    present[:] = []
    calls[:] = []
    backend.node_deactivate_master_ip(dict(params, netdev="lo"))
    assert not [c for c in calls if "del" in c]
    with pytest.raises(backend.RpcFail):
        backend.node_activate_master_ip({"ip": "1.2.3.4; rm -rf /", "netmask": 32,
                                         "netdev": "lo"})


def test_master_ip_failure_is_reported(monkeypatch):
    def fake_run_cmd(cmd, **kwargs):
        if "show" in cmd:
            return process.RunResult(cmd, 0, None, "", "")
        return process.RunResult(cmd, 2, None, "", "RTNETLINK answers: Operation"
                                 " not permitted\n")

    monkeypatch.setattr(process, "run_cmd", fake_run_cmd)
    with pytest.raises(backend.RpcFail) as err:
        backend.node_activate_master_ip({"ip": "192.0.2.10", "netmask": 32,
                                         "netdev": "lo"})
    assert "not permitted" in str(err.value)


def test_node_leave_cluster(tmp_path):
    data = tmp_path / "lib"
    (data / "queue" / "archive" / "0").mkdir(parents=True)
    for name in ("config.data", "server.pem", "rapi.pem", "ssconf_master_node",
                 "ssconf_node_list", "queue/job-1", "queue/serial",
                 "queue/archive/0/job-0", "keep-me"):
        (data / name).write_text("x")
    crypto = tmp_path / "crypto"
    (crypto / "x509-1").mkdir(parents=True)
    # everything in the test's own directories: the defaults are this machine's
    # crypto dir and its running daemons (a quickstart cluster's masterd)
    with pytest.raises(errors.QuitGanetiException) as err:
        backend.node_leave_cluster(False, data_dir=str(data), crypto_dir=str(crypto),
                                   stop_daemons=False)
    assert err.value.args[0] is True
    assert sorted(os.listdir(str(data))) == ["keep-me", "queue"]
    assert os.listdir(str(data / "queue")) == []
    assert os.listdir(str(crypto)) == []


def test_node_has_ip_address(monkeypatch):
    from ganeti.utils import process
    recorded = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
                "2: eth0    inet 10.79.0.12/24 scope global eth0\\       valid_lft forever\n"
                "2: eth0    inet 10.79.1.12/24 scope global eth0\\       valid_lft forever\n")
    monkeypatch.setattr(process, "run_cmd", lambda cmd, **kw: process.RunResult(
        cmd, 0, None, recorded, ""))
    assert backend.PROCEDURES["node_has_ip_address"]("10.79.1.12") is True
    assert backend.PROCEDURES["node_has_ip_address"]("10.79.1.99") is False
    assert backend.PROCEDURES["node_has_ip_address"]("10.79.1.1") is False
