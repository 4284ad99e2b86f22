"""Small admission plugins: AlwaysAdmit, AlwaysDeny, AlwaysPullImages, ServiceAccount, and --allow-privileged."""

from __future__ import annotations

from ..machinery import errors
from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, DELETE, UPDATE, Attributes

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _is_pod(attributes: Attributes, subresources=("",)) -> bool:
    """Whether ``attributes`` write a pod, or one of its ``subresources``."""
    resource = attributes.resource
    return (resource.group, resource.resource) == ("", "pods") and attributes.subresource in subresources


# The writes that carry containers, as upstream's AlwaysPullImages and pod validation see them.
_WITH_CONTAINERS = ("", "ephemeralcontainers")


class AlwaysAdmit:
    async def validate(self, attributes: Attributes) -> None:
        return None


class AlwaysDeny:
    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation in (CREATE, UPDATE, DELETE):
            raise StatusError(403, "Forbidden", "admission control is denying all modifications", {})


class AlwaysPullImages:
    """Every container of a new or updated pod pulls its image always."""

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation not in (CREATE, UPDATE) or not _is_pod(attributes, _WITH_CONTAINERS):
            return
        for key in _CONTAINER_LISTS:
            for container in (attributes.object.get("spec") or {}).get(key) or []:
                container["imagePullPolicy"] = "Always"


class ServiceAccount:
    """Pods without a service account run as "default"."""

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE or not _is_pod(attributes):
            return
        spec = attributes.object.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
        spec.setdefault("serviceAccount", spec["serviceAccountName"])


class AllowPrivileged:
    """--allow-privileged=false: no container of a pod may be privileged (upstream does this in validation)."""

    def __init__(self, allowed: bool):
        self.allowed = allowed

    async def validate(self, attributes: Attributes) -> None:
        if self.allowed or attributes.operation not in (CREATE, UPDATE) or \
                not _is_pod(attributes, _WITH_CONTAINERS):
            return
        obj = attributes.object
        problems = []
        for key in _CONTAINER_LISTS:
            for index, container in enumerate((obj.get("spec") or {}).get(key) or []):
                if ((container.get("securityContext") or {}).get("privileged")):
                    problems.append(errors.forbidden(f"spec.{key}[{index}].securityContext.privileged",
                                                     "disallowed by cluster policy"))
        if problems:
            raise errors.invalid_object("", "Pod", obj["metadata"].get("name", ""), problems)


class DefaultStorageClass:
    """A new claim naming no storage class gets the one annotated as the default (the newest, if several)."""

    ANNOTATION = "storageclass.kubernetes.io/is-default-class"

    def __init__(self, registry):
        self.registry = registry

    async def admit(self, attributes: Attributes) -> None:
        resource = attributes.resource
        if attributes.operation != CREATE or (resource.group, resource.resource) != ("", "persistentvolumeclaims") \
                or attributes.subresource:
            return
        spec = attributes.object.setdefault("spec", {})
        if spec.get("storageClassName") is not None:
            return
        from ..registry.options import ListOptions
        classes = self.registry.lookup("storage.k8s.io", "v1", "storageclasses")
        if classes is None:
            return
        defaults = [c for c in (await classes.list(None, ListOptions()))[0]
                    if (c["metadata"].get("annotations") or {}).get(self.ANNOTATION) == "true"]
        if defaults:
            newest = max(defaults, key=lambda c: (c["metadata"].get("creationTimestamp") or "",
                                                  c["metadata"]["name"]))
            spec["storageClassName"] = newest["metadata"]["name"]
