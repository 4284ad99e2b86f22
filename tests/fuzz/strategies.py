"""Hypothesis strategies for fuzzing the HTTP API: paths, query strings, content types and bodies."""

from __future__ import annotations

import base64
import copy
import json
from urllib.parse import quote

import yaml
from hypothesis import strategies as st

from kapiserver.registry.catalog import BUILTIN

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "CONNECT")

NAMESPACES = ("default", "kube-system", "fuzz", "does-not-exist")
ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
NAMES = st.one_of(
    st.sampled_from(("w", "w", "web", "fuzz", "default", "a", "kubernetes", "..", ".", "-", "A_B", "x" * 64)),
    st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?", fullmatch=True),
    st.integers(min_value=254, max_value=4000).map(lambda n: "n" * n),
    ODD_TEXT,
)


def segment(text: str) -> str:
    """One path segment, percent-encoded the way a client would send odd characters."""
    return quote(text, safe="")


@st.composite
def resource_paths(draw, resource=None) -> str:
    """A path under a real built-in resource: namespace, name, subresource and extra steps at random."""
    info = resource if resource is not None else draw(st.sampled_from(BUILTIN))
    prefix = f"/api/{info.version}" if not info.group else f"/apis/{info.group}/{info.version}"
    steps = [prefix]
    if draw(st.booleans()) if not info.namespaced else draw(st.integers(0, 4)) > 0:
        steps.append("namespaces/" + segment(draw(st.one_of(st.sampled_from(NAMESPACES), NAMES))))
    steps.append(info.resource)
    if draw(st.booleans()):
        steps.append(segment(draw(NAMES)))
        subresources = [s.name for s in info.subresources] + ["status", "scale", "bogus", "log", "exec"]
        if draw(st.booleans()):
            steps.append(draw(st.sampled_from(subresources)))
            if draw(st.integers(0, 3)) == 0:
                steps.extend(segment(draw(NAMES)) for _ in range(draw(st.integers(1, 3))))
    if draw(st.integers(0, 9)) == 0:
        steps.insert(1, "watch")
    return "/".join(steps)


BOGUS_PATHS = st.one_of(
    st.sampled_from(("/", "/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1", "/api/v2/pods",
                     "/apis/nope/v1/things", "/apis/apps/v9/deployments", "/api/v1/namespaces",
                     "/api/v1/namespaces/default/bogus", "/api/v1/watch", "/apis/apps/v1/watch",
                     "/openapi/v2", "/openapi/v3", "/openapi/v3/apis/apps/v1", "/version", "/healthz",
                     "/readyz?verbose", "/livez/ping", "/metrics", "/logs", "//", "/api//v1//pods",
                     "/api/v1/namespaces//pods", "/api/v1/namespaces/default/pods/", "/.well-known/x")),
    st.lists(NAMES, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(segment(p) for p in parts)),
    st.lists(NAMES, min_size=1, max_size=5).map(lambda parts: "/apis/" + "/".join(segment(p) for p in parts)),
    st.lists(NAMES, min_size=1, max_size=5).map(lambda parts: "/api/" + "/".join(segment(p) for p in parts)),
    # Raw percent escapes that are not UTF-8.
    st.sampled_from(("/api/v1/namespaces/%FF/pods", "/api/v1/pods/%C0%AF", "/apis/%FE%FF/v1/x",
                     "/api/v1/namespaces/default/configmaps/%00", "/api/v1/%2e%2e/%2e%2e/version")),
)

PATHS = st.one_of(resource_paths(), BOGUS_PATHS)

GARBAGE = st.one_of(ODD_TEXT, st.sampled_from(("", "!", "=", "==", "a=", "=b", "a!=", "a in (", "a in ()",
                                               "a notin (b,", "!a,b", "a=b,", ",", "a==b==c", "x" * 400,
                                               "metadata.name=", "metadata.name==x", "spec.nodeName!=",
                                               "status.phase=Running", "bogus.field=1", "a,b,c", "a>1",
                                               "a<x", "-1", "0", "1e9", "true", "null")))


def tampered_continue(draw_bytes: bytes, valid_looking: bool) -> str:
    if valid_looking:
        try:
            token = json.loads(draw_bytes.decode("utf-8"))
        except ValueError:
            token = {"v": "meta.k8s.io/v1", "rv": draw_bytes.hex(), "start": draw_bytes.decode("latin-1")}
        return base64.b64encode(json.dumps(token).encode()).decode()
    return base64.b64encode(draw_bytes).decode()


CONTINUE_TOKENS = st.one_of(
    st.binary(max_size=40).map(lambda b: tampered_continue(b, False)),
    st.fixed_dictionaries({}, optional={
        "v": st.sampled_from(("meta.k8s.io/v1", "v2", "", None, 1)),
        "rv": st.one_of(st.integers(min_value=-2 ** 70, max_value=2 ** 70), st.text(max_size=5), st.none(),
                        st.floats(allow_nan=True)),
        "start": st.one_of(st.text(max_size=20), st.none(), st.integers(), st.lists(st.integers(), max_size=2)),
    }).map(lambda t: base64.b64encode(json.dumps(t).encode()).decode()),
    st.sampled_from(("", "!!!", "e30=", "bnVsbA==", "W10=", "ImEi",
                     "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiIvLi4vIn0=")),
    GARBAGE,
)

RESOURCE_VERSIONS = st.one_of(st.sampled_from(("", "0", "1", "-1", "9999999999", "18446744073709551616", "abc",
                                               " 1", "1.5", "0x10")), st.integers(-5, 10 ** 25).map(str))

QUERY_VALUES = {
    "labelSelector": GARBAGE,
    "fieldSelector": GARBAGE,
    "limit": st.one_of(st.integers(-5, 10 ** 20).map(str), GARBAGE),
    "continue": CONTINUE_TOKENS,
    "resourceVersion": RESOURCE_VERSIONS,
    "resourceVersionMatch": st.sampled_from(("", "Exact", "NotOlderThan", "exact", "bogus")),
    "watch": st.sampled_from(("true", "1", "false", "0", "", "yes")),
    "allowWatchBookmarks": st.sampled_from(("true", "false", "x")),
    "sendInitialEvents": st.sampled_from(("true", "false", "x")),
    "timeoutSeconds": st.sampled_from(("1", "0", "-1", "x", "1.5")),
    "dryRun": st.sampled_from(("All", "all", "", "bogus", "All,All")),
    "fieldValidation": st.sampled_from(("Strict", "Warn", "Ignore", "strict", "", "bogus")),
    "fieldManager": st.one_of(st.sampled_from(("kubectl", "", "m" * 200)), ODD_TEXT),
    "force": st.sampled_from(("true", "false", "x")),
    "propagationPolicy": st.sampled_from(("Orphan", "Background", "Foreground", "", "bogus")),
    "gracePeriodSeconds": st.one_of(st.integers(-10, 10 ** 20).map(str), GARBAGE),
    "orphanDependents": st.sampled_from(("true", "false", "x")),
    "pretty": st.sampled_from(("true", "false", "x")),
    "container": ODD_TEXT,
    "follow": st.sampled_from(("true", "false")),
    "tailLines": st.one_of(st.integers(-3, 10 ** 20).map(str), GARBAGE),
    "sinceSeconds": st.one_of(st.integers(-3, 10 ** 20).map(str), GARBAGE),
    "limitBytes": st.one_of(st.integers(-3, 10 ** 20).map(str), GARBAGE),
    "command": ODD_TEXT,
    "stdout": st.sampled_from(("true", "false", "x")),
    "ports": st.one_of(st.integers(-1, 70000).map(str), GARBAGE),
    "includeObject": st.sampled_from(("None", "Object", "Metadata", "bogus")),
}


@st.composite
def query_strings(draw) -> str:
    keys = draw(st.lists(st.sampled_from(sorted(QUERY_VALUES)), max_size=6, unique=True))
    pairs = [(k, draw(QUERY_VALUES[k])) for k in keys]
    if any(k == "watch" for k, _ in pairs):
        # Watches end on their own: a short timeout keeps each example bounded.
        pairs = [(k, v) for k, v in pairs if k != "timeoutSeconds"] + [("timeoutSeconds", "1")]
    if draw(st.integers(0, 9)) == 0:
        pairs.append((draw(ODD_TEXT), draw(ODD_TEXT)))
    if not pairs:
        return ""
    return "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


CONTENT_TYPES = st.sampled_from((
    None, "application/json", "application/json; charset=utf-8", "application/yaml",
    "application/vnd.kubernetes.protobuf", "application/json-patch+json", "application/merge-patch+json",
    "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/apply-patch+cbor",
    "text/plain", "application/cbor", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "garbage", "/", "application/", "application/json; charset=latin-1", "*/*", "application/*",
    "application/json;;;", "application/yaml; a=b=c"))

ACCEPTS = st.sampled_from((
    None, "application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "*/*", "text/html",
    "application/json;as=Table;v=v1;g=meta.k8s.io", "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", "application/json;as=Table;v=v9;g=x",
    "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch", "garbage", "",
    "application/json;q=0", "application/json;q=x", "application/cbor"))


# -- bodies ---------------------------------------------------------------------------------------------------

def seed_objects(namespace: str = "fuzz") -> dict[str, dict]:
    """One small valid object per kind, keyed by resource name."""
    containers = [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "1"],
                   "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "100m", "memory": "1Gi"}}}]
    template = {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": containers}}
    meta = {"name": "w", "namespace": namespace, "labels": {"app": "w"}, "annotations": {"a": "b"}}
    selector = {"matchLabels": {"app": "w"}}
    return {
        "configmaps": {"data": {"k": "v"}, "binaryData": {"b": "AAE="}},
        "secrets": {"stringData": {"p": "x"}, "data": {"d": "AAE="}, "type": "Opaque"},
        "pods": {"spec": {"containers": containers, "restartPolicy": "Always"}},
        "services": {"spec": {"selector": {"app": "w"}, "ports": [{"name": "http", "port": 80,
                                                                   "targetPort": 8080}]}},
        "deployments": {"spec": {"replicas": 1, "selector": selector, "template": template}},
        "replicasets": {"spec": {"replicas": 1, "selector": selector, "template": template}},
        "statefulsets": {"spec": {"serviceName": "w", "selector": selector, "template": template}},
        "daemonsets": {"spec": {"selector": selector, "template": template}},
        "jobs": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": containers}}}},
        "cronjobs": {"spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {
            "spec": {"restartPolicy": "Never", "containers": containers}}}}}},
        "namespaces": {"spec": {"finalizers": ["kubernetes"]}},
        "serviceaccounts": {"automountServiceAccountToken": False},
        "roles": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        "rolebindings": {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "w"},
                         "subjects": [{"kind": "ServiceAccount", "name": "w", "namespace": namespace}]},
        "horizontalpodautoscalers": {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w",
                                                                 "apiVersion": "apps/v1"},
                                              "minReplicas": 1, "maxReplicas": 3}},
        "leases": {"spec": {"holderIdentity": "x", "leaseDurationSeconds": 10}},
        "events": {"involvedObject": {"kind": "Pod", "name": "w", "namespace": namespace}, "reason": "R",
                   "message": "m", "type": "Normal"},
        "poddisruptionbudgets": {"spec": {"minAvailable": 1, "selector": selector}},
        "networkpolicies": {"spec": {"podSelector": selector, "policyTypes": ["Ingress"]}},
        "ingresses": {"spec": {"rules": [{"host": "a.example.com", "http": {"paths": [{
            "path": "/", "pathType": "Prefix", "backend": {"service": {"name": "w", "port": {"number": 80}}}}]}}]}},
        "limitranges": {"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}},
        "resourcequotas": {"spec": {"hard": {"pods": "10"}}},
        "persistentvolumeclaims": {"spec": {"accessModes": ["ReadWriteOnce"],
                                            "resources": {"requests": {"storage": "1Gi"}}}},
        "persistentvolumes": {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                       "hostPath": {"path": "/tmp"}}},
        "customresourcedefinitions": {"spec": {"group": "x.example.com", "scope": "Namespaced", "names": {
            "plural": "ws", "singular": "w", "kind": "W"}, "versions": [{"name": "v1", "served": True,
            "storage": True, "schema": {"openAPIV3Schema": {"type": "object",
                                                            "x-kubernetes-preserve-unknown-fields": True}}}]}},
        "subjectaccessreviews": {"spec": {"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods"}}},
        "selfsubjectaccessreviews": {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}},
        "tokenreviews": {"spec": {"token": "abc"}},
        "certificatesigningrequests": {"spec": {"request": "AAAA", "signerName": "example.com/x",
                                                "usages": ["digital signature"]}},
        "endpointslices": {"addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"]}],
                           "ports": [{"port": 80}]},
        "endpoints": {"subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 1}]}]},
        "bindings": {"target": {"kind": "Node", "name": "n"}},
        # Subresource kinds, keyed by subresource name.
        "scale": {"spec": {"replicas": 2}},
        "eviction": {"deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "x"}}},
        "binding": {"target": {"kind": "Node", "name": "n", "apiVersion": "v1"}},
        "token": {"spec": {"audiences": ["x"], "expirationSeconds": 3600,
                           "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "w"}}},
        "_meta": meta,
    }


def seed_object(info, name: str = "w", namespace: str = "fuzz") -> dict:
    seeds = seed_objects(namespace)
    meta = dict(seeds["_meta"], name=name)
    if not info.namespaced:
        meta.pop("namespace")
    api_version = f"{info.group}/{info.version}" if info.group else info.version
    return {"apiVersion": api_version, "kind": info.kind, "metadata": meta,
            **json.loads(json.dumps(seeds.get(info.resource, {})))}


def deep(depth: int, leaf=1, as_list: bool = False):
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


WEIRD_VALUES = st.deferred(lambda: _WEIRD_VALUES).map(copy.deepcopy)
_WEIRD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
    st.sampled_from((2 ** 63, -2 ** 63 - 1, 2 ** 64, 10 ** 30, 1e308, -1e308, 0.5, -0.0, 1e-320)),
    st.floats(allow_nan=False, allow_infinity=False), ODD_TEXT, st.text(max_size=3),
    st.sampled_from(("", "1Gi", "-1", "1e999", "NaN", "999999999999999999999Ti", "\u0000", "\ud7ff\ue000",
                     "x" * 70000, "*", "0x1")),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    st.integers(10, 200).map(lambda n: deep(n)), st.integers(10, 200).map(lambda n: deep(n, as_list=True)),
    st.just([{"name": "main"}, {"name": "main"}]), st.just({"": None}),
)


def json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_paths(v, prefix + (i,))


@st.composite
def mutated(draw, obj: dict, most: int = 3) -> dict:
    """obj with a few values replaced by wrong types, or keys added or dropped, at random paths."""
    obj = json.loads(json.dumps(obj))
    for _ in range(draw(st.integers(1, most))):
        paths = list(json_paths(obj))
        path = draw(st.sampled_from(paths))
        if not path:
            if draw(st.integers(0, 9)) == 0:
                return draw(WEIRD_VALUES)
            continue
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(("replace", "replace", "delete", "add", "wrap")))
        if action == "replace":
            parent[path[-1]] = draw(WEIRD_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif action == "wrap":
            parent[path[-1]] = [parent[path[-1]]] if draw(st.booleans()) else {"x": parent[path[-1]]}
        elif isinstance(parent, dict):
            parent[draw(st.one_of(ODD_TEXT, st.sampled_from(("spec", "status", "metadata", "kind"))))] = \
                draw(WEIRD_VALUES)
        else:
            parent.append(draw(WEIRD_VALUES))
    return obj


YAML_BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x]"] +
                      [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                       f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(7)]).encode()


@st.composite
def encoded_bodies(draw, obj) -> bytes:
    """obj as JSON, YAML or protobuf-looking bytes, or corrupted bytes."""
    how = draw(st.sampled_from(("json", "json", "yaml", "bomb", "utf8", "proto", "raw", "truncated", "empty",
                                "aliasyaml", "dupkeys")))
    text = json.dumps(obj, allow_nan=True)
    if how == "json":
        return text.encode()
    if how == "yaml":
        return yaml.safe_dump(obj).encode()
    if how == "bomb":
        return YAML_BOMB
    if how == "aliasyaml":
        return b"metadata: &m {name: w}\nspec: *m\nkind: *m\napiVersion: v1\n"
    if how == "dupkeys":
        return b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"},"kind":"Pod"}'
    if how == "utf8":
        raw = bytearray(text.encode())
        position = draw(st.integers(0, len(raw)))
        raw[position:position] = draw(st.sampled_from((b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80\x80",
                                                       b"\x00")))
        return bytes(raw)
    if how == "proto":
        return b"k8s\x00" + draw(st.binary(max_size=200))
    if how == "truncated":
        return text.encode()[:draw(st.integers(0, len(text)))]
    if how == "empty":
        return b""
    return draw(st.binary(max_size=300))


def patch_bodies(obj) -> st.SearchStrategy:
    ops = st.fixed_dictionaries({"op": st.sampled_from(("add", "remove", "replace", "move", "copy", "test",
                                                        "bogus", "")),
                                 "path": st.one_of(st.sampled_from(("/metadata/labels/x", "/spec", "/", "",
                                                                     "/metadata/name", "/spec/containers/0",
                                                                     "/spec/containers/-", "/a/b/c/d",
                                                                     "/metadata/labels/~2", "x")), ODD_TEXT)},
                                optional={"value": WEIRD_VALUES, "from": st.sampled_from(("/metadata", "/x", ""))})
    return st.one_of(
        st.lists(ops, max_size=4).map(lambda o: json.dumps(o).encode()),
        mutated(obj).map(lambda o: json.dumps(o).encode()),
        WEIRD_VALUES.map(lambda v: json.dumps(v).encode()),
        encoded_bodies(obj),
    )
