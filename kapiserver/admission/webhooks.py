"""
MutatingAdmissionWebhook and ValidatingAdmissionWebhook: the stored webhook
configurations are matched against each write (rules, scope, namespace and
object selectors) and called over HTTPS with an AdmissionReview, honouring
timeoutSeconds and failurePolicy; mutations come back as JSON patches.  A
WebhookAdmissionConfiguration's kubeConfigFile gives the credentials presented
to each webhook host (kubeconfig users named by host:port, *.domain or *).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import uuid
from typing import Optional
from urllib.parse import urlsplit

from twisted.internet import defer

from ..machinery import codec, errors, jsonpatch4
from ..machinery.errors import StatusError
from ..machinery.jsoncopy import json_copy
from ..machinery.gojson import go_quote, json_kind, syntax_error
from ..registry.attributes import CREATE, DELETE, UPDATE, Attributes, GroupVersionKind
from ..registry.options import ListOptions
from .celauthz import MAX_AUTHZ_ROUNDS, AuthzChecks, request_authorizer
from .matching import (convert_objects, converted_attributes, equivalent_resources, resource_of, rule_matches,
                       rule_matches_resource, selectors_match)

GROUP = "admissionregistration.k8s.io"


CONFIGURATION_KINDS = {(version, kind) for version in ("apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1alpha1")
                       for kind in ("WebhookAdmissionConfiguration", "WebhookAdmission")}


def parse_configuration(configuration) -> Optional[dict]:
    """The kubeconfig a WebhookAdmissionConfiguration names, read: {"users": {name: user}, "current": name}."""
    from .config import AdmissionConfigError, read_document, type_meta_error
    if configuration is None:
        return None
    problem = type_meta_error(configuration, CONFIGURATION_KINDS,
                              "k8s.io/apiserver/pkg/admission/plugin/webhook/config/kubeconfig.go:32")
    if problem:
        raise AdmissionConfigError(problem)
    path = configuration.get("kubeConfigFile") or ""
    if not isinstance(path, str) or not os.path.isabs(path):
        raise AdmissionConfigError(f'kubeConfigFile: Invalid value: "{path}": must be an absolute file path')
    try:
        kubeconfig = read_document(path)
    except OSError as e:
        raise AdmissionConfigError(f"stat {path}: {(e.strerror or str(e)).lower()}") from None
    if not isinstance(kubeconfig, dict):
        raise AdmissionConfigError(f"error loading config file \"{path}\": not a kubeconfig")
    base = os.path.dirname(path)
    users = {}
    for entry in kubeconfig.get("users") or []:
        user = dict((entry or {}).get("user") or {})
        # The files a user names (relative to the kubeconfig) are read now, at startup, so that calling a
        # webhook never reads a file on the reactor thread.
        for key, inline in (("client-certificate", "client-certificate-data"), ("client-key", "client-key-data"),
                            ("tokenFile", "token")):
            name = user.pop(key, None)
            if not name or user.get(inline):
                continue
            name = name if os.path.isabs(name) else os.path.join(base, name)
            try:
                with open(name, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise AdmissionConfigError(f"open {name}: {(e.strerror or str(e)).lower()}") from None
            user[inline] = data.decode().strip() if key == "tokenFile" else base64.b64encode(data).decode()
        users[str((entry or {}).get("name", ""))] = user
    contexts = {c.get("name"): c.get("context") or {} for c in kubeconfig.get("contexts") or [] if c}
    current = (contexts.get(kubeconfig.get("current-context")) or {}).get("user")
    return {"users": users, "current": current}


def credentials_for(kubeconfig: Optional[dict], target: str) -> dict:
    """The kubeconfig user presented to ``target`` (host:port), looked up as upstream: exact name, *.suffix,
    the same without a :443 port, *, the current context's user; {} (anonymous) when none."""
    if not kubeconfig:
        return {}
    users = kubeconfig["users"]

    def lookup(name: str) -> Optional[dict]:
        if name in users:
            return users[name]
        steps = name.split(".")
        for i in range(1, len(steps)):
            wildcard = "*." + ".".join(steps[i:])
            if wildcard in users:
                return users[wildcard]
        return None
    found = lookup(target)
    host, _, port = target.rpartition(":")
    if found is None and port == "443":
        found = lookup(host)
    if found is None:
        found = users.get("*")
    if found is None and kubeconfig.get("current"):
        found = users.get(kubeconfig["current"])
    return found or {}


def webhook_target(url: str) -> str:
    """host:port of a webhook URL, the port 443 when it has none."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port or 443}"


class _Webhooks:
    def __init__(self, registry, resource: str, mutating: bool, reactor=None, kubeconfig: Optional[dict] = None):
        self.registry = registry
        self.resource = resource
        self.mutating = mutating
        self.reactor = reactor
        self.kubeconfig = kubeconfig
        self.authorizer = None      # the server's, for matchConditions' `authorizer`
        self._clients: dict = {}
        from .cache import AdmissionReadCache, watch_resource
        self._cache = AdmissionReadCache(
            self._load, watch=lambda _key, changed: watch_resource(self.registry, GROUP, self.resource, changed))

    def configure(self, kubeconfig: Optional[dict]) -> "_Webhooks":
        """Present ``kubeconfig``'s credentials (parse_configuration's result) from now on; returns self."""
        self.kubeconfig = kubeconfig
        self._clients.clear()
        return self

    async def _load(self, _key: str) -> list[dict]:
        store = self.registry.lookup(GROUP, "v1", self.resource)
        if store is None:
            return []
        return (await store.list(None, ListOptions()))[0]

    async def _configurations(self) -> list[dict]:
        return await self._cache.get()

    async def _namespace_labels(self, name: str) -> dict:
        try:
            namespace = await self.registry.store("", "v1", "namespaces").get(None, name)
        except StatusError:
            return {}
        return namespace["metadata"].get("labels") or {}

    def _client(self, config: dict):
        from ..auth.webhook import WebhookClient, kubeconfig_data
        ca = config.get("caBundle")
        url = webhook_url(config)
        key = (url, ca)
        if key not in self._clients:
            user = credentials_for(self.kubeconfig, webhook_target(url))
            if user.get("auth-provider"):
                raise RuntimeError("auth provider not supported")
            token = user.get("token") or ""
            basic = (user.get("username", ""), user.get("password", "")) \
                if user.get("username") or user.get("password") else None
            self._clients[key] = WebhookClient(url, base64.b64decode(ca) if ca else None,
                                               kubeconfig_data(user, "client-certificate"),
                                               kubeconfig_data(user, "client-key"),
                                               token=token, reactor=self.reactor, basic_auth=basic)
        return self._clients[key]

    async def call_webhooks(self, attributes: Attributes) -> None:
        info = attributes.resource
        if info.group == GROUP:
            if info.resource == self.resource:
                self._cache.invalidate()
            return  # webhook configurations are never sent to webhooks, as upstream
        hooks = [(configuration, webhook) for configuration in await self._configurations()
                 for webhook in configuration.get("webhooks") or []]
        if not hooks:
            return
        if not self.mutating:
            await self._dispatch_validating(hooks, attributes)
            return
        context = attributes.reinvocation
        state = context.values.get(self)
        if state is None:
            state = context.values[self] = _Reinvocation()
        if context.is_reinvoke:
            # The second run of the mutating phase (a webhook changed the object): the webhooks of
            # reinvocationPolicy IfNeeded that ran before a later change are called once more; a change the
            # in-tree plugins made on their second run counts too.
            state.round = 1
            if attributes.object != state.last_output:
                state.object_changed()
        await self._dispatch(hooks, attributes, state, context)
        if context.should_reinvoke and not context.is_reinvoke:
            # What the second run compares with (only then: no copy for a write no webhook changed).
            state.last_output = json_copy(attributes.object)

    async def _dispatch(self, hooks: list, attributes: Attributes, state: "_Reinvocation", context) -> None:
        equivalents = _Equivalents(self.registry, attributes)
        for index, (configuration, webhook) in enumerate(hooks):
            invocation = await self._should_call(webhook, attributes, equivalents)
            if invocation is None:
                continue
            uid = f"{(configuration.get('metadata') or {}).get('name', '')}/{webhook.get('name', '')}/{index}"
            if state.round and uid not in state.reinvoke:
                continue
            await self._call(webhook, invocation, configuration, index, state.round)
            if invocation.changed:
                state.object_changed()
                context.should_reinvoke = True
                equivalents.forget_converted()
            if webhook.get("reinvocationPolicy") == "IfNeeded":
                state.previously.add(uid)

    async def _dispatch_validating(self, hooks: list, attributes: Attributes) -> None:
        """Upstream's validating dispatcher: every webhook's match decided first (a matchConditions error
        refuses before any is called), then all those that match called at once; the first error to come
        back is the answer (each webhook is called whatever the others say)."""
        relevant = []
        equivalents = _Equivalents(self.registry, attributes)
        for configuration, webhook in hooks:
            invocation = await self._should_call(webhook, attributes, equivalents)
            if invocation is not None:
                relevant.append((configuration, webhook, invocation))
        if not relevant:
            return
        failures: list = []

        async def call(index: int, configuration: dict, webhook: dict, invocation: "_Invocation") -> None:
            try:
                await self._call(webhook, invocation, configuration, index, 0)
            except Exception as e:      # kept in the order they come back
                failures.append(e)
        await defer.gatherResults([defer.Deferred.fromCoroutine(call(index, *each))
                                   for index, each in enumerate(relevant)])
        if failures:
            raise failures[0]

    async def _should_call(self, webhook: dict, attributes: Attributes,
                           equivalents: "_Equivalents") -> Optional["_Invocation"]:
        """Upstream's ShouldCallHook: the webhook's rules against the request as made, else (matchPolicy
        Equivalent, the default) against the other group-versions of the same resource, earlier rules first;
        then the selectors and the matchConditions (evaluated on the request in the matched version)."""
        rules = webhook.get("rules") or []
        invocation = None
        if any(rule_matches(rule, attributes) for rule in rules):
            invocation = _Invocation(self.registry, attributes, None, None, equivalents)
        elif (webhook.get("matchPolicy") or "Equivalent") == "Equivalent":
            invocation = next((_Invocation(self.registry, attributes, equivalents.source, other, equivalents)
                               for rule in rules
                               for other in equivalents.others if rule_matches_resource(rule, attributes,
                                                                                        resource_of(other))), None)
        if invocation is None:
            return None
        if not await selectors_match(webhook.get("objectSelector"), webhook.get("namespaceSelector"),
                                     invocation.requested, self._namespace_labels):
            return None
        if webhook.get("matchConditions"):
            request = await invocation.request("")
            if not await self._conditions_match(webhook, await invocation.versioned(), request, attributes):
                return None
        return invocation

    async def _conditions_match(self, webhook: dict, attributes: Attributes, request: dict,
                                original: Optional[Attributes] = None) -> bool:
        """Whether every matchCondition of ``webhook`` holds (CEL over object, oldObject, request and
        authorizer, for the request in the matched version): one that is false skips the webhook; one that
        cannot be evaluated skips it under failurePolicy Ignore and refuses the request (403, worded as
        upstream's Forbidden of the request's resource) under Fail, as upstream's matcher."""
        conditions = webhook.get("matchConditions") or []
        if not conditions:
            return True
        from ..machinery import cel
        from ..registry.validation.admissionregistration import MATCH_CONDITION_VARIABLES
        checks = AuthzChecks(self.authorizer, attributes.user_info)
        activation = {"object": cel.to_cel(attributes.object, None),
                      "oldObject": cel.to_cel(attributes.old_object, None),
                      "request": cel.to_cel(request, None), "authorizer": request_authorizer(checks, attributes)}
        matched, failures = evaluate_conditions(conditions, activation, MATCH_CONDITION_VARIABLES,
                                                upstream_words=True)
        for _ in range(MAX_AUTHZ_ROUNDS):
            if not await checks.resolve():
                break
            matched, failures = evaluate_conditions(conditions, activation, MATCH_CONDITION_VARIABLES,
                                                    upstream_words=True)
        if not matched:
            return False
        if not failures:
            return True
        if (webhook.get("failurePolicy") or "Fail") == "Ignore":
            return False
        original = original or attributes
        gr = original.group_resource
        # utilerrors.NewAggregate's text: one error as it is, several in brackets.
        why = failures[0] if len(failures) == 1 else "[" + ", ".join(failures) + "]"
        named = f"{gr} {go_quote(original.name)}" if original.name else f"{gr}"
        raise errors.forbidden_request(gr, original.name, f"{named} is forbidden: {why}")

    async def _call(self, webhook: dict, invocation: "_Invocation", configuration: dict, index: int,
                    round_: int) -> None:
        """Call one webhook; a failure to call it (or an invalid answer) follows its failurePolicy."""
        name = webhook.get("name", "")
        record = invocation.original.record
        try:
            await self._call_hook(webhook, invocation)
        except _CallingError as e:
            if (webhook.get("failurePolicy") or "Fail") == "Ignore":
                prefix = "failed-open.mutation.webhook.admission.k8s.io" if self.mutating else \
                    "failed-open.validating.webhook.admission.k8s.io"
                record.add_audit_annotation(f"{prefix}/round_{round_}_index_{index}", name)
                return
            raise errors.internal_error(str(e)) from None
        finally:
            if self.mutating:
                configuration_name = (configuration.get("metadata") or {}).get("name", "")
                record.add_audit_annotation(
                    f"mutation.webhook.admission.k8s.io/round_{round_}_index_{index}",
                    json.dumps({"configuration": configuration_name, "webhook": name,
                                "mutated": invocation.changed}, separators=(",", ":")))

    async def _call_hook(self, webhook: dict, invocation: "_Invocation") -> None:
        """Upstream's callHook / callAttrMutatingHook for one invocation."""
        name = webhook.get("name", "")
        versioned = await invocation.versioned()
        if versioned.dry_run:
            side_effects = webhook.get("sideEffects")
            if side_effects is None:
                raise _CallingError(name, "Webhook SideEffects is nil")
            if side_effects not in ("None", "NoneOnDryRun"):
                raise errors.bad_request(f'admission webhook {go_quote(name)} does not support dry run')
        version = next((v for v in webhook.get("admissionReviewVersions") or ["v1"] if v in REVIEW_VERSIONS), None)
        if version is None:
            raise _CallingError(name, "could not create admission objects: webhook does not accept known "
                                      "AdmissionReview versions (v1, v1beta1)")
        uid = str(uuid.uuid4())
        review = {"apiVersion": f"admission.k8s.io/{version}", "kind": "AdmissionReview",
                  "request": await invocation.request(uid)}
        config = webhook.get("clientConfig") or {}
        timeout = webhook.get("timeoutSeconds") or 10
        try:
            self._client(config)
        except Exception as e:
            raise _CallingError(name, f"could not get REST client: {e}") from None
        try:
            code, content_type, body = await self._exchange(config, review, timeout)
        except Exception as e:  # the webhook could not be reached: failurePolicy decides
            url = webhook_url(config)
            raise _CallingError(name, f'failed to call webhook: Post "{url}?timeout={timeout}s": '
                                      f'{call_failure(e, url)}') from None
        answer = _decoded_answer(name, code, content_type, body)
        response = verify_response(name, answer, uid, version, self.mutating)
        record = invocation.original.record
        for key, value in (response.get("auditAnnotations") or {}).items():
            _annotate(record, f"{name}/{key}", str(value))
        for text in response.get("warnings") or []:
            if isinstance(text, str):
                record.add_warning(text)
        if not response.get("allowed"):
            raise _denied(name, response.get("status") or {})
        patch = response.get("patch")
        if not self.mutating or not patch:
            return
        operations = _decoded_patch(name, patch)
        if not operations:
            return
        if versioned.object is None:
            raise errors.internal_error(f"admission webhook {go_quote(name)} attempted to modify the object, "
                                        "which is not supported for this operation")
        patch_type = response.get("patchType") or "JSONPatch"
        if patch_type != "JSONPatch":
            raise _CallingError(name, f"unsupported patch type {go_quote(patch_type)}")
        patched = apply_json_patch(versioned.object, operations)
        invocation.changed = patched != versioned.object
        if invocation.scale_paths is None:
            # Upstream defaults the patched object (in the version the webhook saw) before anything else sees
            # it: the next webhook gets the defaults of what this one added.
            from ..registry import defaults
            kind = versioned.kind
            defaults.apply_defaults(kind.group, kind.version, kind.kind, patched)
        await invocation.write_back(patched)
        invocation.original.patched_by.append(name)

    async def _exchange(self, config: dict, review: dict, timeout: float) -> tuple[int, str, bytes]:
        """POST ``review`` to the webhook: (status code, Content-Type, body).  Transport failures raise."""
        client = self._client(config)
        # As client-go's request with a timeout: the server is told it in the query.
        return await client.exchange(review, timeout, f"{client.url}?timeout={timeout}s")


class _MutatingWebhooks(_Webhooks):
    """The MutatingAdmissionWebhook plugin: its webhooks are called in the mutating phase."""

    async def admit(self, attributes: Attributes) -> None:
        await self.call_webhooks(attributes)


class _ValidatingWebhooks(_Webhooks):
    """The ValidatingAdmissionWebhook plugin: its webhooks are called in the validating phase."""

    async def validate(self, attributes: Attributes) -> None:
        await self.call_webhooks(attributes)


REVIEW_VERSIONS = ("v1", "v1beta1")
SCALE_KIND = ("autoscaling", "v1", "Scale")


class _CallingError(Exception):
    """Upstream's ErrCallingWebhook: the webhook could not be called or answered wrongly; its failurePolicy
    decides (Fail: a 500 InternalError carrying this text)."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"failed calling webhook {go_quote(name)}: {reason}")


class _Reinvocation:
    """Upstream's webhookReinvokeContext: which IfNeeded webhooks ran before the object last changed, and the
    object as the last dispatch left it."""

    def __init__(self):
        self.round = 0
        self.previously: set = set()    # IfNeeded webhooks called since the object last changed
        self.reinvoke: set = set()      # those to call again in the second round
        self.last_output = None

    def object_changed(self) -> None:
        self.reinvoke |= self.previously
        self.previously = set()


class _Equivalents:
    """The request's resource and its equivalents in the catalog (matchPolicy Equivalent), looked up once per
    dispatch, when a webhook first needs them, rather than once per webhook."""

    def __init__(self, registry, attributes: Attributes):
        self.registry, self.attributes = registry, attributes
        self._found: Optional[tuple] = None
        self._converted: dict = {}

    async def converted(self, requested: Attributes, target) -> Attributes:
        """``requested`` in ``target``'s version, converted once for every webhook matched through it (upstream
        keeps one versioned copy) until a webhook changes the object."""
        key = (id(requested), target.group, target.version, target.resource)
        found = self._converted.get(key)
        if found is None:
            found = self._converted[key] = await converted_attributes(self.registry, requested, self.source, target)
        return found

    def forget_converted(self) -> None:
        self._converted.clear()

    def _find(self) -> tuple:
        if self._found is None:
            self._found = (_info_of(self.registry, self.attributes),
                           equivalent_resources(getattr(self.registry, "catalog", None), self.attributes))
        return self._found

    @property
    def source(self):
        return self._find()[0]

    @property
    def others(self) -> list:
        return self._find()[1]


class _Invocation:
    """A webhook to call for a request: as made, or (matchPolicy Equivalent) converted to the equivalent
    group-version a rule matched (``source`` and ``target`` the catalog's ResourceInfos).  A request on a
    scale subresource is seen as upstream's admission sees it: an autoscaling/v1 Scale, the objects Scales."""

    def __init__(self, registry, attributes: Attributes, source, target, equivalents: "_Equivalents"):
        self.registry, self.original, self.source, self.target = registry, attributes, source, target
        self.equivalents = equivalents
        self.scale_paths: Optional[dict] = None
        self.requested = self._as_scale(registry, attributes) if attributes.subresource == "scale" else attributes
        self._versioned: Optional[Attributes] = None
        self._request: Optional[dict] = None
        self.changed = False

    def _as_scale(self, registry, attributes: Attributes) -> Attributes:
        from dataclasses import replace

        from ..registry.subresources.scale import scale_from_custom_resource, to_scale
        info = _info_of(registry, attributes)
        scale = info.subresource("scale") if info is not None else None
        if scale is None or (scale.group, scale.version, scale.kind) != SCALE_KIND:
            return attributes
        store = registry.lookup(info.group, info.version, info.resource)
        # A custom resource's scale subresource names where its replicas are ({} for the built-in workloads).
        paths = self.scale_paths = getattr(getattr(store, "strategy", None), "scale_paths", None) or {}

        def as_scale(obj):
            if not isinstance(obj, dict):
                return obj
            return scale_from_custom_resource(obj, paths)[0] if paths else to_scale(obj)
        return replace(attributes, kind=GroupVersionKind(*SCALE_KIND), object=as_scale(attributes.object),
                       old_object=as_scale(attributes.old_object))

    async def versioned(self) -> Attributes:
        """The request in the matched version (converted once, the first time it is asked for)."""
        if self._versioned is None:
            if self.target is None:
                self._versioned = self.requested
            else:
                self._versioned = await self.equivalents.converted(self.requested, self.target)
        return self._versioned

    async def request(self, uid: str) -> dict:
        """The AdmissionRequest: kind and resource those matched, requestKind and requestResource the request's
        own (the objects in the matched version).  Built once (the matchConditions and the call both ask):
        nothing changes the invocation's object in between."""
        if self._request is None:
            versioned = await self.versioned()
            request = admission_request(versioned, "")
            if versioned is not self.requested:
                own = admission_request(self.requested, "")
                request["requestKind"], request["requestResource"] = own["requestKind"], own["requestResource"]
            self._request = request
        return dict(self._request, uid=uid)

    async def write_back(self, patched: dict) -> None:
        """The object a webhook patched (in the matched version, or a Scale) made the request's object again."""
        versioned = await self.versioned()
        obj = self.original.object
        if self.scale_paths is not None:
            replicas = (patched.get("spec") or {}).get("replicas", 0)
            versioned.object.clear()
            versioned.object.update(patched)
            if self.scale_paths:
                from ..registry.subresources.scale import _set_nested_field
                _set_nested_field(obj, self.scale_paths["specReplicasPath"], replicas)
            else:
                obj.setdefault("spec", {})["replicas"] = replicas
            return
        if versioned.object is not obj:
            versioned.object.clear()
            versioned.object.update(patched)
            patched = (await convert_objects(self.registry, [patched], self.target, self.source))[0]
        obj.clear()
        obj.update(patched)


def _annotate(record, key: str, value: str) -> None:
    """An audit annotation as upstream's attributes record takes one: the key a qualified name with exactly
    one "/" (others are dropped, as upstream logs and drops them), a key already set never overwritten."""
    from ..machinery.names import is_qualified_name
    if key.count("/") != 1 or is_qualified_name(key):
        return
    existing = getattr(record, "audit_annotations", None)
    if isinstance(existing, dict) and key in existing:
        return
    record.add_audit_annotation(key, value)


def _info_of(registry, attributes: Attributes):
    catalog = getattr(registry, "catalog", None)
    gvr = attributes.resource
    return catalog.lookup(gvr.group, gvr.version, gvr.resource) if catalog is not None else None


def webhook_url(config: dict) -> str:
    """The URL a webhook's clientConfig names (a service as https://NAME.NAMESPACE.svc:PORT/PATH)."""
    if config.get("url"):
        return config["url"]
    service = config.get("service") or {}
    return (f"https://{service.get('name', '')}.{service.get('namespace', '')}.svc:{service.get('port') or 443}"
            f"{service.get('path') or ''}")


# What client-go's NewGenericServerResponse says of a status code (the 5xx ones but 503 and 504 quote the body).
_SERVER_RESPONSES = {
    409: "the server reported a conflict",
    404: "the server could not find the requested resource",
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    405: "the server does not allow this method on the requested resource",
    422: "the server rejected our request due to an error in our request",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
    429: "the server has received too many requests and has asked us to try again later",
}


def _server_response_message(code: int, content_type: str, body: bytes) -> str:
    """client-go's error for a webhook's answer outside 200-206: a Status in the body when it is one (and
    says Failure), else NewGenericServerResponse's words, quoting a text body."""
    media = content_type.split(";")[0].strip().lower()
    if media in ("application/json", "") and body:
        try:
            status = json.loads(body)
        except ValueError:
            status = None
        if isinstance(status, dict) and status.get("kind") == "Status" and status.get("status") == "Failure":
            return str(status.get("message") or "")
    text = body[:2048].decode("utf-8", "replace").strip() if not media or media.startswith("text/") else "unknown"
    if code == 403 or code == 415:
        return text
    if code == 406:
        return "the server was unable to respond with a content type that the client supports" \
            if text in ("", "unknown") else text
    if code in _SERVER_RESPONSES:
        return _SERVER_RESPONSES[code]
    if code >= 500:
        return f"an error on the server ({go_quote(text)}) has prevented the request from succeeding"
    return f"the server responded with the status code {code} but did not return more information"


def _decoded_answer(name: str, code: int, content_type: str, body: bytes):
    """The webhook's answer decoded, as client-go's Do().Into() reads it."""
    if not 200 <= code <= 206:
        raise _CallingError(name, "failed to call webhook: " + _server_response_message(code, content_type, body))
    media = content_type.split(";")[0].strip().lower() or "application/json"
    if media != "application/json":
        raise _CallingError(name, f"failed to call webhook: serializer for {content_type} doesn't exist")
    if not body:
        raise _CallingError(name, f"failed to call webhook: 0-length response with status code: {code} and "
                                  f"content type: {content_type or 'application/json'}")
    try:
        answer = codec.loads(body)
    except ValueError:
        # Go's decoder's words for where it failed (the slow scanner only for a body that does not parse).
        problem = syntax_error(body) or "invalid JSON"
        raise _CallingError(name, f"failed to call webhook: couldn't get version/kind; json parse error: {problem}") \
            from None
    response = answer.get("response") if isinstance(answer, dict) else None
    if isinstance(response, dict):
        _base64_field(name, response.get("patch"))
    return answer


def verify_response(name: str, answer, uid: str, version: str, mutating: bool) -> dict:
    """Upstream's VerifyAdmissionResponse: the response (patchType normalized) or the _CallingError saying
    why it is not acceptable."""
    def invalid(why: str) -> _CallingError:
        return _CallingError(name, f"received invalid webhook response: {why}")
    response = answer.get("response") if isinstance(answer, dict) else None
    if not isinstance(response, dict):
        raise invalid("webhook response was absent")
    response = dict(response)
    if version == "v1beta1":      # neither uid nor kind verified; a patch is a JSONPatch
        if mutating and response.get("patch"):
            response["patchType"] = "JSONPatch"
        else:
            response.pop("patch", None)
        return response
    if response.get("uid", "") != uid:
        raise invalid(f"expected response.uid={go_quote(uid)}, got {go_quote(str(response.get('uid', '')))}")
    group, _, api_version = str(answer.get("apiVersion") or "").rpartition("/")
    kind = str(answer.get("kind") or "")
    if (group, api_version, kind) != ("admission.k8s.io", "v1", "AdmissionReview"):
        raise invalid(f"expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
                      f"{group}/{api_version}, Kind={kind}")
    patch, patch_type = response.get("patch"), response.get("patchType")
    if mutating:
        if patch and patch_type is None:
            raise invalid("webhook returned response.patch but not response.patchType")
        if not patch and patch_type is not None:
            raise invalid("webhook returned response.patchType but not response.patch")
        if patch_type is not None and not patch_type:
            raise invalid(f"webhook returned invalid response.patchType of {go_quote(str(patch_type))}")
    else:
        if patch:
            raise invalid("validating webhook may not return response.patch")
        if patch_type is not None:
            raise invalid("validating webhook may not return response.patchType")
    return response


def _base64_field(name: str, value) -> bytes:
    """A []byte field of the response (base64 in JSON); bad base64 fails decoding the response, as Go's."""
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        text = value
        at = next((i for i, c in enumerate(text) if not (c.isascii() and (c.isalnum() or c in "+/="))), len(text))
        raise _CallingError(name, f"failed to call webhook: illegal base64 data at input byte {at}") from None


def _decoded_patch(name: str, patch) -> list:
    """A response's patch (base64 of a JSON patch) as jsonpatch.DecodePatch reads it: bad base64 fails the
    response's decoding (a calling error), a patch that is no JSON array a 500."""
    raw = _base64_field(name, patch)
    try:
        operations = codec.loads(raw)
    except ValueError:
        raise errors.internal_error(syntax_error(raw) or "invalid JSON") from None
    if operations is None:
        return []
    if not isinstance(operations, list):
        raise errors.internal_error(f"json: cannot unmarshal {json_kind(operations)} into Go value of type "
                                    "jsonpatch.Patch")
    if any(op is not None and not isinstance(op, dict) for op in operations):
        bad = next(op for op in operations if op is not None and not isinstance(op, dict))
        raise errors.internal_error(f"json: cannot unmarshal {json_kind(bad)} into Go value of type "
                                    "jsonpatch.Operation")
    return operations


def apply_json_patch(obj: dict, operations: list) -> dict:
    """``operations`` applied to a copy of ``obj`` as upstream's mutating dispatcher applies a webhook's patch
    (evanphx/json-patch v4, quirks included: a replace may add an object's key, a copy from an absent key
    copies null); an operation that does not apply is a 500 in that library's words."""
    try:
        return jsonpatch4.apply(copy.deepcopy(obj), operations)
    except jsonpatch4.PatchError as e:
        raise errors.internal_error(str(e)) from None


def call_failure(error: Exception, url: str = "") -> str:
    """Why a webhook call failed, as Go's HTTP client words it: past its timeout (the request cancelled, or
    Twisted's timeout), "context deadline exceeded"; a server certificate the caBundle does not verify, Go's
    x509 words; a refused connection or a host name that does not resolve as Go's dialer says them ("dial tcp
    HOST:PORT: connect: connection refused", "dial tcp: lookup HOST: no such host"); else what each
    connection attempt reported."""
    from twisted.internet import error as net_errors
    failures = getattr(error, "reasons", None) or []     # ResponseNeverReceived and friends carry Failures
    causes = [f.value for f in failures] or [error]
    if url and any(isinstance(c, (net_errors.ConnectionRefusedError, ConnectionRefusedError)) for c in causes):
        return f"dial tcp {webhook_target(url)}: connect: connection refused"
    if url and any(isinstance(c, net_errors.DNSLookupError) for c in causes):
        return f"dial tcp: lookup {urlsplit(url).hostname or ''}: no such host"
    if any(isinstance(c, (defer.CancelledError, defer.TimeoutError, TimeoutError)) or "Timeout" in type(c).__name__
           for c in causes):
        return "context deadline exceeded"
    if any("certificate verify failed" in str(c) for c in causes):
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    return "; ".join(str(c) or type(c).__name__ for c in causes)


def admission_request(attributes: Attributes, uid: str) -> dict:
    """The AdmissionRequest of an AdmissionReview for ``attributes``."""
    kind, resource = attributes.kind, attributes.resource
    gvk = {"group": kind.group, "version": kind.version, "kind": kind.kind}
    gvr = {"group": resource.group, "version": resource.version, "resource": resource.resource}
    request = {"uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
               "name": attributes.name, "operation": attributes.operation,
               "userInfo": attributes.user_info.to_api(), "object": attributes.object,
               "oldObject": attributes.old_object, "dryRun": bool(attributes.dry_run)}
    if attributes.subresource:
        request["subResource"] = request["requestSubResource"] = attributes.subresource
    if attributes.namespace:
        request["namespace"] = attributes.namespace
    options = _options_object(attributes)
    if options is not None:
        request["options"] = options
    return request


def _options_object(attributes: Attributes) -> Optional[dict]:
    """The operation's options as the AdmissionRequest carries them: CreateOptions, UpdateOptions (patches
    too) or DeleteOptions, in meta.k8s.io/v1; None for CONNECT, whose options are its ``object``."""
    options = attributes.options
    kind = {CREATE: "CreateOptions", UPDATE: "UpdateOptions", DELETE: "DeleteOptions"}.get(attributes.operation)
    if kind is None or options is None:
        return None
    out: dict = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if attributes.dry_run:
        out["dryRun"] = ["All"]
    if kind == "DeleteOptions":
        if getattr(options, "grace_period_seconds", None) is not None:
            out["gracePeriodSeconds"] = options.grace_period_seconds
        preconditions = {k: v for k, v in (("uid", getattr(options, "precondition_uid", None)),
                                            ("resourceVersion", getattr(options, "precondition_resource_version",
                                                                        None))) if v is not None}
        if preconditions:
            out["preconditions"] = preconditions
        if getattr(options, "orphan_dependents", None) is not None:
            out["orphanDependents"] = options.orphan_dependents
        if getattr(options, "propagation_policy", None):
            out["propagationPolicy"] = options.propagation_policy
        return out
    given = _query_of(attributes)
    if given is None:
        # A write made inside the server (no request): its own field manager, nothing else.
        if getattr(options, "field_manager", ""):
            out["fieldManager"] = options.field_manager
        return out
    # As upstream's handlers decode them from the query: what the client sent, nothing added (no fieldManager
    # made of the User-Agent, no fieldValidation default); a patch's PatchOptions become these fields too.
    if given.get("dryRun"):
        out["dryRun"] = given["dryRun"]
    for key in ("fieldManager", "fieldValidation"):
        if given.get(key) and given[key][0]:
            out[key] = given[key][0]
    return out


def _query_of(attributes: Attributes) -> Optional[dict]:
    """The query parameters of the API request being admitted ({name: [values]}), None for a write the
    server makes itself (no request recorded)."""
    request = getattr(attributes.record, "request", None)
    args = getattr(request, "args", None)
    if not isinstance(args, dict):
        return None
    return {(k.decode("utf-8", "replace") if isinstance(k, bytes) else k):
            [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]
            for k, values in args.items()}


def evaluate_conditions(conditions: list, activation: dict, variables: frozenset,
                        budget=None, upstream_words: bool = False) -> tuple[bool, list[str]]:
    """matchConditions (CEL, compiled for ``variables``) over ``activation``: (False, []) as soon as one is false;
    else (True, why each one that could not be evaluated failed).  Webhooks and admission policies share it;
    ``upstream_words`` words each failure as upstream's CEL evaluator does ("expression '<expression>'
    resulted in error: <error>", "compilation error: <error>") rather than by the condition's name."""
    from ..machinery import cel
    failures = []
    for condition in conditions:
        name = condition.get("name", "")
        try:
            program = cel.compile_expression((condition.get("expression") or "").strip(), variables)
        except cel.CompileError as e:
            failures.append(f"compilation error: {e}" if upstream_words else f"matchCondition {name!r}: {e}")
            continue
        result = program.evaluate(activation, budget)
        if isinstance(result, cel.celpy.CELEvalError):
            failures.append(f"expression '{condition.get('expression') or ''}' resulted in error: "
                            f"{cel.error_text(result)}" if upstream_words else
                            f"matchCondition {name!r}: {cel.error_text(result)}")
        elif not isinstance(result, cel.celtypes.BoolType):
            failures.append(f"matchCondition {name!r}: must evaluate to bool")
        elif not result:
            return False, []
    return True, failures


def _denied(name: str, status: dict) -> StatusError:
    """The error for a webhook's refusal, worded as upstream's."""
    code = status.get("code") or 400
    code = 400 if code < 400 else code
    denied_by = f'admission webhook "{name}" denied the request'
    if status.get("message"):
        message = f"{denied_by}: {status['message']}"
    elif status.get("reason"):
        message = f"{denied_by}: {status['reason']}"
    else:
        message = f"{denied_by} without explanation"
    return StatusError(code, status.get("reason", ""), message, status.get("details"))


class AdmissionWebhooks:
    """Both webhook plugins, sharing the registry; each has its own (parsed) kubeconfig of credentials."""

    def __init__(self, registry, reactor=None, mutating_kubeconfig: Optional[dict] = None,
                 validating_kubeconfig: Optional[dict] = None):
        self.mutating = _MutatingWebhooks(registry, "mutatingwebhookconfigurations", True, reactor,
                                          mutating_kubeconfig)
        self.validating = _ValidatingWebhooks(registry, "validatingwebhookconfigurations", False, reactor,
                                              validating_kubeconfig)

    def use_authorizer(self, authorizer) -> None:
        """What answers matchConditions' ``authorizer`` checks (the server's authorizer; None denies them)."""
        self.mutating.authorizer = self.validating.authorizer = authorizer
