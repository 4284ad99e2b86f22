from twisted.application.service import ServiceMaker

kube_node = ServiceMaker("kapiserver-node", "kapiserver.node.tap.twistd", "A small Kubernetes node agent.", "kube-node")
