"""Each Pod Security Standards check: a violating pod gets upstream's reason and detail, a passing one none."""

from __future__ import annotations

import copy

import pytest

from kapiserver.admission.podsecurity.api import LevelVersion
from kapiserver.admission.podsecurity.plugin import EVALUATOR

from .conftest import RESTRICTED_CONTEXT

BASELINE = LevelVersion("baseline")
RESTRICTED = LevelVersion("restricted")


def spec(**fields) -> dict:
    fields.setdefault("containers", [{"name": "c", "image": "busybox"}])
    return fields


def container(name="c", **security) -> dict:
    return {"name": name, "image": "busybox", "securityContext": security}


def restricted_spec(**fields) -> dict:
    """A pod spec restricted admits, with ``fields`` laid over it."""
    out = {"containers": [container(**copy.deepcopy(RESTRICTED_CONTEXT))]}
    out.update(fields)
    return out


def detail(lv, pod_spec, metadata=None) -> str:
    return EVALUATOR.evaluate(lv, metadata or {}, pod_spec).forbidden_detail()


BASELINE_CASES = [
    # (what, violating spec, metadata, expected detail, passing spec)
    ("hostProcess", spec(securityContext={"windowsOptions": {"hostProcess": True}},
                         containers=[container(windowsOptions={"hostProcess": True})]), None,
     'hostProcess (pod and container "c" must not set securityContext.windowsOptions.hostProcess=true)',
     spec(containers=[container(windowsOptions={"hostProcess": False})])),
    ("host namespaces", spec(hostNetwork=True, hostPID=True, hostIPC=True), None,
     "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)", spec(hostNetwork=False)),
    ("privileged", spec(containers=[container("a", privileged=True), container("b", privileged=True)]), None,
     'privileged (containers "a", "b" must not set securityContext.privileged=true)',
     spec(containers=[container(privileged=False)])),
    ("capabilities", spec(containers=[container(capabilities={"add": ["SYS_ADMIN", "NET_RAW", "CHOWN"]})]), None,
     'non-default capabilities (container "c" must not include "NET_RAW", "SYS_ADMIN" in '
     'securityContext.capabilities.add)',
     spec(containers=[container(capabilities={"add": ["CHOWN", "NET_BIND_SERVICE"]})])),
    ("hostPath", spec(volumes=[{"name": "host", "hostPath": {"path": "/"}}, {"name": "e", "emptyDir": {}}]), None,
     'hostPath volumes (volume "host")', spec(volumes=[{"name": "e", "emptyDir": {}}])),
    ("hostPort", spec(containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080},
                                                                         {"containerPort": 90, "hostPort": 9090}]}]),
     None, 'hostPort (container "c" uses hostPorts 8080, 9090)',
     spec(containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}])),
    ("AppArmor field", spec(securityContext={"appArmorProfile": {"type": "Unconfined"}}), None,
     'forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")',
     spec(securityContext={"appArmorProfile": {"type": "RuntimeDefault"}})),
    ("AppArmor annotation", spec(), {"annotations": {
        "container.apparmor.security.beta.kubernetes.io/c": "unconfined"}},
     'forbidden AppArmor profile (annotation must not set AppArmor profile type to '
     '"container.apparmor.security.beta.kubernetes.io/c="unconfined"")', spec()),
    ("SELinux", spec(containers=[container(seLinuxOptions={"type": "spc_t", "user": "root"})]), None,
     'seLinuxOptions (container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; '
     'user may not be set)',
     spec(containers=[container(seLinuxOptions={"type": "container_t", "level": "s0:c1"})])),
    ("procMount", spec(containers=[container(procMount="Unmasked")]), None,
     'procMount (container "c" must not set securityContext.procMount to "Unmasked")',
     spec(containers=[container(procMount="Default")])),
    ("seccomp", spec(securityContext={"seccompProfile": {"type": "Unconfined"}}), None,
     'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
     spec(securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})),
    ("sysctls", spec(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"},
                                                  {"name": "net.ipv4.tcp_rmem", "value": "1 2 3"}]}), None,
     "forbidden sysctls (kernel.msgmax)",
     spec(securityContext={"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]})),
]


@pytest.mark.parametrize("what,bad,metadata,expected,good", BASELINE_CASES, ids=[c[0] for c in BASELINE_CASES])
def test_baseline_check(what, bad, metadata, expected, good):
    """A baseline violation is reported with upstream's reason and detail; the passing variant is clean."""
    assert detail(BASELINE, bad, metadata) == expected
    assert EVALUATOR.evaluate(BASELINE, {}, good).allowed


RESTRICTED_CASES = [
    ("volume types", restricted_spec(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}},
                                             {"name": "h", "hostPath": {"path": "/"}},
                                             {"name": "i", "image": {"reference": "img"}}]),
     'restricted volume types (volumes "n", "h", "i" use restricted volume types "hostPath", "nfs", "unknown")',
     restricted_spec(volumes=[{"name": "s", "secret": {"secretName": "s"}},
                              {"name": "p", "persistentVolumeClaim": {"claimName": "c"}}])),
    ("privilege escalation", restricted_spec(containers=[container(**{**RESTRICTED_CONTEXT,
                                                                      "allowPrivilegeEscalation": True})]),
     'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)',
     restricted_spec()),
    ("runAsNonRoot false", restricted_spec(securityContext={"runAsNonRoot": False}, containers=[
        container(**{k: v for k, v in RESTRICTED_CONTEXT.items() if k != "runAsNonRoot"})]),
     "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)",
     restricted_spec(securityContext={"runAsNonRoot": True}, containers=[
         container(**{k: v for k, v in RESTRICTED_CONTEXT.items() if k != "runAsNonRoot"})])),
    ("runAsUser", restricted_spec(securityContext={"runAsUser": 0}),
     "runAsUser=0 (pod must not set runAsUser=0)", restricted_spec(securityContext={"runAsUser": 1000})),
    ("seccomp", restricted_spec(containers=[container(**{**RESTRICTED_CONTEXT, "seccompProfile": {
        "type": "Unconfined"}})]),
     'seccompProfile (container "c" must not set securityContext.seccompProfile.type to "Unconfined")',
     restricted_spec(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}, containers=[
         container(**{k: v for k, v in RESTRICTED_CONTEXT.items() if k != "seccompProfile"})])),
    ("capabilities", restricted_spec(containers=[container(**{**RESTRICTED_CONTEXT, "capabilities": {
        "drop": ["NET_RAW"], "add": ["CHOWN", "NET_BIND_SERVICE"]}})]),
     'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]; container "c" '
     'must not include "CHOWN" in securityContext.capabilities.add)',
     restricted_spec(containers=[container(**{**RESTRICTED_CONTEXT, "capabilities": {
         "drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})])),
]


@pytest.mark.parametrize("what,bad,expected,good", RESTRICTED_CASES, ids=[c[0] for c in RESTRICTED_CASES])
def test_restricted_check(what, bad, expected, good):
    """A restricted violation is reported with upstream's reason and detail; the passing variant is clean."""
    assert detail(RESTRICTED, bad) == expected
    assert EVALUATOR.evaluate(RESTRICTED, {}, good).allowed


def test_bare_pod_under_restricted_is_the_upstream_message():
    """A pod with no security context fails restricted:latest with upstream's four reasons, in its order."""
    assert detail(RESTRICTED, spec()) == (
        'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")')


def test_restricted_runs_baseline_checks_first():
    """Under restricted, baseline violations come first (in check-ID order), then restricted ones."""
    bad = restricted_spec(hostPID=True, containers=[container(**{**RESTRICTED_CONTEXT, "privileged": True})])
    result = EVALUATOR.evaluate(RESTRICTED, {}, bad)
    assert result.reasons == ["host namespaces", "privileged"]
    bad["securityContext"] = {"runAsUser": 0}
    assert EVALUATOR.evaluate(RESTRICTED, {}, bad).reasons == ["host namespaces", "privileged", "runAsUser=0"]


def test_restricted_overrides_baseline_forms():
    """Restricted reports a hostPath volume and an extra capability once, in their restricted form."""
    bad = restricted_spec(volumes=[{"name": "h", "hostPath": {"path": "/"}}],
                          containers=[container(**{**RESTRICTED_CONTEXT, "capabilities": {
                              "drop": ["ALL"], "add": ["SYS_ADMIN"]}})])
    assert EVALUATOR.evaluate(RESTRICTED, {}, bad).reasons == ["unrestricted capabilities", "restricted volume types"]
    assert EVALUATOR.evaluate(BASELINE, {}, bad).reasons == ["non-default capabilities", "hostPath volumes"]


def test_ephemeral_and_init_containers_are_checked_in_upstream_order():
    """Init containers, containers and ephemeral containers are all checked, in that order."""
    bad = spec(initContainers=[container("i", privileged=True)], containers=[container("c", privileged=True)],
               ephemeralContainers=[container("e", privileged=True)])
    assert detail(BASELINE, bad) == 'privileged (containers "i", "c", "e" must not set securityContext.privileged=true)'


def test_privileged_level_runs_no_checks():
    """The privileged level admits anything."""
    assert EVALUATOR.evaluate(LevelVersion("privileged"), {}, spec(hostNetwork=True)).allowed


@pytest.mark.parametrize("minor,allowed", [(26, False), (27, True)])
def test_sysctl_safe_list_grows_with_the_version(minor, allowed):
    """net.ipv4.ip_local_reserved_ports is safe from policy v1.27 on."""
    pod_spec = spec(securityContext={"sysctls": [{"name": "net.ipv4.ip_local_reserved_ports", "value": "1"}]})
    assert EVALUATOR.evaluate(LevelVersion("baseline", minor), {}, pod_spec).allowed is allowed


@pytest.mark.parametrize("minor,allowed", [(31, False), (32, True)])
def test_tcp_buffer_sysctls_are_safe_from_v1_32(minor, allowed):
    """net.ipv4.tcp_wmem is safe from policy v1.32 on (and so under latest)."""
    pod_spec = spec(securityContext={"sysctls": [{"name": "net.ipv4.tcp_wmem", "value": "1 2 3"}]})
    assert EVALUATOR.evaluate(LevelVersion("baseline", minor), {}, pod_spec).allowed is allowed


@pytest.mark.parametrize("minor,allowed", [(30, False), (31, True)])
def test_container_engine_selinux_type_is_allowed_from_v1_31(minor, allowed):
    """seLinuxOptions.type container_engine_t passes baseline from policy v1.31 on."""
    pod_spec = spec(containers=[container(seLinuxOptions={"type": "container_engine_t"})])
    assert EVALUATOR.evaluate(LevelVersion("baseline", minor), {}, pod_spec).allowed is allowed


def test_seccomp_before_v1_19_reads_the_annotations():
    """Before policy v1.19 baseline reads the seccomp alpha annotations, not the field."""
    metadata = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                                "container.seccomp.security.alpha.kubernetes.io/c": "runtime/default"}}
    field = spec(securityContext={"seccompProfile": {"type": "Unconfined"}})
    old = LevelVersion("baseline", 18)
    assert detail(old, spec(), metadata) == \
        'seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")'
    assert EVALUATOR.evaluate(old, {}, field).allowed
    assert not EVALUATOR.evaluate(LevelVersion("baseline", 19), {}, field).allowed


def test_capabilities_before_v1_22_are_the_baseline_rule():
    """restricted before v1.22 has no drop-ALL rule, only baseline's added-capability limit."""
    pod_spec = restricted_spec(containers=[container(**{**RESTRICTED_CONTEXT, "capabilities": {"add": ["CHOWN"]}})])
    assert EVALUATOR.evaluate(LevelVersion("restricted", 21), {}, pod_spec).allowed
    assert EVALUATOR.evaluate(LevelVersion("restricted", 22), {}, pod_spec).reasons == ["unrestricted capabilities"]


def test_run_as_user_applies_from_v1_23():
    """runAsUser=0 is refused by restricted from policy v1.23 on."""
    pod_spec = restricted_spec(securityContext={"runAsUser": 0})
    assert EVALUATOR.evaluate(LevelVersion("restricted", 22), {}, pod_spec).allowed
    assert not EVALUATOR.evaluate(LevelVersion("restricted", 23), {}, pod_spec).allowed


def test_windows_pods_are_exempt_from_linux_only_rules_from_v1_25():
    """From v1.25 a windows pod needs no seccomp, capability or privilege-escalation settings."""
    pod_spec = spec(os={"name": "windows"}, securityContext={"runAsNonRoot": True})
    assert EVALUATOR.evaluate(LevelVersion("restricted", 24), {}, pod_spec).reasons == [
        "allowPrivilegeEscalation != false", "unrestricted capabilities", "seccompProfile"]
    assert EVALUATOR.evaluate(LevelVersion("restricted", 25), {}, pod_spec).allowed


def test_future_versions_read_as_latest():
    """A pinned version newer than any check revision evaluates as latest."""
    pod_spec = spec(securityContext={"sysctls": [{"name": "net.ipv4.tcp_wmem", "value": "1"}]})
    assert EVALUATOR.evaluate(LevelVersion("baseline", 40), {}, pod_spec).allowed


def test_message_matches_one_captured_from_a_v1_32_apiserver():
    """The violations of a pod with SELinux user/role and unsafe sysctls read as a 1.32 apiserver printed them."""
    pod_spec = spec(securityContext={"seLinuxOptions": {"user": "u", "role": "r", "level": "s0:c1"},
                                     "sysctls": [{"name": "net.core.somaxconn", "value": "1024"},
                                                 {"name": "kernel.msgmax", "value": "65536"}]},
                    containers=[{"name": "my-pod", "image": "busybox"}])
    assert detail(LevelVersion("restricted", 32), pod_spec) == (
        'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: user may not be set; role may not be set), '
        'forbidden sysctls (net.core.somaxconn, kernel.msgmax), allowPrivilegeEscalation != false (container '
        '"my-pod" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container '
        '"my-pod" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container '
        '"my-pod" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "my-pod" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
