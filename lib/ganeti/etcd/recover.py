"""``--no-voting``: this node's etcd member alone becomes the cluster's etcd.

When the other members are gone for good (a two-node cluster whose master
died, or a majority of the candidates lost), etcd has no quorum and nothing
can be read or written. The admin's override (``gnt-cluster master-failover
--no-voting``) then restores this member's own data as a new one-member etcd
cluster, with ``etcdctl snapshot restore`` of its database. This works for a
voter and a learner alike (etcd's --force-new-cluster panics on a learner:
"removed all voters"). Changes that only the lost members had are lost: that
is why the option is dangerous. The old data stays in
``/var/lib/ganeti/etcd.before-no-voting`` for the admin; the other members
join the new etcd cluster again (their old data is wiped) when the master
reconciles the members with the candidates.
"""

import os
import shutil

from ganeti import constants, daemon_util, errors, pathutils
from ganeti.etcd import member
from ganeti.utils import process

ETCDCTL = "/usr/bin/etcdctl"
RESTORE_TIMEOUT = 300


def backup_dir() -> str:
    return pathutils.ETCD_DIR + ".before-no-voting"


def make_single_member(feedback_fn=None) -> None:
    """Stop this node's etcd member and restart it alone, with its own data."""
    feedback_fn = feedback_fn or (lambda msg: None)
    spec = member.read_spec()
    if spec is None:
        raise errors.OpExecError("This node runs no etcd member (no %s); only a master"
                                 " candidate's data can be recovered"
                                 % pathutils.ETCD_MEMBER_FILE)
    daemon_util.stop_daemon(constants.ETCD)   # SIGTERM: etcd commits its database
    db = os.path.join(pathutils.ETCD_DIR, "member", "snap", "db")
    if not os.path.exists(db):
        raise errors.OpExecError("This node's etcd member has no data (%s is missing)" % db)
    staging = pathutils.ETCD_DIR + ".restore"
    shutil.rmtree(staging, ignore_errors=True)
    url = member.peer_url(spec["ip"])
    result = process.run_cmd(
        [ETCDCTL, "snapshot", "restore", db, "--skip-hash-check=true",
         "--name", spec["name"], "--initial-cluster", "%s=%s" % (spec["name"], url),
         "--initial-advertise-peer-urls", url, "--data-dir", staging],
        env={"ETCDCTL_API": "3"}, timeout=RESTORE_TIMEOUT)
    if result.failed:
        shutil.rmtree(staging, ignore_errors=True)
        raise errors.OpExecError("Could not restore this node's etcd data as a new"
                                 " cluster: %s" % result.describe())
    shutil.rmtree(backup_dir(), ignore_errors=True)
    os.rename(pathutils.ETCD_DIR, backup_dir())
    os.rename(staging, pathutils.ETCD_DIR)
    os.chmod(pathutils.ETCD_DIR, 0o700)
    member.write_spec(member.new_cluster_spec(spec["name"], spec["ip"]))
    daemon_util.start_daemon(constants.ETCD, daemon_util.extra_args(constants.ETCD))
    feedback_fn(" - this node's etcd member is now the only one; its old data is in %s"
                % backup_dir())
