"""ganeti-cleaner: old and expired files go, new ones stay."""

import datetime
import os
import subprocess
import sys
import time

from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ganeti import cleaner

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
HOST = "node1.example.com"
DAY = 86400
UUID = "0f6fa6ab-3ba1-4f2b-9a3e-0123456789ab"


def _cert_pem(not_before, not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "cleaner-test")])
    cert = (cx509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(cx509.random_serial_number())
            .not_valid_before(datetime.datetime.utcfromtimestamp(not_before))
            .not_valid_after(datetime.datetime.utcfromtimestamp(not_after))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write(path, data=b"x", age_days=0.0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fd:
        fd.write(data)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def _crypto_pair(crypto_dir, name, not_before, not_after):
    cert, key = _cert_pem(not_before, not_after)
    _write(os.path.join(crypto_dir, name, "cert"), cert)
    _write(os.path.join(crypto_dir, name, "key"), key)
    return os.path.join(crypto_dir, name)


def test_expired_certificates_go_valid_ones_stay(tmp_path):
    crypto = str(tmp_path / "crypto")
    now = time.time()
    old = _crypto_pair(crypto, "x509-old", now - 10 * DAY, now - DAY)
    new = _crypto_pair(crypto, "x509-new", now - DAY, now + 10 * DAY)
    broken = os.path.dirname(_write(os.path.join(crypto, "x509-bad", "cert"), b"junk"))
    lines = []
    assert cleaner.clean_crypto_dir(crypto, now, lines.append) == 2
    assert not os.path.exists(old)
    assert sorted(os.listdir(new)) == ["cert", "key"]
    # a certificate that cannot be read is not known to be expired: kept
    assert os.listdir(broken) == ["cert"]
    assert "removed '%s/cert'" % old in lines and "removed directory '%s'" % old in lines


def test_expired_certificate_directory_with_other_files_stays(tmp_path):
    crypto = str(tmp_path / "crypto")
    now = time.time()
    pair = _crypto_pair(crypto, "x509-old", now - 10 * DAY, now - DAY)
    _write(os.path.join(pair, "other"))
    cleaner.clean_crypto_dir(crypto, now, lambda _: None)
    assert os.listdir(pair) == ["other"]


def test_missing_crypto_dir_is_fine(tmp_path):
    assert cleaner.clean_crypto_dir(str(tmp_path / "none"), time.time(), print) == 0


def test_old_watcher_files_go(tmp_path):
    data = str(tmp_path)
    now = time.time()
    old_data = _write(os.path.join(data, "watcher.%s.data" % UUID), age_days=23)
    old_status = _write(os.path.join(data, "watcher.%s.instance-status" % UUID),
                        age_days=23)
    new_data = _write(os.path.join(data, "watcher.%s.data" % UUID.replace("0f", "1f")),
                      age_days=1)
    # 21 days and some hours is not "more than 21 days" in whole days (find -mtime +21)
    edge = _write(os.path.join(data, "watcher.%s.data" % UUID.replace("0f", "2f")),
                  age_days=21.5)
    pause = _write(os.path.join(data, "watcher.pause"), age_days=40)
    other = _write(os.path.join(data, "config.data"), age_days=40)
    assert cleaner.clean_watcher_files(data, now, lambda _: None) == 2
    assert not os.path.exists(old_data) and not os.path.exists(old_status)
    for kept in (new_data, edge, pause, other):
        assert os.path.exists(kept)


def test_old_archived_jobs_go(tmp_path):
    archive = str(tmp_path / "archive")
    now = time.time()
    old = _write(os.path.join(archive, "0", "job-17"), age_days=30)
    new = _write(os.path.join(archive, "0", "job-9999"), age_days=3)
    top = _write(os.path.join(archive, "job-1"), age_days=30)
    assert cleaner.clean_job_archive(archive, now, lambda _: None) == 1
    assert not os.path.exists(old)
    assert os.path.exists(new) and os.path.exists(top)


def test_rotate_logs_keeps_the_newest(tmp_path):
    for day in range(1, 8):
        _write(str(tmp_path / ("cleaner-2026-12-%02dT01_45.%d.log" % (day, day))))
    cleaner.rotate_logs(str(tmp_path), keep=3)
    assert sorted(os.listdir(tmp_path)) == [
        "cleaner-2026-12-05T01_45.5.log", "cleaner-2026-12-06T01_45.6.log",
        "cleaner-2026-12-07T01_45.7.log"]


# ---- the program, on a node's root directory ---------------------------------------

def _run(root, *args):
    env = dict(os.environ, GANETI_ROOTDIR=str(root), GANETI_HOSTNAME=HOST,
               PYTHONPATH=os.path.join(SRC, "lib"))
    return subprocess.run([PYTHON, os.path.join(SRC, "daemons", "ganeti-cleaner")]
                          + list(args), env=env, capture_output=True, text=True,
                          timeout=60)


def _node_tree(tmp_path, in_cluster=True):
    root = tmp_path / HOST
    data = str(root) + "/var/lib/ganeti"
    if in_cluster:
        _write(data + "/ssconf_master_node", HOST.encode())
    now = time.time()
    files = {
        "old_job": _write(data + "/queue/archive/0/job-5", age_days=30),
        "new_job": _write(data + "/queue/archive/0/job-6", age_days=1),
        "old_watcher": _write(data + "/watcher.%s.data" % UUID, age_days=30),
        "old_cert": _crypto_pair(str(root) + "/var/run/ganeti/crypto", "x509-a",
                                 now - 9 * DAY, now - 2 * DAY),
    }
    return root, files


def test_node_mode_cleans_node_files_only(tmp_path):
    root, files = _node_tree(tmp_path)
    result = _run(root, "node")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert not os.path.exists(files["old_watcher"])
    assert not os.path.exists(files["old_cert"])
    assert os.path.exists(files["old_job"])
    logs = os.listdir(str(root) + "/var/log/ganeti/cleaner")
    assert len(logs) == 1 and logs[0].startswith("cleaner-")
    with open(str(root) + "/var/log/ganeti/cleaner/" + logs[0]) as fd:
        text = fd.read()
    assert text.startswith("Cleaner started at ")
    assert "removed '%s'\n" % files["old_watcher"] in text


def test_master_mode_cleans_the_job_archive(tmp_path):
    root, files = _node_tree(tmp_path)
    result = _run(root, "master")
    assert result.returncode == 0, result.stderr
    assert not os.path.exists(files["old_job"]) and os.path.exists(files["new_job"])
    assert os.path.exists(files["old_watcher"]) and os.path.exists(files["old_cert"])
    assert os.listdir(str(root) + "/var/log/ganeti/master-cleaner")


def test_outside_a_cluster_nothing_is_removed(tmp_path):
    root, files = _node_tree(tmp_path, in_cluster=False)
    for mode in ("node", "master"):
        assert _run(root, mode).returncode == 0
    assert all(os.path.exists(path) for path in files.values())


def test_bad_usage(tmp_path):
    for args in ([], ["nodes"], ["node", "master"]):
        result = _run(tmp_path / HOST, *args)
        assert result.returncode == 1
        assert result.stderr == "Usage: ganeti-cleaner node|master\n"
    assert not os.path.exists(str(tmp_path / HOST / "var"))
    result = _run(tmp_path / HOST, "--help")
    assert result.returncode == 0 and result.stdout == "Usage: ganeti-cleaner node|master\n"


# ---- the cron file -----------------------------------------------------------------

def _cron_lines(tmp_path):
    """doc/examples/ganeti.cron.in with its paths pointing into ``tmp_path``."""
    with open(os.path.join(SRC, "doc", "examples", "ganeti.cron.in")) as fd:
        text = fd.read()
    text = (text.replace("@SBINDIR@", str(tmp_path / "sbin"))
            .replace("@SYSCONFDIR@", str(tmp_path / "etc"))
            .replace("@LOCALSTATEDIR@", str(tmp_path / "var")))
    return [line for line in text.splitlines()
            if line and not line.startswith("#") and "=" not in line.split()[0]]


def test_cron_runs_the_cleaner_in_both_modes(tmp_path):
    record = tmp_path / "calls"
    _write(str(tmp_path / "sbin" / "ganeti-cleaner"),
           b'#!/bin/sh\necho "$* $GANETI_HOSTNAME" >> ' + str(record).encode() + b"\n")
    os.chmod(str(tmp_path / "sbin" / "ganeti-cleaner"), 0o755)
    _write(str(tmp_path / "etc" / "default" / "ganeti"), b"GANETI_HOSTNAME=node9\n")
    schedule = {}
    for line in _cron_lines(tmp_path):
        fields = line.split(None, 6)
        assert fields[5] == "root", line
        if "ganeti-cleaner" in fields[6]:
            subprocess.run(["/bin/sh", "-c", fields[6]], check=True, timeout=30)
            schedule[" ".join(fields[:5])] = fields[6].rsplit(" ", 1)[-1]
    assert schedule == {"45 1 * * *": "master)", "45 2 * * *": "node)"}
    with open(str(record)) as fd:
        assert fd.read().splitlines() == ["master node9", "node node9"]
