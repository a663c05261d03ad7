"""root's ssh keys as the cluster manages them (join, removal, leaving).

Each node joined over ssh gets its own key pair, made on the node by
``ganeti-prepare-node-join``; the private key never leaves the node. Such a
key is marked by its comment (``KEY_COMMENT_PREFIX`` + node name), so that
leaving the cluster removes only keys the cluster made, never the admin's.
The public keys of the nodes are listed, one ``<node name> <key>`` line each,
in ``ganeti_pub_keys`` (DATA_DIR, mode 0600) on every node; the keys of
master-capable nodes are in every node's ``authorized_keys`` (Ganeti's
"potential master candidates"), so that a new master can reach the nodes.
"""

import base64
import os
import re
import time
from typing import Dict, Iterable, List, Optional, Tuple

from ganeti import errors, pathutils
from ganeti.utils import io, process

KEY_COMMENT_PREFIX = "ganeti-node-key:"
# key type (the cluster's ssh_key_type) -> root's key file name
KEY_FILES = {"ed25519": "id_ed25519", "rsa": "id_rsa", "ecdsa": "id_ecdsa"}
_PUBLIC_KEY_TYPES = frozenset([
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521"])
_NODE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
KEYGEN_TIMEOUT = 60


def ssh_dir() -> str:
    return pathutils.root("/root/.ssh")


def authorized_keys_file() -> str:
    return os.path.join(ssh_dir(), "authorized_keys")


def pub_keys_file(data_dir: Optional[str] = None) -> str:
    return os.path.join(data_dir or pathutils.DATA_DIR, "ganeti_pub_keys")


# ---- public key lines ----------------------------------------------------------------

def parse_public_key(line: str) -> Tuple[str, str, str]:
    """(type, base64 blob, comment) of one public key line; ValueError if it is none.

    Lines with options (``command=...``) or several lines are refused: what is
    handed around must only ever be a plain key.
    """
    if not isinstance(line, str) or "\n" in line.strip() or "\r" in line:
        raise ValueError("not a single line")
    parts = line.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in _PUBLIC_KEY_TYPES:
        raise ValueError("not an ssh public key: %r" % line[:60])
    try:
        base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise ValueError("invalid key data in %r" % line[:60]) from None
    return parts[0], parts[1], parts[2] if len(parts) > 2 else ""


def _key_id(line: str) -> Optional[Tuple[str, str]]:
    """(type, blob) of a key line (with or without options), or None."""
    words = line.split()
    for i, word in enumerate(words[:-1]):
        if word in _PUBLIC_KEY_TYPES:
            return word, words[i + 1]
    return None


def node_key_comment(node: str) -> str:
    return KEY_COMMENT_PREFIX + node


def is_cluster_key(line: str) -> bool:
    """Whether a public key line is one the cluster generated for a node."""
    try:
        return parse_public_key(line)[2].startswith(KEY_COMMENT_PREFIX)
    except ValueError:
        return False


# ---- ganeti_pub_keys -----------------------------------------------------------------

def parse_pub_keys(text: str) -> Dict[str, List[str]]:
    """{node: [key lines, oldest first]} from the text of ganeti_pub_keys."""
    result: Dict[str, List[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        node, _, key = line.strip().partition(" ")
        if not _NODE_NAME_RE.match(node):
            raise ValueError("invalid node name %r in the public key list" % node)
        parse_public_key(key)
        result.setdefault(node, []).append(key.strip())
    return result


def format_pub_keys(keys: Dict[str, List[str]]) -> str:
    return "".join("%s %s\n" % (node, key) for node in sorted(keys) for key in keys[node])


def read_pub_keys(path: Optional[str] = None) -> Dict[str, List[str]]:
    path = path or pub_keys_file()
    try:
        return parse_pub_keys(io.read_file(path))
    except FileNotFoundError:
        return {}


def write_pub_keys(text: str, path: Optional[str] = None) -> None:
    parse_pub_keys(text)
    io.write_file(path or pub_keys_file(), text, mode=0o600, mkdir=True)


def record_node_key(node: str, key: str, path: Optional[str] = None) -> None:
    """Append ``key`` as the newest key of ``node`` (older ones stay until replaced)."""
    parse_public_key(key)
    keys = read_pub_keys(path)
    if key.strip() not in keys.get(node, []):
        keys.setdefault(node, []).append(key.strip())
    write_pub_keys(format_pub_keys(keys), path)


# ---- authorized_keys and known_hosts ---------------------------------------------------

def update_authorized_keys(path: str, add: Iterable[str] = (),
                           remove: Iterable[str] = ()) -> bool:
    """Add and remove keys (matched on type and data); other lines stay as they are.

    Returns whether the file changed.
    """
    add = [k.strip() for k in add]
    drop = set(_key_id(k) for k in remove)
    drop.discard(None)
    try:
        old = io.read_file(path)
    except FileNotFoundError:
        old = ""
    lines = [line for line in old.splitlines() if _key_id(line) not in drop]
    present = set(_key_id(line) for line in lines)
    for key in add:
        if _key_id(key) not in present and _key_id(key) not in drop:
            lines.append(key)
            present.add(_key_id(key))
    new = "".join(line + "\n" for line in lines)
    if new == old or (not old and not new):
        return False
    io.write_file(path, new, mode=0o600, mkdir=True)
    return True


def remove_known_hosts(path: str, names: Iterable[str]) -> bool:
    """Drop the host key lines naming any of ``names``; returns whether it changed."""
    names = set(names)
    try:
        old = io.read_file(path)
    except FileNotFoundError:
        return False
    kept = [line for line in old.splitlines()
            if not (line.strip() and not line.startswith("#")
                    and set(line.split()[0].split(",")) & names)]
    new = "".join(line + "\n" for line in kept)
    if new == old:
        return False
    io.write_file(path, new, mode=0o644)
    return True


# ---- this node's key pair --------------------------------------------------------------

def own_cluster_keys(directory: Optional[str] = None) -> List[Tuple[str, str]]:
    """[(private key path, public key line)] of root's keys that the cluster made."""
    directory = directory or ssh_dir()
    found = []
    for name in KEY_FILES.values():
        path = os.path.join(directory, name)
        try:
            public = io.read_file(path + ".pub").strip()
        except OSError:
            continue
        if is_cluster_key(public):
            found.append((path, public))
    return found


def generate_node_key(node: str, key_type: str, bits: Optional[int] = None,
                      directory: Optional[str] = None) -> str:
    """Make a new key pair of ``key_type`` for root; returns its public key.

    A key already at that file that the cluster did not make is kept as
    ``<file>.bak-<time>`` (with its .pub), as Ganeti does.
    """
    if key_type not in KEY_FILES:
        raise errors.GenericError("Unsupported ssh key type %r (supported: %s)"
                                  % (key_type, ", ".join(sorted(KEY_FILES))))
    argv = ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", node_key_comment(node)]
    if bits and key_type != "ed25519":
        try:
            argv += ["-b", str(int(bits))]
        except (TypeError, ValueError):
            raise errors.GenericError("Invalid ssh key size %r" % (bits,)) from None
    directory = directory or ssh_dir()
    io.ensure_dirs([(directory, 0o700)])
    path = os.path.join(directory, KEY_FILES[key_type])
    if os.path.exists(path) and path not in dict(own_cluster_keys(directory)):
        backup = "%s.bak-%d" % (path, int(time.time()))
        os.rename(path, backup)
        if os.path.exists(path + ".pub"):
            os.rename(path + ".pub", backup + ".pub")
    for old in (path, path + ".pub"):
        io.remove_file(old)
    result = process.run_cmd(argv + ["-f", path], timeout=KEYGEN_TIMEOUT)
    if result.failed:
        raise errors.GenericError("Cannot generate an ssh key: %s" % result.describe())
    return io.read_file(path + ".pub").strip()
