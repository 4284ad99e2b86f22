"""
The fields a field selector can name, per built-in resource.

Upstream answers this in two independent layers, and so do we:

1. Which labels a request may use, and what they are renamed to: the field-label
   conversion functions registered per kind (pkg/apis/<group>/<version>/conversion.go);
   a kind without one falls back to ``metadata.name`` and ``metadata.namespace``.
   The list handlers run every term through it and turn a refusal into a 400.
   :func:`check_field_selector` is this layer.
2. What an object's fields are: the registry strategies' ToSelectableFields.
   :func:`field_set` is this layer.  A label accepted by (1) but absent from (2)
   reads as ``""`` (pods' ``status.podIPs`` is one).

Public API: :func:`field_set`, :func:`check_field_selector`, :func:`accepts` (each
takes a CRD's ``selectableFields`` for custom resources).
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional

from ..machinery import errors
from ..machinery.selectors import FieldSelector, go_quote
from .catalog import BUILTIN

_NAME, _NAMESPACE = "metadata.name", "metadata.namespace"
_META = (_NAME, _NAMESPACE)

_EVENT_LABELS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                 "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                 "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type") + _META


def _identity(*labels: str) -> dict[str, str]:
    return {label: label for label in labels}


def _not_supported(label: str) -> str:
    return f"field label not supported: {label}"


def _default_refusal(label: str) -> str:
    return (f"{go_quote(label)} is not a known field selector: only "
            f"{go_quote(_NAME)}, {go_quote(_NAMESPACE)}")


# (group, resource) -> (accepted label -> label matched on, message for a refused label)
_CONVERSIONS: dict[tuple[str, str], tuple[dict[str, str], Callable[[str], str]]] = {
    ("", "pods"): ({**_identity(*_META, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                                "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                                "status.podIP", "status.podIPs", "status.nominatedNodeName"),
                    "spec.host": "spec.nodeName"},  # what old v1 clients send
                   _not_supported),
    ("", "nodes"): (_identity(_NAME, "spec.unschedulable"), _not_supported),
    ("", "replicationcontrollers"): (_identity(*_META, "status.replicas"), _not_supported),
    ("", "events"): (_identity(*_EVENT_LABELS), _not_supported),
    ("", "namespaces"): (_identity("status.phase", _NAME), _not_supported),
    ("", "secrets"): (_identity("type", *_META), _not_supported),
    ("", "services"): (_identity(*_META, "spec.clusterIP", "spec.type"), _not_supported),
    # events.k8s.io names the core fields differently and maps them back
    ("events.k8s.io", "events"): ({
        "reason": "reason",
        "regarding.kind": "involvedObject.kind",
        "regarding.namespace": "involvedObject.namespace",
        "regarding.name": "involvedObject.name",
        "regarding.uid": "involvedObject.uid",
        "regarding.apiVersion": "involvedObject.apiVersion",
        "regarding.resourceVersion": "involvedObject.resourceVersion",
        "regarding.fieldPath": "involvedObject.fieldPath",
        "reportingController": "reportingComponent",
        "source": "source",
        "type": "type",
        _NAMESPACE: _NAMESPACE,
        _NAME: _NAME,
    }, _not_supported),
    ("batch", "jobs"): (_identity(*_META, "status.successful"),
                        lambda label: f"field label {go_quote(label)} not supported for batchv1.Job"),
    ("certificates.k8s.io", "certificatesigningrequests"): (_identity(_NAME, "spec.signerName"),
                                                            _not_supported),
}
_DEFAULT = (_identity(*_META), _default_refusal)


def _custom(selectable_fields: Iterable[str]) -> tuple[dict[str, str], Callable[[str], str]]:
    """A custom resource's rules: its CRD's selectableFields (JSON paths, ``.spec.color``)."""
    return _identity(*_META, *(_label(path) for path in selectable_fields)), _not_supported


def _label(json_path: str) -> str:
    return json_path[1:] if json_path.startswith(".") else json_path


def _rules(group: str, resource: str, selectable_fields: Optional[Iterable[str]]):
    if selectable_fields is not None:
        return _custom(selectable_fields)
    return _CONVERSIONS.get((group, resource), _DEFAULT)


def accepts(group: str, resource: str, label: str, selectable_fields: Optional[Iterable[str]] = None) -> bool:
    """Whether a field selector on this resource may name ``label``."""
    return label in _rules(group, resource, selectable_fields)[0]


def check_field_selector(group: str, resource: str, selector: FieldSelector,
                         selectable_fields: Optional[Iterable[str]] = None) -> FieldSelector:
    """The selector with its labels converted as upstream converts them (``spec.host`` ->
    ``spec.nodeName``, ``regarding.name`` -> ``involvedObject.name`` ...), ready to match
    against :func:`field_set`.  The first refused label raises a 400 with upstream's message.

    For a custom resource, pass its CRD version's ``selectableFields`` JSON paths."""
    accepted, refusal = _rules(group, resource, selectable_fields)

    def convert(label: str, value: str) -> tuple[str, str]:
        if label not in accepted:
            raise errors.bad_request(refusal(label))
        return accepted[label], value

    return selector.transform(convert)


# --- ToSelectableFields ------------------------------------------------------------------------

_NAMESPACED = {(info.group, info.resource): info.namespaced for info in BUILTIN}


def _get(obj: Mapping, path: str, default=None):
    parts = _PARTS.get(path)
    if parts is None:
        parts = path.split(".")
        if len(_PARTS) < 4096:
            _PARTS[path] = parts
    node = obj
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node if node is not None else default


# A path's parts, split once (every watch event of a resource with a field-selected watcher reads the same few).
_PARTS: dict[str, list[str]] = {}


def _metadata_field(obj: Mapping, name: str) -> str:
    """``_s(_get(obj, "metadata." + name))`` for the metadata fields every object has."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else _get(obj, "metadata")
    if isinstance(metadata, dict):
        value = metadata.get(name)
        return "" if value is None else str(value)
    return _s(_get(obj, "metadata." + name))


def _s(value) -> str:
    return "" if value is None else str(value)


def _bool(value) -> str:
    return "true" if value else "false"  # strconv.FormatBool


def _int(value) -> str:
    return str(int(value or 0))


def _pod(obj: Mapping) -> dict[str, str]:
    ips = _get(obj, "status.podIPs") or []
    pod_ip = (ips[0] or {}).get("ip", "") if ips else _s(_get(obj, "status.podIP"))
    return {
        "spec.nodeName": _s(_get(obj, "spec.nodeName")),
        "spec.restartPolicy": _s(_get(obj, "spec.restartPolicy")),
        "spec.schedulerName": _s(_get(obj, "spec.schedulerName")),
        "spec.serviceAccountName": _s(_get(obj, "spec.serviceAccountName")),
        "spec.hostNetwork": _bool(_get(obj, "spec.hostNetwork")),
        "status.phase": _s(_get(obj, "status.phase")),
        "status.podIP": _s(pod_ip),
        "status.nominatedNodeName": _s(_get(obj, "status.nominatedNodeName")),
    }


def _event(obj: Mapping) -> dict[str, str]:
    if "involvedObject" not in obj and "regarding" in obj:
        # an events.k8s.io/v1 object: the same fields under their new names
        ref = obj.get("regarding") or {}
        reporting = obj.get("reportingController")
        component = _get(obj, "deprecatedSource.component") or reporting
    else:
        ref = obj.get("involvedObject") or {}
        reporting = obj.get("reportingComponent")     # core/v1's name for the reporting controller
        component = _get(obj, "source.component") or reporting
    return {
        "involvedObject.kind": _s(ref.get("kind")),
        "involvedObject.namespace": _s(ref.get("namespace")),
        "involvedObject.name": _s(ref.get("name")),
        "involvedObject.uid": _s(ref.get("uid")),
        "involvedObject.apiVersion": _s(ref.get("apiVersion")),
        "involvedObject.resourceVersion": _s(ref.get("resourceVersion")),
        "involvedObject.fieldPath": _s(ref.get("fieldPath")),
        "reason": _s(obj.get("reason")),
        "reportingComponent": _s(reporting),
        "source": _s(component),
        "type": _s(obj.get("type")),
    }


_SPECIFIC: dict[tuple[str, str], Callable[[Mapping], dict[str, str]]] = {
    ("", "pods"): _pod,
    ("", "nodes"): lambda o: {"spec.unschedulable": _bool(_get(o, "spec.unschedulable"))},
    # "name" is a historical extra upstream keeps; no request can reach it
    ("", "namespaces"): lambda o: {"status.phase": _s(_get(o, "status.phase")),
                                   "name": _s(_get(o, "metadata.name"))},
    ("", "secrets"): lambda o: {"type": _s(o.get("type"))},
    ("", "services"): lambda o: {"spec.clusterIP": _s(_get(o, "spec.clusterIP")),
                                 "spec.type": _s(_get(o, "spec.type"))},
    ("", "replicationcontrollers"): lambda o: {"status.replicas": _int(_get(o, "status.replicas"))},
    ("", "events"): _event,
    ("events.k8s.io", "events"): _event,
    ("apps", "replicasets"): lambda o: {"status.replicas": _int(_get(o, "status.replicas"))},
    ("batch", "jobs"): lambda o: {"status.successful": _int(_get(o, "status.succeeded"))},
    ("certificates.k8s.io", "certificatesigningrequests"):
        lambda o: {"spec.signerName": _s(_get(o, "spec.signerName"))},
}


def _custom_value(value) -> str:
    if isinstance(value, bool):
        return _bool(value)
    if isinstance(value, (int, str)):
        return str(value)
    return ""  # selectable fields are strings, integers or booleans; anything else reads empty


def field_set(group: str, resource: str, obj: Mapping, aliases: bool = True,
              selectable_fields: Optional[Iterable[str]] = None) -> dict[str, str]:
    """The object's selectable fields, as the resource's upstream strategy computes them.

    With ``aliases`` (the default) each field is also offered under the other names a
    request may use for it (``spec.host``, ``regarding.name`` ...), so that a selector
    matches whether or not it went through :func:`check_field_selector`'s conversion;
    ``aliases=False`` gives upstream's set exactly.  For a custom resource, pass its
    CRD version's ``selectableFields`` JSON paths; each adds the value found there."""
    namespaced: Optional[bool] = _NAMESPACED.get((group, resource))
    if namespaced is None:  # not built in (a CRD, say): judge by the object
        namespaced = bool(_get(obj, "metadata.namespace"))
    fields = {_NAME: _metadata_field(obj, "name")}
    if namespaced:
        fields[_NAMESPACE] = _metadata_field(obj, "namespace")
    specific = _SPECIFIC.get((group, resource))
    if specific is not None:
        fields.update(specific(obj))
    for path in selectable_fields or ():
        value = _get(obj, _label(path))
        if value is not None:
            fields[_label(path)] = _custom_value(value)
    if aliases:
        accepted = _CONVERSIONS.get((group, resource), _DEFAULT)[0]
        for label, target in accepted.items():
            if label != target and target in fields:
                fields.setdefault(label, fields[target])
    return fields
