"""gnt-cluster upgrade: switch every node to another installed version.

The versions live side by side ($(libdir)/ganeti/X.Y, $(datadir)/ganeti/X.Y;
INSTALL); the links /etc/ganeti/lib and /etc/ganeti/share name the active one.
The steps are Ganeti's, in its order and words, so an admin's runbook holds:
check the version is installed everywhere, record the intent, drain the queue
and wait for the running jobs, pause the watcher, stop the daemons (master
first), back up the data directory, check the configuration for the target
(cfgupgrade), switch the links and run ensure-dirs on every node (the point of
no return), then start, redistribute, restart, undrain, run the post-upgrade
tool, unpause the watcher and verify. A failure before the switch undoes what
was done, in reverse; after it, every step is tried and the exit code says
whether one failed. --resume finishes an upgrade that was interrupted.

Everything runs over ssh or as local programs, never through the master
daemon once the daemons are stopped; after the switch only the new version's
programs are run (by their path under the active-version link).
"""

import logging
import os
import shlex
import tempfile
import time

from ganeti import cli, constants, errors, pathutils, qlang, ssconf, ssh
from ganeti.utils import io, net, process, text, version

_log = logging.getLogger("gnt-cluster upgrade")


def _say(message, *args):
    """Ganeti's ToStdoutAndLoginfo: a step, on stdout and in the commands log."""
    line = message % args if args else message
    cli.to_stdout(line)
    _log.info(line)


def _setup_log():
    try:
        os.makedirs(pathutils.LOG_DIR, exist_ok=True)
        handler = logging.FileHandler(pathutils.LOG_COMMANDS)
    except OSError:
        return
    handler.setFormatter(logging.Formatter(
        "%(asctime)s: gnt-cluster upgrade pid=%(process)d %(levelname)s %(message)s"))
    _log.addHandler(handler)
    _log.setLevel(logging.INFO)


# ---- commands on the master and on every node ------------------------------------------

def _run_local(argv):
    """Run ``argv`` here; on failure say so on stderr (Ganeti's words). True if it worked."""
    result = process.run_cmd(argv, timeout=None)
    if result.failed:
        cli.to_stderr("Command %s failed: %s; Output %s"
                      % (argv, result.fail_reason, result.output))
        _log.error("%s failed: %s", argv, result.describe())
        return False
    return True


def _on_all_nodes(make_argv):
    """Run the commands ``make_argv(node)`` (argv lists, joined with &&) on every
    online node, the master last: here on the master, over ssh elsewhere, so
    that it works with every daemon stopped. The nodes where it failed."""
    store = ssconf.SimpleStore()
    nodes = store.get_online_nodes()
    master = store.get_master_node()
    if master in nodes:
        nodes.remove(master)
        nodes.append(master)
    addresses = store.get_node_primary_ips()
    failed = []
    for node in nodes:
        argv = ["/bin/sh", "-c", " && ".join(shlex.join(cmd) for cmd in make_argv(node))]
        if node == net.get_hostname():
            result = process.run_cmd(argv, timeout=None)
        else:
            result = ssh.run(node, argv, address=addresses.get(node), timeout=None)
        if result.failed:
            _log.error("on %s: %s", node, result.describe())
            failed.append(node)
    return failed


def _daemon_util_everywhere(action):
    # each node's own active version (its root's link in a virtual cluster)
    return _on_all_nodes(lambda node: [[pathutils.to_node_path(pathutils.DAEMON_UTIL, node),
                                        action]])


def _gnt_cluster(*args):
    """The active version's gnt-cluster (the new one after the switch)."""
    return [os.path.join(pathutils.ACTIVE_SHARE_LINK, "gnt-cluster")] + list(args)


# ---- the intent file --------------------------------------------------------------------

def _read_intent():
    """(version upgraded from, version upgraded to) of the upgrade under way, or
    (None, None)."""
    try:
        content = io.read_file(pathutils.INTENT_TO_UPGRADE)
    except OSError:
        return None, None
    parts = text.split_escaped(content.strip())
    if len(parts) != 3:
        return None, None
    return parts[0], parts[1]


def _write_intent(target):
    io.write_file(pathutils.INTENT_TO_UPGRADE,
                  text.escape_and_join([constants.RELEASE_VERSION, target,
                                        "%d" % os.getpid()]) + "\n", mode=0o600)


def _remove_intent():
    try:
        os.unlink(pathutils.INTENT_TO_UPGRADE)
    except FileNotFoundError:
        pass


# ---- the steps --------------------------------------------------------------------------

def _version_installed(target):
    """Whether ``target``'s directory exists on every online node (else say where not)."""
    path = os.path.join(pathutils.PKGLIBDIR, target)
    bad = _on_all_nodes(lambda node: [["test", "-d", path]])
    if bad:
        cli.to_stderr("Ganeti version %s not installed on nodes %s" % (target, ", ".join(bad)))
        return False
    return True


def _running_jobs():
    qfilter = [qlang.OP_EQUAL, "status", constants.JOB_STATUS_RUNNING]
    return len(cli.get_client().query("job", ["id"], qfilter)["data"])


def _wait_for_running_jobs():
    end = time.time() + constants.UPGRADE_QUEUE_DRAIN_TIMEOUT
    while _running_jobs():
        if time.time() > end:
            return False
        time.sleep(constants.UPGRADE_QUEUE_POLL_INTERVAL)
    return True


def _backup_data_dir():
    """A tar of the data directory (the etcd member's data, certificates, ssconf,
    config.data) in BACKUP_DIR, made while every daemon is stopped."""
    backup = os.path.join(pathutils.BACKUP_DIR, "ganeti%d.tar" % time.time())
    _say("Backing up configuration as %s", backup)
    os.makedirs(pathutils.BACKUP_DIR, exist_ok=True)
    # made under a temporary name with mode 0600 (it holds the cluster's keys),
    # renamed once complete
    fd, tmp_name = tempfile.mkstemp(prefix=os.path.basename(backup) + ".",
                                    dir=pathutils.BACKUP_DIR)
    os.close(fd)
    argv = ["tar", "-cf", tmp_name, "--exclude=queue/archive"]
    if pathutils.EXPORT_DIR.startswith(pathutils.DATA_DIR + "/"):
        argv.append("--exclude=%s" % os.path.relpath(pathutils.EXPORT_DIR,
                                                      pathutils.DATA_DIR))
    argv.append(pathutils.DATA_DIR)
    if not _run_local(argv):
        os.unlink(tmp_name)
        return False
    os.rename(tmp_name, backup)
    return True


def _before_switch(target, undo):
    """Everything up to the configuration change; True if it all worked. What
    undoes each step done is appended to ``undo``."""
    _say("Verifying %s present on all nodes", target)
    if not _version_installed(target):
        return False

    _write_intent(target)
    undo.append(_remove_intent)

    _say("Draining queue")
    cli.get_client().set_queue_drain_flag(True)
    undo.append(lambda: cli.get_client().set_queue_drain_flag(False))
    if not _wait_for_running_jobs():
        cli.to_stderr("Failed to completely empty the queue.")
        return False

    _say("Pausing the watcher for one hour.")
    undo.append(lambda: cli.get_client().set_watcher_pause(None))
    cli.get_client().set_watcher_pause(time.time() + 60 * 60)

    # undone first: the undo steps before it need the master daemon
    undo.append(lambda: _daemon_util_everywhere("start-all"))
    _say("Stopping daemons on master node.")
    if not _run_local([pathutils.DAEMON_UTIL, "stop-all"]):
        return False

    _say("Stopping daemons everywhere.")
    bad = _daemon_util_everywhere("stop-all")
    if bad:
        cli.to_stderr("Failed to stop daemons on %s." % ", ".join(bad))
        return False

    if not _backup_data_dir():
        return False
    return True


def _switch_links(target):
    """Point every node's active-version links at ``target`` and run its
    ensure-dirs; the nodes where that failed."""
    def commands(node):
        lib_link = pathutils.to_node_path(pathutils.ACTIVE_LIB_LINK, node)
        share_link = pathutils.to_node_path(pathutils.ACTIVE_SHARE_LINK, node)
        return [["ln", "-s", "-f", "-T", os.path.join(pathutils.PKGLIBDIR, target), lib_link],
                ["ln", "-s", "-f", "-T", os.path.join(pathutils.SHAREDIR, target),
                 share_link],
                [pathutils.to_node_path(pathutils.ENSURE_DIRS, node)]]
    return _on_all_nodes(commands)


def _switch_version(target, downgrade, undo):
    """Check the configuration for the target and switch; True if it worked.
    What undoes the switch is appended to ``undo``."""
    if downgrade:
        _say("Downgrading configuration")
        if not _run_local([pathutils.CFGUPGRADE, "--downgrade"]):
            return False
        # no version of ours has tasks that must run before going back
        _say("Performing version-specific downgrade tasks.")

    # from here on, pushing through is safer than going back
    _say("Switching to version %s on all nodes", target)
    undo.append(lambda: _switch_links(constants.DIR_VERSION))
    bad = _switch_links(target)
    if bad:
        cli.to_stderr("Failed to switch to Ganeti version %s on nodes %s"
                      % (target, ", ".join(bad)))
        if not downgrade:
            return False

    if not downgrade:
        # the new version's cfgupgrade, through the switched link
        _say("Upgrading configuration")
        if not _run_local([pathutils.CFGUPGRADE]):
            return False
    return True


def _after_switch(old_version):
    """The rest, with the new version's programs; every step is tried."""
    exit_code = constants.EXIT_SUCCESS

    _say("Starting daemons everywhere.")
    bad = _daemon_util_everywhere("start-all")
    if bad:
        cli.to_stderr("Warning: failed to start daemons on %s." % ", ".join(bad))
        exit_code = constants.EXIT_FAILURE

    _say("Redistributing the configuration.")
    if not _run_local(_gnt_cluster("redist-conf", "--yes-do-it")):
        exit_code = constants.EXIT_FAILURE

    _say("Restarting daemons everywhere.")
    bad = _daemon_util_everywhere("stop-all")
    bad += _daemon_util_everywhere("start-all")
    if bad:
        cli.to_stderr("Warning: failed to start daemons on %s."
                      % ", ".join(sorted(set(bad))))
        exit_code = constants.EXIT_FAILURE

    _say("Undraining the queue.")
    if not _run_local(_gnt_cluster("queue", "undrain")):
        exit_code = constants.EXIT_FAILURE

    _remove_intent()

    _say("Running post-upgrade hooks")
    if not _run_local([pathutils.POST_UPGRADE, old_version]):
        exit_code = constants.EXIT_FAILURE

    _say("Unpausing the watcher.")
    if not _run_local(_gnt_cluster("watcher", "continue")):
        exit_code = constants.EXIT_FAILURE

    _say("Verifying cluster.")
    if not _run_local(_gnt_cluster("verify")):
        exit_code = constants.EXIT_FAILURE
    return exit_code


def _undo(steps):
    for step in reversed(steps):
        try:
            step()
        except (errors.GenericError, OSError) as err:
            cli.to_stderr("Undoing a step of the upgrade failed: %s" % err)


def upgrade_cluster(opts, args):
    """gnt-cluster upgrade {--to VERSION | --resume}."""
    if bool(opts.resume) == (opts.to is not None):
        cli.to_stderr("Precisely one of the options --to and --resume has to be given")
        return constants.EXIT_FAILURE

    if not opts.resume:
        old_version, target = _read_intent()
        if target is not None:
            if target == opts.to:
                cli.to_stderr("An upgrade is already in progress. Target version matches,"
                              " resuming.")
                opts.resume, opts.to = True, None
            else:
                cli.to_stderr("An upgrade from %s to %s is in progress; use --resume to"
                              " finish it first" % (old_version, target))
                return constants.EXIT_FAILURE

    not_master = ssconf.not_master_error()
    if not_master is not None:
        raise not_master
    _setup_log()
    old_version = constants.RELEASE_VERSION

    if opts.resume:
        old_version, target = _read_intent()
        if target is None:
            return constants.EXIT_SUCCESS        # nothing under way
        wanted = version.parse_version(target)
        if wanted is None:
            return constants.EXIT_FAILURE
        # this program is the active version's: if that is the target, the
        # links were switched (the point of no return) and only the rest is left
        switched = constants.DIR_VERSION == version.dir_version(wanted)
        if not switched:
            # back to the start; some daemons may be stopped already
            _daemon_util_everywhere("start-all")
    else:
        target = opts.to
        switched = False
        wanted = version.parse_version(target)
        if wanted is None:
            cli.to_stderr("Could not parse version string %s" % target)
            return constants.EXIT_FAILURE

    reason = version.upgrade_range(wanted)
    if reason is not None:
        cli.to_stderr("Cannot upgrade to %s: %s" % (target, reason))
        return constants.EXIT_FAILURE

    undo = []
    try:
        ok = switched or _before_switch(target, undo)
        ok = ok and _switch_version(target, version.should_cfgdowngrade(wanted), undo)
    except BaseException:
        # an error (the master daemon did not answer, say) or an interrupt:
        # what was done is undone before the error is reported
        _undo(undo)
        raise
    if not ok:
        _undo(undo)
        return constants.EXIT_FAILURE
    return _after_switch(old_version)


COMMAND = (upgrade_cluster, cli.ARGS_NONE, [
    cli.cli_option("--to", dest="to", default=None, help="The Ganeti version to upgrade to"),
    cli.cli_option("--resume", dest="resume", default=False, action="store_true",
                   help="Resume any pending Ganeti upgrades")],
    "", "Upgrade (or downgrade) to a new Ganeti version")
