"""Instances on a one-node cluster: fake hypervisor, file/diskless disks, noop OS."""

import os
import re
import time

import pytest

import vcluster

NOOP = "/usr/share/ganeti/os/noop"
pytestmark = pytest.mark.skipif(not os.path.isdir(NOOP),
                                reason="Debian's ganeti-os-noop is not installed")
FILE_DIR = "/srv/ganeti/file-storage"


def _add(m, name, *extra, check=True):
    args = ["gnt-instance", "add", "-n", m.name, "-o", "noop", "--no-name-check",
            "--no-ip-check"] + list(extra) + [name]
    return m.run(*args, check=check)


def _list(m, *fields):
    out = m.run("gnt-instance", "list", "--no-headers", "--separator=|", "-o",
                ",".join(fields), check=True).stdout
    return [line.split("|") for line in out.splitlines()]


def _status(m, name):
    rows = dict((r[0], r[1]) for r in _list(m, "name", "status"))
    return rows.get(name)


def test_os_list_and_diagnose(cluster):
    m = cluster.master
    out = m.run("gnt-os", "list", check=True).stdout.split()
    assert out[0] == "Name" and "noop" in out
    diag = m.run("gnt-os", "diagnose").stdout
    assert "OS: noop [global status: valid]" in diag


def test_instance_lifecycle_file(cluster):
    m = cluster.master
    name = "inst1.example.com"
    proc = _add(m, name, "-t", "file", "-s", "256M", "--no-nics")
    out = proc.stdout
    for line in ("* creating instance disks...", "adding instance %s to cluster config" % name,
                 "* running the instance OS create scripts...", "* starting instance..."):
        assert line in out, out
    rows = _list(m, "name", "hypervisor", "os", "pnode", "status", "oper_ram",
                 "disk_template", "disk.sizes")
    assert [name, "fake", "noop", m.name, "running", "128", "file", "256"] in rows
    header = m.run("gnt-instance", "list", check=True).stdout.splitlines()[0]
    assert header.split() == ["Instance", "Hypervisor", "OS", "Primary_node", "Status",
                              "Memory"]
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(m.path(FILE_DIR)) for f in fs]
    assert len(files) == 1 and files[0].startswith(m.path(FILE_DIR + "/" + name + "/"))
    st = os.stat(files[0])
    assert st.st_size == 256 * 1024 * 1024 and st.st_blocks * 512 < st.st_size
    logs = os.listdir(m.path("/var/log/ganeti/os"))
    assert any(f.startswith("add-noop-%s" % name) for f in logs), logs

    info = m.run("gnt-instance", "info", name, check=True).stdout
    assert "Instance name: %s" % name in info
    assert "State: configured to be up, actual state is up" in info

    m.run("gnt-instance", "shutdown", name, check=True)
    assert _status(m, name) == "ADMIN_down"
    m.run("gnt-instance", "startup", name, check=True)
    assert _status(m, name) == "running"
    m.run("gnt-instance", "reboot", name, check=True)
    m.run("gnt-instance", "reboot", "-t", "full", name, check=True)
    assert _status(m, name) == "running"

    m.run("gnt-instance", "grow-disk", name, "0", "128M", check=True)
    assert [name, "384"] in _list(m, "name", "disk.sizes")
    assert os.stat(files[0]).st_size == 384 * 1024 * 1024

    mod = m.run("gnt-instance", "modify", "-B", "maxmem=256M", name, check=True).stdout
    assert "Modified instance %s" % name in mod and "be/maxmem -> 256" in mod
    assert [name, "256"] in _list(m, "name", "be/maxmem")

    console = m.run("gnt-instance", "console", name)
    assert (console.returncode, console.stdout) == (
        0, "Console not available for fake hypervisor\n"), console.stderr

    # a running instance is not renamed (Ganeti's words)
    new = "inst1-renamed.example.com"
    refused = m.run("gnt-instance", "rename", "-f", "--no-name-check", "--no-ip-check",
                    name, new)
    assert refused.returncode == 1 and refused.stderr.endswith(
        "Instance '%s' is marked to be up, cannot rename\n" % name), refused.stderr
    m.run("gnt-instance", "shutdown", name, check=True)
    m.run("gnt-instance", "reinstall", "-f", name, check=True)
    m.run("gnt-instance", "rename", "-f", "--no-name-check", "--no-ip-check", name, new,
          check=True)
    assert _status(m, new) == "ADMIN_down"
    m.run("gnt-instance", "remove", "-f", new, check=True)
    assert _status(m, new) is None
    assert not os.path.exists(files[0])
    assert not os.path.exists(os.path.dirname(files[0]))


def test_bad_input_changes_nothing(cluster):
    m = cluster.master
    before = sorted(os.listdir(m.path(FILE_DIR)))
    cases = [
        (["-t", "file", "-s", "100M", "-o", "nosuchos"], "nosuchos"),
        (["-t", "file", "-s", "100T"], "Not enough disk space"),
        (["-t", "file", "-s", "100M", "-H", "fake:bogus=1"], "bogus"),
        (["-t", "plain", "-s", "100M"], "not enabled"),
        (["-t", "diskless", "-s", "100M"], "Diskless instance but disk information passed"),
        (["-t", "file"], "No disk information specified"),
        (["-t", "file", "-s", "100M", "-B", "maxmem=100G"], "Not enough memory"),
    ]
    for extra, needle in cases:
        args = ["gnt-instance", "add", "-n", m.name, "--no-name-check", "--no-ip-check",
                "--no-nics"]
        if "-o" not in extra:
            args += ["-o", "noop"]
        proc = m.run(*(args + extra + ["bad.example.com"]))
        assert proc.returncode == 1, (extra, proc.stdout, proc.stderr)
        assert needle.lower() in (proc.stderr + proc.stdout).lower(), (extra, proc.stderr)
    assert _status(m, "bad.example.com") is None
    assert sorted(os.listdir(m.path(FILE_DIR))) == before
    _add(m, "dup.example.com", "-t", "diskless", "--no-nics")
    again = _add(m, "dup.example.com", "-t", "diskless", "--no-nics", check=False)
    assert again.returncode == 1 and "already" in again.stderr
    m.run("gnt-instance", "remove", "-f", "dup.example.com", check=True)
    missing = m.run("gnt-instance", "startup", "nosuch.example.com")
    assert missing.returncode == 1 and \
        "Selection filter does not match any instances" in missing.stderr


def test_nics_and_hooks(cluster):
    m = cluster.master
    hookdir = m.path("/etc/ganeti/hooks/instance-add-post.d")
    os.makedirs(hookdir, exist_ok=True)
    out = os.path.join(cluster.base, "add-hook.env")
    script = os.path.join(hookdir, "record")
    with open(script, "w") as fd:
        fd.write("#!/bin/sh\nenv | grep ^GANETI_ | sort > %s\n" % out)
    os.chmod(script, 0o755)
    name = "nics.example.com"
    try:
        _add(m, name, "-t", "diskless", "--net", "0:mode=routed,link=100,ip=192.0.2.10",
             "--net", "1:mac=aa:00:00:12:34:56")
        with open(out) as fd:
            env = dict(line.rstrip("\n").split("=", 1) for line in fd)
    finally:
        os.unlink(script)
    assert env["GANETI_INSTANCE_NAME"] == name
    assert env["GANETI_INSTANCE_PRIMARY"] == m.name
    assert env["GANETI_INSTANCE_NIC_COUNT"] == "2"
    assert env["GANETI_INSTANCE_NIC0_MODE"] == "routed"
    assert env["GANETI_INSTANCE_NIC0_IP"] == "192.0.2.10"
    assert env["GANETI_INSTANCE_NIC1_MAC"] == "aa:00:00:12:34:56"
    assert env["GANETI_INSTANCE_NIC1_BRIDGE"] == "gntbr0"
    assert env["GANETI_INSTANCE_DISK_TEMPLATE"] == "diskless"
    assert env["GANETI_HOOKS_PATH"] == "instance-add"
    rows = _list(m, "name", "nic.macs", "nic.modes", "nic.links")
    row = [r for r in rows if r[0] == name][0]
    assert row[1].split(",")[1] == "aa:00:00:12:34:56"
    assert re.match(r"^aa:00:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$", row[1].split(",")[0])
    assert row[2] == "routed,bridged" and row[3] == "100,gntbr0"
    dup = _add(m, "dupmac.example.com", "-t", "diskless", "--net",
               "0:mac=aa:00:00:12:34:56", check=False)
    assert dup.returncode == 1 and "already in use" in dup.stderr
    m.run("gnt-instance", "remove", "-f", name, check=True)


def test_status_detects_a_dead_instance(cluster):
    m = cluster.master
    name = "dies.example.com"
    _add(m, name, "-t", "diskless", "--no-nics")
    state_dir = m.path("/var/run/ganeti/fake-hypervisor")
    victims = [f for f in os.listdir(state_dir) if name in f]
    assert victims, os.listdir(state_dir)
    for f in victims:
        os.unlink(os.path.join(state_dir, f))
    assert _status(m, name) == "ERROR_down"
    m.run("gnt-instance", "startup", name, check=True)
    assert _status(m, name) == "running"
    m.run("gnt-instance", "remove", "-f", name, check=True)


def test_many_fake_instances(cluster):
    m = cluster.master
    count = 40
    names = ["many%03d.example.com" % i for i in range(count)]
    ids = []
    for name in names:
        out = _add(m, name, "-t", "diskless", "--no-nics", "--submit").stderr
        ids.append(out.split()[-1])
    for job_id in ids:
        m.run("gnt-job", "watch", job_id, check=True)
    rows = dict((r[0], r[1]) for r in _list(m, "name", "status"))
    assert all(rows.get(n) == "running" for n in names), rows
    nodes = m.run("gnt-node", "list", "--no-headers", "-o", "pinst_cnt",
                  check=True).stdout.split()
    assert int(nodes[0]) >= count
    start = time.time()
    m.run("gnt-instance", "list", check=True)
    print("gnt-instance list with %d instances: %.3f s" % (count, time.time() - start))
    proc = m.run("gnt-instance", "shutdown", "--all", "--force-multiple", check=True)
    assert proc.returncode == 0
    rows = dict((r[0], r[1]) for r in _list(m, "name", "status"))
    assert all(rows.get(n) == "ADMIN_down" for n in names)
    for name in names:
        m.run("gnt-instance", "remove", "-f", "--submit", name, check=True)
    deadline = time.time() + 120
    while any(r[0] in names for r in _list(m, "name")):
        assert time.time() < deadline
        time.sleep(0.2)


def test_modify_disks_nics_memory_and_disk_activation(cluster):
    m = cluster.master
    name = "mod.example.com"
    _add(m, name, "-t", "file", "-s", "64M", "--no-nics", "-B", "minmem=64M,maxmem=256M")
    # runtime memory of the running instance (ballooning)
    out = m.run("gnt-instance", "modify", "-m", "200M", name, check=True).stdout
    assert "runtime_memory -> 200" in out
    assert [name, "200"] in _list(m, "name", "oper_ram")
    bad = m.run("gnt-instance", "modify", "-m", "1G", name)
    assert bad.returncode == 1 and "outside" in bad.stderr
    # NICs can change while it runs
    m.run("gnt-instance", "modify", "--net", "add:mode=routed,link=100,ip=192.0.2.20", name,
          check=True)
    assert [name, "1", "routed"] in _list(m, "name", "nic.count", "nic.modes")
    # a disk is added while it runs (seen at its next start), removed only
    # once it is stopped (as in Ganeti without hotplug)
    m.run("gnt-instance", "modify", "--disk", "add:size=32M", name, check=True)
    assert [name, "64,32"] in _list(m, "name", "disk.sizes")
    refused = m.run("gnt-instance", "modify", "--disk", "1:remove", name)
    assert refused.returncode == 1 and refused.stderr.endswith(
        "Instance '%s' is marked to be up, can't remove volume from a running instance"
        " without using hotplug\n" % name), refused.stderr
    m.run("gnt-instance", "shutdown", name, check=True)
    inst_dir = m.path(FILE_DIR + "/" + name)
    assert len(os.listdir(inst_dir)) == 2
    # activate-disks prints node:disk/N:path for each disk
    act = m.run("gnt-instance", "activate-disks", name, check=True).stdout.splitlines()
    assert len(act) == 2 and act[0].startswith("%s:disk/0:%s" % (m.name, inst_dir))
    links = os.listdir(m.path("/var/run/ganeti/instance-disks"))
    assert sorted(links) == ["%s:0" % name, "%s:1" % name]
    m.run("gnt-instance", "deactivate-disks", name, check=True)
    assert os.listdir(m.path("/var/run/ganeti/instance-disks")) == []
    m.run("gnt-instance", "modify", "--disk", "1:remove", "--net", "0:remove", name,
          check=True)
    assert [name, "64", "0"] in _list(m, "name", "disk.sizes", "nic.count")
    assert len(os.listdir(inst_dir)) == 1
    m.run("gnt-instance", "modify", "--offline", name, check=True)
    assert _status(m, name) == "ADMIN_offline"
    refused = m.run("gnt-instance", "startup", name)
    assert refused.returncode == 1 and "offline" in refused.stderr
    m.run("gnt-instance", "modify", "--online", name, check=True)
    assert _status(m, name) == "ADMIN_down"
    m.run("gnt-instance", "remove", "-f", name, check=True)
    assert not os.path.exists(inst_dir)


def test_verify_checks_instances(cluster):
    m = cluster.master
    name = "verify.example.com"
    _add(m, name, "-t", "diskless", "--no-nics")
    assert m.run("gnt-cluster", "verify").returncode == 0
    state_dir = m.path("/var/run/ganeti/fake-hypervisor")
    os.rename(os.path.join(state_dir, name), os.path.join(state_dir, "ghost.example.com"))
    proc = m.run("gnt-cluster", "verify", "--error-codes")
    assert proc.returncode == 1
    assert re.search(r"ERROR:EINSTANCEDOWN:instance:%s:instance not running on its primary"
                     % re.escape(name), proc.stdout), proc.stdout
    assert re.search(r"ERROR:ENODEORPHANINSTANCE:node:%s:instance ghost.example.com"
                     % re.escape(m.name), proc.stdout), proc.stdout
    os.unlink(os.path.join(state_dir, "ghost.example.com"))
    m.run("gnt-instance", "startup", name, check=True)
    assert m.run("gnt-cluster", "verify").returncode == 0
    m.run("gnt-instance", "remove", "-f", name, check=True)


GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
_NORMALISE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<UUID>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "<TIME>"),
    (re.compile(r"([0-9a-f]{2}:){5}[0-9a-f]{2}"), "<MAC>"),
]


def _normalise(text, names):
    for old, new in names:
        text = text.replace(old, new)
    for pattern, repl in _NORMALISE:
        text = pattern.sub(repl, text)
    return text.splitlines()


def test_info_layout_is_ganetis(cluster):
    """gnt-instance info of a running file instance, line by line as Ganeti 3.0.2
    prints it (golden/gnt-instance-info-file.txt: its output for such an
    instance), after normalising names, UUIDs, times and the MAC."""
    m = cluster.master
    name = "inst2.example.com"
    _add(m, name, "-t", "file", "-s", "1G")
    try:
        ours = m.run("gnt-instance", "info", name, check=True).stdout
    finally:
        m.run("gnt-instance", "remove", "-f", name, check=True)
    with open(os.path.join(GOLDEN, "gnt-instance-info-file.txt")) as fd:
        golden = fd.read()
    # the virtual node's root prefixes the real path of the disk file
    assert _normalise(ours, [(m.root, ""), (name, "inst2"),
                             (m.name, "node1.example.com")]) == \
        _normalise(golden, [])
