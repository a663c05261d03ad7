"""Node-side procedures that make this node join or leave the cluster's etcd.

The master decides the membership (ganeti.etcd.membership) and tells etcd
first (member add/remove); these procedures then start or stop the node's
own member accordingly.
"""

import logging

from ganeti import constants, daemon_util
from ganeti.backend.common import fail
from ganeti.etcd import configsync, member
from ganeti.utils import net


def etcd_join(name, ip, initial_cluster):
    """Start this node's etcd member, joining the members in ``initial_cluster``.

    Any earlier etcd data of this node is removed first: a member that was
    removed can only come back as a new one.
    """
    if name != net.get_hostname():
        fail("etcd_join: this node is %s, not %s", net.get_hostname(), name)
    spec = {"name": name, "ip": ip, "state": member.STATE_EXISTING,
            "initial_cluster": initial_cluster}
    try:
        member.check_spec(spec)
    except Exception as err:  # GenericError with the reason
        fail("etcd_join: %s", err)
    daemon_util.stop_daemon(constants.ETCD)
    member.forget()
    member.write_spec(spec)
    try:
        daemon_util.start_daemon(constants.ETCD, daemon_util.extra_args(constants.ETCD))
    except Exception as err:  # CommandError: the member file would restart a broken member
        member.forget()
        fail("etcd_join: %s", err)
    # the copies now follow this member (its own first)
    configsync.reset()
    logging.info("Joined etcd as %s (%s)", name, member.peer_url(ip))
    return True


def etcd_leave():
    """Stop this node's etcd member and remove its data (it left etcd)."""
    daemon_util.stop_daemon(constants.ETCD)
    member.forget()
    logging.info("Left etcd")
    return True


PROCEDURES = {
    "etcd_join": etcd_join,
    "etcd_leave": etcd_leave,
}
