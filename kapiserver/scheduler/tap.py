"""`twistd kube-scheduler`: its flags (upstream's names and defaults where they apply) and service.

Profiles come from --config, a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1, JSON or YAML):
each profile's schedulerName, its plugins (enabled with weights, disabled, per extension point or
multiPoint) and NodeResourcesFit's scoringStrategy; percentageOfNodesToScore and the leaderElection block
are honoured too; flags given on the command line win over the file's leaderElection.
"""

from __future__ import annotations

import sys
import types

from twisted.python import usage

from .. import gcpolicy, healthserver, signals
from ..client.leaderelection import LEADER_ELECTION_DURATIONS, leader_election_parameters
from ..flags import PflagOptions

BOOLEAN_PARAMETERS = frozenset({"leader-elect"})
DURATIONS = LEADER_ELECTION_DURATIONS
CONFIG_API_VERSION = "kubescheduler.config.k8s.io/v1"
# Upstream's DefaultKubeSchedulerPort: the secure port kube-apiserver's componentstatuses probe.
SECURE_PORT = 10259


class Options(PflagOptions):
    """kube-scheduler's flags."""

    longdesc = ("The Kubernetes scheduler: watches for pods without a node and binds each to the node that "
                "fits it best, preempting lower-priority pods when none does.")
    optParameters = [
        ["kubeconfig", None, None, "Path to a kubeconfig naming the API server and this component's credentials."],
        ["config", None, None, "The path to a KubeSchedulerConfiguration file (profiles' schedulerNames)."],
        *leader_election_parameters("kube-scheduler"),
        *healthserver.secure_serving_parameters(SECURE_PORT),
    ]

    boolean_parameters = BOOLEAN_PARAMETERS

    def parseOptions(self, options=None):
        args = list(sys.argv[1:] if options is None else options)
        self.given = {a[2:].partition("=")[0] for a in args if a.startswith("--")}
        super().parseOptions(args)

    def postOptions(self):
        if not self["kubeconfig"]:
            raise usage.UsageError("--kubeconfig is required")
        self["profiles"] = [{"schedulerName": "default-scheduler"}]
        self["percentage-of-nodes-to-score"] = 0
        if self["config"]:
            self._read_config(self["config"])
        self.convert(BOOLEAN_PARAMETERS, DURATIONS)
        healthserver.validate(self)

    def _read_config(self, path: str) -> None:
        import yaml
        try:
            with open(path) as f:
                config = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as e:
            raise usage.UsageError(f"couldn't read config file {path!r}: {e}") from None
        if not isinstance(config, dict) or config.get("kind") != "KubeSchedulerConfiguration" or \
                config.get("apiVersion") != CONFIG_API_VERSION:
            raise usage.UsageError(f"{path}: not a KubeSchedulerConfiguration of {CONFIG_API_VERSION}")
        from .plugins import profile_plugins
        profiles = config.get("profiles") or [{"schedulerName": "default-scheduler"}]
        names = [p.get("schedulerName") or "default-scheduler" for p in profiles]
        if len(set(names)) != len(names):
            raise usage.UsageError(f"{path}: profiles: Duplicate value: each schedulerName once")
        for profile in profiles:
            try:
                profile_plugins(profile)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise usage.UsageError(f"{path}: profile {profile.get('schedulerName')!r}: {e}") from None
        self["profiles"] = profiles
        self["percentage-of-nodes-to-score"] = int(config.get("percentageOfNodesToScore") or 0)
        election = config.get("leaderElection") or {}
        fields = {"leaderElect": "leader-elect", "leaseDuration": "leader-elect-lease-duration",
                  "renewDeadline": "leader-elect-renew-deadline", "retryPeriod": "leader-elect-retry-period",
                  "resourceName": "leader-elect-resource-name", "resourceNamespace": "leader-elect-resource-namespace"}
        for field, flag in fields.items():
            if field in election and flag not in self.given:
                self[flag] = str(election[field]).lower() if isinstance(election[field], bool) else election[field]


def makeService(options, reactor=None):
    """The scheduler, and its secure port (/healthz, /livez, /readyz and their checks) unless --secure-port=0."""
    if reactor is None:
        from twisted.internet import reactor
    from ..client.rest import client_from_kubeconfig
    from ..version import KUBERNETES_GIT_VERSION
    from .service import SchedulerService
    from ..exitstatus import load_or_exit
    client = load_or_exit(f"kube-scheduler: cannot load --kubeconfig {options['kubeconfig']}",
                          lambda: client_from_kubeconfig(options["kubeconfig"], reactor,
                                                         user_agent=f"kube-scheduler/{KUBERNETES_GIT_VERSION}"))
    return healthserver.with_secure_serving(reactor, options, "kube-scheduler",
                                            SchedulerService(reactor, client, dict(options)))


# What the twistd plugin names: the same flags, the service with the server processes' garbage-collector policy.
twistd = types.SimpleNamespace(Options=Options, makeService=gcpolicy.serving(signals.serving(makeService)))
