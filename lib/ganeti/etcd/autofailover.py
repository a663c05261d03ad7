"""Automatic master failover (the cluster parameter ``auto_master_failover``,
off by default as Ganeti has no such thing).

Every node daemon runs a ``Watcher``; it acts only on a master candidate of
a cluster with the parameter on. When the master lease (etcd.masterlease)
disappears, because the master daemon died or was cut off from the etcd
majority and its lease expired, the candidates take turns in the order of their names,
RANK_DELAY seconds apart: failover.take_over claims the lease in one etcd
transaction (only one node can win it), names this node the master, moves
the master IP and starts the master daemon here. The new master daemon ends
the jobs the old one was running as failed, saying why (jqueue.etcdstore).

Only a lease seen held and then gone counts: a master daemon that stopped
cleanly leaves the key marked stopped for a while (a restart or a reboot),
and a watcher that never saw a master (the whole cluster is starting) waits
for one rather than take over from a master that is still booting.
"""

import logging
import threading
import time

from ganeti import errors
from ganeti.etcd import configsync, masterlease
from ganeti.utils import net

POLL = 1.0              # seconds between looks at the lease
RANK_DELAY = 3.0        # seconds between the turns of the candidates


def _turn(raw, me):
    """This node's place among the candidates that may take over (None: none)."""
    cluster = raw.get("cluster") or {}
    if not cluster.get("auto_master_failover"):
        return None
    master = cluster.get("master_node")
    nodes = raw.get("nodes") or {}
    candidates = sorted(name for name, node in nodes.items()
                        if node.get("master_candidate") and not node.get("offline")
                        and name != master)
    return candidates.index(me) if me in candidates else None


class Watcher(threading.Thread):
    """Takes the master role over when the master's lease expired (see above)."""

    def __init__(self, stop_event, node_name=None):
        super().__init__(name="auto-failover", daemon=True)
        self.stop_event = stop_event
        self.node_name = node_name or net.get_hostname()
        self._client = None
        self._missing_since = None
        self._seen_held = False
        self._last_error = None

    def run(self):
        while not self.stop_event.wait(POLL):
            try:
                self._look()
                self._last_error = None
            except errors.GenericError as err:
                if str(err) != self._last_error:
                    logging.info("Automatic master failover: %s", err)
                self._last_error = str(err)
                self._missing_since = None
            except Exception:  # a bug must not end the thread for good
                logging.exception("Automatic master failover check failed")
                self._missing_since = None

    def _look(self):
        raw = configsync.latest()
        turn = None if raw is None else _turn(raw, self.node_name)
        if turn is None:
            self._missing_since = None
            return
        if self._client is None:
            self._client = configsync.node_client(self.node_name)
        if self._client.get(masterlease.HOLDER_KEY) is not None:
            self._seen_held = True
            self._missing_since = None
            return
        if not self._seen_held:
            return
        now = time.monotonic()
        if self._missing_since is None:
            self._missing_since = now
        if now - self._missing_since < POLL + turn * RANK_DELAY:
            return
        self._missing_since = None
        self._seen_held = False
        from ganeti import failover
        failover.take_over(self._client, self.node_name, raw["cluster"]["master_node"])
