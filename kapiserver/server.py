"""
The service tree of one kube-apiserver: storage, the registry, the
controllers the apiserver runs itself, and the listeners.

Listeners come up once storage is open; a listen that fails (the port is
taken) is retried every LISTEN_RETRY seconds instead of ending the process.
"""

from __future__ import annotations

from twisted.application import service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, DeferredList, gatherResults, succeed
from twisted.logger import Logger
from twisted.web.server import Request, Site

from .config import ServerConfig
from .runtime import wrap_site

log = Logger()
LISTEN_RETRY = 15.0
# The Lease (kube-system) electing, among apiservers on one etcd, the one that runs namespace
# finalization, garbage collection and event TTL: what kube-controller-manager runs under its own election.
CONTROLLERS_LEASE = "kube-apiserver-controllers"


class _RawBodyRequest(Request):
    # Bodies are API objects: a form Content-Type must neither add query parameters nor (malformed
    # multipart) make twisted.web answer a bare 400 before the API can answer with a Status.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False


class _QuietSite(Site):
    """twisted.web's access log is replaced by kapiserver's request log."""

    requestFactory = _RawBodyRequest

    def log(self, request):
        pass


class Listener(service.Service):
    """Listen on an endpoint; on failure, log and try again later."""

    def __init__(self, reactor, description, factory, name: str, how: str = "insecurely"):
        """``description`` is an endpoint string or an IStreamServerEndpoint."""
        self.reactor = reactor
        self.how = how
        self.description = description
        self.factory = factory
        self.setName(name)
        self.port = None
        self._retry = None
        self.listening = Deferred()

    def startService(self):
        super().startService()
        self._listen()

    def _listen(self):
        self._retry = None
        endpoint = self.description
        if isinstance(endpoint, str):
            endpoint = endpoints.serverFromString(self.reactor, endpoint)
        d = endpoint.listen(self.factory)

        def listening(port):
            self.port = port
            log.info("Serving {how} on {address}", how=self.how, address=_address(port))
            if not self.listening.called:
                self.listening.callback(port)

        def failed(failure):
            log.error("Unable to listen on {description}: {error}; retrying in {retry}s",
                      description=self.description, error=failure.getErrorMessage(), retry=LISTEN_RETRY)
            if self.running:
                self._retry = self.reactor.callLater(LISTEN_RETRY, self._listen)
        d.addCallbacks(listening, failed)

    def stopService(self):
        super().stopService()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        if self.port is not None:
            port, self.port = self.port, None
            return port.stopListening()


def _address(port) -> str:
    host = port.getHost()
    return f"{host.host}:{host.port}"


class APIServerService(service.MultiService):
    """Opens storage, builds the registry and controllers, then starts listening."""

    def __init__(self, config: ServerConfig, reactor, storage=None):
        super().__init__()
        self.config = config
        self.reactor = reactor
        self.storage = storage
        self.storage_overrides = {}
        self.registry = None
        self.ready = Deferred()
        self._timers = []
        self._namespace_controller = None
        self._crd_controller = None
        self._garbage_collector = None
        self._event_ttl_controller = None
        self._identity = None
        self._elector = None
        self._bootstrap = None

    def startService(self):
        service.Service.startService(self)
        d = Deferred.fromCoroutine(self._start())
        d.addErrback(self._failed)

    def _failed(self, failure):
        log.failure("kube-apiserver failed to start", failure)
        if self.reactor.running:
            self.reactor.stop()

    async def _open_storage(self):
        """The default storage, and {(group, resource): storage} for --etcd-servers-overrides
        (one storage per cluster named)."""
        config = self.config
        if config.storage_backend == "sqlite":
            from .storage.sqlite import open_sqlite
            return await open_sqlite(config.data_dir, self.reactor), {}
        if config.storage_backend == "memory":
            from .storage.memory import MemoryStorage
            return MemoryStorage(self.reactor), {}
        if config.storage_backend == "etcd3":
            from .storage.etcd3 import TLSFiles, open_etcd3
            tls = TLSFiles(config.etcd_cafile, config.etcd_certfile, config.etcd_keyfile)
            by_servers = {tuple(config.etcd_servers): await open_etcd3(list(config.etcd_servers), self.reactor,
                                                                       tls=tls)}
            overrides = {}
            for resource, servers in config.etcd_servers_overrides.items():
                if tuple(servers) not in by_servers:
                    by_servers[tuple(servers)] = await open_etcd3(list(servers), self.reactor, tls=tls)
                group, _, name = resource.partition("/")
                overrides[(group, name)] = by_servers[tuple(servers)]
            return by_servers[tuple(config.etcd_servers)], overrides
        raise RuntimeError(f"storage backend {config.storage_backend!r} is not available yet")

    async def _start(self):
        from .controllers.bootstrap import BootstrapController
        from .endpoints.api import APIContext
        from .endpoints.root import APIRoot
        from .registry.registry import Registry
        config = self.config
        if self.storage is None:
            self.storage, self.storage_overrides = await self._open_storage()
        from .registry.catalog import Catalog, enabled_builtin
        catalog = Catalog(enabled_builtin(config.runtime_config))
        self.registry = Registry(self.storage, self.reactor, catalog=catalog, prefix=config.etcd_prefix.encode(),
                                 service_cluster_ip_range=config.service_cluster_ip_range,
                                 service_node_port_range=config.service_node_port_range,
                                 watch_cache=config.watch_cache, watch_cache_sizes=config.watch_cache_sizes,
                                 default_watch_cache_size=config.default_watch_cache_size,
                                 storage_overrides=self.storage_overrides)
        from .auth.context import current_user
        self.registry.request_user = lambda: current_user().to_api()
        port = config.secure_port or config.insecure_port
        bootstrap = BootstrapController(self.registry, config.master_service_namespace,
                                        str(config.advertise_address or "127.0.0.1"), port,
                                        config.service_cluster_ip_range,
                                        endpoint_reconciler_type=config.endpoint_reconciler_type,
                                        apiserver_count=config.apiserver_count, clock=self.reactor,
                                        shared_storage=config.storage_backend == "etcd3")
        self._bootstrap = bootstrap
        await bootstrap.reconcile()
        self._every(10.0, bootstrap.reconcile)
        from .controllers.crd import CRDController
        self._crd_controller = CRDController(self.registry, self.reactor)
        await self._crd_controller.start()
        await self._start_elections()
        if config.etcd_compaction_interval > 0:
            self._start_compaction(config.etcd_compaction_interval)
        from .endpoints.streams import build_streams
        context = APIContext(self.registry, self.reactor, self.reactor, config,
                             streams=build_streams(self.reactor, self.registry, config))
        security, audit = await self._security(context)
        site = _QuietSite(APIRoot(context, audit=audit))
        site.displayTracebacks = False
        wrap_site(site, site.resource, self.reactor, config)
        if config.insecure_port:
            description = f"tcp:{config.insecure_port}:interface={_endpoint_host(config.insecure_bind_address)}"
            listener = Listener(self.reactor, description, site, "insecure")
            listener.setServiceParent(self)
            await listener.listening
        self.ready.callback(self)

    async def _security(self, context):
        """Bootstrap RBAC policy, the admission chain and, with --secure-port, the TLS listener."""
        from .admission import config as admission_config
        from .admission.chain import build_chain, install
        from .auth.policy import ensure_bootstrap_policy
        config, sec = self.config, self.config.security
        await ensure_bootstrap_policy(self.registry)
        audit = None
        if sec.audit_log_path:
            from .auth.audit import AuditLog
            audit = AuditLog(sec.audit_log_path)
        security = None
        if config.secure_port:
            security = self._secure_listener(context, audit)
        install(self.registry, build_chain(self.registry, security, sec.enable_admission_plugins,
                                           sec.disable_admission_plugins, sec.admission_control,
                                           sec.allow_privileged, getattr(security, "webhooks", None),
                                           plugin_config=admission_config.load_for(sec)))
        context.security = security
        return security, audit

    def _secure_listener(self, context, audit):
        """The HTTPS listener; generates the CA, serving certificate and admin kubeconfig when needed."""
        from twisted.internet.endpoints import SSL4ServerEndpoint
        from .auth import setup, tls
        from .endpoints.root import APIRoot
        config, sec = self.config, self.config.security
        cert, key, ca_cert, ca_key = setup.serving_files(config)
        security = setup.build_security(config, self.registry, key, ca_cert)
        if ca_cert is not None:
            path = setup.admin_kubeconfig(config, config.secure_port, ca_cert, ca_key)
            log.info("Wrote the admin kubeconfig to {path}", path=path)
        options = tls.serving_options(cert, key, sec.tls_min_version, sec.tls_cipher_suites)
        site = _QuietSite(APIRoot(context, security=security, audit=audit))
        site.displayTracebacks = False
        wrap_site(site, site.resource, self.reactor, config)
        endpoint = SSL4ServerEndpoint(self.reactor, config.secure_port, options,
                                      interface=config.bind_address if config.bind_address != "0.0.0.0" else "")
        Listener(self.reactor, endpoint, site, "secure", how="securely").setServiceParent(self)
        return security

    async def _start_elections(self) -> None:
        """This apiserver's identity lease (every replica), and the controllers kube-controller-manager
        runs upstream: elected on etcd, where replicas share the storage; at once on the embedded store,
        which one process holds exclusively (a Lease renewed every 2 s would only cost writes there)."""
        import socket
        from .controllers import identity
        lease_name = identity.apiserver_id(socket.gethostname(), identity.serving_address(self.config))
        holder = identity.holder_identity(lease_name)
        self._identity = identity.IdentityLeaseController(self.registry, self.reactor, lease_name, holder,
                                                          socket.gethostname())
        Deferred.fromCoroutine(self._start_identity()).addErrback(
            lambda f: log.failure("the identity lease controller failed to start", f))
        if self.config.storage_backend != "etcd3":
            await self._start_elected()
            return
        from .controllers.leaderelection import LeaderElector
        self._elector = LeaderElector(self.registry.store("coordination.k8s.io", "v1", "leases"), self.reactor,
                                      holder, CONTROLLERS_LEASE, on_started_leading=self._start_elected,
                                      on_stopped_leading=self._stop_elected, predecessor_prefix=lease_name + "_")
        await self._elector.start()

    async def _start_identity(self) -> None:
        # The first write waits for the watch caches to fill: written before a fill, it would put that
        # cache's window past a client's last resourceVersion, and the client's watch could not resume
        # across this restart.
        await DeferredList([store.cacher.wait_for(0) for store in self.registry.stores.values()
                            if store.cacher is not None])
        await self._identity.start()

    async def _start_elected(self) -> None:
        from .controllers.eventttl import EventTTLController
        from .controllers.garbagecollector import GarbageCollector
        from .controllers.namespace import NamespaceController
        # New instances each term: a graph or deadlines kept from an earlier term would be stale.
        self._namespace_controller = NamespaceController(self.registry, self.reactor)
        self._garbage_collector = GarbageCollector(self.registry, self.reactor)
        self._event_ttl_controller = EventTTLController(self.registry, self.reactor, self.config.event_ttl)
        for controller in (self._namespace_controller, self._garbage_collector, self._event_ttl_controller):
            await controller.start()

    def _stop_elected(self) -> None:
        for controller in (self._namespace_controller, self._garbage_collector, self._event_ttl_controller):
            if controller is not None:
                controller.stop()
        self._namespace_controller = self._garbage_collector = self._event_ttl_controller = None

    def _every(self, interval: float, work) -> None:
        def run():
            d = Deferred.fromCoroutine(work())
            d.addErrback(lambda f: log.failure("periodic work failed", f))
            d.addBoth(lambda _: self._schedule(interval, run))
        self._schedule(interval, run)

    def _schedule(self, interval, run):
        if self.running:
            self._timers.append(self.reactor.callLater(interval, run))
            self._timers = [t for t in self._timers if t.active()]

    def _start_compaction(self, interval: float) -> None:
        # Every storage (the default and each --etcd-servers-overrides cluster) on its own timer.
        for storage in self.registry.storages:
            self._every(interval, _compactor(storage))

    def stopService(self):
        if self._identity is not None:
            self._identity.stop()
        # Leading: the controllers stop; the lease is left to expire, as kube-controller-manager leaves
        # its own (a restart of this apiserver takes it back at once).
        stopped = self._elector.stop() if self._elector is not None else succeed(None)
        stopped.addCallback(lambda _: self._stop_bootstrap())
        stopped.addCallback(lambda _: self._stop_rest())
        return stopped

    def _stop_bootstrap(self):
        # This apiserver's master lease is deleted and the kubernetes Endpoints reconciled without it,
        # as upstream's pre-shutdown hook does; bounded, so an unreachable store cannot hold the exit.
        if self._bootstrap is None:
            return None
        d = Deferred.fromCoroutine(self._bootstrap.stop())
        d.addTimeout(5.0, self.reactor)
        d.addErrback(lambda f: log.failure("removing this apiserver from the kubernetes endpoints failed", f))
        return d

    def _stop_rest(self):
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._stop_elected()
        if self._crd_controller is not None:
            self._crd_controller.stop()
        if self.registry is not None:
            self.registry.stop_watch_caches()
        d = service.MultiService.stopService(self)
        if self.storage is not None:
            storages = [self.storage, *self.storage_overrides.values()]
            d.addCallback(lambda _: gatherResults([storage.close() for storage in storages]))
        return d


def _compactor(storage):
    """Each run compacts ``storage`` at the revision the previous run found current."""
    last = 0

    async def compact():
        nonlocal last
        from .storage import RevisionCompacted
        current = await storage.current_revision()
        if last:
            try:
                await storage.compact(last)
            except RevisionCompacted:
                pass   # another apiserver on the same etcd compacted further already
        last = current
    return compact


def _endpoint_host(address: str) -> str:
    return address.replace(":", "\\:")


def make_service(config: ServerConfig, reactor) -> service.MultiService:
    return APIServerService(config, reactor)
