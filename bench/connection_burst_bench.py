"""A burst of connections at once: how many get an answer within 10 s, and how long the first and the last
waited (a connect that overflows the listen backlog waits for a SYN retry, 1 s or more).

    python bench/connection_burst_bench.py [--connections 2000] [--url http://127.0.0.1:8080]

Without --url, a kapiserver is started on a free port with a fresh data dir (and stopped at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlparse


async def _one(host: str, port: int, started: float, timeout: float):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), timeout - (time.monotonic() - started))
        writer.close()
        return time.monotonic() - started if status.startswith(b"HTTP/1.1 200") else None
    except (OSError, asyncio.TimeoutError):
        return None


async def burst(host: str, port: int, count: int, timeout: float = 10.0):
    started = time.monotonic()
    return await asyncio.gather(*[_one(host, port, started, timeout) for _ in range(count)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = None
    url = args.url
    if url is None:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        data = tempfile.mkdtemp(prefix="burst-")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        server = subprocess.Popen([sys.executable, "-m", "kapiserver", f"--insecure-port={port}", "--secure-port=0",
                                   f"--data-dir={data}"], cwd=root, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/readyz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
    try:
        parsed = urlparse(url)
        times = asyncio.run(burst(parsed.hostname, parsed.port, args.connections))
        served = sorted(t for t in times if t is not None)
        print(f"connections: {args.connections}  served within 10 s: {len(served)}  "
              f"first: {served[0] if served else float('nan'):.3f} s  "
              f"median: {served[len(served) // 2] if served else float('nan'):.3f} s  "
              f"last: {served[-1] if served else float('nan'):.3f} s  "
              f"waited over 1 s: {sum(1 for t in served if t > 1.0)}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
