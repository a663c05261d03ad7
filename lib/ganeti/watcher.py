"""ganeti-watcher: one periodic pass (from cron) that keeps a node healthy.

On every node it restarts dead Ganeti daemons. On the master it also restarts
instances that should run but are down (giving up after MAX_RESTART_ATTEMPTS
failed tries in a row), cleans up instances their user shut down from inside
(USER_down: stopped and marked down by the user, as Ganeti's watcher does; not
restarted), re-activates the disks of instances whose secondary node rebooted
(boot id change), runs verify-disks per node group and activates the disks it
names, writes the instance status file and archives old finished jobs. State lives in ``watcher.<group-uuid>.data`` (JSON).
"""

import fcntl
import logging
import optparse
import os
import sys
import time

from ganeti import constants, daemon_util, errors, opcodes, pathutils, serializer
from ganeti.utils import io, process, text

MAX_RESTART_ATTEMPTS = 5
DEFAULT_JOB_AGE = 6 * 3600
LUXI_TIMEOUT = 60
JOB_WAIT_TIMEOUT = 600
ARCHIVE_TIMEOUT = 30
HOOK_TIMEOUT = 60
LOCK_FILE = pathutils.LOCK_DIR + "/ganeti-watcher.lock"
HOOKS_DIR = pathutils.HOOKS_BASE_DIR + "/watcher"
INSTANCE_FIELDS = ["name", "status", "admin_state", "pnode", "snodes", "disks_active"]
NODE_FIELDS = ["name", "bootid", "group.uuid", "offline"]
# instances whose node is down or offline: activating their disks cannot work
HELPLESS_STATES = frozenset(["ERROR_nodedown", "ERROR_nodeoffline"])
STATUS_DOWN = "ERROR_down"
STATUS_USER_DOWN = "USER_down"
STATUS_RUNNING = "running"
RS_NORMAL = 0              # result status of a query field that has a value
USER_SOURCE = "user"       # admin_state_source: stopped by the guest's user

log = logging.getLogger("ganeti.watcher")


def state_file(group_uuid):
    """Path of the watcher state file of a node group."""
    return "%s/watcher.%s.data" % (pathutils.DATA_DIR, group_uuid)


def status_file(group_uuid):
    """Path of the instance status file of a node group."""
    return "%s/watcher.%s.instance-status" % (pathutils.DATA_DIR, group_uuid)


class WatcherState:
    """Restart attempts per instance and boot ids per node, kept between runs."""

    def __init__(self, path):
        self.path = path
        self.instances = {}
        self.nodes = {}
        try:
            data = serializer.load_json(io.read_file(path))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as err:
            log.warning("Ignoring unreadable state file %s: %s", path, err)
            data = {}
        if isinstance(data, dict):
            if isinstance(data.get("instance"), dict):
                self.instances = data["instance"]
            if isinstance(data.get("node"), dict):
                self.nodes = data["node"]

    def save(self):
        data = {"instance": self.instances, "node": self.nodes}
        io.write_file(self.path, serializer.dump_json(data), mkdir=True)

    def _count(self, name, what):
        entry = self.instances.get(name)
        return int(entry.get(what + "_count", 0)) if isinstance(entry, dict) else 0

    def _record(self, name, what, now):
        entry = self.instances.get(name)
        if not isinstance(entry, dict):
            entry = self.instances[name] = {}
        entry[what + "_count"] = self._count(name, what) + 1
        entry[what + "_when"] = time.time() if now is None else now
        return entry[what + "_count"]

    def attempts(self, name):
        """How many restarts of ``name`` were tried in a row."""
        return self._count(name, "restart")

    def record_attempt(self, name, now=None):
        return self._record(name, "restart", now)

    def cleanup_attempts(self, name):
        """How many cleanups of ``name`` (shut down by its user) failed in a row."""
        return self._count(name, "cleanup")

    def record_cleanup_attempt(self, name, now=None):
        return self._record(name, "cleanup", now)

    def reset_instance(self, name):
        self.instances.pop(name, None)

    def forget_missing(self, instance_names, node_names):
        """Drop entries of instances and nodes that no longer exist."""
        for name in set(self.instances) - set(instance_names):
            del self.instances[name]
        for name in set(self.nodes) - set(node_names):
            del self.nodes[name]

    def boot_id(self, node):
        entry = self.nodes.get(node)
        return entry.get("bootid") if isinstance(entry, dict) else None

    def set_boot_id(self, node, boot_id):
        self.nodes[node] = {"bootid": boot_id}


def read_pause(path=None, now=None):
    """The epoch time the watcher is paused until, or None if it is not paused."""
    path = path or pathutils.WATCHER_PAUSEFILE
    try:
        content = io.read_file(path).strip()
    except FileNotFoundError:
        return None
    except OSError as err:
        log.warning("Cannot read the pause file %s: %s", path, err)
        return None
    try:
        until = float(content)
    except ValueError:
        log.warning("Ignoring pause file %s with invalid content %r", path, content)
        return None
    now = time.time() if now is None else now
    return until if until > now else None


def acquire_lock(path=None):
    """Take the watcher lock without waiting; the open fd, or None if held."""
    path = path or LOCK_FILE
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _rows(result):
    """Query result -> list of dicts (values of failed fields are None)."""
    names = [f["name"] for f in result["fields"]]
    rows = []
    for row in result["data"]:
        rows.append({name: (value if status == RS_NORMAL else None)
                     for name, (status, value) in zip(names, row)})
    return rows


def wait_for_job(cl, job_id, timeout=JOB_WAIT_TIMEOUT):
    """Wait (bounded) for a job; returns (True, its opcodes' results) or (False,
    message)."""
    deadline = time.monotonic() + timeout
    prev_info, prev_serial = None, None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, "timed out after %d seconds waiting for job %s" % (timeout, job_id)
        result = cl.wait_for_job_change_once(job_id, ["status"], prev_info, prev_serial,
                                             timeout=min(remaining, 10))
        if result == "nochange":
            continue
        if not result:
            break
        info, entries = result
        for serial, _, _, _ in entries or []:
            prev_serial = serial if prev_serial is None else max(prev_serial, serial)
        if info and info[0] in constants.JOBS_FINALIZED:
            break
        prev_info = info
    jobs = cl.query_jobs([job_id], ["status", "opresult"])
    if not jobs or jobs[0] is None:
        return False, "job %s was lost" % job_id
    status, opresult = jobs[0]
    if status == constants.JOB_STATUS_SUCCESS:
        return True, opresult
    message = "job %s ended with status %s" % (job_id, status)
    for res in opresult or []:
        err = errors.get_encoded_error(res) if isinstance(res, (list, tuple)) else None
        if err is not None:
            message += ": %s" % err
            break
        if res:
            message += ": %s" % (res,)
            break
    return False, message


class Watcher:
    """One pass of the master part over the cluster's node groups."""

    def __init__(self, cl, job_age=DEFAULT_JOB_AGE, job_timeout=JOB_WAIT_TIMEOUT):
        self.cl = cl
        self.job_age = job_age
        self.job_timeout = job_timeout
        self.failed = False

    def run(self):
        instances = _rows(self.cl.query("instance", INSTANCE_FIELDS, None))
        nodes = _rows(self.cl.query("node", NODE_FIELDS, None))
        node_group = {n["name"]: n["group.uuid"] for n in nodes}
        groups = sorted(set(g for g in node_group.values() if g))
        for group in groups:
            group_nodes = [n for n in nodes if n["group.uuid"] == group]
            names = set(n["name"] for n in group_nodes)
            group_instances = [i for i in instances if i["pnode"] in names]
            self.run_group(group, group_nodes, group_instances)
        self.archive_jobs()
        return not self.failed

    def run_group(self, group, nodes, instances):
        state = WatcherState(state_file(group))
        state.forget_missing([i["name"] for i in instances], [n["name"] for n in nodes])
        started = self.check_instances(state, instances)
        self.check_disks(state, nodes, instances, started)
        self.verify_disks(group, nodes, instances)
        try:
            state.save()
        except OSError as err:
            log.error("Cannot write the state file %s: %s", state.path, err)
            self.failed = True
        write_status_file(status_file(group), instances)

    def _submit_and_wait(self, op, *more):
        try:
            job_id = self.cl.submit_job([op] + list(more))
        except errors.GenericError as err:
            return False, "cannot submit job: %s" % err
        log.debug("Submitted job %s (%s)", job_id, op.summary())
        try:
            return wait_for_job(self.cl, job_id, self.job_timeout)
        except errors.GenericError as err:
            return False, "waiting for job %s: %s" % (job_id, err)

    def check_instances(self, state, instances):
        """Restart instances that are down but should run; names restarted."""
        started = set()
        for inst in instances:
            name = inst["name"]
            if needs_cleanup(inst):
                self.cleanup_instance(state, name)
                continue
            if inst["status"] == STATUS_RUNNING:
                if state.attempts(name):
                    log.info("Instance %s is running again", name)
                state.reset_instance(name)
                continue
            if inst["status"] != STATUS_DOWN:
                continue
            count = state.attempts(name)
            if count > MAX_RESTART_ATTEMPTS:
                log.info("Not restarting instance %s, retries exhausted", name)
                continue
            if count == MAX_RESTART_ATTEMPTS:
                state.record_attempt(name)
                log.error("Could not restart instance %s after %d attempts, giving up",
                          name, MAX_RESTART_ATTEMPTS)
                continue
            count = state.record_attempt(name)
            log.info("Restarting instance %s (attempt #%d)", name, count)
            ok, message = self._submit_and_wait(opcodes.OpInstanceStartup(
                instance_name=name))
            if ok:
                started.add(name)
                log.info("Instance %s restarted", name)
            else:
                self.failed = True
                log.error("Could not restart instance %s: %s", name, message)
        return started

    def cleanup_instance(self, state, name):
        """Stop an instance its user shut down from inside and mark it down with
        source "user" (Ganeti's cleanup), so it is neither restarted nor left
        holding its stopped domain."""
        if state.cleanup_attempts(name) > MAX_RESTART_ATTEMPTS:
            log.warning("Not cleaning up instance '%s', retries exhausted", name)
            return
        log.info("Instance '%s' was shutdown by the user, cleaning up instance", name)
        ok, message = self._submit_and_wait(opcodes.OpInstanceShutdown(
            instance_name=name, admin_state_source=USER_SOURCE))
        if ok:
            if state.cleanup_attempts(name):
                state.reset_instance(name)
        else:
            self.failed = True
            state.record_cleanup_attempt(name)
            log.error("Error while cleaning up instance '%s': %s", name, message)

    def check_disks(self, state, nodes, instances, started):
        """Re-activate the disks of instances whose secondary node rebooted: its
        halves of their mirrors are gone until then (Ganeti's rule)."""
        for node in nodes:
            name, boot_id = node["name"], node["bootid"]
            if not boot_id:
                continue        # node unreachable or offline: keep what we knew
            old = state.boot_id(name)
            if old is None or old == boot_id:
                state.set_boot_id(name, boot_id)
                continue
            log.info("Node %s rebooted (boot id changed)", name)
            all_ok = True
            for inst in instances:
                if name not in (inst["snodes"] or []) or not inst["disks_active"]:
                    continue
                if inst["name"] in started:
                    continue    # its startup activated the disks already
                log.info("Activating disks for instance '%s'", inst["name"])
                ok, message = self._submit_and_wait(opcodes.OpInstanceActivateDisks(
                    instance_name=inst["name"]))
                if not ok:
                    all_ok = False
                    self.failed = True
                    log.error("Could not activate the disks of instance %s: %s",
                              inst["name"], message)
            if all_ok:
                state.set_boot_id(name, boot_id)

    def verify_disks(self, group, nodes, instances):
        """gnt-cluster verify-disks for the group; activate the disks it names
        (one job), except of instances whose node is down or secondary offline."""
        ok, result = self._submit_and_wait(opcodes.OpGroupVerifyDisks(
            group_name=group, priority=constants.OP_PRIO_LOW))
        if not ok:
            self.failed = True
            log.error("Could not verify the disks of group %s: %s", group, result)
            return
        offline = set(n["name"] for n in nodes if n["offline"])
        by_name = dict((i["name"], i) for i in instances)
        ops = []
        for name in result[0][1]:
            inst = by_name.get(name)
            if inst is None:
                log.info("Can't find instance '%s', maybe it was ignored", name)
                continue
            if inst["status"] in HELPLESS_STATES or offline.intersection(
                    inst["snodes"] or []):
                log.info("Skipping instance '%s' because it is in a helpless state or"
                         " has offline secondaries", name)
                continue
            ops.append(opcodes.OpInstanceActivateDisks(instance_name=name))
        if not ops:
            return
        log.info("Activating disks of instance(s) %s",
                 ", ".join(op.instance_name for op in ops))
        ok, message = self._submit_and_wait(*ops)
        if not ok:
            self.failed = True
            log.error("Could not activate disks: %s", message)

    def archive_jobs(self):
        try:
            archived, left = self.cl.auto_archive_jobs(self.job_age, ARCHIVE_TIMEOUT)
        except errors.GenericError as err:
            log.error("Cannot archive old jobs: %s", err)
            self.failed = True
            return
        if archived or left:
            log.info("Archived %s jobs, left %s", archived, left)


def needs_cleanup(inst) -> bool:
    """Whether a queried instance was shut down by its user and is not yet marked
    down (Ganeti's rule: status USER_down, desired state not "down")."""
    return inst["status"] == STATUS_USER_DOWN and inst["admin_state"] != constants.ADMINST_DOWN


def write_status_file(path, instances):
    """Lines 'name status' for the instances of a group."""
    data = "".join("%s %s\n" % (i["name"], i["status"])
                   for i in sorted(instances, key=lambda i: i["name"]))
    try:
        io.write_file(path, data, mkdir=True)
    except OSError as err:
        log.error("Cannot write the instance status file %s: %s", path, err)


def run_hooks(hooks_dir=None):
    """Run the executables of the watcher hooks directory; True if all succeeded."""
    hooks_dir = hooks_dir or HOOKS_DIR
    try:
        names = sorted(os.listdir(hooks_dir))
    except FileNotFoundError:
        return True
    except OSError as err:
        log.error("Cannot list the hooks directory %s: %s", hooks_dir, err)
        return False
    ok = True
    for name in names:
        path = os.path.join(hooks_dir, name)
        if (not name.replace("-", "").replace("_", "").isalnum()
                or not os.path.isfile(path) or not os.access(path, os.X_OK)):
            continue
        result = process.run_cmd([path], timeout=HOOK_TIMEOUT)
        if result.failed:
            ok = False
            log.error("Watcher hook %s failed: %s", name, result.describe())
    return ok


def ensure_daemons():
    """Start the daemons this node should run; True if all run."""
    ok = True
    for name in daemon_util.daemons_for_this_node():
        if daemon_util.daemon_pid(name):
            continue
        log.warning("%s is not running, starting it", name)
        try:
            daemon_util.start_daemon(name, daemon_util.extra_args(name))
        except (errors.GenericError, OSError) as err:
            ok = False
            log.error("Could not start %s: %s", name, err)
    return ok


def _running_here(store):
    """[(hypervisor, instance name)] of what the enabled hypervisors run here."""
    from ganeti import hypervisor
    running = []
    for hv_name in store.read_list(constants.SS_HYPERVISOR_LIST):
        hvparams = dict(line.split("=", 1) for line in
                        store.read_list(constants.SS_HVPARAMS_PREF + hv_name) if "=" in line)
        try:
            names = hypervisor.get_hypervisor(hv_name).list_instances(hvparams=hvparams)
        except (errors.GenericError, OSError) as err:
            log.error("Cannot list the %s instances: %s", hv_name, err)
            continue
        running.extend((hv_name, name) for name in sorted(names))
    return running


def ask_candidates(store, name):
    """(role of ``name``, maintain_node_health) as the newest config.data among
    the master candidates says, or (None, False) when none can tell or copies
    of the same serial disagree."""
    from ganeti import rpc
    candidates = store.read_list(constants.SS_MASTER_CANDIDATES)
    addresses = dict(zip(candidates, store.read_list(constants.SS_MASTER_CANDIDATES_IPS)))
    runner = rpc.RpcRunner(rpc.static_resolver(addresses))
    by_serial = {}
    for node, res in sorted(runner.call("node_role", candidates, [name]).items()):
        if res.fail_msg:
            log.debug("Node %s did not tell this node's role: %s", node, res.fail_msg)
        elif (isinstance(res.data, list) and len(res.data) == 3 and res.data[0]
              and isinstance(res.data[2], int)):
            by_serial.setdefault(res.data[2], set()).add((res.data[0], bool(res.data[1])))
    answers = by_serial[max(by_serial)] if by_serial else set()
    if len(answers) != 1:
        if answers:
            log.warning("Inconsistent answers about this node's role, not doing"
                        " anything: %s", sorted(answers))
        return None, False
    return answers.pop()


def maintain_node_health(store=None, hostname=None, role_fn=None):
    """Ganeti's node maintenance, when the cluster's maintain_node_health is on: a
    node marked offline must run no instances, so stop (hard) every instance its
    hypervisors still run. An offline node gets no ssconf updates, so its role
    comes from the master candidates (who must have the setting on too). True
    unless a stop failed."""
    from ganeti import hypervisor, ssconf
    from ganeti.utils import net
    store = store or ssconf.SimpleStore()
    if store.read(constants.SS_MAINTAIN_NODE_HEALTH, "False") != "True":
        return True          # as Ganeti: the node's own ssconf says whether to run
    running = _running_here(store)
    if not running:
        return True          # nothing to stop: nobody to ask
    role, maintain = (role_fn or ask_candidates)(store, hostname or net.get_hostname())
    if role != "offline" or not maintain:
        return True
    log.info("This node is offline; these instances should not be running, shutting"
             " them down: %s", ", ".join(name for _, name in running))
    ok = True
    for hv_name, name in running:
        try:
            hypervisor.get_hypervisor(hv_name).stop_instance(None, force=True, name=name)
        except (errors.GenericError, OSError) as err:
            log.error("Could not stop instance %s: %s", name, err)
            ok = False
    return ok


def parse_options(argv):
    parser = optparse.OptionParser(usage="%prog [-d] [--ignore-pause] [--job-age=AGE]",
                                   prog="ganeti-watcher")
    parser.add_option("-d", "--debug", dest="debug", action="store_true", default=False,
                      help="Log debug messages, also to stderr")
    parser.add_option("--ignore-pause", dest="ignore_pause", action="store_true",
                      default=False, help="Run even if the watcher is paused")
    parser.add_option("-A", "--job-age", dest="job_age", default=str(DEFAULT_JOB_AGE),
                      metavar="AGE", help="Archive finished jobs older than AGE"
                      " (seconds, or with s/m/h/d/w suffix) [6h]")
    # Ganeti's watcher forks one child per node group and by default waits for
    # them; ours checks every group in this one process, so it always "waits"
    parser.add_option("--wait-children", dest="wait_children", action="store_true",
                      default=True, help="Finish all node groups before exiting (the"
                      " default and the only way: the groups are checked in this"
                      " process)")
    parser.add_option("--no-wait-children", dest="wait_children", action="store_false",
                      help="Refused: there are no child processes to leave running")
    opts, args = parser.parse_args(argv)
    if args:
        parser.error("No arguments expected")
    if not opts.wait_children:
        parser.error("--no-wait-children is not supported: this watcher checks all node"
                     " groups in its own process, there are no child processes to"
                     " leave running")
    try:
        opts.job_age = text.parse_time_spec(opts.job_age)
    except errors.ParameterError as err:
        parser.error(str(err))
    return opts


def setup_logging(debug=False, log_file=None):
    log_file = log_file or pathutils.LOG_WATCHER
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    fmt = logging.Formatter("%(asctime)s: ganeti-watcher pid=%(process)d %(levelname)s"
                            " %(message)s")
    try:
        os.makedirs(os.path.dirname(log_file), exist_ok=True)
        handler = logging.FileHandler(log_file)
        handler.setFormatter(fmt)
        root.addHandler(handler)
    except OSError as err:
        sys.stderr.write("Cannot open the log file %s: %s\n" % (log_file, err))
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    stderr.setLevel(logging.DEBUG if debug else logging.ERROR)
    root.addHandler(stderr)


def run(opts, client_fn=None):
    """One watcher pass; the exit code."""
    if not daemon_util.check_config():
        log.debug("This node is not part of a cluster, nothing to do")
        return constants.EXIT_SUCCESS
    if not opts.ignore_pause:
        until = read_pause()
        if until is not None:
            log.info("The watcher is paused until %s, not doing anything",
                     time.ctime(until))
            return constants.EXIT_SUCCESS
    ok = ensure_daemons()
    ok = maintain_node_health() and ok
    if daemon_util.is_master():
        if client_fn is None:
            from ganeti import luxi
            client = luxi.Client(timeout=LUXI_TIMEOUT)
        else:
            client = client_fn()
        try:
            ok = Watcher(client, job_age=opts.job_age).run() and ok
        except (errors.GenericError, OSError) as err:
            log.error("Watcher pass on the master failed: %s", err)
            ok = False
        finally:
            client.close()
    ok = run_hooks() and ok
    return constants.EXIT_SUCCESS if ok else constants.EXIT_FAILURE


def main(argv=None):
    opts = parse_options(sys.argv[1:] if argv is None else argv)
    setup_logging(opts.debug)
    try:
        fd = acquire_lock()
    except OSError as err:
        log.error("Cannot open the lock file %s: %s", LOCK_FILE, err)
        return constants.EXIT_FAILURE
    if fd is None:
        log.debug("Another watcher is running, exiting")
        return constants.EXIT_SUCCESS
    try:
        log.debug("Watcher starting")
        code = run(opts)
        log.debug("Watcher done, exit code %d", code)
        return code
    except Exception:   # the last word in the log, not a traceback in a cron mail
        log.exception("Unexpected error in the watcher")
        return constants.EXIT_FAILURE
    finally:
        os.close(fd)
