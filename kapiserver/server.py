"""
The service tree of one kube-apiserver, in `make_service`: storage, the registry, the controllers the
apiserver runs itself, the periodic work, the API's handlers and the listeners.  The children start in the
order make_service adds them, each once the one before it is ready (storage open, the first bootstrap
reconcile done, the controllers' watches established), and stop in the reverse order.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, Mapping

from twisted.application import service
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred, gatherResults, maybeDeferred
from twisted.internet.error import ReactorNotRunning
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource

from .config import ServerConfig
from .controllers import identity
from .controllers.bootstrap import RECONCILE_INTERVAL, BootstrapController
from .controllers.apf import APFConfigController
from .controllers.apiserviceavailability import APIServiceAvailability
from .controllers.apiservices import APIServiceRegistration
from .controllers.extensionauth import ExtensionAuthentication
from .controllers.crd import CRDController
from .controllers.eventttl import EventTTLController
from .client.leaderelection import LeaderElector
from .listener import Listener, QuietSite, ServerEndpoint, tcp_endpoint
from .runtime import Connections, connection_cap, wrap_site
from .services import ControllerService, ElectedService, Periodic, SequentialService
from .storage import Unavailable

log = Logger()


# The Lease (kube-system) electing, among apiservers on one etcd, the one that runs namespace
# finalization, garbage collection and event TTL: what kube-controller-manager runs under its own election.
CONTROLLERS_LEASE = "kube-apiserver-controllers"


class StartupError(Exception):
    """A condition that stops the server's start and is told in one line (a serving certificate that does not
    load): the traceback would only bury it."""


def make_service(config: ServerConfig, reactor, worker_flags=()) -> APIServerService:
    """kube-apiserver's service tree for ``config``: the children start in the order added here, each once
    the one before it is ready, and stop in the reverse order.  With --workers, ``worker_flags`` are the flags
    the workers are started with (tap.worker_flags); a worker (--worker-of) has a tree of its own."""
    if config.worker_of:
        return make_worker_service(config, reactor)
    lease_name, holder = apiserver_identity(config)
    apiserver = APIServerService(reactor)
    storage = apiserver.add(StorageService(lambda: ensureDeferred(open_storage(config, reactor)), close_storage))
    workers = None
    if config.workers:
        # Started once the store is open, so that the workers start (their imports, their caches' fill) while this
        # process does; each listens once this process has started (``serving``).  Stopped just before the store.
        from .workers import WorkersService
        workers = apiserver.add(WorkersService(reactor, storage, config.workers, list(worker_flags)))
    registry = apiserver.add(RegistryService(config, reactor, storage))
    # The system namespaces and the kubernetes Service, kept in place; stopping removes this apiserver
    # from the kubernetes Endpoints (its master lease deleted), as upstream's pre-shutdown hook does.
    bootstrap = apiserver.add(registry.controller(bootstrap_controller, config, reactor))
    apiserver.add(Periodic(RECONCILE_INTERVAL, lambda: bootstrap.controller.reconcile(), reactor))
    apiserver.add(registry.controller(CRDController, reactor))
    # The local APIServices of what this apiserver serves (the aggregator's autoregistration), and API
    # Priority and Fairness's bootstrap FlowSchemas and PriorityLevelConfigurations (ensured every minute, with
    # the FlowSchemas' Dangling conditions). Both are in place before the listeners serve: written later, on a
    # first start, they would move the watch caches' windows past the resourceVersions of a client's first
    # writes, and that client could not resume its watches across a restart (on a restart nothing is written).
    apiserver.add(registry.controller(APIServiceRegistration, reactor))
    apiserver.add(registry.controller(APFConfigController, reactor))
    # This apiserver's identity Lease, first written once the watch caches have filled: written before,
    # it would move a cache's window past a client's last resourceVersion, breaking its watch's resume.
    apiserver.add(registry.controller(identity.IdentityLeaseController, reactor, lease_name, holder,
                                      socket.gethostname(), wait_for=registry.watch_caches_filled))
    if config.etcd_compaction_interval > 0:
        apiserver.add(Periodic(config.etcd_compaction_interval, Compactor(storage).compact, reactor))
    handlers = apiserver.add(HandlerService(config, reactor, registry))
    if workers is not None:
        # This process's part of the workers' /metrics (its handlers' context exists once they have started).
        workers.collect = lambda what: handlers.context.metrics.share(what)
    # The remote APIServices' Available condition, checked through the handlers' proxy (its client certificate).
    apiserver.add(registry.controller(APIServiceAvailability, reactor, lambda: handlers.aggregator))
    apiserver.add(registry.controller(ExtensionAuthentication, reactor, lambda: handlers.extension_authentication))
    # With --workers, the workers serve the API's ports; this process serves its own clients (loopback).
    listeners = [] if config.workers else add_listeners(apiserver, config, reactor, handlers)
    # The loopback listener the apiserver's own clients use (a random bearer token, as upstream's loopback
    # client token): kube-controller-manager's controllers run here are its clients like any other.
    loopback = None
    if config.embedded_controllers:
        from .controllermanager.embedded import LoopbackSite
        loopback = apiserver.add(Listener(reactor, tcp_endpoint(reactor, 0, "127.0.0.1"), LoopbackSite(handlers.insecure_site),
                                          "loopback", how="for its own clients"))
    # Event TTL on the registry, and kube-controller-manager's namespace and garbage collector controllers
    # (--embedded-controllers): elected among the apiservers sharing an etcd.
    controllers = apiserver.add(controllers_election(config, reactor, registry, lease_name, holder))
    controllers.add(registry.controller(EventTTLController, reactor, config.event_ttl))
    if loopback is not None:
        from .controllermanager.embedded import EmbeddedControllers
        controllers.add(EmbeddedControllers(reactor, loopback, list(config.embedded_controllers),
                                            embedded_controller_options(config)))
    apiserver.shutdown = GracefulShutdown(config, reactor, handlers, registry, controllers, listeners)
    if workers is not None:
        apiserver.ready.addCallback(workers.serving)
    return apiserver


def make_worker_service(config: ServerConfig, reactor) -> APIServerService:
    """A --workers worker: the API served on the ports it shares with the other workers, over the primary's store
    (``config.worker_of``), with watch caches, the CRDs' serving, the remote APIServices' discovery and the
    handlers of its own.  What writes the
    cluster's own objects (bootstrap, APIServices, API Priority and Fairness's configuration, the identity
    Lease, compaction, the embedded controllers, a deleted CRD's finalization) runs in the primary alone."""
    apiserver = APIServerService(reactor)

    async def open_remote() -> Storages:
        from .storage.remote import connect_remote
        remote = await connect_remote(config.worker_of, reactor)
        remote.lost.addCallback(lambda _: apiserver.fail(
            Failure(Unavailable(f"the store's connection to the primary ({config.worker_of}) ended"))))
        return Storages(remote)

    storage = apiserver.add(StorageService(lambda: ensureDeferred(open_remote()), close_storage))
    registry = apiserver.add(RegistryService(config, reactor, storage))
    apiserver.add(registry.controller(CRDController, reactor, finalizes=False))
    handlers = apiserver.add(HandlerService(config, reactor, registry))
    apiserver.add(SharedMetrics(storage, handlers))
    # The remote APIServices' discovery and OpenAPI, fetched for this worker's aggregator.
    apiserver.add(registry.controller(APIServiceAvailability, reactor, lambda: handlers.aggregator,
                                      writes_status=False))
    # Serving once the primary has started: its bootstrap done, its APIServices and flow control configured.
    apiserver.add(PrimaryStarted(storage))
    listeners = add_listeners(apiserver, config, reactor, handlers)
    apiserver.shutdown = GracefulShutdown(config, reactor, handlers, registry, None, listeners)
    return apiserver


class SharedMetrics(service.Service):
    """A --workers worker's /metrics answers for the whole apiserver: its own metrics with those of the
    primary and the other workers, gathered over the store's connection (kapiserver.storage.remote); and it
    answers their gathers with its own."""

    def __init__(self, storage: "StorageService", handlers: "HandlerService"):
        self.storage = storage
        self.handlers = handlers

    def startService(self) -> None:
        super().startService()
        remote, metrics = self.storage.storage.default, self.handlers.context.metrics
        remote.on_collect = metrics.share
        metrics.peers = remote.gather


class PrimaryStarted(service.Service):
    """Starts once the primary of a --workers worker has started every part of it."""

    def __init__(self, storage: "StorageService"):
        self.storage = storage

    def startService(self) -> Deferred:
        super().startService()
        return self.storage.storage.default.until_started()


def add_listeners(apiserver: "APIServerService", config: ServerConfig, reactor, handlers: "HandlerService") -> list:
    """The API's listeners (secure, insecure) as children of ``apiserver``; the list of them.  A --workers
    worker shares its ports with the other workers (SO_REUSEPORT)."""
    listeners = []
    if config.secure_port:
        listeners.append(apiserver.add(Listener(reactor, handlers.secure_endpoint, handlers.secure_site, "secure",
                                                how="securely")))
    if config.insecure_port:
        endpoint = tcp_endpoint(reactor, config.insecure_port, config.insecure_bind_address,
                                reuse_port=bool(config.worker_of))
        listeners.append(apiserver.add(Listener(reactor, endpoint, handlers.insecure_site, "insecure")))
    return listeners


class GracefulShutdown:
    """What SIGTERM does before the services stop, in upstream's order: /readyz fails (check "shutdown");
    after --shutdown-delay-duration the listeners stop and the controllers the apiserver runs end; a request
    arriving then is refused (503) while those in flight finish; the watch caches hand their watchers every
    event committed so far; after --shutdown-watch-termination-grace-period (or once no watch is left) the
    watches end, each after what it has queued; the connections close once their last bytes are sent.  Only
    then do the services stop, storage last, so no write a client saw answered is missing from its watch."""

    # Bounds on the waits that depend on others: storage catching up, connections closing.
    CATCH_UP_TIMEOUT = 10.0
    CLOSE_TIMEOUT = 5.0

    def __init__(self, config: ServerConfig, clock, handlers: "HandlerService", registry: RegistryService,
                 controllers: "service.IService | None", listeners: list):
        self.config = config
        self.clock = clock
        self.handlers = handlers
        self.registry = registry
        self.controllers = controllers
        self.listeners = listeners

    async def run(self) -> None:
        from twisted.internet.task import deferLater

        from .runtime import RuntimeLimits
        handlers, config = self.handlers, self.config
        if handlers.context is not None:
            handlers.context.shutting_down = True
        log.info("Shutting down: /readyz fails from now on")
        if config.shutdown_delay_duration > 0:
            await deferLater(self.clock, config.shutdown_delay_duration, lambda: None)
        for listener in self.listeners:
            if listener.running:
                await maybeDeferred(listener.stopService)
        if self.controllers is not None and self.controllers.running:
            await maybeDeferred(self.controllers.stopService)
        limits = [site.resource for site in (handlers.secure_site, handlers.insecure_site)
                  if isinstance(site.resource, RuntimeLimits)]
        for each in limits:
            each.drain()
        await self._bounded(gatherResults([each.idle() for each in limits]), config.request_timeout + 5.0,
                            "requests still in flight")
        registry = self.registry.registry
        if registry is None:
            return
        if not await registry.watches_caught_up(self.CATCH_UP_TIMEOUT):
            log.warn("Shutting down: a watch cache did not catch up with storage in {timeout}s",
                     timeout=self.CATCH_UP_TIMEOUT)
        grace = config.shutdown_watch_termination_grace_period
        waited = 0.0
        while grace > 0 and waited < grace and registry.watch_count():
            step = min(0.1, grace - waited)
            await deferLater(self.clock, step, lambda: None)
            waited += step
        registry.stop_watch_caches()
        if not await self._bounded(handlers.connections.close_all(), self.CLOSE_TIMEOUT, "connections still open"):
            handlers.connections.abort_all()
        log.info("Shutting down: requests drained, watches ended")

    async def _bounded(self, d: Deferred, timeout: float, what: str) -> bool:
        """Whether ``d`` fired within ``timeout`` seconds."""
        from twisted.internet import defer, error
        d.addTimeout(timeout, self.clock)
        try:
            await d
        except (defer.CancelledError, defer.TimeoutError, error.TimeoutError):
            log.warn("Shutting down: {what} after {timeout}s; going on", what=what, timeout=timeout)
            return False
        return True


def embedded_controller_options(config: ServerConfig) -> dict:
    """kube-controller-manager's flags for the controllers this apiserver runs: upstream's defaults, but
    for the namespace controller's wait before it looks at a deleted namespace's content, which is for
    the other apiservers sharing an etcd to see the deletion (none with the embedded stores), and the root CA
    file, which is this apiserver's."""
    from pathlib import Path

    from .auth import certs
    from .auth.setup import SERVICE_ACCOUNT_KEY
    options = {"garbage-collector-resync-period": 30.0}
    if config.storage_backend != "etcd3":
        options["namespace-deletion-grace-period"] = 0.0
    # kube-root-ca.crt publishes the CA that verifies this apiserver: the one that signed its generated serving
    # certificate, or the serving certificate (with its chain) when one is given.
    sec = config.security
    if config.secure_port:
        options["root-ca-file"] = sec.tls_cert_file or str(Path(sec.cert_dir) / certs.CA_CERT)
        # Legacy token Secrets are signed with the key this apiserver signs service-account tokens with.
        options["service-account-private-key-file"] = sec.service_account_signing_key_file or \
            (sec.tls_private_key_file if sec.tls_cert_file else str(Path(sec.cert_dir) / SERVICE_ACCOUNT_KEY))
    return options


class APIServerService(SequentialService):
    """The root: ``ready`` fires once every child has started and every listener listens; a failure to
    start is logged and stops the reactor."""

    def __init__(self, reactor):
        super().__init__()
        self.reactor = reactor
        self.ready = Deferred()
        # Run before the children stop, once the server has started (a GracefulShutdown).
        self.shutdown = None
        # Why the start failed (a Failure), once it has: the process then exits with a non-zero status.
        self.start_failure = None

    def startService(self) -> Deferred:
        d = super().startService()
        d.addCallback(lambda _: DeferredList([child.listening for child in self if isinstance(child, Listener)]))
        d.addCallbacks(lambda _: self.ready.callback(self), self._failed)
        return d

    def stopService(self) -> Deferred:
        service.Service.stopService(self)
        return ensureDeferred(self._stop())

    async def _stop(self) -> None:
        if self.shutdown is not None and self.ready.called and self.start_failure is None:
            try:
                await self.shutdown.run()
            except Exception:
                log.failure("the graceful part of the shutdown failed; stopping at once")
        await self._stop_in_reverse()

    def fail(self, failure) -> None:
        """End the server for ``failure`` (its start failed, or a worker lost its store): logged, the reactor
        stopped, and the process's exit status non-zero."""
        self._failed(failure)

    def _failed(self, failure) -> None:
        self.start_failure = failure
        from .storage import InUse
        if failure.check(InUse, StartupError):
            # An expected condition, told in one line: the traceback would only bury it.
            log.critical("kube-apiserver failed to start: {error}", error=failure.getErrorMessage())
        else:
            log.failure("kube-apiserver failed to start", failure)
        if self.running:
            try:
                self.reactor.stop()
            except ReactorNotRunning:
                pass


# --- storage and the registry -----------------------------------------------------------------------

@dataclass(frozen=True)
class Storages:
    """The storages a server uses: the default, and one per cluster --etcd-servers-overrides names,
    by the (group, resource) routed to it."""

    default: Any
    overrides: Mapping[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def all(self) -> list:
        """Each storage once, the default first."""
        out = [self.default]
        for storage in self.overrides.values():
            if all(storage is not known for known in out):
                out.append(storage)
        return out


async def open_storage(config: ServerConfig, reactor) -> Storages:
    """The storages --storage-backend (and --etcd-*) ask for, once open."""
    if config.storage_backend == "sqlite":
        from .storage.sqlite import open_sqlite
        return Storages(await open_sqlite(config.data_dir, reactor))
    if config.storage_backend == "memory":
        from .storage.memory import MemoryStorage
        return Storages(MemoryStorage(reactor))
    if config.storage_backend == "etcd3":
        from .storage.etcd3 import TLSFiles, open_etcd3
        tls = TLSFiles(config.etcd_cafile, config.etcd_certfile, config.etcd_keyfile)
        # Clusters named by the same server list share one client.
        by_servers = {tuple(config.etcd_servers): await open_etcd3(list(config.etcd_servers), reactor, tls=tls)}
        overrides = {}
        for resource, servers in config.etcd_servers_overrides.items():
            if tuple(servers) not in by_servers:
                by_servers[tuple(servers)] = await open_etcd3(list(servers), reactor, tls=tls)
            group, _, name = resource.partition("/")
            overrides[(group, name)] = by_servers[tuple(servers)]
        return Storages(by_servers[tuple(config.etcd_servers)], overrides)
    raise RuntimeError(f"storage backend {config.storage_backend!r} is not available yet")


def close_storage(storages: Storages) -> Deferred:
    return gatherResults([storage.close() for storage in storages.all])


class StorageService(service.Service):
    """Opens storage when it starts (``storage``, once open) and closes it when it stops."""

    def __init__(self, open, close):
        self.open = open
        self.close = close
        self.storage = None
        self._settled = None

    def startService(self) -> Deferred:
        super().startService()
        self._settled = Deferred()
        return ensureDeferred(self._open())

    async def _open(self) -> None:
        try:
            self.storage = await self.open()
        finally:
            self._settled.callback(None)

    def stopService(self) -> Deferred:
        super().stopService()
        return ensureDeferred(self._close())

    async def _close(self) -> None:
        await self._settled     # stopped while opening: close what the open gives
        storage, self.storage = self.storage, None
        if storage is not None:
            await self.close(storage)


def build_registry(config: ServerConfig, reactor, storages: Storages):
    """The Registry over ``storages``: the resources --runtime-config serves, each with its watch cache and
    in the storage routed to it."""
    from .auth.context import current_user
    from .registry.catalog import Catalog, enabled_builtin
    from .registry.registry import Registry
    registry = Registry(storages.default, reactor, catalog=Catalog(enabled_builtin(config.runtime_config)),
                        prefix=config.etcd_prefix.encode(),
                        service_cluster_ip_range=config.service_cluster_ip_range,
                        service_node_port_range=config.service_node_port_range,
                        watch_cache=config.watch_cache, watch_cache_sizes=config.watch_cache_sizes,
                        default_watch_cache_size=config.default_watch_cache_size,
                        storage_overrides=storages.overrides,
                        delete_collection_workers=config.delete_collection_workers)
    registry.request_user = lambda: current_user().to_api()
    return registry


class RegistryService(service.Service):
    """Builds the Registry once storage is open (``registry``); stopping stops its watch caches."""

    def __init__(self, config: ServerConfig, reactor, storage: StorageService):
        self.config = config
        self.reactor = reactor
        self.storage = storage
        self.registry = None

    def startService(self) -> None:
        super().startService()
        self.registry = build_registry(self.config, self.reactor, self.storage.storage)

    def stopService(self) -> None:
        super().stopService()
        if self.registry is not None:
            self.registry.stop_watch_caches()

    def controller(self, make, *args, wait_for=None, **kwargs) -> ControllerService:
        """A ControllerService running ``make(registry, *args, **kwargs)``."""
        return ControllerService(lambda: make(self.registry, *args, **kwargs), self.reactor, wait_for=wait_for)

    def watch_caches_filled(self) -> Deferred:
        return self.registry.watch_caches_filled()


class Compactor:
    """Compacts every storage (the default and each override's cluster), at each run, to the revision that
    was current there at the run before, so at least one --etcd-compaction-interval of history stays
    (upstream's compactor, one per cluster)."""

    def __init__(self, storage: StorageService):
        self.storage = storage
        self.last: dict[int, int] = {}

    async def compact(self) -> None:
        for storage in self.storage.storage.all:
            await self._compact(storage)

    async def _compact(self, storage) -> None:
        from .storage import RevisionCompacted
        current = await storage.current_revision()
        last = self.last.get(id(storage))
        if last:
            try:
                await storage.compact(last)
            except RevisionCompacted:
                pass   # another apiserver on the same etcd compacted further already
        self.last[id(storage)] = current


# --- the controllers --------------------------------------------------------------------------------

def apiserver_identity(config: ServerConfig) -> tuple[str, str]:
    """(this apiserver's identity lease name, its holder identity, unique to this process)."""
    lease_name = identity.apiserver_id(socket.gethostname(), identity.serving_address(config))
    return lease_name, identity.holder_identity(lease_name)


def bootstrap_controller(registry, config: ServerConfig, reactor) -> BootstrapController:
    return BootstrapController(registry, config.master_service_namespace,
                               str(config.advertise_address or "127.0.0.1"),
                               config.secure_port or config.insecure_port, config.service_cluster_ip_range,
                               endpoint_reconciler_type=config.endpoint_reconciler_type,
                               apiserver_count=config.apiserver_count, clock=reactor,
                               shared_storage=config.storage_backend == "etcd3")


def controllers_election(config: ServerConfig, reactor, registry: RegistryService, lease_name: str,
                         holder: str) -> SequentialService:
    """Where the controllers run: under an election for CONTROLLERS_LEASE on etcd, where replicas share
    the storage; at once on the embedded store, which one process holds alone (a Lease renewed every 2 s
    would only cost writes there)."""
    if config.storage_backend != "etcd3":
        return SequentialService()

    def elector(on_started_leading, on_stopped_leading) -> LeaderElector:
        # Leading ends with the process: the lease is left to expire, as kube-controller-manager leaves its
        # own; a restart of this apiserver takes it back at once (predecessor_prefix).
        return LeaderElector(registry.registry.store("coordination.k8s.io", "v1", "leases"), reactor, holder,
                             CONTROLLERS_LEASE, on_started_leading=on_started_leading,
                             on_stopped_leading=on_stopped_leading, predecessor_prefix=lease_name + "_")
    return ElectedService(elector)


# --- the API's handlers -----------------------------------------------------------------------------

class HandlerService(service.Service):
    """The API's HTTP handlers, built once the registry is up: the bootstrap RBAC policy, authentication and
    authorization, the admission chain, audit, and with --secure-port the TLS serving options and the admin
    kubeconfig.  The two sites exist from the start, so the listeners are made with them; their resources
    are filled in here."""

    def __init__(self, config: ServerConfig, reactor, registry: RegistryService):
        self.config = config
        self.reactor = reactor
        self.registry = registry
        self.secure_site = QuietSite(Resource())
        self.insecure_site = QuietSite(Resource())
        # The two ports' connections, capped together (each holds one of the process's open files).
        self.connections = Connections(connection_cap(config.max_open_connections), reactor)
        self.secure_site.connections = self.insecure_site.connections = self.connections
        self.tls_options = None
        self.flow_control = None
        self.aggregator = None
        self.extension_authentication = None
        self.context = None
        self.audit = None

    def startService(self) -> Deferred:
        super().startService()
        return ensureDeferred(self._build())

    def stopService(self):
        if self.flow_control is not None:
            self.flow_control.stop()
        super().stopService()
        if self.audit is not None:
            return self.audit.close(self.reactor)     # the events of the requests served are all written
        return None

    async def _build(self) -> None:
        from .auth.policy import ensure_bootstrap_policy
        from .controllers.bootstrap import ensure_system_priority_classes
        from .endpoints.api import APIContext
        from .endpoints.root import APIRoot
        from .endpoints.streams import build_streams
        config, registry, reactor = self.config, self.registry.registry, self.reactor
        context = APIContext(registry, reactor, reactor, config, streams=build_streams(reactor, registry, config))
        install_testing_controls(config, context)
        self.context = context
        await ensure_bootstrap_policy(registry)
        await ensure_system_priority_classes(registry)
        access = config.node_access
        if access.enable_priority_and_fairness:
            from .endpoints.apf import FlowControl
            flow_control = FlowControl(registry, reactor, access.max_requests_inflight +
                                       access.max_mutating_requests_inflight, config.request_timeout)
            await flow_control.start()
            if flow_control.ready:
                from .endpoints import apfmetrics
                self.flow_control = context.flow_control = flow_control
                context.metrics.add_family_source(lambda: apfmetrics.families(flow_control.dispatcher))
        audit = None
        if config.security.audit_log_path:
            from .auth.audit import AuditLog
            audit = self.audit = AuditLog(config.security.audit_log_path)
        security = None
        if config.secure_port:
            security, self.tls_options = secure_serving(config, registry)
        install_admission(config, registry, security)
        context.security = security
        context.aggregator = self.aggregator = remote_apiservices(config, registry, reactor)
        self.extension_authentication = extension_authentication(config)
        if config.secure_port:
            wrap_site(self.secure_site, APIRoot(context, security=security, audit=audit), reactor, config)
        wrap_site(self.insecure_site, APIRoot(context, audit=audit), reactor, config)

    def secure_endpoint(self) -> ServerEndpoint:
        """The secure port's endpoint, with the TLS options built at start."""
        bind = self.config.bind_address
        return tcp_endpoint(self.reactor, self.config.secure_port, bind if bind != "0.0.0.0" else "",
                            tls_options=self.tls_options, reuse_port=bool(self.config.worker_of))


def install_testing_controls(config: ServerConfig, context) -> None:
    """--enable-fault-injection's rules (counted in /metrics) and --enable-store-reset's snapshot and reset."""
    if config.enable_fault_injection:
        from .endpoints.faults import FaultInjector
        context.faults = FaultInjector()
        context.metrics.add_family_source(context.faults.families)
        log.warn("Fault injection is on (--enable-fault-injection): members of system:masters may make API "
                 "requests fail at /debug/kapiserver/faults")
    if config.enable_store_reset:
        from .endpoints.storereset import StoreReset
        context.store_reset = StoreReset(context.registry, context.watches, context.faults)


def secure_serving(config: ServerConfig, registry):
    """(security, TLS options) of the secure port; generates the CA, the serving certificate and the admin
    kubeconfig when no --tls-cert-file is given."""
    from .auth import setup, tls
    cert, key, ca_cert, ca_key = setup.serving_files(config)
    sec = config.security
    try:
        serving = tls.serving_options(cert, key, sec.tls_min_version, sec.tls_cipher_suites)
    except (OSError, ValueError) as e:
        raise StartupError(f"failed to load serving certificate and key ({cert}, {key}): {e}") from None
    security = setup.build_security(config, registry, key, ca_cert)
    if ca_cert is not None and not config.worker_of:
        path = setup.admin_kubeconfig(config, config.secure_port, ca_cert, ca_key)
        log.info("Wrote the admin kubeconfig to {path}", path=path)
    return security, serving


def remote_apiservices(config: ServerConfig, registry, reactor):
    """The aggregator's proxy to extension apiservers, presenting --proxy-client-cert-file (or the front-proxy
    client certificate generated in --cert-dir)."""
    from .auth import certs
    from .endpoints.aggregator import RemoteAPIServices
    sec = config.security
    if sec.proxy_client_cert_file:
        cert_file, key_file = sec.proxy_client_cert_file, sec.proxy_client_key_file
    else:
        _, cert_path, key_path = certs.ensure_front_proxy(sec.cert_dir)
        cert_file, key_file = str(cert_path), str(key_path)
    with open(cert_file, "rb") as f:
        cert = f.read()
    with open(key_file, "rb") as f:
        key = f.read()
    return RemoteAPIServices(registry, reactor, cert, key)


def extension_authentication(config: ServerConfig) -> dict:
    """The extension-apiserver-authentication ConfigMap's data: the client CA (--client-ca-file, or the generated
    CA that signs the admin kubeconfig's certificate), and the front proxies' CA and headers: the
    --requestheader-* flags where given, else the generated front proxy's CA with its client's name and the
    usual X-Remote-* headers (with --proxy-client-cert-file and no --requestheader-client-ca-file the front
    proxy's CA is not known, and no requestheader-* keys are written)."""
    from pathlib import Path

    from .auth import certs
    from .controllers.extensionauth import authentication_data
    sec = config.security
    client_ca = None
    if sec.client_ca_file:
        client_ca = Path(sec.client_ca_file).read_text()
    elif config.secure_port and not sec.tls_cert_file and (Path(sec.cert_dir) / certs.CA_CERT).exists():
        client_ca = (Path(sec.cert_dir) / certs.CA_CERT).read_text()
    if sec.requestheader_client_ca_file:
        return authentication_data(client_ca, Path(sec.requestheader_client_ca_file).read_text(),
                                   list(sec.requestheader_allowed_names), list(sec.requestheader_username_headers),
                                   list(sec.requestheader_group_headers),
                                   list(sec.requestheader_extra_headers_prefix))
    front_proxy_ca = None
    if not sec.proxy_client_cert_file:
        front_proxy_ca = (Path(sec.cert_dir) / certs.FRONT_PROXY_CA_CERT).read_text()
    return authentication_data(client_ca, front_proxy_ca, [certs.FRONT_PROXY_CLIENT_NAME])


def install_admission(config: ServerConfig, registry, security) -> None:
    """Build the admission chain the flags ask for and hand it to the registry, whose stores admit through it;
    the chain learns each request's user and response record from the authentication layer's context."""
    from .admission import options as admission_options
    from .admission.chain import build_chain
    from .auth import context as request_context
    sec = config.security
    registry.admission = build_chain(registry, security, sec.enable_admission_plugins, sec.disable_admission_plugins,
                                     sec.admission_control, sec.allow_privileged,
                                     plugin_config=admission_options.load_for(sec), context=request_context,
                                     toleration_seconds=(sec.default_not_ready_toleration_seconds,
                                                         sec.default_unreachable_toleration_seconds))
