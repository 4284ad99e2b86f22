"""Server-side Table printing: upstream's columns, cells and Table shape, with ``now`` injected."""

from datetime import datetime, timedelta, timezone

import pytest

from kapiserver.machinery import errors
from kapiserver.registry.catalog import BUILTIN
from kapiserver.registry.printers import human_duration, printer_for, table, translate_timestamp_since

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although some "
            "resources may allow a client to request the generation of an appropriate name automatically. "
            "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
            "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DOC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It "
           "is not guaranteed to be set in happens-before order across separate operations. Clients may not "
           "set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
           "Read-only. Null for lists. More info: "
           "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def ago(**kw) -> str:
    return (NOW - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cells(group: str, resource: str, obj: dict) -> list:
    return printer_for(group, resource).row(obj, NOW)


def headers(group: str, resource: str) -> list[str]:
    return [c["name"] for c in printer_for(group, resource).columns]


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (182, "3m2s"), (600, "10m"), (179 * 60, "179m"),
    (3 * 3600, "3h"), (5 * 3600 + 180, "5h3m"), (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"),
    (51 * 3600, "2d3h"), (8 * 86400, "8d"), (400 * 86400, "400d"), (730 * 86400, "2y"),
    (3 * 365 * 86400 + 45 * 86400, "3y45d"), (9 * 365 * 86400, "9y"), (-1, "0s"), (-3, "<invalid>"),
])
def test_human_duration(seconds, text):
    """Ages round down to upstream's HumanDuration buckets."""
    assert human_duration(seconds) == text


def test_translate_timestamp_since():
    """A timestamp prints as its age at ``now``; an unset one as <unknown>."""
    assert translate_timestamp_since(ago(minutes=3, seconds=2), NOW) == "3m2s"
    assert translate_timestamp_since("2024-05-01T11:59:59.500000Z", NOW) == "0s"
    assert translate_timestamp_since(None, NOW) == "<unknown>"
    assert translate_timestamp_since("", NOW) == "<unknown>"


def test_name_and_age_columns_carry_upstream_descriptions():
    """Name and Age describe themselves with ObjectMeta's upstream field docs."""
    columns = printer_for("", "configmaps").columns
    assert columns[0] == {"name": "Name", "type": "string", "format": "name", "description": NAME_DOC,
                          "priority": 0}
    assert columns[2] == {"name": "Age", "type": "string", "format": "", "description": AGE_DOC,
                          "priority": 0}


def test_every_builtin_row_fits_its_columns():
    """Every built-in resource prints one cell per column, even for a bare object, and every
    column has a description (so each upstream field doc was found) but where upstream's own is empty."""
    # upstream looks RuntimeClass's Handler description up in ObjectMeta's docs, which have none
    undocumented = {("node.k8s.io", "runtimeclasses", "Handler")}
    for info in BUILTIN:
        printer = printer_for(info.group, info.resource)
        assert len(printer.row({"metadata": {"name": "x"}}, NOW)) == len(printer.columns), info.resource
        assert all(c["description"] or (info.group, info.resource, c["name"]) in undocumented
                   for c in printer.columns), info.resource


# --- pods ------------------------------------------------------------------------------------

def pod(status: dict, spec: dict = None, **meta) -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(minutes=5), **meta},
            "spec": spec or {"containers": [{"name": "app", "image": "nginx"}]}, "status": status}


RUNNING = {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
           "conditions": [{"type": "Ready", "status": "True"}],
           "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                  "state": {"running": {"startedAt": ago(minutes=4)}}}]}


def test_pod_columns():
    """Pods print NAME READY STATUS RESTARTS AGE and, wide, IP NODE NOMINATED NODE READINESS GATES."""
    assert headers("", "pods") == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                   "Nominated Node", "Readiness Gates"]
    assert [c["priority"] for c in printer_for("", "pods").columns] == [0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_running_pod():
    """A running pod shows its ready count, phase, IP and node."""
    obj = pod(RUNNING, {"containers": [{"name": "app"}], "nodeName": "node-1"})
    assert cells("", "pods", obj) == ["web", "1/1", "Running", "0", "5m", "10.0.0.5", "node-1", "<none>",
                                      "<none>"]


def test_pending_pod():
    """A pending pod shows the waiting reason of its container and no IP or node."""
    status = {"phase": "Pending", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    assert cells("", "pods", pod(status)) == ["web", "0/1", "ContainerCreating", "0", "5m", "<none>", "<none>",
                                              "<none>", "<none>"]
    assert cells("", "pods", pod({"phase": "Pending"}))[1:3] == ["0/1", "Pending"]


def test_crashlooping_pod():
    """CrashLoopBackOff shows, with restarts and how long ago the last one ended."""
    status = {"phase": "Running", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 4,
         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(minutes=2)}}}]}
    assert cells("", "pods", pod(status))[:4] == ["web", "0/1", "CrashLoopBackOff", "4 (2m ago)"]


def test_terminating_pod():
    """A pod being deleted shows Terminating unless it already finished; NodeLost shows Unknown."""
    deleting = pod(RUNNING, deletionTimestamp=ago(seconds=10))
    assert cells("", "pods", deleting)[2] == "Terminating"
    finished = pod({"phase": "Succeeded"}, deletionTimestamp=ago(seconds=10))
    assert cells("", "pods", finished)[2] == "Succeeded"
    lost = pod({**RUNNING, "reason": "NodeLost"}, deletionTimestamp=ago(seconds=10))
    assert cells("", "pods", lost)[2] == "Unknown"


def test_terminated_containers():
    """Terminated containers show their reason, else their signal or exit code."""
    done = {"phase": "Succeeded", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"reason": "Completed"}}}]}
    assert cells("", "pods", pod(done))[2] == "Completed"
    killed = {"phase": "Failed", "containerStatuses": [
        {"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}
    assert cells("", "pods", pod(killed))[2] == "Signal:9"
    exited = {"phase": "Failed", "containerStatuses": [
        {"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}]}
    assert cells("", "pods", pod(exited))[2] == "ExitCode:3"


def test_completed_container_beside_a_running_one():
    """A pod whose last container completed is Running (or NotReady) while another still runs."""
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [
        {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}},
        {"name": "b", "ready": False, "restartCount": 0, "state": {"terminated": {"reason": "Completed"}}}]}
    spec = {"containers": [{"name": "a"}, {"name": "b"}]}
    assert cells("", "pods", pod(status, spec))[1:3] == ["1/2", "NotReady"]


def test_init_containers():
    """Init progress shows as Init:i/n, a failing init container as Init:<reason>."""
    spec = {"initContainers": [{"name": "setup"}, {"name": "migrate"}], "containers": [{"name": "app"}]}
    waiting = {"phase": "Pending", "initContainerStatuses": [
        {"name": "setup", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
        {"name": "migrate", "restartCount": 0, "state": {"running": {}}}]}
    assert cells("", "pods", pod(waiting, spec))[1:3] == ["0/1", "Init:1/2"]
    crashing = {"phase": "Pending", "initContainerStatuses": [
        {"name": "setup", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(seconds=30)}}}]}
    assert cells("", "pods", pod(crashing, spec))[2:4] == ["Init:CrashLoopBackOff", "3 (30s ago)"]
    failed = {"phase": "Pending", "initContainerStatuses": [
        {"name": "setup", "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}]}
    assert cells("", "pods", pod(failed, spec))[2] == "Init:ExitCode:2"


def test_sidecar_containers_count_as_containers():
    """A started restartable init container counts toward READY and its total."""
    spec = {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}
    status = {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
              "initContainerStatuses": [{"name": "proxy", "ready": True, "started": True, "restartCount": 1,
                                         "state": {"running": {}}}],
              "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}]}
    assert cells("", "pods", pod(status, spec))[1:4] == ["2/2", "Running", "1"]


def test_scheduling_gated_and_readiness_gates():
    """SchedulingGated overrides the phase; readiness gates count their true conditions."""
    gated = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                 "reason": "SchedulingGated"}]}
    assert cells("", "pods", pod(gated))[2] == "SchedulingGated"
    spec = {"containers": [{"name": "app"}], "readinessGates": [{"conditionType": "example.com/lb"},
                                                                {"conditionType": "example.com/dns"}]}
    status = {**RUNNING, "conditions": RUNNING["conditions"] + [{"type": "example.com/lb", "status": "True"}]}
    assert cells("", "pods", pod(status, spec))[8] == "1/2"


def test_pod_row_conditions():
    """Finished pods carry upstream's Completed row condition; running ones carry none."""
    printer = printer_for("", "pods")
    assert printer.conditions(pod({"phase": "Succeeded"})) == [
        {"type": "Completed", "status": "True", "reason": "Succeeded",
         "message": "The pod has completed successfully."}]
    assert printer.conditions(pod({"phase": "Failed"}))[0]["reason"] == "Failed"
    assert printer.conditions(pod(RUNNING)) is None


# --- workloads -------------------------------------------------------------------------------

def test_deployment():
    """Deployments print READY as ready/desired, then up-to-date, available, containers, selector."""
    deploy = {"metadata": {"name": "web", "creationTimestamp": ago(hours=2, minutes=5)},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.25"},
                                                            {"name": "log", "image": "fluentd"}]}}},
              "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert headers("apps", "deployments") == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers",
                                              "Images", "Selector"]
    assert cells("apps", "deployments", deploy) == ["web", "2/3", 3, 2, "125m", "app,log", "nginx:1.25,fluentd",
                                                    "app=web"]


def test_replica_set_stateful_set_daemon_set():
    """ReplicaSets, StatefulSets and DaemonSets print their counts and selectors."""
    template = {"spec": {"containers": [{"name": "app", "image": "img"}], "nodeSelector": {"disk": "ssd"}}}
    rs = {"metadata": {"name": "web-1", "creationTimestamp": ago(seconds=30)},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
          "status": {"replicas": 2, "readyReplicas": 1}}
    assert cells("apps", "replicasets", rs) == ["web-1", 2, 2, 1, "30s", "app", "img", "app=web"]
    sts = {"metadata": {"name": "db"}, "spec": {"replicas": 3, "template": template},
           "status": {"readyReplicas": 3}}
    assert cells("apps", "statefulsets", sts) == ["db", "3/3", "<unknown>", "app", "img"]
    ds = {"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                                 "template": template},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert cells("apps", "daemonsets", ds) == ["agent", 3, 3, 2, 3, 2, "disk=ssd", "<unknown>", "app", "img",
                                               "app=agent"]


def test_controller_revision():
    """A ControllerRevision names its controller as kind.group/name."""
    rev = {"metadata": {"name": "web-5d8", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]}, "revision": 2}
    assert cells("apps", "controllerrevisions", rev)[:3] == ["web-5d8", "statefulset.apps/web", 2]


def test_scale_subresource():
    """The scale subresource prints NAME DESIRED AVAILABLE AGE from the Scale object."""
    printer = printer_for("apps", "deployments", "scale")
    assert [c["name"] for c in printer.columns] == ["Name", "Desired", "Available", "Age"]
    assert printer.columns[0]["format"] == ""
    scale = {"metadata": {"name": "web", "creationTimestamp": ago(seconds=5)}, "spec": {"replicas": 3},
             "status": {"replicas": 2, "selector": "app=web"}}
    assert printer.row(scale, NOW) == ["web", 3, 2, "5s"]
    assert printer_for("apps", "deployments", "status") is printer_for("apps", "deployments")


def test_jobs():
    """Jobs print STATUS COMPLETIONS DURATION, duration running until completion."""
    assert headers("batch", "jobs")[:5] == ["Name", "Status", "Completions", "Duration", "Age"]
    running = {"metadata": {"name": "j", "creationTimestamp": ago(minutes=3)},
               "spec": {"completions": 3, "parallelism": 1},
               "status": {"succeeded": 1, "startTime": ago(minutes=3)}}
    assert cells("batch", "jobs", running)[:5] == ["j", "Running", "1/3", "3m", "3m"]
    done = {"metadata": {"name": "j"}, "spec": {"completions": 1},
            "status": {"succeeded": 1, "startTime": ago(minutes=10), "completionTime": ago(minutes=9, seconds=15),
                       "conditions": [{"type": "Complete", "status": "True"}]}}
    assert cells("batch", "jobs", done)[1:4] == ["Complete", "1/1", "45s"]
    parallel = {"metadata": {"name": "j"}, "spec": {"parallelism": 4}, "status": {}}
    assert cells("batch", "jobs", parallel)[1:4] == ["Running", "0/1 of 4", ""]


def test_cron_job():
    """CronJobs print schedule, time zone, suspend, active count and last schedule."""
    cj = {"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *", "suspend": False},
          "status": {"active": [{"name": "a"}], "lastScheduleTime": ago(hours=9)}}
    assert cells("batch", "cronjobs", cj)[:6] == ["nightly", "0 3 * * *", "<none>", "False", 1, "9h"]


# --- services, nodes, events -----------------------------------------------------------------

def service(spec: dict, status: dict = None) -> dict:
    return {"metadata": {"name": "svc", "creationTimestamp": ago(days=2, hours=3)}, "spec": spec,
            "status": status or {}}


def test_cluster_ip_service():
    """A ClusterIP service prints its IP, ports and selector, and no external IP."""
    svc = service({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                   "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                   "selector": {"k8s-app": "kube-dns"}})
    assert headers("", "services") == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert cells("", "services", svc) == ["svc", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP", "2d3h",
                                          "k8s-app=kube-dns"]


def test_node_port_service():
    """A NodePort service prints port:nodePort/protocol."""
    svc = service({"type": "NodePort", "clusterIPs": ["10.96.1.1"],
                   "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]})
    assert cells("", "services", svc)[2:5] == ["10.96.1.1", "<none>", "80:30080/TCP"]


def test_load_balancer_service():
    """A LoadBalancer shows <pending> until it has ingress, then its IPs and external IPs."""
    spec = {"type": "LoadBalancer", "clusterIPs": ["10.96.2.2"],
            "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}
    assert cells("", "services", service(spec))[3] == "<pending>"
    status = {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}}
    assert cells("", "services", service(spec, status))[3] == "203.0.113.9,lb.example.com"
    with_external = dict(spec, externalIPs=["198.51.100.1"])
    assert cells("", "services", service(with_external, status))[3] == "203.0.113.9,lb.example.com,198.51.100.1"


def test_external_name_and_headless_services():
    """ExternalName prints its name as the external IP; a headless service prints None."""
    ext = service({"type": "ExternalName", "externalName": "db.example.com"})
    assert cells("", "services", ext)[2:5] == ["<none>", "db.example.com", "<none>"]
    headless = service({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]})
    assert cells("", "services", headless)[2] == "None"


def test_nodes():
    """Nodes print readiness (plus SchedulingDisabled), roles, age, version and wide details."""
    node = {"metadata": {"name": "n1", "creationTimestamp": ago(days=10),
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "infra"}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "192.168.0.10"},
                                     {"type": "Hostname", "address": "n1"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian", "kernelVersion": "6.1",
                                    "containerRuntimeVersion": "containerd://1.7"}}}
    assert headers("", "nodes") == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                                    "OS-Image", "Kernel-Version", "Container-Runtime"]
    assert cells("", "nodes", node) == ["n1", "Ready,SchedulingDisabled", "control-plane,infra", "10d", "v1.32.0",
                                        "192.168.0.10", "<none>", "Debian", "6.1", "containerd://1.7"]
    not_ready = {"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert cells("", "nodes", not_ready)[1:3] == ["NotReady", "<none>"]


def test_events():
    """Events print last seen, type, reason, kind/name object and message; wide the rest."""
    event = {"metadata": {"name": "web.17a", "namespace": "default"}, "type": "Warning", "reason": "BackOff",
             "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
             "source": {"component": "kubelet", "host": "n1"}, "message": "Back-off restarting\n",
             "firstTimestamp": ago(minutes=30), "lastTimestamp": ago(minutes=1), "count": 7}
    assert headers("", "events")[:5] == ["Last Seen", "Type", "Reason", "Object", "Subobject"]
    assert cells("", "events", event) == ["60s", "Warning", "BackOff", "pod/web", "spec.containers{app}",
                                          "kubelet, n1", "Back-off restarting", "30m", 7, "web.17a"]
    new_api = {"metadata": {"name": "e2"}, "type": "Normal", "reason": "Scheduled", "note": "assigned",
               "regarding": {"kind": "Pod", "name": "web"}, "eventTime": "2024-05-01T11:59:00.000000Z",
               "reportingController": "default-scheduler"}
    assert cells("events.k8s.io", "events", new_api) == ["60s", "Normal", "Scheduled", "pod/web", "",
                                                         "default-scheduler", "assigned", "60s", 1, "e2"]
    # A core/v1 Event from a new-API reporter: its reporting controller is named reportingComponent there.
    core_new = {"metadata": {"name": "e3"}, "type": "Normal", "reason": "Scheduled", "message": "assigned",
                "involvedObject": {"kind": "Pod", "name": "web"}, "eventTime": "2024-05-01T11:59:00.000000Z",
                "source": {}, "reportingComponent": "default-scheduler", "reportingInstance": "sched-1"}
    assert cells("", "events", core_new)[5] == "default-scheduler, sched-1"


def test_small_core_printers():
    """ConfigMaps, Secrets, Namespaces, PVCs and friends print their upstream cells."""
    assert cells("", "configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": ""}}) \
        == ["c", 2, "<unknown>"]
    assert cells("", "secrets", {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "", "b": ""}}) \
        == ["s", "Opaque", 2, "<unknown>"]
    assert cells("", "namespaces", {"metadata": {"name": "d"}, "status": {"phase": "Active"}})[:2] \
        == ["d", "Active"]
    pvc = {"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1", "storageClassName": "standard",
                                                 "volumeMode": "Filesystem"},
           "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                      "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}}
    assert cells("", "persistentvolumeclaims", pvc) == ["data", "Bound", "pv-1", "1Gi", "RWO,RWX", "standard",
                                                        "<unset>", "<unknown>", "Filesystem"]
    quota = {"metadata": {"name": "q"}, "status": {"hard": {"pods": "10", "limits.cpu": "2"},
                                                    "used": {"pods": "3"}}}
    assert cells("", "resourcequotas", quota)[:3] == ["q", "pods: 3/10", "limits.cpu: 0/2"]


def test_storage_class_and_bindings():
    """StorageClasses mark the default and fill defaults; bindings list their subjects."""
    sc = {"metadata": {"name": "standard",
                       "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
          "provisioner": "rancher.io/local-path"}
    assert cells("storage.k8s.io", "storageclasses", sc)[:5] == ["standard (default)", "rancher.io/local-path",
                                                                 "Delete", "Immediate", False]
    binding = {"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
               "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                            {"kind": "ServiceAccount", "namespace": "ci", "name": "bot"}]}
    assert cells("rbac.authorization.k8s.io", "rolebindings", binding) == [
        "b", "ClusterRole/view", "<unknown>", "alice", "devs", "ci/bot"]


# --- the Table object ------------------------------------------------------------------------

def test_table_shape_with_metadata_objects():
    """The default Table carries list metadata, columns and PartialObjectMetadata rows."""
    obj = pod(RUNNING, uid="u-1", resourceVersion="41", labels={"app": "web"})
    result = table(printer_for("", "pods"), [obj], NOW, list_meta={"resourceVersion": "42", "continue": "tok",
                                                                   "remainingItemCount": 0})
    assert list(result) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert result["kind"] == "Table" and result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "42", "continue": "tok", "remainingItemCount": 0}
    assert len(result["columnDefinitions"]) == 9
    row = result["rows"][0]
    assert list(row) == ["cells", "object"]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {
        "name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "41",
        "creationTimestamp": ago(minutes=5), "labels": {"app": "web"}}}
    assert list(row["object"]["metadata"])[:4] == ["name", "namespace", "uid", "resourceVersion"]


def test_partial_object_metadata_marshals_as_go_does():
    """Row metadata drops empty fields, keeps a missing creationTimestamp as null, in Go's order."""
    obj = {"metadata": {"labels": {}, "name": "c", "generation": 0, "finalizers": ["f"],
                        "deletionGracePeriodSeconds": 0, "namespace": "d"}}
    row = table(printer_for("", "configmaps"), [obj], NOW)["rows"][0]
    assert row["object"]["metadata"] == {"name": "c", "namespace": "d", "creationTimestamp": None,
                                         "deletionGracePeriodSeconds": 0, "finalizers": ["f"]}
    assert list(row["object"]["metadata"]) == ["name", "namespace", "creationTimestamp",
                                               "deletionGracePeriodSeconds", "finalizers"]


def test_table_include_object_and_no_headers():
    """includeObject=Object embeds the object, None a null; without headers columns are null."""
    obj = pod({"phase": "Succeeded"})
    full = table(printer_for("", "pods"), [obj], NOW, include_object="Object", no_headers=True)
    assert full["columnDefinitions"] is None
    assert full["rows"][0]["object"] is obj
    assert full["rows"][0]["conditions"][0]["reason"] == "Succeeded"
    assert full["metadata"] == {}
    bare = table(printer_for("", "pods"), [obj], NOW, include_object="None")
    assert bare["rows"][0]["object"] is None
    for objects in ([obj], []):  # the options are validated before any row is made
        with pytest.raises(errors.StatusError) as caught:
            table(printer_for("", "pods"), objects, NOW, include_object="Everything")
        assert caught.value.code == 400 and caught.value.message == (
            "Unable to convert to Table as requested: includeObject: Invalid value: \"Everything\": "
            "must be 'Metadata', 'Object', 'None', or empty")


def test_default_table_for_resources_without_a_printer():
    """Roles and the like get upstream's default Name / Created At table; empty lists give null rows."""
    printer = printer_for("rbac.authorization.k8s.io", "roles")
    assert [(c["name"], c["type"]) for c in printer.columns] == [("Name", "string"), ("Created At", "date")]
    assert printer.columns[1]["description"] == AGE_DOC
    role = {"metadata": {"name": "r", "creationTimestamp": "2024-04-30T08:15:00Z"}}
    assert printer.row(role, NOW) == ["r", "2024-04-30T08:15:00Z"]
    assert table(printer, [], NOW)["rows"] is None
    assert table(printer_for("", "pods"), [], NOW)["rows"] == []
    assert printer_for("example.com", "widgets") is printer


def test_table_v1beta1():
    """A client negotiating meta.k8s.io/v1beta1 gets that version on the Table and its rows."""
    result = table(printer_for("", "configmaps"), [{"metadata": {"name": "c"}}], NOW,
                   group_version="meta.k8s.io/v1beta1")
    assert result["apiVersion"] == "meta.k8s.io/v1beta1"
    assert result["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


# --- custom resources ------------------------------------------------------------------------

def test_custom_resource_default_columns():
    """A CRD without additionalPrinterColumns prints Name and an Age date column."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([])
    assert [(c["name"], c["type"], c["description"]) for c in printer.columns] == [
        ("Name", "string", NAME_DOC), ("Age", "date", AGE_DOC)]
    assert printer.row({"metadata": {"name": "w", "creationTimestamp": ago(hours=3)}}, NOW) == ["w", "3h"]
    assert table(printer, [], NOW)["rows"] == []


def test_custom_resource_columns():
    """additionalPrinterColumns read their JSONPath and keep JSON types; missing values are null."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Selector", "type": "string", "jsonPath": ".spec.selector", "description": "what it picks"},
        {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused", "priority": 1},
        {"name": "Started", "type": "date", "jsonPath": ".status.startTime"},
        {"name": "First", "type": "string", "jsonPath": ".spec.items[0]"},
        {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
    ])
    columns = printer.columns
    assert columns[1]["description"] == ('Custom resource definition column (in JSONPath format): '
                                         '.status.conditions[?(@.type=="Ready")].status')
    assert columns[3]["description"] == "what it picks"
    assert columns[4]["priority"] == 1 and columns[4]["type"] == "boolean"
    obj = {"metadata": {"name": "w"},
           "spec": {"replicas": 3, "selector": {"tier": "fe", "app": "<web>"}, "paused": False,
                    "items": ["a", "b"]},
           "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}],
                      "startTime": ago(minutes=2)}}
    assert printer.row(obj, NOW) == ["w", "True", 3, '{"app":"\\u003cweb\\u003e","tier":"fe"}', False, "2m", "a",
                                     None]


def test_custom_resource_integer_column_is_go_int64():
    """An integer column is Go's int64() of the decoded number: a fraction cut toward zero; a number past int64
    (decoded as a float64) or NaN the smallest int64, as on amd64."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([{"name": "N", "type": "integer", "jsonPath": ".spec.n"}])
    for given, shown in ((3, 3), (2.9, 2), (-2.9, -2), (2 ** 63 - 1, 2 ** 63 - 1), (-2 ** 63, -2 ** 63),
                         (2 ** 63, -2 ** 63), (2 ** 70, -2 ** 63), (1e30, -2 ** 63), (-1e30, -2 ** 63),
                         (float("nan"), -2 ** 63), (True, None), ("3", None)):
        assert printer.row({"metadata": {"name": "w"}, "spec": {"n": given}}, NOW) == ["w", shown], given


def test_custom_resource_bad_path():
    """A JSONPath the printer cannot read ends the columns there, as upstream's table convertor (a CRD may be
    stored with one): the table is served, not a 500."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([{"name": "A", "type": "string", "jsonPath": ".spec.a"},
                                       {"name": "X", "type": "string", "jsonPath": ".spec[?(@.x"},
                                       {"name": "B", "type": "string", "jsonPath": ".spec.b"}])
    assert [c["name"] for c in printer.columns] == ["Name", "A"]
    assert printer.row({"metadata": {"name": "w"}, "spec": {"a": "1", "b": "2"}}, NOW) == ["w", "1"]


def test_custom_resource_escaped_dots():
    """A backslash-escaped dot belongs to the field name, in dot form and in ['...'], where an unescaped
    dot still separates two fields (client-go's parser re-reads ['...'] as a dotted path)."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([
        {"name": "Cluster", "type": "string", "jsonPath": r".metadata.labels['cluster\.x-k8s\.io/cluster-name']"},
        {"name": "Usage", "type": "string", "jsonPath": r".metadata.annotations.crossplane\.io/usage-details"},
        {"name": "Split", "type": "string", "jsonPath": ".metadata.labels['a.b']"},
        {"name": "Whole", "type": "string", "jsonPath": r".spec.items[?(@.x\.y=='1')].name"},
    ])
    obj = {"metadata": {"name": "m", "labels": {"cluster.x-k8s.io/cluster-name": "capi", "a.b": "flat",
                                                 "a": {"b": "nested"}},
                        "annotations": {"crossplane.io/usage-details": "used"}},
           "spec": {"items": [{"x.y": "1", "name": "first"}]}}
    assert printer.row(obj, NOW) == ["m", "capi", "used", "nested", "first"]
