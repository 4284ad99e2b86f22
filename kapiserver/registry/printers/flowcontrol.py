"""
The flowcontrol.apiserver.k8s.io printers (upstream's internalversion printers): FlowSchemas as NAME
PRIORITYLEVEL MATCHINGPRECEDENCE DISTINGUISHERMETHOD AGE MISSINGPL (the Dangling condition's status, "?"
before the configuration controller has looked), PriorityLevelConfigurations as NAME TYPE
NOMINALCONCURRENCYSHARES QUEUES HANDSIZE QUEUELENGTHLIMIT AGE ("<none>" where the level does not queue).
A list of FlowSchemas prints in the order they are matched in (precedence, then name), as upstream's list printer
sorts them.
"""

from __future__ import annotations

from datetime import datetime

from . import _base as b

_V1 = "flowcontrol.v1."
_NONE = "<none>"


def _flow_schema_cells(fs: dict, now: datetime) -> list:
    spec = fs.get("spec") or {}
    missing = "?"
    for condition in (fs.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Dangling":
            missing = condition.get("status") or ""
            break
    method = (spec.get("distinguisherMethod") or {}).get("type") or _NONE
    return [b.name(fs), (spec.get("priorityLevelConfiguration") or {}).get("name", ""),
            spec.get("matchingPrecedence", 0), method, b.age(fs, now), missing]


def _priority_level_cells(pl: dict, now: datetime) -> list:
    spec = pl.get("spec") or {}
    shares = queues = hand_size = length = _NONE
    limited = spec.get("limited")
    if isinstance(limited, dict):
        shares = limited.get("nominalConcurrencyShares", 0)
        queuing = (limited.get("limitResponse") or {}).get("queuing")
        if isinstance(queuing, dict):
            queues, hand_size, length = (queuing.get(k, 0) for k in ("queues", "handSize", "queueLengthLimit"))
    return [b.name(pl), spec.get("type", ""), shares, queues, hand_size, length, b.age(pl, now)]


PRINTERS = {
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("PriorityLevel", "string", b.doc(_V1 + "PriorityLevelConfigurationReference", "name")),
            b.column("MatchingPrecedence", "string", b.doc(_V1 + "FlowSchemaSpec", "matchingPrecedence")),
            b.column("DistinguisherMethod", "string", b.doc(_V1 + "FlowSchemaSpec", "distinguisherMethod")),
            b.age_column(),
            b.column("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
        ],
        _flow_schema_cells,
        # a list prints in matching order: precedence, then name
        order=lambda fs: (b.get(fs, "spec.matchingPrecedence", 0), b.name(fs))),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): b.Printer(
        lambda: [
            b.name_column(),
            b.column("Type", "string", b.doc(_V1 + "PriorityLevelConfigurationSpec", "type")),
            b.column("NominalConcurrencyShares", "string",
                     b.doc(_V1 + "LimitedPriorityLevelConfiguration", "nominalConcurrencyShares")),
            b.column("Queues", "string", b.doc(_V1 + "QueuingConfiguration", "queues")),
            b.column("HandSize", "string", b.doc(_V1 + "QueuingConfiguration", "handSize")),
            b.column("QueueLengthLimit", "string", b.doc(_V1 + "QueuingConfiguration", "queueLengthLimit")),
            b.age_column(),
        ],
        _priority_level_cells),
}
