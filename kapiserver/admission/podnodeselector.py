"""
PodNodeSelector admission (off by default, as upstream): a new pod's
nodeSelector gets its namespace's node selector merged in (the namespace's
scheduler.alpha.kubernetes.io/node-selector annotation, else the configured
clusterDefaultNodeSelector); a pod that contradicts it, or whose selector
leaves its namespace's whitelist, is refused with upstream's 403.

The configuration is upstream's unversioned one, ``podNodeSelectorPluginConfig``:
``clusterDefaultNodeSelector`` and, per namespace name, its whitelist selector.
"""

from __future__ import annotations

from ..machinery import errors
from ..machinery.errors import GroupResource, StatusError
from ..machinery.selectors import validate_label_key, validate_label_value
from ..registry.attributes import CREATE, Attributes
from .refusal import is_resource

ANNOTATION = "scheduler.alpha.kubernetes.io/node-selector"
CLUSTER_DEFAULT = "clusterDefaultNodeSelector"
_PODS = GroupResource("", "pods")


def parse_configuration(configuration) -> dict[str, str]:
    """{clusterDefaultNodeSelector or namespace: selector}; upstream ignores what it cannot decode."""
    if not isinstance(configuration, dict):
        return {}
    section = configuration.get("podNodeSelectorPluginConfig")
    if not isinstance(section, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in section.items() if not isinstance(v, (dict, list))}


class SelectorError(ValueError):
    pass


def selector_to_labels(selector: str) -> dict[str, str]:
    """``k=v,k2=v2`` as a map (labels.ConvertSelectorToLabelsMap); SelectorError when malformed."""
    result: dict[str, str] = {}
    if not selector:
        return result
    for term in selector.split(","):
        parts = term.split("=")
        if len(parts) != 2:
            raise SelectorError(f"invalid selector: [{' '.join(parts)}]")
        key, value = parts[0].strip(), parts[1].strip()
        problems = validate_label_key(key)
        if problems:
            # Upstream's nil path prints as "<nil>", the value's as the key in brackets.
            raise SelectorError(str(errors.invalid("<nil>", key, "; ".join(problems))))
        problems = validate_label_value(value)
        if problems:
            raise SelectorError(str(errors.invalid(f"[{key}]", value, "; ".join(problems))))
        result[key] = value
    return result


def conflicts(a: dict, b: dict) -> bool:
    """Whether two label sets give one key different values."""
    return any(key in b and b[key] != value for key, value in a.items())


class PodNodeSelector:
    def __init__(self, registry, selectors: dict[str, str]):
        self.registry = registry
        self.selectors = dict(selectors)

    async def _namespace_selector(self, name: str) -> dict[str, str]:
        try:
            namespace = await self.registry.store("", "v1", "namespaces").get(None, name)
        except StatusError as e:
            if e.code == 404:
                raise errors.internal_error(f"namespace {name} does not exist") from None
            raise
        annotations = (namespace.get("metadata") or {}).get("annotations") or {}
        try:
            if ANNOTATION in annotations:
                return selector_to_labels(annotations[ANNOTATION])
            return selector_to_labels(self.selectors.get(CLUSTER_DEFAULT, ""))
        except SelectorError as e:
            # Upstream hands back the plain error, which the API writes as a 500 without a reason.
            raise StatusError(500, "", str(e)) from None

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE or not is_resource(attributes, "", "pods"):
            return
        obj = attributes.object
        metadata = obj.get("metadata") or {}
        name = metadata.get("name", "")
        namespace_selector = await self._namespace_selector(metadata.get("namespace", ""))
        spec = obj.setdefault("spec", {})
        pod_selector = dict(spec.get("nodeSelector") or {})
        if conflicts(namespace_selector, pod_selector):
            raise self._forbidden(name, "pod node label selector conflicts with its namespace node label selector")
        # The pod's own values win where both name a key (they agree, or we refused above).
        merged = {**namespace_selector, **pod_selector}
        if merged:
            spec["nodeSelector"] = merged
        try:
            whitelist = selector_to_labels(self.selectors.get(metadata.get("namespace", ""), ""))
        except SelectorError as e:
            raise StatusError(500, "", str(e)) from None
        if whitelist and any(whitelist.get(key) != value for key, value in merged.items()):
            raise self._forbidden(name, "pod node label selector labels conflict with its namespace whitelist")

    @staticmethod
    def _forbidden(name: str, why: str) -> StatusError:
        return errors.forbidden_request(_PODS, name, f'pods "{name}" is forbidden: {why}')
