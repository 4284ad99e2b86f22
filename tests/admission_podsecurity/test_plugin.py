"""PodSecurity against a Registry on SQLite: enforce, warn and audit on pods, templates and namespaces."""

from __future__ import annotations

import contextvars

import pytest

from kapiserver.auth import context
from kapiserver.auth.user import UserInfo
from kapiserver.machinery.errors import StatusError

from .conftest import admit_with, namespace, pod, restricted_pod, run

BARE_POD_VIOLATIONS = (
    'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), '
    'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
    'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
    'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
    '"Localhost")')


def as_user(name: str, action):
    """Run ``action`` as a request of user ``name`` (in a copy of the context, so the user does not leak)."""
    def acting():
        context.set_user(UserInfo(name))
        return action()
    return contextvars.copy_context().run(acting)


def pods(registry):
    return registry.store("", "v1", "pods")


def create_pod(registry, obj):
    return run(pods(registry).create(obj["metadata"]["namespace"], obj))


def refusal(registry, obj) -> StatusError:
    with pytest.raises(StatusError) as raised:
        create_pod(registry, obj)
    return raised.value


def test_enforce_refuses_a_violating_pod_with_upstreams_status(registry, request_record):
    """enforce=restricted refuses a bare pod: 403 Forbidden naming every violation, and no warnings."""
    admit_with(registry)
    namespace(registry, "ns", enforce="restricted")
    error = refusal(registry, pod("x"))
    assert (error.code, error.reason) == (403, "Forbidden")
    assert error.message == f'pods "x" is forbidden: violates PodSecurity "restricted:latest": {BARE_POD_VIOLATIONS}'
    assert error.details == {"name": "x", "kind": "pods"}
    assert request_record.warnings() == []
    assert request_record.kapi_audit_annotations["pod-security.kubernetes.io/enforce-policy"] == "restricted:latest"


def test_enforce_admits_a_compliant_pod(registry, request_record):
    """A pod meeting restricted is created in an enforce=restricted namespace, silently."""
    admit_with(registry)
    namespace(registry, "ns", enforce="restricted")
    assert create_pod(registry, restricted_pod("ok"))["metadata"]["name"] == "ok"
    assert request_record.warnings() == []


def test_enforce_version_pins_the_checks(registry, request_record):
    """enforce-version names the version in the message and selects that version's checks."""
    admit_with(registry)
    namespace(registry, "ns", enforce="baseline", enforce_version="v1.26")
    error = refusal(registry, pod("x", securityContext={"sysctls": [{"name": "net.ipv4.tcp_wmem", "value": "1"}]}))
    assert error.message == ('pods "x" is forbidden: violates PodSecurity "baseline:v1.26": '
                             "forbidden sysctls (net.ipv4.tcp_wmem)")


def test_warn_adds_a_warning_header_and_admits(registry, request_record):
    """warn=restricted admits a bare pod and hands back one 299 Warning with upstream's text."""
    admit_with(registry)
    namespace(registry, "ns", warn="restricted", audit="baseline")
    create_pod(registry, pod("x"))
    escaped = BARE_POD_VIOLATIONS.replace('"', '\\"')
    assert request_record.warnings() == [f'299 - "would violate PodSecurity \\"restricted:latest\\": {escaped}"']
    assert "pod-security.kubernetes.io/audit-violations" not in request_record.kapi_audit_annotations


def test_audit_records_an_annotation(registry, request_record):
    """audit=baseline records the violation as an audit annotation, with no warning and no refusal."""
    admit_with(registry)
    namespace(registry, "ns", audit="baseline")
    create_pod(registry, pod("x", hostNetwork=True))
    assert request_record.warnings() == []
    assert request_record.kapi_audit_annotations["pod-security.kubernetes.io/audit-violations"] == \
        'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)'


def test_unlabeled_namespace_uses_configured_defaults(registry, request_record):
    """A namespace without labels gets the configuration's defaults."""
    admit_with(registry, {"apiVersion": "pod-security.admission.config.k8s.io/v1",
                          "kind": "PodSecurityConfiguration", "defaults": {"enforce": "baseline"}})
    namespace(registry, "ns")
    error = refusal(registry, pod("x", hostPID=True))
    assert error.message == \
        'pods "x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID=true)'


def test_invalid_labels_on_a_pods_namespace_fail_closed(registry, request_record):
    """An unparseable enforce label on an existing namespace enforces restricted, and the error is audited."""
    admit_with(registry)
    namespace(registry, "ns")
    ns_store = registry.store("", "v1", "namespaces")

    def label(ns):
        ns["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "strict"}
        return ns
    # Written past admission: validation of namespace labels would refuse it (see test_namespace_labels_...).
    ns_store.admission = None
    run(ns_store.update(None, "ns", label))
    admit_with(registry)
    assert "restricted:latest" in refusal(registry, pod("x")).message
    assert request_record.kapi_audit_annotations["pod-security.kubernetes.io/error"].startswith(
        'Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict"')


@pytest.mark.parametrize("configuration_key,values", [("namespaces", ["ns"]), ("usernames", ["alice"]),
                                                       ("runtimeClasses", ["kata"])])
def test_exemptions_admit_violating_pods(registry, request_record, configuration_key, values):
    """An exempt namespace, user or runtime class skips enforcement; the reason is audited."""
    admit_with(registry, {"apiVersion": "pod-security.admission.config.k8s.io/v1",
                          "kind": "PodSecurityConfiguration", "exemptions": {configuration_key: values}})
    namespace(registry, "ns", enforce="restricted")
    as_user("alice", lambda: create_pod(registry, pod("x", runtimeClassName="kata", hostNetwork=True)))
    reason = {"namespaces": "namespace", "usernames": "user", "runtimeClasses": "runtimeClass"}[configuration_key]
    assert request_record.kapi_audit_annotations["pod-security.kubernetes.io/exempt"] == reason


def test_other_users_are_not_exempt(registry, request_record):
    """A username exemption covers only that user."""
    admit_with(registry, {"apiVersion": "pod-security.admission.config.k8s.io/v1",
                          "kind": "PodSecurityConfiguration", "exemptions": {"usernames": ["alice"]}})
    namespace(registry, "ns", enforce="baseline")
    assert as_user("bob", lambda: refusal(registry, pod("x", hostNetwork=True))).code == 403


def test_insignificant_pod_updates_pass_but_new_ephemeral_containers_are_checked(registry, request_record):
    """Label-only updates of a violating pod pass; adding a privileged ephemeral container is refused."""
    admit_with(registry)
    namespace(registry, "ns")
    create_pod(registry, pod("x", hostNetwork=True))
    ns_store = registry.store("", "v1", "namespaces")

    def enforce_baseline(ns):
        ns["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "baseline"}
        return ns
    run(ns_store.update(None, "ns", enforce_baseline))

    def relabel(p):
        p["metadata"]["labels"] = {"a": "b"}
        return p
    run(pods(registry).update("ns", "x", relabel))

    def debug(p):
        p["spec"]["hostNetwork"] = True
        p["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox", "terminationMessagePolicy": "File",
                                             "imagePullPolicy": "Always",
                                             "securityContext": {"privileged": True}}]
        return p
    with pytest.raises(StatusError) as raised:
        run(pods(registry).update("ns", "x", debug, subresource="ephemeralcontainers"))
    assert raised.value.message == (
        'pods "x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), '
        'privileged (container "dbg" must not set securityContext.privileged=true)')


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": "ns"},
              "spec": {"selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"hostNetwork": True,
                                             "containers": [{"name": "c", "image": "nginx"}]}}}}


def test_controller_templates_are_warned_about_never_refused(registry, request_record):
    """A Deployment whose template violates enforce=baseline is created, with a warning (warn follows enforce)."""
    admit_with(registry)
    namespace(registry, "ns", enforce="baseline")
    run(registry.store("apps", "v1", "deployments").create("ns", DEPLOYMENT))
    assert request_record.warnings() == [
        '299 - "would violate PodSecurity \\"baseline:latest\\": host namespaces (hostNetwork=true)"']


def test_cronjob_templates_are_found(registry, request_record):
    """A CronJob's template (spec.jobTemplate.spec.template) is checked against warn."""
    admit_with(registry)
    namespace(registry, "ns", warn="baseline")
    cronjob = {"metadata": {"name": "cj", "namespace": "ns"},
               "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                   "restartPolicy": "Never", "containers": [{"name": "c", "image": "x",
                                                             "securityContext": {"privileged": True}}]}}}}}}
    run(registry.store("batch", "v1", "cronjobs").create("ns", cronjob))
    assert request_record.warnings() == ['299 - "would violate PodSecurity \\"baseline:latest\\": privileged '
                                         '(container \\"c\\" must not set securityContext.privileged=true)"']


def test_namespace_labels_are_validated_on_create(registry, request_record):
    """A namespace created with an unknown level is 422 Invalid with upstream's field error."""
    admit_with(registry)
    with pytest.raises(StatusError) as raised:
        namespace(registry, "bad", enforce="strict")
    error = raised.value
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == ('Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
                             'Invalid value: "strict": must be one of privileged, baseline, restricted')
    assert error.details["causes"] == [{"reason": "FieldValueInvalid", "field":
                                        "metadata.labels[pod-security.kubernetes.io/enforce]",
                                        "message": 'Invalid value: "strict": must be one of privileged, baseline, '
                                                   "restricted"}]


def test_tightening_enforce_warns_about_existing_pods(registry, request_record):
    """Raising a namespace's enforce level warns, per distinct violation, about the pods it would now refuse."""
    admit_with(registry)
    namespace(registry, "ns")
    for name in ("b", "a", "c"):
        create_pod(registry, pod(name, hostNetwork=True))
    create_pod(registry, pod("p", containers=[{"name": "c", "image": "x", "securityContext": {"privileged": True}}]))
    create_pod(registry, restricted_pod("fine"))

    def enforce(ns):
        ns["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "baseline"}
        return ns
    run(registry.store("", "v1", "namespaces").update(None, "ns", enforce))
    assert request_record.warnings() == [
        '299 - "existing pods in namespace \\"ns\\" violate the new PodSecurity enforce level \\"baseline:latest\\""',
        '299 - "a (and 2 other pods): host namespaces"',
        '299 - "p: privileged"']


def test_relaxing_enforce_checks_no_pods(registry, request_record):
    """Lowering the enforce level (same version) warns about nothing."""
    admit_with(registry)
    namespace(registry, "ns", enforce="restricted")

    def relax(ns):
        ns["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "baseline"}
        return ns
    run(registry.store("", "v1", "namespaces").update(None, "ns", relax))
    assert request_record.warnings() == []


def test_exempt_namespace_warns_that_its_labels_are_ignored(registry, request_record):
    """Setting enforce on an exempt namespace warns that the policy will be ignored."""
    admit_with(registry, {"apiVersion": "pod-security.admission.config.k8s.io/v1",
                          "kind": "PodSecurityConfiguration", "exemptions": {"namespaces": ["ns"]}})
    namespace(registry, "ns")

    def enforce(ns):
        ns["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "restricted"}
        return ns
    run(registry.store("", "v1", "namespaces").update(None, "ns", enforce))
    assert request_record.warnings() == [
        '299 - "namespace \\"ns\\" is exempt from Pod Security, and the policy '
        '(enforce=restricted:latest) will be ignored"']


def test_unchanged_invalid_labels_do_not_block_namespace_updates(registry, request_record):
    """A namespace whose (already invalid) labels did not change can still be updated."""
    admit_with(registry)
    namespace(registry, "ns")
    ns_store = registry.store("", "v1", "namespaces")
    admission = ns_store.admission
    ns_store.admission = None

    def invalid(ns):
        ns["metadata"]["labels"] = {"pod-security.kubernetes.io/warn": "loud"}
        return ns
    run(ns_store.update(None, "ns", invalid))
    ns_store.admission = admission

    def annotate(ns):
        ns["metadata"]["annotations"] = {"owner": "me"}
        return ns
    assert run(ns_store.update(None, "ns", annotate))[0]["metadata"]["annotations"] == {"owner": "me"}
