"""
Printers for admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies (NAME VALIDATIONS PARAMKIND AGE) and
their bindings (NAME POLICYNAME PARAMREF AGE), as upstream's printers.
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b


def _policy_cells(policy: dict, now: datetime) -> list:
    spec = policy.get("spec") or {}
    param_kind = spec.get("paramKind")
    kind = "<unset>"
    if isinstance(param_kind, dict):
        kind = f"{param_kind.get('apiVersion', '')}/{param_kind.get('kind', '')}"
    return [b.name(policy), len(spec.get("validations") or []), kind, b.age(policy, now)]


def _binding_cells(binding: dict, now: datetime) -> list:
    spec = binding.get("spec") or {}
    ref = spec.get("paramRef")
    shown = "<unset>"
    if isinstance(ref, dict):
        if ref.get("namespace"):
            shown = f"{ref['namespace']}/{ref.get('name', '')}"
        elif ref.get("name"):
            shown = f"*/{ref['name']}"
        else:
            shown = _selector_string(ref.get("selector"))
    return [b.name(binding), spec.get("policyName", ""), shown, b.age(binding, now)]


def _selector_string(selector) -> str:
    if not isinstance(selector, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for requirement in selector.get("matchExpressions") or []:
        key, op, values = requirement.get("key", ""), requirement.get("operator", ""), requirement.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) if parts else "<none>"


PRINTERS = {
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Validations", "integer", "How many validations the policy has"),
            b.column("ParamKind", "string", "The apiVersion/kind of the policy's parameters"),
            b.age_column(),
        ],
        _policy_cells),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("PolicyName", "string", "The policy the binding applies"),
            b.column("ParamRef", "string", "The parameter resource the binding names"),
            b.age_column(),
        ],
        _binding_cells),
}
