"""The IPv4 address pool of a network (gnt-network).

A network's addresses are either free, used by an instance's NIC, or
reserved outside of Ganeti ("external": the network and broadcast addresses,
the gateway, whatever ``--add-reserved-ips`` names). The config stores both
as Ganeti does: one string of '0'/'1' per kind and network
(``reservations``, ``ext_reservations``), the first character for the network
address. ``AddressPool`` reads and changes those strings on a Network object.
"""

import ipaddress

from ganeti import errors

#: the smallest and the largest IPv4 network a pool may cover (Ganeti's limits:
#: /30, and /16 so that the bitmaps stay small)
MIN_PREFIX = 30
MAX_PREFIX = 16


class AddressPoolError(errors.ReservationError):
    """An address outside the network, taken already, or not taken."""


def parse_network(text):
    """The IPv4 network ``text`` names; ValueError with Python's words otherwise
    (Ganeti shows those: "'33' is not a valid netmask")."""
    return ipaddress.IPv4Network(text)


def is_ipv4_network(value):
    """Whether ``value`` looks like an IPv4 subnet "a.b.c.d/n" (what a job may
    carry; whether the prefix makes sense is checked when the pool is made)."""
    if not isinstance(value, str) or value.count("/") != 1:
        return False
    address, prefix = value.split("/")
    return is_ipv4_address(address) and prefix.isdigit()


def is_ipv4_address(value):
    try:
        ipaddress.IPv4Address(value)
    except (ipaddress.AddressValueError, TypeError, ValueError):
        return False
    return True


def is_ipv6_network(value):
    try:
        ipaddress.IPv6Network(value, strict=False)
    except (ValueError, TypeError):
        return False
    return isinstance(value, str) and "/" in value


def is_ipv6_address(value):
    try:
        ipaddress.IPv6Address(value)
    except (ValueError, TypeError):
        return False
    return True


class AddressPool:
    """The reservation bitmaps of one Network object; changes write through."""

    def __init__(self, net):
        self.net = net
        self.network = parse_network(net.network)
        size = self.network.num_addresses
        if size > 2 ** (32 - MAX_PREFIX):
            raise AddressPoolError("A big network with %d host(s) is currently not"
                                   " supported. please specify at most a /%d network"
                                   % (size, MAX_PREFIX))
        if size < 2 ** (32 - MIN_PREFIX):
            raise AddressPoolError("A network with only %d host(s) is too small, please"
                                   " specify at least a /%d network" % (size, MIN_PREFIX))
        self._used = list(net.reservations or "0" * size)
        self._external = list(net.ext_reservations or "0" * size)
        if len(self._used) != size or len(self._external) != size:
            raise AddressPoolError("The reservation maps of network %s do not match its"
                                   " size %d" % (net.network, size))
        self._store()

    @classmethod
    def initialize(cls, net):
        """A new network's pool: its network and broadcast addresses and its
        gateway reserved externally."""
        pool = cls(net)
        pool.reserve(str(pool.network[0]), external=True)
        pool.reserve(str(pool.network[-1]), external=True)
        if net.gateway is not None:
            pool.reserve(net.gateway, external=True)
        return pool

    def _store(self):
        self.net.reservations = "".join(self._used)
        self.net.ext_reservations = "".join(self._external)

    def contains(self, address):
        if address is None:
            return False
        try:
            return ipaddress.ip_address(address) in self.network
        except ValueError:
            return False

    def _index(self, address):
        if not self.contains(address):
            raise AddressPoolError("%s does not contain %s" % (self.network, address))
        return int(ipaddress.ip_address(address)) - int(self.network.network_address)

    def is_reserved(self, address, external=False):
        bits = self._external if external else self._used
        return bits[self._index(address)] == "1"

    def reserve(self, address, external=False):
        if self.is_reserved(address, external):
            raise AddressPoolError("IP %s is already %s" % (
                address, "externally reserved" if external else "used by an instance"))
        self._mark(address, "1", external)

    def release(self, address, external=False):
        if not self.is_reserved(address, external):
            raise AddressPoolError("IP %s is not %s" % (
                address, "externally reserved" if external else "used by an instance"))
        self._mark(address, "0", external)

    def _mark(self, address, bit, external):
        (self._external if external else self._used)[self._index(address)] = bit
        self._store()

    def _taken(self):
        return [u == "1" or e == "1" for u, e in zip(self._used, self._external)]

    def free_count(self):
        return self._taken().count(False)

    def reserved_count(self):
        return self._taken().count(True)

    def usage_map(self):
        """One character per address: X taken, . free."""
        return "".join("X" if taken else "." for taken in self._taken())

    def first_free(self, skip=()):
        """The lowest free address not in ``skip``; AddressPoolError if none."""
        for idx, taken in enumerate(self._taken()):
            address = str(self.network[idx])
            if not taken and address not in skip:
                return address
        raise AddressPoolError("%s is full" % self.network)

    def external_reservations(self):
        return [str(self.network[idx]) for idx, bit in enumerate(self._external)
                if bit == "1"]
