"""
Printers for admissionregistration.k8s.io/v1, as upstream's: webhook configurations (NAME WEBHOOKS AGE),
ValidatingAdmissionPolicies (NAME VALIDATIONS PARAMKIND AGE) and their bindings (NAME POLICYNAME PARAMREF AGE).
"""

from __future__ import annotations

from datetime import datetime

from ...machinery.selectors import label_selector_string
from . import _base as b


def _webhook_cells(configuration: dict, now: datetime) -> list:
    return [b.name(configuration), len(configuration.get("webhooks") or []), b.age(configuration, now)]


def _webhook_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
        b.age_column(),
    ]


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
        # a name decides first (no namespace: "*/", the param may be cluster-scoped); only without one the selector
        if ref.get("name"):
            shown = f"{ref.get('namespace') or '*'}/{ref['name']}"
        elif isinstance(ref.get("selector"), dict):
            shown = label_selector_string(ref["selector"])
    return [b.name(binding), spec.get("policyName", ""), shown, b.age(binding, now)]


_GROUP = "admissionregistration.k8s.io"
PRINTERS = {
    (_GROUP, "mutatingwebhookconfigurations"): b.Printer(_webhook_columns, _webhook_cells),
    (_GROUP, "validatingwebhookconfigurations"): b.Printer(_webhook_columns, _webhook_cells),
    (_GROUP, "validatingadmissionpolicies"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Validations", "integer",
                     "Validations indicates the number of validation rules defined in this configuration"),
            b.column("ParamKind", "string",
                     "ParamKind specifies the kind of resources used to parameterize this policy"),
            b.age_column(),
        ],
        _policy_cells),
    (_GROUP, "validatingadmissionpolicybindings"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("PolicyName", "string",
                     "PolicyName indicates the policy definition which the policy binding binded to"),
            # upstream's spelling
            b.column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
            b.age_column(),
        ],
        _binding_cells),
}
