"""The one writer of the cluster configuration.

All reads and writes of the configuration go through ConfigWriter. It keeps
the configuration in memory and stores every change in one place:

- in etcd (``store``, a ganeti.etcd.configstore.ConfigStore), as the master
  daemon and a master failover do: a change is one transaction that holds
  only if nobody else changed the configuration since this writer read it,
  and is acknowledged once a majority of the etcd members have it. The
  ``config.data`` files on the nodes are copies written from etcd;
- or in the file ``config.data`` (no store): cluster init, tools and tests
  that work on a file.

A change touches the memory only once it is stored, so a failed write leaves
the writer as it was. The ``on_write`` hooks run after each write (masterd
writes its own node's config.data and ssconf copies with them).
"""

import logging
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

    def __init__(self, cfg_file=None, offline=False, store=None, raw=None,
                 source=None):
        self._cfg_file = cfg_file or pathutils.CLUSTER_CONF_FILE
        self._lock = threading.RLock()
        self._offline = offline
        self._store = store
        self._read_only = raw is not None
        self.on_write = []          # callables(config_writer) run after each write
        self._temporary_macs = set()
        # addresses of network pools that running jobs will use: (network
        # UUID, IP) -> owner (an LU); dropped when committed or by the owner
        self._temporary_ips = {}
        if raw is not None:
            self._data = self._parse(raw, source or "<data>")
        else:
            self._load()

    @classmethod
    def from_dict(cls, raw, source=None):
        """A writer that only reads: over a configuration as a dict (one from
        etcd), with no file and no store behind it."""
        return cls(raw=raw, source=source)

    # ---- loading and saving ----------------------------------------------------

    def _read_file(self):
        try:
            raw = io.read_file(self._cfg_file)
        except FileNotFoundError:
            raise errors.ConfigurationError(
                "Cannot read the cluster configuration %s: this node is not part of a"
                " cluster (or the cluster was not initialised)" % self._cfg_file)
        try:
            return serializer.load_json(raw)
        except ValueError as err:
            raise errors.ConfigurationError("Cannot parse %s: %s" % (self._cfg_file, err))

    def _load(self):
        source = self._cfg_file
        if self._store is None:
            raw = self._read_file()
        else:
            source = "the configuration in etcd"
            raw, _ = self._store.load()
            if raw is None:
                # the first master daemon of this cluster (or of a cluster made
                # before etcd): the configuration moves from config.data to etcd
                self._store.seed(self._read_file())
                raw, _ = self._store.load()
        self._data = self._parse(raw, source)

    def _parse(self, raw, source):
        try:
            data = objects.ConfigData.from_dict(raw)
        except (ValueError, TypeError, AttributeError) as err:
            raise errors.ConfigurationError("Cannot parse %s: %s" % (source, err))
        if data.version // 10000 != constants.CONFIG_VERSION // 10000:
            raise errors.ConfigVersionMismatch(
                "Configuration version %s is not supported (expected %s)"
                % (data.version, constants.CONFIG_VERSION))
        if data.cluster is None:
            raise errors.ConfigurationError("%s has no cluster section" % source)
        return data

    @staticmethod
    def write_initial(cfg_file, data):
        """Write a new configuration (used once, by cluster init)."""
        io.write_file(cfg_file, serializer.dump_json(data.to_dict()), mode=0o600, mkdir=True)

    def _commit(self, puts=(), deletes=(), cluster=None):
        """Store a change, then make it in memory.

        puts: (map name, key, object) to set; deletes: (map name, key) to
        remove; cluster: a new cluster object. Every change bumps the cluster's
        serial number and the configuration's own.
        """
        if self._read_only:
            raise errors.ProgrammerError("This configuration can only be read")
        data = self._data
        puts = list(puts) + self._network_pool_puts(puts, deletes)
        cluster = (cluster or data.cluster).copy()
        cluster.serial_no = data.cluster.serial_no + 1
        puts = puts + [("cluster", None, cluster)]
        meta = {"version": data.version, "serial_no": data.serial_no + 1,
                "ctime": data.ctime, "mtime": time.time()}
        if self._store is not None:
            from ganeti.etcd import configstore
            values = {}
            for kind, key, obj in puts:
                store_key = (configstore.CLUSTER_KEY if kind == "cluster"
                             else configstore.object_key(kind, key))
                values[store_key] = obj.to_dict()
            try:
                self._store.commit(meta, values,
                                   [configstore.object_key(k, n) for k, n in deletes])
            except errors.GenericError as err:
                self._reload_after_failed_commit()
                if isinstance(err, errors.ConfigurationError):
                    raise
                raise errors.ConfigurationError(
                    "Could not store the configuration change in etcd: %s" % err)
        for kind, key, obj in puts:
            if kind == "cluster":
                data.cluster = obj
            else:
                getattr(data, kind)[key] = obj
        for kind, key in deletes:
            getattr(data, kind).pop(key, None)
        data.serial_no, data.mtime = meta["serial_no"], meta["mtime"]
        self._derive_group_members()
        self._drop_committed_ips()
        if self._store is None:
            io.write_file(self._cfg_file, serializer.dump_json(data.to_dict()), mode=0o600)
        for hook in self.on_write:
            hook(self)

    def set_fence(self, fence):
        """Make every commit also pass ``fence()``'s compares (the master lease)."""
        if self._store is None:
            raise errors.ProgrammerError("This configuration is not kept in etcd")
        self._store.fence = fence

    def etcd_client(self):
        """The etcd client this configuration is read and stored through."""
        if self._store is None:
            raise errors.ProgrammerError("This configuration is not kept in etcd")
        return self._store.client

    def _reload_after_failed_commit(self):
        """What etcd holds now (another master may have changed it, or a commit
        whose outcome was unknown went through); as before if etcd cannot say."""
        try:
            self._load()
        except errors.GenericError as err:
            logging.warning("Could not re-read the configuration from etcd: %s", err)

    def _derive_group_members(self):
        for group in self._data.nodegroups.values():
            group.members = []
        for name, node in sorted(self._data.nodes.items()):
            group = self._data.nodegroups.get(node.group)
            if group is not None:
                group.members.append(name)

    @_locked
    def reload(self):
        if not self._read_only:
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
        self._commit(puts=[("nodes", node.name, node.copy())])

    @_locked
    def remove_node(self, name):
        if name not in self._data.nodes:
            raise errors.ConfigurationError("Unknown node %s" % name)
        self._commit(deletes=[("nodes", name)])

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
        """UUID of the group with this name or UUID (None: the only group; with
        several, Ganeti's error)."""
        if name_or_uuid is None:
            if len(self._data.nodegroups) == 1:
                return list(self._data.nodegroups)[0]
            raise errors.OpPrereqError("More than one node group exists. Target group must"
                                       " be specified explicitly.", errors.ECODE_INVAL)
        uuid = self._find_group(name_or_uuid)
        if uuid is None:
            raise errors.OpPrereqError("Node group '%s' not found" % name_or_uuid,
                                       errors.ECODE_NOENT)
        return uuid

    @staticmethod
    def _find_by_name(items, name_or_uuid):
        """The key (UUID) of the item of ``items`` with this UUID or name, or None."""
        if name_or_uuid in items:
            return name_or_uuid
        for uuid, item in items.items():
            if item.name == name_or_uuid:
                return uuid
        return None

    def _find_group(self, name_or_uuid):
        return self._find_by_name(self._data.nodegroups, name_or_uuid)

    # the name checks below run under the config lock, so two jobs cannot both
    # take one name (the LUs check first, for a message before any change)

    @_locked
    def add_node_group(self, group):
        """Store a new, empty group (serial 1, timestamps now)."""
        taken = self._find_group(group.name)
        if taken is not None:
            raise errors.OpPrereqError("Desired group name '%s' already exists as a"
                                       " node group (UUID: %s)" % (group.name, taken),
                                       errors.ECODE_EXISTS)
        if group.uuid in self._data.nodegroups:
            raise errors.ConfigurationError("Node group UUID %s already in use" % group.uuid)
        group = group.copy()
        group.serial_no = 1
        group.ctime = group.mtime = time.time()
        self._commit(puts=[("nodegroups", group.uuid, group)])

    @_locked
    def rename_node_group(self, uuid, new_name):
        """Give the group ``uuid`` a new name; its UUID and members stay."""
        group = self._data.nodegroups.get(uuid)
        if group is None:
            raise errors.ConfigurationError("Unknown node group '%s'" % uuid)
        taken = self._find_group(new_name)
        if taken is not None:
            raise errors.OpPrereqError("Desired new name '%s' clashes with existing node"
                                       " group (UUID: %s)" % (new_name, taken),
                                       errors.ECODE_EXISTS)
        group = group.copy()
        group.name = new_name
        group.serial_no += 1
        group.mtime = time.time()
        self._commit(puts=[("nodegroups", uuid, group)])

    @_locked
    def remove_node_group(self, uuid):
        """Drop an empty group; the last group always stays."""
        if uuid not in self._data.nodegroups:
            raise errors.ConfigurationError("Unknown node group '%s'" % uuid)
        if len(self._data.nodegroups) == 1:
            raise errors.ConfigurationError("Node group '%s' is the only group" % uuid)
        members = sorted(n for n, node in self._data.nodes.items() if node.group == uuid)
        if members:
            raise errors.ConfigurationError("Node group '%s' still has nodes: %s"
                                            % (uuid, ", ".join(members)))
        self._commit(deletes=[("nodegroups", uuid)])

    @_locked
    def assign_group_nodes(self, mods):
        """Move nodes between groups in one change: ``mods`` is [(node name, group
        UUID)]. The nodes and the groups they leave and join get new serials."""
        now = time.time()
        changed = {}
        for name, uuid in mods:
            node = changed.get(("nodes", name)) or self._data.nodes.get(name)
            if node is None:
                raise errors.ConfigurationError("Unable to find node '%s'" % name)
            if uuid not in self._data.nodegroups:
                raise errors.ConfigurationError("Unable to find new group '%s'" % uuid)
            if node.group == uuid:
                continue
            for group_uuid in (node.group, uuid):
                if group_uuid in self._data.nodegroups and \
                        ("nodegroups", group_uuid) not in changed:
                    group = self._data.nodegroups[group_uuid].copy()
                    group.serial_no += 1
                    group.mtime = now
                    changed[("nodegroups", group_uuid)] = group
            node = node.copy()
            node.group = uuid
            node.serial_no += 1
            node.mtime = now
            changed[("nodes", name)] = node
        if changed:
            self._commit(puts=[(kind, key, obj) for (kind, key), obj in changed.items()])

    # ---- networks ------------------------------------------------------------------------
    # An instance NIC's (network, IP) is taken in the network's pool by the
    # commit that stores the instance (netpool.py keeps the bitmaps); jobs hold
    # the addresses they are about to use as temporary reservations meanwhile.

    @_locked
    def get_all_networks_info(self):
        return dict((uuid, n.copy()) for uuid, n in self._data.networks.items())

    @_locked
    def get_network(self, uuid):
        net = self._data.networks.get(uuid)
        return net.copy() if net else None

    def _find_network(self, name_or_uuid):
        return self._find_by_name(self._data.networks, name_or_uuid)

    @_locked
    def lookup_network(self, name_or_uuid):
        """The UUID of the network with this name or UUID (None for None)."""
        if name_or_uuid is None:
            return None
        uuid = self._find_network(name_or_uuid)
        if uuid is None:
            raise errors.OpPrereqError("Network '%s' not found" % name_or_uuid,
                                       errors.ECODE_NOENT)
        return uuid

    @_locked
    def add_network(self, net):
        """Store a new network (serial 1, timestamps now)."""
        taken = self._find_network(net.name)
        if taken is not None:
            raise errors.OpPrereqError("Desired network name '%s' already exists as a"
                                       " network (UUID: %s)" % (net.name, taken),
                                       errors.ECODE_EXISTS)
        net = net.copy()
        net.serial_no = 1
        net.ctime = net.mtime = time.time()
        self._commit(puts=[("networks", net.uuid, net)])

    @_locked
    def remove_network(self, uuid):
        if uuid not in self._data.networks:
            raise errors.ConfigurationError("Unknown network '%s'" % uuid)
        self._commit(deletes=[("networks", uuid)])

    @_locked
    def get_group_netparams(self, net_uuid, node_name):
        """The mode/link/vlan the network has in the node's group (None: the
        network is not connected there)."""
        node = self._data.nodes.get(node_name)
        group = self._data.nodegroups.get(node.group) if node else None
        params = group.networks.get(net_uuid) if group else None
        return dict(params) if params is not None else None

    @_locked
    def network_of_ip_in_group(self, ip, node_name):
        """The name of a network connected to the node's group that contains
        ``ip``, or None."""
        from ganeti import netpool
        node = self._data.nodes.get(node_name)
        group = self._data.nodegroups.get(node.group) if node else None
        for uuid in sorted(group.networks if group else []):
            net = self._data.networks.get(uuid)
            if net is not None and netpool.AddressPool(net.copy()).contains(ip):
                return net.name
        return None

    def _pool(self, net_uuid):
        from ganeti import netpool
        net = self._data.networks.get(net_uuid)
        if net is None:
            raise errors.ReservationError("Unknown network '%s'" % net_uuid)
        return netpool.AddressPool(net.copy())

    @_locked
    def reserve_ip(self, net_uuid, address, owner, check=True):
        """Hold ``address`` of the network for ``owner`` (None: only check).
        ReservationError if it is outside the network or in use (with
        ``check``, also if reserved externally)."""
        pool = self._pool(net_uuid)
        if not pool.contains(address):
            raise errors.ReservationError("IP address not in network")
        holder = self._temporary_ips.get((net_uuid, address), owner)
        if pool.is_reserved(address) or holder is not owner:
            raise errors.ReservationError("IP address already in use")
        if check and pool.is_reserved(address, external=True):
            raise errors.ReservationError("IP is externally reserved")
        if owner is not None:
            self._temporary_ips[(net_uuid, address)] = owner

    @_locked
    def generate_ip(self, net_uuid, owner):
        """The first free address of the network, held for ``owner``."""
        pool = self._pool(net_uuid)
        held = set(ip for (uuid, ip) in self._temporary_ips if uuid == net_uuid)
        address = pool.first_free(skip=held)
        if owner is not None:
            self._temporary_ips[(net_uuid, address)] = owner
        return address

    @_locked
    def drop_ip_reservations(self, owner):
        """Forget the temporary reservations of ``owner`` (its job ends)."""
        for key in [k for k, v in self._temporary_ips.items() if v is owner]:
            del self._temporary_ips[key]

    def _drop_committed_ips(self):
        for net_uuid, address in list(self._temporary_ips):
            net = self._data.networks.get(net_uuid)
            if net is None or self._pool(net_uuid).is_reserved(address):
                del self._temporary_ips[(net_uuid, address)]

    @staticmethod
    def _nic_addresses(instances):
        return [(nic.network, nic.ip) for inst in instances for nic in inst.nics
                if nic.network and nic.ip]

    def _network_pool_puts(self, puts, deletes):
        """The networks whose pools change with the instances a commit stores or
        deletes: the addresses their NICs stop using are freed, those they
        start using taken (ConfigurationError if another NIC has one)."""
        from ganeti import netpool
        keys = set(key for kind, key, _ in puts if kind == "instances")
        keys.update(key for kind, key in deletes if kind == "instances")
        old = self._nic_addresses(self._data.instances[k] for k in keys
                                  if k in self._data.instances)
        new = self._nic_addresses(obj for kind, _, obj in puts if kind == "instances")
        if sorted(old) == sorted(new):
            return []
        pools = {}
        for kind, key, obj in puts:
            if kind == "networks":
                pools[key] = netpool.AddressPool(obj)

        def pool_of(net_uuid):
            if net_uuid not in pools and net_uuid in self._data.networks:
                pools[net_uuid] = netpool.AddressPool(self._data.networks[net_uuid].copy())
            return pools.get(net_uuid)

        for net_uuid, address in set(old) - set(new):
            pool = pool_of(net_uuid)
            if pool is not None and pool.contains(address) and pool.is_reserved(address):
                pool.release(address)
        for net_uuid, address in set(new) - set(old):
            pool = pool_of(net_uuid)
            if pool is None or not pool.contains(address):
                continue
            if pool.is_reserved(address):
                raise errors.ConfigurationError("IP %s of network %s is in use already"
                                                % (address, pool.net.name))
            pool.reserve(address)
        return [("networks", uuid, pool.net) for uuid, pool in pools.items()
                if not any(kind == "networks" and key == uuid for kind, key, _ in puts)]

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
        self._commit(puts=[("instances", instance.name, instance.copy())])

    @_locked
    def rename_instance(self, old_name, new_name):
        """Store the instance under its new name (disk paths stay as they are)."""
        if new_name in self._data.instances:
            raise errors.ConfigurationError("Instance %s already exists" % new_name)
        inst = self._data.instances.get(old_name)
        if inst is None:
            raise errors.ConfigurationError("Unknown instance %s" % old_name)
        inst = inst.copy()
        inst.name = new_name
        inst.serial_no += 1
        inst.mtime = time.time()
        self._commit(puts=[("instances", new_name, inst)],
                     deletes=[("instances", old_name)])

    @_locked
    def remove_instance(self, name):
        if name not in self._data.instances:
            raise errors.ConfigurationError("Unknown instance %s" % name)
        self._commit(deletes=[("instances", name)])

    # ---- DRBD minors and the cluster's TCP port pool ------------------------------------

    def _used_drbd_minors(self):
        """{node: set of minors} of every drbd disk in the configuration."""
        used = {}

        def walk(disk):
            if disk.dev_type == constants.DT_DRBD8 and disk.logical_id:
                node_a, node_b, _, minor_a, minor_b = disk.logical_id[:5]
                used.setdefault(node_a, set()).add(int(minor_a))
                used.setdefault(node_b, set()).add(int(minor_b))
            for child in disk.children or []:
                walk(child)

        for inst in self._data.instances.values():
            for disk in inst.disks:
                walk(disk)
        return used

    @_locked
    def allocate_drbd_minors(self, nodes):
        """The lowest free minor on each of ``nodes`` (a list; a node named twice
        gets two minors), in that order. Minors of the configuration's disks are
        in use; the caller holds the nodes' locks, so nobody else takes one
        before its disks are stored."""
        used = self._used_drbd_minors()
        result = []
        for node in nodes:
            taken = used.setdefault(node, set())
            minor = 0
            while minor in taken:
                minor += 1
            if minor >= constants.DRBD_MAX_MINORS:
                raise errors.ConfigurationError("No free DRBD minor left on node %s"
                                                " (%d in use)" % (node, len(taken)))
            taken.add(minor)
            result.append(minor)
        return result

    @_locked
    def allocate_port(self):
        """A TCP port of the cluster's pool (for a DRBD disk), stored as used at once:
        a freed one first, else the next above the highest used."""
        cluster = self._data.cluster.copy()
        pool = list(cluster.tcpudp_port_pool or [])
        if pool:
            port = pool.pop(0)
            cluster.tcpudp_port_pool = pool
        else:
            port = cluster.highest_used_port + 1
            if port > constants.LAST_DRBD_PORT:
                raise errors.ConfigurationError(
                    "The cluster's TCP port pool is exhausted (ports %d-%d are used)"
                    % (constants.FIRST_DRBD_PORT, constants.LAST_DRBD_PORT))
            cluster.highest_used_port = port
        self._commit(cluster=cluster)
        return port

    @_locked
    def release_ports(self, ports):
        """Give ``ports`` back to the pool (their disks are gone)."""
        ports = [int(p) for p in ports or []]
        if not ports:
            return
        cluster = self._data.cluster.copy()
        pool = list(cluster.tcpudp_port_pool or [])
        pool.extend(p for p in ports if p not in pool)
        cluster.tcpudp_port_pool = sorted(pool)
        self._commit(cluster=cluster)

    # ---- job filter rules (gnt-filter) ----------------------------------------------------

    @_locked
    def get_filters(self):
        """{uuid: FilterRule} copies of the job filter rules."""
        return dict((uuid, rule.copy()) for uuid, rule in self._data.filters.items())

    @_locked
    def set_filter(self, rule):
        """Store a job filter rule under its UUID (a new one, or replacing one)."""
        self._commit(puts=[("filters", rule.uuid, rule.copy())])

    @_locked
    def remove_filter(self, uuid):
        if uuid not in self._data.filters:
            raise errors.ConfigurationError("Unknown filter rule %s" % uuid)
        self._commit(deletes=[("filters", uuid)])

    # ---- generic update ------------------------------------------------------------------

    @_locked
    def update(self, target, feedback_fn=None):
        """Store a changed copy of a Cluster, Node, NodeGroup or Instance."""
        if isinstance(target, objects.Cluster):
            kind, key = "cluster", None
            current = self._data.cluster
        elif isinstance(target, objects.Node):
            kind, key = "nodes", target.name
            current = self._data.nodes.get(key)
        elif isinstance(target, objects.Instance):
            kind, key = "instances", target.name
            current = self._data.instances.get(key)
        elif isinstance(target, objects.NodeGroup):
            kind, key = "nodegroups", target.uuid
            current = self._data.nodegroups.get(key)
        elif isinstance(target, objects.Network):
            kind, key = "networks", target.uuid
            current = self._data.networks.get(key)
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
        if kind == "cluster":
            self._commit(cluster=new)
        else:
            self._commit(puts=[(kind, key, new)])
        target.serial_no, target.mtime = new.serial_no, new.mtime

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
            constants.SS_NETWORKS: lines("%s %s" % (uuid, n.name) for uuid, n in
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


def etcd_writer(timeout: float = 10.0, wait: float = 0.0, local=None) -> ConfigWriter:
    """The writer of the configuration held in etcd (the master's).

    This node's config.data, a copy, names the master candidates whose etcd
    members to ask; it may be old, but it only has to name one live member.
    A first start seeds etcd from config.data (ConfigWriter._load). While etcd
    cannot answer (a member just back from a partition has no leader for a
    moment), it is asked again for up to ``wait`` seconds. ``local``: this
    node's copy, if the caller has read it already.
    """
    from ganeti.etcd import configstore, membership
    local = local or ConfigWriter()
    end = time.time() + wait
    while True:
        try:
            return ConfigWriter(store=configstore.ConfigStore(
                membership.client_for(local, timeout=timeout)))
        except errors.EtcdUnavailableError as err:
            if time.time() >= end:
                raise
            logging.info("etcd cannot answer yet (%s); asking again", err)
            time.sleep(1.0)
