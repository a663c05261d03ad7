"""Instance parameters: the instance policy, backend/hypervisor/NIC parameters and
instance names are checked on create, modify and grow-disk; what is refused
leaves the configuration as it was."""

import re

import pytest

from ganeti import config, constants, errors, objects, opcodes, paramtypes
from ganeti.backend import storage as backend_storage
from ganeti.client import gnt_instance
from ganeti.cmdlib import instance as lu_instance
from ganeti.cmdlib import instance_change as lu_change
from ganeti.cmdlib import instance_utils as iu
from ganeti.cmdlib import ipolicy
from ganeti.hypervisor import hv_base
from ganeti.utils import instance_name

NODE = "node1.example.com"


class _Result:
    fail_msg = None
    data = None

    def raise_on_failure(self, *args, **kwargs):
        pass


class _Rpc:
    """Answers the few calls check_prereq makes (a disk can always grow)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append(name)
            return _Result()
        return call


class _Glm:
    def add(self, level, names, acquired=False):
        pass

    def remove(self, level, names):
        pass


class _Context:
    def __init__(self, cfg):
        self.cfg, self.rpc, self.glm = cfg, _Rpc(), _Glm()


def _cfg(tmp_path, group_ipolicy=None, instances=()):
    group = objects.NodeGroup(name="default", ipolicy=group_ipolicy or {})
    node = objects.Node(name=NODE, primary_ip="192.0.2.1", master_candidate=True,
                        group=group.uuid)
    cluster = objects.Cluster(cluster_name="cluster.example.com", master_node=NODE,
                              master_ip="192.0.2.254", master_netdev="lo",
                              enabled_hypervisors=["fake"],
                              enabled_disk_templates=["file", "diskless"],
                              file_storage_dir="/srv/ganeti/file-storage",
                              nicparams={"default": {"link": "br0"}},
                              ipolicy={"disk-templates": ["file", "diskless"]})
    insts = dict((inst.name, inst) for inst in instances)
    path = str(tmp_path / "config.data")
    config.ConfigWriter.write_initial(path, objects.ConfigData(
        cluster=cluster, nodes={NODE: node}, nodegroups={group.uuid: group},
        instances=insts))
    return config.ConfigWriter(path), group.uuid


def _instance(name="inst1", disks=(1024,), nics=1, beparams=None):
    return objects.Instance(
        name=name, primary_node=NODE, os="noop", hypervisor="fake",
        disk_template="file" if disks else "diskless", beparams=beparams or {},
        nics=[objects.NIC(mac="aa:00:00:00:00:%02x" % i) for i in range(nics)],
        disks=[objects.Disk(dev_type="file", size=size, iv_name="disk/%d" % i,
                            logical_id=["loop", "/srv/%s/disk%d" % (name, i)],
                            nodes=[NODE]) for i, size in enumerate(disks)])


def _run(lu_cls, op, cfg):
    """check_arguments .. check_prereq of a LU; returns it and its feedback lines."""
    op.validate()
    lines = []
    lu = lu_cls(None, op, _Context(cfg), lines.append)
    lu.expand_names()
    lu.check_prereq()
    return lu, lines


def _create(cfg, **params):
    args = dict(instance_name="new1", mode="create", disk_template="diskless",
                disks=[], nics=[{}], pnode=NODE, name_check=False, ip_check=False,
                no_install=True, start=False)
    args.update(params)
    return _run(lu_instance.LUInstanceCreate, opcodes.OpInstanceCreate(**args), cfg)


def _modify(cfg, **params):
    return _run(lu_change.LUInstanceSetParams,
                opcodes.OpInstanceSetParams(instance_name="inst1", **params), cfg)


def _grow(cfg, amount, **params):
    return _run(lu_change.LUInstanceGrowDisk,
                opcodes.OpInstanceGrowDisk(instance_name="inst1", disk=0, amount=amount,
                                           **params), cfg)


def _refused(func, *args, **kwargs):
    with pytest.raises(errors.OpPrereqError) as exc:
        func(*args, **kwargs)
    return exc.value


# ---- the policy itself ------------------------------------------------------------

_POLICY = objects.Cluster(ipolicy={"disk-templates": ["file", "diskless"]}).ipolicy


def test_spec_violations_use_ganetis_words():
    assert ipolicy.spec_violations(_POLICY, 64, 1, 2, 1, [256, 128], 1, ["file"] * 2) == [
        "memory-size value 64 is not in range [128, 32768]",
        "disk-size/0 value 256 is not in range [1024, 1048576]",
        "disk-size/1 value 128 is not in range [1024, 1048576]"]
    assert ipolicy.spec_violations(_POLICY, 128, 0, 0, 1, [], 1, []) == [
        "cpu-count value 0 is not in range [1, 8]"]
    assert ipolicy.spec_violations(_POLICY, 128, 1, 1, 1, [1024], 1, ["sharedfile"]) == [
        "Disk template sharedfile is not allowed (allowed templates: file, diskless)"]


def test_diskless_must_be_allowed_and_skips_the_disk_count():
    policy = dict(_POLICY, **{"disk-templates": ["file"]})
    assert ipolicy.spec_violations(policy, 128, 1, 0, 1, [], 1, []) == [
        "Disk template diskless is not allowed (allowed templates file)"]
    assert ipolicy.spec_violations(_POLICY, 128, 1, 0, 1, [], 1, []) == []


def test_the_range_with_fewest_violations_counts():
    small = {"min": dict(constants.ISPECS_MIN_DEFAULTS, **{"disk-size": 1}),
             "max": dict(constants.ISPECS_MAX_DEFAULTS, **{"disk-size": 512})}
    policy = dict(_POLICY, minmax=[_POLICY["minmax"][0], small])
    assert ipolicy.spec_violations(policy, 128, 1, 1, 1, [100], 1, ["file"]) == []
    assert ipolicy.spec_violations(policy, 128, 1, 1, 1, [800], 1, ["file"]) == [
        "disk-size/0 value 800 is not in range [1024, 1048576]"]


def test_group_policy_overrides_the_clusters_per_key():
    group = {"minmax": [{"min": dict(constants.ISPECS_MIN_DEFAULTS, **{"cpu-count": 2}),
                         "max": constants.ISPECS_MAX_DEFAULTS}], "std": {"cpu-count": 2}}
    filled = objects.fill_ipolicy(_POLICY, group)
    assert filled["minmax"] == group["minmax"]
    assert filled["disk-templates"] == ["file", "diskless"]
    assert filled["std"]["cpu-count"] == 2 and filled["std"]["memory-size"] == 128


# ---- create -----------------------------------------------------------------------

def test_create_violating_the_policy_is_refused_with_ganetis_message(tmp_path):
    cfg, group = _cfg(tmp_path)
    before = cfg.dump_text()
    err = _refused(_create, cfg, disk_template="file", disks=[{"size": 512}])
    assert err.args == ("Instance allocation to group %s (default) violates policy:"
                        " disk-size/0 value 512 is not in range [1024, 1048576]" % group,
                        errors.ECODE_INVAL)
    err = _refused(_create, cfg, beparams={"vcpus": "0"})
    assert err.args[0].endswith("violates policy: cpu-count value 0 is not in range [1, 8]")
    err = _refused(_create, cfg, nics=[])
    assert "nic-count value 0 is not in range [1, 8]" in err.args[0]
    assert cfg.dump_text() == before


def test_create_uses_the_groups_policy(tmp_path):
    group_policy = {"minmax": [{"min": dict(constants.ISPECS_MIN_DEFAULTS, **{
        "memory-size": 512}), "max": constants.ISPECS_MAX_DEFAULTS}]}
    cfg, _ = _cfg(tmp_path, group_ipolicy=group_policy)
    err = _refused(_create, cfg)
    assert "memory-size value 128 is not in range [512, 32768]" in err.args[0]
    _create(cfg, beparams={"maxmem": "512M", "minmem": "512M"})


def test_ignore_ipolicy_warns_and_goes_on(tmp_path):
    cfg, _ = _cfg(tmp_path)
    lu, lines = _create(cfg, nics=[], ignore_ipolicy=True)
    assert lines == [" - WARNING: Instance allocation to group %s (default) violates"
                     " policy: nic-count value 0 is not in range [1, 8]"
                     % lu.cfg.get_node_info(NODE).group]


@pytest.mark.parametrize("beparams, text", [
    ({"vcpus": "0"}, "Invalid value 0 for parameter 'vcpus': it must be at least 1"),
    ({"vcpus": "-3"}, "Invalid value -3 for parameter 'vcpus'"),
    ({"vcpus": False}, "'vcpus' (value False) is not a valid integer"),
    ({"auto_balance": "1"}, "'auto_balance' (value 1) is not a valid boolean"),
    ({"auto_balance": "yes"}, "'auto_balance' (value yes) is not a valid boolean"),
    ({"memory": "lots"}, "'memory' (value lots) is not a valid size. error: Invalid format"),
    ({"maxmem": "0"}, "Invalid value 0 for parameter 'maxmem'"),
    ({"nosuch": "1"}, "Unknown parameter 'nosuch'"),
    ({"nosuch": "auto"}, "Unknown parameter 'nosuch'"),
    ({"minmem": "256M"}, "Minimum memory (256) is larger than maximum memory (128)"),
])
def test_create_refuses_bad_backend_values_even_ignoring_the_policy(tmp_path, beparams,
                                                                    text):
    cfg, _ = _cfg(tmp_path)
    before = cfg.dump_text()
    err = _refused(_create, cfg, beparams=beparams, ignore_ipolicy=True)
    assert text in err.args[0]
    assert err.args[1] == errors.ECODE_INVAL
    assert cfg.dump_text() == before


def test_create_types_backend_values_and_auto_takes_the_cluster_default(tmp_path):
    cfg, _ = _cfg(tmp_path)
    lu, _ = _create(cfg, beparams={"vcpus": "2", "auto_balance": "False",
                                   "memory": "256M", "spindle_use": "auto"})
    assert lu.instance.beparams == {"vcpus": 2, "auto_balance": False, "maxmem": 256,
                                    "minmem": 256, "spindle_use": 1}


@pytest.mark.parametrize("nic, text", [
    ({"ip": "999.1.1.1"}, "Invalid IP address '999.1.1.1'"),
    ({"ip": "notanip"}, "Invalid IP address 'notanip'"),
    ({"ip": "pool"}, "if ip=pool, parameter network must be passed too"),
    ({"ip": "auto"}, "IP address set to auto but name checks have been skipped"),
    ({"mac": "zz"}, "Invalid MAC address 'zz'"),
    ({"mac": "aa:00:00:00:00:0g"}, "Invalid MAC address"),
    ({"mode": "bogus"}, "Invalid NIC mode 'bogus'"),
    ({"mode": "routed"}, "Routed nic mode requires an ip address"),
    ({"link": "has space"}, "Invalid link 'has space'"),
    ({"link": "a" * 16}, "Invalid link"),
    ({"vlan": "abc"}, "Specified VLAN parameter is invalid : abc"),
    ({"mac": "aa:00:00:00:00:00"}, "already in use"),
])
def test_create_refuses_bad_nics(tmp_path, nic, text):
    cfg, _ = _cfg(tmp_path, instances=[_instance()])
    before = cfg.dump_text()
    err = _refused(_create, cfg, nics=[nic])
    assert text in err.args[0]
    assert cfg.dump_text() == before


def test_create_accepts_good_nics(tmp_path):
    cfg, _ = _cfg(tmp_path)
    lu, _ = _create(cfg, nics=[{"ip": "192.0.2.10", "mac": "AA:00:00:12:34:56"},
                               {"ip": "2001:db8::1", "mode": "routed", "link": "100"},
                               {"ip": "none", "vlan": "7", "mac": "generate"}])
    ips = [nic.ip for nic in lu.instance.nics]
    assert ips == ["192.0.2.10", "2001:db8::1", None]
    assert lu.instance.nics[0].mac == "aa:00:00:12:34:56"
    assert lu.instance.nics[2].nicparams["vlan"] == ".7"


@pytest.mark.parametrize("name", ["q;touch /tmp/x", "bad name", "-rf", "a..b", ".a",
                                  "x" * 256, "ünï"])
def test_create_refuses_names_the_nodes_refuse(tmp_path, name):
    cfg, _ = _cfg(tmp_path)
    err = _refused(_create, cfg, instance_name=name)
    assert err.args == ("Invalid hostname '%s'" % name.lower(), errors.ECODE_INVAL)
    # the nodes use the same rule
    with pytest.raises(errors.HypervisorError):
        hv_base.check_instance_name(name)
    with pytest.raises(Exception, match="Invalid instance name"):
        backend_storage._link_name(name, 0)


def test_create_normalizes_the_name_as_ganeti(tmp_path):
    cfg, _ = _cfg(tmp_path)
    lu, _ = _create(cfg, instance_name="Web_1.Example.COM.")
    assert lu.instance.name == "web_1.example.com"
    assert hv_base.check_instance_name(lu.instance.name) == lu.instance.name
    assert instance_name.is_valid_instance_name("Node-1")


# ---- modify -----------------------------------------------------------------------

def test_modify_vcpus_default_resets_to_the_cluster_value(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance(beparams={"vcpus": 4})])
    lu, _ = _modify(cfg, beparams={"vcpus": "default"})
    assert lu.exec(lambda *a: None) == [["be/vcpus", "default"]]
    assert "vcpus" not in cfg.get_instance_info("inst1").beparams


def test_modify_refuses_the_cluster_wide_hv_parameters(tmp_path):
    # as Ganeti: set or reset, migration_mode is the cluster's alone
    cfg, _ = _cfg(tmp_path, instances=[_instance()])
    for value in ("non-live", "DEFAULT"):
        assert _refused(_modify, cfg, hvparams={"migration_mode": value}).args[0] == (
            "The following hypervisor parameters are global and cannot be customized at"
            " instance level, please modify them at cluster level: migration_mode")
    assert cfg.get_instance_info("inst1").hvparams == {}


@pytest.mark.parametrize("params, text", [
    ({"beparams": {"vcpus": "-1"}}, "violates policy: cpu-count value -1 is not in"
     " range [1, 8]"),
    ({"beparams": {"minmem": "64M"}}, "memory-size value 64 is not in range"),
    ({"beparams": {"auto_balance": "1"}}, "'auto_balance' (value 1) is not a valid"
     " boolean"),
    ({"nics": [["remove", "0", {}]]}, "nic-count value 0 is not in range [1, 8]"),
    ({"nics": [["modify", "0", {"ip": "999.1.1.1"}]]}, "Invalid IP address '999.1.1.1'"),
    ({"nics": [["add", "-1", {"ip": "1.2.3"}]]}, "Invalid IP address '1.2.3'"),
    ({"nics": [["modify", "0", {"mac": "auto"}]]}, "'auto' is not a valid MAC address"
     " when modifying an existing NIC"),
    ({"nics": [["modify", "0", {"mac": "zz"}]]}, "Invalid MAC address 'zz'"),
    ({"nics": [["modify", "0", {"mac": "aa:00:00:00:00:00"}]]}, "already in use"),
    ({"nics": [["modify", "0", {"mode": "weird"}]]}, "Invalid NIC mode 'weird'"),
    ({"nics": [["modify", "0", {"mode": "routed"}]]}, "Routed nic mode requires"),
    ({"nics": [["add", "-1", {"nosuch": "1"}]]}, "Unknown NIC parameter 'nosuch'"),
])
def test_modify_refuses_and_changes_nothing(tmp_path, params, text):
    other = _instance(name="inst0", nics=1)
    cfg, _ = _cfg(tmp_path, instances=[other, _instance(nics=1)])
    inst = cfg.get_instance_info("inst1")
    inst.nics[0].mac = "aa:00:00:00:00:01"
    cfg.update(inst)
    before = cfg.dump_text()
    err = _refused(_modify, cfg, **params)
    assert text in err.args[0]
    assert cfg.dump_text() == before


def test_modify_with_ignore_ipolicy_warns(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance()])
    lu, lines = _modify(cfg, beparams={"vcpus": "12"}, ignore_ipolicy=True)
    assert lines[0].startswith(" - WARNING: Instance allocation to group")
    assert lines[0].endswith("violates policy: cpu-count value 12 is not in range [1, 8]")
    lu.exec(lambda *a: None)
    assert cfg.get_instance_info("inst1").beparams["vcpus"] == 12
    # below 1 is refused even then
    assert "at least 1" in _refused(_modify, cfg, beparams={"vcpus": "0"},
                                    ignore_ipolicy=True).args[0]


def test_modify_nic_changes_are_normalized(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance()])
    lu, _ = _modify(cfg, nics=[["modify", "0", {"ip": "2001:DB8::5",
                                                "mac": "AA:00:00:AB:CD:EF"}]])
    lu.exec(lambda *a: None)
    nic = cfg.get_instance_info("inst1").nics[0]
    assert (nic.ip, nic.mac) == ("2001:db8::5", "aa:00:00:ab:cd:ef")


# ---- grow-disk --------------------------------------------------------------------

def test_grow_disk_beyond_the_policy_is_refused_or_warned(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance(disks=(1024,))])
    before = cfg.dump_text()
    err = _refused(_grow, cfg, 2 * 1048576, absolute=True)
    assert err.args == ("Growing disk 0 violates policy: disk-size/0 value 2097152 is not"
                        " in range [1024, 1048576]", errors.ECODE_INVAL)
    assert cfg.dump_text() == before
    _, lines = _grow(cfg, 2 * 1048576, absolute=True, ignore_ipolicy=True)
    assert lines == [" - WARNING: Growing disk 0 violates policy: disk-size/0 value"
                     " 2097152 is not in range [1024, 1048576]"]
    _, lines = _grow(cfg, 1024)
    assert lines == []


# ---- failover/migrate helper ------------------------------------------------------

def test_target_node_in_the_same_group_is_not_checked(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance(nics=0)])
    lu = type("LU", (), {"cfg": cfg})()
    ipolicy.check_target_node_ipolicy(lu, cfg.get_instance_info("inst1"), NODE)


def test_target_node_in_another_group_must_meet_its_policy(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance(nics=0)])
    node2 = objects.Node(name="node2.example.com", primary_ip="192.0.2.2",
                         group="other-group")
    inst = cfg.get_instance_info("inst1")
    cfg.get_node_info = lambda name: {NODE: cfg.get_all_nodes_info()[NODE],
                                      node2.name: node2}.get(name)
    lu = type("LU", (), {"cfg": cfg, "log_warning": lambda self, *a: None})()
    err = _refused(ipolicy.check_target_node_ipolicy, lu, inst, node2.name)
    assert err.args[0] == ("Instance does not meet target node group's (other-group)"
                           " instance policy: nic-count value 0 is not in range [1, 8]")
    ipolicy.check_target_node_ipolicy(lu, inst, node2.name, ignore=True)


# ---- parameter typing and the command line ---------------------------------------

def test_typing_rules():
    types = paramtypes.check_types
    assert types({"a": "TRUE", "b": False, "c": "7", "d": "1.5", "e": False},
                 {"a": True, "b": True, "c": 1, "d": 1.0, "e": "x"}) == {
        "a": True, "b": False, "c": 7, "d": 1.5, "e": ""}
    for params, text in [({"c": "1.5"}, "not a valid integer"),
                         ({"c": True}, "not a valid integer"),
                         ({"d": "nan"}, "not a valid float"),
                         ({"e": True}, "not a valid string"),
                         ({"a": "on"}, "not a valid boolean")]:
        with pytest.raises(errors.TypeEnforcementError, match=text):
            types(params, {"a": True, "c": 1, "d": 1.0, "e": "x"})


class _Opts:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def test_add_checks_types_before_submitting(monkeypatch):
    submitted = []
    monkeypatch.setattr(gnt_instance.cli, "submit_or_send",
                        lambda op, opts, **kw: submitted.append(op))
    opts = _Opts(disk_template="diskless", node=NODE, hypervisor=None,
                 beparams={"auto_balance": "1"}, sd_size=None, disks=None, nics=None,
                 no_nics=False, os="noop", osparams={}, osparams_private=None,
                 osparams_secret=None, start=True, ip_check=False, name_check=False,
                 no_install=False, wait_for_sync=True, file_storage_dir=None,
                 file_driver=None, iallocator=None, tags=[], conflicts_check=True,
                 ignore_ipolicy=False)
    for name in ("identify_defaults", "opportunistic_locking", "group_name",
                 "forthcoming", "commit"):
        setattr(opts, name, False if name != "group_name" else None)
    with pytest.raises(errors.TypeEnforcementError,
                       match=r"'auto_balance' \(value 1\) is not a valid boolean"):
        gnt_instance.add_instance(opts, ["inst9"])
    assert submitted == []


def test_modify_passes_default_and_ignore_ipolicy(monkeypatch):
    submitted = []
    monkeypatch.setattr(gnt_instance.cli, "submit_or_send",
                        lambda op, opts, **kw: submitted.append(op))
    opts = _Opts(beparams={"vcpus": "Default", "maxmem": None, "auto_balance": "false"},
                 hvparams={}, nics=None, disks=None, os=None, osparams={},
                 osparams_private=None, force=False, offline=None, force_variant=False,
                 runtime_mem=None, ignore_ipolicy=True, hotplug=False,
                 hotplug_if_possible=False, conflicts_check=True, wait_for_sync=True,
                 disk_template=None, node=None, iallocator=None, new_primary_node=None,
                 ext_params={}, file_driver=None, file_storage_dir=None)
    gnt_instance.modify_instance(opts, ["inst1"])
    assert submitted[0].beparams == {"vcpus": "default", "maxmem": "default",
                                     "auto_balance": False}
    assert submitted[0].ignore_ipolicy is True


def test_nic_helpers():
    assert iu.nic_ip("NONE") is None and iu.nic_ip("") is None
    assert iu.normalize_vlan(".10:20") == ".10:20"
    assert iu.normalize_vlan(":10:20") == ":10:20"
    for bad in ("10a", ".", ":x"):
        with pytest.raises(errors.OpPrereqError):
            iu.normalize_vlan(bad)


# ---- the policy's own consistency (gnt-cluster modify) ------------------------------

def _minmax(**changes):
    low = dict(constants.ISPECS_MIN_DEFAULTS)
    high = dict(constants.ISPECS_MAX_DEFAULTS)
    for key, (lo, hi) in changes.items():
        low[key.replace("_", "-")], high[key.replace("_", "-")] = lo, hi
    return [{"min": low, "max": high}]


@pytest.mark.parametrize("change, text", [
    ({"minmax": _minmax(cpu_count=(4, 2))},
     "Invalid specification of min/max values for cpu-count: 4/2"),
    ({"minmax": _minmax(disk_size=(2048, 4096))}, "Invalid std specifications"),
    ({"minmax": []}, "Empty minmax specifications"),
    ({"minmax": [{"min": {"cpu-count": 1}, "max": constants.ISPECS_MAX_DEFAULTS}]},
     "Missing instance specs parameters for min: memory-size"),
    ({"minmax": _minmax(cpu_count=("one", 2))}, "'cpu-count' (value one) is not a valid"
     " integer"),
    ({"disk-templates": []}, "must contain at least one disk template"),
    ({"disk-templates": ["floppy"]}, "Invalid disk template(s) floppy"),
    ({"vcpu-ratio": "lots"}, "Invalid value for key 'vcpu-ratio'"),
])
def test_cluster_modify_refuses_an_inconsistent_policy(tmp_path, change, text):
    from ganeti.cmdlib import cluster as lu_cluster
    cfg, _ = _cfg(tmp_path)
    before = cfg.dump_text()
    op = opcodes.OpClusterSetParams(ipolicy=change)
    op.validate()
    with pytest.raises(errors.OpPrereqError) as exc:
        lu_cluster.LUClusterSetParams(None, op, _Context(cfg), lambda *a: None).check_prereq()
    assert exc.value.args[0].startswith("Invalid instance policy: ")
    assert text in exc.value.args[0]
    assert cfg.dump_text() == before


def test_policy_numbers_are_typed():
    policy = ipolicy.check_syntax(dict(_POLICY, minmax=_minmax(cpu_count=("1", "16")),
                                       **{"vcpu-ratio": "2.5"}))
    assert policy["minmax"][0]["max"]["cpu-count"] == 16
    assert policy["vcpu-ratio"] == 2.5


# ---- disk and NIC specs -----------------------------------------------------------

@pytest.mark.parametrize("params, text", [
    ({"disk_template": "file", "disks": [{"size": 1024, "vg": "xenvg"}]},
     "Disk parameter(s) vg of disk 0 do not apply to disk template file"),
    ({"disk_template": "file", "disks": [{"size": 1024, "name": "5"}]},
     "Invalid name '5'. Purely numeric disk names are not allowed"),
    ({"disk_template": "file", "disks": [{"size": 1024, "name": "d"},
                                         {"size": 1024, "name": "d"}]},
     "disk name 'd' already used"),
    ({"nics": [{"name": "n"}, {"name": "n"}]}, "NIC name 'n' already used"),
])
def test_create_refuses_bad_device_specs(tmp_path, params, text):
    cfg, _ = _cfg(tmp_path)
    assert text in _refused(_create, cfg, **params).args[0]


def test_none_means_no_device_name(tmp_path):
    cfg, _ = _cfg(tmp_path)
    lu, _ = _create(cfg, nics=[{"name": "None"}, {"name": "none"}])
    assert [nic.name for nic in lu.instance.nics] == [None, None]
    assert iu.check_disk_specs([{"size": 1024, "name": "none"}], "file")[0]["name"] is None


@pytest.mark.parametrize("params, error, text", [
    ({"tags": ["a b"]}, errors.TagError, "Tag contains invalid characters"),
    ({"tags": [""]}, errors.TagError, "Tags cannot be empty"),
    ({"tags": ["x" * 129]}, errors.TagError, "Tag too long (>128 characters)"),
    ({"src_node": NODE}, errors.OpPrereqError, "only used by instance imports"),
    ({"compress": "gzip"}, errors.OpPrereqError, "only used by instance imports"),
])
def test_create_refuses_what_it_would_ignore(tmp_path, params, error, text):
    cfg, _ = _cfg(tmp_path)
    with pytest.raises(error) as exc:
        _create(cfg, **params)
    assert text in str(exc.value)


def test_good_tags_are_kept(tmp_path):
    cfg, _ = _cfg(tmp_path)
    lu, _ = _create(cfg, tags=["web", "owner:ops@example.com", "prio+1"])
    assert lu.instance.tags == ["web", "owner:ops@example.com", "prio+1"]


def test_modify_checks_hv_names_on_the_client(monkeypatch):
    submitted = []
    monkeypatch.setattr(gnt_instance.cli, "submit_or_send",
                        lambda op, opts, **kw: submitted.append(op))
    opts = _Opts(beparams={}, hvparams={"nosuch": "1"}, nics=None, disks=None, os=None,
                 osparams={}, osparams_private=None, force=False, offline=None,
                 force_variant=False, runtime_mem=None, ignore_ipolicy=False,
                 hotplug=False, hotplug_if_possible=False, conflicts_check=True,
                 wait_for_sync=True, disk_template=None, node=None, iallocator=None,
                 new_primary_node=None, ext_params={}, file_driver=None,
                 file_storage_dir=None)
    with pytest.raises(errors.TypeEnforcementError, match="Unknown parameter 'nosuch'"):
        gnt_instance.modify_instance(opts, ["inst1"])
    opts.hvparams = {"acpi": "false", "kernel_path": None}
    gnt_instance.modify_instance(opts, ["inst1"])
    assert submitted[0].hvparams == {"acpi": False, "kernel_path": "default"}


def test_startup_refuses_temporary_backend_values_no_instance_runs_with(tmp_path):
    from ganeti.cmdlib import instance_operation
    cfg, _ = _cfg(tmp_path, instances=[_instance()])
    for beparams, text in [({"vcpus": "0"}, "must be at least 1"),
                           ({"minmem": "1G"}, "Minimum memory (1024) is larger"),
                           ({"auto_balance": "1"}, "not a valid boolean")]:
        op = opcodes.OpInstanceStartup(instance_name="inst1", beparams=beparams)
        assert text in _refused(_run, instance_operation.LUInstanceStartup, op,
                                cfg).args[0]


def test_rename_refuses_names_the_nodes_refuse(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance()])
    before = cfg.dump_text()
    op = opcodes.OpInstanceRename(instance_name="inst1", new_name="q;touch /tmp/x",
                                  name_check=False, ip_check=False)
    err = _refused(_run, lu_change.LUInstanceRename, op, cfg)
    assert err.args == ("Invalid hostname 'q;touch /tmp/x'", errors.ECODE_INVAL)
    assert cfg.dump_text() == before


def test_hard_limits_of_disks_and_nics_hold_even_ignoring_the_policy(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance(nics=8)])
    err = _refused(_create, cfg, nics=[{}] * 9, ignore_ipolicy=True)
    assert err.args[0] == "Instance has too many network interfaces (8), cannot add more"
    err = _refused(_create, cfg, disk_template="file", disks=[{"size": 1024}] * 17,
                   ignore_ipolicy=True)
    assert err.args[0] == "Instance has too many disks (16), cannot add more"
    err = _refused(_modify, cfg, nics=[["add", "-1", {}]], ignore_ipolicy=True)
    assert "too many network interfaces" in err.args[0]


def test_modify_lists_changes_as_ganeti(tmp_path):
    cfg, _ = _cfg(tmp_path, instances=[_instance(nics=2)])
    lu, _ = _modify(cfg, beparams={"vcpus": "2", "auto_balance": "false"})
    assert lu.exec(lambda *a: None) == [["be/vcpus", "2"], ["be/auto_balance", "False"]]
    lu, _ = _modify(cfg, beparams={"memory": "256M"})
    assert lu.exec(lambda *a: None) == [["be/memory", "256"]]
    lu, _ = _modify(cfg, beparams={"memory": "256M", "maxmem": "1G"})
    assert lu.exec(lambda *a: None) == [["be/memory", "256"], ["be/maxmem", "1024"]]
    lu, _ = _modify(cfg, beparams={"memory": "DEFAULT"})
    assert lu.exec(lambda *a: None) == [["be/memory", "default"]]
    lu, _ = _modify(cfg, nics=[["modify", "0", {"ip": "192.0.2.10"}]])
    assert lu.exec(lambda *a: None) == [
        ["nic.ip/0", "192.0.2.10"], ["nic.link/0", "br0"], ["nic.mode/0", "bridged"],
        ["nic.vlan/0", ""]]
    lu, _ = _modify(cfg, nics=[["remove", "1", {}]])
    assert lu.exec(lambda *a: None) == [["NIC/1", "remove"]]


@pytest.mark.parametrize("beparams, text", [
    ({"vcpus": "0"}, "Invalid value 0 for parameter 'vcpus': it must be at least 1"),
    ({"minmem": "512"}, "Minimum memory (512) is larger than maximum memory (128)"),
])
def test_cluster_defaults_no_instance_could_run_with_are_refused(tmp_path, beparams, text):
    from ganeti.cmdlib import cluster as lu_cluster
    cfg, _ = _cfg(tmp_path)
    before = cfg.dump_text()
    op = opcodes.OpClusterSetParams(beparams=beparams)
    op.validate()
    with pytest.raises(errors.OpPrereqError, match=re.escape(text)):
        lu_cluster.LUClusterSetParams(None, op, _Context(cfg), lambda *a: None).check_prereq()
    assert cfg.dump_text() == before


def test_cluster_init_refuses_a_vcpus_0_default():
    from ganeti.client import gnt_cluster
    opts = _Opts(lvm_storage=False, vg_name=None, enabled_disk_templates="file",
                 enabled_hypervisors="fake", hvparams=[], nicparams={}, bridge=None,
                 beparams={"vcpus": "0"}, ndparams={}, diskparams=[])
    with pytest.raises(errors.OpPrereqError, match="'vcpus': it must be at least 1"):
        gnt_cluster.init_cluster(opts, ["cluster.example.com"])
