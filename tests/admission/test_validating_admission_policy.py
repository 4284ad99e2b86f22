"""The ValidatingAdmissionPolicy plugin against a fake registry: matching, variables, validations, messages and
reasons, params (name, selector, parameterNotFoundAction), the validation actions and audit annotations."""

from __future__ import annotations

import json
import types

import pytest

from kapiserver.admission.plugins import DEFAULT_ON, ORDER
from kapiserver.admission.policies import ValidatingAdmissionPolicy
from kapiserver.auth.user import INSECURE_USER
from kapiserver.machinery.errors import StatusError
from kapiserver.registry import defaults
from kapiserver.registry.attributes import for_resource
from kapiserver.registry.catalog import Catalog
from tests.admission.conftest import drive

GROUP = "admissionregistration.k8s.io"
CATALOG = Catalog()


class _Store:
    def __init__(self, items):
        self.items = items
        self.watchers = []      # the send of each watch_events

    async def watch_events(self, namespace, options, send):
        self.watchers.append(send)
        return types.SimpleNamespace(cancel=lambda: self.watchers.remove(send))

    def written_elsewhere(self, obj):
        """``obj`` added as another process would add it: no admission here, its event through the watch."""
        self.items.append(obj)
        for send in list(self.watchers):
            send("ADDED", obj)

    async def list(self, namespace, options):
        return [o for o in self.items if namespace is None or o["metadata"].get("namespace") == namespace], "1", None

    async def get(self, namespace, name):
        for o in self.items:
            if o["metadata"]["name"] == name and (namespace is None or o["metadata"].get("namespace") == namespace):
                return o
        raise StatusError(404, "NotFound", f'"{name}" not found')


class _Registry:
    catalog = CATALOG

    def __init__(self, policies=(), bindings=(), namespaces=(), configmaps=()):
        self.stores = {"validatingadmissionpolicies": _Store(list(policies)),
                       "validatingadmissionpolicybindings": _Store(list(bindings)),
                       "namespaces": _Store(list(namespaces)), "configmaps": _Store(list(configmaps))}

    def lookup(self, group, version, resource):
        return self.stores.get(resource)

    def store(self, group, version, resource):
        return self.stores[resource]


class _Record:
    def __init__(self):
        self.warnings, self.annotations = [], {}

    def add_warning(self, text):
        self.warnings.append(text)

    def add_audit_annotation(self, key, value):
        self.annotations[key] = value


def policy(name="max-replicas", validations=None, **spec):
    obj = {"metadata": {"name": name}, "spec": dict({
        "matchConstraints": {"resourceRules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["apps"],
                                                "apiVersions": ["v1"], "resources": ["deployments"]}]},
        "validations": validations or [{"expression": "object.spec.replicas <= 5"}]}, **spec)}
    defaults.apply_defaults(GROUP, "v1", "ValidatingAdmissionPolicy", obj)
    return obj


def binding(name="b", policy_name="max-replicas", actions=("Deny",), **spec):
    obj = {"metadata": {"name": name}, "spec": dict(policyName=policy_name, validationActions=list(actions), **spec)}
    defaults.apply_defaults(GROUP, "v1", "ValidatingAdmissionPolicyBinding", obj)
    return obj


def deployment(replicas=6, name="web", namespace="default", labels=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"replicas": replicas}}


NAMESPACES = [{"metadata": {"name": "default", "labels": {"env": "test"}}},
              {"metadata": {"name": "prod", "labels": {"env": "prod"}}}]


def run(registry, obj, operation="CREATE", old=None, resource=("apps", "v1", "deployments")):
    info = CATALOG.lookup(*resource)
    record = _Record()
    attributes = for_resource(info, operation, obj, old).with_request(INSECURE_USER, record)
    drive(ValidatingAdmissionPolicy(registry).validate(attributes))
    return record


def denial(registry, obj, **kw) -> StatusError:
    with pytest.raises(StatusError) as caught:
        run(registry, obj, **kw)
    return caught.value


def test_a_binding_written_through_another_process_takes_effect_once_its_event_arrives():
    """The plugin keeps the policies and bindings it read until a watch tells of a change: a binding created
    elsewhere (another --workers worker, another apiserver), its write never admitted here, binds once its event
    has arrived; no event, no reread."""
    registry = _Registry([policy()], [], NAMESPACES)
    plugin = ValidatingAdmissionPolicy(registry)
    info = CATALOG.lookup("apps", "v1", "deployments")

    def admit(obj):
        drive(plugin.validate(for_resource(info, "CREATE", obj, None).with_request(INSECURE_USER, _Record())))
    admit(deployment(9))
    registry.stores["validatingadmissionpolicybindings"].items.append(binding())   # no event: still cached
    admit(deployment(9))
    registry.stores["validatingadmissionpolicybindings"].items.clear()
    registry.stores["validatingadmissionpolicybindings"].written_elsewhere(binding())
    with pytest.raises(StatusError) as caught:
        admit(deployment(9))
    assert caught.value.code == 422


def test_on_by_default_just_before_the_validating_webhooks():
    assert "ValidatingAdmissionPolicy" in DEFAULT_ON
    assert ORDER.index("ValidatingAdmissionPolicy") == ORDER.index("ValidatingAdmissionWebhook") - 1


def test_deny_reads_as_upstreams():
    registry = _Registry([policy()], [binding()], NAMESPACES)
    error = denial(registry, deployment(6))
    assert error.code == 422 and error.reason == "Invalid"
    assert error.message == ('deployments.apps "web" is forbidden: ValidatingAdmissionPolicy \'max-replicas\' with '
                             "binding 'b' denied request: failed expression: object.spec.replicas <= 5")
    assert error.details["causes"] == [{"message": error.message.split("is forbidden: ", 1)[1]}]
    run(registry, deployment(3))


@pytest.mark.parametrize("reason,code", [("Forbidden", 403), ("Invalid", 422), ("RequestEntityTooLarge", 413),
                                         ("Unauthorized", 401)])
def test_reason_gives_the_code(reason, code):
    registry = _Registry([policy(validations=[{"expression": "false", "message": "no", "reason": reason}])],
                         [binding()], NAMESPACES)
    error = denial(registry, deployment())
    assert (error.code, error.reason) == (code, reason) and error.message.endswith("denied request: no")


def test_message_expression_and_variables():
    registry = _Registry([policy(
        variables=[{"name": "replicas", "expression": "object.spec.replicas"},
                   {"name": "limit", "expression": "variables.replicas > 10 ? 0 : 5"}],
        validations=[{"expression": "variables.replicas <= variables.limit", "message": "static",
                      "messageExpression": "'replicas ' + string(variables.replicas) + ' over ' + "
                                           "string(variables.limit)"}])], [binding()], NAMESPACES)
    assert denial(registry, deployment(7)).message.endswith("denied request: replicas 7 over 5")


def test_rules_selectors_and_binding_match_resources():
    registry = _Registry([policy()], [binding(matchResources={"namespaceSelector": {"matchLabels": {"env": "prod"}}})],
                         NAMESPACES)
    run(registry, deployment(9))                                   # default is env=test
    denial(registry, deployment(9, namespace="prod"))
    run(registry, deployment(9), resource=("", "v1", "configmaps"))  # not a deployment
    registry = _Registry([policy(matchConstraints={"resourceRules": [
        {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}],
        "excludeResourceRules": [{"operations": ["*"], "apiGroups": ["apps"], "apiVersions": ["*"],
                                  "resources": ["deployments"], "resourceNames": ["skip-me"]}],
        "objectSelector": {"matchExpressions": [{"key": "exempt", "operator": "DoesNotExist"}]}})],
        [binding()], NAMESPACES)
    registry.stores["validatingadmissionpolicies"].items[0]["spec"]["matchConstraints"].update(
        {"namespaceSelector": {}, "matchPolicy": "Equivalent"})
    denial(registry, deployment(9))
    run(registry, deployment(9, name="skip-me"))
    run(registry, deployment(9, labels={"exempt": "yes"}))


def test_match_conditions_request_and_namespace_object():
    registry = _Registry([policy(
        matchConditions=[{"name": "only-test", "expression": "namespaceObject.metadata.labels.env == 'test'"}],
        validations=[{"expression": "request.operation != 'CREATE'"}])], [binding()], NAMESPACES)
    denial(registry, deployment(1))
    run(registry, deployment(1, namespace="prod"))


def test_evaluation_errors_follow_the_failure_policy():
    validations = [{"expression": "object.spec.missing == 1"}]
    registry = _Registry([policy(validations=validations)], [binding()], NAMESPACES)
    assert "expression 'object.spec.missing == 1' resulted in error: no such key: missing" in \
        denial(registry, deployment()).message
    run(_Registry([policy(validations=validations, failurePolicy="Ignore")], [binding()], NAMESPACES), deployment())


def test_warn_and_audit_actions():
    registry = _Registry([policy(validations=[{"expression": "object.spec.replicas <= 5", "message": "too many"}],
                                 auditAnnotations=[{"key": "replicas", "valueExpression":
                                                    "string(object.spec.replicas)"}])],
                         [binding(actions=("Warn", "Audit"))], NAMESPACES)
    record = run(registry, deployment(6))
    assert record.warnings == [("Validation failed for ValidatingAdmissionPolicy 'max-replicas' with binding 'b': "
                                "too many")]
    assert json.loads(record.annotations["validation.policy.admission.k8s.io/validation_failure"]) == [
        {"message": "too many", "policy": "max-replicas", "binding": "b", "expressionIndex": 0,
         "validationActions": ["Warn", "Audit"]}]
    assert record.annotations["max-replicas/replicas"] == "6"


def _configmap(name, namespace, labels=None, limit="5"):
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "data": {"max": limit}}


def test_params_by_name_and_by_selector():
    limited = policy(paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
                     validations=[{"expression": "object.spec.replicas <= int(params.data.max)"}])
    maps = [_configmap("limits", "default", {"tier": "a"}, "5"), _configmap("other", "default", {"tier": "b"}, "2")]
    by_name = binding(paramRef={"name": "limits", "parameterNotFoundAction": "Deny"})
    run(_Registry([limited], [by_name], NAMESPACES, maps), deployment(4))
    denial(_Registry([limited], [by_name], NAMESPACES, maps), deployment(6))
    by_selector = binding(paramRef={"selector": {}, "parameterNotFoundAction": "Deny"})
    denial(_Registry([limited], [by_selector], NAMESPACES, maps), deployment(4))    # 4 > 2 of "other"
    tier_a = binding(paramRef={"selector": {"matchLabels": {"tier": "a"}}, "parameterNotFoundAction": "Deny"})
    run(_Registry([limited], [tier_a], NAMESPACES, maps), deployment(4))


def test_missing_params():
    limited = policy(paramKind={"apiVersion": "v1", "kind": "ConfigMap"}, validations=[{"expression": "false"}])
    deny = binding(paramRef={"name": "absent", "parameterNotFoundAction": "Deny"})
    assert denial(_Registry([limited], [deny], NAMESPACES), deployment()).message.endswith(
        "denied request: failed to configure binding: no params found for policy binding with `Deny` "
        "parameterNotFoundAction")
    allow = binding(paramRef={"name": "absent", "parameterNotFoundAction": "Allow"})
    run(_Registry([limited], [allow], NAMESPACES), deployment())


def test_policies_never_check_admission_configuration():
    registry = _Registry([policy(matchConstraints={"resourceRules": [
        {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]},
        validations=[{"expression": "false"}])], [binding()], NAMESPACES)
    run(registry, policy("another"), resource=(GROUP, "v1", "validatingadmissionpolicies"))
    denial(registry, deployment())


def test_binding_to_a_missing_policy_is_ignored():
    run(_Registry([], [binding(policy_name="absent")], NAMESPACES), deployment(9))


def test_a_runaway_expression_is_stopped_by_the_cost_limits(monkeypatch):
    from kapiserver.machinery import cel
    monkeypatch.setattr(cel, "PER_CALL_LIMIT", 20_000)
    monkeypatch.setattr(cel, "RUNTIME_BUDGET", 30_000)
    hundred = "[" + ",".join(str(i) for i in range(100)) + "]"
    runaway = f"{hundred}.all(a, {hundred}.all(b, {hundred}.all(c, a + b + c >= 0)))"
    registry = _Registry([policy(validations=[{"expression": runaway}, {"expression": runaway},
                                              {"expression": "false", "message": "never reached"}])],
                         [binding()], NAMESPACES)
    message = denial(registry, deployment()).message
    assert f"expression '{runaway}' resulted in error: operation cancelled: actual cost limit exceeded" in message
    run(_Registry([policy(validations=[{"expression": runaway}], failurePolicy="Ignore")], [binding()], NAMESPACES),
        deployment())


def test_the_budget_stops_further_validations(monkeypatch):
    from kapiserver.machinery import cel
    monkeypatch.setattr(cel, "RUNTIME_BUDGET", 50)
    hundred = "[" + ",".join(str(i) for i in range(100)) + "]"
    registry = _Registry([policy(validations=[{"expression": f"{hundred}.all(a, a >= 0)"},
                                              {"expression": "false", "message": "never reached"}])],
                         [binding(actions=("Warn",))], NAMESPACES)
    warnings = run(registry, deployment()).warnings
    assert len(warnings) == 2 and "actual cost limit exceeded" in warnings[0]
    assert warnings[1].endswith("validation failed due to running out of cost budget, no further validation rules "
                                "will be run")


class _Authorizer:
    """Allows reading secrets, and the robot service account to get anything; remembers what it was asked."""

    def __init__(self):
        self.asked = []

    async def authorize(self, request):
        from kapiserver.auth.authz import ALLOW, NO_OPINION, Decision
        self.asked.append((request.user.name, request.verb, request.resource or request.path, request.namespace))
        if request.user.name == "system:serviceaccount:default:robot" and request.verb == "get":
            return Decision(ALLOW, "robot reads")
        if request.resource == "deployments" and request.verb == "scale":
            return Decision(NO_OPINION, "no scaling here")
        return Decision(ALLOW if request.resource == "secrets" else NO_OPINION, "")


def test_authorizer_checks():
    authorizer = _Authorizer()
    registry = _Registry([policy(validations=[
        {"expression": "authorizer.group('').resource('secrets').namespace('default').check('get').allowed()"},
        {"expression": "authorizer.requestResource.check('scale').allowed()",
         "messageExpression": "'cannot scale: ' + authorizer.requestResource.check('scale').reason()"},
        {"expression": "authorizer.serviceAccount('default', 'robot').path('/healthz').check('get').allowed()"}])],
        [binding(actions=("Warn",))], NAMESPACES)
    record = _Record()
    info = CATALOG.lookup("apps", "v1", "deployments")
    attributes = for_resource(info, "CREATE", deployment(), None).with_request(INSECURE_USER, record)
    drive(ValidatingAdmissionPolicy(registry, authorizer).validate(attributes))
    assert record.warnings == [("Validation failed for ValidatingAdmissionPolicy 'max-replicas' with binding 'b': "
                                "cannot scale: no scaling here")]
    assert ("system:serviceaccount:default:robot", "get", "/healthz", "") in authorizer.asked
    assert (INSECURE_USER.name, "scale", "deployments", "default") in authorizer.asked


def test_audit_lists_every_bindings_failures_in_one_annotation():
    registry = _Registry([policy()], [binding("first", actions=("Audit",)), binding("second", actions=("Audit",))],
                         NAMESPACES)
    failures = json.loads(run(registry, deployment(6)).annotations[
        "validation.policy.admission.k8s.io/validation_failure"])
    assert [f["binding"] for f in failures] == ["first", "second"]


def _hpa_v2(utilization):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 3,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": utilization}}}]}}


@pytest.mark.parametrize("match_policy", ["Equivalent", "Exact"])
def test_match_policy_equivalent_sees_the_request_in_the_matched_version(match_policy):
    v1_only = policy(matchConstraints={"matchPolicy": match_policy, "resourceRules": [
        {"operations": ["CREATE"], "apiGroups": ["autoscaling"], "apiVersions": ["v1"],
         "resources": ["horizontalpodautoscalers"]}]},
        validations=[{"expression": "object.spec.targetCPUUtilizationPercentage <= 80 && "
                                    "request.kind.version == 'v1' && request.requestKind.version == 'v2'"}])
    registry = _Registry([v1_only], [binding()], NAMESPACES)
    hpas = ("autoscaling", "v2", "horizontalpodautoscalers")
    run(registry, _hpa_v2(50), resource=hpas)
    if match_policy == "Equivalent":
        denial(registry, _hpa_v2(90), resource=hpas)
    else:
        run(registry, _hpa_v2(90), resource=hpas)


def test_the_request_variable_carries_no_objects():
    registry = _Registry([policy(validations=[
        {"expression": "!has(request.object) && !has(request.uid) && request.name == 'web' && "
                       "request.namespace == 'default' && request.userInfo.username != ''"}])], [binding()], NAMESPACES)
    run(registry, deployment())


def test_a_denial_without_a_request_name_names_the_generate_name():
    registry = _Registry([policy()], [binding()], NAMESPACES)
    unnamed = deployment(9, name="")
    unnamed["metadata"] = {"generateName": "web-", "namespace": "default"}
    error = denial(registry, unnamed)
    assert error.message.startswith('deployments.apps "web-" is forbidden: ') and error.details["name"] == "web-"


@pytest.mark.parametrize("expression,called", [
    ("authorizer.group('').resource('secrets').namespace('default').check('get').allowed()", True),
    ("authorizer.requestResource.check('scale').allowed()", False),
])
def test_webhook_match_conditions_ask_the_authorizer(expression, called):
    """A webhook's matchConditions may use `authorizer` as a policy's may: the check is answered by the
    server's authorizer, and a denied one makes the condition false (the webhook is not called)."""
    from kapiserver.admission.webhooks import AdmissionWebhooks
    hooks = AdmissionWebhooks(None)
    authorizer = _Authorizer()
    hooks.use_authorizer(authorizer)
    webhook = {"name": "w.example.com", "matchConditions": [{"name": "asks", "expression": expression}]}
    info = CATALOG.lookup("apps", "v1", "deployments")
    attributes = for_resource(info, "CREATE", deployment(), None).with_request(INSECURE_USER, _Record())
    assert drive(hooks.validating._conditions_match(webhook, attributes, {})) is called
    assert authorizer.asked
