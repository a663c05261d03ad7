"""Creating and destroying a cluster (gnt-cluster init / destroy).

Init is not a job: there is no master daemon yet. It checks everything first
and changes nothing when a check fails; then it writes the certificates, the
configuration and ssconf, starts the daemons and turns on the master IP.
"""

import os
import re
import socket
import time

from ganeti import constants, daemon_util, errors, objects, pathutils
from ganeti.etcd import member as etcd_member
from ganeti.utils import io, net, process

_VG_NAME_RE = re.compile(r"^[a-zA-Z0-9+_.-]+$")


def _prereq(msg, code=errors.ECODE_INVAL):
    return errors.OpPrereqError(msg, code)


def _check_ip_owned(ip):
    """Whether this machine can bind ``ip`` (i.e. it is one of our addresses)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((ip, 0))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _valid_ipv4(text):
    try:
        socket.inet_pton(socket.AF_INET, text)
        return True
    except (OSError, TypeError):
        return False


def check_init_params(cluster_name, hostname, secondary_ip, vg_name, master_netdev,
                      enabled_hypervisors, enabled_disk_templates, file_storage_dir,
                      mac_prefix, candidate_pool_size, nicparams, master_netmask):
    """All the checks of `gnt-cluster init`; returns (node_ip, master_ip)."""
    if os.path.exists(pathutils.CLUSTER_CONF_FILE):
        raise _prereq("Cluster is already initialised", errors.ECODE_STATE)
    if "." not in hostname:
        raise _prereq("This node's hostname '%s' is not fully qualified; Ganeti needs the"
                      " FQDN (e.g. node1.example.com) in /etc/hostname (or GANETI_HOSTNAME)"
                      % hostname, errors.ECODE_ENVIRON)
    try:
        node_ip = net.resolve(hostname)
    except errors.ResolverError as err:
        raise _prereq("This node's name '%s' does not resolve: %s; add it to /etc/hosts or"
                      " DNS" % (hostname, err.args[-1]), errors.ECODE_RESOLVER)
    if node_ip.startswith("127.") and not pathutils.VIRT_HOSTNAME:
        raise _prereq("This host's IP (%s) resolves to a loopback address; fix DNS or"
                      " /etc/hosts so that %s resolves to the node's real address"
                      % (node_ip, hostname), errors.ECODE_ENVIRON)
    if not _check_ip_owned(node_ip):
        raise _prereq("This node's name %s resolves to %s, which is not an address of this"
                      " machine" % (hostname, node_ip), errors.ECODE_ENVIRON)
    if "." not in cluster_name:
        raise _prereq("The cluster name '%s' must be a fully qualified domain name"
                      % cluster_name)
    try:
        master_ip = net.resolve(cluster_name)
    except errors.ResolverError as err:
        raise _prereq("Cluster name '%s' does not resolve: %s; it needs an address of its"
                      " own in DNS or /etc/hosts" % (cluster_name, err.args[-1]),
                      errors.ECODE_RESOLVER)
    if master_ip == node_ip:
        raise _prereq("The cluster name %s resolves to this node's own address %s; the"
                      " cluster IP must be an unused address" % (cluster_name, master_ip))
    if net.address_in_use(master_ip, constants.DEFAULT_NODED_PORT):
        raise _prereq("Cluster IP %s (of %s) already answers on the network; choose an"
                      " unused address for the cluster name" % (master_ip, cluster_name),
                      errors.ECODE_NOTUNIQUE)
    if secondary_ip is not None:
        if not _valid_ipv4(secondary_ip):
            raise _prereq("Invalid secondary IP '%s'" % secondary_ip)
        if secondary_ip != node_ip and not _check_ip_owned(secondary_ip):
            raise _prereq("Secondary IP %s is not an address of this node" % secondary_ip,
                          errors.ECODE_ENVIRON)
    unknown = [hv for hv in enabled_hypervisors if hv not in constants.HYPER_TYPES]
    if not enabled_hypervisors or unknown:
        raise _prereq("Unknown hypervisor(s) %s; known: %s" % (
            ", ".join(unknown) or "(none given)", ", ".join(sorted(constants.HYPER_TYPES))))
    unknown = [t for t in enabled_disk_templates if t not in constants.DISK_TEMPLATES]
    if not enabled_disk_templates or unknown:
        raise _prereq("Unknown disk template(s) %s; known: %s" % (
            ", ".join(unknown) or "(none given)",
            ", ".join(sorted(constants.DISK_TEMPLATES))))
    lvm_templates = [t for t in enabled_disk_templates if t in constants.DTS_LVM]
    if lvm_templates and not vg_name:
        raise _prereq("Disk template(s) %s need LVM storage; give a volume group with -g"
                      " or enable other templates with --enabled-disk-templates"
                      % ", ".join(lvm_templates))
    if vg_name:
        if not _VG_NAME_RE.match(vg_name):
            raise _prereq("Invalid volume group name '%s'" % vg_name)
        result = process.run_cmd(["vgs", "--noheadings", "--nosuffix", "--units=m",
                                  "-o", "vg_size", vg_name])
        if result.failed:
            raise _prereq("Volume group '%s' not found on this node (%s); create it with"
                          " vgcreate or use --no-lvm-storage" % (vg_name, result.describe()),
                          errors.ECODE_ENVIRON)
        try:
            vg_size = int(float(result.stdout.split()[0]))
        except (IndexError, ValueError):
            raise _prereq("Cannot read the size of volume group '%s' from vgs: %r"
                          % (vg_name, result.stdout), errors.ECODE_ENVIRON)
        if vg_size < constants.MIN_VG_SIZE:
            raise _prereq("volume group '%s' too small (%s MiB required, %d MiB found)"
                          % (vg_name, constants.MIN_VG_SIZE, vg_size), errors.ECODE_ENVIRON)
    if file_storage_dir is not None and not os.path.isabs(file_storage_dir):
        raise _prereq("The file storage directory must be an absolute path, not '%s'"
                      % file_storage_dir)
    if not re.match(r"^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$", mac_prefix or ""):
        raise _prereq("Invalid MAC prefix '%s' (expected three hex bytes, e.g. aa:00:00)"
                      % mac_prefix)
    if candidate_pool_size < 1:
        raise _prereq("The candidate pool size must be at least 1")
    if not 1 <= master_netmask <= 32:
        raise _prereq("Invalid master netmask %s (1-32 for IPv4)" % master_netmask)
    mode = nicparams.get(constants.NIC_MODE, constants.NIC_MODE_BRIDGED)
    if mode not in constants.NIC_VALID_MODES:
        raise _prereq("Invalid NIC mode '%s'; valid: %s"
                      % (mode, ", ".join(sorted(constants.NIC_VALID_MODES))))
    bad = set(nicparams) - set(constants.NICC_DEFAULTS)
    if bad:
        raise _prereq("Unknown NIC parameter(s): %s" % ", ".join(sorted(bad)))
    result = process.run_cmd(["ip", "link", "show", master_netdev])
    if result.failed:
        raise _prereq("Master network device '%s' does not exist on this node; give an"
                      " existing one with --master-netdev" % master_netdev,
                      errors.ECODE_ENVIRON)
    return node_ip, master_ip


def _check_hvparams(hvparams):
    for hv_name, params in hvparams.items():
        if hv_name not in constants.HYPER_TYPES:
            raise _prereq("Unknown hypervisor '%s' in -H" % hv_name)
        bad = set(params) - set(constants.HVC_DEFAULTS.get(hv_name, {}))
        if bad:
            raise _prereq("Unknown parameter(s) for hypervisor %s: %s"
                          % (hv_name, ", ".join(sorted(bad))))


def _check_beparams(beparams):
    bad = set(beparams) - set(constants.BEC_DEFAULTS)
    if bad:
        raise _prereq("Unknown backend parameter(s): %s" % ", ".join(sorted(bad)))


def _check_ndparams(ndparams):
    bad = set(ndparams) - set(constants.NDC_DEFAULTS)
    if bad:
        raise _prereq("Unknown node parameter(s): %s" % ", ".join(sorted(bad)))


def _write_crypto_files():
    from ganeti.utils import x509
    x509.generate_cluster_cert_file(pathutils.NODED_CERT_FILE)
    x509.generate_cluster_cert_file(pathutils.RAPI_CERT_FILE)
    io.write_file(pathutils.CONFD_HMAC_KEY, os.urandom(32).hex() + "\n", mode=0o400)
    io.write_file(pathutils.CLUSTER_DOMAIN_SECRET_FILE, os.urandom(32).hex() + "\n",
                  mode=0o400)


def _default_iallocator(name):
    """The given allocator, which must exist; by default htools' hail when it is
    installed, else none (Ganeti's rule)."""
    from ganeti.cmdlib import iallocator
    if name is not None:
        if not iallocator.find(name):
            raise errors.OpPrereqError("Invalid default iallocator script '%s' specified"
                                       % name, errors.ECODE_INVAL)
        return name
    return iallocator.DEFAULT_ALLOCATOR if iallocator.find(iallocator.DEFAULT_ALLOCATOR) \
        else ""


def init_cluster(cluster_name, mac_prefix=constants.DEFAULT_MAC_PREFIX,
                 master_netdev="xen-br0", master_netmask=32,
                 file_storage_dir=None, shared_file_storage_dir=None,
                 enabled_hypervisors=(constants.DEFAULT_ENABLED_HYPERVISOR,),
                 enabled_disk_templates=tuple(constants.DEFAULT_ENABLED_DISK_TEMPLATES),
                 vg_name=None, secondary_ip=None, nicparams=None, hvparams=None,
                 beparams=None, ndparams=None, diskparams=None,
                 candidate_pool_size=constants.DEFAULT_CANDIDATE_POOL_SIZE,
                 modify_etc_hosts=True, modify_ssh_setup=True,
                 maintain_node_health=False, drbd_helper=None, default_iallocator=None,
                 default_iallocator_params=None, compression_tools=None, ipolicy=None,
                 prealloc_wipe_disks=False, uid_pool=None, use_external_mip_script=False,
                 enabled_user_shutdown=False, hv_state=None, disk_state=None,
                 ssh_key_type=None, ssh_key_bits=None, feedback_fn=None):
    """Initialise a new cluster on this node, which becomes its master.

    ``ssh_key_type``/``ssh_key_bits``: the keys the cluster makes for the nodes
    it adds (rsa, 2048 bits by default); ``hv_state``/``disk_state``: Ganeti's
    static states, stored only (doc/cluster-options.rst)."""
    feedback_fn = feedback_fn or (lambda msg: None)
    from ganeti.cmdlib import cluster_options
    ssh_key_type, ssh_key_bits = ssh_key_settings(ssh_key_type, ssh_key_bits)
    hv_state = cluster_options.merge_hv_state(hv_state) if hv_state else \
        cluster_options.default_hv_state(enabled_hypervisors)
    disk_state = cluster_options.merge_disk_state(disk_state) if disk_state else {}
    default_iallocator = _default_iallocator(default_iallocator)
    from ganeti.cmdlib import cluster as cluster_lu, ipolicy as ipolicy_lu
    default_iallocator_params = cluster_lu.check_iallocator_params(
        default_iallocator_params or {})
    if compression_tools is not None:
        cluster_lu.check_compression_tools(compression_tools)
    # the default policy, changed by the options, and the enabled templates
    policy = dict(constants.IPOLICY_DEFAULTS, **{"disk-templates":
                                                 list(enabled_disk_templates)})
    policy.update(ipolicy or {})
    if ipolicy and "std" in ipolicy:
        policy["std"] = dict(constants.IPOLICY_DEFAULTS["std"], **ipolicy["std"])
    policy = ipolicy_lu.check_syntax(policy)
    hostname = net.get_hostname()
    nicparams = dict(nicparams or {})
    hvparams = dict(hvparams or {})
    beparams = dict(beparams or {})
    ndparams = dict(ndparams or {})
    file_storage_dir = file_storage_dir or pathutils.DEFAULT_FILE_STORAGE_DIR
    shared_file_storage_dir = (shared_file_storage_dir or
                               pathutils.DEFAULT_SHARED_FILE_STORAGE_DIR)
    node_ip, master_ip = check_init_params(
        cluster_name, hostname, secondary_ip, vg_name, master_netdev,
        list(enabled_hypervisors), list(enabled_disk_templates), file_storage_dir,
        mac_prefix, candidate_pool_size, nicparams, master_netmask)
    _check_hvparams(hvparams)
    _check_beparams(beparams)
    _check_ndparams(ndparams)

    if drbd_helper is None and constants.DT_DRBD8 in enabled_disk_templates:
        drbd_helper = constants.DEFAULT_DRBD_HELPER       # as Ganeti's init
    # --- from here on we change the system ---
    from ganeti.tools import ensure_dirs
    ensure_dirs.make_node_dirs()
    paths = []
    if constants.DT_FILE in enabled_disk_templates:
        paths.append(file_storage_dir)
    if constants.DT_SHARED_FILE in enabled_disk_templates:
        paths.append(shared_file_storage_dir)
    for path in paths:
        # a shared directory may be a mount point or a link to one: keep it
        if not os.path.lexists(pathutils.root(path)):
            os.makedirs(pathutils.root(path), mode=0o750)
    if paths:
        io.write_file(pathutils.FILE_STORAGE_PATHS_FILE, "\n".join(paths) + "\n")
    _write_crypto_files()
    if modify_etc_hosts:
        from ganeti import etchosts
        try:
            etchosts.set_entry(etchosts.hosts_file(), node_ip, hostname)
        except OSError as err:
            feedback_fn("Warning: could not add %s to %s: %s" % (hostname,
                                                                 etchosts.hosts_file(), err))

    now = time.time()
    group = objects.NodeGroup(name=constants.INITIAL_NODE_GROUP_NAME)
    master_node = objects.Node(name=hostname, primary_ip=node_ip,
                               secondary_ip=secondary_ip or node_ip, master_candidate=True,
                               group=group.uuid, ndparams=ndparams)
    cluster = objects.Cluster(
        cluster_name=cluster_name, master_node=hostname, master_ip=master_ip,
        master_netdev=master_netdev, master_netmask=master_netmask,
        volume_group_name=vg_name, drbd_usermode_helper=drbd_helper,
        enabled_hypervisors=list(enabled_hypervisors), hvparams=hvparams,
        beparams={"default": beparams}, nicparams={"default": nicparams},
        diskparams=dict(diskparams or {}), ndparams={},
        candidate_pool_size=candidate_pool_size, mac_prefix=mac_prefix,
        file_storage_dir=file_storage_dir, shared_file_storage_dir=shared_file_storage_dir,
        gluster_storage_dir=pathutils.DEFAULT_GLUSTER_STORAGE_DIR,
        modify_etc_hosts=modify_etc_hosts, modify_ssh_setup=modify_ssh_setup,
        maintain_node_health=maintain_node_health, uid_pool=list(uid_pool or []),
        default_iallocator=default_iallocator, prealloc_wipe_disks=prealloc_wipe_disks,
        default_iallocator_params=default_iallocator_params,
        compression_tools=list(compression_tools or constants.COMPRESSION_TOOLS),
        enabled_disk_templates=list(enabled_disk_templates), ipolicy=policy,
        use_external_mip_script=bool(use_external_mip_script),
        enabled_user_shutdown=bool(enabled_user_shutdown), hv_state_static=hv_state,
        disk_state_static=disk_state, ssh_key_type=ssh_key_type, ssh_key_bits=ssh_key_bits,
        ctime=now, mtime=now)
    data = objects.ConfigData(cluster=cluster, nodes={hostname: master_node},
                              nodegroups={group.uuid: group}, instances={}, ctime=now,
                              mtime=now, serial_no=1)
    from ganeti import backend, config
    config.ConfigWriter.write_initial(pathutils.CLUSTER_CONF_FILE, data)
    cfg = config.ConfigWriter()
    backend.write_ssconf_files(cfg.get_ssconf_values())

    try:
        # the first member of the cluster's etcd: the master is a candidate
        etcd_member.write_spec(etcd_member.new_cluster_spec(hostname, node_ip))
        daemon_util.start_daemon(constants.ETCD)
        daemon_util.start_daemon(constants.NODED)
        rpc = _local_rpc(cfg)
        res = rpc.call_node_activate_master_ip(hostname, cfg.get_master_network_parameters())
        if res.fail_msg:
            feedback_fn("Warning: could not activate the master IP: %s" % res.fail_msg)
        daemon_util.start_master_daemons()
    except errors.GenericError:
        # leave nothing half-done behind: the next init must be possible
        _remove_cluster_files()
        daemon_util.stop_master_daemons()
        daemon_util.stop_daemon(constants.NODED)
        daemon_util.stop_daemon(constants.ETCD)
        etcd_member.forget()
        raise


def ssh_key_settings(key_type=None, bits=None):
    """(type, bits) of the keys the cluster will make for its nodes: rsa unless
    given, the type's default size unless given; OpPrereqError for a type the
    nodes cannot make here (dsa) or a size the type does not have."""
    from ganeti.cmdlib import renew_crypto
    key_type = key_type or constants.SSH_DEFAULT_KEY_TYPE
    return key_type, renew_crypto.ssh_key_bits(key_type, bits, None, None)


def _local_rpc(cfg):
    from ganeti import rpc
    return rpc.RpcRunner(cfg.get_node_addresses)


def _remove_cluster_files():
    for path in (pathutils.CLUSTER_CONF_FILE, pathutils.NODED_CERT_FILE,
                 pathutils.RAPI_CERT_FILE, pathutils.CONFD_HMAC_KEY,
                 pathutils.CLUSTER_DOMAIN_SECRET_FILE, pathutils.ETCD_CERT_FILE,
                 pathutils.ETCD_CA_FILE):
        io.remove_file(path)
    try:
        names = os.listdir(pathutils.DATA_DIR)
    except OSError:
        names = []
    for name in names:
        if name.startswith("ssconf_"):
            io.remove_file(os.path.join(pathutils.DATA_DIR, name))


def finalize_cluster_destroy(master_name):
    """After OP_CLUSTER_DESTROY succeeded: stop masterd, make noded leave the cluster."""
    from ganeti import config
    cfg = config.ConfigWriter()
    rpc = _local_rpc(cfg)
    daemon_util.stop_master_daemons()
    res = rpc.call_node_deactivate_master_ip(master_name, cfg.get_master_network_parameters())
    if res.fail_msg:
        raise errors.OpExecError("Could not disable the master IP: %s" % res.fail_msg)
    res = rpc.call_node_leave_cluster(master_name, cfg.get_cluster_info().modify_ssh_setup)
    if res.fail_msg:
        raise errors.OpExecError("Could not make the master node leave the cluster: %s"
                                 % res.fail_msg)
    # noded exits after answering; wait for it so a new init can start at once
    end = time.time() + 10
    while daemon_util.daemon_pid(constants.NODED) and time.time() < end:
        time.sleep(0.05)
