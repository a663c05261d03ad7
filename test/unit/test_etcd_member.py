"""ganeti.etcd.member: the member file and the etcd command line made from it."""
import json

import pytest

from ganeti import errors
from ganeti.etcd import member


def test_new_cluster_spec_round_trip(tmp_path):
    path = str(tmp_path / "etcd-member.json")
    assert member.read_spec(path) is None and not member.is_member(path)
    spec = member.new_cluster_spec("node1.example.com", "192.0.2.1")
    member.write_spec(spec, path)
    assert member.is_member(path)
    assert member.read_spec(path) == {
        "name": "node1.example.com", "ip": "192.0.2.1", "state": "new",
        "initial_cluster": {"node1.example.com": "https://192.0.2.1:2380"}}


@pytest.mark.parametrize("change, words", [
    ({"name": ""}, "bad name"),
    ({"ip": "not-an-ip"}, "bad IP address"),
    ({"state": "joining"}, "state must be one of new, existing"),
    ({"initial_cluster": {"other": "https://192.0.2.9:2380"}}, "initial_cluster"),
])
def test_bad_spec_is_refused_and_nothing_written(tmp_path, change, words):
    path = str(tmp_path / "etcd-member.json")
    spec = dict(member.new_cluster_spec("n1", "192.0.2.1"), **change)
    with pytest.raises(errors.GenericError) as err:
        member.write_spec(spec, path)
    assert words in str(err.value)
    assert not member.is_member(path)


def test_unparsable_member_file_is_a_clear_error(tmp_path):
    path = tmp_path / "etcd-member.json"
    path.write_text("{not json")
    with pytest.raises(errors.GenericError) as err:
        member.read_spec(str(path))
    assert str(path) in str(err.value)


def test_argv_listens_on_the_node_ip_only_with_tls_both_ways():
    spec = member.check_spec({
        "name": "n2", "ip": "192.0.2.2", "state": "existing",
        "initial_cluster": {"n1": "https://192.0.2.1:2380", "n2": "https://192.0.2.2:2380"}})
    argv = member.etcd_argv(spec, data_dir="/d", cert="/c.pem", ca="/ca.pem")
    opts = dict(zip(argv[1::2], argv[2::2]))
    assert argv[0] == "/usr/bin/etcd"
    assert opts["--listen-client-urls"] == "https://192.0.2.2:2379"
    assert opts["--listen-peer-urls"] == "https://192.0.2.2:2380"
    assert opts["--initial-cluster"] == "n1=https://192.0.2.1:2380,n2=https://192.0.2.2:2380"
    assert opts["--initial-cluster-state"] == "existing"
    assert opts["--data-dir"] == "/d"
    for flag in ("--client-cert-auth", "--peer-client-cert-auth"):
        assert flag in argv
    assert argv[argv.index("--trusted-ca-file") + 1] == "/ca.pem"
    assert argv[argv.index("--peer-cert-file") + 1] == "/c.pem"


def test_ipv6_urls_are_bracketed():
    assert member.client_url("2001:db8::1") == "https://[2001:db8::1]:2379"


def test_forget_removes_member_file_and_data(tmp_path):
    path, data = tmp_path / "etcd-member.json", tmp_path / "etcd"
    member.write_spec(member.new_cluster_spec("n1", "192.0.2.1"), str(path))
    (data / "member" / "wal").mkdir(parents=True)
    member.forget(str(data), str(path))
    assert not path.exists() and not data.exists()
    member.forget(str(data), str(path))     # twice is fine


def test_daemon_util_runs_etcd_only_on_members(monkeypatch, tmp_path):
    from ganeti import daemon_util, pathutils
    path = tmp_path / "etcd-member.json"
    monkeypatch.setattr(pathutils, "ETCD_MEMBER_FILE", str(path))
    monkeypatch.setattr(daemon_util, "is_master", lambda: False)
    assert daemon_util.daemons_for_this_node() == ["ganeti-noded"]
    path.write_text(json.dumps(member.new_cluster_spec("n1", "192.0.2.1")))
    assert daemon_util.daemons_for_this_node() == ["ganeti-etcd", "ganeti-noded"]


def test_timing_flags_from_the_defaults_file(tmp_path, monkeypatch):
    monkeypatch.delenv(member.TUNING_KEY, raising=False)
    defaults = tmp_path / "ganeti"
    defaults.write_text('ETCD_SERVER_ARGS="--heartbeat-interval 500'
                        ' --election-timeout=5000"\n')
    monkeypatch.setattr(member.pathutils, "DEFAULTS_FILE", str(defaults))
    assert member.tuning_args() == ["--election-timeout=5000", "--heartbeat-interval=500"]
    defaults.write_text("")
    assert member.tuning_args() == []
    monkeypatch.setenv(member.TUNING_KEY, "--election-timeout=2000")
    assert member.tuning_args() == ["--election-timeout=2000"]


@pytest.mark.parametrize("value, words", [
    ("--data-dir=/tmp/x", "is not one of the etcd flags"),
    ("--heartbeat-interval=fast", "needs a number of milliseconds"),
    ("--heartbeat-interval", "needs a number of milliseconds"),
    ("--heartbeat-interval=0", "needs a number of milliseconds"),
    ("--heartbeat-interval=500", "at least five heartbeat intervals (2500 ms)"),
    ("--heartbeat-interval=100 --election-timeout=400", "must be at least five"),
])
def test_bad_timing_flags_are_refused(value, words):
    with pytest.raises(errors.GenericError) as err:
        member.tuning_args(value)
    assert words in str(err.value) and "ETCD_SERVER_ARGS" in str(err.value)
