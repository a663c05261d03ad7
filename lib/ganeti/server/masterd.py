"""ganeti-masterd: the LUXI server, the job queue and the opcode processor.

Runs only on the master node. Clients (gnt-*, RAPI) talk LUXI over the Unix
socket pathutils.MASTER_SOCKET; jobs run in worker threads of the job queue,
each opcode through mcpu under the lock manager.
"""

import grp
import json
import logging
import os
import socket
import socketserver
import sys
import threading
import time

from ganeti import (config, constants, daemon, errors, jqueue, locking, luxi, mcpu,
                    pathutils, query, rpc, rpcstats)
from ganeti.backend import node as backend_node
from ganeti.cmdlib import cluster as cmdlib_cluster
from ganeti.cmdlib import drbd_disks
from ganeti.cmdlib import filter as cmdlib_filter
from ganeti.cmdlib import query as cmdlib_query
from ganeti.etcd import configstore, configsync, masterlease, membership
from ganeti.jqueue import etcdstore
from ganeti.utils import io, net


# how long a starting master daemon waits for etcd to answer
ETCD_WAIT = 30.0
# how much longer than a lease's TTL it waits for another holder's lease to expire
LEASE_GRACE = 5.0
# seconds between attempts to take the lease again after it was lost
REGAIN_INTERVAL = 1.0


class MasterContext:
    """What the logical units see: config, locks, RPC, the job queue."""

    def __init__(self, cfg, lease):
        self.start_time = time.time()
        self.cfg = cfg
        self.lease = lease
        cfg.set_fence(lease.compares)
        self.glm = locking.GanetiLockManager(
            nodes=self.cfg.get_node_list(),
            node_groups=list(self.cfg.get_all_node_groups_info()),
            instances=self.cfg.get_instance_list(),
            networks=list(self.cfg.get_all_networks_info()))
        self.rpc = rpc.RpcRunner(self.cfg.get_node_addresses, stats=rpcstats.RpcStats())
        self._ssconf_lock = threading.Lock()
        self._last_ssconf = None
        self.cfg.on_write.append(self._on_config_write)
        # this node's copy as etcd has it (after a failover it may be old)
        self._write_own_copies(self.cfg)
        cluster = self.cfg.get_cluster_info()
        processor = mcpu.Processor(self)
        self.queue_store = etcdstore.EtcdQueueStore(
            self.cfg.etcd_client(), fence=lease.compares, import_dir=pathutils.QUEUE_DIR,
            node_name=lease.node_name)
        self.jqueue = jqueue.JobQueue(self.queue_store, processor.execute_opcode,
                                      num_workers=max(cluster.max_running_jobs, 1),
                                      interrupt_wait=self.glm.interrupt_wait)
        cmdlib_filter.load_rules(self)      # before the queue starts judging jobs

    def _on_config_write(self, cfg):
        self._write_own_copies(cfg)

    def _write_own_copies(self, cfg):
        """This node's config.data and ssconf files, before the job goes on (the
        tools on the master read them). Every other node's node daemon writes
        its own from etcd (etcd.configsync): nothing waits for a node that is
        down or cut off."""
        configsync.write_copy(cfg.dump_text(), serial=cfg.get_config_serial())
        with self._ssconf_lock:
            values = cfg.get_ssconf_values()
            if values != self._last_ssconf:
                backend_node.write_ssconf_files(values)
                self._last_ssconf = values

    def redistribute_config(self, feedback_fn=None):
        """Push config.data to the master candidates and the ssconf files to every
        online node now (gnt-cluster redist-conf), reporting the nodes that failed."""
        def report(what, results):
            for node, res in sorted(results.items()):
                if res.fail_msg:
                    msg = "Could not update %s on node %s: %s" % (what, node, res.fail_msg)
                    logging.warning(msg)
                    if feedback_fn:
                        feedback_fn(" - WARNING: " + msg)
        master = self.cfg.get_master_node()
        nodes = self.cfg.get_all_nodes_info()
        candidates = sorted(n for n, node in nodes.items()
                            if node.master_candidate and not node.offline and n != master)
        if candidates:
            report("the configuration", self.rpc.call_upload_file(
                candidates, pathutils.CLUSTER_CONF_FILE,
                data=self.cfg.dump_text().encode("utf-8"), mode=0o600))
        report("the ssconf files", self.rpc.call_write_ssconf_files(
            self.cfg.get_online_node_list(), self.cfg.get_ssconf_values()))


class LuxiHandler:
    """Answers LUXI methods; one instance shared by all connections."""

    def __init__(self, context):
        self.context = context
        self.jq = context.jqueue
        self._methods = {
            luxi.REQ_SUBMIT_JOB: lambda ops: self.jq.submit_job(ops),
            luxi.REQ_SUBMIT_JOB_TO_DRAINED_QUEUE:
                lambda ops: self.jq.submit_job_to_drained_queue(ops),
            luxi.REQ_SUBMIT_MANY_JOBS: lambda jobs: self.jq.submit_many_jobs(jobs),
            luxi.REQ_WAIT_FOR_JOB_CHANGE: self._wait_for_job_change,
            luxi.REQ_CANCEL_JOB: lambda job_id, kill=False: self.jq.cancel_job(job_id, kill),
            luxi.REQ_ARCHIVE_JOB: lambda job_id: self.jq.archive_job(job_id),
            luxi.REQ_CHANGE_JOB_PRIORITY:
                lambda job_id, prio: self.jq.change_job_priority(job_id, prio),
            luxi.REQ_AUTO_ARCHIVE_JOBS:
                lambda age, timeout: self.jq.auto_archive_jobs(age, timeout),
            luxi.REQ_QUERY_JOBS: lambda ids, fields: self.jq.query_jobs(ids, fields),
            luxi.REQ_QUERY: self._query,
            luxi.REQ_QUERY_FIELDS: lambda what, fields=None: query.query_fields(what, fields),
            luxi.REQ_QUERY_NODES: self._query_nodes,
            luxi.REQ_QUERY_CLUSTER_INFO: lambda: cmdlib_cluster.cluster_info(context.cfg),
            luxi.REQ_QUERY_CONFIG_VALUES:
                lambda fields: cmdlib_cluster.config_values(context, fields),
            luxi.REQ_QUERY_TAGS: self._query_tags,
            luxi.REQ_SET_DRAIN_FLAG: self._set_drain_flag,
            luxi.REQ_SET_WATCHER_PAUSE: self._set_watcher_pause,
            luxi.REQ_QUERY_DRBD_MINORS: self._query_drbd_minors,
            luxi.REQ_QUERY_FILTERS:
                lambda uuids, fields: cmdlib_filter.query_filters(context, uuids, fields),
            luxi.REQ_REPLACE_FILTER: lambda *args: cmdlib_filter.replace_filter(context, *args),
            luxi.REQ_DELETE_FILTER: lambda uuid: cmdlib_filter.delete_filter(context, uuid),
            luxi.REQ_QUERY_METRICS: self._query_metrics,
        }

    def handle(self, method, args):
        """Answer one call; arguments are checked against luxi.SIGNATURES first."""
        args = luxi.check_arguments(method, args)
        if self.context.lease.lost.is_set():
            # what this daemon knows may be old: another node may be the master
            raise errors.JobQueueError(
                "This node lost the master role (its master lease in etcd); another"
                " node may be the master now")
        return self._methods[method](*args)

    def _wait_for_job_change(self, job_id, fields, prev_job_info, prev_log_serial,
                             timeout=constants.LUXI_WFJC_TIMEOUT):
        timeout = min(float(timeout), constants.LUXI_WFJC_TIMEOUT)
        return self.jq.wait_for_job_changes(job_id, fields, prev_job_info, prev_log_serial,
                                            timeout)

    def _query(self, what, fields, qfilter=None):
        return cmdlib_query.run_resource_query(self.context, what, fields, qfilter)

    def _query_nodes(self, names, fields, use_locking=False):
        from ganeti import qlang
        if use_locking:
            # Ganeti 3.0's answer: LUXI answers from the configuration without locks
            # (OP_QUERY with use_locking, a job, reads under shared locks)
            raise errors.OpPrereqError("Sync queries are not allowed", errors.ECODE_INVAL)
        cfg = self.context.cfg
        # the classic query leaves unknown names out (Ganeti 3.0: "gnt-node info
        # nosuchnode" prints nothing and exits 0); names given but none known
        # match nothing
        full = [n for n in map(cfg.expand_node_name, names or []) if n is not None]
        if names and not full:
            return []
        qfilter = qlang.make_simple_filter(full) if full else None
        result = self._query(query.QR_NODE, fields, qfilter)
        return query.old_style(result)

    def _query_metrics(self, sections=None):
        """What only the master daemon knows, for the RAPI's /metrics and
        /2/locks: the parts named in ``sections`` (None: all of them), each
        kept cheaply as things happen and only summed up here."""
        context = self.context
        wanted = luxi.METRICS_SECTIONS if sections is None else sections
        result = {"time": time.time(), "start_time": context.start_time}
        if "jobs" in wanted:
            result["jobs"] = self.jq.metrics()
        if "locks" in wanted:
            result["locks"] = {"holders": context.glm.lock_holders(),
                               "waits": context.glm.wait_stats.snapshot()}
        if "rpc" in wanted:
            result["rpc"] = context.rpc.stats.snapshot()
        return result

    def _query_drbd_minors(self, node):
        cfg = self.context.cfg
        full = cfg.expand_node_name(node)
        if full is None:
            raise errors.OpPrereqError("Node '%s' not known" % node, errors.ECODE_NOENT)
        return drbd_disks.node_minors(cfg, full)

    def _query_tags(self, kind, name):
        """The tags of an object (gnt-* list-tags), with Ganeti's messages."""
        cfg = self.context.cfg
        if kind == constants.TAG_CLUSTER:
            return sorted(cfg.get_cluster_info().tags)
        if kind == constants.TAG_NODE:
            full = cfg.expand_node_name(name or "")
            node = cfg.get_node_info(full) if full else None
            if node is None:
                raise errors.OpPrereqError("Node name %s not found" % name,
                                           errors.ECODE_NOENT)
            return sorted(node.tags)
        if kind == constants.TAG_INSTANCE:
            inst = cfg.get_instance_info(name)
            if inst is None:
                raise errors.OpPrereqError("Instance name %s not found" % name,
                                           errors.ECODE_NOENT)
            return sorted(inst.tags)
        if kind == constants.TAG_NODEGROUP:
            return sorted(cfg.get_node_group(cfg.lookup_node_group(name)).tags)
        if kind == constants.TAG_NETWORK:
            for net in cfg.get_all_networks_info().values():
                if name in (net.name, net.uuid):
                    return sorted(net.tags)
            raise errors.OpPrereqError("Network name %s not found" % name,
                                       errors.ECODE_NOENT)
        raise errors.OpPrereqError("Unknown tag kind '%s'" % kind, errors.ECODE_INVAL)

    def _set_drain_flag(self, flag):
        self.jq.set_drain_flag(bool(flag))
        return True

    def _set_watcher_pause(self, until):
        return cmdlib_cluster.set_watcher_pause(self.context, until)


class _LuxiRequestHandler(socketserver.BaseRequestHandler):
    """One client connection: requests and answers, one at a time."""

    def handle(self):
        sock = self.request
        reader = _MessageReader(sock)
        while True:
            try:
                msg = reader.next_message()
            except _FramingError as err:
                # the stream cannot be resynchronised: answer, then hang up
                logging.warning("Dropping a LUXI connection: %s", err)
                self._send(sock, luxi.format_response(False, errors.encode(
                    errors.ProtocolError(str(err)))))
                return
            if msg is None:
                return
            if not self._send(sock, self.server.answer(msg)):
                return

    @staticmethod
    def _send(sock, reply):
        try:
            sock.settimeout(luxi.READ_TIMEOUT)
            sock.sendall(reply + luxi.ETX)
            return True
        except OSError:
            return False


class _FramingError(Exception):
    """A request too large or never finished; the connection must be closed."""


class _MessageReader:
    """Splits a connection's bytes into ETX-framed messages, within limits.

    A connection may sit idle between requests for as long as the client
    likes, but a request once begun must be complete within
    luxi.PARTIAL_MESSAGE_TIMEOUT and must not exceed luxi.MAX_MESSAGE_SIZE.
    """

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.started = None         # when the first byte of the pending message came

    def next_message(self):
        """The next message (bytes), or None when the client closed or vanished."""
        scanned = 0                 # the buffer before this holds no ETX
        while True:
            end = self.buf.find(luxi.ETX, scanned)
            if end >= 0:
                msg = bytes(self.buf[:end])
                del self.buf[:end + 1]
                self.started = time.monotonic() if self.buf else None
                return msg
            scanned = len(self.buf)
            if scanned > luxi.MAX_MESSAGE_SIZE:
                raise _FramingError("LUXI request larger than the limit of %d bytes"
                                    % luxi.MAX_MESSAGE_SIZE)
            if self.started is None:
                self.sock.settimeout(None)
            else:
                left = self.started + luxi.PARTIAL_MESSAGE_TIMEOUT - time.monotonic()
                if left <= 0:
                    raise _FramingError("LUXI request not completed within %ds"
                                        % luxi.PARTIAL_MESSAGE_TIMEOUT)
                self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue            # the deadline check above ends it
            except OSError:
                return None
            if not chunk:
                return None
            if self.started is None:
                self.started = time.monotonic()
            self.buf += chunk


class LuxiServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, path, luxi_handler):
        self.luxi_handler = luxi_handler
        socketserver.UnixStreamServer.__init__(self, path, _LuxiRequestHandler,
                                               bind_and_activate=False)
        old_umask = os.umask(0o117)
        try:
            self.server_bind()
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o660)
        try:
            os.chown(path, 0, grp.getgrnam(constants.ADMIN_GROUP).gr_gid)
        except (KeyError, PermissionError):
            pass
        self.server_activate()

    def answer(self, msg):
        """The encoded answer to one request message (never raises)."""
        try:
            method, args, _ = luxi.parse_request(msg)
            result = self.luxi_handler.handle(method, args)
            return luxi.format_response(True, result)
        except errors.GenericError as err:
            return luxi.format_response(False, errors.encode(err))
        except Exception as err:  # a bug: report it, keep serving
            logging.exception("Error while handling a LUXI request")
            return luxi.format_response(False, errors.encode(
                errors.ProgrammerError("Internal error: %s" % err)))


def _socket_in_use(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        return True
    except OSError:
        return False
    finally:
        sock.close()


def check_master(options):
    """Refuse to start unless this node is the master (prepare step).

    etcd decides: its configuration names the master, and the master lease
    lets only one master daemon act (--no-voting takes the lease from another
    holder). Runs in the detached daemon (daemon.run_daemon), so no thread or
    TLS context is ever forked; a failure reaches the starting process.
    """
    try:
        # etcd, not this node's copy, says who the master is
        cfg = config.etcd_writer(wait=ETCD_WAIT)
    except errors.GenericError as err:
        raise errors.GenericError("Cannot start the master daemon: %s" % err)
    me = net.get_hostname()
    master = cfg.get_master_node()
    if master != me:
        raise errors.GenericError(
            "This node (%s) is not the master (%s); the master daemon runs only on the"
            " master node" % (me, master))
    if _socket_in_use(pathutils.MASTER_SOCKET):
        raise errors.GenericError("Another master daemon is already answering on %s"
                                  % pathutils.MASTER_SOCKET)
    io.ensure_dirs([(pathutils.RUN_DIR, 0o775), (pathutils.SOCKET_DIR, 0o750),
                    (pathutils.QUEUE_DIR, 0o700)])
    lease = masterlease.MasterLease(
        membership.client_for(cfg, timeout=masterlease.CALL_TIMEOUT), me)
    try:
        # a master that died (or is being failed over) gives the key up at
        # the latest when its lease expires
        lease.acquire(wait=masterlease.TTL + LEASE_GRACE,
                      force=getattr(options, "no_voting", False))
    except errors.GenericError as err:
        raise errors.GenericError("Cannot start the master daemon: %s" % err)
    return cfg, lease


def run_master(options, ready, stop_event):
    """The daemon's main loop: start queue and LUXI server, serve until stopped."""
    cfg, lease = options.prepared
    context = MasterContext(cfg, lease)
    lease.on_lost = lambda: _lost_role(context, stop_event)
    io.remove_file(pathutils.MASTER_SOCKET)
    server = LuxiServer(pathutils.MASTER_SOCKET, LuxiHandler(context))
    context.jqueue.start()
    thread = threading.Thread(target=server.serve_forever, name="luxi-server",
                              kwargs={"poll_interval": 0.5}, daemon=True)
    thread.start()
    logging.info("Master daemon started, LUXI socket %s", pathutils.MASTER_SOCKET)
    ready()
    threading.Thread(target=_activate_master_ip, args=(context,), daemon=True).start()
    threading.Thread(target=_sync_etcd_members, args=(context,), daemon=True).start()
    try:
        while not stop_event.wait(1.0):
            pass
    finally:
        logging.info("Master daemon stopping")
        server.shutdown()
        server.server_close()
        io.remove_file(pathutils.MASTER_SOCKET)
        context.jqueue.shutdown()
        lease.release(mark_stopped=True)


def _lost_role(context, stop_event):
    """The master lease is lost: another node may be the master already, so
    the master IP goes down at once (and nothing this daemon writes is
    stored). The role comes back when etcd lets this daemon take the lease
    again with nothing changed meanwhile; else the daemon stops."""
    try:
        backend_node.deactivate_master_ip_here()
    except Exception as err:  # logged; it must not stop the rest
        logging.error("Could not take the master IP down: %s", err)
    threading.Thread(target=_regain_role, args=(context, stop_event),
                     name="master-regain", daemon=True).start()


def _regain_role(context, stop_event):
    me = context.lease.node_name
    while not stop_event.wait(REGAIN_INTERVAL):
        try:
            kv = context.cfg.etcd_client().get(configstore.CLUSTER_KEY)
            master = json.loads(kv.value).get("master_node") if kv is not None else None
            if master != me:
                raise errors.GenericError("the configuration names %s the master" % master)
            # no other master daemon may have opened the job queue meanwhile
            context.lease.acquire(wait=0,
                                  extra_compares=context.queue_store.unchanged_compares())
        except errors.EtcdError as err:
            logging.info("Cannot take the master lease again yet: %s", err)
            continue
        except (errors.GenericError, ValueError) as err:
            logging.error("Not the master any more (%s); stopping the master daemon", err)
            stop_event.set()
            return
        logging.warning("Took the master lease again; acting as the master")
        # writes failed while the lease was lost: store the jobs as they are
        context.jqueue.store_all()
        _activate_master_ip(context)
        return


def _sync_etcd_members(context):
    """After a failover the new master may be an etcd learner: make it vote,
    and the members follow the candidates again."""
    try:
        membership.reconcile(context.cfg, context.rpc, log=logging.info)
    except errors.GenericError as err:
        logging.warning("The etcd members do not follow the master candidates: %s", err)


def _activate_master_ip(context):
    cfg = context.cfg
    master = cfg.get_master_node()
    start = time.time()
    res = context.rpc.call_node_activate_master_ip(master, cfg.get_master_network_parameters())
    if res.fail_msg:
        logging.warning("Could not activate the master IP: %s", res.fail_msg)
    else:
        logging.info("Master IP activated in %.2fs", time.time() - start)


def main():
    parser = daemon.build_option_parser(constants.MASTERD, "%prog [-f] [-d]")
    parser.add_option("--no-voting", dest="no_voting", action="store_true", default=False,
                      help="Take the master role even if another node's master"
                      " daemon holds it (use with care)")
    parser.add_option("--yes-do-it", dest="yes_do_it", action="store_true", default=False,
                      help="Override the interactive confirmation for --no-voting")
    options, args = parser.parse_args()
    if args:
        parser.error("This daemon takes no arguments")
    if options.no_voting and not options.yes_do_it and not confirm_no_voting():
        sys.stderr.write("Aborting.\n")
        return constants.EXIT_FAILURE
    return daemon.run_daemon(constants.MASTERD, options, check_master, run_master)


def confirm_no_voting(stdin=None, stdout=None) -> bool:
    """Ganeti's question before starting without the nodes' vote: only an
    uppercase YES on standard input goes on (--yes-do-it skips the question)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stdout.write("The 'no voting' option has been selected.\n"
                 "This is dangerous, please confirm by typing uppercase 'yes': ")
    stdout.flush()
    return stdin.readline().strip() == "YES"
