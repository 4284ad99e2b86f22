"""
The floor for bench/api_bench.py: a bare twisted.web resource answering each path
with fixed bytes (the same bytes kapiserver answered), so the ratio project/floor
says what the API machinery costs on top of Twisted's HTTP.

    python bench/floor.py PORT RESPONSES.json    # {"/path": [status, content_type, body_file], ...}
    python bench/floor.py PORT RESPONSES.json CERT KEY    # over TLS, offering h2 and http/1.1 (ALPN)
"""

from __future__ import annotations

import json
import sys

from twisted.internet import reactor
from twisted.web import resource, server


class Fixed(resource.Resource):
    isLeaf = True

    def __init__(self, responses: dict):
        super().__init__()
        self.responses = responses

    def render(self, request):
        status, content_type, body = self.responses.get(request.uri.decode().split("?")[0] + (
            "?" + request.uri.decode().split("?")[1] if b"?" in request.uri else ""),
            self.responses.get(request.path.decode(), (404, "text/plain", b"not here")))
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", content_type.encode())
        return body


def main() -> None:
    port, table = int(sys.argv[1]), json.load(open(sys.argv[2]))
    responses = {}
    for path, (status, content_type, body_file) in table.items():
        with open(body_file, "rb") as f:
            responses[path] = (status, content_type, f.read())
    site = server.Site(Fixed(responses))
    site.noisy = False
    site.log = lambda request: None   # kapiserver logs no access lines at -v=0 either
    if len(sys.argv) > 4:
        from OpenSSL import crypto
        from twisted.internet import ssl
        with open(sys.argv[3], "rb") as cert, open(sys.argv[4], "rb") as key:
            options = ssl.CertificateOptions(
                certificate=crypto.load_certificate(crypto.FILETYPE_PEM, cert.read()),
                privateKey=crypto.load_privatekey(crypto.FILETYPE_PEM, key.read()),
                acceptableProtocols=[b"h2", b"http/1.1"])
        reactor.listenSSL(port, site, options, interface="127.0.0.1")
    else:
        reactor.listenTCP(port, site, interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main()
