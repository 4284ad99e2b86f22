"""`twistd kube-cluster`: a whole local cluster in one command (kube-apiserver, kube-controller-manager,
kube-scheduler and the nodes as supervised child processes, with their certificates and kubeconfigs)."""
