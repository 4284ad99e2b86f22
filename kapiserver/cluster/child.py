"""`python -m kapiserver.cluster.child <plugin> [flags]`: one of kube-cluster's daemons, run as
`twistd -n --pidfile= <plugin> [flags]`, with two differences that make it a good child:

- it is in a process group of its own, so a Ctrl-C at the terminal reaches kube-cluster alone, which then
  stops its children in order rather than all at once;
- it stops itself (SIGTERM, so as gracefully as when asked) once its stdin, a pipe kube-cluster holds,
  reaches its end: when kube-cluster dies without stopping it (SIGKILL), no daemon is left behind;
- it stops once however many SIGTERMs come: systemd signals every process of a service, and kube-cluster
  its children too; twistd's handler would log a ReactorNotRunning traceback at each repeat.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def _stop_when_parent_goes() -> None:
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def installed(plugin: str) -> bool:
    """Whether twistd knows `plugin` (a daemon not installed yet would print twistd's whole usage)."""
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins
    return any(maker.tapname == plugin for maker in getPlugins(IServiceMaker))


def main(argv: list[str]) -> None:
    if not argv or not installed(argv[0]):
        print(f"{argv[0] if argv else 'a daemon'} is not installed (twistd has no such plugin)", flush=True)
        sys.exit(127)
    os.setpgrp()
    # A thread, because the daemon's reactor is not ours to add a reader to before twistd builds it.
    threading.Thread(target=_stop_when_parent_goes, name="kube-cluster-watch", daemon=True).start()
    # The reactor twistd will run (it installs no other without --reactor).
    from twisted.internet import reactor

    from kapiserver import signals
    signals.first_only(reactor)
    from twisted.scripts.twistd import run
    sys.argv = ["twistd", "-n", "--pidfile=", *argv]
    run()


if __name__ == "__main__":
    main(sys.argv[1:])
