"""Node-side RPC procedures, run by ganeti-noded; one module per concern.

Each public function in PROCEDURES is one procedure: its name is the
procedure name and its positional arguments are the JSON list sent by the
master. Keyword-only arguments exist for tests (directories) and cannot be
reached over RPC. Errors are raised as RpcFail (or another GenericError) and
reach the master as ``[false, message]``.
"""

import importlib

from ganeti.backend import node
from ganeti.backend.common import RpcFail  # noqa: F401

# the modules serving procedures; each has a PROCEDURES dict
_MODULES = ["node", "storage", "osdefs", "instance", "migration", "watcher_pause",
            "maintenance", "etcd", "storage_units", "impexp", "oob", "extstorage",
            "crypto", "restricted_commands"]

PROCEDURES = {}
for _name in _MODULES:
    _module = importlib.import_module("ganeti.backend." + _name)
    PROCEDURES.update(_module.PROCEDURES)

# the node procedures by their names, as callers and tests use them
HOOKS_PATH = node.HOOKS_PATH
version = node.version
test_delay = node.test_delay
master_node_name = node.master_node_name
node_info = node.node_info
write_ssconf_files = node.write_ssconf_files
upload_file = node.upload_file
hooks_runner = node.hooks_runner
node_verify = node.node_verify
node_activate_master_ip = node.node_activate_master_ip
node_deactivate_master_ip = node.node_deactivate_master_ip
node_leave_cluster = node.node_leave_cluster
