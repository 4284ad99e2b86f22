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
import os
import uuid
from typing import Optional
from urllib.parse import urlsplit

import jsonpatch
from twisted.internet import defer

from ..machinery import errors
from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, DELETE, UPDATE, Attributes
from ..registry.options import ListOptions
from .celauthz import MAX_AUTHZ_ROUNDS, AuthzChecks, request_authorizer
from .matching import rule_matches, selectors_match

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
        url = config.get("url")
        if not url and config.get("service"):
            service = config["service"]
            url = (f"https://{service['name']}.{service['namespace']}.svc:{service.get('port', 443)}"
                   f"{service.get('path', '')}")
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
        for configuration in await self._configurations():
            for webhook in configuration.get("webhooks") or []:
                if await self._matches(webhook, attributes):
                    await self._call(webhook, attributes)

    async def _matches(self, webhook, attributes: Attributes) -> bool:
        if not any(rule_matches(rule, attributes) for rule in webhook.get("rules") or []):
            return False
        return await selectors_match(webhook.get("objectSelector"), webhook.get("namespaceSelector"), attributes,
                                     self._namespace_labels)

    async def _conditions_match(self, webhook: dict, attributes: Attributes, request: dict) -> bool:
        """Whether every matchCondition of ``webhook`` holds (CEL over object, oldObject, request and
        authorizer): one that is false skips the webhook; one that cannot be evaluated skips it under
        failurePolicy Ignore and refuses the request (403) under Fail, as upstream's matcher."""
        conditions = webhook.get("matchConditions") or []
        if not conditions:
            return True
        from ..machinery import cel
        from ..registry.validation.admissionregistration import MATCH_CONDITION_VARIABLES
        checks = AuthzChecks(self.authorizer, attributes.user_info)
        activation = {"object": cel.to_cel(attributes.object, None),
                      "oldObject": cel.to_cel(attributes.old_object, None),
                      "request": cel.to_cel(request, None), "authorizer": request_authorizer(checks, attributes)}
        matched, failures = evaluate_conditions(conditions, activation, MATCH_CONDITION_VARIABLES)
        for _ in range(MAX_AUTHZ_ROUNDS):
            if not await checks.resolve():
                break
            matched, failures = evaluate_conditions(conditions, activation, MATCH_CONDITION_VARIABLES)
        if not matched:
            return False
        if not failures:
            return True
        if (webhook.get("failurePolicy") or "Fail") == "Ignore":
            return False
        gr = attributes.group_resource
        raise errors.forbidden_request(gr, attributes.name,
                                       f'{gr} "{attributes.name}" is forbidden: failed to evaluate match '
                                       f'conditions of webhook "{webhook.get("name", "")}": ' + "; ".join(failures))

    async def _call(self, webhook, attributes: Attributes) -> None:
        op, obj = attributes.operation, attributes.object
        name = webhook.get("name", "")
        request = admission_request(attributes, str(uuid.uuid4()))
        if not await self._conditions_match(webhook, attributes, request):
            return
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        timeout = webhook.get("timeoutSeconds") or 10
        config = webhook.get("clientConfig") or {}
        try:
            answer = await self._client(config).post(review, timeout=timeout)
            response = answer.get("response") or {}
        except Exception as e:  # the webhook could not be called: failurePolicy decides
            if (webhook.get("failurePolicy") or "Fail") == "Ignore":
                return
            url = config.get("url") or "the service"
            reason = call_failure(e)
            raise StatusError(500, "InternalError",
                              f'Internal error occurred: failed calling webhook "{name}": failed to call webhook: '
                              f'Post "{url}?timeout={timeout}s": {reason}',
                              {"causes": [{"message": f'failed calling webhook "{name}": {reason}'}]}) from None
        if not response.get("allowed"):
            raise _denied(name, response.get("status") or {})
        if self.mutating and response.get("patch") and op != DELETE:
            if response.get("patchType", "JSONPatch") != "JSONPatch":
                raise StatusError(500, "InternalError",
                                  f'Internal error occurred: webhook "{name}" returned an unsupported patchType')
            patch = jsonpatch.JsonPatch.from_string(base64.b64decode(response["patch"]).decode())
            patched = patch.apply(obj)
            obj.clear()
            obj.update(patched)
            attributes.patched_by.append(name)


class _MutatingWebhooks(_Webhooks):
    """The MutatingAdmissionWebhook plugin: its webhooks are called in the mutating phase."""

    async def admit(self, attributes: Attributes) -> None:
        await self.call_webhooks(attributes)


class _ValidatingWebhooks(_Webhooks):
    """The ValidatingAdmissionWebhook plugin: its webhooks are called in the validating phase."""

    async def validate(self, attributes: Attributes) -> None:
        await self.call_webhooks(attributes)


def call_failure(error: Exception) -> str:
    """Why a webhook call failed, as Go's HTTP client words it: past its timeout (the request cancelled, or
    Twisted's timeout), "context deadline exceeded"; a server certificate the caBundle does not verify, Go's
    x509 words; else what each connection attempt reported."""
    failures = getattr(error, "reasons", None) or []     # ResponseNeverReceived and friends carry Failures
    causes = [f.value for f in failures] or [error]
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
    if getattr(options, "field_manager", ""):
        out["fieldManager"] = options.field_manager
    if getattr(options, "field_validation", ""):
        out["fieldValidation"] = options.field_validation
    return out


def evaluate_conditions(conditions: list, activation: dict, variables: frozenset,
                        budget=None) -> tuple[bool, list[str]]:
    """matchConditions (CEL, compiled for ``variables``) over ``activation``: (False, []) as soon as one is false;
    else (True, why each one that could not be evaluated failed).  Webhooks and admission policies share it."""
    from ..machinery import cel
    failures = []
    for condition in conditions:
        name = condition.get("name", "")
        try:
            program = cel.compile_expression((condition.get("expression") or "").strip(), variables)
        except cel.CompileError as e:
            failures.append(f"matchCondition {name!r}: {e}")
            continue
        result = program.evaluate(activation, budget)
        if isinstance(result, cel.celpy.CELEvalError):
            failures.append(f"matchCondition {name!r}: {cel.error_text(result)}")
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
