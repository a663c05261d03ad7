"""The etcd members follow the master candidates (master side).

Every online master candidate runs an etcd member. Voting members are the
largest odd number that the candidates allow (the master always votes); with
an even number of candidates one of them is a *learner*: it holds a full copy
but is not needed for a quorum. So a two-node cluster keeps working when its
second node dies, and adding a member never makes the cluster wait for an
even number of voters. (etcd 3.4 allows one learner at a time, which this
rule never exceeds.)

``reconcile`` moves etcd one safe step at a time towards that goal: a new
member is added as a learner, started on its node, and promoted only once
etcd says it is in sync; a member goes before its node stops etcd; a voter
that must become a learner is removed and joins again as a new member.
"""

import threading
import time

from ganeti import errors, pathutils
from ganeti.etcd import client as etcd_client
from ganeti.etcd import member

START_TIMEOUT = 60.0     # a joining member must publish its name within this
PROMOTE_TIMEOUT = 60.0   # a learner must catch up with the leader within this
# etcd refuses a member change until every voter has been connected for 5 s
# ("unhealthy cluster"), and a promotion until the learner caught up ("in
# sync"): such refusals are retried for this long
SETTLE_TIMEOUT = 30.0
_TRANSIENT = ("unhealthy cluster", "in sync", "not enough started members",
              "leader changed", "no leader")
CHANGE_TIMEOUT = 15.0    # one member change (etcd applies it before answering)
_POLL = 0.2
_MAX_STEPS = 50          # reconcile gives up after this many changes
_reconcile_lock = threading.Lock()   # one reconcile at a time (jobs, masterd start)


def odd_floor(count: int) -> int:
    """How many of ``count`` members vote: the largest odd number <= count."""
    return count if count % 2 else max(count - 1, 0)


def wanted_members(cfg, exclude=()) -> dict:
    """{node name: primary IP} of the nodes that should run an etcd member."""
    master = cfg.get_master_node()
    want = {}
    for name, node in cfg.get_all_nodes_info().items():
        if name in exclude:
            continue
        if name == master or (node.master_candidate and not node.offline):
            want[name] = node.primary_ip
    return want


def client_for(cfg, timeout: float = 5.0) -> etcd_client.Client:
    """A client of the cluster's etcd, through the online master candidates."""
    master = cfg.get_master_node()
    want = wanted_members(cfg)
    # the master's own member first: it is the one most likely to answer
    order = sorted(want, key=lambda name: (name != master, name))
    return etcd_client.Client([member.client_url(want[n]) for n in order],
                              pathutils.ETCD_CERT_FILE, pathutils.ETCD_CA_FILE,
                              timeout=timeout)


class _State:
    """The members as etcd lists them, named by node (peer URL -> node)."""

    def __init__(self, members, want):
        by_url = {member.peer_url(ip): name for name, ip in want.items()}
        self.members = members
        self.node_of = {}
        for m in members:
            names = [by_url[u] for u in m.peer_urls if u in by_url]
            self.node_of[m.id] = names[0] if names else None
        self.extra = [m for m in members if self.node_of[m.id] is None]
        self.voters = [m for m in members if not m.is_learner and self.node_of[m.id]]
        self.learners = [m for m in members if m.is_learner and self.node_of[m.id]]
        present = set(self.node_of.values())
        self.missing = sorted(name for name in want if name not in present)

    def describe(self, m) -> str:
        return self.node_of.get(m.id) or m.name or ",".join(m.peer_urls)


def _wait(what: str, timeout: float, fn):
    """Call fn() until it returns a true value; raise after ``timeout``."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            result = fn()
            if result:
                return result
        except errors.EtcdError as err:
            last = err
        time.sleep(_POLL)
    raise errors.OpExecError("etcd: %s did not happen within %ss%s"
                             % (what, timeout, ": %s" % last if last else ""))


def _settled(what: str, timeout: float, fn):
    """fn() once etcd accepts it: its transient refusals are retried."""
    def attempt():
        try:
            return (fn(),)
        except errors.EtcdError as err:
            if any(words in str(err) for words in _TRANSIENT):
                return None
            raise
    return _wait(what, timeout, attempt)[0]


def _promote(client, m, name, log):
    _settled("promotion of %s (catching up with the leader)" % name, PROMOTE_TIMEOUT,
             lambda: client.member_promote(m.id))
    log("etcd: %s is now a voting member" % name)


def _remove(client, rpc, m, name, log, leave=True):
    _settled("removal of %s" % name, SETTLE_TIMEOUT, lambda: client.member_remove(m.id))
    log("etcd: removed %s from the members" % name)
    if leave and name:
        res = rpc.call_etcd_leave(name)
        if res.fail_msg:
            log("etcd: WARNING: %s could not stop its etcd member: %s" % (name, res.fail_msg))


def _add(client, rpc, name, ip, members, log):
    url = member.peer_url(ip)
    new = _settled("addition of %s" % name, SETTLE_TIMEOUT,
                   lambda: client.member_add([url], learner=True))
    initial = {m.name: m.peer_urls[0] for m in members if m.name and m.peer_urls}
    initial[name] = url
    res = rpc.call_etcd_join(name, name, ip, initial)
    if res.fail_msg:
        # leave no member behind that nobody runs
        _settled("removal of %s" % name, SETTLE_TIMEOUT, lambda: client.member_remove(new.id))
        raise errors.OpExecError("etcd: node %s could not start its member: %s"
                                 % (name, res.fail_msg))

    def started():
        return any(m.id == new.id and m.name for m in client.member_list())
    try:
        _wait("start of %s's member" % name, START_TIMEOUT, started)
    except errors.OpExecError:
        _settled("removal of %s" % name, SETTLE_TIMEOUT, lambda: client.member_remove(new.id))
        rpc.call_etcd_leave(name)
        raise
    log("etcd: %s joined as a learner" % name)
    return new


def reconcile(cfg, rpc, client=None, log=None, exclude=()) -> int:
    """Change the etcd members, one step at a time, until they match the
    candidates of ``cfg`` (without ``exclude``); returns the number of steps.

    Raises OpExecError (or EtcdError) when a step fails; what was done so
    far stays done, and the next reconcile goes on from there.
    """
    with _reconcile_lock:
        return _reconcile(cfg, rpc, client, log, exclude)


def _reconcile(cfg, rpc, client, log, exclude):
    log = log or (lambda msg: None)
    client = client or client_for(cfg, timeout=CHANGE_TIMEOUT)
    want = wanted_members(cfg, exclude)
    master = cfg.get_master_node()
    for step in range(_MAX_STEPS):
        state = _State(client.member_list(), want)
        target = odd_floor(len(want))
        master_learner = [m for m in state.learners if state.node_of[m.id] == master]
        if master_learner:
            # the master always votes (after a failover it may be the learner)
            _promote(client, master_learner[0], master, log)
        elif state.extra:
            gone = sorted(state.extra, key=lambda m: not m.is_learner)[0]
            name = gone.name if gone.name in cfg.get_node_list() else None
            _remove(client, rpc, gone, state.describe(gone), log, leave=name is not None)
        elif len(state.voters) < target and state.learners:
            m = state.learners[0]
            _promote(client, m, state.node_of[m.id], log)
        elif len(state.voters) > target:
            m = sorted((v for v in state.voters if state.node_of[v.id] != master),
                       key=lambda v: state.node_of[v.id])[-1]
            # etcd cannot demote: the member goes and joins again as a learner
            _remove(client, rpc, m, state.node_of[m.id], log)
        elif state.missing:
            name = state.missing[0]
            _add(client, rpc, name, want[name], state.members, log)
        else:
            return step
    raise errors.OpExecError("etcd: the members did not settle after %d changes"
                             % _MAX_STEPS)


def pending(cfg, client=None) -> list:
    """What reconcile still has to change (a member to add, remove, promote
    or demote), whatever the members' health: empty when they follow the
    candidates."""
    client = client or client_for(cfg)
    want = wanted_members(cfg)
    state = _State(client.member_list(), want)
    master = cfg.get_master_node()
    todo = ["master %s is a learner" % master for m in state.learners
            if state.node_of[m.id] == master]
    todo += ["master candidate %s is not an etcd member" % name for name in state.missing]
    todo += ["etcd member %s is not a master candidate" % state.describe(m)
             for m in state.extra]
    if len(state.voters) != odd_floor(len(want)):
        todo.append("%d voting members, %d wanted" % (len(state.voters),
                                                       odd_floor(len(want))))
    return todo


def check(cfg, client=None) -> list:
    """What ``gnt-cluster verify`` reports about etcd: a list of messages, each
    an error (a lost quorum, a member that does not answer or has no leader, a
    candidate that is no member, a member that is no candidate)."""
    client = client or client_for(cfg)
    want = wanted_members(cfg)
    try:
        members = client.member_list()
    except errors.EtcdError as err:
        return ["etcd: no member answers: %s" % err]
    state = _State(members, want)
    problems = []
    healthy_voters = 0
    for m in sorted(members, key=state.describe):
        name = state.describe(m)
        if not m.name:
            problems.append("etcd member %s was added but never started" % name)
            continue
        url = m.client_urls[0] if m.client_urls else None
        try:
            status = client.status(url) if url else None
        except errors.EtcdError as err:
            problems.append("etcd member on %s does not answer: %s" % (name, err))
            continue
        if status is None or not status["leader"]:
            problems.append("etcd member on %s has no leader (no quorum?)" % name)
        elif status["errors"]:
            problems.append("etcd member on %s reports: %s"
                            % (name, "; ".join(status["errors"])))
        elif not m.is_learner:
            healthy_voters += 1
    voters = [m for m in members if not m.is_learner]
    if voters and healthy_voters <= len(voters) // 2:
        problems.append("etcd has lost its quorum: %d of %d voting members are healthy,"
                        " %d needed" % (healthy_voters, len(voters), len(voters) // 2 + 1))
    for name in state.missing:
        problems.append("master candidate %s is not an etcd member" % name)
    for m in state.extra:
        problems.append("etcd member %s is not a master candidate" % state.describe(m))
    return problems
