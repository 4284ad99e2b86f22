"""exec and attach inside a pod's container, independent of the wire: output goes to a sink with
write(stream_name, data) and finish(status); the wire adapters (channel WebSocket, SPDY) feed stdin,
resize and stdin-close in.  A command's exit becomes the Status a kubelet reports."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import termios
from typing import List

from twisted.internet import protocol

from .environment import ContainerConfigError
from .logstore import strip_stamp

SUCCESS = {"metadata": {}, "status": "Success"}
_NSENTER = shutil.which("nsenter")


def exit_status(argv: List[str], code: int) -> dict:
    if code == 0:
        return dict(SUCCESS)
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(argv)}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def failure_status(message: str) -> dict:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
            "code": 500}


class _ExecProcess(protocol.ProcessProtocol):
    def __init__(self, run: "ExecRun"):
        self.run = run

    def outReceived(self, data):
        self.run.sink.write("stdout", data)

    def errReceived(self, data):
        self.run.sink.write("stderr" if not self.run.tty else "stdout", data)

    def processEnded(self, reason):
        code = getattr(reason.value, "exitCode", None)
        if code is None:
            code = 128 + (getattr(reason.value, "signal", None) or 9)
        self.run.ended(code)


class ExecRun:
    """One `exec`: a host process in the container's environment."""

    def __init__(self, reactor, worker, container, argv: List[str], tty: bool, stdin: bool, sink):
        self.reactor = reactor
        self.worker = worker
        self.container = container
        self.argv = argv
        self.tty = tty
        self.stdin = stdin
        self.sink = sink
        self.transport = None
        self.done = False

    def start(self) -> None:
        try:
            env = self.worker.environment(self.container.spec)
        except ContainerConfigError:
            env = dict(self.worker.base_env)      # a source gone since the container started
        if self.tty:
            env.setdefault("TERM", "xterm")
        cwd = self.container.spec.get("workingDir") or self.worker.directory
        if not os.path.isdir(cwd):
            cwd = self.worker.directory
        if not self.argv:
            self.sink.finish(failure_status("command is required"))
            self.done = True
            return
        executable = self.argv[0] if "/" in self.argv[0] else shutil.which(self.argv[0], path=env.get("PATH"))
        if executable is None:
            # As runc reports a missing executable: the message on the output, exit code 127.
            self.sink.write("stderr" if not self.tty else "stdout",
                            f'exec: "{self.argv[0]}": executable file not found in $PATH\n'.encode())
            self.done = True
            self.sink.finish(exit_status(self.argv, 127))
            return
        argv = [executable] + self.argv[1:]
        pid = self.worker.namespace_pid(self.container)
        if pid is not None and _NSENTER is not None:
            # The container sees its volumes at their mountPaths: so does a command exec'd into it.
            argv = [_NSENTER, f"--target={pid}", "--mount", "--wd=" + cwd, "--"] + argv
        if self.tty:
            self.transport = self.reactor.spawnProcess(_ExecProcess(self), argv[0], argv, env=env,
                                                       path=cwd, usePTY=True)
        else:
            self.transport = self.reactor.spawnProcess(_ExecProcess(self), argv[0], argv, env=env,
                                                       path=cwd, childFDs={0: "w", 1: "r", 2: "r"})
            if not self.stdin:
                self.transport.closeStdin()

    def write_stdin(self, data: bytes) -> None:
        if self.transport is not None and not self.done:
            self.transport.write(data)

    def close_stdin(self) -> None:
        if self.transport is None or self.done:
            return
        if self.tty:
            # A terminal has no end of file of its own: send the EOF character.
            self.transport.write(b"\x04")
        else:
            self.transport.closeStdin()

    def resize(self, payload: bytes) -> None:
        if not self.tty or self.transport is None:
            return
        try:
            size = json.loads(payload)
            fd = self.transport.fileno() if hasattr(self.transport, "fileno") else self.transport.fd
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", int(size["Height"]), int(size["Width"]), 0, 0))
        except (ValueError, KeyError, TypeError, OSError, AttributeError):
            pass

    def ended(self, code: int) -> None:
        if self.done:
            return
        self.done = True
        self.sink.finish(exit_status(self.argv, code))

    def stop(self) -> None:
        if self.transport is not None and not self.done:
            try:
                self.transport.signalProcess("KILL")
            except Exception:
                pass


class AttachRun:
    """One `attach`: the running container's output from now on, its stdin if it keeps one open."""

    def __init__(self, reactor, worker, container, tty: bool, stdin: bool, sink):
        self.reactor = reactor
        self.container = container
        self.sink = sink
        self.tty = tty
        self._stop = None
        self.done = False

    def start(self) -> None:
        log = self.container.log
        if log is None or log.closed:
            self.done = True
            self.sink.finish(SUCCESS)
            return

        def record(line: bytes):
            self.sink.write("stdout", strip_stamp(line))

        def closed():
            if not self.done:
                self.done = True
                self.sink.finish(SUCCESS)
        self._stop = log.follow(record, closed)

    def write_stdin(self, data: bytes) -> None:
        self.container.write_stdin(data)

    def close_stdin(self) -> None:
        self.container.close_stdin()

    def resize(self, payload: bytes) -> None:
        pass

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
        self.done = True
