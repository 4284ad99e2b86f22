"""ObjectMeta validation on create and update (apimachinery's objectmeta.go, plus core's
finalizer-name rule)."""

from __future__ import annotations

from typing import Any

from ...machinery import names
from ._util import (Errors, as_dict, seq, forbidden, go_strings, immutable, invalid, invalid_go, labels, nonnegative,
                    qualified_name, required, text, too_long)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * (1 << 10)  # 256 KiB
# apiextensions adds its own cleanup finalizer to the standard ones.
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion", "customresourcecleanup.apiextensions.k8s.io")
_MANAGED_FIELDS_OPERATIONS = ("Apply", "Update")


def annotations(value: Any, field: str) -> Errors:
    errs: Errors = []
    if not isinstance(value, dict):
        return errs
    total = 0
    for key in sorted(value):
        # Annotation keys are qualified names in any case.
        errs += [invalid(field, key, msg) for msg in names.is_qualified_name(key.lower())]
        total += len(key.encode()) + len(str(value[key] or "").encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(field, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _api_version_has_version(api_version: str) -> bool:
    # schema.ParseGroupVersion: "v1", "group/version"; anything else has no version.
    parts = api_version.split("/")
    return (len(parts) == 1 and parts[0] != "") or (len(parts) == 2 and parts[1] != "")


def owner_references(refs: Any, field: str) -> Errors:
    errs: Errors = []
    if not isinstance(refs, list):
        return errs
    controllers = []
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        api_version, kind = text(ref.get("apiVersion")), text(ref.get("kind"))
        if not _api_version_has_version(api_version):
            errs.append(invalid(f"{field}.apiVersion", api_version, "version must not be empty"))
        if not kind:
            errs.append(invalid(f"{field}.kind", kind, "kind must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(f"{field}.name", text(ref.get("name")), "name must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(f"{field}.uid", text(ref.get("uid")), "uid must not be empty"))
        if ref.get("controller") is True:
            controllers.append(f"{kind}/{ref.get('name', '')}")
    if len(controllers) > 1:
        errs.append(invalid_go(field, "[]v1.OwnerReference{...}",
                               "Only one reference can have Controller set to true. Found \"true\" in "
                               "references for " + " and ".join(controllers)))
    return errs


def finalizers(value: Any, field: str) -> Errors:
    """apimachinery's ValidateFinalizers: qualified names, not both orphan and foreground."""
    errs: Errors = []
    if not isinstance(value, list):
        return errs
    for name in value:
        errs += qualified_name(str(name), field)
    if "orphan" in value and "foregroundDeletion" in value:
        errs.append(invalid_go(field, go_strings(value),
                               "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def kube_finalizers(value: Any, field: str) -> Errors:
    """core's extra pass: each finalizer again, and a bare name must be a standard one."""
    errs: Errors = []
    for i, name in enumerate(seq(value)):
        name = str(name)
        errs += qualified_name(name, f"{field}[{i}]")
        if "/" not in name and name not in STANDARD_FINALIZERS:
            errs.append(invalid(f"{field}[{i}]", name,
                                "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def managed_fields(value: Any, field: str) -> Errors:
    errs: Errors = []
    if not isinstance(value, list):
        return errs
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            continue
        path = f"{field}[{i}]"
        operation = entry.get("operation", "")
        if operation not in _MANAGED_FIELDS_OPERATIONS:
            errs.append(invalid(f"{path}.operation", operation,
                                "must be `Apply` or `Update`"))
        if entry.get("fieldsType") and entry.get("fieldsType") != "FieldsV1":
            errs.append(invalid(f"{path}.fieldsType", entry.get("fieldsType", ""), "must be `FieldsV1`"))
    return errs


def _present_fields(meta: dict, field: str, kube_rules: bool, on_create: bool) -> Errors:
    """The checks create and update share, in upstream's order; apimachinery's finalizer rules run on
    create only.  Each finds nothing in a field the object leaves out: only those it has are looked at."""
    errs: Errors = []
    get = meta.get
    if get("labels") is not None:
        errs += labels(get("labels"), f"{field}.labels")
    if get("annotations") is not None:
        errs += annotations(get("annotations"), f"{field}.annotations")
    if get("ownerReferences") is not None:
        errs += owner_references(get("ownerReferences"), f"{field}.ownerReferences")
    if on_create and get("finalizers") is not None:
        errs += finalizers(get("finalizers"), f"{field}.finalizers")
    if get("managedFields") is not None:
        errs += managed_fields(get("managedFields"), f"{field}.managedFields")
    if kube_rules and get("finalizers") is not None:
        errs += kube_finalizers(get("finalizers"), f"{field}.finalizers")
    return errs


def object_meta(meta: Any, namespaced: bool, name_fn, field: str = "metadata", kube_rules: bool = True) -> Errors:
    """ValidateObjectMeta: run on create.  Name generation has already happened.
    ``kube_rules`` adds core's finalizer-name pass (every group but RBAC uses it)."""
    meta = as_dict(meta)
    errs: Errors = []
    generate_name = text(meta.get("generateName"))
    if generate_name:
        errs += [invalid(f"{field}.generateName", generate_name, msg) for msg in name_fn(generate_name, True)]
    name = text(meta.get("name"))
    if not name:
        errs.append(required(f"{field}.name", "name or generateName is required"))
    else:
        errs += [invalid(f"{field}.name", name, msg) for msg in name_fn(name, False)]
    namespace = text(meta.get("namespace"))
    if namespaced:
        if not namespace:
            errs.append(required(f"{field}.namespace", ""))
        else:
            errs += [invalid(f"{field}.namespace", namespace, msg)
                     for msg in names.name_is_dns_label(namespace, False)]
    elif namespace:
        errs.append(forbidden(f"{field}.namespace", "not allowed on this type"))
    if meta.get("generation") is not None:
        errs += nonnegative(meta["generation"], f"{field}.generation")
    return errs + _present_fields(meta, field, kube_rules, on_create=True)


def object_meta_update(new: Any, old: Any, field: str = "metadata", kube_rules: bool = True) -> Errors:
    """ValidateObjectMetaUpdate.  The Store fills resourceVersion on unconditional updates
    before validation, as upstream's does."""
    new = as_dict(new)
    old = as_dict(old)
    errs: Errors = []
    if old.get("deletionTimestamp"):
        added = [f for f in seq(new.get("finalizers")) if f not in seq(old.get("finalizers"))]
        if added:
            errs.append(forbidden(f"{field}.finalizers",
                                  "no new finalizers can be added if the object is being deleted, found new "
                                  f"finalizers {go_strings(added)}"))
    if not new.get("resourceVersion"):
        errs.append(invalid(f"{field}.resourceVersion", new.get("resourceVersion", ""),
                            "must be specified for an update"))
    if (new.get("generation") or 0) < (old.get("generation") or 0):
        errs.append(invalid(f"{field}.generation", new.get("generation") or 0, "must not be decremented"))
    # As in _present_fields, a check is made only where it can find something: a field that changed.
    for key in ("name", "namespace", "uid"):
        if (new.get(key) or "") != (old.get(key) or ""):
            errs += immutable(new.get(key) or "", old.get(key) or "", f"{field}.{key}")
    for key in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if new.get(key) != old.get(key):
            errs += immutable(new.get(key), old.get(key), f"{field}.{key}")
    return errs + _present_fields(new, field, kube_rules, on_create=False)
