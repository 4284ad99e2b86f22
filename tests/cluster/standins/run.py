"""kube-cluster's service with stand-ins for the daemons, on the real reactor: `python run.py <kube-cluster flags>`.
The scheduler crashes at once, every time; the others run until SIGTERM."""
import sys
from pathlib import Path

from twisted.internet import reactor
from twisted.logger import globalLogBeginner, textFileLogObserver

from kapiserver.cluster import tap

HERE = Path(__file__).resolve().parent
PROGRAMS = {"apiserver": [sys.executable, str(HERE / "apiserver.py")],
            "controller-manager": [sys.executable, str(HERE / "daemon.py"), "controller-manager"],
            "scheduler": [sys.executable, str(HERE / "crasher.py")],
            "node": [sys.executable, str(HERE / "daemon.py"), "node"]}

if __name__ == "__main__":
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)], redirectStandardIO=False)
    options = tap.Options()
    options.parseOptions(sys.argv[1:])
    cluster = tap.makeService(options, reactor, PROGRAMS)
    reactor.callWhenRunning(cluster.startService)
    reactor.addSystemEventTrigger("before", "shutdown", cluster.stopService)
    reactor.run()
