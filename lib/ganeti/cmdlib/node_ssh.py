"""The nodes' ssh keys in node add and node remove (see sshkeys for the scheme).

The master keeps the list of the nodes' public keys (ganeti_pub_keys, written
by ``gnt-node add`` when a node joins over ssh) and pushes it, with the
changes to root's authorized_keys, to the nodes by RPC. A failure on one node
is a warning: the change is in the list, so the next one reaches it again.
"""

from typing import Callable, Dict, List

from ganeti import sshkeys


def _authorized_keys(cfg, keys: Dict[str, List[str]]) -> List[str]:
    """The current keys of the online master-capable nodes (they may become master)."""
    result = []
    for name, node in sorted(cfg.get_all_nodes_info().items()):
        if name in keys and node.master_capable and not node.offline:
            result.append(keys[name][-1])
    return result


def _warn_failures(results, what: str, warn: Callable) -> None:
    for name, res in sorted(results.items()):
        if res.fail_msg and not res.offline:
            warn("Could not %s on node %s: %s" % (what, name, res.fail_msg))


def _sync(lu, node_name: str, keys: Dict[str, List[str]], stale: List[str]) -> None:
    """Push the key list; authorize the node's key on the others (or not), and
    give the node, if online, the keys of the nodes that may become master."""
    text = sshkeys.format_pub_keys(keys)
    node = lu.cfg.get_node_info(node_name)
    own = keys.get(node_name, [])
    authorized = node.master_capable and not node.offline
    others = [n for n in lu.cfg.get_online_node_list() if n != node_name]
    if others:
        results = lu.rpc.call_node_ssh_keys_update(
            others, own if authorized else [], stale + ([] if authorized else own), [],
            text)
        _warn_failures(results, "update the ssh keys", lu.log_warning)
    if not node.offline:
        results = lu.rpc.call_node_ssh_keys_update(
            [node_name], _authorized_keys(lu.cfg, keys), stale, [], text)
        _warn_failures(results, "install the cluster's ssh keys", lu.log_warning)


def add_node_key(lu, node_name: str) -> None:
    """After OP_NODE_ADD: authorize the new node's newest key, forget its older ones.

    The new node gets the keys of the master-capable nodes; its own key goes to
    every node when it is master-capable.
    """
    keys = sshkeys.read_pub_keys()
    if node_name not in keys:
        return          # joined without ssh (--no-node-setup): nothing to distribute
    stale = keys[node_name][:-1]
    keys[node_name] = keys[node_name][-1:]
    _sync(lu, node_name, keys, stale)


def node_changed(lu, node_name: str) -> None:
    """After a node went offline or online, or its master_capable flag changed.

    An offline node's key is authorized nowhere (it may have been taken off
    for being compromised); back online, it gets the current keys again.
    """
    _sync(lu, node_name, sshkeys.read_pub_keys(), [])


def remove_node_keys(lu, node_name: str) -> None:
    """Node removal: the others drop the node's keys and host key, and its list entry.

    Runs whether or not the removed node itself can still be reached.
    """
    keys = sshkeys.read_pub_keys()
    gone = keys.pop(node_name, [])
    nodes = [n for n in lu.cfg.get_online_node_list() if n != node_name]
    if not nodes:
        return
    results = lu.rpc.call_node_ssh_keys_update(nodes, [], gone, [node_name],
                                               sshkeys.format_pub_keys(keys))
    _warn_failures(results, "remove the ssh keys of %s" % node_name, lu.log_warning)
