"""gnt-cluster init/modify settings beyond the plain values: hypervisor and disk
states (stored), data collectors (stored and shown), ssh key type and size
(used for the keys of nodes added later), and the settings refused because
nothing here would act on them (doc/cluster-options.rst)."""

import pytest

from ganeti import cli, config, errors, opcodes
from ganeti.client import gnt_cluster
from ganeti.cmdlib import cluster_options
from test_cluster_admin import _context, _make_cfg, _run


def _main(monkeypatch, *argv):
    monkeypatch.setattr("sys.argv", ["gnt-cluster"] + list(argv))
    return gnt_cluster.main()


def _stored(cfg):
    return config.ConfigWriter(cfg._cfg_file).get_cluster_info()


# ---- modify --------------------------------------------------------------------------

def test_modify_merges_and_fills_the_static_states(tmp_path):
    cfg = _make_cfg(tmp_path)
    _run(_context(cfg), opcodes.OpClusterSetParams,
         hv_state={"kvm": {"mem_total": "4096", "cpu_total": 4}},
         disk_state={"plain": {"xenvg": {"disk_total": "1000"}}})
    info = _stored(cfg)
    assert info.hv_state_static["kvm"] == {"cpu_node": 1, "cpu_total": 4, "mem_hv": 0,
                                           "mem_node": 0, "mem_total": 4096}
    assert info.disk_state_static == {"plain": {"xenvg": {
        "disk_total": 1000, "disk_reserved": 0, "disk_overhead": 0}}}
    # a second change keeps what the first set
    _run(_context(cfg), opcodes.OpClusterSetParams, hv_state={"kvm": {"mem_hv": 512}})
    assert _stored(cfg).hv_state_static["kvm"]["mem_total"] == 4096
    assert _stored(cfg).hv_state_static["kvm"]["mem_hv"] == 512


@pytest.mark.parametrize("params, message", [
    ({"hv_state": {"vmware": {"mem_total": 1}}},
     "Invalid hypervisor(s) in hypervisor state: vmware"),
    ({"hv_state": {"kvm": {"mem_totl": 1}}}, "mem_totl"),
    ({"hv_state": {"kvm": {"mem_total": "lots"}}}, "mem_total"),
    ({"disk_state": {"file": {"x": {"disk_total": 1}}}},
     "Invalid storage type(s) in disk state: file"),
    ({"enabled_data_collectors": {"nosuch": True}},
     "Data collector names not recognized: nosuch"),
    ({"data_collector_interval": {"drbd": 0}}, "Some interval times where not above zero"),
    ({"install_image": "/srv/image.img"}, "install image (--install-image) is not"
                                          " supported here"),
    ({"zeroing_image": "/srv/zero.img"}, "zeroing image (--zeroing-image) is not"
                                         " supported here"),
    ({"instance_communication_network": "comm"}, "instance communication network"),
])
def test_modify_refusals_change_nothing(tmp_path, params, message):
    cfg = _make_cfg(tmp_path)
    before = cfg.dump_text()
    with pytest.raises(errors.OpPrereqError) as err:
        _run(_context(cfg), opcodes.OpClusterSetParams, **params)
    assert message in str(err.value)
    assert cfg.dump_text() == before


def test_modify_data_collectors(tmp_path):
    cfg = _make_cfg(tmp_path)
    _run(_context(cfg), opcodes.OpClusterSetParams,
         enabled_data_collectors={"drbd": False},
         data_collector_interval={"lv": 2500000})
    collectors = _stored(cfg).data_collectors
    assert collectors["drbd"]["active"] is False
    assert collectors["lv"]["interval"] == 2.5 and collectors["lv"]["active"] is True
    # empty image names clear what is already clear: accepted, nothing changes
    _run(_context(cfg), opcodes.OpClusterSetParams, install_image="", zeroing_image="",
         instance_communication_network="")


def test_modify_command_line(monkeypatch, capsys):
    submitted = []
    monkeypatch.setattr(cli, "submit_or_send", lambda op, opts: submitted.append(op))
    assert _main(monkeypatch, "modify", "--enabled-data-collectors", "drbd=false,lv=True",
                 "--data-collector-interval", "lv=1.5,drbd=10",
                 "--hypervisor-state", "kvm:mem_total=2048",
                 "--disk-state", "plain/xenvg:disk_total=100") == 0
    (op,) = submitted
    assert op.enabled_data_collectors == {"drbd": False, "lv": True}
    assert op.data_collector_interval == {"lv": 1500000, "drbd": 10000000}
    assert op.hv_state == {"kvm": {"mem_total": "2048"}}
    assert op.disk_state == {"plain": {"xenvg": {"disk_total": "100"}}}
    for argv, message in [
            (["--enabled-data-collectors", "drbd=yes"], "Invalid value 'yes' for data"
                                                         " collector 'drbd'"),
            (["--enabled-data-collectors", "nosuch=false"],
             "Data collector names not recognized: nosuch"),
            (["--data-collector-interval", "lv=soon"],
             "Can't transform all values to integers"),
            (["--data-collector-interval", "lv=-1"], "not above zero"),
            (["--disk-state", "xenvg:disk_total=1"], "Invalid disk state 'xenvg'"),
            (["--hypervisor-state", "no_kvm"], "cannot be removed or reset")]:
        assert _main(monkeypatch, "modify", *argv) == 1
        assert message in capsys.readouterr().err
    assert len(submitted) == 1


# ---- init ----------------------------------------------------------------------------

@pytest.fixture
def init_calls(monkeypatch):
    from ganeti import bootstrap
    calls = []
    monkeypatch.setattr(bootstrap, "init_cluster", lambda *a, **k: calls.append(k))
    monkeypatch.setattr(cli, "submit_op_code", lambda op, opts=None: None)
    return calls


def test_init_passes_the_new_settings(monkeypatch, init_calls, tmp_path):
    from ganeti import pathutils
    script = tmp_path / "master-ip-setup"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(pathutils, "EXTERNAL_MASTER_SETUP_SCRIPT", str(script))
    assert _main(monkeypatch, "init", "--user-shutdown", "yes", "--use-external-mip-script",
                 "yes", "--ssh-key-type", "ecdsa", "--ssh-key-bits", "256",
                 "--hypervisor-state", "fake:cpu_total=8",
                 "--disk-state", "plain/xenvg:disk_total=100", "c.example.com") == 0
    (kwargs,) = init_calls
    assert (kwargs["enabled_user_shutdown"], kwargs["use_external_mip_script"],
            kwargs["ssh_key_type"], kwargs["ssh_key_bits"]) == (True, True, "ecdsa", 256)
    assert kwargs["hv_state"] == {"fake": {"cpu_total": "8"}}
    assert kwargs["disk_state"] == {"plain": {"xenvg": {"disk_total": "100"}}}


@pytest.mark.parametrize("argv, message", [
    (["--gluster-storage-dir", "/srv/gluster"], "Gluster is not supported here"),
    (["--install-image", "/srv/i.img"], "install image (--install-image) is not supported"),
    (["--zeroing-image", "/srv/z.img"], "zeroing image (--zeroing-image) is not supported"),
    (["--use-external-mip-script", "yes"], "Cannot use the external master IP setup"
                                           " script"),
])
def test_init_refusals_before_anything_starts(monkeypatch, init_calls, capsys, tmp_path,
                                              argv, message):
    from ganeti import pathutils
    monkeypatch.setattr(pathutils, "EXTERNAL_MASTER_SETUP_SCRIPT", str(tmp_path / "none"))
    assert _main(monkeypatch, "init", *(argv + ["c.example.com"])) == 1
    assert message in capsys.readouterr().err
    assert init_calls == []


@pytest.mark.parametrize("key_type, bits, expected", [
    (None, None, ("rsa", 2048)),
    ("ecdsa", None, ("ecdsa", 384)),
    ("rsa", 4096, ("rsa", 4096)),
])
def test_ssh_key_settings(key_type, bits, expected):
    from ganeti import bootstrap
    assert bootstrap.ssh_key_settings(key_type, bits) == expected


@pytest.mark.parametrize("key_type, bits, message", [
    ("ecdsa", 300, "Invalid key type and bit size combination: ecdsa with 300 bits"),
    ("rsa", 512, "Invalid key type and bit size combination: rsa with 512 bits"),
    ("dsa", None, "'dsa' cannot be made here"),
])
def test_ssh_key_refusals(key_type, bits, message):
    from ganeti import bootstrap
    with pytest.raises(errors.OpPrereqError, match=message):
        bootstrap.ssh_key_settings(key_type, bits)


def test_states_helpers():
    assert cluster_options.default_hv_state(["kvm"]) == {"kvm": cluster_options.HVST_DEFAULTS}
    assert cluster_options.merge_disk_state(
        cluster_options.disk_state_from_pairs([("plain/vg1", {"disk_reserved": "5"})])) \
        == {"plain": {"vg1": {"disk_total": 0, "disk_reserved": 5, "disk_overhead": 0}}}
