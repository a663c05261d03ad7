"""/metrics and /2/locks on a one-node virtual cluster, scraped for real by
Debian's Prometheus.

Jobs run (successes, a failure), one job holds a node lock for a while and
another waits for it: /2/locks shows the holder and the waiter with growing
durations, gnt-debug locks shows the same, and a Prometheus (its own
configuration and storage in a temporary directory, listening on
127.0.0.1) scrapes the RAPI over HTTPS and answers from its own HTTP API
that the scrape succeeded and the figures are there.
"""

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from test_etcd_client_runs import wait_for

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
RAPI_PORT = 5080
USERS = "viewer {cleartext}viewpw read\n"
HOLD_SECONDS = 10
pytestmark = pytest.mark.skipif(not os.path.exists(PROMETHEUS),
                                reason="Debian's prometheus is not installed")


def _free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def rapi_get(master, path, user=None, password=None):
    """(status, Content-Type, body text) of a GET on the master's RAPI."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(master.path("/var/lib/ganeti/rapi.pem"))
    ctx.check_hostname = False
    req = urllib.request.Request("https://%s:%d%s" % (master.ip, RAPI_PORT, path))
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


class Prometheus:
    """Debian's prometheus scraping the RAPI every second, from a temporary
    directory, on a free port of 127.0.0.1; stopped by its PID."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="gnt-prom-")
        self.port = _free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as fd:
            fd.write("global:\n"
                     "  scrape_interval: 1s\n"
                     "  scrape_timeout: 1s\n"
                     "scrape_configs:\n"
                     "  - job_name: ganeti\n"
                     "    scheme: https\n"
                     "    metrics_path: /metrics\n"
                     "    tls_config:\n"
                     "      insecure_skip_verify: true\n"
                     "    static_configs:\n"
                     "      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (self.port, path,
                                                     urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=10) as resp:
            answer = json.loads(resp.read())
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr):
        """[(labels, value)] of an instant query."""
        return [(item["metric"], float(item["value"][1]))
                for item in self.api("query", query=expr)["result"]]

    def ready(self):
        assert self.proc.poll() is None, self.logs()
        try:
            self.api("status/buildinfo")
            return True
        except OSError:
            return False

    def logs(self):
        self.log.flush()
        with open(self.log.name) as fd:
            return fd.read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _submit(m, *argv):
    proc = m.run(*argv[:2], "--submit", *argv[2:], check=True)    # options first
    return int(proc.stderr.split()[-1])


def _lock_entries(master, lock):
    status, ctype, body = rapi_get(master, "/2/locks", "viewer", "viewpw")
    assert status == 200 and ctype == "application/json", body
    return [entry for entry in json.loads(body) if entry["lock"] == lock]


def test_metrics_and_locks_scraped_by_prometheus(cluster):
    m = cluster.master
    m.write_rapi_users(USERS)
    # access: /metrics is public, /2/locks needs a user
    status, ctype, text = rapi_get(m, "/metrics")
    assert status == 200, text
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE ganeti_up gauge\nganeti_up 1\n" in text
    assert rapi_get(m, "/2/locks")[0] == 401
    if os.path.exists(PROMTOOL):
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                              capture_output=True, text=True, timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr

    prom = Prometheus("%s:%d" % (m.ip, RAPI_PORT))
    try:
        wait_for(prom.ready, 60, "Prometheus to start")
        # some jobs: successes and a failure
        for _ in range(3):
            m.run("gnt-debug", "delay", "0", check=True)
        assert m.run("gnt-debug", "test-jobqueue", "--fail").returncode != 0
        # one job holds the node's lock for a while, the next one waits for it
        holder = _submit(m, "gnt-debug", "delay", "--no-master", "-n", m.name,
                         str(HOLD_SECONDS))
        lock = "node/" + m.name
        wait_for(lambda: [e for e in _lock_entries(m, lock) if e["state"] == "held"],
                 30, "the holder")
        waiter = _submit(m, "gnt-debug", "delay", "--no-master", "-n", m.name, "0")
        wait_for(lambda: len(_lock_entries(m, lock)) == 2, 30, "the waiter")
        first = _lock_entries(m, lock)
        time.sleep(1.5)
        by_state = dict((e["state"], e) for e in _lock_entries(m, lock))
        assert by_state["held"]["job_id"] == holder and by_state["held"]["owner"] == str(holder)
        assert by_state["held"]["mode"] == "exclusive"
        assert by_state["waiting"]["job_id"] == waiter
        assert by_state["waiting"]["mode"] == "exclusive"
        # durations grow, "since" stays
        earlier = dict((e["state"], e) for e in first)
        for state in ("held", "waiting"):
            now = by_state[state]
            assert abs(now["since"] - earlier[state]["since"]) < 0.01, (now, earlier)
            assert now["seconds"] >= 1.5
            assert abs(now["since"] + now["seconds"] - time.time()) < 2.0
        # gnt-debug locks: Ganeti's columns, and ours with the times
        out = m.run("gnt-debug", "locks", "--no-headers", check=True).stdout
        assert [line.split() for line in out.splitlines() if line.startswith(lock + " ")] \
            == [[lock, "exclusive", str(holder), "exclusive:%d" % waiter]]
        out = m.run("gnt-debug", "locks", "--no-headers", "--separator=|", "-o",
                    "name,owner,owner_time,pending,pending_time", check=True).stdout
        row = [line.split("|") for line in out.splitlines()
               if line.startswith(lock + "|")][0]
        assert row[1] == str(holder) and float(row[2]) >= 1.5
        assert row[3] == "exclusive:%d" % waiter
        assert row[4].startswith("exclusive:") and float(row[4].split(":")[1]) >= 1.5

        # Prometheus scraped the waiter while it waited, and everything else
        waited = 'max_over_time(ganeti_lock_waiting_seconds{owner="%d"}[5m])' % waiter
        assert wait_for(lambda: prom.query(waited), 30, "the waiter in Prometheus")
        m.run("gnt-job", "watch", str(waiter), check=True)
        # scrapes after the jobs ended (one every second; a slow one may time out)
        wait_for(lambda: [v for _, v in prom.query("ganeti_job_queue_depth")] == [0],
                 30, "an empty queue in Prometheus")
        wait_for(lambda: [t["health"] for t in prom.api("targets")["activeTargets"]]
                 == ["up"], 30, "the target up")
        assert prom.query('up{job="ganeti"}')[0][1] == 1.0
        assert prom.query("ganeti_up")[0][1] == 1.0
        success = prom.query('ganeti_jobs{status="success"}')
        assert success and success[0][1] >= 5, success
        assert prom.query('ganeti_jobs{status="error"}')[0][1] >= 1
        ended = prom.query('ganeti_opcodes_ended_total{opcode="OP_TEST_DELAY",'
                           'status="success"}')
        assert ended and ended[0][1] >= 5
        assert prom.query(waited)[0][1] >= 1.5
        rpc = prom.query('ganeti_rpc_node_duration_seconds_sum{family="node",node="%s"}'
                         % m.name)
        assert rpc and rpc[0][1] >= HOLD_SECONDS - 0.5      # the test_delay on the node
        slow = prom.query('ganeti_rpc_duration_seconds_bucket{family="node",le="5.0"}')
        total = prom.query('ganeti_rpc_duration_seconds_count{family="node"}')
        assert slow[0][1] < total[0][1]
        assert prom.query('ganeti_node_memory_total_bytes{node="%s"}' % m.name)[0][1] > 0
        assert prom.query('ganeti_lock_waits_total{level="node"}')[0][1] >= 1
        assert prom.query('ganeti_scrape_ok{part="nodes"}')[0][1] == 1
    except AssertionError:
        print(prom.logs())
        raise
    finally:
        prom.stop()
    assert _lock_entries(m, lock) == []
