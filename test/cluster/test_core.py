"""A one-node cluster with real daemons: init, the first commands, the job queue."""

import os
import re
import signal
import subprocess
import time

import pytest

import vcluster


def _lines(proc):
    return proc.stdout.splitlines()


def test_init_started_the_daemons_and_wrote_the_files(cluster):
    m = cluster.master
    assert m.pid("ganeti-noded") and m.pid("ganeti-masterd")
    for rel in ("/var/lib/ganeti/config.data", "/var/lib/ganeti/server.pem",
                "/var/lib/ganeti/ssconf_master_node"):
        assert os.path.exists(m.path(rel)), rel
    with open(m.path("/var/lib/ganeti/ssconf_master_node")) as fd:
        assert fd.read().strip() == m.name
    mode = os.stat(m.path("/var/lib/ganeti/config.data")).st_mode & 0o777
    assert mode == 0o600
    sock = m.path("/var/run/ganeti/socket/ganeti-master")
    assert os.stat(sock).st_mode & 0o777 == 0o660
    addrs = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True,
                           text=True).stdout
    assert vcluster.CLUSTER_IP + "/32" in addrs


def test_cluster_info(cluster):
    out = cluster.master.run("gnt-cluster", "info", check=True).stdout
    assert "Cluster name: %s\n" % vcluster.CLUSTER_NAME in out
    assert "Master node: %s\n" % cluster.master.name in out
    assert "Default hypervisor: fake\n" in out
    assert "Enabled hypervisors: fake\n" in out
    assert "Hypervisor parameters: \n  fake: \n    migration_mode: live\n" in out
    assert "  master netdev: lo\n" in out
    assert "  enabled disk templates: file, diskless\n" in out
    assert "Default nic parameters: \n  default: \n    link: gntbr0\n    mode: bridged\n" in out
    assert "  allowed disk templates: file, diskless\n" in out


def test_getmaster_version_ping(cluster):
    m = cluster.master
    assert m.run("gnt-cluster", "getmaster", check=True).stdout == m.name + "\n"
    ver = m.run("gnt-cluster", "version", check=True).stdout
    assert re.match(r"Software version: \S+\nInternode protocol: \d+\n", ver)
    assert m.run("gnt-cluster", "master-ping").returncode == 0


def test_node_list_default_and_options(cluster):
    m = cluster.master
    out = _lines(m.run("gnt-node", "list", check=True))
    assert out[0].split() == ["Node", "DTotal", "DFree", "MTotal", "MNode", "MFree",
                              "Pinst", "Sinst"]
    row = out[1].split()
    assert row[0] == m.name
    assert all(re.match(r"^\d+(\.\d)?[MGT]$", v) for v in row[1:6]), row
    assert row[6:] == ["0", "0"]
    sep = _lines(m.run("gnt-node", "list", "--no-headers", "--separator=:", check=True))
    fields = sep[0].split(":")
    assert fields[0] == m.name and all(f.isdigit() for f in fields[1:])
    out = _lines(m.run("gnt-node", "list", "-o", "name,pip,master_candidate,role",
                       "--units=g", check=True))
    assert out[0].split() == ["Node", "PrimaryIP", "MasterC", "Role"]
    assert out[1].split() == [m.name, m.ip, "Y", "M"]
    bad = m.run("gnt-node", "list", "-o", "name,nosuchfield")
    assert bad.returncode == 14
    assert "Warning: Queried for unknown fields nosuchfield" in bad.stderr


def test_node_info(cluster):
    m = cluster.master
    out = m.run("gnt-node", "info", check=True).stdout
    assert out.startswith("- Node name: %s\n  primary ip: %s\n" % (m.name, m.ip))
    assert "  master candidate: True\n" in out
    # as Ganeti 3.0.2 (samples/errors.txt): an unknown name prints an empty line
    missing = m.run("gnt-node", "info", "no-such-node")
    assert (missing.returncode, missing.stdout, missing.stderr) == (0, "\n", "")
    mixed = m.run("gnt-node", "info", "no-such-node", m.name, check=True).stdout
    assert mixed == out



def test_info_of_unknown_names_as_ganeti(cluster):
    """Ganeti 3.0.2's samples (errors.txt): info of an unknown OS prints its name
    with nothing after it and an empty line, of an unknown instance fails with
    unknown_entity."""
    m = cluster.master
    os_info = m.run("gnt-os", "info", "nosuchos")
    assert (os_info.returncode, os_info.stdout, os_info.stderr) == (0, "nosuchos: \n\n", "")
    inst = m.run("gnt-instance", "info", "nosuchinst")
    assert (inst.returncode, inst.stdout) == (1, "")
    assert inst.stderr == ("Failure: prerequisites not met for this operation:\n"
                           "error type: unknown_entity, error details:\n"
                           "Instance 'nosuchinst' not known\n")

def test_debug_delay_and_job_commands(cluster):
    m = cluster.master
    proc = m.run("gnt-debug", "delay", "0.1", check=True)
    assert proc.returncode == 0
    sub = m.run("gnt-debug", "delay", "--submit", "0.2", check=True)
    match = re.match(r"^JobID: (\d+)$", sub.stderr.strip())
    assert match, sub.stderr
    job_id = match.group(1)
    watch = m.run("gnt-job", "watch", job_id, check=True)
    assert "Output from job %s follows" % job_id in watch.stdout
    listing = _lines(m.run("gnt-job", "list", check=True))
    assert listing[0].split() == ["ID", "Status", "Summary"]
    assert any(line.split() == [job_id, "success", "TEST_DELAY(0.2)"] for line in listing)
    info = m.run("gnt-job", "info", job_id, check=True).stdout
    assert "- Job ID: %s\n  Status: success\n" % job_id in info
    assert "    - Opcode: OP_TEST_DELAY" in info
    assert m.run("gnt-job", "archive", job_id).returncode == 0
    listing = m.run("gnt-job", "list", "--no-headers", "-o", "id").stdout.split()
    assert job_id not in listing
    archived = m.run("gnt-job", "list", "--archived", "--no-headers", "-o", "id,status",
                     check=True).stdout
    assert re.search(r"^\s*%s\s+success" % job_id, archived, re.M), archived
    auto = m.run("gnt-job", "autoarchive", "all", check=True).stdout
    assert re.match(r"Archived \d+ jobs, \d+ unchecked left", auto)


def test_debug_test_osparams_prints_the_secret_the_job_file_does_not_hold(cluster):
    m = cluster.master
    secret = "Secret-Debug-5b7e"
    proc = m.run("gnt-debug", "test-osparams", "--print-jobid",
                 "--os-parameters-secret", "password=%s,size=1" % secret, check=True)
    job_id, line = proc.stdout.splitlines()
    assert re.match(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} Secret OS parameters:"
                    r" \{'password': '%s', 'size': '1'\}$" % secret, line), proc.stdout
    info = m.run("gnt-job", "info", job_id, check=True).stdout
    assert secret not in info
    assert "Secret OS parameters: {'password': '<redacted>', 'size': '<redacted>'}" in info
    # the job as stored (in etcd, whose files are below the node's root) has the
    # message with the values redacted; no file holds the secret (nor a log)
    stored = []
    for dirpath, _, files in os.walk(cluster.base):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.isfile(path):
                continue        # sockets
            with open(path, "rb") as fd:
                data = fd.read()
            assert secret.encode() not in data, path
            if b"Secret OS parameters: {'password': '<redacted>'" in data:
                stored.append(name)
    assert stored
    proc = m.run("gnt-debug", "test-osparams")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("Failure: command execution error:\n"
                           "Opcode needs secret parameters\n")


def test_bad_input_is_refused_and_creates_no_job(cluster):
    m = cluster.master
    before = m.run("gnt-job", "list", "--no-headers", "-o", "id", "--archived").stdout
    bad = m.run("gnt-debug", "delay", "soon")
    assert bad.returncode != 0 and "Invalid duration" in bad.stderr
    neg = m.run("gnt-debug", "delay", "--", "-5")
    assert neg.returncode == 1 and "non-negative" in neg.stderr, neg.stderr
    unknown_node = m.run("gnt-debug", "delay", "-n", "nosuchnode", "0")
    assert unknown_node.returncode == 1 and "not known" in unknown_node.stderr
    after = m.run("gnt-job", "list", "--no-headers", "-o", "id", "--archived").stdout
    # the unknown node is found in the job (OpPrereqError), the others never reach it
    assert len(after.splitlines()) - len(before.splitlines()) <= 1
    usage = m.run("gnt-job", "list", "--bogus-option")
    assert usage.returncode == 2
    nocmd = m.run("gnt-cluster", "frobnicate")
    assert nocmd.returncode == 1          # Ganeti's: the command list, exit 1
    assert nocmd.stdout.startswith("Usage: gnt-cluster {command}")


def test_cancel_queued_job(cluster):
    m = cluster.master
    m.run("gnt-cluster", "queue", "info", check=True)
    # a long exclusive-lock job holds the node lock; the next one waits
    first = m.run("gnt-debug", "delay", "--submit", "--no-master", "-n", m.name, "3",
                  check=True).stderr.split()[-1]
    second = m.run("gnt-debug", "delay", "--submit", "--no-master", "-n", m.name, "3",
                   check=True).stderr.split()[-1]
    time.sleep(0.5)
    cancel = m.run("gnt-job", "cancel", second)
    assert cancel.returncode == 0, cancel.stderr
    m.run("gnt-job", "watch", first, check=True)
    status = m.run("gnt-job", "list", "--no-headers", "-o", "status", second,
                   check=True).stdout.strip()
    assert status == "canceled"


def test_queue_drain(cluster):
    m = cluster.master
    m.run("gnt-cluster", "queue", "drain", check=True)
    try:
        assert "The drain flag is set" in m.run("gnt-cluster", "queue", "info").stdout
        refused = m.run("gnt-debug", "delay", "0")
        assert refused.returncode == 1 and "drain" in refused.stderr.lower()
    finally:
        m.run("gnt-cluster", "queue", "undrain", check=True)
    assert m.run("gnt-debug", "delay", "0").returncode == 0


def test_verify_is_clean_and_reports_a_dead_node_daemon(cluster):
    m = cluster.master
    proc = m.run("gnt-cluster", "verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "* Verifying cluster config" in proc.stdout
    assert "ERROR" not in proc.stdout
    m.kill_daemon("ganeti-noded")
    try:
        proc = m.run("gnt-cluster", "verify", "--error-codes")
        assert proc.returncode == 1, proc.stdout
        assert re.search(r"^.* - ERROR:ENODERPC:node:%s:node daemon" % re.escape(m.name),
                         proc.stdout, re.M), proc.stdout
        proc = m.run("gnt-cluster", "verify")
        assert "  - ERROR: node %s: node daemon" % m.name in proc.stdout
        ignored = m.run("gnt-cluster", "verify", "-I", "ENODERPC")
        assert "  - WARNING: node %s: node daemon" % m.name in ignored.stdout
        # the node's post hooks could not run either: as in Ganeti, an error of
        # its own that fails the group's job whatever is ignored
        assert ("  - ERROR: node %s: Communication failure in hooks execution: "
                % m.name) in ignored.stdout, ignored.stdout
        assert ignored.returncode == 1
    finally:
        m.start_daemon("ganeti-noded")
    assert m.run("gnt-cluster", "verify").returncode == 0


def test_noded_refuses_clients_without_the_cluster_certificate(cluster):
    import socket
    import ssl
    m = cluster.master
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((m.ip, 1811), timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        with ctx.wrap_socket(raw) as tls:
            tls.sendall(b"POST /version HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]")
            data = tls.recv(100)
            if not data:
                raise ConnectionError("closed without an answer")
    # with the cluster certificate it answers
    from ganeti import rpc
    runner = rpc.RpcRunner(rpc.static_resolver({m.name: m.ip}),
                           cert_file=m.path("/var/lib/ganeti/server.pem"))
    res = runner.call_version([m.name])[m.name]
    assert not res.fail_msg and res.data > 0


def test_delay_on_nodes(cluster):
    m = cluster.master
    proc = m.run("gnt-debug", "delay", "--no-master", "--on-nodes", m.name, "0.2")
    assert proc.returncode == 0, proc.stderr
    proc = m.run("gnt-debug", "delay", "--on-master", "-n", m.name, "--repeat", "2",
                 "0.1")
    assert proc.returncode == 0 and "Test delay iteration 0/1" in proc.stdout \
        and "Test delay iteration 1/1" in proc.stdout


def test_hooks_run_with_the_ganeti_environment(cluster):
    m = cluster.master
    hookdir = m.path("/etc/ganeti/hooks/cluster-verify-post.d")
    os.makedirs(hookdir, exist_ok=True)
    out = os.path.join(cluster.base, "hook.out")
    script = os.path.join(hookdir, "10-record")
    with open(script, "w") as fd:
        fd.write("#!/bin/sh\nenv | grep ^GANETI_ | sort > %s\n" % out)
    os.chmod(script, 0o755)
    try:
        m.run("gnt-cluster", "verify", check=True)
        with open(out) as fd:
            env = dict(line.rstrip("\n").split("=", 1) for line in fd)
        assert env["GANETI_HOOKS_PATH"] == "cluster-verify"
        assert env["GANETI_HOOKS_PHASE"] == "post"
        assert env["GANETI_OP_CODE"] == "OP_CLUSTER_VERIFY_GROUP"    # Ganeti's too
        assert env["GANETI_CLUSTER"] == vcluster.CLUSTER_NAME
        assert env["GANETI_MASTER"] == m.name
    finally:
        os.unlink(script)


def test_masterd_crash_with_running_jobs(cluster):
    """kill -9 during 50 delay jobs: queued ones run after restart, running ones error."""
    m = cluster.master
    ids = []
    for _ in range(50):
        out = m.run("gnt-debug", "delay", "--submit", "2", check=True).stderr
        ids.append(int(out.split()[-1]))
    time.sleep(0.5)
    assert m.kill_daemon("ganeti-masterd", signal.SIGKILL)
    m.start_daemon("ganeti-masterd")
    deadline = time.time() + 120
    while True:
        rows = m.run("gnt-job", "list", "--no-headers", "--separator=|", "-o",
                     "id,status", *map(str, ids), check=True).stdout.splitlines()
        status = dict((int(r.split("|")[0]), r.split("|")[1]) for r in rows)
        if all(s in ("success", "error", "canceled") for s in status.values()):
            break
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert set(status) == set(ids)
    errors_ = [i for i, s in status.items() if s == "error"]
    assert errors_, "some jobs were running when masterd was killed"
    assert "success" in status.values()
    info = m.run("gnt-job", "info", str(errors_[0]), check=True).stdout
    assert "Unclean master daemon shutdown" in info


def test_second_masterd_refuses_to_start(cluster):
    m = cluster.master
    proc = m.run(os.path.join(vcluster.SRC, "daemons", "ganeti-masterd"))
    assert proc.returncode != 0
    assert "already" in proc.stderr.lower()
