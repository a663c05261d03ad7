"""Cluster settings of gnt-cluster init/modify beyond the plain values:
hypervisor and disk states, data collectors, ssh key size, and the settings
this project refuses because nothing here could act on them.

Shared by gnt-cluster init (bootstrap, no job) and modify (LUClusterSetParams);
doc/cluster-options.rst says what each one does here.
"""

import copy

from ganeti import constants, errors, paramtypes

# Ganeti's static hypervisor and disk states ("unused for now" in Ganeti too):
# stored in the cluster's hv_state_static / disk_state_static, shown nowhere
HVST_DEFAULTS = {"cpu_node": 1, "cpu_total": 1, "mem_hv": 0, "mem_node": 0,
                 "mem_total": 0}
DS_DEFAULTS = {"disk_total": 0, "disk_reserved": 0, "disk_overhead": 0}
DS_VALID_TYPES = (constants.DT_PLAIN,)


def _prereq(message):
    return errors.OpPrereqError(message, errors.ECODE_INVAL)


def check_unsupported(install_image=None, zeroing_image=None,
                      instance_communication_network=None, gluster_storage_dir=None):
    """Refuse the settings nothing here would use (None or "": not set)."""
    if install_image:
        raise _prereq("An install image (--install-image) is not supported here: OS"
                      " scripts always run on the node itself, never inside a helper"
                      " instance booted from an image")
    if zeroing_image:
        raise _prereq("A zeroing image (--zeroing-image) is not supported here: exports"
                      " cannot zero the free space of disks (gnt-backup export"
                      " --zero-free-space is refused)")
    if instance_communication_network:
        raise _prereq("An instance communication network"
                      " (--instance-communication-network) is not supported here:"
                      " instances cannot have communication NICs (gnt-instance add"
                      " --communication)")
    if gluster_storage_dir is not None:
        raise _prereq("Gluster is not supported here (there is no gluster disk"
                      " template), so --gluster-storage-dir cannot be set")


def default_hv_state(hypervisors):
    """The hypervisor states gnt-cluster init stores when none is given."""
    return dict((hv, dict(HVST_DEFAULTS)) for hv in hypervisors)


def merge_hv_state(given, current=None):
    """``given`` ({hypervisor: {key: value}}) over ``current``, type-checked and
    filled with the defaults; Ganeti's messages for unknown hypervisors."""
    bad = sorted(set(given) - set(constants.HYPER_TYPES))
    if bad:
        raise _prereq("Invalid hypervisor(s) in hypervisor state: %s" % ", ".join(bad))
    result = copy.deepcopy(current or {})
    for hv_name, values in given.items():
        merged = dict(result.get(hv_name, {}), **_typed(values, HVST_DEFAULTS,
                                                         "Hypervisor state"))
        result[hv_name] = dict(HVST_DEFAULTS, **merged)
    return result


def merge_disk_state(given, current=None):
    """``given`` ({storage type: {name: {key: value}}}) over ``current``."""
    bad = sorted(set(given) - set(DS_VALID_TYPES))
    if bad:
        raise _prereq("Invalid storage type(s) in disk state: %s" % ", ".join(bad))
    result = copy.deepcopy(current or {})
    for storage, entries in given.items():
        if not isinstance(entries, dict):
            raise _prereq("Invalid disk state for storage type %s: expected"
                          " storage_type/identifier:option=value,..." % storage)
        place = result.setdefault(storage, {})
        for name, values in entries.items():
            merged = dict(place.get(name, {}), **_typed(values, DS_DEFAULTS, "Disk state"))
            place[name] = dict(DS_DEFAULTS, **merged)
    return result


def _typed(values, defaults, what):
    if not isinstance(values, dict):
        raise _prereq("%s values must be given as option=value" % what)
    return paramtypes.enforce_types(values, defaults, what)


def disk_state_from_pairs(pairs):
    """--disk-state's [("plain/xenvg", {...}), ...] as {"plain": {"xenvg": {...}}}."""
    result = {}
    for key, values in pairs or []:
        storage, sep, name = key.partition("/")
        if not sep or not storage or not name:
            raise _prereq("Invalid disk state '%s': expected"
                          " storage_type/identifier:option=value,..." % key)
        result.setdefault(storage, {})[name] = values
    return result


def hv_state_from_pairs(pairs):
    """--hypervisor-state's [(hypervisor, {...}), ...] as a dict."""
    result = {}
    for hv_name, values in pairs or []:
        if not isinstance(values, dict):
            raise _prereq("The hypervisor state of '%s' cannot be removed or reset;"
                          " give hypervisor:option=value,..." % hv_name)
        result.setdefault(hv_name, {}).update(values)
    return result


# ---- data collectors (ganeti-mond's settings; there is no mond here) ---------------

def collectors_active(values):
    """--enabled-data-collectors' {name: value} as {name: bool} (Ganeti reads a
    value starting with "t" as on, with "f" as off; others are refused here)."""
    result = {}
    for name, value in (values or {}).items():
        if isinstance(value, bool):
            result[name] = value
        elif isinstance(value, str) and value[:1].lower() in ("t", "f"):
            result[name] = value[:1].lower() == "t"
        else:
            raise _prereq("Invalid value '%s' for data collector '%s': give true or"
                          " false" % (value, name))
    _check_collector_names(result)
    return result


def collector_intervals(values):
    """--data-collector-interval's {name: seconds} as {name: microseconds}."""
    try:
        result = dict((name, int(1e6 * float(value))) for name, value in
                      (values or {}).items())
    except (TypeError, ValueError):
        raise _prereq("Can't transform all values to integers: %s" % (values,))
    return check_collector_intervals(result)


def check_collector_intervals(values):
    """The opcode's {name: microseconds}: known collectors, positive times."""
    if any(value <= 0 for value in (values or {}).values()):
        raise _prereq("Some interval times where not above zero.")
    _check_collector_names(values or {})
    return values


def _check_collector_names(values):
    unknown = sorted(set(values) - set(constants.DEFAULT_DATA_COLLECTORS))
    if unknown:
        raise _prereq("Data collector names not recognized: %s" % ", ".join(unknown))


def apply_data_collectors(cluster, active=None, intervals=None):
    """Set the collectors' state and interval (opcode: microseconds; the
    configuration keeps seconds)."""
    for name, value in (active or {}).items():
        cluster.data_collectors.setdefault(name, {})["active"] = bool(value)
    for name, value in (intervals or {}).items():
        cluster.data_collectors.setdefault(name, {})["interval"] = value / 1e6
