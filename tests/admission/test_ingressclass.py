"""DefaultIngressClass: a new Ingress naming no class gets the default one."""

from __future__ import annotations

from kapiserver.admission.ingressclass import DefaultIngressClass

from .conftest import FakeRegistry, call, drive, store

INGRESSES = store("ingresses", "Ingress", group="networking.k8s.io")


def ingress_class(name, created, default=True) -> dict:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"metadata": {"name": name, "creationTimestamp": created, "annotations": annotations},
            "spec": {"controller": "example.com/c"}}


def ingress(**spec) -> dict:
    return {"metadata": {"name": "i", "namespace": "default"}, "spec": spec}


def plugin(*classes) -> DefaultIngressClass:
    return DefaultIngressClass(FakeRegistry(ingressclasses=list(classes)))


def test_newest_default_class_is_set():
    """Of several default classes the newest wins, then the first by name."""
    obj = ingress()
    drive(call(plugin(ingress_class("old", "2024-01-01T00:00:00Z"), ingress_class("b", "2025-01-01T00:00:00Z"),
                      ingress_class("a", "2025-01-01T00:00:00Z"), ingress_class("x", "2026-01-01T00:00:00Z", False)),
               "create", INGRESSES, obj, None))
    assert obj["spec"]["ingressClassName"] == "a"


def test_a_named_class_is_kept():
    """ingressClassName or the kubernetes.io/ingress.class annotation leaves the Ingress alone."""
    classes = plugin(ingress_class("d", "2025-01-01T00:00:00Z"))
    obj = ingress(ingressClassName="mine")
    drive(call(classes, "create", INGRESSES, obj, None))
    assert obj["spec"]["ingressClassName"] == "mine"
    obj = ingress()
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "legacy"}
    drive(call(classes, "create", INGRESSES, obj, None))
    assert "ingressClassName" not in obj["spec"]


def test_no_default_class_and_updates_change_nothing():
    """Without a default class, and on updates, nothing is set."""
    obj = ingress()
    drive(call(plugin(ingress_class("n", "2025-01-01T00:00:00Z", False)), "create", INGRESSES, obj, None))
    drive(call(plugin(ingress_class("d", "2025-01-01T00:00:00Z")), "update", INGRESSES, obj, ingress()))
    assert "ingressClassName" not in obj["spec"]
