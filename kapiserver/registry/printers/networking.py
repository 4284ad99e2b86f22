"""
Printers for networking.k8s.io/v1: ingresses, ingressclasses, networkpolicies.
"""

from __future__ import annotations

from datetime import datetime

from ...machinery.selectors import format_label_selector
from . import _base as b
from .core import load_balancer_ingress


def format_hosts(rules) -> str:
    rules = rules or []
    shown, limit, more = [], 3, False
    for rule in rules:
        if len(shown) == limit:
            more = True
        if not more and rule.get("host"):
            shown.append(rule["host"])
    if not shown:
        return "*"
    text = ",".join(shown)
    return f"{text} + {len(rules) - limit} more..." if more else text


def _ingress_cells(ing: dict, now: datetime) -> list:
    spec = ing.get("spec") or {}
    return [b.name(ing), b.ptr(spec.get("ingressClassName"), "<none>"), format_hosts(spec.get("rules")),
            load_balancer_ingress(b.get(ing, "status.loadBalancer")),
            "80, 443" if spec.get("tls") else "80", b.age(ing, now)]


def _ingress_class_cells(ic: dict, now: datetime) -> list:
    params = b.get(ic, "spec.parameters")
    parameters = "<none>"
    if params is not None:
        parameters = params.get("kind", "")
        if params.get("apiGroup") is not None:
            parameters += "." + params["apiGroup"]
        parameters += "/" + params.get("name", "")
    return [b.name(ic), b.get(ic, "spec.controller", ""), parameters, b.age(ic, now)]


def _ingress_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Class", "string",
                 "The name of the IngressClass resource that should be used for additional configuration"),
        b.column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
        b.column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
        b.column("Ports", "string", "Ports of TLS configurations that open"),
        b.age_column(),
    ]


def _network_policy_cells(np: dict, now: datetime) -> list:
    return [b.name(np), format_label_selector(b.get(np, "spec.podSelector", {})), b.age(np, now)]


PRINTERS = {
    ("networking.k8s.io", "ingresses"): b.Printer(_ingress_columns, _ingress_cells),
    ("networking.k8s.io", "ingressclasses"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Controller", "string", "Controller that is responsible for handling this class"),
            b.column("Parameters", "string", "A reference to a resource with additional parameters"),
            b.age_column(),
        ],
        _ingress_class_cells),
    ("networking.k8s.io", "networkpolicies"): b.Printer(
        lambda: [b.name_column(),
                 b.column("Pod-Selector", "string", b.doc("extensions.v1beta1.NetworkPolicySpec", "podSelector")),
                 b.age_column()],
        _network_policy_cells),
}
