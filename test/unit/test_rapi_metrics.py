"""The RAPI's /metrics (ganeti.rapi.metrics) and /2/locks: Prometheus' text
format (escaping, HELP and TYPE lines, a text a parser and promtool accept),
the figures from a stand-in master daemon, and the two resources over the
real HTTPS server."""

import base64
import json
import math
import os
import re
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from ganeti import errors
from ganeti.rapi import metrics, server, users
from ganeti.utils import x509

PROMTOOL = "/usr/bin/promtool"
WEIRD_NODE = 'node"1\\x\nb.example.com'

_HOLDERS = [
    {"lock": "BGL", "state": "held", "mode": "shared", "owner": "7", "job_id": 7,
     "since": 1700000000.0, "seconds": 3.25},
    {"lock": "node/" + WEIRD_NODE, "state": "held", "mode": "exclusive", "owner": "7",
     "job_id": 7, "since": 1700000000.25, "seconds": 3.0},
    {"lock": "node/" + WEIRD_NODE, "state": "waiting", "mode": "exclusive", "owner": "8",
     "job_id": 8, "since": 1700000001.25, "seconds": 2.0},
]


class FakeMaster:
    """Answers QueryMetrics, QueryClusterInfo and the instance and node
    queries as the master daemon does; ``fail`` makes every call raise it."""
    fail = None
    calls = []

    def __init__(self):
        pass

    def close(self):
        pass

    def _check(self, name):
        FakeMaster.calls.append(name)
        if FakeMaster.fail is not None:
            raise FakeMaster.fail

    def query_metrics(self, sections=None):
        self._check(("query_metrics", sections))
        answer = {
            "time": 1700000003.25, "start_time": 1699990000.5,
            "jobs": {"jobs": {"running": 1, "waiting": 2, "queued": 1, "success": 3},
                     "opcodes": [["OP_TEST_DELAY", "queued", 1],
                                 ["OP_TEST_DELAY", "running", 1],
                                 ["OP_TEST_DELAY", "success", 3],
                                 ["OP_TEST_DELAY", "waiting", 2]],
                     "ended": [["OP_INSTANCE_STARTUP", "error", 1, 0.25],
                               ["OP_TEST_DELAY", "success", 3, 1.5]]},
            "locks": {"holders": list(_HOLDERS), "waits": {"node": [2, 4.5]}},
            "rpc": {"buckets": [0.01, 0.1, 1.0],
                    "nodes": [[WEIRD_NODE, "info", 10, 1, 0.5],
                              ["node2.example.com", "storage", 4, 0, 0.125]],
                    "latency": [["info", [5, 3, 1, 1], 10, 0.5],
                                ["storage", [4, 0, 0, 0], 4, 0.125]]},
        }
        if sections is not None:
            answer = dict((key, value) for key, value in answer.items()
                          if key in sections or key in ("time", "start_time"))
        return answer

    def query_cluster_info(self):
        self._check("query_cluster_info")
        return {"name": "cluster.example.com", "master": "node1.example.com",
                "software_version": "3.0.2"}

    def query(self, what, fields, qfilter=None):
        self._check(("query", what))
        if what == "instance":
            assert fields == ["status"]
            return {"data": [[[0, "running"]], [[0, "running"]], [[0, "ADMIN_down"]],
                             [[2, None]]]}
        assert what == "node" and fields[:2] == ["name", "offline"]
        return {"data": [[[0, WEIRD_NODE], [0, False], [0, 2048], [0, 1024], [0, 10240],
                          [0, 5120]],
                         [[0, "node2.example.com"], [0, True], [2, None], [2, None],
                          [2, None], [2, None]]]}


@pytest.fixture
def master():
    FakeMaster.fail = None
    FakeMaster.calls = []
    yield FakeMaster
    FakeMaster.fail = None


# ---- a parser of the text format (version 0.0.4) -----------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
_SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (\S+)$" % (_NAME, _LABEL, _LABEL))
_SUFFIXES = {"counter": [""], "gauge": [""], "untyped": [""],
             "summary": ["", "_sum", "_count"], "histogram": ["_bucket", "_sum", "_count"]}


def _unescape(value):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse(text):
    """{family: {"type", "help", "samples": [(name, {label: value}, float)]}};
    fails on anything the format does not allow."""
    assert text.endswith("\n")
    families = {}
    current = None
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families, "family %s declared twice" % name
            current = families[name] = {"help": help_text, "type": None, "samples": []}
            continue
        if line.startswith("# TYPE "):
            name, mtype = line[7:].split(" ")
            assert current is families.get(name) and current["type"] is None, line
            assert mtype in _SUFFIXES
            current["type"] = mtype
            continue
        match = _SAMPLE.match(line)
        assert match, "not a sample line: %r" % line
        name, value = match.group(1), match.group(match.lastindex)
        labels = dict((key, _unescape(val)) for key, val in
                      re.findall(_LABEL, line[len(name):line.rfind(" ")]))
        family = [f for f in families if name in [f + s for s in
                                                  _SUFFIXES[families[f]["type"]]]]
        assert family and families[family[-1]] is current, \
            "sample %s outside its family" % name
        current["samples"].append((name, labels, float(value)))
    return families


def _samples(families, name):
    family = families[name]
    return [(sample, labels, value) for sample, labels, value in family["samples"]]


def _value(families, sample, **labels):
    for fam in families.values():
        for name, lab, value in fam["samples"]:
            if name == sample and lab == labels:
                return value
    raise AssertionError("no sample %s%r" % (sample, labels))


# ---- the format ----------------------------------------------------------------------

def test_label_values_and_help_are_escaped():
    assert metrics.escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert metrics.escape_label_value(17) == "17"
    assert metrics.escape_help('say "hi"\\\n') == 'say "hi"\\\\\\n'


def test_values_are_formatted_as_prometheus_reads_them():
    assert metrics.format_value(3) == "3"
    assert metrics.format_value(True) == "1" and metrics.format_value(False) == "0"
    assert metrics.format_value(0.1) == "0.1"
    assert metrics.format_value(1e-07) == "1e-07"
    assert metrics.format_value(math.inf) == "+Inf"
    assert metrics.format_value(-math.inf) == "-Inf"
    assert metrics.format_value(math.nan) == "NaN"


def test_every_family_has_help_and_type_and_the_text_parses(master):
    text = metrics.render(FakeMaster())
    families = parse(text)
    assert all(name.startswith("ganeti_") for name in families)
    assert all(fam["help"] and fam["type"] for fam in families.values())
    assert list(families)[0] == "ganeti_up"
    assert _value(families, "ganeti_up") == 1
    for part in ("jobs", "locks", "rpc", "instances", "nodes"):
        assert _value(families, "ganeti_scrape_ok", part=part) == 1
    counters = [name for name, fam in families.items() if fam["type"] == "counter"]
    assert counters and all(name.endswith("_total") for name in counters)


def test_every_metric_is_answered_and_documented(master):
    families = parse(metrics.render(FakeMaster()))
    assert list(families) == list(metrics.METRICS)
    assert all(families[name]["type"] == mtype
               for name, (mtype, _) in metrics.METRICS.items())
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "doc", "rapi.rst")
    with open(doc) as fd:
        text = fd.read()
    assert [name for name in metrics.METRICS if name not in text] == []


def test_label_escaping_survives_the_round_trip(master):
    families = parse(metrics.render(FakeMaster()))
    assert _value(families, "ganeti_node_memory_total_bytes", node=WEIRD_NODE) == \
        2048 * 1024 * 1024
    assert _value(families, "ganeti_lock_waiting_seconds", lock="node/" + WEIRD_NODE,
                  mode="exclusive", owner="8") == 2.0
    assert _value(families, "ganeti_rpc_errors_total", node=WEIRD_NODE,
                  family="info") == 1


@pytest.mark.skipif(not os.path.exists(PROMTOOL), reason="Debian's prometheus is not"
                    " installed")
def test_promtool_accepts_the_text(master):
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=metrics.render(FakeMaster()),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout + proc.stderr == ""


# ---- the figures -----------------------------------------------------------------------

def test_jobs_by_status_and_opcode_and_the_queue_depth(master):
    families = parse(metrics.render(FakeMaster()))
    jobs = dict((lab["status"], value) for _, lab, value in _samples(families, "ganeti_jobs"))
    # every status, those without jobs too
    assert jobs == {"queued": 1, "waiting": 2, "running": 1, "success": 3, "error": 0,
                    "canceled": 0, "canceling": 0}
    assert _value(families, "ganeti_job_queue_depth") == 4
    assert _value(families, "ganeti_opcodes", opcode="OP_TEST_DELAY", status="waiting") == 2
    assert _value(families, "ganeti_opcodes_ended_total", opcode="OP_INSTANCE_STARTUP",
                  status="error") == 1
    assert _value(families, "ganeti_opcode_duration_seconds_sum",
                  opcode="OP_TEST_DELAY") == 1.5
    assert _value(families, "ganeti_opcode_duration_seconds_count",
                  opcode="OP_TEST_DELAY") == 3


def test_locks_holders_waiters_and_waits(master):
    families = parse(metrics.render(FakeMaster()))
    assert _value(families, "ganeti_lock_held_seconds", lock="BGL", mode="shared",
                  owner="7") == 3.25
    assert _value(families, "ganeti_lock_holders", level="cluster") == 1
    assert _value(families, "ganeti_lock_holders", level="node") == 1
    assert _value(families, "ganeti_lock_waiters", level="node") == 1
    assert _value(families, "ganeti_lock_waiters", level="instance") == 0
    assert _value(families, "ganeti_lock_longest_wait_seconds", level="node") == 2.0
    assert _value(families, "ganeti_lock_waits_total", level="node") == 2
    assert _value(families, "ganeti_lock_wait_seconds_total", level="node") == 4.5
    assert _value(families, "ganeti_lock_wait_seconds_total", level="cluster") == 0


def test_rpc_latency_histogram_is_cumulative(master):
    families = parse(metrics.render(FakeMaster()))
    assert families["ganeti_rpc_duration_seconds"]["type"] == "histogram"
    buckets = [(lab["le"], value) for name, lab, value in
               _samples(families, "ganeti_rpc_duration_seconds")
               if name.endswith("_bucket") and lab["family"] == "info"]
    assert buckets == [("0.01", 5), ("0.1", 8), ("1.0", 9), ("+Inf", 10)]
    assert _value(families, "ganeti_rpc_duration_seconds_count", family="info") == 10
    assert _value(families, "ganeti_rpc_duration_seconds_sum", family="info") == 0.5
    assert _value(families, "ganeti_rpc_node_duration_seconds_count",
                  node="node2.example.com", family="storage") == 4
    assert _value(families, "ganeti_rpc_node_duration_seconds_sum",
                  node="node2.example.com", family="storage") == 0.125


def test_instances_by_status_and_node_sizes(master):
    families = parse(metrics.render(FakeMaster()))
    instances = dict((lab["status"], value)
                     for _, lab, value in _samples(families, "ganeti_instances"))
    assert instances["running"] == 2 and instances["ADMIN_down"] == 1
    assert instances["ERROR_down"] == 0 and sum(instances.values()) == 3
    assert _value(families, "ganeti_node_offline", node="node2.example.com") == 1
    assert _value(families, "ganeti_node_disk_free_bytes", node=WEIRD_NODE) == \
        5120 * 1024 * 1024
    # an offline node has no live figures: its series are left out
    assert [lab["node"] for _, lab, _ in
            _samples(families, "ganeti_node_memory_free_bytes")] == [WEIRD_NODE]
    assert _value(families, "ganeti_info", cluster="cluster.example.com",
                  master="node1.example.com", version="3.0.2") == 1


def test_without_the_master_daemon_the_answer_is_up_0(master):
    FakeMaster.fail = errors.NoMasterError("/run/ganeti/socket", "refused")
    families = parse(metrics.render(FakeMaster()))
    assert list(families) == ["ganeti_up"]
    assert _value(families, "ganeti_up") == 0


def test_a_failing_part_is_left_out_and_said(master, monkeypatch):
    def broken_query(self, what, fields, qfilter=None):
        raise errors.OpExecError("node query failed")
    monkeypatch.setattr(FakeMaster, "query", broken_query)
    families = parse(metrics.render(FakeMaster()))
    assert _value(families, "ganeti_scrape_ok", part="instances") == 0
    assert _value(families, "ganeti_scrape_ok", part="nodes") == 0
    assert _value(families, "ganeti_scrape_ok", part="jobs") == 1
    assert "ganeti_instances" not in families
    assert _value(families, "ganeti_job_queue_depth") == 4


# ---- the resources, over HTTPS -------------------------------------------------------------

@pytest.fixture
def rapi(tmp_path, master):
    cert = str(tmp_path / "rapi.pem")
    x509.generate_cluster_cert_file(cert)
    (tmp_path / "users").write_text("admin secret write\nreader look read\nnobody x\n")
    srv = server.RapiServer("127.0.0.1", 0, server.TlsFiles(cert),
                            users.UsersFile(str(tmp_path / "users")),
                            client_factory=FakeMaster)
    srv.start()
    yield srv
    srv.shutdown()


def _get(srv, path, user=None, password=None):
    """(status, Content-Type, body bytes) of a GET."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request("https://127.0.0.1:%d%s" % (srv.server_address[1], path))
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def test_metrics_is_public_text_in_prometheus_format(rapi):
    status, ctype, body = _get(rapi, "/metrics")
    assert status == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    families = parse(body.decode("utf-8"))
    assert _value(families, "ganeti_up") == 1
    assert ("query_metrics", None) in FakeMaster.calls
    status, _, _ = _get(rapi, "/metrics", "nobody", "x")
    assert status == 200


def test_locks_needs_a_read_or_write_user_and_lists_holders_and_waiters(rapi):
    status, ctype, body = _get(rapi, "/2/locks")
    assert status == 401
    status, _, _ = _get(rapi, "/2/locks", "nobody", "x")
    assert status == 403
    for user, password in (("reader", "look"), ("admin", "secret")):
        status, ctype, body = _get(rapi, "/2/locks", user, password)
        assert status == 200 and ctype == "application/json"
        assert json.loads(body) == _HOLDERS
    # only the locks part is asked for: no job counting for this
    assert FakeMaster.calls[-1] == ("query_metrics", ["locks"])
    assert _get(rapi, "/2/locks/x", "admin", "secret")[0] == 404
