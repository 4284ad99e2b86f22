"""One valid, well-filled object of every built-in kind the server serves, for the in-process fuzzer: the
mutations reach only the fields a seed has, so each seed sets most of its kind's fields (lists with members,
maps with keys, the untyped and preserve-unknown places)."""

from __future__ import annotations

import base64
import functools
import json

NAMESPACE = "fuzz"

_CONTAINER = {
    "name": "main", "image": "busybox:1.36", "command": ["sleep", "1"], "args": ["a"], "workingDir": "/",
    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
    "env": [{"name": "A", "value": "b"},
            {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "C", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "containerName": "main"}}},
            {"name": "D", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k", "optional": True}}}],
    "envFrom": [{"prefix": "P_", "configMapRef": {"name": "c", "optional": True}}],
    "resources": {"limits": {"cpu": "100m", "memory": "1Gi"}, "requests": {"cpu": "50m", "memory": "512Mi"}},
    "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": True}],
    "livenessProbe": {"exec": {"command": ["true"]}, "initialDelaySeconds": 1, "periodSeconds": 5},
    "readinessProbe": {"httpGet": {"path": "/", "port": 80, "httpHeaders": [{"name": "X", "value": "y"}]}},
    "startupProbe": {"tcpSocket": {"port": "http"}, "failureThreshold": 3},
    "lifecycle": {"preStop": {"sleep": {"seconds": 1}}},
    "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                        "seccompProfile": {"type": "RuntimeDefault"}},
    "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File",
}

_POD_SPEC = {
    "containers": [_CONTAINER],
    "initContainers": [{"name": "init", "image": "busybox:1.36", "restartPolicy": "Always"}],
    "volumes": [{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "p"}],
                                            "defaultMode": 420}},
                {"name": "e", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t",
                                                                                  "expirationSeconds": 3600}}]}}],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "serviceAccountName": "default",
    "dnsPolicy": "ClusterFirst",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
                    {"key": "t", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]}]}},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {"app": "w"}}, "topologyKey": "kubernetes.io/hostname"}}]}},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                                   "labelSelector": {"matchLabels": {"app": "w"}}}],
    "securityContext": {"fsGroup": 2000, "supplementalGroups": [1], "sysctls": [{"name": "net.ipv4.ip_forward",
                                                                               "value": "1"}]},
    "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a.example"]}],
    "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["a.example"], "options": [{"name": "ndots", "value": "2"}]},
    "readinessGates": [{"conditionType": "example.com/ready"}],
    "schedulingGates": [{"name": "example.com/gate"}],
    "overhead": {"cpu": "10m"},
}

_LABELS = {"app": "w"}
_SELECTOR = {"matchLabels": _LABELS, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}
_TEMPLATE = {"metadata": {"labels": dict(_LABELS, tier="a")}, "spec": _POD_SPEC}
_JOB_SPEC = {"template": {"spec": dict(_POD_SPEC, restartPolicy="Never",
                                      initContainers=[{"name": "init", "image": "busybox:1.36"}],
                                      schedulingGates=[])},
             "backoffLimit": 2, "parallelism": 2, "completions": 4, "activeDeadlineSeconds": 100,
             "ttlSecondsAfterFinished": 10, "completionMode": "Indexed", "backoffLimitPerIndex": 1,
             "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget",
                                                                                    "status": "True"}]},
                                            {"action": "FailIndex", "onExitCodes": {"operator": "In",
                                                                                     "values": [1, 2]}}]},
             "successPolicy": {"rules": [{"succeededIndexes": "0-1", "succeededCount": 1}]}}
_WEBHOOK = {"name": "w.example.com", "clientConfig": {"service": {"namespace": "default", "name": "s",
                                                                  "path": "/v", "port": 443}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                       "resources": ["pods", "pods/status"], "scope": "Namespaced"}],
            "failurePolicy": "Ignore", "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 5, "matchPolicy": "Equivalent",
            "namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]},
            "objectSelector": {"matchLabels": {"a": "b"}},
            "matchConditions": [{"name": "m", "expression": "true"}]}
_SUBJECTS = [{"kind": "ServiceAccount", "name": "w", "namespace": NAMESPACE},
             {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
             {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]
_RULES = [{"apiGroups": ["", "apps"], "resources": ["pods", "deployments/scale"], "verbs": ["get", "list"],
           "resourceNames": ["a"]}]
_HPA_V2 = {"scaleTargetRef": {"kind": "Deployment", "name": "w", "apiVersion": "apps/v1"},
           "minReplicas": 1, "maxReplicas": 3,
           "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                     "averageUtilization": 50}}},
                       {"type": "Pods", "pods": {"metric": {"name": "m", "selector": {"matchLabels": {"a": "b"}}},
                                                 "target": {"type": "AverageValue", "averageValue": "1"}}},
                       {"type": "External", "external": {"metric": {"name": "q"},
                                                         "target": {"type": "Value", "value": "10"}}}],
           "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                        "scaleDown": {"policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}}
_CRD_SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["size"], "properties": {
        "size": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 20, "enum": ["a", "b", "abc"]},
        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                  "items": {"type": "object", "required": ["port"], "properties": {"port": {"type": "integer"}}}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "any": {"x-kubernetes-int-or-string": True},
        "raw": {"type": "object", "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 5}},
        "x-kubernetes-validations": [{"rule": "self.size >= 0", "message": "size"}]},
    "status": {"type": "object", "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"}}}}}


def seed_specs() -> dict[tuple[str, str], dict]:
    """The body of each kind past apiVersion, kind and metadata, keyed by (group, resource)."""
    return {
        ("", "configmaps"): {"data": {"k": "v"}, "binaryData": {"b": "AAE="}, "immutable": False},
        ("", "secrets"): {"stringData": {"p": "x"}, "data": {"d": "AAE="}, "type": "Opaque"},
        ("", "pods"): {"spec": _POD_SPEC},
        ("", "podtemplates"): {"template": _TEMPLATE},
        ("", "services"): {"spec": {"type": "NodePort", "selector": _LABELS, "sessionAffinity": "ClientIP",
                                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 100}},
                                    "externalTrafficPolicy": "Local", "ipFamilyPolicy": "SingleStack",
                                    "externalIPs": ["10.9.9.9"],
                                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                                              {"name": "dns", "port": 53, "targetPort": "dns",
                                               "protocol": "UDP"}]}},
        ("", "replicationcontrollers"): {"spec": {"replicas": 1, "selector": dict(_LABELS, tier="a"),
                                                  "template": _TEMPLATE, "minReadySeconds": 1}},
        ("apps", "deployments"): {"spec": {"replicas": 1, "selector": _SELECTOR, "template": _TEMPLATE,
                                           "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                                               "maxSurge": "25%", "maxUnavailable": 1}},
                                           "revisionHistoryLimit": 3, "progressDeadlineSeconds": 60}},
        ("apps", "replicasets"): {"spec": {"replicas": 1, "selector": _SELECTOR, "template": _TEMPLATE}},
        ("apps", "statefulsets"): {"spec": {
            "serviceName": "w", "selector": _SELECTOR, "template": _TEMPLATE, "replicas": 2,
            "podManagementPolicy": "Parallel", "ordinals": {"start": 1},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}},
        ("apps", "daemonsets"): {"spec": {"selector": _SELECTOR, "template": _TEMPLATE, "updateStrategy": {
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}},
        ("apps", "controllerrevisions"): {"revision": 1, "data": {"spec": {"template": {"x": [1, {"y": None}]}}}},
        ("batch", "jobs"): {"spec": _JOB_SPEC},
        ("batch", "cronjobs"): {"spec": {"schedule": "*/1 * * * *", "timeZone": "Etc/UTC",
                                         "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 10,
                                         "successfulJobsHistoryLimit": 1,
                                         "jobTemplate": {"metadata": {"labels": _LABELS}, "spec": _JOB_SPEC}}},
        ("", "namespaces"): {"spec": {"finalizers": ["kubernetes"]}},
        ("", "nodes"): {"spec": {"podCIDR": "10.1.0.0/24", "podCIDRs": ["10.1.0.0/24"], "providerID": "p://x",
                                 "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
                        "status": {"capacity": {"cpu": "4", "pods": "110"}, "allocatable": {"cpu": "4"},
                                   "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
                                   "conditions": [{"type": "Ready", "status": "True"}]}},
        ("", "serviceaccounts"): {"automountServiceAccountToken": False, "secrets": [{"name": "s"}],
                                  "imagePullSecrets": [{"name": "r"}]},
        ("", "endpoints"): {"subsets": [{"addresses": [{"ip": "127.0.0.1", "hostname": "h",
                                                        "targetRef": {"kind": "Pod", "name": "p"}}],
                                         "notReadyAddresses": [{"ip": "127.0.0.2"}],
                                         "ports": [{"name": "a", "port": 1, "protocol": "TCP"}]}]},
        ("", "events"): {"involvedObject": {"kind": "Pod", "name": "w", "namespace": NAMESPACE}, "reason": "R",
                         "message": "m", "type": "Normal", "count": 2, "source": {"component": "c"},
                         "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:01Z"},
        ("events.k8s.io", "events"): {"eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "a/b",
                                      "reportingInstance": "i", "action": "Act", "reason": "R", "type": "Warning",
                                      "note": "n", "regarding": {"kind": "Pod", "name": "w",
                                                                 "namespace": NAMESPACE},
                                      "series": {"count": 2, "lastObservedTime": "2024-01-01T00:00:01.000000Z"}},
        ("", "limitranges"): {"spec": {"limits": [
            {"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "10m"}, "default": {"cpu": "500m"},
             "defaultRequest": {"cpu": "100m"}, "maxLimitRequestRatio": {"cpu": "10"}},
            {"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}}]}},
        ("", "resourcequotas"): {"spec": {"hard": {"pods": "10", "requests.cpu": "4", "count/deployments.apps": "3"},
                                          "scopeSelector": {"matchExpressions": [{
                                              "scopeName": "PriorityClass", "operator": "In",
                                              "values": ["high"]}]}}},
        ("", "persistentvolumeclaims"): {"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "sc",
                                                  "volumeMode": "Filesystem",
                                                  "selector": {"matchLabels": {"a": "b"}},
                                                  "resources": {"requests": {"storage": "1Gi"}}}},
        ("", "persistentvolumes"): {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                             "persistentVolumeReclaimPolicy": "Retain", "mountOptions": ["ro"],
                                             "hostPath": {"path": "/tmp", "type": "Directory"},
                                             "claimRef": {"namespace": NAMESPACE, "name": "c"},
                                             "nodeAffinity": {"required": {"nodeSelectorTerms": [{
                                                 "matchExpressions": [{"key": "a", "operator": "Exists"}]}]}}}},
        ("", "componentstatuses"): {"conditions": [{"type": "Healthy", "status": "True"}]},
        ("", "bindings"): {"target": {"kind": "Node", "name": "n"}},
        ("rbac.authorization.k8s.io", "roles"): {"rules": _RULES},
        ("rbac.authorization.k8s.io", "clusterroles"): {
            "rules": _RULES + [{"nonResourceURLs": ["/healthz", "/api/*"], "verbs": ["get"]}],
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "x"}}]}},
        ("rbac.authorization.k8s.io", "rolebindings"): {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "w"}, "subjects": _SUBJECTS},
        ("rbac.authorization.k8s.io", "clusterrolebindings"): {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "w"},
            "subjects": _SUBJECTS},
        ("autoscaling", "horizontalpodautoscalers", "v2"): {"spec": _HPA_V2},
        ("autoscaling", "horizontalpodautoscalers", "v1"): {
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w", "apiVersion": "apps/v1"},
                     "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}},
        ("coordination.k8s.io", "leases"): {"spec": {"holderIdentity": "x", "leaseDurationSeconds": 10,
                                                      "acquireTime": "2024-01-01T00:00:00.000000Z",
                                                      "leaseTransitions": 1}},
        ("policy", "poddisruptionbudgets"): {"spec": {"minAvailable": "50%", "selector": _SELECTOR,
                                                      "unhealthyPodEvictionPolicy": "AlwaysAllow"}},
        ("networking.k8s.io", "networkpolicies"): {"spec": {
            "podSelector": _SELECTOR, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                                  {"namespaceSelector": {"matchLabels": {"a": "b"}}, "podSelector": {}}],
                         "ports": [{"protocol": "TCP", "port": 80, "endPort": 90}, {"port": "http"}]}],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"a": "b"}}}]}]}},
        ("networking.k8s.io", "ingresses"): {"spec": {
            "ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"], "secretName": "t"}],
            "defaultBackend": {"resource": {"apiGroup": "x.example.com", "kind": "K", "name": "r"}},
            "rules": [{"host": "a.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "w", "port": {"number": 80}}}},
                {"path": "/b", "pathType": "Exact", "backend": {"service": {"name": "w",
                                                                              "port": {"name": "http"}}}}]}}]}},
        ("networking.k8s.io", "ingressclasses"): {"spec": {"controller": "example.com/ingress", "parameters": {
            "apiGroup": "x.example.com", "kind": "P", "name": "p", "scope": "Namespace", "namespace": "default"}}},
        ("node.k8s.io", "runtimeclasses"): {"handler": "runc", "overhead": {"podFixed": {"cpu": "10m"}},
                                            "scheduling": {"nodeSelector": {"a": "b"}, "tolerations": [
                                                {"key": "k", "operator": "Exists"}]}},
        ("scheduling.k8s.io", "priorityclasses"): {"value": 1000, "globalDefault": False, "description": "d",
                                                   "preemptionPolicy": "Never"},
        ("discovery.k8s.io", "endpointslices"): {
            "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True},
                                                  "hostname": "h", "nodeName": "n", "zone": "z",
                                                  "hints": {"forZones": [{"name": "z"}]},
                                                  "targetRef": {"kind": "Pod", "name": "p"}}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "appProtocol": "http"}]},
        ("apiextensions.k8s.io", "customresourcedefinitions"): {"spec": {
            "group": "x.example.com", "scope": "Namespaced",
            "names": {"plural": "ws", "singular": "w", "kind": "W", "listKind": "WList", "shortNames": ["wz"],
                      "categories": ["all"]},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": _CRD_SCHEMA},
                          "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size",
                                                                   "statusReplicasPath": ".status.replicas",
                                                                   "labelSelectorPath": ".status.selector"}},
                          "additionalPrinterColumns": [{"name": "Size", "type": "integer",
                                                        "jsonPath": ".spec.size"}],
                          "selectableFields": [{"jsonPath": ".spec.name"}]},
                         {"name": "v2", "served": True, "storage": False, "deprecated": True,
                          "deprecationWarning": "old", "schema": {"openAPIV3Schema": _CRD_SCHEMA}}],
            "conversion": {"strategy": "None"}}},
        ("authentication.k8s.io", "tokenreviews"): {"spec": {"token": "abc", "audiences": ["a"]}},
        ("authentication.k8s.io", "selfsubjectreviews"): {},
        ("authorization.k8s.io", "subjectaccessreviews"): {"spec": {
            "user": "u", "groups": ["g"], "extra": {"k": ["v"]},
            "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": NAMESPACE,
                                   "labelSelector": {"rawSelector": "a=b"},
                                   "fieldSelector": {"requirements": [{"key": "a", "operator": "In",
                                                                       "values": ["b"]}]}}}},
        ("authorization.k8s.io", "localsubjectaccessreviews"): {"spec": {
            "user": "u", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": NAMESPACE}}},
        ("authorization.k8s.io", "selfsubjectaccessreviews"): {"spec": {
            "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}},
        ("authorization.k8s.io", "selfsubjectrulesreviews"): {"spec": {"namespace": NAMESPACE}},
        ("certificates.k8s.io", "certificatesigningrequests"): {"spec": {
            "request": csr_request(), "signerName": "example.com/x", "usages": ["digital signature"],
            "expirationSeconds": 3600, "extra": {"a": ["b"]}}},
        ("flowcontrol.apiserver.k8s.io", "flowschemas"): {"spec": {
            "priorityLevelConfiguration": {"name": "global-default"}, "matchingPrecedence": 500,
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [{"subjects": [{"kind": "User", "user": {"name": "u"}},
                                    {"kind": "Group", "group": {"name": "g"}},
                                    {"kind": "ServiceAccount", "serviceAccount": {"namespace": "a", "name": "b"}}],
                       "resourceRules": [{"verbs": ["get", "list"], "apiGroups": ["", "apps"],
                                          "resources": ["pods", "deployments"], "namespaces": ["default"]},
                                         {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                          "clusterScope": True}],
                       "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/api/*"]}]}]}},
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): {"spec": {
            "type": "Limited", "limited": {"nominalConcurrencyShares": 5, "lendablePercent": 10,
                                           "borrowingLimitPercent": 20,
                                           "limitResponse": {"type": "Queue", "queuing": {
                                               "queues": 8, "handSize": 2, "queueLengthLimit": 10}}}}},
        ("apiregistration.k8s.io", "apiservices"): {"spec": {
            "group": "x.example.com", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 10,
            "service": {"namespace": "default", "name": "s", "port": 443}, "insecureSkipTLSVerify": True}},
        ("storage.k8s.io", "csidrivers"): {"spec": {"attachRequired": True, "podInfoOnMount": True,
                                                    "volumeLifecycleModes": ["Persistent", "Ephemeral"],
                                                    "fsGroupPolicy": "File",
                                                    "tokenRequests": [{"audience": "a", "expirationSeconds": 600}],
                                                    "requiresRepublish": False}},
        ("storage.k8s.io", "csinodes"): {"spec": {"drivers": [{"name": "d.example.com", "nodeID": "n",
                                                               "topologyKeys": ["zone"],
                                                               "allocatable": {"count": 3}}]}},
        ("storage.k8s.io", "csistoragecapacities"): {"storageClassName": "sc", "capacity": "1Gi",
                                                     "maximumVolumeSize": "1Gi",
                                                     "nodeTopology": {"matchLabels": {"zone": "a"}}},
        ("storage.k8s.io", "storageclasses"): {"provisioner": "example.com/p", "parameters": {"a": "b"},
                                               "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
                                               "allowVolumeExpansion": True, "mountOptions": ["ro"],
                                               "allowedTopologies": [{"matchLabelExpressions": [
                                                   {"key": "zone", "values": ["a"]}]}]},
        ("storage.k8s.io", "volumeattachments"): {"spec": {"attacher": "d.example.com", "nodeName": "n",
                                                           "source": {"persistentVolumeName": "pv"}}},
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): {
            "webhooks": [dict(_WEBHOOK, reinvocationPolicy="IfNeeded"),
                         dict(_WEBHOOK, name="u.example.com",
                              clientConfig={"url": "https://example.com/x", "caBundle": "AAAA"})]},
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): {
            "webhooks": [_WEBHOOK, dict(_WEBHOOK, name="u.example.com",
                                        clientConfig={"url": "https://example.com/x"})]},
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"): {"spec": {
            "failurePolicy": "Fail", "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                                                    "operations": ["CREATE"], "resources": ["deployments"]}],
                                 "excludeResourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                           "operations": ["*"], "resources": ["pods"],
                                                           "resourceNames": ["x"]}],
                                 "namespaceSelector": {"matchLabels": {"a": "b"}}},
            "matchConditions": [{"name": "m", "expression": "true"}],
            "variables": [{"name": "v", "expression": "object.metadata.name"}],
            "validations": [{"expression": "object.spec.replicas <= 5", "message": "m", "reason": "Invalid"},
                            {"expression": "true", "messageExpression": "'x'"}],
            "auditAnnotations": [{"key": "k", "valueExpression": "'v'"}]}},
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): {"spec": {
            "policyName": "p", "validationActions": ["Deny", "Audit"],
            "paramRef": {"name": "c", "namespace": "default", "parameterNotFoundAction": "Deny"},
            "matchResources": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                                                  "operations": ["CREATE"], "resources": ["deployments"]}],
                               "objectSelector": {"matchLabels": {"a": "b"}}}}},
    }


STATUSES = {
    ("apps", "deployments"): {"replicas": 1, "observedGeneration": 1, "conditions": [
        {"type": "Available", "status": "True", "reason": "R", "lastTransitionTime": "2024-01-01T00:00:00Z"}]},
    ("apps", "statefulsets"): {"replicas": 1, "readyReplicas": 1, "currentRevision": "a", "collisionCount": 1},
    ("", "pods"): {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}],
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "", "ready": True,
                                          "restartCount": 0, "state": {"running": {}}}]},
    ("", "services"): {"loadBalancer": {"ingress": [{"ip": "10.9.0.1", "ports": [{"port": 80,
                                                                                  "protocol": "TCP"}]}]}},
    ("", "resourcequotas"): {"hard": {"pods": "10"}, "used": {"pods": "1"}},
    ("batch", "jobs"): {"active": 1, "startTime": "2024-01-01T00:00:00Z", "uncountedTerminatedPods": {
        "succeeded": ["a"]}, "failedIndexes": "1"},
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): {"conditions": [{"type": "Dangling", "status": "False"}]},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"acceptedNames": {"plural": "ws", "kind": "W"},
                                                            "storedVersions": ["v1"]},
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): {
        "observedGeneration": 1, "typeChecking": {"expressionWarnings": [{"fieldRef": "x", "warning": "w"}]}},
}


# The custom resources of the seed CRD (ws.x.example.com, in two versions), fuzzed as the built-in kinds are.
def custom_kinds() -> list:
    from kapiserver.registry.catalog import ResourceInfo, Subresource
    subresources = (Subresource("status", "W", ("get", "patch", "update")),
                    Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling", "v1"))
    return [ResourceInfo("x.example.com", version, "ws", "W", True, subresources=subresources)
            for version in ("v1", "v2")]


CUSTOM = {"spec": {"size": 1, "name": "a", "tags": ["a", "b"], "ports": [{"port": 1}, {"port": 2}],
                   "free": {"x": [1, {"y": None}], "z": "s"}, "any": "x", "labels": {"a": "b"},
                   "raw": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e", "labels": {"a": "b"}},
                           "data": {"k": "v"}}},
          "status": {"replicas": 1, "selector": "app=w"}}

# Kinds whose name is fixed by their spec.
SEED_NAMES = {"customresourcedefinitions": "ws.x.example.com", "apiservices": "v1.x.example.com"}


@functools.lru_cache(maxsize=1)
def csr_request() -> str:
    """A PEM certificate request, base64-encoded as a CertificateSigningRequest's spec.request."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.derive_private_key(12345, ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def seed_body(info, name: str = "w", namespace: str = NAMESPACE) -> dict:
    """A valid object of ``info``'s kind (a catalog entry), named ``name`` (or the name its kind requires)."""
    name = SEED_NAMES.get(info.resource, name)
    specs = seed_specs()
    specs[("x.example.com", "ws")] = CUSTOM
    body = specs.get((info.group, info.resource, info.version), specs.get((info.group, info.resource), {}))
    meta = {"name": name, "labels": {"app": "w"}, "annotations": {"a": "b"}}
    if info.namespaced:
        meta["namespace"] = namespace
    api_version = f"{info.group}/{info.version}" if info.group else info.version
    # Through JSON, not deepcopy: no two places of a seed are one object (the CRD's versions share a schema).
    obj = {"apiVersion": api_version, "kind": info.kind, "metadata": meta, **json.loads(json.dumps(body))}
    status = STATUSES.get((info.group, info.resource))
    if status is not None:
        obj["status"] = json.loads(json.dumps(status))
    return obj
