"""OS parameters through gnt-instance on a one-node cluster: public, private and
secret values reach the OS scripts; secrets are nowhere on disk nor in any query;
the OS's verify script decides, with Ganeti's error text; the create/modify flags."""

import json
import os
import re

from osfixture import recos  # noqa: F401 (fixture)

SECRET = "Secret-Value-9f3a"
SECRET2 = "Secret-Again-77c1"
PRIVATE = "Private-Value-51d0"


def _add(m, osdef, name, *extra, check=True):
    # with a disk: Ganeti installs no OS on a diskless instance (no script runs)
    return m.run("gnt-instance", "add", "-n", m.name, "-o", osdef.name, "-t", "file", "-s", "1G",
                 "--no-name-check", "--no-ip-check", "--no-start",
                 *extra, name, check=check)


def _instances(m):
    out = m.run("gnt-instance", "list", "--no-headers", "-o", "name", check=True).stdout
    return out.split()


def _files_holding(root, needle):
    """Files below ``root`` whose bytes contain ``needle``."""
    found = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as fd:
                    if needle.encode() in fd.read():
                        found.append(path)
            except OSError:
                pass
    return found


def _all_job_info(m):
    ids = m.run("gnt-job", "list", "--no-headers", "-o", "id", check=True).stdout.split()
    return m.run("gnt-job", "info", *ids, check=True).stdout


def test_secret_reaches_the_script_only(cluster, recos):
    m = cluster.master
    name = "osp1.example.com"
    _add(m, recos, name, "-O", "flavour=good", "--os-parameters-private",
         "token=" + PRIVATE, "--os-parameters-secret", "password=" + SECRET)
    env = recos.env(name)
    assert env["OSP_PASSWORD"] == SECRET
    assert env["OSP_TOKEN"] == PRIVATE
    assert env["OSP_FLAVOUR"] == "good"
    # nowhere in the cluster's files: job files, config, ssconf, logs
    assert _files_holding(cluster.base, SECRET) == []
    info = _all_job_info(m)
    assert SECRET not in info and PRIVATE not in info
    # the opcode's input fields, in gnt-job info's YAML layout
    assert re.search(r"(?m)^( +)osparams_secret: \n\1  password: <redacted>$", info), info
    assert re.search(r"(?m)^( +)osparams_private: \n\1  token: <redacted>$", info), info
    # the private value is kept in the configuration, for the next reinstall
    with open(m.path("/var/lib/ganeti/config.data")) as fd:
        inst = json.load(fd)["instances"][name]
    assert inst["osparams_private"] == {"token": PRIVATE}
    assert "password" not in json.dumps(inst)
    shown = m.run("gnt-instance", "info", name, check=True).stdout
    assert PRIVATE not in shown and SECRET not in shown

    # reinstall: secrets must be given again; the stored private value is reused
    m.run("gnt-instance", "reinstall", "-f", "--os-parameters-secret",
          "password=" + SECRET2, name, check=True)
    env = recos.env(name)
    assert env["OSP_PASSWORD"] == SECRET2 and env["OSP_TOKEN"] == PRIVATE
    assert env["INSTANCE_REINSTALL"] == "1"
    assert _files_holding(cluster.base, SECRET2) == []
    m.run("gnt-instance", "reinstall", "-f", name, check=True)
    assert "OSP_PASSWORD" not in recos.env(name)

    out = m.run("gnt-instance", "modify", "--os-parameters-private", "token=other", name,
                check=True).stdout
    assert "os_private/token -> <redacted>" in out and "other" not in out
    m.run("gnt-instance", "remove", "-f", name, check=True)


def test_verify_script_and_parameter_list_decide(cluster, recos):
    m = cluster.master
    name = "osp2.example.com"
    proc = _add(m, recos, name, "-O", "flavour=bad", check=False)
    assert proc.returncode == 1
    assert ("OS Parameters validation failed on node %s: OS validation script failed"
            % m.name) in proc.stderr
    assert "flavour 'bad' is not supported" in proc.stderr
    proc = _add(m, recos, name, "-O", "colour=blue", check=False)
    assert proc.returncode == 1
    assert ("The following parameters are not supported by the OS %s: colour"
            % recos.name) in proc.stderr
    # a secret is checked as well
    proc = _add(m, recos, name, "--os-parameters-secret", "flavour=bad", check=False)
    assert proc.returncode == 1 and "flavour 'bad' is not supported" in proc.stderr
    assert name not in _instances(m)

    _add(m, recos, name, "-O", "flavour=good")
    for args in (["modify", "-O", "flavour=bad"], ["reinstall", "-f", "-O", "flavour=bad"]):
        proc = m.run("gnt-instance", *args, name)
        assert proc.returncode == 1, proc.stdout
        assert "OS Parameters validation failed" in proc.stderr
    with open(m.path("/var/lib/ganeti/config.data")) as fd:
        assert json.load(fd)["instances"][name]["osparams"] == {"flavour": "good"}
    m.run("gnt-instance", "remove", "-f", name, check=True)


def test_create_and_modify_flags(cluster, recos):
    m = cluster.master
    proc = _add(m, recos, "osp3.example.com", "-g", "nosuchgroup", check=False)
    assert proc.returncode == 1 and "Node group 'nosuchgroup' not found" in proc.stderr
    proc = _add(m, recos, "osp3.example.com", "--opportunistic-locking", check=False)
    assert proc.returncode == 1
    assert "only available in combination with an instance allocator" in proc.stderr
    assert "osp3.example.com" not in _instances(m)

    _add(m, recos, "osp3.example.com", "-g", "default")
    m.run("gnt-instance", "add", "-n", m.name, "-o", recos.name, "-t", "diskless",
          "--net", "0:ip=192.0.2.33", "--no-name-check", "--no-ip-check", "--no-start",
          "osp4.example.com", check=True)
    proc = m.run("gnt-instance", "modify", "--net", "add:ip=192.0.2.33",
                 "osp3.example.com")
    assert proc.returncode == 1
    assert "192.0.2.33 of NIC 1 is already in use by instance osp4.example.com" in \
        proc.stderr
    m.run("gnt-instance", "modify", "--no-conflicts-check", "--net", "add:ip=192.0.2.33",
          "osp3.example.com", check=True)
    proc = m.run("gnt-instance", "modify", "--hotplug", "-O", "flavour=x",
                 "osp3.example.com")
    assert proc.returncode == 1
    assert "Hotplug is not possible: Hotplug is not supported by the fake hypervisor" \
        in proc.stderr
    out = m.run("gnt-instance", "modify", "--hotplug-if-possible", "-O", "flavour=x",
                "osp3.example.com", check=True).stdout
    assert "Modification will take place without hotplugging." in out
    for name in ("osp3.example.com", "osp4.example.com"):
        m.run("gnt-instance", "remove", "-f", name, check=True)
