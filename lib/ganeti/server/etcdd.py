"""ganeti-etcd: runs this node's etcd member under Ganeti's daemon rules.

etcd itself is Debian's /usr/bin/etcd. This daemon gives it what the other
daemons have: a pid file, daemon-util/init-script control, a log file in
/var/log/ganeti, readiness (the parent returns once etcd listens), and a clean
stop. It starts etcd from the member file (ganeti.etcd.member), after making
sure this node's etcd certificate fits (a new cluster certificate or a changed
address gets a new one), and ends when etcd ends, so the watcher can restart it.
"""

import logging
import os
import signal
import socket
import sys
import time

from ganeti import constants, daemon, errors, pathutils
from ganeti.etcd import certs, member
from ganeti.utils import io, process

USAGE = "%prog [-f] [-d]"
# etcd's own PID, so a member left behind by a killed ganeti-etcd is found
SERVER_PID_FILE = pathutils.RUN_DIR + "/ganeti-etcd-server.pid"
LISTEN_TIMEOUT = 60.0     # etcd opens its client port once its data is loaded
STOP_TIMEOUT = 20.0


def prepare(options):
    """Check that this node is an etcd member and that etcd can start."""
    if not os.path.exists(pathutils.NODED_CERT_FILE):
        raise errors.GenericError(
            "Cluster certificate %s not found: this node is not part of a cluster"
            % pathutils.NODED_CERT_FILE)
    spec = member.read_spec()
    if spec is None:
        raise errors.GenericError(
            "This node is not an etcd member (no %s); etcd runs on master candidates"
            % pathutils.ETCD_MEMBER_FILE)
    if not os.access(member.ETCD_BINARY, os.X_OK):
        raise errors.GenericError("%s not found: install Debian's etcd-server package"
                                  % member.ETCD_BINARY)
    spec["tuning"] = member.tuning_args()      # refused before anything starts
    certs.ensure_node_cert(spec["name"], [spec["ip"]])
    io.ensure_dirs([(pathutils.ETCD_DIR, 0o700), (pathutils.RUN_DIR, 0o775)])
    _stop_leftover()
    return spec


def _stop_leftover() -> None:
    """Stop an etcd whose ganeti-etcd died (it would hold the ports)."""
    pid = process.read_pid_file(SERVER_PID_FILE)
    if not pid or not process.is_process_alive(pid):
        return
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fd:
            argv = fd.read().split(b"\0")
    except OSError:
        return
    if argv[0] != member.ETCD_BINARY.encode() or \
            pathutils.ETCD_DIR.encode() not in argv:
        return
    logging.warning("Stopping etcd (pid %s) left behind by an earlier ganeti-etcd", pid)
    os.kill(pid, signal.SIGTERM)
    end = time.time() + STOP_TIMEOUT
    while process.is_process_alive(pid):
        if time.time() > end:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)


def _listening(ip: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((ip, port)) == 0


def _stop(proc) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except Exception:  # subprocess.TimeoutExpired: etcd did not stop in time
        logging.warning("etcd did not stop in %ss; killing it", STOP_TIMEOUT)
        proc.kill()
        proc.wait()


def execute(options, ready, stop_event):
    spec = options.prepared
    argv = member.etcd_argv(spec) + spec["tuning"]
    logging.info("Starting etcd: %s", " ".join(argv))
    proc = process.spawn(argv, pathutils.daemon_log_file(constants.ETCD))
    try:
        io.write_file(SERVER_PID_FILE, "%d\n" % proc.pid)
        end = time.time() + LISTEN_TIMEOUT
        while not _listening(spec["ip"], constants.ETCD_CLIENT_PORT):
            if proc.poll() is not None:
                raise errors.GenericError("etcd exited with code %s while starting; see %s"
                                          % (proc.returncode,
                                             pathutils.daemon_log_file(constants.ETCD)))
            if time.time() > end or stop_event.is_set():
                raise errors.GenericError("etcd did not listen on %s within %ss"
                                          % (member.client_url(spec["ip"]),
                                             LISTEN_TIMEOUT))
            time.sleep(0.05)
        logging.info("etcd (pid %s) listens on %s", proc.pid, member.client_url(spec["ip"]))
        ready()
        while not stop_event.wait(0.5):
            if proc.poll() is not None:
                raise errors.GenericError("etcd exited with code %s" % proc.returncode)
    finally:
        _stop(proc)
        io.remove_file(SERVER_PID_FILE)
        logging.info("etcd stopped")


def main():
    parser = daemon.build_option_parser(constants.ETCD, USAGE)
    options, args = parser.parse_args()
    if args:
        parser.error("no arguments expected")
    daemon.run_daemon(constants.ETCD, options, prepare, execute)


if __name__ == "__main__":
    sys.exit(main())
