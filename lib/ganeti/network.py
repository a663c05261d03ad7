"""Node-side NIC plumbing: tap devices, bridges and routes for instance NICs.

Used by the KVM hypervisor (and later Xen). One tap device per NIC, named
after the instance (``gnt.<short name>.<index>``, at most 15 characters), then,
by the NIC's mode (what Ganeti's kvm-ifup does):

- bridged: the tap joins the bridge named by the NIC's link (which must exist),
  with the bridge's MTU and, when a VLAN is given, the bridge's VLAN filter;
- routed: the tap is brought up, a host route to the NIC's IP goes through it
  (in routing table ``link``, with a rule for traffic coming from the tap, or in
  the main table when link is empty) and proxy ARP and forwarding are enabled
  on it;
- openvswitch: not supported here.

Every external command goes through ``utils.process.run_cmd``.
"""

import hashlib
import ipaddress
import os
import re

from ganeti import constants, errors
from ganeti.utils import process

IFNAMSIZ = 15               # longest Linux interface name
TAP_PREFIX = "gnt."
PROC_SYS_NET = "/proc/sys/net"
_RULE_DEL_LIMIT = 16


def tap_name(instance_name, index):
    """The tap device name of NIC ``index`` of an instance.

    ``gnt.<short name>.<index>``; a short name too long for that is cut and
    given four hex digits of a hash of the full name, so different instances
    keep different names.
    """
    short = instance_name.split(".")[0] or "inst"
    short = re.sub(r"[^A-Za-z0-9_-]", "-", short)
    suffix = ".%d" % index
    name = TAP_PREFIX + short + suffix
    if len(name) <= IFNAMSIZ:
        return name
    digest = hashlib.sha1(instance_name.encode("utf-8")).hexdigest()[:4]
    room = IFNAMSIZ - len(TAP_PREFIX) - len(suffix) - len(digest)
    if room < 1:
        raise errors.HypervisorError("NIC index %d too large for a tap name" % index)
    return TAP_PREFIX + short[:room] + digest + suffix


def _ip(args, what, ignore_errors=False):
    result = process.run_cmd(["ip"] + args, timeout=30)
    if result.failed and not ignore_errors:
        raise errors.HypervisorError("Cannot %s: %s" % (what, result.describe()))
    return result


def write_proc_sys(path, value):
    """Write a sysctl below /proc/sys/net (``path`` relative to it)."""
    full = os.path.join(PROC_SYS_NET, path)
    try:
        with open(full, "w") as fd:
            fd.write("%s\n" % value)
    except OSError as err:
        raise errors.HypervisorError("Cannot set %s: %s" % (full, err))


def link_exists(name):
    """Whether a network interface called ``name`` exists (in our namespace)."""
    return not process.run_cmd(["ip", "-o", "link", "show", "dev", name],
                               timeout=30).failed


def bridge_info(name):
    """{"mtu": int, "vlan_filtering": bool} of bridge ``name``; error if none."""
    result = process.run_cmd(["ip", "-d", "-o", "link", "show", "dev", name], timeout=30)
    if result.failed:
        raise errors.HypervisorError(
            "Bridge '%s' does not exist on this node (needed by a bridged NIC)" % name)
    text = result.stdout
    if not re.search(r"\\\s+bridge\s", text):
        raise errors.HypervisorError(
            "Network interface '%s' is not a bridge (needed by a bridged NIC)" % name)
    mtu = re.search(r"\bmtu (\d+)", text)
    vlan = re.search(r"\bvlan_filtering (\d)", text)
    return {"mtu": int(mtu.group(1)) if mtu else None,
            "vlan_filtering": bool(vlan and vlan.group(1) == "1")}


def create_tap(name, mac=None):
    """Create the (persistent) tap ``name``, replacing a stale one."""
    if link_exists(name):
        delete_tap(name)
    _ip(["tuntap", "add", "dev", name, "mode", "tap"], "create tap device %s" % name)
    if mac:
        # a high first octet keeps the bridge from taking the tap's address
        _ip(["link", "set", "dev", name, "address", "fe" + mac[2:]],
            "set the address of %s" % name, ignore_errors=True)


def delete_tap(name):
    """Remove tap ``name`` (its routes go with it); a missing tap is fine."""
    result = process.run_cmd(["ip", "link", "del", "dev", name], timeout=30)
    if result.failed and link_exists(name):
        raise errors.HypervisorError("Cannot delete tap %s: %s"
                                     % (name, result.describe()))


def parse_vlan(vlan):
    """(untagged vid or None, [tagged vids]) of a Ganeti NIC vlan string.

    ".10" or "10": access port on VLAN 10; ":20:30": trunk of 20 and 30;
    ".10:20:30": untagged 10 plus tagged 20 and 30.
    """
    vlan = (vlan or "").strip()
    if not vlan:
        return None, []
    parts = vlan.split(":")
    first, rest = parts[0], parts[1:]
    try:
        untagged = int(first.lstrip(".")) if first else None
        tagged = [int(v) for v in rest if v]
    except ValueError:
        raise errors.HypervisorError("Invalid VLAN specification '%s'" % vlan)
    for vid in ([untagged] if untagged is not None else []) + tagged:
        if not 1 <= vid <= 4094:
            raise errors.HypervisorError("Invalid VLAN id %d in '%s'" % (vid, vlan))
    return untagged, tagged


def _setup_bridged(tap, link, vlan):
    if not link:
        raise errors.HypervisorError("Bridged NIC on %s has no link (bridge)" % tap)
    info = bridge_info(link)
    untagged, tagged = parse_vlan(vlan)
    if (untagged is not None or tagged) and not info["vlan_filtering"]:
        raise errors.HypervisorError(
            "NIC %s has VLAN '%s' but bridge %s has VLAN filtering disabled"
            % (tap, vlan, link))
    if info["mtu"]:
        _ip(["link", "set", "dev", tap, "mtu", str(info["mtu"])],
            "set the MTU of %s" % tap)
    _ip(["link", "set", "dev", tap, "master", link, "up"],
        "add %s to bridge %s" % (tap, link))
    vids = ([(untagged, ["pvid", "untagged"])] if untagged is not None else [])
    vids += [(vid, []) for vid in tagged]
    for vid, flags in vids:
        result = process.run_cmd(["bridge", "vlan", "add", "dev", tap, "vid", str(vid)]
                                 + flags + ["master"], timeout=30)
        if result.failed:
            raise errors.HypervisorError("Cannot add VLAN %d to %s: %s"
                                         % (vid, tap, result.describe()))


def _host_route(ip):
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise errors.HypervisorError("Invalid IP address '%s' of a routed NIC" % ip)
    return "%s/%d" % (addr, addr.max_prefixlen), addr.version


def _setup_routed(tap, link, ip):
    if not ip:
        raise errors.HypervisorError("Routed NIC %s has no IP address" % tap)
    route, version = _host_route(ip)
    _ip(["link", "set", "dev", tap, "up"], "bring %s up" % tap)
    family = ["-6"] if version == 6 else []
    if link:
        for _ in range(_RULE_DEL_LIMIT):
            if process.run_cmd(["ip"] + family + ["rule", "del", "dev", tap],
                               timeout=30).failed:
                break
        _ip(family + ["rule", "add", "dev", tap, "table", link],
            "add a routing rule for %s" % tap)
        _ip(family + ["route", "replace", route, "table", link, "proto", "static",
                      "dev", tap], "route %s to %s" % (route, tap))
    else:
        _ip(family + ["route", "replace", route, "proto", "static", "dev", tap],
            "route %s to %s" % (route, tap))
    if version == 4:
        write_proc_sys("ipv4/conf/%s/proxy_arp" % tap, 1)
        write_proc_sys("ipv4/conf/%s/forwarding" % tap, 1)
    else:
        write_proc_sys("ipv6/conf/%s/proxy_ndp" % tap, 1)
        write_proc_sys("ipv6/conf/%s/forwarding" % tap, 1)


def configure_nic(tap, mode, link, ip=None, vlan=""):
    """Connect an existing tap as a NIC in ``mode`` (bridged/routed)."""
    if mode == constants.NIC_MODE_BRIDGED:
        _setup_bridged(tap, link, vlan)
    elif mode == constants.NIC_MODE_ROUTED:
        _setup_routed(tap, link, ip)
    elif mode == constants.NIC_MODE_OVS:
        raise errors.HypervisorError("NIC mode openvswitch is not supported on this"
                                     " node (NIC %s)" % tap)
    else:
        raise errors.HypervisorError("Unknown NIC mode '%s' (NIC %s)" % (mode, tap))


def plug_nic(instance_name, index, mac, ip, nicparams):
    """Create and connect the tap of one NIC; returns its name.

    nicparams: the NIC's filled parameters (mode, link, vlan). Nothing is left
    behind when this fails.
    """
    mode = nicparams.get(constants.NIC_MODE, constants.NIC_MODE_BRIDGED)
    if mode == constants.NIC_MODE_OVS:
        raise errors.HypervisorError("NIC mode openvswitch is not supported on this"
                                     " node (NIC %d of %s)" % (index, instance_name))
    tap = tap_name(instance_name, index)
    create_tap(tap, mac)
    try:
        configure_nic(tap, mode, nicparams.get(constants.NIC_LINK, ""), ip,
                      nicparams.get(constants.NIC_VLAN, ""))
    except BaseException:
        unplug_nic(tap, nicparams, ip)
        raise
    return tap


def unplug_nic(tap, nicparams, ip=None):
    """Undo plug_nic: routing rule (routed mode with a table) and the tap."""
    mode = (nicparams or {}).get(constants.NIC_MODE)
    link = (nicparams or {}).get(constants.NIC_LINK, "")
    if mode == constants.NIC_MODE_ROUTED and link:
        family = []
        if ip:
            try:
                if ipaddress.ip_address(ip).version == 6:
                    family = ["-6"]
            except ValueError:
                pass
        process.run_cmd(["ip"] + family + ["rule", "del", "dev", tap, "table", link],
                        timeout=30)
    delete_tap(tap)
