"""`twistd kube-node`: the node agent's flags and the service they build.

The kubelet API is served over plain HTTP with no authentication unless it is asked to be secure: any of
the kubelet's TLS and auth flags (--tls-cert-file, --tls-private-key-file, --cert-dir, --client-ca-file,
--anonymous-auth=false, --authentication-token-webhook, --authorization-mode=Webhook, --tls-min-version,
--tls-cipher-suites) or --serve-https turns HTTPS on, with the kubelet's defaults for the rest.  Upstream's
kubelet always serves HTTPS; plain HTTP stays the default here so the one-machine flow (an apiserver with
its default --kubelet-https=false, a node agent with only --kubeconfig) needs no certificates.
"""

from __future__ import annotations

import os
import socket
import types

from twisted.application import service
from twisted.python import usage

from .. import gcpolicy, signals
from ..flags import PflagOptions

# Boolean flags: bare `--flag` means true and `--flag=false` turns it off, as with the kubelet's pflag.
BOOLEAN_PARAMETERS = frozenset({"anonymous-auth", "authentication-token-webhook", "serve-https"})
# Flags that ask for a secure kubelet API (HTTPS on unless --serve-https=false, which they contradict).
_SECURE_PARAMETERS = ("tls-cert-file", "tls-private-key-file", "cert-dir", "client-ca-file", "tls-min-version",
                      "tls-cipher-suites")


class Options(PflagOptions):
    """kube-node's flags."""

    longdesc = ("A small node agent: registers a Node, renews its Lease, runs the pods bound to it as "
                "host processes and serves the kubelet API (logs, exec, attach, port-forward).")
    optParameters = [
        ["kubeconfig", None, None, "Path to a kubeconfig naming the API server (http:// or https://)."],
        ["node-name", None, None, "The Node's name (default: the host name)."],
        ["kubelet-port", None, "10250", "The port on which to serve the kubelet API."],
        ["address", None, "127.0.0.1", "The address to serve on and to report as the Node's InternalIP."],
        ["root-dir", None, "./kube-node-data", "Directory for pod state and container logs."],
        ["sync-frequency", None, "0.5", "Seconds between pod syncs."],
        ["config-sync-frequency", None, "10",
         "Seconds between re-reading the ConfigMaps, Secrets, Services and service-account tokens of running "
         "pods, which rewrites their changed volumes and starts containers that waited for them."],
        ["pod-cidr", None, "10.244.0.0/24", "With --simulated: the range pod IPs are given from."],
        ["simulate", None, "0", "Run N simulated nodes (as --simulated, N of them sharing one watch), named "
                                "<--node-name>-0 ... <--node-name>-<N-1>; 1 is --simulated."],
        ["simulated-capacity", None, "",
         "With --simulated/--simulate: each node's capacity and allocatable, e.g. cpu=4,memory=16Gi,pods=110 "
         "(default: the host's)."],
        ["node-labels", None, "", "With --simulated/--simulate: labels added to each Node, k=v,k2=v2."],
        ["simulated-start-delay", None, "0",
         "With --simulated/--simulate: seconds before a pod bound to a node is reported Running and Ready."],
        ["simulated-ready-delay", None, "0",
         "With --simulated/--simulate: seconds a pod stays Running but not Ready before it is reported Ready."],
        ["simulated-run-seconds", None, None,
         "With --simulated/--simulate: seconds after which the containers of a pod with restartPolicy Never or "
         "OnFailure exit 0, so Jobs complete (the annotation kapiserver.io/simulated-run-seconds sets it per pod)."],
        ["serve-https", None, None,
         "Serve the kubelet API over HTTPS (default: true when any TLS or authentication flag is given, "
         "else false: plain HTTP, no authentication)."],
        ["tls-cert-file", None, None,
         "Serving certificate (PEM, may carry its chain) for HTTPS. Without it and --tls-private-key-file, "
         "a self-signed certificate and key are generated into --cert-dir."],
        ["tls-private-key-file", None, None, "Private key (PEM) matching --tls-cert-file."],
        ["cert-dir", None, None, "Where the generated serving certificate goes (default: <root-dir>/pki)."],
        ["tls-min-version", None, "", "Minimum TLS version: VersionTLS10, VersionTLS11, VersionTLS12, "
                                      "VersionTLS13 (default VersionTLS12)."],
        ["tls-cipher-suites", None, "", "Comma-separated cipher suites (Go names) for TLS 1.2 and below."],
        ["client-ca-file", None, None,
         "Authenticate requests presenting a client certificate signed by one of these CAs (PEM): the "
         "CommonName is the user, each Organization a group."],
        ["anonymous-auth", None, "true",
         "Serve requests that present no credentials as system:anonymous (group system:unauthenticated)."],
        ["authentication-token-webhook", None, "false",
         "Authenticate bearer tokens with a TokenReview sent to the API server (as this agent's kubeconfig "
         "user)."],
        ["authentication-token-webhook-cache-ttl", None, "2m0s",
         "How long TokenReview answers are kept (a Go duration)."],
        ["authorization-mode", None, "AlwaysAllow",
         "AlwaysAllow or Webhook (a SubjectAccessReview to the API server for nodes/<subresource>)."],
        ["authorization-webhook-cache-authorized-ttl", None, "5m0s",
         "How long allowed SubjectAccessReview answers are kept (a Go duration)."],
        ["authorization-webhook-cache-unauthorized-ttl", None, "30s",
         "How long denied SubjectAccessReview answers are kept (a Go duration)."],
    ]
    optFlags = [
        ["schedule", None, "Also bind pods without a node to this node (a one-node scheduler; kube-scheduler "
                           "does this for a cluster)."],
        ["simulated", None, "Run no processes: report every pod bound to this node Running and Ready at once "
                            "(pod IPs from --pod-cidr), and finish deletions at once. For tests and benchmarks "
                            "of controllers and schedulers; no kubelet API is served."],
    ]

    boolean_parameters = BOOLEAN_PARAMETERS

    def postOptions(self):
        from ..auth import tls
        from .auth import AUTHORIZATION_MODES
        if not self["kubeconfig"]:
            raise usage.UsageError("--kubeconfig is required")
        self.convert(BOOLEAN_PARAMETERS, ("authentication-token-webhook-cache-ttl",
                                          "authorization-webhook-cache-authorized-ttl",
                                          "authorization-webhook-cache-unauthorized-ttl"),
                     integers=("kubelet-port", "simulate"),
                     floats=("sync-frequency", "config-sync-frequency", "simulated-start-delay",
                             "simulated-ready-delay"))
        if self["simulate"] < 0:
            raise usage.UsageError("--simulate must be 0 or more")
        if self["simulate"] == 1:
            self["simulated"] = True
        for name in ("simulated-capacity", "node-labels"):
            try:
                self[name] = _pairs(self[name])
            except ValueError:
                raise usage.UsageError(f"--{name}: want key=value pairs separated by commas") from None
        if self["simulated-run-seconds"] is not None:
            try:
                self["simulated-run-seconds"] = float(self["simulated-run-seconds"])
            except ValueError:
                raise usage.UsageError("--simulated-run-seconds: want a number of seconds") from None
        self["node-name"] = (self["node-name"] or socket.gethostname()).lower()
        if self["authorization-mode"] not in AUTHORIZATION_MODES:
            raise usage.UsageError(f"unknown authorization mode {self['authorization-mode']!r} "
                                   f"(want one of {', '.join(AUTHORIZATION_MODES)})")
        if bool(self["tls-cert-file"]) != bool(self["tls-private-key-file"]):
            raise usage.UsageError("--tls-cert-file and --tls-private-key-file go together")
        if self["tls-min-version"] and self["tls-min-version"] not in tls.TLS_VERSIONS:
            raise usage.UsageError(f"--tls-min-version: unknown TLS version {self['tls-min-version']!r}")
        suites = [s.strip() for s in self["tls-cipher-suites"].split(",") if s.strip()]
        unknown = [s for s in suites if s not in tls.CIPHER_SUITES]
        if unknown:
            raise usage.UsageError(f"--tls-cipher-suites: unsupported cipher suite(s) {unknown}")
        self["tls-cipher-suites"] = suites
        asked = [f"--{name}" for name in _SECURE_PARAMETERS if self[name]]
        asked += ["--anonymous-auth=false"] if not self["anonymous-auth"] else []
        asked += ["--authentication-token-webhook"] if self["authentication-token-webhook"] else []
        asked += ["--authorization-mode=Webhook"] if self["authorization-mode"] == "Webhook" else []
        if self["serve-https"] is None:
            self["serve-https"] = bool(asked)
        elif not self["serve-https"] and asked:
            raise usage.UsageError(f"--serve-https=false contradicts {', '.join(asked)}: authentication "
                                   f"and TLS need the kubelet API on HTTPS")
        if not self["cert-dir"]:
            self["cert-dir"] = os.path.join(self["root-dir"], "pki")


def _pairs(text: str) -> dict:
    out = {}
    for item in (text or "").split(","):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(item)
            out[key.strip()] = value.strip()
    return out


def kubelet_auth(options, client, reactor):
    """The authenticator and authorizer the flags ask for, asking the API server through `client`."""
    from ..auth import certs
    from .auth import (KubeletAuth, KubeletAuthenticator, SubjectAccessReviewAuthorizer,
                       TokenReviewAuthenticator)
    roots = certs.load_certificates(options["client-ca-file"]) if options["client-ca-file"] else []
    tokens = None
    if options["authentication-token-webhook"]:
        tokens = TokenReviewAuthenticator(client, reactor.seconds,
                                          options["authentication-token-webhook-cache-ttl"])
    authorizer = None
    if options["authorization-mode"] == "Webhook":
        authorizer = SubjectAccessReviewAuthorizer(client, reactor.seconds,
                                                   options["authorization-webhook-cache-authorized-ttl"],
                                                   options["authorization-webhook-cache-unauthorized-ttl"])
    return KubeletAuth(options["node-name"], KubeletAuthenticator(roots, tokens, options["anonymous-auth"]),
                       authorizer)


def kubelet_endpoint(options, reactor):
    """Where the kubelet API listens: plain TCP, or TLS with the given or generated serving certificate."""
    address = options["address"]
    if not options["serve-https"]:
        from ..listener import tcp_endpoint
        return tcp_endpoint(reactor, options["kubelet-port"], address)
    from ..auth import tls
    from .pki import ensure_serving_certificate
    cert, key = options["tls-cert-file"], options["tls-private-key-file"]
    if not cert:
        cert, key = ensure_serving_certificate(os.path.abspath(options["cert-dir"]), options["node-name"],
                                               [socket.gethostname().lower(), address])
    serving = tls.serving_options(cert, key, options["tls-min-version"], options["tls-cipher-suites"])
    from ..listener import tcp_endpoint
    return tcp_endpoint(reactor, options["kubelet-port"], address, tls_options=serving)


def makeService(options, reactor=None):
    if reactor is None:
        from twisted.internet import reactor
    from ..listener import Listener, QuietSite
    from .agent import NodeAgent
    from ..client.rest import client_from_kubeconfig
    from ..version import KUBERNETES_GIT_VERSION
    from .kubeletapi import KubeletAPI
    root = os.path.abspath(options["root-dir"])
    os.makedirs(root, exist_ok=True)
    top = service.MultiService()
    from ..exitstatus import load_or_exit
    client = load_or_exit(f"kube-node: cannot load --kubeconfig {options['kubeconfig']}",
                          lambda: client_from_kubeconfig(options["kubeconfig"], reactor,
                                                         user_agent=f"kube-node/{KUBERNETES_GIT_VERSION}"))
    if options["simulated"] or options["simulate"]:
        from .simulated import SimulatedNodeService
        names = [options["node-name"]] if options["simulate"] <= 1 else \
            [f"{options['node-name']}-{i}" for i in range(options["simulate"])]
        fleet = {} if len(names) == 1 else {"heartbeat_client": client_from_kubeconfig(
            options["kubeconfig"], reactor, user_agent=f"kube-node/{KUBERNETES_GIT_VERSION}")}
        SimulatedNodeService(client, names, reactor, address=options["address"], pod_cidr=options["pod-cidr"],
                             schedule=options["schedule"], capacity=options["simulated-capacity"] or None,
                             labels=options["node-labels"], start_delay=options["simulated-start-delay"],
                             ready_delay=options["simulated-ready-delay"],
                             run_seconds=options["simulated-run-seconds"], **fleet).setServiceParent(top)
        return top
    agent = NodeAgent(reactor, client, options["node-name"], options["address"], options["kubelet-port"], root,
                      schedule=options["schedule"], sync_interval=options["sync-frequency"],
                      config_sync_interval=options["config-sync-frequency"])
    agent.setServiceParent(top)
    site = QuietSite(KubeletAPI(reactor, agent, kubelet_auth(options, client, reactor)))
    how = "securely" if options["serve-https"] else "insecurely"
    Listener(reactor, kubelet_endpoint(options, reactor), site, "kubelet", how=how).setServiceParent(top)
    return top


# What the twistd plugin names: the same flags, the service with the server processes' garbage-collector policy.
twistd = types.SimpleNamespace(Options=Options, makeService=gcpolicy.serving(signals.serving(makeService)))
