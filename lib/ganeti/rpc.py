"""The master's side of the node daemon RPC.

``RpcRunner.call(procedure, node_names, args)`` sends ``POST /<procedure>``
with the JSON list ``args`` to every node in parallel and returns one
RpcResult per node name. Offline nodes are not contacted.
"""

import base64
import logging
import os
import threading
import time
import zlib

from ganeti import constants, errors, pathutils
from ganeti import http as ghttp
from ganeti.http import client as hclient
from ganeti.utils import io, net

ENC_NONE = "none"
ENC_ZLIB_BASE64 = "zlib+base64"
_JOIN_GRACE = 5.0


class RpcResult:
    """One node's answer to one call.

    data: the procedure's result (None on failure); fail_msg: None on success,
    else the error text; offline: the node is marked offline (not contacted).
    """

    def __init__(self, node, call, data=None, fail_msg=None, offline=False):
        self.node = node
        self.call = call
        self.data = data
        self.fail_msg = fail_msg
        self.offline = offline

    @property
    def payload(self):
        """Alias of ``data`` (Ganeti's name)."""
        return self.data

    @property
    def failed(self):
        return self.fail_msg is not None

    def __repr__(self):
        return "<RpcResult %s on %s: %s>" % (
            self.call, self.node,
            "ok" if self.fail_msg is None else "failed: %s" % self.fail_msg)

    def raise_on_failure(self, msg=None, prereq=False, ecode=None):
        """Raise OpExecError (OpPrereqError if prereq) when the call failed.

        The message is "<msg>: <fail_msg>"; msg defaults to
        "Call '<call>' to node '<node>' has failed".
        """
        if self.fail_msg is None:
            return
        if not msg:
            msg = "Call '%s' to node '%s' has failed" % (self.call, self.node)
        text = "%s: %s" % (msg, self.fail_msg)
        if prereq:
            raise errors.OpPrereqError(text, ecode or errors.ECODE_ENVIRON)
        raise errors.OpExecError(text)

    def warn(self, msg, feedback_fn):
        """Report a failure through feedback_fn; True if there was one."""
        if self.fail_msg is None:
            return False
        feedback_fn("%s: %s" % (msg, self.fail_msg))
        return True


def resolve_by_name(node_names):
    """A resolver for nodes not (yet) in the configuration: DNS / /etc/hosts."""
    result = []
    for name in node_names:
        try:
            result.append((name, net.resolve(name), False))
        except errors.ResolverError:
            result.append((name, None, False))
    return result


def static_resolver(mapping, offline=()):
    """A resolver from a {name: ip} dict (names in ``offline`` are offline)."""
    def _resolve(node_names):
        return [(n, mapping.get(n), n in offline) for n in node_names]
    return _resolve


def encode_file_data(data):
    """File contents for transport: [encoding, text]."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return [ENC_ZLIB_BASE64, base64.b64encode(zlib.compress(data)).decode("ascii")]


def decode_file_data(value):
    """The bytes of an encoded file (inverse of encode_file_data)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    try:
        enc, text = value
    except (TypeError, ValueError):
        raise errors.ProtocolError("Invalid encoded file data")
    if enc == ENC_NONE:
        return text.encode("utf-8")
    if enc == ENC_ZLIB_BASE64:
        try:
            return zlib.decompress(base64.b64decode(text))
        except (ValueError, zlib.error) as err:
            raise errors.ProtocolError("Invalid encoded file data: %s" % err)
    raise errors.ProtocolError("Unknown file data encoding '%s'" % enc)


#: procedures that only read the node's state: asked again on a new connection
#: when a kept-alive one was lost after the request went out (never the others,
#: which may have run)
READ_ONLY_PROCEDURES = frozenset([
    "all_instances_info", "blockdev_find", "blockdev_getdimensions",
    "blockdev_getmirrorstatus", "bridges_exist", "drbd_wait_sync", "hv_node_info",
    "instance_get_migration_status", "instance_info", "instance_list",
    "master_node_name", "node_has_ip_address", "node_info", "node_verify",
    "os_diagnose", "os_get", "migration_info", "version", "extstorage_diagnose",
    "storage_list", "node_volumes", "impexp_status", "export_list", "export_info",
])


class RpcRunner:
    """Issues RPC calls to node daemons.

    resolver(node_names) -> [(name, ip, offline), ...]; an ip of None is
    looked up by name. All nodes share ``port`` (1811 by default). ``stats``
    (an rpcstats.RpcStats, the master daemon's) records every call made.
    """

    def __init__(self, resolver, port=None, cert_file=None,
                 connect_timeout=constants.RPC_CONNECT_TIMEOUT, pool=None, stats=None):
        self.resolver = resolver
        self.port = port or constants.DEFAULT_NODED_PORT
        self.cert_file = cert_file or pathutils.NODED_CERT_FILE
        self.connect_timeout = connect_timeout
        self.stats = stats
        self._pool = pool
        self._pool_lock = threading.Lock()

    @property
    def pool(self):
        with self._pool_lock:
            if self._pool is None:
                self._pool = hclient.HttpClientPool(self.cert_file)
            return self._pool

    def close(self):
        """Drop the pooled connections."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()

    def _call_one(self, procedure, name, ip, args, timeout):
        if not ip:
            try:
                ip = net.resolve(name)
            except errors.ResolverError as err:
                return RpcResult(name, procedure, fail_msg=err.args[-1])
        try:
            try:
                status, body = self.pool.post_json(ip, self.port, "/" + procedure, args,
                                                   timeout=timeout,
                                                   connect_timeout=self.connect_timeout)
            except ghttp.HttpConnectionLostError:
                # the pool resends only what the node cannot have received; a
                # procedure that only reads may safely run twice, so ask once more
                if procedure not in READ_ONLY_PROCEDURES:
                    raise
                logging.debug("RPC %s to %s: connection lost, asking again", procedure,
                              name)
                status, body = self.pool.post_json(ip, self.port, "/" + procedure, args,
                                                   timeout=timeout,
                                                   connect_timeout=self.connect_timeout)
        except ghttp.HttpClientError as err:
            return RpcResult(name, procedure, fail_msg=str(err.args[0]))
        except errors.GenericError as err:
            return RpcResult(name, procedure,
                             fail_msg=": ".join(str(a) for a in err.args) or str(err))
        if status != ghttp.HTTP_OK:
            return RpcResult(name, procedure,
                             fail_msg="Node answered HTTP %s: %s" % (status, body))
        if not isinstance(body, list) or len(body) != 2:
            return RpcResult(name, procedure, fail_msg="Invalid answer: %r" % (body,))
        ok, payload = body
        if ok:
            return RpcResult(name, procedure, data=payload)
        return RpcResult(name, procedure, fail_msg=str(payload) or "Unknown error")

    def call(self, procedure, node_names, args, timeout=constants.RPC_TMO_NORMAL):
        """Call ``procedure`` with ``args`` on every node; {name: RpcResult}."""
        if isinstance(node_names, str):
            node_names = [node_names]
        node_names = list(node_names)
        args = list(args)
        known = dict((n, (ip, off)) for n, ip, off in self.resolver(node_names))
        results = {}
        todo = []
        for name in node_names:
            if name in results:
                continue
            ip, offline = known.get(name, (None, False))
            if offline:
                results[name] = RpcResult(name, procedure, offline=True,
                                          fail_msg=constants.RPC_OFFLINE_MSG)
            else:
                todo.append((name, ip))
        logging.debug("RPC %s to %s", procedure, ", ".join(n for n, _ in todo))
        threads = []
        lock = threading.Lock()
        stats = self.stats

        def _run(name, ip):
            start = time.monotonic()
            try:
                res = self._call_one(procedure, name, ip, args, timeout)
            except Exception as err:  # pylint: disable=broad-except
                logging.exception("RPC %s to %s failed unexpectedly", procedure, name)
                res = RpcResult(name, procedure, fail_msg="Internal error: %s" % err)
            if stats is not None:
                stats.record(name, procedure, time.monotonic() - start,
                             res.fail_msg is not None)
            with lock:
                results[name] = res

        for name, ip in todo:
            thread = threading.Thread(target=_run, args=(name, ip), daemon=True,
                                      name="rpc-%s-%s" % (procedure, name))
            thread.start()
            threads.append(thread)
        deadline = time.monotonic() + timeout + self.connect_timeout + _JOIN_GRACE
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with lock:
            for name, _ in todo:
                if name not in results:
                    results[name] = RpcResult(name, procedure,
                                              fail_msg="Call timed out after %ss" % timeout)
            return dict((n, results[n]) for n in node_names if n in results)

    def call_single(self, procedure, node, args, timeout=constants.RPC_TMO_NORMAL):
        """Call one node; returns its RpcResult."""
        return self.call(procedure, [node], args, timeout)[node]

    # ---- wrappers ----------------------------------------------------------

    def call_version(self, node_names):
        """Protocol version of each node (int)."""
        return self.call("version", node_names, [], constants.RPC_TMO_URGENT)

    def call_node_info(self, node_names, storage_units, hv_specs):
        """Memory, CPU and storage of each node (see backend.node_info)."""
        return self.call("node_info", node_names,
                         [[list(u) for u in storage_units or []],
                          [list(h) for h in hv_specs or []]],
                         constants.RPC_TMO_URGENT)

    def call_write_ssconf_files(self, node_names, values):
        """Replace the ssconf files on each node with ``values`` {key: text}."""
        return self.call("write_ssconf_files", node_names, [values],
                         constants.RPC_TMO_FAST)

    def call_upload_file(self, node_names, path, data=None, mode=None, mtime=None):
        """Copy the local file ``path`` (or ``data``) to the same path on each node."""
        if data is None:
            data = io.read_file(path, binary=True)
            st = os.stat(path)
            mode = st.st_mode & 0o7777 if mode is None else mode
            mtime = st.st_mtime if mtime is None else mtime
        if mode is None:
            mode = 0o644
        return self.call("upload_file", node_names,
                         [pathutils.strip_root(path), encode_file_data(data), mode, mtime],
                         constants.RPC_TMO_NORMAL)

    def call_hooks_runner(self, node_names, hpath, phase, env):
        """Run the hooks <hpath>-<phase>.d on each node; data: [[rel, status, out]]."""
        return self.call("hooks_runner", node_names, [hpath, phase, env],
                         constants.RPC_TMO_NORMAL)

    def call_test_delay(self, node_names, duration):
        """Sleep ``duration`` seconds on each node."""
        return self.call("test_delay", node_names, [duration],
                         int(duration) + constants.RPC_TMO_URGENT)

    def call_node_verify(self, node_names, checks, cluster_name):
        """Run the node checks in ``checks`` {check: params}; data: {check: result}."""
        return self.call("node_verify", node_names, [checks, cluster_name],
                         constants.RPC_TMO_NORMAL)

    def call_master_node_name(self, node_names):
        """The master node each node believes in (its ssconf master_node)."""
        return self.call("master_node_name", node_names, [], constants.RPC_TMO_URGENT)

    def call_node_activate_master_ip(self, node, params):
        """Bring the master IP up on ``node``; params {ip, netmask, netdev, family}."""
        return self.call_single("node_activate_master_ip", node, [params],
                                constants.RPC_TMO_FAST)

    def call_node_powercycle(self, node):
        """Have ``node`` hard-reboot itself a few seconds after answering."""
        return self.call_single("node_powercycle", node, [], constants.RPC_TMO_FAST)

    def call_node_deactivate_master_ip(self, node, params):
        """Take the master IP down on ``node``."""
        return self.call_single("node_deactivate_master_ip", node, [params],
                                constants.RPC_TMO_FAST)

    def call_run_oob(self, node, oob_program, command, remote_node, timeout):
        """Run the out-of-band helper on ``node`` (the master) for ``remote_node``;
        data: the helper's JSON answer. The call outlasts the helper's timeout."""
        return self.call_single("run_oob", node,
                                [oob_program, command, remote_node, timeout],
                                max(constants.RPC_TMO_NORMAL,
                                    timeout + constants.RPC_TMO_URGENT))

    def call_node_leave_cluster(self, node, modify_ssh_setup=False):
        """Make ``node`` forget the cluster; its node daemon then exits."""
        return self.call_single("node_leave_cluster", node, [modify_ssh_setup],
                                constants.RPC_TMO_NORMAL)


# ---- storage, OS and instance procedures (backend/storage.py, osdefs.py, instance.py) -----
# Objects travel as dicts: disks as objects.Disk.to_dict(), instances as
# instance_utils.instance_for_node() (parameters filled with the defaults).

def _rpc_method(procedure, timeout, single=True, doc=""):
    if single:
        def method(self, node, *args):
            return self.call_single(procedure, node, list(args), timeout)
    else:
        def method(self, node_names, *args):
            return self.call(procedure, node_names, list(args), timeout)
    method.__name__ = "call_" + procedure
    method.__doc__ = doc
    return method


_SINGLE_NODE_CALLS = [
    ("blockdev_create", constants.RPC_TMO_NORMAL,
     "(node, disk, size, owner, on_primary, info, excl_stor)"),
    ("blockdev_remove", constants.RPC_TMO_NORMAL, "(node, disk)"),
    ("blockdev_assemble", constants.RPC_TMO_NORMAL,
     "(node, disk, instance_name, as_primary, idx) -> [dev_path, link_name]"),
    ("blockdev_shutdown", constants.RPC_TMO_NORMAL, "(node, disk)"),
    ("blockdev_grow", constants.RPC_TMO_NORMAL,
     "(node, disk, amount, dryrun, backingstore, excl_stor)"),
    ("blockdev_find", constants.RPC_TMO_FAST, "(node, disk) -> status or None"),
    ("blockdev_setinfo", constants.RPC_TMO_NORMAL, "(node, disk, info)"),
    ("blockdev_getmirrorstatus", constants.RPC_TMO_FAST, "(node, disks)"),
    ("blockdev_getdimensions", constants.RPC_TMO_FAST, "(node, disks)"),
    ("blockdev_removechildren", constants.RPC_TMO_NORMAL, "(node, disk, children)"),
    ("blockdev_addchildren", constants.RPC_TMO_NORMAL, "(node, disk, children)"),
    ("blockdev_rename", constants.RPC_TMO_NORMAL, "(node, [[disk, new_logical_id]])"),
    ("blockdev_convert", constants.RPC_TMO_SLOW,
     "(node, source disk, destination disk): copy the data (template conversion)"),
    ("drbd_needs_activation", constants.RPC_TMO_NORMAL,
     "(node, disks) -> uuids of the disks to activate again"),
    ("file_storage_dir_create", constants.RPC_TMO_FAST, "(node, path)"),
    ("file_storage_dir_remove", constants.RPC_TMO_FAST, "(node, path)"),
    ("file_storage_dir_rename", constants.RPC_TMO_FAST, "(node, old_path, new_path)"),
    ("os_get", constants.RPC_TMO_FAST, "(node, name) -> OS description"),
    ("instance_os_add", constants.RPC_TMO_SLOW, "(node, instance, reinstall, debug)"),
    ("instance_run_rename", constants.RPC_TMO_SLOW,
     "(node, instance, old_name, debug)"),
    ("instance_start", constants.RPC_TMO_NORMAL,
     "(node, instance, startup_paused, reason)"),
    ("instance_shutdown", constants.RPC_TMO_NORMAL, "(node, instance, timeout, reason)"),
    ("instance_reboot", constants.RPC_TMO_NORMAL,
     "(node, instance, reboot_type, shutdown_timeout, reason)"),
    ("instance_info", constants.RPC_TMO_URGENT, "(node, name, hv_name, hvparams)"),
    ("bridges_exist", constants.RPC_TMO_URGENT, "(node, bridges) -> missing bridges"),
    ("node_demote_from_mc", constants.RPC_TMO_FAST, "(node)"),
    ("node_has_ip_address", constants.RPC_TMO_URGENT, "(node, address) -> bool"),
    ("node_stop_master", constants.RPC_TMO_FAST,
     "(node): stop ganeti-masterd and take the master IP down (master failover)"),
    ("instance_balloon_memory", constants.RPC_TMO_NORMAL, "(node, instance, memory)"),
    ("blockdev_open", constants.RPC_TMO_NORMAL, "(node, instance_name, disks, exclusive)"),
    ("blockdev_close", constants.RPC_TMO_NORMAL, "(node, instance_name, disks)"),
    ("drbd_disconnect_net", constants.RPC_TMO_NORMAL, "(node, disks)"),
    ("drbd_attach_net", constants.RPC_TMO_SLOW, "(node, disks, multimaster)"),
    ("drbd_wait_sync", constants.RPC_TMO_SLOW, "(node, disks) -> [done, percent]"),
    ("instance_migratable", constants.RPC_TMO_NORMAL, "(node, instance)"),
    ("migration_info", constants.RPC_TMO_NORMAL, "(node, instance) -> info"),
    ("accept_instance", constants.RPC_TMO_NORMAL, "(node, instance, info, target_ip)"),
    ("instance_migrate", constants.RPC_TMO_SLOW,
     "(node, cluster_name, instance, target_ip, live)"),
    ("instance_get_migration_status", constants.RPC_TMO_FAST,
     "(node, instance) -> {status, transferred_ram, total_ram}"),
    ("instance_finalize_migration_src", constants.RPC_TMO_SLOW,
     "(node, instance, success, live)"),
    ("instance_finalize_migration_dst", constants.RPC_TMO_SLOW,
     "(node, instance, info, success)"),
    ("hv_node_info", constants.RPC_TMO_URGENT, "(node, hv_name, hvparams)"),
    ("etcd_join", constants.RPC_TMO_NORMAL,
     "(node, name, ip, initial_cluster): start the node's etcd member, joining"),
    ("etcd_leave", constants.RPC_TMO_FAST, "(node): stop the node's etcd member, drop its data"),
    # gnt-cluster renew-crypto (backend/crypto.py)
    ("etcd_cert_renew", constants.RPC_TMO_NORMAL, "(node, ip): a new etcd certificate"),
    ("etcd_restart", constants.RPC_TMO_NORMAL,
     "(node): restart the node's etcd member -> whether it has one"),
    ("blockdev_snapshot", constants.RPC_TMO_NORMAL,
     "(node, disk, snap_name, snap_size) -> [vg, lv] of the snapshot"),
    # exports and imports (backend/impexp.py)
    ("import_start", constants.RPC_TMO_NORMAL,
     "(node, opts, bind_ip, instance, component, dest) -> helper name"),
    ("export_start", constants.RPC_TMO_NORMAL,
     "(node, opts, host, port, instance, component, source) -> helper name"),
    ("impexp_status", constants.RPC_TMO_FAST, "(node, names) -> [status or None]"),
    ("impexp_abort", constants.RPC_TMO_FAST, "(node, name)"),
    ("impexp_cleanup", constants.RPC_TMO_FAST, "(node, name)"),
    ("export_info", constants.RPC_TMO_FAST, "(node, path) -> config.ini text"),
    ("export_remove", constants.RPC_TMO_FAST, "(node, name)"),
    ("finalize_export", constants.RPC_TMO_NORMAL, "(node, instance, disks)"),
    # node storage units (backend/storage_units.py)
    ("storage_modify", constants.RPC_TMO_NORMAL, "(node, su_name, su_args, name, changes)"),
    ("storage_execute", constants.RPC_TMO_NORMAL, "(node, su_name, su_args, name, op)"),
]
_MULTI_NODE_CALLS = [
    ("node_ssh_keys_update", constants.RPC_TMO_FAST,
     "(nodes, add, remove, remove_hosts, pub_keys): root's authorized_keys, known_hosts,"
     " ganeti_pub_keys"),
    ("os_diagnose", constants.RPC_TMO_FAST, "(nodes) -> per node list of OSes"),
    ("cluster_cert_rollover", constants.RPC_TMO_NORMAL,
     "(nodes, step, pem, ip): one step of a new cluster certificate (renew-crypto)"),
    ("ssh_key_renew", constants.RPC_TMO_NORMAL,
     "(nodes, step, key_type, bits) -> the public key of root's new cluster key"),
    ("extstorage_diagnose", constants.RPC_TMO_FAST,
     "(nodes) -> per node list of ExtStorage providers"),
    ("all_instances_info", constants.RPC_TMO_URGENT,
     "(nodes, hv_names, all_hvparams) -> {name: info}"),
    ("instance_list", constants.RPC_TMO_URGENT, "(nodes, hv_names, all_hvparams)"),
    ("storage_list", constants.RPC_TMO_NORMAL,
     "(nodes, su_name, su_args, name, fields) -> rows of the fields"),
    ("node_volumes", constants.RPC_TMO_FAST, "(nodes) -> [{name, size, dev, vg}]"),
    ("export_list", constants.RPC_TMO_FAST, "(nodes) -> names of the exports"),
    ("restricted_command", constants.RPC_TMO_SLOW,
     "(nodes, cmd) -> the output of the node's restricted command cmd"),
]
for _name, _tmo, _doc in _SINGLE_NODE_CALLS:
    setattr(RpcRunner, "call_" + _name, _rpc_method(_name, _tmo, True, _doc))
for _name, _tmo, _doc in _MULTI_NODE_CALLS:
    setattr(RpcRunner, "call_" + _name, _rpc_method(_name, _tmo, False, _doc))
