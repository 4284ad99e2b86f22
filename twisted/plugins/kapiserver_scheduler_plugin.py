from twisted.application.service import ServiceMaker

kube_scheduler = ServiceMaker("kapiserver-scheduler", "kapiserver.scheduler.tap.twistd",
                              "The Kubernetes scheduler, on kapiserver's client.", "kube-scheduler")
