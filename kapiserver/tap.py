"""`twistd kube-apiserver`: kube-apiserver's command-line flags and the service they build.

Flags are read the way upstream's pflag reads them (kapiserver.flags.PflagOptions).  Values stay strings
while parsing; `postOptions` turns them into a `ServerConfig`, so every error names its flag.
"""
import sys
import types

from twisted.logger import Logger
from twisted.python import usage

from kapiserver import logs
from kapiserver.auth import options as security_options
from kapiserver.config import ServerConfig
from kapiserver.flags import OptionError, PflagOptions, parse_bool
from kapiserver.hostaddress import choose_host_address
from kapiserver.kubelet import options as node_access_options
from kapiserver.version import raw_version_string, version_string

_log = Logger()


class Options(PflagOptions):
    """kube-apiserver's flags, with upstream's names and defaults."""

    # Bare `--flag` means true; `--flag=false` turns it off.
    boolean_parameters = frozenset({"watch-cache", "version", "enable-fault-injection",
                                     "enable-store-reset"}) | security_options.BOOLEAN_FLAGS | \
        node_access_options.BOOLEAN_FLAGS
    # List and map flags, the security lists (--authorization-mode, ...) among them: repeating one adds to it.
    accumulating_parameters = frozenset({"etcd-servers", "etcd-servers-overrides", "watch-cache-sizes",
                                         "runtime-config"}) | security_options.LIST_FLAGS

    # How the host's address is found when --advertise-address needs defaulting; tests replace it.
    choose_host = staticmethod(choose_host_address)

    longdesc = ("The Kubernetes API server validates and configures data for the API objects (pods, "
                "services, deployments, ...) and serves the REST API through which every other "
                "component reads and changes the cluster's state.")

    optParameters = [
        ["insecure-bind-address", None, "127.0.0.1",
         "The IP address on which to serve plain HTTP (no TLS, no authentication)."],
        ["insecure-port", None, "8080",
         "The port on which to serve plain HTTP. 0 turns the insecure listener off."],
        ["bind-address", None, "0.0.0.0",
         "The IP address on which to listen for --secure-port."],
        ["secure-port", None, "6443",
         "The port on which to serve HTTPS with authentication and authorization. 0 turns it off."],
        ["data-dir", None, "./kapiserver-data",
         "Directory holding the embedded SQLite store (storage backend sqlite)."],
        ["storage-backend", None, None,
         "The storage backend: sqlite (the default), etcd3 (the default when --etcd-servers is given) "
         "or memory (nothing kept past the process)."],
        ["etcd-servers", None, None,
         "etcd servers to store in (scheme://ip:port), comma separated; selects the etcd3 backend."],
        ["etcd-prefix", None, "/registry",
         "The prefix prepended to every key in storage."],
        ["etcd-servers-overrides", None, None,
         "Per-resource etcd servers, comma separated, each group/resource#servers with the servers "
         "separated by semicolons (the core group is empty: /pods#http://etcd2:2379)."],
        ["etcd-cafile", None, None,
         "The PEM file of the certificate authority that signed the etcd servers' certificates."],
        ["etcd-certfile", None, None,
         "The PEM client certificate presented to etcd."],
        ["etcd-keyfile", None, None,
         "The PEM private key of --etcd-certfile."],
        ["storage-media-type", None, "application/json",
         "The media type objects are stored in: application/json (what kapiserver writes); "
         "application/yaml and application/vnd.kubernetes.protobuf are accepted and stored as JSON."],
        ["service-cluster-ip-range", None, "10.0.0.0/24",
         "The CIDR from which Service cluster IPs are allocated; at most 20 host bits."],
        ["service-node-port-range", None, "30000-32767",
         "The range of ports reserved for NodePort Services, inclusive (low-high, base+size or one port)."],
        ["advertise-address", None, None,
         "The IP address advertised to the cluster (the kubernetes Service's endpoint). If unset, the "
         "bind address; if that is unspecified or loopback, the address of the host's default-route "
         "interface; 127.0.0.1 when the host has none."],
        ["endpoint-reconciler-type", None, "lease",
         "How the kubernetes Service's endpoints are kept: lease (every live apiserver), master-count "
         "(deprecated; see --apiserver-count) or none."],
        ["apiserver-count", None, "1",
         "DEPRECATED: the number of apiservers in the cluster, with --endpoint-reconciler-type=master-count."],
        ["event-ttl", None, "1h0m0s",
         "How long Events are kept (a Go duration)."],
        ["embedded-controllers", None, "namespace-controller,garbage-collector-controller,serviceaccount-controller,"
                                       "serviceaccount-token-controller,root-ca-certificate-publisher-controller,"
                                       "persistentvolumeclaim-protection-controller,"
                                       "persistentvolume-protection-controller",
         "The kube-controller-manager controllers this apiserver runs itself, through a loopback client, comma "
         "separated (these, or fewer); empty for none, when kube-controller-manager runs them."],
        ["delete-collection-workers", None, "1",
         "Number of workers spawned for each DeleteCollection call."],
        ["watch-cache", None, "true",
         "Serve lists and watches from the in-memory watch cache."],
        ["watch-cache-sizes", None, None,
         "Watch cache sizes per resource, comma separated, each resource[.group]#size."],
        ["default-watch-cache-size", None, "100",
         "The watch cache size for resources not named in --watch-cache-sizes. 0 disables caching them."],
        ["runtime-config", None, None,
         "API groups and versions to turn on or off, comma separated key=value pairs: api/all, "
         "api/ga, api/beta, api/alpha, or group/version."],
        ["master-service-namespace", None, "default",
         "DEPRECATED: the namespace of the kubernetes Service."],
        ["etcd-compaction-interval", None, "5m0s",
         "How often old revisions are compacted away (a Go duration). 0 turns compaction off."],
        ["max-request-bytes", None, "3145728",
         "The largest request body accepted, in bytes."],
        ["request-timeout", None, "1m0s",
         "How long a non-long-running request may take before it times out (a Go duration)."],
        ["min-request-timeout", None, "1800",
         "The least number of seconds a watch stays open; each watch picks a random timeout above it."],
        ["max-open-connections", None, "0",
         "The most connections served at once on the API's ports; a connection past it is answered 503 and "
         "closed. 0: the open-files limit less a reserve (a quarter of it, at most 1024)."],
        ["shutdown-delay-duration", None, "0s",
         "On SIGTERM, how long /readyz reports failure while requests are still served, before the "
         "listeners stop (a Go duration)."],
        ["shutdown-watch-termination-grace-period", None, "0s",
         "On SIGTERM, once every committed event has been delivered, how long watches may run on before "
         "they are ended (a Go duration; 0 ends them at once)."],
        ["kubernetes-service-node-port", None, "0",
         "If non-zero, the kubernetes Service is a NodePort Service on this port (within "
         "--service-node-port-range); 0 keeps it ClusterIP."],
        ["enable-fault-injection", None, "false",
         "Serve /debug/kapiserver/faults, where members of system:masters set rules that make chosen API "
         "requests fail, slow down or drop (for testing controllers). Never on a production server."],
        ["enable-store-reset", None, "false",
         "Serve /debug/kapiserver/snapshot and /debug/kapiserver/reset, where members of system:masters "
         "snapshot the embedded store and put it back (the pytest plugin's reset between tests)."],
        ["workers", None, "0",
         "Worker processes serving the API's ports, started by this one, which then holds the embedded store "
         "and runs the controllers, and serves the API only to them; each worker has its own watch caches and "
         "reaches the store through this process. 0: this process serves the API itself. The embedded store "
         "only (on etcd, run several kube-apiservers instead)."],
        ["worker-of", None, None,
         "Internal: set by --workers on the worker processes it starts (the Unix socket of the store)."],
        ["v", "v", "0",
         "Log verbosity level. 2 logs one line per request."],
    ] + [[name, None, default, help] for name, default, help in security_options.PARAMETERS] \
      + [[name, None, default, help] for name, default, help in node_access_options.PARAMETERS]

    def opt_version(self, value):
        """Print version information and quit (--version, --version=raw)."""
        if value == "raw":
            print(raw_version_string())
            sys.exit(0)
        try:
            wanted = parse_bool(value)
        except ValueError:
            raise usage.UsageError(f'invalid argument "{value}" for "--version" flag: '
                                   f"want true, false or raw") from None
        if wanted:
            print(version_string())
            sys.exit(0)

    def parseArgs(self, *args):
        """kube-apiserver takes flags only."""
        if args:
            quoted = ", ".join(f'"{arg}"' for arg in args)
            raise usage.UsageError(f'"kube-apiserver" does not take any arguments, got [{quoted}]')

    def postOptions(self):
        """Validate every value; the resulting ServerConfig is kept as `self.server_config`."""
        try:
            self.server_config = ServerConfig.from_options(self, choose_host=self.choose_host)
        except OptionError as e:
            raise usage.UsageError(str(e)) from None


# Flags a worker is not given again: it is one worker, told its store by --worker-of.
_NOT_FOR_WORKERS = frozenset({"workers", "worker-of", "version"})


def worker_flags(options) -> list[str]:
    """The flags a --workers worker runs with: every flag of ``options`` (parsed Options, or a mapping of flag
    name to value) as ``--name=value``, so it serves what this process serves."""
    flags = []
    for name, value in options.items():
        if value is None or name in _NOT_FOR_WORKERS:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        elif isinstance(value, bool):
            value = "true" if value else "false"
        flags.append(f"--{name}={value}")
    return flags


def makeService(config, reactor=None):
    """The kube-apiserver service for parsed `config` (an Options, or any mapping of flag name to value)."""
    server_config = getattr(config, "server_config", None)
    if server_config is None:
        server_config = ServerConfig.from_options(config)
    logs.set_verbosity(server_config.verbosity)
    if server_config.advertise_address_is_fallback:
        _log.warn("No usable address on a default-route interface; advertising {address}. "
                  "Set --advertise-address to an address the cluster can reach.",
                  address=str(server_config.advertise_address))
    warning = security_options.anonymous_warning(server_config.security)
    if warning and server_config.secure_port:
        _log.warn(warning)
    from kapiserver.listener import raise_open_files_limit
    raise_open_files_limit()
    if reactor is None:
        from twisted.internet import reactor
    # Imported here: the service tree is heavy and only needed once options are known to be good.
    from kapiserver.server import make_service
    return make_service(server_config, reactor,
                        worker_flags=worker_flags(config) if server_config.workers else ())


def makeTwistdService(options):
    """`twistd kube-apiserver`'s service: makeService's, with the start's fatal failures ending the process
    with status 1 rather than twistd's 0.  The embedded store's data dir is locked here, before the reactor
    runs and before twistd daemonizes (the daemon inherits the lock), so a second server on a data dir in use
    stops at once with one line; a failure later in the start (a port in use) ends the process with status 1
    once the reactor has stopped."""
    server_config = getattr(options, "server_config", None) or ServerConfig.from_options(options)
    if server_config.storage_backend == "sqlite" and not server_config.worker_of:
        from kapiserver.storage import InUse, Unavailable
        from kapiserver.storage.sqlite import claim_data_dir
        try:
            claim_data_dir(server_config.data_dir)
        except (InUse, Unavailable) as e:
            raise SystemExit(f"kube-apiserver failed to start: {e}") from None
    from twisted.internet import reactor

    from kapiserver import exitstatus, gcpolicy, signals
    service = makeService(options, reactor)
    gcpolicy.apply(service)
    if not server_config.worker_of:
        signals.exit_on_second(reactor)
    exitstatus.exit_after_shutdown(reactor, lambda: getattr(service, "start_failure", None) is not None)
    return service


# What twisted/plugins/kapiserver_plugin.py names: the same flags, the service built by makeTwistdService.
twistd = types.SimpleNamespace(Options=Options, makeService=makeTwistdService)
