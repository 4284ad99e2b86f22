"""ValidatePodSpec's rules for what users write by hand: ports with hostNetwork and host-port conflicts,
envFrom, volume mounts, probes and lifecycle handlers, security contexts, affinity, DNS config, gates,
topology spread constraints, os."""

from __future__ import annotations

from kapiserver.registry.defaults import pod as pod_defaults
from kapiserver.registry.validation import pod as pod_validation


def errors(container=None, **spec) -> list[str]:
    c = dict({"name": "web", "image": "nginx"}, **(container or {}))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
           "spec": dict({"containers": [c]}, **spec)}
    pod_defaults.pod(pod)
    return [str(e) for e in pod_validation.validate_pod(pod, True)]


def test_a_plain_pod_passes():
    """kubectl run's pod, with a probe, a lifecycle hook, envFrom and affinity written correctly, is valid."""
    assert errors({"livenessProbe": {"httpGet": {"port": 80}}, "lifecycle": {"preStop": {"exec": {
        "command": ["sleep", "1"]}}}, "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "P_"}]},
        affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}) == []


def test_host_network_ports_must_match():
    """With hostNetwork a Pod's hostPort is its containerPort (defaulting fills a missing one)."""
    assert errors({"ports": [{"containerPort": 80}]}, hostNetwork=True) == []
    assert errors({"ports": [{"containerPort": 80, "hostPort": 81}]}, hostNetwork=True) == [
        "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` "
        "is true"]


def test_host_port_conflicts():
    """Conflicts are named protocol/hostIP/port; init containers run one by one, so they may share a port."""
    assert errors({"ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 8080}]}) == [
        'spec.containers[0].ports[1].hostPort: Duplicate value: "TCP//8080"']
    init = [{"name": f"i{n}", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 8080}]}
            for n in range(2)]
    assert errors(initContainers=init) == []


def test_env_from_needs_one_source():
    """envFrom: one of configMapRef / secretRef (the count reported at the list), a valid prefix."""
    assert errors({"envFrom": [{}]}) == [
        'spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`']
    assert errors({"envFrom": [{"configMapRef": {"name": "a"}, "secretRef": {"name": "b"}}]}) == [
        'spec.containers[0].envFrom: Invalid value: "": may not have more than one field specified at a time']
    assert errors({"envFrom": [{"secretRef": {}}]}) == ["spec.containers[0].envFrom[0].secretRef.name: Required value"]


def test_volume_mount_sub_paths_and_read_only():
    """subPath relative without '..' (reported without the mount's index, as upstream); recursiveReadOnly
    only with readOnly; Bidirectional propagation only for privileged containers."""
    vols = [{"name": "data", "emptyDir": {}}]
    assert errors({"volumeMounts": [{"name": "data", "mountPath": "/d", "subPath": "/abs/../x"}]}, volumes=vols) == [
        'spec.containers[0].volumeMounts.subPath: Invalid value: "/abs/../x": must be a relative path',
        "spec.containers[0].volumeMounts.subPath: Invalid value: \"/abs/../x\": must not contain '..'"]
    assert errors({"volumeMounts": [{"name": "data", "mountPath": "/d", "recursiveReadOnly": "Enabled"}]},
                  volumes=vols) == [
        "spec.containers[0].volumeMounts.recursiveReadOnly: Forbidden: may only be specified when readOnly is true"]
    assert errors({"volumeMounts": [{"name": "data", "mountPath": "/d", "mountPropagation": "Bidirectional"}]},
                  volumes=vols) == [
        "spec.containers[0].volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available "
        "only to privileged containers"]


def test_probe_and_hook_handlers():
    """Probes and hooks need exactly one handler with its required parts; readiness probes take no grace
    period; liveness probes' successThreshold is 1."""
    assert errors({"readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}) == [
        "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]
    assert errors({"livenessProbe": {"exec": {}}}) == [
        "spec.containers[0].livenessProbe.exec.command: Required value"]
    assert errors({"livenessProbe": {"tcpSocket": {"port": 0}, "successThreshold": 2}}) == [
        "spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]
    assert errors({"readinessProbe": {"grpc": {"port": 9000}, "terminationGracePeriodSeconds": 5}}) == [
        "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for "
        "readinessProbes"]
    assert errors({"lifecycle": {"postStart": {}}}) == [
        "spec.containers[0].lifecycle.postStart: Required value: must specify a handler type"]
    assert errors({"lifecycle": {"preStop": {"sleep": {"seconds": 60}}}}) == [
        "spec.containers[0].lifecycle.preStop.sleep: Invalid value: 60: must be greater than 0 and less than "
        "terminationGracePeriodSeconds (30). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero "
        "sleep."]


def test_security_contexts():
    """User and group IDs in range, seccomp profile types, privilege escalation against privileged."""
    assert errors({"securityContext": {"runAsUser": -1}}, securityContext={"runAsGroup": -2, "fsGroup": -3}) == [
        "spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, "
        "inclusive",
        "spec.securityContext.fsGroup: Invalid value: -3: must be between 0 and 2147483647, inclusive",
        "spec.securityContext.runAsGroup: Invalid value: -2: must be between 0 and 2147483647, inclusive"]
    assert errors(securityContext={"seccompProfile": {"type": "Localhost"}}) == [
        "spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is "
        "Localhost"]
    [message] = errors({"securityContext": {"privileged": True, "allowPrivilegeEscalation": False}})
    assert message.startswith("spec.containers[0].securityContext: Invalid value: core.SecurityContext{")
    assert message.endswith("cannot set `allowPrivilegeEscalation` to false and `privileged` to true")


def test_affinity_terms():
    """Node affinity needs terms and valid operators; pod affinity terms need a topologyKey; weights 1-100."""
    assert errors(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": []}}}) == [
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: "
        "must have at least one node selector term"]
    assert errors(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Is", "values": ["a"]}]}]}}}) == [
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]."
        'matchExpressions[0].operator: Invalid value: "Is": not a valid selector operator']
    assert errors(affinity={"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 0, "podAffinityTerm": {"labelSelector": {}}}]}}) == [
        "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: "
        "must be in the range 1-100",
        "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: "
        "Required value: can not be empty",
        "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: "
        'Invalid value: "": name part must be non-empty',
        "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: "
        "Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
        "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]


def test_dns_config():
    """dnsPolicy None requires nameservers; nameservers are IPs, at most 3."""
    assert errors(dnsPolicy="None") == [
        "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]
    assert errors(dnsPolicy="None", dnsConfig={"searches": ["a.b"]}) == [
        "spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is "
        "None"]
    assert errors(dnsConfig={"nameservers": ["1.1.1.1", "x"], "options": [{}]}) == [
        'spec.dnsConfig.nameservers[1]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or '
        '2001:db8::ffff)',
        "spec.dnsConfig.options[0]: Required value: must not be empty"]


def test_gates_topology_and_os():
    """Duplicate scheduling gates, minDomains with ScheduleAnyway, repeated constraints, an unknown os."""
    assert errors(schedulingGates=[{"name": "a"}, {"name": "a"}]) == [
        'spec.schedulingGates[1]: Duplicate value: "a"']
    constraint = {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2,
                  "labelSelector": {}}
    assert errors(topologySpreadConstraints=[constraint, dict(constraint, minDomains=None)]) == [
        'spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: '
        '"{zone, ScheduleAnyway}"',
        "spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: can only use minDomains if "
        "whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"]
    assert errors(os={"name": "plan9"}) == [
        'spec.os: Unsupported value: "plan9": supported values: "linux", "windows"']
    assert errors({"securityContext": {"privileged": True}}, os={"name": "windows"}) == [
        "spec.containers[0].securityContext.privileged: Forbidden: cannot be set for a windows pod"]


def test_container_resources_are_judged_by_the_shared_resource_rules():
    """validateContainerResourceName and ValidateResourceQuantityValue as for LimitRanges and quotas: an unknown
    bare name is neither standard nor fully qualified, and a fractional extended resource prints as Go prints a
    Quantity."""
    from kapiserver.registry.validation.pod import resources
    path = "spec.containers[0].resources"
    assert [str(e) for e in resources({"limits": {"foo": "1"}}, path)] == [
        f'{path}.limits[foo]: Invalid value: "foo": must be a standard resource type or fully qualified',
        f'{path}.limits[foo]: Invalid value: "foo": must be a standard resource for containers']
    gpu = [str(e) for e in resources({"limits": {"example.com/gpu": "1.5"}}, path)]
    assert gpu == [f"{path}.limits[example.com/gpu]: Invalid value: resource.Quantity{{i:resource.int64Amount{{"
                   'value:15, scale:-1}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}: '
                   "must be an integer"]


def test_a_pods_host_path_volume_is_judged_as_a_persistent_volumes():
    """validateHostPathVolumeSource for both: no '..' segment, the types listed sorted."""
    from kapiserver.registry.validation.pod import _volume_source
    errs = [str(e) for e in _volume_source({"name": "v", "hostPath": {"path": "/x/../y", "type": "Pipe"}}, "v")]
    assert errs == ['v.hostPath.path: Invalid value: "/x/../y": must not contain \'..\'',
                    'v.hostPath.type: Unsupported value: "Pipe": supported values: "", "BlockDevice", "CharDevice", '
                    '"Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"']
