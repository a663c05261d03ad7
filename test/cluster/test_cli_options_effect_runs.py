"""Once-ignored options on a real one-node virtual cluster: gnt-os runs its job at
the given priority, ganeti-masterd refuses -b/-p and asks before --no-voting
(doc/cli-options.rst)."""

import os

import vcluster


def test_gnt_os_runs_a_job_at_the_given_priority(cluster):
    m = cluster.master
    out = m.run("gnt-os", "list", "--priority", "low", "--no-headers",
                check=True).stdout.split()
    assert "noop" in out
    jobs = m.run("gnt-job", "list", "--no-headers", "--separator=|",
                 "-o", "id,summary,oppriority", check=True).stdout.splitlines()
    job_id, summary, priority = jobs[-1].split("|")
    assert summary == "OS_DIAGNOSE" and priority == "[10]"   # OP_PRIO_LOW


def test_masterd_refuses_bind_and_port_and_asks_before_no_voting(cluster):
    m = cluster.master
    masterd = os.path.join(vcluster.SRC, "daemons", "ganeti-masterd")
    pid = m.pid("ganeti-masterd")
    assert pid
    for option in (["-b", "127.0.0.1"], ["-p", "1811"]):
        proc = m.run(masterd, "-f", *option)
        assert proc.returncode == 2 and "no such option" in proc.stderr
    # asked, answered no: nothing starts (the running daemon is untouched)
    proc = m.run(masterd, "-f", "--no-voting", input_text="no\n")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ("The 'no voting' option has been selected.\nThis is"
                           " dangerous, please confirm by typing uppercase 'yes': ")
    assert proc.stderr == "Aborting.\n"
    assert m.pid("ganeti-masterd") == pid
    m.run("gnt-cluster", "getmaster", check=True)


def test_shutdown_of_an_offline_instance_needs_force(cluster):
    m = cluster.master
    name = "optinst.example.com"
    m.run("gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
          "--no-ip-check", "-t", "diskless", "--no-nics", "--no-start", name, check=True)
    try:
        m.run("gnt-instance", "modify", "--offline", name, check=True)
        refused = m.run("gnt-instance", "shutdown", name)
        assert refused.returncode == 1
        assert ("Instance '%s' is marked to be offline, can't use instance from outside"
                " down, up states" % name) in refused.stderr
        forced = m.run("gnt-instance", "shutdown", "-f", name)
        assert forced.returncode == 0, forced.stderr
        assert "WARNING: Ignoring offline instance check" in forced.stdout + forced.stderr
        state = m.run("gnt-instance", "list", "--no-headers", "-o", "admin_state", name,
                      check=True).stdout.split()
        assert state == ["offline"]
    finally:
        m.run("gnt-instance", "remove", "-f", name)


def test_interruptible_delay_ends_when_poked(cluster):
    import re
    import socket
    import subprocess
    import time
    m = cluster.master
    proc = subprocess.Popen([vcluster.PYTHON, os.path.join(vcluster.SRC, "scripts",
                                                          "gnt-debug"),
                             "delay", "-i", "-r", "3", "60"], env=m.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        start = time.time()
        path = None
        while path is None:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            found = re.search(r"'(/[^']+/sock)'", line)
            path = found.group(1) if found else None
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(b"x")
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert time.time() - start < 30            # not 4 x 60 seconds
    assert "Interrupted, time spent waiting: " in out


def test_wait_for_sync_lines_of_create_modify_grow_and_activate(cluster):
    m = cluster.master
    name = "syncinst.example.com"
    waiting = " - INFO: Waiting for instance %s to sync disks\n" % name
    in_sync = " - INFO: Instance %s's disks are in sync\n" % name
    out = m.run("gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
                "--no-ip-check", "-t", "file", "-s", "64M", "--no-nics", "--no-start",
                name, check=True).stdout
    try:
        assert out.count(waiting) == 2 and out.count(in_sync) == 2     # as Ganeti
        out = m.run("gnt-instance", "modify", "--disk", "add:size=32M", name,
                    check=True).stdout
        assert out.count(waiting) == 1 and out.count(in_sync) == 1
        out = m.run("gnt-instance", "grow-disk", name, "0", "32M", check=True).stdout
        assert out.count(waiting) == 1 and out.count(in_sync) == 1
        out = m.run("gnt-instance", "grow-disk", "--no-wait-for-sync", name, "0", "32M",
                    check=True).stdout
        assert waiting not in out and in_sync not in out
        out = m.run("gnt-instance", "activate-disks", name, check=True).stdout
        assert waiting not in out and in_sync not in out
        out = m.run("gnt-instance", "activate-disks", "--wait-for-sync", name,
                    check=True).stdout
        assert out.count(waiting) == 1 and out.count(in_sync) == 1
        assert out.splitlines()[-1].startswith("%s:disk/1:" % m.name)
        m.run("gnt-instance", "deactivate-disks", name, check=True)
    finally:
        m.run("gnt-instance", "remove", "-f", name)
