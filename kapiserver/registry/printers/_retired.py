"""
Column descriptions upstream's printers take from API versions no longer served, whose
definitions our OpenAPI package no longer ships (k8s.io/api v0.32's SwaggerDoc of those types
still has them): the served version's text differs, so the retired one is kept here, keyed
``group.version.Type.field`` as ``_base.doc`` names definitions.
"""

from __future__ import annotations

RETIRED_DOCS = {
    "extensions.v1beta1.ReplicaSetStatus.readyReplicas": "The number of ready replicas for this replica set.",
    "extensions.v1beta1.ReplicaSetSpec.selector": (
        "Selector is a label query over pods that should match the replica count. If the selector is empty, it is "
        "defaulted to the labels present on the pod template. Label keys and values that must match in order to be "
        "controlled by this replica set. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    "extensions.v1beta1.DaemonSetStatus.numberReady": (
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running "
        "and ready."),
    "extensions.v1beta1.DaemonSetSpec.selector": (
        "A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, "
        "defaulted to labels on Pod template. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    "extensions.v1beta1.DeploymentSpec.selector": (
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by "
        "this deployment."),
    "apps.v1beta1.ControllerRevision.revision": "revision indicates the revision of the state represented by Data.",
    "autoscaling.v2beta1.HorizontalPodAutoscalerSpec.metrics": (
        "metrics contains the specifications for which to use to calculate the desired replica count (the maximum "
        "replica count across all metrics will be used).  The desired replica count is calculated multiplying the "
        "ratio between the target value and the current value by the current number of pods.  Ergo, metrics used "
        "must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for "
        "more information about how each type of metric must respond."),
    "extensions.v1beta1.NetworkPolicySpec.podSelector": (
        "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is applied to any "
        "pods selected by this field. Multiple network policies can select the same set of pods.  In this case, the "
        "ingress rules for each are combined additively. This field is NOT optional and follows standard label "
        "selector semantics. An empty podSelector matches all pods in this namespace."),
    "rbac.v1beta1.RoleBinding.roleRef": (
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the "
        "RoleRef cannot be resolved, the Authorizer must return an error."),
    "rbac.v1beta1.ClusterRoleBinding.roleRef": (
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the "
        "Authorizer must return an error."),
}
