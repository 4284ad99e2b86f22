"""
Admission attributes: what one write or connect request is, as upstream's
k8s.io/apiserver/pkg/admission Attributes carries it.  The Store makes them for
its create, update and delete, the endpoints for a CONNECT (exec, attach,
port-forward, proxy); admission plugins and the chain read them through
``admit(attributes)``.  Defined here, below admission, because the Store calls
admission and may import nothing above it.  Admission runs in upstream's two phases: mutating
(``admit``), then the Store's preparation and validation, then validating (``validate``).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from ..machinery.errors import GroupResource

CREATE, UPDATE, DELETE, CONNECT = "CREATE", "UPDATE", "DELETE", "CONNECT"


@dataclass(frozen=True, slots=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str


@dataclass(frozen=True, slots=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str

    @property
    def group_resource(self) -> GroupResource:
        return GroupResource(self.group, self.resource)


class _Discard:
    """A sink for warnings and audit annotations outside any request: both are dropped."""

    def add_warning(self, text: str) -> None:
        return None

    def add_audit_annotation(self, key: str, value: str) -> None:
        return None


DISCARD = _Discard()

# The response record of the request being served (auth.context sets it once the request is taken on), here in the
# lowest layer that writes to it: the registry's own warnings (a custom resource's ratcheted rules) reach it too.
_current_record: ContextVar[Any] = ContextVar("kapiserver_response", default=None)


def set_current_record(record: Any) -> None:
    _current_record.set(record)


def current_record() -> Any:
    """Where the request being served collects warnings and audit annotations (a sink dropping both outside any
    request)."""
    return _current_record.get() or DISCARD


def add_warning(text: str) -> None:
    """A warning for the client of the request being served; dropped outside any request."""
    current_record().add_warning(text)


class Reinvocation:
    """Upstream's ReinvocationContext: whether the mutating phase is to run a second time (a webhook changed the
    object), whether this is that second time, and what each plugin keeps between the two."""

    __slots__ = ("should_reinvoke", "is_reinvoke", "values")

    def __init__(self):
        self.should_reinvoke = False
        self.is_reinvoke = False
        self.values: dict = {}

@dataclass(frozen=True)
class Attributes:
    """One admission request.  ``object`` is the new object (None for DELETE; the options object,
    e.g. a PodExecOptions, for CONNECT) and plugins that mutate change it in place; ``old_object``
    is the stored object (None for CREATE and CONNECT).  ``options`` is the verb's options
    (WriteOptions, DeleteOptions).  ``user_info`` (an auth.user.UserInfo) and ``record`` (where
    warnings and audit annotations for the response go) are the request's."""

    operation: str
    kind: GroupVersionKind
    resource: GroupVersionResource
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    object: Optional[dict] = None
    old_object: Optional[dict] = None
    options: Any = None
    dry_run: bool = False
    user_info: Any = None
    record: Any = DISCARD
    # The names of the mutating webhooks that patched ``object`` (shared by the copies with_request makes):
    # what they changed is defaulted again, as upstream decodes a patched object with its defaults.
    patched_by: list = field(default_factory=list, compare=False)
    # Upstream's ReinvocationContext for the mutating phase (shared by the copies with_request makes).
    reinvocation: Reinvocation = field(default_factory=Reinvocation, compare=False)

    @property
    def group_resource(self) -> GroupResource:
        return self.resource.group_resource

    @property
    def patched(self) -> bool:
        return bool(self.patched_by)

    def with_request(self, user_info, record) -> "Attributes":
        """These attributes for ``user_info``, recording into ``record``, where they name neither yet (a
        copy; ``patched_by`` shared).  Copied field by field rather than through dataclasses.replace, which
        costs several times as much on every write's admission."""
        copied = object.__new__(type(self))
        fields = copied.__dict__
        fields.update(self.__dict__)
        if fields["user_info"] is None:
            fields["user_info"] = user_info
        if fields["record"] is DISCARD:
            fields["record"] = record
        return copied


class Admission(Protocol):
    """Admission in upstream's two phases: ``admit`` (mutating plugins, which may change
    ``attributes.object``) before the server prepares and validates the object, ``validate``
    (validating plugins) after, just before storage."""

    async def admit(self, attributes: Attributes) -> None: ...

    async def validate(self, attributes: Attributes) -> None: ...


def for_resource(info, operation: str, obj: Optional[dict], old: Optional[dict], subresource: str = "",
                 options: Any = None, name: str = "", namespace: str = "", dry_run: bool = False) -> Attributes:
    """The attributes of a request on ``info`` (a catalog ResourceInfo); name and namespace default to
    the object's (or the old object's)."""
    metadata = (obj if obj is not None else old or {}).get("metadata") or {}
    kind, resource = _group_versions(info.group, info.version, info.kind, info.resource)
    # What Attributes(operation, kind, ...) makes, every field set, without the frozen dataclass's __init__
    # (one object.__setattr__ per field: a few microseconds, twice per write), as with_request copies.
    attributes = object.__new__(Attributes)
    attributes.__dict__.update(
        operation=operation, kind=kind, resource=resource, subresource=subresource,
        name=name or metadata.get("name", ""),
        namespace=namespace or (metadata.get("namespace", "") if info.namespaced else ""),
        object=obj, old_object=old, options=options, dry_run=dry_run, user_info=None, record=DISCARD, patched_by=[],
        reinvocation=Reinvocation())
    return attributes


# (group, version, kind, resource) -> (GroupVersionKind, GroupVersionResource): both frozen, so every request
# on one resource shares its pair rather than make it again.
_GROUP_VERSIONS: dict[tuple, tuple[GroupVersionKind, GroupVersionResource]] = {}


def _group_versions(group: str, version: str, kind: str, resource: str) -> tuple[GroupVersionKind,
                                                                                  GroupVersionResource]:
    key = (group, version, kind, resource)
    pair = _GROUP_VERSIONS.get(key)
    if pair is None:
        if len(_GROUP_VERSIONS) > 4096:     # custom resources come and go: never grows without bound
            _GROUP_VERSIONS.clear()
        pair = _GROUP_VERSIONS[key] = (GroupVersionKind(group, version, kind),
                                       GroupVersionResource(group, version, resource))
    return pair
