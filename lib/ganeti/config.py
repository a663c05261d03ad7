"""The one writer of the cluster configuration (config.data).

All reads and writes of the configuration go through ConfigWriter. A write bumps
the serial numbers, replaces config.data atomically, and then calls the
``on_write`` hooks (masterd uses them to push ssconf files to every node and,
later, config.data to master candidates) before the job goes on.
"""

import threading
import time

from ganeti import constants, errors, objects, pathutils, serializer
from ganeti.utils import io


def _locked(fn):
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return fn(self, *args, **kwargs)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


class ConfigWriter:
    """Holds the configuration in memory and writes every change to disk."""

    def __init__(self, cfg_file=None, offline=False):
        self._cfg_file = cfg_file or pathutils.CLUSTER_CONF_FILE
        self._lock = threading.RLock()
        self._offline = offline
        self.on_write = []          # callables(config_writer) run after each write
        self._temporary_macs = set()
        self._load()

    # ---- loading and saving ----------------------------------------------------

    def _load(self):
        try:
            raw = io.read_file(self._cfg_file)
        except FileNotFoundError:
            raise errors.ConfigurationError(
                "Cannot read the cluster configuration %s: this node is not part of a"
                " cluster (or the cluster was not initialised)" % self._cfg_file)
        try:
            data = objects.ConfigData.from_dict(serializer.load_json(raw))
        except (ValueError, TypeError, AttributeError) as err:
            raise errors.ConfigurationError("Cannot parse %s: %s" % (self._cfg_file, err))
        if data.version // 10000 != constants.CONFIG_VERSION // 10000:
            raise errors.ConfigVersionMismatch(
                "Configuration version %s is not supported (expected %s)"
                % (data.version, constants.CONFIG_VERSION))
        if data.cluster is None:
            raise errors.ConfigurationError("%s has no cluster section" % self._cfg_file)
        self._data = data

    @staticmethod
    def write_initial(cfg_file, data):
        """Write a new configuration (used once, by cluster init)."""
        io.write_file(cfg_file, serializer.dump_json(data.to_dict()), mode=0o600, mkdir=True)

    def _write(self):
        now = time.time()
        self._data.serial_no += 1
        self._data.mtime = now
        io.write_file(self._cfg_file, serializer.dump_json(self._data.to_dict()), mode=0o600)
        for hook in self.on_write:
            hook(self)

    @_locked
    def reload(self):
        self._load()

    @_locked
    def dump_text(self):
        """config.data as written on disk (for replication)."""
        return serializer.dump_json(self._data.to_dict())

    # ---- cluster ------------------------------------------------------------------

    @_locked
    def get_cluster_info(self):
        return self._data.cluster.copy()

    @_locked
    def get_cluster_name(self):
        return self._data.cluster.cluster_name

    @_locked
    def get_master_node(self):
        return self._data.cluster.master_node

    @_locked
    def get_config_serial(self):
        return self._data.serial_no

    @_locked
    def get_master_network_parameters(self):
        cluster = self._data.cluster
        return {"name": cluster.master_node, "ip": cluster.master_ip,
                "netmask": cluster.master_netmask, "netdev": cluster.master_netdev,
                "ip_family": cluster.primary_ip_family,
                "use_external_mip_script": bool(cluster.use_external_mip_script)}

    # ---- nodes ----------------------------------------------------------------------

    @_locked
    def get_node_list(self):
        return sorted(self._data.nodes)

    @_locked
    def get_online_node_list(self):
        return sorted(n for n, node in self._data.nodes.items() if not node.offline)

    @_locked
    def get_node_info(self, name):
        node = self._data.nodes.get(name)
        return node.copy() if node else None

    @_locked
    def get_all_nodes_info(self):
        return dict((name, node.copy()) for name, node in self._data.nodes.items())

    @_locked
    def get_master_candidates(self):
        return sorted(n for n, node in self._data.nodes.items() if node.master_candidate)

    @_locked
    def expand_node_name(self, short_name):
        from ganeti.utils import text
        return text.match_name_component(short_name, list(self._data.nodes))

    @_locked
    def get_node_addresses(self, names):
        """[(name, primary_ip, offline)] for RPC; unknown names resolve to no address."""
        result = []
        for name in names:
            node = self._data.nodes.get(name)
            if node is None:
                result.append((name, None, False))
            else:
                result.append((name, node.primary_ip, node.offline))
        return result

    @_locked
    def add_node(self, node):
        if node.name in self._data.nodes:
            raise errors.ConfigurationError("Node %s already in the configuration" % node.name)
        if node.group not in self._data.nodegroups:
            raise errors.ConfigurationError("Unknown node group %s" % node.group)
        node.serial_no = 1
        node.ctime = node.mtime = time.time()
        self._data.nodes[node.name] = node.copy()
        self._data.nodegroups[node.group].members.append(node.name)
        self._data.cluster.serial_no += 1
        self._write()

    @_locked
    def remove_node(self, name):
        node = self._data.nodes.pop(name, None)
        if node is None:
            raise errors.ConfigurationError("Unknown node %s" % name)
        group = self._data.nodegroups.get(node.group)
        if group and name in group.members:
            group.members.remove(name)
        self._data.cluster.serial_no += 1
        self._write()

    # ---- node groups ------------------------------------------------------------------

    @_locked
    def get_all_node_groups_info(self):
        return dict((uuid, g.copy()) for uuid, g in self._data.nodegroups.items())

    @_locked
    def get_node_group(self, uuid):
        group = self._data.nodegroups.get(uuid)
        return group.copy() if group else None

    @_locked
    def lookup_node_group(self, name_or_uuid):
        """UUID of the group with this name or UUID (None: the default group)."""
        if name_or_uuid is None:
            if len(self._data.nodegroups) == 1:
                return list(self._data.nodegroups)[0]
            for uuid, group in self._data.nodegroups.items():
                if group.name == constants.INITIAL_NODE_GROUP_NAME:
                    return uuid
            raise errors.OpPrereqError("More than one node group exists; name the target"
                                       " group", errors.ECODE_INVAL)
        if name_or_uuid in self._data.nodegroups:
            return name_or_uuid
        for uuid, group in self._data.nodegroups.items():
            if group.name == name_or_uuid:
                return uuid
        raise errors.OpPrereqError("Node group '%s' not found" % name_or_uuid,
                                   errors.ECODE_NOENT)

    # ---- instances ----------------------------------------------------------------------

    @_locked
    def get_instance_list(self):
        return sorted(self._data.instances)

    @_locked
    def get_instance_info(self, name):
        inst = self._data.instances.get(name)
        return inst.copy() if inst else None

    @_locked
    def get_all_instances_info(self):
        return dict((name, inst.copy()) for name, inst in self._data.instances.items())

    @_locked
    def get_node_instances(self, node_name):
        """(primary instance names, secondary instance names) of a node."""
        pri, sec = [], []
        for name, inst in self._data.instances.items():
            if inst.primary_node == node_name:
                pri.append(name)
            elif node_name in inst.secondary_nodes:
                sec.append(name)
        return sorted(pri), sorted(sec)

    @_locked
    def add_instance(self, instance):
        if instance.name in self._data.instances:
            raise errors.ConfigurationError("Instance %s already exists" % instance.name)
        instance.serial_no = 1
        instance.ctime = instance.mtime = time.time()
        self._data.instances[instance.name] = instance.copy()
        self._data.cluster.serial_no += 1
        self._write()

    @_locked
    def rename_instance(self, old_name, new_name):
        """Store the instance under its new name (disk paths stay as they are)."""
        if new_name in self._data.instances:
            raise errors.ConfigurationError("Instance %s already exists" % new_name)
        inst = self._data.instances.pop(old_name, None)
        if inst is None:
            raise errors.ConfigurationError("Unknown instance %s" % old_name)
        inst.name = new_name
        inst.serial_no += 1
        inst.mtime = time.time()
        self._data.instances[new_name] = inst
        self._data.cluster.serial_no += 1
        self._write()

    @_locked
    def remove_instance(self, name):
        if self._data.instances.pop(name, None) is None:
            raise errors.ConfigurationError("Unknown instance %s" % name)
        self._data.cluster.serial_no += 1
        self._write()

    # ---- generic update ------------------------------------------------------------------

    @_locked
    def update(self, target, feedback_fn=None):
        """Store a changed copy of a Cluster, Node, NodeGroup or Instance."""
        if isinstance(target, objects.Cluster):
            store, key = None, None
            current = self._data.cluster
        elif isinstance(target, objects.Node):
            store, key = self._data.nodes, target.name
            current = store.get(key)
        elif isinstance(target, objects.Instance):
            store, key = self._data.instances, target.name
            current = store.get(key)
        elif isinstance(target, objects.NodeGroup):
            store, key = self._data.nodegroups, target.uuid
            current = store.get(key)
        else:
            raise errors.ProgrammerError("Cannot update objects of type %s" % type(target))
        if current is None:
            raise errors.ConfigurationError("Object %r is not in the configuration" % target)
        if current.serial_no != target.serial_no:
            raise errors.ConfigurationError(
                "Configuration object %r was modified concurrently (serial %s, expected %s)"
                % (target, target.serial_no, current.serial_no))
        new = target.copy()
        new.serial_no = current.serial_no + 1
        new.mtime = time.time()
        target.serial_no, target.mtime = new.serial_no, new.mtime
        if store is None:
            self._data.cluster = new
        else:
            if isinstance(new, objects.NodeGroup):
                new.members = list(current.members)
            store[key] = new
        if not isinstance(new, objects.Cluster):
            self._data.cluster.serial_no += 1
        self._write()

    # ---- ssconf ------------------------------------------------------------------------------

    @_locked
    def get_ssconf_values(self):
        """The values of every ssconf_* file (internals.md §3)."""
        cluster = self._data.cluster
        nodes = [self._data.nodes[n] for n in sorted(self._data.nodes)]

        def lines(items):
            return "\n".join(items)

        values = {
            constants.SS_CLUSTER_NAME: cluster.cluster_name,
            constants.SS_CLUSTER_TAGS: lines(sorted(cluster.tags)),
            constants.SS_FILE_STORAGE_DIR: cluster.file_storage_dir or "",
            constants.SS_SHARED_FILE_STORAGE_DIR: cluster.shared_file_storage_dir or "",
            constants.SS_GLUSTER_STORAGE_DIR: cluster.gluster_storage_dir or "",
            constants.SS_MASTER_CANDIDATES: lines(n.name for n in nodes if n.master_candidate),
            constants.SS_MASTER_CANDIDATES_IPS: lines(n.primary_ip for n in nodes
                                                      if n.master_candidate),
            constants.SS_MASTER_IP: cluster.master_ip,
            constants.SS_MASTER_NETDEV: cluster.master_netdev,
            constants.SS_MASTER_NETMASK: str(cluster.master_netmask),
            constants.SS_MASTER_NODE: cluster.master_node,
            constants.SS_NODE_LIST: lines(n.name for n in nodes),
            constants.SS_NODE_PRIMARY_IPS: lines("%s %s" % (n.name, n.primary_ip)
                                                 for n in nodes),
            constants.SS_NODE_SECONDARY_IPS: lines("%s %s" % (n.name, n.secondary_ip)
                                                   for n in nodes),
            constants.SS_NODE_VM_CAPABLE: lines("%s=%s" % (n.name, n.vm_capable) for n in nodes),
            constants.SS_OFFLINE_NODES: lines(n.name for n in nodes if n.offline),
            constants.SS_ONLINE_NODES: lines(n.name for n in nodes if not n.offline),
            constants.SS_PRIMARY_IP_FAMILY: str(cluster.primary_ip_family),
            constants.SS_INSTANCE_LIST: lines(sorted(self._data.instances)),
            constants.SS_RELEASE_VERSION: constants.RELEASE_VERSION,
            constants.SS_HYPERVISOR_LIST: lines(cluster.enabled_hypervisors),
            constants.SS_MAINTAIN_NODE_HEALTH: str(cluster.maintain_node_health),
            constants.SS_UID_POOL: lines(str(u) for u in cluster.uid_pool),
            constants.SS_NODEGROUPS: lines("%s %s" % (uuid, g.name) for uuid, g in
                                           sorted(self._data.nodegroups.items())),
            constants.SS_NETWORKS: lines("%s %s" % (uuid, n.get("name", "")) for uuid, n in
                                         sorted(self._data.networks.items())),
            constants.SS_ENABLED_USER_SHUTDOWN: str(cluster.enabled_user_shutdown),
        }
        for hv_name in cluster.enabled_hypervisors:
            params = cluster.hvparams.get(hv_name, {})
            values[constants.SS_HVPARAMS_PREF + hv_name] = lines(
                "%s=%s" % (k, params[k]) for k in sorted(params))
        return values

    # ---- verification ----------------------------------------------------------------------

    @_locked
    def verify_config(self):
        """Consistency problems of the configuration, as a list of messages."""
        result = []
        data = self._data
        cluster = data.cluster
        if cluster.master_node not in data.nodes:
            result.append("master node '%s' is not in the node list" % cluster.master_node)
        elif not data.nodes[cluster.master_node].master_candidate:
            result.append("master node '%s' is not a master candidate" % cluster.master_node)
        for hv_name in cluster.enabled_hypervisors:
            if hv_name not in constants.HYPER_TYPES:
                result.append("enabled hypervisor '%s' is unknown" % hv_name)
        for tmpl in cluster.enabled_disk_templates:
            if tmpl not in constants.DISK_TEMPLATES:
                result.append("enabled disk template '%s' is unknown" % tmpl)
        for name, node in data.nodes.items():
            if node.name != name:
                result.append("node '%s' is stored under the key '%s'" % (node.name, name))
            if node.group not in data.nodegroups:
                result.append("node '%s' belongs to unknown group '%s'" % (name, node.group))
        ips = {}
        for node in data.nodes.values():
            for ip in set([node.primary_ip, node.secondary_ip]):
                if ip in ips and ips[ip] != node.name:
                    result.append("IP address %s is used by nodes %s and %s"
                                  % (ip, ips[ip], node.name))
                ips[ip] = node.name
        for name, inst in data.instances.items():
            if inst.primary_node not in data.nodes:
                result.append("instance '%s' has unknown primary node '%s'"
                              % (name, inst.primary_node))
            for snode in inst.secondary_nodes:
                if snode not in data.nodes:
                    result.append("instance '%s' has unknown secondary node '%s'"
                                  % (name, snode))
            if inst.admin_state not in constants.ADMINST_ALL:
                result.append("instance '%s' has invalid admin state '%s'"
                              % (name, inst.admin_state))
        macs = {}
        for name, inst in data.instances.items():
            for nic in inst.nics:
                if nic.mac in macs:
                    result.append("MAC %s is used by instances %s and %s"
                                  % (nic.mac, macs[nic.mac], name))
                macs[nic.mac] = name
        return result
