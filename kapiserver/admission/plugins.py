"""
The admission plugins kapiserver has, by name: upstream's order, the ones on by
default, and for each the factory that builds it and the parser of its part of
--admission-control-config-file.  The chain and the flags both read this one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from . import eventratelimit, podnodeselector, policies, quota, simple, webhooks
from .certificates import CertificateApproval, CertificateSigning, CertificateSubjectRestriction
from .config import AdmissionConfigError
from .ingressclass import DefaultIngressClass
from .lifecycle import NamespaceLifecycle
from .limitranger import LimitRanger
from .nodetaint import TaintNodesByCondition
from .noderestriction import NodeRestriction
from .podsecurity import PodSecurity
from .podsecurity import load as load_pod_security
from .priority import Priority
from .runtimeclass import RuntimeClass
from .storage import PersistentVolumeClaimResize, StorageObjectInUseProtection
from .tolerations import DefaultTolerationSeconds

# Upstream's plugin order (AllOrderedPlugins), restricted to the plugins kapiserver has; the chain runs
# the mutating ones in this order, then the validating ones in this order, as upstream does.
ORDER = ("AlwaysAdmit", "NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction",
         "TaintNodesByCondition", "AlwaysPullImages", "PodSecurity", "PodNodeSelector", "Priority",
         "DefaultTolerationSeconds", "EventRateLimit", "DefaultStorageClass", "StorageObjectInUseProtection",
         "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
         "CertificateSubjectRestriction", "DefaultIngressClass", "MutatingAdmissionWebhook",
         "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook", "ResourceQuota", "AlwaysDeny")
# On unless disabled: upstream's defaults, less TaintNodesByCondition when the apiserver runs alone (its
# not-ready taint is removed by kube-controller-manager's node-lifecycle controller, which the apiserver does
# not run; kube-cluster turns it on), and less the one kapiserver does not have (ClusterTrustBundleAttest).
# ServiceAccount and StorageObjectInUseProtection are on: the apiserver's embedded controllers (or
# kube-controller-manager) create the default ServiceAccounts and remove the protection finalizers.
DEFAULT_ON = ("NamespaceLifecycle", "LimitRanger", "ServiceAccount", "PodSecurity", "Priority",
              "DefaultTolerationSeconds", "DefaultStorageClass", "StorageObjectInUseProtection",
              "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
              "CertificateSubjectRestriction", "DefaultIngressClass", "MutatingAdmissionWebhook",
              "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook", "ResourceQuota")
# Upstream plugins kapiserver does not have yet: naming one is refused rather than silently ignored.
MISSING: tuple[str, ...] = ()


class Initializer:
    """What a plugin is built from (upstream's PluginInitializer): the registry it reads through,
    its clock, the state both webhook plugins share, the server's authorizer (None without one), and the
    (not-ready, unreachable) tolerationSeconds of --default-not-ready-toleration-seconds and
    --default-unreachable-toleration-seconds."""

    def __init__(self, registry, shared_webhooks: Optional[webhooks.AdmissionWebhooks] = None, authorizer=None,
                 toleration_seconds: tuple[int, int] = (300, 300)):
        self.registry = registry
        self._webhooks = shared_webhooks
        self.authorizer = authorizer
        self.toleration_seconds = toleration_seconds

    @property
    def webhooks(self) -> webhooks.AdmissionWebhooks:
        if self._webhooks is None:
            self._webhooks = webhooks.AdmissionWebhooks(self.registry)
        self._webhooks.use_authorizer(self.authorizer)
        return self._webhooks

    def clock(self) -> Callable[[], float]:
        """The registry's clock (the reactor, or a task.Clock in tests) as a seconds function."""
        clock = getattr(self.registry, "clock", None)
        if clock is not None and hasattr(clock, "seconds"):
            return clock.seconds
        import time
        return time.monotonic


@dataclass(frozen=True)
class Plugin:
    """``new(initializer, configuration)`` builds the plugin from its parsed configuration;
    ``parse(configuration or None)`` checks and parses it, raising AdmissionConfigError."""

    new: Callable[[Initializer, Any], Any]
    parse: Optional[Callable[[Any], Any]] = None


def _parse_pod_security(configuration):
    """A PodSecurityConfiguration, checked here so a bad one stops startup; the plugin keeps the object."""
    try:
        load_pod_security(configuration)
    except ValueError as e:
        raise AdmissionConfigError(str(e)) from None
    return configuration


PLUGINS: dict[str, Plugin] = {
    "AlwaysAdmit": Plugin(lambda init, config: simple.AlwaysAdmit()),
    "NamespaceLifecycle": Plugin(lambda init, config: NamespaceLifecycle(
        lambda name: init.registry.store("", "v1", "namespaces").get_shared(None, name),
        lambda name: init.registry.store("", "v1", "namespaces").peek_shared(None, name), init.clock())),
    "LimitRanger": Plugin(lambda init, config: LimitRanger(init.registry)),
    "ServiceAccount": Plugin(lambda init, config: simple.ServiceAccount(init.registry)),
    "NodeRestriction": Plugin(lambda init, config: NodeRestriction()),
    "TaintNodesByCondition": Plugin(lambda init, config: TaintNodesByCondition()),
    "AlwaysPullImages": Plugin(lambda init, config: simple.AlwaysPullImages()),
    "PodNodeSelector": Plugin(lambda init, config: podnodeselector.PodNodeSelector(init.registry, config),
                              podnodeselector.parse_configuration),
    "Priority": Plugin(lambda init, config: Priority(init.registry)),
    "DefaultTolerationSeconds": Plugin(lambda init, config: DefaultTolerationSeconds(*init.toleration_seconds)),
    "EventRateLimit": Plugin(lambda init, config: eventratelimit.EventRateLimit(config, init.clock()),
                             eventratelimit.parse_configuration),
    "DefaultStorageClass": Plugin(lambda init, config: simple.DefaultStorageClass(init.registry)),
    "StorageObjectInUseProtection": Plugin(lambda init, config: StorageObjectInUseProtection()),
    "PersistentVolumeClaimResize": Plugin(lambda init, config: PersistentVolumeClaimResize(init.registry)),
    "RuntimeClass": Plugin(lambda init, config: RuntimeClass(init.registry)),
    "CertificateApproval": Plugin(lambda init, config: CertificateApproval(init.authorizer)),
    "CertificateSigning": Plugin(lambda init, config: CertificateSigning(init.authorizer)),
    "CertificateSubjectRestriction": Plugin(lambda init, config: CertificateSubjectRestriction()),
    "DefaultIngressClass": Plugin(lambda init, config: DefaultIngressClass(init.registry)),
    # Each webhook plugin presents the credentials of its own WebhookAdmissionConfiguration's kubeconfig.
    "MutatingAdmissionWebhook": Plugin(lambda init, config: init.webhooks.mutating.configure(config),
                                       webhooks.parse_configuration),
    "PodSecurity": Plugin(lambda init, config: PodSecurity(init.registry, config), _parse_pod_security),
    "ValidatingAdmissionPolicy": Plugin(lambda init, config: policies.ValidatingAdmissionPolicy(
        init.registry, init.authorizer, init.clock())),
    "ValidatingAdmissionWebhook": Plugin(lambda init, config: init.webhooks.validating.configure(config),
                                         webhooks.parse_configuration),
    "ResourceQuota": Plugin(lambda init, config: quota.ResourceQuotaAdmission(init.registry,
                                                                              limited_resources=config),
                            quota.parse_configuration),
    "AlwaysDeny": Plugin(lambda init, config: simple.AlwaysDeny()),
}


def enabled_plugins(enable=(), disable=(), admission_control=()) -> list[str]:
    """The plugins the flags turn on, in upstream's order."""
    if admission_control:
        chosen = set(admission_control)
    else:
        chosen = (set(DEFAULT_ON) | set(enable)) - set(disable)
    return [name for name in ORDER if name in chosen]


def parse_plugin_config(name: str, configuration) -> object:
    """``name``'s parsed configuration; an AdmissionConfigError names the plugin, as upstream's init does."""
    plugin = PLUGINS.get(name)
    if plugin is None or plugin.parse is None:
        return configuration
    try:
        return plugin.parse(configuration)
    except AdmissionConfigError as e:
        raise AdmissionConfigError(f'couldn\'t init admission plugin "{name}": {e}') from None


def check_plugin_configs(configs: dict, enabled: Iterable[str]) -> None:
    """Parse the configuration of every enabled plugin (also those with none: some require one)."""
    for name in enabled:
        parse_plugin_config(name, configs.get(name))


def new_plugins(names: Iterable[str], initializer: Initializer, plugin_config: dict) -> list:
    """The plugins ``names`` (in the order given), each built from its parsed configuration."""
    return [PLUGINS[name].new(initializer, parse_plugin_config(name, plugin_config.get(name)))
            for name in names if name in PLUGINS]
