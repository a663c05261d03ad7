"""Out-of-band management on a three-node cluster with real daemons:
gnt-node power / health and gnt-cluster epo, with an OOB helper program the
test writes (it records every call and answers from a state file, as an IPMI
wrapper would answer from the boards).

The master and the second node get the helper (node parameter oob_program);
the third node has none, so it shows what Ganeti does with nodes that need
manual handling.
"""

import json
import os
import re
import textwrap

import pytest

import vcluster

HELPER = textwrap.dedent("""\
    #!/usr/bin/python3
    # test OOB helper: PROGRAM COMMAND NODE; MODE file: ok|fail|badjson|payload
    import json, os, sys
    DIR = %(dir)r
    command, node = sys.argv[1], sys.argv[2]
    with open(os.path.join(DIR, "calls"), "a") as fd:
        fd.write("%%s %%s %%s\\n" %% (command, node, len(sys.argv)))
    try:
        with open(os.path.join(DIR, "mode")) as fd:
            mode = fd.read().strip()
    except FileNotFoundError:
        mode = "ok"
    state_file = os.path.join(DIR, "state.json")
    try:
        with open(state_file) as fd:
            state = json.load(fd)
    except FileNotFoundError:
        state = {}
    if mode == "fail":
        sys.stderr.write("BMC of %%s does not answer\\n" %% node)
        sys.exit(1)
    if mode == "badjson":
        print("powered=yes")
        sys.exit(0)
    if mode == "payload":
        print(json.dumps("done"))
        sys.exit(0)
    if command == "power-on":
        state[node] = True
    elif command == "power-off":
        state[node] = False
    elif command == "power-status":
        print(json.dumps({"powered": state.get(node, True)}))
    elif command == "health":
        print(json.dumps([["Ambient Temp", "OK"], ["PS Redundancy", "WARNING"],
                          ["FAN 1 RPM", "OK"]]))
    with open(state_file + ".new", "w") as fd:
        json.dump(state, fd)
    os.rename(state_file + ".new", state_file)
    """)
STAMP = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ", re.M)


@pytest.fixture(scope="module")
def vc(tmp_path_factory):
    oob_dir = str(tmp_path_factory.mktemp("oob"))
    helper = os.path.join(oob_dir, "ipmi-oob")
    with open(helper, "w") as fd:
        fd.write(HELPER % {"dir": oob_dir})
    os.chmod(helper, 0o755)
    vc = vcluster.VirtualCluster(3)
    try:
        vc.init()
        m, n2, n3 = vc.nodes
        vc.add_node(n2)
        vc.add_node(n3)
        for name, node in (("oobinst1", n2), ("oobinst2", n3)):
            m.run("gnt-instance", "add", "-n", node.name, "-o", "noop", "-t", "diskless",
                  "--no-name-check", "--no-ip-check", "--no-nics", name, check=True)
        vc.oob_dir = oob_dir
        vc.helper = helper
        yield vc
    finally:
        vc.cleanup()


def _calls(vc):
    """The helper's calls since the last look, as [(command, node)]."""
    path = os.path.join(vc.oob_dir, "calls")
    try:
        with open(path) as fd:
            lines = fd.read().splitlines()
    except FileNotFoundError:
        return []
    os.unlink(path)
    result = []
    for line in lines:
        command, node, argc = line.split()
        assert argc == "3"      # exactly PROGRAM COMMAND NODE
        result.append((command, node))
    return result


def _mode(vc, mode):
    with open(os.path.join(vc.oob_dir, "mode"), "w") as fd:
        fd.write(mode)


def _state(vc):
    with open(os.path.join(vc.oob_dir, "state.json")) as fd:
        return json.load(fd)


def _node_row(vc, node, fields="offline,powered"):
    proc = vc.master.run("gnt-node", "list", "--no-headers", "--separator=|", "-o", fields,
                         node.name, check=True)
    return proc.stdout.strip()


def _set_program(vc, node, program):
    vc.master.run("gnt-node", "modify", "--node-parameters", "oob_program=%s" % program,
                  node.name, check=True)


def _with_helper(vc):
    """Give the master and the second node the helper; forget earlier calls."""
    m, n2, n3 = vc.nodes
    _set_program(vc, m, vc.helper)
    _set_program(vc, n2, vc.helper)
    _calls(vc)
    return m, n2, n3


def _table(*rows):
    """Ganeti's Node/Status table: the last title padded, the rows not."""
    width = max(len(r[0]) for r in rows + (("Node", ""),))
    status_width = max(len(r[1]) for r in rows + (("", "Status"),))
    lines = ["%s %s" % ("Node".ljust(width), "Status".ljust(status_width))]
    lines += [("%s %s" % (r[0].ljust(width), r[1])).rstrip() if not r[1] else
              "%s %s" % (r[0].ljust(width), r[1]) for r in rows]
    return "".join(line + "\n" for line in lines)


def test_without_program(vc):
    m, n2, _ = vc.nodes
    # Ganeti's output for a node without out-of-band support
    proc = m.run("gnt-node", "power", "status", n2.name)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "Node%s Status   \n%s (unavail)\n" % (" " * (len(n2.name) - 4), n2.name), "")
    proc = m.run("gnt-node", "health", n2.name)
    assert proc.returncode == 1 and proc.stdout.endswith("%s (unavail)\n" % n2.name)
    assert "powered" not in m.run("gnt-node", "info", n2.name, check=True).stdout
    proc = m.run("gnt-node", "modify", "--node-powered=no", n2.name)
    assert proc.returncode == 1
    assert "does not support out-of-band handling" in proc.stderr
    assert _calls(vc) == []


def test_power_and_health(vc):
    m, n2, n3 = _with_helper(vc)
    # status of every node, in name order; the third has no helper
    proc = m.run("gnt-node", "power", "status")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == _table((m.name, "powered"), (n2.name, "powered"),
                                 (n3.name, "(unavail)"))
    assert _calls(vc) == [("power-status", m.name), ("power-status", n2.name)]
    assert _node_row(vc, n2) == "N|Y"
    assert "  powered: True\n" in m.run("gnt-node", "info", n2.name, check=True).stdout

    # power off: the node goes offline first, then its power is off in the config
    proc = m.run("gnt-node", "power", "-f", "off", n2.name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(_table((n2.name, "invoked")))
    assert _calls(vc) == [("power-off", n2.name)]
    assert _state(vc)[n2.name] is False
    assert _node_row(vc, n2) == "Y|N"
    assert "  powered: False\n" in m.run("gnt-node", "info", n2.name, check=True).stdout
    proc = m.run("gnt-node", "power", "status", n2.name)
    assert (proc.returncode, proc.stdout) == (0, _table((n2.name, "unpowered")))
    _calls(vc)

    # an unpowered node cannot come back online
    proc = m.run("gnt-node", "modify", "-O", "no", n2.name)
    assert proc.returncode == 1
    assert "Node %s needs to be turned on before its offline status can be reset" \
        % n2.name in proc.stderr
    assert _node_row(vc, n2) == "Y|N"

    # power on records it; then the node can be set online
    proc = m.run("gnt-node", "power", "--power-delay=0", "on", n2.name)
    assert (proc.returncode, proc.stdout) == (0, _table((n2.name, "invoked"))), proc.stderr
    assert _calls(vc) == [("power-on", n2.name)]
    assert _node_row(vc, n2) == "Y|Y"
    m.run("gnt-node", "modify", "-O", "no", n2.name, check=True)
    assert _node_row(vc, n2) == "N|Y"

    # health: one row per item, warnings in the job's log
    proc = m.run("gnt-node", "health", n2.name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(_table((n2.name, "Ambient Temp=OK"),
                                       ("", "PS Redundancy=WARNING"),
                                       ("", "FAN 1 RPM=OK")))
    assert " - WARNING: Item 'PS Redundancy' on node '%s' has status 'WARNING'\n" \
        % n2.name in STAMP.sub("", proc.stdout)
    assert _calls(vc) == [("health", n2.name)]

    # table options, and --submit returns before the job ran
    proc = m.run("gnt-node", "power", "--no-headers", "--separator=|", "status", m.name,
                 n2.name, check=True)
    assert proc.stdout == "%s|powered\n%s|powered\n" % (m.name, n2.name)
    proc = m.run("gnt-node", "power", "--submit", "--print-jobid", "status", n2.name,
                 check=True)
    job_id = proc.stdout.strip()
    assert job_id.isdigit() and proc.stderr == "JobID: %s\n" % job_id
    m.run("gnt-job", "wait", job_id, check=True)
    assert _calls(vc) == [("power-status", m.name), ("power-status", n2.name),
                          ("power-status", n2.name)]


def test_power_refusals(vc):
    m, n2, n3 = _with_helper(vc)
    # the master is never powered off
    proc = m.run("gnt-node", "power", "-f", "--ignore-status", "off", m.name)
    assert proc.returncode == 1
    assert ("Operating on the master node %s is not allowed for power-off; run '%s"
            " power-off %s' if you want to operate on the master regardless"
            % (m.name, vc.helper, m.name)) in proc.stderr
    # an online node is refused for power-off (the opcode as RAPI would send it)
    code = ("from ganeti import cli, opcodes\n"
            "cli.submit_op_code(opcodes.OpOobCommand(node_names=[%r],"
            " command='power-off'))\n" % n2.name)
    proc = m.run(vcluster.PYTHON, "-c", code)
    assert proc.returncode != 0
    assert "Cannot power off node %s because it is not marked offline" % n2.name \
        in proc.stderr
    # off and cycle need names; without -f the answer (no terminal: "no") stops it
    proc = m.run("gnt-node", "power", "cycle")
    assert (proc.returncode, proc.stderr) == (
        1, "Please provide at least one node for this command\n")
    proc = m.run("gnt-node", "power", "cycle", n2.name)
    assert proc.returncode == 1
    proc = m.run("gnt-node", "power", "reset", n2.name)
    assert (proc.returncode, proc.stderr) == (1, "power subcommand reset not supported.\n")
    proc = m.run("gnt-node", "power", "--oob-timeout=0", "status", n2.name)
    assert proc.returncode == 1 and "out-of-band timeout" in proc.stderr
    assert _calls(vc) == []
    assert _node_row(vc, n2) == "N|Y"
    # cycle runs the helper and keeps the recorded state
    proc = m.run("gnt-node", "power", "-f", "cycle", n2.name)
    assert (proc.returncode, proc.stdout) == (0, _table((n2.name, "invoked")))
    assert _calls(vc) == [("power-cycle", n2.name)]
    assert _node_row(vc, n2) == "N|Y"


@pytest.mark.parametrize("mode,warning", [
    ("fail", "Out-of-band RPC failed on node '%(node)s': '%(helper)s power-on %(node)s'"
     " failed with reason 'exited with exit code 1'; output: BMC of %(node)s does not"
     " answer"),
    ("badjson", "Out-of-band RPC failed on node '%(node)s': Out-of-band program"
     " '%(helper)s' returned invalid JSON"),
    ("payload", "Payload returned by node '%(node)s' is not valid: Check of out-of-band"
     " payload failed due to power-on is expected to not return payload but got 'done'"),
])
def test_helper_failures(vc, mode, warning):
    m, n2, _ = vc.nodes
    _set_program(vc, n2, vc.helper)
    m.run("gnt-node", "modify", "--node-powered=no", n2.name, check=True)
    _calls(vc)
    _mode(vc, mode)
    try:
        proc = m.run("gnt-node", "power", "on", n2.name)
    finally:
        _mode(vc, "ok")
        m.run("gnt-node", "modify", "--node-powered=yes", n2.name, check=True)
    assert proc.returncode == 1
    out = STAMP.sub("", proc.stdout)
    assert " - WARNING: " + warning % {"node": n2.name, "helper": vc.helper} in out
    assert out.endswith(_table((n2.name, "(nodata)")))
    assert _calls(vc) == [("power-on", n2.name)]


def test_epo_off_and_on(vc):
    m, n2, n3 = _with_helper(vc)

    # the master is only taken with --all
    proc = m.run("gnt-cluster", "epo", "-f")
    assert proc.returncode == 1
    assert proc.stderr.startswith("%s is the master node, please do a master-failover"
                                  % m.name)
    proc = m.run("gnt-cluster", "epo", "-f", "--all", n2.name)
    assert (proc.returncode, proc.stderr) == (
        1, "Arguments in combination with --all are not allowed\n")
    proc = m.run("gnt-cluster", "epo", "-f", "--groups", "default")
    assert proc.returncode == 1 and proc.stderr.startswith("%s is the master node" % m.name)
    proc = m.run("gnt-cluster", "epo", "-f", "--groups", "nosuchgroup")
    assert proc.returncode == 1 and "Node group 'nosuchgroup' not found" in proc.stderr
    assert _calls(vc) == []

    proc = m.run("gnt-cluster", "epo", "-f", n2.name, n3.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = STAMP.sub("", proc.stdout)
    assert out.startswith(
        "Node %s does not support out-of-band handling, it can not be handled in a fully"
        " automated manner\n"
        "Submit shutdown of instance oobinst1\n"
        "Submit shutdown of instance oobinst2\n" % n3.name)
    assert "All instances have been stopped successfully\n" in out
    assert _calls(vc) == [("power-off", n2.name)]
    assert _node_row(vc, n2) == "N|N"       # powered off, still online (as Ganeti)
    status = m.run("gnt-instance", "list", "--no-headers", "-o", "name,status",
                   "oobinst1", "oobinst2", check=True).stdout.split()
    assert status == ["oobinst1", "ERROR_down", "oobinst2", "ERROR_down"]

    # again: the node is already off
    proc = m.run("gnt-cluster", "epo", "-f", n2.name)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Node %s is already in desired power state, skipping\n"
                                  % n2.name)
    assert _calls(vc) == []

    proc = m.run("gnt-cluster", "epo", "-f", "--on", "--power-delay=0", n2.name, n3.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = STAMP.sub("", proc.stdout)
    assert ("Node %s does not support out-of-band handling, it can not be handled in a"
            " fully automated manner\n" % n3.name) in out
    assert "Waiting until all nodes are available again\n" in out
    assert "Node %s became available\n" % n2.name in out
    assert "Node %s became available\n" % n3.name in out
    assert out.count("All instances have been started successfully\n") >= 1
    assert _calls(vc) == [("power-on", n2.name)]
    assert _node_row(vc, n2) == "N|Y"
    status = m.run("gnt-instance", "list", "--no-headers", "-o", "name,status",
                   "oobinst1", "oobinst2", check=True).stdout.split()
    assert status == ["oobinst1", "running", "oobinst2", "running"]
