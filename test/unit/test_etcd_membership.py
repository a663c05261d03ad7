"""ganeti.etcd.membership: what reconcile still has to do (no etcd)."""

import types

from ganeti.etcd import member, membership
from ganeti.etcd.client import Member

IPS = {"n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3"}


class _Cfg:
    def __init__(self, master, candidates):
        self.master, self.candidates = master, candidates

    def get_master_node(self):
        return self.master

    def get_all_nodes_info(self):
        return dict((name, types.SimpleNamespace(primary_ip=ip, offline=False,
                                                 master_candidate=name in self.candidates))
                    for name, ip in IPS.items())


class _Client:
    def __init__(self, members):
        self.members = members

    def member_list(self):
        return self.members


def _member(mid, name, learner=False):
    return Member(mid, name, [member.peer_url(IPS[name])], [], learner)


def test_pending_names_what_reconcile_has_left():
    cfg = _Cfg("n2", ["n1", "n2"])
    # two candidates: the master votes, the other is the learner
    settled = _Client([_member(1, "n2"), _member(2, "n1", learner=True)])
    assert membership.pending(cfg, settled) == []
    # just after a failover to n2: the new master is the learner
    after_failover = _Client([_member(1, "n1"), _member(2, "n2", learner=True)])
    assert membership.pending(cfg, after_failover) == ["master n2 is a learner"]
    # n1 removed to join again as the learner, not back yet
    rejoining = _Client([_member(2, "n2")])
    assert membership.pending(cfg, rejoining) == [
        "master candidate n1 is not an etcd member"]
    # a member of a node that is no candidate any more; and too many voters
    cfg3 = _Cfg("n1", ["n1", "n2"])
    extra = _Client([_member(1, "n1"), _member(2, "n2"), _member(3, "n3")])
    assert membership.pending(cfg3, extra) == [
        "etcd member n3 is not a master candidate", "2 voting members, 1 wanted"]
