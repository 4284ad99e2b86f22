"""
The APIService printer: NAME SERVICE AVAILABLE AGE (kube-aggregator's table, which writes its
columns even where noHeaders asks for none, as on a watch's events after the first).
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b


def _cells(api_service: dict, now: datetime) -> list:
    spec = api_service.get("spec") or {}
    service = spec.get("service")
    where = f"{service.get('namespace', '')}/{service.get('name', '')}" if isinstance(service, dict) else "Local"
    available = "Unknown"
    for condition in (api_service.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Available":
            status = condition.get("status") or ""
            reason = condition.get("reason") or ""
            available = f"{status} ({reason})" if status != "True" and reason else status
            break
    return [b.name(api_service), where, available, b.age(api_service, now)]


PRINTERS = {
    ("apiregistration.k8s.io", "apiservices"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Service", "string", "The reference to the service that hosts this API endpoint."),
            b.column("Available", "string", "Whether this service is available."),
            b.age_column(),
        ],
        _cells,
        # kube-aggregator's ConvertToTable never reads the table options: every watch event carries the columns
        headers_always=True),
}
