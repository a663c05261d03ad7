"""Once-ignored opcode parameters against a real master daemon (unit tests:
test/unit/test_opcode_params_effect.py; doc/cli-options.rst)."""

import json
import os
import subprocess

import vcluster

# A LUXI client run in the cluster's environment: it answers the job queue test
# notifications as Ganeti's gnt-debug test-jobqueue does (connect, read the job's
# status, close) and prints what it saw as JSON.
_CLIENT = r'''
import json, socket
from ganeti import constants, errors, luxi, opcodes
cl = luxi.Client()
seen = {}
try:
    cl.query_nodes([], ["name"], True)
except errors.OpPrereqError as err:
    seen["query_nodes_locking"] = err.args[0]
job_id = cl.submit_job([opcodes.OpTestJqueue(notify_waitlock=True, notify_exec=True)])
seen["notified"] = []
serial, info = None, None
while True:
    answer = cl.wait_for_job_change_once(job_id, ["status"], info, serial, 10)
    if answer == "nochange":
        continue
    info, log = answer
    for serial, _, log_type, msg in log:
        if log_type == constants.ELOG_JQUEUE_TEST:
            path, test, _ = msg
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(path)
                status = cl.query_jobs([job_id], ["status"])[0][0]
            seen["notified"].append([test, status])
    if info[0] in ("success", "error", "canceled"):
        break
seen["job"] = cl.query_jobs([job_id], ["status", "opresult"])[0]
seen["locked_query"] = cl.submit_job([opcodes.OpQuery(
    what="node", fields=["name"], use_locking=True)])
'''


def test_jqueue_notifications_and_query_locking(cluster):
    m = cluster.master
    proc = subprocess.run([vcluster.PYTHON, "-c", _CLIENT + "print(json.dumps(seen))"],
                          env=m.env, capture_output=True, text=True, timeout=120,
                          cwd=os.path.join(vcluster.SRC, "lib"))
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen["query_nodes_locking"] == "Sync queries are not allowed"
    # as Ganeti's client checks: waiting while expanding names, running in exec
    assert seen["notified"] == [["expandnames", "waiting"], ["exec", "running"]]
    assert seen["job"] == ["success", [True]]
    out = m.run("gnt-job", "watch", str(seen["locked_query"]))
    assert out.returncode == 0, out.stderr
    info = m.run("gnt-job", "info", str(seen["locked_query"]), check=True).stdout
    assert "Status: success" in info and m.name in info
