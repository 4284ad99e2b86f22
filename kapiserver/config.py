"""The validated server configuration: every kube-apiserver option as a Python value.

`ServerConfig.from_options(options)` turns the command line's strings (keyed by long flag name, as
`kapiserver.tap.Options` stores them) into typed values, applies the defaults and raises `OptionError`
naming the flag when a value is unusable.  Nothing here touches the network or the reactor; the one
look at the host (choosing the advertise address, kapiserver.hostaddress) reads local kernel tables only.
"""
import dataclasses
import ipaddress
import re
from types import MappingProxyType
from typing import Mapping, Optional, Tuple, Union

from .admission import options as admission_options
from .auth.options import SecurityConfig, parse_security
from .flags import OptionError, invalid, parse_bool, parse_duration, split_list
from .hostaddress import choose_host_address
from .kubelet.options import NodeAccessConfig, parse_node_access

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


# --- scalar parsers, one per pflag type -------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?\d+\Z")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


# The controllers --embedded-controllers may name (upstream's names, and their older aliases): those that make
# the default admission chain's effects invisible to users who run the apiserver alone (default ServiceAccounts
# and kube-root-ca.crt for ServiceAccount admission, the protection finalizers' removal for
# StorageObjectInUseProtection), with namespace finalization and garbage collection.
EMBEDDABLE_CONTROLLERS = ("namespace-controller", "garbage-collector-controller", "serviceaccount-controller",
                          "serviceaccount-token-controller", "root-ca-certificate-publisher-controller",
                          "persistentvolumeclaim-protection-controller", "persistentvolume-protection-controller")
_EMBEDDABLE_ALIASES = {"namespace": "namespace-controller", "garbagecollector": "garbage-collector-controller",
                       "serviceaccount": "serviceaccount-controller",
                       "serviceaccount-token": "serviceaccount-token-controller",
                       "root-ca-cert-publisher": "root-ca-certificate-publisher-controller",
                       "pvc-protection": "persistentvolumeclaim-protection-controller",
                       "pv-protection": "persistentvolume-protection-controller"}


def _embedded_controllers(flag, value):
    if isinstance(value, (tuple, list)):
        names = list(value)
    else:
        names = [n.strip() for n in str(value).split(",") if n.strip()]
    chosen = []
    for name in names:
        name = _EMBEDDABLE_ALIASES.get(name, name)
        if name not in EMBEDDABLE_CONTROLLERS:
            raise OptionError(flag, f'--{flag}: "{name}" is not one of {", ".join(EMBEDDABLE_CONTROLLERS)}')
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen)


def _int(flag, value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    raise invalid(flag, value, "not an integer")


def _duration(flag, value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return parse_duration(value)
    except ValueError as e:
        raise invalid(flag, value, str(e)) from None


def _bool(flag, value):
    try:
        return parse_bool(value)
    except ValueError as e:
        raise invalid(flag, value, str(e)) from None


def _ip(flag, value):
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise invalid(flag, value, f'failed to parse IP: "{value}"') from None


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
            raise invalid(flag, value, "expected a port range like 30000-32767") from None
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        raise invalid(flag, value, "ports must be between 0 and 65535")
    if high < low:
        raise invalid(flag, value, "the end of the range is below its start")
    return (low, high)


def parse_service_cidr(flag, value):
    """The service IP range: one CIDR whose host part has at most 20 bits (the allocator's limit)."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        network = value
    else:
        entries = split_list(value)
        if not entries:
            raise OptionError(flag, f"--{flag} must contain at least one valid cidr")
        if len(entries) > 1:
            raise OptionError(flag, f"--{flag} with two ranges (dual-stack services) is not supported yet; "
                                    f"give one CIDR")
        try:
            # Go's ParseCIDR accepts host bits and masks them off; so do we.
            network = ipaddress.ip_network(entries[0], strict=False)
        except ValueError:
            raise invalid(flag, value, f"invalid CIDR address: {entries[0]}") from None
    if network.max_prefixlen - network.prefixlen > 20:
        raise OptionError(flag, f"specified --{flag} is too large; for {network.max_prefixlen}-bit "
                                f"addresses, the mask must be >= {network.max_prefixlen - 20}")
    return network


def parse_watch_cache_sizes(flag, value):
    """"pods#1000,deployments.apps#500" -> {"pods": 1000, "deployments.apps": 500}."""
    if isinstance(value, Mapping):
        return dict(value)
    sizes = {}
    for entry in split_list(value):
        resource, sep, size_text = entry.partition("#")
        if not sep or not resource or not _INTEGER.match(size_text):
            raise invalid(flag, value, f"invalid value of watch cache size: {entry} "
                                        f"(want resource[.group]#size)")
        size = int(size_text)
        if size < 0:
            raise invalid(flag, value, f"watch cache size cannot be negative: {entry}")
        sizes[resource] = size
    return sizes


def parse_runtime_config(flag, value):
    """"api/all=true,batch/v2alpha1=false" -> {"api/all": True, "batch/v2alpha1": False}; a bare key means true."""
    if isinstance(value, Mapping):
        return {key: parse_bool(val) for key, val in value.items()}
    config = {}
    for entry in split_list(value):
        key, sep, val = entry.partition("=")
        key = key.strip()
        if not key:
            raise invalid(flag, value, f"missing key in {entry!r}")
        try:
            config[key] = parse_bool(val.strip()) if sep and val.strip() else True
        except ValueError:
            raise invalid(flag, value, f"invalid value {val!r} for {key}: want true or false") from None
    return config


_ETCD_SCHEMES = ("http", "https", "unix", "unixs")


def parse_etcd_servers(flag, value):
    """The etcd endpoints, each scheme://host:port (http, https, unix, unixs)."""
    servers = split_list(value)
    for server in servers:
        scheme, sep, rest = server.partition("://")
        if not sep or scheme not in _ETCD_SCHEMES or not rest:
            raise invalid(flag, value, f"{server!r} is not an etcd URL like https://127.0.0.1:2379")
    return tuple(servers)


def parse_etcd_servers_overrides(flag, value):
    """"group/resource#url;url,..." -> {"group/resource": (url, ...)}; the core group is empty ("/pods")."""
    if isinstance(value, Mapping):
        return {key: tuple(servers) for key, servers in value.items()}
    overrides = {}
    for entry in split_list(value):
        resource, sep, servers_text = entry.partition("#")
        group, slash, name = resource.partition("/")
        if not sep or not slash or not name or not servers_text:
            raise invalid(flag, value, f"invalid value of etcd servers override: {entry} "
                                        f"(want group/resource#servers, servers separated by ';')")
        servers = tuple(s.strip() for s in servers_text.split(";") if s.strip())
        parse_etcd_servers(flag, ",".join(servers))
        overrides[f"{group}/{name}"] = servers
    return overrides


_MEDIA_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
# --endpoint-reconciler-type values, in upstream's order (kapiserver.controllers.endpointreconciler).
_ENDPOINT_RECONCILERS = ("master-count", "lease", "none")


# --- the advertise address --------------------------------------------------------------------------

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
    # kube-controller-manager's controllers the apiserver runs itself, through a loopback client.
    embedded_controllers: Tuple[str, ...] = EMBEDDABLE_CONTROLLERS
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
    # Connections served at once on the API's ports; 0: from the open-files limit (see runtime.connection_cap).
    max_open_connections: int = 0
    # SIGTERM: how long /readyz fails before the listeners stop, and how long watches may then run on.
    shutdown_delay_duration: float = 0.0
    shutdown_watch_termination_grace_period: float = 0.0
    verbosity: int = 0
    kubernetes_service_node_port: int = 0
    # The testing controls at /debug/kapiserver/ (system:masters only): fault rules, and store snapshot/reset.
    enable_fault_injection: bool = False
    enable_store_reset: bool = False
    # --workers: the processes serving the API's ports, this one (holding the embedded store) serving them
    # itself when 0; and in a worker, the Unix socket of the store its primary serves (--worker-of).
    workers: int = 0
    worker_of: Optional[str] = None
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
        fault_injection = pick("enable-fault-injection", _bool, defaults.enable_fault_injection)
        store_reset = pick("enable-store-reset", _bool, defaults.enable_store_reset)
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
        embedded = pick("embedded-controllers", _embedded_controllers, defaults.embedded_controllers)
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
        max_connections = _non_negative("max-open-connections",
                                        pick("max-open-connections", _int, defaults.max_open_connections))
        shutdown_delay = _non_negative("shutdown-delay-duration",
                                       pick("shutdown-delay-duration", _duration, defaults.shutdown_delay_duration))
        watch_grace = _non_negative("shutdown-watch-termination-grace-period",
                                    pick("shutdown-watch-termination-grace-period", _duration,
                                         defaults.shutdown_watch_termination_grace_period))

        serving_workers = pick("workers", _int, defaults.workers)
        if serving_workers < 0:
            raise OptionError("workers", "--workers can not be negative value")
        worker_of = pick("worker-of", lambda f, v: str(v) or None, None)
        if serving_workers or worker_of:
            if backend == "etcd3":
                raise OptionError("workers", "--workers needs the embedded store (sqlite or memory); on etcd, "
                                             "run several kube-apiservers side by side instead")
            for flag, on in (("enable-store-reset", store_reset), ("enable-fault-injection", fault_injection)):
                if on:
                    raise OptionError(flag, f"--{flag} cannot be used with --workers (each process would keep "
                                            f"its own)")
            if serving_workers and not (secure_port or insecure_port):
                raise OptionError("workers", "--workers needs a port to serve (--secure-port or --insecure-port)")

        security = parse_security(options, data_dir)
        # A bad admission configuration stops startup here, with one line, rather than once the server runs.
        admission_options.validate(security, OptionError)
        node_access = parse_node_access(options)

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
            embedded_controllers=embedded,
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
            max_open_connections=max_connections,
            shutdown_delay_duration=shutdown_delay,
            shutdown_watch_termination_grace_period=watch_grace,
            verbosity=verbosity,
            kubernetes_service_node_port=service_node_port,
            enable_fault_injection=fault_injection,
            enable_store_reset=store_reset,
            workers=serving_workers,
            worker_of=worker_of,
            endpoint_reconciler_type=reconciler,
            apiserver_count=apiserver_count,
            advertise_address_is_fallback=fell_back,
            security=security,
            node_access=node_access,
        )
