"""The validated server configuration: every kube-apiserver option as a Python value.

`ServerConfig.from_options(options)` turns the command line's strings (keyed by long flag name, as
`kapiserver.tap.Options` stores them) into typed values, applies the defaults and raises `OptionError`
naming the flag when a value is unusable.  Nothing here touches the network or the reactor; the one
look at the host (choosing the advertise address) reads local kernel tables only.
"""
import dataclasses
import ipaddress
import re
import socket
import struct
from types import MappingProxyType
from typing import Mapping, Optional, Tuple, Union

from .auth.options import SecurityConfig, parse_security
from .kubelet.options import NodeAccessConfig, parse_node_access

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class OptionError(ValueError):
    """A command-line option whose value cannot be used; `flag` is its long name without dashes."""

    def __init__(self, flag, message):
        super().__init__(message)
        self.flag = flag


def _invalid(flag, value, reason):
    # The shape pflag uses, so the message reads like upstream's.
    return OptionError(flag, f'invalid argument "{value}" for "--{flag}" flag: {reason}')


# --- Go durations -----------------------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3,
                   "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


def parse_duration(text):
    """Seconds in a Go duration string ("1h0m0s", "5m", "300ms", "1.5h", "-2s", "0"), as time.ParseDuration.

    Raises ValueError with Go's wording for anything Go rejects (no unit, unknown unit, empty).
    """
    original = text
    if not isinstance(text, str):
        raise ValueError(f'time: invalid duration "{original}"')
    sign = 1.0
    if text[:1] in ("-", "+"):
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise ValueError(f'time: invalid duration "{original}"')
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        whole, frac, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            raise ValueError(f'time: invalid duration "{original}"')
        if not unit:
            raise ValueError(f'time: missing unit in duration "{original}"')
        if unit not in _DURATION_UNITS:
            # the unit ends where the next number begins; report exactly that unit, as Go does
            raise ValueError(f'time: unknown unit "{unit}" in duration "{original}"')
        number = float(f"{whole or '0'}.{frac or '0'}")
        total += number * _DURATION_UNITS[unit]
        pos = match.end()
    return sign * total


# --- scalar parsers, one per pflag type -------------------------------------------------------------

_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_INTEGER = re.compile(r"[+-]?\d+\Z")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


def parse_bool(text):
    """A boolean as Go's strconv.ParseBool reads it; ValueError otherwise."""
    if isinstance(text, bool):
        return text
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def _int(flag, value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    raise _invalid(flag, value, "not an integer")


def _duration(flag, value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return parse_duration(value)
    except ValueError as e:
        raise _invalid(flag, value, str(e)) from None


def _bool(flag, value):
    try:
        return parse_bool(value)
    except ValueError as e:
        raise _invalid(flag, value, str(e)) from None


def _ip(flag, value):
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise _invalid(flag, value, f'failed to parse IP: "{value}"') from None


def _port(flag, value, what):
    port = _int(flag, value)
    if not 0 <= port <= 65535:
        raise OptionError(flag, f"--{flag} {port} must be between 0 and 65535, inclusive. "
                                f"0 for turning off {what}.")
    return port


def _non_negative(flag, number):
    if number < 0:
        raise OptionError(flag, f"--{flag} can not be negative value")
    return number


def _list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item).strip() for item in value if str(item).strip()]


def parse_port_range(flag, value):
    """A port range as upstream's PortRange flag reads it: "low-high", "base+size" or "port"; inclusive."""
    if isinstance(value, tuple):
        low, high = value
    else:
        text = str(value).strip()
        try:
            if "-" in text:
                low_text, high_text = text.split("-", 1)
                low, high = int(low_text), int(high_text)
            elif "+" in text:
                base_text, size_text = text.split("+", 1)
                low = int(base_text)
                high = low + int(size_text)
            else:
                low = high = int(text)
        except ValueError:
            raise _invalid(flag, value, "expected a port range like 30000-32767") from None
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        raise _invalid(flag, value, "ports must be between 0 and 65535")
    if high < low:
        raise _invalid(flag, value, "the end of the range is below its start")
    return (low, high)


def parse_service_cidr(flag, value):
    """The service IP range: one CIDR whose host part has at most 20 bits (the allocator's limit)."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        network = value
    else:
        entries = _list(value)
        if not entries:
            raise OptionError(flag, f"--{flag} must contain at least one valid cidr")
        if len(entries) > 1:
            raise OptionError(flag, f"--{flag} with two ranges (dual-stack services) is not supported yet; "
                                    f"give one CIDR")
        try:
            # Go's ParseCIDR accepts host bits and masks them off; so do we.
            network = ipaddress.ip_network(entries[0], strict=False)
        except ValueError:
            raise _invalid(flag, value, f"invalid CIDR address: {entries[0]}") from None
    if network.max_prefixlen - network.prefixlen > 20:
        raise OptionError(flag, f"specified --{flag} is too large; for {network.max_prefixlen}-bit "
                                f"addresses, the mask must be >= {network.max_prefixlen - 20}")
    return network


def parse_watch_cache_sizes(flag, value):
    """"pods#1000,deployments.apps#500" -> {"pods": 1000, "deployments.apps": 500}."""
    if isinstance(value, Mapping):
        return dict(value)
    sizes = {}
    for entry in _list(value):
        resource, sep, size_text = entry.partition("#")
        if not sep or not resource or not _INTEGER.match(size_text):
            raise _invalid(flag, value, f"invalid value of watch cache size: {entry} "
                                        f"(want resource[.group]#size)")
        size = int(size_text)
        if size < 0:
            raise _invalid(flag, value, f"watch cache size cannot be negative: {entry}")
        sizes[resource] = size
    return sizes


def parse_runtime_config(flag, value):
    """"api/all=true,batch/v2alpha1=false" -> {"api/all": True, "batch/v2alpha1": False}; a bare key means true."""
    if isinstance(value, Mapping):
        return {key: parse_bool(val) for key, val in value.items()}
    config = {}
    for entry in _list(value):
        key, sep, val = entry.partition("=")
        key = key.strip()
        if not key:
            raise _invalid(flag, value, f"missing key in {entry!r}")
        try:
            config[key] = parse_bool(val.strip()) if sep and val.strip() else True
        except ValueError:
            raise _invalid(flag, value, f"invalid value {val!r} for {key}: want true or false") from None
    return config


_ETCD_SCHEMES = ("http", "https", "unix", "unixs")


def parse_etcd_servers(flag, value):
    """The etcd endpoints, each scheme://host:port (http, https, unix, unixs)."""
    servers = _list(value)
    for server in servers:
        scheme, sep, rest = server.partition("://")
        if not sep or scheme not in _ETCD_SCHEMES or not rest:
            raise _invalid(flag, value, f"{server!r} is not an etcd URL like https://127.0.0.1:2379")
    return tuple(servers)


def parse_etcd_servers_overrides(flag, value):
    """"group/resource#url;url,..." -> {"group/resource": (url, ...)}; the core group is empty ("/pods")."""
    if isinstance(value, Mapping):
        return {key: tuple(servers) for key, servers in value.items()}
    overrides = {}
    for entry in _list(value):
        resource, sep, servers_text = entry.partition("#")
        group, slash, name = resource.partition("/")
        if not sep or not slash or not name or not servers_text:
            raise _invalid(flag, value, f"invalid value of etcd servers override: {entry} "
                                        f"(want group/resource#servers, servers separated by ';')")
        servers = tuple(s.strip() for s in servers_text.split(";") if s.strip())
        parse_etcd_servers(flag, ",".join(servers))
        overrides[f"{group}/{name}"] = servers
    return overrides


_MEDIA_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
# --endpoint-reconciler-type values, in upstream's order (kapiserver.controllers.endpointreconciler).
_ENDPOINT_RECONCILERS = ("master-count", "lease", "none")


# --- the advertise address --------------------------------------------------------------------------

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


LOOPBACK_FALLBACK = ipaddress.IPv4Address("127.0.0.1")


def default_advertise_address(advertise_address, bind_address, choose_host=choose_host_address):
    """The address to advertise, as upstream defaults it, plus whether it fell back to loopback.

    An explicit, specified address wins.  Otherwise the bind address, unless it is unspecified or loopback;
    then the host's default-route interface.  Upstream refuses to start when that finds nothing; a
    kapiserver on an offline laptop or CI box must still start, so it advertises 127.0.0.1 instead.
    Returns (address, fell_back).
    """
    if advertise_address is not None and not advertise_address.is_unspecified:
        return advertise_address, False
    if bind_address is not None and not (bind_address.is_unspecified or bind_address.is_loopback):
        return bind_address, False
    chosen = choose_host()
    if chosen is None:
        return LOOPBACK_FALLBACK, True
    return chosen, False


# --- the configuration ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Every kube-apiserver option kapiserver understands, validated and typed.  Durations are seconds."""

    insecure_bind_address: str = "127.0.0.1"
    insecure_port: int = 8080  # 0 disables the insecure listener
    bind_address: str = "0.0.0.0"
    secure_port: int = 6443  # 0 disables the secure listener
    data_dir: str = "./kapiserver-data"
    storage_backend: str = "sqlite"
    etcd_servers: Tuple[str, ...] = ()
    etcd_prefix: str = "/registry"
    etcd_servers_overrides: Mapping[str, Tuple[str, ...]] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}))
    etcd_cafile: Optional[str] = None
    etcd_certfile: Optional[str] = None
    etcd_keyfile: Optional[str] = None
    storage_media_type: str = "application/json"
    service_cluster_ip_range: IPNetwork = ipaddress.IPv4Network("10.0.0.0/24")
    service_node_port_range: Tuple[int, int] = (30000, 32767)
    advertise_address: Optional[IPAddress] = None
    event_ttl: float = 3600.0
    delete_collection_workers: int = 1
    watch_cache: bool = True
    watch_cache_sizes: Mapping[str, int] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    default_watch_cache_size: int = 100
    runtime_config: Mapping[str, bool] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    master_service_namespace: str = "default"
    etcd_compaction_interval: float = 300.0  # 0 disables compaction
    max_request_bytes: int = 3 * 1024 * 1024
    request_timeout: float = 60.0
    min_request_timeout: int = 1800
    verbosity: int = 0
    kubernetes_service_node_port: int = 0
    endpoint_reconciler_type: str = "lease"   # lease, master-count or none
    apiserver_count: int = 1
    # True when no usable host address was found and advertise_address fell back to 127.0.0.1.
    advertise_address_is_fallback: bool = False
    # TLS, authentication, authorization, admission and audit (kapiserver.auth.options).
    security: SecurityConfig = dataclasses.field(default_factory=SecurityConfig)
    # Kubelet client, SSH tunnels and in-flight limits (kapiserver.kubelet.options).
    node_access: NodeAccessConfig = dataclasses.field(default_factory=NodeAccessConfig)

    @classmethod
    def from_options(cls, options, choose_host=choose_host_address):
        """A config from parsed options keyed by long flag name ("insecure-port": "8080", "v": "2").

        Values may be the command line's strings or already-typed values; a missing or None value takes
        the default.  Raises OptionError naming the first unusable flag.
        """
        defaults = cls()

        def get(flag):
            value = options.get(flag)
            return None if value is None else value

        def pick(flag, parse, default):
            value = get(flag)
            return default if value is None else parse(flag, value)

        insecure_bind = pick("insecure-bind-address", _ip, None)
        insecure_port = pick("insecure-port", lambda f, v: _port(f, v, "insecure (HTTP) port"),
                             defaults.insecure_port)
        bind = pick("bind-address", _ip, None)
        secure_port = pick("secure-port", lambda f, v: _port(f, v, "secure port"), defaults.secure_port)

        data_dir = pick("data-dir", lambda f, v: str(v), defaults.data_dir)
        if not data_dir.strip():
            raise OptionError("data-dir", "--data-dir must not be empty")

        etcd_servers = pick("etcd-servers", parse_etcd_servers, ())
        backend = get("storage-backend")
        backend = backend.strip() if isinstance(backend, str) and backend.strip() else None
        if backend is None:
            backend = "etcd3" if etcd_servers else "sqlite"
        if backend not in ("sqlite", "etcd3", "memory"):
            raise OptionError("storage-backend", f'--storage-backend "{backend}" is not supported; '
                                                 f"use sqlite (the default), etcd3 with --etcd-servers, or memory")
        if backend == "etcd3" and not etcd_servers:
            raise OptionError("storage-backend", "--storage-backend=etcd3 needs --etcd-servers")
        if backend != "etcd3" and etcd_servers:
            raise OptionError("etcd-servers", f"--etcd-servers cannot be used with --storage-backend={backend}")

        etcd_prefix = pick("etcd-prefix", lambda f, v: str(v), defaults.etcd_prefix)
        overrides = pick("etcd-servers-overrides", parse_etcd_servers_overrides, {})
        if overrides and backend != "etcd3":
            raise OptionError("etcd-servers-overrides", "--etcd-servers-overrides needs --etcd-servers")
        etcd_files = {flag: pick(flag, lambda f, v: str(v) or None, None)
                      for flag in ("etcd-cafile", "etcd-certfile", "etcd-keyfile")}
        if bool(etcd_files["etcd-certfile"]) != bool(etcd_files["etcd-keyfile"]):
            raise OptionError("etcd-certfile", "--etcd-certfile and --etcd-keyfile must be given together")
        media_type = pick("storage-media-type", lambda f, v: str(v).strip(), defaults.storage_media_type)
        if media_type not in _MEDIA_TYPES:
            raise OptionError("storage-media-type", f'--storage-media-type "{media_type}" is not supported; '
                                                    f"use one of {', '.join(_MEDIA_TYPES)}")
        cidr = pick("service-cluster-ip-range", parse_service_cidr, defaults.service_cluster_ip_range)
        node_ports = pick("service-node-port-range", parse_port_range, defaults.service_node_port_range)
        service_node_port = pick("kubernetes-service-node-port", _int, defaults.kubernetes_service_node_port)
        if not 0 <= service_node_port <= 65535:
            raise OptionError("kubernetes-service-node-port",
                              f"--kubernetes-service-node-port {service_node_port} must be between 0 and "
                              f"65535, inclusive. If 0, the Kubernetes master service will be of type ClusterIP")
        if service_node_port and not node_ports[0] <= service_node_port <= node_ports[1]:
            raise OptionError("kubernetes-service-node-port",
                              f"--kubernetes-service-node-port {service_node_port} is outside "
                              f"--service-node-port-range {node_ports[0]}-{node_ports[1]}")

        reconciler = pick("endpoint-reconciler-type", lambda f, v: str(v).strip(),
                          defaults.endpoint_reconciler_type)
        if reconciler not in _ENDPOINT_RECONCILERS:
            raise OptionError("endpoint-reconciler-type",
                              f'--endpoint-reconciler-type "{reconciler}" is not supported; '
                              f"use one of {', '.join(_ENDPOINT_RECONCILERS)}")
        apiserver_count = pick("apiserver-count", _int, defaults.apiserver_count)
        if apiserver_count <= 0:
            raise OptionError("apiserver-count", f"--apiserver-count should be a positive number, "
                                                 f"but value '{apiserver_count}' provided")
        event_ttl = pick("event-ttl", _duration, defaults.event_ttl)
        if event_ttl <= 0:
            raise OptionError("event-ttl", "--event-ttl must be greater than 0")
        workers = pick("delete-collection-workers", _int, defaults.delete_collection_workers)
        if workers < 1:
            raise OptionError("delete-collection-workers", "--delete-collection-workers must be at least 1")
        watch_cache = pick("watch-cache", _bool, defaults.watch_cache)
        cache_sizes = pick("watch-cache-sizes", parse_watch_cache_sizes, {})
        default_cache_size = _non_negative("default-watch-cache-size",
                                           pick("default-watch-cache-size", _int,
                                                defaults.default_watch_cache_size))
        runtime_config = pick("runtime-config", parse_runtime_config, {})
        namespace = pick("master-service-namespace", lambda f, v: str(v).strip(),
                         defaults.master_service_namespace)
        if len(namespace) > 63 or not _DNS_LABEL.match(namespace):
            raise OptionError("master-service-namespace",
                              f'--master-service-namespace "{namespace}" is not a valid namespace name '
                              f"(lower-case letters, digits and '-', at most 63 characters)")
        compaction = _non_negative("etcd-compaction-interval",
                                   pick("etcd-compaction-interval", _duration, defaults.etcd_compaction_interval))
        max_bytes = _non_negative("max-request-bytes", pick("max-request-bytes", _int, defaults.max_request_bytes))
        request_timeout = _non_negative("request-timeout",
                                        pick("request-timeout", _duration, defaults.request_timeout))
        min_timeout = _non_negative("min-request-timeout",
                                    pick("min-request-timeout", _int, defaults.min_request_timeout))
        verbosity = _non_negative("v", pick("v", _int, defaults.verbosity))

        security = parse_security(options, data_dir, OptionError, parse_bool, parse_duration, _list)
        node_access = parse_node_access(options, OptionError, parse_bool, parse_duration, _list)

        advertise = pick("advertise-address", _ip, None)
        if insecure_bind is None:
            insecure_bind = ipaddress.ip_address(defaults.insecure_bind_address)
        if bind is None:
            bind = ipaddress.ip_address(defaults.bind_address)
        # Upstream defaults from the secure listener's address; with TLS off, the insecure one is what serves.
        serving_address = bind if secure_port else insecure_bind
        advertise, fell_back = default_advertise_address(advertise, serving_address, choose_host)

        return cls(
            insecure_bind_address=str(insecure_bind),
            insecure_port=insecure_port,
            bind_address=str(bind),
            secure_port=secure_port,
            data_dir=data_dir,
            storage_backend=backend,
            etcd_servers=etcd_servers,
            etcd_prefix=etcd_prefix,
            etcd_servers_overrides=MappingProxyType(dict(overrides)),
            etcd_cafile=etcd_files["etcd-cafile"],
            etcd_certfile=etcd_files["etcd-certfile"],
            etcd_keyfile=etcd_files["etcd-keyfile"],
            storage_media_type=media_type,
            service_cluster_ip_range=cidr,
            service_node_port_range=node_ports,
            advertise_address=advertise,
            event_ttl=event_ttl,
            delete_collection_workers=workers,
            watch_cache=watch_cache,
            watch_cache_sizes=MappingProxyType(dict(cache_sizes)),
            default_watch_cache_size=default_cache_size,
            runtime_config=MappingProxyType(dict(runtime_config)),
            master_service_namespace=namespace,
            etcd_compaction_interval=compaction,
            max_request_bytes=max_bytes,
            request_timeout=request_timeout,
            min_request_timeout=min_timeout,
            verbosity=verbosity,
            kubernetes_service_node_port=service_node_port,
            endpoint_reconciler_type=reconciler,
            apiserver_count=apiserver_count,
            advertise_address_is_fallback=fell_back,
            security=security,
            node_access=node_access,
        )
