"""The cluster configuration in etcd, one key per object.

Layout (values are JSON):

  /ganeti/config/meta                 version, serial_no, ctime, mtime
  /ganeti/config/cluster              the cluster object
  /ganeti/config/nodes/NAME           one per node (and so on for every map of
  /ganeti/config/instances/NAME       config.data: nodegroups, networks, disks,
  /ganeti/config/nodegroups/UUID      filters, keyed as in config.data)

One key per object keeps a change O(1) in the size of the cluster and every
value far below etcd's 1.5 MiB request limit. A commit is one transaction: it
puts the changed objects and the new meta only if meta was not changed since
the writer read it (its mod revision), so two writers can never both win and
nothing is half-written. The configuration exists once ``meta`` does: a seed
writes the objects first and ``meta`` last.
"""

import json
import time

from ganeti import errors
from ganeti.etcd.client import Compare, Op

PREFIX = b"/ganeti/config/"
META_KEY = PREFIX + b"meta"
CLUSTER_KEY = PREFIX + b"cluster"
MAPS = ("nodes", "nodegroups", "instances", "networks", "disks", "filters")
META_FIELDS = ("version", "serial_no", "ctime", "mtime")
_SEED_BATCH = 100          # etcd allows 128 operations in one transaction
# how long a commit whose answer was lost waits for etcd (ConfigStore._settle)
SETTLE_TIMEOUT = 30.0
_SETTLE_POLL = 0.5


def object_key(kind: str, name: str) -> bytes:
    if kind not in MAPS:
        raise errors.ProgrammerError("Unknown configuration map %r" % kind)
    if not name or "/" in name:
        raise errors.ConfigurationError("Cannot store %s %r: bad name" % (kind, name))
    return PREFIX + kind.encode() + b"/" + name.encode("utf-8")


def _encode(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def split(data: dict) -> dict:
    """{key: value} of a whole configuration (config.data as a dict)."""
    result = {META_KEY: {f: data.get(f) for f in META_FIELDS},
              CLUSTER_KEY: data.get("cluster")}
    for kind in MAPS:
        for name, value in (data.get(kind) or {}).items():
            result[object_key(kind, name)] = value
    return result


def assemble(values: dict):
    """The configuration dict from {key: value}; None without a meta key."""
    meta = values.get(META_KEY)
    if meta is None:
        return None
    data = {f: meta.get(f) for f in META_FIELDS}
    data["cluster"] = values.get(CLUSTER_KEY)
    for kind in MAPS:
        data[kind] = {}
    for key, value in values.items():
        rest = key[len(PREFIX):]
        kind, sep, name = rest.partition(b"/")
        if sep and kind.decode() in MAPS:
            data[kind.decode()][name.decode("utf-8")] = value
    return data


def decode(kvs) -> dict:
    """{key: value} from etcd KeyValues under PREFIX."""
    result = {}
    for kv in kvs:
        try:
            result[kv.key] = json.loads(kv.value)
        except ValueError as err:
            raise errors.ConfigurationError("etcd key %r does not hold JSON: %s"
                                            % (kv.key, err))
    return result


class ConfigStore:
    """Reads and commits the configuration in etcd through ``client``."""

    def __init__(self, client):
        self.client = client
        # the compares every commit carries as well (the master's lease,
        # etcd.masterlease): a master that lost its role cannot commit
        self.fence = list
        self.revision = 0        # mod revision of meta as last read or written
        self._meta_value = b""   # meta's value then

    def load(self):
        """(configuration dict or None, revision): one consistent snapshot."""
        kvs, revision = self.client.get_prefix(PREFIX)
        meta = [kv for kv in kvs if kv.key == META_KEY]
        self.revision = meta[0].mod_revision if meta else 0
        self._meta_value = meta[0].value if meta else b""
        return assemble(decode(kvs)), revision

    def seed(self, data: dict) -> None:
        """Store a whole configuration where there is none yet (the first start
        of the master daemon after init, or on a cluster made before etcd)."""
        values = split(data)
        meta = values.pop(META_KEY)
        self.client.delete(PREFIX, prefix=True)   # leftovers of an interrupted seed
        items = sorted(values.items())
        for start in range(0, len(items), _SEED_BATCH):
            batch = items[start:start + _SEED_BATCH]
            result = self.client.txn([Compare.version(META_KEY, "=", 0)],
                                     [Op.put(k, _encode(v)) for k, v in batch])
            if not result.succeeded:
                raise errors.ConfigurationError(
                    "Another master stored a configuration in etcd meanwhile")
        result = self.client.txn([Compare.version(META_KEY, "=", 0)],
                                 [Op.put(META_KEY, _encode(meta))])
        if not result.succeeded:
            raise errors.ConfigurationError(
                "Another master stored a configuration in etcd meanwhile")
        self.revision, self._meta_value = result.revision, _encode(meta)

    def _settle(self, err, meta_value: bytes) -> int:
        """Find out whether a commit whose answer was lost went through.

        A fence, "write meta again, unchanged, if it is still at the revision
        the commit expected", is retried until etcd answers: if it succeeds, the lost
        commit never applied and never will (its compare now fails, and etcd
        applies in log order); if it fails, meta changed: by the lost commit
        if it holds the commit's meta, else by another writer. Returns
        the new revision when it applied; raises ConfigurationError when it
        did not, or when etcd gave no answer within SETTLE_TIMEOUT.
        """
        end = time.time() + SETTLE_TIMEOUT
        last = err
        while time.time() < end:
            try:
                fence = self.client.txn(
                    [Compare.mod_revision(META_KEY, "=", self.revision)],
                    [Op.put(META_KEY, self._meta_value)], [Op.get(META_KEY)])
            except errors.EtcdError as fence_err:
                last = fence_err
                time.sleep(_SETTLE_POLL)
                continue
            if fence.succeeded:
                self.revision = fence.revision
                raise errors.ConfigurationError(
                    "The configuration change was not stored: etcd did not answer (%s)"
                    % err)
            kvs = fence.responses[0] or []
            if kvs and kvs[0].value == meta_value:
                return kvs[0].mod_revision
            raise errors.ConfigurationError(
                "The configuration in etcd was changed by someone else (another master?)"
                " while this change was on its way; the change was not made")
        raise errors.ConfigurationError(
            "etcd did not answer for %ss: it is not known whether the configuration"
            " change was stored (%s); check with 'gnt-cluster verify' once etcd is"
            " back" % (SETTLE_TIMEOUT, last))

    def commit(self, meta: dict, puts: dict, deletes=()) -> int:
        """Write ``puts`` {key: value}, delete ``deletes`` and set ``meta``, all or
        nothing, if the configuration is still the one last read or written.

        Raises ConfigurationError when it changed meanwhile (another master);
        EtcdError when etcd cannot say (no quorum, or the outcome is unknown).
        Returns the new revision.
        """
        ops = [Op.put(k, _encode(v)) for k, v in sorted(puts.items())]
        ops += [Op.delete(k) for k in sorted(deletes)]
        meta_value = _encode({f: meta.get(f) for f in META_FIELDS})
        ops.append(Op.put(META_KEY, meta_value))
        compares = [Compare.mod_revision(META_KEY, "=", self.revision)]
        compares += list(self.fence())
        try:
            result = self.client.txn(compares, ops)
        except errors.EtcdOutcomeUnknownError as err:
            self.revision = self._settle(err, meta_value)
            self._meta_value = meta_value
            return self.revision
        if not result.succeeded:
            raise errors.ConfigurationError(
                "The configuration in etcd was changed by someone else (another master?)"
                " since this master read it, or this node lost the master role; the"
                " change was not made")
        self.revision, self._meta_value = result.revision, meta_value
        return result.revision
