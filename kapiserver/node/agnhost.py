"""A few of agnhost's subcommands (upstream's e2e test image), for containers of that image with no command:
`pause` (waits for a signal), `serve-hostname` (answers every HTTP request with the pod's name, port 9376 by
default) and a minimal `netexec` (HTTP on --http-port, 8080 by default: /hostname, /echo?msg=, /clientip,
/healthz, /exit?code=, /shell?cmd=).  Run as ``python -m kapiserver.node.agnhost SUBCOMMAND [flags]``."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse


def _flag(args, name, default):
    for i, arg in enumerate(args):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and i + 1 < len(args):
            return args[i + 1]
    return default


def _hostname() -> str:
    return os.environ.get("HOSTNAME") or socket.gethostname()


def _serve(port: int, handle) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code, body = handle(self)
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))
    server = http.server.ThreadingHTTPServer(("", port), Handler)
    print(f"Serving on port {port}.", flush=True)
    server.serve_forever()


def netexec(request):
    url = urllib.parse.urlsplit(request.path)
    query = urllib.parse.parse_qs(url.query)
    one = lambda name, default="": (query.get(name) or [default])[0]
    if url.path == "/hostname":
        return 200, _hostname()
    if url.path == "/echo":
        return 200, one("msg")
    if url.path == "/clientip":
        return 200, f"{request.client_address[0]}:{request.client_address[1]}"
    if url.path == "/healthz":
        return 200, ""
    if url.path == "/exit":
        code = int(one("code", "0"))
        threading.Timer(0.1, lambda: os._exit(code)).start()
        return 200, ""
    if url.path == "/shell":
        done = subprocess.run(["sh", "-c", one("cmd")], capture_output=True, text=True)
        out = {"output": done.stdout}
        if done.returncode:
            out["error"] = f"exit status {done.returncode}"
        return 200, json.dumps(out)
    return 200, "NOW: " + __import__("datetime").datetime.now().isoformat()


def main(argv) -> int:
    if not argv:
        print("Usage:\n  agnhost [command]\n\nAvailable Commands: netexec, pause, serve-hostname", file=sys.stderr)
        return 0
    command, args = argv[0], argv[1:]
    if command == "pause":
        print("Paused", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            signal.pause()
    if command == "serve-hostname":
        _serve(int(_flag(args, "port", "9376")), lambda request: (200, _hostname()))
    if command == "netexec":
        _serve(int(_flag(args, "http-port", "8080")), netexec)
    print(f'Error: unknown command "{command}" for "agnhost"', file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
