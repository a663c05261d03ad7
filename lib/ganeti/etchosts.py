"""/etc/hosts upkeep (cluster setting modify_etc_hosts, on by default as in Ganeti).

With the setting on, `gnt-cluster init` writes the master's name, `gnt-node add`
and `gnt-node remove` add and remove the node's name in the master's
/etc/hosts, and the master's file is then copied to every node (also by
`gnt-cluster redist-conf`); `gnt-cluster verify` checks all nodes hold the same
file. Lines are "IP<TAB>name shortname"; other lines are kept as they are.
"""

import errno
import os
from typing import List

from ganeti import pathutils
from ganeti.utils import io


def hosts_file() -> str:
    """This node's /etc/hosts (below the node's root in a virtual cluster)."""
    return pathutils.root("/etc/hosts")


def _read_lines(path: str) -> List[str]:
    try:
        return io.read_file(path).splitlines(True)
    except FileNotFoundError:
        return []


def _write(path: str, lines: List[str]) -> None:
    data = "".join(lines)
    try:
        io.write_file(path, data, mode=0o644, mkdir=True)
    except OSError as err:
        if err.errno not in (errno.EBUSY, errno.EXDEV) or not os.path.exists(path):
            raise
        # a bind-mounted /etc/hosts (containers) cannot be replaced: rewrite in place
        with open(path, "r+") as fd:
            fd.write(data)
            fd.truncate()


def set_entry(path: str, ip: str, hostname: str) -> None:
    """Give ``ip`` the names ``hostname`` and its short name: the first line of
    that address is replaced (later ones dropped), or a line is appended."""
    names = [hostname] + [n for n in [hostname.split(".")[0]] if n != hostname]
    entry = "%s\t%s\n" % (ip, " ".join(names))
    out, written = [], False
    for line in _read_lines(path):
        fields = line.split()
        if fields and not fields[0].startswith("#") and fields[0] == ip:
            if not written:
                out.append(entry)
                written = True
            continue
        out.append(line)
    if not written:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(entry)
    _write(path, out)


def remove_names(path: str, hostname: str) -> None:
    """Drop ``hostname`` and its short name from every line; a line left with
    no name goes."""
    gone = {hostname, hostname.split(".")[0]}
    lines = _read_lines(path)
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) > 1 and not fields[0].startswith("#") and gone & set(fields[1:]):
            names = [n for n in fields[1:] if n not in gone]
            if names:
                out.append("%s %s\n" % (fields[0], " ".join(names)))
            continue
        out.append(line)
    if out != lines:
        _write(path, out)


def distribute(lu, nodes=None) -> None:
    """Copy the master's /etc/hosts to ``nodes`` (default: the other online
    nodes); a node that cannot be reached is a warning, as for other files."""
    path = hosts_file()
    if not os.path.exists(path):
        return
    master = lu.cfg.get_master_node()
    if nodes is None:
        nodes = [n for n in lu.cfg.get_online_node_list() if n != master]
    if not nodes:
        return
    for node, res in sorted(lu.rpc.call_upload_file(nodes, path).items()):
        if res.fail_msg:
            lu.log_warning("Could not copy %s to node %s: %s", path, node, res.fail_msg)


def node_added(lu, name: str, ip: str) -> None:
    """After `gnt-node add`: the new name in the master's file, copied everywhere."""
    _update(lu, lambda path: set_entry(path, ip, name))


def node_removed(lu, name: str) -> None:
    """After `gnt-node remove`: the name out of the master's file, copied everywhere."""
    _update(lu, lambda path: remove_names(path, name))


def _update(lu, change) -> None:
    """Apply ``change`` to the master's file and copy it out, when the cluster
    keeps /etc/hosts; the node change itself is done, so a failure here is a
    warning that says what to fix, not an error."""
    if not lu.cfg.get_cluster_info().modify_etc_hosts:
        return
    try:
        change(hosts_file())
    except OSError as err:
        lu.log_warning("Could not update %s: %s; fix it by hand, then run"
                       " 'gnt-cluster redist-conf'", hosts_file(), err)
        return
    distribute(lu)
