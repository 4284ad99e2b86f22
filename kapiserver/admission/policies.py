"""
The ValidatingAdmissionPolicy plugin: each ValidatingAdmissionPolicyBinding names a policy; a write the
policy's matchConstraints and the binding's matchResources both match (resource rules, exclusions, namespace
and object selectors) and whose matchConditions hold is checked against the policy's validations, CEL over
object, oldObject, request, params (the binding's paramRef resolved against the policy's paramKind),
namespaceObject and variables.  A failed validation is enforced as the binding's validationActions say: Deny
refuses the request (with the validation's reason as the HTTP code), Warn adds a Warning header, Audit an
audit annotation; the policy's auditAnnotations are recorded too.  Evaluation and configuration errors follow
the policy's failurePolicy.  Policies and bindings are read through the registry and cached until they change.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import replace
from typing import Optional

from ..machinery.errors import StatusError
from ..registry.attributes import Attributes
from ..registry.options import ListOptions
from .cache import AdmissionReadCache, watch_resource
from .celauthz import MAX_AUTHZ_ROUNDS, AuthzChecks, request_authorizer
from .matching import (converted_attributes, equivalent_resources, named_rule_matches, resource_of, selector_matches,
                       selectors_match)
from .refusal import object_name
from .webhooks import GROUP, admission_request, evaluate_conditions

POLICIES, BINDINGS = "validatingadmissionpolicies", "validatingadmissionpolicybindings"
# Writes of these are never checked by policies, as upstream exempts its admission configuration.
EXEMPT = frozenset({POLICIES, BINDINGS, "validatingwebhookconfigurations", "mutatingwebhookconfigurations",
                    "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"})
REASON_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413}
AUDIT_FAILURE_KEY = "validation.policy.admission.k8s.io/validation_failure"
class _Decision:
    """One failed validation (or an evaluation error under failurePolicy Fail)."""

    def __init__(self, message: str, reason: str = "Invalid", index: int = 0):
        self.message, self.reason, self.index = message, reason, index


class _ConfigurationError(Exception):
    """A binding that cannot be applied (its params missing or unreachable): failurePolicy decides."""


def _lazy_variables(policy_variables: list, activation: dict, budget):
    """``variables``: a CEL map whose entries are evaluated the first time they are read (a variable that
    errors fails only the expressions that use it)."""
    return _variables_type()(policy_variables, activation, budget)


@functools.lru_cache(maxsize=1)
def _variables_type():
    """The map type of ``variables``, built once (CEL is imported when first needed, not at startup)."""
    from ..machinery import cel
    from ..registry.validation.admissionregistration import POLICY_VARIABLES

    class Variables(cel.celtypes.MapType):
        def __init__(self, policy_variables: list, activation: dict, budget):
            super().__init__({})
            self.sources = {str(v.get("name", "")): str(v.get("expression", "")) for v in policy_variables}
            self.values: dict = {}
            self.activation, self.budget = activation, budget

        def __contains__(self, key) -> bool:
            return str(key) in self.sources

        def __getitem__(self, key):
            name = str(key)
            if name not in self.sources:
                raise KeyError(key)
            if name not in self.values:
                self.values[name] = cel.celpy.CELEvalError(f"variable {name!r} refers to itself", ValueError, None)
                try:
                    result = cel.compile_expression(self.sources[name].strip(), POLICY_VARIABLES).evaluate(
                        self.activation, self.budget)
                except cel.CompileError as e:
                    result = cel.celpy.CELEvalError(str(e), ValueError, None)
                self.values[name] = result
            value = self.values[name]
            if isinstance(value, cel.celpy.CELEvalError):
                raise value
            return value
    return Variables


def _string(value) -> Optional[str]:
    """A CEL string result as text (celpy's concatenation yields a plain str); None for anything else."""
    return str(value) if isinstance(value, str) else None


class ValidatingAdmissionPolicy:
    """The plugin (validating phase, just before ValidatingAdmissionWebhook in upstream's order)."""

    def __init__(self, registry, authorizer=None, clock=time.monotonic):
        self.registry = registry
        self.authorizer = authorizer
        self._cache = AdmissionReadCache(self._load, clock,
                                         watch=lambda resource, changed: watch_resource(registry, GROUP, resource,
                                                                                        changed))

    async def _load(self, resource: str) -> list[dict]:
        store = self.registry.lookup(GROUP, "v1", resource)
        if store is None:
            return []
        return (await store.list(None, ListOptions()))[0]

    async def validate(self, attributes: Attributes) -> None:
        info = attributes.resource
        if info.group == GROUP and info.resource in EXEMPT:
            if info.resource in (POLICIES, BINDINGS):
                self._cache.invalidate()
            return
        bindings = await self._cache.get(BINDINGS)
        if not bindings:
            return
        policies = {p["metadata"]["name"]: p for p in await self._cache.get(POLICIES)}
        denied = None
        namespace = None
        request = None
        audit_failures: list[dict] = []
        for binding in bindings:
            spec = binding.get("spec") or {}
            policy = policies.get(spec.get("policyName", ""))
            if policy is None:
                continue        # a binding to a policy that does not exist is ignored
            policy_spec = policy.get("spec") or {}
            seen = await self._as_matched(policy_spec.get("matchConstraints"), attributes)
            if seen is None:
                continue
            if namespace is None:       # read once, and only for a request some policy's rules match
                namespace = await self._namespace(attributes)
            if not await self._matches(policy_spec.get("matchConstraints"), seen, namespace, True):
                continue
            if spec.get("matchResources") is not None and \
                    not await self._matches(spec.get("matchResources"), seen, namespace, False):
                continue
            if request is None:
                # As a webhook's AdmissionRequest, but without uid and the objects (object and oldObject are
                # variables of their own), as upstream hands it to policies.
                request = {k: v for k, v in admission_request(attributes, "").items()
                           if k not in ("uid", "object", "oldObject")}
            try:
                decisions = await self._evaluate(policy, binding, seen, _request_as(request, seen), namespace)
            except _ConfigurationError as e:
                if (policy_spec.get("failurePolicy") or "Fail") == "Fail" and denied is None:
                    denied = (policy, binding, _Decision(f"failed to configure binding: {e}"))
                continue
            actions = spec.get("validationActions") or []
            for decision in decisions:
                if "Deny" in actions and denied is None:
                    denied = (policy, binding, decision)
                if "Warn" in actions:
                    attributes.record.add_warning(
                        f"Validation failed for ValidatingAdmissionPolicy '{policy['metadata']['name']}' with "
                        f"binding '{binding['metadata']['name']}': {decision.message}")
                if "Audit" in actions:
                    audit_failures.append({"message": decision.message, "policy": policy["metadata"]["name"],
                                           "binding": binding["metadata"]["name"], "expressionIndex": decision.index,
                                           "validationActions": list(actions)})
        if audit_failures:      # one annotation listing every binding's failures
            attributes.record.add_audit_annotation(AUDIT_FAILURE_KEY,
                                                   json.dumps(audit_failures, separators=(",", ":")))
        if denied is not None:
            raise self._denial(attributes, *denied)

    # -- matching -------------------------------------------------------------------------------------

    async def _namespace(self, attributes: Attributes) -> dict:
        """The request's namespace object ({} when cluster-scoped or not found)."""
        if not attributes.namespace:
            return {}
        try:
            return await self.registry.store("", "v1", "namespaces").get(None, attributes.namespace)
        except StatusError:
            return {}

    async def _as_matched(self, match: Optional[dict], attributes: Attributes) -> Optional[Attributes]:
        """The request as the policy's resource rules see it: as made, when a rule matches it; else, under
        matchPolicy Equivalent, converted to the first version of the same stored resource that a rule matches
        (as upstream's equivalent resources); None when no rule matches either way."""
        match = match or {}
        rules = match.get("resourceRules") or []
        if any(named_rule_matches(rule, attributes) for rule in rules):
            return attributes
        if (match.get("matchPolicy") or "Equivalent") != "Equivalent":
            return None
        catalog = getattr(self.registry, "catalog", None)
        for other in equivalent_resources(catalog, attributes):
            if any(named_rule_matches(rule, replace(attributes, resource=resource_of(other))) for rule in rules):
                gvr = attributes.resource
                return await converted_attributes(self.registry, attributes,
                                                  catalog.lookup(gvr.group, gvr.version, gvr.resource), other)
        return None

    @staticmethod
    async def _matches(match: Optional[dict], attributes: Attributes, namespace: dict, rules_required: bool) -> bool:
        match = match or {}
        rules = match.get("resourceRules") or []
        if (rules or rules_required) and not any(named_rule_matches(rule, attributes) for rule in rules):
            return False
        if any(named_rule_matches(rule, attributes) for rule in match.get("excludeResourceRules") or []):
            return False
        return await selectors_match(match.get("objectSelector"), match.get("namespaceSelector"), attributes,
                                     lambda _: (namespace.get("metadata") or {}).get("labels") or {})

    # -- evaluating -------------------------------------------------------------------------------------

    async def _params(self, policy: dict, binding: dict, attributes: Attributes) -> Optional[list]:
        """The parameter objects the binding selects ([None] when the policy takes none); None when there are
        none and parameterNotFoundAction is Allow."""
        kind = (policy.get("spec") or {}).get("paramKind")
        if not kind:
            return [None]
        ref = (binding.get("spec") or {}).get("paramRef")
        if not ref:
            raise _ConfigurationError(f"paramKind {kind.get('apiVersion', '')}, Kind={kind.get('kind', '')} "
                                      "is set but binding has no paramRef")
        group, _, version = (kind.get("apiVersion") or "").rpartition("/")
        info = next((i for i in self.registry.catalog.all() if (i.group, i.version, i.kind) ==
                     (group, version, kind.get("kind"))), None) if hasattr(self.registry, "catalog") else None
        store = self.registry.lookup(info.group, info.version, info.resource) if info is not None else None
        if store is None:
            raise _ConfigurationError(f"failed to find resource referenced by paramKind: "
                                      f"'{kind.get('apiVersion', '')}, Kind={kind.get('kind', '')}'")
        namespace = ""
        if info.namespaced:
            namespace = ref.get("namespace") or attributes.namespace
            if not namespace:
                raise _ConfigurationError("cannot use namespaced paramRef in policy binding that matches "
                                          "cluster-scoped resources")
        if ref.get("name"):
            try:
                found = [await store.get(namespace or None, ref["name"])]
            except StatusError as e:
                if e.code != 404:
                    raise _ConfigurationError(str(e)) from None
                found = []
        else:
            items = (await store.list(namespace or None, ListOptions()))[0]
            found = [o for o in items if selector_matches(ref.get("selector") or {},
                                                           (o.get("metadata") or {}).get("labels") or {})]
        if found:
            return found
        if ref.get("parameterNotFoundAction") == "Allow":
            return None
        raise _ConfigurationError("no params found for policy binding with `Deny` parameterNotFoundAction")

    async def _evaluate(self, policy: dict, binding: dict, attributes: Attributes, request: dict,
                        namespace: dict) -> list[_Decision]:
        from ..machinery import cel
        params = await self._params(policy, binding, attributes)
        if params is None:
            return []
        checks = AuthzChecks(self.authorizer, attributes.user_info)
        authorizer = request_authorizer(checks, attributes)
        base = {"object": cel.to_cel(attributes.object, None), "oldObject": cel.to_cel(attributes.old_object, None),
                "request": cel.to_cel(request, None), "authorizer": authorizer,
                "namespaceObject": cel.to_cel(_namespace_object(namespace), None) if namespace else None}
        decisions: list[_Decision] = []
        for param in params:
            activation = dict(base, params=cel.to_cel(param, None))
            # An authorizer check is answered asynchronously: an evaluation that asked for one is run again
            # once every check it asked for has its decision.
            found, annotations = self._evaluate_once(policy, dict(activation))
            for _ in range(MAX_AUTHZ_ROUNDS):
                if not await checks.resolve():
                    break
                found, annotations = self._evaluate_once(policy, dict(activation))
            decisions += found
            for key, value in annotations:
                attributes.record.add_audit_annotation(key, value)
        return decisions

    def _evaluate_once(self, policy: dict, activation: dict) -> tuple[list[_Decision], list[tuple[str, str]]]:
        """One evaluation of the policy for one parameter: its failed validations and its audit annotations."""
        from ..machinery import cel
        from ..registry.validation.admissionregistration import POLICY_CONDITION_VARIABLES
        spec = policy.get("spec") or {}
        fail = (spec.get("failurePolicy") or "Fail") == "Fail"
        decisions: list[_Decision] = []
        annotations: list[tuple[str, str]] = []
        budget = cel.Budget()
        matched, failures = evaluate_conditions(spec.get("matchConditions") or [], activation,
                                                POLICY_CONDITION_VARIABLES, budget)
        if not matched:
            return decisions, annotations
        if failures:
            if fail:
                decisions.append(_Decision("failed to evaluate match conditions: " + "; ".join(failures)))
            return decisions, annotations
        activation["variables"] = _lazy_variables(spec.get("variables") or [], activation, budget)
        for index, validation in enumerate(spec.get("validations") or []):
            if budget.exhausted:
                break
            decision = self._validation(validation, index, activation, fail, budget)
            if decision is not None:
                decisions.append(decision)
        if not budget.exhausted:
            annotations = self._audit_annotations(policy, activation, budget)
        if budget.exhausted and fail:
            decisions.append(_Decision("validation failed due to running out of cost budget, no further "
                                       "validation rules will be run"))
        return decisions, annotations

    @staticmethod
    def _validation(validation: dict, index: int, activation: dict, fail: bool, budget) -> Optional[_Decision]:
        from ..machinery import cel
        from ..registry.validation.admissionregistration import POLICY_VARIABLES
        expression = (validation.get("expression") or "").strip()
        try:
            result = cel.compile_expression(expression, POLICY_VARIABLES).evaluate(activation, budget)
        except cel.CompileError as e:
            result = cel.celpy.CELEvalError(str(e), ValueError, None)
        if isinstance(result, cel.celpy.CELEvalError) or not isinstance(result, (bool, cel.celtypes.BoolType)):
            if not fail:
                return None
            why = cel.error_text(result) if isinstance(result, cel.celpy.CELEvalError) else \
                "validation expression must evaluate to bool"
            return _Decision(f"expression '{expression}' resulted in error: {why}", "Invalid", index)
        if result:
            return None
        message = (validation.get("message") or "").strip() or f"failed expression: {expression}"
        if validation.get("messageExpression"):
            try:
                produced = _string(cel.compile_expression(validation["messageExpression"].strip(),
                                                          POLICY_VARIABLES).evaluate(activation, budget))
            except cel.CompileError:
                produced = None
            if produced and produced.strip() and "\n" not in produced.strip():
                message = produced.strip()
        return _Decision(message, validation.get("reason") or "Invalid", index)

    @staticmethod
    def _audit_annotations(policy: dict, activation: dict, budget) -> list[tuple[str, str]]:
        from ..machinery import cel
        from ..registry.validation.admissionregistration import POLICY_VARIABLES
        out = []
        for annotation in (policy.get("spec") or {}).get("auditAnnotations") or []:
            try:
                value = cel.compile_expression((annotation.get("valueExpression") or "").strip(),
                                               POLICY_VARIABLES).evaluate(activation, budget)
            except cel.CompileError:
                continue
            text = _string(value)
            if text is not None:
                out.append((f"{policy['metadata']['name']}/{annotation.get('key', '')}", text))
        return out

    @staticmethod
    def _denial(attributes: Attributes, policy: dict, binding: dict, decision: _Decision) -> StatusError:
        """Upstream's refusal: admission's Forbidden wording with the validation's reason and its code."""
        message = (f"ValidatingAdmissionPolicy '{policy['metadata']['name']}' with binding "
                   f"'{binding['metadata']['name']}' denied request: {decision.message}")
        gr = attributes.group_resource
        reason = decision.reason or "Invalid"
        name = object_name(attributes)
        details = {"name": name, "group": gr.group, "kind": gr.resource, "causes": [{"message": message}]}
        if not details["group"]:
            del details["group"]
        return StatusError(REASON_CODES.get(reason, 422), reason, f'{gr} "{name}" is forbidden: {message}', details)


def _request_as(request: dict, seen: Attributes) -> dict:
    """The request variable for the resource the policy matched: kind and resource are the matched ones,
    requestKind and requestResource stay the request's own."""
    if request.get("resource", {}).get("version") == seen.resource.version and \
            request.get("resource", {}).get("group") == seen.resource.group:
        return request
    return dict(request, kind={"group": seen.kind.group, "version": seen.kind.version, "kind": seen.kind.kind},
                resource={"group": seen.resource.group, "version": seen.resource.version,
                          "resource": seen.resource.resource})


def _namespace_object(namespace: dict) -> dict:
    """namespaceObject as upstream hands it to policies: the namespace without its managedFields."""
    out = dict(namespace)
    out["metadata"] = {k: v for k, v in (namespace.get("metadata") or {}).items() if k != "managedFields"}
    return out

