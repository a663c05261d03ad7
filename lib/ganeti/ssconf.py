"""Reading the ssconf_* files ("simple store") that every node keeps.

The master writes them (via RPC write_ssconf_files); any node, and the CLI on
any node, reads them to learn the cluster name, the master and the node list
without talking to the master daemon.
"""

from ganeti import constants, errors, pathutils
from ganeti.utils import io


class SimpleStore:
    def __init__(self, prefix=None):
        self._prefix = prefix or pathutils.SSCONF_PREFIX

    def read(self, key, default=None):
        try:
            return io.read_file(self._prefix + key).strip()
        except FileNotFoundError:
            if default is not None:
                return default
            raise errors.ConfigurationError(
                "Cannot read ssconf file %s%s: this node is not part of a cluster"
                % (self._prefix, key))

    def read_list(self, key):
        return [line for line in self.read(key, "").splitlines() if line.strip()]

    def get_master_node(self):
        return self.read(constants.SS_MASTER_NODE)

    def get_cluster_name(self):
        return self.read(constants.SS_CLUSTER_NAME)

    def get_master_ip(self):
        return self.read(constants.SS_MASTER_IP)

    def get_master_netdev(self):
        return self.read(constants.SS_MASTER_NETDEV)

    def get_node_list(self):
        return self.read_list(constants.SS_NODE_LIST)

    def get_online_nodes(self):
        return self.read_list(constants.SS_ONLINE_NODES)

    def get_master_candidates(self):
        return self.read_list(constants.SS_MASTER_CANDIDATES)

    def get_node_primary_ips(self):
        return dict(line.split(None, 1) for line in
                    self.read_list(constants.SS_NODE_PRIMARY_IPS))


def not_master_error():
    """None on the master node; elsewhere the error that says, in Ganeti's
    words, that this machine is in no cluster or which node is the master."""
    from ganeti.utils import net
    try:
        master = SimpleStore().get_master_node()
    except errors.ConfigurationError:
        return errors.OpPrereqError("Cluster not initialized or this machine is not"
                                    " part of a cluster", errors.ECODE_INVAL)
    if master != net.get_hostname():
        return errors.OpPrereqError("This is not the master node, please connect to"
                                    " node '%s' and rerun the command" % master,
                                    errors.ECODE_INVAL)
    return None
