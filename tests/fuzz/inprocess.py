"""An in-process fuzzer of the write path: mutated bodies, made from a valid object of every built-in kind
(tests/fuzz/seeds.py), sent through the real request path (APIRoot behind the runtime's limits, over a
MemoryStorage registry, tests/endpoints/inprocess.py) as creates, updates, status updates and every patch type;
an answer of 500 (other than the few upstream itself gives for bad input) or an error logged while serving is a
finding. Deterministic for a seed.

By hand, a bigger round: ``python -m tests.fuzz.inprocess --seed 7 --rounds 300 [--kind flowschemas]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from twisted.logger import LogLevel, globalLogPublisher

from kapiserver.registry.catalog import BUILTIN

from tests.endpoints.inprocess import served

from .seeds import NAMESPACE, custom_kinds, seed_body

# The 500s upstream 1.32 answers itself for bad patches (plain Go errors; see test_http_fuzz.UPSTREAM_500_MESSAGES).
UPSTREAM_500_MESSAGES = (
    "failed to create typed patch object (", "map: map[", "list element types are not identical", "expected a ",
    "unknown patch type", "unexpected patch strategy", "no elements in any", "The order in patch list",
    "cannot merge lists without merge key", "merging lists cannot yet be specified", "Component not found: ",
    # A Binding's validation errors, which upstream's BindingREST.Create returns as an aggregate (no reason).
    "target.kind: ", "target.name: ",
)

ODD_STRINGS = ("", " ", "-", "*", "..", "a" * 300, "ü", "日本語", "\u202e", "\U0001F600", "0", "-1", "1e999",
               "NaN", "true", "null", "a=b", "a/b/c", "a.b.c", "system:masters", "A_B", "x y", "%", "\t",
               "::1", "10.0.0.0/33", "999999999999999999999Ti", "1Gi", "-1Gi", "0x10", "${x}", "[", "{}",
               "2024-01-01T00:00:00Z", "kubernetes.io/x", "example.com/", "/", "//", "Exists", "In", "*.x")
ODD_NUMBERS = (0, -1, 1, 2 ** 31 - 1, 2 ** 31, -2 ** 31 - 1, 2 ** 53, 2 ** 63 - 1, 2 ** 63, -2 ** 63, 2 ** 64,
               10 ** 30, 0.5, -0.0, 1e308, 1e-320, 3.0)
WRONG_TYPES = (None, True, False, 0, -7, 2 ** 70, 1.5, "", "x", [], [None], [1, "a"], {}, {"": None},
               {"a": [{"b": {}}]}, [[[]]], {"x": {"y": {"z": [1, {"w": None}]}}})


def _scalar_like(rng: random.Random, value: Any) -> Any:
    """A value of the same JSON type as ``value``, chosen to be odd."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice(ODD_NUMBERS + (value + 1, -value, value * 1000))
    if isinstance(value, float):
        return rng.choice((0.0, -1.0, 1e308, 0.5))
    if isinstance(value, str):
        return rng.choice(ODD_STRINGS + (value + value, value.upper(), value[:1], value + "-", "-" + value))
    return value


def _junk(rng: random.Random, depth: int = 0) -> Any:
    """Nested JSON of any shape."""
    pick = rng.random()
    if depth > 3 or pick < 0.4:
        return rng.choice(WRONG_TYPES[:9] + ODD_STRINGS[:12] + ODD_NUMBERS[:8])
    if pick < 0.7:
        return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(ODD_STRINGS[:10] + ("a", "b", "$patch", "apiVersion", "kind")): _junk(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


# The bodies of the subresources that are created (their own kinds).
SUBRESOURCE_BODIES = {
    "eviction": {"deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "x", "resourceVersion": "1"},
                                   "propagationPolicy": "Background", "dryRun": ["All"]}},
    "binding": {"target": {"kind": "Node", "name": "n", "apiVersion": "v1"}},
    "token": {"spec": {"audiences": ["x"], "expirationSeconds": 3600,
                       "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "w"}}},
}


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def mutate(rng: random.Random, obj: Any, count: int = 2, keep_types: float = 0.75) -> Any:
    """``obj`` (copied) with ``count`` changes at random places: mostly odd values of the right JSON type (which
    get past the typed decoder to defaulting, validation and storage), else wrong types, nulls, empty and
    duplicated members, dropped keys, added keys and nested junk."""
    obj = copy.deepcopy(obj)
    for _ in range(count):
        paths = [p for p in _paths(obj) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        key, value = path[-1], parent[path[-1]]
        if rng.random() < keep_types:
            if isinstance(value, list):
                action = rng.choice(("empty", "dup", "dup", "drop", "reverse", "null", "zero"))
                if action == "null":
                    # A null member decodes as the zero value of the member's type ({} or "").
                    value.insert(rng.randrange(len(value) + 1), None)
                elif action == "zero" and value:
                    index = rng.randrange(len(value))
                    value[index] = type(value[index])() if isinstance(value[index], (dict, str, list)) else 0
                elif action == "empty" or not value:
                    parent[key] = []
                elif action == "dup":
                    value.insert(rng.randrange(len(value) + 1), copy.deepcopy(rng.choice(value)))
                elif action == "drop":
                    del value[rng.randrange(len(value))]
                else:
                    value.reverse()
            elif isinstance(value, dict):
                action = rng.choice(("empty", "addkey", "dropkey", "junk"))
                if action == "empty" or not value:
                    parent[key] = {}
                elif action == "dropkey":
                    del value[rng.choice(list(value))]
                elif action == "addkey":
                    value[rng.choice(ODD_STRINGS)] = copy.deepcopy(rng.choice(list(value.values())))
                else:
                    value[rng.choice(ODD_STRINGS[:6] + ("x",))] = _junk(rng)
            else:
                parent[key] = _scalar_like(rng, value)
        else:
            action = rng.choice(("type", "type", "null", "delete", "junk", "wrap"))
            if action == "type":
                parent[key] = copy.deepcopy(rng.choice(WRONG_TYPES))
            elif action == "null":
                parent[key] = None
            elif action == "delete":
                del parent[key]
            elif action == "junk":
                parent[key] = _junk(rng)
            else:
                parent[key] = [value] if rng.random() < 0.5 else {"x": value}
    return obj


def _directives(rng: random.Random, patch: Any) -> Any:
    """A strategic merge patch with patch directives sprinkled in at random maps."""
    for _ in range(rng.randint(1, 3)):
        maps = [p for p in _paths(patch) if _at(patch, p).__class__ is dict]
        if not maps:
            break
        target = _at(patch, rng.choice(maps))
        lists = [k for k, v in target.items() if isinstance(v, list)]
        choice = rng.randrange(6)
        if choice == 0:
            target["$patch"] = rng.choice(("replace", "delete", "merge", "bogus", None, 1, []))
        elif choice == 1:
            target["$retainKeys"] = rng.choice((list(target)[:2], [], None, "x", [1], [{}]))
        elif choice == 2 and lists:
            name = rng.choice(lists)
            target["$setElementOrder/" + name] = rng.choice((target[name], [], [{}], [None], "x",
                                                              target[name] + target[name]))
        elif choice == 3 and lists:
            target["$deleteFromPrimitiveList/" + rng.choice(lists)] = rng.choice((["a"], [], [{}], "x", None))
        elif choice == 4 and lists:
            name = rng.choice(lists)
            target[name] = [{"$patch": rng.choice(("delete", "replace", "merge", "x"))}] + target[name][:1]
        else:
            target["$" + rng.choice(("bogus", "patch", "retainKeys"))] = _junk(rng)
    return patch


def _at(value, path):
    for step in path:
        value = value[step]
    return value


def _subset(rng: random.Random, obj: dict) -> dict:
    """Some of ``obj``'s top fields (a patch document)."""
    keys = [k for k in obj if k not in ("apiVersion", "kind")]
    chosen = rng.sample(keys, rng.randint(1, len(keys))) if keys else []
    return {k: copy.deepcopy(obj[k]) for k in chosen}


def _json_patch(rng: random.Random, obj: dict) -> list:
    paths = [p for p in _paths(obj) if p]
    ops = []
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(paths) if paths else ()
        pointer = "/" + "/".join(str(s).replace("~", "~0").replace("/", "~1") for s in path)
        op = {"op": rng.choice(("add", "remove", "replace", "move", "copy", "test", "add", "replace")),
              "path": rng.choice((pointer, pointer, pointer + "/-", pointer + "/0", "/", "", "/x/y"))}
        if op["op"] in ("add", "replace", "test"):
            current = _at(obj, path) if path else obj
            op["value"] = rng.choice((_scalar_like(rng, current), None, _junk(rng), copy.deepcopy(current)))
        if op["op"] in ("move", "copy"):
            op["from"] = rng.choice((pointer, "/metadata/labels", "/nope"))
        ops.append(op)
    return ops


@dataclass
class Finding:
    what: str
    code: int
    message: str
    body: bytes
    logged: list[str] = field(default_factory=list)

    def __str__(self):
        logged = "\n".join(self.logged)[-3000:]
        return f"{self.code} for {self.what}: {self.message[:500]}\n  body: {self.body[:600]!r}\n{logged}"


def _collection(info) -> str:
    prefix = f"/api/{info.version}" if not info.group else f"/apis/{info.group}/{info.version}"
    return prefix + (f"/namespaces/{NAMESPACE}" if info.namespaced else "") + "/" + info.resource


def _upstream_500(message: str) -> bool:
    return any(message.startswith(m) or m in message[:200] for m in UPSTREAM_500_MESSAGES)


class Fuzzer:
    """One served API with a seed object of every kind, and the rounds of mutated requests against it."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.findings: list[Finding] = []
        self.requests = 0
        self.logged: list[str] = []
        from kapiserver.controllers.crd import CRDController
        self.call = served(lambda registry, clock: CRDController(registry, clock), namespace=NAMESPACE)
        self.kinds = [info for info in BUILTIN if info.resource != "componentstatuses"] + custom_kinds()
        # Bindings last (they bind the seed pod), custom resources after their CRD.
        self.kinds.sort(key=lambda info: (info.resource == "bindings", info.group == "x.example.com"))
        self.seeds = {}
        for info in self.kinds:
            body = seed_body(info)
            self.seeds[(info.group, info.version, info.resource)] = body
            answer = self.call("POST", _collection(info), body)
            if answer.code == 409 and info.group == "x.example.com":
                body["metadata"]["name"] = "w" + info.version
                self.seeds[(info.group, info.version, info.resource)] = body
                answer = self.call("POST", _collection(info), body)
            assert answer.code in (201, 200, 409) or info.resource == "bindings", (info.resource, answer.body)

    def _observe(self, event):
        level = event.get("log_level")
        if level in (LogLevel.error, LogLevel.critical) or event.get("log_failure") is not None:
            from twisted.logger import formatEvent
            text = formatEvent(event)
            failure = event.get("log_failure")
            if failure is not None:
                text += "\n" + failure.getTraceback()
            self.logged.append(text)

    def send(self, what: str, method: str, path: str, body: Any, content_type: str = "application/json") -> int:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.logged.clear()
        self.requests += 1
        try:
            answer = self.call(method, path, data, content_type)
        except AssertionError:
            self.findings.append(Finding(f"{what}: {method} {path} ({content_type})", 0, "no answer", data,
                                         list(self.logged)))
            return 0
        decoded = answer.body if isinstance(answer.body, dict) else {"message": str(answer.body)}
        message = str(decoded.get("message", ""))
        mirrored = not decoded.get("reason") and _upstream_500(message)
        if (answer.code >= 500 and answer.code not in (503, 504) and not mirrored) or self.logged:
            self.findings.append(Finding(f"{what}: {method} {path} ({content_type})", answer.code, message, data,
                                         list(self.logged)))
        return answer.code

    def current(self, info) -> Optional[dict]:
        name = self.seeds[(info.group, info.version, info.resource)]["metadata"]["name"]
        answer = self.call("GET", f"{_collection(info)}/{name}")
        return answer.body if answer.code == 200 else None

    def round(self, info) -> None:
        rng = self.rng
        key = (info.group, info.version, info.resource)
        seed = self.seeds[key]
        name = seed["metadata"]["name"]
        collection = _collection(info)
        live = self.current(info) or seed
        subresources = [s.name for s in info.subresources if s.name in ("status", "scale", "approval", "finalize",
                                                                         "ephemeralcontainers")]
        target = f"{collection}/{name}"
        if subresources and rng.random() < 0.4:
            target += "/" + rng.choice(subresources)
        count = rng.choice((1, 1, 2, 3, 5))
        operation = rng.choice(("create", "update", "update", "merge", "strategic", "json", "apply"))
        created = [s for s in info.subresources if s.name in SUBRESOURCE_BODIES]
        if created and rng.random() < 0.3:
            sub = rng.choice(created)
            body = {"apiVersion": f"{sub.group}/{sub.version}" if sub.group else sub.version or info.version,
                    "kind": sub.kind, "metadata": {"name": name, "namespace": NAMESPACE},
                    **copy.deepcopy(SUBRESOURCE_BODIES[sub.name])}
            self.send(f"{info.resource}/{sub.name}", "POST", f"{collection}/{name}/{sub.name}",
                      mutate(rng, body, count))
            return
        if operation == "create":
            body = mutate(rng, seed, count)
            if isinstance(body.get("metadata"), dict) and "name" in body["metadata"] and rng.random() < 0.8:
                body["metadata"]["name"] = rng.choice(("f1", "f2", name))
            self.send(info.resource, "POST", collection, body)
            return
        base = live
        if target.endswith("/scale"):
            base = self.call("GET", target).body
            if not isinstance(base, dict):
                return
        if operation == "update":
            body = mutate(rng, base, count)
            if rng.random() < 0.5 and isinstance(body.get("metadata"), dict):
                body["metadata"].pop("resourceVersion", None)
            self.send(info.resource, "PUT", target, body)
        elif operation == "merge":
            self.send(info.resource, "PATCH", target, mutate(rng, _subset(rng, base), count),
                      "application/merge-patch+json")
        elif operation == "strategic":
            patch = _directives(rng, mutate(rng, _subset(rng, base), count)) if rng.random() < 0.5 \
                else mutate(rng, _subset(rng, base), count)
            self.send(info.resource, "PATCH", target, patch, "application/strategic-merge-patch+json")
        elif operation == "json":
            self.send(info.resource, "PATCH", target, _json_patch(rng, base), "application/json-patch+json")
        else:
            body = mutate(rng, base, count)
            if isinstance(body.get("metadata"), dict):
                for k in ("resourceVersion", "managedFields", "uid", "creationTimestamp", "generation"):
                    body["metadata"].pop(k, None)
            force = "&force=true" if rng.random() < 0.7 else ""
            self.send(info.resource, "PATCH", f"{target}?fieldManager=fuzz{force}", body,
                      "application/apply-patch+yaml")

    def run(self, rounds: int, kinds=None) -> list[Finding]:
        globalLogPublisher.addObserver(self._observe)
        try:
            chosen = [info for info in self.kinds if kinds is None or info.resource in kinds]
            for _ in range(rounds):
                for info in chosen:
                    self.round(info)
        finally:
            globalLogPublisher.removeObserver(self._observe)
        return self.findings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--kind", action="append", help="a resource to fuzz (all when absent)")
    parser.add_argument("--show", type=int, default=20, help="findings to print")
    parser.add_argument("--out", help="a file to write every finding to, as JSON lines")
    args = parser.parse_args(argv)
    started = time.monotonic()
    fuzzer = Fuzzer(args.seed)
    findings = fuzzer.run(args.rounds, args.kind)
    if args.out:
        with open(args.out, "w") as out:
            for finding in findings:
                out.write(json.dumps({"what": finding.what, "code": finding.code, "message": finding.message,
                                      "body": finding.body.decode("utf-8", "replace"),
                                      "logged": finding.logged}) + "\n")
    seen = set()
    for finding in findings:
        signature = (finding.what.split(":")[0], finding.code, finding.message[:80])
        if signature in seen:
            continue
        seen.add(signature)
        if len(seen) <= args.show:
            print(finding, "\n")
    print(f"{fuzzer.requests} requests, {len(findings)} findings ({len(seen)} distinct) in "
          f"{time.monotonic() - started:.1f}s", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
