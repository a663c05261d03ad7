"""Constants shared by every part: versions, names, defaults, states, ports.

Values that show at the outside (strings in config.data, job files, CLI output,
RAPI) are Ganeti 2.x's, so that scripts and tools written for Ganeti keep working.
"""

# ---- versions ---------------------------------------------------------------
try:
    from ganeti import _autoconf as _built   # made by make: configure's version
except ImportError:                            # a source tree that was not built
    _built = None
# this implementation's own version (configure.ac's AC_INIT; the fallback must match)
PACKAGE_VERSION = getattr(_built, "PACKAGE_VERSION", "0.1.0")
RELEASE_VERSION = PACKAGE_VERSION   # what `gnt-cluster version` and --version print
VCS_VERSION = "ganeti-py " + PACKAGE_VERSION


def _version_number(version):
    """"a.b.c" -> a*1000000 + b*10000 + c (Ganeti's numbering of formats)."""
    major, minor, revision = (int(part) for part in version.split("."))
    return major * 1000000 + minor * 10000 + revision


# Our own node RPC protocol: not Ganeti's (a Ganeti noded cannot serve us), so a
# number of our own, which no Ganeti release used (theirs: 13..20, then 2010000 up)
PROTOCOL_VERSION = _version_number(PACKAGE_VERSION)
# the versioned install directories' name: $(libdir)/ganeti/MAJOR.MINOR and
# $(datadir)/ganeti/MAJOR.MINOR (INSTALL, gnt-cluster upgrade)
DIR_VERSION = ".".join(PACKAGE_VERSION.split(".")[:2])
# gnt-cluster upgrade waits this long for the running jobs to end (Ganeti's values)
UPGRADE_QUEUE_DRAIN_TIMEOUT = 36 * 60 * 60
UPGRADE_QUEUE_POLL_INTERVAL = 10
# config.data keeps Ganeti 2.16's layout and format number (checked on load)
CONFIG_MAJOR, CONFIG_MINOR, CONFIG_REVISION = 2, 16, 0
CONFIG_VERSION = CONFIG_MAJOR * 1000000 + CONFIG_MINOR * 10000 + CONFIG_REVISION
OS_API_VERSION = 20
EXPORT_VERSION = 0
LUXI_VERSION = CONFIG_VERSION
JOB_QUEUE_VERSION = 1

# ---- daemons, ports, users ----------------------------------------------------
NODED = "ganeti-noded"
MASTERD = "ganeti-masterd"
RAPI = "ganeti-rapi"
ETCD = "ganeti-etcd"        # runs etcd on master candidates (doc/etcd.rst)
DEFAULT_NODED_PORT = 1811
ETCD_CLIENT_PORT = 2379     # etcd's registered ports, on the node's primary IP only
ETCD_PEER_PORT = 2380
DEFAULT_RAPI_PORT = 5080
DAEMONS_PORTS = {NODED: ("tcp", DEFAULT_NODED_PORT), RAPI: ("tcp", DEFAULT_RAPI_PORT)}
ADMIN_GROUP = "gnt-admin"
DAEMONS_LOGFILES = {
    NODED: "node-daemon.log",
    MASTERD: "master-daemon.log",
    RAPI: "rapi-daemon.log",
    ETCD: "etcd.log",
}

# ---- exit codes (cli.md 0.8) ----------------------------------------------------
EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOTCLUSTER = 5
EXIT_NOTMASTER = 11
EXIT_NODESETUP_ERROR = 12
EXIT_CONFIRMATION = 13
EXIT_UNKNOWN_FIELD = 14

# ---- hypervisors ----------------------------------------------------------------
HT_XEN_PVM = "xen-pvm"
HT_XEN_HVM = "xen-hvm"
HT_KVM = "kvm"
HT_FAKE = "fake"
HT_CHROOT = "chroot"
HT_LXC = "lxc"
HYPER_TYPES = frozenset([HT_XEN_PVM, HT_XEN_HVM, HT_KVM, HT_FAKE, HT_CHROOT, HT_LXC])
DEFAULT_ENABLED_HYPERVISOR = HT_XEN_PVM

# ---- disk templates -------------------------------------------------------------
DT_DISKLESS = "diskless"
DT_PLAIN = "plain"
DT_DRBD8 = "drbd"
DT_FILE = "file"
DT_SHARED_FILE = "sharedfile"
DT_BLOCK = "blockdev"
DT_RBD = "rbd"
DT_EXT = "ext"
DT_GLUSTER = "gluster"
DISK_TEMPLATES = frozenset([DT_DISKLESS, DT_PLAIN, DT_DRBD8, DT_FILE, DT_SHARED_FILE,
                            DT_BLOCK, DT_RBD, DT_EXT, DT_GLUSTER])
DEFAULT_ENABLED_DISK_TEMPLATES = [DT_DRBD8, DT_PLAIN]
DTS_LVM = frozenset([DT_PLAIN, DT_DRBD8])
# what exclusive storage (one LV per PV) supports: plain only, as in Ganeti 3.0
DTS_EXCL_STORAGE = frozenset([DT_PLAIN])
MIN_VG_SIZE = 20480         # MiB: the smallest volume group gnt-cluster init accepts
DRBD_META_SIZE = 128        # MiB: the metadata volume of every drbd disk
DRBD_MAX_MINORS = 255       # the drbd module's default minor_count
FIRST_DRBD_PORT = 11000     # the cluster's TCP port pool (DRBD links)
LAST_DRBD_PORT = 14999
DTS_FILEBASED = frozenset([DT_FILE, DT_SHARED_FILE, DT_GLUSTER])
DTS_INT_MIRROR = frozenset([DT_DRBD8])
# storage every node reaches: an instance may move to any node (Ganeti counts
# diskless here too)
DTS_EXT_MIRROR = frozenset([DT_DISKLESS, DT_SHARED_FILE, DT_BLOCK, DT_RBD, DT_EXT,
                            DT_GLUSTER])
DTS_MIRRORED = DTS_INT_MIRROR | DTS_EXT_MIRROR

# local disk status in a disk's sync status ("ldisk"); Ganeti's values
LDS_OKAY = 1
LDS_UNKNOWN = 2
LDS_FAULTY = 3

# replace-disks modes and node evacuation modes (Ganeti's values)
REPLACE_DISK_PRI = "replace_on_primary"
REPLACE_DISK_SEC = "replace_on_secondary"
REPLACE_DISK_CHG = "replace_new_secondary"
REPLACE_DISK_AUTO = "replace_auto"
REPLACE_MODES = frozenset([REPLACE_DISK_PRI, REPLACE_DISK_SEC, REPLACE_DISK_CHG,
                           REPLACE_DISK_AUTO])
NODE_EVAC_PRI = "primary-only"
NODE_EVAC_SEC = "secondary-only"
NODE_EVAC_ALL = "all"
NODE_EVAC_MODES = frozenset([NODE_EVAC_PRI, NODE_EVAC_SEC, NODE_EVAC_ALL])

# storage types (for node storage queries)
ST_LVM_VG = "lvm-vg"
ST_LVM_PV = "lvm-pv"
ST_FILE = "file"
ST_SHARED_FILE = "sharedfile"
ST_DISKLESS = "diskless"
MAP_DISK_TEMPLATE_STORAGE_TYPE = {
    DT_PLAIN: ST_LVM_VG, DT_DRBD8: ST_LVM_VG, DT_FILE: ST_FILE,
    DT_SHARED_FILE: ST_SHARED_FILE, DT_DISKLESS: ST_DISKLESS,
}

DEFAULT_VG = "xenvg"
DEFAULT_BRIDGE = "xen-br0"
DEFAULT_MAC_PREFIX = "aa:00:00"
DEFAULT_CANDIDATE_POOL_SIZE = 10
SSH_DEFAULT_KEY_TYPE = "rsa"      # the nodes' keys, unless init --ssh-key-type
DEFAULT_MAX_RUNNING_JOBS = 20
DEFAULT_MAX_TRACKED_JOBS = 25
DEFAULT_DRBD_HELPER = "/bin/true"
DEFAULT_IALLOCATOR = ""
DEFAULT_MASTER_NETDEV = "eth0"
IP4_ADDRESS_LOCALHOST = "127.0.0.1"
IP4_VERSION = 4
IP6_VERSION = 6
IP4_FAMILY = 2
IP6_FAMILY = 10

# ---- NIC parameters -------------------------------------------------------------
NIC_MODE_BRIDGED = "bridged"
NIC_MODE_ROUTED = "routed"
NIC_MODE_OVS = "openvswitch"
NIC_VALID_MODES = frozenset([NIC_MODE_BRIDGED, NIC_MODE_ROUTED, NIC_MODE_OVS])
NIC_MODE = "mode"
NIC_LINK = "link"
NIC_VLAN = "vlan"
NICC_DEFAULTS = {NIC_MODE: NIC_MODE_BRIDGED, NIC_LINK: DEFAULT_BRIDGE, NIC_VLAN: ""}

# ---- backend parameters ---------------------------------------------------------
BE_VCPUS = "vcpus"
BE_MAXMEM = "maxmem"
BE_MINMEM = "minmem"
BE_AUTO_BALANCE = "auto_balance"
BE_ALWAYS_FAILOVER = "always_failover"
BE_SPINDLE_USE = "spindle_use"
BEC_DEFAULTS = {
    BE_MINMEM: 128, BE_MAXMEM: 128, BE_VCPUS: 1, BE_AUTO_BALANCE: True,
    BE_ALWAYS_FAILOVER: False, BE_SPINDLE_USE: 1,
}

# ---- node parameters ------------------------------------------------------------
ND_EXCLUSIVE_STORAGE = "exclusive_storage"
NDC_DEFAULTS = {
    "oob_program": "", "spindle_count": 1, "exclusive_storage": False,
    "ovs": False, "ovs_name": "switch1", "ovs_link": "", "ssh_port": 22,
    "cpu_speed": 1.0,
}

# ---- hypervisor parameter defaults (internals.md §10) -----------------------------
# set cluster-wide only, whichever the hypervisor
HVC_GLOBALS = frozenset(["migration_bandwidth", "migration_mode", "migration_port", "xen_cmd"])
HVC_DEFAULTS = {
    HT_FAKE: {"migration_mode": "live"},
    HT_KVM: {
        "kvm_path": "/usr/bin/kvm", "kernel_path": "/boot/vmlinuz-3-kvmU",
        "initrd_path": "", "root_path": "/dev/vda1", "kernel_args": "ro",
        "boot_order": "disk", "acpi": True, "serial_console": True,
        "serial_speed": 38400, "vnc_bind_address": "", "vnc_tls": False,
        "vnc_x509_path": "", "vnc_x509_verify": False, "vnc_password_file": "",
        "nic_type": "paravirtual", "disk_type": "paravirtual",
        "cdrom_image_path": "", "cdrom2_image_path": "", "floppy_image_path": "",
        "disk_cache": "default", "disk_aio": "threads", "security_model": "none",
        "security_domain": "", "kvm_flag": "", "mem_path": "", "use_chroot": False,
        "use_localtime": False, "usb_mouse": "", "keymap": "",
        "migration_downtime": 30, "migration_bandwidth": 32,
        "migration_port": 8102, "migration_mode": "live", "cpu_mask": "all",
        "cpu_type": "", "cpu_cores": 0, "cpu_threads": 0, "cpu_sockets": 0,
        "vhost_net": False, "vnet_hdr": True, "machine_version": "",
        "kvm_extra": "", "reboot_behavior": "reboot", "user_shutdown": False,
        "soundhw": "", "usb_devices": "", "vga": "", "disk_discard": "default",
        "cdrom_disk_type": "", "scsi_controller_type": "lsi", "virtio_net_queues": 1,
        "kvm_pci_reservations": 12, "use_guest_agent": False, "migration_caps": "",
    },
    HT_XEN_PVM: {
        "kernel_path": "/boot/vmlinuz-3-xenU", "initrd_path": "",
        "root_path": "/dev/xvda1", "kernel_args": "ro", "use_bootloader": False,
        "bootloader_path": "", "bootloader_args": "", "blockdev_prefix": "sd",
        "cpu_mask": "all", "cpu_cap": 0, "cpu_weight": 256, "cpuid": "",
        "reboot_behavior": "reboot", "vif_script": "", "soundhw": "",
        "migration_mode": "live", "migration_port": 8002, "xen_cmd": "xl",
    },
    HT_XEN_HVM: {
        "boot_order": "cd", "kernel_path": "/usr/lib/xen/boot/hvmloader",
        "device_model": "/usr/lib/xen/bin/qemu-dm", "cdrom_image_path": "",
        "nic_type": "rtl8139", "disk_type": "paravirtual", "vif_type": "ioemu",
        "vnc_bind_address": "0.0.0.0",
        "vnc_password_file": "/etc/ganeti/vnc-cluster-password", "acpi": True,
        "pae": True, "use_localtime": False, "blockdev_prefix": "hd",
        "viridian": False, "pci_pass": "", "cpu_mask": "all", "cpu_cap": 0,
        "cpu_weight": 256, "cpuid": "", "reboot_behavior": "reboot",
        "migration_mode": "non-live", "migration_port": 8002, "xen_cmd": "xl",
    },
    HT_CHROOT: {"init_script": "/ganeti-chroot"},
    HT_LXC: {"cpu_mask": "", "devices": "", "drop_capabilities": "",
             "extra_cgroups": "", "extra_config": "", "num_ttys": 6,
             "startup_timeout": 30},
}

# ---- disk parameter defaults (internals.md §9) -----------------------------------
DISK_DT_DEFAULTS = {
    DT_PLAIN: {"stripes": 1},
    DT_DRBD8: {
        "resync-rate": 61440, "data-stripes": 1, "meta-stripes": 1,
        "disk-barriers": "n", "meta-barriers": False, "metavg": DEFAULT_VG,
        "disk-custom": "", "net-custom": "", "protocol": "C",
        "dynamic-resync": False, "c-plan-ahead": 20, "c-fill-target": 0,
        "c-delay-target": 1, "c-min-rate": 4096, "c-max-rate": 61440,
    },
    DT_DISKLESS: {}, DT_FILE: {}, DT_SHARED_FILE: {}, DT_BLOCK: {},
    DT_RBD: {"pool": "rbd", "access": "kernelspace"},
    DT_EXT: {"access": "kernelspace"},
    DT_GLUSTER: {"access": "kernelspace", "host": "127.0.0.1", "port": 24007,
                 "volume": "gv0"},
}

# ---- instance policy defaults ----------------------------------------------------
ISPECS_MIN_DEFAULTS = {"cpu-count": 1, "disk-count": 1, "disk-size": 1024,
                       "memory-size": 128, "nic-count": 1, "spindle-use": 1}
ISPECS_MAX_DEFAULTS = {"cpu-count": 8, "disk-count": 16, "disk-size": 1048576,
                       "memory-size": 32768, "nic-count": 8, "spindle-use": 12}
ISPECS_STD_DEFAULTS = dict(ISPECS_MIN_DEFAULTS)
IPOLICY_DEFAULTS = {
    "minmax": [{"min": ISPECS_MIN_DEFAULTS, "max": ISPECS_MAX_DEFAULTS}],
    "std": ISPECS_STD_DEFAULTS,
    "disk-templates": sorted(DISK_TEMPLATES),
    "vcpu-ratio": 4.0,
    "spindle-ratio": 32.0,
}

# ---- instance states ------------------------------------------------------------
ADMINST_UP = "up"
ADMINST_DOWN = "down"
ADMINST_OFFLINE = "offline"
ADMINST_ALL = frozenset([ADMINST_UP, ADMINST_DOWN, ADMINST_OFFLINE])

# ---- node roles ------------------------------------------------------------------
NR_MASTER = "M"
NR_MCANDIDATE = "C"
NR_REGULAR = "R"
NR_DRAINED = "D"
NR_OFFLINE = "O"

# ---- node group allocation policies ------------------------------------------------
ALLOC_POLICY_PREFERRED = "preferred"
ALLOC_POLICY_LAST_RESORT = "last_resort"
ALLOC_POLICY_UNALLOCABLE = "unallocable"
INITIAL_NODE_GROUP_NAME = "default"

# ---- jobs and opcodes --------------------------------------------------------------
JOB_STATUS_QUEUED = "queued"
JOB_STATUS_WAITING = "waiting"
JOB_STATUS_CANCELING = "canceling"
JOB_STATUS_RUNNING = "running"
JOB_STATUS_CANCELED = "canceled"
JOB_STATUS_SUCCESS = "success"
JOB_STATUS_ERROR = "error"
JOBS_PENDING = frozenset([JOB_STATUS_QUEUED, JOB_STATUS_WAITING, JOB_STATUS_CANCELING])
JOBS_FINALIZED = frozenset([JOB_STATUS_CANCELED, JOB_STATUS_SUCCESS, JOB_STATUS_ERROR])
JOB_STATUS_ALL = JOBS_PENDING | JOBS_FINALIZED | frozenset([JOB_STATUS_RUNNING])
JOB_IDS_KEY = "jobs"       # in an opcode's result: the jobs its LU submitted

OP_STATUS_QUEUED = "queued"
OP_STATUS_WAITING = "waiting"
OP_STATUS_CANCELING = "canceling"
OP_STATUS_RUNNING = "running"
OP_STATUS_CANCELED = "canceled"
OP_STATUS_SUCCESS = "success"
OP_STATUS_ERROR = "error"
OPS_FINALIZED = frozenset([OP_STATUS_CANCELED, OP_STATUS_SUCCESS, OP_STATUS_ERROR])

OP_PRIO_LOWEST = 19
OP_PRIO_HIGHEST = -20
OP_PRIO_LOW = 10
OP_PRIO_NORMAL = 0
OP_PRIO_HIGH = -10
OP_PRIO_SUBMIT_VALID = frozenset([OP_PRIO_LOW, OP_PRIO_NORMAL, OP_PRIO_HIGH])
OP_PRIO_DEFAULT = OP_PRIO_NORMAL

# job log message types
ELOG_MESSAGE = "message"
ELOG_REMOTE_IMPORT = "remote-import"
ELOG_JQUEUE_TEST = "jqueue-test"
ELOG_DELAY_TEST = "delay-test"

JOB_QUEUE_SIZE_SOFT_LIMIT = 5000
JOB_QUEUE_SIZE_HARD_LIMIT = 8000
JOB_QUEUE_DIRS_MODE = 0o700
JOB_QUEUE_FILES_PERMS = 0o600
JOB_ARCHIVE_DIRECTORY_SIZE = 10000   # archive/<id // 10000>/job-<id>
JOB_ID_TEMPLATE = r"\d+"
JOB_FILE_PREFIX = "job-"
LOCK_ATTEMPTS_TIMEOUT = 5.0          # first lock attempt, seconds
LOCK_ATTEMPTS_MAXWAIT = 75.0
LUXI_WFJC_TIMEOUT = 29.0             # WaitForJobChange long-poll bound (< client read timeout)
UNCLEAN_SHUTDOWN_MSG = "Unclean master daemon shutdown"

# ---- hooks -------------------------------------------------------------------------
HOOKS_PHASE_PRE = "pre"
HOOKS_PHASE_POST = "post"
HOOKS_VERSION = 2
HKR_SKIP = 0
HKR_FAIL = 1
HKR_SUCCESS = 2
HOOKS_NAME_RE = r"^[a-zA-Z0-9_-]+$"
HTYPE_CLUSTER = "CLUSTER"
HTYPE_NODE = "NODE"
HTYPE_GROUP = "GROUP"
HTYPE_INSTANCE = "INSTANCE"
HTYPE_NETWORK = "NETWORK"
HOOKS_DEFAULT_TIMEOUT = 3600

# ---- RPC -----------------------------------------------------------------------------
RPC_TMO_URGENT = 60
RPC_TMO_FAST = 300
RPC_TMO_NORMAL = 900
RPC_TMO_SLOW = 3600
RPC_CONNECT_TIMEOUT = 5
RPC_OFFLINE_MSG = "Node is marked offline"

# ---- out-of-band management (doc/oob.rst) -------------------------------------------
OOB_POWER_ON = "power-on"
OOB_POWER_OFF = "power-off"
OOB_POWER_CYCLE = "power-cycle"
OOB_POWER_STATUS = "power-status"
OOB_HEALTH = "health"
OOB_COMMANDS = frozenset([OOB_POWER_ON, OOB_POWER_OFF, OOB_POWER_CYCLE, OOB_POWER_STATUS,
                          OOB_HEALTH])
OOB_POWER_STATUS_POWERED = "powered"
OOB_TIMEOUT = 60            # seconds the helper may run
OOB_POWER_DELAY = 2.0       # seconds between two power-ons
OOB_STATUS_OK = "OK"
OOB_STATUS_WARNING = "WARNING"
OOB_STATUS_CRITICAL = "CRITICAL"
OOB_STATUS_UNKNOWN = "UNKNOWN"
OOB_STATUSES = frozenset([OOB_STATUS_OK, OOB_STATUS_WARNING, OOB_STATUS_CRITICAL,
                          OOB_STATUS_UNKNOWN])

# ---- ssconf ----------------------------------------------------------------------------
SS_CLUSTER_NAME = "cluster_name"
SS_CLUSTER_TAGS = "cluster_tags"

# the kinds of objects that carry tags (Ganeti's TAG_*)
TAG_CLUSTER = "cluster"
TAG_NODEGROUP = "nodegroup"
TAG_NODE = "node"
TAG_INSTANCE = "instance"
TAG_NETWORK = "network"
VALID_TAG_TYPES = frozenset([TAG_CLUSTER, TAG_NODEGROUP, TAG_NODE, TAG_INSTANCE,
                             TAG_NETWORK])
MAX_TAGS_PER_OBJ = 4096
SS_FILE_STORAGE_DIR = "file_storage_dir"
SS_SHARED_FILE_STORAGE_DIR = "shared_file_storage_dir"
SS_GLUSTER_STORAGE_DIR = "gluster_storage_dir"
SS_MASTER_CANDIDATES = "master_candidates"
SS_MASTER_CANDIDATES_IPS = "master_candidates_ips"
SS_MASTER_IP = "master_ip"
SS_MASTER_NETDEV = "master_netdev"
SS_MASTER_NETMASK = "master_netmask"
SS_MASTER_NODE = "master_node"
SS_NODE_LIST = "node_list"
SS_NODE_PRIMARY_IPS = "node_primary_ips"
SS_NODE_SECONDARY_IPS = "node_secondary_ips"
SS_NODE_VM_CAPABLE = "node_vm_capable"
SS_OFFLINE_NODES = "offline_nodes"
SS_ONLINE_NODES = "online_nodes"
SS_PRIMARY_IP_FAMILY = "primary_ip_family"
SS_INSTANCE_LIST = "instance_list"
SS_RELEASE_VERSION = "release_version"
SS_HYPERVISOR_LIST = "hypervisor_list"
SS_MAINTAIN_NODE_HEALTH = "maintain_node_health"
SS_UID_POOL = "uid_pool"
SS_NODEGROUPS = "nodegroups"
SS_NETWORKS = "networks"
SS_ENABLED_USER_SHUTDOWN = "enabled_user_shutdown"
SS_HVPARAMS_PREF = "hvparams_"
SS_FILE_PERMS = 0o444

# ---- OS ------------------------------------------------------------------------------
OS_SEARCH_PATH = ["/srv/ganeti/os", "/usr/local/lib/ganeti/os", "/usr/lib/ganeti/os",
                  "/usr/share/ganeti/os"]
ES_SEARCH_PATH = ["/srv/ganeti/extstorage", "/usr/local/lib/ganeti/extstorage",
                  "/usr/lib/ganeti/extstorage", "/usr/share/ganeti/extstorage"]

# ---- misc ---------------------------------------------------------------------------
DEFAULT_SHUTDOWN_TIMEOUT = 120
MAX_NET_NAME_LEN = 255
COMPRESSION_TOOLS = ["gzip", "gzip-fast", "gzip-slow"]
DEFAULT_DATA_COLLECTORS = ["cpu-avg-load", "diskstats", "drbd", "inst-status-xen",
                           "lv", "xen-cpu-avg-load"]
DEFAULT_DATA_COLLECTOR_INTERVAL = 5.0
VALUE_DEFAULT = "default"
VALUE_AUTO = "auto"
VALUE_GENERATE = "generate"
VALUE_NONE = "none"
VALUE_TRUE = "true"
VALUE_FALSE = "false"
