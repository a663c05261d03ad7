"""The master's side of ext disks: their specs, their config Disks and the
check that their ExtStorage providers are usable on the nodes.

An ext disk (``--disk N:size=S,provider=P[,name=value...]``) is kept by the
provider P. Its logical_id is [P, "<disk uuid>.ext.disk<N>"]; its params are
P, the access mode (the cluster's or node group's ext disk parameter, unless
the disk gives one) and every disk parameter that is none of Ganeti's own
(IDISK_PARAMS): the provider's scripts get them all as EXTP_<NAME>.
"""

from ganeti import constants, errors, objects
from ganeti.cmdlib import extstorage
from ganeti.storage.extstorage import NAME_RE

PROVIDER = "provider"
ACCESS = "access"
ACCESS_KERNELSPACE = "kernelspace"
ACCESS_MODES = (ACCESS_KERNELSPACE, "userspace")
#: Ganeti's disk parameters (IDISK_PARAMS); an ext disk's others are its provider's
IDISK_PARAMS = frozenset(["size", "spindles", "mode", "adopt", "vg", "metavg", PROVIDER,
                          "name", ACCESS, "type"])


def check_provider_option(spec, template):
    """Ganeti's rule: ``provider`` is given for an ext disk, and only there."""
    provider = spec.get(PROVIDER)
    if provider and template != constants.DT_EXT:
        raise errors.OpPrereqError("The '%s' option is only valid for the %s disk"
                                   " template, not %s" % (PROVIDER, constants.DT_EXT,
                                                          template), errors.ECODE_INVAL)
    if provider is None and template == constants.DT_EXT:
        raise errors.OpPrereqError("Missing provider for template '%s'"
                                   % constants.DT_EXT, errors.ECODE_INVAL)


def _check_access(access, what):
    if access not in ACCESS_MODES:
        raise errors.OpPrereqError("Invalid disk access mode '%s' for %s (one of %s)"
                                   % (access, what, ", ".join(ACCESS_MODES)),
                                   errors.ECODE_INVAL)
    if access != ACCESS_KERNELSPACE:
        # the hypervisors here open the device attach printed, never a URI
        raise errors.OpPrereqError("Userspace access to ext disks is not supported"
                                   " (%s): use access=%s" % (what, ACCESS_KERNELSPACE),
                                   errors.ECODE_INVAL)


def disk_params(spec, idx):
    """The params of the ext disk ``idx`` of an opcode's disk spec (checked):
    provider, access if given, and the provider's own parameters."""
    check_provider_option(spec, constants.DT_EXT)
    provider = spec[PROVIDER]
    if not isinstance(provider, str) or not NAME_RE.match(provider):
        raise errors.OpPrereqError("Invalid ExtStorage provider name '%s' for disk %d"
                                   " (letters, digits, '_' and '-' only)"
                                   % (provider, idx), errors.ECODE_INVAL)
    params = {PROVIDER: provider}
    if ACCESS in spec:
        _check_access(spec[ACCESS], "disk %d" % idx)
        params[ACCESS] = spec[ACCESS]
    for key, value in spec.items():
        if key not in IDISK_PARAMS:
            params[key] = _param_value(key, value)
    return params


def _param_value(key, value):
    """A provider parameter's value as stored (text); its name and value must
    fit in the scripts' environment (EXTP_<NAME>=value)."""
    value = value if isinstance(value, str) else str(value)
    if not key or "=" in key or "\0" in key or "\0" in value:
        raise errors.OpPrereqError("Invalid ExtStorage parameter %r=%r" % (key, value),
                                   errors.ECODE_INVAL)
    return value


def generate(cluster, pnode, idx, spec, group=None):
    """A new ext disk (config only) from a checked disk spec: size, mode and
    name, and the provider's params (``disk_params``). The disk parameters of
    the primary node's ``group`` over the cluster's give the access mode.
    Disk template conversions to ext make their disks here too."""
    group_params = objects.fill_dict(constants.DISK_DT_DEFAULTS[constants.DT_EXT],
                                     cluster.fill_dp(group).get(constants.DT_EXT) or {})
    params = {ACCESS: group_params[ACCESS]}
    params.update(disk_params(spec, idx))
    _check_access(params[ACCESS], "the cluster's ext disk parameters")
    disk = objects.Disk(dev_type=constants.DT_EXT, size=spec["size"],
                        mode=spec.get("mode", "rw"), iv_name="disk/%d" % idx,
                        name=spec.get("name"), nodes=[pnode], params=params)
    # Ganeti's volume names: <unique id>.ext.disk<N> (the disk's uuid here)
    disk.logical_id = [params[PROVIDER], "%s.%s.disk%d" % (disk.uuid, constants.DT_EXT,
                                                           idx)]
    return disk


def modify_param(disk, idx, key, value):
    """``modify --disk N:key=value`` of a provider parameter of the ext disk
    ``disk`` (number ``idx``); "default" removes it. The change as the command
    lists it (Ganeti's words)."""
    if key in (PROVIDER, ACCESS):
        raise errors.OpPrereqError("Disk '%s' parameter change is not possible" % key,
                                   errors.ECODE_INVAL)
    if str(value).lower() == constants.VALUE_DEFAULT:
        disk.params.pop(key, None)
    else:
        disk.params[key] = _param_value(key, value)
    return ("disk.params:%s/%d" % (key, idx), value)


def providers_of(disks):
    """The providers of the ext disks among ``disks``."""
    return sorted(set(d.logical_id[0] for d in disks
                      if d.dev_type == constants.DT_EXT and d.logical_id))


def check_providers(lu, nodes, providers):
    """OpPrereqError unless every provider is valid on every node: its first
    definition in the node's search path has all its scripts (what
    gnt-storage diagnose shows)."""
    nodes, providers = list(nodes), sorted(set(providers))
    if not nodes or not providers:
        return
    results = lu.rpc.call("extstorage_diagnose", nodes, [])
    for node in nodes:
        results[node].raise_on_failure("Cannot check the ExtStorage providers of node"
                                       " %s" % node, prereq=True)
    found = extstorage.by_provider(results)
    for provider in providers:
        for node in nodes:
            entries = found.get(provider, {}).get(node)
            if not entries:
                reason = ("Directory for External Storage Provider %s not found in"
                          " search path" % provider)
            elif not entries[0][1]:
                reason = entries[0][2]
            else:
                continue
            raise errors.OpPrereqError("ExtStorage provider '%s' is not valid on node"
                                       " %s: %s" % (provider, node, reason),
                                       errors.ECODE_ENVIRON)
