"""One real kube-apiserver process per fuzz module, and a raw HTTP client that sends whatever it is given."""

from __future__ import annotations

import http.client

import pytest

from e2e.conftest import APIServerProcess


class RawClient:
    """Sends a request byte for byte (no URL normalisation) and reads the whole answer."""

    def __init__(self, server: APIServerProcess):
        self.server = server
        self.log_offset = 0

    def request(self, method: str, path: str, body: bytes = b"", headers=None, timeout: float = 8):
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for key, value in (headers or {}).items():
                connection.putheader(key, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def new_log(self) -> str:
        """The server log written since the last call."""
        with open(self.server.log_path, "rb") as f:
            f.seek(self.log_offset)
            text = f.read()
        self.log_offset += len(text)
        return text.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("fuzz") / "data").start()
    client = RawClient(server)
    client.new_log()
    yield client
    server.stop()
