"""
The admission chain: the plugins --enable-admission-plugins,
--disable-admission-plugins and --admission-control select (kapiserver.admission.plugins),
run in upstream's order on every create, update, delete and connect, each with the
request's Attributes.  Plugins that take a configuration get theirs from
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
    """Calls each check's and plugin's ``admit(attributes)``; mutation happens in place on ``attributes.object``.

    ``context`` answers ``current_user()`` and ``current_record()`` for the request being served (the
    server hands in kapiserver.auth.context); attributes that do not name their user or record get these."""

    def __init__(self, plugins: list, checks: list = (), context=None):
        self.plugins = list(plugins)
        # Checks that are not plugins upstream but run where storage does (RBAC escalation, privileged pods).
        self.checks = list(checks)
        self.context = context or OutsideRequests()

    async def admit(self, attributes: Attributes) -> None:
        attributes = attributes.with_request(self.context.current_user(), self.context.current_record())
        for check in self.checks:
            await check.admit(attributes)
        for plugin in self.plugins:
            await plugin.admit(attributes)


def build_chain(registry, security=None, enable=(), disable=(), admission_control=(), allow_privileged=True,
                webhooks=None, plugin_config: Optional[dict] = None, context=None) -> AdmissionChain:
    """The chain for the configured plugins; ``security`` adds the RBAC escalation check.

    ``plugin_config`` is {plugin name: configuration} as kapiserver.admission.config.load_admission_config
    returns it; a plugin's configuration that does not parse raises AdmissionConfigError.
    """
    plugins = new_plugins(enabled_plugins(enable, disable, admission_control), Initializer(registry, webhooks),
                          plugin_config or {})
    checks = [AllowPrivileged(allow_privileged)]
    if security is not None and getattr(security, "rbac", None) is not None:
        from ..auth.escalation import EscalationCheck
        checks.append(EscalationCheck(security.authorizer, security.rbac))
    return AdmissionChain(plugins, checks, context)
