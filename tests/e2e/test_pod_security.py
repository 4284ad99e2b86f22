"""
PodSecurity admission on a running server, as kubectl users meet it: on by default, enforce labels
refusing pods with upstream's message, warn labels and workload templates giving `Warning:` lines, and
defaults and exemptions from the PodSecurityConfiguration in --admission-control-config-file.
"""

from __future__ import annotations

import json

import pytest

from tests.conformance.support import default_service_account

from .conftest import APIServerProcess, Kubectl, kubectl_binary

ROOT_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
CONFIG = {
    "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
    "plugins": [{"name": "PodSecurity", "configuration": {
        "apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
        "defaults": {"enforce": "baseline", "enforce-version": "latest"},
        "exemptions": {"namespaces": ["tools"]}}}]}
HOST_PID_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hostpid"},
                "spec": {"hostPID": True, "containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    base = tmp_path_factory.mktemp("podsecurity")
    (base / "admission.yaml").write_text(json.dumps(CONFIG))
    server = APIServerProcess(base / "data", args=(f"--admission-control-config-file={base / 'admission.yaml'}",))
    server.start()
    yield Kubectl(binary, server, base)
    server.stop()


def test_enforce_label_refuses_with_upstream_message(kc, tmp_path):
    """A pod violating its namespace's enforce level is refused (403) naming each violated check."""
    kc("create", "namespace", "strict")
    default_service_account(kc.server, "strict")    # until then ServiceAccount admission refuses the pod first
    kc("label", "namespace", "strict", "pod-security.kubernetes.io/enforce=restricted")
    (tmp_path / "pod.json").write_text(json.dumps(ROOT_POD))
    result = kc("-n", "strict", "apply", "-f", str(tmp_path / "pod.json"), check=False)
    assert result.returncode != 0
    assert ('Error from server (Forbidden): error when creating "' in result.stderr and
            'pods "root" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
            '(container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
            '(container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
            'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must '
            'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")' in result.stderr), result.stderr


def test_warn_label_and_templates_warn_without_refusing(kc):
    """warn=restricted lets the pod in with a Warning line; a Deployment's template is only warned about."""
    kc("create", "namespace", "warned")
    default_service_account(kc.server, "warned")
    kc("label", "namespace", "warned", "pod-security.kubernetes.io/warn=restricted")
    created = kc("-n", "warned", "run", "p", "--image=busybox")
    assert 'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in created.stderr
    deployment = kc("-n", "warned", "create", "deployment", "d", "--image=busybox")
    assert "deployment.apps/d created" in deployment.stdout
    assert 'Warning: would violate PodSecurity "restricted:latest"' in deployment.stderr


def test_configured_default_and_exempt_namespace(kc, tmp_path):
    """Unlabelled namespaces get the configured baseline default; an exempt namespace admits anything."""
    (tmp_path / "hostpid.json").write_text(json.dumps(HOST_PID_POD))
    refused = kc("apply", "-f", str(tmp_path / "hostpid.json"), check=False)
    assert 'violates PodSecurity "baseline:latest": host namespaces (hostPID=true)' in refused.stderr
    kc("create", "namespace", "tools")
    default_service_account(kc.server, "tools")
    assert "pod/hostpid created" in kc("-n", "tools", "apply", "-f", str(tmp_path / "hostpid.json")).stdout


def test_invalid_enforce_label_is_refused(kc):
    """A namespace label naming no level is Invalid, in upstream's words."""
    result = kc("create", "namespace", "bogus", check=False)
    assert result.returncode == 0
    labelled = kc("label", "namespace", "bogus", "pod-security.kubernetes.io/enforce=strict", check=False)
    assert labelled.returncode != 0
    assert ('metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of '
            'privileged, baseline, restricted' in labelled.stderr), labelled.stderr
