"""Networks (gnt-network): add, modify, remove, connect to and disconnect from
node groups, and the network query.

A network is an IPv4 subnet with an address pool (netpool.py). Connected to
a node group with a NIC mode, link and VLAN, it lends those to the NICs of
the group's instances that name it (cmdlib/instance_nics.py); their
addresses come from its pool. Messages are Ganeti's, so scripts that match
them keep working.
"""

import re

from ganeti import constants, errors, locking, netpool, objects, query
from ganeti.cmdlib.base import LogicalUnit
from ganeti.utils import text

_MAC_PREFIX_RE = re.compile(r"^([0-9a-f]{2}:){2}[0-9a-f]{2}$")


def normalize_mac_prefix(prefix):
    """``prefix`` in lower case; OpPrereqError unless it is three octets."""
    norm = prefix.lower() if isinstance(prefix, str) else ""
    if not _MAC_PREFIX_RE.match(norm):
        raise errors.OpPrereqError("Invalid MAC address prefix '%s'" % (prefix,),
                                   errors.ECODE_INVAL)
    return norm


def _hooks_env(name, subnet, gateway, network6, gateway6, mac_prefix, tags):
    """The NETWORK_* hook variables of the values that are set."""
    env = {}
    for key, value in (("NAME", name), ("SUBNET", subnet), ("GATEWAY", gateway),
                       ("SUBNET6", network6), ("GATEWAY6", gateway6),
                       ("MAC_PREFIX", mac_prefix)):
        if value:
            env["NETWORK_" + key] = value
    if tags:
        env["NETWORK_TAGS"] = " ".join(tags)
    return env


def _master_hooks_nodes(lu):
    master = lu.cfg.get_master_node()
    return [master], [master]


def _new_pool(net):
    """The pool of a new network's object; OpExecError (Ganeti's words) if the
    subnet is malformed, too big or too small, or lacks the gateway."""
    try:
        return netpool.AddressPool.initialize(net)
    except ValueError as err:
        raise errors.OpExecError(str(err))
    except netpool.AddressPoolError as err:
        raise errors.OpExecError("Cannot create IP address pool for network '%s': %s"
                                 % (net.name, err))


# ---- the query --------------------------------------------------------------------------

class NetworkQueryData:
    """What network fields read: the groups and instances of the config."""

    def __init__(self, groups, instances):
        # Ganeti lists both in the order of their UUIDs
        self.groups = sorted(groups, key=lambda g: g.uuid)
        self.instances = sorted(instances, key=lambda i: i.uuid)


def _pool(net):
    return netpool.AddressPool(net.copy())


def _maybe(value):
    return query.UNAVAIL if value is None else value


def _connections(ctx, net):
    """[group name, mode, link, vlan] of each group the network is connected to."""
    result = []
    for group in ctx.groups:
        params = group.networks.get(net.uuid)
        if params is not None:
            result.append([group.name, params.get(constants.NIC_MODE, "-"),
                           params.get(constants.NIC_LINK, "-"),
                           params.get(constants.NIC_VLAN, "-")])
    return result


def _users(ctx, net):
    return [inst.name for inst in ctx.instances
            if any(nic.network == net.uuid for nic in inst.nics)]


_F = query.Field
NETWORK_FIELDS = query.fields_table([
    _F("name", "Network", query.QFT_TEXT, "Name", lambda c, n: n.name),
    _F("network", "Subnet", query.QFT_TEXT, "IPv4 subnet", lambda c, n: n.network),
    _F("gateway", "Gateway", query.QFT_OTHER, "IPv4 gateway", lambda c, n: _maybe(n.gateway)),
    _F("network6", "IPv6Subnet", query.QFT_OTHER, "IPv6 subnet",
       lambda c, n: _maybe(n.network6)),
    _F("gateway6", "IPv6Gateway", query.QFT_OTHER, "IPv6 gateway",
       lambda c, n: _maybe(n.gateway6)),
    _F("mac_prefix", "MacPrefix", query.QFT_OTHER, "MAC address prefix",
       lambda c, n: _maybe(n.mac_prefix)),
    _F("free_count", "FreeCount", query.QFT_NUMBER, "Number of available addresses",
       lambda c, n: _pool(n).free_count()),
    _F("map", "Map", query.QFT_TEXT, "Actual mapping", lambda c, n: _pool(n).usage_map()),
    _F("reserved_count", "ReservedCount", query.QFT_NUMBER, "Number of reserved addresses",
       lambda c, n: _pool(n).reserved_count()),
    _F("group_list", "GroupList", query.QFT_OTHER,
       "List of nodegroups (group name, NIC mode, NIC link)", _connections),
    _F("group_cnt", "NodeGroups", query.QFT_NUMBER, "Number of nodegroups",
       lambda c, n: len(_connections(c, n))),
    _F("inst_list", "InstanceList", query.QFT_OTHER, "List of instances", _users),
    _F("inst_cnt", "Instances", query.QFT_NUMBER, "Number of instances",
       lambda c, n: len(_users(c, n))),
    _F("external_reservations", "ExternalReservations", query.QFT_TEXT,
       "External reservations", lambda c, n: ", ".join(_pool(n).external_reservations())),
    _F("ctime", "CTime", query.QFT_TIMESTAMP, "Creation timestamp", lambda c, n: n.ctime),
    _F("mtime", "MTime", query.QFT_TIMESTAMP, "Modification timestamp",
       lambda c, n: n.mtime),
    _F("uuid", "UUID", query.QFT_TEXT, "Network UUID", lambda c, n: n.uuid),
    _F("serial_no", "SerialNo", query.QFT_NUMBER,
       "Network object serial number, incremented on each modification",
       lambda c, n: n.serial_no),
    _F("tags", "Tags", query.QFT_OTHER, "Tags", lambda c, n: sorted(n.tags)),
])
query.register_resource(query.QR_NETWORK, NETWORK_FIELDS)


def query_networks(context, fields, qfilter):
    """Answer a network query from the configuration."""
    from ganeti.cmdlib.query import requested_names
    cfg = context.cfg
    networks = cfg.get_all_networks_info()
    wanted = requested_names(qfilter)
    if wanted:
        by_name = dict((n.name, n) for n in networks.values())
        items = [by_name[name] for name in dict.fromkeys(wanted) if name in by_name]
    else:
        items = text.nice_sort(networks.values(), key=lambda n: n.name)
    ctx = NetworkQueryData(cfg.get_all_node_groups_info().values(),
                           cfg.get_all_instances_info().values())
    return query.run_query(query.QR_NETWORK, fields, items, ctx, qfilter)


# ---- add, modify, remove -----------------------------------------------------------------

class LUNetworkAdd(LogicalUnit):
    HPATH = "network-add"
    HTYPE = constants.HTYPE_NETWORK
    REQ_BGL = False

    def check_arguments(self):
        if self.op.mac_prefix:
            self.op.mac_prefix = normalize_mac_prefix(self.op.mac_prefix)

    def expand_names(self):
        # the nodes' addresses are reserved in the pool: they must stay put
        if self.op.conflicts_check:
            self.needed_locks = {locking.LEVEL_NODE: locking.ALL_SET}
            self.share_locks[locking.LEVEL_NODE] = 1

    def check_prereq(self):
        op = self.op
        try:
            existing = self.cfg.lookup_network(op.network_name)
        except errors.OpPrereqError:
            pass
        else:
            raise errors.OpPrereqError("Desired network name '%s' already exists as a"
                                       " network (UUID: %s)" % (op.network_name, existing),
                                       errors.ECODE_EXISTS)
        for tag in op.tags:
            objects.Network.validate_tag(tag)

    def build_hooks_env(self):
        op = self.op
        return _hooks_env(op.network_name, op.network, op.gateway, op.network6,
                          op.gateway6, op.mac_prefix, op.tags)

    def build_hooks_nodes(self):
        return _master_hooks_nodes(self)

    def exec(self, feedback_fn):
        op = self.op
        net = objects.Network(name=op.network_name, network=op.network,
                              gateway=op.gateway, network6=op.network6,
                              gateway6=op.gateway6, mac_prefix=op.mac_prefix,
                              tags=sorted(set(op.tags)))
        pool = _new_pool(net)
        if op.conflicts_check:
            self._reserve_cluster_addresses(pool)
        for ip in op.add_reserved_ips or []:
            try:
                pool.reserve(ip, external=True)
            except netpool.AddressPoolError as err:
                raise errors.OpExecError("Cannot reserve IP address '%s': %s" % (ip, err))
        self.cfg.add_network(net)
        self.glm.add(locking.LEVEL_NETWORK, [net.uuid])

    def _reserve_cluster_addresses(self, pool):
        """The nodes' and the master's addresses are no instance's to take."""
        for node in sorted(self.cfg.get_all_nodes_info().values(), key=lambda n: n.name):
            for ip in dict.fromkeys([node.primary_ip, node.secondary_ip]):
                if not pool.contains(ip):
                    continue
                try:
                    pool.reserve(ip, external=True)
                    self.log_info("Reserved IP address of node '%s' (%s)", node.name, ip)
                except netpool.AddressPoolError as err:
                    self.log_warning("Cannot reserve IP address '%s' of node '%s': %s",
                                     ip, node.name, err)
        master_ip = self.cfg.get_cluster_info().master_ip
        if pool.contains(master_ip):
            try:
                pool.reserve(master_ip, external=True)
                self.log_info("Reserved cluster master IP address (%s)", master_ip)
            except netpool.AddressPoolError as err:
                self.log_warning("Cannot reserve cluster master IP address (%s): %s",
                                 master_ip, err)


class _NetworkLU(LogicalUnit):
    """An operation on one existing network."""
    HTYPE = constants.HTYPE_NETWORK
    REQ_BGL = False

    def expand_names(self):
        self.network_uuid = self.cfg.lookup_network(self.op.network_name)
        self.needed_locks = {locking.LEVEL_NETWORK: [self.network_uuid]}

    def _network(self):
        net = self.cfg.get_network(self.network_uuid)
        if net is None:
            raise errors.OpPrereqError("Network '%s' not found" % self.op.network_name,
                                       errors.ECODE_NOENT)
        return net

    def build_hooks_nodes(self):
        return _master_hooks_nodes(self)


class LUNetworkRemove(_NetworkLU):
    HPATH = "network-remove"

    def expand_names(self):
        _NetworkLU.expand_names(self)
        # no group may connect it meanwhile
        self.needed_locks[locking.LEVEL_NODEGROUP] = locking.ALL_SET
        self.share_locks[locking.LEVEL_NODEGROUP] = 1

    def check_prereq(self):
        self._network()
        groups = [g.name for g in self.cfg.get_all_node_groups_info().values()
                  if self.network_uuid in g.networks]
        if groups:
            self.log_warning("Network '%s' is connected to the following node groups: %s"
                             % (self.op.network_name, ", ".join(text.nice_sort(groups))))
            raise errors.OpPrereqError("Network still connected", errors.ECODE_STATE)

    def build_hooks_env(self):
        return {"NETWORK_NAME": self.op.network_name}

    def exec(self, feedback_fn):
        self.cfg.remove_network(self.network_uuid)
        self.glm.remove(locking.LEVEL_NETWORK, [self.network_uuid])


def _new_value(requested, current):
    """A modify's value: unchanged (None), dropped ("none") or the new one."""
    if requested is None:
        return current
    return None if requested == constants.VALUE_NONE else requested


class LUNetworkSetParams(_NetworkLU):
    HPATH = "network-modify"

    def check_arguments(self):
        op = self.op
        if op.gateway and (op.add_reserved_ips or op.remove_reserved_ips):
            raise errors.OpPrereqError("Cannot modify gateway and reserved ips at once",
                                       errors.ECODE_INVAL)
        if op.mac_prefix and op.mac_prefix != constants.VALUE_NONE:
            op.mac_prefix = normalize_mac_prefix(op.mac_prefix)

    def check_prereq(self):
        op = self.op
        self.network = net = self._network()
        self.pool = netpool.AddressPool(net)
        self.gateway = _new_value(op.gateway, net.gateway)
        if op.gateway and self.gateway is not None:
            if not self.pool.contains(self.gateway):
                raise errors.OpPrereqError("Gateway IP address '%s' is not in network %s"
                                           % (self.gateway, net.network),
                                           errors.ECODE_INVAL)
            if self.gateway != net.gateway and self.pool.is_reserved(self.gateway):
                raise errors.OpPrereqError("Gateway IP address '%s' is already reserved"
                                           % self.gateway, errors.ECODE_STATE)
        self.mac_prefix = _new_value(op.mac_prefix, net.mac_prefix)
        self.network6 = _new_value(op.network6, net.network6)
        self.gateway6 = _new_value(op.gateway6, net.gateway6)

    def build_hooks_env(self):
        return _hooks_env(self.op.network_name, self.network.network, self.gateway,
                          self.network6, self.gateway6, self.mac_prefix, self.network.tags)

    def exec(self, feedback_fn):
        op, net, pool = self.op, self.network, self.pool
        if op.gateway:
            if self.gateway == net.gateway:
                self.log_warning("Gateway is already %s", self.gateway)
            else:
                if self.gateway:
                    pool.reserve(self.gateway, external=True)
                if net.gateway:
                    pool.release(net.gateway, external=True)
                net.gateway = self.gateway
        for ip in op.add_reserved_ips or []:
            try:
                pool.reserve(ip, external=True)
            except netpool.AddressPoolError as err:
                self.log_warning("Cannot reserve IP address %s: %s", ip, err)
        for ip in op.remove_reserved_ips or []:
            if ip == net.gateway:
                self.log_warning("Cannot unreserve Gateway's IP")
                continue
            try:
                pool.release(ip, external=True)
            except netpool.AddressPoolError as err:
                self.log_warning("Cannot release IP address %s: %s", ip, err)
        net.mac_prefix, net.network6, net.gateway6 = \
            self.mac_prefix, self.network6, self.gateway6
        self.cfg.update(net, feedback_fn)


# ---- connect, disconnect -----------------------------------------------------------------

def group_instances(cfg, group_uuid):
    """Names of the instances with a node in the group."""
    members = set(name for name, node in cfg.get_all_nodes_info().items()
                  if node.group == group_uuid)
    return text.nice_sort(name for name, inst in cfg.get_all_instances_info().items()
                          if members.intersection(inst.all_nodes))


class _ConnectionLU(LogicalUnit):
    """Connect or disconnect: the group's lock, and shared locks on its
    instances, whose NICs are checked for addresses of the network."""
    HTYPE = constants.HTYPE_NETWORK
    REQ_BGL = False
    ACTION = None           # the words of the conflict warning
    CHECKS_INSTANCES = True

    def expand_names(self):
        self.network_uuid = self.cfg.lookup_network(self.op.network_name)
        self.group_uuid = self.cfg.lookup_node_group(self.op.group_name)
        self.needed_locks = {locking.LEVEL_INSTANCE: [],
                             locking.LEVEL_NODEGROUP: [self.group_uuid]}
        self.share_locks[locking.LEVEL_INSTANCE] = 1

    def declare_locks(self, level):
        # the group's instances as they are now; checked again under the group lock
        if level == locking.LEVEL_INSTANCE and self.CHECKS_INSTANCES:
            self.needed_locks[level] = group_instances(self.cfg, self.group_uuid)

    def _check_locked_instances(self):
        owned = sorted(self.glm.list_owned(locking.LEVEL_INSTANCE))
        wanted = group_instances(self.cfg, self.group_uuid)
        if sorted(wanted) != owned:
            raise errors.OpPrereqError(
                "Instances in node group '%s' changed since locks were acquired, wanted"
                " '%s', have '%s'; retry the operation"
                % (self.group_uuid, ", ".join(wanted), ", ".join(owned)),
                errors.ECODE_STATE)
        return wanted

    def _check_conflicts(self, instances, in_use):
        """Refuse when NICs of the group's instances have addresses ``in_use``
        says belong to the network (Ganeti's warning lists them)."""
        conflicts = []
        for name in instances:
            inst = self.cfg.get_instance_info(name)
            found = ["nic%d/%s" % (idx, nic.ip) for idx, nic in enumerate(inst.nics)
                     if in_use(nic)]
            if found:
                conflicts.append("%s: %s" % (name, ", ".join(found)))
        if conflicts:
            self.log_warning("IP addresses from network '%s', which is about to %s node"
                             " group '%s', are in use: %s"
                             % (self.op.network_name, self.ACTION, self.group.name,
                                ", ".join(conflicts)))
            raise errors.OpPrereqError("Conflicting IP addresses found;  remove/modify the"
                                       " corresponding network interfaces",
                                       errors.ECODE_STATE)

    def build_hooks_nodes(self):
        group = self.cfg.get_node_group(self.group_uuid)
        nodes = list(group.members) if group else []
        return nodes, nodes


class LUNetworkConnect(_ConnectionLU):
    HPATH = "network-connect"
    ACTION = "connect to"

    def check_arguments(self):
        self.CHECKS_INSTANCES = self.op.conflicts_check

    def expand_names(self):
        _ConnectionLU.expand_names(self)
        if self.op.conflicts_check:
            self.needed_locks[locking.LEVEL_NETWORK] = [self.network_uuid]
            self.share_locks[locking.LEVEL_NETWORK] = 1

    def check_prereq(self):
        from ganeti.cmdlib import instance_utils as iu
        op = self.op
        instances = self._check_locked_instances() if op.conflicts_check else []
        self.netparams = {constants.NIC_MODE: op.network_mode,
                          constants.NIC_LINK: op.network_link,
                          constants.NIC_VLAN: op.network_vlan}
        params = dict(self.netparams)
        if params[constants.NIC_VLAN]:
            params[constants.NIC_VLAN] = iu.normalize_vlan(params[constants.NIC_VLAN])
            self.netparams[constants.NIC_VLAN] = params[constants.NIC_VLAN]
        iu.check_nicparams(params, None, "of the network", network=True)
        self.group = self.cfg.get_node_group(self.group_uuid)
        self.connected = self.network_uuid in self.group.networks
        if self.connected:
            self.log_warning("Network '%s' is already mapped to group '%s'"
                             % (op.network_name, self.group.name))
        elif op.conflicts_check:
            pool = netpool.AddressPool(self.cfg.get_network(self.network_uuid))
            self._check_conflicts(instances, lambda nic: pool.contains(nic.ip))

    def build_hooks_env(self):
        return {"GROUP_NAME": self.op.group_name,
                "GROUP_NETWORK_MODE": self.op.network_mode,
                "GROUP_NETWORK_LINK": self.op.network_link,
                "GROUP_NETWORK_VLAN": self.op.network_vlan}

    def exec(self, feedback_fn):
        if not self.connected:
            self.group.networks[self.network_uuid] = self.netparams
            self.cfg.update(self.group, feedback_fn)


class LUNetworkDisconnect(_ConnectionLU):
    HPATH = "network-disconnect"
    ACTION = "disconnect from"

    def check_prereq(self):
        instances = self._check_locked_instances()
        self.group = self.cfg.get_node_group(self.group_uuid)
        self.netparams = self.group.networks.get(self.network_uuid)
        self.connected = self.netparams is not None
        if not self.connected:
            self.log_warning("Network '%s' is not mapped to group '%s'",
                             self.op.network_name, self.group.name)
        else:
            self._check_conflicts(instances,
                                  lambda nic: nic.network == self.network_uuid)

    def build_hooks_env(self):
        env = {"GROUP_NAME": self.op.group_name}
        if self.connected:
            env.update({"GROUP_NETWORK_MODE": self.netparams[constants.NIC_MODE],
                        "GROUP_NETWORK_LINK": self.netparams[constants.NIC_LINK],
                        "GROUP_NETWORK_VLAN": self.netparams[constants.NIC_VLAN]})
        return env

    def exec(self, feedback_fn):
        if self.connected:
            del self.group.networks[self.network_uuid]
            self.cfg.update(self.group, feedback_fn)
