"""Disk transfers between two helper processes (ganeti.impexpd) over TLS on
loopback, started and watched through the node procedures (backend/impexp),
and the export directory procedures."""

import configparser
import os
import time

import pytest

from ganeti import objects, pathutils
from ganeti.backend import impexp
from ganeti.backend.common import RpcFail
from ganeti.utils import x509

DATA = os.urandom(3 * 1024 * 1024 + 12345)


@pytest.fixture
def node(tmp_path, monkeypatch):
    """This test process as a node: cert, export and status directories."""
    cert = str(tmp_path / "server.pem")
    x509.generate_cluster_cert_file(cert)
    monkeypatch.setattr(pathutils, "NODED_CERT_FILE", cert)
    monkeypatch.setattr(pathutils, "EXPORT_DIR", str(tmp_path / "export"))
    monkeypatch.setattr(pathutils, "IMPORT_EXPORT_DIR", str(tmp_path / "ie"))
    monkeypatch.setattr(pathutils, "LOG_OS_DIR", str(tmp_path / "oslog"))
    names = []
    yield names
    for name in names:
        impexp.impexp_cleanup(name)


def _wait(name, key, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (status,) = impexp.impexp_status([name])
        if status and status.get(key) is not None and status.get(key) is not False:
            return status
        time.sleep(0.05)
    raise AssertionError("%s: no %s in %s" % (name, key, status))


def _transfer(node, src, dst, compress="none", magic="magic-1", export_magic=None,
              instance=None):
    opts = {"magic": magic, "compress": compress}
    imp = impexp.import_start(opts, "127.0.0.1", instance, "disk0", dst)
    node.append(imp)
    port = _wait(imp, "listen_port")["listen_port"]
    exp = impexp.export_start(dict(opts, magic=export_magic or magic), "127.0.0.1",
                              port, instance, "disk0", src)
    node.append(exp)
    return _wait(imp, "exit_status", 90), _wait(exp, "exit_status", 90)


@pytest.mark.parametrize("compress", ["none", "gzip", "gzip-slow"])
def test_file_to_file(node, tmp_path, compress):
    src = tmp_path / "export" / "a" / "src"
    src.parent.mkdir(parents=True)
    src.write_bytes(DATA)
    dst = tmp_path / "export" / "b.new" / "dst"
    imp, exp = _transfer(node, ["file", str(src)], ["file", str(dst)], compress)
    assert (imp["exit_status"], exp["exit_status"]) == (0, 0), (imp, exp)
    assert dst.read_bytes() == DATA
    assert oct(dst.stat().st_mode & 0o777) == "0o600"
    assert exp["progress_mbytes"] == 3 and exp["progress_percent"] == 100
    assert exp["connected"] and imp["connected"]


def test_paths_outside_the_export_directory_are_refused(node, tmp_path):
    opts = {"magic": "magic-1", "compress": "none"}
    with pytest.raises(RpcFail, match="not inside the export directory"):
        impexp.import_start(opts, "127.0.0.1", None, "disk0",
                            ["file", str(tmp_path / "elsewhere")])
    with pytest.raises(RpcFail, match="must not contain"):
        impexp.export_start(opts, "127.0.0.1", 1, None, "disk0",
                            ["file", str(tmp_path / "export" / ".." / "x")])
    for bad in ({"magic": "x y", "compress": "none"}, {"magic": "magic-1",
                                                        "compress": "a;b"}, "x"):
        with pytest.raises(RpcFail, match="Invalid"):
            impexp.import_start(bad, "127.0.0.1", None, "disk0",
                                ["file", str(tmp_path / "export" / "f")])
    with pytest.raises(RpcFail, match="Invalid destination port"):
        impexp.export_start(opts, "127.0.0.1", 0, None, "disk0",
                            ["file", str(tmp_path / "export" / "f")])
    with pytest.raises(RpcFail, match="Invalid import/export name"):
        impexp.impexp_status(["../../etc"])
    assert not os.path.exists(tmp_path / "ie") or os.listdir(tmp_path / "ie") == []


def test_wrong_magic_is_not_accepted(node, tmp_path, monkeypatch):
    monkeypatch.setattr(impexp, "CONNECT_TIMEOUT", 3)
    src = tmp_path / "export" / "src"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"x" * 1000)
    dst = tmp_path / "export" / "dst"
    opts = {"magic": "magic-1", "compress": "none"}
    imp = impexp.import_start(opts, "127.0.0.1", None, "disk0", ["file", str(dst)])
    node.append(imp)
    port = _wait(imp, "listen_port")["listen_port"]
    exp = impexp.export_start(dict(opts, magic="magic-2"), "127.0.0.1", port, None,
                              "disk0", ["file", str(src)])
    node.append(exp)
    # the import waits on for its own exporter and gives up after its timeout
    status = _wait(imp, "exit_status", 90)
    assert status["exit_status"] == 1
    assert "No valid connection" in status["error_message"] or \
        "No connection" in status["error_message"]
    assert not dst.exists()


def test_abort_and_cleanup(node, tmp_path):
    dst = tmp_path / "export" / "dst"
    imp = impexp.import_start({"magic": "magic-1", "compress": "none"}, "127.0.0.1",
                              None, "disk0", ["file", str(dst)])
    _wait(imp, "listen_port")
    impexp.impexp_abort(imp)
    status = _wait(imp, "exit_status")
    assert status["exit_status"] == 1 and "Aborted" in status["error_message"]
    impexp.impexp_cleanup(imp)
    assert impexp.impexp_status([imp]) == [None]


def test_export_directory_procedures(node, tmp_path):
    with pytest.raises(RpcFail, match="No exports directory"):
        impexp.export_list()
    inst = objects.Instance(
        name="inst1.example.com", primary_node="node1", os="noop", hypervisor="fake",
        disk_template="plain", tags=["a", "b"], hvparams={"migration_port": 1, "k": "v"},
        beparams={"maxmem": 128, "minmem": 64, "vcpus": 1},
        osparams={"x": "1"}, osparams_private={},
        nics=[objects.NIC(mac="aa:00:00:00:00:01", ip=None, nicparams={"mode": "bridged",
                                                                     "link": "br0"})],
        disks=[])
    disk = objects.Disk(dev_type="plain", logical_id=["xenvg", "d.snap"], size=1024,
                        iv_name="disk/0", uuid="uuid-0")
    new = tmp_path / "export" / "inst1.example.com.new"
    new.mkdir(parents=True)
    (new / "uuid-0").write_bytes(b"data")
    impexp.finalize_export(inst.to_dict(), [disk.to_dict()])
    assert impexp.export_list() == ["inst1.example.com"]
    path = str(tmp_path / "export" / "inst1.example.com")
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(impexp.export_info(path))
    assert conf["export"]["version"] == "0" and conf["export"]["os"] == "noop"
    ins = conf["instance"]
    assert (ins["name"], ins["maxmem"], ins["memory"], ins["disk_count"],
            ins["disk0_dump"], ins["disk0_size"], ins["nic0_link"], ins["nic0_ip"],
            ins["tags"]) == ("inst1.example.com", "128", "128", "1", "uuid-0", "1024",
                             "br0", "None", "a b")
    assert dict(conf["hypervisor"]) == {"k": "v"}
    assert os.path.exists(os.path.join(path, "uuid-0"))
    with pytest.raises(RpcFail, match="required fields"):
        impexp.export_info(str(tmp_path))
    with pytest.raises(RpcFail, match="Invalid export name"):
        impexp.export_remove("../x")
    impexp.export_remove("inst1.example.com")
    assert impexp.export_list() == []


def test_os_scripts_on_both_ends(node, tmp_path, monkeypatch):
    """Export script (reporting its size on EXP_SIZE_FD) -> file, then file ->
    import script writing another disk; the scripts' logs are the OS logs."""
    from ganeti import osinterface, storage
    from test_osinterface import FakeDevice, make_instance, make_transfer_os
    monkeypatch.setattr(storage, "find_device", lambda disk: FakeDevice(
        disk.logical_id[1]) if os.path.exists(disk.logical_id[1]) else None)
    search = make_transfer_os(tmp_path / "os", export_body=(
        'stat -c %s "$EXPORT_DEVICE" >&$EXP_SIZE_FD\ncat "$EXPORT_DEVICE"\n'))
    real = osinterface.transfer_script
    monkeypatch.setattr(osinterface, "transfer_script",
                        lambda *a, **kw: real(*a, path=search, **kw))
    inst = make_instance(tmp_path)
    (tmp_path / "disk0").write_bytes(DATA)
    data = json_roundtrip(inst.to_dict())
    image = tmp_path / "export" / "i.new" / "img"
    imp, exp = _transfer(node, ["script", data["disks"][0], 0], ["file", str(image)],
                         instance=data)
    assert (imp["exit_status"], exp["exit_status"]) == (0, 0), (imp, exp)
    assert image.read_bytes() == DATA
    assert exp["progress_percent"] == 100
    logs = os.listdir(tmp_path / "oslog")
    assert any(name.startswith("export-deb+mini-inst1.example.com-0-") for name in logs)
    imp, exp = _transfer(node, ["file", str(image)], ["script", data["disks"][1], 1],
                         compress="gzip", instance=data)
    assert (imp["exit_status"], exp["exit_status"]) == (0, 0), (imp, exp)
    assert (tmp_path / "disk1").read_bytes() == DATA


def test_a_failing_export_script_fails_both_sides(node, tmp_path, monkeypatch):
    from ganeti import osinterface, storage
    from test_osinterface import FakeDevice, make_instance, make_transfer_os
    monkeypatch.setattr(storage, "find_device", lambda disk: FakeDevice(
        disk.logical_id[1]))
    search = make_transfer_os(tmp_path / "os", export_body=(
        'head -c 100000 /dev/zero\necho "disk is gone" >&2\nexit 3\n'))
    real = osinterface.transfer_script
    monkeypatch.setattr(osinterface, "transfer_script",
                        lambda *a, **kw: real(*a, path=search, **kw))
    data = json_roundtrip(make_instance(tmp_path).to_dict())
    image = tmp_path / "export" / "i.new" / "img"
    imp, exp = _transfer(node, ["script", data["disks"][0], 0], ["file", str(image)],
                         instance=data)
    assert exp["exit_status"] == 1 and "exit code 3" in exp["error_message"]
    assert "disk is gone" in exp["recent_output"]
    assert imp["exit_status"] == 1
    assert "cut before the end" in imp["error_message"]


def json_roundtrip(value):
    import json
    return json.loads(json.dumps(value))
