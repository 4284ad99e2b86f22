"""The kubelet client: where a node's kubelet is (from the Node object) and a connection to it."""
