"""A JSON-over-HTTPS server for the e2e tests that play webhooks and identity providers: a certificate
from a throwaway CA, a thread serving a BaseHTTPRequestHandler, and the handler's way of answering."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kapiserver.auth import certs


class JSONHandler(BaseHTTPRequestHandler):
    """A quiet handler with helpers to read and answer JSON."""

    def log_message(self, *args):
        pass

    def read_json(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def reply_json(self, answer, status: int = 200) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve_https(handler, directory, hosts=("127.0.0.1", "localhost")):
    """Start serving ``handler`` over TLS on a free loopback port; returns (server, CA PEM). The serving
    certificate and key are written into ``directory`` (tls.crt, tls.key). Stop it with server.shutdown()."""
    ca, ca_key = certs.new_ca("webhook-ca")
    cert, key = certs.sign_certificate(ca, ca_key, "webhook", hosts=list(hosts))
    (directory / "tls.crt").write_bytes(certs.cert_pem(cert))
    (directory / "tls.key").write_bytes(certs.key_pem(key))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, certs.cert_pem(ca)
