"""Container probes and lifecycle-hook actions as a kubelet runs them, for containers that are host processes.

An action (a probe's or a hook's handler) is one of exec, httpGet, tcpSocket or grpc; running one gives a
Deferred firing with ``(ok, output)``: ``output`` is what upstream puts after "Liveness probe failed: " (the
command's output, "HTTP probe failed with statuscode: 500", Go's dial error...).  Everything is reached at the
pod's IP, which for host processes is the node's address.

A `Prober` repeats one probe of one container instance on the reactor: the first run ``initialDelaySeconds``
after the container started, then every ``periodSeconds``; a result counts once the same result was seen
``successThreshold`` (or ``failureThreshold``) times in a row, as upstream's prober worker counts it, and
each failed run is reported (the kubelet's ``Unhealthy`` event is posted for every failure)."""

from __future__ import annotations

import json
import secrets
import struct
from typing import Callable, Dict, List, Optional, Tuple

from twisted.internet import protocol
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.logger import Logger

from ..httpprobe import OUTPUT_LIMIT, USER_AGENT, dial_error, http_get

log = Logger()

# Upstream's defaults for a probe's timing fields (the apiserver's defaulting fills them too).
DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
            "failureThreshold": 3}


def timing(spec: dict) -> Dict[str, int]:
    """A probe's timing fields, upstream's default where absent or not positive."""
    out = {}
    for key, default in DEFAULTS.items():
        value = spec.get(key)
        out[key] = value if isinstance(value, int) and (value > 0 or key == "initialDelaySeconds") else default
    return out


def resolve_port(port, container_spec: dict) -> int:
    """An IntOrString port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    text = str(port or "")
    if text.isdigit():
        return int(text)
    for item in container_spec.get("ports") or []:
        if item.get("name") == text:
            return int(item["containerPort"])
    raise ValueError(f"couldn't find port: {text} in {container_spec.get('name', '')}")


# -- exec -------------------------------------------------------------------------------------------------

class _Collect(protocol.ProcessProtocol):
    def __init__(self, done: Deferred):
        self.done = done
        self.output = b""

    def outReceived(self, data):
        if len(self.output) < OUTPUT_LIMIT:
            self.output += data[:OUTPUT_LIMIT - len(self.output)]

    errReceived = outReceived

    def processEnded(self, reason):
        code = getattr(reason.value, "exitCode", None)
        if code is None:
            code = 128 + (getattr(reason.value, "signal", None) or 9)
        if not self.done.called:
            self.done.callback((code, self.output.decode("utf-8", "replace")))


def run_exec(reactor, argv: List[str], env: Dict[str, str], cwd: str, timeout: float,
             command: Optional[List[str]] = None) -> Deferred:
    """Run ``argv`` (already resolved to an executable); ``(exit code, output)``, or exit code None with
    upstream's message (naming ``command``, as the spec gave it) when it did not end within ``timeout`` seconds
    (it is killed then)."""
    done: Deferred = Deferred()
    collector = _Collect(done)
    try:
        transport = reactor.spawnProcess(collector, argv[0], argv, env=env, path=cwd,
                                         childFDs={0: "w", 1: "r", 2: "r"})
    except OSError as e:
        return succeed((126, str(e)))
    transport.closeStdin()

    def expire():
        if done.called:
            return
        try:
            transport.signalProcess("KILL")
        except Exception:
            pass
        done.callback((None, f"command {json.dumps(' '.join(command or argv), ensure_ascii=False)} timed out"))
    timer = reactor.callLater(timeout, expire)
    return done.addBoth(lambda result: (timer.active() and timer.cancel(), result)[1])


# -- tcpSocket --------------------------------------------------------------------------------------------

def tcp_connect(reactor, host: str, port: int, timeout: float) -> Deferred:
    """Success when a TCP connection opens (it is closed at once)."""
    d = connectProtocol(TCP4ClientEndpoint(reactor, host, port, timeout=timeout), protocol.Protocol())

    def opened(proto):
        proto.transport.loseConnection()
        return True, ""
    return d.addCallbacks(opened, lambda failure: (False, dial_error(host, port, failure)))


# -- grpc -------------------------------------------------------------------------------------------------

class _GRPCHealth(protocol.Protocol):
    """One grpc.health.v1.Health/Check call over HTTP/2 (h2, cleartext, prior knowledge)."""

    def __init__(self, service: str, authority: str, done: Deferred):
        self.service = service
        self.authority = authority
        self.done = done
        self.data = b""
        self.grpc_status: Optional[str] = None

    def connectionMade(self):
        import h2.config
        import h2.connection
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":authority", self.authority),
                                        (":path", "/grpc.health.v1.Health/Check"), ("content-type", "application/grpc"),
                                        ("te", "trailers"), ("user-agent", USER_AGENT)])
        service = self.service.encode()
        message = (b"\x0a" + _varint(len(service)) + service) if service else b""
        self.conn.send_data(stream, b"\x00" + struct.pack(">I", len(message)) + message, end_stream=True)
        self.transport.write(self.conn.data_to_send())

    def dataReceived(self, data):
        import h2.events
        try:
            events = self.conn.receive_data(data)
        except Exception as e:
            return self._finish(False, f"rpc error: {e}")
        for event in events:
            if isinstance(event, h2.events.DataReceived):
                self.data += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                for name, value in event.headers:
                    if name in (b"grpc-status", "grpc-status"):
                        self.grpc_status = value.decode() if isinstance(value, bytes) else value
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                self._result()
        out = self.conn.data_to_send()
        if out:
            self.transport.write(out)

    def _result(self):
        if self.grpc_status not in (None, "0"):
            return self._finish(False, f"rpc error: code = {self.grpc_status}")
        status = _health_status(self.data[5:]) if len(self.data) >= 5 else 0
        if status == 1:
            return self._finish(True, "")
        names = {0: "UNKNOWN", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
        self._finish(False, f"service unhealthy (responded with \"{names.get(status, status)}\")")

    def connectionLost(self, reason):
        self._finish(False, "rpc error: code = Unavailable desc = connection closed")

    def _finish(self, ok: bool, output: str):
        if not self.done.called:
            self.done.callback((ok, output))
            if self.transport is not None:
                self.transport.loseConnection()


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _health_status(message: bytes) -> int:
    """The `status` (field 1, an enum) of a HealthCheckResponse."""
    i = 0
    while i < len(message):
        key = message[i]
        i += 1
        if key == 0x08:
            value, shift = 0, 0
            while i < len(message):
                byte = message[i]
                i += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            return value
        break
    return 0


def grpc_check(reactor, action: dict, host: str, timeout: float) -> Deferred:
    port = int(action.get("port") or 0)
    done: Deferred = Deferred()
    d = connectProtocol(TCP4ClientEndpoint(reactor, host, port, timeout=timeout),
                        _GRPCHealth(action.get("service") or "", f"{host}:{port}", done))
    d.addErrback(lambda failure: done.called or done.callback(
        (False, f"failed to connect service \"{host}:{port}\" within {timeout}s: "
                f"{dial_error(host, port, failure)}")))

    def expire():
        if not done.called:
            done.callback((False, f"timeout: health rpc did not complete within {timeout}s"))
    timer = reactor.callLater(timeout, expire)
    return done.addBoth(lambda result: (timer.active() and timer.cancel(), result)[1])


# -- one action -------------------------------------------------------------------------------------------

def exec_start_error(message: str) -> str:
    """How the runtime answers an exec it could not start (containerd over CRI): the error the kubelet gets,
    with no exit code."""
    return (f'rpc error: code = Unknown desc = failed to exec in container: failed to start exec '
            f'"{secrets.token_hex(32)}": {message}')


def run_action(reactor, handler: dict, container, timeout: float) -> Deferred:
    """A probe's or hook's handler for ``container`` (a runner.Container): ``(ok, output)``, ``ok`` None when the
    action could not be run at all (upstream's prober gets an error and an unknown result: an exec the runtime
    could not start, a port name the container does not have)."""
    host = container.pod.host_ip
    try:
        if handler.get("exec") is not None:
            command = (handler["exec"] or {}).get("command") or []
            prepared = container.command(command)
            if isinstance(prepared, str):
                return succeed((None, exec_start_error(prepared)))
            argv, env, cwd = prepared
            return run_exec(reactor, argv, env, cwd, timeout, command).addCallback(
                lambda result: (result[0] == 0, result[1]))
        if handler.get("httpGet") is not None:
            action = handler["httpGet"]
            return http_get(reactor, action, host, resolve_port(action.get("port"), container.spec), timeout)
        if handler.get("tcpSocket") is not None:
            action = handler["tcpSocket"]
            return tcp_connect(reactor, action.get("host") or host,
                               resolve_port(action.get("port"), container.spec), timeout)
        if handler.get("grpc") is not None:
            return grpc_check(reactor, handler["grpc"], host, timeout)
        if handler.get("sleep") is not None:
            seconds = (handler["sleep"] or {}).get("seconds") or 0
            d: Deferred = Deferred()
            reactor.callLater(seconds, d.callback, (True, ""))
            return d
    except ValueError as e:
        return succeed((None, str(e)))
    return succeed((None, "missing probe handler"))


# -- the prober worker ------------------------------------------------------------------------------------

class Prober:
    """Repeats one probe (kind "Liveness", "Readiness" or "Startup") of one container instance.

    ``on_result(success)`` is called when the counted result changes (the threshold reached), and
    ``on_failure(output)`` after every failed run.  Once a liveness or startup probe has failed, the prober
    holds: the container is restarted and a new instance gets new probers.

    A run that could not be made (``ok`` None: upstream's prober error) is reported to ``on_error(output)`` and
    not counted, as upstream's probe worker throws such a result away."""

    def __init__(self, reactor, kind: str, spec: dict, run: Callable[[float], Deferred],
                 on_result: Callable[[bool], None], on_failure: Callable[[str], None],
                 on_error: Callable[[str], None]):
        self.reactor = reactor
        self.kind = kind
        self.spec = spec
        self.timing = timing(spec)
        self.run = run
        self.on_result = on_result
        self.on_failure = on_failure
        self.on_error = on_error
        self.result: Optional[bool] = None
        self._last: Optional[bool] = None
        self._run_length = 0
        self._timer = None
        self.stopped = False
        self.runs = 0

    def start(self, since_start: float = 0.0) -> None:
        """Begin probing; ``since_start`` seconds have passed since the container started."""
        delay = max(0.0, self.timing["initialDelaySeconds"] - since_start)
        self._timer = self.reactor.callLater(delay, self._probe)

    def stop(self) -> None:
        self.stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()

    def _probe(self) -> None:
        if self.stopped:
            return
        began = self.reactor.seconds()
        self.runs += 1
        d = self.run(self.timing["timeoutSeconds"])
        d.addErrback(lambda failure: (False, failure.getErrorMessage()))
        d.addCallback(self._counted, began)
        d.addErrback(lambda failure: log.failure("probe handling failed", failure))

    def _counted(self, result: Tuple[bool, str], began: float) -> None:
        if self.stopped:
            return
        ok, output = result
        if ok is None:
            self.on_error(output)       # not counted
        else:
            ok = bool(ok)
            if not ok:
                self.on_failure(output)
            self._run_length = self._run_length + 1 if ok == self._last else 1
            self._last = ok
            threshold = self.timing["successThreshold"] if ok else self.timing["failureThreshold"]
            if self._run_length >= threshold and self.result != ok:
                self.result = ok
                self.on_result(ok)
            if not ok and self.result is False and self.kind in ("Liveness", "Startup"):
                return      # on hold: the container is being restarted
            if ok and self.result and self.kind == "Startup":
                return      # a startup probe stops once it succeeded
        if self.stopped:
            return
        delay = max(0.0, began + self.timing["periodSeconds"] - self.reactor.seconds())
        self._timer = self.reactor.callLater(delay, self._probe)
