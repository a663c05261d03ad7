"""The cluster model: small classes with explicit fields, stored as JSON.

Field names are Ganeti's (internals.md §8) so config.data reads the same.
Every object converts with ``to_dict()`` / ``from_dict()``.
"""

import copy
import re
import time
import uuid as _uuid

from ganeti import constants, errors


def new_uuid():
    return str(_uuid.uuid4())


def fill_dict(defaults, custom, skip_keys=None):
    """``defaults`` updated with ``custom``; keys in skip_keys are dropped."""
    result = copy.deepcopy(defaults)
    result.update(copy.deepcopy(custom or {}))
    for key in skip_keys or ():
        result.pop(key, None)
    return result


def fill_ipolicy(default_ipolicy, custom_ipolicy):
    """A group's instance policy over the cluster's: each key the group sets
    replaces the cluster's, except ``std``, which is merged key by key."""
    result = copy.deepcopy(custom_ipolicy or {})
    for key, value in default_ipolicy.items():
        if key not in result:
            result[key] = copy.deepcopy(value)
        elif key == "std":
            result[key] = fill_dict(value, result[key])
    return result


class ConfigObject:
    """Base: a fixed set of fields (FIELDS), missing ones default to None."""

    FIELDS = ()
    # fields that hold lists/dicts of child objects: name -> (class, "list"|"dict")
    CHILDREN = {}

    def __init__(self, **kwargs):
        for name in self.FIELDS:
            setattr(self, name, kwargs.pop(name, None))
        if kwargs:
            raise errors.ProgrammerError("%s has no fields %s" % (
                self.__class__.__name__, ", ".join(sorted(kwargs))))
        self.upgrade_config()

    def upgrade_config(self):
        """Fill defaults for missing fields (objects read from older files)."""

    def to_dict(self):
        result = {}
        for name in self.FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            kind = self.CHILDREN.get(name)
            if kind and kind[1] == "list":
                value = [v.to_dict() for v in value]
            elif kind and kind[1] == "dict":
                value = dict((k, v.to_dict()) for k, v in value.items())
            else:
                value = copy.deepcopy(value)
            result[name] = value
        return result

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise errors.ConfigurationError("Invalid %s data: %r" % (cls.__name__, data))
        kwargs = {}
        for name in cls.FIELDS:
            if name not in data:
                continue
            value = data[name]
            kind = cls.CHILDREN.get(name)
            if kind and kind[1] == "list" and value is not None:
                value = [kind[0].from_dict(v) for v in value]
            elif kind and kind[1] == "dict" and value is not None:
                value = dict((k, kind[0].from_dict(v)) for k, v in value.items())
            else:
                value = copy.deepcopy(value)
            kwargs[name] = value
        return cls(**kwargs)

    def copy(self):
        return self.__class__.from_dict(self.to_dict())

    def __eq__(self, other):
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return "<%s %s>" % (self.__class__.__name__, getattr(self, "name", ""))


class TaggableObject(ConfigObject):
    MAX_TAG_LEN = 128
    VALID_TAG_RE = re.compile(r"^[\w.+*/:@-]+$")

    def upgrade_config(self):
        if self.tags is None:
            self.tags = []

    @classmethod
    def validate_tag(cls, tag):
        """TagError (Ganeti's words) unless ``tag`` is 1-128 characters of letters,
        digits and ``.+*/:@-_``."""
        if not isinstance(tag, str):
            raise errors.TagError("Invalid tag type (not a string)")
        if len(tag) > cls.MAX_TAG_LEN:
            raise errors.TagError("Tag too long (>%d characters)" % cls.MAX_TAG_LEN)
        if not tag:
            raise errors.TagError("Tags cannot be empty")
        if not cls.VALID_TAG_RE.match(tag):
            raise errors.TagError("Tag contains invalid characters")


_TIMESTAMPS = ("ctime", "mtime")
_UUID = ("uuid",)
_SERIAL = ("serial_no",)


def _stamp(obj):
    now = time.time()
    if obj.ctime is None:
        obj.ctime = now
    if obj.mtime is None:
        obj.mtime = now
    if obj.serial_no is None:
        obj.serial_no = 1
    if "uuid" in obj.FIELDS and obj.uuid is None:
        obj.uuid = new_uuid()


class NIC(ConfigObject):
    FIELDS = ("mac", "ip", "network", "nicparams", "netinfo", "name", "uuid")

    def upgrade_config(self):
        if self.nicparams is None:
            self.nicparams = {}
        if self.uuid is None:
            self.uuid = new_uuid()


class Disk(ConfigObject):
    # dynamic_params: what only the node an RPC goes to needs (a drbd disk's
    # local/remote IP and minor); set on the copies sent, never stored
    FIELDS = ("dev_type", "logical_id", "children", "nodes", "iv_name", "size", "mode",
              "params", "spindles", "name", "uuid", "serial_no", "ctime", "mtime",
              "dynamic_params", "forthcoming")
    CHILDREN = {}

    def upgrade_config(self):
        if self.children is None:
            self.children = []
        if self.forthcoming is None:
            # only reserved: not created on its nodes (gnt-instance add --forthcoming)
            self.forthcoming = False
        if self.params is None:
            self.params = {}
        if self.mode is None:
            self.mode = "rw"
        if self.uuid is None:
            self.uuid = new_uuid()


Disk.CHILDREN = {"children": (Disk, "list")}


class Instance(TaggableObject):
    FIELDS = ("name", "primary_node", "os", "hypervisor", "hvparams", "beparams",
              "osparams", "osparams_private", "admin_state", "admin_state_source",
              "nics", "disks", "disk_template", "disks_active", "network_port",
              "tags", "serial_no", "ctime", "mtime", "uuid", "forthcoming")
    CHILDREN = {"nics": (NIC, "list"), "disks": (Disk, "list")}

    def upgrade_config(self):
        TaggableObject.upgrade_config(self)
        for name in ("hvparams", "beparams", "osparams", "osparams_private"):
            if getattr(self, name) is None:
                setattr(self, name, {})
        for name in ("nics", "disks"):
            if getattr(self, name) is None:
                setattr(self, name, [])
        if self.admin_state is None:
            self.admin_state = constants.ADMINST_DOWN
        if self.admin_state_source is None:
            self.admin_state_source = "admin"
        if self.disks_active is None:
            self.disks_active = False
        if self.forthcoming is None:
            # a reservation: in the configuration only (gnt-instance add --forthcoming)
            self.forthcoming = False
        _stamp(self)

    @property
    def secondary_nodes(self):
        nodes = set()
        for disk in self.disks:
            nodes.update(disk.nodes or [])
        nodes.discard(self.primary_node)
        return sorted(nodes)

    @property
    def all_nodes(self):
        return [self.primary_node] + self.secondary_nodes


class Node(TaggableObject):
    FIELDS = ("name", "primary_ip", "secondary_ip", "master_candidate", "offline",
              "drained", "group", "master_capable", "vm_capable", "ndparams",
              "powered", "hv_state_static", "disk_state_static", "tags",
              "serial_no", "ctime", "mtime", "uuid")

    def upgrade_config(self):
        TaggableObject.upgrade_config(self)
        for name, default in (("master_candidate", False), ("offline", False),
                              ("drained", False), ("master_capable", True),
                              ("vm_capable", True), ("powered", True)):
            if getattr(self, name) is None:
                setattr(self, name, default)
        if self.ndparams is None:
            self.ndparams = {}
        if self.secondary_ip is None:
            self.secondary_ip = self.primary_ip
        for name in ("hv_state_static", "disk_state_static"):
            if getattr(self, name) is None:
                setattr(self, name, {})
        _stamp(self)

    @property
    def role(self):
        """Role letter for listings (the master is decided by the cluster)."""
        if self.offline:
            return constants.NR_OFFLINE
        if self.drained:
            return constants.NR_DRAINED
        if self.master_candidate:
            return constants.NR_MCANDIDATE
        return constants.NR_REGULAR


class NodeGroup(TaggableObject):
    FIELDS = ("name", "members", "ndparams", "diskparams", "ipolicy", "alloc_policy",
              "networks", "hv_state_static", "disk_state_static", "tags",
              "serial_no", "ctime", "mtime", "uuid")

    def upgrade_config(self):
        TaggableObject.upgrade_config(self)
        for name in ("ndparams", "diskparams", "ipolicy", "networks",
                     "hv_state_static", "disk_state_static"):
            if getattr(self, name) is None:
                setattr(self, name, {})
        if self.members is None:
            self.members = []
        if self.alloc_policy is None:
            self.alloc_policy = constants.ALLOC_POLICY_PREFERRED
        _stamp(self)

    def to_dict(self):
        # members are derived from the nodes at load time; never stored
        data = ConfigObject.to_dict(self)
        data.pop("members", None)
        return data


class Network(TaggableObject):
    """An IPv4 network with its address pool (netpool.py reads the bitmaps)."""
    FIELDS = ("name", "mac_prefix", "network", "network6", "gateway", "gateway6",
              "reservations", "ext_reservations", "tags", "serial_no", "ctime",
              "mtime", "uuid")

    def upgrade_config(self):
        TaggableObject.upgrade_config(self)
        _stamp(self)


class Cluster(TaggableObject):
    FIELDS = (
        "cluster_name", "master_node", "master_ip", "master_netdev", "master_netmask",
        "use_external_mip_script", "volume_group_name", "reserved_lvs",
        "drbd_usermode_helper", "default_bridge", "default_hypervisor",
        "enabled_hypervisors", "hvparams", "os_hvp", "beparams", "nicparams",
        "ndparams", "diskparams", "osparams", "osparams_private_cluster", "ipolicy",
        "candidate_pool_size", "mac_prefix", "tcpudp_port_pool", "highest_used_port",
        "file_storage_dir", "shared_file_storage_dir", "gluster_storage_dir",
        "modify_etc_hosts", "modify_ssh_setup", "maintain_node_health", "uid_pool",
        "default_iallocator", "default_iallocator_params", "hidden_os",
        "blacklisted_os", "primary_ip_family", "prealloc_wipe_disks",
        "enabled_disk_templates", "rsahostkeypub", "dsahostkeypub",
        "hv_state_static", "disk_state_static", "candidate_certs",
        "max_running_jobs", "max_tracked_jobs", "compression_tools",
        "enabled_user_shutdown", "install_image", "instance_communication_network",
        "zeroing_image", "data_collectors", "ssh_key_type", "ssh_key_bits",
        "auto_master_failover", "tags", "serial_no", "ctime", "mtime", "uuid")

    _DEFAULTS = {
        "master_netmask": 32, "use_external_mip_script": False, "reserved_lvs": [],
        "enabled_hypervisors": [constants.DEFAULT_ENABLED_HYPERVISOR],
        "hvparams": {}, "os_hvp": {}, "beparams": {}, "nicparams": {}, "ndparams": {},
        "diskparams": {}, "osparams": {}, "osparams_private_cluster": {}, "ipolicy": {},
        "candidate_pool_size": constants.DEFAULT_CANDIDATE_POOL_SIZE,
        "mac_prefix": constants.DEFAULT_MAC_PREFIX, "tcpudp_port_pool": [],
        "highest_used_port": 11000 - 1, "modify_etc_hosts": True,
        "modify_ssh_setup": True, "maintain_node_health": False, "uid_pool": [],
        "default_iallocator": "", "default_iallocator_params": {}, "hidden_os": [],
        "blacklisted_os": [], "primary_ip_family": constants.IP4_FAMILY,
        "prealloc_wipe_disks": False, "enabled_disk_templates":
        list(constants.DEFAULT_ENABLED_DISK_TEMPLATES), "hv_state_static": {},
        "disk_state_static": {}, "candidate_certs": {},
        "max_running_jobs": constants.DEFAULT_MAX_RUNNING_JOBS,
        "auto_master_failover": False,
        "max_tracked_jobs": constants.DEFAULT_MAX_TRACKED_JOBS,
        "compression_tools": list(constants.COMPRESSION_TOOLS),
        "enabled_user_shutdown": False, "install_image": "",
        "instance_communication_network": "", "zeroing_image": "",
        "data_collectors": {}, "ssh_key_type": "rsa", "ssh_key_bits": 2048,
    }

    def upgrade_config(self):
        TaggableObject.upgrade_config(self)
        for name, default in self._DEFAULTS.items():
            if getattr(self, name) is None:
                setattr(self, name, copy.deepcopy(default))
        # fill every enabled hypervisor's, template's and dict's defaults
        for hv_name in constants.HYPER_TYPES:
            self.hvparams[hv_name] = fill_dict(constants.HVC_DEFAULTS.get(hv_name, {}),
                                               self.hvparams.get(hv_name, {}))
        self.beparams["default"] = fill_dict(constants.BEC_DEFAULTS,
                                             self.beparams.get("default", {}))
        self.nicparams["default"] = fill_dict(constants.NICC_DEFAULTS,
                                              self.nicparams.get("default", {}))
        self.ndparams = fill_dict(constants.NDC_DEFAULTS, self.ndparams)
        for tmpl, defaults in constants.DISK_DT_DEFAULTS.items():
            self.diskparams[tmpl] = fill_dict(defaults, self.diskparams.get(tmpl, {}))
        self.ipolicy = fill_dict(constants.IPOLICY_DEFAULTS, self.ipolicy)
        for name in constants.DEFAULT_DATA_COLLECTORS:
            self.data_collectors.setdefault(name, {
                "active": True, "interval": constants.DEFAULT_DATA_COLLECTOR_INTERVAL})
        _stamp(self)

    def fill_be(self, instance):
        return fill_dict(self.beparams["default"], instance.beparams)

    def fill_hv(self, instance):
        base = fill_dict(self.hvparams.get(instance.hypervisor, {}),
                         self.os_hvp.get(instance.os, {}).get(instance.hypervisor, {}))
        return fill_dict(base, instance.hvparams)

    def fill_nic(self, nicparams):
        return fill_dict(self.nicparams["default"], nicparams)

    def fill_nd(self, node, group=None):
        base = fill_dict(self.ndparams, group.ndparams if group else {})
        return fill_dict(base, node.ndparams)

    def fill_dp(self, group=None):
        """The disk parameters of a node group: its own over the cluster's, template
        by template (what new disks of instances in the group get)."""
        own = (group.diskparams if group else None) or {}
        result = dict((tmpl, fill_dict(params, own.get(tmpl)))
                      for tmpl, params in self.diskparams.items())
        for tmpl, params in own.items():
            result.setdefault(tmpl, copy.deepcopy(params))
        return result


class FilterRule(ConfigObject):
    """A job filter rule (gnt-filter); the job queue reads them (jqueue.filtering)."""

    FIELDS = ("watermark", "priority", "predicates", "action", "reason_trail", "uuid")


class ConfigData(ConfigObject):
    """The whole of config.data."""

    FIELDS = ("version", "cluster", "nodes", "nodegroups", "instances", "networks",
              "disks", "filters", "serial_no", "ctime", "mtime")
    CHILDREN = {"cluster": (Cluster, "one"), "nodes": (Node, "dict"),
                "nodegroups": (NodeGroup, "dict"), "instances": (Instance, "dict"),
                "networks": (Network, "dict"), "filters": (FilterRule, "dict")}

    def upgrade_config(self):
        for name in ("nodes", "nodegroups", "instances", "networks", "disks", "filters"):
            if getattr(self, name) is None:
                setattr(self, name, {})
        if self.version is None:
            self.version = constants.CONFIG_VERSION
        _stamp(self)
        # node group members are derived, not stored
        for group in self.nodegroups.values():
            group.members = []
        for node in self.nodes.values():
            if node.group in self.nodegroups:
                self.nodegroups[node.group].members.append(node.name)

    def to_dict(self):
        data = ConfigObject.to_dict(self)
        if self.cluster is not None:
            data["cluster"] = self.cluster.to_dict()
        return data

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        cluster = data.pop("cluster", None)
        obj = ConfigObject.from_dict.__func__(cls, data)
        obj.cluster = Cluster.from_dict(cluster) if cluster is not None else None
        return obj
