"""
The garbage-collection finalizers a delete puts on an object, as upstream's
generic store does: ``orphan`` or ``foregroundDeletion`` from the request's
propagationPolicy (or the deprecated orphanDependents), else from finalizers
the object already carries, else from the resource's default policy.
"""

from __future__ import annotations

from typing import Optional

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"

# A resource's default policy when a delete names none.
DELETE_DEPENDENTS = "DeleteDependents"
ORPHAN_DEPENDENTS = "OrphanDependents"
UNSUPPORTED = "Unsupported"


# The resources served in a version whose objects orphan their dependents by default: kept from before
# server-side cascading, as upstream keeps them (core/v1 ReplicationControllers, batch/v1 Jobs).
_ORPHANING = frozenset({("", "v1", "replicationcontrollers"), ("batch", "v1", "jobs")})

# What a delete of Jobs that names no propagation is told, as upstream's Job storage tells it.
JOB_PODS_KEPT = ("child pods are preserved by default when jobs are deleted; set propagationPolicy=Background "
                 "to remove them or set propagationPolicy=Orphan to suppress this warning")


def default_policy(info) -> str:
    """Events take no part in garbage collection; core/v1 ReplicationControllers and batch/v1 Jobs orphan by
    default; the rest delete."""
    group, resource = info.storage_gv[0], info.storage_key
    if (group, resource) == ("", "events"):
        return UNSUPPORTED
    if (info.group, info.version, info.resource) in _ORPHANING:
        return ORPHAN_DEPENDENTS
    return DELETE_DEPENDENTS


def delete_warning(info, options) -> str:
    """The warning a delete (or deletecollection) with ``options`` gets, or "": a Job's that names no
    propagation, its pods being orphaned by default (upstream warns of Jobs alone, not ReplicationControllers)."""
    if (info.group, info.resource) != ("batch", "jobs") or options.propagation_policy is not None or \
            options.orphan_dependents is not None or default_policy(info) != ORPHAN_DEPENDENTS:
        return ""
    return JOB_PODS_KEPT


def _should_orphan(policy: str, finalizers: list, options) -> bool:
    if options.orphan_dependents is not None:
        return bool(options.orphan_dependents)
    if options.propagation_policy is not None:
        return options.propagation_policy == "Orphan"
    for finalizer in finalizers:
        if finalizer == ORPHAN:
            return True
        if finalizer == FOREGROUND:
            return False
    return policy == ORPHAN_DEPENDENTS


def _should_delete_dependents(finalizers: list, options, namespace: bool = False) -> bool:
    # The deprecated field cannot ask for foreground deletion, but of a namespace (whose storage reads
    # orphanDependents: false as foreground).
    if options.orphan_dependents is not None:
        return namespace and not options.orphan_dependents
    if options.propagation_policy is not None:
        return options.propagation_policy == "Foreground"
    return FOREGROUND in finalizers


def deletion_finalizers(info, metadata: dict, options) -> tuple[bool, Optional[list]]:
    """(changed?, the finalizers the object should carry) for a delete with ``options``."""
    policy = default_policy(info)
    current = list(metadata.get("finalizers") or [])
    if policy == UNSUPPORTED:
        return False, current
    wanted = [f for f in current if f not in (ORPHAN, FOREGROUND)]
    if _should_orphan(policy, current, options):
        wanted.append(ORPHAN)
    if _should_delete_dependents(current, options, info.group == "" and info.resource == "namespaces"):
        wanted.append(FOREGROUND)
    if set(wanted) == set(current):
        return False, current
    return True, wanted
