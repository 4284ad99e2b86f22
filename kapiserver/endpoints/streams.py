"""The node streams: pods/log, exec, attach, portforward and proxy, services/proxy, nodes/proxy.
The apiserver finds the backend (a node's kubelet, a pod, a service endpoint) and connects to it. An
upgrade (WebSocket, SPDY/3.1) is relayed byte for byte both ways, so the client talks to the kubelet's
streaming protocols through the apiserver unchanged; any other request is forwarded and its response
streamed back (kapiserver.endpoints.forward), a proxy's answer as upstream's proxy transport leaves it: HTML links
and a Location moved under the proxy's path (kapiserver.endpoints.proxyrewrite)."""

from __future__ import annotations

from typing import List, Optional, Tuple
from urllib.parse import quote, unquote_to_bytes

from twisted.internet import protocol
from twisted.web.http_headers import Headers

from ..machinery import errors
from ..machinery import podstreams
from .forward import forward, stream_over_websocket
from .proxyrewrite import Rewriter, join_host_port
from .upgrade import hijack, is_upgrade_request, request_head, wants_upgrade

_KUBELET_PATHS = {"log": "containerLogs", "exec": "exec", "attach": "attach", "portforward": "portForward"}
# The pod subresources that are a stream or nothing (upstream's upgradeRequired).
_UPGRADE_REQUIRED = ("exec", "attach", "portforward")
# A pod proxied to without a port, none declared: dialled on HTTP's port, its URL's host the address alone.
_NO_PORT = -1


class Throttle:
    """--max-connection-bytes-per-sec for one direction of a relay: at most `rate` bytes a second are
    written; the rest waits, and the sending side is paused meanwhile."""

    def __init__(self, reactor, rate: int):
        self.reactor = reactor
        self.rate = rate
        self.window_start = reactor.seconds()
        self.sent = 0
        self.queue = b""
        self.paused = False
        self._timer = None
        self._on_drained = None

    def send(self, data: bytes, write, source) -> None:
        self.queue += data
        self._drain(write, source)

    def _drain(self, write, source) -> None:
        now = self.reactor.seconds()
        if now - self.window_start >= 1.0:
            self.window_start, self.sent = now, 0
        allowed = self.rate - self.sent
        if allowed > 0 and self.queue:
            chunk, self.queue = self.queue[:allowed], self.queue[allowed:]
            self.sent += len(chunk)
            write(chunk)
        if self.queue:
            if not self.paused and source is not None:
                self.paused = True
                source.pauseProducing()
            if self._timer is None:
                def tick():
                    self._timer = None
                    self._drain(write, source)
                self._timer = self.reactor.callLater(max(self.window_start + 1.0 - now, 0.01), tick)
            return
        if self.paused:
            self.paused = False
            try:
                source.resumeProducing()
            except Exception:
                pass
        if self._on_drained is not None:
            done, self._on_drained = self._on_drained, None
            done()

    def when_drained(self, done) -> None:
        if self.queue:
            self._on_drained = done
        else:
            done()


class _Backend(protocol.Protocol):
    """The apiserver's side of the connection to the backend."""

    def __init__(self, throttle: Optional[Throttle] = None):
        self.peer = None
        self.early: List[bytes] = []
        self.throttle = throttle

    def dataReceived(self, data):
        if self.peer is None:
            self.early.append(data)
        elif self.throttle is not None:
            self.throttle.send(data, self.peer.write, self.transport)
        else:
            self.peer.write(data)

    def connectionLost(self, reason=None):
        if self.peer is not None:
            if self.throttle is not None:
                self.throttle.when_drained(self.peer.loseConnection)
            else:
                self.peer.loseConnection()


class _Client(protocol.Protocol):
    """The taken-over client connection: everything it sends goes to the backend."""

    def __init__(self, backend: _Backend, throttle: Optional[Throttle] = None):
        self.backend = backend
        self.throttle = throttle

    def connectionMade(self):
        self.backend.peer = self.transport
        for data in self.backend.early:
            self.transport.write(data)
        self.backend.early = []

    def dataReceived(self, data):
        if self.throttle is not None:
            self.throttle.send(data, self.backend.transport.write, self.transport)
        else:
            self.backend.transport.write(data)

    def connectionLost(self, reason=None):
        self.backend.transport.loseConnection()


def _query(request, drop: Tuple[str, ...] = ()) -> bytes:
    """The request's query string, without the parameters named in `drop`."""
    if b"?" not in request.uri:
        return b""
    raw = request.uri.split(b"?", 1)[1]
    keep = [p for p in raw.split(b"&") if p and p.split(b"=", 1)[0].decode("latin-1") not in drop]
    return (b"?" + b"&".join(keep)) if keep else b""


def split_name(name: str) -> Tuple[str, str, str]:
    """`name`, `name:port` or `scheme:name:port` of a proxy request -> (scheme, name, port)."""
    parts = name.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return "", name, ""


def _proxy_path_empty(request, info) -> bool:
    """Whether the request path ends at .../proxy, without even a slash after it."""
    return not info.rest and not request.path.endswith(b"/")


class NodeStreams:
    """`context.streams`: serves the streaming subresources through the kubelet client."""

    def __init__(self, reactor, kubelet, registry, bytes_per_sec: int = 0):
        self.reactor = reactor
        self.kubelet = kubelet
        self.registry = registry
        self.bytes_per_sec = bytes_per_sec

    def health_checks(self, kind: str):
        """/healthz reports the SSH tunnels' state when nodes are reached through them."""
        tunneler = getattr(self.kubelet, "tunneler", None)
        if tunneler is None or kind != "healthz":
            return []

        async def tunnels():
            if not tunneler.healthy():
                raise RuntimeError("no SSH tunnel could be opened")
        return [("ssh-tunnels", tunnels)]

    async def handle(self, request, info, store, obj) -> None:
        resource = store.info.resource
        if info.subresource == "proxy" and request.method in (b"GET", b"HEAD") and _proxy_path_empty(request, info):
            # As upstream: a proxy request with nothing after .../proxy is sent on to .../proxy/ (the path as Go's
            # URL.Path holds it, percent-decoded).
            query = request.uri.partition(b"?")[2]
            request.setResponseCode(301)
            request.setHeader(b"Location", unquote_to_bytes(request.path) + b"/" + (b"?" + query if query else b""))
            request.setHeader(b"Content-Length", b"0")
            request.finish()
            return
        dial = self.kubelet.dial
        if resource == "pods" and info.subresource in _KUBELET_PATHS:
            host, port, path = await self._kubelet_target(request, info, obj)
            if info.subresource in _UPGRADE_REQUIRED and not is_upgrade_request(request):
                # As upstream's exec, attach and portforward: refused here, the kubelet not asked.
                raise errors.bad_request("Upgrade request required")
            if info.subresource == "log":
                await self._log(request, info, host, port, path)
            else:
                await relay_upgrade(request, dial, host, port, path, **self._throttles())
            return
        if resource == "pods":
            host, port = self._pod_target(info, obj)
            dial = self._dial_direct(split_name(info.name)[0])
        elif resource == "services":
            host, port = await self._service_target(info, obj)
            dial = self._dial_direct(split_name(info.name)[0])
        elif resource == "nodes":
            _, _, port_text = split_name(info.name)
            _, host, port = await self.kubelet.connection_info(obj["metadata"]["name"])
            port = int(port_text) if port_text.isdigit() else port
        else:
            raise errors.not_found(errors.GroupResource(store.info.group, resource), info.name)
        # The backend's host as upstream's proxy URL names it (links to it are the backend's own).
        backend = host if port == _NO_PORT else join_host_port(host, port)
        port = 80 if port == _NO_PORT else port
        host_header = request.requestHeaders.getRawHeaders(b"host") or [b""]
        rewriter = Rewriter.for_proxy(info.path, list(info.rest), backend,
                                      host_header[0].decode("utf-8", "surrogateescape"))
        # The backend's path made from the decoded path after .../proxy, as the rewriting and X-Forwarded-Uri
        # have it (upstream's is Go's URL.EscapedPath of it), and the query as sent.
        path = rewriter.backend_path.encode("ascii") + _query(request)
        await self.relay(request, host, port, path, dial, rewriter=rewriter)

    def _throttles(self) -> dict:
        rate = self.bytes_per_sec
        return {"throttle": Throttle(self.reactor, rate) if rate else None,
                "client_throttle": Throttle(self.reactor, rate) if rate else None}

    async def _log(self, request, info, host: str, port: int, path: bytes) -> None:
        """A log is a stream the apiserver reads, as upstream's LocationStreamer: a GET of its own (none of the
        client's headers), the kubelet's error answer made a Status, the body sent as text/plain, or over
        WebSocket (binary.k8s.io or base64.binary.k8s.io) to a client that asks for one."""
        def check(code: int, body: bytes):
            return podstreams.kubelet_error(code, body, "pods/log", info.name)
        if wants_upgrade(request, "websocket"):
            await stream_over_websocket(request, self.reactor, self.kubelet.dial, host, port, path, check=check)
            return
        rate = self.bytes_per_sec
        await forward(request, self.reactor, self.kubelet.dial, host, port, path,
                      Throttle(self.reactor, rate) if rate else None, headers=Headers(), check=check,
                      content_type=b"text/plain")

    def _dial_direct(self, scheme: str):
        """How a pod's or a service's proxy reaches its backend: straight to the pod's address (through the
        nodes' tunnels when there are some), in plain HTTP unless the name says ``https:``, then TLS without
        verifying the pod's certificate, as upstream's proxy transport; not the kubelet's TLS."""
        async def dial(host: str, port: int, protocol):
            from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, connectProtocol
            tunneler = getattr(self.kubelet, "tunneler", None)
            if tunneler is not None and scheme != "https":
                return await tunneler.dial(host, port, protocol)
            endpoint = (TCP6ClientEndpoint if ":" in host else TCP4ClientEndpoint)(self.reactor, host, port,
                                                                                  timeout=30)
            if scheme == "https":
                from twisted.internet import ssl
                from twisted.internet.endpoints import wrapClientTLS
                endpoint = wrapClientTLS(ssl.CertificateOptions(verify=False), endpoint)
            return await connectProtocol(endpoint, protocol)
        return dial

    async def _kubelet_target(self, request, info, pod):
        namespace, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
        container = ""
        values = request.args.get(b"container")
        if values:
            container = values[0].decode("utf-8", "replace")
        if info.subresource == "log":
            # The kubelet's query is made from the options (upstream's LogLocation), not passed through.
            query = {k.decode("utf-8", "replace"): [v.decode("utf-8", "replace") for v in vs]
                     for k, vs in request.args.items()}
            path = podstreams.log_path(namespace, name, podstreams.choose_container(pod, container),
                                       podstreams.log_options(name, query))
            _, host, port = await self.kubelet.connection_info(pod["spec"]["nodeName"])
            return host, port, path.encode()
        path = f"/{_KUBELET_PATHS[info.subresource]}/{quote(namespace)}/{quote(name)}"
        if info.subresource != "portforward":
            path += "/" + quote(podstreams.choose_container(pod, container))
        _, host, port = await self.kubelet.connection_info(pod["spec"]["nodeName"])
        return host, port, path.encode() + _query(request, drop=("container",))

    def _pod_target(self, info, pod):
        _, _, port = split_name(info.name)
        host = (pod.get("status") or {}).get("podIP")
        if not host:
            raise errors.bad_request("address not allowed")
        if not port:
            # As upstream's pod ResourceLocation: the first port any container declares, else HTTP's.
            port = next((str(p.get("containerPort")) for c in (pod.get("spec") or {}).get("containers") or []
                         for p in (c.get("ports") or [])[:1]), "")
        return host, int(port) if port.isdigit() else _NO_PORT

    async def _service_target(self, info, service):
        _, name, port_name = split_name(info.name)
        namespace = service["metadata"].get("namespace", "")
        wanted = None
        for port in (service.get("spec") or {}).get("ports") or []:
            if port_name in ("", port.get("name", ""), str(port.get("port"))):
                wanted = port.get("name", "")
                break
        endpoints_store = self.registry.lookup("", "v1", "endpoints")
        try:
            endpoints = await endpoints_store.get(namespace, name)
        except errors.StatusError:
            endpoints = {}
        for subset in endpoints.get("subsets") or []:
            ports = [p for p in subset.get("ports") or [] if wanted is None or p.get("name", "") == wanted]
            addresses = subset.get("addresses") or []
            if ports and addresses:
                return addresses[0]["ip"], int(ports[0]["port"])
        target = await self._ready_pod(service, port_name)
        if target is not None:
            return target[0], target[1]
        raise errors.StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"', {})

    async def _ready_pod(self, service, port_name: str):
        """Without an endpoints controller, the service's ready pods are its endpoints."""
        from ..machinery import selectors
        from ..registry.options import ListOptions
        spec = service.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector:
            return None
        ports = spec.get("ports") or []
        port = next((p for p in ports if port_name in ("", p.get("name", ""), str(p.get("port")))), None)
        if port is None:
            return None
        options = ListOptions()
        options.label_selector = selectors.parse_label_selector(
            ",".join(f"{k}={v}" for k, v in sorted(selector.items())))
        pods, _ = await self.registry.lookup("", "v1", "pods").list(service["metadata"].get("namespace"), options)
        for pod in pods:
            status = pod.get("status") or {}
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
            if not ready or not status.get("podIP") or pod["metadata"].get("deletionTimestamp"):
                continue
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str):
                named = [p.get("containerPort") for c in (pod.get("spec") or {}).get("containers") or []
                         for p in c.get("ports") or [] if p.get("name") == target]
                if not named:
                    continue
                target = named[0]
            return status["podIP"], int(target)
        return None

    async def relay(self, request, host: str, port: int, path: bytes, dial=None,
                    rewriter: Optional[Rewriter] = None) -> None:
        """Relay the request to host:port (through ``dial``, the kubelet client's by default): an upgrade takes
        the client's connection over as a byte relay both ways; anything else is forwarded as one request whose
        response streams back (an HTML one rewritten by ``rewriter``, see forward)."""
        rate = self.bytes_per_sec
        dial = dial or self.kubelet.dial
        if not is_upgrade_request(request):
            await forward(request, self.reactor, dial, host, port, path,
                          Throttle(self.reactor, rate) if rate else None, rewriter=rewriter)
            return
        await relay_upgrade(request, dial, host, port, path,
                            throttle=Throttle(self.reactor, rate) if rate else None,
                            client_throttle=Throttle(self.reactor, rate) if rate else None)


async def relay_upgrade(request, dial, host: str, port: int, path: bytes, extra_headers=(), drop=(),
                        throttle: Optional[Throttle] = None, client_throttle: Optional[Throttle] = None) -> None:
    """Send an upgrade request on to host:port (through ``dial``) at ``path``, with ``extra_headers`` (name,
    value pairs) added and the ``drop`` headers left out, then relay the client's connection byte for byte both
    ways: the backend's answer (its 101, or an error) is the client's."""
    backend = _Backend(throttle)
    await dial(host, port, backend)
    request.content.seek(0)
    body = request.content.read()
    extra = [(b"Host", f"{host}:{port}".encode()), *extra_headers]
    if body:
        extra.append((b"Content-Length", str(len(body)).encode()))
    head = request_head(request, path=path, extra_headers=extra,
                        drop=(b"transfer-encoding", b"keep-alive", *drop))
    backend.transport.write(head + body)
    hijack(request, _Client(backend, client_throttle))


def build_streams(reactor, registry, config, tunneler=None) -> NodeStreams:
    """The streams of a server: a kubelet client configured from --kubelet-* (and --ssh-*)."""
    from ..kubelet.client import KubeletClient, kubelet_config
    access = getattr(config, "node_access", None)
    if tunneler is None and access is not None and access.ssh_user:
        from ..tunneler.ssh import SSHTunneler
        tunneler = SSHTunneler(reactor, access.ssh_user, access.ssh_keyfile)
    kubelet = KubeletClient(reactor, kubelet_config(config), registry.lookup("", "v1", "nodes"), tunneler)
    return NodeStreams(reactor, kubelet, registry, getattr(access, "max_connection_bytes_per_sec", 0))
