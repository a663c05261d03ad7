"""Leaving the cluster on the node, and the node's ssh key procedures.

The leave procedure runs on a virtual node's root (GANETI_ROOTDIR), in a
subprocess, as the node daemon would run it: every path comes from pathutils.
"""

import json
import os
import subprocess
import sys

import pytest

from ganeti import backend, errors, nodejoin, sshkeys

NODE = "node2.example.com"


def _keygen(path, comment, key_type="ed25519"):
    subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", comment,
                    "-f", str(path)], check=True)
    return open(str(path) + ".pub").read().strip()


def _write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _node_tree(tmp_path):
    """A node root as a joined node has it; returns (root, facts)."""
    root = tmp_path / NODE
    data = root / "var/lib/ganeti"
    ssh = root / "root/.ssh"
    ssh.mkdir(parents=True)
    own = _keygen(ssh / "id_rsa", sshkeys.node_key_comment(NODE), "rsa")
    admin = _keygen(ssh / "id_ed25519", "admin@laptop")
    other = _keygen(tmp_path / "node3_key", sshkeys.node_key_comment("node3.example.com"))
    unrelated = _keygen(tmp_path / "backup_key", "backup@elsewhere")
    _write(ssh / "authorized_keys", "\n".join([admin, other, own, unrelated]) + "\n")
    _write(data / "ganeti_pub_keys", "node3.example.com %s\n%s %s\n" % (other, NODE, own))
    for name in ("config.data", "server.pem", "rapi.pem", "hmac.key",
                 "cluster-domain-secret", "known_hosts", "spice.pem", "spice-ca.pem",
                 "rapi/users", "ssconf_master_node", "ssconf_node_list", "watcher.pause",
                 "queue/job-7", "queue/archive/0/job-1", "export/inst1/disk0",
                 "keep-me"):
        _write(data / name)
    _write(root / "var/run/ganeti/crypto/x509-1/key")
    return root, {"own": own, "admin": admin, "other": other, "unrelated": unrelated}


def _run_on_node(root, code):
    env = dict(os.environ, GANETI_ROOTDIR=str(root), GANETI_HOSTNAME=NODE)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)


_LEAVE = """
import json
from ganeti import backend, errors
try:
    backend.node_leave_cluster(%s)
except errors.QuitGanetiException as err:
    print(json.dumps(list(err.args)))
"""


def test_leaving_removes_cluster_files_keys_and_stops_daemons(tmp_path):
    root, keys = _node_tree(tmp_path)
    # a master daemon left running (its name on the command line, its pid file)
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             "ganeti-masterd"])
    try:
        _write(root / "var/run/ganeti/ganeti-masterd.pid", "%d\n" % fake.pid)
        proc = _run_on_node(root, _LEAVE % "True")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == [True, "Shutdown scheduled"]
        assert fake.wait(timeout=10) is not None
    finally:
        fake.kill()
        fake.wait()
    data = root / "var/lib/ganeti"
    # nothing of the cluster is left; the admin's files (exports, others) stay
    assert sorted(os.listdir(str(data))) == ["export", "keep-me", "queue", "rapi"]
    assert os.listdir(str(data / "queue")) == [] and os.listdir(str(data / "rapi")) == []
    assert os.listdir(str(root / "var/run/ganeti/crypto")) == []
    ssh = root / "root/.ssh"
    assert sorted(os.listdir(str(ssh))) == ["authorized_keys", "id_ed25519",
                                            "id_ed25519.pub"]
    # the cluster's keys are no longer authorized; keys it did not put there stay
    auth = (ssh / "authorized_keys").read_text()
    assert keys["own"] not in auth and keys["other"] not in auth
    assert keys["admin"] in auth and keys["unrelated"] in auth


def test_leaving_without_ssh_setup_leaves_ssh_alone(tmp_path):
    root, keys = _node_tree(tmp_path)
    before = (root / "root/.ssh/authorized_keys").read_text()
    proc = _run_on_node(root, _LEAVE % "False")
    assert json.loads(proc.stdout)[0] is True, proc.stderr
    assert (root / "root/.ssh/authorized_keys").read_text() == before
    assert (root / "root/.ssh/id_rsa").exists()
    assert not (root / "var/lib/ganeti/server.pem").exists()
    assert not (root / "var/lib/ganeti/ganeti_pub_keys").exists()


# ---- node_ssh_keys_update ---------------------------------------------------------------

def _dirs(tmp_path):
    data, ssh = tmp_path / "data", tmp_path / "ssh"
    data.mkdir()
    ssh.mkdir()
    return str(data), str(ssh)


def test_ssh_keys_update_adds_removes_and_forgets_hosts(tmp_path):
    data, ssh = _dirs(tmp_path)
    k2 = _keygen(tmp_path / "k2", sshkeys.node_key_comment(NODE))
    k3 = _keygen(tmp_path / "k3", sshkeys.node_key_comment("node3.example.com"))
    admin = _keygen(tmp_path / "admin", "admin")
    auth = os.path.join(ssh, "authorized_keys")
    with open(auth, "w") as fd:
        fd.write('%s\nfrom="10.0.0.1" %s\n' % (admin, k2))
    with open(os.path.join(data, "known_hosts"), "w") as fd:
        fd.write("node1.example.com ssh-ed25519 AAAA1\n%s,10.0.0.2 ssh-ed25519 AAAA2\n"
                 % NODE)
    pub = "node3.example.com %s\n" % k3
    assert backend.PROCEDURES["node_ssh_keys_update"](
        [k3, k3], [k2], [NODE], pub, data_dir=data, ssh_dir=ssh) is True
    # the key goes even with options in front of it; k3 once; the admin's stays
    assert open(auth).read() == "%s\n%s\n" % (admin, k3)
    assert os.stat(auth).st_mode & 0o777 == 0o600
    assert open(os.path.join(data, "known_hosts")).read() == \
        "node1.example.com ssh-ed25519 AAAA1\n"
    assert sshkeys.read_pub_keys(os.path.join(data, "ganeti_pub_keys")) == \
        {"node3.example.com": [k3]}


@pytest.mark.parametrize("add,remove,pub_keys", [
    (['command="/bin/sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3 x'], [], None),
    (["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3 a\nssh-rsa AAAAB3 b"], [], None),
    (["not a key"], [], None),
    ([], [], "node3.example.com not-a-key\n"),
    ([], [], "bad;name ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB3\n"),
    ("ssh-ed25519 AAAA", [], None),
])
def test_ssh_keys_update_refuses_bad_input_and_changes_nothing(tmp_path, add, remove,
                                                               pub_keys):
    data, ssh = _dirs(tmp_path)
    auth = os.path.join(ssh, "authorized_keys")
    admin = _keygen(tmp_path / "admin", "admin")
    with open(auth, "w") as fd:
        fd.write(admin + "\n")
    with pytest.raises(backend.RpcFail):
        backend.PROCEDURES["node_ssh_keys_update"](add, remove, [NODE], pub_keys,
                                                   data_dir=data, ssh_dir=ssh)
    assert open(auth).read() == admin + "\n"
    assert os.listdir(data) == []


# ---- the key pair and the join ----------------------------------------------------------

def test_generated_key_replaces_the_clusters_and_keeps_the_admins(tmp_path):
    ssh = str(tmp_path / "ssh")
    os.makedirs(ssh)
    admin = _keygen(os.path.join(ssh, "id_ed25519"), "admin")
    first = sshkeys.generate_node_key(NODE, "ed25519", directory=ssh)
    assert first.endswith(" " + sshkeys.node_key_comment(NODE))
    backups = [n for n in os.listdir(ssh) if ".bak-" in n]
    assert sorted(backups)[0].startswith("id_ed25519.bak-")
    assert admin in [open(os.path.join(ssh, n)).read().strip() for n in backups]
    # a second one (a re-add) replaces the cluster's key without another backup
    second = sshkeys.generate_node_key(NODE, "ed25519", directory=ssh)
    assert second != first and len([n for n in os.listdir(ssh) if ".bak-" in n]) == 2
    assert sshkeys.own_cluster_keys(ssh) == [(os.path.join(ssh, "id_ed25519"), second)]
    with pytest.raises(errors.GenericError):
        sshkeys.generate_node_key(NODE, "dsa", directory=ssh)


def test_join_request_never_carries_a_private_key():
    request = nodejoin.ssh_key_request({"ssh_key_type": "rsa", "ssh_key_bits": 2048,
                                        "modify_ssh_setup": True})
    assert request == {"type": "rsa", "bits": 2048}
    assert nodejoin.ssh_key_request({"ssh_key_type": "rsa",
                                     "modify_ssh_setup": False}) is None
    with pytest.raises(errors.OpPrereqError):
        nodejoin.ssh_key_request({"ssh_key_type": "dsa", "modify_ssh_setup": True})
    with pytest.raises(errors.GenericError) as err:
        nodejoin._make_ssh_key({"name": "id_ed25519", "private": "-----BEGIN"})
    assert "private keys are never sent" in str(err.value)


def test_record_public_key_keeps_older_keys_until_replaced(tmp_path):
    path = str(tmp_path / "ganeti_pub_keys")
    k1 = _keygen(tmp_path / "k1", sshkeys.node_key_comment(NODE))
    k2 = _keygen(tmp_path / "k2", sshkeys.node_key_comment(NODE))
    sshkeys.record_node_key(NODE, k1, path)
    sshkeys.record_node_key(NODE, k2, path)
    assert sshkeys.read_pub_keys(path) == {NODE: [k1, k2]}
    assert os.stat(path).st_mode & 0o777 == 0o600
    with pytest.raises(ValueError):
        sshkeys.record_node_key(NODE, "ssh-rsa !!!", path)


def test_join_output_with_a_bad_key_is_refused(tmp_path, monkeypatch):
    path = str(tmp_path / "ganeti_pub_keys")
    monkeypatch.setattr(sshkeys, "pub_keys_file", lambda data_dir=None: path)
    assert nodejoin.record_public_key(NODE, "node joined\n") is False
    with pytest.raises(errors.OpExecError) as err:
        nodejoin.record_public_key(NODE, "node joined\nssh-public-key: ssh-rsa x\ny\n")
    assert "invalid ssh public key" in str(err.value)
    assert not os.path.exists(path)


def test_ssh_keys_update_drops_keys_that_left_the_list_meanwhile(tmp_path):
    # node3 was offline while node2 was removed: the next update catches up
    data, ssh = _dirs(tmp_path)
    k2 = _keygen(tmp_path / "k2", sshkeys.node_key_comment(NODE))
    k3 = _keygen(tmp_path / "k3", sshkeys.node_key_comment("node3.example.com"))
    auth = os.path.join(ssh, "authorized_keys")
    with open(auth, "w") as fd:
        fd.write("%s\n%s\n" % (k2, k3))
    sshkeys.write_pub_keys("%s %s\nnode3.example.com %s\n" % (NODE, k2, k3),
                           os.path.join(data, "ganeti_pub_keys"))
    backend.PROCEDURES["node_ssh_keys_update"](
        [k3], [], [], "node3.example.com %s\n" % k3, data_dir=data, ssh_dir=ssh)
    assert open(auth).read() == k3 + "\n"


def test_prepare_node_join_refuses_unknown_arguments(capsys):
    assert nodejoin.main(["--force"]) == 1
    assert "unknown arguments: --force" in capsys.readouterr().err
