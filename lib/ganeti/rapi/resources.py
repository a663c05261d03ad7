"""The RAPI v2 resources and the table of their paths.

Each class answers one path; reads query the master daemon, writes submit one
job and answer its id. Field lists, names and shapes are Ganeti 3.0's (its
rlib2), so clients written for Ganeti read them unchanged.
"""

import json
import os
import re

from ganeti import constants, errors, opcodes, rapi
from ganeti.rapi import base
from ganeti.rapi.base import Resource, bad_request, not_found

_COMMON_FIELDS = ["ctime", "mtime", "uuid", "serial_no", "tags"]
I_FIELDS = ["name", "admin_state", "os", "pnode", "snodes", "disk_template",
            "nic.ips", "nic.macs", "nic.modes", "nic.uuids", "nic.names", "nic.links",
            "nic.networks", "nic.networks.names", "nic.bridges", "network_port",
            "disk.sizes", "disk.spindles", "disk_usage", "disk.uuids", "disk.names",
            "beparams", "hvparams", "oper_state", "oper_ram", "oper_vcpus", "status",
            "custom_hvparams", "custom_beparams", "custom_nicparams"] + _COMMON_FIELDS
N_FIELDS = ["name", "offline", "master_candidate", "drained", "dtotal", "dfree",
            "sptotal", "spfree", "mtotal", "mnode", "mfree", "pinst_cnt", "sinst_cnt",
            "ctotal", "cnos", "cnodes", "csockets", "pip", "sip", "role",
            "pinst_list", "sinst_list", "master_capable", "vm_capable", "ndparams",
            "group.uuid"] + _COMMON_FIELDS
G_FIELDS = ["alloc_policy", "name", "node_cnt", "node_list", "ipolicy", "custom_ipolicy",
            "diskparams", "custom_diskparams", "ndparams", "custom_ndparams"] + _COMMON_FIELDS
NET_FIELDS = ["name", "network", "gateway", "network6", "gateway6", "mac_prefix",
              "free_count", "reserved_count", "map", "group_list", "inst_list",
              "external_reservations"] + _COMMON_FIELDS
FILTER_FIELDS = ["watermark", "priority", "predicates", "action", "reason_trail", "uuid"]
J_FIELDS_BULK = ["id", "ops", "status", "summary", "opstatus", "received_ts", "start_ts",
                 "end_ts"]
J_FIELDS = J_FIELDS_BULK + ["oplog", "opresult"]

FEATURES = ["instance-create-reqv1", "instance-reinstall-reqv1", "node-migrate-reqv1",
            "node-evac-res1"]
#: how long /2/jobs/N/wait waits for a change before it answers null
WAIT_TIMEOUT = 10.0

_ROLE_NAMES = {"M": "master", "C": "master-candidate", "R": "regular", "D": "drained",
               "O": "offline"}


def op(op_id):
    """The opcode class of ``op_id``."""
    return opcodes.OP_MAPPING[op_id]


# --- the cluster ---------------------------------------------------------------

class Root(Resource):
    """/ and /2: answer null, as Ganeti does (legacy)."""

    def GET(self):  # noqa: N802 - HTTP method
        return None


class Version(Resource):
    def GET(self):  # noqa: N802
        return rapi.VERSION


class Info(Resource):
    def GET(self):  # noqa: N802
        return self.client().query_cluster_info()


class Features(Resource):
    def GET(self):  # noqa: N802
        return list(FEATURES)


class OperatingSystems(Resource):
    """/2/os: the names (with variants) OP_OS_DIAGNOSE reports, as a job."""

    def GET(self):  # noqa: N802
        job_id = self.submit_ops([op("OP_OS_DIAGNOSE")(output_fields=["name", "variants"],
                                                       names=[])])
        rows = self.job_result(job_id)[0]
        names = []
        for name, variants in rows:
            names.extend(["%s+%s" % (name, v) for v in variants] if variants else [name])
        return names


class RedistConfig(Resource):
    RAPI_NAME = "redist_config"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_CLUSTER_REDIST_CONF"), self.request.body)


class ClusterModify(Resource):
    RAPI_NAME = "cluster_modify"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_CLUSTER_SET_PARAMS"), self.request.body)


class _Tags(Resource):
    KIND = None

    def _name(self):
        return self.items[0] if self.KIND != constants.TAG_CLUSTER else None

    def GET(self):  # noqa: N802
        return list(self.client().query_tags(self.KIND, self._name() or ""))

    def _change(self, op_id):
        return self.submit(op(op_id), None, {"kind": self.KIND, "name": self._name(),
                                             "tags": self.query_values("tag")})

    def PUT(self):  # noqa: N802
        return self._change("OP_TAGS_SET")

    def DELETE(self):  # noqa: N802
        return self._change("OP_TAGS_DEL")


def _tags(kind, rapi_name):
    return type(rapi_name, (_Tags,), {"KIND": kind, "RAPI_NAME": rapi_name})


ClusterTags = _tags(constants.TAG_CLUSTER, "tags")
NodeTags = _tags(constants.TAG_NODE, "nodes_name_tags")
InstanceTags = _tags(constants.TAG_INSTANCE, "instances_name_tags")
GroupTags = _tags(constants.TAG_NODEGROUP, "groups_name_tags")
NetworkTags = _tags(constants.TAG_NETWORK, "networks_name_tags")


# --- lists of objects -------------------------------------------------------

class _Collection(Resource):
    """GET: names with their URIs, or with bulk=1 the objects' fields."""
    WHAT = FIELDS = URI = None
    ID_FIELD = "id"

    def GET(self):  # noqa: N802
        _refuse_locking(self)
        if self.use_bulk():
            return [self.shape(obj) for obj in
                    base.map_rows(self.FIELDS, self.query_rows(self.WHAT, self.FIELDS))]
        names = [row[0] for row in self.query_rows(self.WHAT, ["name"])]
        return base.uri_list(names, self.URI, self.ID_FIELD)

    @staticmethod
    def shape(obj):
        return obj


class _Item(Resource):
    WHAT = FIELDS = None

    def GET(self):  # noqa: N802
        _refuse_locking(self)
        return self.query_one(self.WHAT, self.FIELDS, self.items[0])


def _refuse_locking(resource):
    # Ganeti 3.0 answers every query from the configuration, without locks
    if resource.query_bool("lock"):
        raise bad_request("Sync queries are not allowed")


def _instance_shape(obj):
    # Ganeti's clients still read beparams["memory"]: maxmem under its old name
    beparams = obj.get("beparams")
    if isinstance(beparams, dict) and "maxmem" in beparams:
        beparams["memory"] = beparams["maxmem"]
    return obj


class Instances(_Collection):
    WHAT, FIELDS, URI = "instance", I_FIELDS, "/2/instances/%s"
    RAPI_NAME = "instances"
    shape = staticmethod(_instance_shape)

    def POST(self):  # noqa: N802
        body = self.body_dict()
        version = body.pop("__version__", 0)
        if version == 0:
            raise bad_request("Instance creation request version 0 is no longer supported")
        if version != 1:
            raise bad_request("Unsupported request data version %s" % version)
        return self.submit(op("OP_INSTANCE_CREATE"), body,
                           rename={"os": "os_type", "name": "instance_name"})


class InstancesMultiAlloc(Resource):
    """One OP_INSTANCE_MULTI_ALLOC of the body's instance creations."""
    RAPI_NAME = "instances_multi_alloc"

    def POST(self):  # noqa: N802
        body = self.body_dict()
        if "instances" not in body:
            raise bad_request("Request is missing required 'instances' field in body")
        creations = []
        for item in base.check_type(body["instances"], list, "Parameter 'instances'"):
            params = dict(base.check_type(item, dict, "An item of 'instances'"))
            for old, new in (("os", "os_type"), ("name", "instance_name")):
                if old in params:
                    params[new] = params.pop(old)
            try:
                creation = op("OP_INSTANCE_CREATE")(**params)
                creation.validate(set_defaults=False)
            except errors.OpPrereqError as err:
                raise bad_request("Invalid body parameters: %s" % err.args[0])
            creations.append(creation)
        body["instances"] = creations
        return self.submit(op("OP_INSTANCE_MULTI_ALLOC"), body)


class Instance(_Item):
    WHAT, FIELDS = "instance", I_FIELDS
    RAPI_NAME = "instances_name"

    def GET(self):  # noqa: N802
        return _instance_shape(_Item.GET(self))

    def DELETE(self):  # noqa: N802
        return self.submit(op("OP_INSTANCE_REMOVE"), self.request.body,
                           {"instance_name": self.items[0], "ignore_failures": False})


class Nodes(_Collection):
    WHAT, FIELDS, URI = "node", N_FIELDS, "/2/nodes/%s"


class Node(_Item):
    WHAT, FIELDS = "node", N_FIELDS


class Groups(_Collection):
    WHAT, FIELDS, URI, ID_FIELD = "group", G_FIELDS, "/2/groups/%s", "name"
    RAPI_NAME = "groups"

    def POST(self):  # noqa: N802
        return self.submit(op("OP_GROUP_ADD"), self.request.body,
                           rename={"name": "group_name"})


class Group(_Item):
    WHAT, FIELDS = "group", G_FIELDS
    RAPI_NAME = "groups_name"

    def DELETE(self):  # noqa: N802
        return self.submit(op("OP_GROUP_REMOVE"), None, {"group_name": self.items[0]})


class Networks(_Collection):
    WHAT, FIELDS, URI, ID_FIELD = "network", NET_FIELDS, "/2/networks/%s", "name"
    RAPI_NAME = "networks"

    def POST(self):  # noqa: N802
        return self.submit(op("OP_NETWORK_ADD"), self.request.body,
                           rename={"name": "network_name"})


class Network(_Item):
    WHAT, FIELDS = "network", NET_FIELDS
    RAPI_NAME = "networks_name"

    def DELETE(self):  # noqa: N802
        return self.submit(op("OP_NETWORK_REMOVE"), self.request.body,
                           {"network_name": self.items[0]})


# --- writes on one object: an opcode from the body plus the path's name --------

def _simple(op_id, method, key, rapi_name, rename=None):
    """A resource whose ``method`` submits ``op_id`` with the body's parameters
    and ``key`` set to the path's name."""
    def handler(self):
        return self.submit(op(op_id), self.request.body, {key: self.items[0]}, rename)
    return type(rapi_name, (Resource,), {method: handler, "RAPI_NAME": rapi_name})


InstanceMigrate = _simple("OP_INSTANCE_MIGRATE", "PUT", "instance_name",
                          "instances_name_migrate")
InstanceFailover = _simple("OP_INSTANCE_FAILOVER", "PUT", "instance_name",
                           "instances_name_failover")
InstanceRename = _simple("OP_INSTANCE_RENAME", "PUT", "instance_name",
                         "instances_name_rename")
InstanceModify = _simple("OP_INSTANCE_SET_PARAMS", "PUT", "instance_name",
                         "instances_name_modify",
                         {"custom_beparams": "beparams", "custom_hvparams": "hvparams"})
InstanceRecreateDisks = _simple("OP_INSTANCE_RECREATE_DISKS", "POST", "instance_name",
                                "instances_name_recreate_disks")
NodeModify = _simple("OP_NODE_SET_PARAMS", "POST", "node_name", "nodes_name_modify")
NodeEvacuate = _simple("OP_NODE_EVACUATE", "POST", "node_name", "nodes_name_evacuate")
GroupModify = _simple("OP_GROUP_SET_PARAMS", "PUT", "group_name", "groups_name_modify",
                      {"custom_ndparams": "ndparams", "custom_ipolicy": "ipolicy",
                       "custom_diskparams": "diskparams"})
GroupRename = _simple("OP_GROUP_RENAME", "PUT", "group_name", "groups_name_rename")
NetworkModify = _simple("OP_NETWORK_SET_PARAMS", "PUT", "network_name",
                        "networks_name_modify")
NetworkConnect = _simple("OP_NETWORK_CONNECT", "PUT", "network_name",
                         "networks_name_connect")
NetworkDisconnect = _simple("OP_NETWORK_DISCONNECT", "PUT", "network_name",
                            "networks_name_disconnect")


class InstanceExport(Resource):
    RAPI_NAME = "instances_name_export"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_BACKUP_EXPORT"), self.request.body,
                           {"instance_name": self.items[0]}, {"destination": "target_node"})


class GroupAssignNodes(Resource):
    RAPI_NAME = "groups_name_assign_nodes"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_GROUP_ASSIGN_NODES"), self.request.body,
                           {"group_name": self.items[0], "force": self.use_force()})


class InstanceInfo(Resource):
    """/2/instances/N/info: OP_INSTANCE_QUERY_DATA as a job (its id)."""
    RAPI_NAME = "instances_name_info"

    def GET(self):  # noqa: N802
        return self.submit(op("OP_INSTANCE_QUERY_DATA"), None,
                           {"instances": [self.items[0]],
                            "static": self.query_bool("static")})


class InstanceReboot(Resource):
    RAPI_NAME = "instances_name_reboot"

    def POST(self):  # noqa: N802
        return self.submit(op("OP_INSTANCE_REBOOT"), self.request.body, {
            "instance_name": self.items[0],
            "reboot_type": self.query_value("type", "hard"),
            "ignore_secondaries": self.query_bool("ignore_secondaries")})


class InstanceStartup(Resource):
    RAPI_NAME = "instances_name_startup"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_INSTANCE_STARTUP"), self.request.body, {
            "instance_name": self.items[0], "force": self.use_force(),
            "no_remember": self.query_bool("no_remember")})


class InstanceShutdown(Resource):
    RAPI_NAME = "instances_name_shutdown"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_INSTANCE_SHUTDOWN"), self.request.body, {
            "instance_name": self.items[0], "no_remember": self.query_bool("no_remember")})


class InstanceReinstall(Resource):
    """One job: shutdown, reinstall with ``os`` and ``osparams``, then (unless
    ``start`` is false) startup."""
    RAPI_NAME = "instances_name_reinstall"

    def POST(self):  # noqa: N802
        name = self.items[0]
        if self.request.body:
            if set(self.request.query) - {"dry-run", "reason"}:
                raise bad_request("Can't combine query and body parameters")
            body = self.body_dict()
        else:
            body = {"os": self.query_value("os"), "start": not self.query_bool("nostartup")}
        unknown = sorted(set(body) - {"os", "start", "osparams"})
        if unknown:
            raise bad_request("Invalid body parameters: unknown %s" % ", ".join(unknown))
        start = base.check_type(body.get("start", True), bool, "Parameter 'start'")
        ops = [self.make_opcode(op("OP_INSTANCE_SHUTDOWN"), None, {"instance_name": name}),
               self.make_opcode(op("OP_INSTANCE_REINSTALL"), None, {
                   "instance_name": name, "os_type": body.get("os"),
                   "osparams": body.get("osparams")})]
        if start:
            ops.append(self.make_opcode(op("OP_INSTANCE_STARTUP"), None,
                                        {"instance_name": name, "force": False}))
        return self.submit_ops(ops)


class InstanceReplaceDisks(Resource):
    RAPI_NAME = "instances_name_replace_disks"

    def POST(self):  # noqa: N802
        if self.request.body:
            data = self.body_dict()
        else:
            data = {k: self.query_value(k) for k in ("remote_node", "mode", "disks",
                                                     "iallocator")
                    if self.query_value(k) is not None}
        disks = data.pop("disks", None)
        if disks:
            if isinstance(disks, str):
                try:
                    disks = [int(part) for part in disks.split(",")]
                except ValueError as err:
                    raise bad_request("Invalid disk index passed: %s" % err)
            data["disks"] = disks
        return self.submit(op("OP_INSTANCE_REPLACE_DISKS"), data,
                           {"instance_name": self.items[0]})


class InstanceActivateDisks(Resource):
    RAPI_NAME = "instances_name_activate_disks"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_INSTANCE_ACTIVATE_DISKS"), None, {
            "instance_name": self.items[0], "ignore_size": self.query_bool("ignore_size")})


class InstanceDeactivateDisks(Resource):
    RAPI_NAME = "instances_name_deactivate_disks"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_INSTANCE_DEACTIVATE_DISKS"), None, {
            "instance_name": self.items[0], "force": self.use_force()})


class InstanceGrowDisk(Resource):
    RAPI_NAME = "instances_name_disk_grow"

    def POST(self):  # noqa: N802
        return self.submit(op("OP_INSTANCE_GROW_DISK"), self.request.body, {
            "instance_name": self.items[0], "disk": int(self.items[1])})


class InstanceConsole(Resource):
    """The console of a running instance (the query's ``console`` field)."""
    GET_ACCESS = [rapi.ACCESS_WRITE, rapi.ACCESS_READ]

    def GET(self):  # noqa: N802
        info = self.query_one("instance", ["console", "oper_state"], self.items[0])
        if not info["oper_state"] or not isinstance(info["console"], dict):
            raise base.HttpError(503, "Instance console unavailable")
        return info["console"]


class NodeRole(Resource):
    RAPI_NAME = "nodes_name_role"

    def GET(self):  # noqa: N802
        return _ROLE_NAMES[self.query_one("node", ["role"], self.items[0])["role"]]

    def PUT(self):  # noqa: N802
        role = base.check_type(self.request.body, str, "Body contents")
        flags = {"regular": (False, False, False), "master-candidate": (True, None, None),
                 "drained": (None, None, True), "offline": (None, True, None)}
        if role not in flags:
            raise bad_request("Can't set '%s' role" % role)
        candidate, offline, drained = flags[role]
        return self.submit(op("OP_NODE_SET_PARAMS"), None, {
            "node_name": self.items[0], "master_candidate": candidate, "offline": offline,
            "drained": drained, "force": self.use_force(),
            "auto_promote": self.query_bool("auto-promote")})


class NodeMigrate(Resource):
    RAPI_NAME = "nodes_name_migrate"

    def POST(self):  # noqa: N802
        query = self.request.query
        if set(query) & {"live", "mode"}:
            if "live" in query and "mode" in query:
                raise bad_request("Only one of 'live' and 'mode' should be passed")
            if "live" in query:
                mode = ("live" if self.query_bool("live", True)
                        else "non-live")
            else:
                mode = self.query_value("mode")
            data = {"mode": mode}
        else:
            data = self.request.body
        return self.submit(op("OP_NODE_MIGRATE"), data, {"node_name": self.items[0]})


class NodePowercycle(Resource):
    RAPI_NAME = "nodes_name_powercycle"

    def POST(self):  # noqa: N802
        return self.submit(op("OP_NODE_POWERCYCLE"), self.request.body, {
            "node_name": self.items[0], "force": self.use_force()})


class NodeStorage(Resource):
    """GET submits OP_NODE_QUERY_STORAGE (its job id), so it needs ``write``."""
    GET_ACCESS = [rapi.ACCESS_WRITE]
    RAPI_NAME = "nodes_name_storage"

    def GET(self):  # noqa: N802
        fields = self.query_value("output_fields")
        if not fields:
            raise bad_request("Missing the required 'output_fields' parameter")
        return self.submit(op("OP_NODE_QUERY_STORAGE"), None, {
            "nodes": [self.items[0]], "storage_type": self.query_value("storage_type"),
            "output_fields": fields.split(",")})


class _NodeStorageChange(Resource):
    def _static(self):
        name = self.query_value("name")
        if not name:
            raise bad_request("Missing the required 'name' parameter")
        return {"node_name": self.items[0], "name": name,
                "storage_type": self.query_value("storage_type")}


class NodeStorageModify(_NodeStorageChange):
    RAPI_NAME = "nodes_name_storage_modify"

    def PUT(self):  # noqa: N802
        static = self._static()
        changes = {}
        if "allocatable" in self.request.query:
            changes["allocatable"] = self.query_bool("allocatable", True)
        static["changes"] = changes
        return self.submit(op("OP_NODE_MODIFY_STORAGE"), None, static)


class NodeStorageRepair(_NodeStorageChange):
    RAPI_NAME = "nodes_name_storage_repair"

    def PUT(self):  # noqa: N802
        return self.submit(op("OP_REPAIR_NODE_STORAGE"), None, self._static())


# --- jobs, queries, filters ---------------------------------------------------

class Jobs(Resource):
    def GET(self):  # noqa: N802
        if self.use_bulk():
            rows = self.client().query_jobs(None, J_FIELDS_BULK)
            return base.map_rows(J_FIELDS_BULK, [r for r in rows if r])
        ids = [row[0] for row in self.client().query_jobs(None, ["id"]) if row]
        return [{"id": i, "uri": "/2/jobs/%s" % i} for i in sorted(ids)]


def _job_id(text):
    if not text.isdigit():
        raise not_found()
    return int(text)


class Job(Resource):
    def GET(self):  # noqa: N802
        row = self.client().query_jobs([_job_id(self.items[0])], J_FIELDS)[0]
        if row is None:
            raise not_found()
        return dict(zip(J_FIELDS, row))

    def DELETE(self):  # noqa: N802
        return self.client().cancel_job(_job_id(self.items[0]))


class JobWait(Resource):
    """Long poll: null when nothing changed within WAIT_TIMEOUT seconds."""
    GET_ACCESS = [rapi.ACCESS_WRITE]

    def GET(self):  # noqa: N802
        job_id = _job_id(self.items[0])
        if self.request.body is None and "fields" in self.request.query:
            fields, prev_info, prev_serial = self._query_args()
        else:
            fields = self.body_param("fields")
            prev_info = self.body_param("previous_job_info", None)
            prev_serial = self.body_param("previous_log_serial", None)
        if not isinstance(fields, list):
            raise bad_request("The 'fields' parameter should be a list")
        if not (prev_info is None or isinstance(prev_info, list)):
            raise bad_request("The 'previous_job_info' parameter should be a list")
        if not (prev_serial is None or (isinstance(prev_serial, int)
                                        and not isinstance(prev_serial, bool))):
            raise bad_request("The 'previous_log_serial' parameter should be a number")
        result = self.client().wait_for_job_change_once(job_id, fields, prev_info,
                                                        prev_serial, timeout=WAIT_TIMEOUT)
        if not result:
            raise not_found()
        if result == "nochange":
            return None
        job_info, log_entries = result
        return {"job_info": job_info, "log_entries": log_entries}

    def _query_args(self):
        """The parameters from the query string: browsers send no body with a
        GET (``fields=a,b``, ``previous_job_info`` as JSON text,
        ``previous_log_serial``); an extension of ours, for the web UI."""
        fields = _split_fields(self.query_value("fields"))
        prev_info = self.query_value("previous_job_info")
        if prev_info is not None:
            try:
                prev_info = json.loads(prev_info)
            except ValueError:
                raise bad_request("The 'previous_job_info' parameter should be JSON")
        prev_serial = self.query_value("previous_log_serial")
        if prev_serial is not None:
            prev_serial = self.query_int("previous_log_serial")
        return fields, prev_info, prev_serial


def _split_fields(text):
    return [f.strip() for f in text.split(",")]


class Query(Resource):
    GET_ACCESS = [rapi.ACCESS_WRITE, rapi.ACCESS_READ]
    PUT_ACCESS = GET_ACCESS

    def _fields_arg(self):
        text = self.query_value("fields")
        if text is None:
            raise bad_request("Missing 'fields' query argument")
        return _split_fields(text)

    def GET(self):  # noqa: N802
        return self.client().query(self.items[0], self._fields_arg(), None)

    def PUT(self):  # noqa: N802
        body = self.body_dict()
        fields = body["fields"] if "fields" in body else self._fields_arg()
        if not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
            raise bad_request("The 'fields' parameter should be a list of strings")
        qfilter = body.get("qfilter")
        if qfilter is None:
            qfilter = body.get("filter")
        if qfilter is not None:
            base.check_type(qfilter, list, "Parameter 'qfilter'")
        return self.client().query(self.items[0], fields, qfilter)


class QueryFields(Resource):
    def GET(self):  # noqa: N802
        text = self.query_value("fields")
        return self.client().query_fields(self.items[0],
                                          _split_fields(text) if text is not None else None)


def _filter_params(body):
    body = base.check_type(body, dict, "Body contents")
    unknown = sorted(set(body) - {"priority", "predicates", "action", "reason"})
    if unknown:
        raise bad_request("Invalid body parameters: filter rule doesn't support the"
                          " parameter(s) %s" % ", ".join(unknown))
    priority = base.check_type(body.get("priority", 0), int, "Parameter 'priority'")
    predicates = base.check_type(body.get("predicates", []), list, "Parameter 'predicates'")
    action = body.get("action", "CONTINUE")
    if not isinstance(action, (str, list)):
        raise bad_request("Parameter 'action': Type is '%s', but 'str' or 'list' is"
                          " expected" % type(action).__name__)
    reason = base.check_type(body.get("reason", []), list, "Parameter 'reason'")
    return priority, predicates, action, reason


class Filters(Resource):
    def GET(self):  # noqa: N802
        client = self.client()
        if self.use_bulk():
            return base.map_rows(FILTER_FIELDS, client.query_filters(None, FILTER_FIELDS))
        uuids = [row[0] for row in client.query_filters(None, ["uuid"])]
        return base.uri_list(uuids, "/2/filters/%s", "uuid")

    def POST(self):  # noqa: N802
        return self.client().replace_filter(None, *_filter_params(self.request.body))


class Filter(Resource):
    def GET(self):  # noqa: N802
        rows = self.client().query_filters([self.items[0]], FILTER_FIELDS)
        if not rows or rows[0] is None:
            raise not_found()
        return dict(zip(FILTER_FIELDS, rows[0]))

    def PUT(self):  # noqa: N802
        return self.client().replace_filter(self.items[0],
                                            *_filter_params(self.request.body))

    def DELETE(self):  # noqa: N802
        return self.client().delete_filter(self.items[0])


# --- the web UI ------------------------------------------------------------------

_UI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui")
_UI_FILES = {"index.html": "text/html; charset=utf-8",
             "app.js": "text/javascript; charset=utf-8",
             "style.css": "text/css; charset=utf-8"}


class UiFile(Resource):
    """The web UI's files (/ui/ is its page); nothing else is served."""

    def GET(self):  # noqa: N802
        name = self.items[0] if self.items else "index.html"
        if name not in _UI_FILES:
            raise not_found()
        with open(os.path.join(_UI_DIR, name), "rb") as fd:
            return base.RawResponse(_UI_FILES[name], fd.read())


# --- metrics and locks (not in Ganeti) ------------------------------------------

class Metrics(Resource):
    """/metrics: the cluster's figures in Prometheus' text format (rapi/metrics.py)."""

    def GET(self):  # noqa: N802
        from ganeti.rapi import metrics
        return base.RawResponse(metrics.CONTENT_TYPE,
                                metrics.render(self.client()).encode("utf-8"))


class Locks(Resource):
    """/2/locks: which job holds or waits for which lock, since when and for
    how long (GanetiLockManager.lock_holders)."""
    GET_ACCESS = [rapi.ACCESS_WRITE, rapi.ACCESS_READ]

    def GET(self):  # noqa: N802
        return self.client().query_metrics(["locks"])["locks"]["holders"]


# --- the paths ------------------------------------------------------------------

_NAME = r"([^/]+)"
_TABLE = [
    (r"/", Root), (r"/2", Root), (r"/version", Version),
    (r"/ui", UiFile), (r"/ui/N", UiFile),
    (r"/2/info", Info), (r"/2/features", Features), (r"/2/os", OperatingSystems),
    (r"/2/redistribute-config", RedistConfig), (r"/2/modify", ClusterModify),
    (r"/2/tags", ClusterTags),
    (r"/2/nodes", Nodes), (r"/2/nodes/N", Node), (r"/2/nodes/N/role", NodeRole),
    (r"/2/nodes/N/modify", NodeModify), (r"/2/nodes/N/evacuate", NodeEvacuate),
    (r"/2/nodes/N/migrate", NodeMigrate), (r"/2/nodes/N/powercycle", NodePowercycle),
    (r"/2/nodes/N/storage", NodeStorage), (r"/2/nodes/N/storage/modify", NodeStorageModify),
    (r"/2/nodes/N/storage/repair", NodeStorageRepair), (r"/2/nodes/N/tags", NodeTags),
    (r"/2/instances", Instances), (r"/2/instances-multi-alloc", InstancesMultiAlloc),
    (r"/2/instances/N", Instance),
    (r"/2/instances/N/info", InstanceInfo), (r"/2/instances/N/reboot", InstanceReboot),
    (r"/2/instances/N/startup", InstanceStartup),
    (r"/2/instances/N/shutdown", InstanceShutdown),
    (r"/2/instances/N/reinstall", InstanceReinstall),
    (r"/2/instances/N/replace-disks", InstanceReplaceDisks),
    (r"/2/instances/N/activate-disks", InstanceActivateDisks),
    (r"/2/instances/N/deactivate-disks", InstanceDeactivateDisks),
    (r"/2/instances/N/recreate-disks", InstanceRecreateDisks),
    (r"/2/instances/N/disk/(\d+)/grow", InstanceGrowDisk),
    (r"/2/instances/N/export", InstanceExport),
    (r"/2/instances/N/migrate", InstanceMigrate),
    (r"/2/instances/N/failover", InstanceFailover),
    (r"/2/instances/N/rename", InstanceRename), (r"/2/instances/N/modify", InstanceModify),
    (r"/2/instances/N/console", InstanceConsole), (r"/2/instances/N/tags", InstanceTags),
    (r"/2/groups", Groups), (r"/2/groups/N", Group), (r"/2/groups/N/modify", GroupModify),
    (r"/2/groups/N/rename", GroupRename),
    (r"/2/groups/N/assign-nodes", GroupAssignNodes), (r"/2/groups/N/tags", GroupTags),
    (r"/2/networks", Networks), (r"/2/networks/N", Network),
    (r"/2/networks/N/modify", NetworkModify), (r"/2/networks/N/connect", NetworkConnect),
    (r"/2/networks/N/disconnect", NetworkDisconnect), (r"/2/networks/N/tags", NetworkTags),
    (r"/2/jobs", Jobs), (r"/2/jobs/N", Job), (r"/2/jobs/N/wait", JobWait),
    (r"/2/query/N", Query), (r"/2/query/N/fields", QueryFields),
    (r"/2/filters", Filters), (r"/2/filters/N", Filter),
    (r"/metrics", Metrics), (r"/2/locks", Locks),
]
_ROUTES = [(re.compile("^" + path.replace("/N", "/" + _NAME) + "$"), cls)
           for path, cls in _TABLE]


def lookup(path):
    """(resource class, [path items]) for ``path`` (already URL-decoded), or
    None when no resource answers it."""
    if len(path) > 1:
        path = path.rstrip("/")
    for regex, cls in _ROUTES:
        match = regex.match(path)
        if match:
            return cls, list(match.groups())
    return None

