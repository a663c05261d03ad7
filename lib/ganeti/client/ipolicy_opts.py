"""The instance policy options of gnt-cluster and gnt-group (Ganeti's names,
types and texts): their parsing into a policy dict for the opcodes, and the
spec text of show-ispecs-cmd."""

import optparse

from ganeti import cli, constants, errors

ISPEC_UNIT_KEYS = ("disk-size", "memory-size")
ISPEC_KEYS = ("cpu-count", "disk-count", "disk-size", "memory-size", "nic-count",
              "spindle-use")
# --specs-NAME of gnt-cluster init: the spec it sets
_OLD_STYLE_SPECS = (("cpu_count", "cpu-count"), ("disk_count", "disk-count"),
                    ("disk_size", "disk-size"), ("mem_size", "memory-size"),
                    ("nic_count", "nic-count"))


def _split_ident_key_val(opt, section):
    ident, params = cli.parse_ident_keyval(section)
    if not isinstance(params, dict):
        raise optparse.OptionValueError("option %s: cannot reset or remove '%s' here"
                                        % (opt, ident))
    return ident, params


def _check_bounds_specs(option, opt, value):
    """'min:k=v,.../max:k=v//min:...' -> [{"min": {...}, "max": {...}}, ...]."""
    result = []
    for line in value.split("//"):
        pair = {}
        for section in line.split("/"):
            if not section:
                raise optparse.OptionValueError("option %s: empty section in '%s'"
                                                % (opt, value))
            try:
                ident, params = _split_ident_key_val(opt, section)
            except (errors.ParameterError, errors.UnitParseError) as err:
                raise optparse.OptionValueError("option %s: %s" % (opt, err.args[0]))
            if ident in pair:
                raise optparse.OptionValueError("Duplicated parameter '%s' in parsing"
                                                " %s: %s" % (ident, opt, section))
            pair[ident] = params
        result.append(pair)
    return result


def _check_maybe_float(option, opt, value):
    """A number, or "default" (drop the group's own value)."""
    if value.lower() == constants.VALUE_DEFAULT:
        return constants.VALUE_DEFAULT
    try:
        return float(value)
    except ValueError:
        raise optparse.OptionValueError("option %s: invalid number value: %r"
                                        % (opt, value))


class _Option(cli.CliOption):
    TYPES = cli.CliOption.TYPES + ("multilistidentkeyval", "maybefloat")
    TYPE_CHECKER = dict(cli.CliOption.TYPE_CHECKER,
                        multilistidentkeyval=_check_bounds_specs,
                        maybefloat=_check_maybe_float)


BOUNDS_OPT = _Option("--ipolicy-bounds-specs", dest="ipolicy_bounds_specs",
                     type="multilistidentkeyval", default=None,
                     help="Complete instance specs limits")
IPOLICY_OPTS = [
    BOUNDS_OPT,
    _Option("--ipolicy-disk-templates", dest="ipolicy_disk_templates", type="list",
            default=None, help="Comma-separated list of enabled disk templates"),
    _Option("--ipolicy-vcpu-ratio", dest="ipolicy_vcpu_ratio", type="maybefloat",
            default=None, help="The maximum allowed vcpu-to-cpu ratio"),
    _Option("--ipolicy-spindle-ratio", dest="ipolicy_spindle_ratio", type="maybefloat",
            default=None, help="The maximum allowed instances to spindle ratio"),
]
STD_SPECS_OPT = cli.keyval_option("--ipolicy-std-specs", dest="ipolicy_std_specs",
                                  help="Complete standard instance specs")
SPECS_OPTS = [
    cli.keyval_option("--specs-%s" % name.replace("_", "-"), dest="ispecs_" + name,
                      help="%s specs: list of key=value, where key is one of min, max,"
                      " std%s" % (title, " (in MB or using a unit)" if unit else ""))
    for name, title, unit in (("cpu_count", "CPU count", False),
                              ("disk_count", "Disk count", False),
                              ("disk_size", "Disk size", True),
                              ("mem_size", "Memory size", True),
                              ("nic_count", "NIC count", False))]


def _typed_spec(spec, key, complete=True):
    """One spec: sizes with units as MiB, numbers checked; ``complete``: all
    parameters required."""
    from ganeti import paramtypes
    from ganeti.utils import text
    result = dict(spec)
    for name in ISPEC_UNIT_KEYS:
        if name in result:
            try:
                result[name] = text.parse_unit(result[name])
            except (TypeError, ValueError, errors.UnitParseError) as err:
                raise errors.OpPrereqError("Invalid parameter %s (%s) in %s instance specs:"
                                           " %s" % (name, result[name], key, err),
                                           errors.ECODE_INVAL)
    try:
        result = paramtypes.check_types(result, dict.fromkeys(ISPEC_KEYS, 0))
    except errors.TypeEnforcementError as err:
        raise errors.OpPrereqError("Invalid %s instance specs: %s" % (key, err),
                                   errors.ECODE_INVAL)
    missing = sorted(set(ISPEC_KEYS) - set(result))
    if complete and missing:
        raise errors.OpPrereqError("Missing parameters in ipolicy spec %s: %s"
                                   % (key, ", ".join(missing)), errors.ECODE_INVAL)
    return result


def _old_style_specs(opts, policy, base):
    """--specs-NAME min=,max=,std= (gnt-cluster init) into ``policy``: they
    change the first bounds and the standard spec of ``base``."""
    import copy
    given = [(spec, getattr(opts, "ispecs_" + name, None))
             for name, spec in _OLD_STYLE_SPECS]
    given = [(spec, values) for spec, values in given if values]
    if not given:
        return
    if "minmax" in policy or "std" in policy:
        raise errors.OpPrereqError("A --specs-xxx option cannot be specified together"
                                   " with any --ipolicy-xxx-specs option",
                                   errors.ECODE_INVAL)
    minmax = copy.deepcopy((base.get("minmax") or [{"min": {}, "max": {}}])[0])
    std = dict(base.get("std") or {})
    for spec, values in given:
        for key, value in values.items():
            if key not in ("min", "max", "std"):
                raise errors.OpPrereqError("Invalid key in %s specs: %s (use min, max"
                                           " or std)" % (spec, key), errors.ECODE_INVAL)
            (std if key == "std" else minmax[key])[spec] = value
    policy["minmax"] = [dict((key, _typed_spec(minmax[key], key)) for key in minmax)]
    policy["std"] = _typed_spec(std, "std")


def ipolicy_from_opts(opts, allow_default=False, base=None):
    """The policy the --ipolicy-* (and gnt-cluster init's --specs-*, which change
    ``base``) options ask for ({} when none is given); with ``allow_default``
    (gnt-group modify) "default" drops the group's own value."""
    policy = {}
    bounds = opts.ipolicy_bounds_specs
    if bounds is not None:
        if allow_default and bounds == [{constants.VALUE_DEFAULT: {}}]:
            policy["minmax"] = constants.VALUE_DEFAULT
        else:
            minmax = []
            for pair in bounds:
                for key in pair:
                    if key not in ("min", "max"):
                        raise errors.OpPrereqError("Invalid key in bounds instance"
                                                   " specifications: %s" % key,
                                                   errors.ECODE_INVAL)
                minmax.append(dict((key, _typed_spec(spec, key))
                                   for key, spec in pair.items()))
            policy["minmax"] = minmax
    std = getattr(opts, "ipolicy_std_specs", None)
    if std:
        policy["std"] = _typed_spec(std, "std", complete=False)
    if opts.ipolicy_disk_templates is not None:
        policy["disk-templates"] = list(opts.ipolicy_disk_templates)
    if opts.ipolicy_vcpu_ratio is not None:
        policy["vcpu-ratio"] = opts.ipolicy_vcpu_ratio
    if opts.ipolicy_spindle_ratio is not None:
        policy["spindle-ratio"] = opts.ipolicy_spindle_ratio
    _old_style_specs(opts, policy, base or {})
    return policy


def specs_text(specs):
    """'cpu-count=1,disk-count=1,...' (Ganeti's show-ispecs-cmd form)."""
    return ",".join("%s=%s" % (key, value) for key, value in sorted(specs.items()))


def bounds_text(policy):
    """The --ipolicy-bounds-specs value of ``policy`` ('' when it has none)."""
    return "//".join("min:%s/max:%s" % (specs_text(mm["min"]), specs_text(mm["max"]))
                     for mm in policy.get("minmax") or []
                     if mm.get("min") and mm.get("max"))
