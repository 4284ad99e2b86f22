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
        if _is_mirror(pod):
            return      # a mirror pod's spec is the kubelet's: left alone (validate judges what it references)
        spec = pod.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        account = await self._existing_account(attributes, spec["serviceAccountName"])
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = account.get("automountServiceAccountToken")
        if automount is not False:
            self._mount_token(spec)
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": ref.get("name", "")} for ref in account["imagePullSecrets"]]

    async def validate(self, attributes: Attributes) -> None:
        """What upstream's Validate judges: a mirror pod references no service account nor secret nor token;
        any other new pod names an existing account, and one annotated kubernetes.io/enforce-mountable-secrets
        limits the secrets the pod (or, on the ephemeralcontainers subresource, its ephemeral containers) may
        reference to the account's own."""
        if not _is_pod(attributes, _WITH_CONTAINERS) or not isinstance(attributes.object, dict):
            return
        pod = attributes.object
        spec = pod.get("spec") or {}
        ephemeral = attributes.subresource == "ephemeralcontainers"
        if (attributes.operation, ephemeral) not in ((UPDATE, True), (CREATE, False)):
            return
        if not ephemeral and _is_mirror(pod):
            problem = _mirror_problem(spec)
            if problem:
                raise _forbidden(pod, problem)
            return
        name = spec.get("serviceAccountName")
        if not name:
            raise _forbidden(pod, f"no service account specified for pod {attributes.namespace}/"
                                  f"{(pod.get('metadata') or {}).get('name', '')}")
        account = await self._existing_account(attributes, name)
        if _enforces_mountable_secrets(account):
            problem = _unmountable_secret(account, spec, ephemeral)
            if problem:
                raise _forbidden(pod, problem)

    async def _existing_account(self, attributes: Attributes, name: str) -> dict:
        account = await self._account(attributes.namespace, name)
        if account is None:
            raise _forbidden(attributes.object, f'error looking up service account {attributes.namespace}/{name}: '
                                                f'serviceaccount "{name}" not found')
        return account

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


MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
ENFORCE_MOUNTABLE_SECRETS = "kubernetes.io/enforce-mountable-secrets"


def _is_mirror(pod: dict) -> bool:
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def _forbidden(pod: dict, message: str) -> StatusError:
    name = (pod.get("metadata") or {}).get("name", "")
    return StatusError(403, "Forbidden", f'pods "{name}" is forbidden: {message}', {"name": name, "kind": "pods"})


def _enforces_mountable_secrets(account: dict) -> bool:
    """The account's annotation read as Go's strconv.ParseBool."""
    value = ((account.get("metadata") or {}).get("annotations") or {}).get(ENFORCE_MOUNTABLE_SECRETS, "")
    return value in ("1", "t", "T", "true", "TRUE", "True")


def _secret_names(spec: dict):
    """Every secret a pod spec names (upstream's VisitPodSecretNames, over all containers)."""
    for ref in spec.get("imagePullSecrets") or []:
        yield ref.get("name", "")
    for key in _CONTAINER_LISTS:
        for container in spec.get(key) or []:
            for env_from in container.get("envFrom") or []:
                if env_from.get("secretRef"):
                    yield env_from["secretRef"].get("name", "")
            for env in container.get("env") or []:
                if ((env.get("valueFrom") or {}).get("secretKeyRef")):
                    yield env["valueFrom"]["secretKeyRef"].get("name", "")
    for volume in spec.get("volumes") or []:
        for kind, source in volume.items():
            if not isinstance(source, dict):
                continue
            if kind == "secret":
                yield source.get("secretName", "")
            elif kind == "azureFile":
                yield source.get("secretName", "")
            elif kind == "projected":
                for projection in source.get("sources") or []:
                    if projection.get("secret"):
                        yield projection["secret"].get("name", "")
            for ref_key in ("secretRef", "nodePublishSecretRef"):
                if isinstance(source.get(ref_key), dict):
                    yield source[ref_key].get("name", "")


def _mirror_problem(spec: dict) -> Optional[str]:
    if spec.get("serviceAccountName"):
        return "a mirror pod may not reference service accounts"
    if next(_secret_names(spec), None) is not None:
        return "a mirror pod may not reference secrets"
    for volume in spec.get("volumes") or []:
        if any(p.get("serviceAccountToken") for p in (volume.get("projected") or {}).get("sources") or []):
            return "a mirror pod may not use ServiceAccountToken volume projections"
    return None


def _unmountable_secret(account: dict, spec: dict, ephemeral: bool) -> Optional[str]:
    """The first secret reference the account does not allow, described as upstream's limitSecretReferences
    (limitEphemeralContainerSecretReferences for ``ephemeral``) does; None when all are allowed."""
    sa = account["metadata"]["name"]
    mountable = {ref.get("name") for ref in account.get("secrets") or []}
    tail = f"is not allowed because service account {sa} does not reference that secret"
    if not ephemeral:
        for volume in spec.get("volumes") or []:
            name = (volume.get("secret") or {}).get("secretName") if volume.get("secret") is not None else None
            if name is not None and name not in mountable:
                return f'volume with secret.secretName="{name}" {tail}'
    lists = (("ephemeralContainers", "ephemeral container"),) if ephemeral else \
        (("initContainers", "init container"), ("containers", "container"))
    for key, what in lists:
        for container in spec.get(key) or []:
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ref.get("name") not in mountable:
                    return (f'{what} {container.get("name", "")} with envVar {env.get("name", "")} referencing '
                            f'secret.secretName="{ref.get("name", "")}" {tail}')
            for env_from in container.get("envFrom") or []:
                ref = env_from.get("secretRef")
                if ref and ref.get("name") not in mountable:
                    return (f'{what} {container.get("name", "")} with envFrom referencing '
                            f'secret.secretName="{ref.get("name", "")}" {tail}')
    if ephemeral:
        return None
    pull = {ref.get("name") for ref in account.get("imagePullSecrets") or []}
    for index, ref in enumerate(spec.get("imagePullSecrets") or []):
        if ref.get("name") not in pull:
            return (f'imagePullSecrets[{index}].name="{ref.get("name", "")}" is not allowed because service '
                    f'account {sa} does not reference that imagePullSecret')
    return None


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
