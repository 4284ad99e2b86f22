"""
The admission chain: the plugins --enable-admission-plugins,
--disable-admission-plugins and --admission-control select (kapiserver.admission.plugins),
run in upstream's order on every create, update, delete and connect, each with the
request's Attributes: the mutating ones before the Store prepares and validates the
object, the validating ones after.  Plugins that take a configuration get theirs from
--admission-control-config-file (kapiserver.admission.config).
"""

from __future__ import annotations

from typing import Optional

from ..auth.user import INSECURE_USER
from ..registry.attributes import DISCARD, Attributes
from .plugins import Initializer, enabled_plugins, new_plugins
from .simple import AllowPrivileged


class OutsideRequests:
    """The request context of writes made outside any request: the insecure port's user, no response."""

    @staticmethod
    def current_user():
        return INSECURE_USER

    @staticmethod
    def current_record():
        return DISCARD


class AdmissionChain:
    """Admission in upstream's two phases.  ``admit`` runs every plugin that mutates (its ``admit``), in
    order; mutation happens in place on ``attributes.object``.  ``validate`` runs the checks and every
    plugin that validates (its ``validate``), in order.  A plugin may do both, as LimitRanger does.

    ``context`` answers ``current_user()`` and ``current_record()`` for the request being served (the
    server hands in kapiserver.auth.context); attributes that do not name their user or record get these."""

    def __init__(self, plugins: list, checks: list = (), context=None):
        self.plugins = list(plugins)
        # Plugins by phase, as upstream asserts each plugin's MutationInterface and ValidationInterface.
        self.mutating = [p for p in self.plugins if callable(getattr(p, "admit", None))]
        # Checks that are not plugins upstream but run where storage does (RBAC escalation, privileged pods).
        self.validating = list(checks) + [p for p in self.plugins if callable(getattr(p, "validate", None))]
        self.context = context or OutsideRequests()
        # (group, resource) -> (mutating, validating): the plugins that may act on it, in order.
        self._by_resource: dict[tuple[str, str], tuple[list, list]] = {}

    def _for_request(self, attributes: Attributes) -> Attributes:
        return attributes.with_request(self.context.current_user(), self.context.current_record())

    def plugins_for(self, group: str, resource: str) -> tuple[list, list]:
        """(mutating, validating) for writes of ``group``/``resource``: each phase's plugins but those that
        declare (``admission_resources``: the (group, resource) pairs they act on) that they leave it alone."""
        key = (group, resource)
        found = self._by_resource.get(key)
        if found is None:
            if len(self._by_resource) > 4096:    # custom resources come and go
                self._by_resource.clear()
            found = self._by_resource[key] = ([p for p in self.mutating if _acts_on(p, key)],
                                              [p for p in self.validating if _acts_on(p, key)])
        return found

    async def admit(self, attributes: Attributes) -> None:
        attributes = self._for_request(attributes)
        resource = attributes.resource
        mutating = self.plugins_for(resource.group, resource.resource)[0]
        for plugin in mutating:
            await plugin.admit(attributes)
        context = attributes.reinvocation
        if context.should_reinvoke:
            # As upstream's reinvocation handler: a webhook changed the object, so every mutating plugin runs once
            # more (the in-tree ones whole, the webhooks those of reinvocationPolicy IfNeeded that ran before a
            # later change).
            context.is_reinvoke = True
            for plugin in mutating:
                await plugin.admit(attributes)

    async def validate(self, attributes: Attributes) -> None:
        attributes = self._for_request(attributes)
        resource = attributes.resource
        for plugin in self.plugins_for(resource.group, resource.resource)[1]:
            await plugin.validate(attributes)


def _acts_on(plugin, key: tuple[str, str]) -> bool:
    resources = getattr(plugin, "admission_resources", None)
    return resources is None or key in resources


def build_chain(registry, security=None, enable=(), disable=(), admission_control=(), allow_privileged=True,
                webhooks=None, plugin_config: Optional[dict] = None, context=None,
                toleration_seconds: tuple[int, int] = (300, 300)) -> AdmissionChain:
    """The chain for the configured plugins; ``security`` adds the RBAC escalation check and gives the
    certificate plugins their authorizer.

    ``toleration_seconds`` is DefaultTolerationSeconds' (not-ready, unreachable) tolerationSeconds.
    ``plugin_config`` is {plugin name: configuration} as kapiserver.admission.config.load_admission_config
    returns it; a plugin's configuration that does not parse raises AdmissionConfigError.
    """
    initializer = Initializer(registry, webhooks, authorizer=getattr(security, "authorizer", None),
                              toleration_seconds=toleration_seconds)
    plugins = new_plugins(enabled_plugins(enable, disable, admission_control), initializer, plugin_config or {})
    checks = [AllowPrivileged(allow_privileged)]
    if security is not None and getattr(security, "rbac", None) is not None:
        from ..auth.escalation import EscalationCheck
        checks.append(EscalationCheck(security.authorizer, security.rbac))
    return AdmissionChain(plugins, checks, context)
