"""
MutatingAdmissionWebhook and ValidatingAdmissionWebhook: the stored webhook
configurations are matched against each write (rules, scope, namespace and
object selectors) and called over HTTPS with an AdmissionReview, honouring
timeoutSeconds and failurePolicy; mutations come back as JSON patches.
"""

from __future__ import annotations

import base64
import uuid
from typing import Optional

import jsonpatch

from ..auth.context import current_user
from ..machinery.errors import StatusError
from ..registry.options import ListOptions

GROUP = "admissionregistration.k8s.io"
_OPERATIONS = {"create": "CREATE", "update": "UPDATE", "delete": "DELETE"}


def _selector_matches(selector: Optional[dict], labels: dict) -> bool:
    """An absent selector selects everything, as for webhooks upstream."""
    from ..registry.validation._util import selector_matches
    return selector_matches(selector or {}, labels)


def _rule_matches(rule: dict, operation: str, info, subresource: str) -> bool:
    operations = rule.get("operations") or []
    if "*" not in operations and operation not in operations:
        return False
    if not any(g in ("*", info.group) for g in rule.get("apiGroups") or []):
        return False
    if not any(v in ("*", info.version) for v in rule.get("apiVersions") or []):
        return False
    resource = f"{info.resource}/{subresource}" if subresource else info.resource
    resources = rule.get("resources") or []
    if not any(r in ("*/*", resource) or (r == "*" and not subresource) or
               (r.startswith("*/") and subresource and r[2:] == subresource) or
               (r.endswith("/*") and r[:-2] == info.resource and subresource) for r in resources):
        return False
    scope = rule.get("scope") or "*"
    return scope == "*" or (scope == "Namespaced") == info.namespaced


class _Webhooks:
    def __init__(self, registry, resource: str, mutating: bool, reactor=None):
        self.registry = registry
        self.resource = resource
        self.mutating = mutating
        self.reactor = reactor
        self._clients: dict = {}
        from .cache import AdmissionReadCache
        self._cache = AdmissionReadCache(self._load)

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
        from ..auth.webhook import WebhookClient
        ca = config.get("caBundle")
        url = config.get("url")
        if not url and config.get("service"):
            service = config["service"]
            url = (f"https://{service['name']}.{service['namespace']}.svc:{service.get('port', 443)}"
                   f"{service.get('path', '')}")
        key = (url, ca)
        if key not in self._clients:
            self._clients[key] = WebhookClient(url, base64.b64decode(ca) if ca else None, reactor=self.reactor)
        return self._clients[key]

    async def __call__(self, operation: str, store, obj: dict, old) -> None:
        op = _OPERATIONS.get(operation)
        info = store.info
        if info.group == GROUP:
            if info.resource == self.resource:
                self._cache.invalidate()
            return  # webhook configurations are never sent to webhooks, as upstream
        if op is None:
            return
        subresource = getattr(store, "subresource", "") or ""
        for configuration in await self._configurations():
            for webhook in configuration.get("webhooks") or []:
                if await self._matches(webhook, op, store, obj, old, subresource):
                    await self._call(webhook, op, store, obj, old, subresource)

    async def _matches(self, webhook, op, store, obj, old, subresource) -> bool:
        info = store.info
        if not any(_rule_matches(rule, op, info, subresource) for rule in webhook.get("rules") or []):
            return False
        subject = obj if op != "DELETE" else (old or obj)
        labels = (subject.get("metadata") or {}).get("labels") or {}
        if webhook.get("objectSelector") and not _selector_matches(webhook["objectSelector"], labels):
            return False
        selector = webhook.get("namespaceSelector")
        if selector:
            if info.group == "" and info.resource == "namespaces":
                return _selector_matches(selector, labels)
            if info.namespaced:
                namespace = subject["metadata"].get("namespace", "")
                return _selector_matches(selector, await self._namespace_labels(namespace))
        return True

    async def _call(self, webhook, op, store, obj, old, subresource) -> None:
        info = store.info
        name = webhook.get("name", "")
        uid = str(uuid.uuid4())
        gvk = {"group": info.group, "version": info.version, "kind": info.kind}
        gvr = {"group": info.group, "version": info.version, "resource": info.resource}
        metadata = (obj or old or {}).get("metadata") or {}
        request = {"uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
                   "name": metadata.get("name", ""), "operation": op, "userInfo": current_user().to_api(),
                   "object": obj if op != "DELETE" else None, "oldObject": old if op != "CREATE" else None,
                   "dryRun": False}
        if subresource:
            request["subResource"] = request["requestSubResource"] = subresource
        if info.namespaced:
            request["namespace"] = metadata.get("namespace", "")
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
            reason = str(e) or type(e).__name__
            if "Timeout" in type(e).__name__ or "timeout" in reason.lower():
                reason = "context deadline exceeded"
            raise StatusError(500, "InternalError",
                              f'Internal error occurred: failed calling webhook "{name}": failed to call webhook: '
                              f'Post "{url}?timeout={timeout}s": {reason}',
                              {"causes": [{"message": f'failed calling webhook "{name}": {reason}'}]}) from None
        if not response.get("allowed"):
            raise _denied(name, response.get("status") or {})
        if self.mutating and response.get("patch") and op != "DELETE":
            if response.get("patchType", "JSONPatch") != "JSONPatch":
                raise StatusError(500, "InternalError",
                                  f'Internal error occurred: webhook "{name}" returned an unsupported patchType')
            patch = jsonpatch.JsonPatch.from_string(base64.b64decode(response["patch"]).decode())
            patched = patch.apply(obj)
            obj.clear()
            obj.update(patched)


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
    """Both webhook plugins, sharing the registry."""

    def __init__(self, registry, reactor=None):
        self.mutating = _Webhooks(registry, "mutatingwebhookconfigurations", True, reactor)
        self.validating = _Webhooks(registry, "validatingwebhookconfigurations", False, reactor)
