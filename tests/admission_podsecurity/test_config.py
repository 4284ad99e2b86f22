"""Namespace label parsing and the PodSecurityConfiguration the plugin is built with."""

from __future__ import annotations

import pytest

from kapiserver.admission.podsecurity import load
from kapiserver.admission.podsecurity.api import LevelVersion, Policy, policy_to_evaluate

DEFAULTS = Policy(LevelVersion("baseline", 25), LevelVersion("baseline"), LevelVersion("restricted"))


def test_unlabeled_namespace_gets_the_defaults():
    """No pod-security labels: the configured defaults, and no errors."""
    assert policy_to_evaluate({}, DEFAULTS) == (DEFAULTS, [])
    assert policy_to_evaluate(None, DEFAULTS) == (DEFAULTS, [])


def test_labels_override_level_and_version_per_mode():
    """A level label keeps the default version and a version label the default level."""
    policy, problems = policy_to_evaluate({"pod-security.kubernetes.io/enforce": "restricted",
                                           "pod-security.kubernetes.io/audit-version": "v1.24",
                                           "other": "x"}, DEFAULTS)
    assert problems == []
    assert policy == Policy(LevelVersion("restricted", 25), LevelVersion("baseline", 24), LevelVersion("restricted"))
    assert str(policy.enforce) == "restricted:v1.25" and str(policy.warn) == "restricted:latest"


def test_bad_labels_fail_closed_for_enforce_and_open_for_audit_and_warn():
    """An invalid enforce level reads as restricted, invalid audit/warn levels as privileged, bad versions as latest."""
    policy, problems = policy_to_evaluate({"pod-security.kubernetes.io/enforce": "strict",
                                           "pod-security.kubernetes.io/enforce-version": "1.25",
                                           "pod-security.kubernetes.io/warn": "Baseline"}, DEFAULTS)
    assert policy.enforce == LevelVersion("restricted") and policy.warn.level == "privileged"
    assert [str(p) for p in problems] == [
        'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": '
        "must be one of privileged, baseline, restricted",
        'metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "1.25": '
        'must be "latest" or "v1.x"',
        'metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "Baseline": '
        "must be one of privileged, baseline, restricted"]


@pytest.mark.parametrize("text", ["v1.01", "v2.0", "v1.", "latest ", "V1.2"])
def test_version_labels_must_be_latest_or_v1_minor(text):
    """Versions are exactly "latest" or "v1.N" with no leading zero."""
    _, problems = policy_to_evaluate({"pod-security.kubernetes.io/warn-version": text}, DEFAULTS)
    assert len(problems) == 1


def test_no_configuration_is_everything_privileged():
    """Without a configuration every mode is privileged:latest and nothing is exempt."""
    config = load(None)
    assert config.defaults.fully_privileged() and config.defaults.enforce == LevelVersion("privileged")
    assert not (config.namespaces or config.usernames or config.runtime_classes)


def test_configuration_sets_defaults_and_exemptions():
    """A v1 PodSecurityConfiguration gives the defaults and the exemptions; unset modes stay privileged:latest."""
    config = load({"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
                   "defaults": {"enforce": "baseline", "enforce-version": "v1.30", "warn": "restricted"},
                   "exemptions": {"usernames": ["admin"], "runtimeClasses": ["kata"],
                                  "namespaces": ["kube-system"]}})
    assert config.defaults == Policy(LevelVersion("baseline", 30), LevelVersion("privileged"),
                                     LevelVersion("restricted"))
    assert config.usernames == {"admin"} and config.runtime_classes == {"kata"}
    assert config.namespaces == {"kube-system"}


def test_invalid_configuration_names_every_problem():
    """Bad levels, versions and exemptions raise one ValueError listing each, in upstream's field terms."""
    with pytest.raises(ValueError) as raised:
        load({"apiVersion": "pod-security.admission.config.k8s.io/v1beta1", "kind": "PodSecurityConfiguration",
              "defaults": {"enforce": "strict", "audit-version": "1.2"},
              "exemptions": {"namespaces": ["Bad_NS", "ok", "ok"], "usernames": [""]}})
    message = str(raised.value)
    assert message.startswith("PodSecurity invalid: ")
    assert 'defaults.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted' in message
    assert 'defaults.audit-version: Invalid value: "1.2": must be "latest" or "v1.x"' in message
    assert 'exemptions.namespaces[0]: Invalid value: "Bad_NS": a lowercase RFC 1123 label' in message
    assert 'exemptions.namespaces[2]: Duplicate value: "ok"' in message
    assert "exemptions.usernames[0]: Required value" in message


def test_wrong_kind_is_refused():
    """Only a PodSecurityConfiguration of the admission config group is accepted."""
    with pytest.raises(ValueError, match="PodSecurityConfiguration"):
        load({"apiVersion": "v1", "kind": "ConfigMap"})


def test_enforce_label_raises_an_unlabeled_warn_level():
    """An enforce label stricter than the warn default also sets warn (level and version) when warn is unlabeled."""
    privileged = Policy()
    policy, _ = policy_to_evaluate({"pod-security.kubernetes.io/enforce": "baseline",
                                    "pod-security.kubernetes.io/enforce-version": "v1.28"}, privileged)
    assert policy.warn == LevelVersion("baseline", 28) and policy.audit == LevelVersion("privileged")
    policy, _ = policy_to_evaluate({"pod-security.kubernetes.io/enforce": "restricted",
                                    "pod-security.kubernetes.io/warn-version": "v1.30"}, privileged)
    assert policy.warn == LevelVersion("restricted", 30)
    policy, _ = policy_to_evaluate({"pod-security.kubernetes.io/enforce": "restricted",
                                    "pod-security.kubernetes.io/warn": "privileged"}, privileged)
    assert policy.warn == LevelVersion("privileged")
