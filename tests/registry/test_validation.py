"""Validation of built-in objects: upstream's field paths and message bodies, byte for byte."""

import copy

import pytest

from kapiserver.machinery.errors import invalid_object
from kapiserver.registry.catalog import BUILTIN
from kapiserver.registry.defaults import apply_defaults
from kapiserver.machinery import names
from kapiserver.registry.validation import meta as _meta, name_rule, validate, validate_name

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
QNAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def errors(group, kind, obj, old=None, namespaced=True, version="v1", default=True):
    """The rendered errors after defaulting, as the Store would produce them."""
    obj = copy.deepcopy(obj)
    if default:
        apply_defaults(group, version, kind, obj)
        if old is not None:
            old = copy.deepcopy(old)
            apply_defaults(group, version, kind, old)
    return [str(e) for e in validate(group, version, kind, obj, old, namespaced)]


def meta(name="x", namespace="default", **extra):
    m = {"name": name, **extra}
    if namespace is not None:
        m["namespace"] = namespace
    return m


def pod(name="p", containers=None, **spec):
    return {"metadata": meta(name), "spec": {"containers": [{"name": "c", "image": "nginx"}]
                                             if containers is None else containers, **spec}}


def deployment(selector=None, labels=None, name="web"):
    return {"metadata": meta(name), "spec": {
        "selector": {"matchLabels": {"app": "web"}} if selector is None else selector,
        "template": {"metadata": {"labels": {"app": "web"} if labels is None else labels},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


# -- object meta -----------------------------------------------------------------------------

def test_name_or_generate_name_required():
    """A nameless object fails with upstream's exact Required message."""
    assert errors("", "ConfigMap", {"metadata": {"namespace": "default"}}) == [
        "metadata.name: Required value: name or generateName is required"]


def test_subdomain_name_message():
    """Most kinds use DNS-1123 subdomain names, with the full regex message."""
    assert errors("", "ConfigMap", {"metadata": meta("Bad_Name")}) == [
        'metadata.name: Invalid value: "Bad_Name": ' + SUBDOMAIN_MSG]


def test_namespace_names_are_labels():
    """Namespaces are DNS-1123 labels: dots get their own message, bad characters the regex one."""
    assert errors("", "Namespace", {"metadata": meta("team.a", None)}, namespaced=False) == [
        'metadata.name: Invalid value: "team.a": must not contain dots']
    assert errors("", "Namespace", {"metadata": meta("Team", None)}, namespaced=False) == [
        'metadata.name: Invalid value: "Team": ' + LABEL_MSG]


def test_service_names_are_dns1035_labels():
    """Service names must start with a letter (DNS-1035)."""
    svc = {"metadata": meta("1web"), "spec": {"ports": [{"port": 80}]}}
    assert errors("", "Service", svc) == ['metadata.name: Invalid value: "1web": ' + DNS1035_MSG]


def test_name_too_long():
    """A 64-character label name is reported with both the length and the format rule as applicable."""
    assert errors("apps", "StatefulSet", {**deployment(name="a" * 64)})[:1] == [
        f'metadata.name: Invalid value: "{"a" * 64}": must be no more than 63 characters']


def test_rbac_names_are_path_segments():
    """RBAC kinds accept any path segment name (colons, capitals) but not '/' or '%'."""
    role = {"metadata": meta("system:Admin"), "rules": []}
    assert errors("rbac.authorization.k8s.io", "Role", role) == []
    role["metadata"]["name"] = "a/b%c"
    assert errors("rbac.authorization.k8s.io", "Role", role) == [
        'metadata.name: Invalid value: "a/b%c": may not contain \'/\'',
        'metadata.name: Invalid value: "a/b%c": may not contain \'%\'']


def test_generate_name_prefix_may_end_in_dash():
    """generateName is checked as a prefix, so its trailing '-' is fine."""
    obj = {"metadata": meta("web-x7k2p", generateName="web-")}
    assert errors("", "ConfigMap", obj) == []
    obj["metadata"]["generateName"] = "Web-"
    assert errors("", "ConfigMap", obj)[0].startswith('metadata.generateName: Invalid value: "Web-": ')


def test_namespace_required_or_forbidden():
    """Namespaced kinds need a namespace; cluster-scoped ones may not carry one."""
    assert errors("", "ConfigMap", {"metadata": meta(namespace=None)}) == ["metadata.namespace: Required value"]
    assert errors("", "Namespace", {"metadata": meta("dev")}, namespaced=False) == [
        "metadata.namespace: Forbidden: not allowed on this type"]


def test_label_key_and_value_messages():
    """Bad label keys and values are reported at metadata.labels with upstream's texts."""
    obj = {"metadata": meta(labels={"-bad": "ok", "good": "-bad-"})}
    assert errors("", "ConfigMap", obj) == [
        'metadata.labels: Invalid value: "-bad": ' + QNAME_PART_MSG,
        'metadata.labels: Invalid value: "-bad-": ' + LABEL_VALUE_MSG]


def test_label_prefix_and_length():
    """The prefix part of a key must be a subdomain; values are limited to 63 characters."""
    obj = {"metadata": meta(labels={"Example.com/a": "v" * 64})}
    assert errors("", "ConfigMap", obj) == [
        'metadata.labels: Invalid value: "Example.com/a": prefix part ' + SUBDOMAIN_MSG,
        f'metadata.labels: Invalid value: "{"v" * 64}": must be no more than 63 characters']


def test_annotation_size_limit():
    """Annotations over 256 KiB in total are Too long, without the value."""
    obj = {"metadata": meta(annotations={"big": "x" * (256 * 1024)})}
    assert errors("", "ConfigMap", obj) == ["metadata.annotations: Too long: may not be more than 262144 bytes"]


def test_finalizer_names():
    """A bare finalizer name must be a standard one."""
    obj = {"metadata": meta(finalizers=["kubernetes", "example.com/cleanup", "cleanup"])}
    assert errors("", "ConfigMap", obj) == [
        'metadata.finalizers[2]: Invalid value: "cleanup": name is neither a standard finalizer name nor '
        "is it fully qualified"]


def test_metadata_immutable_on_update():
    """name, uid and creationTimestamp cannot change; an update needs a resourceVersion."""
    old = {"metadata": meta(uid="u1", resourceVersion="5", creationTimestamp="2024-01-01T00:00:00Z")}
    new = {"metadata": meta(uid="u2", resourceVersion="5", creationTimestamp="2024-01-01T00:00:01Z")}
    assert errors("", "ConfigMap", new, old) == [
        'metadata.uid: Invalid value: "u2": field is immutable',
        'metadata.creationTimestamp: Invalid value: "2024-01-01T00:00:01Z": field is immutable']
    del new["metadata"]["resourceVersion"]
    assert 'metadata.resourceVersion: Invalid value: "": must be specified for an update' in errors(
        "", "ConfigMap", new, old)


def test_metadata_field_checks_order_on_create_and_update():
    """Create and update check the fields present in one order; only create runs apimachinery's finalizer
    rule, and kube_rules adds core's finalizer-name pass to both."""
    bad = meta(resourceVersion="1", generation=-1, labels={"a b": "c"}, annotations={"a b": "c"},
               ownerReferences=[{"apiVersion": "", "kind": "K", "name": "o", "uid": "u"}],
               finalizers=["orphan", "foregroundDeletion", "cleanup"], managedFields=[{"operation": "Patch"}])
    head = [f'metadata.labels: Invalid value: "a b": {QNAME_PART_MSG}',
            f'metadata.annotations: Invalid value: "a b": {QNAME_PART_MSG}',
            'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty']
    both_set = ('metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion", "cleanup"}: '
                "finalizer orphan and foregroundDeletion cannot be both set")
    managed = 'metadata.managedFields[0].operation: Invalid value: "Patch": must be `Apply` or `Update`'
    bare = ('metadata.finalizers[2]: Invalid value: "cleanup": name is neither a standard finalizer name nor '
            "is it fully qualified")
    negative = "metadata.generation: Invalid value: -1: must be greater than or equal to 0"
    decremented = "metadata.generation: Invalid value: -1: must not be decremented"
    for kube_rules, tail in ((True, [bare]), (False, [])):
        created = _meta.object_meta(bad, True, names.name_is_dns_subdomain, kube_rules=kube_rules)
        assert [str(e) for e in created] == [negative, *head, both_set, managed, *tail]
        updated = _meta.object_meta_update(bad, {**bad, "generation": 0}, kube_rules=kube_rules)
        assert [str(e) for e in updated] == [decremented, *head, managed, *tail]


# -- pods ------------------------------------------------------------------------------------

def test_pod_requires_containers():
    """A pod without containers is rejected at spec.containers."""
    assert errors("", "Pod", pod(containers=[])) == ["spec.containers: Required value"]


def test_container_name_image_and_duplicates():
    """Containers need DNS-label names and images; names are unique across init and app containers."""
    out = errors("", "Pod", pod(containers=[{"name": "Web"}, {"name": "b", "image": "x"}, {"name": "b", "image": "y"}],
                                initContainers=[{"name": "b", "image": "z"}]))
    assert out == [
        'spec.containers[0].name: Invalid value: "Web": ' + LABEL_MSG,
        "spec.containers[0].image: Required value",
        'spec.containers[2].name: Duplicate value: "b"',
        'spec.initContainers[0].name: Duplicate value: "b"']


def test_container_ports():
    """Container ports are range-checked, protocols enumerated, names IANA service names."""
    ports = [{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP", "name": "Web"}]
    out = errors("", "Pod", pod(containers=[{"name": "c", "image": "x", "ports": ports}]))
    assert out == [
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[1].name: Invalid value: "Web": must contain only alpha-numeric characters '
        "(a-z, 0-9), and hyphens (-)",
        'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']


def test_restart_policy_and_volume_mounts():
    """restartPolicy is enumerated and a mount must name a declared volume."""
    c = {"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}
    out = errors("", "Pod", pod(containers=[c], restartPolicy="Sometimes"))
    assert out == [
        'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']


def test_env_field_refs():
    """Env field refs must name a downward-API field an env var may use."""
    env = [{"name": "PHASE", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}},
           {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.foo"}}},
           {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    assert errors("", "Pod", pod(containers=[{"name": "c", "image": "x", "env": env}])) == [
        'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "status.phase": supported '
        'values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", '
        '"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
        'spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: Invalid value: "metadata.foo": error converting '
        "fieldPath: field label not supported: metadata.foo"]


def test_requests_may_not_exceed_limits():
    """A request above its limit names the resource and the limit."""
    c = {"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}
    assert errors("", "Pod", pod(containers=[c])) == [
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1']


def test_extended_resources_are_not_overcommitted():
    """Extended resources need a limit equal to the request, in whole units."""
    c = {"name": "c", "image": "x", "resources": {"requests": {"nvidia.com/gpu": "1", "example.com/foo": "2"},
                                                  "limits": {"example.com/foo": "1"}}}
    assert errors("", "Pod", pod(containers=[c])) == [
        'spec.containers[0].resources.requests: Invalid value: "2": must be equal to example.com/foo limit of 1',
        "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"]


def test_pod_update_may_change_only_images():
    """Changing anything but images (and the few other mutable fields) is Forbidden at spec."""
    old = pod()
    old["metadata"]["resourceVersion"] = "1"
    apply_defaults("", "v1", "Pod", old)
    # As a real update does: the stored object, with a new image.
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.27"
    new["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    assert errors("", "Pod", new, old) == []
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    out = errors("", "Pod", new, old)
    assert len(out) == 1
    assert out[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n")


# -- workloads -------------------------------------------------------------------------------

def test_selector_must_match_template_labels():
    """A deployment whose selector misses its template labels fails with Go's map rendering."""
    assert errors("apps", "Deployment", deployment(labels={"app": "other"})) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        "`selector` does not match template `labels`"]


def test_missing_selector():
    """A deployment without a selector reports it missing and the labels unmatched."""
    obj = deployment()
    del obj["spec"]["selector"]
    assert errors("apps", "Deployment", obj) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"]


def test_empty_selector_and_negative_replicas():
    """Empty selectors are invalid and replicas must be non-negative."""
    obj = deployment(selector={})
    obj["spec"]["replicas"] = -1
    assert errors("apps", "Deployment", obj) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]


def test_selector_immutable_in_apps_v1():
    """Changing a deployment's selector on update is rejected with Go's struct rendering."""
    old = deployment()
    old["metadata"]["resourceVersion"] = "3"
    new = deployment(selector={"matchLabels": {"app": "other"}}, labels={"app": "other"})
    new["metadata"]["resourceVersion"] = "3"
    assert errors("apps", "Deployment", new, old) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"other"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]


def test_recreate_strategy_forbids_rolling_update():
    """A Recreate deployment may not carry rollingUpdate parameters."""
    obj = deployment()
    obj["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    assert errors("apps", "Deployment", obj) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]


def test_statefulset_spec_mostly_immutable():
    """Only replicas, template, updateStrategy and a few others may change on a stateful set."""
    old = deployment()
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["serviceName"] = "other"
    assert errors("apps", "StatefulSet", new, old) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]


def test_daemonset_template_restart_policy():
    """Daemon set templates must restart Always."""
    obj = deployment()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert errors("apps", "DaemonSet", obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']


def test_template_labels_reported_under_template():
    """Template label errors sit at spec.template.labels, as upstream reports them."""
    obj = deployment(selector={"matchLabels": {"app": "-x"}}, labels={"app": "-x"})
    assert errors("apps", "ReplicaSet", obj) == [
        'spec.selector.matchLabels: Invalid value: "-x": ' + LABEL_VALUE_MSG,
        'spec.template.labels: Invalid value: "-x": ' + LABEL_VALUE_MSG]


def job(restart="Never", **spec):
    return {"metadata": meta("j"), "spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "busybox"}], "restartPolicy": restart}}, **spec}}


def test_job_restart_policy():
    """Jobs refuse restartPolicy Always (what an unset one defaults to) as upstream words it; a job reaching
    validation without a selector (the strategy generates one) is told it is required."""
    assert errors("batch", "Job", job("Always")) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
        "spec.selector: Required value"]


def test_cronjob_schedule():
    """Cron schedules are required and parsed as standard five-field cron."""
    cron = {"metadata": meta("c"), "spec": {"schedule": "", "jobTemplate": {"spec": job()["spec"]}}}
    assert errors("batch", "CronJob", cron) == ["spec.schedule: Required value"]
    cron["spec"]["schedule"] = "* * *"
    assert errors("batch", "CronJob", cron) == [
        'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]']
    cron["spec"]["schedule"] = "61 * * * *"
    assert errors("batch", "CronJob", cron) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']
    for good in ("*/5 * * * *", "0 0 1 jan-mar MON-fri", "@hourly", "@every 1h30m"):
        cron["spec"]["schedule"] = good
        assert errors("batch", "CronJob", cron) == []


def test_cronjob_name_length():
    """Cron job names leave room for the controller's 11-character suffix."""
    cron = {"metadata": meta("c" * 53), "spec": {"schedule": "@daily", "jobTemplate": {"spec": job()["spec"]}}}
    assert errors("batch", "CronJob", cron) == [
        f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters']


# -- services --------------------------------------------------------------------------------

def test_service_ports():
    """Multi-port services need port names; ports are range-checked and protocols enumerated."""
    svc = {"metadata": meta("web"), "spec": {"ports": [{"port": 0}, {"port": 80, "protocol": "HTTP"}]}}
    assert errors("", "Service", svc) == [
        "spec.ports[0].name: Required value",
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[1].name: Required value",
        'spec.ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']


def test_service_type_and_ports_required():
    """Service type is enumerated and a non-headless service needs ports."""
    svc = {"metadata": meta("web"), "spec": {"type": "Internal"}}
    assert errors("", "Service", svc) == [
        "spec.ports: Required value",
        'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"']


def test_service_cluster_ip_immutable():
    """The primary cluster IP may not change once set."""
    old = {"metadata": meta("web", resourceVersion="1"),
           "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ports": [{"port": 80}]}}
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"], new["spec"]["clusterIPs"] = "10.0.0.2", ["10.0.0.2"]
    # The value is the whole list, as upstream's validateUpgradeDowngradeClusterIPs prints it.
    assert errors("", "Service", new, old) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.2"}: may not change once set']


# -- configmaps and secrets ------------------------------------------------------------------

def test_config_map_keys():
    """Config map keys follow the config-key rule, reported at data[<key>]."""
    obj = {"metadata": meta(), "data": {"a b": "1", "..x": "2"}}
    assert errors("", "ConfigMap", obj) == [
        "data[..x]: Invalid value: \"..x\": must not start with '..'",
        "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', "
        "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')"]


def test_immutable_config_map():
    """An immutable config map refuses data changes and being made mutable."""
    old = {"metadata": meta(resourceVersion="1"), "data": {"a": "1"}, "immutable": True}
    new = {"metadata": meta(resourceVersion="1"), "data": {"a": "2"}}
    assert errors("", "ConfigMap", new, old) == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set"]


def test_secret_type_keys():
    """TLS secrets need tls.crt and tls.key; dockerconfigjson needs its key; type is immutable."""
    tls = {"metadata": meta(), "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}
    assert errors("", "Secret", tls) == ["data[tls.key]: Required value"]
    docker = {"metadata": meta(), "type": "kubernetes.io/dockerconfigjson", "data": {}}
    assert errors("", "Secret", docker) == ["data[.dockerconfigjson]: Required value"]
    old = {"metadata": meta(resourceVersion="1"), "type": "Opaque"}
    new = {"metadata": meta(resourceVersion="1"), "type": "kubernetes.io/basic-auth", "data": {"username": "eA=="}}
    assert errors("", "Secret", new, old) == ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable']


# -- other groups ----------------------------------------------------------------------------

def test_rbac_rules_and_bindings():
    """Rules need verbs; bindings need a supported roleRef and cannot change it."""
    role = {"metadata": meta("r"), "rules": [{"apiGroups": [""], "resources": ["pods"]}]}
    assert errors("rbac.authorization.k8s.io", "Role", role) == [
        "rules[0].verbs: Required value: verbs must contain at least one value"]
    binding = {"metadata": meta("b", resourceVersion="1"), "roleRef": {"kind": "Role", "name": "r"},
               "subjects": [{"kind": "Robot", "name": "x"}]}
    assert errors("rbac.authorization.k8s.io", "RoleBinding", binding) == [
        'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"']
    crb = {"metadata": meta("b", None), "roleRef": {"kind": "Role", "name": "r"}}
    assert errors("rbac.authorization.k8s.io", "ClusterRoleBinding", crb, namespaced=False) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"']
    changed = copy.deepcopy(binding)
    changed["subjects"] = []
    changed["roleRef"]["name"] = "other"
    assert errors("rbac.authorization.k8s.io", "RoleBinding", changed, {**binding, "subjects": []}) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: '
        "cannot change roleRef"]


def test_ingress_rules():
    """Ingress paths need a pathType and an absolute path; hosts may not be IPs."""
    ing = {"metadata": meta("i"), "spec": {"rules": [{"host": "10.0.0.1", "http": {"paths": [
        {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    assert errors("networking.k8s.io", "Ingress", ing) == [
        'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
        'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path',
        "spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified"]
    empty = {"metadata": meta("i"), "spec": {}}
    assert errors("networking.k8s.io", "Ingress", empty) == [
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"]


def test_lease_storage_class_namespace_node():
    """Lease durations are positive; storage classes refuse Recycle; taint effects are enumerated."""
    lease = {"metadata": meta("l"), "spec": {"leaseDurationSeconds": 0}}
    assert errors("coordination.k8s.io", "Lease", lease) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    sc = {"metadata": meta("fast", None), "provisioner": "x.io/p", "reclaimPolicy": "Recycle"}
    assert errors("storage.k8s.io", "StorageClass", sc, namespaced=False) == [
        'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"']
    node = {"metadata": meta("n1", None), "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}}
    assert errors("", "Node", node, namespaced=False) == [
        'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"']


def test_invalid_object_status_message():
    """The errors compose into upstream's 422 message for a single and for several causes."""
    obj = deployment(labels={"app": "other"})
    apply_defaults("apps", "v1", "Deployment", obj)
    status = invalid_object("apps", "Deployment", "web", validate("apps", "v1", "Deployment", obj, None, True))
    assert status.message == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"other"}: `selector` does not match template `labels`')
    assert status.details["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.template.metadata.labels",
        "message": 'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`'}]


def test_name_rules():
    """name_rule and validate_name expose the per-kind name rule."""
    assert name_rule("", "Namespace") == "DNS1123Label"
    assert name_rule("", "Service") == "DNS1035Label"
    assert name_rule("apps", "StatefulSet") == "DNS1123Label"
    assert name_rule("rbac.authorization.k8s.io", "ClusterRole") == "PathSegmentName"
    assert name_rule("", "ConfigMap") == "DNS1123Subdomain"
    assert validate_name("DNS1123Subdomain", "a.b") == []
    assert validate_name("DNS1123Label", "a.b") == ["must not contain dots"]
    assert validate_name("PathSegmentName", "..") == ["may not be '..'"]


def minimal(info):
    """A small valid-looking object for any catalogued kind."""
    return {"metadata": {"name": "x", **({"namespace": "default"} if info.namespaced else {})}}


@pytest.mark.parametrize("info", BUILTIN, ids=lambda i: f"{i.group or 'core'}/{i.version}/{i.kind}")
def test_every_builtin_kind_validates_without_crashing(info):
    """Every catalogued kind validates on create and update and returns FieldErrors only."""
    obj = minimal(info)
    apply_defaults(info.group, info.version, info.kind, obj)
    created = validate(info.group, info.version, info.kind, obj, None, info.namespaced)
    updated = validate(info.group, info.version, info.kind, obj, copy.deepcopy(obj), info.namespaced)
    for err in created + updated:
        assert err.reason.startswith("FieldValue") and str(err)


_ODD_VALUES = [None, "", "x", 0, -1, 70000, True, 1.5, [], {}, ["a"], {"a": "b"}, [None], [1]]
_FUZZ_SEEDS = [
    ("", "Pod", {"metadata": meta("p", labels={"a": "b"}), "spec": {
        "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                        "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
                        "resources": {"limits": {"cpu": "1"}}, "livenessProbe": {"httpGet": {"port": 80}},
                        "volumeMounts": [{"name": "v", "mountPath": "/"}]}],
        "volumes": [{"name": "v", "configMap": {"name": "c"}}], "tolerations": [{"key": "k"}]}}),
    ("apps", "Deployment", {"metadata": meta("d"), "spec": {
        "selector": {"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "10%"}}}}),
    ("", "Service", {"metadata": meta("s"), "spec": {
        "ports": [{"port": 80, "targetPort": "http", "nodePort": 30000}], "selector": {"a": "b"},
        "type": "NodePort", "sessionAffinity": "ClientIP"}}),
    ("", "Secret", {"metadata": meta("s"), "type": "kubernetes.io/dockerconfigjson",
                    "data": {".dockerconfigjson": "e30="}, "stringData": {"a": "b"}}),
    ("batch", "CronJob", {"metadata": meta("c"), "spec": {"schedule": "* * * * *", "timeZone": "UTC", "jobTemplate": {
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}}}}}}),
    ("networking.k8s.io", "Ingress", {"metadata": meta("i"), "spec": {"tls": [{"hosts": ["*.a.b"]}], "rules": [
        {"host": "a.b", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                            "backend": {"service": {"name": "s", "port": {"name": "http"}}}}]}}]}}),
    ("rbac.authorization.k8s.io", "RoleBinding", {"metadata": meta("b"), "roleRef": {"kind": "Role", "name": "r"},
                                                  "subjects": [{"kind": "User", "name": "u"}]}),
]


def _paths(obj, prefix=()):
    if prefix:
        yield prefix
    children = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in children:
        yield from _paths(value, prefix + (key,))


@pytest.mark.parametrize("group, kind, seed", _FUZZ_SEEDS, ids=[k for _, k, _ in _FUZZ_SEEDS])
def test_malformed_values_never_crash(group, kind, seed):
    """Any field replaced by a value of the wrong type yields FieldErrors, never an exception."""
    old = copy.deepcopy(seed)
    old["metadata"]["resourceVersion"] = "1"
    apply_defaults(group, "v1", kind, old)
    for path in list(_paths(seed)):
        for value in _ODD_VALUES:
            obj = copy.deepcopy(seed)
            target = obj
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = copy.deepcopy(value)
            apply_defaults(group, "v1", kind, obj)
            validate(group, "v1", kind, obj, None, True)
            validate(group, "v1", kind, obj, old, True)


def test_service_traffic_policies_and_cluster_ips():
    """externalTrafficPolicy needs an externally reachable service; cluster IPs must be IPs."""
    svc = {"metadata": meta("web"), "spec": {"externalTrafficPolicy": "Local", "clusterIP": "10.0.0",
                                             "ports": [{"port": 80}]}}
    assert errors("", "Service", svc) == [
        'spec.clusterIPs[0]: Invalid value: "10.0.0": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']
    svc["spec"].update(type="NodePort", clusterIP="None")
    assert errors("", "Service", svc) == [
        'spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services']


def test_name_checks_remember_only_valid_strings():
    """A string found valid is answered from memory; an invalid one is checked (and refused) every time; the
    memory starts again once full; a non-string is checked as its text and not remembered."""
    from kapiserver.machinery import names
    check = names.is_dns1123_label
    check.valid.clear()
    assert check("good-name") == [] and "good-name" in check.valid
    assert check("good-name") == []
    first = check("Bad_Name")
    assert first and check("Bad_Name") == first and "Bad_Name" not in check.valid
    assert check(12) == [] and 12 not in check.valid and "12" not in check.valid
    assert check(None) != [] and check(None) == check("")
    result = check("good-name")
    result.append("changed by a caller")
    assert check("good-name") == []
    for i in range(names.REMEMBERED_VALID + 1):
        check(f"n{i}")
    assert len(check.valid) <= names.REMEMBERED_VALID
    assert names.is_qualified_name("example.com/Key") == [] and names.is_qualified_name("a/b/c")
    assert names.is_label_value("") == [] and names.is_label_value("-x")
    assert names.is_config_map_key("k.1") == [] and names.is_config_map_key("..x")
