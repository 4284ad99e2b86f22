"""
The ``kube-system/extension-apiserver-authentication`` ConfigMap, from which extension apiservers learn how to
authenticate this apiserver's clients: the client CA (``client-ca-file``), and for requests this apiserver
proxies, the front proxy's CA, the names its client certificate may have and the headers carrying the user
(``requestheader-*``; the lists JSON-encoded, as upstream writes them).  Ensured at start and every
``interval`` seconds; keys it does not own are left alone, and the CA bundles keep certificates others added.
"""

from __future__ import annotations

import copy
import json
from typing import Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery.errors import StatusError
from ..services import Periodic

log = Logger()

NAMESPACE, NAME = "kube-system", "extension-apiserver-authentication"
USERNAME_HEADERS, GROUP_HEADERS, EXTRA_HEADERS_PREFIX = ["X-Remote-User"], ["X-Remote-Group"], ["X-Remote-Extra-"]
_END = "-----END CERTIFICATE-----"


def authentication_data(client_ca: Optional[str], front_proxy_ca: Optional[str], allowed_names: list[str],
                        username_headers: list[str] = USERNAME_HEADERS, group_headers: list[str] = GROUP_HEADERS,
                        extra_prefixes: list[str] = EXTRA_HEADERS_PREFIX) -> dict[str, str]:
    """The ConfigMap's data for the given CA bundles (PEM text; None for one not configured)."""
    data = {}
    if client_ca:
        data["client-ca-file"] = client_ca
    if front_proxy_ca:
        data.update({
            "requestheader-username-headers": json.dumps(username_headers, separators=(",", ":")),
            "requestheader-group-headers": json.dumps(group_headers, separators=(",", ":")),
            "requestheader-extra-headers-prefix": json.dumps(extra_prefixes, separators=(",", ":")),
            "requestheader-client-ca-file": front_proxy_ca,
            "requestheader-allowed-names": json.dumps(allowed_names, separators=(",", ":")),
        })
    return data


def _certificates(bundle: str) -> list[str]:
    return [part.strip() + "\n" + _END + "\n" for part in bundle.split(_END) if "BEGIN CERTIFICATE" in part]


def merge_bundle(existing: str, wanted: str) -> str:
    """``wanted``'s certificates, then those of ``existing`` it lacks, each once."""
    out: list[str] = []
    for cert in _certificates(wanted) + _certificates(existing):
        if cert not in out:
            out.append(cert)
    return "".join(out)


def merged(current: dict, wanted: dict) -> dict:
    data = dict(current)
    for key, value in wanted.items():
        if key.endswith("-ca-file") and current.get(key):
            value = merge_bundle(current[key], value)
        data[key] = value
    return data


class ExtensionAuthentication:
    def __init__(self, registry, clock, data, interval: float = 60.0):
        # data: () -> the wanted ConfigMap data (None until the handlers have been built).
        self.registry = registry
        self.data = data
        self._periodic = Periodic(interval, self._ensure_logged, clock)

    def start(self) -> Deferred:
        return self._periodic.startService()

    def stop(self) -> Optional[Deferred]:
        return self._periodic.stopService() if self._periodic.running else None

    async def _ensure_logged(self) -> None:
        try:
            await self.ensure()
        except Exception:
            log.failure("publishing {namespace}/{name} failed", namespace=NAMESPACE, name=NAME)

    async def ensure(self) -> None:
        wanted = self.data()
        store = self.registry.lookup("", "v1", "configmaps")
        if not wanted or store is None:
            return
        try:
            current = await store.get(NAMESPACE, NAME)
        except StatusError as e:
            if e.code != 404:
                raise
            await store.create(NAMESPACE, {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": NAME, "namespace": NAMESPACE}, "data": wanted})
            return
        if merged(current.get("data") or {}, wanted) == (current.get("data") or {}):
            return

        def update(old: dict) -> dict:
            new = copy.deepcopy(old)
            new["data"] = merged(new.get("data") or {}, wanted)
            return new
        await store.update(NAMESPACE, NAME, update)
