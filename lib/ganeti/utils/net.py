"""Host names and addresses: resolving, this node's name, TCP ping."""

import errno
import re
import socket

from ganeti import errors, pathutils


def get_hostname():
    """This node's name: GANETI_HOSTNAME when set, else the system hostname."""
    return pathutils.VIRT_HOSTNAME or socket.gethostname()


class Hostname:
    """A resolved host name: ``name`` (canonical) and ``ip`` (IPv4)."""

    def __init__(self, name=None, family=socket.AF_INET):
        self.name = name or get_hostname()
        self.ip = resolve(self.name, family)

    def is_fqdn(self):
        return "." in self.name


def resolve(name, family=socket.AF_INET):
    """The address of ``name`` (from /etc/hosts or DNS); ResolverError if none."""
    try:
        infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        error = errors.ResolverError(name, getattr(err, "errno", 0),
                                     "Host name '%s' cannot be resolved: %s" % (name, err))
        # the resolver's own words, for messages that name the host themselves
        error.reason = getattr(err, "strerror", None) or str(err)
        raise error from err
    return infos[0][4][0]


def tcp_ping(target, port, timeout=2.0, source=None):
    """Whether something at target:port accepts (or actively refuses) a connection.

    A refused connection means the host answered, so it counts as alive.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in target else socket.AF_INET)
    sock.settimeout(timeout)
    try:
        if source:
            sock.bind((source, 0))
        sock.connect((target, port))
        return True
    except socket.timeout:
        return False
    except OSError as err:
        return err.errno == errno.ECONNREFUSED and not _is_local_loopback(target)
    finally:
        sock.close()


def _is_local_loopback(addr):
    # Every 127/8 address answers locally with "refused" when nothing listens,
    # which says nothing about whether the address is taken.
    return addr.startswith("127.") or addr == "::1"


def address_in_use(ip, port):
    """Whether some host already answers on ``ip`` (used to refuse a taken master IP)."""
    return tcp_ping(ip, port, timeout=1.0)


def interface_ipv4(name):
    """The first IPv4 address of network interface ``name``, or None."""
    from ganeti.utils import process
    result = process.run_cmd(["ip", "-o", "-4", "addr", "show", "dev", name], timeout=30)
    match = re.search(r"\sinet ([0-9.]+)/", result.stdout)
    return None if result.failed or not match else match.group(1)
