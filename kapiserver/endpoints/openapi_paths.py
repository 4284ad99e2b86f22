"""
The operations upstream's API installer registers for each resource, as plain data.

:func:`group_version_operations` lists, for one group-version of the catalog, every
(path, :class:`Operation`) pair: list/create/deletecollection on the collection, read/replace/
patch/delete on the item, the deprecated watch paths, and the subresources (status, scale,
connect-style exec/attach/portforward/proxy, log, binding, eviction, token ...).  Operation ids,
x-kubernetes-action values and tags follow upstream's naming rules, so generated clients and
kubectl find what they look for.  :mod:`kapiserver.endpoints.openapi` renders these as OpenAPI v3
or Swagger 2.0.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Optional

from kapiserver.registry.catalog import ResourceInfo, Subresource

# Query parameters: name -> (JSON type, description).  Descriptions are our own words.
QUERY_PARAMS: dict[str, tuple[str, str]] = {
    "allowWatchBookmarks": ("boolean", "Ask for BOOKMARK events on a watch; the server may send them at any time."),
    "command": ("string", "The command to run, one argument per 'command' parameter."),
    "container": ("string", "The container in the pod; may be omitted when the pod has only one."),
    "continue": ("string", "The token from a previous paged list, to fetch the next page."),
    "dryRun": ("string", "When 'All', process the request fully but persist nothing."),
    "fieldManager": ("string", "The name of the actor making the change, recorded in managedFields."),
    "fieldSelector": ("string", "Keep only the objects whose fields match this selector."),
    "fieldValidation": ("string", "How to treat unknown or duplicate fields: Ignore, Warn or Strict."),
    "follow": ("boolean", "Keep streaming the log as it grows."),
    "force": ("boolean", "For apply requests: take over fields owned by other managers."),
    "gracePeriodSeconds": ("integer", "Seconds to wait before the object is deleted; zero deletes at once."),
    "ignoreStoreReadErrorWithClusterBreakingPotential": (
        "boolean", "Delete an object that cannot be read from storage (unsafe; needs a feature gate)."),
    "insecureSkipTLSVerifyBackend": ("boolean", "Do not verify the kubelet's serving certificate."),
    "labelSelector": ("string", "Keep only the objects whose labels match this selector."),
    "limit": ("integer", "The most objects to return in one page of a list."),
    "limitBytes": ("integer", "Stop the log after this many bytes."),
    "orphanDependents": ("boolean", "Deprecated: use propagationPolicy. Orphan the dependents when true."),
    "path": ("string", "The path to forward to on the target."),
    "ports": ("integer", "The ports to forward, one per 'ports' parameter."),
    "pretty": ("string", "If 'true', indent the output."),
    "previous": ("boolean", "Return the log of the previous, terminated instance of the container."),
    "propagationPolicy": ("string", "How dependents are garbage collected: Orphan, Background or Foreground."),
    "resourceVersion": ("string", "The resource version the read must be at least as new as (or match)."),
    "resourceVersionMatch": ("string", "How resourceVersion applies to a list: Exact or NotOlderThan."),
    "sendInitialEvents": ("boolean", "Begin a watch with synthetic ADDED events for the current objects."),
    "sinceSeconds": ("integer", "Return only the log lines newer than this many seconds."),
    "stderr": ("boolean", "Stream the standard error of the process."),
    "stdin": ("boolean", "Send the standard input of the request to the process."),
    "stdout": ("boolean", "Stream the standard output of the process."),
    "stream": ("string", "Which log stream to return: Stdout, Stderr or All."),
    "tailLines": ("integer", "Return only this many lines from the end of the log."),
    "timeoutSeconds": ("integer", "End the list or watch call after this many seconds."),
    "timestamps": ("boolean", "Prefix every log line with its timestamp."),
    "tty": ("boolean", "Allocate a terminal for the process."),
    "watch": ("boolean", "Stream changes to the listed objects instead of returning the list."),
}

LIST_OPTIONS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
DELETE_OPTIONS = ("dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
                  "orphanDependents", "propagationPolicy")
# deletecollection takes every list option that is not about watching.
DELETECOLLECTION_OPTIONS = DELETE_OPTIONS + tuple(n for n in LIST_OPTIONS if n not in ("watch", "allowWatchBookmarks"))
CREATE_OPTIONS = ("dryRun", "fieldManager", "fieldValidation")
UPDATE_OPTIONS = CREATE_OPTIONS
PATCH_OPTIONS = CREATE_OPTIONS + ("force",)
LOG_OPTIONS = ("container", "follow", "insecureSkipTLSVerifyBackend", "limitBytes", "previous", "sinceSeconds",
               "stream", "tailLines", "timestamps")
CONNECT_OPTIONS = {
    "PodExecOptions": ("command", "container", "stderr", "stdin", "stdout", "tty"),
    "PodAttachOptions": ("container", "stderr", "stdin", "stdout", "tty"),
    "PodPortForwardOptions": ("ports",),
    "PodProxyOptions": ("path",),
    "NodeProxyOptions": ("path",),
    "ServiceProxyOptions": ("path",),
}
PROXY_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_VERB_METHOD = {"get": "get", "create": "post", "update": "put", "patch": "patch", "delete": "delete"}

PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json")
CUSTOM_PATCH_TYPES = PATCH_TYPES[:3]  # custom resources have no strategic merge patch

# Built-in resources whose DELETE answers with the deleted object rather than a Status.
_DELETE_RETURNS_OBJECT = frozenset({
    ("", "pods"), ("", "podtemplates"), ("", "services"), ("", "serviceaccounts"),
    ("", "persistentvolumes"), ("", "persistentvolumeclaims"), ("", "resourcequotas"),
})

STATUS = ("", "v1", "Status")
DELETE_OPTIONS_KIND = ("", "v1", "DeleteOptions")
WATCH_EVENT = ("", "v1", "WatchEvent")
PATCH_KIND = ("", "v1", "Patch")
STRING = "string"  # a response or body that is a plain string rather than a schema


@dataclass(frozen=True)
class Param:
    name: str
    location: str = "query"        # "query" or "path"
    description: str = ""
    type: str = "string"

    @property
    def required(self) -> bool:
        return self.location == "path"


@dataclass
class Operation:
    """One HTTP method on one path, in a form both OpenAPI renderers understand.

    Kinds are (group, version, kind) triples, schema names, or :data:`STRING`; the renderer maps
    them to schemas.
    """
    method: str
    operation_id: str
    description: str
    action: str
    gvk: Optional[tuple[str, str, str]]
    tag: str
    params: list[Param] = field(default_factory=list)
    body: Optional[tuple[str, str, str]] = None
    body_required: bool = True
    consumes: tuple[str, ...] = ("*/*",)
    responses: list[tuple[str, str, object]] = field(default_factory=list)  # (code, description, kind)
    produces: tuple[str, ...] = ()
    streaming: bool = False        # list/watch responses also come as ;stream=watch
    owner: Optional[tuple[str, str, str]] = None  # the GVK of the resource this operation belongs to


@functools.lru_cache(maxsize=4096)
def to_valid_operation_id(text: str, capitalize_first: bool) -> str:
    """Drop punctuation and camel-case what follows it, as upstream does for operation ids."""
    out = []
    capitalize = capitalize_first
    for index, char in enumerate(text):
        if char.isalpha() or char == "_" or (index != 0 and char.isdigit()):
            out.append(char.upper() if capitalize else char)
            capitalize = False
        else:
            capitalize = True
    return "".join(out)


def group_words(group: str) -> str:
    """The part of a group name operation ids and tags are made of (``.k8s.io`` dropped)."""
    return group[: -len(".k8s.io")] if group.endswith(".k8s.io") else (group or "core")


def tag_for(group: str, version: str) -> str:
    return to_valid_operation_id(group_words(group), False) + "_" + to_valid_operation_id(version, False)


def operation_id(verb: str, group: str, version: str, rest: str) -> str:
    return (verb + to_valid_operation_id(group_words(group), True) + to_valid_operation_id(version, True)
            + to_valid_operation_id(rest, True))


def gv_prefix(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


def _article(noun: str) -> str:
    if noun.endswith("s") and not noun.endswith("ss"):
        return " "
    return " an " if noun[:1].lower() in "aeiou" else " a "


def _query(*names: str) -> list[Param]:
    return list(_query_params(names))


@functools.lru_cache(maxsize=256)
def _query_params(names: tuple[str, ...]) -> tuple[Param, ...]:
    return tuple(Param(n, "query", QUERY_PARAMS[n][1], QUERY_PARAMS[n][0]) for n in names)


def _title(word: str) -> str:
    return word[:1].upper() + word[1:]


class _Builder:
    """Collects the operations of one resource (and its subresources)."""

    def __init__(self, info: ResourceInfo, out: list[tuple[str, Operation]]):
        self.info = info
        self.out = out
        self.tag = tag_for(info.group, info.version)
        self.prefix = gv_prefix(info.group, info.version)
        self.ns = "Namespaced" if info.namespaced else ""
        self.scope = "/namespaces/{namespace}" if info.namespaced else ""
        scope_params = [Param("namespace", "path", "The namespace of the object.")] if info.namespaced else []
        self.scope_params = scope_params
        self.name_param = Param("name", "path", f"The name of the {info.kind}.")

    def add(self, path: str, op: Operation) -> None:
        self.out.append((path, op))

    def op(self, method: str, verb: str, rest: str, description: str, action: str,
           gvk: Optional[tuple[str, str, str]], params: list[Param], **kw) -> Operation:
        info = self.info
        return Operation(method=method, operation_id=operation_id(verb, info.group, info.version, rest),
                         description=description, action=action, gvk=gvk, tag=self.tag, params=params,
                         owner=(info.group, info.version, info.kind), **kw)

    # -- the resource itself ---------------------------------------------------------------------

    def resource(self) -> None:
        info = self.info
        verbs = set(info.verbs)
        kind, gvk = info.kind, (info.group, info.version, info.kind)
        list_gvk = (info.group, info.version, info.list_kind)
        collection = f"{self.prefix}{self.scope}/{info.resource}"
        item = collection + "/{name}"
        scope, named = self.scope_params, self.scope_params + [self.name_param]
        pretty = _query("pretty")
        listable = "list" in verbs
        watchable = "watch" in verbs
        if listable:
            doc = f"list or watch objects of kind {kind}" if watchable else f"list objects of kind {kind}"
            self.add(collection, self.op("get", "list", f"{self.ns}{kind}", doc, "list", gvk,
                                         scope + pretty + _query(*LIST_OPTIONS),
                                         responses=[("200", "OK", list_gvk)], streaming=True))
        if "create" in verbs:
            self.add(collection, self.op("post", "create", f"{self.ns}{kind}", f"create{_article(kind)}{kind}",
                                         "post", gvk, scope + pretty + _query(*CREATE_OPTIONS), body=gvk,
                                         responses=[("200", "OK", gvk), ("201", "Created", gvk),
                                                    ("202", "Accepted", gvk)]))
        if "deletecollection" in verbs:
            self.add(collection, self.op("delete", "deletecollection", f"{self.ns}{kind}",
                                         f"delete collection of {kind}", "deletecollection", gvk,
                                         scope + pretty + _query(*DELETECOLLECTION_OPTIONS),
                                         body=DELETE_OPTIONS_KIND, body_required=False,
                                         responses=[("200", "OK", STATUS)]))
        if watchable and listable:
            self.add(f"{self.prefix}/watch{self.scope}/{info.resource}",
                     self.op("get", "watch", f"{self.ns}{kind}List",
                             f"watch individual changes to a list of {kind}. deprecated: use the 'watch' "
                             "parameter with a list operation instead.", "watchlist", gvk,
                             scope + pretty + _query(*LIST_OPTIONS), responses=[("200", "OK", WATCH_EVENT)],
                             streaming=True))
        if "get" in verbs:
            self.add(item, self.op("get", "read", f"{self.ns}{kind}", f"read the specified {kind}", "get", gvk,
                                   named + pretty, responses=[("200", "OK", gvk)]))
        if "update" in verbs:
            self.add(item, self.op("put", "replace", f"{self.ns}{kind}", f"replace the specified {kind}", "put",
                                   gvk, named + pretty + _query(*UPDATE_OPTIONS), body=gvk,
                                   responses=[("200", "OK", gvk), ("201", "Created", gvk)]))
        if "patch" in verbs:
            self.add(item, self.patch_op(f"{self.ns}{kind}", f"partially update the specified {kind}", gvk,
                                         named + pretty))
        if "delete" in verbs:
            returned = gvk if (info.group, info.resource) in _DELETE_RETURNS_OBJECT else STATUS
            self.add(item, self.op("delete", "delete", f"{self.ns}{kind}", f"delete{_article(kind)}{kind}",
                                   "delete", gvk, named + pretty + _query(*DELETE_OPTIONS),
                                   body=DELETE_OPTIONS_KIND, body_required=False,
                                   responses=[("200", "OK", returned), ("202", "Accepted", returned)]))
        if watchable:
            self.add(f"{self.prefix}/watch{self.scope}/{info.resource}/{{name}}",
                     self.op("get", "watch", f"{self.ns}{kind}",
                             f"watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter "
                             "with a list operation instead, filtered to a single item with the 'fieldSelector' "
                             "parameter.", "watch", gvk, named + pretty + _query(*LIST_OPTIONS),
                             responses=[("200", "OK", WATCH_EVENT)], streaming=True))
        if info.namespaced and listable:
            self.add(f"{self.prefix}/{info.resource}",
                     self.op("get", "list", f"{kind}ForAllNamespaces", doc, "list", gvk,
                             pretty + _query(*LIST_OPTIONS), responses=[("200", "OK", list_gvk)], streaming=True))
            if watchable:
                self.add(f"{self.prefix}/watch/{info.resource}",
                         self.op("get", "watch", f"{kind}ListForAllNamespaces",
                                 f"watch individual changes to a list of {kind}. deprecated: use the 'watch' "
                                 "parameter with a list operation instead.", "watchlist", gvk,
                                 pretty + _query(*LIST_OPTIONS), responses=[("200", "OK", WATCH_EVENT)],
                                 streaming=True))
        for sub in sorted(info.subresources, key=lambda s: s.name):
            self.subresource(sub)

    def patch_op(self, rest: str, doc: str, gvk: tuple[str, str, str], params: list[Param]) -> Operation:
        return self.op("patch", "patch", rest, doc, "patch", gvk, params + _query(*PATCH_OPTIONS),
                       body=PATCH_KIND, consumes=PATCH_TYPES,
                       responses=[("200", "OK", gvk), ("201", "Created", gvk)])

    # -- subresources ----------------------------------------------------------------------------

    def subresource(self, sub: Subresource) -> None:
        info = self.info
        parent = info.kind
        gvk = (sub.group if (sub.group or sub.version) else info.group, sub.version or info.version, sub.kind)
        path = f"{self.prefix}{self.scope}/{info.resource}/{{name}}/{sub.name}"
        named = self.scope_params + [self.name_param]
        pretty = _query("pretty")
        rest = f"{self.ns}{parent}{_title(sub.name)}"
        if sub.kind in CONNECT_OPTIONS:
            self.connect(sub, gvk, path, named, rest)
            return
        verbs = set(sub.verbs)
        if sub.name == "log":
            # The log is text, read with its own options.
            self.add(path, self.op("get", "read", rest, f"read {sub.name} of the specified {parent}", "get", gvk,
                                   named + pretty + _query(*LOG_OPTIONS), responses=[("200", "OK", STRING)],
                                   produces=("text/plain", "application/json", "application/yaml",
                                             "application/vnd.kubernetes.protobuf")))
            return
        if "create" in verbs:
            self.add(path, self.op("post", "create", rest, f"create {sub.name} of{_article(parent)}{parent}", "post",
                                   gvk, named + pretty + _query(*CREATE_OPTIONS), body=gvk,
                                   responses=[("200", "OK", gvk), ("201", "Created", gvk), ("202", "Accepted", gvk)]))
        if "get" in verbs:
            self.add(path, self.op("get", "read", rest, f"read {sub.name} of the specified {parent}", "get", gvk,
                                   named + pretty, responses=[("200", "OK", gvk)]))
        if "update" in verbs:
            self.add(path, self.op("put", "replace", rest, f"replace {sub.name} of the specified {parent}", "put",
                                   gvk, named + pretty + _query(*UPDATE_OPTIONS), body=gvk,
                                   responses=[("200", "OK", gvk), ("201", "Created", gvk)]))
        if "patch" in verbs:
            self.add(path, self.patch_op(rest, f"partially update {sub.name} of the specified {parent}", gvk,
                                         named + pretty))

    def connect(self, sub: Subresource, gvk, path: str, named: list[Param], rest: str) -> None:
        parent = self.info.kind
        if sub.name == "proxy":
            methods = PROXY_METHODS
        else:
            methods = tuple(m for v, m in _VERB_METHOD.items() if v in sub.verbs)
        options = _query(*CONNECT_OPTIONS[sub.kind])
        routes = [(path, named, "")]
        if sub.name == "proxy":
            routes.append((path + "/{path}", named + [Param("path", "path", "The path to forward to.")], "WithPath"))
        for route, params, suffix in routes:
            for method in methods:
                self.add(route, Operation(
                    method=method,
                    operation_id=operation_id("connect", self.info.group, self.info.version,
                                              _title(method) + rest + suffix),
                    description=f"connect {method.upper()} requests to {sub.name} of {parent}",
                    action="connect", gvk=gvk, tag=self.tag, params=params + options, body=None,
                    responses=[("200", "OK", STRING)], produces=("*/*",),
                    owner=(self.info.group, self.info.version, self.info.kind)))


def group_version_operations(resources: list[ResourceInfo]) -> list[tuple[str, Operation]]:
    """Every (path, operation) the resources of one group-version serve, in registration order."""
    out: list[tuple[str, Operation]] = []
    for info in sorted(resources, key=lambda i: i.resource):
        _Builder(info, out).resource()
    return out
