"""
Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

Public API:

- :func:`printer_for` — the :class:`Printer` of a resource (or its scale subresource):
  upstream's columns for the built-in ones (pkg/printers/internalversion), the default
  NAME / CREATED AT table (k8s.io/apiserver rest.NewDefaultTableConvertor) for everything
  else (a custom resource wants :func:`custom_resource_printer` instead).
- :func:`custom_resource_printer` — a CRD version's additionalPrinterColumns.
- :func:`table` — a Table object from a printer and objects, shaped as the apiserver's
  ``asTable`` shapes it (includeObject Metadata / Object / None, headers omitted on
  request: watches send them only with the first event).
- :func:`human_duration`, :func:`translate_timestamp_since` — how ages are printed.
"""

from __future__ import annotations

from . import admissionregistration, apiregistration, apps, autoscaling, batch, certificates, coordination, core
from . import core_events, core_pods, discovery, flowcontrol, networking, node, policy, rbac, scheduling, storage
from ._base import Printer, human_duration, translate_timestamp_since
from ._table import DEFAULT, table
from .custom import JSONPathError, custom_resource_printer

__all__ = ["Printer", "printer_for", "table", "human_duration", "translate_timestamp_since", "DEFAULT",
           "custom_resource_printer", "JSONPathError"]

_PRINTERS: dict[tuple[str, str], Printer] = {}
for _module in (core_pods, core, core_events, apps, batch, autoscaling, networking, policy, rbac, storage,
                coordination, discovery, certificates, scheduling, node, apiregistration, flowcontrol,
                admissionregistration):
    _PRINTERS.update(_module.PRINTERS)


def printer_for(group: str, resource: str, subresource: str = "") -> Printer:
    """The printer for a group's resource (any version); the default table when upstream has none.

    The ``scale`` subresource prints Scale objects; ``status`` prints as its resource does."""
    if subresource == "scale":
        return autoscaling.SCALE
    return _PRINTERS.get((group, resource), DEFAULT)
