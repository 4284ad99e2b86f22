"""A container's environment as upstream's kubelet builds it (kapiserver.node.environment)."""

import base64

import pytest

from kapiserver.node.environment import (ContainerConfigError, Sources, container_environment, field_value,
                                         service_environment)

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"b": "2", "a": "1"},
                    "annotations": {"note": 'say "hi"'}},
       "spec": {"nodeName": "n1", "serviceAccountName": "robot", "containers": [{"name": "c"}]}}


def _secret(**data):
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def _env(container, sources=None, pod=POD):
    return container_environment(pod, container, sources or Sources(), {"PATH": "/bin"}, ["10.0.0.1"],
                                 ["10.0.0.1", "fd00::1"])


def test_env_from_config_maps_and_secrets_with_prefixes_and_invalid_keys_skipped():
    """envFrom sources apply in order under their prefix, keys that are no variable names are skipped, and
    env entries override them."""
    sources = Sources(config_maps={"cm": {"data": {"A": "cm", "1BAD": "x", "B": "cm"}}},
                      secrets={"s": _secret(B="secret", C="c")})
    env = _env({"envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}, "prefix": "S_"},
                            {"secretRef": {"name": "s"}}],
                "env": [{"name": "A", "value": "literal"}]}, sources)
    assert env["A"] == "literal" and env["B"] == "secret" and env["C"] == "c" and env["S_B"] == "secret"
    assert "1BAD" not in env and env["PATH"] == "/bin"


def test_missing_sources_are_errors_unless_optional():
    """A missing ConfigMap or Secret (or key) gives upstream's message; optional ones leave the variable out."""
    sources = Sources(config_maps={"cm": {"data": {"k": "v"}}, "gone": None})
    with pytest.raises(ContainerConfigError, match='^configmap "gone" not found$'):
        _env({"envFrom": [{"configMapRef": {"name": "gone"}}]}, sources)
    with pytest.raises(ContainerConfigError, match='^secret "nope" not found$'):
        _env({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}, sources)
    with pytest.raises(ContainerConfigError, match="^couldn't find key other in ConfigMap ns/cm$"):
        _env({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "other"}}}]}, sources)
    env = _env({"envFrom": [{"configMapRef": {"name": "gone", "optional": True}}],
                "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "o", "optional": True}}},
                        {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]}, sources)
    assert "X" not in env and env["Y"] == "v"


def test_dependent_variables_expand_in_declaration_order():
    """$(VAR) sees the variables declared before it and the service variables; a later one, an unknown one
    and $$ stay literal."""
    sources = Sources(services=[{"metadata": {"name": "db", "namespace": "ns"},
                                 "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 5432}]}}])
    env = _env({"env": [{"name": "EARLY", "value": "$(LATE)"}, {"name": "LATE", "value": "late"},
                        {"name": "URL", "value": "pg://$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)/$(LATE)"},
                        {"name": "ESC", "value": "$$(LATE) $(UNKNOWN)"}]}, sources)
    assert env["EARLY"] == "$(LATE)" and env["URL"] == "pg://10.96.0.5:5432/late"
    assert env["ESC"] == "$(LATE) $(UNKNOWN)"


def test_field_refs():
    """fieldRef paths give the pod's metadata, spec and IPs; labels and annotations as sorted key="value"
    lines."""
    assert field_value(POD, "metadata.labels", ["h"], ["p"]) == 'a="1"\nb="2"'
    assert field_value(POD, "metadata.annotations", ["h"], ["p"]) == 'note="say \\"hi\\""'
    assert field_value(POD, "metadata.labels['b']", ["h"], ["p"]) == "2"
    env = _env({"env": [{"name": n, "valueFrom": {"fieldRef": {"fieldPath": p}}} for n, p in (
        ("SA", "spec.serviceAccountName"), ("NODE", "spec.nodeName"), ("IPS", "status.podIPs"),
        ("HOST", "status.hostIP"), ("UID", "metadata.uid"), ("NS", "metadata.namespace"))]})
    assert (env["SA"], env["NODE"], env["IPS"], env["HOST"], env["UID"], env["NS"]) == \
        ("robot", "n1", "10.0.0.1,fd00::1", "10.0.0.1", "u-1", "ns")


def test_resource_field_refs_with_divisors_and_the_node_allocatable_for_no_limit():
    """resourceFieldRef divides (rounding up) by its divisor; a limit not set is the node's allocatable; a
    request not set is 0."""
    container = {"name": "c", "resources": {"limits": {"cpu": "250m"}, "requests": {"memory": "64Mi"}}}
    sources = Sources(allocatable={"cpu": "4", "memory": "8Gi"})

    def ref(resource, divisor=None):
        out = {"resource": resource}
        if divisor:
            out["divisor"] = divisor
        return {"valueFrom": {"resourceFieldRef": out}}
    env = _env(dict(container, env=[
        dict(ref("limits.cpu"), name="CPU"), dict(ref("limits.cpu", "1m"), name="MILLI"),
        dict(ref("limits.memory", "1Mi"), name="MEM"), dict(ref("requests.memory", "1Mi"), name="REQ"),
        dict(ref("requests.cpu"), name="REQCPU")]), sources)
    assert (env["CPU"], env["MILLI"], env["MEM"], env["REQ"], env["REQCPU"]) == ("1", "250", "8192", "64", "0")


def test_service_variables_as_upstream_and_without_links_only_the_master_service():
    """Every Service of the namespace with a cluster IP gives the host/port and Docker link variables; with
    enableServiceLinks false only the master service does, whose address is where the apiserver really is."""
    sources = Sources(master=("127.0.0.1", 6443), services=[
        {"metadata": {"name": "my-svc", "namespace": "ns"},
         "spec": {"clusterIP": "10.0.0.11", "ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                                                     {"name": "dns", "port": 53, "protocol": "UDP"}]}},
        {"metadata": {"name": "headless", "namespace": "ns"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}},
        {"metadata": {"name": "other", "namespace": "elsewhere"}, "spec": {"clusterIP": "10.0.0.9",
                                                                          "ports": [{"port": 1}]}},
        {"metadata": {"name": "kubernetes", "namespace": "default"},
         "spec": {"clusterIP": "10.0.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}])
    env = service_environment("ns", True, sources)
    assert {k: v for k, v in env.items() if k.startswith("MY_SVC")} == {
        "MY_SVC_SERVICE_HOST": "10.0.0.11", "MY_SVC_SERVICE_PORT": "80", "MY_SVC_SERVICE_PORT_HTTP": "80",
        "MY_SVC_SERVICE_PORT_DNS": "53", "MY_SVC_PORT": "tcp://10.0.0.11:80",
        "MY_SVC_PORT_80_TCP": "tcp://10.0.0.11:80", "MY_SVC_PORT_80_TCP_PROTO": "tcp",
        "MY_SVC_PORT_80_TCP_PORT": "80", "MY_SVC_PORT_80_TCP_ADDR": "10.0.0.11",
        "MY_SVC_PORT_53_UDP": "udp://10.0.0.11:53", "MY_SVC_PORT_53_UDP_PROTO": "udp",
        "MY_SVC_PORT_53_UDP_PORT": "53", "MY_SVC_PORT_53_UDP_ADDR": "10.0.0.11"}
    assert not any(k.startswith(("HEADLESS", "OTHER")) for k in env)
    master = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443",
              "KUBERNETES_SERVICE_PORT_HTTPS": "6443", "KUBERNETES_PORT": "tcp://127.0.0.1:6443",
              "KUBERNETES_PORT_6443_TCP": "tcp://127.0.0.1:6443", "KUBERNETES_PORT_6443_TCP_PROTO": "tcp",
              "KUBERNETES_PORT_6443_TCP_PORT": "6443", "KUBERNETES_PORT_6443_TCP_ADDR": "127.0.0.1"}
    assert {k: v for k, v in env.items() if k.startswith("KUBERNETES")} == master
    assert service_environment("ns", False, sources) == master
    pod = {"metadata": POD["metadata"], "spec": dict(POD["spec"], enableServiceLinks=False)}
    assert "MY_SVC_SERVICE_HOST" not in _env({"name": "c"}, sources, pod)
    declared = _env({"env": [{"name": "MY_SVC_SERVICE_HOST", "value": "mine"}]}, sources)
    assert declared["MY_SVC_SERVICE_HOST"] == "mine" and declared["KUBERNETES_SERVICE_PORT"] == "6443"
