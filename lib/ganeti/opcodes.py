"""Opcodes: one class per operation, with declared, type-checked parameters.

An opcode travels as a dict ``{"OP_ID": "OP_TEST_DELAY", param: value, ...}``.
``OpCode.from_dict`` refuses unknown OP_IDs, unknown parameters, missing required
parameters and values of the wrong type, with a message naming the parameter;
this runs when a job is submitted, so bad input never reaches the queue.
"""

import copy
import re

from ganeti import constants, errors, ht

REQUIRED = object()  # marker: parameter has no default

_PRIORITY = ht.TElemOf(constants.OP_PRIO_SUBMIT_VALID)
_JOB_DEP = ht.TypeCheck(
    "list of [job id, list of final statuses]",
    lambda v: isinstance(v, list) and all(
        isinstance(d, list) and len(d) == 2 and ht.TInt(d[0])
        and ht.TListOf(ht.TElemOf(constants.JOBS_FINALIZED))(d[1]) for d in v))
_REASON = ht.TypeCheck("reason trail", lambda v: isinstance(v, list) and all(
    isinstance(r, list) and len(r) == 3 for r in v))

# (name, default, check, doc)
COMMON_PARAMS = [
    ("dry_run", False, ht.TBool, "Only check prerequisites, change nothing"),
    ("debug_level", 0, ht.TNonNegativeInt, "Debug level"),
    ("priority", constants.OP_PRIO_DEFAULT, _PRIORITY, "Opcode priority"),
    ("depends", None, ht.TMaybe(_JOB_DEP), "Job dependencies"),
    ("comment", None, ht.TMaybeString, "Comment"),
    ("reason", None, ht.TMaybe(_REASON), "Reason trail"),
]

_PINSTANCE_NAME = ("instance_name", REQUIRED, ht.TNonEmptyString, "Instance name")
_PNODE_NAME = ("node_name", REQUIRED, ht.TNonEmptyString, "Node name")
_PFORCE = ("force", False, ht.TBool, "Whether to force the operation")
_PIALLOCATOR = ("iallocator", None, ht.TMaybeString,
                "Instance allocator choosing the target node")
_POUTPUT_FIELDS = ("output_fields", REQUIRED, ht.TStrList, "Fields to return")
_QUERY_RESOURCES = ("cluster", "node", "instance", "group", "os", "job", "lock",
                    "export", "network")


class OpCode:
    """Base opcode. Subclasses set OP_PARAMS; OP_ID derives from the class name."""

    OP_ID = None
    OP_PARAMS = []
    OP_DSC_FIELD = None     # parameter shown in job summaries: SUMMARY(value)
    OP_RESULT = None        # ht check of the result (checked by mcpu)
    WITH_LU = True

    def __init__(self, **kwargs):
        for name, default, _, _ in self.all_params():
            if name in kwargs:
                setattr(self, name, kwargs.pop(name))
            else:
                setattr(self, name, None if default is REQUIRED else copy.deepcopy(default))
        if kwargs:
            raise errors.OpPrereqError(
                "Unknown parameter(s) for %s: %s" % (self.OP_ID, ", ".join(sorted(kwargs))),
                errors.ECODE_INVAL)

    @classmethod
    def all_params(cls):
        return cls.OP_PARAMS + COMMON_PARAMS

    def validate(self, set_defaults=True):
        """Check every parameter; raises OpPrereqError naming the bad one."""
        for name, default, check, _ in self.all_params():
            value = getattr(self, name)
            if value is None:
                if default is REQUIRED:
                    raise errors.OpPrereqError(
                        "Parameter '%s.%s' is required" % (self.OP_ID, name),
                        errors.ECODE_INVAL)
                if default is None or check(None):
                    continue
                if set_defaults:
                    setattr(self, name, copy.deepcopy(default))
                    continue
            if not check(value):
                if getattr(check, "terse", False):
                    # Ganeti's words for a malformed address
                    raise errors.OpPrereqError("Parameter '%s.%s' fails validation"
                                               % (self.OP_ID, name), errors.ECODE_INVAL)
                raise errors.OpPrereqError(
                    "Parameter '%s.%s' fails validation: expected %s, got %r"
                    % (self.OP_ID, name, check.desc, value), errors.ECODE_INVAL)

    def to_dict(self):
        data = {"OP_ID": self.OP_ID}
        for name, _, _, _ in self.all_params():
            data[name] = getattr(self, name)
        return data

    @staticmethod
    def from_dict(data):
        """Build and validate the opcode described by ``data``."""
        if not isinstance(data, dict):
            raise errors.OpPrereqError("An opcode must be a dictionary, got %r" % (data,),
                                       errors.ECODE_INVAL)
        op_id = data.get("OP_ID")
        cls = OP_MAPPING.get(op_id)
        if cls is None:
            raise errors.OpPrereqError("Unknown opcode '%s'" % (op_id,), errors.ECODE_INVAL)
        params = dict(data)
        del params["OP_ID"]
        op = cls(**params)
        op.validate()
        return op

    def summary(self):
        """'TEST_DELAY(10.0)': the OP_ID without OP_ plus the descriptive field."""
        text = self.OP_ID[3:]
        if self.OP_DSC_FIELD:
            value = getattr(self, self.OP_DSC_FIELD, None)
            if value is not None:
                if isinstance(value, (list, tuple)):
                    value = ",".join(str(v) for v in value)
                text += "(%s)" % value
        return text

    def __repr__(self):
        return "<%s>" % self.summary()


def summary_of(op_dict):
    """Job summary of an opcode dict, tolerating unknown or broken opcodes."""
    try:
        cls = OP_MAPPING[op_dict["OP_ID"]]
    except (KeyError, TypeError):
        return str(op_dict.get("OP_ID", "?")) if isinstance(op_dict, dict) else "?"
    text = cls.OP_ID[3:]
    if cls.OP_DSC_FIELD and op_dict.get(cls.OP_DSC_FIELD) is not None:
        value = op_dict[cls.OP_DSC_FIELD]
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        text += "(%s)" % value
    return text


# ---- private and secret parameters ---------------------------------------------------
# Secret values live only in the master's memory while their job runs: job files,
# QueryJobs and logs get REDACTED instead. Private values are kept (job file, config)
# but never shown. (doc/os-parameters.rst)

REDACTED = "<redacted>"
SECRET_PARAMS = ("osparams_secret", "crypto_secrets")
PRIVATE_PARAMS = ("osparams_private",)


def _redacted(value):
    return dict((key, REDACTED) for key in value) if isinstance(value, dict) else value


def _nested_ops(op_dict):
    """The opcode dicts an opcode carries (OP_INSTANCE_MULTI_ALLOC's instances)."""
    if op_dict.get("OP_ID") != "OP_INSTANCE_MULTI_ALLOC":
        return None
    nested = op_dict.get("instances")
    return nested if isinstance(nested, list) else None


def split_secrets(op_dict: dict) -> tuple:
    """(the opcode dict with secret values redacted, {param: real value dict})."""
    public = dict(op_dict)
    secrets = {}
    for name in SECRET_PARAMS:
        if isinstance(public.get(name), dict) and public[name]:
            secrets[name] = dict(public[name])
            public[name] = _redacted(public[name])
    nested = _nested_ops(public)
    if nested:
        split = [split_secrets(i) if isinstance(i, dict) else (i, {}) for i in nested]
        if any(inner for _, inner in split):
            # the real list stays in memory; the job file gets the redacted one
            secrets["instances"] = copy.deepcopy(nested)
            public["instances"] = [outer for outer, _ in split]
    return public, secrets


def _secret_values(secrets: dict) -> list:
    """The values of split_secrets' second part, nested opcodes' included."""
    values = []
    for name in SECRET_PARAMS:
        values.extend((secrets.get(name) or {}).values())
    for inner in secrets.get("instances") or []:
        if isinstance(inner, dict):
            values.extend(_secret_values(inner))
    return values


def redact_secret_values(text: str, secrets: dict) -> str:
    """``text`` with each of the secret values of ``secrets`` (split_secrets'
    second part) replaced by REDACTED: for a log message quoting them."""
    values = set(str(value) for value in _secret_values(secrets)) - {""}
    if not values:
        return text
    # one pass, longest first: a value inside another is not left half-shown
    pattern = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.sub(pattern, REDACTED, text)


def shown_input(op_dict: dict) -> dict:
    """The opcode dict as queries show it: private and secret values redacted."""
    shown = dict(op_dict)
    for name in SECRET_PARAMS + PRIVATE_PARAMS:
        if name in shown:
            shown[name] = _redacted(shown[name])
    # the cluster's private OS parameters: {os: {key: value}}
    private_per_os = shown.get("osparams_private_cluster")
    if isinstance(private_per_os, dict):
        shown["osparams_private_cluster"] = dict(
            (os_name, _redacted(params)) for os_name, params in private_per_os.items())
    nested = _nested_ops(shown)
    if nested:
        shown["instances"] = [shown_input(i) if isinstance(i, dict) else i for i in nested]
    return shown


def check_secrets_present(op: "OpCode") -> None:
    """Refuse an opcode whose secret values were lost (job reloaded from disk)."""
    for name in SECRET_PARAMS:
        values = getattr(op, name, None) or {}
        if any(value == REDACTED for value in values.values()):
            raise errors.OpPrereqError("Please re-submit secret parameters to job.",
                                       errors.ECODE_INVAL)
    if isinstance(op, OpInstanceMultiAlloc):
        for inner in op.instances:
            check_secrets_present(inner)


# ---- cluster ------------------------------------------------------------------------

class OpClusterPostInit(OpCode):
    OP_ID = "OP_CLUSTER_POST_INIT"
    OP_RESULT = ht.TBool


class OpClusterDestroy(OpCode):
    OP_ID = "OP_CLUSTER_DESTROY"
    OP_RESULT = ht.TNonEmptyString


class OpClusterQuery(OpCode):
    OP_ID = "OP_CLUSTER_QUERY"
    OP_RESULT = ht.TDict


class OpClusterConfigQuery(OpCode):
    OP_ID = "OP_CLUSTER_CONFIG_QUERY"
    OP_PARAMS = [_POUTPUT_FIELDS]


class OpClusterRedistConf(OpCode):
    OP_ID = "OP_CLUSTER_REDIST_CONF"


class OpClusterRenewCrypto(OpCode):
    """gnt-cluster renew-crypto: Ganeti's parameters, then ours for what Ganeti's
    client does itself with the cluster stopped (here the job does all of it)."""
    OP_ID = "OP_CLUSTER_RENEW_CRYPTO"
    OP_PARAMS = [
        ("node_certificates", False, ht.TBool,
         "Renew the nodes' certificates (here: each node's etcd certificate)"),
        ("renew_ssh_keys", False, ht.TBool, "Renew the nodes' ssh keys"),
        ("ssh_key_type", None, ht.TMaybe(ht.TElemOf(["rsa", "dsa", "ecdsa"])),
         "Type of the new ssh keys (default: the cluster's)"),
        ("ssh_key_bits", None, ht.TMaybe(ht.TPositiveInt), "Size of the new ssh keys"),
        ("verbose", False, ht.TBool, "Report each node's steps"),
        ("debug", False, ht.TBool, "Log the steps in detail"),
        ("cluster_certificate", False, ht.TBool,
         "Replace the cluster certificate (server.pem) on every node"),
        ("rapi_certificate", False, ht.TBool, "Generate a new self-signed RAPI certificate"),
        ("confd_hmac_key", False, ht.TBool, "Generate a new confd HMAC key"),
        ("cluster_domain_secret", False, ht.TBool, "Generate a new cluster domain secret"),
        ("crypto_secrets", None, ht.TMaybe(ht.TDictOf(
            ht.TElemOf(["rapi_certificate", "cluster_domain_secret"]), ht.TString)),
         "Given contents: the RAPI key and certificate (PEM), the cluster domain"
         " secret (kept in memory only, like secret OS parameters)"),
    ]


class OpClusterActivateMasterIp(OpCode):
    OP_ID = "OP_CLUSTER_ACTIVATE_MASTER_IP"


class OpClusterDeactivateMasterIp(OpCode):
    OP_ID = "OP_CLUSTER_DEACTIVATE_MASTER_IP"


# what every part of gnt-cluster verify takes
_VERIFY_REPORTING = [
    ("debug_simulate_errors", False, ht.TBool, "Simulate every error"),
    ("error_codes", False, ht.TBool, "Machine-parseable error codes"),
    ("ignore_errors", [], ht.TStrList, "Error codes to demote to warnings"),
    ("verbose", False, ht.TBool, "Verbose output"),
]
_VERIFY_NODES = [
    ("skip_checks", [], ht.TStrList, "Checks to skip"),
    ("verify_clutter", False, ht.TBool, "Check for clutter in authorized_keys"),
]


class OpClusterVerify(OpCode):
    """gnt-cluster verify: submits the config job and one job per node group."""
    OP_ID = "OP_CLUSTER_VERIFY"
    OP_PARAMS = _VERIFY_REPORTING + _VERIFY_NODES + [
        ("group_name", None, ht.TMaybeString, "Only verify this node group"),
    ]
    OP_RESULT = ht.TypeCheck("{jobs: [[bool, job id or message]]}",
                             lambda v: isinstance(v, dict) and isinstance(v.get("jobs"), list))


class OpClusterVerifyConfig(OpCode):
    """The cluster-wide part of gnt-cluster verify (a job OP_CLUSTER_VERIFY submits)."""
    OP_ID = "OP_CLUSTER_VERIFY_CONFIG"
    OP_PARAMS = list(_VERIFY_REPORTING)
    OP_RESULT = ht.TBool


class OpClusterVerifyGroup(OpCode):
    """gnt-cluster verify of one node group (a job OP_CLUSTER_VERIFY submits)."""
    OP_ID = "OP_CLUSTER_VERIFY_GROUP"
    OP_DSC_FIELD = "group_name"
    OP_PARAMS = [("group_name", REQUIRED, ht.TNonEmptyString, "Node group (name or uuid)")
                 ] + _VERIFY_REPORTING + _VERIFY_NODES
    OP_RESULT = ht.TBool


class OpClusterVerifyDisks(OpCode):
    """Check the disks of all (or one) node groups: one OpGroupVerifyDisks job each."""
    OP_ID = "OP_CLUSTER_VERIFY_DISKS"
    OP_PARAMS = [("group_name", None, ht.TMaybeString, "Only this node group")]
    OP_RESULT = ht.TypeCheck("{jobs: [[bool, job id or message]]}",
                             lambda v: isinstance(v, dict) and isinstance(v.get("jobs"), list))


class OpGroupVerifyDisks(OpCode):
    """Which instances of a group need their disks activated, which lack volumes."""
    OP_ID = "OP_GROUP_VERIFY_DISKS"
    OP_DSC_FIELD = "group_name"
    OP_PARAMS = [("group_name", REQUIRED, ht.TNonEmptyString, "Node group (name or uuid)")]
    OP_RESULT = ht.TypeCheck(
        "[{node: error}, [instance], {instance: [[node, volume]]}]",
        lambda v: isinstance(v, list) and len(v) == 3 and isinstance(v[0], dict)
        and isinstance(v[1], list) and isinstance(v[2], dict))


class OpClusterRepairDiskSizes(OpCode):
    """Set the recorded size of disks to what their nodes report."""
    OP_ID = "OP_CLUSTER_REPAIR_DISK_SIZES"
    OP_PARAMS = [("instances", [], ht.TListOf(ht.TNonEmptyString),
                  "Only these instances (default: all)")]
    OP_RESULT = ht.TypeCheck("[[instance, disk index, parameter, new value]]",
                             lambda v: isinstance(v, list))


_MAC_PREFIX = ht.TRegex(r"^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}$",
                       "MAC prefix (XX:XX:XX)")
_HVPARAMS = ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict))


class OpClusterRename(OpCode):
    """Rename the cluster; its master IP becomes the new name's address."""
    OP_ID = "OP_CLUSTER_RENAME"
    OP_DSC_FIELD = "name"
    OP_PARAMS = [("name", REQUIRED, ht.TNonEmptyString, "New cluster name")]
    OP_RESULT = ht.TNonEmptyString


class OpClusterSetParams(OpCode):
    """Change cluster-wide parameters (gnt-cluster modify); None means unchanged."""
    OP_ID = "OP_CLUSTER_SET_PARAMS"
    OP_PARAMS = [
        _PFORCE,
        ("vg_name", None, ht.TMaybeString, "Volume group name ('' disables LVM)"),
        ("enabled_hypervisors", None, ht.TMaybe(ht.TListOf(ht.TNonEmptyString)),
         "Enabled hypervisors; the first is the default"),
        ("hvparams", None, _HVPARAMS, "Hypervisor parameters per hypervisor"),
        ("beparams", None, ht.TMaybeDict, "Default backend parameters"),
        ("os_hvp", None, _HVPARAMS, "Hypervisor parameters per OS"),
        ("osparams", None, ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
         "OS parameters per OS"),
        ("osparams_private_cluster", None,
         ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
         "Private OS parameters per OS (stored, never shown)"),
        ("diskparams", None, _HVPARAMS, "Disk parameters per disk template"),
        ("candidate_pool_size", None, ht.TMaybe(ht.TPositiveInt),
         "Master candidate pool size"),
        ("max_running_jobs", None, ht.TMaybe(ht.TPositiveInt),
         "Maximal number of jobs running at once"),
        ("max_tracked_jobs", None, ht.TMaybe(ht.TPositiveInt),
         "Maximal number of jobs tracked by the scheduler"),
        ("maintain_node_health", None, ht.TMaybeBool, "Maintain node health"),
        ("auto_master_failover", None, ht.TMaybeBool,
         "Whether a master candidate takes over when the master dies (not in Ganeti)"),
        ("prealloc_wipe_disks", None, ht.TMaybeBool, "Wipe disks before allocation"),
        ("nicparams", None, ht.TMaybeDict, "Default NIC parameters"),
        ("ndparams", None, ht.TMaybeDict, "Default node parameters"),
        ("ipolicy", None, ht.TMaybeDict, "Instance policy"),
        ("drbd_helper", None, ht.TMaybeString, "DRBD usermode helper"),
        ("default_iallocator", None, ht.TMaybeString,
         "Default instance allocator ('' clears it)"),
        ("default_iallocator_params", None, ht.TMaybeDict,
         "Options passed to the default allocator (--key=value)"),
        ("compression_tools", None, ht.TMaybeStrList,
         "Compression tools allowed for exports, imports and moves"),
        ("mac_prefix", None, ht.TMaybe(_MAC_PREFIX), "MAC address prefix"),
        ("master_netdev", None, ht.TMaybeString, "Master network device"),
        ("master_netmask", None, ht.TMaybe(ht.TNonNegativeInt),
         "Netmask (prefix length) of the master IP"),
        ("reserved_lvs", None, ht.TMaybeStrList, "Reserved logical volumes (regexes)"),
        ("hidden_os", None, ht.TMaybe(ht.TListOf(ht.TListOf(ht.TString))),
         "Changes to the hidden OS list: [[add|remove, name], ...]"),
        ("blacklisted_os", None, ht.TMaybe(ht.TListOf(ht.TListOf(ht.TString))),
         "Changes to the blacklisted OS list: [[add|remove, name], ...]"),
        ("use_external_mip_script", None, ht.TMaybeBool,
         "Use an external master IP setup script"),
        ("enabled_disk_templates", None, ht.TMaybe(ht.TListOf(ht.TNonEmptyString)),
         "Enabled disk templates; the first is the default"),
        ("modify_etc_hosts", None, ht.TMaybeBool, "Whether to maintain /etc/hosts"),
        ("file_storage_dir", None, ht.TMaybeString, "Default file storage directory"),
        ("shared_file_storage_dir", None, ht.TMaybeString,
         "Default shared file storage directory"),
        ("enabled_user_shutdown", None, ht.TMaybeBool, "Allow user shutdown of instances"),
        ("hv_state", None, ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
         "Static hypervisor states, merged into the cluster's (unused, as in Ganeti)"),
        ("disk_state", None, ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
         "Static disk states per storage type and name (unused, as in Ganeti)"),
        ("install_image", None, ht.TMaybeString,
         "Image for running OS scripts in a helper instance (refused unless empty)"),
        ("zeroing_image", None, ht.TMaybeString,
         "Image for zeroing disks at export (refused unless empty)"),
        ("instance_communication_network", None, ht.TMaybeString,
         "Network for instance communication (refused unless empty)"),
        ("enabled_data_collectors", None,
         ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TBool)),
         "Data collectors to switch on or off (recorded; there is no ganeti-mond)"),
        ("data_collector_interval", None,
         ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TInt)),
         "Collection interval per data collector, in microseconds (recorded)"),
    ]


# ---- queries ----------------------------------------------------------------------

class OpQuery(OpCode):
    OP_ID = "OP_QUERY"
    OP_DSC_FIELD = "what"
    OP_PARAMS = [
        ("what", REQUIRED, ht.TElemOf(_QUERY_RESOURCES), "Resource to query"),
        ("use_locking", False, ht.TBool,
         "Read under shared locks (node and instance queries only)"),
        ("fields", REQUIRED, ht.TStrList, "Fields to return"),
        ("qfilter", None, ht.TMaybe(ht.TList), "Query filter"),
    ]


class OpQueryFields(OpCode):
    OP_ID = "OP_QUERY_FIELDS"
    OP_DSC_FIELD = "what"
    OP_PARAMS = [
        ("what", REQUIRED, ht.TElemOf(_QUERY_RESOURCES), "Resource to query"),
        ("fields", None, ht.TMaybeStrList, "Fields to describe (all if None)"),
    ]


# ---- nodes --------------------------------------------------------------------------

_PNODE_HV_STATE = ("hv_state", None, ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
                   "Static hypervisor states, merged into the node's (unused, as in"
                   " Ganeti)")
_PNODE_DISK_STATE = ("disk_state", None,
                     ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
                     "Static disk states per storage type and name (unused, as in"
                     " Ganeti)")


class OpNodeAdd(OpCode):
    OP_ID = "OP_NODE_ADD"
    OP_DSC_FIELD = "node_name"
    OP_PARAMS = [
        _PNODE_NAME,
        ("primary_ip", None, ht.TMaybeString, "Primary IP (resolved from the name if unset)"),
        ("secondary_ip", None, ht.TMaybeString, "Secondary (replication) IP"),
        ("readd", False, ht.TBool, "Add a node that is already in the cluster again"),
        ("group", None, ht.TMaybeString, "Node group"),
        ("master_capable", None, ht.TMaybeBool, "Whether the node can become master"),
        ("vm_capable", None, ht.TMaybeBool, "Whether the node can host instances"),
        ("ndparams", None, ht.TMaybeDict, "Node parameters"),
        ("node_setup", False, ht.TBool,
         "Update the ssh setup of all nodes for the new node (its key recorded by"
         " gnt-node add)"),
        _PNODE_HV_STATE, _PNODE_DISK_STATE,
    ]


class OpNodeRemove(OpCode):
    OP_ID = "OP_NODE_REMOVE"
    OP_DSC_FIELD = "node_name"
    OP_PARAMS = [_PNODE_NAME]


class OpNodePowercycle(OpCode):
    OP_ID = "OP_NODE_POWERCYCLE"
    OP_DSC_FIELD = "node_name"
    OP_PARAMS = [_PNODE_NAME, _PFORCE]


class OpNodeSetParams(OpCode):
    OP_ID = "OP_NODE_SET_PARAMS"
    OP_DSC_FIELD = "node_name"
    OP_PARAMS = [
        _PNODE_NAME, _PFORCE,
        ("master_candidate", None, ht.TMaybeBool, "Master candidate role"),
        ("offline", None, ht.TMaybeBool, "Offline flag"),
        ("drained", None, ht.TMaybeBool, "Drained flag"),
        ("auto_promote", False, ht.TBool, "Promote other nodes to keep the candidate pool"),
        ("master_capable", None, ht.TMaybeBool, "Whether the node can become master"),
        ("vm_capable", None, ht.TMaybeBool, "Whether the node can host instances"),
        ("secondary_ip", None, ht.TMaybeString, "New secondary IP"),
        ("ndparams", None, ht.TMaybeDict, "Node parameters"),
        ("powered", None, ht.TMaybeBool, "Power state"),
        _PNODE_HV_STATE, _PNODE_DISK_STATE,
    ]


# ---- node storage units (cmdlib/node_storage.py) -------------------------------------

#: Ganeti's storage types (what a storage_type parameter accepts)
STORAGE_TYPES = ("file", "sharedfile", "gluster", "lvm-pv", "lvm-vg", "diskless",
                 "blockdev", "rados", "ext")
_POUTPUT_FIELD_NAMES = ("output_fields", REQUIRED, ht.TListOf(ht.TNonEmptyString),
                        "Selected output fields")
_PNODES = ("nodes", [], ht.TListOf(ht.TNonEmptyString),
           "Empty list to query all nodes, node names otherwise")
_PSTORAGE_TYPE = ("storage_type", REQUIRED, ht.TElemOf(STORAGE_TYPES), "Storage type")
_PSTORAGE_NAME = ("name", None, ht.TMaybe(ht.TNonEmptyString), "Storage name")


class OpNodeQueryvols(OpCode):
    """The logical volumes of nodes, with the instances owning them."""
    OP_ID = "OP_NODE_QUERYVOLS"
    OP_PARAMS = [_POUTPUT_FIELD_NAMES, _PNODES]


class OpNodeQueryStorage(OpCode):
    """The storage units of one type on nodes (default: the default template's)."""
    OP_ID = "OP_NODE_QUERY_STORAGE"
    OP_PARAMS = [
        _POUTPUT_FIELD_NAMES,
        ("storage_type", None, ht.TMaybe(ht.TElemOf(STORAGE_TYPES)), "Storage type"),
        _PNODES, _PSTORAGE_NAME,
    ]


class OpNodeModifyStorage(OpCode):
    """Change a storage unit of a node (only an LVM PV's allocatable flag)."""
    OP_ID = "OP_NODE_MODIFY_STORAGE"
    OP_DSC_FIELD = "node_name"
    OP_PARAMS = [_PNODE_NAME, _PSTORAGE_TYPE, _PSTORAGE_NAME,
                 ("changes", REQUIRED, ht.TDict, "Requested storage changes")]


class OpRepairNodeStorage(OpCode):
    """Repair a storage unit of a node (only an LVM volume group)."""
    OP_ID = "OP_REPAIR_NODE_STORAGE"
    OP_DSC_FIELD = "node_name"
    OP_PARAMS = [_PNODE_NAME, _PSTORAGE_TYPE, _PSTORAGE_NAME,
                 ("ignore_consistency", False, ht.TBool,
                  "Whether to ignore disk consistency")]


class OpOobCommand(OpCode):
    """Run an out-of-band command (power, health) for nodes (cmdlib/oob.py);
    result: per node [[0, name], [status, the helper's answer]]."""
    OP_ID = "OP_OOB_COMMAND"
    OP_PARAMS = [
        ("node_names", [], ht.TListOf(ht.TNonEmptyString),
         "List of node names to run the OOB command against"),
        ("node_uuids", None, ht.TMaybe(ht.TListOf(ht.TNonEmptyString)),
         "List of node UUIDs to run the OOB command against"),
        ("command", REQUIRED, ht.TElemOf(sorted(constants.OOB_COMMANDS)),
         "OOB command to run"),
        ("timeout", constants.OOB_TIMEOUT, ht.TPositiveInt,
         "Timeout before the OOB helper will be terminated"),
        ("ignore_status", False, ht.TBool, "Ignores the node offline status for power off"),
        ("power_delay", constants.OOB_POWER_DELAY, ht.TNonNegativeNumber,
         "Time in seconds to wait between powering on nodes"),
    ]


class OpRestrictedCommand(OpCode):
    """Run a command of the nodes' restricted-commands directory on each node
    (cmdlib/node.py); result: per node, in order, [True, output] or [False,
    message]."""
    OP_ID = "OP_RESTRICTED_COMMAND"
    OP_PARAMS = [
        ("use_locking", False, ht.TBool, "Whether to use synchronization"),
        ("nodes", REQUIRED, ht.TListOf(ht.TNonEmptyString),
         "Nodes on which the command should be run (at least one)"),
        ("node_uuids", None, ht.TMaybe(ht.TListOf(ht.TNonEmptyString)),
         "Node UUIDs on which the command should be run (at least one)"),
        ("command", REQUIRED, ht.TNonEmptyString, "Restricted command name"),
    ]
    OP_RESULT = ht.TListOf(ht.TypeCheck(
        "[success, output or message]", lambda v: isinstance(v, list) and len(v) == 2
        and isinstance(v[0], bool) and isinstance(v[1], str)))


# ---- operating systems ------------------------------------------------------------

class OpOsDiagnose(OpCode):
    OP_ID = "OP_OS_DIAGNOSE"
    OP_PARAMS = [
        _POUTPUT_FIELDS,
        ("names", [], ht.TStrList, "Which operating systems to diagnose"),
    ]


class OpExtStorageDiagnose(OpCode):
    """Rows of fields of the ExtStorage providers (gnt-storage diagnose/info)."""
    OP_ID = "OP_EXTSTORAGE_DIAGNOSE"
    OP_PARAMS = [
        _POUTPUT_FIELDS,
        ("names", [], ht.TStrList, "Which ExtStorage providers to diagnose"),
    ]


# ---- instances --------------------------------------------------------------------

_PSHUTDOWN_TIMEOUT = ("shutdown_timeout", constants.DEFAULT_SHUTDOWN_TIMEOUT,
                      ht.TNonNegativeInt, "How long to wait for a clean shutdown (seconds)")
_PIGNORE_OFFLINE = ("ignore_offline_nodes", False, ht.TBool,
                    "Ignore offline nodes (the instance's state is only recorded)")
_PDISK_INDEX = ("disk", REQUIRED, ht.TNonNegativeInt, "Disk index")
_PINSTANCE_MODES = ("create", "import", "remote-import")
_DISK_SPEC = ht.TListOf(ht.TDict)
_NIC_SPEC = ht.TListOf(ht.TDict)
_PFILE_DRIVER = ("file_driver", None, ht.TMaybe(ht.TElemOf(["loop", "blktap", "blktap2"])),
                 "Driver for file-based disks")
_PFILE_STORAGE_DIR = ("file_storage_dir", None, ht.TMaybeString,
                      "Directory below the file storage dir")
_MOD_LIST = ht.TypeCheck(
    "list of [action, index/identifier, parameters]",
    lambda v: isinstance(v, list) and all(
        isinstance(i, list) and len(i) in (2, 3) for i in v))


class OpInstanceCreate(OpCode):
    OP_ID = "OP_INSTANCE_CREATE"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME,
        ("force_variant", False, ht.TBool, "Do not check the OS variant"),
        ("wait_for_sync", True, ht.TBool, "Wait for the disks to sync"),
        ("name_check", True, ht.TBool, "Check that the name resolves"),
        ("ignore_ipolicy", False, ht.TBool, "Ignore the instance policy"),
        ("opportunistic_locking", False, ht.TBool, "Lock only free nodes"),
        ("beparams", {}, ht.TDict, "Backend parameters"),
        ("disks", REQUIRED, _DISK_SPEC, "Disk descriptions ({size, mode, name, ...})"),
        ("disk_template", REQUIRED, ht.TElemOf(constants.DISK_TEMPLATES), "Disk template"),
        ("group_name", None, ht.TMaybeString, "Node group to place the instance in"),
        _PFILE_DRIVER, _PFILE_STORAGE_DIR,
        ("hvparams", {}, ht.TDict, "Hypervisor parameters"),
        ("hypervisor", None, ht.TMaybe(ht.TElemOf(constants.HYPER_TYPES)), "Hypervisor"),
        ("iallocator", None, ht.TMaybeString, "Instance allocator to choose the nodes"),
        ("identify_defaults", False, ht.TBool, "Reset parameters equal to the defaults"),
        ("ip_check", True, ht.TBool, "Check that the IP address is unused"),
        ("conflicts_check", True, ht.TBool, "Check for IP conflicts in networks"),
        ("mode", REQUIRED, ht.TElemOf(_PINSTANCE_MODES), "Creation mode"),
        ("nics", REQUIRED, _NIC_SPEC, "NIC descriptions ({mac, ip, mode, link, ...})"),
        ("no_install", None, ht.TMaybeBool, "Do not run the OS create script"),
        ("osparams", {}, ht.TDict, "OS parameters"),
        ("osparams_private", None, ht.TMaybeDict, "Private OS parameters"),
        ("osparams_secret", None, ht.TMaybeDict, "Secret OS parameters"),
        ("os_type", None, ht.TMaybeString, "Operating system (OS+variant)"),
        ("pnode", None, ht.TMaybeString, "Primary node"),
        ("snode", None, ht.TMaybeString, "Secondary node"),
        ("src_node", None, ht.TMaybeString, "Source node for imports"),
        ("src_path", None, ht.TMaybeString, "Source directory for imports"),
        ("compress", "none", ht.TString, "Compression for imports"),
        ("start", True, ht.TBool, "Start the instance after creating it"),
        ("tags", [], ht.TStrList, "Instance tags"),
        ("forthcoming", False, ht.TBool, "Only reserve the resources"),
        ("commit", False, ht.TBool, "Commit a forthcoming instance"),
    ]


def _load_create_op(item):
    """An OP_INSTANCE_CREATE of OP_INSTANCE_MULTI_ALLOC's list, from its dict
    (not validated here: the multi-allocation's validate does that)."""
    if not isinstance(item, dict):
        return item
    data = dict(item)
    op_id = data.pop("OP_ID", OpInstanceCreate.OP_ID)
    if op_id != OpInstanceCreate.OP_ID:
        raise errors.OpPrereqError("Only %s opcodes can be allocated together, not %s"
                                   % (OpInstanceCreate.OP_ID, op_id), errors.ECODE_INVAL)
    return OpInstanceCreate(**data)


class OpInstanceMultiAlloc(OpCode):
    """Create several instances: their nodes as given, or from one run of the
    allocator for all of them; the creations run as one job each."""
    OP_ID = "OP_INSTANCE_MULTI_ALLOC"
    OP_PARAMS = [
        ("opportunistic_locking", False, ht.TBool, "Lock only free nodes"),
        _PIALLOCATOR,
        ("instances", [], ht.TypeCheck(
            "list of %s opcodes" % OpInstanceCreate.OP_ID,
            lambda v: isinstance(v, list) and all(isinstance(i, OpInstanceCreate)
                                                  for i in v)),
         "The instances to create"),
    ]
    OP_RESULT = ht.TypeCheck(
        "{allocatable: [names], failed: [names], jobs: [[bool, job id or message]]}",
        lambda v: isinstance(v, dict) and isinstance(v.get("jobs"), list))

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if isinstance(self.instances, list):
            self.instances = [_load_create_op(item) for item in self.instances]

    def validate(self, set_defaults=True):
        super().validate(set_defaults)
        for inner in self.instances:
            inner.validate(set_defaults)

    def to_dict(self):
        data = super().to_dict()
        data["instances"] = [inner.to_dict() for inner in self.instances]
        return data


class OpInstanceRemove(OpCode):
    OP_ID = "OP_INSTANCE_REMOVE"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PSHUTDOWN_TIMEOUT,
        ("ignore_failures", False, ht.TBool, "Go on even if some steps fail"),
    ]


class OpInstanceMove(OpCode):
    """Copy an instance with plain or file disks to another node."""
    OP_ID = "OP_INSTANCE_MOVE"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PSHUTDOWN_TIMEOUT,
        ("target_node", REQUIRED, ht.TNonEmptyString, "Node to move the instance to"),
        ("ignore_consistency", False, ht.TBool,
         "Go on if the instance cannot be shut down on its node"),
        ("ignore_ipolicy", False, ht.TBool, "Ignore the target group's policy"),
        ("compress", "none", ht.TNonEmptyString, "Transport compression tool"),
    ]


# ---- exports (gnt-backup) -----------------------------------------------------------

class OpBackupExport(OpCode):
    """Export an instance's configuration and disk images to a node."""
    OP_ID = "OP_BACKUP_EXPORT"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PSHUTDOWN_TIMEOUT,
        ("target_node", REQUIRED, ht.TNonEmptyString, "Node to export to"),
        ("compress", "none", ht.TNonEmptyString, "Transport compression tool"),
        ("shutdown", True, ht.TBool, "Shut the instance down for the export"),
        ("remove_instance", False, ht.TBool, "Remove the instance after the export"),
        ("ignore_remove_failures", False, ht.TBool, "Ignore failures of the removal"),
        ("mode", "local", ht.TElemOf(["local", "remote"]), "Export mode"),
        ("x509_key_name", None, ht.TMaybe(ht.TList), "Remote exports: X509 key name"),
        ("destination_x509_ca", None, ht.TMaybeString, "Remote exports: X509 CA"),
        ("zero_free_space", False, ht.TBool, "Zero the free space of the disks first"),
        ("zeroing_timeout_fixed", None, ht.TMaybe(ht.TNonNegativeInt),
         "Fixed time allowed for zeroing"),
        ("zeroing_timeout_per_mib", None, ht.TMaybe(ht.TNonNegativeNumber),
         "Time allowed per MiB for zeroing"),
        ("long_sleep", False, ht.TBool,
         "Allow the instance to stay down for the whole export"),
        ("allow_drained", False, ht.TBool, "Allow a drained target node (-f)"),
    ]


class OpBackupRemove(OpCode):
    """Remove the exports of an instance from every node."""
    OP_ID = "OP_BACKUP_REMOVE"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [_PINSTANCE_NAME]


class OpInstanceStartup(OpCode):
    OP_ID = "OP_INSTANCE_STARTUP"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PFORCE, _PIGNORE_OFFLINE,
        ("hvparams", {}, ht.TDict, "Temporary hypervisor parameters"),
        ("beparams", {}, ht.TDict, "Temporary backend parameters"),
        ("no_remember", False, ht.TBool, "Do not record the new state"),
        ("startup_paused", False, ht.TBool, "Start the instance paused"),
        _PSHUTDOWN_TIMEOUT,
    ]


class OpInstanceShutdown(OpCode):
    OP_ID = "OP_INSTANCE_SHUTDOWN"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PFORCE, _PIGNORE_OFFLINE,
        ("timeout", constants.DEFAULT_SHUTDOWN_TIMEOUT, ht.TNonNegativeInt,
         "Seconds to wait for a clean shutdown before forcing it"),
        ("no_remember", False, ht.TBool, "Do not record the new state"),
        ("admin_state_source", None, ht.TMaybeString, "Who shut the instance down"),
    ]


class OpInstanceReboot(OpCode):
    OP_ID = "OP_INSTANCE_REBOOT"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PSHUTDOWN_TIMEOUT,
        ("ignore_secondaries", False, ht.TBool, "Ignore errors on secondary nodes"),
        ("reboot_type", REQUIRED, ht.TElemOf(["soft", "hard", "full"]), "Reboot type"),
    ]


class OpInstanceReinstall(OpCode):
    OP_ID = "OP_INSTANCE_REINSTALL"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME,
        ("force_variant", False, ht.TBool, "Do not check the OS variant"),
        ("os_type", None, ht.TMaybeString, "New operating system"),
        ("osparams", None, ht.TMaybeDict, "OS parameters"),
        ("osparams_private", None, ht.TMaybeDict, "Private OS parameters"),
        ("osparams_secret", None, ht.TMaybeDict, "Secret OS parameters"),
    ]


class OpInstanceRename(OpCode):
    OP_ID = "OP_INSTANCE_RENAME"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME,
        ("new_name", REQUIRED, ht.TNonEmptyString, "New instance name"),
        ("name_check", True, ht.TBool, "Check that the new name resolves"),
        ("ip_check", False, ht.TBool, "Check that the new IP is unused"),
    ]


class OpInstanceSetParams(OpCode):
    OP_ID = "OP_INSTANCE_SET_PARAMS"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PFORCE,
        ("force_variant", False, ht.TBool, "Do not check the OS variant"),
        ("ignore_ipolicy", False, ht.TBool, "Ignore the instance policy"),
        ("nics", [], _MOD_LIST, "NIC changes"),
        ("disks", [], _MOD_LIST, "Disk changes"),
        ("beparams", {}, ht.TDict, "Backend parameter changes"),
        ("runtime_mem", None, ht.TMaybe(ht.TPositiveInt), "New runtime memory (MiB)"),
        ("hvparams", {}, ht.TDict, "Hypervisor parameter changes"),
        ("disk_template", None, ht.TMaybe(ht.TElemOf(constants.DISK_TEMPLATES)),
         "New disk template"),
        ("pnode", None, ht.TMaybeString, "New primary node"),
        ("remote_node", None, ht.TMaybeString, "Secondary node (for conversions)"),
        # for conversions to file-based templates / to ext
        _PFILE_DRIVER, _PFILE_STORAGE_DIR,
        ("ext_params", {}, ht.TDict, "ExtStorage provider and parameters (to ext)"),
        _PIALLOCATOR,
        ("os_name", None, ht.TMaybeString, "New operating system"),
        ("osparams", {}, ht.TDict, "OS parameter changes"),
        ("osparams_private", None, ht.TMaybeDict, "Private OS parameter changes"),
        ("wait_for_sync", True, ht.TBool, "Wait for the disks to sync"),
        ("offline", None, ht.TMaybeBool, "Mark the instance offline/online"),
        ("conflicts_check", True, ht.TBool, "Check for IP conflicts"),
        ("hotplug", False, ht.TBool, "Hotplug devices"),
        ("hotplug_if_possible", False, ht.TBool, "Hotplug devices when possible"),
    ]


class OpInstanceGrowDisk(OpCode):
    OP_ID = "OP_INSTANCE_GROW_DISK"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PDISK_INDEX,
        ("wait_for_sync", True, ht.TBool, "Wait for the disk to sync"),
        ("amount", REQUIRED, ht.TNonNegativeInt, "Amount (MiB) to grow by, or the new size"),
        ("absolute", False, ht.TBool, "The amount is the new size"),
        ("ignore_ipolicy", False, ht.TBool, "Ignore the instance policy"),
    ]


class OpInstanceActivateDisks(OpCode):
    OP_ID = "OP_INSTANCE_ACTIVATE_DISKS"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME,
        ("ignore_size", False, ht.TBool, "Do not check the disk sizes"),
        ("wait_for_sync", False, ht.TBool, "Wait for the disks to sync"),
    ]


class OpInstanceDeactivateDisks(OpCode):
    OP_ID = "OP_INSTANCE_DEACTIVATE_DISKS"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [_PINSTANCE_NAME, _PFORCE]


_PTARGET_NODE = ("target_node", None, ht.TMaybeString,
                 "Target node (shared storage: any node; drbd: its secondary)")
_PIGNORE_IPOLICY = ("ignore_ipolicy", False, ht.TBool, "Ignore the instance policy")
_PMIGRATION_MODE = ("mode", None, ht.TMaybe(ht.TElemOf(["live", "non-live"])),
                    "Migration mode (default: the hypervisor's migration_mode)")
_PMIGRATION_LIVE = ("live", None, ht.TMaybeBool,
                    "Live migration (old form of 'mode')")


class OpInstanceFailover(OpCode):
    OP_ID = "OP_INSTANCE_FAILOVER"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PSHUTDOWN_TIMEOUT,
        ("ignore_consistency", False, ht.TBool,
         "Ignore the disks' consistency on the target (the primary is dead)"),
        _PTARGET_NODE, _PIGNORE_IPOLICY,
        ("cleanup", False, ht.TBool, "Recover from a failed migration instead"),
        _PIALLOCATOR,
    ]


class OpInstanceMigrate(OpCode):
    OP_ID = "OP_INSTANCE_MIGRATE"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PMIGRATION_MODE, _PMIGRATION_LIVE, _PTARGET_NODE,
        ("allow_runtime_changes", True, ht.TBool,
         "Allow changing the instance's memory to fit the target"),
        _PIGNORE_IPOLICY,
        ("cleanup", False, ht.TBool, "Recover from a failed migration"),
        _PIALLOCATOR,
        ("allow_failover", False, ht.TBool, "Fail over when migration is impossible"),
        ("ignore_hvversions", False, ht.TBool,
         "Accept different hypervisor versions on the two nodes"),
    ]


_PEARLY_RELEASE = ("early_release", False, ht.TBool,
                   "Remove the old storage before the new one synced (releases"
                   " its locks early)")
_PREMOTE_NODE = ("remote_node", None, ht.TMaybeString, "The new secondary node")


class OpInstanceReplaceDisks(OpCode):
    OP_ID = "OP_INSTANCE_REPLACE_DISKS"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME, _PEARLY_RELEASE, _PIGNORE_IPOLICY,
        ("mode", REQUIRED, ht.TElemOf(constants.REPLACE_MODES), "Replacement mode"),
        ("disks", [], ht.TListOf(ht.TNonNegativeInt),
         "Indices of the disks to replace (default: all)"),
        _PREMOTE_NODE, _PIALLOCATOR,
    ]


_RECREATE_DISK = ht.TypeCheck(
    "disk index or [index, {size, mode, spindles}]",
    lambda v: ht.TNonNegativeInt(v) or (
        isinstance(v, list) and len(v) == 2 and ht.TNonNegativeInt(v[0])
        and isinstance(v[1], dict)))


class OpInstanceRecreateDisks(OpCode):
    OP_ID = "OP_INSTANCE_RECREATE_DISKS"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [
        _PINSTANCE_NAME,
        ("disks", [], ht.TListOf(_RECREATE_DISK),
         "Disks to recreate (default: all), each with its new size or mode"),
        ("nodes", [], ht.TListOf(ht.TNonEmptyString),
         "New nodes of the instance (primary, then secondary)"),
        _PIALLOCATOR,
    ]


class OpNodeEvacuate(OpCode):
    OP_ID = "OP_NODE_EVACUATE"
    OP_DSC_FIELD = "node_name"
    OP_PARAMS = [
        _PEARLY_RELEASE, _PNODE_NAME, _PREMOTE_NODE, _PIALLOCATOR,
        ("mode", REQUIRED, ht.TElemOf(constants.NODE_EVAC_MODES),
         "Which instances: primary-only, secondary-only or all"),
        ("ignore_soft_errors", None, ht.TMaybeBool,
         "Ignore the allocator's soft errors"),
    ]
    OP_RESULT = ht.TypeCheck("{jobs: [[bool, job id or message]]}",
                             lambda v: isinstance(v, dict) and isinstance(v.get("jobs"), list))


class OpNodeMigrate(OpCode):
    OP_ID = "OP_NODE_MIGRATE"
    OP_DSC_FIELD = "node_name"
    OP_PARAMS = [
        _PNODE_NAME, _PMIGRATION_MODE, _PMIGRATION_LIVE, _PTARGET_NODE,
        ("allow_runtime_changes", True, ht.TBool,
         "Allow changing the instances' memory to fit the target"),
        _PIGNORE_IPOLICY, _PIALLOCATOR,
    ]
    OP_RESULT = OpNodeEvacuate.OP_RESULT


class OpInstanceConsole(OpCode):
    OP_ID = "OP_INSTANCE_CONSOLE"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [_PINSTANCE_NAME]


class OpInstanceQueryData(OpCode):
    OP_ID = "OP_INSTANCE_QUERY_DATA"
    OP_PARAMS = [
        ("use_locking", False, ht.TBool, "Take locks"),
        ("instances", [], ht.TStrList, "Instances (all if empty)"),
        ("static", False, ht.TBool, "Only configuration data, no node queries"),
    ]


# ---- tags -------------------------------------------------------------------------

_PTAG_KIND = ("kind", REQUIRED, ht.TElemOf(constants.VALID_TAG_TYPES), "Kind of object")
_PTAG_NAME = ("name", None, ht.TMaybeString,
              "Name of the object (none for the cluster)")
# the LU checks each tag, with Ganeti's messages ("Tags cannot be empty", ...)
_PTAGS = ("tags", REQUIRED, ht.TListOf(ht.TString), "Tags")


class OpTagsGet(OpCode):
    """The tags of one object."""
    OP_ID = "OP_TAGS_GET"
    OP_DSC_FIELD = "name"
    OP_PARAMS = [_PTAG_KIND, _PTAG_NAME,
                 ("use_locking", False, ht.TBool, "Take the object's lock")]


class OpTagsSearch(OpCode):
    """The tags of all objects that match a regular expression."""
    OP_ID = "OP_TAGS_SEARCH"
    OP_DSC_FIELD = "pattern"
    OP_PARAMS = [("pattern", REQUIRED, ht.TNonEmptyString, "Search pattern (regex)")]


class OpTagsSet(OpCode):
    """Add tags to one object."""
    OP_ID = "OP_TAGS_SET"
    OP_DSC_FIELD = "name"
    OP_PARAMS = [_PTAG_KIND, _PTAG_NAME, _PTAGS]


class OpTagsDel(OpCode):
    """Remove tags from one object."""
    OP_ID = "OP_TAGS_DEL"
    OP_DSC_FIELD = "name"
    OP_PARAMS = [_PTAG_KIND, _PTAG_NAME, _PTAGS]


# ---- tests ------------------------------------------------------------------------

class OpTestDelay(OpCode):
    """Sleep on the master and/or on nodes; for testing the job machinery."""
    OP_ID = "OP_TEST_DELAY"
    OP_DSC_FIELD = "duration"
    OP_PARAMS = [
        ("duration", REQUIRED, ht.TNonNegativeNumber, "Seconds to sleep"),
        ("on_master", True, ht.TBool, "Sleep on the master"),
        ("on_nodes", [], ht.TStrList, "Nodes to sleep on (via RPC)"),
        ("on_node_uuids", None, ht.TMaybeStrList, "Node UUIDs to sleep on"),
        ("repeat", 0, ht.TNonNegativeInt, "Repeat the sleep this many more times"),
        ("interruptible", False, ht.TBool, "Allow interrupting with a cancel"),
        ("no_locks", True, ht.TBool, "Do not take locks"),
    ]


class OpTestAllocator(OpCode):
    """Show an instance allocator's input (direction "in") or run it and show
    its answer ("out") for a request built from the parameters."""
    OP_ID = "OP_TEST_ALLOCATOR"
    OP_DSC_FIELD = "iallocator"
    OP_PARAMS = [
        ("direction", REQUIRED, ht.TElemOf(["in", "out"]), "Input or output"),
        ("mode", REQUIRED, ht.TElemOf(["allocate", "relocate", "change-group",
                                       "node-evacuate", "multi-allocate",
                                       "allocate-secondary"]), "Request type"),
        ("name", REQUIRED, ht.TNonEmptyString, "Instance name"),
        ("nics", None, ht.TMaybe(ht.TList), "NICs ({mac, ip, bridge})"),
        ("disks", None, ht.TMaybe(ht.TList), "Disks ({size, mode})"),
        ("hypervisor", None, ht.TMaybeString, "Hypervisor"),
        ("group_name", None, ht.TMaybeString, "Node group"),
        ("iallocator", None, ht.TMaybeString, "Allocator (needed for 'out')"),
        ("memory", None, ht.TMaybe(ht.TNonNegativeInt), "Memory (MiB)"),
        ("vcpus", None, ht.TMaybe(ht.TNonNegativeInt), "Virtual CPUs"),
        ("os", None, ht.TMaybeString, "OS"),
        ("tags", None, ht.TMaybeStrList, "Tags"),
        ("disk_template", None, ht.TMaybeString, "Disk template"),
        ("instances", None, ht.TMaybeStrList, "Instances (node-evacuate, change-group)"),
        ("evac_mode", None, ht.TMaybe(ht.TElemOf(constants.NODE_EVAC_MODES)),
         "Node evacuation mode"),
        ("target_groups", None, ht.TMaybeStrList, "Target groups (change-group)"),
        ("spindle_use", 1, ht.TNonNegativeInt, "Spindles"),
        ("count", 1, ht.TNonNegativeInt, "Instances (multi-allocate)"),
    ]


class OpTestJqueue(OpCode):
    OP_ID = "OP_TEST_JQUEUE"
    OP_PARAMS = [
        ("notify_waitlock", False, ht.TBool,
         "Notify a client over a Unix socket before waiting for the lock"),
        ("notify_exec", False, ht.TBool,
         "Notify a client over a Unix socket when executing"),
        ("log_messages", [], ht.TStrList, "Messages to log"),
        ("fail", False, ht.TBool, "Fail the opcode"),
    ]


class OpTestOsParams(OpCode):
    """Feed the secret OS parameters back (gnt-debug test-osparams): they reach
    the logical unit, yet stay out of the job file."""
    OP_ID = "OP_TEST_OS_PARAMS"
    OP_PARAMS = [("osparams_secret", None, ht.TMaybeDict, "Secret OS parameters")]


# ---- node groups --------------------------------------------------------------------
# (cmdlib/group.py; gnt-group)

ALLOC_POLICIES = (constants.ALLOC_POLICY_PREFERRED, constants.ALLOC_POLICY_LAST_RESORT,
                  constants.ALLOC_POLICY_UNALLOCABLE)
_PGROUP_NAME = ("group_name", REQUIRED, ht.TNonEmptyString, "Node group (name or uuid)")
_GROUP_SETTINGS = [
    ("alloc_policy", None, ht.TMaybe(ht.TElemOf(ALLOC_POLICIES)),
     "Allocation policy (preferred, last_resort, unallocable)"),
    ("ndparams", None, ht.TMaybeDict, "Node parameters of the group's nodes"),
    ("diskparams", None, ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
     "Disk parameters per disk template"),
    ("hv_state", None, ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
     "Static hypervisor state per hypervisor"),
    ("disk_state", None, ht.TMaybe(ht.TDictOf(ht.TNonEmptyString, ht.TDict)),
     "Static disk state per storage type and unit"),
    ("ipolicy", None, ht.TMaybeDict, "The group's own instance policy"),
]


class OpGroupAdd(OpCode):
    """Create an empty node group."""
    OP_ID = "OP_GROUP_ADD"
    OP_DSC_FIELD = "group_name"
    OP_PARAMS = [_PGROUP_NAME] + _GROUP_SETTINGS


class OpGroupAssignNodes(OpCode):
    """Move nodes into a group (no nodes named: all of them, as in Ganeti)."""
    OP_ID = "OP_GROUP_ASSIGN_NODES"
    OP_DSC_FIELD = "group_name"
    OP_PARAMS = [_PGROUP_NAME, _PFORCE,
                 ("nodes", REQUIRED, ht.TListOf(ht.TNonEmptyString), "Nodes to move"),
                 ("node_uuids", None, ht.TMaybe(ht.TListOf(ht.TNonEmptyString)),
                  "The nodes' UUIDs (checked against the names when given)")]


class OpGroupSetParams(OpCode):
    """Change a group's settings; None leaves one as it is."""
    OP_ID = "OP_GROUP_SET_PARAMS"
    OP_DSC_FIELD = "group_name"
    OP_PARAMS = [_PGROUP_NAME] + _GROUP_SETTINGS
    OP_RESULT = ht.TListOf(ht.TList)


class OpGroupRemove(OpCode):
    """Remove an empty node group (never the last one)."""
    OP_ID = "OP_GROUP_REMOVE"
    OP_DSC_FIELD = "group_name"
    OP_PARAMS = [_PGROUP_NAME]


class OpGroupRename(OpCode):
    """Give a group a new name; its UUID stays."""
    OP_ID = "OP_GROUP_RENAME"
    OP_PARAMS = [_PGROUP_NAME,
                 ("new_name", REQUIRED, ht.TNonEmptyString, "New group name")]
    OP_RESULT = ht.TNonEmptyString


class OpGroupEvacuate(OpCode):
    """Move all instances out of a group, as an instance allocator plans it."""
    OP_ID = "OP_GROUP_EVACUATE"
    OP_DSC_FIELD = "group_name"
    OP_PARAMS = [_PGROUP_NAME, _PEARLY_RELEASE, _PIALLOCATOR,
                 ("target_groups", None, ht.TMaybe(ht.TListOf(ht.TNonEmptyString)),
                  "Destination groups (default: all others)"),
                 ("sequential", False, ht.TBool, "Run the moves one after another"),
                 ("force_failover", False, ht.TBool, "Fail over instead of migrating")]


class OpInstanceChangeGroup(OpCode):
    """Move an instance to other node groups, as an instance allocator plans it."""
    OP_ID = "OP_INSTANCE_CHANGE_GROUP"
    OP_DSC_FIELD = "instance_name"
    OP_PARAMS = [("instance_name", REQUIRED, ht.TNonEmptyString, "Instance name"),
                 _PEARLY_RELEASE, _PIALLOCATOR,
                 ("target_groups", None, ht.TMaybe(ht.TListOf(ht.TNonEmptyString)),
                  "Destination groups (default: all the instance does not use)")]


# ---- networks (cmdlib/network.py) ------------------------------------------------------

def _address_check(desc, fn, maybe=True, none_word=False):
    """A check of an address parameter; a failure gets Ganeti's terse message.
    ``none_word``: "none" is accepted too (modify: drop the value)."""
    def check(value):
        if value is None:
            return maybe
        if none_word and value == constants.VALUE_NONE:
            return True
        return fn(value)
    result = ht.TypeCheck(desc, check)
    result.terse = True
    return result


def _net_predicates():
    from ganeti import netpool
    return {
        "network": ("IPv4 network", netpool.is_ipv4_network),
        "gateway": ("IPv4 address", netpool.is_ipv4_address),
        "network6": ("IPv6 network", netpool.is_ipv6_network),
        "gateway6": ("IPv6 address", netpool.is_ipv6_address),
        "ips": ("list of IPv4 addresses", lambda v: isinstance(v, list) and all(
            netpool.is_ipv4_address(ip) for ip in v)),
    }


_NET = _net_predicates()
_PNETWORK_NAME = ("network_name", REQUIRED, ht.TNonEmptyString, "Network name")
_PNET_CONFLICTS = ("conflicts_check", True, ht.TBool,
                   "Whether to check for conflicting IP addresses")
_PNET_MAC_PREFIX = ("mac_prefix", None, ht.TMaybe(ht.TNonEmptyString),
                    "Network specific MAC prefix (that overrides the cluster one)")
_PNET_ADD_IPS = ("add_reserved_ips", None, _address_check(*_NET["ips"]),
                 "Which IP addresses to reserve")


def _net_address_params(none_word):
    return [(key, None, _address_check(*_NET[key], none_word=none_word), doc)
            for key, doc in (("gateway", "Network gateway (IPv4 address)"),
                             ("network6", "Network address (IPv6 subnet)"),
                             ("gateway6", "Network gateway (IPv6 address)"))] + \
        [_PNET_MAC_PREFIX]


class OpNetworkAdd(OpCode):
    """Create an IPv4 network with its address pool."""
    OP_ID = "OP_NETWORK_ADD"
    OP_DSC_FIELD = "network_name"
    OP_PARAMS = [_PNETWORK_NAME,
                 ("network", REQUIRED, _address_check(*_NET["network"], maybe=False),
                  "Network address (IPv4 subnet)")] + _net_address_params(False) + [
                 _PNET_ADD_IPS, _PNET_CONFLICTS,
                 ("tags", [], ht.TListOf(ht.TNonEmptyString), "Network tags")]


class OpNetworkRemove(OpCode):
    """Remove a network that no node group is connected to."""
    OP_ID = "OP_NETWORK_REMOVE"
    OP_DSC_FIELD = "network_name"
    OP_PARAMS = [_PNETWORK_NAME, _PFORCE]


class OpNetworkSetParams(OpCode):
    """Change a network's gateways, MAC prefix, IPv6 subnet or external
    reservations ("none" drops a value); None leaves one as it is."""
    OP_ID = "OP_NETWORK_SET_PARAMS"
    OP_DSC_FIELD = "network_name"
    OP_PARAMS = [_PNETWORK_NAME] + _net_address_params(True) + [
        _PNET_ADD_IPS,
        ("remove_reserved_ips", None, _address_check(*_NET["ips"]),
         "Which external IP addresses to release")]


_PNET_GROUP = ("group_name", REQUIRED, ht.TNonEmptyString, "Node group (name or uuid)")


class OpNetworkConnect(OpCode):
    """Connect a network to a node group with a NIC mode, link and VLAN."""
    OP_ID = "OP_NETWORK_CONNECT"
    OP_DSC_FIELD = "network_name"
    OP_PARAMS = [_PNET_GROUP, _PNETWORK_NAME,
                 ("network_mode", REQUIRED, ht.TElemOf(constants.NIC_VALID_MODES),
                  "Network mode when connecting to a group"),
                 ("network_link", REQUIRED, ht.TNonEmptyString,
                  "Network link when connecting to a group"),
                 ("network_vlan", "", ht.TString, "Network vlan when connecting to a group"),
                 _PNET_CONFLICTS]


class OpNetworkDisconnect(OpCode):
    """Disconnect a network from a node group."""
    OP_ID = "OP_NETWORK_DISCONNECT"
    OP_DSC_FIELD = "network_name"
    OP_PARAMS = [_PNET_GROUP, _PNETWORK_NAME]


OP_MAPPING = dict((cls.OP_ID, cls) for cls in list(globals().values())
                  if isinstance(cls, type) and issubclass(cls, OpCode) and cls.OP_ID)
