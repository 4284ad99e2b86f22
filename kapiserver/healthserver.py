"""The secure port of kube-scheduler and kube-controller-manager, as upstream's SecureServing options serve it
(k8s.io/apiserver pkg/server/options/serving.go): HTTPS on --bind-address:--secure-port (0: none) with the
certificate of --tls-cert-file/--tls-private-key-file, or one in --cert-dir (<component>.crt/.key, generated
there when missing), or a self-signed one generated in memory ("Generated self-signed cert in-memory").

What it serves: the daemon's health endpoints to anyone on the paths of --authorization-always-allow-paths
(upstream's default /healthz,/readyz,/livez); any other path is upstream's answer to an anonymous client with no
authorizer to ask: a 403 Status, ``forbidden: User "system:anonymous" cannot get path "/metrics"`` (an
always-allowed path that serves nothing is Go's plain 404).  Every answer carries ``Cache-Control: no-cache,
private``, as upstream's handler chain sets it.

The health endpoints are k8s.io/apiserver's healthz handler, answered as ``kapiserver.machinery.healthz`` says: each root
path (/healthz, /livez, /readyz) runs its named checks, ping alone when it was given none, and each check also has
its own path, /healthz/<name> (a path --authorization-always-allow-paths must name, e.g. /healthz/*, to be reached
anonymously).  The checks, as upstream's daemons register them:

- kube-scheduler (cmd/kube-scheduler/app/server.go): /healthz leaderElection (ping without leader election),
  /livez ping, /readyz leaderElection, shutdown (fails once the process is stopping) and sched-handler-sync
  (fails until the scheduler's informers have synced; as with upstream's DelayCacheUntilActive, since this
  scheduler starts its informers only when it leads, a standby is not ready);
- kube-controller-manager (cmd/kube-controller-manager/app/controllermanager.go): /healthz alone, with
  leaderElection, and once the controllers are started a ping check named after each (ping before any with
  --leader-elect=false); no per-check paths, and /livez and /readyz are 404s, as upstream serves them.

leaderElection is client-go's HealthzAdaptor with a 20 s tolerance: it fails, "failed election to renew
leadership on lease <name>", when this process holds the lease by the last record it saw and that record has
not changed (no renewal) for longer than the lease duration plus 20 s; it passes before the election starts and
while another holds the lease.  The apiserver's default log check is not among these, as upstream's daemons do
not register it.

Unlike upstream, which exits, a port already in use is one warning line: the daemon goes on without its secure
port (tests and side-by-side clusters run many daemons on one machine).

In the daemons' layer, not a leaf: it makes its certificate with auth's helpers (auth.certs, auth.tls) and, in a
--cert-dir, as kube-node makes its own (node.pki).
"""
from __future__ import annotations

import ipaddress
import json
import time
from typing import Callable, List, Optional
from twisted.application import service
from twisted.logger import Logger
from twisted.python import usage
from twisted.web import resource

from .machinery import healthz

log = Logger()

DEFAULT_BIND_ADDRESS = "0.0.0.0"
DEFAULT_ALWAYS_ALLOW_PATHS = "/healthz,/readyz,/livez"
HEALTH_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
PARAMETERS = ("bind-address", "secure-port", "cert-dir", "tls-cert-file", "tls-private-key-file",
              "tls-min-version", "tls-cipher-suites", "authorization-always-allow-paths")


def secure_serving_parameters(port: int) -> list:
    """The secure serving flags (upstream's names and words), with ``port`` as --secure-port's default."""
    return [
        ["bind-address", None, DEFAULT_BIND_ADDRESS,
         "The IP address on which to listen for the --secure-port port (0.0.0.0 or ::: all interfaces)."],
        ["secure-port", None, str(port),
         "The port on which to serve HTTPS (the health endpoints). If 0, don't serve HTTPS at all. "
         "A port already in use is logged and the daemon runs without it."],
        ["cert-dir", None, "",
         "The directory where the TLS certs are located (<name>.crt and .key, generated there when missing). "
         "If --tls-cert-file and --tls-private-key-file are provided, this flag will be ignored; "
         "without any, a self-signed certificate is generated in memory."],
        ["tls-cert-file", None, "",
         "File containing the default x509 Certificate for HTTPS (CA cert, if any, concatenated after server cert)."],
        ["tls-private-key-file", None, "", "File containing the default x509 private key matching --tls-cert-file."],
        ["tls-min-version", None, "", "Minimum TLS version supported: VersionTLS10, VersionTLS11, VersionTLS12, "
                                      "VersionTLS13 (default VersionTLS12)."],
        ["tls-cipher-suites", None, "", "Comma-separated list of cipher suites (Go names) for TLS 1.2 and below."],
        ["authorization-always-allow-paths", None, DEFAULT_ALWAYS_ALLOW_PATHS,
         "HTTP paths served to anyone (a trailing * matches a prefix); other paths are forbidden."],
    ]


def validate(options) -> None:
    """Check and convert the secure serving flags of parsed ``options`` in place (UsageError in pflag's and
    upstream's words): --secure-port an int in 0..65535, --bind-address an IP, the TLS flags known, the
    always-allowed paths a list."""
    from .auth import tls
    from .flags import invalid, split_list
    options.convert(integers=("secure-port",))     # the daemons' Options are PflagOptions
    port = options["secure-port"]
    if not 0 <= port <= 65535:
        raise usage.UsageError(f"--secure-port {port} must be between 0 and 65535, inclusive. "
                               "0 for turning off secure port")
    options["secure-port"] = port
    address = str(options["bind-address"]).strip()
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise usage.UsageError(str(invalid("bind-address", options["bind-address"],
                                           f'failed to parse IP: "{options["bind-address"]}"'))) from None
    options["bind-address"] = address
    if bool(options["tls-cert-file"]) != bool(options["tls-private-key-file"]):
        raise usage.UsageError("--tls-cert-file and --tls-private-key-file go together")
    if options["tls-min-version"] and options["tls-min-version"] not in tls.TLS_VERSIONS:
        raise usage.UsageError(f"--tls-min-version: unknown TLS version {options['tls-min-version']!r}")
    suites = split_list(options["tls-cipher-suites"])
    unknown = [s for s in suites if s not in tls.CIPHER_SUITES]
    if unknown:
        raise usage.UsageError(f"--tls-cipher-suites: unsupported cipher suite(s) {unknown}")
    options["tls-cipher-suites"] = suites
    paths = split_list(options["authorization-always-allow-paths"])
    for path in paths:
        if not path.startswith("/"):
            raise usage.UsageError(f'--authorization-always-allow-paths: expected path "{path}" to start with /')
        if "*" in path[:-1]:
            raise usage.UsageError(f'--authorization-always-allow-paths: only trailing * allowed in "{path}"')
    options["authorization-always-allow-paths"] = paths


def serving_tls_options(options, component: str):
    """The secure port's TLS options: the given certificate files, else <cert-dir>/<component>.crt and .key
    (generated when they cannot be read), else a self-signed certificate made in memory, for localhost and
    127.0.0.1 (and --bind-address when it names one), as upstream's MaybeDefaultWithSelfSignedCerts."""
    from .auth import certs, tls
    min_version, suites = options["tls-min-version"], options["tls-cipher-suites"]
    cert_file, key_file = options["tls-cert-file"], options["tls-private-key-file"]
    if cert_file:
        return tls.serving_options(cert_file, key_file, min_version, suites)
    address = options["bind-address"]
    hosts = ["localhost", "127.0.0.1"]
    if not ipaddress.ip_address(address).is_unspecified and address not in hosts:
        hosts.append(address)
    if options["cert-dir"]:
        from .node.pki import ensure_serving_certificate
        cert_file, key_file = ensure_serving_certificate(options["cert-dir"], hosts[0], hosts[1:], name=component)
        return tls.serving_options(cert_file, key_file, min_version, suites)
    stamp = int(time.time())
    ca_cert, ca_key = certs.new_ca(f"localhost-ca@{stamp}", years=1)
    cert, key = certs.sign_certificate(ca_cert, ca_key, f"localhost@{stamp}", hosts=hosts)
    log.info("Generated self-signed cert in-memory")
    from twisted.internet import ssl
    kwargs = {"raiseMinimumTo": tls.TLS_VERSIONS[min_version] if min_version else ssl.TLSVersion.TLSv1_2}
    if suites:
        kwargs["acceptableCiphers"] = ssl.AcceptableCiphers.fromOpenSSLCipherString(
            ":".join(tls.CIPHER_SUITES[name] for name in suites))
    return tls.ServingOptions(certificate=cert, privateKey=key, extraCertChain=[ca_cert],
                              acceptableProtocols=[b"h2", b"http/1.1"], **kwargs)


def always_allowed(path: str, patterns) -> bool:
    """Whether ``path`` is one of ``patterns`` (upstream's path authorizer: exact, or a prefix ending in *)."""
    return any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in patterns)


class HealthCheck:
    """A named check: ``check()`` returns when healthy and raises when not (its message the reason)."""

    def __init__(self, name: str, check: Callable[[], None]):
        self.name = name
        self._check = check

    def check(self) -> None:
        self._check()


def _pass() -> None:
    return None


def named_ping(name: str) -> HealthCheck:
    """A check that always passes, under ``name``: what upstream's controller manager registers per controller."""
    return HealthCheck(name, _pass)


PING = named_ping("ping")
# client-go's leader election watchdog tolerance, as kube-scheduler and kube-controller-manager create it.
LEADER_ELECTION_TOLERANCE = 20.0


class LeaderElectionCheck:
    """client-go's HealthzAdaptor: passes until an elector is set, then asks it (``LeaderElector.check``) whether
    it holds a lease it has not renewed for the lease duration plus ``tolerance`` seconds (on the elector's
    clock)."""

    name = "leaderElection"

    def __init__(self, tolerance: float = LEADER_ELECTION_TOLERANCE):
        self.tolerance = tolerance
        self.elector = None

    def set_leader_election(self, elector) -> None:
        self.elector = elector

    def check(self) -> None:
        if self.elector is not None:
            self.elector.check(self.tolerance)


class ShutdownCheck(service.Service):
    """upstream's shutdown check: fails ("process is shutting down") once stopping.  As the last service of a
    daemon's tree it is the first stopped."""

    name = "shutdown"

    def __init__(self):
        self.shutting_down = False

    def stopService(self):
        self.shutting_down = True
        return super().stopService()

    def check(self) -> None:
        if self.shutting_down:
            raise RuntimeError("process is shutting down")


class HealthEndpoint:
    """One root path's checks, as upstream's healthz.InstallPathHandler installs them: ping when given none;
    with ``check_paths`` each check answers on <path>/<name> too.  ``add`` is the controller manager's mutable
    handler: checks registered later (a name already there is kept once)."""

    def __init__(self, path: str, checks=(), check_paths: bool = True):
        self.path = path
        self.kind = path.strip("/").split("/")[0]
        self._checks = list(checks)
        self.check_paths = check_paths

    def add(self, *checks) -> None:
        names = {c.name for c in self._checks}
        for check in checks:
            if check.name not in names:
                self._checks.append(check)
                names.add(check.name)

    @property
    def checks(self) -> list:
        return list(self._checks) or [PING]

    def names(self) -> List[str]:
        return [c.name for c in self.checks]


def default_endpoints() -> List[HealthEndpoint]:
    """/healthz, /livez and /readyz with ping alone."""
    return [HealthEndpoint(path) for path in sorted(HEALTH_PATHS)]


def _run(check) -> Optional[str]:
    """None when ``check`` passes, else its reason."""
    try:
        check.check()
    except Exception as e:      # a failing check is reported, not raised
        return str(e) or type(e).__name__
    return None


def _text(request, code: int, body: str, nosniff: bool = True) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", healthz.CONTENT_TYPE)
    if nosniff:
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
    return body.encode()


def render_health(request, endpoint: HealthEndpoint, query: str) -> bytes:
    """The root path's answer (upstream's handleRootHealth)."""
    answer = healthz.RootAnswer(endpoint.kind, query)
    for check in endpoint.checks:
        if not answer.excludes(check.name):
            answer.record(check.name, _run(check))
    return _text(request, *answer.answer())


def render_check(request, check) -> bytes:
    """A check's own path (upstream's adaptCheckToHandler)."""
    return _text(request, *healthz.check_answer(_run(check)))


class HealthResource(resource.Resource):
    """The secure port's paths: the health endpoints (``endpoints``, default_endpoints' by default) where always
    allowed; anything else forbidden to the anonymous user (a 404 for an always-allowed path that serves
    nothing)."""

    isLeaf = True

    def __init__(self, always_allow_paths=tuple(DEFAULT_ALWAYS_ALLOW_PATHS.split(",")), endpoints=None):
        super().__init__()
        self.always_allow_paths = tuple(always_allow_paths)
        self.endpoints = list(default_endpoints() if endpoints is None else endpoints)

    def render(self, request):
        path = request.path.decode("latin-1")
        request.setHeader(b"Cache-Control", b"no-cache, private")
        if always_allowed(path, self.always_allow_paths):
            query = request.uri.partition(b"?")[2].decode("latin-1")
            for endpoint in self.endpoints:
                if path == endpoint.path:
                    return render_health(request, endpoint, query)
                if endpoint.check_paths and path.startswith(endpoint.path + "/"):
                    for check in endpoint.checks:
                        if path == f"{endpoint.path}/{check.name}":
                            return render_check(request, check)
            return _text(request, 404, "404 page not found\n")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        verb = request.method.decode("latin-1").lower()
        message = f'forbidden: User "system:anonymous" cannot {verb} path "{path}"'
        request.setResponseCode(403)
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": "Forbidden", "details": {}, "code": 403},
                          separators=(",", ":")).encode() + b"\n"


class SecureServing(service.Service):
    """The HTTPS listener: started with its daemon; a port it cannot listen on (in use) is one warning line,
    and the daemon runs on without it (no retry)."""

    def __init__(self, reactor, port: int, interface: str, tls_options, factory, component: str):
        self.reactor = reactor
        self.port = port
        self.interface = interface
        self.tls_options = tls_options
        self.factory = factory
        self.component = component
        self.listening = None
        self.setName("secure-serving")

    def startService(self):
        super().startService()
        from .listener import tcp_endpoint
        endpoint = tcp_endpoint(self.reactor, self.port, self.interface, tls_options=self.tls_options)
        endpoint.listen(self.factory).addCallbacks(self._listening, self._failed)

    def _listening(self, port):
        if not self.running:
            port.stopListening()
            return
        self.listening = port
        host = port.getHost()
        log.info("Serving securely on {address}", address=_join(host.host, host.port))

    def _failed(self, failure):
        log.warn("{component}: cannot serve HTTPS on port {port} ({error}); running without the secure port",
                 component=self.component, port=self.port, error=failure.getErrorMessage())

    def stopService(self):
        super().stopService()
        port, self.listening = self.listening, None
        if port is not None:
            return port.stopListening()


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def secure_serving_service(reactor, options, component: str, endpoints=None):
    """The secure port's service for a daemon's parsed ``options`` (validate's), or None with --secure-port=0,
    serving ``endpoints`` (HealthEndpoints; default_endpoints' by default).  The certificate is loaded or
    generated now, before the reactor runs."""
    if not options["secure-port"]:
        return None
    from .exitstatus import load_or_exit
    from .listener import QuietSite
    tls_options = load_or_exit(f"{component}: cannot load the serving certificate",
                               lambda: serving_tls_options(options, component))
    site = QuietSite(HealthResource(options["authorization-always-allow-paths"], endpoints))
    site.listener_name = "secure-serving"
    return SecureServing(reactor, options["secure-port"], options["bind-address"], tls_options, site, component)


def with_secure_serving(reactor, options, component: str, daemon):
    """A daemon's service tree: its secure port (unless --secure-port=0) serving the daemon's health endpoints
    (``daemon.health_endpoints(shutdown)``, given the tree's ShutdownCheck), then ``daemon`` itself, then the
    ShutdownCheck (stopped first)."""
    top = service.MultiService()
    shutdown = ShutdownCheck()
    endpoints = daemon.health_endpoints(shutdown) if hasattr(daemon, "health_endpoints") else None
    secure = secure_serving_service(reactor, options, component, endpoints)
    if secure is not None:
        secure.setServiceParent(top)
    daemon.setServiceParent(top)
    shutdown.setServiceParent(top)
    return top
