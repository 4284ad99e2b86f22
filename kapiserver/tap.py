"""twistd kube-apiserver: placeholder until the tap lands."""
from twisted.python import usage


class Options(usage.Options):
    pass


def makeService(config, reactor=None):
    from twisted.application.service import MultiService
    return MultiService()
