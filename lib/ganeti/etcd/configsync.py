"""Each node's copies of the configuration, kept up to date from etcd.

The node daemon runs a ``ConfigSync`` thread: it reads the configuration
from etcd, writes ``config.data`` (on the master and master candidates; a
non-candidate has none) and the ssconf files, then follows etcd's changes
(a watch) and writes them again whenever the configuration's serial number
grows. A node that was cut off catches up as soon as it reaches an etcd
member again, without ``gnt-cluster redist-conf``. The master daemon also
writes its own node's copies after each change, and ``redist-conf`` pushes
them everywhere; a copy never goes back to an older serial, whichever
writer comes last.
"""

import json
import logging
import os
import threading

from ganeti import constants, errors, pathutils, ssconf
from ganeti.etcd import client as etcd_client
from ganeti.etcd import certs, configstore, member
from ganeti.utils import io, net

RETRY_INTERVAL = 1.0      # after an error, read everything again this much later
WATCH_TIMEOUT = 5.0
_write_lock = threading.Lock()   # compare and write of config.data, one at a time
_generation = [0]                # bumped by reset()
_running = []                    # the ConfigSync threads of this process
_latest = [None]                 # the configuration (a dict) as last written here


def latest():
    """The configuration as this node last wrote its copies from etcd (a dict
    like config.data), or None before the first write."""
    return _latest[0]


def reset() -> None:
    """This node joined an etcd cluster (etcd_join): read everything again
    from its own member, and write the copies whatever their serial (after a
    --no-voting recovery elsewhere, the old copy may carry a higher one)."""
    _generation[0] += 1
    for sync in list(_running):
        sync.wake.set()


def file_serial(path: str) -> int:
    """The serial number of the configuration in ``path`` (-1: none or unreadable)."""
    try:
        with open(path) as fd:
            return int(json.load(fd).get("serial_no", -1))
    except (OSError, ValueError, TypeError, AttributeError):
        return -1


def write_copy(text: str, path: str = None, force: bool = False,
               serial: int = None) -> bool:
    """Write a copy of config.data unless the present one is newer (or
    ``force``); True if written. ``serial``: the text's serial number, if
    the caller knows it (else it is read from the text)."""
    path = path or pathutils.CLUSTER_CONF_FILE
    if serial is None:
        try:
            serial = int(json.loads(text).get("serial_no", -1))
        except (ValueError, TypeError, AttributeError) as err:
            raise errors.ConfigurationError("Not a configuration: %s" % err)
    with _write_lock:
        if not force and file_serial(path) > serial:
            logging.info("Kept %s: it is newer than serial %s", path, serial)
            return False
        io.write_file(path, text, mode=0o600, mkdir=True)
    return True


def _endpoints():
    """Client URLs of the etcd members: this node's own first, if it has one."""
    spec = member.read_spec()
    ips = [spec["ip"]] if spec is not None else []
    ips += [ip for ip in ssconf.SimpleStore().read_list(constants.SS_MASTER_CANDIDATES_IPS)
            if ip not in ips]
    return [member.client_url(ip) for ip in ips]


def _own_ip(name: str):
    spec = member.read_spec()
    if spec is not None:
        return spec["ip"]
    try:
        return ssconf.SimpleStore().get_node_primary_ips().get(name)
    except ValueError:        # a malformed line: not known yet
        return None


def node_client(node_name: str, timeout: float = None):
    """An etcd client for this node (one without a member of its own gets a
    client certificate first)."""
    if not os.path.exists(pathutils.ETCD_CERT_FILE):
        ip = _own_ip(node_name)
        if ip is None:
            raise errors.GenericError("this node's address is not known yet")
        certs.ensure_node_cert(node_name, [ip])
    urls = _endpoints()
    if not urls:
        raise errors.GenericError("no etcd member known (no ssconf yet)")
    return etcd_client.Client(urls, pathutils.ETCD_CERT_FILE, pathutils.ETCD_CA_FILE,
                              timeout=timeout or WATCH_TIMEOUT)


class ConfigSync(threading.Thread):
    """Follows the configuration in etcd and writes this node's copies."""

    def __init__(self, stop_event: threading.Event, node_name: str = None):
        super().__init__(name="config-sync", daemon=True)
        self.stop_event = stop_event
        self.node_name = node_name or net.get_hostname()
        self.written_serial = -1
        self._generation = _generation[0]
        self.wake = threading.Event()      # ends the watch: read everything again

    def run(self):
        _running.append(self)
        last_error = None
        while not self.stop_event.is_set():
            self.wake.clear()
            try:
                self._follow()
            except errors.GenericError as err:
                # once per kind of trouble, not every second of an outage
                if str(err) != last_error:
                    logging.info("Configuration sync from etcd: %s; trying again every"
                                 " %ss", err, RETRY_INTERVAL)
                last_error = str(err)
            except Exception:  # a bug must not end the thread for good
                logging.exception("Configuration sync from etcd failed")
            if not self.wake.is_set():
                self.wake.wait(RETRY_INTERVAL)

    def _follow(self):
        client = node_client(self.node_name)
        kvs, revision = client.get_prefix(configstore.PREFIX)
        values = configstore.decode(kvs)
        self._write(values)
        for _, events in client.watch(configstore.PREFIX, revision + 1, self.wake):
            for kind, kv in events:
                if kind == "DELETE":
                    values.pop(kv.key, None)
                else:
                    values.update(configstore.decode([kv]))
            self._write(values)

    def _write(self, values):
        raw = configstore.assemble(values)
        if raw is None or raw.get("serial_no") is None:
            return
        force = self._generation != _generation[0]
        if force:
            self._generation, self.written_serial = _generation[0], -1
        if raw["serial_no"] <= self.written_serial:
            return
        from ganeti import backend, config
        cfg = config.ConfigWriter.from_dict(raw, source="the configuration in etcd")
        node = cfg.get_node_info(self.node_name)
        if node is None:
            return        # not (or no longer) a node of this cluster
        is_copy_holder = (node.master_candidate or
                          cfg.get_master_node() == self.node_name)
        if is_copy_holder:
            write_copy(cfg.dump_text(), force=force, serial=raw["serial_no"])
        backend.write_ssconf_files(cfg.get_ssconf_values())
        self.written_serial = raw["serial_no"]
        _latest[0] = raw
        logging.debug("Wrote the configuration copies, serial %s", raw["serial_no"])

