"""Graceful termination, as upstream's: on SIGTERM /readyz fails first (for --shutdown-delay-duration), while
requests are still served.  (That every acknowledged write then reaches the watchers before their streams end
is tests/reliability/test_restarts.py's.)"""

from __future__ import annotations

import signal
import time

from .conftest import APIServerProcess


def test_readyz_fails_during_the_shutdown_delay_while_requests_are_served(tmp_path):
    """With --shutdown-delay-duration, SIGTERM makes /readyz answer 500 with "[-]shutdown failed" while other
    requests are still served; then the process exits 0."""
    # 8 s of delay: the request after /readyz is seen failing must still fall within it on a loaded machine.
    server = APIServerProcess(tmp_path / "data", args=("--shutdown-delay-duration=8s",)).start()
    try:
        status, text = server.request("GET", "/readyz?verbose")
        assert status == 200 and "[+]shutdown ok" in text
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, text = server.request("GET", "/readyz")
            if status != 200:
                break
            time.sleep(0.02)
        assert status == 500 and "[-]shutdown failed: reason withheld" in text, text
        status, _ = server.request("GET", "/api/v1/namespaces/default")
        assert status == 200
        assert server.process.wait(60) == 0, server.log()
    finally:
        server.stop()


def test_idle_tls_clients_do_not_hold_up_the_shutdown(tmp_path):
    """Connections whose clients are alive but not reading (one over HTTP/1.1, one that negotiated HTTP/2) are
    closed as Go's server closes them: our TLS close_notify, then the TCP connection, without waiting for the
    peer's close_notify; the shutdown never has to give up on them."""
    import socket
    import ssl

    from .conftest import free_port
    port = free_port()
    server = APIServerProcess(tmp_path / "data", args=(f"--secure-port={port}", "--bind-address=127.0.0.1")).start()
    sockets = []
    try:
        for alpn in (["http/1.1"], ["h2"]):
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.set_alpn_protocols(alpn)
            sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port)))
            if alpn == ["h2"]:
                sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            else:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1)            # the server has taken the connection on
            sockets.append(sock)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
        assert "Shutting down: requests drained" in server.log()
        assert "still open" not in server.log(), server.log()
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def test_a_second_sigterm_ends_the_shutdown_at_once_with_status_1(tmp_path):
    """As upstream's kube-apiserver: the first SIGTERM starts the graceful shutdown (here a long
    --shutdown-delay-duration), a second ends the process at once with status 1, saying so, without a
    traceback."""
    server = APIServerProcess(tmp_path / "data", args=("--shutdown-delay-duration=60s",)).start()
    try:
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and server.request("GET", "/readyz")[0] == 200:
            time.sleep(0.02)
        assert server.process.poll() is None, "the shutdown delay keeps it serving"
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(20) == 1, server.log()
        log = server.log()
        assert "Received SIGTERM while shutting down: exiting now" in log and "Traceback" not in log, log
    finally:
        server.stop()
