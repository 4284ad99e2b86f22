"""
The baseline checks of the Pod Security Standards (policy versions up to v1.32).
Each returns None for a passing pod or (reason, detail) in upstream's words.
"""

from __future__ import annotations

from ...machinery.selectors import go_quote
from .api import BASELINE
from .policy import (Check, Revision, containers, join_quote, name_of, pluralize, pod_security_context,
                     security_context, setters)


def host_process(metadata: dict, spec: dict):
    def on(sc: dict) -> bool:
        options = sc.get("windowsOptions")
        return isinstance(options, dict) and options.get("hostProcess") is True
    bad = [name_of(c) for c in containers(spec) if on(security_context(c))]
    who = setters(on(pod_security_context(spec)), bad)
    if not who:
        return None
    return "hostProcess", f"{' and '.join(who)} must not set securityContext.windowsOptions.hostProcess=true"


def host_namespaces(metadata: dict, spec: dict):
    host = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field) is True]
    return ("host namespaces", ", ".join(host)) if host else None


def privileged(metadata: dict, spec: dict):
    bad = [name_of(c) for c in containers(spec) if security_context(c).get("privileged") is True]
    if not bad:
        return None
    return "privileged", (f'{pluralize("container", "containers", len(bad))} {join_quote(bad)} must not set '
                          f"securityContext.privileged=true")


CAPABILITIES_ALLOWED = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"))


def _capabilities(container: dict) -> dict | None:
    value = security_context(container).get("capabilities")
    return value if isinstance(value, dict) else None


def capabilities_baseline(metadata: dict, spec: dict):
    bad, extra = [], set()
    for c in containers(spec):
        caps = _capabilities(c)
        if caps is None:
            continue
        added = {str(cap) for cap in caps.get("add") or () if cap not in CAPABILITIES_ALLOWED}
        if added:
            bad.append(name_of(c))
            extra |= added
    if not bad:
        return None
    return "non-default capabilities", (f'{pluralize("container", "containers", len(bad))} {join_quote(bad)} '
                                        f"must not include {join_quote(sorted(extra))} in "
                                        f"securityContext.capabilities.add")


def host_path_volumes(metadata: dict, spec: dict):
    bad = [str(v.get("name") or "") for v in spec.get("volumes") or () if isinstance(v, dict) and
           v.get("hostPath") is not None]
    if not bad:
        return None
    return "hostPath volumes", f'{pluralize("volume", "volumes", len(bad))} {join_quote(bad)}'


def host_ports(metadata: dict, spec: dict):
    bad, ports = [], set()
    for c in containers(spec):
        used = [p.get("hostPort") for p in c.get("ports") or () if isinstance(p, dict) and p.get("hostPort")]
        if used:
            bad.append(name_of(c))
            ports.update(str(p) for p in used)
    if not bad:
        return None
    # Upstream lists the ports as a sorted string set (lexical, not numeric order).
    return "hostPort", (f'{pluralize("container", "containers", len(bad))} {join_quote(bad)} '
                        f'{pluralize("uses", "use", len(bad))} {pluralize("hostPort", "hostPorts", len(ports))} '
                        f'{", ".join(sorted(ports))}')


APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _apparmor_type(sc: dict):
    profile = sc.get("appArmorProfile")
    return profile.get("type") or "" if isinstance(profile, dict) else None


def app_armor_profile(metadata: dict, spec: dict):
    bad_values: set[str] = set()
    pod_type = _apparmor_type(pod_security_context(spec))
    pod_bad = pod_type is not None and pod_type not in ("RuntimeDefault", "Localhost")
    if pod_bad:
        bad_values.add(pod_type)
    bad = []
    for c in containers(spec):
        kind = _apparmor_type(security_context(c))
        if kind is not None and kind not in ("RuntimeDefault", "Localhost"):
            bad.append(name_of(c))
            bad_values.add(kind)
    who = setters(pod_bad, bad)
    values = sorted(bad_values)
    annotations = sorted(f"{key}={go_quote(str(value))}"
                         for key, value in ((metadata.get("annotations") or {}).items())
                         if key.startswith(APPARMOR_ANNOTATION_PREFIX) and value
                         and value != "runtime/default" and not str(value).startswith("localhost/"))
    if annotations:
        values += annotations
        who.append(pluralize("annotation", "annotations", len(annotations)))
    if not who:
        return None
    return (pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
            f"{' and '.join(who)} must not set AppArmor profile type to {join_quote(values)}")


def _selinux_options(selinux_types: frozenset):
    def check(metadata: dict, spec: dict):
        bad_types: set[str] = set()
        flags = {"user": False, "role": False}

        def valid(options) -> bool:
            if not isinstance(options, dict):
                return True
            ok = True
            kind = options.get("type") or ""
            if kind not in selinux_types:
                ok = False
                bad_types.add(kind)
            for key in ("user", "role"):
                if options.get(key):
                    ok = False
                    flags[key] = True
            return ok

        pod_bad = not valid(pod_security_context(spec).get("seLinuxOptions"))
        bad = [name_of(c) for c in containers(spec) if not valid(security_context(c).get("seLinuxOptions"))]
        who = setters(pod_bad, bad)
        if not who:
            return None
        data = []
        if bad_types:
            data.append(f'{pluralize("type", "types", len(bad_types))} {join_quote(sorted(bad_types))}')
        data += [f"{key} may not be set" for key in ("user", "role") if flags[key]]
        return "seLinuxOptions", (f"{' and '.join(who)} set forbidden securityContext.seLinuxOptions: "
                                  f"{'; '.join(data)}")
    return check


SELINUX_TYPES_1_0 = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}


def proc_mount(metadata: dict, spec: dict):
    bad, values = [], set()
    for c in containers(spec):
        mount = security_context(c).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(name_of(c))
            values.add(str(mount))
    if not bad:
        return None
    return "procMount", (f'{pluralize("container", "containers", len(bad))} {join_quote(bad)} must not set '
                         f"securityContext.procMount to {join_quote(sorted(values))}")


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_annotation_ok(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_baseline_annotations(metadata: dict, spec: dict):
    """Policy versions before v1.19 read seccomp from the alpha annotations."""
    annotations = metadata.get("annotations") or {}
    keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_ANNOTATION_PREFIX + name_of(c) for c in containers(spec)]
    bad = sorted({f"{key}={go_quote(str(annotations[key]))}" for key in keys
                  if key in annotations and not _seccomp_annotation_ok(str(annotations[key]))})
    if not bad:
        return None
    return "seccompProfile", f'forbidden {pluralize("annotation", "annotations", len(bad))} {", ".join(bad)}'


def _seccomp_type(sc: dict):
    profile = sc.get("seccompProfile")
    return profile.get("type") or "" if isinstance(profile, dict) else None


def seccomp_valid(kind) -> bool:
    return kind in ("RuntimeDefault", "Localhost")


def seccomp_baseline(metadata: dict, spec: dict):
    bad_values: set[str] = set()
    pod_type = _seccomp_type(pod_security_context(spec))
    pod_bad = pod_type is not None and not seccomp_valid(pod_type)
    if pod_bad:
        bad_values.add(pod_type)
    bad = []
    for c in containers(spec):
        kind = _seccomp_type(security_context(c))
        if kind is not None and not seccomp_valid(kind):
            bad.append(name_of(c))
            bad_values.add(kind)
    who = setters(pod_bad, bad)
    if not who:
        return None
    return "seccompProfile", (f"{' and '.join(who)} must not set securityContext.seccompProfile.type to "
                              f"{join_quote(sorted(bad_values))}")


SYSCTLS_1_0 = frozenset(("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                         "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"))
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                               "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _sysctls(allowed: frozenset):
    def check(metadata: dict, spec: dict):
        bad = [str(s.get("name") or "") for s in pod_security_context(spec).get("sysctls") or ()
               if isinstance(s, dict) and s.get("name") not in allowed]
        return ("forbidden sysctls", ", ".join(bad)) if bad else None
    return check


CHECKS = (
    Check("windowsHostProcess", BASELINE, (Revision(0, host_process),)),
    Check("hostNamespaces", BASELINE, (Revision(0, host_namespaces),)),
    Check("privileged", BASELINE, (Revision(0, privileged),)),
    Check("capabilities_baseline", BASELINE, (Revision(0, capabilities_baseline),)),
    Check("hostPathVolumes", BASELINE, (Revision(0, host_path_volumes),)),
    Check("hostPorts", BASELINE, (Revision(0, host_ports),)),
    Check("appArmorProfile", BASELINE, (Revision(0, app_armor_profile),)),
    Check("seLinuxOptions", BASELINE, (Revision(0, _selinux_options(SELINUX_TYPES_1_0)),
                                       Revision(31, _selinux_options(SELINUX_TYPES_1_31)))),
    Check("procMount", BASELINE, (Revision(0, proc_mount),)),
    Check("seccompProfile_baseline", BASELINE, (Revision(0, seccomp_baseline_annotations),
                                                Revision(19, seccomp_baseline))),
    Check("sysctls", BASELINE, (Revision(0, _sysctls(SYSCTLS_1_0)), Revision(27, _sysctls(SYSCTLS_1_27)),
                                Revision(29, _sysctls(SYSCTLS_1_29)), Revision(32, _sysctls(SYSCTLS_1_32)))),
)
