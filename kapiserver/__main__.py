"""`python -m kapiserver [flags]` (and the `kapiserver` script): the API server in the foreground.

The same service `twistd -n kube-apiserver` runs, logging to stderr, stopped cleanly by SIGINT or SIGTERM.
A bad flag is one line on stderr and exit status 2, as command-line tools conventionally do.
"""
import sys

from twisted.python import usage

# Exit statuses: a usage error, and a server that could not start.
EXIT_USAGE = 2
EXIT_FAILURE = 1


def main(argv=None, reactor=None):
    """Parse `argv` (default sys.argv[1:]), run the server until a signal stops it; returns the exit status."""
    from kapiserver import logs
    from kapiserver.tap import Options, makeService

    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        sys.stderr.write(f"Error: {' '.join(str(e).split())}\n")
        return EXIT_USAGE

    if reactor is None:
        from twisted.internet import reactor
    logs.begin_stderr_logging(options.server_config.verbosity)
    service = makeService(options, reactor)
    from kapiserver import gcpolicy
    gcpolicy.apply(service)
    failed = []

    def start():
        try:
            service.startService()
        except Exception:
            # A listener that cannot bind is fatal: say why, and stop rather than run half a server.
            from twisted.logger import Logger
            Logger(namespace="kapiserver").failure("kapiserver could not start")
            failed.append(True)
            reactor.stop()

    # stopService returns a Deferred; the reactor waits for it before it stops.
    reactor.addSystemEventTrigger("before", "shutdown", lambda: service.running and service.stopService())
    reactor.callWhenRunning(start)
    if options.server_config.worker_of:
        # A --workers worker is stopped by its primary (SIGTERM), which a ^C in a terminal also reaches: the
        # worker leaves that SIGINT to it rather than shut down twice.
        import signal
        reactor.callWhenRunning(signal.signal, signal.SIGINT, signal.SIG_IGN)
    else:
        from kapiserver import signals
        signals.exit_on_second(reactor)
    # The reactor's own signal handlers turn SIGINT and SIGTERM into an orderly shutdown.
    reactor.run()
    # A start that failed later (storage would not open: the data dir in use) stopped the reactor too.
    return EXIT_FAILURE if failed or getattr(service, "start_failure", None) is not None else 0


if __name__ == "__main__":
    sys.exit(main())
