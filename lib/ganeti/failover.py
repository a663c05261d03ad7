"""Master failover (gnt-cluster master-failover) and the master vote.

Runs on the node that is to become the master, without a master daemon (it
is not a job). Steps: check this node is a master candidate; unless
``no_voting``, ask the nodes who the master is and require a majority that
agrees with this node's configuration; read the configuration from etcd (with
``no_voting`` and no etcd quorum, this node's etcd member first becomes the
only one: etcd.recover); stop the old master (its masterd and master IP); make
this node the master in etcd (a transaction that fails if the old master
changed the configuration meanwhile) and push the configuration to the master
candidates and ssconf to every node; turn on the master IP here and start the
master daemon here; wait until it has made the etcd members follow the
candidates again.

The master daemon itself asks no vote when it starts: the configuration in
etcd names the master, and the master lease in etcd (etcd.masterlease) lets
only one master daemon act.
"""

import logging
import threading
import time

from ganeti import config, daemon_util, errors, pathutils, rpc
from ganeti.utils import net


# the new master daemon's reconcile of the etcd members: a removal and a new
# learner's start take some seconds (etcd's own settle rules)
ETCD_SETTLE_WAIT = 30.0


# ---- the vote ----------------------------------------------------------------------

# Ganeti's words (its typo included) when the master is asked to take over
_ALREADY_MASTER = ("This commands must be run on the node where you want the new master"
                   " to be. %s is already the master")


def count_votes(results):
    """({master name: votes}, [nodes that did not answer]) from master_node_name results."""
    votes = {}
    failed = []
    for node, res in sorted(results.items()):
        name = res.data if res.fail_msg is None else None
        if not name or not isinstance(name, str):
            failed.append(node)
            continue
        votes[name] = votes.get(name, 0) + 1
    return votes, failed


def _majority(count, total):
    return 2 * count > total


def check_failover_votes(old_master, votes, total):
    """Raise OpPrereqError unless the vote allows a failover away from ``old_master``.

    ``votes`` {name: count} over the nodes that answered, ``total`` the number of
    nodes that should have answered. A majority of ``total`` must answer, and a
    majority of the answers must name ``old_master``.
    """
    answered = sum(votes.values())
    if not _majority(answered, total):
        raise errors.OpPrereqError(
            "Cannot obtain a majority of the nodes to vote on the master: only %d of"
            " %d nodes answered; use --no-voting if you are sure that this node should"
            " become the master" % (answered, total), errors.ECODE_ENVIRON)
    top = sorted(votes.items(), key=lambda item: (-item[1], item[0]))
    if not _majority(votes.get(old_master, 0), answered):
        if top and top[0][0] != old_master and _majority(top[0][1], answered):
            detail = ("this node's configuration names %s as the master, but %d of %d"
                      " nodes name %s" % (old_master, top[0][1], answered, top[0][0]))
        else:
            detail = ("%d of %d nodes that answered name %s, the master in this node's"
                      " configuration (votes: %s)"
                      % (votes.get(old_master, 0), answered, old_master,
                         ", ".join("%s: %d" % item for item in top)))
        raise errors.OpPrereqError(
            "Cannot obtain a majority of the nodes agreeing on the master: %s; use"
            " --no-voting if you are sure that this node should become the master"
            % detail, errors.ECODE_STATE)


def gather_votes(runner, nodes):
    """Ask ``nodes`` for their master (ssconf); see count_votes."""
    if not nodes:
        return {}, []
    return count_votes(runner.call_master_node_name(list(nodes)))


# ---- the failover ------------------------------------------------------------------

# how long a failover waits for etcd to answer before it gives up (or, with
# --no-voting, recovers this node's member alone)
ETCD_WAIT = 15.0
# how long an automatic failover waits for the old master to stop: its lease
# expired, so it gave up the master IP already unless its daemon was killed,
# and then its node daemon answers at once
STOP_WAIT_AUTO = 3.0

def _etcd_config(local, no_voting, feedback_fn):
    """The configuration writer on etcd (``local``: this node's copy, which
    names the members to ask); with ``no_voting`` and no quorum, this node's
    etcd member first becomes the only one (etcd.recover)."""
    try:
        return config.etcd_writer(wait=ETCD_WAIT, local=local)
    except errors.GenericError as err:
        if not no_voting:
            raise errors.OpPrereqError(
                "Cannot read the configuration from etcd: %s; if the other master"
                " candidates are gone for good, --no-voting makes this node's etcd"
                " member the only one (changes only they have are lost)" % err,
                errors.ECODE_ENVIRON)
        feedback_fn(" - etcd has no quorum (%s); making this node's etcd member the only"
                    " one" % err)
    from ganeti.etcd import recover
    recover.make_single_member(feedback_fn)
    return config.etcd_writer(local=local)


def _warn_failures(results, feedback_fn, what):
    ok = True
    for node, res in sorted(results.items()):
        if res.fail_msg:
            ok = False
            feedback_fn(" - WARNING: could not %s on node %s: %s" % (what, node, res.fail_msg))
    return ok


def master_failover(no_voting=False, ignore_offline_nodes=False, feedback_fn=None,
                    runner=None):
    """Make this node the master (see the module docstring); returns the old master."""
    feedback_fn = feedback_fn or (lambda msg: None)
    cfg = config.ConfigWriter()
    me = net.get_hostname()
    old_master = cfg.get_master_node()
    node = cfg.get_node_info(me)
    if node is None:
        raise errors.OpPrereqError("This node (%s) is not part of the cluster's"
                                   " configuration" % me, errors.ECODE_STATE)
    if me == old_master:
        raise errors.OpPrereqError(_ALREADY_MASTER % me, errors.ECODE_INVAL)
    if not node.master_candidate:
        raise errors.OpPrereqError(
            "This node (%s) is not a master candidate; only a master candidate (%s) can"
            " become the master" % (me, ", ".join(cfg.get_master_candidates()) or "none"),
            errors.ECODE_STATE)
    if node.offline:
        raise errors.OpPrereqError("This node (%s) is marked offline" % me,
                                   errors.ECODE_STATE)
    runner = runner or rpc.RpcRunner(cfg.get_node_addresses)
    online = cfg.get_online_node_list()
    if not no_voting:
        total = len(online)
        if not ignore_offline_nodes:
            total = len(cfg.get_node_list())   # offline nodes count as not answering
        votes, failed = gather_votes(runner, online)
        if failed:
            feedback_fn("Warning: no answer from node(s) %s to the master vote"
                        % ", ".join(failed))
        check_failover_votes(old_master, votes, total)
    cfg = _etcd_config(cfg, no_voting, feedback_fn)
    # etcd's view, not this node's copy: the copy may have missed changes
    old_master = cfg.get_master_node()
    if me == old_master:
        raise errors.OpPrereqError(_ALREADY_MASTER % me, errors.ECODE_INVAL)

    feedback_fn("Failing over the master from %s to %s..." % (old_master, me))
    # (with --no-voting the other members are known to be gone: no wait for them)
    _become_master(cfg, runner, me, old_master, feedback_fn,
                   ["--no-voting", "--yes-do-it"] if no_voting else [],
                   wait_etcd=not no_voting)
    return old_master


def _become_master(cfg, runner, me, old_master, feedback_fn, masterd_args=(),
                   automatic=False, wait_etcd=False):
    """Stop the old master, name this node the master in etcd, push the
    copies, move the master IP and start the master daemon here (which
    writes this node's copies). ``automatic`` (the old master's lease
    expired): wait for the old master only STOP_WAIT_AUTO seconds, and leave
    the copies to the nodes' daemons (they follow etcd) and the master IP to
    the new master daemon."""
    feedback_fn(" - stopping the master daemon on %s" % old_master)
    res = _call_bounded(lambda: runner.call_node_stop_master(old_master),
                        STOP_WAIT_AUTO if automatic else None)
    if res is None:
        feedback_fn(" - WARNING: the old master %s did not answer within %ss; its lease"
                    " expired, so it no longer acts" % (old_master, STOP_WAIT_AUTO))
    elif res.fail_msg:
        feedback_fn(" - WARNING: could not stop the old master %s (%s): the old master"
                    " is not reachable; make sure its master daemon is stopped and its"
                    " master IP is down" % (old_master, res.fail_msg))
        logging.warning("Could not stop the old master %s: %s", old_master, res.fail_msg)

    feedback_fn(" - updating the configuration")
    _set_master(cfg, me, old_master)
    if not automatic:
        _push_copies(cfg, runner, me, feedback_fn)
        feedback_fn(" - activating the master IP on %s" % me)
        res = runner.call_node_activate_master_ip(me, cfg.get_master_network_parameters())
        if res.fail_msg:
            feedback_fn(" - WARNING: could not activate the master IP: %s" % res.fail_msg)
    feedback_fn(" - starting the master daemon on %s" % me)
    daemon_util.start_master_daemons(masterd_args)
    if wait_etcd:
        _wait_etcd_settled(cfg, feedback_fn)
    feedback_fn("Master failover done: %s is the master now" % me)


def _wait_etcd_settled(cfg, feedback_fn, timeout=None):
    """Wait until the new master daemon has made the etcd members follow the
    candidates again (with an even number of candidates the new master, a
    learner until now, votes, and the old one joins again as the learner):
    the command returns to a cluster that verify finds in order."""
    from ganeti.etcd import membership
    feedback_fn(" - waiting for the etcd members to follow the master candidates")
    deadline = time.monotonic() + (ETCD_SETTLE_WAIT if timeout is None else timeout)
    problems = []
    while time.monotonic() < deadline:
        try:
            cfg.reload()
            problems = membership.pending(cfg)
        except errors.GenericError as err:
            problems = [str(err)]
        if not problems:
            return
        time.sleep(1.0)
    feedback_fn(" - WARNING: the etcd members have not settled yet (%s); the master"
                " daemon goes on with it" % "; ".join(problems))


def _set_master(cfg, me, old_master, attempts=5):
    """Name ``me`` the master in etcd. The old master may have changed the
    configuration until it stopped (or until its lease expired), so the
    change is made on what etcd holds now, again if it was overtaken."""
    for attempt in range(attempts):
        cfg.reload()
        master = cfg.get_master_node()
        if master != old_master:
            raise errors.OpExecError("The master changed to %s meanwhile; not failing"
                                     " over" % master)
        cluster = cfg.get_cluster_info()
        cluster.master_node = me
        try:
            cfg.update(cluster)
            return
        except errors.ConfigurationError as err:
            if attempt == attempts - 1:
                raise
            logging.info("The configuration changed while failing over (%s); again", err)
            time.sleep(0.5)


def _call_bounded(call, timeout):
    """``call()``'s result, or None if it did not return within ``timeout``
    seconds (it goes on in a thread of its own); None timeout: just call."""
    if timeout is None:
        return call()
    result = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True,
                              name="failover-stop-master")
    thread.start()
    thread.join(timeout)
    return result[0] if result else None


def _push_copies(cfg, runner, me, feedback_fn):
    """config.data to the other master candidates, ssconf to every online node."""
    candidates = sorted(n for n, info in cfg.get_all_nodes_info().items()
                        if info.master_candidate and not info.offline and n != me)
    # both at once: an unreachable node costs the connect timeout only once
    upload = {}
    thread = None
    if candidates:
        feedback_fn(" - copying the configuration to %s" % ", ".join(candidates))
        data = cfg.dump_text().encode("utf-8")

        def _upload():
            upload.update(runner.call_upload_file(candidates, pathutils.CLUSTER_CONF_FILE,
                                                  data=data, mode=0o600))
        thread = threading.Thread(target=_upload, name="failover-upload", daemon=True)
        thread.start()
    feedback_fn(" - distributing the ssconf files")
    results = runner.call_write_ssconf_files(cfg.get_online_node_list(),
                                             cfg.get_ssconf_values())
    if thread is not None:
        thread.join()
        _warn_failures(upload, feedback_fn, "copy the configuration")
    _warn_failures(results, feedback_fn, "update the ssconf files")


def take_over(client, me, dead_master, feedback_fn=logging.warning):
    """Automatic master failover (etcd.autofailover): make this master
    candidate the master in place of ``dead_master``, whose lease expired.

    Claiming the master lease first (one etcd transaction that only succeeds
    while nobody holds it) makes sure only one candidate goes on; every
    configuration change is fenced by that claim. Returns True if this node
    became the master, False if another node was faster or things changed.
    """
    from ganeti.etcd import configstore, masterlease
    claim = masterlease.MasterLease(client, me)
    try:
        claim.acquire(wait=0)
    except errors.GenericError:
        return False          # another candidate (or a new master) holds it
    try:
        cfg = config.ConfigWriter(store=configstore.ConfigStore(client))
        cluster = cfg.get_cluster_info()
        if (cfg.get_master_node() != dead_master or not cluster.auto_master_failover
                or not getattr(cfg.get_node_info(me), "master_candidate", False)):
            return False
        cfg.set_fence(claim.compares)
        feedback_fn("Automatic master failover: the master %s lost its lease; %s takes"
                    " over" % (dead_master, me))
        runner = rpc.RpcRunner(cfg.get_node_addresses)
        try:
            _become_master(cfg, runner, me, dead_master, feedback_fn, automatic=True)
        finally:
            runner.close()
        return True
    finally:
        # the master daemon started here holds the key under a lease of its own
        claim.release()
