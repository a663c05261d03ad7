"""gnt-os modify: the opcode it sends, and what OP_CLUSTER_SET_PARAMS does with
the per-OS settings (hypervisor and OS parameters, hidden and blacklisted)."""

import types

import pytest

from ganeti import cli, config, errors, objects, opcodes
from ganeti.client import gnt_os
from ganeti.cmdlib import cluster as lu_cluster
from ganeti.cmdlib import cluster_os, instance_utils, os_params
from ganeti.rpc import RpcResult

from test_cluster_admin import _make_cfg


class OsValidateRpc:
    """Answers os_validate like a node: refuses the parameters in ``refuse``."""

    def __init__(self, refuse=()):
        self.refuse = set(refuse)
        self.calls = []

    def call(self, procedure, nodes, args, timeout=None):
        self.calls.append((procedure, list(nodes), args))
        params = args[3]
        bad = sorted(set(params) & self.refuse)
        if bad:
            return dict((n, RpcResult(n, procedure, fail_msg="Unknown parameter: %s"
                                      % bad[0])) for n in nodes)
        return dict((n, RpcResult(n, procedure, data=True)) for n in nodes)


def _run(cfg, rpc=None, **params):
    op = opcodes.OpClusterSetParams(**params)
    op.validate()
    logs = []
    ctx = types.SimpleNamespace(cfg=cfg, rpc=rpc or OsValidateRpc(), glm=None)
    lu = lu_cluster.LUClusterSetParams(None, op, ctx, logs.append)
    lu.check_prereq()
    lu.exec(logs.append)
    return config.ConfigWriter(cfg._cfg_file).get_cluster_info(), logs


# ---- gnt-os modify: the opcode ---------------------------------------------------------

class SubmitRecorder:
    def __init__(self):
        self.ops = []

    def __call__(self, op, opts, cl=None, feedback_fn=None):
        self.ops.append(op)


def _modify(monkeypatch, argv):
    recorder = SubmitRecorder()
    monkeypatch.setattr(cli, "submit_or_send", recorder)
    rc = cli.generic_main(gnt_os.COMMANDS, argv=["gnt-os", "modify"] + argv)
    return rc, recorder.ops


def test_modify_sends_one_cluster_opcode(monkeypatch):
    rc, (op,) = _modify(monkeypatch, ["-H", "kvm:kernel_path=/vmlinuz,acpi=no", "-H",
                                      "fake:", "-O", "dhcp=yes", "--os-parameters-private",
                                      "password=x", "--hidden=yes", "--blacklisted=no",
                                      "deb+mini"])
    assert rc == 0
    assert isinstance(op, opcodes.OpClusterSetParams)
    assert op.os_hvp == {"deb+mini": {"kvm": {"kernel_path": "/vmlinuz", "acpi": "no"},
                                      "fake": {}}}
    assert op.osparams == {"deb+mini": {"dhcp": "yes"}}
    assert op.osparams_private_cluster == {"deb+mini": {"password": "x"}}
    assert op.hidden_os == [["add", "deb+mini"]]
    assert op.blacklisted_os == [["remove", "deb+mini"]]
    # nothing else of the cluster changes
    assert op.vg_name is None and op.hvparams is None


def test_modify_without_changes_is_refused(monkeypatch, capsys):
    rc, ops = _modify(monkeypatch, ["noop"])
    assert (rc, ops) == (1, [])
    assert capsys.readouterr().err == ("At least one of OS parameters or hypervisor"
                                       " parameters must be passed\n")


def test_modify_needs_exactly_one_os(monkeypatch):
    assert _modify(monkeypatch, ["--hidden=yes"])[0] == 1
    assert _modify(monkeypatch, ["--hidden=yes", "a", "b"])[0] == 1
    assert _modify(monkeypatch, ["--hidden=maybe", "noop"]) == (1, [])   # Ganeti's


# ---- the logical unit -----------------------------------------------------------------

def test_os_hvp_merge_remove_and_check(tmp_path):
    cfg = _make_cfg(tmp_path)
    info, _ = _run(cfg, os_hvp={"noop": {"fake": {}, "kvm": {"kernel_path": "/k"}}})
    assert info.os_hvp == {"noop": {"fake": {}, "kvm": {"kernel_path": "/k"}}}
    info, _ = _run(cfg, os_hvp={"noop": {"kvm": {"acpi": False}}})
    assert info.os_hvp["noop"]["kvm"] == {"kernel_path": "/k", "acpi": False}
    info, _ = _run(cfg, os_hvp={"noop": {"kvm": None, "fake": None}})
    assert info.os_hvp == {}
    for bad in ({"noop": {"xen": {}}}, {"noop": {"kvm": {"nosuchparam": "1"}}},
                {"noop": {"kvm": False}}):
        with pytest.raises(errors.OpPrereqError):
            _run(cfg, os_hvp=bad)
    assert config.ConfigWriter(cfg._cfg_file).get_cluster_info().os_hvp == {}


def test_osparams_public_and_private(tmp_path):
    cfg = _make_cfg(tmp_path)
    rpc = OsValidateRpc()
    info, _ = _run(cfg, rpc, osparams={"deb": {"dhcp": "yes"}},
                   osparams_private_cluster={"deb+mini": {"password": "x"}})
    assert info.osparams == {"deb": {"dhcp": "yes"}}
    assert info.osparams_private_cluster == {"deb+mini": {"password": "x"}}
    # each changed OS is checked on the master, with its filled defaults
    assert sorted((c[2][1], c[2][3], c[2][4]) for c in rpc.calls) == [
        ("deb", {"dhcp": "yes"}, True),
        ("deb+mini", {"dhcp": "yes", "password": "x"}, False)]
    assert all(c[1] == ["node1.example.com"] and c[2][0] is False for c in rpc.calls)
    info, _ = _run(cfg, osparams={"deb": {"dhcp": None}})
    assert info.osparams == {}


def test_osparams_refused_change_changes_nothing(tmp_path):
    cfg = _make_cfg(tmp_path)
    with pytest.raises(errors.OpExecError, match="Unknown parameter: bad"):
        _run(cfg, OsValidateRpc(refuse=["bad"]), osparams={"deb": {"bad": "1"}},
             hidden_os=[["add", "deb"]])
    with pytest.raises(errors.GenericError, match="key 'noop': key 'flag': Unable to"
                       " read String"):
        _run(cfg, osparams={"noop": {"flag": True}})
    info = config.ConfigWriter(cfg._cfg_file).get_cluster_info()
    assert (info.osparams, info.hidden_os) == ({}, [])


def test_hidden_and_blacklisted_lists(tmp_path):
    cfg = _make_cfg(tmp_path)
    info, _ = _run(cfg, hidden_os=[["add", "noop"]], blacklisted_os=[["add", "deb"]])
    assert (info.hidden_os, info.blacklisted_os) == (["noop"], ["deb"])
    info, logs = _run(cfg, hidden_os=[["add", "noop"], ["remove", "other"]])
    assert "OS noop already in hidden OS list, ignoring" in logs
    assert "OS other not found in hidden OS list, ignoring" in logs
    info, _ = _run(cfg, hidden_os=[["remove", "noop"]])
    assert info.hidden_os == []
    with pytest.raises(errors.OpPrereqError):
        _run(cfg, blacklisted_os=[["toggle", "deb"]])


def test_cluster_info_shows_os_hvp_of_enabled_hypervisors(tmp_path):
    cfg = _make_cfg(tmp_path)
    _run(cfg, os_hvp={"noop": {"fake": {}, "xen-pvm": {}}})
    assert lu_cluster.cluster_info(cfg)["os_hvp"] == {"noop": {"fake": {}}}


# ---- where the settings take effect -------------------------------------------------

def _cluster(**kwargs):
    cluster = objects.Cluster(cluster_name="c", enabled_hypervisors=["kvm"], **kwargs)
    cluster.upgrade_config()
    return cluster


def test_instances_get_the_os_settings():
    cluster = _cluster(hvparams={"kvm": {"acpi": True, "kernel_path": "/c"}},
                       os_hvp={"deb+mini": {"kvm": {"acpi": False, "kernel_path": "/o"}},
                               "deb": {"kvm": {"kernel_path": "/base"}}},
                       osparams={"deb": {"a": "1", "b": "1"}, "deb+mini": {"b": "2"}},
                       osparams_private_cluster={"deb": {"p": "s"}})
    inst = objects.Instance(name="i", os="deb+mini", hypervisor="kvm",
                            hvparams={"kernel_path": "/i"}, osparams={"c": "3"},
                            osparams_private={"q": "t"})
    # cluster, then the OS's own (the full name, as Ganeti), then the instance's
    hv = cluster.fill_hv(inst)
    assert (hv["acpi"], hv["kernel_path"]) == (False, "/i")
    assert instance_utils.fill_os_params(cluster, inst) == {"a": "1", "b": "2", "c": "3"}
    assert instance_utils.fill_os_params_private(cluster, inst) == {"p": "s", "q": "t"}
    assert os_params.all_params(cluster, inst)["p"] == "s"


def test_blacklisted_os_is_not_installed(tmp_path):
    from ganeti.cmdlib import instance as lu_instance
    cfg = _make_cfg(tmp_path)
    _run(cfg, blacklisted_os=[["add", "noop"]])
    op = opcodes.OpInstanceCreate(instance_name="inst1", os_type="noop", mode="create",
                                  disk_template="diskless", disks=[], nics=[],
                                  pnode="node1.example.com", name_check=False,
                                  ip_check=False)
    ctx = types.SimpleNamespace(cfg=cfg, rpc=None, glm=None)
    with pytest.raises(errors.OpPrereqError, match="Guest OS 'noop' is not allowed for"
                       " installation") as exc:
        lu_instance.LUInstanceCreate(None, op, ctx, lambda msg: None).check_arguments()
    assert exc.value.args[1] == errors.ECODE_STATE


def test_private_cluster_params_are_not_shown_in_jobs():
    shown = opcodes.shown_input({"OP_ID": "OP_CLUSTER_SET_PARAMS",
                                 "osparams_private_cluster": {"deb": {"pw": "x"}}})
    assert shown["osparams_private_cluster"] == {"deb": {"pw": opcodes.REDACTED}}


def test_os_list_mod_helper_rejects_bad_entries():
    with pytest.raises(errors.OpPrereqError):
        cluster_os.apply_os_list_mods([], [["add"]], "hidden", print)
    with pytest.raises(errors.OpPrereqError):
        cluster_os.apply_os_list_mods([], [["add", ""]], "hidden", print)


def test_generic_options_go_into_the_job(monkeypatch, capsys):
    from test_cli_options_effect import _gnt
    code, client = _gnt(monkeypatch, gnt_os, "modify", "--dry-run", "--priority=low",
                        "--reason", "why", "--submit", "--print-jobid", "--hidden=yes",
                        "noop")
    assert code == 0
    (op,) = client.jobs[0]
    assert (op.OP_ID, op.dry_run, op.priority) == ("OP_CLUSTER_SET_PARAMS", True, 10)
    assert op.reason[0][:2] == ["gnt:user", "why"]
    assert capsys.readouterr() == ("1\n", "JobID: 1\n")


def test_private_cluster_params_are_not_in_the_result(tmp_path):
    cfg = _make_cfg(tmp_path)
    op = opcodes.OpClusterSetParams(osparams_private_cluster={"deb": {"pw": "x"}})
    op.validate()
    ctx = types.SimpleNamespace(cfg=cfg, rpc=OsValidateRpc(), glm=None)
    lu = lu_cluster.LUClusterSetParams(None, op, ctx, print)
    lu.check_prereq()
    assert lu.exec(print) == [["osparams_private_cluster",
                               str({"deb": {"pw": opcodes.REDACTED}})]]
