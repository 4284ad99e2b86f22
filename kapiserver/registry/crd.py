"""
CustomResourceDefinitions (apiextensions.k8s.io/v1) and the custom resources
they define.

A CRD's names are decided as it is written (crdnames: accepted unless another
CRD of its group has them accepted already); one whose names are all accepted
is Established at once.  Each served version of a CRD whose names are accepted
or that is Established becomes a ResourceInfo in the catalogue and a Store with
a CustomResourceStrategy (structural schema pruning, defaulting and validation,
status and scale subresources, additionalPrinterColumns).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import Iterable, Optional

import orjson

from ..machinery import embedded, errors, meta, structural
from ..machinery.errors import FieldError
from ..pool import in_pool
from . import crdnames
from .attributes import add_warning
from .catalog import GET_PATCH_UPDATE, ResourceInfo, Subresource
from .strategy import OwnPreconditions, Strategy
from .subresources.scale import AccessorError, nested_int64, nested_string
from .validation import apiextensions, crdschema

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _condition(kind: str, reason: str, message: str, now: float, status: str = "True") -> dict:
    return {"type": kind, "status": status, "lastTransitionTime": meta.rfc3339(now), "reason": reason,
            "message": message}


def condition_true(crd: dict, kind: str) -> bool:
    return (crdnames.condition(crd, kind) or {}).get("status") == "True"


def set_condition(crd: dict, kind: str, status: str, reason: str, message: str, now: float) -> None:
    """Sets one condition of ``crd``'s status in place; its lastTransitionTime moves only when its status
    does (as upstream's SetCRDCondition)."""
    if not isinstance(crd.get("status"), dict):
        crd["status"] = {}
    if not isinstance(crd["status"].get("conditions"), list):
        crd["status"]["conditions"] = []        # none, or a null a server-side apply left
    conditions = crd["status"]["conditions"]
    new = _condition(kind, reason, message, now, status)
    for index, old in enumerate(conditions):
        if old.get("type") == kind:
            if old.get("status") == status and old.get("lastTransitionTime"):
                new["lastTransitionTime"] = old["lastTransitionTime"]
            conditions[index] = new
            return
    conditions.append(new)


def accept_names(crd: dict, stored: Iterable[dict], now: float) -> bool:
    """Decides ``crd``'s names among the ``stored`` CRDs and writes them into its status (as upstream's
    controller writes it: only when the accepted names or NamesAccepted change); whether anything changed."""
    if crdnames.settled(crd):
        return False
    names, names_accepted, established = crdnames.decide(crd, stored)
    if not isinstance(crd.get("status"), dict):
        crd["status"] = {}
    status = crd["status"]
    old = crdnames.condition(crd, "NamesAccepted")
    if names == crdnames.names_of(status.get("acceptedNames")) and old is not None and \
            (old.get("status"), old.get("reason"), old.get("message")) == names_accepted:
        return False
    status["acceptedNames"] = names
    set_condition(crd, "NamesAccepted", *names_accepted, now)
    set_condition(crd, "Established", *established, now)
    # Go's field order of CustomResourceDefinitionStatus.
    crd["status"] = {key: status[key] for key in ("conditions", "acceptedNames", "storedVersions") if key in status}
    crd["status"].update(status)
    return True


class CustomResourceDefinitionStrategy(OwnPreconditions, Strategy):
    """CRDs: names decided as they are written, against the other CRDs of the group in ``crds()`` (the CRDs'
    Store); ``on_change`` registers the resources."""

    def __init__(self, info, clock, on_change=None, on_delete=None, crds=None):
        super().__init__(info)
        self.clock = clock
        self.on_change = on_change
        self.on_delete = on_delete
        self.crds = crds
        self.tracks_generation = True

    def reset_status(self, obj: dict) -> None:
        # Upstream's empty status (no names accepted yet); accept_names fills it before the write.
        obj["status"] = {
            "acceptedNames": crdnames.names_of(None),
            # A version without a name is stored as "" (Go's zero string) and refused by validation.
            "storedVersions": [v.get("name", "") for v in (obj.get("spec") or {}).get("versions") or []
                               if v.get("storage")],
        }

    async def accept_names(self, crd: dict) -> bool:
        """Decides ``crd``'s accepted names and its NamesAccepted and Established conditions in place, from the
        CRDs the store holds now (a consistent read); whether they changed."""
        if crdnames.settled(crd) or self.crds is None:
            return False
        from .options import ListOptions
        stored, _ = await self.crds().list(None, ListOptions())
        return accept_names(crd, stored, self.clock.seconds())

    async def before_create(self, obj: dict) -> None:
        await self.accept_names(obj)

    prepares_validation = True

    async def prepare_validation(self, crd: dict, old: Optional[dict]) -> None:
        # Judging a new schema (its structure, defaults and rules: a large CRD's about 90 ms, its first rules also
        # load the CEL library) runs in a thread; validate finds the answers in the judged schemas' memory.
        for schema, at in _judged_schemas(crd, old):
            # The digest too (orjson and blake2b over a large schema's JSON: a millisecond), given to validate.
            key = await in_pool(self.clock, _schema_key, schema)
            _DIGESTS[id(schema)] = (schema, key)
            while len(_DIGESTS) > _DIGESTS_LIMIT:
                _DIGESTS.popitem(last=False)
            if key is not None and _remembered(key, at) is None:
                _remember(key, at, await in_pool(self.clock, _judge_schema, schema, at))

    async def before_update(self, new: dict, old: dict) -> None:
        await self.accept_names(new)

    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)

    def pending_finalizers(self, obj: dict) -> bool:
        # The first delete always waits for the cleanup finalizer: prepare_for_delete puts it back if gone.
        return super().pending_finalizers(obj) or not obj["metadata"].get("deletionTimestamp")

    def prepare_for_delete(self, obj: dict) -> None:
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        set_condition(obj, "Terminating", "True", "InstanceDeletionPending",
                      "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
                      self.clock.seconds())

    def prepare_for_update(self, new: dict, old: dict) -> None:
        super().prepare_for_update(new, old)
        status = new.setdefault("status", {})
        stored = list(status.get("storedVersions") or [])
        for version in (new.get("spec") or {}).get("versions") or []:
            if version.get("storage") and version.get("name", "") not in stored:
                stored.append(version.get("name", ""))
        status["storedVersions"] = stored

    def validate(self, obj: dict) -> list[FieldError]:
        return super().validate(obj) + validate_crd(obj) + apiextensions.stored_versions(obj)

    def validate_update(self, new: dict, old: dict) -> list[FieldError]:
        return self._validate_update(new, old) + apiextensions.stored_versions(new)

    def validate_subresource_update(self, subresource: str, new: dict, old: dict) -> list[FieldError]:
        # As upstream's status strategy: the metadata and the accepted names only.  The spec is not judged again
        # (a CRD stored before a check was tightened still gets its conditions), and status.storedVersions is
        # left to its writer: a storage migration takes a version out of it there.
        if subresource == "status":
            accepted = (new.get("status") or {}).get("acceptedNames")
            return super().validate_update(new, old) + apiextensions.crd_names(
                accepted if isinstance(accepted, dict) else {}, "status.acceptedNames")
        return self.validate_update(new, old)

    def _validate_update(self, new: dict, old: dict) -> list[FieldError]:
        out = super().validate_update(new, old) + validate_crd(new, old)
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        for field in ("group", "scope"):
            if old_spec.get(field) != new_spec.get(field):
                out.append(errors.invalid(f"spec.{field}", new_spec.get(field) or "", "field is immutable"))
        return out

    async def after_write(self, obj: dict) -> None:
        if self.on_change is not None:
            await self.on_change(obj)

    async def after_delete(self, obj: dict) -> None:
        if self.on_delete is not None:
            await self.on_delete(obj)


def validate_crd(crd: dict, old: Optional[dict] = None) -> list[FieldError]:
    """The CRD's field errors.  On an update (``old``), a version whose schema is unchanged is not judged again
    (it was accepted when written, perhaps by a kapiserver that checked less): not its structure, defaults,
    patterns or rules, nor its root against its status subresource unless that was just enabled.  So a CRD
    stored before a check was added can still be updated (its finalizer removed, its labels changed)."""
    out: list[FieldError] = []
    old_versions = [v for v in (old or {}).get("spec", {}).get("versions") or [] if isinstance(v, dict)]
    old_schemas = _old_schemas(old)
    old_status = {v.get("name"): "status" in (v.get("subresources") or {}) for v in old_versions}
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    name = crd.get("metadata", {}).get("name", "")
    if not group:
        out.append(errors.required("spec.group"))
    elif "." not in group:
        out.append(errors.invalid("spec.group", group, "should be a domain with at least one dot"))
    if not names.get("plural"):
        out.append(errors.required("spec.names.plural"))
    if not names.get("kind"):
        out.append(errors.required("spec.names.kind"))
    if group and names.get("plural") and name != f"{names['plural']}.{group}":
        out.append(errors.invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        # A missing scope is Go's empty string in upstream's message, not null.
        out.append(errors.not_supported("spec.scope", spec.get("scope") or "", ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    seen, unique = set(), True
    for index, version in enumerate(versions):
        # A version's name is a DNS-1035 label (it is a path segment); names are unique, said once for all.
        name = version.get("name") or ""
        unique = unique and name not in seen
        seen.add(name)
        out += apiextensions.dns1035_errors(f"spec.versions[{index}].name", name)
        out += apiextensions.deprecation_warning(version, f"spec.versions[{index}]")
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        at = f"spec.versions[{index}].schema.openAPIV3Schema"
        if schema is None:
            out.append(errors.required(at, "schemas are required"))
        if isinstance(schema, dict):
            status = "status" in (version.get("subresources") or {})
            unchanged = _unchanged(version, old, old_schemas)
            if not unchanged or (status and not old_status.get(version.get("name"))):
                out += crdschema.root_errors(schema, at, status)
            if not unchanged:
                out += _schema_errors(schema, at)
        out += apiextensions.version(version, f"spec.versions[{index}]")
    # Upstream prints the versions as Go's %#v here; the value is left empty.
    if not unique:
        out.append(errors.invalid("spec.versions", "", "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        out.append(errors.invalid("spec.versions", "", "must have exactly one version marked as storage version"))
    out += apiextensions.crd_names(names)
    was_preserving = ((old or {}).get("spec") or {}).get("preserveUnknownFields") is True
    if spec.get("preserveUnknownFields") is True and not was_preserving:
        out.append(errors.invalid("spec.preserveUnknownFields", True, "cannot set to true, set "
                                  "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
    return out


# Schemas judged lately, by a digest of their JSON (not the JSON: a large schema is 300 KB), with the path they
# were judged at and their errors: the same CRD created again (a test suite's fixture, an operator installing its
# CRDs at each start) is not judged again (about 90 ms of a thread for a large one: see prepare_validation), nor a
# version whose schema is another version's (the usual multi-version CRD) when that one had no error.
_JUDGED: "OrderedDict[bytes, tuple[str, tuple[FieldError, ...]]]" = OrderedDict()
_JUDGED_LIMIT = 32
# The digests prepare_validation worked out in a thread for the write's validation, which runs next on the same
# dicts: by the schema's identity, the schema kept beside its digest (so that its id is not another's meanwhile),
# taken when used. A few at most (a write that fails between the two leaves its own).
_DIGESTS: "OrderedDict[int, tuple[dict, Optional[bytes]]]" = OrderedDict()
_DIGESTS_LIMIT = 8


def _schema_errors(schema: dict, at: str) -> list[FieldError]:
    """``_judge_schema``'s answer, remembered for the schema: the judgement depends on the schema and its path
    alone (were a check to depend on the CRD as stored, as some of upstream's relax on an update, that would
    have to be part of the key)."""
    digest = _DIGESTS.pop(id(schema), None)
    key = digest[1] if digest is not None and digest[0] is schema else _schema_key(schema)
    if key is None:
        return _judge_schema(schema, at)
    found = _remembered(key, at)
    if found is None:
        found = _judge_schema(schema, at)
        _remember(key, at, found)
    return found


def _schema_key(schema: dict) -> Optional[bytes]:
    try:
        return hashlib.blake2b(orjson.dumps(schema), digest_size=20).digest()
    except TypeError:       # (orjson's JSONEncodeError) an integer past 64 bits: judged each time
        return None


def _remembered(key: bytes, at: str) -> Optional[list[FieldError]]:
    found = _JUDGED.get(key)
    if found is None or (found[0] != at and found[1]):
        return None
    _JUDGED.move_to_end(key)
    return list(found[1])


def _remember(key: bytes, at: str, found: list[FieldError]) -> None:
    _JUDGED[key] = (at, tuple(found))
    _JUDGED.move_to_end(key)
    if len(_JUDGED) > _JUDGED_LIMIT:
        _JUDGED.popitem(last=False)


def _judged_schemas(crd: dict, old: Optional[dict]) -> list[tuple[dict, str]]:
    """The versions' schemas validate_crd judges, with their paths: those not as the stored CRD has them."""
    versions = (crd.get("spec") or {}).get("versions")
    if not isinstance(versions, list):
        return []
    old_schemas = _old_schemas(old)
    out = []
    for index, version in enumerate(versions):
        if isinstance(version, dict) and isinstance(version.get("schema") or {}, dict):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(schema, dict) and not _unchanged(version, old, old_schemas):
                out.append((schema, f"spec.versions[{index}].schema.openAPIV3Schema"))
    return out


def _old_schemas(old: Optional[dict]) -> dict:
    return {v.get("name"): v.get("schema") for v in (old or {}).get("spec", {}).get("versions") or []
            if isinstance(v, dict)}


def _unchanged(version: dict, old: Optional[dict], old_schemas: dict) -> bool:
    return old is not None and old_schemas.get(version.get("name")) == version.get("schema")


def _judge_schema(schema: dict, at: str) -> list[FieldError]:
    """A version's openAPIV3Schema (at ``at``) judged as upstream: its structural errors (patterns among them) or,
    in a structural schema, its defaults' (their rules' among them), then its other schema errors, then its rules'
    (compiled only in a structural schema whose defaults pass, and not at a node that reported a schema error in
    checking itself or the nodes below it)."""
    found, usage, uncompiled = crdschema.schema_errors(schema, at)
    out = found + usage
    if found:
        return out
    from ..machinery import cel  # cel-python loads in about 0.1 s: only once a CRD needs it
    return out + cel.check_rules(schema, at, faulty=uncompiled.__contains__)


def served(crd: dict) -> bool:
    """Whether the CRD's resources are served: its names accepted, or it Established (as upstream's handler)."""
    return condition_true(crd, "NamesAccepted") or condition_true(crd, "Established")


# A custom resource's verbs in the order upstream's discovery lists them (its built-in resources' are sorted).
CUSTOM_RESOURCE_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


def resource_infos(crd: dict) -> list[ResourceInfo]:
    """One ResourceInfo per served version of a served CRD, under its accepted names."""
    if not served(crd):
        return []
    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or {}
    group = spec.get("group", "")
    storage_version = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), None)
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = []
        subs = version.get("subresources") or {}
        if "status" in subs:
            subresources.append(Subresource("status", names["kind"], GET_PATCH_UPDATE))
        if "scale" in subs:
            subresources.append(Subresource("scale", "Scale", GET_PATCH_UPDATE, "autoscaling", "v1"))
        out.append(ResourceInfo(
            group, version["name"], names["plural"], names["kind"], spec.get("scope") == "Namespaced",
            verbs=CUSTOM_RESOURCE_VERBS, short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()), subresources=tuple(subresources),
            singular=names.get("singular", ""), storage_version=storage_version,
            deprecation_warning=deprecation_warning(spec, version),
            custom_list_kind=names.get("listKind", "")))
    return out


def deprecation_warning(spec: dict, version: dict) -> Optional[str]:
    """What requests to a deprecated version are warned: its deprecationWarning, or upstream's default naming
    the highest-priority served, non-deprecated version above it."""
    if not version.get("deprecated"):
        return None
    if version.get("deprecationWarning") is not None:
        return version["deprecationWarning"]
    group, kind, name = spec.get("group", ""), (spec.get("names") or {}).get("kind", ""), version["name"]
    text = f"{group}/{name} {kind} is deprecated"
    newer = [v["name"] for v in spec.get("versions") or [] if v.get("served") and not v.get("deprecated")
             and version_priority(v["name"]) < version_priority(name)]
    if newer:
        text += f"; use {group}/{min(newer, key=version_priority)} {kind}"
    return text


_KUBE_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")


def version_priority(name: str) -> tuple:
    """Sort key of upstream's kube-aware version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others
    (alphabetically)."""
    match = _KUBE_VERSION.match(name)
    if match is None:
        return (3, 0, 0, name)
    major, stage, minor = match.groups()
    return ({None: 0, "beta": 1, "alpha": 2}[stage], -int(major), -int(minor or 0), name)


def schema_coercer(schema: dict):
    """Prunes and defaults an object by one version's schema, for objects crossing versions."""
    def coerce(obj: dict) -> dict:
        pruned = structural.prune(obj, schema, root=True)
        structural.apply_defaults(pruned, schema)
        return pruned
    return coerce


def version_of(crd: dict, name: str) -> dict:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if version.get("name") == name:
            return version
    return {}


MAX_INT32 = (1 << 31) - 1


def validate_scale_spec(obj: dict, scale: Optional[dict]) -> list[FieldError]:
    """Upstream's ValidateScaleSpec: the scale subresource's spec replicas, where the object has them, an
    integer from 0 to MaxInt32 (the error at the path as the CRD writes it, leading period and all)."""
    if scale is None:
        return []
    return _replicas_errors(obj, scale.get("specReplicasPath", ""))


def validate_scale_status(obj: dict, scale: Optional[dict]) -> list[FieldError]:
    """Upstream's ValidateScaleStatus: the status replicas as the spec's, and the label selector, where the
    object has one, a string."""
    if scale is None:
        return []
    out = _replicas_errors(obj, scale.get("statusReplicasPath", ""))
    selector_path = scale.get("labelSelectorPath")
    if selector_path is not None:
        try:
            nested_string(obj, selector_path)
        except AccessorError as error:
            out.append(errors.invalid(selector_path, "", str(error)))
    return out


def _replicas_errors(obj: dict, path: str) -> list[FieldError]:
    try:
        replicas, _ = nested_int64(obj, path)
    except AccessorError as error:
        return [errors.invalid(path, 0, str(error))]   # the accessor's zero value is what upstream shows
    if replicas < 0:
        return [errors.invalid(path, replicas, "should be a non-negative integer")]
    if replicas > MAX_INT32:
        return [errors.invalid(path, replicas, f"should be less than or equal to {MAX_INT32}")]
    return []


_BLOCKS_RULES = frozenset({"FieldValueTypeInvalid", "FieldValueNotSupported", "FieldValueRequired",
                           "FieldValueTooLong", "FieldValueTooMany"})


class CustomResourceStrategy(Strategy):
    def __init__(self, info: ResourceInfo, crd: dict):
        super().__init__(info)
        version = version_of(crd, info.version)
        self.schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
        self.columns = version.get("additionalPrinterColumns")
        subs = version.get("subresources") or {}
        self.scale_paths = subs.get("scale")
        self.tracks_generation = True
        self.allow_unconditional_update = False
        # Upstream's custom resource status strategy keeps all of the old metadata.
        self.status_keeps_old_metadata = ("labels", "annotations", "ownerReferences", "finalizers")
        # x-kubernetes-validations compiled once per CRD version, not per request.
        from ..machinery import cel
        self.rules = cel.validator(self.schema)
        storage = version_of(crd, info.storage_version or info.version)
        self.storage_schema = None
        # Set while the CRD is being deleted: no new custom resources then.
        self.terminating = condition_true(crd, "Terminating")
        if info.storage_version and info.storage_version != info.version:
            self.storage_schema = (storage.get("schema") or {}).get("openAPIV3Schema")

    def default(self, obj: dict) -> None:
        """Pruned and defaulted by the request's version: what is validated."""
        coerced = schema_coercer(self.schema)(obj)
        obj.clear()
        obj.update(coerced)

    def as_stored(self, obj: dict) -> None:
        # Conversion None: what the storage version cannot hold is lost on the way, and its defaults come back
        # with the object, so the answer shows them.  (A conversion webhook carries fields over itself.)
        # Upstream validates the object of the request's version, before this.
        if self.storage_schema is not None and self.converter is None:
            coerced = schema_coercer(self.schema)(schema_coercer(self.storage_schema)(obj))
            obj.clear()
            obj.update(coerced)

    def reset_status(self, obj: dict) -> None:
        obj.pop("status", None)

    def refuse_create(self) -> Optional[str]:
        return "create not allowed while custom resource definition is terminating" if self.terminating else None

    def unknown_fields(self, obj: dict) -> list[str]:
        """What this version's schema would prune from ``obj``, for fieldValidation Strict/Warn."""
        return structural.unknown_fields(obj, self.schema, root=True)

    def decoding_error(self, obj: dict) -> Optional[FieldError]:
        """A value of the wrong type in an embedded resource's apiVersion, kind or metadata: upstream's decoder
        refuses the request (an object read from storage has it dropped instead)."""
        return embedded.request_error(obj, self.schema)

    def validate(self, obj: dict) -> list[FieldError]:
        # apimachinery's object metadata rules, without core's finalizer-name pass: a custom resource may
        # carry a finalizer that is neither standard nor domain-qualified (upstream only warns).
        from .validation import meta, names
        from .validation.embedded import embedded_resources
        out = meta.object_meta(obj.get("metadata"), self.info.namespaced, names.name_is_dns_subdomain,
                               kube_rules=False)
        out += structural.validate(obj, self.schema, root=True) + self._scale_errors(obj)
        out += embedded_resources(obj, self.schema)
        return self._with_rules(out, obj, None)

    def validate_update(self, new: dict, old: dict) -> list[FieldError]:
        return self._validate_update(new, old, self._scale_errors(new))

    def validate_subresource_update(self, subresource: str, new: dict, old: dict) -> list[FieldError]:
        # Upstream's status strategy judges the scale subresource's status paths only; a write through /scale
        # is judged as an update of the resource (its ScaleREST writes through the resource's own store).
        if subresource == "status":
            return self._validate_update(new, old, validate_scale_status(new, self.scale_paths))
        return self.validate_update(new, old)

    def _scale_errors(self, obj: dict) -> list[FieldError]:
        return validate_scale_spec(obj, self.scale_paths) + validate_scale_status(obj, self.scale_paths)

    def _validate_update(self, new: dict, old: dict, scale_errors: list[FieldError]) -> list[FieldError]:
        """The metadata's, the schema's and then the scale subresource's errors (as upstream's validator
        gives them), the embedded resources', then the rules'."""
        from .validation import meta
        from .validation.embedded import embedded_resources
        out = meta.object_meta_update(new.get("metadata"), old.get("metadata"), kube_rules=False)
        # Embedded resources are checked on update as on create, not ratcheted.
        out += structural.validate(new, self.schema, root=True, old=old) + scale_errors
        out += embedded_resources(new, self.schema)
        return self._with_rules(out, new, old)

    def _with_rules(self, out: list[FieldError], obj: dict, old: Optional[dict]) -> list[FieldError]:
        """``out`` (the metadata's and the schema's errors) and then the CEL rules' errors.  As upstream, an
        error that means the object has not the shape its rules were written for (a wrong type, a value
        outside the enum, a missing required field, a string or list past its maximum) keeps the rules from
        running at all, and says so."""
        if self.rules is None:
            return out
        if any(e.reason in _BLOCKS_RULES for e in out):
            return out + [FieldError("FieldValueInvalid", errors.NIL_PATH, 'Invalid value: "null": some validation '
                                     "rules were not checked because the object was invalid; correct the "
                                     "existing errors to complete validation")]
        warnings: list[str] = []
        out = out + self.rules.validate(obj, old, warnings=warnings)
        if warnings:
            # a ratcheted rule's failure is the client's warning, as upstream's
            for text in warnings:
                add_warning(text)
        return out

    def field_set(self, obj: dict) -> dict[str, str]:
        meta_ = obj.get("metadata") or {}
        fields = {"metadata.name": meta_.get("name", "")}
        if self.info.namespaced:
            fields["metadata.namespace"] = meta_.get("namespace", "")
        return fields

    def check_field_selector(self, selector):
        allowed = {"metadata.name", "metadata.namespace"} if self.info.namespaced else {"metadata.name"}
        for requirement in getattr(selector, "requirements", ()):
            field = requirement[0] if isinstance(requirement, tuple) else getattr(requirement, "field", None)
            if field is not None and field not in allowed:
                raise errors.bad_request(f'field label not supported: {field}')
        return selector

    def printer(self):
        from .printers.custom import custom_resource_printer
        return custom_resource_printer(self.columns)
