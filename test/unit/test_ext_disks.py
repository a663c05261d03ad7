"""ext disks on the master: the opcode's disk specs, the config Disks made
from them, the check that the providers are valid on the nodes, and changes
of a disk's provider parameters."""

import types

import pytest

from ganeti import errors, objects
from ganeti.cmdlib import ext_disks
from ganeti.cmdlib import instance_utils as iu

from test_gnt_os import FakeRpc

PROV = ["/srv/ganeti/extstorage/shared", True, "", [["fail", "make create fail"]]]
BROKEN = ["/srv/ganeti/extstorage/shared", False,
          "File 'grow' under path '/srv/ganeti/extstorage/shared' is missing (ENOENT)", []]


def _specs(*specs, template="ext"):
    return iu.check_disk_specs(list(specs), template)


def test_unknown_parameters_of_an_ext_disk_are_its_providers():
    assert _specs({"size": "1G", "provider": "shared", "pool": "fast", "name": "data",
                   "mode": "ro", "zeroes": 1}) == [
        {"size": 1024, "mode": "ro", "name": "data", "provider": "shared",
         "pool": "fast", "zeroes": "1"}]


@pytest.mark.parametrize("spec,template,message", [
    ({"size": "1G"}, "ext", "Missing provider for template 'ext'"),
    ({"size": "1G", "provider": "shared"}, "file",
     "The 'provider' option is only valid for the ext disk template, not file"),
    ({"size": "1G", "provider": "shared", "pool": "x"}, "file",
     "The 'provider' option is only valid for the ext disk template, not file"),
    ({"size": "1G", "pool": "x"}, "sharedfile",
     "Unknown disk parameter(s) for disk 0: pool"),
    ({"size": "1G", "provider": "a/../b"}, "ext",
     "Invalid ExtStorage provider name 'a/../b' for disk 0"),
    ({"size": "1G", "provider": "shared", "vg": "xenvg"}, "ext",
     "Disk parameter(s) vg of disk 0 do not apply to disk template ext"),
    ({"size": "1G", "provider": "shared", "type": "plain"}, "ext",
     "Unknown disk parameter(s) for disk 0: type"),
    ({"size": "1G", "provider": "shared", "access": "fast"}, "ext",
     "Invalid disk access mode 'fast' for disk 0 (one of kernelspace, userspace)"),
    ({"size": "1G", "provider": "shared", "access": "userspace"}, "ext",
     "Userspace access to ext disks is not supported (disk 0): use access=kernelspace"),
    ({"provider": "shared"}, "ext", "Missing size for disk 0"),
    ({"size": "1G", "provider": "shared", "a=b": "c"}, "ext",
     "Invalid ExtStorage parameter 'a=b'='c'"),
    ({"size": "1G", "provider": "shared", "pool": "a\0b"}, "ext",
     "Invalid ExtStorage parameter 'pool'='a\\x00b'"),
])
def test_bad_specs_are_refused(spec, template, message):
    with pytest.raises(errors.OpPrereqError) as err:
        _specs(spec, template=template)
    assert message in err.value.args[0]


def _cluster(**ext):
    cluster = objects.Cluster(cluster_name="c", diskparams={"ext": ext} if ext else {})
    cluster.upgrade_config()
    return cluster


def test_generated_disks_name_their_provider_and_volume():
    specs = _specs({"size": "1G", "provider": "shared", "pool": "fast"},
                   {"size": 512, "provider": "other", "access": "kernelspace",
                    "name": "log"})
    disks = iu.generate_disks(_cluster(), "ext", "inst1", "node1", specs, first_index=2)
    assert [d.dev_type for d in disks] == ["ext", "ext"]
    assert disks[0].logical_id == ["shared", "%s.ext.disk2" % disks[0].uuid]
    assert disks[1].logical_id == ["other", "%s.ext.disk3" % disks[1].uuid]
    assert disks[0].params == {"provider": "shared", "access": "kernelspace",
                               "pool": "fast"}
    assert (disks[1].size, disks[1].name, disks[1].iv_name, disks[1].nodes) == (
        512, "log", "disk/3", ["node1"])
    assert ext_disks.providers_of(disks + [objects.Disk(dev_type="file")]) == [
        "other", "shared"]


def test_the_groups_access_mode_applies_and_userspace_is_refused():
    group = objects.NodeGroup(name="g", diskparams={"ext": {"access": "userspace"}})
    spec = _specs({"size": 64, "provider": "shared"})[0]
    with pytest.raises(errors.OpPrereqError, match="Userspace access to ext disks is not"
                       " supported \\(the cluster's ext disk parameters\\)"):
        ext_disks.generate(_cluster(), "node1", 0, spec, group=group)
    with pytest.raises(errors.OpPrereqError, match="not supported"):
        ext_disks.generate(_cluster(access="userspace"), "node1", 0, spec)
    # the disk's own access wins
    spec = _specs({"size": 64, "provider": "shared", "access": "kernelspace"})[0]
    disk = ext_disks.generate(_cluster(), "node1", 0, spec, group=group)
    assert disk.params["access"] == "kernelspace"


def _lu(answers):
    return types.SimpleNamespace(rpc=FakeRpc(answers))


def test_providers_must_be_valid_on_the_nodes():
    lu = _lu({"node1": [["shared"] + PROV], "node2": [["shared"] + BROKEN],
              "node3": [], "node4": "connection refused"})
    ext_disks.check_providers(lu, ["node1"], ["shared"])
    assert lu.rpc.calls == [("extstorage_diagnose", ["node1"], [])]
    for node, message in [
            ("node2", "ExtStorage provider 'shared' is not valid on node node2: File"
                      " 'grow' under path '/srv/ganeti/extstorage/shared' is missing"
                      " (ENOENT)"),
            ("node3", "ExtStorage provider 'shared' is not valid on node node3:"
                      " Directory for External Storage Provider shared not found in"
                      " search path"),
            ("node4", "Cannot check the ExtStorage providers of node node4: connection"
                      " refused")]:
        with pytest.raises(errors.OpPrereqError) as err:
            ext_disks.check_providers(lu, ["node1", node], ["shared"])
        assert str(err.value.args[0]) == message
    # nothing to check: no call
    ext_disks.check_providers(lu, ["node2"], [])
    assert len(lu.rpc.calls) == 4


def test_the_first_definition_in_the_search_path_counts():
    second = ["/usr/share/ganeti/extstorage/shared"] + PROV[1:]
    lu = _lu({"node1": [["shared"] + BROKEN, ["shared"] + second]})
    with pytest.raises(errors.OpPrereqError, match="is missing"):
        ext_disks.check_providers(lu, ["node1"], ["shared"])


def test_modify_changes_provider_parameters_only():
    disk = objects.Disk(dev_type="ext", params={"provider": "shared",
                                                "access": "kernelspace", "pool": "a"})
    assert ext_disks.modify_param(disk, 1, "pool", "b") == ("disk.params:pool/1", "b")
    assert ext_disks.modify_param(disk, 1, "snap", "s1") == ("disk.params:snap/1", "s1")
    assert ext_disks.modify_param(disk, 1, "pool", "default") == (
        "disk.params:pool/1", "default")
    assert disk.params == {"provider": "shared", "access": "kernelspace", "snap": "s1"}
    for key in ("provider", "access"):
        with pytest.raises(errors.OpPrereqError,
                           match="Disk '%s' parameter change is not possible" % key):
            ext_disks.modify_param(disk, 1, key, "x")


def test_hooks_see_the_provider_and_volume():
    disk = objects.Disk(dev_type="ext", logical_id=["shared", "u.ext.disk0"], size=64,
                        mode="rw", params={})
    inst = objects.Instance(name="inst1", primary_node="node1", os="noop",
                            hypervisor="fake", disk_template="ext", disks=[disk],
                            nics=[], beparams={}, hvparams={})
    cluster = _cluster()
    env = iu.build_instance_hook_env(cluster, inst)
    assert (env["INSTANCE_DISK0_PROVIDER"], env["INSTANCE_DISK0_ID"]) == (
        "shared", "u.ext.disk0")
    assert iu.disk_info_text(inst) == "originstname+inst1"
