"""`twistd kube-cluster`: a whole local cluster in one command, as k3s offers.

kube-apiserver, kube-controller-manager, kube-scheduler and `--nodes` kube-node agents run as supervised child
processes (kapiserver.cluster.supervisor), each a client of the apiserver with its own identity: the certificates
and kubeconfigs are made in --data-dir (kapiserver.cluster.pki) and kept across restarts.  The apiserver starts
first; the others once its /readyz answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Optional, Sequence

from twisted.application import service
from twisted.logger import Logger
from twisted.python import usage

log = Logger()

# The daemons, by role: the twistd plugin each runs.
PLUGINS = {"apiserver": "kube-apiserver", "controller-manager": "kube-controller-manager",
           "scheduler": "kube-scheduler", "node": "kube-node"}
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMISSION_PLUGINS = ("NodeRestriction", "TaintNodesByCondition")
# Repeatable flags passing extra flags to the daemons, k3s's names: option name -> role.
EXTRA_ARGS = {"kube-apiserver-arg": "apiserver", "kube-controller-manager-arg": "controller-manager",
              "kube-scheduler-arg": "scheduler", "kubelet-arg": "node"}


def twistd_argv(plugin: str) -> list[str]:
    """How a daemon is run: `twistd -n <plugin>` through kapiserver.cluster.child, with this interpreter."""
    return [sys.executable, "-m", "kapiserver.cluster.child", plugin]


def default_programs() -> dict[str, list[str]]:
    """role -> the argv its flags are appended to (tests hand makeService stand-ins instead)."""
    return {role: twistd_argv(plugin) for role, plugin in PLUGINS.items()}


class Options(usage.Options):
    """kube-cluster's flags."""

    longdesc = ("A whole local Kubernetes cluster in one command: kube-apiserver, kube-controller-manager, "
                "kube-scheduler and --nodes node agents as supervised child processes (restarted when they "
                "crash, stopped in reverse order), with a cluster CA, a certificate and kubeconfig for each "
                "component, and an admin kubeconfig in --data-dir. Every child's output is written to stdout, "
                "each line prefixed by its component.")
    optParameters = [
        ["data-dir", None, "./kube-cluster-data",
         "Directory for the cluster's state: pki/ (CA, keys, certificates), the kubeconfigs "
         "(admin.kubeconfig is yours), apiserver/ (the SQLite store) and nodes/<name>/ (pods and logs)."],
        ["apiserver-port", None, "6443", "The apiserver's secure port, on 127.0.0.1."],
        ["nodes", None, "1", "How many node agents to run, named node-1 ... node-N (0: the control plane alone)."],
        ["kubelet-port", None, "10250",
         "node-1's kubelet API port, on 127.0.0.1; node-i serves on this port plus i-1."],
        ["stop-timeout", None, "10",
         "Seconds a component may take to stop after SIGTERM before it gets SIGKILL."],
    ]

    def __init__(self):
        super().__init__()
        for name in EXTRA_ARGS:
            self[name] = []

    def opt_kube_apiserver_arg(self, value):
        """An extra flag for kube-apiserver (--kube-apiserver-arg=--v=2); repeatable."""
        self["kube-apiserver-arg"].append(value)

    def opt_kube_controller_manager_arg(self, value):
        """An extra flag for kube-controller-manager; repeatable."""
        self["kube-controller-manager-arg"].append(value)

    def opt_kube_scheduler_arg(self, value):
        """An extra flag for kube-scheduler; repeatable."""
        self["kube-scheduler-arg"].append(value)

    def opt_kubelet_arg(self, value):
        """An extra flag for every kube-node; repeatable."""
        self["kubelet-arg"].append(value)

    def parseArgs(self, *args):
        if args:
            raise usage.UsageError(f'"kube-cluster" does not take any arguments, got {list(args)}')

    def postOptions(self):
        for name in ("apiserver-port", "nodes", "kubelet-port"):
            try:
                self[name] = int(self[name])
            except ValueError:
                raise usage.UsageError(f'invalid argument "{self[name]}" for "--{name}" flag: '
                                       f"not an integer") from None
        try:
            self["stop-timeout"] = float(self["stop-timeout"])
        except ValueError:
            raise usage.UsageError(f'invalid argument "{self["stop-timeout"]}" for "--stop-timeout" flag') \
                from None
        if self["nodes"] < 0:
            raise usage.UsageError("--nodes must be 0 or more")
        for name in ("apiserver-port", "kubelet-port"):
            if not 0 < self[name] < 65536:
                raise usage.UsageError(f"--{name} must be a port number")
        if self["kubelet-port"] + self["nodes"] - 1 > 65535:
            raise usage.UsageError("--kubelet-port plus --nodes passes the last port number")
        self["data-dir"] = os.path.abspath(os.path.expanduser(self["data-dir"]))


def node_names(count: int) -> list[str]:
    return [f"node-{i}" for i in range(1, count + 1)]


def apiserver_url(options) -> str:
    return f"https://127.0.0.1:{options['apiserver-port']}"


def component_flags(options, files) -> dict[str, list[str]]:
    """tag -> the flags that daemon runs with (before any --*-arg extras)."""
    data_dir = Path(options["data-dir"])
    flags = {
        "apiserver": [
            f"--data-dir={data_dir / 'apiserver'}", f"--cert-dir={files.ca_cert.parent}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={options['apiserver-port']}", "--insecure-port=0",
            f"--tls-cert-file={files.serving_cert}", f"--tls-private-key-file={files.serving_key}",
            f"--client-ca-file={files.ca_cert}", "--authorization-mode=Node,RBAC",
            # NodeRestriction as kubeadm's (a kubelet changes its own Node and pods only), and TaintNodesByCondition,
            # the upstream default kube-apiserver alone leaves off for want of the node-lifecycle controller, which
            # runs here; the controller manager runs every controller, so the apiserver embeds none.
            f"--enable-admission-plugins={','.join(ADMISSION_PLUGINS)}", "--embedded-controllers=",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={files.sa_pub}", f"--service-account-signing-key-file={files.sa_key}",
            "--kubelet-https=true", f"--kubelet-client-certificate={files.kubelet_client_cert}",
            f"--kubelet-client-key={files.kubelet_client_key}",
        ],
        "controller-manager": [
            f"--kubeconfig={files.controller_manager}", "--leader-elect=false",
            f"--root-ca-file={files.ca_cert}", f"--service-account-private-key-file={files.sa_key}",
            f"--cluster-signing-cert-file={files.ca_cert}", f"--cluster-signing-key-file={files.ca_key}",
        ],
        "scheduler": [f"--kubeconfig={files.scheduler}", "--leader-elect=false"],
    }
    for i, name in enumerate(node_names(options["nodes"])):
        flags[name] = [
            f"--kubeconfig={files.nodes[name]}", f"--node-name={name}", "--address=127.0.0.1",
            f"--kubelet-port={options['kubelet-port'] + i}", f"--root-dir={data_dir / 'nodes' / name}",
            # The kubelet API as upstream's: HTTPS, clients by certificate (the apiserver's) or token,
            # each request authorized by a SubjectAccessReview.
            f"--client-ca-file={files.ca_cert}", "--anonymous-auth=false", "--authentication-token-webhook",
            "--authorization-mode=Webhook",
        ]
    return flags


def child_environment(base: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The children's environment: this one, with the directory this kapiserver was imported from first on
    PYTHONPATH (so every daemon runs the same code, and twistd finds its plugins), and unbuffered output."""
    import kapiserver
    env = dict(os.environ if base is None else base)
    root = str(Path(kapiserver.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cluster_commands(options, files, programs: Mapping[str, Sequence[str]], ready=None, env=None):
    """The supervisor's Commands: the apiserver (stage 0, with `ready`), the controller manager, the scheduler
    and the nodes, in the stages they start in (and stop in reverse)."""
    from .supervisor import Command
    flags = component_flags(options, files)
    extra = {role: list(options[name]) for name, role in EXTRA_ARGS.items()}
    commands = [Command("apiserver", [*programs["apiserver"], *flags["apiserver"], *extra["apiserver"]], 0,
                        env, ready),
                Command("controller-manager", [*programs["controller-manager"], *flags["controller-manager"],
                                               *extra["controller-manager"]], 1, env),
                Command("scheduler", [*programs["scheduler"], *flags["scheduler"], *extra["scheduler"]], 2, env)]
    commands += [Command(name, [*programs["node"], *flags[name], *extra["node"]], 3, env)
                 for name in node_names(options["nodes"])]
    return commands


LOCK = "kube-cluster.lock"


def lock_data_dir(data_dir: Path):
    """The data directory's lock (a FilesystemLock: a symlink naming this pid, broken when that process is
    gone), so that two kube-clusters never share one store; SystemExit, naming the holder, if it is taken."""
    from twisted.python.lockfile import FilesystemLock
    lock = FilesystemLock(str(data_dir / LOCK))
    if not lock.lock():
        try:
            holder = os.readlink(data_dir / LOCK)
        except OSError:
            holder = "?"
        raise SystemExit(f"kube-cluster: {data_dir} is in use by another kube-cluster (pid {holder})")
    return lock


class ClusterService(service.MultiService):
    """The supervisor, the line telling the user which kubeconfig to use, and the data directory's lock
    (released once every daemon has stopped)."""

    def __init__(self, supervisor, admin_kubeconfig: Path, lock=None):
        super().__init__()
        self.supervisor = supervisor
        self.admin_kubeconfig = admin_kubeconfig
        self.lock = lock
        supervisor.setServiceParent(self)

    def startService(self):
        self.supervisor.output.out.write(f"To use the cluster:\n    export KUBECONFIG={self.admin_kubeconfig}\n")
        self.supervisor.output.out.flush()
        super().startService()

    def stopService(self):
        d = super().stopService()
        if self.lock is not None:
            d.addBoth(self._unlock)
        return d

    def _unlock(self, result):
        if self.lock.locked:
            self.lock.unlock()
        return result


def makeService(options, reactor=None, programs: Optional[Mapping[str, Sequence[str]]] = None, spawn=None,
                out=None):
    """The kube-cluster service: makes the PKI in --data-dir now, and supervises the daemons once started.
    `programs` (role -> argv prefix), `spawn` and `out` replace the real daemons, processes and stdout."""
    if reactor is None:
        from twisted.internet import reactor
    from ..client.rest import client_from_kubeconfig
    from . import pki
    from .readiness import wait_until_ready
    from .supervisor import Supervisor, default_spawn
    data_dir = Path(options["data-dir"])
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_data_dir(data_dir)
    files = pki.ensure_cluster_pki(data_dir, apiserver_url(options), node_names(options["nodes"]))

    def ready():
        client = client_from_kubeconfig(str(files.admin), reactor, user_agent="kube-cluster")
        return wait_until_ready(reactor, client)
    commands = cluster_commands(options, files, programs or default_programs(), ready, child_environment())
    supervisor = Supervisor(commands, spawn or default_spawn(reactor), reactor, out,
                            stop_timeout=options["stop-timeout"])
    return ClusterService(supervisor, files.admin, lock)
