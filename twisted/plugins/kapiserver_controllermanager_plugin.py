from twisted.application.service import ServiceMaker

kube_controller_manager = ServiceMaker("kapiserver-controller-manager", "kapiserver.controllermanager.tap.twistd",
                                       "The Kubernetes controller manager.", "kube-controller-manager")
