"""The master's side of drbd disks: building them, and what each node is told.

A drbd disk's logical_id is [node_a, node_b, port, minor_a, minor_b, secret]
(node_a is the primary when the disk is made); its children are the data LV
(the disk's size) and the metadata LV (128 MiB) that each of the two nodes
has under the same names. Before a disk goes to a node, ``disk_for_node`` adds
that node's view (its own and its peer's secondary IP and minor) and the
cluster's DRBD usermode helper as the disk's dynamic parameters: the node never
guesses which end it is.
"""

import secrets

from ganeti import constants, errors, objects

SECRET_BYTES = 20


def _sips(cfg, nodes):
    result = {}
    for name in nodes:
        node = cfg.get_node_info(name)
        if node is None:
            raise errors.ConfigurationError("Unknown node %s in a drbd disk" % name)
        result[name] = node.secondary_ip or node.primary_ip
    return result


def disk_for_node(cfg, disk, node):
    """``disk`` as a dict for an RPC to ``node`` (drbd disks annotated, recursively)."""
    data = disk.to_dict()
    _annotate(cfg, data, node)
    return data


def _annotate(cfg, data, node):
    if data.get("dev_type") == constants.DT_DRBD8 and data.get("logical_id"):
        node_a, node_b, _, minor_a, minor_b = data["logical_id"][:5]
        ips = _sips(cfg, [node_a, node_b])
        if node == node_a:
            local, remote = (node_a, minor_a), (node_b, minor_b)
        elif node == node_b:
            local, remote = (node_b, minor_b), (node_a, minor_a)
        else:
            raise errors.ConfigurationError("Disk %s is not on node %s (only on %s and %s)"
                                            % (data.get("iv_name"), node, node_a, node_b))
        data["dynamic_params"] = {
            "local_ip": ips[local[0]], "local_minor": local[1],
            "remote_ip": ips[remote[0]], "remote_minor": remote[1],
            # the node sets the module's helper to this before using the disk
            "usermode_helper": cfg.get_cluster_info().drbd_usermode_helper}
    for child in data.get("children") or []:
        _annotate(cfg, child, node)


def generate(cluster, pnode, snode, idx, spec, minors, group=None):
    """A new drbd disk (its port is assigned later, by assign_ports); its
    parameters are those of the primary node's ``group`` over the cluster's."""
    vg = spec.get("vg") or cluster.volume_group_name
    metavg = spec.get("metavg") or vg       # Ganeti: the data's VG by default
    disk = objects.Disk(dev_type=constants.DT_DRBD8, size=spec["size"],
                        mode=spec.get("mode", "rw"), iv_name="disk/%d" % idx,
                        name=spec.get("name"), nodes=[pnode, snode],
                        params=objects.fill_dict(
                            constants.DISK_DT_DEFAULTS[constants.DT_DRBD8],
                            cluster.fill_dp(group).get(constants.DT_DRBD8) or {}))
    data = objects.Disk(dev_type=constants.DT_PLAIN, size=spec["size"],
                        logical_id=[vg, "%s.disk%d_data" % (disk.uuid, idx)],
                        nodes=[pnode, snode], params={})
    meta = objects.Disk(dev_type=constants.DT_PLAIN, size=constants.DRBD_META_SIZE,
                        logical_id=[metavg, "%s.disk%d_meta" % (disk.uuid, idx)],
                        nodes=[pnode, snode], params={})
    disk.children = [data, meta]
    disk.logical_id = [pnode, snode, None, minors[0], minors[1],
                       secrets.token_hex(SECRET_BYTES)]
    return disk


def ports_of(disks):
    """The ports of the drbd disks among ``disks``."""
    return [d.logical_id[2] for d in disks
            if d.dev_type == constants.DT_DRBD8 and d.logical_id
            and d.logical_id[2] is not None]


def assign_ports(cfg, disks):
    """Give each drbd disk a port of the cluster's pool (stored as used at once)."""
    for disk in disks:
        if disk.dev_type == constants.DT_DRBD8 and disk.logical_id[2] is None:
            disk.logical_id[2] = cfg.allocate_port()


def node_minors(cfg, node):
    """The DRBD minors the configuration gives ``node``, as Ganeti's confd lists
    them: [node, minor, instance, "disk/N", "primary"|"secondary", peer node]."""
    rows = []
    for inst in cfg.get_all_instances_info().values():
        role = "primary" if inst.primary_node == node else "secondary"
        for idx, disk in enumerate(inst.disks):
            if disk.dev_type != constants.DT_DRBD8 or not disk.logical_id:
                continue
            node_a, node_b, _, minor_a, minor_b = disk.logical_id[:5]
            if node == node_a:
                rows.append([node, minor_a, inst.name, "disk/%d" % idx, role, node_b])
            elif node == node_b:
                rows.append([node, minor_b, inst.name, "disk/%d" % idx, role, node_a])
    return sorted(rows)
