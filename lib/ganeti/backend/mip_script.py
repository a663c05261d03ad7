"""The external master IP setup script (cluster setting use_external_mip_script).

With the setting on, the node daemon does not add or remove the master IP
itself: it runs ``/etc/ganeti/scripts/master-ip-setup start|stop`` with
Ganeti's environment (MASTER_NETDEV, MASTER_IP, MASTER_NETMASK,
CLUSTER_IP_VERSION), as Ganeti does, so sites can move the address their own
way (a cloud API, a router).
"""

import os

from ganeti import constants, pathutils
from ganeti.backend.common import fail
from ganeti.utils import process

SCRIPT_TIMEOUT = 60
START = "start"
STOP = "stop"


def script_path() -> str:
    return pathutils.EXTERNAL_MASTER_SETUP_SCRIPT


def usable(path: str = None) -> bool:
    """Whether the external script exists and is executable."""
    path = path or script_path()
    return os.path.isfile(path) and os.access(path, os.X_OK)


def run(action: str, ip: str, netmask: int, netdev: str, family: int) -> None:
    """Run the script for ``action`` (START or STOP); RpcFail when it fails."""
    path = script_path()
    if not usable(path):
        fail("The external master IP setup script %s does not exist or is not"
             " executable", path)
    env = {"MASTER_NETDEV": netdev, "MASTER_IP": ip, "MASTER_NETMASK": str(netmask),
           "CLUSTER_IP_VERSION": "6" if family == constants.IP6_FAMILY else "4"}
    result = process.run_cmd([path, action], env=env, reset_env=True,
                             timeout=SCRIPT_TIMEOUT)
    if result.failed:
        fail("Failed to %s the master IP. Script return value: %s, output: '%s'",
             action, result.exit_code, result.output)


def enabled_here(data_dir: str = None) -> bool:
    """The setting as this node's copy of config.data has it (master candidates
    have one); False without a readable copy. Used where the master does not
    send it: stopping the master role on failover."""
    from ganeti import serializer
    path = (os.path.join(data_dir, "config.data") if data_dir
            else pathutils.CLUSTER_CONF_FILE)
    try:
        with open(path) as fd:
            data = serializer.load_json(fd.read())
        return bool(data["cluster"].get("use_external_mip_script"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
