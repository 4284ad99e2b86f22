"""kube-node: a small node agent that registers a Node, runs the pods bound to it as host
processes, and serves the kubelet API (logs, exec, attach, port-forward) the apiserver calls."""
