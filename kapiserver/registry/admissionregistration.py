"""
The ValidatingAdmissionPolicy strategy: a policy's status says which generation was type checked and what the
check found (status.observedGeneration, status.typeChecking), as upstream's type-checking controller reports
it.  Here the check runs as the spec is written, against the schemas of the kinds the policy's resource rules
name (and of its paramKind), so a policy never waits for it.
"""

from __future__ import annotations

from typing import Optional

from .catalog import BUILTIN
from .strategy import Strategy

# Upstream checks against a bounded number of the matched kinds.
MAX_CHECKED_KINDS = 10


def _kinds(spec: dict) -> list[tuple[str, str, str]]:
    """The (group, version, kind)s the policy's resource rules name exactly (no wildcards, no subresources)."""
    by_resource = {(i.group, i.version, i.resource): i.kind for i in BUILTIN}
    out: list[tuple[str, str, str]] = []
    for rule in ((spec.get("matchConstraints") or {}).get("resourceRules") or []):
        for group in rule.get("apiGroups") or []:
            for version in rule.get("apiVersions") or []:
                for resource in rule.get("resources") or []:
                    kind = by_resource.get((group, version, resource))
                    if kind is not None and (group, version, kind) not in out:
                        out.append((group, version, kind))
    return out[:MAX_CHECKED_KINDS]


def _expressions(spec: dict):
    for i, v in enumerate(spec.get("validations") or []):
        yield f"spec.validations[{i}].expression", v.get("expression")
        yield f"spec.validations[{i}].messageExpression", v.get("messageExpression")
    for i, a in enumerate(spec.get("auditAnnotations") or []):
        yield f"spec.auditAnnotations[{i}].valueExpression", a.get("valueExpression")
    for i, c in enumerate(spec.get("matchConditions") or []):
        yield f"spec.matchConditions[{i}].expression", c.get("expression")
    for i, v in enumerate(spec.get("variables") or []):
        yield f"spec.variables[{i}].expression", v.get("expression")


def type_check(spec: dict) -> dict:
    """status.typeChecking for a policy's spec: a warning per expression that does not type check."""
    from ..machinery import cel, celcheck, schema
    from .validation.admissionregistration import POLICY_VARIABLES
    params: Optional[object] = None
    param_kind = spec.get("paramKind") or {}
    if param_kind.get("kind"):
        group, _, version = (param_kind.get("apiVersion") or "").rpartition("/")
        params = schema.node_for(group, version, param_kind["kind"])
    kinds = [(gvk, schema.node_for(*gvk)) for gvk in _kinds(spec)]
    warnings = []
    for field_ref, source in _expressions(spec):
        if not isinstance(source, str) or not source.strip():
            continue
        try:
            program = cel.compile_expression(source.strip(), POLICY_VARIABLES)
        except cel.CompileError:
            continue
        found = []
        for (group, version, kind), node in kinds or [((None, None, None), None)]:
            typed = {name: value for name, value in (("object", node), ("oldObject", node), ("params", params))
                     if value is not None}
            for warning in celcheck.type_warnings(program, typed):
                found.append(f"{group}/{version}, Kind={kind}: {warning}" if kind else warning)
        if found:
            warnings.append({"fieldRef": field_ref, "warning": "\n".join(found)})
    return {"expressionWarnings": warnings} if warnings else {}


class ValidatingAdmissionPolicyStrategy(Strategy):
    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        self._checked(obj)

    def prepare_for_update(self, new: dict, old: dict) -> None:
        super().prepare_for_update(new, old)
        status = new.get("status") or {}
        if new["metadata"].get("generation") != status.get("observedGeneration") or "typeChecking" not in status:
            self._checked(new)

    @staticmethod
    def _checked(obj: dict) -> None:
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        status["observedGeneration"] = obj["metadata"].get("generation", 1)
        status["typeChecking"] = type_check(obj.get("spec") or {})
