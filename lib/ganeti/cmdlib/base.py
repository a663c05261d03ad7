"""Base classes of the logical units (LUs): one LU class per opcode."""

from ganeti import errors, locking


class ResultWithJobs:
    """What an LU returns when its work continues in new jobs: the processor
    submits ``jobs`` (each a list of opcodes) and the opcode's result is
    ``other`` plus "jobs": the submission's [[True, job id] | [False, msg]]."""

    def __init__(self, jobs, **other):
        self.jobs = jobs
        self.other = other


class LogicalUnit:
    """An operation on the cluster; subclasses implement the stages.

    HPATH/HTYPE name the hooks (None: no hooks); REQ_BGL: take the Big Ganeti
    Lock exclusively (cluster-wide operations) instead of shared.
    """

    HPATH = None
    HTYPE = None
    REQ_BGL = True

    def __init__(self, processor, op, context, feedback_fn):
        self.proc = processor
        self.op = op
        self.context = context
        self.cfg = context.cfg
        self.rpc = context.rpc
        self.glm = context.glm
        self.feedback_fn = feedback_fn
        self.needed_locks = {}
        self.share_locks = dict.fromkeys(locking.LEVELS, 0)
        self.hooks_master = None
        self.check_arguments()

    def check_arguments(self):
        """Check the opcode's parameters beyond their types (no config access)."""

    def expand_names(self):
        """Resolve short names and fill self.needed_locks {level: names|ALL_SET}."""

    def declare_locks(self, level):
        """Compute the locks of ``level`` from those already held."""

    def check_prereq(self):
        """Check everything needed for exec; raise OpPrereqError, change nothing."""

    def build_hooks_env(self):
        return {}

    def build_hooks_post_env(self):
        return None

    def build_hooks_nodes(self):
        return [], []

    # an LU that reports its post hooks' results itself (hooks_callback) sets this:
    # the hooks master then does not warn about failed scripts on its own
    REPORTS_HOOKS = False

    def hooks_callback(self, phase, results, feedback_fn, lu_result):
        """After the post hooks (``results``: {node: RPC result}); returns the
        opcode's result, which the LU may change. Default: unchanged."""
        return lu_result

    def exec(self, feedback_fn):
        raise NotImplementedError

    def abort(self):
        """Undo what the LU did outside exec's own cleanup (e.g. locks it added);
        called when any stage failed or a dry run ends, before the locks are
        released."""

    # feedback helpers with Ganeti's prefixes
    def log_info(self, message, *args):
        self.feedback_fn(" - INFO: " + (message % args if args else message))

    def log_warning(self, message, *args, hint=None):
        if message:
            self.feedback_fn(" - WARNING: " + (message % args if args else message))
        if hint:
            self.feedback_fn("      Hint: %s" % hint)

    def log_step(self, message):
        self.feedback_fn("* " + message)

    def log_numbered_step(self, current, total, message):
        self.feedback_fn("STEP %d/%d %s" % (current, total, message))


class NoHooksLU(LogicalUnit):
    HPATH = None
    HTYPE = None


def expand_node_name(cfg, name):
    """The full name of a node given a full or short name; OpPrereqError if unknown."""
    full = cfg.expand_node_name(name)
    if full is None:
        raise errors.OpPrereqError("Node '%s' not known" % name, errors.ECODE_NOENT)
    return full


def expand_node_names(cfg, names, uuids=None):
    """The full names of the nodes given by (short) name and by UUID (Ganeti's
    internal form), in that order, each once; OpPrereqError for an unknown one."""
    result = [expand_node_name(cfg, name) for name in names]
    if uuids:
        by_uuid = dict((node.uuid, name) for name, node in cfg.get_all_nodes_info().items())
        for uuid in uuids:
            if uuid not in by_uuid:
                raise errors.OpPrereqError("Node UUID '%s' not known" % uuid,
                                           errors.ECODE_NOENT)
            result.append(by_uuid[uuid])
    return list(dict.fromkeys(result))
