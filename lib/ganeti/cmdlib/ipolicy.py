"""The instance policy (ipolicy): the limits an instance must stay within.

A policy holds one or more min/max ranges of instance specs (``minmax``), the
allowed disk templates, a standard spec and two ratios. An instance complies
when the disk template is allowed and all of its specs fall within one of the
min/max ranges; the violations are reported as Ganeti words them, so scripts
that match on them keep working. ``vcpu-ratio`` and ``spindle-ratio`` are used
by instance allocators when they place instances (none is supported yet);
like Ganeti, the logical units do not check them.
"""

from ganeti import constants, errors, objects, paramtypes

ISPEC_MEM_SIZE = "memory-size"
ISPEC_CPU_COUNT = "cpu-count"
ISPEC_DISK_COUNT = "disk-count"
ISPEC_DISK_SIZE = "disk-size"
ISPEC_NIC_COUNT = "nic-count"
ISPEC_SPINDLE_USE = "spindle-use"
IPOLICY_DTS = "disk-templates"
ISPECS_MINMAX = "minmax"
ISPECS_STD = "std"
ISPECS_PARAMETERS = (ISPEC_MEM_SIZE, ISPEC_CPU_COUNT, ISPEC_DISK_COUNT, ISPEC_DISK_SIZE,
                     ISPEC_NIC_COUNT, ISPEC_SPINDLE_USE)
IPOLICY_RATIOS = ("vcpu-ratio", "spindle-ratio")


def group_ipolicy(cfg, node_name: str) -> tuple:
    """(group uuid, group name, filled policy) of the group of ``node_name``."""
    cluster = cfg.get_cluster_info()
    node = cfg.get_node_info(node_name)
    group = cfg.get_node_group(node.group) if node is not None else None
    if group is None:
        return (node.group if node else None, None, cluster.ipolicy)
    return (group.uuid, group.name, objects.fill_ipolicy(cluster.ipolicy, group.ipolicy))


def _min_max_violation(name, qualifier, minmax, value):
    """None, or the text saying ``value`` is outside [min, max] of ``name``."""
    if value is None:
        return None
    max_v = minmax["max"].get(name, value)
    min_v = minmax["min"].get(name, value)
    if min_v <= value <= max_v:
        return None
    fqn = "%s/%s" % (name, qualifier) if qualifier else name
    return "%s value %s is not in range [%s, %s]" % (fqn, value, min_v, max_v)


def spec_violations(ipolicy: dict, mem_size, cpu_count, disk_count, nic_count,
                    disk_sizes, spindle_use, disk_types) -> list:
    """The violations of a spec (None values are not checked); [] if it complies.

    Among several min/max ranges the one with the fewest violations counts.
    """
    tests = [(ISPEC_MEM_SIZE, "", mem_size), (ISPEC_CPU_COUNT, "", cpu_count),
             (ISPEC_NIC_COUNT, "", nic_count), (ISPEC_SPINDLE_USE, "", spindle_use)]
    tests += [(ISPEC_DISK_SIZE, str(idx), size) for idx, size in enumerate(disk_sizes)]
    allowed = list(dict.fromkeys(ipolicy.get(IPOLICY_DTS, [])))
    result = []
    if disk_count:
        # the disk count says nothing about diskless instances
        tests.append((ISPEC_DISK_COUNT, "", disk_count))
    elif "diskless" not in allowed:
        result.append("Disk template diskless is not allowed (allowed templates %s)"
                      % ", ".join(allowed))
    forbidden = [dt for dt in dict.fromkeys(disk_types) if dt not in allowed]
    if forbidden:
        result.append("Disk template %s is not allowed (allowed templates: %s)"
                      % (", ".join(forbidden), ", ".join(allowed)))
    fewest = None
    for minmax in ipolicy.get(ISPECS_MINMAX) or [{"min": {}, "max": {}}]:
        errs = [err for err in (_min_max_violation(name, qual, minmax, value)
                                for name, qual, value in tests) if err]
        if fewest is None or len(errs) < len(fewest):
            fewest = errs
    return result + fewest


def instance_spec_violations(ipolicy: dict, beparams: dict, disks: list, nic_count: int,
                             disk_template: str, memory_key: str = "maxmem") -> list:
    """Violations of an instance given its filled backend parameters, its disks
    (objects or dicts with "size") and its NIC count."""
    sizes = [d["size"] if isinstance(d, dict) else d.size for d in disks]
    return spec_violations(ipolicy, beparams.get(memory_key), beparams.get("vcpus"),
                           len(sizes), nic_count, sizes, beparams.get("spindle_use"),
                           [disk_template] * len(sizes))


def disk_sizes_violations(ipolicy: dict, disk_sizes: list, disk_template: str) -> list:
    """Violations of the disk sizes (and count) alone, for growing a disk."""
    return spec_violations(ipolicy, None, None, len(disk_sizes), None, disk_sizes, None,
                           [disk_template] * len(disk_sizes))


def instance_violations(cfg, instance, ipolicy: dict) -> list:
    """Violations of an instance as configured, against ``ipolicy``. With
    exclusive storage on its nodes, its spindle use is its disks' spindles."""
    from ganeti.cmdlib import instance_utils
    be = dict(cfg.get_cluster_info().fill_be(instance))
    missing = []
    if any(instance_utils.exclusive_storage(cfg, node) for node in instance.all_nodes):
        spindles = [d.spindles for d in instance.disks]
        if None in spindles:
            missing.append("Number of spindles not configured for disks of instance %s"
                           " while exclusive storage is enabled, try running"
                           " gnt-cluster repair-disk-sizes" % instance.name)
            be[constants.BE_SPINDLE_USE] = None
        else:
            be[constants.BE_SPINDLE_USE] = sum(spindles)
    return missing + instance_spec_violations(ipolicy, be, instance.disks,
                                              len(instance.nics), instance.disk_template)


def report(lu, message: str, violations: list, ignore: bool) -> None:
    """Refuse (OpPrereqError, ECODE_INVAL) or, with --ignore-ipolicy, warn."""
    if not violations:
        return
    text = "%s: %s" % (message, ", ".join(violations))
    if ignore:
        lu.log_warning(text)
        return
    raise errors.OpPrereqError(text, errors.ECODE_INVAL)


def allocation_message(group_uuid, group_name) -> str:
    return "Instance allocation to group %s (%s) violates policy" % (group_uuid, group_name)


def check_target_node_ipolicy(lu, instance, target_node: str, ignore: bool = False) -> None:
    """Before moving ``instance`` to ``target_node`` (failover, migrate): a node of
    another group must accept it under that group's policy."""
    cfg = lu.cfg
    current = cfg.get_node_info(instance.primary_node)
    target = cfg.get_node_info(target_node)
    if current is None or target is None or current.group == target.group:
        return
    group_uuid, _, ipolicy = group_ipolicy(cfg, target_node)
    violations = instance_violations(cfg, instance, ipolicy)
    if violations:
        report(lu, "Instance does not meet target node group's (%s) instance policy"
               % group_uuid, violations, ignore)


# ---- a policy's own consistency (set by gnt-cluster modify) --------------------------

def check_syntax(policy: dict, check_std: bool = True) -> dict:
    """``policy`` with its numbers typed; OpPrereqError "Invalid instance policy:
    ..." (Ganeti's words) if a range is incomplete or inverted, the standard spec
    lies outside every range, or the templates or ratios are invalid."""
    try:
        return _checked(policy, check_std)
    except errors.ConfigurationError as err:
        raise errors.OpPrereqError("Invalid instance policy: %s" % err, errors.ECODE_INVAL)


def _typed_spec(spec, name):
    if not isinstance(spec, dict):
        raise errors.ConfigurationError("Invalid %s specification: %r" % (name, spec))
    try:
        return paramtypes.check_types(spec, dict.fromkeys(ISPECS_PARAMETERS, 0))
    except errors.TypeEnforcementError as err:
        raise errors.ConfigurationError(str(err))


def _complete(spec, name):
    missing = [p for p in ISPECS_PARAMETERS if p not in spec]
    if missing:
        raise errors.ConfigurationError("Missing instance specs parameters for %s: %s"
                                        % (name, ", ".join(missing)))


def _checked(policy, check_std):
    policy = dict(policy)
    std = _typed_spec(policy.get(ISPECS_STD, {}), ISPECS_STD)
    if check_std:
        _complete(std, ISPECS_STD)
        policy[ISPECS_STD] = std
    minmax = policy.get(ISPECS_MINMAX)
    if not isinstance(minmax, list) or not minmax:
        raise errors.ConfigurationError("Empty minmax specifications")
    typed, std_fits = [], not check_std
    for pair in minmax:
        if not isinstance(pair, dict) or set(pair) != set(["min", "max"]):
            raise errors.ConfigurationError("Missing instance specification: %s" % (
                ", ".join(sorted(set(["min", "max"]) - set(pair or {}))) or pair))
        low, high = _typed_spec(pair["min"], "min"), _typed_spec(pair["max"], "max")
        _complete(low, "min")
        _complete(high, "max")
        for name in ISPECS_PARAMETERS:
            if low[name] > high[name]:
                raise errors.ConfigurationError(
                    "Invalid specification of min/max values for %s: %s/%s"
                    % (name, low[name], high[name]))
        std_fits = std_fits or all(low[n] <= std.get(n, low[n]) <= high[n]
                                   for n in ISPECS_PARAMETERS)
        typed.append({"min": low, "max": high})
    if not std_fits:
        raise errors.ConfigurationError("Invalid std specifications")
    policy[ISPECS_MINMAX] = typed
    templates = policy.get(IPOLICY_DTS)
    if templates is not None:
        if not templates:
            raise errors.ConfigurationError("Instance policy must contain at least one"
                                            " disk template")
        wrong = sorted(set(templates) - set(constants.DISK_TEMPLATES))
        if wrong:
            raise errors.ConfigurationError("Invalid disk template(s) %s" % ", ".join(wrong))
    for key in IPOLICY_RATIOS:
        if key in policy:
            try:
                policy[key] = paramtypes.convert(key, policy[key], paramtypes.KIND_FLOAT)
            except errors.TypeEnforcementError as err:
                raise errors.ConfigurationError("Invalid value for key '%s': '%s', error: %s"
                                                % (key, policy[key], err))
    return policy
