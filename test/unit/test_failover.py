"""Master failover: the voting arithmetic (failover.py) with a fake RPC."""

import pytest

from ganeti import errors, failover, rpc


class FakeRpc:
    """Answers master_node_name from a {node: master name or None (no answer)} map."""

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def call_master_node_name(self, nodes):
        self.asked.append(list(nodes))
        result = {}
        for node in nodes:
            name = self.answers.get(node)
            if name is None:
                result[node] = rpc.RpcResult(node, "master_node_name",
                                             fail_msg="Connection timed out")
            else:
                result[node] = rpc.RpcResult(node, "master_node_name", data=name)
        return result

    def close(self):
        pass


def _votes(answers):
    return failover.gather_votes(FakeRpc(answers), sorted(answers))


def test_count_votes():
    votes, failed = _votes({"n1": "n1", "n2": "n1", "n3": None, "n4": "n2"})
    assert votes == {"n1": 2, "n2": 1}
    assert failed == ["n3"]
    assert failover.gather_votes(FakeRpc({}), []) == ({}, [])


@pytest.mark.parametrize("answers", [
    {"n1": "n1", "n2": "n1", "n3": "n1"},
    {"n1": None, "n2": "n1", "n3": "n1"},     # old master down: 2 of 3 agree
    {"n1": "n1", "n2": "n1", "n3": None},     # one node cut off
    {"n1": "n1", "n2": "n1", "n3": "n3"},     # 2 of 3 answers name n1
])
def test_failover_vote_ok(answers):
    votes, _ = _votes(answers)
    failover.check_failover_votes("n1", votes, 3)


@pytest.mark.parametrize("answers,total,text", [
    ({"n1": None, "n2": "n1", "n3": None}, 3, "only 1 of 3 nodes answered"),
    ({"n1": None, "n2": "n1"}, 2, "only 1 of 2 nodes answered"),
    # offline nodes counted in the total (not answering)
    ({"n1": "n1", "n2": "n1"}, 4, "only 2 of 4 nodes answered"),
    ({"n1": "n1", "n2": "n3", "n3": "n3"}, 3, "2 of 3 nodes name n3"),
    ({"n1": "n1", "n2": "n2", "n3": "n3", "n4": "n1"}, 4, "2 of 4 nodes that answered"),
])
def test_failover_vote_refused(answers, total, text):
    votes, _ = _votes(answers)
    with pytest.raises(errors.OpPrereqError) as exc:
        failover.check_failover_votes("n1", votes, total)
    msg = exc.value.args[0]
    assert msg.startswith("Cannot obtain a majority")
    assert "use --no-voting" in msg
    assert text in msg




class _RacingCfg:
    """A configuration whose first update loses the race (the old master
    changed it until it stopped)."""

    def __init__(self, fail_updates=1, master="n1"):
        self.fail_updates, self.master = fail_updates, master
        self.reloads, self.stored = 0, None

    def reload(self):
        self.reloads += 1

    def get_master_node(self):
        return self.master

    def get_cluster_info(self):
        return type("Cluster", (), {"master_node": self.master})()

    def update(self, cluster):
        if self.fail_updates:
            self.fail_updates -= 1
            raise errors.ConfigurationError("changed by someone else")
        self.stored = cluster.master_node


def test_set_master_retries_on_what_etcd_holds_now(monkeypatch):
    monkeypatch.setattr(failover.time, "sleep", lambda _: None)
    cfg = _RacingCfg(fail_updates=2)
    failover._set_master(cfg, "n2", "n1")
    assert cfg.stored == "n2" and cfg.reloads == 3
    with pytest.raises(errors.ConfigurationError):
        failover._set_master(_RacingCfg(fail_updates=9), "n2", "n1", attempts=3)
    with pytest.raises(errors.OpExecError, match="changed to n3 meanwhile"):
        failover._set_master(_RacingCfg(master="n3"), "n2", "n1")


def test_failover_waits_for_the_etcd_members_to_settle(monkeypatch):
    """The command returns once the new master made the members follow the
    candidates (verify then finds nothing); past the wait, a warning."""
    from ganeti.etcd import membership
    monkeypatch.setattr(failover.time, "sleep", lambda _: None)
    answers = [["master candidate n1 is not an etcd member"], []]
    monkeypatch.setattr(membership, "pending", lambda cfg: answers.pop(0))
    lines = []
    cfg = _RacingCfg()
    failover._wait_etcd_settled(cfg, lines.append)
    assert answers == [] and cfg.reloads == 2
    assert not any("WARNING" in line for line in lines)
    monkeypatch.setattr(membership, "pending", lambda cfg: ["n1 does not answer"])
    lines = []
    failover._wait_etcd_settled(cfg, lines.append, timeout=0.01)
    assert lines[-1].startswith(" - WARNING: the etcd members have not settled yet"
                                " (n1 does not answer)")
