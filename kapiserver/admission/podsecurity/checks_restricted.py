"""
The restricted checks of the Pod Security Standards (policy versions up to v1.32).
From v1.25 the privilege-escalation, seccomp and capability checks exempt pods
whose spec.os.name is windows, where those fields do not apply.
"""

from __future__ import annotations

from .api import RESTRICTED
from .checks_baseline import _seccomp_type, seccomp_valid
from .policy import (Check, Revision, containers, is_windows, join_quote, name_of, pluralize,
                     pod_security_context, security_context, setters)


def _unless_windows(check):
    def windows_exempt(metadata: dict, spec: dict):
        return None if is_windows(spec) else check(metadata, spec)
    return windows_exempt


# The volume sources restricted pods may use: the ephemeral and API-backed ones, and claims.
_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                    "projected", "secret")
# The first source present names a forbidden volume's type (upstream's order); anything else
# (an image volume, in v1.32) is "unknown".
_NAMED_VOLUMES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
                  "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
                  "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO",
                  "storageos")


def _present(volume: dict, key: str) -> bool:
    return volume.get(key) is not None


def restricted_volumes(metadata: dict, spec: dict):
    bad, kinds = [], set()
    for volume in spec.get("volumes") or ():
        if not isinstance(volume, dict) or any(_present(volume, key) for key in _ALLOWED_VOLUMES):
            continue
        bad.append(str(volume.get("name") or ""))
        kinds.add(next((key for key in _NAMED_VOLUMES if _present(volume, key)), "unknown"))
    if not bad:
        return None
    return "restricted volume types", (
        f'{pluralize("volume", "volumes", len(bad))} {join_quote(bad)} {pluralize("uses", "use", len(bad))} '
        f'{pluralize("restricted volume type", "restricted volume types", len(kinds))} {join_quote(sorted(kinds))}')


def allow_privilege_escalation(metadata: dict, spec: dict):
    bad = [name_of(c) for c in containers(spec) if security_context(c).get("allowPrivilegeEscalation") is not False]
    if not bad:
        return None
    return "allowPrivilegeEscalation != false", (
        f'{pluralize("container", "containers", len(bad))} {join_quote(bad)} must set '
        f"securityContext.allowPrivilegeEscalation=false")


def run_as_non_root(metadata: dict, spec: dict):
    pod_value = pod_security_context(spec).get("runAsNonRoot")
    explicit, implicit = [], []
    for c in containers(spec):
        value = security_context(c).get("runAsNonRoot")
        if value is False:
            explicit.append(name_of(c))
        elif value is None and pod_value is not True:
            implicit.append(name_of(c))
    who = setters(pod_value is False, explicit)
    if who:
        return "runAsNonRoot != true", f"{' and '.join(who)} must not set securityContext.runAsNonRoot=false"
    if implicit:
        return "runAsNonRoot != true", (f'pod or {pluralize("container", "containers", len(implicit))} '
                                        f"{join_quote(implicit)} must set securityContext.runAsNonRoot=true")
    return None


def _is_root(value) -> bool:
    return value == 0 and not isinstance(value, bool)


def run_as_user(metadata: dict, spec: dict):
    bad = [name_of(c) for c in containers(spec) if _is_root(security_context(c).get("runAsUser"))]
    who = setters(_is_root(pod_security_context(spec).get("runAsUser")), bad)
    if not who:
        return None
    return "runAsUser=0", f"{' and '.join(who)} must not set runAsUser=0"


def seccomp_restricted(metadata: dict, spec: dict):
    bad_values: set[str] = set()
    pod_type = _seccomp_type(pod_security_context(spec))
    pod_bad = pod_type is not None and not seccomp_valid(pod_type)
    if pod_bad:
        bad_values.add(pod_type)
    pod_set = pod_type is not None and not pod_bad
    explicit, implicit = [], []
    for c in containers(spec):
        kind = _seccomp_type(security_context(c))
        if kind is None:
            if not pod_set:
                implicit.append(name_of(c))
        elif not seccomp_valid(kind):
            explicit.append(name_of(c))
            bad_values.add(kind)
    who = setters(pod_bad, explicit)
    if who:
        return "seccompProfile", (f"{' and '.join(who)} must not set securityContext.seccompProfile.type to "
                                  f"{join_quote(sorted(bad_values))}")
    if implicit:
        return "seccompProfile", (f'pod or {pluralize("container", "containers", len(implicit))} '
                                  f"{join_quote(implicit)} must set securityContext.seccompProfile.type to "
                                  f'"RuntimeDefault" or "Localhost"')
    return None


def capabilities_restricted(metadata: dict, spec: dict):
    missing_drop, adding, forbidden = [], [], set()
    for c in containers(spec):
        caps = security_context(c).get("capabilities")
        if not isinstance(caps, dict):
            missing_drop.append(name_of(c))
            continue
        if "ALL" not in (caps.get("drop") or ()):
            missing_drop.append(name_of(c))
        added = {str(cap) for cap in caps.get("add") or () if cap != "NET_BIND_SERVICE"}
        if added:
            adding.append(name_of(c))
            forbidden |= added
    details = []
    if missing_drop:
        details.append(f'{pluralize("container", "containers", len(missing_drop))} {join_quote(missing_drop)} '
                       f'must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f'{pluralize("container", "containers", len(adding))} {join_quote(adding)} must not '
                       f"include {join_quote(sorted(forbidden))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


CHECKS = (
    Check("restrictedVolumes", RESTRICTED, (Revision(0, restricted_volumes, ("hostPathVolumes",)),)),
    Check("allowPrivilegeEscalation", RESTRICTED, (Revision(8, allow_privilege_escalation),
                                                   Revision(25, _unless_windows(allow_privilege_escalation)))),
    Check("runAsNonRoot", RESTRICTED, (Revision(0, run_as_non_root),)),
    Check("runAsUser", RESTRICTED, (Revision(23, run_as_user),)),
    Check("seccompProfile_restricted", RESTRICTED, (
        Revision(19, seccomp_restricted, ("seccompProfile_baseline",)),
        Revision(25, _unless_windows(seccomp_restricted), ("seccompProfile_baseline",)))),
    Check("capabilities_restricted", RESTRICTED, (
        Revision(22, capabilities_restricted, ("capabilities_baseline",)),
        Revision(25, _unless_windows(capabilities_restricted), ("capabilities_baseline",)))),
)
