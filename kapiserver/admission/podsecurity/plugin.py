"""
PodSecurity admission: the Pod Security Standards, applied per namespace.

- Pods (create, update, and updates through pods/ephemeralcontainers): the
  namespace's enforce level refuses a violating pod (403), its warn level adds
  "would violate PodSecurity ..." warnings, its audit level an audit annotation.
  An update that changes nothing the checks read (images, containers) passes.
- Pod controllers and pod templates: their pod templates are warned about and
  audited, never refused (the pods they create are).
- Namespaces: pod-security.kubernetes.io/* labels must be valid on create and
  whenever they change (422); tightening the enforce level warns about the
  existing pods that would now be refused.
- Exempt usernames, runtime classes and namespaces, and the policy of unlabeled
  namespaces, come from the configuration (config.load).
"""

from __future__ import annotations

from typing import Optional

from ...machinery import errors
from ...machinery.errors import GroupResource, StatusError
from ...registry.attributes import CREATE, UPDATE, Attributes
from ...registry.options import ListOptions
from . import api, checks_baseline, checks_restricted
from .api import LevelVersion, Policy
from .config import Configuration, load
from .policy import Evaluator

# Pod subresources whose writes never change what the checks read (upstream's list).
IGNORED_POD_SUBRESOURCES = frozenset(("exec", "attach", "binding", "eviction", "log", "portforward", "proxy",
                                      "status"))
# Where each pod-controlling resource keeps its pod template.
POD_TEMPLATES = {
    ("", "replicationcontrollers"): ("spec", "template"),
    ("", "podtemplates"): ("template",),
    ("apps", "replicasets"): ("spec", "template"),
    ("apps", "deployments"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"),
    ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
}
# Upstream checks at most this many existing pods when a namespace's enforce level tightens.
MAX_PODS_TO_CHECK = 3000

EVALUATOR = Evaluator(checks_baseline.CHECKS + checks_restricted.CHECKS)


class PodSecurity:
    """The PodSecurity admission plugin; ``configuration`` is a PodSecurityConfiguration dict
    (None: everything privileged, nothing exempt).  Raises ValueError for a bad configuration."""

    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "namespaces"), ("", "pods"), *POD_TEMPLATES})

    def __init__(self, registry, configuration: Optional[dict] = None):
        self.registry = registry
        self.config: Configuration = load(configuration)
        self.evaluator = EVALUATOR

    async def validate(self, attributes: Attributes) -> None:
        if attributes.operation not in (CREATE, UPDATE):
            return
        resource = (attributes.resource.group, attributes.resource.resource)
        subresource = attributes.subresource
        if resource == ("", "namespaces"):
            if not subresource:
                await self._admit_namespace(attributes)
        elif resource == ("", "pods"):
            if subresource not in IGNORED_POD_SUBRESOURCES:
                await self._admit_pod(attributes)
        elif resource in POD_TEMPLATES and not subresource:
            await self._admit_controller(attributes, POD_TEMPLATES[resource])

    # -- namespaces ----------------------------------------------------------------------------
    async def _admit_namespace(self, attributes: Attributes) -> None:
        operation, obj, old, record = attributes.operation, attributes.object, attributes.old_object, attributes.record
        metadata = obj.get("metadata") or {}
        name = metadata.get("name", "")
        new_policy, new_problems = api.policy_to_evaluate(metadata.get("labels"), self.config.defaults)
        if operation == CREATE:
            if new_problems:
                raise errors.invalid_object("", "Namespace", name, new_problems)
            # Upstream's create request carries no namespace, so the exemption warning is update-only.
            return
        old_labels = ((old or {}).get("metadata") or {}).get("labels")
        old_policy, old_problems = api.policy_to_evaluate(old_labels, self.config.defaults)
        if new_problems and (not old_problems or new_problems != old_problems):
            raise errors.invalid_object("", "Namespace", name, new_problems)
        new, previous = new_policy.enforce, old_policy.enforce
        if new == previous or new.level == api.PRIVILEGED:
            return
        if new.minor == previous.minor and api.compare_levels(new.level, previous.level) < 1:
            return
        if name in self.config.namespaces:
            warning = self._exempt_namespace_warning(name, new_policy, metadata.get("labels") or {})
            if warning:
                record.add_warning(warning)
            return
        for warning in await self._check_existing_pods(name, new):
            record.add_warning(warning)

    def _exempt_namespace_warning(self, name: str, policy: Policy, labels: dict) -> str:
        if policy.fully_privileged() or policy.equivalent(self.config.defaults):
            return ""
        parts = []
        for mode, level_label, version_label in (("enforce", api.ENFORCE_LABEL, api.ENFORCE_VERSION_LABEL),
                                                 ("audit", api.AUDIT_LABEL, api.AUDIT_VERSION_LABEL),
                                                 ("warn", api.WARN_LABEL, api.WARN_VERSION_LABEL)):
            lv = getattr(policy, mode)
            if lv.level != api.PRIVILEGED and (level_label in labels or version_label in labels):
                parts.append(f"{mode}={lv}")
        return f'namespace "{name}" is exempt from Pod Security, and the policy ({", ".join(parts)}) will be ignored'

    async def _check_existing_pods(self, namespace: str, enforce: LevelVersion) -> list[str]:
        try:
            pods, _ = await self.registry.store("", "v1", "pods").list(namespace, ListOptions())
        except StatusError:
            return ["failed to list pods while checking new PodSecurity enforce level"]
        pods = self._prioritize(pods)
        total = len(pods)
        pods = pods[:MAX_PODS_TO_CHECK]
        counts: dict[str, list] = {}     # reasons -> [lexically first pod name, pod count]
        for pod in pods:
            result = self.evaluator.evaluate(enforce, pod.get("metadata") or {}, pod.get("spec") or {})
            if result.allowed:
                continue
            reason = result.forbidden_reason()
            name = (pod.get("metadata") or {}).get("name", "")
            entry = counts.setdefault(reason, [name, 0])
            entry[0] = min(entry[0], name)
            entry[1] += 1
        warnings = []
        if len(pods) < total:
            warnings.append(f"new PodSecurity enforce level only checked against the first {len(pods)} of "
                            f"{total} existing pods")
        if counts:
            warnings.append(f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce '
                            f'level "{enforce}"')
        decorated = []
        for reason, (name, count) in counts.items():
            if count == 1:
                decorated.append(f"{name}: {reason}")
            elif count == 2:
                decorated.append(f"{name} (and 1 other pod): {reason}")
            else:
                decorated.append(f"{name} (and {count - 1} other pods): {reason}")
        return warnings + sorted(decorated)

    def _prioritize(self, pods: list[dict]) -> list[dict]:
        """Non-exempt pods, one per controller first, then the other replicas (upstream's order)."""
        first, replicas, seen = [], [], set()
        for pod in pods:
            if self._exempt_runtime_class(pod.get("spec") or {}):
                continue
            owner = next((ref for ref in (pod.get("metadata") or {}).get("ownerReferences") or ()
                          if isinstance(ref, dict) and ref.get("controller") is True), None)
            if owner is None:
                first.append(pod)
            elif owner.get("uid") in seen:
                replicas.append(pod)
            else:
                seen.add(owner.get("uid"))
                first.append(pod)
        return first + replicas

    # -- pods and pod templates ----------------------------------------------------------------
    async def _admit_pod(self, attributes: Attributes) -> None:
        operation, obj, old = attributes.operation, attributes.object, attributes.old_object
        metadata = obj.get("metadata") or {}
        namespace = metadata.get("namespace", "")
        if self._exempt_namespace(attributes, namespace) or self._exempt_user(attributes):
            return
        try:
            labels = await self._namespace_labels(namespace)
        except StatusError:
            raise errors.internal_error(f'failed to lookup namespace "{namespace}"') from None
        policy, problems = api.policy_to_evaluate(labels, self.config.defaults)
        if not problems and policy.fully_privileged():
            return
        if operation == UPDATE and old is not None and not significant_pod_update(obj, old):
            return
        self._evaluate(attributes.record, policy, problems, metadata, obj.get("spec") or {}, enforce=True,
                       qualified=attributes.group_resource, name=metadata.get("name", ""))

    async def _admit_controller(self, attributes: Attributes, path: tuple[str, ...]) -> None:
        obj = attributes.object
        metadata = obj.get("metadata") or {}
        namespace = metadata.get("namespace", "")
        if self._exempt_namespace(attributes, namespace) or self._exempt_user(attributes):
            return
        try:
            labels = await self._namespace_labels(namespace)
        except StatusError as e:
            attributes.record.add_audit_annotation(api.AUDIT_ANNOTATION_PREFIX + "error",
                                         f'failed to lookup namespace "{namespace}": {e.message}')
            return
        policy, problems = api.policy_to_evaluate(labels, self.config.defaults)
        if not problems and policy.warn.level == api.PRIVILEGED and policy.audit.level == api.PRIVILEGED:
            return
        template = obj
        for key in path:
            template = template.get(key) if isinstance(template, dict) else None
        if not isinstance(template, dict):
            return      # a controller whose template is optional and absent
        self._evaluate(attributes.record, policy, problems, template.get("metadata") or {},
                       template.get("spec") or {}, enforce=False)

    def _evaluate(self, record, policy: Policy, problems: list, metadata: dict, spec: dict, enforce: bool,
                  qualified: Optional[GroupResource] = None, name: str = "") -> None:
        """Enforce (pods only), audit and warn ``policy`` on one pod spec; raises the 403."""
        if self._exempt_runtime_class(spec):
            record.add_audit_annotation(api.AUDIT_ANNOTATION_PREFIX + "exempt", "runtimeClass")
            return
        annotations = {}
        if problems:
            annotations["error"] = f"Failed to parse policy: {api.aggregate(problems)}"
        results = {}
        refusal = None
        if enforce:
            annotations["enforce-policy"] = str(policy.enforce)
            results[policy.enforce] = result = self.evaluator.evaluate(policy.enforce, metadata, spec)
            if not result.allowed:
                refusal = f'violates PodSecurity "{policy.enforce}": {result.forbidden_detail()}'
        audit = results.get(policy.audit) or self.evaluator.evaluate(policy.audit, metadata, spec)
        results[policy.audit] = audit
        if not audit.allowed:
            annotations["audit-violations"] = (f'would violate PodSecurity "{policy.audit}": '
                                               f"{audit.forbidden_detail()}")
        for key, value in annotations.items():
            record.add_audit_annotation(api.AUDIT_ANNOTATION_PREFIX + key, value)
        if refusal is not None:
            # A refused request gets no warnings, as upstream.
            prefix = f'{qualified} "{name}"' if name else str(qualified)
            raise errors.forbidden_request(qualified, name, f"{prefix} is forbidden: {refusal}")
        warn = results.get(policy.warn) or self.evaluator.evaluate(policy.warn, metadata, spec)
        if not warn.allowed:
            record.add_warning(f'would violate PodSecurity "{policy.warn}": {warn.forbidden_detail()}')

    # -- exemptions and lookups ----------------------------------------------------------------
    def _exempt_namespace(self, attributes: Attributes, namespace: str) -> bool:
        if namespace and namespace in self.config.namespaces:
            attributes.record.add_audit_annotation(api.AUDIT_ANNOTATION_PREFIX + "exempt", "namespace")
            return True
        return False

    def _exempt_user(self, attributes: Attributes) -> bool:
        name = attributes.user_info.name
        if name and name in self.config.usernames:
            attributes.record.add_audit_annotation(api.AUDIT_ANNOTATION_PREFIX + "exempt", "user")
            return True
        return False

    def _exempt_runtime_class(self, spec: dict) -> bool:
        runtime_class = spec.get("runtimeClassName")
        return bool(runtime_class) and runtime_class in self.config.runtime_classes

    async def _namespace_labels(self, name: str) -> dict:
        namespace = await self.registry.store("", "v1", "namespaces").get_shared(None, name)
        return (namespace.get("metadata") or {}).get("labels") or {}


def significant_pod_update(pod: dict, old: dict) -> bool:
    """Whether an update changes what the checks read: the containers, their images, their
    seccomp annotations, or (by name) the ephemeral containers.  Other updates always pass."""
    spec, old_spec = pod.get("spec") or {}, old.get("spec") or {}
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    old_annotations = (old.get("metadata") or {}).get("annotations") or {}

    def changed(container: dict, before: dict) -> bool:
        key = _seccomp_annotation(container)
        return container.get("image") != before.get("image") or annotations.get(key) != old_annotations.get(key)

    for key in ("containers", "initContainers"):
        new_list, old_list = spec.get(key) or [], old_spec.get(key) or []
        if len(new_list) != len(old_list):
            return True
        if any(changed(c, b) for c, b in zip(new_list, old_list)):
            return True
    previous = {c.get("name"): c for c in old_spec.get("ephemeralContainers") or ()}
    for container in spec.get("ephemeralContainers") or ():
        before = previous.get(container.get("name"))
        if before is None or changed(container, before):
            return True
    return False


def _seccomp_annotation(container: dict) -> str:
    return checks_baseline.SECCOMP_CONTAINER_ANNOTATION_PREFIX + str(container.get("name") or "")
