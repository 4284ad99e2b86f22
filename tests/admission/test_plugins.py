"""The plugin table: upstream's order and upstream's defaults (less the three that need controllers kapiserver
does not run yet: opt-in here)."""

from __future__ import annotations

from kapiserver.admission.plugins import DEFAULT_ON, PLUGINS, enabled_plugins

# Upstream 1.32's default plugins, in its order, without the one kapiserver does not have
# (ClusterTrustBundleAttest).
UPSTREAM_DEFAULTS = ["NamespaceLifecycle", "LimitRanger", "ServiceAccount", "TaintNodesByCondition", "PodSecurity",
                     "Priority", "DefaultTolerationSeconds", "DefaultStorageClass", "StorageObjectInUseProtection",
                     "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
                     "CertificateSubjectRestriction", "DefaultIngressClass", "MutatingAdmissionWebhook",
                     "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook", "ResourceQuota"]


# Upstream defaults whose effect only kube-controller-manager's controllers make invisible: opt-in here.
# Upstream defaults off when the apiserver runs alone: only kube-controller-manager's node-lifecycle controller
# removes the taint TaintNodesByCondition adds (kube-cluster turns it on).
NEED_CONTROLLERS = ("TaintNodesByCondition",)


def test_defaults_are_upstreams_in_its_order():
    """With no flags the chain is upstream's default chain, in upstream's order, without TaintNodesByCondition."""
    assert enabled_plugins() == [name for name in UPSTREAM_DEFAULTS if name not in NEED_CONTROLLERS]
    assert set(DEFAULT_ON) <= set(PLUGINS)


def test_enable_and_disable():
    """--enable-admission-plugins adds the opt-in ones in their places; --disable-admission-plugins removes
    any."""
    assert enabled_plugins(enable=list(NEED_CONTROLLERS)) == UPSTREAM_DEFAULTS
    for name in DEFAULT_ON:
        assert name not in enabled_plugins(disable=[name])


def test_toleration_seconds_flags_reach_the_plugin():
    """--default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds set the two
    tolerationSeconds DefaultTolerationSeconds adds; a value that is no integer stops startup."""
    import pytest

    from kapiserver.admission.chain import build_chain
    from kapiserver.admission.tolerations import DefaultTolerationSeconds
    from kapiserver.auth.options import parse_security
    from kapiserver.flags import OptionError

    from .conftest import FakeRegistry

    sec = parse_security({"default-not-ready-toleration-seconds": "60",
                          "default-unreachable-toleration-seconds": "120"}, "/tmp")
    assert (sec.default_not_ready_toleration_seconds, sec.default_unreachable_toleration_seconds) == (60, 120)
    assert parse_security({}, "/tmp").default_not_ready_toleration_seconds == 300
    chain = build_chain(FakeRegistry(), toleration_seconds=(60, 120))
    plugin = next(p for p in chain.plugins if isinstance(p, DefaultTolerationSeconds))
    assert list(plugin.seconds.values()) == [60, 120]
    with pytest.raises(OptionError):
        parse_security({"default-unreachable-toleration-seconds": "5m"}, "/tmp")
