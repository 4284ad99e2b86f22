"""The secure port of kube-scheduler and kube-controller-manager, as upstream's SecureServing options serve it
(k8s.io/apiserver pkg/server/options/serving.go): HTTPS on --bind-address:--secure-port (0: none) with the
certificate of --tls-cert-file/--tls-private-key-file, or one in --cert-dir (<component>.crt/.key, generated
there when missing), or a self-signed one generated in memory ("Generated self-signed cert in-memory").

What it serves: /healthz, /livez and /readyz answer 200 "ok" to anyone (the paths of
--authorization-always-allow-paths, upstream's default /healthz,/readyz,/livez); any other path is upstream's
answer to an anonymous client with no authorizer to ask: a 403 Status, ``forbidden: User "system:anonymous"
cannot get path "/metrics"`` (an always-allowed path that serves nothing is a 404).  The health answers are
always "ok": upstream's daemons also fail /healthz when their leader-election lease has lapsed, /readyz until
their informers have synced, and serve /healthz/<check> and ?verbose; none of that is here yet.

Unlike upstream, which exits, a port already in use is one warning line: the daemon goes on without its secure
port (tests and side-by-side clusters run many daemons on one machine).

In the daemons' layer, not a leaf: it makes its certificate with auth's helpers (auth.certs, auth.tls) and, in a
--cert-dir, as kube-node makes its own (node.pki).
"""

from __future__ import annotations

import ipaddress
import json
import time

from twisted.application import service
from twisted.logger import Logger
from twisted.python import usage
from twisted.web import resource

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
         "The port on which to serve HTTPS (/healthz, /livez, /readyz). If 0, don't serve HTTPS at all. "
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


class HealthResource(resource.Resource):
    """/healthz, /livez and /readyz: "ok" where always allowed; anything else forbidden to the anonymous user
    (a 404 for an always-allowed path that serves nothing)."""

    isLeaf = True

    def __init__(self, always_allow_paths=tuple(DEFAULT_ALWAYS_ALLOW_PATHS.split(","))):
        super().__init__()
        self.always_allow_paths = tuple(always_allow_paths)

    def render(self, request):
        path = request.path.decode("latin-1")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        if always_allowed(path, self.always_allow_paths):
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            if path in HEALTH_PATHS:
                return b"ok"
            request.setResponseCode(404)
            return b"404 page not found\n"
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


def secure_serving_service(reactor, options, component: str):
    """The secure port's service for a daemon's parsed ``options`` (validate's), or None with --secure-port=0.
    The certificate is loaded or generated now, before the reactor runs."""
    if not options["secure-port"]:
        return None
    from .exitstatus import load_or_exit
    from .listener import QuietSite
    tls_options = load_or_exit(f"{component}: cannot load the serving certificate",
                               lambda: serving_tls_options(options, component))
    site = QuietSite(HealthResource(options["authorization-always-allow-paths"]))
    site.listener_name = "secure-serving"
    return SecureServing(reactor, options["secure-port"], options["bind-address"], tls_options, site, component)


def with_secure_serving(reactor, options, component: str, daemon):
    """A daemon's service tree: its secure port (unless --secure-port=0), then ``daemon`` itself."""
    from twisted.application import service
    top = service.MultiService()
    secure = secure_serving_service(reactor, options, component)
    if secure is not None:
        secure.setServiceParent(top)
    daemon.setServiceParent(top)
    return top
