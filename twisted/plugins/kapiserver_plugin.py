from twisted.application.service import ServiceMaker

kube_apiserver = ServiceMaker(
    "kapiserver", "kapiserver.tap.twistd", "The Kubernetes API server.", "kube-apiserver"
)
