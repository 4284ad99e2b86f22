"""The resources a custom resource embeds (``x-kubernetes-embedded-resource``), validated as apiextensions
does: apiVersion and kind required and well-formed, the metadata as ObjectMeta with names that are path
segments; the same on create and update."""

from __future__ import annotations

from typing import Any, Optional

from ...machinery import names
from ...machinery.embedded import embedded_objects, unmarshal_metadata
from ._util import Errors, invalid, required
from .apiextensions import dns1035_errors
from .meta import object_meta


def embedded_resources(obj: Any, schema: Optional[dict]) -> Errors:
    errs: Errors = []
    for item, path in embedded_objects(obj, schema):
        errs += [required(f"{path}.{key}", "") for key in ("apiVersion", "kind") if key not in item]
        if "apiVersion" in item:
            errs += _api_version(item["apiVersion"], f"{path}.apiVersion")
        if "kind" in item:
            errs += _kind(item["kind"], f"{path}.kind")
        if "metadata" in item:
            errs += _metadata(item["metadata"], f"{path}.metadata")
    return errs


def _api_version(value: Any, field: str) -> Errors:
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    if not value:
        return [invalid(field, value, "must not be empty")]
    if value.count("/") > 1:        # what schema.ParseGroupVersion refuses
        return [invalid(field, value, f"unexpected GroupVersion string: {value}")]
    return []


def _kind(value: Any, field: str) -> Errors:
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    if not value:
        return [invalid(field, value, "must not be empty")]
    return dns1035_errors(field, value, mixed_case=True)


def _metadata(value: Any, field: str) -> Errors:
    try:
        meta = unmarshal_metadata(value)[0]
    except ValueError as e:
        return [invalid(field, value, str(e))]
    meta.setdefault("name", "fakename")     # upstream names a nameless one, so only what is there is checked
    return object_meta(meta, bool(meta.get("namespace")), names.path_segment_name, field=field, kube_rules=False)
