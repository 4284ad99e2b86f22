"""
A Registry on a real SQLite store in a temporary directory, with PodSecurity as its
only admission, driven by turning the global reactor by hand (as tests/controllers
does); and a request record that catches the warnings and audit annotations
admission hands to the response.
"""

from __future__ import annotations


import pytest
from twisted.internet import reactor
from twisted.web.http_headers import Headers

from kapiserver.admission.chain import install
from kapiserver.admission.podsecurity import PodSecurity
from kapiserver.auth import context
from kapiserver.registry.registry import Registry
from kapiserver.storage.sqlite import open_sqlite

from tests.controllers.conftest import run, run_until  # noqa: F401 (the tests import them from here)


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


@pytest.fixture
def registry(tmp_path):
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    registry = Registry(storage, reactor)
    yield registry
    registry.stop_watch_caches()
    run(storage.close())


def admit_with(registry, configuration=None) -> PodSecurity:
    plugin = PodSecurity(registry, configuration)
    install(registry, plugin)
    return plugin


def namespace(registry, name: str, **labels):
    labels = {f"pod-security.kubernetes.io/{k.replace('_', '-')}": v for k, v in labels.items()}
    return run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": name, "labels": labels}}))


def pod(name: str, namespace: str = "ns", **spec) -> dict:
    spec.setdefault("containers", [{"name": "c", "image": "busybox"}])
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


RESTRICTED_CONTEXT = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                      "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def restricted_pod(name: str, namespace: str = "ns") -> dict:
    return pod(name, namespace, containers=[{"name": "c", "image": "busybox",
                                             "securityContext": dict(RESTRICTED_CONTEXT)}])
