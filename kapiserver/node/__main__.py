"""`python -m kapiserver.node [flags]`: the node agent in the foreground (as `twistd -n kube-node`)."""
import sys

from twisted.python import usage


def main(argv=None, reactor=None):
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from .tap import Options, makeService
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 2
    if reactor is None:
        from twisted.internet import reactor
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    service = makeService(options, reactor)
    reactor.callWhenRunning(service.startService)
    # Stopping the agent stops its pods: SIGTERM to each, then SIGKILL.
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
