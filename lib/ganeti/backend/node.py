"""Node-side RPC procedures about the node itself: version, resources, ssconf,
files, hooks, verification, the master IP, leaving the cluster."""

import hashlib
import logging
import os
import re
import shutil
import stat
import time

from ganeti import constants, errors, pathutils, rpc, sshkeys
from ganeti.etcd import member as etcd_member
from ganeti.utils import hostinfo, io, net, process

MIB = 1024 * 1024
_SSCONF_KEY_RE = re.compile(r"^[a-z0-9_]+$")
_HPATH_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_HOOKS_NAME_RE = re.compile(constants.HOOKS_NAME_RE)
HOOKS_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
HOOK_TIMEOUT = constants.HOOKS_DEFAULT_TIMEOUT
LVM_TIMEOUT = 60
IP_TIMEOUT = 30
SHUTDOWN_MSG = "Shutdown scheduled"


from ganeti.backend.common import RpcFail, fail as _fail  # noqa: E402,F401


def _local_path(path, root_dir=None):
    """A master-sent path (virtual root stripped) on this node."""
    root_dir = pathutils.VIRT_ROOTDIR if root_dir is None else root_dir
    if root_dir and not (path == root_dir or path.startswith(root_dir + "/")):
        return root_dir + path
    return path


# ---- simple procedures ---------------------------------------------------------

def version():
    """The RPC protocol version of this node daemon."""
    return constants.PROTOCOL_VERSION


def test_delay(duration):
    """Sleep ``duration`` seconds (gnt-debug delay)."""
    try:
        duration = float(duration)
    except (TypeError, ValueError):
        _fail("Invalid delay duration %r", duration)
    if duration < 0:
        _fail("Invalid delay duration %r", duration)
    time.sleep(duration)
    return True


def _read_ssconf(key, data_dir=None):
    path = (os.path.join(data_dir, "ssconf_" + key) if data_dir
            else pathutils.ssconf_file(key))
    return io.read_file(path).strip()


def master_node_name(*, data_dir=None):
    """The master node name from this node's ssconf."""
    try:
        name = _read_ssconf(constants.SS_MASTER_NODE, data_dir)
    except OSError as err:
        _fail("Cannot read the master node name from ssconf: %s", err)
    if not name:
        _fail("The ssconf master_node file is empty")
    return name


# ---- node_info -------------------------------------------------------------------

def _boot_id():
    try:
        return io.read_file("/proc/sys/kernel/random/boot_id").strip()
    except OSError:
        return ""


def _file_storage_info(stype, path):
    """Size/free (MiB) of the file system holding ``path`` (or its nearest parent)."""
    local = _local_path(path)
    probe = local
    while not os.path.exists(probe) and probe not in ("/", ""):
        probe = os.path.dirname(probe)
    try:
        st = os.statvfs(probe or "/")
    except OSError as err:
        return {"type": stype, "name": path, "error": "Cannot stat %s: %s" % (local, err)}
    return {"type": stype, "name": path,
            "storage_size": st.f_blocks * st.f_frsize // MIB,
            "storage_free": st.f_bavail * st.f_frsize // MIB}


def _exclusive_flag(unit):
    """The exclusive storage flag of an LVM storage unit [type, name, [flag]]."""
    params = unit[2] if len(unit) > 2 else []
    return bool(params and params[0])


def _lvm_pv_info(vg_name, excl_stor):
    """Spindles of a volume group: its empty and all PVs with exclusive storage,
    0 and 0 without (as Ganeti reports them)."""
    from ganeti.storage import lvm
    entry = {"type": constants.ST_LVM_PV, "name": vg_name,
             "storage_size": 0, "storage_free": 0}
    if excl_stor:
        try:
            entry["storage_free"], entry["storage_size"] = lvm.spindles_info(vg_name)
        except errors.BlockDeviceError as err:
            return {"type": constants.ST_LVM_PV, "name": vg_name, "error": str(err)}
    return entry


def _lvm_vg_info(vg_name, excl_stor=False):
    """Size/free (MiB) of a volume group via ``vgs``; with exclusive storage the
    free space is what the empty PVs hold."""
    from ganeti.storage import lvm
    result = process.run_cmd(lvm.with_filter(["vgs", "--noheadings", "--units", "m",
                                              "--nosuffix", "-o", "vg_name,vg_size,vg_free",
                                              vg_name]), timeout=LVM_TIMEOUT)
    entry = {"type": constants.ST_LVM_VG, "name": vg_name}
    if result.failed:
        entry["error"] = "Cannot get information about volume group %s: %s" % (
            vg_name, result.describe())
        return entry
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == vg_name:
            try:
                entry["storage_size"] = int(float(parts[1]))
                entry["storage_free"] = int(float(parts[2]))
            except ValueError:
                break
            if excl_stor:
                try:
                    entry["storage_free"] = lvm.exclusive_vg_free(vg_name)
                except errors.BlockDeviceError as err:
                    entry = {"type": constants.ST_LVM_VG, "name": vg_name,
                             "error": str(err)}
            return entry
    entry["error"] = "Volume group %s not found" % vg_name
    return entry


def _storage_info(unit):
    if not isinstance(unit, (list, tuple)) or len(unit) < 2:
        return {"type": None, "name": None, "error": "Invalid storage unit %r" % (unit,)}
    stype, key = unit[0], unit[1]
    if stype in (constants.ST_FILE, constants.ST_SHARED_FILE):
        return _file_storage_info(stype, key)
    if stype == constants.ST_LVM_VG:
        return _lvm_vg_info(key, _exclusive_flag(unit))
    if stype == constants.ST_LVM_PV:
        return _lvm_pv_info(key, _exclusive_flag(unit))
    if stype == constants.ST_DISKLESS:
        return {"type": stype, "name": key, "storage_size": 0, "storage_free": 0}
    return {"type": stype, "name": key,
            "error": "Storage type '%s' not supported for node info" % stype}


def node_info(storage_units, hv_specs, *, meminfo_file="/proc/meminfo"):
    """Memory (MiB), CPUs and storage of this node.

    storage_units: [[type, key(, params)], ...]; hv_specs: [[hv, hvparams], ...].
    Result: {"bootid", "memory_total", "memory_free", "memory_dom0",
    "cpu_total", "cpu_nodes", "cpu_sockets",
    "storage": [{"type", "name", "storage_size", "storage_free"} or
                {"type", "name", "error"}],
    "hv": [{"name": hv, memory_*/cpu_* as above}]}
    """
    try:
        mem = hostinfo.memory(meminfo_file)
    except OSError as err:
        _fail("Cannot read memory information: %s", err)
    result = {"bootid": _boot_id()}
    result.update(mem)
    result.update(hostinfo.cpu_info())
    result["storage"] = [_storage_info(u) for u in storage_units or []]
    hv_list = []
    for spec in hv_specs or []:
        hvname = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
        hvparams = spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 else {}
        entry = {"name": hvname}
        entry.update(mem)
        entry.update(hostinfo.cpu_info())
        entry.update(_hv_node_info(hvname, hvparams))
        hv_list.append(entry)
    result["hv"] = hv_list
    # as in Ganeti, the node's memory figures are those its (first) hypervisor sees
    if hv_list:
        for key in ("memory_total", "memory_free", "memory_dom0"):
            result[key] = hv_list[0].get(key, result[key])
    return result


def _hv_node_info(hvname, hvparams):
    """The hypervisor's view of the node; {} if it cannot tell (logged)."""
    from ganeti import hypervisor
    try:
        return hypervisor.get_hypervisor(hvname).get_node_info(hvparams) or {}
    except errors.GenericError as err:
        logging.warning("Cannot get node information from hypervisor %s: %s", hvname, err)
        return {}


# ---- ssconf and file upload -----------------------------------------------------

def write_ssconf_files(values, *, data_dir=None):
    """Replace all ssconf files with ``values`` {key: text}; stale ones are removed."""
    if not isinstance(values, dict):
        _fail("write_ssconf_files expects a dictionary")
    data_dir = data_dir or pathutils.DATA_DIR
    for key in values:
        if not isinstance(key, str) or not _SSCONF_KEY_RE.match(key):
            _fail("Invalid ssconf key %r", key)
    os.makedirs(data_dir, exist_ok=True)
    for key, value in sorted(values.items()):
        if isinstance(value, (list, tuple)):
            value = "\n".join(str(v) for v in value)
        elif value is None:
            value = ""
        io.write_file(os.path.join(data_dir, "ssconf_" + key), str(value),
                      mode=constants.SS_FILE_PERMS)
    for name in os.listdir(data_dir):
        if name.startswith("ssconf_") and name[len("ssconf_"):] not in values:
            logging.info("Removing stale ssconf file %s", name)
            io.remove_file(os.path.join(data_dir, name))
    return True


def upload_file(path, data, mode, mtime, *, allowed_files=None, root_dir=None):
    """Write an uploaded file; only the files in the allow-list are accepted."""
    if (not isinstance(path, str) or not os.path.isabs(path)
            or os.path.normpath(path) != path):
        _fail("File not allowed to be uploaded: invalid path %r", path)
    full = _local_path(path, root_dir)
    if allowed_files is None:
        allowed_files = pathutils.upload_allowed_files()
    if full not in allowed_files:
        _fail("File not allowed to be uploaded: %s", path)
    try:
        content = rpc.decode_file_data(data)
    except errors.ProtocolError as err:
        _fail("Cannot decode the data for %s: %s", path, err.args[0])
    try:
        mode = int(mode) & 0o7777
    except (TypeError, ValueError):
        _fail("Invalid file mode %r", mode)
    try:
        if full == _local_path(pathutils.strip_root(pathutils.CLUSTER_CONF_FILE), root_dir):
            # the node's own sync from etcd may have written a newer one
            from ganeti.etcd import configsync
            text = content.decode("utf-8") if isinstance(content, bytes) else content
            if not configsync.write_copy(text, full):
                return True
            os.chmod(full, mode)
        else:
            io.write_file(full, content, mode=mode, mkdir=True)
        if mtime is not None:
            os.utime(full, (float(mtime), float(mtime)))
    except (OSError, UnicodeDecodeError, errors.ConfigurationError) as err:
        _fail("Cannot write %s: %s", full, err)
    logging.info("Wrote uploaded file %s (%d bytes)", full, len(content))
    return True


# ---- hooks -----------------------------------------------------------------------

def _is_executable_file(path):
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and os.access(path, os.X_OK)


def hooks_runner(hpath, phase, env, *, hooks_dir=None, timeout=HOOK_TIMEOUT):
    """Run the scripts in <hooks>/<hpath>-<phase>.d in name order.

    Returns [[relpath, HKR_SUCCESS|HKR_FAIL|HKR_SKIP, output], ...] where
    relpath is "<hpath>-<phase>.d/<name>". Names not matching HOOKS_NAME_RE
    and non-executable files are reported as skipped.
    """
    if not isinstance(hpath, str) or not _HPATH_RE.match(hpath):
        _fail("Invalid hooks path %r", hpath)
    if phase not in (constants.HOOKS_PHASE_PRE, constants.HOOKS_PHASE_POST):
        _fail("Invalid hooks phase %r", phase)
    if not isinstance(env, dict):
        _fail("The hooks environment must be a dictionary")
    subdir = "%s-%s.d" % (hpath, phase)
    dirpath = os.path.join(hooks_dir or pathutils.HOOKS_BASE_DIR, subdir)
    try:
        names = sorted(os.listdir(dirpath))
    except FileNotFoundError:
        return []
    except OSError as err:
        _fail("Cannot list the hooks directory %s: %s", dirpath, err)
    full_env = dict((str(k), "" if v is None else str(v)) for k, v in env.items())
    full_env["PATH"] = HOOKS_PATH
    results = []
    for name in names:
        rel = subdir + "/" + name
        script = os.path.join(dirpath, name)
        if not _HOOKS_NAME_RE.match(name) or not _is_executable_file(script):
            results.append([rel, constants.HKR_SKIP, ""])
            continue
        res = process.run_cmd([script], env=full_env, reset_env=True,
                              timeout=timeout, cwd="/")
        output = (res.stdout + res.stderr).strip()
        if res.failed:
            if res.timed_out:
                output = (output + "\n" if output else "") + (
                    "(timed out after %ss)" % timeout)
            logging.info("Hook %s failed: %s", rel, res.fail_reason)
            results.append([rel, constants.HKR_FAIL, output])
        else:
            results.append([rel, constants.HKR_SUCCESS, output])
    return results


# ---- node_verify ---------------------------------------------------------------------

def _file_sha1(path):
    try:
        with open(path, "rb") as fd:
            digest = hashlib.sha1()
            for chunk in iter(lambda: fd.read(65536), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def node_verify(checks, cluster_name, *, root_dir=None):
    """Run the checks present in ``checks`` ({check: params}); unknown ones ignored.

    version -> [protocol, release]; filelist [paths] -> {path: sha1 or None};
    nodelist [names] -> {name: error} for names that do not resolve;
    hostname -> this node's name; time -> current time (float seconds).
    """
    if not isinstance(checks, dict):
        _fail("node_verify expects a dictionary of checks")
    result = {}
    if "version" in checks:
        result["version"] = [constants.PROTOCOL_VERSION, constants.RELEASE_VERSION]
    if "filelist" in checks:
        result["filelist"] = dict((p, _file_sha1(_local_path(p, root_dir)))
                                  for p in checks["filelist"] or [])
    if "nodelist" in checks:
        failed = {}
        for name in checks["nodelist"] or []:
            try:
                net.resolve(name)
            except errors.ResolverError as err:
                failed[name] = str(err.args[-1])
        result["nodelist"] = failed
    if "hostname" in checks:
        result["hostname"] = net.get_hostname()
    if "time" in checks:
        result["time"] = time.time()
    from ganeti.backend import verify     # certificate, ssh clutter, orphan files
    result.update(verify.run_checks(checks, root_dir=root_dir))
    return result


# ---- master IP -----------------------------------------------------------------------

def _master_ip_params(params):
    if not isinstance(params, dict):
        _fail("Invalid master IP parameters %r", params)
    try:
        ip, netmask, netdev = params["ip"], int(params["netmask"]), params["netdev"]
    except (KeyError, TypeError, ValueError):
        _fail("Invalid master IP parameters %r", params)
    family = params.get("family", params.get("ip_family", constants.IP4_FAMILY))
    if not re.match(r"^[A-Za-z0-9_.:-]+$", str(netdev)) or not re.match(
            r"^[0-9a-fA-F.:]+$", str(ip)):
        _fail("Invalid master IP parameters %r", params)
    return ip, netmask, netdev, int(family or constants.IP4_FAMILY)


def _ip_cmd(family):
    return ["ip", "-6"] if family == constants.IP6_FAMILY else ["ip"]


def _address_present(ip, netmask, netdev, family):
    """Whether ip/netmask is on netdev (the same IP with another prefix is not)."""
    res = process.run_cmd(_ip_cmd(family) + ["-o", "address", "show", "dev", netdev],
                          timeout=IP_TIMEOUT)
    return not res.failed and (" %s/%s " % (ip, netmask)) in res.stdout


def _skip_master_ip():
    if pathutils.is_virtual_cluster() and os.geteuid() != 0:
        logging.info("Virtual cluster without root: master IP change is a no-op")
        return True
    return False


def node_activate_master_ip(params):
    """Add the master IP to the master network device (present: no-op)."""
    ip, netmask, netdev, family = _master_ip_params(params)
    if params.get("use_external_mip_script"):
        from ganeti.backend import mip_script
        return mip_script.run(mip_script.START, ip, netmask, netdev, family)
    if _skip_master_ip() or _address_present(ip, netmask, netdev, family):
        return None
    cmd = _ip_cmd(family) + ["address", "add", "%s/%d" % (ip, netmask), "dev", netdev]
    if family != constants.IP6_FAMILY:
        cmd += ["label", "%s:0" % netdev]
    res = process.run_cmd(cmd, timeout=IP_TIMEOUT)
    if res.failed and "File exists" not in res.output:
        _fail("Cannot activate the master IP: %s", res.describe())
    if family != constants.IP6_FAMILY and netdev != "lo":
        arp = process.run_cmd(["arping", "-q", "-U", "-c", "3", "-I", netdev,
                               "-s", ip, ip], timeout=IP_TIMEOUT)
        if arp.failed:
            logging.warning("arping for the master IP failed: %s", arp.describe())
    return None


def node_deactivate_master_ip(params):
    """Remove the master IP from the master network device (absent: no-op)."""
    ip, netmask, netdev, family = _master_ip_params(params)
    if params.get("use_external_mip_script"):
        from ganeti.backend import mip_script
        return mip_script.run(mip_script.STOP, ip, netmask, netdev, family)
    if _skip_master_ip() or not _address_present(ip, netmask, netdev, family):
        return None
    res = process.run_cmd(_ip_cmd(family) + ["address", "del", "%s/%d" % (ip, netmask),
                                             "dev", netdev], timeout=IP_TIMEOUT)
    if res.failed and "Cannot assign requested address" not in res.output:
        _fail("Cannot deactivate the master IP: %s", res.describe())
    return None


def node_stop_master(*, data_dir=None):
    """Stop the master daemons (ganeti-masterd, ganeti-rapi) here and take the
    master IP down (master failover).

    The master IP parameters come from this node's ssconf files.
    """
    from ganeti import daemon_util
    daemon_util.stop_master_daemons()
    deactivate_master_ip_here(data_dir=data_dir)
    return True


def deactivate_master_ip_here(*, data_dir=None):
    """Take the master IP down on this node, with the parameters of its ssconf."""
    try:
        params = {
            "ip": _read_ssconf(constants.SS_MASTER_IP, data_dir),
            "netmask": _read_ssconf(constants.SS_MASTER_NETMASK, data_dir),
            "netdev": _read_ssconf(constants.SS_MASTER_NETDEV, data_dir),
        }
    except OSError as err:
        _fail("Cannot read the master IP parameters from ssconf: %s", err)
    try:
        params["family"] = int(_read_ssconf(constants.SS_PRIMARY_IP_FAMILY, data_dir))
    except (OSError, ValueError):
        params["family"] = constants.IP4_FAMILY
    from ganeti.backend import mip_script
    params["use_external_mip_script"] = mip_script.enabled_here(data_dir)
    node_deactivate_master_ip(params)


# ---- leaving the cluster -----------------------------------------------------------

# cluster files (relative to DATA_DIR) a node removes when it leaves: secrets,
# the config, and the lists of other nodes' keys; ssconf_* and the queue too
_CLUSTER_FILES = [pathutils.CLUSTER_CONF_FILE, pathutils.RAPI_CERT_FILE,
                  pathutils.CONFD_HMAC_KEY, pathutils.CLUSTER_DOMAIN_SECRET_FILE,
                  pathutils.SSH_KNOWN_HOSTS_FILE, pathutils.WATCHER_PAUSEFILE,
                  pathutils.RAPI_USERS_FILE, pathutils.DATA_DIR + "/spice.pem",
                  pathutils.DATA_DIR + "/spice-ca.pem", sshkeys.pub_keys_file(),
                  pathutils.NODED_CERT_FILE, pathutils.ETCD_CERT_FILE,
                  pathutils.ETCD_CA_FILE,
                  # left by an unfinished gnt-cluster renew-crypto
                  pathutils.NODED_CERT_FILE + ".rollover"]


def _data_rel(path):
    return os.path.relpath(path, pathutils.DATA_DIR)


def _empty_dir(path):
    """Remove everything below ``path`` (kept itself); a missing one is fine."""
    if not os.path.isdir(path):
        return
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
        else:
            io.remove_file(full)


def _forget_ssh_keys(cluster_keys, ssh_dir):
    """Drop root's cluster-made key pair and the cluster's keys from authorized_keys.

    Keys the admin put there (the master's own key, which let it join this
    node) are not the cluster's and stay.
    """
    own = sshkeys.own_cluster_keys(ssh_dir)
    remove = [key for key in cluster_keys if sshkeys.is_cluster_key(key)]
    remove += [public for _, public in own]
    sshkeys.update_authorized_keys(os.path.join(ssh_dir, "authorized_keys"),
                                   remove=remove)
    for path, _ in own:
        io.remove_file(path)
        io.remove_file(path + ".pub")
    return [path for path, _ in own]


def _stop_other_daemons():
    """Stop the daemons besides this noded (noded exits once it has answered)."""
    from ganeti import daemon_util
    for name in reversed(daemon_util.ALL_DAEMONS):
        if name != constants.NODED and daemon_util.stop_daemon(name):
            logging.info("Stopped %s", name)


def node_leave_cluster(modify_ssh_setup, *, data_dir=None, ssh_dir=None,
                       crypto_dir=None, stop_daemons=True):
    """Forget the cluster, then stop: what leaves the cluster keeps nothing of it.

    Removes the config, ssconf, the job queue, the certificates and other
    secrets; with modify_ssh_setup also root's cluster ssh key pair and the
    cluster's keys in root's authorized_keys. Raises QuitGanetiException(True,
    ...): the daemon answers, then exits.
    """
    data_dir = data_dir or pathutils.DATA_DIR
    ssh_dir = ssh_dir or sshkeys.ssh_dir()
    # read before the list goes with the other files
    try:
        cluster_keys = [key for keys in sshkeys.read_pub_keys(
            sshkeys.pub_keys_file(data_dir)).values() for key in keys]
    except ValueError as err:
        logging.warning("Ignoring an unreadable public key list: %s", err)
        cluster_keys = []
    if os.path.isdir(data_dir):
        for name in os.listdir(data_dir):
            if name.startswith("ssconf_"):
                io.remove_file(os.path.join(data_dir, name))
    _empty_dir(os.path.join(data_dir, _data_rel(pathutils.QUEUE_DIR)))
    _empty_dir(crypto_dir or pathutils.CRYPTO_KEYS_DIR)
    if modify_ssh_setup:
        removed = _forget_ssh_keys(cluster_keys, ssh_dir)
        logging.info("Removed the cluster's ssh keys (%s)", ", ".join(removed) or "none")
    for path in _CLUSTER_FILES:
        io.remove_file(os.path.join(data_dir, _data_rel(path)))
    if stop_daemons:
        _stop_other_daemons()
    # once etcd is stopped: this node's copy of the store goes as well
    etcd_member.forget(os.path.join(data_dir, _data_rel(pathutils.ETCD_DIR)),
                       os.path.join(data_dir, _data_rel(pathutils.ETCD_MEMBER_FILE)))
    logging.info("Node left the cluster; stopping the node daemon")
    raise errors.QuitGanetiException(True, SHUTDOWN_MSG)


def node_ssh_keys_update(add, remove, remove_hosts, pub_keys, *, data_dir=None,
                         ssh_dir=None):
    """Change root's authorized_keys and the cluster's ssh files on this node.

    add/remove: public key lines to authorize / no longer authorize;
    remove_hosts: node names whose host keys leave the cluster's known_hosts;
    pub_keys: the new text of ganeti_pub_keys (None: unchanged). Everything
    is checked before anything changes.
    """
    for what, value in (("add", add), ("remove", remove), ("remove_hosts", remove_hosts)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            _fail("node_ssh_keys_update: %s must be a list of strings", what)
    try:
        for key in add + remove:
            sshkeys.parse_public_key(key)
        if pub_keys is not None:
            sshkeys.parse_pub_keys(pub_keys)
    except ValueError as err:
        _fail("node_ssh_keys_update: %s", err)
    data_dir = data_dir or pathutils.DATA_DIR
    ssh_dir = ssh_dir or sshkeys.ssh_dir()
    if pub_keys is not None:
        # keys dropped from the list while this node was offline go now
        try:
            old = sshkeys.read_pub_keys(sshkeys.pub_keys_file(data_dir))
        except ValueError:
            old = {}
        kept = set(k for keys in sshkeys.parse_pub_keys(pub_keys).values() for k in keys)
        remove = remove + [k for keys in old.values() for k in keys if k not in kept]
    sshkeys.update_authorized_keys(os.path.join(ssh_dir, "authorized_keys"), add, remove)
    if remove_hosts:
        sshkeys.remove_known_hosts(
            os.path.join(data_dir, _data_rel(pathutils.SSH_KNOWN_HOSTS_FILE)), remove_hosts)
    if pub_keys is not None:
        sshkeys.write_pub_keys(pub_keys, sshkeys.pub_keys_file(data_dir))
    return True


# procedure name -> function; the node daemon serves exactly these
PROCEDURES = {
    "version": version,
    "node_info": node_info,
    "write_ssconf_files": write_ssconf_files,
    "upload_file": upload_file,
    "hooks_runner": hooks_runner,
    "test_delay": test_delay,
    "node_verify": node_verify,
    "master_node_name": master_node_name,
    "node_activate_master_ip": node_activate_master_ip,
    "node_deactivate_master_ip": node_deactivate_master_ip,
    "node_leave_cluster": node_leave_cluster,
    "node_ssh_keys_update": node_ssh_keys_update,
    "node_stop_master": node_stop_master,
}


def node_demote_from_mc(*, data_dir=None):
    """This node is no longer a master candidate: drop its copy of config.data."""
    data_dir = data_dir or pathutils.DATA_DIR
    try:
        master = _read_ssconf(constants.SS_MASTER_NODE, data_dir)
    except OSError:
        master = None
    if net.get_hostname() == master:
        _fail("The master node cannot be demoted from master candidate")
    io.remove_file(os.path.join(data_dir, _data_rel(pathutils.CLUSTER_CONF_FILE)))
    return True


PROCEDURES["node_demote_from_mc"] = node_demote_from_mc


POWERCYCLE_DELAY = 5       # seconds: time for the answer to reach the master


def node_powercycle():
    """Reboot this machine hard (sysrq b: no sync, no shutdown) a few seconds from
    now, in a process of its own so that the answer goes out first. Refused on
    a virtual cluster, whose nodes share the one machine."""
    if pathutils.is_virtual_cluster():
        _fail("This node is part of a virtual cluster, whose nodes share one machine:"
              " a powercycle would reboot all of them")
    try:
        process.spawn(["/bin/sh", "-c", "sleep %d; echo b > /proc/sysrq-trigger"
                       " || reboot -n -f" % POWERCYCLE_DELAY],
                      os.path.join(pathutils.LOG_DIR, "powercycle.log"))
    except errors.CommandError as err:
        _fail("Cannot schedule the reboot: %s", err)
    return "Reboot scheduled in %d seconds" % POWERCYCLE_DELAY


PROCEDURES["node_powercycle"] = node_powercycle


def node_has_ip_address(address):
    """Whether ``address`` is configured on one of this node's interfaces.

    (Binding is no test: with net.ipv4.ip_nonlocal_bind any address binds.)
    """
    family = constants.IP6_FAMILY if ":" in str(address) else constants.IP4_FAMILY
    res = process.run_cmd(_ip_cmd(family) + ["-o", "address", "show"], timeout=IP_TIMEOUT)
    if res.failed:
        _fail("Cannot list the node's addresses: %s", res.describe())
    return any(word.split("/")[0] == str(address)
               for line in res.stdout.splitlines() for word in line.split()[3:4])


PROCEDURES["node_has_ip_address"] = node_has_ip_address
