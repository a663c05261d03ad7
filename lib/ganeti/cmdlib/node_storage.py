"""Logical units for the storage units of nodes: gnt-node volumes, list-storage,
modify-storage and repair-storage.

A storage unit is an LVM volume group (``lvm-vg``), an LVM physical volume
(``lvm-pv``) or the cluster's directory of a file based disk template
(``file``, ``sharedfile``, ``gluster``). The nodes answer through the
procedures of backend/storage_units.py; these LUs check what is asked
against the cluster (enabled templates, known fields and nodes, what a type
can change) and put the answers together, with Ganeti's messages.
"""

from ganeti import constants, errors, locking
from ganeti.cmdlib import drbd_disks
from ganeti.cmdlib.base import NoHooksLU, expand_node_name
from ganeti.cmdlib.verify_disks import instance_lvs
from ganeti.utils import text

ST_FILE = "file"
ST_SHARED_FILE = "sharedfile"
ST_GLUSTER = "gluster"
ST_LVM_PV = "lvm-pv"
ST_LVM_VG = "lvm-vg"

#: the storage type of each disk template (Ganeti's, for all templates)
TEMPLATE_STORAGE_TYPE = dict(constants.MAP_DISK_TEMPLATE_STORAGE_TYPE)
TEMPLATE_STORAGE_TYPE.update({constants.DT_BLOCK: "blockdev", constants.DT_RBD: "rados",
                              constants.DT_EXT: "ext", constants.DT_GLUSTER: ST_GLUSTER})
#: types the nodes report on, in the order Ganeti's message names them
REPORTING_TYPES = (ST_GLUSTER, ST_SHARED_FILE, ST_FILE, ST_LVM_VG, ST_LVM_PV)
#: what modify-storage may change, per type
MODIFIABLE_FIELDS = {ST_LVM_PV: frozenset(["allocatable"])}
#: the operations repair-storage may run, per type
SO_FIX_CONSISTENCY = "fix-consistency"
STORAGE_OPERATIONS = {ST_LVM_VG: frozenset([SO_FIX_CONSISTENCY])}

# list-storage fields: node and type are the LU's, the others the node's
SF_NODE, SF_TYPE, SF_NAME = "node", "type", "name"
STORAGE_FIELDS = (SF_NODE, SF_TYPE, SF_NAME, "size", "used", "free", "allocatable")
VOLUME_FIELDS = ("node", "phys", "vg", "name", "size", "instance")


def check_output_fields(known, selected):
    unknown = [field for field in selected if field not in known]
    if unknown:
        raise errors.OpPrereqError("Unknown output fields selected: %s"
                                   % ",".join(unknown), errors.ECODE_INVAL)


def check_storage_type_enabled(cluster, storage_type):
    """Refuse a storage type no enabled disk template uses (lvm-pv: as lvm-vg)."""
    if storage_type == ST_LVM_PV:
        storage_type = ST_LVM_VG
    enabled = cluster.enabled_disk_templates or []
    if any(TEMPLATE_STORAGE_TYPE.get(tmpl) == storage_type for tmpl in enabled):
        return
    # no error code, as in Ganeti (the message shows without "error type")
    raise errors.OpPrereqError("No disk template of storage type '%s' is enabled in"
                               " this cluster. Enabled disk templates are: %s"
                               % (storage_type, ",".join(enabled)))


def storage_args(cluster, storage_type):
    """The su_args a node needs for a type: the directory of the file based ones."""
    directory = {ST_FILE: cluster.file_storage_dir,
                 ST_SHARED_FILE: cluster.shared_file_storage_dir,
                 ST_GLUSTER: cluster.gluster_storage_dir}
    if storage_type in directory:
        return [[directory[storage_type]]]
    return []


def _wanted_node_locks(lu, names):
    """Shared locks on the named nodes (all when none is named)."""
    if names:
        wanted = sorted(set(expand_node_name(lu.cfg, name) for name in names))
    else:
        wanted = locking.ALL_SET
    lu.needed_locks[locking.LEVEL_NODE] = wanted
    lu.share_locks[locking.LEVEL_NODE] = 1


class LUNodeQueryvols(NoHooksLU):
    """The LVs of nodes, each with the instance whose disk it is ("-": none)."""
    REQ_BGL = False

    def check_arguments(self):
        check_output_fields(VOLUME_FIELDS, self.op.output_fields)

    def expand_names(self):
        _wanted_node_locks(self, self.op.nodes)

    def exec(self, feedback_fn):
        nodes = text.nice_sort(self.glm.list_owned(locking.LEVEL_NODE))
        results = self.rpc.call_node_volumes(nodes) if nodes else {}
        owners = {}
        for inst in self.cfg.get_all_instances_info().values():
            for key in instance_lvs(inst):
                owners[key] = inst.name
        output = []
        for node in nodes:
            res = results[node]
            if res.offline:
                continue
            if res.fail_msg:
                self.log_warning("Can't compute volume data on node %s: %s", node,
                                 res.fail_msg)
                continue
            for vol in sorted(res.data or [], key=lambda v: v["dev"]):
                values = {"node": node, "phys": vol["dev"], "vg": vol["vg"],
                          "name": vol["name"], "size": int(float(vol["size"])),
                          "instance": owners.get((node, "%s/%s" % (vol["vg"],
                                                                   vol["name"])), "-")}
                output.append([str(values[field]) for field in self.op.output_fields])
        return output


class LUNodeQueryStorage(NoHooksLU):
    """The storage units of one type on nodes, sorted by node and unit name."""
    REQ_BGL = False

    def check_arguments(self):
        check_output_fields(STORAGE_FIELDS, self.op.output_fields)

    def expand_names(self):
        _wanted_node_locks(self, self.op.nodes)

    def check_prereq(self):
        cluster = self.cfg.get_cluster_info()
        if self.op.storage_type:
            check_storage_type_enabled(cluster, self.op.storage_type)
            if self.op.storage_type not in REPORTING_TYPES:
                # (not reachable from gnt-node, whose -t offers only these)
                raise errors.OpPrereqError(
                    "Storage reporting for storage type '%s' is not supported; the"
                    " supported storage types are: %s" % (self.op.storage_type,
                                                          ", ".join(REPORTING_TYPES)),
                    errors.ECODE_INVAL)
            self.storage_type = self.op.storage_type
            return
        # the default: the storage type of the default disk template
        templates = cluster.enabled_disk_templates or []
        self.storage_type = TEMPLATE_STORAGE_TYPE.get(templates[0]) if templates else None
        if self.storage_type not in REPORTING_TYPES:
            raise errors.OpPrereqError(
                "Storage reporting for storage type '%s' is not supported. Please use"
                " the --storage-type option to specify one of the supported storage"
                " types (%s) or set the default disk template to one that supports"
                " storage reporting." % (self.storage_type, ", ".join(REPORTING_TYPES)))

    def exec(self, feedback_fn):
        # the node reports name (to sort by) and its own fields, never node/type
        fields = [SF_NAME] + [f for f in self.op.output_fields
                              if f not in (SF_NODE, SF_TYPE, SF_NAME)]
        nodes = text.nice_sort(self.glm.list_owned(locking.LEVEL_NODE))
        st_args = storage_args(self.cfg.get_cluster_info(), self.storage_type)
        results = (self.rpc.call_storage_list(nodes, self.storage_type, st_args,
                                              self.op.name, fields) if nodes else {})
        output = []
        for node in nodes:
            res = results[node]
            if res.offline:
                continue
            if res.fail_msg:
                self.log_warning("Can't get storage data from node %s: %s", node,
                                 res.fail_msg)
                continue
            rows = dict((row[0], row) for row in res.data or [])
            for name in text.nice_sort(rows):
                values = dict(zip(fields, rows[name]))
                values[SF_NODE] = node
                values[SF_TYPE] = self.storage_type
                output.append([values[field] for field in self.op.output_fields])
        return output


class _StorageUnitLU(NoHooksLU):
    """A change to one storage unit of one node (under that node's lock)."""
    REQ_BGL = False

    def expand_names(self):
        self.node_name = expand_node_name(self.cfg, self.op.node_name)
        self.check_storage_type()
        if self.op.name is None:
            raise errors.OpPrereqError("The name of the storage unit is required",
                                       errors.ECODE_INVAL)
        self.needed_locks[locking.LEVEL_NODE] = [self.node_name]

    def check_storage_type(self):
        raise NotImplementedError

    def node_call(self, call, *args):
        """Run ``call`` on the node for the unit; the RpcResult."""
        st_args = storage_args(self.cfg.get_cluster_info(), self.op.storage_type)
        return call(self.node_name, self.op.storage_type, st_args, self.op.name, *args)


class LUNodeModifyStorage(_StorageUnitLU):
    """Change a storage unit: the allocatable flag of an LVM physical volume."""

    def check_storage_type(self):
        stype = self.op.storage_type
        if stype not in MODIFIABLE_FIELDS:
            raise errors.OpPrereqError("Storage units of type '%s' can not be modified"
                                       % stype, errors.ECODE_INVAL)
        diff = [key for key in self.op.changes if key not in MODIFIABLE_FIELDS[stype]]
        if diff:
            raise errors.OpPrereqError("The following fields can not be modified for"
                                       " storage units of type '%s': %r" % (stype, diff),
                                       errors.ECODE_INVAL)
        for key, value in self.op.changes.items():
            if not isinstance(value, bool):
                raise errors.OpPrereqError("Invalid value %r for storage field '%s':"
                                           " expected a boolean" % (value, key),
                                           errors.ECODE_INVAL)

    def check_prereq(self):
        check_storage_type_enabled(self.cfg.get_cluster_info(), self.op.storage_type)

    def exec(self, feedback_fn):
        res = self.node_call(self.rpc.call_storage_modify, self.op.changes)
        res.raise_on_failure("Failed to modify storage unit '%s' on %s"
                             % (self.op.name, self.node_name))


class LURepairNodeStorage(_StorageUnitLU):
    """Repair a storage unit: drop the lost PVs of an LVM volume group."""

    def check_storage_type(self):
        if SO_FIX_CONSISTENCY not in STORAGE_OPERATIONS.get(self.op.storage_type, ()):
            raise errors.OpPrereqError("Storage units of type '%s' can not be repaired"
                                       % self.op.storage_type, errors.ECODE_INVAL)

    def check_prereq(self):
        check_storage_type_enabled(self.cfg.get_cluster_info(), self.op.storage_type)
        # the disks of the instances using this node must be fine on their other
        # nodes: the repair may drop this node's copy
        for inst in self.cfg.get_all_instances_info().values():
            if self.node_name not in inst.all_nodes or not inst.disks_active:
                continue
            for other in sorted(set(inst.all_nodes) - set([self.node_name])):
                try:
                    self._check_faulty_disks(inst, other)
                except errors.OpPrereqError as err:
                    if not self.op.ignore_consistency:
                        raise
                    self.log_warning(str(err.args[0]))

    def _check_faulty_disks(self, inst, node):
        res = self.rpc.call_blockdev_getmirrorstatus(
            node, [drbd_disks.disk_for_node(self.cfg, d, node) for d in inst.disks])
        res.raise_on_failure("Failed to get disk status from node %s" % node,
                             prereq=True, ecode=errors.ECODE_ENVIRON)
        for found, status in res.data or []:
            if found and (status or {}).get("ldisk_status") == constants.LDS_FAULTY:
                raise errors.OpPrereqError("Instance '%s' has faulty disks on node '%s'"
                                           % (inst.name, node), errors.ECODE_STATE)

    def exec(self, feedback_fn):
        feedback_fn("Repairing storage unit '%s' on %s ..." % (self.op.name,
                                                              self.node_name))
        res = self.node_call(self.rpc.call_storage_execute, SO_FIX_CONSISTENCY)
        res.raise_on_failure("Failed to repair storage unit '%s' on %s"
                             % (self.op.name, self.node_name))
