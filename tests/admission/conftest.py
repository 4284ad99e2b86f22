"""
Fakes for admission plugins: stores that only carry their ResourceInfo, a
registry that answers namespace and quota reads from dicts, ``call`` to admit
one request's Attributes, and ``drive`` to run a plugin call whose awaits are
all already resolved.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from kapiserver.auth.user import INSECURE_USER
from kapiserver.machinery.errors import GroupResource, StatusError
from kapiserver.registry.attributes import for_resource

from tests.controllers.conftest import registry  # noqa: F401 (a Registry on SQLite, for test_attributes)


def drive(coroutine):
    """The coroutine's result (or its exception raised), run with nothing pending."""
    outcome = []
    Deferred.fromCoroutine(coroutine).addBoth(outcome.append)
    assert outcome, "the call waited on something"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def store(resource: str, kind: str, group: str = "", version: str = "v1", namespaced: bool = True):
    info = SimpleNamespace(group=group, version=version, resource=resource, kind=kind, namespaced=namespaced)
    return SimpleNamespace(info=info, qualified=GroupResource(group, resource))


def call(plugin, operation: str, store, obj, old, user=INSECURE_USER, subresource: str = ""):
    """The plugin's phases (``admit``, then ``validate``, those it has) for the Attributes a Store makes for
    ``operation`` ("create", "update", "delete")."""
    operation = operation.upper()
    attributes = for_resource(store.info, operation, None if operation == "DELETE" else obj,
                              (old or obj) if operation == "DELETE" else old, subresource)
    attributes = attributes.with_request(user, attributes.record)
    return _phases(plugin, attributes)


async def _phases(plugin, attributes) -> None:
    if callable(getattr(plugin, "admit", None)):
        await plugin.admit(attributes)
    if callable(getattr(plugin, "validate", None)):
        await plugin.validate(attributes)


class _Objects:
    def __init__(self, resource: str, items: dict):
        self.resource, self.items = resource, items

    async def get(self, namespace, name):
        if name not in self.items:
            raise StatusError(404, "NotFound", f'{self.resource} "{name}" not found')
        return self.items[name]

    get_shared = get

    def peek_list(self, namespace):
        """Nothing cached: the plugins list."""
        from kapiserver.watch.cacher import NOT_CACHED
        return NOT_CACHED

    async def list(self, namespace, options):
        return [o for o in self.items.values() if o["metadata"].get("namespace") == namespace], "1", None

    async def update(self, namespace, name, update, options=None, subresource="", allow_create=None):
        """Store.update's optimistic concurrency: a new object naming another resourceVersion is a 409."""
        if name not in self.items:
            raise StatusError(404, "NotFound", f'{self.resource} "{name}" not found')
        old = self.items[name]
        new = update(copy.deepcopy(old))
        stored_at = old["metadata"].get("resourceVersion") or "0"
        if new["metadata"].get("resourceVersion") not in (None, "", stored_at):
            raise StatusError(409, "Conflict", f'Operation cannot be fulfilled on {self.resource} "{name}": '
                                               "the object has been modified")
        new["metadata"]["resourceVersion"] = str(int(stored_at) + 1)
        self.items[name] = new
        return new, False


class FakeRegistry:
    """Namespaces by name and ResourceQuotas (with their namespace) -- what the plugins read; ``objects``
    gives other resources' objects by resource name (``priorityclasses=[...]``), which ``lookup`` serves."""

    def __init__(self, namespaces=(), quotas=(), **objects):
        self.namespaces = {n["metadata"]["name"]: n for n in namespaces}
        self.quotas = {q["metadata"]["name"]: q for q in quotas}
        self.objects = {resource: {o["metadata"]["name"]: o for o in items} for resource, items in objects.items()}
        self.stores: dict = {}

    def store(self, group, version, resource):
        if resource in self.objects:
            return _Objects(resource, self.objects[resource])
        return _Objects(resource, self.namespaces if resource == "namespaces" else self.quotas)

    def lookup(self, group, version, resource):
        return _Objects(resource, self.objects.get(resource, {}))
