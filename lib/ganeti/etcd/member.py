"""This node's etcd member: how to start it, from the member file.

A node runs etcd exactly when it has a member file (etcd-member.json), written
by ``gnt-cluster init`` for the first member and by the ``etcd_join`` node
procedure when the master adds the node to etcd. The file holds what etcd
needs on its first start (the member's name and address, the other members,
whether the etcd cluster is new); once etcd's data dir exists, etcd itself
remembers the membership and ignores the initial-cluster flags.
"""

import ipaddress
import json
import os
import shutil

from ganeti import constants, errors, pathutils
from ganeti.utils import io

ETCD_BINARY = "/usr/bin/etcd"
STATE_NEW = "new"           # the first member of a new etcd cluster
STATE_EXISTING = "existing"  # joins members that run already
_STATES = (STATE_NEW, STATE_EXISTING)


def _host(ip: str) -> str:
    return "[%s]" % ip if ipaddress.ip_address(ip).version == 6 else ip


def peer_url(ip: str) -> str:
    return "https://%s:%d" % (_host(ip), constants.ETCD_PEER_PORT)


def client_url(ip: str) -> str:
    return "https://%s:%d" % (_host(ip), constants.ETCD_CLIENT_PORT)


def check_spec(spec) -> dict:
    """The member spec, checked: name, ip, state, initial_cluster {name: peer URL}."""
    if not isinstance(spec, dict):
        raise errors.GenericError("etcd member spec must be a dict, not %r" % (spec,))
    name, ip = spec.get("name"), spec.get("ip")
    if not isinstance(name, str) or not name:
        raise errors.GenericError("etcd member spec: bad name %r" % (name,))
    try:
        ipaddress.ip_address(ip)
    except (TypeError, ValueError):
        raise errors.GenericError("etcd member spec: bad IP address %r" % (ip,))
    if spec.get("state") not in _STATES:
        raise errors.GenericError("etcd member spec: state must be one of %s, not %r"
                                  % (", ".join(_STATES), spec.get("state")))
    initial = spec.get("initial_cluster")
    if (not isinstance(initial, dict) or initial.get(name) != peer_url(ip) or
            not all(isinstance(k, str) and isinstance(v, str) for k, v in initial.items())):
        raise errors.GenericError("etcd member spec: initial_cluster must map member names"
                                  " to peer URLs and include %s=%s" % (name, peer_url(ip)))
    return {"name": name, "ip": ip, "state": spec["state"],
            "initial_cluster": dict(initial)}


def new_cluster_spec(name: str, ip: str) -> dict:
    """The spec of the first member of a new etcd cluster."""
    return check_spec({"name": name, "ip": ip, "state": STATE_NEW,
                       "initial_cluster": {name: peer_url(ip)}})


def write_spec(spec: dict, path: str = None) -> None:
    io.write_file(path or pathutils.ETCD_MEMBER_FILE,
                  json.dumps(check_spec(spec), sort_keys=True) + "\n", mode=0o600,
                  mkdir=True)


def read_spec(path: str = None):
    """This node's member spec, or None if the node runs no etcd member."""
    path = path or pathutils.ETCD_MEMBER_FILE
    try:
        text = io.read_file(path)
    except FileNotFoundError:
        return None
    try:
        return check_spec(json.loads(text))
    except ValueError as err:
        raise errors.GenericError("Cannot parse %s: %s" % (path, err))


def is_member(path: str = None) -> bool:
    return os.path.exists(path or pathutils.ETCD_MEMBER_FILE)


def etcd_argv(spec: dict, data_dir: str = None, cert: str = None, ca: str = None) -> list:
    """The etcd command line of this member: TLS both ways, on its own IP only."""
    data_dir = data_dir or pathutils.ETCD_DIR
    cert = cert or pathutils.ETCD_CERT_FILE
    ca = ca or pathutils.ETCD_CA_FILE
    initial = ",".join("%s=%s" % item for item in sorted(spec["initial_cluster"].items()))
    return [
        ETCD_BINARY, "--name", spec["name"], "--data-dir", data_dir,
        "--listen-client-urls", client_url(spec["ip"]),
        "--advertise-client-urls", client_url(spec["ip"]),
        "--listen-peer-urls", peer_url(spec["ip"]),
        "--initial-advertise-peer-urls", peer_url(spec["ip"]),
        "--initial-cluster", initial, "--initial-cluster-state", spec["state"],
        "--cert-file", cert, "--key-file", cert, "--trusted-ca-file", ca,
        "--client-cert-auth",
        "--peer-cert-file", cert, "--peer-key-file", cert, "--peer-trusted-ca-file", ca,
        "--peer-client-cert-auth",
        # a peer's source address need not be the one in its certificate (a
        # multi-homed node, or the loopback test cluster where every node
        # connects from 127.0.0.1); trust comes from the cluster's signature,
        # which only holders of server.pem can make, and that check stays
        "--experimental-peer-skip-client-san-verification",
        # a member back from a partition must not depose the leader with the
        # higher term it reached alone (without pre-vote it kept the cluster
        # in elections and never caught up)
        "--pre-vote",
        # keep an hour of history, so a watcher that was cut off can resume
        "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
        "--logger", "zap", "--log-outputs", "stderr",
    ]


# etcd's timing flags a node may set in /etc/default/ganeti (ETCD_SERVER_ARGS),
# in milliseconds; etcd's defaults (100 and 1000) suit a LAN of real machines
TUNING_FLAGS = ("--heartbeat-interval", "--election-timeout")
TUNING_KEY = "ETCD_SERVER_ARGS"


def tuning_args(value: str = None) -> list:
    """The etcd flags of ETCD_SERVER_ARGS (environment, else /etc/default/ganeti),
    as ``--flag=N``; GenericError for anything else, so a typo is not ignored."""
    if value is None:
        value = pathutils.default_setting(TUNING_KEY)
    words = value.split()
    result = {}
    while words:
        word = words.pop(0)
        flag, _, number = word.partition("=")
        if flag not in TUNING_FLAGS:
            raise errors.GenericError("%s: %r is not one of the etcd flags that may be set"
                                      " there (%s)" % (TUNING_KEY, word,
                                                       ", ".join(TUNING_FLAGS)))
        if not number and words:
            number = words.pop(0)
        if not number.isdigit() or int(number) < 1:
            raise errors.GenericError("%s: %s needs a number of milliseconds, not %r"
                                      % (TUNING_KEY, flag, number))
        result[flag] = int(number)
    heartbeat = result.get(TUNING_FLAGS[0], 100)
    election = result.get(TUNING_FLAGS[1], 1000)
    if election < 5 * heartbeat:
        raise errors.GenericError("%s: the election timeout (%d ms) must be at least five"
                                  " heartbeat intervals (%d ms)"
                                  % (TUNING_KEY, election, 5 * heartbeat))
    return ["%s=%d" % item for item in sorted(result.items())]


def forget(data_dir: str = None, path: str = None) -> None:
    """Remove the member file and etcd's data (the node left etcd)."""
    io.remove_file(path or pathutils.ETCD_MEMBER_FILE)
    data_dir = data_dir or pathutils.ETCD_DIR
    shutil.rmtree(data_dir, ignore_errors=True)
    # what a --no-voting recovery kept aside (etcd.recover)
    shutil.rmtree(data_dir + ".before-no-voting", ignore_errors=True)
