"""A throwaway HTTP server that serves only discovery and OpenAPI, for running a real kubectl."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from kapiserver.endpoints import discovery, openapi
from kapiserver.machinery import codec

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "", "gitTreeState": "clean",
           "buildDate": "2025-04-22T00:00:00Z", "goVersion": "go1.23.8", "compiler": "gc",
           "platform": "linux/amd64"}


def serve(catalog, extra_schemas=None):
    """Start a server on loopback; returns (server, base_url).  Call server.shutdown() to stop."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            # Keep the object (so a later GET finds it), echo it back, and log the request.
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            server.requests.append(("POST", self.path, self.headers.get("Content-Type", "")))
            name = codec.loads(body)["metadata"]["name"]
            server.objects[urlsplit(self.path).path + "/" + name] = body
            self.reply(body, status=201)

        def do_PATCH(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            server.requests.append(("PATCH", self.path, self.headers.get("Content-Type", "")))
            self.reply(server.objects[urlsplit(self.path).path])

        def reply(self, body: bytes, content_type="application/json", status=200):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            server.requests.append(("GET", self.path, self.headers.get("Accept", "")))
            path = urlsplit(self.path).path.rstrip("/") or "/"
            accept = self.headers.get("Accept", "")
            aggregated = "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept + ";"
            parts = path.strip("/").split("/")
            if path == "/version":
                return self.reply(codec.encode(VERSION))
            if path in ("/api", "/apis") and aggregated:
                doc = discovery.aggregated_discovery(catalog, legacy=path == "/api")
                return self.reply(codec.encode(doc), discovery.AGGREGATED_CONTENT_TYPE)
            if path == "/api":
                return self.reply(codec.encode(discovery.api_versions("127.0.0.1")))
            if path == "/apis":
                return self.reply(codec.encode(discovery.api_group_list(catalog)))
            if parts[0] == "openapi" and parts[1:2] == ["v3"]:
                if len(parts) == 2:
                    return self.reply(codec.dumps(openapi.openapi_v3_index(catalog, extra_schemas=extra_schemas)))
                built = openapi.openapi_v3_document(catalog, "/".join(parts[2:]), extra_schemas=extra_schemas)
                if built is not None:
                    return self.reply(built[0])
            if path in server.objects:
                return self.reply(server.objects[path])
            doc = None
            if parts[0] == "api" and len(parts) == 2:
                doc = discovery.api_resource_list(catalog, "", parts[1])
            elif parts[0] == "apis" and len(parts) == 3:
                doc = discovery.api_resource_list(catalog, parts[1], parts[2])
            elif parts[0] == "apis" and len(parts) == 2:
                doc = discovery.api_group(catalog, parts[1])
            if doc is not None:
                return self.reply(codec.encode(doc))
            return self.reply(b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                              b'"reason":"NotFound","code":404}\n', status=404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = []
    server.objects = {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
