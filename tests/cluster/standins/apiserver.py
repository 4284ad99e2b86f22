"""A stand-in kube-apiserver: HTTPS on --secure-port with --tls-cert-file, answering /readyz with 200."""
import http.server
import signal
import ssl
import sys

flags = dict(arg[2:].split("=", 1) for arg in sys.argv[1:] if arg.startswith("--") and "=" in arg)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if self.path == "/readyz" else b"not found"
        self.send_response(200 if self.path == "/readyz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def stop(signum, frame):
    print("stand-in apiserver stopping", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
server = http.server.HTTPServer(("127.0.0.1", int(flags["secure-port"])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(flags["tls-cert-file"], flags["tls-private-key-file"])
server.socket = context.wrap_socket(server.socket, server_side=True)
print("stand-in apiserver serving", flush=True)
server.serve_forever()
