"""The plugin table: upstream's order and upstream's defaults (less ServiceAccount, opt-in here)."""

from __future__ import annotations

from kapiserver.admission.plugins import DEFAULT_ON, PLUGINS, enabled_plugins

# Upstream 1.32's default plugins, in its order, without the two kapiserver does not have
# (ClusterTrustBundleAttest, ValidatingAdmissionPolicy).
UPSTREAM_DEFAULTS = ["NamespaceLifecycle", "LimitRanger", "ServiceAccount", "TaintNodesByCondition", "PodSecurity",
                     "Priority", "DefaultTolerationSeconds", "DefaultStorageClass", "StorageObjectInUseProtection",
                     "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
                     "CertificateSubjectRestriction", "DefaultIngressClass", "MutatingAdmissionWebhook",
                     "ValidatingAdmissionWebhook", "ResourceQuota"]


def test_defaults_are_upstreams_in_its_order():
    """With no flags the chain is upstream's default chain, in upstream's order, without ServiceAccount."""
    assert enabled_plugins() == [name for name in UPSTREAM_DEFAULTS if name != "ServiceAccount"]
    assert set(DEFAULT_ON) <= set(PLUGINS)


def test_enable_and_disable():
    """--enable-admission-plugins adds ServiceAccount in its place; --disable-admission-plugins removes any."""
    assert enabled_plugins(enable=["ServiceAccount"]) == UPSTREAM_DEFAULTS
    for name in DEFAULT_ON:
        assert name not in enabled_plugins(disable=[name])
