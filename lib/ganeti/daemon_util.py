"""Starting, stopping and checking the daemons of this node.

Used by bootstrap (cluster init/destroy), master failover, the watcher and the
``daemon-util`` tool behind the init script, so there is one way to do it.
A daemon detaches by itself and returns only once it is ready; its pid file
(pathutils.daemon_pid_file) is the record of the running process.
"""

import os
import signal
import sys
import time

from ganeti import constants, errors, pathutils
from ganeti.utils import net, process

MASTER_DAEMONS = [constants.MASTERD, constants.RAPI]
NODE_DAEMONS = [constants.NODED]
# etcd only on nodes with a member file (master candidates); it starts first
# and stops last, since masterd works on the store etcd holds
ETCD_DAEMONS = [constants.ETCD]
ALL_DAEMONS = ETCD_DAEMONS + NODE_DAEMONS + MASTER_DAEMONS
STOP_TIMEOUT = 30.0


def daemon_pid(name):
    """PID of the running daemon ``name``, or 0 if it is not running."""
    pid = process.read_pid_file(pathutils.daemon_pid_file(name))
    if not pid or not process.is_process_alive(pid):
        return 0
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fd:
            cmdline = fd.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return 0
    return pid if name in cmdline else 0


def start_daemon(name, args=()):
    """Start ``name`` unless it runs already; raises CommandError on failure."""
    if daemon_pid(name):
        return
    path = os.path.join(pathutils.DAEMONS_DIR, name)
    result = process.run_cmd([path] + list(args), timeout=120)
    if result.failed:
        raise errors.CommandError("Could not start %s: %s" % (name, result.describe()))


def stop_daemon(name, timeout=STOP_TIMEOUT):
    """Stop ``name`` (SIGTERM, then SIGKILL after ``timeout``); True if it ran."""
    pid = daemon_pid(name)
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    end = time.time() + timeout
    while time.time() < end:
        if not process.is_process_alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def start_master_daemons(masterd_args=()):
    """Start the master role's daemons: masterd (with ``masterd_args`` after
    MASTERD_ARGS), then the remote API, which asks masterd."""
    start_daemon(constants.MASTERD, extra_args(constants.MASTERD) + list(masterd_args))
    start_daemon(constants.RAPI, extra_args(constants.RAPI))


def stop_master_daemons():
    """Stop the master role's daemons, the remote API first."""
    for name in reversed(MASTER_DAEMONS):
        stop_daemon(name)


def is_master():
    """Whether ssconf names this node as the master."""
    try:
        with open(pathutils.ssconf_file(constants.SS_MASTER_NODE)) as fd:
            return fd.read().strip() == net.get_hostname()
    except OSError:
        return False


def daemons_for_this_node():
    from ganeti.etcd import member
    return ((ETCD_DAEMONS if member.is_member() else []) + NODE_DAEMONS
            + (MASTER_DAEMONS if is_master() else []))


def start_all():
    for name in daemons_for_this_node():
        start_daemon(name, extra_args(name))


def stop_all():
    for name in reversed(ALL_DAEMONS):
        stop_daemon(name)


def extra_args(name):
    """Per-daemon arguments, e.g. NODED_ARGS="-b 127.0.1.1" in /etc/default/ganeti."""
    return pathutils.default_setting(name.replace("ganeti-", "").upper() + "_ARGS").split()


def check_config():
    """Whether this node belongs to a cluster (has the cluster certificate)."""
    return os.path.exists(pathutils.NODED_CERT_FILE)


# LSB exit codes of an init script's "status" action
LSB_RUNNING = 0
LSB_DEAD_WITH_PID_FILE = 1
LSB_NOT_RUNNING = 3
LSB_UNKNOWN = 4


def daemon_status(name: str) -> tuple[int, str]:
    """(LSB status code, "NAME is running" / "NAME is not running") of a daemon."""
    if daemon_pid(name):
        return LSB_RUNNING, "%s is running" % name
    if os.path.exists(pathutils.daemon_pid_file(name)):
        # stale pid file: LSB's "program is dead and the pid file exists"
        return LSB_DEAD_WITH_PID_FILE, "%s is not running" % name
    return LSB_NOT_RUNNING, "%s is not running" % name


def status(names: list) -> int:
    """Print one line per daemon; the code of the first one not running (LSB)."""
    code = LSB_RUNNING
    for name in names:
        ret, line = daemon_status(name)
        sys.stdout.write(line + "\n")
        if code == LSB_RUNNING:
            code = ret
    return code


def main(argv=None):
    """daemon-util start|stop|check|restart DAEMON | status [DAEMON...] | start-all | ..."""
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = ("Usage: daemon-util {start|stop|check|restart} DAEMON\n"
             "       daemon-util status [DAEMON...]\n"
             "       daemon-util {start-all|stop-all|check-all|check-config|is-master|"
             "list-start-daemons}\n")
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(usage)
        return 0 if argv else 1
    cmd, rest = argv[0], argv[1:]
    known = ALL_DAEMONS
    try:
        if cmd in ("start", "stop", "check", "restart"):
            if len(rest) < 1 or rest[0] not in known:
                sys.stderr.write("Unknown daemon %r; known: %s\n" % (
                    rest[0] if rest else "", ", ".join(known)))
                return 1
            name, args = rest[0], rest[1:] or extra_args(rest[0])
            if cmd in ("stop", "restart"):
                stop_daemon(name)
            if cmd in ("start", "restart"):
                start_daemon(name, args)
            if cmd == "check":
                return 0 if daemon_pid(name) else 1
            return 0
        if cmd == "status":
            unknown = [n for n in rest if n not in known]
            if unknown:
                sys.stderr.write("Unknown daemon %r; known: %s\n" % (
                    unknown[0], ", ".join(known)))
                return LSB_UNKNOWN
            return status(rest or daemons_for_this_node())
        if cmd == "list-start-daemons":
            sys.stdout.write("".join(n + "\n" for n in daemons_for_this_node()))
            return 0
        if cmd == "start-all":
            start_all()
            return 0
        if cmd == "stop-all":
            stop_all()
            return 0
        if cmd == "check-all":
            missing = [n for n in daemons_for_this_node() if not daemon_pid(n)]
            for name in missing:
                sys.stderr.write("%s is not running\n" % name)
            return 1 if missing else 0
        if cmd == "check-config":
            return 0 if check_config() else 1
        if cmd == "is-master":
            return 0 if is_master() else 1
    except errors.GenericError as err:
        sys.stderr.write("daemon-util: %s\n" % err)
        return 1
    sys.stderr.write(usage)
    return 1
