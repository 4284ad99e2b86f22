"""Validation of admissionregistration.k8s.io/v1 MutatingWebhookConfiguration and
ValidatingWebhookConfiguration, as upstream's ValidateMutatingWebhookConfiguration and
ValidateValidatingWebhookConfiguration: each webhook's name, rules, policies, client config,
admission review versions, selectors and match conditions (which must compile as CEL, to a bool); and of
ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding: match constraints, match conditions,
variables, validations, audit annotations and paramKind (every expression must compile, to the type its field
takes), a binding's policy name, paramRef and validation actions.  The checks and their order are upstream's
(pkg/apis/admissionregistration/validation), so a 422 lists its causes as kube-apiserver does."""

from __future__ import annotations

import re
from typing import Any, Optional
from urllib.parse import urlsplit

from ...machinery.errors import FieldError
from ...machinery.gojson import go_quote
from . import meta as _meta
from ...machinery import celnames, names
from ...machinery.celcheck import LITERAL_TYPES
from ._util import (Errors, as_dict, duplicate, forbidden, invalid, invalid_go, is_int, label_selector, not_supported,
                    qualified_name, required, seq, supported_once, text)

OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
SCOPES = ("*", "Cluster", "Namespaced")
FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
SIDE_EFFECTS = ("None", "NoneOnDryRun")
ALL_SIDE_EFFECTS = ("None", "NoneOnDryRun", "Some", "Unknown")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
REVIEW_VERSIONS = ("v1", "v1beta1")
MAX_MATCH_CONDITIONS = 64
# The variables a match condition may use, as upstream declares them.
MATCH_CONDITION_VARIABLES = frozenset({"object", "oldObject", "request", "authorizer"})
# The variables a ValidatingAdmissionPolicy's expressions may use (its matchConditions: all but variables).
POLICY_VARIABLES = frozenset({"object", "oldObject", "request", "params", "namespaceObject", "authorizer",
                              "variables"})
POLICY_CONDITION_VARIABLES = POLICY_VARIABLES - {"variables"}
VALIDATION_REASONS = ("Forbidden", "Invalid", "RequestEntityTooLarge")
VALIDATION_ACTIONS = ("Audit", "Deny", "Warn")
# upstream lists these two in this order
PARAMETER_NOT_FOUND_ACTIONS = ("Deny", "Allow")
MAX_AUDIT_ANNOTATIONS = 20
MAX_VALUE_EXPRESSION_LENGTH = 5 * 1024


def _go_slice(values: list, element: str = "string") -> str:
    """%#v of a typed string slice: ``[]string{"a", "b"}``, ``[]admissionregistration.OperationType{"*"}``."""
    return f"[]{element}{{" + ", ".join(go_quote(text(v)) for v in values) + "}"


def _fully_qualified(name: str, path: str) -> Errors:
    if not name:
        return [required(path, "")]
    errs = [invalid(path, name, msg) for msg in names.is_dns1123_subdomain(name)]
    if not errs and len(name.split(".")) < 3:
        errs.append(invalid(path, name, "should be a domain with at least three segments separated by dots"))
    return errs


# -- CEL: what each expression may use and must evaluate to ----------------------------------------------

def _object(name: str, properties: dict) -> dict:
    return {"type": "object", "properties": properties, "x-cel-type": name}


_STRING, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_TIMESTAMP = {"type": "string", "format": "date-time", "x-cel-type": "google.protobuf.Timestamp"}
_STRINGS = {"type": "array", "items": _STRING}
_GVK = _object("kubernetes.GroupVersionKind", {"group": _STRING, "version": _STRING, "kind": _STRING})
_GVR = _object("kubernetes.GroupVersionResource", {"group": _STRING, "version": _STRING, "resource": _STRING})
# The declared types of ``request`` and ``namespaceObject`` (upstream's BuildRequestType, BuildNamespaceType);
# object, oldObject and params are dyn.
REQUEST_SCHEMA = _object("kubernetes.AdmissionRequest", {
    "kind": _GVK, "resource": _GVR, "subResource": _STRING, "requestKind": _GVK, "requestResource": _GVR,
    "requestSubResource": _STRING, "name": _STRING, "namespace": _STRING, "operation": _STRING,
    "userInfo": _object("kubernetes.UserInfo", {"username": _STRING, "uid": _STRING, "groups": _STRINGS,
                         "extra": {"type": "object", "additionalProperties": _STRINGS}}),
    "dryRun": _BOOL, "options": {"x-cel-type": "dyn"}})
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}
_NAMESPACE_METADATA = _object("kubernetes.NamespaceMetadata", {
    "name": _STRING, "generateName": _STRING, "namespace": _STRING, "labels": _STRING_MAP,
    "annotations": _STRING_MAP, "UID": _STRING, "creationTimestamp": _TIMESTAMP, "deletionGracePeriodSeconds": _INT,
    "deletionTimestamp": _TIMESTAMP, "generation": _INT, "resourceVersion": _STRING, "finalizers": _STRINGS})
_NAMESPACE_CONDITION = _object("kubernetes.NamespaceCondition", {
    "status": _STRING, "type": _STRING, "lastTransitionTime": _TIMESTAMP, "message": _STRING, "reason": _STRING})
NAMESPACE_SCHEMA = _object("kubernetes.Namespace", {
    "metadata": _NAMESPACE_METADATA,
    "spec": _object("kubernetes.NamespaceSpec", {"finalizers": _STRINGS}),
    "status": _object("kubernetes.NamespaceStatus", {"conditions": {"type": "array", "items": _NAMESPACE_CONDITION},
                                                     "phase": _STRING})})
_DYN_VARIABLES = ("object", "oldObject", "params")


class _Declared:
    """A declared CEL object type for celcheck.type_check (the interface of its RuleSchema): fields by their
    plain names (no CRD property escaping), an undeclared one an ``undefined field``."""

    __slots__ = ("schema",)

    def __init__(self, schema: dict):
        self.schema = schema

    @property
    def type(self) -> Optional[str]:
        return self.schema.get("type")

    @property
    def format(self) -> Optional[str]:
        return self.schema.get("format")

    int_or_string = False

    def child(self, name: str) -> "Optional[_Declared]":
        sub = (self.schema.get("properties") or {}).get(name)
        if sub is None and isinstance(self.schema.get("additionalProperties"), dict):
            sub = self.schema["additionalProperties"]
        return _Declared(sub) if isinstance(sub, dict) and sub.get("type") else None

    def declares(self, name: str) -> bool:
        return self.schema.get("type") != "object" or name in (self.schema.get("properties") or {}) or \
            "additionalProperties" in self.schema

    def items(self) -> "Optional[_Declared]":
        items = self.schema.get("items")
        return _Declared(items) if isinstance(items, dict) else None

    def values(self) -> "Optional[_Declared]":
        values = self.schema.get("additionalProperties")
        return _Declared(values) if isinstance(values, dict) else None


BOOL = ("bool",)
STRING = ("string",)
STRING_OR_NULL = ("string", "null_type")

_STOPS = ("ident", "literal", "list_lit", "map_lit", "member_dot", "member_index")


def _unwrapped(node):
    from lark import Tree
    while isinstance(node, Tree) and len(node.children) == 1 and node.data not in _STOPS:
        node = node.children[0]
    return node


def _is_dyn(node) -> bool:
    """Whether ``node`` is a field selection or an index down from object, oldObject or params (dyn in cel-go)."""
    from lark import Tree
    node = _unwrapped(node)
    while isinstance(node, Tree) and node.data in ("member_dot", "member_index"):
        node = _unwrapped(node.children[0])
    return isinstance(node, Tree) and node.data == "ident" and str(node.children[0]) in _DYN_VARIABLES


def _literal_type(node) -> Optional[str]:
    from lark import Tree
    node = _unwrapped(node)
    if isinstance(node, Tree) and node.data == "literal":
        return LITERAL_TYPES.get(getattr(node.children[0], "type", ""))
    return None


def _type_name(schema: dict) -> str:
    """cel-go's name of a declared type."""
    if "x-cel-type" in schema:
        return schema["x-cel-type"]
    if schema.get("type") == "array":
        return f"list({_type_name(schema.get('items') or {})})"
    if schema.get("type") == "object":
        return f"map(string, {_type_name(schema.get('additionalProperties') or {})})"
    return {"string": "string", "integer": "int", "boolean": "bool"}.get(schema.get("type"), "dyn")


def _selection_type(tree, typed: dict) -> Optional[str]:
    """The declared type of a field selection down from request or namespaceObject (``request.userInfo.groups``)."""
    from lark import Tree
    node, fields = _unwrapped(tree), []
    while isinstance(node, Tree) and node.data == "member_dot":
        fields.insert(0, str(node.children[1]))
        node = _unwrapped(node.children[0])
    if not (isinstance(node, Tree) and node.data == "ident" and str(node.children[0]) in typed):
        return None
    schema = typed[str(node.children[0])].schema
    for name in fields:
        if schema.get("x-cel-type") == "dyn":
            return "dyn"
        schema = (schema.get("properties") or {}).get(name) or schema.get("additionalProperties")
        if not isinstance(schema, dict):
            return None
    return _type_name(schema)


def _collection_type(tree, kind: str) -> str:
    """cel-go's name of a list or map result: its element types where every element is a literal of one type."""
    from lark import Tree
    node = _unwrapped(tree)
    elements: list = []
    if isinstance(node, Tree) and node.data in ("list_lit", "map_lit") and node.children:
        inits = node.children[0]
        elements = list(inits.children) if isinstance(inits, Tree) else []
    if kind == "list":
        types = {_literal_type(e) for e in elements}
        return f"list({types.pop() if len(types) == 1 and None not in types else 'dyn'})"
    keys = {_literal_type(e) for e in elements[0::2]}
    values = {_literal_type(e) for e in elements[1::2]}
    key = keys.pop() if len(keys) == 1 and None not in keys else "dyn"
    value = values.pop() if len(values) == 1 and None not in values else "dyn"
    return f"map({key}, {value})"


def _compile(source: str, path: str, declared: frozenset, returns: tuple = (), shown: Optional[str] = None) -> Errors:
    """Compile ``source`` with the variables ``declared`` as upstream's plugin/cel compiler does: a compile error,
    or a type error its checker finds, is ``compilation failed: ...``; a result of another type than ``returns``
    allows is ``must evaluate to <type> but got <type>`` (upstream's ReturnTypes check).  ``shown``: the value the
    error quotes, when not ``source``."""
    from ...machinery import cel, celcheck
    value = source if shown is None else shown
    try:
        program = cel.compile_expression(source, declared)
    except cel.CompileError as e:
        return [invalid(path, value, str(e))]
    typed = {name: _Declared(schema) for name, schema in
             (("request", REQUEST_SCHEMA), ("namespaceObject", NAMESPACE_SCHEMA)) if name in declared}
    found, result = celcheck.type_check(program, typed)
    if found:
        return [invalid(path, value, "compilation failed: " + "\n".join(found))]
    if not returns:
        return []
    if result is None:
        result = "dyn" if _is_dyn(program.tree) else _selection_type(program.tree, typed)
    if result in ("list", "map"):
        result = _selection_type(program.tree, typed) or _collection_type(program.tree, result)
    if result is None or result in returns:
        return []
    wanted = returns[0] if len(returns) == 1 else "one of [" + " ".join(returns) + "]"
    return [invalid(path, value, f"must evaluate to {wanted} but got {result}")]


def match_condition_errors(expression: str, path: str, variables: frozenset = MATCH_CONDITION_VARIABLES) -> Errors:
    """The errors of one match condition's expression (it must compile, to a bool), if any."""
    return _compile(expression, path, variables, BOOL)


# -- webhook configurations ------------------------------------------------------------------------------

def _has_wildcard(values: list) -> bool:
    return "*" in values


def _resources(resources: list, path: str) -> Errors:
    """validateResources: "x/*" and "*/x" exclude what they cover, "*/*" and "*" other resources."""
    errs: Errors = []
    if not resources:
        errs.append(required(path, ""))
    wildcard_subresources, wildcard_resources = set(), set()
    double_wildcard = single_wildcard = without_subresource = False
    for i, entry in enumerate(resources):
        entry = text(entry)
        if not entry:
            errs.append(required(f"{path}[{i}]", ""))
            continue
        double_wildcard = double_wildcard or entry == "*/*"
        single_wildcard = single_wildcard or entry == "*"
        if "/" not in entry:
            # upstream keeps what the last entry without a subresource says
            without_subresource = entry != "*"
            continue
        resource, subresource = entry.split("/", 1)
        if resource in wildcard_subresources:
            errs.append(invalid(f"{path}[{i}]", entry, f"if '{resource}/*' is present, must not specify {entry}"))
        if subresource in wildcard_resources:
            errs.append(invalid(f"{path}[{i}]", entry, f"if '*/{subresource}' is present, must not specify {entry}"))
        if subresource == "*":
            wildcard_subresources.add(resource)
        if resource == "*":
            wildcard_resources.add(subresource)
    if len(resources) > 1 and double_wildcard:
        errs.append(invalid_go(path, _go_slice(resources), "if '*/*' is present, must not specify other resources"))
    if single_wildcard and without_subresource:
        errs.append(invalid_go(path, _go_slice(resources),
                               "if '*' is present, must not specify other resources without subresources"))
    return errs


def _rule(rule: dict, path: str) -> Errors:
    """validateRuleWithOperations (and validateRule within it)."""
    errs: Errors = []
    operations = seq(rule.get("operations"))
    if not operations:
        errs.append(required(f"{path}.operations", ""))
    if len(operations) > 1 and _has_wildcard(operations):
        errs.append(invalid_go(f"{path}.operations", _go_slice(operations, "admissionregistration.OperationType"),
                               "if '*' is present, must not specify other operations"))
    for i, operation in enumerate(operations):
        if operation not in OPERATIONS:
            errs.append(not_supported(f"{path}.operations[{i}]", operation, OPERATIONS))
    groups = seq(rule.get("apiGroups"))
    if not groups:
        errs.append(required(f"{path}.apiGroups", ""))
    if len(groups) > 1 and _has_wildcard(groups):
        errs.append(invalid_go(f"{path}.apiGroups", _go_slice(groups),
                               "if '*' is present, must not specify other API groups"))
    versions = seq(rule.get("apiVersions"))
    if not versions:
        errs.append(required(f"{path}.apiVersions", ""))
    if len(versions) > 1 and _has_wildcard(versions):
        errs.append(invalid_go(f"{path}.apiVersions", _go_slice(versions),
                               "if '*' is present, must not specify other API versions"))
    for i, version in enumerate(versions):
        if not version:
            errs.append(required(f"{path}.apiVersions[{i}]", ""))
    errs += _resources(seq(rule.get("resources")), f"{path}.resources")
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
    service = as_dict(service)
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


def _review_versions(versions: Any, path: str, require_recognized: bool = True) -> Errors:
    """validateAdmissionReviewVersions."""
    versions = seq(versions)
    if not versions:
        return [required(path, f"must specify one of {', '.join(REVIEW_VERSIONS)}")]
    errs: Errors = []
    seen = set()
    for i, version in enumerate(versions):
        if version in seen:
            errs.append(invalid(f"{path}[{i}]", version, "duplicate version"))
            continue
        seen.add(version)
        errs += [invalid(f"{path}[{i}]", version, msg) for msg in names.is_dns1035_label(text(version))]
    if require_recognized and not any(v in REVIEW_VERSIONS for v in versions):
        errs.append(invalid_go(path, _go_slice(versions), f"must include at least one of {', '.join(REVIEW_VERSIONS)}"))
    return errs


def _match_conditions(conditions: Any, path: str, variables: frozenset = MATCH_CONDITION_VARIABLES) -> Errors:
    """validateMatchConditions: at most 64, each with a unique qualified name and an expression that compiles to
    a bool."""
    conditions = seq(conditions)
    errs: Errors = []
    if len(conditions) > MAX_MATCH_CONDITIONS:
        errs.append(FieldError("FieldValueTooMany", path,
                               f"Too many: {len(conditions)}: must have at most {MAX_MATCH_CONDITIONS} items"))
    seen = set()
    for i, condition in enumerate(conditions):
        condition = as_dict(condition)
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


class _Options:
    """What an update relaxes when the old object already had it (upstream's validationOptions)."""

    def __init__(self, old: Optional[dict] = None, new: Optional[dict] = None):
        old_hooks = [as_dict(h) for h in seq(as_dict(old).get("webhooks"))] if old is not None else None
        new_hooks = [as_dict(h) for h in seq(as_dict(new).get("webhooks"))]
        if old_hooks is None:
            self.ignore_match_conditions = False
            self.require_no_side_effects = self.require_recognized_versions = self.require_unique_names = True
            return
        self.ignore_match_conditions = len(old_hooks) == len(new_hooks) and all(
            o.get("matchConditions") == n.get("matchConditions") for o, n in zip(old_hooks, new_hooks))
        self.require_no_side_effects = all(h.get("sideEffects") in SIDE_EFFECTS for h in old_hooks)
        self.require_recognized_versions = all(
            not seq(h.get("admissionReviewVersions")) or any(v in REVIEW_VERSIONS for v in
                                                              seq(h.get("admissionReviewVersions")))
            for h in old_hooks)
        hook_names = [h.get("name") for h in old_hooks]
        self.require_unique_names = len(hook_names) == len(set(map(str, hook_names)))


def _webhook(hook: dict, path: str, mutating: bool, options: _Options) -> Errors:
    """validateMutatingWebhook / validateValidatingWebhook, in their order."""
    errs = _fully_qualified(text(hook.get("name")), f"{path}.name")
    for i, rule in enumerate(seq(hook.get("rules"))):
        errs += _rule(as_dict(rule), f"{path}.rules[{i}]")
    for key, allowed in (("failurePolicy", FAILURE_POLICIES), ("matchPolicy", MATCH_POLICIES)):
        value = hook.get(key)
        if value is not None and value not in allowed:
            errs.append(not_supported(f"{path}.{key}", value, allowed))
    side_effects = hook.get("sideEffects")
    allowed_side_effects = SIDE_EFFECTS if options.require_no_side_effects else ALL_SIDE_EFFECTS
    if side_effects is None:
        errs.append(required(f"{path}.sideEffects", f"must specify one of {', '.join(allowed_side_effects)}"))
    elif side_effects not in allowed_side_effects:
        errs.append(not_supported(f"{path}.sideEffects", side_effects, allowed_side_effects))
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and (not is_int(timeout) or not 1 <= timeout <= 30):
        errs.append(invalid(f"{path}.timeoutSeconds", timeout, "the timeout value must be between 1 and 30 seconds"))
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is not None:
            errs += label_selector(hook.get(key), f"{path}.{key}")
    if mutating:
        value = hook.get("reinvocationPolicy")
        if value is not None and value not in REINVOCATION_POLICIES:
            errs.append(not_supported(f"{path}.reinvocationPolicy", value, REINVOCATION_POLICIES))
    errs += _client_config(as_dict(hook.get("clientConfig")), f"{path}.clientConfig")
    if not options.ignore_match_conditions:
        errs += _match_conditions(hook.get("matchConditions"), f"{path}.matchConditions")
    return errs


def _configuration(obj: dict, mutating: bool, options: _Options) -> Errors:
    errs: Errors = []
    seen = set()
    for i, hook in enumerate(seq(obj.get("webhooks"))):
        hook = as_dict(hook)
        errs += _webhook(hook, f"webhooks[{i}]", mutating, options)
        errs += _review_versions(hook.get("admissionReviewVersions"), f"webhooks[{i}].admissionReviewVersions",
                                 options.require_recognized_versions)
        name = text(hook.get("name"))
        if options.require_unique_names and name:
            if name in seen:
                errs.append(duplicate(f"webhooks[{i}].name", name))
            seen.add(name)
    return errs


def validate_mutating(obj: dict, namespaced: bool, options: Optional[_Options] = None) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain) + \
        _configuration(obj, True, options or _Options())


def validate_validating(obj: dict, namespaced: bool, options: Optional[_Options] = None) -> Errors:
    return _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain) + \
        _configuration(obj, False, options or _Options())


def _update(validate):
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
        return errs + [e for e in validate(new, namespaced, _Options(old, new)) if not e.field.startswith("metadata.")]
    return update


def _update_plain(validate):
    def update(new: dict, old: dict, namespaced: bool) -> Errors:
        errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
        return errs + [e for e in validate(new, namespaced) if not e.field.startswith("metadata.")]
    return update


# -- ValidatingAdmissionPolicy and its bindings ---------------------------------------------------

_CEL_IDENTIFIER = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_NEWLINES = re.compile(r"[\n\r]+")
# What every policy expression may use; params where the policy has a paramKind, authorizer but in a
# messageExpression, variables where the policy has any (upstream's composited compiler).
_POLICY_BASE = frozenset({"object", "oldObject", "request", "namespaceObject"})


def _declared(spec: dict, authorizer: bool = True, variables: bool = True) -> frozenset:
    declared = set(_POLICY_BASE)
    if spec.get("paramKind") is not None:
        declared.add("params")
    if authorizer:
        declared.add("authorizer")
    if variables and seq(spec.get("variables")):
        declared.add("variables")
    return frozenset(declared)


def _match_resources(match: dict, path: str) -> Errors:
    """validateMatchResources."""
    errs: Errors = []
    policy = match.get("matchPolicy")
    if policy is None:
        errs.append(required(f"{path}.matchPolicy", ""))
    elif policy not in MATCH_POLICIES:
        errs.append(not_supported(f"{path}.matchPolicy", policy, MATCH_POLICIES))
    for key in ("namespaceSelector", "objectSelector"):
        if match.get(key) is None:
            errs.append(required(f"{path}.{key}", ""))
        else:
            errs += label_selector(match.get(key), f"{path}.{key}")
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(seq(match.get(key))):
            errs += _named_rule(as_dict(rule), f"{path}.{key}[{i}]")
    return errs


def _named_rule(rule: dict, path: str) -> Errors:
    """validateNamedRuleWithOperations: resourceNames are path segments, once each; then the rule."""
    errs: Errors = []
    seen = set()
    for i, name in enumerate(seq(rule.get("resourceNames"))):
        name = text(name)
        errs += [invalid(f"{path}.resourceNames[{i}]", name, msg) for msg in names.is_valid_path_segment_name(name)]
        if name in seen:
            errs.append(duplicate(f"{path}.resourceNames[{i}]", name))
        seen.add(name)
    return errs + _rule(rule, path)


def _group_version(api_version: str) -> tuple[str, str]:
    """parseGroupVersion: ValueError past one slash."""
    if api_version in ("", "/"):
        return "", ""
    if api_version.count("/") > 1:
        raise ValueError(f"unexpected GroupVersion string: {api_version}")
    group, _, version = api_version.rpartition("/")
    return group, version


def _param_kind(kind: Any, path: str) -> Errors:
    """validateParamKind."""
    kind = as_dict(kind)
    errs: Errors = []
    api_version = text(kind.get("apiVersion"))
    field = f"{path}.apiVersion"
    if not api_version:
        errs.append(required(field, ""))
    else:
        try:
            group, version = _group_version(api_version)
        except ValueError as e:
            errs.append(invalid(field, api_version, str(e)))
        else:
            if group:
                problems = names.is_dns1123_subdomain(group)
                if problems:
                    errs.append(invalid(field, group, ",".join(problems)))
            if not version:
                errs.append(invalid(field, api_version, "version must be specified"))
            else:
                problems = names.is_dns1035_label(version)
                if problems:
                    errs.append(invalid(field, version, ",".join(problems)))
    kind_name = text(kind.get("kind"))
    if not kind_name:
        errs.append(required(f"{path}.kind", ""))
    else:
        problems = names.is_dns1035_label(kind_name.lower())
        if problems:
            errs.append(invalid(f"{path}.kind", kind_name,
                                "may have mixed case, but should otherwise match: " + ",".join(problems)))
    return errs


def _variables(spec: dict, path: str) -> Errors:
    """validateVariable for each: a CEL identifier and an expression that compiles (to anything)."""
    errs: Errors = []
    declared = _declared(spec)
    for i, variable in enumerate(seq(spec.get("variables"))):
        variable = as_dict(variable)
        name = text(variable.get("name"))
        if not name.strip():
            errs.append(required(f"{path}[{i}].name", "name is not specified"))
        elif not _CEL_IDENTIFIER.fullmatch(name) or name in celnames.RESERVED:
            errs.append(invalid(f"{path}[{i}].name", name, "name is not a valid CEL identifier"))
        expression = text(variable.get("expression"))
        if not expression.strip():
            errs.append(required(f"{path}[{i}].expression", "expression is not specified"))
        else:
            errs += _compile(expression, f"{path}[{i}].expression", declared)
    return errs


def _validation(validation: dict, spec: dict, at: str) -> Errors:
    """validateValidation: the expression (a bool), the messageExpression (a string), message and reason."""
    errs: Errors = []
    expression = text(validation.get("expression"))
    if not expression.strip():
        errs.append(required(f"{at}.expression", "expression is not specified"))
    else:
        errs += _compile(expression, f"{at}.expression", _declared(spec), BOOL)
    message_expression = text(validation.get("messageExpression"))
    if message_expression and not message_expression.strip():
        errs.append(invalid(f"{at}.messageExpression", message_expression, "must be non-empty if specified"))
    elif message_expression.strip():
        errs += _compile(message_expression, f"{at}.messageExpression", _declared(spec, authorizer=False), STRING)
    message = text(validation.get("message"))
    if message and not message.strip():
        errs.append(invalid(f"{at}.message", message, "message must be non-empty if specified"))
    elif _NEWLINES.search(message.strip()):
        errs.append(invalid(f"{at}.message", message, "message must not contain line breaks"))
    reason = validation.get("reason")
    if reason is not None and reason not in VALIDATION_REASONS:
        errs.append(not_supported(f"{at}.reason", reason, VALIDATION_REASONS))
    return errs


def _go_audit_annotations(annotations: list) -> str:
    return "[]admissionregistration.AuditAnnotation{" + ", ".join(
        f"admissionregistration.AuditAnnotation{{Key:{go_quote(text(a.get('key')))}, "
        f"ValueExpression:{go_quote(text(a.get('valueExpression')))}}}" for a in map(as_dict, annotations)) + "}"


def _audit_annotation(annotation: dict, spec: dict, policy_name: str, at: str) -> Errors:
    """validateAuditAnnotation: "<policy name>/<key>" a qualified name, a valueExpression that compiles to a
    string or null."""
    errs: Errors = []
    key = text(annotation.get("key"))
    if policy_name:
        errs += qualified_name(f"{policy_name}/{key}", f"{at}.key")
    else:
        errs.append(invalid(f"{at}.key", key, "requires metadata.name be non-empty"))
    value_expression = text(annotation.get("valueExpression"))
    trimmed = value_expression.strip()
    if not trimmed:
        errs.append(required(f"{at}.valueExpression", "valueExpression is not specified"))
    elif len(trimmed.encode()) > MAX_VALUE_EXPRESSION_LENGTH:
        errs.append(required(f"{at}.valueExpression", f"must not exceed {MAX_VALUE_EXPRESSION_LENGTH} bytes in length"))
    else:
        errs += _compile(trimmed, f"{at}.valueExpression", _declared(spec), STRING_OR_NULL, shown=value_expression)
    return errs


def validate_policy(obj: dict, namespaced: bool, ignore_match_conditions: bool = False) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    name = text(as_dict(obj.get("metadata")).get("name"))
    return errs + _policy_spec(as_dict(obj.get("spec")), name, ignore_match_conditions)


def _policy_spec(spec: dict, policy_name: str = "", ignore_match_conditions: bool = False) -> Errors:
    """validateValidatingAdmissionPolicySpec, in its order."""
    errs: Errors = []
    failure_policy = spec.get("failurePolicy")
    if failure_policy is None:
        errs.append(required("spec.failurePolicy", ""))
    elif failure_policy not in FAILURE_POLICIES:
        errs.append(not_supported("spec.failurePolicy", failure_policy, FAILURE_POLICIES))
    if spec.get("paramKind") is not None:
        errs += _param_kind(spec.get("paramKind"), "spec.paramKind")
    match = spec.get("matchConstraints")
    if match is None:
        errs.append(required("spec.matchConstraints", ""))
    else:
        errs += _match_resources(as_dict(match), "spec.matchConstraints")
        if not seq(as_dict(match).get("resourceRules")):
            errs.append(required("spec.matchConstraints.resourceRules", ""))
    if not ignore_match_conditions:
        errs += _match_conditions(spec.get("matchConditions"), "spec.matchConditions",
                                  _declared(spec, variables=False))
    errs += _variables(spec, "spec.variables")
    validations, annotations = seq(spec.get("validations")), seq(spec.get("auditAnnotations"))
    if not validations and not annotations:
        for key in ("validations", "auditAnnotations"):
            errs.append(required(f"spec.{key}", "validations or auditAnnotations must contain at least one item"))
        return errs
    for i, validation in enumerate(validations):
        errs += _validation(as_dict(validation), spec, f"spec.validations[{i}]")
    if len(annotations) > MAX_AUDIT_ANNOTATIONS:
        errs.append(invalid_go("spec.auditAnnotations", _go_audit_annotations(annotations),
                               f"must not have more than {MAX_AUDIT_ANNOTATIONS} auditAnnotations"))
    seen = set()
    for i, annotation in enumerate(annotations):
        annotation = as_dict(annotation)
        errs += _audit_annotation(annotation, spec, policy_name, f"spec.auditAnnotations[{i}]")
        key = text(annotation.get("key"))
        if key in seen:
            errs.append(duplicate(f"spec.auditAnnotations[{i}].key", key))
        seen.add(key)
    return errs


def _update_policy(new: dict, old: dict, namespaced: bool) -> Errors:
    """ValidateValidatingAdmissionPolicyUpdate: match conditions are not judged again while they and the
    paramKind are unchanged."""
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    ignore = new_spec.get("paramKind") == old_spec.get("paramKind") and \
        new_spec.get("matchConditions") == old_spec.get("matchConditions")
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    return errs + [e for e in validate_policy(new, namespaced, ignore) if not e.field.startswith("metadata.")]


def _param_ref(ref: dict, path: str) -> Errors:
    """validateParamRef."""
    errs: Errors = []
    name, selector = text(ref.get("name")), ref.get("selector")
    if name:
        errs += [invalid(f"{path}.name", name, msg) for msg in names.is_valid_path_segment_name(name)]
        if selector is not None:
            errs.append(forbidden(f"{path}.name", "name and selector are mutually exclusive"))
    if selector is not None:
        errs += label_selector(selector, f"{path}.selector")
        if name:
            errs.append(forbidden(f"{path}.selector", "name and selector are mutually exclusive"))
    if not name and selector is None:
        errs.append(required(path, "one of name or selector must be specified"))
    action = ref.get("parameterNotFoundAction")
    if not action:
        errs.append(required(f"{path}.parameterNotFoundAction", ""))
    elif action not in PARAMETER_NOT_FOUND_ACTIONS:
        errs.append(not_supported(f"{path}.parameterNotFoundAction", action, PARAMETER_NOT_FOUND_ACTIONS))
    return errs


def validate_binding(obj: dict, namespaced: bool) -> Errors:
    errs = _meta.object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    policy_name = text(spec.get("policyName"))
    if not policy_name:
        errs.append(required("spec.policyName", ""))
    else:
        errs += [invalid("spec.policyName", policy_name, msg) for msg in names.is_dns1123_subdomain(policy_name)]
    if spec.get("paramRef") is not None:
        errs += _param_ref(as_dict(spec.get("paramRef")), "spec.paramRef")
    if spec.get("matchResources") is not None:
        # upstream's path has this spelling
        errs += _match_resources(as_dict(spec.get("matchResources")), "spec.matchResouces")
    actions = seq(spec.get("validationActions"))
    errs += supported_once(actions, "spec.validationActions", VALIDATION_ACTIONS)
    if "Deny" in actions and "Warn" in actions:
        # the typed slice prints with %#v; the wording is upstream's, as clients may match it
        errs.append(invalid_go("spec.validationActions", _go_slice(actions, "admissionregistration.ValidationAction"),
                               "must not contain both Deny and Warn (repeating the same validation failure "
                               "information in the API response and headers serves no purpose)"))
    if not actions:
        errs.append(required("spec.validationActions", "at least one validation action is required"))
    return errs


GROUP = "admissionregistration.k8s.io"
CREATE = {(GROUP, "MutatingWebhookConfiguration"): validate_mutating,
          (GROUP, "ValidatingWebhookConfiguration"): validate_validating,
          (GROUP, "ValidatingAdmissionPolicy"): validate_policy,
          (GROUP, "ValidatingAdmissionPolicyBinding"): validate_binding}
UPDATE = {(GROUP, "MutatingWebhookConfiguration"): _update(validate_mutating),
          (GROUP, "ValidatingWebhookConfiguration"): _update(validate_validating),
          (GROUP, "ValidatingAdmissionPolicy"): _update_policy,
          (GROUP, "ValidatingAdmissionPolicyBinding"): _update_plain(validate_binding)}
