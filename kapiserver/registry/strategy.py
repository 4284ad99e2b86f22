"""
The per-resource strategy: what differs between resources in the generic Store.

Hooks run in one fixed order (as upstream's rest.BeforeCreate/BeforeUpdate):
create:  default -> prepare_for_create -> (metadata filled by the Store) -> validate
update:  default -> prepare_for_update (or prepare_for_status_update) -> validate_update
         (a write through a subresource: validate_subresource_update)
"""

from __future__ import annotations

from typing import Awaitable, Callable, Optional

from ..machinery import errors
from ..machinery.errors import FieldError, GroupResource, StatusError
from ..machinery.jsoncopy import json_copy
from . import defaults, fields, validation
from .catalog import ResourceInfo

# What gives back what a write took from allocators (see Strategy.begin_create).
Revert = Callable[[], Awaitable[None]]

# Resources whose DELETE answers with the deleted object rather than a Status.
RETURN_DELETED_OBJECT = {
    ("", "pods"), ("", "services"), ("", "serviceaccounts"), ("", "namespaces"),
    ("storage.k8s.io", "storageclasses"), ("storage.k8s.io", "csidrivers"), ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "volumeattachments"),
}
# Resources a PUT may create (upstream AllowCreateOnUpdate).
ALLOW_CREATE_ON_UPDATE = {
    ("", "endpoints"), ("", "events"), ("", "limitranges"), ("coordination.k8s.io", "leases"),
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"), ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("discovery.k8s.io", "endpointslices"), ("events.k8s.io", "events"), ("node.k8s.io", "runtimeclasses"),
}
# Resources an update must name the resourceVersion of (upstream AllowUnconditionalUpdate false; custom resources
# too, in their strategy).
REFUSE_UNCONDITIONAL_UPDATE = {("policy", "poddisruptionbudgets"),
                               ("apiextensions.k8s.io", "customresourcedefinitions")}
# Resources whose strategies track metadata.generation (bumped on spec changes).
# What a write through /status may not change in the metadata, besides the fields the server owns.
# Most status strategies upstream reset only the spec; these reset some of the metadata too.
_STATUS_KEEPS_OLD_METADATA = {
    ("", "pods"): ("ownerReferences",),
    ("apps", "deployments"): ("labels",),
    ("apiextensions.k8s.io", "customresourcedefinitions"): ("labels", "annotations", "ownerReferences"),
    ("storage.k8s.io", "volumeattachments"): ("labels", "annotations", "finalizers", "ownerReferences"),
    ("apiregistration.k8s.io", "apiservices"): ("labels", "annotations", "finalizers", "ownerReferences"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): ("labels", "annotations", "finalizers", "ownerReferences"),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"):
        ("labels", "annotations", "finalizers", "ownerReferences"),
}
_GENERATION = {("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
               ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"),
               ("", "replicationcontrollers"), ("networking.k8s.io", "ingresses"),
               ("networking.k8s.io", "networkpolicies"), ("networking.k8s.io", "ingressclasses"),
               ("policy", "poddisruptionbudgets"), ("storage.k8s.io", "csidrivers"),
               ("flowcontrol.apiserver.k8s.io", "flowschemas"),
               ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
               ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
               ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
               ("discovery.k8s.io", "endpointslices")}
# Resources whose generation also moves when their labels change (an EndpointSlice's labels say which
# Service it serves, as upstream's strategy counts them).
_GENERATION_WITH_LABELS = {("discovery.k8s.io", "endpointslices")}


class Strategy:
    """Default behaviour, good for most built-in resources; subclass per resource."""

    def __init__(self, info: ResourceInfo):
        self.info = info
        self.has_status = info.subresource("status") is not None
        key = (info.group, info.resource)
        self.return_deleted_object = key in RETURN_DELETED_OBJECT
        self.allow_create_on_update = key in ALLOW_CREATE_ON_UPDATE
        self.allow_unconditional_update = key not in REFUSE_UNCONDITIONAL_UPDATE
        self.tracks_generation = key in _GENERATION
        self.status_keeps_old_metadata = _STATUS_KEEPS_OLD_METADATA.get(key, ())
        self.status_rule = validation.status_rule(*key)
        # How objects stored in another version are converted to this one and back, when that takes a call
        # out of the process (a CRD's conversion webhook): ``await converter(objects, api_version)``.  None
        # when conversion is the registry's own (built-in types, CRDs with strategy None).
        self.converter = None

    # -- defaulting and preparation ---------------------------------------------------------
    def default(self, obj: dict) -> None:
        defaults.apply_defaults(self.info.group, self.info.version, self.info.kind, obj)

    def as_stored(self, obj: dict) -> None:
        """Make ``obj``, validated and admitted, what reading it back from storage will give, so a write's
        answer shows it: nothing for most kinds (see CustomResourceStrategy)."""

    def prepare_for_create(self, obj: dict) -> None:
        if self.has_status:
            self.reset_status(obj)
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    def reset_status(self, obj: dict) -> None:
        """What status a new object starts with: upstream strategies clear it, and
        Go renders the cleared struct in its zero shape."""
        from . import defaults
        zero = defaults.zero_status(self.info.group, self.info.version, self.info.kind)
        obj["status"] = zero if zero is not None else {}

    # -- hooks around the write (allocations and their release) ------------------------------
    async def begin_create(self, obj: dict, dry_run: bool) -> Optional[Revert]:
        """Upstream's BeginCreate: before the object is validated, take what it needs from allocators (a dry run
        shows what it would take, taking nothing); what gives it back if the create fails (None: nothing)."""
        return None

    async def begin_update(self, new: dict, old: dict, dry_run: bool) -> Optional[Revert]:
        """Upstream's BeginUpdate: as begin_create, for what the new object needs and the old does not hold;
        what gives it back unless the update is written."""
        return None

    async def before_create(self, obj: dict) -> None:
        """After validation, before the write."""

    async def before_update(self, new: dict, old: dict) -> None:
        """After validation, before the write of an update."""

    async def after_update(self, new: dict, old: dict) -> None:
        """The update is written: give back what the old object held and the new one does not."""

    async def after_delete(self, obj: dict) -> None:
        """The object is gone from storage."""

    async def after_write(self, obj: dict) -> None:
        """The object was created or updated in storage."""

    def prepare_for_delete(self, obj: dict) -> None:
        """The object is about to be marked for graceful deletion."""

    def refuse_create(self) -> Optional[str]:
        """Why a POST may not create now, answered 405 before the body is read (None: it may)."""
        return None

    def precondition_failed(self, name: str, field: str, given: str, actual: str) -> StatusError:
        """The 409 for a delete whose precondition (``field`` "UID" or "ResourceVersion") the object fails, as
        upstream's BeforeDelete words it: the kind named, not the resource."""
        why = ("The object might have been deleted and then recreated" if field == "UID" else
               "The object might have been modified")
        return errors.conflict(GroupResource(self.info.group, self.info.kind), name,
                               f"the {field} in the precondition ({given}) does not match the {field} in record "
                               f"({actual}). {why}")

    def refuse_delete(self, name: str) -> Optional[str]:
        """Why a DELETE of this one object is forbidden (None: it is not); a deletecollection does not ask."""
        return None

    def pending_finalizers(self, obj: dict) -> bool:
        """Whether something must still finish before the object can go."""
        return bool(obj["metadata"].get("finalizers"))

    def prepare_for_update(self, new: dict, old: dict) -> None:
        if self.has_status:
            if "status" in old:
                new["status"] = json_copy(old["status"])
            else:
                new.pop("status", None)
        if self.tracks_generation:
            generation = old["metadata"].get("generation", 1)
            labels_count = (self.info.group, self.info.resource) in _GENERATION_WITH_LABELS and \
                (new["metadata"].get("labels") or {}) != (old["metadata"].get("labels") or {})
            if self.spec_of(new) != self.spec_of(old) or labels_count:
                generation += 1
            new["metadata"]["generation"] = generation

    def prepare_for_subresource_update(self, subresource: str, new: dict, old: dict) -> None:
        """A write through a subresource without a hook of its own (scale, binding, ...): prepared as an
        ordinary update unless a strategy knows that subresource writes more."""
        self.default(new)
        self.prepare_for_update(new, old)

    def prepare_for_status_update(self, new: dict, old: dict) -> None:
        """A write through /status changes the status, and the metadata but for
        ``status_keeps_old_metadata``; the rest of the object stays as it was."""
        status = new.get("status")
        for field in list(new):
            if field not in ("metadata", "apiVersion", "kind"):
                del new[field]
        for field, value in old.items():
            if field not in ("metadata", "apiVersion", "kind", "status"):
                new[field] = json_copy(value)
        if status is not None:
            new["status"] = status
        meta, old_meta = new["metadata"], old["metadata"]
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation") + \
                self.status_keeps_old_metadata:
            if field in old_meta:
                meta[field] = json_copy(old_meta[field])
            else:
                meta.pop(field, None)

    def prepare_for_approval(self, new: dict, old: dict) -> None:
        """A write through /approval (CertificateSigningRequests) changes only the
        status conditions (Approved, Denied)."""
        conditions = (new.get("status") or {}).get("conditions")
        for field in list(new):
            if field not in ("metadata", "apiVersion", "kind"):
                del new[field]
        for field, value in old.items():
            if field not in ("metadata", "apiVersion", "kind"):
                new[field] = json_copy(value)
        status = new.setdefault("status", {})
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)

    def spec_of(self, obj: dict) -> dict:
        """Everything that counts as the object's desired state: all but metadata,
        and but status where status is written through its own subresource."""
        skip = ("metadata", "status", "apiVersion", "kind") if self.has_status else ("metadata", "apiVersion", "kind")
        return {k: v for k, v in obj.items() if k not in skip}

    # -- validation -------------------------------------------------------------------------
    # Whether the Store awaits prepare_validation before validate and validate_update.
    prepares_validation = False

    async def prepare_validation(self, obj: dict, old: Optional[dict]) -> None:
        """Before validate (``old`` None) or validate_update: the part of their work too heavy for the reactor
        thread, done in a thread, its answers left where they find them."""

    def validate(self, obj: dict) -> list[FieldError]:
        return validation.validate(self.info.group, self.info.version, self.info.kind, obj, None,
                                   self.info.namespaced)

    def validate_update(self, new: dict, old: dict) -> list[FieldError]:
        return validation.validate(self.info.group, self.info.version, self.info.kind, new, old,
                                   self.info.namespaced)

    def validate_subresource_update(self, subresource: str, new: dict, old: dict) -> list[FieldError]:
        """Validation of a write through ``subresource`` (status, scale, ...): the object's
        update validation, unless the resource's status has rules of its own (validation.status_rule) or a
        strategy knows that subresource writes otherwise."""
        if subresource == "status" and self.status_rule is not None:
            return self.status_rule(new, old, self.info.namespaced)
        return self.validate_update(new, old)

    # -- reading ----------------------------------------------------------------------------
    def field_set(self, obj: dict) -> dict[str, str]:
        return fields.field_set(self.info.group, self.info.resource, obj)

    def check_field_selector(self, selector):
        """The selector with its labels converted (a 400 for labels the resource lacks)."""
        from . import fields
        return fields.check_field_selector(self.info.group, self.info.resource, selector)

    def printer(self):
        from . import printers
        return printers.printer_for(self.info.group, self.info.resource)

    # -- deletion ---------------------------------------------------------------------------
    # Whether the kind deletes gracefully (upstream's RESTGracefulDeleteStrategy: pods): marked with a
    # deletionTimestamp first even when it goes at once.
    graceful_delete = False

    def check_graceful_delete(self, obj: dict, grace_period: Optional[int]) -> int:
        """The grace period to apply; 0 deletes at once.  Only pods delete gracefully (upstream's
        RESTGracefulDeleteStrategy): any other kind ignores gracePeriodSeconds."""
        return 0


class OwnPreconditions:
    """For a strategy whose resource's upstream storage checks a delete's preconditions itself, before the
    generic store (namespaces, CustomResourceDefinitions): its words, the resource named."""

    def precondition_failed(self, name: str, field: str, given: str, actual: str) -> StatusError:
        return errors.conflict(GroupResource(self.info.group, self.info.resource), name,
                               f"Precondition failed: {field} in precondition: {given}, {field} in object meta: "
                               f"{actual}")
