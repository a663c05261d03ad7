"""Every file system path the daemons and tools use, from one place.

Virtual cluster mode (several nodes on one machine): when GANETI_ROOTDIR is set,
every path is prefixed with it, and GANETI_HOSTNAME names this node; the last
component of GANETI_ROOTDIR must equal GANETI_HOSTNAME. GANETI_HOSTNAME alone
(our extension) only overrides the node name, for a node whose system hostname
is not its cluster name (see doc/virtual-cluster.rst).
"""

import os

from ganeti import errors

try:
    from ganeti import _autoconf
except ImportError:  # running from a source tree that was not configured
    _autoconf = None


def _conf(name, default):
    return getattr(_autoconf, name, default) if _autoconf else default


SYSCONFDIR = _conf("SYSCONFDIR", "/etc")
LOCALSTATEDIR = _conf("LOCALSTATEDIR", "/var")
PKGLIBDIR = _conf("PKGLIBDIR", "/usr/lib/ganeti")
SBINDIR = _conf("SBINDIR", "/usr/local/sbin")
# the parent of the versioned share directories ($(datadir)/ganeti/X.Y, INSTALL)
SHAREDIR = _conf("SHAREDIR", "/usr/share/ganeti")
DEFAULT_FILE_STORAGE_DIR = "/srv/ganeti/file-storage"
DEFAULT_SHARED_FILE_STORAGE_DIR = "/srv/ganeti/shared-file-storage"
DEFAULT_GLUSTER_STORAGE_DIR = "/var/run/ganeti/gluster"


DEFAULTS_FILE = SYSCONFDIR + "/default/ganeti"


def read_defaults_file(path=None):
    """KEY=value settings of /etc/default/ganeti (shell syntax, simple lines only)."""
    result = {}
    try:
        with open(path or DEFAULTS_FILE) as fd:
            lines = fd.readlines()
    except OSError:
        return result
    for line in lines:
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        result[key.strip()] = value
    return result


def default_setting(key):
    """A setting of /etc/default/ganeti; the environment variable of the same
    name wins (for a single run). "" when neither has it."""
    value = os.environ.get(key)
    if value is None:
        value = read_defaults_file().get(key, "")
    return value


def _read_virtual_env(environ):
    rootdir = environ.get("GANETI_ROOTDIR", "")
    hostname = environ.get("GANETI_HOSTNAME", "")
    if not rootdir and not hostname:
        # a node whose system hostname is not its cluster name keeps it here
        hostname = read_defaults_file().get("GANETI_HOSTNAME", "")
    if rootdir:
        if not hostname:
            raise errors.ConfigurationError(
                "GANETI_ROOTDIR is set but GANETI_HOSTNAME is not; set both for a"
                " virtual cluster node, or neither")
        if not os.path.isabs(rootdir):
            raise errors.ConfigurationError("GANETI_ROOTDIR must be an absolute path")
        rootdir = os.path.normpath(rootdir)
        if os.path.basename(rootdir) != hostname:
            raise errors.ConfigurationError(
                "The last component of GANETI_ROOTDIR (%s) must be the node name"
                " GANETI_HOSTNAME (%s)" % (rootdir, hostname))
    return rootdir, hostname


VIRT_ROOTDIR, VIRT_HOSTNAME = _read_virtual_env(os.environ)


def root(path):
    """``path`` under this node's root directory (virtual cluster aware)."""
    return VIRT_ROOTDIR + path if VIRT_ROOTDIR else path


def is_virtual_cluster():
    return bool(VIRT_ROOTDIR)


def node_root(node_name):
    """The root dir of another node of the virtual cluster ('' when not virtual)."""
    if not VIRT_ROOTDIR:
        return ""
    return os.path.join(os.path.dirname(VIRT_ROOTDIR), node_name)


def to_node_path(path, node_name):
    """Translate one of our absolute paths to the same path on ``node_name``."""
    if not VIRT_ROOTDIR or not path.startswith(VIRT_ROOTDIR + "/"):
        return path
    return node_root(node_name) + path[len(VIRT_ROOTDIR):]


def strip_root(path):
    """The path as the node sees it without the virtual root (for transport)."""
    if VIRT_ROOTDIR and path.startswith(VIRT_ROOTDIR + "/"):
        return path[len(VIRT_ROOTDIR):]
    return path


DATA_DIR = root(LOCALSTATEDIR + "/lib/ganeti")
RUN_DIR = root(LOCALSTATEDIR + "/run/ganeti")
LOG_DIR = root(LOCALSTATEDIR + "/log/ganeti")
LOCK_DIR = root(LOCALSTATEDIR + "/lock")
CONF_DIR = root(SYSCONFDIR + "/ganeti")

# The active version: links to $(libdir)/ganeti/X.Y and $(datadir)/ganeti/X.Y,
# which gnt-cluster upgrade switches on every node (INSTALL).
ACTIVE_LIB_LINK = CONF_DIR + "/lib"
ACTIVE_SHARE_LINK = CONF_DIR + "/share"
# Where the daemon executables live: the active version's share directory once
# make install made it (the programs in $(sbindir) are links to it), else
# $(sbindir). GANETI_DAEMONS_DIR points a source tree's tests at daemons/ (see
# doc/virtual-cluster.rst).
DAEMONS_DIR = (os.environ.get("GANETI_DAEMONS_DIR")
               or (ACTIVE_SHARE_LINK if os.path.isdir(ACTIVE_SHARE_LINK) else SBINDIR))
# the active version's node tools (in $(libdir)/ganeti/X.Y)
DAEMON_UTIL = ACTIVE_LIB_LINK + "/daemon-util"
ENSURE_DIRS = ACTIVE_LIB_LINK + "/ensure-dirs"
CFGUPGRADE = ACTIVE_LIB_LINK + "/tools/cfgupgrade"
POST_UPGRADE = ACTIVE_LIB_LINK + "/tools/post-upgrade"
# gnt-cluster upgrade: its record of an upgrade under way, and its backups
INTENT_TO_UPGRADE = DATA_DIR + "/intent-to-upgrade"
BACKUP_DIR = root(LOCALSTATEDIR + "/lib")

CLUSTER_CONF_FILE = DATA_DIR + "/config.data"
NODED_CERT_FILE = DATA_DIR + "/server.pem"
RAPI_CERT_FILE = DATA_DIR + "/rapi.pem"
CONFD_HMAC_KEY = DATA_DIR + "/hmac.key"
CLUSTER_DOMAIN_SECRET_FILE = DATA_DIR + "/cluster-domain-secret"
SSH_KNOWN_HOSTS_FILE = DATA_DIR + "/known_hosts"
RAPI_USERS_FILE = DATA_DIR + "/rapi/users"
SSCONF_PREFIX = DATA_DIR + "/ssconf_"
WATCHER_PAUSEFILE = DATA_DIR + "/watcher.pause"
EXPORT_DIR = DATA_DIR + "/export"

# etcd, the store of the configuration and master lease (doc/etcd.rst)
ETCD_DIR = DATA_DIR + "/etcd"                 # the member's data (mode 0700)
ETCD_CERT_FILE = DATA_DIR + "/etcd.pem"       # this node's key + cert, signed by server.pem
ETCD_CA_FILE = DATA_DIR + "/etcd-ca.pem"      # server.pem's certificate alone (no key)
ETCD_MEMBER_FILE = DATA_DIR + "/etcd-member.json"  # how to start this node's member

QUEUE_DIR = DATA_DIR + "/queue"
JOB_QUEUE_SERIAL_FILE = QUEUE_DIR + "/serial"
JOB_QUEUE_VERSION_FILE = QUEUE_DIR + "/version"
JOB_QUEUE_LOCK_FILE = QUEUE_DIR + "/lock"
JOB_QUEUE_DRAIN_FILE = QUEUE_DIR + "/drain"
JOB_QUEUE_ARCHIVE_DIR = QUEUE_DIR + "/archive"

SOCKET_DIR = RUN_DIR + "/socket"
MASTER_SOCKET = SOCKET_DIR + "/ganeti-master"
QUERY_SOCKET = SOCKET_DIR + "/ganeti-query"
BDEV_CACHE_DIR = RUN_DIR + "/bdev-cache"
DISK_LINKS_DIR = RUN_DIR + "/instance-disks"
CRYPTO_KEYS_DIR = RUN_DIR + "/crypto"
IMPORT_EXPORT_DIR = RUN_DIR + "/import-export"

HOOKS_BASE_DIR = CONF_DIR + "/hooks"
FILE_STORAGE_PATHS_FILE = CONF_DIR + "/file-storage-paths"
RESTRICTED_COMMANDS_DIR = CONF_DIR + "/restricted-commands"
RESTRICTED_COMMANDS_LOCK_FILE = LOCK_DIR + "/ganeti-restricted-commands.lock"
VNC_PASSWORD_FILE = CONF_DIR + "/vnc-cluster-password"
EXTERNAL_MASTER_SETUP_SCRIPT = CONF_DIR + "/scripts/master-ip-setup"

LOG_OS_DIR = LOG_DIR + "/os"
LOG_ES_DIR = LOG_DIR + "/extstorage"
LOG_COMMANDS = LOG_DIR + "/commands.log"
LOG_WATCHER = LOG_DIR + "/watcher.log"


def daemon_log_file(daemon):
    from ganeti import constants
    return LOG_DIR + "/" + constants.DAEMONS_LOGFILES[daemon]


def daemon_pid_file(daemon):
    return RUN_DIR + "/" + daemon + ".pid"


def ssconf_file(key):
    return SSCONF_PREFIX + key


# Files the master may push to nodes with upload_file; nothing else is accepted.
def upload_allowed_files():
    return frozenset([
        CLUSTER_CONF_FILE, NODED_CERT_FILE, RAPI_CERT_FILE, CONFD_HMAC_KEY,
        CLUSTER_DOMAIN_SECRET_FILE, SSH_KNOWN_HOSTS_FILE, RAPI_USERS_FILE,
        VNC_PASSWORD_FILE, FILE_STORAGE_PATHS_FILE, root("/etc/hosts"),
        WATCHER_PAUSEFILE,
    ])
