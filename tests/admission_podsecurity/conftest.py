"""
A Registry on a real SQLite store in a temporary directory, with PodSecurity as its
only admission, driven by turning the global reactor by hand (as tests/controllers
does); and a request record that catches the warnings and audit annotations
admission hands to the response.
"""

from __future__ import annotations


import pytest
from twisted.web.http_headers import Headers

from kapiserver.admission.chain import AdmissionChain
from kapiserver.admission.podsecurity import PodSecurity
from kapiserver.auth import context

from tests.controllers.conftest import registry, run, run_until  # noqa: F401 (a fixture, and helpers the tests import)


class FakeRequest:
    """What a request record needs of a twisted.web request: its response headers."""

    def __init__(self):
        self.responseHeaders = Headers()

    def warnings(self) -> list[str]:
        return [v.decode() for v in self.responseHeaders.getRawHeaders(b"Warning") or []]


@pytest.fixture
def request_record():
    """A fresh request being served: warnings and audit annotations land on the returned FakeRequest."""
    request = FakeRequest()
    context.set_request(request)
    yield request
    context.set_request(FakeRequest())


def admit_with(apiserver_registry, configuration=None) -> PodSecurity:
    plugin = PodSecurity(apiserver_registry, configuration)
    # The request's user and response record come from the context, as the server's chain has them.
    apiserver_registry.admission = AdmissionChain([plugin], context=context)
    return plugin


def namespace(apiserver_registry, name: str, **labels):
    labels = {f"pod-security.kubernetes.io/{k.replace('_', '-')}": v for k, v in labels.items()}
    return run(apiserver_registry.store("", "v1", "namespaces").create(
        None, {"metadata": {"name": name, "labels": labels}}))


def pod(name: str, namespace: str = "ns", **spec) -> dict:
    spec.setdefault("containers", [{"name": "c", "image": "busybox"}])
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


RESTRICTED_CONTEXT = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                      "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def restricted_pod(name: str, namespace: str = "ns") -> dict:
    return pod(name, namespace, containers=[{"name": "c", "image": "busybox",
                                             "securityContext": dict(RESTRICTED_CONTEXT)}])
