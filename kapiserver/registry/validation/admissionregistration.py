"""Validation of admissionregistration.k8s.io/v1 MutatingWebhookConfiguration and
ValidatingWebhookConfiguration, as upstream's ValidateMutatingWebhookConfiguration and
ValidateValidatingWebhookConfiguration: each webhook's name, rules, policies, client config,
admission review versions, selectors and match conditions (which must compile as CEL); and of
ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding: match constraints, match conditions,
variables, validations, audit annotations and paramKind (every expression must compile), a binding's
policy name, paramRef and validation actions."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ...machinery.errors import FieldError
from . import meta as _meta
from ...machinery import celnames, names
from ._util import (Errors, duplicate, go_quote, invalid, invalid_go, is_int, label_selector, not_supported,
                    qualified_name, required, text)

OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
SCOPES = ("*", "Cluster", "Namespaced")
FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
SIDE_EFFECTS = ("None", "NoneOnDryRun")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
REVIEW_VERSIONS = ("v1", "v1beta1")
MAX_MATCH_CONDITIONS = 64
# The variables a match condition may use, as upstream declares them.
MATCH_CONDITION_VARIABLES = frozenset({"object", "oldObject", "request", "authorizer"})
# The variables a ValidatingAdmissionPolicy's expressions may use (its matchConditions: all but variables).
POLICY_VARIABLES = frozenset({"object", "oldObject", "request", "params", "namespaceObject", "authorizer",
                              "variables"})
POLICY_CONDITION_VARIABLES = POLICY_VARIABLES - {"variables"}
VALIDATION_REASONS = ("Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge")
VALIDATION_ACTIONS = ("Audit", "Deny", "Warn")
PARAMETER_NOT_FOUND_ACTIONS = ("Allow", "Deny")


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _fully_qualified(name: str, path: str) -> Errors:
    if not name:
        return [required(path, "")]
    errs = [invalid(path, name, msg) for msg in names.is_dns1123_subdomain(name)]
    if not errs and len(name.split(".")) < 3:
        errs.append(invalid(path, name, "should be a domain with at least three segments separated by dots"))
    return errs


def _wildcard_alone(values: list, path: str, what: str) -> Errors:
    if len(values) > 1 and "*" in values:
        return [invalid(path, values, f"if '*' is present, must not specify other {what}")]
    return []


def _rule(rule: dict, path: str) -> Errors:
    errs: Errors = []
    operations = _list(rule.get("operations"))
    if not operations:
        errs.append(required(f"{path}.operations", ""))
    errs += _wildcard_alone(operations, f"{path}.operations", "operations")
    for i, operation in enumerate(operations):
        if operation not in OPERATIONS:
            errs.append(not_supported(f"{path}.operations[{i}]", operation, OPERATIONS))
    groups = _list(rule.get("apiGroups"))
    if not groups:
        errs.append(required(f"{path}.apiGroups", ""))
    errs += _wildcard_alone(groups, f"{path}.apiGroups", "API groups")
    versions = _list(rule.get("apiVersions"))
    if not versions:
        errs.append(required(f"{path}.apiVersions", ""))
    errs += _wildcard_alone(versions, f"{path}.apiVersions", "API versions")
    for i, version in enumerate(versions):
        if not version:
            errs.append(required(f"{path}.apiVersions[{i}]", ""))
    resources = _list(rule.get("resources"))
    if not resources:
        errs.append(required(f"{path}.resources", ""))
    for i, resource in enumerate(resources):
        if not resource:
            errs.append(required(f"{path}.resources[{i}]", ""))
    scope = rule.get("scope")
    if scope is not None and scope not in SCOPES:
        errs.append(not_supported(f"{path}.scope", scope, SCOPES))
    return errs


def _client_config(config: dict, path: str) -> Errors:
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        return [required(path, "exactly one of url or service is required")]
    errs: Errors = []
    if url is not None:
        field = f"{path}.url"
        parts = urlsplit(text(url))
        if parts.scheme != "https":
            errs.append(invalid(field, parts.scheme, "'https' is the only allowed URL scheme"))
        if not parts.netloc:
            errs.append(invalid(field, parts.netloc, "host must be specified"))
        if parts.username or parts.password:
            errs.append(invalid(field, parts.netloc, "user information is not permitted in the URL"))
        if parts.fragment:
            errs.append(invalid(field, parts.fragment, "fragments are not permitted in the URL"))
        if parts.query:
            errs.append(invalid(field, parts.query, "query parameters are not permitted in the URL"))
        return errs
    service = _dict(service)
    field = f"{path}.service"
    if not service.get("name"):
        errs.append(required(f"{field}.name", "service name is required"))
    if not service.get("namespace"):
        errs.append(required(f"{field}.namespace", "service namespace is required"))
    service_path = service.get("path")
    if service_path is not None and not text(service_path).startswith("/"):
        errs.append(invalid(f"{field}.path", service_path, "must start with a '/'"))
    port = service.get("port")
    if port is not None and (not is_int(port) or not 1 <= port <= 65535):
        errs.append(invalid(f"{field}.port", port, "port is not valid: must be between 1 and 65535, inclusive"))
    return errs


def _review_versions(versions: Any, path: str) -> Errors:
    versions = _list(versions)
    if not versions:
        return [required(path, f"must specify one of {', '.join(REVIEW_VERSIONS)}")]
    errs: Errors = []
    seen = set()
    for i, version in enumerate(versions):
        if version in seen:
            errs.append(duplicate(f"{path}[{i}]", version))
        seen.add(version)
        errs += [invalid(f"{path}[{i}]", version, msg) for msg in names.is_dns1035_label(text(version))]
    if not any(v in REVIEW_VERSIONS for v in versions):
        errs.append(invalid(path, versions, f"must include at least one of {', '.join(REVIEW_VERSIONS)}"))
    return errs


def match_condition_errors(expression: str, path: str, variables: frozenset = MATCH_CONDITION_VARIABLES) -> Errors:
    """The compile errors of one match condition's expression ("compilation failed: ..."), if any."""
    from ...machinery import cel
    try:
        cel.compile_expression(expression, variables)
    except cel.CompileError as e:
        return [invalid(path, expression, str(e))]
    return []


def _match_conditions(conditions: Any, path: str, variables: frozenset = MATCH_CONDITION_VARIABLES) -> Errors:
    conditions = _list(conditions)
    if len(conditions) > MAX_MATCH_CONDITIONS:
        return [FieldError("FieldValueTooMany", path,
                           f"Too many: {len(conditions)}: must have at most {MAX_MATCH_CONDITIONS} items")]
    errs: Errors = []
    seen = set()
    for i, condition in enumerate(conditions):
        condition = _dict(condition)
        expression = text(condition.get("expression")).strip()
        if not expression:
            errs.append(required(f"{path}[{i}].expression", ""))
        else:
            errs += match_condition_errors(expression, f"{path}[{i}].expression", variables)
        name = text(condition.get("name"))
        if not name:
            errs.append(required(f"{path}[{i}].name", ""))
        else:
            errs += qualified_name(name, f"{path}[{i}].name")
            if name in seen:
                errs.append(duplicate(f"{path}[{i}].name", name))
            seen.add(name)
    return errs


def _webhook(hook: dict, path: str, mutating: bool) -> Errors:
    errs = _fully_qualified(text(hook.get("name")), f"{path}.name")
    for i, rule in enumerate(_list(hook.get("rules"))):
        errs += _rule(_dict(rule), f"{path}.rules[{i}]")
    for key, allowed in (("failurePolicy", FAILURE_POLICIES), ("matchPolicy", MATCH_POLICIES)) + \
            ((("reinvocationPolicy", REINVOCATION_POLICIES),) if mutating else ()):
        value = hook.get(key)
        if value is not None and value not in allowed:
            errs.append(not_supported(f"{path}.{key}", value, allowed))
    side_effects = hook.get("sideEffects")
    if side_effects is None:
        errs.append(required(f"{path}.sideEffects", f"must specify one of {', '.join(SIDE_EFFECTS)}"))
    elif side_effects not in SIDE_EFFECTS:
        errs.append(not_supported(f"{path}.sideEffects", side_effects, SIDE_EFFECTS))
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and (not is_int(timeout) or not 1 <= timeout <= 30):
        errs.append(invalid(f"{path}.timeoutSeconds", timeout, "the timeout value must be between 1 and 30 seconds"))
    errs += _review_versions(hook.get("admissionReviewVersions"), f"{path}.admissionReviewVersions")
    errs += _client_config(_dict(hook.get("clientConfig")), f"{path}.clientConfig")
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is not None:
            errs += label_selector(hook.get(key), f"{path}.{key}")
    errs += _match_conditions(hook.get("matchConditions"), f"{path}.matchConditions")
    return errs


def _configuration(obj: dict, mutating: bool) -> Errors:
    errs: Errors = []
    seen = set()
    for i, hook in enumerate(_list(obj.get("webhooks"))):
        hook = _dict(hook)
        errs += _webhook(hook, f"webhooks[{i}]", mutating)
        name = text(hook.get("name"))
        if name:
            if name in seen:
                errs.append(duplicate(f"webhooks[{i}].name", name))
            seen.add(name)
    return errs


def validate_mutating(obj: dict, namespaced: bool) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain) + \
        _configuration(obj, True)


def validate_validating(obj: dict, namespaced: bool) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain) + \
        _configuration(obj, False)


def _update(validate):
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
        return errs + [e for e in validate(new, namespaced) if not e.field.startswith("metadata.")]
    return update


# -- ValidatingAdmissionPolicy and its bindings ---------------------------------------------------

_CEL_IDENTIFIER = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


def _expression(expression: Any, path: str, variables: frozenset = POLICY_VARIABLES,
                prefix: str = "compilation failed") -> Errors:
    source = text(expression)
    if not source.strip():
        return [required(path, "")]
    from ...machinery import cel
    try:
        cel.compile_expression(source, variables)
    except cel.CompileError as e:
        return [invalid(path, source, str(e).replace("compilation failed", prefix, 1))]
    return []


def _named_rule(rule: dict, path: str) -> Errors:
    errs = _rule(rule, path)
    seen = set()
    for i, name in enumerate(_list(rule.get("resourceNames"))):
        if not name:
            errs.append(required(f"{path}.resourceNames[{i}]", ""))
        elif name in seen:
            errs.append(duplicate(f"{path}.resourceNames[{i}]", name))
        seen.add(name)
    return errs


def _match_resources(match: dict, path: str, rules_required: bool) -> Errors:
    errs: Errors = []
    for key in ("namespaceSelector", "objectSelector"):
        if match.get(key) is None:
            errs.append(required(f"{path}.{key}", ""))
        else:
            errs += label_selector(match.get(key), f"{path}.{key}")
    policy = match.get("matchPolicy")
    if policy is None:
        errs.append(required(f"{path}.matchPolicy", ""))
    elif policy not in MATCH_POLICIES:
        errs.append(not_supported(f"{path}.matchPolicy", policy, MATCH_POLICIES))
    rules = _list(match.get("resourceRules"))
    if rules_required and not rules:
        errs.append(required(f"{path}.resourceRules", ""))
    for i, rule in enumerate(rules):
        errs += _named_rule(_dict(rule), f"{path}.resourceRules[{i}]")
    for i, rule in enumerate(_list(match.get("excludeResourceRules"))):
        errs += _named_rule(_dict(rule), f"{path}.excludeResourceRules[{i}]")
    return errs


def _param_kind(kind: Any, path: str) -> Errors:
    kind = _dict(kind)
    errs: Errors = []
    if not kind.get("kind"):
        errs.append(required(f"{path}.kind", ""))
    api_version = text(kind.get("apiVersion"))
    if not api_version:
        errs.append(required(f"{path}.apiVersion", ""))
    else:
        group, _, version = api_version.rpartition("/")
        if api_version.count("/") > 1 or not version:
            errs.append(invalid(f"{path}.apiVersion", api_version, "must be of the form group/version"))
        else:
            if group:
                errs += [invalid(f"{path}.apiVersion", group, msg) for msg in names.is_dns1123_subdomain(group)]
            errs += [invalid(f"{path}.apiVersion", version, msg) for msg in names.is_dns1035_label(version)]
    return errs


def _variables(variables: Any, path: str) -> Errors:
    errs: Errors = []
    seen = set()
    for i, variable in enumerate(_list(variables)):
        variable = _dict(variable)
        name = text(variable.get("name"))
        if not name:
            errs.append(required(f"{path}[{i}].name", ""))
        elif not _CEL_IDENTIFIER.fullmatch(name) or name in celnames.RESERVED:
            errs.append(invalid(f"{path}[{i}].name", name, "name is not a valid CEL identifier"))
        elif name in seen:
            errs.append(duplicate(f"{path}[{i}].name", name))
        seen.add(name)
        errs += _expression(variable.get("expression"), f"{path}[{i}].expression")
    return errs


def _validations(validations: Any, path: str) -> Errors:
    errs: Errors = []
    for i, validation in enumerate(_list(validations)):
        validation = _dict(validation)
        at = f"{path}[{i}]"
        expression = text(validation.get("expression"))
        errs += _expression(expression, f"{at}.expression")
        message = text(validation.get("message"))
        if "\n" in message:
            errs.append(invalid(f"{at}.message", message, "message must not contain line breaks"))
        elif "\n" in expression.strip() and not message.strip():
            errs.append(required(f"{at}.message", "message must be specified if expression contains line breaks"))
        if validation.get("messageExpression"):
            errs += _expression(validation["messageExpression"], f"{at}.messageExpression",
                                prefix="messageExpression compilation failed")
        reason = validation.get("reason")
        if reason is not None and reason not in VALIDATION_REASONS:
            errs.append(not_supported(f"{at}.reason", reason, VALIDATION_REASONS))
    return errs


def _audit_annotations(annotations: Any, path: str) -> Errors:
    errs: Errors = []
    seen = set()
    for i, annotation in enumerate(_list(annotations)):
        annotation = _dict(annotation)
        at = f"{path}[{i}]"
        key = text(annotation.get("key"))
        if not key:
            errs.append(required(f"{at}.key", ""))
        else:
            problems = names.is_qualified_name(f"policy.example.com/{key}")
            if len(key) > 63:
                problems = ["must be no more than 63 characters"]
            errs += [invalid(f"{at}.key", key, msg) for msg in problems]
            if key in seen:
                errs.append(duplicate(f"{at}.key", key))
            seen.add(key)
        errs += _expression(annotation.get("valueExpression"), f"{at}.valueExpression")
    return errs


def validate_policy(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    return errs + _policy_spec(_dict(obj.get("spec")))


def _policy_spec(spec: dict) -> Errors:
    errs: Errors = []
    if spec.get("paramKind") is not None:
        errs += _param_kind(spec.get("paramKind"), "spec.paramKind")
    match = spec.get("matchConstraints")
    if match is None:
        errs.append(required("spec.matchConstraints", ""))
    else:
        errs += _match_resources(_dict(match), "spec.matchConstraints", True)
    failure_policy = spec.get("failurePolicy")
    if failure_policy is None:
        errs.append(required("spec.failurePolicy", ""))
    elif failure_policy not in FAILURE_POLICIES:
        errs.append(not_supported("spec.failurePolicy", failure_policy, FAILURE_POLICIES))
    errs += _match_conditions(spec.get("matchConditions"), "spec.matchConditions", POLICY_CONDITION_VARIABLES)
    errs += _variables(spec.get("variables"), "spec.variables")
    if not _list(spec.get("validations")) and not _list(spec.get("auditAnnotations")):
        errs.append(required("spec.validations", "validations or auditAnnotations must contain at least one item"))
    errs += _validations(spec.get("validations"), "spec.validations")
    errs += _audit_annotations(spec.get("auditAnnotations"), "spec.auditAnnotations")
    return errs


def _param_ref(ref: dict, path: str) -> Errors:
    errs: Errors = []
    name, selector = text(ref.get("name")), ref.get("selector")
    if name and selector is not None:
        errs.append(FieldError("FieldValueForbidden", path, "Forbidden: name and selector are mutually exclusive"))
    elif not name and selector is None:
        errs.append(required(path, "one of name or selector must be set"))
    if name:
        errs += [invalid(f"{path}.name", name, msg) for msg in names.is_valid_path_segment_name(name)]
    if selector is not None:
        errs += label_selector(selector, f"{path}.selector")
    namespace = text(ref.get("namespace"))
    if namespace:
        errs += [invalid(f"{path}.namespace", namespace, msg) for msg in names.is_dns1123_label(namespace)]
    action = ref.get("parameterNotFoundAction")
    if action is None:
        errs.append(required(f"{path}.parameterNotFoundAction", ""))
    elif action not in PARAMETER_NOT_FOUND_ACTIONS:
        errs.append(not_supported(f"{path}.parameterNotFoundAction", action, PARAMETER_NOT_FOUND_ACTIONS))
    return errs


def validate_binding(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    spec = _dict(obj.get("spec"))
    if not text(spec.get("policyName")):
        errs.append(required("spec.policyName", ""))
    if spec.get("paramRef") is not None:
        errs += _param_ref(_dict(spec.get("paramRef")), "spec.paramRef")
    if spec.get("matchResources") is not None:
        errs += _match_resources(_dict(spec.get("matchResources")), "spec.matchResources", False)
    actions = _list(spec.get("validationActions"))
    if not actions:
        errs.append(required("spec.validationActions", "at least one validation action is required"))
    seen = set()
    for i, action in enumerate(actions):
        if action not in VALIDATION_ACTIONS:
            errs.append(not_supported(f"spec.validationActions[{i}]", action, VALIDATION_ACTIONS))
        elif action in seen:
            errs.append(duplicate(f"spec.validationActions[{i}]", action))
        seen.add(action)
    if "Deny" in seen and "Warn" in seen:
        # the typed slice prints with %#v; the wording is upstream's, as clients may match it
        rendered = "[]admissionregistration.ValidationAction{" + ", ".join(go_quote(a) for a in actions) + "}"
        errs.append(invalid_go("spec.validationActions", rendered, "must not contain both Deny and Warn (repeating "
                               "the same validation failure information in the API response and headers serves "
                               "no purpose)"))
    return errs


GROUP = "admissionregistration.k8s.io"
CREATE = {(GROUP, "MutatingWebhookConfiguration"): validate_mutating,
          (GROUP, "ValidatingWebhookConfiguration"): validate_validating,
          (GROUP, "ValidatingAdmissionPolicy"): validate_policy,
          (GROUP, "ValidatingAdmissionPolicyBinding"): validate_binding}
UPDATE = {key: _update(validate) for key, validate in CREATE.items()}
