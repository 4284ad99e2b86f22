"""The server's application/yaml answers are byte for byte what kubectl -o yaml prints of the same object: both
are upstream's JSON-to-YAML conversion (sigs.k8s.io/yaml over go-yaml v2), kubectl's on the JSON it read."""

from __future__ import annotations

import json
import time

from .conftest import http_request

TRICKY_STRINGS = {
    "note": "line one\nline two\n", "trail": "no newline\nend", "spaces": "  lead", "colon": "a: b", "hash": "# x",
    "empty": "", "num": "3", "float": "1.5", "bool": "true", "y": "y", "tilde": "~", "null": "null",
    "ts": "2024-01-01T00:00:00Z", "date": "2024-01-02", "hex": "0x1F", "exp": "1e3", "sixty": "1:20", "octal": "010",
    "star": "*x", "amp": "&x", "dash": "- x", "q": "'quoted'", "dq": 'say "hi"', "uni": "h\u00e9llo \u2713",
    "long": " ".join(c * 4 for c in "abcdefghijklmnopqrstu"), "tab": "a\tb", "pct": "50%", "at": "@x", "bt": "`x",
    "comma": "a, b", "brace": "{x}", "dot": ".5", "plus": "+1", "neg": "-1", "under": "1_000", "yes": "Yes",
    "on": "ON", "inf": ".inf", "nan": ".NaN", "merge": "<<", "eq": "=", "ends": "ends with space \nx",
    "blank": "multi\nline\n\n", "ctrl": "bell\u0007", "crlf": "a\r\nb", "lf": "\n", "bang": "!x", "pipe": "|x"}

CONFIGMAP = {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "yaml-tricky", "labels": {"app": "x", "a10": "1", "a2": "2", "B": "b", "a-b": "c", "ab": "d"},
                 "annotations": TRICKY_STRINGS},
    "data": {"00-base.conf": "x", "010-extra.conf": "y", "9": "n", "10": "m", "key.with.dots": "v", "Z": "z",
             "_u": "u", "-d": "d", ".e": "e", **{f"s-{k}": v for k, v in TRICKY_STRINGS.items()}}}

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "yamlthings.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "yamlthings", "singular": "yamlthing", "kind": "YamlThing"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}

THING = {
    "apiVersion": "example.com/v1", "kind": "YamlThing", "metadata": {"name": "t1"},
    "spec": {"ints": [0, 1, -1, 9007199254740993, -9223372036854775808],
             "floats": [0.5, 1.0, 1e6, 1234567.5, 1e-5, 0.0001, 2.5e-7, 1e21, -3.25, 100.0, 1.5e300],
             "bools": [True, False], "nothing": None, "emptyMap": {}, "emptyList": [],
             "nested": [{"b": 1, "a": [1, [2, 3], {"z": None}]}, [], {}],
             "strings": ["2024-1-2", "2024-13-01", "2024-01-01 10:00:00", "2024-01-01t10:00:00+01:00", "0o17",
                         "0b101", "-0b101", "1__0", "+.inf", "-.5", "1.", "1e", "0x", "99999999999999999999",
                         "12:30:45", "1.2.3", "Off", "nO", "N", "e5", ".Nan", "0o", "-0o", "0b"],
             "keys": {"a01": 1, "a1": 2, "a001": 3, "a0": 4, "a00": 5, "b2c3": 6, "b2c10": 7, "\u00e4": 8, "z": 9,
                      "\u03a9": 10, "1a": 11, "01a": 12, "a.b": 13, "a/b": 14, "A": 15, "\u00e91": 16}}}


def _yaml(apiserver, path: str) -> str:
    status, body = http_request(apiserver.url + path, "GET", headers={"Accept": "application/yaml"})
    assert status == 200, body
    return body


def test_yaml_answers_are_what_kubectl_prints(apiserver, kubectl):
    status, body = apiserver.request("POST", "/api/v1/namespaces/default/configmaps", CONFIGMAP)
    assert status == 201, body
    printed = kubectl("get", "configmap", "yaml-tricky", "-o", "yaml", "--show-managed-fields").stdout
    assert _yaml(apiserver, "/api/v1/namespaces/default/configmaps/yaml-tricky") == printed
    assert '  "9": "n"\n' in printed and "  note: |\n" in printed    # the comparison covers quoting and blocks

    status, body = apiserver.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert status == 201, body
    deadline = time.monotonic() + 10
    while True:
        status, body = apiserver.request("POST", "/apis/example.com/v1/namespaces/default/yamlthings", THING)
        if status == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 201, json.dumps(body)
    printed = kubectl("get", "yamlthings.example.com", "t1", "-o", "yaml", "--show-managed-fields").stdout
    assert _yaml(apiserver, "/apis/example.com/v1/namespaces/default/yamlthings/t1") == printed
