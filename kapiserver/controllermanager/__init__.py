"""`twistd kube-controller-manager`: upstream's controllers, each a client of the API through
kapiserver.client (informers, work queues, expectations), one module per controller under upstream's name."""
