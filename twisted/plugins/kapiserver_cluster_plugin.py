from twisted.application.service import ServiceMaker

kube_cluster = ServiceMaker("kapiserver-cluster", "kapiserver.cluster.tap",
                            "A whole local Kubernetes cluster: apiserver, controller manager, scheduler and nodes.",
                            "kube-cluster")
