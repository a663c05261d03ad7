"""The master's figures of its node RPC calls, for the metrics (LUXI
QueryMetrics, the RAPI's /metrics): per node and procedure family the calls,
the failed ones and the seconds they took, and per family a latency
histogram.

Recording is on the path of every call, so it takes no lock: a call appends
one tuple to a deque (atomic in CPython); the tuples are folded into the
totals when someone asks for them, or by the recording thread when many
piled up and nobody else is folding. Families keep the number of label
combinations bounded (nodes x families, not nodes x procedures).
"""

import bisect
import collections
import threading

#: upper bounds (seconds) of the latency histogram's buckets (and +Inf)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0)
#: recorded calls kept before the recording thread folds them itself
_FOLD_AT = 1000

# family -> procedure name prefixes (a whole name counts as a prefix too)
_FAMILY_PREFIXES = [
    ("storage", ("blockdev_", "drbd_", "file_storage_", "storage_", "node_volumes",
                 "extstorage_")),
    ("instance", ("instance_", "all_instances_info", "accept_instance", "migration_info",
                  "bridges_exist")),
    ("impexp", ("import_", "export_", "impexp_", "finalize_export")),
    ("os", ("os_",)),
    ("hooks", ("hooks_runner",)),
    ("etcd", ("etcd_",)),
    ("verify", ("node_verify",)),
    ("info", ("node_info", "hv_node_info", "version", "master_node_name",
              "node_has_ip_address")),
]
#: every other procedure (files, ssconf, master IP, keys, certificates, ...)
DEFAULT_FAMILY = "node"
FAMILIES = [name for name, _ in _FAMILY_PREFIXES] + [DEFAULT_FAMILY]


def family(procedure):
    """The family of a procedure, the ``family`` label of its figures."""
    for name, prefixes in _FAMILY_PREFIXES:
        if procedure.startswith(prefixes):
            return name
    return DEFAULT_FAMILY


class RpcStats:
    """Calls, failures and seconds per (node, family); latency per family."""

    def __init__(self):
        self._pending = collections.deque()
        self._fold_lock = threading.Lock()
        self._families = {}         # procedure -> family (a cache)
        self._per_node = {}         # (node, family) -> [calls, errors, seconds]
        self._latency = {}          # family -> [[count per bucket, +Inf last], count, sum]

    def record(self, node, procedure, seconds, failed):
        """One call to ``node`` ended after ``seconds``; ``failed``: without a
        valid answer, or with the node's error."""
        self._pending.append((node, procedure, seconds, failed))
        if len(self._pending) > _FOLD_AT and self._fold_lock.acquire(blocking=False):
            try:
                self._fold_locked()
            finally:
                self._fold_lock.release()

    def _fold_locked(self):
        pending = self._pending
        while True:
            try:
                node, procedure, seconds, failed = pending.popleft()
            except IndexError:
                return
            fam = self._families.get(procedure)
            if fam is None:
                fam = self._families[procedure] = family(procedure)
            entry = self._per_node.get((node, fam))
            if entry is None:
                entry = self._per_node[(node, fam)] = [0, 0, 0.0]
            entry[0] += 1
            entry[1] += 1 if failed else 0
            entry[2] += seconds
            hist = self._latency.get(fam)
            if hist is None:
                hist = self._latency[fam] = [[0] * (len(LATENCY_BUCKETS) + 1), 0, 0.0]
            hist[0][bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            hist[1] += 1
            hist[2] += seconds

    def snapshot(self):
        """{"buckets": LATENCY_BUCKETS, "nodes": [[node, family, calls, errors,
        seconds]], "latency": [[family, [count per bucket (not cumulative),
        +Inf last], count, seconds]]}, sorted."""
        with self._fold_lock:
            self._fold_locked()
            nodes = [[node, fam, calls, errs, round(secs, 6)]
                     for (node, fam), (calls, errs, secs) in sorted(self._per_node.items())]
            latency = [[fam, list(counts), count, round(secs, 6)]
                       for fam, (counts, count, secs) in sorted(self._latency.items())]
        return {"buckets": list(LATENCY_BUCKETS), "nodes": nodes, "latency": latency}
