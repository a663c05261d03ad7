"""ganeti-cleaner: remove what the cluster leaves behind over time (run by cron).

Two modes, as Ganeti's cleaner:

``node`` (every node)
    expired certificates (and their keys) of import/export runs in the crypto
    directory (``/var/run/ganeti/crypto/<name>/{cert,key}``), and the watcher's
    state files of node groups (``watcher.<uuid>.data`` / ``.instance-status``)
    not touched for more than 21 days (a group that is gone);
``master``
    archived jobs that ended more than 21 days ago: in the cluster's etcd
    (only on the master node), and archived job files of the time before the
    job queue moved to etcd (``/var/lib/ganeti/queue/archive/*/``).

Nothing is removed on a machine that is not in a cluster (no
``ssconf_master_node``). Each run appends to its own log file in
``/var/log/ganeti/cleaner/`` (``master-cleaner/`` for the master mode), one
line per removed file; only the newest 50 log files are kept.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from collections.abc import Callable

from ganeti import constants, errors, pathutils

# how many days an archived job or a stale watcher file is left alone
REMOVE_AFTER_DAYS = 21
# how many log files of earlier runs to keep (one run a day)
KEEP_LOGS = 50
MODES = ("node", "master")
_WATCHER_PATTERNS = ("watcher.*-*-*-*.data", "watcher.*-*-*-*.instance-status")
USAGE = "Usage: ganeti-cleaner node|master"

Log = Callable[[str], None]


def _older_than(path: str, days: int, now: float) -> bool:
    # find -mtime +N: the age in whole days is more than N
    age_days = int((now - os.lstat(path).st_mtime) // 86400)
    return age_days > days


def _remove(path: str, log: Log) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        log("cannot remove '%s': %s" % (path, err.strerror))
        return False
    log("removed '%s'" % path)
    return True


def in_cluster(data_dir: str) -> bool:
    """Whether this machine belongs to a cluster (it knows its master)."""
    return os.path.exists(os.path.join(data_dir, "ssconf_" + constants.SS_MASTER_NODE))


def cert_expired(path: str, now: float) -> bool:
    """Whether the certificate in ``path`` has expired (unreadable: False, kept)."""
    from ganeti.utils import x509
    try:
        cert = x509.load_cert(path)
    except (errors.X509CertError, OSError):
        return False
    return x509.cert_validity(cert)[1] < now


def clean_crypto_dir(crypto_dir: str, now: float, log: Log) -> int:
    """Remove expired cert/key pairs of ``crypto_dir/<name>/``; the count removed."""
    try:
        names = sorted(os.listdir(crypto_dir))
    except FileNotFoundError:
        return 0
    count = 0
    for name in names:
        subdir = os.path.join(crypto_dir, name)
        if os.path.islink(subdir) or not os.path.isdir(subdir):
            continue
        if not cert_expired(os.path.join(subdir, "cert"), now):
            continue
        for part in ("cert", "key"):
            count += _remove(os.path.join(subdir, part), log)
        try:
            os.rmdir(subdir)
            log("removed directory '%s'" % subdir)
        except OSError:
            pass  # something else lives there: leave the directory
    return count


def clean_watcher_files(data_dir: str, now: float, log: Log,
                        days: int = REMOVE_AFTER_DAYS) -> int:
    """Remove watcher state files of node groups untouched for ``days``."""
    count = 0
    for name in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, name)
        if not any(fnmatch.fnmatchcase(name, pat) for pat in _WATCHER_PATTERNS):
            continue
        if os.path.isfile(path) and not os.path.islink(path) and \
                _older_than(path, days, now):
            count += _remove(path, log)
    return count


def clean_job_archive(archive_dir: str, now: float, log: Log,
                      days: int = REMOVE_AFTER_DAYS) -> int:
    """Remove archived job files (in the archive's subdirectories) older than ``days``."""
    count = 0
    for top, _, files in os.walk(archive_dir):
        if top == archive_dir:
            continue  # files directly in the archive are not job files
        for name in sorted(files):
            path = os.path.join(top, name)
            if not os.path.islink(path) and _older_than(path, days, now):
                count += _remove(path, log)
    return count


def rotate_logs(log_dir: str, keep: int = KEEP_LOGS, log: Log | None = None) -> None:
    """Keep the ``keep`` newest (by name, which starts with the date) log files."""
    files = sorted(n for n in os.listdir(log_dir)
                   if os.path.isfile(os.path.join(log_dir, n)))
    for name in files[:max(0, len(files) - keep)]:
        _remove(os.path.join(log_dir, name), log or (lambda _: None))


def log_dir_for(mode: str) -> str:
    return os.path.join(pathutils.LOG_DIR,
                        "master-cleaner" if mode == "master" else "cleaner")


def run(mode: str, log: Log, now: float | None = None) -> None:
    """One cleaner run in ``mode`` ("node" or "master") with this node's paths."""
    now = time.time() if now is None else now
    if not in_cluster(pathutils.DATA_DIR):
        log("Not part of a cluster, nothing to clean")
        return
    if mode == "node":
        clean_crypto_dir(pathutils.CRYPTO_KEYS_DIR, now, log)
        clean_watcher_files(pathutils.DATA_DIR, now, log)
    else:
        clean_job_archive(pathutils.JOB_QUEUE_ARCHIVE_DIR, now, log)
        if is_master(pathutils.DATA_DIR):
            clean_etcd_job_archive(now, log)


def is_master(data_dir: str) -> bool:
    from ganeti import ssconf
    from ganeti.utils import net
    store = ssconf.SimpleStore(os.path.join(data_dir, "ssconf_"))
    return store.read(constants.SS_MASTER_NODE, default="") == net.get_hostname()


def clean_etcd_job_archive(now: float, log: Log, days: int = REMOVE_AFTER_DAYS) -> int:
    """Remove archived jobs that ended more than ``days`` ago from etcd."""
    from ganeti.etcd import configsync
    from ganeti.jqueue import etcdstore
    from ganeti.utils import net
    try:
        with configsync.node_client(net.get_hostname(), timeout=10.0) as client:
            return etcdstore.remove_archived_before(client, now - days * 86400, log)
    except errors.GenericError as err:
        log("Could not clean the job archive in etcd: %s" % err)
        return 0


def main(argv: list | None = None) -> int:
    """ganeti-cleaner node|master; the output goes to a new log file."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--help"]:
        print(USAGE)
        return constants.EXIT_SUCCESS
    if argv == ["--help-completion"]:
        print("choices=%s 1 1" % ",".join(MODES))
        return constants.EXIT_SUCCESS
    if len(argv) != 1 or argv[0] not in MODES:
        sys.stderr.write(USAGE + "\n")
        return constants.EXIT_FAILURE
    mode = argv[0]
    log_dir = log_dir_for(mode)
    os.makedirs(log_dir, mode=0o750, exist_ok=True)
    log_file = os.path.join(log_dir, "cleaner-%s.%d.log"
                            % (time.strftime("%Y-%m-%dT%H_%M"), os.getpid()))
    with open(log_file, "a", encoding="utf-8") as out:
        def log(line: str) -> None:
            out.write(line + "\n")
            out.flush()
        log("Cleaner started at %s" % time.strftime("%a %b %d %H:%M:%S %Z %Y"))
        rotate_logs(log_dir, log=log)
        run(mode, log)
        log("Cleaner finished at %s" % time.strftime("%a %b %d %H:%M:%S %Z %Y"))
    return constants.EXIT_SUCCESS
