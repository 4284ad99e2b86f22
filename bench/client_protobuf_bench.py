"""
Should the client ask for protobuf lists? Run by hand (never by the tests):

    python bench/client_protobuf_bench.py [--pods 500]

Builds a PodList of realistic pods (as a kubelet-run Deployment's pods look: labels, ownerReferences,
managedFields, one container with resources, probes and env, status with conditions and containerStatuses),
encodes it as Kubernetes protobuf with a small table-driven encoder (the reverse of
kapiserver.machinery.protobuf's decoder; the bench's own, since the server answers JSON only), checks that
the decoder gives back the JSON form, and times decoding it against orjson.loads of the JSON form.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import orjson  # noqa: E402

from kapiserver.machinery.protobuf import MAGIC, decode, messages  # noqa: E402


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, data: bytes) -> bytes:
    return tag(number, 2) + varint(len(data)) + data


def scalar(number: int, kind: str, value) -> bytes:
    if kind in ("string", "bytes"):
        return length_delimited(number, value.encode() if isinstance(value, str) else value)
    if kind == "bool":
        return tag(number, 0) + varint(1 if value else 0)
    if kind in ("int32", "int64", "uint32", "uint64"):
        return tag(number, 0) + varint(int(value))
    raise NotImplementedError(kind)


def special(name: str, value) -> bytes:
    if name == "meta.v1.Time":
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return scalar(1, "int64", int(when.timestamp()))
    if name == "resource.Quantity":
        return scalar(1, "string", value)
    if name == "intstr.IntOrString":
        return scalar(1, "int64", 0) + scalar(2, "int32", value) if isinstance(value, int) else \
            scalar(1, "int64", 1) + scalar(3, "string", value)
    if name == "meta.v1.FieldsV1":
        return scalar(1, "bytes", orjson.dumps(value))
    raise NotImplementedError(name)


SPECIAL = {"meta.v1.Time", "resource.Quantity", "intstr.IntOrString", "meta.v1.FieldsV1"}


def encode(name: str, obj) -> bytes:
    if name in SPECIAL:
        return special(name, obj)
    table = messages.message(name)
    by_name = {f.name: f for f in table.fields.values()}
    out = b""
    for key, value in obj.items():
        field = by_name.get(key)
        if field is None or value is None:
            continue
        values = value if field.repeated else [value]
        for item in values:
            out += one(field, item)
    return out


def one(field, value) -> bytes:
    kind = field.type
    if kind.name == "map":
        return b"".join(length_delimited(field.number, one_entry(kind, k, v)) for k, v in value.items())
    if kind.scalar:
        return scalar(field.number, kind.name, value)
    return length_delimited(field.number, encode(kind.name, value))


def one_entry(kind, key, value) -> bytes:
    value_bytes = scalar(2, kind.value.name, value) if kind.value.scalar else \
        length_delimited(2, encode(kind.value.name, value))
    return scalar(1, kind.key.name, key) + value_bytes


def pod(i: int) -> dict:
    stamp = "2026-12-05T18:00:00Z"
    return {
        "metadata": {
            "name": f"web-7d4b9c8f6d-{i:05d}", "generateName": "web-7d4b9c8f6d-", "namespace": "default",
            "uid": f"0b1f6a3e-1c2d-4e5f-8a9b-{i:012d}", "resourceVersion": str(1000 + i),
            "creationTimestamp": stamp, "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6d"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f6d",
                                 "uid": "5c1d2e3f-aaaa-bbbb-cccc-123456789012", "controller": True,
                                 "blockOwnerDeletion": True}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
                               "apiVersion": "v1", "time": stamp, "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}}}],
        },
        "spec": {
            "containers": [{
                "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "production"}, {"name": "LEVEL", "value": "info"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "500m", "memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"},
                                   "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
                                   "failureThreshold": 3},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": f"node-{i % 3}",
            "securityContext": {}, "schedulerName": "default-scheduler",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
            "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": stamp}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "hostIP": "10.0.0.2", "podIP": f"10.244.{i // 250}.{i % 250}", "startTime": stamp,
            "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "image": "nginx:1.27",
                                   "imageID": "docker.io/library/nginx@sha256:" + "ab" * 32,
                                   "containerID": "containerd://" + "cd" * 32, "started": True,
                                   "state": {"running": {"startedAt": stamp}}}],
            "qosClass": "Burstable",
        },
    }


def best(fn, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=500)
    args = parser.parse_args()
    items = [pod(i) for i in range(args.pods)]
    pod_list = {"metadata": {"resourceVersion": "5000"}, "items": items}
    raw = encode("core.v1.PodList", pod_list)
    envelope = length_delimited(1, scalar(1, "string", "v1") + scalar(2, "string", "PodList")) + \
        length_delimited(2, raw)
    body = MAGIC + envelope
    json_body = orjson.dumps({"apiVersion": "v1", "kind": "PodList", **copy.deepcopy(pod_list)})
    decoded = decode(body)
    first = decoded["items"][0]
    assert first["metadata"]["name"] == items[0]["metadata"]["name"]
    assert first["spec"]["containers"][0]["resources"] == items[0]["spec"]["containers"][0]["resources"]
    assert len(decoded["items"]) == args.pods
    t_json = best(lambda: orjson.loads(json_body))
    t_proto = best(lambda: decode(body))
    print(f"PodList of {args.pods} pods: JSON {len(json_body) / 1024:.0f} KiB, protobuf {len(body) / 1024:.0f} KiB")
    print(f"orjson.loads        {t_json * 1000:8.1f} ms  ({args.pods / t_json:,.0f} pods/s)")
    print(f"protobuf decode     {t_proto * 1000:8.1f} ms  ({args.pods / t_proto:,.0f} pods/s)")
    print(f"protobuf / JSON     {t_proto / t_json:8.1f}x the time")


if __name__ == "__main__":
    main()
