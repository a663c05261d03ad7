"""Running commands on other nodes over ssh (node add; gnt-cluster command).

Host keys are checked against the cluster's known_hosts file
(pathutils.SSH_KNOWN_HOSTS_FILE, with the node name as host key alias): a
node's key is learnt the first time it is added and must match afterwards.
In a virtual cluster, the remote command gets that node's GANETI_ROOTDIR and
GANETI_HOSTNAME, and the identity is the node root's /root/.ssh key.
"""

import os
import shlex

from ganeti import pathutils, sshkeys
from ganeti.utils import process

SSH_TIMEOUT = 10
_PASS_ENV = ("GANETI_DAEMONS_DIR", "PYTHONPATH")   # development trees


def identity_file():
    """The private key to log in to other nodes with, or None (ssh's default).

    The node's own cluster key (sshkeys) comes first: it is the one the other
    nodes authorize; else root's usual keys (the master's, set up by the admin).
    """
    own = sshkeys.own_cluster_keys()
    if own:
        return own[0][0]
    for name in ("id_ed25519", "id_rsa", "id_ecdsa"):
        path = pathutils.root("/root/.ssh/" + name)
        if os.path.exists(path):
            return path
    return None


def remote_env(node):
    env = {}
    if pathutils.is_virtual_cluster():
        env["GANETI_ROOTDIR"] = pathutils.node_root(node)
        env["GANETI_HOSTNAME"] = node
    for key in _PASS_ENV:
        if os.environ.get(key):
            env[key] = os.environ[key]
    return env


def build_argv(node, command, address=None, port=22, check_host_key=True, learn_key=False,
               tty=False):
    """The ssh argv running ``command`` (argv list) as root on ``node``."""
    if not check_host_key:
        strict = "no"
    elif learn_key:
        strict = "accept-new"
    else:
        strict = "yes"
    argv = ["ssh", "-oEscapeChar=none", "-oBatchMode=yes", "-oConnectTimeout=%d" % SSH_TIMEOUT,
            "-oUserKnownHostsFile=%s" % pathutils.SSH_KNOWN_HOSTS_FILE,
            "-oGlobalKnownHostsFile=/dev/null", "-oHashKnownHosts=no",
            "-oHostKeyAlias=%s" % node,
            "-oStrictHostKeyChecking=%s" % strict, "-p", str(port)]
    if tty:
        argv.append("-t")
    key = identity_file()
    if key:
        argv += ["-i", key, "-oIdentitiesOnly=yes"]
    env = remote_env(node)
    remote = command
    if env:
        remote = ["env"] + ["%s=%s" % kv for kv in sorted(env.items())] + list(command)
    argv += ["root@%s" % (address or node), " ".join(shlex.quote(c) for c in remote)]
    return argv


def run(node, command, address=None, input_data=None, timeout=300, **kwargs):
    """Run ``command`` on ``node``; returns the RunResult."""
    return process.run_cmd(build_argv(node, command, address=address, **kwargs),
                           input_data=input_data, timeout=timeout)
