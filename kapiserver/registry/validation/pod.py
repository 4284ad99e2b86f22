"""Validation of pod specs and pod templates (core ValidatePodSpec and its parts),
and of Pod objects on create and update."""

from __future__ import annotations

import re
from typing import Any

from ...machinery import codec
from ...machinery.jsoncopy import json_copy
from ...machinery.quantity import parse_quantity
from . import meta as _meta
from .resources import container_resource_name, overcommit_allowed, resource_quantity_value
from ...machinery import names
from ...machinery.formats import parse_ip_sloppy
from ._util import (Errors, as_dict, as_dicts, dns1123_label, dns1123_subdomain, duplicate, duplicate_go, forbidden,
                    go_diff, go_field, invalid, invalid_go, is_int, label_selector, labels, nonnegative,
                    not_found_field, not_supported, one_of, qualified_name, required, seq, text, too_long)

PROTOCOLS = ("SCTP", "TCP", "UDP")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_MAX_INT32 = 2 ** 31 - 1
_VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI",
    "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
    "projected", "scaleIO", "storageos", "configMap", "csi", "ephemeral", "image",
)
# supportedHostPathTypes, listed sorted as sets.List gives them.
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                   "Socket")

# A sysctl name: segments of lower-case alphanumerics, '-' and '_' (alphanumeric at both ends), joined by '.'
# or '/' (upstream's regexp, printed in its message as Go prints it); at most 253 characters.
_SYSCTL_PATTERN = r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"
_SYSCTL_RE = re.compile(_SYSCTL_PATTERN)
_SYSCTL_MAX_LENGTH = 253
# The sysctls of the IPC namespace (with fs.mqueue.*); net.* are the network namespace's.
_IPC_SYSCTLS = frozenset({"kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
                          "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni"})

UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
    "previously negative)")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


# -- volumes ---------------------------------------------------------------------------------

def no_backsteps(value: str, path: str) -> Errors:
    """validatePathNoBacksteps: no '..' segment."""
    if ".." in value.split("/"):
        return [invalid(path, value, "must not contain '..'")]
    return []


def host_path_source(source: dict, path: str) -> Errors:
    """validateHostPathVolumeSource (a pod's volume and a PersistentVolume's alike): a path without '..', a
    supported type."""
    if not _str(source.get("path")):
        return [required(f"{path}.path", "")]
    errs = no_backsteps(_str(source["path"]), f"{path}.path")
    if source.get("type") is not None and source["type"] not in HOST_PATH_TYPES:
        errs.append(not_supported(f"{path}.type", source["type"], HOST_PATH_TYPES))
    return errs


def nfs_source(source: dict, path: str) -> Errors:
    """validateNFSVolumeSource: a server, and an absolute path."""
    errs: Errors = []
    if not _str(source.get("server")):
        errs.append(required(f"{path}.server", ""))
    if not _str(source.get("path")):
        errs.append(required(f"{path}.path", ""))
    elif not _str(source["path"]).startswith("/"):
        errs.append(invalid(f"{path}.path", source["path"], "must be an absolute path"))
    return errs


def _volume_source(v: dict, path: str) -> Errors:
    errs: Errors = []
    present = [name for name in _VOLUME_SOURCES if v.get(name) is not None]
    if not present:
        return [required(path, "must specify a volume type")]
    for extra in present[1:]:
        errs.append(forbidden(f"{path}.{extra}", "may not specify more than 1 volume type"))
    kind = present[0]
    source = v[kind] if isinstance(v[kind], dict) else {}
    spath = f"{path}.{kind}"
    if kind == "configMap" and not source.get("name"):
        errs.append(required(f"{spath}.name", ""))
    elif kind == "secret" and not source.get("secretName"):
        errs.append(required(f"{spath}.secretName", ""))
    elif kind == "persistentVolumeClaim" and not source.get("claimName"):
        errs.append(required(f"{spath}.claimName", ""))
    elif kind == "hostPath":
        errs += host_path_source(source, spath)
    elif kind == "nfs":
        errs += nfs_source(source, spath)
    elif kind == "csi" and not source.get("driver"):
        errs.append(required(f"{spath}.driver", ""))
    if kind in ("configMap", "secret", "downwardAPI", "projected"):
        mode = source.get("defaultMode")
        if is_int(mode) and not 0 <= mode <= 0o777:
            errs.append(invalid(f"{spath}.defaultMode", mode,
                                "must be a number between 0 and 0777 (octal), both inclusive"))
    if kind in ("configMap", "secret"):
        for i, item in enumerate(as_dicts(source.get("items"))):
            if not item.get("key"):
                errs.append(required(f"{spath}.items[{i}].key", ""))
            if not item.get("path"):
                errs.append(required(f"{spath}.items[{i}].path", ""))
    return errs


def volumes(value: Any, path: str) -> tuple[set[str], Errors]:
    errs: Errors = []
    seen: set[str] = set()
    for i, v in enumerate(as_dicts(value)):
        vpath = f"{path}[{i}]"
        errs += _volume_source(v, vpath)
        name = _str(v.get("name"))
        if not name:
            errs.append(required(f"{vpath}.name", ""))
        else:
            errs += dns1123_label(name, f"{vpath}.name")
        if name in seen:
            errs.append(duplicate(f"{vpath}.name", name))
        seen.add(name)
    return seen, errs


# -- containers ------------------------------------------------------------------------------

def _ports(value: Any, path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, port in enumerate(as_dicts(value)):
        ppath = f"{path}[{i}]"
        name = _str(port.get("name"))
        if name:
            msgs = names.is_valid_port_name(name)
            if msgs:
                errs += [invalid(f"{ppath}.name", name, msg) for msg in msgs]
            elif name in seen:
                errs.append(duplicate(f"{ppath}.name", name))
            else:
                seen.add(name)
        container_port = port.get("containerPort")
        if not container_port:
            errs.append(required(f"{ppath}.containerPort", ""))
        else:
            errs += [invalid(f"{ppath}.containerPort", container_port, msg)
                     for msg in names.is_valid_port_num(container_port)]
        host_port = port.get("hostPort")
        if host_port:
            errs += [invalid(f"{ppath}.hostPort", host_port, msg) for msg in names.is_valid_port_num(host_port)]
        errs += one_of(port.get("protocol"), f"{ppath}.protocol", PROTOCOLS)
    return errs


_ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                    "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
_DOWNWARD_LABELS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                    "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
                    "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP",
                    "status.podIPs")
_SUBSCRIPTED = re.compile(r"^(metadata\.(?:labels|annotations)|[^\[]+)\['(.*)'\]$")


def _field_selector(selector: dict, path: str) -> Errors:
    """validateObjectFieldSelector for env vars: a supported downward-API field path."""
    api_version, field_path = text(selector.get("apiVersion")), text(selector.get("fieldPath"))
    if not api_version:
        return [required(f"{path}.apiVersion", "")]
    if not field_path:
        return [required(f"{path}.fieldPath", "")]
    subscripted = _SUBSCRIPTED.match(field_path)
    if api_version != "v1":
        return [invalid(f"{path}.fieldPath", field_path,
                        f"error converting fieldPath: unsupported pod version: {api_version}")]
    if subscripted:
        base, key = subscripted.groups()
        if base not in ("metadata.labels", "metadata.annotations"):
            return [invalid(f"{path}.fieldPath", field_path,
                            f"error converting fieldPath: field label does not support subscript: {field_path}")]
        check = key.lower() if base == "metadata.annotations" else key
        return [invalid(f"{path}.fieldPath", key, msg) for msg in names.is_qualified_name(check)]
    if field_path not in _DOWNWARD_LABELS and field_path != "spec.host":
        return [invalid(f"{path}.fieldPath", field_path,
                        f"error converting fieldPath: field label not supported: {field_path}")]
    internal = "spec.nodeName" if field_path == "spec.host" else field_path
    if internal not in _ENV_FIELD_PATHS:
        return [not_supported(f"{path}.fieldPath", internal, sorted(_ENV_FIELD_PATHS))]
    return []


def _key_selector(selector: dict, path: str) -> Errors:
    """A configMapKeyRef / secretKeyRef: a subdomain name and a config key."""
    name, key = text(selector.get("name")), text(selector.get("key"))
    errs = [invalid(f"{path}.name", name, msg) for msg in names.name_is_dns_subdomain(name, False)]
    if not key:
        errs.append(required(f"{path}.key", ""))
    else:
        errs += [invalid(f"{path}.key", key, msg) for msg in names.is_config_map_key(key)]
    return errs


def _env(value: Any, path: str) -> Errors:
    errs: Errors = []
    for i, env in enumerate(as_dicts(value)):
        name = _str(env.get("name"))
        if not name:
            errs.append(required(f"{path}[{i}].name", ""))
        else:
            errs += [invalid(f"{path}[{i}].name", name, msg) for msg in names.is_relaxed_env_var_name(name)]
        value_from = env.get("valueFrom")
        if not isinstance(value_from, dict):
            continue
        vpath = f"{path}[{i}].valueFrom"
        sources = 0
        for ref in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"):
            selector = value_from.get(ref)
            if selector is None:
                continue
            sources += 1
            selector = as_dict(selector)
            if ref == "fieldRef":
                errs += _field_selector(selector, f"{vpath}.fieldRef")
            elif ref == "resourceFieldRef":
                if not selector.get("resource"):
                    errs.append(required(f"{vpath}.resourceFieldRef.resource", ""))
            else:
                errs += _key_selector(selector, f"{vpath}.{ref}")
        if sources == 0:
            errs.append(invalid(vpath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                           "`configMapKeyRef` or `secretKeyRef`"))
        elif env.get("value"):
            errs.append(invalid(vpath, "", "may not be specified when `value` is not empty"))
        elif sources > 1:
            errs.append(invalid(vpath, "", "may not have more than one field specified at a time"))
    return errs


def _env_from(value: Any, path: str) -> Errors:
    """ValidateEnvFrom: a valid prefix, exactly one of configMapRef / secretRef with a name (upstream reports
    the count at the list's path, not the item's)."""
    errs: Errors = []
    for i, source in enumerate(as_dicts(value)):
        ipath = f"{path}[{i}]"
        prefix = _str(source.get("prefix"))
        if prefix:
            errs += [invalid(f"{ipath}.prefix", prefix, msg) for msg in names.is_relaxed_env_var_name(prefix)]
        count = 0
        for ref in ("configMapRef", "secretRef"):
            target = source.get(ref)
            if target is None:
                continue
            count += 1
            name = _str(target.get("name")) if isinstance(target, dict) else ""
            if not name:
                errs.append(required(f"{ipath}.{ref}.name", ""))
            else:
                errs += [invalid(f"{ipath}.{ref}.name", name, msg) for msg in names.name_is_dns_subdomain(name, True)]
        if count == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _local_descending_path(value: str, path: str) -> Errors:
    errs: Errors = []
    if value.startswith("/"):
        errs.append(invalid(path, value, "must be a relative path"))
    if ".." in value.split("/"):
        errs.append(invalid(path, value, "must not contain '..'"))
    return errs


_PROPAGATIONS = ("Bidirectional", "HostToContainer", "None")
_RECURSIVE_READ_ONLY = ("Disabled", "Enabled", "IfPossible")


def _volume_mounts(value: Any, volume_names: set[str], path: str, container: dict | None = None) -> Errors:
    """ValidateVolumeMounts.  subPath, subPathExpr, mountPropagation and recursiveReadOnly are reported at
    ``<volumeMounts>.<field>`` without the index, as upstream does."""
    errs: Errors = []
    mount_points: set[str] = set()
    context = (container or {}).get("securityContext")
    privileged = isinstance(context, dict) and context.get("privileged") is True
    for i, mount in enumerate(as_dicts(value)):
        mpath = f"{path}[{i}]"
        name, mount_path = _str(mount.get("name")), _str(mount.get("mountPath"))
        if not name:
            errs.append(required(f"{mpath}.name", ""))
        if name not in volume_names:
            errs.append(not_found_field(f"{mpath}.name", name))
        if not mount_path:
            errs.append(required(f"{mpath}.mountPath", ""))
        if mount_path in mount_points:
            errs.append(invalid(f"{mpath}.mountPath", mount_path, "must be unique"))
        mount_points.add(mount_path)
        sub_path, sub_path_expr = _str(mount.get("subPath")), _str(mount.get("subPathExpr"))
        if sub_path:
            errs += _local_descending_path(sub_path, f"{path}.subPath")
        if sub_path_expr:
            if sub_path:
                errs.append(invalid(f"{mpath}.subPathExpr", sub_path_expr,
                                    "subPathExpr and subPath are mutually exclusive"))
            errs += _local_descending_path(sub_path_expr, f"{path}.subPathExpr")
        propagation = mount.get("mountPropagation")
        if propagation is not None:
            if propagation not in _PROPAGATIONS:
                errs.append(not_supported(f"{path}.mountPropagation", propagation, _PROPAGATIONS))
            if container is not None and propagation == "Bidirectional" and not privileged:
                errs.append(forbidden(f"{path}.mountPropagation",
                                      "Bidirectional mount propagation is available only to privileged containers"))
        recursive = mount.get("recursiveReadOnly")
        if recursive is not None:
            rpath = f"{path}.recursiveReadOnly"
            if recursive in ("Enabled", "IfPossible"):
                if mount.get("readOnly") is not True:
                    errs.append(forbidden(rpath, "may only be specified when readOnly is true"))
                if propagation not in (None, "None"):
                    errs.append(forbidden(rpath, "may only be specified when mountPropagation is None or not "
                                                 "specified"))
            elif recursive != "Disabled":
                errs.append(not_supported(rpath, recursive, _RECURSIVE_READ_ONLY))
    return errs


def _id_range(value: Any, path: str) -> Errors:
    """IsValidUserID / IsValidGroupID."""
    if is_int(value) and not 0 <= value <= _MAX_INT32:
        return [invalid(path, value, names.inclusive_range_error(0, _MAX_INT32))]
    return []


_SECCOMP_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")


def _seccomp_profile(profile: Any, path: str) -> Errors:
    if not isinstance(profile, dict):
        return []
    errs: Errors = []
    kind = _str(profile.get("type"))
    if not kind:
        errs.append(required(f"{path}.type", "type is required when seccompProfile is set"))
    elif kind not in _SECCOMP_TYPES:
        errs.append(not_supported(f"{path}.type", kind, _SECCOMP_TYPES))
    local = profile.get("localhostProfile")
    if kind == "Localhost":
        if local is None:
            errs.append(required(f"{path}.localhostProfile", "must be set when seccomp type is Localhost"))
        else:
            errs += _local_descending_path(_str(local), f"{path}.localhostProfile")
    elif local is not None:
        errs.append(invalid_go(f"{path}.localhostProfile", _go_profile("SeccompProfile", profile),
                               "can only be set when seccomp type is Localhost"))
    return errs


def _go_profile(kind: str, profile: dict) -> str:
    return (f"core.{kind}{{Type:{codec.dumps(_str(profile.get('type'))).decode()}, "
            f"LocalhostProfile:{codec.dumps(_str(profile.get('localhostProfile'))).decode()}}}")


def _apparmor_profile(profile: Any, path: str) -> Errors:
    if not isinstance(profile, dict):
        return []
    kind, local = _str(profile.get("type")), profile.get("localhostProfile")
    if kind == "Localhost":
        if local is None:
            return [required(f"{path}.localhostProfile", "must be set when AppArmor type is Localhost")]
        local = _str(local)
        errs: Errors = []
        if local.strip() != local:
            errs.append(invalid(f"{path}.localhostProfile", local, "must not be padded with whitespace"))
        elif not local:
            errs.append(required(f"{path}.localhostProfile", "must be set when AppArmor type is Localhost"))
        if len(local.encode()) > 4095:
            errs.append(too_long(f"{path}.localhostProfile", "", 4095))
        return errs
    if kind in ("RuntimeDefault", "Unconfined"):
        if local is not None:
            return [invalid(f"{path}.localhostProfile", _str(local), "can only be set when AppArmor type is Localhost")]
        return []
    if not kind:
        return [required(f"{path}.type", "type is required when appArmorProfile is set")]
    return [not_supported(f"{path}.type", kind, _SECCOMP_TYPES)]


def _go_security_context(context: dict) -> str:
    """An approximation of Go's %#v of a core.SecurityContext (upstream prints pointer addresses)."""
    parts = [f"{go_field(k)}:{codec.dumps(v).decode()}" for k, v in context.items()]
    return "core.SecurityContext{" + ", ".join(parts) + "}"


def _container_security_context(context: Any, path: str, host_users: bool) -> Errors:
    """ValidateSecurityContext (privileged against --allow-privileged is the admission chain's here)."""
    if not isinstance(context, dict):
        return []
    errs = _id_range(context.get("runAsUser"), f"{path}.runAsUser")
    errs += _id_range(context.get("runAsGroup"), f"{path}.runAsGroup")
    proc_mount = context.get("procMount")
    if proc_mount is not None:
        if proc_mount not in ("Default", "Unmasked"):
            errs.append(not_supported(f"{path}.procMount", proc_mount, ["Default", "Unmasked"]))
        if host_users and proc_mount == "Unmasked":
            errs.append(invalid(f"{path}.procMount", proc_mount, "`hostUsers` must be false to use `Unmasked`"))
    errs += _seccomp_profile(context.get("seccompProfile"), f"{path}.seccompProfile")
    if context.get("allowPrivilegeEscalation") is False:
        if context.get("privileged") is True:
            errs.append(invalid_go(path, _go_security_context(context),
                                   "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
        capabilities = context.get("capabilities")
        added = capabilities.get("add") if isinstance(capabilities, dict) else None
        for cap in seq(added):
            if cap == "CAP_SYS_ADMIN":
                errs.append(invalid_go(path, _go_security_context(context), "cannot set `allowPrivilegeEscalation` "
                                                                            "to false and `capabilities.Add` "
                                                                            "CAP_SYS_ADMIN"))
    errs += _apparmor_profile(context.get("appArmorProfile"), f"{path}.appArmorProfile")
    return errs


def resources(value: Any, path: str) -> Errors:
    errs: Errors = []
    value = as_dict(value)
    limits = as_dict(value.get("limits"))
    requests = as_dict(value.get("requests"))
    for name in sorted(limits):
        errs += container_resource_name(name, f"{path}.limits[{name}]")
        errs += resource_quantity_value(name, limits[name], f"{path}.limits[{name}]")
    for name in sorted(requests):
        errs += container_resource_name(name, f"{path}.requests[{name}]")
        errs += resource_quantity_value(name, requests[name], f"{path}.requests[{name}]")
        amount = parse_quantity(requests[name])
        if name not in limits:
            if not overcommit_allowed(name):
                errs.append(required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
            continue
        limit = parse_quantity(limits[name])
        if amount is None or limit is None:
            continue
        if amount != limit and not overcommit_allowed(name):
            errs.append(invalid(f"{path}.requests", _str(requests[name]),
                                f"must be equal to {name} limit of {_str(limits[name])}"))
        elif amount > limit:
            errs.append(invalid(f"{path}.requests", _str(requests[name]),
                                f"must be less than or equal to {name} limit of {_str(limits[name])}"))
    return errs


_HTTP_HEADER_NAME = re.compile(r"^[-A-Za-z0-9]+$")


def _handler(h: dict, path: str, kinds: tuple[str, ...], grace: Any) -> Errors:
    """validateHandler: exactly one handler (each extra one Forbidden at its own name), each with its rules."""
    errs: Errors = []
    count = 0
    for kind in kinds:
        action = h.get(kind)
        if action is None:
            continue
        if count:
            errs.append(forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        action = as_dict(action)
        apath = f"{path}.{kind}"
        if kind == "exec":
            if not as_dicts(action.get("command")) and not action.get("command"):
                errs.append(required(f"{apath}.command", ""))
        elif kind == "httpGet":
            if not action.get("path"):
                errs.append(required(f"{apath}.path", ""))
            errs += _port_num_or_name(action.get("port", 0), f"{apath}.port")
            if action.get("scheme") not in ("HTTP", "HTTPS"):
                errs.append(not_supported(f"{apath}.scheme", _str(action.get("scheme")), ["HTTP", "HTTPS"]))
            for header in as_dicts(action.get("httpHeaders")):
                name = _str(header.get("name"))
                if not _HTTP_HEADER_NAME.match(name):
                    errs.append(invalid(f"{apath}.httpHeaders", name, names.regex_error(
                        "a valid HTTP header must consist of alphanumeric characters or '-'", "[-A-Za-z0-9]+",
                        "X-Header-Name")))
        elif kind in ("tcpSocket", "grpc"):
            errs += _port_num_or_name(action.get("port", 0), f"{apath}.port")
        elif kind == "sleep":
            seconds = action.get("seconds", 0)
            if is_int(grace) and is_int(seconds) and (seconds <= 0 or seconds > grace):
                errs.append(invalid(apath, seconds, f"must be greater than 0 and less than "
                                                    f"terminationGracePeriodSeconds ({grace}). Enable "
                                                    "AllowPodLifecycleSleepActionZeroValue feature gate for "
                                                    "zero sleep."))
    if count == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _probe(p: Any, path: str, kind: str, grace: Any = None) -> Errors:
    """validateLivenessProbe / validateReadinessProbe / validateStartupProbe."""
    if not isinstance(p, dict):
        return []
    errs = _handler(p, path, ("exec", "httpGet", "tcpSocket", "grpc"), grace)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                "failureThreshold"):
        errs += nonnegative(p.get(key), f"{path}.{key}")
    probe_grace = p.get("terminationGracePeriodSeconds")
    if is_int(probe_grace) and probe_grace <= 0:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", probe_grace, "must be greater than 0"))
    if kind == "readiness":
        if probe_grace is not None:
            errs.append(invalid(f"{path}.terminationGracePeriodSeconds", probe_grace,
                                "must not be set for readinessProbes"))
    elif p.get("successThreshold", 0) != 1:
        errs.append(invalid(f"{path}.successThreshold", p.get("successThreshold", 0), "must be 1"))
    return errs


def _lifecycle(lifecycle: Any, path: str, grace: Any) -> Errors:
    if not isinstance(lifecycle, dict):
        return []
    errs: Errors = []
    for hook in ("postStart", "preStop"):
        if isinstance(lifecycle.get(hook), dict):
            errs += _handler(lifecycle[hook], f"{path}.{hook}", ("exec", "httpGet", "tcpSocket", "sleep"), grace)
    return errs


def _probes_and_hooks(c: dict, path: str, grace: Any) -> Errors:
    errs = _lifecycle(c.get("lifecycle"), f"{path}.lifecycle", grace)
    errs += _probe(c.get("livenessProbe"), f"{path}.livenessProbe", "liveness", grace)
    errs += _probe(c.get("readinessProbe"), f"{path}.readinessProbe", "readiness", grace)
    errs += _probe(c.get("startupProbe"), f"{path}.startupProbe", "startup", grace)
    return errs


def _port_num_or_name(port: Any, path: str) -> Errors:
    if isinstance(port, str):
        return [invalid(path, port, msg) for msg in names.is_valid_port_name(port)]
    return [invalid(path, port, msg) for msg in names.is_valid_port_num(port)]


def _container_common(c: dict, volume_names: set[str], path: str, host_users: bool = True) -> Errors:
    errs: Errors = []
    name = _str(c.get("name"))
    if not name:
        errs.append(required(f"{path}.name", ""))
    else:
        errs += dns1123_label(name, f"{path}.name")
    if not c.get("image"):
        errs.append(required(f"{path}.image", ""))
    errs += one_of(c.get("terminationMessagePolicy"), f"{path}.terminationMessagePolicy",
                   TERMINATION_MESSAGE_POLICIES)
    errs += _ports(c.get("ports"), f"{path}.ports")
    errs += _env(c.get("env"), f"{path}.env")
    errs += _env_from(c.get("envFrom"), f"{path}.envFrom")
    errs += _volume_mounts(c.get("volumeMounts"), volume_names, f"{path}.volumeMounts", c)
    errs += one_of(c.get("imagePullPolicy"), f"{path}.imagePullPolicy", PULL_POLICIES)
    errs += resources(c.get("resources"), f"{path}.resources")
    errs += _container_security_context(c.get("securityContext"), f"{path}.securityContext", host_users)
    return errs


def _host_port_conflicts(containers: list[dict], path: str, seen: set[str]) -> Errors:
    errs: Errors = []
    for ci, c in enumerate(containers):
        for pi, port in enumerate(as_dicts(c.get("ports"))):
            host_port = port.get("hostPort")
            if not host_port:
                continue
            key = f"{_str(port.get('protocol'))}/{_str(port.get('hostIP'))}/{host_port}"
            if key in seen:
                errs.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errs


def containers(value: Any, volume_names: set[str], path: str, grace: Any = None, host_users: bool = True) -> Errors:
    items = as_dicts(value)
    if not items:
        return [required(path, "")]
    errs: Errors = []
    seen: set[str] = set()
    for i, c in enumerate(items):
        cpath = f"{path}[{i}]"
        errs += _container_common(c, volume_names, cpath, host_users)
        name = _str(c.get("name"))
        if name in seen:
            errs.append(duplicate(f"{cpath}.name", name))
        seen.add(name)
        errs += _probes_and_hooks(c, cpath, grace)
        if c.get("restartPolicy") is not None:
            errs.append(forbidden(f"{cpath}.restartPolicy", "may not be set for non-init containers"))
    return errs + _host_port_conflicts(items, path, set())


def init_containers(value: Any, regular: Any, volume_names: set[str], path: str, grace: Any = None,
                    host_users: bool = True) -> Errors:
    errs: Errors = []
    seen = {_str(c.get("name")) for c in as_dicts(regular)}
    for i, c in enumerate(as_dicts(value)):
        cpath = f"{path}[{i}]"
        errs += _container_common(c, volume_names, cpath, host_users)
        policy = c.get("restartPolicy")
        if policy is not None and policy != "Always":
            errs.append(not_supported(f"{cpath}.restartPolicy", policy, ["Always"]))
        name = _str(c.get("name"))
        if name in seen:
            errs.append(duplicate(f"{cpath}.name", name))
        elif name:
            seen.add(name)
        # Init containers run one by one: host ports conflict only within one of them.
        errs += _host_port_conflicts([c], path, set())
        if policy != "Always":
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(key) is not None:
                    errs.append(forbidden(f"{cpath}.{key}",
                                          "may not be set for init containers without restartPolicy=Always"))
        else:
            errs += _probes_and_hooks(c, cpath, grace)
    return errs


# The fields of an ephemeral container upstream's allow list leaves out (they make a container part of the
# workload), in the order of its EphemeralContainerCommon struct.
_EPHEMERAL_FORBIDDEN = ("ports", "resources", "resizePolicy", "restartPolicy", "livenessProbe", "readinessProbe",
                        "startupProbe", "lifecycle")
_EPHEMERAL_DETAIL = "cannot be set for an Ephemeral Container"


def _is_set(key: str, value: Any) -> bool:
    """Whether a field holds other than Go's zero value: resources is a struct of maps and a list (``{}`` is
    its zero), the others pointers or lists (only their absence is)."""
    if key == "resources" and isinstance(value, dict):
        return any(v is not None for v in value.values())
    return value is not None


def ephemeral_containers(value: Any, regular: Any, init: Any, volume_names: set[str], path: str,
                         host_users: bool = True) -> Errors:
    """validateEphemeralContainers: the rules of any container, a name no other container of the pod has, a
    target that is one of its regular or init containers, none of the fields that serve the workload (ports,
    resources, probes, lifecycle, ...), and no volume subPath."""
    errs: Errors = []
    others = {_str(c.get("name")) for c in as_dicts(regular) + as_dicts(init)}
    seen = set(others)
    for i, c in enumerate(as_dicts(value)):
        cpath = f"{path}[{i}]"
        errs += _container_common(c, volume_names, cpath, host_users)
        image = _str(c.get("image"))
        if image != image.strip():
            errs.append(invalid(f"{cpath}.image", image, "must not have leading or trailing whitespace"))
        name = _str(c.get("name"))
        if name in seen:
            errs.append(duplicate(f"{cpath}.name", name))
        seen.add(name)
        target = _str(c.get("targetContainerName"))
        if target and target not in others:
            errs.append(not_found_field(f"{cpath}.targetContainerName", target))
        errs += [forbidden(f"{cpath}.{key}", _EPHEMERAL_DETAIL) for key in _EPHEMERAL_FORBIDDEN
                 if _is_set(key, c.get(key))]
        for j, mount in enumerate(as_dicts(c.get("volumeMounts"))):
            errs += [forbidden(f"{cpath}.volumeMounts[{j}].{key}", _EPHEMERAL_DETAIL)
                     for key in ("subPath", "subPathExpr") if mount.get(key)]
    return errs


# -- the pod spec ----------------------------------------------------------------------------

def tolerations(value: Any, path: str) -> Errors:
    errs: Errors = []
    for i, t in enumerate(as_dicts(value)):
        tpath = f"{path}[{i}]"
        key, operator = _str(t.get("key")), text(t.get("operator"))
        if key:
            errs += qualified_name(key, f"{tpath}.key")
        if not key and operator != "Exists":
            errs.append(invalid(f"{tpath}.operator", operator,
                                "operator must be Exists when `key` is empty, which means \"match all values "
                                "and all keys\""))
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            errs.append(invalid(f"{tpath}.effect", text(t.get("effect")),
                                "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if operator in ("Equal", ""):
            msgs = names.is_label_value(_str(t.get("value")))
            if msgs:
                errs.append(invalid(f"{tpath}.operator", _str(t.get("value")), ";".join(msgs)))
        elif operator == "Exists":
            if t.get("value"):
                errs.append(invalid(f"{tpath}.operator", t, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(f"{tpath}.operator", operator, ["Equal", "Exists"]))
        effect = t.get("effect")
        if effect and effect not in TAINT_EFFECTS:
            errs.append(not_supported(f"{tpath}.effect", effect, TAINT_EFFECTS))
    return errs


def topology_spread(value: Any, path: str) -> Errors:
    """validateTopologySpreadConstraints."""
    errs: Errors = []
    constraints = as_dicts(value)
    for i, constraint in enumerate(constraints):
        cpath = f"{path}[{i}]"
        skew = constraint.get("maxSkew", 0)
        if not is_int(skew) or skew <= 0:
            errs.append(invalid(f"{cpath}.maxSkew", skew, "must be greater than zero"))
        if not constraint.get("topologyKey"):
            errs.append(required(f"{cpath}.topologyKey", "can not be empty"))
        action = _str(constraint.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(not_supported(f"{cpath}.whenUnsatisfiable", action, ["DoNotSchedule", "ScheduleAnyway"]))
        pair = (_str(constraint.get("topologyKey")), action)
        if any((_str(other.get("topologyKey")), _str(other.get("whenUnsatisfiable"))) == pair
               for other in constraints[i + 1:]):
            errs.append(duplicate(f"{cpath}.{{topologyKey, whenUnsatisfiable}}", f"{{{pair[0]}, {pair[1]}}}"))
        min_domains = constraint.get("minDomains")
        if min_domains is not None:
            if is_int(min_domains) and min_domains <= 0:
                errs.append(invalid(f"{cpath}.minDomains", min_domains, "must be greater than zero"))
            if action != "DoNotSchedule":
                errs.append(invalid(f"{cpath}.minDomains", min_domains,
                                    f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"))
        for key in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            policy = constraint.get(key)
            if policy is not None and policy not in ("Honor", "Ignore"):
                errs.append(not_supported(f"{cpath}.{key}", policy, ["Honor", "Ignore"]))
        keys = seq(constraint.get("matchLabelKeys"))
        if keys and constraint.get("labelSelector") is None:
            errs.append(forbidden(f"{cpath}.matchLabelKeys", "must not be specified when labelSelector is not set"))
        for j, key in enumerate(keys):
            errs += qualified_name(_str(key), f"{cpath}.matchLabelKeys[{j}]")
        errs += label_selector(constraint.get("labelSelector"), f"{cpath}.labelSelector")
    return errs


def _host_network_ports(spec: dict, path: str, is_pod: bool) -> Errors:
    """validatePodHostNetworkDeps: with hostNetwork a container's hostPort is its containerPort (in a
    template it may also be left 0, to be defaulted)."""
    if spec.get("hostNetwork") is not True:
        return []
    errs: Errors = []
    for i, c in enumerate(as_dicts(spec.get("containers"))):
        for j, port in enumerate(as_dicts(c.get("ports"))):
            host_port, container_port = port.get("hostPort") or 0, port.get("containerPort") or 0
            if (is_pod or host_port != 0) and host_port != container_port:
                errs.append(invalid(f"{path}.containers[{i}].ports[{j}].hostPort", host_port,
                                    "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _pod_security_context(spec: dict, path: str) -> Errors:
    """validatePodSpecSecurityContext."""
    context = spec.get("securityContext")
    if not isinstance(context, dict):
        return []
    errs = _id_range(context.get("fsGroup"), f"{path}.fsGroup")
    errs += _id_range(context.get("runAsUser"), f"{path}.runAsUser")
    errs += _id_range(context.get("runAsGroup"), f"{path}.runAsGroup")
    for i, gid in enumerate(seq(context.get("supplementalGroups"))):
        errs += _id_range(gid, f"{path}.supplementalGroups[{i}]")
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID") is True:
        errs.append(invalid(f"{path}.shareProcessNamespace", True,
                            "ShareProcessNamespace and HostPID cannot both be enabled"))
    if context.get("sysctls"):
        errs += sysctls(context.get("sysctls"), spec, f"{path}.sysctls")
    policy = context.get("fsGroupChangePolicy")
    if policy is not None and policy not in ("Always", "OnRootMismatch"):
        errs.append(not_supported(f"{path}.fsGroupChangePolicy", policy, ["Always", "OnRootMismatch"]))
    errs += _seccomp_profile(context.get("seccompProfile"), f"{path}.seccompProfile")
    errs += _apparmor_profile(context.get("appArmorProfile"), f"{path}.appArmorProfile")
    groups_policy = context.get("supplementalGroupsPolicy")
    if groups_policy is not None and groups_policy not in ("Merge", "Strict"):
        errs.append(not_supported(f"{path}.supplementalGroupsPolicy", groups_policy, ["Merge", "Strict"]))
    return errs


_NODE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def node_selector_term(term: dict, path: str, strict_values: bool) -> Errors:
    """validateNodeSelectorTerm: its matchExpressions (label values checked only where ``strict_values``) and
    matchFields (metadata.name, one value for In and NotIn)."""
    errs: Errors = []
    for j, req in enumerate(as_dicts(term.get("matchExpressions"))):
        rpath = f"{path}.matchExpressions[{j}]"
        operator, values = req.get("operator"), seq(req.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{rpath}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(f"{rpath}.values",
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        elif operator in ("Gt", "Lt"):
            if len(values) != 1:
                errs.append(required(f"{rpath}.values", "must be specified single value when `operator` is 'Lt' "
                                                        "or 'Gt'"))
        else:
            errs.append(invalid(f"{rpath}.operator", _str(operator), "not a valid selector operator"))
        errs += qualified_name(_str(req.get("key")), f"{rpath}.key")
        if strict_values:
            for k, v in enumerate(values):
                errs += [invalid(f"{rpath}.values[{k}]", v, msg) for msg in names.is_label_value(_str(v))]
    for j, req in enumerate(as_dicts(term.get("matchFields"))):
        rpath = f"{path}.matchFields[{j}]"
        values = seq(req.get("values"))
        if req.get("operator") in ("In", "NotIn"):
            if len(values) != 1:
                errs.append(required(f"{rpath}.values", "must be only one value when `operator` is 'In' or "
                                                        "'NotIn' for node field selector"))
        else:
            errs.append(invalid(f"{rpath}.operator", _str(req.get("operator")), "not a valid selector operator"))
        if req.get("key") != "metadata.name":
            errs.append(invalid(f"{rpath}.key", _str(req.get("key")), "not a valid field selector key"))
        else:
            for k, v in enumerate(values):
                errs += [invalid(f"{rpath}.values[{k}]", v, msg)
                         for msg in names.name_is_dns_subdomain(_str(v), False)]
    return errs


def _weight(term: dict, path: str) -> Errors:
    weight = term.get("weight", 0)
    if not is_int(weight) or not 0 < weight <= 100:
        return [invalid(f"{path}.weight", weight, "must be in the range 1-100")]
    return []


def _pod_affinity_term(term: dict, path: str) -> Errors:
    errs = label_selector(term.get("labelSelector"), f"{path}.labelSelector")
    errs += label_selector(term.get("namespaceSelector"), f"{path}.namespaceSelector")
    for namespace in seq(term.get("namespaces")):
        errs += [invalid(f"{path}.namespace", namespace, msg) for msg in names.is_dns1123_label(_str(namespace))]
    for key in ("matchLabelKeys", "mismatchLabelKeys"):
        keys = seq(term.get(key))
        if keys and term.get("labelSelector") is None:
            errs.append(forbidden(f"{path}.{key}", "must not be specified when labelSelector is not set"))
        for i, label_key in enumerate(keys):
            errs += qualified_name(_str(label_key), f"{path}.{key}[{i}]")
    topology_key = _str(term.get("topologyKey"))
    if not topology_key:
        errs.append(required(f"{path}.topologyKey", "can not be empty"))
    return errs + qualified_name(topology_key, f"{path}.topologyKey")


def affinity(value: Any, path: str) -> Errors:
    """validateAffinity: node affinity terms, pod (anti-)affinity terms, weights."""
    if not isinstance(value, dict):
        return []
    errs: Errors = []
    node = value.get("nodeAffinity")
    if isinstance(node, dict):
        npath = f"{path}.nodeAffinity"
        required_terms = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(required_terms, dict):
            terms = as_dicts(required_terms.get("nodeSelectorTerms"))
            tpath = f"{npath}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
            if not terms:
                errs.append(required(tpath, "must have at least one node selector term"))
            for i, term in enumerate(terms):
                errs += node_selector_term(term, f"{tpath}[{i}]", True)
        for i, term in enumerate(as_dicts(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            tpath = f"{npath}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            errs += _weight(term, tpath)
            preference = as_dict(term.get("preference"))
            errs += node_selector_term(preference, f"{tpath}.preference", False)
    for kind in ("podAffinity", "podAntiAffinity"):
        terms = value.get(kind)
        if not isinstance(terms, dict):
            continue
        kpath = f"{path}.{kind}"
        for i, term in enumerate(as_dicts(terms.get("requiredDuringSchedulingIgnoredDuringExecution"))):
            errs += _pod_affinity_term(term, f"{kpath}.requiredDuringSchedulingIgnoredDuringExecution[{i}]")
        for i, term in enumerate(as_dicts(terms.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            tpath = f"{kpath}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            errs += _weight(term, tpath)
            inner = as_dict(term.get("podAffinityTerm"))
            errs += _pod_affinity_term(inner, f"{tpath}.podAffinityTerm")
    return errs


_MAX_NAMESERVERS, _MAX_SEARCHES, _MAX_SEARCH_CHARS = 3, 32, 2048


def dns_config(config: Any, policy: Any, path: str) -> Errors:
    """validatePodDNSConfig: dnsPolicy None needs a config with a nameserver; limits on its lists."""
    if policy == "None":
        if not isinstance(config, dict):
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not seq(config.get("nameservers")):
            return [required(f"{path}.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` "
                                                    "is None")]
    if not isinstance(config, dict):
        return []
    errs: Errors = []
    nameservers = seq(config.get("nameservers"))
    if len(nameservers) > _MAX_NAMESERVERS:
        errs.append(invalid(f"{path}.nameservers", nameservers,
                            f"must not have more than {_MAX_NAMESERVERS} nameservers"))
    errs += [invalid(f"{path}.nameservers[{i}]", _str(ns), _NOT_AN_IP)
             for i, ns in enumerate(nameservers) if not _ip_family(_str(ns))]
    searches = [_str(v) for v in seq(config.get("searches"))]
    if len(searches) > _MAX_SEARCHES:
        errs.append(invalid(f"{path}.searches", searches, f"must not have more than {_MAX_SEARCHES} search paths"))
    if len(" ".join(searches)) > _MAX_SEARCH_CHARS:
        errs.append(invalid(f"{path}.searches", searches, f"must not have more than {_MAX_SEARCH_CHARS} characters "
                                                           "(including spaces) in the search list"))
    for i, search in enumerate(searches):
        # RelaxedDNSSearchValidation is off in 1.32: each search a DNS subdomain (a trailing dot allowed).
        errs += dns1123_subdomain(search[:-1] if search.endswith(".") else search, f"{path}.searches[{i}]")
    for i, option in enumerate(as_dicts(config.get("options"))):
        if not option.get("name"):
            errs.append(required(f"{path}.options[{i}]", "must not be empty"))
    return errs


def _gates(spec: dict, path: str) -> Errors:
    """validateReadinessGates and validateSchedulingGates."""
    errs: Errors = []
    for i, gate in enumerate(as_dicts(spec.get("readinessGates"))):
        errs += qualified_name(_str(gate.get("conditionType")), f"{path}.readinessGates[{i}].conditionType")
    seen: set[str] = set()
    for i, gate in enumerate(as_dicts(spec.get("schedulingGates"))):
        name = _str(gate.get("name"))
        errs += qualified_name(name, f"{path}.schedulingGates[{i}]")
        if name in seen:
            errs.append(duplicate(f"{path}.schedulingGates[{i}]", name))
        seen.add(name)
    return errs


_WINDOWS_POD_FORBIDDEN = (
    ("securityContext", "appArmorProfile"), ("securityContext", "seLinuxOptions"), ("", "hostUsers"),
    ("", "hostPID"), ("", "hostIPC"), ("securityContext", "seccompProfile"), ("securityContext", "fsGroup"),
    ("securityContext", "fsGroupChangePolicy"), ("securityContext", "sysctls"), ("", "shareProcessNamespace"),
    ("securityContext", "runAsUser"), ("securityContext", "runAsGroup"), ("securityContext", "supplementalGroups"),
    ("securityContext", "supplementalGroupsPolicy"), ("securityContext", "seLinuxChangePolicy"),
)
_WINDOWS_CONTAINER_FORBIDDEN = ("appArmorProfile", "seLinuxOptions", "seccompProfile", "capabilities",
                                "readOnlyRootFilesystem", "privileged", "allowPrivilegeEscalation", "procMount",
                                "runAsUser", "runAsGroup")


def _all_containers(spec: dict, path: str):
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(as_dicts(spec.get(key))):
            yield c, f"{path}.{key}[{i}]"


def _os(spec: dict, path: str) -> Errors:
    """validateOS, then the fields a linux or windows pod may not set."""
    os_field = spec.get("os")
    if not isinstance(os_field, dict):
        return []
    name = _str(os_field.get("name"))
    if not name:
        return [required(f"{path}.os.name", "cannot be empty")]
    if name not in ("linux", "windows"):
        return [not_supported(f"{path}.os", name, ["linux", "windows"])]
    errs: Errors = []
    context = as_dict(spec.get("securityContext"))
    if name == "linux":
        if context.get("windowsOptions") is not None:
            errs.append(forbidden(f"{path}.securityContext.windowsOptions", "windows options cannot be set for a "
                                                                            "linux pod"))
        for c, cpath in _all_containers(spec, path):
            sc = c.get("securityContext")
            if isinstance(sc, dict) and sc.get("windowsOptions") is not None:
                errs.append(forbidden(f"{cpath}.securityContext.windowsOptions",
                                      "windows options cannot be set for a linux pod"))
        return errs
    for where, key in _WINDOWS_POD_FORBIDDEN:
        holder = context if where else spec
        value = holder.get(key)
        if value is None or value is False or (key == "sysctls" and not value):
            continue
        errs.append(forbidden(f"{path}.{where + '.' if where else ''}{key}", "cannot be set for a windows pod"))
    for c, cpath in _all_containers(spec, path):
        sc = c.get("securityContext")
        if isinstance(sc, dict):
            errs += [forbidden(f"{cpath}.securityContext.{key}", "cannot be set for a windows pod")
                     for key in _WINDOWS_CONTAINER_FORBIDDEN if sc.get(key) is not None]
    return errs


def _host_users(spec: dict) -> bool:
    return spec.get("hostUsers") is not False


def pod_spec(spec: Any, path: str, is_pod: bool = False) -> Errors:
    """ValidatePodSpec, its checks in upstream's order."""
    spec = as_dict(spec)
    errs: Errors = []
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(f"{path}.terminationGracePeriodSeconds", ""))
    grace, host_users = spec.get("terminationGracePeriodSeconds"), _host_users(spec)
    volume_names, volume_errs = volumes(spec.get("volumes"), f"{path}.volumes")
    errs += volume_errs
    errs += containers(spec.get("containers"), volume_names, f"{path}.containers", grace, host_users)
    errs += init_containers(spec.get("initContainers"), spec.get("containers"), volume_names,
                            f"{path}.initContainers", grace, host_users)
    errs += ephemeral_containers(spec.get("ephemeralContainers"), spec.get("containers"), spec.get("initContainers"),
                                 volume_names, f"{path}.ephemeralContainers", host_users)
    errs += _host_network_ports(spec, path, is_pod)
    errs += one_of(spec.get("restartPolicy"), f"{path}.restartPolicy", RESTART_POLICIES)
    errs += one_of(spec.get("dnsPolicy"), f"{path}.dnsPolicy", DNS_POLICIES)
    errs += labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    errs += _pod_security_context(spec, f"{path}.securityContext")
    errs += affinity(spec.get("affinity"), f"{path}.affinity")
    errs += dns_config(spec.get("dnsConfig"), spec.get("dnsPolicy"), f"{path}.dnsConfig")
    errs += _gates(spec, path)
    errs += topology_spread(spec.get("topologySpreadConstraints"), f"{path}.topologySpreadConstraints")
    if spec.get("hostUsers") is False:
        for key, label in (("hostNetwork", "hostNetwork"), ("hostPID", "HostPID"), ("hostIPC", "HostIPC")):
            if spec.get(key) is True:
                errs.append(forbidden(f"{path}.{label}", "when `pod.Spec.HostUsers` is false"))
    if spec.get("serviceAccountName"):
        errs += [invalid(f"{path}.serviceAccountName", spec["serviceAccountName"], msg)
                 for msg in names.name_is_dns_subdomain(_str(spec["serviceAccountName"]), False)]
    if spec.get("nodeName"):
        errs += [invalid(f"{path}.nodeName", spec["nodeName"], msg)
                 for msg in names.name_is_dns_subdomain(_str(spec["nodeName"]), False)]
    deadline = spec.get("activeDeadlineSeconds")
    if is_int(deadline) and not 1 <= deadline <= _MAX_INT32:
        errs.append(invalid(f"{path}.activeDeadlineSeconds", deadline, names.inclusive_range_error(1, _MAX_INT32)))
    if spec.get("hostname"):
        errs += dns1123_label(_str(spec["hostname"]), f"{path}.hostname")
    if spec.get("subdomain"):
        errs += dns1123_label(_str(spec["subdomain"]), f"{path}.subdomain")
    errs += tolerations(spec.get("tolerations"), f"{path}.tolerations")
    for i, alias in enumerate(as_dicts(spec.get("hostAliases"))):
        ip = _str(alias.get("ip"))
        if not _ip_family(ip):
            errs.append(invalid(f"{path}.hostAliases[{i}].ip", ip, _NOT_AN_IP))
        for j, hostname in enumerate(seq(alias.get("hostnames"))):
            errs += dns1123_subdomain(_str(hostname), f"{path}.hostAliases[{i}].hostnames[{j}]")
    if spec.get("priorityClassName"):
        errs += [invalid(f"{path}.priorityClassName", spec["priorityClassName"], msg)
                 for msg in names.name_is_dns_subdomain(_str(spec["priorityClassName"]), False)]
    if spec.get("runtimeClassName") is not None:
        errs += dns1123_subdomain(_str(spec["runtimeClassName"]), f"{path}.runtimeClassName")
    if spec.get("preemptionPolicy") is not None:
        errs += one_of(spec.get("preemptionPolicy"), f"{path}.preemptionPolicy", ("PreemptLowerPriority", "Never"))
    if isinstance(spec.get("overhead"), dict):
        for name in sorted(spec["overhead"]):
            errs += container_resource_name(name, f"{path}.overhead[{name}]")
            errs += resource_quantity_value(name, spec["overhead"][name], f"{path}.overhead[{name}]")
    errs += _os(spec, path)
    return errs


def sysctls(value: Any, spec: dict, path: str) -> Errors:
    """The pod's sysctls: valid and distinct names, none of the host's network or IPC namespace when
    the pod shares it (upstream's validateSysctls on create)."""
    errs: Errors = []
    seen: set[str] = set()
    for i, sysctl in enumerate(as_dicts(value)):
        name = _str(sysctl.get("name")) if isinstance(sysctl, dict) else ""
        field = f"{path}[{i}].name"
        if not name:
            errs.append(required(field, ""))
        elif len(name) > _SYSCTL_MAX_LENGTH or not _SYSCTL_RE.match(name):
            errs.append(invalid(field, name, f"must have at most {_SYSCTL_MAX_LENGTH} characters and match regex "
                                             f"{_SYSCTL_PATTERN}"))
        elif name in seen:
            errs.append(duplicate(field, name))
        else:
            # A name may use '/' for '.' (net/ipv4/ip_forward): its namespace is that of the dotted name.
            dotted = name.replace("/", ".") if "." not in name.split("/")[0] else name
            if spec.get("hostNetwork") is True and dotted.startswith("net."):
                errs.append(invalid(field, name, "may not be specified when 'hostNetwork' is true"))
            elif spec.get("hostIPC") is True and (dotted in _IPC_SYSCTLS or dotted.startswith("fs.mqueue.")):
                errs.append(invalid(field, name, "may not be specified when 'hostIPC' is true"))
        seen.add(name)
    return errs


def pod_template_spec(template: Any, path: str) -> Errors:
    """ValidatePodTemplateSpec: the template's labels and annotations sit at
    ``<path>.labels`` / ``<path>.annotations`` (not under metadata), as upstream reports them."""
    if not isinstance(template, dict):
        return [required(path, "")]
    meta = as_dict(template.get("metadata"))
    errs = labels(meta.get("labels"), f"{path}.labels")
    errs += _meta.annotations(meta.get("annotations"), f"{path}.annotations")
    spec = as_dict(template.get("spec"))
    errs += pod_spec(spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        errs.append(forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return errs


# -- Pod objects -----------------------------------------------------------------------------

def validate_pod(obj: dict, namespaced: bool) -> Errors:
    """ValidatePodCreate."""
    errs = _pod_metadata_and_spec(obj)
    spec = as_dict(obj.get("spec"))
    if spec.get("ephemeralContainers"):
        errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


def _munged_spec(new: dict, old: dict) -> dict:
    """The new spec with every field a pod update may change set back to its old value (upstream's munging
    before its DeepEqual; the container lists have the old lengths, checked before)."""
    munged = json_copy(new)
    for key in ("containers", "initContainers"):
        for c, o in zip(as_dicts(munged.get(key)), as_dicts(old.get(key))):
            if "image" in o:
                c["image"] = o["image"]
            else:
                c.pop("image", None)
    if not munged.get("ephemeralContainers") and not old.get("ephemeralContainers"):
        # none either way (Go's comparison takes an empty list for no list)
        munged.pop("ephemeralContainers", None)
        if "ephemeralContainers" in old:
            munged["ephemeralContainers"] = old["ephemeralContainers"]
    old_grace, new_grace = old.get("terminationGracePeriodSeconds"), new.get("terminationGracePeriodSeconds")
    if is_int(old_grace) and old_grace < 0 and new_grace == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    # activeDeadlineSeconds, tolerations and scheduling gates are judged on their own, before.
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if key in old:
            munged[key] = json_copy(old[key])
        else:
            munged.pop(key, None)
    return munged


_REQUIRED_TERMS = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"


def _go_selector_term(term: Any) -> str:
    """A NodeSelectorTerm as Go marshals the internal type (no json tags: Go's field names, nulls kept)."""
    def requirements(values: Any) -> Any:
        if not as_dicts(values):
            return None
        return [{"Key": _str(r.get("key")), "Operator": _str(r.get("operator")),
                 "Values": r.get("values") if isinstance(r.get("values"), list) and r.get("values") else None}
                for r in as_dicts(values)]
    term = as_dict(term)
    return codec.dumps({"MatchExpressions": requirements(term.get("matchExpressions")),
                        "MatchFields": requirements(term.get("matchFields"))}).decode()


def _only_added_requirements(new: dict, old: dict) -> bool:
    """validateNodeSelectorTermHasOnlyAdditions: an empty term stays empty; otherwise each list keeps the old
    requirements as its first ones."""
    old_expressions, old_fields = as_dicts(old.get("matchExpressions")), as_dicts(old.get("matchFields"))
    new_expressions, new_fields = as_dicts(new.get("matchExpressions")), as_dicts(new.get("matchFields"))
    if not old_expressions and not old_fields:
        return not new_expressions and not new_fields
    return new_expressions[:len(old_expressions)] == old_expressions and \
        new_fields[:len(old_fields)] == old_fields


def _gated_placement_changes(munged: dict, old: dict) -> Errors:
    """ValidatePodUpdate's allowance for a pod that was gated (schedulingGates) before the update, as a queueing
    controller uses it when it lets the pod go: keys added to spec.nodeSelector, and requirements added to the
    required node affinity's terms.  Their errors; the allowed changes are taken back out of ``munged``, so
    that only the rest is compared."""
    errs: Errors = []
    old_selector = old.get("nodeSelector") or {}
    new_selector = munged.get("nodeSelector") or {}
    if new_selector != old_selector:
        if any(new_selector.get(k) != v for k, v in old_selector.items()):
            errs.append(invalid_go("spec.nodeSelector", codec.dumps(dict(sorted(new_selector.items()))).decode(),
                                   "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
        if "nodeSelector" in old:
            munged["nodeSelector"] = old["nodeSelector"]
        else:
            munged.pop("nodeSelector", None)
    old_affinity = old.get("affinity") if isinstance(old.get("affinity"), dict) else None
    new_affinity = munged.get("affinity") if isinstance(munged.get("affinity"), dict) else None
    old_node = (old_affinity or {}).get("nodeAffinity") or None
    new_node = (new_affinity or {}).get("nodeAffinity") or None
    if old_node == new_node:
        return errs
    old_required = (old_node or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(old_required, dict):
        old_terms = as_dicts(old_required.get("nodeSelectorTerms"))
        new_required = (new_node or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        new_terms = as_dicts(new_required.get("nodeSelectorTerms")) if isinstance(new_required, dict) else []
        if old_terms and len(old_terms) != len(new_terms):
            rendered = "[" + ",".join(_go_selector_term(t) for t in new_terms) + "]" if new_terms else "null"
            errs.append(invalid_go(_REQUIRED_TERMS, rendered,
                                   "no additions/deletions to non-empty NodeSelectorTerms list are allowed"))
        else:
            errs += [invalid_go(f"{_REQUIRED_TERMS}[{i}]", _go_selector_term(new_terms[i]),
                                "only additions are allowed (no mutations or deletions)")
                     for i, term in enumerate(old_terms) if not _only_added_requirements(new_terms[i], term)]
    # The node affinity compared no more: the old one put back, as upstream's munging does.
    if new_affinity is None:
        munged["affinity"] = {"nodeAffinity": old_node}
    elif old_affinity is None and not new_affinity.get("podAffinity") and not new_affinity.get("podAntiAffinity"):
        munged.pop("affinity", None)
    else:
        munged["affinity"] = {**new_affinity, "nodeAffinity": old_node}
        if old_node is None:
            munged["affinity"].pop("nodeAffinity")
    return errs


def _container_updates(new: Any, old: Any, path: str) -> tuple[Errors, bool]:
    """ValidateContainerUpdates: the same number of containers (else one Forbidden, and nothing more is
    judged), each with an image free of surrounding whitespace."""
    new_list, old_list = as_dicts(new), as_dicts(old)
    if len(new_list) != len(old_list):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    errs: Errors = []
    for i, c in enumerate(new_list):
        image = _str(c.get("image"))
        if not image:
            errs.append(required(f"{path}[{i}].image", ""))
        if image != image.strip():
            errs.append(invalid(f"{path}[{i}].image", image, "must not have leading or trailing whitespace"))
    return errs, False


def _toleration_key(t: dict) -> dict:
    return {k: v for k, v in t.items() if k != "tolerationSeconds" and v not in (None, "")}


def _only_added_tolerations(new: Any, old: Any, path: str) -> Errors:
    """validateOnlyAddedTolerations: every old toleration is still there, its tolerationSeconds alone may
    change."""
    candidates = [_toleration_key(t) for t in as_dicts(new)]
    for t in as_dicts(old):
        if _toleration_key(t) not in candidates:
            return [forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return tolerations(new, path)


def _only_deleted_scheduling_gates(new: Any, old: Any, path: str) -> Errors:
    """validateOnlyDeletedSchedulingGates: a gate may go, none may come."""
    old_names = {_str(g.get("name")) for g in as_dicts(old)}
    added: dict[str, int] = {}
    for i, gate in enumerate(as_dicts(new)):
        added[_str(gate.get("name"))] = i
    return [forbidden(f"{path}[{i}].name", f"only deletion is allowed, but found new scheduling gate '{name}'")
            for name, i in added.items() if name not in old_names]


def _image_whitespace(value: Any, path: str) -> Errors:
    """validateContainersOnlyForPod: a Pod's (not a template's) images have no surrounding whitespace."""
    errs: Errors = []
    for i, c in enumerate(as_dicts(value)):
        image = _str(c.get("image"))
        if image != image.strip():
            errs.append(invalid(f"{path}[{i}].image", image, "must not have leading or trailing whitespace"))
    return errs


def _pod_metadata_and_spec(obj: dict) -> Errors:
    """validatePodMetadataAndSpec, shared by create and update."""
    errs = _meta.object_meta(obj.get("metadata"), True, names.name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    errs += pod_spec(spec, "spec", is_pod=True)
    if not spec.get("serviceAccountName"):
        for vi, volume in enumerate(as_dicts(spec.get("volumes"))):
            projected = volume.get("projected")
            for si, source in enumerate(as_dicts(projected.get("sources") if isinstance(projected, dict) else None)):
                if source.get("serviceAccountToken") is not None:
                    errs.append(forbidden(f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken",
                                          "must not be specified when serviceAccountName is not set"))
    errs += _image_whitespace(spec.get("containers"), "spec.containers")
    errs += _image_whitespace(spec.get("initContainers"), "spec.initContainers")
    return errs


def validate_pod_update(new: dict, old: dict) -> Errors:
    """ValidatePodUpdate: the metadata update and the whole pod as on create, then what an update may
    change: images (not the number of containers), activeDeadlineSeconds (set, or lowered), tolerations
    (added, or their tolerationSeconds changed), scheduling gates (removed), a negative grace period to 1;
    any other change is one Forbidden naming those fields."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += _pod_metadata_and_spec(new)
    spec = as_dict(new.get("spec"))
    old_spec = as_dict(old.get("spec"))
    for key in ("containers", "initContainers"):
        more, stop = _container_updates(spec.get(key), old_spec.get(key), f"spec.{key}")
        errs += more
        if stop:
            return errs
    deadline, old_deadline = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if deadline is not None:
        if is_int(deadline) and not 0 <= deadline <= _MAX_INT32:
            errs.append(invalid("spec.activeDeadlineSeconds", deadline, names.inclusive_range_error(0, _MAX_INT32)))
            return errs
        if is_int(deadline) and is_int(old_deadline) and old_deadline < deadline:
            errs.append(invalid("spec.activeDeadlineSeconds", deadline, "must be less than or equal to previous value"))
            return errs
    elif old_deadline is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    errs += _only_added_tolerations(spec.get("tolerations"), old_spec.get("tolerations"), "spec.tolerations")
    errs += _only_deleted_scheduling_gates(spec.get("schedulingGates"), old_spec.get("schedulingGates"),
                                           "spec.schedulingGates")
    if spec == old_spec:
        return errs
    munged = _munged_spec(spec, old_spec)
    if old_spec.get("schedulingGates"):
        errs += _gated_placement_changes(munged, old_spec)
    if munged != old_spec:
        errs.append(forbidden("spec", UPDATE_FORBIDDEN + "\n" + go_diff("core.PodSpec", old_spec, munged)))
    return errs


MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


def validate_pod_ephemeral_containers_update(new: dict, old: dict) -> Errors:
    """ValidatePodEphemeralContainersUpdate: the pod's metadata update and its spec checked as on any update
    (its ephemeral containers too), then the change itself: ephemeral containers are only added, never
    removed or changed (matched by name, as a patch may reorder them); a static pod takes none."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    errs += _meta.object_meta(new.get("metadata"), True, names.name_is_dns_subdomain)
    spec = as_dict(new.get("spec"))
    errs += pod_spec(spec, "spec")
    annotations = (old.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and MIRROR_POD_ANNOTATION in annotations:
        return [forbidden("", "static pods do not support ephemeral containers")]
    added = {_str(c.get("name")): c for c in as_dicts(spec.get("ephemeralContainers"))}
    for before in as_dicts((old.get("spec") or {}).get("ephemeralContainers")):
        name = _str(before.get("name"))
        if name not in added:
            errs.append(forbidden("spec.ephemeralContainers",
                                  f"existing ephemeral containers {codec.dumps(name).decode()} may not be removed\n"))
        elif added[name] != before:
            errs.append(forbidden("spec.ephemeralContainers",
                                  f"existing ephemeral containers {codec.dumps(name).decode()} may not be changed\n"
                                  + go_diff("core.EphemeralContainer", before, added[name])))
    return errs


# -- pods/status -----------------------------------------------------------------------------

_SYSTEM_CONDITIONS = frozenset({"PodScheduled", "Ready", "Initialized"})
_NOT_AN_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _ip_family(value: str) -> str:
    """"4" or "6" for an IP address as Go's ParseIPSloppy reads it, "" for none."""
    parsed = parse_ip_sloppy(value)
    return str(parsed.version) if parsed is not None else ""


def _go_ips(kind: str, values: list[str]) -> str:
    return f"[]core.{kind}{{" + ", ".join(f"core.{kind}{{IP:{codec.dumps(v).decode()}}}" for v in values) + "}"


def _status_ips(status: dict, key: str, kind: str) -> Errors:
    """validatePodIPs / validateHostIPs: each a valid IP, at most one of each family, no repeats."""
    path = f"status.{key}"
    ips = [_str(item.get("ip")) for item in as_dicts(status.get(key))]
    errs: Errors = []
    if key == "hostIPs" and ips and ips[0] != _str(status.get("hostIP")):
        errs.append(invalid(f"{path}[0].ip", ips[0], "must be equal to `hostIP`"))
    errs += [invalid(f"{path}[{i}]", ip, _NOT_AN_IP) for i, ip in enumerate(ips) if not _ip_family(ip)]
    if len(ips) > 1:
        duplicates = [duplicate_go(f"{path}[{i}]", f"core.{kind}{{IP:{codec.dumps(ip).decode()}}}")
                      for i, ip in enumerate(ips) if ip in ips[:i]]
        families = {_ip_family(ip) for ip in ips}
        if key == "hostIPs":
            errs += duplicates
        if len(ips) > 2 or families != {"4", "6"}:
            errs.append(invalid_go(path, _go_ips(kind, ips), "may specify no more than one IP for each IP family"))
        if key == "podIPs":
            errs += duplicates
    return errs


def _state_transitions(new: Any, old: Any, path: str, restart_policy: str, init: list | None = None) -> Errors:
    """ValidateContainerStateTransition: a container that may not restart does not leave its terminated
    state (restartable init containers may)."""
    if restart_policy == "Always":
        return []
    restartable = {_str(c.get("name")) for c in (init or []) if c.get("restartPolicy") == "Always"}
    errs: Errors = []
    new_list = as_dicts(new)
    for i, before in enumerate(as_dicts(old)):
        terminated = (before.get("state") or {}).get("terminated") if isinstance(before.get("state"), dict) else None
        if not isinstance(terminated, dict):
            continue
        if terminated.get("exitCode", 0) != 0 and restart_policy == "OnFailure":
            continue
        if _str(before.get("name")) in restartable:
            continue
        for after in new_list:
            state = as_dict(after.get("state"))
            if after.get("name") == before.get("name") and state.get("terminated") is None:
                errs.append(forbidden(f"{path}[{i}].state", "may not be transitioned to non-terminated state"))
    return errs


def validate_pod_status_update(new: dict, old: dict, namespaced: bool = True) -> Errors:
    """ValidatePodStatusUpdate: the metadata update, custom condition types qualified names (reported under
    metadata.conditions, as upstream does), the node not moved, the nominated node a node name, qosClass
    unchanged, terminated containers that may not restart staying so, pod and host IPs valid and one per
    family.  The spec is not judged again."""
    errs = _meta.object_meta_update(new.get("metadata"), old.get("metadata"))
    status = as_dict(new.get("status"))
    old_status = as_dict(old.get("status"))
    spec = as_dict(new.get("spec"))
    old_spec = as_dict(old.get("spec"))
    for i, condition in enumerate(as_dicts(status.get("conditions"))):
        kind = _str(condition.get("type"))
        if kind not in _SYSTEM_CONDITIONS:
            errs += qualified_name(kind, f"metadata.conditions[{i}].Type")
    if _str(spec.get("nodeName")) != _str(old_spec.get("nodeName")):
        errs.append(forbidden("status.nodeName", "may not be changed directly"))
    nominated = _str(status.get("nominatedNodeName"))
    if nominated and nominated != _str(old_status.get("nominatedNodeName")):
        errs += [invalid("status.nominatedNodeName", nominated, msg)
                 for msg in names.name_is_dns_subdomain(nominated, False)]
    if _str(status.get("qosClass")) != _str(old_status.get("qosClass")):
        errs.append(invalid("status.qosClass", _str(status.get("qosClass")), "field is immutable"))
    policy = _str(old_spec.get("restartPolicy"))
    errs += _state_transitions(status.get("containerStatuses"), old_status.get("containerStatuses"),
                               "status.containerStatuses", policy)
    errs += _state_transitions(status.get("initContainerStatuses"), old_status.get("initContainerStatuses"),
                               "status.initContainerStatuses", policy, as_dicts(old_spec.get("initContainers")))
    errs += _state_transitions(status.get("ephemeralContainerStatuses"),
                               old_status.get("ephemeralContainerStatuses"), "status.ephemeralContainerStatuses",
                               "Never")
    errs += _status_ips(status, "podIPs", "PodIP")
    errs += _status_ips(status, "hostIPs", "HostIP")
    return errs
