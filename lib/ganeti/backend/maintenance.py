"""Node-side answer for the watcher's node maintenance (maintain_node_health).

An offline node receives no ssconf updates, so it cannot learn from its own
files that it went offline; its watcher asks the master candidates, which
hold config.data (Ganeti asks confd the same question).
"""

from ganeti import pathutils, serializer
from ganeti.utils import io


def node_role(name, *, conf_file=None):
    """[role of node ``name``, the cluster's maintain_node_health, the config's
    serial number] from this node's copy of config.data; role is one of master,
    candidate, drained, offline, regular, or None when the node or the copy is
    unknown here. The serial lets the asker prefer the newest copy (a node
    that went offline keeps an old one)."""
    try:
        data = serializer.load_json(io.read_file(conf_file or pathutils.CLUSTER_CONF_FILE))
        cluster = data["cluster"]
        nodes = data["nodes"]
        serial = int(data.get("serial_no", 0))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [None, False, 0]
    maintain = bool(cluster.get("maintain_node_health"))
    node = nodes.get(name) if isinstance(nodes, dict) else None
    if not isinstance(node, dict):
        return [None, maintain, serial]
    if cluster.get("master_node") == name:
        role = "master"
    elif node.get("offline"):
        role = "offline"
    elif node.get("drained"):
        role = "drained"
    elif node.get("master_candidate"):
        role = "candidate"
    else:
        role = "regular"
    return [role, maintain, serial]


PROCEDURES = {"node_role": node_role}
