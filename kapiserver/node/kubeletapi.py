"""The kubelet API of the node agent, as the apiserver calls it: /healthz, /pods,
/containerLogs/{ns}/{pod}/{container}, /exec|/attach/{ns}/{pod}/{container},
/portForward/{ns}/{pod}, /run/{ns}/{pod}/{container}, /stats/summary and /metrics/resource
(kapiserver.node.stats).  Errors are Status objects;
refusals by the auth filter (kapiserver.node.auth) are upstream's plain-text 401/403/500 bodies."""

from __future__ import annotations

import json
from typing import Optional

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from ..endpoints.upgrade import header_values, wants_upgrade
from ..machinery import errors
from ..pool import in_pool
from ..machinery import podstreams
from ..endpoints.websocket import serve_websocket
from .auth import KubeletAuth
from .execution import AttachRun, ExecRun
from .logstore import LogOptions, read_records
from .stats import Stats
from . import wire

log = Logger()


def _status(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


class _Error(Exception):
    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def _arg(request, name: str, default: Optional[str] = None) -> Optional[str]:
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", "replace") if values else default


def _flag(request, name: str) -> bool:
    value = _arg(request, name)
    return value is not None and value.lower() not in ("0", "false")


def _log_source(container, pod_name: str, previous: bool):
    """(path, live log or None) of the instance a log request means, as upstream's kubelet picks it: the
    running or last instance; with ``previous``, the last terminated one (lastState), which is the last
    instance itself while the container waits to be restarted."""
    waiting = container.state.get("waiting")
    ended_before = "terminated" in container.last_state
    if previous:
        if ended_before and waiting is not None and container.log is not None:
            return container.log.path, container.log
        if ended_before and container.previous_log_path:
            return container.previous_log_path, None
        raise _Error(400, "BadRequest", f'previous terminated container "{container.name}" in pod "{pod_name}" '
                                        f'not found')
    if container.log is not None:
        return container.log.path, container.log
    if container.ended_log_path is not None:
        return container.ended_log_path, None
    reason = (waiting or {}).get("reason", "ContainerCreating")
    reason = {"ErrImagePull": "image can't be pulled",
              "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
    raise _Error(400, "BadRequest", f'container "{container.name}" in pod "{pod_name}" is waiting to start: '
                                    f'{reason}')


class KubeletAPI(Resource):
    isLeaf = True

    def __init__(self, reactor, agent, auth: Optional[KubeletAuth] = None):
        super().__init__()
        self.reactor = reactor
        self.agent = agent
        self.auth = auth or KubeletAuth(agent.node_name)
        self.stats = Stats(agent, reactor)

    def render(self, request):
        # The check finishes at once unless a webhook is asked; only then is the answer written later.
        d = defer.ensureDeferred(self.auth.check(request))
        if d.called:
            decided = []
            d.addBoth(decided.append)  # takes the result (a Failure too) out of the Deferred
            return self._after_check(request, decided[0])
        d.addCallback(lambda refusal: self._resume(request, refusal))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _after_check(self, request, refusal):
        if isinstance(refusal, Failure):
            log.failure("kubelet API auth failed", refusal)
            refusal = (500, b"Internal Server Error")
        if refusal is not None:
            code, body = refusal
            request.setResponseCode(code)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return body
        return self._serve(request)

    def _resume(self, request, refusal):
        if request.finished or getattr(request, "_disconnected", False):
            return
        body = self._after_check(request, refusal)
        if body is not NOT_DONE_YET:
            request.write(body)
            request.finish()

    @staticmethod
    def _failed(failure, request):
        log.failure("kubelet API request failed", failure)
        if not request.finished and not getattr(request, "_disconnected", False):
            if not request.startedWriting:
                request.setResponseCode(500)
            request.finish()

    def _serve(self, request):
        parts = [p.decode("utf-8", "replace") for p in request.path.strip(b"/").split(b"/")]
        try:
            return self._route(request, parts)
        except _Error as e:
            request.setResponseCode(e.code)
            request.setHeader(b"Content-Type", b"application/json")
            return _status(e.code, e.reason, e.message)

    def _route(self, request, parts):
        head = parts[0] if parts else ""
        if head in ("healthz", "livez", "readyz"):
            request.setHeader(b"Content-Type", b"text/plain")
            return b"ok"
        if head == "pods":
            request.setHeader(b"Content-Type", b"application/json")
            items = [w.pod for w in self.agent.workers.values()]
            return json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}).encode()
        if parts[:2] == ["stats", "summary"] and len(parts) == 2:
            request.setHeader(b"Content-Type", b"application/json")
            return self._stats(request, lambda sample: json.dumps(self.stats.summary(sample)).encode())
        if parts[:2] == ["metrics", "resource"] and len(parts) == 2:
            request.setHeader(b"Content-Type", b"text/plain; version=0.0.4; charset=utf-8")
            return self._stats(request, lambda sample: self.stats.resource_metrics(sample).encode())
        if head == "containerLogs" and len(parts) == 4:
            return self._logs(request, *parts[1:])
        if head in ("exec", "attach", "run") and len(parts) == 4:
            return self._exec(request, head, *parts[1:])
        if head == "portForward" and len(parts) == 3:
            return self._port_forward(request, *parts[1:])
        raise _Error(404, "NotFound", "the server could not find the requested resource")

    def _stats(self, request, render):
        """The host's figures are read in a thread; the answer is made from them here."""
        def answer(sample):
            if not request.finished and not getattr(request, "_disconnected", False):
                request.write(render(sample))
                request.finish()
        self.stats.sample().addCallback(answer).addErrback(self._failed, request)
        return NOT_DONE_YET

    def _container(self, namespace, name, container_name, pod_missing=None, container_missing=None):
        """The pod's worker and the container named (the first when none is), or the _Error that says which is
        missing (exec's wording unless others are given)."""
        worker = self.agent.worker(namespace, name)
        if worker is None:
            raise pod_missing or _Error(404, "NotFound", f'pod "{name}" not found on this node')
        container = worker.container(container_name)
        if container is None:
            raise container_missing or _Error(400, "BadRequest",
                                              f"container {container_name} is not valid for pod {name}")
        return worker, container

    # -- logs ---------------------------------------------------------------------------------------
    def _logs(self, request, namespace, name, container_name):
        query = {k.decode("utf-8", "replace"): [v.decode("utf-8", "replace") for v in vs]
                 for k, vs in request.args.items()}
        # As upstream's kubelet: the query decoded (400) and validated (422) before the pod is looked up, its
        # errors JSON-looking text; an unknown pod or container a 404.
        try:
            parsed = podstreams.log_options(name, query)
        except errors.StatusError as e:
            if e.code == 422:
                raise _Error(422, "Invalid", '{"message": "Invalid request."}') from None
            raise _Error(400, "BadRequest", '{"message": "Unable to decode query."}') from None
        _, container = self._container(
            namespace, name, container_name, _Error(404, "NotFound", f'pod "{name}" does not exist'),
            _Error(404, "NotFound", f'container "{container_name}" not found in pod "{name}"'))
        options = LogOptions(follow=bool(parsed.get("follow")), timestamps=bool(parsed.get("timestamps")),
                             tail_lines=parsed.get("tailLines"), since_seconds=parsed.get("sinceSeconds"),
                             since_time=parsed.get("sinceTime") or None, limit_bytes=parsed.get("limitBytes"),
                             previous=bool(parsed.get("previous")))
        path, log = _log_source(container, name, options.previous)
        # Lines written from now on come to a follower; the file is read (in the thread pool) only up to here.
        live = log is not None and options.follow and not log.closed
        arrived: list = []
        state = {"ended": False, "finished": False, "stop": lambda: None}
        size = None
        if log is not None:
            # What the instance has logged so far, once its file holds it (written in the thread pool).
            size = log.size
        if live:
            state["stop"] = log.follow(arrived.append, lambda: state.__setitem__("ended", True))
        request.setHeader(b"Content-Type", b"text/plain")
        budget = [options.limit_bytes]

        def emit(data: bytes) -> bool:
            if budget[0] is not None:
                data = data[:budget[0]]
                budget[0] -= len(data)
            if data:
                request.write(data)
            return budget[0] is None or budget[0] > 0

        def done():
            state["stop"]()
            if not state["finished"]:
                state["finished"] = True
                request.finish()

        def record(line):
            if not state["finished"] and not emit(options.render(line)):
                done()

        def answer(selected):
            if state["finished"]:
                return
            for line in selected:
                if not emit(options.render(line)):
                    return done()
            if not live:
                return done()
            state["stop"]()
            for line in arrived:
                if not emit(options.render(line)):
                    return done()
            if state["ended"] or log.closed:
                return done()
            state["stop"] = log.follow(record, done)

        def client_gone(_):
            state["finished"] = True
            state["stop"]()
        request.notifyFinish().addBoth(client_gone)
        now = self.reactor.seconds()
        # The file read, and its lines chosen (tail, since), off the reactor thread; only the answer is written here.
        flushed = log.flushed() if log is not None else defer.succeed(None)
        flushed.addCallback(lambda _: in_pool(self.reactor, lambda: options.select(read_records(path, size), now))) \
            .addCallback(answer).addErrback(self._failed, request)
        return NOT_DONE_YET

    # -- exec / attach --------------------------------------------------------------------------------
    def _exec(self, request, kind, namespace, name, container_name):
        worker, container = self._container(namespace, name, container_name)
        argv = [v.decode("utf-8", "replace") for v in request.args.get(b"command") or []]
        if kind == "run":
            argv = argv or (_arg(request, "cmd") or "").split()
            return self._run(request, worker, container, argv)
        tty, stdin = _flag(request, "tty"), _flag(request, "stdin")
        stdout, stderr = _flag(request, "stdout"), _flag(request, "stderr")
        # As upstream's remotecommand options: a terminal has no separate stderr, and a stream needs one.
        stderr = stderr and not tty
        if not (stdin or stdout or stderr):
            raise _Error(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
        if kind == "exec":
            make = lambda sink: ExecRun(self.reactor, worker, container, argv, tty, stdin, sink)
        else:
            if not container.running:
                raise _Error(400, "BadRequest", f"cannot attach to a container that is not running: "
                                                f"{container.name}")
            make = lambda sink: AttachRun(self.reactor, worker, container, tty, stdin, sink)
        if wants_upgrade(request, "websocket"):
            serve_websocket(request, wire.ChannelExec(make))
            return NOT_DONE_YET
        if wants_upgrade(request, "SPDY/3.1"):
            offered = header_values(request, b"x-stream-protocol-version")
            version = next((p for p in wire.CHANNEL_PROTOCOLS if p in offered), None)
            if version is None:
                raise _Error(403, "Forbidden", f"unable to upgrade: no common protocol in {offered}")
            handler = wire.SPDYExec(make, stdin, stdout, stderr, tty, version)
            wire.serve_spdy(request, version, handler.on_stream, handler.on_close)
            return NOT_DONE_YET
        raise _Error(400, "BadRequest", "Upgrade request required")

    def _run(self, request, worker, container, argv):
        """/run: the command's combined output as the response body."""
        chunks = []
        done = defer.Deferred()

        class Sink:
            def write(self, name, data):
                chunks.append(data)

            def finish(self, status):
                done.callback(status)
        ExecRun(self.reactor, worker, container, argv, False, False, Sink()).start()

        def reply(status):
            request.setHeader(b"Content-Type", b"text/plain")
            request.write(b"".join(chunks))
            request.finish()
        done.addCallback(reply)
        return NOT_DONE_YET

    # -- port-forward ---------------------------------------------------------------------------------
    def _port_forward(self, request, namespace, name):
        worker = self.agent.worker(namespace, name)
        if worker is None:
            raise _Error(404, "NotFound", f'pod "{name}" not found on this node')
        host = worker.host_ip
        if wants_upgrade(request, "websocket"):
            offered = header_values(request, b"sec-websocket-protocol")
            if wire.PORT_FORWARD_TUNNEL in offered:
                serve_websocket(request, wire.TunnelledSPDY(wire.SPDYPortForward(self.reactor, host)))
                return NOT_DONE_YET
            ports = []
            for value in request.args.get(b"ports") or []:
                for item in value.decode().split(","):
                    if item.strip():
                        try:
                            ports.append(int(item))
                        except ValueError:
                            raise _Error(400, "BadRequest", f"invalid port {item!r}") from None
            if not ports:
                raise _Error(400, "BadRequest", "query parameter \"port\" is required")
            serve_websocket(request, wire.ChannelPortForward(self.reactor, host, ports))
            return NOT_DONE_YET
        if wants_upgrade(request, "SPDY/3.1"):
            handler = wire.SPDYPortForward(self.reactor, host)
            wire.serve_spdy(request, "portforward.k8s.io", handler.on_stream, handler.on_close)
            return NOT_DONE_YET
        raise _Error(400, "BadRequest", "Upgrade request required")
