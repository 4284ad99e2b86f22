"""
The admission chain: the plugins --enable-admission-plugins,
--disable-admission-plugins and --admission-control select, run in upstream's
order on every create, update and delete a Store makes, with the request's
user at hand (kapiserver.auth.context).  Plugins that take a configuration get
theirs from --admission-control-config-file (kapiserver.admission.config).
"""

from __future__ import annotations

from typing import Iterable, Optional

# Upstream's plugin order (AllOrderedPlugins), restricted to the plugins kapiserver has.
ORDER = ("AlwaysAdmit", "NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction",
         "AlwaysPullImages", "PodNodeSelector", "EventRateLimit", "DefaultStorageClass",
         "MutatingAdmissionWebhook",
         # Upstream lists PodSecurity after AlwaysPullImages, but runs every mutating plugin before any
         # validating one; this chain is one pass, so the validating-only PodSecurity comes after the last
         # mutating plugin and before the validating webhooks, where upstream's validation phase has it.
         "PodSecurity",
         "ValidatingAdmissionWebhook", "ResourceQuota", "AlwaysDeny")
# On unless disabled.  Upstream's defaults also include ServiceAccount;
# ServiceAccount is opt-in here because nothing in kapiserver yet creates the default ServiceAccounts.
DEFAULT_ON = ("NamespaceLifecycle", "LimitRanger", "DefaultStorageClass", "MutatingAdmissionWebhook", "PodSecurity",
              "ValidatingAdmissionWebhook", "ResourceQuota")


# Upstream plugins kapiserver does not have yet: naming one is refused rather than silently ignored.
MISSING: tuple[str, ...] = ()


def check_plugin_names(names: Iterable[str]) -> Optional[str]:
    for name in names:
        if name in MISSING:
            return f'admission plugin "{name}" is not available in kapiserver yet'
        if name not in ORDER:
            return f'plugin "{name}" is unknown'
    return None


def enabled_plugins(enable=(), disable=(), admission_control=()) -> list[str]:
    if admission_control:
        chosen = set(admission_control)
    else:
        chosen = (set(DEFAULT_ON) | set(enable)) - set(disable)
    return [name for name in ORDER if name in chosen]


class AdmissionChain:
    """Calls each plugin's ``admit(operation, store, obj, old)``; mutation happens in place on ``obj``."""

    def __init__(self, plugins: list, checks: list = ()):
        self.plugins = plugins
        # Checks that are not plugins upstream but run where storage does (RBAC escalation, privileged pods).
        self.checks = list(checks)

    async def __call__(self, operation: str, store, obj: dict, old) -> None:
        for check in self.checks:
            await check(operation, store, obj, old)
        for plugin in self.plugins:
            await plugin(operation, store, obj, old)


def install(registry, chain) -> None:
    """Make every Store of ``registry`` (and those added later) admit through ``chain``."""
    registry.admit = chain
    for store in registry.stores.values():
        store.admit = chain


def build_chain(registry, security=None, enable=(), disable=(), admission_control=(), allow_privileged=True,
                webhooks=None, plugin_config: dict | None = None) -> AdmissionChain:
    """The chain for the configured plugins; ``security`` adds the RBAC escalation check.

    ``plugin_config`` is {plugin name: configuration} as kapiserver.admission.config.load_admission_config
    returns it; a plugin's configuration that does not parse raises AdmissionConfigError.
    """
    from . import simple
    from .config import parse_plugin_config
    from .lifecycle import NamespaceLifecycle
    plugin_config = plugin_config or {}

    def configured(name: str):
        return parse_plugin_config(name, plugin_config.get(name))
    factories = {
        "AlwaysAdmit": simple.AlwaysAdmit, "AlwaysDeny": simple.AlwaysDeny,
        "AlwaysPullImages": simple.AlwaysPullImages, "ServiceAccount": simple.ServiceAccount,
        "NamespaceLifecycle": lambda: NamespaceLifecycle(
            lambda name: registry.store("", "v1", "namespaces").get_shared(None, name)),
    }
    from .quota import ResourceQuotaAdmission
    factories["ResourceQuota"] = lambda: ResourceQuotaAdmission(
        registry, limited_resources=configured("ResourceQuota"))
    factories["DefaultStorageClass"] = lambda: simple.DefaultStorageClass(registry)
    from .noderestriction import NodeRestriction
    factories["NodeRestriction"] = NodeRestriction
    from .limitranger import LimitRanger
    factories["LimitRanger"] = lambda: LimitRanger(registry)
    from .podnodeselector import PodNodeSelector
    factories["PodNodeSelector"] = lambda: PodNodeSelector(registry, configured("PodNodeSelector"))
    from .podsecurity import PodSecurity
    factories["PodSecurity"] = lambda: PodSecurity(registry, configured("PodSecurity"))
    from .eventratelimit import EventRateLimit
    factories["EventRateLimit"] = lambda: EventRateLimit(configured("EventRateLimit"), _clock(registry))
    if webhooks is None:
        from .webhooks import AdmissionWebhooks
        webhooks = AdmissionWebhooks(registry)
    # Each webhook plugin presents the credentials of its own WebhookAdmissionConfiguration's kubeconfig.
    factories["MutatingAdmissionWebhook"] = lambda: webhooks.mutating.configure(
        configured("MutatingAdmissionWebhook"))
    factories["ValidatingAdmissionWebhook"] = lambda: webhooks.validating.configure(
        configured("ValidatingAdmissionWebhook"))
    plugins = [factories[name]() for name in enabled_plugins(enable, disable, admission_control)
               if name in factories]
    checks = [simple.AllowPrivileged(allow_privileged)]
    if security is not None and getattr(security, "rbac", None) is not None:
        from ..auth.escalation import EscalationCheck
        checks.append(EscalationCheck(security.authorizer, security.rbac))
    return AdmissionChain(plugins, checks)


def _clock(registry):
    """The registry's clock (the reactor, or a task.Clock in tests) as a seconds function."""
    clock = getattr(registry, "clock", None)
    if clock is not None and hasattr(clock, "seconds"):
        return clock.seconds
    import time
    return time.monotonic
