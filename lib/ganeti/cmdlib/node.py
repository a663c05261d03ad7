"""Logical units and queries for nodes."""

from ganeti import constants, query


def default_storage_units(cluster):
    """[(storage type, name)] of the cluster's default storage (for DTotal/DFree)."""
    for tmpl in cluster.enabled_disk_templates:
        stype = constants.MAP_DISK_TEMPLATE_STORAGE_TYPE.get(tmpl)
        if stype == constants.ST_LVM_VG and cluster.volume_group_name:
            return [[stype, cluster.volume_group_name]]
        if stype in (constants.ST_FILE, constants.ST_SHARED_FILE):
            path = (cluster.file_storage_dir if stype == constants.ST_FILE
                    else cluster.shared_file_storage_dir)
            return [[stype, path]]
    return []


def hv_specs(cluster):
    hv_name = cluster.enabled_hypervisors[0]
    return [[hv_name, cluster.hvparams.get(hv_name, {})]]


def query_nodes(context, fields, qfilter):
    """Answer a node query from the config plus, if needed, the nodes' live data."""
    cfg = context.cfg
    cluster = cfg.get_cluster_info()
    nodes = cfg.get_all_nodes_info()
    pri, sec = {}, {}
    for inst in cfg.get_all_instances_info().values():
        pri.setdefault(inst.primary_node, []).append(inst.name)
        for snode in inst.secondary_nodes:
            sec.setdefault(snode, []).append(inst.name)
    live = None
    if query.needs_live_data(query.QR_NODE, fields, qfilter):
        names = [n for n, node in sorted(nodes.items())
                 if not node.offline and node.vm_capable]
        live = {}
        if names:
            results = context.rpc.call_node_info(names, default_storage_units(cluster),
                                                 hv_specs(cluster))
            for name, res in results.items():
                if not res.fail_msg and not res.offline:
                    live[name] = res.data
    ctx = query.NodeQueryData(cluster, nodes, cfg.get_all_node_groups_info(), pri, sec, live)
    items = [nodes[n] for n in sorted(nodes)]
    return query.run_query(query.QR_NODE, fields, items, ctx, qfilter)
