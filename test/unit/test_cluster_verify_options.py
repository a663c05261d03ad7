"""gnt-cluster verify --node-group, --debug-simulate-errors, --verify-ssh-clutter and
the report of files left behind in the file storage dir."""

import os
import time
import types

import pytest

from ganeti import errors, objects, opcodes, pathutils
from ganeti.backend import verify as nv
from ganeti.client import gnt_cluster
from ganeti.cmdlib import cluster_verify

from test_cluster_verify_certs import DAY, write_cert
from verify_fakes import make_cfg, run_verify


@pytest.fixture
def good_cert(tmp_path, monkeypatch):
    now = time.time()
    monkeypatch.setattr(pathutils, "NODED_CERT_FILE",
                        write_cert(tmp_path / "server.pem", now - DAY, now + 300 * DAY))
    monkeypatch.setattr(pathutils, "RAPI_CERT_FILE", str(tmp_path / "no-rapi.pem"))
    monkeypatch.setattr(pathutils, "DISK_LINKS_DIR", str(tmp_path / "links"))


def test_node_group_default_verifies_that_group_only(tmp_path, good_cert):
    ok, logs = run_verify(make_cfg(tmp_path), {}, group_name="default")
    assert ok, logs
    assert "* Verifying group 'default'" in logs
    # the cluster-wide part belongs to the run without a group, as in Ganeti
    assert "* Verifying cluster config" not in logs
    assert "* Gathering data (2 nodes)" in logs


def test_verify_submits_the_config_job_and_one_job_per_group(tmp_path, good_cert):
    from verify_fakes import FakeRpc
    cfg = make_cfg(tmp_path)
    ctx = types.SimpleNamespace(cfg=cfg, rpc=FakeRpc({}), glm=None)
    op = opcodes.OpClusterVerify(verbose=True, skip_checks=["nplusone_mem"])
    op.validate()
    lu = cluster_verify.LUClusterVerify(None, op, ctx, [].append)
    lu.expand_names()
    jobs = lu.exec(None).jobs
    assert [type(j[0]).__name__ for j in jobs] == ["OpClusterVerifyConfig",
                                                   "OpClusterVerifyGroup"]
    group = jobs[1][0]
    assert group.group_name == cfg.lookup_node_group("default")
    assert group.depends == [[-1, []]] and group.verbose
    assert group.skip_checks == ["nplusone_mem"]
    op = opcodes.OpClusterVerify(group_name="default")
    op.validate()
    lu = cluster_verify.LUClusterVerify(None, op, ctx, [].append)
    lu.expand_names()
    (only,), = lu.exec(None).jobs
    assert only.group_name == "default" and only.depends is None


def test_unknown_node_group_is_refused(tmp_path, good_cert):
    with pytest.raises(errors.OpPrereqError) as err:
        run_verify(make_cfg(tmp_path), {}, group_name="nosuchgroup")
    assert str(err.value.args[0]) == "Node group 'nosuchgroup' not found"
    assert err.value.args[1] == errors.ECODE_NOENT


def test_debug_simulate_errors_reports_every_check(tmp_path, good_cert):
    ok, clean = run_verify(make_cfg(tmp_path), {})
    assert ok and not [line for line in clean if line.startswith("  - ") and "NOTICE" not in line]
    ok, logs = run_verify(make_cfg(tmp_path), {}, debug_simulate_errors=True)
    assert not ok
    ok, logs = run_verify(make_cfg(tmp_path), {}, debug_simulate_errors=True,
                          error_codes=True)
    codes = set(line.split(":")[1] for line in logs if line.startswith("  - ") and "NOTICE" not in line)
    for code in ("ECLUSTERCFG", "ECLUSTERETCD", "ECLUSTERCERT", "ECLUSTERDANGLINGNODES",
                 "ENODEVERSION",
                 "ENODESSH", "ENODETIME", "ECLUSTERCLIENTCERT", "ECLUSTERFILECHECK",
                 "ENODEORPHANLV"):
        assert code in codes, (code, logs)


def _auth_keys(tmp_path, lines):
    ssh = tmp_path / "root" / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    (ssh / "authorized_keys").write_text("".join(line + "\n" for line in lines))


def test_ssh_clutter_node_side(tmp_path):
    _auth_keys(tmp_path, ["# comment", "ssh-ed25519 AAAA1 root@node1.example.com",
                          "ssh-ed25519 AAAA2 root@node2.example.com",
                          "ssh-ed25519 AAAA3 root@node1.example.com",
                          "ssh-ed25519 AAAA4 admin@laptop", "ssh-ed25519 AAAA5 admin@laptop"])
    params = {"nodes": ["node1.example.com", "node2.example.com"],
              "name": "node2.example.com"}
    msgs = nv.ssh_clutter(params, root_dir=str(tmp_path))
    assert len(msgs) == 1
    assert msgs[0].startswith("There are hosts which have more than one SSH key stored for"
                              " the same user in the 'authorized_keys' file of node"
                              " node2.example.com.")
    assert "Entry for 'root@node1.example.com' in lines 2, 4." in msgs[0]
    assert "laptop" not in msgs[0]      # not a cluster node: not Ganeti's business
    _auth_keys(tmp_path, ["ssh-ed25519 AAAA1 root@node1.example.com"])
    assert nv.ssh_clutter(params, root_dir=str(tmp_path)) == []


def test_verify_ssh_clutter_only_when_asked(tmp_path, good_cert):
    clutter = {"node2.example.com": {nv.NV_SSH_CLUTTER: ["There are hosts ... node2"]}}
    ok, logs = run_verify(make_cfg(tmp_path), clutter)
    assert ok and not any("There are hosts" in line for line in logs)
    ok, logs = run_verify(make_cfg(tmp_path), clutter, verify_clutter=True)
    assert not ok
    assert "  - ERROR: node node2.example.com: There are hosts ... node2" in logs


def test_client_passes_verify_options(monkeypatch):
    from ganeti import cli
    seen = []
    monkeypatch.setattr(cli, "get_client", lambda: None)
    monkeypatch.setattr(cli, "submit_op_code",
                        lambda op, cl=None, opts=None: seen.append(op) or {"jobs": [[True, 7]]})
    monkeypatch.setattr(cli, "wait_for_submitted_jobs",
                        lambda jobs, cl=None: seen.append(jobs) or [(True, [False])])
    monkeypatch.setattr("sys.argv", ["gnt-cluster", "verify", "--node-group", "default",
                                     "--verify-ssh-clutter", "--debug-simulate-errors"])
    # the group job found errors: exit 1
    assert gnt_cluster.main() == 1
    assert seen[1] == [[True, 7]]
    assert seen[0].group_name == "default"
    assert seen[0].verify_clutter is True
    assert seen[0].debug_simulate_errors is True


# ---- leftovers of failed jobs ------------------------------------------------------------

def _file_instance(name, storage, node="node1.example.com", ndisks=1):
    disks = []
    for idx in range(ndisks):
        path = os.path.join(storage, name, "disk%d-abcdef01.file" % idx)
        disks.append(objects.Disk(dev_type="file", logical_id=["loop", path], size=128,
                                  iv_name="disk/%d" % idx, nodes=[node]))
    return objects.Instance(name=name, primary_node=node, os="noop", hypervisor="fake",
                            disk_template="file", disks=disks, admin_state="down")


def test_orphan_files_and_dirs_are_reported(tmp_path, good_cert):
    storage = str(tmp_path / "fs")
    known = _file_instance("inst1", storage)
    os.makedirs(os.path.join(storage, "inst1"))
    open(known.disks[0].logical_id[1], "w").close()
    open(os.path.join(storage, "inst1", "disk1-0000.file"), "w").close()   # stray disk
    os.makedirs(os.path.join(storage, "gone.example.com"))                 # stray instance
    open(os.path.join(storage, "gone.example.com", "disk0-1.file"), "w").close()
    links = tmp_path / "links"
    links.mkdir()
    (links / "inst1:0").symlink_to(known.disks[0].logical_id[1])
    (links / "gone.example.com:0").symlink_to("/nonexistent")
    cfg = make_cfg(tmp_path, instances=[known], file_storage_dir=storage)
    ok, logs = run_verify(cfg, {})
    assert ok, logs        # warnings, as Ganeti's orphan volumes
    warnings = [line for line in logs if line.startswith("  - WARNING")]
    # every node of this fake cluster shares the files; node2 owns none of them
    assert ("  - WARNING: node node1.example.com: file %s/inst1/disk1-0000.file is unknown"
            % storage) in warnings
    assert ("  - WARNING: node node1.example.com: directory %s/gone.example.com is unknown"
            % storage) in warnings
    assert ("  - WARNING: node node1.example.com: file %s/gone.example.com:0 is unknown"
            % links) in warnings
    assert not any("node1.example.com: file %s" % known.disks[0].logical_id[1] in line
                   for line in warnings)
    assert not any("node1.example.com: file %s/inst1:0 " % links in line
                   for line in warnings)
    assert ("  - WARNING: node node2.example.com: directory %s/inst1 is unknown"
            % storage) in warnings
    ok, logs = run_verify(cfg, {}, error_codes=True)
    assert any(line.startswith("  - WARNING:ENODEORPHANLV:node:node1.example.com:file")
               for line in logs)
    # once cleaned up, nothing is reported
    for path in ("inst1/disk1-0000.file", "gone.example.com/disk0-1.file"):
        os.unlink(os.path.join(storage, path))
    os.rmdir(os.path.join(storage, "gone.example.com"))
    (links / "gone.example.com:0").unlink()
    ok, logs = run_verify(make_cfg(tmp_path, nodes=1, instances=[known],
                                   file_storage_dir=storage), {})
    assert not [line for line in logs if line.startswith("  - ") and "NOTICE" not in line], logs


def test_verbose_names_each_node_and_instance(tmp_path, good_cert):
    inst = _file_instance("inst1", str(tmp_path / "fs"))
    ok, logs = run_verify(make_cfg(tmp_path, instances=[inst]), {}, verbose=True)
    assert "* Verifying node node1.example.com (master)" in logs
    assert "* Verifying node node2.example.com (regular)" in logs
    assert "* Verifying instance inst1" in logs
    ok, logs = run_verify(make_cfg(tmp_path, instances=[inst]), {})
    assert not [line for line in logs if line.startswith("* Verifying node node")]


def test_kvm_runtime_leftovers_are_reported(tmp_path, good_cert, monkeypatch):
    monkeypatch.setattr(pathutils, "RUN_DIR", str(tmp_path / "run"))
    base = tmp_path / "run" / "kvm-hypervisor"
    for sub, entries in (("conf", ["inst1.runtime", "ghost.runtime"]),
                         ("pid", ["inst1", "ghost"]), ("ctrl", ["ghost.qmp", "inst1.qmp"])):
        (base / sub).mkdir(parents=True)
        for entry in entries:
            (base / sub / entry).write_text("")
    (base / "nic" / "ghost").mkdir(parents=True)
    inst = _file_instance("inst1", str(tmp_path / "fs"))
    ok, logs = run_verify(make_cfg(tmp_path, nodes=1, instances=[inst]), {})
    reported = sorted(line.split("node node1.example.com: ")[1] for line in logs
                      if "is unknown" in line)
    assert reported == ["directory %s/nic/ghost is unknown" % base,
                        "file %s/conf/ghost.runtime is unknown" % base,
                        "file %s/ctrl/ghost.qmp is unknown" % base,
                        "file %s/pid/ghost is unknown" % base]


def test_etcd_problems_are_errors_with_the_config_and_no_step_of_their_own(tmp_path,
                                                                          good_cert):
    ok, clean = run_verify(make_cfg(tmp_path), {})
    ok2, logs = run_verify(make_cfg(tmp_path), {}, etcd_problems=[
        "etcd has lost its quorum: 1 of 3 voting members are healthy, 2 needed"])
    assert ok and not ok2
    steps = [line for line in clean if line.startswith("* ")]
    assert [line for line in logs if line.startswith("* ")] == steps
    at = logs.index("* Verifying cluster config")
    assert logs[at + 1] == ("  - ERROR: cluster: etcd has lost its quorum: 1 of 3 voting"
                            " members are healthy, 2 needed")


def test_volumes_and_drbd_minors(tmp_path, good_cert):
    """What the nodes report of LVM and DRBD against the config: orphan and missing
    volumes, a missing volume group, minors in use that nobody owns and minors of
    active disks that are not."""
    cfg = make_cfg(tmp_path)
    cluster = cfg.get_cluster_info()
    cluster.volume_group_name = "xenvg"
    cluster.enabled_disk_templates = ["drbd", "plain"]
    cluster.reserved_lvs = ["xenvg/keep.*"]
    cfg.update(cluster)
    n1, n2 = "node1.example.com", "node2.example.com"
    plain = objects.Disk(dev_type="plain", logical_id=["xenvg", "u1.disk0"], size=1024,
                         iv_name="disk/0", nodes=[n1])
    cfg.add_instance(objects.Instance(name="i1", primary_node=n1, os="noop",
                                      hypervisor="fake", disk_template="plain",
                                      disks=[plain], nics=[], admin_state="down"))
    data = objects.Disk(dev_type="plain", logical_id=["xenvg", "d.disk0_data"],
                        size=1024, nodes=[n1, n2])
    meta = objects.Disk(dev_type="plain", logical_id=["xenvg", "d.disk0_meta"],
                        size=128, nodes=[n1, n2])
    mirror = objects.Disk(dev_type="drbd", logical_id=[n1, n2, 11000, 0, 3, "x"],
                          children=[data, meta], size=1024, iv_name="disk/0",
                          nodes=[n1, n2])
    cfg.add_instance(objects.Instance(name="i2", primary_node=n1, os="noop",
                                      hypervisor="fake", disk_template="drbd",
                                      disks=[mirror], nics=[], admin_state="down",
                                      disks_active=True))
    answers = {
        n1: {nv.NV_VGLIST: {"xenvg": 30000},
             nv.NV_LVLIST: dict((v, [8, True]) for v in (
                 "xenvg/u1.disk0", "xenvg/d.disk0_data", "xenvg/d.disk0_meta",
                 "xenvg/stray", "xenvg/keep-me")),
             nv.NV_DRBDLIST: [0, 5]},
        n2: {nv.NV_VGLIST: {"othervg": 30000},
             nv.NV_LVLIST: {"xenvg/d.disk0_data": [8, True]},
             nv.NV_DRBDLIST: []},
    }
    ok, logs = run_verify(cfg, answers)
    assert not ok
    problems = [line for line in logs if line.startswith("  - ") and "NOTICE" not in line]
    assert problems == [
        "  - ERROR: node %s: unallocated drbd minor 5 is in use" % n1,
        "  - ERROR: node %s: volume group 'xenvg' missing" % n2,
        "  - ERROR: node %s: node didn't return data for the volume group 'xenvg' - it"
        " is either missing or broken" % n2,
        "  - ERROR: node %s: drbd minor 3 of disk %s (attached in instance 'i2') is not"
        " active" % (n2, mirror.uuid),
        "  - ERROR: instance i2: volume xenvg/d.disk0_meta missing on node %s" % n2,
        "  - WARNING: node %s: volume xenvg/stray is unknown" % n1,
    ], logs


def test_a_volume_group_set_is_checked_without_lvm_templates(tmp_path, good_cert):
    """Ganeti checks the cluster's volume group whenever one is set: a node with
    no volume group at all cannot check it, nor has its data."""
    cfg = make_cfg(tmp_path, nodes=1)
    cluster = cfg.get_cluster_info()
    cluster.volume_group_name = "xenvg"
    cluster.enabled_disk_templates = ["file"]
    cfg.update(cluster)
    n1 = "node1.example.com"
    ok, logs = run_verify(cfg, {n1: {nv.NV_VGLIST: {}, nv.NV_LVLIST: {},
                                     nv.NV_PVLIST: []}})
    assert not ok
    assert [line for line in logs if "ERROR" in line] == [
        "  - ERROR: node %s: unable to check volume groups" % n1,
        "  - ERROR: node %s: node didn't return data for the volume group 'xenvg' - it"
        " is either missing or broken" % n1], logs


@pytest.mark.parametrize("hypervisors, asked", [(["kvm"], ["br-inst", "gntbr0"]),
                                                (["fake"], [])])
def test_missing_bridges(tmp_path, good_cert, hypervisors, asked):
    """The default NIC link and the instances' bridges must be on every node
    (for the hypervisors that use bridges, as instance start-up checks)."""
    storage = str(tmp_path / "fs")
    inst = _file_instance("inst1.example.com", storage)
    inst.hypervisor = hypervisors[0]
    inst.nics = [objects.NIC(mac="aa:00:00:00:00:01",
                             nicparams={"mode": "bridged", "link": "br-inst"})]
    cfg = make_cfg(tmp_path, nodes=1, instances=[inst], file_storage_dir=storage)
    cluster = cfg.get_cluster_info()
    cluster.enabled_hypervisors = hypervisors
    cluster.nicparams = {"default": {"mode": "bridged", "link": "gntbr0", "vlan": ""}}
    cfg.update(cluster)
    n1 = "node1.example.com"
    ok, logs = run_verify(cfg, {n1: {nv.NV_BRIDGES: ["gntbr0", "br-inst"]}})
    errors_found = [line for line in logs if "bridge" in line]
    if asked:
        assert errors_found == ["  - ERROR: node %s: missing bridges: br-inst, gntbr0" % n1]
    else:
        assert errors_found == [], logs


def test_other_notes_as_ganeti_counts_them(tmp_path, good_cert):
    storage = str(tmp_path / "fs")
    plain = _file_instance("inst1.example.com", storage)
    plain.beparams = {"auto_balance": False}
    plain.admin_state = "offline"
    ok, logs = run_verify(make_cfg(tmp_path, nodes=1, instances=[plain],
                                   file_storage_dir=storage), {})
    notes = logs[logs.index("* Other Notes") + 1:]
    assert notes[:3] == ["  - NOTICE: 1 non-redundant instance(s) found.",
                         "  - NOTICE: 1 non-auto-balanced instance(s) found.",
                         "  - NOTICE: 1 offline instance(s) found."], logs
