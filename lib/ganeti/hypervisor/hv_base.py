"""The interface every hypervisor implements, and helpers they share.

Objects passed in are config objects (objects.Instance); ``hvparams`` and
``beparams`` arguments are already filled with the cluster defaults. Node-side
code (backend/instance.py) calls these methods; the master only calls the
class methods that need no node (parameter checks, console description).
"""

from ganeti import constants, errors
from ganeti.utils.instance_name import is_valid_instance_name

# instance state strings returned in get_instance_info()
STATE_RUNNING = "running"
STATE_SHUTDOWN = "shutdown"     # stopped from inside (user shutdown)
STATE_PAUSED = "paused"


class InstanceInfo:
    """Runtime information about one running instance."""

    __slots__ = ("name", "id", "memory", "vcpus", "state", "cpu_time")

    def __init__(self, name, inst_id, memory, vcpus, state=STATE_RUNNING, cpu_time=0.0):
        self.name = name
        self.id = inst_id
        self.memory = memory
        self.vcpus = vcpus
        self.state = state
        self.cpu_time = cpu_time

    def to_dict(self):
        return {"name": self.name, "id": self.id, "memory": self.memory,
                "vcpus": self.vcpus, "state": self.state, "time": self.cpu_time}


def console_ssh(instance_name, node, command, user="root"):
    """A console reached by running ``command`` (argv list) on ``node`` over ssh."""
    return {"instance": instance_name, "kind": "ssh", "host": node, "user": user,
            "command": list(command)}


def console_vnc(instance_name, host, port, display):
    return {"instance": instance_name, "kind": "vnc", "host": host, "port": port,
            "display": display}


def console_message(instance_name, message):
    return {"instance": instance_name, "kind": "msg", "message": message}


class BaseHypervisor:
    """Base class; subclasses set PARAMETERS and implement the node-side methods."""

    # name -> (check function(value) -> bool, description for errors); only
    # the parameters listed here are accepted for this hypervisor
    PARAMETERS = {}
    # parameters that can only be set cluster-wide
    GLOBAL_PARAMETERS = frozenset()
    CAN_MIGRATE = False

    # ---- master side (no node needed) ------------------------------------------------

    @classmethod
    def check_parameter_syntax(cls, hvparams):
        """Raise errors.HypervisorError naming any invalid parameter value."""
        for key, value in hvparams.items():
            if key not in cls.PARAMETERS:
                raise errors.HypervisorError("Unknown parameter '%s' for hypervisor %s"
                                             % (key, cls.__name__))
            check, desc = cls.PARAMETERS[key]
            if value is not None and check is not None and not check(value):
                raise errors.HypervisorError("Parameter '%s' must be %s, not %r"
                                             % (key, desc, value))

    @classmethod
    def get_instance_console(cls, instance, primary_node, node_group, hvparams, beparams):
        """A console description dict (see console_ssh/console_vnc/console_message)."""
        raise NotImplementedError

    # ---- node side ------------------------------------------------------------------

    def validate_parameters(self, hvparams):
        """Node-side checks (files exist, binaries present); raise HypervisorError."""

    def start_instance(self, instance, block_devices, startup_paused):
        """Start ``instance``; block_devices: [(disk dict, dev_path, link_name), ...]."""
        raise NotImplementedError

    def stop_instance(self, instance, force=False, timeout=None, name=None):
        """Stop the instance (clean shutdown unless force); ``name`` for leftovers."""
        raise NotImplementedError

    def reboot_instance(self, instance):
        raise NotImplementedError

    def list_instances(self, hvparams=None):
        """Names of the instances running here."""
        raise NotImplementedError

    def get_instance_info(self, instance_name, hvparams=None):
        """An InstanceInfo, or None if the instance does not run here."""
        raise NotImplementedError

    def get_all_instances_info(self, hvparams=None):
        return [info for info in (self.get_instance_info(n, hvparams)
                                  for n in self.list_instances(hvparams)) if info]

    def get_node_info(self, hvparams=None):
        """{memory_total, memory_free, memory_dom0, cpu_total, cpu_nodes, cpu_sockets}."""
        raise NotImplementedError

    def verify(self, hvparams=None):
        """None if the hypervisor is usable on this node, else an error message."""
        return None

    def cleanup_instance(self, instance_name):
        """Remove runtime leftovers of a stopped instance."""

    def balloon_instance_memory(self, instance, mem):
        raise errors.HypervisorError("Memory ballooning is not supported by %s"
                                     % self.__class__.__name__)

    # ---- node side: migration ------------------------------------------------------
    # The master drives a migration in this order (cmdlib/instance_migration.py):
    # migration_info on the source, accept_instance on the target,
    # migrate_instance on the source, get_migration_status on the source until
    # it is no longer active, then finalize_migration_src and _dst (both, with
    # the outcome). A failure before the end calls both finalizers with
    # success=False: the target drops what it prepared, the source goes on.

    @classmethod
    def versions_safe_for_migration(cls, src, dst):
        """Whether an instance may move from hypervisor version ``src`` to ``dst``
        (lists of numbers): the same major and minor version."""
        return list(src[:2]) == list(dst[:2])

    def _no_migration(self):
        raise errors.HypervisorError("Migration is not supported by %s"
                                     % self.__class__.__name__)

    def migration_info(self, instance):
        """What the target needs to accept ``instance`` (JSON data)."""
        self._no_migration()

    def accept_instance(self, instance, info, target_ip, block_devices):
        """Prepare this node to receive ``instance`` on ``target_ip``."""
        self._no_migration()

    def migrate_instance(self, cluster_name, instance, target_ip, live):
        """Start sending the running ``instance`` to ``target_ip``; returns at once."""
        self._no_migration()

    def get_migration_status(self, instance):
        """{"status": one of MIGRATION_STATUSES, "transferred_ram", "total_ram"}
        (bytes, None when unknown)."""
        self._no_migration()

    def finalize_migration_src(self, instance, success, live):
        """After the transfer: on success end the source copy; else resume it."""
        self._no_migration()

    def finalize_migration_dst(self, instance, info, success):
        """After the transfer: on success check the copy here runs; else drop it."""
        self._no_migration()


# Migration states reported by get_migration_status (QEMU's names).
MIGRATION_ACTIVE = frozenset(["setup", "active", "pre-switchover", "device",
                              "postcopy-active", "postcopy-paused", "postcopy-recover",
                              "wait-unplug"])
MIGRATION_COMPLETED = "completed"
MIGRATION_FAILED = frozenset(["failed", "cancelled", "cancelling"])


# ---- parameter checks shared by hypervisors ---------------------------------------------

def is_bool(value):
    return isinstance(value, bool)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_nonneg_int(value):
    return is_int(value) and value >= 0


def is_str(value):
    return isinstance(value, str)


def is_abs_path_or_empty(value):
    return isinstance(value, str) and (value == "" or value.startswith("/"))


def one_of(*choices):
    return (lambda v: v in choices), "one of %s" % ", ".join(map(repr, choices))


BOOL = (is_bool, "a boolean")
INT = (is_int, "an integer")
NONNEG_INT = (is_nonneg_int, "a non-negative integer")
STR = (is_str, "a string")
PATH = (is_abs_path_or_empty, "an absolute path (or empty)")


def defaults_for(hv_name):
    return dict(constants.HVC_DEFAULTS.get(hv_name, {}))


# ---- node helpers shared by hypervisors -------------------------------------------------

def check_instance_name(name):
    """Raise HypervisorError unless ``name`` is safe to use as a file name (the
    rule the master checks too: utils.instance_name)."""
    if not is_valid_instance_name(name):
        raise errors.HypervisorError("Invalid instance name %r" % (name,))
    return name

