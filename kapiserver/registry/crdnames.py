"""
The names a CustomResourceDefinition is served under: its status.acceptedNames and its NamesAccepted and
Established conditions, decided as upstream's NamingConditionController (apiextensions-apiserver 1.32) decides
them.  Sans-IO: the CRD and the CRDs stored beside it in, the status out.

Rules:
- Names are claimed within one group.  The plural, singular and short names of every CRD of the group share one
  set, their kinds and listKinds another.  What is claimed is each CRD's status.acceptedNames (the CRD's own
  stored ones included), never names that are only requested.
- A requested name is taken when it equals the name accepted for that field already, or when no CRD of the group
  has it accepted; otherwise it conflicts and the field keeps its accepted name (empty at first).
- Checked in the order plural, singular, short names, kind, listKind; the last conflict found gives the
  NamesAccepted reason (PluralConflict, SingularConflict, ShortNamesConflict, KindConflict, ListKindConflict) and
  message ('"<name>" is already in use').  Short names are checked only when they differ from the accepted ones,
  a short name accepted already is the CRD's own, and they are taken all or none.  Categories are taken as
  requested.
- A CRD whose requested names are its accepted names is left as it is.
- Established, once True, stays True.  Otherwise it is True (InitialNamesAccepted) as soon as every name is
  accepted: upstream's establishing controller follows its naming controller, here in the same write, since
  this server serves a CRD from the moment its write is answered.  Until then False, NotAccepted.
"""

from __future__ import annotations

from typing import Iterable, Optional

from ..machinery import errors

_NAME_FIELDS = ("plural", "singular", "shortNames", "kind", "listKind", "categories")


def names_of(names: Optional[dict]) -> dict:
    """CustomResourceDefinitionNames as Go writes them: its fields in order, plural and kind always, the others
    when not empty."""
    names = names or {}
    out = {}
    for field in _NAME_FIELDS:
        value = names.get(field)
        if field in ("plural", "kind"):
            out[field] = value or ""
        elif value:
            out[field] = value
    return out


def settled(crd: dict) -> bool:
    """Whether every name the CRD requests is accepted (nothing for the naming decision to do)."""
    return names_of((crd.get("spec") or {}).get("names")) == \
        names_of((crd.get("status") or {}).get("acceptedNames"))


def claimed(crds: Iterable[dict], group: str) -> tuple[set, set]:
    """The names accepted in ``group``: (plurals, singulars and short names; kinds and listKinds)."""
    resources: set = set()
    kinds: set = set()
    for crd in crds:
        if (crd.get("spec") or {}).get("group") != group:
            continue
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        resources.update((accepted.get("plural") or "", accepted.get("singular") or ""))
        resources.update(accepted.get("shortNames") or ())
        kinds.update((accepted.get("kind") or "", accepted.get("listKind") or ""))
    return resources, kinds


def _in_use(requested: str, accepted: str, used: set) -> Optional[str]:
    if requested == accepted or requested not in used:
        return None
    return f'"{requested}" is already in use'


def decide(crd: dict, stored: Iterable[dict]) -> tuple[dict, tuple[str, str, str], tuple[str, str, str]]:
    """(acceptedNames, NamesAccepted, Established) for ``crd`` among the ``stored`` CRDs, each condition as
    (status, reason, message)."""
    requested = names_of((crd.get("spec") or {}).get("names"))
    accepted = names_of((crd.get("status") or {}).get("acceptedNames"))
    resources, kinds = claimed(stored, (crd.get("spec") or {}).get("group"))
    new = dict(accepted)
    conflict = None
    for field, used, reason in (("plural", resources, "PluralConflict"), ("singular", resources, "SingularConflict")):
        problem = _in_use(requested.get(field, ""), accepted.get(field, ""), used)
        if problem:
            conflict = (reason, problem)
        else:
            new[field] = requested.get(field, "")
    wanted, ours = requested.get("shortNames") or [], accepted.get("shortNames") or []
    if wanted != ours:
        problems = [p for p in (_in_use(name, "", resources) for name in wanted if name not in ours) if p]
        if problems:
            conflict = ("ShortNamesConflict", errors.aggregate(problems))
        else:
            new["shortNames"] = wanted
    for field, reason in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        problem = _in_use(requested.get(field, ""), accepted.get(field, ""), kinds)
        if problem:
            conflict = (reason, problem)
        else:
            new[field] = requested.get(field, "")
    new["categories"] = requested.get("categories")
    names_accepted = ("False",) + conflict if conflict else ("True", "NoConflicts", "no conflicts found")
    old = condition(crd, "Established")
    if old is not None and old.get("status") == "True":
        established = (old["status"], old.get("reason", ""), old.get("message", ""))
    elif names_accepted[0] == "True":
        established = ("True", "InitialNamesAccepted", "the initial names have been accepted")
    elif old is not None:
        established = (old.get("status", ""), old.get("reason", ""), old.get("message", ""))
    else:
        established = ("False", "NotAccepted", "not all names are accepted")
    return names_of(new), names_accepted, established


def condition(crd: dict, kind: str) -> Optional[dict]:
    """The condition of type ``kind`` in ``crd``'s status, or None."""
    return next((c for c in (crd.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)
