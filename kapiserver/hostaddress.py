"""The host's own address, as upstream's ChooseHostInterface finds it: the first global unicast address of an
up interface carrying a default route, read from the kernel's route tables (/proc/net/route,
/proc/net/ipv6_route, /proc/net/if_inet6) and interface ioctls.  Local tables only: instant, and it works with
no network at all.  A leaf: it imports nothing from kapiserver.
"""

import ipaddress
import socket
import struct

_IPV4_ROUTE_FILE = "/proc/net/route"
_IPV6_ROUTE_FILE = "/proc/net/ipv6_route"
_IPV6_ADDRESS_FILE = "/proc/net/if_inet6"
_SIOCGIFADDR = 0x8915
_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1


def is_global_unicast(ip):
    """Go's net.IP.IsGlobalUnicast: not unspecified, loopback, link-local, multicast or broadcast.

    Private ranges (10/8, fd00::/8) count as global unicast here, as they do in Go.
    """
    if ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_multicast:
        return False
    return ip != ipaddress.IPv4Address("255.255.255.255")


def _read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return None


def default_route_interfaces(ipv4_lines, ipv6_lines):
    """Interfaces carrying a default route, as (family, name) pairs, IPv4 routes first, file order kept."""
    routes = []
    for line in ipv4_lines or ():
        fields = line.split()
        if len(fields) < 3 or fields[0] == "Iface":
            continue
        if fields[1] == "00000000":
            routes.append((4, fields[0]))
    for line in ipv6_lines or ():
        fields = line.split()
        if len(fields) < 10:
            continue
        # ::/0 with a real gateway; the ::/0 entry with no gateway is the kernel's unreachable route on lo
        if fields[0] == "0" * 32 and fields[1] == "00" and fields[4] != "0" * 32:
            routes.append((6, fields[9]))
    return routes


def _interface_is_up(name):
    try:
        with open(f"/sys/class/net/{name}/flags") as f:
            return bool(int(f.read().strip(), 16) & _IFF_UP)
    except (OSError, ValueError):
        pass
    try:
        import fcntl  # POSIX only; imported here so the module loads everywhere
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            request = struct.pack("16sH14s", name.encode()[:15], 0, b"")
            flags = struct.unpack("16sH14s", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, request))[1]
            return bool(flags & _IFF_UP)
    except (OSError, ImportError):
        return False


def _interface_ipv4(name):
    try:
        import fcntl
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            request = struct.pack("256s", name.encode()[:15])
            reply = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, request)
            return [ipaddress.IPv4Address(reply[20:24])]
    except (OSError, ImportError):
        return []


def _interface_ipv6(name, address_lines):
    addresses = []
    for line in address_lines or ():
        fields = line.split()
        if len(fields) >= 6 and fields[5] == name:
            addresses.append(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
    return addresses


def _routed_source_address(family):
    # Off Linux there is no route table to read: ask the kernel which source address it would use.
    # A UDP connect only consults the routing table; no packet leaves the host.
    target = "192.0.2.1" if family == 4 else "2001:db8::1"
    try:
        with socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.connect((target, 9))
            return ipaddress.ip_address(s.getsockname()[0].split("%")[0])
    except (OSError, ValueError):
        return None


def choose_host_address(ipv4_route_file=_IPV4_ROUTE_FILE, ipv6_route_file=_IPV6_ROUTE_FILE,
                        ipv6_address_file=_IPV6_ADDRESS_FILE, interface_is_up=_interface_is_up,
                        interface_ipv4=_interface_ipv4):
    """The first global unicast address of an up interface carrying a default route (IPv4 first), or None.

    The same choice upstream's ChooseHostInterface makes; reads local kernel tables only, so it is instant
    and works with no network at all (returning None when there is no default route).
    """
    ipv4_lines = _read_lines(ipv4_route_file)
    if ipv4_lines is None:
        for family in (4, 6):
            address = _routed_source_address(family)
            if address is not None and is_global_unicast(address):
                return address
        return None
    routes = default_route_interfaces(ipv4_lines, _read_lines(ipv6_route_file))
    ipv6_addresses = None
    for family in (4, 6):
        for route_family, name in routes:
            if route_family != family or not interface_is_up(name):
                continue
            if family == 4:
                candidates = interface_ipv4(name)
            else:
                if ipv6_addresses is None:
                    ipv6_addresses = _read_lines(ipv6_address_file)
                candidates = _interface_ipv6(name, ipv6_addresses)
            for address in candidates:
                if is_global_unicast(address):
                    return address
    return None
