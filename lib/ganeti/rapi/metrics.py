"""The RAPI's ``/metrics``: the cluster's figures in Prometheus' text format
(version 0.0.4), for Prometheus to scrape.

``render(client)`` asks the master daemon (LUXI QueryMetrics, and the
instance and node queries for their states, memory and disk) and formats
every metric of ``METRICS`` with its HELP and TYPE lines and escaped label
values. When the master daemon cannot be reached the answer still comes,
with ``ganeti_up 0``. doc/rapi.rst lists the metrics.
"""

import math
import time

from ganeti import constants, errors, locking

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_SINCE = " since the master daemon started"
_OWNER = " (the owner: a job id, or a thread's name)"
#: every metric, in the order of the answer: name -> (type, help)
METRICS = {
    "ganeti_up": ("gauge", "Whether the master daemon answered the scrape (1) or not (0)"),
    "ganeti_info": ("gauge", "The cluster, its master node and software version"),
    "ganeti_master_start_time_seconds": (
        "gauge", "When the master daemon started, seconds since the epoch"),
    "ganeti_scrape_ok": (
        "gauge", "Whether each part of the scrape succeeded (1) or was left out (0)"),
    "ganeti_jobs": ("gauge", "Jobs in the queue (not archived) by status"),
    "ganeti_job_queue_depth": ("gauge", "Jobs queued, waiting for locks or running"),
    "ganeti_opcodes": ("gauge", "Opcodes of the jobs in the queue by opcode and status"),
    "ganeti_opcodes_ended_total": ("counter", "Opcodes that ended" + _SINCE),
    "ganeti_opcode_duration_seconds": (
        "summary", "Time from start (lock waits included) to end of the opcodes that"
        " ended" + _SINCE),
    "ganeti_lock_held_seconds": ("gauge", "How long each owner has held the lock" + _OWNER),
    "ganeti_lock_waiting_seconds": (
        "gauge", "How long each waiting owner has waited for the lock" + _OWNER),
    "ganeti_lock_holders": ("gauge", "Owners of the locks of each level"),
    "ganeti_lock_waiters": ("gauge", "Owners waiting for the locks of each level"),
    "ganeti_lock_longest_wait_seconds": (
        "gauge", "The longest wait going on for a lock of each level"),
    "ganeti_lock_waits_total": ("counter", "Lock requests that had to queue" + _SINCE),
    "ganeti_lock_wait_seconds_total": ("counter", "Time spent queueing for locks" + _SINCE),
    "ganeti_rpc_node_duration_seconds": (
        "summary", "The master daemon's node RPC calls and their time, by node and"
        " procedure family"),
    "ganeti_rpc_errors_total": (
        "counter", "Node RPC calls that failed (no valid answer, or the node's error)"),
    "ganeti_rpc_duration_seconds": (
        "histogram", "Time of the master daemon's node RPC calls, by procedure family"),
    "ganeti_instances": ("gauge", "Instances by status"),
    "ganeti_node_offline": ("gauge", "Whether the node is offline"),
    "ganeti_node_memory_total_bytes": ("gauge", "Total memory of the node"),
    "ganeti_node_memory_free_bytes": ("gauge", "Memory of the node free for instances"),
    "ganeti_node_disk_total_bytes": (
        "gauge", "Total disk space of the node's default storage"),
    "ganeti_node_disk_free_bytes": ("gauge", "Free disk space of the node's default storage"),
    "ganeti_scrape_duration_seconds": ("gauge", "Time taken to gather these metrics"),
}
#: every instance status the instance query reports (cmdlib/instance_query.py)
INSTANCE_STATUSES = ("running", "ADMIN_down", "ADMIN_offline", "USER_down", "ERROR_up",
                     "ERROR_down", "ERROR_wrongnode", "ERROR_nodedown",
                     "ERROR_nodeoffline")
#: job statuses that count in the queue depth
QUEUE_DEPTH_STATUSES = (constants.JOB_STATUS_QUEUED, constants.JOB_STATUS_WAITING,
                        constants.JOB_STATUS_RUNNING)
_MIB = 1024 * 1024
#: node query field -> metric
_NODE_SIZES = [("mtotal", "ganeti_node_memory_total_bytes"),
               ("mfree", "ganeti_node_memory_free_bytes"),
               ("dtotal", "ganeti_node_disk_total_bytes"),
               ("dfree", "ganeti_node_disk_free_bytes")]


# ---- the text format -------------------------------------------------------------

def escape_label_value(value):
    """A label value as the text format wants it: backslash, double quote and
    line feed escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text):
    """HELP text: backslash and line feed escaped."""
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value):
    """A sample value: integers as they are, floats in Python's shortest form,
    +Inf, -Inf and NaN as Prometheus spells them."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


class _Family:
    def __init__(self, name, mtype, help_text):
        self.name = name
        self.type = mtype
        self.help = help_text
        self.samples = []           # (name suffix, [(label, value)], value)

    def add(self, value, labels=(), suffix=""):
        """One sample; ``labels`` a dict or (name, value) pairs, in order."""
        if isinstance(labels, dict):
            labels = list(labels.items())
        self.samples.append((suffix, list(labels), value))
        return self

    def add_histogram(self, labels, bounds, counts, total):
        """A histogram's samples from non-cumulative ``counts`` per bound
        (the count above the last bound last) and the sum of the values."""
        running = 0
        for bound, count in zip(list(bounds) + [math.inf], counts):
            running += count
            self.add(running, list(labels) + [("le", format_value(bound))], "_bucket")
        self.add(total, labels, "_sum")
        self.add(running, labels, "_count")

    def lines(self):
        yield "# HELP %s %s" % (self.name, escape_help(self.help))
        yield "# TYPE %s %s" % (self.name, self.type)
        for suffix, labels, value in self.samples:
            if labels:
                text = ",".join('%s="%s"' % (key, escape_label_value(val))
                                for key, val in labels)
                yield "%s%s{%s} %s" % (self.name, suffix, text, format_value(value))
            else:
                yield "%s%s %s" % (self.name, suffix, format_value(value))


class Exposition:
    """Metric families in the order they were added, as one text."""

    def __init__(self):
        self._families = []

    def family(self, name, mtype=None, help_text=None):
        """A new family; type and help from METRICS unless given."""
        if mtype is None:
            mtype, help_text = METRICS[name]
        fam = _Family(name, mtype, help_text)
        self._families.append(fam)
        return fam

    def text(self):
        return "".join(line + "\n" for fam in self._families for line in fam.lines())


# ---- the figures -----------------------------------------------------------------

def _add_jobs(out, jobs):
    by_status = jobs["jobs"]
    fam = out.family("ganeti_jobs")
    for status in sorted(set(constants.JOB_STATUS_ALL) | set(by_status)):
        fam.add(by_status.get(status, 0), [("status", status)])
    out.family("ganeti_job_queue_depth").add(
        sum(by_status.get(status, 0) for status in QUEUE_DEPTH_STATUSES))
    fam = out.family("ganeti_opcodes")
    for op_id, status, count in jobs["opcodes"]:
        fam.add(count, [("opcode", op_id), ("status", status)])
    fam = out.family("ganeti_opcodes_ended_total")
    durations = {}
    for op_id, status, count, seconds in jobs["ended"]:
        fam.add(count, [("opcode", op_id), ("status", status)])
        entry = durations.setdefault(op_id, [0, 0.0])
        entry[0] += count
        entry[1] += seconds
    fam = out.family("ganeti_opcode_duration_seconds")
    for op_id, (count, seconds) in sorted(durations.items()):
        fam.add(seconds, [("opcode", op_id)], "_sum")
        fam.add(count, [("opcode", op_id)], "_count")


def _lock_level(name):
    return name.split("/", 1)[0] if "/" in name else "cluster"


def _per_level(out, names, values):
    """A family per name, with a sample per lock level: ``values`` {level: (a
    value per family)}; every level listed, 0 where there is none."""
    families = [out.family(name) for name in names]
    zero = [0] * len(names)
    for level in sorted(set(locking.LEVEL_NAMES.values()) | set(values)):
        for fam, value in zip(families, values.get(level, zero)):
            fam.add(value, [("level", level)])


def _add_locks(out, locks):
    fam_held = out.family("ganeti_lock_held_seconds")
    fam_wait = out.family("ganeti_lock_waiting_seconds")
    per_level = {}                  # level -> [holders, waiters, longest wait]
    for entry in locks["holders"]:
        labels = [("lock", entry["lock"]), ("mode", entry["mode"]),
                  ("owner", entry["owner"])]
        level = per_level.setdefault(_lock_level(entry["lock"]), [0, 0, 0.0])
        if entry["state"] == "held":
            fam_held.add(entry["seconds"], labels)
            level[0] += 1
        else:
            fam_wait.add(entry["seconds"], labels)
            level[1] += 1
            level[2] = max(level[2], entry["seconds"])
    _per_level(out, ["ganeti_lock_holders", "ganeti_lock_waiters",
                     "ganeti_lock_longest_wait_seconds"], per_level)
    _per_level(out, ["ganeti_lock_waits_total", "ganeti_lock_wait_seconds_total"],
               locks["waits"])


def _add_rpc(out, rpc):
    fam = out.family("ganeti_rpc_node_duration_seconds")
    fam_errors = out.family("ganeti_rpc_errors_total")
    for node, family, calls, errs, seconds in rpc["nodes"]:
        labels = [("node", node), ("family", family)]
        fam.add(seconds, labels, "_sum")
        fam.add(calls, labels, "_count")
        fam_errors.add(errs, labels)
    fam = out.family("ganeti_rpc_duration_seconds")
    for family, counts, _, seconds in rpc["latency"]:
        fam.add_histogram([("family", family)], rpc["buckets"], counts, seconds)


def _query_values(client, what, fields):
    """Rows of a query's values, None where there is no value."""
    result = client.query(what, fields, None)
    return [[value if status == 0 else None for status, value in row]
            for row in result["data"]]


def _add_instances(out, client):
    counts = dict.fromkeys(INSTANCE_STATUSES, 0)
    for (status,) in _query_values(client, "instance", ["status"]):
        if status is not None:
            counts[status] = counts.get(status, 0) + 1
    fam = out.family("ganeti_instances")
    for status in sorted(counts):
        fam.add(counts[status], [("status", status)])


def _add_nodes(out, client):
    fields = ["name", "offline"] + [field for field, _ in _NODE_SIZES]
    rows = _query_values(client, "node", fields)
    fam = out.family("ganeti_node_offline")
    for row in rows:
        fam.add(bool(row[1]), [("node", row[0])])
    for pos, (_, name) in enumerate(_NODE_SIZES, 2):
        fam = out.family(name)
        for row in rows:
            if isinstance(row[pos], (int, float)) and not isinstance(row[pos], bool):
                fam.add(row[pos] * _MIB, [("node", row[0])])


def _try(ok, part, fn, *args):
    """Run one part of the scrape; a failure leaves out its metrics only."""
    try:
        fn(*args)
        ok.add(1, [("part", part)])
    except (errors.GenericError, OSError, KeyError, TypeError, ValueError):
        ok.add(0, [("part", part)])


def render(client, clock=time.monotonic):
    """The metrics as Prometheus text; ``client`` a LUXI client of the master."""
    start = clock()
    out = Exposition()
    up = out.family("ganeti_up")
    try:
        data = client.query_metrics()
        info = client.query_cluster_info()
    except (errors.GenericError, OSError):
        up.add(0)
        return out.text()
    up.add(1)
    out.family("ganeti_info").add(1, [("cluster", info.get("name", "")),
                                      ("master", info.get("master", "")),
                                      ("version", info.get("software_version", ""))])
    out.family("ganeti_master_start_time_seconds").add(data["start_time"])
    ok = out.family("ganeti_scrape_ok")
    _try(ok, "jobs", _add_jobs, out, data["jobs"])
    _try(ok, "locks", _add_locks, out, data["locks"])
    _try(ok, "rpc", _add_rpc, out, data["rpc"])
    _try(ok, "instances", _add_instances, out, client)
    _try(ok, "nodes", _add_nodes, out, client)
    out.family("ganeti_scrape_duration_seconds").add(round(clock() - start, 6))
    return out.text()
