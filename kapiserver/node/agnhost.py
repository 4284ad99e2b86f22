"""A few of agnhost's subcommands (upstream's e2e test image), for containers of that image with no command or
agnhost's own entrypoint (/agnhost) as their command: `pause` (waits for a signal), `serve-hostname` (answers
every HTTP request with the pod's name, port 9376 by default), a minimal `netexec` (HTTP on --http-port, 8080 by
default: /hostname, /echo?msg=, /clientip, /healthz, /exit?code=, /shell?cmd=) and `porter` (for each variable
SERVE_PORT_<n> or SERVE_TCP_PORT_<n>, HTTP on port n answering the variable's value to any request;
SERVE_TLS_PORT_<n> the same over TLS, with CERT_FILE/KEY_FILE or a certificate for 127.0.0.1 and ::1 made at
start; SERVE_UDP_PORT_<n> the value to every datagram; --json-response answers {"Method": ..., "Body": ...}).
Run as ``python -m kapiserver.node.agnhost SUBCOMMAND [flags]``."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
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


# Go's http.DetectContentType calls a body HTML when it opens with one of these tags (then a space or ">").
_HTML_TAGS = ("<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div", "<font", "<table", "<a",
              "<style", "<title", "<b", "<body", "<br", "<p", "<!--")


def _sniffed(body: bytes) -> str:
    text = body.lstrip(b"\t\n\x0c\r ").decode("latin-1").lower()
    for tag in _HTML_TAGS:
        if text.startswith(tag) and text[len(tag):len(tag) + 1] in (" ", ">"):
            return "text/html; charset=utf-8"
    return "text/plain; charset=utf-8"


def _porter_handler(value: str, json_response: bool):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if json_response:
                body, content_type = json.dumps({"Method": self.command, "Body": value},
                                                separators=(",", ":")).encode(), "application/json"
            else:
                body = value.encode()
                content_type = _sniffed(body)
            self.send_response_only(200)       # Go's server sends no Server header
            self.send_header("Date", self.date_time_string())
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer

        def log_message(self, fmt, *args):
            pass
    return Handler


def _localhost_certificate() -> tuple:
    """(certificate file, key file) of a self-signed certificate for 127.0.0.1 and ::1, as the one agnhost's image
    holds."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme Co")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                               x509.IPAddress(ipaddress.ip_address("::1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    directory = tempfile.mkdtemp(prefix="agnhost-porter-")
    cert_file, key_file = os.path.join(directory, "localhost.crt"), os.path.join(directory, "localhost.key")
    with open(cert_file, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_file, key_file


class _UDPHandler(socketserver.BaseRequestHandler):
    value = b""

    def handle(self):
        _, sock = self.request
        sock.sendto(self.value, self.client_address)


def porter(args) -> int:
    json_response = any(a == "--json-response" or a.startswith("--json-response=") and a[16:] not in ("false", "0")
                        for a in args)
    servers = []
    tls = None
    for key, value in sorted(os.environ.items()):
        for prefix in ("SERVE_PORT_", "SERVE_TCP_PORT_", "SERVE_TLS_PORT_", "SERVE_UDP_PORT_"):
            if not key.startswith(prefix):
                continue
            port = int(key[len(prefix):])
            if prefix == "SERVE_UDP_PORT_":
                handler = type("Handler", (_UDPHandler,), {"value": value.encode()})
                servers.append(socketserver.ThreadingUDPServer(("0.0.0.0", port), handler))
                continue
            server = http.server.ThreadingHTTPServer(("0.0.0.0", port), _porter_handler(value, json_response))
            if prefix == "SERVE_TLS_PORT_":
                if tls is None:
                    cert_file, key_file = os.environ.get("CERT_FILE"), os.environ.get("KEY_FILE")
                    if not cert_file or not key_file:
                        cert_file, key_file = _localhost_certificate()
                    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    tls.load_cert_chain(cert_file, key_file)
                server.socket = tls.wrap_socket(server.socket, server_side=True)
            servers.append(server)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()
    return 0


def main(argv) -> int:
    if not argv:
        print("Usage:\n  agnhost [command]\n\nAvailable Commands: netexec, pause, porter, serve-hostname",
              file=sys.stderr)
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
    if command == "porter":
        return porter(args)
    print(f'Error: unknown command "{command}" for "agnhost"', file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
