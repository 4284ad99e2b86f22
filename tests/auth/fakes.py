"""A registry Store stand-in for the authenticators' lookups: objects by name, no watch cache."""

from kapiserver.machinery import errors
from kapiserver.watch.cacher import NOT_CACHED


class ObjectStore:
    def __init__(self, objects):
        self.objects = objects
        self.updates = 0

    async def get_shared(self, namespace, name):
        if name not in self.objects:
            raise errors.not_found(errors.GroupResource("", "x"), name)
        return self.objects[name]

    def peek_shared(self, namespace, name):
        return NOT_CACHED       # no watch cache here: every lookup asks (get_shared)

    async def update(self, namespace, name, update, allow_create=None, precondition_uid=None):
        self.updates += 1
        old = self.objects.get(name)
        assert precondition_uid == old["metadata"]["uid"]
        self.objects[name] = update(old)
        return self.objects[name], False
