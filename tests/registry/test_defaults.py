"""Defaulting of built-in objects: the values upstream's defaulters produce."""

import copy

import pytest

from kapiserver.registry.catalog import BUILTIN
from kapiserver.registry.defaults import apply_defaults, pod_qos_class
from kapiserver.registry.defaults.pod import image_tag


def defaulted(group, version, kind, obj):
    obj = copy.deepcopy(obj)
    apply_defaults(group, version, kind, obj)
    return obj


def nginx(image="nginx", **extra):
    return {"name": "nginx", "image": image, **extra}


def pod(*containers, **spec):
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": list(containers) or [nginx()], **spec}}


POD_SPEC_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}


def test_pod_spec_and_container_defaults():
    """A bare pod gets the pod-spec and container defaults a real apiserver writes."""
    out = defaulted("", "v1", "Pod", pod(nginx(ports=[{"containerPort": 80}])))
    spec = out["spec"]
    assert {k: spec[k] for k in POD_SPEC_DEFAULTS} == POD_SPEC_DEFAULTS
    assert spec["enableServiceLinks"] is True
    assert spec["containers"][0] == {
        "name": "nginx", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File", "resources": {},
    }


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.27", "IfNotPresent"),
    ("registry.k8s.io/pause:3.10", "IfNotPresent"),
    ("localhost:5000/app", "Always"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ("nginx:1.27@sha256:" + "a" * 64, "IfNotPresent"),
    ("NotValid", "IfNotPresent"),
    ("", "IfNotPresent"),
])
def test_image_pull_policy_follows_the_tag(image, policy):
    """imagePullPolicy is Always for :latest or an untagged reference, else IfNotPresent."""
    out = defaulted("", "v1", "Pod", pod(nginx(image)))
    assert out["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_values_are_kept():
    """Defaults never overwrite what the client set, including explicit zero values."""
    out = defaulted("", "v1", "Pod", pod(nginx(imagePullPolicy="Never"), restartPolicy="Never",
                                         terminationGracePeriodSeconds=0, enableServiceLinks=False))
    assert out["spec"]["restartPolicy"] == "Never"
    assert out["spec"]["terminationGracePeriodSeconds"] == 0
    assert out["spec"]["enableServiceLinks"] is False
    assert out["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_pod_requests_default_to_limits():
    """A pod's container requests default to its limits (pods only, not templates)."""
    c = nginx(resources={"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}})
    out = defaulted("", "v1", "Pod", pod(c))
    assert out["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    template = defaulted("", "v1", "PodTemplate", {"template": {"spec": {"containers": [c]}}})
    assert template["template"]["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "100m"}
    assert "enableServiceLinks" not in template["template"]["spec"]


def test_host_network_pod_ports_get_host_ports():
    """With hostNetwork every container port's hostPort defaults to its containerPort."""
    out = defaulted("", "v1", "Pod", pod(nginx(ports=[{"containerPort": 8080}]), hostNetwork=True))
    assert out["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


def test_probe_and_volume_defaults():
    """Probes, httpGet actions, projected tokens and volume modes get upstream's values."""
    c = nginx(livenessProbe={"httpGet": {"port": 80}}, readinessProbe={"grpc": {"port": 9000}},
              env=[{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])
    out = defaulted("", "v1", "Pod", pod(c, volumes=[
        {"name": "scratch"},
        {"name": "cfg", "configMap": {"name": "c"}},
        {"name": "host", "hostPath": {"path": "/tmp"}},
        {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
    ]))
    container = out["spec"]["containers"][0]
    assert container["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                          "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                                          "failureThreshold": 3}
    assert container["readinessProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    volumes = out["spec"]["volumes"]
    assert volumes[0] == {"name": "scratch", "emptyDir": {}}
    assert volumes[1]["configMap"]["defaultMode"] == 420
    assert volumes[2]["hostPath"]["type"] == ""
    assert volumes[3]["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}


def test_pod_qos_class():
    """The QoS class follows cpu/memory requests and limits (GetPodQOS)."""
    assert pod_qos_class(pod(nginx())) == "BestEffort"
    guaranteed = defaulted("", "v1", "Pod", pod(nginx(resources={"limits": {"cpu": "1", "memory": "1Gi"}})))
    assert pod_qos_class(guaranteed) == "Guaranteed"
    burstable = pod(nginx(resources={"requests": {"cpu": "100m"}, "limits": {"cpu": "1000m", "memory": "1Gi"}}))
    assert pod_qos_class(defaulted("", "v1", "Pod", burstable)) == "Burstable"
    same = pod(nginx(resources={"requests": {"cpu": "1", "memory": "1024Mi"},
                                "limits": {"cpu": "1000m", "memory": "1Gi"}}))
    assert pod_qos_class(same) == "Guaranteed"


def deployment(**spec):
    return {"metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [nginx()]}},
                     **spec}}


def test_deployment_defaults():
    """A deployment gets replicas, the rolling-update strategy, limits and template defaults."""
    out = defaulted("apps", "v1", "Deployment", deployment())
    spec = out["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    template = spec["template"]
    assert template["metadata"] == {"labels": {"app": "web"}, "creationTimestamp": None}
    assert {k: template["spec"][k] for k in POD_SPEC_DEFAULTS} == POD_SPEC_DEFAULTS
    assert "enableServiceLinks" not in template["spec"]


def test_deployment_recreate_gets_no_rolling_update():
    """A Recreate strategy is left without rollingUpdate parameters."""
    out = defaulted("apps", "v1", "Deployment", deployment(strategy={"type": "Recreate"}))
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_statefulset_daemonset_replicaset_defaults():
    """StatefulSet, DaemonSet and ReplicaSet defaults match upstream's apps/v1 defaulters."""
    sts = defaulted("apps", "v1", "StatefulSet", deployment(volumeClaimTemplates=[
        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]))["spec"]
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert sts["replicas"] == 1 and sts["revisionHistoryLimit"] == 10
    claim = sts["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}
    assert claim["metadata"] == {"name": "data", "creationTimestamp": None}
    ds = defaulted("apps", "v1", "DaemonSet", deployment())["spec"]
    assert ds["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["revisionHistoryLimit"] == 10 and "replicas" not in ds
    rs = defaulted("apps", "v1", "ReplicaSet", deployment())["spec"]
    assert rs["replicas"] == 1 and "revisionHistoryLimit" not in rs


def test_service_defaults():
    """A service gets ClusterIP type, no affinity, TCP ports with targetPort = port."""
    out = defaulted("", "v1", "Service", {"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP",
                                                                            "targetPort": "dns"}]}})
    spec = out["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80},
                             {"port": 53, "protocol": "UDP", "targetPort": "dns"}]
    assert "externalTrafficPolicy" not in spec and "ipFamilyPolicy" not in spec


def test_service_load_balancer_and_client_ip_defaults():
    """LoadBalancer services get external traffic policy and node-port allocation; ClientIP a timeout."""
    spec = defaulted("", "v1", "Service", {"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP",
                                                    "ports": [{"port": 443}]}})["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    external = defaulted("", "v1", "Service", {"spec": {"type": "ExternalName", "externalName": "x.org"}})
    assert "internalTrafficPolicy" not in external["spec"]


def test_job_and_cronjob_defaults():
    """Jobs get completions/parallelism/backoff defaults; cron jobs their policy defaults only."""
    template = {"metadata": {"labels": {"app": "j"}}, "spec": {"containers": [nginx()], "restartPolicy": "Never"}}
    job = defaulted("batch", "v1", "Job", {"metadata": {"name": "j"}, "spec": {"template": template}})
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert job["metadata"]["labels"] == {"app": "j"}
    parallel = defaulted("batch", "v1", "Job", {"spec": {"parallelism": 3, "template": template}})["spec"]
    assert parallel["parallelism"] == 3 and "completions" not in parallel
    cron = defaulted("batch", "v1", "CronJob", {"spec": {"schedule": "* * * * *",
                                                         "jobTemplate": {"spec": {"template": template}}}})
    cspec = cron["spec"]
    assert (cspec["concurrencyPolicy"], cspec["suspend"]) == ("Allow", False)
    assert (cspec["successfulJobsHistoryLimit"], cspec["failedJobsHistoryLimit"]) == (3, 1)
    job_spec = cspec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec and "completions" not in job_spec
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert cspec["jobTemplate"]["metadata"] == {"creationTimestamp": None}


def test_core_kind_defaults():
    """Secret, Namespace, PV, PVC, Endpoints, Node, RC and LimitRange defaults."""
    assert defaulted("", "v1", "Secret", {})["type"] == "Opaque"
    ns = defaulted("", "v1", "Namespace", {"metadata": {"name": "dev"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    assert ns["status"] == {"phase": "Active"}
    pv = defaulted("", "v1", "PersistentVolume", {"spec": {"hostPath": {"path": "/x"}}})
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["volumeMode"] == "Filesystem"
    assert pv["spec"]["hostPath"]["type"] == ""
    assert pv["status"] == {"phase": "Pending"}
    pvc = defaulted("", "v1", "PersistentVolumeClaim", {"spec": {}})
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"] == {"phase": "Pending"}
    ep = defaulted("", "v1", "Endpoints", {"subsets": [{"ports": [{"port": 80}]}]})
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    node = defaulted("", "v1", "Node", {"status": {"capacity": {"cpu": "4"}}})
    assert node["status"]["allocatable"] == {"cpu": "4"}
    rc = defaulted("", "v1", "ReplicationController", {"metadata": {"name": "rc"}, "spec": {
        "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [nginx()]}}}})
    assert rc["spec"]["selector"] == {"app": "a"} and rc["metadata"]["labels"] == {"app": "a"}
    assert rc["spec"]["replicas"] == 1
    lr = defaulted("", "v1", "LimitRange", {"spec": {"limits": [
        {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}}]}})
    assert lr["spec"]["limits"][0]["default"] == {"cpu": "2"}
    assert lr["spec"]["limits"][0]["defaultRequest"] == {"cpu": "2", "memory": "1Mi"}


def test_secret_string_data_is_folded_into_data():
    """stringData is base64-encoded into data (overriding it) and never kept."""
    out = defaulted("", "v1", "Secret", {"data": {"a": "b2xk", "b": "eA=="}, "stringData": {"a": "new"}})
    assert out["data"] == {"a": "bmV3", "b": "eA=="}
    assert "stringData" not in out


def test_other_group_defaults():
    """HPA, NetworkPolicy, RBAC, StorageClass, EndpointSlice and IngressClass defaults."""
    hpa1 = defaulted("autoscaling", "v1", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3}})
    assert hpa1["spec"] == {"maxReplicas": 3, "minReplicas": 1}
    hpa2 = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3, "behavior": {}}})
    assert hpa2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    # upstream leaves scaleDown's window unset: the controller's --horizontal-pod-autoscaler-downscale-stabilization
    assert hpa2["spec"]["behavior"]["scaleDown"] == {"selectPolicy": "Max",
                                                     "policies": [{"type": "Percent", "value": 100,
                                                                   "periodSeconds": 15}]}
    assert hpa2["spec"]["behavior"]["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}
    netpol = defaulted("networking.k8s.io", "v1", "NetworkPolicy", {"spec": {
        "egress": [{"ports": [{"port": 53}]}]}})
    assert netpol["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert netpol["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    binding = defaulted("rbac.authorization.k8s.io", "v1", "RoleBinding", {
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s", "namespace": "n"}]})
    assert binding["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert [s["apiGroup"] for s in binding["subjects"]] == ["rbac.authorization.k8s.io", ""]
    sc = defaulted("storage.k8s.io", "v1", "StorageClass", {"provisioner": "x"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    eps = defaulted("discovery.k8s.io", "v1", "EndpointSlice", {"ports": [{"port": 80}]})
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    ic = defaulted("networking.k8s.io", "v1", "IngressClass", {"spec": {"parameters": {"kind": "K", "name": "n"}}})
    assert ic["spec"]["parameters"]["scope"] == "Cluster"


@pytest.mark.parametrize("info", BUILTIN, ids=lambda i: f"{i.group or 'core'}/{i.version}/{i.kind}")
def test_every_builtin_kind_defaults_idempotently(info):
    """Every catalogued kind can be defaulted, and defaulting twice changes nothing more."""
    obj = {"metadata": {"name": "x"}, "spec": {}}
    apply_defaults(info.group, info.version, info.kind, obj)
    again = copy.deepcopy(obj)
    apply_defaults(info.group, info.version, info.kind, again)
    assert again == obj


def test_image_tag_parsing():
    """The tag is found after the last path component, not in a registry port."""
    assert image_tag("localhost:5000/app:v1") == "v1"
    assert image_tag("localhost:5000/app") == "latest"


@pytest.mark.parametrize("given, written", [
    ("0.5", "500m"), ("1000m", "1"), ("1000", "1k"), ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"),
    ("500Mi", "500Mi"), ("1e3", "1e3"), (1, "1"), (0.25, "250m"), ("0.0001", "1m"), ("0", "0"),
    ("128974848", "128974848"), ("0.5Ki", "512"), ("not-a-quantity", "not-a-quantity"),
])
def test_resource_quantities_are_written_canonically(given, written):
    """Resource-list quantities come back in upstream's canonical form, rounded up to milli."""
    out = defaulted("", "v1", "Pod", pod(nginx(resources={"limits": {"cpu": given}})))
    resources = out["spec"]["containers"][0]["resources"]
    assert resources["limits"]["cpu"] == written
    assert resources["requests"]["cpu"] == written


def test_other_resource_lists_are_canonical():
    """PVC requests, quota hard limits, node capacity and emptyDir size limits are canonical too."""
    pvc = defaulted("", "v1", "PersistentVolumeClaim", {"spec": {"resources": {"requests": {"storage": "1024Mi"}}}})
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    quota = defaulted("", "v1", "ResourceQuota", {"spec": {"hard": {"pods": "1000", "requests.cpu": "0.5"}}})
    assert quota["spec"]["hard"] == {"pods": "1k", "requests.cpu": "500m"}
    node = defaulted("", "v1", "Node", {"status": {"capacity": {"memory": "2048Ki"}}})
    assert node["status"]["capacity"] == node["status"]["allocatable"] == {"memory": "2Mi"}
    vol = defaulted("", "v1", "Pod", pod(volumes=[{"name": "t", "emptyDir": {"sizeLimit": "1024Mi"}}]))
    assert vol["spec"]["volumes"][0]["emptyDir"]["sizeLimit"] == "1Gi"


def test_zero_status_shapes():
    """Statuses read back in the shape Go writes: non-omitempty members present as zeros."""
    assert defaulted("apps", "v1", "Deployment", deployment())["status"] == {}
    assert defaulted("apps", "v1", "ReplicaSet", deployment())["status"] == {"replicas": 0}
    assert defaulted("apps", "v1", "DaemonSet", deployment())["status"] == {
        "currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}
    assert defaulted("", "v1", "Service", {"spec": {"ports": [{"port": 80}]}})["status"] == {"loadBalancer": {}}
    node = defaulted("", "v1", "Node", {"metadata": {"name": "n"}, "status": {"nodeInfo": {"architecture": "amd64"}}})
    assert node["status"]["nodeInfo"]["architecture"] == "amd64"
    assert node["status"]["nodeInfo"]["kubeletVersion"] == ""
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    running = defaulted("apps", "v1", "ReplicaSet", {**deployment(), "status": {"replicas": 3, "readyReplicas": 3}})
    assert running["status"] == {"replicas": 3, "readyReplicas": 3}
    assert "status" not in defaulted("", "v1", "ConfigMap", {"data": {}})


def test_always_written_fields():
    """Non-omitempty fields read back as Go writes them: nulls, empty strings and empty structs."""
    event = defaulted("", "v1", "Event", {"metadata": {"name": "e"}, "reason": "Started"})
    assert {k: event[k] for k in ("eventTime", "firstTimestamp", "lastTimestamp", "reportingComponent",
                                  "reportingInstance", "source", "involvedObject")} == {
        "eventTime": None, "firstTimestamp": None, "lastTimestamp": None, "reportingComponent": "",
        "reportingInstance": "", "source": {}, "involvedObject": {}}
    assert defaulted("apps", "v1", "StatefulSet", deployment())["spec"]["serviceName"] == ""
    assert defaulted("networking.k8s.io", "v1", "NetworkPolicy", {})["spec"]["podSelector"] == {}
    assert defaulted("coordination.k8s.io", "v1", "Lease", {"metadata": {"name": "l"}})["spec"] == {}
    assert defaulted("rbac.authorization.k8s.io", "v1", "ClusterRole", {})["rules"] is None
