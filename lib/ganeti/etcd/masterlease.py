"""The master role as an etcd lease.

Only the node whose master daemon holds the lease acts as the master. The key
HOLDER_KEY names it and is bound to an etcd lease of TTL seconds that the
master daemon renews every TTL/4; if the daemon dies (or is cut off from the
etcd majority), etcd deletes the key when the lease expires.

Fencing: every configuration and job queue write of the master is an etcd
transaction that also compares HOLDER_KEY's mod revision with the one this
daemon wrote (``compares``). A master that lost the key (expired, or taken
over by another node) can no longer change anything, whatever it believes.
The master daemon also takes the master IP down once it can no longer be
sure it holds the lease: when no renewal succeeded for TTL - LOSS_MARGIN
seconds counted from the moment the last successful one was sent (etcd
counts from when it received it, which is later); its client's calls are
bounded by CALL_TIMEOUT, so it knows at the latest a second before etcd
can let the lease expire.

A master daemon that stops cleanly does not free the key: it marks it
"stopped" under a lease of STOPPED_TTL seconds, so that a restart or a reboot
does not look like a dead master to the candidates (etcd.autofailover acts
only on a key that disappears). A node takes the key when it is free, marked
stopped, or already names this node (a master daemon restarted on the same
node); ``force`` (--no-voting) takes it whoever holds it.
"""

import json
import logging
import os
import threading
import time

from ganeti import errors
from ganeti.etcd.client import Compare, Op

HOLDER_KEY = b"/ganeti/master/holder"
TTL = 10                 # seconds
STOPPED_TTL = 60         # seconds the key stays after a clean stop
LOSS_MARGIN = 3.0        # seconds before etcd's expiry the holder gives up
# the bound of one call of the lease's client: a renewal that hangs must not
# eat up the margin (give up at the latest TTL - LOSS_MARGIN + CALL_TIMEOUT)
CALL_TIMEOUT = 2.0
_POLL = 0.5


def _value(kv):
    try:
        value = json.loads(kv.value)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def holder_of(kv):
    """The node name in a HOLDER_KEY value (None if unreadable)."""
    return _value(kv).get("node")


def stopped(kv):
    """Whether the holder's master daemon stopped cleanly (the key is free to take)."""
    return bool(_value(kv).get("stopped"))


class MasterLease:
    """This node's hold on the master role (see the module docstring)."""

    def __init__(self, client, node_name, ttl=TTL, on_lost=None):
        self.client = client
        self.node_name = node_name
        self.ttl = ttl
        self.on_lost = on_lost          # called once, from the renewal thread
        self.lease_id = 0
        self.revision = 0               # HOLDER_KEY's mod revision as written
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = None

    def compares(self):
        """The fence every write of this master carries."""
        return [Compare.mod_revision(HOLDER_KEY, "=", self.revision)]

    def acquire(self, wait, force=False, extra_compares=()):
        """Take the key (waiting up to ``wait`` seconds for another holder's
        lease to expire), then renew it in a thread; GenericError if it stays
        held by another node. ``extra_compares`` must hold too (else
        GenericError at once)."""
        end = time.monotonic() + wait
        value = json.dumps({"node": self.node_name, "pid": os.getpid()}).encode()
        while True:
            kv = self.client.get(HOLDER_KEY)
            holder = None if kv is None else holder_of(kv)
            if kv is None or force or holder == self.node_name or stopped(kv):
                sent = time.monotonic()
                lease_id, _ = self.client.lease_grant(self.ttl)
                compare = (Compare.version(HOLDER_KEY, "=", 0) if kv is None else
                           Compare.mod_revision(HOLDER_KEY, "=", kv.mod_revision))
                result = self.client.txn([compare] + list(extra_compares),
                                         [Op.put(HOLDER_KEY, value, lease_id)],
                                         [Op.get(HOLDER_KEY)])
                if result.succeeded:
                    self.lease_id, self.revision = lease_id, result.revision
                    self._start(sent)
                    if holder not in (None, self.node_name) and not stopped(kv):
                        logging.warning("Took the master lease from %s (forced)", holder)
                    return holder
                self.client.lease_revoke(lease_id)
                now = (result.responses[0] or [None])[0]
                if (now is None and kv is None) or (
                        now is not None and kv is not None
                        and now.mod_revision == kv.mod_revision):
                    raise errors.GenericError("The cluster changed since this master"
                                              " daemon started; not taking the master"
                                              " role again")
                continue            # the key changed meanwhile: look again
            if time.monotonic() >= end:
                raise errors.GenericError(
                    "Node %s holds the master role in etcd (its master daemon renews"
                    " the lease); stop it first, or wait until its lease expires"
                    % holder)
            time.sleep(_POLL)

    def _start(self, renewed_at):
        self._stop.clear()
        self.lost.clear()
        self._thread = threading.Thread(target=self._renew, args=(renewed_at,),
                                        name="master-lease", daemon=True)
        self._thread.start()

    def _renew(self, renewed_at):
        interval = self.ttl / 4.0
        while not self._stop.wait(interval):
            sent = time.monotonic()
            try:
                left = self.client.lease_keepalive(self.lease_id)
                kv = self.client.get(HOLDER_KEY) if left > 0 else None
            except errors.EtcdError as err:
                logging.warning("Could not renew the master lease: %s", err)
                if time.monotonic() - renewed_at >= self.ttl - LOSS_MARGIN:
                    self._declare_lost("was not renewed for %ss" % (self.ttl - LOSS_MARGIN))
                    return
                continue
            if left <= 0:
                self._declare_lost("expired")
                return
            if kv is None or kv.mod_revision != self.revision:
                self._declare_lost("was taken over by %s"
                                   % (holder_of(kv) if kv is not None else "nobody"))
                return
            renewed_at = sent

    def _declare_lost(self, why):
        if self._stop.is_set():
            return            # given up on purpose meanwhile (release)
        logging.error("This node lost the master role: its etcd lease %s", why)
        self.lost.set()
        if self.on_lost is not None:
            try:
                self.on_lost()
            except Exception:  # the callback must not hide the loss
                logging.exception("Error while giving up the master role")

    def release(self, mark_stopped=False):
        """Stop renewing and give the role up at once; with ``mark_stopped`` (a
        clean stop of the master daemon) leave the key marked stopped."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.lease_id and not self.lost.is_set():
            try:
                if mark_stopped:
                    self._mark_stopped()
                self.client.lease_revoke(self.lease_id)
            except errors.EtcdError as err:
                logging.warning("Could not give up the master lease (it expires in %ss):"
                                " %s", self.ttl, err)
        self.lease_id = 0

    def _mark_stopped(self):
        lease_id, _ = self.client.lease_grant(STOPPED_TTL)
        value = json.dumps({"node": self.node_name, "stopped": True}).encode()
        result = self.client.txn(self.compares(), [Op.put(HOLDER_KEY, value, lease_id)])
        if not result.succeeded:
            self.client.lease_revoke(lease_id)
