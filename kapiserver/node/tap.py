"""`twistd kube-node`: the node agent's flags and the service they build."""

from __future__ import annotations

import os
import socket

from twisted.application import service
from twisted.python import usage


class Options(usage.Options):
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
    ]
    optFlags = [
        ["schedule", None, "Also bind pods without a node to this node (a one-node scheduler)."],
    ]

    def postOptions(self):
        if not self["kubeconfig"]:
            raise usage.UsageError("--kubeconfig is required")
        try:
            self["kubelet-port"] = int(self["kubelet-port"])
            self["sync-frequency"] = float(self["sync-frequency"])
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        self["node-name"] = (self["node-name"] or socket.gethostname()).lower()


def makeService(options, reactor=None):
    if reactor is None:
        from twisted.internet import reactor
    from ..server import Listener, _QuietSite
    from .agent import NodeAgent
    from .apiclient import client_from_kubeconfig
    from .kubeletapi import KubeletAPI
    root = os.path.abspath(options["root-dir"])
    os.makedirs(root, exist_ok=True)
    top = service.MultiService()
    agent = NodeAgent(reactor, client_from_kubeconfig(options["kubeconfig"], reactor), options["node-name"],
                      options["address"], options["kubelet-port"], root, schedule=options["schedule"],
                      sync_interval=options["sync-frequency"])
    agent.setServiceParent(top)
    site = _QuietSite(KubeletAPI(reactor, agent))
    address = options["address"].replace(":", "\\:")
    Listener(reactor, f"tcp:{options['kubelet-port']}:interface={address}", site, "kubelet").setServiceParent(top)
    return top
