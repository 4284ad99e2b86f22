"""Small admission plugins: AlwaysAdmit, AlwaysDeny, AlwaysPullImages, ServiceAccount, and --allow-privileged."""

from __future__ import annotations

from typing import Optional

from twisted.internet.task import deferLater

from ..machinery import errors
from ..machinery.errors import StatusError
from ..machinery.storageclass import default_class
from ..registry.attributes import CREATE, DELETE, UPDATE, Attributes
from .refusal import is_resource

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

    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "pods")})

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation not in (CREATE, UPDATE) or not _is_pod(attributes, _WITH_CONTAINERS):
            return
        for key in _CONTAINER_LISTS:
            for container in (attributes.object.get("spec") or {}).get(key) or []:
                container["imagePullPolicy"] = "Always"


class ServiceAccount:
    """Pods run as a service account that exists ("default" unless they name one), and get its token mounted
    as upstream's plugin mounts it: a projected ``kube-api-access-<suffix>`` volume (a bound token, the
    cluster's CA from ``kube-root-ca.crt``, the namespace) at /var/run/secrets/kubernetes.io/serviceaccount in
    every container, unless the pod or its service account opts out (automountServiceAccountToken)."""

    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "pods")})

    MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
    # The bound token's lifetime: an hour and seven seconds, as upstream's (clients then refresh it).
    TOKEN_EXPIRATION_SECONDS = 3607

    # The default account is looked up again a few times before a pod is refused, as upstream does: the
    # serviceaccount controller makes it moments after its namespace.
    DEFAULT_ATTEMPTS = 10

    def __init__(self, registry, random=None):
        import random as _random
        self.registry = registry
        self.random = random or _random.Random()

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE or not _is_pod(attributes):
            return
        pod = attributes.object
        spec = pod.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        name, namespace = spec["serviceAccountName"], attributes.namespace
        account = await self._account(namespace, name)
        if account is None:
            pod_name = (pod.get("metadata") or {}).get("name", "")
            raise StatusError(403, "Forbidden", f'pods "{pod_name}" is forbidden: error looking up service account '
                                                f'{namespace}/{name}: serviceaccount "{name}" not found',
                              {"name": pod_name, "kind": "pods"})
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = account.get("automountServiceAccountToken")
        if automount is not False:
            self._mount_token(spec)

    async def _account(self, namespace: str, name: str) -> Optional[dict]:
        """The ServiceAccount, from the cache, then read again (for ``default``, up to ten times, 100 to 200 ms
        apart, as upstream's plugin retries); None when it does not exist."""
        store = self.registry.store("", "v1", "serviceaccounts")
        try:
            return await store.get_shared(namespace, name)
        except StatusError as e:
            if e.code != 404:
                raise
        clock = getattr(self.registry, "clock", None)
        attempts = self.DEFAULT_ATTEMPTS if name == "default" and hasattr(clock, "callLater") else 1
        interval = 0.1 + self.random.random() * 0.1
        for attempt in range(attempts):
            if attempt:
                await deferLater(clock, interval, lambda: None)
            try:
                return await store.get(namespace, name)
            except StatusError as e:
                if e.code != 404:
                    raise
        return None

    def _mount_token(self, spec: dict) -> None:
        volumes = spec.setdefault("volumes", [])
        existing = next((v.get("name") for v in volumes if str(v.get("name", "")).startswith("kube-api-access-")),
                        None)
        alphabet = "bcdfghjklmnpqrstvwxz2456789"     # upstream's rand.String alphabet
        name = existing or "kube-api-access-" + "".join(self.random.choice(alphabet) for _ in range(5))
        needed = False
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            mounts = container.setdefault("volumeMounts", [])
            # A container that mounts something of its own at the token's path keeps it.
            if not any(m.get("mountPath") == self.MOUNT_PATH for m in mounts):
                mounts.append({"name": name, "readOnly": True, "mountPath": self.MOUNT_PATH})
                needed = True
        if needed and existing is None:
            volumes.append({"name": name, "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": self.TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                              "fieldPath": "metadata.namespace"}}]}},
            ], "defaultMode": 420}})
        if not volumes:
            del spec["volumes"]


class AllowPrivileged:
    """--allow-privileged=false: no container of a pod may be privileged (upstream does this in validation)."""

    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "pods")})

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
    """A new claim naming no storage class (neither spec.storageClassName nor the beta annotation) gets the one
    annotated as the default (GA or beta annotation): the newest, and of those created the same second the first
    by name, as upstream's GetDefaultClass."""

    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "persistentvolumeclaims")})

    BETA_CLASS = "volume.beta.kubernetes.io/storage-class"

    def __init__(self, registry):
        self.registry = registry

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation != CREATE or not is_resource(attributes, "", "persistentvolumeclaims"):
            return
        spec = attributes.object.setdefault("spec", {})
        annotations = (attributes.object.get("metadata") or {}).get("annotations") or {}
        if spec.get("storageClassName") is not None or self.BETA_CLASS in annotations:
            return
        from ..registry.options import ListOptions
        classes = self.registry.lookup("storage.k8s.io", "v1", "storageclasses")
        if classes is None:
            return
        chosen = default_class((await classes.list(None, ListOptions()))[0])
        if chosen is not None:
            spec["storageClassName"] = chosen["metadata"]["name"]
