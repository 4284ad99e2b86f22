"""
kapiserver as a test fixture: a real kube-apiserver process for a test session, reset between tests.

``KapiServer`` starts ``python -m kapiserver`` on a free loopback port (plain HTTP, the insecure port, where
every request is the admin: user ``system:unsecured`` in ``system:masters``) with the in-memory store,
``--enable-store-reset`` and ``--enable-fault-injection``.  Once ready, and once the controllers it runs
itself have settled (the ``default`` ServiceAccounts), it snapshots the store; ``reset()`` puts the
snapshot back and ends every open watch, in milliseconds (kapiserver.endpoints.storereset).

The pytest plugin (kapiserver.testing.plugin, registered through the ``pytest11`` entry point) gives it to
tests as the ``kapiserver`` fixture; this module does not import pytest, so a script can use it too::

    with KapiServer(tmpdir).start() as server:
        server.api.post("/api/v1/namespaces", {"metadata": {"name": "demo"}})
        server.inject(verb="update", resource="configmaps", status=409, times=1)
        server.reset()

A server started in a separate process, not a thread: Twisted has one reactor per process, and the code
under test may run its own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

import kapiserver

__all__ = ["KapiServer", "APIError", "SimpleAPI", "ADMIN_USER", "ADMIN_GROUPS"]

ADMIN_USER = "system:unsecured"
ADMIN_GROUPS = ("system:masters", "system:authenticated")
# Rule fields the fixture's inject() takes in Python's spelling, and their JSON names.
_RULE_NAMES = {"retry_after": "retryAfter", "watch_events": "watchEvents"}


class APIError(Exception):
    """A request the server answered with an error status; ``status`` is the HTTP code, ``body`` the decoded
    Status (or text)."""

    def __init__(self, method: str, path: str, status: int, body: Any):
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.body = body


class SimpleAPI:
    """A plain, blocking JSON client of the API (urllib; no dependency): ``get``, ``post``, ``put``,
    ``patch`` and ``delete`` return the decoded body and raise APIError on an error status; ``request``
    returns (status, body) whatever the status."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                headers: Optional[dict] = None) -> tuple[int, Any]:
        data = None
        headers = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def _checked(self, method: str, path: str, body: Any = None, **kw) -> Any:
        status, decoded = self.request(method, path, body, **kw)
        if status >= 400:
            raise APIError(method, path, status, decoded)
        return decoded

    def get(self, path: str) -> Any:
        return self._checked("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._checked("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._checked("PUT", path, body)

    def patch(self, path: str, body: Any, content_type: str = "application/merge-patch+json") -> Any:
        return self._checked("PATCH", path, body, content_type=content_type)

    def delete(self, path: str) -> Any:
        return self._checked("DELETE", path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_environment() -> dict:
    """The environment of the server: this kapiserver's source first on the path, so the child runs the
    same code as the tests import."""
    env = dict(os.environ)
    root = str(Path(kapiserver.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env["PYTHONUNBUFFERED"] = "1"
    return env


class KapiServer:
    """One kube-apiserver process for tests; see the module docstring.  ``args``: extra kube-apiserver
    flags (``--storage-backend=sqlite``, ``--v=2``, ...)."""

    # The ServiceAccounts the embedded controllers create in the system namespaces: once they exist, the
    # server has settled and the snapshot is taken.
    SETTLED = ("default", "kube-system", "kube-public", "kube-node-lease")

    def __init__(self, directory, args=(), name: str = "kapiserver"):
        self.directory = Path(directory)
        self.args = tuple(args)
        self.name = name
        self.port = 0
        self.process: Optional[subprocess.Popen] = None
        self.log_path = self.directory / f"{name}.log"
        self.kubeconfig = self.directory / "kubeconfig"
        self.admin = {"user": ADMIN_USER, "groups": list(ADMIN_GROUPS)}
        self.started_in = 0.0
        self.settle = 0.0
        self.settle_rounds = 20
        # Programs (User-Agent product names) whose watches a reset leaves open: the control plane's daemons.
        self.keep_watches_from: tuple = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> SimpleAPI:
        return SimpleAPI(self.url)

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> "KapiServer":
        """Start the server, wait until it is ready and settled, and snapshot it; a port another process
        took meanwhile is retried on a new one."""
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self.port = _free_port()
            try:
                self._start_once(timeout)
                break
            except _PortTaken:
                continue
        else:
            raise RuntimeError(f"kapiserver could not bind a port: {self.log()}")
        self._wait_settled(timeout)
        self._write_kubeconfig()
        self.api.post("/debug/kapiserver/snapshot", {})
        self.started_in = time.monotonic() - started
        return self

    def _start_once(self, timeout: float) -> None:
        args = list(self.args)
        given = {a.split("=", 1)[0] for a in args}
        defaults = {"--secure-port": "0", "--storage-backend": "memory", "--etcd-compaction-interval": "0",
                    "--data-dir": str(self.directory / "data"), "--v": "1"}
        argv = [sys.executable, "-m", "kapiserver", f"--insecure-port={self.port}", "--enable-store-reset",
                "--enable-fault-injection", *[f"{k}={v}" for k, v in defaults.items() if k not in given], *args]
        log = open(self.log_path, "wb")
        try:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=_child_environment(),
                                            stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kapiserver exited with {self.process.returncode}: {self.log()}")
            text = self.log(tail=0)
            if "Unable to listen on" in text:
                self.stop()     # another process took the port after _free_port found it free
                raise _PortTaken()
            # Our process's own line first: a /readyz answered on this port could be another server's.
            if f"on 127.0.0.1:{self.port}" in text:
                try:
                    with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                        if response.status == 200:
                            return
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"kapiserver did not become ready in {timeout:.0f} s: {self.log()}")

    def _wait_settled(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for namespace in self.SETTLED:
            while True:
                status, _ = self.api.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
                if status == 200 or "--embedded-controllers=" in self.args:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"kapiserver's ServiceAccounts did not appear: {self.log()}")
                time.sleep(0.05)

    def _write_kubeconfig(self) -> None:
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": self.name, "preferences": {},
            "clusters": [{"name": self.name, "cluster": {"server": self.url}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": "admin",
                                                          "namespace": "default"}}],
            # The insecure port authenticates nobody: every request is the admin.
            "users": [{"name": "admin", "user": {}}],
        }, indent=2))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> "KapiServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self, tail: int = 4000) -> str:
        """The end of the server's log (all of it with ``tail=0``)."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    # -- between tests ---------------------------------------------------------------------------------

    def reset(self) -> dict:
        """Put the store back as it was at start, end every open watch (but those of the programs in
        ``keep_watches_from``), drop every fault rule; what the server did ({"revision", "writes",
        "watchesEnded", "seconds"}).

        With controllers running (``settle`` set, as kapiserver.testing.controlplane sets it), a controller
        may still write in reaction to the reset (a ReplicaSet's pods deleted before the ReplicaSet is seen
        gone): the reset is repeated, ``settle`` seconds apart, until one finds nothing to undo (at most
        ``settle_rounds`` times); the counts are then the rounds' sums.  Quiet means two rounds in a row with
        nothing to undo: a controller on a loaded machine may take longer than one ``settle`` to react."""
        request = {"keepWatchesFrom": list(self.keep_watches_from)}
        total = self.api.post("/debug/kapiserver/reset", request)
        quiet, rounds = (0 if total["writes"] else 1), 0
        while self.settle and quiet < 2 and rounds < self.settle_rounds:
            time.sleep(self.settle)
            last = self.api.post("/debug/kapiserver/reset", request)
            rounds += 1
            quiet = 0 if last["writes"] else quiet + 1
            total = {"revision": last["revision"], **{key: total[key] + last[key]
                                                      for key in ("writes", "watchesEnded", "seconds")}}
        return total

    def snapshot(self) -> dict:
        """Make the current state the one reset() restores (a session's shared fixtures, say)."""
        return self.api.post("/debug/kapiserver/snapshot", {})

    # -- fault injection -------------------------------------------------------------------------------

    def inject(self, **rule) -> int:
        """Add a fault rule (see kapiserver.endpoints.faults: verb, resource, subresource, namespace, name,
        user, times, probability, latency, status, retry_after, message, watch_events, drop); its id."""
        body = {_RULE_NAMES.get(k, k): v for k, v in rule.items()}
        return self.api.post("/debug/kapiserver/faults", body)["id"]

    def faults(self) -> list:
        """The rules in force, each with how often it has fired."""
        return self.api.get("/debug/kapiserver/faults")["rules"]

    def clear_faults(self, rule_id: Optional[int] = None) -> None:
        self.api.delete("/debug/kapiserver/faults" + (f"/{rule_id}" if rule_id else ""))


class _PortTaken(Exception):
    pass
