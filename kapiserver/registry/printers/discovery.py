"""
The EndpointSlice printer: NAME ADDRESSTYPE PORTS ENDPOINTS AGE.
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b

_LIMIT = 3


def format_ports(ports) -> str:
    shown, more, count = [], False, 0
    for port in ports or []:
        if len(shown) < _LIMIT:
            if port.get("port") is not None:
                shown.append(str(port["port"]))
            elif port.get("name") is not None:
                shown.append(port["name"])
            else:
                shown.append("*")
        elif len(shown) == _LIMIT:
            more = True
        count += 1
    return b.list_with_more(shown, more, count, _LIMIT)


def format_endpoints(endpoints) -> str:
    shown, more, count = [], False, 0
    for endpoint in endpoints or []:
        for address in endpoint.get("addresses") or []:
            if len(shown) < _LIMIT:
                shown.append(address)
            elif len(shown) == _LIMIT:
                more = True
            count += 1
    return b.list_with_more(shown, more, count, _LIMIT)


def _cells(eps: dict, now: datetime) -> list:
    return [b.name(eps), eps.get("addressType", ""), format_ports(eps.get("ports")),
            format_endpoints(eps.get("endpoints")), b.age(eps, now)]


_SLICE = "discovery.v1.EndpointSlice"
PRINTERS = {
    ("discovery.k8s.io", "endpointslices"): b.Printer(
        lambda: [b.name_column(),
                 b.column("AddressType", "string", b.doc(_SLICE, "addressType")),
                 b.column("Ports", "string", b.doc(_SLICE, "ports")),
                 b.column("Endpoints", "string", b.doc(_SLICE, "endpoints")),
                 b.age_column()],
        _cells),
}
