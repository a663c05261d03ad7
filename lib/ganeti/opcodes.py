"""Opcodes: one class per operation, with declared, type-checked parameters.

An opcode travels as a dict ``{"OP_ID": "OP_TEST_DELAY", param: value, ...}``.
``OpCode.from_dict`` refuses unknown OP_IDs, unknown parameters, missing required
parameters and values of the wrong type, with a message naming the parameter;
this runs when a job is submitted, so bad input never reaches the queue.
"""

import copy

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


class OpClusterVerify(OpCode):
    OP_ID = "OP_CLUSTER_VERIFY"
    OP_PARAMS = [
        ("debug_simulate_errors", False, ht.TBool, "Simulate every error"),
        ("error_codes", False, ht.TBool, "Machine-parseable error codes"),
        ("skip_checks", [], ht.TStrList, "Checks to skip"),
        ("ignore_errors", [], ht.TStrList, "Error codes to demote to warnings"),
        ("verbose", False, ht.TBool, "Verbose output"),
        ("group_name", None, ht.TMaybeString, "Only verify this node group"),
        ("verify_clutter", False, ht.TBool, "Check for clutter in authorized_keys"),
    ]
    OP_RESULT = ht.TBool


# ---- queries ----------------------------------------------------------------------

class OpQuery(OpCode):
    OP_ID = "OP_QUERY"
    OP_DSC_FIELD = "what"
    OP_PARAMS = [
        ("what", REQUIRED, ht.TElemOf(_QUERY_RESOURCES), "Resource to query"),
        ("use_locking", False, ht.TBool, "Take locks while querying"),
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


class OpTestJqueue(OpCode):
    OP_ID = "OP_TEST_JQUEUE"
    OP_PARAMS = [
        ("notify_waitlock", False, ht.TBool, ""),
        ("notify_exec", False, ht.TBool, ""),
        ("log_messages", [], ht.TStrList, "Messages to log"),
        ("fail", False, ht.TBool, "Fail the opcode"),
    ]


OP_MAPPING = dict((cls.OP_ID, cls) for cls in list(globals().values())
                  if isinstance(cls, type) and issubclass(cls, OpCode) and cls.OP_ID)
