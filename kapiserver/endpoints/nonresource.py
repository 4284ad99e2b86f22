"""Non-resource paths: discovery, OpenAPI, /version, health checks, /metrics, and the path list at /."""

from __future__ import annotations

import datetime
from typing import Optional

from ..machinery import codec, errors, healthz
from ..machinery.errors import StatusError
from ..pool import in_pool
from ..storage.health import check_all
from .http import query, write_bytes
from .negotiation import parse_accept


async def _reason(check) -> Optional[str]:
    """None when the health check ``check`` (None: ping, log) passes, else its reason."""
    if check is None:
        return None
    try:
        await check()
    except Exception as e:  # a failing check is reported, not raised
        return str(e) or type(e).__name__
    return None


def wants_aggregated(request) -> str:
    """The aggregated discovery version the client asks for first, or ""."""
    accept = request.getHeader(b"accept")
    for media in parse_accept(accept.decode("latin-1") if accept else None):
        if media.param("as") == "APIGroupDiscoveryList" and media.param("g") == "apidiscovery.k8s.io":
            if media.param("v") in ("v2", "v2beta1"):
                return media.param("v")
        elif media.type in ("application/json", "*/*", "application/*"):
            return ""
    return ""


class NonResourceHandler:
    def __init__(self, context, health=None):
        self.context = context
        self.health = health
        self._cache: dict = {}

    @property
    def catalog(self):
        return self.context.registry.catalog

    @property
    def schemas(self):
        return self.context.registry.openapi_schemas

    def _write_json(self, request, obj, content_type="application/json"):
        write_bytes(request, 200, content_type, codec.encode(obj))

    @staticmethod
    def _write_with_etag(request, obj, content_type: str, etag_of=None) -> None:
        """An aggregated discovery document as upstream serves one: a quoted ETag (the hash of ``etag_of``, the
        v2 document, whichever version is served, as upstream keeps one ETag for both), ``Vary: Accept``,
        ``Cache-Control: public``, and 304 Not Modified to a client whose If-None-Match names it."""
        from . import discovery
        body, etag = discovery.encode_with_etag(obj)
        if etag_of is not None:
            etag = discovery.encode_with_etag(etag_of)[1]
        quoted = b'"' + etag.encode() + b'"'
        request.setHeader(b"ETag", quoted)
        request.setHeader(b"Vary", b"Accept")
        request.setHeader(b"Cache-Control", b"public")
        if quoted in (request.requestHeaders.getRawHeaders(b"If-None-Match") or ()):
            request.setResponseCode(304)
            request.finish()
            return
        write_bytes(request, 200, content_type, body)

    async def handle(self, request, info) -> None:
        parts = info.parts
        method = request.method
        if parts == ("metrics",):
            await self.serve_metrics(request)
            return
        if len(parts) >= 3 and parts[:2] == ("debug", "kapiserver"):
            await self.testing_controls(request, parts[2], parts[3:])
            return
        if method not in (b"GET", b"HEAD"):
            if parts and parts[0] in ("api", "apis", "version", "openapi", "healthz", "livez", "readyz"):
                raise StatusError(405, "MethodNotAllowed",
                                  "the server does not allow this method on the requested resource", {})
            raise errors.path_not_found()
        if not parts:
            aggregator = getattr(self.context, "aggregator", None)
            self._write_json(request, {"paths": self.paths(await aggregator.groups() if aggregator else ())})
            return
        head = parts[0]
        if head == "version" and len(parts) == 1:
            from ..version import VERSION_INFO
            self._write_json(request, VERSION_INFO)
        elif head in ("api", "apis"):
            aggregator = getattr(self.context, "aggregator", None)
            # The remote groups (a list of the APIServices) only where they are listed: /apis, and
            # /apis/<group> of a group not served here.
            wants_remote = head == "apis" and (len(parts) == 1 or (len(parts) == 2 and
                                                                    not self.catalog.versions(parts[1])))
            remote = await aggregator.groups() if aggregator is not None and wants_remote else ()
            self.discovery(request, parts, remote)
        elif head == "openapi":
            await self.openapi(request, parts)
        elif head in ("healthz", "livez", "readyz"):
            await self.health_check(request, head, parts[1:])
        elif len(parts) == 3 and parts[:2] == ("debug", "api_priority_and_fairness"):
            self.flow_control_dump(request, parts[2])
        elif parts in ((".well-known", "openid-configuration"), ("openid", "v1", "jwks")):
            self.issuer_discovery(request, head == "openid")
        else:
            raise errors.path_not_found()

    async def testing_controls(self, request, which: str, rest: tuple) -> None:
        """/debug/kapiserver/faults (--enable-fault-injection), /snapshot and /reset (--enable-store-reset):
        served only with their flag, and to system:masters only."""
        from ..auth.context import current_user
        from . import faults, storereset
        from .http import read_body
        if which == "faults" and self.context.faults is not None:
            faults.require_masters(current_user())
            code, body = faults.handle_rules(self.context.faults, request.method, rest,
                                             read_body(request, self.context.max_request_bytes))
        elif which in ("snapshot", "reset") and not rest and self.context.store_reset is not None:
            faults.require_masters(current_user())
            code, body = await storereset.handle(self.context.store_reset, request.method, which,
                                                 read_body(request, self.context.max_request_bytes))
        else:
            raise errors.path_not_found()
        write_bytes(request, code, "application/json", body)

    def flow_control_dump(self, request, which: str) -> None:
        """API Priority and Fairness's state as text (served only while it is on, as upstream)."""
        from . import apfdebug
        flow_control = getattr(self.context, "flow_control", None)
        dump = {"dump_priority_levels": apfdebug.dump_priority_levels,
                "dump_queues": apfdebug.dump_queues}.get(which)
        if flow_control is None or dump is None:
            raise errors.path_not_found()
        write_bytes(request, 200, "text/plain; charset=utf-8", dump(flow_control.dispatcher).encode())

    def issuer_discovery(self, request, key_set: bool) -> None:
        """The service-account issuer's OIDC configuration or key set, where the secure port made them."""
        from ..auth import issuerdiscovery
        discovery = getattr(getattr(self.context, "security", None), "issuer_discovery", None)
        if discovery is None:
            raise errors.path_not_found()
        request.setHeader(b"Cache-Control", issuerdiscovery.CACHE_CONTROL.encode())
        if key_set:
            write_bytes(request, 200, issuerdiscovery.JWKS_CONTENT_TYPE, discovery.key_set)
        else:
            write_bytes(request, 200, "application/json", discovery.configuration)

    def paths(self, remote=()) -> list[str]:
        """The root's paths; ``remote``: the remote APIServices' groups, listed as the aggregator lists them."""
        paths = ["/api", "/api/v1", "/apis", "/apis/"]
        for group, _, versions in remote:
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v, _ in versions)
        for group, versions in self.catalog.groups:
            if not group:
                continue
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v in versions)
        paths += ["/healthz", "/livez", "/metrics", "/openapi/v2", "/openapi/v3", "/openapi/v3/", "/readyz",
                  "/version"]
        if getattr(getattr(self.context, "security", None), "issuer_discovery", None) is not None:
            paths += ["/.well-known/openid-configuration", "/openid/v1/jwks"]
        return sorted(set(paths))

    def discovery(self, request, parts, remote=()) -> None:
        """The discovery documents; ``remote``: the remote APIServices' groups (aggregator.groups())."""
        from . import discovery
        catalog = self.catalog
        if len(parts) == 1:
            aggregated = wants_aggregated(request)
            legacy = parts[0] == "api"
            if aggregated:
                # Upstream counts the aggregated documents in its request metrics (subresource "api"/"apis").
                self.context.metrics.route_nonresource(request, parts[0])
                doc = discovery.aggregated_discovery(catalog, legacy, version=aggregated, remote=remote)
                if aggregated == "v2":
                    self._write_with_etag(request, doc, discovery.AGGREGATED_CONTENT_TYPE)
                else:
                    self._write_with_etag(request, doc, discovery.AGGREGATED_CONTENT_TYPE_V2BETA1,
                                          discovery.aggregated_discovery(catalog, legacy, remote=remote))
            elif legacy:
                self._write_json(request, discovery.api_versions(self._address(request)))
            else:
                self._write_json(request, discovery.api_group_list(catalog, remote))
            return
        if parts[0] == "api":
            if len(parts) == 2:
                doc = discovery.api_resource_list(catalog, "", parts[1])
                if doc is not None:
                    self._write_json(request, doc)
                    return
            raise errors.path_not_found()
        if len(parts) == 2:
            doc = discovery.api_group(catalog, parts[1]) or discovery.remote_api_group(parts[1], remote)
        elif len(parts) == 3:
            doc = discovery.api_resource_list(catalog, parts[1], parts[2])
        else:
            doc = None
        if doc is None:
            raise errors.path_not_found()
        self._write_json(request, doc)

    def _address(self, request) -> str:
        config = self.context.config
        advertise = getattr(config, "advertise_address", None)
        host = request.getHost()
        return f"{advertise or host.host}:{host.port}"

    async def openapi(self, request, parts) -> None:
        """/openapi/v2 and /openapi/v3, with what the remote APIServices' servers last answered merged in
        (v2) or listed (v3: served as fetched).  Built in a thread of the reactor's pool from copies of what
        they are made of (the catalog, the CRDs' schemas): a document changes with every CRD, and building it
        (a quarter second for v2 in protobuf with a large CRD) would hold every other request."""
        from . import openapi
        aggregator = getattr(self.context, "aggregator", None)
        remote_v2 = dict(aggregator.openapi_v2) if aggregator is not None else {}
        remote_v3 = dict(aggregator.openapi_v3) if aggregator is not None else {}
        accept = request.getHeader(b"accept")
        args = (tuple(parts[1:]), self.catalog.snapshot(), dict(self.schemas), remote_v2, remote_v3,
                accept.decode("latin-1") if accept else None)
        content_type, body, headers = await in_pool(self.context.reactor, openapi.answer, *args)
        for name, value in headers:
            request.setHeader(name, value)
        if len(parts) > 2:
            self._versioned_document(request, parts, dict(headers)[b"Etag"], content_type, body)
            return
        write_bytes(request, 200, content_type, body)

    def _versioned_document(self, request, parts, etag: bytes, content_type: str, body: bytes) -> None:
        """A group-version's OpenAPI v3 document as kube-openapi's handler serves it: asked for by another hash
        than its own, a 301 to its own; by its own, cacheable for a year; 304 to an If-None-Match naming it."""
        request.setHeader(b"Vary", b"Accept")
        digest = etag.strip(b'"').decode()
        asked = query(request, "hash")
        if asked and asked != digest:
            location = "/" + "/".join(parts) + "?hash=" + digest
            request.setHeader(b"Location", location.encode())
            write_bytes(request, 301, "text/html; charset=utf-8",
                        f'<a href="{location}">Moved Permanently</a>.\n\n'.encode())
            return
        if asked:
            request.setHeader(b"Cache-Control", b"public, immutable")
            now = datetime.datetime.fromtimestamp(self.context.clock.seconds(), datetime.timezone.utc)
            try:
                expires = now.replace(year=now.year + 1)       # a calendar year on, as Go's AddDate(1, 0, 0)
            except ValueError:
                expires = now + datetime.timedelta(days=366)  # 29 February: Go normalises to 1 March
            request.setHeader(b"Expires", expires.strftime("%a, %d %b %Y %H:%M:%S UTC").encode())
        if etag in (request.requestHeaders.getRawHeaders(b"If-None-Match") or ()):
            request.setResponseCode(304)
            request.finish()
            return
        write_bytes(request, 200, content_type, body)

    async def serve_metrics(self, request) -> None:
        """/metrics: every method but DELETE reads them; DELETE resets the request metrics, as
        upstream's handler does with profiling on (its default).  A --workers worker answers for the whole
        apiserver: its own with the other processes' (``metrics.peers``)."""
        metrics = self.context.metrics
        if request.method == b"DELETE":
            metrics.reset()
            if metrics.peers is not None:
                await metrics.peers("reset")
            write_bytes(request, 200, "text/plain; charset=utf-8", b"metrics reset\n")
            return
        others = await metrics.peers("metrics") if metrics.peers is not None else ()
        accept, encodings = request.getHeader(b"accept"), request.getHeader(b"accept-encoding")
        body, content_type, encoding = metrics.exposition(accept.decode("latin-1") if accept else None,
                                                          encodings.decode("latin-1") if encodings else None,
                                                          others)
        if encoding:
            request.setHeader(b"Content-Encoding", encoding.encode())
        write_bytes(request, 200, content_type, body)

    async def _not_shutting_down(self) -> None:
        if getattr(self.context, "shutting_down", False):
            raise RuntimeError("process is shutting down")

    async def health_check(self, request, kind: str, rest) -> None:
        # As upstream registers them: the storage's check on every endpoint (AddHealthChecks), and again as
        # etcd-readiness on /readyz alone (AddReadyzChecks). One look at the storage answers both.
        outcome: list = []      # the look's: None, or what it raised

        async def storage() -> None:
            if not outcome:
                try:
                    await check_all(self.context.registry.storages)
                    outcome.append(None)
                except Exception as e:
                    outcome.append(e)
            if outcome[0] is not None:
                raise outcome[0]

        checks = [("ping", None), ("log", None), ("etcd", storage)]
        if kind == "readyz":
            checks.append(("etcd-readiness", storage))
        if self.health is not None:
            checks.extend(self.health.checks(kind))
        streams = getattr(self.context, "streams", None)
        if hasattr(streams, "health_checks"):
            checks.extend(streams.health_checks(kind))
        if kind == "readyz":
            checks.append(("shutdown", self._not_shutting_down))
        if rest:
            # A check's own path (/healthz/etcd, /readyz/poststarthook/<hook>): "ok" or its reason.
            wanted = "/".join(rest)
            found = [check for name, check in checks if name == wanted]
            if not found:
                raise errors.path_not_found()
            code, body, nosniff = healthz.check_answer(await _reason(found[0]))
            if nosniff:
                request.setHeader(b"X-Content-Type-Options", b"nosniff")
            write_bytes(request, code, healthz.CONTENT_TYPE.decode(), body.encode())
            return
        # Upstream counts the root checks (not each named check), with an empty component.
        self.context.metrics.route_nonresource(request, "/" + kind, component="")
        answer = healthz.RootAnswer(kind, request.uri.partition(b"?")[2].decode("latin-1"))
        for name, check in checks:
            if not answer.excludes(name):
                answer.record(name, await _reason(check))
        code, body = answer.answer()
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        write_bytes(request, code, healthz.CONTENT_TYPE.decode(), body.encode())
