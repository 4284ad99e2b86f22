"""`twistd kube-scheduler`: upstream's kube-scheduler on the Twisted client.

``queue`` (activeQ, backoffQ, unschedulablePods, the nominator), ``cache`` (nodes and their pods, assumed
ones included), ``framework`` (statuses, the FitError message, one profile's cycle), ``plugins`` (the
default profile's filters and scores), ``preemption`` (DefaultPreemption's choice of victims) are sans-IO;
``scheduler`` is the loop on the informers and the API, ``service`` its leader election, ``tap`` the flags.
"""
