"""`twistd kube-controller-manager`: its flags (upstream's names and defaults, where they apply) and service."""

from __future__ import annotations

import types

from twisted.python import usage

from .. import gcpolicy, healthserver, signals
from ..client.leaderelection import LEADER_ELECTION_DURATIONS, leader_election_parameters
from ..flags import PflagOptions

BOOLEAN_PARAMETERS = frozenset({"leader-elect"})
DURATIONS = (*LEADER_ELECTION_DURATIONS, "node-monitor-grace-period", "node-monitor-period",
             "node-startup-grace-period", "cluster-signing-duration", "pod-eviction-timeout",
             "resource-quota-sync-period",
             "namespace-sync-period", "horizontal-pod-autoscaler-sync-period",
             "horizontal-pod-autoscaler-downscale-stabilization", "horizontal-pod-autoscaler-cpu-initialization-period",
             "horizontal-pod-autoscaler-initial-readiness-delay", "endpoint-updates-batch-period",
             "endpointslice-updates-batch-period", "mirroring-endpointslice-updates-batch-period",
             "pvclaimbinder-sync-period")
INTEGERS = ("concurrent-deployment-syncs", "concurrent-replicaset-syncs", "concurrent-rc-syncs",
            "concurrent-statefulset-syncs", "concurrent-daemonset-syncs", "concurrent-job-syncs",
            "concurrent-cron-job-syncs", "concurrent-endpoint-syncs", "concurrent-service-endpoint-syncs",
            "mirroring-concurrent-service-endpoint-syncs",
            "concurrent-serviceaccount-token-syncs", "concurrent-namespace-syncs", "concurrent-gc-syncs",
            "concurrent-resource-quota-syncs", "concurrent-ttl-after-finished-syncs",
            "concurrent-horizontal-pod-autoscaler-syncs", "terminated-pod-gc-threshold",
            "large-cluster-size-threshold", "max-endpoints-per-slice", "mirroring-max-endpoints-per-subset",
            "concurrent-ephemeralvolume-syncs")
FLOATS = ("node-eviction-rate", "secondary-node-eviction-rate", "unhealthy-zone-threshold",
          "horizontal-pod-autoscaler-tolerance")
# Upstream's KubeControllerManagerPort: the secure port kube-apiserver's componentstatuses probe.
SECURE_PORT = 10257


class Options(PflagOptions):
    """kube-controller-manager's flags."""

    longdesc = ("The Kubernetes controller manager: watches the shared state of the cluster through the API "
                "server and makes changes moving the current state towards the desired state.")
    optParameters = [
        ["kubeconfig", None, None, "Path to a kubeconfig naming the API server and this component's credentials."],
        ["controllers", None, "*",
         "A list of controllers to enable. '*' enables all on-by-default controllers, 'foo' enables the "
         "controller named 'foo', '-foo' disables the controller named 'foo'."],
        *leader_election_parameters("kube-controller-manager"),
        ["concurrent-deployment-syncs", None, "5", "Deployments synced at once."],
        ["concurrent-replicaset-syncs", None, "5", "ReplicaSets synced at once."],
        ["concurrent-rc-syncs", None, "5", "ReplicationControllers synced at once."],
        ["concurrent-statefulset-syncs", None, "5", "StatefulSets synced at once."],
        ["concurrent-daemonset-syncs", None, "2", "DaemonSets synced at once."],
        ["concurrent-job-syncs", None, "5", "Jobs synced at once."],
        ["concurrent-cron-job-syncs", None, "5", "CronJobs synced at once."],
        ["concurrent-endpoint-syncs", None, "5", "Endpoints synced at once."],
        ["concurrent-service-endpoint-syncs", None, "5", "Services whose EndpointSlices are synced at once."],
        ["mirroring-concurrent-service-endpoint-syncs", None, "5",
         "Endpoints mirrored to EndpointSlices at once."],
        ["concurrent-serviceaccount-token-syncs", None, "5", "ServiceAccount tokens synced at once."],
        ["max-endpoints-per-slice", None, "100", "The most endpoints an EndpointSlice gets."],
        ["mirroring-max-endpoints-per-subset", None, "1000",
         "The most addresses of one Endpoints subset mirrored to EndpointSlices."],
        ["endpoint-updates-batch-period", None, "0s",
         "How long Endpoints updates for a Service wait to be batched (0: none)."],
        ["endpointslice-updates-batch-period", None, "0s",
         "How long EndpointSlice updates for a Service wait to be batched (0: none)."],
        ["mirroring-endpointslice-updates-batch-period", None, "0s",
         "How long mirrored EndpointSlice updates wait to be batched (0: none)."],
        ["concurrent-namespace-syncs", None, "10", "Namespaces synced at once."],
        ["concurrent-gc-syncs", None, "20", "Garbage collector workers."],
        ["concurrent-resource-quota-syncs", None, "5", "ResourceQuotas synced at once."],
        ["concurrent-ttl-after-finished-syncs", None, "5", "ttl-after-finished workers."],
        ["concurrent-horizontal-pod-autoscaler-syncs", None, "5", "HorizontalPodAutoscalers synced at once."],
        ["node-monitor-grace-period", None, "50s",
         "How long a node may go without a heartbeat before it is marked unhealthy."],
        ["node-monitor-period", None, "5s", "How often node health is checked."],
        ["node-startup-grace-period", None, "1m", "How long a starting node may be unresponsive."],
        ["large-cluster-size-threshold", None, "50", "Nodes from which the eviction rate limit is for large clusters."],
        ["node-eviction-rate", None, "0.1", "Nodes per second tainted for eviction in a healthy zone."],
        ["secondary-node-eviction-rate", None, "0.01",
         "Nodes per second tainted for eviction in a partially disrupted zone."],
        ["unhealthy-zone-threshold", None, "0.55",
         "Fraction of not-Ready nodes (at least 3) from which a zone is partially disrupted."],
        ["pvclaimbinder-sync-period", None, "15s", "How often volumes and claims are synced."],
        ["concurrent-ephemeralvolume-syncs", None, "5", "Ephemeral volumes synced at once."],
        ["pod-eviction-timeout", None, "5m", "Unused since taint-based eviction (kept for upstream's flag)."],
        ["root-ca-file", None, None,
         "The cluster's CA bundle, published as kube-root-ca.crt in every namespace (ca.crt)."],
        ["service-account-private-key-file", None, None,
         "PEM private key used to sign legacy service account tokens."],
        ["cluster-signing-cert-file", None, None, "PEM CA certificate issuing cluster-scoped certificates."],
        ["cluster-signing-key-file", None, None, "PEM CA private key issuing cluster-scoped certificates."],
        ["cluster-signing-duration", None, "8760h", "The longest validity of a signed certificate."],
        *([f"cluster-signing-{signer}-{part}-file", None, None,
           f"PEM CA {what} of the kubernetes.io/{name} signer (instead of --cluster-signing-{part}-file)."]
          for signer, name in (("kubelet-serving", "kubelet-serving"),
                               ("kubelet-client", "kube-apiserver-client-kubelet"),
                               ("kube-apiserver-client", "kube-apiserver-client"),
                               ("legacy-unknown", "legacy-unknown"))
          for part, what in (("cert", "certificate"), ("key", "private key"))),
        ["terminated-pod-gc-threshold", None, "12500",
         "Terminated pods kept before the pod garbage collector deletes them (<= 0: never)."],
        ["resource-quota-sync-period", None, "5m", "How often quota usage is recalculated."],
        ["namespace-sync-period", None, "5m", "How often namespace lifecycle is resynced."],
        ["horizontal-pod-autoscaler-sync-period", None, "15s", "How often HPAs are synced."],
        ["horizontal-pod-autoscaler-downscale-stabilization", None, "5m0s",
         "How far back the highest recommendation is kept before scaling down (HPAs without behavior)."],
        ["horizontal-pod-autoscaler-tolerance", None, "0.1",
         "The minimum change of the usage ratio from 1.0 that makes the autoscaler scale."],
        ["horizontal-pod-autoscaler-cpu-initialization-period", None, "5m0s",
         "After a pod starts, how long its CPU samples are skipped unless it is ready and the sample is newer."],
        ["horizontal-pod-autoscaler-initial-readiness-delay", None, "30s",
         "After a pod starts, how long readiness changes count as initial readiness."],
        *healthserver.secure_serving_parameters(SECURE_PORT),
    ]

    boolean_parameters = BOOLEAN_PARAMETERS

    def postOptions(self):
        from . import registry
        if not self["kubeconfig"]:
            raise usage.UsageError("--kubeconfig is required")
        self.convert(BOOLEAN_PARAMETERS, DURATIONS, INTEGERS, FLOATS)
        healthserver.validate(self)
        from .csrsigning import signing_files
        try:
            signing_files(self.get)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        spec = [c.strip() for c in self["controllers"].split(",") if c.strip()]
        try:
            self["controllers"] = registry.selected(spec)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None


def makeService(options, reactor=None):
    """The controllers, and the secure port (/healthz and its checks) unless --secure-port=0."""
    if reactor is None:
        from twisted.internet import reactor
    from ..client.kubeconfig import load_kubeconfig
    from ..client.rest import client_from_kubeconfig
    from ..version import KUBERNETES_GIT_VERSION
    from .manager import ControllerManagerService
    from ..exitstatus import load_or_exit
    client = load_or_exit(f"kube-controller-manager: cannot load --kubeconfig {options['kubeconfig']}",
                          lambda: client_from_kubeconfig(options["kubeconfig"], reactor,
                                                         user_agent=f"kube-controller-manager/{KUBERNETES_GIT_VERSION}"))
    settings = dict(options)
    ca = load_kubeconfig(options["kubeconfig"])["ca"]
    settings["kubeconfig-ca"] = ca.decode() if ca else ""
    return healthserver.with_secure_serving(reactor, options, "kube-controller-manager",
                                            ControllerManagerService(reactor, client, options["controllers"], settings))


# What the twistd plugin names: the same flags, the service with the server processes' garbage-collector policy.
twistd = types.SimpleNamespace(Options=Options, makeService=gcpolicy.serving(signals.serving(makeService)))
